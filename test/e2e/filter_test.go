package e2e

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/podflow/podflow/config"
	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/decoders"
)

// newRoutedIPv4Node is a node with three routed pods (10.88.31-33.2) and
// no pod on its bridge: nothing but the test's traffic crosses the pods'
// veths (the bridge's own IGMP reports, sent at random times after it comes
// up, reach bridged pods only). Offloads are off: veth counters count packets.
func newRoutedIPv4Node(t *testing.T) (*node, *pod, *pod, *pod) {
	t.Helper()
	n := newIPv4OnlyNode(t)
	p1, p2, p3 := n.addRoutedPod(t, 31), n.addRoutedPod(t, 32), n.addRoutedPod(t, 33)
	for _, p := range []*pod{p1, p2, p3} {
		p.offloads(t, n, false)
	}
	return n, p1, p2, p3
}

// kernelCountersAtExit reads the kernel counters podflow logs when it
// stops (after its last drain); call it after stop.
func kernelCountersAtExit(t *testing.T, r *running) map[string]uint64 {
	t.Helper()
	logged := r.logs.FilterMessage("kernel counters").All()
	if len(logged) != 1 {
		t.Fatalf("%d 'kernel counters' log entries, want 1", len(logged))
	}
	out := map[string]uint64{}
	for k, v := range logged[0].ContextMap() {
		if n, ok := v.(uint64); ok {
			out[k] = n
		}
	}
	return out
}

// vethTotals sums the packets and IP octets (bytes less the Ethernet
// header) both directions of the pods' host veths carried.
func vethTotals(t *testing.T, n *node, pods ...*pod) (packets, octets uint64) {
	t.Helper()
	for _, p := range pods {
		s := n.ns.Statistics(t, p.hostIf.Attrs().Name)
		packets += s.RxPackets + s.TxPackets
		octets += s.RxBytes + s.TxBytes - ethHdr*(s.RxPackets+s.TxPackets)
	}
	return packets, octets
}

// sendEchoes sends count ICMP echo requests of size payload bytes from pod
// from to dst and waits for every reply.
func sendEchoes(t *testing.T, from *pod, dst netip.Addr, count, size int) {
	t.Helper()
	var c net.PacketConn
	if err := from.ns.Do(func() (err error) {
		c, err = net.ListenPacket("ip4:icmp", from.v4.String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for seq := range count {
		msg := make([]byte, 8+size)
		msg[0] = 8 // echo request
		binary.BigEndian.PutUint16(msg[4:], 0x7f7f)
		binary.BigEndian.PutUint16(msg[6:], uint16(seq))
		binary.BigEndian.PutUint16(msg[2:], icmpChecksum(msg))
		if _, err := c.WriteTo(msg, &net.IPAddr{IP: dst.AsSlice()}); err != nil {
			t.Fatalf("echo request: %v", err)
		}
	}
	c.SetReadDeadline(time.Now().Add(ioLimit))
	buf := make([]byte, 2048)
	for replies := 0; replies < count; {
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			t.Fatalf("echo reply %d of %d: %v", replies+1, count, err)
		}
		if n >= 8 && buf[0] == 0 && binary.BigEndian.Uint16(buf[4:]) == 0x7f7f {
			replies++
		}
	}
}

func icmpChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// sendUDPPaced sends count datagrams from one socket, keeping at most
// window of them unreceived so no socket buffer or backlog overflows: every
// datagram arrives. It returns the client's address.
func sendUDPPaced(t *testing.T, from, to *pod, port uint16, count, size, window int) netip.AddrPort {
	t.Helper()
	srv := listenUDPIn(t, to, netip.AddrPortFrom(to.v4, port))
	defer srv.Close()
	cli := dialUDPFrom(t, from, netip.AddrPortFrom(to.v4, port))
	defer cli.Close()
	buf, rbuf := make([]byte, size), make([]byte, 65536)
	srv.SetReadDeadline(time.Now().Add(waitLimit))
	for sent := 0; sent < count; {
		batch := min(window, count-sent)
		for range batch {
			if _, err := cli.Write(buf); err != nil {
				t.Fatalf("udp send: %v", err)
			}
		}
		for i := range batch {
			if _, _, err := srv.ReadFrom(rbuf); err != nil {
				t.Fatalf("udp receive %d of %d: %v", sent+i+1, count, err)
			}
		}
		sent += batch
	}
	return netip.MustParseAddrPort(cli.LocalAddr().String())
}

// Excluded flows (a denied CIDR, a port outside the allow list, ICMP which
// has no ports) never produce a record, and the kernel's filtered_packets
// counter holds exactly their packets at every observation point they
// crossed; allowed flows are counted exactly.
func TestFilterExcludesFlowsAndCountsThem(t *testing.T) {
	n, p1, p2, p3 := newRoutedIPv4Node(t)
	gipfix := startIPFIXCollector(t, "udp")
	deny3, err := config.ParseCIDRRule("!10.88.33.0/30") // p3's subnet
	if err != nil {
		t.Fatal(err)
	}
	ports, err := config.ParsePortRule("5001-5002")
	if err != nil {
		t.Fatal(err)
	}
	ag := startAgentWith(t, n, func(c *config.Config) {
		c.Mode = config.ModePerInterface // one record per observation point: reconciles with veth counters
		c.FilterCIDRs = []config.CIDRRule{deny3}
		c.FilterPorts = []config.PortRule{ports}
	}, gipfix.url("ipfix+udp"))
	beforeP, beforeO := vethTotals(t, n, p1, p2, p3)

	allowedUDP := sendUDP(t, p1, p2, p2.v4, 5001, 40, 100)
	allowedTCP := sendTCP(t, p2, p1, p1.v4, 5002, 100_000)
	deniedAddrUDP := sendUDP(t, p1, p3, p3.v4, 5001, 25, 300)
	deniedAddrTCP := sendTCP(t, p1, p3, p3.v4, 5002, 50_000)
	deniedPortUDP := sendUDP(t, p1, p2, p2.v4, 6000, 30, 50)
	const echoes = 5
	sendEchoes(t, p1, p2.v4, echoes, 56)

	afterP, afterO := vethTotals(t, n, p1, p2, p3)
	stats := ag.stop(t)
	recs := gipfix.waitRecords(t, stats[gipfix.url("ipfix+udp")].RecordsSent)
	kc := kernelCountersAtExit(t, ag)

	// Every excluded packet crossed two observed veths (the sender's and
	// the receiver's), each filtering it once.
	excluded := uint64(2 * (25 + deniedAddrTCP.segsOut + deniedAddrTCP.segsIn + 30 + 2*echoes))
	if kc["filtered_packets"] != excluded {
		t.Errorf("filtered_packets = %d, want %d (2 observation points × excluded packets sent)", kc["filtered_packets"], excluded)
	}
	var exportedP, exportedO uint64
	for _, r := range recs {
		exportedP += r.Packets
		exportedO += r.Octets
	}
	if vp, vo := afterP-beforeP, afterO-beforeO; kc["filtered_packets"]+exportedP != vp || kc["filtered_octets"]+exportedO != vo {
		t.Errorf("filtered %d packets %d octets + exported %d %d; the veths carried %d packets %d IP octets",
			kc["filtered_packets"], kc["filtered_octets"], exportedP, exportedO, vp, vo)
	}
	if kc["sampled_out_packets"] != 0 {
		t.Errorf("sampled_out_packets = %d without sampling", kc["sampled_out_packets"])
	}

	got := byTuple(sumByKey(recs))
	for _, tp := range []flow.Tuple{
		tuple(deniedAddrUDP, netip.AddrPortFrom(p3.v4, 5001), flow.ProtoUDP),
		tuple(deniedAddrTCP.local, netip.AddrPortFrom(p3.v4, 5002), flow.ProtoTCP),
		tuple(deniedAddrTCP.local, netip.AddrPortFrom(p3.v4, 5002), flow.ProtoTCP).Reverse(),
		tuple(deniedPortUDP, netip.AddrPortFrom(p2.v4, 6000), flow.ProtoUDP),
	} {
		if obs, ok := got[tp]; ok {
			t.Errorf("excluded flow %v exported: %v", tp, obs)
		}
	}
	for tp := range got {
		if tp.Proto == flow.ProtoICMP {
			t.Errorf("ICMP flow %v exported despite the port allow list", tp)
		}
	}
	if len(got) != 3 {
		t.Errorf("%d flows exported, want the 3 allowed ones: %v", len(got), got)
	}

	h1, h2 := uint32(p1.hostIf.Attrs().Index), uint32(p2.hostIf.Attrs().Index)
	exactlyAt := func(tp flow.Tuple, packets, octets uint64, at ...flow.Key) {
		t.Helper()
		if len(got[tp]) != len(at) {
			t.Errorf("%v at %v, want %d observation points", tp, got[tp], len(at))
		}
		for _, k := range at {
			k.Tuple = tp
			c := got[tp][k]
			if c.Packets != packets || (octets > 0 && c.Octets != octets) {
				t.Errorf("%v at if %d %v: %d packets %d octets, want %d %d", tp, k.IfIndex, k.Direction, c.Packets, c.Octets, packets, octets)
			}
		}
	}
	udp := tuple(allowedUDP, netip.AddrPortFrom(p2.v4, 5001), flow.ProtoUDP)
	exactlyAt(udp, 40, 40*(ipHdr4+udpHdr+100), flow.Key{IfIndex: h1, Direction: flow.Ingress}, flow.Key{IfIndex: h2, Direction: flow.Egress})
	c2s := tuple(allowedTCP.local, netip.AddrPortFrom(p1.v4, 5002), flow.ProtoTCP)
	exactlyAt(c2s, uint64(allowedTCP.segsOut), 0, flow.Key{IfIndex: h2, Direction: flow.Ingress}, flow.Key{IfIndex: h1, Direction: flow.Egress})
	exactlyAt(c2s.Reverse(), uint64(allowedTCP.segsIn), 0, flow.Key{IfIndex: h1, Direction: flow.Ingress}, flow.Key{IfIndex: h2, Direction: flow.Egress})
}

// 1-in-10 sampling of 100,000 UDP packets on one observed veth: the
// exported (sampled) packets scaled by 10 fall within 5 standard deviations
// of the truth, and exported + sampled_out_packets is the truth exactly;
// handshake and wire-retransmission tracking are turned off with one warning.
func TestSamplingScalesBackToTheTruth(t *testing.T) {
	const (
		interval = 10
		flows    = 4
		perFlow  = 25_000
		size     = 64
	)
	n, p1, p2, _ := newRoutedIPv4Node(t)
	gipfix := startIPFIXCollector(t, "udp")
	nfcapd := decoders.StartNfcapd(t)
	ag := startAgentWith(t, n, func(c *config.Config) {
		c.SamplingInterval = interval
		c.Veth = false
		c.Interfaces = []string{p1.hostIf.Attrs().Name} // one observation point
	}, gipfix.url("ipfix+udp"), "ipfix+udp://"+nfcapd.Addr().String())
	beforeP, beforeO := vethTotals(t, n, p1)
	for i := range flows {
		sendUDPPaced(t, p1, p2, uint16(7000+i), perFlow, size, 200)
	}
	vethP, vethO := vethTotals(t, n, p1)
	vethP, vethO = vethP-beforeP, vethO-beforeO
	stats := ag.stop(t)
	recs := gipfix.waitRecords(t, stats[gipfix.url("ipfix+udp")].RecordsSent)
	kc := kernelCountersAtExit(t, ag)

	// The truth: the UDP packets sent, which is what the veth carried.
	const truthP, truthO = flows * perFlow, flows * perFlow * (ipHdr4 + udpHdr + size)
	var sampledP, sampledO uint64
	for _, r := range recs {
		sampledP += r.Packets
		sampledO += r.Octets
	}
	if sampledP+kc["sampled_out_packets"] != truthP || sampledO+kc["sampled_out_octets"] != truthO {
		t.Errorf("exported %d packets %d octets + sampled out %d %d; sent %d %d",
			sampledP, sampledO, kc["sampled_out_packets"], kc["sampled_out_octets"], truthP, truthO)
	}
	if vethP != truthP || vethO != truthO {
		t.Errorf("the veth carried %d packets %d IP octets, want the %d %d sent", vethP, vethO, truthP, truthO)
	}
	if kc["filtered_packets"] != 0 {
		t.Errorf("filtered_packets = %d without filters", kc["filtered_packets"])
	}
	p := 1.0 / interval
	sd := interval * math.Sqrt(truthP*p*(1-p))
	if dev := math.Abs(float64(sampledP*interval) - truthP); dev > 5*sd {
		t.Errorf("exported %d × %d = %d packets, truth %d: off by %.0f, more than 5 sd (%.0f)", sampledP, interval, sampledP*interval, truthP, dev, 5*sd)
	}
	t.Logf("exported %d × %d = %d of %d packets (sd of the scaled sum %.0f)", sampledP, interval, sampledP*interval, truthP, sd)
	// Collectors learn the interval from the options records: podflow's
	// own reports it with every record, nfdump scales by it.
	for i, got := range gipfix.samplingIntervals() {
		if got != interval {
			t.Fatalf("record %d (%v) arrived with sampling interval %d, want %d", i, recs[i].Tuple, got, interval)
		}
	}
	var nfP, nfO uint64
	dir := nfcapd.Stop(t)
	for _, r := range decoders.NfdumpRecords(t, dir) {
		nfP += jsonUint(t, r["in_packets"])
		nfO += jsonUint(t, r["in_bytes"])
	}
	if nfP != sampledP*interval || nfO != sampledO*interval {
		t.Errorf("nfdump scaled to %d packets %d octets, want the exported %d %d × %d", nfP, nfO, sampledP, sampledO, interval)
	}
	if errs := nfcapd.SequenceErrors(t, dir); errs != 0 {
		t.Errorf("nfcapd counted %d sequence errors", errs)
	}
	for _, r := range recs {
		if r.Measures.Handshake.Seen || r.Measures.WireRetransPackets != 0 {
			t.Errorf("%v carries TCP state measures with sampling on: %+v", r.Tuple, r.Measures)
		}
	}
	if w := ag.logs.FilterMessageSnippet("packet sampling is on").Len(); w != 1 {
		t.Errorf("%d warnings about TCP tracking turned off, want 1", w)
	}
}

// jsonUint reads one of nfdump's JSON numbers (decoded as json.Number).
func jsonUint(t *testing.T, v any) uint64 {
	t.Helper()
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("nfdump value %v (%T) is not a number", v, v)
	}
	u, err := strconv.ParseUint(n.String(), 10, 64)
	if err != nil {
		t.Fatalf("nfdump value %v: %v", v, err)
	}
	return u
}
