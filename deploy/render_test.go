package deploy_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/podflow/podflow/config"
	"github.com/podflow/podflow/internal/decoders"
	"github.com/podflow/podflow/internal/kubetest"
)

func TestMain(m *testing.M) { kubetest.Main(m) }

const (
	baseDir    = "base"
	exampleDir = "examples/collector"
	// configSource is the file the ConfigMap must carry byte for byte.
	configSource = "../configs/podflow.yaml"
	// testNodeName stands for spec.nodeName in the DaemonSet's fieldRef.
	testNodeName = "node-a"
)

// rendered is a kustomization's output, decoded strictly (an unknown field is
// an error) into client-go's types.
type rendered struct {
	objects   []runtime.Object
	namespace *corev1.Namespace
	configMap *corev1.ConfigMap
	daemonSet *appsv1.DaemonSet
}

// render runs `kubectl kustomize dir` and decodes every object it prints.
func render(t *testing.T, dir string) rendered {
	t.Helper()
	cmd := exec.Command(decoders.RequireTool(t, "kubectl"), "kustomize", dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, stderr.Bytes())
	}
	strict := json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme.Scheme, scheme.Scheme,
		json.SerializerOptions{Yaml: true, Strict: true})
	var r rendered
	docs := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(out)))
	for {
		doc, err := docs.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("kubectl kustomize %s: split documents: %v", dir, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		obj, _, err := strict.Decode(doc, nil, nil)
		if err != nil {
			t.Fatalf("kubectl kustomize %s: decode:\n%s\n%v", dir, doc, err)
		}
		r.objects = append(r.objects, obj)
		switch o := obj.(type) {
		case *corev1.Namespace:
			r.namespace = o
		case *corev1.ConfigMap:
			r.configMap = o
		case *appsv1.DaemonSet:
			r.daemonSet = o
		}
	}
	if r.namespace == nil || r.configMap == nil || r.daemonSet == nil {
		t.Fatalf("kubectl kustomize %s: want a Namespace, a ConfigMap and a DaemonSet, got %d objects", dir, len(r.objects))
	}
	return r
}

// container returns the DaemonSet's only container, failing t unless there
// is exactly one and no init container.
func (r rendered) container(t *testing.T) *corev1.Container {
	t.Helper()
	spec := &r.daemonSet.Spec.Template.Spec
	if len(spec.Containers) != 1 || len(spec.InitContainers) != 0 || len(spec.EphemeralContainers) != 0 {
		t.Fatalf("DaemonSet: want exactly one container, got %d (+%d init, %d ephemeral)",
			len(spec.Containers), len(spec.InitContainers), len(spec.EphemeralContainers))
	}
	return &spec.Containers[0]
}

// namedPort returns the container port called name.
func namedPort(t *testing.T, c *corev1.Container, name string) corev1.ContainerPort {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("container %s has no port named %q", c.Name, name)
	return corev1.ContainerPort{}
}

// deployedConfig loads podflow's configuration the way the DaemonSet's pod
// would: the container's args after "run", its environment (spec.nodeName
// as testNodeName) and the --config file taken from the mounted ConfigMap,
// written to a temporary directory. It returns the configuration and the
// path the file was written to.
func deployedConfig(t *testing.T, r rendered) (*config.Config, string, error) {
	t.Helper()
	c := r.container(t)
	if len(c.Command) != 0 {
		t.Fatalf("container command %q: the image's ENTRYPOINT (/podflow) must run", c.Command)
	}
	if len(c.Args) == 0 || c.Args[0] != "run" {
		t.Fatalf("container args %q: want the run command first", c.Args)
	}
	args := append([]string(nil), c.Args[1:]...)
	file := ""
	for i, a := range args {
		switch {
		case a == "--config" && i+1 < len(args):
			file = materialise(t, r, args[i+1])
			args[i+1] = file
		case strings.HasPrefix(a, "--config="):
			file = materialise(t, r, strings.TrimPrefix(a, "--config="))
			args[i] = "--config=" + file
		}
	}
	if file == "" {
		t.Fatalf("container args %q: no --config", c.Args)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "spec.nodeName":
			env[e.Name] = testNodeName
		default:
			t.Fatalf("env %s: only values and spec.nodeName are understood here, got %+v", e.Name, e.ValueFrom)
		}
	}
	cfg, err := config.Load(args, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	return cfg, file, err
}

// materialise writes the file the container sees at mounted (a ConfigMap
// key under a volume mount) into t.TempDir() and returns its path there.
func materialise(t *testing.T, r rendered, mounted string) string {
	t.Helper()
	c := r.container(t)
	for _, m := range c.VolumeMounts {
		rel, ok := strings.CutPrefix(mounted, strings.TrimSuffix(m.MountPath, "/")+"/")
		if !ok {
			continue
		}
		for _, v := range r.daemonSet.Spec.Template.Spec.Volumes {
			if v.Name != m.Name || v.ConfigMap == nil {
				continue
			}
			if v.ConfigMap.Name != r.configMap.Name {
				t.Fatalf("volume %s mounts ConfigMap %q, the kustomization generates %q", v.Name, v.ConfigMap.Name, r.configMap.Name)
			}
			data, ok := r.configMap.Data[rel]
			if !ok || path.Clean(rel) != rel {
				t.Fatalf("%s: ConfigMap %s has no key %q", mounted, r.configMap.Name, rel)
			}
			p := filepath.Join(t.TempDir(), rel)
			if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}
	}
	t.Fatalf("%s is on no ConfigMap volume mounted in the container", mounted)
	return ""
}
