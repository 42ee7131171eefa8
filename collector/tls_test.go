package collector

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/podflow/podflow/internal/decoders"
)

// mutualTLS is a collector configuration that requires a client
// certificate, and a client one that has such a certificate.
func mutualTLS(t *testing.T) (server, client *tls.Config) {
	p := decoders.NewPKI(t)
	return p.CollectorTLS(), p.ExporterTLS()
}

func TestListenTLS(t *testing.T) {
	server, client := mutualTLS(t)
	c := startCollectorTLS(t, "tls://127.0.0.1:0", server)
	conn, err := tls.Dial("tcp", c.Addr().String(), client)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tmpl := tmplRecord(256, spec{id: iePacketDeltaCount, length: 8})
	send(t, conn, message(1, 0, set(templateSetID, tmpl)), message(1, 0, set(256, be(42, 8))))
	got := receive(t, c)
	if got.Packets != 42 || got.Exporter != conn.LocalAddr().String() || got.TemplateID != 256 {
		t.Errorf("got %+v", got)
	}
	checkStats(t, c, Stats{MessagesReceived: 2, RecordsReceived: 1, TemplatesReceived: 1})
}

// A client that does not speak TLS, and one without a certificate, are
// dropped in the handshake and counted; nothing of theirs is decoded.
func TestListenTLSHandshakeFailures(t *testing.T) {
	server, client := mutualTLS(t)
	c := startCollectorTLS(t, "tls://127.0.0.1:0", server)
	plain := dial(t, "tcp", c)
	send(t, plain, message(1, 0, set(templateSetID, tmplRecord(256, spec{id: iePacketDeltaCount, length: 8}))))
	client.Certificates = nil
	anonymous, err := tls.Dial("tcp", c.Addr().String(), client)
	if err == nil { // TLS 1.3: the server refuses the missing certificate after our side is done
		defer anonymous.Close()
	}
	deadline := time.Now().Add(waitLimit)
	for c.Stats().HandshakeErrors < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v, want 2 handshake errors", c.Stats())
		}
		<-time.After(time.Millisecond) // polling the collector's counter
	}
	checkStats(t, c, Stats{HandshakeErrors: 2})
}

func TestListenTLSConfigOnlyForTLS(t *testing.T) {
	server, _ := mutualTLS(t)
	for listen, opts := range map[string][]ListenOption{
		"tls://127.0.0.1:0": nil,
		"tcp://127.0.0.1:0": {WithTLS(server)},
		"udp://127.0.0.1:0": {WithTLS(server)},
	} {
		c, err := Listen(context.Background(), listen, nil, opts...)
		if err == nil {
			c.Close()
			t.Errorf("Listen(%s, %d options) succeeded", listen, len(opts))
		} else if !strings.Contains(err.Error(), "TLS config") {
			t.Errorf("Listen(%s): %v", listen, err)
		}
	}
}

// Run takes the TLS config for a tls:// address.
func TestRunTLS(t *testing.T) {
	server, client := mutualTLS(t)
	out := &lineBuffer{lines: make(chan struct{}, 4)}
	ready := make(chan net.Addr, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Listen: "tls://127.0.0.1:0", TLS: server, Format: "text", Out: out,
			Ready: func(a net.Addr) { ready <- a }})
	}()
	var addr net.Addr
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
	conn, err := tls.Dial("tcp", addr.String(), client)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	send(t, conn, message(1, 0, set(optionsTemplateSetID, optionsTmplRecord(258, 1, spec{id: 144, length: 4}, spec{id: 42, length: 8})),
		set(258, be(7, 4), be(99, 8))))
	select {
	case <-out.lines:
	case <-time.After(waitLimit):
		t.Fatal("no line")
	}
	if got, want := out.String(), "options exporter="+conn.LocalAddr().String()+" domain=1 template=258 scope=exportingProcessId exportedFlowRecordTotalCount=99 exportingProcessId=7\n"; !strings.HasSuffix(got, want) {
		t.Errorf("line %q, want it to end with %q", got, want)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func startCollectorTLS(t *testing.T, listen string, cfg *tls.Config) *Collector {
	t.Helper()
	c, err := Listen(context.Background(), listen, nil, WithTLS(cfg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}
