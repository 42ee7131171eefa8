package main

import (
	"bufio"
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildPodflow builds this command with a known version and commit.
func buildPodflow(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go tool not found: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "podflow")
	ldflags := "-X github.com/podflow/podflow/config.Version=v1.2.3-test -X github.com/podflow/podflow/config.Commit=abc1234"
	cmd := exec.Command(goTool, "build", "-ldflags", ldflags, "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runBinary runs bin with args and an environment without PODFLOW_* variables.
func runBinary(t *testing.T, bin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("%s %q: %v", bin, args, err)
	}
	return code, out.String(), errOut.String()
}

func TestBinary(t *testing.T) {
	bin := buildPodflow(t)

	t.Run("version", func(t *testing.T) {
		code, stdout, stderr := runBinary(t, bin, "version")
		if code != 0 || !strings.HasPrefix(stdout, "podflow v1.2.3-test (commit abc1234, go") {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
	})
	t.Run("bad duration", func(t *testing.T) {
		code, _, stderr := runBinary(t, bin, "--active-timeout", "bogus")
		if code != 2 || !strings.Contains(stderr, "--active-timeout") {
			t.Fatalf("exit %d, stderr %q; want 2 naming --active-timeout", code, stderr)
		}
	})
	t.Run("bad collector", func(t *testing.T) {
		code, _, stderr := runBinary(t, bin, "--collector", "http://x:1")
		if code != 2 || !strings.Contains(stderr, "--collector") {
			t.Fatalf("exit %d, stderr %q; want 2 naming --collector", code, stderr)
		}
	})
	t.Run("collect stops on SIGTERM", func(t *testing.T) {
		cmd := exec.Command(bin, "collect", "--listen", "udp://127.0.0.1:0")
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait for the line logged once it listens: the signal handler is
		// installed by then.
		listening := make(chan struct{})
		done := make(chan struct{})
		var logged strings.Builder // read only after done
		go func() {
			defer close(done)
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
				logged.WriteString(sc.Text() + "\n")
				if strings.Contains(sc.Text(), `"msg":"collector listening"`) {
					close(listening)
				}
			}
		}()
		select {
		case <-listening:
		case <-done:
			cmd.Wait()
			t.Fatalf("collector exited without listening:\n%s", logged.String())
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
			cmd.Wait()
			t.Fatalf("collector did not report listening:\n%s", logged.String())
		}
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case <-done: // stderr closed: the process is exiting
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Errorf("collector did not stop on SIGTERM")
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("after SIGTERM: %v\n%s", err, logged.String())
		}
	})
}
