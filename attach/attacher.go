package attach

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"go.uber.org/zap"

	"github.com/podflow/podflow/flow"
)

// hook is one program attached to one direction of one link.
type hook interface {
	// detach removes the program; it succeeds when the link is gone.
	detach() error
}

// backend attaches programs one way (TCX links or tc filters).
type backend interface {
	attach(ifindex int, dir flow.Direction, prog *ebpf.Program) (hook, error)
	close() error
}

// attacher attaches a program to one hook of a link and says how it did.
// The watcher's unit tests replace it with a fake.
type attacher interface {
	attach(ifindex int, dir flow.Direction, prog *ebpf.Program) (hook, string, error)
	close() error
}

// fallbackAttacher uses TCX unless told not to, and falls back to tc
// filters for good once the kernel says it has no TCX.
type fallbackAttacher struct {
	tcx, tc        backend // tcx is nil when ForceNetlink is set
	tcxUnsupported bool
	log            *zap.Logger
}

func newKernelAttacher(cfg Config, log *zap.Logger) (*fallbackAttacher, error) {
	tc, err := newTCBackend(cfg.Netns)
	if err != nil {
		return nil, fmt.Errorf("tc filter backend: %w", err)
	}
	a := &fallbackAttacher{tc: tc, log: log}
	if !cfg.ForceNetlink {
		a.tcx = &tcxBackend{ns: cfg.Netns}
	}
	return a, nil
}

func (a *fallbackAttacher) attach(ifindex int, dir flow.Direction, prog *ebpf.Program) (hook, string, error) {
	if a.tcx != nil && !a.tcxUnsupported {
		h, err := a.tcx.attach(ifindex, dir, prog)
		if err == nil {
			return h, MethodTCX, nil
		}
		if !errors.Is(err, ebpf.ErrNotSupported) {
			return nil, MethodTCX, err
		}
		a.tcxUnsupported = true
		a.log.Info("kernel has no TCX links: attaching with clsact and tc filters", zap.Error(err))
	}
	h, err := a.tc.attach(ifindex, dir, prog)
	return h, MethodNetlink, err
}

func (a *fallbackAttacher) close() error {
	var errs []error
	if a.tcx != nil {
		errs = append(errs, a.tcx.close())
	}
	errs = append(errs, a.tc.close())
	return errors.Join(errs...)
}
