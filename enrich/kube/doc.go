// Package kube adds Kubernetes metadata to flow records: which pod (and
// workload, namespace, node, selected labels) is at each end, which service
// a flow was addressed to, whether the flow stayed on the node, crossed
// nodes or left the cluster, and which node of the cluster exports it.
//
// # Running on every node
//
// podflow runs as a DaemonSet, so every node runs one Watcher. Everything
// it serves comes from in-memory indexes fed by informers: Resolve and the
// Lookup methods never touch the network and only take a read lock.
//
// Pods: with Config.RemotePods (the default from DefaultConfig) one
// cluster-wide pod informer feeds the index, so the remote end of an
// inter-node flow resolves too. Its cost grows with the cluster: every node
// holds every pod (see BenchmarkInformerMemoryPerPod for bytes per pod) and
// the API server sends every pod change to every node. Without RemotePods
// one informer with the field selector spec.nodeName=<NodeName> holds only
// the node's pods: memory and API load stay per-node, but remote pods look
// external, so FlowType is the local view and ExportedHere cannot keep an
// inter-node flow from being exported by both nodes.
//
// The informers' transforms trim objects before they are stored, and store
// compact types instead of the API's: a pod keeps name, namespace, uid,
// node, pod IPs, hostNetwork, controller owner, the configured labels,
// container ids, phase and creation and deletion times, as the immutable
// snapshot the indexes point at; managedFields, annotations and the specs
// are never kept. Repeated strings (namespaces, nodes, owners, label
// values) are interned and pods with the same selected labels share one
// map. A Watcher holds about 0.9 KB per pod listed from a real API server,
// where an untrimmed pod informer holds about 8 KB (5000 pods of 100
// Deployments; BenchmarkInformerMemoryPerPod). Services keep their cluster
// IPs and ports; ReplicaSets and Jobs only their controller owner, which
// is all that is read from them: Pod→ReplicaSet→Deployment and
// Pod→Job→CronJob. StatefulSets and DaemonSets are named straight from the
// pod's owner reference and need no informer. Watching ReplicaSets and
// Jobs cluster-wide costs a list and a watch of each; guessing the
// Deployment from the pod-template-hash suffix would avoid it but is wrong
// for ReplicaSets named by hand or owned by other controllers.
//
// # IP history
//
// Pod IPs are reused. Each IP keeps the pods that held it with [from, until)
// ranges: from is the pod's creation time (an authoritative lower bound that
// does not lag behind the watch as the moment the IP was seen would), moved
// up to the end of the previous holder's range so ranges never overlap;
// until is when the Watcher saw the pod deleted, turn Succeeded or Failed
// (the kubelet keeps the IP in the status of a finished pod although the
// CNI has released it) or lose the IP. LookupIP and Resolve pick the holder
// by the flow's start time, so a flow that started before an IP changed
// hands is attributed to the pod that sent it. Ended holders stay
// resolvable for Config.Grace after until, then are forgotten. Pods on the
// host network are never returned for an IP: their IP is the node's.
//
// # Exporting once per cluster
//
// Both nodes of an inter-node flow see its packets. ExportedHere lets only
// the node of the flow's source pod export an inter-node record, the node
// whose conntrack also knows the service the flow was sent to. Intra-node
// flows, flows to or from outside the cluster and flows with no pod at
// either end are exported by the node that saw them. This needs
// RemotePods on every node. It does not catch two cases, which are
// exported twice: a reply seen on the client's node comes from the
// service's ClusterIP, not a pod (FlowFromExternal there, while the
// backend's node exports it as inter-node), and a host-network pod's
// flows to a pod on another node are FlowUnknown on one node and
// FlowFromExternal on the other.
//
// # Permissions
//
// The service account needs get, list and watch on pods and services (core
// group), replicasets (apps) and jobs (batch): see RBACRules.
package kube
