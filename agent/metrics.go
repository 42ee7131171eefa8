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
func registerMetrics(m *metrics.Registry, objs *bpf.Objects, events *bpf.Events, table *flow.Table,
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
	m.Counter("tuple_measurements_unmatched_total", "socket and drop measurements of tuples no flow holds", nil,
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
