package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// DefaultGrace is how long pods that ended stay resolvable by default.
const DefaultGrace = 2 * time.Minute

// Config configures a Watcher. Start with DefaultConfig: the zero value of
// RemotePods watches local pods only.
type Config struct {
	Client   kubernetes.Interface
	NodeName string // this node (from the downward API's spec.nodeName)
	// RemotePods watches the pods of every node, so remote ends of flows
	// resolve; false watches only this node's pods (less memory and API
	// load, remote pods look external).
	RemotePods bool
	Labels     []string         // pod label keys to keep in Endpoint.Labels
	Grace      time.Duration    // how long pods stay resolvable after they ended; 0: DefaultGrace
	Log        *zap.Logger      // nil: no logging
	Now        func() time.Time // nil: time.Now; when the Watcher saw a change
}

// DefaultConfig returns the defaults: remote pods watched, DefaultGrace.
func DefaultConfig(client kubernetes.Interface, nodeName string) Config {
	return Config{Client: client, NodeName: nodeName, RemotePods: true, Grace: DefaultGrace}
}

// Watcher keeps in-memory indexes of pods, services and workload owners,
// fed by informers, and serves lookups from them without blocking.
type Watcher struct {
	node   string
	log    *zap.Logger
	now    func() time.Time
	grace  time.Duration
	ready  chan struct{} // closed once synced
	done   chan struct{} // closed once stopped
	hits   atomic.Uint64
	misses atomic.Uint64
	events atomic.Uint64

	mu         sync.RWMutex
	pods       map[string]*Pod // live pods by UID
	containers map[string]*Pod // live pods by container id
	ips        ipHistory
	services   serviceIndex
	owners     map[ownedKey]ownerRef

	stores map[string]cache.Store // the informers' trimmed objects by resource name
}

// Start validates cfg, starts the informers (they run until ctx is done)
// and returns at once: lookups miss until Ready is closed.
func Start(ctx context.Context, cfg Config) (*Watcher, error) {
	w, err := newWatcher(cfg)
	if err != nil {
		return nil, err
	}
	informers := w.informers(cfg)
	synced := make([]cache.InformerSynced, 0, len(informers))
	for _, inf := range informers {
		reg, err := inf.informer.AddEventHandler(inf.handler)
		if err != nil {
			return nil, fmt.Errorf("kube: add %s handler: %w", inf.name, err)
		}
		if err := errors.Join(inf.informer.SetTransform(inf.transform), inf.informer.SetWatchErrorHandlerWithContext(w.watchError(inf.name))); err != nil {
			return nil, fmt.Errorf("kube: set up %s informer: %w", inf.name, err)
		}
		synced = append(synced, reg.HasSynced)
		w.stores[inf.name] = inf.informer.GetStore()
	}
	var running sync.WaitGroup
	for _, inf := range informers {
		running.Go(func() { inf.informer.RunWithContext(ctx) })
	}
	running.Go(func() { w.awaitSync(ctx, synced) })
	running.Go(func() { w.sweepLoop(ctx) })
	go func() {
		running.Wait()
		close(w.done)
	}()
	return w, nil
}

func newWatcher(cfg Config) (*Watcher, error) {
	if cfg.Client == nil {
		return nil, errors.New("kube: no client")
	}
	if cfg.NodeName == "" {
		return nil, errors.New("kube: no node name")
	}
	if cfg.Grace < 0 {
		return nil, fmt.Errorf("kube: negative grace %v", cfg.Grace)
	}
	w := &Watcher{
		node:       cfg.NodeName,
		log:        cfg.Log,
		now:        cfg.Now,
		grace:      cfg.Grace,
		ready:      make(chan struct{}),
		done:       make(chan struct{}),
		pods:       make(map[string]*Pod),
		containers: make(map[string]*Pod),
		services:   newServiceIndex(),
		owners:     make(map[ownedKey]ownerRef),
		stores:     make(map[string]cache.Store),
	}
	if w.grace == 0 {
		w.grace = DefaultGrace
	}
	if w.log == nil {
		w.log = zap.NewNop()
	}
	if w.now == nil {
		w.now = time.Now
	}
	w.ips = newIPHistory(w.grace)
	return w, nil
}

// NodeName is the node this Watcher runs on.
func (w *Watcher) NodeName() string { return w.node }

// Ready is closed once every informer has listed its objects and the
// indexes hold them. It stays open if ctx ends first.
func (w *Watcher) Ready() <-chan struct{} { return w.ready }

// Done is closed once ctx has ended and the informers have stopped.
func (w *Watcher) Done() <-chan struct{} { return w.done }

// Stats returns a snapshot of the indexes and counters.
func (w *Watcher) Stats() Stats {
	w.mu.RLock()
	ips, ended, multi := w.ips.counts()
	s := Stats{
		Pods:           len(w.pods),
		IPs:            ips,
		EndedHolders:   ended,
		MultiHolderIPs: multi,
		Services:       len(w.services.byName),
		ServicePorts:   len(w.services.byKey),
		Owners:         len(w.owners),
	}
	w.mu.RUnlock()
	s.Hits, s.Misses, s.Events = w.hits.Load(), w.misses.Load(), w.events.Load()
	return s
}

func (w *Watcher) awaitSync(ctx context.Context, synced []cache.InformerSynced) {
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return
	}
	close(w.ready)
	s := w.Stats()
	w.log.Info("kubernetes metadata ready", zap.String("node", w.node), zap.Int("pods", s.Pods),
		zap.Int("services", s.Services), zap.Int("owners", s.Owners))
}

// sweepLoop forgets ended IP holders after their grace period even when no
// event comes to do it.
func (w *Watcher) sweepLoop(ctx context.Context) {
	t := time.NewTicker(min(max(w.grace/2, time.Second), 30*time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.mu.Lock()
			w.ips.sweep(w.now())
			w.mu.Unlock()
		}
	}
}

func (w *Watcher) watchError(name string) cache.WatchErrorHandlerWithContext {
	return func(ctx context.Context, r *cache.Reflector, err error) {
		// The reflector retries with backoff; this is for visibility. A
		// closed or expired watch is routine: the reflector resumes or
		// lists again.
		level := zap.WarnLevel
		if errors.Is(err, io.EOF) || apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
			level = zap.DebugLevel
		}
		w.log.Log(level, "kubernetes watch failed, retrying", zap.String("resource", name), zap.Error(err))
		cache.DefaultWatchErrorHandler(ctx, r, err)
	}
}

// nodeSelector is the field selector of the local-pods informer.
func nodeSelector(node string) string {
	return fields.OneTermEqualSelector("spec.nodeName", node).String()
}
