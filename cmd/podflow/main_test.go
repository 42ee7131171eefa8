package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"k8s.io/klog/v2"

	"github.com/podflow/podflow/collector"
	"github.com/podflow/podflow/config"
	"github.com/podflow/podflow/logging"
)

// testApp is an app with fakes that fail the test if the agent or the
// collector runs unexpectedly; tests replace them when they should run.
type testApp struct {
	app
	stdout, stderr, logs bytes.Buffer
}

func newTestApp(t *testing.T, env map[string]string) *testApp {
	t.Helper()
	ta := &testApp{}
	ta.app = app{
		stdout:    &ta.stdout,
		stderr:    &ta.stderr,
		lookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		newLogger: func(level string) (*zap.Logger, error) { return logging.NewTo(&ta.logs, level) },
		runAgent: func(context.Context, *config.Config, *zap.Logger) error {
			t.Error("agent ran")
			return nil
		},
		runCollector: func(context.Context, collector.Options) error {
			t.Error("collector ran")
			return nil
		},
	}
	t.Cleanup(klog.ClearLogger)
	return ta
}

// logMessages returns the msg of every JSON log line.
func (ta *testApp) logMessages(t *testing.T) []string {
	t.Helper()
	var msgs []string
	sc := bufio.NewScanner(bytes.NewReader(ta.logs.Bytes()))
	for sc.Scan() {
		var m struct{ Msg string }
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		msgs = append(msgs, m.Msg)
	}
	return msgs
}

func TestVersion(t *testing.T) {
	ta := newTestApp(t, nil)
	if code := ta.main([]string{"version"}); code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, ta.stderr.String())
	}
	if got, want := ta.stdout.String(), config.VersionString()+"\n"; got != want {
		t.Fatalf("stdout %q, want %q", got, want)
	}
	ta = newTestApp(t, nil)
	if code := ta.main([]string{"version", "extra"}); code != exitUsage {
		t.Fatalf("version extra: exit %d, want %d", code, exitUsage)
	}
}

func TestHelpExitsZero(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"run", "--help"}, {"collect", "-h"}} {
		ta := newTestApp(t, nil)
		if code := ta.main(args); code != exitOK {
			t.Errorf("%q: exit %d, stderr %q", args, code, ta.stderr.String())
		}
		if !strings.Contains(ta.stdout.String(), "--listen URL") {
			t.Errorf("%q: help lacks the collect options:\n%s", args, ta.stdout.String())
		}
	}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	cases := []struct {
		args   []string
		env    map[string]string
		stderr string
	}{
		{[]string{"bogus"}, nil, "podflow: unknown command \"bogus\"\n"},
		{[]string{"--active-timeout", "bogus"}, nil,
			"podflow: --active-timeout: invalid duration \"bogus\" (want e.g. 30s, 5m) (from command line)\n"},
		{[]string{"run", "--mtu", "100", "--log-level", "loud"}, nil,
			"podflow: --mtu: must be in 576..65535, got 100\npodflow: --log-level: must be one of debug, info, warn, error, got \"loud\"\n"},
		{nil, map[string]string{"PODFLOW_COLLECTOR": "ipfix+udp://a"}, "podflow: --collector: collector URL \"ipfix+udp://a\": " +
			"want HOST:PORT after ipfix+udp://: address a: missing port in address (from env PODFLOW_COLLECTOR)\n"},
		{[]string{"collect", "--listen", "http://x:1", "--format", "xml", "--log-level", "loud", "extra"}, nil,
			"podflow: unexpected argument \"extra\"\n" +
				"podflow: --listen: \"http://x:1\": want udp://HOST:PORT or tcp://HOST:PORT\n" +
				"podflow: --format: must be json or text, got \"xml\"\n" +
				"podflow: --log-level: unknown log level \"loud\", want debug, info, warn or error\n"},
		{[]string{"collect", "--listen", "udp://127.0.0.1"}, nil,
			"podflow: --listen: \"udp://127.0.0.1\": address 127.0.0.1: missing port in address\n"},
		{[]string{"collect", "--listen", "udp://127.0.0.1:x1"}, nil,
			"podflow: --listen: parse \"udp://127.0.0.1:x1\": invalid port \":x1\" after host\n"},
		{[]string{"collect", "--nope"}, nil, "podflow: flag provided but not defined: -nope\n"},
	}
	for _, tc := range cases {
		ta := newTestApp(t, tc.env)
		if code := ta.main(tc.args); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", tc.args, code, exitUsage)
		}
		if want := tc.stderr + "Run 'podflow help' for usage.\n"; ta.stderr.String() != want {
			t.Errorf("%q: stderr\n%s\nwant\n%s", tc.args, ta.stderr.String(), want)
		}
	}
}

func TestRunPassesConfigAndLogsIt(t *testing.T) {
	ta := newTestApp(t, map[string]string{"PODFLOW_MODE": "per-interface"})
	var got *config.Config
	ta.runAgent = func(ctx context.Context, cfg *config.Config, log *zap.Logger) error {
		got = cfg
		log.Info("agent ran")
		return nil
	}
	if code := ta.main([]string{"--mtu", "9000"}); code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, ta.stderr.String())
	}
	want := config.Defaults()
	want.MTU, want.Mode = 9000, config.ModePerInterface
	if got == nil || got.MTU != want.MTU || got.Mode != want.Mode || got.ActiveTimeout != want.ActiveTimeout {
		t.Fatalf("agent got %+v, want %+v", got, want)
	}
	if msgs := strings.Join(ta.logMessages(t), "|"); msgs != "starting podflow|agent ran|podflow stopped" {
		t.Fatalf("log messages %q", msgs)
	}
	var first struct {
		Config map[string]any
	}
	line, _, _ := strings.Cut(ta.logs.String(), "\n")
	if err := json.Unmarshal([]byte(line), &first); err != nil {
		t.Fatal(err)
	}
	if first.Config["mtu"] != float64(9000) || first.Config["mode"] != "per-interface" || first.Config["active-timeout"] != "1m" {
		t.Fatalf("logged config %v", first.Config)
	}
}

func TestRunAgentFailureExitsOne(t *testing.T) {
	ta := newTestApp(t, nil)
	ta.runAgent = func(context.Context, *config.Config, *zap.Logger) error { return errors.New("attach: no such device") }
	if code := ta.main(nil); code != exitRuntime {
		t.Fatalf("exit %d, want %d", code, exitRuntime)
	}
	if !strings.Contains(ta.logs.String(), `"msg":"podflow failed","error":"attach: no such device"`) {
		t.Fatalf("logs lack the failure:\n%s", ta.logs.String())
	}
}

// sendSelf delivers sig to this process once started is closed: by then the
// command has registered its signal handler, so the test process survives.
func sendSelf(t *testing.T, started <-chan struct{}, sig syscall.Signal) {
	t.Helper()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("command did not start")
	}
	if err := syscall.Kill(syscall.Getpid(), sig); err != nil {
		t.Fatal(err)
	}
}

func TestRunStopsCleanlyOnSIGTERM(t *testing.T) {
	ta := newTestApp(t, nil)
	started := make(chan struct{})
	ta.runAgent = func(ctx context.Context, _ *config.Config, _ *zap.Logger) error {
		close(started)
		<-ctx.Done()
		return context.Cause(ctx) // a cancellation error is a clean stop
	}
	code := make(chan int, 1)
	go func() { code <- ta.main(nil) }()
	sendSelf(t, started, syscall.SIGTERM)
	if c := <-code; c != exitOK {
		t.Fatalf("exit %d, want 0; logs:\n%s", c, ta.logs.String())
	}
	// The signal watcher logs concurrently with the agent's return: sort.
	msgs := ta.logMessages(t)
	slices.Sort(msgs)
	want := "podflow stopped|shutting down; signal again to force|starting podflow"
	if msgs := strings.Join(msgs, "|"); msgs != want {
		t.Fatalf("log messages %q, want %q", msgs, want)
	}
}

func TestCollectPassesOptionsAndStopsOnSIGINT(t *testing.T) {
	ta := newTestApp(t, nil)
	started := make(chan struct{})
	var got collector.Options
	ta.runCollector = func(ctx context.Context, opts collector.Options) error {
		got = opts
		opts.Ready(&net.TCPAddr{IP: net.IPv6loopback, Port: 4740})
		close(started)
		<-ctx.Done()
		return nil
	}
	code := make(chan int, 1)
	go func() { code <- ta.main([]string{"collect", "--listen", "tcp://[::1]:0", "--format", "text"}) }()
	sendSelf(t, started, syscall.SIGINT)
	if c := <-code; c != exitOK {
		t.Fatalf("exit %d, want 0; stderr %q", c, ta.stderr.String())
	}
	if got.Listen != "tcp://[::1]:0" || got.Format != "text" || got.Out != io.Writer(&ta.stdout) || got.Log == nil {
		t.Fatalf("options %+v", got)
	}
	if !strings.Contains(ta.logs.String(), `"msg":"collector listening","network":"tcp","address":"[::1]:4740"`) {
		t.Fatalf("logs lack the listen address:\n%s", ta.logs.String())
	}
}

func TestCollectDefaults(t *testing.T) {
	ta := newTestApp(t, nil)
	var got collector.Options
	ta.runCollector = func(_ context.Context, opts collector.Options) error { got = opts; return nil }
	if code := ta.main([]string{"collect"}); code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, ta.stderr.String())
	}
	if got.Listen != "udp://127.0.0.1:4739" || got.Format != "json" {
		t.Fatalf("defaults: listen %q format %q", got.Listen, got.Format)
	}
	ta = newTestApp(t, nil)
	ta.runCollector = func(context.Context, collector.Options) error { return errors.New("listen udp: address in use") }
	if code := ta.main([]string{"collect"}); code != exitRuntime {
		t.Fatalf("failing collector: exit %d, want %d", code, exitRuntime)
	}
}
