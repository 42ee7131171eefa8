package kubetest_test

import (
	"slices"
	"testing"

	"github.com/podflow/podflow/internal/kubetest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Without kubelets a pod stays Pending with no IPs; a test plays the kubelet
// by writing the status subresource.
func TestPodStatusIsWrittenThroughSubresource(t *testing.T) {
	c := kubetest.Shared(t)
	ctx := t.Context()
	ns := createNamespace(t, c.Client, "pod-status")
	pods := c.Client.CoreV1().Pods(ns)

	web, err := pods.Create(ctx, testPod(ns, "web", "node-a"), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod: %v", err)
	}
	if web.Status.Phase != corev1.PodPending || len(web.Status.PodIPs) != 0 {
		t.Fatalf("new pod: phase %q, IPs %v; want Pending, none", web.Status.Phase, web.Status.PodIPs)
	}
	if _, err := pods.Create(ctx, testPod(ns, "db", "node-b"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod: %v", err)
	}

	wantIPs := []corev1.PodIP{{IP: "10.244.1.5"}, {IP: "fd00:244:1::5"}}
	web.Status.Phase = corev1.PodRunning
	web.Status.HostIP = "192.0.2.10"
	web.Status.PodIP = "10.244.1.5"
	web.Status.PodIPs = wantIPs
	if _, err := pods.UpdateStatus(ctx, web, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update status: %v", err)
	}

	got, err := pods.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get pod: %v", err)
	}
	if got.Status.Phase != corev1.PodRunning || got.Status.PodIP != "10.244.1.5" ||
		!slices.Equal(got.Status.PodIPs, wantIPs) || got.Status.HostIP != "192.0.2.10" {
		t.Errorf("status: phase %q, podIP %q, podIPs %v, hostIP %q; want Running, 10.244.1.5, %v, 192.0.2.10",
			got.Status.Phase, got.Status.PodIP, got.Status.PodIPs, got.Status.HostIP, wantIPs)
	}

	// Field selectors, which client-go's fake clientset ignores.
	for selector, want := range map[string][]string{
		"spec.nodeName=node-a":     {"web"},
		"spec.nodeName=node-b":     {"db"},
		"spec.nodeName=node-c":     nil,
		"status.podIP=10.244.1.5":  {"web"},
		"status.phase=Pending":     {"db"},
		"metadata.name!=undefined": {"db", "web"},
	} {
		list, err := pods.List(ctx, metav1.ListOptions{FieldSelector: selector})
		if err != nil {
			t.Fatalf("list %s: %v", selector, err)
		}
		if names := podNames(list.Items); !slices.Equal(names, want) {
			t.Errorf("list %s: %q, want %q", selector, names, want)
		}
	}
}

func testPod(namespace, name, node string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{
			NodeName:   node,
			Containers: []corev1.Container{{Name: name, Image: "registry.invalid/" + name + ":1"}},
		},
	}
}

// podNames returns the pods' names, sorted (List orders by key already).
func podNames(pods []corev1.Pod) []string {
	var names []string
	for _, p := range pods {
		names = append(names, p.Name)
	}
	slices.Sort(names)
	return names
}
