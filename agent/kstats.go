package agent

import (
	"context"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/podflow/podflow/bpf"
)

// watchKernelStats warns whenever the kernel counted packets it could not
// put in a flow (full map, malformed headers): losses are never silent.
func watchKernelStats(ctx context.Context, objs *bpf.Objects, events *bpf.Events, log *zap.Logger) {
	ticker := time.NewTicker(kernelStatsInterval)
	defer ticker.Stop()
	var last [bpf.FlowFlowStatSTAT_MAX]uint64
	var lastEv [bpf.EventsEventStatEVSTAT_MAX]uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		s, err := objs.Stats()
		if err != nil {
			log.Warn("read kernel counters", zap.Error(err))
			continue
		}
		if d := s[bpf.FlowFlowStatSTAT_MAP_FULL_PACKETS] - last[bpf.FlowFlowStatSTAT_MAP_FULL_PACKETS]; d > 0 {
			log.Warn("kernel flow map full: packets counted outside flows; raise --max-flows or lower --poll-interval",
				zap.Uint64("packets", d),
				zap.Uint64("octets", s[bpf.FlowFlowStatSTAT_MAP_FULL_OCTETS]-last[bpf.FlowFlowStatSTAT_MAP_FULL_OCTETS]))
		}
		if d := s[bpf.FlowFlowStatSTAT_MALFORMED_PACKETS] - last[bpf.FlowFlowStatSTAT_MALFORMED_PACKETS]; d > 0 {
			log.Info("malformed packets not attributed to a flow", zap.Uint64("packets", d))
		}
		last = s
		if events == nil {
			continue
		}
		ev, err := events.Stats()
		if err != nil {
			log.Warn("read tracepoint counters", zap.Error(err))
			continue
		}
		if d := ev[bpf.EventsEventStatEVSTAT_MAP_FULL] - lastEv[bpf.EventsEventStatEVSTAT_MAP_FULL]; d > 0 {
			log.Warn("kernel tuple map full: socket and drop measurements lost; raise --max-flows or lower --poll-interval",
				zap.Uint64("events", d))
		}
		lastEv = ev
	}
}

func logKernelStats(log *zap.Logger, objs *bpf.Objects, events *bpf.Events, level zapcore.Level) {
	s, err := objs.Stats()
	if err != nil {
		log.Warn("read kernel counters", zap.Error(err))
		return
	}
	fields := make([]zap.Field, 0, len(s))
	for i, v := range s {
		fields = append(fields, zap.Uint64(bpf.StatNames[i], v))
	}
	if events != nil {
		ev, err := events.Stats()
		if err != nil {
			log.Warn("read tracepoint counters", zap.Error(err))
		}
		for i, v := range ev {
			fields = append(fields, zap.Uint64(bpf.EventStatNames[i], v))
		}
	}
	log.Check(level, "kernel counters").Write(fields...)
}
