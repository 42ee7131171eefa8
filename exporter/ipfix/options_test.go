package ipfix

import (
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/vmware/go-ipfix/pkg/entities"

	"github.com/podflow/podflow/collector"
	"github.com/podflow/podflow/exporter"
	"github.com/podflow/podflow/flow"
)

// wantTypeRecord is what podflow's collector decodes from f's RFC 5610
// record: every field exactly, the description whole (it fits at MTU 1500).
func wantTypeRecord(t *testing.T, f exporter.Field) map[string]any {
	t.Helper()
	typ, err := exporter.TypeOf(f)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{
		"privateEnterpriseNumber": uint64(f.PEN), "informationElementId": uint64(f.ID),
		"informationElementDataType": uint64(typ.DataType), "informationElementSemantics": uint64(typ.Semantics),
		"informationElementUnits": uint64(typ.Units), "informationElementRangeBegin": typ.RangeBegin,
		"informationElementRangeEnd": typ.RangeEnd,
		"informationElementName":     f.Name, "informationElementDescription": f.Description,
	}
}

// wantStats is the statistics record that equals e's totals now; at is
// the time of the record.
func wantStats(e *Exporter, processID uint32, at time.Time) map[string]any {
	s := e.Stats()
	packets, octets := e.NotSent()
	return map[string]any{
		"exportingProcessId":        uint64(processID),
		"exportedMessageTotalCount": s.MessagesSent, "exportedFlowRecordTotalCount": s.RecordsSent,
		"exportedOctetTotalCount": s.BytesSent, "notSentFlowTotalCount": s.RecordsLost,
		"notSentPacketTotalCount": packets, "notSentOctetTotalCount": octets,
		"observationTimeMilliseconds":   time.UnixMilli(e.started.UnixMilli()).UTC(),
		"observationTimeMilliseconds#2": time.UnixMilli(at.UnixMilli()).UTC(),
	}
}

func checkOptions(t *testing.T, what string, got collector.Received, scope []string, want map[string]any) {
	t.Helper()
	if !got.Options || !slices.Equal(got.Scope, scope) || !reflect.DeepEqual(got.Extra, want) {
		t.Errorf("%s: options %v scope %v\n got %v\nwant %v", what, got.Options, got.Scope, got.Extra, want)
	}
}

var (
	statsScope = []string{"exportingProcessId"}
	typeScope  = []string{"privateEnterpriseNumber", "informationElementId"}
	ifScope    = []string{"ingressInterface"}
)

// Every options record podflow sends, decoded by podflow's collector over
// UDP: the RFC 5610 type records first, interface names before the records
// observed on them, the statistics when due and at Close, equal to Stats.
func TestOptionsRecordsRoundTrip(t *testing.T) {
	col := startPodflow(t, "udp://127.0.0.1:0")
	clock := newFakeClock()
	names := map[uint32][2]string{3: {"veth3a2b", "veth"}, 5: {"eth0", "device"}}
	asked := map[uint32]int{}
	e, err := New(Config{Network: "udp", Address: col.Addr().String(), ObservationDomainID: 9,
		ExportingProcessID: 4242, StatsInterval: time.Minute, Now: clock.Now,
		InterfaceName: func(ifindex uint32) (string, string, bool) {
			asked[ifindex]++
			n, ok := names[ifindex]
			return n[0], n[1], ok
		}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()

	recs := mixedRecords(6)
	for i, ifindex := range []uint32{3, 5, 3, 7, 0, 5} { // 7: unknown to the callback; 0: none
		recs[i].IfIndex = ifindex
	}
	bad := record("10.0.0.1", "10.0.0.2", 1, 2, flow.ProtoUDP, 77)
	bad.DstAddr = netip.Addr{} // counted lost: 77 packets, 7700 octets
	if err := e.Export(append(recs, bad)); err == nil {
		t.Fatal("want an error for the record without a destination")
	}
	clock.Advance(time.Minute) // the statistics are due at the next Export
	if err := e.Export(recs[:1]); err != nil {
		t.Fatal(err)
	}
	dueStats := wantStats(e, 4242, clock.Now())
	clock.Advance(time.Second)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	closeStats := wantStats(e, 4242, clock.Now())

	fields := exporter.EnterpriseFields(exporter.DefaultPEN)
	got := receiveRecords(t, col, countTemplate(TemplateIDExporterStats, 2))

	types := byTemplate(got, TemplateIDElementTypes)
	if len(types) != len(fields) {
		t.Fatalf("%d type records, want one per enterprise element (%d)", len(types), len(fields))
	}
	for i, f := range fields {
		checkOptions(t, "type record of "+f.Name, types[i], typeScope, wantTypeRecord(t, f))
	}
	ifs := byTemplate(got, TemplateIDInterfaceNames)
	if len(ifs) != 2 {
		t.Fatalf("%d interface records, want 2 (ifindex 3 and 5)", len(ifs))
	}
	checkOptions(t, "interface 3", ifs[0], ifScope, map[string]any{"ingressInterface": uint64(3), "interfaceName": "veth3a2b", "interfaceDescription": "veth"})
	checkOptions(t, "interface 5", ifs[1], ifScope, map[string]any{"ingressInterface": uint64(5), "interfaceName": "eth0", "interfaceDescription": "device"})
	if !reflect.DeepEqual(asked, map[uint32]int{3: 1, 5: 1, 7: 1}) {
		t.Errorf("callback asked %v, want each interface once in the round", asked)
	}
	stats := byTemplate(got, TemplateIDExporterStats)
	checkOptions(t, "statistics when due", stats[0], statsScope, dueStats)
	checkOptions(t, "statistics at Close", stats[1], statsScope, closeStats)
	if s := e.Stats(); s.RecordsSent != 7 || s.RecordsLost != 1 || closeStats["notSentPacketTotalCount"] != uint64(77) ||
		closeStats["notSentOctetTotalCount"] != uint64(7700) {
		t.Errorf("stats %+v, statistics record %v: want 7 sent, 1 lost of 77 packets and 7700 octets", s, closeStats)
	}

	// Order: types, then the names before the first flow record.
	firstFlow := slices.IndexFunc(got, func(r collector.Received) bool { return !r.Options })
	lastType := slices.IndexFunc(got, func(r collector.Received) bool { return r.TemplateID == TemplateIDElementTypes }) + len(types) - 1
	firstIf := slices.IndexFunc(got, func(r collector.Received) bool { return r.TemplateID == TemplateIDInterfaceNames })
	if !(lastType < firstIf && firstIf < firstFlow) {
		t.Errorf("types end at %d, names start at %d, flows at %d: want types, names, flows", lastType, firstIf, firstFlow)
	}
	if n := len(flowRecords(got)); n != 7 {
		t.Errorf("%d flow records, want 7", n)
	}
	if s := col.Stats(); s.DecodeErrors != 0 || s.RecordsMissing != 0 || s.DataSetsWithoutTemplate != 0 {
		t.Errorf("collector stats %+v: the sequence numbers must count the options records", s)
	}
}

// The statistics after a run across a dead and a restarted TCP collector
// count the loss exactly: the record sent at Close equals Stats.
func TestReliabilityStatsAfterTCPCollectorRestart(t *testing.T) {
	first := startPodflow(t, "tcp://127.0.0.1:0")
	address := first.Addr().String()
	clock := newFakeClock()
	e, err := New(Config{Network: "tcp", Address: address, ExportingProcessID: 11, StatsInterval: time.Hour, Now: clock.Now}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()

	if err := e.Export(mixedRecords(50)); err != nil {
		t.Fatal(err)
	}
	got1 := receiveRecords(t, first, countFlows(50))
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	poll(t, "the collector's FIN", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.peer.closed() != nil
	})
	if err := e.Export(mixedRecords(30)); err == nil { // packets 1..30: 465 packets, 46500 octets
		t.Fatal("Export to a stopped collector returned no error")
	}

	second := startPodflow(t, "tcp://"+address)
	clock.Advance(e.cfg.ReconnectBackoff)
	if err := e.Export(mixedRecords(40)); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	want := wantStats(e, 11, clock.Now())
	got2 := receiveRecords(t, second, countTemplate(TemplateIDExporterStats, 1))

	checkOptions(t, "statistics at Close", byTemplate(got2, TemplateIDExporterStats)[0], statsScope, want)
	s := e.Stats()
	if packets, octets := e.NotSent(); s.RecordsSent != 90 || s.RecordsLost != 30 || packets != 465 || octets != 46500 || s.Reconnects != 1 {
		t.Errorf("stats %+v, not sent %d packets %d octets: want 90 sent, 30 lost of 465 packets and 46500 octets", s, packets, octets)
	}
	if n1, n2 := len(flowRecords(got1)), len(flowRecords(got2)); n1 != 50 || n2 != 40 {
		t.Errorf("collectors got %d and %d flow records, want 50 and 40", n1, n2)
	}
	// Each session starts with the element types again.
	if n := len(byTemplate(got2, TemplateIDElementTypes)); n != len(exporter.EnterpriseFields(exporter.DefaultPEN)) {
		t.Errorf("restarted collector got %d type records", n)
	}
	for i, c := range []*collector.Collector{first, second} {
		if st := c.Stats(); st.DecodeErrors != 0 || st.RecordsMissing != 0 {
			t.Errorf("collector %d stats %+v", i+1, st)
		}
	}
}

// With nobody calling Export, the timer still sends the statistics; two in
// a row differ by exactly the one message between them.
func TestStatsTimerWhileIdle(t *testing.T) {
	col := startPodflow(t, "udp://127.0.0.1:0")
	e, err := New(Config{Network: "udp", Address: col.Addr().String(), StatsInterval: 20 * time.Millisecond, ExportingProcessID: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	stats := byTemplate(receiveRecords(t, col, countTemplate(TemplateIDExporterStats, 2)), TemplateIDExporterStats)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	a, b := stats[0].Extra, stats[1].Extra
	if b["exportedMessageTotalCount"].(uint64) != a["exportedMessageTotalCount"].(uint64)+1 ||
		b["exportedOctetTotalCount"].(uint64) != a["exportedOctetTotalCount"].(uint64)+firstRecordAt+statsRecordLen ||
		a["exportedFlowRecordTotalCount"] != uint64(0) || a["notSentFlowTotalCount"] != uint64(0) {
		t.Errorf("consecutive statistics %v then %v", a, b)
	}
}

// go-ipfix's collector cannot decode options templates (it takes set 3 for
// a data set of template 3). Over UDP it drops those messages and the flow
// records still arrive exactly.
func TestGoIPFIXCollectorUDPIgnoresOptions(t *testing.T) {
	col := startCollector(t, "udp", "127.0.0.1:0")
	e, err := New(Config{Network: "udp", Address: col.address(),
		InterfaceName: func(uint32) (string, string, bool) { return "eth0", "device", true }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	recs := mixedRecords(20)
	for i := range recs {
		recs[i].IfIndex = uint32(i%3 + 1)
	}
	if err := e.Export(recs); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	seen := map[uint64]int{}
	for _, m := range col.waitDataRecords(t, 20) {
		if m.GetSet().GetSetType() != entities.Data {
			continue
		}
		for _, r := range m.GetSet().GetRecords() {
			if r.GetTemplateID() >= TemplateIDExporterStats {
				t.Errorf("go-ipfix decoded a record of options template %d", r.GetTemplateID())
			}
			seen[r.GetElementMap()["packetDeltaCount"].(uint64)]++
		}
	}
	for id := uint64(1); id <= 20; id++ {
		if seen[id] != 1 {
			t.Errorf("record %d arrived %d times", id, seen[id])
		}
	}
}

// Over TCP go-ipfix's collector closes the connection at the first options
// template: this is why Config.NoOptions exists (Antrea's flow aggregator
// runs that collector).
func TestGoIPFIXCollectorTCPClosesAtOptionsTemplate(t *testing.T) {
	col := startCollector(t, "tcp", "127.0.0.1:0")
	e, err := New(Config{Network: "tcp", Address: col.address(), StatsInterval: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	// Seen by a write that failed (the connection is dropped) or by the
	// check before the next one.
	poll(t, "go-ipfix closing the connection", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.conn == nil || e.peer.closed() != nil
	})
	// Its session is gone too. Waiting for that (under go-ipfix's mutex)
	// also orders its Start before the Stop of t's cleanup for the race
	// detector, which does not see the ordering through the network.
	poll(t, "go-ipfix forgetting the session", func() bool { return col.cp.GetNumConnToCollector() == 0 })
	if n := len(col.messages()); n != 0 {
		t.Errorf("go-ipfix decoded %d messages, want none", n)
	}
}

func TestOptionsTemplateIDsAboveDataTemplates(t *testing.T) {
	ids := []uint16{TemplateIDExporterStats, TemplateIDInterfaceNames, TemplateIDElementTypes}
	if top := TemplateID(true, exporter.GroupAll); top >= slices.Min(ids) {
		t.Errorf("data template ids reach %d, options templates start at %d", top, slices.Min(ids))
	}
	slices.Sort(ids)
	if len(slices.Compact(ids)) != 3 {
		t.Errorf("options template ids %v are not distinct", ids)
	}
}
