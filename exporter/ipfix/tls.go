package ipfix

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"
)

// tlsDialer dials TCP and completes the TLS handshake within the timeout,
// so a collector that is not the one cfg trusts fails the connect (and the
// records are counted lost) rather than the first write.
//
// With TLS 1.3 a collector that rejects our client certificate does so
// after our side of the handshake has finished: the rejection shows as the
// collector closing the connection, which the peer check before each write
// notices (messages written before its alert arrives are counted sent).
func tlsDialer(cfg *tls.Config) func(network, address string, timeout time.Duration) (net.Conn, error) {
	return func(_, address string, timeout time.Duration) (net.Conn, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		d := tls.Dialer{NetDialer: &net.Dialer{}, Config: cfg}
		conn, err := d.DialContext(ctx, "tcp", address)
		if err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		return conn, nil
	}
}
