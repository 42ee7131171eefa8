package agent

import (
	"context"
	"os"
	"sync"
	"time"

	"github.com/vishvananda/netns"
	"go.uber.org/zap"
	"k8s.io/client-go/kubernetes"

	"github.com/podflow/podflow/bpf"
	"github.com/podflow/podflow/check"
	"github.com/podflow/podflow/config"
	"github.com/podflow/podflow/enrich"
	"github.com/podflow/podflow/enrich/conntrack"
	"github.com/podflow/podflow/enrich/kube"
	"github.com/podflow/podflow/enrich/owners"
	"github.com/podflow/podflow/enrich/process"
	"github.com/podflow/podflow/flow"
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
	// Without the owner tracepoints openEvents has already warned, once.
	if !cfg.ProcessContext || events == nil || events.Program(bpf.EventsProgSockSendLength) == nil {
		return nil, nil, wait
	}
	for _, r := range check.ProcessContextWarnings(process.DefaultProcRoot) {
		log.Warn(r.Effect, zap.String("check", r.Name), zap.String("reason", r.Detail))
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

// natContext starts mirroring the conntrack table of the observed network
// namespace (ns; nil for the current one) for the post-NAT addresses. A
// failure disables the NAT context with one warning; counting goes on.
func natContext(ctx context.Context, cfg *config.Config, ns *netns.NsHandle, tune func(*conntrack.Config), log *zap.Logger) (e enrich.Enricher, table *conntrack.Table, wait func()) {
	wait = func() {}
	if !cfg.NATContext {
		return nil, nil, wait
	}
	ccfg := conntrack.Config{Log: log.Named("conntrack")}
	if ns != nil {
		ccfg.Netns = *ns
	}
	if tune != nil {
		tune(&ccfg)
	}
	table = conntrack.New(ccfg)
	if err := table.Start(ctx); err != nil {
		r := check.ConntrackUnavailable(err)
		log.Warn(r.Effect, zap.String("reason", r.Detail))
		return nil, nil, wait
	}
	return table, table, func() { <-table.Done() }
}

// logContextStats reports what the enrichments did, at shutdown.
func logContextStats(log *zap.Logger, owned *owners.Table, nat *conntrack.Table) {
	if owned != nil {
		s := owned.Stats()
		log.Info("process context totals", zap.Int("endpoints", s.Entries), zap.Uint64("events", s.Events),
			zap.Uint64("ends_named", s.Hits), zap.Uint64("ends_unknown", s.Misses), zap.Uint64("ambiguous", s.Ambiguous))
	}
	if nat != nil {
		s := nat.Stats()
		log.Info("NAT context totals", zap.Int("connections", s.Entries), zap.Uint64("events", s.Events),
			zap.Uint64("overruns", s.Overruns), zap.Uint64("resyncs", s.Resyncs),
			zap.Uint64("hits", s.Hits), zap.Uint64("misses", s.Misses))
	}
}

// kubeContext starts the Kubernetes stage: informers on the API server of
// the cluster podflow runs in (or --kubeconfig). Outside a cluster it is
// off and says so once; an API server that cannot be reached disables it
// with a warning. It returns the enricher and the once-per-cluster filter
// (nil when off or not asked for).
func kubeContext(ctx context.Context, cfg *config.Config, client kubernetes.Interface, log *zap.Logger) (e *kube.Enricher, w *kube.Watcher, keep func(*flow.Record) bool) {
	if !cfg.Kubernetes {
		return nil, nil, nil
	}
	if client == nil {
		var err error
		client, err = kube.NewClient(cfg.Kubeconfig)
		if err != nil {
			// Outside a cluster the stage is off as expected: said at info.
			r := check.KubeClientResult(err)
			level := zap.WarnLevel
			if r.Status == check.Degraded {
				level = zap.InfoLevel
			}
			log.Log(level, r.Effect, zap.String("reason", r.Detail))
			return nil, nil, nil
		}
	}
	node := cfg.NodeName
	if node == "" {
		node, _ = os.Hostname()
	}
	kcfg := kube.DefaultConfig(client, node)
	kcfg.RemotePods = cfg.KubeRemotePods
	kcfg.Labels = cfg.KubeLabels
	kcfg.Log = log.Named("kube")
	w, err := kube.Start(ctx, kcfg)
	if err != nil {
		log.Warn(check.EffectKubeOff, zap.String("reason", err.Error()))
		return nil, nil, nil
	}
	select {
	case <-w.Ready():
		log.Info("Kubernetes caches synced", zap.String("node", node), zap.Int("pods", w.Stats().Pods))
	case <-time.After(kubeSyncWait):
		log.Warn("Kubernetes caches not synced yet; flows are named once they are", zap.Duration("waited", kubeSyncWait))
	case <-ctx.Done():
	}
	e = kube.NewEnricher(w)
	if cfg.OncePerCluster {
		if !cfg.KubeRemotePods {
			log.Warn("--once-per-cluster needs --kube-remote-pods (the other node's pods must be known): exporting every flow seen here")
		} else {
			keep = e.Keep
		}
	}
	return e, w, keep
}

// kubeSyncWait bounds how long start-up waits for the informers.
const kubeSyncWait = 30 * time.Second
