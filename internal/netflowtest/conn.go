package netflowtest

import (
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
)

// CaptureConn records every datagram an exporter writes; writes fail
// while Fail says so. Its Dial method stands in for net.DialTimeout.
type CaptureConn struct {
	Fail func(n int) bool // n: 0-based index of the write; set before exporting

	mu    sync.Mutex
	sent  [][]byte
	calls int
}

// Dial returns c whatever the address: the exporter writes to c.
func (c *CaptureConn) Dial(string, string, time.Duration) (net.Conn, error) { return c, nil }

func (c *CaptureConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.calls
	c.calls++
	if c.Fail != nil && c.Fail(n) {
		return 0, syscall.ECONNREFUSED
	}
	c.sent = append(c.sent, append([]byte(nil), b...))
	return len(b), nil
}

// Packets returns the datagrams written so far, failed ones left out.
func (c *CaptureConn) Packets() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.sent...)
}

func (c *CaptureConn) Read([]byte) (int, error)         { return 0, syscall.EAGAIN }
func (c *CaptureConn) Close() error                     { return nil }
func (c *CaptureConn) LocalAddr() net.Addr              { return &net.UDPAddr{} }
func (c *CaptureConn) RemoteAddr() net.Addr             { return &net.UDPAddr{} }
func (c *CaptureConn) SetDeadline(time.Time) error      { return nil }
func (c *CaptureConn) SetReadDeadline(time.Time) error  { return nil }
func (c *CaptureConn) SetWriteDeadline(time.Time) error { return nil }

// Capture returns the exporter newExporter makes from cfg, with no logger,
// writing into a new CaptureConn; it is closed when the test ends. D is
// the exporter's dial function type, which CaptureConn.Dial converts to.
func Capture[C any, D ~func(string, string, time.Duration) (net.Conn, error), E io.Closer](
	t testing.TB, cfg C, newExporter func(C, *zap.Logger, D) (E, error)) (E, *CaptureConn) {
	t.Helper()
	conn := &CaptureConn{}
	e, err := newExporter(cfg, nil, D(conn.Dial))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, conn
}
