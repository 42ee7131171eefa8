package deploy_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/podflow/podflow/internal/decoders"
	"github.com/podflow/podflow/internal/netnstest"
	"github.com/podflow/podflow/internal/privtest"
)

// capabilityBits are the capability numbers of linux/capability.h.
var capabilityBits = map[corev1.Capability]uint{
	"DAC_READ_SEARCH": 2, "NET_ADMIN": 12, "SYS_PTRACE": 19, "PERFMON": 38, "BPF": 39,
}

const (
	ownerUID   = 65534 // nobody: the socket owner is another user than podflow
	ownerAddr  = "10.99.0.2"
	ownerPort  = 7000
	senderAddr = "10.99.0.1"
	udpPackets = 10
	udpPayload = 100
)

// podflow, built like the image, runs as root with exactly the DaemonSet's
// capabilities (bounding, permitted and effective sets; no ambient, no new
// privileges), with the DaemonSet's arguments, environment and ConfigMap, in
// a throwaway "node" network namespace whose veth leads to a "pod". It must
// start, turn ready on the readiness probe's path, count the UDP packets the
// node sends into the pod, and name the processes at both ends: this test
// sending, and receiving a process of another user that never touches its
// socket after podflow started, so only the start-up scan of /proc can name
// it. Then each capability is dropped in turn, to show it is needed: without
// BPF, PERFMON or NET_ADMIN podflow does not start; without SYS_PTRACE or
// DAC_READ_SEARCH it counts but no longer names the other user's process.
func TestBinaryRunsWithTheDaemonSetsCapabilities(t *testing.T) {
	privtest.Require(t)
	ip, setpriv := decoders.RequireTool(t, "ip"), decoders.RequireTool(t, "setpriv")
	r := render(t, baseDir)
	cfg, _, err := deployedConfig(t, r)
	if err != nil {
		t.Fatal(err)
	}
	caps := r.container(t).SecurityContext.Capabilities.Add
	bin := buildLikeTheDockerfile(t)

	node, pod := netnstest.New(t), netnstest.New(t)
	node.DisableIPv6(t)
	pod.DisableIPv6(t)
	hostEnd, podEnd := node.AddVethPair(t, "pfdeploy0", "eth0", pod)
	node.AddAddr(t, hostEnd, senderAddr+"/30")
	pod.AddAddr(t, podEnd, ownerAddr+"/30")
	// No ARP: the link then carries exactly the test's packets.
	node.AddNeigh(t, hostEnd, net.ParseIP(ownerAddr), podEnd.Attrs().HardwareAddr)
	node.LinkUp(t, hostEnd)
	pod.LinkUp(t, podEnd)

	// The ConfigMap's collector address, inside the node.
	records := startCollector(t, ip, bin, node, "udp://"+cfg.Collectors[0].Address)
	owner := startSocketOwner(t, ip, setpriv, pod)
	self := testProcess(t)

	for i, run := range []struct {
		name string
		drop corev1.Capability
		// starts: podflow turns ready. The verifier refuses the TC programs'
		// pointer arithmetic without PERFMON; NET_ADMIN is needed to load a
		// TC program at all, BPF for any map.
		starts bool
		// dstNamed: the other user's socket is found by the /proc scan.
		// srcExe: the sender's executable is read; the sender is this test,
		// root but with capabilities podflow lacks, and ptrace access (needed
		// for /proc/PID/exe) then requires CAP_SYS_PTRACE.
		dstNamed, srcExe bool
	}{
		{"the DaemonSet's capabilities", "", true, true, true},
		{"without BPF", "BPF", false, false, false},
		{"without PERFMON", "PERFMON", false, false, false},
		{"without NET_ADMIN", "NET_ADMIN", false, false, false},
		{"without SYS_PTRACE", "SYS_PTRACE", true, false, false},
		{"without DAC_READ_SEARCH", "DAC_READ_SEARCH", true, false, true},
	} {
		t.Run(run.name, func(t *testing.T) {
			keep := slices.DeleteFunc(slices.Clone(caps), func(c corev1.Capability) bool { return c == run.drop })
			if run.drop != "" && !slices.Contains(caps, run.drop) {
				t.Fatalf("the DaemonSet does not add %s", run.drop)
			}
			p := startPodflow(t, ip, setpriv, bin, node, r, keep)
			if !run.starts {
				p.expectFailure(t)
				return
			}
			p.waitReady(t, node, r)
			checkCapabilities(t, p.pid, keep)
			if run.drop == "" {
				reportMemory(t, p.pid, cfg.FlowMapBytes(possibleCPUs(t)), r)
			}

			before := pod.Statistics(t, "eth0").RxPackets
			port := sendUDP(t, node, 7001+i)
			poll(t, "the pod receives the packets", func() bool {
				return pod.Statistics(t, "eth0").RxPackets-before == udpPackets
			})
			p.stop(t, r)

			got := records.flow(t, port)
			if got.packets != udpPackets || got.octets != udpPackets*(20+8+udpPayload) {
				t.Errorf("exported %d packets, %d octets; want %d, %d", got.packets, got.octets, udpPackets, udpPackets*(20+8+udpPayload))
			}
			wantDst, wantSrc := endpoint{}, self
			if run.dstNamed {
				wantDst = owner
			}
			if !run.srcExe {
				wantSrc.exe = ""
			}
			if got.dst != wantDst || got.src != wantSrc {
				t.Errorf("processes: source %+v, destination %+v; want %+v, %+v", got.src, got.dst, wantSrc, wantDst)
			}
		})
	}
}

// runningPodflow is `podflow run` started by startPodflow.
type runningPodflow struct {
	cmd    *exec.Cmd
	pid    int
	stderr *decoders.LockedBuffer
	exited chan struct{}
}

// startPodflow runs podflow in node as root with only the capabilities
// keep, with the DaemonSet's arguments and environment and the ConfigMap's
// file.
func startPodflow(t *testing.T, ip, setpriv, bin string, node *netnstest.Netns, r rendered, keep []corev1.Capability) *runningPodflow {
	t.Helper()
	c := r.container(t)
	set := "-all"
	for _, k := range keep {
		set += ",+" + strings.ToLower(string(k))
	}
	args := []string{"netns", "exec", node.Name, setpriv, "--bounding-set=" + set, "--inh-caps=-all", "--no-new-privs", "--", bin}
	for i, a := range c.Args {
		if i > 0 && c.Args[i-1] == "--config" {
			a = materialise(t, r, a)
		}
		args = append(args, a)
	}
	env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	for _, e := range c.Env {
		v := e.Value
		if e.ValueFrom != nil {
			v = testNodeName // spec.nodeName, as deployedConfig checks
		}
		env = append(env, e.Name+"="+v)
	}
	p := &runningPodflow{cmd: exec.Command(ip, args...), stderr: &decoders.LockedBuffer{}, exited: make(chan struct{})}
	p.cmd.Env, p.cmd.Stderr = env, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.pid = p.cmd.Process.Pid
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("podflow stderr:\n%s", p.stderr.String())
		}
	})

	return p
}

// waitReady waits until the readiness probe's path answers 200 inside node.
func (p *runningPodflow) waitReady(t *testing.T, node *netnstest.Netns, r rendered) {
	t.Helper()
	c := r.container(t)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (conn net.Conn, err error) {
			err = node.Do(func() error {
				conn, err = (&net.Dialer{}).DialContext(ctx, network, addr)
				return err
			})
			return conn, err
		}}, Timeout: 2 * time.Second}
	ready := fmt.Sprintf("http://127.0.0.1:%d%s", namedPort(t, c, "metrics").ContainerPort, c.ReadinessProbe.HTTPGet.Path)
	poll(t, "podflow ready on "+ready, func() bool {
		select {
		case <-p.exited:
			t.Fatalf("podflow exited before it was ready: %v\n%s", p.cmd.ProcessState, p.stderr.String())
		default:
		}
		resp, err := client.Get(ready)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// expectFailure waits for podflow to give up: exit status 1 (a runtime
// failure, not a usage error) with the error logged.
func (p *runningPodflow) expectFailure(t *testing.T) {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(time.Minute):
		t.Fatalf("podflow still running after a minute; want it to fail")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(p.stderr.String(), `"msg":"podflow failed"`) {
		t.Errorf("podflow exited with %d, want 1 and the error logged:\n%s", code, p.stderr.String())
	}
}

// stop sends SIGTERM, as the kubelet does, and expects a clean exit within
// the DaemonSet's termination grace period.
func (p *runningPodflow) stop(t *testing.T, r rendered) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	grace := time.Duration(*r.daemonSet.Spec.Template.Spec.TerminationGracePeriodSeconds) * time.Second
	select {
	case <-p.exited:
	case <-time.After(grace):
		t.Fatalf("podflow still running %v after SIGTERM (the grace period)", grace)
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("podflow exited with %d:\n%s", code, p.stderr.String())
	}
}

// checkCapabilities reads the capability sets podflow runs with.
func checkCapabilities(t *testing.T, pid int, keep []corev1.Capability) {
	t.Helper()
	var mask uint64
	for _, k := range keep {
		bit, ok := capabilityBits[k]
		if !ok {
			t.Fatalf("capability %s: number unknown to this test", k)
		}
		mask |= 1 << bit
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"Name": "podflow", "CapInh": "0000000000000000", "CapAmb": "0000000000000000", "NoNewPrivs": "1",
		"CapPrm": fmt.Sprintf("%016x", mask), "CapEff": fmt.Sprintf("%016x", mask), "CapBnd": fmt.Sprintf("%016x", mask),
	}
	for line := range strings.Lines(string(status)) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
		if w, ok := want[k]; ok {
			if v = strings.TrimSpace(v); v != w {
				t.Errorf("podflow %s: %s, want %s", k, v, w)
			}
			delete(want, k)
		}
	}
	if len(want) != 0 {
		t.Errorf("/proc/%d/status lacks %v", pid, want)
	}
}
