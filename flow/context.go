package flow

import "net/netip"

// Context is what the enrichment stage learned about a record beyond the
// kernel's counts: the local processes at either end and the NAT the
// conntrack table applied. Zero values mean unknown.
type Context struct {
	Src, Dst Process // the processes owning the source and destination endpoints, when local
	NAT      NAT
	Kube     Kube
}

// Kube is what Kubernetes says about a flow's ends.
type Kube struct {
	Src, Dst KubeEndpoint
	// The service a flow was sent to (its pre-NAT destination): cluster IP,
	// port, and the port's name as Antrea exports it, "namespace/name:port".
	ServiceIP       netip.Addr
	ServicePort     uint16
	ServicePortName string
	FlowType        FlowType
}

// KubeEndpoint is the pod at one end of a flow.
type KubeEndpoint struct {
	Pod, Namespace, Node       string
	WorkloadKind, WorkloadName string // Deployment, StatefulSet, DaemonSet, CronJob, Job, ReplicaSet; "" for a bare pod
	Labels                     string // the selected labels as a JSON object, as Antrea exports them; "" if none
}

// Known reports whether the end is a pod.
func (e *KubeEndpoint) Known() bool { return e.Pod != "" }

// FlowType is Antrea's flowType: where the flow goes relative to the
// cluster's pods and nodes.
type FlowType uint8

const (
	FlowTypeUnknown      FlowType = 0 // neither end is a known pod
	FlowTypeIntraNode    FlowType = 1 // pod to pod on this node
	FlowTypeInterNode    FlowType = 2 // pod to pod on two nodes
	FlowTypeToExternal   FlowType = 3 // pod to something that is not a pod
	FlowTypeFromExternal FlowType = 4 // something that is not a pod to a pod
)

// Process is a local process owning one end of a flow.
type Process struct {
	PID         uint32
	Name        string // comm
	Exe         string // executable path
	ContainerID string // from the process's cgroup; "" outside containers
}

// Known reports whether the process was identified.
func (p *Process) Known() bool { return p.PID != 0 }

// NAT is where the flow's packets went after address translation (IPFIX
// postNATSource/DestinationIPv4/IPv6Address and postNAPT ports): for a flow
// to a service IP, the backend it was DNAT'ed to; for a masqueraded flow,
// the source it left with. Zero when no translation applies.
type NAT struct {
	SrcAddr, DstAddr netip.Addr
	SrcPort, DstPort uint16
}

// Known reports whether a translation applies.
func (n *NAT) Known() bool { return n.SrcAddr.IsValid() && n.DstAddr.IsValid() }

// Enricher adds Context to records in place before they are exported. It
// must not block: lookups are served from tables kept fresh elsewhere.
type Enricher interface {
	Enrich(records []Record)
}
