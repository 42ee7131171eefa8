package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/podflow/podflow/config"
	"github.com/podflow/podflow/flow"
)

// processNode is a node with two routed pods and podflow attached, with
// its collector and tshark.
func processNode(t *testing.T) *routedPair {
	t.Helper()
	return newRoutedPair(t, func(c *config.Config) {})
}

// contextOf returns the merged context of the records of tu (the last
// record that knows each end wins).
func contextOf(recs []flow.Record, tu flow.Tuple) flow.Context {
	var c flow.Context
	for _, r := range recs {
		if r.Tuple != tu {
			continue
		}
		if r.Context.Src.Known() {
			c.Src = r.Context.Src
		}
		if r.Context.Dst.Known() {
			c.Dst = r.Context.Dst
		}
		if r.Context.NAT.Known() {
			c.NAT = r.Context.NAT
		}
	}
	return c
}

// A client process started by the test in a pod, with a known pid, talks
// to a server in another pod (this test process): the flow carries both
// processes, with name and executable, for TCP and UDP over IPv4 and IPv6,
// even though the client has exited before its records are exported.
func TestFlowsCarryTheirProcesses(t *testing.T) {
	exe := executable(t)
	for _, ipv6 := range []bool{false, true} {
		for _, proto := range []string{"tcp", "udp"} {
			t.Run(family(ipv6)+"-"+proto, func(t *testing.T) {
				rp := processNode(t)
				_, srv := rp.addrs(ipv6)
				server := netip.AddrPortFrom(srv, 7000)
				stopServer := serve(t, rp.srv, proto, server)
				c := startChild(t, rp.client.ns)
				local := netip.MustParseAddrPort(c.do(t, proto+" "+server.String()))
				c.do(t, "send 3000")
				if proto == "udp" {
					stopServer(3)
				}
				c.do(t, "finish")
				if proto == "tcp" {
					stopServer(0)
				}
				// The client exits before its flow's records are exported:
				// it must still be named.
				c.exit(t)
				if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(int(c.pid)))); !os.IsNotExist(err) {
					t.Fatalf("child %d still in /proc: %v", c.pid, err)
				}
				_, recs := rp.finish(t)
				p := flow.ProtoTCP
				if proto == "udp" {
					p = flow.ProtoUDP
				}
				tu := tupleOf(local, server, p)
				got := contextOf(recs, tu)
				want := flow.Process{PID: c.pid, Name: "e2e.test", Exe: exe}
				if got.Src != want {
					t.Errorf("client end of %v: %+v, want %+v", tu, got.Src, want)
				}
				self := flow.Process{PID: uint32(os.Getpid()), Name: "e2e.test", Exe: exe}
				if got.Dst != self {
					t.Errorf("server end of %v: %+v, want this test process %+v", tu, got.Dst, self)
				}
				if proto == "tcp" {
					if back := contextOf(recs, tu.Reverse()); back.Src != self || back.Dst != want {
						t.Errorf("server→client flow: %+v", back)
					}
				}
			})
		}
	}
}

// serve runs a server in pod p on addr: TCP accepts one connection and
// reads it to EOF; UDP reads datagrams. stop(n) waits for the TCP
// connection's end, or for n UDP datagrams, then closes.
func serve(t *testing.T, p *pod, proto string, addr netip.AddrPort) (stop func(n int)) {
	t.Helper()
	if proto == "udp" {
		var pc net.PacketConn
		if err := p.ns.Do(func() (err error) {
			pc, err = net.ListenPacket("udp", addr.String())
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return func(n int) {
			defer pc.Close()
			pc.SetReadDeadline(time.Now().Add(ioLimit))
			buf := make([]byte, 2048)
			for i := range n {
				if _, _, err := pc.ReadFrom(buf); err != nil {
					t.Fatalf("udp server: datagram %d: %v", i, err)
				}
			}
		}
	}
	var ln net.Listener
	if err := p.ns.Do(func() (err error) {
		ln, err = net.Listen("tcp", addr.String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(ioLimit))
		_, err = io.Copy(io.Discard, c)
		done <- err
	}()
	return func(int) {
		defer ln.Close()
		if err := <-done; err != nil {
			t.Fatalf("tcp server: %v", err)
		}
	}
}

// A connection opened before podflow started, whose client never does
// I/O again: only the /proc scan at start can name it.
func TestConnectionOpenedBeforeStartIsAttributed(t *testing.T) {
	n := newNode(t)
	cli, srvPod := n.addRoutedPod(t, 1), n.addRoutedPod(t, 2)
	server := netip.AddrPortFrom(srvPod.v4, 7001)
	var ln net.Listener
	if err := srvPod.ns.Do(func() (err error) {
		ln, err = net.Listen("tcp", server.String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c := startChild(t, cli.ns)
	local := netip.MustParseAddrPort(c.do(t, "tcp "+server.String()))
	accepted, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}

	col := startIPFIXCollector(t, "udp")
	ag := startAgentWith(t, n, func(*config.Config) {}, col.url("ipfix+udp"))
	// The server sends; the client's socket only receives into its buffer
	// (no recvmsg: no owner event).
	if _, err := accepted.Write(make([]byte, 20_000)); err != nil {
		t.Fatal(err)
	}
	accepted.Close()
	stats := ag.stop(t)
	recs := col.waitRecords(t, stats[col.url("ipfix+udp")].RecordsSent)
	s2c := tupleOf(server, local, flow.ProtoTCP)
	got := contextOf(recs, s2c)
	if got.Dst.PID != c.pid || got.Dst.Name != "e2e.test" || got.Dst.Exe != executable(t) {
		t.Errorf("client end of %v (connected before start): %+v, want pid %d", s2c, got.Dst, c.pid)
	}
	c.do(t, "finish")
}

// A process in a cgroup whose path carries a container id (as containerd
// names them) yields that id.
func TestContainerIDFromCgroup(t *testing.T) {
	id := randomHex(t, 32)
	dir := filepath.Join("/sys/fs/cgroup/unified", "podflow-e2e-"+randomHex(t, 4), "cri-containerd-"+id+".scope")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("create cgroup %s: %v", dir, err)
	}
	rp := processNode(t)
	_, srv := rp.addrs(false)
	server := netip.AddrPortFrom(srv, 7002)
	stopServer := serve(t, rp.srv, "tcp", server)
	c := startChild(t, rp.client.ns)
	t.Cleanup(func() { // after the child exited (cleanups run last-in first-out)
		os.Remove(dir)
		os.Remove(filepath.Dir(dir))
	})
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(int(c.pid))), 0o644); err != nil {
		t.Fatalf("move child into the cgroup: %v", err)
	}
	local := netip.MustParseAddrPort(c.do(t, "tcp "+server.String()))
	c.do(t, "send 1000")
	c.do(t, "finish")
	stopServer(0)
	_, recs := rp.finish(t)
	got := contextOf(recs, tupleOf(local, server, flow.ProtoTCP))
	if got.Src.PID != c.pid || got.Src.ContainerID != id {
		t.Errorf("client end: %+v, want pid %d container %s", got.Src, c.pid, id)
	}
}

func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
