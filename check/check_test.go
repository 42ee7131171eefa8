package check

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func fixed(name string, rs ...Result) Probe {
	return Probe{Name: name, Run: func(context.Context) []Result { return rs }}
}

func TestRunConcatenatesInOrderAndBoundsEachProbe(t *testing.T) {
	stuck := make(chan struct{})
	t.Cleanup(func() { close(stuck) })
	probes := []Probe{
		fixed("a", Result{Name: "a1", Status: OK}, Result{Name: "a2", Status: Degraded}),
		{Name: "stuck", Required: true, Timeout: 20 * time.Millisecond, Run: func(context.Context) []Result {
			<-stuck // a syscall that ignores the context
			return nil
		}},
		fixed("b", Result{Name: "b", Status: OK}),
	}
	got := Run(context.Background(), probes)
	want := []Result{
		{Name: "a1", Status: OK},
		{Name: "a2", Status: Degraded},
		{Name: "stuck", Status: Unavailable, Required: true, Effect: EffectCannotRun,
			Detail: "no answer within 20ms: context deadline exceeded"},
		{Name: "b", Status: OK},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("results\n%+v\nwant\n%+v", got, want)
	}
	if CanRun(got) {
		t.Error("CanRun with a required probe that timed out")
	}
}

func TestCanRun(t *testing.T) {
	cases := []struct {
		results []Result
		want    bool
	}{
		{nil, true},
		{[]Result{{Status: OK, Required: true}, {Status: Unavailable}}, true},
		{[]Result{{Status: Degraded, Required: true}}, true},
		{[]Result{{Status: OK}, {Status: Unavailable, Required: true}}, false},
	}
	for i, tc := range cases {
		if got := CanRun(tc.results); got != tc.want {
			t.Errorf("case %d: CanRun %v, want %v", i, got, tc.want)
		}
	}
}

var sample = []Result{
	{Name: "tc programs", Status: OK, Required: true, Detail: "loaded"},
	{Name: "tracepoint tcp_probe", Status: Unavailable, Feature: FeatureRTT,
		Detail: "load tcp_probe: no such tracepoint\nverifier log line", Effect: "RTT off; counters keep flowing"},
	{Name: "kubernetes", Status: Degraded, Detail: "not in a cluster", Effect: EffectKubeOff},
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTable(&b, sample); err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"STATUS       CHECK                 DETAIL → EFFECT",
		"ok           tc programs           loaded",
		"unavailable  tracepoint tcp_probe  load tcp_probe: no such tracepoint … → RTT off; counters keep flowing",
		"degraded     kubernetes            not in a cluster → " + EffectKubeOff,
		"podflow can run: 1 checks ok, 1 degraded, 1 unavailable.",
		"",
	}, "\n")
	if b.String() != want {
		t.Fatalf("table\n%s\nwant\n%s", b.String(), want)
	}
}

func TestVerdict(t *testing.T) {
	cases := []struct {
		results []Result
		want    string
	}{
		{[]Result{{Status: OK}, {Status: OK}}, "podflow can run: all 2 checks ok."},
		{sample, "podflow can run: 1 checks ok, 1 degraded, 1 unavailable."},
		{[]Result{{Name: "tc programs", Status: Unavailable, Required: true}, {Name: "attach", Status: Unavailable, Required: true}},
			"podflow cannot run: tc programs, attach unavailable."},
	}
	for _, tc := range cases {
		if got := Verdict(tc.results); got != tc.want {
			t.Errorf("Verdict %q, want %q", got, tc.want)
		}
	}
}

func TestWriteJSONKeepsTheWholeDetail(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, sample); err != nil {
		t.Fatal(err)
	}
	var got Report
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("%v:\n%s", err, b.String())
	}
	want := Report{CanRun: true, Verdict: "podflow can run: 1 checks ok, 1 degraded, 1 unavailable.", Results: sample}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("report %+v, want %+v", got, want)
	}
	if !strings.Contains(b.String(), `"status": "unavailable",`) || !strings.Contains(b.String(), `"required": true`) ||
		!strings.Contains(b.String(), `"feature": "RTT"`) {
		t.Fatalf("JSON field names:\n%s", b.String())
	}
	b.Reset()
	if err := WriteJSON(&b, nil); err != nil {
		t.Fatal(err)
	}
	if want := "{\n  \"can_run\": true,\n  \"verdict\": \"podflow can run: all 0 checks ok.\",\n  \"results\": []\n}\n"; b.String() != want {
		t.Fatalf("empty report %q, want %q", b.String(), want)
	}
}
