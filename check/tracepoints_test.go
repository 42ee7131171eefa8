package check

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"

	"github.com/podflow/podflow/bpf"
	"github.com/podflow/podflow/config"
)

// The table names every program of the events object, each once.
func TestTracepointsCoverEveryEventProgram(t *testing.T) {
	spec, err := bpf.LoadEvents()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tp := range Tracepoints {
		names = append(names, tp.Program)
	}
	want := slices.Sorted(maps.Keys(spec.Programs))
	if got := slices.Sorted(slices.Values(names)); !slices.Equal(got, want) {
		t.Fatalf("Tracepoints programs %v, want %v", got, want)
	}
	for _, f := range []string{FeatureRTT, FeatureRetransmits, FeatureDrops, FeatureProcess} {
		if featureOff[f] == "" || featureOption[f] == "" {
			t.Errorf("feature %q lacks its effect or option", f)
		}
	}
}

func programError(program, msg string) error {
	return &bpf.ProgramError{Program: program, Err: errors.New(msg)}
}

func TestTracepointResultsClassifyPerProgram(t *testing.T) {
	opts := bpf.EventOptions{RTT: true, Retransmits: true, Owners: true} // no drops
	attached := []string{bpf.EventsProgTcpRetransmitSkb, bpf.EventsProgInetSockSetState, bpf.EventsProgSockSendLength}
	err := errors.Join(
		programError(bpf.EventsProgTcpProbe, "load tcp_probe: gone"),
		programError(bpf.EventsProgTcpRetransmitSynack, "attach tp_btf/tcp_retransmit_synack: gone"),
		programError(bpf.EventsProgSockRecvLength, "load sock_recv_length: gone"),
	)
	got := TracepointResults(opts, attached, err)
	want := []Result{
		{Name: "tracepoint tcp_probe", Feature: FeatureRTT, Status: Unavailable, Detail: "load tcp_probe: gone",
			Effect: "RTT off; counters keep flowing"},
		{Name: "tracepoint tcp_retransmit_skb", Feature: FeatureRetransmits, Status: OK, Detail: "attached (retransmits)"},
		{Name: "tracepoint tcp_retransmit_synack", Feature: FeatureRetransmits, Status: Unavailable,
			Detail: "attach tp_btf/tcp_retransmit_synack: gone", Effect: "retransmitted SYN-ACKs not counted; counters keep flowing"},
		{Name: "tracepoint inet_sock_set_state", Feature: FeatureProcess, Status: OK, Detail: "attached (process attribution)"},
		{Name: "tracepoint sock_send_length", Feature: FeatureProcess, Status: OK, Detail: "attached (process attribution)"},
		{Name: "tracepoint sock_recv_length", Feature: FeatureProcess, Status: Unavailable, Detail: "load sock_recv_length: gone",
			Effect: "sockets are named at their first send, not at their first receive; counters keep flowing"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("results\n%+v\nwant\n%+v", got, want)
	}
	gotF := DegradedFeatures(got)
	wantF := []Result{
		{Name: FeatureRTT, Feature: FeatureRTT, Status: Unavailable, Detail: "load tcp_probe: gone", Effect: "RTT off; counters keep flowing"},
		{Name: FeatureRetransmits, Feature: FeatureRetransmits, Status: Degraded, Detail: "attach tp_btf/tcp_retransmit_synack: gone",
			Effect: "retransmitted SYN-ACKs not counted; counters keep flowing"},
		{Name: FeatureProcess, Feature: FeatureProcess, Status: Degraded, Detail: "load sock_recv_length: gone",
			Effect: "sockets are named at their first send, not at their first receive; counters keep flowing"},
	}
	if !reflect.DeepEqual(gotF, wantF) {
		t.Fatalf("features\n%+v\nwant\n%+v", gotF, wantF)
	}
}

// An error that is no program's (the maps did not load) stops every
// program, and each feature is off once, with the reason once.
func TestTracepointResultsWhenNothingLoads(t *testing.T) {
	opts := bpf.EventOptions{Retransmits: true, Drops: true}
	err := fmt.Errorf("load event maps: %w", errors.New("out of memory"))
	got := DegradedFeatures(TracepointResults(opts, nil, err))
	want := []Result{
		{Name: FeatureRetransmits, Feature: FeatureRetransmits, Status: Unavailable, Detail: "load event maps: out of memory",
			Effect: "socket retransmit counts off; counters keep flowing"},
		{Name: FeatureDrops, Feature: FeatureDrops, Status: Unavailable, Detail: "load event maps: out of memory",
			Effect: "kernel drops off; counters keep flowing"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("features\n%+v\nwant\n%+v", got, want)
	}
	if got := DegradedFeatures(TracepointResults(opts, []string{bpf.EventsProgTcpRetransmitSkb, bpf.EventsProgTcpRetransmitSynack, bpf.EventsProgKfreeSkb}, nil)); got != nil {
		t.Fatalf("all attached: degraded %+v", got)
	}
}

// Without the program the agent's process context keys on, the feature is
// off even though the other owner programs attached.
func TestSendLengthMissingTurnsProcessAttributionOff(t *testing.T) {
	opts := bpf.EventOptions{Owners: true}
	attached := []string{bpf.EventsProgInetSockSetState, bpf.EventsProgSockRecvLength}
	got := DegradedFeatures(TracepointResults(opts, attached, errors.Join(programError(bpf.EventsProgSockSendLength, "x"))))
	want := []Result{{Name: FeatureProcess, Feature: FeatureProcess, Status: Unavailable, Detail: "x",
		Effect: "process attribution off; counters keep flowing"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("features %+v, want %+v", got, want)
	}
}

// The probe opens everything whatever cfg says, and marks what cfg turns
// off as not used.
func TestTracepointProbeOpensAllAndNotesConfig(t *testing.T) {
	cfg := config.Defaults()
	cfg.TCPRTT, cfg.ProcessContext = false, false
	var asked bpf.EventOptions
	open := func(o bpf.EventOptions) (*bpf.Events, error) {
		asked = o
		return nil, errors.New("no BPF here")
	}
	got := TracepointProbe(cfg, open).Run(t.Context())
	if asked != AllEvents {
		t.Errorf("opened with %+v, want %+v", asked, AllEvents)
	}
	effects := map[string]string{}
	for _, r := range got {
		if r.Status != Unavailable || r.Detail != "no BPF here" {
			t.Errorf("%s: %s %q", r.Name, r.Status, r.Detail)
		}
		effects[r.Name] = r.Effect
	}
	want := map[string]string{
		"tracepoint tcp_probe":             "not used: --tcp-rtt=false",
		"tracepoint tcp_retransmit_skb":    "retransmitted data segments not counted; counters keep flowing",
		"tracepoint tcp_retransmit_synack": "retransmitted SYN-ACKs not counted; counters keep flowing",
		"tracepoint kfree_skb":             "kernel drops off; counters keep flowing",
		"tracepoint inet_sock_set_state":   "not used: --process-context=false",
		"tracepoint sock_send_length":      "not used: --process-context=false",
		"tracepoint sock_recv_length":      "not used: --process-context=false",
	}
	if !reflect.DeepEqual(effects, want) {
		t.Fatalf("effects %v, want %v", effects, want)
	}
}
