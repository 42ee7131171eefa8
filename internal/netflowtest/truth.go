package netflowtest

import (
	"net/netip"
	"time"

	"github.com/podflow/podflow/flow"
)

// Boot is the exporters' Boot in most tests: 1_700_000_000 s = 0x6553f100.
var Boot = time.Unix(1_700_000_000, 0)

// InteropNow is the export time of the interop tests: 700 ms into the
// second after their last record ended, so the header's whole second
// (Boot+101 s) differs from now.
var InteropNow = Boot.Add(100*time.Second + 700*time.Millisecond)

// Truth is one flow record as a test sends it and expects decoders to read
// it back; First and Last count from Boot.
type Truth struct {
	Src, Dst         string
	SrcPort, DstPort uint16
	Proto            uint8
	IfIndex          uint32
	Dir              flow.Direction
	Packets          uint64
	Octets           uint64
	Flags            uint16
	First, Last      time.Duration
	Reason           flow.EndReason
}

// Record is w as the flow record an exporter is given.
func (w Truth) Record() flow.Record {
	return flow.Record{
		Key: flow.Key{Tuple: flow.Tuple{
			SrcAddr: netip.MustParseAddr(w.Src), DstAddr: netip.MustParseAddr(w.Dst),
			SrcPort: w.SrcPort, DstPort: w.DstPort, Proto: w.Proto,
		}, IfIndex: w.IfIndex, Direction: w.Dir},
		Counters: flow.Counters{Packets: w.Packets, Octets: w.Octets, TCPFlags: w.Flags,
			First: Boot.Add(w.First), Last: Boot.Add(w.Last)},
		EndReason: w.Reason,
	}
}

// In is the input ifindex exporters send: the observed one for ingress.
func (w Truth) In() uint32 {
	if w.Dir == flow.Ingress {
		return w.IfIndex
	}
	return 0
}

// Out is the output ifindex exporters send: the observed one for egress.
func (w Truth) Out() uint32 {
	if w.Dir == flow.Egress {
		return w.IfIndex
	}
	return 0
}

// Records turns truths into records, in order.
func Records(ws []Truth) []flow.Record {
	out := make([]flow.Record, len(ws))
	for i, w := range ws {
		out[i] = w.Record()
	}
	return out
}
