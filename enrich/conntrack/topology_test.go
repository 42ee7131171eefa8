package conntrack

import (
	"bufio"
	"context"
	"encoding/xml"
	"errors"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/sys/unix"

	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/netnstest"
	"github.com/podflow/podflow/internal/privtest"
)

// The test network: client (10.0.1.2) — node — backend (10.0.2.2), with
// services implemented by DNAT rules in the node, as kube-proxy does.
const (
	clientIP, clientIP6   = "10.0.1.2", "fd00:1::2"
	backendIP, backendIP6 = "10.0.2.2", "fd00:2::2"
	nodeBackendIP         = "10.0.2.1" // what MASQUERADE rewrites the client to
	serviceIP, serviceIP6 = "10.96.0.10", "fd00:96::10"
	floodServiceIP        = "10.96.0.11" // DNAT to the backend, ports kept
	masqPort              = "9090"       // client → backend:9090 directly is masqueraded
)

type topo struct {
	node, client, backend *netnstest.Netns
}

func newTopo(t *testing.T) *topo {
	t.Helper()
	privtest.Require(t)
	tp := &topo{node: netnstest.New(t), client: netnstest.New(t), backend: netnstest.New(t)}
	for _, ns := range []*netnstest.Netns{tp.node, tp.client, tp.backend} {
		// Link-local addresses usable at once: neighbour discovery then
		// works on the first packet.
		ns.Sysctl(t, "net/ipv6/conf/default/accept_dad", "0")
	}
	c0, cEth := tp.node.AddVethPair(t, "c0", "eth0", tp.client)
	b0, bEth := tp.node.AddVethPair(t, "b0", "eth0", tp.backend)
	for _, a := range []struct {
		ns    *netnstest.Netns
		link  netlink.Link
		cidrs []string
	}{
		{tp.node, c0, []string{"10.0.1.1/24", "fd00:1::1/64"}},
		{tp.node, b0, []string{nodeBackendIP + "/24", "fd00:2::1/64"}},
		{tp.client, cEth, []string{clientIP + "/24", clientIP6 + "/64"}},
		{tp.backend, bEth, []string{backendIP + "/24", backendIP6 + "/64"}},
	} {
		for _, cidr := range a.cidrs {
			addAddrNoDAD(t, a.ns, a.link, cidr)
		}
		a.ns.LinkUp(t, a.link)
	}
	tp.client.AddDefaultRoute(t, cEth, net.ParseIP("10.0.1.1"))
	tp.client.AddDefaultRoute(t, cEth, net.ParseIP("fd00:1::1"))
	tp.backend.AddDefaultRoute(t, bEth, net.ParseIP(nodeBackendIP))
	tp.backend.AddDefaultRoute(t, bEth, net.ParseIP("fd00:2::1"))
	tp.node.Sysctl(t, "net/ipv4/ip_forward", "1")
	tp.node.Sysctl(t, "net/ipv6/conf/all/forwarding", "1")
	for _, rule := range []string{
		"iptables -t nat -A PREROUTING -d " + serviceIP + " -p tcp --dport 80 -j DNAT --to-destination " + backendIP + ":8080",
		"iptables -t nat -A PREROUTING -d " + serviceIP + " -p udp --dport 53 -j DNAT --to-destination " + backendIP + ":5353",
		"iptables -t nat -A PREROUTING -d " + floodServiceIP + " -p udp -j DNAT --to-destination " + backendIP,
		"iptables -t nat -A POSTROUTING -o b0 -d " + backendIP + " -p tcp --dport " + masqPort + " -j MASQUERADE",
		"ip6tables -t nat -A PREROUTING -d " + serviceIP6 + " -p tcp --dport 80 -j DNAT --to-destination [" + backendIP6 + "]:8080",
		"ip6tables -t nat -A PREROUTING -d " + serviceIP6 + " -p udp --dport 53 -j DNAT --to-destination [" + backendIP6 + "]:5353",
	} {
		run(t, tp.node, strings.Fields(rule)...)
	}
	for _, addr := range []string{backendIP + ":8080", "[" + backendIP6 + "]:8080", backendIP + ":" + masqPort} {
		tp.serveTCP(t, addr)
	}
	for _, addr := range []string{backendIP + ":5353", "[" + backendIP6 + "]:5353"} {
		tp.serveUDP(t, addr)
	}
	return tp
}

// addAddrNoDAD adds an address usable at once: IPv6 duplicate address
// detection would keep it tentative (unbindable) for a second or more.
func addAddrNoDAD(t *testing.T, n *netnstest.Netns, l netlink.Link, cidr string) {
	t.Helper()
	addr, err := netlink.ParseAddr(cidr)
	if err != nil {
		t.Fatalf("parse %s: %v", cidr, err)
	}
	addr.Flags = unix.IFA_F_NODAD
	if err := n.Netlink.AddrAdd(l, addr); err != nil {
		t.Fatalf("netns %s: add %s: %v", n.Name, cidr, err)
	}
}

// run runs a command inside ns and returns its standard output.
func run(t *testing.T, ns *netnstest.Netns, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns.Name}, args...)...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("%s in %s: %v: %s", strings.Join(args, " "), ns.Name, err, ee.Stderr)
		}
		t.Fatalf("%s in %s: %v", strings.Join(args, " "), ns.Name, err)
	}
	return string(out)
}

// serveTCP accepts on addr in the backend and tells every client the
// address it sees the client as: the source after any SNAT.
func (tp *topo) serveTCP(t *testing.T, addr string) {
	var ln net.Listener
	if err := tp.backend.Do(func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := c.Write([]byte(c.RemoteAddr().String() + "\n")); err == nil {
					_, _ = c.Read(make([]byte, 1)) // hold the connection until the client closes it
				}
			}()
		}
	}()
}

// serveUDP answers every datagram with the address it came from.
func (tp *topo) serveUDP(t *testing.T, addr string) {
	var pc net.PacketConn
	if err := tp.backend.Do(func() (err error) { pc, err = net.ListenPacket("udp", addr); return err }); err != nil {
		t.Fatalf("listen udp %s: %v", addr, err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 64)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo([]byte(from.String()+"\n"), from)
		}
	}()
}

// conn is one client connection: its tuple as the client sent it, and the
// source address the backend saw.
type conn struct {
	orig flow.Tuple
	seen netip.AddrPort
}

// dial connects from the client to addr ("tcp" or "udp"), exchanges one
// message, and leaves the connection open until the test ends.
func (tp *topo) dial(t *testing.T, network, addr string) conn {
	t.Helper()
	var c net.Conn
	if err := tp.client.Do(func() (err error) { c, err = net.DialTimeout(network, addr, 5*time.Second); return err }); err != nil {
		t.Fatalf("dial %s %s: %v", network, addr, err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if network == "udp" {
		if _, err := c.Write([]byte("?")); err != nil {
			t.Fatalf("udp write to %s: %v", addr, err)
		}
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("%s %s: read reply: %v", network, addr, err)
	}
	proto := flow.ProtoTCP
	if network == "udp" {
		proto = flow.ProtoUDP
	}
	local, remote := addrPort(c.LocalAddr()), addrPort(c.RemoteAddr())
	return conn{
		orig: flow.Tuple{SrcAddr: local.Addr(), SrcPort: local.Port(), DstAddr: remote.Addr(), DstPort: remote.Port(), Proto: proto},
		seen: unmapped(netip.MustParseAddrPort(strings.TrimSpace(line))),
	}
}

func addrPort(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.TCPAddr:
		return unmapped(a.AddrPort())
	case *net.UDPAddr:
		return unmapped(a.AddrPort())
	}
	panic("unexpected address type")
}

func unmapped(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// kernelEntry is one connection as conntrack(8) lists it.
type kernelEntry struct {
	id          uint32
	orig, reply flow.Tuple
}

// kernelEntries lists the node's conntrack table with `conntrack -L -o xml`.
func (tp *topo) kernelEntries(t *testing.T) []kernelEntry {
	t.Helper()
	var doc struct {
		Flows []struct {
			Metas []struct {
				Direction string `xml:"direction,attr"`
				L3        struct {
					Src string `xml:"src"`
					Dst string `xml:"dst"`
				} `xml:"layer3"`
				L4 struct {
					Proto uint8  `xml:"protonum,attr"`
					Sport uint16 `xml:"sport"`
					Dport uint16 `xml:"dport"`
				} `xml:"layer4"`
				ID uint32 `xml:"id"`
			} `xml:"meta"`
		} `xml:"flow"`
	}
	out := run(t, tp.node, "conntrack", "-L", "-o", "xml")
	if strings.TrimSpace(out) == "" {
		return nil // an empty table prints no document
	}
	if err := xml.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("parse conntrack -L -o xml: %v\n%s", err, out)
	}
	var entries []kernelEntry
	for _, f := range doc.Flows {
		var e kernelEntry
		for _, m := range f.Metas {
			if m.Direction == "independent" {
				e.id = m.ID
				continue
			}
			tu := flow.Tuple{
				SrcAddr: netip.MustParseAddr(m.L3.Src), DstAddr: netip.MustParseAddr(m.L3.Dst),
				SrcPort: m.L4.Sport, DstPort: m.L4.Dport, Proto: m.L4.Proto,
			}
			if m.Direction == "original" {
				e.orig = tu
			} else {
				e.reply = tu
			}
		}
		entries = append(entries, e)
	}
	return entries
}

// kernelEntry finds the node's conntrack entry of orig.
func (tp *topo) kernelEntry(t *testing.T, orig flow.Tuple) kernelEntry {
	t.Helper()
	for _, e := range tp.kernelEntries(t) {
		if e.orig == orig {
			return e
		}
	}
	t.Fatalf("conntrack -L in the node lists no connection %v", orig)
	return kernelEntry{}
}

// startTable runs a Table on the node until the test ends, logging to the
// test and to the returned observer.
func (tp *topo) startTable(t *testing.T, cfg Config) (*Table, *observer.ObservedLogs) {
	t.Helper()
	return startTableIn(t, tp.node, cfg)
}

func startTableIn(t *testing.T, ns *netnstest.Netns, cfg Config) (*Table, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	cfg.Netns = ns.Handle
	cfg.Log = zap.New(zapcore.NewTee(zaptest.NewLogger(t).Core(), core))
	tb := New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	if err := tb.Start(ctx); err != nil {
		cancel()
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-tb.Done():
		case <-time.After(10 * time.Second):
			t.Error("table did not stop within 10s of its context ending")
		}
	})
	return tb, logs
}

// eventually polls cond every 5 ms until it holds or the deadline passes;
// on a timeout the failure also prints what each detail returns then.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool, detail ...func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			for _, d := range detail {
				what += "; " + d()
			}
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
}

// waitLookup polls until tu is found.
func waitLookup(t *testing.T, tb *Table, tu flow.Tuple) NAT {
	t.Helper()
	var n NAT
	eventually(t, 5*time.Second, "Lookup finds "+tupleString(tu), func() bool {
		var ok bool
		n, ok = tb.Lookup(tu)
		return ok
	})
	return n
}

func tupleString(tu flow.Tuple) string {
	return netip.AddrPortFrom(tu.SrcAddr, tu.SrcPort).String() + " → " + netip.AddrPortFrom(tu.DstAddr, tu.DstPort).String()
}
