package kube

import (
	"net/netip"
	"strings"
	"time"

	"github.com/podflow/podflow/flow"
)

// LookupIP returns the pod that held ip at time at (a flow's start time;
// zero: now), not whoever holds it now. Pods on the host network are never
// returned.
func (w *Watcher) LookupIP(ip netip.Addr, at time.Time) (Pod, bool) {
	now := w.now()
	if at.IsZero() {
		at = now
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	p, ok := w.podAt(ip.Unmap(), at, now)
	if !ok {
		return Pod{}, false
	}
	out := *p
	out.WorkloadKind, out.WorkloadName = w.workload(p)
	return out, true
}

// LookupService returns the service port at a ClusterIP, port and IP
// protocol number.
func (w *Watcher) LookupService(ip netip.Addr, port uint16, proto uint8) (Service, bool) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	e, ok := w.services.lookup(ip.Unmap(), port, proto)
	if !ok {
		return Service{}, false
	}
	return e.svc, true
}

// LookupContainer returns the live pod running a container, by the id a
// process's cgroup shows (with or without the "<runtime>://" prefix of the
// pod status). It also finds host-network pods, which LookupIP never does.
func (w *Watcher) LookupContainer(id string) (Pod, bool) {
	if _, bare, ok := strings.Cut(id, "://"); ok {
		id = bare
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	p, ok := w.containers[id]
	if !ok {
		return Pod{}, false
	}
	out := *p
	out.WorkloadKind, out.WorkloadName = w.workload(p)
	return out, true
}

// Resolve returns what the indexes know about r: the pods at both ends,
// found by IP as of r.First; the service the flow was addressed to (its
// pre-NAT destination, or for a reply from a service its source); the pod
// behind the service as the destination when the conntrack stage set
// r.Context.NAT; and the flow type. It allocates nothing: the returned
// label maps are shared and read-only.
func (w *Watcher) Resolve(r *flow.Record) Meta {
	now := w.now()
	at := r.First
	if at.IsZero() {
		at = now
	}
	dstAddr := r.DstAddr
	if r.Context.NAT.DstAddr.IsValid() {
		dstAddr = r.Context.NAT.DstAddr
	}
	var m Meta
	w.mu.RLock()
	defer w.mu.RUnlock()
	if e, ok := w.services.lookup(r.DstAddr, r.DstPort, r.Proto); ok {
		m.Service, m.ServicePort = e.ref, e.svc.PortName
	} else if e, ok := w.services.lookup(r.SrcAddr, r.SrcPort, r.Proto); ok {
		m.Service, m.ServicePort = e.ref, e.svc.PortName
	}
	src, srcOK := w.podAt(r.SrcAddr, at, now)
	dst, dstOK := w.podAt(dstAddr, at, now)
	if srcOK {
		m.Src = w.endpoint(src)
	}
	if dstOK {
		m.Dst = w.endpoint(dst)
	}
	m.FlowType = flowType(srcOK, dstOK, m.Src.Node == m.Dst.Node)
	return m
}

// ExportedHere reports whether this node exports a record of the flow
// described by m, so that each flow is exported once per cluster: an
// inter-node flow only by the node of its source pod (which also saw it
// before the service translation); every other flow by the node that saw
// it. The record is not consulted by this policy.
func (w *Watcher) ExportedHere(m Meta, _ *flow.Record) bool {
	if m.FlowType != FlowInterNode {
		return true
	}
	return m.Src.Node == w.node
}

// podAt looks ip up and counts the hit or miss. The caller holds w.mu.
func (w *Watcher) podAt(ip netip.Addr, at, now time.Time) (*Pod, bool) {
	p, ok := w.ips.lookup(ip, at, now)
	if ok {
		w.hits.Add(1)
	} else {
		w.misses.Add(1)
	}
	return p, ok
}

// endpoint describes a pod as a flow end. The caller holds w.mu.
func (w *Watcher) endpoint(p *Pod) Endpoint {
	kind, name := w.workload(p)
	return Endpoint{Pod: p.Name, Namespace: p.Namespace, Node: p.Node, WorkloadKind: kind, WorkloadName: name, Labels: p.Labels}
}

func flowType(srcPod, dstPod, sameNode bool) FlowType {
	switch {
	case srcPod && dstPod && sameNode:
		return FlowIntraNode
	case srcPod && dstPod:
		return FlowInterNode
	case srcPod:
		return FlowToExternal
	case dstPod:
		return FlowFromExternal
	}
	return FlowUnknown
}
