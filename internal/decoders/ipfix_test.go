package decoders

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/podflow/podflow/exporter"
)

// A deliberately tiny IPFIX encoder (RFC 7011), independent of podflow's
// exporter, so the decoders are checked against hand-made bytes.

const ipfixVersion = 10

// ipfixMessage frames sets in a message header.
func ipfixMessage(exportTime, seq, domain uint32, sets ...[]byte) []byte {
	msg := make([]byte, 16)
	for _, s := range sets {
		msg = append(msg, s...)
	}
	binary.BigEndian.PutUint16(msg[0:], ipfixVersion)
	binary.BigEndian.PutUint16(msg[2:], uint16(len(msg)))
	binary.BigEndian.PutUint32(msg[4:], exportTime)
	binary.BigEndian.PutUint32(msg[8:], seq)
	binary.BigEndian.PutUint32(msg[12:], domain)
	return msg
}

// ipfixSet frames records in a set header; set id 2 is a template set.
func ipfixSet(id uint16, records ...[]byte) []byte {
	set := make([]byte, 4)
	for _, r := range records {
		set = append(set, r...)
	}
	binary.BigEndian.PutUint16(set[0:], id)
	binary.BigEndian.PutUint16(set[2:], uint16(len(set)))
	return set
}

// templateRecord announces fields under templateID, with the enterprise bit
// and PEN for enterprise-specific ones.
func templateRecord(templateID uint16, fields []exporter.Field) []byte {
	r := binary.BigEndian.AppendUint16(nil, templateID)
	r = binary.BigEndian.AppendUint16(r, uint16(len(fields)))
	for _, f := range fields {
		id := f.ID
		if f.PEN != 0 {
			id |= 0x8000
		}
		r = binary.BigEndian.AppendUint16(r, id)
		r = binary.BigEndian.AppendUint16(r, f.Length)
		if f.PEN != 0 {
			r = binary.BigEndian.AppendUint32(r, f.PEN)
		}
	}
	return r
}

// dataRecord encodes values (by field name) in template order: integers as
// uint64, addresses as netip.Addr, strings with a 1-byte length prefix.
func dataRecord(fields []exporter.Field, values map[string]any) ([]byte, error) {
	var r []byte
	for _, f := range fields {
		v, ok := values[f.Name]
		if !ok {
			return nil, fmt.Errorf("no value for %s", f.Name)
		}
		switch v := v.(type) {
		case uint64:
			if f.Length > 8 {
				return nil, fmt.Errorf("%s: %d-byte integer", f.Name, f.Length)
			}
			b := binary.BigEndian.AppendUint64(nil, v)
			r = append(r, b[8-f.Length:]...)
		case netip.Addr:
			b := v.AsSlice()
			if len(b) != int(f.Length) {
				return nil, fmt.Errorf("%s: %d-byte address for a %d-byte field", f.Name, len(b), f.Length)
			}
			r = append(r, b...)
		case string:
			if f.Length != exporter.VariableLength || len(v) >= 255 {
				return nil, fmt.Errorf("%s: string needs a variable-length field under 255 bytes", f.Name)
			}
			r = append(append(r, byte(len(v))), v...)
		default:
			return nil, fmt.Errorf("%s: unsupported value %T", f.Name, v)
		}
	}
	return r, nil
}
