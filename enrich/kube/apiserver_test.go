package kube

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/podflow/podflow/flow"
)

// The tests against the real API server (internal/kubetest) create what
// controllers would: ReplicaSets, Jobs and pods with owner references, and
// play the kubelet by writing pod status. Each test keeps to its own
// namespaces, node names and IP range, since they share one server.

func TestAPIServerLookupsOwnersAndUpdates(t *testing.T) {
	cluster, client := apiCluster(t)
	ctx := context.Background()
	ns := testNamespace(t, cluster.Client, "kube-it-main")
	w := start(t, client, Config{NodeName: "it-node-a", RemotePods: true, Labels: []string{"app", "version"}})

	rs, err := cluster.Client.AppsV1().ReplicaSets(ns).Create(ctx, apiReplicaSet(ns, "web-5d8f", "web"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	jobSpec := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "nightly-2901", OwnerReferences: []metav1.OwnerReference{{
			APIVersion: "batch/v1", Kind: "CronJob", Name: "nightly", UID: "00000000-0000-0000-0000-0000000c0001", Controller: ptr(true)}}},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "main", Image: "registry.invalid/report:1"}}}}},
	}
	job, err := cluster.Client.BatchV1().Jobs(ns).Create(ctx, jobSpec, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fakeOwner := func(kind, name string) *metav1.OwnerReference {
		return &metav1.OwnerReference{APIVersion: "apps/v1", Kind: kind, Name: name, UID: "00000000-0000-0000-0000-0000000000aa", Controller: ptr(true)}
	}
	webLabels := map[string]string{"app": "web", "version": "1", "pod-template-hash": "5d8f"}
	for _, pc := range []struct {
		pod *corev1.Pod
		ips []string
	}{
		{apiPod(ns, "web-5d8f-a", "it-node-a", webLabels, ownerOf("apps/v1", "ReplicaSet", rs.ObjectMeta)), []string{"10.244.1.1", "fd00:244:1::1"}},
		{apiPod(ns, "web-5d8f-b", "it-node-b", webLabels, ownerOf("apps/v1", "ReplicaSet", rs.ObjectMeta)), []string{"10.244.2.1"}},
		{apiPod(ns, "db-0", "it-node-b", nil, fakeOwner("StatefulSet", "db")), []string{"10.244.2.2"}},
		{apiPod(ns, "agent-x", "it-node-a", nil, fakeOwner("DaemonSet", "agent")), []string{"10.244.1.3"}},
		{apiPod(ns, "nightly-2901-q", "it-node-a", nil, ownerOf("batch/v1", "Job", job.ObjectMeta)), []string{"10.244.1.4"}},
		{apiPod(ns, "debug", "it-node-a", nil, nil), []string{"10.244.1.5"}},
	} {
		if _, err := client.CoreV1().Pods(ns).Create(ctx, pc.pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		setPodIPs(t, cluster.Client, ns, pc.pod.Name, corev1.PodRunning, pc.ips...)
		since := time.Now()
		for _, ip := range pc.ips {
			seenWithin(t, pc.pod.Name+" at "+ip, since, func() bool { return podNameAt(w, ip, time.Now()) == ns+"/"+pc.pod.Name })
		}
	}

	now := time.Now()
	for ip, want := range map[string][3]string{
		"10.244.1.1":    {"web-5d8f-a", "Deployment", "web"},
		"fd00:244:1::1": {"web-5d8f-a", "Deployment", "web"},
		"10.244.2.1":    {"web-5d8f-b", "Deployment", "web"},
		"10.244.2.2":    {"db-0", "StatefulSet", "db"},
		"10.244.1.3":    {"agent-x", "DaemonSet", "agent"},
		"10.244.1.4":    {"nightly-2901-q", "CronJob", "nightly"},
		"10.244.1.5":    {"debug", "Pod", "debug"},
	} {
		p, _ := w.LookupIP(addr(ip), now)
		if got := [3]string{p.Name, p.WorkloadKind, p.WorkloadName}; got != want {
			t.Errorf("LookupIP(%s) = %v, want %v", ip, got, want)
		}
	}
	webA, _ := w.LookupIP(addr("10.244.1.1"), now)
	if webA.Node != "it-node-a" || webA.Phase != "Running" || webA.UID == "" || webA.Created.IsZero() ||
		!reflect.DeepEqual(sortedKeys(webA.Labels), []string{"app", "version"}) {
		t.Errorf("web-5d8f-a = %+v", webA)
	}

	// A dual-stack service gets ClusterIPs of both families.
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: corev1.ServiceSpec{
			IPFamilyPolicy: ptr(corev1.IPFamilyPolicyPreferDualStack),
			Selector:       map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{
				{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP},
				{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP},
			},
		},
	}
	svc, err = cluster.Client.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(svc.Spec.ClusterIPs) != 2 {
		t.Fatalf("service ClusterIPs %v, want one per family", svc.Spec.ClusterIPs)
	}
	since := time.Now()
	for _, ip := range svc.Spec.ClusterIPs {
		seenWithin(t, "service at "+ip, since, func() bool {
			got, _ := w.LookupService(addr(ip), 80, flow.ProtoTCP)
			return got == Service{Namespace: ns, Name: "web", PortName: "http", Port: 80, Proto: flow.ProtoTCP}
		})
		if got, _ := w.LookupService(addr(ip), 53, flow.ProtoUDP); got.PortName != "dns" {
			t.Errorf("LookupService(%s, 53, udp) = %+v, want port dns", ip, got)
		}
	}

	// A flow from web-a to the service, DNAT'ed to web-b on the other node.
	r := record("10.244.1.1", 40000, svc.Spec.ClusterIPs[0], 80, flow.ProtoTCP, time.Now())
	r.Context.NAT = flow.NAT{SrcAddr: addr("10.244.1.1"), DstAddr: addr("10.244.2.1"), SrcPort: 40000, DstPort: 8080}
	m := w.Resolve(&r)
	if m.Src.Pod != "web-5d8f-a" || m.Dst.Pod != "web-5d8f-b" || m.Dst.Node != "it-node-b" || m.Service != ns+"/web" ||
		m.ServicePort != "http" || m.FlowType != FlowInterNode || !w.ExportedHere(m, &r) {
		t.Errorf("Resolve = %+v", m)
	}

	// A label change.
	p, err := client.CoreV1().Pods(ns).Get(ctx, "web-5d8f-a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Labels["version"] = "2"
	if _, err := client.CoreV1().Pods(ns).Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	since = time.Now()
	seenWithin(t, "label version=2", since, func() bool {
		p, _ := w.LookupIP(addr("10.244.1.1"), time.Now())
		return p.Labels["version"] == "2"
	})

	// A new IP (the sandbox was recreated): the old one ends.
	beforeChange := time.Now()
	setPodIPs(t, cluster.Client, ns, "web-5d8f-a", corev1.PodRunning, "10.244.1.11")
	since = time.Now()
	seenWithin(t, "new IP", since, func() bool { return podNameAt(w, "10.244.1.11", time.Now()) == ns+"/web-5d8f-a" })
	if got := podNameAt(w, "10.244.1.1", time.Now()); got != "" {
		t.Errorf("old IP after the change: %q, want a miss", got)
	}
	if got := podNameAt(w, "10.244.1.1", beforeChange); got != ns+"/web-5d8f-a" {
		t.Errorf("old IP for a flow that started before the change: %q", got)
	}

	// A graceful deletion: the pod is terminating and still resolves (no
	// kubelet ever finishes it).
	if err := client.CoreV1().Pods(ns).Delete(ctx, "debug", metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(30))}); err != nil {
		t.Fatal(err)
	}
	since = time.Now()
	seenWithin(t, "debug terminating", since, func() bool {
		p, ok := w.LookupIP(addr("10.244.1.5"), time.Now())
		return ok && !p.Deleting.IsZero()
	})

	// A deletion: gone for flows that start after it, kept for the grace
	// period for flows that started before.
	beforeDelete := time.Now()
	if err := client.CoreV1().Pods(ns).Delete(ctx, "web-5d8f-b", metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(0))}); err != nil {
		t.Fatal(err)
	}
	since = time.Now()
	seenWithin(t, "web-5d8f-b deleted", since, func() bool { return podNameAt(w, "10.244.2.1", time.Now()) == "" })
	if got := podNameAt(w, "10.244.2.1", beforeDelete); got != ns+"/web-5d8f-b" {
		t.Errorf("deleted pod for a flow that started before: %q", got)
	}

	// The ReplicaSet goes: its pods name it instead of the Deployment.
	if err := cluster.Client.AppsV1().ReplicaSets(ns).Delete(ctx, "web-5d8f", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	since = time.Now()
	seenWithin(t, "ReplicaSet deleted", since, func() bool {
		p, _ := w.LookupIP(addr("10.244.1.11"), time.Now())
		return p.WorkloadKind == "ReplicaSet" && p.WorkloadName == "web-5d8f"
	})
}

func TestAPIServerIPReuseByTime(t *testing.T) {
	c, client := apiCluster(t)
	ctx := context.Background()
	ns := testNamespace(t, c.Client, "kube-it-reuse")
	w := start(t, client, Config{NodeName: "it-reuse-a", RemotePods: true})

	if _, err := client.CoreV1().Pods(ns).Create(ctx, apiPod(ns, "a", "it-reuse-a", nil, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	setPodIPs(t, c.Client, ns, "a", corev1.PodRunning, "10.245.0.5")
	seenWithin(t, "a", time.Now(), func() bool { return podNameAt(w, "10.245.0.5", time.Now()) == ns+"/a" })
	aTime := time.Now()

	if err := client.CoreV1().Pods(ns).Delete(ctx, "a", metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(0))}); err != nil {
		t.Fatal(err)
	}
	seenWithin(t, "a deleted", time.Now(), func() bool { return podNameAt(w, "10.245.0.5", time.Now()) == "" })
	if _, err := client.CoreV1().Pods(ns).Create(ctx, apiPod(ns, "b", "it-reuse-b", nil, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	setPodIPs(t, c.Client, ns, "b", corev1.PodRunning, "10.245.0.5")
	seenWithin(t, "b", time.Now(), func() bool { return podNameAt(w, "10.245.0.5", time.Now()) == ns+"/b" })

	if got := podNameAt(w, "10.245.0.5", aTime); got != ns+"/a" {
		t.Errorf("flow that started while a held the IP: %q, want %s/a", got, ns)
	}
	if got := podNameAt(w, "10.245.0.5", time.Now()); got != ns+"/b" {
		t.Errorf("flow that started now: %q, want %s/b", got, ns)
	}
	if s := w.Stats(); s.MultiHolderIPs != 1 || s.EndedHolders != 1 {
		t.Errorf("Stats: MultiHolderIPs=%d EndedHolders=%d, want 1 1", s.MultiHolderIPs, s.EndedHolders)
	}
}

// TestAPIServerLocalPodsOnly: without RemotePods the real server's field
// selector keeps other nodes' pods out.
func TestAPIServerLocalPodsOnly(t *testing.T) {
	c, client := apiCluster(t)
	ctx := context.Background()
	ns := testNamespace(t, c.Client, "kube-it-local")
	w := start(t, client, Config{NodeName: "it-local-x", RemotePods: false})

	for _, p := range []struct{ name, node, ip string }{
		{"y1", "it-local-y", "10.246.1.1"}, // created first: had it come through, it would be seen before the others
		{"x1", "it-local-x", "10.246.0.1"},
		{"x2", "it-local-x", "10.246.0.2"},
	} {
		if _, err := client.CoreV1().Pods(ns).Create(ctx, apiPod(ns, p.name, p.node, nil, nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		setPodIPs(t, c.Client, ns, p.name, corev1.PodRunning, p.ip)
	}
	since := time.Now()
	seenWithin(t, "x2", since, func() bool { return podNameAt(w, "10.246.0.2", time.Now()) == ns+"/x2" })
	if got := podNameAt(w, "10.246.0.1", time.Now()); got != ns+"/x1" {
		t.Errorf("x1: %q", got)
	}
	if got := podNameAt(w, "10.246.1.1", time.Now()); got != "" {
		t.Errorf("pod of another node held: %q", got)
	}
	if keys := w.stores["pods"].ListKeys(); !reflect.DeepEqual(sorted(keys), []string{ns + "/x1", ns + "/x2"}) {
		t.Errorf("pods held %v, want only this node's", keys)
	}

	// A pod the scheduler binds to this node later comes in.
	if _, err := client.CoreV1().Pods(ns).Create(ctx, apiPod(ns, "z1", "", nil, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "z1"}, Target: corev1.ObjectReference{Kind: "Node", Name: "it-local-x"}}
	if err := c.Client.CoreV1().Pods(ns).Bind(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	setPodIPs(t, c.Client, ns, "z1", corev1.PodRunning, "10.246.0.3")
	seenWithin(t, "z1 bound here", time.Now(), func() bool { return podNameAt(w, "10.246.0.3", time.Now()) == ns+"/z1" })
	if s := w.Stats(); s.Pods != 3 {
		t.Errorf("Stats().Pods = %d, want 3", s.Pods)
	}
}

// TestAPIServerServiceAccountRBAC: RBACRules are enough for a service
// account with no other rights.
func TestAPIServerServiceAccountRBAC(t *testing.T) {
	c, _ := apiCluster(t)
	ctx := context.Background()
	ns := testNamespace(t, c.Client, "kube-it-rbac")
	saClient, err := ClientForConfig(c.ServiceAccountConfig(t, ns, "podflow"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := saClient.CoreV1().Pods("").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("list pods before the binding: %v, want forbidden", err)
	}
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: ns}, Rules: RBACRules()}
	if _, err := c.Client.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: ns},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: ns, Name: "podflow"}},
	}
	if _, err := c.Client.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		err := errors.Join(
			c.Client.RbacV1().ClusterRoleBindings().Delete(ctx, ns, metav1.DeleteOptions{}),
			c.Client.RbacV1().ClusterRoles().Delete(ctx, ns, metav1.DeleteOptions{}),
		)
		if err != nil {
			t.Errorf("clean up RBAC: %v", err)
		}
	})
	// RBAC rules reach the authorizer's cache shortly after they are written.
	waitFor(t, "binding in effect", func() bool {
		_, err := saClient.CoreV1().Pods("").List(ctx, metav1.ListOptions{Limit: 1})
		return err == nil
	})
	w := start(t, saClient, Config{NodeName: "it-rbac-a", RemotePods: true})
	if _, err := c.Client.CoreV1().Pods(ns).Create(ctx, apiPod(ns, "p", "it-rbac-a", nil, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	setPodIPs(t, c.Client, ns, "p", corev1.PodRunning, "10.247.0.1")
	seenWithin(t, "pod seen with the service account's rights", time.Now(), func() bool {
		return podNameAt(w, "10.247.0.1", time.Now()) == ns+"/p"
	})
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
