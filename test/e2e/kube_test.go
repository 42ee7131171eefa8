package e2e

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/podflow/podflow/agent"
	"github.com/podflow/podflow/config"
	"github.com/podflow/podflow/enrich/kube"
	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/kubetest"
)

// podflowClient applies deploy/base (Namespace, ServiceAccount, the
// read-only ClusterRole and its binding) with the admin kubeconfig and
// returns a client authenticated as podflow's ServiceAccount only.
func podflowClient(t *testing.T, c *kubetest.Cluster) (kubernetes.Interface, string) {
	t.Helper()
	admin := c.Kubeconfig(t, c.Config)
	if out, err := exec.Command("kubectl", "--kubeconfig", admin, "apply", "-k", "../../deploy/base").CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply -k deploy/base: %v\n%s", err, out)
	}
	sa := c.ServiceAccountConfig(t, "podflow", "podflow")
	client, err := kube.ClientForConfig(sa)
	if err != nil {
		t.Fatal(err)
	}
	return client, c.Kubeconfig(t, sa)
}

// registerPod creates a pod on node with the pod's addresses in its status
// (no kubelet runs: the status subresource is set by hand).
func registerPod(t *testing.T, c *kubetest.Cluster, ns, name, node string, owner []metav1.OwnerReference, labels map[string]string, ips ...netip.Addr) {
	t.Helper()
	ctx := context.Background()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels, OwnerReferences: owner},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "main", Image: "example/app:1"}}},
	}
	created, err := c.Client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod %s/%s: %v", ns, name, err)
	}
	created.Status.Phase = corev1.PodRunning
	for _, ip := range ips {
		created.Status.PodIPs = append(created.Status.PodIPs, corev1.PodIP{IP: ip.String()})
	}
	created.Status.PodIP = ips[0].String()
	if _, err := c.Client.CoreV1().Pods(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("pod %s/%s status: %v", ns, name, err)
	}
	t.Cleanup(func() {
		c.Client.CoreV1().Pods(ns).Delete(context.Background(), name, metav1.DeleteOptions{})
	})
}

func ensureNamespace(t *testing.T, c *kubetest.Cluster, ns string) {
	t.Helper()
	_, err := c.Client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
}

func ownerRef(apiVersion, kind, name string, uid types.UID) []metav1.OwnerReference {
	yes := true
	return []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: name, UID: uid, Controller: &yes}}
}

// Netns "pods" whose IPs are registered as pods in a real API server: the
// records name both pods, their namespace, node and workload. podflow runs
// under the ServiceAccount token bound to the shipped ClusterRole, logs
// nothing forbidden, and that role can read what podflow reads and nothing
// more.
func TestRecordsNamePodsFromTheAPIServer(t *testing.T) {
	c := kubetest.Shared(t)
	client, saKubeconfig := podflowClient(t, c)
	ensureNamespace(t, c, "shop")
	ctx := context.Background()
	rs, err := c.Client.AppsV1().ReplicaSets("shop").Create(ctx, &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web-7d9f", OwnerReferences: ownerRef("apps/v1", "Deployment", "web", "uid-deploy-web")},
		Spec: appsv1.ReplicaSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "example/app:1"}}}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Client.AppsV1().ReplicaSets("shop").Delete(context.Background(), rs.Name, metav1.DeleteOptions{})
	})

	rp := &routedPair{}
	n := newNode(t)
	rp.node, rp.client, rp.srv = n, n.addRoutedPod(t, 1), n.addRoutedPod(t, 2)
	registerPod(t, c, "shop", "web-7d9f-x1", "node-a", ownerRef("apps/v1", "ReplicaSet", rs.Name, rs.UID),
		map[string]string{"app": "web", "pod-template-hash": "7d9f"}, rp.client.v4, rp.client.v6)
	registerPod(t, c, "shop", "db-0", "node-a", ownerRef("apps/v1", "StatefulSet", "db", "uid-sts-db"),
		map[string]string{"app": "db"}, rp.srv.v4, rp.srv.v6)

	rp.col = startIPFIXCollector(t, "udp")
	rp.colURL = rp.col.url("ipfix+udp")
	rp.agent = startAgentFull(t, n.ns, func(c *config.Config) { c.NodeName = "node-a" },
		func(o *agent.Options) { o.Kube = client }, rp.colURL)

	type conn struct{ local, server netip.AddrPort }
	var conns []conn
	for _, ipv6 := range []bool{false, true} {
		_, srv := rp.addrs(ipv6)
		server := netip.AddrPortFrom(srv, 7100)
		stop := serve(t, rp.srv, "tcp", server)
		ch := startChild(t, rp.client.ns)
		local := netip.MustParseAddrPort(ch.do(t, "tcp "+server.String()))
		ch.do(t, "send 2000")
		ch.do(t, "finish")
		stop(0)
		conns = append(conns, conn{local, server})
	}
	stats := rp.agent.stop(t)
	recs := rp.col.waitRecords(t, stats[rp.colURL].RecordsSent)
	want := flow.Kube{
		Src:      flow.KubeEndpoint{Pod: "web-7d9f-x1", Namespace: "shop", Node: "node-a", WorkloadKind: "Deployment", WorkloadName: "web", Labels: `{"app":"web"}`},
		Dst:      flow.KubeEndpoint{Pod: "db-0", Namespace: "shop", Node: "node-a", WorkloadKind: "StatefulSet", WorkloadName: "db", Labels: `{"app":"db"}`},
		FlowType: flow.FlowTypeIntraNode,
	}
	for _, cn := range conns {
		if k := kubeOf(recs, tupleOf(cn.local, cn.server, flow.ProtoTCP)); k != want {
			t.Errorf("%s → %s:\n got %+v\nwant %+v", cn.local, cn.server, k, want)
		}
	}

	if forbidden := rp.agent.logs.FilterMessageSnippet("forbidden"); forbidden.Len() > 0 {
		t.Errorf("podflow logged forbidden: %v", messages(forbidden.All()))
	}
	for _, e := range rp.agent.logs.All() {
		for _, f := range e.Context {
			if strings.Contains(strings.ToLower(f.String+fmt.Sprint(f.Interface)), "forbidden") {
				t.Errorf("podflow logged forbidden: %s %v", e.Message, e.Context)
			}
		}
	}
	// The role is enough and no wider: read-only on what podflow reads.
	for _, tc := range []struct {
		verb, resource string
		allowed        bool
	}{
		{"list", "pods", true}, {"watch", "services", true}, {"list", "replicasets.apps", true}, {"watch", "jobs.batch", true},
		{"create", "pods", false}, {"delete", "pods", false}, {"update", "services", false},
		{"list", "secrets", false}, {"get", "configmaps", false}, {"list", "nodes", false}, {"list", "deployments.apps", false},
	} {
		err := exec.Command("kubectl", "--kubeconfig", saKubeconfig, "auth", "can-i", tc.verb, tc.resource, "-A").Run()
		if got := err == nil; got != tc.allowed {
			t.Errorf("podflow's ServiceAccount can %s %s: %v, want %v", tc.verb, tc.resource, got, tc.allowed)
		}
	}
}

// kubeOf returns the Kubernetes context of tu's records (the last that
// names anything).
func kubeOf(recs []flow.Record, tu flow.Tuple) flow.Kube {
	var k flow.Kube
	for _, r := range recs {
		if r.Tuple == tu && (r.Context.Kube.Src.Known() || r.Context.Kube.Dst.Known()) {
			k = r.Context.Kube
		}
	}
	return k
}

// Two nodes (two podflows, each attached to its own node namespace) with
// a pod each exchange UDP traffic; in once-per-cluster mode the collector's
// sum over both nodes equals what was sent, exactly: each inter-node flow
// is exported by the source pod's node only.
func TestOncePerClusterCountsInterNodeTrafficOnce(t *testing.T) {
	c := kubetest.Shared(t)
	client, _ := podflowClient(t, c)
	ensureNamespace(t, c, "mesh")
	a, b := newIPv4OnlyNode(t), newIPv4OnlyNode(t)
	pa, pb := a.addRoutedPod(t, 11), b.addRoutedPod(t, 12)
	linkNodes(t, a, b, pa, pb)
	registerPod(t, c, "mesh", "alpha", "node-a", nil, nil, pa.v4)
	registerPod(t, c, "mesh", "beta", "node-b", nil, nil, pb.v4)

	col := startIPFIXCollector(t, "tcp")
	url := col.url("ipfix+tcp")
	tune := func(name string) func(*config.Config) {
		return func(c *config.Config) { c.NodeName = name; c.ProcessContext, c.NATContext = false, false }
	}
	agA := startAgentFull(t, a.ns, tune("node-a"), func(o *agent.Options) { o.Kube = client }, url)
	agB := startAgentFull(t, b.ns, tune("node-b"), func(o *agent.Options) { o.Kube = client }, url)

	const ab, ba = 40, 25
	ab1 := sendUDP(t, pa, pb, pb.v4, 7200, ab, 100)
	ba1 := sendUDP(t, pb, pa, pa.v4, 7201, ba, 100)
	sa, sb := agA.stop(t), agB.stop(t)
	recs := col.waitRecords(t, sa[url].RecordsSent+sb[url].RecordsSent)
	count := func(tu flow.Tuple) (packets uint64, kinds map[flow.FlowType]bool) {
		kinds = map[flow.FlowType]bool{}
		for _, r := range recs {
			if r.Tuple == tu {
				packets += r.Packets
				kinds[r.Context.Kube.FlowType] = true
			}
		}
		return
	}
	for _, tc := range []struct {
		tu   flow.Tuple
		sent uint64
	}{
		{tupleOf(ab1, netip.AddrPortFrom(pb.v4, 7200), flow.ProtoUDP), ab},
		{tupleOf(ba1, netip.AddrPortFrom(pa.v4, 7201), flow.ProtoUDP), ba},
	} {
		got, kinds := count(tc.tu)
		if got != tc.sent || len(kinds) != 1 || !kinds[flow.FlowTypeInterNode] {
			t.Errorf("%v: the collector summed %d packets over both nodes (flow types %v), %d were sent", tc.tu, got, kinds, tc.sent)
		}
	}
}

// linkNodes joins two nodes with a veth and routes each node's pod subnet
// through it.
func linkNodes(t *testing.T, a, b *node, pa, pb *pod) {
	t.Helper()
	la, lb := a.ns.AddVethPair(t, "n-ab", "n-ba", b.ns)
	a.ns.AddAddr(t, la, "10.200.0.1/30")
	b.ns.AddAddr(t, lb, "10.200.0.2/30")
	a.ns.LinkUp(t, la)
	b.ns.LinkUp(t, lb)
	la, lb = a.ns.Link(t, "n-ab"), b.ns.Link(t, "n-ba")
	route := func(n *node, l netlink.Link, dst netip.Addr, gw string) {
		_, subnet, _ := net.ParseCIDR(netip.PrefixFrom(dst, 30).Masked().String())
		n.ns.AddRoute(t, &netlink.Route{LinkIndex: l.Attrs().Index, Dst: subnet, Gw: net.ParseIP(gw)})
	}
	route(a, la, pb.v4, "10.200.0.2")
	route(b, lb, pa.v4, "10.200.0.1")
	// Static neighbours: no ARP exchange to wait for.
	a.ns.AddNeigh(t, la, net.ParseIP("10.200.0.2"), lb.Attrs().HardwareAddr)
	b.ns.AddNeigh(t, lb, net.ParseIP("10.200.0.1"), la.Attrs().HardwareAddr)
}
