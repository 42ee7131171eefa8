package conntrack

import (
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const floodSenders, floodPerSender = 8, 1000

// Thousands of new connections against a tiny event socket buffer: the
// kernel drops events (ENOBUFS), the table logs and counts each overrun,
// resyncs from dumps, keeps following events, and ends up holding exactly
// what the kernel holds.
func TestFloodOverrunsResyncAndRecovers(t *testing.T) {
	tp := newTopo(t)
	// No flood entry may time out while the test compares tables.
	tp.node.Sysctl(t, "net/netfilter/nf_conntrack_udp_timeout", "600")
	tb, logs := tp.startTable(t, Config{ReadBuffer: 4096, Grace: time.Minute})

	start := time.Now()
	sent := tp.floodUDP(t)
	kernel := tp.waitMirror(t, tb)
	converged := time.Since(start)

	s := tb.Stats()
	if s.Overruns < 1 || s.Resyncs < 1 || s.Dumps < 2 || s.DumpErrors != 0 || s.DecodeErrors != 0 {
		t.Errorf("stats = %+v, want at least one overrun and resync dump, no errors", s)
	}
	if n := logs.FilterMessageSnippet("overrun (ENOBUFS)").Len(); n != int(s.Overruns) {
		t.Errorf("%d overrun log entries for %d overruns, want one each", n, s.Overruns)
	}
	t.Logf("flood: %d datagrams in %v (%.0f/s), kernel tracks %d NAT'ed connections; receive buffer %d bytes",
		floodSenders*floodPerSender, sent, float64(floodSenders*floodPerSender)/sent.Seconds(), len(kernel), s.ReadBuffer)
	t.Logf("table converged after %v: %d events applied, %d discarded, %d overruns, %d resyncs, %d dumps",
		converged, s.Events, s.Discarded, s.Overruns, s.Resyncs, s.Dumps)

	// Still following events: a fresh service connection is found.
	c := tp.dial(t, "tcp", serviceIP+":80")
	dst := netip.MustParseAddrPort(backendIP + ":8080")
	want := NAT{SrcAddr: c.orig.SrcAddr, SrcPort: c.orig.SrcPort, DstAddr: dst.Addr(), DstPort: dst.Port(), Kind: PostNAT}
	if got := waitLookup(t, tb, c.orig); got != want {
		t.Errorf("after the flood Lookup = %+v, want %+v", got, want)
	}
	if after := tb.Stats(); after.Events <= s.Events {
		t.Errorf("no event applied after the flood: %d then %d", s.Events, after.Events)
	}
}

// The same flood with a buffer that holds it is followed by events alone:
// no overrun, no dump after the first, one NEW event per connection. The
// table is held back during the flood (its writer lock taken) so the time
// to apply the queued events measures its own throughput.
func TestFloodWithinTheBufferIsFollowedByEvents(t *testing.T) {
	tp := newTopo(t)
	tp.node.Sysctl(t, "net/netfilter/nf_conntrack_udp_timeout", "600")
	tb, _ := tp.startTable(t, Config{ReadBuffer: 64 << 20, Grace: time.Minute})

	const n = floodSenders * floodPerSender
	tb.wmu.Lock()
	tp.floodUDP(t)
	eventually(t, 10*time.Second, "the kernel tracks the flood", func() bool {
		count, err := strconv.Atoi(strings.TrimSpace(run(t, tp.node, "sysctl", "-n", SysctlCount)))
		return err == nil && count >= n
	})
	start := time.Now()
	tb.wmu.Unlock()
	for tb.Stats().Events < n {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("queued events not applied within 10s: %+v", tb.Stats())
		}
		runtime.Gosched() // tight polling: this measures the table, not the poller
	}
	applied := time.Since(start)
	kernel := tp.waitMirror(t, tb)
	if s := tb.Stats(); s.Overruns != 0 || s.Dumps != 1 || s.Events != uint64(len(kernel)) {
		t.Errorf("stats = %+v, want %d events, no overrun, only the first dump", s, len(kernel))
	}
	t.Logf("applied %d queued events in %v: %.0f events/s", n, applied, float64(n)/applied.Seconds())
}

// floodUDP sends one datagram from each of floodSenders client sockets to
// floodPerSender distinct ports of the flood service, in parallel: one new
// DNAT'ed connection each.
func (tp *topo) floodUDP(t *testing.T) time.Duration {
	t.Helper()
	var socks []*net.UDPConn
	for range floodSenders {
		var pc *net.UDPConn
		err := tp.client.Do(func() (err error) {
			pc, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(clientIP)})
			return err
		})
		if err != nil {
			t.Fatalf("client socket: %v", err)
		}
		t.Cleanup(func() { pc.Close() })
		socks = append(socks, pc)
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, floodSenders)
	for i, pc := range socks {
		wg.Go(func() {
			for j := range floodPerSender {
				dst := netip.AddrPortFrom(netip.MustParseAddr(floodServiceIP), uint16(10000+i*floodPerSender+j))
				if _, err := pc.WriteToUDPAddrPort([]byte("x"), dst); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	sent := time.Since(start)
	close(errs)
	for err := range errs {
		t.Fatalf("flood send: %v", err)
	}
	return sent
}

// waitMirror polls until the table holds as many connections as the
// node's kernel table holds NAT'ed ones, then checks Lookup of every one
// against conntrack -L, and returns them.
func (tp *topo) waitMirror(t *testing.T, tb *Table) []kernelEntry {
	t.Helper()
	var kernel []kernelEntry
	deadline := time.Now().Add(30 * time.Second)
	for {
		kernel = kernel[:0]
		for _, e := range tp.kernelEntries(t) {
			if e.orig != invert(e.reply) {
				kernel = append(kernel, e)
			}
		}
		s := tb.Stats()
		if s.Entries == len(kernel) && len(kernel) >= floodSenders*floodPerSender {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the table holds %d connections, the kernel %d NAT'ed ones (%d sent): %+v",
				s.Entries, len(kernel), floodSenders*floodPerSender, s)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronisation
	}
	for _, e := range kernel {
		want := NAT{SrcAddr: e.reply.DstAddr, SrcPort: e.reply.DstPort, DstAddr: e.reply.SrcAddr, DstPort: e.reply.SrcPort, Kind: PostNAT}
		if got, ok := tb.Lookup(e.orig); !ok || got != want {
			t.Fatalf("Lookup(%s) = %+v, %v; conntrack -L says %+v", tupleString(e.orig), got, ok, want)
		}
	}
	return kernel
}
