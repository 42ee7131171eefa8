package check

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	authv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/kubernetes"

	"github.com/podflow/podflow/config"
	"github.com/podflow/podflow/enrich/kube"
)

// Effects of the Kubernetes probe, shared with the agent's start-up logs.
const (
	EffectKubeOff     = "Kubernetes context off: flows carry no pod, workload or service names; " + CountersKeepFlowing
	EffectKubePartial = "Kubernetes context incomplete: what cannot be listed and watched is never named"
)

// KubeClientFunc builds the client from --kubeconfig or the in-cluster
// service account: kube.NewClient.
type KubeClientFunc func(kubeconfig string) (kubernetes.Interface, error)

// KubeProbe asks the API server for its version (reachable?), then asks it
// whether podflow's identity may do what kube.RBACRules grant
// (SelfSubjectAccessReview per resource and verb).
func KubeProbe(cfg *config.Config, newClient KubeClientFunc) Probe {
	return Probe{Name: "kubernetes", Run: func(ctx context.Context) []Result {
		if !cfg.Kubernetes {
			return []Result{{Name: "kubernetes", Status: Degraded, Detail: "off in the configuration (--kubernetes=false)", Effect: EffectKubeOff}}
		}
		client, err := newClient(cfg.Kubeconfig)
		if err != nil {
			return []Result{KubeClientResult(err)}
		}
		return []Result{kubeReachable(ctx, client)}
	}}
}

// KubeClientResult is the result, and the agent's log line, when no client
// can be built: outside a cluster (kube.ErrNotInCluster) that is expected,
// hence degraded, not unavailable.
func KubeClientResult(err error) Result {
	r := Result{Name: "kubernetes", Status: Unavailable, Detail: err.Error(), Effect: EffectKubeOff}
	if errors.Is(err, kube.ErrNotInCluster) {
		r.Status = Degraded
	}
	return r
}

func kubeReachable(ctx context.Context, client kubernetes.Interface) Result {
	r := Result{Name: "kubernetes", Status: Unavailable, Effect: EffectKubeOff}
	raw, err := client.Discovery().RESTClient().Get().AbsPath("/version").Do(ctx).Raw()
	if err != nil {
		r.Detail = "API server unreachable: " + err.Error()
		return r
	}
	var v version.Info
	if err := json.Unmarshal(raw, &v); err != nil {
		r.Detail = "API server /version: " + err.Error()
		return r
	}
	var allowed, denied []string
	for _, rule := range kube.RBACRules() {
		for _, group := range rule.APIGroups {
			for _, resource := range rule.Resources {
				name := resource
				if group != "" {
					name += "." + group
				}
				for _, verb := range rule.Verbs {
					ok, err := mayDo(ctx, client, group, resource, verb)
					if err != nil {
						r.Detail = fmt.Sprintf("API server %s reachable; access review of %s %s: %v", v.GitVersion, verb, name, err)
						r.Status, r.Effect = Degraded, EffectKubePartial
						return r
					}
					if ok {
						allowed = appendOnce(allowed, name)
					} else {
						denied = append(denied, verb+" "+name)
					}
				}
			}
		}
	}
	r.Detail = fmt.Sprintf("API server %s reachable", v.GitVersion)
	if len(denied) > 0 {
		r.Status, r.Effect = Degraded, EffectKubePartial
		r.Detail += "; forbidden: " + strings.Join(denied, ", ")
		return r
	}
	r.Status, r.Effect = OK, ""
	r.Detail += "; may get, list and watch " + strings.Join(allowed, ", ")
	return r
}

func mayDo(ctx context.Context, client kubernetes.Interface, group, resource, verb string) (bool, error) {
	review := &authv1.SelfSubjectAccessReview{Spec: authv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authv1.ResourceAttributes{Group: group, Resource: resource, Verb: verb},
	}}
	got, err := client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
	if err != nil {
		return false, err
	}
	return got.Status.Allowed, nil
}

func appendOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}
