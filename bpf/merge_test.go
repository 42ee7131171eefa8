package bpf

import (
	"testing"
	"time"

	"github.com/podflow/podflow/flow"
)

// Pure unit test of the per-CPU merge: sums, OR of flags, earliest first and
// latest last, ignoring CPUs that never saw the flow and a first_ns of 0
// left by an entry another CPU created.
func TestPerCPUValuesMerge(t *testing.T) {
	k := FlowFlowKey{Sport: 1, Dport: 2, Proto: 17, IpVersion: 4, Ifindex: 7, Direction: 1}
	k.Saddr[10], k.Saddr[11], k.Saddr[15] = 0xff, 0xff, 1
	k.Daddr[10], k.Daddr[11], k.Daddr[15] = 0xff, 0xff, 2
	perCPU := []FlowFlowVal{
		{Packets: 3, Octets: 300, FirstNs: 50, LastNs: 90, TcpFlags: 0x02},
		{}, // this CPU never saw the flow
		{Packets: 1, Octets: 40, FirstNs: 0, LastNs: 120, TcpFlags: 0x10},
		{Packets: 2, Octets: 80, FirstNs: 20, LastNs: 60, TcpFlags: 0x01},
	}
	got := appendEntry(nil, &k, perCPU, func(ns uint64) time.Time { return time.Unix(0, int64(ns)) })
	if len(got) != 1 {
		t.Fatalf("got %d entries, want 1", len(got))
	}
	e := got[0]
	if e.Packets != 6 || e.Octets != 420 || e.TCPFlags != 0x13 {
		t.Fatalf("merged %d packets %d octets flags %#x, want 6 420 0x13", e.Packets, e.Octets, e.TCPFlags)
	}
	if e.First.UnixNano() != 20 || e.Last.UnixNano() != 120 {
		t.Fatalf("first/last = %d/%d, want 20/120", e.First.UnixNano(), e.Last.UnixNano())
	}
	if e.SrcAddr.String() != "0.0.0.1" || e.DstAddr.String() != "0.0.0.2" || e.IfIndex != 7 || e.Direction != flow.Egress {
		t.Fatalf("key %+v", e.Key)
	}
	if none := appendEntry(nil, &k, make([]FlowFlowVal, 4), nil); len(none) != 0 {
		t.Fatalf("a key with no packets on any CPU gave %d entries", len(none))
	}
}
