package kube

import (
	"net/netip"

	corev1 "k8s.io/api/core/v1"

	"github.com/podflow/podflow/flow"
)

type serviceKey struct {
	ip    netip.Addr
	port  uint16
	proto uint8
}

type serviceEntry struct {
	svc Service
	ref string // "namespace/name", built once so Resolve does not allocate
}

type objectName struct{ namespace, name string }

// serviceIndex maps ClusterIP:port:protocol to service ports. Not safe for
// concurrent use: the Watcher guards it.
type serviceIndex struct {
	byKey  map[serviceKey]*serviceEntry
	byName map[objectName][]serviceKey
}

func newServiceIndex() serviceIndex {
	return serviceIndex{byKey: make(map[serviceKey]*serviceEntry), byName: make(map[objectName][]serviceKey)}
}

func (x *serviceIndex) upsert(s *corev1.Service) {
	name := objectName{s.Namespace, s.Name}
	x.remove(name)
	ips := s.Spec.ClusterIPs
	if len(ips) == 0 && s.Spec.ClusterIP != "" {
		ips = []string{s.Spec.ClusterIP}
	}
	ref := s.Namespace + "/" + s.Name
	var keys []serviceKey
	for _, a := range ips {
		ip, err := netip.ParseAddr(a) // "None" (headless) does not parse and is skipped
		if err != nil {
			continue
		}
		for _, p := range s.Spec.Ports {
			proto, ok := protocolNumber(p.Protocol)
			if !ok || p.Port <= 0 || p.Port > 65535 {
				continue
			}
			k := serviceKey{ip.Unmap(), uint16(p.Port), proto}
			x.byKey[k] = &serviceEntry{
				svc: Service{Namespace: s.Namespace, Name: s.Name, PortName: p.Name, Port: uint16(p.Port), Proto: proto},
				ref: ref,
			}
			keys = append(keys, k)
		}
	}
	if len(keys) > 0 {
		x.byName[name] = keys
	}
}

func (x *serviceIndex) remove(name objectName) {
	for _, k := range x.byName[name] {
		delete(x.byKey, k)
	}
	delete(x.byName, name)
}

func (x *serviceIndex) lookup(ip netip.Addr, port uint16, proto uint8) (*serviceEntry, bool) {
	e, ok := x.byKey[serviceKey{ip, port, proto}]
	return e, ok
}

func protocolNumber(p corev1.Protocol) (uint8, bool) {
	switch p {
	case corev1.ProtocolTCP, "": // the API server defaults an empty protocol to TCP
		return flow.ProtoTCP, true
	case corev1.ProtocolUDP:
		return flow.ProtoUDP, true
	case corev1.ProtocolSCTP:
		return flow.ProtoSCTP, true
	}
	return 0, false
}
