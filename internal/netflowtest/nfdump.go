package netflowtest

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/podflow/podflow/internal/decoders"
)

// NfdumpDecodes checks that nfdump prints every truth as want says, with
// no sequence error. Its times are read back as milliseconds since Boot
// and its TCP flags as their octet in hex, as NfdumpWant writes them.
func (in Interop) NfdumpDecodes(t testing.TB, want func(Truth) map[string]string) {
	t.Helper()
	n := decoders.StartNfcapd(t)
	in.Export(t, n.Addr().String())
	dir := n.Stop(t)
	var recs []map[string]string
	for _, r := range decoders.NfdumpRecords(t, dir) {
		fields := printed(r)
		for _, k := range []string{"first", "last"} {
			at, err := decoders.NfdumpTime(r[k])
			if err != nil {
				t.Fatal(err)
			}
			fields[k] = fmt.Sprint(at.Sub(Boot).Milliseconds())
		}
		if s, ok := r["tcp_flags"].(string); ok {
			v, err := decoders.NfdumpFlags(s)
			if err != nil {
				t.Fatal(err)
			}
			fields["tcp_flags"] = fmt.Sprintf("%#02x", v)
		}
		recs = append(recs, fields)
	}
	checkRecords(t, "nfdump", recs, nfdumpSource, in.Truths, want)
	if n := n.SequenceErrors(t, dir); n != 0 {
		t.Errorf("nfdump counted %d sequence failures", n)
	}
}

// NfdumpCountsAMissingPacket shows that the sequence check of
// NfdumpDecodes has teeth: the packets Export sends, replayed without the
// one at index missing, make nfdump count one sequence failure.
func (in Interop) NfdumpCountsAMissingPacket(t testing.TB, packets, missing int) {
	t.Helper()
	datagrams := in.Datagrams(t, packets)
	n := decoders.StartNfcapd(t)
	decoders.SendUDP(t, n.Addr(), slices.Delete(datagrams, missing, missing+1))
	dir := n.Stop(t)
	if got := n.SequenceErrors(t, dir); got != 1 {
		t.Errorf("nfdump counted %d sequence failures for one missing packet, want 1", got)
	}
}

// NfdumpScalesCounts checks that nfcapd learned the sampling interval n
// from what Export sends: nfdump shows every truth's packets and octets
// times n exactly, and one sampler of the algorithm it read, 1 in n.
func (in Interop) NfdumpScalesCounts(t testing.TB, n uint64, algorithm int) {
	t.Helper()
	nfcapd := decoders.StartNfcapd(t)
	in.Export(t, nfcapd.Addr().String())
	dir := nfcapd.Stop(t)
	got := map[string]string{}
	for _, r := range decoders.NfdumpRecords(t, dir) {
		fields := printed(r)
		got[nfdumpSource(fields)] = fields["in_packets"] + "/" + fields["in_bytes"]
	}
	want := map[string]string{}
	for _, w := range in.Truths {
		want[w.Src] = fmt.Sprintf("%d/%d", w.Packets*n, w.Octets*n)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("nfdump packets/bytes by source %v\nwant raw × %d: %v", got, n, want)
	}
	samplers := decoders.NfdumpSamplers(t, dir)
	wantSampler := fmt.Sprintf("Sampler: Generic Sampler: algorithm: %d, packet interval: 1, packet space: %d", algorithm, n-1)
	if len(samplers) != 1 || samplers[0] != wantSampler {
		t.Errorf("nfdump -E samplers %q, want one %q", samplers, wantSampler)
	}
}

// nfdumpSource is a record's source address; nfdump names it by family.
func nfdumpSource(f map[string]string) string {
	return strings.ReplaceAll(f["src4_addr"]+f["src6_addr"], "<nil>", "")
}
