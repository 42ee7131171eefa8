package kubetest_test

import (
	"context"
	"testing"

	"github.com/podflow/podflow/internal/kubetest"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// A ServiceAccount can do nothing until RBAC grants it, and then exactly
// what was granted.
func TestServiceAccountIsBoundByRBAC(t *testing.T) {
	c := kubetest.Shared(t)
	ctx := t.Context()
	ns := createNamespace(t, c.Client, "rbac")
	if _, err := c.Client.CoreV1().Pods(ns).Create(ctx, testPod(ns, "web", "node-a"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod: %v", err)
	}
	sa, err := kubernetes.NewForConfig(c.ServiceAccountConfig(t, ns, "podflow"))
	if err != nil {
		t.Fatal(err)
	}

	review, err := sa.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("self subject review: %v", err)
	}
	if got, want := review.Status.UserInfo.Username, "system:serviceaccount:"+ns+":podflow"; got != want {
		t.Errorf("service account authenticates as %q, want %q", got, want)
	}

	listAll := func(ctx context.Context) error {
		_, err := sa.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
		return err
	}
	if err := listAll(ctx); !apierrors.IsForbidden(err) {
		t.Fatalf("list pods before any binding: %v, want Forbidden", err)
	}

	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-pod-reader"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}}},
	}
	if _, err := c.Client.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create cluster role: %v", err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-pod-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: "podflow"}},
	}
	if _, err := c.Client.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create cluster role binding: %v", err)
	}
	// The authorizer sees new bindings through an informer: soon, not at once.
	var lastErr error
	poll(t, "list pods once bound", func(ctx context.Context) (bool, error) {
		lastErr = listAll(ctx)
		return lastErr == nil, lastErr
	})

	list, err := sa.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list pods in %s: %v", ns, err)
	}
	if names := podNames(list.Items); len(names) != 1 || names[0] != "web" {
		t.Errorf("pods in %s: %q, want [web]", ns, names)
	}
	// No wider than the role: no secrets, no writes.
	if _, err := sa.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("list secrets: %v, want Forbidden", err)
	}
	if err := sa.CoreV1().Pods(ns).Delete(ctx, "web", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("delete pod: %v, want Forbidden", err)
	}
	if _, err := sa.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns + "-escape"}}, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("create namespace: %v, want Forbidden", err)
	}
}
