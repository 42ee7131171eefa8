package collector

import (
	"net/netip"
	"testing"
	"time"

	"github.com/podflow/podflow/exporter"
	"github.com/podflow/podflow/exporter/ipfix"
	"github.com/podflow/podflow/flow"
)

// Every measurement group survives podflow's exporter → podflow's
// collector, in the template of its combination, and a record without
// measurements arrives without them.
func TestMeasuresRoundTrip(t *testing.T) {
	c := startCollector(t, "udp://127.0.0.1:0")
	e, err := ipfix.New(ipfix.Config{Network: "udp", Address: c.Addr().String()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()

	at := time.UnixMilli(1_700_000_000_000)
	base := func(src, dst string, proto uint8) flow.Record {
		return flow.Record{
			Key: flow.Key{Tuple: flow.Tuple{SrcAddr: netip.MustParseAddr(src), DstAddr: netip.MustParseAddr(dst),
				SrcPort: 40000, DstPort: 443, Proto: proto}, IfIndex: 7},
			Counters:  flow.Counters{Packets: 10, Octets: 1000, First: at, Last: at.Add(time.Second)},
			EndReason: flow.IdleTimeout,
		}
	}
	all := flow.Measures{RTTSumUs: 3 * 2500, RTTSamples: 3, RTTMinUs: 2000, RTTMaxUs: 3000,
		RetransPackets: 4, RetransOctets: 5792,
		Handshake: flow.Handshake{ServerUs: 1500, ClientUs: 20, Seen: true}}
	all.SetDrop(2, 104, "NETFILTER_DROP", 0)
	retransOnly := flow.Measures{RetransPackets: 1, RetransOctets: 0}
	dropsOnly := flow.Measures{}
	dropsOnly.SetDrop(7, 700, "NO_SOCKET", 0)

	cases := []flow.Record{
		base("10.0.0.1", "10.0.0.2", flow.ProtoTCP),
		base("fd00::1", "fd00::2", flow.ProtoTCP),
		base("10.0.0.1", "10.0.0.2", flow.ProtoUDP),
	}
	cases[0].Measures = all
	cases[1].Measures = all
	cases[1].Measures.RetransPackets = 0 // known zero: the socket was sampled
	r3 := base("fd00::3", "fd00::4", flow.ProtoTCP)
	r3.Measures = retransOnly
	r4 := base("10.0.0.5", "10.0.0.6", flow.ProtoUDP)
	r4.Measures = dropsOnly
	cases = append(cases, r3, r4)

	if err := e.Export(cases); err != nil {
		t.Fatal(err)
	}
	// Each template's records travel in their own message: match by tuple.
	// The exporter's options records (element types) come first.
	byTuple := map[flow.Tuple]Received{}
	for len(byTuple) < len(cases) {
		if r := receive(t, c); !r.Options {
			byTuple[r.Tuple] = r
		}
	}
	for i, want := range cases {
		got := byTuple[want.Tuple]
		wantID := ipfix.TemplateID(want.SrcAddr.Is6(), exporter.GroupsOf(&want))
		if got.TemplateID != wantID {
			t.Errorf("record %d: template %d, want %d", i, got.TemplateID, wantID)
		}
		if got.Measures != want.Measures || got.Extra != nil {
			t.Errorf("record %d: measures\n got %+v extra %v\nwant %+v", i, got.Measures, got.Extra, want.Measures)
		}
		if got.Packets != want.Packets || got.Tuple != want.Tuple {
			t.Errorf("record %d: %v %d packets, want %v %d", i, got.Tuple, got.Packets, want.Tuple, want.Packets)
		}
	}
}
