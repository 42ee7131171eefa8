package netflow9

import (
	"encoding/binary"

	"github.com/podflow/podflow/flow"
)

// Template ids: 256 carries IPv4 flows, 257 IPv6 flows (and v4/v6 mixes).
const (
	TemplateIDIPv4 uint16 = 256
	TemplateIDIPv6 uint16 = 257
)

// Field types: RFC 3954 §8, and flowEndReason from the IANA IPFIX
// registry, whose numbering v9 collectors share. ICMP_TYPE serves both
// families: v9 defines no IPv6 variant, and nfdump 1.7 reads IANA's
// icmpTypeCodeIPv6 (139) in v9 as type 0 code 0.
const (
	fieldInBytes       uint16 = 1
	fieldInPkts        uint16 = 2
	fieldProtocol      uint16 = 4
	fieldTCPFlags      uint16 = 6
	fieldL4SrcPort     uint16 = 7
	fieldIPv4SrcAddr   uint16 = 8
	fieldInputSNMP     uint16 = 10
	fieldL4DstPort     uint16 = 11
	fieldIPv4DstAddr   uint16 = 12
	fieldOutputSNMP    uint16 = 14
	fieldLastSwitched  uint16 = 21
	fieldFirstSwitched uint16 = 22
	fieldIPv6SrcAddr   uint16 = 27
	fieldIPv6DstAddr   uint16 = 28
	fieldICMPType      uint16 = 32
	fieldDirection     uint16 = 61
	fieldFlowEndReason uint16 = 136
)

// uptimes are a record's FIRST_SWITCHED and LAST_SWITCHED.
type uptimes struct{ first, last uint32 }

// field is one field of a template and how a record fills it: put appends
// exactly length octets.
type field struct {
	typ, length uint16
	put         func(b []byte, r *flow.Record, t uptimes) []byte
}

// template is a fixed layout of fields.
type template struct {
	id      uint16
	fields  []field
	recLen  int    // octets of one data record
	encoded []byte // template record: id, field count, (type, length) pairs
}

func newTemplate(id uint16, fields []field) *template {
	t := &template{id: id, fields: fields}
	t.encoded = binary.BigEndian.AppendUint16(t.encoded, id)
	t.encoded = binary.BigEndian.AppendUint16(t.encoded, uint16(len(fields)))
	for _, f := range fields {
		t.encoded = binary.BigEndian.AppendUint16(t.encoded, f.typ)
		t.encoded = binary.BigEndian.AppendUint16(t.encoded, f.length)
		t.recLen += int(f.length)
	}
	return t
}

// appendRecord appends r's data record.
func (t *template) appendRecord(b []byte, r *flow.Record, u uptimes) []byte {
	for _, f := range t.fields {
		b = f.put(b, r, u)
	}
	return b
}

// The two templates share every field but the addresses and the ICMP
// type/code, in the order of the IPFIX templates (exporter.Fields).
var (
	templateIPv4 = newTemplate(TemplateIDIPv4, layout(
		field{fieldIPv4SrcAddr, 4, putSrc4}, field{fieldIPv4DstAddr, 4, putDst4},
		field{fieldICMPType, 2, putICMP}))
	templateIPv6 = newTemplate(TemplateIDIPv6, layout(
		field{fieldIPv6SrcAddr, 16, putSrc6}, field{fieldIPv6DstAddr, 16, putDst6},
		field{fieldICMPType, 2, putICMP}))
	templates = [2]*template{templateIPv4, templateIPv6}
)

func layout(src, dst, icmp field) []field {
	return []field{
		src, dst,
		// Ports as flow.Tuple holds them: for ICMP, source 0 and destination
		// type<<8|code, where classic exporters put them and where collectors
		// that ignore ICMP_TYPE (pmacct's nfacctd) find them.
		{fieldL4SrcPort, 2, func(b []byte, r *flow.Record, _ uptimes) []byte {
			return binary.BigEndian.AppendUint16(b, r.SrcPort)
		}},
		{fieldL4DstPort, 2, func(b []byte, r *flow.Record, _ uptimes) []byte {
			return binary.BigEndian.AppendUint16(b, r.DstPort)
		}},
		{fieldProtocol, 1, func(b []byte, r *flow.Record, _ uptimes) []byte { return append(b, r.Proto) }},
		{fieldInBytes, 8, func(b []byte, r *flow.Record, _ uptimes) []byte {
			return binary.BigEndian.AppendUint64(b, r.Octets)
		}},
		{fieldInPkts, 8, func(b []byte, r *flow.Record, _ uptimes) []byte {
			return binary.BigEndian.AppendUint64(b, r.Packets)
		}},
		// One octet, as v9 defines TCP_FLAGS: NS (0x100) does not fit.
		{fieldTCPFlags, 1, func(b []byte, r *flow.Record, _ uptimes) []byte { return append(b, uint8(r.TCPFlags)) }},
		{fieldFirstSwitched, 4, func(b []byte, _ *flow.Record, u uptimes) []byte {
			return binary.BigEndian.AppendUint32(b, u.first)
		}},
		{fieldLastSwitched, 4, func(b []byte, _ *flow.Record, u uptimes) []byte {
			return binary.BigEndian.AppendUint32(b, u.last)
		}},
		{fieldFlowEndReason, 1, func(b []byte, r *flow.Record, _ uptimes) []byte { return append(b, uint8(r.EndReason)) }},
		{fieldInputSNMP, 4, func(b []byte, r *flow.Record, _ uptimes) []byte {
			return binary.BigEndian.AppendUint32(b, ifIndexIf(r, flow.Ingress))
		}},
		{fieldOutputSNMP, 4, func(b []byte, r *flow.Record, _ uptimes) []byte {
			return binary.BigEndian.AppendUint32(b, ifIndexIf(r, flow.Egress))
		}},
		{fieldDirection, 1, func(b []byte, r *flow.Record, _ uptimes) []byte { return append(b, uint8(r.Direction)) }},
		icmp,
	}
}

func putSrc4(b []byte, r *flow.Record, _ uptimes) []byte {
	a := r.SrcAddr.Unmap().As4()
	return append(b, a[:]...)
}

func putDst4(b []byte, r *flow.Record, _ uptimes) []byte {
	a := r.DstAddr.Unmap().As4()
	return append(b, a[:]...)
}

func putSrc6(b []byte, r *flow.Record, _ uptimes) []byte {
	a := r.SrcAddr.As16()
	return append(b, a[:]...)
}

func putDst6(b []byte, r *flow.Record, _ uptimes) []byte {
	a := r.DstAddr.As16()
	return append(b, a[:]...)
}

// putICMP writes type<<8|code (kept in DstPort, see flow.Tuple) for ICMP
// flows, 0 for the others.
func putICMP(b []byte, r *flow.Record, _ uptimes) []byte {
	v := uint16(0)
	if r.IsICMP() {
		v = r.DstPort
	}
	return binary.BigEndian.AppendUint16(b, v)
}

func ifIndexIf(r *flow.Record, d flow.Direction) uint32 {
	if r.Direction != d {
		return 0
	}
	return r.IfIndex
}
