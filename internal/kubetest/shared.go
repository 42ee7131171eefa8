package kubetest

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

// One cluster per test binary, for packages whose tests each need little.
var shared struct {
	sync.Mutex
	main    bool // Main is running the tests
	started bool
	cluster *Cluster
	err     error
	dir     string
}

// Main runs the package's tests, stops the cluster Shared started (if any)
// and exits. Use it as the package's TestMain:
//
//	func TestMain(m *testing.M) { kubetest.Main(m) }
func Main(m *testing.M) {
	shared.Lock()
	shared.main = true
	shared.Unlock()
	code := m.Run()
	shared.Lock()
	defer shared.Unlock()
	if c := shared.cluster; c != nil {
		if code != 0 {
			fmt.Fprintf(os.Stderr, "kube-apiserver log tail:\n%s\n", c.apiserver.logTail(40))
		}
		c.stop()
	}
	if shared.dir != "" {
		if err := os.RemoveAll(shared.dir); err != nil {
			fmt.Fprintf(os.Stderr, "kubetest: %v\n", err)
		}
	}
	os.Exit(code)
}

// Shared returns the test binary's cluster, starting it on first use; it
// runs until Main returns. It calls Require first, and fails t unless the
// package's TestMain is Main (nothing else would stop the cluster).
func Shared(t testing.TB) *Cluster {
	t.Helper()
	Require(t)
	shared.Lock()
	defer shared.Unlock()
	if !shared.main {
		t.Fatal("kubetest.Shared needs func TestMain(m *testing.M) { kubetest.Main(m) }")
	}
	if !shared.started {
		shared.started = true
		shared.dir, shared.err = os.MkdirTemp("", "kubetest-")
		if shared.err == nil {
			shared.cluster, shared.err = start(shared.dir)
		}
	}
	if shared.err != nil {
		t.Fatalf("kubetest: shared cluster: %v", shared.err)
	}
	return shared.cluster
}
