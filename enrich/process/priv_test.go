package process

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/podflow/podflow/internal/netnstest"
	"github.com/podflow/podflow/internal/privtest"
	"golang.org/x/sys/unix"
)

// child is a running copy of this test binary in child mode.
type child struct {
	cmd     *exec.Cmd
	exe     string
	stdin   io.WriteCloser
	sockets []childSocket
}

// startChild copies the test binary to a file named childComm, so the
// child's comm and exe are known, and starts it inside n.
func startChild(t *testing.T, n *netnstest.Netns) *child {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(t.TempDir(), childComm)
	copyFile(t, self, exe)
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	// The child is cloned from the thread Do moved into the namespace.
	if err := n.Do(cmd.Start); err != nil {
		t.Fatalf("start child: %v", err)
	}
	c := &child{cmd: cmd, exe: exe, stdin: stdin}
	t.Cleanup(c.stop)
	line, err := bufio.NewReader(stdout).ReadBytes('\n')
	if err != nil {
		t.Fatalf("read child's sockets: %v", err)
	}
	if err := json.Unmarshal(line, &c.sockets); err != nil {
		t.Fatalf("decode child's sockets %q: %v", line, err)
	}
	return c
}

func (c *child) pid() uint32 { return uint32(c.cmd.Process.Pid) }

// stop closes the child's stdin, which ends it, and reaps it.
func (c *child) stop() {
	if c.cmd.ProcessState != nil {
		return
	}
	c.stdin.Close()
	_ = c.cmd.Wait()
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func newChildNetns(t *testing.T) (*netnstest.Netns, uint64) {
	t.Helper()
	n := netnstest.New(t)
	n.AddAddr(t, n.Link(t, "lo"), childIPv6+"/128")
	var st unix.Stat_t
	if err := unix.Fstat(int(n.Handle), &st); err != nil {
		t.Fatal(err)
	}
	return n, st.Ino
}

func TestScanFindsChildSockets(t *testing.T) {
	privtest.Require(t)
	n, netnsIno := newChildNetns(t)
	c := startChild(t, n)
	if len(c.sockets) != 11 {
		t.Fatalf("child reported %d sockets, want 11: %+v", len(c.sockets), c.sockets)
	}

	res, err := Scan(DefaultProcRoot)
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	t.Logf("scan of this machine: %d sockets in %v (%+v)", len(res.Sockets), res.Stats.Duration, res.Stats)
	inNetns := map[uint64]Socket{}
	for _, s := range res.Sockets {
		if s.NetnsInode == netnsIno {
			inNetns[s.Inode] = s
		}
	}
	if len(inNetns) != len(c.sockets) {
		t.Errorf("scan found %d sockets in the test namespace, want %d: %+v", len(inNetns), len(c.sockets), inNetns)
	}
	for _, cs := range c.sockets {
		want := Socket{
			Proto: cs.Proto, Local: cs.Local, Remote: cs.Remote, State: cs.State, Inode: cs.Inode,
			PID: c.pid(), Comm: childComm, NetnsInode: netnsIno,
		}
		if got := inNetns[cs.Inode]; got != want {
			t.Errorf("%s: scan = %+v, want %+v", cs.Name, got, want)
		}
		checkChildAddress(t, cs)
	}
}

// checkChildAddress pins what the child's own view cannot: the addresses
// it was told to use, with IPv4-mapped ones unmapped.
func checkChildAddress(t *testing.T, cs childSocket) {
	t.Helper()
	want := childIPv4
	switch {
	case strings.HasPrefix(cs.Name, "tcp6"), cs.Name == "udp6":
		want = childIPv6
	case cs.Name == "dual listener":
		want = "::"
	}
	if got := cs.Local.Addr().String(); got != want {
		t.Errorf("%s: local address %s, want %s", cs.Name, got, want)
	}
	if cs.Remote.IsValid() && cs.Remote.Addr().String() != want {
		t.Errorf("%s: remote address %s, want %s", cs.Name, cs.Remote.Addr(), want)
	}
}

func TestResolverAndContainerOfLiveProcess(t *testing.T) {
	privtest.Require(t)
	n, _ := newChildNetns(t)
	c := startChild(t, n)
	ownV2 := ownCgroupV2Path(t)

	host := NewResolver(Config{})
	got, err := host.Resolve(c.pid())
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	want := Info{PID: c.pid(), Comm: childComm, Exe: c.exe, CgroupPath: ownV2, StartTime: got.StartTime}
	if got != want || got.StartTime == 0 {
		t.Errorf("Resolve before the move = %+v, want %+v with a start time", got, want)
	}

	id := randomHex(t, 32)
	cgDir, cgPath := makeCgroup(t, "cri-containerd-"+id+".scope")
	if err := os.WriteFile(filepath.Join(cgDir, "cgroup.procs"), []byte(strconv.Itoa(int(c.pid()))), 0o644); err != nil {
		t.Fatalf("move child into %s: %v", cgDir, err)
	}
	// The first resolver remembers the process as it was; a fresh one
	// sees the container.
	r := NewResolver(Config{})
	want = Info{PID: c.pid(), Comm: childComm, Exe: c.exe, ContainerID: id, CgroupPath: cgPath, StartTime: got.StartTime}
	if got, err := r.Resolve(c.pid()); err != nil || got != want {
		t.Errorf("Resolve in the container = %+v, %v; want %+v", got, err, want)
	}

	c.stop()
	if _, err := os.Stat(pidDir(DefaultProcRoot, c.pid())); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("child still in /proc after it was reaped: %v", err)
	}
	if got, err := r.Resolve(c.pid()); err != nil || got != want {
		t.Errorf("Resolve after exit = %+v, %v; want the remembered %+v", got, err, want)
	}
	wantStats(t, r, Stats{Entries: 1, Hits: 1, Misses: 1})
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func BenchmarkScanSockets(b *testing.B) {
	for b.Loop() {
		res, err := Scan(DefaultProcRoot)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(res.Stats.Processes), "procs")
		b.ReportMetric(float64(res.Stats.SocketFDs), "socketfds")
	}
}
