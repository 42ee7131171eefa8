package netflow9

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/netflowtest"
)

// mixedRecords returns n records alternating IPv4 and IPv6 (a v4/v6 mix
// every fifth record, sent as IPv6), with packet counts 1..n as ids.
func mixedRecords(n int) []flow.Record {
	recs := make([]flow.Record, n)
	for i := range recs {
		w := netflowtest.Truth{Src: "10.0.0.1", Dst: "10.0.0.2", SrcPort: 1000, DstPort: 80, Proto: flow.ProtoTCP,
			First: time.Second, Last: 2 * time.Second}
		switch {
		case i%5 == 4:
			w.Src, w.Dst = "10.0.0.1", "fd00::2"
		case i%2 == 1:
			w.Src, w.Dst = "fd00::1", "fd00::2"
		}
		w.Packets, w.Octets = uint64(i+1), uint64(i+1)*100
		recs[i] = w.Record()
	}
	return recs
}

func TestPacketsFillTheMTU(t *testing.T) {
	for _, tc := range []struct {
		mtu, limit            int
		perV4, perV6, firstV4 int
	}{
		// 1500-28 = 1472 octets: (1472-20-4)/50 = 28 IPv4 or 19 IPv6 records,
		// (1472-20-132-4)/50 = 26 IPv4 in the packet with the templates.
		{mtu: 1500, limit: 1472, perV4: 28, perV6: 19, firstV4: 26},
		// 576-28 = 548 octets: 10 IPv4 or 7 IPv6 records, 7 IPv4 after templates.
		{mtu: 576, limit: 548, perV4: 10, perV6: 7, firstV4: 7},
	} {
		clock := flow.NewFakeClock(netflowtest.Boot.Add(time.Minute))
		e, conn := newCaptured(t, Config{Boot: netflowtest.Boot, Now: clock.Now, MTU: tc.mtu, TemplateRefreshPackets: 1000})
		const n = 1000
		if err := e.Export(mixedRecords(n)); err != nil {
			t.Fatal(err)
		}
		packets := conn.Packets()
		parsed, err := parseAll(packets)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[uint64]int{}
		most := map[uint16]int{}
		for i, p := range parsed {
			if len(packets[i]) > tc.limit {
				t.Errorf("mtu %d: packet %d is %d octets", tc.mtu, i, len(packets[i]))
			}
			if p.header.seq != uint32(i) {
				t.Errorf("mtu %d: packet %d has sequence %d", tc.mtu, i, p.header.seq)
			}
			per := map[uint16]int{}
			for _, r := range p.records {
				seen[r.packets]++
				per[r.template]++
				want := TemplateIDIPv4
				if r.packets%2 == 0 || r.packets%5 == 0 {
					want = TemplateIDIPv6
				}
				if r.template != want {
					t.Errorf("mtu %d: record %d sent with template %d", tc.mtu, r.packets, r.template)
				}
			}
			if i == 0 && per[TemplateIDIPv4] != tc.firstV4 {
				t.Errorf("mtu %d: %d IPv4 records after the templates, want %d", tc.mtu, per[TemplateIDIPv4], tc.firstV4)
			}
			for id, k := range per {
				most[id] = max(most[id], k)
			}
		}
		for id := uint64(1); id <= n; id++ {
			if seen[id] != 1 {
				t.Errorf("mtu %d: record %d arrived %d times", tc.mtu, id, seen[id])
			}
		}
		if most[TemplateIDIPv4] != tc.perV4 || most[TemplateIDIPv6] != tc.perV6 {
			t.Errorf("mtu %d: at most %d IPv4 and %d IPv6 records per packet, want %d and %d",
				tc.mtu, most[TemplateIDIPv4], most[TemplateIDIPv6], tc.perV4, tc.perV6)
		}
		if s := e.Stats(); s.RecordsSent != n || s.RecordsLost != 0 || s.MessagesSent != uint64(len(packets)) ||
			s.TemplatesSent != 2 || s.SendErrors != 0 {
			t.Errorf("mtu %d: stats %+v for %d packets", tc.mtu, s, len(packets))
		}
	}
}

func TestMTUTooSmallForTemplatesAndARecord(t *testing.T) {
	// 20 header + 132 templates + 4 FlowSet header + 76 (74 padded) = 232.
	if _, err := New(Config{Address: "127.0.0.1:2055", MTU: 232 + 28 - 1}, nil); err == nil {
		t.Error("New accepted an MTU that cannot carry the templates and one IPv6 record")
	}
	e, err := New(Config{Address: "127.0.0.1:2055", MTU: 232 + 28}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	// A host name may resolve to IPv6: 40+8 octets of headers are assumed.
	if got := packetLimit(1500, "collector.example:2055"); got != 1452 {
		t.Errorf("limit to a host name: %d, want 1452", got)
	}
	if got := packetLimit(1500, "[::1]:2055"); got != 1452 {
		t.Errorf("limit to ::1: %d, want 1452", got)
	}
}

func TestInvalidAddressesAndClosedExporterAreCountedLost(t *testing.T) {
	clock := flow.NewFakeClock(netflowtest.Boot.Add(time.Minute))
	e, conn := newCaptured(t, Config{Boot: netflowtest.Boot, Now: clock.Now})
	bad := oneRecord(1)[0]
	bad.DstAddr = netip.Addr{}
	err := e.Export(append([]flow.Record{bad}, oneRecord(2)...))
	if err == nil || !strings.Contains(err.Error(), "1 of 2 records") {
		t.Fatalf("Export = %v, want 1 of 2 records not sent", err)
	}
	if s := e.Stats(); s.RecordsLost != 1 || s.RecordsSent != 1 || len(conn.Packets()) != 1 {
		t.Errorf("stats %+v, %d packets", s, len(conn.Packets()))
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Export(oneRecord(3)); err == nil {
		t.Error("Export after Close succeeded")
	}
	if s := e.Stats(); s.RecordsLost != 2 {
		t.Errorf("stats %+v after Close, want 2 lost", s)
	}
}

func TestTimesBeforeBootAreClampedAndCounted(t *testing.T) {
	clock := flow.NewFakeClock(netflowtest.Boot.Add(time.Minute))
	e, conn := newCaptured(t, Config{Boot: netflowtest.Boot, Now: clock.Now})
	early := netflowtest.Truth{Src: "10.0.0.1", Dst: "10.0.0.2", Proto: flow.ProtoUDP, Packets: 1,
		First: -1500 * time.Millisecond, Last: 2500 * time.Millisecond}
	if err := e.Export(netflowtest.Records([]netflowtest.Truth{early, early})); err != nil {
		t.Fatal(err)
	}
	parsed, err := parseAll(conn.Packets())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range parsed[0].records {
		if r.first != 0 || r.last != 2500 {
			t.Errorf("first %d last %d, want 0 and 2500", r.first, r.last)
		}
	}
	if c := e.Clamps(); c.Times != 2 {
		t.Errorf("clamps %+v, want 2 times", c)
	}
}

// Boot defaults to the creation time, by Now.
func TestBootDefaultsToCreation(t *testing.T) {
	clock := flow.NewFakeClock(netflowtest.Boot.Add(250 * time.Millisecond))
	e, conn := newCaptured(t, Config{Now: clock.Now})
	clock.Advance(5 * time.Second)
	w := netflowtest.Truth{Src: "10.0.0.1", Dst: "10.0.0.2", Proto: flow.ProtoUDP, Packets: 1,
		First: 1250 * time.Millisecond, Last: 5 * time.Second}
	if err := e.Export(netflowtest.Records([]netflowtest.Truth{w})); err != nil {
		t.Fatal(err)
	}
	parsed, err := parseAll(conn.Packets())
	if err != nil {
		t.Fatal(err)
	}
	// Now is Boot+5.25s: the header's second is Boot+6s, 5750 ms of uptime.
	h, r := parsed[0].header, parsed[0].records[0]
	if h.uptime != 5750 || h.unixSecs != 1_700_000_006 || r.first != 1000 || r.last != 4750 {
		t.Errorf("uptime %d at %d, first %d last %d", h.uptime, h.unixSecs, r.first, r.last)
	}
}

// A dead collector: a later send fails; its records are counted lost.
func TestDeadCollectorCountsLostRecords(t *testing.T) {
	e, err := New(Config{Address: netflowtest.DeadCollector(t)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	netflowtest.ExportUntilLost(t, e, mixedRecords(100))
}

func TestStatsFromAnotherGoroutine(t *testing.T) {
	e, _ := newCaptured(t, Config{Boot: netflowtest.Boot})
	netflowtest.ReadWhileExporting(t, e, mixedRecords(100), func() { _ = e.Clamps() })
}
