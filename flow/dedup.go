package flow

// Dedup mode (TableConfig.PerInterface false).
//
// A packet crossing two observed interfaces of the node (pod→pod through a
// bridge: host-side veth A ingress, then veth B egress; pod→uplink) is reported
// by the kernel once per observation point: same Tuple, different IfIndex or
// Direction. To count it once, each Tuple has one owner observation point, the
// one whose Key the single flow of that Tuple carries; entries of any other
// observation point are dropped and counted in TableStats.DedupDropped*.
//
// The owner is elected when the Tuple's flow is created: among the entries of
// that Update for the Tuple, the observation point with the earliest First
// wins (the packet's first hop on the node). Ties go to Ingress before Egress
// (a packet meets an ingress hook on the node before an egress one, and the
// kernel's coarse clock gives both hops the same time), then to the lowest
// IfIndex, so the choice does not depend on entry order.
// Ownership lasts as long as the flow is held; when it leaves (timeout, end of
// flow) the next packet elects again. A consequence: if the owner stops seeing
// the tuple's packets while another point still does (a route change), those
// packets are dropped as duplicates until the owner's flow times out.

// updateDedup runs in two passes so that the owner of a new Tuple is elected
// from all of this Update's entries before any of them is folded in.
func (t *Table) updateDedup(entries []Entry) {
	t.entrySlot = t.entrySlot[:0]
	// Pass 1: fold entries of established flows, elect owners of new ones.
	for i := range entries {
		e := &entries[i]
		if e.Packets == 0 {
			t.entrySlot = append(t.entrySlot, -1)
			continue
		}
		idx, ok := t.byTuple[e.Tuple]
		switch {
		case !ok:
			idx = t.create(e.Key)
			t.slots[idx].firstNs = e.First.UnixNano() // election key until pass 2 folds
		case t.slots[idx].state&slotFresh != 0:
			s := &t.slots[idx]
			if first := e.First.UnixNano(); observedEarlier(first, e.Key, s.firstNs, s.key) {
				s.key, s.firstNs = e.Key, first
			}
		default:
			t.foldOrDrop(idx, e)
			idx = -1
		}
		t.entrySlot = append(t.entrySlot, idx)
	}
	// Pass 2: fold or drop the entries of flows created in pass 1.
	for i, idx := range t.entrySlot {
		if idx >= 0 {
			t.foldOrDrop(idx, &entries[i])
		}
	}
}

// observedEarlier orders observation points of one Tuple for the election.
func observedEarlier(aFirst int64, a Key, bFirst int64, b Key) bool {
	if aFirst != bFirst {
		return aFirst < bFirst
	}
	if a.Direction != b.Direction {
		return a.Direction < b.Direction // Ingress (0) before Egress (1)
	}
	return a.IfIndex < b.IfIndex
}

// foldOrDrop folds e into the flow if e was counted at its owner observation
// point, and counts it as a duplicate otherwise.
func (t *Table) foldOrDrop(idx int32, e *Entry) {
	k := &t.slots[idx].key
	if k.IfIndex == e.IfIndex && k.Direction == e.Direction {
		t.fold(idx, e)
		return
	}
	t.stats.DedupDroppedEntries++
	t.stats.DedupDroppedPackets += e.Packets
	t.stats.DedupDroppedOctets += e.Octets
}
