package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func scrape(t *testing.T, r *Registry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d", rec.Code)
	}
	b, err := io.ReadAll(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func wantLines(t *testing.T, body string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(body, l+"\n") {
			t.Errorf("scrape lacks %q", l)
		}
	}
}

func TestHistogramExposition(t *testing.T) {
	r := New()
	r.Histogram("wait_seconds", "a wait", prometheus.Labels{"stage": "drain"}, func() Histogram {
		return Histogram{Count: 3, Sum: 1.5, Buckets: map[float64]uint64{0.001: 1, 0.1: 1, 1: 2}}
	})
	wantLines(t, scrape(t, r),
		"# TYPE podflow_wait_seconds histogram",
		`podflow_wait_seconds_bucket{stage="drain",le="0.001"} 1`,
		`podflow_wait_seconds_bucket{stage="drain",le="0.1"} 1`,
		`podflow_wait_seconds_bucket{stage="drain",le="1"} 2`,
		`podflow_wait_seconds_bucket{stage="drain",le="+Inf"} 3`,
		`podflow_wait_seconds_sum{stage="drain"} 1.5`,
		`podflow_wait_seconds_count{stage="drain"} 3`)
}

// A group's metrics come from one read per scrape: the cycle counter and the
// histogram's count agree even though the stage moves on between reads.
func TestGroupReadsOneSnapshotPerScrape(t *testing.T) {
	type snap struct{ cycles, level uint64 }
	var s snap
	reads := 0
	r := New()
	Group(r, func() snap { reads++; s.cycles++; s.level += 10; return s },
		Metric[snap]{Name: "cycles_total", Help: "cycles", Counter: func(s snap) float64 { return float64(s.cycles) }},
		Metric[snap]{Name: "level", Help: "level", Gauge: func(s snap) float64 { return float64(s.level) }},
		Metric[snap]{Name: "took_seconds", Help: "took", Histogram: func(s snap) Histogram {
			return Histogram{Count: s.cycles, Sum: 0.5, Buckets: map[float64]uint64{1: s.cycles}}
		}})
	wantLines(t, scrape(t, r),
		"# TYPE podflow_cycles_total counter", "podflow_cycles_total 1",
		"# TYPE podflow_level gauge", "podflow_level 10",
		"podflow_took_seconds_count 1", `podflow_took_seconds_bucket{le="1"} 1`)
	wantLines(t, scrape(t, r), "podflow_cycles_total 2", "podflow_level 20", "podflow_took_seconds_count 2")
	if reads != 2 {
		t.Errorf("%d reads for 2 scrapes, want 2", reads)
	}
}

func TestGroupRejectsAMetricWithoutExactlyOneKind(t *testing.T) {
	for _, m := range []Metric[int]{
		{Name: "none", Help: "h"},
		{Name: "two", Help: "h", Counter: func(int) float64 { return 0 }, Gauge: func(int) float64 { return 0 }},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: registered", m.Name)
				}
			}()
			Group(New(), func() int { return 0 }, m)
		}()
	}
}
