package kubetest_test

import (
	"context"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/podflow/podflow/internal/kubetest"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Most tests share one cluster (kubetest.Shared), each in its own namespace.
func TestMain(m *testing.M) { kubetest.Main(m) }

func TestStartServesPinnedVersionToAdmin(t *testing.T) {
	begin := time.Now()
	c := kubetest.Start(t)
	t.Logf("etcd and kube-apiserver ready in %v", time.Since(begin).Round(time.Millisecond))
	ctx := t.Context()

	v, err := c.Client.Discovery().ServerVersion()
	if err != nil {
		t.Fatalf("server version: %v", err)
	}
	if v.GitVersion != kubetest.KubernetesVersion {
		t.Errorf("server version %q, want %q", v.GitVersion, kubetest.KubernetesVersion)
	}

	review, err := c.Client.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("self subject review: %v", err)
	}
	user := review.Status.UserInfo
	if user.Username != kubetest.AdminUser || !slices.Equal(user.Groups, []string{"system:masters", "system:authenticated"}) {
		t.Errorf("admin is %q in %q, want %q in [system:masters system:authenticated]", user.Username, user.Groups, kubetest.AdminUser)
	}
}

func TestServiceCIDRsAreDualStack(t *testing.T) {
	c := kubetest.Shared(t)
	ns := createNamespace(t, c.Client, "dual-stack")
	policy := corev1.IPFamilyPolicyRequireDualStack
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: corev1.ServiceSpec{
			IPFamilyPolicy: &policy,
			IPFamilies:     []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol},
			ClusterIP:      "10.96.7.7",
			ClusterIPs:     []string{"10.96.7.7", "fd96::707"},
			Ports:          []corev1.ServicePort{{Port: 80}},
		},
	}
	got, err := c.Client.CoreV1().Services(ns).Create(t.Context(), svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create dual-stack service: %v", err)
	}
	t.Cleanup(func() { // frees the IPs for the next run
		if err := c.Client.CoreV1().Services(ns).Delete(context.Background(), "web", metav1.DeleteOptions{}); err != nil {
			t.Errorf("delete service: %v", err)
		}
	})
	if !slices.Equal(got.Spec.ClusterIPs, []string{"10.96.7.7", "fd96::707"}) || got.Spec.ClusterIP != "10.96.7.7" {
		t.Errorf("cluster IPs %q (%q), want [10.96.7.7 fd96::707]", got.Spec.ClusterIPs, got.Spec.ClusterIP)
	}
}

func TestKubernetesVersionMatchesModule(t *testing.T) {
	b, err := os.ReadFile("apiserver/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*k8s\.io/kubernetes (v\S+)$`).FindSubmatch(b)
	if m == nil || string(m[1]) != kubetest.KubernetesVersion {
		t.Fatalf("apiserver/go.mod requires k8s.io/kubernetes %q, kubetest.KubernetesVersion is %q", m, kubetest.KubernetesVersion)
	}
	// Each staging module is replaced by the release numbered like
	// Kubernetes with a major version of 0: v1.37.1 -> v0.37.1.
	staging := "v0" + strings.TrimPrefix(kubetest.KubernetesVersion, "v1")
	replaces := regexp.MustCompile(`(?m)^\s*(k8s\.io/\S+) => (k8s\.io/\S+) (v\S+)$`).FindAllSubmatch(b, -1)
	if len(replaces) == 0 {
		t.Fatal("apiserver/go.mod replaces no k8s.io staging module")
	}
	for _, r := range replaces {
		if string(r[1]) != string(r[2]) || string(r[3]) != staging {
			t.Errorf("apiserver/go.mod: %s, want %s => %s %s", r[0], r[1], r[1], staging)
		}
	}
}

// createNamespace creates a namespace named prefix-XXXXX and returns its
// name. Tests sharing a cluster keep to their own namespace, and a fresh one
// each run (go test -count=N): without a controller-manager a deleted
// namespace is never emptied.
func createNamespace(t *testing.T, c kubernetes.Interface, prefix string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	created, err := c.CoreV1().Namespaces().Create(t.Context(), ns, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace %s-: %v", prefix, err)
	}
	return created.Name
}

// poll calls cond every 50 ms until it reports done, failing t after 30 s.
func poll(t *testing.T, what string, cond func(context.Context) (bool, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		done, err := cond(ctx)
		if done {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: timed out, last error: %v", what, err)
		case <-tick.C:
		}
	}
}
