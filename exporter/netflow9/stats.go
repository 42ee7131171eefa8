package netflow9

import (
	"sync/atomic"

	"github.com/podflow/podflow/exporter/internal/udpsend"
)

// counters are the running totals behind Stats and Clamps: atomics, so
// they may be read from another goroutine while Export runs.
type counters struct {
	udpsend.Counters
	templatesSent, clampedTimes atomic.Uint64
}

// Clamps counts records sent with less than their truth.
type Clamps struct {
	// Times: records whose first (or last) packet came before Boot, sent
	// with FIRST_SWITCHED (LAST_SWITCHED) 0.
	Times uint64
}
