package ipfix

import (
	"net"
	"testing"

	"github.com/podflow/podflow/flow"
)

// BenchmarkExportUDP measures encode+send of 10k-record batches to a local
// UDP socket that a goroutine reads and discards.
func BenchmarkExportUDP(b *testing.B) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			if _, err := conn.Read(buf); err != nil {
				return // closed at the end of the benchmark
			}
		}
	}()
	defer func() { conn.Close(); <-done }()

	e, err := New(Config{Network: "udp", Address: conn.LocalAddr().String()}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	recs := make([]flow.Record, 10_000)
	for i := range recs {
		if i%4 == 3 {
			recs[i] = record("fd00::1", "fd00::2", uint16(i), 443, flow.ProtoTCP, uint64(i+1))
		} else {
			recs[i] = record("10.0.0.1", "10.0.0.2", uint16(i), 443, flow.ProtoTCP, uint64(i+1))
		}
	}
	b.ReportAllocs()
	batches := 0
	for b.Loop() {
		if err := e.Export(recs); err != nil {
			b.Fatal(err)
		}
		batches++
	}
	b.ReportMetric(float64(batches*len(recs))/b.Elapsed().Seconds(), "records/s")
}
