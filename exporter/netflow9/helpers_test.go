package netflow9

import (
	"cmp"
	"testing"
	"time"

	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/netflowtest"
)

// interopTruths are the records every decoder must read back exactly:
// both families, counters beyond 32 bits, every TCP flag bit the field
// holds (and NS, which it cannot), ICMP and ICMPv6, SCTP, an ifindex
// beyond 16 bits, and times with milliseconds, one of them in the second
// before the export.
var interopTruths = []netflowtest.Truth{
	{Src: "10.1.2.3", Dst: "192.168.7.8", SrcPort: 43210, DstPort: 443, Proto: flow.ProtoTCP, IfIndex: 7, Dir: flow.Egress,
		Packets: 5_000_000_001, Octets: 6_000_000_000_123, Flags: 0x1db,
		First: 50*time.Second + 123*time.Millisecond, Last: 100*time.Second + 456*time.Millisecond, Reason: flow.EndOfFlow},
	{Src: "10.0.0.1", Dst: "10.0.0.2", DstPort: 3<<8 | 3, Proto: flow.ProtoICMP, IfIndex: 9, Dir: flow.Ingress,
		Packets: 2, Octets: 168, First: 90 * time.Second, Last: 99*time.Second + 999*time.Millisecond, Reason: flow.IdleTimeout},
	{Src: "10.9.9.9", Dst: "10.8.8.8", SrcPort: 1, DstPort: 2, Proto: flow.ProtoUDP, IfIndex: 70000, Dir: flow.Ingress,
		Packets: 1, Octets: 28, First: time.Millisecond, Last: 2 * time.Millisecond, Reason: flow.ActiveTimeout},
	{Src: "fd00::1", Dst: "2001:db8::53", SrcPort: 5353, DstPort: 53, Proto: flow.ProtoUDP, IfIndex: 3, Dir: flow.Ingress,
		Packets: 1, Octets: 80, First: 10 * time.Second, Last: 11 * time.Second, Reason: flow.ActiveTimeout},
	{Src: "fd00::a", Dst: "fd00::b", DstPort: 1<<8 | 4, Proto: flow.ProtoICMPv6, IfIndex: 4_000_000_000, Dir: flow.Egress,
		Packets: 5, Octets: 520, First: 10*time.Second + 1*time.Millisecond, Last: 11*time.Second + 999*time.Millisecond,
		Reason: flow.ForcedEnd},
	{Src: "2001:db8::1", Dst: "2001:db8::2", SrcPort: 50000, DstPort: 22, Proto: flow.ProtoTCP, IfIndex: 5, Dir: flow.Ingress,
		Packets: 20, Octets: 2000, Flags: 0x18, First: 99*time.Second + 1*time.Millisecond, Last: 100*time.Second + 699*time.Millisecond,
		Reason: flow.EndOfFlow},
	{Src: "192.0.2.1", Dst: "198.51.100.7", SrcPort: 33000, DstPort: 9000, Proto: flow.ProtoSCTP, IfIndex: 300, Dir: flow.Egress,
		Packets: 3, Octets: 300, First: 80 * time.Second, Last: 81 * time.Second, Reason: flow.LackOfResources},
}

// newCaptured returns an exporter writing into a CaptureConn, closed when
// the test ends; its collector address is a placeholder unless cfg has one.
func newCaptured(t testing.TB, cfg Config) (*Exporter, *netflowtest.CaptureConn) {
	t.Helper()
	cfg.Address = cmp.Or(cfg.Address, "127.0.0.1:2055")
	return netflowtest.Capture(t, cfg, newExporter)
}
