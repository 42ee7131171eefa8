package e2e

import (
	"net/netip"
	"testing"

	"github.com/podflow/podflow/config"
	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/decoders"
)

const (
	ipHdr4, udpHdr = 20, 8
	ethHdr         = 14
)

func tuple(src, dst netip.AddrPort, proto uint8) flow.Tuple {
	return flow.Tuple{SrcAddr: src.Addr(), DstAddr: dst.Addr(), SrcPort: src.Port(), DstPort: dst.Port(), Proto: proto}
}

// byTuple groups summed records by tuple, keeping each observation point.
func byTuple(sums map[flow.Key]flow.Counters) map[flow.Tuple]map[flow.Key]flow.Counters {
	out := map[flow.Tuple]map[flow.Key]flow.Counters{}
	for k, c := range sums {
		if out[k.Tuple] == nil {
			out[k.Tuple] = map[flow.Key]flow.Counters{}
		}
		out[k.Tuple][k] = c
	}
	return out
}

// onlyAt asserts that tuple was exported at exactly one observation point,
// the given one, with these packets (and octets when octets > 0).
func onlyAt(t *testing.T, got map[flow.Tuple]map[flow.Key]flow.Counters, tp flow.Tuple, ifindex int, dir flow.Direction, packets, octets uint64) {
	t.Helper()
	obs := got[tp]
	want := flow.Key{Tuple: tp, IfIndex: uint32(ifindex), Direction: dir}
	if len(obs) != 1 {
		t.Fatalf("%v exported at %d observation points %v, want exactly 1 (%d %v)", tp, len(obs), obs, ifindex, dir)
	}
	c, ok := obs[want]
	if !ok {
		t.Fatalf("%v exported at %v, want ifindex %d %v", tp, obs, ifindex, dir)
	}
	if c.Packets != packets || (octets > 0 && c.Octets != octets) {
		t.Fatalf("%v: %d packets %d octets, want %d packets %d octets", tp, c.Packets, c.Octets, packets, octets)
	}
}

// newIPv4Node builds a node without IPv6 (no background traffic at all):
// pods 1 and 2 on the bridge, pod 3 routed, offloads off so that veth
// counters count packets.
func newIPv4Node(t *testing.T) (*node, *pod, *pod, *pod) {
	n := newIPv4OnlyNode(t)
	p1, p2, p3 := n.addBridgedPod(t, 11), n.addBridgedPod(t, 12), n.addRoutedPod(t, 3)
	for _, p := range []*pod{p1, p2, p3} {
		p.offloads(t, n, false)
	}
	return n, p1, p2, p3
}

func (n *node) rx(t *testing.T, p *pod) (packets, bytes uint64) {
	s := n.ns.Statistics(t, p.hostIf.Attrs().Name)
	return s.RxPackets, s.RxBytes
}

func TestDedupModeMatchesVethCountersAndNfdump(t *testing.T) {
	n, p1, p2, p3 := newIPv4Node(t)
	gipfix := startIPFIXCollector(t, "udp")
	nfd := decoders.StartNfcapd(t)
	ag := startAgent(t, n, config.ModeDedup, gipfix.url("ipfix+udp"), "ipfix+udp://"+nfd.Addr().String())

	pods := []*pod{p1, p2, p3}
	var before [3][2]uint64
	for i, p := range pods {
		before[i][0], before[i][1] = n.rx(t, p)
	}
	udpBridged := sendUDP(t, p1, p2, p2.v4, 5001, 40, 100)
	udpRouted := sendUDP(t, p1, p3, p3.v4, 5002, 25, 300)
	tcpBridged := sendTCP(t, p1, p2, p2.v4, 8080, 200_000)
	tcpRouted := sendTCP(t, p3, p1, p1.v4, 8081, 50_000)

	stats := ag.stop(t)
	recs := gipfix.waitRecords(t, stats[gipfix.url("ipfix+udp")].RecordsSent)
	sums := sumByKey(recs)

	// Every packet each pod sent, counted once, at its host veth's ingress:
	// the veth's own counters are the ground truth.
	for i, p := range pods {
		rxP, rxB := n.rx(t, p)
		dp, db := rxP-before[i][0], rxB-before[i][1]
		var gotP, gotO uint64
		for k, c := range sums {
			if k.IfIndex == uint32(p.hostIf.Attrs().Index) && k.Direction == flow.Ingress {
				gotP += c.Packets
				gotO += c.Octets
			}
		}
		if gotP != dp || gotO != db-ethHdr*dp {
			t.Errorf("%s ingress: exported %d packets %d octets; veth counted %d packets, %d IP octets",
				p.hostIf.Attrs().Name, gotP, gotO, dp, db-ethHdr*dp)
		}
	}

	got := byTuple(sums)
	h1, h2, h3 := p1.hostIf.Attrs().Index, p2.hostIf.Attrs().Index, p3.hostIf.Attrs().Index
	udp := func(from netip.AddrPort, to netip.Addr, port uint16) flow.Tuple {
		return tuple(from, netip.AddrPortFrom(to, port), flow.ProtoUDP)
	}
	onlyAt(t, got, udp(udpBridged, p2.v4, 5001), h1, flow.Ingress, 40, 40*(ipHdr4+udpHdr+100))
	onlyAt(t, got, udp(udpRouted, p3.v4, 5002), h1, flow.Ingress, 25, 25*(ipHdr4+udpHdr+300))
	// TCP: each direction once, with the segments the client socket reports.
	c2s := tuple(tcpBridged.local, netip.AddrPortFrom(p2.v4, 8080), flow.ProtoTCP)
	onlyAt(t, got, c2s, h1, flow.Ingress, uint64(tcpBridged.segsOut), 0)
	onlyAt(t, got, c2s.Reverse(), h2, flow.Ingress, uint64(tcpBridged.segsIn), 0)
	r2s := tuple(tcpRouted.local, netip.AddrPortFrom(p1.v4, 8081), flow.ProtoTCP)
	onlyAt(t, got, r2s, h3, flow.Ingress, uint64(tcpRouted.segsOut), 0)
	onlyAt(t, got, r2s.Reverse(), h1, flow.Ingress, uint64(tcpRouted.segsIn), 0)
	if flags := got[c2s][flow.Key{Tuple: c2s, IfIndex: uint32(h1)}].TCPFlags; flags&(flow.TCPSyn|flow.TCPFin|flow.TCPAck) != flow.TCPSyn|flow.TCPFin|flow.TCPAck {
		t.Errorf("client flow flags %#x, want SYN, ACK and FIN", flags)
	}

	nfdumpAgrees(t, nfd, len(recs), sums)
}

// nfdumpAgrees stops nfcapd (after the agent has stopped) and checks that
// nfdump decodes the same records, to the same sums per flow and
// observation point, as podflow's collector.
func nfdumpAgrees(t *testing.T, nfd *decoders.Nfcapd, records int, sums map[flow.Key]flow.Counters) {
	t.Helper()
	recs := nfdumpFlowRecords(t, nfd)
	if len(recs) != records {
		t.Fatalf("nfdump decoded %d records, podflow's collector %d", len(recs), records)
	}
	nf := sumByKey(recs)
	for k, c := range sums {
		nc := nf[k]
		if nc.Packets != c.Packets || nc.Octets != c.Octets {
			t.Errorf("nfdump %v: %d packets %d octets; podflow's collector %d %d", k, nc.Packets, nc.Octets, c.Packets, c.Octets)
		}
	}
}

func TestPerInterfaceModeExportsEachObservationPoint(t *testing.T) {
	n, p1, p2, p3 := newIPv4Node(t)
	gipfix := startIPFIXCollector(t, "udp")
	ag := startAgent(t, n, config.ModePerInterface, gipfix.url("ipfix+udp"))

	bridged := sendUDP(t, p1, p2, p2.v4, 6001, 20, 50)
	routed := sendUDP(t, p1, p3, p3.v4, 6002, 10, 70)
	stats := ag.stop(t)
	got := byTuple(sumByKey(gipfix.waitRecords(t, stats[gipfix.url("ipfix+udp")].RecordsSent)))

	for _, c := range []struct {
		tp      flow.Tuple
		out     *pod
		packets uint64
		octets  uint64
	}{
		{tuple(bridged, netip.AddrPortFrom(p2.v4, 6001), flow.ProtoUDP), p2, 20, 20 * 78},
		{tuple(routed, netip.AddrPortFrom(p3.v4, 6002), flow.ProtoUDP), p3, 10, 10 * 98},
	} {
		want := map[flow.Key]bool{
			{Tuple: c.tp, IfIndex: uint32(p1.hostIf.Attrs().Index), Direction: flow.Ingress}:   true,
			{Tuple: c.tp, IfIndex: uint32(c.out.hostIf.Attrs().Index), Direction: flow.Egress}: true,
		}
		if len(got[c.tp]) != 2 {
			t.Fatalf("%v at %v, want one record per interface (2)", c.tp, got[c.tp])
		}
		for k, cnt := range got[c.tp] {
			if !want[k] || cnt.Packets != c.packets || cnt.Octets != c.octets {
				t.Errorf("%v at if %d %v: %d packets %d octets, want %d %d at %v", c.tp, k.IfIndex, k.Direction, cnt.Packets, cnt.Octets, c.packets, c.octets, want)
			}
		}
	}
}

// With offloads on, one skb carries many segments: podflow counts segments,
// as the sockets do.
func TestIPv6AndGSOCountSegments(t *testing.T) {
	n := newNode(t)
	p1, p2, p3 := n.addBridgedPod(t, 21), n.addBridgedPod(t, 22), n.addRoutedPod(t, 4)
	gipfix := startIPFIXCollector(t, "tcp")
	nfd := decoders.StartNfcapd(t)
	ag := startAgent(t, n, config.ModeDedup, gipfix.url("ipfix+tcp"), "ipfix+udp://"+nfd.Addr().String())

	udp6 := sendUDP(t, p1, p2, p2.v6, 7001, 30, 200)
	tcp6 := sendTCP(t, p1, p3, p3.v6, 7002, 1_000_000)
	tcp4 := sendTCP(t, p2, p1, p1.v4, 7003, 1_000_000)
	stats := ag.stop(t)
	recs := gipfix.waitRecords(t, stats[gipfix.url("ipfix+tcp")].RecordsSent)
	sums := sumByKey(recs)
	got := byTuple(sums)
	nfdumpAgrees(t, nfd, len(recs), sums)

	h1, h2, h3 := p1.hostIf.Attrs().Index, p2.hostIf.Attrs().Index, p3.hostIf.Attrs().Index
	onlyAt(t, got, tuple(udp6, netip.AddrPortFrom(p2.v6, 7001), flow.ProtoUDP), h1, flow.Ingress, 30, 30*(40+8+200))
	t6 := tuple(tcp6.local, netip.AddrPortFrom(p3.v6, 7002), flow.ProtoTCP)
	onlyAt(t, got, t6, h1, flow.Ingress, uint64(tcp6.segsOut), 0)
	onlyAt(t, got, t6.Reverse(), h3, flow.Ingress, uint64(tcp6.segsIn), 0)
	t4 := tuple(tcp4.local, netip.AddrPortFrom(p1.v4, 7003), flow.ProtoTCP)
	onlyAt(t, got, t4, h2, flow.Ingress, uint64(tcp4.segsOut), 0)
	onlyAt(t, got, t4.Reverse(), h1, flow.Ingress, uint64(tcp4.segsIn), 0)
}

func TestVethCreatedAfterStartIsObserved(t *testing.T) {
	n := newIPv4OnlyNode(t)
	p1 := n.addBridgedPod(t, 31)
	gipfix := startIPFIXCollector(t, "udp")
	ag := startAgent(t, n, config.ModeDedup, gipfix.url("ipfix+udp"))

	late := n.addBridgedPod(t, 32)
	idx := late.hostIf.Attrs().Index
	poll(t, "late veth attached", func() bool {
		for _, i := range ag.watcher.Attached() {
			if i.Index == idx {
				return true
			}
		}
		return false
	})
	from := sendUDP(t, late, p1, p1.v4, 9001, 12, 10)
	stats := ag.stop(t)
	got := byTuple(sumByKey(gipfix.waitRecords(t, stats[gipfix.url("ipfix+udp")].RecordsSent)))
	onlyAt(t, got, tuple(from, netip.AddrPortFrom(p1.v4, 9001), flow.ProtoUDP), idx, flow.Ingress, 12, 12*(20+8+10))
}

// nfdumpFlowRecords stops nfcapd and reads its files back, checking nfdump
// saw no sequence error.
func nfdumpFlowRecords(t *testing.T, nfd *decoders.Nfcapd) []flow.Record {
	t.Helper()
	dir := nfd.Stop(t)
	if errs := nfd.SequenceErrors(t, dir); errs != 0 {
		t.Errorf("nfdump counted %d sequence errors", errs)
	}
	recs, err := decoders.NfdumpFlowRecords(decoders.NfdumpRecords(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	return recs
}
