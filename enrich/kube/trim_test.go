package kube

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// fullPod is a pod as the API server returns it, with everything podflow
// does not read.
func fullPod() *corev1.Pod {
	p := pod("shop", "web-7d9f-abcde", "node-a", t0, []string{"10.0.0.5", "fd00::5"},
		withLabels(map[string]string{"app": "web", "tier": "front", "pod-template-hash": "7d9f"}))
	p.OwnerReferences = []metav1.OwnerReference{
		{APIVersion: "v1", Kind: "Node", Name: "node-a", UID: "n"},
		{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-7d9f", UID: "rs", Controller: ptr(true), BlockOwnerDeletion: ptr(true)},
	}
	p.ResourceVersion = "42"
	p.DeletionTimestamp = ptr(metav1.NewTime(t0.Add(time.Minute)))
	p.Annotations = map[string]string{"kubectl.kubernetes.io/last-applied-configuration": "{...}"}
	p.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply}}
	p.Finalizers = []string{"example.com/hold"}
	p.Spec.Volumes = []corev1.Volume{{Name: "data"}}
	p.Spec.ServiceAccountName = "web"
	p.Status.HostIP = "192.168.1.10"
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{
		{Name: "main", ContainerID: "containerd://0123abcd", Image: "registry.example/app:1", ImageID: "sha256:ff", Ready: true},
		{Name: "sidecar", Image: "registry.example/side:1"}, // not started: no id yet
	}
	return p
}

func wantTrimmedPod() *podObject {
	return &podObject{
		rv: "42",
		pod: Pod{
			Name: "web-7d9f-abcde", Namespace: "shop", UID: "shop-web-7d9f-abcde", Node: "node-a",
			IPs: []netip.Addr{addr("10.0.0.5"), addr("fd00::5")}, Phase: "Running",
			OwnerKind: "ReplicaSet", OwnerName: "web-7d9f",
			Labels:       map[string]string{"app": "web"},
			ContainerIDs: []string{"0123abcd"},
			Created:      t0,
			Deleting:     t0.Add(time.Minute),
		},
		labels: &labelSet{m: map[string]string{"app": "web"}},
	}
}

func TestTrimPodKeepsOnlyWhatIsRead(t *testing.T) {
	tr := newPodTrimmer([]string{"app", "version"})
	got, err := tr.trim(fullPod())
	if err != nil {
		t.Fatal(err)
	}
	if want := wantTrimmedPod(); !reflect.DeepEqual(got, want) {
		t.Fatalf("trimmed pod\n got %#v\nwant %#v", got, want)
	}
	again, err := tr.trim(got)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, got) {
		t.Fatalf("trim is not idempotent:\n got %#v\nwant %#v", again, got)
	}
}

func TestTrimPodFillsPodIPsFromPodIP(t *testing.T) {
	p := pod("ns", "old", "node-a", t0, nil)
	p.Status.PodIP = "10.0.0.9" // an old API server sets only podIP
	got, err := newPodTrimmer(nil).trim(p)
	if err != nil {
		t.Fatal(err)
	}
	if ips := got.(*podObject).pod.IPs; !reflect.DeepEqual(ips, []netip.Addr{addr("10.0.0.9")}) {
		t.Fatalf("podIPs = %v, want [10.0.0.9]", ips)
	}
}

func TestTrimPassesTombstonesThrough(t *testing.T) {
	tomb := "not an object"
	for name, f := range map[string]func(any) (any, error){"pod": newPodTrimmer(nil).trim, "service": trimService, "owned": trimOwned} {
		got, err := f(tomb)
		if err != nil || got != tomb {
			t.Errorf("%s: trim(%q) = %v, %v; want it unchanged", name, tomb, got, err)
		}
	}
}

func TestTrimServiceAndOwned(t *testing.T) {
	s := service("kube-system", "dns", []string{"10.96.0.10"}, corev1.ServicePort{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53, TargetPort: intOrString(5353), NodePort: 30053})
	s.Annotations = map[string]string{"a": "b"}
	s.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}
	s.Spec.Type = corev1.ServiceTypeClusterIP
	got, _ := trimService(s)
	want := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "dns", Namespace: "kube-system", UID: "svc-dns"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.96.0.10", ClusterIPs: []string{"10.96.0.10"},
			Ports: []corev1.ServicePort{{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("trimmed service\n got %#v\nwant %#v", got, want)
	}

	rs := replicaSet("shop", "web-7d9f", "web")
	rs.Annotations = map[string]string{"deployment.kubernetes.io/revision": "3"}
	rs.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kube-controller-manager"}}
	rs.ResourceVersion = "7"
	rs.OwnerReferences = append([]metav1.OwnerReference{{Kind: "Other", Name: "not-controller"}}, rs.OwnerReferences...)
	gotRS, _ := trimOwned(rs)
	wantRS := &ownedObject{name: "web-7d9f", namespace: "shop", uid: "rs-web-7d9f", rv: "7", owner: ownerRef{"Deployment", "web"}}
	if !reflect.DeepEqual(gotRS, wantRS) {
		t.Fatalf("trimmed ReplicaSet\n got %#v\nwant %#v", gotRS, wantRS)
	}
	gotJob, _ := trimOwned(job("batch", "once", ""))
	if wantJob := (&ownedObject{name: "once", namespace: "batch", uid: "job-once"}); !reflect.DeepEqual(gotJob, wantJob) {
		t.Fatalf("trimmed Job\n got %#v\nwant %#v", gotJob, wantJob)
	}
}

// TestStoredObjectsAnswerMetaAccessor: the informer's store keys and
// versions objects through meta.Accessor.
func TestStoredObjectsAnswerMetaAccessor(t *testing.T) {
	pod, _ := newPodTrimmer(nil).trim(fullPod())
	rs, _ := trimOwned(replicaSet("shop", "web-7d9f", "web"))
	for _, c := range []struct {
		obj      any
		key, uid string
		rv       string
	}{
		{pod, "shop/web-7d9f-abcde", "shop-web-7d9f-abcde", "42"},
		{rs, "shop/web-7d9f", "rs-web-7d9f", ""},
	} {
		m, err := meta.Accessor(c.obj)
		if err != nil {
			t.Fatalf("meta.Accessor(%T): %v", c.obj, err)
		}
		key, err := cache.MetaNamespaceKeyFunc(c.obj)
		if err != nil || key != c.key || string(m.GetUID()) != c.uid || m.GetResourceVersion() != c.rv {
			t.Errorf("%T: key %q (%v) uid %q rv %q; want %q %q %q", c.obj, key, err, m.GetUID(), m.GetResourceVersion(), c.key, c.uid, c.rv)
		}
	}
}

// TestStoredPodIsTrimmed checks what the informer really stores.
func TestStoredPodIsTrimmed(t *testing.T) {
	w, _ := startFake(t, Config{Labels: []string{"app", "version"}, RemotePods: true}, fullPod())
	obj, ok, err := w.stores["pods"].GetByKey("shop/web-7d9f-abcde")
	if err != nil || !ok {
		t.Fatalf("pod not in the informer store: ok=%v err=%v", ok, err)
	}
	p, ok := obj.(*podObject) // which has no field for managedFields, annotations or specs
	if !ok {
		t.Fatalf("stored %T, want the trimmed *podObject", obj)
	}
	if !reflect.DeepEqual(p, wantTrimmedPod()) {
		t.Fatalf("stored pod\n got %#v\nwant %#v", p, wantTrimmedPod())
	}
}
