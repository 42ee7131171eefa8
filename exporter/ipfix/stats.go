package ipfix

import (
	"sync/atomic"

	"github.com/podflow/podflow/exporter"
)

// counters are the running totals behind Stats: atomics, so Stats may be
// read from another goroutine while Export runs.
type counters struct {
	recordsSent, recordsLost, messagesSent, bytesSent atomic.Uint64
	sendErrors, reconnects, templatesSent             atomic.Uint64
}

func (c *counters) snapshot() exporter.Stats {
	return exporter.Stats{
		RecordsSent:   c.recordsSent.Load(),
		RecordsLost:   c.recordsLost.Load(),
		MessagesSent:  c.messagesSent.Load(),
		BytesSent:     c.bytesSent.Load(),
		SendErrors:    c.sendErrors.Load(),
		Reconnects:    c.reconnects.Load(),
		TemplatesSent: c.templatesSent.Load(),
	}
}
