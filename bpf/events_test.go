package bpf

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/netnstest"
	"github.com/podflow/podflow/internal/privtest"
)

func openAllEvents(t testing.TB) (*Events, *TupleDrainer) {
	t.Helper()
	privtest.Require(t)
	ev, err := OpenEvents(EventOptions{MaxTuples: 4096, RTT: true, Retransmits: true, Drops: true})
	if err != nil {
		t.Fatalf("open events: %v", err)
	}
	t.Cleanup(func() { ev.Close() })
	if len(ev.Attached) != 4 {
		t.Fatalf("attached %v, want all 4 programs", ev.Attached)
	}
	reasons, err := DropReasons()
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewTupleDrainer(ev, reasons)
	if err != nil {
		t.Fatal(err)
	}
	return ev, d
}

func drainTuples(t *testing.T, d *TupleDrainer) map[flow.Tuple]flow.Measures {
	t.Helper()
	entries, err := d.DrainTuples(nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[flow.Tuple]flow.Measures{}
	for _, e := range entries {
		m := out[e.Tuple]
		m.Add(&e.Measures)
		out[e.Tuple] = m
	}
	return out
}

func TestDropReasonsFromBTF(t *testing.T) {
	reasons, err := DropReasons()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, name := range reasons {
		if name == "NETFILTER_DROP" {
			found = true
		}
	}
	if !found || len(reasons) < 10 {
		t.Fatalf("enum skb_drop_reason from BTF: %d names, NETFILTER_DROP found %v", len(reasons), found)
	}
}

// UDP datagrams to a port nobody listens on are dropped by the kernel with
// reason NO_SOCKET: every one of them must land on its tuple, exactly.
func TestDropsCountedPerTupleWithReason(t *testing.T) {
	_, d := openAllEvents(t)
	ns := netnstest.New(t)
	for _, tc := range []struct {
		network, addr string
		ipHdr         uint64
	}{{"udp4", "127.0.0.1", 20}, {"udp6", "[::1]", 40}} {
		const n, payload = 7, 100
		var local netip.AddrPort
		err := ns.Do(func() error {
			// Unconnected: a connected socket would fail the write after
			// each ICMP port unreachable, sending nothing.
			c, err := net.ListenPacket(tc.network, tc.addr+":0")
			if err != nil {
				return err
			}
			defer c.Close()
			local = c.LocalAddr().(*net.UDPAddr).AddrPort()
			to, err := net.ResolveUDPAddr(tc.network, tc.addr+":9")
			if err != nil {
				return err
			}
			for range n {
				if _, err := c.WriteTo(make([]byte, payload), to); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		got := drainTuples(t, d)
		tu := flow.Tuple{SrcAddr: local.Addr().Unmap(), DstAddr: local.Addr().Unmap(), SrcPort: local.Port(), DstPort: 9, Proto: flow.ProtoUDP}
		m := got[tu]
		if m.DropPackets != n || m.DropOctets != n*(tc.ipHdr+8+payload) || m.DropReason != "NO_SOCKET" {
			t.Errorf("%s: drops of %v = %d packets %d octets reason %q, want %d, %d, NO_SOCKET",
				tc.network, tu, m.DropPackets, m.DropOctets, m.DropReason, n, n*(tc.ipHdr+8+payload))
		}
		if m.HasRTT() || m.HasRetrans() {
			t.Errorf("%s: UDP tuple carries TCP measures: %+v", tc.network, m)
		}
	}
}

// A TCP exchange over loopback: both sockets' sending directions get RTT
// samples consistent with what TCP_INFO reports.
func TestTCPProbeSamplesBothSockets(t *testing.T) {
	_, d := openAllEvents(t)
	ns := netnstest.New(t)
	for _, network := range []string{"tcp4", "tcp6"} {
		var client, server netip.AddrPort
		var info *unix.TCPInfo
		err := ns.Do(func() error {
			var err error
			client, server, info, err = echoRounds(network, 20)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		got := drainTuples(t, d)
		c2s := flow.Tuple{SrcAddr: client.Addr().Unmap(), DstAddr: server.Addr().Unmap(), SrcPort: client.Port(), DstPort: server.Port(), Proto: flow.ProtoTCP}
		for _, tu := range []flow.Tuple{c2s, c2s.Reverse()} {
			m := got[tu]
			if !m.HasRTT() || m.RTTMinUs == 0 || m.RTTMinUs > m.RTTMeanUs() || m.RTTMeanUs() > m.RTTMaxUs {
				t.Errorf("%s %v: RTT samples %+v", network, tu, m)
			}
			if m.RetransPackets != 0 || m.DropPackets != 0 {
				t.Errorf("%s %v: retransmits/drops on a clean loopback: %+v", network, tu, m)
			}
		}
		// The client's last sample is its srtt before the last ACK was
		// processed: the sampled range must hold the socket's final RTT's
		// neighbourhood. Loopback RTTs are µs-scale and noisy, so only the
		// order of magnitude is checked here; the e2e test checks ±15%.
		m := got[c2s]
		if m.RTTMaxUs > 100*max(info.Rtt, 1) {
			t.Errorf("%s: sampled RTT max %d µs vs tcpi_rtt %d µs", network, m.RTTMaxUs, info.Rtt)
		}
	}
}

// echoRounds runs rounds request/response exchanges over loopback and
// returns the client's and server's addresses and the client's TCP_INFO.
func echoRounds(network string, rounds int) (client, server netip.AddrPort, info *unix.TCPInfo, err error) {
	host := "127.0.0.1:0"
	if network == "tcp6" {
		host = "[::1]:0"
	}
	return echoRoundsAt(network, host, rounds)
}

// echoRoundsAt is echoRounds with the server listening on listen
// ("host:port"), a local address.
func echoRoundsAt(network, listen string, rounds int) (client, server netip.AddrPort, info *unix.TCPInfo, err error) {
	ln, err := net.Listen(network, listen)
	if err != nil {
		return
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		_, err = io.Copy(c, c)
		done <- err
	}()
	c, err := net.Dial(network, ln.Addr().String())
	if err != nil {
		return
	}
	buf := make([]byte, 64)
	for range rounds {
		if _, err = c.Write(buf); err != nil {
			return
		}
		if _, err = io.ReadFull(c, buf); err != nil {
			return
		}
	}
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		return
	}
	var serr error
	if err = raw.Control(func(fd uintptr) { info, serr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }); err == nil {
		err = serr
	}
	client = c.LocalAddr().(*net.TCPAddr).AddrPort()
	server = c.RemoteAddr().(*net.TCPAddr).AddrPort()
	c.Close()
	if e := <-done; e != nil && err == nil {
		err = fmt.Errorf("echo server: %w", e)
	}
	return
}

// A tracepoint the kernel does not have (an older or differently built
// kernel) disables its program only: the error names it, the others attach
// and their measurements still drain.
func TestMissingTracepointDegradesToTheOthers(t *testing.T) {
	privtest.Require(t)
	spec, err := LoadEvents()
	if err != nil {
		t.Fatal(err)
	}
	spec.Programs[EventsProgTcpProbe].AttachTo = "podflow_no_such_tracepoint"
	ev, err := openEvents(spec, EventOptions{MaxTuples: 1024, RTT: true, Retransmits: true, Drops: true})
	if ev == nil {
		t.Fatalf("no events at all: %v", err)
	}
	t.Cleanup(func() { ev.Close() })
	if err == nil || !strings.Contains(err.Error(), EventsProgTcpProbe) {
		t.Errorf("error %v does not name %s", err, EventsProgTcpProbe)
	}
	want := []string{EventsProgTcpRetransmitSkb, EventsProgTcpRetransmitSynack, EventsProgKfreeSkb}
	if !slices.Equal(ev.Attached, want) {
		t.Errorf("attached %v, want %v", ev.Attached, want)
	}
	d, err := NewTupleDrainer(ev, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.DrainTuples(nil); err != nil {
		t.Errorf("drain without tcp_probe: %v", err)
	}
}

// The owner programs report the process of a TCP client (connect), a TCP
// server (listen, then its first I/O on the accepted socket) and a UDP
// socket (first send), with this test's pid and comm.
func TestOwnersReportTheProcess(t *testing.T) {
	privtest.Require(t)
	ev, err := OpenEvents(EventOptions{MaxTuples: 1024, Owners: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ev.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan Owner, 1024)
	done := make(chan error, 1)
	go func() { done <- ev.ReadOwners(ctx, func(o Owner) { got <- o }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ReadOwners: %v", err)
		}
	})

	ns := netnstest.New(t)
	var client, server netip.AddrPort
	var udpLocal netip.AddrPort
	err = ns.Do(func() error {
		var err error
		if client, server, _, err = echoRounds("tcp4", 3); err != nil {
			return err
		}
		c, err := net.ListenPacket("udp6", "[::1]:0")
		if err != nil {
			return err
		}
		defer c.Close()
		udpLocal = c.LocalAddr().(*net.UDPAddr).AddrPort()
		_, err = c.WriteTo([]byte("x"), &net.UDPAddr{IP: net.IPv6loopback, Port: 9})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	pid := uint32(os.Getpid())
	want := map[string]bool{"connect": false, "listen": false, "io-server": false, "udp": false}
	deadline := time.After(10 * time.Second)
	for !want["connect"] || !want["listen"] || !want["io-server"] || !want["udp"] {
		select {
		case o := <-got:
			if o.PID != 0 && o.PID != pid {
				continue // other processes of this machine
			}
			switch {
			case o.Kind == EventsOwnerKindOWNER_CONNECT && o.Local == client && o.Remote == server:
				want["connect"] = true
			case o.Kind == EventsOwnerKindOWNER_LISTEN && o.Local.Port() == server.Port():
				want["listen"] = true
			case o.Kind == EventsOwnerKindOWNER_IO && o.Local == server && o.Remote == client:
				want["io-server"] = true
			case o.Kind == EventsOwnerKindOWNER_IO && o.Proto == 17 && o.Local.Port() == udpLocal.Port():
				want["udp"] = true
			}
			if o.PID == pid && o.Comm == "" {
				t.Errorf("owner event without comm: %+v", o)
			}
		case <-deadline:
			t.Fatalf("owner events seen: %v", want)
		}
	}
}
