package delayline

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"github.com/podflow/podflow/internal/netnstest"
)

// Names and addresses of the topology. Each test gets its own namespaces,
// so fixed values cannot collide between tests.
const (
	RouterClientLinkName = "rtr-cli" // R's end of the veth to C
	RouterServerLinkName = "rtr-srv" // R's end of the veth to S
	PeerLinkName         = "eth0"    // the other end, in C and in S
	TunName              = "dly0"    // the line's tun in R
	// delayedTable holds the routes for packets coming back out of the line.
	delayedTable = 100
	rulePriority = 100
)

var (
	routerClient4 = netip.MustParseAddr("10.99.1.1")
	client4       = netip.MustParseAddr("10.99.1.2")
	routerServer4 = netip.MustParseAddr("10.99.2.1")
	server4       = netip.MustParseAddr("10.99.2.2")
	routerClient6 = netip.MustParseAddr("fd99:1::1")
	client6       = netip.MustParseAddr("fd99:1::2")
	routerServer6 = netip.MustParseAddr("fd99:2::1")
	server6       = netip.MustParseAddr("fd99:2::2")
)

// Topology is client netns C — router netns R — server netns S, each pair
// joined by a veth. R routes packets for the server's addresses into the
// tun of Line; what the line writes back is policy-routed (iif dly0) on to
// S. Only C→S is delayed; S→C is forwarded at once.
type Topology struct {
	Router, Client, Server   *netnstest.Netns
	ClientAddr4, ServerAddr4 netip.Addr
	ClientAddr6, ServerAddr6 netip.Addr
	// Names of R's veth ends (in Router), for attaching programs to them.
	RouterClientLink, RouterServerLink string
	Line                               *Line
}

// New builds the topology with a Line of the given delay, all removed (and
// the line's goroutines stopped) when the test ends. The caller must have
// checked privileges (privtest.Require).
func New(t testing.TB, delay time.Duration) *Topology {
	t.Helper()
	tp := &Topology{
		Router: netnstest.New(t), Client: netnstest.New(t), Server: netnstest.New(t),
		ClientAddr4: client4, ServerAddr4: server4, ClientAddr6: client6, ServerAddr6: server6,
		RouterClientLink: RouterClientLinkName, RouterServerLink: RouterServerLinkName,
	}
	for _, n := range []*netnstest.Netns{tp.Router, tp.Client, tp.Server} {
		quietIPv6(t, n)
	}
	r := tp.Router
	r.Sysctl(t, "net/ipv4/ip_forward", "1")
	r.Sysctl(t, "net/ipv6/conf/all/forwarding", "1")
	// Packets leave the line on dly0 with C's source address, which R
	// reaches through rtr-cli: strict reverse-path filtering would drop them.
	r.Sysctl(t, "net/ipv4/conf/all/rp_filter", "0")
	r.Sysctl(t, "net/ipv4/conf/default/rp_filter", "0")

	tp.joinPeer(t, tp.Client, RouterClientLinkName, routerClient4, client4, routerClient6, client6)
	rtrSrv := tp.joinPeer(t, tp.Server, RouterServerLinkName, routerServer4, server4, routerServer6, server6)

	tun, fd := r.OpenTun(t, TunName)
	// No link-local address on the tun, so R sends no neighbour discovery
	// of its own into the line (only an MLD report or two, from ::).
	if err := r.Netlink.LinkSetIP6AddrGenMode(tun, nl.IN6_ADDR_GEN_MODE_NONE); err != nil {
		t.Fatalf("netns %s: addrgenmode none on %s: %v", r.Name, TunName, err)
	}
	r.LinkUp(t, tun)
	for _, dst := range []netip.Addr{server4, server6} {
		r.AddRoute(t, &netlink.Route{LinkIndex: tun.Attrs().Index, Dst: hostPrefix(dst), Scope: netlink.SCOPE_LINK})
	}
	for _, serverNet := range []string{"10.99.2.0/24", "fd99:2::/64"} {
		r.AddRoute(t, &netlink.Route{
			LinkIndex: rtrSrv.Attrs().Index, Dst: mustCIDR(t, serverNet),
			Table: delayedTable, Scope: netlink.SCOPE_LINK,
		})
	}
	for _, family := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		rule := netlink.NewRule()
		rule.Family, rule.IifName = family, TunName
		rule.Table, rule.Priority = delayedTable, rulePriority
		if err := r.Netlink.RuleAdd(rule); err != nil {
			t.Fatalf("netns %s: rule iif %s lookup %d (family %d): %v", r.Name, TunName, delayedTable, family, err)
		}
	}

	tp.Line = Start(fd, delay)
	t.Cleanup(func() {
		if err := tp.Line.Close(); err != nil {
			t.Errorf("delay line: %v", err)
		}
	})
	return tp
}

// joinPeer links R to peer with a veth, addresses both ends, points peer's
// default routes at R and returns R's end.
func (tp *Topology) joinPeer(t testing.TB, peer *netnstest.Netns, routerLink string,
	router4, peer4, router6, peer6 netip.Addr,
) netlink.Link {
	t.Helper()
	r := tp.Router
	rEnd, pEnd := r.AddVethPair(t, routerLink, PeerLinkName, peer)
	addAddr(t, r, rEnd, netip.PrefixFrom(router4, 24))
	addAddr(t, r, rEnd, netip.PrefixFrom(router6, 64))
	addAddr(t, peer, pEnd, netip.PrefixFrom(peer4, 24))
	addAddr(t, peer, pEnd, netip.PrefixFrom(peer6, 64))
	r.LinkUp(t, rEnd)
	peer.LinkUp(t, pEnd)
	waitOperUp(t, r, routerLink)
	waitOperUp(t, peer, PeerLinkName)
	peer.AddDefaultRoute(t, pEnd, net.IP(router4.AsSlice()))
	peer.AddDefaultRoute(t, pEnd, net.IP(router6.AsSlice()))
	return rEnd
}

// quietIPv6 keeps links created afterwards in n from sending duplicate
// address detection and router solicitation packets, which would otherwise
// mix into the traffic tests observe on the veths.
func quietIPv6(t testing.TB, n *netnstest.Netns) {
	t.Helper()
	for _, conf := range []string{"all", "default"} {
		n.Sysctl(t, "net/ipv6/conf/"+conf+"/accept_dad", "0")
		n.Sysctl(t, "net/ipv6/conf/"+conf+"/router_solicitations", "0")
	}
}

// waitOperUp polls until the link's operational state is up. A veth gets
// its carrier, and its qdisc in place of the dropping noop one, only when
// the kernel's link watcher has run after both ends are up: packets sent
// before that are lost, and a lost SYN costs a one-second retransmission.
func waitOperUp(t testing.TB, n *netnstest.Netns, name string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l := n.Link(t, name)
		if l.Attrs().OperState == netlink.OperUp {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("netns %s: link %s operstate %v, want up", n.Name, name, l.Attrs().OperState)
		}
		time.Sleep(time.Millisecond)
	}
}

// addAddr adds the address without duplicate address detection, so an IPv6
// address is usable at once instead of tentative for a second or more.
func addAddr(t testing.TB, n *netnstest.Netns, l netlink.Link, p netip.Prefix) {
	t.Helper()
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
	if p.Addr().Is6() {
		addr.Flags = unix.IFA_F_NODAD
	}
	if err := n.Netlink.AddrAdd(l, addr); err != nil {
		t.Fatalf("netns %s: add address %s to %s: %v", n.Name, p, l.Attrs().Name, err)
	}
}

func hostPrefix(a netip.Addr) *net.IPNet {
	return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(a.BitLen(), a.BitLen())}
}

func mustCIDR(t testing.TB, cidr string) *net.IPNet {
	t.Helper()
	_, n, err := net.ParseCIDR(cidr)
	if err != nil {
		t.Fatalf("parse %s: %v", cidr, err)
	}
	return n
}

// ServerAddr is S's IPv4 or IPv6 address.
func (tp *Topology) ServerAddr(ipv6 bool) netip.Addr {
	if ipv6 {
		return tp.ServerAddr6
	}
	return tp.ServerAddr4
}

// ClientAddr is C's IPv4 or IPv6 address.
func (tp *Topology) ClientAddr(ipv6 bool) netip.Addr {
	if ipv6 {
		return tp.ClientAddr6
	}
	return tp.ClientAddr4
}
