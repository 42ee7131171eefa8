package deploy_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/podflow/podflow/internal/decoders"
	"github.com/podflow/podflow/internal/netnstest"
)

// endpoint is the process an exported record names at one end.
type endpoint struct {
	pid  uint32
	name string
	exe  string
}

// testProcess is this test process as a record names it.
func testProcess(t *testing.T) endpoint {
	t.Helper()
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	return endpoint{pid: uint32(os.Getpid()), name: strings.TrimSuffix(string(comm), "\n"), exe: exe}
}

// startSocketOwner binds a UDP socket in the pod and hands it to a `sleep`
// running there as ownerUID with no capabilities, then closes its own copy:
// the sleep is the socket's only holder and never reads it.
func startSocketOwner(t *testing.T, ip, setpriv string, pod *netnstest.Netns) endpoint {
	t.Helper()
	sleep := decoders.RequireTool(t, "sleep")
	var f *os.File
	err := pod.Do(func() error {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(ownerAddr), Port: ownerPort})
		if err != nil {
			return err
		}
		defer c.Close()
		f, err = c.File()
		return err
	})
	if err != nil {
		t.Fatalf("socket in the pod: %v", err)
	}
	uid := strconv.Itoa(ownerUID)
	cmd := exec.Command(ip, "netns", "exec", pod.Name, setpriv, "--reuid="+uid, "--regid="+uid, "--clear-groups",
		"--inh-caps=-all", "--bounding-set=-all", "--", sleep, "infinity")
	cmd.ExtraFiles = []*os.File{f} // fd 3
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	pid := cmd.Process.Pid // ip and setpriv exec, they do not fork
	dir := fmt.Sprintf("/proc/%d", pid)
	poll(t, "the socket owner runs sleep", func() bool {
		comm, err := os.ReadFile(dir + "/comm")
		return err == nil && string(comm) == "sleep\n"
	})
	var st syscall.Stat_t
	if err := syscall.Stat(dir+"/fd", &st); err != nil || st.Uid != ownerUID || st.Mode&0o777 != 0o500 {
		t.Fatalf("%s/fd: uid %d mode %o, %v; want uid %d mode 500", dir, st.Uid, st.Mode&0o777, err, ownerUID)
	}
	if link, err := os.Readlink(dir + "/fd/3"); err != nil || !strings.HasPrefix(link, "socket:[") {
		t.Fatalf("%s/fd/3: %q, %v; want the socket", dir, link, err)
	}
	exe, err := os.Readlink(dir + "/exe")
	if err != nil {
		t.Fatal(err)
	}
	return endpoint{pid: uint32(pid), name: "sleep", exe: exe}
}

// sendUDP sends udpPackets datagrams of udpPayload bytes from the node's
// address and port to the pod's socket, and returns the source port.
func sendUDP(t *testing.T, node *netnstest.Netns, port int) int {
	t.Helper()
	err := node.Do(func() error {
		c, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.ParseIP(senderAddr), Port: port},
			&net.UDPAddr{IP: net.ParseIP(ownerAddr), Port: ownerPort})
		if err != nil {
			return err
		}
		defer c.Close()
		for range udpPackets {
			if _, err := c.Write(make([]byte, udpPayload)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("send UDP: %v", err)
	}
	return port
}

// reportMemory logs what podflow takes on this machine, the kernel maps
// (memlock of its BPF map fds) and its resident memory, and checks both fit
// the DaemonSet's memory limit and that FlowMapBytes is no more than what
// the kernel charges.
func reportMemory(t *testing.T, pid int, flowMapBytes uint64, r rendered) {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fdinfo", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var memlock uint64
	maps := 0
	for _, e := range entries {
		info, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil || !bytes.Contains(info, []byte("\nmap_type:")) {
			continue // closed meanwhile, or not a map
		}
		for line := range strings.Lines(string(info)) {
			if v, ok := strings.CutPrefix(line, "memlock:"); ok {
				n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				memlock += n
				maps++
			}
		}
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	var rssKiB uint64
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			rssKiB, _ = strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	limit := r.container(t).Resources.Limits.Memory().Value()
	t.Logf("on %d possible CPUs: %d BPF maps, memlock %.1f MiB (FlowMapBytes %.1f MiB), RSS %.1f MiB; limit %d MiB",
		possibleCPUs(t), maps, float64(memlock)/(1<<20), float64(flowMapBytes)/(1<<20), float64(rssKiB)/1024, limit>>20)
	if memlock < flowMapBytes {
		t.Errorf("the kernel charges %d B for podflow's maps, less than FlowMapBytes %d B", memlock, flowMapBytes)
	}
	if rssKiB == 0 || int64(memlock+rssKiB<<10) > limit {
		t.Errorf("maps %d B + RSS %d KiB do not fit the %d B limit", memlock, rssKiB, limit)
	}
}

// possibleCPUs counts /sys/devices/system/cpu/possible, the CPUs per-CPU
// maps are allocated for.
func possibleCPUs(t *testing.T) int {
	t.Helper()
	data, err := os.ReadFile("/sys/devices/system/cpu/possible")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, span := range strings.Split(strings.TrimSpace(string(data)), ",") {
		lo, hi, isRange := strings.Cut(span, "-")
		if !isRange {
			hi = lo
		}
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil {
			t.Fatalf("cpu/possible %q", data)
		}
		n += b - a + 1
	}
	return n
}

// collectedRecords are the JSON lines of a `podflow collect`.
type collectedRecords struct{ out *decoders.LockedBuffer }

// startCollector runs `podflow collect` inside node.
func startCollector(t *testing.T, ip, bin string, node *netnstest.Netns, listen string) collectedRecords {
	t.Helper()
	out, stderr := &decoders.LockedBuffer{}, &decoders.LockedBuffer{}
	cmd := exec.Command(ip, "netns", "exec", node.Name, bin, "collect", "--listen", listen, "--format", "json")
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.Stdout, cmd.Stderr = out, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("collector stderr:\n%s", stderr.String())
		}
	})
	poll(t, "the collector listens", func() bool { return strings.Contains(stderr.String(), "collector listening") })
	return collectedRecords{out: out}
}

// collectedFlow sums the records of one flow.
type collectedFlow struct {
	packets, octets uint64
	src, dst        endpoint
	records         int
}

// flow waits for the records of the test's UDP flow from source port port
// and sums them (a record leaves at the latest at podflow's exit).
func (c collectedRecords) flow(t *testing.T, port int) collectedFlow {
	t.Helper()
	var f collectedFlow
	poll(t, fmt.Sprintf("records of the flow from port %d", port), func() bool {
		f = collectedFlow{}
		sc := bufio.NewScanner(strings.NewReader(c.out.String()))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var rec struct {
				Src      string `json:"sourceIPv4Address"`
				Dst      string `json:"destinationIPv4Address"`
				SrcPort  int    `json:"sourceTransportPort"`
				DstPort  int    `json:"destinationTransportPort"`
				Proto    int    `json:"protocolIdentifier"`
				Packets  uint64 `json:"packetDeltaCount"`
				Octets   uint64 `json:"octetDeltaCount"`
				SrcPID   uint32 `json:"SRC_PROC_PID"`
				SrcName  string `json:"SRC_PROC_NAME"`
				SrcExe   string `json:"sourceProcessExecutable"`
				DstPID   uint32 `json:"DST_PROC_PID"`
				DstName  string `json:"DST_PROC_NAME"`
				DstExe   string `json:"destinationProcessExecutable"`
				IsOption bool   `json:"options"`
			}
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				t.Fatalf("collector output %q: %v", sc.Text(), err)
			}
			if rec.IsOption || rec.Proto != 17 || rec.Src != senderAddr || rec.SrcPort != port || rec.Dst != ownerAddr || rec.DstPort != ownerPort {
				continue
			}
			f.records++
			f.packets += rec.Packets
			f.octets += rec.Octets
			if rec.SrcPID != 0 {
				f.src = endpoint{pid: rec.SrcPID, name: rec.SrcName, exe: rec.SrcExe}
			}
			if rec.DstPID != 0 {
				f.dst = endpoint{pid: rec.DstPID, name: rec.DstName, exe: rec.DstExe}
			}
		}
		return f.records > 0
	})
	return f
}

// poll waits for cond, failing t after a minute.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond) // polling a real condition, with a deadline
	}
}
