// Command kube-apiserver is Kubernetes' API server, built from the
// k8s.io/kubernetes module for podflow's integration tests (see
// hack/kube-apiserver.sh). It lives in its own Go module so that podflow's
// own build and `go test ./...` never pull in k8s.io/kubernetes.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // --logging-format=json
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics, as upstream registers them
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric, as upstream registers it
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
