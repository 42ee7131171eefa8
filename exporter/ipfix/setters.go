package ipfix

import (
	"time"
	"unicode/utf8"

	"github.com/vmware/go-ipfix/pkg/entities"

	"github.com/podflow/podflow/exporter"
	"github.com/podflow/podflow/flow"
)

// setters maps every element name of exporter.Fields to the flow.Record
// value it carries. A field added to the table without a mapping here makes
// New fail.
var setters = map[string]setter{
	"sourceIPv4Address": func(v entities.InfoElementWithValue, r *flow.Record) {
		a := r.SrcAddr.Unmap().As4()
		copy(v.GetIPAddressValue(), a[:])
	},
	"destinationIPv4Address": func(v entities.InfoElementWithValue, r *flow.Record) {
		a := r.DstAddr.Unmap().As4()
		copy(v.GetIPAddressValue(), a[:])
	},
	"sourceIPv6Address": func(v entities.InfoElementWithValue, r *flow.Record) {
		a := r.SrcAddr.As16()
		copy(v.GetIPAddressValue(), a[:])
	},
	"destinationIPv6Address": func(v entities.InfoElementWithValue, r *flow.Record) {
		a := r.DstAddr.As16()
		copy(v.GetIPAddressValue(), a[:])
	},
	"sourceTransportPort": func(v entities.InfoElementWithValue, r *flow.Record) {
		if r.IsICMP() {
			v.SetUnsigned16Value(0)
			return
		}
		v.SetUnsigned16Value(r.SrcPort)
	},
	"destinationTransportPort": func(v entities.InfoElementWithValue, r *flow.Record) {
		if r.IsICMP() {
			v.SetUnsigned16Value(0) // DstPort holds type/code, exported in icmpTypeCode*
			return
		}
		v.SetUnsigned16Value(r.DstPort)
	},
	"protocolIdentifier": func(v entities.InfoElementWithValue, r *flow.Record) {
		v.SetUnsigned8Value(r.Proto)
	},
	"octetDeltaCount": func(v entities.InfoElementWithValue, r *flow.Record) {
		v.SetUnsigned64Value(r.Octets)
	},
	"packetDeltaCount": func(v entities.InfoElementWithValue, r *flow.Record) {
		v.SetUnsigned64Value(r.Packets)
	},
	"tcpControlBits": func(v entities.InfoElementWithValue, r *flow.Record) {
		v.SetUnsigned16Value(r.TCPFlags)
	},
	"flowStartMilliseconds": func(v entities.InfoElementWithValue, r *flow.Record) {
		v.SetUnsigned64Value(unixMilli(r.First))
	},
	"flowEndMilliseconds": func(v entities.InfoElementWithValue, r *flow.Record) {
		v.SetUnsigned64Value(unixMilli(r.Last))
	},
	"flowEndReason": func(v entities.InfoElementWithValue, r *flow.Record) {
		v.SetUnsigned8Value(uint8(r.EndReason))
	},
	"ingressInterface": func(v entities.InfoElementWithValue, r *flow.Record) {
		v.SetUnsigned32Value(ifIndexIf(r, flow.Ingress))
	},
	"egressInterface": func(v entities.InfoElementWithValue, r *flow.Record) {
		v.SetUnsigned32Value(ifIndexIf(r, flow.Egress))
	},
	"flowDirection": func(v entities.InfoElementWithValue, r *flow.Record) {
		v.SetUnsigned8Value(uint8(r.Direction))
	},
	"icmpTypeCodeIPv4": icmpTypeCode,
	"icmpTypeCodeIPv6": icmpTypeCode,

	"tcpRttMinMicroseconds": func(v entities.InfoElementWithValue, r *flow.Record) {
		v.SetUnsigned32Value(r.Measures.RTTMinUs)
	},
	"tcpRttMaxMicroseconds": func(v entities.InfoElementWithValue, r *flow.Record) {
		v.SetUnsigned32Value(r.Measures.RTTMaxUs)
	},
	"tcpRttMeanMicroseconds": func(v entities.InfoElementWithValue, r *flow.Record) {
		v.SetUnsigned32Value(r.Measures.RTTMeanUs())
	},
	"tcpRttSampleCount": func(v entities.InfoElementWithValue, r *flow.Record) {
		v.SetUnsigned32Value(r.Measures.RTTSamples)
	},
	"RETRANSMITTED_IN_PKTS": func(v entities.InfoElementWithValue, r *flow.Record) {
		v.SetUnsigned32Value(r.Measures.RetransPackets)
	},
	"tcpRetransmittedPayloadOctets": func(v entities.InfoElementWithValue, r *flow.Record) {
		v.SetUnsigned64Value(r.Measures.RetransOctets)
	},
	"tcpHandshakeServerMicroseconds": func(v entities.InfoElementWithValue, r *flow.Record) {
		v.SetUnsigned32Value(r.Measures.Handshake.ServerUs)
	},
	"tcpHandshakeClientMicroseconds": func(v entities.InfoElementWithValue, r *flow.Record) {
		v.SetUnsigned32Value(r.Measures.Handshake.ClientUs)
	},
	"tcpWireRetransmittedPackets": func(v entities.InfoElementWithValue, r *flow.Record) {
		v.SetUnsigned32Value(r.Measures.WireRetransPackets)
	},
	"SRC_PROC_PID": func(v entities.InfoElementWithValue, r *flow.Record) {
		v.SetUnsigned32Value(r.Context.Src.PID)
	},
	"SRC_PROC_NAME": func(v entities.InfoElementWithValue, r *flow.Record) {
		v.SetStringValue(truncate(r.Context.Src.Name, 16))
	},
	"sourceProcessExecutable": func(v entities.InfoElementWithValue, r *flow.Record) {
		v.SetStringValue(truncate(r.Context.Src.Exe, exeMax))
	},
	"sourceContainerId": func(v entities.InfoElementWithValue, r *flow.Record) {
		v.SetStringValue(truncate(r.Context.Src.ContainerID, containerMax))
	},
	"DST_PROC_PID": func(v entities.InfoElementWithValue, r *flow.Record) {
		v.SetUnsigned32Value(r.Context.Dst.PID)
	},
	"DST_PROC_NAME": func(v entities.InfoElementWithValue, r *flow.Record) {
		v.SetStringValue(truncate(r.Context.Dst.Name, 16))
	},
	"destinationProcessExecutable": func(v entities.InfoElementWithValue, r *flow.Record) {
		v.SetStringValue(truncate(r.Context.Dst.Exe, exeMax))
	},
	"destinationContainerId": func(v entities.InfoElementWithValue, r *flow.Record) {
		v.SetStringValue(truncate(r.Context.Dst.ContainerID, containerMax))
	},
	"postNATSourceIPv4Address": func(v entities.InfoElementWithValue, r *flow.Record) {
		a := r.Context.NAT.SrcAddr.Unmap().As4()
		copy(v.GetIPAddressValue(), a[:])
	},
	"postNATDestinationIPv4Address": func(v entities.InfoElementWithValue, r *flow.Record) {
		a := r.Context.NAT.DstAddr.Unmap().As4()
		copy(v.GetIPAddressValue(), a[:])
	},
	"postNATSourceIPv6Address": func(v entities.InfoElementWithValue, r *flow.Record) {
		a := r.Context.NAT.SrcAddr.As16()
		copy(v.GetIPAddressValue(), a[:])
	},
	"postNATDestinationIPv6Address": func(v entities.InfoElementWithValue, r *flow.Record) {
		a := r.Context.NAT.DstAddr.As16()
		copy(v.GetIPAddressValue(), a[:])
	},
	"postNAPTSourceTransportPort": func(v entities.InfoElementWithValue, r *flow.Record) {
		v.SetUnsigned16Value(r.Context.NAT.SrcPort)
	},
	"postNAPTDestinationTransportPort": func(v entities.InfoElementWithValue, r *flow.Record) {
		v.SetUnsigned16Value(r.Context.NAT.DstPort)
	},
	"sourcePodNamespace":         kubeString(func(k *flow.Kube) string { return k.Src.Namespace }),
	"sourcePodName":              kubeString(func(k *flow.Kube) string { return k.Src.Pod }),
	"sourceNodeName":             kubeString(func(k *flow.Kube) string { return k.Src.Node }),
	"sourcePodLabels":            kubeString(func(k *flow.Kube) string { return k.Src.Labels }),
	"sourceWorkloadKind":         kubeString(func(k *flow.Kube) string { return k.Src.WorkloadKind }),
	"sourceWorkloadName":         kubeString(func(k *flow.Kube) string { return k.Src.WorkloadName }),
	"destinationPodNamespace":    kubeString(func(k *flow.Kube) string { return k.Dst.Namespace }),
	"destinationPodName":         kubeString(func(k *flow.Kube) string { return k.Dst.Pod }),
	"destinationNodeName":        kubeString(func(k *flow.Kube) string { return k.Dst.Node }),
	"destinationPodLabels":       kubeString(func(k *flow.Kube) string { return k.Dst.Labels }),
	"destinationWorkloadKind":    kubeString(func(k *flow.Kube) string { return k.Dst.WorkloadKind }),
	"destinationWorkloadName":    kubeString(func(k *flow.Kube) string { return k.Dst.WorkloadName }),
	"destinationServicePortName": kubeString(func(k *flow.Kube) string { return k.ServicePortName }),
	"destinationClusterIPv4": func(v entities.InfoElementWithValue, r *flow.Record) {
		a := r.Context.Kube.ServiceIP.Unmap().As4()
		copy(v.GetIPAddressValue(), a[:])
	},
	"destinationClusterIPv6": func(v entities.InfoElementWithValue, r *flow.Record) {
		a := r.Context.Kube.ServiceIP.As16()
		copy(v.GetIPAddressValue(), a[:])
	},
	"destinationServicePort": func(v entities.InfoElementWithValue, r *flow.Record) {
		v.SetUnsigned16Value(r.Context.Kube.ServicePort)
	},
	"flowType": func(v entities.InfoElementWithValue, r *flow.Record) {
		v.SetUnsigned8Value(uint8(r.Context.Kube.FlowType))
	},
	"droppedPacketDeltaCount": func(v entities.InfoElementWithValue, r *flow.Record) {
		v.SetUnsigned64Value(r.Measures.DropPackets)
	},
	"droppedOctetDeltaCount": func(v entities.InfoElementWithValue, r *flow.Record) {
		v.SetUnsigned64Value(r.Measures.DropOctets)
	},
	"kernelDropReason": func(v entities.InfoElementWithValue, r *flow.Record) {
		v.SetStringValue(truncate(r.Measures.DropReason, dropReasonMax))
	},
}

var (
	dropReasonMax = maxLength("kernelDropReason")
	exeMax        = maxLength("sourceProcessExecutable")
	containerMax  = maxLength("sourceContainerId")
)

// kubeString sets a string element from the record's Kubernetes context,
// cut to 254 octets (the table's longest MaxLength for these).
func kubeString(get func(*flow.Kube) string) setter {
	return func(v entities.InfoElementWithValue, r *flow.Record) {
		v.SetStringValue(truncate(get(&r.Context.Kube), 254))
	}
}

// maxLength is the MaxLength of a variable-length field of the table.
func maxLength(name string) int {
	for _, f := range exporter.Fields {
		if f.Name == name {
			return int(f.MaxLength)
		}
	}
	return 0
}

// truncate cuts s to at most n octets without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func icmpTypeCode(v entities.InfoElementWithValue, r *flow.Record) {
	if !r.IsICMP() {
		v.SetUnsigned16Value(0)
		return
	}
	v.SetUnsigned16Value(r.DstPort) // type<<8 | code, see flow.Tuple
}

func ifIndexIf(r *flow.Record, d flow.Direction) uint32 {
	if r.Direction != d {
		return 0
	}
	return r.IfIndex
}

// unixMilli keeps an unset time at 0 rather than a huge wrapped value.
func unixMilli(t time.Time) uint64 {
	if t.IsZero() || t.UnixMilli() < 0 {
		return 0
	}
	return uint64(t.UnixMilli())
}
