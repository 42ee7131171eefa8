package agent

import (
	"errors"

	"go.uber.org/zap"

	"github.com/podflow/podflow/bpf"
	"github.com/podflow/podflow/config"
)

// openEvents loads and attaches the socket and drop tracepoints cfg asks
// for. What the kernel refuses is disabled with one warning each; the flow
// counters keep working whatever happens here. nil means none run.
func openEvents(cfg *config.Config, log *zap.Logger) (*bpf.Events, *bpf.TupleDrainer) {
	opts := bpf.EventOptions{
		MaxTuples:   uint32(cfg.MaxFlows),
		RTT:         cfg.TCPRTT,
		Retransmits: cfg.TCPRetransmits,
		Drops:       cfg.KernelDrops,
		Owners:      cfg.ProcessContext,
	}
	if !opts.RTT && !opts.Retransmits && !opts.Drops && !opts.Owners {
		return nil, nil
	}
	ev, err := bpf.OpenEvents(opts)
	if err != nil {
		var joined interface{ Unwrap() []error }
		errs := []error{err}
		if errors.As(err, &joined) {
			errs = joined.Unwrap()
		}
		for _, e := range errs {
			log.Warn("tracepoint disabled: its measurements will be missing from flows, counters keep flowing", zap.Error(e))
		}
	}
	if ev == nil {
		return nil, nil
	}
	if len(ev.Attached) == 0 {
		ev.Close()
		return nil, nil
	}
	var reasons map[uint32]string
	if opts.Drops {
		if reasons, err = bpf.DropReasons(); err != nil {
			log.Warn("drop reasons exported as numbers", zap.Error(err))
		}
	}
	d, err := bpf.NewTupleDrainer(ev, reasons)
	if err != nil {
		log.Warn("tracepoints disabled", zap.Error(err))
		ev.Close()
		return nil, nil
	}
	log.Info("socket and drop tracepoints attached", zap.Strings("programs", ev.Attached))
	return ev, d
}
