package kube

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// TestLocalPodsUseFieldSelector: the fake clientset ignores field
// selectors, so this checks what is asked of the API server; the
// integration test checks the real server honours it.
func TestLocalPodsUseFieldSelector(t *testing.T) {
	for _, c := range []struct {
		remote bool
		want   string
	}{{false, "spec.nodeName=node-a"}, {true, ""}} {
		client := fake.NewClientset()
		var mu sync.Mutex
		selectors := map[string]string{}
		record := func(a k8stesting.Action) (bool, runtime.Object, error) {
			mu.Lock()
			switch a := a.(type) {
			case k8stesting.ListAction:
				selectors["list"] = a.GetListRestrictions().Fields.String()
			case k8stesting.WatchAction:
				selectors["watch"] = a.GetWatchRestrictions().Fields.String()
			}
			mu.Unlock()
			return false, nil, nil
		}
		client.PrependReactor("list", "pods", record)
		client.PrependWatchReactor("pods", func(a k8stesting.Action) (bool, watch.Interface, error) {
			record(a)
			return false, nil, nil
		})
		w := start(t, client, Config{NodeName: "node-a", RemotePods: c.remote})
		waitFor(t, "pod watch", func() bool {
			mu.Lock()
			defer mu.Unlock()
			_, ok := selectors["watch"]
			return ok
		})
		mu.Lock()
		if selectors["list"] != c.want || selectors["watch"] != c.want {
			t.Errorf("RemotePods=%v: list selector %q, watch selector %q, want %q", c.remote, selectors["list"], selectors["watch"], c.want)
		}
		mu.Unlock()
		if w.NodeName() != "node-a" {
			t.Errorf("NodeName() = %q", w.NodeName())
		}
	}
}

func TestStartRejectsBadConfig(t *testing.T) {
	client := fake.NewClientset()
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{NodeName: "n"}, "kube: no client"},
		{Config{Client: client}, "kube: no node name"},
		{Config{Client: client, NodeName: "n", Grace: -1}, "kube: negative grace -1ns"},
	} {
		if _, err := Start(context.Background(), c.cfg); err == nil || err.Error() != c.want {
			t.Errorf("Start(%+v) error %v, want %q", c.cfg, err, c.want)
		}
	}
	if d := DefaultConfig(client, "n"); !d.RemotePods || d.Grace != DefaultGrace || d.NodeName != "n" || d.Client != client {
		t.Errorf("DefaultConfig = %+v", d)
	}
}

// TestReadyWaitsForHandlers: objects listed before Ready are all indexed
// when it closes.
func TestReadyWaitsForHandlers(t *testing.T) {
	objs := []runtime.Object{replicaSet("shop", "web-1", "web")}
	for i := range 300 {
		ip := fmt.Sprintf("10.1.%d.%d", i/256, i%256)
		objs = append(objs, pod("shop", fmt.Sprintf("web-1-%04d", i), "node-a", t0, []string{ip}, ownedBy("ReplicaSet", "web-1")))
	}
	w, _ := startFake(t, Config{RemotePods: true}, objs...)
	if s := w.Stats(); s.Pods != 300 || s.IPs != 300 || s.Owners != 1 {
		t.Fatalf("at Ready: Pods=%d IPs=%d Owners=%d, want 300 300 1", s.Pods, s.IPs, s.Owners)
	}
}

func TestNewClient(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
	_, err := NewClient("")
	if !errors.Is(err, ErrNotInCluster) || !strings.Contains(err.Error(), "not in a cluster") {
		t.Fatalf("NewClient outside a cluster: %v, want ErrNotInCluster", err)
	}

	if _, err := NewClient(filepath.Join(t.TempDir(), "missing")); err == nil || errors.Is(err, ErrNotInCluster) {
		t.Fatalf("NewClient(missing kubeconfig) = %v, want a load error", err)
	}

	kubeconfig := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(kubeconfig)
	if err != nil || c == nil {
		t.Fatalf("NewClient(kubeconfig) = %v, %v", c, err)
	}
}

func TestRBACRulesCoverInformers(t *testing.T) {
	got := map[string]string{}
	for _, r := range RBACRules() {
		for _, res := range r.Resources {
			got[r.APIGroups[0]+"/"+res] = strings.Join(r.Verbs, ",")
		}
	}
	want := map[string]string{"/pods": "get,list,watch", "/services": "get,list,watch", "apps/replicasets": "get,list,watch", "batch/jobs": "get,list,watch"}
	if len(got) != len(want) {
		t.Fatalf("rules %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("rule %s: %q, want %q", k, got[k], v)
		}
	}
}
