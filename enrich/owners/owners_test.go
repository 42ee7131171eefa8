package owners

import (
	"net/netip"
	"testing"
	"time"

	"github.com/podflow/podflow/flow"
)

type fakeResolver map[uint32]flow.Process

func (f fakeResolver) Resolve(pid uint32) (flow.Process, bool) {
	p, ok := f[pid]
	return p, ok
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func rec(proto uint8, src, dst string) flow.Record {
	s, d := ap(src), ap(dst)
	return flow.Record{Key: flow.Key{Tuple: flow.Tuple{SrcAddr: s.Addr(), DstAddr: d.Addr(), SrcPort: s.Port(), DstPort: d.Port(), Proto: proto}}}
}

func newTable(c *clock) *Table {
	return New(Config{
		Resolver: fakeResolver{
			100: {Exe: "/usr/bin/curl", ContainerID: "c0ffee"},
			200: {Exe: "/usr/sbin/nginx"},
		},
		Grace: time.Minute, TTL: 10 * time.Minute, Now: c.now,
	})
}

// Both ends of a connection between two local processes: the client by its
// connected socket, the server by its accepted one; a flow of an unknown
// port is left alone; UDP by a wildcard bind.
func TestEnrichBothEnds(t *testing.T) {
	c := &clock{time.Unix(1000, 0)}
	tbl := newTable(c)
	tbl.Observe(Event{Kind: Opened, Proto: 6, Local: ap("10.0.0.1:40000"), Remote: ap("10.0.0.2:80"), PID: 100, Comm: "curl", Netns: 1})
	tbl.Observe(Event{Kind: Opened, Proto: 6, Local: ap("0.0.0.0:80"), PID: 200, Comm: "nginx", Netns: 2}) // listen
	tbl.Observe(Event{Kind: Opened, Proto: 17, Local: ap("[::]:53"), PID: 200, Comm: "nginx", Netns: 2})

	recs := []flow.Record{
		rec(6, "10.0.0.1:40000", "10.0.0.2:80"),
		rec(6, "10.0.0.2:80", "10.0.0.1:40000"),
		rec(6, "10.0.0.9:1", "10.0.0.8:2"),
		rec(17, "10.0.0.1:5000", "10.0.0.2:53"),
	}
	tbl.Enrich(recs)
	curl := flow.Process{PID: 100, Name: "curl", Exe: "/usr/bin/curl", ContainerID: "c0ffee"}
	nginx := flow.Process{PID: 200, Name: "nginx", Exe: "/usr/sbin/nginx"}
	want := []flow.Context{{Src: curl, Dst: nginx}, {Src: nginx, Dst: curl}, {}, {Dst: nginx}}
	for i, w := range want {
		if recs[i].Context != w {
			t.Errorf("record %d: context %+v, want %+v", i, recs[i].Context, w)
		}
	}
}

// The same wildcard port bound in two namespaces cannot be told apart from
// the flow's addresses: no attribution, counted as ambiguous.
func TestWildcardInTwoNamespacesIsAmbiguous(t *testing.T) {
	c := &clock{time.Unix(1000, 0)}
	tbl := newTable(c)
	tbl.Observe(Event{Kind: Opened, Proto: 6, Local: ap("0.0.0.0:8080"), PID: 100, Netns: 1})
	tbl.Observe(Event{Kind: Opened, Proto: 6, Local: ap("0.0.0.0:8080"), PID: 200, Netns: 2})
	recs := []flow.Record{rec(6, "10.0.0.1:40000", "10.0.0.2:8080")}
	tbl.Enrich(recs)
	if recs[0].Context.Dst.Known() {
		t.Errorf("ambiguous wildcard attributed to %+v", recs[0].Context.Dst)
	}
	if s := tbl.Stats(); s.Ambiguous != 1 {
		t.Errorf("stats %+v", s)
	}
}

// A closed connection stays resolvable for the grace period (its last
// record is exported on idle timeout), then is forgotten; open endpoints
// expire after TTL without use.
func TestClosedConnectionsExpireAfterGrace(t *testing.T) {
	c := &clock{time.Unix(1000, 0)}
	tbl := newTable(c)
	local, remote := ap("10.0.0.1:40000"), ap("10.0.0.2:80")
	tbl.Observe(Event{Kind: Opened, Proto: 6, Local: local, Remote: remote, PID: 100})
	tbl.Observe(Event{Kind: Closed, Proto: 6, Local: local, Remote: remote})
	c.t = c.t.Add(59 * time.Second)
	recs := []flow.Record{rec(6, "10.0.0.1:40000", "10.0.0.2:80")}
	tbl.Enrich(recs)
	if recs[0].Context.Src.PID != 100 {
		t.Fatalf("within grace: %+v", recs[0].Context)
	}
	c.t = c.t.Add(12 * time.Second) // past the grace, and past the 10 s sweep cadence
	tbl.Enrich(nil)                 // sweeps
	if got := tbl.Stats().Entries; got != 0 {
		t.Errorf("%d entries after the grace, want 0 (the connection and its local-only key)", got)
	}

	// An open endpoint no event or lookup touches expires after TTL.
	tbl.Observe(Event{Kind: Opened, Proto: 17, Local: ap("10.0.0.1:5353"), PID: 100})
	c.t = c.t.Add(11 * time.Minute)
	tbl.Enrich(nil)
	if got := tbl.Stats().Entries; got != 0 {
		t.Errorf("%d entries after TTL, want 0", got)
	}
}

func TestBoundedByMaxEntries(t *testing.T) {
	c := &clock{time.Unix(1000, 0)}
	tbl := New(Config{MaxEntries: 80, Now: c.now})
	for i := range 200 {
		c.t = c.t.Add(time.Millisecond)
		tbl.Observe(Event{Kind: Opened, Proto: 17, Local: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(1000+i)), PID: 1})
	}
	s := tbl.Stats()
	if s.Entries > 80 || s.Evicted == 0 {
		t.Errorf("stats %+v, want at most 80 entries and evictions", s)
	}
	// The newest survive.
	recs := []flow.Record{rec(17, "10.0.0.1:1199", "10.0.0.2:53")}
	tbl.Enrich(recs)
	if !recs[0].Context.Src.Known() {
		t.Errorf("newest endpoint evicted")
	}
}
