package attach

import (
	"net"
	"slices"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/vishvananda/netlink"

	"github.com/podflow/podflow/internal/netnstest"
)

func TestKernelHostInterfacesByGlob(t *testing.T) {
	netnstest.RequirePrivileged(t)
	k := loadTestKernel(t)
	host := netnstest.New(t)
	up0 := host.AddIfb(t, "uplink0")
	other := host.AddIfb(t, "other0")
	tun := host.AddTun(t, "uplinktun0") // no Ethernet header: gets the L3 pair
	up1 := host.AddIfb(t, "uplink1")

	r := startKernelWatcher(t, host, Config{HostInterfaces: []string{"uplink*"}}, k.progs)
	want := []Interface{
		{Index: up0.Attrs().Index, Name: "uplink0", Kind: "ifb", L2: true, Method: MethodTCX},
		{Index: tun.Attrs().Index, Name: "uplinktun0", Kind: "tuntap", L2: false, Method: MethodTCX},
		{Index: up1.Attrs().Index, Name: "uplink1", Kind: "ifb", L2: true, Method: MethodTCX},
	}
	if got := r.w.Attached(); !slices.Equal(got, want) {
		t.Fatalf("Attached() = %+v, want %+v", got, want)
	}
	l2 := func(p *ebpf.Program) []ebpf.ProgramID { return []ebpf.ProgramID{programID(t, p)} }
	wantTCX(t, host, up0.Attrs().Index, l2(k.progs.IngressL2), l2(k.progs.EgressL2))
	wantTCX(t, host, up1.Attrs().Index, l2(k.progs.IngressL2), l2(k.progs.EgressL2))
	wantTCX(t, host, tun.Attrs().Index, l2(k.progs.IngressL3), l2(k.progs.EgressL3))
	wantTCX(t, host, other.Attrs().Index, nil, nil)
	if got, ok := r.w.Name(uint32(other.Attrs().Index)); !ok || got != "other0" {
		t.Errorf("Name(other0) = %q, %v; want other0, true", got, ok)
	}

	r.stop(t)
	for _, l := range []netlink.Link{up0, up1, tun} {
		wantTCX(t, host, l.Attrs().Index, nil, nil)
	}
}

func TestKernelHostInterfacesByDefaultRoute(t *testing.T) {
	netnstest.RequirePrivileged(t)
	k := loadTestKernel(t)
	host := netnstest.New(t)
	wan := host.AddIfb(t, "wan0")
	lan := host.AddIfb(t, "lan0")
	host.LinkUp(t, wan)
	host.LinkUp(t, lan)
	host.AddAddr(t, wan, "192.0.2.1/24")
	v4default := host.AddDefaultRoute(t, wan, net.ParseIP("192.0.2.254"))
	wanIdx, lanIdx := wan.Attrs().Index, lan.Attrs().Index

	rw := startKernelWatcher(t, host, Config{}, k.progs)
	want := []Interface{{Index: wanIdx, Name: "wan0", Kind: "ifb", L2: true, Method: MethodTCX}}
	if got := rw.w.Attached(); !slices.Equal(got, want) {
		t.Fatalf("Attached() = %+v, want %+v", got, want)
	}
	isAttached := func(indexes ...int) func() bool {
		return func() bool { return slices.Equal(attachedIndexes(rw.w), indexes) }
	}

	host.DeleteRoute(t, v4default)
	waitFor(t, "wan0 released when its default route went", isAttached())

	// An IPv6 default route counts as well.
	host.AddRoute(t, &netlink.Route{LinkIndex: lanIdx, Dst: &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}})
	waitFor(t, "lan0 attached for its IPv6 default route", isAttached(lanIdx))

	// IPv4 drops the routes of a link set down without a route event: the
	// watcher must notice through the link event.
	host.AddDefaultRoute(t, wan, net.ParseIP("192.0.2.254"))
	waitFor(t, "wan0 attached again", isAttached(wanIdx, lanIdx))
	host.LinkDown(t, wan)
	waitFor(t, "wan0 released when it went down", isAttached(lanIdx))

	if got, want := rw.w.Stats(), (Stats{Attached: 1, Attaches: 3, Detaches: 2}); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
	rw.stop(t)
	wantTCX(t, host, lanIdx, nil, nil)
	wantTCX(t, host, wanIdx, nil, nil)
}
