package netflow9

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/podflow/podflow/exporter"
	"github.com/podflow/podflow/flow"
)

// Exporter sends flow records to one NetFlow v9 collector over UDP. Export
// and Close must be called from one goroutine; Stats and Clamps from any.
type Exporter struct {
	cfg    Config
	log    *zap.Logger
	dial   func(network, address string, timeout time.Duration) (net.Conn, error)
	bootMs int64

	conn        net.Conn
	dialFailing bool // last dial failed: log the next failures quietly
	closed      bool

	pkt            packet
	templateCount  uint64    // template and options template records a packet with the templates carries
	seq            uint32    // export packets written
	templatesOnce  bool      // a packet carrying the templates was written
	templatesAt    time.Time // when, by cfg.Now
	sinceTemplates int       // packets written since, that one included

	// per Export call
	now            time.Time
	dialedThisCall bool

	stats counters
}

var _ exporter.Exporter = (*Exporter)(nil)

var (
	errClosed       = errors.New("netflow9: exporter closed")
	errBadAddresses = errors.New("netflow9: record has no valid address pair")
	errNotConnected = errors.New("netflow9: no socket to the collector")
)

// New checks the configuration and opens the UDP socket. A collector name
// that does not resolve yet is not an error here: Export retries (and
// counts what it cannot send).
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
	limit := packetLimit(cfg.MTU, cfg.Address)
	pkt := packet{limit: limit, templates: templateFlowSet, templateCount: templateRecords}
	e := &Exporter{
		cfg:           cfg,
		log:           log.With(zap.String("collector", "udp://"+cfg.Address)),
		dial:          dial,
		bootMs:        cfg.Boot.UnixMilli(),
		templateCount: templateRecords,
	}
	if cfg.SamplingInterval > 1 {
		pkt.templates = append(slices.Clip(templateFlowSet), samplingFlowSets(cfg.SourceID, cfg.SamplingInterval)...)
		pkt.templateCount += samplingRecords
		e.templateCount++ // the options template; its data record is no template
	}
	if need := minPacketLen + len(pkt.templates) - len(templateFlowSet); limit < need {
		return nil, fmt.Errorf("netflow9: MTU %d leaves %d octets per packet, templates and a record need %d",
			cfg.MTU, limit, need)
	}
	e.pkt = pkt
	e.beginCall()
	e.usable()
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
	var failed exporter.Failures
	// IPv4 records first, then IPv6: one data FlowSet per family and packet.
	for fam, t := range templates {
		for i := range records {
			r := &records[i]
			rfam, ok := family(r)
			if !ok {
				if fam == 0 {
					e.stats.recordsLost.Add(1)
					failed.Add(1, errBadAddresses)
				}
				continue
			}
			if rfam == fam {
				e.add(t, r, &failed)
			}
		}
	}
	failed.Add(e.flush())
	return failed.Err("netflow9", len(records), e.cfg.Address)
}

// Stats returns running totals; safe from any goroutine.
func (e *Exporter) Stats() exporter.Stats { return e.stats.snapshot() }

// Clamps returns how many records were sent with a value cut to fit.
func (e *Exporter) Clamps() Clamps { return Clamps{Times: e.stats.clampedTimes.Load()} }

// Close closes the socket. Nothing is buffered between Export calls.
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
		return fmt.Errorf("netflow9: closing socket to %s: %w", e.cfg.Address, err)
	}
	return nil
}

func (e *Exporter) beginCall() {
	e.now = e.cfg.Now()
	e.dialedThisCall = false
}

// family returns 0 for an IPv4 flow, 1 for IPv6 or a v4/v6 mix.
func family(r *flow.Record) (int, bool) {
	src, dst := r.SrcAddr.Unmap(), r.DstAddr.Unmap()
	if !src.IsValid() || !dst.IsValid() {
		return 0, false
	}
	if src.Is4() && dst.Is4() {
		return 0, true
	}
	return 1, true
}

// add puts r into the packet being filled, sending that packet first when
// r does not fit.
func (e *Exporter) add(t *template, r *flow.Record, failed *exporter.Failures) {
	u, clamped := e.uptimes(r)
	lastMs := r.Last.UnixMilli() - e.bootMs
	if !e.pkt.started {
		e.pkt.start(e.templatesDue())
	}
	if e.pkt.add(t, r, u, clamped, lastMs) {
		return
	}
	failed.Add(e.flush())
	e.pkt.start(e.templatesDue())
	if !e.pkt.add(t, r, u, clamped, lastMs) { // New checked that one record always fits
		e.stats.recordsLost.Add(1)
		failed.Add(1, fmt.Errorf("netflow9: a record of template %d does not fit a %d-octet packet", t.id, e.pkt.limit))
	}
}

// templatesDue tells whether the next packet must carry the templates.
func (e *Exporter) templatesDue() bool {
	return !e.templatesOnce ||
		e.sinceTemplates >= e.cfg.TemplateRefreshPackets ||
		!e.now.Before(e.templatesAt.Add(e.cfg.TemplateRefresh))
}

// uptimes converts r's first and last packet times to milliseconds of
// uptime; a time before Boot becomes 0 and is reported.
func (e *Exporter) uptimes(r *flow.Record) (uptimes, bool) {
	first, c1 := e.sinceBoot(r.First)
	last, c2 := e.sinceBoot(r.Last)
	return uptimes{first, last}, c1 || c2
}

// sinceBoot is t in ms since Boot, modulo 2³² as the 32-bit fields wrap.
func (e *Exporter) sinceBoot(t time.Time) (uint32, bool) {
	if t.IsZero() {
		return 0, true
	}
	ms := t.UnixMilli() - e.bootMs
	if ms < 0 {
		return 0, true
	}
	return uint32(ms), false
}

// headerInstant returns the header's unix_secs and sysUptime: the same
// instant, the first whole second not before now nor before the packet's
// latest record end (see the package doc).
func (e *Exporter) headerInstant(latestMs int64) (secs, uptime uint32) {
	ms := max(e.now.UnixMilli(), e.bootMs+latestMs)
	s := ms / 1000
	if ms%1000 != 0 {
		s++
	}
	return uint32(s), uint32(max(s*1000-e.bootMs, 0))
}

// flush sends the packet being filled, or counts its records lost; it
// returns how many were lost and why.
func (e *Exporter) flush() (int, error) {
	p := &e.pkt
	if !p.started {
		return 0, nil
	}
	p.started = false
	n := p.data
	if n == 0 {
		return 0, nil
	}
	if !e.usable() {
		e.stats.recordsLost.Add(uint64(n))
		e.stats.sendErrors.Add(1)
		return n, errNotConnected
	}
	secs, uptime := e.headerInstant(p.latestMs)
	msg := p.finish(uptime, secs, e.seq, e.cfg.SourceID)
	written, err := e.conn.Write(msg)
	if err == nil && written != len(msg) {
		err = io.ErrShortWrite
	}
	if err != nil {
		e.stats.recordsLost.Add(uint64(n))
		e.stats.sendErrors.Add(1)
		return n, fmt.Errorf("netflow9: sending packet: %w", err)
	}
	e.seq++
	e.stats.recordsSent.Add(uint64(n))
	e.stats.messagesSent.Add(1)
	e.stats.bytesSent.Add(uint64(written))
	e.stats.clampedTimes.Add(uint64(p.clamped))
	e.sinceTemplates++
	if p.withTemplates {
		e.stats.templatesSent.Add(e.templateCount)
		e.templatesOnce, e.templatesAt, e.sinceTemplates = true, e.now, 1
	}
	return 0, nil
}

// usable makes sure there is a socket, dialing at most once per Export
// call: a UDP dial only resolves the name, which is what may fail.
func (e *Exporter) usable() bool {
	if e.conn != nil {
		return true
	}
	if e.dialedThisCall {
		return false
	}
	e.dialedThisCall = true
	conn, err := e.dial("udp", e.cfg.Address, dialTimeout)
	if err != nil {
		if e.dialFailing {
			e.log.Debug("netflow9: collector still unreachable", zap.Error(err))
		} else {
			e.log.Warn("netflow9: cannot open a socket to the collector", zap.Error(err))
		}
		e.dialFailing = true
		return false
	}
	e.conn, e.dialFailing = conn, false
	return true
}
