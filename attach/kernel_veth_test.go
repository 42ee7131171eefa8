package attach

import (
	"bytes"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/vishvananda/netlink"

	"github.com/podflow/podflow/internal/netnstest"
)

// podNode is a "node" namespace with one "pod" namespace behind a veth.
type podNode struct {
	host, pod *netnstest.Netns
	hostVeth  netlink.Link
}

// newPodNode builds host and pod namespaces joined by a veth (host side
// pfhost0, pod side eth0, 192.0.2.1 and .2), with IPv6 off and static
// neighbour entries, so the only packets on the veth are the test's own.
func newPodNode(t *testing.T) *podNode {
	t.Helper()
	host, pod := netnstest.New(t), netnstest.New(t)
	host.DisableIPv6(t)
	pod.DisableIPv6(t)
	hostVeth, podVeth := host.AddVethPair(t, "pfhost0", "eth0", pod)
	host.AddAddr(t, hostVeth, "192.0.2.1/24")
	pod.AddAddr(t, podVeth, "192.0.2.2/24")
	host.LinkUp(t, hostVeth)
	pod.LinkUp(t, podVeth)
	host.AddNeigh(t, hostVeth, net.ParseIP("192.0.2.2"), podVeth.Attrs().HardwareAddr)
	pod.AddNeigh(t, podVeth, net.ParseIP("192.0.2.1"), hostVeth.Attrs().HardwareAddr)
	return &podNode{host: host, pod: pod, hostVeth: hostVeth}
}

// udpEcho sends n datagrams from the pod to a UDP echo server in the host
// namespace and waits for every echo: n packets each way on the veth.
func (p *podNode) udpEcho(t *testing.T, n int) {
	t.Helper()
	var server, client *net.UDPConn
	err := p.host.Do(func() (err error) {
		server, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP("192.0.2.1")})
		return err
	})
	if err != nil {
		t.Fatalf("listen in host netns: %v", err)
	}
	defer server.Close()
	err = p.pod.Do(func() (err error) {
		client, err = net.DialUDP("udp4", nil, server.LocalAddr().(*net.UDPAddr))
		return err
	})
	if err != nil {
		t.Fatalf("dial from pod netns: %v", err)
	}
	defer client.Close()

	echoed := make(chan error, 1)
	go func() {
		buf := make([]byte, 64)
		for range n {
			if err := server.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
				echoed <- err
				return
			}
			m, from, err := server.ReadFromUDP(buf)
			if err != nil {
				echoed <- err
				return
			}
			if _, err := server.WriteToUDP(buf[:m], from); err != nil {
				echoed <- err
				return
			}
		}
		echoed <- nil
	}()
	buf := make([]byte, 64)
	for i := range n {
		msg := []byte(fmt.Sprintf("ping %d", i))
		if _, err := client.Write(msg); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		if err := client.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		m, err := client.Read(buf)
		if err != nil || !bytes.Equal(buf[:m], msg) {
			t.Fatalf("echo %d = %q, %v; want %q", i, buf[:m], err, msg)
		}
	}
	if err := <-echoed; err != nil {
		t.Fatalf("echo server: %v", err)
	}
}

func forEachMethod(t *testing.T, test func(t *testing.T, cfg Config, method string)) {
	t.Run(MethodTCX, func(t *testing.T) { test(t, Config{Veth: true}, MethodTCX) })
	t.Run(MethodNetlink, func(t *testing.T) { test(t, Config{Veth: true, ForceNetlink: true}, MethodNetlink) })
}

// wantOurHooks asserts that exactly podflow's L2 programs are attached to
// the link, by the given method, and nothing else of ours.
func wantOurHooks(t *testing.T, ns *netnstest.Netns, ifindex int, method string, k *testKernel) {
	t.Helper()
	in, eg := programID(t, k.progs.IngressL2), programID(t, k.progs.EgressL2)
	if method == MethodTCX {
		wantTCX(t, ns, ifindex, []ebpf.ProgramID{in}, []ebpf.ProgramID{eg})
		return
	}
	wantTCX(t, ns, ifindex, nil, nil)
	if got, want := tcFilters(t, ns, ifindex, netlink.HANDLE_MIN_INGRESS), []tcFilter{{16, 1, "podflow-ingress", int(in)}}; !slices.Equal(got, want) {
		t.Errorf("ingress filters = %+v, want %+v", got, want)
	}
	if got, want := tcFilters(t, ns, ifindex, netlink.HANDLE_MIN_EGRESS), []tcFilter{{16, 1, "podflow-egress", int(eg)}}; !slices.Equal(got, want) {
		t.Errorf("egress filters = %+v, want %+v", got, want)
	}
}

// wantNoHooks asserts that no program and no filter is attached to the link.
func wantNoHooks(t *testing.T, ns *netnstest.Netns, ifindex int) {
	t.Helper()
	wantTCX(t, ns, ifindex, nil, nil)
	for _, parent := range []uint32{netlink.HANDLE_MIN_INGRESS, netlink.HANDLE_MIN_EGRESS} {
		if got := tcFilters(t, ns, ifindex, parent); len(got) != 0 {
			t.Errorf("filters under %x = %+v, want none", parent, got)
		}
	}
}

func TestKernelVethCountsAndDetaches(t *testing.T) {
	forEachMethod(t, func(t *testing.T, cfg Config, method string) {
		netnstest.RequirePrivileged(t)
		k := loadTestKernel(t)
		node := newPodNode(t)
		index := node.hostVeth.Attrs().Index
		qdiscsBefore := qdiscKinds(t, node.host, index)

		r := startKernelWatcher(t, node.host, cfg, k.progs)
		want := []Interface{{Index: index, Name: "pfhost0", Kind: "veth", L2: true, Method: method}}
		if got := r.w.Attached(); !slices.Equal(got, want) {
			t.Fatalf("Attached() = %+v, want %+v", got, want)
		}
		wantOurHooks(t, node.host, index, method, k)

		const n = 25
		node.udpEcho(t, n)
		stats := node.host.Statistics(t, "pfhost0")
		// Pod-to-host packets enter the host side of the veth (ingress).
		if got := k.count(t, slotIngressL2); got != n || got != stats.RxPackets {
			t.Errorf("ingress program counted %d, want %d = veth rx_packets %d", got, n, stats.RxPackets)
		}
		if got := k.count(t, slotEgressL2); got != n || got != stats.TxPackets {
			t.Errorf("egress program counted %d, want %d = veth tx_packets %d", got, n, stats.TxPackets)
		}
		if in, eg := k.count(t, slotIngressL3), k.count(t, slotEgressL3); in != 0 || eg != 0 {
			t.Errorf("L3 programs counted %d/%d on an Ethernet link, want 0/0", in, eg)
		}

		r.stop(t)
		if got := r.w.Attached(); len(got) != 0 {
			t.Errorf("Attached() after stop = %+v, want none", got)
		}
		wantNoHooks(t, node.host, index)
		// podflow created the clsact qdisc and nobody else used it: gone.
		if got := qdiscKinds(t, node.host, index); !slices.Equal(got, qdiscsBefore) {
			t.Errorf("qdiscs after stop = %v, want %v as before", got, qdiscsBefore)
		}
		if got, want := r.w.Stats(), (Stats{Attaches: 1, Detaches: 1}); got != want {
			t.Errorf("Stats() = %+v, want %+v", got, want)
		}
	})
}

func TestKernelVethFollowsCreateAndDelete(t *testing.T) {
	forEachMethod(t, func(t *testing.T, cfg Config, method string) {
		netnstest.RequirePrivileged(t)
		k := loadTestKernel(t)
		host, pod := netnstest.New(t), netnstest.New(t)
		r := startKernelWatcher(t, host, cfg, k.progs)
		if got := r.w.Attached(); len(got) != 0 {
			t.Fatalf("Attached() in an empty netns = %+v", got)
		}

		start := time.Now()
		created, _ := host.AddVethPair(t, "pfnew0", "eth0", pod)
		index := created.Attrs().Index
		waitFor(t, "new veth attached", func() bool { return slices.Contains(attachedIndexes(r.w), index) })
		t.Logf("veth attached %v after its creation began (%s)", time.Since(start), method)
		wantOurHooks(t, host, index, method, k)

		// Joining and leaving a bridge sends AF_BRIDGE RTM_DELLINK, which
		// must not read as a deletion. A marker veth created afterwards
		// shows when the watcher has seen those events.
		bridge := host.AddBridge(t, "pfbr0")
		host.SetMaster(t, created, bridge)
		host.SetMaster(t, created, nil)
		marker, _ := host.AddVethPair(t, "pfmark0", "eth1", pod)
		waitFor(t, "marker veth attached", func() bool { return slices.Contains(attachedIndexes(r.w), marker.Attrs().Index) })
		want := []Interface{
			{Index: index, Name: "pfnew0", Kind: "veth", L2: true, Method: method},
			{Index: marker.Attrs().Index, Name: "pfmark0", Kind: "veth", L2: true, Method: method},
		}
		if got := r.w.Attached(); !slices.Equal(got, want) {
			t.Fatalf("Attached() = %+v, want %+v", got, want)
		}

		host.DeleteLink(t, created)
		waitFor(t, "deleted veth released", func() bool { return !slices.Contains(attachedIndexes(r.w), index) })
		if got, ok := r.w.Name(uint32(index)); !ok || got != "pfnew0" {
			t.Errorf("Name(%d) after deletion = %q, %v; want pfnew0, true", index, got, ok)
		}
		if got, want := r.w.Stats(), (Stats{Attached: 1, Attaches: 2, Detaches: 1}); got != want {
			t.Errorf("Stats() = %+v, want %+v", got, want)
		}

		r.stop(t)
		wantNoHooks(t, host, marker.Attrs().Index)
	})
}
