package decoders

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// tsharkElements are the elements podflow sends that tshark's cflow
// dissector knows by name (IANA's, and ntop's since Wireshark knows that
// PEN); podflow's own elements come as Record.Private.
var tsharkElements = map[string]string{
	"cflow.srcaddr": "0/8", "cflow.srcaddrv6": "0/27", "cflow.dstaddr": "0/12", "cflow.dstaddrv6": "0/28",
	"cflow.srcport": "0/7", "cflow.dstport": "0/11", "cflow.protocol": "0/4",
	"cflow.octets": "0/1", "cflow.packets": "0/2", "cflow.icmp_type_code_ipv4": "0/32",
	"cflow.drop_packets": "0/133", "cflow.drop_octets": "0/132",
	"cflow.pie.ntop.retransmitted_in_pkts": "35632/109",
	"cflow.pie.ntop.src_proc_id":           "35632/168", "cflow.pie.ntop.src_proc_name": "35632/169",
	"cflow.pie.ntop.dst_proc_pid": "35632/375", "cflow.pie.ntop.dst_proc_name": "35632/376",
}

// tsharkText are those tshark prints as text: addresses and names.
var tsharkText = map[string]bool{"0/8": true, "0/27": true, "0/12": true, "0/28": true, "35632/169": true, "35632/376": true}

// Elements maps the record's fields as tshark printed them to Elements;
// pen is podflow's own enterprise number, whose elements tshark does not
// know and prints as octets.
func (r Record) Elements(pen uint32) (Elements, error) {
	e := Elements{}
	for field, key := range tsharkElements {
		v, ok := r.Fields[field]
		if !ok {
			continue
		}
		if !tsharkText[key] {
			n, err := strconv.ParseUint(v, 0, 64) // some print in hex ("0x0000")
			if err != nil {
				return nil, fmt.Errorf("frame %d: %s=%q: %w", r.Frame, field, v, err)
			}
			v = strconv.FormatUint(n, 10)
		}
		e[key] = v
	}
	if t, ok := r.Fields["cflow.icmp_ipv6_type"]; ok {
		typ, err1 := strconv.ParseUint(t, 0, 8)
		code, err2 := strconv.ParseUint(r.Fields["cflow.icmp_ipv6_code"], 0, 8)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("frame %d: ICMPv6 type %q code %q", r.Frame, t, r.Fields["cflow.icmp_ipv6_code"])
		}
		e["0/139"] = strconv.FormatUint(typ<<8|code, 10)
	}
	for field, key := range map[string]string{"cflow.abstimestart": "0/152", "cflow.abstimeend": "0/153"} {
		if v, ok := r.Fields[field]; ok {
			t, err := ParseTsharkTime(v)
			if err != nil {
				return nil, fmt.Errorf("frame %d: %s: %w", r.Frame, field, err)
			}
			e[key] = t.Format(time.RFC3339Nano)
		}
	}
	private, err := r.Enterprise()
	if err != nil {
		return nil, err
	}
	for k, b := range private {
		key := strings.Replace(k, ":", "/", 1)
		e[key] = RawElement(pen, key, b)
	}
	return e, nil
}

// ParseTsharkTime parses tshark's absolute times ("Nov 14, 2023
// 22:13:20.123000000 UTC"; tshark runs with TZ=UTC).
func ParseTsharkTime(s string) (time.Time, error) {
	return time.Parse("Jan _2, 2006 15:04:05.999999999 MST", s)
}
