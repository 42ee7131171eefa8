package collector

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/podflow/podflow/flow"
)

// optional is an element whose place (flow.Record or Extra) depends on the
// other elements of the record, so it waits until all are read.
type optional struct {
	name string
	v    uint64
	ok   bool
}

// recordBuilder maps the fields of one data record onto a Received.
type recordBuilder struct {
	r    *Received
	seen map[uint16]bool // mapped IANA elements already placed, so repeats go to Extra

	srcPort, dstPort               optional
	icmpTypeCode4, icmpTypeCode6   optional
	icmpType4, icmpCode4           optional
	icmpType6, icmpCode6           optional
	ingress, egress, flowDirection optional
	rttMeanUs                      optional

	problems []error // fields that were well-formed but make no sense (counted as decode errors)
}

// add places one decoded field.
func (b *recordBuilder) add(f field, v any) {
	if f.key.pen != 0 {
		if !b.placeMeasure(f, v) {
			b.extra(f.name, v)
		}
		return
	}
	if b.seen[f.key.id] || !b.place(f, v) {
		b.extra(f.name, v)
		return
	}
	if b.seen == nil {
		b.seen = make(map[uint16]bool, 16)
	}
	b.seen[f.key.id] = true
}

// place maps an IANA element into the record; false means it belongs in
// Extra (not mapped, or decoded as raw octets because its length was wrong).
func (b *recordBuilder) place(f field, v any) bool {
	r := b.r
	u, isUint := v.(uint64)
	switch f.key.id {
	case ieSourceIPv4Address, ieSourceIPv6Address, ieDestinationIPv4Address, ieDestinationIPv6Address:
		a, ok := v.(netip.Addr)
		dst := &r.SrcAddr
		if f.key.id == ieDestinationIPv4Address || f.key.id == ieDestinationIPv6Address {
			dst = &r.DstAddr
		}
		if !ok || dst.IsValid() { // IPv4 and IPv6 elements both present: keep the first
			return false
		}
		*dst = a.Unmap()
		return true
	case ieProtocolIdentifier:
		r.Proto = uint8(u)
	case ieOctetDeltaCount:
		r.Octets = u
	case iePacketDeltaCount:
		r.Packets = u
	case ieTCPControlBits:
		r.TCPFlags = uint16(u)
	case ieFlowEndReason:
		r.EndReason = flow.EndReason(u)
	case ieFlowStartMilliseconds, ieFlowEndMilliseconds:
		t, ok := v.(time.Time)
		if !ok {
			return false
		}
		if f.key.id == ieFlowStartMilliseconds {
			r.First = t
		} else {
			r.Last = t
		}
		return true
	case ieSourceTransportPort:
		b.srcPort = optional{f.name, u, isUint}
	case ieDestinationTransportPort:
		b.dstPort = optional{f.name, u, isUint}
	case ieICMPTypeCodeIPv4:
		b.icmpTypeCode4 = optional{f.name, u, isUint}
	case ieICMPTypeCodeIPv6:
		b.icmpTypeCode6 = optional{f.name, u, isUint}
	case ieICMPTypeIPv4:
		b.icmpType4 = optional{f.name, u, isUint}
	case ieICMPCodeIPv4:
		b.icmpCode4 = optional{f.name, u, isUint}
	case ieICMPTypeIPv6:
		b.icmpType6 = optional{f.name, u, isUint}
	case ieICMPCodeIPv6:
		b.icmpCode6 = optional{f.name, u, isUint}
	case ieIngressInterface:
		b.ingress = optional{f.name, u, isUint}
	case ieEgressInterface:
		b.egress = optional{f.name, u, isUint}
	case ieFlowDirection:
		b.flowDirection = optional{f.name, u, isUint}
	case ieDroppedPacketDeltaCount:
		r.Measures.DropPackets = u
	case iePostNATSourceIPv4Address, iePostNATSourceIPv6Address, iePostNATDestinationIPv4Address, iePostNATDestinationIPv6Address:
		a, ok := v.(netip.Addr)
		if !ok {
			return false
		}
		if f.key.id == iePostNATSourceIPv4Address || f.key.id == iePostNATSourceIPv6Address {
			r.Context.NAT.SrcAddr = a.Unmap()
		} else {
			r.Context.NAT.DstAddr = a.Unmap()
		}
		return true
	case iePostNAPTSourceTransportPort:
		r.Context.NAT.SrcPort = uint16(u)
	case iePostNAPTDestinationTransportPort:
		r.Context.NAT.DstPort = uint16(u)
	case ieDroppedOctetDeltaCount:
		r.Measures.DropOctets = u
	default:
		return false
	}
	return isUint
}

// placeMeasure maps podflow's enterprise elements (registered by
// RegisterEnterpriseNumber) into Record.Measures; false sends the field to
// Extra.
func (b *recordBuilder) placeMeasure(f field, v any) bool {
	m := &b.r.Measures
	ctx := &b.r.Context
	k := &ctx.Kube
	if s, ok := v.(string); ok {
		switch f.name {
		case "sourcePodNamespace":
			k.Src.Namespace = s
		case "sourcePodName":
			k.Src.Pod = s
		case "sourceNodeName":
			k.Src.Node = s
		case "sourcePodLabels":
			k.Src.Labels = s
		case "sourceWorkloadKind":
			k.Src.WorkloadKind = s
		case "sourceWorkloadName":
			k.Src.WorkloadName = s
		case "destinationPodNamespace":
			k.Dst.Namespace = s
		case "destinationPodName":
			k.Dst.Pod = s
		case "destinationNodeName":
			k.Dst.Node = s
		case "destinationPodLabels":
			k.Dst.Labels = s
		case "destinationWorkloadKind":
			k.Dst.WorkloadKind = s
		case "destinationWorkloadName":
			k.Dst.WorkloadName = s
		case "destinationServicePortName":
			k.ServicePortName = s
		case "kernelDropReason":
			m.DropReason = s
		case "SRC_PROC_NAME":
			ctx.Src.Name = s
		case "sourceProcessExecutable":
			ctx.Src.Exe = s
		case "sourceContainerId":
			ctx.Src.ContainerID = s
		case "DST_PROC_NAME":
			ctx.Dst.Name = s
		case "destinationProcessExecutable":
			ctx.Dst.Exe = s
		case "destinationContainerId":
			ctx.Dst.ContainerID = s
		default:
			return false
		}
		return true
	}
	if a, ok := v.(netip.Addr); ok && (f.name == "destinationClusterIPv4" || f.name == "destinationClusterIPv6") {
		k.ServiceIP = a.Unmap()
		return true
	}
	u, ok := v.(uint64)
	if !ok {
		return false
	}
	switch f.name {
	case "destinationServicePort":
		k.ServicePort = uint16(u)
	case "flowType":
		k.FlowType = flow.FlowType(u)
	case "tcpRttMinMicroseconds":
		m.RTTMinUs = uint32(u)
	case "tcpRttMaxMicroseconds":
		m.RTTMaxUs = uint32(u)
	case "tcpRttMeanMicroseconds":
		b.rttMeanUs = optional{f.name, u, true} // RTTSumUs once the count is known
	case "tcpRttSampleCount":
		m.RTTSamples = uint32(u)
	case "RETRANSMITTED_IN_PKTS":
		m.RetransPackets = uint32(u)
	case "tcpRetransmittedPayloadOctets":
		m.RetransOctets = u
	case "tcpHandshakeServerMicroseconds":
		m.Handshake.ServerUs, m.Handshake.Seen = uint32(u), true
	case "SRC_PROC_PID":
		ctx.Src.PID = uint32(u)
	case "DST_PROC_PID":
		ctx.Dst.PID = uint32(u)
	case "tcpWireRetransmittedPackets":
		m.WireRetransPackets = uint32(u)
	case "tcpHandshakeClientMicroseconds":
		m.Handshake.ClientUs, m.Handshake.Seen = uint32(u), true
	default:
		return false
	}
	return true
}

// finish resolves the elements whose meaning depends on each other: ICMP
// type/code versus ports, and which interface the record was observed on.
func (b *recordBuilder) finish() {
	r := b.r
	typeCode := b.icmpTypeCode(r.Proto)
	switch {
	case typeCode.ok:
		// ICMP flows carry type<<8|code as the destination port (flow.Tuple);
		// non-zero transport ports, if an exporter sent them too, go to Extra.
		r.SrcPort, r.DstPort = 0, uint16(typeCode.v)
		b.extraIf(b.srcPort)
		b.extraIf(b.dstPort)
	default:
		r.SrcPort, r.DstPort = uint16(b.srcPort.v), uint16(b.dstPort.v)
	}
	for _, o := range []optional{b.icmpTypeCode4, b.icmpTypeCode6, b.icmpType4, b.icmpCode4, b.icmpType6, b.icmpCode6} {
		if o.name != typeCode.name && !typeCode.parts[o.name] {
			b.extraIf(o)
		}
	}
	b.interfaces()
	if b.rttMeanUs.ok {
		// The mean was rounded down from the sum: this sum gives it back.
		r.Measures.RTTSumUs = b.rttMeanUs.v * uint64(r.Measures.RTTSamples)
	}
}

// typeCodeChoice is the ICMP type/code a record carries: one combined
// element, or separate type and code elements (parts holds their names).
type typeCodeChoice struct {
	optional
	parts map[string]bool
}

// icmpTypeCode picks the ICMP type/code elements that match the protocol.
func (b *recordBuilder) icmpTypeCode(proto uint8) typeCodeChoice {
	combined, typ, code := b.icmpTypeCode4, b.icmpType4, b.icmpCode4
	switch proto {
	case flow.ProtoICMP:
	case flow.ProtoICMPv6:
		combined, typ, code = b.icmpTypeCode6, b.icmpType6, b.icmpCode6
	default:
		return typeCodeChoice{}
	}
	if combined.ok {
		return typeCodeChoice{optional: combined}
	}
	if typ.ok || code.ok {
		return typeCodeChoice{
			optional: optional{name: "", v: typ.v<<8 | code.v&0xff, ok: true},
			parts:    map[string]bool{typ.name: typ.ok, code.name: code.ok},
		}
	}
	return typeCodeChoice{}
}

// interfaces sets Key.IfIndex and Key.Direction: with flowDirection, the
// interface of that direction; without it, whichever interface is non-zero
// (ingress first). The interface not used is kept in Extra if non-zero.
func (b *recordBuilder) interfaces() {
	r := b.r
	dir := -1
	if b.flowDirection.ok {
		switch b.flowDirection.v {
		case 0, 1:
			dir = int(b.flowDirection.v)
		default:
			b.problems = append(b.problems, fmt.Errorf("flowDirection %d is neither ingress (0) nor egress (1)", b.flowDirection.v))
			b.extra(b.flowDirection.name, b.flowDirection.v)
		}
	}
	if dir < 0 {
		dir = int(flow.Ingress)
		if b.ingress.v == 0 && b.egress.v != 0 {
			dir = int(flow.Egress)
		}
	}
	used, other := b.ingress, b.egress
	if dir == int(flow.Egress) {
		used, other = b.egress, b.ingress
	}
	r.Direction = flow.Direction(dir)
	r.IfIndex = uint32(used.v)
	b.extraIf(other)
}

// extraIf keeps an element the record did not use, unless it is zero: an
// exporter that sends both interfaces, or ports and ICMP type/code in one
// template (as podflow does), zeroes the one that does not apply, and that
// zero says nothing flow.Record does not.
func (b *recordBuilder) extraIf(o optional) {
	if o.ok && o.v != 0 {
		b.extra(o.name, o.v)
	}
}

// extra stores an element by name and returns its key; repeats of a name
// get "#2", "#3", ... (RFC 7011 allows an element to appear more than once
// in a template).
func (b *recordBuilder) extra(name string, v any) string {
	if b.r.Extra == nil {
		b.r.Extra = make(map[string]any)
	}
	key := name
	for i := 2; ; i++ {
		if _, taken := b.r.Extra[key]; !taken {
			break
		}
		key = fmt.Sprintf("%s#%d", name, i)
	}
	b.r.Extra[key] = v
	return key
}
