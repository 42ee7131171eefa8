package netflow9

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/netflowtest"
)

// shape describes packets as "T" (carries the templates) or "-", with
// their sequence numbers, for readable failures.
func shape(t *testing.T, packets [][]byte) (kinds string, seqs []uint32) {
	t.Helper()
	parsed, err := parseAll(packets)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, p := range parsed {
		if len(p.templates) > 0 {
			if fmt.Sprint(p.templates) != "[256 257]" {
				t.Errorf("packet %d carries templates %v", p.header.seq, p.templates)
			}
			b.WriteString("T")
		} else {
			b.WriteString("-")
		}
		seqs = append(seqs, p.header.seq)
	}
	return b.String(), seqs
}

func counting(n int) []uint32 {
	s := make([]uint32, n)
	for i := range s {
		s[i] = uint32(i)
	}
	return s
}

func oneRecord(id uint64) []flow.Record {
	return netflowtest.Records([]netflowtest.Truth{{Src: "10.0.0.1", Dst: "10.0.0.2", SrcPort: 1, DstPort: 2, Proto: flow.ProtoUDP,
		Packets: id, Octets: 100, First: time.Second, Last: 2 * time.Second}})
}

func TestSequenceCountsPacketsAndTemplatesEveryNPackets(t *testing.T) {
	clock := flow.NewFakeClock(netflowtest.Boot.Add(time.Minute))
	e, conn := newCaptured(t, Config{Boot: netflowtest.Boot, Now: clock.Now, TemplateRefreshPackets: 3, TemplateRefresh: time.Hour})
	for i := range 7 {
		if err := e.Export(oneRecord(uint64(i + 1))); err != nil {
			t.Fatal(err)
		}
	}
	kinds, seqs := shape(t, conn.Packets())
	if kinds != "T--T--T" || fmt.Sprint(seqs) != fmt.Sprint(counting(7)) {
		t.Errorf("packets %s with sequence numbers %v, want T--T--T numbered 0..6", kinds, seqs)
	}
	if s := e.Stats(); s.MessagesSent != 7 || s.TemplatesSent != 6 || s.RecordsSent != 7 {
		t.Errorf("stats %+v", s)
	}
}

// Within one Export call too: every packet counts, whatever its records.
func TestTemplatesEveryNPacketsWithinOneExport(t *testing.T) {
	clock := flow.NewFakeClock(netflowtest.Boot.Add(time.Minute))
	e, conn := newCaptured(t, Config{Boot: netflowtest.Boot, Now: clock.Now, MTU: 400, TemplateRefreshPackets: 2})
	batch := make([]flow.Record, 40)
	for i := range batch {
		batch[i] = oneRecord(uint64(i + 1))[0]
	}
	if err := e.Export(batch); err != nil {
		t.Fatal(err)
	}
	packets := conn.Packets()
	kinds, seqs := shape(t, packets)
	// 400-28 = 372 octets: 4 records (4+200 octets) after the header and
	// the 132-octet templates, 6 (4+300) without. 40 = 4+6+4+6+4+6+4+6.
	if kinds != "T-T-T-T-" || fmt.Sprint(seqs) != fmt.Sprint(counting(8)) {
		t.Errorf("packets %s with sequence numbers %v", kinds, seqs)
	}
	for i, p := range packets {
		if len(p) > 372 {
			t.Errorf("packet %d: %d octets", i, len(p))
		}
	}
}

func TestTemplatesEveryRefreshInterval(t *testing.T) {
	clock := flow.NewFakeClock(netflowtest.Boot.Add(time.Minute))
	e, conn := newCaptured(t, Config{Boot: netflowtest.Boot, Now: clock.Now, TemplateRefresh: time.Minute, TemplateRefreshPackets: 1000})
	export := func(advance time.Duration) {
		t.Helper()
		clock.Advance(advance)
		if err := e.Export(oneRecord(1)); err != nil {
			t.Fatal(err)
		}
	}
	export(0)
	export(time.Minute - time.Millisecond)
	export(time.Millisecond) // a minute since the templates
	export(time.Second)
	export(time.Minute) // a minute and a second since
	kinds, seqs := shape(t, conn.Packets())
	if kinds != "T-T-T" || fmt.Sprint(seqs) != fmt.Sprint(counting(5)) {
		t.Errorf("packets %s with sequence numbers %v, want T-T-T numbered 0..4", kinds, seqs)
	}
}

// A packet whose send failed did not deliver its templates: the next one
// carries them, and the sequence number counts only packets written.
func TestFailedTemplatePacketIsResent(t *testing.T) {
	clock := flow.NewFakeClock(netflowtest.Boot.Add(time.Minute))
	e, conn := newCaptured(t, Config{Boot: netflowtest.Boot, Now: clock.Now})
	conn.Fail = func(n int) bool { return n == 0 }
	if err := e.Export(oneRecord(1)); err == nil {
		t.Fatal("want an error for the refused packet")
	}
	if err := e.Export(oneRecord(2)); err != nil {
		t.Fatal(err)
	}
	if err := e.Export(oneRecord(3)); err != nil {
		t.Fatal(err)
	}
	kinds, seqs := shape(t, conn.Packets())
	if kinds != "T-" || fmt.Sprint(seqs) != "[0 1]" {
		t.Errorf("packets %s with sequence numbers %v, want T- numbered 0, 1", kinds, seqs)
	}
	if s := e.Stats(); s.RecordsSent != 2 || s.RecordsLost != 1 || s.SendErrors != 1 ||
		s.MessagesSent != 2 || s.TemplatesSent != 2 {
		t.Errorf("stats %+v", s)
	}
}
