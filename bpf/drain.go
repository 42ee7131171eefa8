package bpf

import (
	"net/netip"
	"time"

	"github.com/podflow/podflow/flow"
)

// Drainer empties the double-buffered flow maps (see doubleBuffer) and
// merges the per-CPU values. Not safe for concurrent use: the drain loop is
// its only caller.
type Drainer struct {
	buf *doubleBuffer[FlowFlowKey, FlowFlowVal]
}

// NewDrainer returns a Drainer over objs (whose flows_a is live after Load).
func NewDrainer(objs *Objects) (*Drainer, error) {
	buf, err := newDoubleBuffer[FlowFlowKey, FlowFlowVal](swapSlot(objs.LiveFlows), objs.FlowsA, objs.FlowsB)
	if err != nil {
		return nil, err
	}
	return &Drainer{buf: buf}, nil
}

// Drain appends to dst one Entry per flow counted since the previous Drain,
// with timestamps converted by toWall.
func (d *Drainer) Drain(dst []flow.Entry, toWall func(ts uint64) time.Time) ([]flow.Entry, error) {
	err := d.buf.drain(func(k *FlowFlowKey, perCPU []FlowFlowVal) {
		dst = appendEntry(dst, k, perCPU, toWall)
	})
	return dst, err
}

// appendEntry merges one key's per-CPU values into an Entry.
func appendEntry(dst []flow.Entry, k *FlowFlowKey, perCPU []FlowFlowVal, toWall func(uint64) time.Time) []flow.Entry {
	var packets, octets, first, last uint64
	var flags uint16
	var hs flow.Handshake
	var wire uint32
	for i := range perCPU {
		v := &perCPU[i]
		if v.Packets == 0 {
			continue // slot of a CPU that never saw this flow
		}
		wire += v.WireRetrans
		if v.HandshakeSeen != 0 {
			hs = flow.Handshake{ServerUs: v.HandshakeServerUs, ClientUs: v.HandshakeClientUs, Seen: true}
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
		Measures: flow.Measures{Handshake: hs, WireRetransPackets: wire},
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
