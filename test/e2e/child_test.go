package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/podflow/podflow/internal/kubetest"
	"github.com/podflow/podflow/internal/netnstest"
)

// childEnv makes the test binary run as a child process driven over stdin
// (see childMain) instead of running the tests: a real process with a known
// pid, name and executable, started inside a pod's network namespace.
const childEnv = "PODFLOW_E2E_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain(os.Stdin, os.Stdout))
	}
	kubetest.Main(m) // runs the tests; stops the shared API server if one started
}

// childMain runs commands, one per line, answering "ok [detail]" or
// "error ...": "tcp ADDR" / "udp ADDR" dial, "send N" writes N bytes over
// TCP or N datagrams of 64 bytes over UDP, "finish" closes cleanly (TCP:
// half-close, read to EOF), "quit" exits.
func childMain(in io.Reader, out io.Writer) int {
	var conn net.Conn
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		var err error
		detail := ""
		switch f[0] {
		case "tcp", "udp":
			conn, err = net.DialTimeout(f[0], f[1], ioLimit)
			if err == nil {
				detail = conn.LocalAddr().String()
			}
		case "send":
			n, _ := strconv.Atoi(f[1])
			if _, isTCP := conn.(*net.TCPConn); isTCP {
				_, err = conn.Write(make([]byte, n))
			} else {
				for i := 0; i < n && err == nil; i++ {
					_, err = conn.Write(make([]byte, 64))
				}
			}
		case "finish":
			if tc, isTCP := conn.(*net.TCPConn); isTCP {
				if err = tc.CloseWrite(); err == nil {
					tc.SetReadDeadline(time.Now().Add(ioLimit))
					_, err = io.Copy(io.Discard, tc)
				}
			}
			if cerr := conn.Close(); err == nil {
				err = cerr
			}
		case "quit":
			return 0
		default:
			err = fmt.Errorf("unknown command %q", f[0])
		}
		if err != nil {
			fmt.Fprintf(out, "error %v\n", err)
			continue
		}
		fmt.Fprintf(out, "ok %s\n", detail)
	}
	return 0
}

// child is a child process running childMain in a network namespace.
type child struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Scanner
	pid    uint32
	exited bool
}

// startChild starts the test binary as a child inside ns (ip netns exec
// execs it, so the pid is the child's own).
func startChild(t *testing.T, ns *netnstest.Netns) *child {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns.Name, os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, in: in, out: bufio.NewScanner(out), pid: uint32(cmd.Process.Pid)}
	t.Cleanup(func() { c.exit(t) })
	return c
}

// exit ends the child and waits until it is gone (its pid no longer in
// /proc). Safe to call twice.
func (c *child) exit(t *testing.T) {
	t.Helper()
	if c.exited {
		return
	}
	c.exited = true
	c.in.Close()
	if err := c.cmd.Wait(); err != nil {
		t.Errorf("child %d: %v", c.pid, err)
	}
}

// do sends one command and returns the detail of its "ok" answer.
func (c *child) do(t *testing.T, command string) string {
	t.Helper()
	if _, err := fmt.Fprintln(c.in, command); err != nil {
		t.Fatalf("child %d: %v", c.pid, err)
	}
	if !c.out.Scan() {
		t.Fatalf("child %d: no answer to %q: %v", c.pid, command, c.out.Err())
	}
	reply := c.out.Text()
	if !strings.HasPrefix(reply, "ok") {
		t.Fatalf("child %d: %q: %s", c.pid, command, reply)
	}
	return strings.TrimSpace(strings.TrimPrefix(reply, "ok"))
}

// executable is the path the kernel reports for the test binary.
func executable(t *testing.T) string {
	t.Helper()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	return exe
}
