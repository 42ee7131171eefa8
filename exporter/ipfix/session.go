package ipfix

import (
	"fmt"
	"io"
	"time"

	"go.uber.org/zap"
)

// usable makes sure there is a connection to write the next message to: it
// drops a TCP connection the collector has closed, and dials when there is
// none (at most once per Export call and per ReconnectBackoff, so a dead
// collector costs the caller at most one DialTimeout per call).
func (e *Exporter) usable() bool {
	if e.conn != nil {
		if err := e.peer.closed(); err != nil {
			e.drop("collector closed the connection", err)
		}
	}
	if e.conn == nil {
		e.connect()
	}
	return e.conn != nil
}

// connect dials the collector and sends the templates: a new transport
// session, whose sequence number starts at 0.
func (e *Exporter) connect() {
	if e.dialedThisCall || (!e.lastDial.IsZero() && e.now.Sub(e.lastDial) < e.cfg.ReconnectBackoff) {
		return
	}
	e.dialedThisCall = true
	e.lastDial = e.now
	conn, err := e.dial(e.cfg.Network, e.cfg.Address, e.cfg.DialTimeout)
	if err != nil {
		if e.dialFailing {
			e.log.Debug("ipfix: collector still unreachable", zap.Error(err))
		} else {
			e.log.Warn("ipfix: cannot connect to collector", zap.Error(err))
		}
		e.dialFailing = true
		e.dialErr = err
		return
	}
	e.conn = conn
	e.dialErr = nil
	if e.cfg.stream() {
		e.peer = newPeerChecker(conn)
	}
	e.seq = 0
	if e.connectedOnce {
		e.stats.reconnects.Add(1)
		e.log.Info("ipfix: reconnected to collector")
	}
	e.connectedOnce = true
	e.dialFailing = false
	e.sendTemplates()
}

// drop closes a TCP connection that failed; the next message dials again.
func (e *Exporter) drop(why string, err error) {
	e.log.Warn("ipfix: "+why, zap.Error(err))
	_ = e.conn.Close() // already broken: its close error adds nothing
	e.conn = nil
	e.peer = peerChecker{}
}

// sendTemplates starts a template round, at connect and (UDP) every
// TemplateRefresh: it sends the options templates and the element type
// records, then the templates of records without measurements, and makes
// every other template be sent again before its next record and every
// interface be named again. Over UDP a failure leaves templatesAt alone, so
// the next Export tries again.
func (e *Exporter) sendTemplates() {
	for _, l := range e.layouts {
		l.tmpl.sent = false
	}
	if e.options != nil {
		for _, a := range e.options.all() {
			a.sent = false
		}
	}
	clear(e.named)
	err := e.sendOptionsRound()
	for fam := 0; fam < 2 && err == nil; fam++ {
		var base *layout
		if base, err = e.layout(fam, 0); err == nil {
			err = e.announce(&base.tmpl)
		}
	}
	if err != nil {
		e.log.Warn("ipfix: sending templates failed", zap.Error(err))
		return
	}
	e.templatesAt = e.now
}

// sendOptionsRound sends the options templates, the RFC 5610 records that
// describe the enterprise elements before any template uses them, and the
// sampling records (sampling.go) before any flow record they scale.
func (e *Exporter) sendOptionsRound() error {
	if e.options == nil {
		return nil
	}
	for _, a := range e.options.all() {
		if err := e.announce(a); err != nil {
			return err
		}
	}
	if err := e.sendOptionsRecords(e.options.types, e.options.typeRecords); err != nil {
		return err
	}
	return e.sendSamplingRecords()
}

// notConnected is the error of records that found no connection, with why
// the last connect failed (a TLS certificate the collector rejected, say).
func (e *Exporter) notConnected() error {
	if e.dialErr != nil {
		return fmt.Errorf("%w (last connect: %w)", errNotConnected, e.dialErr)
	}
	return errNotConnected
}

// ready makes sure there is a connection and a's template went out on it.
func (e *Exporter) ready(a *announcement) error {
	if !e.usable() {
		return e.notConnected()
	}
	return e.announce(a)
}

// announce sends a template unless it was sent in this round.
func (e *Exporter) announce(a *announcement) error {
	if a.sent {
		return nil
	}
	if !e.usable() {
		return e.notConnected()
	}
	if a.sent { // usable() connected, and the connect round sent it
		return nil
	}
	putHeaders(a.msg, a.setID, e.exportTime, e.seq, e.cfg.ObservationDomainID)
	if err := e.write(a.msg); err != nil {
		e.stats.sendErrors.Add(1)
		return fmt.Errorf("ipfix: sending template %d: %w", a.id, err)
	}
	e.stats.templatesSent.Add(1)
	a.sent = true
	return nil
}

// write sends one whole message. A TCP or TLS message not fully written
// leaves the stream unframeable, so the connection is dropped; UDP carries on.
func (e *Exporter) write(msg []byte) error {
	stream := e.cfg.stream()
	if stream {
		// Real time, not cfg.Now: a collector that stopped reading must not
		// block the drain loop. Deadlines never fail on a live conn.
		_ = e.conn.SetWriteDeadline(time.Now().Add(e.cfg.DialTimeout))
	}
	n, err := e.conn.Write(msg)
	if err == nil && n != len(msg) {
		err = io.ErrShortWrite
	}
	if err != nil {
		if stream {
			e.drop("writing to collector failed", err)
		}
		return err
	}
	e.stats.messagesSent.Add(1)
	e.stats.bytesSent.Add(uint64(n))
	return nil
}
