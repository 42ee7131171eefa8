package kube

import (
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/podflow/podflow/flow"
)

func TestEnricherFillsContextAndKeep(t *testing.T) {
	w := testWatcherForEnricher(t)
	e := NewEnricher(w)
	at := time.Now()
	rec := func(src, dst string, sport, dport uint16) flow.Record {
		return flow.Record{Key: flow.Key{Tuple: flow.Tuple{SrcAddr: netip.MustParseAddr(src), DstAddr: netip.MustParseAddr(dst),
			SrcPort: sport, DstPort: dport, Proto: flow.ProtoTCP}}, Counters: flow.Counters{First: at, Last: at}}
	}
	recs := []flow.Record{
		rec("10.0.1.5", "10.0.2.7", 40000, 8080), // local pod → remote pod: inter-node, exported here
		rec("10.0.2.7", "10.0.1.5", 8080, 40000), // remote pod → local pod: the other node exports it
		rec("10.0.1.5", "192.0.2.1", 40001, 443), // to external
	}
	e.Enrich(recs)
	k := recs[0].Context.Kube
	if k.Src.Pod != "web-1" || k.Dst.Pod != "db-1" || k.FlowType != flow.FlowTypeInterNode ||
		k.Src.WorkloadKind != "Deployment" || k.Src.Labels != `{"app":"web"}` {
		t.Errorf("local→remote: %+v", k)
	}
	if !e.Keep(&recs[0]) || e.Keep(&recs[1]) || !e.Keep(&recs[2]) {
		t.Errorf("keep: %v %v %v, want true false true", e.Keep(&recs[0]), e.Keep(&recs[1]), e.Keep(&recs[2]))
	}
	if recs[2].Context.Kube.FlowType != flow.FlowTypeToExternal || recs[2].Context.Kube.Dst.Known() {
		t.Errorf("to external: %+v", recs[2].Context.Kube)
	}
}

// testWatcherForEnricher: node-a holds web-1 (Deployment web, labels
// app=web); node-b holds db-1 (StatefulSet db).
func testWatcherForEnricher(t *testing.T) *Watcher {
	created := time.Now().Add(-time.Hour)
	w, _ := startFake(t, Config{NodeName: "node-a", RemotePods: true, Labels: []string{"app"}},
		replicaSet("default", "web-5d9", "web"),
		pod("default", "web-1", "node-a", created, []string{"10.0.1.5"}, ownedBy("ReplicaSet", "web-5d9"), withLabels(map[string]string{"app": "web", "tier": "x"})),
		pod("default", "db-1", "node-b", created, []string{"10.0.2.7"}, ownedBy("StatefulSet", "db")),
	)
	return w
}

// A host-network pod shares the node's IP: it is named through the
// container id of the local process at that end, never by IP.
func TestEnricherNamesHostNetworkPodsByContainer(t *testing.T) {
	const id = "4f1b8c2d9e0a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c"
	created := time.Now().Add(-time.Hour)
	agentPod := pod("kube-system", "node-agent-x", "node-a", created, []string{"10.0.0.10"}, hostNetwork, ownedBy("DaemonSet", "node-agent"),
		func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "main", ContainerID: "containerd://" + id}}
		})
	w, _ := startFake(t, Config{NodeName: "node-a", RemotePods: true},
		agentPod, pod("default", "db-1", "node-b", created, []string{"10.0.2.7"}, ownedBy("StatefulSet", "db")))
	e := NewEnricher(w)
	at := time.Now()
	r := flow.Record{Key: flow.Key{Tuple: flow.Tuple{SrcAddr: netip.MustParseAddr("10.0.0.10"), DstAddr: netip.MustParseAddr("10.0.2.7"),
		SrcPort: 40000, DstPort: 5432, Proto: flow.ProtoTCP}}, Counters: flow.Counters{First: at, Last: at}}
	plain := r
	r.Context.Src = flow.Process{PID: 42, Name: "agent", ContainerID: id}
	recs := []flow.Record{r, plain}
	e.Enrich(recs)
	k := recs[0].Context.Kube
	if k.Src.Pod != "node-agent-x" || k.Src.WorkloadKind != "DaemonSet" || k.Dst.Pod != "db-1" || k.FlowType != flow.FlowTypeInterNode {
		t.Errorf("host-network end by container: %+v", k)
	}
	if p := recs[1].Context.Kube; p.Src.Known() || p.FlowType != flow.FlowTypeFromExternal {
		t.Errorf("without the process's container the node IP names no pod: %+v", p)
	}
}
