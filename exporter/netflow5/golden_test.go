package netflow5

import (
	"testing"
	"time"

	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/netflowtest"
)

func TestGoldenBytes(t *testing.T) {
	clock := flow.NewFakeClock(netflowtest.Boot.Add(100*time.Second + 700*time.Millisecond))
	e, conn := newCaptured(t, Config{EngineType: 1, EngineID: 2, Boot: netflowtest.Boot, Now: clock.Now})
	tcp := netflowtest.Truth{Src: "10.1.2.3", Dst: "192.168.7.8", SrcPort: 43210, DstPort: 443, Proto: flow.ProtoTCP,
		IfIndex: 7, Dir: flow.Egress, Packets: 12, Octets: 3456, Flags: 0x11b,
		First: 50*time.Second + 123*time.Millisecond, Last: 100*time.Second + 456*time.Millisecond}
	icmp := netflowtest.Truth{Src: "10.0.0.1", Dst: "10.0.0.2", DstPort: 3<<8 | 3, Proto: flow.ProtoICMP,
		IfIndex: 9, Dir: flow.Ingress, Packets: 2, Octets: 168, First: 90 * time.Second, Last: 99 * time.Second}
	// Header: version 5, count 2, sysUptime 101000 ms and unix_secs
	// 1700000101 (the same whole second after now, nsecs 0), flow_sequence
	// 0, engine type 1 and id 2, sampling 0. Records: addresses, nexthop 0,
	// input/output ifindex, packets, octets, First, Last, ports, pad, TCP
	// flags (low 8 bits), protocol, ToS, AS numbers, masks, pad.
	netflowtest.ExportGolden(t, e, conn, []netflowtest.Truth{tcp, icmp}, `
		0005 0002 00018a88 6553f165 00000000 00000000 01 02 0000
		0a010203 c0a80708 00000000 0000 0007 0000000c 00000d80 0000c3cb 00018868 a8ca 01bb 00 1b 06 00 0000 0000 00 00 0000
		0a000001 0a000002 00000000 0009 0000 00000002 000000a8 00015f90 000182b8 0000 0303 00 00 01 00 0000 0000 00 00 0000`)

	// The next packet's flow_sequence counts the two records before it.
	clock.Advance(time.Second)
	netflowtest.ExportGolden(t, e, conn, []netflowtest.Truth{tcp}, `
		0005 0001 00018e70 6553f166 00000000 00000002 01 02 0000
		0a010203 c0a80708 00000000 0000 0007 0000000c 00000d80 0000c3cb 00018868 a8ca 01bb 00 1b 06 00 0000 0000 00 00 0000`)
	if s := e.Stats(); s.RecordsSent != 3 || s.MessagesSent != 2 || s.BytesSent != 120+72 || s.RecordsLost != 0 {
		t.Errorf("stats %+v", s)
	}
}
