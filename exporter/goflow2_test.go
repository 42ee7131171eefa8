package exporter

import (
	"os"
	"strings"
	"testing"
)

// TestGoflow2MappingShipped keeps the shipped goflow2 mapping in step with
// Fields.
func TestGoflow2MappingShipped(t *testing.T) {
	path := repoFile(Goflow2MappingPath)
	want := Goflow2Mapping(DefaultPEN)
	if os.Getenv("UPDATE_CONFIGS") != "" {
		if err := os.MkdirAll(strings.TrimSuffix(path, "/mapping.yaml"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s is stale: regenerate it with: UPDATE_CONFIGS=1 go test ./exporter", Goflow2MappingPath)
	}
	// Every enterprise element is mapped, with its PEN.
	for _, f := range Fields {
		if !f.Own && f.PEN == 0 {
			continue
		}
		if !strings.Contains(want, "destination: "+PmacctName(f)+"\n") {
			t.Errorf("%s not mapped", f.Name)
		}
	}
	if !strings.Contains(want, "pen: 32473") || !strings.Contains(want, "pen: 56506") || !strings.Contains(want, "pen: 35632") {
		t.Error("mapping lacks a PEN")
	}
}
