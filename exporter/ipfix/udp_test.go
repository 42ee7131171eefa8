package ipfix

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vmware/go-ipfix/pkg/entities"

	"github.com/podflow/podflow/collector"
	"github.com/podflow/podflow/flow"
)

func TestUDPPacksRecordsWithinMTU(t *testing.T) {
	for _, tc := range []struct {
		mtu, records         int
		maxLen, perV4, perV6 int
	}{
		// 1500-28 = 1472 octets: (1472-20)/59 = 24 IPv4 or (1472-20)/83 = 17 IPv6 records.
		{mtu: 1500, records: 1000, maxLen: 1472, perV4: 24, perV6: 17},
		// 576-28 = 548 octets: 8 IPv4 or 6 IPv6 records. Fewer records keep the burst
		// within the collector's socket buffer.
		{mtu: 576, records: 200, maxLen: 548, perV4: 8, perV6: 6},
	} {
		col := startCollector(t, "udp", "127.0.0.1:0")
		e, err := New(Config{NoOptions: true, Network: "udp", Address: col.address(), MTU: tc.mtu}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Export(mixedRecords(tc.records)); err != nil {
			t.Fatal(err)
		}
		msgs := col.waitDataRecords(t, tc.records)

		seen := map[uint64]int{}
		running := uint32(0)
		most := map[uint16]int{}
		for i, m := range msgs {
			if int(m.GetMessageLen()) > tc.maxLen {
				t.Errorf("mtu %d: message %d is %d octets, limit %d", tc.mtu, i, m.GetMessageLen(), tc.maxLen)
			}
			if m.GetSequenceNum() != running {
				t.Errorf("mtu %d: message %d has sequence %d, want %d", tc.mtu, i, m.GetSequenceNum(), running)
			}
			set := m.GetSet()
			if set.GetSetType() != entities.Data {
				continue
			}
			id := set.GetRecords()[0].GetTemplateID()
			most[id] = max(most[id], len(set.GetRecords()))
			for _, r := range set.GetRecords() {
				seen[r.GetElementMap()["packetDeltaCount"].(uint64)]++
			}
			running += uint32(len(set.GetRecords()))
		}
		for id := uint64(1); id <= uint64(tc.records); id++ {
			if seen[id] != 1 {
				t.Errorf("mtu %d: record %d arrived %d times", tc.mtu, id, seen[id])
			}
		}
		if most[TemplateIDIPv4] != tc.perV4 || most[TemplateIDIPv6] != tc.perV6 {
			t.Errorf("mtu %d: at most %d IPv4 and %d IPv6 records per message, want %d and %d",
				tc.mtu, most[TemplateIDIPv4], most[TemplateIDIPv6], tc.perV4, tc.perV6)
		}
		half := tc.records / 2
		wantMsgs := 2 + ceilDiv(half, tc.perV4) + ceilDiv(half, tc.perV6)
		if s := e.Stats(); s.RecordsSent != uint64(tc.records) || s.RecordsLost != 0 ||
			s.MessagesSent != uint64(wantMsgs) || s.TemplatesSent != 2 || s.SendErrors != 0 {
			t.Errorf("mtu %d: stats %+v, want %d messages", tc.mtu, s, wantMsgs)
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func TestUDPTemplateRefresh(t *testing.T) {
	col := startCollector(t, "udp", "127.0.0.1:0")
	clock := newFakeClock()
	e, err := New(Config{NoOptions: true, Network: "udp", Address: col.address(), TemplateRefresh: time.Minute, Now: clock.Now}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	one := []flow.Record{record("10.0.0.1", "10.0.0.2", 1, 2, flow.ProtoUDP, 1)}

	clock.Advance(time.Minute - time.Millisecond)
	if err := e.Export(one); err != nil {
		t.Fatal(err)
	}
	if got := e.Stats().TemplatesSent; got != 2 {
		t.Fatalf("templates sent before the interval: %d, want 2 (the initial ones)", got)
	}
	clock.Advance(time.Millisecond)
	if err := e.Export(one); err != nil {
		t.Fatal(err)
	}
	if got := e.Stats().TemplatesSent; got != 4 {
		t.Fatalf("templates sent once the interval passed: %d, want 4", got)
	}
	clock.Advance(time.Second)
	if err := e.Export(one); err != nil {
		t.Fatal(err)
	}

	msgs := col.waitMessages(t, 7)
	var kinds []string
	for _, m := range msgs {
		kind := "D"
		if m.GetSet().GetSetType() == entities.Template {
			kind = "T"
		}
		kinds = append(kinds, kind)
	}
	if got, want := strings.Join(kinds, ""), "TTDTTDD"; got != want {
		t.Errorf("message kinds %s, want %s", got, want)
	}
	if m := msgs[3]; m.GetSequenceNum() != 1 || m.GetExportTime() != uint32(clock.Now().Add(-time.Second).Unix()) {
		t.Errorf("refreshed template: sequence %d export time %d", m.GetSequenceNum(), m.GetExportTime())
	}
}

func TestUDPSendErrorsCountTheMessageLost(t *testing.T) {
	// A port nobody listens on: the ICMP port unreachable for one datagram
	// makes a later send fail with ECONNREFUSED.
	conn, _ := rawCollector(t)
	address := conn.LocalAddr().String()
	conn.Close()

	e, err := New(Config{NoOptions: true, Network: "udp", Address: address}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	// Several messages per call, as the templates (re-sent while they keep
	// failing) may take the refused send of a one-message call.
	batch := make([]flow.Record, 100)
	for i := range batch {
		batch[i] = record("10.0.0.1", "10.0.0.2", 1, 2, flow.ProtoUDP, uint64(i+1))
	}
	exported := 0
	poll(t, "a refused send", func() bool {
		_ = e.Export(batch)
		exported += len(batch)
		return e.Stats().RecordsLost > 0
	})
	before := e.Stats()
	// The error was consumed by the failed send: the exporter carries on.
	_ = e.Export(batch)
	exported += len(batch)
	s := e.Stats()
	if s.RecordsSent+s.RecordsLost != uint64(exported) || s.RecordsSent <= before.RecordsSent {
		t.Errorf("stats %+v after %d records (before the last two: %+v)", s, exported, before)
	}
	if s.SendErrors == 0 {
		t.Errorf("stats %+v: no send error counted", s)
	}
}

func TestStatsFromAnotherGoroutine(t *testing.T) {
	conn, _ := rawCollector(t)
	e, err := New(Config{Network: "udp", Address: conn.LocalAddr().String()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e.Stats().RecordsSent < 1000 {
		}
	}()
	for range 10 {
		if err := e.Export(mixedRecords(100)); err != nil {
			t.Fatal(err)
		}
	}
	<-done
}

// Records with variable-length fields fill messages by their real size: a
// record that cannot fit even an empty message at this MTU is counted lost,
// not sent truncated or split, while its neighbours go out. (podflow's own
// collector decodes them: go-ipfix's cannot read enterprise elements.)
func TestVariableLengthRecordsFillByRealSize(t *testing.T) {
	col, err := collector.Listen(context.Background(), "udp://127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer col.Close()
	e, err := New(Config{NoOptions: true, Network: "udp", Address: col.Addr().String(), MTU: 576}, nil)
	if err != nil {
		t.Fatal(err)
	}
	recs := mixedRecords(40)
	for i := range recs {
		recs[i].Context.Src = flow.Process{PID: 7, Name: "curl", Exe: "/usr/bin/curl"}
	}
	huge := mixedRecords(2)[1] // IPv6: the widest
	huge.Packets = 99
	huge.Context = flow.Context{
		Src: flow.Process{PID: 7, Name: "curl", Exe: "/" + strings.Repeat("x", 190)},
		Dst: flow.Process{PID: 8, Name: "nginx", Exe: "/" + strings.Repeat("y", 190), ContainerID: strings.Repeat("c", 64)},
		NAT: flow.NAT{SrcAddr: huge.SrcAddr, DstAddr: huge.DstAddr, SrcPort: 1, DstPort: 2},
	}
	huge.Measures = flow.Measures{RTTSamples: 1, RTTMinUs: 1, RTTMaxUs: 1, RTTSumUs: 1, RetransPackets: 1,
		Handshake: flow.Handshake{Seen: true}, WireRetransPackets: 1}
	huge.Measures.SetDrop(1, 1, strings.Repeat("R", 48), 0)
	err = e.Export(append(recs, huge))
	if err == nil || !strings.Contains(err.Error(), "does not fit") {
		t.Fatalf("Export = %v, want the huge record refused", err)
	}
	got := map[uint64]bool{}
	for len(got) < len(recs) {
		select {
		case r := <-col.Records():
			if r.Context.Src.Exe != "/usr/bin/curl" {
				t.Errorf("record %d: %+v", r.Packets, r.Context.Src)
			}
			got[r.Packets] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("received %d of %d records", len(got), len(recs))
		}
	}
	if got[99] {
		t.Error("the record too large for the MTU arrived")
	}
	if s := e.Stats(); s.RecordsSent != uint64(len(recs)) || s.RecordsLost != 1 || s.MessagesSent < 8 {
		t.Errorf("stats %+v, want %d sent, 1 lost, the records spread over several messages", s, len(recs))
	}
	if s := col.Stats(); s.DecodeErrors != 0 || s.RecordsMissing != 0 {
		t.Errorf("collector stats %+v", s)
	}
}
