// Package collector is podflow's built-in IPFIX collector: it decodes the
// data records exporters send over UDP or TCP back into flow.Record values,
// for `podflow collect` (so a new user sees flows with nothing else
// installed) and for the end-to-end tests.
//
// It decodes messages itself rather than with go-ipfix's collector, which
// panics (and so kills the process) on a truncated data record or on
// reduced-size encoding, reads only the first set of a message and reports
// no decode errors; go-ipfix's registry still supplies element names and
// types. See goipfix_trap_test.go.
package collector

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/podflow/podflow/flow"
)

// DefaultListen is where `podflow collect` listens when given no address
// (4739 is the IANA port for IPFIX).
const DefaultListen = "udp://127.0.0.1:4739"

// Received is one decoded data record with the header of the message that
// carried it.
type Received struct {
	flow.Record
	ObservationDomainID uint32
	SequenceNumber      uint32 // of the message that carried it
	ExportTime          time.Time
	Exporter            string // exporter's transport address, "ip:port"
	TemplateID          uint16
	// Options marks a record of an options template (exporter statistics,
	// interface names, RFC 5610 element types): flow.Record is then zero,
	// every field is in Extra, and Scope names the scope fields.
	Options bool
	// Scope holds the Extra keys of an options record's scope fields, in
	// template order (e.g. ["exportingProcessId"]); nil for flow records.
	Scope []string
	// SamplingInterval is N when packets are sampled 1 in N: on a flow
	// record, the interval the exporter last announced for its observation
	// domain in this transport session (0: none announced; flow.Record's
	// Packets and Octets are always the counts as sent, not scaled by N); on
	// an options record, the interval it announces (0: none). Read from
	// samplingInterval, samplerRandomInterval, samplingPacketInterval with
	// samplingPacketSpace, or samplingProbability (1/N): podflow's IPFIX
	// exporter sends samplingInterval and samplingProbability.
	SamplingInterval uint32
	// Extra holds every element not mapped into flow.Record, by IE name;
	// elements missing from the registry are named "en<PEN>:id<ID>", and an
	// element repeated in one record gets "#2", "#3", ... An alternative the
	// record did not use (the other interface, ports of an ICMP flow, ICMP
	// type/code of another protocol) is kept only if non-zero, so podflow's
	// own records arrive with Extra nil. Values are uint64,
	// int64, float64, bool, string, netip.Addr, net.HardwareAddr, time.Time
	// (UTC), or []byte for octet arrays, lists and unknown elements.
	Extra map[string]any
}

// Stats are running totals of one collector.
type Stats struct {
	MessagesReceived  uint64 // IPFIX messages read (UDP datagrams, TCP messages), well-formed or not
	RecordsReceived   uint64 // data records decoded (and delivered, unless Close came first)
	TemplatesReceived uint64 // template and options template records (withdrawals included)
	DecodeErrors      uint64 // dropped messages, sets, templates or connections, and fields that made no sense
	// DataSetsWithoutTemplate counts data sets dropped because their template
	// had not arrived: normal for a while when the collector starts after a
	// UDP exporter, an exporter bug otherwise.
	DataSetsWithoutTemplate uint64
	// RecordsMissing counts data records that exporters' sequence numbers say
	// were sent but never arrived (forward gaps only).
	RecordsMissing uint64
	// HandshakeErrors counts TLS connections dropped in their handshake
	// (an exporter without a trusted certificate, one that does not trust
	// ours, or one that does not speak TLS).
	HandshakeErrors uint64
}

// Collector receives IPFIX messages on one socket and decodes them in the
// background.
type Collector struct {
	log     *zap.Logger // sampled: a flood of bad input does not flood the log
	addr    net.Addr
	records chan Received
	done    chan struct{} // closed by Close: stops delivery
	closers []func() error
	wg      sync.WaitGroup

	closeOnce sync.Once
	closeErr  error

	nMessages, nRecords, nTemplates, nDecodeErrors, nNoTemplate, nMissing, nHandshake atomic.Uint64
}

// recordsBuffer decouples the decoder from a consumer that is briefly slow;
// beyond it the decoder waits and the socket's own buffer takes the rest.
const recordsBuffer = 1024

// ListenOption configures Listen.
type ListenOption func(*listenConfig)

type listenConfig struct {
	tls *tls.Config
}

// WithTLS gives the certificate (and, for mutual TLS, ClientCAs and
// ClientAuth) a "tls://" listener presents; it is required for one and
// refused for udp:// and tcp://.
func WithTLS(cfg *tls.Config) ListenOption {
	return func(c *listenConfig) { c.tls = cfg }
}

// Listen opens listen ("udp://host:port", "tcp://host:port" or
// "tls://host:port" with WithTLS; host may be an IPv6 address in brackets,
// port 0 picks a free port) and decodes what arrives in the background
// until ctx is done or Close is called.
func Listen(ctx context.Context, listen string, log *zap.Logger, opts ...ListenOption) (*Collector, error) {
	network, address, err := parseListen(listen)
	if err != nil {
		return nil, err
	}
	var lcfg listenConfig
	for _, o := range opts {
		o(&lcfg)
	}
	if (network == "tls") != (lcfg.tls != nil) {
		return nil, fmt.Errorf("collector: listen %s: a TLS config is needed for tls:// and only for it", listen)
	}
	if log == nil {
		log = zap.NewNop()
	}
	c := &Collector{
		log: log.WithOptions(zap.WrapCore(func(core zapcore.Core) zapcore.Core {
			return zapcore.NewSamplerWithOptions(core, time.Second, 5, 0)
		})),
		records: make(chan Received, recordsBuffer),
		done:    make(chan struct{}),
	}
	var lc net.ListenConfig
	switch network {
	case "udp":
		conn, err := lc.ListenPacket(ctx, "udp", address)
		if err != nil {
			return nil, fmt.Errorf("collector: listen %s: %w", listen, err)
		}
		c.addr = conn.LocalAddr()
		c.closers = append(c.closers, conn.Close)
		c.wg.Add(1)
		go c.serveUDP(conn.(*net.UDPConn))
	case "tcp", "tls":
		ln, err := lc.Listen(ctx, "tcp", address)
		if err != nil {
			return nil, fmt.Errorf("collector: listen %s: %w", listen, err)
		}
		if lcfg.tls != nil {
			ln = tls.NewListener(ln, lcfg.tls)
		}
		c.addr = ln.Addr()
		c.closers = append(c.closers, ln.Close)
		c.wg.Add(1)
		go c.serveTCP(ln)
	}
	go func() {
		select {
		case <-ctx.Done():
			_ = c.Close()
		case <-c.done:
		}
	}()
	c.log.Debug("collecting IPFIX", zap.String("network", network), zap.Stringer("address", c.addr))
	return c, nil
}

// parseListen splits "udp://127.0.0.1:4739" into network and address.
func parseListen(listen string) (network, address string, err error) {
	u, err := url.Parse(listen)
	if err != nil {
		return "", "", fmt.Errorf("collector: listen address %q: %w", listen, err)
	}
	if (u.Scheme != "udp" && u.Scheme != "tcp" && u.Scheme != "tls") || u.Host == "" || u.Opaque != "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", "", fmt.Errorf("collector: listen address %q: want udp://host:port, tcp://host:port or tls://host:port", listen)
	}
	if _, _, err := net.SplitHostPort(u.Host); err != nil {
		return "", "", fmt.Errorf("collector: listen address %q: %w", listen, err)
	}
	return u.Scheme, u.Host, nil
}

// Addr is the address the collector listens on (with the port chosen when
// port 0 was asked for).
func (c *Collector) Addr() net.Addr { return c.addr }

// Records delivers decoded data records. It is closed after Close, once the
// decoder has stopped.
func (c *Collector) Records() <-chan Received { return c.records }

// Stats returns running totals.
func (c *Collector) Stats() Stats {
	return Stats{
		MessagesReceived:        c.nMessages.Load(),
		RecordsReceived:         c.nRecords.Load(),
		TemplatesReceived:       c.nTemplates.Load(),
		DecodeErrors:            c.nDecodeErrors.Load(),
		DataSetsWithoutTemplate: c.nNoTemplate.Load(),
		RecordsMissing:          c.nMissing.Load(),
		HandshakeErrors:         c.nHandshake.Load(),
	}
}

// Close stops receiving, waits for the decoder and closes Records. Records
// not yet read from the channel are dropped. It is safe to call more than once.
func (c *Collector) Close() error {
	c.closeOnce.Do(func() {
		close(c.done)
		var errs []error
		for _, closeFn := range c.closers {
			if err := closeFn(); err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, err)
			}
		}
		c.wg.Wait()
		close(c.records)
		if err := errors.Join(errs...); err != nil {
			c.closeErr = fmt.Errorf("collector: close: %w", err)
		}
	})
	return c.closeErr
}

// handleMessage decodes one message of a session, counts it and delivers its
// records. It returns false when the collector is closing.
func (c *Collector) handleMessage(s *session, msg []byte) bool {
	c.nMessages.Add(1)
	recs, res := s.decodeMessage(msg)
	c.nTemplates.Add(res.templates)
	c.nNoTemplate.Add(res.noTemplateSets)
	c.nMissing.Add(res.missing)
	c.nRecords.Add(uint64(len(recs))) // before delivery, so a reader of a record sees it counted
	if len(res.errs) > 0 {
		c.nDecodeErrors.Add(uint64(len(res.errs)))
		c.log.Warn("dropping malformed IPFIX input", zap.String("exporter", s.exporter), zap.Error(errors.Join(res.errs...)))
	}
	if res.noTemplateSets > 0 {
		c.log.Info("dropping data sets without a template", zap.String("exporter", s.exporter), zap.Uint64("sets", res.noTemplateSets))
	}
	for _, r := range recs {
		select {
		case c.records <- r:
		case <-c.done:
			return false
		}
	}
	return true
}
