package ipfix

import (
	"fmt"
	"net"

	"github.com/vmware/go-ipfix/pkg/entities"
	"github.com/vmware/go-ipfix/pkg/registry"

	"github.com/podflow/podflow/exporter"
	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/ieregistry"
)

// Template ids. An id is never reused with a different layout: each address
// family × combination of measurement groups (exporter.Group) has its own,
// 256 + 2×groups + (1 for IPv6). Records without measurements use 256 (IPv4)
// and 257 (IPv6).
const (
	TemplateIDIPv4 uint16 = 256
	TemplateIDIPv6 uint16 = 257
)

// TemplateID returns the template id of records of the family and groups.
func TemplateID(ipv6 bool, groups exporter.Group) uint16 {
	id := TemplateIDIPv4 + 2*uint16(groups)
	if ipv6 {
		id++
	}
	return id
}

// loadRegistry loads go-ipfix's global registry, once per process (see
// internal/ieregistry).
var loadRegistry = ieregistry.Load

// setter copies one field of r into the reused element value.
type setter func(v entities.InfoElementWithValue, r *flow.Record)

// template is one IPFIX template: its encoded template record and the data
// record whose element values are overwritten for every flow record.
type template struct {
	id      uint16
	encoded []byte // template record: header and field specifiers
	data    entities.Record
	setters []setter
	minLen  int // octets of a record whose variable-length fields are empty
}

// newTemplate builds the template of records of the family and groups from
// exporter.Fields, with podflow's own elements under pen. IANA elements are
// looked up by name in go-ipfix's registry, which must agree with the table;
// enterprise elements it does not know are built from the table.
func newTemplate(ipv6 bool, groups exporter.Group, pen uint32) (*template, error) {
	loadRegistry()
	id := TemplateID(ipv6, groups)
	fields := exporter.TemplateFields(ipv6, groups, pen)
	values := make([]entities.InfoElementWithValue, 0, len(fields))
	sets := make([]setter, 0, len(fields))
	minLen := 0
	for _, f := range fields {
		own, err := infoElement(f)
		if err != nil {
			return nil, fmt.Errorf("ipfix: template %d: %w", id, err)
		}
		v, err := newValue(own)
		if err != nil {
			return nil, fmt.Errorf("ipfix: field %s: %w", f.Name, err)
		}
		set, ok := setters[f.Name]
		if !ok {
			return nil, fmt.Errorf("ipfix: field %s has no mapping from flow.Record", f.Name)
		}
		values = append(values, v)
		sets = append(sets, set)
		minLen += encodedMin(f)
	}
	tr := entities.NewTemplateRecordFromElements(id, values)
	if err := tr.PrepareRecord(); err != nil { // writes the template record header
		return nil, fmt.Errorf("ipfix: template %d: %w", id, err)
	}
	encoded, err := tr.GetBuffer()
	if err != nil {
		return nil, fmt.Errorf("ipfix: template %d: %w", id, err)
	}
	return &template{
		id:      id,
		encoded: encoded,
		data:    entities.NewDataRecordFromElements(id, values),
		setters: sets,
		minLen:  minLen,
	}, nil
}

// infoElement returns the element definition of one table row: the
// registry's (checked against the row) for IANA elements, the row itself
// for enterprise elements.
func infoElement(f exporter.Field) (*entities.InfoElement, error) {
	dataType := entities.IENameToType(f.Type)
	if f.PEN != registry.IANAEnterpriseID {
		return entities.NewInfoElement(f.Name, f.ID, dataType, f.PEN, f.Length), nil
	}
	ie, err := registry.GetInfoElement(f.Name, f.PEN)
	if err != nil {
		return nil, err
	}
	if ie.ElementId != f.ID || ie.Len != f.Length || ie.DataType != dataType {
		return nil, fmt.Errorf("field %s: registry says id %d length %d type %d, table says id %d length %d type %s",
			f.Name, ie.ElementId, ie.Len, ie.DataType, f.ID, f.Length, f.Type)
	}
	own := *ie // our copy: the registry's maps may be reloaded by others
	return &own, nil
}

// encodedMin is the fewest octets a field takes in a data record: a
// variable-length one takes its 1-octet length prefix (values stay under
// 255 octets) and its value.
func encodedMin(f exporter.Field) int {
	if f.Length == exporter.VariableLength {
		return 1
	}
	return int(f.Length)
}

// newValue makes the reusable value of one element. Addresses get their own
// backing array, which the setters overwrite in place.
func newValue(ie *entities.InfoElement) (entities.InfoElementWithValue, error) {
	switch ie.DataType {
	case entities.Ipv4Address:
		return entities.NewIPAddressInfoElement(ie, make(net.IP, net.IPv4len)), nil
	case entities.Ipv6Address:
		return entities.NewIPAddressInfoElement(ie, make(net.IP, net.IPv6len)), nil
	}
	return entities.DecodeAndCreateInfoElementWithValue(ie, nil)
}

// fill writes r into the template's element values.
func (t *template) fill(r *flow.Record) {
	values := t.data.GetOrderedElementList()
	for i, set := range t.setters {
		set(values[i], r)
	}
}
