package netflow9

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/podflow/podflow/exporter"
	"github.com/podflow/podflow/exporter/internal/udpsend"
	"github.com/podflow/podflow/exporter/internal/uptime"
	"github.com/podflow/podflow/flow"
)

// Exporter sends flow records to one NetFlow v9 collector over UDP. Export
// and Close must be called from one goroutine; Stats and Clamps from any.
type Exporter struct {
	cfg   Config
	log   *zap.Logger
	clock uptime.Clock
	sock  *udpsend.Socket

	pkt            packet
	templateCount  uint64    // template and options template records a packet with the templates carries
	seq            uint32    // export packets written
	templatesOnce  bool      // a packet carrying the templates was written
	templatesAt    time.Time // when, by cfg.Now
	sinceTemplates int       // packets written since, that one included

	now time.Time // of the current Export call

	stats counters
}

var _ exporter.Exporter = (*Exporter)(nil)

var errBadAddresses = errors.New("netflow9: record has no valid address pair")

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
	limit := packetLimit(cfg.MTU, cfg.Address)
	pkt := packet{limit: limit, templates: templateFlowSet, templateCount: templateRecords}
	e := &Exporter{
		cfg:           cfg,
		log:           udpsend.CollectorLog(log, cfg.Address),
		clock:         uptime.NewClock(cfg.Boot),
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
	e.sock = udpsend.Open("netflow9", cfg.Address, dial, e.log, &e.stats.Counters)
	return e, nil
}

// Export encodes and sends all records before returning. Records that
// could not be sent are counted in Stats and reported in the error.
func (e *Exporter) Export(records []flow.Record) error {
	if len(records) == 0 {
		return nil
	}
	if err := e.sock.BeginCall(len(records)); err != nil {
		return err
	}
	e.now = e.cfg.Now()
	var failed exporter.Failures
	// IPv4 records first, then IPv6: one data FlowSet per family and packet.
	for fam, t := range templates {
		for i := range records {
			r := &records[i]
			rfam, ok := family(r)
			if !ok {
				if fam == 0 {
					e.stats.RecordsLost.Add(1)
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
func (e *Exporter) Stats() exporter.Stats {
	s := e.stats.Stats()
	s.TemplatesSent = e.stats.templatesSent.Load()
	return s
}

// Clamps returns how many records were sent with a value cut to fit.
func (e *Exporter) Clamps() Clamps { return Clamps{Times: e.stats.clampedTimes.Load()} }

// Close closes the socket. Nothing is buffered between Export calls.
func (e *Exporter) Close() error { return e.sock.Close() }

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
	first, last, clamped := e.clock.RecordTimes(r)
	u, lastMs := uptimes{first, last}, e.clock.Millis(r.Last)
	if !e.pkt.started {
		e.pkt.start(e.templatesDue())
	}
	if e.pkt.add(t, r, u, clamped, lastMs) {
		return
	}
	failed.Add(e.flush())
	e.pkt.start(e.templatesDue())
	if !e.pkt.add(t, r, u, clamped, lastMs) { // New checked that one record always fits
		e.stats.RecordsLost.Add(1)
		failed.Add(1, fmt.Errorf("netflow9: a record of template %d does not fit a %d-octet packet", t.id, e.pkt.limit))
	}
}

// templatesDue tells whether the next packet must carry the templates.
func (e *Exporter) templatesDue() bool {
	return !e.templatesOnce ||
		e.sinceTemplates >= e.cfg.TemplateRefreshPackets ||
		!e.now.Before(e.templatesAt.Add(e.cfg.TemplateRefresh))
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
	secs, uptime := e.clock.HeaderInstant(e.now, p.latestMs)
	msg := p.finish(uptime, secs, e.seq, e.cfg.SourceID)
	if err := e.sock.Send(msg, n); err != nil {
		return n, err
	}
	e.seq++
	e.stats.clampedTimes.Add(uint64(p.clamped))
	e.sinceTemplates++
	if p.withTemplates {
		e.stats.templatesSent.Add(e.templateCount)
		e.templatesOnce, e.templatesAt, e.sinceTemplates = true, e.now, 1
	}
	return 0, nil
}
