package uptime

import (
	"testing"
	"time"

	"github.com/podflow/podflow/flow"
)

var boot = time.Unix(1_700_000_000, 0)

func TestRecordTimes(t *testing.T) {
	c := NewClock(boot)
	for _, tc := range []struct {
		first, last time.Time
		fMs, lMs    uint32
		clamped     bool
		what        string
	}{
		{boot.Add(1500 * time.Millisecond), boot.Add(2 * time.Second), 1500, 2000, false, "after boot"},
		{boot.Add(-time.Millisecond), boot.Add(time.Second), 0, 1000, true, "first before boot"},
		{time.Time{}, boot, 0, 0, true, "first unknown"},
		{boot.Add(1<<32*time.Millisecond + 7*time.Millisecond), boot.Add(1<<32*time.Millisecond + 9*time.Millisecond), 7, 9, false,
			"past 2³² ms: wrapped"},
	} {
		r := flow.Record{Counters: flow.Counters{First: tc.first, Last: tc.last}}
		f, l, clamped := c.RecordTimes(&r)
		if f != tc.fMs || l != tc.lMs || clamped != tc.clamped {
			t.Errorf("%s: %d, %d, %v; want %d, %d, %v", tc.what, f, l, clamped, tc.fMs, tc.lMs, tc.clamped)
		}
	}
	if got := c.Millis(boot.Add(-2 * time.Second)); got != -2000 {
		t.Errorf("Millis before boot = %d, want -2000", got)
	}
}

// The header's instant is a whole second, not before now nor before the
// packet's latest record end, and names boot exactly.
func TestHeaderInstant(t *testing.T) {
	c := NewClock(boot)
	for _, tc := range []struct {
		now          time.Time
		latestMs     int64
		secs, uptime uint32
	}{
		{boot.Add(100700 * time.Millisecond), 100456, 1_700_000_101, 101000},
		{boot.Add(100 * time.Second), 99000, 1_700_000_100, 100000},  // now a whole second
		{boot.Add(100 * time.Second), 100001, 1_700_000_101, 101000}, // a record ending after now
		{boot.Add(-3500 * time.Millisecond), 0, 1_700_000_000, 0},    // now before boot
	} {
		secs, uptime := c.HeaderInstant(tc.now, tc.latestMs)
		if secs != tc.secs || uptime != tc.uptime {
			t.Errorf("now %v, latest %d ms: %d s, uptime %d; want %d, %d", tc.now, tc.latestMs, secs, uptime, tc.secs, tc.uptime)
		}
	}
}

func TestDefaults(t *testing.T) {
	now := func() time.Time { return boot.Add(1234567 * time.Microsecond) }
	gotNow, gotBoot := Defaults(now, time.Time{})
	if !gotBoot.Equal(boot.Add(1234*time.Millisecond)) || !gotNow().Equal(now()) {
		t.Errorf("Defaults(now, zero) boot %v, want now cut to the millisecond", gotBoot)
	}
	gotNow, gotBoot = Defaults(nil, boot.Add(time.Nanosecond))
	if !gotBoot.Equal(boot) || gotNow == nil {
		t.Errorf("Defaults(nil, boot+1ns) boot %v, want boot; now set: %v", gotBoot, gotNow != nil)
	}
}
