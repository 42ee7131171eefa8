package kube

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func intOrString(i int) intstr.IntOrString { return intstr.FromInt(i) }

func TestWorkloadOwnerChain(t *testing.T) {
	w, _ := startFake(t, Config{RemotePods: true},
		replicaSet("shop", "web-7d9f", "web"),
		job("batch", "report-2901", "report"),
		job("batch", "once", ""),
		pod("shop", "web-7d9f-a", "node-a", t0, []string{"10.0.0.1"}, ownedBy("ReplicaSet", "web-7d9f")),
		pod("batch", "report-2901-x", "node-a", t0, []string{"10.0.0.2"}, ownedBy("Job", "report-2901")),
		pod("shop", "db-0", "node-b", t0, []string{"10.0.1.3"}, ownedBy("StatefulSet", "db")),
		pod("kube-system", "agent-q", "node-b", t0, []string{"10.0.1.4"}, ownedBy("DaemonSet", "agent")),
		pod("shop", "debug", "node-a", t0, []string{"10.0.0.5"}),
		pod("batch", "once-y", "node-a", t0, []string{"10.0.0.6"}, ownedBy("Job", "once")),
		pod("shop", "orphan-x", "node-a", t0, []string{"10.0.0.7"}, ownedBy("ReplicaSet", "gone")),
	)
	for _, c := range []struct {
		ip, pod, kind, name string
	}{
		{"10.0.0.1", "web-7d9f-a", "Deployment", "web"},
		{"10.0.0.2", "report-2901-x", "CronJob", "report"},
		{"10.0.1.3", "db-0", "StatefulSet", "db"},
		{"10.0.1.4", "agent-q", "DaemonSet", "agent"},
		{"10.0.0.5", "debug", "Pod", "debug"},
		{"10.0.0.6", "once-y", "Job", "once"},          // a Job without CronJob
		{"10.0.0.7", "orphan-x", "ReplicaSet", "gone"}, // ReplicaSet not (yet) known
	} {
		p, ok := w.LookupIP(addr(c.ip), t0.Add(time1s))
		if !ok {
			t.Errorf("%s: not found", c.ip)
			continue
		}
		if p.Name != c.pod || p.WorkloadKind != c.kind || p.WorkloadName != c.name {
			t.Errorf("%s: pod %s workload %s/%s, want %s %s/%s", c.ip, p.Name, p.WorkloadKind, p.WorkloadName, c.pod, c.kind, c.name)
		}
	}
	if s := w.Stats(); s.Owners != 2 { // the orphan Job names itself and is not kept
		t.Errorf("Stats().Owners = %d, want 2", s.Owners)
	}
}

// TestWorkloadReplicaSetSeenLate: pods are named through their
// ReplicaSet at lookup time, so a ReplicaSet that arrives after its pods,
// or changes owner, is followed.
func TestWorkloadReplicaSetSeenLate(t *testing.T) {
	w, client := startFake(t, Config{RemotePods: true},
		pod("shop", "web-1-a", "node-a", t0, []string{"10.0.0.1"}, ownedBy("ReplicaSet", "web-1")))
	ctx := context.Background()
	workload := func() string {
		p, _ := w.LookupIP(addr("10.0.0.1"), t0.Add(time1s))
		return p.WorkloadKind + "/" + p.WorkloadName
	}
	if got := workload(); got != "ReplicaSet/web-1" {
		t.Fatalf("before the ReplicaSet: %s, want ReplicaSet/web-1", got)
	}
	if _, err := client.AppsV1().ReplicaSets("shop").Create(ctx, replicaSet("shop", "web-1", "web"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Deployment/web", func() bool { return workload() == "Deployment/web" })
	if err := client.AppsV1().ReplicaSets("shop").Delete(ctx, "web-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ReplicaSet/web-1 again", func() bool { return workload() == "ReplicaSet/web-1" })
}
