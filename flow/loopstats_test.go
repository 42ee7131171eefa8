package flow

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"go.uber.org/zap"
)

func TestDurationHistogramBucketsAreUpperBoundsInclusive(t *testing.T) {
	var h DurationHistogram
	for _, d := range []time.Duration{0, 100 * time.Microsecond, 100*time.Microsecond + 1, 10 * time.Second, 10*time.Second + 1} {
		h.Observe(d)
	}
	want := [len(DurationBuckets) + 1]uint64{0: 2, 1: 1, 15: 1, 16: 1}
	if h.Counts != want || h.Count != 5 || h.Sum != 20*time.Second+200*time.Microsecond+2 {
		t.Fatalf("histogram %+v, want counts %v, 5 observations", h, want)
	}
}

// stopwatch is a Loop.now that moves by the next step at every call.
type stopwatch struct {
	t     time.Time
	steps []time.Duration
}

func (s *stopwatch) now() time.Time {
	if len(s.steps) > 0 {
		s.t = s.t.Add(s.steps[0])
		s.steps = s.steps[1:]
	}
	return s.t
}

// failingSource fails its drains from the second on, after handing out its
// entries.
type failingSource struct {
	fakeSource
	calls int
}

func (s *failingSource) Drain(dst []Entry, toWall func(uint64) time.Time) ([]Entry, error) {
	s.calls++
	dst, _ = s.fakeSource.Drain(dst, toWall)
	if s.calls >= 2 {
		return dst, errors.New("batch lookup failed")
	}
	return dst, nil
}

type countedTuples struct{ perDrain int }

func (c countedTuples) DrainTuples(dst []TupleEntry) ([]TupleEntry, error) {
	for i := range c.perDrain {
		dst = append(dst, TupleEntry{Tuple: Tuple{SrcPort: uint16(i), Proto: ProtoTCP}})
	}
	return dst, nil
}

// Every cycle, Shutdown's included, is counted with its drain and whole
// durations, its drain error and the entries it took from each map.
func TestLoopStatsCountCyclesDurationsErrorsAndEntries(t *testing.T) {
	mono, err := NewMonoConverter(FixedClockSource{WallNs: 1e18, MonoNs: 1e9})
	if err != nil {
		t.Fatal(err)
	}
	key := func(port uint16) fakeEntry {
		return fakeEntry{key: Key{Tuple: Tuple{SrcAddr: netip.MustParseAddr("10.1.0.1"), DstAddr: netip.MustParseAddr("10.1.0.2"),
			SrcPort: port, DstPort: 53, Proto: ProtoUDP}, IfIndex: 3}, packets: 1, octets: 60, firstNs: 1e9, lastNs: 1e9}
	}
	src := &failingSource{fakeSource: fakeSource{batches: [][]fakeEntry{{key(1), key(2), key(3)}, {key(4)}}}}
	loop := NewLoop(src, NewTable(TableConfig{}), &captureSink{}, mono, NewFakeClock(time.Unix(0, 1e18)), zap.NewNop()).
		WithTuples(countedTuples{perDrain: 2})
	// Per cycle: start, drain start, drain end, end.
	sw := &stopwatch{t: time.Unix(0, 0), steps: []time.Duration{
		0, time.Millisecond, 200 * time.Microsecond, 2 * time.Millisecond, // drain 200 µs, cycle 3.2 ms
		0, 0, 100 * time.Microsecond, 11999900 * time.Microsecond, // drain 100 µs, cycle 12 s
	}}
	loop.now = sw.now

	if err := loop.Cycle(); err != nil {
		t.Fatal(err)
	}
	s := loop.Stats()
	if s.Cycles != 1 || s.DrainErrors != 0 || s.FlowEntries != 3 || s.TupleEntries != 2 {
		t.Fatalf("after one cycle: %+v", s)
	}
	if err := loop.Shutdown(); err == nil {
		t.Fatal("Shutdown: no drain error")
	}
	s = loop.Stats()
	if s.Cycles != 2 || s.DrainErrors != 1 || s.FlowEntries != 1 || s.TupleEntries != 2 {
		t.Fatalf("after shutdown: cycles %d, drain errors %d, entries %d/%d; want 2, 1, 1/2", s.Cycles, s.DrainErrors, s.FlowEntries, s.TupleEntries)
	}
	wantDrain := [len(DurationBuckets) + 1]uint64{0: 1, 1: 1}
	if s.Drain.Counts != wantDrain || s.Drain.Count != 2 || s.Drain.Sum != 300*time.Microsecond {
		t.Errorf("drain histogram %+v, want counts %v, sum 300µs", s.Drain, wantDrain)
	}
	wantCycle := [len(DurationBuckets) + 1]uint64{5: 1, 16: 1}
	if s.Cycle.Counts != wantCycle || s.Cycle.Count != 2 || s.Cycle.Sum != 12*time.Second+3200*time.Microsecond {
		t.Errorf("cycle histogram %+v, want counts %v, sum 12.0032s", s.Cycle, wantCycle)
	}
}
