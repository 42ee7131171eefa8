package ipfix

import (
	"errors"
	"fmt"
	"net"
	"time"

	"go.uber.org/zap"

	"github.com/podflow/podflow/exporter"
	"github.com/podflow/podflow/flow"
)

// Exporter sends flow records to one IPFIX collector. Export and Close must
// be called from one goroutine; Stats from any.
type Exporter struct {
	cfg  Config
	log  *zap.Logger
	dial func(network, address string, timeout time.Duration) (net.Conn, error)

	templateMsgs [2][]byte       // [0] IPv4, [1] IPv6
	dataMsgs     [2]*dataMessage // [0] IPv4, [1] IPv6

	conn          net.Conn
	peer          peerChecker // TCP only
	seq           uint32      // data records sent in this transport session
	connectedOnce bool
	dialFailing   bool      // last dial failed: log the next failures quietly
	lastDial      time.Time // by cfg.Now
	templatesAt   time.Time // last successful template send, by cfg.Now
	closed        bool

	// per Export call
	now            time.Time
	exportTime     uint32
	dialedThisCall bool

	stats counters
}

var _ exporter.Exporter = (*Exporter)(nil)

var (
	errClosed       = errors.New("ipfix: exporter closed")
	errBadAddresses = errors.New("ipfix: record has no valid address pair")
)

// New builds the templates from exporter.Fields and connects to the
// collector, sending the templates. A collector that cannot be reached is
// not an error here: Export retries the connection (and counts what it
// cannot send).
func New(cfg Config, log *zap.Logger) (*Exporter, error) {
	return newExporter(cfg, log, net.DialTimeout)
}

func newExporter(cfg Config, log *zap.Logger, dial func(string, string, time.Duration) (net.Conn, error)) (*Exporter, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	e := &Exporter{
		cfg:  cfg,
		log:  log.With(zap.String("collector", cfg.Network+"://"+cfg.Address)),
		dial: dial,
	}
	limit := messageLimit(cfg.MTU, cfg.Address)
	for i, id := range []uint16{TemplateIDIPv4, TemplateIDIPv6} {
		t, err := newTemplate(id, id == TemplateIDIPv6)
		if err != nil {
			return nil, err
		}
		e.templateMsgs[i] = templateMessage(t)
		if len(e.templateMsgs[i]) > limit {
			return nil, fmt.Errorf("ipfix: MTU %d too small for template %d", cfg.MTU, id)
		}
		e.dataMsgs[i] = newDataMessage(t)
		if err := e.dataMsgs[i].resize(limit); err != nil {
			return nil, fmt.Errorf("ipfix: MTU %d: %w", cfg.MTU, err)
		}
	}
	e.beginCall()
	e.connect()
	return e, nil
}

// Export encodes and sends all records before returning. Records that
// could not be sent are counted in Stats and reported in the error.
func (e *Exporter) Export(records []flow.Record) error {
	if len(records) == 0 {
		return nil
	}
	if e.closed {
		e.stats.recordsLost.Add(uint64(len(records)))
		return errClosed
	}
	e.beginCall()
	var failed batchFailure
	if e.usable() && e.cfg.Network == "udp" && !e.now.Before(e.templatesAt.Add(e.cfg.TemplateRefresh)) {
		e.sendTemplates()
	}
	for i := range records {
		r := &records[i]
		m := e.messageFor(r)
		if m == nil {
			e.stats.recordsLost.Add(1)
			failed.add(1, errBadAddresses)
			continue
		}
		if err := m.add(r); err != nil {
			e.stats.recordsLost.Add(1)
			failed.add(1, err)
			continue
		}
		if m.full() {
			failed.add(e.flush(m))
		}
	}
	for _, m := range e.dataMsgs {
		failed.add(e.flush(m))
	}
	return failed.err(len(records), e.cfg.Address)
}

// Stats returns running totals; safe from any goroutine.
func (e *Exporter) Stats() exporter.Stats { return e.stats.snapshot() }

// Close closes the connection. Nothing is buffered between Export calls.
func (e *Exporter) Close() error {
	if e.closed {
		return nil
	}
	e.closed = true
	if e.conn == nil {
		return nil
	}
	err := e.conn.Close()
	e.conn = nil
	if err != nil {
		return fmt.Errorf("ipfix: closing connection to %s: %w", e.cfg.Address, err)
	}
	return nil
}

func (e *Exporter) beginCall() {
	e.now = e.cfg.Now()
	e.exportTime = uint32(e.now.Unix())
	e.dialedThisCall = false
}

// messageFor picks the data message of r's address family; nil when r has
// no usable addresses. A v4/v6 mix goes to IPv6 with the v4 side mapped.
func (e *Exporter) messageFor(r *flow.Record) *dataMessage {
	src, dst := r.SrcAddr.Unmap(), r.DstAddr.Unmap()
	if !src.IsValid() || !dst.IsValid() {
		return nil
	}
	if src.Is4() && dst.Is4() {
		return e.dataMsgs[0]
	}
	return e.dataMsgs[1]
}

// flush sends the message's records, or counts them lost; it returns how
// many were lost and why.
func (e *Exporter) flush(m *dataMessage) (int, error) {
	n := m.count
	if n == 0 {
		return 0, nil
	}
	defer m.reset()
	err := errNotConnected
	if e.usable() {
		err = e.write(m.finish(e.exportTime, e.seq, e.cfg.ObservationDomainID))
	}
	if err != nil {
		e.stats.recordsLost.Add(uint64(n))
		e.stats.sendErrors.Add(1)
		return n, err
	}
	e.seq += uint32(n)
	e.stats.recordsSent.Add(uint64(n))
	return 0, nil
}

// batchFailure sums up the records one Export call lost, keeping the first
// cause: a dead collector would otherwise yield one error per message.
type batchFailure struct {
	lost  int
	first error
}

func (b *batchFailure) add(lost int, err error) {
	b.lost += lost
	if b.first == nil {
		b.first = err
	}
}

func (b *batchFailure) err(total int, collector string) error {
	if b.lost == 0 {
		return nil
	}
	return fmt.Errorf("ipfix: %d of %d records not sent to %s: %w", b.lost, total, collector, b.first)
}
