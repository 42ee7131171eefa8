package e2e

import (
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/podflow/podflow/agent"
	"github.com/podflow/podflow/collector"
	"github.com/podflow/podflow/config"
	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/privtest"
)

// countingCollector is a UDP IPFIX collector that counts the datagrams and
// bytes its socket received before decoding them: what an exporter's
// messages_sent_total and bytes_sent_total must equal.
type countingCollector struct {
	conn     *net.UDPConn
	mu       sync.Mutex
	messages uint64
	bytes    uint64
	errs     []error
	records  []flow.Record // flow records only, not options records
}

func startCountingCollector(t *testing.T) *countingCollector {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	c := &countingCollector{conn: conn}
	done := make(chan struct{})
	go func() {
		defer close(done)
		decoders := map[string]*collector.Decoder{}
		buf := make([]byte, 65536)
		for {
			n, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				return // closed
			}
			d := decoders[from.String()]
			if d == nil {
				d = collector.NewDecoder(from.String())
				decoders[from.String()] = d
			}
			recs, err := d.Decode(buf[:n])
			c.mu.Lock()
			c.messages++
			c.bytes += uint64(n)
			if err != nil {
				c.errs = append(c.errs, err)
			}
			for _, r := range recs {
				if !r.Options {
					c.records = append(c.records, r.Record)
				}
			}
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		<-done
	})
	return c
}

func (c *countingCollector) url() string { return "ipfix+udp://" + c.conn.LocalAddr().String() }

type collectorCounts struct {
	messages, bytes uint64
	errs            []error
	records         []flow.Record
}

func (c *countingCollector) counts() collectorCounts {
	c.mu.Lock()
	defer c.mu.Unlock()
	return collectorCounts{c.messages, c.bytes, append([]error(nil), c.errs...), append([]flow.Record(nil), c.records...)}
}

// metricFamilies is one parsed /metrics answer.
type metricFamilies map[string]*dto.MetricFamily

func scrapeMetrics(t *testing.T, addr net.Addr) metricFamilies {
	t.Helper()
	resp, err := http.Get("http://" + addr.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// metric returns the sample of family name whose labels include the given
// name=value pairs.
func (s metricFamilies) metric(name string, labels ...string) *dto.Metric {
	f := s["podflow_"+name]
	if f == nil {
		return nil
	}
next:
	for _, m := range f.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.GetLabel() {
				found = found || (l.GetName() == labels[i] && l.GetValue() == labels[i+1])
			}
			if !found {
				continue next
			}
		}
		return m
	}
	return nil
}

// value is a counter's or gauge's value, or -1 when the sample is missing.
func (s metricFamilies) value(name string, labels ...string) float64 {
	m := s.metric(name, labels...)
	switch {
	case m == nil:
		return -1
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return -1
}

// fakePodsClient is a fake API server holding the test pods on node-a,
// created an hour ago so that every flow falls in their lifetime.
func fakePodsClient(pods ...*pod) *fake.Clientset {
	var objs []runtime.Object
	for i, p := range pods {
		objs = append(objs, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: fmt.Sprintf("app-%d", i), UID: types.UID(fmt.Sprintf("uid-%d", i)),
				CreationTimestamp: metav1.NewTime(time.Now().Add(-time.Hour))},
			Spec:   corev1.PodSpec{NodeName: "node-a", Containers: []corev1.Container{{Name: "main", Image: "example/app:1"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: p.v4.String(), PodIPs: []corev1.PodIP{{IP: p.v4.String()}}},
		})
	}
	return fake.NewClientset(objs...)
}

// issueMetrics are the self-telemetry the issue asks for, each with one
// sample that must be present (labels as name, value pairs).
var issueMetrics = []struct {
	what   string
	name   string
	typ    dto.MetricType
	labels []string // "collector" is filled in by the test
}{
	{"records exported per collector", "records_sent_total", dto.MetricType_COUNTER, []string{"collector"}},
	{"messages sent per collector", "messages_sent_total", dto.MetricType_COUNTER, []string{"collector"}},
	{"bytes sent", "bytes_sent_total", dto.MetricType_COUNTER, []string{"collector"}},
	{"send errors", "send_errors_total", dto.MetricType_COUNTER, []string{"collector"}},
	{"records not sent", "records_lost_total", dto.MetricType_COUNTER, []string{"collector"}},
	{"flows exported (finished) by reason", "flow_records_total", dto.MetricType_COUNTER, []string{"reason", "idle"}},
	{"flows held", "flows", dto.MetricType_GAUGE, nil},
	{"flows created", "flows_created_total", dto.MetricType_COUNTER, nil},
	{"flows over the table limit", "flows_over_limit_total", dto.MetricType_COUNTER, nil},
	{"map fill", "flow_map_entries", dto.MetricType_GAUGE, nil},
	{"map capacity", "flow_map_capacity", dto.MetricType_GAUGE, nil},
	{"tuple map fill", "tuple_map_entries", dto.MetricType_GAUGE, nil},
	{"tuple map capacity", "tuple_map_capacity", dto.MetricType_GAUGE, nil},
	{"map-full misses", "kernel_map_full_packets_total", dto.MetricType_COUNTER, nil},
	{"tuple map-full misses", "kernel_tuple_map_full_total", dto.MetricType_COUNTER, nil},
	{"drain duration", "drain_duration_seconds", dto.MetricType_HISTOGRAM, nil},
	{"cycle duration", "drain_cycle_duration_seconds", dto.MetricType_HISTOGRAM, nil},
	{"drain cycles", "drain_cycles_total", dto.MetricType_COUNTER, nil},
	{"drain errors", "drain_errors_total", dto.MetricType_COUNTER, nil},
	{"attached interfaces", "interfaces_attached", dto.MetricType_GAUGE, nil},
	{"attach errors", "attach_errors_total", dto.MetricType_COUNTER, nil},
	{"process enrichment hits", "process_lookups_total", dto.MetricType_COUNTER, []string{"result", "hit"}},
	{"process enrichment misses", "process_lookups_total", dto.MetricType_COUNTER, []string{"result", "miss"}},
	{"NAT enrichment hits", "nat_lookups_total", dto.MetricType_COUNTER, []string{"result", "hit"}},
	{"NAT enrichment misses", "nat_lookups_total", dto.MetricType_COUNTER, []string{"result", "miss"}},
	{"Kubernetes enrichment hits", "kube_lookups_total", dto.MetricType_COUNTER, []string{"result", "hit"}},
	{"Kubernetes enrichment misses", "kube_lookups_total", dto.MetricType_COUNTER, []string{"result", "miss"}},
	{"conntrack resyncs", "conntrack_resyncs_total", dto.MetricType_COUNTER, nil},
}

func httpStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// Traffic through a node, then a scrape once every flow has left the table
// and every message reached the collector: each metric the issue lists is
// there, and the exporter's counters equal what the collector's socket
// received and decoded.
func TestMetricsMatchWhatTheCollectorReceived(t *testing.T) {
	privtest.Require(t)
	n, p1, p2, p3 := newIPv4Node(t)
	col := startCountingCollector(t)
	metricsAddr := make(chan net.Addr, 1)
	ag := startAgentFull(t, n.ns, func(c *config.Config) {
		c.IdleTimeout = time.Second // flows leave soon after the traffic
		c.NodeName = "node-a"
	}, func(o *agent.Options) {
		o.Kube = fakePodsClient(p1, p2, p3)
		o.Metrics = func(a net.Addr) { metricsAddr <- a }
	}, col.url())
	var addr net.Addr
	select {
	case addr = <-metricsAddr: // told before Ready
	default:
		t.Fatal("podflow did not say where it serves /metrics")
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if code := httpStatus(t, "http://"+addr.String()+path); code != http.StatusOK {
			t.Errorf("%s once ready: %d", path, code)
		}
	}

	udp := sendUDP(t, p1, p2, p2.v4, 5301, 40, 100)
	tcp := sendTCP(t, p1, p3, p3.v4, 8301, 50_000)
	sent := []flow.Tuple{
		tuple(udp, netip.AddrPortFrom(p2.v4, 5301), flow.ProtoUDP),
		tuple(tcp.local, netip.AddrPortFrom(p3.v4, 8301), flow.ProtoTCP),
		tuple(tcp.local, netip.AddrPortFrom(p3.v4, 8301), flow.ProtoTCP).Reverse(),
	}

	// Settled: the table is empty, the exporter sent every record the
	// table produced, the collector received every message the exporter
	// sent, and nothing moved between two scrapes around reading it.
	colName := []string{"collector", col.url()}
	var m metricFamilies
	var got collectorCounts
	poll(t, "flows exported and received", func() bool {
		before := scrapeMetrics(t, addr)
		got = col.counts()
		m = scrapeMetrics(t, addr)
		var produced float64
		for r := flow.IdleTimeout; r <= flow.LackOfResources; r++ {
			produced += m.value("flow_records_total", "reason", r.String())
		}
		seen := map[flow.Tuple]bool{}
		for _, r := range got.records {
			seen[r.Tuple] = true
		}
		for _, tu := range sent {
			if !seen[tu] {
				return false
			}
		}
		for _, name := range []string{"messages_sent_total", "bytes_sent_total", "records_sent_total"} {
			if m.value(name, colName...) != before.value(name, colName...) {
				return false
			}
		}
		return m.value("flows") == 0 &&
			produced == m.value("records_sent_total", colName...)+m.value("records_lost_total", colName...) &&
			m.value("messages_sent_total", colName...) == float64(got.messages)
	})

	t.Logf("settled: collector decoded %d flow records in %d messages, %d bytes; %v drain cycles",
		len(got.records), got.messages, got.bytes, m.value("drain_cycles_total"))
	for _, r := range got.records {
		t.Logf("record %v if %d %v: %d packets, end %v", r.Tuple, r.IfIndex, r.Direction, r.Packets, r.EndReason)
	}

	for _, im := range issueMetrics {
		labels := im.labels
		if len(labels) == 1 {
			labels = []string{"collector", col.url()}
		}
		f := m["podflow_"+im.name]
		if f == nil || m.metric(im.name, labels...) == nil {
			t.Errorf("%s: podflow_%s%v missing", im.what, im.name, labels)
			continue
		}
		if f.GetType() != im.typ {
			t.Errorf("%s: podflow_%s is a %v, want %v", im.what, im.name, f.GetType(), im.typ)
		}
	}

	// The exporter's counters are what the collector's socket received.
	for _, c := range []struct {
		name string
		want uint64
	}{
		{"records_sent_total", uint64(len(got.records))},
		{"messages_sent_total", got.messages},
		{"bytes_sent_total", got.bytes},
		{"records_lost_total", 0},
		{"send_errors_total", 0},
	} {
		if v := m.value(c.name, colName...); v != float64(c.want) {
			t.Errorf("podflow_%s = %v, collector says %d", c.name, v, c.want)
		}
	}
	if len(got.errs) != 0 {
		t.Errorf("collector decode errors: %v", got.errs)
	}

	// The table's records by end reason are the collector's, and every
	// flow created was finished by exactly one of them.
	byReason := map[flow.EndReason]uint64{}
	for _, r := range got.records {
		byReason[r.EndReason]++
	}
	for r := flow.IdleTimeout; r <= flow.LackOfResources; r++ {
		if v := m.value("flow_records_total", "reason", r.String()); v != float64(byReason[r]) {
			t.Errorf("podflow_flow_records_total{reason=%q} = %v, collector decoded %d", r, v, byReason[r])
		}
	}
	if v := m.value("flows_over_limit_total"); v != 0 {
		t.Errorf("podflow_flows_over_limit_total = %v under the table limit", v)
	}
	finished := uint64(len(got.records)) - byReason[flow.ActiveTimeout]
	if v := m.value("flows_created_total"); v != float64(finished) || v < float64(len(sent)) {
		t.Errorf("podflow_flows_created_total = %v, collector decoded %d finished flows (at least %d sent)", v, finished, len(sent))
	}

	// Enrichment: both ends of every record looked up by IP (hits: the
	// pods' addresses; the bridge's own IGMP report to 224.0.0.22, which
	// sometimes falls in the test, misses twice), every record once for
	// NAT, both ends of TCP/UDP records for a process.
	podIPs := map[netip.Addr]bool{p1.v4: true, p2.v4: true, p3.v4: true}
	var podEnds, l4Records float64
	for _, r := range got.records {
		for _, a := range []netip.Addr{r.SrcAddr, r.DstAddr} {
			if podIPs[a] {
				podEnds++
			}
		}
		if r.Proto == flow.ProtoTCP || r.Proto == flow.ProtoUDP {
			l4Records++
		}
	}
	records := float64(len(got.records))
	for _, c := range []struct {
		what      string
		got, want float64
	}{
		{"kube hits", m.value("kube_lookups_total", "result", "hit"), podEnds},
		{"kube misses", m.value("kube_lookups_total", "result", "miss"), 2*records - podEnds},
		{"kube pods", m.value("kube_pods"), 3},
		{"NAT lookups", m.value("nat_lookups_total", "result", "hit") + m.value("nat_lookups_total", "result", "miss"), records},
		{"process lookups", m.value("process_lookups_total", "result", "hit") + m.value("process_lookups_total", "result", "miss"), 2 * l4Records},
		{"records left to another node", m.value("records_exported_elsewhere_total"), 0},
		{"conntrack resyncs", m.value("conntrack_resyncs_total"), 0},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
		}
	}

	// Datapath: the three pods' veths, room for every flow, an idle map.
	attached := len(ag.watcher.Attached())
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"interfaces_attached", m.value("interfaces_attached"), 3},
		{"interfaces_attached (the watcher's own list)", m.value("interfaces_attached"), float64(attached)},
		{"attach_errors_total", m.value("attach_errors_total"), 0},
		{"flow_map_capacity", m.value("flow_map_capacity"), 4096}, // startAgentFull's cfg.MaxFlows
		{"tuple_map_capacity", m.value("tuple_map_capacity"), 4096},
		{"flow_map_entries", m.value("flow_map_entries"), 0}, // nothing moved in the last poll interval
		{"kernel_map_full_packets_total", m.value("kernel_map_full_packets_total"), 0},
		{"drain_errors_total", m.value("drain_errors_total"), 0},
	} {
		if c.got != c.want {
			t.Errorf("podflow_%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if v := m.value("tuple_map_entries"); v < 0 || v > 4096 { // the tracepoints see the whole machine
		t.Errorf("podflow_tuple_map_entries = %v, want 0..4096", v)
	}

	// One observation of each histogram per cycle, read from the same
	// snapshot as the cycle counter.
	cycles := m.value("drain_cycles_total")
	if cycles <= 0 {
		t.Errorf("podflow_drain_cycles_total = %v", cycles)
	}
	for _, name := range []string{"drain_duration_seconds", "drain_cycle_duration_seconds"} {
		h := m.metric(name).GetHistogram()
		if h == nil {
			continue // reported missing above
		}
		if float64(h.GetSampleCount()) != cycles {
			t.Errorf("podflow_%s_count = %d, podflow_drain_cycles_total = %v", name, h.GetSampleCount(), cycles)
		}
		bs := h.GetBucket() // the loop's bounds, then +Inf
		if len(bs) != len(flow.DurationBuckets)+1 || !math.IsInf(bs[len(bs)-1].GetUpperBound(), 1) || bs[len(bs)-1].GetCumulativeCount() != h.GetSampleCount() {
			t.Errorf("podflow_%s: buckets %v, want %d bounds and +Inf holding all %d", name, bs, len(flow.DurationBuckets), h.GetSampleCount())
			continue
		}
		prev := uint64(0)
		for i, b := range bs[:len(flow.DurationBuckets)] {
			if b.GetUpperBound() != flow.DurationBuckets[i].Seconds() || b.GetCumulativeCount() < prev || b.GetCumulativeCount() > h.GetSampleCount() {
				t.Errorf("podflow_%s bucket %d: le=%v count %d (previous %d, total %d)", name, i, b.GetUpperBound(), b.GetCumulativeCount(), prev, h.GetSampleCount())
			}
			prev = b.GetCumulativeCount()
		}
	}
}
