package config

import (
	"errors"
	"strings"
	"testing"
)

func TestParseErrorsNameOptionAndSource(t *testing.T) {
	path := writeFile(t, "p.yaml", "mtu: 1400\nidle-timeout: soon\n")
	cases := []struct {
		name string
		args []string
		env  env
		want string
	}{
		{"flag duration", []string{"--active-timeout", "bogus"}, nil,
			`--active-timeout: invalid duration "bogus" (want e.g. 30s, 5m) (from command line)`},
		{"env int", nil, env{"PODFLOW_MTU": "big"},
			`--mtu: invalid integer "big" (from env PODFLOW_MTU)`},
		{"yaml duration", []string{"--config", path}, nil,
			`--idle-timeout: invalid duration "soon" (want e.g. 30s, 5m) (from ` + path + `:2 key idle-timeout)`},
		{"env bool", nil, env{"PODFLOW_VETH": "maybe"},
			`--veth: invalid boolean "maybe" (want true or false) (from env PODFLOW_VETH)`},
		{"observation domain range", []string{"--observation-domain", "4294967296"}, nil,
			`--observation-domain: invalid integer "4294967296" (want 0..4294967295) (from command line)`},
		{"bad collector flag", []string{"--collector", "http://x:1"}, nil,
			`--collector: collector URL "http://x:1": unknown scheme "http", want one of ipfix+tcp, ipfix+tls, ipfix+udp, netflow5+udp, netflow9+udp (from command line)`},
		{"missing file", []string{"--config", "/nonexistent/podflow.yaml"}, nil,
			`--config: open /nonexistent/podflow.yaml: no such file or directory`},
		{"positional argument", []string{"extra"}, nil, `unexpected argument "extra"`},
		{"unknown flag", []string{"--no-such-flag"}, nil, `flag provided but not defined: -no-such-flag`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := loadErr(t, tc.args, tc.env); got != tc.want {
				t.Fatalf("error\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestAllParseErrorsReported(t *testing.T) {
	got := loadErr(t, []string{"--mtu", "x", "--collector", "ipfix+udp://a", "--collector", "ipfix+udp://b:0"}, env{"PODFLOW_MAX_FLOWS": "y"})
	want := strings.Join([]string{
		`--max-flows: invalid integer "y" (from env PODFLOW_MAX_FLOWS)`,
		`--collector: collector URL "ipfix+udp://a": want HOST:PORT after ipfix+udp://: address a: missing port in address (from command line)`,
		`--collector: collector URL "ipfix+udp://b:0": port "0" is not a number in 1..65535 (from command line)`,
		`--mtu: invalid integer "x" (from command line)`,
	}, "\n")
	if got != want {
		t.Fatalf("error\n got %s\nwant %s", got, want)
	}
}

func TestHelp(t *testing.T) {
	for _, arg := range []string{"-h", "--help"} {
		if _, err := Load([]string{arg}, env{}.lookup); !errors.Is(err, ErrHelp) {
			t.Fatalf("Load(%s) error = %v, want ErrHelp", arg, err)
		}
	}
}

func TestUnknownYAMLKey(t *testing.T) {
	path := writeFile(t, "p.yaml", "mtu: 1400\nactiv-timeout: 30s\nconfig: other.yaml\n")
	got := loadErr(t, []string{"--config", path}, nil)
	known := "collector, interfaces, veth, mode, active-timeout, idle-timeout, poll-interval, collector-ca, collector-cert, collector-key, ipfix-options, observation-domain, mtu, template-refresh, max-flows, max-table-flows, precise-timestamps, tcp-rtt, tcp-retransmits, kernel-drops, handshake-rtt, wire-retransmits, filter-cidrs, filter-protocols, filter-ports, sampling-interval, process-context, nat-context, kubernetes, kubeconfig, node-name, kube-remote-pods, kube-labels, once-per-cluster, metrics-listen, enterprise-number, log-level"
	want := path + `:2: unknown key "activ-timeout" (known keys: ` + known + ")\n" +
		path + `:3: unknown key "config" (known keys: ` + known + ")"
	if got != want {
		t.Fatalf("error\n got %s\nwant %s", got, want)
	}
}

func TestBadYAMLShapes(t *testing.T) {
	cases := []struct{ content, want string }{
		{"- a\n- b\n", ":1: want a mapping of option: value"},
		{"mtu: 1400\nmtu: 1500\n", `:2: key "mtu" repeats `},
		{"mtu:\n", `--mtu: missing value (from `},
		{"mtu: [1, 2]\n", `--mtu: want a single value (from `},
		{"collector: {a: b}\n", `--collector: want a list or a comma-separated string (from `},
		{"interfaces: [[eth0]]\n", `--interfaces: line 1: list items must be plain values (from `},
		{"mtu: [\n", "yaml: line 1: did not find expected node content"},
	}
	for _, tc := range cases {
		path := writeFile(t, "p.yaml", tc.content)
		if got := loadErr(t, []string{"--config", path}, nil); !strings.Contains(got, tc.want) {
			t.Errorf("%q: error %q does not contain %q", tc.content, got, tc.want)
		}
	}
}

func TestYAMLListAsStringAndNull(t *testing.T) {
	path := writeFile(t, "p.yaml", "collector: ipfix+udp://a:1, ipfix+tcp://b:2\ninterfaces:\n")
	got := mustLoad(t, []string{"--config", path}, nil)
	if urls := collectorURLs(got); len(urls) != 2 || urls[0] != "ipfix+udp://a:1" || urls[1] != "ipfix+tcp://b:2" {
		t.Fatalf("collectors = %q", urls)
	}
	if got.Interfaces != nil {
		t.Fatalf("interfaces = %q, want none", got.Interfaces)
	}
}
