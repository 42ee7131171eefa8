package netflowtest

import (
	"fmt"
	"maps"
	"slices"
	"testing"
)

// printed is a decoder's JSON record as the text it prints.
func printed(r map[string]any) map[string]string {
	fields := make(map[string]string, len(r))
	for k, v := range r {
		fields[k] = fmt.Sprint(v)
	}
	return fields
}

// checkRecords checks that a decoder read one record per truth, found by
// its source address, holding the fields want(truth) says.
func checkRecords(t testing.TB, decoder string, recs []map[string]string, source func(map[string]string) string,
	truths []Truth, want func(Truth) map[string]string) {
	t.Helper()
	if len(recs) != len(truths) {
		t.Errorf("%s read %d records, want %d", decoder, len(recs), len(truths))
	}
	got := map[string]map[string]string{}
	for _, r := range recs {
		got[source(r)] = r
	}
	if len(got) != len(truths) {
		t.Errorf("%s decoded %d sources, want %d: %v", decoder, len(got), len(truths), slices.Collect(maps.Keys(got)))
	}
	for _, w := range truths {
		rec, ok := got[w.Src]
		if !ok {
			t.Errorf("%s: no record from %s", decoder, w.Src)
			continue
		}
		checkFields(t, fmt.Sprintf("%s: record from %s", decoder, w.Src), rec, want(w))
	}
}

// checkFields reports every field of want that got does not hold.
func checkFields(t testing.TB, what string, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s = %q, want %q", what, k, got[k], v)
		}
	}
}
