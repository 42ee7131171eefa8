package attach

import (
	"errors"
	"fmt"
	"testing"

	"github.com/cilium/ebpf"
	"go.uber.org/zap/zaptest"

	"github.com/podflow/podflow/flow"
)

// scriptedBackend returns err from every attach and counts the calls.
type scriptedBackend struct {
	err   error
	calls int
}

func (b *scriptedBackend) attach(int, flow.Direction, *ebpf.Program) (hook, error) {
	b.calls++
	if b.err != nil {
		return nil, b.err
	}
	return fakeHook{}, nil
}

func (b *scriptedBackend) close() error { return nil }

func TestFallbackAttacherUsesTCXWhenItWorks(t *testing.T) {
	tcx, tc := &scriptedBackend{}, &scriptedBackend{}
	a := &fallbackAttacher{tcx: tcx, tc: tc, log: zaptest.NewLogger(t)}
	for range 2 {
		if _, method, err := a.attach(3, flow.Ingress, nil); err != nil || method != MethodTCX {
			t.Fatalf("attach = %q, %v; want tcx, nil", method, err)
		}
	}
	if tcx.calls != 2 || tc.calls != 0 {
		t.Errorf("calls tcx=%d tc=%d, want 2 and 0", tcx.calls, tc.calls)
	}
}

func TestFallbackAttacherFallsBackForGood(t *testing.T) {
	tcx := &scriptedBackend{err: fmt.Errorf("tcx ingress: %w", ebpf.ErrNotSupported)}
	tc := &scriptedBackend{}
	a := &fallbackAttacher{tcx: tcx, tc: tc, log: zaptest.NewLogger(t)}
	for range 3 {
		if _, method, err := a.attach(3, flow.Egress, nil); err != nil || method != MethodNetlink {
			t.Fatalf("attach = %q, %v; want netlink, nil", method, err)
		}
	}
	if tcx.calls != 1 || tc.calls != 3 {
		t.Errorf("calls tcx=%d tc=%d, want 1 and 3", tcx.calls, tc.calls)
	}
}

func TestFallbackAttacherDoesNotFallBackOnOtherErrors(t *testing.T) {
	boom := errors.New("no such device")
	tcx, tc := &scriptedBackend{err: boom}, &scriptedBackend{}
	a := &fallbackAttacher{tcx: tcx, tc: tc, log: zaptest.NewLogger(t)}
	if _, method, err := a.attach(3, flow.Ingress, nil); !errors.Is(err, boom) || method != MethodTCX {
		t.Fatalf("attach = %q, %v; want tcx, %v", method, err, boom)
	}
	if tc.calls != 0 {
		t.Errorf("tc backend called %d times, want 0", tc.calls)
	}
}

func TestFallbackAttacherForcedNetlink(t *testing.T) {
	tc := &scriptedBackend{}
	a := &fallbackAttacher{tc: tc, log: zaptest.NewLogger(t)} // ForceNetlink: no tcx backend
	if _, method, err := a.attach(3, flow.Ingress, nil); err != nil || method != MethodNetlink {
		t.Fatalf("attach = %q, %v; want netlink, nil", method, err)
	}
}
