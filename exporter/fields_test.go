package exporter

import (
	"strings"
	"testing"

	"github.com/vmware/go-ipfix/pkg/entities"
	"github.com/vmware/go-ipfix/pkg/registry"

	"github.com/podflow/podflow/internal/ieregistry"
)

func TestFieldsAgreeWithRegistry(t *testing.T) {
	ieregistry.Load()
	seen := map[string]bool{}
	enterprise := map[[2]uint32]string{}
	for _, f := range Fields {
		if seen[f.Name] {
			t.Errorf("%s listed twice", f.Name)
		}
		seen[f.Name] = true
		if !f.IPv4 && !f.IPv6 {
			t.Errorf("%s is in no template", f.Name)
		}
		if (f.Length == VariableLength) != (f.MaxLength > 0) || f.MaxLength > 254 {
			t.Errorf("%s: length %d with MaxLength %d", f.Name, f.Length, f.MaxLength)
		}
		if f.Own || f.PEN != 0 {
			pen := f.PEN
			if f.Own {
				pen = DefaultPEN
			}
			if f.Own && f.PEN != 0 {
				t.Errorf("%s: own element with a fixed PEN %d", f.Name, f.PEN)
			}
			k := [2]uint32{pen, uint32(f.ID)}
			if other, dup := enterprise[k]; dup {
				t.Errorf("%s and %s share PEN %d id %d", f.Name, other, pen, f.ID)
			}
			enterprise[k] = f.Name
			if entities.IENameToType(f.Type) == entities.IENameToType("unknown") {
				t.Errorf("%s: type %q unknown to go-ipfix", f.Name, f.Type)
			}
			if f.PEN == AntreaPEN { // go-ipfix knows Antrea's elements: they must agree
				ie, err := registry.GetInfoElement(f.Name, AntreaPEN)
				if err != nil || ie.ElementId != f.ID || ie.Len != f.Length || ie.DataType != entities.IENameToType(f.Type) {
					t.Errorf("%s: go-ipfix's Antrea registry disagrees: %+v, %v", f.Name, ie, err)
				}
			}
			continue
		}
		ie, err := registry.GetInfoElement(f.Name, f.PEN)
		if err != nil {
			t.Errorf("%s: %v", f.Name, err)
			continue
		}
		if ie.ElementId != f.ID || ie.EnterpriseId != f.PEN || ie.Len != f.Length ||
			ie.DataType != entities.IENameToType(f.Type) {
			t.Errorf("%s: registry has id %d pen %d len %d type %d, table has id %d pen %d len %d type %q",
				f.Name, ie.ElementId, ie.EnterpriseId, ie.Len, ie.DataType, f.ID, f.PEN, f.Length, f.Type)
		}
	}
}

func TestTemplateFields(t *testing.T) {
	for _, tc := range []struct {
		ipv6      bool
		names     []string
		recordLen int
	}{
		{false, []string{"sourceIPv4Address", "destinationIPv4Address", "sourceTransportPort",
			"destinationTransportPort", "protocolIdentifier", "octetDeltaCount", "packetDeltaCount",
			"tcpControlBits", "flowStartMilliseconds", "flowEndMilliseconds", "flowEndReason",
			"ingressInterface", "egressInterface", "flowDirection", "icmpTypeCodeIPv4"}, 59},
		{true, []string{"sourceIPv6Address", "destinationIPv6Address", "sourceTransportPort",
			"destinationTransportPort", "protocolIdentifier", "octetDeltaCount", "packetDeltaCount",
			"tcpControlBits", "flowStartMilliseconds", "flowEndMilliseconds", "flowEndReason",
			"ingressInterface", "egressInterface", "flowDirection", "icmpTypeCodeIPv6"}, 83},
	} {
		fields := TemplateFields(tc.ipv6, 0, DefaultPEN)
		var names []string
		length := 0
		for _, f := range fields {
			names = append(names, f.Name)
			length += int(f.Length)
		}
		if got, want := strings.Join(names, ","), strings.Join(tc.names, ","); got != want {
			t.Errorf("ipv6=%v: fields\n got %s\nwant %s", tc.ipv6, got, want)
		}
		if length != tc.recordLen {
			t.Errorf("ipv6=%v: record length %d, want %d", tc.ipv6, length, tc.recordLen)
		}
	}
}

func TestFieldsMarkdown(t *testing.T) {
	lines := strings.Split(strings.TrimSuffix(FieldsMarkdown(), "\n"), "\n")
	if len(lines) != 2+len(Fields) {
		t.Fatalf("got %d lines, want %d", len(lines), 2+len(Fields))
	}
	want := map[int]string{
		0:  "| Field | IE id | PEN | type | IPv4/IPv6 | meaning |",
		1:  "|---|---|---|---|---|---|",
		2:  "| `sourceIPv4Address` | 8 | IANA | ipv4Address | IPv4 | source address of the flow |",
		6:  "| `sourceTransportPort` | 7 | IANA | unsigned16 | IPv4, IPv6 | TCP/UDP/SCTP source port; 0 for ICMP, non-first fragments and truncated L4 headers |",
		18: "| `icmpTypeCodeIPv4` | 32 | IANA | unsigned16 | IPv4 | ICMP type<<8 \\| code; 0 for other protocols |",
		19: "| `icmpTypeCodeIPv6` | 139 | IANA | unsigned16 | IPv6 | ICMPv6 type<<8 \\| code; 0 for other protocols |",
	}
	for i, w := range want {
		if lines[i] != w {
			t.Errorf("line %d\n got %s\nwant %s", i, lines[i], w)
		}
	}
}
