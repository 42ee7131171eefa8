package agent

import (
	"go.uber.org/zap"

	"github.com/podflow/podflow/bpf"
	"github.com/podflow/podflow/check"
	"github.com/podflow/podflow/config"
)

// openEvents loads and attaches the socket and drop tracepoints cfg asks
// for, with filter, the TC programs' (Objects.Filter): measurements of the
// traffic the --filter-* options exclude never reach the tuple maps
// either, where they would only count as unmatched. What the kernel
// refuses is disabled with one warning per feature, worded as `podflow
// check` words it; the flow counters keep working whatever happens here.
// nil means none run.
func openEvents(cfg *config.Config, filter *bpf.LoadedFilter, log *zap.Logger) (*bpf.Events, *bpf.TupleDrainer) {
	return openEventsWith(cfg, log, func(opts bpf.EventOptions) (*bpf.Events, error) {
		opts.Filter = filter
		return bpf.OpenEvents(opts)
	})
}

// openEventsWith is openEvents with the opener tests substitute; the
// opener sets EventOptions.Filter.
func openEventsWith(cfg *config.Config, log *zap.Logger, open check.EventOpener) (*bpf.Events, *bpf.TupleDrainer) {
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
	ev, err := open(opts)
	var attached []string
	if ev != nil {
		attached = ev.Attached
	}
	for _, f := range check.DegradedFeatures(check.TracepointResults(opts, attached, err)) {
		log.Warn(f.Effect, zap.String("feature", f.Feature), zap.String("reason", f.Detail))
	}
	if ev == nil {
		return nil, nil
	}
	if len(ev.Attached) == 0 {
		ev.Close()
		return nil, nil
	}
	var reasons map[uint32]string
	if opts.Drops && ev.Program(bpf.EventsProgKfreeSkb) != nil {
		if reasons, err = bpf.DropReasons(); err != nil {
			log.Warn(check.EffectDropReasonNumbers, zap.String("reason", err.Error()))
		}
	}
	d, err := bpf.NewTupleDrainer(ev, reasons)
	if err != nil {
		log.Warn("tracepoints disabled: RTT, retransmits, drops and process attribution off; "+check.CountersKeepFlowing, zap.Error(err))
		ev.Close()
		return nil, nil
	}
	log.Info("socket and drop tracepoints attached", zap.Strings("programs", ev.Attached))
	return ev, d
}
