package bpf

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/cilium/ebpf"

	"github.com/podflow/podflow/flow"
)

// calibrationLimit bounds the wait for two jiffies ticks at start.
const calibrationLimit = 2 * time.Second

// hzValues are the tick rates Linux kernels are built with (CONFIG_HZ).
var hzValues = []uint64{24, 32, 48, 64, 100, 128, 200, 250, 256, 300, 500, 512, 1000, 1024, 1200}

// Clock converts the timestamps the TC programs store (jiffies by default,
// CLOCK_MONOTONIC ns with PreciseTimestamps) to wall-clock time. It
// implements flow.Timestamps for the drain loop.
//
// Jiffies advance by one every tick, and the kernel keeps them locked to
// CLOCK_MONOTONIC (TICK_NSEC per tick), so one measurement of the tick length
// and of when a tick started is enough: jiffy j began at
// tickStart + (j - tickJiffy) × tickNs. A packet stamped j arrived within that
// tick; ToWall reports the tick's middle, so the error is at most half a tick.
type Clock struct {
	objs      *Objects
	mono      *flow.MonoConverter
	tickNs    uint64
	tickJiffy uint64
	tickStart uint64 // CLOCK_MONOTONIC ns at which tickJiffy began
}

// NewClock measures the kernel tick (busy-sampling for up to two ticks, at
// most 2 × 1/24 s) unless the programs use precise timestamps.
func (o *Objects) NewClock(mono *flow.MonoConverter) (*Clock, error) {
	c := &Clock{objs: o, mono: mono}
	if o.precise {
		return c, nil
	}
	if err := c.calibrate(); err != nil {
		return nil, fmt.Errorf("measure the kernel tick: %w", err)
	}
	return c, nil
}

// TickNs is the measured tick length (0 with precise timestamps).
func (c *Clock) TickNs() uint64 { return c.tickNs }

// Measure re-measures the wall-minus-monotonic offset (NTP may step the
// wall clock); the tick needs no re-measuring.
func (c *Clock) Measure() error { return c.mono.Measure() }

// ToWall converts a packet timestamp to wall-clock time.
func (c *Clock) ToWall(ts uint64) time.Time {
	if c.objs.precise {
		return c.mono.ToWall(ts)
	}
	ticks := int64(ts - c.tickJiffy) // may be negative: a jiffy before calibration
	mono := int64(c.tickStart) + ticks*int64(c.tickNs) + int64(c.tickNs/2)
	return c.mono.ToWall(uint64(mono))
}

// calibrate samples jiffies and CLOCK_MONOTONIC together until jiffies has
// moved twice: the second and third values begin ticks whose start is known
// to within one sampling round (~1 µs), and their distance is the tick.
func (c *Clock) calibrate() error {
	deadline := time.Now().Add(calibrationLimit)
	first, _, err := c.sample()
	if err != nil {
		return err
	}
	var edges [2]FlowClockSample
	prev := first
	for i := 0; i < len(edges); {
		if time.Now().After(deadline) {
			return errors.New("jiffies did not advance")
		}
		j, m, err := c.sample()
		if err != nil {
			return err
		}
		if j != prev {
			edges[i] = FlowClockSample{Jiffies: j, MonoNs: m}
			prev = j
			i++
		}
	}
	ticks := edges[1].Jiffies - edges[0].Jiffies
	measured := float64(edges[1].MonoNs-edges[0].MonoNs) / float64(ticks)
	c.tickNs = snapTick(measured)
	c.tickJiffy, c.tickStart = edges[1].Jiffies, edges[1].MonoNs
	return nil
}

// snapTick returns the kernel's TICK_NSEC for the CONFIG_HZ nearest to the
// measured tick, or the measurement itself if no HZ is within 5%.
func snapTick(measuredNs float64) uint64 {
	best, bestErr := uint64(math.Round(measuredNs)), 0.05
	for _, hz := range hzValues {
		tick := (uint64(time.Second) + hz/2) / hz // TICK_NSEC
		if e := math.Abs(float64(tick)-measuredNs) / float64(tick); e < bestErr {
			best, bestErr = tick, e
		}
	}
	return best
}

func (c *Clock) sample() (jiffies, monoNs uint64, err error) {
	var frame [64]byte // BPF_PROG_TEST_RUN needs a frame; the program ignores it
	if _, err := c.objs.SampleClock.Run(&ebpf.RunOptions{Data: frame[:]}); err != nil {
		return 0, 0, fmt.Errorf("run sample_clock: %w", err)
	}
	var s FlowClockSample
	if err := c.objs.LastClockSample.Get(&s); err != nil {
		return 0, 0, fmt.Errorf("read clock sample: %w", err)
	}
	return s.Jiffies, s.MonoNs, nil
}
