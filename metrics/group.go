package metrics

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Histogram is a histogram's state at one scrape, as its owner keeps it.
type Histogram struct {
	Count   uint64
	Sum     float64
	Buckets map[float64]uint64 // upper bound → observations at or below it (cumulative)
}

// Metric is one metric of a Group, read from the group's snapshot S.
// Exactly one of Counter, Gauge and Histogram is set.
type Metric[S any] struct {
	Name, Help string
	Labels     prometheus.Labels
	Counter    func(S) float64
	Gauge      func(S) float64
	Histogram  func(S) Histogram
}

// Group registers metrics read from one snapshot per scrape: read runs once
// per scrape and every metric takes its value from that one result, so
// figures that must agree (a histogram's count and a cycle counter) agree
// in every scrape even while the stage keeps counting.
func Group[S any](r *Registry, read func() S, ms ...Metric[S]) {
	g := &group[S]{read: read, metrics: ms}
	for _, m := range ms {
		set := 0
		for _, f := range []bool{m.Counter != nil, m.Gauge != nil, m.Histogram != nil} {
			if f {
				set++
			}
		}
		if set != 1 {
			panic(fmt.Sprintf("metrics: %s: set exactly one of Counter, Gauge and Histogram", m.Name))
		}
		g.descs = append(g.descs, prometheus.NewDesc(prometheus.BuildFQName("podflow", "", m.Name), m.Help, nil, m.Labels))
	}
	r.reg.MustRegister(g)
}

// Histogram registers a histogram read from f at scrape time.
func (r *Registry) Histogram(name, help string, labels prometheus.Labels, f func() Histogram) {
	Group(r, f, Metric[Histogram]{Name: name, Help: help, Labels: labels, Histogram: func(h Histogram) Histogram { return h }})
}

// group is the prometheus.Collector behind Group.
type group[S any] struct {
	read    func() S
	metrics []Metric[S]
	descs   []*prometheus.Desc
}

func (g *group[S]) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range g.descs {
		ch <- d
	}
}

func (g *group[S]) Collect(ch chan<- prometheus.Metric) {
	s := g.read()
	for i, m := range g.metrics {
		switch {
		case m.Counter != nil:
			ch <- prometheus.MustNewConstMetric(g.descs[i], prometheus.CounterValue, m.Counter(s))
		case m.Gauge != nil:
			ch <- prometheus.MustNewConstMetric(g.descs[i], prometheus.GaugeValue, m.Gauge(s))
		default:
			h := m.Histogram(s)
			ch <- prometheus.MustNewConstHistogram(g.descs[i], h.Count, h.Sum, h.Buckets)
		}
	}
}
