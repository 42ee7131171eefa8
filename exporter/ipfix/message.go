package ipfix

import (
	"encoding/binary"
	"fmt"

	"github.com/podflow/podflow/exporter"
	"github.com/podflow/podflow/flow"
)

const (
	ipfixVersion    = 10
	headerLen       = 16 // message header (RFC 7011 §3.1)
	setHeaderLen    = 4  // set header (§3.3.2)
	templateSetID   = 2
	setStart        = headerLen
	firstRecordAt   = headerLen + setHeaderLen
	templateHdrSize = 4
)

// putHeaders writes the message header and the header of its only set into
// msg, whose length is the exact message length.
func putHeaders(msg []byte, setID uint16, exportTime, seq, domain uint32) {
	binary.BigEndian.PutUint16(msg[0:], ipfixVersion)
	binary.BigEndian.PutUint16(msg[2:], uint16(len(msg)))
	binary.BigEndian.PutUint32(msg[4:], exportTime)
	binary.BigEndian.PutUint32(msg[8:], seq)
	binary.BigEndian.PutUint32(msg[12:], domain)
	binary.BigEndian.PutUint16(msg[setStart:], setID)
	binary.BigEndian.PutUint16(msg[setStart+2:], uint16(len(msg)-headerLen))
}

// templateMessage returns a message holding one template set with the one
// template record of t. Its headers are written before each send.
func templateMessage(t *template) []byte {
	msg := make([]byte, firstRecordAt, firstRecordAt+len(t.encoded))
	return append(msg, t.encoded...)
}

// layout is one template with its messages.
type layout struct {
	tpl  *template
	tmpl announcement // the template message, sent once per round
	data *dataMessage
}

func newLayout(ipv6 bool, groups exporter.Group, pen uint32, limit int) (*layout, error) {
	t, err := newTemplate(ipv6, groups, pen)
	if err != nil {
		return nil, err
	}
	l := &layout{tpl: t, tmpl: announcement{id: t.id, setID: templateSetID, msg: templateMessage(t)}, data: newDataMessage(t)}
	if len(l.tmpl.msg) > limit {
		return nil, fmt.Errorf("template %d does not fit a %d-octet message", t.id, limit)
	}
	if err := l.data.resize(limit); err != nil {
		return nil, err
	}
	return l, nil
}

// dataMessage packs the data records of one template into one message with
// a single data set, up to the message size limit; the buffer is reused
// from message to message. Records with variable-length fields differ in
// size, so the limit is checked record by record.
type dataMessage struct {
	tpl   *template
	buf   []byte
	count int // records in buf
	limit int // message size limit
	// packets and octets of the records in buf, counted lost if it fails
	packets, octets uint64
}

func newDataMessage(t *template) *dataMessage {
	return &dataMessage{tpl: t}
}

// resize sets the message size limit (it depends on the collector's address
// family). It reports an error when not even the smallest record fits.
func (m *dataMessage) resize(limit int) error {
	if firstRecordAt+m.tpl.minLen > limit {
		return fmt.Errorf("ipfix: a %d-octet message cannot hold one %d-octet record of template %d",
			limit, m.tpl.minLen, m.tpl.id)
	}
	m.limit = limit
	m.buf = nil // allocated on first use: most templates never carry a record
	m.count = 0
	return nil
}

func (m *dataMessage) reset() {
	if m.buf != nil {
		m.buf = m.buf[:firstRecordAt]
	}
	m.count = 0
	m.packets, m.octets = 0, 0
}

// add encodes r after the records already in the message. It returns false,
// leaving the message as it was, when r does not fit in what is left.
func (m *dataMessage) add(r *flow.Record) (bool, error) {
	if m.buf == nil {
		m.buf = make([]byte, firstRecordAt, m.limit)
	}
	prev := len(m.buf)
	m.tpl.fill(r)
	buf, err := m.tpl.data.AppendToBuffer(m.buf)
	if err != nil {
		m.buf = m.buf[:prev]
		return false, fmt.Errorf("ipfix: encoding record of template %d: %w", m.tpl.id, err)
	}
	if len(buf) > m.limit {
		m.buf = buf[:prev]
		return false, nil
	}
	m.buf = buf
	m.count++
	m.packets += r.Packets
	m.octets += r.Octets
	return true, nil
}

// finish writes the headers; the message is then buf, exactly.
func (m *dataMessage) finish(exportTime, seq, domain uint32) []byte {
	putHeaders(m.buf, m.tpl.id, exportTime, seq, domain)
	return m.buf
}
