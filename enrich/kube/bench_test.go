package kube

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
)

const benchPods = 5000

// benchPod is a pod as a Deployment's ReplicaSet makes it, with the
// fields a real one carries, so the trimming is measured on real weight.
// Pod i runs on one of 50 nodes, in one of 10 namespaces and 100
// Deployments.
func benchPod(i int) *corev1.Pod {
	ns, deploy, rs := benchNamespace(i), benchDeployment(i), benchReplicaSet(i)
	p := pod(ns, fmt.Sprintf("%s-%05d", rs, i), fmt.Sprintf("node-%02d", i%50), t0,
		[]string{fmt.Sprintf("10.%d.%d.%d", 64+i/65536, (i/256)%256, i%256)},
		ownedBy("ReplicaSet", rs),
		withLabels(map[string]string{"app": deploy, "version": "v1", "pod-template-hash": "5d8f7c6b9", "team": ns}))
	p.ResourceVersion = ""
	p.Annotations = map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "9090", "kubectl.kubernetes.io/restartedAt": "2030-01-01T00:00:00Z"}
	p.ManagedFields = []metav1.ManagedFieldsEntry{
		{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1", FieldsType: "FieldsV1",
			FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:labels":{".":{},"f:app":{},"f:pod-template-hash":{}},"f:ownerReferences":{}},"f:spec":{"f:containers":{}}}`)}},
		{Manager: "kubelet", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1", FieldsType: "FieldsV1", Subresource: "status",
			FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:status":{"f:conditions":{},"f:containerStatuses":{},"f:hostIP":{},"f:phase":{},"f:podIP":{},"f:podIPs":{}}}`)}},
	}
	p.Spec.Containers = []corev1.Container{{
		Name: "app", Image: "registry.example/" + deploy + ":1.2.3",
		Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
		Env:   []corev1.EnvVar{{Name: "LOG_LEVEL", Value: "info"}, {Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
		},
		VolumeMounts: []corev1.VolumeMount{{Name: "kube-api-access", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true}},
	}}
	p.Spec.Volumes = []corev1.Volume{{Name: "kube-api-access", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{}}}}
	p.Spec.ServiceAccountName = "default"
	p.Spec.Tolerations = []corev1.Toleration{{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}}
	p.Status.HostIP = fmt.Sprintf("192.168.0.%d", i%50)
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}, {Type: corev1.PodScheduled, Status: corev1.ConditionTrue}}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{
		Name: "app", Ready: true, Image: "registry.example/" + deploy + ":1.2.3", ImageID: "registry.example/" + deploy + "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		ContainerID: fmt.Sprintf("containerd://%064x", i),
	}}
	return p
}

// measurePodMemory starts a Watcher on client, which holds pods pods, and
// returns the heap bytes per pod it holds once synced.
func measurePodMemory(b *testing.B, client kubernetes.Interface, pods int) float64 {
	b.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := Start(ctx, Config{Client: client, NodeName: "node-00", RemotePods: true, Labels: []string{"app", "version"}})
	if err != nil {
		b.Fatal(err)
	}
	select {
	case <-w.Ready():
	case <-time.After(5 * time.Minute):
		b.Fatal("not ready after 5 minutes")
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if s := w.Stats(); s.Pods != pods || s.IPs != pods {
		b.Fatalf("holds %d pods, %d IPs; want %d", s.Pods, s.IPs, pods)
	}
	runtime.KeepAlive(w)
	cancel()
	<-w.Done() // the next measurement must not count this Watcher
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(pods)
}

// BenchmarkInformerMemoryPerPod reports the heap bytes per pod a Watcher
// holds after sync with RemotePods, for 5000 pods of 100 Deployments:
// "apiserver" lists them from the real API server (internal/kubetest) over
// protobuf, "fake" from client-go's fake clientset, whose tracker holds the
// full pods before and after, so only the Watcher's cache and indexes count.
func BenchmarkInformerMemoryPerPod(b *testing.B) {
	b.Run("apiserver", func(b *testing.B) {
		c, client := apiCluster(b)
		createBenchPods(b, c.Client)
		var perPod float64
		for b.Loop() {
			perPod = measurePodMemory(b, client, benchPods)
		}
		b.ReportMetric(perPod, "heapB/pod")
	})
	b.Run("fake", func(b *testing.B) {
		objs := make([]k8sruntime.Object, 0, benchPods+100)
		for i := range 100 {
			objs = append(objs, replicaSet(benchNamespace(i), benchReplicaSet(i), benchDeployment(i)))
		}
		for i := range benchPods {
			objs = append(objs, benchPod(i))
		}
		var perPod float64
		for b.Loop() {
			client := fake.NewClientset(objs...)
			perPod = measurePodMemory(b, client, benchPods)
		}
		b.ReportMetric(perPod, "heapB/pod")
	})
}

func benchNamespace(i int) string  { return fmt.Sprintf("bench-team-%d", i%10) }
func benchDeployment(i int) string { return fmt.Sprintf("svc-%d", i%100) }
func benchReplicaSet(i int) string { return benchDeployment(i) + "-5d8f7c6b9" }

// createBenchPods creates the benchmark's namespaces, ReplicaSets and pods
// on the real API server, once per test binary, and writes the pods'
// status as a kubelet would.
func createBenchPods(b *testing.B, client kubernetes.Interface) {
	b.Helper()
	ctx := context.Background()
	if _, err := client.CoreV1().Namespaces().Get(ctx, benchNamespace(0), metav1.GetOptions{}); err == nil {
		return // an earlier run of the benchmark in this binary made them
	}
	for i := range 10 {
		createNamespace(b, client, benchNamespace(i))
	}
	rsUIDs := make([]types.UID, 100)
	for i := range 100 {
		rs, err := client.AppsV1().ReplicaSets(benchNamespace(i)).Create(ctx, apiReplicaSet(benchNamespace(i), benchReplicaSet(i), benchDeployment(i)), metav1.CreateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		rsUIDs[i] = rs.UID
	}
	const workers = 16
	errs := make(chan error, workers)
	for wk := range workers {
		go func() {
			for i := wk; i < benchPods; i += workers {
				p := benchPod(i)
				status := p.Status
				p.UID, p.ManagedFields, p.CreationTimestamp, p.Status = "", nil, metav1.Time{}, corev1.PodStatus{}
				p.OwnerReferences[0].UID = rsUIDs[i%100]
				p.Spec.Volumes[0].VolumeSource = corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
				created, err := client.CoreV1().Pods(p.Namespace).Create(ctx, p, metav1.CreateOptions{})
				if err == nil {
					created.Status = status
					_, err = client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, created, metav1.UpdateOptions{})
				}
				if err != nil {
					errs <- fmt.Errorf("pod %d: %w", i, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
}
