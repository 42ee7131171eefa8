package deploy_test

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"slices"
	"strconv"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/podflow/podflow/config"
	"github.com/podflow/podflow/metrics"
)

// podflowCapabilities is what podflow needs and all it gets (see the
// comments in base/daemonset.yaml; TestBinaryRunsWithTheDaemonSetsCapabilities
// shows the two /proc capabilities are each necessary).
var podflowCapabilities = []corev1.Capability{"BPF", "DAC_READ_SEARCH", "NET_ADMIN", "PERFMON", "SYS_PTRACE"}

const (
	metricsPort = 9750
	// The memory limit is sized for nodes of up to sizedForCPUs possible
	// CPUs: the kernel maps of the default max-flows plus userSpaceBudget
	// (base/daemonset.yaml says the same).
	sizedForCPUs    = 32
	userSpaceBudget = 256 << 20
	// systemNodeCriticalPriority is the value of the built-in
	// system-node-critical PriorityClass.
	systemNodeCriticalPriority = 2000001000
)

func TestKustomizationRendersTheExpectedObjects(t *testing.T) {
	r := render(t, baseDir)
	var got []string
	for _, o := range r.objects {
		got = append(got, o.GetObjectKind().GroupVersionKind().Kind)
	}
	want := []string{"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "DaemonSet"}
	if !slices.Equal(got, want) {
		t.Errorf("kinds %q, want %q", got, want)
	}
	if got := r.namespace.Labels["pod-security.kubernetes.io/enforce"]; got != "privileged" {
		t.Errorf("Namespace label pod-security.kubernetes.io/enforce = %q, want privileged (hostNetwork, hostPID, capabilities)", got)
	}
	for _, o := range r.objects {
		if sa, ok := o.(*corev1.ServiceAccount); ok && sa.Name != r.daemonSet.Spec.Template.Spec.ServiceAccountName {
			t.Errorf("DaemonSet runs as ServiceAccount %q, the base's is %q", r.daemonSet.Spec.Template.Spec.ServiceAccountName, sa.Name)
		}
	}
	for _, ns := range []string{r.configMap.Namespace, r.daemonSet.Namespace} {
		if ns != r.namespace.Name {
			t.Errorf("object in namespace %q, want %q", ns, r.namespace.Name)
		}
	}
}

func TestConfigMapCarriesConfigsPodflowYAML(t *testing.T) {
	want, err := os.ReadFile(configSource)
	if err != nil {
		t.Fatal(err)
	}
	copied, err := os.ReadFile(baseDir + "/podflow.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(copied, want) {
		t.Errorf("deploy/base/podflow.yaml differs from configs/podflow.yaml: run cp configs/podflow.yaml deploy/base/podflow.yaml")
	}
	r := render(t, baseDir)
	if len(r.configMap.Data) != 1 || len(r.configMap.BinaryData) != 0 {
		t.Errorf("ConfigMap keys: %d data, %d binary; want podflow.yaml only", len(r.configMap.Data), len(r.configMap.BinaryData))
	}
	if got := r.configMap.Data["podflow.yaml"]; got != string(want) {
		t.Errorf("ConfigMap podflow.yaml differs from configs/podflow.yaml:\n%s", got)
	}
}

func TestDaemonSetIsNotPrivilegedAndAddsOnlyPodflowsCapabilities(t *testing.T) {
	r := render(t, baseDir)
	spec := r.daemonSet.Spec.Template.Spec
	if !spec.HostNetwork || !spec.HostPID || spec.HostIPC {
		t.Errorf("hostNetwork %v, hostPID %v, hostIPC %v; want true, true, false", spec.HostNetwork, spec.HostPID, spec.HostIPC)
	}
	if spec.DNSPolicy != corev1.DNSClusterFirstWithHostNet {
		t.Errorf("dnsPolicy %q, want ClusterFirstWithHostNet", spec.DNSPolicy)
	}
	if spec.SecurityContext != nil && !reflect.DeepEqual(*spec.SecurityContext, corev1.PodSecurityContext{}) {
		t.Errorf("pod securityContext %+v: keep every setting on the container", *spec.SecurityContext)
	}
	for _, v := range spec.Volumes {
		if v.ConfigMap == nil {
			t.Errorf("volume %s is not the ConfigMap: no host path or other volume is needed", v.Name)
		}
	}
	all := append(append([]corev1.Container(nil), spec.InitContainers...), spec.Containers...)
	for _, c := range all {
		sc := c.SecurityContext
		if sc == nil {
			t.Fatalf("container %s: no securityContext", c.Name)
		}
		if sc.Privileged == nil || *sc.Privileged {
			t.Errorf("container %s: privileged must be set to false", c.Name)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("container %s: allowPrivilegeEscalation must be false", c.Name)
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("container %s: readOnlyRootFilesystem must be true", c.Name)
		}
		if sc.RunAsUser == nil || *sc.RunAsUser != 0 {
			t.Errorf("container %s: runAsUser must be 0 (capabilities are only effective for root)", c.Name)
		}
		if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("container %s: seccompProfile %+v, want RuntimeDefault", c.Name, sc.SeccompProfile)
		}
		if sc.Capabilities == nil {
			t.Fatalf("container %s: no capabilities", c.Name)
		}
		if !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
			t.Errorf("container %s: capabilities.drop %q, want [ALL]", c.Name, sc.Capabilities.Drop)
		}
		if add := slices.Sorted(slices.Values(sc.Capabilities.Add)); !slices.Equal(add, podflowCapabilities) {
			t.Errorf("container %s: capabilities.add %q, want exactly %q", c.Name, add, podflowCapabilities)
		}
	}
}

func TestDaemonSetSchedulingAndRollout(t *testing.T) {
	r := render(t, baseDir)
	ds := r.daemonSet
	spec := ds.Spec.Template.Spec
	if spec.PriorityClassName != "system-node-critical" {
		t.Errorf("priorityClassName %q", spec.PriorityClassName)
	}
	if want := []corev1.Toleration{{Operator: corev1.TolerationOpExists}}; !reflect.DeepEqual(spec.Tolerations, want) {
		t.Errorf("tolerations %+v, want %+v (every taint)", spec.Tolerations, want)
	}
	if spec.TerminationGracePeriodSeconds == nil || *spec.TerminationGracePeriodSeconds != 30 {
		t.Errorf("terminationGracePeriodSeconds %v, want 30", spec.TerminationGracePeriodSeconds)
	}
	u := ds.Spec.UpdateStrategy
	one, zero := intstr.FromInt32(1), intstr.FromInt32(0)
	if u.Type != appsv1.RollingUpdateDaemonSetStrategyType || u.RollingUpdate == nil ||
		!reflect.DeepEqual(u.RollingUpdate.MaxUnavailable, &one) || !reflect.DeepEqual(u.RollingUpdate.MaxSurge, &zero) {
		t.Errorf("updateStrategy %+v, want RollingUpdate maxUnavailable 1 maxSurge 0", u)
	}
	if sel := ds.Spec.Selector.MatchLabels; !reflect.DeepEqual(sel, ds.Spec.Template.Labels) {
		t.Errorf("selector %v does not equal the template's labels %v", sel, ds.Spec.Template.Labels)
	}
}

func TestDeployedConfigurationLoadsAndValidates(t *testing.T) {
	r := render(t, baseDir)
	cfg, file, err := deployedConfig(t, r)
	if err != nil {
		t.Fatalf("config.Load with the DaemonSet's args, env and ConfigMap: %v", err)
	}
	if err := cfg.Validate(); err != nil { // Load validates too: this says so explicitly
		t.Fatalf("Validate: %v", err)
	}
	// The ConfigMap holds every option at its default: only what the
	// DaemonSet sets differs.
	want := config.Defaults()
	want.ConfigFile = file
	want.NodeName = testNodeName
	want.MetricsListen = "0.0.0.0:" + strconv.Itoa(metricsPort)
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("deployed configuration:\n%+v\nwant:\n%+v", *cfg, *want)
	}
	_, port, err := net.SplitHostPort(cfg.MetricsListen)
	if err != nil {
		t.Fatal(err)
	}
	c := r.container(t)
	if p := namedPort(t, c, "metrics"); strconv.Itoa(int(p.ContainerPort)) != port || p.Protocol != corev1.ProtocolTCP {
		t.Errorf("port metrics %d/%s, podflow listens on %s/TCP", p.ContainerPort, p.Protocol, port)
	}
}

func TestMemoryLimitHoldsTheKernelMaps(t *testing.T) {
	r := render(t, baseDir)
	cfg, _, err := deployedConfig(t, r)
	if err != nil {
		t.Fatal(err)
	}
	res := r.container(t).Resources
	limit, request := res.Limits[corev1.ResourceMemory], res.Requests[corev1.ResourceMemory]
	need := resource.NewQuantity(int64(cfg.FlowMapBytes(sizedForCPUs))+userSpaceBudget, resource.BinarySI)
	if limit.Cmp(*need) < 0 {
		t.Errorf("memory limit %s < %s: the maps of %d flows on %d CPUs (%d B) + %d MiB", limit.String(), need.String(),
			cfg.MaxFlows, sizedForCPUs, cfg.FlowMapBytes(sizedForCPUs), userSpaceBudget>>20)
	}
	if request.IsZero() || request.Cmp(limit) > 0 {
		t.Errorf("memory request %s, limit %s: want 0 < request <= limit", request.String(), limit.String())
	}
	if _, ok := res.Limits[corev1.ResourceCPU]; ok {
		t.Errorf("CPU limit set: throttling delays the drain and fills the kernel map")
	}
	if res.Requests.Cpu().IsZero() {
		t.Errorf("no CPU request")
	}
}

// The probes and the scrape annotations must name paths podflow serves, on
// the port it listens on. The metrics package exports no path constants, so
// the paths are checked by asking its handler.
func TestProbesAndScrapeHitPathsPodflowServes(t *testing.T) {
	r := render(t, baseDir)
	c := r.container(t)
	port := namedPort(t, c, "metrics")
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"startup", c.StartupProbe, "/healthz"}, {"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("%s probe: want an HTTP GET", p.name)
			continue
		}
		g := p.probe.HTTPGet
		if g.Path != p.path || g.Port != intstr.FromString("metrics") || g.Host != "" || (g.Scheme != "" && g.Scheme != corev1.URISchemeHTTP) {
			t.Errorf("%s probe %+v: want GET http://<pod>:metrics%s", p.name, *g, p.path)
		}
	}
	ann := r.daemonSet.Spec.Template.Annotations
	if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/port"] != strconv.Itoa(int(port.ContainerPort)) || ann["prometheus.io/path"] != "/metrics" {
		t.Errorf("scrape annotations %v: want scrape true, port %d, path /metrics", ann, port.ContainerPort)
	}

	reg := metrics.New()
	srv := httptest.NewServer(reg.Handler())
	defer srv.Close()
	get := func(path string) int {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode
	}
	// Liveness must not depend on readiness: a podflow still attaching is alive.
	if got := get(c.LivenessProbe.HTTPGet.Path); got != http.StatusOK {
		t.Errorf("liveness %s before ready: %d, want 200", c.LivenessProbe.HTTPGet.Path, got)
	}
	if got := get(c.ReadinessProbe.HTTPGet.Path); got != http.StatusServiceUnavailable {
		t.Errorf("readiness %s before ready: %d, want 503", c.ReadinessProbe.HTTPGet.Path, got)
	}
	reg.SetReady(true)
	if got := get(c.ReadinessProbe.HTTPGet.Path); got != http.StatusOK {
		t.Errorf("readiness %s once ready: %d, want 200", c.ReadinessProbe.HTTPGet.Path, got)
	}
	if got := get(ann["prometheus.io/path"]); got != http.StatusOK {
		t.Errorf("scrape path %s: %d, want 200", ann["prometheus.io/path"], got)
	}
}

// The example overlay changes the image and the collectors, nothing else
// that matters to the checks above.
func TestExampleOverlaySetsTheCollectors(t *testing.T) {
	base, ex := render(t, baseDir), render(t, exampleDir)
	cfg, _, err := deployedConfig(t, ex)
	if err != nil {
		t.Fatalf("config.Load with the example's DaemonSet: %v", err)
	}
	var urls []string
	for _, c := range cfg.Collectors {
		urls = append(urls, c.URL)
	}
	if want := []string{"ipfix+udp://nfcapd.flows.svc.cluster.local:4739", "netflow9+udp://192.0.2.10:2055"}; !slices.Equal(urls, want) {
		t.Errorf("collectors %q, want %q", urls, want)
	}
	bc, ec := base.container(t), ex.container(t)
	if ec.Image != "registry.example.com/podflow:v0.1.0" {
		t.Errorf("image %q", ec.Image)
	}
	if !reflect.DeepEqual(bc.SecurityContext, ec.SecurityContext) || !reflect.DeepEqual(bc.Resources, ec.Resources) ||
		!reflect.DeepEqual(bc.Args, ec.Args) || len(ec.Env) != len(bc.Env)+1 {
		t.Errorf("the example changes more than the image and PODFLOW_COLLECTOR")
	}
}
