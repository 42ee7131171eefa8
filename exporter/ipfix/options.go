package ipfix

import (
	"encoding/binary"
	"fmt"

	"github.com/vmware/go-ipfix/pkg/registry"

	"github.com/podflow/podflow/exporter"
)

// Options template ids (RFC 7011 §3.4.2.2), one fixed layout each. They sit
// above every data template id (TemplateID(true, exporter.GroupAll) is
// 33023), so no id ever names two layouts.
const (
	// Exporting process reliability statistics (RFC 7011 §4.3): scope
	// exportingProcessId; exportedMessageTotalCount,
	// exportedFlowRecordTotalCount, exportedOctetTotalCount,
	// notSentFlowTotalCount, notSentPacketTotalCount,
	// notSentOctetTotalCount, and two observationTimeMilliseconds: the
	// exporter's start and the time of the record, the window the totals
	// cover.
	TemplateIDExporterStats uint16 = 65280
	// Interface names: scope ingressInterface (an ifindex, whichever hook
	// the records saw it on); interfaceName, interfaceDescription.
	TemplateIDInterfaceNames uint16 = 65281
	// Information element types (RFC 5610 §3.9): scope
	// privateEnterpriseNumber, informationElementId;
	// informationElementDataType, informationElementSemantics,
	// informationElementUnits, informationElementRangeBegin,
	// informationElementRangeEnd, informationElementName,
	// informationElementDescription. The range elements are optional in
	// RFC 5610, but libfixbuf (ipfixDump --rfc5610, YAF's tools) takes an
	// options template for type records only when it has them.
	TemplateIDElementTypes uint16 = 65282
)

const optionsTemplateSetID = 3

// announcement is a template record in a message of its own, sent once per
// round (transport session, UDP refresh) before the records that use it.
type announcement struct {
	id    uint16
	setID uint16 // templateSetID or optionsTemplateSetID
	msg   []byte // headers rewritten before each send
	sent  bool   // in the current round
}

// optionsField is one field of an options template: an IANA element and
// the length its encoder below writes (checked against the registry).
type optionsField struct {
	name   string
	length uint16
}

var (
	statsFields = []optionsField{
		{"exportingProcessId", 4},
		{"exportedMessageTotalCount", 8}, {"exportedFlowRecordTotalCount", 8}, {"exportedOctetTotalCount", 8},
		{"notSentFlowTotalCount", 8}, {"notSentPacketTotalCount", 8}, {"notSentOctetTotalCount", 8},
		{"observationTimeMilliseconds", 8}, {"observationTimeMilliseconds", 8},
	}
	interfaceFields = []optionsField{
		{"ingressInterface", 4}, {"interfaceName", exporter.VariableLength}, {"interfaceDescription", exporter.VariableLength},
	}
	elementTypeFields = []optionsField{
		{"privateEnterpriseNumber", 4}, {"informationElementId", 2},
		{"informationElementDataType", 1}, {"informationElementSemantics", 1}, {"informationElementUnits", 2},
		{"informationElementRangeBegin", 8}, {"informationElementRangeEnd", 8},
		{"informationElementName", exporter.VariableLength}, {"informationElementDescription", exporter.VariableLength},
	}
)

// statsRecordLen is the length of a statistics record: all fields fixed.
const statsRecordLen = 4 + 6*8 + 2*8

// newOptionsTemplate encodes an options template whose first scope fields
// are its scope, checking every field against go-ipfix's registry.
func newOptionsTemplate(id uint16, scope int, fields []optionsField) (*announcement, error) {
	loadRegistry()
	rec := binary.BigEndian.AppendUint16(nil, id)
	rec = binary.BigEndian.AppendUint16(rec, uint16(len(fields)))
	rec = binary.BigEndian.AppendUint16(rec, uint16(scope))
	for _, f := range fields {
		ie, err := registry.GetInfoElement(f.name, registry.IANAEnterpriseID)
		if err != nil {
			return nil, fmt.Errorf("ipfix: options template %d: %w", id, err)
		}
		if ie.Len != f.length {
			return nil, fmt.Errorf("ipfix: options template %d: %s has length %d in the registry, %d here", id, f.name, ie.Len, f.length)
		}
		rec = binary.BigEndian.AppendUint16(rec, ie.ElementId)
		rec = binary.BigEndian.AppendUint16(rec, f.length)
	}
	msg := make([]byte, firstRecordAt, firstRecordAt+len(rec))
	return &announcement{id: id, setID: optionsTemplateSetID, msg: append(msg, rec...)}, nil
}

// optionsTemplates are the options templates of one exporter; nil ones are
// not sent.
type optionsTemplates struct {
	stats, interfaces, types *announcement
	typeRecords              [][]byte // built once: they depend on the PEN and the message limit only
	// sampling.go: nil unless the records are sampled
	samplingInterval, selector             *announcement
	samplingIntervalRecord, selectorRecord []byte
}

func newOptionsTemplates(cfg Config, limit int) (*optionsTemplates, error) {
	o := &optionsTemplates{}
	var err error
	if o.types, err = newOptionsTemplate(TemplateIDElementTypes, 2, elementTypeFields); err != nil {
		return nil, err
	}
	if o.typeRecords, err = elementTypeRecords(cfg.EnterpriseNumber, limit); err != nil {
		return nil, err
	}
	if cfg.StatsInterval > 0 {
		if o.stats, err = newOptionsTemplate(TemplateIDExporterStats, 1, statsFields); err != nil {
			return nil, err
		}
	}
	if cfg.InterfaceName != nil {
		if o.interfaces, err = newOptionsTemplate(TemplateIDInterfaceNames, 1, interfaceFields); err != nil {
			return nil, err
		}
	}
	if cfg.sampled() {
		if o.samplingInterval, err = newOptionsTemplate(TemplateIDSamplingInterval, 1, samplingIntervalFields); err != nil {
			return nil, err
		}
		if o.selector, err = newOptionsTemplate(TemplateIDSelector, 1, selectorFields); err != nil {
			return nil, err
		}
		o.samplingIntervalRecord, o.selectorRecord = samplingRecords(cfg.ObservationDomainID, cfg.SamplingInterval)
	}
	for _, a := range o.all() {
		if len(a.msg) > limit {
			return nil, fmt.Errorf("ipfix: options template %d does not fit a %d-octet message", a.id, limit)
		}
	}
	return o, nil
}

// all returns the templates to send, element types first: a collector that
// learns elements from them (ipfixDump --rfc5610) then knows every element
// before the first template that uses it.
func (o *optionsTemplates) all() []*announcement {
	var out []*announcement
	for _, a := range []*announcement{o.types, o.stats, o.interfaces, o.samplingInterval, o.selector} {
		if a != nil {
			out = append(out, a)
		}
	}
	return out
}

// elementTypeRecords encodes one RFC 5610 record per enterprise element the
// exporter sends, descriptions cut so that each record fits a message.
func elementTypeRecords(pen uint32, limit int) ([][]byte, error) {
	var out [][]byte
	for _, f := range exporter.EnterpriseFields(pen) {
		t, err := exporter.TypeOf(f)
		if err != nil {
			return nil, fmt.Errorf("ipfix: %w", err)
		}
		rec := binary.BigEndian.AppendUint32(nil, f.PEN)
		rec = binary.BigEndian.AppendUint16(rec, f.ID)
		rec = append(rec, t.DataType, t.Semantics)
		rec = binary.BigEndian.AppendUint16(rec, t.Units)
		rec = binary.BigEndian.AppendUint64(rec, t.RangeBegin)
		rec = binary.BigEndian.AppendUint64(rec, t.RangeEnd)
		rec = appendString(rec, f.Name)
		room := limit - firstRecordAt - len(rec) - 3 // 3: the longest length prefix
		if room < 0 {
			return nil, fmt.Errorf("ipfix: the type record of %s does not fit a %d-octet message", f.Name, limit)
		}
		out = append(out, appendString(rec, truncate(f.Description, room)))
	}
	return out, nil
}

// appendString appends a variable-length string (RFC 7011 §7): a 1-octet
// length, or 255 and a 2-octet length from 255 octets on.
func appendString(b []byte, s string) []byte {
	if len(s) < 255 {
		b = append(b, byte(len(s)))
	} else {
		b = append(b, 255)
		b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	}
	return append(b, s...)
}

// sendOptionsRecords packs records of an options template into as few
// messages as the limit allows, after the template, and sends them. Options
// records count in the sequence number (they are data records) but not in
// RecordsSent (flow records only).
func (e *Exporter) sendOptionsRecords(a *announcement, recs [][]byte) error {
	for len(recs) > 0 {
		if err := e.ready(a); err != nil {
			return err
		}
		msg := e.optionsBuf[:firstRecordAt]
		n := 0
		for n < len(recs) && len(msg)+len(recs[n]) <= e.limit {
			msg = append(msg, recs[n]...)
			n++
		}
		e.optionsBuf = msg[:0]
		if n == 0 { // records are cut to fit when built: a bug if it happens
			return fmt.Errorf("ipfix: options record of template %d longer than a %d-octet message", a.id, e.limit)
		}
		putHeaders(msg, a.id, e.exportTime, e.seq, e.cfg.ObservationDomainID)
		if err := e.write(msg); err != nil {
			e.stats.sendErrors.Add(1)
			return fmt.Errorf("ipfix: sending options records of template %d: %w", a.id, err)
		}
		e.seq += uint32(n)
		recs = recs[n:]
	}
	return nil
}
