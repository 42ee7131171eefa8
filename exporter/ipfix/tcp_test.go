package ipfix

import (
	"net"
	"testing"
	"time"

	"github.com/vmware/go-ipfix/pkg/entities"

	"github.com/podflow/podflow/flow"
)

func TestTCPCollectorRestart(t *testing.T) {
	first := startCollector(t, "tcp", "127.0.0.1:0")
	address := first.address()
	clock := newFakeClock()
	e, err := New(Config{NoOptions: true, Network: "tcp", Address: address, Now: clock.Now}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()

	// 1. Collector up: everything arrives.
	if err := e.Export(mixedRecords(50)); err != nil {
		t.Fatal(err)
	}
	first.waitDataRecords(t, 50)

	// 2. Collector gone: once its FIN has reached our socket, every record is
	// counted lost, none is silently written into the dead connection.
	first.stop()
	poll(t, "the collector's FIN", func() bool { return e.peer.closed() != nil })
	if err := e.Export(mixedRecords(30)); err == nil {
		t.Fatal("Export to a stopped collector returned no error")
	}
	if s := e.Stats(); s.RecordsLost != 30 || s.RecordsSent != 50 {
		t.Fatalf("after stop: stats %+v, want 30 lost and 50 sent", s)
	}

	// 3. Collector back on the same port: after the backoff the exporter
	// reconnects, re-sends the templates and restarts sequence numbers.
	second := startCollector(t, "tcp", address)
	clock.Advance(e.cfg.ReconnectBackoff)
	if err := e.Export(mixedRecords(40)); err != nil {
		t.Fatal(err)
	}
	msgs := second.waitDataRecords(t, 40)
	if len(msgs) < 3 || msgs[0].GetSet().GetSetType() != entities.Template ||
		msgs[1].GetSet().GetSetType() != entities.Template {
		t.Fatalf("new session does not start with the two templates")
	}
	running := uint32(0)
	for i, m := range msgs {
		if m.GetSequenceNum() != running {
			t.Errorf("new session message %d: sequence %d, want %d", i, m.GetSequenceNum(), running)
		}
		if m.GetSet().GetSetType() == entities.Data {
			running += uint32(len(m.GetSet().GetRecords()))
		}
	}

	s := e.Stats()
	received := countData(first.messages()) + countData(second.messages())
	if uint64(received)+s.RecordsLost != 120 || s.RecordsLost != 30 || received != 90 {
		t.Errorf("received %d + lost %d, want 90 + 30", received, s.RecordsLost)
	}
	if s.Reconnects != 1 || s.TemplatesSent != 4 || s.RecordsSent != 90 {
		t.Errorf("stats %+v, want 1 reconnect, 4 templates, 90 sent", s)
	}
}

func TestTCPNoCollector(t *testing.T) {
	// A port nobody listens on: take a free one and release it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	address := l.Addr().String()
	l.Close()

	clock := newFakeClock()
	e, err := New(Config{Network: "tcp", Address: address, Now: clock.Now}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for range 3 {
		clock.Advance(e.cfg.ReconnectBackoff / 2) // a dial every other call
		if err := e.Export(mixedRecords(25)); err == nil {
			t.Fatal("Export without collector returned no error")
		}
	}
	if s := e.Stats(); s.RecordsLost != 75 || s.RecordsSent != 0 || s.MessagesSent != 0 || s.Reconnects != 0 {
		t.Errorf("stats %+v, want 75 lost and nothing sent", s)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Export(mixedRecords(5)); err == nil || e.Stats().RecordsLost != 80 {
		t.Errorf("Export after Close: err %v, lost %d, want an error and 80 lost", err, e.Stats().RecordsLost)
	}
}

func TestTCPWriteErrorMidBatch(t *testing.T) {
	clock := newFakeClock()
	var conns []*fakeConn
	dial := func(network, address string, _ time.Duration) (net.Conn, error) {
		c := &fakeConn{okWrites: 4, partial: 100} // 2 templates + 2 data messages
		conns = append(conns, c)
		return c, nil
	}
	e, err := newExporter(Config{NoOptions: true, Network: "tcp", Address: "192.0.2.1:4739", Now: clock.Now}, nil, dial)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()

	// 100 IPv4 records make messages of 24, 24, 24, 24 and 4 records. The
	// third data message is half written: it and all later ones are lost.
	recs := make([]flow.Record, 100)
	for i := range recs {
		recs[i] = record("10.0.0.1", "10.0.0.2", 1, 2, flow.ProtoTCP, uint64(i+1))
	}
	if err := e.Export(recs); err == nil {
		t.Fatal("want an error")
	}
	s := e.Stats()
	if s.RecordsSent != 48 || s.RecordsLost != 52 || s.MessagesSent != 4 || s.SendErrors != 3 ||
		s.BytesSent != uint64(2*len(conns[0].writes[0])+2*(20+24*59)) {
		t.Errorf("stats %+v, want 48 sent, 52 lost, 4 messages, 3 send errors", s)
	}
	if !conns[0].closed {
		t.Error("failed connection not closed")
	}

	// Within the backoff nothing is dialled; after it, a new session.
	if err := e.Export(recs[:10]); err == nil || len(conns) != 1 {
		t.Fatalf("within backoff: err %v, %d dials", err, len(conns))
	}
	clock.Advance(e.cfg.ReconnectBackoff)
	if err := e.Export(recs[:10]); err != nil {
		t.Fatal(err)
	}
	if len(conns) != 2 || len(conns[1].writes) != 3 {
		t.Fatalf("%d dials, %d writes on the new connection, want 2 and 3", len(conns), len(conns[1].writes))
	}
	for i, w := range conns[1].writes {
		if seq := be32(w[8:]); seq != 0 {
			t.Errorf("new session write %d: sequence %d, want 0", i, seq)
		}
	}
	if s := e.Stats(); s.Reconnects != 1 || s.RecordsSent != 58 || s.RecordsLost != 62 {
		t.Errorf("stats %+v, want 1 reconnect, 58 sent, 62 lost", s)
	}
}
