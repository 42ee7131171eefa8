package e2e

import (
	"net/netip"
	"testing"

	"github.com/podflow/podflow/config"
	"github.com/podflow/podflow/exporter"
	"github.com/podflow/podflow/exporter/ipfix"
	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/decoders"
)

// A TCP flow bridged between two pods, observed only on the wire (the
// socket tracepoints are off, as for traffic whose sockets live on another
// node): the client→server flow carries a handshake RTT and nothing else,
// in the template of that group; the server→client flow and a UDP flow
// carry no TCP measurement at all.
func TestHandshakeOnTheWireOnly(t *testing.T) {
	for _, ipv6 := range []bool{false, true} {
		t.Run(family(ipv6), func(t *testing.T) {
			n := newNode(t)
			p1, p2 := n.addBridgedPod(t, 41), n.addBridgedPod(t, 42) // .1 is the bridge
			col := startIPFIXCollector(t, "udp")
			ts := decoders.NewTshark(t)
			tURL := "ipfix+udp://" + ts.Addr().String()
			ag := startAgentWith(t, n, func(c *config.Config) {
				c.TCPRTT, c.TCPRetransmits, c.ProcessContext, c.NATContext = false, false, false, false
			}, col.url("ipfix+udp"), tURL)

			dst := p2.v4
			if ipv6 {
				dst = p2.v6
			}
			res := sendTCP(t, p1, p2, dst, 8443, 20_000)
			udp := sendUDP(t, p1, p2, dst, 5353, 5, 50)
			stats := ag.stop(t)
			byTuple := measuresByTuple(col.waitRecords(t, stats[col.url("ipfix+udp")].RecordsSent))
			assertSameMeasures(t, byTuple, tsharkMeasures(t, ts, stats[tURL].MessagesSent))

			c2s := tupleOf(res.local, netip.AddrPortFrom(dst, 8443), flow.ProtoTCP)
			m := byTuple[c2s]
			t.Logf("client→server on the wire: %s", describe(m))
			// Bridged pods on one node: the handshake takes µs, not seconds.
			if !m.Handshake.Seen || m.Handshake.ServerUs == 0 || m.Handshake.ServerUs > 1e6 || m.Handshake.ClientUs > 1e6 {
				t.Errorf("client→server flow carries no plausible handshake: %+v", m.Handshake)
			}
			if m.HasRTT() || m.HasRetrans() {
				t.Errorf("socket measurements with the tracepoints off: %s", describe(m))
			}
			for _, tu := range []flow.Tuple{c2s.Reverse(), tupleOf(udp, netip.AddrPortFrom(dst, 5353), flow.ProtoUDP)} {
				if o := byTuple[tu]; o.HasRTT() || o.HasRetrans() || o.Handshake.Seen {
					t.Errorf("%v carries TCP measurements: %s", tu, describe(o))
				}
			}
			// Its records use the base template, and the handshake's own
			// template for the record holding the handshake.
			wantHS, base := ipfix.TemplateID(ipv6, exporter.GroupHandshake), ipfix.TemplateID(ipv6, 0)
			seen := false
			for _, id := range col.templatesOf(c2s) {
				seen = seen || id == wantHS
				if id != wantHS && id != base {
					t.Errorf("%v exported in template %d, want %d or %d", c2s, id, wantHS, base)
				}
			}
			if !seen {
				t.Errorf("no record of %v in template %d", c2s, wantHS)
			}
		})
	}
}
