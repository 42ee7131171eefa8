package netflow9

import (
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/decoders"
)

// The interop tests send interopTruths, one Export call (so one packet)
// each, templates every 4 packets (T---T--), and check that independent
// decoders read every record back exactly, with no sequence error.

const interopSourceID = 42

func exportTruths(t *testing.T, address string) {
	t.Helper()
	e, err := New(Config{Address: address, SourceID: interopSourceID, Boot: boot,
		Now: func() time.Time { return interopNow }, TemplateRefreshPackets: 4}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for _, w := range interopTruths {
		if err := e.Export(records([]truth{w})); err != nil {
			t.Fatal(err)
		}
	}
	if s := e.Stats(); s.RecordsSent != uint64(len(interopTruths)) || s.TemplatesSent != 4 || s.RecordsLost != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// checkFields compares decoded fields (keyed by the truth's source
// address) with the values wanted.
func checkFields(t *testing.T, decoder string, got map[string]map[string]string, want func(truth) map[string]string) {
	t.Helper()
	if len(got) != len(interopTruths) {
		t.Errorf("%s decoded %d records, want %d: %v", decoder, len(got), len(interopTruths), slices.Collect(maps.Keys(got)))
	}
	for _, w := range interopTruths {
		rec, ok := got[w.src]
		if !ok {
			t.Errorf("%s: no record from %s", decoder, w.src)
			continue
		}
		for k, v := range want(w) {
			if rec[k] != v {
				t.Errorf("%s: record from %s: %s = %q, want %q", decoder, w.src, k, rec[k], v)
			}
		}
	}
}

func TestNfdumpDecodesEveryRecord(t *testing.T) {
	t.Parallel()
	n := decoders.StartNfcapd(t)
	exportTruths(t, n.Addr().String())
	file := n.Stop(t)
	recs := decoders.NfdumpRecords(t, file)
	if len(recs) != len(interopTruths) {
		t.Errorf("nfdump read %d records, want %d", len(recs), len(interopTruths))
	}
	got := map[string]map[string]string{}
	for _, r := range recs {
		fields := map[string]string{}
		for k, v := range r {
			fields[k] = fmt.Sprint(v)
		}
		// Times back to ms since boot, flags back to their octet.
		for _, k := range []string{"first", "last"} {
			at, err := decoders.NfdumpTime(r[k])
			if err != nil {
				t.Fatal(err)
			}
			fields[k] = fmt.Sprint(at.Sub(boot).Milliseconds())
		}
		if s, ok := r["tcp_flags"].(string); ok {
			v, err := decoders.NfdumpFlags(s)
			if err != nil {
				t.Fatal(err)
			}
			fields["tcp_flags"] = fmt.Sprintf("%#02x", v)
		}
		src := fields["src4_addr"] + fields["src6_addr"]
		got[strings.ReplaceAll(src, "<nil>", "")] = fields
	}
	checkFields(t, "nfdump", got, func(w truth) map[string]string {
		m := map[string]string{
			"proto": fmt.Sprint(w.proto), "in_packets": fmt.Sprint(w.packets), "in_bytes": fmt.Sprint(w.octets),
			"input_snmp": fmt.Sprint(w.in()), "output_snmp": fmt.Sprint(w.out()), "direction": fmt.Sprint(uint8(w.dir)),
			"first": fmt.Sprint(w.first.Milliseconds()), "last": fmt.Sprint(w.last.Milliseconds()),
		}
		addr := "4"
		if strings.Contains(w.src, ":") {
			addr = "6"
		}
		m["src"+addr+"_addr"], m["dst"+addr+"_addr"] = w.src, w.dst
		if w.proto == flow.ProtoICMP || w.proto == flow.ProtoICMPv6 {
			// nfdump shows ICMP type and code instead of ports and flags.
			m["icmp_type"], m["icmp_code"] = fmt.Sprint(w.dport>>8), fmt.Sprint(w.dport&0xff)
		} else {
			m["src_port"], m["dst_port"] = fmt.Sprint(w.sport), fmt.Sprint(w.dport)
			m["tcp_flags"] = fmt.Sprintf("%#02x", uint8(w.flags))
		}
		return m
	})
	if n := n.SequenceErrors(t, file); n != 0 {
		t.Errorf("nfdump counted %d sequence failures", n)
	}
}

// The sequence check above has teeth: nfdump counts a missing packet.
func TestNfdumpCountsAMissingPacket(t *testing.T) {
	t.Parallel()
	l := decoders.Listen(t)
	exportTruths(t, l.Addr().String())
	datagrams, err := l.WaitDatagrams(len(interopTruths), waitLimit)
	if err != nil {
		t.Fatal(err)
	}
	n := decoders.StartNfcapd(t)
	replay(t, n.Addr(), append(datagrams[:2:2], datagrams[3:]...))
	file := n.Stop(t)
	if got := n.SequenceErrors(t, file); got != 1 {
		t.Errorf("nfdump counted %d sequence failures for one missing packet, want 1", got)
	}
}

func replay(t *testing.T, to *net.UDPAddr, datagrams [][]byte) {
	t.Helper()
	conn, err := net.DialUDP("udp4", nil, to)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, d := range datagrams {
		if _, err := conn.Write(d); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTsharkDecodesEveryRecord(t *testing.T) {
	t.Parallel()
	l := decoders.Listen(t)
	exportTruths(t, l.Addr().String())
	datagrams, err := l.WaitDatagrams(len(interopTruths), waitLimit)
	if err != nil {
		t.Fatal(err)
	}
	packets := decoders.DecodeNetFlow(t, datagrams)
	if len(packets) != len(interopTruths) {
		t.Fatalf("tshark decoded %d packets, want %d", len(packets), len(interopTruths))
	}
	got := map[string]map[string]string{}
	for i, p := range packets {
		h := p.Header
		want := map[string]string{"cflow.version": "9", "cflow.sequence": fmt.Sprint(i),
			"cflow.source_id": fmt.Sprint(interopSourceID), "cflow.count": fmt.Sprint(len(p.Flows) + 2*btoi(i%4 == 0)),
			// interopNow is boot+100.7s: the header names boot+101s.
			"cflow.unix_secs": "1700000101", "cflow.sysuptime": "101.000000000"}
		for k, v := range want {
			if h[k] != v {
				t.Errorf("tshark: packet %d: %s = %q, want %q", i, k, h[k], v)
			}
		}
		if len(p.SeqErrors) > 0 {
			t.Errorf("tshark: packet %d: %v", i, p.SeqErrors)
		}
		for _, f := range p.Flows {
			got[f["cflow.srcaddr"]+f["cflow.srcaddrv6"]] = f
		}
	}
	checkFields(t, "tshark", got, tsharkWant)

	// A missing packet shows: the check above has teeth.
	gap := decoders.DecodeNetFlow(t, append(datagrams[:1:1], datagrams[2:]...))
	if errs := gap[1].SeqErrors; len(errs) != 1 || !strings.Contains(errs[0], "expected 1, got 2") {
		t.Errorf("tshark on a missing packet: %v", errs)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// tsharkWant is what tshark prints for a truth: times in seconds of uptime.
func tsharkWant(w truth) map[string]string {
	secs := func(d time.Duration) string {
		ms := d.Milliseconds()
		return fmt.Sprintf("%d.%03d000000", ms/1000, ms%1000)
	}
	m := map[string]string{
		"cflow.srcport": fmt.Sprint(w.sport), "cflow.dstport": fmt.Sprint(w.dport), "cflow.protocol": fmt.Sprint(w.proto),
		"cflow.octets": fmt.Sprint(w.octets), "cflow.packets": fmt.Sprint(w.packets),
		"cflow.tcpflags":  fmt.Sprintf("0x%02x", uint8(w.flags)),
		"cflow.timestart": secs(w.first), "cflow.timeend": secs(w.last),
		"cflow.inputint": fmt.Sprint(w.in()), "cflow.outputint": fmt.Sprint(w.out()),
		"cflow.direction": fmt.Sprint(uint8(w.dir)), "cflow.flow_end_reason": fmt.Sprint(uint8(w.reason)),
		"cflow.icmp_type_code_ipv4": "0x0000",
	}
	if w.proto == flow.ProtoICMP || w.proto == flow.ProtoICMPv6 {
		m["cflow.icmp_type_code_ipv4"] = fmt.Sprintf("0x%04x", w.dport)
	}
	if strings.Contains(w.src, ":") {
		m["cflow.srcaddrv6"], m["cflow.dstaddrv6"] = w.src, w.dst
	} else {
		m["cflow.srcaddr"], m["cflow.dstaddr"] = w.src, w.dst
	}
	return m
}

// nfacctdConfig prints every flow nfacctd reads as a JSON line, with the
// sequence number of the packet it came in.
const nfacctdConfig = `daemonize: false
plugins: print
print_output: json
timestamps_utc: true
timestamps_since_epoch: true
aggregate: src_host, dst_host, src_port, dst_port, proto, in_iface, out_iface, tcpflags, timestamp_start, timestamp_end, export_proto_seqno, export_proto_version, export_proto_sysid
`

func startNfacctd(t *testing.T) *decoders.Nfacctd {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, decoders.NfacctdConfig), []byte(nfacctdConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	// No enterprise elements: an empty primitives map.
	if err := os.WriteFile(filepath.Join(dir, decoders.NfacctdPrimitives), []byte("! none\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return decoders.StartNfacctd(t, dir)
}

func TestNfacctdDecodesEveryRecord(t *testing.T) {
	t.Parallel()
	n := startNfacctd(t)
	exportTruths(t, n.Addr().String())
	recs, err := n.WaitRecords(len(interopTruths), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(interopTruths) {
		t.Errorf("nfacctd printed %d records, want %d", len(recs), len(interopTruths))
	}
	got := map[string]map[string]string{}
	for _, r := range recs {
		fields := map[string]string{}
		for k, v := range r {
			fields[k] = fmt.Sprint(v)
		}
		got[fields["ip_src"]] = fields
	}
	protoNames := map[uint8]string{flow.ProtoTCP: "tcp", flow.ProtoUDP: "udp", flow.ProtoICMP: "icmp", flow.ProtoICMPv6: "ipv6-icmp", flow.ProtoSCTP: "sctp"}
	checkFields(t, "nfacctd", got, func(w truth) map[string]string {
		seq := slices.IndexFunc(interopTruths, func(o truth) bool { return o.src == w.src })
		return map[string]string{
			"ip_src": w.src, "ip_dst": w.dst, "port_src": fmt.Sprint(w.sport), "port_dst": fmt.Sprint(w.dport),
			"ip_proto": protoNames[w.proto], "packets": fmt.Sprint(w.packets), "bytes": fmt.Sprint(w.octets),
			"iface_in": fmt.Sprint(w.in()), "iface_out": fmt.Sprint(w.out()), "tcp_flags": fmt.Sprint(uint8(w.flags)),
			// nfacctd computes v9 times in whole seconds: unix_secs minus
			// whole seconds of uptime, so the truth rounded up.
			"timestamp_start": ceilSecond(w.first), "timestamp_end": ceilSecond(w.last),
			"export_proto_version": "9", "export_proto_sysid": fmt.Sprint(interopSourceID),
			"export_proto_seqno": fmt.Sprint(seq),
		}
	})
}

func ceilSecond(sinceBoot time.Duration) string {
	at := boot.Add(sinceBoot)
	s := at.Unix()
	if at.Nanosecond() != 0 {
		s++
	}
	return fmt.Sprintf("%d.000000", s)
}
