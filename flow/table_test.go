package flow

import (
	"fmt"
	"net/netip"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	tableEpoch = time.Unix(1_700_000_000, 0)
	tcpAB      = Tuple{SrcAddr: netip.MustParseAddr("10.0.0.1"), DstAddr: netip.MustParseAddr("10.0.0.2"), SrcPort: 40000, DstPort: 80, Proto: ProtoTCP}
	tcpBA      = tcpAB.Reverse()
	udpAB      = Tuple{SrcAddr: netip.MustParseAddr("10.0.0.1"), DstAddr: netip.MustParseAddr("10.0.0.3"), SrcPort: 5353, DstPort: 53, Proto: ProtoUDP}
	icmpEcho   = Tuple{SrcAddr: netip.MustParseAddr("fd00::1"), DstAddr: netip.MustParseAddr("fd00::2"), DstPort: 128 << 8, Proto: ProtoICMPv6}
)

func atMs(ms int) time.Time { return tableEpoch.Add(time.Duration(ms) * time.Millisecond) }

func obsKey(tu Tuple, ifIndex uint32, dir Direction) Key {
	return Key{Tuple: tu, IfIndex: ifIndex, Direction: dir}
}

// entryAt is one entry; octets are always 100 per packet so sums stay checkable.
func entryAt(k Key, pkts uint64, firstMs, lastMs int, flags uint16) Entry {
	return Entry{Key: k, Counters: Counters{Packets: pkts, Octets: 100 * pkts, First: atMs(firstMs), Last: atMs(lastMs), TCPFlags: flags}}
}

func recordOf(k Key, pkts uint64, firstMs, lastMs int, flags uint16, reason EndReason) Record {
	e := entryAt(k, pkts, firstMs, lastMs, flags)
	return Record{Key: e.Key, Counters: e.Counters, EndReason: reason}
}

func expireAt(t *testing.T, tbl *Table, ms int) []Record {
	t.Helper()
	return assertNoEmptyRecord(t, tbl.Expire(atMs(ms), nil))
}

func flushAll(t *testing.T, tbl *Table) []Record {
	t.Helper()
	return assertNoEmptyRecord(t, tbl.Flush(nil))
}

func assertNoEmptyRecord(t *testing.T, recs []Record) []Record {
	t.Helper()
	for _, r := range recs {
		if r.Packets == 0 {
			t.Errorf("empty record exported: %+v", r)
		}
	}
	return recs
}

// assertRecordsAnyOrder compares regardless of order.
func assertRecordsAnyOrder(t *testing.T, got []Record, want ...Record) {
	t.Helper()
	byText := func(a, b Record) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) }
	got, want = slices.Clone(got), slices.Clone(want)
	slices.SortFunc(got, byText)
	slices.SortFunc(want, byText)
	if !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Fatalf("records:\n got  %v\n want %v", got, want)
	}
}

func assertTableLen(t *testing.T, tbl *Table, want int) {
	t.Helper()
	if got := tbl.Len(); got != want {
		t.Fatalf("Len = %d, want %d", got, want)
	}
}

func TestIdleTimeout(t *testing.T) {
	tbl := NewTable(TableConfig{IdleTimeout: 10 * time.Second, ActiveTimeout: time.Minute})
	k := obsKey(udpAB, 1, Ingress)
	tbl.Update([]Entry{entryAt(k, 3, 0, 500, 0)})
	assertRecordsAnyOrder(t, expireAt(t, tbl, 10_499))
	prefix := []Record{{}}
	got := tbl.Expire(atMs(10_500), prefix)
	assertRecordsAnyOrder(t, got[1:], recordOf(k, 3, 0, 500, 0, IdleTimeout))
	assertTableLen(t, tbl, 0)
	if s := tbl.Stats(); s.FlowsCreated != 1 || s.RecordsByReason[IdleTimeout] != 1 || s.Flows != 0 {
		t.Fatalf("stats = %+v", s)
	}
}

// One long flow drained every second: each active-timeout export carries the
// delta since the previous one, and the deltas sum to the input exactly.
func TestActiveTimeoutDeltas(t *testing.T) {
	tbl := NewTable(TableConfig{ActiveTimeout: 10 * time.Second, IdleTimeout: 5 * time.Second})
	k := obsKey(tcpAB, 4, Egress)
	var got []Record
	var inPackets uint64
	for d := range 25 {
		tbl.Update([]Entry{entryAt(k, uint64(d+1), d*1000, d*1000+900, TCPAck)})
		inPackets += uint64(d + 1)
		got = append(got, expireAt(t, tbl, (d+1)*1000)...)
	}
	assertTableLen(t, tbl, 1)
	got = append(got, expireAt(t, tbl, 29_899)...)
	assertTableLen(t, tbl, 1)
	got = append(got, expireAt(t, tbl, 29_900)...)
	assertTableLen(t, tbl, 0)
	assertRecordsAnyOrder(t, got,
		recordOf(k, 55, 0, 9_900, TCPAck, ActiveTimeout),        // drains 0..9: 1+...+10
		recordOf(k, 155, 10_000, 19_900, TCPAck, ActiveTimeout), // drains 10..19
		recordOf(k, 115, 20_000, 24_900, TCPAck, IdleTimeout),   // drains 20..24
	)
	var outPackets, outOctets uint64
	for _, r := range got {
		outPackets += r.Packets
		outOctets += r.Octets
	}
	if outPackets != inPackets || outOctets != 100*inPackets {
		t.Fatalf("exported %d packets %d octets, fed %d packets", outPackets, outOctets, inPackets)
	}
}

// After an active-timeout export with nothing new, the flow leaves on idle
// timeout silently: there is nothing to report.
func TestActiveThenIdleExportsNothing(t *testing.T) {
	tbl := NewTable(TableConfig{ActiveTimeout: 10 * time.Second, IdleTimeout: 15 * time.Second})
	k := obsKey(icmpEcho, 2, Ingress)
	tbl.Update([]Entry{entryAt(k, 2, 0, 500, 0)})
	assertRecordsAnyOrder(t, expireAt(t, tbl, 10_000), recordOf(k, 2, 0, 500, 0, ActiveTimeout))
	assertRecordsAnyOrder(t, expireAt(t, tbl, 15_499))
	assertTableLen(t, tbl, 1)
	assertRecordsAnyOrder(t, expireAt(t, tbl, 15_500))
	assertTableLen(t, tbl, 0)
	if s := tbl.Stats(); s.RecordsByReason != [6]uint64{0, 0, 1, 0, 0, 0} {
		t.Fatalf("records by reason = %v", s.RecordsByReason)
	}
}

func TestEndOfFlowFinBothWays(t *testing.T) {
	tbl := NewTable(TableConfig{})
	ab, ba := obsKey(tcpAB, 3, Ingress), obsKey(tcpBA, 3, Egress)
	tbl.Update([]Entry{entryAt(ab, 5, 0, 400, TCPSyn|TCPAck|TCPFin), entryAt(ba, 4, 10, 390, TCPSyn|TCPAck)})
	assertRecordsAnyOrder(t, expireAt(t, tbl, 1_000)) // FIN one way only
	assertTableLen(t, tbl, 2)
	tbl.Update([]Entry{entryAt(ba, 2, 1_100, 1_200, TCPFin|TCPAck)})
	assertTableLen(t, tbl, 0)
	assertRecordsAnyOrder(t, expireAt(t, tbl, 2_000),
		recordOf(ab, 5, 0, 400, TCPSyn|TCPAck|TCPFin, EndOfFlow),
		recordOf(ba, 6, 10, 1_200, TCPSyn|TCPAck|TCPFin, EndOfFlow))
	// The last ACK after the drain boundary starts a new flow.
	tbl.Update([]Entry{entryAt(ab, 1, 2_100, 2_100, TCPAck)})
	assertTableLen(t, tbl, 1)
	if s := tbl.Stats(); s.FlowsCreated != 3 || s.RecordsByReason[EndOfFlow] != 2 {
		t.Fatalf("stats = %+v", s)
	}
}

// A direction whose FIN went out in an earlier active-timeout export still
// counts; with nothing pending it ends without a record.
func TestEndOfFlowAfterActiveExport(t *testing.T) {
	tbl := NewTable(TableConfig{ActiveTimeout: time.Second, IdleTimeout: time.Minute})
	ab, ba := obsKey(tcpAB, 3, Ingress), obsKey(tcpBA, 3, Egress)
	tbl.Update([]Entry{entryAt(ab, 2, 0, 100, TCPFin|TCPAck)})
	assertRecordsAnyOrder(t, expireAt(t, tbl, 1_000), recordOf(ab, 2, 0, 100, TCPFin|TCPAck, ActiveTimeout))
	tbl.Update([]Entry{entryAt(ba, 1, 1_500, 1_500, TCPFin|TCPAck)})
	assertRecordsAnyOrder(t, expireAt(t, tbl, 1_600), recordOf(ba, 1, 1_500, 1_500, TCPFin|TCPAck, EndOfFlow))
	assertTableLen(t, tbl, 0)
}

func TestEndOfFlowRst(t *testing.T) {
	tbl := NewTable(TableConfig{})
	ab, ba := obsKey(tcpAB, 3, Ingress), obsKey(tcpBA, 3, Egress)
	tbl.Update([]Entry{entryAt(ab, 3, 0, 200, TCPSyn|TCPAck), entryAt(ba, 2, 5, 150, TCPSyn|TCPAck)})
	assertRecordsAnyOrder(t, expireAt(t, tbl, 1_000))
	tbl.Update([]Entry{entryAt(ba, 1, 1_100, 1_100, TCPRst)})
	assertRecordsAnyOrder(t, expireAt(t, tbl, 2_000),
		recordOf(ab, 3, 0, 200, TCPSyn|TCPAck, EndOfFlow),
		recordOf(ba, 3, 5, 1_100, TCPSyn|TCPAck|TCPRst, EndOfFlow))
	assertTableLen(t, tbl, 0)
}

func TestFinOneDirectionDoesNotEnd(t *testing.T) {
	tbl := NewTable(TableConfig{IdleTimeout: 10 * time.Second, ActiveTimeout: time.Minute})
	ab, ba := obsKey(tcpAB, 3, Ingress), obsKey(tcpBA, 3, Egress)
	tbl.Update([]Entry{entryAt(ab, 2, 0, 100, TCPFin|TCPAck), entryAt(ba, 2, 0, 100, TCPAck)})
	tbl.Update([]Entry{entryAt(ab, 1, 1_000, 1_000, TCPFin|TCPAck), entryAt(ba, 1, 1_000, 1_000, TCPAck|TCPPsh)})
	assertRecordsAnyOrder(t, expireAt(t, tbl, 2_000))
	assertTableLen(t, tbl, 2)
	assertRecordsAnyOrder(t, expireAt(t, tbl, 11_000),
		recordOf(ab, 3, 0, 1_000, TCPFin|TCPAck, IdleTimeout),
		recordOf(ba, 3, 0, 1_000, TCPAck|TCPPsh, IdleTimeout))
}

func TestICMPNeverEndsOnFlags(t *testing.T) {
	tbl := NewTable(TableConfig{ActiveTimeout: 5 * time.Second, IdleTimeout: time.Minute})
	k := obsKey(icmpEcho, 1, Ingress)
	tbl.Update([]Entry{entryAt(k, 1, 0, 0, TCPRst|TCPFin)}) // nonsense flags must not end it
	assertRecordsAnyOrder(t, expireAt(t, tbl, 1_000))
	assertTableLen(t, tbl, 1)
	assertRecordsAnyOrder(t, expireAt(t, tbl, 5_000), recordOf(k, 1, 0, 0, TCPRst|TCPFin, ActiveTimeout))
}

// Flush exports every pending delta with ForcedEnd and, first, the records
// Update set aside.
func TestFlushForcedEnd(t *testing.T) {
	tbl := NewTable(TableConfig{ActiveTimeout: time.Second, IdleTimeout: time.Minute})
	quiet, busy := obsKey(udpAB, 1, Ingress), obsKey(icmpEcho, 1, Egress)
	reset := obsKey(tcpAB, 2, Ingress)
	tbl.Update([]Entry{entryAt(quiet, 1, 0, 0, 0), entryAt(busy, 1, 0, 0, 0)})
	assertRecordsAnyOrder(t, expireAt(t, tbl, 1_000), recordOf(quiet, 1, 0, 0, 0, ActiveTimeout), recordOf(busy, 1, 0, 0, 0, ActiveTimeout))
	tbl.Update([]Entry{entryAt(busy, 4, 1_100, 1_300, 0), entryAt(reset, 1, 1_200, 1_200, TCPRst)})
	assertRecordsAnyOrder(t, flushAll(t, tbl),
		recordOf(busy, 4, 1_100, 1_300, 0, ForcedEnd),
		recordOf(reset, 1, 1_200, 1_200, TCPRst, EndOfFlow))
	assertTableLen(t, tbl, 0)
	assertRecordsAnyOrder(t, flushAll(t, tbl))
}

func TestMaxFlowsLackOfResources(t *testing.T) {
	tbl := NewTable(TableConfig{MaxFlows: 2, IdleTimeout: 10 * time.Second, ActiveTimeout: time.Minute})
	udp := func(port uint16) Tuple { u := udpAB; u.SrcPort = port; return u }
	k1, k2, k3 := obsKey(udp(1), 1, Ingress), obsKey(udp(2), 1, Ingress), obsKey(udp(3), 1, Ingress)
	tbl.Update([]Entry{entryAt(k1, 1, 0, 0, 0), entryAt(k2, 1, 0, 0, 0), entryAt(k3, 2, 10, 20, 0), entryAt(k3, 1, 5, 15, 0)})
	assertRecordsAnyOrder(t, expireAt(t, tbl, 1_000), recordOf(k3, 3, 5, 20, 0, LackOfResources))
	assertTableLen(t, tbl, 2)
	tbl.Update([]Entry{entryAt(k1, 1, 1_000, 1_000, 0), entryAt(k3, 1, 1_000, 1_000, 0)})
	assertRecordsAnyOrder(t, expireAt(t, tbl, 2_000), recordOf(k3, 1, 1_000, 1_000, 0, LackOfResources))
	assertRecordsAnyOrder(t, expireAt(t, tbl, 10_000), recordOf(k2, 1, 0, 0, 0, IdleTimeout))
	tbl.Update([]Entry{entryAt(k3, 1, 10_500, 10_500, 0)})
	assertTableLen(t, tbl, 2)
	s := tbl.Stats()
	if s.OverMaxFlows != 2 || s.RecordsByReason[LackOfResources] != 2 || s.FlowsCreated != 3 {
		t.Fatalf("stats = %+v", s)
	}
}

// The same Key twice in one Update (CPUs not merged) is summed, in both modes.
func TestSameKeyTwiceSummed(t *testing.T) {
	for _, perInterface := range []bool{false, true} {
		tbl := NewTable(TableConfig{PerInterface: perInterface})
		k := obsKey(tcpAB, 1, Ingress)
		tbl.Update([]Entry{entryAt(k, 2, 100, 300, TCPSyn), entryAt(k, 0, 0, 0, 0), entryAt(k, 3, 50, 200, TCPAck)})
		assertRecordsAnyOrder(t, flushAll(t, tbl), recordOf(k, 5, 50, 300, TCPSyn|TCPAck, ForcedEnd))
	}
}

func TestZeroPacketEntryIgnored(t *testing.T) {
	tbl := NewTable(TableConfig{})
	tbl.Update([]Entry{entryAt(obsKey(udpAB, 1, Ingress), 0, 0, 0, 0)})
	assertTableLen(t, tbl, 0)
	if s := tbl.Stats(); s.FlowsCreated != 0 {
		t.Fatalf("stats = %+v", s)
	}
}

// benchEntries returns n entries of n distinct flows (one observation point).
func benchEntries(n int) []Entry {
	entries := make([]Entry, n)
	for i := range entries {
		tu := Tuple{
			SrcAddr: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}),
			DstAddr: netip.AddrFrom4([4]byte{10, 255, 0, 1}),
			SrcPort: uint16(i), DstPort: 443, Proto: ProtoTCP,
		}
		entries[i] = entryAt(obsKey(tu, 3, Ingress), 10, 0, 900, TCPAck)
	}
	return entries
}

// bytesPerFlow measures the heap a table holds per flow: heap after filling
// minus heap before, over n. Not a test: benchmarks report it.
func bytesPerFlow(n int, perInterface bool) float64 {
	entries := benchEntries(n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	tbl := NewTable(TableConfig{PerInterface: perInterface})
	tbl.Update(entries)
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(tbl)
	runtime.KeepAlive(entries)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}

// BenchmarkTableUpdate: "steady" folds one drain of n existing flows (the
// common case, allocation-free); "fill" builds a table of n new flows, so its
// B/op over n is the allocation cost of a flow, slab and map growth included.
func BenchmarkTableUpdate(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		entries := benchEntries(n)
		b.Run(fmt.Sprintf("steady/flows=%d", n), func(b *testing.B) {
			tbl := NewTable(TableConfig{})
			tbl.Update(entries)
			b.ReportAllocs()
			for b.Loop() {
				tbl.Update(entries)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/entry")
		})
		b.Run(fmt.Sprintf("fill/flows=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				NewTable(TableConfig{}).Update(entries)
			}
			b.ReportMetric(bytesPerFlow(n, false), "heapB/flow")
		})
	}
}

// BenchmarkTableExpire is the O(all flows) scan when nothing is due.
func BenchmarkTableExpire(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("flows=%d", n), func(b *testing.B) {
			tbl := NewTable(TableConfig{})
			tbl.Update(benchEntries(n))
			b.ReportAllocs()
			for b.Loop() {
				tbl.Expire(atMs(1_000), nil)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/flow")
		})
	}
}
