package config

import (
	"fmt"
	"runtime"
)

// Version and Commit identify the build. Release builds set them with
//
//	go build -ldflags "-X github.com/podflow/podflow/config.Version=v1.2.3 -X github.com/podflow/podflow/config.Commit=$(git rev-parse --short HEAD)" ./cmd/podflow
var (
	Version = "dev"
	Commit  = "unknown"
)

// VersionString is what `podflow version` prints, e.g.
// "podflow v1.2.3 (commit abc1234, go1.26.8 linux/amd64)".
func VersionString() string {
	return fmt.Sprintf("podflow %s (commit %s, %s %s/%s)", Version, Commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
