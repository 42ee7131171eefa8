package kube

import (
	"encoding/json"
	"net/netip"
	"reflect"

	"github.com/podflow/podflow/flow"
)

// Enricher writes the Watcher's answers into records (flow.Enricher): both
// ends' pods (by IP as of the flow's start; a host-network end by the
// container of its process), the service, and the flow type. Keep is the
// once-per-cluster filter. Both run on the drain loop only.
type Enricher struct {
	w      *Watcher
	labels map[uintptr]labelText // the JSON of each shared label map, by map identity
}

// labelText keeps the map it was made from alive, so its address is not
// reused by another map while cached.
type labelText struct {
	m    map[string]string
	json string
}

// maxLabelCache bounds the label JSON cache; it is rebuilt when full.
const maxLabelCache = 16384

// NewEnricher returns an Enricher over w.
func NewEnricher(w *Watcher) *Enricher {
	return &Enricher{w: w, labels: map[uintptr]labelText{}}
}

// Enrich implements flow.Enricher.
func (e *Enricher) Enrich(records []flow.Record) {
	for i := range records {
		r := &records[i]
		m := e.w.Resolve(r)
		k := &r.Context.Kube
		k.Src, k.Dst = e.endpoint(m.Src), e.endpoint(m.Dst)
		hostNet := false
		if !k.Src.Known() && r.Context.Src.ContainerID != "" {
			if p, ok := e.w.LookupContainer(r.Context.Src.ContainerID); ok {
				k.Src, hostNet = e.endpoint(e.w.endpointOf(p)), true
			}
		}
		if !k.Dst.Known() && r.Context.Dst.ContainerID != "" {
			if p, ok := e.w.LookupContainer(r.Context.Dst.ContainerID); ok {
				k.Dst, hostNet = e.endpoint(e.w.endpointOf(p)), true
			}
		}
		k.FlowType = flow.FlowType(m.FlowType)
		if hostNet {
			k.FlowType = flow.FlowType(flowType(k.Src.Known(), k.Dst.Known(), k.Src.Node == k.Dst.Node))
		}
		if m.Service != "" {
			k.ServiceIP, k.ServicePort = serviceEnd(e.w, r)
			k.ServicePortName = m.Service
			if m.ServicePort != "" {
				k.ServicePortName += ":" + m.ServicePort
			}
		}
	}
}

// Keep reports whether this node exports r (after Enrich): an inter-node
// flow only from its source pod's node, so a collector summing every node
// counts it once; everything else from the node that saw it.
func (e *Enricher) Keep(r *flow.Record) bool {
	k := &r.Context.Kube
	return k.FlowType != flow.FlowTypeInterNode || k.Src.Node == e.w.NodeName()
}

// serviceEnd returns the cluster IP and port the record was sent to, or
// for a reply from a service, came from.
func serviceEnd(w *Watcher, r *flow.Record) (netip.Addr, uint16) {
	if _, ok := w.LookupService(r.DstAddr, r.DstPort, r.Proto); ok {
		return r.DstAddr, r.DstPort
	}
	return r.SrcAddr, r.SrcPort
}

func (e *Enricher) endpoint(ep Endpoint) flow.KubeEndpoint {
	if ep.Pod == "" {
		return flow.KubeEndpoint{}
	}
	return flow.KubeEndpoint{Pod: ep.Pod, Namespace: ep.Namespace, Node: ep.Node,
		WorkloadKind: ep.WorkloadKind, WorkloadName: ep.WorkloadName, Labels: e.labelJSON(ep.Labels)}
}

// labelJSON renders a label map as the JSON object Antrea exports. Pods
// with the same selected labels share one map, so the text is made once
// per map.
func (e *Enricher) labelJSON(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	id := uintptr(reflect.ValueOf(m).UnsafePointer())
	if c, ok := e.labels[id]; ok {
		return c.json
	}
	if len(e.labels) >= maxLabelCache {
		clear(e.labels)
	}
	b, err := json.Marshal(m) // keys sorted
	if err != nil {
		return ""
	}
	e.labels[id] = labelText{m: m, json: string(b)}
	return string(b)
}

// endpointOf describes a pod found by container as a flow end.
func (w *Watcher) endpointOf(p Pod) Endpoint {
	return Endpoint{Pod: p.Name, Namespace: p.Namespace, Node: p.Node, WorkloadKind: p.WorkloadKind,
		WorkloadName: p.WorkloadName, Labels: p.Labels}
}
