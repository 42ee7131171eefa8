package bpf

import (
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

// A packet's exported time lies within half a tick (plus the conversion's
// own error) of when the test ran it, for jiffies and for precise stamps.
func TestClockConvertsPacketTimesToWallClock(t *testing.T) {
	privtest.Require(t)
	for _, precise := range []bool{false, true} {
		objs, err := Load(LoadOptions{MaxFlows: 1024, PreciseTimestamps: precise})
		if err != nil {
			t.Fatal(err)
		}
		defer objs.Close()
		mono, err := flow.NewMonoConverter(flow.SystemClockSource{})
		if err != nil {
			t.Fatal(err)
		}
		clock, err := objs.NewClock(mono)
		if err != nil {
			t.Fatal(err)
		}
		if precise != (clock.TickNs() == 0) {
			t.Fatalf("precise=%v: tick %d ns", precise, clock.TickNs())
		}
		if !precise && snapTick(float64(clock.TickNs())) != clock.TickNs() {
			t.Fatalf("tick %d ns is no kernel's TICK_NSEC", clock.TickNs())
		}
		d, err := NewDrainer(objs)
		if err != nil {
			t.Fatal(err)
		}
		h := &harness{t: t, objs: objs, d: d}
		before := time.Now()
		h.run(objs.TcIngress, pkt.Frame{Src: v4a, Dst: v4b, Proto: 17, SrcPort: 1, DstPort: 2}.Bytes(), 0)
		after := time.Now()
		entries, err := d.Drain(nil, clock.ToWall)
		if err != nil || len(entries) != 1 {
			t.Fatalf("drained %d entries: %v", len(entries), err)
		}
		slack := time.Duration(clock.TickNs())/2 + time.Millisecond
		if got := entries[0].First; got.Before(before.Add(-slack)) || got.After(after.Add(slack)) {
			t.Errorf("precise=%v: packet at %v..%v exported at %v (tick %v)", precise, before, after, got, time.Duration(clock.TickNs()))
		}
	}
}
