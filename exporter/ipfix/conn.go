package ipfix

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"syscall"
)

// peerChecker tells whether the collector has closed or reset a TCP
// connection, without blocking and without a write.
//
// A read with an already expired deadline cannot do this in Go: the runtime
// poller returns os.ErrDeadlineExceeded before it ever calls read(2), so an
// EOF or ECONNRESET waiting in the socket is never seen. Instead we read the
// (non-blocking) socket directly through its RawConn: EAGAIN means alive.
type peerChecker struct {
	raw     syscall.RawConn // nil when the conn has no file descriptor (test fakes)
	scratch []byte
}

// Over TLS it reads the TCP socket under the TLS layer. What it discards
// there are TLS records (session tickets, the collector's alert before it
// closes): harmless, as the exporter never reads from the collector.
func newPeerChecker(c net.Conn) peerChecker {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return peerChecker{}
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return peerChecker{}
	}
	return peerChecker{raw: raw, scratch: make([]byte, 512)}
}

// maxDiscardReads bounds how much unexpected data from a collector one check
// throws away (IPFIX collectors send nothing back).
const maxDiscardReads = 16

// closed returns io.EOF if the collector closed its side, the socket error
// (e.g. ECONNRESET) if it failed, and nil while the connection looks alive.
func (p peerChecker) closed() error {
	if p.raw == nil {
		return nil
	}
	var result error
	err := p.raw.Read(func(fd uintptr) bool {
		for range maxDiscardReads {
			n, err := syscall.Read(int(fd), p.scratch)
			switch {
			case err == syscall.EINTR:
				continue
			case err == syscall.EAGAIN:
				return true
			case err != nil:
				result = err
				return true
			case n == 0:
				result = io.EOF
				return true
			}
		}
		return true // always done: returning false would block waiting for data
	})
	if err != nil {
		return err
	}
	return result
}

// errNotConnected is reported for records that found no connection.
var errNotConnected = errors.New("ipfix: not connected to the collector")
