package flow

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Clock tells the current wall-clock time; the drain loop asks it when to
// expire flows so tests can drive time by hand.
type Clock interface {
	Now() time.Time
}

// SystemClock is the real wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// FakeClock is a Clock that only moves when told to. Safe for concurrent use.
type FakeClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewFakeClock returns a FakeClock set to now.
func NewFakeClock(now time.Time) *FakeClock { return &FakeClock{now: now} }

// Now returns the time last set.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to now.
func (c *FakeClock) Set(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
}

// Advance moves the clock forward by d.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// ClockSource reads the two kernel clocks a MonoConverter relates. It is an
// interface so tests can script exact readings.
type ClockSource interface {
	// Realtime returns CLOCK_REALTIME in ns since the Unix epoch.
	Realtime() (int64, error)
	// Monotonic returns CLOCK_MONOTONIC in ns: the clock bpf_ktime_get_ns reads.
	Monotonic() (int64, error)
}

// SystemClockSource reads the kernel clocks with clock_gettime(2).
type SystemClockSource struct{}

// Realtime reads CLOCK_REALTIME.
func (SystemClockSource) Realtime() (int64, error) { return clockNs(unix.CLOCK_REALTIME) }

// Monotonic reads CLOCK_MONOTONIC.
func (SystemClockSource) Monotonic() (int64, error) { return clockNs(unix.CLOCK_MONOTONIC) }

func clockNs(id int32) (int64, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(id, &ts); err != nil {
		return 0, fmt.Errorf("clock_gettime(%d): %w", id, err)
	}
	return ts.Nano(), nil
}

// FixedClockSource returns the same readings every time: a converter built on
// it has offset WallNs-MonoNs exactly. Meant for tests of later stages.
type FixedClockSource struct {
	WallNs int64
	MonoNs int64
}

// Realtime returns WallNs.
func (s FixedClockSource) Realtime() (int64, error) { return s.WallNs, nil }

// Monotonic returns MonoNs.
func (s FixedClockSource) Monotonic() (int64, error) { return s.MonoNs, nil }

// measureTries is how many (monotonic, realtime, monotonic) readings Measure
// takes; the one with the smallest gap wins, so a preemption between two reads
// of one try does not skew the offset.
const measureTries = 3

// MonoConverter turns CLOCK_MONOTONIC nanoseconds (BPF timestamps) into
// wall-clock time with an offset measured by Measure. The offset is re-measured
// once per drain rather than per timestamp: it only moves when NTP steps or
// slews the wall clock, and reading two clocks per record would cost more than
// the conversion itself. ToWall and Measure are safe for concurrent use.
type MonoConverter struct {
	src    ClockSource
	offset atomic.Int64 // wall ns - monotonic ns
}

// NewMonoConverter returns a converter reading src, with its offset already
// measured once.
func NewMonoConverter(src ClockSource) (*MonoConverter, error) {
	c := &MonoConverter{src: src}
	if err := c.Measure(); err != nil {
		return nil, err
	}
	return c, nil
}

// Measure re-measures the wall-minus-monotonic offset. Each try reads the
// monotonic clock, the wall clock, then the monotonic clock again, and pairs
// the wall reading with the midpoint of the two monotonic ones; the try with
// the smallest gap between its monotonic reads wins. On error the previous
// offset stays in force.
func (c *MonoConverter) Measure() error {
	var errs []error
	bestGap, bestOffset := int64(math.MaxInt64), int64(0)
	for range measureTries {
		gap, offset, err := c.readOnce()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if gap < bestGap {
			bestGap, bestOffset = gap, offset
		}
	}
	if bestGap == math.MaxInt64 {
		return fmt.Errorf("measure clock offset: %w", errors.Join(errs...))
	}
	c.offset.Store(bestOffset)
	return nil
}

// readOnce reads monotonic, wall, monotonic and returns the gap between the
// monotonic reads and the wall-minus-midpoint offset.
func (c *MonoConverter) readOnce() (gap, offset int64, err error) {
	before, err := c.src.Monotonic()
	if err != nil {
		return 0, 0, err
	}
	wall, err := c.src.Realtime()
	if err != nil {
		return 0, 0, err
	}
	after, err := c.src.Monotonic()
	if err != nil {
		return 0, 0, err
	}
	gap = after - before
	if gap < 0 {
		return 0, 0, fmt.Errorf("monotonic clock went back %d ns", -gap)
	}
	return gap, wall - (before + gap/2), nil
}

// Offset returns the wall-minus-monotonic offset last measured.
func (c *MonoConverter) Offset() time.Duration { return time.Duration(c.offset.Load()) }

// ToWall converts a CLOCK_MONOTONIC timestamp in ns to wall-clock time. The
// result is time.Unix(0, ns): it carries no monotonic reading.
func (c *MonoConverter) ToWall(monoNs uint64) time.Time {
	return time.Unix(0, int64(monoNs)+c.offset.Load())
}
