package kube

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// The pod, ReplicaSet and Job informers store these compact objects, made
// by the transforms, instead of the API types: a trimmed *corev1.Pod still
// carries a kilobyte of empty spec and status structs, and its metadata
// another 232 bytes. All an informer's store asks of what it holds is
// meta.Accessor (for the key and resource version), which GetObjectMeta
// answers.

// podObject is a stored pod: the immutable snapshot the indexes share.
type podObject struct {
	pod    Pod
	rv     string
	labels *labelSet // keeps pod.Labels' interned set alive while the pod is referenced
}

// GetObjectMeta implements metav1.ObjectMetaAccessor. It builds the
// metadata on each call: only informer events call it.
func (o *podObject) GetObjectMeta() metav1.Object {
	return &metav1.ObjectMeta{Name: o.pod.Name, Namespace: o.pod.Namespace, UID: types.UID(o.pod.UID), ResourceVersion: o.rv}
}

// ownedObject is a stored ReplicaSet or Job: its name and controller owner.
type ownedObject struct {
	name, namespace, rv string
	uid                 types.UID
	owner               ownerRef // zero for an orphan
}

// GetObjectMeta implements metav1.ObjectMetaAccessor.
func (o *ownedObject) GetObjectMeta() metav1.Object {
	return &metav1.ObjectMeta{Name: o.name, Namespace: o.namespace, UID: o.uid, ResourceVersion: o.rv}
}
