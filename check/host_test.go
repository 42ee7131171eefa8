package check

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

const (
	mountinfoV2 = `24 1 0:22 / / rw - ext4 /dev/vda rw
30 24 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
`
	mountinfoV1 = `31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory
`
	mountinfoHybrid = mountinfoV1 + `41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`
	cgroupHost      = "0::/init.scope\n"
	cgroupContainer = "0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope\n"
)

// fakeProc writes a procfs-like tree: files by relative path, and
// self/ns/pid as a link to pidNS ("" for none).
func fakeProc(t *testing.T, files map[string]string, pidNS string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if pidNS != "" {
		if err := os.MkdirAll(filepath.Join(root, "self", "ns"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(pidNS, filepath.Join(root, "self", "ns", "pid")); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestCgroupLayout(t *testing.T) {
	cases := []struct{ mountinfo, want string }{
		{mountinfoV2, "cgroup v2 unified at /sys/fs/cgroup"},
		{mountinfoV1, "cgroup v1 (2 hierarchies)"},
		{mountinfoHybrid, "cgroup hybrid (2 v1 hierarchies, v2 at /sys/fs/cgroup/unified)"},
	}
	for _, tc := range cases {
		root := fakeProc(t, map[string]string{"mountinfo": tc.mountinfo}, "")
		got, err := cgroupLayout(filepath.Join(root, "mountinfo"))
		if err != nil || got != tc.want {
			t.Errorf("layout %q, %v; want %q", got, err, tc.want)
		}
	}
	root := fakeProc(t, map[string]string{"mountinfo": "24 1 0:22 / / rw - ext4 /dev/vda rw\n"}, "")
	if _, err := cgroupLayout(filepath.Join(root, "mountinfo")); err == nil {
		t.Error("no cgroup mount: no error")
	}
}

func TestCgroups(t *testing.T) {
	const hostNS, podNS = "pid:[4026531836]", "pid:[4026532999]"
	effectIDs := "container ids from each process's cgroup path (containerd, CRI-O, Docker, podman, nerdctl)"
	cases := []struct {
		name  string
		files map[string]string
		pidNS string
		want  Result
	}{
		{"host, v2", map[string]string{"self/mountinfo": mountinfoV2, "1/cgroup": cgroupHost, "self/cgroup": cgroupHost}, hostNS,
			Result{Name: "cgroups", Status: OK, Detail: "cgroup v2 unified at /sys/fs/cgroup; host PID namespace, /proc/1/cgroup readable",
				Effect: effectIDs}},
		{"hostPID pod, hybrid", map[string]string{"self/mountinfo": mountinfoHybrid, "1/cgroup": cgroupHost, "self/cgroup": cgroupContainer}, hostNS,
			Result{Name: "cgroups", Status: OK, Detail: "cgroup hybrid (2 v1 hierarchies, v2 at /sys/fs/cgroup/unified); host PID namespace, " +
				"/proc/1/cgroup readable; podflow runs in container 0123456789ab", Effect: effectIDs}},
		{"pod without hostPID", map[string]string{"self/mountinfo": mountinfoV2, "1/cgroup": "0::/\n"}, podNS,
			Result{Name: "cgroups", Status: Degraded, Detail: "cgroup v2 unified at /sys/fs/cgroup; podflow runs in its own PID namespace (no hostPID)",
				Effect: EffectOwnPodOnly}},
	}
	for _, tc := range cases {
		got := Cgroups(fakeProc(t, tc.files, tc.pidNS))
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n%+v\nwant\n%+v", tc.name, got, tc.want)
		}
	}
	root := fakeProc(t, map[string]string{"self/mountinfo": mountinfoV1}, hostNS)
	got := Cgroups(root)
	want := Result{Name: "cgroups", Status: Degraded, Effect: EffectNoContainerIDs,
		Detail: "cgroup v1 (2 hierarchies); open " + filepath.Join(root, "1", "cgroup") + ": no such file or directory"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("unreadable /proc/1/cgroup:\n%+v\nwant\n%+v", got, want)
	}
}

func TestProcAccess(t *testing.T) {
	root := fakeProc(t, map[string]string{"1/fd/0": ""}, "")
	want := Result{Name: "/proc access", Status: OK, Detail: filepath.Join(root, "1", "fd") + " readable: sockets open before start are attributed"}
	if got := ProcAccess(root); got != want {
		t.Errorf("readable: %+v, want %+v", got, want)
	}
	root = fakeProc(t, nil, "")
	want = Result{Name: "/proc access", Status: Degraded, Effect: EffectProcScanOff,
		Detail: "open " + filepath.Join(root, "1", "fd") + ": no such file or directory (needs CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH)"}
	if got := ProcAccess(root); got != want {
		t.Errorf("missing: %+v, want %+v", got, want)
	}
	if got := ProcessContextWarnings(root); len(got) != 2 || got[0].Name != "cgroups" || got[1] != want {
		t.Errorf("warnings %+v", got)
	}
}

func TestCapabilities(t *testing.T) {
	const (
		dacOverride = 1 << 1
		dacRead     = 1 << 2
		netAdmin    = 1 << 12
		ptrace      = 1 << 19
		sysAdmin    = 1 << 21
		perfmon     = 1 << 38
		bpfCap      = 1 << 39
	)
	cases := []struct {
		eff  uint64
		want Result
	}{
		{0x000001fffeffffff, Result{Name: "capabilities", Status: OK,
			Detail: "CapEff 000001fffeffffff: CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH"}},
		{sysAdmin | netAdmin | dacOverride, Result{Name: "capabilities", Status: Degraded,
			Detail: "CapEff 0000000000201002: CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_DAC_OVERRIDE; " +
				"missing CAP_SYS_PTRACE (for reading other processes' fds)",
			Effect: "the checks of those parts say what degrades"}},
		{bpfCap | perfmon | ptrace | dacRead, Result{Name: "capabilities", Status: Unavailable,
			Detail: "CapEff 000000c000080004: CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH; " +
				"missing CAP_NET_ADMIN (for attaching to interfaces and reading conntrack)",
			Effect: "the checks of those parts say what degrades"}},
	}
	for _, tc := range cases {
		if got := judgeCaps(tc.eff); got != tc.want {
			t.Errorf("%x:\n%+v\nwant\n%+v", tc.eff, got, tc.want)
		}
	}
	root := fakeProc(t, map[string]string{"self/status": "Name:\tpodflow\nCapInh:\t0000000000000000\nCapEff:\t0000000000001000\n"}, "")
	got := Capabilities(root)
	if got.Status != Unavailable || got.Detail != "CapEff 0000000000001000: CAP_NET_ADMIN; missing CAP_BPF+CAP_PERFMON or CAP_SYS_ADMIN "+
		"(for loading BPF programs and attaching tracepoints), CAP_SYS_PTRACE (for reading other processes' fds), "+
		"CAP_DAC_READ_SEARCH or CAP_DAC_OVERRIDE (for reading other users' /proc files)" {
		t.Errorf("from status file: %+v", got)
	}
}
