package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// env is a fake environment for Load.
type env map[string]string

func (e env) lookup(k string) (string, bool) { v, ok := e[k]; return v, ok }

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustLoad(t *testing.T, args []string, e env) *Config {
	t.Helper()
	c, err := Load(args, e.lookup)
	if err != nil {
		t.Fatalf("Load(%q): %v", args, err)
	}
	return c
}

func loadErr(t *testing.T, args []string, e env) string {
	t.Helper()
	c, err := Load(args, e.lookup)
	if err == nil {
		t.Fatalf("Load(%q) = %+v, want an error", args, c)
	}
	return err.Error()
}

func defaultCollector() Collector {
	return Collector{URL: "ipfix+udp://127.0.0.1:4739", Protocol: "ipfix", Transport: "udp", Address: "127.0.0.1:4739"}
}

func TestDefaults(t *testing.T) {
	want := &Config{
		Collectors:        []Collector{defaultCollector()},
		Veth:              true,
		Mode:              ModeDedup,
		ActiveTimeout:     60 * time.Second,
		IdleTimeout:       15 * time.Second,
		PollInterval:      time.Second,
		ObservationDomain: 1,
		MTU:               1500,
		TemplateRefresh:   10 * time.Minute,
		MaxFlows:          32768,
		MaxTableFlows:     262144,
		SamplingInterval:  1,
		TCPRTT:            true, TCPRetransmits: true, KernelDrops: true, HandshakeRTT: true, WireRetransmits: true,
		ProcessContext: true, NATContext: true, MetricsListen: "127.0.0.1:9750",
		IPFIXOptions: true, Kubernetes: true, KubeRemotePods: true, KubeLabels: []string{"app", "app.kubernetes.io/name"}, OncePerCluster: true,
		EnterpriseNumber: 32473,
		LogLevel:         "info",
	}
	if got := Defaults(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Defaults() = %+v\nwant %+v", got, want)
	}
	if got := mustLoad(t, nil, env{}); !reflect.DeepEqual(got, want) {
		t.Fatalf("Load(nil) = %+v\nwant %+v", got, want)
	}
	if err := want.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
}

func TestFlowMapBytes(t *testing.T) {
	if got := Defaults().FlowMapBytes(8); got != 64487424 { // 2 × 32768 × (48×8 + 44) + 2 × 32768 × (64×8 + 44)
		t.Fatalf("FlowMapBytes(8) = %d, want 64487424", got)
	}
}

// The shipped example file must hold every option at its default, so the
// documentation stays true.
func TestShippedYAMLIsDefaults(t *testing.T) {
	const path = "../configs/podflow.yaml"
	got := mustLoad(t, []string{"--config", path}, env{})
	want := Defaults()
	want.ConfigFile = path
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s yields %+v\nwant the defaults %+v", path, got, want)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range options {
		if o.notInFile {
			continue
		}
		if !strings.Contains("\n"+string(data), "\n"+o.name+":") {
			t.Errorf("%s does not set %s", path, o.name)
		}
	}
}

func TestYAMLOverridesDefaults(t *testing.T) {
	path := writeFile(t, "podflow.yaml", `
collector:
  - ipfix+tcp://collector.example:4740
  - ipfix+udp://[2001:db8::1]:2055
interfaces: [eth0, "en*"]
veth: false
mode: per-interface
active-timeout: 2m
idle-timeout: 30s
poll-interval: 500ms
observation-domain: 4294967295
mtu: 9000
template-refresh: 1h
max-flows: 65536
log-level: debug
`)
	got := mustLoad(t, []string{"--config", path}, env{})
	want := &Config{
		ConfigFile: path,
		Collectors: []Collector{
			{URL: "ipfix+tcp://collector.example:4740", Protocol: "ipfix", Transport: "tcp", Address: "collector.example:4740"},
			{URL: "ipfix+udp://[2001:db8::1]:2055", Protocol: "ipfix", Transport: "udp", Address: "[2001:db8::1]:2055"},
		},
		Interfaces:        []string{"eth0", "en*"},
		Veth:              false,
		Mode:              ModePerInterface,
		ActiveTimeout:     2 * time.Minute,
		IdleTimeout:       30 * time.Second,
		PollInterval:      500 * time.Millisecond,
		ObservationDomain: 4294967295,
		MTU:               9000,
		TemplateRefresh:   time.Hour,
		MaxFlows:          65536,
		MaxTableFlows:     262144,
		SamplingInterval:  1,
		TCPRTT:            true, TCPRetransmits: true, KernelDrops: true, HandshakeRTT: true, WireRetransmits: true,
		ProcessContext: true, NATContext: true, MetricsListen: "127.0.0.1:9750",
		IPFIXOptions: true, Kubernetes: true, KubeRemotePods: true, KubeLabels: []string{"app", "app.kubernetes.io/name"}, OncePerCluster: true,
		EnterpriseNumber: 32473,
		LogLevel:         "debug",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}

func TestConfigFileFromEnv(t *testing.T) {
	path := writeFile(t, "p.yaml", "mtu: 1400\n")
	got := mustLoad(t, nil, env{"PODFLOW_CONFIG": path})
	if got.MTU != 1400 || got.ConfigFile != path {
		t.Fatalf("MTU = %d, ConfigFile = %q; want 1400, %q", got.MTU, got.ConfigFile, path)
	}
	// --config wins over PODFLOW_CONFIG.
	other := writeFile(t, "q.yaml", "mtu: 1300\n")
	got = mustLoad(t, []string{"--config", other}, env{"PODFLOW_CONFIG": path})
	if got.MTU != 1300 || got.ConfigFile != other {
		t.Fatalf("MTU = %d, ConfigFile = %q; want 1300, %q", got.MTU, got.ConfigFile, other)
	}
}

func TestEmptyAndCommentOnlyYAML(t *testing.T) {
	for _, content := range []string{"", "# nothing here\n"} {
		path := writeFile(t, "p.yaml", content)
		got := mustLoad(t, []string{"--config", path}, env{})
		want := Defaults()
		want.ConfigFile = path
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: got %+v, want defaults", content, got)
		}
	}
}

func TestEnvOverridesYAML(t *testing.T) {
	path := writeFile(t, "p.yaml", "active-timeout: 2m\nmtu: 9000\ncollector: [ipfix+tcp://a:1]\ninterfaces: [eth0]\n")
	got := mustLoad(t, []string{"--config", path}, env{
		"PODFLOW_ACTIVE_TIMEOUT": "3m",
		"PODFLOW_COLLECTOR":      "ipfix+udp://b:2, ipfix+tcp://c:3",
		"PODFLOW_INTERFACES":     "", // set but empty: clears the file's list
		"PODFLOW_VETH":           "false",
	})
	if got.ActiveTimeout != 3*time.Minute {
		t.Errorf("ActiveTimeout = %v, want 3m (env)", got.ActiveTimeout)
	}
	if got.MTU != 9000 {
		t.Errorf("MTU = %d, want 9000 (file)", got.MTU)
	}
	if got.Veth {
		t.Errorf("Veth = true, want false (env)")
	}
	if got.Interfaces != nil {
		t.Errorf("Interfaces = %q, want none (env cleared them)", got.Interfaces)
	}
	wantCols := []string{"ipfix+udp://b:2", "ipfix+tcp://c:3"}
	if urls := collectorURLs(got); !reflect.DeepEqual(urls, wantCols) {
		t.Errorf("collectors = %q, want %q (env replaces the file's list)", urls, wantCols)
	}
}

func TestFlagsOverrideEnv(t *testing.T) {
	got := mustLoad(t, []string{"--active-timeout", "4m", "--collector=ipfix+tcp://d:4", "--veth", "--mode", "per-interface"}, env{
		"PODFLOW_ACTIVE_TIMEOUT": "3m",
		"PODFLOW_IDLE_TIMEOUT":   "20s",
		"PODFLOW_COLLECTOR":      "ipfix+udp://b:2",
		"PODFLOW_VETH":           "false",
		"PODFLOW_MODE":           "dedup",
	})
	if got.ActiveTimeout != 4*time.Minute || got.IdleTimeout != 20*time.Second || !got.Veth || got.Mode != ModePerInterface {
		t.Fatalf("got active %v idle %v veth %v mode %q; want 4m (flag), 20s (env), true (bare flag), per-interface",
			got.ActiveTimeout, got.IdleTimeout, got.Veth, got.Mode)
	}
	if urls := collectorURLs(got); !reflect.DeepEqual(urls, []string{"ipfix+tcp://d:4"}) {
		t.Fatalf("collectors = %q, want only the flag's", urls)
	}
	if got := mustLoad(t, []string{"--veth=false"}, env{}); got.Veth {
		t.Fatalf("--veth=false left Veth true")
	}
}

func TestRepeatedCollectorFlag(t *testing.T) {
	got := mustLoad(t, []string{
		"--collector", "ipfix+udp://a:1",
		"--collector", "ipfix+tcp://b:2,ipfix+udp://c:3",
		"--interfaces", "eth0,eth1", "--interfaces", "bond*",
	}, env{})
	want := []string{"ipfix+udp://a:1", "ipfix+tcp://b:2", "ipfix+udp://c:3"}
	if urls := collectorURLs(got); !reflect.DeepEqual(urls, want) {
		t.Fatalf("collectors = %q, want %q", urls, want)
	}
	if !reflect.DeepEqual(got.Interfaces, []string{"eth0", "eth1", "bond*"}) {
		t.Fatalf("interfaces = %q", got.Interfaces)
	}
	// A repeated scalar flag takes the last value, as flags usually do.
	if got := mustLoad(t, []string{"--mtu", "1400", "--mtu", "1300"}, env{}); got.MTU != 1300 {
		t.Fatalf("MTU = %d, want 1300", got.MTU)
	}
}

func collectorURLs(c *Config) []string {
	var urls []string
	for _, col := range c.Collectors {
		urls = append(urls, col.URL)
	}
	return urls
}
