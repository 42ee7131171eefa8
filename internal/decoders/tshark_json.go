package decoders

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Decoding is what tshark decoded from a capture of IPFIX messages.
type Decoding struct {
	Records        []Record
	SequenceErrors []SequenceError // tshark's "unexpected flow sequence" expert infos
}

// Record is one decoded data record.
type Record struct {
	Frame      int    // 1-based frame number: the datagram's position in the capture
	Domain     uint32 // observation domain id of its message
	TemplateID uint16
	Template   []TemplateField // the template tshark decoded it with, in order
	// Fields holds every field tshark names, nested trees flattened, values as
	// tshark prints them: "cflow.srcaddr", "cflow.octets",
	// "cflow.pie.ntop.retransmitted_in_pkts", "cflow.abstimestart"... A field
	// present several times keeps its values joined by commas.
	Fields map[string]string
	// Private holds, in template order, the values of the enterprise fields
	// tshark has no dissector for (cflow.enterprise_private_entry): one per
	// Template entry with Private set. Variable-length values come without
	// their length prefix.
	Private [][]byte
}

// TemplateField is one field of a template as tshark read it.
type TemplateField struct {
	PEN     uint32 // 0 for IANA elements
	ID      uint16 // without the enterprise bit
	Length  uint16 // 65535: variable length
	Private bool   // tshark does not know the element: its value is in Record.Private
}

// SequenceError is a message whose sequence number is not the one tshark
// expected from the records the domain sent before it.
type SequenceError struct {
	Frame         int
	Domain        uint32
	Expected, Got uint32
	Message       string // tshark's expert info text
}

// Missed is how many data records the gap skipped (from the exporter's
// point of view: records sent but never seen).
func (e SequenceError) Missed() uint32 { return e.Got - e.Expected }

// Enterprise maps the record's Private values to their elements, keyed
// "PEN:ID" (e.g. "32473:8").
func (r Record) Enterprise() (map[string][]byte, error) {
	out := map[string][]byte{}
	i := 0
	for _, f := range r.Template {
		if !f.Private {
			continue
		}
		if i >= len(r.Private) {
			return nil, fmt.Errorf("frame %d: template %d has more private fields than the %d values tshark printed",
				r.Frame, r.TemplateID, len(r.Private))
		}
		out[fmt.Sprintf("%d:%d", f.PEN, f.ID)] = r.Private[i]
		i++
	}
	if i != len(r.Private) {
		return nil, fmt.Errorf("frame %d: tshark printed %d private values, template %d has %d private fields",
			r.Frame, len(r.Private), r.TemplateID, i)
	}
	return out, nil
}

type templateKey struct {
	domain uint32
	id     uint16
}

// parseTsharkJSON reads `tshark -T json --no-duplicate-keys -J cflow`.
// tshark titles sets, templates, fields and flows with their index
// ("Set 2 [id=256]", "Field (3/26): ...", "Flow 1"), so their order is
// recovered from the keys rather than from JSON object order.
func parseTsharkJSON(data []byte) (*Decoding, error) {
	var packets []struct {
		Source struct {
			Layers map[string]any `json:"layers"`
		} `json:"_source"`
	}
	if err := json.Unmarshal(data, &packets); err != nil {
		return nil, err
	}
	d := &Decoding{}
	templates := map[templateKey][]TemplateField{}
	for i, p := range packets {
		msg, ok := p.Source.Layers["cflow"].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("frame %d: no IPFIX message decoded", i+1)
		}
		if err := d.addMessage(i+1, msg, templates); err != nil {
			return nil, fmt.Errorf("frame %d: %w", i+1, err)
		}
	}
	return d, nil
}

func (d *Decoding) addMessage(frame int, msg map[string]any, templates map[templateKey][]TemplateField) error {
	domain, err := uintField(msg, "cflow.od_id", 32)
	if err != nil {
		return err
	}
	if expert := findSequenceExpert(msg); expert != "" {
		got, err := uintField(msg, "cflow.sequence", 32)
		if err != nil {
			return err
		}
		expected, err := uintField(msg, "cflow.sequence_analysis.expected_sn", 32)
		if err != nil {
			return err
		}
		d.SequenceErrors = append(d.SequenceErrors, SequenceError{
			Frame: frame, Domain: uint32(domain), Expected: uint32(expected), Got: uint32(got), Message: expert})
	}
	for _, set := range indexedChildren(msg, "Set %d") {
		setID, err := uintField(set, "cflow.flowset_id", 16)
		if err != nil {
			return err
		}
		switch {
		case setID == 2:
			for _, tmpl := range indexedChildren(set, "Template (Id = %d") {
				id, fields, err := parseTemplate(tmpl)
				if err != nil {
					return err
				}
				templates[templateKey{uint32(domain), id}] = fields
			}
		case setID == 3: // options templates (exporter statistics, interface names, element types)
			for _, tmpl := range indexedChildren(set, "Options Template (Id = %d") {
				id, err := uintField(tmpl, "cflow.template_id", 16)
				if err != nil {
					return err
				}
				templates[templateKey{uint32(domain), uint16(id)}] = nil // their records are not flows
			}
		case setID >= 256:
			tmpl, ok := templates[templateKey{uint32(domain), uint16(setID)}]
			if ok && tmpl == nil {
				continue
			}
			for _, flow := range indexedChildren(set, "Flow %d") {
				if !ok {
					return fmt.Errorf("data set %d decoded without a template tshark saw", setID)
				}
				rec, err := parseRecord(flow)
				if err != nil {
					return err
				}
				rec.Frame, rec.Domain, rec.TemplateID, rec.Template = frame, uint32(domain), uint16(setID), tmpl
				d.Records = append(d.Records, rec)
			}
		}
	}
	return nil
}

func parseTemplate(tmpl map[string]any) (uint16, []TemplateField, error) {
	id, err := uintField(tmpl, "cflow.template_id", 16)
	if err != nil {
		return 0, nil, err
	}
	var fields []TemplateField
	for _, f := range indexedChildren(tmpl, "Field (%d/") {
		length, err := uintField(f, "cflow.template_field_length", 16)
		if err != nil {
			return 0, nil, err
		}
		tf := TemplateField{Length: uint16(length)}
		if _, ok := f["cflow.template_ipfix_field_pen"]; ok {
			pen, err := uintField(f, "cflow.template_ipfix_field_pen", 32)
			if err != nil {
				return 0, nil, err
			}
			tf.PEN = uint32(pen)
		}
		// IANA fields have template_ipfix_field_type; fields of vendors tshark
		// knows, template_<vendor>_field_type; the others, ..._type_enterprise.
		typeKey := ""
		for k := range f {
			if strings.HasPrefix(k, "cflow.template_") && (strings.HasSuffix(k, "_type") || strings.HasSuffix(k, "_type_enterprise")) {
				typeKey = k
			}
		}
		if typeKey == "" {
			return 0, nil, fmt.Errorf("template %d: field without a type: %v", id, f)
		}
		elem, err := uintField(f, typeKey, 16)
		if err != nil {
			return 0, nil, err
		}
		tf.ID = uint16(elem)
		tf.Private = typeKey == "cflow.template_ipfix_field_type_enterprise"
		fields = append(fields, tf)
	}
	return uint16(id), fields, nil
}

func parseRecord(flow map[string]any) (Record, error) {
	rec := Record{Fields: map[string]string{}}
	switch v := flow["cflow.enterprise_private_entry"].(type) {
	case nil:
	case string:
		b, err := colonHex(v)
		if err != nil {
			return rec, err
		}
		rec.Private = [][]byte{b}
	case []any:
		for _, e := range v {
			s, _ := e.(string)
			b, err := colonHex(s)
			if err != nil {
				return rec, err
			}
			rec.Private = append(rec.Private, b)
		}
	default:
		return rec, fmt.Errorf("unexpected cflow.enterprise_private_entry %v", v)
	}
	flatten(flow, rec.Fields)
	return rec, nil
}

// flatten copies the named fields of a tshark tree into out; "_tree"
// subtrees (e.g. cflow.timedelta_tree holding cflow.abstimestart) add their
// children but are not fields themselves.
func flatten(tree map[string]any, out map[string]string) {
	for k, v := range tree {
		if k == "cflow.enterprise_private_entry" {
			continue
		}
		switch v := v.(type) {
		case string:
			out[k] = v
		case map[string]any:
			flatten(v, out)
		case []any:
			var values []string
			for _, e := range v {
				switch e := e.(type) {
				case string:
					values = append(values, e)
				case map[string]any:
					flatten(e, out)
				}
			}
			if !strings.HasSuffix(k, "_tree") {
				out[k] = strings.Join(values, ",")
			}
		}
	}
}

// findSequenceExpert returns the text of tshark's unexpected-sequence expert
// info anywhere in the message tree, or "".
func findSequenceExpert(tree map[string]any) string {
	for k, v := range tree {
		sub, ok := v.(map[string]any)
		if !ok {
			continue
		}
		if k == "_ws.expert" {
			if _, ok := sub["cflow.unexpected_sequence_number"]; ok {
				msg, _ := sub["_ws.expert.message"].(string)
				return msg
			}
		}
		if msg := findSequenceExpert(sub); msg != "" {
			return msg
		}
	}
	return ""
}

// indexedChildren returns the object children whose key starts with
// format's single %d, ordered by that number.
func indexedChildren(tree map[string]any, format string) []map[string]any {
	type child struct {
		n   int
		obj map[string]any
	}
	var children []child
	for k, v := range tree {
		obj, ok := v.(map[string]any)
		if !ok {
			continue
		}
		var n int
		if _, err := fmt.Sscanf(k, format, &n); err == nil {
			children = append(children, child{n, obj})
		}
	}
	slices.SortFunc(children, func(a, b child) int { return a.n - b.n })
	out := make([]map[string]any, len(children))
	for i, c := range children {
		out[i] = c.obj
	}
	return out
}

func uintField(tree map[string]any, key string, bits int) (uint64, error) {
	s, ok := tree[key].(string)
	if !ok {
		return 0, fmt.Errorf("no %s", key)
	}
	v, err := strconv.ParseUint(s, 10, bits)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", key, err)
	}
	return v, nil
}

// colonHex parses tshark's bytes notation, "4e:45:54".
func colonHex(s string) ([]byte, error) {
	b, err := hex.DecodeString(strings.ReplaceAll(s, ":", ""))
	if err != nil {
		return nil, fmt.Errorf("bytes %q: %w", s, err)
	}
	return b, nil
}
