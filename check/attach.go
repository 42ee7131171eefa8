package check

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/vishvananda/netns"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/podflow/podflow/attach"
)

// EffectAttachUnverified is the effect when the attach probe could not run.
const EffectAttachUnverified = "podflow tries TCX links first and falls back to clsact and tc filters"

// AttachResult attaches progs with the agent's watcher (TCX first, clsact
// and tc filters when the kernel has no TCX) to lo of a network namespace
// created for the probe, so no interface of the host is touched, and
// reports the method the agent will use.
func AttachResult(ctx context.Context, progs attach.Programs) Result {
	r := Result{Name: "attach", Required: true}
	ns, err := newPrivateNetns()
	if err != nil {
		// Creating a namespace needs CAP_SYS_ADMIN, which the agent does
		// not: the probe cannot tell, podflow may still attach.
		r.Status, r.Detail, r.Effect = Degraded, "not tried: "+err.Error(), EffectAttachUnverified
		return r
	}
	defer ns.Close() // the last reference: the namespace goes with it
	src, err := attach.NewNetlinkSourceAt(ns, zap.NewNop())
	if err != nil {
		r.Status, r.Detail, r.Effect = Degraded, "not tried: "+err.Error(), EffectAttachUnverified
		return r
	}
	defer src.Close()
	// The watcher logs an attach failure instead of returning it.
	core, logs := observer.New(zap.WarnLevel)
	w, err := attach.NewWatcher(attach.Config{HostInterfaces: []string{"lo"}, Netns: &ns}, progs, src, zap.New(core))
	if err != nil {
		r.Status, r.Detail, r.Effect = Unavailable, err.Error(), EffectCannotRun
		return r
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	var attached []attach.Interface
	select {
	case <-w.Ready():
		attached = w.Attached()
	case <-ctx.Done():
	case err := <-done: // failed before it listed the links
		done <- err
	}
	stop()
	runErr := <-done

	if len(attached) != 1 {
		var reasons []string
		for _, e := range logs.All() {
			if v, ok := e.ContextMap()["error"]; ok {
				reasons = append(reasons, fmt.Sprint(v))
			}
		}
		if runErr != nil {
			reasons = append(reasons, runErr.Error())
		}
		if ctx.Err() != nil {
			reasons = append(reasons, ctx.Err().Error())
		}
		if len(reasons) == 0 {
			reasons = append(reasons, "lo was not attached")
		}
		r.Status, r.Detail, r.Effect = Unavailable, strings.Join(reasons, "; "), EffectCannotRun
		return r
	}
	r.Status = OK
	switch attached[0].Method {
	case attach.MethodTCX:
		r.Detail = "TCX links (tried on lo of a private network namespace)"
	default:
		r.Detail = "clsact qdisc and tc filters: the kernel has no TCX links (tried on lo of a private network namespace)"
	}
	if runErr != nil {
		r.Status, r.Detail = Degraded, r.Detail+"; detaching failed: "+runErr.Error()
		r.Effect = "podflow may leave its programs attached when it stops"
	}
	return r
}

// newPrivateNetns creates a network namespace and returns a handle to it,
// without moving any thread the runtime reuses: the one that unshares
// stays locked and ends with its goroutine.
func newPrivateNetns() (netns.NsHandle, error) {
	type result struct {
		h   netns.NsHandle
		err error
	}
	c := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked, on purpose (see above)
		h, err := netns.New()
		c <- result{h, err}
	}()
	r := <-c
	if r.err != nil {
		return netns.None(), fmt.Errorf("create a private network namespace: %w", r.err)
	}
	if !r.h.IsOpen() {
		return netns.None(), errors.New("create a private network namespace: no handle")
	}
	return r.h, nil
}
