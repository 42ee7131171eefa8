package collector

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

const (
	messageHeaderLen = 16
	setHeaderLen     = 4
	ipfixVersion     = 10

	// Bounds on what one exporter can make us remember, so hostile input
	// cannot grow memory without limit.
	maxTemplatesPerSession = 4096
	maxDomainsPerSession   = 1024
)

type templateKey struct {
	domain uint32
	id     uint16
}

// seqState tracks the sequence number expected next from one observation domain.
type seqState struct {
	next  uint32
	known bool
}

// session is what the collector remembers about one exporter transport
// session (a TCP connection, or a UDP source address): its templates and
// sequence numbers (RFC 7011 §8: templates are scoped to the session).
type session struct {
	exporter  string
	templates map[templateKey]*template
	seq       map[uint32]seqState
	sampling  map[uint32]uint32 // by observation domain: the interval last announced (sampling.go)
}

func newSession(exporter string) *session {
	return &session{exporter: exporter, templates: make(map[templateKey]*template), seq: make(map[uint32]seqState),
		sampling: make(map[uint32]uint32)}
}

// decodeResult is what one message contributed, besides its records.
type decodeResult struct {
	errs           []error // each one is a dropped message, set or template, or a field that made no sense
	templates      uint64  // template and options template records received
	noTemplateSets uint64  // data sets whose template we have not seen (normal after a collector restart over UDP)
	missing        uint64  // data records the sequence numbers say were lost before this message
}

// decodeMessage decodes one IPFIX message and returns its data records.
// It never panics on malformed input: every length is checked before use.
func (s *session) decodeMessage(msg []byte) ([]Received, decodeResult) {
	var res decodeResult
	if len(msg) < messageHeaderLen {
		res.errs = append(res.errs, fmt.Errorf("message of %d bytes is shorter than the IPFIX header", len(msg)))
		return nil, res
	}
	if v := binary.BigEndian.Uint16(msg); v != ipfixVersion {
		res.errs = append(res.errs, fmt.Errorf("version %d is not IPFIX (10)", v))
		return nil, res
	}
	if l := int(binary.BigEndian.Uint16(msg[2:])); l != len(msg) {
		res.errs = append(res.errs, fmt.Errorf("header says %d bytes, message has %d", l, len(msg)))
		return nil, res
	}
	hdr := Received{
		ExportTime:          time.Unix(int64(binary.BigEndian.Uint32(msg[4:])), 0).UTC(),
		SequenceNumber:      binary.BigEndian.Uint32(msg[8:]),
		ObservationDomainID: binary.BigEndian.Uint32(msg[12:]),
		Exporter:            s.exporter,
	}
	var out []Received
	seqReliable := true // false once a data set could not be counted
	body := msg[messageHeaderLen:]
	for len(body) > 0 {
		if len(body) < setHeaderLen {
			res.errs = append(res.errs, fmt.Errorf("%d stray bytes after the last set", len(body)))
			break
		}
		id := binary.BigEndian.Uint16(body)
		l := int(binary.BigEndian.Uint16(body[2:]))
		if l < setHeaderLen || l > len(body) {
			res.errs = append(res.errs, fmt.Errorf("set %d: length %d does not fit the %d bytes left", id, l, len(body)))
			seqReliable = false
			break // set boundaries are lost: nothing after this can be trusted
		}
		setBody := body[setHeaderLen:l]
		body = body[l:]
		switch {
		case id == templateSetID || id == optionsTemplateSetID:
			s.addTemplates(hdr.ObservationDomainID, setBody, id == optionsTemplateSetID, &res)
		case id >= minDataSetID:
			recs, err := s.decodeDataSet(hdr, id, setBody, &res)
			switch {
			case errors.Is(err, errNoTemplate):
				res.noTemplateSets++
				seqReliable = false
			case err != nil:
				res.errs = append(res.errs, err)
				seqReliable = false
			default:
				out = append(out, recs...)
			}
		default:
			res.errs = append(res.errs, fmt.Errorf("set id %d is reserved", id))
		}
	}
	res.missing = s.checkSequence(hdr.ObservationDomainID, hdr.SequenceNumber, uint32(len(out)), seqReliable)
	return out, res
}

// addTemplates stores the templates of one (options) template set.
func (s *session) addTemplates(domain uint32, body []byte, options bool, res *decodeResult) {
	recs, fieldErrs, err := parseTemplateSet(body, options)
	res.errs = append(res.errs, fieldErrs...)
	if err != nil {
		res.errs = append(res.errs, err)
	}
	for _, rec := range recs {
		res.templates++
		id := rec.tmpl.id
		switch {
		case rec.withdraw && id < minDataSetID: // all templates (options templates) of the domain
			for k, t := range s.templates {
				if k.domain == domain && (t.scopeCount > 0) == options {
					delete(s.templates, k)
				}
			}
		case rec.withdraw:
			delete(s.templates, templateKey{domain, id})
		default:
			k := templateKey{domain, id}
			if _, exists := s.templates[k]; !exists && len(s.templates) >= maxTemplatesPerSession {
				res.errs = append(res.errs, fmt.Errorf("template %d dropped: %d templates already held for this exporter", id, len(s.templates)))
				continue
			}
			s.templates[k] = rec.tmpl
		}
	}
}

var errNoTemplate = errors.New("no template for data set")

// decodeDataSet decodes all records of one data set, or none: a set that is
// malformed anywhere is dropped whole, as its boundaries cannot be trusted.
// Records whose fields make no sense (see recordBuilder.problems) are kept,
// and their problems reported in res.
func (s *session) decodeDataSet(hdr Received, id uint16, body []byte, res *decodeResult) ([]Received, error) {
	t, ok := s.templates[templateKey{hdr.ObservationDomainID, id}]
	if !ok {
		return nil, errNoTemplate
	}
	var out []Received
	for len(body) >= t.minLen {
		r := hdr
		r.TemplateID = id
		n, problems, err := decodeDataRecord(t, body, &r)
		if err != nil {
			return nil, fmt.Errorf("data set %d record %d: %w", id, len(out), err)
		}
		for _, p := range problems {
			res.errs = append(res.errs, fmt.Errorf("data set %d record %d: %w", id, len(out), p))
		}
		s.noteSampling(&r)
		body = body[n:]
		out = append(out, r)
	}
	if !allZero(body) {
		return nil, fmt.Errorf("data set %d: %d bytes of non-zero padding", id, len(body))
	}
	return out, nil
}

// decodeDataRecord decodes one data record into r and returns its length,
// and the problems of fields that were well-formed but made no sense.
func decodeDataRecord(t *template, b []byte, r *Received) (int, []error, error) {
	builder := recordBuilder{r: r}
	r.Options = t.scopeCount > 0
	n := 0
	for i, f := range t.fields {
		l := int(f.length)
		if f.length == variableLength { // RFC 7011 §7: 1-byte length, or 255 then a 2-byte length
			if n >= len(b) {
				return 0, nil, fmt.Errorf("field %s: truncated length", f.name)
			}
			l = int(b[n])
			n++
			if l == 255 {
				if n+2 > len(b) {
					return 0, nil, fmt.Errorf("field %s: truncated length", f.name)
				}
				l = int(binary.BigEndian.Uint16(b[n:]))
				n += 2
			}
		}
		if n+l > len(b) {
			return 0, nil, fmt.Errorf("field %s: %d bytes needed, %d left", f.name, l, len(b)-n)
		}
		v := b[n : n+l]
		n += l
		if f.key == (ieKey{id: iePaddingOctets}) {
			continue
		}
		if r.Options {
			key := builder.extra(f.name, decodeValue(f.kind, v))
			if i < t.scopeCount {
				r.Scope = append(r.Scope, key)
			}
		} else {
			builder.add(f, decodeValue(f.kind, v))
		}
	}
	if !r.Options {
		builder.finish()
	}
	return n, builder.problems, nil
}

// checkSequence compares the message's sequence number with the count of
// data records seen so far and returns how many went missing (forward gaps
// only: a late, reordered message is not counted twice). After a message
// whose records could not all be counted the next one sets a new baseline.
func (s *session) checkSequence(domain, seq, records uint32, reliable bool) uint64 {
	st, ok := s.seq[domain]
	if !ok && len(s.seq) >= maxDomainsPerSession {
		clear(s.seq)
	}
	var missing uint64
	switch {
	case !reliable:
		s.seq[domain] = seqState{}
		return 0
	case !st.known:
	case seq-st.next < 1<<31:
		missing = uint64(seq - st.next)
	default: // seq is behind: a late or duplicated message
		return 0
	}
	s.seq[domain] = seqState{next: seq + records, known: true}
	return missing
}
