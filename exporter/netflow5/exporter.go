package netflow5

import (
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"go.uber.org/zap"

	"github.com/podflow/podflow/exporter"
	"github.com/podflow/podflow/flow"
)

// Exporter sends flow records to one NetFlow v5 collector over UDP. Export
// and Close must be called from one goroutine; Stats, Unexportable and
// Clamps from any.
type Exporter struct {
	cfg    Config
	log    *zap.Logger
	dial   func(network, address string, timeout time.Duration) (net.Conn, error)
	bootMs int64

	conn        net.Conn
	dialFailing bool // last dial failed: log the next failures quietly
	closed      bool

	pkt             packet
	seq             uint32 // records written (v5's flow_sequence)
	sampling        uint16 // the header's sampling_interval (sampling.go)
	samplingClamped bool   // Config.SamplingInterval does not fit it

	// per Export call
	now            time.Time
	dialedThisCall bool

	stats counters
}

var _ exporter.Exporter = (*Exporter)(nil)

var (
	errClosed       = errors.New("netflow5: exporter closed")
	errBadAddresses = errors.New("netflow5: record has no valid address pair")
	errNotIPv4      = errors.New("netflow5: NetFlow v5 carries IPv4 flows only")
	errNotConnected = errors.New("netflow5: no socket to the collector")
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
	perPacket := recordsPerPacket(cfg.MTU, cfg.Address)
	if perPacket < 1 {
		return nil, fmt.Errorf("netflow5: MTU %d cannot carry a %d-octet header and one %d-octet record",
			cfg.MTU, headerLen, recordLen)
	}
	e := &Exporter{
		cfg:    cfg,
		log:    log.With(zap.String("collector", "udp://"+cfg.Address)),
		dial:   dial,
		bootMs: cfg.Boot.UnixMilli(),
		pkt:    packet{max: perPacket},
	}
	e.sampling, e.samplingClamped = samplingField(cfg.SamplingInterval)
	if e.samplingClamped {
		e.log.Warn("netflow5: NetFlow v5 carries sampling intervals up to 16383: headers say 16383, so collectors scale the counts by less than the interval",
			zap.Uint32("interval", cfg.SamplingInterval))
	}
	e.pkt.reset()
	e.beginCall()
	e.usable()
	return e, nil
}

// Export encodes and sends all IPv4 records before returning. Records that
// could not be sent, IPv6 ones included, are counted in Stats and reported
// in the error.
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
	notIPv4 := 0
	for i := range records {
		r := &records[i]
		src, dst := r.SrcAddr.Unmap(), r.DstAddr.Unmap()
		switch {
		case !src.IsValid() || !dst.IsValid():
			e.stats.recordsLost.Add(1)
			failed.Add(1, errBadAddresses)
			continue
		case !src.Is4() || !dst.Is4():
			notIPv4++
			continue
		}
		u := e.uptimes(r)
		e.pkt.add(r, u, r.Last.UnixMilli()-e.bootMs)
		if e.pkt.full() {
			failed.Add(e.flush())
		}
	}
	failed.Add(e.flush())
	err := failed.Err("netflow5", len(records), e.cfg.Address)
	if notIPv4 > 0 {
		e.stats.recordsLost.Add(uint64(notIPv4))
		total := e.stats.unexportable.Add(uint64(notIPv4))
		e.log.Warn("netflow5: IPv6 records not exported: NetFlow v5 carries IPv4 only",
			zap.Int("records", notIPv4), zap.Uint64("total", total))
		err = errors.Join(err, fmt.Errorf("netflow5: %d of %d records not sent: %w", notIPv4, len(records), errNotIPv4))
	}
	return err
}

// Stats returns running totals; safe from any goroutine.
func (e *Exporter) Stats() exporter.Stats { return e.stats.snapshot() }

// Unexportable returns how many records v5 could not carry (IPv6 flows and
// v4/v6 mixes); they are counted in Stats.RecordsLost as well.
func (e *Exporter) Unexportable() uint64 { return e.stats.unexportable.Load() }

// Clamps returns how many records were sent with a value cut to fit.
func (e *Exporter) Clamps() Clamps {
	return Clamps{
		IfIndex:  e.stats.clampedIfIndex.Load(),
		Counters: e.stats.clampedCounters.Load(),
		Times:    e.stats.clampedTimes.Load(),
		Sampling: e.stats.clampedSampling.Load(),
	}
}

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
		return fmt.Errorf("netflow5: closing socket to %s: %w", e.cfg.Address, err)
	}
	return nil
}

func (e *Exporter) beginCall() {
	e.now = e.cfg.Now()
	e.dialedThisCall = false
}

// uptimes converts r's first and last packet times to milliseconds of
// uptime, modulo 2³²; a time before Boot becomes 0 and is reported.
func (e *Exporter) uptimes(r *flow.Record) uptimes {
	first, c1 := e.sinceBoot(r.First)
	last, c2 := e.sinceBoot(r.Last)
	return uptimes{first: first, last: last, clamped: c1 || c2}
}

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
	n := p.count
	if n == 0 {
		return 0, nil
	}
	defer p.reset()
	if !e.usable() {
		e.stats.recordsLost.Add(uint64(n))
		e.stats.sendErrors.Add(1)
		return n, errNotConnected
	}
	secs, uptime := e.headerInstant(p.latestMs)
	msg := p.finish(header{uptime: uptime, unixSecs: secs, sequence: e.seq,
		engineType: e.cfg.EngineType, engineID: e.cfg.EngineID, sampling: e.sampling})
	written, err := e.conn.Write(msg)
	if err == nil && written != len(msg) {
		err = io.ErrShortWrite
	}
	if err != nil {
		e.stats.recordsLost.Add(uint64(n))
		e.stats.sendErrors.Add(1)
		return n, fmt.Errorf("netflow5: sending packet: %w", err)
	}
	e.seq += uint32(n)
	e.stats.recordsSent.Add(uint64(n))
	e.stats.messagesSent.Add(1)
	e.stats.bytesSent.Add(uint64(written))
	e.stats.addClamps(p.clamped)
	if e.samplingClamped {
		e.stats.clampedSampling.Add(1)
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
			e.log.Debug("netflow5: collector still unreachable", zap.Error(err))
		} else {
			e.log.Warn("netflow5: cannot open a socket to the collector", zap.Error(err))
		}
		e.dialFailing = true
		return false
	}
	e.conn, e.dialFailing = conn, false
	return true
}
