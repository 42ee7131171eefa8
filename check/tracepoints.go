package check

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/podflow/podflow/bpf"
	"github.com/podflow/podflow/config"
)

// The features the tracepoints power.
const (
	FeatureRTT         = "RTT"
	FeatureRetransmits = "retransmits"
	FeatureDrops       = "drops"
	FeatureProcess     = "process attribution"
)

// Tracepoint is one tracepoint program podflow attaches and what podflow
// loses without it.
type Tracepoint struct {
	Program string // bpf.EventsProg*
	Feature string // Feature*
	// Missing is the effect of its absence, before "; counters keep flowing".
	Missing string
	// Disables: its absence turns the whole feature off (else the feature
	// runs with less).
	Disables bool
}

// Tracepoints are every tracepoint program of bpf.OpenEvents, in the order
// it attaches them.
var Tracepoints = []Tracepoint{
	{bpf.EventsProgTcpProbe, FeatureRTT, "RTT off", true},
	{bpf.EventsProgTcpRetransmitSkb, FeatureRetransmits, "retransmitted data segments not counted", false},
	{bpf.EventsProgTcpRetransmitSynack, FeatureRetransmits, "retransmitted SYN-ACKs not counted", false},
	{bpf.EventsProgKfreeSkb, FeatureDrops, "kernel drops off", true},
	{bpf.EventsProgInetSockSetState, FeatureProcess, "listen, connect and close not seen: sockets are named at their first send or receive", false},
	// The agent's process context reads the owners only when this one
	// attached (agent/context.go).
	{bpf.EventsProgSockSendLength, FeatureProcess, "process attribution off", true},
	{bpf.EventsProgSockRecvLength, FeatureProcess, "sockets are named at their first send, not at their first receive", false},
}

// featureOff is a feature's effect once none of it is left.
var featureOff = map[string]string{
	FeatureRTT:         "RTT off",
	FeatureRetransmits: "socket retransmit counts off",
	FeatureDrops:       "kernel drops off",
	FeatureProcess:     "process attribution off",
}

// featureOption is the option that turns a feature on.
var featureOption = map[string]string{
	FeatureRTT:         "tcp-rtt",
	FeatureRetransmits: "tcp-retransmits",
	FeatureDrops:       "kernel-drops",
	FeatureProcess:     "process-context",
}

func selected(opts bpf.EventOptions, feature string) bool {
	switch feature {
	case FeatureRTT:
		return opts.RTT
	case FeatureRetransmits:
		return opts.Retransmits
	case FeatureDrops:
		return opts.Drops
	case FeatureProcess:
		return opts.Owners
	}
	return false
}

func withCounters(effect string) string { return effect + "; " + CountersKeepFlowing }

// TracepointResults classifies what bpf.OpenEvents(opts) did, given the
// programs that attached and its error: one Result per program opts
// selects, ok when attached, else unavailable with the kernel's reason
// (the program's bpf.ProgramError, or the error that stopped them all).
func TracepointResults(opts bpf.EventOptions, attached []string, err error) []Result {
	why := map[string]string{}
	var general []string
	for _, e := range unjoin(err) {
		var pe *bpf.ProgramError
		if errors.As(e, &pe) {
			why[pe.Program] = pe.Error()
		} else {
			general = append(general, e.Error())
		}
	}
	var out []Result
	for _, tp := range Tracepoints {
		if !selected(opts, tp.Feature) {
			continue
		}
		r := Result{Name: "tracepoint " + tp.Program, Feature: tp.Feature, Status: OK, Detail: "attached (" + tp.Feature + ")"}
		if !slices.Contains(attached, tp.Program) {
			r.Status = Unavailable
			r.Detail = why[tp.Program]
			if r.Detail == "" {
				r.Detail = strings.Join(general, "; ")
			}
			if r.Detail == "" {
				r.Detail = "not attached"
			}
			r.Effect = withCounters(tp.Missing)
		}
		out = append(out, r)
	}
	return out
}

// DegradedFeatures folds TracepointResults into one Result per feature that
// lost something, in Tracepoints order: Name is the feature, Detail the
// reasons, Effect what podflow does without it. The agent logs one warning
// for each.
func DegradedFeatures(results []Result) []Result {
	var out []Result
	for _, feature := range []string{FeatureRTT, FeatureRetransmits, FeatureDrops, FeatureProcess} {
		var reasons, effects []string
		total, missing, disabled := 0, 0, false
		for _, r := range results {
			if r.Feature != feature {
				continue
			}
			total++
			if r.Status == OK {
				continue
			}
			missing++
			tp := tracepointOf(strings.TrimPrefix(r.Name, "tracepoint "))
			disabled = disabled || tp.Disables
			if !slices.Contains(reasons, r.Detail) {
				reasons = append(reasons, r.Detail)
			}
			effects = append(effects, tp.Missing)
		}
		if missing == 0 {
			continue
		}
		f := Result{Name: feature, Feature: feature, Status: Degraded, Detail: strings.Join(reasons, "; ")}
		if disabled || missing == total {
			f.Status = Unavailable
			effects = []string{featureOff[feature]}
		}
		f.Effect = withCounters(strings.Join(effects, "; "))
		out = append(out, f)
	}
	return out
}

func tracepointOf(program string) Tracepoint {
	for _, tp := range Tracepoints {
		if tp.Program == program {
			return tp
		}
	}
	return Tracepoint{Program: program}
}

// unjoin returns the errors errors.Join put together (or err alone).
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok { //nolint:errorlint // the join itself, not a wrapped one
		return j.Unwrap()
	}
	return []error{err}
}

// AllEvents selects every tracepoint, sized small: the check only attaches.
var AllEvents = bpf.EventOptions{MaxTuples: probeMaxFlows, RTT: true, Retransmits: true, Drops: true, Owners: true}

// EventOpener is bpf.OpenEvents; tests substitute a changed spec.
type EventOpener func(bpf.EventOptions) (*bpf.Events, error)

// TracepointProbe opens every tracepoint as the agent does (open is
// bpf.OpenEvents in production), reports each, and closes them. A feature
// cfg turns off is reported as the kernel has it, with "not used" as effect.
func TracepointProbe(cfg *config.Config, open EventOpener) Probe {
	return Probe{Name: "tracepoints", Run: func(context.Context) []Result {
		ev, err := open(AllEvents)
		var attached []string
		if ev != nil {
			attached = slices.Clone(ev.Attached)
			ev.Close()
		}
		results := TracepointResults(AllEvents, attached, err)
		for i, r := range results {
			if !featureOn(cfg, r.Feature) {
				results[i].Effect = "not used: --" + featureOption[r.Feature] + "=false"
			}
		}
		return results
	}}
}

func featureOn(cfg *config.Config, feature string) bool {
	switch feature {
	case FeatureRTT:
		return cfg.TCPRTT
	case FeatureRetransmits:
		return cfg.TCPRetransmits
	case FeatureDrops:
		return cfg.KernelDrops
	case FeatureProcess:
		return cfg.ProcessContext
	}
	return true
}
