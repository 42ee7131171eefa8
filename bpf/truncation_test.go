package bpf

import (
	"testing"

	"github.com/cilium/ebpf"

	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/pkt"
)

// truncCase describes where a frame's headers end, so the expected outcome of
// every truncation can be derived: below any of l3Needs the packet cannot be
// attributed (malformed), below l4End it is counted with ports 0.
type truncCase struct {
	name    string
	frame   pkt.Frame
	l3Off   int   // L2 header length
	l3Needs []int // frame lengths the L3 parse needs, one per header it reads
	l4End   int   // frame length at which the L4 header is whole
	full    flow.Key
}

func TestEveryTruncationOfAValidFrame(t *testing.T) {
	h := newHarness(t)
	cases := []truncCase{
		{
			name:    "vlan ipv4 options tcp",
			frame:   pkt.Frame{VLANs: []uint16{7}, Src: v4a, Dst: v4b, IPOpts: 12, Proto: 6, SrcPort: 100, DstPort: 200, TCPFlags: flow.TCPSyn | flow.TCPAck, Payload: 5},
			l3Off:   18,
			l3Needs: []int{18 + 20, 18 + 32},
			l4End:   18 + 32 + 20,
			full:    key(v4a, v4b, 100, 200, 6, flow.Ingress),
		},
		{
			name:    "ipv6 ext headers udp",
			frame:   pkt.Frame{Src: v6a, Dst: v6b, Exts: []pkt.Ext{{Proto: 0, Len: 8}, {Proto: 60, Len: 16}}, Proto: 17, SrcPort: 300, DstPort: 400, Payload: 3},
			l3Off:   14,
			l3Needs: []int{14 + 40, 54 + 2, 62 + 2},
			l4End:   78 + 8,
			full:    key(v6a, v6b, 300, 400, 17, flow.Ingress),
		},
		{
			name:    "vlan ipv6 ext headers udp",
			frame:   pkt.Frame{VLANs: []uint16{9}, Src: v6a, Dst: v6b, Exts: []pkt.Ext{{Proto: 43, Len: 16}, {Proto: 44, Len: 8, More: true}}, Proto: 17, SrcPort: 5, DstPort: 6, Payload: 2},
			l3Off:   18,
			l3Needs: []int{18 + 40, 58 + 2, 74 + 8},
			l4End:   82 + 8,
			full:    key(v6a, v6b, 5, 6, 17, flow.Ingress),
		},
		{
			name:    "ipv4 icmp",
			frame:   pkt.Frame{Src: v4a, Dst: v4b, Proto: 1, ICMPType: 8, Payload: 4},
			l3Off:   14,
			l3Needs: []int{14 + 20},
			l4End:   14 + 20 + 4,
			full:    key(v4a, v4b, 0, 0x0800, 1, flow.Ingress),
		},
		{
			name:    "ipv6 tcp",
			frame:   pkt.Frame{Src: v6a, Dst: v6b, Proto: 6, SrcPort: 1, DstPort: 2, TCPFlags: flow.TCPRst},
			l3Off:   14,
			l3Needs: []int{14 + 40},
			l4End:   14 + 40 + 20,
			full:    key(v6a, v6b, 1, 2, 6, flow.Ingress),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			whole := tc.frame.Bytes()
			for n := 0; n < len(whole); n++ {
				checkTruncation(t, h, tc, whole[:n])
			}
		})
	}
}

func checkTruncation(t *testing.T, h *harness, tc truncCase, frame []byte) {
	t.Helper()
	n := len(frame)
	// BPF_PROG_TEST_RUN refuses runts, and untagged IPv4/IPv6 frames whose
	// base IP header is cut: those lengths never reach the program here.
	// The tagged case exercises the parser's handling of them instead.
	if n < 14 || (len(tc.frame.VLANs) == 0 && n < tc.l3Needs[0]) {
		if _, err := h.objs.TcIngress.Run(&ebpf.RunOptions{Data: frame}); err == nil {
			t.Fatalf("%d-byte frame: BPF_PROG_TEST_RUN accepted it; test it through the program instead", n)
		}
		return
	}
	before := h.stats()
	h.run(h.objs.TcIngress, frame, 0)
	got := h.drain()
	after := h.stats()
	delta := func(s FlowFlowStat) uint64 { return after[s] - before[s] }

	malformed := false
	for _, need := range tc.l3Needs {
		if n < need {
			malformed = true
		}
	}
	if n < tc.l3Off {
		malformed = true
	}
	switch {
	case malformed:
		if len(got) != 0 || delta(FlowFlowStatSTAT_MALFORMED_PACKETS) != 1 || delta(FlowFlowStatSTAT_MALFORMED_OCTETS) != uint64(n) {
			t.Fatalf("%d bytes: want malformed (1 packet, %d octets) and no flow; got flows %+v, malformed %d/%d",
				n, n, got, delta(FlowFlowStatSTAT_MALFORMED_PACKETS), delta(FlowFlowStatSTAT_MALFORMED_OCTETS))
		}
	case n < tc.l4End:
		k := tc.full
		k.SrcPort, k.DstPort = 0, 0
		assertOneFlow(t, got, k, 1, uint64(n-tc.l3Off), 0)
		if delta(FlowFlowStatSTAT_L4TRUNCATED_PACKETS) != 1 || delta(FlowFlowStatSTAT_MALFORMED_PACKETS) != 0 {
			t.Fatalf("%d bytes: want one L4-truncated packet, got stats %v → %v", n, before, after)
		}
	default:
		assertOneFlow(t, got, tc.full, 1, uint64(n-tc.l3Off), tc.frame.TCPFlags)
		if delta(FlowFlowStatSTAT_L4TRUNCATED_PACKETS) != 0 || delta(FlowFlowStatSTAT_MALFORMED_PACKETS) != 0 {
			t.Fatalf("%d bytes: want a clean count, got stats %v → %v", n, before, after)
		}
	}
}
