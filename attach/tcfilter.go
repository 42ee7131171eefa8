package attach

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/podflow/podflow/flow"
)

// podflow's cls_bpf filters are told apart from everyone else's by their
// priority, handle and name. The priority is podflow's own so its filters
// get their own classifier instance (sharing a priority with a foreign
// filter of another protocol fails, and joining one of the same protocol
// would mix podflow into someone else's instance). 16 runs before filters
// added without a priority (the kernel numbers those from 49152 down) and
// after priority 1, where Cilium's legacy tc programs live.
const (
	filterPriority   = 16
	filterHandle     = 1
	filterNamePrefix = "podflow"
)

// tcBackend attaches with a clsact qdisc and cls_bpf filters in
// direct-action mode: the fallback for kernels without TCX.
//
// It only adds: clsact is created when the link has none and an existing
// qdisc is never replaced or deleted (CNIs own theirs). On detach it deletes
// only its own filter, and deletes the clsact qdisc only if podflow created
// it and no filter at all is left on it. That check and the delete are two
// netlink calls, so a filter someone adds between them would go with the
// qdisc; the window is one round trip, and leaving an empty clsact behind
// for ever was the other choice.
//
// Unlike TCX links, filters outlive podflow if it is killed: the next run
// replaces a filter it finds under its own priority, handle and name.
type tcBackend struct {
	h *netlink.Handle
	// created holds the links whose clsact qdisc podflow added, with the
	// number of podflow filters on each. Only the watcher goroutine uses it.
	created map[int]int
}

func newTCBackend(ns *netns.NsHandle) (*tcBackend, error) {
	var h *netlink.Handle
	var err error
	if ns != nil {
		h, err = netlink.NewHandleAt(*ns) // the socket lives in ns: ifindexes resolve there
	} else {
		h, err = netlink.NewHandle()
	}
	if err != nil {
		return nil, fmt.Errorf("netlink handle: %w", err)
	}
	return &tcBackend{h: h, created: make(map[int]int)}, nil
}

func (b *tcBackend) close() error {
	b.h.Close()
	return nil
}

func filterParent(dir flow.Direction) uint32 {
	if dir == flow.Egress {
		return netlink.HANDLE_MIN_EGRESS
	}
	return netlink.HANDLE_MIN_INGRESS
}

func (b *tcBackend) attach(ifindex int, dir flow.Direction, prog *ebpf.Program) (hook, error) {
	if err := b.ensureClsact(ifindex); err != nil {
		return nil, err
	}
	filter := &netlink.BpfFilter{
		FilterAttrs: netlink.FilterAttrs{
			LinkIndex: ifindex,
			Parent:    filterParent(dir),
			Handle:    filterHandle,
			Priority:  filterPriority,
			Protocol:  unix.ETH_P_ALL,
		},
		Fd:           prog.FD(),
		Name:         filterNamePrefix + "-" + dir.String(),
		DirectAction: true,
	}
	if err := b.addFilter(filter); err != nil {
		return nil, errors.Join(err, b.releaseClsact(ifindex))
	}
	return &tcHook{b: b, filter: filter}, nil
}

// ensureClsact makes sure the link has a clsact qdisc, adding one if it has
// none, and counts the filter about to be added on a qdisc podflow owns.
func (b *tcBackend) ensureClsact(ifindex int) error {
	if _, ours := b.created[ifindex]; ours {
		b.created[ifindex]++
		return nil
	}
	qdiscs, err := b.h.QdiscList(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: ifindex}})
	if err != nil {
		return fmt.Errorf("list qdiscs: %w", err)
	}
	for _, q := range qdiscs {
		if q.Attrs().Parent != netlink.HANDLE_CLSACT {
			continue
		}
		if q.Type() != "clsact" {
			// A legacy ingress qdisc has no egress hook, and replacing it
			// would break its owner.
			return fmt.Errorf("link has a %q qdisc where clsact is needed", q.Type())
		}
		return nil
	}
	clsact := &netlink.Clsact{QdiscAttrs: netlink.QdiscAttrs{
		LinkIndex: ifindex,
		Handle:    netlink.MakeHandle(0xffff, 0),
		Parent:    netlink.HANDLE_CLSACT,
	}}
	// QdiscAdd is create-exclusive: if someone added clsact since the
	// list, it is theirs and we use it.
	if err := b.h.QdiscAdd(clsact); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return nil
		}
		return fmt.Errorf("add clsact qdisc: %w", err)
	}
	b.created[ifindex] = 1
	return nil
}

// addFilter adds podflow's filter, replacing one a previous podflow run left
// under the same priority and handle, and refusing to touch a foreign one.
func (b *tcBackend) addFilter(filter *netlink.BpfFilter) error {
	existing, err := b.ownFilter(filter.LinkIndex, filter.Parent)
	if err != nil {
		return err
	}
	if existing != nil {
		if err := b.h.FilterReplace(filter); err != nil {
			return fmt.Errorf("replace stale podflow filter %s: %w", filter.Name, err)
		}
		return nil
	}
	if err := b.h.FilterAdd(filter); err != nil {
		return fmt.Errorf("add filter %s (priority %d): %w", filter.Name, filterPriority, err)
	}
	return nil
}

// ownFilter returns the filter at podflow's priority and handle under
// parent, nil if there is none, and an error if it is not podflow's.
func (b *tcBackend) ownFilter(ifindex int, parent uint32) (*netlink.BpfFilter, error) {
	filters, err := b.h.FilterList(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: ifindex}}, parent)
	if err != nil {
		return nil, fmt.Errorf("list filters: %w", err)
	}
	for _, f := range filters {
		a := f.Attrs()
		if a.Priority != filterPriority || a.Handle != filterHandle {
			continue
		}
		bpf, ok := f.(*netlink.BpfFilter)
		if !ok || !strings.HasPrefix(bpf.Name, filterNamePrefix) {
			return nil, fmt.Errorf("priority %d handle %d is taken by a foreign %s filter", filterPriority, filterHandle, f.Type())
		}
		return bpf, nil
	}
	return nil, nil
}

// releaseClsact uncounts one podflow filter on a qdisc podflow created and
// deletes the qdisc once it holds no filter at all, podflow's or anyone's.
func (b *tcBackend) releaseClsact(ifindex int) error {
	n, ours := b.created[ifindex]
	if !ours {
		return nil
	}
	if n > 1 {
		b.created[ifindex] = n - 1
		return nil
	}
	delete(b.created, ifindex)
	dev := &netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: ifindex}}
	for _, parent := range []uint32{netlink.HANDLE_MIN_INGRESS, netlink.HANDLE_MIN_EGRESS} {
		filters, err := b.h.FilterList(dev, parent)
		if err != nil {
			return fmt.Errorf("list filters before removing our clsact: %w", err)
		}
		if len(filters) > 0 {
			return nil // someone else uses the qdisc now: it stays
		}
	}
	clsact := &netlink.Clsact{QdiscAttrs: netlink.QdiscAttrs{
		LinkIndex: ifindex,
		Handle:    netlink.MakeHandle(0xffff, 0),
		Parent:    netlink.HANDLE_CLSACT,
	}}
	if err := b.h.QdiscDel(clsact); err != nil && !linkGone(err) {
		return fmt.Errorf("delete clsact qdisc podflow created: %w", err)
	}
	return nil
}

type tcHook struct {
	b      *tcBackend
	filter *netlink.BpfFilter
}

// detach deletes podflow's filter if it is still there and still podflow's;
// a link that is gone took its qdisc and filters with it.
func (h *tcHook) detach() error {
	ifindex := h.filter.LinkIndex
	own, err := h.b.ownFilter(ifindex, h.filter.Parent)
	if err != nil && !linkGone(err) {
		return fmt.Errorf("detach %s: %w", h.filter.Name, err)
	}
	var errs []error
	if own != nil {
		if err := h.b.h.FilterDel(h.filter); err != nil && !linkGone(err) {
			errs = append(errs, fmt.Errorf("delete filter %s: %w", h.filter.Name, err))
		}
	}
	if err := h.b.releaseClsact(ifindex); err != nil && !linkGone(err) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// linkGone reports errors meaning the link (and so its qdiscs and filters)
// no longer exists.
func linkGone(err error) bool {
	return errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENOENT)
}
