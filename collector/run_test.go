package collector

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// lineBuffer is a bytes.Buffer that Run may write while the test waits for
// lines: each write is one line, signalled on lines.
type lineBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	lines chan struct{}
}

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	n, err := b.buf.Write(p)
	b.mu.Unlock()
	b.lines <- struct{}{}
	return n, err
}

func (b *lineBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestRunPrintsOneLinePerRecord(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			out := &lineBuffer{lines: make(chan struct{}, 16)}
			ready := make(chan net.Addr, 1)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				done <- Run(ctx, Options{
					Listen: "udp://127.0.0.1:0", Format: format, Out: out,
					Ready: func(a net.Addr) { ready <- a },
				})
			}()
			var addr net.Addr
			select {
			case addr = <-ready:
			case err := <-done:
				t.Fatalf("Run returned before listening: %v", err)
			}
			conn, err := net.Dial("udp", addr.String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			// A template-only message prints nothing; then three records in two messages.
			tmpl := set(templateSetID, tmplRecord(256, spec{id: iePacketDeltaCount, length: 8}))
			send(t, conn, message(1, 0, tmpl), message(1, 0, set(256, be(1, 8), be(2, 8))), message(1, 2, set(256, be(3, 8))))
			for i := 0; i < 3; i++ {
				select {
				case <-out.lines:
				case <-time.After(waitLimit):
					t.Fatalf("%d lines after %s: %q", i, waitLimit, out.String())
				}
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Run after cancel: %v", err)
				}
			case <-time.After(waitLimit):
				t.Fatal("Run did not return after cancel")
			}

			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if len(lines) != 3 || !strings.HasSuffix(out.String(), "\n") {
				t.Fatalf("output %q: want 3 newline-terminated lines", out.String())
			}
			exporter := conn.LocalAddr().String()
			for i, line := range lines {
				r := header(conn, []uint32{0, 0, 2}[i], 256)
				r.Exporter = exporter
				r.Packets = uint64(i + 1)
				want := string(FormatJSON(r))
				if format == "text" {
					want = FormatText(r)
				}
				if line != want {
					t.Errorf("line %d:\n got %s\nwant %s", i, line, want)
				}
			}
		})
	}
}

func TestRunRejectsBadOptions(t *testing.T) {
	ctx := context.Background()
	for name, opts := range map[string]Options{
		"unknown format": {Listen: "udp://127.0.0.1:0", Format: "csv", Out: &bytes.Buffer{}},
		"no writer":      {Listen: "udp://127.0.0.1:0"},
		"bad address":    {Listen: "http://127.0.0.1:0", Out: &bytes.Buffer{}},
	} {
		if err := Run(ctx, opts); err == nil {
			t.Errorf("%s: Run returned nil", name)
		}
	}
}

func TestParseListen(t *testing.T) {
	for in, want := range map[string][2]string{
		"udp://127.0.0.1:4739": {"udp", "127.0.0.1:4739"},
		"tcp://[::1]:0":        {"tcp", "[::1]:0"},
		"tcp://localhost:4739": {"tcp", "localhost:4739"},
		"udp://:4739/":         {"udp", ":4739"},
	} {
		network, address, err := parseListen(in)
		if err != nil || network != want[0] || address != want[1] {
			t.Errorf("parseListen(%q) = %q, %q, %v; want %q, %q", in, network, address, err, want[0], want[1])
		}
	}
	for _, in := range []string{"", "127.0.0.1:4739", "sctp://127.0.0.1:4739", "udp://127.0.0.1", "udp://[::1]", "udp://h:1/x", "udp://u@h:1", "udp://h:1?q"} {
		if _, _, err := parseListen(in); err == nil {
			t.Errorf("parseListen(%q) accepted", in)
		}
	}
}

// TestCloseAndCancel: Close closes Records and may be repeated; cancelling
// the context passed to Listen closes the collector too.
func TestCloseAndCancel(t *testing.T) {
	c, err := Listen(context.Background(), "tcp://[::1]:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := c.Addr().(*net.TCPAddr); !ok || a.Port == 0 || !a.IP.Equal(net.IPv6loopback) {
		t.Errorf("Addr() = %v, want [::1]:<port>", c.Addr())
	}
	conn := dial(t, "tcp", c) // an open exporter connection must not block Close
	send(t, conn, validMessage(0))
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for range c.Records() { // the record may or may not have been delivered; the channel must end
	}

	ctx, cancel := context.WithCancel(context.Background())
	c, err = Listen(ctx, "udp://127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case _, open := <-c.Records():
		if open {
			t.Fatal("record from nowhere")
		}
	case <-time.After(waitLimit):
		t.Fatal("Records not closed after cancel")
	}
}
