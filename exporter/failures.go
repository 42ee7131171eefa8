package exporter

import "fmt"

// Failures sums up the records one Export call could not send, keeping the
// first cause: a dead collector would otherwise yield one error per message.
// Every exporter uses it to build Export's error.
type Failures struct {
	Lost  int
	First error
}

// Add counts lost records and keeps err if it is the first cause.
func (f *Failures) Add(lost int, err error) {
	f.Lost += lost
	if f.First == nil {
		f.First = err
	}
}

// Err returns nil when nothing was lost, else one error naming the protocol,
// the counts and the collector, wrapping the first cause.
func (f *Failures) Err(protocol string, total int, collector string) error {
	if f.Lost == 0 {
		return nil
	}
	return fmt.Errorf("%s: %d of %d records not sent to %s: %w", protocol, f.Lost, total, collector, f.First)
}
