package decoders

import (
	"fmt"
	"math/big"
	"net/netip"
	"strconv"
	"time"

	"github.com/podflow/podflow/flow"
)

// Elements are the fields of one IPFIX data record as an independent
// decoder printed them, keyed "PEN/ID" ("0/8" is IANA's sourceIPv4Address,
// "32473/1" podflow's tcpRttMinMicroseconds): numbers in decimal,
// addresses in text, times in time.RFC3339Nano, strings as they are.
// Mapping every decoder's output to Elements lets one function, FlowRecord,
// turn them all back into what podflow meant to send.
type Elements map[string]string

// NtopPEN is ntop's enterprise number, whose elements podflow reuses
// (retransmissions, process ids and names) because tools already know them.
const NtopPEN = 35632

// The elements podflow sends, by id: IANA's (ie*, RFC 7012), its own
// enterprise number's (own*) and ntop's (ntop*).
const (
	ieOctets, iePackets, ieProto               = 1, 2, 4
	ieSrcPort, ieSrcV4, ieDstPort, ieDstV4     = 7, 8, 11, 12
	ieSrcV6, ieDstV6                           = 27, 28
	ieICMPv4, ieICMPv6                         = 32, 139
	ieDroppedOctets, ieDroppedPackets          = 132, 133
	ieStartMilliseconds, ieEndMilliseconds     = 152, 153
	ownRTTMin, ownRTTMax, ownRTTMean, ownRTTN  = 1, 2, 3, 4
	ownRetransOctets, ownHSServer, ownHSClient = 5, 6, 7
	ownDropReason, ownWireRetrans              = 8, 9
	ownSrcExe, ownSrcContainer                 = 10, 11
	ownDstExe, ownDstContainer                 = 12, 13
	ntopRetrans, ntopSrcPID, ntopSrcName       = 109, 168, 169
	ntopDstPID, ntopDstName                    = 375, 376
)

// ElementKey names an element the way Elements are keyed.
func ElementKey(pen uint32, id uint16) string { return fmt.Sprintf("%d/%d", pen, id) }

// RawElement renders the octets of an element a decoder could not type
// (tshark's and go-ipfix's unknown enterprise elements): podflow's and
// ntop's strings as text, everything else as a big-endian unsigned number.
func RawElement(pen uint32, key string, b []byte) string {
	strs := map[string]bool{
		ElementKey(pen, ownDropReason): true, ElementKey(pen, ownSrcExe): true, ElementKey(pen, ownSrcContainer): true,
		ElementKey(pen, ownDstExe): true, ElementKey(pen, ownDstContainer): true,
		ElementKey(NtopPEN, ntopSrcName): true, ElementKey(NtopPEN, ntopDstName): true,
	}
	if strs[key] {
		return string(b)
	}
	return new(big.Int).SetBytes(b).String()
}

// FlowRecord maps the elements back into a flow.Record: the 5-tuple,
// packets, octets, start and end, and whichever measurements and process
// context the decoder printed. pen is podflow's own enterprise number.
func (e Elements) FlowRecord(pen uint32) (flow.Record, error) {
	var r flow.Record
	p := elementParser{e: e}
	own := func(id uint16) string { return ElementKey(pen, id) }
	ntop := func(id uint16) string { return ElementKey(NtopPEN, id) }
	iana := func(id uint16) string { return ElementKey(0, id) }

	r.SrcAddr = p.addr(iana(ieSrcV4), iana(ieSrcV6))
	r.DstAddr = p.addr(iana(ieDstV4), iana(ieDstV6))
	r.Proto = uint8(p.uint(iana(ieProto)))
	r.SrcPort, r.DstPort = uint16(p.uint(iana(ieSrcPort))), uint16(p.uint(iana(ieDstPort)))
	switch r.Proto { // flow.Tuple keeps ICMP type<<8|code as the destination port
	case flow.ProtoICMP:
		r.DstPort = uint16(p.uint(iana(ieICMPv4)))
	case flow.ProtoICMPv6:
		r.DstPort = uint16(p.uint(iana(ieICMPv6)))
	}
	r.Packets, r.Octets = p.uint(iana(iePackets)), p.uint(iana(ieOctets))
	r.First, r.Last = p.time(iana(ieStartMilliseconds)), p.time(iana(ieEndMilliseconds))

	m := &r.Measures
	if p.has(own(ownRTTN)) {
		m.RTTSamples = uint32(p.uint(own(ownRTTN)))
		m.RTTMinUs, m.RTTMaxUs = uint32(p.uint(own(ownRTTMin))), uint32(p.uint(own(ownRTTMax)))
		m.RTTSumUs = p.uint(own(ownRTTMean)) * uint64(m.RTTSamples)
	}
	m.RetransPackets, m.RetransOctets = uint32(p.uint(ntop(ntopRetrans))), p.uint(own(ownRetransOctets))
	if p.has(own(ownHSServer)) || p.has(own(ownHSClient)) {
		m.Handshake = flow.Handshake{ServerUs: uint32(p.uint(own(ownHSServer))), ClientUs: uint32(p.uint(own(ownHSClient))), Seen: true}
	}
	m.WireRetransPackets = uint32(p.uint(own(ownWireRetrans)))
	if p.has(iana(ieDroppedPackets)) || p.has(own(ownDropReason)) {
		m.SetDrop(p.uint(iana(ieDroppedPackets)), p.uint(iana(ieDroppedOctets)), e[own(ownDropReason)], 0)
	}
	r.Context.Src = flow.Process{PID: uint32(p.uint(ntop(ntopSrcPID))), Name: e[ntop(ntopSrcName)],
		Exe: e[own(ownSrcExe)], ContainerID: e[own(ownSrcContainer)]}
	r.Context.Dst = flow.Process{PID: uint32(p.uint(ntop(ntopDstPID))), Name: e[ntop(ntopDstName)],
		Exe: e[own(ownDstExe)], ContainerID: e[own(ownDstContainer)]}
	return r, p.err
}

// elementParser parses Elements, keeping the first error.
type elementParser struct {
	e   Elements
	err error
}

func (p *elementParser) has(key string) bool { _, ok := p.e[key]; return ok }

func (p *elementParser) uint(key string) uint64 {
	s, ok := p.e[key]
	if !ok {
		return 0
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil && p.err == nil {
		p.err = fmt.Errorf("element %s: %w", key, err)
	}
	return v
}

// addr parses the first of the keys present.
func (p *elementParser) addr(keys ...string) netip.Addr {
	for _, k := range keys {
		if s, ok := p.e[k]; ok {
			a, err := netip.ParseAddr(s)
			if err != nil && p.err == nil {
				p.err = fmt.Errorf("element %s: %w", k, err)
			}
			return a.Unmap()
		}
	}
	if p.err == nil {
		p.err = fmt.Errorf("no address among %v", keys)
	}
	return netip.Addr{}
}

func (p *elementParser) time(key string) time.Time {
	s, ok := p.e[key]
	if !ok {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil && p.err == nil {
		p.err = fmt.Errorf("element %s: %w", key, err)
	}
	return t
}
