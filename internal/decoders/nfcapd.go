package decoders

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// nfcapd is a running nfdump collector writing to a temporary directory.
type Nfcapd struct {
	addr   *net.UDPAddr
	dir    string
	cmd    *exec.Cmd
	log    *LockedBuffer
	exited chan struct{}
	err    error
}

// StartNfcapd runs nfcapd on a free port of 127.0.0.1 and waits until it
// is bound; t's cleanup stops it if the test did not.
func StartNfcapd(t testing.TB) *Nfcapd {
	t.Helper()
	path := RequireTool(t, "nfcapd")
	port, err := freeUDPPort()
	if err != nil {
		t.Fatal(err)
	}
	n := &Nfcapd{
		addr: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}, dir: t.TempDir(),
		log: &LockedBuffer{}, exited: make(chan struct{}),
	}
	n.cmd = exec.Command(path, "-p", strconv.Itoa(port), "-b", "127.0.0.1", "-w", n.dir)
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("start nfcapd: %v", err)
	}
	go func() {
		n.err = n.cmd.Wait()
		close(n.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-n.exited:
		default:
			_ = n.cmd.Process.Kill()
			<-n.exited
		}
	})
	pollUntil(t, "nfcapd bound to its port", func() bool {
		select {
		case <-n.exited:
			t.Fatalf("nfcapd exited (%v): %s", n.err, n.output())
		default:
		}
		q, ok := udpQueue(t, port)
		return ok && q.rx == 0
	})
	return n
}

func (n *Nfcapd) output() string {
	return n.log.String()
}

// Stop waits until nfcapd has read every datagram waiting in its socket,
// checks the kernel dropped none, and terminates it, which flushes its
// file. It returns nfcapd's directory, which NfdumpRecords and
// SequenceErrors read whole: nfcapd starts a new file at every 5-minute
// boundary (wall clock), so a test that runs across one leaves two.
func (n *Nfcapd) Stop(t testing.TB) string {
	t.Helper()
	pollUntil(t, "nfcapd reading its socket empty", func() bool {
		q, ok := udpQueue(t, n.addr.Port)
		if ok && q.drops != 0 {
			t.Fatalf("the kernel dropped %d datagrams to nfcapd", q.drops)
		}
		return ok && q.rx == 0
	})
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	n.awaitExit(t)
	files, err := nfcapdFiles(n.dir)
	if err != nil || len(files) == 0 {
		t.Fatalf("nfcapd files %v (%v): %s", files, err, n.output())
	}
	return n.dir
}

// nfcapdFiles lists the files nfcapd finished in dir (not its
// nfcapd.current.* file of the running interval).
func nfcapdFiles(dir string) ([]string, error) {
	return filepath.Glob(filepath.Join(dir, "nfcapd.[0-9]*"))
}

// awaitExit waits for nfcapd to end after SIGTERM. nfcapd looks at the
// signal's flag between datagrams: one that lands just before it blocks in
// recvfrom is seen at the next datagram, or at its rotation alarm minutes
// later (a test once waited 10 s for it). An empty datagram every second
// wakes it; nfcapd ignores those (no flow, not a bad packet).
func (n *Nfcapd) awaitExit(t testing.TB) {
	t.Helper()
	deadline := time.After(nfWait)
	nudge := time.NewTicker(time.Second)
	defer nudge.Stop()
	for {
		select {
		case <-n.exited:
			return
		case <-nudge.C:
			SendUDP(t, n.addr, [][]byte{{}})
		case <-deadline:
			t.Fatalf("nfcapd still running %v after SIGTERM", nfWait)
		}
	}
}

// SequenceErrors is what nfcapd's closing lines (one per file it wrote)
// and nfdump -I over dir (Stop's result) say about sequence failures,
// which must agree.
func (n *Nfcapd) SequenceErrors(t testing.TB, dir string) int {
	t.Helper()
	lines := regexp.MustCompile(`Sequence Errors: (\d+)`).FindAllStringSubmatch(n.output(), -1)
	if lines == nil {
		t.Fatalf("no sequence errors in nfcapd's output: %s", n.output())
	}
	total := 0
	for _, m := range lines {
		v, _ := strconv.Atoi(m[1])
		total += v
	}
	out := runNfdump(t, "-I", "-R", dir)
	m := regexp.MustCompile(`Sequence failures: (\d+)`).FindSubmatch(out)
	if m == nil || string(m[1]) != strconv.Itoa(total) {
		t.Fatalf("nfcapd says %d sequence errors, nfdump -I: %s", total, out)
	}
	return total
}

func runNfdump(t testing.TB, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(RequireTool(t, "nfdump"), args...)
	cmd.Env = append(os.Environ(), "TZ=UTC") // nfdump prints local times
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v: %s", cmd, err, stderr.Bytes())
	}
	return out
}

// NfdumpRecords reads the records of every file in dir (Stop's result)
// with nfdump's JSON output.
func NfdumpRecords(t testing.TB, dir string) []map[string]any {
	t.Helper()
	out := runNfdump(t, "-R", dir, "-o", "json")
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	var recs []map[string]any
	if err := dec.Decode(&recs); err != nil {
		t.Fatalf("nfdump json: %v: %s", err, out)
	}
	return recs
}

// NfdumpSamplers returns the distinct sampler lines nfdump -E prints for
// the files in dir (Stop's result). nfcapd writes its exporters into every
// file, so one sampler seen in two files is listed once.
func NfdumpSamplers(t testing.TB, dir string) []string {
	t.Helper()
	files, err := nfcapdFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	var samplers []string
	for _, f := range files {
		for _, l := range regexp.MustCompile(`(?m)^\s*Sampler: .*$`).FindAllString(string(runNfdump(t, "-E", f)), -1) {
			if l = strings.TrimSpace(l); !slices.Contains(samplers, l) {
				samplers = append(samplers, l)
			}
		}
	}
	return samplers
}

// NfdumpFlags turns nfdump's flag string ("CEUAPRSF", '.' for unset) back
// into the TCP flags octet.
func NfdumpFlags(s string) (uint8, error) {
	if len(s) != 8 {
		return 0, fmt.Errorf("tcp flags %q", s)
	}
	var v uint8
	for i, c := range s {
		if c != '.' {
			if c != rune("CEUAPRSF"[i]) {
				return 0, fmt.Errorf("tcp flags %q", s)
			}
			v |= 1 << (7 - i)
		}
	}
	return v, nil
}

// NfdumpTime parses nfdump's JSON times (UTC under TZ=UTC).
func NfdumpTime(v any) (time.Time, error) {
	s, _ := v.(string)
	return time.Parse("2006-01-02T15:04:05.000", s)
}

// socketQueue is a UDP socket's receive queue and drop count.
type socketQueue struct{ rx, drops uint64 }

// udpQueue finds the IPv4 UDP socket bound to 127.0.0.1:port in the
// kernel's socket table.
func udpQueue(t testing.TB, port int) (socketQueue, bool) {
	t.Helper()
	data, err := os.ReadFile("/proc/thread-self/net/udp") // this thread's namespace, not the main thread's
	if errors.Is(err, os.ErrNotExist) {
		t.Fatal("no /proc/net/udp")
	}
	if err != nil {
		t.Fatal(err)
	}
	local := fmt.Sprintf("0100007F:%04X", port)
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 13 || f[1] != local {
			continue
		}
		_, rx, _ := strings.Cut(f[4], ":")
		q, err1 := strconv.ParseUint(rx, 16, 64)
		drops, err2 := strconv.ParseUint(f[12], 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("/proc/net/udp line %q", line)
		}
		return socketQueue{rx: q, drops: drops}, true
	}
	return socketQueue{}, false
}

// Addr is where nfcapd listens.
func (n *Nfcapd) Addr() *net.UDPAddr { return n.addr }

// nfWait bounds the nfcapd helpers' waits; no test asserts on timing.
const nfWait = 10 * time.Second

// pollUntil checks cond until it holds, failing t after nfWait.
func pollUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(nfWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond) // polling a real condition with a deadline
	}
}
