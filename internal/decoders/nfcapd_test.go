package decoders

import (
	"os"
	"path/filepath"
	"testing"
)

// nfcapd starts a new file at every 5-minute boundary of the wall clock,
// so a test that runs across one leaves two files (CI met this: 1 run in
// 5 of the interop matrix). The readers take the directory Stop returns and
// read every file in it; here a copy under the next interval's name stands
// in for the second file, and every record must come back twice.
func TestNfdumpReadsEveryFileNfcapdWrote(t *testing.T) {
	t.Parallel()
	n := StartNfcapd(t)
	send(t, n.Addr(), scenario(t))
	dir := n.Stop(t)
	files, err := filepath.Glob(filepath.Join(dir, "nfcapd.[0-9]*"))
	if err != nil || len(files) != 1 {
		t.Fatalf("nfcapd wrote %v (%v), want one file", files, err)
	}
	one := len(NfdumpRecords(t, dir))
	if one == 0 {
		t.Fatal("nfdump read no records")
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "nfcapd.209901010000"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := len(NfdumpRecords(t, dir)); got != 2*one {
		t.Errorf("nfdump read %d records from two files of %d each", got, one)
	}
}
