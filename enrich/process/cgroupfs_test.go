package process

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// makeCgroup creates podflow-test-<rand>/leaf in the cgroup v2 hierarchy
// and removes both at cleanup, once their processes are gone. It returns
// the leaf's directory and its path as /proc/PID/cgroup shows it.
func makeCgroup(t *testing.T, leaf string) (dir, path string) {
	t.Helper()
	mount := cgroup2Mount(t)
	parent := "podflow-test-" + randomHex(t, 4)
	dir = filepath.Join(mount, parent, leaf)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("create cgroup: %v", err)
	}
	t.Cleanup(func() {
		for _, d := range []string{dir, filepath.Dir(dir)} {
			removeCgroup(t, d)
		}
	})
	return dir, "/" + parent + "/" + leaf
}

// removeCgroup retries rmdir while the cgroup is busy: a reaped process
// can leave it populated for a moment.
func removeCgroup(t *testing.T, dir string) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := unix.Rmdir(dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return
		}
		if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			t.Errorf("remove cgroup %s: %v", dir, err)
			return
		}
		// Busy: a process still in it (the child, if the test failed
		// before reaping it) is moved to the root.
		procs, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		for _, pid := range strings.Fields(string(procs)) {
			_ = os.WriteFile(filepath.Join(cgroup2Mount(t), "cgroup.procs"), []byte(pid), 0o644)
		}
		time.Sleep(10 * time.Millisecond) // poll interval
	}
}

// cgroup2Mount finds the cgroup v2 hierarchy: /sys/fs/cgroup/unified on a
// hybrid host, /sys/fs/cgroup on a unified one.
func cgroup2Mount(t *testing.T) string {
	t.Helper()
	mounts, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(mounts)) {
		f := strings.Fields(line)
		if len(f) >= 3 && f[2] == "cgroup2" {
			return f[1]
		}
	}
	t.Fatal("no cgroup2 hierarchy mounted")
	return ""
}

func ownCgroupV2Path(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if p, ok := strings.CutPrefix(strings.TrimSpace(line), "0::"); ok {
			return p
		}
	}
	t.Fatal("no cgroup v2 line in /proc/self/cgroup")
	return ""
}
