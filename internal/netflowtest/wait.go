package netflowtest

import (
	"testing"
	"time"
)

// WaitLimit bounds every wait; tests never assert on timing.
const WaitLimit = 10 * time.Second

// Poll checks cond until it holds, failing the test after WaitLimit.
func Poll(t testing.TB, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(WaitLimit)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
