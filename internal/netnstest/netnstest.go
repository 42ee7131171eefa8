// Package netnstest holds helpers for privileged tests that build throwaway
// network namespaces: the namespaces themselves, veth pairs, bridges, dummy
// links, addresses and sysctls, and running code inside a namespace with the
// OS thread locked. Everything a helper creates is removed when the test ends.
package netnstest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"github.com/podflow/podflow/internal/privtest"
	"os"
	"runtime"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// RequirePrivileged skips the test when it does not run as root, except on
// CI (CI=true), where a silently skipped privileged test would hide a broken
// setup: there it fails instead.
func RequirePrivileged(t testing.TB) {
	t.Helper()
	privtest.Require(t)
}

// Netns is a named network namespace created for one test.
type Netns struct {
	Name   string
	Handle netns.NsHandle
	// Netlink is a netlink handle whose socket lives in the namespace, so
	// its link, address, route, qdisc and filter calls act there without
	// switching threads.
	Netlink *netlink.Handle
}

// New creates a named network namespace (visible as `ip netns` NAME) with
// its loopback up, and deletes it when the test ends. The calling thread is
// left in the namespace it was in.
func New(t testing.TB) *Netns {
	t.Helper()
	name := "pftest-" + randomSuffix(t)
	handle, err := newNamed(name)
	if err != nil {
		t.Fatalf("create netns %s: %v", name, err)
	}
	nlh, err := netlink.NewHandleAt(handle)
	if err != nil {
		handle.Close()
		_ = netns.DeleteNamed(name)
		t.Fatalf("netlink handle in netns %s: %v", name, err)
	}
	n := &Netns{Name: name, Handle: handle, Netlink: nlh}
	t.Cleanup(func() {
		nlh.Close()
		if err := handle.Close(); err != nil {
			t.Errorf("close netns %s: %v", name, err)
		}
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("delete netns %s: %v", name, err)
		}
	})
	lo, err := nlh.LinkByName("lo")
	if err != nil {
		t.Fatalf("netns %s: find lo: %v", name, err)
	}
	n.LinkUp(t, lo)
	return n
}

// newNamed creates the namespace from a locked thread and moves that thread
// back, since netns.NewNamed leaves the caller inside the new namespace.
func newNamed(name string) (netns.NsHandle, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return netns.None(), fmt.Errorf("get current netns: %w", err)
	}
	defer orig.Close()
	handle, err := netns.NewNamed(name)
	if err != nil {
		return netns.None(), fmt.Errorf("new named netns: %w", err)
	}
	if err := netns.Set(orig); err != nil {
		// The thread is stuck in the new namespace: never unlock it, so the
		// runtime discards it when this goroutine ends.
		runtime.LockOSThread()
		handle.Close()
		return netns.None(), fmt.Errorf("return to original netns: %w", err)
	}
	return handle, nil
}

// Do runs fn inside the namespace. See the package-level Do.
func (n *Netns) Do(fn func() error) error {
	return Do(n.Handle, fn)
}

// Do runs fn on the calling goroutine with its OS thread locked inside ns,
// then moves the thread back. Sockets created by fn stay in ns and may be
// used from any goroutine afterwards. fn may call t.FailNow: the thread is
// still restored. If it cannot be restored, the thread stays locked so the
// runtime discards it when the goroutine ends.
func Do(ns netns.NsHandle, fn func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("get current netns: %w", err)
	}
	defer orig.Close()
	if err := netns.Set(ns); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter netns: %w", err)
	}
	defer func() {
		if err := netns.Set(orig); err != nil {
			return
		}
		runtime.UnlockOSThread()
	}()
	return fn()
}

// Sysctl writes value to /proc/sys/KEY inside the namespace (KEY like
// "net/ipv6/conf/all/disable_ipv6"); /proc/sys/net follows the writing
// thread's namespace.
func (n *Netns) Sysctl(t testing.TB, key, value string) {
	t.Helper()
	err := n.Do(func() error {
		return os.WriteFile("/proc/sys/"+key, []byte(value), 0o644)
	})
	if err != nil {
		t.Fatalf("netns %s: sysctl %s=%s: %v", n.Name, key, value, err)
	}
}

// DisableIPv6 turns IPv6 off for links created afterwards (and existing
// ones), so no router solicitations or DAD probes disturb exact packet counts.
func (n *Netns) DisableIPv6(t testing.TB) {
	t.Helper()
	n.Sysctl(t, "net/ipv6/conf/all/disable_ipv6", "1")
	n.Sysctl(t, "net/ipv6/conf/default/disable_ipv6", "1")
}

func randomSuffix(t testing.TB) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random netns name: %v", err)
	}
	return hex.EncodeToString(b)
}
