package netnstest

import (
	"errors"
	"net"
	"os"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// AddVethPair creates a veth pair in n named name, with its peer peerName
// moved into peer (or left in n when peer is nil), and returns both ends as
// seen from their namespaces. Both ends are left down. The pair is deleted
// when the test ends (deleting one end deletes both).
func (n *Netns) AddVethPair(t testing.TB, name, peerName string, peer *Netns) (netlink.Link, netlink.Link) {
	t.Helper()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: peerName}
	peerNl := n.Netlink
	if peer != nil {
		veth.PeerNamespace = netlink.NsFd(int(peer.Handle))
		peerNl = peer.Netlink
	}
	if err := n.Netlink.LinkAdd(veth); err != nil {
		t.Fatalf("netns %s: add veth %s/%s: %v", n.Name, name, peerName, err)
	}
	host := n.mustLink(t, name)
	n.deleteOnCleanup(t, host)
	peerLink, err := peerNl.LinkByName(peerName)
	if err != nil {
		t.Fatalf("find veth peer %s: %v", peerName, err)
	}
	return host, peerLink
}

// AddBridge creates a bridge in n, left down, deleted when the test ends.
func (n *Netns) AddBridge(t testing.TB, name string) netlink.Link {
	t.Helper()
	return n.addLink(t, &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}})
}

// AddIfb creates an ifb link in n, left down, deleted when the test ends.
// It stands in for a host NIC or a dummy link: an Ethernet link (kind
// "ifb") that takes addresses and routes and has carrier when up. (This
// kernel is built without CONFIG_DUMMY, so "dummy" links cannot be made.)
func (n *Netns) AddIfb(t testing.TB, name string) netlink.Link {
	t.Helper()
	return n.addLink(t, &netlink.Ifb{LinkAttrs: netlink.LinkAttrs{Name: name}})
}

// AddTun creates a layer-3 tun device (no Ethernet header, ARPHRD_NONE) in
// n, left down, deleted when the test ends.
func (n *Netns) AddTun(t testing.TB, name string) netlink.Link {
	t.Helper()
	link, fd := n.OpenTun(t, name)
	// The device is persistent; its queue file descriptor is not needed.
	fd.Close()
	return link
}

// OpenTun is AddTun that keeps the queue's file descriptor: writing an IP
// packet to it makes the tun receive that packet, and reading returns the
// packets the kernel sends out through the tun. Closed when the test ends.
func (n *Netns) OpenTun(t testing.TB, name string) (netlink.Link, *os.File) {
	t.Helper()
	tun := &netlink.Tuntap{
		LinkAttrs: netlink.LinkAttrs{Name: name},
		Mode:      netlink.TUNTAP_MODE_TUN,
		Flags:     netlink.TUNTAP_DEFAULTS | netlink.TUNTAP_NO_PI,
		Queues:    1, // netlink closes the queue fds unless asked for queues
	}
	// The TUNSETIFF ioctl creates the device in the calling thread's
	// namespace, not the netlink handle's: create it from inside n.
	err := n.Do(func() error { return n.Netlink.LinkAdd(tun) })
	if err != nil {
		t.Fatalf("netns %s: add tun %s: %v", n.Name, name, err)
	}
	if len(tun.Fds) != 1 {
		t.Fatalf("netns %s: tun %s: got %d queues, want 1", n.Name, name, len(tun.Fds))
	}
	fd := tun.Fds[0]
	added := n.mustLink(t, name)
	n.deleteOnCleanup(t, added)
	t.Cleanup(func() { fd.Close() })
	return added, fd
}

func (n *Netns) addLink(t testing.TB, l netlink.Link) netlink.Link {
	t.Helper()
	name := l.Attrs().Name
	if err := n.Netlink.LinkAdd(l); err != nil {
		t.Fatalf("netns %s: add %s %s: %v", n.Name, l.Type(), name, err)
	}
	added := n.mustLink(t, name)
	n.deleteOnCleanup(t, added)
	return added
}

func (n *Netns) mustLink(t testing.TB, name string) netlink.Link {
	t.Helper()
	l, err := n.Netlink.LinkByName(name)
	if err != nil {
		t.Fatalf("netns %s: find link %s: %v", n.Name, name, err)
	}
	return l
}

// deleteOnCleanup deletes the link when the test ends unless the test
// already did (or it left the namespace).
func (n *Netns) deleteOnCleanup(t testing.TB, l netlink.Link) {
	t.Cleanup(func() {
		err := n.Netlink.LinkDel(l)
		if err != nil && !errors.Is(err, unix.ENODEV) && !isNotFound(err) {
			t.Errorf("netns %s: delete link %s: %v", n.Name, l.Attrs().Name, err)
		}
	})
}

func isNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf)
}

// LinkUp sets the link up.
func (n *Netns) LinkUp(t testing.TB, l netlink.Link) {
	t.Helper()
	if err := n.Netlink.LinkSetUp(l); err != nil {
		t.Fatalf("netns %s: set %s up: %v", n.Name, l.Attrs().Name, err)
	}
}

// SetMaster enslaves l to master (a bridge); a nil master releases it.
func (n *Netns) SetMaster(t testing.TB, l, master netlink.Link) {
	t.Helper()
	var err error
	if master == nil {
		err = n.Netlink.LinkSetNoMaster(l)
	} else {
		err = n.Netlink.LinkSetMaster(l, master)
	}
	if err != nil {
		t.Fatalf("netns %s: set master of %s: %v", n.Name, l.Attrs().Name, err)
	}
}

// DeleteLink deletes the link now.
func (n *Netns) DeleteLink(t testing.TB, l netlink.Link) {
	t.Helper()
	if err := n.Netlink.LinkDel(l); err != nil {
		t.Fatalf("netns %s: delete link %s: %v", n.Name, l.Attrs().Name, err)
	}
}

// AddAddr adds an address in CIDR form ("192.0.2.1/24") to the link.
func (n *Netns) AddAddr(t testing.TB, l netlink.Link, cidr string) {
	t.Helper()
	addr, err := netlink.ParseAddr(cidr)
	if err != nil {
		t.Fatalf("parse address %s: %v", cidr, err)
	}
	if err := n.Netlink.AddrAdd(l, addr); err != nil {
		t.Fatalf("netns %s: add address %s to %s: %v", n.Name, cidr, l.Attrs().Name, err)
	}
}

// AddNeigh adds a permanent neighbour entry, so traffic to ip needs no ARP
// or neighbour discovery (which would add packets to exact counts).
func (n *Netns) AddNeigh(t testing.TB, l netlink.Link, ip net.IP, mac net.HardwareAddr) {
	t.Helper()
	family := netlink.FAMILY_V6
	if ip.To4() != nil {
		family = netlink.FAMILY_V4
	}
	neigh := &netlink.Neigh{
		LinkIndex:    l.Attrs().Index,
		Family:       family,
		State:        netlink.NUD_PERMANENT,
		IP:           ip,
		HardwareAddr: mac,
	}
	if err := n.Netlink.NeighAdd(neigh); err != nil {
		t.Fatalf("netns %s: add neighbour %s on %s: %v", n.Name, ip, l.Attrs().Name, err)
	}
}

// AddDefaultRoute adds a default route (IPv4 or IPv6 after gw's family)
// through gw on the link, in the main table.
func (n *Netns) AddDefaultRoute(t testing.TB, l netlink.Link, gw net.IP) *netlink.Route {
	t.Helper()
	route := &netlink.Route{LinkIndex: l.Attrs().Index, Gw: gw}
	if err := n.Netlink.RouteAdd(route); err != nil {
		t.Fatalf("netns %s: add default route via %s dev %s: %v", n.Name, gw, l.Attrs().Name, err)
	}
	return route
}

// AddRoute adds a route in n (set LinkIndex; Table 0 means main).
func (n *Netns) AddRoute(t testing.TB, route *netlink.Route) {
	t.Helper()
	if err := n.Netlink.RouteAdd(route); err != nil {
		t.Fatalf("netns %s: add route %v: %v", n.Name, route, err)
	}
}

// LinkDown sets the link down.
func (n *Netns) LinkDown(t testing.TB, l netlink.Link) {
	t.Helper()
	if err := n.Netlink.LinkSetDown(l); err != nil {
		t.Fatalf("netns %s: set %s down: %v", n.Name, l.Attrs().Name, err)
	}
}

// DeleteRoute deletes a route added with AddDefaultRoute or AddRoute.
func (n *Netns) DeleteRoute(t testing.TB, route *netlink.Route) {
	t.Helper()
	if err := n.Netlink.RouteDel(route); err != nil {
		t.Fatalf("netns %s: delete route %v: %v", n.Name, route, err)
	}
}

// Statistics returns the link's kernel counters (`ip -s link`).
func (n *Netns) Statistics(t testing.TB, name string) *netlink.LinkStatistics {
	t.Helper()
	l := n.mustLink(t, name)
	if l.Attrs().Statistics == nil {
		t.Fatalf("netns %s: link %s has no statistics", n.Name, name)
	}
	return l.Attrs().Statistics
}

// Link returns the named link as it is now.
func (n *Netns) Link(t testing.TB, name string) netlink.Link {
	t.Helper()
	return n.mustLink(t, name)
}
