package process

import (
	"strings"
	"testing"
)

const (
	idA = "4f3c1b2a9d8e7f6051423324150617283940a1b2c3d4e5f60718293a4b5c6d7e"
	idB = "a1b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeeff00"
	pod = "5d3e9c52-8b6f-4a1e-9f0c-2b7d4e6a8c10"
	// systemd writes the pod uid with '_' in slice names.
	podSlice = "5d3e9c52_8b6f_4a1e_9f0c_2b7d4e6a8c10"
)

// v1 returns a cgroup v1 file whose every hierarchy holds path, as for a
// container whose runtime created all of its cgroups.
func v1(path string) string {
	return strings.Join([]string{
		"12:hugetlb:" + path,
		"11:cpu,cpuacct:" + path,
		"10:memory:" + path,
		"9:pids:" + path,
		"1:name=systemd:" + path,
	}, "\n") + "\n"
}

// hybrid is v1 plus the unified hierarchy's line.
func hybrid(path string) string { return v1(path) + "0::" + path + "\n" }

func TestContainerID(t *testing.T) {
	tests := []struct {
		name     string
		file     string
		wantID   string
		wantPath string
	}{{
		name:     "containerd CRI, systemd driver, cgroup v2",
		file:     "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + podSlice + ".slice/cri-containerd-" + idA + ".scope\n",
		wantID:   idA,
		wantPath: "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + podSlice + ".slice/cri-containerd-" + idA + ".scope",
	}, {
		name:     "containerd CRI, systemd driver, cgroup v1",
		file:     v1("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + podSlice + ".slice/cri-containerd-" + idA + ".scope"),
		wantID:   idA,
		wantPath: "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + podSlice + ".slice/cri-containerd-" + idA + ".scope",
	}, {
		name:     "containerd CRI, cgroupfs driver, cgroup v1",
		file:     v1("/kubepods/burstable/pod" + pod + "/" + idA),
		wantID:   idA,
		wantPath: "/kubepods/burstable/pod" + pod + "/" + idA,
	}, {
		name:     "containerd CRI, cgroupfs driver, guaranteed QoS, cgroup v2",
		file:     "0::/kubepods/pod" + pod + "/" + idB + "\n",
		wantID:   idB,
		wantPath: "/kubepods/pod" + pod + "/" + idB,
	}, {
		name:     "containerd v1 systemd driver under containerd.service, colon form",
		file:     v1("/system.slice/containerd.service/kubepods-burstable-pod" + podSlice + ".slice:cri-containerd:" + idA),
		wantID:   idA,
		wantPath: "/system.slice/containerd.service/kubepods-burstable-pod" + podSlice + ".slice:cri-containerd:" + idA,
	}, {
		name:     "CRI-O, systemd driver, cgroup v2",
		file:     "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + podSlice + ".slice/crio-" + idB + ".scope\n",
		wantID:   idB,
		wantPath: "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + podSlice + ".slice/crio-" + idB + ".scope",
	}, {
		name:     "CRI-O, systemd driver, hybrid",
		file:     hybrid("/kubepods.slice/kubepods-pod" + podSlice + ".slice/crio-" + idB + ".scope"),
		wantID:   idB,
		wantPath: "/kubepods.slice/kubepods-pod" + podSlice + ".slice/crio-" + idB + ".scope",
	}, {
		name:     "CRI-O, cgroupfs driver, cgroup v1",
		file:     v1("/kubepods/besteffort/pod" + pod + "/crio-" + idB),
		wantID:   idB,
		wantPath: "/kubepods/besteffort/pod" + pod + "/crio-" + idB,
	}, {
		name:     "Docker, cgroupfs driver, cgroup v1",
		file:     v1("/docker/" + idA),
		wantID:   idA,
		wantPath: "/docker/" + idA,
	}, {
		name:     "Docker, systemd driver, cgroup v2",
		file:     "0::/system.slice/docker-" + idA + ".scope\n",
		wantID:   idA,
		wantPath: "/system.slice/docker-" + idA + ".scope",
	}, {
		name:     "Docker under dockershim kubelet, systemd driver, hybrid",
		file:     hybrid("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + podSlice + ".slice/docker-" + idB + ".scope"),
		wantID:   idB,
		wantPath: "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + podSlice + ".slice/docker-" + idB + ".scope",
	}, {
		name:     "Docker in Docker: the inner container",
		file:     v1("/docker/" + idA + "/docker/" + idB),
		wantID:   idB,
		wantPath: "/docker/" + idA + "/docker/" + idB,
	}, {
		name:     "rootless Docker, cgroup v2",
		file:     "0::/user.slice/user-1000.slice/user@1000.service/app.slice/docker-" + idA + ".scope\n",
		wantID:   idA,
		wantPath: "/user.slice/user-1000.slice/user@1000.service/app.slice/docker-" + idA + ".scope",
	}, {
		name:     "podman, cgroup v2, container sub-cgroup",
		file:     "0::/machine.slice/libpod-" + idB + ".scope/container\n",
		wantID:   idB,
		wantPath: "/machine.slice/libpod-" + idB + ".scope/container",
	}, {
		name:     "podman, cgroup v2",
		file:     "0::/machine.slice/libpod-" + idB + ".scope\n",
		wantID:   idB,
		wantPath: "/machine.slice/libpod-" + idB + ".scope",
	}, {
		name:     "hybrid host: id only in the v1 hierarchies, v2 at the root",
		file:     v1("/docker/"+idA) + "0::/\n",
		wantID:   idA,
		wantPath: "/docker/" + idA,
	}, {
		name:     "CRI-O conmon is not the container",
		file:     "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + podSlice + ".slice/crio-conmon-" + idB + ".scope\n",
		wantID:   "",
		wantPath: "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + podSlice + ".slice/crio-conmon-" + idB + ".scope",
	}, {
		name:     "CRI-O conmon, cgroupfs driver",
		file:     v1("/kubepods/besteffort/pod" + pod + "/crio-conmon-" + idB),
		wantID:   "",
		wantPath: "/kubepods/besteffort/pod" + pod + "/crio-conmon-" + idB,
	}, {
		name:     "podman conmon is not the container",
		file:     v1("/machine.slice/libpod-conmon-" + idB + ".scope"),
		wantID:   "",
		wantPath: "/machine.slice/libpod-conmon-" + idB + ".scope",
	}, {
		name:     "host process, this machine's hybrid layout",
		file:     "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/021b787648e9815db6ac8a4dec4072b5\n1:cpu:/\n0::/\n",
		wantID:   "",
		wantPath: "/",
	}, {
		name:     "host service, cgroup v2",
		file:     "0::/system.slice/containerd.service\n",
		wantID:   "",
		wantPath: "/system.slice/containerd.service",
	}, {
		name:     "kubelet pod cgroup without a container (pause parent)",
		file:     "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + podSlice + ".slice\n",
		wantID:   "",
		wantPath: "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + podSlice + ".slice",
	}, {
		name:     "user session scope",
		file:     "0::/user.slice/user-1000.slice/session-3.scope\n",
		wantID:   "",
		wantPath: "/user.slice/user-1000.slice/session-3.scope",
	}, {
		name:     "63 hex digits",
		file:     "0::/docker/" + idA[:63] + "\n",
		wantID:   "",
		wantPath: "/docker/" + idA[:63],
	}, {
		name:     "upper-case hex is not an id",
		file:     "0::/system.slice/docker-" + strings.ToUpper(idA) + ".scope\n",
		wantID:   "",
		wantPath: "/system.slice/docker-" + strings.ToUpper(idA) + ".scope",
	}, {
		name:     "unknown runtime prefix",
		file:     "0::/system.slice/foo-" + idA + ".scope\n",
		wantID:   "",
		wantPath: "/system.slice/foo-" + idA + ".scope",
	}, {
		name: "empty file",
		file: "",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ContainerID(tt.file); got != tt.wantID {
				t.Errorf("ContainerID = %q, want %q", got, tt.wantID)
			}
			id, path := containerCgroup(tt.file)
			if id != tt.wantID || path != tt.wantPath {
				t.Errorf("containerCgroup = %q, %q; want %q, %q", id, path, tt.wantID, tt.wantPath)
			}
		})
	}
}
