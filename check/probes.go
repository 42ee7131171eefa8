package check

import (
	"github.com/podflow/podflow/bpf"
	"github.com/podflow/podflow/config"
	"github.com/podflow/podflow/enrich/kube"
)

// ProcRoot is where procfs is mounted.
const ProcRoot = "/proc"

// Probes are the real probes of this host for cfg, in the order they are
// printed. kprobes and fentry are not listed: podflow uses neither.
func Probes(cfg *config.Config) []Probe {
	probes := []Probe{
		BTFProbe(),
		DatapathProbe(cfg),
		TracepointProbe(cfg, bpf.OpenEvents),
		ConntrackProbe(cfg),
	}
	probes = append(probes, HostProbes(ProcRoot)...)
	return append(probes, KubeProbe(cfg, kube.NewClient))
}
