// Package privtest gates tests that need root (BPF, network namespaces):
// they skip on a developer's unprivileged machine, but under CI=true a skip
// would hide a broken datapath, so there they fail instead.
package privtest

import (
	"os"
	"testing"
)

// Require skips t when not running as root, or fails it when CI=true.
func Require(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("privileged test needs root, and CI=true forbids skipping it")
	}
	t.Skip("needs root (BPF, network namespaces); run with sudo")
}
