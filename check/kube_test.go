package check

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/podflow/podflow/config"
	"github.com/podflow/podflow/enrich/kube"
	"github.com/podflow/podflow/internal/kubetest"
)

func TestKubeProbeWithoutAClient(t *testing.T) {
	cfg := config.Defaults()
	notInCluster := fmt.Errorf("kube: %w and no kubeconfig given", kube.ErrNotInCluster)
	broken := errors.New("kube: kubeconfig /x: no such file")
	for _, tc := range []struct {
		err  error
		want Result
	}{
		{notInCluster, Result{Name: "kubernetes", Status: Degraded, Detail: "kube: not in a cluster and no kubeconfig given", Effect: EffectKubeOff}},
		{broken, Result{Name: "kubernetes", Status: Unavailable, Detail: "kube: kubeconfig /x: no such file", Effect: EffectKubeOff}},
	} {
		got := KubeProbe(cfg, func(string) (kubernetes.Interface, error) { return nil, tc.err }).Run(t.Context())
		if !reflect.DeepEqual(got, []Result{tc.want}) {
			t.Errorf("%v: %+v, want %+v", tc.err, got, tc.want)
		}
	}
	cfg.Kubernetes = false
	got := KubeProbe(cfg, func(string) (kubernetes.Interface, error) {
		t.Error("client built with --kubernetes=false")
		return nil, broken
	}).Run(t.Context())
	want := []Result{{Name: "kubernetes", Status: Degraded, Detail: "off in the configuration (--kubernetes=false)", Effect: EffectKubeOff}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("off: %+v, want %+v", got, want)
	}
}

// Against a real API server: the admin may do everything; a service
// account may do nothing until bound to kube.RBACRules, then all of it.
func TestKubeProbeAgainstAPIServer(t *testing.T) {
	c := kubetest.Start(t)
	probe := func(kubeconfig string) Result {
		cfg := config.Defaults()
		cfg.Kubeconfig = kubeconfig
		rs := KubeProbe(cfg, kube.NewClient).Run(t.Context())
		if len(rs) != 1 {
			t.Fatalf("results %+v", rs)
		}
		return rs[0]
	}
	okDetail := "API server " + kubetest.KubernetesVersion + " reachable; may get, list and watch pods, services, replicasets.apps, jobs.batch"
	if got, want := probe(c.Kubeconfig(t, c.Config)), (Result{Name: "kubernetes", Status: OK, Detail: okDetail}); got != want {
		t.Errorf("admin: %+v, want %+v", got, want)
	}

	saKubeconfig := c.Kubeconfig(t, c.ServiceAccountConfig(t, "check-rbac", "podflow"))
	var denied []string
	for _, r := range []string{"pods", "services", "replicasets.apps", "jobs.batch"} {
		for _, v := range []string{"get", "list", "watch"} {
			denied = append(denied, v+" "+r)
		}
	}
	want := Result{Name: "kubernetes", Status: Degraded, Effect: EffectKubePartial,
		Detail: "API server " + kubetest.KubernetesVersion + " reachable; forbidden: " + strings.Join(denied, ", ")}
	if got := probe(saKubeconfig); got != want {
		t.Errorf("unbound service account:\n%+v\nwant\n%+v", got, want)
	}

	ctx := t.Context()
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "check-podflow"}, Rules: kube.RBACRules()}
	if _, err := c.Client.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "check-podflow"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "check-podflow"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: "check-rbac", Name: "podflow"}},
	}
	if _, err := c.Client.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// RBAC reaches the authorizer's cache shortly after it is written.
	deadline := time.Now().Add(30 * time.Second)
	var got Result
	for got = probe(saKubeconfig); got.Status != OK && time.Now().Before(deadline); got = probe(saKubeconfig) {
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(100 * time.Millisecond): // poll interval
		}
	}
	if want := (Result{Name: "kubernetes", Status: OK, Detail: okDetail}); got != want {
		t.Errorf("bound service account: %+v, want %+v", got, want)
	}

	// An API server that does not answer: unavailable, never a hang.
	unreachable := probeUnreachable(t)
	if unreachable.Status != Unavailable || unreachable.Effect != EffectKubeOff ||
		!strings.HasPrefix(unreachable.Detail, "API server unreachable: ") {
		t.Errorf("unreachable: %+v", unreachable)
	}
}

// restConfigClosedPort names a port nothing listens on (1, tcpmux).
var restConfigClosedPort = rest.Config{Host: "https://127.0.0.1:1"}

// probeUnreachable points the probe at a closed port.
func probeUnreachable(t *testing.T) Result {
	t.Helper()
	cfg := config.Defaults()
	newClient := func(string) (kubernetes.Interface, error) {
		return kube.ClientForConfig(&restConfigClosedPort)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	rs := Run(ctx, []Probe{KubeProbe(cfg, newClient)})
	if len(rs) != 1 {
		t.Fatalf("results %+v", rs)
	}
	return rs[0]
}
