package agent

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/podflow/podflow/attach"
	"github.com/podflow/podflow/bpf"
	"github.com/podflow/podflow/enrich/conntrack"
	"github.com/podflow/podflow/enrich/kube"
	"github.com/podflow/podflow/enrich/owners"
	"github.com/podflow/podflow/exporter"
	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/metrics"
)

// registerMetrics publishes the counters every stage already keeps. Each is
// read at scrape time from its owner; nil stages (off) publish nothing.
func registerMetrics(m *metrics.Registry, objs *bpf.Objects, events *bpf.Events, table *flow.Table, loop *flow.Loop,
	sink *exporter.Fanout, owned *owners.Table, nat *conntrack.Table) {
	for i := range sink.Exporters {
		l := prometheus.Labels{"collector": sink.Names[i]}
		stat := func(f func(exporter.Stats) uint64) func() float64 {
			return func() float64 { return float64(f(sink.Stats(i))) }
		}
		m.Counter("records_sent_total", "flow records sent to the collector", l, stat(func(s exporter.Stats) uint64 { return s.RecordsSent }))
		m.Counter("records_lost_total", "flow records that could not be sent to the collector", l, stat(func(s exporter.Stats) uint64 { return s.RecordsLost }))
		m.Counter("messages_sent_total", "export messages sent", l, stat(func(s exporter.Stats) uint64 { return s.MessagesSent }))
		m.Counter("bytes_sent_total", "export bytes sent", l, stat(func(s exporter.Stats) uint64 { return s.BytesSent }))
		m.Counter("send_errors_total", "failed sends", l, stat(func(s exporter.Stats) uint64 { return s.SendErrors }))
		m.Counter("reconnects_total", "reconnections to the collector", l, stat(func(s exporter.Stats) uint64 { return s.Reconnects }))
	}
	m.Gauge("flows", "flows held in the flow table", nil, func() float64 { return float64(table.Stats().Flows) })
	m.Counter("flows_created_total", "flows that entered the flow table", nil, func() float64 { return float64(table.Stats().FlowsCreated) })
	m.Counter("flows_over_limit_total", "new flows exported at once (flowEndReason 5) because the flow table held --max-table-flows", nil,
		func() float64 { return float64(table.Stats().OverMaxFlows) })
	for reason := flow.IdleTimeout; reason <= flow.LackOfResources; reason++ {
		m.Counter("flow_records_total", "flow records the flow table produced, by flowEndReason (all but active: flows finished)",
			prometheus.Labels{"reason": reason.String()}, func() float64 { return float64(table.Stats().RecordsByReason[reason]) })
	}
	registerLoopMetrics(m, loop, objs, events)
	m.Counter("tuple_measurements_unmatched_total", "socket and drop measurements whose tuple no flow held in their drain nor in the next", nil,
		func() float64 { return float64(table.Stats().UnmatchedTuples) })
	for i, name := range bpf.StatNames {
		m.Counter("kernel_"+name+"_total", "kernel counter "+name, nil, func() float64 {
			s, err := objs.Stats()
			if err != nil {
				return 0
			}
			return float64(s[i])
		})
	}
	if events != nil {
		for i, name := range bpf.EventStatNames {
			m.Counter("kernel_"+name+"_total", "tracepoint counter "+name, nil, func() float64 {
				s, err := events.Stats()
				if err != nil {
					return 0
				}
				return float64(s[i])
			})
		}
	}
	if owned != nil {
		m.Gauge("process_endpoints", "local endpoints with a known owning process", nil, func() float64 { return float64(owned.Stats().Entries) })
		for _, r := range []struct {
			result string
			f      func(owners.Stats) uint64
		}{{"hit", func(s owners.Stats) uint64 { return s.Hits }}, {"miss", func(s owners.Stats) uint64 { return s.Misses }},
			{"ambiguous", func(s owners.Stats) uint64 { return s.Ambiguous }}} {
			m.Counter("process_lookups_total", "flow ends looked up for their process", prometheus.Labels{"result": r.result},
				func() float64 { return float64(r.f(owned.Stats())) })
		}
	}
	if nat != nil {
		m.Gauge("conntrack_entries", "translated connections mirrored from conntrack", nil, func() float64 { return float64(nat.Stats().Entries) })
		m.Counter("conntrack_events_total", "conntrack events applied", nil, func() float64 { return float64(nat.Stats().Events) })
		m.Counter("conntrack_overruns_total", "conntrack event socket overruns (events lost, ENOBUFS)", nil, func() float64 { return float64(nat.Stats().Overruns) })
		m.Counter("conntrack_resyncs_total", "conntrack table dumps after lost events", nil, func() float64 { return float64(nat.Stats().Resyncs) })
		m.Counter("nat_lookups_total", "flow records looked up for NAT", prometheus.Labels{"result": "hit"}, func() float64 { return float64(nat.Stats().Hits) })
		m.Counter("nat_lookups_total", "flow records looked up for NAT", prometheus.Labels{"result": "miss"}, func() float64 { return float64(nat.Stats().Misses) })
	}
}

// registerKubeMetrics publishes the Kubernetes stage's counters.
func registerKubeMetrics(m *metrics.Registry, w *kube.Watcher, loop *flow.Loop) {
	m.Gauge("kube_pods", "pods held by the Kubernetes stage", nil, func() float64 { return float64(w.Stats().Pods) })
	m.Counter("kube_lookups_total", "flow ends looked up by IP", prometheus.Labels{"result": "hit"}, func() float64 { return float64(w.Stats().Hits) })
	m.Counter("kube_lookups_total", "flow ends looked up by IP", prometheus.Labels{"result": "miss"}, func() float64 { return float64(w.Stats().Misses) })
	m.Counter("records_exported_elsewhere_total", "inter-node flow records left to the source pod's node (once per cluster)", nil,
		func() float64 { return float64(loop.Skipped()) })
}

// registerWatcherMetrics publishes the interface watcher's counters.
func registerWatcherMetrics(m *metrics.Registry, w *attach.Watcher) {
	m.Gauge("interfaces_attached", "interfaces podflow's programs are attached to", nil, func() float64 { return float64(w.Stats().Attached) })
	m.Counter("attach_errors_total", "failed interface attaches", nil, func() float64 { return float64(w.Stats().AttachErrors) })
}

// registerLoopMetrics publishes the drain loop's cycles and durations and
// how full the kernel maps get, all read from one snapshot per scrape (the
// histograms' counts equal the cycle counter in every scrape).
func registerLoopMetrics(m *metrics.Registry, loop *flow.Loop, objs *bpf.Objects, events *bpf.Events) {
	type stat = metrics.Metric[flow.LoopStats]
	ms := []stat{
		{Name: "drain_cycles_total", Help: "drain cycles run: drain the kernel maps, update the flow table, export what is due",
			Counter: func(s flow.LoopStats) float64 { return float64(s.Cycles) }},
		{Name: "drain_errors_total", Help: "drain cycles whose drain of a kernel map failed",
			Counter: func(s flow.LoopStats) float64 { return float64(s.DrainErrors) }},
		{Name: "drain_duration_seconds", Help: "time each cycle took to drain the kernel maps (swap, batch lookup and delete, per-CPU merge)",
			Histogram: func(s flow.LoopStats) metrics.Histogram { return durationHistogram(s.Drain) }},
		{Name: "drain_cycle_duration_seconds", Help: "time each whole cycle took: drain, flow table, enrichment, hand-off to the exporters' queues",
			Histogram: func(s flow.LoopStats) metrics.Histogram { return durationHistogram(s.Cycle) }},
		{Name: "flow_map_entries", Help: "entries the last cycle drained from the kernel flow map: how full it got in one poll interval",
			Gauge: func(s flow.LoopStats) float64 { return float64(s.FlowEntries) }},
	}
	if events != nil {
		ms = append(ms, stat{Name: "tuple_map_entries", Help: "entries the last cycle drained from the kernel socket and drop measurement map",
			Gauge: func(s flow.LoopStats) float64 { return float64(s.TupleEntries) }})
	}
	metrics.Group(m, loop.Stats, ms...)
	flows := float64(objs.FlowsA.MaxEntries())
	m.Gauge("flow_map_capacity", "entries the kernel flow map holds (--max-flows); new flows beyond it are counted in kernel_map_full_packets_total", nil,
		func() float64 { return flows })
	if events != nil {
		tuples := float64(events.TuplesA.MaxEntries())
		m.Gauge("tuple_map_capacity", "entries the kernel measurement map holds; tuples beyond it are counted in kernel_tuple_map_full_total", nil,
			func() float64 { return tuples })
	}
}

// durationHistogram converts the loop's histogram to Prometheus's
// cumulative buckets in seconds.
func durationHistogram(h flow.DurationHistogram) metrics.Histogram {
	buckets := make(map[float64]uint64, len(flow.DurationBuckets))
	var below uint64
	for i, bound := range flow.DurationBuckets {
		below += h.Counts[i]
		buckets[bound.Seconds()] = below
	}
	return metrics.Histogram{Count: h.Count, Sum: h.Sum.Seconds(), Buckets: buckets}
}
