package kube

import (
	"net/netip"
	"strings"
	"unique"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The trim functions are the informers' transforms: they run on every
// listed or watched object before it is stored and keep only what the
// Watcher reads, so the informer caches hold small objects. They are
// idempotent as client-go asks: what they return is not what they trim, so
// a trimmed object, like a tombstone, passes through unchanged.

// intern returns the canonical copy of s, so the many pods of a namespace,
// node or workload share one string instead of one per decoded object.
func intern(s string) string {
	if s == "" {
		return ""
	}
	return unique.Make(s).Value()
}

// podTrimmer keeps the configured label keys, in shared maps.
type podTrimmer struct {
	labels *labelInterner
}

func newPodTrimmer(labelKeys []string) podTrimmer {
	return podTrimmer{labels: newLabelInterner(labelKeys)}
}

func (t podTrimmer) trim(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	o := &podObject{
		rv: p.ResourceVersion,
		pod: Pod{
			Name:        p.Name,
			Namespace:   intern(p.Namespace),
			UID:         string(p.UID),
			Node:        intern(p.Spec.NodeName),
			HostNetwork: p.Spec.HostNetwork,
			Phase:       intern(string(p.Status.Phase)),
			Created:     p.CreationTimestamp.Time,
		},
	}
	if o.labels = t.labels.selectLabels(p.Labels); o.labels != nil {
		o.pod.Labels = o.labels.m
	}
	if p.DeletionTimestamp != nil {
		o.pod.Deleting = p.DeletionTimestamp.Time
	}
	if owner, ok := controllerOf(p.OwnerReferences); ok {
		o.pod.OwnerKind, o.pod.OwnerName = owner.kind, owner.name
	}
	o.pod.IPs = podIPs(p.Status)
	for _, c := range p.Status.ContainerStatuses {
		if _, id, ok := strings.Cut(c.ContainerID, "://"); ok && id != "" {
			o.pod.ContainerIDs = append(o.pod.ContainerIDs, id)
		}
	}
	return o, nil
}

// podIPs parses status.podIPs, or status.podIP alone as old API servers
// set it.
func podIPs(s corev1.PodStatus) []netip.Addr {
	var ips []netip.Addr
	for _, a := range s.PodIPs {
		if ip, err := netip.ParseAddr(a.IP); err == nil {
			ips = append(ips, ip.Unmap())
		}
	}
	if len(s.PodIPs) == 0 && s.PodIP != "" {
		if ip, err := netip.ParseAddr(s.PodIP); err == nil {
			ips = append(ips, ip.Unmap())
		}
	}
	return ips
}

// controllerRef returns the controller owner reference (the first
// reference when none is marked controller): the workload that runs the
// object.
func controllerOf(refs []metav1.OwnerReference) (ownerRef, bool) {
	if len(refs) == 0 {
		return ownerRef{}, false
	}
	ref := refs[0]
	for _, r := range refs {
		if r.Controller != nil && *r.Controller {
			ref = r
			break
		}
	}
	return ownerRef{kind: intern(ref.Kind), name: intern(ref.Name)}, true
}

func trimOwned(obj any) (any, error) {
	var m *metav1.ObjectMeta
	switch o := obj.(type) {
	case *appsv1.ReplicaSet:
		m = &o.ObjectMeta
	case *batchv1.Job:
		m = &o.ObjectMeta
	default:
		return obj, nil
	}
	owner, _ := controllerOf(m.OwnerReferences)
	return &ownedObject{name: m.Name, namespace: intern(m.Namespace), uid: m.UID, rv: m.ResourceVersion, owner: owner}, nil
}

func trimService(obj any) (any, error) {
	s, ok := obj.(*corev1.Service)
	if !ok {
		return obj, nil
	}
	out := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name:            s.Name,
			Namespace:       intern(s.Namespace),
			UID:             s.UID,
			ResourceVersion: s.ResourceVersion,
		},
		Spec: corev1.ServiceSpec{
			Type:       s.Spec.Type,
			ClusterIP:  s.Spec.ClusterIP,
			ClusterIPs: s.Spec.ClusterIPs,
		},
	}
	if len(s.Spec.Ports) > 0 {
		out.Spec.Ports = make([]corev1.ServicePort, len(s.Spec.Ports))
		for i, p := range s.Spec.Ports {
			out.Spec.Ports[i] = corev1.ServicePort{Name: intern(p.Name), Protocol: p.Protocol, Port: p.Port}
		}
	}
	return out, nil
}
