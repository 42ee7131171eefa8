package e2e

import (
	"net"
	"net/netip"
	"os/exec"
	"strconv"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/podflow/podflow/internal/netnstest"
)

// node is the host network namespace of a test node: a bridge for pods on
// one L2 segment, and routed pods on their own veth. Every neighbour entry
// is static so no ARP or neighbour discovery adds packets to the counts.
type node struct {
	noIPv6 bool // IPv6 disabled: no background traffic at all
	ns     *netnstest.Netns
	bridge netlink.Link
	pods   []*pod
}

// pod is a network namespace with one veth to the node.
type pod struct {
	ns       *netnstest.Netns
	eth      netlink.Link // in the pod
	hostIf   netlink.Link // in the node
	v4, v6   netip.Addr
	gw4, gw6 netip.Addr
}

const (
	bridgeV4 = "10.77.0.1"
	bridgeV6 = "fd77::1"
)

func quietIPv6(t *testing.T, ns *netnstest.Netns) {
	for _, conf := range []string{"all", "default"} {
		ns.Sysctl(t, "net/ipv6/conf/"+conf+"/accept_dad", "0")
		ns.Sysctl(t, "net/ipv6/conf/"+conf+"/addr_gen_mode", "1") // no link-local, no RS
		ns.Sysctl(t, "net/ipv6/conf/"+conf+"/router_solicitations", "0")
	}
}

func newNode(t *testing.T) *node {
	t.Helper()
	netnstest.RequirePrivileged(t)
	ns := netnstest.New(t)
	quietIPv6(t, ns)
	ns.Sysctl(t, "net/ipv4/ip_forward", "1")
	ns.Sysctl(t, "net/ipv6/conf/all/forwarding", "1")
	br := ns.AddBridge(t, "br0")
	fixMAC(t, ns, br)
	ns.AddAddr(t, br, bridgeV4+"/24")
	ns.AddAddr(t, br, bridgeV6+"/64")
	ns.LinkUp(t, br)
	return &node{ns: ns, bridge: ns.Link(t, "br0")}
}

// newIPv4OnlyNode is a node whose namespaces have IPv6 disabled.
func newIPv4OnlyNode(t *testing.T) *node {
	t.Helper()
	netnstest.RequirePrivileged(t)
	ns := netnstest.New(t)
	ns.DisableIPv6(t)
	ns.Sysctl(t, "net/ipv4/ip_forward", "1")
	br := ns.AddBridge(t, "br0")
	fixMAC(t, ns, br)
	ns.AddAddr(t, br, bridgeV4+"/24")
	ns.LinkUp(t, br)
	return &node{noIPv6: true, ns: ns, bridge: ns.Link(t, "br0")}
}

// addrs are the pod's addresses in use on this node.
func (n *node) addrs(p *pod) []netip.Addr {
	if n.noIPv6 {
		return []netip.Addr{p.v4}
	}
	return []netip.Addr{p.v4, p.v6}
}

func (n *node) gws(p *pod) []netip.Addr {
	if n.noIPv6 {
		return []netip.Addr{p.gw4}
	}
	return []netip.Addr{p.gw4, p.gw6}
}

// addBridgedPod adds pod number i (10.77.0.i, fd77::i) on the bridge.
func (n *node) addBridgedPod(t *testing.T, i int) *pod {
	t.Helper()
	p := n.addPod(t, i)
	n.ns.SetMaster(t, p.hostIf, n.bridge)
	p.v4 = netip.AddrFrom4([4]byte{10, 77, 0, byte(i)})
	p.v6 = netip.MustParseAddr("fd77::" + itoa(i))
	p.gw4, p.gw6 = netip.MustParseAddr(bridgeV4), netip.MustParseAddr(bridgeV6)
	p.ns.AddAddr(t, p.eth, p.v4.String()+"/24")
	if !n.noIPv6 {
		p.ns.AddAddr(t, p.eth, p.v6.String()+"/64")
	}
	n.finishPod(t, p, n.ns.Link(t, "br0"))
	return p
}

// addRoutedPod adds pod number i with its own point-to-point subnet
// 10.88.i.0/30 (node .1, pod .2) and fd88:i::/64, routed by the node.
func (n *node) addRoutedPod(t *testing.T, i int) *pod {
	t.Helper()
	p := n.addPod(t, i)
	p.v4 = netip.AddrFrom4([4]byte{10, 88, byte(i), 2})
	p.v6 = netip.MustParseAddr("fd88:" + itoa(i) + "::2")
	p.gw4 = netip.AddrFrom4([4]byte{10, 88, byte(i), 1})
	p.gw6 = netip.MustParseAddr("fd88:" + itoa(i) + "::1")
	n.ns.AddAddr(t, p.hostIf, p.gw4.String()+"/30")
	p.ns.AddAddr(t, p.eth, p.v4.String()+"/30")
	if !n.noIPv6 {
		n.ns.AddAddr(t, p.hostIf, p.gw6.String()+"/64")
		p.ns.AddAddr(t, p.eth, p.v6.String()+"/64")
	}
	n.finishPod(t, p, n.ns.Link(t, p.hostIf.Attrs().Name))
	return p
}

func (n *node) addPod(t *testing.T, i int) *pod {
	t.Helper()
	ns := netnstest.New(t)
	if n.noIPv6 {
		ns.DisableIPv6(t)
	} else {
		quietIPv6(t, ns)
	}
	hostName := "veth-pod" + itoa(i)
	hostIf, eth := n.ns.AddVethPair(t, hostName, "eth0", ns)
	return &pod{ns: ns, eth: eth, hostIf: hostIf}
}

// finishPod brings the links up, routes the pod through its gateway and
// installs static neighbours both ways (gw is the node link facing the pod).
func (n *node) finishPod(t *testing.T, p *pod, gw netlink.Link) {
	t.Helper()
	n.ns.LinkUp(t, p.hostIf)
	p.ns.LinkUp(t, p.eth)
	p.eth = p.ns.Link(t, "eth0")
	p.hostIf = n.ns.Link(t, p.hostIf.Attrs().Name)
	for _, gwAddr := range n.gws(p) {
		p.ns.AddNeigh(t, p.eth, net.IP(gwAddr.AsSlice()), gw.Attrs().HardwareAddr)
		route := &netlink.Route{LinkIndex: p.eth.Attrs().Index, Gw: net.IP(gwAddr.AsSlice())}
		if err := p.ns.Netlink.RouteAdd(route); err != nil {
			t.Fatalf("default route via %s: %v", gwAddr, err)
		}
	}
	for _, a := range n.addrs(p) {
		n.ns.AddNeigh(t, gw, net.IP(a.AsSlice()), p.eth.Attrs().HardwareAddr)
	}
	// Pods on the same bridge talk directly: static neighbours between them.
	if gw.Attrs().Name == "br0" {
		for _, o := range n.pods {
			if o.gw4 != p.gw4 {
				continue
			}
			for _, pair := range [][2]*pod{{p, o}, {o, p}} {
				from, to := pair[0], pair[1]
				for _, a := range n.addrs(to) {
					from.ns.AddNeigh(t, from.eth, net.IP(a.AsSlice()), to.eth.Attrs().HardwareAddr)
				}
			}
		}
	}
	n.pods = append(n.pods, p)
}

// offloads turns TSO/GSO/GRO off (or on) on both ends of the pod's veth, so
// that veth counters count packets rather than super-packets.
func (p *pod) offloads(t *testing.T, node *node, on bool) {
	t.Helper()
	state := "off"
	if on {
		state = "on"
	}
	for _, end := range []struct {
		ns  *netnstest.Netns
		dev string
	}{{node.ns, p.hostIf.Attrs().Name}, {p.ns, "eth0"}} {
		cmd := exec.Command("ip", "netns", "exec", end.ns.Name, "ethtool", "-K", end.dev, "tso", state, "gso", state, "gro", state)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ethtool -K %s: %v: %s", end.dev, err, out)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// fixMAC gives the bridge a MAC of its own: otherwise it takes its lowest
// port's MAC and changes it as pods join, leaving the pods' static
// neighbour entries for the gateway stale.
func fixMAC(t *testing.T, ns *netnstest.Netns, br netlink.Link) {
	t.Helper()
	mac := net.HardwareAddr{0x02, 0x77, 0, 0, 0, 1}
	if err := ns.Netlink.LinkSetHardwareAddr(br, mac); err != nil {
		t.Fatalf("set bridge MAC: %v", err)
	}
}
