package kube

import (
	"context"
	"net/netip"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
)

// t0 is the tests' reference time; the API keeps whole seconds.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// start runs a Watcher on client until the test ends and waits until it
// is ready.
func start(t *testing.T, client kubernetes.Interface, cfg Config) *Watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cfg.Client = client
	if cfg.NodeName == "" {
		cfg.NodeName = "node-a"
	}
	w, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	select {
	case <-w.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("watcher not ready after 10s")
	}
	return w
}

// startFake runs a Watcher on a fake clientset holding objs.
func startFake(t *testing.T, cfg Config, objs ...runtime.Object) (*Watcher, *fake.Clientset) {
	t.Helper()
	client := fake.NewClientset(objs...)
	return start(t, client, cfg), client
}

// waitFor polls cond until it holds or 5s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond) // polling a real condition with a deadline
	}
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func ptr[T any](v T) *T { return &v }

type podOpt func(*corev1.Pod)

func pod(ns, name, node string, created time.Time, ips []string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: ns, UID: types.UID(ns + "-" + name),
			CreationTimestamp: metav1.NewTime(created),
		},
		Spec:   corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "main", Image: "registry.example/app:1"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
	for _, ip := range ips {
		p.Status.PodIPs = append(p.Status.PodIPs, corev1.PodIP{IP: ip})
	}
	if len(ips) > 0 {
		p.Status.PodIP = ips[0]
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func ownedBy(kind, name string) podOpt {
	return func(p *corev1.Pod) { p.OwnerReferences = controllerRef(kind, name) }
}

func withLabels(l map[string]string) podOpt { return func(p *corev1.Pod) { p.Labels = l } }

func hostNetwork(p *corev1.Pod) { p.Spec.HostNetwork = true }

func controllerRef(kind, name string) []metav1.OwnerReference {
	apiVersion := "apps/v1"
	if kind == "Job" || kind == "CronJob" {
		apiVersion = "batch/v1"
	}
	return []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: name, UID: types.UID(kind + "-" + name), Controller: ptr(true)}}
}

func replicaSet(ns, name, deployment string) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID("rs-" + name), OwnerReferences: controllerRef("Deployment", deployment)},
		Spec:       appsv1.ReplicaSetSpec{Replicas: ptr(int32(2))},
	}
}

func job(ns, name, cronJob string) *batchv1.Job {
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID("job-" + name)}}
	if cronJob != "" {
		j.OwnerReferences = controllerRef("CronJob", cronJob)
	}
	return j
}

func service(ns, name string, clusterIPs []string, ports ...corev1.ServicePort) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID("svc-" + name)},
		Spec:       corev1.ServiceSpec{ClusterIPs: clusterIPs, Ports: ports, Selector: map[string]string{"app": name}},
	}
	if len(clusterIPs) > 0 {
		s.Spec.ClusterIP = clusterIPs[0]
	}
	return s
}

const time1s = time.Second
