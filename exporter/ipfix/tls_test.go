package ipfix

import (
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	goipfix "github.com/vmware/go-ipfix/pkg/collector"
	"github.com/vmware/go-ipfix/pkg/entities"

	"github.com/podflow/podflow/collector"
	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/decoders"
)

// Mutual TLS to podflow's collector: every record arrives exactly, the
// options records with them.
func TestTLSMutualRoundTrip(t *testing.T) {
	p := decoders.NewPKI(t)
	col := startPodflow(t, "tls://127.0.0.1:0", collector.WithTLS(p.CollectorTLS()))
	e, err := New(Config{Network: "tls", Address: col.Addr().String(), TLS: p.ExporterTLS(), StatsInterval: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	recs := mixedRecords(30)
	recs[3].Context.Src = flow.Process{PID: 42, Name: "nginx", Exe: "/usr/sbin/nginx", ContainerID: strings.Repeat("c", 64)}
	if err := e.Export(recs); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	want := wantStats(e, e.cfg.ExportingProcessID, e.now)
	got := receiveRecords(t, col, countTemplate(TemplateIDExporterStats, 1))
	flows := flowRecords(got)
	if len(flows) != len(recs) {
		t.Fatalf("%d flow records, want %d", len(flows), len(recs))
	}
	byPackets := map[uint64]collector.Received{}
	for _, r := range flows {
		byPackets[r.Packets] = r
	}
	for _, w := range recs {
		g, ok := byPackets[w.Packets]
		if !ok || g.Tuple != w.Tuple || g.Octets != w.Octets || !g.First.Equal(w.First) || g.Context.Src != w.Context.Src {
			t.Errorf("record %d: got %+v", w.Packets, g.Record)
		}
	}
	checkOptions(t, "statistics over TLS", byTemplate(got, TemplateIDExporterStats)[0], statsScope, want)
	if s := col.Stats(); s.HandshakeErrors != 0 || s.DecodeErrors != 0 || s.RecordsMissing != 0 {
		t.Errorf("collector stats %+v", s)
	}
}

// An exporter that does not trust the collector's CA never connects: its
// records are counted lost, the collector sees one failed handshake per dial.
func TestTLSWrongCAFailsToConnect(t *testing.T) {
	p := decoders.NewPKI(t)
	other := decoders.NewPKI(t) // someone else's CA, of the same name but another key
	col := startPodflow(t, "tls://127.0.0.1:0", collector.WithTLS(p.CollectorTLS()))
	clock := newFakeClock()
	cfg := p.ExporterTLS()
	cfg.RootCAs = other.Pool
	e, err := New(Config{Network: "tls", Address: col.Addr().String(), TLS: cfg, Now: clock.Now}, nil) // dial 1
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	err = e.Export(mixedRecords(20)) // within the backoff: no dial
	var unknown x509.UnknownAuthorityError
	if !errors.Is(err, errNotConnected) || !errors.As(err, &unknown) {
		t.Fatalf("Export = %v, want the records lost for want of a connection, and why", err)
	}
	clock.Advance(e.cfg.ReconnectBackoff)
	err = e.Export(mixedRecords(10)) // dial 2
	if err == nil || !errors.As(err, &unknown) {
		t.Fatalf("Export = %v, want an unknown authority error", err)
	}
	if s := e.Stats(); s.RecordsLost != 30 || s.RecordsSent != 0 || s.MessagesSent != 0 || s.Reconnects != 0 {
		t.Errorf("stats %+v, want 30 lost and nothing sent", s)
	}
	if packets, octets := e.NotSent(); packets != 210+55 || octets != 26500 {
		t.Errorf("not sent: %d packets %d octets, want 265 and 26500", packets, octets)
	}
	poll(t, "two failed handshakes at the collector", func() bool { return col.Stats().HandshakeErrors >= 2 })
	if s := col.Stats(); s.HandshakeErrors != 2 || s.MessagesReceived != 0 {
		t.Errorf("collector stats %+v, want 2 handshake errors and no message", s)
	}
}

// go-ipfix's collector over TLS (mutual, as go-ipfix requires a client
// certificate when given a CA) receives every record, with NoOptions: it
// cannot decode options templates and would close the connection.
func TestGoIPFIXCollectorTLS(t *testing.T) {
	p := decoders.NewPKI(t)
	col := startCollectorInput(t, goipfix.CollectorInput{
		Address: "127.0.0.1:0", Protocol: "tcp", MaxBufferSize: 65535,
		IsEncrypted: true, CACert: p.CAPEM, ServerCert: p.ServerCertPEM, ServerKey: p.ServerKeyPEM,
	})
	e, err := New(Config{Network: "tls", Address: col.address(), TLS: p.ExporterTLS(), NoOptions: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.Export(mixedRecords(40)); err != nil {
		t.Fatal(err)
	}
	seen := map[uint64]int{}
	for _, m := range col.waitDataRecords(t, 40) {
		if m.GetSet().GetSetType() != entities.Data {
			continue
		}
		for _, r := range m.GetSet().GetRecords() {
			seen[r.GetElementMap()["packetDeltaCount"].(uint64)]++
		}
	}
	for id := uint64(1); id <= 40; id++ {
		if seen[id] != 1 {
			t.Errorf("record %d arrived %d times", id, seen[id])
		}
	}
	if s := e.Stats(); s.RecordsSent != 40 || s.RecordsLost != 0 {
		t.Errorf("stats %+v", s)
	}
}
