package netflowtest

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/podflow/podflow/internal/decoders"
)

// nfacctdConfig prints every flow nfacctd reads as a JSON line, with the
// sequence number of the packet it came in.
const nfacctdConfig = `daemonize: false
plugins: print
print_output: json
timestamps_utc: true
timestamps_since_epoch: true
aggregate: src_host, dst_host, src_port, dst_port, proto, in_iface, out_iface, tcpflags, timestamp_start, timestamp_end, export_proto_seqno, export_proto_version, export_proto_sysid
`

// NfacctdDecodes checks that nfacctd prints every truth as want says.
func (in Interop) NfacctdDecodes(t testing.TB, want func(Truth) map[string]string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, decoders.NfacctdConfig), []byte(nfacctdConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	// No enterprise elements: an empty primitives map.
	if err := os.WriteFile(filepath.Join(dir, decoders.NfacctdPrimitives), []byte("! none\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	n := decoders.StartNfacctd(t, dir)
	in.Export(t, n.Addr().String())
	recs, err := n.WaitRecords(len(in.Truths), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	fields := make([]map[string]string, len(recs))
	for i, r := range recs {
		fields[i] = printed(r)
	}
	checkRecords(t, "nfacctd", fields, func(f map[string]string) string { return f["ip_src"] }, in.Truths, want)
}
