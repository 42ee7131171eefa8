package netflow9

import (
	"sync/atomic"

	"github.com/podflow/podflow/exporter"
)

// counters are the running totals behind Stats: atomics, so Stats may be
// read from another goroutine while Export runs.
type counters struct {
	recordsSent, recordsLost, messagesSent, bytesSent atomic.Uint64
	sendErrors, templatesSent, clampedTimes           atomic.Uint64
}

func (c *counters) snapshot() exporter.Stats {
	return exporter.Stats{
		RecordsSent:   c.recordsSent.Load(),
		RecordsLost:   c.recordsLost.Load(),
		MessagesSent:  c.messagesSent.Load(),
		BytesSent:     c.bytesSent.Load(),
		SendErrors:    c.sendErrors.Load(),
		TemplatesSent: c.templatesSent.Load(),
	}
}

// Clamps counts records sent with less than their truth.
type Clamps struct {
	// Times: records whose first (or last) packet came before Boot, sent
	// with FIRST_SWITCHED (LAST_SWITCHED) 0.
	Times uint64
}
