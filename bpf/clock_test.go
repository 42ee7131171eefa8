package bpf

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/pkt"
	"github.com/podflow/podflow/internal/privtest"
)

func TestSnapTick(t *testing.T) {
	for _, c := range []struct {
		measured float64
		want     uint64
	}{
		{4_000_000, 4_000_000},   // HZ=250
		{4_010_000, 4_000_000},   // sampling lag
		{3_340_000, 3_333_333},   // HZ=300: TICK_NSEC rounds
		{1_000_400, 1_000_000},   // HZ=1000
		{10_000_000, 10_000_000}, // HZ=100
		{7_000_000, 7_000_000},   // no such HZ: the measurement stands
	} {
		if got := snapTick(c.measured); got != c.want {
			t.Errorf("snapTick(%v) = %d, want %d", c.measured, got, c.want)
		}
	}
}

// edgesAt builds calibration edges of a tick of tick ns whose jiffy 1000
// began at start, each seen late by the given lateness (less than a tick:
// jiffies catch up).
func edgesAt(tick, start uint64, lateness ...time.Duration) []FlowClockSample {
	edges := make([]FlowClockSample, len(lateness))
	for i, late := range lateness {
		j := uint64(1001 + i)
		edges[i] = FlowClockSample{Jiffies: j, MonoNs: start + (j-1000)*tick + uint64(late)}
	}
	return edges
}

// Late edges, even the first and the last (which alone decided the tick
// before, and snapped HZ=250 to 5 ms), change neither the tick nor its start:
// the edges seen on time decide.
func TestEstimateTickIgnoresLateEdges(t *testing.T) {
	const start = 1_000_000_000_000
	us := time.Microsecond
	for _, c := range []struct {
		name     string
		tick     uint64
		lateness []time.Duration
		want     time.Duration // lateness of the estimated start
	}{
		{"HZ=250, ends late", 4_000_000, []time.Duration{3900 * us, 2 * us, 3 * us, 1500 * us, 2 * us, 2 * us, 5 * us, 2 * us, 3999 * us, 2 * us, 2 * us, 4 * us, 2 * us, 2 * us, 2 * us, 3950 * us}, 2 * us},
		{"HZ=1000, half late", 1_000_000, []time.Duration{900 * us, 1 * us, 700 * us, 3 * us, 999 * us, 1 * us, 500 * us, 2 * us, 800 * us, 1 * us, 600 * us, 1 * us, 950 * us, 1 * us, 990 * us, 1 * us}, 1 * us},
		{"HZ=250, only the last late: measured 6.6% off", 4_000_000, []time.Duration{1 * us, 1 * us, 1 * us, 1 * us, 1 * us, 1 * us, 1 * us, 1 * us, 1 * us, 1 * us, 1 * us, 1 * us, 1 * us, 1 * us, 1 * us, 3990 * us}, 1 * us},
		{"HZ=300", 3_333_333, []time.Duration{10 * us, 3 * us, 3 * us, 3 * us, 3300 * us, 3 * us, 3 * us, 3 * us, 3 * us, 3 * us, 3 * us, 3 * us, 3 * us, 3 * us, 3 * us, 3 * us}, 3 * us},
		{"no CONFIG_HZ: the measurement", 7_000_000, []time.Duration{1 * us, 1 * us, 1 * us, 1 * us, 1 * us, 1 * us, 1 * us, 1 * us}, 1 * us},
	} {
		edges := edgesAt(c.tick, start, c.lateness...)
		tick, jiffy, tickStart := estimateTick(edges)
		last := edges[len(edges)-1].Jiffies
		want := start + (last-1000)*c.tick + uint64(c.want)
		if tick != c.tick || jiffy != last || tickStart != want {
			t.Errorf("%s: estimateTick = %d, %d, %d; want %d, %d, %d", c.name, tick, jiffy, tickStart, c.tick, last, want)
		}
	}
}

// Each drain cycle's sample can only move the tick's start earlier, and a
// sample verifySpan after calibration corrects a wrongly snapped tick.
func TestClockObserveTightensAndVerifies(t *testing.T) {
	const tick, start = 4_000_000, 1_000_000_000_000
	c := &Clock{tickNs: tick, tickJiffy: 2000, tickStart: start + 1000*tick + 300_000,
		anchor: FlowClockSample{Jiffies: 1001, MonoNs: start + tick + 5_000}}
	c.observe(FlowClockSample{Jiffies: 2500, MonoNs: start + 1500*tick + 20_000}) // 20 µs late
	if want := uint64(start + 1000*tick + 20_000); c.tickStart != want || c.tickNs != tick {
		t.Fatalf("after an earlier bound: start %d tick %d, want %d %d", c.tickStart, c.tickNs, want, tick)
	}
	c.observe(FlowClockSample{Jiffies: 2600, MonoNs: start + 1600*tick + 900_000}) // later bound: no change
	if want := uint64(start + 1000*tick + 20_000); c.tickStart != want {
		t.Fatalf("a later bound moved the start to %d, want %d", c.tickStart, want)
	}

	// Calibrated on a busy machine to 5 ms; the truth is 4 ms.
	c = &Clock{tickNs: 5_000_000, tickJiffy: 1016, tickStart: start + 1016*tick,
		anchor: FlowClockSample{Jiffies: 1001, MonoNs: start + tick + 5_000}}
	j := uint64(1001 + uint64(verifySpan)/tick)
	c.observe(FlowClockSample{Jiffies: j, MonoNs: start + (j-1000)*tick + 7_000})
	if c.tickNs != tick || c.tickJiffy != j || c.tickStart != start+(j-1000)*tick+7_000 || !c.verified {
		t.Fatalf("after verifySpan: %+v", c)
	}
}

// clockHarness loads the TC programs and converts their stamps.
type clockHarness struct {
	*harness
	mono *flow.MonoConverter
}

func newClockHarness(t *testing.T, precise bool) *clockHarness {
	t.Helper()
	objs, err := Load(LoadOptions{MaxFlows: 1024, PreciseTimestamps: precise})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { objs.Close() })
	mono, err := flow.NewMonoConverter(flow.SystemClockSource{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDrainer(objs)
	if err != nil {
		t.Fatal(err)
	}
	return &clockHarness{harness: &harness{t: t, objs: objs, d: d}, mono: mono}
}

func (h *clockHarness) newClock() *Clock {
	h.t.Helper()
	clock, err := h.objs.NewClock(h.mono)
	if err != nil {
		h.t.Fatal(err)
	}
	return clock
}

// checkPacketTime runs one packet and checks its exported time lies within
// half a tick (plus the conversion's own error) of when it ran.
func (h *clockHarness) checkPacketTime(clock *Clock, what string, port uint16) {
	h.t.Helper()
	before := time.Now()
	h.run(h.objs.TcIngress, pkt.Frame{Src: v4a, Dst: v4b, Proto: 17, SrcPort: 1, DstPort: port}.Bytes(), 0)
	after := time.Now()
	entries, err := h.d.Drain(nil, clock.ToWall)
	if err != nil || len(entries) != 1 {
		h.t.Fatalf("drained %d entries: %v", len(entries), err)
	}
	slack := time.Duration(clock.TickNs())/2 + time.Millisecond
	if got := entries[0].First; got.Before(before.Add(-slack)) || got.After(after.Add(slack)) {
		h.t.Errorf("%s: packet at %v..%v exported at %v (tick %v)", what, before, after, got, time.Duration(clock.TickNs()))
	}
}

// A packet's exported time lies within half a tick (plus the conversion's
// own error) of when the test ran it, for jiffies and for precise stamps.
func TestClockConvertsPacketTimesToWallClock(t *testing.T) {
	privtest.Require(t)
	for _, precise := range []bool{false, true} {
		h := newClockHarness(t, precise)
		clock := h.newClock()
		if precise != (clock.TickNs() == 0) {
			t.Fatalf("precise=%v: tick %d ns", precise, clock.TickNs())
		}
		if !precise && snapTick(float64(clock.TickNs())) != clock.TickNs() {
			t.Fatalf("tick %d ns is no kernel's TICK_NSEC", clock.TickNs())
		}
		h.checkPacketTime(clock, fmt.Sprintf("precise=%v", precise), 2)
	}
}

// Calibrating while every CPU is busy (other goroutines spinning, so this
// one is preempted between samples) still finds the tick an idle
// calibration finds, and packets still convert to within half a tick.
func TestClockCalibratesOnABusyMachine(t *testing.T) {
	privtest.Require(t)
	h := newClockHarness(t, false)
	idle := h.newClock()

	stop := make(chan struct{})
	var spinning sync.WaitGroup
	for range 2 * runtime.NumCPU() {
		spinning.Add(1)
		go func() {
			defer spinning.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
			}
		}()
	}
	defer func() { close(stop); spinning.Wait() }()

	for i := range 20 {
		clock := h.newClock()
		if clock.TickNs() != idle.TickNs() {
			t.Errorf("calibration %d: tick %v, idle calibration %v", i, time.Duration(clock.TickNs()), time.Duration(idle.TickNs()))
		}
		h.checkPacketTime(clock, fmt.Sprintf("calibration %d", i), uint16(i+2))
	}
}
