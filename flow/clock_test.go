package flow

import (
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// scriptedSource replays readings in order: each Measure try reads
// monotonic, realtime, monotonic.
type scriptedSource struct {
	mono, wall []int64
	monoErr    error
}

func (s *scriptedSource) Monotonic() (int64, error) {
	if s.monoErr != nil {
		return 0, s.monoErr
	}
	v := s.mono[0]
	s.mono = s.mono[1:]
	return v, nil
}

func (s *scriptedSource) Realtime() (int64, error) {
	v := s.wall[0]
	s.wall = s.wall[1:]
	return v, nil
}

const wallBase = int64(1_700_000_000_000_000_000) // ns since the epoch

func TestMonoConverterPicksSmallestGap(t *testing.T) {
	src := &scriptedSource{
		// gaps 600, 100, 300: the second try wins.
		mono: []int64{1_000, 1_600, 2_000, 2_100, 3_000, 3_300},
		wall: []int64{wallBase + 1_300, wallBase + 2_077, wallBase + 3_150},
	}
	c, err := NewMonoConverter(src)
	if err != nil {
		t.Fatal(err)
	}
	wantOffset := wallBase + 2_077 - 2_050 // wall paired with the monotonic midpoint
	if got := c.Offset(); got != time.Duration(wantOffset) {
		t.Fatalf("offset = %d, want %d", got, wantOffset)
	}
	for _, mono := range []uint64{0, 1, 5_000_000_123, 1 << 50} {
		want := time.Unix(0, int64(mono)+wantOffset)
		if got := c.ToWall(mono); !got.Equal(want) || got.UnixNano() != want.UnixNano() {
			t.Errorf("ToWall(%d) = %v, want %v", mono, got, want)
		}
	}
}

func TestMonoConverterMeasureErrorKeepsOffset(t *testing.T) {
	src := &scriptedSource{mono: []int64{10, 10, 10, 10, 10, 10}, wall: []int64{110, 110, 110}}
	c, err := NewMonoConverter(src)
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	src.monoErr = boom
	if err := c.Measure(); !errors.Is(err, boom) {
		t.Fatalf("Measure error = %v, want wrapping %v", err, boom)
	}
	if got := c.Offset(); got != 100 {
		t.Fatalf("offset after failed Measure = %d, want 100", got)
	}
}

func TestFixedClockSource(t *testing.T) {
	c, err := NewMonoConverter(FixedClockSource{WallNs: wallBase, MonoNs: 5_000})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.ToWall(5_001), time.Unix(0, wallBase+1); !got.Equal(want) {
		t.Fatalf("ToWall = %v, want %v", got, want)
	}
}

// The real clocks: converting the current CLOCK_MONOTONIC must land next to
// time.Now(). The 50ms bound is a correctness margin (a wrong clock or unit
// is off by seconds to years), not a performance figure.
func TestMonoConverterSystemClocks(t *testing.T) {
	c, err := NewMonoConverter(SystemClockSource{})
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	got := c.ToWall(uint64(ts.Nano()))
	const margin = 50 * time.Millisecond
	if got.Before(before.Add(-margin)) || got.After(after.Add(margin)) {
		t.Fatalf("ToWall(now mono) = %v, want within %v of [%v, %v]", got, margin, before, after)
	}
}

func TestFakeClock(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	c := NewFakeClock(start)
	c.Advance(1500 * time.Millisecond)
	if got, want := c.Now(), start.Add(1500*time.Millisecond); !got.Equal(want) {
		t.Fatalf("Now = %v, want %v", got, want)
	}
	c.Set(start)
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("Now after Set = %v, want %v", got, start)
	}
}
