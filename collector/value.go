package collector

import (
	"bytes"
	"fmt"
	"math"
	"net"
	"net/netip"
	"time"

	"github.com/vmware/go-ipfix/pkg/entities"
)

// valueKind says how a field's bytes become a Go value. It is fixed when the
// template arrives, from the registry type and the length the template gives,
// so a data record never meets a length its decoder cannot handle.
type valueKind uint8

const (
	kindRaw      valueKind = iota // []byte: octetArray, lists, unknown elements, bad lengths
	kindUnsigned                  // uint64, any width 1..8 (reduced-size encoding, RFC 7011 §6.2)
	kindSigned                    // int64, sign-extended from its width
	kindFloat                     // float64, from 4 or 8 bytes
	kindBool                      // bool: 1 true, 2 false (RFC 7011 §6.1.5)
	kindMAC                       // net.HardwareAddr
	kindString                    // string
	kindIPv4                      // netip.Addr
	kindIPv6                      // netip.Addr, as sent (not unmapped)
	kindSeconds                   // time.Time (UTC)
	kindMillis                    // time.Time (UTC)
	kindMicros                    // time.Time (UTC), dateTimeMicroseconds in NTP format
	kindNanos                     // time.Time (UTC), dateTimeNanoseconds in NTP format
)

// ntpToUnix is the number of seconds from the NTP epoch (1900) to the Unix epoch.
const ntpToUnix = 2208988800

// kindFor picks the decoder for a field, or explains why its length does not
// fit its type (the field is then kept as raw octets).
func kindFor(f field) (valueKind, error) {
	ie, ok := lookupIE(f.key)
	if !ok {
		return kindRaw, nil
	}
	fixed := func(kind valueKind, lengths ...uint16) (valueKind, error) {
		for _, l := range lengths {
			if f.length == l {
				return kind, nil
			}
		}
		return kindRaw, fmt.Errorf("length %s invalid for its type (want %v)", lengthString(f.length), lengths)
	}
	switch ie.DataType {
	case entities.Unsigned8, entities.Unsigned16, entities.Unsigned32, entities.Unsigned64,
		entities.Signed8, entities.Signed16, entities.Signed32, entities.Signed64:
		full := entities.InfoElementLength[ie.DataType]
		if f.length == 0 || f.length > full {
			return kindRaw, fmt.Errorf("length %s invalid for a %d-byte integer", lengthString(f.length), full)
		}
		if ie.DataType >= entities.Signed8 {
			return kindSigned, nil
		}
		return kindUnsigned, nil
	case entities.Float32:
		return fixed(kindFloat, 4)
	case entities.Float64:
		return fixed(kindFloat, 4, 8)
	case entities.Boolean:
		return fixed(kindBool, 1)
	case entities.MacAddress:
		return fixed(kindMAC, 6)
	case entities.String:
		return kindString, nil
	case entities.Ipv4Address:
		return fixed(kindIPv4, 4)
	case entities.Ipv6Address:
		return fixed(kindIPv6, 16)
	case entities.DateTimeSeconds:
		return fixed(kindSeconds, 4)
	case entities.DateTimeMilliseconds:
		return fixed(kindMillis, 8)
	case entities.DateTimeMicroseconds:
		return fixed(kindMicros, 8)
	case entities.DateTimeNanoseconds:
		return fixed(kindNanos, 8)
	}
	return kindRaw, nil // octetArray, basicList, subTemplate(Multi)List
}

func lengthString(l uint16) string {
	if l == variableLength {
		return "variable"
	}
	return fmt.Sprint(l)
}

// decodeValue turns a field's bytes into a Go value. b has the length kindFor
// accepted; b belongs to a reused buffer, so nothing returned aliases it.
func decodeValue(kind valueKind, b []byte) any {
	switch kind {
	case kindUnsigned:
		return beUint(b)
	case kindSigned:
		shift := 64 - 8*uint(len(b))
		return int64(beUint(b)<<shift) >> shift
	case kindFloat:
		if len(b) == 4 {
			return float64(math.Float32frombits(uint32(beUint(b))))
		}
		return math.Float64frombits(beUint(b))
	case kindBool:
		switch b[0] {
		case 1:
			return true
		case 2:
			return false
		}
	case kindMAC:
		return net.HardwareAddr(bytes.Clone(b))
	case kindString:
		return string(b)
	case kindIPv4:
		return netip.AddrFrom4([4]byte(b))
	case kindIPv6:
		return netip.AddrFrom16([16]byte(b))
	case kindSeconds:
		return time.Unix(int64(beUint(b)), 0).UTC()
	case kindMillis:
		return time.UnixMilli(int64(beUint(b))).UTC()
	case kindMicros, kindNanos:
		sec, frac := beUint(b[:4]), beUint(b[4:])
		if kind == kindMicros {
			frac &^= 0x7ff // RFC 7011 §6.1.9: the low 11 bits of a microsecond fraction are not significant
		}
		return time.Unix(int64(sec)-ntpToUnix, int64(frac*1e9>>32)).UTC()
	}
	return bytes.Clone(b)
}

// beUint reads a big-endian unsigned integer of 0 to 8 bytes.
func beUint(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}
