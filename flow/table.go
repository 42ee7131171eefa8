package flow

import (
	"sync"
	"time"
)

// Timeouts used when TableConfig leaves them at zero.
const (
	DefaultActiveTimeout = 60 * time.Second
	DefaultIdleTimeout   = 15 * time.Second
)

// TableConfig sets how flows leave the table.
type TableConfig struct {
	// ActiveTimeout: a flow is exported (and kept) once the first packet of
	// its pending delta is this old. <= 0 means DefaultActiveTimeout.
	ActiveTimeout time.Duration
	// IdleTimeout: a flow leaves once its last packet is this old. <= 0 means
	// DefaultIdleTimeout.
	IdleTimeout time.Duration
	// PerInterface makes every observation point (IfIndex+Direction) its own
	// flow, as routers report. False (the default) counts a packet crossing
	// several observed interfaces of the node once: see dedup.go.
	PerInterface bool
	// MaxFlows caps the flows held; 0 means unlimited. A new flow beyond the
	// cap is exported at once with LackOfResources instead of being held.
	MaxFlows int
}

// TableStats are running totals of a Table.
type TableStats struct {
	Flows               int    // flows held at the end of the last call
	FlowsCreated        uint64 // flows that entered the table (not those over MaxFlows)
	RecordsByReason     [LackOfResources + 1]uint64
	DedupDroppedEntries uint64 // entries of non-owner observation points (dedup mode)
	DedupDroppedPackets uint64
	DedupDroppedOctets  uint64
	OverMaxFlows        uint64 // new flows exported at once because MaxFlows was reached
	// Socket and drop measurements whose tuple no held flow had in the
	// drain that brought them nor in the next one: traffic that crossed no
	// observed interface (loopback, host-local), or whose flow already left
	// the table.
	UnmatchedTuples      uint64
	UnmatchedDropPackets uint64
}

// Table turns drained per-interval counters into flow records: it holds each
// flow's pending delta until a timeout, end of flow, or shutdown exports it.
//
// Flows live in a slab of fixed-size slots indexed by a map keyed by Tuple
// (the map holds int32 slot numbers, the slab holds the state), so a flow costs
// one map entry plus one slot and creating one allocates nothing once the
// slab and map have grown. All flows of one Tuple (one per observation point
// in PerInterface mode, exactly one in dedup mode) are chained through
// flowSlot.next, which also gives end-of-flow its index by Tuple that ignores
// the observation point.
//
// Update, Expire, Flush and Len must be called from one goroutine (the drain
// loop); Stats may be called from any goroutine.
type Table struct {
	cfg              TableConfig
	activeNs, idleNs int64

	byTuple map[Tuple]int32 // head of the chain of slots of that tuple
	slots   []flowSlot
	free    int32 // head of the free-slot list through flowSlot.next, -1 if none
	held    int   // slots in use, excluding those over MaxFlows

	ready     []Record     // end-of-flow and lack-of-resources records for the next Expire/Flush
	carried   []TupleEntry // tuple measurements no flow had in the last Update: retried once (see join)
	spare     []TupleEntry // the other buffer of carried, so carrying allocates nothing once grown
	touched   []int32      // slots Update revisits before returning
	entrySlot []int32      // dedup: slot of each entry between the two passes

	stats     TableStats
	statsMu   sync.Mutex
	published TableStats
}

// flowSlot is one flow's state. Times are ns since the Unix epoch: an int64
// instead of a time.Time saves 16 bytes per timestamp.
type flowSlot struct {
	key      Key
	firstNs  int64  // first packet of the pending delta
	lastNs   int64  // last packet of the pending delta, or of the last exported one when nothing is pending
	packets  uint64 // pending delta; 0 means nothing to export
	octets   uint64
	next     int32 // next slot of the same tuple, or next free slot; -1 ends the list
	tcpFlags uint16
	state    uint8
	m        Measures // pending with the delta
}

// pending reports whether the slot has something to export: packets, or
// measurements that arrived after its last record (a late retransmission).
func (s *flowSlot) pending() bool { return s.packets > 0 || s.m != (Measures{}) }

const (
	slotInUse    uint8 = 1 << iota
	slotFresh          // created in the current Update: dedup owner still being elected
	slotOverflow       // created beyond MaxFlows: exported and removed before Update returns
	slotTouched        // already listed in Table.touched
	slotFin            // a FIN was counted at some point of this flow's life
	slotRst            // an RST was counted in the current Update
)

// NewTable returns an empty table.
func NewTable(cfg TableConfig) *Table {
	if cfg.ActiveTimeout <= 0 {
		cfg.ActiveTimeout = DefaultActiveTimeout
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	return &Table{
		cfg:      cfg,
		activeNs: int64(cfg.ActiveTimeout),
		idleNs:   int64(cfg.IdleTimeout),
		byTuple:  make(map[Tuple]int32),
		free:     -1,
	}
}

// Len returns the number of flows held.
func (t *Table) Len() int { return t.held }

// Stats returns running totals as of the end of the last Update, Expire or
// Flush.
func (t *Table) Stats() TableStats {
	t.statsMu.Lock()
	defer t.statsMu.Unlock()
	return t.published
}

func (t *Table) publish() {
	t.stats.Flows = t.held
	t.statsMu.Lock()
	t.published = t.stats
	t.statsMu.Unlock()
}

// Update folds one drain's entries (merged over CPUs, wall-clock times) into
// the table, then joins the drain's tuple measurements (sockets, drops) to
// the flows of their tuples (one no flow has waits one Update: see join).
// The same Key may appear more than once: its counters are summed. Entries
// with no packets are ignored. Flows that end (TCP FIN both ways or RST) or
// do not fit under MaxFlows are removed here, after the join, so a
// connection's last measurements leave with it; their records come out of
// the next Expire or Flush. Cost: O(len(entries) + len(tuples)).
func (t *Table) Update(entries []Entry, tuples ...TupleEntry) {
	if t.cfg.PerInterface {
		t.updatePerInterface(entries)
	} else {
		t.updateDedup(entries)
	}
	t.join(tuples)
	t.finishUpdate()
	t.publish()
}

// join adds each tuple's measurements to one flow of that tuple, so they are
// counted once: in dedup mode its only flow; in per-interface mode the flow
// of its first observation point by the dedup tie rule (ingress before
// egress, then the lowest ifindex).
//
// A measurement whose tuple has no flow is kept for the next Update before
// it is counted unmatched. The drain reads the flow map before the tuple
// maps, so a connection that starts between the two reads brings its socket
// measurements one drain before its packets: a short connection's RTT
// samples were all lost that way (seen in CI, 1 run in 5 of the matrix).
func (t *Table) join(tuples []TupleEntry) {
	last := t.carried
	t.carried = t.spare[:0]
	for i := range last {
		if !t.joinOne(&last[i]) {
			t.unmatched(&last[i])
		}
	}
	clear(last)
	t.spare = last[:0]
	for i := range tuples {
		if !t.joinOne(&tuples[i]) {
			t.carried = append(t.carried, tuples[i])
		}
	}
}

// joinOne adds te to its flow, and reports false if no flow has its tuple.
func (t *Table) joinOne(te *TupleEntry) bool {
	idx, ok := t.byTuple[te.Tuple]
	if !ok {
		return false
	}
	best := idx
	for idx = t.slots[idx].next; idx >= 0; idx = t.slots[idx].next {
		if observedEarlier(0, t.slots[idx].key, 0, t.slots[best].key) {
			best = idx
		}
	}
	t.slots[best].m.Add(&te.Measures)
	return true
}

func (t *Table) unmatched(te *TupleEntry) {
	t.stats.UnmatchedTuples++
	t.stats.UnmatchedDropPackets += te.DropPackets
}

func (t *Table) updatePerInterface(entries []Entry) {
	for i := range entries {
		e := &entries[i]
		if e.Packets == 0 {
			continue
		}
		idx := t.find(e.Key)
		if idx < 0 {
			idx = t.create(e.Key)
		}
		t.fold(idx, e)
	}
}

// find returns the slot of k, or -1.
func (t *Table) find(k Key) int32 {
	idx, ok := t.byTuple[k.Tuple]
	if !ok {
		return -1
	}
	for ; idx >= 0; idx = t.slots[idx].next {
		s := &t.slots[idx]
		if s.key.IfIndex == k.IfIndex && s.key.Direction == k.Direction {
			return idx
		}
	}
	return -1
}

// create adds an empty flow for k at the head of its tuple's chain.
func (t *Table) create(k Key) int32 {
	idx := t.free
	if idx >= 0 {
		t.free = t.slots[idx].next
	} else {
		idx = int32(len(t.slots))
		t.slots = append(t.slots, flowSlot{})
	}
	next, ok := t.byTuple[k.Tuple]
	if !ok {
		next = -1
	}
	t.byTuple[k.Tuple] = idx
	s := &t.slots[idx]
	*s = flowSlot{key: k, next: next, state: slotInUse | slotFresh | slotTouched}
	if t.cfg.MaxFlows > 0 && t.held >= t.cfg.MaxFlows {
		s.state |= slotOverflow
		t.stats.OverMaxFlows++
	} else {
		t.held++
		t.stats.FlowsCreated++
	}
	t.touched = append(t.touched, idx)
	return idx
}

// fold adds e's counts to the slot's pending delta.
func (t *Table) fold(idx int32, e *Entry) {
	s := &t.slots[idx]
	c := &e.Counters
	s.m.Add(&e.Measures)
	first, last := c.First.UnixNano(), c.Last.UnixNano()
	if s.packets == 0 {
		s.firstNs, s.lastNs, s.tcpFlags = first, last, 0
	} else {
		s.firstNs = min(s.firstNs, first)
		s.lastNs = max(s.lastNs, last)
	}
	s.packets += c.Packets
	s.octets += c.Octets
	s.tcpFlags |= c.TCPFlags
	// Only TCP ends on flags: ICMP and UDP leave on timeouts alone.
	if s.key.Proto != ProtoTCP || c.TCPFlags&(TCPFin|TCPRst) == 0 {
		return
	}
	if c.TCPFlags&TCPFin != 0 {
		s.state |= slotFin
	}
	if c.TCPFlags&TCPRst != 0 {
		s.state |= slotRst
	}
	if s.state&slotTouched == 0 {
		s.state |= slotTouched
		t.touched = append(t.touched, idx)
	}
}

// finishUpdate exports flows over MaxFlows, then ends TCP conversations that
// saw an RST or a FIN each way. Flows over MaxFlows go first: they were never
// held, so they take part in no conversation.
func (t *Table) finishUpdate() {
	for _, idx := range t.touched {
		if t.slots[idx].state&slotOverflow != 0 {
			t.emitReady(idx, LackOfResources)
			t.remove(idx)
		}
	}
	for _, idx := range t.touched {
		s := &t.slots[idx] // removed slots have state 0; nothing reuses them before we return
		if s.state&slotInUse != 0 && t.conversationEnded(s) {
			tuple := s.key.Tuple
			t.endChain(tuple)
			t.endChain(tuple.Reverse())
		}
	}
	for _, idx := range t.touched {
		t.slots[idx].state &^= slotFresh | slotTouched | slotRst
	}
	t.touched = t.touched[:0]
}

// conversationEnded: RST seen either way, or FIN seen in both directions (at
// any observation point of each).
func (t *Table) conversationEnded(s *flowSlot) bool {
	if s.key.Proto != ProtoTCP {
		return false
	}
	if s.state&slotRst != 0 {
		return true
	}
	if s.state&slotFin == 0 {
		return false
	}
	idx, ok := t.byTuple[s.key.Tuple.Reverse()]
	for ; ok && idx >= 0; idx = t.slots[idx].next {
		if t.slots[idx].state&slotFin != 0 {
			return true
		}
	}
	return false
}

// endChain exports and removes every flow of tuple with EndOfFlow.
func (t *Table) endChain(tuple Tuple) {
	idx, ok := t.byTuple[tuple]
	if !ok {
		return
	}
	delete(t.byTuple, tuple)
	for idx >= 0 {
		next := t.slots[idx].next
		t.emitReady(idx, EndOfFlow)
		t.freeSlot(idx)
		idx = next
	}
}

func (t *Table) emitReady(idx int32, reason EndReason) {
	if t.slots[idx].pending() {
		t.ready = append(t.ready, t.record(idx, reason))
	}
}

// record builds the record of the slot's pending delta.
func (t *Table) record(idx int32, reason EndReason) Record {
	s := &t.slots[idx]
	return Record{
		Key: s.key,
		Counters: Counters{
			Packets:  s.packets,
			Octets:   s.octets,
			First:    time.Unix(0, s.firstNs),
			Last:     time.Unix(0, s.lastNs),
			TCPFlags: s.tcpFlags,
		},
		Measures:  s.m,
		EndReason: reason,
	}
}

// remove unlinks the slot from its tuple's chain and frees it.
func (t *Table) remove(idx int32) {
	s := &t.slots[idx]
	head := t.byTuple[s.key.Tuple]
	switch {
	case head == idx && s.next < 0:
		delete(t.byTuple, s.key.Tuple)
	case head == idx:
		t.byTuple[s.key.Tuple] = s.next
	default:
		prev := head
		for t.slots[prev].next != idx {
			prev = t.slots[prev].next
		}
		t.slots[prev].next = s.next
	}
	t.freeSlot(idx)
}

// freeSlot returns an already unlinked slot to the free list.
func (t *Table) freeSlot(idx int32) {
	s := &t.slots[idx]
	if s.state&slotOverflow == 0 {
		t.held--
	}
	*s = flowSlot{next: t.free}
	t.free = idx
}

// Expire appends to out every record due at now and returns it: first those
// Update set aside (end of flow, lack of resources), then idle timeouts (the
// flow's last packet is IdleTimeout old; the flow leaves, with a record only if
// a delta is pending) and active timeouts (the pending delta's first packet is
// ActiveTimeout old; the delta is exported and the flow stays). Cost: a scan of
// every slot, O(all flows), allocation-free once out has grown.
func (t *Table) Expire(now time.Time, out []Record) []Record {
	out = t.handOutReady(out)
	nowNs := now.UnixNano()
	for i := range t.slots {
		s := &t.slots[i]
		if s.state&slotInUse == 0 {
			continue
		}
		switch {
		case nowNs-s.lastNs >= t.idleNs:
			if s.pending() {
				out = t.handOut(out, t.record(int32(i), IdleTimeout))
			}
			t.remove(int32(i))
		case s.packets > 0 && nowNs-s.firstNs >= t.activeNs:
			out = t.handOut(out, t.record(int32(i), ActiveTimeout))
			s.packets, s.octets, s.tcpFlags, s.m = 0, 0, 0, Measures{} // lastNs stays: idle is judged on it
		}
	}
	t.publish()
	return out
}

// Flush appends a ForcedEnd record for every pending delta (after the records
// Update set aside) and empties the table. Used on shutdown.
func (t *Table) Flush(out []Record) []Record {
	out = t.handOutReady(out)
	for i := range t.carried { // no later drain will bring their flows
		t.unmatched(&t.carried[i])
	}
	clear(t.carried)
	t.carried = t.carried[:0]
	for i := range t.slots {
		if t.slots[i].state&slotInUse != 0 && t.slots[i].pending() {
			out = t.handOut(out, t.record(int32(i), ForcedEnd))
		}
	}
	clear(t.byTuple)
	clear(t.slots)
	t.slots = t.slots[:0]
	t.free = -1
	t.held = 0
	t.publish()
	return out
}

func (t *Table) handOutReady(out []Record) []Record {
	for _, r := range t.ready {
		out = t.handOut(out, r)
	}
	clear(t.ready)
	t.ready = t.ready[:0]
	return out
}

func (t *Table) handOut(out []Record, r Record) []Record {
	t.stats.RecordsByReason[r.EndReason]++
	return append(out, r)
}
