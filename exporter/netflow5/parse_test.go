package netflow5

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// The minimal NetFlow v5 parser of the tests: strict about lengths and
// the fields podflow leaves 0. Interop with real collectors is checked
// against nfdump, tshark and nfacctd (interop tests).

type parsedHeader struct {
	count                uint16
	uptime, unixSecs     uint32
	unixNsecs, seq       uint32
	engineType, engineID uint8
	sampling             uint16
}

type parsedRecord struct {
	src, dst     netip.Addr
	in, out      uint16
	packets      uint32
	octets       uint32
	first, last  uint32
	sport, dport uint16
	flags, proto uint8
}

type parsedPacket struct {
	header  parsedHeader
	records []parsedRecord
}

func parsePacket(b []byte) (parsedPacket, error) {
	var p parsedPacket
	if len(b) < headerLen {
		return p, fmt.Errorf("packet of %d octets has no header", len(b))
	}
	if v := binary.BigEndian.Uint16(b); v != 5 {
		return p, fmt.Errorf("version %d", v)
	}
	h := parsedHeader{
		count: binary.BigEndian.Uint16(b[2:]), uptime: binary.BigEndian.Uint32(b[4:]),
		unixSecs: binary.BigEndian.Uint32(b[8:]), unixNsecs: binary.BigEndian.Uint32(b[12:]),
		seq: binary.BigEndian.Uint32(b[16:]), engineType: b[20], engineID: b[21],
		sampling: binary.BigEndian.Uint16(b[22:]),
	}
	p.header = h
	if h.count == 0 || h.count > 30 || len(b) != headerLen+int(h.count)*recordLen {
		return p, fmt.Errorf("count %d in %d octets", h.count, len(b))
	}
	for i := range int(h.count) {
		r := b[headerLen+i*recordLen:][:recordLen]
		if z := string(r[8:12]) + string(r[36:37]) + string(r[39:46]) + string(r[46:48]); z != string(make([]byte, 14)) {
			return p, fmt.Errorf("record %d: nexthop, pad, tos, AS, masks not 0: %x", i, r)
		}
		src, _ := netip.AddrFromSlice(r[0:4])
		dst, _ := netip.AddrFromSlice(r[4:8])
		p.records = append(p.records, parsedRecord{
			src: src, dst: dst,
			in: binary.BigEndian.Uint16(r[12:]), out: binary.BigEndian.Uint16(r[14:]),
			packets: binary.BigEndian.Uint32(r[16:]), octets: binary.BigEndian.Uint32(r[20:]),
			first: binary.BigEndian.Uint32(r[24:]), last: binary.BigEndian.Uint32(r[28:]),
			sport: binary.BigEndian.Uint16(r[32:]), dport: binary.BigEndian.Uint16(r[34:]),
			flags: r[37], proto: r[38],
		})
	}
	return p, nil
}

func parseAll(packets [][]byte) ([]parsedPacket, error) {
	out := make([]parsedPacket, 0, len(packets))
	for i, b := range packets {
		p, err := parsePacket(b)
		if err != nil {
			return nil, fmt.Errorf("packet %d: %w", i, err)
		}
		out = append(out, p)
	}
	return out, nil
}
