package kube

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/podflow/podflow/internal/kubetest"
)

// TestMain stops the API server the integration tests share.
func TestMain(m *testing.M) { kubetest.Main(m) }

// apiCluster is the shared real API server and a podflow client for it
// (protobuf, as NewClient sets up).
func apiCluster(t testing.TB) (*kubetest.Cluster, kubernetes.Interface) {
	t.Helper()
	c := kubetest.Shared(t)
	client, err := ClientForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	return c, client
}

// runs numbers the integration tests' namespaces, so that -count=N finds
// no leftovers on the shared server.
var runs atomic.Int64

// testNamespace creates a namespace named base-N for t and, when t ends,
// deletes what the tests create in it: no controller-manager runs to empty
// a deleted namespace, and later runs reuse the IPs.
func testNamespace(t testing.TB, c kubernetes.Interface, base string) string {
	t.Helper()
	ns := fmt.Sprintf("%s-%d", base, runs.Add(1))
	createNamespace(t, c, ns)
	t.Cleanup(func() {
		ctx := context.Background()
		now := metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(0))}
		err := errors.Join(
			c.CoreV1().Pods(ns).DeleteCollection(ctx, now, metav1.ListOptions{}),
			c.AppsV1().ReplicaSets(ns).DeleteCollection(ctx, now, metav1.ListOptions{}),
			c.BatchV1().Jobs(ns).DeleteCollection(ctx, now, metav1.ListOptions{}),
			deleteServices(ctx, c, ns),
		)
		if err != nil {
			t.Errorf("clean up namespace %s: %v", ns, err)
		}
	})
	return ns
}

// deleteServices deletes ns's services one by one: the API server offers
// no deletecollection for services.
func deleteServices(ctx context.Context, c kubernetes.Interface, ns string) error {
	list, err := c.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	var errs []error
	for _, s := range list.Items {
		errs = append(errs, c.CoreV1().Services(ns).Delete(ctx, s.Name, metav1.DeleteOptions{}))
	}
	return errors.Join(errs...)
}

func createNamespace(t testing.TB, c kubernetes.Interface, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := c.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
}

// apiPod is a pod the API server accepts, owned by owner when it is set.
func apiPod(ns, name, node string, labels map[string]string, owner *metav1.OwnerReference) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels,
			Annotations: map[string]string{"example.com/note": "dropped by the transform"}},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "main", Image: "registry.invalid/app:1"}}},
	}
	if owner != nil {
		p.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	return p
}

// ownerOf is a controller reference to an object the API server returned.
func ownerOf(apiVersion, kind string, m metav1.ObjectMeta) *metav1.OwnerReference {
	return &metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: m.Name, UID: m.UID, Controller: ptr(true)}
}

// apiReplicaSet is a ReplicaSet owned by a Deployment that is never
// created: no controller runs to act on either.
func apiReplicaSet(ns, name, deployment string) *appsv1.ReplicaSet {
	labels := map[string]string{"app": deployment}
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels, OwnerReferences: []metav1.OwnerReference{{
			APIVersion: "apps/v1", Kind: "Deployment", Name: deployment, UID: "00000000-0000-0000-0000-00000000d001", Controller: ptr(true),
		}}},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr(int32(0)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "registry.invalid/app:1"}}},
			},
		},
	}
}

// setPodIPs plays the kubelet: the pod runs with ips.
func setPodIPs(t testing.TB, c kubernetes.Interface, ns, name string, phase corev1.PodPhase, ips ...string) {
	t.Helper()
	ctx := context.Background()
	p, err := c.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get pod %s/%s: %v", ns, name, err)
	}
	p.Status.Phase = phase
	p.Status.PodIP, p.Status.PodIPs = "", nil
	for _, ip := range ips {
		p.Status.PodIPs = append(p.Status.PodIPs, corev1.PodIP{IP: ip})
	}
	if len(ips) > 0 {
		p.Status.PodIP = ips[0]
	}
	if _, err := c.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update status of pod %s/%s: %v", ns, name, err)
	}
}

// seenWithin polls cond until it holds, failing the test unless it held
// within 1s of since, the return of the API call that should cause it.
func seenWithin(t testing.TB, what string, since time.Time, cond func() bool) {
	t.Helper()
	deadline := since.Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not seen after 10s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling a real condition with a deadline
	}
	if d := time.Since(since); d > time.Second {
		t.Errorf("%s: seen %v after the API call, want within 1s", what, d)
	}
}

func podNameAt(w *Watcher, ip string, at time.Time) string {
	p, ok := w.LookupIP(addr(ip), at)
	if !ok {
		return ""
	}
	return p.Namespace + "/" + p.Name
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
