package attach

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/podflow/podflow/flow"
)

// fakeSource is a LinkSource whose links and events the test sets.
type fakeSource struct {
	mu           sync.Mutex
	links        map[int]Link
	listErr      error
	subscribeErr error
	lists        int
	events       chan LinkEvent
}

func newFakeSource(links ...Link) *fakeSource {
	f := &fakeSource{links: make(map[int]Link), events: make(chan LinkEvent, 16)}
	for _, l := range links {
		f.links[l.Index] = l
	}
	return f
}

func (f *fakeSource) List() ([]Link, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	if f.listErr != nil {
		return nil, f.listErr
	}
	out := make([]Link, 0, len(f.links))
	for _, l := range f.links {
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b Link) int { return a.Index - b.Index })
	return out, nil
}

func (f *fakeSource) Subscribe(ctx context.Context) (<-chan LinkEvent, error) {
	if f.subscribeErr != nil {
		return nil, f.subscribeErr
	}
	return f.events, nil
}

func (f *fakeSource) set(l Link) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.links[l.Index] = l
}

func (f *fakeSource) del(index int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.links, index)
}

func (f *fakeSource) setListErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listErr = err
}

func (f *fakeSource) listCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lists
}

type hookKey struct {
	ifindex int
	dir     flow.Direction
}

// fakeAttacher records live hooks; fail makes attaches to one hook fail.
type fakeAttacher struct {
	mu       sync.Mutex
	method   string
	live     map[hookKey]*ebpf.Program
	attaches int
	fail     map[hookKey]error
	closed   bool
}

func newFakeAttacher() *fakeAttacher {
	return &fakeAttacher{method: MethodTCX, live: make(map[hookKey]*ebpf.Program), fail: make(map[hookKey]error)}
}

func (a *fakeAttacher) attach(ifindex int, dir flow.Direction, prog *ebpf.Program) (hook, string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	key := hookKey{ifindex, dir}
	if err := a.fail[key]; err != nil {
		return nil, a.method, err
	}
	if _, dup := a.live[key]; dup {
		return nil, a.method, errors.New("fake: hook attached twice")
	}
	a.live[key] = prog
	a.attaches++
	return fakeHook{a, key}, a.method, nil
}

func (a *fakeAttacher) close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = true
	return nil
}

func (a *fakeAttacher) snapshot() map[hookKey]*ebpf.Program {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[hookKey]*ebpf.Program, len(a.live))
	for k, v := range a.live {
		out[k] = v
	}
	return out
}

type fakeHook struct {
	a   *fakeAttacher
	key hookKey
}

func (h fakeHook) detach() error {
	h.a.mu.Lock()
	defer h.a.mu.Unlock()
	if _, ok := h.a.live[h.key]; !ok {
		return errors.New("fake: hook detached twice")
	}
	delete(h.a.live, h.key)
	return nil
}

// Distinct program values: the fake never loads them, only compares them.
var testProgs = Programs{
	IngressL2: &ebpf.Program{}, EgressL2: &ebpf.Program{},
	IngressL3: &ebpf.Program{}, EgressL3: &ebpf.Program{},
}

// harness runs a watcher on fakes; step sends one event and waits until the
// watcher has handled it.
type harness struct {
	t       *testing.T
	w       *Watcher
	src     *fakeSource
	att     *fakeAttacher
	batches chan struct{}
	cancel  context.CancelFunc
	done    chan error
}

func startWatcher(t *testing.T, cfg Config, progs Programs, src *fakeSource, att *fakeAttacher) *harness {
	t.Helper()
	h := newHarness(t, cfg, progs, src, att)
	h.start()
	select {
	case <-h.w.Ready():
	case err := <-h.done:
		t.Fatalf("Run returned before ready: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("watcher not ready after 5s")
	}
	return h
}

func newHarness(t *testing.T, cfg Config, progs Programs, src *fakeSource, att *fakeAttacher) *harness {
	t.Helper()
	w, err := newWatcher(cfg, progs, src, zaptest.NewLogger(t, zaptest.Level(zap.DebugLevel)),
		func() (attacher, error) { return att, nil })
	if err != nil {
		t.Fatalf("newWatcher: %v", err)
	}
	h := &harness{t: t, w: w, src: src, att: att, batches: make(chan struct{}, 1), done: make(chan error, 1)}
	w.onBatch = func() { h.batches <- struct{}{} }
	return h
}

func (h *harness) start() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- h.w.Run(ctx) }()
	h.t.Cleanup(func() {
		cancel()
		<-h.done
	})
}

func (h *harness) step(ev LinkEvent) {
	h.t.Helper()
	h.src.events <- ev
	select {
	case <-h.batches:
	case err := <-h.done:
		h.t.Fatalf("Run returned while handling %v: %v", ev.Kind, err)
	case <-time.After(5 * time.Second):
		h.t.Fatalf("event %v not handled after 5s", ev.Kind)
	}
}

// stop cancels Run and returns its result.
func (h *harness) stop() error {
	h.t.Helper()
	h.cancel()
	select {
	case err := <-h.done:
		h.done <- err // for the cleanup
		return err
	case <-time.After(5 * time.Second):
		h.t.Fatal("Run did not return 5s after cancel")
		return nil
	}
}
