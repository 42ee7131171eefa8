package collector

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"

	"go.uber.org/zap"
)

// Options configure Run.
type Options struct {
	Listen string      // "udp://127.0.0.1:4739", "tcp://[::1]:4739" or "tls://..."; port 0 picks a free port; "" means DefaultListen
	TLS    *tls.Config // for a tls:// Listen: the collector's certificate, ClientCAs for mutual TLS
	Format string      // "json" (default) or "text"
	Out    io.Writer   // where lines go
	Log    *zap.Logger // may be nil
	// Ready, if set, is called once with the address listened on, before any
	// record is printed (the CLI logs it; tests use it to learn the port).
	Ready func(addr net.Addr)
}

// Run listens and writes one line per data record to opts.Out until ctx is
// done, then returns nil. It returns an error if it cannot listen or write.
func Run(ctx context.Context, opts Options) error {
	format, err := formatter(opts.Format)
	if err != nil {
		return err
	}
	if opts.Out == nil {
		return errors.New("collector: no output writer")
	}
	log := opts.Log
	if log == nil {
		log = zap.NewNop()
	}
	listen := opts.Listen
	if listen == "" {
		listen = DefaultListen
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var lopts []ListenOption
	if opts.TLS != nil {
		lopts = append(lopts, WithTLS(opts.TLS))
	}
	c, err := Listen(ctx, listen, log, lopts...)
	if err != nil {
		return err
	}
	defer func() {
		st := c.Stats()
		log.Info("collector stopped", zap.Uint64("messages", st.MessagesReceived), zap.Uint64("records", st.RecordsReceived),
			zap.Uint64("decodeErrors", st.DecodeErrors), zap.Uint64("dataSetsWithoutTemplate", st.DataSetsWithoutTemplate),
			zap.Uint64("recordsMissing", st.RecordsMissing), zap.Uint64("handshakeErrors", st.HandshakeErrors))
	}()
	if opts.Ready != nil {
		opts.Ready(c.Addr())
	}
	var line []byte
	for {
		select {
		case <-ctx.Done():
			return c.Close()
		case r, ok := <-c.Records():
			if !ok { // closed because ctx is done
				return c.Close()
			}
			line = append(format(line[:0], r), '\n')
			if _, err := opts.Out.Write(line); err != nil {
				return errors.Join(fmt.Errorf("collector: writing record: %w", err), c.Close())
			}
		}
	}
}

// formatter returns the function appending one record in the chosen format.
func formatter(name string) (func([]byte, Received) []byte, error) {
	switch name {
	case "", "json":
		return func(b []byte, r Received) []byte { return append(b, FormatJSON(r)...) }, nil
	case "text":
		return func(b []byte, r Received) []byte { return append(b, FormatText(r)...) }, nil
	}
	return nil, fmt.Errorf("collector: unknown format %q (want json or text)", name)
}
