package attach

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"go.uber.org/zap/zaptest"

	"github.com/podflow/podflow/internal/netnstest"
)

// Slots of the test counter map, one per program.
const (
	slotIngressL2 = iota
	slotEgressL2
	slotIngressL3
	slotEgressL3
	numSlots
)

// testKernel holds tiny real programs: each counts the packets it sees in
// its slot of an array map and returns TC_ACT_UNSPEC / TCX_NEXT (-1).
type testKernel struct {
	counters *ebpf.Map
	progs    Programs
}

func loadTestKernel(t *testing.T) *testKernel {
	t.Helper()
	counters, err := ebpf.NewMap(&ebpf.MapSpec{
		Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: numSlots,
	})
	if err != nil {
		t.Fatalf("create counter map: %v", err)
	}
	t.Cleanup(func() { counters.Close() })
	k := &testKernel{counters: counters}
	k.progs = Programs{
		IngressL2: countingProgram(t, counters, slotIngressL2),
		EgressL2:  countingProgram(t, counters, slotEgressL2),
		IngressL3: countingProgram(t, counters, slotIngressL3),
		EgressL3:  countingProgram(t, counters, slotEgressL3),
	}
	return k
}

func countingProgram(t *testing.T, counters *ebpf.Map, slot uint32) *ebpf.Program {
	t.Helper()
	return loadProgram(t, asm.Instructions{
		asm.StoreImm(asm.RFP, -4, int64(slot), asm.Word), // key on the stack
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -4),
		asm.LoadMapPtr(asm.R1, counters.FD()),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "out"),
		asm.Mov.Imm(asm.R1, 1),
		asm.StoreXAdd(asm.R0, asm.R1, asm.DWord),
		asm.Mov.Imm(asm.R0, -1).WithSymbol("out"), // TC_ACT_UNSPEC == TCX_NEXT
		asm.Return(),
	})
}

// passProgram returns TC_ACT_UNSPEC and does nothing else: a stand-in for
// a CNI's program.
func passProgram(t *testing.T) *ebpf.Program {
	t.Helper()
	return loadProgram(t, asm.Instructions{asm.Mov.Imm(asm.R0, -1), asm.Return()})
}

func loadProgram(t *testing.T, insns asm.Instructions) *ebpf.Program {
	t.Helper()
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type: ebpf.SchedCLS, License: "MIT", Instructions: insns,
	})
	if err != nil {
		t.Fatalf("load program: %v", err)
	}
	t.Cleanup(func() { prog.Close() })
	return prog
}

func (k *testKernel) count(t *testing.T, slot uint32) uint64 {
	t.Helper()
	var v uint64
	if err := k.counters.Lookup(slot, &v); err != nil {
		t.Fatalf("read counter %d: %v", slot, err)
	}
	return v
}

func programID(t *testing.T, prog *ebpf.Program) ebpf.ProgramID {
	t.Helper()
	info, err := prog.Info()
	if err != nil {
		t.Fatalf("program info: %v", err)
	}
	id, ok := info.ID()
	if !ok {
		t.Fatal("kernel reports no program ID")
	}
	return id
}

// tcxPrograms lists the programs attached to a TCX hook of a link in ns.
func tcxPrograms(t *testing.T, ns *netnstest.Netns, ifindex int, attach ebpf.AttachType) []ebpf.ProgramID {
	t.Helper()
	var ids []ebpf.ProgramID
	err := ns.Do(func() error {
		res, err := link.QueryPrograms(link.QueryOptions{Target: ifindex, Attach: attach})
		if err != nil {
			return err
		}
		for _, p := range res.Programs {
			ids = append(ids, p.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("query TCX programs of ifindex %d: %v", ifindex, err)
	}
	return ids
}

// wantTCX asserts the exact programs on both TCX hooks of a link.
func wantTCX(t *testing.T, ns *netnstest.Netns, ifindex int, ingress, egress []ebpf.ProgramID) {
	t.Helper()
	if got := tcxPrograms(t, ns, ifindex, ebpf.AttachTCXIngress); !slices.Equal(got, ingress) {
		t.Errorf("TCX ingress programs of ifindex %d = %v, want %v", ifindex, got, ingress)
	}
	if got := tcxPrograms(t, ns, ifindex, ebpf.AttachTCXEgress); !slices.Equal(got, egress) {
		t.Errorf("TCX egress programs of ifindex %d = %v, want %v", ifindex, got, egress)
	}
}

// tcFilter is what the tests compare of a tc filter.
type tcFilter struct {
	Priority uint16
	Handle   uint32
	Name     string
	ProgID   int
}

func tcFilters(t *testing.T, ns *netnstest.Netns, ifindex int, parent uint32) []tcFilter {
	t.Helper()
	filters, err := ns.Netlink.FilterList(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: ifindex}}, parent)
	if err != nil {
		t.Fatalf("list filters of ifindex %d: %v", ifindex, err)
	}
	out := []tcFilter{}
	for _, f := range filters {
		bpf, ok := f.(*netlink.BpfFilter)
		if !ok {
			t.Fatalf("unexpected %s filter on ifindex %d", f.Type(), ifindex)
		}
		out = append(out, tcFilter{bpf.Priority, bpf.Handle, bpf.Name, bpf.Id})
	}
	slices.SortFunc(out, func(a, b tcFilter) int { return int(a.Priority) - int(b.Priority) })
	return out
}

func qdiscKinds(t *testing.T, ns *netnstest.Netns, ifindex int) []string {
	t.Helper()
	qdiscs, err := ns.Netlink.QdiscList(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: ifindex}})
	if err != nil {
		t.Fatalf("list qdiscs of ifindex %d: %v", ifindex, err)
	}
	var kinds []string
	for _, q := range qdiscs {
		kinds = append(kinds, q.Type())
	}
	slices.Sort(kinds)
	return kinds
}

// runningWatcher is a real watcher running in a test namespace.
type runningWatcher struct {
	w      *Watcher
	cancel context.CancelFunc
	done   chan error
}

func startKernelWatcher(t *testing.T, host *netnstest.Netns, cfg Config, progs Programs) *runningWatcher {
	t.Helper()
	log := zaptest.NewLogger(t)
	src, err := NewNetlinkSourceAt(host.Handle, log)
	if err != nil {
		t.Fatalf("netlink source: %v", err)
	}
	t.Cleanup(src.Close)
	cfg.Netns = &host.Handle
	w, err := NewWatcher(cfg, progs, src, log)
	if err != nil {
		t.Fatalf("NewWatcher: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningWatcher{w: w, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- w.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	select {
	case <-w.Ready():
	case err := <-r.done:
		t.Fatalf("Run returned before ready: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("watcher not ready after 10s")
	}
	return r
}

// stop cancels Run and asserts it returned nil; safe to call twice.
func (r *runningWatcher) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok && err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
		if ok {
			close(r.done)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return 10s after cancel")
	}
}

// waitFor polls cond until it holds, failing after 5s: a deadline, not an
// assertion on how long it takes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("%s: not true after 5s", what)
		case <-tick.C:
		}
	}
}

func attachedIndexes(w *Watcher) []int {
	var out []int
	for _, i := range w.Attached() {
		out = append(out, i.Index)
	}
	return out
}
