package flow

import (
	"testing"
)

func rttOf(samples, minUs, maxUs uint32, sumUs uint64) Measures {
	return Measures{RTTSamples: samples, RTTMinUs: minUs, RTTMaxUs: maxUs, RTTSumUs: sumUs}
}

// Tuple measurements join the flow of their tuple, once: in per-interface
// mode the first observation point by the dedup tie rule; tuples no flow
// holds are counted, not exported.
func TestTupleMeasuresJoinOneFlow(t *testing.T) {
	for _, perIf := range []bool{false, true} {
		tbl := NewTable(TableConfig{PerInterface: perIf})
		in, out := obsKey(tcpAB, 3, Ingress), obsKey(tcpAB, 2, Egress)
		drop := Measures{}
		drop.SetDrop(2, 120, "NETFILTER_DROP", 5)
		tbl.Update([]Entry{entryAt(in, 4, 0, 10, TCPAck), entryAt(out, 4, 0, 10, TCPAck)},
			TupleEntry{Tuple: tcpAB, Measures: rttOf(2, 100, 300, 400)},
			TupleEntry{Tuple: tcpAB, Measures: drop},
			TupleEntry{Tuple: udpAB, Measures: drop}) // no flow: unmatched
		recs := tbl.Flush(nil)
		var withMeasures int
		for _, r := range recs {
			if r.Measures == (Measures{}) {
				continue
			}
			withMeasures++
			if r.Key != in {
				t.Errorf("perIf=%v: measures on %v, want the ingress point %v", perIf, r.Key, in)
			}
			m := r.Measures
			if m.RTTSamples != 2 || m.RTTMeanUs() != 200 || m.RTTMinUs != 100 || m.RTTMaxUs != 300 ||
				m.DropPackets != 2 || m.DropOctets != 120 || m.DropReason != "NETFILTER_DROP" {
				t.Errorf("perIf=%v: measures %+v", perIf, m)
			}
		}
		if withMeasures != 1 {
			t.Errorf("perIf=%v: %d records carry the measures, want exactly 1", perIf, withMeasures)
		}
		if s := tbl.Stats(); s.UnmatchedTuples != 1 || s.UnmatchedDropPackets != 2 {
			t.Errorf("perIf=%v: unmatched %d tuples %d drops, want 1 and 2", perIf, s.UnmatchedTuples, s.UnmatchedDropPackets)
		}
	}
}

// A connection's last measurements arrive in the drain that ends it: they
// leave with its end-of-flow record. Later ones (a late retransmission) wait
// in the flow for its next record even without packets.
func TestTupleMeasuresLeaveWithTheirFlow(t *testing.T) {
	tbl := NewTable(TableConfig{})
	ab, ba := obsKey(tcpAB, 1, Ingress), obsKey(tcpAB.Reverse(), 1, Egress)
	tbl.Update([]Entry{entryAt(ab, 3, 0, 10, TCPSyn|TCPAck), entryAt(ba, 2, 0, 10, TCPSyn|TCPAck)})
	tbl.Update([]Entry{entryAt(ab, 1, 20, 20, TCPFin|TCPAck), entryAt(ba, 1, 20, 20, TCPFin|TCPAck)},
		TupleEntry{Tuple: tcpAB, Measures: Measures{RetransPackets: 1, RetransOctets: 100}})
	recs := tbl.Expire(atMs(30), nil)
	found := false
	for _, r := range recs {
		if r.Key == ab {
			found = true
			if r.EndReason != EndOfFlow || r.Measures.RetransPackets != 1 || r.Measures.RetransOctets != 100 {
				t.Errorf("end-of-flow record %+v", r)
			}
		}
	}
	if !found {
		t.Fatal("no end-of-flow record for the client flow")
	}

	// A measurement-only delta (the flow's packets already exported on
	// active timeout): exported on idle timeout with 0 packets, not lost.
	tbl = NewTable(TableConfig{ActiveTimeout: 5e6})
	tbl.Update([]Entry{entryAt(obsKey(udpAB, 1, Ingress), 1, 0, 0, 0)})
	if recs := tbl.Expire(atMs(6), nil); len(recs) != 1 || recs[0].EndReason != ActiveTimeout {
		t.Fatalf("active-timeout records %+v", recs)
	}
	drop := Measures{}
	drop.SetDrop(1, 60, "NO_SOCKET", 1)
	tbl.Update(nil, TupleEntry{Tuple: udpAB, Measures: drop})
	recs = tbl.Expire(atMs(int(DefaultIdleTimeout/1e6)+1), nil)
	if len(recs) != 1 || recs[0].Packets != 0 || recs[0].Measures.DropPackets != 1 || recs[0].EndReason != IdleTimeout {
		t.Fatalf("idle record %+v, want 0 packets and 1 drop", recs)
	}
}

// The drain reads the flow map before the tuple maps: a connection that
// starts between the two reads brings its measurements one Update before
// its packets. They wait one Update for the flow; a measurement no flow
// claims in two Updates, or still waiting at Flush, is counted unmatched.
func TestTupleMeasuresWaitOneDrainForTheirFlow(t *testing.T) {
	tbl := NewTable(TableConfig{})
	drop := Measures{}
	drop.SetDrop(3, 180, "NO_SOCKET", 1)
	tbl.Update(nil, TupleEntry{Tuple: tcpAB, Measures: rttOf(2, 100, 300, 400)}, TupleEntry{Tuple: udpAB, Measures: drop})
	if s := tbl.Stats(); s.UnmatchedTuples != 0 {
		t.Fatalf("unmatched %d after the first drain, want 0: they wait", s.UnmatchedTuples)
	}
	ab := obsKey(tcpAB, 1, Ingress)
	tbl.Update([]Entry{entryAt(ab, 4, 0, 10, TCPSyn|TCPAck)})
	if s := tbl.Stats(); s.UnmatchedTuples != 1 || s.UnmatchedDropPackets != 3 {
		t.Errorf("after the second drain: unmatched %d tuples %d drops, want the UDP one: 1 and 3", s.UnmatchedTuples, s.UnmatchedDropPackets)
	}
	tbl.Update(nil, TupleEntry{Tuple: udpAB, Measures: drop}) // waits again
	recs := tbl.Flush(nil)
	if len(recs) != 1 || recs[0].Key != ab || recs[0].Measures != rttOf(2, 100, 300, 400) {
		t.Fatalf("records %+v, want the TCP flow with its RTT samples", recs)
	}
	if s := tbl.Stats(); s.UnmatchedTuples != 2 || s.UnmatchedDropPackets != 6 {
		t.Errorf("after Flush: unmatched %d tuples %d drops, want 2 and 6", s.UnmatchedTuples, s.UnmatchedDropPackets)
	}
}
