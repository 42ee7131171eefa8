package flow

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"go.uber.org/zap"
)

// fakeSource hands out queued batches of entries, one per Drain call, with
// monotonic timestamps converted through toWall like the BPF drainer does.
type fakeSource struct {
	batches [][]fakeEntry
}

type fakeEntry struct {
	key             Key
	packets, octets uint64
	firstNs, lastNs uint64
	flags           uint16
}

func (s *fakeSource) Drain(dst []Entry, toWall func(uint64) time.Time) ([]Entry, error) {
	if len(s.batches) == 0 {
		return dst, nil
	}
	for _, e := range s.batches[0] {
		dst = append(dst, Entry{Key: e.key, Counters: Counters{
			Packets: e.packets, Octets: e.octets, First: toWall(e.firstNs), Last: toWall(e.lastNs), TCPFlags: e.flags,
		}})
	}
	s.batches = s.batches[1:]
	return dst, nil
}

type captureSink struct{ records []Record }

func (s *captureSink) Export(r []Record) error {
	s.records = append(s.records, r...)
	return nil
}

func TestLoopExportsWithWallClockAndForcedEndOnShutdown(t *testing.T) {
	const wallBase, monoBase = int64(1_700_000_000_000_000_000), int64(5_000_000_000)
	mono, err := NewMonoConverter(FixedClockSource{WallNs: wallBase, MonoNs: monoBase})
	if err != nil {
		t.Fatal(err)
	}
	k := Key{Tuple: Tuple{SrcAddr: netip.MustParseAddr("10.1.0.1"), DstAddr: netip.MustParseAddr("10.1.0.2"), SrcPort: 1, DstPort: 2, Proto: ProtoUDP}, IfIndex: 3}
	src := &fakeSource{batches: [][]fakeEntry{
		{{key: k, packets: 2, octets: 200, firstNs: uint64(monoBase) + 1e6, lastNs: uint64(monoBase) + 2e6}},
		{{key: k, packets: 1, octets: 50, firstNs: uint64(monoBase) + 3e6, lastNs: uint64(monoBase) + 3e6}},
	}}
	sink := &captureSink{}
	clock := NewFakeClock(time.Unix(0, wallBase).Add(time.Second))
	loop := NewLoop(src, NewTable(TableConfig{}), sink, mono, clock, zap.NewNop())

	if err := loop.Cycle(); err != nil {
		t.Fatal(err)
	}
	if len(sink.records) != 0 {
		t.Fatalf("exported %d records before any timeout", len(sink.records))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	loop.Run(ctx, time.Hour) // returns at once: ctx is done
	if len(sink.records) != 0 {
		t.Fatalf("Run exported %d records without a tick", len(sink.records))
	}
	if err := loop.Shutdown(); err != nil { // last drain, forced end
		t.Fatal(err)
	}
	if len(sink.records) != 1 {
		t.Fatalf("got %d records, want 1: %+v", len(sink.records), sink.records)
	}
	r := sink.records[0]
	if r.Packets != 3 || r.Octets != 250 || r.EndReason != ForcedEnd {
		t.Fatalf("record %+v: want 3 packets, 250 octets, forced end", r)
	}
	if want := time.Unix(0, wallBase+1e6); !r.First.Equal(want) {
		t.Fatalf("first = %v, want %v", r.First, want)
	}
	if want := time.Unix(0, wallBase+3e6); !r.Last.Equal(want) {
		t.Fatalf("last = %v, want %v", r.Last, want)
	}
}

type tagEnricher struct{}

func (tagEnricher) Enrich(records []Record) {
	for i := range records {
		records[i].Context.Kube.FlowType = FlowTypeInterNode
		if records[i].SrcPort == 1 {
			records[i].Context.Kube.Src.Pod = "mine"
		}
	}
}

// Enrichment runs before export, and the filter (once-per-cluster export)
// drops the records another node exports, counting them.
func TestLoopEnrichesThenFilters(t *testing.T) {
	mono, err := NewMonoConverter(FixedClockSource{WallNs: 1e18, MonoNs: 1e9})
	if err != nil {
		t.Fatal(err)
	}
	mine := Key{Tuple: Tuple{SrcAddr: netip.MustParseAddr("10.1.0.1"), DstAddr: netip.MustParseAddr("10.1.0.2"), SrcPort: 1, DstPort: 2, Proto: ProtoUDP}, IfIndex: 3}
	theirs := mine
	theirs.SrcPort = 9
	src := &fakeSource{batches: [][]fakeEntry{{{key: mine, packets: 1, firstNs: 1e9, lastNs: 1e9}, {key: theirs, packets: 5, firstNs: 1e9, lastNs: 1e9}}}}
	sink := &captureSink{}
	loop := NewLoop(src, NewTable(TableConfig{}), sink, mono, NewFakeClock(time.Unix(0, 1e18)), zap.NewNop()).
		WithEnricher(tagEnricher{}).
		WithFilter(func(r *Record) bool { return r.Context.Kube.Src.Pod == "mine" })
	if err := loop.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if len(sink.records) != 1 || sink.records[0].SrcPort != 1 || sink.records[0].Context.Kube.FlowType != FlowTypeInterNode {
		t.Fatalf("exported %+v, want only the enriched record of this node", sink.records)
	}
	if loop.Skipped() != 1 {
		t.Errorf("skipped %d, want 1", loop.Skipped())
	}
}
