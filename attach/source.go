package attach

import "context"

// Link is what the watcher needs to know about a network interface.
type Link struct {
	Index int
	Name  string
	// Kind is the netlink link kind (IFLA_INFO_KIND): "veth", "dummy",
	// "bridge", "wireguard", "tuntap", ...; "device" for physical NICs.
	Kind string
	// EncapType is the link's ARPHRD type as netlink names it: "ether"
	// (veth, NICs, bridges), "loopback", "none" (tun, wireguard), ...
	EncapType string
	// DefaultRoute is true when an IPv4 or IPv6 default route in the main
	// table leaves through this link. Only List fills it: route changes
	// arrive as EventRoutesChanged, and links in events leave it false.
	DefaultRoute bool
}

// EventKind says what a LinkEvent reports.
type EventKind int

const (
	// EventLinkChanged: the link appeared or changed (RTM_NEWLINK).
	EventLinkChanged EventKind = iota
	// EventLinkRemoved: the link was deleted or left the namespace.
	EventLinkRemoved
	// EventRoutesChanged: a default route was added or removed; the
	// watcher lists again to learn which links carry one.
	EventRoutesChanged
	// EventResync: events may have been lost (the subscription was
	// re-established); the watcher lists again.
	EventResync
	// EventError: the source hit an error; Err says which. The watcher
	// counts and logs it and goes on.
	EventError
)

func (k EventKind) String() string {
	switch k {
	case EventLinkChanged:
		return "link-changed"
	case EventLinkRemoved:
		return "link-removed"
	case EventRoutesChanged:
		return "routes-changed"
	case EventResync:
		return "resync"
	case EventError:
		return "error"
	}
	return "unknown"
}

// LinkEvent is one change reported by a LinkSource.
type LinkEvent struct {
	Kind EventKind
	Link Link  // for EventLinkChanged and EventLinkRemoved
	Err  error // for EventError
}

// LinkSource lists a network namespace's links and reports their changes.
// The netlink implementation is NetlinkSource; tests use a fake.
type LinkSource interface {
	// List returns every link now present, with DefaultRoute filled in.
	List() ([]Link, error)
	// Subscribe starts reporting changes until ctx is done, then closes the
	// channel. The watcher subscribes before it lists, so no change falls
	// between the two.
	Subscribe(ctx context.Context) (<-chan LinkEvent, error)
}
