package e2e

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ioLimit bounds every network wait of the traffic helpers.
const ioLimit = 10 * time.Second

// listenUDPIn opens a UDP server socket on addr inside pod p. The caller
// closes it, so that the next test can listen on the same port.
func listenUDPIn(t *testing.T, p *pod, addr netip.AddrPort) net.PacketConn {
	t.Helper()
	var srv net.PacketConn
	if err := p.ns.Do(func() (err error) {
		srv, err = net.ListenPacket("udp", addr.String())
		return err
	}); err != nil {
		t.Fatalf("listen udp %v: %v", addr, err)
	}
	return srv
}

// dialUDPFrom opens a UDP client socket inside pod p, connected to addr;
// the caller closes it.
func dialUDPFrom(t *testing.T, p *pod, addr netip.AddrPort) net.Conn {
	t.Helper()
	var cli net.Conn
	if err := p.ns.Do(func() (err error) {
		cli, err = net.Dial("udp", addr.String())
		return err
	}); err != nil {
		t.Fatalf("dial udp %v: %v", addr, err)
	}
	return cli
}

// sendUDP sends count datagrams of size payload bytes from client to server
// (on port) and waits until the server has received all of them.
func sendUDP(t *testing.T, from, to *pod, dst netip.Addr, port uint16, count, size int) netip.AddrPort {
	t.Helper()
	srv := listenUDPIn(t, to, netip.AddrPortFrom(dst, port))
	defer srv.Close()
	cli := dialUDPFrom(t, from, netip.AddrPortFrom(dst, port))
	defer cli.Close()
	buf := make([]byte, size)
	for range count {
		if _, err := cli.Write(buf); err != nil {
			t.Fatalf("udp send: %v", err)
		}
	}
	srv.SetReadDeadline(time.Now().Add(ioLimit))
	rbuf := make([]byte, 65536)
	for i := range count {
		if _, _, err := srv.ReadFrom(rbuf); err != nil {
			t.Fatalf("udp receive %d of %d: %v", i+1, count, err)
		}
	}
	return netip.MustParseAddrPort(cli.LocalAddr().String())
}

// sendUDPExpectingLoss sends count datagrams and waits until the server has
// received arrive of them (the rest are dropped on purpose by the test).
func sendUDPExpectingLoss(t *testing.T, from, to *pod, dst netip.Addr, port uint16, count, size, arrive int) netip.AddrPort {
	t.Helper()
	srv := listenUDPIn(t, to, netip.AddrPortFrom(dst, port))
	defer srv.Close()
	cli := dialUDPFrom(t, from, netip.AddrPortFrom(dst, port))
	defer cli.Close()
	for range count {
		if _, err := cli.Write(make([]byte, size)); err != nil {
			t.Fatalf("udp send: %v", err)
		}
	}
	srv.SetReadDeadline(time.Now().Add(ioLimit))
	rbuf := make([]byte, 65536)
	for i := range arrive {
		if _, _, err := srv.ReadFrom(rbuf); err != nil {
			t.Fatalf("udp receive %d of %d: %v", i+1, arrive, err)
		}
	}
	return netip.MustParseAddrPort(cli.LocalAddr().String())
}

// tcpResult is what the client's own socket says it sent.
type tcpResult struct {
	local        netip.AddrPort
	segsOut      uint32
	segsIn       uint32
	retrans      uint32 // tcpi_total_retrans
	bytesRetrans uint64 // tcpi_bytes_retrans
}

// sendTCP opens a connection from client to server, sends n bytes, closes
// both ways cleanly and returns the client socket's TCP_INFO counters taken
// after the last segment it will ever send.
func sendTCP(t *testing.T, from, to *pod, dst netip.Addr, port uint16, n int) tcpResult {
	t.Helper()
	var ln net.Listener
	if err := to.ns.Do(func() (err error) {
		ln, err = net.Listen("tcp", netip.AddrPortFrom(dst, port).String())
		return err
	}); err != nil {
		t.Fatal(err)
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
		c.SetDeadline(time.Now().Add(ioLimit))
		got, err := io.Copy(io.Discard, c)
		if err == nil && got != int64(n) {
			err = errors.New("server received a different byte count")
		}
		done <- err
	}()
	var cli *net.TCPConn
	if err := from.ns.Do(func() error {
		c, err := net.DialTimeout("tcp", netip.AddrPortFrom(dst, port).String(), ioLimit)
		if err != nil {
			return err
		}
		cli = c.(*net.TCPConn)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	cli.SetDeadline(time.Now().Add(ioLimit))
	if _, err := cli.Write(make([]byte, n)); err != nil {
		t.Fatal(err)
	}
	if err := cli.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("server: %v", err)
	}
	// EOF: the server's FIN arrived and was ACKed; the client sends no more.
	if _, err := io.Copy(io.Discard, cli); err != nil {
		t.Fatal(err)
	}
	info := tcpInfo(t, cli)
	return tcpResult{
		local:        netip.MustParseAddrPort(cli.LocalAddr().String()),
		segsOut:      info.Segs_out,
		segsIn:       info.Segs_in,
		retrans:      info.Total_retrans,
		bytesRetrans: info.Bytes_retrans,
	}
}

func tcpInfo(t *testing.T, c *net.TCPConn) *unix.TCPInfo {
	t.Helper()
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var info *unix.TCPInfo
	var serr error
	if err := raw.Control(func(fd uintptr) {
		info, serr = unix.GetsockoptTCPInfo(int(fd), syscall.IPPROTO_TCP, unix.TCP_INFO)
	}); err != nil {
		t.Fatal(err)
	}
	if serr != nil {
		t.Fatal(serr)
	}
	return info
}
