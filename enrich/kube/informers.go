package kube

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	appsinformers "k8s.io/client-go/informers/apps/v1"
	batchinformers "k8s.io/client-go/informers/batch/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/tools/cache"
)

type informerSpec struct {
	name      string
	informer  cache.SharedIndexInformer
	transform cache.TransformFunc
	handler   cache.ResourceEventHandler
}

// informers builds the four informers: pods (one informer, local or
// cluster-wide), services, ReplicaSets and Jobs. No resync: the handlers
// keep their indexes from events alone.
func (w *Watcher) informers(cfg Config) []informerSpec {
	var podTweak func(*metav1.ListOptions)
	if !cfg.RemotePods {
		selector := nodeSelector(cfg.NodeName)
		podTweak = func(o *metav1.ListOptions) { o.FieldSelector = selector }
	}
	all := metav1.NamespaceAll
	return []informerSpec{
		{
			name:      "pods",
			informer:  coreinformers.NewFilteredPodInformer(cfg.Client, all, 0, nil, podTweak),
			transform: newPodTrimmer(cfg.Labels).trim,
			handler: cache.ResourceEventHandlerFuncs{
				AddFunc:    func(obj any) { w.podChanged(obj) },
				UpdateFunc: w.podUpdated,
				DeleteFunc: w.podDeleted,
			},
		},
		{
			name:      "services",
			informer:  coreinformers.NewFilteredServiceInformer(cfg.Client, all, 0, nil, nil),
			transform: trimService,
			handler: cache.ResourceEventHandlerFuncs{
				AddFunc:    func(obj any) { w.serviceChanged(obj) },
				UpdateFunc: func(_, obj any) { w.serviceChanged(obj) },
				DeleteFunc: w.serviceDeleted,
			},
		},
		{
			name:      "replicasets",
			informer:  appsinformers.NewFilteredReplicaSetInformer(cfg.Client, all, 0, nil, nil),
			transform: trimOwned,
			handler:   w.ownedHandler(kindReplicaSet),
		},
		{
			name:      "jobs",
			informer:  batchinformers.NewFilteredJobInformer(cfg.Client, all, 0, nil, nil),
			transform: trimOwned,
			handler:   w.ownedHandler(kindJob),
		},
	}
}

// unwrap returns the object of a delete notification, which may be a
// tombstone when the watch missed the deletion.
func unwrap(obj any) any {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		return t.Obj
	}
	return obj
}

func (w *Watcher) serviceChanged(obj any) {
	s, ok := obj.(*corev1.Service)
	if !ok {
		return
	}
	w.events.Add(1)
	w.mu.Lock()
	w.services.upsert(s)
	w.mu.Unlock()
}

func (w *Watcher) serviceDeleted(obj any) {
	s, ok := unwrap(obj).(*corev1.Service)
	if !ok {
		return
	}
	w.events.Add(1)
	w.mu.Lock()
	w.services.remove(objectName{s.Namespace, s.Name})
	w.mu.Unlock()
}

// ownedHandler keeps the controller owner of ReplicaSets or Jobs.
func (w *Watcher) ownedHandler(kind string) cache.ResourceEventHandler {
	changed := func(obj any) {
		o, ok := obj.(*ownedObject)
		if !ok {
			return
		}
		w.events.Add(1)
		key := ownedKey{kind, o.namespace, o.name}
		w.mu.Lock()
		if o.owner.kind != "" {
			w.owners[key] = o.owner
		} else {
			delete(w.owners, key) // an orphan names itself: nothing to keep
		}
		w.mu.Unlock()
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    changed,
		UpdateFunc: func(_, obj any) { changed(obj) },
		DeleteFunc: func(obj any) {
			o, ok := unwrap(obj).(*ownedObject)
			if !ok {
				return
			}
			w.events.Add(1)
			w.mu.Lock()
			delete(w.owners, ownedKey{kind, o.namespace, o.name})
			w.mu.Unlock()
		},
	}
}
