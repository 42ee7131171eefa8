package netflow9

import (
	"encoding/binary"

	"github.com/podflow/podflow/flow"
)

const (
	version           = 9
	headerLen         = 20 // packet header (RFC 3954 §5.1)
	flowSetHeaderLen  = 4  // FlowSet id and length
	templateFlowSetID = 0
	templateRecords   = 2 // both templates travel together
)

// templateFlowSet holds both template records in one FlowSet; its length
// is a multiple of 4 by construction (4 + 4 octets per field each).
var templateFlowSet = func() []byte {
	b := binary.BigEndian.AppendUint16(nil, templateFlowSetID)
	b = binary.BigEndian.AppendUint16(b, uint16(flowSetHeaderLen+len(templateIPv4.encoded)+len(templateIPv6.encoded)))
	b = append(b, templateIPv4.encoded...)
	return append(b, templateIPv6.encoded...)
}()

// minPacketLen is the smallest limit that holds the templates and one
// record of each family, so every packet can carry at least one record
// (plus the sampling FlowSets when sampled).
var minPacketLen = headerLen + len(templateFlowSet) + flowSetHeaderLen + padded(templateIPv6.recLen)

// padded rounds n up to a multiple of 4: data FlowSets are padded so the
// next FlowSet starts 32-bit aligned (RFC 3954 §5.3).
func padded(n int) int { return (n + 3) &^ 3 }

// packet is one export packet being filled: the header, the template
// FlowSet when the packet carries templates, then one data FlowSet per
// run of records of the same template. The buffer is reused.
type packet struct {
	buf           []byte
	limit         int
	templates     []byte // templateFlowSet, then the sampling FlowSets (sampling.go) when sampled
	templateCount int    // records in templates, for the header's count
	started       bool
	withTemplates bool
	data          int   // data records
	clamped       int   // of which records with a time clamped to Boot
	latestMs      int64 // latest record end, ms since Boot
	set           int   // offset of the open data FlowSet, or -1
	setTpl        *template
}

// start begins an empty packet.
func (p *packet) start(withTemplates bool) {
	if p.buf == nil {
		p.buf = make([]byte, 0, p.limit)
	}
	p.buf = p.buf[:headerLen]
	p.started, p.withTemplates = true, withTemplates
	p.data, p.clamped, p.latestMs, p.set, p.setTpl = 0, 0, 0, -1, nil
	if withTemplates {
		p.buf = append(p.buf, p.templates...)
	}
}

// add appends r's record. It returns false, leaving the records already in
// the packet as they are, when the record does not fit.
func (p *packet) add(t *template, r *flow.Record, u uptimes, clamped bool, lastMs int64) bool {
	if p.setTpl != t {
		p.closeSet()
	}
	start := p.set
	end := len(p.buf) + t.recLen
	if start < 0 {
		start = len(p.buf)
		end += flowSetHeaderLen
	}
	if start+padded(end-start) > p.limit {
		return false
	}
	if p.set < 0 {
		p.set, p.setTpl = start, t
		p.buf = binary.BigEndian.AppendUint16(p.buf, t.id)
		p.buf = append(p.buf, 0, 0) // length, written by closeSet
	}
	p.buf = t.appendRecord(p.buf, r, u)
	p.data++
	if clamped {
		p.clamped++
	}
	p.latestMs = max(p.latestMs, lastMs)
	return true
}

// closeSet pads the open data FlowSet and writes its length.
func (p *packet) closeSet() {
	if p.set < 0 {
		return
	}
	for (len(p.buf)-p.set)%4 != 0 {
		p.buf = append(p.buf, 0)
	}
	binary.BigEndian.PutUint16(p.buf[p.set+2:], uint16(len(p.buf)-p.set))
	p.set, p.setTpl = -1, nil
}

// count is the header's record count: template and data records.
func (p *packet) count() int {
	if p.withTemplates {
		return p.data + p.templateCount
	}
	return p.data
}

// finish closes the packet and writes its header; the packet is then buf.
func (p *packet) finish(uptime, unixSecs, seq, sourceID uint32) []byte {
	p.closeSet()
	binary.BigEndian.PutUint16(p.buf[0:], version)
	binary.BigEndian.PutUint16(p.buf[2:], uint16(p.count()))
	binary.BigEndian.PutUint32(p.buf[4:], uptime)
	binary.BigEndian.PutUint32(p.buf[8:], unixSecs)
	binary.BigEndian.PutUint32(p.buf[12:], seq)
	binary.BigEndian.PutUint32(p.buf[16:], sourceID)
	return p.buf
}
