package exporter

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/podflow/podflow/flow"
)

// DefaultQueueBatches is how many export batches (one per drain cycle)
// may wait for one collector before new ones are dropped and counted.
const DefaultQueueBatches = 64

// Fanout sends every record to each of several exporters, each on its own
// goroutine behind a bounded queue: a slow or dead collector never delays
// the drain loop or the other collectors. A batch that finds a collector's
// queue full is dropped for that collector only and counted in its
// RecordsLost. Set the fields, then use; Close drains the queues (every
// exporter bounds its own time on a dead collector) and closes the
// exporters.
type Fanout struct {
	Exporters    []Exporter
	Names        []string    // the collector URL of each exporter, for logs and errors
	QueueBatches int         // per collector; 0 means DefaultQueueBatches
	Log          *zap.Logger // export failures, one line per failed batch; nil: none

	start   sync.Once // builds workers; every reader goes through it, so Stats from a metrics scrape never races the first Export
	workers []*worker
	closed  atomic.Bool
}

type worker struct {
	e       Exporter
	name    string
	q       chan []flow.Record
	dropped atomic.Uint64 // records dropped because the queue was full
	done    chan struct{}
}

func (f *Fanout) run() {
	n := f.QueueBatches
	if n <= 0 {
		n = DefaultQueueBatches
	}
	log := f.Log
	if log == nil {
		log = zap.NewNop()
	}
	for i, e := range f.Exporters {
		w := &worker{e: e, name: f.Names[i], q: make(chan []flow.Record, n), done: make(chan struct{})}
		f.workers = append(f.workers, w)
		go func() {
			defer close(w.done)
			for batch := range w.q {
				if err := w.e.Export(batch); err != nil {
					log.Warn("export failed", zap.String("collector", w.name), zap.Error(err))
				}
			}
		}()
	}
}

// Export implements flow.Sink: it queues a copy of records for every
// collector and returns at once. The error names the collectors whose
// queue was full (those records are counted lost).
func (f *Fanout) Export(records []flow.Record) error {
	f.start.Do(f.run)
	if f.closed.Load() {
		return errors.New("exporter: fanout closed")
	}
	batch := slices.Clone(records) // the drain loop reuses its slice
	var errs []error
	for _, w := range f.workers {
		select {
		case w.q <- batch:
		default:
			w.dropped.Add(uint64(len(batch)))
			errs = append(errs, fmt.Errorf("%s: queue full, %d records dropped", w.name, len(batch)))
		}
	}
	return errors.Join(errs...)
}

// Stats returns exporter i's totals, with the records its full queue
// dropped counted lost.
func (f *Fanout) Stats(i int) Stats {
	f.start.Do(f.run)
	s := f.Exporters[i].Stats()
	if i < len(f.workers) {
		s.RecordsLost += f.workers[i].dropped.Load()
	}
	return s
}

// Close sends what is queued, then closes every exporter.
func (f *Fanout) Close() error {
	f.start.Do(f.run)
	if f.closed.Swap(true) {
		return nil
	}
	for _, w := range f.workers {
		close(w.q)
	}
	var errs []error
	for i, w := range f.workers {
		<-w.done
		if err := w.e.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", f.Names[i], err))
		}
	}
	return errors.Join(errs...)
}
