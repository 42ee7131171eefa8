package netflow9

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// The minimal NetFlow v9 parser of the tests: it checks the framing
// (lengths, padding, counts) strictly and decodes the fields this exporter
// sends. Interop with real collectors is checked against nfdump, tshark
// and nfacctd (interop tests); this parser is for what they do not check
// exactly and for the fuzz tests.

type parsedHeader struct {
	count    uint16
	uptime   uint32
	unixSecs uint32
	seq      uint32
	sourceID uint32
}

type parsedRecord struct {
	template     uint16
	src, dst     netip.Addr
	sport, dport uint16
	proto        uint8
	octets       uint64
	packets      uint64
	flags        uint8
	first, last  uint32
	reason       uint8
	in, out      uint32
	dir          uint8
	icmp         uint16
}

type parsedPacket struct {
	header    parsedHeader
	templates []uint16 // template ids, in order
	records   []parsedRecord
}

// fieldSpec is one (type, length) pair of a template.
type fieldSpec struct{ typ, length uint16 }

// parsePacket parses one packet with the templates seen so far, adding
// the ones it carries.
func parsePacket(b []byte, known map[uint16][]fieldSpec) (parsedPacket, error) {
	var p parsedPacket
	if len(b) < headerLen {
		return p, fmt.Errorf("packet of %d octets has no header", len(b))
	}
	if v := binary.BigEndian.Uint16(b); v != 9 {
		return p, fmt.Errorf("version %d", v)
	}
	p.header = parsedHeader{
		count: binary.BigEndian.Uint16(b[2:]), uptime: binary.BigEndian.Uint32(b[4:]),
		unixSecs: binary.BigEndian.Uint32(b[8:]), seq: binary.BigEndian.Uint32(b[12:]),
		sourceID: binary.BigEndian.Uint32(b[16:]),
	}
	rest := b[headerLen:]
	for len(rest) > 0 {
		if len(rest) < flowSetHeaderLen {
			return p, fmt.Errorf("%d stray octets after the last FlowSet", len(rest))
		}
		id, length := binary.BigEndian.Uint16(rest), int(binary.BigEndian.Uint16(rest[2:]))
		if length < flowSetHeaderLen || length > len(rest) || length%4 != 0 {
			return p, fmt.Errorf("FlowSet %d: length %d with %d octets left", id, length, len(rest))
		}
		body := rest[flowSetHeaderLen:length]
		rest = rest[length:]
		var err error
		if id == templateFlowSetID {
			err = p.parseTemplates(body, known)
		} else {
			err = p.parseData(id, body, known[id])
		}
		if err != nil {
			return p, err
		}
	}
	if n := len(p.templates) + len(p.records); n != int(p.header.count) {
		return p, fmt.Errorf("header count %d, packet holds %d records", p.header.count, n)
	}
	return p, nil
}

func (p *parsedPacket) parseTemplates(body []byte, known map[uint16][]fieldSpec) error {
	for len(body) > 0 {
		if len(body) < 4 {
			return fmt.Errorf("template FlowSet: %d stray octets", len(body))
		}
		id, n := binary.BigEndian.Uint16(body), int(binary.BigEndian.Uint16(body[2:]))
		if len(body) < 4+4*n {
			return fmt.Errorf("template %d: %d fields in %d octets", id, n, len(body))
		}
		var fields []fieldSpec
		for i := range n {
			f := body[4+4*i:]
			fields = append(fields, fieldSpec{binary.BigEndian.Uint16(f), binary.BigEndian.Uint16(f[2:])})
		}
		known[id] = fields
		p.templates = append(p.templates, id)
		body = body[4+4*n:]
	}
	return nil
}

func (p *parsedPacket) parseData(id uint16, body []byte, fields []fieldSpec) error {
	if fields == nil {
		return fmt.Errorf("data FlowSet %d before its template", id)
	}
	recLen := 0
	for _, f := range fields {
		recLen += int(f.length)
	}
	n := len(body) / recLen
	pad := body[n*recLen:]
	if len(pad) >= 4 {
		return fmt.Errorf("FlowSet %d: %d octets of padding", id, len(pad))
	}
	for _, o := range pad {
		if o != 0 {
			return fmt.Errorf("FlowSet %d: padding %x", id, pad)
		}
	}
	for i := range n {
		rec, err := decodeRecord(id, body[i*recLen:(i+1)*recLen], fields)
		if err != nil {
			return err
		}
		p.records = append(p.records, rec)
	}
	return nil
}

func decodeRecord(id uint16, b []byte, fields []fieldSpec) (parsedRecord, error) {
	r := parsedRecord{template: id}
	for _, f := range fields {
		v, rest := b[:f.length], b[f.length:]
		b = rest
		u := uint64(0)
		if f.length <= 8 {
			for _, o := range v {
				u = u<<8 | uint64(o)
			}
		}
		switch f.typ {
		case fieldIPv4SrcAddr, fieldIPv6SrcAddr:
			r.src, _ = netip.AddrFromSlice(v)
		case fieldIPv4DstAddr, fieldIPv6DstAddr:
			r.dst, _ = netip.AddrFromSlice(v)
		case fieldL4SrcPort:
			r.sport = uint16(u)
		case fieldL4DstPort:
			r.dport = uint16(u)
		case fieldProtocol:
			r.proto = uint8(u)
		case fieldInBytes:
			r.octets = u
		case fieldInPkts:
			r.packets = u
		case fieldTCPFlags:
			r.flags = uint8(u)
		case fieldFirstSwitched:
			r.first = uint32(u)
		case fieldLastSwitched:
			r.last = uint32(u)
		case fieldFlowEndReason:
			r.reason = uint8(u)
		case fieldInputSNMP:
			r.in = uint32(u)
		case fieldOutputSNMP:
			r.out = uint32(u)
		case fieldDirection:
			r.dir = uint8(u)
		case fieldICMPType:
			r.icmp = uint16(u)
		default:
			return r, fmt.Errorf("template %d: unexpected field type %d", id, f.typ)
		}
	}
	return r, nil
}

// parseAll parses a stream of packets in order.
func parseAll(packets [][]byte) ([]parsedPacket, error) {
	known := map[uint16][]fieldSpec{}
	out := make([]parsedPacket, 0, len(packets))
	for i, b := range packets {
		p, err := parsePacket(b, known)
		if err != nil {
			return nil, fmt.Errorf("packet %d: %w", i, err)
		}
		out = append(out, p)
	}
	return out, nil
}
