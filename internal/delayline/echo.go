package delayline

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// echoTimeout bounds a whole exchange, so a broken topology fails the test
// instead of hanging it.
const echoTimeout = 60 * time.Second

// tcpStateClose is TCP_CLOSE from the kernel's tcp_states.h (tcpi_state).
const tcpStateClose = 7

// EchoExchange runs one TCP connection from C to an echo server in S (over
// IPv6 or IPv4): rounds times the client sends size bytes and reads them
// back. Then the client shuts down its side, the server answers with its
// FIN, and both sockets close only once the server has seen the last ACK:
// when it returns, every packet of the connection has crossed the topology.
//
// It returns the client socket's TCP_INFO taken after that close handshake
// (tcpi_state is then TCP_CLOSE; the counters and tcpi_rtt are final) and
// the client socket's local and remote address.
func (tp *Topology) EchoExchange(t testing.TB, ipv6 bool, rounds, size int) (*unix.TCPInfo, netip.AddrPort, netip.AddrPort) {
	t.Helper()
	network := "tcp4"
	if ipv6 {
		network = "tcp6"
	}
	deadline := time.Now().Add(echoTimeout)
	var ln *net.TCPListener
	err := tp.Server.Do(func() error {
		l, err := net.ListenTCP(network, net.TCPAddrFromAddrPort(netip.AddrPortFrom(tp.ServerAddr(ipv6), 0)))
		ln = l
		return err
	})
	if err != nil {
		t.Fatalf("listen in server netns: %v", err)
	}
	defer ln.Close()
	if err := ln.SetDeadline(deadline); err != nil {
		t.Fatalf("listener deadline: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- serveEcho(ln, rounds, size, deadline) }()

	info, local, remote, clientErr := tp.echoClient(network, ln.Addr().(*net.TCPAddr), rounds, size, deadline)
	if clientErr != nil {
		ln.Close() // unblocks a server still waiting in Accept
	}
	if err := errors.Join(clientErr, <-served); err != nil {
		t.Fatalf("echo exchange over %s: %v", network, err)
	}
	return info, local, remote
}

func (tp *Topology) echoClient(network string, server *net.TCPAddr, rounds, size int, deadline time.Time) (
	info *unix.TCPInfo, local, remote netip.AddrPort, err error,
) {
	var conn *net.TCPConn
	err = tp.Client.Do(func() error {
		c, err := net.DialTCP(network, nil, server)
		conn = c
		return err
	})
	if err != nil {
		return nil, local, remote, fmt.Errorf("dial from client netns: %w", err)
	}
	defer conn.Close()
	local = unmapped(conn.LocalAddr())
	remote = unmapped(conn.RemoteAddr())
	if err := conn.SetDeadline(deadline); err != nil {
		return nil, local, remote, fmt.Errorf("client deadline: %w", err)
	}
	req, resp := make([]byte, size), make([]byte, size)
	for round := range rounds {
		fillRound(req, round)
		if _, err := conn.Write(req); err != nil {
			return nil, local, remote, fmt.Errorf("round %d: write: %w", round, err)
		}
		if _, err := io.ReadFull(conn, resp); err != nil {
			return nil, local, remote, fmt.Errorf("round %d: read echo: %w", round, err)
		}
		if !bytes.Equal(req, resp) {
			return nil, local, remote, fmt.Errorf("round %d: echo differs from request", round)
		}
	}
	if err := conn.CloseWrite(); err != nil {
		return nil, local, remote, fmt.Errorf("shutdown write: %w", err)
	}
	if err := expectEOF(conn); err != nil {
		return nil, local, remote, fmt.Errorf("client: %w", err)
	}
	info, err = tcpInfo(conn)
	return info, local, remote, err
}

// serveEcho accepts one connection and echoes rounds requests of size bytes,
// then waits for the client's FIN, sends its own and keeps the socket open
// until the final ACK has arrived (LAST_ACK → CLOSE).
func serveEcho(ln *net.TCPListener, rounds, size int, deadline time.Time) error {
	conn, err := ln.AcceptTCP()
	if err != nil {
		return fmt.Errorf("accept: %w", err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(deadline); err != nil {
		return fmt.Errorf("server deadline: %w", err)
	}
	buf := make([]byte, size)
	for round := range rounds {
		if _, err := io.ReadFull(conn, buf); err != nil {
			return fmt.Errorf("server round %d: read: %w", round, err)
		}
		if _, err := conn.Write(buf); err != nil {
			return fmt.Errorf("server round %d: write: %w", round, err)
		}
	}
	if err := expectEOF(conn); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	if err := conn.CloseWrite(); err != nil {
		return fmt.Errorf("server shutdown write: %w", err)
	}
	return awaitClosed(conn, deadline)
}

// awaitClosed polls the socket's state until the peer's last ACK moved it
// to TCP_CLOSE. No socket event marks that step (after both shutdowns poll
// already reports HUP), so it polls.
func awaitClosed(conn *net.TCPConn, deadline time.Time) error {
	for {
		info, err := tcpInfo(conn)
		if err != nil {
			return err
		}
		if info.State == tcpStateClose {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server socket still in tcp state %d at the deadline", info.State)
		}
		time.Sleep(time.Millisecond)
	}
}

func expectEOF(conn *net.TCPConn) error {
	var b [1]byte
	n, err := conn.Read(b[:])
	if n != 0 || !errors.Is(err, io.EOF) {
		return fmt.Errorf("want EOF after the last round, got %d bytes, err %v", n, err)
	}
	return nil
}

func tcpInfo(conn *net.TCPConn) (*unix.TCPInfo, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("raw conn: %w", err)
	}
	var info *unix.TCPInfo
	var infoErr error
	err = raw.Control(func(fd uintptr) {
		info, infoErr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	})
	if err = errors.Join(err, infoErr); err != nil {
		return nil, fmt.Errorf("getsockopt TCP_INFO: %w", err)
	}
	return info, nil
}

// fillRound gives every round distinct content, so a stale or misordered
// echo is caught.
func fillRound(b []byte, round int) {
	for i := range b {
		b[i] = byte(round*7 + i)
	}
}

// unmapped turns a socket address into an AddrPort, IPv4 as plain IPv4
// (net gives IPv4 socket addresses in 16-byte form).
func unmapped(a net.Addr) netip.AddrPort {
	ap := a.(*net.TCPAddr).AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
