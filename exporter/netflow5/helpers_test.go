package netflow5

import (
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/podflow/podflow/flow"
)

// waitLimit bounds every wait; tests never assert on timing.
const waitLimit = 10 * time.Second

// boot is the Boot of most tests: 1_700_000_000 s = 0x6553f100.
var boot = time.Unix(1_700_000_000, 0)

// fakeClock is the exporter's injectable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// truth is one flow record as a test sends it and expects decoders to
// read it back.
type truth struct {
	src, dst     string
	sport, dport uint16
	proto        uint8
	ifIndex      uint32
	dir          flow.Direction
	packets      uint64
	octets       uint64
	flags        uint16
	first, last  time.Duration // since boot
	reason       flow.EndReason
}

func (w truth) record() flow.Record {
	return flow.Record{
		Key: flow.Key{Tuple: flow.Tuple{
			SrcAddr: netip.MustParseAddr(w.src), DstAddr: netip.MustParseAddr(w.dst),
			SrcPort: w.sport, DstPort: w.dport, Proto: w.proto,
		}, IfIndex: w.ifIndex, Direction: w.dir},
		Counters: flow.Counters{Packets: w.packets, Octets: w.octets, TCPFlags: w.flags,
			First: boot.Add(w.first), Last: boot.Add(w.last)},
		EndReason: w.reason,
	}
}

func (w truth) in() uint32 {
	if w.dir == flow.Ingress {
		return w.ifIndex
	}
	return 0
}

func (w truth) out() uint32 {
	if w.dir == flow.Egress {
		return w.ifIndex
	}
	return 0
}

func records(ws []truth) []flow.Record {
	out := make([]flow.Record, len(ws))
	for i, w := range ws {
		out[i] = w.record()
	}
	return out
}

// interopTruths are the IPv4 records every decoder must read back
// exactly: every TCP flag bit v5 holds (and NS, which it cannot), ICMP,
// the largest 16-bit ifindex and 32-bit counters, and times with
// milliseconds, one of them in the second before the export.
var interopTruths = []truth{
	{src: "10.1.2.3", dst: "192.168.7.8", sport: 43210, dport: 443, proto: flow.ProtoTCP, ifIndex: 7, dir: flow.Egress,
		packets: 4_294_967_295, octets: 4_000_000_123, flags: 0x1db,
		first: 50*time.Second + 123*time.Millisecond, last: 100*time.Second + 456*time.Millisecond, reason: flow.EndOfFlow},
	{src: "10.0.0.1", dst: "10.0.0.2", dport: 3<<8 | 3, proto: flow.ProtoICMP, ifIndex: 9, dir: flow.Ingress,
		packets: 2, octets: 168, first: 90 * time.Second, last: 99*time.Second + 999*time.Millisecond, reason: flow.IdleTimeout},
	{src: "10.9.9.9", dst: "10.8.8.8", sport: 1, dport: 2, proto: flow.ProtoUDP, ifIndex: 65535, dir: flow.Ingress,
		packets: 1, octets: 28, first: time.Millisecond, last: 2 * time.Millisecond, reason: flow.ActiveTimeout},
	{src: "172.16.0.1", dst: "172.16.0.2", sport: 50000, dport: 22, proto: flow.ProtoTCP, ifIndex: 5, dir: flow.Ingress,
		packets: 20, octets: 2000, flags: 0x18, first: 99*time.Second + 1*time.Millisecond, last: 100*time.Second + 699*time.Millisecond,
		reason: flow.EndOfFlow},
	{src: "192.0.2.1", dst: "198.51.100.7", sport: 33000, dport: 9000, proto: flow.ProtoSCTP, ifIndex: 300, dir: flow.Egress,
		packets: 3, octets: 300, first: 80 * time.Second, last: 81 * time.Second, reason: flow.ForcedEnd},
}

// interopNow is the export time of the interop tests: 700 ms into the
// second after the last record ended.
var interopNow = boot.Add(100*time.Second + 700*time.Millisecond)

// captureConn records every datagram; writes fail while fail says so.
type captureConn struct {
	mu    sync.Mutex
	sent  [][]byte
	fail  func(n int) bool // n: 0-based index of the write
	calls int
}

func (c *captureConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.calls
	c.calls++
	if c.fail != nil && c.fail(n) {
		return 0, syscall.ECONNREFUSED
	}
	c.sent = append(c.sent, append([]byte(nil), b...))
	return len(b), nil
}

func (c *captureConn) packets() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.sent...)
}

func (c *captureConn) Read([]byte) (int, error)         { return 0, syscall.EAGAIN }
func (c *captureConn) Close() error                     { return nil }
func (c *captureConn) LocalAddr() net.Addr              { return &net.UDPAddr{} }
func (c *captureConn) RemoteAddr() net.Addr             { return &net.UDPAddr{} }
func (c *captureConn) SetDeadline(time.Time) error      { return nil }
func (c *captureConn) SetReadDeadline(time.Time) error  { return nil }
func (c *captureConn) SetWriteDeadline(time.Time) error { return nil }

// newCaptured returns an exporter writing into a captureConn.
func newCaptured(t testing.TB, cfg Config) (*Exporter, *captureConn) {
	t.Helper()
	conn := &captureConn{}
	if cfg.Address == "" {
		cfg.Address = "127.0.0.1:2055"
	}
	e, err := newExporter(cfg, nil, func(string, string, time.Duration) (net.Conn, error) { return conn, nil })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, conn
}

// poll checks cond until it holds, failing the test after waitLimit.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(waitLimit)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
