package kube

import (
	"reflect"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/podflow/podflow/flow"
)

func clusterObjects() []runtime.Object {
	return []runtime.Object{
		replicaSet("shop", "web-7d9f", "web"),
		pod("shop", "web-a", "node-a", t0, []string{"10.0.0.1"}, ownedBy("ReplicaSet", "web-7d9f"), withLabels(map[string]string{"app": "web"})),
		pod("shop", "cache-a", "node-a", t0, []string{"10.0.0.2"}, ownedBy("StatefulSet", "cache")),
		pod("kube-system", "coredns-b", "node-b", t0, []string{"10.0.1.1"}, ownedBy("DaemonSet", "coredns"), withLabels(map[string]string{"app": "dns"})),
		pod("kube-system", "proxy-a", "node-a", t0, []string{"192.168.1.10"}, hostNetwork),
		dnsService(),
	}
}

var (
	webA     = Endpoint{Pod: "web-a", Namespace: "shop", Node: "node-a", WorkloadKind: "Deployment", WorkloadName: "web", Labels: map[string]string{"app": "web"}}
	cacheA   = Endpoint{Pod: "cache-a", Namespace: "shop", Node: "node-a", WorkloadKind: "StatefulSet", WorkloadName: "cache"}
	corednsB = Endpoint{Pod: "coredns-b", Namespace: "kube-system", Node: "node-b", WorkloadKind: "DaemonSet", WorkloadName: "coredns", Labels: map[string]string{"app": "dns"}}
)

func record(src string, sport uint16, dst string, dport uint16, proto uint8, first time.Time) flow.Record {
	var r flow.Record
	r.Tuple = flow.Tuple{SrcAddr: addr(src), DstAddr: addr(dst), SrcPort: sport, DstPort: dport, Proto: proto}
	r.First, r.Last = first, first.Add(time1s)
	return r
}

func TestResolveFlowTypesAndExportOwner(t *testing.T) {
	client := fake.NewClientset(clusterObjects()...)
	cfg := Config{RemotePods: true, Labels: []string{"app"}, Now: flow.NewFakeClock(t0.Add(time.Hour)).Now}
	nodeA := start(t, client, withNode(cfg, "node-a"))
	nodeB := start(t, client, withNode(cfg, "node-b"))
	at := t0.Add(time.Minute)

	viaDNS := record("10.0.0.1", 40000, "10.96.0.10", 53, flow.ProtoUDP, at)
	viaDNS.Context.NAT = flow.NAT{SrcAddr: addr("10.0.0.1"), DstAddr: addr("10.0.1.1"), SrcPort: 40000, DstPort: 53}
	noFirst := record("10.0.0.1", 1, "10.0.0.2", 6379, flow.ProtoTCP, time.Time{})

	for _, c := range []struct {
		name     string
		r        flow.Record
		want     Meta
		onA, onB bool // exported by node-a's and node-b's watcher
	}{
		{"intra-node", record("10.0.0.1", 1, "10.0.0.2", 6379, flow.ProtoTCP, at),
			Meta{Src: webA, Dst: cacheA, FlowType: FlowIntraNode}, true, true},
		{"inter-node from a", record("10.0.0.1", 1, "10.0.1.1", 53, flow.ProtoUDP, at),
			Meta{Src: webA, Dst: corednsB, FlowType: FlowInterNode}, true, false},
		{"inter-node from b", record("10.0.1.1", 53, "10.0.0.1", 1, flow.ProtoUDP, at),
			Meta{Src: corednsB, Dst: webA, FlowType: FlowInterNode}, false, true},
		{"service, NAT to a remote pod", viaDNS,
			Meta{Src: webA, Dst: corednsB, Service: "kube-system/kube-dns", ServicePort: "dns", FlowType: FlowInterNode}, true, false},
		{"service, no NAT known", record("10.0.0.1", 40000, "10.96.0.10", 53, flow.ProtoTCP, at),
			Meta{Src: webA, Service: "kube-system/kube-dns", ServicePort: "dns-tcp", FlowType: FlowToExternal}, true, true},
		{"reply from service", record("10.96.0.10", 9153, "10.0.0.1", 40000, flow.ProtoTCP, at),
			Meta{Dst: webA, Service: "kube-system/kube-dns", ServicePort: "metrics", FlowType: FlowFromExternal}, true, true},
		{"to external", record("10.0.0.2", 1, "8.8.8.8", 443, flow.ProtoTCP, at),
			Meta{Src: cacheA, FlowType: FlowToExternal}, true, true},
		{"from external", record("8.8.8.8", 443, "10.0.1.1", 1, flow.ProtoTCP, at),
			Meta{Dst: corednsB, FlowType: FlowFromExternal}, true, true},
		{"no pod (host network to outside)", record("192.168.1.10", 1, "8.8.8.8", 53, flow.ProtoUDP, at),
			Meta{FlowType: FlowUnknown}, true, true},
		{"before the pods existed", record("10.0.0.1", 1, "10.0.0.2", 6379, flow.ProtoTCP, t0.Add(-time1s)),
			Meta{FlowType: FlowUnknown}, true, true},
		{"no start time: now", noFirst, Meta{Src: webA, Dst: cacheA, FlowType: FlowIntraNode}, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := nodeA.Resolve(&c.r)
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("Resolve\n got %+v\nwant %+v", got, c.want)
			}
			if gotB := nodeB.Resolve(&c.r); !reflect.DeepEqual(gotB, got) {
				t.Fatalf("node-b resolves differently:\n got %+v\nwant %+v", gotB, got)
			}
			if e := nodeA.ExportedHere(got, &c.r); e != c.onA {
				t.Errorf("node-a ExportedHere = %v, want %v", e, c.onA)
			}
			if e := nodeB.ExportedHere(got, &c.r); e != c.onB {
				t.Errorf("node-b ExportedHere = %v, want %v", e, c.onB)
			}
		})
	}
}

func withNode(cfg Config, node string) Config {
	cfg.NodeName = node
	return cfg
}

func TestResolveDoesNotAllocate(t *testing.T) {
	w, _ := startFake(t, Config{RemotePods: true, Labels: []string{"app"}}, clusterObjects()...)
	r := record("10.0.0.1", 40000, "10.96.0.10", 53, flow.ProtoUDP, time.Now())
	r.Context.NAT = flow.NAT{SrcAddr: addr("10.0.0.1"), DstAddr: addr("10.0.1.1"), SrcPort: 40000, DstPort: 53}
	var m Meta
	if allocs := testing.AllocsPerRun(1000, func() { m = w.Resolve(&r) }); allocs != 0 {
		t.Fatalf("Resolve allocates %v times per record, want 0", allocs)
	}
	if m.Dst.Pod != "coredns-b" || m.FlowType != FlowInterNode {
		t.Fatalf("Resolve = %+v", m)
	}
}

func TestStatsCountLookups(t *testing.T) {
	w, _ := startFake(t, Config{RemotePods: true}, clusterObjects()...)
	base := w.Stats()
	w.LookupIP(addr("10.0.0.1"), time.Now())
	w.LookupIP(addr("10.0.0.99"), time.Now())
	r := record("10.0.0.1", 1, "8.8.8.8", 53, flow.ProtoUDP, time.Now())
	w.Resolve(&r)
	s := w.Stats()
	if s.Hits-base.Hits != 2 || s.Misses-base.Misses != 2 {
		t.Fatalf("hits +%d misses +%d, want +2 +2", s.Hits-base.Hits, s.Misses-base.Misses)
	}
	if s.Pods != 4 || s.IPs != 3 || s.Services != 1 || s.ServicePorts != 6 || s.Owners != 1 || s.Events != 6 {
		t.Fatalf("Stats = %+v, want Pods 4 IPs 3 Services 1 ServicePorts 6 Owners 1 Events 6", s)
	}
}

func TestFlowTypeString(t *testing.T) {
	for ft, want := range map[FlowType]string{
		FlowUnknown: "unknown", FlowIntraNode: "intra-node", FlowInterNode: "inter-node",
		FlowToExternal: "to-external", FlowFromExternal: "from-external", 9: "unknown",
	} {
		if got := ft.String(); got != want {
			t.Errorf("FlowType(%d).String() = %q, want %q", ft, got, want)
		}
	}
}
