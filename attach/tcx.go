package attach

import (
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netns"

	"github.com/podflow/podflow/flow"
)

// tcxBackend attaches with TCX links (kernel >= 6.6). A TCX link belongs to
// the file descriptor podflow holds: if podflow dies, the kernel detaches it,
// so nothing can be left behind.
type tcxBackend struct {
	ns *netns.NsHandle
}

func (b *tcxBackend) attach(ifindex int, dir flow.Direction, prog *ebpf.Program) (hook, error) {
	attachType := ebpf.AttachTCXIngress
	if dir == flow.Egress {
		attachType = ebpf.AttachTCXEgress
	}
	var l link.Link
	err := inNetns(b.ns, func() error {
		var err error
		l, err = link.AttachTCX(link.TCXOptions{
			Interface: ifindex,
			Program:   prog,
			Attach:    attachType,
			// Head, not Tail: a TCX chain stops at the first program that
			// returns anything but TCX_NEXT, and CNIs in TCX mode (Cilium)
			// redirect or drop nearly every packet on a pod's veth. At the
			// tail podflow would see only what they pass on, i.e. almost
			// nothing. At the head it sees every packet that reaches the
			// hook, before any rewrite (NAT happens later; conntrack gives
			// post-NAT addresses), and since it always returns TCX_NEXT and
			// never touches the packet, the programs after it behave exactly
			// as without podflow. The cost: packets a later program drops are
			// counted, as a router's ingress counters would. A program
			// attached later with Head() still goes before podflow.
			Anchor: link.Head(),
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("tcx %s: %w", dir, err)
	}
	return tcxHook{l}, nil
}

func (b *tcxBackend) close() error { return nil }

type tcxHook struct{ l link.Link }

// detach closes the link, which detaches the program. When the interface is
// already gone the kernel has released the link and Close only frees the fd.
func (h tcxHook) detach() error {
	if err := h.l.Close(); err != nil {
		return fmt.Errorf("close tcx link: %w", err)
	}
	return nil
}
