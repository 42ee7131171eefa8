package exporter

import (
	"fmt"
	"strings"
	"unicode"
)

// PmacctPrimitivesPath is where the repository ships PmacctPrimitives(DefaultPEN),
// relative to the module root.
const PmacctPrimitivesPath = "configs/pmacct/primitives.lst"

// PmacctName is the name under which pmacct's nfacctd reports f: the element
// name in snake_case, with "Microseconds" shortened to "us" so the unit stays
// visible without long column names (tcpRttMinMicroseconds → tcp_rtt_min_us,
// RETRANSMITTED_IN_PKTS → retransmitted_in_pkts).
func PmacctName(f Field) string {
	words := splitWords(f.Name)
	for i, w := range words {
		w = strings.ToLower(w)
		if w == "microseconds" {
			w = "us"
		}
		words[i] = w
	}
	return strings.Join(words, "_")
}

// splitWords splits a camelCase or UPPER_SNAKE name into its words. A word
// starts at a capital that follows a lowercase letter or digit, so acronyms
// stay whole (sourceIPv4Address → source, IPv4, Address).
func splitWords(name string) []string {
	if strings.Contains(name, "_") {
		return strings.Split(name, "_")
	}
	var words []string
	r := []rune(name)
	start := 0
	for i := 1; i < len(r); i++ {
		if (unicode.IsLower(r[i-1]) || unicode.IsDigit(r[i-1])) && unicode.IsUpper(r[i]) {
			words = append(words, string(r[start:i]))
			start = i
		}
	}
	return append(words, string(r[start:]))
}

// pmacctSemantics maps an IPFIX abstract data type to the aggregate_primitives
// semantics nfacctd prints it with; raw (hex) is the lossless fallback.
func pmacctSemantics(ipfixType string) string {
	switch ipfixType {
	case "unsigned8", "unsigned16", "unsigned32", "unsigned64":
		return "u_int"
	case "string":
		return "str"
	case "ipv4Address", "ipv6Address":
		return "ip"
	case "macAddress":
		return "mac"
	}
	return "raw"
}

// PmacctPrimitives renders a pmacct aggregate_primitives file that teaches
// nfacctd every enterprise-specific element of Fields: podflow's own under
// pen, the others (ntop's) under their vendor's PEN. nfacctd decodes IANA
// elements natively, so they are not listed.
func PmacctPrimitives(pen uint32) string {
	var b strings.Builder
	b.WriteString("! pmacct aggregate_primitives for podflow's enterprise-specific IPFIX elements.\n")
	b.WriteString("! Generated from exporter.Fields by exporter.PmacctPrimitives: do not edit;\n")
	b.WriteString("! regenerate with: UPDATE_CONFIGS=1 go test ./exporter\n")
	fmt.Fprintf(&b, "! podflow's own elements use PEN %d (--enterprise-number); change the\n", pen)
	b.WriteString("! field_type prefix of those rows if podflow exports under another PEN.\n")
	for _, f := range Fields {
		if !f.Own && f.PEN == 0 {
			continue
		}
		fpen := f.PEN
		if f.Own {
			fpen = pen
		}
		length := fmt.Sprint(f.Length)
		if f.Length == VariableLength {
			length = "vlen"
		}
		b.WriteString("!\n")
		writeComment(&b, f.Name+": "+f.Description)
		fmt.Fprintf(&b, "name=%s\tfield_type=%d:%d\tlen=%s\tsemantics=%s\n",
			PmacctName(f), fpen, f.ID, length, pmacctSemantics(f.Type))
	}
	return b.String()
}

// writeComment wraps text into '!' comment lines: pmacct reads map files
// line by line into a fixed-size buffer, so no line may run long.
func writeComment(b *strings.Builder, text string) {
	const width = 76
	line := "!"
	for _, w := range strings.Fields(text) {
		if len(line)+1+len(w) > width && line != "!" {
			b.WriteString(line + "\n")
			line = "!"
		}
		line += " " + w
	}
	b.WriteString(line + "\n")
}
