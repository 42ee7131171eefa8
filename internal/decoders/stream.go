package decoders

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// StreamCapture accepts one IPFIX exporter over TCP on 127.0.0.1 and writes
// its byte stream to a file: a TCP stream of IPFIX messages is an IPFIX
// file (RFC 5655), which is what ipfixDump reads.
type StreamCapture struct {
	ln   net.Listener
	path string
	done chan struct{} // closed once the session ended, err set
	err  error
}

// CaptureStream starts listening; t's cleanup closes the listener.
func CaptureStream(t testing.TB) *StreamCapture {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	c := &StreamCapture{ln: ln, path: filepath.Join(t.TempDir(), "session.ipfix"), done: make(chan struct{})}
	go c.accept()
	t.Cleanup(func() { ln.Close() })
	return c
}

func (c *StreamCapture) accept() {
	defer close(c.done)
	conn, err := c.ln.Accept()
	if err != nil {
		c.err = fmt.Errorf("accept: %w", err)
		return
	}
	defer conn.Close()
	f, err := os.Create(c.path)
	if err != nil {
		c.err = err
		return
	}
	_, err = io.Copy(f, conn)
	c.err = errors.Join(err, f.Close())
}

// Addr is where the exporter connects.
func (c *StreamCapture) Addr() net.Addr { return c.ln.Addr() }

// Wait waits until the exporter closed its connection and returns the
// file holding what it sent (every call, once it has).
func (c *StreamCapture) Wait(timeout time.Duration) (string, error) {
	select {
	case <-c.done:
		if c.err != nil {
			return "", fmt.Errorf("capture: %w", c.err)
		}
		return c.path, nil
	case <-time.After(timeout):
		return "", fmt.Errorf("the exporter did not close its connection within %v", timeout)
	}
}

// SplitIPFIX cuts a stream of IPFIX messages at the boundaries their
// headers give, so tools that decode datagrams can read a TCP session.
func SplitIPFIX(stream []byte) ([][]byte, error) {
	var msgs [][]byte
	for len(stream) > 0 {
		if len(stream) < 16 || binary.BigEndian.Uint16(stream) != 10 {
			return nil, fmt.Errorf("no IPFIX message header after %d messages", len(msgs))
		}
		n := int(binary.BigEndian.Uint16(stream[2:]))
		if n < 16 || n > len(stream) {
			return nil, fmt.Errorf("message %d: length %d, %d octets left", len(msgs)+1, n, len(stream))
		}
		msgs = append(msgs, stream[:n])
		stream = stream[n:]
	}
	return msgs, nil
}
