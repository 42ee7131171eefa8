package flow

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Source yields what the kernel counted since its previous call, one Entry
// per observation point, with timestamps converted by toWall. The BPF
// drainer implements it; tests use a fake.
type Source interface {
	Drain(dst []Entry, toWall func(ts uint64) time.Time) ([]Entry, error)
}

// TupleSource yields what sockets and drop points measured per 5-tuple since
// its previous call. The BPF event drainer implements it.
type TupleSource interface {
	DrainTuples(dst []TupleEntry) ([]TupleEntry, error)
}

// Timestamps converts the kernel's packet timestamps to wall-clock time.
// Measure runs once per drain (the wall clock may have been stepped).
// MonoConverter is one for CLOCK_MONOTONIC ns; the BPF clock another for
// jiffies.
type Timestamps interface {
	Measure() error
	ToWall(ts uint64) time.Time
}

// Sink receives the records that are due. The exporters implement it.
type Sink interface {
	Export(records []Record) error
}

// Loop is podflow's one drain loop: every poll interval it drains the
// kernel, folds the counts into the flow table and exports what is due.
// Everything runs on the loop's goroutine, so the table needs no locks.
type Loop struct {
	src     Source
	table   *Table
	sink    Sink
	times   Timestamps
	clock   Clock
	log     *zap.Logger
	tuples  TupleSource        // optional
	enrich  Enricher           // optional
	keep    func(*Record) bool // optional: records it refuses are not exported (another node exports them)
	skipped atomic.Uint64
	now     func() time.Time // stopwatch of LoopStats (monotonic time.Now; clock decides timeouts and is faked in tests)
	statsMu sync.Mutex
	stats   LoopStats
	// drainTook is how long the current cycle's kernel drain took.
	drainTook time.Duration
	entries   []Entry
	joined    []TupleEntry
	records   []Record
}

// NewLoop joins a source, a table and a sink. times converts BPF
// timestamps; clock decides timeouts (SystemClock in production).
func NewLoop(src Source, table *Table, sink Sink, times Timestamps, clock Clock, log *zap.Logger) *Loop {
	return &Loop{src: src, table: table, sink: sink, times: times, clock: clock, log: log, now: time.Now}
}

// WithTuples makes every drain also drain src and join its measurements to
// the flows (before end-of-flow decisions, so a connection's last
// measurements leave with it). Call before Run.
func (l *Loop) WithTuples(src TupleSource) *Loop {
	l.tuples = src
	return l
}

// WithEnricher makes every export add e's context to the records first.
// Call before Run.
func (l *Loop) WithEnricher(e Enricher) *Loop {
	l.enrich = e
	return l
}

// WithFilter makes every export drop the records keep refuses, after
// enrichment (once-per-cluster export: the other node of an inter-node flow
// exports it). Call before Run.
func (l *Loop) WithFilter(keep func(*Record) bool) *Loop {
	l.keep = keep
	return l
}

// Skipped returns how many records the filter dropped; safe from any
// goroutine.
func (l *Loop) Skipped() uint64 { return l.skipped.Load() }

// Run drains every interval until ctx is done. It does not shut down: the
// caller first stops the counting (detaches the programs), then calls
// Shutdown, so the last drain sees every packet that was counted.
func (l *Loop) Run(ctx context.Context, interval time.Duration) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			if err := l.Cycle(); err != nil {
				// A failed cycle is logged, never fatal: the next one retries
				// and the exporters have counted what they could not send.
				l.log.Warn("drain cycle", zap.Error(err))
			}
		}
	}
}

// Cycle runs one drain → table → expire → export pass.
func (l *Loop) Cycle() error {
	start := l.now()
	drainErr := l.drain()
	l.records = l.table.Expire(l.clock.Now(), l.records[:0])
	exportErr := l.export()
	l.account(start, drainErr)
	return errors.Join(drainErr, exportErr)
}

// Shutdown drains one last time and exports every held flow with forced end.
func (l *Loop) Shutdown() error {
	start := l.now()
	drainErr := l.drain()
	l.records = l.table.Expire(l.clock.Now(), l.records[:0])
	l.records = l.table.Flush(l.records)
	exportErr := l.export()
	l.account(start, drainErr)
	return errors.Join(drainErr, exportErr)
}

func (l *Loop) drain() error {
	if err := l.times.Measure(); err != nil {
		l.log.Warn("clock offset not re-measured; keeping the previous one", zap.Error(err))
	}
	var err, tupleErr error
	start := l.now()
	l.entries, err = l.src.Drain(l.entries[:0], l.times.ToWall)
	l.joined = l.joined[:0]
	if l.tuples != nil {
		l.joined, tupleErr = l.tuples.DrainTuples(l.joined)
	}
	l.drainTook = l.now().Sub(start)
	l.table.Update(l.entries, l.joined...)
	if err != nil {
		err = fmt.Errorf("drain: %w", err)
	}
	if tupleErr != nil {
		tupleErr = fmt.Errorf("drain tuple measurements: %w", tupleErr)
	}
	return errors.Join(err, tupleErr)
}

func (l *Loop) export() error {
	if len(l.records) == 0 {
		return nil
	}
	if l.enrich != nil {
		l.enrich.Enrich(l.records)
	}
	if l.keep != nil {
		kept := l.records[:0]
		for i := range l.records {
			if l.keep(&l.records[i]) {
				kept = append(kept, l.records[i])
			}
		}
		l.skipped.Add(uint64(len(l.records) - len(kept)))
		clear(l.records[len(kept):])
		l.records = kept
		if len(kept) == 0 {
			return nil
		}
	}
	if err := l.sink.Export(l.records); err != nil {
		return fmt.Errorf("export %d records: %w", len(l.records), err)
	}
	return nil
}
