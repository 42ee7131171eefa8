package flow

import (
	"testing"
	"time"
)

// pod A → pod B through a bridge: A→B is seen on veth A ingress (3) then veth
// B egress (7); B→A on veth B ingress then veth A egress.
var (
	abAtA, abAtB = obsKey(tcpAB, 3, Ingress), obsKey(tcpAB, 7, Egress)
	baAtB, baAtA = obsKey(tcpBA, 7, Ingress), obsKey(tcpBA, 3, Egress)
)

func bridgeDrainEntries() []Entry {
	return []Entry{
		entryAt(abAtB, 4, 100, 300, TCPAck), // listed first, but seen later than at A
		entryAt(abAtA, 4, 90, 290, TCPAck),
		entryAt(baAtA, 4, 200, 400, TCPAck),
		entryAt(baAtB, 4, 195, 395, TCPAck),
	}
}

func TestDedupOwnerEarliestFirst(t *testing.T) {
	tbl := NewTable(TableConfig{})
	tbl.Update(bridgeDrainEntries())
	assertTableLen(t, tbl, 2)
	// Ownership sticks: an earlier First at a non-owner point no longer matters.
	tbl.Update([]Entry{entryAt(abAtB, 1, 1_000, 1_000, TCPAck), entryAt(abAtA, 1, 1_001, 1_001, TCPAck)})
	assertRecordsAnyOrder(t, flushAll(t, tbl),
		recordOf(abAtA, 5, 90, 1_001, TCPAck, ForcedEnd),
		recordOf(baAtB, 4, 195, 395, TCPAck, ForcedEnd))
	s := tbl.Stats()
	if s.DedupDroppedEntries != 3 || s.DedupDroppedPackets != 9 || s.DedupDroppedOctets != 900 || s.FlowsCreated != 2 {
		t.Fatalf("stats = %+v", s)
	}
	// Once the flow has left, the next packet elects again.
	tbl.Update([]Entry{entryAt(abAtB, 1, 5_000, 5_000, TCPAck)})
	assertRecordsAnyOrder(t, flushAll(t, tbl), recordOf(abAtB, 1, 5_000, 5_000, TCPAck, ForcedEnd))
}

// Equal First times: lowest IfIndex, then Ingress, whatever the entry order.
func TestDedupTieBreak(t *testing.T) {
	cands := []Key{obsKey(udpAB, 9, Ingress), obsKey(udpAB, 5, Egress), obsKey(udpAB, 5, Ingress)}
	for _, order := range [][3]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}} {
		tbl := NewTable(TableConfig{})
		var entries []Entry
		for _, i := range order {
			entries = append(entries, entryAt(cands[i], uint64(i+1), 100, 200, 0))
		}
		tbl.Update(entries)
		assertRecordsAnyOrder(t, flushAll(t, tbl), recordOf(obsKey(udpAB, 5, Ingress), 3, 100, 200, 0, ForcedEnd))
	}
}

// The election uses a Key's earliest First over all of its entries, so
// unmerged CPU entries elect the same owner as merged ones.
func TestDedupElectionOverDuplicateKeys(t *testing.T) {
	tbl := NewTable(TableConfig{})
	a, b := obsKey(udpAB, 9, Egress), obsKey(udpAB, 2, Ingress)
	tbl.Update([]Entry{entryAt(a, 1, 10, 10, 0), entryAt(b, 5, 7, 30, 0), entryAt(a, 2, 5, 20, 0)})
	assertRecordsAnyOrder(t, flushAll(t, tbl), recordOf(a, 3, 5, 20, 0, ForcedEnd))
	if s := tbl.Stats(); s.DedupDroppedEntries != 1 || s.DedupDroppedPackets != 5 {
		t.Fatalf("stats = %+v", s)
	}
}

func TestPerInterfaceExportsEveryPoint(t *testing.T) {
	tbl := NewTable(TableConfig{PerInterface: true})
	tbl.Update(bridgeDrainEntries())
	assertTableLen(t, tbl, 4)
	assertRecordsAnyOrder(t, flushAll(t, tbl),
		recordOf(abAtA, 4, 90, 290, TCPAck, ForcedEnd),
		recordOf(abAtB, 4, 100, 300, TCPAck, ForcedEnd),
		recordOf(baAtA, 4, 200, 400, TCPAck, ForcedEnd),
		recordOf(baAtB, 4, 195, 395, TCPAck, ForcedEnd))
	if s := tbl.Stats(); s.DedupDroppedEntries != 0 || s.FlowsCreated != 4 {
		t.Fatalf("stats = %+v", s)
	}
}

// In per-interface mode the conversation ends at every observation point,
// even those that did not see the closing FIN themselves.
func TestPerInterfaceEndOfFlow(t *testing.T) {
	tbl := NewTable(TableConfig{PerInterface: true, ActiveTimeout: time.Minute})
	tbl.Update([]Entry{
		entryAt(abAtA, 2, 0, 10, TCPFin), entryAt(abAtB, 2, 1, 11, TCPFin),
		entryAt(baAtB, 1, 5, 5, TCPAck), entryAt(baAtA, 1, 6, 6, TCPAck),
	})
	assertRecordsAnyOrder(t, expireAt(t, tbl, 1_000))
	assertTableLen(t, tbl, 4)
	tbl.Update([]Entry{entryAt(baAtB, 1, 1_100, 1_100, TCPFin)})
	assertTableLen(t, tbl, 0)
	assertRecordsAnyOrder(t, expireAt(t, tbl, 2_000),
		recordOf(abAtA, 2, 0, 10, TCPFin, EndOfFlow),
		recordOf(abAtB, 2, 1, 11, TCPFin, EndOfFlow),
		recordOf(baAtB, 2, 5, 1_100, TCPAck|TCPFin, EndOfFlow),
		recordOf(baAtA, 1, 6, 6, TCPAck, EndOfFlow))
}

// Per-interface flows of one tuple share a chain; removing one from its
// head, middle or tail must leave the others reachable.
func TestPerInterfaceChainRemoval(t *testing.T) {
	tbl := NewTable(TableConfig{PerInterface: true, IdleTimeout: 10 * time.Second, ActiveTimeout: time.Minute})
	k1, k2, k3 := obsKey(udpAB, 1, Ingress), obsKey(udpAB, 2, Egress), obsKey(udpAB, 3, Ingress)
	tbl.Update([]Entry{entryAt(k1, 1, 0, 5_000, 0), entryAt(k2, 1, 0, 0, 0), entryAt(k3, 1, 0, 5_000, 0)}) // chain k3 k2 k1
	assertRecordsAnyOrder(t, expireAt(t, tbl, 10_000), recordOf(k2, 1, 0, 0, 0, IdleTimeout))
	tbl.Update([]Entry{entryAt(k3, 1, 11_000, 11_000, 0), entryAt(k2, 1, 11_000, 11_000, 0)}) // chain k2 k3 k1
	assertTableLen(t, tbl, 3)
	assertRecordsAnyOrder(t, expireAt(t, tbl, 15_000), recordOf(k1, 1, 0, 5_000, 0, IdleTimeout))
	tbl.Update([]Entry{entryAt(k3, 1, 12_000, 12_000, 0)})
	assertRecordsAnyOrder(t, expireAt(t, tbl, 21_000), recordOf(k2, 1, 11_000, 11_000, 0, IdleTimeout))
	assertRecordsAnyOrder(t, flushAll(t, tbl), recordOf(k3, 3, 0, 12_000, 0, ForcedEnd))
}

// Over MaxFlows, a second observation point of a held tuple is exported at
// once; duplicates of its Key in the same Update are summed first.
func TestPerInterfaceMaxFlows(t *testing.T) {
	tbl := NewTable(TableConfig{PerInterface: true, MaxFlows: 1})
	k1, k2 := obsKey(udpAB, 1, Ingress), obsKey(udpAB, 2, Egress)
	tbl.Update([]Entry{entryAt(k1, 1, 0, 0, 0), entryAt(k2, 1, 0, 0, 0), entryAt(k2, 2, 1, 1, 0)})
	assertRecordsAnyOrder(t, expireAt(t, tbl, 1), recordOf(k2, 3, 0, 1, 0, LackOfResources))
	tbl.Update([]Entry{entryAt(k1, 1, 2, 2, 0)})
	assertRecordsAnyOrder(t, flushAll(t, tbl), recordOf(k1, 2, 0, 2, 0, ForcedEnd))
}
