package ipfix

import (
	"context"
	"testing"
	"time"

	"github.com/podflow/podflow/collector"
)

// startPodflow runs podflow's own collector, closed by t's cleanup.
func startPodflow(t *testing.T, listen string, opts ...collector.ListenOption) *collector.Collector {
	t.Helper()
	c, err := collector.Listen(context.Background(), listen, nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// receiveRecords reads until done says the records so far are enough.
func receiveRecords(t *testing.T, c *collector.Collector, done func([]collector.Received) bool) []collector.Received {
	t.Helper()
	var got []collector.Received
	deadline := time.After(waitLimit)
	for !done(got) {
		select {
		case r, ok := <-c.Records():
			if !ok {
				t.Fatalf("collector closed after %d records", len(got))
			}
			got = append(got, r)
		case <-deadline:
			t.Fatalf("after %d records: timed out; collector stats %+v", len(got), c.Stats())
		}
	}
	return got
}

// byTemplate returns the records of one template id.
func byTemplate(recs []collector.Received, id uint16) []collector.Received {
	var out []collector.Received
	for _, r := range recs {
		if r.TemplateID == id {
			out = append(out, r)
		}
	}
	return out
}

func flowRecords(recs []collector.Received) []collector.Received {
	var out []collector.Received
	for _, r := range recs {
		if !r.Options {
			out = append(out, r)
		}
	}
	return out
}

// countTemplate returns a done function for receiveRecords: at least n
// records of template id.
func countTemplate(id uint16, n int) func([]collector.Received) bool {
	return func(recs []collector.Received) bool { return len(byTemplate(recs, id)) >= n }
}

// countFlows is countTemplate for flow records of any template.
func countFlows(n int) func([]collector.Received) bool {
	return func(recs []collector.Received) bool { return len(flowRecords(recs)) >= n }
}
