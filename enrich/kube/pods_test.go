package kube

import (
	"context"
	"net/netip"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/podflow/podflow/flow"
)

// podAt returns the name of the pod LookupIP gives, "" for a miss.
func podAt(w *Watcher, ip string, at time.Time) string {
	p, ok := w.LookupIP(addr(ip), at)
	if !ok {
		return ""
	}
	return p.Name
}

// TestIPReuseAttributedByTime: pod A holds 10.0.0.5 until it is deleted at
// T, pod B gets the IP at T+1s; lookups are answered by the flow's time.
func TestIPReuseAttributedByTime(t *testing.T) {
	ctx := context.Background()
	clk := flow.NewFakeClock(t0.Add(10 * time1s))
	w, client := startFake(t, Config{RemotePods: true, Grace: time.Minute, Now: clk.Now},
		pod("ns", "a", "node-a", t0, []string{"10.0.0.5"}))
	T := t0.Add(100 * time1s)
	clk.Set(T)
	if err := client.CoreV1().Pods("ns").Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a deleted", func() bool { return w.Stats().Pods == 0 })
	clk.Set(T.Add(time1s))
	if _, err := client.CoreV1().Pods("ns").Create(ctx, pod("ns", "b", "node-b", T.Add(time1s), []string{"10.0.0.5"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b indexed", func() bool { return w.Stats().Pods == 1 })
	clk.Set(T.Add(5 * time1s))

	for _, c := range []struct {
		at   time.Time
		want string
	}{
		{t0.Add(-time1s), ""}, // before A existed
		{t0, "a"},
		{T.Add(-time1s), "a"},
		{T.Add(-time.Nanosecond), "a"},
		{T, ""}, // A gone, B not yet created
		{T.Add(time.Second / 2), ""},
		{T.Add(time1s), "b"},
		{T.Add(time.Hour), "b"},
	} {
		if got := podAt(w, "10.0.0.5", c.at); got != c.want {
			t.Errorf("LookupIP(10.0.0.5, T%+v) = %q, want %q", c.at.Sub(T), got, c.want)
		}
	}
	s := w.Stats()
	if s.IPs != 1 || s.MultiHolderIPs != 1 || s.EndedHolders != 1 {
		t.Errorf("Stats: IPs=%d MultiHolderIPs=%d EndedHolders=%d, want 1 1 1", s.IPs, s.MultiHolderIPs, s.EndedHolders)
	}

	// A is forgotten once the grace period after its deletion is over.
	clk.Set(T.Add(time.Minute - time.Nanosecond))
	if got := podAt(w, "10.0.0.5", T.Add(-time1s)); got != "a" {
		t.Fatalf("just before grace expiry: %q, want a", got)
	}
	clk.Set(T.Add(time.Minute))
	if got := podAt(w, "10.0.0.5", T.Add(-time1s)); got != "" {
		t.Fatalf("after grace expiry: %q, want a miss", got)
	}
	w.mu.Lock()
	w.ips.sweep(clk.Now())
	w.mu.Unlock()
	if s := w.Stats(); s.IPs != 1 || s.MultiHolderIPs != 0 || s.EndedHolders != 0 {
		t.Errorf("after sweep: IPs=%d MultiHolderIPs=%d EndedHolders=%d, want 1 0 0", s.IPs, s.MultiHolderIPs, s.EndedHolders)
	}
	if got := podAt(w, "10.0.0.5", T.Add(time1s)); got != "b" {
		t.Errorf("after sweep: B lookup %q, want b", got)
	}
}

func TestGraceExpiryForgetsIP(t *testing.T) {
	clk := flow.NewFakeClock(t0.Add(time1s))
	w, client := startFake(t, Config{RemotePods: true, Grace: 30 * time1s, Now: clk.Now},
		pod("ns", "a", "node-a", t0, []string{"10.0.0.5", "fd00::5"}))
	T := t0.Add(time.Minute)
	clk.Set(T)
	if err := client.CoreV1().Pods("ns").Delete(context.Background(), "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a deleted", func() bool { return w.Stats().Pods == 0 })
	if got := podAt(w, "fd00::5", T.Add(-time1s)); got != "a" {
		t.Fatalf("within grace: %q, want a", got)
	}
	if got := podAt(w, "10.0.0.5", T); got != "" {
		t.Fatalf("flow started at deletion: %q, want a miss", got)
	}
	clk.Set(T.Add(30 * time1s))
	if got := podAt(w, "10.0.0.5", T.Add(-time1s)); got != "" {
		t.Fatalf("after grace: %q, want a miss", got)
	}
	w.mu.Lock()
	w.ips.sweep(clk.Now())
	w.mu.Unlock()
	if s := w.Stats(); s.IPs != 0 || s.EndedHolders != 0 {
		t.Fatalf("after sweep: IPs=%d EndedHolders=%d, want 0 0", s.IPs, s.EndedHolders)
	}
}

func TestHostNetworkPodsNeverReturnedByIP(t *testing.T) {
	hn := pod("kube-system", "proxy-x", "node-a", t0, []string{"192.168.1.10"}, hostNetwork, ownedBy("DaemonSet", "proxy"))
	hn.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "proxy", ContainerID: "containerd://feedbeef"}}
	w, _ := startFake(t, Config{RemotePods: true}, hn)
	if p, ok := w.LookupIP(addr("192.168.1.10"), t0.Add(time1s)); ok {
		t.Fatalf("host-network pod returned by IP: %+v", p)
	}
	s := w.Stats()
	if s.Pods != 1 || s.IPs != 0 {
		t.Fatalf("Stats: Pods=%d IPs=%d, want 1 0", s.Pods, s.IPs)
	}
	p, ok := w.LookupContainer("feedbeef")
	if !ok || p.Name != "proxy-x" || !p.HostNetwork || p.WorkloadKind != "DaemonSet" || p.WorkloadName != "proxy" {
		t.Fatalf("LookupContainer(feedbeef) = %+v, %v; want proxy-x of DaemonSet/proxy", p, ok)
	}
	if _, ok := w.LookupContainer("containerd://feedbeef"); !ok {
		t.Fatal("LookupContainer with runtime prefix missed")
	}
}

// TestFinishedPodReleasesIP: the kubelet keeps podIP in a finished pod's
// status although the IP is free again.
func TestFinishedPodReleasesIP(t *testing.T) {
	clk := flow.NewFakeClock(t0.Add(time1s))
	p := pod("ns", "job-x", "node-a", t0, []string{"10.0.0.8"}, ownedBy("Job", "j"))
	w, client := startFake(t, Config{RemotePods: true, Now: clk.Now}, p)
	T := t0.Add(time.Minute)
	clk.Set(T)
	p.Status.Phase = corev1.PodSucceeded
	if _, err := client.CoreV1().Pods("ns").UpdateStatus(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "job-x released", func() bool { return w.Stats().EndedHolders == 1 })
	if got := podAt(w, "10.0.0.8", T.Add(-time1s)); got != "job-x" {
		t.Errorf("before it finished: %q, want job-x", got)
	}
	if got := podAt(w, "10.0.0.8", T); got != "" {
		t.Errorf("after it finished: %q, want a miss", got)
	}
}

func TestPodUpdatesSeen(t *testing.T) {
	ctx := context.Background()
	clk := flow.NewFakeClock(t0.Add(time1s))
	p := pod("ns", "web", "node-a", t0, nil, withLabels(map[string]string{"app": "web", "version": "1", "other": "x"}))
	p.Status.Phase = corev1.PodPending
	w, client := startFake(t, Config{RemotePods: true, Labels: []string{"app", "version"}, Now: clk.Now}, p)
	if s := w.Stats(); s.Pods != 1 || s.IPs != 0 {
		t.Fatalf("pending pod: Pods=%d IPs=%d, want 1 0", s.Pods, s.IPs)
	}

	// The CNI assigns the IP: it resolves from the pod's creation on.
	clk.Set(t0.Add(5 * time1s))
	p.Status.Phase = corev1.PodRunning
	p.Status.PodIP, p.Status.PodIPs = "10.0.0.9", []corev1.PodIP{{IP: "10.0.0.9"}}
	if _, err := client.CoreV1().Pods("ns").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "IP assigned", func() bool { return podAt(w, "10.0.0.9", t0) == "web" })

	p.Labels = map[string]string{"app": "web", "version": "2"}
	if _, err := client.CoreV1().Pods("ns").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "labels updated", func() bool {
		got, _ := w.LookupIP(addr("10.0.0.9"), t0)
		return got.Labels["version"] == "2"
	})
	got, _ := w.LookupIP(addr("10.0.0.9"), t0)
	if want := map[string]string{"app": "web", "version": "2"}; !reflect.DeepEqual(got.Labels, want) {
		t.Fatalf("labels %v, want %v", got.Labels, want)
	}

	// The sandbox is recreated with a new IP: the old one is released.
	T := t0.Add(time.Minute)
	clk.Set(T)
	p.Status.PodIP, p.Status.PodIPs = "10.0.0.10", []corev1.PodIP{{IP: "10.0.0.10"}}
	if _, err := client.CoreV1().Pods("ns").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "new IP", func() bool { return podAt(w, "10.0.0.10", T) == "web" })
	if got := podAt(w, "10.0.0.9", T); got != "" {
		t.Errorf("old IP after the change: %q, want a miss", got)
	}
	if got := podAt(w, "10.0.0.9", T.Add(-time1s)); got != "web" {
		t.Errorf("old IP before the change: %q, want web", got)
	}
	want := Pod{
		Name: "web", Namespace: "ns", UID: "ns-web", Node: "node-a", IPs: []netip.Addr{addr("10.0.0.10")}, Phase: "Running",
		WorkloadKind: "Pod", WorkloadName: "web", Labels: map[string]string{"app": "web", "version": "2"}, Created: t0,
	}
	if got, _ := w.LookupIP(addr("10.0.0.10"), T); !reflect.DeepEqual(got, want) {
		t.Errorf("LookupIP\n got %+v\nwant %+v", got, want)
	}
	if s := w.Stats(); s.Events != 4 {
		t.Errorf("Stats().Events = %d, want 4 (one add, three updates)", s.Events)
	}
}

// TestClaimSupersedesOpenHolder: when a new pod shows up with an IP whose
// holder's end was never seen, the old tenure ends where the new one starts.
func TestClaimSupersedesOpenHolder(t *testing.T) {
	h := newIPHistory(time.Minute)
	ip := addr("10.0.0.5")
	a := &Pod{Name: "a", UID: "a", Created: t0}
	b := &Pod{Name: "b", UID: "b", Created: t0.Add(10 * time1s)}
	h.claim(ip, a, t0.Add(time1s))
	h.claim(ip, b, t0.Add(20*time1s))
	for _, c := range []struct {
		at   time.Time
		want *Pod
	}{
		{t0, a}, {t0.Add(10*time1s - 1), a}, {t0.Add(10 * time1s), b}, {t0.Add(30 * time1s), b},
	} {
		if got, _ := h.lookup(ip, c.at, t0.Add(30*time1s)); got != c.want {
			t.Errorf("lookup at t0%+v = %v, want %v", c.at.Sub(t0), got, c.want)
		}
	}
	// A claim seen before the pod's creation time (clock skew) starts when seen.
	c := &Pod{Name: "c", UID: "c", Created: t0.Add(time.Hour)}
	h.claim(addr("10.0.0.6"), c, t0.Add(time.Minute))
	if got, _ := h.lookup(addr("10.0.0.6"), t0.Add(time.Minute), t0.Add(time.Minute)); got != c {
		t.Errorf("skewed claim: %v, want c", got)
	}
}

// TestPodReplacedUnderSameName: after a relist the informer reports a pod
// deleted and recreated under the same name as one update.
func TestPodReplacedUnderSameName(t *testing.T) {
	clk := flow.NewFakeClock(t0.Add(time.Minute))
	w, err := newWatcher(Config{Client: fake.NewClientset(), NodeName: "node-a", Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	trim := newPodTrimmer(nil).trim
	oldObj, _ := trim(pod("ns", "web", "node-a", t0, []string{"10.0.0.5"}))
	recreated := pod("ns", "web", "node-a", t0.Add(2*time.Minute), []string{"10.0.0.6"})
	recreated.UID = "second"
	newObj, _ := trim(recreated)
	w.podChanged(oldObj)
	T := t0.Add(2 * time.Minute)
	clk.Set(T)
	w.podUpdated(oldObj, newObj)
	if s := w.Stats(); s.Pods != 1 || s.EndedHolders != 1 {
		t.Fatalf("Stats: Pods=%d EndedHolders=%d, want 1 1", s.Pods, s.EndedHolders)
	}
	if got := podAt(w, "10.0.0.5", T); got != "" {
		t.Errorf("the replaced pod's IP after the update: %q, want a miss", got)
	}
	if got, _ := w.LookupIP(addr("10.0.0.6"), time.Time{}); got.UID != "second" {
		t.Errorf("the new pod at now (zero time): %+v", got)
	}
}
