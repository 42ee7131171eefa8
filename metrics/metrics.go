// Package metrics publishes podflow's own counters for Prometheus: every
// figure is read from the stage that owns it at scrape time (the stages
// keep plain counters; nothing is counted twice), served on /metrics with
// /healthz and /readyz beside it.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// Registry holds podflow's metrics. Stages add theirs with the helpers
// below as they start; a stage that is off adds none.
type Registry struct {
	reg   *prometheus.Registry
	ready atomic.Bool
}

// New returns a registry with the Go runtime and process collectors.
func New() *Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Registry{reg: reg}
}

// SetReady marks podflow ready (every selected interface attached): /readyz
// answers 200 from then on.
func (r *Registry) SetReady(ready bool) { r.ready.Store(ready) }

// Counter registers a counter read from f at scrape time.
func (r *Registry) Counter(name, help string, labels prometheus.Labels, f func() float64) {
	r.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: "podflow", Name: name, Help: help, ConstLabels: labels}, f))
}

// Gauge registers a gauge read from f at scrape time.
func (r *Registry) Gauge(name, help string, labels prometheus.Labels, f func() float64) {
	r.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "podflow", Name: name, Help: help, ConstLabels: labels}, f))
}

// Handler serves /metrics, /healthz (the process is up) and /readyz.
func (r *Registry) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !r.ready.Load() {
			http.Error(w, "not ready: interfaces not attached yet", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}

// Serve listens on addr and serves until ctx is done. It returns the bound
// address once listening (port 0 picks a free one); errors after that are
// logged.
func (r *Registry) Serve(ctx context.Context, addr string, log *zap.Logger) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: r.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("metrics server stopped", zap.Error(err))
		}
	}()
	context.AfterFunc(ctx, func() {
		shutdown, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	})
	return ln.Addr(), nil
}
