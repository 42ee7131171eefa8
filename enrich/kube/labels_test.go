package kube

import (
	"reflect"
	"runtime"
	"testing"
	"time"
)

func TestLabelSetsAreShared(t *testing.T) {
	li := newLabelInterner([]string{"app", "version"})
	a := li.selectLabels(map[string]string{"app": "web", "version": "1", "pod-template-hash": "x1"})
	b := li.selectLabels(map[string]string{"version": "1", "app": "web", "pod-template-hash": "x2"})
	c := li.selectLabels(map[string]string{"app": "web", "version": "2"})
	if a != b {
		t.Fatal("pods with the same selected labels got different sets")
	}
	if a == c {
		t.Fatal("different label values share a set")
	}
	if want := map[string]string{"app": "web", "version": "1"}; !reflect.DeepEqual(a.m, want) {
		t.Fatalf("set %v, want %v", a.m, want)
	}
	if s := li.selectLabels(map[string]string{"other": "x"}); s != nil {
		t.Fatalf("no selected label: got %v, want nil", s.m)
	}
	// "a=b" + "c" must not collide with "a" + "b=c".
	if x, y := li.selectLabels(map[string]string{"app": "a\x00version"}), li.selectLabels(map[string]string{"app": "a", "version": ""}); x == y {
		t.Fatal("distinct label sets collide")
	}
	if n := li.len(); n != 4 {
		t.Fatalf("interner holds %d sets, want 4", n)
	}
	runtime.KeepAlive(a)
	runtime.KeepAlive(c)
}

func TestLabelSetsForgottenWhenUnused(t *testing.T) {
	li := newLabelInterner([]string{"app"})
	for _, app := range []string{"a", "b", "c"} {
		li.selectLabels(map[string]string{"app": app})
	}
	kept := li.selectLabels(map[string]string{"app": "kept"})
	deadline := time.Now().Add(5 * time.Second)
	for li.len() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("interner still holds %d sets, want 1", li.len())
		}
		runtime.GC() // cleanups run after a collection finds the sets unreachable
		time.Sleep(time.Millisecond)
	}
	if again := li.selectLabels(map[string]string{"app": "kept"}); again != kept {
		t.Fatal("a set still in use was replaced")
	}
}
