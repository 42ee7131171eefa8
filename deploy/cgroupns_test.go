package deploy_test

import (
	"testing"

	"github.com/podflow/podflow/enrich/process"
)

// In a pod, containerd and CRI-O give podflow a private cgroup namespace
// (cgroup v2), so /proc/PID/cgroup of other pods' processes reads relative
// to podflow's own cgroup ("/../.."). No host path is mounted for it: the
// container id is still the last component.
func TestContainerIDsReadFromAPrivateCgroupNamespace(t *testing.T) {
	const id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, cgroup := range []string{
		"0::/../../kubepods-besteffort-pod5f2a.slice/cri-containerd-" + id + ".scope\n", // systemd driver
		"0::/../../besteffort/pod5f2a/" + id + "\n",                                     // cgroupfs driver
		"0::/../kubepods-burstable.slice/kubepods-burstable-pod5f2a.slice/crio-" + id + ".scope\n",
	} {
		if got := process.ContainerID(cgroup); got != id {
			t.Errorf("ContainerID(%q) = %q, want %q", cgroup, got, id)
		}
	}
	if got := process.ContainerID("0::/../../system.slice/kubelet.service\n"); got != "" {
		t.Errorf("a host daemon's cgroup gives container id %q, want none", got)
	}
}
