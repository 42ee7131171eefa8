package exporter

import (
	"net/netip"
	"testing"
	"time"

	"github.com/podflow/podflow/flow"
)

// stuck is a collector that does not answer: Export blocks until released.
type stuck struct {
	Fake
	entered chan struct{} // one token per Export call
	release chan struct{}
}

func (s *stuck) Export(records []flow.Record) error {
	s.entered <- struct{}{}
	<-s.release
	return s.Fake.Export(records)
}

func batch(n int, base uint64) []flow.Record {
	out := make([]flow.Record, n)
	for i := range out {
		out[i] = flow.Record{Key: flow.Key{Tuple: flow.Tuple{SrcAddr: netip.MustParseAddr("10.0.0.1"), DstAddr: netip.MustParseAddr("10.0.0.2"), Proto: 17}},
			Counters: flow.Counters{Packets: base + uint64(i)}}
	}
	return out
}

// A collector that stalls neither delays the drain loop nor the other
// collectors; what overflows its queue is counted lost for it alone, and
// Close still delivers what was queued.
func TestFanoutIsolatesASlowCollector(t *testing.T) {
	fast, slow := &Fake{}, &stuck{entered: make(chan struct{}, 100), release: make(chan struct{})}
	f := &Fanout{Exporters: []Exporter{fast, slow}, Names: []string{"fast", "slow"}, QueueBatches: 2}
	const batches, size = 10, 3
	for b := range batches {
		recs := batch(size, uint64(b*size))
		done := make(chan error, 1)
		go func() { done <- f.Export(recs) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Export blocked on a stalled collector")
		}
		recs[0].Packets = 999 // the caller reuses its slice: the fanout copied it
		if b == 0 {
			<-slow.entered // the slow collector holds the first batch from now on
		}
		// Drain cycles are seconds apart: the fast collector keeps up.
		deadline := time.Now().Add(5 * time.Second)
		for len(fast.Snapshot()) < (b+1)*size && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond) // polling a condition with a deadline
		}
	}
	// The fast collector got everything, in order, unaltered.
	got := fast.Snapshot()
	if len(got) != batches*size {
		t.Fatalf("fast collector got %d records, want %d", len(got), batches*size)
	}
	for i, r := range got {
		if r.Packets != uint64(i) {
			t.Fatalf("fast collector record %d has %d packets", i, r.Packets)
		}
	}
	// The slow one: one batch in its Export, two queued, the rest dropped.
	if lost := f.Stats(1).RecordsLost; lost != uint64((batches-3)*size) {
		t.Errorf("slow collector lost %d records, want %d", lost, (batches-3)*size)
	}
	close(slow.release)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(slow.Snapshot()); n != 3*size || !slow.Closed || !fast.Closed {
		t.Errorf("after Close the slow collector has %d records (want %d), closed %v/%v", n, 3*size, slow.Closed, fast.Closed)
	}
}

// Metrics scrape Stats from their own goroutine while the drain loop
// exports: the race detector must find nothing, and the totals add up.
func TestFanoutStatsDuringExport(t *testing.T) {
	fake := &Fake{}
	f := &Fanout{Exporters: []Exporter{fake}, Names: []string{"fake"}}
	scraped := make(chan struct{})
	go func() {
		defer close(scraped)
		for range 100 {
			_ = f.Stats(0)
		}
	}()
	for b := range 10 {
		if err := f.Export(batch(2, uint64(b))); err != nil {
			t.Fatal(err)
		}
	}
	<-scraped
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if s := f.Stats(0); s.RecordsSent != 20 || s.RecordsLost != 0 {
		t.Fatalf("stats after close: %+v, want 20 sent, 0 lost", s)
	}
}
