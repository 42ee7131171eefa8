package attach

import (
	"fmt"
	"runtime"

	"github.com/vishvananda/netns"
)

// inNetns runs fn on an OS thread inside ns (nil: runs fn where we are).
// BPF_LINK_CREATE resolves an ifindex in the calling thread's network
// namespace, so TCX attaches for another namespace must come from a thread
// inside it. fn runs on a fresh goroutine whose thread stays locked and is
// therefore discarded by the runtime when the goroutine ends: no thread is
// ever handed back to the scheduler in the wrong namespace, and nothing has
// to be restored. Attaches are rare, so the thread per call costs nothing
// that matters.
func inNetns(ns *netns.NsHandle, fn func() error) error {
	if ns == nil {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked, on purpose (see above)
		if err := netns.Set(*ns); err != nil {
			errc <- fmt.Errorf("enter netns: %w", err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}
