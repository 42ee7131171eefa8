package attach

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"go.uber.org/zap"

	"github.com/podflow/podflow/flow"
)

// apply brings one link's attachment in line with the config: attach it if
// it is selected and not attached, release it if it is no longer selected,
// re-attach it if it needs the other program pair. Doing it twice changes
// nothing.
func (w *Watcher) apply(l Link) {
	sel := w.cfg.selectLink(l)
	w.mu.Lock()
	cur := w.attached[l.Index]
	if cur != nil && sel.want && sel.err == nil && cur.iface.L2 == sel.l2 {
		cur.iface.Name, cur.iface.Kind = l.Name, l.Kind // follows renames
		w.mu.Unlock()
		return
	}
	w.mu.Unlock()
	if cur != nil {
		w.release(l.Index, "no longer selected")
	}
	if !sel.want {
		return
	}
	ingress, egress := w.progs.IngressL2, w.progs.EgressL2
	if !sel.l2 {
		ingress, egress = w.progs.IngressL3, w.progs.EgressL3
		if sel.err == nil && (ingress == nil || egress == nil) {
			sel.err = errors.New("link has no Ethernet header and no L3 programs were given")
		}
	}
	if sel.err != nil {
		w.refuse(l, sel.err)
		return
	}
	w.attachLink(l, sel, ingress, egress)
}

// refuse counts and logs, once per link, a selected link podflow cannot
// attach to whatever happens.
func (w *Watcher) refuse(l Link, err error) {
	if _, done := w.refused[l.Index]; done {
		return
	}
	w.refused[l.Index] = l.EncapType
	w.mu.Lock()
	w.stats.AttachErrors++
	w.mu.Unlock()
	w.log.Warn("not attaching to selected interface", linkFields(l, zap.Error(err))...)
}

// attachLink attaches both programs, or neither: if the second fails the
// first is detached again. A failure is logged and counted, never fatal.
func (w *Watcher) attachLink(l Link, sel selection, ingress, egress *ebpf.Program) {
	var hooks []hook
	var method string
	for _, p := range []struct {
		dir  flow.Direction
		prog *ebpf.Program
	}{{flow.Ingress, ingress}, {flow.Egress, egress}} {
		h, m, err := w.att.attach(l.Index, p.dir, p.prog)
		if err != nil {
			w.detachHooks(l, hooks)
			w.mu.Lock()
			w.stats.AttachErrors++
			w.mu.Unlock()
			fields := linkFields(l, zap.String("method", m), zap.Error(err))
			if linkGone(err) {
				w.log.Info("interface vanished before it could be attached", fields...)
			} else {
				w.log.Warn("attaching to interface failed", fields...)
			}
			return
		}
		hooks = append(hooks, h)
		method = m
	}
	iface := Interface{Index: l.Index, Name: l.Name, Kind: l.Kind, L2: sel.l2, Method: method}
	w.mu.Lock()
	w.attached[l.Index] = &attachedLink{iface: iface, hooks: hooks}
	w.stats.Attaches++
	w.mu.Unlock()
	w.log.Info("attached to interface", linkFields(l, zap.String("reason", sel.why),
		zap.Bool("l2", sel.l2), zap.String("method", method))...)
}

// release detaches podflow from the link if it is attached.
func (w *Watcher) release(index int, reason string) error {
	w.mu.Lock()
	a := w.attached[index]
	delete(w.attached, index)
	if a != nil {
		w.stats.Detaches++
	}
	w.mu.Unlock()
	if a == nil {
		return nil
	}
	l := Link{Index: a.iface.Index, Name: a.iface.Name, Kind: a.iface.Kind}
	err := w.detachHooks(l, a.hooks)
	w.log.Info("detached from interface", linkFields(l, zap.String("reason", reason))...)
	return err
}

// detachHooks detaches in reverse order, counting and logging failures.
func (w *Watcher) detachHooks(l Link, hooks []hook) error {
	var errs []error
	for i := len(hooks) - 1; i >= 0; i-- {
		if err := hooks[i].detach(); err != nil {
			w.mu.Lock()
			w.stats.DetachErrors++
			w.mu.Unlock()
			w.log.Warn("detaching from interface failed", linkFields(l, zap.Error(err))...)
			errs = append(errs, fmt.Errorf("detach from %s (index %d): %w", l.Name, l.Index, err))
		}
	}
	return errors.Join(errs...)
}

// detachAll releases every link, at shutdown.
func (w *Watcher) detachAll() error {
	w.mu.Lock()
	indexes := make([]int, 0, len(w.attached))
	for index := range w.attached {
		indexes = append(indexes, index)
	}
	w.mu.Unlock()
	var errs []error
	for _, index := range indexes {
		errs = append(errs, w.release(index, "shutting down"))
	}
	return errors.Join(errs...)
}

func linkFields(l Link, more ...zap.Field) []zap.Field {
	return append([]zap.Field{zap.String("interface", l.Name), zap.Int("ifindex", l.Index), zap.String("kind", l.Kind)}, more...)
}
