package e2e

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/podflow/podflow/agent"
	"github.com/podflow/podflow/attach"
	"github.com/podflow/podflow/collector"
	"github.com/podflow/podflow/config"
	"github.com/podflow/podflow/exporter"
	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/netnstest"
)

// pollInterval is the agents' drain interval in these tests: exported times
// are checked against a reference within one of it.
const pollInterval = 100 * time.Millisecond

// waitLimit bounds every wait; no test asserts on timing.
const waitLimit = 20 * time.Second

// running is podflow running in-process, attached to a test node.
type running struct {
	cancel   context.CancelFunc
	done     chan error
	watcher  *attach.Watcher
	fanout   *exporter.Fanout
	mu       sync.Mutex
	exported map[string]exporter.Stats
	logs     *observer.ObservedLogs // everything podflow logged at info and above
}

func startAgent(t *testing.T, n *node, mode config.Mode, collectors ...string) *running {
	t.Helper()
	return startAgentWith(t, n, func(cfg *config.Config) { cfg.Mode = mode }, collectors...)
}

// startAgentWith is startAgent with a configuration hook.
func startAgentWith(t *testing.T, n *node, tune func(*config.Config), collectors ...string) *running {
	t.Helper()
	return startAgentIn(t, n.ns, tune, collectors...)
}

// startAgentIn runs podflow attached to the interfaces of network namespace
// ns (its tracepoints see every namespace, as on a real node).
func startAgentIn(t *testing.T, ns *netnstest.Netns, tune func(*config.Config), collectors ...string) *running {
	t.Helper()
	return startAgentFull(t, ns, tune, nil, collectors...)
}

// startAgentFull is startAgentIn with a hook on the agent's test options.
func startAgentFull(t *testing.T, ns *netnstest.Netns, tune func(*config.Config), hook func(*agent.Options), collectors ...string) *running {
	t.Helper()
	cfg := config.Defaults()
	cfg.Collectors = nil
	for _, c := range collectors {
		col, err := config.ParseCollector(c)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Collectors = append(cfg.Collectors, col)
	}
	cfg.PollInterval = pollInterval
	cfg.MaxFlows = 4096
	cfg.MetricsListen = "127.0.0.1:0" // tests run side by side
	tune(cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1), exported: map[string]exporter.Stats{}}
	observed, logs := observer.New(zapcore.InfoLevel)
	r.logs = logs
	logger := zap.New(zapcore.NewTee(zaptest.NewLogger(t).Core(), observed))
	ready := make(chan *attach.Watcher, 1)
	fanout := make(chan *exporter.Fanout, 1)
	go func() {
		opts := agent.Options{
			Attach:    func(c *attach.Config) { c.Netns = &ns.Handle },
			Ready:     func(w *attach.Watcher) { ready <- w },
			Exporters: func(f *exporter.Fanout) { fanout <- f },
			Exported: func(name string, s exporter.Stats) {
				r.mu.Lock()
				r.exported[name] = s
				r.mu.Unlock()
			},
		}
		if hook != nil {
			hook(&opts)
		}
		r.done <- agent.RunWith(ctx, cfg, logger, opts)
	}()
	select {
	case r.watcher = <-ready:
		r.fanout = <-fanout // handed over before the watcher starts
	case err := <-r.done:
		t.Fatalf("podflow exited before it was ready: %v", err)
	case <-time.After(waitLimit):
		cancel()
		t.Fatal("podflow not ready")
	}
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop shuts podflow down (detach, last drain, forced end, close) and
// returns each collector's totals.
func (r *running) stop(t *testing.T) map[string]exporter.Stats {
	t.Helper()
	if r.cancel == nil {
		return r.exported
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("podflow: %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("podflow did not stop")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.exported
}

// ipfixCollector is podflow's own collector, in-process. (go-ipfix's
// collector cannot decode enterprise elements of a PEN it does not know,
// and podflow sends its own; nfdump and tshark are the independent
// decoders of these tests.)
type ipfixCollector struct {
	c         *collector.Collector
	mu        sync.Mutex
	records   []flow.Record
	templates []uint16 // template id of each record
	sampling  []uint32 // the sampling interval announced before each record (0: none)
}

// startIPFIXCollector listens on protocol (udp, tcp, or tls with
// collector.WithTLS among opts) on the loopback.
func startIPFIXCollector(t *testing.T, protocol string, opts ...collector.ListenOption) *ipfixCollector {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c, err := collector.Listen(ctx, protocol+"://127.0.0.1:0", nil, opts...)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ic := &ipfixCollector{c: c}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for r := range c.Records() {
			if r.Options { // exporter statistics, interface names, type records: not flows
				continue
			}
			ic.mu.Lock()
			ic.records = append(ic.records, r.Record)
			ic.templates = append(ic.templates, r.TemplateID)
			ic.sampling = append(ic.sampling, r.SamplingInterval)
			ic.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		if err := c.Close(); err != nil {
			t.Errorf("close collector: %v", err)
		}
		<-drained
	})
	return ic
}

func (c *ipfixCollector) url(scheme string) string {
	return scheme + "://" + c.c.Addr().String()
}

// templatesOf returns the template ids of the records of tu, in arrival order.
func (c *ipfixCollector) templatesOf(tu flow.Tuple) []uint16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ids []uint16
	for i, r := range c.records {
		if r.Tuple == tu {
			ids = append(ids, c.templates[i])
		}
	}
	return ids
}

// samplingIntervals returns the sampling interval each record arrived
// under, in arrival order.
func (c *ipfixCollector) samplingIntervals() []uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]uint32(nil), c.sampling...)
}

// snapshot returns the records so far and the sequence and decoding errors
// the collector counted.
func (c *ipfixCollector) snapshot() ([]flow.Record, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.c.Stats()
	return append([]flow.Record(nil), c.records...), int(s.RecordsMissing + s.DecodeErrors)
}

func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, not synchronising on time
	}
}

// waitRecords waits until the collector holds n records.
func (c *ipfixCollector) waitRecords(t *testing.T, n uint64) []flow.Record {
	t.Helper()
	poll(t, "records at the collector", func() bool {
		recs, _ := c.snapshot()
		return uint64(len(recs)) >= n
	})
	recs, seqErrs := c.snapshot()
	if uint64(len(recs)) != n {
		t.Fatalf("collector has %d records, exporter sent %d", len(recs), n)
	}
	if seqErrs != 0 {
		t.Fatalf("%d sequence number or decoding errors", seqErrs)
	}
	return recs
}

// sumByKey adds up the records of each flow and observation point.
func sumByKey(recs []flow.Record) map[flow.Key]flow.Counters {
	out := map[flow.Key]flow.Counters{}
	for _, r := range recs {
		c := out[r.Key]
		c.Add(r.Counters)
		out[r.Key] = c
	}
	return out
}
