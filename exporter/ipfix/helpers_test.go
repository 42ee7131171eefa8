package ipfix

import (
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vmware/go-ipfix/pkg/collector"
	"github.com/vmware/go-ipfix/pkg/entities"

	"github.com/podflow/podflow/flow"
)

// waitLimit bounds every wait; tests never assert on timing.
const waitLimit = 10 * time.Second

func TestMain(m *testing.M) {
	// Load go-ipfix's registry before any collector goroutine reads it.
	loadRegistry()
	os.Exit(m.Run())
}

// testCollector runs go-ipfix's collector in-process and keeps every
// message it decodes.
type testCollector struct {
	cp      *collector.CollectingProcess
	mu      sync.Mutex
	msgs    []*entities.Message
	notify  chan struct{}
	drained chan struct{}
	stop    func()
}

func startCollector(t *testing.T, protocol, address string) *testCollector {
	t.Helper()
	return startCollectorInput(t, collector.CollectorInput{
		Address:       address,
		Protocol:      protocol,
		MaxBufferSize: 65535,
		TemplateTTL:   0,
	})
}

// startCollectorInput is startCollector with go-ipfix's whole input (TLS).
func startCollectorInput(t *testing.T, input collector.CollectorInput) *testCollector {
	t.Helper()
	cp, err := collector.InitCollectingProcess(input)
	if err != nil {
		t.Fatal(err)
	}
	c := &testCollector{cp: cp, notify: make(chan struct{}, 1), drained: make(chan struct{})}
	started := make(chan struct{})
	go func() {
		defer close(started)
		cp.Start() // returns once Stop is called
	}()
	poll(t, "collector listening", func() bool { return cp.GetAddress() != nil })
	go func() {
		defer close(c.drained)
		for msg := range cp.GetMsgChan() {
			c.mu.Lock()
			c.msgs = append(c.msgs, msg)
			c.mu.Unlock()
			select {
			case c.notify <- struct{}{}:
			default:
			}
		}
	}()
	// Stop only after the collector decoded a message: go-ipfix's Start adds
	// to its WaitGroup after it publishes its address, so a Stop racing with
	// a fresh Start is a data race inside go-ipfix (-race reports it).
	c.stop = sync.OnceFunc(func() {
		cp.Stop()
		<-started
		<-c.drained
	})
	t.Cleanup(c.stop)
	return c
}

func (c *testCollector) address() string { return c.cp.GetAddress().String() }

func (c *testCollector) messages() []*entities.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*entities.Message(nil), c.msgs...)
}

// waitMessages waits until at least n messages were decoded.
func (c *testCollector) waitMessages(t *testing.T, n int) []*entities.Message {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		if msgs := c.messages(); len(msgs) >= n {
			return msgs
		}
		select {
		case <-c.notify:
		case <-deadline:
			t.Fatalf("collector got %d messages, want %d", len(c.messages()), n)
		}
	}
}

// waitDataRecords waits until at least n data records were decoded.
func (c *testCollector) waitDataRecords(t *testing.T, n int) []*entities.Message {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		msgs := c.messages()
		if countData(msgs) >= n {
			return msgs
		}
		select {
		case <-c.notify:
		case <-deadline:
			t.Fatalf("collector got %d data records, want %d", countData(msgs), n)
		}
	}
}

func countData(msgs []*entities.Message) int {
	n := 0
	for _, m := range msgs {
		if m.GetSet().GetSetType() == entities.Data {
			n += len(m.GetSet().GetRecords())
		}
	}
	return n
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

// fakeClock is the exporter's injectable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

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

// record builds a flow record; packets doubles as a unique id in tests.
func record(src, dst string, sport, dport uint16, proto uint8, packets uint64) flow.Record {
	return flow.Record{
		Key: flow.Key{Tuple: flow.Tuple{
			SrcAddr: netip.MustParseAddr(src), DstAddr: netip.MustParseAddr(dst),
			SrcPort: sport, DstPort: dport, Proto: proto,
		}},
		Counters: flow.Counters{
			Packets: packets, Octets: packets * 100,
			First: time.UnixMilli(1_700_000_000_000), Last: time.UnixMilli(1_700_000_001_000),
		},
		EndReason: flow.ActiveTimeout,
	}
}

// mixedRecords returns n records alternating IPv4 and IPv6, with packet
// counts 1..n.
func mixedRecords(n int) []flow.Record {
	recs := make([]flow.Record, n)
	for i := range recs {
		if i%2 == 0 {
			recs[i] = record("10.0.0.1", "10.0.0.2", 1000, 80, flow.ProtoTCP, uint64(i+1))
		} else {
			recs[i] = record("fd00::1", "fd00::2", 1000, 53, flow.ProtoUDP, uint64(i+1))
		}
	}
	return recs
}

// fakeConn accepts okWrites writes, then writes partial octets of the next
// message and fails, as a TCP connection reset mid-message does.
type fakeConn struct {
	okWrites int
	partial  int
	writes   [][]byte // copies of the fully written messages
	closed   bool
}

func (c *fakeConn) Write(b []byte) (int, error) {
	if len(c.writes) >= c.okWrites {
		return min(c.partial, len(b)), syscall.EPIPE
	}
	c.writes = append(c.writes, append([]byte(nil), b...))
	return len(b), nil
}

func (c *fakeConn) Read([]byte) (int, error)         { return 0, io.EOF }
func (c *fakeConn) Close() error                     { c.closed = true; return nil }
func (c *fakeConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *fakeConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *fakeConn) SetDeadline(time.Time) error      { return nil }
func (c *fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fakeConn) SetWriteDeadline(time.Time) error { return nil }

func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }
func be32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }
