package e2e

import (
	"testing"
	"time"

	"github.com/podflow/podflow/config"
	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/decoders"
	"github.com/podflow/podflow/internal/delayline"
)

// A one-way delay injected on a routed path: the exported RTT of the
// client→server flow (its socket's smoothed RTT samples) is within ±15% of
// what the client socket reports and ±20% of the delay; the handshake timed
// on the wire at the router's client-side veth puts the delay in its
// server-side part.
func TestRTTMatchesSocketAndInjectedDelay(t *testing.T) {
	const delay = 20 * time.Millisecond
	for _, ipv6 := range []bool{false, true} {
		t.Run(family(ipv6), func(t *testing.T) {
			tp := delayline.New(t, delay)
			col := startIPFIXCollector(t, "udp")
			ts := decoders.NewTshark(t)
			tsURL := "ipfix+udp://" + ts.Addr().String()
			agent := startAgentIn(t, tp.Router, func(c *config.Config) {}, col.url("ipfix+udp"), tsURL)

			info, local, remote := tp.EchoExchange(t, ipv6, 50, 64)
			stats := agent.stop(t)
			recs := col.waitRecords(t, stats[col.url("ipfix+udp")].RecordsSent)
			byTuple := measuresByTuple(recs)
			assertSameMeasures(t, byTuple, tsharkMeasures(t, ts, stats[tsURL].MessagesSent))

			c2s := tupleOf(local, remote, flow.ProtoTCP)
			m := byTuple[c2s]
			t.Logf("client→server: %s; client tcpi_rtt %d µs, tcpi_min_rtt %d µs", describe(m), info.Rtt, info.Min_rtt)
			if !m.HasRTT() {
				t.Fatalf("client→server flow %v carries no RTT", c2s)
			}
			mean := float64(m.RTTMeanUs())
			if !within(mean, float64(info.Rtt), 0.15) {
				t.Errorf("exported mean RTT %.0f µs not within ±15%% of the socket's tcpi_rtt %d µs", mean, info.Rtt)
			}
			if !within(mean, float64(delay.Microseconds()), 0.20) {
				t.Errorf("exported mean RTT %.0f µs not within ±20%% of the injected %s", mean, delay)
			}
			if m.RetransPackets != info.Total_retrans || m.RetransOctets != info.Bytes_retrans {
				t.Errorf("retransmissions %d/%d B, socket says %d/%d B", m.RetransPackets, m.RetransOctets, info.Total_retrans, info.Bytes_retrans)
			}
			hs := m.Handshake
			if !hs.Seen || !within(float64(hs.ServerUs), float64(delay.Microseconds()), 0.20) || hs.ClientUs > hs.ServerUs/10 {
				t.Errorf("handshake at the client side %+v: want the %s in its server part, little in its client part", hs, delay)
			}
			if s2c := byTuple[c2s.Reverse()]; !s2c.HasRTT() || s2c.Handshake.Seen {
				t.Errorf("server→client flow: %s; want the server socket's RTT and no handshake", describe(s2c))
			}
		})
	}
}
