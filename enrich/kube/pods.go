package kube

import (
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// holdsIPs reports whether the pod's IPs are its own and in use: not the
// node's (host network) and not released by a finished pod, whose status
// keeps the IP the CNI has already freed.
func (p *Pod) holdsIPs() bool {
	return !p.HostNetwork && p.Phase != string(corev1.PodSucceeded) && p.Phase != string(corev1.PodFailed)
}

func (w *Watcher) podChanged(obj any) {
	o, ok := obj.(*podObject)
	if !ok {
		return
	}
	w.events.Add(1)
	p := &o.pod
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	old := w.pods[p.UID]
	w.pods[p.UID] = p
	w.indexContainers(old, p)
	var held []netip.Addr
	if p.holdsIPs() {
		held = p.IPs
	}
	if old != nil && old.holdsIPs() {
		for _, ip := range old.IPs {
			if !slices.Contains(held, ip) {
				w.ips.release(ip, p.UID, now)
			}
		}
	}
	for _, ip := range held {
		w.ips.claim(ip, p, now)
	}
	w.ips.sweep(now)
}

// podUpdated handles an update, which after a relist may replace a pod by
// another of the same name (a new UID): the old one is then gone.
func (w *Watcher) podUpdated(old, obj any) {
	o, okOld := old.(*podObject)
	n, okNew := obj.(*podObject)
	if okOld && okNew && o.pod.UID != n.pod.UID {
		w.podDeleted(old)
	}
	w.podChanged(obj)
}

func (w *Watcher) podDeleted(obj any) {
	o, ok := unwrap(obj).(*podObject)
	if !ok {
		return
	}
	w.events.Add(1)
	uid := o.pod.UID
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	old := w.pods[uid]
	if old == nil {
		return
	}
	delete(w.pods, uid)
	w.indexContainers(old, nil)
	if old.holdsIPs() {
		for _, ip := range old.IPs {
			w.ips.release(ip, uid, now)
		}
	}
	w.ips.sweep(now)
}

// indexContainers moves the container ids of a pod from its old snapshot to
// its new one (nil when the pod is gone).
func (w *Watcher) indexContainers(old, p *Pod) {
	if old != nil {
		for _, id := range old.ContainerIDs {
			if w.containers[id] == old {
				delete(w.containers, id)
			}
		}
	}
	if p != nil {
		for _, id := range p.ContainerIDs {
			w.containers[id] = p
		}
	}
}
