package decoders

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// NfacctdConfig and NfacctdPrimitives are the files StartNfacctd reads from
// its config directory (the repository ships them in configs/pmacct).
const (
	NfacctdConfig     = "nfacctd.conf"
	NfacctdPrimitives = "primitives.lst"
)

// Nfacctd is a running pmacct nfacctd collecting IPFIX on an ephemeral port
// of 127.0.0.1 and printing its aggregates as JSON lines.
type Nfacctd struct {
	addr   *net.UDPAddr
	output string
	cmd    *exec.Cmd
	log    *LockedBuffer
	exited chan struct{}
	err    error // of cmd.Wait, once exited is closed
}

// StartNfacctd runs nfacctd with the config in dir (NfacctdConfig and
// NfacctdPrimitives), overriding only where it listens and writes (and
// flushing every second), and waits until it is ready to collect. t's
// cleanup stops it.
func StartNfacctd(t testing.TB, dir string) *Nfacctd {
	t.Helper()
	path := RequireTool(t, "nfacctd")
	tmp := t.TempDir()
	port, err := freeUDPPort()
	if err != nil {
		t.Fatal(err)
	}
	n := &Nfacctd{
		addr:   &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port},
		output: filepath.Join(tmp, "records.json"),
		log:    &LockedBuffer{},
		exited: make(chan struct{}),
	}
	primitives := filepath.Join(tmp, NfacctdPrimitives)
	if err := copyFile(filepath.Join(dir, NfacctdPrimitives), primitives); err != nil {
		t.Fatal(err)
	}
	conf, err := os.ReadFile(filepath.Join(dir, NfacctdConfig))
	if err != nil {
		t.Fatal(err)
	}
	confPath := filepath.Join(tmp, NfacctdConfig)
	overrides := map[string]string{
		"daemonize":                "false",
		"nfacctd_ip":               "127.0.0.1",
		"nfacctd_port":             fmt.Sprint(port),
		"aggregate_primitives":     primitives,
		"print_output_file":        n.output,
		"print_output_file_append": "true",
		"print_refresh_time":       "1",
	}
	if err := os.WriteFile(confPath, overrideConfig(conf, overrides), 0o644); err != nil {
		t.Fatal(err)
	}

	n.cmd = exec.Command(path, "-f", confPath)
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	// nfacctd forks its plugins: its own process group lets cleanup stop
	// them together.
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("start nfacctd: %v", err)
	}
	go func() {
		n.err = n.cmd.Wait()
		close(n.exited)
	}()
	t.Cleanup(func() { n.stop(t) })
	if err := n.waitReady(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	return n
}

// Addr is where to send IPFIX.
func (n *Nfacctd) Addr() *net.UDPAddr { return n.addr }

// Log is what nfacctd printed so far.
func (n *Nfacctd) Log() string { return n.log.String() }

// WaitRecords polls nfacctd's output until it holds at least want records
// (or timeout) and returns them all. Numbers stay json.Number so 64-bit
// counters keep every digit; pmacct prints custom primitives as strings.
func (n *Nfacctd) WaitRecords(want int, timeout time.Duration) ([]map[string]any, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		records, err := n.records()
		if err != nil {
			return nil, err
		}
		if len(records) >= want {
			return records, nil
		}
		select {
		case <-tick.C:
		case <-n.exited:
			return nil, fmt.Errorf("nfacctd exited (%v) after %d of %d records: %s", n.err, len(records), want, n.Log())
		case <-deadline.C:
			return nil, fmt.Errorf("%d of %d records from nfacctd within %v: %s", len(records), want, timeout, n.Log())
		}
	}
}

// records parses the complete lines of the output file; the print plugin
// may be midway through writing the last one.
func (n *Nfacctd) records() ([]map[string]any, error) {
	data, err := os.ReadFile(n.output)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read nfacctd output: %w", err)
	}
	var records []map[string]any
	for len(data) > 0 {
		line, rest, complete := bytes.Cut(data, []byte("\n"))
		if !complete {
			break
		}
		data = rest
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		var r map[string]any
		if err := dec.Decode(&r); err != nil {
			return nil, fmt.Errorf("nfacctd output line %q: %w", line, err)
		}
		records = append(records, r)
	}
	return records, nil
}

// waitReady polls until the core has bound nfacctd's port (the kernel's UDP
// socket table lists it: it was free when chosen, so that is nfacctd) and the
// print plugin has purged its cache once. Records that reach the core while
// the plugin is still starting are lost, and the plugin may then hang.
func (n *Nfacctd) waitReady(timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		bound, err := udpPortBound(n.addr.Port)
		if err != nil {
			return err
		}
		if bound && strings.Contains(n.Log(), "Purging cache - END") {
			return nil
		}
		select {
		case <-tick.C:
		case <-n.exited:
			return fmt.Errorf("nfacctd exited (%v) before it was ready: %s", n.err, n.Log())
		case <-deadline.C:
			return fmt.Errorf("nfacctd not ready on %v within %v: %s", n.addr, timeout, n.Log())
		}
	}
}

// stop interrupts the core process, which stops its plugins (it ignores
// SIGTERM), and kills its process group if that takes long: the records
// were read by then, so a slow exit is no test failure.
func (n *Nfacctd) stop(t testing.TB) {
	pgid := n.cmd.Process.Pid
	// Plugins left behind, if any; usually the group is gone by then (ESRCH).
	defer func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) }()
	select {
	case <-n.exited:
		return
	default:
	}
	if err := n.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Logf("interrupt nfacctd: %v", err)
	}
	timeout := time.NewTimer(5 * time.Second)
	defer timeout.Stop()
	select {
	case <-n.exited:
	case <-timeout.C:
		t.Logf("nfacctd still running 5s after SIGINT; killing it")
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-n.exited
	}
}

// overrideConfig sets keys in a pmacct config, replacing their lines or
// appending them.
func overrideConfig(conf []byte, overrides map[string]string) []byte {
	var out bytes.Buffer
	done := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(conf))
	for sc.Scan() {
		line := sc.Text()
		key, _, ok := strings.Cut(line, ":")
		key = strings.TrimSpace(key)
		if v, override := overrides[key]; ok && override {
			line = key + ": " + v
			done[key] = true
		}
		out.WriteString(line + "\n")
	}
	for k, v := range overrides {
		if !done[k] {
			out.WriteString(k + ": " + v + "\n")
		}
	}
	return out.Bytes()
}

// freeUDPPort asks the kernel for a port free on 127.0.0.1.
func freeUDPPort() (int, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return 0, fmt.Errorf("find a free UDP port: %w", err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

// udpPortBound reports whether any IPv4 or IPv6 UDP socket is bound to port.
func udpPortBound(port int) (bool, error) {
	suffix := fmt.Sprintf(":%04X", port)
	// thread-self, not /proc/net (the thread group leader's view): a test
	// may hold the main thread inside another network namespace meanwhile.
	// This goroutine's thread is not locked into one, so it sees the host's.
	for _, table := range []string{"/proc/thread-self/net/udp", "/proc/thread-self/net/udp6"} {
		data, err := os.ReadFile(table)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("read %s: %w", table, err)
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			fields := strings.Fields(line)
			if len(fields) > 1 && strings.HasSuffix(fields[1], suffix) {
				return true, nil
			}
		}
	}
	return false, nil
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return fmt.Errorf("copy config: %w", err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		return fmt.Errorf("copy config: %w", err)
	}
	return nil
}
