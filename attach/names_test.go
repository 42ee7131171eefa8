package attach

import (
	"fmt"
	"testing"
)

func TestLinkNamesKeepsRecentlyRemoved(t *testing.T) {
	n := newLinkNames()
	for i := 1; i <= maxRemovedNames+2; i++ {
		n.set(i, fmt.Sprintf("veth%d", i))
		n.remove(i)
	}
	// The two oldest removals were pushed out.
	for _, i := range []int{1, 2} {
		if got, ok := n.get(i); ok {
			t.Errorf("get(%d) = %q, true; want forgotten", i, got)
		}
	}
	if got, ok := n.get(3); !ok || got != "veth3" {
		t.Errorf("get(3) = %q, %v; want veth3, true", got, ok)
	}
	if len(n.removed) != maxRemovedNames || len(n.order) != maxRemovedNames {
		t.Errorf("removed holds %d names (order %d), want %d", len(n.removed), len(n.order), maxRemovedNames)
	}

	// A new link reusing an index wins over the removed one.
	n.set(3, "eth0")
	if got, ok := n.get(3); !ok || got != "eth0" {
		t.Errorf("get(3) = %q, %v; want eth0, true", got, ok)
	}
	// Removing it again does not queue the index twice.
	n.remove(3)
	if len(n.order) != maxRemovedNames {
		t.Errorf("order holds %d indexes, want %d", len(n.order), maxRemovedNames)
	}
	if got, _ := n.get(3); got != "eth0" {
		t.Errorf("get(3) = %q, want eth0", got)
	}
	// Removing an unknown link changes nothing.
	n.remove(99999)
	if len(n.presentIndexes()) != 0 {
		t.Errorf("present = %v, want none", n.presentIndexes())
	}
}
