package kubetest_test

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/podflow/podflow/internal/kubetest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestKubeconfigWorksWithKubectl(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("kubectl: %v (CI=true forbids skipping)", err)
		}
		t.Skipf("kubectl: %v", err)
	}
	c := kubetest.Shared(t)
	ns := createNamespace(t, c.Client, "kubectl")
	for _, name := range []string{"a", "b"} {
		pod := testPod(ns, name, "node-a")
		pod.Labels["kubetest"] = ns
		if _, err := c.Client.CoreV1().Pods(ns).Create(t.Context(), pod, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create pod: %v", err)
		}
	}
	cacheDir := t.TempDir() // not $HOME/.kube/cache
	run := func(kubeconfig string, args ...string) (string, string, error) {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), kubectl, append([]string{"--kubeconfig", kubeconfig, "--cache-dir", cacheDir}, args...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}

	admin := c.Kubeconfig(t, c.Config)
	out, stderr, err := run(admin, "get", "pods", "-A", "-l", "kubetest="+ns,
		"-o", `jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name} {.status.phase}{"\n"}{end}`)
	if err != nil {
		t.Fatalf("kubectl get pods -A as admin: %v: %s", err, stderr)
	}
	if want := ns + "/a Pending\n" + ns + "/b Pending\n"; out != want {
		t.Errorf("kubectl get pods -A as admin:\n%s\nwant:\n%s", out, want)
	}

	sa := c.Kubeconfig(t, c.ServiceAccountConfig(t, ns, "viewer"))
	out, stderr, err = run(sa, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
	if err != nil {
		t.Fatalf("kubectl auth whoami as service account: %v: %s", err, stderr)
	}
	user := "system:serviceaccount:" + ns + ":viewer"
	if out != user {
		t.Errorf("kubectl auth whoami: %q, want %q", out, user)
	}
	_, stderr, err = run(sa, "get", "pods", "-A")
	if err == nil || !strings.Contains(stderr, `pods is forbidden: User "`+user+`" cannot list resource "pods"`) {
		t.Errorf("kubectl get pods -A as unbound service account: %v, stderr %q; want forbidden", err, stderr)
	}
}
