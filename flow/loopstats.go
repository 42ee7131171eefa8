package flow

import (
	"slices"
	"time"
)

// DurationBuckets are the upper bounds of the drain loop's duration
// histograms, about ×2.5 apart: from 100 µs (draining a nearly empty map)
// to 10 s (millions of entries, or a loop far behind its poll interval).
var DurationBuckets = [...]time.Duration{
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

// DurationHistogram counts durations into DurationBuckets. A plain value:
// the loop keeps it, Stats copies it, the metrics stage converts it.
type DurationHistogram struct {
	// Counts[i] counts durations in (DurationBuckets[i-1], DurationBuckets[i]];
	// the last element those above the last bound.
	Counts [len(DurationBuckets) + 1]uint64
	Count  uint64
	Sum    time.Duration
}

// Observe counts d.
func (h *DurationHistogram) Observe(d time.Duration) {
	i, _ := slices.BinarySearch(DurationBuckets[:], d) // first bound >= d
	h.Counts[i]++
	h.Count++
	h.Sum += d
}

// LoopStats are running totals of a Loop, updated at the end of every cycle.
type LoopStats struct {
	// Cycles counts drain → table → export passes (Cycle and Shutdown).
	Cycles uint64
	// DrainErrors counts cycles whose drain of a kernel map failed (what
	// was drained before the error is kept).
	DrainErrors uint64
	// FlowEntries is how many entries the last drain took from the flow
	// map: how full the live map had got when it was swapped out.
	// TupleEntries is the same for the tuple map (0 without WithTuples).
	FlowEntries, TupleEntries int
	// Drain times the kernel maps' drain alone (swap, batched lookup and
	// delete, per-CPU merge, timestamp conversion): it grows with the
	// map's fill and is the window the retired map is read in.
	Drain DurationHistogram
	// Cycle times the whole pass (drain, table, enrichment, hand-off to
	// the exporters' queues; sending is on the exporters' goroutines): it
	// must stay well below the poll interval or ticks are skipped.
	Cycle DurationHistogram
}

// Stats returns running totals as of the end of the last cycle; safe from
// any goroutine.
func (l *Loop) Stats() LoopStats {
	l.statsMu.Lock()
	defer l.statsMu.Unlock()
	return l.stats
}

// account publishes one cycle that started at start and whose drain took
// l.drainTook.
func (l *Loop) account(start time.Time, drainErr error) {
	took := l.now().Sub(start)
	l.statsMu.Lock()
	defer l.statsMu.Unlock()
	s := &l.stats
	s.Cycles++
	if drainErr != nil {
		s.DrainErrors++
	}
	s.FlowEntries, s.TupleEntries = len(l.entries), len(l.joined)
	s.Drain.Observe(l.drainTook)
	s.Cycle.Observe(took)
}
