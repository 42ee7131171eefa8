package agent

import (
	"slices"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/podflow/podflow/bpf"
	"github.com/podflow/podflow/check"
	"github.com/podflow/podflow/config"
	"github.com/podflow/podflow/internal/bpftest"
	"github.com/podflow/podflow/internal/privtest"
)

// A missing tracepoint disables its feature only, with one warning that
// says what `podflow check` says about it; the other programs run.
func TestMissingTracepointWarnsAsCheckSays(t *testing.T) {
	privtest.Require(t)
	cfg := config.Defaults()
	cfg.MaxFlows = config.MinMaxFlows
	core, logs := observer.New(zapcore.WarnLevel)
	ev, tuples := openEventsWith(cfg, zap.New(core), bpftest.OpenEventsWithMissingTracepoint)
	if ev == nil || tuples == nil {
		t.Fatalf("events %v, tuple drainer %v: want both", ev, tuples)
	}
	t.Cleanup(func() { ev.Close() })
	want := []string{bpf.EventsProgTcpRetransmitSkb, bpf.EventsProgTcpRetransmitSynack, bpf.EventsProgKfreeSkb,
		bpf.EventsProgInetSockSetState, bpf.EventsProgSockSendLength, bpf.EventsProgSockRecvLength}
	if !slices.Equal(ev.Attached, want) {
		t.Errorf("attached %v, want %v", ev.Attached, want)
	}
	if _, err := tuples.DrainTuples(nil); err != nil {
		t.Errorf("drain without tcp_probe: %v", err)
	}

	var line check.Result
	for _, r := range check.TracepointProbe(cfg, bpftest.OpenEventsWithMissingTracepoint).Run(t.Context()) {
		if r.Name == "tracepoint tcp_probe" {
			line = r
		}
	}
	if line.Status != check.Unavailable || line.Detail == "" {
		t.Fatalf("check line %+v", line)
	}
	warnings := logs.All()
	if len(warnings) != 1 {
		t.Fatalf("%d warnings, want 1: %+v", len(warnings), warnings)
	}
	w := warnings[0]
	fields := w.ContextMap()
	if w.Message != line.Effect || fields["reason"] != line.Detail || fields["feature"] != check.FeatureRTT {
		t.Errorf("warning %q %v\nwant %q reason %q feature %q", w.Message, fields, line.Effect, line.Detail, check.FeatureRTT)
	}
}
