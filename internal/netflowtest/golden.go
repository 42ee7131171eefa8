package netflowtest

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/podflow/podflow/exporter"
)

// ExportGolden exports truths in one Export call and checks that e wrote
// exactly one more datagram into conn: the golden packet wantHex, hex
// written in groups with spaces and line breaks.
func ExportGolden(t testing.TB, e exporter.Exporter, conn *CaptureConn, truths []Truth, wantHex string) {
	t.Helper()
	want, err := hex.DecodeString(strings.Join(strings.Fields(wantHex), ""))
	if err != nil {
		t.Fatal(err)
	}
	before := len(conn.Packets())
	if err := e.Export(Records(truths)); err != nil {
		t.Fatal(err)
	}
	packets := conn.Packets()[before:]
	if len(packets) != 1 || !bytes.Equal(packets[0], want) {
		t.Fatalf("packets %x\nwant %x", packets, want)
	}
}
