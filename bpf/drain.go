package bpf

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/cilium/ebpf"

	"github.com/podflow/podflow/flow"
)

// drainBatch is how many keys one batch syscall returns at most.
const drainBatch = 4096

// Drainer empties the double-buffered flow maps: each Drain makes the idle
// map live, which makes the kernel wait for running programs, then empties
// the retired map with BatchLookupAndDelete and merges the per-CPU values.
// Not safe for concurrent use: the drain loop is its only caller.
type Drainer struct {
	objs       *Objects
	live, idle *ebpf.Map
	nCPU       int
	keys       []FlowFlowKey
	vals       []FlowFlowVal
	noBatchOps bool
}

// NewDrainer returns a Drainer over objs (whose flows_a is live after Load).
func NewDrainer(objs *Objects) (*Drainer, error) {
	n, err := ebpf.PossibleCPU()
	if err != nil {
		return nil, fmt.Errorf("possible CPUs: %w", err)
	}
	return &Drainer{
		objs: objs,
		live: objs.FlowsA,
		idle: objs.FlowsB,
		nCPU: n,
		keys: make([]FlowFlowKey, drainBatch),
		vals: make([]FlowFlowVal, drainBatch*n),
	}, nil
}

// Drain appends to dst one Entry per flow counted since the previous Drain,
// with timestamps converted by toWall.
func (d *Drainer) Drain(dst []flow.Entry, toWall func(ts uint64) time.Time) ([]flow.Entry, error) {
	if err := d.objs.LiveFlows.Update(uint32(0), d.idle, ebpf.UpdateAny); err != nil {
		return dst, fmt.Errorf("swap live flow map: %w", err)
	}
	retired := d.live
	d.live, d.idle = d.idle, retired
	if !d.noBatchOps {
		out, err := d.drainBatched(retired, dst, toWall)
		if !errors.Is(err, ebpf.ErrNotSupported) {
			return out, err
		}
		d.noBatchOps = true // kernels before 5.6
	}
	return d.drainIterate(retired, dst, toWall)
}

func (d *Drainer) drainBatched(m *ebpf.Map, dst []flow.Entry, toWall func(uint64) time.Time) ([]flow.Entry, error) {
	var cursor ebpf.MapBatchCursor
	for {
		n, err := m.BatchLookupAndDelete(&cursor, d.keys, d.vals, nil)
		for i := range n {
			dst = appendEntry(dst, &d.keys[i], d.vals[i*d.nCPU:(i+1)*d.nCPU], toWall)
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return dst, nil
		}
		if err != nil {
			return dst, fmt.Errorf("drain %s: %w", m, err)
		}
	}
}

// drainIterate is the fallback without batch operations. Iterating and then
// deleting is safe here only because the map is retired: no program writes it.
func (d *Drainer) drainIterate(m *ebpf.Map, dst []flow.Entry, toWall func(uint64) time.Time) ([]flow.Entry, error) {
	var (
		key   FlowFlowKey
		vals  []FlowFlowVal
		keys  []FlowFlowKey
		iter  = m.Iterate()
		start = len(dst)
	)
	for iter.Next(&key, &vals) {
		dst = appendEntry(dst, &key, vals, toWall)
		keys = append(keys, key)
	}
	if err := iter.Err(); err != nil {
		return dst[:start], fmt.Errorf("iterate %s: %w", m, err)
	}
	var errs []error
	for i := range keys {
		if err := m.Delete(&keys[i]); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return dst, fmt.Errorf("delete drained flows from %s: %w", m, errors.Join(errs...))
	}
	return dst, nil
}

// appendEntry merges one key's per-CPU values into an Entry.
func appendEntry(dst []flow.Entry, k *FlowFlowKey, perCPU []FlowFlowVal, toWall func(uint64) time.Time) []flow.Entry {
	var packets, octets, first, last uint64
	var flags uint16
	for i := range perCPU {
		v := &perCPU[i]
		if v.Packets == 0 {
			continue // slot of a CPU that never saw this flow
		}
		packets += v.Packets
		octets += v.Octets
		flags |= v.TcpFlags
		if first == 0 || (v.FirstNs != 0 && v.FirstNs < first) {
			first = v.FirstNs
		}
		if v.LastNs > last {
			last = v.LastNs
		}
	}
	if packets == 0 {
		return dst
	}
	return append(dst, flow.Entry{
		Key: KeyToFlow(k),
		Counters: flow.Counters{
			Packets:  packets,
			Octets:   octets,
			First:    toWall(first),
			Last:     toWall(last),
			TCPFlags: flags,
		},
	})
}

// KeyToFlow converts a kernel flow key to podflow's flow.Key.
func KeyToFlow(k *FlowFlowKey) flow.Key {
	var src, dst netip.Addr
	if k.IpVersion == 4 {
		src = netip.AddrFrom4([4]byte(k.Saddr[12:16]))
		dst = netip.AddrFrom4([4]byte(k.Daddr[12:16]))
	} else {
		src = netip.AddrFrom16(k.Saddr)
		dst = netip.AddrFrom16(k.Daddr)
	}
	return flow.Key{
		Tuple: flow.Tuple{
			SrcAddr: src,
			DstAddr: dst,
			SrcPort: k.Sport,
			DstPort: k.Dport,
			Proto:   k.Proto,
		},
		IfIndex:   k.Ifindex,
		Direction: flow.Direction(k.Direction),
	}
}
