package collector

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/podflow/podflow/flow"
)

// FormatJSON renders r as one JSON object on one line (no newline). Keys are
// IPFIX IE names (sourceIPv4Address, octetDeltaCount, flowStartMilliseconds
// as an integer, ...), plus the message header (exporter, observationDomainId,
// sequenceNumber, exportTime in Unix seconds, templateId) and flowStart /
// flowEnd as RFC 3339 strings for humans, and samplingInterval when the
// exporter announced packet sampling. Extra elements follow by name;
// octet arrays are "0x..." hex strings, times RFC 3339 strings. An Extra
// element whose name is already used with another value is written as
// "<name>#extra".
func FormatJSON(r Received) []byte {
	var w jsonObject
	w.add("exporter", r.Exporter)
	w.add("observationDomainId", r.ObservationDomainID)
	w.add("sequenceNumber", r.SequenceNumber)
	w.add("exportTime", r.ExportTime.Unix())
	w.add("templateId", r.TemplateID)
	if r.Options {
		w.add("options", true)
		if len(r.Scope) > 0 {
			w.add("scope", r.Scope)
		}
	} else {
		addFlowJSON(&w, r.Record)
		if r.SamplingInterval > 1 {
			w.add("samplingInterval", r.SamplingInterval)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(r.Extra)) {
		w.addExtra(k, jsonValue(r.Extra[k]))
	}
	return w.bytes()
}

func addFlowJSON(w *jsonObject, f flow.Record) {
	if !f.First.IsZero() {
		w.add("flowStart", f.First.UTC().Format(time.RFC3339Nano))
		w.add("flowStartMilliseconds", f.First.UnixMilli())
	}
	if !f.Last.IsZero() {
		w.add("flowEnd", f.Last.UTC().Format(time.RFC3339Nano))
		w.add("flowEndMilliseconds", f.Last.UnixMilli())
	}
	w.add("protocolIdentifier", f.Proto)
	src, dst := "sourceIPv4Address", "destinationIPv4Address"
	if f.SrcAddr.Is6() || f.DstAddr.Is6() {
		src, dst = "sourceIPv6Address", "destinationIPv6Address"
	}
	if f.SrcAddr.IsValid() {
		w.add(src, f.SrcAddr)
	}
	if f.DstAddr.IsValid() {
		w.add(dst, f.DstAddr)
	}
	switch f.Proto {
	case flow.ProtoICMP:
		w.add("icmpTypeCodeIPv4", f.DstPort)
	case flow.ProtoICMPv6:
		w.add("icmpTypeCodeIPv6", f.DstPort)
	default:
		w.add("sourceTransportPort", f.SrcPort)
		w.add("destinationTransportPort", f.DstPort)
	}
	w.add("octetDeltaCount", f.Octets)
	w.add("packetDeltaCount", f.Packets)
	w.add("tcpControlBits", f.TCPFlags)
	if f.Direction == flow.Egress {
		w.add("egressInterface", f.IfIndex)
	} else {
		w.add("ingressInterface", f.IfIndex)
	}
	w.add("flowDirection", uint8(f.Direction))
	w.add("flowEndReason", uint8(f.EndReason))
	addMeasuresJSON(w, &f.Measures)
	addContextJSON(w, &f.Context)
}

// addContextJSON writes the processes and NAT the record carries.
func addContextJSON(w *jsonObject, c *flow.Context) {
	if c.Src.Known() {
		w.add("SRC_PROC_PID", c.Src.PID)
		w.add("SRC_PROC_NAME", c.Src.Name)
		w.add("sourceProcessExecutable", c.Src.Exe)
		w.add("sourceContainerId", c.Src.ContainerID)
	}
	if c.Dst.Known() {
		w.add("DST_PROC_PID", c.Dst.PID)
		w.add("DST_PROC_NAME", c.Dst.Name)
		w.add("destinationProcessExecutable", c.Dst.Exe)
		w.add("destinationContainerId", c.Dst.ContainerID)
	}
	for _, e := range []struct {
		side string
		ep   *flow.KubeEndpoint
	}{{"source", &c.Kube.Src}, {"destination", &c.Kube.Dst}} {
		if e.ep.Known() {
			w.add(e.side+"PodNamespace", e.ep.Namespace)
			w.add(e.side+"PodName", e.ep.Pod)
			w.add(e.side+"NodeName", e.ep.Node)
			w.add(e.side+"WorkloadKind", e.ep.WorkloadKind)
			w.add(e.side+"WorkloadName", e.ep.WorkloadName)
			if e.ep.Labels != "" {
				w.add(e.side+"PodLabels", e.ep.Labels)
			}
		}
	}
	if c.Kube.ServiceIP.IsValid() {
		w.add("destinationClusterIP", c.Kube.ServiceIP)
		w.add("destinationServicePort", c.Kube.ServicePort)
		w.add("destinationServicePortName", c.Kube.ServicePortName)
	}
	if c.Kube.FlowType != flow.FlowTypeUnknown {
		w.add("flowType", uint8(c.Kube.FlowType))
	}
	if c.NAT.Known() {
		w.add("postNATSourceAddress", c.NAT.SrcAddr)
		w.add("postNATDestinationAddress", c.NAT.DstAddr)
		w.add("postNAPTSourceTransportPort", c.NAT.SrcPort)
		w.add("postNAPTDestinationTransportPort", c.NAT.DstPort)
	}
}

// addMeasuresJSON writes the measurement groups the record carries, under
// the element names of exporter.Fields.
func addMeasuresJSON(w *jsonObject, m *flow.Measures) {
	if m.HasRTT() {
		w.add("tcpRttMinMicroseconds", m.RTTMinUs)
		w.add("tcpRttMaxMicroseconds", m.RTTMaxUs)
		w.add("tcpRttMeanMicroseconds", m.RTTMeanUs())
		w.add("tcpRttSampleCount", m.RTTSamples)
	}
	if m.HasRetrans() {
		w.add("RETRANSMITTED_IN_PKTS", m.RetransPackets)
		w.add("tcpRetransmittedPayloadOctets", m.RetransOctets)
	}
	if m.Handshake.Seen {
		w.add("tcpHandshakeServerMicroseconds", m.Handshake.ServerUs)
		w.add("tcpHandshakeClientMicroseconds", m.Handshake.ClientUs)
	}
	if m.HasWireRetrans() {
		w.add("tcpWireRetransmittedPackets", m.WireRetransPackets)
	}
	if m.HasDrops() {
		w.add("droppedPacketDeltaCount", m.DropPackets)
		w.add("droppedOctetDeltaCount", m.DropOctets)
		w.add("kernelDropReason", m.DropReason)
	}
}

// jsonValue gives Extra values the JSON form a reader expects.
func jsonValue(v any) any {
	switch v := v.(type) {
	case []byte:
		return "0x" + hex.EncodeToString(v)
	case net.HardwareAddr:
		return v.String()
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	}
	return v
}

// jsonObject writes keys in the order they are added (json.Marshal of a map
// would sort them, putting the addresses far from the ports).
type jsonObject struct {
	buf  bytes.Buffer
	keys map[string][]byte // key → value written
}

func (w *jsonObject) add(key string, v any) {
	w.write(key, marshalValue(v))
}

// addExtra adds an Extra element. One whose name is already written with
// another value (an exporter's flowDirection the collector could not use,
// say) gets "#extra" appended; with the same value it is left out.
func (w *jsonObject) addExtra(key string, v any) {
	val := marshalValue(v)
	if prev, taken := w.keys[key]; taken {
		if bytes.Equal(prev, val) {
			return
		}
		key += "#extra"
	}
	w.write(key, val)
}

func (w *jsonObject) write(key string, val []byte) {
	if w.keys == nil {
		w.keys = make(map[string][]byte)
		w.buf.WriteByte('{')
	} else {
		w.buf.WriteByte(',')
	}
	w.keys[key] = val
	k, _ := json.Marshal(key)
	w.buf.Write(k)
	w.buf.WriteByte(':')
	w.buf.Write(val)
}

func marshalValue(v any) []byte {
	val, err := json.Marshal(v)
	if err != nil { // e.g. NaN from a float element: keep the line valid JSON
		val, _ = json.Marshal(fmt.Sprint(v))
	}
	return val
}

func (w *jsonObject) bytes() []byte {
	if w.keys == nil {
		return []byte("{}")
	}
	w.buf.WriteByte('}')
	return w.buf.Bytes()
}

// FormatText renders r as a readable one-liner, e.g.
// "2026-11-22T03:04:05.123Z tcp 10.0.0.1:34567 -> 10.0.0.2:80 if=5 ingress pkts=10 bytes=840 flags=SYN,ACK,FIN reason=idle dur=1.234s".
// A flow record of a sampling exporter adds "sampled=1/N" (its counts are
// the sampled ones). Extra elements follow as name=value, sorted by name.
func FormatText(r Received) string {
	var b strings.Builder
	start := r.First
	if start.IsZero() {
		start = r.ExportTime
	}
	b.WriteString(start.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	if r.Options {
		fmt.Fprintf(&b, " options exporter=%s domain=%d template=%d", r.Exporter, r.ObservationDomainID, r.TemplateID)
		if len(r.Scope) > 0 {
			fmt.Fprintf(&b, " scope=%s", strings.Join(r.Scope, ","))
		}
	} else {
		writeFlowText(&b, r.Record)
		if r.SamplingInterval > 1 {
			fmt.Fprintf(&b, " sampled=1/%d", r.SamplingInterval)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(r.Extra)) {
		fmt.Fprintf(&b, " %s=%s", k, textValue(r.Extra[k]))
	}
	return b.String()
}

func writeFlowText(b *strings.Builder, f flow.Record) {
	fmt.Fprintf(b, " %s ", protoName(f.Proto))
	if f.IsICMP() {
		typ, code := f.ICMPTypeCode()
		fmt.Fprintf(b, "%s -> %s type=%d code=%d", addrText(f.SrcAddr), addrText(f.DstAddr), typ, code)
	} else {
		fmt.Fprintf(b, "%s -> %s", hostPortText(f.SrcAddr, f.SrcPort), hostPortText(f.DstAddr, f.DstPort))
	}
	fmt.Fprintf(b, " if=%d %s pkts=%d bytes=%d", f.IfIndex, f.Direction, f.Packets, f.Octets)
	if f.TCPFlags != 0 {
		fmt.Fprintf(b, " flags=%s", tcpFlagsText(f.TCPFlags))
	}
	if f.EndReason != 0 {
		fmt.Fprintf(b, " reason=%s", f.EndReason)
	}
	if !f.First.IsZero() && !f.Last.IsZero() {
		fmt.Fprintf(b, " dur=%s", f.Last.Sub(f.First))
	}
	m := &f.Measures
	if m.HasRTT() {
		fmt.Fprintf(b, " rtt=%d/%d/%dus(%d)", m.RTTMinUs, m.RTTMeanUs(), m.RTTMaxUs, m.RTTSamples)
	}
	if m.HasRetrans() {
		fmt.Fprintf(b, " retrans=%d/%dB", m.RetransPackets, m.RetransOctets)
	}
	if m.Handshake.Seen {
		fmt.Fprintf(b, " handshake=%d+%dus", m.Handshake.ServerUs, m.Handshake.ClientUs)
	}
	if m.HasWireRetrans() {
		fmt.Fprintf(b, " wire-retrans=%d", m.WireRetransPackets)
	}
	for _, p := range []struct {
		side string
		proc *flow.Process
	}{{"src", &f.Context.Src}, {"dst", &f.Context.Dst}} {
		if p.proc.Known() {
			fmt.Fprintf(b, " %s-proc=%d/%s", p.side, p.proc.PID, p.proc.Name)
			if p.proc.ContainerID != "" {
				fmt.Fprintf(b, " %s-container=%.12s", p.side, p.proc.ContainerID)
			}
		}
	}
	for _, e := range []struct {
		side string
		ep   *flow.KubeEndpoint
	}{{"src", &f.Context.Kube.Src}, {"dst", &f.Context.Kube.Dst}} {
		if e.ep.Known() {
			fmt.Fprintf(b, " %s-pod=%s/%s", e.side, e.ep.Namespace, e.ep.Pod)
		}
	}
	if f.Context.Kube.ServicePortName != "" {
		fmt.Fprintf(b, " svc=%s", f.Context.Kube.ServicePortName)
	}
	if f.Context.NAT.Known() {
		fmt.Fprintf(b, " nat=%s->%s", hostPortText(f.Context.NAT.SrcAddr, f.Context.NAT.SrcPort), hostPortText(f.Context.NAT.DstAddr, f.Context.NAT.DstPort))
	}
	if m.HasDrops() {
		fmt.Fprintf(b, " dropped=%d/%dB why=%s", m.DropPackets, m.DropOctets, m.DropReason)
	}
}

// textValue keeps a value to one word, quoting strings that are not.
func textValue(v any) string {
	s := fmt.Sprint(jsonValue(v))
	if _, isString := v.(string); isString && (s == "" || strings.ContainsAny(s, " \t\n\"=")) {
		return strconv.Quote(s)
	}
	return s
}

func hostPortText(a netip.Addr, port uint16) string {
	if !a.IsValid() {
		return "-:" + strconv.Itoa(int(port))
	}
	return netip.AddrPortFrom(a, port).String()
}

func addrText(a netip.Addr) string {
	if !a.IsValid() {
		return "-"
	}
	return a.String()
}

func protoName(p uint8) string {
	switch p {
	case flow.ProtoTCP:
		return "tcp"
	case flow.ProtoUDP:
		return "udp"
	case flow.ProtoICMP:
		return "icmp"
	case flow.ProtoICMPv6:
		return "icmpv6"
	case flow.ProtoSCTP:
		return "sctp"
	}
	return "proto" + strconv.Itoa(int(p))
}

// tcpFlagNames lists flags in the order a connection uses them (open, data,
// congestion, close), which reads better than bit order.
var tcpFlagNames = []struct {
	bit  uint16
	name string
}{
	{flow.TCPSyn, "SYN"}, {flow.TCPAck, "ACK"}, {flow.TCPPsh, "PSH"}, {flow.TCPUrg, "URG"},
	{flow.TCPEce, "ECE"}, {flow.TCPCwr, "CWR"}, {flow.TCPNs, "NS"},
	{flow.TCPFin, "FIN"}, {flow.TCPRst, "RST"},
}

func tcpFlagsText(flags uint16) string {
	var names []string
	for _, f := range tcpFlagNames {
		if flags&f.bit != 0 {
			names = append(names, f.name)
		}
	}
	if rest := flags &^ 0x1ff; rest != 0 {
		names = append(names, fmt.Sprintf("0x%x", rest))
	}
	return strings.Join(names, ",")
}
