package attach

import (
	"errors"
	"fmt"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// dumpTries is how often a netlink dump interrupted by concurrent changes
// (NLM_F_DUMP_INTR) is retried before List gives up.
const dumpTries = 5

// Bounds of the wait before re-subscribing after a subscription died.
const (
	minResubscribeWait = 100 * time.Millisecond
	maxResubscribeWait = 5 * time.Second
)

// NetlinkSource is the LinkSource of a network namespace, read through
// rtnetlink: link dumps and RTNLGRP_LINK events, plus default routes.
type NetlinkSource struct {
	ns  *netns.NsHandle // nil: the process's namespace
	h   *netlink.Handle
	log *zap.Logger
}

// NewNetlinkSource watches the network namespace the process runs in.
func NewNetlinkSource(log *zap.Logger) (*NetlinkSource, error) {
	h, err := netlink.NewHandle()
	if err != nil {
		return nil, fmt.Errorf("netlink handle: %w", err)
	}
	return newNetlinkSource(nil, h, log), nil
}

// NewNetlinkSourceAt watches the network namespace ns. Its sockets are
// opened inside ns, so no thread of the caller changes namespace. The
// handle must stay open while the source is used.
func NewNetlinkSourceAt(ns netns.NsHandle, log *zap.Logger) (*NetlinkSource, error) {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("netlink handle in netns: %w", err)
	}
	return newNetlinkSource(&ns, h, log), nil
}

func newNetlinkSource(ns *netns.NsHandle, h *netlink.Handle, log *zap.Logger) *NetlinkSource {
	if log == nil {
		log = zap.NewNop()
	}
	return &NetlinkSource{ns: ns, h: h, log: log}
}

// Close releases the netlink socket used by List.
func (s *NetlinkSource) Close() { s.h.Close() }

// List dumps the links and marks those carrying a default route.
func (s *NetlinkSource) List() ([]Link, error) {
	nlLinks, err := retryInterrupted(s.h.LinkList)
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	defaults, err := s.defaultRouteLinks()
	if err != nil {
		return nil, err
	}
	links := make([]Link, 0, len(nlLinks))
	for _, nl := range nlLinks {
		l := toLink(nl)
		l.DefaultRoute = defaults[l.Index]
		links = append(links, l)
	}
	return links, nil
}

// defaultRouteLinks returns the indexes of the links that IPv4 or IPv6
// default routes of the main table leave through.
func (s *NetlinkSource) defaultRouteLinks() (map[int]bool, error) {
	routes, err := retryInterrupted(func() ([]netlink.Route, error) {
		return s.h.RouteListFiltered(netlink.FAMILY_ALL,
			&netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	out := make(map[int]bool)
	for _, r := range routes {
		if !isDefaultRoute(r) || r.Type != unix.RTN_UNICAST {
			continue
		}
		if r.LinkIndex > 0 {
			out[r.LinkIndex] = true
		}
		for _, hop := range r.MultiPath { // ECMP default routes
			if hop.LinkIndex > 0 {
				out[hop.LinkIndex] = true
			}
		}
	}
	return out, nil
}

func isDefaultRoute(r netlink.Route) bool {
	if r.Table != unix.RT_TABLE_MAIN {
		return false
	}
	if r.Dst == nil {
		return true
	}
	ones, _ := r.Dst.Mask.Size()
	return ones == 0
}

// retryInterrupted repeats a dump the kernel flagged as interrupted by a
// concurrent change, since its result may miss or repeat entries.
func retryInterrupted[T any](dump func() ([]T, error)) ([]T, error) {
	var err error
	for range dumpTries {
		var out []T
		out, err = dump()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return out, err
		}
	}
	return nil, err
}

func toLink(nl netlink.Link) Link {
	a := nl.Attrs()
	return Link{Index: a.Index, Name: a.Name, Kind: nl.Type(), EncapType: a.EncapType}
}

// linkEvent converts a link update; ok is false for updates that say
// nothing about the link itself.
func linkEvent(u netlink.LinkUpdate) (LinkEvent, bool) {
	// Bridge port notifications (family AF_BRIDGE) come on the same group;
	// an RTM_DELLINK among them means "left the bridge", not "deleted".
	if u.IfInfomsg.Family != unix.AF_UNSPEC || u.Link == nil {
		return LinkEvent{}, false
	}
	switch u.Header.Type {
	case unix.RTM_NEWLINK:
		return LinkEvent{Kind: EventLinkChanged, Link: toLink(u.Link)}, true
	case unix.RTM_DELLINK:
		return LinkEvent{Kind: EventLinkRemoved, Link: toLink(u.Link)}, true
	}
	return LinkEvent{}, false
}
