package check

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/podflow/podflow/enrich/process"
)

// Effects of the host probes, shared with the agent's start-up warnings.
const (
	EffectNoContainerIDs = "flows carry no container ids; processes are still named by pid and comm"
	EffectOwnPodOnly     = "only the processes of podflow's own pod are attributed"
	EffectProcScanOff    = "sockets opened before podflow started are not attributed to processes; new ones are"
)

// initPIDNamespace is the inode of the host's (initial) PID namespace, a
// constant of the kernel (PROC_PID_INIT_INO).
const initPIDNamespace = 0xEFFFFFFC

// HostProbes are the probes of /proc: cgroups, /proc access, capabilities.
func HostProbes(procRoot string) []Probe {
	return []Probe{
		{Name: "cgroups", Run: func(context.Context) []Result { return []Result{Cgroups(procRoot)} }},
		{Name: "/proc access", Run: func(context.Context) []Result { return []Result{ProcAccess(procRoot)} }},
		{Name: "capabilities", Run: func(context.Context) []Result { return []Result{Capabilities(procRoot)} }},
	}
}

// Cgroups reports the cgroup layout (from procRoot/self/mountinfo), whether
// podflow shares the host's PID namespace (hostPID), and whether PID 1's
// cgroup file, where container ids come from, can be read.
func Cgroups(procRoot string) Result {
	r := Result{Name: "cgroups", Status: OK}
	layout, err := cgroupLayout(filepath.Join(procRoot, "self", "mountinfo"))
	if err != nil {
		layout = err.Error()
	}
	if _, err := os.ReadFile(filepath.Join(procRoot, "1", "cgroup")); err != nil {
		r.Status, r.Detail, r.Effect = Degraded, layout+"; "+err.Error(), EffectNoContainerIDs
		return r
	}
	if host, err := hostPIDNamespace(procRoot); err != nil || !host {
		why := "podflow runs in its own PID namespace (no hostPID)"
		if err != nil {
			why = err.Error()
		}
		r.Status, r.Detail, r.Effect = Degraded, layout+"; "+why, EffectOwnPodOnly
		return r
	}
	r.Detail = layout + "; host PID namespace, /proc/1/cgroup readable"
	if self, err := os.ReadFile(filepath.Join(procRoot, "self", "cgroup")); err == nil {
		if id := process.ContainerID(string(self)); id != "" {
			r.Detail += "; podflow runs in container " + id[:12]
		}
	}
	r.Effect = "container ids from each process's cgroup path (containerd, CRI-O, Docker, podman, nerdctl)"
	return r
}

// cgroupLayout names the layout: v2 unified, v1, or hybrid (v1
// controllers beside a v2 hierarchy, as systemd's hybrid mode mounts them).
func cgroupLayout(mountinfo string) (string, error) {
	data, err := os.ReadFile(mountinfo)
	if err != nil {
		return "", fmt.Errorf("cgroup layout unknown: %w", err)
	}
	var v1 int
	var v2 string
	for line := range strings.Lines(string(data)) {
		// "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER"
		pre, post, ok := strings.Cut(line, " - ")
		fields, fsFields := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fields) < 5 || len(fsFields) == 0 {
			continue
		}
		switch fsFields[0] {
		case "cgroup":
			v1++
		case "cgroup2":
			if v2 == "" {
				v2 = fields[4]
			}
		}
	}
	switch {
	case v1 > 0 && v2 != "":
		return fmt.Sprintf("cgroup hybrid (%d v1 hierarchies, v2 at %s)", v1, v2), nil
	case v1 > 0:
		return fmt.Sprintf("cgroup v1 (%d hierarchies)", v1), nil
	case v2 != "":
		return "cgroup v2 unified at " + v2, nil
	}
	return "", fmt.Errorf("no cgroup filesystem mounted (%s)", mountinfo)
}

// hostPIDNamespace tells whether podflow's PID namespace is the host's.
func hostPIDNamespace(procRoot string) (bool, error) {
	link, err := os.Readlink(filepath.Join(procRoot, "self", "ns", "pid"))
	if err != nil {
		return false, fmt.Errorf("PID namespace unknown: %w", err)
	}
	inode, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(link, "pid:["), "]"), 10, 64)
	if err != nil {
		return false, fmt.Errorf("PID namespace unknown: %q", link)
	}
	return inode == initPIDNamespace, nil
}

// ProcAccess reports whether other processes' fds can be listed, as the
// scan of the sockets open before start does (PID 1's: another process
// whenever podflow is not PID 1).
func ProcAccess(procRoot string) Result {
	r := Result{Name: "/proc access", Status: OK}
	dir := filepath.Join(procRoot, "1", "fd")
	_, err := os.ReadDir(dir)
	if err != nil {
		r.Status, r.Detail, r.Effect = Degraded, err.Error()+" (needs CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH)", EffectProcScanOff
		return r
	}
	r.Detail = dir + " readable: sockets open before start are attributed"
	return r
}

// ProcessContextWarnings are the host results that limit the process
// attribution, for the agent to warn about at start-up (empty when all ok).
func ProcessContextWarnings(procRoot string) []Result {
	var out []Result
	for _, r := range []Result{Cgroups(procRoot), ProcAccess(procRoot)} {
		if r.Status != OK {
			out = append(out, r)
		}
	}
	return out
}
