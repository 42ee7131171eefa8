// Package exporter ships flow records to collectors. Each protocol lives in
// its own subpackage behind the Exporter interface; fake.go holds a fake for
// the stages before it.
package exporter

import "github.com/podflow/podflow/flow"

// Exporter sends flow records to one collector. Export must not block the
// drain loop for long: a dead collector costs at most a short dial timeout,
// and every record that could not be sent is counted in Stats, never dropped
// silently.
type Exporter interface {
	// Export sends records; the slice may be reused by the caller after it
	// returns. An error means some records were not sent (and were counted).
	Export(records []flow.Record) error
	// Stats returns running totals.
	Stats() Stats
	// Close flushes what is buffered and closes the connection.
	Close() error
}

// Stats are running totals of one exporter.
type Stats struct {
	RecordsSent   uint64 // data records written to the collector
	RecordsLost   uint64 // data records that could not be sent
	MessagesSent  uint64
	BytesSent     uint64
	SendErrors    uint64
	Reconnects    uint64
	TemplatesSent uint64 // template records sent (initial, refresh, reconnect)
}
