package check

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/podflow/podflow/attach"
	"github.com/podflow/podflow/config"
	"github.com/podflow/podflow/internal/bpftest"
	"github.com/podflow/podflow/internal/privtest"
)

// The real probes on this machine (Linux 6.18, root, hybrid cgroups,
// nf_conntrack loaded with events=2 and acct=0, no Kubernetes): everything
// works but Kubernetes, which is off outside a cluster.
func TestProbesOnThisMachine(t *testing.T) {
	privtest.Require(t)
	if _, ok := os.LookupEnv("KUBERNETES_SERVICE_HOST"); ok {
		t.Fatal("KUBERNETES_SERVICE_HOST is set: this test expects to run outside a cluster")
	}
	linksBefore := hostLinks(t)
	results := Run(t.Context(), Probes(config.Defaults()))

	var got []string
	for _, r := range results {
		got = append(got, string(r.Status)+" "+r.Name)
	}
	want := []string{
		"ok kernel BTF", "ok tc programs", "ok attach",
		"ok tracepoint tcp_probe", "ok tracepoint tcp_retransmit_skb", "ok tracepoint tcp_retransmit_synack",
		"ok tracepoint kfree_skb", "ok tracepoint inet_sock_set_state", "ok tracepoint sock_send_length",
		"ok tracepoint sock_recv_length",
		"ok conntrack", "ok nf_conntrack_events", "ok nf_conntrack_acct",
		"ok cgroups", "ok /proc access", "ok capabilities",
		"degraded kubernetes",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("statuses\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	byName := map[string]Result{}
	for _, r := range results {
		byName[r.Name] = r
	}
	wantDetail := map[string]string{
		"attach":               "TCX links (tried on lo of a private network namespace)",
		"tracepoint tcp_probe": "attached (RTT)",
		"nf_conntrack_events":  "2: conntrack events enabled once a listener subscribes: connections created before Start send no DESTROY, periodic dumps retire them",
		"nf_conntrack_acct":    "0: per-connection counters off; not needed: the Table reads no conntrack counters",
		"cgroups":              "cgroup hybrid (9 v1 hierarchies, v2 at /sys/fs/cgroup/unified); host PID namespace, /proc/1/cgroup readable",
		"/proc access":         "/proc/1/fd readable: sockets open before start are attributed",
		"capabilities":         "CapEff 000001fffeffffff: CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH",
		"kubernetes":           "kube: not in a cluster (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT unset) and no kubeconfig given",
	}
	for name, want := range wantDetail {
		if got := byName[name].Detail; got != want {
			t.Errorf("%s: detail %q, want %q", name, got, want)
		}
	}
	if r := byName["kubernetes"]; r.Effect != EffectKubeOff {
		t.Errorf("kubernetes effect %q", r.Effect)
	}
	if r := byName["tc programs"]; !r.Required || !strings.HasPrefix(r.Detail, "loaded (kernel 6.18.") {
		t.Errorf("tc programs: %+v", r)
	}
	if r := byName["kernel BTF"]; !strings.HasPrefix(r.Detail, "/sys/kernel/btf/vmlinux loaded; ") {
		t.Errorf("kernel BTF: %+v", r)
	}
	if !CanRun(results) {
		t.Error("CanRun false")
	}
	// The attach probe worked in a namespace of its own: the host's links,
	// and their qdiscs, are as they were.
	if after := hostLinks(t); after != linksBefore {
		t.Errorf("host links changed:\nbefore %s\nafter  %s", linksBefore, after)
	}
}

// hostLinks describes this namespace's devices and their qdiscs.
func hostLinks(t *testing.T) string {
	t.Helper()
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, l := range links {
		// Only real devices (lo, the uplinks): other packages' tests run in
		// parallel and add and remove veths, bridges and tuns in this
		// namespace.
		if l.Type() != "device" {
			continue
		}
		qdiscs, err := netlink.QdiscList(l)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s(", l.Attrs().Name)
		for _, q := range qdiscs {
			fmt.Fprintf(&b, "%s ", q.Type())
		}
		b.WriteString(") ")
	}
	return b.String()
}

// A tracepoint the kernel lacks makes its line unavailable with the
// kernel's reason and RTT off; the other six still attach.
func TestTracepointProbeWithAMissingTracepoint(t *testing.T) {
	privtest.Require(t)
	results := TracepointProbe(config.Defaults(), bpftest.OpenEventsWithMissingTracepoint).Run(t.Context())
	if len(results) != 7 {
		t.Fatalf("results %+v", results)
	}
	r := results[0]
	want := Result{Name: "tracepoint tcp_probe", Feature: FeatureRTT, Status: Unavailable, Effect: "RTT off; counters keep flowing",
		Detail: "load tcp_probe: program tcp_probe: attach Tracing/TraceRawTp: raw_tp podflow_no_such_tracepoint not supported"}
	if r != want {
		t.Errorf("tcp_probe:\n%+v\nwant\n%+v", r, want)
	}
	for _, r := range results[1:] {
		if r.Status != OK {
			t.Errorf("%s: %s %q", r.Name, r.Status, r.Detail)
		}
	}
	features := DegradedFeatures(results)
	if len(features) != 1 || features[0].Name != FeatureRTT || features[0].Detail != want.Detail {
		t.Errorf("degraded features %+v", features)
	}
}

// Programs the watcher refuses make attach unavailable, and podflow unable
// to run.
func TestAttachResultWithoutPrograms(t *testing.T) {
	privtest.Require(t)
	got := AttachResult(t.Context(), attach.Programs{})
	want := Result{Name: "attach", Status: Unavailable, Required: true, Effect: EffectCannotRun,
		Detail: "attach: the L2 ingress and egress programs are required"}
	if got != want {
		t.Fatalf("%+v, want %+v", got, want)
	}
}
