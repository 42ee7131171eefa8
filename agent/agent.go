// Package agent wires podflow's stages together: BPF objects, interface
// attachment, the drain loop with its flow table, and the exporters.
package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/vishvananda/netns"
	"go.uber.org/zap"
	"k8s.io/client-go/kubernetes"

	"github.com/podflow/podflow/attach"
	"github.com/podflow/podflow/bpf"
	"github.com/podflow/podflow/config"
	"github.com/podflow/podflow/enrich"
	"github.com/podflow/podflow/enrich/conntrack"
	"github.com/podflow/podflow/enrich/owners"
	"github.com/podflow/podflow/exporter"
	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/metrics"
)

// kernelStatsInterval is how often the kernel's loss counters are checked.
const kernelStatsInterval = 10 * time.Second

// Options are what tests (and later features) inject; the zero value is
// production: the host's network namespace through netlink.
type Options struct {
	// Links is the interface source; nil means netlink in this namespace.
	Links attach.LinkSource
	// AttachConfig overrides fields of the attach configuration derived
	// from cfg (Netns, ForceNetlink) when non-nil.
	Attach func(*attach.Config)
	// Ready, when set, is called once every selected interface is attached.
	Ready func(w *attach.Watcher)
	// Exported, when set, gets each collector's totals once the exporters
	// are closed.
	Exported func(collector string, s exporter.Stats)
	// Exporters, when set, is handed the running exporters (their Stats
	// may be read from any goroutine).
	Exporters func(*exporter.Fanout)
	// Conntrack, when set, adjusts the conntrack table's configuration.
	Conntrack func(*conntrack.Config)
	// Context, when set, is handed the running enrichment tables (nil when
	// off); their Stats may be read from any goroutine.
	Context func(*owners.Table, *conntrack.Table)
	// Metrics, when set, is told where /metrics is served.
	Metrics func(net.Addr)
	// Kube, when set, is the Kubernetes client (instead of in-cluster
	// config or --kubeconfig).
	Kube kubernetes.Interface
}

// Run runs podflow until ctx is cancelled. On the way out it detaches the
// programs first, then drains one last time and exports every flow with
// forced end, then closes the exporters: nothing counted is lost.
func Run(ctx context.Context, cfg *config.Config, log *zap.Logger) error {
	return RunWith(ctx, cfg, log, Options{})
}

// RunWith is Run with injected parts.
func RunWith(ctx context.Context, cfg *config.Config, log *zap.Logger, opts Options) (err error) {
	handshakes, wire := cfg.HandshakeRTT, cfg.WireRetransmits
	if cfg.SamplingInterval > 1 && (handshakes || wire) {
		// Both follow a connection packet by packet: a sampled subset
		// would time the wrong packets and miss or invent retransmissions.
		log.Warn("packet sampling is on: TCP handshake timing (--handshake-rtt) and wire retransmissions (--wire-retransmits) need every packet and are turned off",
			zap.Int("sampling_interval", cfg.SamplingInterval))
		handshakes, wire = false, false
	}
	objs, err := bpf.Load(bpf.LoadOptions{
		MaxFlows:             uint32(cfg.MaxFlows),
		PreciseTimestamps:    cfg.PreciseTimestamps,
		TrackHandshakes:      handshakes,
		TrackWireRetransmits: wire,
		Filter:               kernelFilter(cfg),
		SamplingInterval:     uint32(cfg.SamplingInterval),
	})
	if err != nil {
		return err
	}
	defer objs.Close()
	drainer, err := bpf.NewDrainer(objs)
	if err != nil {
		return err
	}
	names := &interfaceNames{}
	sink, err := newExporters(cfg, names, log)
	if err != nil {
		return err
	}
	defer func() {
		err = errors.Join(err, sink.Close())
		logExporterStats(log, sink)
		if opts.Exported != nil {
			for i := range sink.Exporters {
				opts.Exported(sink.Names[i], sink.Stats(i))
			}
		}
	}()
	if opts.Exporters != nil {
		opts.Exporters(sink)
	}
	mono, err := flow.NewMonoConverter(flow.SystemClockSource{})
	if err != nil {
		return err
	}
	times, err := objs.NewClock(mono)
	if err != nil {
		return err
	}
	table := flow.NewTable(flow.TableConfig{
		ActiveTimeout: cfg.ActiveTimeout,
		IdleTimeout:   cfg.IdleTimeout,
		PerInterface:  cfg.Mode == config.ModePerInterface,
		MaxFlows:      cfg.MaxTableFlows,
	})
	loop := flow.NewLoop(drainer, table, sink, times, flow.SystemClock{}, log)
	events, tuples := openEvents(cfg, objs.Filter(), log)
	if events != nil {
		defer events.Close()
		loop.WithTuples(tuples)
	}
	ctxCtx, stopContext := context.WithCancel(context.Background())
	var chain enrich.Chain
	procEnricher, owned, waitOwners := processContext(ctxCtx, cfg, events, log)
	natEnricher, nat, waitNAT := natContext(ctxCtx, cfg, observedNetns(opts), opts.Conntrack, log)
	kubeEnricher, kubeWatcher, keep := kubeContext(ctxCtx, cfg, opts.Kube, log)
	if keep != nil {
		loop.WithFilter(keep)
	}
	if opts.Context != nil {
		opts.Context(owned, nat)
	}
	defer func() {
		stopContext()
		waitOwners()
		waitNAT()
		if kubeWatcher != nil {
			<-kubeWatcher.Done()
		}
	}()
	// Order matters: the Kubernetes stage reads the NAT (the pod behind a
	// service) and the process (host-network pods by container).
	for _, e := range []enrich.Enricher{procEnricher, natEnricher} {
		if e != nil {
			chain = append(chain, e)
		}
	}
	if kubeEnricher != nil {
		chain = append(chain, kubeEnricher)
	}
	if len(chain) > 0 {
		loop.WithEnricher(chain)
	}

	watcher, releaseLinks, err := newWatcher(cfg, objs, log, opts)
	if err != nil {
		return err
	}
	names.w.Store(watcher)
	reg := metrics.New()
	registerMetrics(reg, objs, events, table, loop, sink, owned, nat)
	registerWatcherMetrics(reg, watcher)
	if kubeWatcher != nil {
		registerKubeMetrics(reg, kubeWatcher, loop)
	}
	if cfg.MetricsListen != "" {
		addr, err := reg.Serve(ctxCtx, cfg.MetricsListen, log)
		if err != nil {
			releaseLinks()
			return err
		}
		log.Info("serving metrics", zap.String("address", addr.String()))
		if opts.Metrics != nil {
			opts.Metrics(addr)
		}
	}
	defer releaseLinks()
	attachCtx, stopAttach := context.WithCancel(context.Background())
	defer stopAttach()
	var wg sync.WaitGroup
	var attachErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		attachErr = watcher.Run(attachCtx)
	}()
	select {
	case <-watcher.Ready():
		reg.SetReady(true)
		log.Info("observing interfaces", zap.Int("attached", len(watcher.Attached())))
		if opts.Ready != nil {
			opts.Ready(watcher)
		}
	case <-ctx.Done():
	}

	wg.Add(1)
	go func() {
		defer wg.Done()
		watchKernelStats(ctx, objs, events, log)
	}()
	loop.Run(ctx, cfg.PollInterval)

	// Stop counting first, then take the last drain: every packet counted
	// is exported, with forced end.
	stopAttach()
	wg.Wait()
	var detachErr error
	if events != nil {
		detachErr = events.Detach()
	}
	shutdownErr := loop.Shutdown()
	logKernelStats(log, objs, events, zap.InfoLevel)
	logContextStats(log, owned, nat)
	ts := table.Stats()
	log.Info("flow table totals", zap.Uint64("flows_created", ts.FlowsCreated),
		zap.Uint64("dedup_dropped_packets", ts.DedupDroppedPackets),
		zap.Uint64("unmatched_tuple_measurements", ts.UnmatchedTuples),
		zap.Uint64("unmatched_dropped_packets", ts.UnmatchedDropPackets))
	return errors.Join(attachErr, detachErr, shutdownErr)
}

// kernelFilter translates the validated filter options for the TC programs.
func kernelFilter(cfg *config.Config) bpf.Filter {
	var f bpf.Filter
	for _, r := range cfg.FilterCIDRs {
		if r.Deny {
			f.DenyCIDRs = append(f.DenyCIDRs, r.Prefix)
		} else {
			f.AllowCIDRs = append(f.AllowCIDRs, r.Prefix)
		}
	}
	for _, r := range cfg.FilterProtocols {
		if r.Deny {
			f.DenyProtocols = append(f.DenyProtocols, uint8(r.Protocol))
		} else {
			f.AllowProtocols = append(f.AllowProtocols, uint8(r.Protocol))
		}
	}
	for _, r := range cfg.FilterPorts {
		pr := bpf.PortRange{First: uint16(r.First), Last: uint16(r.Last)}
		if r.Deny {
			f.DenyPorts = append(f.DenyPorts, pr)
		} else {
			f.AllowPorts = append(f.AllowPorts, pr)
		}
	}
	return f
}

// observedNetns is the network namespace podflow attaches in: the one the
// injected attach configuration names (tests), else nil for the current one.
func observedNetns(opts Options) *netns.NsHandle {
	var acfg attach.Config
	if opts.Attach != nil {
		opts.Attach(&acfg)
	}
	return acfg.Netns
}

// newWatcher returns the interface watcher and a func that releases its
// link source.
func newWatcher(cfg *config.Config, objs *bpf.Objects, log *zap.Logger, opts Options) (*attach.Watcher, func(), error) {
	acfg := attach.Config{Veth: cfg.Veth, HostInterfaces: cfg.Interfaces}
	if opts.Attach != nil {
		opts.Attach(&acfg)
	}
	src, release := opts.Links, func() {}
	if src == nil {
		var (
			nl  *attach.NetlinkSource
			err error
		)
		if acfg.Netns != nil {
			nl, err = attach.NewNetlinkSourceAt(*acfg.Netns, log)
		} else {
			nl, err = attach.NewNetlinkSource(log)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("watch interfaces: %w", err)
		}
		src, release = nl, nl.Close
	}
	progs := attach.Programs{
		IngressL2: objs.TcIngress, EgressL2: objs.TcEgress,
		IngressL3: objs.TcIngressL3, EgressL3: objs.TcEgressL3,
	}
	w, err := attach.NewWatcher(acfg, progs, src, log)
	if err != nil {
		release()
		return nil, nil, err
	}
	return w, release, nil
}
