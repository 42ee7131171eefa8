// Package readme keeps README.md true: its options and exported-fields
// tables are generated from the tables the code uses (config's options,
// exporter.Fields). Run `UPDATE_README=1 go test ./internal/readme` after
// changing either.
package readme

import (
	"os"
	"strings"
	"testing"

	"github.com/podflow/podflow/config"
	"github.com/podflow/podflow/exporter"
)

const readmePath = "../../README.md"

func TestREADMETablesMatchTheCode(t *testing.T) {
	raw, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	for _, s := range []struct{ name, body string }{
		{"options", config.OptionsMarkdown()},
		{"fields", exporter.FieldsMarkdown()},
	} {
		begin, end := "<!-- "+s.name+":begin -->\n", "<!-- "+s.name+":end -->"
		i, j := strings.Index(text, begin), strings.Index(text, end)
		if i < 0 || j < i {
			t.Fatalf("README.md lacks the %q markers", s.name)
		}
		if got := text[i+len(begin) : j]; got != s.body {
			if os.Getenv("UPDATE_README") == "1" {
				text = text[:i+len(begin)] + s.body + text[j:]
				continue
			}
			t.Errorf("README.md %s table is stale; run UPDATE_README=1 go test ./internal/readme", s.name)
		}
	}
	if os.Getenv("UPDATE_README") == "1" {
		if err := os.WriteFile(readmePath, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
