package bpf

import (
	"math"
	"net/netip"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/pkt"
)

var (
	a10_2  = netip.MustParseAddr("10.2.0.1")
	a10_1  = netip.MustParseAddr("10.1.0.5")
	a192   = netip.MustParseAddr("192.168.0.1")
	a172   = netip.MustParseAddr("172.16.0.1")
	fdBad  = netip.MustParseAddr("fd00:bad::1")
	fdGood = netip.MustParseAddr("fd00:1::1")
	doc6   = netip.MustParseAddr("2001:db8::1")
	doc6b  = netip.MustParseAddr("2001:db8::2")
	mapped = netip.MustParseAddr("::ffff:10.2.0.1") // an IPv6 packet's address
)

func prefixes(s ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(s))
	for i, p := range s {
		out[i] = netip.MustParsePrefix(p)
	}
	return out
}

func udp(src, dst netip.Addr, sport, dport uint16) pkt.Frame {
	return pkt.Frame{Src: src, Dst: dst, Proto: 17, SrcPort: sport, DstPort: dport, Payload: 20}
}

func tcp(src, dst netip.Addr, sport, dport uint16, flags uint16) pkt.Frame {
	return pkt.Frame{Src: src, Dst: dst, Proto: 6, SrcPort: sport, DstPort: dport, TCPFlags: flags, Payload: 10}
}

func icmp(src, dst netip.Addr) pkt.Frame {
	if src.Is4() {
		return pkt.Frame{Src: src, Dst: dst, Proto: 1, ICMPType: 8, Payload: 56}
	}
	return pkt.Frame{Src: src, Dst: dst, Proto: 58, ICMPType: 128, Payload: 56}
}

// ipOctets is what the programs count for an unpadded, untagged frame.
func ipOctets(f pkt.Frame) uint64 { return uint64(len(f.Bytes()) - 14) }

// entries counts the keys of a map (per-CPU values or not).
func entries[V any](t *testing.T, m *ebpf.Map) int {
	t.Helper()
	var k FlowFlowKey
	var v V
	n := 0
	it := m.Iterate()
	for it.Next(&k, &v) {
		n++
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// state counts the entries of the flow, handshake and sequence maps.
func (h *harness) state() map[string]int {
	h.t.Helper()
	return map[string]int{
		"flows_a":    entries[[]FlowFlowVal](h.t, h.objs.FlowsA),
		"flows_b":    entries[[]FlowFlowVal](h.t, h.objs.FlowsB),
		"handshakes": entries[FlowHandshake](h.t, h.objs.Handshakes),
		"tcp_seqs":   entries[FlowSeqState](h.t, h.objs.TcpSeqs),
	}
}

// assertNoState checks that no flow, handshake or sequence state exists.
func (h *harness) assertNoState() {
	h.t.Helper()
	for name, n := range h.state() {
		if n != 0 {
			h.t.Fatalf("%s holds %d entries, want 0", name, n)
		}
	}
}

type filterCase struct {
	name  string
	frame pkt.Frame
	kept  bool
}

// checkFilter runs each frame once and checks it was accounted in its own
// flow, exactly, or excluded: no flow, and the filtered stats grew by
// exactly its packet and octets.
func checkFilter(t *testing.T, f Filter, cases []filterCase) {
	t.Helper()
	h := newHarnessWith(t, LoadOptions{MaxFlows: 1024, Filter: f, TrackHandshakes: true, TrackWireRetransmits: true})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			before, held := h.stats(), h.state()
			h.run(h.objs.TcIngress, tc.frame.Bytes(), 0)
			after, nowHeld := h.stats(), h.state()
			fp := after[FlowFlowStatSTAT_FILTERED_PACKETS] - before[FlowFlowStatSTAT_FILTERED_PACKETS]
			fo := after[FlowFlowStatSTAT_FILTERED_OCTETS] - before[FlowFlowStatSTAT_FILTERED_OCTETS]
			got := h.drain()
			if !tc.kept {
				if len(got) != 0 || fp != 1 || fo != ipOctets(tc.frame) {
					t.Fatalf("want excluded: flows %+v, filtered %d packets %d octets (want 0 flows, 1, %d)", got, fp, fo, ipOctets(tc.frame))
				}
				for name, n := range nowHeld {
					if n != held[name] {
						t.Fatalf("excluded packet changed %s: %d entries, before %d", name, n, held[name])
					}
				}
				return
			}
			if fp != 0 || fo != 0 {
				t.Fatalf("want kept: filtered %d packets %d octets", fp, fo)
			}
			if len(got) != 1 {
				t.Fatalf("want kept: %d flows %+v", len(got), got)
			}
			for _, c := range got {
				if c.Packets != 1 || c.Octets != ipOctets(tc.frame) {
					t.Fatalf("kept flow counted %d packets %d octets, want 1 %d", c.Packets, c.Octets, ipOctets(tc.frame))
				}
			}
		})
	}
}

func TestFilterCIDRAllowAndLongerDeny(t *testing.T) {
	checkFilter(t, Filter{AllowCIDRs: prefixes("10.0.0.0/8"), DenyCIDRs: prefixes("10.1.0.0/16")}, []filterCase{
		{"allowed source", udp(a10_2, a192, 1, 2), true},
		{"allowed destination", udp(a192, a10_2, 1, 2), true},
		{"both allowed", tcp(a10_2, v4a, 1, 2, flow.TCPSyn), true},
		{"denied source within allowed /8", udp(a10_1, a10_2, 1, 2), false},
		{"denied destination within allowed /8", tcp(a10_2, a10_1, 1, 2, flow.TCPSyn), false},
		{"no address allowed", udp(a192, a172, 1, 2), false},
		{"icmp allowed", icmp(a10_2, a192), true},
		{"ipv6: ipv4 rules do not cover it", udp(v6a, v6b, 1, 2), false},
		{"ipv6 with ipv4-mapped address: not an ipv4 packet", udp(mapped, v6b, 1, 2), false},
	})
}

func TestFilterCIDRDenyOnly(t *testing.T) {
	checkFilter(t, Filter{DenyCIDRs: prefixes("10.1.0.0/16", "fd00:bad::/32", "192.168.0.1/32")}, []filterCase{
		{"denied ipv4 source", udp(a10_1, a10_2, 1, 2), false},
		{"denied ipv4 host destination", udp(a10_2, a192, 1, 2), false},
		{"other ipv4", udp(a10_2, a172, 1, 2), true},
		{"denied ipv6 source", tcp(fdBad, fdGood, 1, 2, flow.TCPSyn), false},
		{"denied ipv6 destination", icmp(fdGood, fdBad), false},
		{"other ipv6", udp(fdGood, doc6, 1, 2), true},
	})
}

func TestFilterCIDRIPv6(t *testing.T) {
	checkFilter(t, Filter{AllowCIDRs: prefixes("fd00::/16"), DenyCIDRs: prefixes("fd00:bad::/32")}, []filterCase{
		{"allowed source", udp(fdGood, doc6, 1, 2), true},
		{"allowed destination", icmp(doc6, fdGood), true},
		{"denied beats allowed", udp(fdBad, fdGood, 1, 2), false},
		{"not allowed", udp(doc6, doc6b, 1, 2), false},
		{"ipv4 not covered by ipv6 rules", udp(v4a, v4b, 1, 2), false},
	})
	checkFilter(t, Filter{DenyCIDRs: prefixes("::/0")}, []filterCase{
		{"::/0 denies ipv6", udp(fdGood, doc6, 1, 2), false},
		{"::/0 keeps ipv4", udp(v4a, v4b, 1, 2), true},
	})
	checkFilter(t, Filter{AllowCIDRs: prefixes("0.0.0.0/0")}, []filterCase{
		{"0.0.0.0/0 allows ipv4", udp(a192, a172, 1, 2), true},
		{"0.0.0.0/0 excludes ipv6", udp(fdGood, doc6, 1, 2), false},
	})
}

func TestFilterCIDREqualPrefixesDenyWins(t *testing.T) {
	checkFilter(t, Filter{AllowCIDRs: prefixes("10.2.0.0/16", "fd00::/8"), DenyCIDRs: prefixes("10.2.0.0/16")}, []filterCase{
		{"denied", udp(a10_2, a192, 1, 2), false},
		{"allowed by the other rule", udp(fdGood, doc6, 1, 2), true},
	})
}

func TestFilterProtocols(t *testing.T) {
	gre := pkt.Frame{Src: v4a, Dst: v4b, Proto: 47, Payload: 24}
	checkFilter(t, Filter{AllowProtocols: []uint8{6, 17}}, []filterCase{
		{"tcp allowed", tcp(v4a, v4b, 1, 2, flow.TCPAck), true},
		{"udp6 allowed", udp(v6a, v6b, 1, 2), true},
		{"icmp excluded", icmp(v4a, v4b), false},
		{"icmpv6 excluded", icmp(v6a, v6b), false},
		{"gre excluded", gre, false},
	})
	checkFilter(t, Filter{DenyProtocols: []uint8{1, 58}}, []filterCase{
		{"icmp denied", icmp(v4a, v4b), false},
		{"icmpv6 denied", icmp(v6a, v6b), false},
		{"tcp kept", tcp(v6a, v6b, 1, 2, flow.TCPAck), true},
		{"gre kept", gre, true},
	})
	checkFilter(t, Filter{AllowProtocols: []uint8{17, 6}, DenyProtocols: []uint8{17}}, []filterCase{
		{"allowed and denied: deny wins", udp(v4a, v4b, 1, 2), false},
		{"tcp allowed", tcp(v4a, v4b, 1, 2, flow.TCPAck), true},
	})
}

func TestFilterPorts(t *testing.T) {
	later := pkt.Frame{Src: v4a, Dst: v4b, Proto: 17, SrcPort: 53, DstPort: 53, FragOffset: 185, Payload: 100}
	truncated := pkt.Frame{Src: v4a, Dst: v4b, Proto: 17, SrcPort: 53, DstPort: 53}.Bytes()[:14+20+4]
	checkFilter(t, Filter{AllowPorts: []PortRange{{1, 1023}}, DenyPorts: []PortRange{{22, 22}}}, []filterCase{
		{"destination allowed", tcp(v4a, v4b, 40000, 80, flow.TCPSyn), true},
		{"source allowed", udp(v6a, v6b, 53, 40000), true},
		{"denied destination inside allowed range", tcp(v4a, v4b, 40000, 22, flow.TCPSyn), false},
		{"denied source, allowed destination", tcp(v4a, v4b, 22, 80, flow.TCPAck), false},
		{"neither allowed", udp(v4a, v4b, 40000, 50000), false},
		{"icmp has no ports: excluded by allows", icmp(v4a, v4b), false},
		{"icmpv6 has no ports: excluded by allows", icmp(v6a, v6b), false},
		{"later fragment has no ports", later, false},
		{"port 0 is not 'no port'", udp(v4a, v4b, 0, 443), true},
	})
	h := newHarnessWith(t, LoadOptions{MaxFlows: 1024, Filter: Filter{AllowPorts: []PortRange{{53, 53}}}})
	h.run(h.objs.TcIngress, truncated, 0)
	if s := h.stats(); s[FlowFlowStatSTAT_FILTERED_PACKETS] != 1 || len(h.drain()) != 0 {
		t.Fatalf("truncated UDP header (no ports): filtered %d, want 1", s[FlowFlowStatSTAT_FILTERED_PACKETS])
	}

	checkFilter(t, Filter{DenyPorts: []PortRange{{53, 53}, {6000, 6100}}}, []filterCase{
		{"denied destination", udp(v4a, v4b, 40000, 53), false},
		{"denied source in range", tcp(v6a, v6b, 6100, 80, flow.TCPAck), false},
		{"range edge + 1 kept", tcp(v6a, v6b, 6101, 80, flow.TCPAck), true},
		{"icmp kept by denies", icmp(v4a, v4b), true},
		{"later fragment kept by denies", later, true},
	})
	// The narrowest range wins: a hole allowed inside a denied range.
	checkFilter(t, Filter{AllowPorts: []PortRange{{0, 65535}, {6063, 6063}}, DenyPorts: []PortRange{{6000, 6100}}}, []filterCase{
		{"allowed hole", udp(v4a, v4b, 6063, 65535), true},
		{"denied range", udp(v4a, v4b, 6050, 65535), false},
		{"outside the denied range", udp(v4a, v4b, 5999, 0), true},
	})
}

// Excluded TCP traffic of every kind (SYN, SYN-ACK, data, FIN) creates no
// flow, no handshake and no sequence state, though tracking is on; the
// filtered stats hold exactly its packets and octets. The same traffic
// allowed does create that state.
func TestExcludedTrafficNeverReachesTheMaps(t *testing.T) {
	f := Filter{DenyCIDRs: prefixes("10.1.0.0/16"), AllowProtocols: []uint8{6}, AllowPorts: []PortRange{{443, 443}}}
	h := newHarnessWith(t, LoadOptions{MaxFlows: 1024, Filter: f, TrackHandshakes: true, TrackWireRetransmits: true})
	conversation := func(client, server netip.Addr, port uint16) []pkt.Frame {
		syn := tcp(client, server, 40000, port, flow.TCPSyn)
		syn.Payload = 0
		synack := tcp(server, client, port, 40000, flow.TCPSyn|flow.TCPAck)
		synack.Payload = 0
		data := tcp(client, server, 40000, port, flow.TCPAck|flow.TCPPsh)
		data.TCPSeq, data.Payload = 1, 500
		fin := tcp(client, server, 40000, port, flow.TCPFin|flow.TCPAck)
		fin.TCPSeq, fin.Payload = 501, 0
		return []pkt.Frame{syn, synack, data, data, fin} // data twice: a retransmission
	}
	var excluded []pkt.Frame
	excluded = append(excluded, conversation(a10_1, a10_2, 443)...) // denied address
	excluded = append(excluded, conversation(a10_2, a192, 80)...)   // port not allowed
	excluded = append(excluded, udp(a10_2, a192, 443, 443), icmp(a10_2, a192))
	var packets, octets uint64
	for _, fr := range excluded {
		h.run(h.objs.TcIngress, fr.Bytes(), 0)
		packets++
		octets += ipOctets(fr)
	}
	h.assertNoState()
	s := h.stats()
	if s[FlowFlowStatSTAT_FILTERED_PACKETS] != packets || s[FlowFlowStatSTAT_FILTERED_OCTETS] != octets {
		t.Fatalf("filtered %d packets %d octets, want %d %d", s[FlowFlowStatSTAT_FILTERED_PACKETS], s[FlowFlowStatSTAT_FILTERED_OCTETS], packets, octets)
	}
	for i, v := range s {
		if i != int(FlowFlowStatSTAT_FILTERED_PACKETS) && i != int(FlowFlowStatSTAT_FILTERED_OCTETS) && v != 0 {
			t.Errorf("stat %s = %d, want 0", StatNames[i], v)
		}
	}

	allowed := conversation(a10_2, a192, 443)
	h.run(h.objs.TcIngress, allowed[0].Bytes(), 0)
	if n := entries[FlowSeqState](t, h.objs.TcpSeqs); n != 1 {
		t.Fatalf("allowed SYN: %d sequence states, want 1", n)
	}
	if n := entries[FlowHandshake](t, h.objs.Handshakes); n != 1 {
		t.Fatalf("allowed SYN: %d handshakes, want 1", n)
	}
	assertOneFlow(t, h.drain(), key(a10_2, a192, 40000, 443, 6, flow.Ingress), 1, 40, flow.TCPSyn)
}

// runRepeat runs prog n times on frame in one BPF_PROG_TEST_RUN.
func (h *harness) runRepeat(prog *ebpf.Program, frame []byte, n uint32) {
	h.t.Helper()
	ret, err := prog.Run(&ebpf.RunOptions{Data: frame, Repeat: n})
	if err != nil {
		h.t.Fatalf("run %d-byte frame ×%d: %v", len(frame), n, err)
	}
	if ret != tcActUnspec {
		h.t.Fatalf("program returned %#x, want TC_ACT_UNSPEC", ret)
	}
}

func TestSamplingOneInOneCountsEverything(t *testing.T) {
	for _, n := range []uint32{0, 1} {
		h := newHarnessWith(t, LoadOptions{MaxFlows: 1024, SamplingInterval: n})
		f := udp(v4a, v4b, 1, 2)
		h.runRepeat(h.objs.TcIngress, f.Bytes(), 1000)
		assertOneFlow(t, h.drain(), key(v4a, v4b, 1, 2, 17, flow.Ingress), 1000, 1000*ipOctets(f), 0)
		if s := h.stats(); s[FlowFlowStatSTAT_SAMPLED_OUT_PACKETS] != 0 || s[FlowFlowStatSTAT_SAMPLED_OUT_OCTETS] != 0 {
			t.Fatalf("interval %d: sampled out %d packets", n, s[FlowFlowStatSTAT_SAMPLED_OUT_PACKETS])
		}
	}
}

// 1-in-8 over 200,000 packets: the sampled count is Binomial(n, 1/8); it
// must fall within 5 standard deviations of n/8, and sampled + sampled out
// is every packet, exactly.
func TestSamplingOneInEight(t *testing.T) {
	const n, interval = 200_000, 8
	h := newHarnessWith(t, LoadOptions{MaxFlows: 1024, SamplingInterval: interval})
	f := udp(v6a, v6b, 5353, 53)
	h.runRepeat(h.objs.TcIngress, f.Bytes(), n)
	got := h.drain()
	c := got[key(v6a, v6b, 5353, 53, 17, flow.Ingress)]
	if len(got) != 1 || c.Packets == 0 {
		t.Fatalf("flows %+v, want the one sampled flow", got)
	}
	p := 1.0 / interval
	sd := math.Sqrt(n * p * (1 - p))
	if dev := math.Abs(float64(c.Packets) - n*p); dev > 5*sd {
		t.Fatalf("sampled %d of %d, want %.0f ± 5×%.1f", c.Packets, n, n*p, sd)
	}
	s := h.stats()
	if c.Packets+s[FlowFlowStatSTAT_SAMPLED_OUT_PACKETS] != n ||
		c.Octets+s[FlowFlowStatSTAT_SAMPLED_OUT_OCTETS] != n*ipOctets(f) {
		t.Fatalf("sampled %d + out %d packets, %d + %d octets; want %d, %d",
			c.Packets, s[FlowFlowStatSTAT_SAMPLED_OUT_PACKETS], c.Octets, s[FlowFlowStatSTAT_SAMPLED_OUT_OCTETS], n, n*ipOctets(f))
	}
	t.Logf("sampled %d of %d (expected %.0f, sd %.1f)", c.Packets, n, n*p, sd)
}

// Sampling comes after the filters (an excluded packet is filtered, not
// sampled out) and turns the TCP state tracking off.
func TestSamplingAfterFiltersWithoutTCPState(t *testing.T) {
	h := newHarnessWith(t, LoadOptions{MaxFlows: 1024, SamplingInterval: 2, TrackHandshakes: true, TrackWireRetransmits: true,
		Filter: Filter{DenyProtocols: []uint8{17}}})
	denied := udp(v4a, v4b, 1, 2)
	h.runRepeat(h.objs.TcIngress, denied.Bytes(), 1000)
	s := h.stats()
	if s[FlowFlowStatSTAT_FILTERED_PACKETS] != 1000 || s[FlowFlowStatSTAT_SAMPLED_OUT_PACKETS] != 0 {
		t.Fatalf("filtered %d, sampled out %d; want 1000, 0", s[FlowFlowStatSTAT_FILTERED_PACKETS], s[FlowFlowStatSTAT_SAMPLED_OUT_PACKETS])
	}
	syn := tcp(v4a, v4b, 40000, 443, flow.TCPSyn)
	h.runRepeat(h.objs.TcIngress, syn.Bytes(), 1000)
	if n := entries[FlowHandshake](t, h.objs.Handshakes) + entries[FlowSeqState](t, h.objs.TcpSeqs); n != 0 {
		t.Fatalf("%d handshake/sequence entries with sampling on, want 0", n)
	}
	c := h.drain()[key(v4a, v4b, 40000, 443, 6, flow.Ingress)]
	if out := h.stats()[FlowFlowStatSTAT_SAMPLED_OUT_PACKETS]; c.Packets+out != 1000 || c.Packets == 0 || out == 0 {
		t.Fatalf("sampled %d + out %d, want 1000 with both non-zero", c.Packets, out)
	}
}
