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
// CLOCK_MONOTONIC (TICK_NSEC per tick), so the tick length and when one tick
// began are enough: jiffy j began at tickStart + (j - tickJiffy) × tickNs. A
// packet stamped j arrived within that tick; ToWall reports the tick's
// middle, so the error is at most half a tick.
//
// Reading jiffies and CLOCK_MONOTONIC together (sample_clock) only ever
// sees a tick after it began, by the time the tick interrupt took to run
// and this process to be scheduled: microseconds when idle, milliseconds
// on a loaded or virtualised machine. So every sample is an upper bound on
// when its tick began; the earliest bound is the best estimate, and Measure
// adds one sample per drain cycle to tighten it.
type Clock struct {
	objs      *Objects
	mono      *flow.MonoConverter
	tickNs    uint64
	tickJiffy uint64
	tickStart uint64 // CLOCK_MONOTONIC ns at which tickJiffy began (the earliest bound seen)
	// anchor is a calibration sample: a later sample far from it measures
	// the tick over a long span, which no scheduling delay can distort.
	anchor   FlowClockSample
	verified bool // the tick was confirmed over at least verifySpan
}

// verifySpan is how far apart two samples must be to confirm the tick: a
// 10 ms delay then distorts it by 0.1%, while neighbouring CONFIG_HZ values
// differ by 2.4% at least.
const verifySpan = 10 * time.Second

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
// wall clock) and, with jiffies, takes one more sample of the tick.
func (c *Clock) Measure() error {
	if !c.objs.precise {
		j, m, err := c.sample()
		if err != nil {
			return err
		}
		c.observe(FlowClockSample{Jiffies: j, MonoNs: m})
	}
	return c.mono.Measure()
}

// observe tightens the tick's start with one sample and, once the sample is
// verifySpan from the anchor, checks the tick length over that span (a
// calibration on a busy machine may have snapped to a neighbouring HZ).
func (c *Clock) observe(s FlowClockSample) {
	if !c.verified && s.MonoNs-c.anchor.MonoNs >= uint64(verifySpan) && s.Jiffies > c.anchor.Jiffies {
		c.verified = true
		long := snapTick(float64(s.MonoNs-c.anchor.MonoNs) / float64(s.Jiffies-c.anchor.Jiffies))
		if long != c.tickNs {
			c.tickNs, c.tickJiffy, c.tickStart = long, s.Jiffies, s.MonoNs
		}
	}
	if bound := int64(s.MonoNs) - int64(s.Jiffies-c.tickJiffy)*int64(c.tickNs); bound < int64(c.tickStart) {
		c.tickStart = uint64(bound)
	}
}

// ToWall converts a packet timestamp to wall-clock time.
func (c *Clock) ToWall(ts uint64) time.Time {
	if c.objs.precise {
		return c.mono.ToWall(ts)
	}
	ticks := int64(ts - c.tickJiffy) // may be negative: a jiffy before calibration
	mono := int64(c.tickStart) + ticks*int64(c.tickNs) + int64(c.tickNs/2)
	return c.mono.ToWall(uint64(mono))
}

// calibrationEdges is how many jiffies increments calibrate waits for:
// 16 ticks take 16 ms at HZ=1000 and 160 ms at HZ=100.
const calibrationEdges = 16

// calibrate samples jiffies and CLOCK_MONOTONIC together until jiffies has
// moved calibrationEdges times, then estimates the tick from those edges.
func (c *Clock) calibrate() error {
	deadline := time.Now().Add(calibrationLimit)
	prev, _, err := c.sample()
	if err != nil {
		return err
	}
	edges := make([]FlowClockSample, 0, calibrationEdges)
	for len(edges) < calibrationEdges {
		if time.Now().After(deadline) {
			if len(edges) >= 2 {
				break // a slow tick (HZ=24): what we have will do
			}
			return errors.New("jiffies did not advance")
		}
		j, m, err := c.sample()
		if err != nil {
			return err
		}
		if j != prev {
			edges = append(edges, FlowClockSample{Jiffies: j, MonoNs: m})
			prev = j
		}
	}
	c.tickNs, c.tickJiffy, c.tickStart = estimateTick(edges)
	c.anchor = edges[0]
	return nil
}

// edgeTolerance is how late an edge may be seen and still count as on time
// when candidate tick lengths are compared: a sampling round takes a few µs.
const edgeTolerance = 100 * time.Microsecond

// estimateTick finds the tick length and when the last edge's tick began
// from samples taken just after jiffies moved. Each edge is seen at or
// after its tick began, late by up to a tick when the interrupt or this
// process ran late (jiffies catch up, so never by more than the tick in
// progress). For the right tick length, the edges seen on time line up
// exactly under the late ones; for a wrong one they drift apart by the
// difference every tick. So each CONFIG_HZ's TICK_NSEC is scored by how
// many edges lie within edgeTolerance of its earliest line, ties going to
// the smaller total lateness, and the tick began at that earliest line.
func estimateTick(edges []FlowClockSample) (tickNs, tickJiffy, tickStart uint64) {
	first, last := edges[0], edges[len(edges)-1]
	measured := float64(last.MonoNs-first.MonoNs) / float64(last.Jiffies-first.Jiffies)
	var candidates []uint64
	for _, hz := range hzValues {
		candidates = append(candidates, (uint64(time.Second)+hz/2)/hz) // TICK_NSEC
	}
	// Late edges distort the plain measurement by up to a tick over the
	// span (1/15 here); farther than that from every CONFIG_HZ, the kernel
	// is unusual and the measurement stands.
	near := false
	for _, tick := range candidates {
		near = near || math.Abs(float64(tick)-measured) <= 0.1*float64(tick)
	}
	if !near {
		candidates = []uint64{uint64(math.Round(measured))}
	}
	bestScore, bestLate := -1, uint64(math.MaxUint64)
	for _, tick := range candidates {
		start := earliestStart(edges, tick)
		score, late := 0, uint64(0)
		for _, e := range edges {
			lateness := int64(e.MonoNs) + int64(last.Jiffies-e.Jiffies)*int64(tick) - int64(start)
			if lateness <= int64(edgeTolerance) {
				score++
			}
			late += uint64(lateness)
		}
		if score > bestScore || score == bestScore && late < bestLate {
			bestScore, bestLate, tickNs, tickStart = score, late, tick, start
		}
	}
	return tickNs, last.Jiffies, tickStart
}

// earliestStart is the earliest time the edges allow for the start of the
// last edge's tick, given the tick length.
func earliestStart(edges []FlowClockSample, tick uint64) uint64 {
	last := edges[len(edges)-1]
	start := last.MonoNs
	for _, e := range edges {
		start = min(start, e.MonoNs+(last.Jiffies-e.Jiffies)*tick)
	}
	return start
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
