// Package bpftest holds helpers for tests that load podflow's BPF programs.
package bpftest

import (
	"fmt"

	"github.com/podflow/podflow/bpf"
)

// MissingTracepoint is a tracepoint no kernel has.
const MissingTracepoint = "podflow_no_such_tracepoint"

// OpenEventsWithMissingTracepoint opens the tracepoint programs with
// tcp_probe pointed at MissingTracepoint, to see how podflow and
// `podflow check` treat a kernel that lacks one of them. Its signature is
// that of bpf.OpenEvents, so it can stand in for it.
func OpenEventsWithMissingTracepoint(opts bpf.EventOptions) (*bpf.Events, error) {
	spec, err := bpf.LoadEvents()
	if err != nil {
		return nil, fmt.Errorf("load events spec: %w", err)
	}
	spec.Programs[bpf.EventsProgTcpProbe].AttachTo = MissingTracepoint
	return bpf.OpenEventsSpec(spec, opts)
}
