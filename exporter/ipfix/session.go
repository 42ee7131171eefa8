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
		return
	}
	e.conn = conn
	if e.cfg.Network == "tcp" {
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
// TemplateRefresh: it sends the templates of records without measurements
// at once, and makes every other template be sent again before its next
// record. Over UDP a failure leaves templatesAt alone, so the next Export
// tries again.
func (e *Exporter) sendTemplates() {
	for _, l := range e.layouts {
		l.announced = false
	}
	for fam := range 2 {
		base, err := e.layout(fam, 0)
		if err == nil {
			err = e.announce(base)
		}
		if err != nil {
			e.log.Warn("ipfix: sending templates failed", zap.Error(err))
			return
		}
	}
	e.templatesAt = e.now
}

// announce sends l's template unless it was sent in this round.
func (e *Exporter) announce(l *layout) error {
	if l.announced {
		return nil
	}
	if !e.usable() {
		return errNotConnected
	}
	if l.announced { // usable() connected, and the connect round sent it
		return nil
	}
	putHeaders(l.templateMsg, templateSetID, e.exportTime, e.seq, e.cfg.ObservationDomainID)
	if err := e.write(l.templateMsg); err != nil {
		e.stats.sendErrors.Add(1)
		return fmt.Errorf("ipfix: sending template %d: %w", l.tpl.id, err)
	}
	e.stats.templatesSent.Add(1)
	l.announced = true
	return nil
}

// write sends one whole message. A TCP message not fully written leaves the
// stream unframeable, so the connection is dropped; UDP carries on.
func (e *Exporter) write(msg []byte) error {
	tcp := e.cfg.Network == "tcp"
	if tcp {
		// Real time, not cfg.Now: a collector that stopped reading must not
		// block the drain loop. Deadlines never fail on a live conn.
		_ = e.conn.SetWriteDeadline(time.Now().Add(e.cfg.DialTimeout))
	}
	n, err := e.conn.Write(msg)
	if err == nil && n != len(msg) {
		err = io.ErrShortWrite
	}
	if err != nil {
		if tcp {
			e.drop("writing to collector failed", err)
		}
		return err
	}
	e.stats.messagesSent.Add(1)
	e.stats.bytesSent.Add(uint64(n))
	return nil
}
