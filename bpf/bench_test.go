package bpf

import (
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/pkt"
	"github.com/podflow/podflow/internal/privtest"
)

// benchRepeat is how often BPF_PROG_TEST_RUN runs the program per figure.
const benchRepeat = 1_000_000

// BenchmarkTCProgram reports ns/packet of podflow's TC program (jiffies
// timestamps; with PreciseTimestamps; with the TCP state tracking of
// handshakes and wire retransmissions, which looks the sequence state up
// for every data segment) beside the reference (5-tuple parse + one per-CPU hash update) and an empty program,
// measured in the same run; ratio-to-reference is the figure that holds
// across machines. Run with -benchtime 1x: each figure is already 1e6 runs.
func BenchmarkTCProgram(b *testing.B) {
	privtest.Require(b)
	objs, err := Load(LoadOptions{MaxFlows: 1024})
	if err != nil {
		b.Fatal(err)
	}
	defer objs.Close()
	precise, err := Load(LoadOptions{MaxFlows: 1024, PreciseTimestamps: true})
	if err != nil {
		b.Fatal(err)
	}
	defer precise.Close()
	tcpState, err := Load(LoadOptions{MaxFlows: 1024, TrackHandshakes: true, TrackWireRetransmits: true})
	if err != nil {
		b.Fatal(err)
	}
	defer tcpState.Close()
	var ref ReferenceObjects
	if err := LoadReferenceObjects(&ref, nil); err != nil {
		b.Fatal(err)
	}
	defer ref.Close()

	frames := []struct {
		name  string
		frame pkt.Frame
	}{
		{"ipv4-tcp-64B", pkt.Frame{Src: v4a, Dst: v4b, Proto: 6, SrcPort: 1, DstPort: 2, TCPFlags: flow.TCPAck, Payload: 10}},
		{"ipv4-tcp-1514B", pkt.Frame{Src: v4a, Dst: v4b, Proto: 6, SrcPort: 1, DstPort: 2, TCPFlags: flow.TCPAck, Payload: 1460}},
		{"ipv6-tcp-74B", pkt.Frame{Src: v6a, Dst: v6b, Proto: 6, SrcPort: 1, DstPort: 2, TCPFlags: flow.TCPAck}}, // smallest IPv6 TCP frame
		{"ipv6-tcp-1514B", pkt.Frame{Src: v6a, Dst: v6b, Proto: 6, SrcPort: 1, DstPort: 2, TCPFlags: flow.TCPAck, Payload: 1440}},
	}
	for _, f := range frames {
		data := f.frame.Bytes()
		b.Run(f.name, func(b *testing.B) {
			for b.Loop() {
				empty := perPacket(b, ref.TcEmpty, data)
				reference := perPacket(b, ref.TcReference, data)
				podflow := perPacket(b, objs.TcIngress, data)
				preciseNs := perPacket(b, precise.TcIngress, data)
				tcpNs := perPacket(b, tcpState.TcIngress, data)
				b.ReportMetric(podflow, "ns/packet")
				b.ReportMetric(preciseNs, "precise-ns/packet")
				b.ReportMetric(tcpNs, "tcp-state-ns/packet")
				b.ReportMetric(reference, "ref-ns/packet")
				b.ReportMetric(empty, "empty-ns/packet")
				b.ReportMetric(podflow/reference, "x-ref")
			}
		})
	}
}

func perPacket(b *testing.B, prog *ebpf.Program, data []byte) float64 {
	b.Helper()
	_, d, err := prog.Benchmark(data, benchRepeat, nil)
	if err != nil {
		b.Fatal(err)
	}
	return float64(d) / float64(time.Nanosecond)
}
