package kubetest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// KubernetesVersion is the k8s.io/kubernetes version the kube-apiserver is
// built from (internal/kubetest/apiserver/go.mod; a test keeps them equal).
// hack/kube-apiserver.sh names the cached binary after it.
const KubernetesVersion = "v1.37.1"

// Require skips t when etcd or the kube-apiserver binary is missing, or fails
// it when CI=true: there a skip would hide the Kubernetes tests entirely.
func Require(t testing.TB) {
	t.Helper()
	_, etcdErr := etcdPath()
	_, apiErr := apiserverPath()
	err := errors.Join(etcdErr, apiErr)
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("kubetest: %v (CI=true forbids skipping)", err)
	}
	t.Skipf("kubetest: %v", err)
}

// etcdPath finds etcd: $PODFLOW_ETCD, else etcd on $PATH (Debian's
// etcd-server package installs /usr/bin/etcd).
func etcdPath() (string, error) {
	if p := os.Getenv("PODFLOW_ETCD"); p != "" {
		return executable(p, "$PODFLOW_ETCD")
	}
	p, err := exec.LookPath("etcd")
	if err != nil {
		return "", fmt.Errorf("etcd not found (apt-get install etcd-server): %w", err)
	}
	return p, nil
}

// apiserverPath finds kube-apiserver: $PODFLOW_KUBE_APISERVER, else the
// file hack/kube-apiserver.sh caches.
func apiserverPath() (string, error) {
	if p := os.Getenv("PODFLOW_KUBE_APISERVER"); p != "" {
		return executable(p, "$PODFLOW_KUBE_APISERVER")
	}
	dir := os.Getenv("PODFLOW_CACHE")
	if dir == "" {
		// Same as the script: ${XDG_CACHE_HOME:-$HOME/.cache}/podflow.
		cache, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("kube-apiserver cache directory: %w", err)
		}
		dir = filepath.Join(cache, "podflow")
	}
	p, err := executable(filepath.Join(dir, "kube-apiserver-"+KubernetesVersion), "kube-apiserver")
	if err != nil {
		return "", fmt.Errorf("%w (run make kube-apiserver)", err)
	}
	return p, nil
}

func executable(path, what string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%s: %s is not an executable file", what, path)
	}
	return path, nil
}
