package kube

import (
	"net/netip"
	"time"
)

// Pod is what the Watcher knows about one pod. Slices and maps are shared
// with the index: read them, never modify them.
type Pod struct {
	Name, Namespace, UID string
	Node                 string
	IPs                  []netip.Addr
	HostNetwork          bool
	Phase                string // Pending, Running, Succeeded, Failed, Unknown
	// OwnerKind and OwnerName are the pod's controller owner reference
	// ("" for a bare pod); WorkloadKind and WorkloadName follow it up
	// through a ReplicaSet or Job (see Endpoint).
	OwnerKind, OwnerName       string
	WorkloadKind, WorkloadName string
	Labels                     map[string]string // the configured keys only; nil when none is set
	ContainerIDs               []string          // from status.containerStatuses, "<runtime>://" prefix removed
	Created                    time.Time
	Deleting                   time.Time // metadata.deletionTimestamp: zero unless the pod is terminating
}

// Service is the ClusterIP service port a flow was addressed to.
type Service struct {
	Namespace, Name string
	PortName        string // "" for a service's only, unnamed port
	Port            uint16
	Proto           uint8
}

// Endpoint is one end of a flow when it is a pod. WorkloadKind and
// WorkloadName name what runs the pod: Deployment (through its
// ReplicaSet), CronJob (through its Job), StatefulSet, DaemonSet, Job,
// ReplicaSet or any other controller; "Pod" and the pod's own name for a
// bare pod. All zero when the end is not a known pod.
type Endpoint struct {
	Pod, Namespace, Node       string
	WorkloadKind, WorkloadName string
	Labels                     map[string]string // selected keys only; shared, read-only
}

// Known reports whether the end is a known pod.
func (e *Endpoint) Known() bool { return e.Pod != "" }

// Meta is what Resolve learned about one record.
type Meta struct {
	Src, Dst    Endpoint
	Service     string // "namespace/name" of the ClusterIP service the flow was addressed to (or, for a reply, came from)
	ServicePort string // the service port's name
	FlowType    FlowType
}

// FlowType says where a flow went relative to the cluster's pods and nodes.
type FlowType uint8

const (
	FlowUnknown      FlowType = 0 // neither end is a pod
	FlowIntraNode    FlowType = 1 // pod to pod on the same node
	FlowInterNode    FlowType = 2 // pod to pod on different nodes
	FlowToExternal   FlowType = 3 // pod to something that is not a pod
	FlowFromExternal FlowType = 4 // something that is not a pod to a pod
)

func (t FlowType) String() string {
	switch t {
	case FlowIntraNode:
		return "intra-node"
	case FlowInterNode:
		return "inter-node"
	case FlowToExternal:
		return "to-external"
	case FlowFromExternal:
		return "from-external"
	}
	return "unknown"
}

// Stats is a snapshot of the Watcher's indexes and counters.
type Stats struct {
	Pods           int    // live pods held (host-network ones included)
	IPs            int    // IPs in the history index
	EndedHolders   int    // holders kept for the grace period after they released their IP
	MultiHolderIPs int    // IPs whose history holds more than one pod
	Services       int    // services held
	ServicePorts   int    // ClusterIP:port:protocol keys indexed
	Owners         int    // ReplicaSets and Jobs held for naming owners
	Hits, Misses   uint64 // pod lookups by IP (LookupIP and both ends of Resolve)
	Events         uint64 // informer notifications handled
}
