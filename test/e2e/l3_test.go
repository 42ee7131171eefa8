package e2e

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/podflow/podflow/config"
	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/pkt"
)

// A host interface without an Ethernet header (tun, WireGuard) gets the L3
// program variant: packets the tun receives (written to its queue) and
// sends (routed out of the node) are counted exactly as its own counters say.
func TestL3InterfaceCountedLikeItsCounters(t *testing.T) {
	n := newIPv4OnlyNode(t)
	tun, queue := n.ns.OpenTun(t, "tun0")
	n.ns.AddAddr(t, tun, "10.99.0.1/24")
	n.ns.LinkUp(t, tun)
	gipfix := startIPFIXCollector(t, "udp")
	ag := startAgentWith(t, n, func(c *config.Config) { c.Interfaces = []string{"tun*"} }, gipfix.url("ipfix+udp"))
	attached := false
	for _, i := range ag.watcher.Attached() {
		attached = attached || (i.Index == tun.Attrs().Index && !i.L2)
	}
	if !attached {
		t.Fatalf("tun0 not attached with the L3 programs: %+v", ag.watcher.Attached())
	}
	before := n.ns.Statistics(t, "tun0")

	// Received: IP packets written to the tun's queue.
	remote, local := netip.MustParseAddr("10.99.0.2"), netip.MustParseAddr("10.99.0.1")
	in := pkt.Frame{Src: remote, Dst: local, Proto: flow.ProtoUDP, SrcPort: 1111, DstPort: 2222, Payload: 50}.Bytes()[ethHdr:]
	for range 7 {
		if _, err := queue.Write(in); err != nil {
			t.Fatal(err)
		}
	}
	// Sent: UDP from the node to the far end of the tun.
	var conn net.Conn
	if err := n.ns.Do(func() (err error) { conn, err = net.Dial("udp", "10.99.0.2:3333"); return err }); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for range 5 {
		if _, err := conn.Write(make([]byte, 30)); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 2048)
	queue.SetReadDeadline(time.Now().Add(waitLimit))
	for i := range 5 {
		if _, err := queue.Read(buf); err != nil {
			t.Fatalf("read sent packet %d from the tun: %v", i+1, err)
		}
	}
	after := n.ns.Statistics(t, "tun0")
	stats := ag.stop(t)
	got := byTuple(sumByKey(gipfix.waitRecords(t, stats[gipfix.url("ipfix+udp")].RecordsSent)))

	idx := tun.Attrs().Index
	rxP, rxB := after.RxPackets-before.RxPackets, after.RxBytes-before.RxBytes
	txP, txB := after.TxPackets-before.TxPackets, after.TxBytes-before.TxBytes
	if rxP != 7 || txP != 5 {
		t.Fatalf("tun counted %d received, %d sent; the test made 7 and 5", rxP, txP)
	}
	onlyAt(t, got, flow.Tuple{SrcAddr: remote, DstAddr: local, SrcPort: 1111, DstPort: 2222, Proto: flow.ProtoUDP}, idx, flow.Ingress, rxP, rxB)
	sent := netip.MustParseAddrPort(conn.LocalAddr().String())
	onlyAt(t, got, tuple(sent, netip.AddrPortFrom(remote, 3333), flow.ProtoUDP), idx, flow.Egress, txP, txB)
}
