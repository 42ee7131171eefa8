package netflow9

import (
	"testing"
	"time"

	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/netflowtest"
)

func TestGoldenBytes(t *testing.T) {
	clock := flow.NewFakeClock(netflowtest.Boot.Add(100*time.Second + 700*time.Millisecond))
	e, conn := newCaptured(t, Config{SourceID: 0x01020304, Boot: netflowtest.Boot, Now: clock.Now})
	v4 := netflowtest.Truth{Src: "10.1.2.3", Dst: "192.168.7.8", SrcPort: 43210, DstPort: 443, Proto: flow.ProtoTCP,
		IfIndex: 7, Dir: flow.Egress, Packets: 12, Octets: 3456, Flags: 0x11b,
		First: 50*time.Second + 123*time.Millisecond, Last: 100*time.Second + 456*time.Millisecond, Reason: flow.EndOfFlow}
	v6 := netflowtest.Truth{Src: "fd00::1", Dst: "2001:db8::53", SrcPort: 5353, DstPort: 53, Proto: flow.ProtoUDP,
		IfIndex: 3, Dir: flow.Ingress, Packets: 1, Octets: 80,
		First: 10 * time.Second, Last: 11 * time.Second, Reason: flow.ActiveTimeout}
	fields := `0007 0002  000b 0002  0004 0001  0001 0008  0002 0008  0006 0001  0016 0004  0015 0004
		0088 0001  000a 0004  000e 0004  003d 0001  0020 0002`
	// Header: version 9, count 4 (2 templates, 2 data records), sysUptime
	// 101000 ms and unix_secs 1700000101, the same whole second after now,
	// sequence 0, source id. Template FlowSet (id 0, 132 octets), then
	// IPv4 data (50-octet record + 2 padding) and IPv6 data (74 + 2): IPv6
	// exported first, the packet still carries IPv4 first, one FlowSet per
	// family.
	netflowtest.ExportGolden(t, e, conn, []netflowtest.Truth{v6, v4}, `
		0009 0004 00018a88 6553f165 00000000 01020304
		0000 0084
		0100 000f  0008 0004  000c 0004  `+fields+`
		0101 000f  001b 0010  001c 0010  `+fields+`
		0100 0038
		0a010203 c0a80708 a8ca 01bb 06 0000000000000d80 000000000000000c 1b
		0000c3cb 00018868 03 00000000 00000007 01 0000  0000
		0101 0050
		fd000000000000000000000000000001 20010db8000000000000000000000053 14e9 0035 11
		0000000000000050 0000000000000001 00 00002710 00002af8 02 00000003 00000000 00 0000  0000`)

	// The next packet: sequence 1, no templates.
	clock.Advance(time.Second)
	netflowtest.ExportGolden(t, e, conn, []netflowtest.Truth{v4}, `
		0009 0001 00018e70 6553f166 00000001 01020304
		0100 0038
		0a010203 c0a80708 a8ca 01bb 06 0000000000000d80 000000000000000c 1b
		0000c3cb 00018868 03 00000000 00000007 01 0000  0000`)
	if s := e.Stats(); s.RecordsSent != 3 || s.MessagesSent != 2 || s.TemplatesSent != 2 ||
		s.BytesSent != 288+76 || s.RecordsLost != 0 || s.SendErrors != 0 {
		t.Errorf("stats %+v", s)
	}
}
