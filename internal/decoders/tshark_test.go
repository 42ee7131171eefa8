package decoders

import (
	"encoding/binary"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/podflow/podflow/exporter"
)

func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func TestTsharkDecodesPodflowElements(t *testing.T) {
	t.Parallel()
	ts := NewTshark(t)
	SendUDP(t, ts.Addr(), scenario(t))
	d, err := ts.Decode(3, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}

	wantA := tsharkRecord{frame: 1, template: templateV4,
		fields: map[string]string{
			"cflow.srcaddr": "10.1.2.3", "cflow.dstaddr": "10.4.5.6",
			"cflow.srcport": "40001", "cflow.dstport": "443", "cflow.protocol": "6",
			"cflow.octets": "5000000123", "cflow.packets": "4000001", "cflow.tcpflags": "0x001b",
			"cflow.abstimestart":    "Nov 14, 2023 22:13:20.123000000 UTC",
			"cflow.abstimeend":      "Nov 14, 2023 22:13:25.456000000 UTC",
			"cflow.flow_end_reason": "3", "cflow.inputint": "7", "cflow.outputint": "0",
			"cflow.direction": "0", "cflow.icmp_type_code_ipv4": "0x0000",
			"cflow.pie.ntop.retransmitted_in_pkts": "5",
			"cflow.drop_packets":                   "3", "cflow.drop_octets": "180",
			"cflow.string_len_short": "14",
		},
		enterprise: map[string][]byte{
			"32473:1": be32(1500), "32473:2": be32(25000), "32473:3": be32(8000), "32473:4": be32(12),
			"32473:5": be64(6_000_000_007), "32473:6": be32(350), "32473:7": be32(420),
			"32473:8": []byte("NETFILTER_DROP"), "32473:9": be32(6),
		}}
	wantB := tsharkRecord{frame: 1, template: templateV4,
		fields: map[string]string{
			"cflow.srcaddr": "10.1.2.3", "cflow.dstaddr": "10.4.5.7",
			"cflow.srcport": "40002", "cflow.dstport": "8080", "cflow.protocol": "6",
			"cflow.octets": "600", "cflow.packets": "10", "cflow.tcpflags": "0x0010",
			"cflow.abstimestart":    "Nov 14, 2023 22:13:21.000000000 UTC",
			"cflow.abstimeend":      "Nov 14, 2023 22:13:22.000000000 UTC",
			"cflow.flow_end_reason": "2", "cflow.inputint": "0", "cflow.outputint": "9",
			"cflow.direction": "1", "cflow.icmp_type_code_ipv4": "0x0000",
			"cflow.pie.ntop.retransmitted_in_pkts": "1",
			"cflow.drop_packets":                   "1", "cflow.drop_octets": "60",
			"cflow.string_len_short": "9",
		},
		enterprise: map[string][]byte{
			"32473:1": be32(90), "32473:2": be32(110), "32473:3": be32(100), "32473:4": be32(2),
			"32473:5": be64(1448), "32473:6": be32(4294967295), "32473:7": be32(1),
			"32473:8": []byte("NO_SOCKET"), "32473:9": be32(2),
		}}
	wantC := tsharkRecord{frame: 2, template: templateV6,
		fields: map[string]string{
			"cflow.srcaddrv6": "2001:db8::1", "cflow.dstaddrv6": "2001:db8::2",
			"cflow.srcport": "50000", "cflow.dstport": "22", "cflow.protocol": "6",
			"cflow.octets": "2000", "cflow.packets": "20", "cflow.tcpflags": "0x0018",
			"cflow.abstimestart":    "Nov 14, 2023 22:13:23.000000000 UTC",
			"cflow.abstimeend":      "Nov 14, 2023 22:13:24.000000000 UTC",
			"cflow.flow_end_reason": "1", "cflow.inputint": "3", "cflow.outputint": "0",
			"cflow.direction": "0",
			// tshark splits icmpTypeCodeIPv6 (unlike the IPv4 one) in two.
			"cflow.icmp_ipv6_type": "0", "cflow.icmp_ipv6_code": "0",
		},
		enterprise: map[string][]byte{
			"32473:1": be32(10), "32473:2": be32(30), "32473:3": be32(20), "32473:4": be32(3),
		}}
	wantA3 := wantA
	wantA3.frame = 3

	want := []tsharkRecord{wantA, wantB, wantC, wantA3}
	if len(d.Records) != len(want) {
		t.Fatalf("tshark decoded %d records, want %d", len(d.Records), len(want))
	}
	for i, w := range want {
		w.check(t, i, d.Records[i])
	}

	wantSeq := []SequenceError{{Frame: 3, Domain: domainID, Expected: 3, Got: 10,
		Message: "Unexpected flow sequence for domain ID 42 (expected 3, got 10)"}}
	if !slices.Equal(d.SequenceErrors, wantSeq) {
		t.Errorf("sequence errors %+v, want %+v", d.SequenceErrors, wantSeq)
	}
	if len(d.SequenceErrors) == 1 && d.SequenceErrors[0].Missed() != 7 {
		t.Errorf("missed %d records, want 7", d.SequenceErrors[0].Missed())
	}
}

// TestTsharkTemplate: the template a record carries tells which positional
// private value is which element.
func TestTsharkTemplate(t *testing.T) {
	t.Parallel()
	ts := NewTshark(t)
	SendUDP(t, ts.Addr(), scenario(t)[:1])
	d, err := ts.Decode(1, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Records) != 2 {
		t.Fatalf("tshark decoded %d records, want 2", len(d.Records))
	}
	var want []TemplateField
	for _, f := range v4Fields {
		// ntop's elements are the only enterprise ones tshark knows.
		want = append(want, TemplateField{PEN: f.PEN, ID: f.ID, Length: f.Length,
			Private: f.PEN != 0 && f.PEN != exporter.NtopPEN})
	}
	if got := d.Records[0].Template; !slices.Equal(got, want) {
		t.Errorf("template\n got %+v\nwant %+v", got, want)
	}
}

type tsharkRecord struct {
	frame      int
	template   uint16
	fields     map[string]string // a subset of Record.Fields
	enterprise map[string][]byte // all of Record.Enterprise()
}

func (w tsharkRecord) check(t *testing.T, i int, r Record) {
	t.Helper()
	if r.Frame != w.frame || r.Domain != domainID || r.TemplateID != w.template {
		t.Errorf("record %d: frame %d domain %d template %d, want %d %d %d",
			i, r.Frame, r.Domain, r.TemplateID, w.frame, domainID, w.template)
	}
	for _, k := range slices.Sorted(maps.Keys(w.fields)) {
		if got, ok := r.Fields[k]; !ok || got != w.fields[k] {
			t.Errorf("record %d: %s = %q (present %v), want %q", i, k, got, ok, w.fields[k])
		}
	}
	got, err := r.Enterprise()
	if err != nil {
		t.Errorf("record %d: %v", i, err)
		return
	}
	if !maps.EqualFunc(got, w.enterprise, slices.Equal) {
		t.Errorf("record %d: enterprise fields\n got %x\nwant %x", i, got, w.enterprise)
	}
}
