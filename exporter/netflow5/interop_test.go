package netflow5

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/decoders"
)

// The interop tests send interopTruths in three Export calls, the second
// with an IPv6 record v5 cannot carry: packets of 2, 1 and 2 records with
// flow_sequence 0, 2 and 3. Independent decoders must read every record
// back exactly, with no sequence error.

const interopEngineType, interopEngineID = 1, 42

var interopSequences = []int{0, 2, 3}

func exportTruths(t *testing.T, address string) {
	t.Helper()
	e, err := New(Config{Address: address, EngineType: interopEngineType, EngineID: interopEngineID,
		Boot: boot, Now: func() time.Time { return interopNow }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	v6 := truth{src: "fd00::1", dst: "fd00::2", proto: flow.ProtoUDP, packets: 1, first: time.Second, last: time.Second}
	calls := [][]truth{interopTruths[0:2], {interopTruths[2], v6}, interopTruths[3:5]}
	for i, c := range calls {
		if err := e.Export(records(c)); (err != nil) != (i == 1) || (err != nil && !errors.Is(err, errNotIPv4)) {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if s := e.Stats(); s.RecordsSent != uint64(len(interopTruths)) || s.RecordsLost != 1 || e.Unexportable() != 1 {
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
		got[fields["src4_addr"]] = fields
	}
	checkFields(t, "nfdump", got, func(w truth) map[string]string {
		m := map[string]string{
			"src4_addr": w.src, "dst4_addr": w.dst,
			"proto": fmt.Sprint(w.proto), "in_packets": fmt.Sprint(w.packets), "in_bytes": fmt.Sprint(w.octets),
			"input_snmp": fmt.Sprint(w.in()), "output_snmp": fmt.Sprint(w.out()),
			"first": fmt.Sprint(w.first.Milliseconds()), "last": fmt.Sprint(w.last.Milliseconds()),
		}
		if w.proto == flow.ProtoICMP {
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
	datagrams, err := l.WaitDatagrams(len(interopSequences), waitLimit)
	if err != nil {
		t.Fatal(err)
	}
	n := decoders.StartNfcapd(t)
	replay(t, n.Addr(), [][]byte{datagrams[0], datagrams[2]})
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

// tshark has no sequence analysis for v5 (only for v9 and IPFIX): the
// flow_sequence it reads is checked against the records before it.
func TestTsharkDecodesEveryRecord(t *testing.T) {
	t.Parallel()
	l := decoders.Listen(t)
	exportTruths(t, l.Addr().String())
	datagrams, err := l.WaitDatagrams(len(interopSequences), waitLimit)
	if err != nil {
		t.Fatal(err)
	}
	packets := decoders.DecodeNetFlow(t, datagrams)
	if len(packets) != len(interopSequences) {
		t.Fatalf("tshark decoded %d packets, want %d", len(packets), len(interopSequences))
	}
	got := map[string]map[string]string{}
	for i, p := range packets {
		h := p.Header
		want := map[string]string{"cflow.version": "5", "cflow.sequence": fmt.Sprint(interopSequences[i]),
			"cflow.count": fmt.Sprint(len(p.Flows)), "cflow.engine_type": fmt.Sprint(interopEngineType),
			"cflow.engine_id": fmt.Sprint(interopEngineID), "cflow.samplerate": "0",
			// interopNow is boot+100.7s: the header names boot+101s.
			"cflow.unix_secs": "1700000101", "cflow.unix_nsecs": "0", "cflow.sysuptime": "101.000000000"}
		for k, v := range want {
			if h[k] != v {
				t.Errorf("tshark: packet %d: %s = %q, want %q", i, k, h[k], v)
			}
		}
		for _, f := range p.Flows {
			got[f["cflow.srcaddr"]] = f
		}
	}
	checkFields(t, "tshark", got, func(w truth) map[string]string {
		secs := func(d time.Duration) string {
			ms := d.Milliseconds()
			return fmt.Sprintf("%d.%03d000000", ms/1000, ms%1000)
		}
		return map[string]string{
			"cflow.srcaddr": w.src, "cflow.dstaddr": w.dst, "cflow.nexthop": "0.0.0.0",
			"cflow.srcport": fmt.Sprint(w.sport), "cflow.dstport": fmt.Sprint(w.dport), "cflow.protocol": fmt.Sprint(w.proto),
			"cflow.octets": fmt.Sprint(w.octets), "cflow.packets": fmt.Sprint(w.packets),
			"cflow.tcpflags":  fmt.Sprintf("0x%02x", uint8(w.flags)),
			"cflow.timestart": secs(w.first), "cflow.timeend": secs(w.last),
			"cflow.inputint": fmt.Sprint(w.in()), "cflow.outputint": fmt.Sprint(w.out()),
		}
	})
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
	protoNames := map[uint8]string{flow.ProtoTCP: "tcp", flow.ProtoUDP: "udp", flow.ProtoICMP: "icmp", flow.ProtoSCTP: "sctp"}
	checkFields(t, "nfacctd", got, func(w truth) map[string]string {
		i := slices.IndexFunc(interopTruths, func(o truth) bool { return o.src == w.src })
		seq := interopSequences[[]int{0, 0, 1, 2, 2}[i]]
		sport, dport := w.sport, w.dport
		if w.proto == flow.ProtoSCTP {
			sport, dport = 0, 0 // nfacctd keeps ports of TCP, UDP (and ICMP's type/code) only
		}
		return map[string]string{
			"ip_src": w.src, "ip_dst": w.dst, "port_src": fmt.Sprint(sport), "port_dst": fmt.Sprint(dport),
			"ip_proto": protoNames[w.proto], "packets": fmt.Sprint(w.packets), "bytes": fmt.Sprint(w.octets),
			"iface_in": fmt.Sprint(w.in()), "iface_out": fmt.Sprint(w.out()), "tcp_flags": fmt.Sprint(uint8(w.flags)),
			// nfacctd computes times in whole seconds (it ignores the
			// milliseconds of uptime): unix_secs minus whole seconds of
			// uptime, so the truth rounded up.
			"timestamp_start": ceilSecond(w.first), "timestamp_end": ceilSecond(w.last),
			"export_proto_version": "5", "export_proto_seqno": fmt.Sprint(seq),
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
