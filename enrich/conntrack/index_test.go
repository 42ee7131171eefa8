package conntrack

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	ct "github.com/ti-mo/conntrack"

	"github.com/podflow/podflow/flow"
)

// tuple parses "tcp 10.0.1.2:40000 10.96.0.10:80".
func tuple(t testing.TB, s string) flow.Tuple {
	t.Helper()
	f := strings.Fields(s)
	protos := map[string]uint8{"tcp": flow.ProtoTCP, "udp": flow.ProtoUDP, "icmp": flow.ProtoICMP}
	src, dst := netip.MustParseAddrPort(f[1]), netip.MustParseAddrPort(f[2])
	return flow.Tuple{SrcAddr: src.Addr(), SrcPort: src.Port(), DstAddr: dst.Addr(), DstPort: dst.Port(), Proto: protos[f[0]]}
}

func ctTuple(t flow.Tuple) ct.Tuple {
	return ct.Tuple{
		IP:    ct.IPTuple{SourceAddress: t.SrcAddr, DestinationAddress: t.DstAddr},
		Proto: ct.ProtoTuple{Protocol: t.Proto, SourcePort: t.SrcPort, DestinationPort: t.DstPort},
	}
}

func ctFlow(id uint32, orig, reply flow.Tuple) *ct.Flow {
	return &ct.Flow{ID: id, TupleOrig: ctTuple(orig), TupleReply: ctTuple(reply)}
}

// fakeTable is a Table whose clock the test moves.
func fakeTable(cfg Config) (*Table, *int64) {
	tb := New(cfg)
	var now int64
	tb.now = func() int64 { return now }
	return tb, &now
}

func event(typ ct.Event, f *ct.Flow) ct.Event { typ.Flow = f; return typ }

var (
	evNew     = ct.Event{Type: ct.EventNew}
	evUpdate  = ct.Event{Type: ct.EventUpdate}
	evDestroy = ct.Event{Type: ct.EventDestroy}
)

func mustLookup(t *testing.T, tb *Table, tu flow.Tuple, want NAT) {
	t.Helper()
	got, ok := tb.Lookup(tu)
	if !ok || got != want {
		t.Errorf("Lookup(%v) = %+v, %v; want %+v, true", tu, got, ok, want)
	}
}

func mustMiss(t *testing.T, tb *Table, tu flow.Tuple) {
	t.Helper()
	if got, ok := tb.Lookup(tu); ok {
		t.Errorf("Lookup(%v) = %+v, want a miss", tu, got)
	}
}

func nat(src, dst string, kind Kind, reply bool) NAT {
	s, d := netip.MustParseAddrPort(src), netip.MustParseAddrPort(dst)
	return NAT{SrcAddr: s.Addr(), SrcPort: s.Port(), DstAddr: d.Addr(), DstPort: d.Port(), Kind: kind, Reply: reply}
}

// A connection DNAT'ed and SNAT'ed answers for all four tuples its packets
// can carry, each with the other side of the translation.
func TestLookupAllFourTuplesOfOneConnection(t *testing.T) {
	tb, _ := fakeTable(Config{})
	orig := tuple(t, "tcp 10.0.1.2:40000 10.96.0.10:80")
	reply := tuple(t, "tcp 10.0.2.2:8080 10.0.2.1:61000")
	tb.applyEvents([]ct.Event{event(evNew, ctFlow(7, orig, reply))})

	mustLookup(t, tb, orig, nat("10.0.2.1:61000", "10.0.2.2:8080", PostNAT, false))
	mustLookup(t, tb, reply, nat("10.96.0.10:80", "10.0.1.2:40000", PostNAT, true))
	mustLookup(t, tb, tuple(t, "tcp 10.0.2.1:61000 10.0.2.2:8080"), nat("10.0.1.2:40000", "10.96.0.10:80", PreNAT, false))
	mustLookup(t, tb, tuple(t, "tcp 10.96.0.10:80 10.0.1.2:40000"), nat("10.0.2.2:8080", "10.0.2.1:61000", PreNAT, true))
	mustMiss(t, tb, tuple(t, "udp 10.0.1.2:40000 10.96.0.10:80"))
	mustMiss(t, tb, tuple(t, "tcp 10.0.1.2:40001 10.96.0.10:80"))
	if s := tb.Stats(); s.Entries != 1 || s.Events != 1 || s.Hits != 4 || s.Misses != 2 {
		t.Errorf("stats = %+v, want 1 entry, 1 event, 4 hits, 2 misses", s)
	}
}

// Connections without translation, and ICMP (whose echo ID flow.Tuple
// drops), are not held.
func TestUntranslatedAndICMPAreNotHeld(t *testing.T) {
	tb, _ := fakeTable(Config{})
	plain := tuple(t, "udp 10.0.1.2:5000 10.0.2.2:53")
	icmpOrig := tuple(t, "icmp 10.0.1.2:0 10.96.0.10:2048")
	tb.applyEvents([]ct.Event{
		event(evNew, ctFlow(1, plain, invert(plain))),
		event(evNew, ctFlow(2, icmpOrig, tuple(t, "icmp 10.0.2.2:0 10.0.1.2:0"))),
	})
	mustMiss(t, tb, plain)
	mustMiss(t, tb, icmpOrig)
	if s := tb.Stats(); s.Entries != 0 || s.Events != 2 {
		t.Errorf("stats = %+v, want 0 entries after 2 events", s)
	}
}

func TestIPv6Entry(t *testing.T) {
	tb, _ := fakeTable(Config{})
	orig := tuple(t, "tcp [fd00:1::2]:40000 [fd00:96::10]:80")
	reply := tuple(t, "tcp [fd00:2::2]:8080 [fd00:1::2]:40000")
	tb.applyEvents([]ct.Event{event(evNew, ctFlow(3, orig, reply))})
	mustLookup(t, tb, orig, nat("[fd00:1::2]:40000", "[fd00:2::2]:8080", PostNAT, false))
	// The same bytes as a v4-mapped IPv4 flow are another flow.
	mustMiss(t, tb, tuple(t, "tcp [::ffff:10.0.1.2]:40000 [::ffff:10.96.0.10]:80"))
}

// After DESTROY an entry answers for exactly Grace, then expires; a new
// connection reusing the tuple replaces it at once.
func TestGracePeriodAfterDestroy(t *testing.T) {
	grace := 30 * time.Second
	tb, now := fakeTable(Config{Grace: grace})
	orig := tuple(t, "tcp 10.0.1.2:40000 10.96.0.10:80")
	reply := tuple(t, "tcp 10.0.2.2:8080 10.0.1.2:40000")
	want := nat("10.0.1.2:40000", "10.0.2.2:8080", PostNAT, false)
	tb.applyEvents([]ct.Event{event(evNew, ctFlow(9, orig, reply))})
	*now = int64(time.Second)
	tb.applyEvents([]ct.Event{event(evDestroy, ctFlow(9, orig, reply))})
	if s := tb.Stats(); s.Entries != 1 || s.InGrace != 1 {
		t.Fatalf("after DESTROY: %+v, want 1 entry in grace", s)
	}
	*now = int64(time.Second + grace - 1)
	mustLookup(t, tb, orig, want)
	*now = int64(time.Second + grace)
	mustMiss(t, tb, orig) // Lookup honours the deadline before the ticker expires it
	tb.expire()
	if s := tb.Stats(); s.Entries != 0 || s.InGrace != 0 || len(tb.idx.slots) != 0 {
		t.Errorf("after expiry: %+v, %d slots; want none", s, len(tb.idx.slots))
	}

	// DESTROY of another conntrack ID does not end the connection held.
	tb.applyEvents([]ct.Event{event(evNew, ctFlow(10, orig, reply)), event(evDestroy, ctFlow(11, orig, reply))})
	if s := tb.Stats(); s.InGrace != 0 {
		t.Errorf("DESTROY of a foreign ID ended the entry: %+v", s)
	}
	// A new connection with the tuple of one in grace replaces it.
	tb.applyEvents([]ct.Event{event(evDestroy, ctFlow(10, orig, reply))})
	reply2 := tuple(t, "tcp 10.0.2.3:8080 10.0.1.2:40000")
	tb.applyEvents([]ct.Event{event(evNew, ctFlow(12, orig, reply2))})
	*now += int64(10 * grace)
	mustLookup(t, tb, orig, nat("10.0.1.2:40000", "10.0.2.3:8080", PostNAT, false))
	tb.expire()
	if s := tb.Stats(); s.Entries != 1 || s.InGrace != 0 {
		t.Errorf("after replacing an ended entry: %+v, want 1 live entry", s)
	}
}

func TestMaxEntriesDropsAndCounts(t *testing.T) {
	tb, _ := fakeTable(Config{MaxEntries: 2})
	var evs []ct.Event
	for port := uint16(1); port <= 3; port++ {
		orig := flow.Tuple{SrcAddr: netip.MustParseAddr("10.0.1.2"), DstAddr: netip.MustParseAddr("10.96.0.10"), SrcPort: port, DstPort: 80, Proto: flow.ProtoTCP}
		reply := flow.Tuple{SrcAddr: netip.MustParseAddr("10.0.2.2"), DstAddr: orig.SrcAddr, SrcPort: 8080, DstPort: port, Proto: flow.ProtoTCP}
		evs = append(evs, event(evNew, ctFlow(uint32(port), orig, reply)))
	}
	evs = append(evs, event(evUpdate, evs[0].Flow)) // refreshing a held one still fits
	tb.applyEvents(evs)
	if s := tb.Stats(); s.Entries != 2 || s.Dropped != 1 {
		t.Errorf("stats = %+v, want 2 entries, 1 dropped", s)
	}
	mustMiss(t, tb, tupleOf(evs[2].Flow.TupleOrig))
}

// A resync dump keeps ended entries in grace, starts the grace of live
// entries the dump lacks (their DESTROY was lost), and takes the dump's
// connections as live.
func TestRebuildFromDump(t *testing.T) {
	grace := 30 * time.Second
	tb, now := fakeTable(Config{Grace: grace})
	ended := ctFlow(1, tuple(t, "tcp 10.0.1.2:1 10.96.0.10:80"), tuple(t, "tcp 10.0.2.2:8080 10.0.1.2:1"))
	vanished := ctFlow(2, tuple(t, "tcp 10.0.1.2:2 10.96.0.10:80"), tuple(t, "tcp 10.0.2.2:8080 10.0.1.2:2"))
	kept := ctFlow(3, tuple(t, "tcp 10.0.1.2:3 10.96.0.10:80"), tuple(t, "tcp 10.0.2.2:8080 10.0.1.2:3"))
	missed := ctFlow(4, tuple(t, "udp 10.0.1.2:4 10.96.0.10:53"), tuple(t, "udp 10.0.2.2:5353 10.0.1.2:4"))
	tb.applyEvents([]ct.Event{event(evNew, ended), event(evNew, vanished), event(evNew, kept), event(evDestroy, ended)})

	*now = int64(10 * time.Second)
	old := tb.idx
	tb.replaceLocked([]ct.Flow{*kept, *missed})
	if s := tb.Stats(); s.Entries != 4 || s.InGrace != 2 {
		t.Errorf("after rebuild: %+v, want 4 entries, 2 in grace", s)
	}
	if old.entries[keyOf(tupleOf(vanished.TupleOrig))].expiresAt != 0 {
		t.Error("rebuild mutated the old index readers may still use")
	}
	*now = int64(grace) // ended's grace (from t=0) is over, vanished's (from t=10s) is not
	mustMiss(t, tb, tupleOf(ended.TupleOrig))
	for _, f := range []*ct.Flow{vanished, kept, missed} {
		if _, ok := tb.Lookup(tupleOf(f.TupleOrig)); !ok {
			t.Errorf("flow %d lost by the rebuild", f.ID)
		}
	}
	*now = int64(10*time.Second + grace)
	tb.expire()
	mustMiss(t, tb, tupleOf(vanished.TupleOrig))
	if s := tb.Stats(); s.Entries != 2 || s.InGrace != 0 {
		t.Errorf("after expiry: %+v, want the 2 dumped entries", s)
	}
}

func TestLookupDoesNotAllocate(t *testing.T) {
	tb, _ := fakeTable(Config{})
	orig := tuple(t, "tcp [fd00:1::2]:40000 [fd00:96::10]:80")
	tb.applyEvents([]ct.Event{event(evNew, ctFlow(1, orig, tuple(t, "tcp [fd00:2::2]:8080 [fd00:1::2]:40000")))})
	miss := tuple(t, "tcp 10.0.1.2:1 10.0.0.1:2")
	if n := testing.AllocsPerRun(1000, func() { tb.Lookup(orig); tb.Lookup(miss) }); n != 0 {
		t.Errorf("Lookup allocates %v times per call pair", n)
	}
}

func TestEnrichSetsPostNATOnly(t *testing.T) {
	tb, _ := fakeTable(Config{})
	orig := tuple(t, "tcp 10.0.1.2:40000 10.96.0.10:80")
	reply := tuple(t, "tcp 10.0.2.2:8080 10.0.1.2:40000")
	tb.applyEvents([]ct.Event{event(evNew, ctFlow(1, orig, reply))})
	recs := []flow.Record{{Key: flow.Key{Tuple: orig}}, {Key: flow.Key{Tuple: invert(reply)}}, {Key: flow.Key{Tuple: reply}}}
	tb.Enrich(recs)
	want := []flow.NAT{
		{SrcAddr: orig.SrcAddr, SrcPort: 40000, DstAddr: reply.SrcAddr, DstPort: 8080},
		{},
		{SrcAddr: orig.DstAddr, SrcPort: 80, DstAddr: orig.SrcAddr, DstPort: 40000},
	}
	for i, r := range recs {
		if r.Context.NAT != want[i] {
			t.Errorf("record %d NAT = %+v, want %+v", i, r.Context.NAT, want[i])
		}
	}
}
