package e2e

import (
	"context"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/vmware/go-ipfix/pkg/collector"
	"github.com/vmware/go-ipfix/pkg/entities"
	"github.com/vmware/go-ipfix/pkg/registry"
	"go.uber.org/zap/zaptest"

	"github.com/podflow/podflow/agent"
	"github.com/podflow/podflow/attach"
	"github.com/podflow/podflow/config"
	"github.com/podflow/podflow/exporter"
	"github.com/podflow/podflow/flow"
)

// waitLimit bounds every wait; no test asserts on timing.
const waitLimit = 20 * time.Second

func TestMain(m *testing.M) {
	registry.LoadRegistry() // before any collector goroutine reads it
	os.Exit(m.Run())
}

// running is podflow running in-process, attached to a test node.
type running struct {
	cancel   context.CancelFunc
	done     chan error
	watcher  *attach.Watcher
	fanout   *exporter.Fanout
	mu       sync.Mutex
	exported map[string]exporter.Stats
}

func startAgent(t *testing.T, n *node, mode config.Mode, collectors ...string) *running {
	t.Helper()
	return startAgentWith(t, n, func(cfg *config.Config) { cfg.Mode = mode }, collectors...)
}

// startAgentWith is startAgent with a configuration hook.
func startAgentWith(t *testing.T, n *node, tune func(*config.Config), collectors ...string) *running {
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
	cfg.PollInterval = 100 * time.Millisecond
	cfg.MaxFlows = 4096
	tune(cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1), exported: map[string]exporter.Stats{}}
	ready := make(chan *attach.Watcher, 1)
	fanout := make(chan *exporter.Fanout, 1)
	go func() {
		r.done <- agent.RunWith(ctx, cfg, zaptest.NewLogger(t), agent.Options{
			Attach:    func(c *attach.Config) { c.Netns = &n.ns.Handle },
			Ready:     func(w *attach.Watcher) { ready <- w },
			Exporters: func(f *exporter.Fanout) { fanout <- f },
			Exported: func(name string, s exporter.Stats) {
				r.mu.Lock()
				r.exported[name] = s
				r.mu.Unlock()
			},
		})
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

// ipfixCollector is go-ipfix's collector, in-process, decoding into
// podflow's record type.
type ipfixCollector struct {
	cp      *collector.CollectingProcess
	mu      sync.Mutex
	records []flow.Record
	seqErrs int
	nextSeq map[uint32]uint32
}

func startIPFIXCollector(t *testing.T, protocol string) *ipfixCollector {
	t.Helper()
	cp, err := collector.InitCollectingProcess(collector.CollectorInput{
		Address: "127.0.0.1:0", Protocol: protocol, MaxBufferSize: 65535,
	})
	if err != nil {
		t.Fatal(err)
	}
	c := &ipfixCollector{cp: cp, nextSeq: map[uint32]uint32{}}
	started, drained := make(chan struct{}), make(chan struct{})
	go func() { defer close(started); cp.Start() }()
	poll(t, "collector listening", func() bool { return cp.GetAddress() != nil })
	go func() {
		defer close(drained)
		for msg := range cp.GetMsgChan() {
			c.add(msg)
		}
	}()
	t.Cleanup(func() { cp.Stop(); <-started; <-drained })
	return c
}

func (c *ipfixCollector) url(scheme string) string {
	return scheme + "://" + c.cp.GetAddress().String()
}

func (c *ipfixCollector) add(msg *entities.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	set := msg.GetSet()
	if set.GetSetType() != entities.Data {
		return
	}
	// RFC 7011: the sequence number counts data records sent before it.
	if want, ok := c.nextSeq[msg.GetObsDomainID()]; ok && want != msg.GetSequenceNum() {
		c.seqErrs++
	}
	c.nextSeq[msg.GetObsDomainID()] = msg.GetSequenceNum() + set.GetNumberOfRecords()
	for _, rec := range set.GetRecords() {
		c.records = append(c.records, decode(rec))
	}
}

func (c *ipfixCollector) snapshot() ([]flow.Record, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]flow.Record(nil), c.records...), c.seqErrs
}

// decode maps one IPFIX data record back to a flow.Record by IE name.
func decode(rec entities.Record) flow.Record {
	var r flow.Record
	var in, out uint32
	for _, el := range rec.GetOrderedElementList() {
		switch el.GetInfoElement().Name {
		case "sourceIPv4Address", "sourceIPv6Address":
			r.SrcAddr, _ = netip.AddrFromSlice(el.GetIPAddressValue())
			r.SrcAddr = r.SrcAddr.Unmap()
		case "destinationIPv4Address", "destinationIPv6Address":
			r.DstAddr, _ = netip.AddrFromSlice(el.GetIPAddressValue())
			r.DstAddr = r.DstAddr.Unmap()
		case "sourceTransportPort":
			r.SrcPort = el.GetUnsigned16Value()
		case "destinationTransportPort":
			r.DstPort = el.GetUnsigned16Value()
		case "icmpTypeCodeIPv4", "icmpTypeCodeIPv6":
			if v := el.GetUnsigned16Value(); v != 0 {
				r.DstPort = v
			}
		case "protocolIdentifier":
			r.Proto = el.GetUnsigned8Value()
		case "octetDeltaCount":
			r.Octets = el.GetUnsigned64Value()
		case "packetDeltaCount":
			r.Packets = el.GetUnsigned64Value()
		case "tcpControlBits":
			r.TCPFlags = el.GetUnsigned16Value()
		case "flowStartMilliseconds":
			r.First = time.UnixMilli(int64(el.GetUnsigned64Value()))
		case "flowEndMilliseconds":
			r.Last = time.UnixMilli(int64(el.GetUnsigned64Value()))
		case "flowEndReason":
			r.EndReason = flow.EndReason(el.GetUnsigned8Value())
		case "ingressInterface":
			in = el.GetUnsigned32Value()
		case "egressInterface":
			out = el.GetUnsigned32Value()
		case "flowDirection":
			r.Direction = flow.Direction(el.GetUnsigned8Value())
		}
	}
	r.IfIndex = in
	if r.Direction == flow.Egress {
		r.IfIndex = out
	}
	return r
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
		t.Fatalf("%d sequence number errors", seqErrs)
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
