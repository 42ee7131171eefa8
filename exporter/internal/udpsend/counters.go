package udpsend

import (
	"sync/atomic"

	"github.com/podflow/podflow/exporter"
)

// Counters are the running totals behind an exporter's Stats: atomics, so
// Stats may be read from another goroutine while Export runs. Send counts
// what it sends and loses; the exporter adds the records it loses before
// sending (invalid, unexportable, or after Close).
type Counters struct {
	RecordsSent, RecordsLost, MessagesSent, BytesSent, SendErrors atomic.Uint64
}

// Stats returns the totals; TemplatesSent is the exporter's to fill.
func (c *Counters) Stats() exporter.Stats {
	return exporter.Stats{
		RecordsSent:  c.RecordsSent.Load(),
		RecordsLost:  c.RecordsLost.Load(),
		MessagesSent: c.MessagesSent.Load(),
		BytesSent:    c.BytesSent.Load(),
		SendErrors:   c.SendErrors.Load(),
	}
}
