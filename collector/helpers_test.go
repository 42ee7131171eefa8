package collector

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"k8s.io/klog/v2"
)

// TestMain loads go-ipfix's registry before any test goroutine reads it
// (registry.LoadRegistry replaces package globals without a lock), and
// quiets the klog output of go-ipfix's exporter.
func TestMain(m *testing.M) {
	registryOnce.Do(snapshotRegistry)
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
	os.Exit(m.Run())
}

// waitLimit bounds every wait: a broken collector fails the test instead of
// hanging it. Nothing asserts on how long things take.
const waitLimit = 10 * time.Second

func startCollector(t *testing.T, listen string) *Collector {
	t.Helper()
	c, err := Listen(context.Background(), listen, nil)
	if err != nil {
		t.Fatalf("Listen(%q): %v", listen, err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}

func receive(t *testing.T, c *Collector) Received {
	t.Helper()
	select {
	case r, ok := <-c.Records():
		if !ok {
			t.Fatal("Records closed")
		}
		return r
	case <-time.After(waitLimit):
		t.Fatalf("no record within %s; stats %+v", waitLimit, c.Stats())
	}
	return Received{}
}

func dial(t *testing.T, network string, c *Collector) net.Conn {
	t.Helper()
	conn, err := net.Dial(network, c.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func send(t *testing.T, conn net.Conn, msgs ...[]byte) {
	t.Helper()
	for _, m := range msgs {
		if _, err := conn.Write(m); err != nil {
			t.Fatal(err)
		}
	}
}

// Raw IPFIX encoding, written independently of go-ipfix so tests can send
// what go-ipfix's exporter never would (reduced-size encoding, several sets
// per message, padding, options templates, malformed input).

// exportTime is the export time of hand-built messages: 2026-11-22T03:04:05Z.
const exportTime = 1795316645

func message(domain, seq uint32, sets ...[]byte) []byte {
	m := binary.BigEndian.AppendUint16(nil, 10)
	m = binary.BigEndian.AppendUint16(m, 0) // length, below
	m = binary.BigEndian.AppendUint32(m, exportTime)
	m = binary.BigEndian.AppendUint32(m, seq)
	m = binary.BigEndian.AppendUint32(m, domain)
	for _, s := range sets {
		m = append(m, s...)
	}
	binary.BigEndian.PutUint16(m[2:], uint16(len(m)))
	return m
}

func set(id uint16, records ...[]byte) []byte {
	s := binary.BigEndian.AppendUint16(nil, id)
	s = binary.BigEndian.AppendUint16(s, 0)
	for _, r := range records {
		s = append(s, r...)
	}
	binary.BigEndian.PutUint16(s[2:], uint16(len(s)))
	return s
}

// spec is a field specifier; pen != 0 makes it enterprise-specific.
type spec struct {
	id, length uint16
	pen        uint32
}

func tmplRecord(id uint16, fields ...spec) []byte {
	r := binary.BigEndian.AppendUint16(nil, id)
	r = binary.BigEndian.AppendUint16(r, uint16(len(fields)))
	return appendSpecs(r, fields)
}

func optionsTmplRecord(id uint16, scope int, fields ...spec) []byte {
	r := binary.BigEndian.AppendUint16(nil, id)
	r = binary.BigEndian.AppendUint16(r, uint16(len(fields)))
	r = binary.BigEndian.AppendUint16(r, uint16(scope))
	return appendSpecs(r, fields)
}

func appendSpecs(r []byte, fields []spec) []byte {
	for _, f := range fields {
		if f.pen != 0 {
			r = binary.BigEndian.AppendUint16(r, f.id|0x8000)
			r = binary.BigEndian.AppendUint16(r, f.length)
			r = binary.BigEndian.AppendUint32(r, f.pen)
			continue
		}
		r = binary.BigEndian.AppendUint16(r, f.id)
		r = binary.BigEndian.AppendUint16(r, f.length)
	}
	return r
}

// be encodes v big-endian in n bytes.
func be(v uint64, n int) []byte {
	b := make([]byte, n)
	for i := n - 1; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
	return b
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// varField encodes a variable-length field (RFC 7011 §7).
func varField(v []byte) []byte {
	if len(v) < 255 {
		return append([]byte{byte(len(v))}, v...)
	}
	return append(append([]byte{255}, be(uint64(len(v)), 2)...), v...)
}
