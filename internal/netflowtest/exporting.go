package netflowtest

import (
	"net"
	"testing"

	"github.com/podflow/podflow/exporter"
	"github.com/podflow/podflow/flow"
)

// DeadCollector returns a UDP address on 127.0.0.1 that nothing listens
// on: a port bound and closed again.
func DeadCollector(t testing.TB) string {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.LocalAddr().String()
}

// ExportUntilLost exports batch to a dead collector until e counts lost
// records: the kernel reports the ICMP port unreachable of one datagram on
// a later send, which fails. Every record must then be counted, sent or
// lost, and the failed send counted too.
func ExportUntilLost(t testing.TB, e exporter.Exporter, batch []flow.Record) {
	t.Helper()
	exported := 0
	Poll(t, "a refused send", func() bool {
		_ = e.Export(batch)
		exported += len(batch)
		return e.Stats().RecordsLost > 0
	})
	if s := e.Stats(); s.RecordsSent+s.RecordsLost != uint64(exported) || s.SendErrors == 0 {
		t.Errorf("stats %+v after %d records", s, exported)
	}
}

// ReadWhileExporting exports batch ten times while another goroutine reads
// e's Stats, and whatever read reads, until all were sent: under -race
// this checks that the counters may be read from any goroutine.
func ReadWhileExporting(t testing.TB, e exporter.Exporter, batch []flow.Record, read func()) {
	t.Helper()
	const calls = 10
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e.Stats().RecordsSent < uint64(calls*len(batch)) {
			read()
		}
	}()
	for range calls {
		if err := e.Export(batch); err != nil {
			t.Fatal(err)
		}
	}
	<-done
}
