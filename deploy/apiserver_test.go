package deploy_test

import (
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/podflow/podflow/internal/decoders"
	"github.com/podflow/podflow/internal/kubetest"
)

// createNamespace creates ns for real: a server-side dry run of the
// namespaced objects needs their namespace to exist.
func createNamespace(t *testing.T, c *kubetest.Cluster, ns *corev1.Namespace) {
	t.Helper()
	ns = ns.DeepCopy()
	ns.ResourceVersion = ""
	_, err := c.Client.CoreV1().Namespaces().Create(t.Context(), ns, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create namespace %s: %v", ns.Name, err)
	}
}

// Every object of the base and of the example overlay passes the API
// server's validation (strict field validation: an unknown or misplaced
// field fails) and admission, as `kubectl apply --server-side` would send it.
func TestServerSideDryRunAcceptsEveryObject(t *testing.T) {
	kubectl := decoders.RequireTool(t, "kubectl")
	c := kubetest.Shared(t)
	kubeconfig := c.Kubeconfig(t, c.Config)
	cacheDir := t.TempDir()
	for _, dir := range []string{baseDir, exampleDir} {
		t.Run(dir, func(t *testing.T) {
			r := render(t, dir)
			createNamespace(t, c, r.namespace)
			cmd := exec.Command(kubectl, "--kubeconfig", kubeconfig, "--cache-dir", cacheDir,
				"apply", "--server-side", "--dry-run=server", "--field-manager=podflow-deploy-test", "-o", "name", "-k", dir)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("kubectl apply --server-side --dry-run=server -k %s: %v\n%s%s", dir, err, stdout.Bytes(), stderr.Bytes())
			}
			if stderr.Len() != 0 {
				t.Errorf("kubectl printed warnings:\n%s", stderr.Bytes())
			}
			var want []string
			for _, o := range r.objects {
				m, err := meta.Accessor(o)
				if err != nil {
					t.Fatal(err)
				}
				gvk := o.GetObjectKind().GroupVersionKind()
				res := strings.ToLower(gvk.Kind)
				if gvk.Group != "" {
					res += "." + gvk.Group
				}
				want = append(want, res+"/"+m.GetName())
			}
			got := strings.Fields(stdout.String())
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("accepted %q, want %q", got, want)
			}
		})
	}
}

// A pod made from the DaemonSet's template is admitted in podflow's
// namespace (the priority class resolves, hostPort defaults to the metrics
// port) and refused where Pod Security enforces "baseline", which is why the
// Namespace carries the privileged label.
func TestDaemonSetPodIsAdmitted(t *testing.T) {
	c := kubetest.Shared(t)
	r := render(t, baseDir)
	createNamespace(t, c, r.namespace)
	pod := func(ns string) *corev1.Pod {
		tmpl := r.daemonSet.Spec.Template.DeepCopy()
		p := &corev1.Pod{ObjectMeta: tmpl.ObjectMeta, Spec: tmpl.Spec}
		p.Name, p.Namespace, p.Spec.NodeName = "podflow-dry-run", ns, testNodeName
		return p
	}
	dryRun := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: metav1.FieldValidationStrict}

	got, err := c.Client.CoreV1().Pods(r.namespace.Name).Create(t.Context(), pod(r.namespace.Name), dryRun)
	if err != nil {
		t.Fatalf("dry-run pod in %s: %v", r.namespace.Name, err)
	}
	if got.Spec.Priority == nil || *got.Spec.Priority != systemNodeCriticalPriority {
		t.Errorf("priority %v, want %d (system-node-critical)", got.Spec.Priority, systemNodeCriticalPriority)
	}
	if p := got.Spec.Containers[0].Ports[0]; p.HostPort != metricsPort {
		t.Errorf("hostPort %d, want %d: the scheduler must see the node port podflow takes", p.HostPort, metricsPort)
	}

	baseline := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "podflow-baseline",
		Labels: map[string]string{"pod-security.kubernetes.io/enforce": "baseline"}}}
	createNamespace(t, c, baseline)
	_, err = c.Client.CoreV1().Pods(baseline.Name).Create(t.Context(), pod(baseline.Name), dryRun)
	if !apierrors.IsForbidden(err) {
		t.Fatalf("dry-run pod under baseline: %v, want forbidden", err)
	}
	for _, s := range []string{`violates PodSecurity "baseline:latest"`, "hostNetwork=true", "hostPID=true", "non-default capabilities"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("baseline refusal %q does not mention %q", err, s)
		}
	}
}
