package agent

import (
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/podflow/podflow/check"
	"github.com/podflow/podflow/config"
	"github.com/podflow/podflow/enrich/kube"
)

// Outside a cluster the Kubernetes stage is off with one line at info, in
// the words of `podflow check`.
func TestKubernetesOffOutsideAClusterSaysWhatCheckSays(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
	cfg := config.Defaults()
	core, logs := observer.New(zapcore.DebugLevel)
	e, w, keep := kubeContext(t.Context(), cfg, nil, zap.New(core))
	if e != nil || w != nil || keep != nil {
		t.Fatalf("stage on outside a cluster: %v %v %v", e, w, keep != nil)
	}
	rs := check.KubeProbe(cfg, kube.NewClient).Run(t.Context())
	if len(rs) != 1 || rs[0].Status != check.Degraded {
		t.Fatalf("check says %+v", rs)
	}
	entries := logs.All()
	if len(entries) != 1 {
		t.Fatalf("%d log lines, want 1: %+v", len(entries), entries)
	}
	got := entries[0]
	if got.Level != zapcore.InfoLevel || got.Message != rs[0].Effect || got.ContextMap()["reason"] != rs[0].Detail {
		t.Errorf("logged %s %q %v, want info %q reason %q", got.Level, got.Message, got.ContextMap(), rs[0].Effect, rs[0].Detail)
	}
}
