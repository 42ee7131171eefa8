package main

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/podflow/podflow/check"
	"github.com/podflow/podflow/config"
	"github.com/podflow/podflow/internal/privtest"
)

// fakeProbes returns probes that report results, and records the
// configuration they were built for.
func fakeProbes(got **config.Config, results ...check.Result) func(*config.Config) []check.Probe {
	return func(cfg *config.Config) []check.Probe {
		*got = cfg
		return []check.Probe{{Name: "fake", Run: func(context.Context) []check.Result { return results }}}
	}
}

var (
	okLoad     = check.Result{Name: "tc programs", Status: check.OK, Required: true, Detail: "loaded"}
	okAttach   = check.Result{Name: "attach", Status: check.OK, Required: true, Detail: "TCX links"}
	noRTT      = check.Result{Name: "tracepoint tcp_probe", Status: check.Unavailable, Feature: check.FeatureRTT, Detail: "load tcp_probe: gone", Effect: "RTT off; counters keep flowing"}
	failedLoad = check.Result{Name: "tc programs", Status: check.Unavailable, Required: true, Detail: "load flow programs: permission denied", Effect: check.EffectCannotRun}
)

func TestCheckAllOK(t *testing.T) {
	ta := newTestApp(t, nil)
	var cfg *config.Config
	if code := ta.checkWith([]string{"--kubeconfig", "/etc/kube.conf", "--max-flows", "2048"}, fakeProbes(&cfg, okLoad, okAttach)); code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, ta.stderr.String())
	}
	want := "STATUS       CHECK        DETAIL → EFFECT\n" +
		"ok           tc programs  loaded\n" +
		"ok           attach       TCX links\n" +
		"podflow can run: all 2 checks ok.\n"
	if ta.stdout.String() != want {
		t.Fatalf("stdout\n%s\nwant\n%s", ta.stdout.String(), want)
	}
	if cfg == nil || cfg.Kubeconfig != "/etc/kube.conf" || cfg.MaxFlows != 2048 {
		t.Fatalf("probes built for %+v", cfg)
	}
}

func TestCheckDegradedStillExitsZero(t *testing.T) {
	ta := newTestApp(t, map[string]string{"PODFLOW_TCP_RTT": "false"})
	var cfg *config.Config
	if code := ta.checkWith(nil, fakeProbes(&cfg, okLoad, okAttach, noRTT)); code != exitOK {
		t.Fatalf("exit %d, want 0", code)
	}
	want := "STATUS       CHECK                 DETAIL → EFFECT\n" +
		"ok           tc programs           loaded\n" +
		"ok           attach                TCX links\n" +
		"unavailable  tracepoint tcp_probe  load tcp_probe: gone → RTT off; counters keep flowing\n" +
		"podflow can run: 2 checks ok, 0 degraded, 1 unavailable.\n"
	if ta.stdout.String() != want {
		t.Fatalf("stdout\n%s\nwant\n%s", ta.stdout.String(), want)
	}
	if cfg.TCPRTT {
		t.Error("environment not applied to the configuration")
	}
}

func TestCheckLoadFailureExitsOne(t *testing.T) {
	ta := newTestApp(t, nil)
	var cfg *config.Config
	if code := ta.checkWith([]string{"--output=json"}, fakeProbes(&cfg, failedLoad, okAttach)); code != exitRuntime {
		t.Fatalf("exit %d, want %d", code, exitRuntime)
	}
	var got check.Report
	if err := json.Unmarshal(ta.stdout.Bytes(), &got); err != nil {
		t.Fatalf("%v:\n%s", err, ta.stdout.String())
	}
	want := check.Report{CanRun: false, Verdict: "podflow cannot run: tc programs unavailable.", Results: []check.Result{failedLoad, okAttach}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("report %+v, want %+v", got, want)
	}
}

func TestCheckOutputFlag(t *testing.T) {
	for _, args := range [][]string{{"--output", "json"}, {"-output", "json"}, {"--output=json"}} {
		ta := newTestApp(t, nil)
		var cfg *config.Config
		if code := ta.checkWith(args, fakeProbes(&cfg, okLoad)); code != exitOK {
			t.Fatalf("%q: exit %d, stderr %q", args, code, ta.stderr.String())
		}
		if !strings.HasPrefix(ta.stdout.String(), "{\n  \"can_run\": true,") {
			t.Errorf("%q: stdout %q", args, ta.stdout.String())
		}
	}
	cases := []struct {
		args   []string
		stderr string
	}{
		{[]string{"check", "--output", "xml"}, "podflow: --output: must be text or json, got \"xml\"\n"},
		{[]string{"check", "--output"}, "podflow: --output: needs a value: text or json\n"},
		{[]string{"check", "--mtu", "1"}, "podflow: --mtu: must be in 576..65535, got 1\n"},
		{[]string{"check", "extra"}, "podflow: unexpected argument \"extra\"\n"},
	}
	for _, tc := range cases {
		ta := newTestApp(t, nil)
		if code := ta.main(tc.args); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", tc.args, code, exitUsage)
		}
		if want := tc.stderr + "Run 'podflow help' for usage.\n"; ta.stderr.String() != want {
			t.Errorf("%q: stderr %q, want %q", tc.args, ta.stderr.String(), want)
		}
	}
}

func TestCheckHelp(t *testing.T) {
	ta := newTestApp(t, nil)
	if code := ta.main([]string{"check", "--help"}); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	if ta.stdout.String() != checkUsage {
		t.Fatalf("stdout %q", ta.stdout.String())
	}
	ta = newTestApp(t, nil)
	ta.main([]string{"help"})
	if !strings.Contains(ta.stdout.String(), "\n  podflow check [options]") {
		t.Fatalf("help lacks check:\n%s", ta.stdout.String())
	}
}

// The real probes through the command: this machine runs podflow.
func TestCheckOnThisMachine(t *testing.T) {
	privtest.Require(t)
	ta := newTestApp(t, nil)
	if code := ta.main([]string{"check", "--output", "json"}); code != exitOK {
		t.Fatalf("exit %d, stdout %s, stderr %q", code, ta.stdout.String(), ta.stderr.String())
	}
	var got check.Report
	if err := json.Unmarshal(ta.stdout.Bytes(), &got); err != nil {
		t.Fatalf("%v:\n%s", err, ta.stdout.String())
	}
	if !got.CanRun || len(got.Results) != 17 || got.Verdict != "podflow can run: 16 checks ok, 1 degraded, 0 unavailable." {
		t.Fatalf("report %+v", got)
	}
}
