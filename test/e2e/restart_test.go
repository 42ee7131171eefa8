package e2e

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/podflow/podflow/collector"
	"github.com/podflow/podflow/config"
	"github.com/podflow/podflow/exporter"
)

// received drains what a built-in collector decoded so far into *n.
func countRecords(c *collector.Collector, n *int) {
	for {
		select {
		case r := <-c.Records():
			if !r.Options { // exporter statistics, interface names, element types
				*n++
			}
		default:
			return
		}
	}
}

// A TCP collector that goes away and comes back: podflow reconnects, and
// every record it did not report as lost arrives.
func TestTCPCollectorRestartLosesNothingUnreported(t *testing.T) {
	n := newIPv4OnlyNode(t)
	p1, p2 := n.addBridgedPod(t, 41), n.addBridgedPod(t, 42)
	ctx := context.Background()
	c1, err := collector.Listen(ctx, "tcp://127.0.0.1:0", zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	port := c1.Addr().(*net.TCPAddr).Port
	url := "ipfix+tcp://127.0.0.1:" + strconv.Itoa(port)
	ag := startAgentWith(t, n, func(c *config.Config) {
		c.IdleTimeout = 300 * time.Millisecond // records leave while podflow runs
		c.ActiveTimeout = time.Second
	}, url)
	stats := func() exporter.Stats { return ag.fanout.Stats(0) }

	var got1, got2 int
	sendUDP(t, p1, p2, p2.v4, 4001, 5, 10)
	poll(t, "first flow at the first collector", func() bool { countRecords(c1, &got1); return got1 > 0 })
	poll(t, "everything sent received", func() bool { countRecords(c1, &got1); return uint64(got1) == stats().RecordsSent })
	c1.Close()

	sendUDP(t, p1, p2, p2.v4, 4002, 5, 10)
	poll(t, "records counted lost while the collector is down", func() bool { return stats().RecordsLost > 0 })

	c2, err := collector.Listen(ctx, "tcp://127.0.0.1:"+strconv.Itoa(port), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	// Records due while podflow waits out its reconnect backoff are counted
	// lost, so keep new flows coming until one reaches the new collector.
	deadline := time.Now().Add(waitLimit)
	for port := uint16(4003); got2 == 0; port++ {
		if time.Now().After(deadline) {
			t.Fatal("no record reached the restarted collector")
		}
		sendUDP(t, p1, p2, p2.v4, port, 2, 10)
		wait := time.Now().Add(500 * time.Millisecond)
		for got2 == 0 && time.Now().Before(wait) {
			countRecords(c2, &got2)
			time.Sleep(10 * time.Millisecond) // polling the collector
		}
	}

	final := ag.stop(t)[url]
	poll(t, "all sent records received", func() bool { countRecords(c2, &got2); return uint64(got1+got2) >= final.RecordsSent })
	if uint64(got1+got2) != final.RecordsSent || final.RecordsLost == 0 || final.Reconnects == 0 {
		t.Fatalf("received %d+%d records; exporter sent %d, lost %d, reconnected %d times",
			got1, got2, final.RecordsSent, final.RecordsLost, final.Reconnects)
	}
	if s := c2.Stats(); s.DecodeErrors != 0 || s.RecordsMissing != 0 {
		t.Fatalf("restarted collector: %+v", s)
	}
}
