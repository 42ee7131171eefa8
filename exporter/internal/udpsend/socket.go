// Package udpsend is the UDP socket of the NetFlow v5 and v9 exporters: one
// collector, one datagram per export packet, every packet counted sent or
// lost.
package udpsend

import (
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"go.uber.org/zap"
)

// Dial opens the socket: net.DialTimeout, or a fake in tests.
type Dial func(network, address string, timeout time.Duration) (net.Conn, error)

// dialTimeout bounds the name look-up a UDP dial does.
const dialTimeout = time.Second

// Why records were not sent; the errors returned wrap them with the
// exporter's name.
var (
	ErrNotConnected = errors.New("no socket to the collector")
	ErrClosed       = errors.New("exporter closed")
)

// Socket is the socket to one collector. A UDP dial only resolves the
// name, which is what may fail (a collector whose name does not resolve
// yet): Send dials again when there is no socket, at most once per Export
// call, so a dead name costs one look-up per call rather than per packet.
// Not safe for concurrent use: Export and Close run on one goroutine.
type Socket struct {
	name     string // the exporter's, in front of its logs and errors: "netflow5"
	address  string
	dial     Dial
	log      *zap.Logger
	counters *Counters

	conn           net.Conn
	dialFailing    bool // the last dial failed: log the next failures quietly
	dialedThisCall bool
	closed         bool
}

// CollectorLog is the logger of an exporter to address: every line names
// the collector. A nil log logs nothing.
func CollectorLog(log *zap.Logger, address string) *zap.Logger {
	if log == nil {
		return zap.NewNop()
	}
	return log.With(zap.String("collector", "udp://"+address))
}

// Open returns the socket to address (host:port) and dials it once. A
// failed dial is logged, not returned: Send dials again.
func Open(name, address string, dial Dial, log *zap.Logger, counters *Counters) *Socket {
	s := &Socket{name: name, address: address, dial: dial, log: log, counters: counters}
	s.usable()
	return s
}

// BeginCall starts an Export call of records records: Send may dial once
// more. After Close it counts them lost and returns ErrClosed.
func (s *Socket) BeginCall(records int) error {
	if s.closed {
		s.counters.RecordsLost.Add(uint64(records))
		return fmt.Errorf("%s: %w", s.name, ErrClosed)
	}
	s.dialedThisCall = false
	return nil
}

// Send writes msg, an export packet holding records records, as one
// datagram and counts it: sent, or one send error and records lost.
func (s *Socket) Send(msg []byte, records int) error {
	if err := s.write(msg); err != nil {
		s.counters.RecordsLost.Add(uint64(records))
		s.counters.SendErrors.Add(1)
		return err
	}
	s.counters.RecordsSent.Add(uint64(records))
	s.counters.MessagesSent.Add(1)
	s.counters.BytesSent.Add(uint64(len(msg)))
	return nil
}

func (s *Socket) write(msg []byte) error {
	if !s.usable() {
		return fmt.Errorf("%s: %w", s.name, ErrNotConnected)
	}
	written, err := s.conn.Write(msg)
	if err == nil && written != len(msg) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return fmt.Errorf("%s: sending packet: %w", s.name, err)
	}
	return nil
}

// usable makes sure there is a socket, dialing at most once per call.
func (s *Socket) usable() bool {
	if s.conn != nil {
		return true
	}
	if s.closed || s.dialedThisCall {
		return false
	}
	s.dialedThisCall = true
	conn, err := s.dial("udp", s.address, dialTimeout)
	if err != nil {
		if s.dialFailing {
			s.log.Debug(s.name+": collector still unreachable", zap.Error(err))
		} else {
			s.log.Warn(s.name+": cannot open a socket to the collector", zap.Error(err))
		}
		s.dialFailing = true
		return false
	}
	s.conn, s.dialFailing = conn, false
	return true
}

// Close closes the socket for good; closing again does nothing.
func (s *Socket) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	if err != nil {
		return fmt.Errorf("%s: closing socket to %s: %w", s.name, s.address, err)
	}
	return nil
}
