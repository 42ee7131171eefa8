package decoders

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/netnstest"
)

// Sniffer is the ground truth of the flows a network namespace receives:
// a packet socket on all its interfaces counts every IP packet they
// receive (not those they send, so a routed packet counts once, where it
// came in) with the kernel's receive timestamp.
type Sniffer struct {
	fd int

	mu    sync.Mutex
	flows map[flow.Tuple]Sniffed
	drops uint64
}

// Sniffed is one direction of a flow as the packet socket saw it.
type Sniffed struct {
	Packets, Octets uint64 // IP packets and their IP-level octets
	First, Last     time.Time
}

// sniffBuffer holds every packet of a test's traffic until Flows reads
// them: nothing reads the socket meanwhile, and drops fail the test.
const sniffBuffer = 64 << 20

// Sniff opens the packet socket in ns; t's cleanup closes it.
func Sniff(t testing.TB, ns *netnstest.Netns) *Sniffer {
	t.Helper()
	s := &Sniffer{fd: -1, flows: map[flow.Tuple]Sniffed{}}
	proto := int(htons(unix.ETH_P_ALL))
	if err := ns.Do(func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, proto)
		if err != nil {
			return fmt.Errorf("packet socket: %w", err)
		}
		s.fd = fd
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(s.fd) })
	if err := unix.SetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, sniffBuffer); err != nil {
		t.Fatalf("packet socket buffer: %v", err)
	}
	if err := unix.SetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		t.Fatalf("packet socket timestamps: %v", err)
	}
	return s
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// Flows reads every packet queued so far and returns each flow's totals
// since Sniff. It fails t if the kernel dropped a packet for want of room.
func (s *Sniffer) Flows(t testing.TB) map[flow.Tuple]Sniffed {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.read(); err != nil {
		t.Fatal(err)
	}
	st, err := unix.GetsockoptTpacketStats(s.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		t.Fatalf("packet socket statistics: %v", err)
	}
	if s.drops += uint64(st.Drops); s.drops != 0 {
		t.Fatalf("the packet socket dropped %d packets: the truth is incomplete", s.drops)
	}
	out := make(map[flow.Tuple]Sniffed, len(s.flows))
	for k, v := range s.flows {
		out[k] = v
	}
	return out
}

func (s *Sniffer) read() error {
	buf := make([]byte, 128) // headers only; the IP header says the length
	oob := make([]byte, unix.CmsgSpace(16))
	for {
		n, oobn, _, from, err := unix.Recvmsg(s.fd, buf, oob, unix.MSG_DONTWAIT|unix.MSG_TRUNC)
		if errors.Is(err, unix.EAGAIN) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read packet socket: %w", err)
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); !ok || ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		at, err := packetTime(oob[:oobn])
		if err != nil {
			return err
		}
		tu, octets, ok := parseIP(buf[:min(n, len(buf))])
		if !ok {
			continue // not IP (no such traffic in the tests' namespaces)
		}
		f := s.flows[tu]
		if f.Packets == 0 {
			f.First = at
		}
		f.Packets++
		f.Octets += uint64(octets)
		f.Last = at
		s.flows[tu] = f
	}
}

// packetTime reads the SCM_TIMESTAMPNS control message (a struct timespec
// of two native 64-bit words on the 64-bit platforms the tests run on).
func packetTime(oob []byte) (time.Time, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return time.Time{}, fmt.Errorf("packet timestamp: %w", err)
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS && len(m.Data) >= 16 {
			sec := int64(binary.NativeEndian.Uint64(m.Data[0:]))
			nsec := int64(binary.NativeEndian.Uint64(m.Data[8:]))
			return time.Unix(sec, nsec), nil
		}
	}
	return time.Time{}, errors.New("packet without a receive timestamp")
}

// parseIP reads the 5-tuple and IP length of an IPv4 or IPv6 packet
// (without extension headers: the tests send none).
func parseIP(p []byte) (flow.Tuple, int, bool) {
	var tu flow.Tuple
	var l4 []byte
	var octets int
	switch {
	case len(p) >= 20 && p[0]>>4 == 4:
		ihl := int(p[0]&0x0f) * 4
		octets = int(binary.BigEndian.Uint16(p[2:]))
		tu.Proto = p[9]
		tu.SrcAddr = netip.AddrFrom4([4]byte(p[12:16]))
		tu.DstAddr = netip.AddrFrom4([4]byte(p[16:20]))
		if len(p) >= ihl {
			l4 = p[ihl:]
		}
	case len(p) >= 40 && p[0]>>4 == 6:
		octets = 40 + int(binary.BigEndian.Uint16(p[4:]))
		tu.Proto = p[6]
		tu.SrcAddr = netip.AddrFrom16([16]byte(p[8:24]))
		tu.DstAddr = netip.AddrFrom16([16]byte(p[24:40]))
		l4 = p[40:]
	default:
		return tu, 0, false
	}
	if (tu.Proto == flow.ProtoTCP || tu.Proto == flow.ProtoUDP) && len(l4) >= 4 {
		tu.SrcPort = binary.BigEndian.Uint16(l4[0:])
		tu.DstPort = binary.BigEndian.Uint16(l4[2:])
	}
	return tu, octets, true
}
