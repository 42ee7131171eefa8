// Package deploy holds podflow's Kubernetes manifests (base/, a kustomize
// base, and examples/) and, in its tests, the checks that keep them, the
// Dockerfile and the binary in agreement: the manifests render and pass a
// real API server's validation and admission, the configuration they give
// podflow loads and validates, the probes hit paths podflow serves, and the
// binary built with the Dockerfile's flags is static and runs with exactly
// the DaemonSet's capabilities.
package deploy
