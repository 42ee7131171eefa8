package netflowtest

import (
	"fmt"
	"testing"

	"github.com/podflow/podflow/internal/decoders"
)

// Interop runs independent decoders (nfdump, tshark, nfacctd) over what
// one exporter sends and checks that they read every truth back exactly.
// The exporter's own tests say what each decoder prints of a truth (see
// NfdumpWant, TsharkWant, NfacctdWant) and what its headers hold.
type Interop struct {
	Truths []Truth
	// Export sends Truths to the collector at address (host:port).
	Export func(t testing.TB, address string)
}

// Datagrams returns the first n datagrams Export sends to a listener.
func (in Interop) Datagrams(t testing.TB, n int) [][]byte {
	t.Helper()
	l := decoders.Listen(t)
	in.Export(t, l.Addr().String())
	datagrams, err := l.WaitDatagrams(n, WaitLimit)
	if err != nil {
		t.Fatal(err)
	}
	return datagrams
}

// TsharkDecodes checks that tshark decodes the packets Export sends
// (their number given) with header fields as header(i, packet) says and no
// sequence error, and reads every truth back as want says. It returns the
// datagrams, for checks of their own.
func (in Interop) TsharkDecodes(t testing.TB, packets int,
	header func(i int, p decoders.NetFlowPacket) map[string]string, want func(Truth) map[string]string) [][]byte {
	t.Helper()
	datagrams := in.Datagrams(t, packets)
	decoded := decoders.DecodeNetFlow(t, datagrams)
	if len(decoded) != packets {
		t.Fatalf("tshark decoded %d packets, want %d", len(decoded), packets)
	}
	var flows []map[string]string
	for i, p := range decoded {
		checkFields(t, fmt.Sprintf("tshark: packet %d", i), p.Header, header(i, p))
		if len(p.SeqErrors) > 0 {
			t.Errorf("tshark: packet %d: %v", i, p.SeqErrors)
		}
		flows = append(flows, p.Flows...)
	}
	checkRecords(t, "tshark", flows, tsharkSource, in.Truths, want)
	return datagrams
}

// tsharkSource is a record's source address; tshark names it by family.
func tsharkSource(f map[string]string) string { return f["cflow.srcaddr"] + f["cflow.srcaddrv6"] }
