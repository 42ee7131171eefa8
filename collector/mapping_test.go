package collector

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/podflow/podflow/flow"
)

// decodeOne decodes a template and one data record for it in a fresh
// session, and returns the record and the decode errors.
func decodeOne(t *testing.T, fields []spec, data []byte) (Received, []error) {
	t.Helper()
	s := newSession("192.0.2.9:4739")
	recs, res := s.decodeMessage(message(1, 0, set(templateSetID, tmplRecord(256, fields...)), set(256, data)))
	if len(recs) != 1 {
		t.Fatalf("decoded %d records, want 1 (errors %v)", len(recs), res.errs)
	}
	// Header fields are covered by the socket tests.
	return Received{Record: recs[0].Record, Extra: recs[0].Extra, Options: recs[0].Options}, res.errs
}

func TestMappingRules(t *testing.T) {
	v4 := []byte{10, 0, 0, 1}
	a4 := netip.MustParseAddr("10.0.0.1")
	u8 := func(id uint16) spec { return spec{id: id, length: 1} }
	u16 := func(id uint16) spec { return spec{id: id, length: 2} }
	u32 := func(id uint16) spec { return spec{id: id, length: 4} }
	tests := []struct {
		name     string
		fields   []spec
		data     []byte
		want     Received
		problems int
	}{{
		name:   "ICMP from separate type and code; non-zero ports kept in Extra",
		fields: []spec{u8(ieProtocolIdentifier), u8(ieICMPTypeIPv4), u8(ieICMPCodeIPv4), u16(ieSourceTransportPort), u16(ieDestinationTransportPort)},
		data:   cat(be(1, 1), be(3, 1), be(13, 1), be(0, 2), be(3<<8|13, 2)),
		want: Received{
			Record: flow.Record{Key: flow.Key{Tuple: flow.Tuple{DstPort: 3<<8 | 13, Proto: flow.ProtoICMP}}},
			Extra:  map[string]any{"destinationTransportPort": uint64(3<<8 | 13)},
		},
	}, {
		name: "podflow's layout: both interfaces, ports and type/code, zeros dropped",
		fields: []spec{u16(ieSourceTransportPort), u16(ieDestinationTransportPort), u8(ieProtocolIdentifier),
			u32(ieIngressInterface), u32(ieEgressInterface), u8(ieFlowDirection), u16(ieICMPTypeCodeIPv4)},
		data: cat(be(40000, 2), be(443, 2), be(6, 1), be(0, 4), be(12, 4), be(1, 1), be(0, 2)),
		want: Received{Record: flow.Record{Key: flow.Key{
			Tuple: flow.Tuple{SrcPort: 40000, DstPort: 443, Proto: flow.ProtoTCP}, IfIndex: 12, Direction: flow.Egress,
		}}},
	}, {
		name:   "ICMPv6 ignores the IPv4 type/code element",
		fields: []spec{u8(ieProtocolIdentifier), u16(ieICMPTypeCodeIPv4), u16(ieICMPTypeCodeIPv6)},
		data:   cat(be(58, 1), be(0x0800, 2), be(0x8100, 2)),
		want: Received{
			Record: flow.Record{Key: flow.Key{Tuple: flow.Tuple{DstPort: 0x8100, Proto: flow.ProtoICMPv6}}},
			Extra:  map[string]any{"icmpTypeCodeIPv4": uint64(0x0800)},
		},
	}, {
		name:   "ICMP type/code on a TCP record goes to Extra",
		fields: []spec{u8(ieProtocolIdentifier), u16(ieDestinationTransportPort), u16(ieICMPTypeCodeIPv4)},
		data:   cat(be(6, 1), be(443, 2), be(0x0800, 2)),
		want: Received{
			Record: flow.Record{Key: flow.Key{Tuple: flow.Tuple{DstPort: 443, Proto: flow.ProtoTCP}}},
			Extra:  map[string]any{"icmpTypeCodeIPv4": uint64(0x0800)},
		},
	}, {
		name:   "flowDirection egress picks egressInterface",
		fields: []spec{u32(ieIngressInterface), u32(ieEgressInterface), u8(ieFlowDirection)},
		data:   cat(be(3, 4), be(4, 4), be(1, 1)),
		want: Received{
			Record: flow.Record{Key: flow.Key{IfIndex: 4, Direction: flow.Egress}},
			Extra:  map[string]any{"ingressInterface": uint64(3)},
		},
	}, {
		name:   "without flowDirection both non-zero: ingress wins",
		fields: []spec{u32(ieEgressInterface), u32(ieIngressInterface)},
		data:   cat(be(4, 4), be(3, 4)),
		want: Received{
			Record: flow.Record{Key: flow.Key{IfIndex: 3, Direction: flow.Ingress}},
			Extra:  map[string]any{"egressInterface": uint64(4)},
		},
	}, {
		name:   "invalid flowDirection: kept in Extra, counted, interface rule applies",
		fields: []spec{u32(ieEgressInterface), u8(ieFlowDirection)},
		data:   cat(be(4, 4), be(5, 1)),
		want: Received{
			Record: flow.Record{Key: flow.Key{IfIndex: 4, Direction: flow.Egress}},
			Extra:  map[string]any{"flowDirection": uint64(5)},
		},
		problems: 1,
	}, {
		name:   "second source address and repeated counters go to Extra",
		fields: []spec{u32(ieSourceIPv4Address), {id: ieSourceIPv6Address, length: 16}, u32(ieOctetDeltaCount), u32(ieOctetDeltaCount)},
		data:   cat(v4, netip.MustParseAddr("2001:db8::1").AsSlice(), be(1, 4), be(2, 4)),
		want: Received{
			Record: flow.Record{Key: flow.Key{Tuple: flow.Tuple{SrcAddr: a4}}, Counters: flow.Counters{Octets: 1}},
			Extra:  map[string]any{"sourceIPv6Address": netip.MustParseAddr("2001:db8::1"), "octetDeltaCount": uint64(2)},
		},
	}, {
		name:   "tcpControlBits in two bytes keeps NS",
		fields: []spec{u16(ieTCPControlBits)},
		data:   be(0x1ff, 2),
		want:   Received{Record: flow.Record{Counters: flow.Counters{TCPFlags: 0x1ff}}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs := decodeOne(t, tt.fields, tt.data)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("\n got %+v\nwant %+v", got, tt.want)
			}
			if len(errs) != tt.problems {
				t.Errorf("errors %v, want %d", errs, tt.problems)
			}
		})
	}
}

func TestSequenceNumbers(t *testing.T) {
	s := newSession("192.0.2.9:4739")
	tmpl := set(templateSetID, tmplRecord(256, spec{id: iePacketDeltaCount, length: 8}))
	rec := be(1, 8)
	steps := []struct {
		name    string
		msg     []byte
		records int
		missing uint64
	}{
		{"template sets the baseline", message(1, 10, tmpl), 0, 0},
		{"two records, in sequence", message(1, 10, set(256, rec, rec)), 2, 0},
		{"three records lost", message(1, 15, set(256, rec)), 1, 3},
		{"another domain has its own count", message(2, 1000, set(templateSetID, tmplRecord(256, spec{id: iePacketDeltaCount, length: 8}))), 0, 0},
		{"late message is not counted again", message(1, 12, set(256, rec)), 1, 0},
		{"in sequence again", message(1, 16, set(256, rec)), 1, 0},
		{"unknown template: count unknown", message(1, 17, set(999, rec)), 0, 0},
		{"new baseline after it", message(1, 40, set(256, rec)), 1, 0},
	}
	for _, st := range steps {
		recs, res := s.decodeMessage(st.msg)
		if len(recs) != st.records || res.missing != st.missing || len(res.errs) != 0 {
			t.Errorf("%s: %d records, %d missing, errors %v; want %d, %d, none", st.name, len(recs), res.missing, res.errs, st.records, st.missing)
		}
	}
	// Across the wrap: expecting 2^32-1 and getting 1 means 2^32-1 and 0 were lost.
	s.seq[1] = seqState{next: 1<<32 - 1, known: true}
	if _, res := s.decodeMessage(message(1, 1, set(256, rec))); res.missing != 2 {
		t.Errorf("across the wrap: %d missing, want 2", res.missing)
	}
}

func TestTemplateWithdrawal(t *testing.T) {
	s := newSession("192.0.2.9:4739")
	octets := set(templateSetID, tmplRecord(256, spec{id: ieOctetDeltaCount, length: 8}))
	packets := set(templateSetID, tmplRecord(256, spec{id: iePacketDeltaCount, length: 4}))
	withdraw := func(id uint16) []byte { return set(templateSetID, cat(be(uint64(id), 2), be(0, 2))) }

	recs, res := s.decodeMessage(message(1, 0, octets, set(256, be(7, 8)), withdraw(256), set(256, be(7, 8))))
	if len(recs) != 1 || recs[0].Octets != 7 || res.noTemplateSets != 1 || res.templates != 2 {
		t.Fatalf("withdraw: %d records %+v, result %+v", len(recs), recs, res)
	}
	recs, res = s.decodeMessage(message(1, 1, packets, set(256, be(9, 4)), withdraw(templateSetID), set(256, be(9, 4))))
	if len(recs) != 1 || recs[0].Packets != 9 || recs[0].Octets != 0 || res.noTemplateSets != 1 {
		t.Fatalf("redefine then withdraw all: %d records %+v, result %+v", len(recs), recs, res)
	}
}
