package exporter

import (
	"errors"
	"fmt"

	"github.com/podflow/podflow/flow"
)

// Fanout sends every record to each of several exporters. Each exporter
// bounds its own time on a dead collector and counts its own losses; one
// failing never keeps the records from the others.
type Fanout struct {
	Exporters []Exporter
	Names     []string // for errors: the collector URL of each exporter
}

// Export implements flow.Sink.
func (f *Fanout) Export(records []flow.Record) error {
	var errs []error
	for i, e := range f.Exporters {
		if err := e.Export(records); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.Names[i], err))
		}
	}
	return errors.Join(errs...)
}

// Close closes every exporter.
func (f *Fanout) Close() error {
	var errs []error
	for i, e := range f.Exporters {
		if err := e.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", f.Names[i], err))
		}
	}
	return errors.Join(errs...)
}
