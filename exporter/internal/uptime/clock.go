// Package uptime is the clock of NetFlow v5 and v9 packets: their header
// and their records' first and last packet times count milliseconds of
// system uptime since Boot, in 32-bit fields that wrap after 49.7 days.
package uptime

import (
	"time"

	"github.com/podflow/podflow/flow"
)

// Defaults fills in an exporter's clock settings: now is time.Now when
// nil; boot is now() when zero (the exporter's creation), and whole
// milliseconds, as the uptime fields count.
func Defaults(now func() time.Time, boot time.Time) (func() time.Time, time.Time) {
	if now == nil {
		now = time.Now
	}
	if boot.IsZero() {
		boot = now()
	}
	return now, boot.Truncate(time.Millisecond)
}

// Clock converts wall-clock times to uptime since its boot.
type Clock struct{ bootMs int64 }

// NewClock returns the clock of an exporter whose uptime 0 was boot.
func NewClock(boot time.Time) Clock { return Clock{bootMs: boot.UnixMilli()} }

// Millis is t in milliseconds since boot, negative before it.
func (c Clock) Millis(t time.Time) int64 { return t.UnixMilli() - c.bootMs }

// RecordTimes are r's first and last packet times as its 32-bit uptime
// fields; clamped when either was zero or before boot, and so sent as 0.
func (c Clock) RecordTimes(r *flow.Record) (first, last uint32, clamped bool) {
	first, c1 := c.field(r.First)
	last, c2 := c.field(r.Last)
	return first, last, c1 || c2
}

// field is t as a 32-bit uptime, modulo 2³² as routers' wrap.
func (c Clock) field(t time.Time) (ms uint32, clamped bool) {
	if t.IsZero() {
		return 0, true
	}
	since := c.Millis(t)
	if since < 0 {
		return 0, true
	}
	return uint32(since), false
}

// HeaderInstant returns the header's unix_secs and sysUptime: one instant,
// the first whole second not before now nor before the packet's latest
// record end (latestMs since boot). A collector computing the boot time
// from them gets boot exactly, whether or not it reads sub-second fields,
// and sysUptime never falls before a record's end (collectors subtract
// unsigned).
func (c Clock) HeaderInstant(now time.Time, latestMs int64) (secs, uptime uint32) {
	ms := max(now.UnixMilli(), c.bootMs+latestMs)
	s := ms / 1000
	if ms%1000 != 0 {
		s++
	}
	return uint32(s), uint32(max(s*1000-c.bootMs, 0))
}
