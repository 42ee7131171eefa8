package collector

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"go.uber.org/zap"
)

// maxUDPSessions bounds the exporters (source addresses) remembered over UDP.
const maxUDPSessions = 1024

// serveUDP reads datagrams, one IPFIX message each (RFC 7011 §10.3.3), until
// the socket is closed.
func (c *Collector) serveUDP(conn *net.UDPConn) {
	defer c.wg.Done()
	sessions := make(map[netip.AddrPort]*session)
	buf := make([]byte, 1<<16)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if c.closing() || errors.Is(err, net.ErrClosed) {
				return
			}
			c.log.Warn("reading from UDP socket", zap.Error(err))
			continue
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		s, ok := sessions[from]
		if !ok {
			if len(sessions) >= maxUDPSessions {
				for k := range sessions { // forget an arbitrary exporter: it re-sends templates periodically
					delete(sessions, k)
					break
				}
			}
			s = newSession(from.String())
			sessions[from] = s
		}
		if !c.handleMessage(s, buf[:n]) {
			return
		}
	}
}

// serveTCP accepts exporters until the listener is closed.
func (c *Collector) serveTCP(ln net.Listener) {
	defer c.wg.Done()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if c.closing() || errors.Is(err, net.ErrClosed) {
				return
			}
			c.log.Warn("accepting TCP connection", zap.Error(err))
			select { // e.g. out of file descriptors: do not spin
			case <-c.done:
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		c.wg.Add(1)
		go c.serveConn(conn)
	}
}

// serveConn reads a stream of IPFIX messages from one exporter. A stream
// whose framing breaks (wrong version, impossible length) is closed: nothing
// after it can be found reliably. A message that frames well but decodes
// badly is counted and skipped.
func (c *Collector) serveConn(conn net.Conn) {
	defer c.wg.Done()
	stop := make(chan struct{})
	defer close(stop)
	go func() { // unblock the read below when the collector closes
		select {
		case <-c.done:
		case <-stop:
		}
		_ = conn.Close()
	}()

	exporter := conn.RemoteAddr().String()
	if ap, err := netip.ParseAddrPort(exporter); err == nil {
		exporter = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String()
	}
	if tc, ok := conn.(*tls.Conn); ok && !c.handshake(tc, exporter) {
		return
	}
	s := newSession(exporter)
	r := bufio.NewReaderSize(conn, 1<<16)
	buf := make([]byte, 1<<16)
	for {
		hdr := buf[:messageHeaderLen]
		if _, err := io.ReadFull(r, hdr); err != nil {
			if !errors.Is(err, io.EOF) {
				c.streamBroken(exporter, fmt.Errorf("reading message header: %w", err))
			}
			return
		}
		version, length := binary.BigEndian.Uint16(hdr), int(binary.BigEndian.Uint16(hdr[2:]))
		if version != ipfixVersion || length < messageHeaderLen {
			c.streamBroken(exporter, fmt.Errorf("message header with version %d and length %d: closing the connection", version, length))
			return
		}
		if _, err := io.ReadFull(r, buf[messageHeaderLen:length]); err != nil {
			c.streamBroken(exporter, fmt.Errorf("reading %d-byte message: %w", length, err))
			return
		}
		if !c.handleMessage(s, buf[:length]) {
			return
		}
	}
}

// handshakeTimeout bounds a TLS handshake, so a client that connects and
// says nothing does not hold a goroutine until the collector closes.
const handshakeTimeout = 10 * time.Second

// handshake completes a TLS handshake (the first read would, but then a
// failed handshake would pass for a broken IPFIX stream), counting failures.
func (c *Collector) handshake(conn *tls.Conn, exporter string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	defer cancel()
	err := conn.HandshakeContext(ctx)
	if err == nil {
		return true
	}
	if !c.closing() {
		c.nHandshake.Add(1)
		c.log.Warn("TLS handshake with exporter failed", zap.String("exporter", exporter), zap.Error(err))
	}
	return false
}

// streamBroken counts and logs a TCP stream that cannot go on, unless the
// collector itself closed it.
func (c *Collector) streamBroken(exporter string, err error) {
	if c.closing() {
		return
	}
	c.nMessages.Add(1)
	c.nDecodeErrors.Add(1)
	c.log.Warn("dropping malformed IPFIX input", zap.String("exporter", exporter), zap.Error(err))
}

func (c *Collector) closing() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}
