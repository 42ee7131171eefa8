package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/podflow/podflow/config"
	"github.com/podflow/podflow/flow"
)

// podflow exports the same flows to several collectors at once, each with
// its own protocol: IPFIX over TCP to its own collector (the reference),
// NetFlow v9 and NetFlow v5 to two nfcapd instances. nfdump decodes every
// record of both NetFlow streams with the 5-tuple, packets and octets of
// the reference, and nothing more (v5 gets no IPv6: the node is IPv4-only).
func TestNetFlowCollectorsAtOnce(t *testing.T) {
	n := newIPv4OnlyNode(t)
	p1, p2 := n.addRoutedPod(t, 1), n.addRoutedPod(t, 2)
	ref := startIPFIXCollector(t, "tcp")
	v9, v5 := startNfcapd(t), startNfcapd(t)
	v9URL := fmt.Sprintf("netflow9+udp://127.0.0.1:%d", v9.port)
	v5URL := fmt.Sprintf("netflow5+udp://127.0.0.1:%d", v5.port)
	ag := startAgentWith(t, n, func(c *config.Config) {}, ref.url("ipfix+tcp"), v9URL, v5URL)

	sendUDP(t, p1, p2, p2.v4, 7300, 30, 200)
	sendTCP(t, p1, p2, p2.v4, 7301, 50_000)
	stats := ag.stop(t)
	refRecs := ref.waitRecords(t, stats[ref.url("ipfix+tcp")].RecordsSent)
	want, wantSpan := sumByTuple(refRecs), spanByTuple(refRecs)
	for _, c := range []struct {
		name string
		n    *nfcapd
		url  string
	}{{"NetFlow v9", v9, v9URL}, {"NetFlow v5", v5, v5URL}} {
		s := stats[c.url]
		if s.RecordsLost != 0 || s.RecordsSent != stats[ref.url("ipfix+tcp")].RecordsSent {
			t.Errorf("%s: sent %d lost %d, the IPFIX reference sent %d", c.name, s.RecordsSent, s.RecordsLost, stats[ref.url("ipfix+tcp")].RecordsSent)
		}
		recs := c.n.records(t, int(s.RecordsSent))
		got, span := sumByTuple(recs), spanByTuple(recs)
		if len(got) != len(want) {
			t.Errorf("%s: %d flows, reference %d", c.name, len(got), len(want))
		}
		for tu, w := range want {
			if g := got[tu]; g.Packets != w.Packets || g.Octets != w.Octets {
				t.Errorf("%s %v: %d packets %d octets, reference %d %d", c.name, tu, g.Packets, g.Octets, w.Packets, w.Octets)
			}
			// Start and end within one poll interval of the reference's.
			// NetFlow carries ms of the exporter's uptime, but nfdump's CSV
			// prints NetFlow times in whole seconds (the netflow packages
			// check the ms through nfdump's JSON): allow that truncation.
			g, w := span[tu], wantSpan[tu]
			if d := g.First.Sub(w.First.Truncate(time.Second)).Abs(); d > pollInterval {
				t.Errorf("%s %v: starts %s, reference %s", c.name, tu, g.First, w.First)
			}
			if d := g.Last.Sub(w.Last.Truncate(time.Second)).Abs(); d > pollInterval {
				t.Errorf("%s %v: ends %s, reference %s", c.name, tu, g.Last, w.Last)
			}
		}
	}
}

// sumByTuple adds up packets and octets of the records of each tuple.
func sumByTuple(recs []flow.Record) map[flow.Tuple]flow.Counters {
	out := map[flow.Tuple]flow.Counters{}
	for _, r := range recs {
		c := out[r.Tuple]
		c.Packets += r.Packets
		c.Octets += r.Octets
		out[r.Tuple] = c
	}
	return out
}

// spanByTuple returns the earliest start and latest end of each tuple's
// records.
func spanByTuple(recs []flow.Record) map[flow.Tuple]flow.Counters {
	out := map[flow.Tuple]flow.Counters{}
	for _, r := range recs {
		c, ok := out[r.Tuple]
		if !ok || r.First.Before(c.First) {
			c.First = r.First
		}
		if r.Last.After(c.Last) {
			c.Last = r.Last
		}
		out[r.Tuple] = c
	}
	return out
}
