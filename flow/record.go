// Package flow holds the flow record that travels through every podflow stage
// (capture → aggregate → enrich → export) and the drain loop that produces it.
package flow

import (
	"net/netip"
	"time"
)

// Direction is the TC hook a packet was seen on, from the observed
// interface's point of view (as routers report it): on the host side of a
// pod's veth, Ingress carries packets leaving the pod.
type Direction uint8

const (
	Ingress Direction = 0
	Egress  Direction = 1
)

func (d Direction) String() string {
	if d == Egress {
		return "egress"
	}
	return "ingress"
}

// IP protocol numbers podflow treats specially.
const (
	ProtoICMP   uint8 = 1
	ProtoTCP    uint8 = 6
	ProtoUDP    uint8 = 17
	ProtoICMPv6 uint8 = 58
	ProtoSCTP   uint8 = 132
)

// EndReason values are IPFIX flowEndReason (IE 136) codes.
type EndReason uint8

const (
	IdleTimeout     EndReason = 1
	ActiveTimeout   EndReason = 2
	EndOfFlow       EndReason = 3
	ForcedEnd       EndReason = 4
	LackOfResources EndReason = 5
)

func (r EndReason) String() string {
	switch r {
	case IdleTimeout:
		return "idle"
	case ActiveTimeout:
		return "active"
	case EndOfFlow:
		return "end"
	case ForcedEnd:
		return "forced"
	case LackOfResources:
		return "resources"
	}
	return "unknown"
}

// Tuple is the unidirectional 5-tuple of a flow. Addresses are unmapped
// (IPv4 flows hold 4-byte addresses). For ICMP and ICMPv6 SrcPort is 0 and
// DstPort is type<<8|code, as classic exporters do. Non-first fragments and
// packets whose L4 header is truncated carry ports 0.
type Tuple struct {
	SrcAddr netip.Addr
	DstAddr netip.Addr
	SrcPort uint16
	DstPort uint16
	Proto   uint8
}

// Reverse returns the tuple of the opposite direction of the same conversation.
func (t Tuple) Reverse() Tuple {
	r := Tuple{SrcAddr: t.DstAddr, DstAddr: t.SrcAddr, SrcPort: t.DstPort, DstPort: t.SrcPort, Proto: t.Proto}
	if t.IsICMP() {
		r.SrcPort, r.DstPort = 0, 0 // ICMP type/code have no reverse; callers treat ICMP as never ending on flags
	}
	return r
}

// IsICMP reports whether the tuple is ICMP or ICMPv6.
func (t Tuple) IsICMP() bool { return t.Proto == ProtoICMP || t.Proto == ProtoICMPv6 }

// IsIPv6 reports whether the tuple is an IPv6 flow.
func (t Tuple) IsIPv6() bool { return t.SrcAddr.Is6() }

// ICMPTypeCode returns the ICMP type and code of an ICMP tuple (zero otherwise).
func (t Tuple) ICMPTypeCode() (typ, code uint8) {
	if !t.IsICMP() {
		return 0, 0
	}
	return uint8(t.DstPort >> 8), uint8(t.DstPort)
}

// Key identifies one flow at one observation point: the tuple plus the
// interface and TC direction it was counted on.
type Key struct {
	Tuple
	IfIndex   uint32
	Direction Direction
}

// Counters is what the kernel aggregated for one Key during one drain
// interval, merged over CPUs and converted to wall-clock time.
type Counters struct {
	Packets  uint64
	Octets   uint64 // IP-level octets (IPFIX octetDeltaCount)
	First    time.Time
	Last     time.Time
	TCPFlags uint16 // OR of the TCP flags seen (tcpControlBits, incl. NS/CWR/ECE)
}

// Add merges o into c: sums, OR of flags, widest time span.
func (c *Counters) Add(o Counters) {
	if o.Packets == 0 && o.Octets == 0 {
		return
	}
	if c.Packets == 0 && c.Octets == 0 {
		*c = o
		return
	}
	c.Packets += o.Packets
	c.Octets += o.Octets
	c.TCPFlags |= o.TCPFlags
	if o.First.Before(c.First) {
		c.First = o.First
	}
	if o.Last.After(c.Last) {
		c.Last = o.Last
	}
}

// Entry is one drained flow: a Key and its counters for the interval, with
// what the TC programs measured beside them (the handshake timing).
type Entry struct {
	Key
	Counters
	Measures Measures
}

// Record is one exported flow record: the delta since this flow's previous
// export. Start and End are the first and last packet counted in this delta.
type Record struct {
	Key
	Counters
	Measures  Measures
	Context   Context
	EndReason EndReason
}

// TCP flag bits as in tcpControlBits (IE 6).
const (
	TCPFin uint16 = 0x01
	TCPSyn uint16 = 0x02
	TCPRst uint16 = 0x04
	TCPPsh uint16 = 0x08
	TCPAck uint16 = 0x10
	TCPUrg uint16 = 0x20
	TCPEce uint16 = 0x40
	TCPCwr uint16 = 0x80
	TCPNs  uint16 = 0x100
)
