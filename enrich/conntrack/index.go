package conntrack

import (
	ct "github.com/ti-mo/conntrack"

	"github.com/podflow/podflow/flow"
)

// key is a flow.Tuple in a flat comparable form: the map hashes 38 plain
// bytes instead of netip.Addr's pointer-carrying struct. v6 keeps an IPv6
// flow of v4-mapped addresses apart from the IPv4 flow.
type key struct {
	src, dst     [16]byte
	sport, dport uint16
	proto        uint8
	v6           bool
}

func keyOf(t flow.Tuple) key {
	return key{
		src: t.SrcAddr.As16(), dst: t.DstAddr.As16(),
		sport: t.SrcPort, dport: t.DstPort, proto: t.Proto, v6: t.SrcAddr.Is6(),
	}
}

// form is which of an entry's four tuples a slot was found by.
type form uint8

const (
	formOrig            form = iota // original direction as sent (before NAT)
	formReply                       // reply direction as sent (before de-NAT)
	formOrigTranslated              // original direction after NAT: the reply tuple inverted
	formReplyTranslated             // reply direction after de-NAT: the original tuple inverted
)

// entry is one NAT'ed connection. Entries in an index that readers may see
// are only mutated under Table.mu; a rebuild copies instead.
type entry struct {
	id          uint32 // conntrack ID, to match DESTROY events to their connection
	orig, reply flow.Tuple
	expiresAt   int64 // Table.now() after which it is gone; 0 while the connection lives
}

type slot struct {
	e    *entry
	form form
}

// rank orders claims on one tuple: a live connection beats an ended one,
// an untranslated tuple beats a translated one (conntrack keeps orig and
// reply tuples unique; the inverted ones may repeat another connection's).
func (s slot) rank() int {
	r := 0
	if s.e.expiresAt == 0 {
		r += 2
	}
	if s.form == formOrig || s.form == formReply {
		r++
	}
	return r
}

func (s slot) nat() NAT {
	o, r := &s.e.orig, &s.e.reply
	switch s.form {
	case formOrig:
		return NAT{SrcAddr: r.DstAddr, SrcPort: r.DstPort, DstAddr: r.SrcAddr, DstPort: r.SrcPort, Kind: PostNAT}
	case formReply:
		return NAT{SrcAddr: o.DstAddr, SrcPort: o.DstPort, DstAddr: o.SrcAddr, DstPort: o.SrcPort, Kind: PostNAT, Reply: true}
	case formOrigTranslated:
		return NAT{SrcAddr: o.SrcAddr, SrcPort: o.SrcPort, DstAddr: o.DstAddr, DstPort: o.DstPort, Kind: PreNAT}
	default:
		return NAT{SrcAddr: r.SrcAddr, SrcPort: r.SrcPort, DstAddr: r.DstAddr, DstPort: r.DstPort, Kind: PreNAT, Reply: true}
	}
}

// index holds entries by original tuple and every entry's four tuples for
// Lookup. It is not synchronised: Table guards it.
type index struct {
	entries map[key]*entry // one per connection, by original tuple
	slots   map[key]slot
	gone    []*entry // ended entries, by expiresAt; may hold ones since replaced
	inGrace int      // ended entries still in entries
}

func newIndex(size int) *index {
	return &index{entries: make(map[key]*entry, size), slots: make(map[key]slot, 4*size)}
}

func (e *entry) keys() [4]key {
	return [4]key{keyOf(e.orig), keyOf(e.reply), keyOf(invert(e.reply)), keyOf(invert(e.orig))}
}

// put adds e or refreshes the live entry of its connection. It reports
// false when e is new and the index already holds max entries.
func (x *index) put(e *entry, max int) bool {
	k := keyOf(e.orig)
	cur := x.entries[k]
	switch {
	case cur != nil && cur.expiresAt == 0 && cur.reply == e.reply:
		cur.id = e.id // same translation: an UPDATE, or an event behind its dump
		return true
	case cur != nil:
		x.remove(cur) // a new connection reusing the tuple of an ended one
	case len(x.entries) >= max:
		return false
	}
	x.entries[k] = e
	if e.expiresAt != 0 {
		x.gone = append(x.gone, e)
		x.inGrace++
	}
	for f, k := range e.keys() {
		s := slot{e: e, form: form(f)}
		if cur, ok := x.slots[k]; ok && cur.e != e && cur.rank() > s.rank() {
			continue
		}
		x.slots[k] = s
	}
	return true
}

// remove forgets e and the tuples it still claims.
func (x *index) remove(e *entry) {
	for _, k := range e.keys() {
		if x.slots[k].e == e {
			delete(x.slots, k)
		}
	}
	if k := keyOf(e.orig); x.entries[k] == e {
		delete(x.entries, k)
		if e.expiresAt != 0 {
			x.inGrace--
		}
	}
}

// end starts the grace period of the live connection with original tuple
// orig (and conntrack ID id, when both IDs are known).
func (x *index) end(orig flow.Tuple, id uint32, expiresAt int64) {
	e := x.entries[keyOf(orig)]
	if e == nil || e.expiresAt != 0 || (id != 0 && e.id != 0 && id != e.id) {
		return
	}
	e.expiresAt = expiresAt
	x.gone = append(x.gone, e)
	x.inGrace++
}

// expire removes the entries whose grace ran out by now.
func (x *index) expire(now int64) {
	n := 0
	for ; n < len(x.gone) && x.gone[n].expiresAt <= now; n++ {
		x.remove(x.gone[n]) // no-op for an entry already replaced
		x.gone[n] = nil
	}
	x.gone = x.gone[n:]
}

// rebuild makes the index a dump describes, carrying over what the dump
// cannot know: ended connections still in grace, and connections the old
// index holds live that the dump lacks (they ended unseen: their grace
// starts now). It never mutates old, which readers may be using.
func rebuild(old *index, dumped []ct.Flow, now, grace int64, max int) (x *index, dropped int) {
	x = newIndex(len(old.entries))
	for i := range dumped {
		if e, ok := entryOf(&dumped[i]); ok && !x.put(e, max) {
			dropped++
		}
	}
	carry := func(e *entry, expiresAt int64) {
		if x.entries[keyOf(e.orig)] != nil {
			return // live again
		}
		c := *e
		c.expiresAt = expiresAt
		if !x.put(&c, max) {
			dropped++
		}
	}
	for _, e := range old.gone {
		if old.entries[keyOf(e.orig)] == e && e.expiresAt > now {
			carry(e, e.expiresAt)
		}
	}
	for _, e := range old.entries {
		if e.expiresAt == 0 {
			carry(e, now+grace)
		}
	}
	return x, dropped
}

// entryOf converts a conntrack flow; ok is false when no translation
// applies or the protocol is ICMP (flow.Tuple drops the echo ID that
// conntrack matches on, so ICMP translations cannot be told apart).
func entryOf(f *ct.Flow) (*entry, bool) {
	orig, reply := tupleOf(f.TupleOrig), tupleOf(f.TupleReply)
	if orig.IsICMP() || !orig.SrcAddr.IsValid() || !reply.SrcAddr.IsValid() || orig == invert(reply) {
		return nil, false
	}
	return &entry{id: f.ID, orig: orig, reply: reply}, true
}

func tupleOf(t ct.Tuple) flow.Tuple {
	return flow.Tuple{
		SrcAddr: t.IP.SourceAddress, DstAddr: t.IP.DestinationAddress,
		SrcPort: t.Proto.SourcePort, DstPort: t.Proto.DestinationPort, Proto: t.Proto.Protocol,
	}
}

// invert swaps the ends (flow.Tuple.Reverse zeroes ICMP ports; this is
// only used for port-carrying protocols).
func invert(t flow.Tuple) flow.Tuple {
	return flow.Tuple{SrcAddr: t.DstAddr, DstAddr: t.SrcAddr, SrcPort: t.DstPort, DstPort: t.SrcPort, Proto: t.Proto}
}
