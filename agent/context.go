package agent

import (
	"context"
	"sync"

	"go.uber.org/zap"

	"github.com/podflow/podflow/bpf"
	"github.com/podflow/podflow/config"
	"github.com/podflow/podflow/enrich"
	"github.com/podflow/podflow/enrich/owners"
	"github.com/podflow/podflow/enrich/process"
)

// processContext starts the process attribution: the owner events of the
// kernel feed the owners table (each pid resolved at once, while the
// process exists), then a scan of /proc adds the sockets that existed
// before podflow started. Events come first, so no socket falls between
// the scan and the events. It returns nil when the owner programs did not
// attach (they degrade like the other tracepoints). wait returns once the
// event reader has stopped (after ctx is done).
func processContext(ctx context.Context, cfg *config.Config, events *bpf.Events, log *zap.Logger) (e enrich.Enricher, table *owners.Table, wait func()) {
	wait = func() {}
	if !cfg.ProcessContext || events == nil || events.Program(bpf.EventsProgSockSendLength) == nil {
		if cfg.ProcessContext {
			log.Warn("process context disabled: the socket owner tracepoints are not attached")
		}
		return nil, nil, wait
	}
	resolver := process.NewResolver(process.Config{})
	table = owners.New(owners.Config{Resolver: resolver.Flow()})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		err := events.ReadOwners(ctx, func(o bpf.Owner) { table.Observe(ownerEvent(o)) })
		if err != nil {
			log.Warn("socket owner events stopped; process context no longer updated", zap.Error(err))
		}
	}()
	res, err := process.Scan(process.DefaultProcRoot)
	if err != nil {
		log.Warn("scan of existing sockets incomplete", zap.Error(err))
	}
	for _, s := range res.Sockets {
		table.Observe(owners.Event{Kind: owners.Opened, Proto: s.Proto, Local: s.Local, Remote: s.Remote,
			PID: s.PID, Comm: s.Comm, Netns: s.NetnsInode})
	}
	log.Info("existing sockets attributed to their processes", zap.Int("sockets", len(res.Sockets)),
		zap.Int("network_namespaces", res.Stats.Netns), zap.Duration("took", res.Stats.Duration))
	return table, table, wg.Wait
}

func ownerEvent(o bpf.Owner) owners.Event {
	ev := owners.Event{Kind: owners.Opened, Proto: o.Proto, Local: o.Local, Remote: o.Remote,
		PID: o.PID, Comm: o.Comm, Netns: uint64(o.Netns)}
	if o.Kind == bpf.EventsOwnerKindOWNER_CLOSE {
		ev.Kind = owners.Closed
	}
	return ev
}
