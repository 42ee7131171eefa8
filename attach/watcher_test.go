package attach

import (
	"errors"
	"reflect"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/podflow/podflow/flow"
)

var (
	lo    = Link{Index: 1, Name: "lo", Kind: "device", EncapType: "loopback"}
	eth0  = Link{Index: 2, Name: "eth0", Kind: "device", EncapType: "ether", DefaultRoute: true}
	pod1  = Link{Index: 3, Name: "cali1234", Kind: "veth", EncapType: "ether"}
	wg0   = Link{Index: 4, Name: "wg0", Kind: "wireguard", EncapType: "none", DefaultRoute: true}
	vethy = Link{Index: 5, Name: "veth-not-really", Kind: "dummy", EncapType: "ether"}
	pod2  = Link{Index: 6, Name: "eth5", Kind: "veth", EncapType: "ether"}
)

func wantAttached(t *testing.T, h *harness, want ...Interface) {
	t.Helper()
	if want == nil {
		want = []Interface{}
	}
	if got := h.w.Attached(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Attached() = %+v, want %+v", got, want)
	}
	hooks := make(map[hookKey]*ebpf.Program)
	for _, i := range want {
		in, eg := testProgs.IngressL2, testProgs.EgressL2
		if !i.L2 {
			in, eg = testProgs.IngressL3, testProgs.EgressL3
		}
		hooks[hookKey{i.Index, flow.Ingress}] = in
		hooks[hookKey{i.Index, flow.Egress}] = eg
	}
	if got := h.att.snapshot(); !reflect.DeepEqual(got, hooks) {
		t.Fatalf("live hooks = %v, want %v", got, hooks)
	}
}

func wantStats(t *testing.T, h *harness, want Stats) {
	t.Helper()
	if got := h.w.Stats(); got != want {
		t.Fatalf("Stats() = %+v, want %+v", got, want)
	}
}

func TestWatcherAttachesSelectedLinksAtStart(t *testing.T) {
	src := newFakeSource(lo, eth0, pod1, wg0, vethy, pod2)
	h := startWatcher(t, Config{Veth: true}, testProgs, src, newFakeAttacher())

	wantAttached(t, h,
		Interface{Index: 2, Name: "eth0", Kind: "device", L2: true, Method: "tcx"},
		Interface{Index: 3, Name: "cali1234", Kind: "veth", L2: true, Method: "tcx"},
		Interface{Index: 4, Name: "wg0", Kind: "wireguard", L2: false, Method: "tcx"},
		Interface{Index: 6, Name: "eth5", Kind: "veth", L2: true, Method: "tcx"},
	)
	wantStats(t, h, Stats{Attached: 4, Attaches: 4})
	for index, name := range map[uint32]string{1: "lo", 2: "eth0", 5: "veth-not-really"} {
		if got, ok := h.w.Name(index); !ok || got != name {
			t.Errorf("Name(%d) = %q, %v; want %q, true", index, got, ok, name)
		}
	}
	if got, ok := h.w.Name(99); ok {
		t.Errorf("Name(99) = %q, true; want not found", got)
	}
}

func TestWatcherFollowsLinkEvents(t *testing.T) {
	src := newFakeSource(lo)
	h := startWatcher(t, Config{Veth: true, HostInterfaces: []string{"uplink*"}}, testProgs, src, newFakeAttacher())
	wantAttached(t, h)

	src.set(pod1)
	h.step(LinkEvent{Kind: EventLinkChanged, Link: pod1})
	wantAttached(t, h, Interface{Index: 3, Name: "cali1234", Kind: "veth", L2: true, Method: "tcx"})

	// The same event again (a carrier change, a replayed dump) changes nothing.
	h.step(LinkEvent{Kind: EventLinkChanged, Link: pod1})
	wantStats(t, h, Stats{Attached: 1, Attaches: 1})

	// A rename keeps the attachment and follows the name.
	renamed := pod1
	renamed.Name = "eth0-renamed"
	h.step(LinkEvent{Kind: EventLinkChanged, Link: renamed})
	wantAttached(t, h, Interface{Index: 3, Name: "eth0-renamed", Kind: "veth", L2: true, Method: "tcx"})

	// A host link renamed into the glob is attached, out of it released.
	dummy := Link{Index: 7, Name: "dummy0", Kind: "dummy", EncapType: "ether"}
	h.step(LinkEvent{Kind: EventLinkChanged, Link: dummy})
	dummy.Name = "uplink0"
	h.step(LinkEvent{Kind: EventLinkChanged, Link: dummy})
	wantAttached(t, h,
		Interface{Index: 3, Name: "eth0-renamed", Kind: "veth", L2: true, Method: "tcx"},
		Interface{Index: 7, Name: "uplink0", Kind: "dummy", L2: true, Method: "tcx"},
	)
	dummy.Name = "down0"
	h.step(LinkEvent{Kind: EventLinkChanged, Link: dummy})
	wantStats(t, h, Stats{Attached: 1, Attaches: 2, Detaches: 1})

	h.step(LinkEvent{Kind: EventLinkRemoved, Link: renamed})
	wantAttached(t, h)
	wantStats(t, h, Stats{Attached: 0, Attaches: 2, Detaches: 2})
	// The name of a removed link still resolves, for flows drained late.
	if got, ok := h.w.Name(3); !ok || got != "eth0-renamed" {
		t.Errorf("Name(3) after removal = %q, %v; want eth0-renamed, true", got, ok)
	}

	// Removing an unknown link is harmless.
	h.step(LinkEvent{Kind: EventLinkRemoved, Link: Link{Index: 42, Name: "ghost"}})
	wantStats(t, h, Stats{Attached: 0, Attaches: 2, Detaches: 2})
}

func TestWatcherFollowsDefaultRoutes(t *testing.T) {
	eth1 := Link{Index: 8, Name: "eth1", Kind: "device", EncapType: "ether"}
	src := newFakeSource(lo, eth0, eth1)
	h := startWatcher(t, Config{}, testProgs, src, newFakeAttacher())
	wantAttached(t, h, Interface{Index: 2, Name: "eth0", Kind: "device", L2: true, Method: "tcx"})

	// The default route moves from eth0 to eth1.
	moved := eth0
	moved.DefaultRoute = false
	src.set(moved)
	withRoute := eth1
	withRoute.DefaultRoute = true
	src.set(withRoute)
	h.step(LinkEvent{Kind: EventRoutesChanged})
	wantAttached(t, h, Interface{Index: 8, Name: "eth1", Kind: "device", L2: true, Method: "tcx"})

	// A link event does not lose the default-route knowledge (events carry
	// DefaultRoute false), and on a default-route link it triggers a re-list
	// (IPv4 drops a downed link's routes silently).
	lists := src.listCount()
	h.step(LinkEvent{Kind: EventLinkChanged, Link: eth1})
	wantAttached(t, h, Interface{Index: 8, Name: "eth1", Kind: "device", L2: true, Method: "tcx"})
	if got := src.listCount(); got != lists+1 {
		t.Errorf("List calls after a default-route link event = %d, want %d", got, lists+1)
	}
	// A veth event needs no re-list.
	h.step(LinkEvent{Kind: EventLinkChanged, Link: pod1})
	if got := src.listCount(); got != lists+1 {
		t.Errorf("List calls after a veth event = %d, want %d", got, lists+1)
	}

	// A re-list that drops a link forgets it.
	src.del(8)
	h.step(LinkEvent{Kind: EventResync})
	wantAttached(t, h)
	wantStats(t, h, Stats{Attached: 0, Attaches: 2, Detaches: 2})
}

func TestWatcherAttachErrorsAreCountedNotFatal(t *testing.T) {
	att := newFakeAttacher()
	// pod1 vanishes between its ingress and egress attach.
	att.fail[hookKey{3, flow.Egress}] = unix.ENODEV
	src := newFakeSource(pod1, pod2)
	h := startWatcher(t, Config{Veth: true}, testProgs, src, att)

	// The ingress hook of pod1 was rolled back: all or nothing.
	wantAttached(t, h, Interface{Index: 6, Name: "eth5", Kind: "veth", L2: true, Method: "tcx"})
	wantStats(t, h, Stats{Attached: 1, Attaches: 1, AttachErrors: 1})

	// The next event for the link retries.
	delete(att.fail, hookKey{3, flow.Egress})
	h.step(LinkEvent{Kind: EventLinkChanged, Link: pod1})
	wantAttached(t, h,
		Interface{Index: 3, Name: "cali1234", Kind: "veth", L2: true, Method: "tcx"},
		Interface{Index: 6, Name: "eth5", Kind: "veth", L2: true, Method: "tcx"},
	)
	wantStats(t, h, Stats{Attached: 2, Attaches: 2, AttachErrors: 1})
}

func TestWatcherRefusesUnattachableLinksOnce(t *testing.T) {
	ib := Link{Index: 9, Name: "ib0", Kind: "ipoib", EncapType: "infiniband", DefaultRoute: true}
	src := newFakeSource(eth0, wg0, ib)
	l2Only := Programs{IngressL2: testProgs.IngressL2, EgressL2: testProgs.EgressL2}
	h := startWatcher(t, Config{}, l2Only, src, newFakeAttacher())

	wantAttached(t, h, Interface{Index: 2, Name: "eth0", Kind: "device", L2: true, Method: "tcx"})
	wantStats(t, h, Stats{Attached: 1, Attaches: 1, AttachErrors: 2})
	// Re-lists do not count the same refusal again.
	h.step(LinkEvent{Kind: EventRoutesChanged})
	wantStats(t, h, Stats{Attached: 1, Attaches: 1, AttachErrors: 2})
}

func TestWatcherCountsSourceErrors(t *testing.T) {
	src := newFakeSource(pod1)
	h := startWatcher(t, Config{Veth: true}, testProgs, src, newFakeAttacher())

	h.step(LinkEvent{Kind: EventError, Err: errors.New("netlink hiccup")})
	wantStats(t, h, Stats{Attached: 1, Attaches: 1, SourceErrors: 1})

	// A failed re-list keeps what is attached.
	src.setListErr(errors.New("dump failed"))
	h.step(LinkEvent{Kind: EventResync})
	wantAttached(t, h, Interface{Index: 3, Name: "cali1234", Kind: "veth", L2: true, Method: "tcx"})
	wantStats(t, h, Stats{Attached: 1, Attaches: 1, SourceErrors: 2})
}

func TestWatcherDetachesEverythingOnCancel(t *testing.T) {
	att := newFakeAttacher()
	h := startWatcher(t, Config{Veth: true}, testProgs, newFakeSource(lo, eth0, pod1, wg0, pod2), att)
	if got := len(att.snapshot()); got != 8 {
		t.Fatalf("live hooks before cancel = %d, want 8", got)
	}
	if err := h.stop(); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	wantAttached(t, h)
	wantStats(t, h, Stats{Attached: 0, Attaches: 4, Detaches: 4})
	if !att.closed {
		t.Error("attacher not closed after Run")
	}
}

func TestWatcherStopsWhenSourceStops(t *testing.T) {
	src := newFakeSource(pod1)
	h := startWatcher(t, Config{Veth: true}, testProgs, src, newFakeAttacher())
	close(src.events)
	if err := <-h.done; err == nil || err.Error() != "attach: link source stopped" {
		t.Fatalf("Run = %v, want attach: link source stopped", err)
	}
	h.done <- nil // for the cleanup
	wantAttached(t, h)
}

func TestWatcherRunFailsWithoutSubscription(t *testing.T) {
	src := newFakeSource(pod1)
	src.subscribeErr = errors.New("no netlink")
	att := newFakeAttacher()
	h := newHarness(t, Config{Veth: true}, testProgs, src, att)
	h.start()
	if err := <-h.done; err == nil || err.Error() != "attach: subscribe to link changes: no netlink" {
		t.Fatalf("Run = %v, want the subscribe error", err)
	}
	h.done <- nil
	select {
	case <-h.w.Ready():
		t.Error("Ready closed although Run failed")
	default:
	}
	if !att.closed {
		t.Error("attacher not closed")
	}
}

func TestWatcherRunFailsWhenFirstListFails(t *testing.T) {
	src := newFakeSource(pod1)
	src.listErr = errors.New("dump failed")
	h := newHarness(t, Config{Veth: true}, testProgs, src, newFakeAttacher())
	h.start()
	if err := <-h.done; err == nil || err.Error() != "attach: list links: dump failed" {
		t.Fatalf("Run = %v, want the list error", err)
	}
	h.done <- nil
	wantAttached(t, h)
}

func TestWatcherRunTwice(t *testing.T) {
	h := startWatcher(t, Config{Veth: true}, testProgs, newFakeSource(), newFakeAttacher())
	if err := h.w.Run(t.Context()); err == nil || err.Error() != "attach: Run called twice" {
		t.Fatalf("second Run = %v, want attach: Run called twice", err)
	}
}

func TestNewWatcherValidates(t *testing.T) {
	if _, err := NewWatcher(Config{HostInterfaces: []string{"eth["}}, testProgs, newFakeSource(), nil); err == nil {
		t.Error("bad glob accepted")
	}
	if _, err := NewWatcher(Config{}, Programs{IngressL2: testProgs.IngressL2}, newFakeSource(), nil); err == nil {
		t.Error("missing egress program accepted")
	}
	if _, err := NewWatcher(Config{}, testProgs, nil, nil); err == nil {
		t.Error("nil source accepted")
	}
}
