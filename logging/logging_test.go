package logging

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/zap"
	"k8s.io/klog/v2"
)

// lines decodes the JSON lines logged into buf. The time is checked for
// its ISO8601 shape and removed, the caller is reduced to file:line.
func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	iso8601 := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d{4})$`)
	var out []map[string]any
	sc := bufio.NewScanner(buf)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not JSON: %q: %v", sc.Text(), err)
		}
		ts, _ := m["ts"].(string)
		if !iso8601.MatchString(ts) {
			t.Errorf("ts = %q, want ISO8601", m["ts"])
		}
		delete(m, "ts")
		if c, ok := m["caller"].(string); ok {
			m["caller"] = filepath.Base(c)
		}
		out = append(out, m)
	}
	return out
}

// here is the file:line of its caller, as zap's short caller prints it.
func here() string {
	_, file, line, _ := runtime.Caller(1)
	return fmt.Sprintf("%s:%d", filepath.Base(file), line)
}

// callerBefore turns "file.go:N" into "file.go:N-1": here() is called on
// the line after the one that logged.
func callerBefore(fileLine string) string {
	file, line, _ := strings.Cut(fileLine, ":")
	n, _ := strconv.Atoi(line)
	return fmt.Sprintf("%s:%d", file, n-1)
}

func TestParseLevel(t *testing.T) {
	for _, l := range []string{"debug", "info", "warn", "error"} {
		lvl, err := ParseLevel(l)
		if err != nil || lvl.String() != l {
			t.Errorf("ParseLevel(%q) = %v, %v", l, lvl, err)
		}
	}
	if _, err := ParseLevel("loud"); err == nil || err.Error() != `unknown log level "loud", want debug, info, warn or error` {
		t.Errorf("ParseLevel(loud) error = %v", err)
	}
	if _, err := New("loud"); err == nil {
		t.Errorf("New(loud) succeeded")
	}
}

func TestNewToJSONAtLevel(t *testing.T) {
	var buf bytes.Buffer
	log, err := NewTo(&buf, "warn")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("dropped")
	log.Warn("kept", zap.Int("n", 3)) // line checked below
	line := here()
	got := lines(t, &buf)
	want := []map[string]any{{"level": "warn", "msg": "kept", "n": float64(3), "caller": callerBefore(line)}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

func TestKlogIsRoutedToZap(t *testing.T) {
	var buf bytes.Buffer
	log, err := NewTo(&buf, "debug")
	if err != nil {
		t.Fatal(err)
	}
	if err := RouteKlog(log); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(klog.ClearLogger)

	klog.Infof("plain %d", 1)
	l1 := here()
	klog.V(1).InfoS("verbose one", "k", "v")
	l2 := here()
	klog.V(2).Info("verbose two is tracing: dropped")
	klog.ErrorS(errors.New("boom"), "failed", "attempt", 2)
	l3 := here()
	klog.Warning("careful")
	l4 := here()

	want := []map[string]any{
		{"level": "info", "logger": "klog", "msg": "plain 1", "caller": callerBefore(l1)},
		{"level": "debug", "logger": "klog", "msg": "verbose one", "k": "v", "caller": callerBefore(l2)},
		{"level": "error", "logger": "klog", "msg": "failed", "attempt": float64(2), "error": "boom", "caller": callerBefore(l3)},
		{"level": "info", "logger": "klog", "msg": "careful", "caller": callerBefore(l4)},
	}
	if got := lines(t, &buf); !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
}

func TestKlogAtInfoDropsVerbose(t *testing.T) {
	var buf bytes.Buffer
	log, err := NewTo(&buf, "info")
	if err != nil {
		t.Fatal(err)
	}
	if err := RouteKlog(log); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(klog.ClearLogger)
	klog.V(1).Info("dropped")
	klog.InfoS("kept")
	got := lines(t, &buf)
	if len(got) != 1 || got[0]["msg"] != "kept" {
		t.Fatalf("got %v, want only the info line", got)
	}
}

func TestLogrFields(t *testing.T) {
	var buf bytes.Buffer
	log, err := NewTo(&buf, "info")
	if err != nil {
		t.Fatal(err)
	}
	l := Logr(log).WithName("lib").WithValues("conn", "c1")
	l.Info("odd", "a", 1, 7, "x", "dangling")
	line := here()
	want := []map[string]any{{
		"level": "info", "logger": "lib", "msg": "odd", "conn": "c1", "a": float64(1), "!BADKEY(7)": "x",
		"!MISSINGVALUE": "dangling", "caller": callerBefore(line),
	}}
	if got := lines(t, &buf); !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
}
