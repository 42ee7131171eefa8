package check

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteTable prints one line per result, STATUS, CHECK and DETAIL → EFFECT,
// then a verdict line. A multi-line detail (a verifier log) is cut to its
// first line: the JSON output keeps it whole.
func WriteTable(w io.Writer, results []Result) error {
	width := len("CHECK")
	for _, r := range results {
		width = max(width, len(r.Name))
	}
	var b strings.Builder
	row := func(status, name, text string) {
		fmt.Fprintf(&b, "%-11s  %-*s  %s\n", status, width, name, text)
	}
	row("STATUS", "CHECK", "DETAIL → EFFECT")
	for _, r := range results {
		text := firstLine(r.Detail)
		if r.Effect != "" {
			text += " → " + r.Effect
		}
		row(string(r.Status), r.Name, text)
	}
	b.WriteString(Verdict(results) + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func firstLine(s string) string {
	if first, _, cut := strings.Cut(s, "\n"); cut {
		return first + " …"
	}
	return s
}

// Verdict sums the results up in one sentence.
func Verdict(results []Result) string {
	var degraded, unavailable int
	var blocking []string
	for _, r := range results {
		switch r.Status {
		case Degraded:
			degraded++
		case Unavailable:
			unavailable++
			if r.Required {
				blocking = append(blocking, r.Name)
			}
		}
	}
	if len(blocking) > 0 {
		return "podflow cannot run: " + strings.Join(blocking, ", ") + " unavailable."
	}
	if degraded+unavailable == 0 {
		return fmt.Sprintf("podflow can run: all %d checks ok.", len(results))
	}
	return fmt.Sprintf("podflow can run: %d checks ok, %d degraded, %d unavailable.",
		len(results)-degraded-unavailable, degraded, unavailable)
}

// Report is the JSON form of a check.
type Report struct {
	CanRun  bool     `json:"can_run"`
	Verdict string   `json:"verdict"`
	Results []Result `json:"results"`
}

// WriteJSON prints the results as one indented JSON Report.
func WriteJSON(w io.Writer, results []Result) error {
	if results == nil {
		results = []Result{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(Report{CanRun: CanRun(results), Verdict: Verdict(results), Results: results})
}
