// Package decoders runs independent IPFIX decoders (Wireshark's tshark and
// pmacct's nfacctd) against what a test sends, so podflow's encoding is
// checked by someone else's parser rather than by its own.
package decoders

import (
	"os"
	"os/exec"
	"testing"
)

// RequireTool returns the path of the named executable. When it is missing
// the test skips on a developer's machine but fails under CI=true, where a
// skip would hide that the decoders were never run.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not installed, and CI=true forbids skipping: %v", name, err)
	}
	t.Skipf("%s not installed: %v", name, err)
	return ""
}
