package decoders

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/podflow/podflow/flow"
)

// nfcapd starts a new file at every 5-minute boundary of the wall clock,
// so a test that runs across one leaves two files (CI met this: 1 run in
// 5 of the interop matrix). The readers take the directory Stop returns and
// read every file in it; here a copy under the next interval's name stands
// in for the second file, and every record must come back twice.
func TestNfdumpReadsEveryFileNfcapdWrote(t *testing.T) {
	t.Parallel()
	n := StartNfcapd(t)
	SendUDP(t, n.Addr(), scenario(t))
	dir := n.Stop(t)
	files, err := nfcapdFiles(dir)
	if err != nil || len(files) != 1 {
		t.Fatalf("nfcapd wrote %v (%v), want one file", files, err)
	}
	const sent = 4 // scenario's records A, B, C, and A again after the gap
	if got := len(nfdumpFlows(t, dir)); got != sent {
		t.Fatalf("nfdump read %d flow records from one file, want %d", got, sent)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "nfcapd.209901010000"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := len(nfdumpFlows(t, dir)); got != 2*sent {
		t.Errorf("nfdump read %d flow records from two files of %d each", got, sent)
	}
}

func nfdumpFlows(t *testing.T, dir string) []flow.Record {
	t.Helper()
	recs, err := NfdumpFlowRecords(NfdumpRecords(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	return recs
}
