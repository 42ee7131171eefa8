package ipfix

import (
	"fmt"
	"net"
	"sync"

	"github.com/vmware/go-ipfix/pkg/entities"
	"github.com/vmware/go-ipfix/pkg/registry"

	"github.com/podflow/podflow/exporter"
	"github.com/podflow/podflow/flow"
)

// Template ids. An id is never reused with a different layout: a new layout
// gets a new id.
const (
	TemplateIDIPv4 uint16 = 256
	TemplateIDIPv6 uint16 = 257
)

// loadRegistry loads go-ipfix's global registry once: LoadRegistry replaces
// the global maps, which would race with a collector reading them.
var loadRegistry = sync.OnceFunc(func() {
	if _, err := registry.GetInfoElement("octetDeltaCount", registry.IANAEnterpriseID); err != nil {
		registry.LoadRegistry()
	}
})

// setter copies one field of r into the reused element value.
type setter func(v entities.InfoElementWithValue, r *flow.Record)

// template is one IPFIX template: its encoded template record and the data
// record whose element values are overwritten for every flow record.
type template struct {
	id        uint16
	encoded   []byte // template record: header and field specifiers
	data      entities.Record
	setters   []setter
	recordLen int
}

// newTemplate builds the IPv4 or IPv6 template from exporter.Fields, looking
// every element up by name in go-ipfix's registry and refusing a row the
// registry disagrees with.
func newTemplate(id uint16, ipv6 bool) (*template, error) {
	loadRegistry()
	fields := exporter.TemplateFields(ipv6)
	values := make([]entities.InfoElementWithValue, 0, len(fields))
	sets := make([]setter, 0, len(fields))
	recordLen := 0
	for _, f := range fields {
		ie, err := registry.GetInfoElement(f.Name, f.PEN)
		if err != nil {
			return nil, fmt.Errorf("ipfix: template %d: %w", id, err)
		}
		if ie.ElementId != f.ID || ie.Len != f.Length || ie.DataType != entities.IENameToType(f.Type) {
			return nil, fmt.Errorf("ipfix: field %s: registry says id %d length %d type %d, table says id %d length %d type %s",
				f.Name, ie.ElementId, ie.Len, ie.DataType, f.ID, f.Length, f.Type)
		}
		own := *ie // our copy: the registry's maps may be reloaded by others
		v, err := newValue(&own)
		if err != nil {
			return nil, fmt.Errorf("ipfix: field %s: %w", f.Name, err)
		}
		set, ok := setters[f.Name]
		if !ok {
			return nil, fmt.Errorf("ipfix: field %s has no mapping from flow.Record", f.Name)
		}
		values = append(values, v)
		sets = append(sets, set)
		recordLen += int(f.Length)
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
		id:        id,
		encoded:   encoded,
		data:      entities.NewDataRecordFromElements(id, values),
		setters:   sets,
		recordLen: recordLen,
	}, nil
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
