// Package check probes the kernel and the host for what podflow needs and
// says, per probe, what will work, what will be degraded and why. `podflow
// check` prints the results; the agent uses the same classifications and
// reason texts at start-up, so a feature the check calls degraded is the
// one the agent warns about, with the same words.
//
// Probes are small functions (Probe.Run) so tests can replace any of them;
// Run bounds each with a timeout.
package check

import (
	"context"
	"fmt"
	"time"
)

// Status is a probe's verdict.
type Status string

const (
	// OK: works fully.
	OK Status = "ok"
	// Degraded: podflow runs, with the effect the Result states (including
	// the informational "not in a cluster").
	Degraded Status = "degraded"
	// Unavailable: the thing probed does not work; podflow cannot run when
	// the Result is Required, else runs without the feature.
	Unavailable Status = "unavailable"
)

// Result is one line of the check.
type Result struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	// Detail is what was found, or why it does not work.
	Detail string `json:"detail"`
	// Effect is what podflow does about it ("RTT off; counters keep
	// flowing"); empty when there is nothing to say.
	Effect string `json:"effect,omitempty"`
	// Feature is the podflow feature the result is about, when it is one
	// (RTT, retransmits, drops, process attribution).
	Feature string `json:"feature,omitempty"`
	// Required: podflow cannot run when this is unavailable.
	Required bool `json:"required,omitempty"`
}

// Probe checks one thing and returns one or more Results.
type Probe struct {
	Name     string
	Required bool          // a timeout makes podflow unable to run
	Timeout  time.Duration // 0: DefaultTimeout
	Run      func(ctx context.Context) []Result
}

// DefaultTimeout bounds a probe that sets no Timeout.
const DefaultTimeout = 20 * time.Second

// Common effects, shared with the agent's start-up warnings.
const (
	CountersKeepFlowing = "counters keep flowing"
	EffectCannotRun     = "podflow cannot run"
)

// Run runs the probes one after the other, each bounded by its timeout: a
// probe stuck in a syscall is abandoned (its goroutine ends on its own) and
// reported unavailable. ctx ending stops the remaining probes the same way.
func Run(ctx context.Context, probes []Probe) []Result {
	var out []Result
	for _, p := range probes {
		out = append(out, runOne(ctx, p)...)
	}
	return out
}

func runOne(ctx context.Context, p Probe) []Result {
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan []Result, 1)
	go func() { done <- p.Run(ctx) }()
	select {
	case rs := <-done:
		return rs
	case <-ctx.Done():
		r := Result{Name: p.Name, Status: Unavailable, Required: p.Required,
			Detail: fmt.Sprintf("no answer within %s: %v", timeout, context.Cause(ctx))}
		if p.Required {
			r.Effect = EffectCannotRun
		}
		return []Result{r}
	}
}

// CanRun reports whether podflow can run with these results: no Required
// result is unavailable.
func CanRun(results []Result) bool {
	for _, r := range results {
		if r.Required && r.Status == Unavailable {
			return false
		}
	}
	return true
}
