package collector

import (
	"errors"
	"fmt"
)

// Decoder decodes the IPFIX messages of one transport session outside a
// Collector (a capture, an encoder's output under test). Like a collector
// it remembers templates from message to message. Not safe for concurrent
// use.
type Decoder struct {
	s *session
}

// NewDecoder returns a decoder whose records name exporter ("ip:port") as
// their Exporter.
func NewDecoder(exporter string) *Decoder {
	return &Decoder{s: newSession(exporter)}
}

// Decode decodes one whole message. It returns the records it decoded, and
// an error joining what it could not: malformed parts, fields that made no
// sense, data sets whose template has not arrived, and records the sequence
// numbers say are missing.
func (d *Decoder) Decode(msg []byte) ([]Received, error) {
	recs, res := d.s.decodeMessage(msg)
	errs := res.errs
	if res.noTemplateSets > 0 {
		errs = append(errs, fmt.Errorf("%d data sets without a template", res.noTemplateSets))
	}
	if res.missing > 0 {
		errs = append(errs, fmt.Errorf("sequence number says %d records are missing", res.missing))
	}
	return recs, errors.Join(errs...)
}
