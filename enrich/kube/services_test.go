package kube

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/podflow/podflow/flow"
)

func dnsService() *corev1.Service {
	return service("kube-system", "kube-dns", []string{"10.96.0.10", "fd00:96::a"},
		corev1.ServicePort{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53},
		corev1.ServicePort{Name: "dns-tcp", Protocol: corev1.ProtocolTCP, Port: 53},
		corev1.ServicePort{Name: "metrics", Protocol: corev1.ProtocolTCP, Port: 9153},
	)
}

func TestLookupServiceByClusterIPPort(t *testing.T) {
	headless := service("db", "pg", []string{"None"}, corev1.ServicePort{Name: "pg", Port: 5432})
	single := service("web", "front", []string{"10.96.1.1"}, corev1.ServicePort{Port: 80}) // unnamed, protocol defaulted
	w, client := startFake(t, Config{RemotePods: true}, dnsService(), headless, single)
	for _, c := range []struct {
		ip    string
		port  uint16
		proto uint8
		want  Service
		found bool
	}{
		{"10.96.0.10", 53, flow.ProtoUDP, Service{Namespace: "kube-system", Name: "kube-dns", PortName: "dns", Port: 53, Proto: flow.ProtoUDP}, true},
		{"10.96.0.10", 53, flow.ProtoTCP, Service{Namespace: "kube-system", Name: "kube-dns", PortName: "dns-tcp", Port: 53, Proto: flow.ProtoTCP}, true},
		{"fd00:96::a", 9153, flow.ProtoTCP, Service{Namespace: "kube-system", Name: "kube-dns", PortName: "metrics", Port: 9153, Proto: flow.ProtoTCP}, true},
		{"::ffff:10.96.0.10", 9153, flow.ProtoTCP, Service{Namespace: "kube-system", Name: "kube-dns", PortName: "metrics", Port: 9153, Proto: flow.ProtoTCP}, true},
		{"10.96.1.1", 80, flow.ProtoTCP, Service{Namespace: "web", Name: "front", Port: 80, Proto: flow.ProtoTCP}, true},
		{"10.96.0.10", 9153, flow.ProtoUDP, Service{}, false},
		{"10.96.0.10", 80, flow.ProtoTCP, Service{}, false},
	} {
		got, ok := w.LookupService(addr(c.ip), c.port, c.proto)
		if ok != c.found || got != c.want {
			t.Errorf("LookupService(%s, %d, %d) = %+v, %v; want %+v, %v", c.ip, c.port, c.proto, got, ok, c.want, c.found)
		}
	}
	if s := w.Stats(); s.Services != 2 || s.ServicePorts != 7 {
		t.Fatalf("Stats: Services=%d ServicePorts=%d, want 2 (headless not indexed) 7", s.Services, s.ServicePorts)
	}

	// An update replaces the ports; a deletion removes them.
	ctx := context.Background()
	svc := dnsService()
	svc.Spec.Ports = svc.Spec.Ports[:1]
	if _, err := client.CoreV1().Services("kube-system").Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "metrics port removed", func() bool {
		_, ok := w.LookupService(addr("10.96.0.10"), 9153, flow.ProtoTCP)
		return !ok
	})
	if _, ok := w.LookupService(addr("10.96.0.10"), 53, flow.ProtoUDP); !ok {
		t.Fatal("dns port lost on update")
	}
	if err := client.CoreV1().Services("kube-system").Delete(ctx, "kube-dns", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "kube-dns removed", func() bool { return w.Stats().Services == 1 })
	if s := w.Stats(); s.ServicePorts != 1 {
		t.Fatalf("ServicePorts after delete = %d, want 1", s.ServicePorts)
	}
}
