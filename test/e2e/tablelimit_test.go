package e2e

import (
	"net/netip"
	"testing"
	"time"

	"github.com/podflow/podflow/config"
	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/privtest"
)

// More flows than --max-table-flows: the table holds exactly the limit,
// every flow beyond it leaves at once with flowEndReason 5 (lack of
// resources), and no packet is lost on the way.
func TestFlowTableLimitExportsTheOverflowAtOnce(t *testing.T) {
	privtest.Require(t)
	const (
		limit = config.MinMaxFlows
		flows = limit + 76
	)
	n, p1, p2, _ := newRoutedIPv4Node(t)
	// TCP: the 1024 held flows leave at once at shutdown, a burst a UDP
	// socket's default buffer may not hold.
	col := startIPFIXCollector(t, "tcp")
	ag := startAgentWith(t, n, func(c *config.Config) {
		c.MaxTableFlows = limit
		c.MaxFlows = 2 * flows // the kernel map holds them all
	}, col.url("ipfix+tcp"))

	clients := sendFromManySockets(t, p1, p2, 9000, flows)
	stats := ag.stop(t)
	recs := col.waitRecords(t, stats[col.url("ipfix+tcp")].RecordsSent)

	byReason := map[flow.EndReason]int{}
	seen := map[netip.AddrPort]bool{}
	for _, r := range recs {
		if r.Proto != flow.ProtoUDP || r.DstPort != 9000 {
			t.Errorf("unexpected record %v", r.Tuple)
			continue
		}
		if r.Packets != 1 {
			t.Errorf("%v: %d packets, want 1", r.Tuple, r.Packets)
		}
		byReason[r.EndReason]++
		seen[netip.AddrPortFrom(r.SrcAddr, r.SrcPort)] = true
	}
	if len(seen) != flows {
		t.Errorf("%d flows exported, want %d", len(seen), flows)
	}
	for _, c := range clients {
		if !seen[c] {
			t.Errorf("flow from %v not exported", c)
		}
	}
	want := map[flow.EndReason]int{flow.LackOfResources: flows - limit, flow.ForcedEnd: limit}
	if len(byReason) != len(want) || byReason[flow.LackOfResources] != want[flow.LackOfResources] || byReason[flow.ForcedEnd] != want[flow.ForcedEnd] {
		t.Errorf("records by end reason %v, want %v", byReason, want)
	}
}

// sendFromManySockets sends one datagram from each of count client sockets
// (count source ports, so count flows) to one server port and waits until
// the server has received them all. It returns the clients' addresses.
func sendFromManySockets(t *testing.T, from, to *pod, port uint16, count int) []netip.AddrPort {
	t.Helper()
	server := netip.AddrPortFrom(to.v4, port)
	srv := listenUDPIn(t, to, server)
	defer srv.Close()
	clients := make([]netip.AddrPort, 0, count)
	rbuf := make([]byte, 64)
	srv.SetReadDeadline(time.Now().Add(waitLimit))
	for range count {
		cli := dialUDPFrom(t, from, server)
		// Each socket stays open until the end, so no source port is reused.
		defer cli.Close()
		_, err := cli.Write([]byte("x"))
		clients = append(clients, netip.MustParseAddrPort(cli.LocalAddr().String()))
		if err != nil {
			t.Fatalf("udp send: %v", err)
		}
		// One in flight at a time: no socket buffer can overflow.
		if _, _, err := srv.ReadFrom(rbuf); err != nil {
			t.Fatalf("udp receive %d of %d: %v", len(clients), count, err)
		}
	}
	return clients
}
