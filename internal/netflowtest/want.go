package netflowtest

import (
	"fmt"
	"strings"
	"time"

	"github.com/podflow/podflow/flow"
)

// What decoders print of a truth, whichever NetFlow version carried it;
// each exporter's tests add the fields only its version has.

// NfdumpWant is what nfdump prints of w, as NfdumpDecodes reads it back.
func NfdumpWant(w Truth) map[string]string {
	m := map[string]string{
		"proto": fmt.Sprint(w.Proto), "in_packets": fmt.Sprint(w.Packets), "in_bytes": fmt.Sprint(w.Octets),
		"input_snmp": fmt.Sprint(w.In()), "output_snmp": fmt.Sprint(w.Out()),
		"first": fmt.Sprint(w.First.Milliseconds()), "last": fmt.Sprint(w.Last.Milliseconds()),
	}
	family := "4"
	if isIPv6(w) {
		family = "6"
	}
	m["src"+family+"_addr"], m["dst"+family+"_addr"] = w.Src, w.Dst
	if isICMP(w) {
		// nfdump shows ICMP type and code instead of ports and flags.
		m["icmp_type"], m["icmp_code"] = fmt.Sprint(w.DstPort>>8), fmt.Sprint(w.DstPort&0xff)
	} else {
		m["src_port"], m["dst_port"] = fmt.Sprint(w.SrcPort), fmt.Sprint(w.DstPort)
		m["tcp_flags"] = fmt.Sprintf("%#02x", uint8(w.Flags))
	}
	return m
}

// TsharkWant is what tshark's cflow dissector prints of w: times in
// seconds of uptime.
func TsharkWant(w Truth) map[string]string {
	secs := func(d time.Duration) string {
		ms := d.Milliseconds()
		return fmt.Sprintf("%d.%03d000000", ms/1000, ms%1000)
	}
	m := map[string]string{
		"cflow.srcport": fmt.Sprint(w.SrcPort), "cflow.dstport": fmt.Sprint(w.DstPort), "cflow.protocol": fmt.Sprint(w.Proto),
		"cflow.octets": fmt.Sprint(w.Octets), "cflow.packets": fmt.Sprint(w.Packets),
		"cflow.tcpflags":  fmt.Sprintf("0x%02x", uint8(w.Flags)),
		"cflow.timestart": secs(w.First), "cflow.timeend": secs(w.Last),
		"cflow.inputint": fmt.Sprint(w.In()), "cflow.outputint": fmt.Sprint(w.Out()),
	}
	if isIPv6(w) {
		m["cflow.srcaddrv6"], m["cflow.dstaddrv6"] = w.Src, w.Dst
	} else {
		m["cflow.srcaddr"], m["cflow.dstaddr"] = w.Src, w.Dst
	}
	return m
}

// NfacctdWant is what nfacctd's print plugin shows of w, ports aside:
// which ports it keeps depends on the version.
func NfacctdWant(w Truth) map[string]string {
	protoNames := map[uint8]string{flow.ProtoTCP: "tcp", flow.ProtoUDP: "udp", flow.ProtoICMP: "icmp",
		flow.ProtoICMPv6: "ipv6-icmp", flow.ProtoSCTP: "sctp"}
	return map[string]string{
		"ip_src": w.Src, "ip_dst": w.Dst, "ip_proto": protoNames[w.Proto],
		"packets": fmt.Sprint(w.Packets), "bytes": fmt.Sprint(w.Octets),
		"iface_in": fmt.Sprint(w.In()), "iface_out": fmt.Sprint(w.Out()), "tcp_flags": fmt.Sprint(uint8(w.Flags)),
		// nfacctd computes times in whole seconds (it ignores the
		// milliseconds of uptime): unix_secs minus whole seconds of
		// uptime, so the truth rounded up.
		"timestamp_start": ceilSecond(w.First), "timestamp_end": ceilSecond(w.Last),
	}
}

func ceilSecond(sinceBoot time.Duration) string {
	at := Boot.Add(sinceBoot)
	s := at.Unix()
	if at.Nanosecond() != 0 {
		s++
	}
	return fmt.Sprintf("%d.000000", s)
}

func isIPv6(w Truth) bool { return strings.Contains(w.Src, ":") }

func isICMP(w Truth) bool { return w.Proto == flow.ProtoICMP || w.Proto == flow.ProtoICMPv6 }
