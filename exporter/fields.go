package exporter

import (
	"fmt"
	"strings"
)

// Field is one information element podflow exports. Fields is the single
// source of truth for the exporters' templates, the README field table and
// the collector decoding configs: change an element here and every consumer
// follows (the IPFIX exporter refuses to start if go-ipfix's registry
// disagrees with a row).
type Field struct {
	Name        string // information element name, as IANA (or the vendor) registers it
	ID          uint16 // information element id
	PEN         uint32 // private enterprise number; 0 for IANA elements
	Type        string // IPFIX abstract data type (RFC 7012 §3.1), e.g. "unsigned64"
	Length      uint16 // encoded length in octets
	IPv4, IPv6  bool   // present in the IPv4 / IPv6 template
	Description string // what podflow puts in it
}

// Fields lists the exported elements in template order. A template holds the
// fields whose IPv4 (or IPv6) flag is set, in this order.
var Fields = []Field{
	{Name: "sourceIPv4Address", ID: 8, Type: "ipv4Address", Length: 4, IPv4: true,
		Description: "source address of the flow"},
	{Name: "sourceIPv6Address", ID: 27, Type: "ipv6Address", Length: 16, IPv6: true,
		Description: "source address of the flow"},
	{Name: "destinationIPv4Address", ID: 12, Type: "ipv4Address", Length: 4, IPv4: true,
		Description: "destination address of the flow"},
	{Name: "destinationIPv6Address", ID: 28, Type: "ipv6Address", Length: 16, IPv6: true,
		Description: "destination address of the flow"},
	{Name: "sourceTransportPort", ID: 7, Type: "unsigned16", Length: 2, IPv4: true, IPv6: true,
		Description: "TCP/UDP/SCTP source port; 0 for ICMP, non-first fragments and truncated L4 headers"},
	{Name: "destinationTransportPort", ID: 11, Type: "unsigned16", Length: 2, IPv4: true, IPv6: true,
		Description: "TCP/UDP/SCTP destination port; 0 for ICMP, non-first fragments and truncated L4 headers"},
	{Name: "protocolIdentifier", ID: 4, Type: "unsigned8", Length: 1, IPv4: true, IPv6: true,
		Description: "IP protocol number"},
	{Name: "octetDeltaCount", ID: 1, Type: "unsigned64", Length: 8, IPv4: true, IPv6: true,
		Description: "IP-level octets (IP header included) since the flow's previous record"},
	{Name: "packetDeltaCount", ID: 2, Type: "unsigned64", Length: 8, IPv4: true, IPv6: true,
		Description: "packets (GSO segments counted one by one) since the flow's previous record"},
	{Name: "tcpControlBits", ID: 6, Type: "unsigned16", Length: 2, IPv4: true, IPv6: true,
		Description: "OR of the TCP flags seen, NS/CWR/ECE included; 0 for other protocols"},
	{Name: "flowStartMilliseconds", ID: 152, Type: "dateTimeMilliseconds", Length: 8, IPv4: true, IPv6: true,
		Description: "first packet counted in this record, ms since the Unix epoch"},
	{Name: "flowEndMilliseconds", ID: 153, Type: "dateTimeMilliseconds", Length: 8, IPv4: true, IPv6: true,
		Description: "last packet counted in this record, ms since the Unix epoch"},
	{Name: "flowEndReason", ID: 136, Type: "unsigned8", Length: 1, IPv4: true, IPv6: true,
		Description: "1 idle timeout, 2 active timeout, 3 end of flow, 4 forced end, 5 lack of resources"},
	{Name: "ingressInterface", ID: 10, Type: "unsigned32", Length: 4, IPv4: true, IPv6: true,
		Description: "ifindex of the observed interface when seen on its ingress hook, else 0"},
	{Name: "egressInterface", ID: 14, Type: "unsigned32", Length: 4, IPv4: true, IPv6: true,
		Description: "ifindex of the observed interface when seen on its egress hook, else 0"},
	{Name: "flowDirection", ID: 61, Type: "unsigned8", Length: 1, IPv4: true, IPv6: true,
		Description: "0 ingress, 1 egress, from the observed interface's point of view"},
	{Name: "icmpTypeCodeIPv4", ID: 32, Type: "unsigned16", Length: 2, IPv4: true,
		Description: "ICMP type<<8 | code; 0 for other protocols"},
	{Name: "icmpTypeCodeIPv6", ID: 139, Type: "unsigned16", Length: 2, IPv6: true,
		Description: "ICMPv6 type<<8 | code; 0 for other protocols"},
}

// TemplateFields returns the fields of the IPv4 (ipv6 false) or IPv6
// template, in template order.
func TemplateFields(ipv6 bool) []Field {
	var out []Field
	for _, f := range Fields {
		if (ipv6 && f.IPv6) || (!ipv6 && f.IPv4) {
			out = append(out, f)
		}
	}
	return out
}

// FieldsMarkdown renders Fields as the README's Markdown table.
func FieldsMarkdown() string {
	var b strings.Builder
	b.WriteString("| Field | IE id | PEN | type | IPv4/IPv6 | meaning |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for _, f := range Fields {
		pen := "IANA"
		if f.PEN != 0 {
			pen = fmt.Sprint(f.PEN)
		}
		fmt.Fprintf(&b, "| `%s` | %d | %s | %s | %s | %s |\n",
			f.Name, f.ID, pen, f.Type, families(f), escapeCell(f.Description))
	}
	return b.String()
}

func families(f Field) string {
	switch {
	case f.IPv4 && f.IPv6:
		return "IPv4, IPv6"
	case f.IPv4:
		return "IPv4"
	case f.IPv6:
		return "IPv6"
	}
	return "-"
}

// escapeCell keeps a '|' in a description from splitting the table cell.
func escapeCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
