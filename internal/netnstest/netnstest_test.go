package netnstest

import (
	"errors"
	"os"
	"testing"

	"github.com/vishvananda/netns"
)

func currentNetnsID(t *testing.T) string {
	t.Helper()
	h, err := netns.Get()
	if err != nil {
		t.Fatalf("get netns: %v", err)
	}
	defer h.Close()
	return h.UniqueId()
}

func TestNewDoAndCleanup(t *testing.T) {
	RequirePrivileged(t)
	before := currentNetnsID(t)
	var name string
	t.Run("inside", func(t *testing.T) {
		n := New(t)
		name = n.Name
		if _, err := os.Stat("/var/run/netns/" + name); err != nil {
			t.Fatalf("named netns not visible: %v", err)
		}
		var inside string
		if err := n.Do(func() error { inside = currentNetnsID(t); return nil }); err != nil {
			t.Fatalf("Do: %v", err)
		}
		if inside != n.Handle.UniqueId() {
			t.Errorf("Do ran in netns %s, want %s", inside, n.Handle.UniqueId())
		}
		if got := currentNetnsID(t); got != before {
			t.Errorf("after Do the thread is in netns %s, want %s", got, before)
		}
		boom := errors.New("boom")
		if err := n.Do(func() error { return boom }); !errors.Is(err, boom) {
			t.Errorf("Do = %v, want fn's error", err)
		}

		peer := New(t)
		host, pod := n.AddVethPair(t, "pfa", "pfb", peer)
		if host.Type() != "veth" || host.Attrs().Name != "pfa" || pod.Attrs().Name != "pfb" {
			t.Errorf("veth pair = %s %s / %s", host.Type(), host.Attrs().Name, pod.Attrs().Name)
		}
		if _, err := peer.Netlink.LinkByName("pfb"); err != nil {
			t.Errorf("peer not in its netns: %v", err)
		}
		if tun := n.AddTun(t, "pftun"); tun.Attrs().EncapType != "none" {
			t.Errorf("tun encap = %q, want none", tun.Attrs().EncapType)
		}
	})
	if _, err := os.Stat("/var/run/netns/" + name); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("netns %s still there after its test: %v", name, err)
	}
}
