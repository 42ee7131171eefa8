package ipfix

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/podflow/podflow/exporter"
	"github.com/podflow/podflow/flow"
)

// Exporter sends flow records to one IPFIX collector. Export, Close, Stats
// and NotSent may be called from any goroutine; Export and Close serialise
// on a mutex they share with the statistics timer.
type Exporter struct {
	mu   sync.Mutex // everything below but stats
	cfg  Config
	log  *zap.Logger
	dial func(network, address string, timeout time.Duration) (net.Conn, error)

	// layouts holds one template with its messages per address family
	// ([0] IPv4, [1] IPv6) and combination of field groups, built on first
	// use (most of the 512 combinations never occur).
	layouts map[layoutKey]*layout
	limit   int // message size limit

	conn          net.Conn
	peer          peerChecker // TCP only
	seq           uint32      // data records sent in this transport session
	connectedOnce bool
	dialFailing   bool      // last dial failed: log the next failures quietly
	dialErr       error     // why the last dial failed, while no connection
	lastDial      time.Time // by cfg.Now
	templatesAt   time.Time // last successful template send, by cfg.Now
	closed        bool

	options    *optionsTemplates // nil with cfg.NoOptions
	optionsBuf []byte            // options data messages, reused
	started    time.Time         // by cfg.Now: the start of the statistics' window
	statsAt    time.Time         // last statistics record sent, by cfg.Now
	named      map[uint32]bool   // interfaces named in this round
	pendingIfs []uint32          // scratch: interfaces to name in this call
	stopTimer  chan struct{}     // closed by Close: ends the statistics timer
	timerDone  chan struct{}
	stopOnce   sync.Once

	// per Export call
	now            time.Time
	exportTime     uint32
	dialedThisCall bool

	stats counters
}

var _ exporter.Exporter = (*Exporter)(nil)

var (
	errClosed       = errors.New("ipfix: exporter closed")
	errBadAddresses = errors.New("ipfix: record has no valid address pair")
)

// New builds the templates from exporter.Fields and connects to the
// collector, sending the templates. A collector that cannot be reached is
// not an error here: Export retries the connection (and counts what it
// cannot send).
func New(cfg Config, log *zap.Logger) (*Exporter, error) {
	return newExporter(cfg, log, nil)
}

// newExporter is New with the dialer a test chooses; nil dials the network.
func newExporter(cfg Config, log *zap.Logger, dial func(string, string, time.Duration) (net.Conn, error)) (*Exporter, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	if dial == nil {
		dial = net.DialTimeout
		if cfg.Network == "tls" {
			dial = tlsDialer(cfg.TLS)
		}
	}
	e := &Exporter{
		cfg:   cfg,
		log:   log.With(zap.String("collector", cfg.Network+"://"+cfg.Address)),
		dial:  dial,
		named: map[uint32]bool{},
	}
	e.limit = messageLimit(cfg.MTU, cfg.Address)
	e.layouts = map[layoutKey]*layout{}
	if TemplateID(true, exporter.GroupAll) >= TemplateIDExporterStats {
		return nil, errors.New("ipfix: data template ids reach the options template ids: too many field groups")
	}
	// The smallest and the widest templates of each family: every field is
	// checked against the registry, and the MTU against the widest record,
	// before anything is sent.
	for fam := range 2 {
		for _, g := range []exporter.Group{0, exporter.GroupAll} {
			if _, err := e.layout(fam, g); err != nil {
				return nil, err
			}
		}
	}
	if !cfg.NoOptions {
		if e.options, err = newOptionsTemplates(cfg, e.limit); err != nil {
			return nil, err
		}
		e.optionsBuf = make([]byte, 0, e.limit)
	}
	e.beginCall()
	e.started, e.statsAt = e.now, e.now
	e.connect()
	if e.options != nil && e.options.stats != nil {
		e.stopTimer, e.timerDone = make(chan struct{}), make(chan struct{})
		go e.statsTimer(cfg.StatsInterval)
	}
	return e, nil
}

// Export encodes and sends all records before returning. Records that
// could not be sent are counted in Stats and reported in the error.
func (e *Exporter) Export(records []flow.Record) error {
	if len(records) == 0 {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		e.stats.lose(records...)
		return errClosed
	}
	e.beginCall()
	var failed exporter.Failures
	if e.usable() && e.cfg.Network == "udp" && !e.now.Before(e.templatesAt.Add(e.cfg.TemplateRefresh)) {
		e.sendTemplates()
	}
	e.nameInterfaces(records)
	for i := range records {
		r := &records[i]
		l, err := e.layoutFor(r)
		if err != nil {
			e.stats.lose(*r)
			failed.Add(1, err)
			continue
		}
		if err := e.announce(&l.tmpl); err != nil {
			e.stats.lose(*r)
			failed.Add(1, err)
			continue
		}
		m := l.data
		ok, err := m.add(r)
		if err == nil && !ok && m.count > 0 {
			failed.Add(e.flush(l))
			ok, err = m.add(r)
		}
		if err == nil && !ok {
			err = fmt.Errorf("ipfix: a record of template %d does not fit a %d-octet message", l.tpl.id, m.limit)
		}
		if err != nil {
			e.stats.lose(*r)
			failed.Add(1, err)
		}
	}
	for _, l := range e.layouts {
		failed.Add(e.flush(l))
	}
	if e.statsDue() {
		e.sendStatsLogged()
	}
	return failed.Err("ipfix", len(records), e.cfg.Address)
}

// Stats returns running totals; safe from any goroutine.
func (e *Exporter) Stats() exporter.Stats { return e.stats.snapshot() }

// NotSent returns the packets and octets of the flow records counted in
// Stats().RecordsLost, as the statistics record reports them.
func (e *Exporter) NotSent() (packets, octets uint64) {
	return e.stats.packetsLost.Load(), e.stats.octetsLost.Load()
}

// Close sends a last statistics record and closes the connection. Nothing
// is buffered between Export calls.
func (e *Exporter) Close() error {
	e.mu.Lock()
	err := e.closeLocked()
	e.mu.Unlock()
	e.stopOnce.Do(func() { // outside the mutex, which the timer may be waiting for
		if e.stopTimer != nil {
			close(e.stopTimer)
			<-e.timerDone
		}
	})
	return err
}

func (e *Exporter) closeLocked() error {
	if e.closed {
		return nil
	}
	if e.options != nil && e.options.stats != nil {
		e.beginCall()
		e.sendStatsLogged()
	}
	e.closed = true
	if e.conn == nil {
		return nil
	}
	err := e.conn.Close()
	e.conn = nil
	if err != nil {
		return fmt.Errorf("ipfix: closing connection to %s: %w", e.cfg.Address, err)
	}
	return nil
}

func (e *Exporter) beginCall() {
	e.now = e.cfg.Now()
	e.exportTime = uint32(e.now.Unix())
	e.dialedThisCall = false
}

// layoutFor picks the layout of r's address family and field groups. A
// v4/v6 mix goes to IPv6 with the v4 side mapped.
func (e *Exporter) layoutFor(r *flow.Record) (*layout, error) {
	src, dst := r.SrcAddr.Unmap(), r.DstAddr.Unmap()
	if !src.IsValid() || !dst.IsValid() {
		return nil, errBadAddresses
	}
	fam := 1
	if src.Is4() && dst.Is4() {
		fam = 0
	}
	return e.layout(fam, exporter.GroupsOf(r))
}

// layoutKey is an address family (0 IPv4, 1 IPv6) and a group combination.
type layoutKey struct {
	fam    int
	groups exporter.Group
}

// layout returns the layout of a family and groups, building it on first use.
func (e *Exporter) layout(fam int, g exporter.Group) (*layout, error) {
	k := layoutKey{fam, g}
	if l := e.layouts[k]; l != nil {
		return l, nil
	}
	l, err := newLayout(fam == 1, g, e.cfg.EnterpriseNumber, e.limit)
	if err != nil {
		return nil, fmt.Errorf("ipfix: MTU %d: %w", e.cfg.MTU, err)
	}
	e.layouts[k] = l
	return l, nil
}

// flush sends the layout's data message, or counts its records lost; it
// returns how many were lost and why. A reconnect since the records were
// added started a new round: the template goes first.
func (e *Exporter) flush(l *layout) (int, error) {
	m := l.data
	n := m.count
	if n == 0 {
		return 0, nil
	}
	defer m.reset()
	err := e.notConnected()
	if e.usable() {
		err = e.announce(&l.tmpl)
	}
	if err == nil {
		err = e.write(m.finish(e.exportTime, e.seq, e.cfg.ObservationDomainID))
	}
	if err != nil {
		e.stats.loseCounted(n, m.packets, m.octets)
		e.stats.sendErrors.Add(1)
		return n, err
	}
	e.seq += uint32(n)
	e.stats.recordsSent.Add(uint64(n))
	return 0, nil
}
