// Package attach attaches podflow's TC programs to the interfaces it
// observes (pod veths and host interfaces) and keeps them attached while
// interfaces come and go, following netlink link and route events.
//
// Another network namespace (tests use throwaway ones) is reached without
// moving the caller: NewNetlinkSourceAt opens its netlink sockets inside
// the namespace, the tc filter fallback uses a netlink handle opened there,
// and TCX attaches (whose ifindex the kernel resolves in the calling
// thread's namespace) run on a short-lived locked thread that enters it.
package attach

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"
)

// maxBatch bounds how many queued events are handled before a pending
// re-list runs, so a steady stream of events cannot postpone it for ever.
const maxBatch = 1024

// Watcher keeps podflow's programs attached to the selected links of one
// network namespace. Run does the work; the other methods are safe to call
// from any goroutine.
type Watcher struct {
	cfg         Config
	progs       Programs
	src         LinkSource
	log         *zap.Logger
	newAttacher func() (attacher, error)
	ready       chan struct{}
	running     atomic.Bool
	onBatch     func() // test hook: called after each batch of events

	// Owned by the Run goroutine.
	att           attacher
	defaultRoutes map[int]bool
	refused       map[int]string // links selected but not attachable, warned about once

	mu       sync.Mutex // guards the fields below, read by Attached, Name and Stats
	attached map[int]*attachedLink
	names    linkNames
	stats    Stats
}

type attachedLink struct {
	iface Interface
	hooks []hook
}

// NewWatcher returns a watcher attaching progs to the links of src that cfg
// selects. The programs stay owned by the caller and must outlive Run.
func NewWatcher(cfg Config, progs Programs, src LinkSource, log *zap.Logger) (*Watcher, error) {
	return newWatcher(cfg, progs, src, log, func() (attacher, error) {
		return newKernelAttacher(cfg, log)
	})
}

func newWatcher(cfg Config, progs Programs, src LinkSource, log *zap.Logger, newAttacher func() (attacher, error)) (*Watcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if progs.IngressL2 == nil || progs.EgressL2 == nil {
		return nil, errors.New("attach: the L2 ingress and egress programs are required")
	}
	if src == nil {
		return nil, errors.New("attach: no link source")
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Watcher{
		cfg:           cfg,
		progs:         progs,
		src:           src,
		log:           log,
		newAttacher:   newAttacher,
		ready:         make(chan struct{}),
		defaultRoutes: make(map[int]bool),
		refused:       make(map[int]string),
		attached:      make(map[int]*attachedLink),
		names:         newLinkNames(),
	}, nil
}

// Run attaches to the selected links, follows link and route changes until
// ctx is done, then detaches everything and returns. It fails only when it
// cannot watch at all (no subscription, no first listing, or the source
// stopping on its own); a link that cannot be attached is logged and counted
// in Stats. Whatever Run returns, nothing of podflow is left attached.
func (w *Watcher) Run(ctx context.Context) (err error) {
	if !w.running.CompareAndSwap(false, true) {
		return errors.New("attach: Run called twice")
	}
	att, err := w.newAttacher()
	if err != nil {
		return fmt.Errorf("attach: %w", err)
	}
	w.att = att
	defer func() {
		err = errors.Join(err, w.detachAll(), att.close())
	}()

	subCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Subscribe before listing, so a change between the two is not lost.
	events, err := w.src.Subscribe(subCtx)
	if err != nil {
		return fmt.Errorf("attach: subscribe to link changes: %w", err)
	}
	if err := w.resync(); err != nil {
		return fmt.Errorf("attach: list links: %w", err)
	}
	close(w.ready)
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("attach: link source stopped")
			}
			w.handleBatch(ev, events)
		}
	}
}

// Ready is closed once the links present at start have been attached (or
// have failed to). If Run fails before that, it is never closed.
func (w *Watcher) Ready() <-chan struct{} { return w.ready }

// handleBatch handles ev and every event already queued behind it, then
// lists again once if any of them asked for it.
func (w *Watcher) handleBatch(ev LinkEvent, events <-chan LinkEvent) {
	relist := w.handle(ev)
drain:
	for i := 0; i < maxBatch; i++ {
		select {
		case ev, ok := <-events:
			if !ok {
				break drain // Run's loop sees the closed channel next
			}
			relist = w.handle(ev) || relist
		default:
			break drain
		}
	}
	if relist {
		if err := w.resync(); err != nil {
			w.countSourceError()
			w.log.Warn("re-listing links failed; keeping the current attachments", zap.Error(err))
		}
	}
	if w.onBatch != nil {
		w.onBatch()
	}
}

// handle applies one event and reports whether the links must be listed
// again.
func (w *Watcher) handle(ev LinkEvent) bool {
	switch ev.Kind {
	case EventLinkChanged:
		l := ev.Link
		w.mu.Lock()
		w.names.set(l.Index, l.Name)
		w.mu.Unlock()
		l.DefaultRoute = w.defaultRoutes[l.Index]
		w.apply(l)
		// IPv4 drops the routes of a link that goes down without telling
		// anyone, so a change on a default-route link calls for a re-list.
		return w.defaultRouteMode() && l.DefaultRoute
	case EventLinkRemoved:
		w.forget(ev.Link.Index)
		return false
	case EventRoutesChanged, EventResync:
		return true
	case EventError:
		w.countSourceError()
		w.log.Warn("link source error", zap.Error(ev.Err))
		return false
	}
	w.log.Warn("unknown link event", zap.Int("kind", int(ev.Kind)))
	return false
}

func (w *Watcher) defaultRouteMode() bool { return len(w.cfg.HostInterfaces) == 0 }

// resync lists every link and brings the attachments in line with it.
func (w *Watcher) resync() error {
	links, err := w.src.List()
	if err != nil {
		return err
	}
	present := make(map[int]bool, len(links))
	w.defaultRoutes = make(map[int]bool)
	for _, l := range links {
		present[l.Index] = true
		if l.DefaultRoute {
			w.defaultRoutes[l.Index] = true
		}
		w.mu.Lock()
		w.names.set(l.Index, l.Name)
		w.mu.Unlock()
		w.apply(l)
	}
	for _, index := range w.knownIndexes() {
		if !present[index] {
			w.forget(index)
		}
	}
	return nil
}

// knownIndexes returns the links the watcher has attached or named.
func (w *Watcher) knownIndexes() []int {
	w.mu.Lock()
	defer w.mu.Unlock()
	indexes := w.names.presentIndexes()
	for index := range w.attached {
		indexes = append(indexes, index)
	}
	return indexes
}

// forget handles a link that is gone: release it, keep its name for late
// lookups.
func (w *Watcher) forget(index int) {
	w.release(index, "link removed")
	delete(w.defaultRoutes, index)
	delete(w.refused, index)
	w.mu.Lock()
	w.names.remove(index)
	w.mu.Unlock()
}

func (w *Watcher) countSourceError() {
	w.mu.Lock()
	w.stats.SourceErrors++
	w.mu.Unlock()
}

// Attached returns the links podflow is attached to now, by index.
func (w *Watcher) Attached() []Interface {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]Interface, 0, len(w.attached))
	for _, a := range w.attached {
		out = append(out, a.iface)
	}
	slices.SortFunc(out, func(a, b Interface) int { return a.Index - b.Index })
	return out
}

// Name returns the name of the link with this index: any link of the
// namespace, attached or not, and recently removed ones (records of a
// deleted pod are drained after its veth is gone).
func (w *Watcher) Name(ifindex uint32) (string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.names.get(int(ifindex))
}

// Stats returns the counters.
func (w *Watcher) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.stats
	s.Attached = len(w.attached)
	return s
}
