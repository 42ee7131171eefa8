package collector

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/vmware/go-ipfix/pkg/entities"
)

// Set ids of RFC 7011 §3.3.2; data sets use the template id (≥ 256).
const (
	templateSetID        uint16 = 2
	optionsTemplateSetID uint16 = 3
	minDataSetID         uint16 = 256
	variableLength              = entities.VariableLength
)

// field is one field specifier of a template, resolved against the registry.
type field struct {
	key    ieKey
	name   string
	length uint16 // variableLength when the length is carried in each record
	kind   valueKind
}

// template is a decoded (options) template record.
type template struct {
	id         uint16
	fields     []field
	scopeCount int // > 0 for options templates
	minLen     int // shortest possible data record: padding is shorter than this
}

// templateRecord is one record of a template set: a definition, or a
// withdrawal (fields == nil) of one template or, when id is the set id, of all.
type templateRecord struct {
	tmpl     *template
	withdraw bool
}

// parseTemplateSet decodes the records of a template (options=false) or
// options template set body. It returns what it decoded before the first
// malformed record; problems that only spoil a field (a length the field's
// type cannot have) come back in fieldErrs and leave that field as raw octets.
func parseTemplateSet(body []byte, options bool) (recs []templateRecord, fieldErrs []error, err error) {
	setID := templateSetID
	if options {
		setID = optionsTemplateSetID
	}
	for len(body) >= 4 {
		id := binary.BigEndian.Uint16(body)
		count := int(binary.BigEndian.Uint16(body[2:]))
		if count == 0 { // withdrawal: header only; the set id as template id withdraws all (RFC 7011 §8.1)
			if id < minDataSetID && id != setID {
				return recs, fieldErrs, fmt.Errorf("template withdrawal for invalid template id %d", id)
			}
			recs = append(recs, templateRecord{tmpl: &template{id: id}, withdraw: true})
			body = body[4:]
			continue
		}
		if id < minDataSetID {
			return recs, fieldErrs, fmt.Errorf("invalid template id %d", id)
		}
		body = body[4:]
		scope := 0
		if options {
			if len(body) < 2 {
				return recs, fieldErrs, fmt.Errorf("options template %d: truncated scope field count", id)
			}
			scope = int(binary.BigEndian.Uint16(body))
			body = body[2:]
			if scope == 0 || scope > count {
				return recs, fieldErrs, fmt.Errorf("options template %d: scope field count %d of %d fields", id, scope, count)
			}
		}
		tmpl := &template{id: id, scopeCount: scope, fields: make([]field, 0, count)}
		for i := range count {
			f, n, err := parseFieldSpecifier(body)
			if err != nil {
				return recs, fieldErrs, fmt.Errorf("template %d field %d: %w", id, i, err)
			}
			body = body[n:]
			var ferr error
			f.kind, ferr = kindFor(f)
			if ferr != nil {
				fieldErrs = append(fieldErrs, fmt.Errorf("template %d field %s: %w", id, f.name, ferr))
			}
			tmpl.fields = append(tmpl.fields, f)
			if f.length == variableLength {
				tmpl.minLen++
			} else {
				tmpl.minLen += int(f.length)
			}
		}
		if tmpl.minLen == 0 {
			// Records of zero length would make every data set an endless loop.
			return recs, fieldErrs, fmt.Errorf("template %d: data records would be empty", id)
		}
		recs = append(recs, templateRecord{tmpl: tmpl})
	}
	if !allZero(body) {
		return recs, fieldErrs, errors.New("non-zero padding after the last template record")
	}
	return recs, fieldErrs, nil
}

// parseFieldSpecifier reads one field specifier (RFC 7011 §3.2) and returns
// it with the number of bytes it took.
func parseFieldSpecifier(b []byte) (field, int, error) {
	if len(b) < 4 {
		return field{}, 0, errors.New("truncated field specifier")
	}
	id := binary.BigEndian.Uint16(b)
	f := field{length: binary.BigEndian.Uint16(b[2:])}
	n := 4
	if id&0x8000 != 0 {
		if len(b) < 8 {
			return field{}, 0, errors.New("truncated enterprise number")
		}
		f.key = ieKey{pen: binary.BigEndian.Uint32(b[4:]), id: id & 0x7fff}
		n = 8
	} else {
		f.key = ieKey{id: id}
	}
	if ie, ok := lookupIE(f.key); ok {
		f.name = ie.Name
	} else {
		f.name = unknownIEName(f.key)
	}
	return f, n, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
