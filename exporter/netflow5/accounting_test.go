package netflow5

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/podflow/podflow/exporter/internal/udpsend"
	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/netflowtest"
)

// v4Records returns n IPv4 records with packet counts 1..n as ids.
func v4Records(n int) []flow.Record {
	recs := make([]flow.Record, n)
	for i := range recs {
		recs[i] = netflowtest.Truth{Src: "10.0.0.1", Dst: "10.0.0.2", SrcPort: 1000, DstPort: 80, Proto: flow.ProtoTCP,
			Packets: uint64(i + 1), Octets: 100, First: time.Second, Last: 2 * time.Second}.Record()
	}
	return recs
}

func TestPacketsHoldAtMost30RecordsWithinTheMTU(t *testing.T) {
	for _, tc := range []struct {
		mtu     int
		address string
		per     int
	}{
		{mtu: 1500, address: "127.0.0.1:2055", per: 30},         // 24+30*48 = 1464 ≤ 1472
		{mtu: 576, address: "127.0.0.1:2055", per: 10},          // (548-24)/48 = 10
		{mtu: 1500, address: "[::1]:2055", per: 29},             // (1452-24)/48 = 29
		{mtu: 1500, address: "collector.example:2055", per: 29}, // a name may resolve to IPv6
	} {
		if got := recordsPerPacket(tc.mtu, tc.address); got != tc.per {
			t.Errorf("MTU %d to %s: %d records per packet, want %d", tc.mtu, tc.address, got, tc.per)
		}
	}
	clock := flow.NewFakeClock(netflowtest.Boot.Add(time.Minute))
	e, conn := newCaptured(t, Config{Boot: netflowtest.Boot, Now: clock.Now, MTU: 576})
	const n = 95
	if err := e.Export(v4Records(n)); err != nil {
		t.Fatal(err)
	}
	parsed, err := parseAll(conn.Packets())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[uint32]int{}
	var counts []int
	seq := uint32(0)
	for i, p := range parsed {
		if p.header.seq != seq {
			t.Errorf("packet %d: flow_sequence %d, want %d", i, p.header.seq, seq)
		}
		seq += uint32(len(p.records))
		counts = append(counts, len(p.records))
		for _, r := range p.records {
			seen[r.packets]++
		}
	}
	if len(counts) != 10 || counts[0] != 10 || counts[9] != 5 {
		t.Errorf("records per packet %v, want 9×10 and 5", counts)
	}
	for id := uint32(1); id <= n; id++ {
		if seen[id] != 1 {
			t.Errorf("record %d arrived %d times", id, seen[id])
		}
	}
	if s := e.Stats(); s.RecordsSent != n || s.MessagesSent != 10 || s.RecordsLost != 0 {
		t.Errorf("stats %+v", s)
	}
	if _, err := New(Config{Address: "127.0.0.1:2055", MTU: 28 + 24 + 47}, nil); err == nil {
		t.Error("New accepted an MTU that cannot carry one record")
	}
}

// IPv6 records are counted, reported and logged once per call, never
// dropped silently; the IPv4 ones around them go out.
func TestIPv6RecordsAreCountedUnexportable(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	clock := flow.NewFakeClock(netflowtest.Boot.Add(time.Minute))
	conn := &netflowtest.CaptureConn{}
	e, err := newExporter(Config{Address: "127.0.0.1:2055", Boot: netflowtest.Boot, Now: clock.Now}, zap.New(core), conn.Dial)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	v6 := netflowtest.Truth{Src: "fd00::1", Dst: "fd00::2", Proto: flow.ProtoUDP, Packets: 100, First: time.Second, Last: time.Second}
	mixed := netflowtest.Truth{Src: "10.0.0.1", Dst: "fd00::2", Proto: flow.ProtoUDP, Packets: 101, First: time.Second, Last: time.Second}
	batch := append(v4Records(3), v6.Record(), mixed.Record(), v6.Record())
	for call := range 2 {
		err := e.Export(batch)
		if !errors.Is(err, errNotIPv4) {
			t.Fatalf("call %d: Export = %v, want errNotIPv4", call, err)
		}
	}
	if got := e.Unexportable(); got != 6 {
		t.Errorf("Unexportable() = %d, want 6", got)
	}
	if s := e.Stats(); s.RecordsLost != 6 || s.RecordsSent != 6 {
		t.Errorf("stats %+v, want 6 sent and 6 lost", s)
	}
	entries := logs.FilterMessageSnippet("IPv6 records not exported").All()
	if len(entries) != 2 {
		t.Fatalf("%d log entries, want one per Export call", len(entries))
	}
	if c := entries[1].ContextMap(); c["records"] != int64(3) || c["total"] != uint64(6) {
		t.Errorf("second log entry %v", c)
	}
	parsed, err := parseAll(conn.Packets())
	if err != nil {
		t.Fatal(err)
	}
	if len(parsed) != 2 || len(parsed[0].records) != 3 || parsed[1].header.seq != 3 {
		t.Errorf("packets %+v", parsed)
	}
}

func TestNarrowFieldsAreClampedAndCounted(t *testing.T) {
	clock := flow.NewFakeClock(netflowtest.Boot.Add(time.Minute))
	e, conn := newCaptured(t, Config{Boot: netflowtest.Boot, Now: clock.Now})
	wide := netflowtest.Truth{Src: "10.0.0.1", Dst: "10.0.0.2", SrcPort: 1, DstPort: 2, Proto: flow.ProtoTCP, IfIndex: 65536,
		Dir: flow.Egress, Packets: 1 << 32, Octets: 1<<32 + 5, Flags: 0x1ff,
		First: -time.Millisecond, Last: time.Second}
	fits := netflowtest.Truth{Src: "10.0.0.3", Dst: "10.0.0.4", Proto: flow.ProtoUDP, IfIndex: 65535, Packets: 1<<32 - 1,
		Octets: 1<<32 - 1, First: 0, Last: time.Second}
	if err := e.Export(netflowtest.Records([]netflowtest.Truth{wide, fits})); err != nil {
		t.Fatal(err)
	}
	parsed, err := parseAll(conn.Packets())
	if err != nil {
		t.Fatal(err)
	}
	r := parsed[0].records
	if r[0].out != 65535 || r[0].in != 0 || r[0].packets != 1<<32-1 || r[0].octets != 1<<32-1 ||
		r[0].first != 0 || r[0].last != 1000 || r[0].flags != 0xff {
		t.Errorf("clamped record %+v", r[0])
	}
	if r[1].in != 65535 || r[1].packets != 1<<32-1 || r[1].first != 0 {
		t.Errorf("record at the limits %+v", r[1])
	}
	if c := e.Clamps(); c != (Clamps{IfIndex: 1, Counters: 1, Times: 1}) {
		t.Errorf("clamps %+v, want one of each", c)
	}
}

func TestInvalidAddressesAndClosedExporterAreCountedLost(t *testing.T) {
	clock := flow.NewFakeClock(netflowtest.Boot.Add(time.Minute))
	e, conn := newCaptured(t, Config{Boot: netflowtest.Boot, Now: clock.Now})
	bad := v4Records(1)[0]
	bad.SrcAddr = netip.Addr{}
	if err := e.Export(append([]flow.Record{bad}, v4Records(1)...)); !errors.Is(err, errBadAddresses) {
		t.Fatalf("Export = %v, want errBadAddresses", err)
	}
	if s := e.Stats(); s.RecordsLost != 1 || s.RecordsSent != 1 || len(conn.Packets()) != 1 || e.Unexportable() != 0 {
		t.Errorf("stats %+v, %d packets", s, len(conn.Packets()))
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Export(v4Records(2)); !errors.Is(err, udpsend.ErrClosed) {
		t.Errorf("Export after Close = %v", err)
	}
	if s := e.Stats(); s.RecordsLost != 3 {
		t.Errorf("stats %+v after Close, want 3 lost", s)
	}
}

// A failed send loses its packet's records; flow_sequence counts only the
// records written, so the collector sees no gap for records never sent.
func TestFailedSendCountsItsRecords(t *testing.T) {
	clock := flow.NewFakeClock(netflowtest.Boot.Add(time.Minute))
	e, conn := newCaptured(t, Config{Boot: netflowtest.Boot, Now: clock.Now})
	conn.Fail = func(n int) bool { return n == 1 }
	if err := e.Export(v4Records(45)); err == nil {
		t.Fatal("want an error for the refused packet")
	}
	if err := e.Export(v4Records(1)); err != nil {
		t.Fatal(err)
	}
	parsed, err := parseAll(conn.Packets())
	if err != nil {
		t.Fatal(err)
	}
	if len(parsed) != 2 || parsed[1].header.seq != 30 {
		t.Errorf("%d packets, the second with flow_sequence %d", len(parsed), parsed[1].header.seq)
	}
	if s := e.Stats(); s.RecordsSent != 31 || s.RecordsLost != 15 || s.SendErrors != 1 || s.MessagesSent != 2 {
		t.Errorf("stats %+v", s)
	}
}

// A dead collector: a later send fails; its records are counted lost.
func TestDeadCollectorCountsLostRecords(t *testing.T) {
	e, err := New(Config{Address: netflowtest.DeadCollector(t)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	netflowtest.ExportUntilLost(t, e, v4Records(100))
}

func TestStatsFromAnotherGoroutine(t *testing.T) {
	e, _ := newCaptured(t, Config{Boot: netflowtest.Boot})
	netflowtest.ReadWhileExporting(t, e, v4Records(100), func() { _, _ = e.Clamps(), e.Unexportable() })
}
