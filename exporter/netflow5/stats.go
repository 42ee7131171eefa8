package netflow5

import (
	"sync/atomic"

	"github.com/podflow/podflow/exporter/internal/udpsend"
)

// counters are the running totals behind Stats, Unexportable and Clamps:
// atomics, so they may be read from another goroutine while Export runs.
type counters struct {
	udpsend.Counters
	unexportable                                  atomic.Uint64
	clampedIfIndex, clampedCounters, clampedTimes atomic.Uint64
	clampedSampling                               atomic.Uint64
}

func (c *counters) addClamps(k clamps) {
	c.clampedIfIndex.Add(uint64(k.ifIndex))
	c.clampedCounters.Add(uint64(k.counters))
	c.clampedTimes.Add(uint64(k.times))
}

// Clamps counts records sent with a value cut to fit v5's fields.
type Clamps struct {
	IfIndex  uint64 // input or output ifindex above 65535, sent as 65535
	Counters uint64 // packets or octets above 2³²−1, sent as 2³²−1
	Times    uint64 // first or last packet before Boot, sent as uptime 0
	// Sampling counts packets (not records) whose header says 16383, the
	// largest interval v5 holds, for a Config.SamplingInterval above it.
	Sampling uint64
}
