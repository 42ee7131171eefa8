package bpf

import (
	"testing"

	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/pkt"
)

func (h *harness) drainMeasures() map[flow.Key]flow.Entry {
	h.t.Helper()
	entries, err := h.d.Drain(nil, identityClock)
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[flow.Key]flow.Entry{}
	for _, e := range entries {
		out[e.Key] = e
	}
	return out
}

func (h *harness) handshakesHeld() int {
	var k FlowFlowKey
	var v FlowHandshake
	n := 0
	for it := h.objs.Handshakes.Iterate(); it.Next(&k, &v); {
		n++
	}
	return n
}

// SYN in on the interface, SYN-ACK out, ACK in: the client→server flow
// carries both parts of the handshake, the server→client flow none, and the
// handshake's state is gone.
func TestHandshakeTimedOnTheWire(t *testing.T) {
	for _, tc := range []struct {
		name   string
		client pkt.Frame
	}{
		{"ipv4", pkt.Frame{Src: v4a, Dst: v4b, Proto: 6, SrcPort: 40001, DstPort: 443}},
		{"ipv6", pkt.Frame{Src: v6a, Dst: v6b, Proto: 6, SrcPort: 40002, DstPort: 443}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarnessWith(t, LoadOptions{MaxFlows: 1024, TrackHandshakes: true})
			syn, ack, data := tc.client, tc.client, tc.client
			syn.TCPFlags = flow.TCPSyn
			ack.TCPFlags = flow.TCPAck
			data.TCPFlags, data.Payload = flow.TCPAck|flow.TCPPsh, 100
			synack := pkt.Frame{Src: tc.client.Dst, Dst: tc.client.Src, Proto: 6, SrcPort: tc.client.DstPort, DstPort: tc.client.SrcPort,
				TCPFlags: flow.TCPSyn | flow.TCPAck}

			h.run(h.objs.TcIngress, syn.Bytes(), 0)
			h.run(h.objs.TcEgress, synack.Bytes(), 0)
			if n := h.handshakesHeld(); n != 1 {
				t.Fatalf("%d handshakes held after SYN, SYN-ACK; want 1", n)
			}
			h.run(h.objs.TcIngress, ack.Bytes(), 0)
			h.run(h.objs.TcIngress, data.Bytes(), 0)
			got := h.drainMeasures()
			c2s := key(tc.client.Src, tc.client.Dst, tc.client.SrcPort, tc.client.DstPort, 6, flow.Ingress)
			s2c := key(tc.client.Dst, tc.client.Src, tc.client.DstPort, tc.client.SrcPort, 6, flow.Egress)
			hs := got[c2s].Measures.Handshake
			// prog.Run runs back to back: each part is µs, far below a second.
			if !hs.Seen || hs.ServerUs > 1e6 || hs.ClientUs > 1e6 {
				t.Errorf("client→server handshake %+v", hs)
			}
			if got[c2s].Packets != 3 || got[s2c].Packets != 1 {
				t.Errorf("packets c→s %d s→c %d, want 3 and 1", got[c2s].Packets, got[s2c].Packets)
			}
			if got[s2c].Measures.Handshake.Seen {
				t.Errorf("server→client flow carries a handshake: %+v", got[s2c].Measures.Handshake)
			}
			if n := h.handshakesHeld(); n != 0 {
				t.Errorf("%d handshakes still held after the ACK", n)
			}
		})
	}
}

// An ACK without a SYN-ACK seen, or a flow seen only mid-connection, gets
// no handshake; with tracking off, nothing is tracked at all.
func TestHandshakeNeedsAllThreeSteps(t *testing.T) {
	h := newHarnessWith(t, LoadOptions{MaxFlows: 1024, TrackHandshakes: true})
	syn := pkt.Frame{Src: v4a, Dst: v4b, Proto: 6, SrcPort: 40010, DstPort: 80, TCPFlags: flow.TCPSyn}
	ack := syn
	ack.TCPFlags = flow.TCPAck
	h.run(h.objs.TcIngress, syn.Bytes(), 0)
	h.run(h.objs.TcIngress, ack.Bytes(), 0) // no SYN-ACK between
	mid := pkt.Frame{Src: v4a, Dst: v4b, Proto: 6, SrcPort: 40011, DstPort: 80, TCPFlags: flow.TCPAck, Payload: 10}
	h.run(h.objs.TcIngress, mid.Bytes(), 0)
	for k, e := range h.drainMeasures() {
		if e.Measures.Handshake.Seen {
			t.Errorf("%v: handshake %+v without SYN → SYN-ACK → ACK", k, e.Measures.Handshake)
		}
	}

	off := newHarnessWith(t, LoadOptions{MaxFlows: 1024, TrackHandshakes: false})
	off.run(off.objs.TcIngress, syn.Bytes(), 0)
	if n := off.handshakesHeld(); n != 0 {
		t.Errorf("tracking off: %d handshakes held", n)
	}
}
