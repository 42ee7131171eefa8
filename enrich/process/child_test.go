package process

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// The privileged tests re-run this test binary, under a name of their own,
// as a child that opens known sockets, prints them and waits for its stdin
// to close.
const childEnv = "PODFLOW_PROCESS_TEST_CHILD"

const (
	childComm = "pfsockchild"
	childIPv4 = "127.1.2.3"
	childIPv6 = "2001:db8:1:2::3" // added to lo of the test namespace
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		if err := runChild(os.Stdout, os.Stdin); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// childSocket is a socket as the child sees it.
type childSocket struct {
	Name   string
	Proto  uint8
	Local  netip.AddrPort
	Remote netip.AddrPort
	State  uint8
	Inode  uint64
}

func runChild(out io.Writer, in io.Reader) error {
	var socks []childSocket
	var keep []io.Closer // held open until stdin closes
	add := func(name string, proto uint8, state uint8, c syscall.Conn, local, remote net.Addr) error {
		ino, err := inodeOf(c)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		s := childSocket{Name: name, Proto: proto, State: state, Inode: ino, Local: addrPort(local)}
		if remote != nil {
			s.Remote = addrPort(remote)
		}
		socks = append(socks, s)
		return nil
	}
	tcp := func(name, network, listenAddr, dialAddr string) error {
		l, err := net.Listen(network, listenAddr)
		if err != nil {
			return err
		}
		keep = append(keep, l)
		port := l.Addr().(*net.TCPAddr).Port
		// Bound, so the client's address is the one asked for, not the
		// first one on lo.
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(dialAddr)}}
		client, err := d.Dial("tcp", net.JoinHostPort(dialAddr, fmt.Sprint(port)))
		if err != nil {
			return err
		}
		server, err := l.Accept()
		if err != nil {
			return err
		}
		keep = append(keep, client, server)
		return errorsOf(
			add(name+" listener", ProtoTCP, StateListen, l.(*net.TCPListener), l.Addr(), nil),
			add(name+" client", ProtoTCP, StateEstablished, client.(*net.TCPConn), client.LocalAddr(), client.RemoteAddr()),
			add(name+" server", ProtoTCP, StateEstablished, server.(*net.TCPConn), server.LocalAddr(), server.RemoteAddr()),
		)
	}
	udp := func(name, network, addr string) error {
		c, err := net.ListenPacket(network, addr)
		if err != nil {
			return err
		}
		keep = append(keep, c)
		return add(name, ProtoUDP, StateClose, c.(*net.UDPConn), c.LocalAddr(), nil)
	}
	defer func() {
		for _, c := range keep {
			c.Close()
		}
	}()
	if err := errorsOf(
		tcp("tcp4", "tcp4", childIPv4+":0", childIPv4),
		tcp("tcp6", "tcp6", "["+childIPv6+"]:0", childIPv6),
		// A dual-stack listener answering IPv4: its accepted socket is
		// in tcp6 with IPv4-mapped addresses.
		tcp("dual", "tcp", ":0", childIPv4),
		udp("udp4", "udp4", childIPv4+":0"),
		udp("udp6", "udp6", "["+childIPv6+"]:0"),
	); err != nil {
		return err
	}
	if err := json.NewEncoder(out).Encode(socks); err != nil {
		return err
	}
	_, err := io.Copy(io.Discard, in)
	return err
}

func errorsOf(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func addrPort(a net.Addr) netip.AddrPort {
	var ap netip.AddrPort
	switch a := a.(type) {
	case *net.TCPAddr:
		ap = a.AddrPort()
	case *net.UDPAddr:
		ap = a.AddrPort()
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func inodeOf(c syscall.Conn) (uint64, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var st unix.Stat_t
	var statErr error
	if err := raw.Control(func(fd uintptr) { statErr = unix.Fstat(int(fd), &st) }); err != nil {
		return 0, err
	}
	return st.Ino, statErr
}
