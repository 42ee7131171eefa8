package deploy_test

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/podflow/podflow/internal/decoders"
)

// The version and commit the test builds in, as the image build's
// --build-arg VERSION=... --build-arg COMMIT=... would.
const (
	testVersion = "v0.0.0-deploytest"
	testCommit  = "deploytest"
)

// buildLikeTheDockerfile builds podflow from the repository root with
// exactly the Dockerfile's `go build` command and environment (its ARGs set
// to testVersion and testCommit), into t.TempDir().
func buildLikeTheDockerfile(t *testing.T) string {
	t.Helper()
	goTool := decoders.RequireTool(t, "go")
	b := dockerBuild(t, map[string]string{"VERSION": testVersion, "COMMIT": testCommit})
	bin := filepath.Join(t.TempDir(), "podflow")
	args := append([]string{b.args[0], "-o", bin}, b.args[1:]...)
	cmd := exec.Command(goTool, args...)
	cmd.Dir = ".." // the Dockerfile's WORKDIR holds the whole repository
	// GOFLAGS= : nothing but the Dockerfile's flags; its assignments last, so
	// they win over the test's environment.
	cmd.Env = append(append(os.Environ(), "GOFLAGS="), b.env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %q: %v\n%s", b.env, args, err, out)
	}
	return bin
}

func TestBinaryBuiltLikeTheImageIsStatic(t *testing.T) {
	bin := buildLikeTheDockerfile(t)

	t.Run("static and stripped", func(t *testing.T) {
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
				t.Errorf("program header %v: want a static executable (CGO_ENABLED=0)", p.Type)
			}
		}
		if libs, err := f.ImportedLibraries(); err != nil || len(libs) != 0 {
			t.Errorf("DT_NEEDED %q, %v: want none", libs, err)
		}
		for _, s := range f.Sections {
			if s.Name == ".symtab" || strings.HasPrefix(s.Name, ".debug_") || strings.HasPrefix(s.Name, ".zdebug_") {
				t.Errorf("section %s: want none (-ldflags -s -w)", s.Name)
			}
		}
		data, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		root, err := filepath.Abs("..")
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte(root+"/")) {
			t.Errorf("the binary holds the build path %s (-trimpath)", root)
		}
	})

	t.Run("version", func(t *testing.T) {
		goVersion, err := exec.Command(decoders.RequireTool(t, "go"), "env", "GOVERSION").Output()
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "version").Output()
		want := fmt.Sprintf("podflow %s (commit %s, %s linux/%s)\n", testVersion, testCommit, strings.TrimSpace(string(goVersion)), runtime.GOARCH)
		if err != nil || string(out) != want {
			t.Errorf("podflow version: %q, %v; want %q", out, err, want)
		}
	})

	t.Run("help names the DaemonSet's options", func(t *testing.T) {
		out, err := exec.Command(bin, "--help").Output()
		if err != nil {
			t.Fatalf("podflow --help: %v", err)
		}
		help := string(out)
		if !strings.HasPrefix(help, "podflow exports the network flows") {
			t.Errorf("podflow --help starts with %q", help[:min(len(help), 60)])
		}
		c := render(t, baseDir).container(t)
		var names []string
		for _, a := range c.Args[1:] {
			if strings.HasPrefix(a, "--") {
				names = append(names, a)
			}
		}
		for _, e := range c.Env {
			names = append(names, e.Name)
		}
		for _, n := range names {
			if !strings.Contains(help, n) {
				t.Errorf("podflow --help does not mention %s, which the DaemonSet sets", n)
			}
		}
	})
}

// The Makefile's `make build` keeps its own copy of the flags; it must pass
// nothing the image build does not (it may leave out the commit).
func TestMakeBuildUsesTheDockerfilesFlags(t *testing.T) {
	makeTool := decoders.RequireTool(t, "make")
	out, err := exec.Command(makeTool, "-n", "-C", "..", "build", "VERSION="+testVersion).Output()
	if err != nil {
		t.Fatalf("make -n build: %v", err)
	}
	var mk *buildCommand
	for _, line := range strings.Split(string(out), "\n") {
		words, err := shellWords(line, nil)
		if err != nil || !slices.Contains(words, "build") {
			continue
		}
		i := slices.Index(words, "build")
		if i == 0 || filepath.Base(words[i-1]) != "go" {
			continue
		}
		mk = &buildCommand{env: words[:i-1]}
		for j := i; j < len(words); j++ {
			if words[j] == "-o" {
				j++
				continue
			}
			mk.args = append(mk.args, words[j])
		}
	}
	if mk == nil {
		t.Fatalf("make -n build prints no go build:\n%s", out)
	}
	docker := dockerBuild(t, map[string]string{"VERSION": testVersion, "COMMIT": testCommit})
	for _, e := range mk.env {
		if !slices.Contains(docker.env, e) {
			t.Errorf("make build sets %s, the Dockerfile does not (%q)", e, docker.env)
		}
	}
	for i, a := range mk.args {
		if i > 0 && mk.args[i-1] == "-ldflags" {
			continue
		}
		if !slices.Contains(docker.args, a) {
			t.Errorf("make build passes %s, the Dockerfile does not (%q)", a, docker.args)
		}
	}
	// Values differ (make stamps git's version, the test its own): compare
	// the flags and the variables they set.
	dl := ldflagNames(ldflags(t, docker.args))
	for _, w := range ldflagNames(ldflags(t, mk.args)) {
		if !slices.Contains(dl, w) {
			t.Errorf("make build's -ldflags has %s, the Dockerfile's does not (%q)", w, dl)
		}
	}
}

// ldflagNames drops the values of -X name=value words.
func ldflagNames(words []string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		name, _, _ := strings.Cut(w, "=")
		out[i] = name
	}
	return out
}
