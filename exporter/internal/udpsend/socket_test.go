package udpsend

import (
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/podflow/podflow/exporter"
	"github.com/podflow/podflow/internal/netflowtest"
)

// flakyDial fails while down says so and counts its calls.
type flakyDial struct {
	down  bool
	calls int
	conn  net.Conn
}

func (d *flakyDial) dial(network, address string, _ time.Duration) (net.Conn, error) {
	d.calls++
	if network != "udp" || address != "collector.example:2055" {
		return nil, errors.New("unexpected dial to " + network + " " + address)
	}
	if d.down {
		return nil, syscall.EHOSTUNREACH
	}
	return d.conn, nil
}

// A dead name costs one dial per Export call, logged loudly once; the
// packets meanwhile are counted lost; the first dial that works sends.
func TestSocketDialsOncePerCall(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	conn := &netflowtest.CaptureConn{}
	d := &flakyDial{down: true, conn: conn}
	var c Counters
	s := Open("netflowX", "collector.example:2055", d.dial, zap.New(core), &c)
	err := s.Send([]byte("one"), 3)
	if !errors.Is(err, ErrNotConnected) || err.Error() != "netflowX: no socket to the collector" {
		t.Errorf("Send without a socket = %v", err)
	}
	if d.calls != 1 {
		t.Errorf("%d dials in Open and the same call, want 1", d.calls)
	}
	if err := s.BeginCall(2); err != nil {
		t.Fatal(err)
	}
	_ = s.Send([]byte("two"), 2)
	_ = s.Send([]byte("three"), 2)
	if d.calls != 2 {
		t.Errorf("%d dials after a second call, want 2", d.calls)
	}
	if w, dbg := logs.FilterLevelExact(zapcore.WarnLevel).Len(), logs.FilterLevelExact(zapcore.DebugLevel).Len(); w != 1 || dbg != 1 {
		t.Errorf("%d warnings and %d debug lines for two failed dials, want 1 and 1", w, dbg)
	}
	d.down = false
	if err := s.BeginCall(1); err != nil {
		t.Fatal(err)
	}
	if err := s.Send([]byte("four"), 1); err != nil {
		t.Fatal(err)
	}
	if got := conn.Packets(); len(got) != 1 || string(got[0]) != "four" {
		t.Errorf("sent %q, want only \"four\"", got)
	}
	want := exporter.Stats{RecordsSent: 1, RecordsLost: 7, MessagesSent: 1, BytesSent: 4, SendErrors: 3}
	if got := c.Stats(); got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
}

// shortConn writes one octet less than asked.
type shortConn struct{ netflowtest.CaptureConn }

func (c *shortConn) Write(b []byte) (int, error) { return len(b) - 1, nil }

func TestSocketCountsFailedWrites(t *testing.T) {
	refusing := &netflowtest.CaptureConn{Fail: func(int) bool { return true }}
	for _, tc := range []struct {
		conn net.Conn
		want error
	}{{refusing, syscall.ECONNREFUSED}, {&shortConn{}, io.ErrShortWrite}} {
		var c Counters
		s := Open("netflowX", "127.0.0.1:2055", func(string, string, time.Duration) (net.Conn, error) { return tc.conn, nil },
			zap.NewNop(), &c)
		if err := s.Send([]byte("packet"), 5); !errors.Is(err, tc.want) {
			t.Errorf("Send = %v, want %v", err, tc.want)
		}
		if got, want := c.Stats(), (exporter.Stats{RecordsLost: 5, SendErrors: 1}); got != want {
			t.Errorf("stats %+v, want %+v", got, want)
		}
	}
}

func TestSocketAfterClose(t *testing.T) {
	d := &flakyDial{conn: &netflowtest.CaptureConn{}}
	var c Counters
	s := Open("netflowX", "collector.example:2055", d.dial, zap.NewNop(), &c)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	err := s.BeginCall(4)
	if !errors.Is(err, ErrClosed) || err.Error() != "netflowX: exporter closed" {
		t.Errorf("BeginCall after Close = %v", err)
	}
	if err := s.Send([]byte("late"), 1); !errors.Is(err, ErrNotConnected) || d.calls != 1 {
		t.Errorf("Send after Close = %v after %d dials; want no socket and no dial", err, d.calls)
	}
	if got, want := c.Stats(), (exporter.Stats{RecordsLost: 5, SendErrors: 1}); got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
}

func TestAddresses(t *testing.T) {
	for address, overhead := range map[string]int{
		"127.0.0.1:2055": OverheadIPv4, "[::ffff:10.0.0.1]:2055": OverheadIPv4,
		"[::1]:2055": OverheadIPv6, "collector.example:2055": OverheadIPv6,
	} {
		if got := Overhead(address); got != overhead {
			t.Errorf("Overhead(%q) = %d, want %d", address, got, overhead)
		}
		if err := CheckAddress("netflowX", address); err != nil {
			t.Errorf("CheckAddress(%q) = %v", address, err)
		}
	}
	if err := CheckAddress("netflowX", "collector.example"); err == nil ||
		err.Error() != `netflowX: collector address "collector.example": address collector.example: missing port in address` {
		t.Errorf("CheckAddress without a port = %v", err)
	}
}
