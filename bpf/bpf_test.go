package bpf

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/pkt"
	"github.com/podflow/podflow/internal/privtest"
)

const tcActUnspec = 0xffffffff // TC_ACT_UNSPEC == TCX_NEXT == -1

var (
	v4a = netip.MustParseAddr("10.0.0.1")
	v4b = netip.MustParseAddr("10.0.0.2")
	v6a = netip.MustParseAddr("fd00::1")
	v6b = netip.MustParseAddr("fd00::2")
)

type harness struct {
	t    *testing.T
	objs *Objects
	d    *Drainer
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessWith(t, LoadOptions{MaxFlows: 1024})
}

func newHarnessWith(t *testing.T, opts LoadOptions) *harness {
	t.Helper()
	privtest.Require(t)
	objs, err := Load(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { objs.Close() })
	d, err := NewDrainer(objs)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, objs: objs, d: d}
}

// Frames stay under a page: BPF_PROG_TEST_RUN refuses larger data.
// skbContext returns a struct __sk_buff for BPF_PROG_TEST_RUN with gso_segs set.
func skbContext(gsoSegs uint32) []byte {
	ctx := make([]byte, 192) // sizeof(struct __sk_buff) on this kernel's uAPI
	binary.LittleEndian.PutUint32(ctx[164:], gsoSegs)
	return ctx
}

func (h *harness) run(prog *ebpf.Program, frame []byte, gsoSegs uint32) {
	h.t.Helper()
	opts := &ebpf.RunOptions{Data: frame, Repeat: 1}
	if gsoSegs > 0 {
		opts.Context = skbContext(gsoSegs)
	}
	ret, err := prog.Run(opts)
	if err != nil {
		h.t.Fatalf("run %d-byte frame: %v", len(frame), err)
	}
	if ret != tcActUnspec {
		h.t.Fatalf("program returned %#x, want TC_ACT_UNSPEC", ret)
	}
}

func identityClock(ns uint64) time.Time { return time.Unix(0, int64(ns)) }

// drain returns the flows counted since the last drain, keyed by flow.Key.
func (h *harness) drain() map[flow.Key]flow.Counters {
	h.t.Helper()
	entries, err := h.d.Drain(nil, identityClock)
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[flow.Key]flow.Counters{}
	for _, e := range entries {
		if _, dup := out[e.Key]; dup {
			h.t.Fatalf("key %+v drained twice", e.Key)
		}
		out[e.Key] = e.Counters
	}
	return out
}

func (h *harness) stats() [FlowFlowStatSTAT_MAX]uint64 {
	h.t.Helper()
	s, err := h.objs.Stats()
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

func key(src, dst netip.Addr, sport, dport uint16, proto uint8, dir flow.Direction) flow.Key {
	return flow.Key{
		Tuple:     flow.Tuple{SrcAddr: src, DstAddr: dst, SrcPort: sport, DstPort: dport, Proto: proto},
		IfIndex:   1, // BPF_PROG_TEST_RUN runs on the loopback device
		Direction: dir,
	}
}

// assertOneFlow checks that exactly one flow was counted, with these values.
func assertOneFlow(t *testing.T, got map[flow.Key]flow.Counters, k flow.Key, packets, octets uint64, flags uint16) {
	t.Helper()
	if len(got) != 1 {
		t.Fatalf("got %d flows %+v, want exactly 1 (%+v)", len(got), got, k)
	}
	c, ok := got[k]
	if !ok {
		t.Fatalf("flow %+v not found; got %+v", k, got)
	}
	if c.Packets != packets || c.Octets != octets || c.TCPFlags != flags {
		t.Fatalf("flow %+v: packets=%d octets=%d flags=%#x, want %d %d %#x", k, c.Packets, c.Octets, c.TCPFlags, packets, octets, flags)
	}
	if c.First.IsZero() || c.Last.Before(c.First) {
		t.Fatalf("flow %+v: bad timestamps first=%v last=%v", k, c.First, c.Last)
	}
}

func TestFramesCountedExactly(t *testing.T) {
	h := newHarness(t)
	in, eg := h.objs.TcIngress, h.objs.TcEgress
	cases := []struct {
		name    string
		prog    *ebpf.Program
		frame   pkt.Frame
		gso     uint32
		key     flow.Key
		packets uint64
		octets  uint64
		flags   uint16
	}{
		{"ipv4 tcp syn", in, pkt.Frame{Src: v4a, Dst: v4b, Proto: 6, SrcPort: 40000, DstPort: 80, TCPFlags: flow.TCPSyn},
			0, key(v4a, v4b, 40000, 80, 6, flow.Ingress), 1, 40, flow.TCPSyn},
		{"ipv4 tcp egress all flags", eg, pkt.Frame{Src: v4a, Dst: v4b, Proto: 6, SrcPort: 1, DstPort: 2, TCPFlags: 0x1ff, Payload: 10},
			0, key(v4a, v4b, 1, 2, 6, flow.Egress), 1, 50, 0x1ff},
		{"ipv6 udp", in, pkt.Frame{Src: v6a, Dst: v6b, Proto: 17, SrcPort: 5353, DstPort: 53, Payload: 100},
			0, key(v6a, v6b, 5353, 53, 17, flow.Ingress), 1, 148, 0},
		{"ipv4 udp", in, pkt.Frame{Src: v4b, Dst: v4a, Proto: 17, SrcPort: 9, DstPort: 10, Payload: 1},
			0, key(v4b, v4a, 9, 10, 17, flow.Ingress), 1, 29, 0},
		{"ipv6 tcp", eg, pkt.Frame{Src: v6b, Dst: v6a, Proto: 6, SrcPort: 443, DstPort: 50000, TCPFlags: flow.TCPAck | flow.TCPPsh, Payload: 1000},
			0, key(v6b, v6a, 443, 50000, 6, flow.Egress), 1, 1060, flow.TCPAck | flow.TCPPsh},
		{"icmp echo", in, pkt.Frame{Src: v4a, Dst: v4b, Proto: 1, ICMPType: 8, Payload: 56},
			0, key(v4a, v4b, 0, 0x0800, 1, flow.Ingress), 1, 84, 0},
		{"icmp port unreachable", in, pkt.Frame{Src: v4a, Dst: v4b, Proto: 1, ICMPType: 3, ICMPCode: 3, Payload: 28},
			0, key(v4a, v4b, 0, 0x0303, 1, flow.Ingress), 1, 56, 0},
		{"icmpv6 echo", in, pkt.Frame{Src: v6a, Dst: v6b, Proto: 58, ICMPType: 128, Payload: 56},
			0, key(v6a, v6b, 0, 0x8000, 58, flow.Ingress), 1, 104, 0},
		{"sctp", in, pkt.Frame{Src: v4a, Dst: v4b, Proto: 132, SrcPort: 3868, DstPort: 3869, Payload: 16},
			0, key(v4a, v4b, 3868, 3869, 132, flow.Ingress), 1, 48, 0},
		{"gre: other protocol by number", in, pkt.Frame{Src: v4a, Dst: v4b, Proto: 47, Payload: 24},
			0, key(v4a, v4b, 0, 0, 47, flow.Ingress), 1, 44, 0},
		{"802.1Q tag", in, pkt.Frame{VLANs: []uint16{100}, Src: v4a, Dst: v4b, Proto: 17, SrcPort: 1, DstPort: 2, Payload: 4},
			0, key(v4a, v4b, 1, 2, 17, flow.Ingress), 1, 32, 0},
		{"802.1ad + 802.1Q tags", in, pkt.Frame{VLANs: []uint16{10, 20}, Src: v6a, Dst: v6b, Proto: 6, SrcPort: 3, DstPort: 4, TCPFlags: flow.TCPAck},
			0, key(v6a, v6b, 3, 4, 6, flow.Ingress), 1, 60, flow.TCPAck},
		{"ipv4 options", in, pkt.Frame{Src: v4a, Dst: v4b, IPOpts: 12, Proto: 6, SrcPort: 5, DstPort: 6, TCPOpts: 12, TCPFlags: flow.TCPSyn},
			0, key(v4a, v4b, 5, 6, 6, flow.Ingress), 1, 64, flow.TCPSyn},
		{"ipv6 hop+dst+routing ext headers", in, pkt.Frame{Src: v6a, Dst: v6b, Exts: []pkt.Ext{{Proto: 0, Len: 8}, {Proto: 60, Len: 16}, {Proto: 43, Len: 24}}, Proto: 6, SrcPort: 7, DstPort: 8, TCPFlags: flow.TCPFin},
			0, key(v6a, v6b, 7, 8, 6, flow.Ingress), 1, 40 + 48 + 20, flow.TCPFin},
		{"ipv6 auth header", in, pkt.Frame{Src: v6a, Dst: v6b, Exts: []pkt.Ext{{Proto: 51, Len: 24}}, Proto: 17, SrcPort: 500, DstPort: 4500, Payload: 3},
			0, key(v6a, v6b, 500, 4500, 17, flow.Ingress), 1, 40 + 24 + 8 + 3, 0},
		{"ipv4 first fragment has ports", in, pkt.Frame{Src: v4a, Dst: v4b, Proto: 17, SrcPort: 11, DstPort: 12, More: true, Payload: 1472},
			0, key(v4a, v4b, 11, 12, 17, flow.Ingress), 1, 1500, 0},
		{"ipv4 later fragment: ports 0", in, pkt.Frame{Src: v4a, Dst: v4b, Proto: 17, SrcPort: 11, DstPort: 12, FragOffset: 185, Payload: 528},
			0, key(v4a, v4b, 0, 0, 17, flow.Ingress), 1, 548, 0},
		{"ipv6 first fragment has ports", in, pkt.Frame{Src: v6a, Dst: v6b, Exts: []pkt.Ext{{Proto: 44, Len: 8, More: true}}, Proto: 17, SrcPort: 13, DstPort: 14, Payload: 1000},
			0, key(v6a, v6b, 13, 14, 17, flow.Ingress), 1, 40 + 8 + 8 + 1000, 0},
		{"ipv6 later fragment: ports 0", in, pkt.Frame{Src: v6a, Dst: v6b, Exts: []pkt.Ext{{Proto: 44, Len: 8, FragOffset: 126}}, Proto: 17, SrcPort: 13, DstPort: 14, Payload: 200},
			0, key(v6a, v6b, 0, 0, 17, flow.Ingress), 1, 40 + 8 + 200, 0},
		{"tcp gso: 3 segments", eg, pkt.Frame{Src: v4a, Dst: v4b, Proto: 6, SrcPort: 20, DstPort: 21, TCPOpts: 12, TCPFlags: flow.TCPAck, Payload: 3 * 1000},
			3, key(v4a, v4b, 20, 21, 6, flow.Egress), 3, 3 * (20 + 32 + 1000), flow.TCPAck},
		{"udp gso: 4 segments ipv6", eg, pkt.Frame{Src: v6a, Dst: v6b, Proto: 17, SrcPort: 30, DstPort: 31, Payload: 4 * 500},
			4, key(v6a, v6b, 30, 31, 17, flow.Egress), 4, 4 * (40 + 8 + 500), 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			before := h.stats()
			h.run(tc.prog, tc.frame.Bytes(), tc.gso)
			assertOneFlow(t, h.drain(), tc.key, tc.packets, tc.octets, tc.flags)
			after := h.stats()
			if after[FlowFlowStatSTAT_MALFORMED_PACKETS] != before[FlowFlowStatSTAT_MALFORMED_PACKETS] ||
				after[FlowFlowStatSTAT_MAP_FULL_PACKETS] != before[FlowFlowStatSTAT_MAP_FULL_PACKETS] {
				t.Fatalf("unexpected malformed/map-full counts: %v → %v", before, after)
			}
		})
	}
}

func TestFlowAggregatesPackets(t *testing.T) {
	h := newHarness(t)
	syn := pkt.Frame{Src: v4a, Dst: v4b, Proto: 6, SrcPort: 1000, DstPort: 22, TCPFlags: flow.TCPSyn}
	ack := syn
	ack.TCPFlags, ack.Payload = flow.TCPAck, 100
	fin := syn
	fin.TCPFlags = flow.TCPFin | flow.TCPAck
	for _, f := range []pkt.Frame{syn, ack, ack, fin} {
		h.run(h.objs.TcIngress, f.Bytes(), 0)
	}
	got := h.drain()
	assertOneFlow(t, got, key(v4a, v4b, 1000, 22, 6, flow.Ingress), 4, 40+140+140+40, flow.TCPSyn|flow.TCPAck|flow.TCPFin)
	if again := h.drain(); len(again) != 0 {
		t.Fatalf("second drain returned %d flows, want 0", len(again))
	}
	// Both maps of the double buffer count: the next packets land in the other map.
	h.run(h.objs.TcIngress, ack.Bytes(), 0)
	assertOneFlow(t, h.drain(), key(v4a, v4b, 1000, 22, 6, flow.Ingress), 1, 140, flow.TCPAck)
}

func TestEthernetPaddingNotCounted(t *testing.T) {
	h := newHarness(t)
	frame := pkt.Frame{Src: v4a, Dst: v4b, Proto: 6, SrcPort: 1, DstPort: 2, TCPFlags: flow.TCPAck}.Bytes()
	frame = append(frame, make([]byte, 60-len(frame))...) // minimum Ethernet frame
	h.run(h.objs.TcIngress, frame, 0)
	assertOneFlow(t, h.drain(), key(v4a, v4b, 1, 2, 6, flow.Ingress), 1, 40, flow.TCPAck)
}

func TestNonIPAndMalformedAreCountedApart(t *testing.T) {
	h := newHarness(t)
	arp := make([]byte, 42)
	binary.BigEndian.PutUint16(arp[12:], 0x0806)
	h.run(h.objs.TcIngress, arp, 0)

	badIHL := pkt.Frame{Src: v4a, Dst: v4b, Proto: 17, SrcPort: 1, DstPort: 2}.Bytes()
	badIHL[14] = 0x44 // IHL 4 < 5
	h.run(h.objs.TcIngress, badIHL, 0)

	badVersion := pkt.Frame{Src: v6a, Dst: v6b, Proto: 17, SrcPort: 1, DstPort: 2}.Bytes()
	badVersion[14] = 0x40 // says IPv4 inside an IPv6 ethertype
	h.run(h.objs.TcIngress, badVersion, 0)

	if got := h.drain(); len(got) != 0 {
		t.Fatalf("counted flows %+v, want none", got)
	}
	s := h.stats()
	want := map[FlowFlowStat]uint64{
		FlowFlowStatSTAT_NON_IP_PACKETS:    1,
		FlowFlowStatSTAT_NON_IP_OCTETS:     42,
		FlowFlowStatSTAT_MALFORMED_PACKETS: 2,
		FlowFlowStatSTAT_MALFORMED_OCTETS:  uint64(len(badIHL) + len(badVersion)),
	}
	for i, v := range s {
		if v != want[FlowFlowStat(i)] {
			t.Errorf("stat %v = %d, want %d", FlowFlowStat(i), v, want[FlowFlowStat(i)])
		}
	}
}

func TestFullMapIsCountedNotSilent(t *testing.T) {
	privtest.Require(t)
	objs, err := Load(LoadOptions{MaxFlows: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer objs.Close()
	d, err := NewDrainer(objs)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, objs: objs, d: d}
	for port := uint16(1); port <= 6; port++ {
		h.run(objs.TcIngress, pkt.Frame{Src: v4a, Dst: v4b, Proto: 17, SrcPort: port, DstPort: 53, Payload: 12}.Bytes(), 0)
	}
	if got := h.drain(); len(got) != 4 {
		t.Fatalf("got %d flows, want 4 (map size)", len(got))
	}
	s := h.stats()
	if s[FlowFlowStatSTAT_MAP_FULL_PACKETS] != 2 || s[FlowFlowStatSTAT_MAP_FULL_OCTETS] != 2*40 {
		t.Fatalf("map-full packets/octets = %d/%d, want 2/80", s[FlowFlowStatSTAT_MAP_FULL_PACKETS], s[FlowFlowStatSTAT_MAP_FULL_OCTETS])
	}
}
