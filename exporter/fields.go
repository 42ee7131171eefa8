package exporter

import (
	"fmt"
	"strings"

	"github.com/podflow/podflow/flow"
)

// Field is one information element podflow exports. Fields is the single
// source of truth for the exporters' templates, the README field table and
// the collector decoding configs: change an element here and every consumer
// follows (the IPFIX exporter refuses to start if go-ipfix's registry
// disagrees with a row).
type Field struct {
	Name        string // information element name, as IANA (or the vendor) registers it
	ID          uint16 // information element id
	PEN         uint32 // private enterprise number; 0 for IANA elements (and for Own ones: see Own)
	Own         bool   // podflow's own element: its PEN is the configured one (DefaultPEN unless set)
	Type        string // IPFIX abstract data type (RFC 7012 §3.1), e.g. "unsigned64"
	Length      uint16 // encoded length in octets; VariableLength for strings
	MaxLength   uint16 // variable-length fields: longest value podflow sends
	IPv4, IPv6  bool   // present in the IPv4 / IPv6 templates
	Group       Group  // 0: in every record; else only in records that carry this measurement
	Description string // what podflow puts in it
}

// VariableLength is the IPFIX field length that announces a variable-length
// encoding (RFC 7011 §7).
const VariableLength uint16 = 65535

// DefaultPEN is the private enterprise number of podflow's own elements
// unless configured otherwise. podflow has no IANA-assigned PEN: 32473 is
// the number RFC 5612 reserves for documentation and examples, so it never
// collides with a real vendor's elements. Set your organisation's PEN with
// --enterprise-number to export them under it.
const DefaultPEN uint32 = 32473

// AntreaPEN is Antrea's enterprise number; go-ipfix and Antrea's flow
// aggregator decode its elements.
const AntreaPEN uint32 = 56506

// NtopPEN is ntop's enterprise number; nProbe, ntopng and Wireshark decode
// its elements.
const NtopPEN uint32 = 35632

// Group is a set of optional fields that a record carries only when it holds
// that measurement or context: a UDP flow carries no RTT fields rather than
// zeros pretending to be one. Each combination of groups has its own
// template.
type Group uint16

const (
	GroupRTT          Group = 1 << iota // smoothed RTT samples of a local TCP socket sending this flow
	GroupRetrans                        // retransmissions of a local TCP socket sending this flow
	GroupHandshake                      // TCP handshake timing seen on the wire at the observation point
	GroupDrops                          // packets of this flow the kernel dropped on this node
	GroupWireRetrans                    // TCP retransmissions seen on the wire at the observation point
	GroupSrcProcess                     // the local process owning the source endpoint
	GroupDstProcess                     // the local process owning the destination endpoint
	GroupNAT                            // post-NAT addresses from conntrack
	GroupSrcContainer                   // the source process runs in a container
	GroupDstContainer                   // the destination process runs in a container
	GroupSrcPod                         // the source is a Kubernetes pod
	GroupDstPod                         // the destination is a Kubernetes pod
	GroupService                        // the flow was sent to a service's cluster IP
	GroupFlowType                       // Antrea's flow type is known
	GroupAll          = GroupRTT | GroupRetrans | GroupHandshake | GroupDrops | GroupWireRetrans |
		GroupSrcProcess | GroupDstProcess | GroupNAT | GroupSrcContainer | GroupDstContainer |
		GroupSrcPod | GroupDstPod | GroupService | GroupFlowType
)

// Fields lists the exported elements in template order. A template holds the
// fields whose IPv4 (or IPv6) flag is set, in this order.
var Fields = []Field{
	{Name: "sourceIPv4Address", ID: 8, Type: "ipv4Address", Length: 4, IPv4: true,
		Description: "source address of the flow"},
	{Name: "sourceIPv6Address", ID: 27, Type: "ipv6Address", Length: 16, IPv6: true,
		Description: "source address of the flow"},
	{Name: "destinationIPv4Address", ID: 12, Type: "ipv4Address", Length: 4, IPv4: true,
		Description: "destination address of the flow"},
	{Name: "destinationIPv6Address", ID: 28, Type: "ipv6Address", Length: 16, IPv6: true,
		Description: "destination address of the flow"},
	{Name: "sourceTransportPort", ID: 7, Type: "unsigned16", Length: 2, IPv4: true, IPv6: true,
		Description: "TCP/UDP/SCTP source port; 0 for ICMP, non-first fragments and truncated L4 headers"},
	{Name: "destinationTransportPort", ID: 11, Type: "unsigned16", Length: 2, IPv4: true, IPv6: true,
		Description: "TCP/UDP/SCTP destination port; 0 for ICMP, non-first fragments and truncated L4 headers"},
	{Name: "protocolIdentifier", ID: 4, Type: "unsigned8", Length: 1, IPv4: true, IPv6: true,
		Description: "IP protocol number"},
	{Name: "octetDeltaCount", ID: 1, Type: "unsigned64", Length: 8, IPv4: true, IPv6: true,
		Description: "IP-level octets (IP header included) since the flow's previous record"},
	{Name: "packetDeltaCount", ID: 2, Type: "unsigned64", Length: 8, IPv4: true, IPv6: true,
		Description: "packets (GSO segments counted one by one) since the flow's previous record"},
	{Name: "tcpControlBits", ID: 6, Type: "unsigned16", Length: 2, IPv4: true, IPv6: true,
		Description: "OR of the TCP flags seen, NS/CWR/ECE included; 0 for other protocols"},
	{Name: "flowStartMilliseconds", ID: 152, Type: "dateTimeMilliseconds", Length: 8, IPv4: true, IPv6: true,
		Description: "first packet counted in this record, ms since the Unix epoch"},
	{Name: "flowEndMilliseconds", ID: 153, Type: "dateTimeMilliseconds", Length: 8, IPv4: true, IPv6: true,
		Description: "last packet counted in this record, ms since the Unix epoch"},
	{Name: "flowEndReason", ID: 136, Type: "unsigned8", Length: 1, IPv4: true, IPv6: true,
		Description: "1 idle timeout, 2 active timeout, 3 end of flow, 4 forced end, 5 lack of resources"},
	{Name: "ingressInterface", ID: 10, Type: "unsigned32", Length: 4, IPv4: true, IPv6: true,
		Description: "ifindex of the observed interface when seen on its ingress hook, else 0"},
	{Name: "egressInterface", ID: 14, Type: "unsigned32", Length: 4, IPv4: true, IPv6: true,
		Description: "ifindex of the observed interface when seen on its egress hook, else 0"},
	{Name: "flowDirection", ID: 61, Type: "unsigned8", Length: 1, IPv4: true, IPv6: true,
		Description: "0 ingress, 1 egress, from the observed interface's point of view"},
	{Name: "icmpTypeCodeIPv4", ID: 32, Type: "unsigned16", Length: 2, IPv4: true,
		Description: "ICMP type<<8 | code; 0 for other protocols"},
	{Name: "icmpTypeCodeIPv6", ID: 139, Type: "unsigned16", Length: 2, IPv6: true,
		Description: "ICMPv6 type<<8 | code; 0 for other protocols"},

	{Name: "tcpRttMinMicroseconds", ID: 1, Own: true, Type: "unsigned32", Length: 4, IPv4: true, IPv6: true, Group: GroupRTT,
		Description: "lowest smoothed RTT (µs) of the local TCP socket sending this flow, sampled at each segment it received during this record (tcp_probe)"},
	{Name: "tcpRttMaxMicroseconds", ID: 2, Own: true, Type: "unsigned32", Length: 4, IPv4: true, IPv6: true, Group: GroupRTT,
		Description: "highest smoothed RTT (µs) of those samples"},
	{Name: "tcpRttMeanMicroseconds", ID: 3, Own: true, Type: "unsigned32", Length: 4, IPv4: true, IPv6: true, Group: GroupRTT,
		Description: "mean smoothed RTT (µs) of those samples"},
	{Name: "tcpRttSampleCount", ID: 4, Own: true, Type: "unsigned32", Length: 4, IPv4: true, IPv6: true, Group: GroupRTT,
		Description: "number of RTT samples in this record (weights the mean when records are merged)"},
	{Name: "RETRANSMITTED_IN_PKTS", ID: 109, PEN: NtopPEN, Type: "unsigned32", Length: 4, IPv4: true, IPv6: true, Group: GroupRetrans,
		Description: "ntop's element: TCP segments the local socket sending this flow retransmitted (src→dst), as its tcpi_total_retrans counts them"},
	{Name: "tcpRetransmittedPayloadOctets", ID: 5, Own: true, Type: "unsigned64", Length: 8, IPv4: true, IPv6: true, Group: GroupRetrans,
		Description: "TCP payload octets those retransmissions carried, as tcpi_bytes_retrans counts them"},
	{Name: "tcpHandshakeServerMicroseconds", ID: 6, Own: true, Type: "unsigned32", Length: 4, IPv4: true, IPv6: true, Group: GroupHandshake,
		Description: "on the wire at the observation point: SYN → SYN-ACK (µs), the server-side part of the handshake RTT; on the client→server flow"},
	{Name: "tcpHandshakeClientMicroseconds", ID: 7, Own: true, Type: "unsigned32", Length: 4, IPv4: true, IPv6: true, Group: GroupHandshake,
		Description: "on the wire at the observation point: SYN-ACK → ACK (µs), the client-side part; the sum of both is the handshake RTT"},
	{Name: "tcpWireRetransmittedPackets", ID: 9, Own: true, Type: "unsigned32", Length: 4, IPv4: true, IPv6: true, Group: GroupWireRetrans,
		Description: "on the wire at the observation point: TCP segments (data, SYN, FIN) seen again below the flow's highest sequence number; present when > 0; for flows whose sockets are elsewhere"},
	{Name: "SRC_PROC_PID", ID: 168, PEN: NtopPEN, Type: "unsigned32", Length: 4, IPv4: true, IPv6: true, Group: GroupSrcProcess,
		Description: "ntop's element: pid (thread group id) of the local process owning the flow's source endpoint"},
	{Name: "SRC_PROC_NAME", ID: 169, PEN: NtopPEN, Type: "string", Length: VariableLength, MaxLength: 16, IPv4: true, IPv6: true, Group: GroupSrcProcess,
		Description: "ntop's element: that process's name (comm)"},
	{Name: "sourceProcessExecutable", ID: 10, Own: true, Type: "string", Length: VariableLength, MaxLength: 200, IPv4: true, IPv6: true, Group: GroupSrcProcess,
		Description: "that process's executable path (/proc/PID/exe), cut to 200 octets"},
	{Name: "sourceContainerId", ID: 11, Own: true, Type: "string", Length: VariableLength, MaxLength: 64, IPv4: true, IPv6: true, Group: GroupSrcContainer,
		Description: "container id from the source process's cgroup (containerd, CRI-O, Docker, podman); absent outside containers"},
	{Name: "DST_PROC_PID", ID: 375, PEN: NtopPEN, Type: "unsigned32", Length: 4, IPv4: true, IPv6: true, Group: GroupDstProcess,
		Description: "ntop's element: pid of the local process owning the flow's destination endpoint"},
	{Name: "DST_PROC_NAME", ID: 376, PEN: NtopPEN, Type: "string", Length: VariableLength, MaxLength: 16, IPv4: true, IPv6: true, Group: GroupDstProcess,
		Description: "ntop's element: that process's name (comm)"},
	{Name: "destinationProcessExecutable", ID: 12, Own: true, Type: "string", Length: VariableLength, MaxLength: 200, IPv4: true, IPv6: true, Group: GroupDstProcess,
		Description: "that process's executable path, cut to 200 octets"},
	{Name: "destinationContainerId", ID: 13, Own: true, Type: "string", Length: VariableLength, MaxLength: 64, IPv4: true, IPv6: true, Group: GroupDstContainer,
		Description: "container id from the destination process's cgroup; absent outside containers"},
	{Name: "postNATSourceIPv4Address", ID: 225, Type: "ipv4Address", Length: 4, IPv4: true, Group: GroupNAT,
		Description: "source address after NAT (conntrack), e.g. the masquerading address"},
	{Name: "postNATDestinationIPv4Address", ID: 226, Type: "ipv4Address", Length: 4, IPv4: true, Group: GroupNAT,
		Description: "destination address after NAT, e.g. the backend a service IP was DNAT'ed to"},
	{Name: "postNATSourceIPv6Address", ID: 281, Type: "ipv6Address", Length: 16, IPv6: true, Group: GroupNAT,
		Description: "source address after NAT"},
	{Name: "postNATDestinationIPv6Address", ID: 282, Type: "ipv6Address", Length: 16, IPv6: true, Group: GroupNAT,
		Description: "destination address after NAT"},
	{Name: "postNAPTSourceTransportPort", ID: 227, Type: "unsigned16", Length: 2, IPv4: true, IPv6: true, Group: GroupNAT,
		Description: "source port after NAT"},
	{Name: "postNAPTDestinationTransportPort", ID: 228, Type: "unsigned16", Length: 2, IPv4: true, IPv6: true, Group: GroupNAT,
		Description: "destination port after NAT"},
	{Name: "sourcePodNamespace", ID: 100, PEN: AntreaPEN, Type: "string", Length: VariableLength, MaxLength: 63, IPv4: true, IPv6: true, Group: GroupSrcPod,
		Description: "Antrea's element: namespace of the pod at the source (by its IP when the flow started)"},
	{Name: "sourcePodName", ID: 101, PEN: AntreaPEN, Type: "string", Length: VariableLength, MaxLength: 253, IPv4: true, IPv6: true, Group: GroupSrcPod,
		Description: "Antrea's element: name of that pod"},
	{Name: "sourceNodeName", ID: 104, PEN: AntreaPEN, Type: "string", Length: VariableLength, MaxLength: 253, IPv4: true, IPv6: true, Group: GroupSrcPod,
		Description: "Antrea's element: node that pod runs on"},
	{Name: "sourcePodLabels", ID: 143, PEN: AntreaPEN, Type: "string", Length: VariableLength, MaxLength: 254, IPv4: true, IPv6: true, Group: GroupSrcPod,
		Description: "Antrea's element: the pod's selected labels (--kube-labels) as a JSON object"},
	{Name: "sourceWorkloadKind", ID: 14, Own: true, Type: "string", Length: VariableLength, MaxLength: 32, IPv4: true, IPv6: true, Group: GroupSrcPod,
		Description: "kind of the workload owning that pod: Deployment, StatefulSet, DaemonSet, CronJob, Job, ReplicaSet; empty for a bare pod"},
	{Name: "sourceWorkloadName", ID: 15, Own: true, Type: "string", Length: VariableLength, MaxLength: 253, IPv4: true, IPv6: true, Group: GroupSrcPod,
		Description: "name of that workload"},
	{Name: "destinationPodNamespace", ID: 102, PEN: AntreaPEN, Type: "string", Length: VariableLength, MaxLength: 63, IPv4: true, IPv6: true, Group: GroupDstPod,
		Description: "Antrea's element: namespace of the pod at the destination (the backend, for a service)"},
	{Name: "destinationPodName", ID: 103, PEN: AntreaPEN, Type: "string", Length: VariableLength, MaxLength: 253, IPv4: true, IPv6: true, Group: GroupDstPod,
		Description: "Antrea's element: name of that pod"},
	{Name: "destinationNodeName", ID: 105, PEN: AntreaPEN, Type: "string", Length: VariableLength, MaxLength: 253, IPv4: true, IPv6: true, Group: GroupDstPod,
		Description: "Antrea's element: node that pod runs on"},
	{Name: "destinationPodLabels", ID: 144, PEN: AntreaPEN, Type: "string", Length: VariableLength, MaxLength: 254, IPv4: true, IPv6: true, Group: GroupDstPod,
		Description: "Antrea's element: the pod's selected labels as a JSON object"},
	{Name: "destinationWorkloadKind", ID: 16, Own: true, Type: "string", Length: VariableLength, MaxLength: 32, IPv4: true, IPv6: true, Group: GroupDstPod,
		Description: "kind of the workload owning that pod"},
	{Name: "destinationWorkloadName", ID: 17, Own: true, Type: "string", Length: VariableLength, MaxLength: 253, IPv4: true, IPv6: true, Group: GroupDstPod,
		Description: "name of that workload"},
	{Name: "destinationClusterIPv4", ID: 106, PEN: AntreaPEN, Type: "ipv4Address", Length: 4, IPv4: true, Group: GroupService,
		Description: "Antrea's element: the service cluster IP the flow was sent to"},
	{Name: "destinationClusterIPv6", ID: 107, PEN: AntreaPEN, Type: "ipv6Address", Length: 16, IPv6: true, Group: GroupService,
		Description: "Antrea's element: the service cluster IP the flow was sent to"},
	{Name: "destinationServicePort", ID: 108, PEN: AntreaPEN, Type: "unsigned16", Length: 2, IPv4: true, IPv6: true, Group: GroupService,
		Description: "Antrea's element: the service port"},
	{Name: "destinationServicePortName", ID: 109, PEN: AntreaPEN, Type: "string", Length: VariableLength, MaxLength: 254, IPv4: true, IPv6: true, Group: GroupService,
		Description: "Antrea's element: the service as namespace/name:portname"},
	{Name: "flowType", ID: 137, PEN: AntreaPEN, Type: "unsigned8", Length: 1, IPv4: true, IPv6: true, Group: GroupFlowType,
		Description: "Antrea's element: 1 intra-node, 2 inter-node, 3 to external, 4 from external"},
	{Name: "droppedPacketDeltaCount", ID: 133, Type: "unsigned64", Length: 8, IPv4: true, IPv6: true, Group: GroupDrops,
		Description: "packets of this flow the kernel dropped on this node (skb:kfree_skb with a drop reason), GSO segments counted one by one"},
	{Name: "droppedOctetDeltaCount", ID: 132, Type: "unsigned64", Length: 8, IPv4: true, IPv6: true, Group: GroupDrops,
		Description: "IP-level octets of those dropped packets"},
	{Name: "kernelDropReason", ID: 8, Own: true, Type: "string", Length: VariableLength, MaxLength: 48, IPv4: true, IPv6: true, Group: GroupDrops,
		Description: "the kernel's reason for the latest of those drops: enum skb_drop_reason without its SKB_DROP_REASON_ prefix, e.g. NETFILTER_DROP"},
}

// GroupsOf returns the field groups a record carries.
func GroupsOf(r *flow.Record) Group {
	m := &r.Measures
	var g Group
	if r.Context.Src.Known() {
		g |= GroupSrcProcess
	}
	if r.Context.Dst.Known() {
		g |= GroupDstProcess
	}
	if r.Context.NAT.Known() {
		g |= GroupNAT
	}
	if k := &r.Context.Kube; k.Src.Known() {
		g |= GroupSrcPod
	}
	if k := &r.Context.Kube; k.Dst.Known() {
		g |= GroupDstPod
	}
	if r.Context.Kube.ServiceIP.IsValid() {
		g |= GroupService
	}
	if r.Context.Kube.FlowType != flow.FlowTypeUnknown {
		g |= GroupFlowType
	}
	if r.Context.Src.Known() && r.Context.Src.ContainerID != "" {
		g |= GroupSrcContainer
	}
	if r.Context.Dst.Known() && r.Context.Dst.ContainerID != "" {
		g |= GroupDstContainer
	}
	if m.HasRTT() {
		g |= GroupRTT
	}
	if m.HasRetrans() {
		g |= GroupRetrans
	}
	if m.Handshake.Seen {
		g |= GroupHandshake
	}
	if m.HasDrops() {
		g |= GroupDrops
	}
	if m.HasWireRetrans() {
		g |= GroupWireRetrans
	}
	return g
}

// TemplateFields returns the fields of the IPv4 (ipv6 false) or IPv6
// template for records carrying the measurement groups in groups, in
// template order, with Own fields under pen.
func TemplateFields(ipv6 bool, groups Group, pen uint32) []Field {
	var out []Field
	for _, f := range Fields {
		if (ipv6 && !f.IPv6) || (!ipv6 && !f.IPv4) || f.Group&groups != f.Group {
			continue
		}
		if f.Own {
			f.PEN = pen
		}
		out = append(out, f)
	}
	return out
}

// FieldsMarkdown renders Fields as the README's Markdown table.
func FieldsMarkdown() string {
	var b strings.Builder
	b.WriteString("| Field | IE id | PEN | type | IPv4/IPv6 | meaning |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for _, f := range Fields {
		pen := "IANA"
		switch {
		case f.Own:
			pen = fmt.Sprintf("podflow (%d)", DefaultPEN)
		case f.PEN == NtopPEN:
			pen = fmt.Sprintf("ntop (%d)", f.PEN)
		case f.PEN != 0:
			pen = fmt.Sprint(f.PEN)
		}
		fmt.Fprintf(&b, "| `%s` | %d | %s | %s | %s | %s |\n",
			f.Name, f.ID, pen, f.Type, families(f), escapeCell(f.Description))
	}
	return b.String()
}

func families(f Field) string {
	switch {
	case f.IPv4 && f.IPv6:
		return "IPv4, IPv6"
	case f.IPv4:
		return "IPv4"
	case f.IPv6:
		return "IPv6"
	}
	return "-"
}

// escapeCell keeps a '|' in a description from splitting the table cell.
func escapeCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
