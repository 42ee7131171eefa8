package e2e

import (
	"net/netip"
	"testing"

	"github.com/podflow/podflow/config"
	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/decoders"
)

// routedPair is a node with two routed pods (offloads off, so every skb is
// one packet and iptables counters count packets as podflow does), with
// podflow exporting to its own collector and to tshark.
type routedPair struct {
	node         *node
	client, srv  *pod
	col          *ipfixCollector
	ts           *decoders.Tshark
	agent        *running
	colURL, tURL string
}

func newRoutedPair(t *testing.T, tune func(*config.Config)) *routedPair {
	t.Helper()
	n := newNode(t)
	rp := &routedPair{node: n, client: n.addRoutedPod(t, 1), srv: n.addRoutedPod(t, 2)}
	rp.client.offloads(t, n, false)
	rp.srv.offloads(t, n, false)
	rp.col = startIPFIXCollector(t, "udp")
	rp.ts = decoders.NewTshark(t)
	rp.colURL, rp.tURL = rp.col.url("ipfix+udp"), "ipfix+udp://"+rp.ts.Addr().String()
	rp.agent = startAgentWith(t, n, tune, rp.colURL, rp.tURL)
	return rp
}

// finish stops podflow and returns each tuple's measurements as podflow's
// collector decoded them, after checking tshark decoded the same, plus
// the records.
func (rp *routedPair) finish(t *testing.T) (map[flow.Tuple]flow.Measures, []flow.Record) {
	t.Helper()
	stats := rp.agent.stop(t)
	recs := rp.col.waitRecords(t, stats[rp.colURL].RecordsSent)
	ours := measuresByTuple(recs)
	theirs, contexts := tsharkDecode(t, rp.ts, stats[rp.tURL].MessagesSent)
	assertSameMeasures(t, ours, theirs)
	for tu, c := range contexts {
		if got := contextOf(recs, tu); got != c {
			t.Errorf("%v context:\n podflow: %+v\n tshark:  %+v", tu, got, c)
		}
	}
	return ours, recs
}

func (rp *routedPair) addrs(ipv6 bool) (client, server netip.Addr) {
	if ipv6 {
		return rp.client.v6, rp.srv.v6
	}
	return rp.client.v4, rp.srv.v4
}

// Random loss on the routed path: the client retransmits, and the exported
// retransmissions of its flow equal its socket's own count exactly.
func TestRetransmissionsEqualSocketCount(t *testing.T) {
	for _, ipv6 := range []bool{false, true} {
		t.Run(family(ipv6), func(t *testing.T) {
			rp := newRoutedPair(t, func(*config.Config) {})
			cli, srv := rp.addrs(ipv6)
			iptables(t, rp.node.ns, ipv6, "-A", "FORWARD", "-s", cli.String(), "-d", srv.String(), "-p", "tcp",
				"-m", "statistic", "--mode", "random", "--probability", "0.05",
				"-m", "comment", "--comment", "podflow-loss", "-j", "DROP")
			res := sendTCP(t, rp.client, rp.srv, srv, 5201, 300_000)
			byTuple, _ := rp.finish(t)
			dropped, _ := ruleCounters(t, rp.node.ns, ipv6, "FORWARD", "podflow-loss")
			if dropped == 0 || res.retrans == 0 {
				t.Fatalf("no loss happened (rule dropped %d, socket retransmitted %d): the test proves nothing", dropped, res.retrans)
			}
			c2s := tupleOf(res.local, netip.AddrPortFrom(srv, 5201), flow.ProtoTCP)
			m := byTuple[c2s]
			t.Logf("rule dropped %d; socket tcpi_total_retrans %d, tcpi_bytes_retrans %d; exported %s", dropped, res.retrans, res.bytesRetrans, describe(m))
			if m.RetransPackets != res.retrans || m.RetransOctets != res.bytesRetrans {
				t.Errorf("exported retransmissions %d (%d B), socket says %d (%d B)", m.RetransPackets, m.RetransOctets, res.retrans, res.bytesRetrans)
			}
			// The wire view at the client's veth (before the lossy hop) sees
			// every lost segment twice: the same count, from sequence numbers.
			if m.WireRetransPackets != res.retrans {
				t.Errorf("retransmissions seen on the wire %d, socket says %d", m.WireRetransPackets, res.retrans)
			}
			// The rule's drops are the flow's; the server may also drop
			// duplicates of spurious retransmissions (other reasons).
			if m.DropPackets < dropped {
				t.Errorf("exported %d dropped packets, the rule alone dropped %d", m.DropPackets, dropped)
			}
			if !m.HasRTT() {
				t.Errorf("client flow has no RTT samples")
			}
		})
	}
}

// An iptables DROP rule in the node drops every third datagram of a UDP
// flow: the flow's exported dropped packets and octets equal the rule's
// counters, with the reason, and a UDP flow carries no TCP measurements.
func TestDropsEqualRuleCounters(t *testing.T) {
	for _, ipv6 := range []bool{false, true} {
		t.Run(family(ipv6), func(t *testing.T) {
			rp := newRoutedPair(t, func(*config.Config) {})
			_, srv := rp.addrs(ipv6)
			iptables(t, rp.node.ns, ipv6, "-A", "FORWARD", "-p", "udp", "--dport", "5300",
				"-m", "statistic", "--mode", "nth", "--every", "3", "--packet", "0",
				"-m", "comment", "--comment", "podflow-drop", "-j", "DROP")
			const sent, size = 30, 200
			local := sendUDPExpectingLoss(t, rp.client, rp.srv, srv, 5300, sent, size, sent-sent/3)
			byTuple, recs := rp.finish(t)
			packets, octets := ruleCounters(t, rp.node.ns, ipv6, "FORWARD", "podflow-drop")
			tu := tupleOf(local, netip.AddrPortFrom(srv, 5300), flow.ProtoUDP)
			m := byTuple[tu]
			t.Logf("rule dropped %d packets %d octets; exported %s", packets, octets, describe(m))
			if packets != sent/3 || m.DropPackets != packets || m.DropOctets != octets || m.DropReason != "NETFILTER_DROP" {
				t.Errorf("exported drops %d/%d B %q, rule counted %d/%d B (want %d packets)", m.DropPackets, m.DropOctets, m.DropReason, packets, octets, sent/3)
			}
			if m.HasRTT() || m.HasRetrans() || m.Handshake.Seen {
				t.Errorf("UDP flow carries TCP measurements: %s", describe(m))
			}
			var counted uint64
			for _, r := range recs {
				if r.Tuple == tu {
					counted += r.Packets
				}
			}
			if counted != sent {
				t.Errorf("flow counted %d packets at its first hop, want all %d sent", counted, sent)
			}
		})
	}
}
