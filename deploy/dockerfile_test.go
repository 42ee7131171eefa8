package deploy_test

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const dockerfilePath = "../Dockerfile"

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, ...
	rest string
}

// stage is one FROM ... block.
type stage struct {
	from, name string
	body       []instruction
}

// parseDockerfile reads the stages of a Dockerfile: comment lines (also
// inside continuations) are dropped, lines ending in a backslash joined.
func parseDockerfile(t *testing.T, path string) []stage {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var stages []stage
	var cur strings.Builder
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		cmd, rest, _ := strings.Cut(line, " ")
		in := instruction{cmd: strings.ToUpper(cmd), rest: strings.TrimSpace(rest)}
		if in.cmd == "FROM" {
			f := strings.Fields(in.rest)
			s := stage{from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.name = f[2]
			}
			stages = append(stages, s)
			return
		}
		if len(stages) == 0 {
			t.Fatalf("%s: %s before FROM", path, in.cmd)
		}
		stages[len(stages)-1].body = append(stages[len(stages)-1].body, in)
	}
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if body, ok := strings.CutSuffix(trimmed, `\`); ok {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(trimmed)
		flush()
	}
	flush()
	return stages
}

// buildCommand is the Dockerfile's `go build`: its environment assignments,
// its arguments after "go" with -o's value separate, and that value.
type buildCommand struct {
	env    []string
	args   []string // "build", flags..., packages; without -o and its value
	output string
}

// dockerBuild returns the build stage's `go build` RUN line with the
// stage's ARGs expanded: to their values in args, else their defaults.
func dockerBuild(t *testing.T, args map[string]string) buildCommand {
	t.Helper()
	var found []buildCommand
	for _, s := range parseDockerfile(t, dockerfilePath) {
		vars := map[string]string{}
		for _, in := range s.body {
			switch in.cmd {
			case "ARG":
				name, def, _ := strings.Cut(in.rest, "=")
				vars[name] = def
				if v, ok := args[name]; ok {
					vars[name] = v
				}
			case "RUN":
				words, err := shellWords(in.rest, vars)
				if err != nil {
					t.Fatalf("Dockerfile RUN %s: %v", in.rest, err)
				}
				i := 0
				for i < len(words) && regexp.MustCompile(`^[A-Z_][A-Z0-9_]*=`).MatchString(words[i]) {
					i++
				}
				if len(words) < i+2 || words[i] != "go" || words[i+1] != "build" {
					continue
				}
				b := buildCommand{env: words[:i]}
				rest := words[i+1:]
				for j := 0; j < len(rest); j++ {
					if rest[j] == "-o" && j+1 < len(rest) {
						b.output = rest[j+1]
						j++
						continue
					}
					b.args = append(b.args, rest[j])
				}
				found = append(found, b)
			}
		}
	}
	if len(found) != 1 || found[0].output == "" {
		t.Fatalf("Dockerfile: want exactly one RUN go build ... -o FILE, found %d", len(found))
	}
	return found[0]
}

// shellWords splits a RUN line the way sh would for the plain commands the
// Dockerfile allows: words, single and double quotes, ${VAR} and $VAR from
// vars. Operators, redirections and command substitution are refused: the
// test could not reproduce them.
func shellWords(s string, vars map[string]string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	quote := byte(0)
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case quote == '\'':
			if ch == '\'' {
				quote = 0
			} else {
				w.WriteByte(ch)
			}
		case ch == '\'' || ch == '"':
			if quote == ch {
				quote = 0
			} else if quote == 0 {
				quote, inWord = ch, true
			} else {
				w.WriteByte(ch)
			}
		case ch == '$':
			name, n := varName(s[i+1:])
			if name == "" {
				return nil, fmt.Errorf("unsupported $ at %q", s[i:])
			}
			v, ok := vars[name]
			if !ok {
				return nil, fmt.Errorf("unknown variable %s", name)
			}
			w.WriteString(v)
			inWord = true
			i += n
		case quote == 0 && strings.IndexByte(";&|<>`()\\", ch) >= 0:
			return nil, fmt.Errorf("shell syntax %q is not supported", ch)
		case quote == 0 && (ch == ' ' || ch == '\t'):
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteByte(ch)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote", quote)
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

// varName reads "{NAME}" or "NAME" after a '$' and returns the name and the
// bytes it took.
func varName(s string) (string, int) {
	if rest, ok := strings.CutPrefix(s, "{"); ok {
		end := strings.IndexByte(rest, '}')
		if end <= 0 {
			return "", 0
		}
		return rest[:end], end + 2
	}
	m := regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*`).FindString(s)
	return m, len(m)
}

func TestDockerfileBuildsStaticOnDistroless(t *testing.T) {
	stages := parseDockerfile(t, dockerfilePath)
	if len(stages) != 2 || stages[0].name == "" {
		t.Fatalf("Dockerfile: want a named build stage and a runtime stage, got %+v", stages)
	}
	b := dockerBuild(t, nil)
	for _, want := range []string{"CGO_ENABLED=0"} {
		if !slices.Contains(b.env, want) {
			t.Errorf("go build environment %q lacks %s", b.env, want)
		}
	}
	for _, want := range []string{"-trimpath", "-buildvcs=false", "./cmd/podflow"} {
		if !slices.Contains(b.args, want) {
			t.Errorf("go build %q lacks %s", b.args, want)
		}
	}
	ld := ldflags(t, b.args)
	for _, want := range []string{"-s", "-w", "github.com/podflow/podflow/config.Version=dev", "github.com/podflow/podflow/config.Commit=unknown"} {
		if !slices.Contains(ld, want) {
			t.Errorf("-ldflags %q lacks %s", ld, want)
		}
	}

	run := stages[1]
	if !regexp.MustCompile(`^gcr\.io/distroless/static-debian1[2-9](@sha256:[0-9a-f]{64})?$`).MatchString(run.from) {
		t.Errorf("runtime image %s: want gcr.io/distroless/static (no shell, no libc)", run.from)
	}
	var got []string
	for _, in := range run.body {
		got = append(got, in.cmd+" "+in.rest)
	}
	want := []string{
		"COPY --from=" + stages[0].name + " " + b.output + " /podflow",
		`ENTRYPOINT ["/podflow"]`,
		`CMD ["run"]`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("runtime stage:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// ldflags returns the words of the -ldflags value in a go build command.
func ldflags(t *testing.T, args []string) []string {
	t.Helper()
	for i, a := range args {
		if a == "-ldflags" && i+1 < len(args) {
			return strings.Fields(args[i+1])
		}
		if v, ok := strings.CutPrefix(a, "-ldflags="); ok {
			return strings.Fields(v)
		}
	}
	t.Fatalf("go build %q: no -ldflags", args)
	return nil
}

func TestShellWords(t *testing.T) {
	vars := map[string]string{"V": "1.2", "E": ""}
	for _, c := range []struct {
		in   string
		want []string
	}{
		{`A=0 go build -ldflags "-s -X a.B=${V}" -o /o ./c`, []string{"A=0", "go", "build", "-ldflags", "-s -X a.B=1.2", "-o", "/o", "./c"}},
		{`x '$V "y"' $V "" ${E}z`, []string{"x", `$V "y"`, "1.2", "", "z"}},
	} {
		got, err := shellWords(c.in, vars)
		if err != nil || strings.Join(got, "|") != strings.Join(c.want, "|") || len(got) != len(c.want) {
			t.Errorf("shellWords(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{`a && b`, `a; b`, `a | b`, `a $(b)`, "a `b`", `a > f`, `a $UNSET`, `a "b`} {
		if got, err := shellWords(bad, vars); err == nil {
			t.Errorf("shellWords(%q) = %q, want an error", bad, got)
		}
	}
}
