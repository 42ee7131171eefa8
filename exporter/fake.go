package exporter

import (
	"sync"

	"github.com/podflow/podflow/flow"
)

// Fake records everything exported, for tests of the stages before export.
type Fake struct {
	mu      sync.Mutex
	Records []flow.Record
	Closed  bool
}

func (f *Fake) Export(records []flow.Record) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Records = append(f.Records, records...)
	return nil
}

func (f *Fake) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return Stats{RecordsSent: uint64(len(f.Records))}
}

func (f *Fake) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Closed = true
	return nil
}

// Snapshot returns a copy of the records exported so far.
func (f *Fake) Snapshot() []flow.Record {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]flow.Record(nil), f.Records...)
}
