package bpf

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/privtest"
)

// The tracepoints see every namespace of the machine, and the filtered
// counter must count this test's measurements only: no other test uses
// the denied addresses, and the denied port lies below the ephemeral
// range, so no socket of this machine picks it by chance.
var (
	loDenied4, loKept4 = netip.MustParseAddr("198.18.251.2"), netip.MustParseAddr("198.18.251.3")
	loDenied6, loKept6 = netip.MustParseAddr("fd00:f17e::2"), netip.MustParseAddr("fd00:f17e::3")
	tunLocal           = netip.MustParseAddr("198.18.252.1")
	tunDenied, tunKept = netip.MustParseAddr("198.18.252.2"), netip.MustParseAddr("198.18.252.3")
	eventsFilter       = Filter{
		DenyCIDRs: prefixes(loDenied4.String()+"/32", loDenied6.String()+"/128", tunDenied.String()+"/32"),
		DenyPorts: []PortRange{{deniedPort, deniedPort}},
	}
)

const deniedPort = 31999

// excludedByEventsFilter is eventsFilter's decision for a tuple.
func excludedByEventsFilter(tu flow.Tuple) bool {
	for _, a := range []netip.Addr{tu.SrcAddr, tu.DstAddr} {
		if a == loDenied4 || a == loDenied6 || a == tunDenied {
			return true
		}
	}
	ports := tu.Proto == flow.ProtoTCP || tu.Proto == flow.ProtoUDP
	return ports && (tu.SrcPort == deniedPort || tu.DstPort == deniedPort)
}

// openFilteredEvents loads the TC programs with f and the RTT, retransmit
// and drop tracepoints twice: filtered as the TC programs are, and
// unfiltered, as the reference of what the filtered ones would have
// measured.
func openFilteredEvents(t *testing.T, f Filter) (objs *Objects, filtered, reference *Events) {
	t.Helper()
	privtest.Require(t)
	objs, err := Load(LoadOptions{MaxFlows: 1024, Filter: f})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { objs.Close() })
	for _, filter := range []*LoadedFilter{objs.Filter(), nil} {
		ev, err := OpenEvents(EventOptions{MaxTuples: 4096, RTT: true, Retransmits: true, Drops: true, Filter: filter})
		if err != nil {
			t.Fatalf("open events (filtered: %v): %v", filter != nil, err)
		}
		t.Cleanup(func() { ev.Close() })
		if filtered == nil {
			filtered = ev
		} else {
			reference = ev
		}
	}
	return objs, filtered, reference
}

// One function fills the filter of both objects: every constant the
// tracepoints get is the one the TC programs get, byte for byte.
func TestFilterAppliedAlikeToBothObjects(t *testing.T) {
	k, err := (&Filter{AllowCIDRs: prefixes("10.0.0.0/8"), DenyCIDRs: prefixes("10.1.0.0/16", "fd00::/8"),
		DenyProtocols: []uint8{1}, AllowPorts: []PortRange{{1, 1023}}, DenyPorts: []PortRange{{22, 22}}}).compile()
	if err != nil {
		t.Fatal(err)
	}
	flowSpec, err := LoadFlow()
	if err != nil {
		t.Fatal(err)
	}
	eventsSpec, err := LoadEvents()
	if err != nil {
		t.Fatal(err)
	}
	if err := k.apply(flowSpec); err != nil {
		t.Fatalf("flow: %v", err)
	}
	if err := k.apply(eventsSpec); err != nil {
		t.Fatalf("events: %v", err)
	}
	for _, name := range []string{EventsVarFilterCidrs, EventsVarFilterProtos, EventsVarProtoExcluded,
		EventsVarFilterPorts, EventsVarPortAllowed, EventsVarPortDenied} {
		fv, ev := flowSpec.Variables[name], eventsSpec.Variables[name]
		if fv == nil || ev == nil {
			t.Fatalf("%s: in flow %v, in events %v", name, fv != nil, ev != nil)
		}
		fb, eb := make([]byte, fv.Size()), make([]byte, ev.Size())
		if err := fv.Get(fb); err != nil {
			t.Fatal(err)
		}
		if err := ev.Get(eb); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(fb, eb) || bytes.Equal(fb, make([]byte, len(fb))) {
			t.Errorf("%s: flow %x, events %x (want equal, not zero)", name, fb, eb)
		}
	}
	ft, et := flowSpec.Maps[FlowMapFilterCidr], eventsSpec.Maps[EventsMapFilterCidr]
	if ft.MaxEntries != 3 || et.MaxEntries != 3 || len(ft.Contents) != 3 {
		t.Errorf("trie: flow %d max entries %d rules, events %d max entries; want 3", ft.MaxEntries, len(ft.Contents), et.MaxEntries)
	}
}

// The tracepoints look addresses up in the TC programs' trie itself, one
// kernel map: a rule the TC programs' trie loses at run time is gone from
// theirs.
func TestEventsShareTheTCProgramsTrie(t *testing.T) {
	objs, filtered, reference := openFilteredEvents(t, eventsFilter)
	if tc, tp := mapID(t, objs.FilterCidr), mapID(t, filtered.FilterCidr); tc != tp {
		t.Fatalf("the TC programs' trie is map %d, the tracepoints' map %d", tc, tp)
	}
	if mapID(t, reference.FilterCidr) == mapID(t, objs.FilterCidr) {
		t.Fatal("unfiltered tracepoints use the TC programs' trie")
	}
	rule := cidrKey(netip.PrefixFrom(tunDenied, 32))
	var action uint8
	if err := filtered.FilterCidr.Lookup(rule, &action); err != nil || action != filterDeny {
		t.Fatalf("tracepoints' trie: %v holds %d, %v; want deny", tunDenied, action, err)
	}
	if err := objs.FilterCidr.Delete(rule); err != nil {
		t.Fatal(err)
	}
	if err := filtered.FilterCidr.Lookup(rule, &action); !errors.Is(err, ebpf.ErrKeyNotExist) {
		t.Fatalf("rule deleted from the TC programs' trie: tracepoints' lookup gives %d, %v", action, err)
	}
}

func mapID(t *testing.T, m *ebpf.Map) ebpf.MapID {
	t.Helper()
	info, err := m.Info()
	if err != nil {
		t.Fatal(err)
	}
	id, ok := info.ID()
	if !ok {
		t.Fatal("the kernel gives no map IDs")
	}
	return id
}
