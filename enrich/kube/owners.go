package kube

const (
	kindReplicaSet = "ReplicaSet"
	kindJob        = "Job"
	kindBarePod    = "Pod"
)

// ownedKey names a ReplicaSet or Job.
type ownedKey struct{ kind, namespace, name string }

// ownerRef is the controller owner of a ReplicaSet or Job.
type ownerRef struct{ kind, name string }

// workload follows p's owner one step up through a ReplicaSet (to its
// Deployment) or a Job (to its CronJob); other owners name the workload
// themselves and a bare pod names itself. Resolved at lookup time, so a
// ReplicaSet seen after its pods still names them. The caller holds w.mu.
func (w *Watcher) workload(p *Pod) (kind, name string) {
	switch p.OwnerKind {
	case "":
		return kindBarePod, p.Name
	case kindReplicaSet, kindJob:
		if up, ok := w.owners[ownedKey{p.OwnerKind, p.Namespace, p.OwnerName}]; ok {
			return up.kind, up.name
		}
	}
	return p.OwnerKind, p.OwnerName
}
