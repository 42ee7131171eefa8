package attach

import (
	"slices"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/podflow/podflow/internal/netnstest"
)

func addClsact(t *testing.T, ns *netnstest.Netns, ifindex int) {
	t.Helper()
	err := ns.Netlink.QdiscAdd(&netlink.Clsact{QdiscAttrs: netlink.QdiscAttrs{
		LinkIndex: ifindex, Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT,
	}})
	if err != nil {
		t.Fatalf("add clsact to ifindex %d: %v", ifindex, err)
	}
}

// addFilter adds a direct-action cls_bpf filter as another tool would.
func addFilter(t *testing.T, ns *netnstest.Netns, ifindex int, parent uint32, prio uint16, name string, prog *ebpf.Program) {
	t.Helper()
	err := ns.Netlink.FilterAdd(&netlink.BpfFilter{
		FilterAttrs: netlink.FilterAttrs{
			LinkIndex: ifindex, Parent: parent, Handle: 1, Priority: prio, Protocol: unix.ETH_P_ALL,
		},
		Fd: prog.FD(), Name: name, DirectAction: true,
	})
	if err != nil {
		t.Fatalf("add filter %s to ifindex %d: %v", name, ifindex, err)
	}
}

func wantFilters(t *testing.T, ns *netnstest.Netns, ifindex int, parent uint32, want ...tcFilter) {
	t.Helper()
	if want == nil {
		want = []tcFilter{}
	}
	if got := tcFilters(t, ns, ifindex, parent); !slices.Equal(got, want) {
		t.Errorf("filters of ifindex %d under %x = %+v, want %+v", ifindex, parent, got, want)
	}
}

// The tc path only adds: an existing qdisc and foreign filters survive
// podflow, a filter a crashed podflow left is replaced, a foreign filter
// in podflow's slot is refused, and a clsact podflow created is removed
// only if nobody else put a filter on it.
func TestKernelNetlinkLeavesOthersAlone(t *testing.T) {
	netnstest.RequirePrivileged(t)
	k := loadTestKernel(t)
	host, pod := netnstest.New(t), netnstest.New(t)
	cni, stale := passProgram(t), passProgram(t)
	cniID, inID, egID := int(programID(t, cni)), int(programID(t, k.progs.IngressL2)), int(programID(t, k.progs.EgressL2))
	const ingress, egress = netlink.HANDLE_MIN_INGRESS, netlink.HANDLE_MIN_EGRESS

	// shared: a CNI's clsact and filter, plus a stale podflow filter.
	shared, _ := host.AddVethPair(t, "pfshared0", "eth0", pod)
	sharedIdx := shared.Attrs().Index
	addClsact(t, host, sharedIdx)
	addFilter(t, host, sharedIdx, ingress, 1, "cni-ingress", cni)
	addFilter(t, host, sharedIdx, egress, filterPriority, "podflow-egress", stale)
	// alone: nothing on it; podflow creates clsact and must remove it.
	alone, _ := host.AddVethPair(t, "pfalone0", "eth1", pod)
	aloneIdx := alone.Attrs().Index
	aloneQdiscs := qdiscKinds(t, host, aloneIdx)
	// late: podflow creates clsact, then a CNI adds a filter to it.
	late, _ := host.AddVethPair(t, "pflate0", "eth2", pod)
	lateIdx := late.Attrs().Index
	// taken: a foreign filter sits in podflow's priority and handle.
	taken, _ := host.AddVethPair(t, "pftaken0", "eth3", pod)
	takenIdx := taken.Attrs().Index
	addClsact(t, host, takenIdx)
	addFilter(t, host, takenIdx, ingress, filterPriority, "cni-ingress", cni)

	r := startKernelWatcher(t, host, Config{Veth: true, ForceNetlink: true}, k.progs)
	want := []Interface{
		{Index: sharedIdx, Name: "pfshared0", Kind: "veth", L2: true, Method: MethodNetlink},
		{Index: aloneIdx, Name: "pfalone0", Kind: "veth", L2: true, Method: MethodNetlink},
		{Index: lateIdx, Name: "pflate0", Kind: "veth", L2: true, Method: MethodNetlink},
	}
	if got := r.w.Attached(); !slices.Equal(got, want) {
		t.Fatalf("Attached() = %+v, want %+v", got, want)
	}
	if got, want := r.w.Stats(), (Stats{Attached: 3, Attaches: 3, AttachErrors: 1}); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
	wantFilters(t, host, sharedIdx, ingress, tcFilter{1, 1, "cni-ingress", cniID}, tcFilter{filterPriority, 1, "podflow-ingress", inID})
	wantFilters(t, host, sharedIdx, egress, tcFilter{filterPriority, 1, "podflow-egress", egID}) // the stale one replaced
	wantFilters(t, host, aloneIdx, ingress, tcFilter{filterPriority, 1, "podflow-ingress", inID})
	wantFilters(t, host, takenIdx, ingress, tcFilter{filterPriority, 1, "cni-ingress", cniID})
	wantFilters(t, host, takenIdx, egress) // all or nothing: no podflow egress either
	addFilter(t, host, lateIdx, egress, 1, "cni-egress", cni)

	r.stop(t)
	wantFilters(t, host, sharedIdx, ingress, tcFilter{1, 1, "cni-ingress", cniID})
	wantFilters(t, host, sharedIdx, egress)
	if got := qdiscKinds(t, host, sharedIdx); !slices.Contains(got, "clsact") {
		t.Errorf("qdiscs of the CNI's link after stop = %v, want its clsact kept", got)
	}
	wantFilters(t, host, aloneIdx, ingress)
	wantFilters(t, host, aloneIdx, egress)
	if got := qdiscKinds(t, host, aloneIdx); !slices.Equal(got, aloneQdiscs) {
		t.Errorf("qdiscs of the untouched link after stop = %v, want %v as before", got, aloneQdiscs)
	}
	wantFilters(t, host, lateIdx, ingress)
	wantFilters(t, host, lateIdx, egress, tcFilter{1, 1, "cni-egress", cniID})
	if got := qdiscKinds(t, host, lateIdx); !slices.Contains(got, "clsact") {
		t.Errorf("qdiscs of the link a CNI joined after stop = %v, want clsact kept", got)
	}
	wantFilters(t, host, takenIdx, ingress, tcFilter{filterPriority, 1, "cni-ingress", cniID})
}
