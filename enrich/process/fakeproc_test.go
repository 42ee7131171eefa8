package process

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// fakeProc is one process of a fake procfs tree.
type fakeProc struct {
	pid       uint32
	comm      string
	start     uint64
	exe       string // "" leaves out the exe link (kernel thread)
	cgroup    string
	netns     uint64            // 0 leaves out ns/net
	fds       map[string]string // fd number to link target
	procNetV4 string            // tcp table body (no header); "" with the other tables: no net dir
	procNet   map[string]string // table name to body, for tcp6, udp, udp6
}

const procNetHeader = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"

// write (re)creates p's directory under root.
func (p fakeProc) write(t *testing.T, root string) {
	t.Helper()
	dir := filepath.Join(root, strconv.FormatUint(uint64(p.pid), 10))
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "fd"), 0o755))
	must(os.MkdirAll(filepath.Join(dir, "ns"), 0o755))
	stat := fmt.Sprintf("%d (%s) S 1 %d %d 0 -1 4194560 120 0 0 0 3 1 0 0 20 0 1 0 %d 12345678 300 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n",
		p.pid, p.comm, p.pid, p.pid, p.start)
	must(os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644))
	must(os.WriteFile(filepath.Join(dir, "comm"), []byte(p.comm+"\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "cgroup"), []byte(p.cgroup), 0o644))
	if p.exe != "" {
		must(os.Symlink(p.exe, filepath.Join(dir, "exe")))
	}
	if p.netns != 0 {
		must(os.Symlink(fmt.Sprintf("net:[%d]", p.netns), filepath.Join(dir, "ns", "net")))
	}
	for fd, target := range p.fds {
		must(os.Symlink(target, filepath.Join(dir, "fd", fd)))
	}
	if p.procNetV4 != "" || len(p.procNet) > 0 {
		must(os.MkdirAll(filepath.Join(dir, "net"), 0o755))
		must(os.WriteFile(filepath.Join(dir, "net", "tcp"), []byte(procNetHeader+p.procNetV4), 0o644))
		for name, body := range p.procNet {
			must(os.WriteFile(filepath.Join(dir, "net", name), []byte(procNetHeader+body), 0o644))
		}
	}
}

func removeProc(t *testing.T, root string, pid uint32) {
	t.Helper()
	if err := os.RemoveAll(filepath.Join(root, strconv.FormatUint(uint64(pid), 10))); err != nil {
		t.Fatal(err)
	}
}
