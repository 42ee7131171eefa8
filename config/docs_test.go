package config

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func TestOptionsMarkdownListsEveryOption(t *testing.T) {
	md := OptionsMarkdown()
	lines := strings.Split(strings.TrimSuffix(md, "\n"), "\n")
	if len(lines) != 2+len(options) {
		t.Fatalf("%d lines, want header, separator and %d options:\n%s", len(lines), len(options), md)
	}
	if lines[0] != "| Option | Environment | Default | Meaning |" {
		t.Fatalf("header = %q", lines[0])
	}
	for i, o := range options {
		row := lines[2+i]
		prefix := "| `--" + o.name + " " + o.arg + "` | `" + o.envName() + "` | "
		if !strings.HasPrefix(row, prefix) {
			t.Errorf("row %q does not start with %q", row, prefix)
		}
		if !strings.Contains(row, o.help) {
			t.Errorf("row %q lacks the help text", row)
		}
	}
	for _, want := range []string{
		"| `--active-timeout DUR` | `PODFLOW_ACTIVE_TIMEOUT` | `60s` | export a long-lived flow at least this often |",
		"| `--config FILE` | `PODFLOW_CONFIG` | (none) |",
		"| `--max-flows N` | `PODFLOW_MAX_FLOWS` | `32768` |",
		"2 buffers × N × (48 B × CPUs + 44 B)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
}

func TestUsageListsEveryOption(t *testing.T) {
	u := Usage()
	for _, o := range options {
		if !strings.Contains(u, "--"+o.name+" "+o.arg) || !strings.Contains(u, "["+o.envName()+"]") {
			t.Errorf("usage lacks --%s or %s:\n%s", o.name, o.envName(), u)
		}
	}
}

func TestEnvNames(t *testing.T) {
	want := map[string]string{"active-timeout": "PODFLOW_ACTIVE_TIMEOUT", "collector": "PODFLOW_COLLECTOR", "config": "PODFLOW_CONFIG"}
	for name, env := range want {
		o, ok := lookupOption(name)
		if !ok || o.envName() != env {
			t.Errorf("env of %s = %q, want %q", name, o.envName(), env)
		}
	}
}

func TestMarshalLogObject(t *testing.T) {
	var buf bytes.Buffer
	enc := zapcore.NewJSONEncoder(zapcore.EncoderConfig{MessageKey: "msg"})
	log := zap.New(zapcore.NewCore(enc, zapcore.AddSync(&buf), zapcore.InfoLevel))
	c := Defaults()
	c.Interfaces = []string{"eth0", "en*"}
	log.Info("config", zap.Object("config", c))
	want := `{"msg":"config","config":{"config":"","collector":["ipfix+udp://127.0.0.1:4739"],"interfaces":["eth0","en*"],` +
		`"veth":true,"mode":"dedup","active-timeout":"1m","idle-timeout":"15s","poll-interval":"1s","collector-ca":"","collector-cert":"","collector-key":"","ipfix-options":true,"observation-domain":1,` +
		`"mtu":1500,"template-refresh":"10m","max-flows":32768,"max-table-flows":262144,"precise-timestamps":false,"tcp-rtt":true,"tcp-retransmits":true,"kernel-drops":true,"handshake-rtt":true,"wire-retransmits":true,"filter-cidrs":[],"filter-protocols":[],"filter-ports":[],"sampling-interval":1,"process-context":true,"nat-context":true,"kubernetes":true,"kubeconfig":"","node-name":"","kube-remote-pods":true,"kube-labels":["app","app.kubernetes.io/name"],"once-per-cluster":true,"metrics-listen":"127.0.0.1:9750","enterprise-number":32473,"log-level":"info"}}` + "\n"
	if buf.String() != want {
		t.Fatalf("logged\n%s\nwant\n%s", buf.String(), want)
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[string]string{"60s": "1m", "10m": "10m", "1h": "1h", "90m": "1h30m", "1h0m5s": "1h0m5s", "500ms": "500ms", "0s": "0s"} {
		dur, err := time.ParseDuration(d)
		if err != nil {
			t.Fatal(err)
		}
		if got := formatDuration(dur); got != want {
			t.Errorf("formatDuration(%s) = %s, want %s", d, got, want)
		}
	}
}
