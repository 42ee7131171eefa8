package bpf

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/netnstest"
	"github.com/podflow/podflow/internal/pkt"
)

// measurement is a tuple the test made measurable, and what was measured.
type measurement struct {
	tuple flow.Tuple
	kind  string // "rtt", "retransmits" or "drops"
	drops uint64 // for "drops": how many packets the test had dropped
}

func (w measurement) in(m flow.Measures) bool {
	switch w.kind {
	case "rtt":
		return m.RTTSamples > 0
	case "retransmits":
		return m.RetransPackets > 0
	}
	return m.DropPackets == w.drops && m.DropReason == "NO_SOCKET"
}

// Real traffic in a namespace, measured by filtered tracepoints and by
// unfiltered ones beside them: RTT (TCP exchanges over loopback), drops
// (UDP to closed ports), retransmissions (SYNs and SYN-ACKs nobody answers,
// through a tun), to and from denied addresses (IPv4 and IPv6), a denied
// port, and kept addresses. The filtered maps hold no measurement of
// excluded traffic, what they hold of kept traffic is exactly what the
// unfiltered ones hold, and the filtered counter is exactly what the
// unfiltered ones measured of excluded traffic.
func TestEventFiltersKeepExcludedMeasurementsOut(t *testing.T) {
	_, filtered, reference := openFilteredEvents(t, eventsFilter)
	ns := netnstest.New(t)
	lo := ns.Link(t, "lo")
	for _, a := range []netip.Addr{loDenied4, loKept4, loDenied6, loKept6} {
		ns.AddAddr(t, lo, netip.PrefixFrom(a, a.BitLen()).String())
	}
	tun, queue := ns.OpenTun(t, "pfevf0")
	ns.AddAddr(t, tun, tunLocal.String()+"/24")
	ns.LinkUp(t, tun)

	var made []measurement
	for _, listen := range []netip.AddrPort{
		netip.AddrPortFrom(loDenied4, 0), netip.AddrPortFrom(loKept4, 0),
		netip.AddrPortFrom(loDenied6, 0), netip.AddrPortFrom(loKept6, 0),
		netip.AddrPortFrom(loKept4, deniedPort),
	} {
		var client, server netip.AddrPort
		err := ns.Do(func() (err error) {
			client, server, _, err = echoRoundsAt(network("tcp", listen.Addr()), listen.String(), 20)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		c2s := tcpTuple(client, server)
		made = append(made, measurement{tuple: c2s, kind: "rtt"}, measurement{tuple: c2s.Reverse(), kind: "rtt"})
	}
	for _, to := range []netip.AddrPort{
		netip.AddrPortFrom(loDenied4, 9), netip.AddrPortFrom(loKept4, 9),
		netip.AddrPortFrom(loDenied6, 9), netip.AddrPortFrom(loKept6, 9),
		netip.AddrPortFrom(loKept4, deniedPort),
	} {
		const n = 7
		var from netip.AddrPort
		if err := ns.Do(func() (err error) { from, err = dropUDP(to, n); return err }); err != nil {
			t.Fatal(err)
		}
		tu := flow.Tuple{SrcAddr: from.Addr(), DstAddr: to.Addr(), SrcPort: from.Port(), DstPort: to.Port(), Proto: flow.ProtoUDP}
		made = append(made, measurement{tuple: tu, kind: "drops", drops: n})
	}
	for _, tu := range unansweredHandshakes(t, ns, queue, []netip.Addr{tunDenied, tunKept}) {
		made = append(made, measurement{tuple: tu, kind: "retransmits"})
	}

	ref := drainTuples(t, mustDrainer(t, reference))
	got := drainTuples(t, mustDrainer(t, filtered))
	stats, err := filtered.Stats()
	if err != nil {
		t.Fatal(err)
	}
	var excluded, kept int
	for _, w := range made {
		if !w.in(ref[w.tuple]) {
			t.Errorf("unfiltered tracepoints: %v has no %s: %+v", w.tuple, w.kind, ref[w.tuple])
		}
		if excludedByEventsFilter(w.tuple) {
			excluded++
		} else if kept++; withoutDropTime(got[w.tuple]) != withoutDropTime(ref[w.tuple]) {
			t.Errorf("kept %v (%s): filtered tracepoints measured %+v, unfiltered %+v", w.tuple, w.kind, got[w.tuple], ref[w.tuple])
		}
	}
	if excluded != 11 || kept != 8 {
		t.Fatalf("test made %d excluded and %d kept measurements, want 11 and 8", excluded, kept)
	}
	var want uint64
	for tu, m := range ref {
		if excludedByEventsFilter(tu) {
			want += uint64(m.RTTSamples) + uint64(m.RetransPackets) + m.DropPackets
		}
	}
	for tu, m := range got {
		if excludedByEventsFilter(tu) {
			t.Errorf("filtered tracepoints measured excluded %v: %+v", tu, m)
		}
	}
	if n := stats[EventsEventStatEVSTAT_FILTERED]; n != want {
		t.Errorf("%s = %d, want %d: the RTT samples, retransmissions and drops the unfiltered tracepoints measured of excluded tuples",
			EventStatNames[EventsEventStatEVSTAT_FILTERED], n, want)
	}
	t.Logf("filtered out: %d measurements", want)
}

func network(proto string, a netip.Addr) string {
	if a.Is4() {
		return proto + "4"
	}
	return proto + "6"
}

func tcpTuple(src, dst netip.AddrPort) flow.Tuple {
	return flow.Tuple{SrcAddr: src.Addr().Unmap(), DstAddr: dst.Addr().Unmap(), SrcPort: src.Port(), DstPort: dst.Port(), Proto: flow.ProtoTCP}
}

func mustDrainer(t *testing.T, ev *Events) *TupleDrainer {
	t.Helper()
	reasons, err := DropReasons()
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewTupleDrainer(ev, reasons)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// withoutDropTime leaves out the one field two sets of programs never
// share: each reads the clock itself.
func withoutDropTime(m flow.Measures) flow.Measures {
	m.SetDrop(m.DropPackets, m.DropOctets, m.DropReason, 0)
	return m
}

// dropUDP sends n datagrams from a socket bound to to's address to to,
// where nothing listens: the kernel drops each with reason NO_SOCKET.
func dropUDP(to netip.AddrPort, n int) (from netip.AddrPort, err error) {
	// Unconnected: a connected socket would fail the write after each ICMP
	// port unreachable, sending nothing.
	c, err := net.ListenUDP(network("udp", to.Addr()), net.UDPAddrFromAddrPort(netip.AddrPortFrom(to.Addr(), 0)))
	if err != nil {
		return from, err
	}
	defer c.Close()
	for range n {
		if _, err := c.WriteToUDPAddrPort(make([]byte, 100), to); err != nil {
			return from, err
		}
	}
	return c.LocalAddr().(*net.UDPAddr).AddrPort(), nil
}

// unansweredHandshakes has the kernel retransmit, to each peer behind the
// tun, a SYN (a client connecting to peer:80) and a SYN-ACK (the listener
// answering a SYN written to the tun from peer:40000), as nobody answers
// them; it returns once the tun carried each segment a second time, with
// the sockets closed. The tuples are the retransmitting sockets'.
func unansweredHandshakes(t *testing.T, ns *netnstest.Netns, queue *os.File, peers []netip.Addr) []flow.Tuple {
	t.Helper()
	listen := netip.AddrPortFrom(tunLocal, 8080)
	var ln net.Listener
	if err := ns.Do(func() (err error) { ln, err = net.Listen("tcp4", listen.String()); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dials := make(chan error, len(peers))
	var tuples []flow.Tuple
	for i, peer := range peers {
		client, server := netip.AddrPortFrom(tunLocal, uint16(41001+i)), netip.AddrPortFrom(peer, 80)
		go func() {
			dials <- ns.Do(func() error {
				d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(client)}
				c, err := d.DialContext(ctx, "tcp4", server.String())
				if err == nil {
					c.Close()
					return fmt.Errorf("%v answered a SYN: nobody should", server)
				}
				if !errors.Is(err, context.Canceled) {
					return err
				}
				return nil
			})
		}()
		remote := netip.AddrPortFrom(peer, 40000)
		if _, err := queue.Write(tcpSYN(remote, listen)); err != nil {
			t.Fatal(err)
		}
		tuples = append(tuples, tcpTuple(client, server), tcpTuple(listen, remote))
	}
	seen := map[flow.Tuple]int{}
	twice := func() bool {
		for _, tu := range tuples {
			if seen[tu] < 2 {
				return false
			}
		}
		return true
	}
	if err := queue.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	for !twice() {
		n, err := queue.Read(buf)
		if err != nil {
			t.Fatalf("read the tun: %v; SYNs and SYN-ACKs seen: %v", err, seen)
		}
		if tu, ok := synOf(buf[:n]); ok {
			seen[tu]++
		}
	}
	cancel()
	for range peers {
		if err := <-dials; err != nil {
			t.Fatal(err)
		}
	}
	return tuples
}

// tcpSYN is an IPv4 TCP SYN with valid checksums: the kernel checks both
// on a tun.
func tcpSYN(src, dst netip.AddrPort) []byte {
	b := pkt.Frame{Src: src.Addr(), Dst: dst.Addr(), Proto: 6, SrcPort: src.Port(), DstPort: dst.Port(),
		TCPFlags: flow.TCPSyn, TCPSeq: 1000}.Bytes()[14:]
	ip, tcp := b[:20], b[20:]
	binary.BigEndian.PutUint16(tcp[14:], 65535) // window
	binary.BigEndian.PutUint16(ip[10:], ^checksum(0, ip))
	pseudo := make([]byte, 0, 12)
	pseudo = append(pseudo, ip[12:20]...)
	pseudo = append(pseudo, 0, 6)
	pseudo = binary.BigEndian.AppendUint16(pseudo, uint16(len(tcp)))
	binary.BigEndian.PutUint16(tcp[16:], ^checksum(checksum(0, pseudo), tcp))
	return b
}

// checksum adds b to the ones' complement sum.
func checksum(sum uint16, b []byte) uint16 {
	s := uint32(sum)
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

// synOf returns the tuple of an IPv4 TCP segment with SYN set.
func synOf(b []byte) (flow.Tuple, bool) {
	if len(b) < 20 || b[0]>>4 != 4 || b[9] != 6 {
		return flow.Tuple{}, false
	}
	tcp := b[int(b[0]&15)*4:]
	if len(tcp) < 14 || tcp[13]&0x02 == 0 {
		return flow.Tuple{}, false
	}
	src := netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[12:16])), binary.BigEndian.Uint16(tcp[0:]))
	dst := netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[16:20])), binary.BigEndian.Uint16(tcp[2:]))
	return tcpTuple(src, dst), true
}
