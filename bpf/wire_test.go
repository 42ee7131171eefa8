package bpf

import (
	"testing"

	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/pkt"
)

// Segments seen again below the highest sequence number reached at the
// observation point count as retransmissions, exactly: data, SYN and FIN;
// pure ACKs never; a GSO skb counts its segments; a SYN with a new ISN on a
// reused 4-tuple starts over.
func TestWireRetransmissionsFromSequenceNumbers(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  pkt.Frame
	}{
		{"ipv4", pkt.Frame{Src: v4a, Dst: v4b, Proto: 6, SrcPort: 41000, DstPort: 80}},
		{"ipv6", pkt.Frame{Src: v6a, Dst: v6b, Proto: 6, SrcPort: 41001, DstPort: 80}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarnessWith(t, LoadOptions{MaxFlows: 1024, TrackWireRetransmits: true})
			seg := func(flags uint16, seq uint32, payload int) pkt.Frame {
				f := tc.src
				f.TCPFlags, f.TCPSeq, f.Payload = flags, seq, payload
				return f
			}
			var isn uint32 = 0xfffffff0 // the sequence space wraps during the test
			steps := []struct {
				f    pkt.Frame
				gso  uint32
				want uint32 // retransmissions counted by this packet
			}{
				{seg(flow.TCPSyn, isn, 0), 0, 0},
				{seg(flow.TCPSyn, isn, 0), 0, 1}, // SYN retransmitted
				{seg(flow.TCPAck, isn+1, 0), 0, 0},
				{seg(flow.TCPAck|flow.TCPPsh, isn+1, 100), 0, 0},
				{seg(flow.TCPAck|flow.TCPPsh, isn+101, 100), 0, 0}, // wraps past 0
				{seg(flow.TCPAck|flow.TCPPsh, isn+1, 100), 0, 1},   // the first data again
				{seg(flow.TCPAck, isn+201, 0), 0, 0},               // pure ACK: never
				{seg(flow.TCPAck, isn+201, 0), 0, 0},
				{seg(flow.TCPAck, isn+201, 3*100), 3, 0}, // GSO, new data
				{seg(flow.TCPAck, isn+201, 3*100), 3, 3}, // GSO, all again
				{seg(flow.TCPAck|flow.TCPFin, isn+501, 0), 0, 0},
				{seg(flow.TCPAck|flow.TCPFin, isn+501, 0), 0, 1}, // FIN retransmitted
				{seg(flow.TCPRst, isn+1, 0), 0, 0},               // RST: never
				{seg(flow.TCPSyn, 12345, 0), 0, 0},               // new connection, new ISN
				{seg(flow.TCPAck|flow.TCPPsh, 12346, 10), 0, 0},
			}
			k := key(tc.src.Src, tc.src.Dst, tc.src.SrcPort, tc.src.DstPort, 6, flow.Ingress)
			for i, s := range steps {
				h.run(h.objs.TcIngress, s.f.Bytes(), s.gso)
				got := h.drainMeasures()[k].Measures.WireRetransPackets
				if got != s.want {
					t.Errorf("step %d (flags %#x seq %#x): %d retransmissions, want %d", i, s.f.TCPFlags, s.f.TCPSeq, got, s.want)
				}
			}
		})
	}
}

func TestWireRetransmissionsOff(t *testing.T) {
	h := newHarnessWith(t, LoadOptions{MaxFlows: 1024})
	f := pkt.Frame{Src: v4a, Dst: v4b, Proto: 6, SrcPort: 41002, DstPort: 80, TCPFlags: flow.TCPAck, TCPSeq: 1, Payload: 10}
	h.run(h.objs.TcIngress, f.Bytes(), 0)
	h.run(h.objs.TcIngress, f.Bytes(), 0)
	for k, e := range h.drainMeasures() {
		if e.Measures.WireRetransPackets != 0 {
			t.Errorf("%v: %d wire retransmissions with tracking off", k, e.Measures.WireRetransPackets)
		}
	}
}
