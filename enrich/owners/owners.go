// Package owners keeps which local process owns each TCP/UDP endpoint of
// the node, fed by the kernel's socket owner events and by a scan of the
// sockets that existed before podflow started, and adds the owning
// processes of both ends to flow records.
package owners

import (
	"cmp"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/podflow/podflow/flow"
)

// Kind says what an Event reports.
type Kind uint8

const (
	Opened Kind = iota + 1 // the process owns the endpoint (connect, listen, first I/O, or found by a scan)
	Closed                 // the TCP connection closed: forget it after the grace period
)

// Event is one report about a local endpoint.
type Event struct {
	Kind   Kind
	Proto  uint8
	Local  netip.AddrPort // unspecified address: a wildcard bind
	Remote netip.AddrPort // zero: not connected (listener, unconnected UDP)
	PID    uint32
	Comm   string
	Netns  uint64 // network namespace inode: tells wildcard binds of different pods apart
}

// Resolver gives a process's executable and container as soon as its pid
// is learned (the process may exit right after).
type Resolver interface {
	Resolve(pid uint32) (flow.Process, bool)
}

// Config tunes a Table; zero values take the defaults.
type Config struct {
	Resolver   Resolver      // nil: pid and name only
	Grace      time.Duration // how long a closed connection stays resolvable; default 60s
	TTL        time.Duration // an endpoint not seen (event or lookup) for this long is forgotten; default 10m
	MaxEntries int           // bound on endpoints held; default 65536
	Now        func() time.Time
}

// Stats are running totals.
type Stats struct {
	Entries   int
	Events    uint64
	Hits      uint64 // record ends attributed
	Misses    uint64 // record ends with no local owner known
	Ambiguous uint64 // wildcard binds of one port in several namespaces: not attributed
	Evicted   uint64 // forgotten over MaxEntries
}

type endpoint struct {
	proto  uint8
	local  netip.AddrPort
	remote netip.AddrPort
}

type wildcard struct {
	proto uint8
	port  uint16
}

type entry struct {
	proc     flow.Process
	netns    uint64
	closedAt int64 // ns; 0 while open
	seen     int64 // ns; last event or lookup
}

// Table maps endpoints to owners. Observe may run on any goroutine; Enrich
// runs on the drain loop.
type Table struct {
	cfg Config

	mu        sync.Mutex
	exact     map[endpoint]*entry            // connected sockets, and local-only keys (remote zero)
	wildcards map[wildcard]map[uint64]*entry // wildcard binds by port, per network namespace
	stats     Stats
	lastSweep int64
}

// New returns an empty table.
func New(cfg Config) *Table {
	if cfg.Grace <= 0 {
		cfg.Grace = 60 * time.Second
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 10 * time.Minute
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 65536
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Table{cfg: cfg, exact: map[endpoint]*entry{}, wildcards: map[wildcard]map[uint64]*entry{}}
}

// Observe records one event. The process is resolved now, while it exists.
func (t *Table) Observe(ev Event) {
	now := t.cfg.Now().UnixNano()
	var proc flow.Process
	if ev.Kind == Opened {
		proc = flow.Process{PID: ev.PID, Name: ev.Comm}
		if t.cfg.Resolver != nil {
			if p, ok := t.cfg.Resolver.Resolve(ev.PID); ok {
				proc.Exe, proc.ContainerID = p.Exe, p.ContainerID
				if proc.Name == "" {
					proc.Name = p.Name
				}
			}
		}
	}
	local := netip.AddrPortFrom(ev.Local.Addr().Unmap(), ev.Local.Port())
	remote := ev.Remote
	if remote.IsValid() {
		remote = netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port())
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stats.Events++
	if ev.Kind == Closed {
		if e, ok := t.exact[endpoint{ev.Proto, local, remote}]; ok && e.closedAt == 0 {
			e.closedAt = now
		}
		return
	}
	e := &entry{proc: proc, netns: ev.Netns, seen: now}
	if local.Addr().IsUnspecified() {
		w := wildcard{ev.Proto, local.Port()}
		if t.wildcards[w] == nil {
			t.wildcards[w] = map[uint64]*entry{}
		}
		t.wildcards[w][ev.Netns] = e
	} else {
		t.exact[endpoint{ev.Proto, local, remote}] = e
		if remote.IsValid() && remote.Port() != 0 {
			// A later flow may show only the local side known (an
			// unconnected peer): the local-only key answers it too.
			t.exact[endpoint{proto: ev.Proto, local: local}] = e
		}
	}
	t.evictOver()
}

// Enrich sets Context.Src and Context.Dst of every record whose endpoints
// belong to a known local process.
func (t *Table) Enrich(records []flow.Record) {
	now := t.cfg.Now().UnixNano()
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range records {
		r := &records[i]
		if r.Proto != flow.ProtoTCP && r.Proto != flow.ProtoUDP {
			continue
		}
		src := netip.AddrPortFrom(r.SrcAddr, r.SrcPort)
		dst := netip.AddrPortFrom(r.DstAddr, r.DstPort)
		if p, ok := t.lookup(r.Proto, src, dst, now); ok {
			r.Context.Src = p
		}
		if p, ok := t.lookup(r.Proto, dst, src, now); ok {
			r.Context.Dst = p
		}
	}
	if now-t.lastSweep > int64(10*time.Second) {
		t.sweep(now)
		t.lastSweep = now
	}
}

// lookup finds the owner of local talking to remote: the connected socket,
// else the local endpoint, else a wildcard bind of the port if only one
// network namespace has one.
func (t *Table) lookup(proto uint8, local, remote netip.AddrPort, now int64) (flow.Process, bool) {
	e, ok := t.exact[endpoint{proto, local, remote}]
	if !ok {
		e, ok = t.exact[endpoint{proto: proto, local: local}]
	}
	if !ok {
		byNetns := t.wildcards[wildcard{proto, local.Port()}]
		switch len(byNetns) {
		case 0:
		case 1:
			for _, w := range byNetns {
				e, ok = w, true
			}
		default:
			t.stats.Ambiguous++
		}
	}
	if !ok {
		t.stats.Misses++
		return flow.Process{}, false
	}
	t.stats.Hits++
	e.seen = now
	return e.proc, true
}

// Stats returns running totals.
func (t *Table) Stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.stats
	s.Entries = t.entries()
	return s
}

func (t *Table) entries() int {
	n := len(t.exact)
	for _, m := range t.wildcards {
		n += len(m)
	}
	return n
}

// sweep forgets closed connections after the grace period and endpoints
// not seen for TTL.
func (t *Table) sweep(now int64) {
	grace, ttl := int64(t.cfg.Grace), int64(t.cfg.TTL)
	gone := func(e *entry) bool {
		return (e.closedAt != 0 && now-e.closedAt >= grace) || now-e.seen >= ttl
	}
	for k, e := range t.exact {
		if gone(e) {
			delete(t.exact, k)
		}
	}
	for w, m := range t.wildcards {
		for ns, e := range m {
			if gone(e) {
				delete(m, ns)
			}
		}
		if len(m) == 0 {
			delete(t.wildcards, w)
		}
	}
}

// evictOver drops the least recently seen exact entries once the table is
// over its bound, down to 7/8 of it, so a full table costs one sort per
// MaxEntries/8 events rather than one scan per event.
func (t *Table) evictOver() {
	n := t.entries()
	if n <= t.cfg.MaxEntries {
		return
	}
	type aged struct {
		k    endpoint
		seen int64
	}
	all := make([]aged, 0, len(t.exact))
	for k, e := range t.exact {
		all = append(all, aged{k, e.seen})
	}
	slices.SortFunc(all, func(a, b aged) int { return cmp.Compare(a.seen, b.seen) })
	for _, a := range all {
		if n <= t.cfg.MaxEntries*7/8 {
			break
		}
		delete(t.exact, a.k)
		t.stats.Evicted++
		n--
	}
}
