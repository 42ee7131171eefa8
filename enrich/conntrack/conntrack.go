// Package conntrack mirrors the NAT entries of one network namespace's
// conntrack table in memory, so the drain loop can ask, without blocking,
// where a flow's packets went after address translation (a pod's flow to a
// ClusterIP: which backend; a masqueraded flow: which source it left with).
//
// A Table subscribes to conntrack events (NEW, UPDATE, DESTROY) before it
// dumps the table, so nothing falls between the dump and the events. It
// keeps only connections whose translation matters (the original tuple
// differs from the inverted reply tuple), keeps ended ones for a grace
// period so records exported after the connection closed are still
// enriched, and dumps again whenever the kernel reports lost events
// (ENOBUFS on the event socket). Enrich adapts it to flow.Enricher.
//
// Limits: ICMP translations are not held (flow.Tuple lacks the echo ID
// conntrack tells them apart by); conntrack zones are ignored (equal tuples
// in two zones claim one slot, the last one seen wins); the sysctls are
// read once, at Start.
package conntrack

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mdlayher/netlink"
	ct "github.com/ti-mo/conntrack"
	"github.com/vishvananda/netns"
	"go.uber.org/zap"

	"github.com/podflow/podflow/flow"
)

// Defaults for the zero values of Config.
const (
	DefaultMaxEntries     = 65536
	DefaultGrace          = 30 * time.Second // podflow exports idle flows after 15 s
	DefaultReadBuffer     = 8 << 20          // about 6000 queued events
	DefaultResyncInterval = 5 * time.Minute
	DefaultPollInterval   = 5 * time.Second
)

// Config configures a Table. Zero values take the defaults above.
type Config struct {
	// Netns is the network namespace whose conntrack table is mirrored; 0
	// (the zero value) means the caller's current one.
	Netns netns.NsHandle
	Log   *zap.Logger // nil: no logging
	// MaxEntries bounds the connections held (live and in grace); the ones
	// that do not fit are counted in Stats.Dropped.
	MaxEntries int
	// Grace is how long an ended connection still answers lookups.
	Grace time.Duration
	// ReadBuffer is the event socket's receive buffer in bytes, set with
	// SO_RCVBUFFORCE (so net.core.rmem_max does not cap it) when privileged.
	ReadBuffer int
	// ResyncInterval is how often a full dump reconciles the mirror with the
	// kernel: with nf_conntrack_events=2 connections created before the
	// subscription send no DESTROY event, and only a dump retires them.
	ResyncInterval time.Duration
	// PollInterval is how often the table is dumped when
	// nf_conntrack_events=0 leaves no events to follow.
	PollInterval time.Duration
	// Disabled makes Start a no-op: Lookup then never finds anything.
	Disabled bool
}

func (c Config) withDefaults() Config {
	if c.Log == nil {
		c.Log = zap.NewNop()
	}
	if c.MaxEntries <= 0 {
		c.MaxEntries = DefaultMaxEntries
	}
	if c.Grace <= 0 {
		c.Grace = DefaultGrace
	}
	if c.ReadBuffer <= 0 {
		c.ReadBuffer = DefaultReadBuffer
	}
	if c.ResyncInterval <= 0 {
		c.ResyncInterval = DefaultResyncInterval
	}
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	return c
}

// Kind says on which side of the translation a looked-up tuple was seen,
// and so which addresses NAT carries.
type Kind uint8

const (
	// PostNAT: the tuple is as packets carry it before translation (a
	// pod's flow to a service seen at the pod's veth); NAT holds the
	// endpoints after translation (the backend).
	PostNAT Kind = iota + 1
	// PreNAT: the tuple is as packets carry it after translation (client
	// to backend seen at the backend's veth); NAT holds the endpoints
	// before translation (the destination was the service).
	PreNAT
)

func (k Kind) String() string {
	switch k {
	case PostNAT:
		return "post-nat"
	case PreNAT:
		return "pre-nat"
	}
	return "none"
}

// NAT is the other side of the translation for one direction of a flow.
// For a connection C:c → S:s DNAT'ed to B:b and SNAT'ed to N:n (without
// SNAT, N:n = C:c; without DNAT, B:b = S:s), conntrack holds
// orig = C:c→S:s and reply = B:b→N:n. Lookup answers all four tuples the
// connection's packets carry somewhere on their path:
//
//	tuple looked up  seen where (example)                 Kind     Reply  Src  Dst
//	C:c → S:s        client's veth, before NAT            PostNAT  false  N:n  B:b
//	B:b → N:n        backend's veth, before de-NAT        PostNAT  true   S:s  C:c
//	N:n → B:b        backend's veth, after NAT            PreNAT   false  C:c  S:s
//	S:s → C:c        client's veth, after de-NAT          PreNAT   true   B:b  N:n
//
// PostNAT answers are where the packets go (IPFIX postNAT* fields); PreNAT
// answers are what they were sent as: for N:n → B:b, Dst is the service.
type NAT struct {
	SrcAddr netip.Addr
	SrcPort uint16
	DstAddr netip.Addr
	DstPort uint16
	Kind    Kind
	Reply   bool // the tuple is the connection's reply direction (responder → initiator)
}

// Table is the in-memory mirror of one namespace's NAT'ed connections.
// Lookup, Stats and Checks are safe from any goroutine.
type Table struct {
	cfg Config
	log *zap.Logger
	// now is monotonic nanoseconds since New: grace deadlines must not jump
	// with the wall clock. Tests replace it.
	now func() int64

	mu  sync.RWMutex // guards idx (the pointer and its contents) for readers
	idx *index
	wmu sync.Mutex // serialises writers (events, expiry, dumps) so a dump and its swap are atomic to them

	dumps      *ct.Conn
	events     *netlink.Conn // nil when polling
	checks     []Check
	polling    bool
	readBuffer atomic.Int64 // SO_RCVBUF of the current event socket
	starting   atomic.Bool  // Start was called
	started    atomic.Bool  // Start succeeded: checks, polling, readBuffer are set
	resyncDue  atomic.Bool  // a resync dump failed; retried by the maintenance loop
	done       chan struct{}

	entries, inGrace                                  atomic.Int64
	nEvents, decodeErrs, discarded, overruns, resyncs atomic.Uint64
	nDumps, dumpErrs, dropped, hits, misses           atomic.Uint64
}

// New returns a Table that holds nothing until Start.
func New(cfg Config) *Table {
	cfg = cfg.withDefaults()
	epoch := time.Now()
	return &Table{
		cfg:  cfg,
		log:  cfg.Log.With(zap.String("component", "conntrack")),
		now:  func() int64 { return int64(time.Since(epoch)) },
		idx:  newIndex(0),
		done: make(chan struct{}),
	}
}

// Lookup returns the translation that applies to packets carrying tu (see
// NAT for the four cases). ok is false when tu belongs to no NAT'ed
// connection held (or its grace ran out). It does not allocate.
func (t *Table) Lookup(tu flow.Tuple) (NAT, bool) {
	k := keyOf(tu)
	t.mu.RLock()
	s, ok := t.idx.slots[k]
	if ok && s.e.expiresAt != 0 && t.now() >= s.e.expiresAt {
		ok = false
	}
	var n NAT
	if ok {
		n = s.nat()
	}
	t.mu.RUnlock()
	if ok {
		t.hits.Add(1)
	} else {
		t.misses.Add(1)
	}
	return n, ok
}

// Stats is a snapshot of a Table's counters.
type Stats struct {
	Entries      int    // connections held, live and in grace
	InGrace      int    // of those, ended ones kept for the grace period
	Events       uint64 // conntrack events received and applied
	DecodeErrors uint64 // event messages that could not be decoded
	Discarded    uint64 // events read after an overrun and dropped: the resync dump supersedes them
	Overruns     uint64 // ENOBUFS on the event socket: the kernel dropped events
	Resyncs      uint64 // dumps made because events were lost
	Dumps        uint64 // all dumps: start, resyncs, periodic reconciles, polls
	DumpErrors   uint64
	Dropped      uint64 // connections not held because MaxEntries was reached (counted per event or dump)
	Hits, Misses uint64 // Lookup results
	Polling      bool   // nf_conntrack_events=0: fed by periodic dumps only
	ReadBuffer   int    // the event socket's receive buffer as the kernel set it (SO_RCVBUF)
}

// Stats returns the counters; safe from any goroutine.
func (t *Table) Stats() Stats {
	s := Stats{
		Entries:      int(t.entries.Load()),
		InGrace:      int(t.inGrace.Load()),
		Events:       t.nEvents.Load(),
		DecodeErrors: t.decodeErrs.Load(),
		Discarded:    t.discarded.Load(),
		Overruns:     t.overruns.Load(),
		Resyncs:      t.resyncs.Load(),
		Dumps:        t.nDumps.Load(),
		DumpErrors:   t.dumpErrs.Load(),
		Dropped:      t.dropped.Load(),
		Hits:         t.hits.Load(),
		Misses:       t.misses.Load(),
		ReadBuffer:   int(t.readBuffer.Load()),
	}
	if t.started.Load() { // polling is set before started
		s.Polling = t.polling
	}
	return s
}

// Checks returns the sysctls read at Start and what they mean for the
// Table (nil before Start).
func (t *Table) Checks() []Check {
	if !t.started.Load() {
		return nil
	}
	return append([]Check(nil), t.checks...)
}

// Done is closed once the Table stopped after its context ended (and
// right away by Start when Config.Disabled).
func (t *Table) Done() <-chan struct{} { return t.done }

// publish mirrors the index sizes into the counters; callers hold mu.
func (t *Table) publish() {
	t.entries.Store(int64(len(t.idx.entries)))
	t.inGrace.Store(int64(t.idx.inGrace))
}
