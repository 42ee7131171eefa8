package netflow5

import (
	"errors"
	"fmt"
	"net"
	"time"

	"go.uber.org/zap"

	"github.com/podflow/podflow/exporter"
	"github.com/podflow/podflow/exporter/internal/udpsend"
	"github.com/podflow/podflow/exporter/internal/uptime"
	"github.com/podflow/podflow/flow"
)

// Exporter sends flow records to one NetFlow v5 collector over UDP. Export
// and Close must be called from one goroutine; Stats, Unexportable and
// Clamps from any.
type Exporter struct {
	cfg   Config
	log   *zap.Logger
	clock uptime.Clock
	sock  *udpsend.Socket

	pkt             packet
	seq             uint32 // records written (v5's flow_sequence)
	sampling        uint16 // the header's sampling_interval (sampling.go)
	samplingClamped bool   // Config.SamplingInterval does not fit it

	now time.Time // of the current Export call

	stats counters
}

var _ exporter.Exporter = (*Exporter)(nil)

var (
	errBadAddresses = errors.New("netflow5: record has no valid address pair")
	errNotIPv4      = errors.New("netflow5: NetFlow v5 carries IPv4 flows only")
)

// New checks the configuration and opens the UDP socket. A collector name
// that does not resolve yet is not an error here: Export retries (and
// counts what it cannot send).
func New(cfg Config, log *zap.Logger) (*Exporter, error) {
	return newExporter(cfg, log, net.DialTimeout)
}

func newExporter(cfg Config, log *zap.Logger, dial udpsend.Dial) (*Exporter, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	perPacket := recordsPerPacket(cfg.MTU, cfg.Address)
	if perPacket < 1 {
		return nil, fmt.Errorf("netflow5: MTU %d cannot carry a %d-octet header and one %d-octet record",
			cfg.MTU, headerLen, recordLen)
	}
	e := &Exporter{
		cfg:   cfg,
		log:   udpsend.CollectorLog(log, cfg.Address),
		clock: uptime.NewClock(cfg.Boot),
		pkt:   packet{max: perPacket},
	}
	e.sampling, e.samplingClamped = samplingField(cfg.SamplingInterval)
	if e.samplingClamped {
		e.log.Warn("netflow5: NetFlow v5 carries sampling intervals up to 16383: headers say 16383, so collectors scale the counts by less than the interval",
			zap.Uint32("interval", cfg.SamplingInterval))
	}
	e.pkt.reset()
	e.sock = udpsend.Open("netflow5", cfg.Address, dial, e.log, &e.stats.Counters)
	return e, nil
}

// Export encodes and sends all IPv4 records before returning. Records that
// could not be sent, IPv6 ones included, are counted in Stats and reported
// in the error.
func (e *Exporter) Export(records []flow.Record) error {
	if len(records) == 0 {
		return nil
	}
	if err := e.sock.BeginCall(len(records)); err != nil {
		return err
	}
	e.now = e.cfg.Now()
	var failed exporter.Failures
	notIPv4 := 0
	for i := range records {
		r := &records[i]
		src, dst := r.SrcAddr.Unmap(), r.DstAddr.Unmap()
		switch {
		case !src.IsValid() || !dst.IsValid():
			e.stats.RecordsLost.Add(1)
			failed.Add(1, errBadAddresses)
			continue
		case !src.Is4() || !dst.Is4():
			notIPv4++
			continue
		}
		first, last, clamped := e.clock.RecordTimes(r)
		e.pkt.add(r, uptimes{first, last, clamped}, e.clock.Millis(r.Last))
		if e.pkt.full() {
			failed.Add(e.flush())
		}
	}
	failed.Add(e.flush())
	err := failed.Err("netflow5", len(records), e.cfg.Address)
	if notIPv4 > 0 {
		e.stats.RecordsLost.Add(uint64(notIPv4))
		total := e.stats.unexportable.Add(uint64(notIPv4))
		e.log.Warn("netflow5: IPv6 records not exported: NetFlow v5 carries IPv4 only",
			zap.Int("records", notIPv4), zap.Uint64("total", total))
		err = errors.Join(err, fmt.Errorf("netflow5: %d of %d records not sent: %w", notIPv4, len(records), errNotIPv4))
	}
	return err
}

// Stats returns running totals; safe from any goroutine.
func (e *Exporter) Stats() exporter.Stats { return e.stats.Stats() }

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
func (e *Exporter) Close() error { return e.sock.Close() }

// flush sends the packet being filled, or counts its records lost; it
// returns how many were lost and why.
func (e *Exporter) flush() (int, error) {
	p := &e.pkt
	n := p.count
	if n == 0 {
		return 0, nil
	}
	defer p.reset()
	secs, uptime := e.clock.HeaderInstant(e.now, p.latestMs)
	msg := p.finish(header{uptime: uptime, unixSecs: secs, sequence: e.seq,
		engineType: e.cfg.EngineType, engineID: e.cfg.EngineID, sampling: e.sampling})
	if err := e.sock.Send(msg, n); err != nil {
		return n, err
	}
	e.seq += uint32(n)
	e.stats.addClamps(p.clamped)
	if e.samplingClamped {
		e.stats.clampedSampling.Add(1)
	}
	return 0, nil
}
