package kube

import (
	"runtime"
	"strings"
	"sync"
	"weak"
)

// labelSet boxes an interned label map so it can be weakly referenced.
type labelSet struct{ m map[string]string }

// labelInterner hands out one shared map per distinct set of selected
// labels: the pods of a workload usually carry the same ones, and a small
// map costs more than the pod's other fields. A set is forgotten once no
// pod snapshot holds its box.
type labelInterner struct {
	keys []string // the label keys to keep, in a fixed order

	mu    sync.Mutex
	byKey map[string]weak.Pointer[labelSet]
}

func newLabelInterner(keys []string) *labelInterner {
	return &labelInterner{keys: keys, byKey: make(map[string]weak.Pointer[labelSet])}
}

// selectLabels returns the shared set of the configured keys present in
// labels; nil when none is, so pods without them cost nothing.
func (li *labelInterner) selectLabels(labels map[string]string) *labelSet {
	var b strings.Builder
	for _, k := range li.keys {
		if v, ok := labels[k]; ok {
			b.WriteString(k)
			b.WriteByte(0)
			b.WriteString(v)
			b.WriteByte(0)
		}
	}
	if b.Len() == 0 {
		return nil
	}
	key := b.String()
	li.mu.Lock()
	defer li.mu.Unlock()
	if s := li.byKey[key].Value(); s != nil {
		return s
	}
	s := &labelSet{m: make(map[string]string)}
	for _, k := range li.keys {
		if v, ok := labels[k]; ok {
			s.m[intern(k)] = intern(v)
		}
	}
	li.byKey[key] = weak.Make(s)
	runtime.AddCleanup(s, li.forget, key)
	return s
}

// forget drops a collected set's entry, unless the key was given a new set
// since.
func (li *labelInterner) forget(key string) {
	li.mu.Lock()
	if li.byKey[key].Value() == nil {
		delete(li.byKey, key)
	}
	li.mu.Unlock()
}

func (li *labelInterner) len() int {
	li.mu.Lock()
	defer li.mu.Unlock()
	return len(li.byKey)
}
