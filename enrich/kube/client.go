package kube

import (
	"errors"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// ErrNotInCluster is returned by NewClient when podflow runs outside a
// cluster and was given no kubeconfig: the caller turns the stage off.
var ErrNotInCluster = errors.New("not in a cluster")

// NewClient returns a client from the kubeconfig file when one is given,
// else from the pod's service account when running in a cluster, else an
// error wrapping ErrNotInCluster. It asks for protobuf, which the API
// server encodes and podflow decodes with far less CPU and memory than
// JSON when listing every pod.
func NewClient(kubeconfig string) (kubernetes.Interface, error) {
	cfg, err := restConfig(kubeconfig)
	if err != nil {
		return nil, err
	}
	return ClientForConfig(cfg)
}

// ClientForConfig returns a client for cfg set up as NewClient's: podflow's
// user agent and protobuf. cfg is not modified.
func ClientForConfig(cfg *rest.Config) (kubernetes.Interface, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "podflow"
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kube: client: %w", err)
	}
	return c, nil
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("kube: kubeconfig %s: %w", kubeconfig, err)
		}
		return cfg, nil
	}
	cfg, err := rest.InClusterConfig()
	if errors.Is(err, rest.ErrNotInCluster) {
		return nil, fmt.Errorf("kube: %w (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT unset) and no kubeconfig given", ErrNotInCluster)
	}
	if err != nil {
		return nil, fmt.Errorf("kube: in-cluster config: %w", err)
	}
	return cfg, nil
}

// RBACRules are the permissions the Watcher's service account needs, for
// the ClusterRole that deployments bind to it.
func RBACRules() []rbacv1.PolicyRule {
	verbs := []string{"get", "list", "watch"}
	return []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods", "services"}, Verbs: verbs},
		{APIGroups: []string{"apps"}, Resources: []string{"replicasets"}, Verbs: verbs},
		{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: verbs},
	}
}
