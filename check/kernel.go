package check

import (
	"context"
	"fmt"

	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"

	"github.com/podflow/podflow/attach"
	"github.com/podflow/podflow/bpf"
	"github.com/podflow/podflow/config"
)

// probeMaxFlows sizes the maps of the probes: the smallest the
// configuration allows, since the probes only load and attach.
const probeMaxFlows = config.MinMaxFlows

// EffectDropReasonNumbers is what podflow does when it cannot name the
// kernel's drop reasons.
const EffectDropReasonNumbers = "drop reasons exported as numbers"

// BTFProbe loads the kernel's BTF (/sys/kernel/btf/vmlinux), which the
// tracepoint programs are relocated against, and names the drop reasons
// from it as the agent does.
func BTFProbe() Probe {
	return Probe{Name: "kernel BTF", Run: func(context.Context) []Result {
		r := Result{Name: "kernel BTF"}
		if _, err := btf.LoadKernelSpec(); err != nil {
			r.Status, r.Detail = Unavailable, err.Error()
			r.Effect = withCounters("tracepoints cannot load (RTT, retransmits, drops, process attribution off); " + EffectDropReasonNumbers)
			return []Result{r}
		}
		reasons, err := bpf.DropReasons()
		if err != nil {
			r.Status, r.Detail, r.Effect = Degraded, err.Error(), EffectDropReasonNumbers
			return []Result{r}
		}
		r.Status = OK
		r.Detail = fmt.Sprintf("/sys/kernel/btf/vmlinux loaded; %d drop reasons named", len(reasons))
		return []Result{r}
	}}
}

// DatapathProbe loads the TC programs as cfg asks the agent to (small maps),
// then attaches them the agent's way, TCX first else clsact, to lo of a
// private network namespace, and detaches. Both results are Required.
func DatapathProbe(cfg *config.Config) Probe {
	return Probe{Name: "tc programs", Required: true, Run: func(ctx context.Context) []Result {
		objs, err := bpf.Load(bpf.LoadOptions{
			MaxFlows:             probeMaxFlows,
			PreciseTimestamps:    cfg.PreciseTimestamps,
			TrackHandshakes:      cfg.HandshakeRTT,
			TrackWireRetransmits: cfg.WireRetransmits,
		})
		if err != nil {
			return []Result{
				{Name: "tc programs", Status: Unavailable, Required: true, Detail: err.Error(), Effect: EffectCannotRun},
				{Name: "attach", Status: Unavailable, Required: true, Detail: "not tried: the TC programs did not load", Effect: EffectCannotRun},
			}
		}
		defer objs.Close()
		load := Result{Name: "tc programs", Status: OK, Required: true, Detail: "loaded (kernel " + kernelRelease() + ")"}
		progs := attach.Programs{
			IngressL2: objs.TcIngress, EgressL2: objs.TcEgress,
			IngressL3: objs.TcIngressL3, EgressL3: objs.TcEgressL3,
		}
		return []Result{load, AttachResult(ctx, progs)}
	}}
}

func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "release unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}
