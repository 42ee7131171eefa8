package exporter

import (
	"fmt"
	"strings"
)

// Goflow2MappingPath is where the repository ships Goflow2Mapping(DefaultPEN),
// relative to the module root.
const Goflow2MappingPath = "configs/goflow2/mapping.yaml"

// goflow2FirstIndex is the first protobuf field number podflow's elements
// take in goflow2's FlowMessage: far above goflow2's own fields.
const goflow2FirstIndex = 1000

// Goflow2Mapping is a goflow2 `-mapping` file that decodes every enterprise
// element of Fields (podflow's own under pen, ntop's and Antrea's) into
// goflow2's output, by the names PmacctName gives them (IANA elements
// goflow2 already decodes itself; the post-NAT and dropped counts are
// added too).
func Goflow2Mapping(pen uint32) string {
	var b strings.Builder
	b.WriteString("# Generated from exporter.Fields by exporter.Goflow2Mapping: do not edit.\n")
	fmt.Fprintf(&b, "# podflow's own elements are under PEN %d; change every `pen: %d` below if\n# podflow runs with another --enterprise-number.\n", pen, pen)
	b.WriteString("# Use: goflow2 -mapping=configs/goflow2/mapping.yaml -format=json\n")
	var rows []Field
	for _, f := range Fields {
		if f.Own || f.PEN != 0 || f.ID == 132 || f.ID == 133 {
			rows = append(rows, f)
		}
	}
	b.WriteString("formatter:\n  fields:\n")
	for _, f := range rows {
		fmt.Fprintf(&b, "    - %s\n", PmacctName(f))
	}
	b.WriteString("  protobuf:\n")
	for i, f := range rows {
		typ := "varint"
		if f.Type == "string" || strings.HasSuffix(f.Type, "Address") {
			typ = "string"
		}
		fmt.Fprintf(&b, "    - name: %s\n      index: %d\n      type: %s\n", PmacctName(f), goflow2FirstIndex+i, typ)
	}
	b.WriteString("  render:\n")
	for _, f := range rows {
		switch {
		case strings.HasSuffix(f.Type, "Address"):
			fmt.Fprintf(&b, "    %s: ip\n", PmacctName(f))
		case f.Type == "string":
			fmt.Fprintf(&b, "    %s: string\n", PmacctName(f))
		}
	}
	b.WriteString("ipfix:\n  mapping:\n")
	for _, f := range rows {
		p := f.PEN
		if f.Own {
			p = pen
		}
		fmt.Fprintf(&b, "    - field: %d\n", f.ID)
		if p != 0 {
			fmt.Fprintf(&b, "      penprovided: true\n      pen: %d\n", p)
		}
		fmt.Fprintf(&b, "      destination: %s\n", PmacctName(f))
	}
	return b.String()
}
