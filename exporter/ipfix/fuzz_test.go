package ipfix

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/podflow/podflow/collector"
	"github.com/podflow/podflow/exporter"
	"github.com/podflow/podflow/flow"
)

// FuzzIPFIXRoundTrip builds flow records from the input (every field group,
// strings of any length and content, addresses of both families, mixed),
// encodes them with the exporter, decodes every message with podflow's
// collector and checks that each record comes back as the exporter
// promises: every value, strings cut to their maximum length, times to the
// millisecond. The options records come back too: the element types, one
// name per interface, and statistics that count the records.
func FuzzIPFIXRoundTrip(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x03\x00\x0a\x01\x02\x03\x0a\x04\x05\x06\x00\x50\x01\xbb\x06\xff\xff\xff\xff\xff\xff\xff\xffhello"))
	f.Add(seed(everyGroup(false, 7), everyGroup(true, 9)))
	icmp := record("fd00::1", "fd00::2", 0, 129<<8, flow.ProtoICMPv6, 1)
	f.Add(seed(icmp, record("10.0.0.1", "::ffff:10.0.0.2", 1, 2, flow.ProtoUDP, 3)))
	f.Fuzz(func(t *testing.T, data []byte) {
		in := fuzzRecords(data)
		got, options := exportAndDecode(t, in)
		checkRoundTrip(t, in, got)
		checkFuzzOptions(t, in, options)
	})
}

// seed encodes records the way fuzzRecords reads them back (roughly: the
// fuzzer takes it from there).
func seed(recs ...flow.Record) []byte {
	var b []byte
	b = append(b, byte(len(recs)))
	for _, r := range recs {
		b = append(b, 0xff) // every group
		for _, a := range []netip.Addr{r.SrcAddr, r.DstAddr} {
			if a.Is4() {
				b = append(b, 0)
			} else {
				b = append(b, 1)
			}
			b = append(b, a.AsSlice()...)
		}
		b = binary.BigEndian.AppendUint16(b, r.SrcPort)
		b = binary.BigEndian.AppendUint16(b, r.DstPort)
		b = append(b, r.Proto)
		b = binary.BigEndian.AppendUint64(b, r.Packets)
		b = append(b, r.Context.Src.Exe...)
	}
	return b
}

// fuzzReader hands out the input's bytes; past the end it gives zeros.
type fuzzReader struct{ b []byte }

func (r *fuzzReader) bytes(n int) []byte {
	out := make([]byte, n)
	k := copy(out, r.b)
	r.b = r.b[k:]
	return out
}
func (r *fuzzReader) u8() uint8   { return r.bytes(1)[0] }
func (r *fuzzReader) u16() uint16 { return binary.BigEndian.Uint16(r.bytes(2)) }
func (r *fuzzReader) u32() uint32 { return binary.BigEndian.Uint32(r.bytes(4)) }
func (r *fuzzReader) u64() uint64 { return binary.BigEndian.Uint64(r.bytes(8)) }

// str is a string of 0 to 319 octets: past every maximum length.
func (r *fuzzReader) str() string { return string(r.bytes(int(r.u16() % 320))) }

// addr is an IPv4 or IPv6 address, as the input chooses.
func (r *fuzzReader) addr(v6 bool) netip.Addr {
	if v6 {
		return netip.AddrFrom16([16]byte(r.bytes(16)))
	}
	return netip.AddrFrom4([4]byte(r.bytes(4)))
}

func (r *fuzzReader) millis() time.Time {
	if r.u8()&1 == 0 {
		return time.Time{} // unset: exported as 0
	}
	return time.UnixMilli(int64(r.u64() >> 11)) // up to year 285 000, never negative
}

// fuzzRecords reads 1 to 4 records. Addresses of a record's extras (NAT,
// service) take the family of its template, as real ones do, and ICMP the
// version of the family: ICMPv6 over IPv4 is not a flow podflow can see.
func fuzzRecords(data []byte) []flow.Record {
	r := &fuzzReader{b: data}
	recs := make([]flow.Record, 1+r.u8()%4)
	for i := range recs {
		groups := r.u16()
		rec := flow.Record{}
		rec.SrcAddr = r.addr(r.u8()&1 == 1)
		rec.DstAddr = r.addr(r.u8()&1 == 1)
		v6 := !(rec.SrcAddr.Unmap().Is4() && rec.DstAddr.Unmap().Is4())
		rec.SrcPort, rec.DstPort, rec.Proto = r.u16(), r.u16(), r.u8()
		if rec.Proto == flow.ProtoICMP || rec.Proto == flow.ProtoICMPv6 {
			rec.Proto = map[bool]uint8{false: flow.ProtoICMP, true: flow.ProtoICMPv6}[v6]
		}
		rec.IfIndex, rec.Direction = r.u32(), flow.Direction(r.u8()&1)
		rec.Packets, rec.Octets, rec.TCPFlags = r.u64(), r.u64(), r.u16()
		rec.First, rec.Last = r.millis(), r.millis()
		rec.EndReason = flow.EndReason(r.u8())
		m := &rec.Measures
		if groups&1 != 0 {
			m.RTTSamples, m.RTTSumUs, m.RTTMinUs, m.RTTMaxUs = r.u32()|1, r.u64(), r.u32(), r.u32()
		}
		if groups&2 != 0 {
			m.RetransPackets, m.RetransOctets = r.u32(), r.u64()
		}
		if groups&4 != 0 {
			m.Handshake = flow.Handshake{ServerUs: r.u32(), ClientUs: r.u32(), Seen: true}
		}
		if groups&8 != 0 {
			m.SetDrop(r.u64()|1, r.u64(), r.str(), 0)
		}
		if groups&16 != 0 {
			m.WireRetransPackets = r.u32() | 1
		}
		c := &rec.Context
		if groups&32 != 0 {
			c.Src = flow.Process{PID: r.u32() | 1, Name: r.str(), Exe: r.str(), ContainerID: r.str()}
		}
		if groups&64 != 0 {
			c.Dst = flow.Process{PID: r.u32() | 1, Name: r.str(), Exe: r.str(), ContainerID: r.str()}
		}
		if groups&128 != 0 {
			c.NAT = flow.NAT{SrcAddr: r.addr(v6), DstAddr: r.addr(v6), SrcPort: r.u16(), DstPort: r.u16()}
		}
		if groups&256 != 0 {
			c.Kube.Src = flow.KubeEndpoint{Pod: r.str() + "p", Namespace: r.str(), Node: r.str(),
				WorkloadKind: r.str(), WorkloadName: r.str(), Labels: r.str()}
		}
		if groups&512 != 0 {
			c.Kube.Dst = flow.KubeEndpoint{Pod: "p" + r.str(), Namespace: r.str(), Node: r.str(),
				WorkloadKind: r.str(), WorkloadName: r.str(), Labels: r.str()}
		}
		if groups&1024 != 0 {
			c.Kube.ServiceIP, c.Kube.ServicePort, c.Kube.ServicePortName = r.addr(v6), r.u16(), r.str()
		}
		if groups&2048 != 0 {
			c.Kube.FlowType = flow.FlowType(r.u8()%4 + 1)
		}
		recs[i] = rec
	}
	return recs
}

// captureConn keeps every message the exporter writes.
type captureConn struct {
	fakeConn
	msgs [][]byte
}

func (c *captureConn) Write(b []byte) (int, error) {
	c.msgs = append(c.msgs, append([]byte(nil), b...))
	return len(b), nil
}

// exportAndDecode exports recs over a captured TCP session at a 9000-octet
// MTU (every record fits) and decodes each message as a collector would.
func exportAndDecode(t *testing.T, recs []flow.Record) (flows, options []collector.Received) {
	conn := &captureConn{}
	dial := func(string, string, time.Duration) (net.Conn, error) { return conn, nil }
	e, err := newExporter(Config{Network: "tcp", Address: "192.0.2.1:4739", MTU: 9000, StatsInterval: time.Hour,
		InterfaceName: func(ifindex uint32) (string, string, bool) { return fmt.Sprint("if", ifindex), "kind", true }}, nil, dial)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Export(recs); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	d := collector.NewDecoder("192.0.2.2:40000")
	for i, msg := range conn.msgs {
		got, err := d.Decode(msg)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		for _, r := range got {
			if r.Options {
				options = append(options, r)
			} else {
				flows = append(flows, r)
			}
		}
	}
	return flows, options
}

// checkRoundTrip matches every record sent with one received, in any order
// (each template's records travel in their own messages).
func checkRoundTrip(t *testing.T, in []flow.Record, got []collector.Received) {
	if len(got) != len(in) {
		t.Fatalf("%d records back, %d sent", len(got), len(in))
	}
	used := make([]bool, len(got))
	for i := range in {
		want := roundTripped(in[i])
		found := false
		for j := range got {
			if !used[j] && reflect.DeepEqual(got[j].Record, want) {
				used[j], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("record %d did not come back:\nwant %+v\nsent %+v", i, want, in[i])
			for j := range got {
				t.Logf("got %+v", got[j].Record)
			}
		}
	}
	for j := range got {
		if got[j].Extra != nil {
			t.Errorf("record %d: extra elements %v", j, got[j].Extra)
		}
	}
}

// roundTripped is what the collector returns for r: the groups r carries,
// strings cut as the exporter cuts them, times to the millisecond,
// addresses unmapped, the RTT sum rebuilt from the mean.
func roundTripped(r flow.Record) flow.Record {
	g := exporter.GroupsOf(&r)
	var w flow.Record
	w.SrcAddr, w.DstAddr, w.Proto = r.SrcAddr.Unmap(), r.DstAddr.Unmap(), r.Proto
	w.DstPort = r.DstPort
	if !r.IsICMP() {
		w.SrcPort = r.SrcPort
	}
	w.IfIndex, w.Direction = r.IfIndex, r.Direction
	w.Packets, w.Octets, w.TCPFlags, w.EndReason = r.Packets, r.Octets, r.TCPFlags, r.EndReason
	w.First = time.UnixMilli(int64(unixMilli(r.First))).UTC()
	w.Last = time.UnixMilli(int64(unixMilli(r.Last))).UTC()
	m, wm := &r.Measures, &w.Measures
	if g&exporter.GroupRTT != 0 {
		wm.RTTSamples, wm.RTTMinUs, wm.RTTMaxUs = m.RTTSamples, m.RTTMinUs, m.RTTMaxUs
		wm.RTTSumUs = uint64(m.RTTMeanUs()) * uint64(m.RTTSamples)
	}
	if g&exporter.GroupRetrans != 0 {
		wm.RetransPackets, wm.RetransOctets = m.RetransPackets, m.RetransOctets
	}
	if g&exporter.GroupHandshake != 0 {
		wm.Handshake = m.Handshake
	}
	if g&exporter.GroupWireRetrans != 0 {
		wm.WireRetransPackets = m.WireRetransPackets
	}
	if g&exporter.GroupDrops != 0 {
		wm.SetDrop(m.DropPackets, m.DropOctets, truncate(m.DropReason, dropReasonMax), 0)
	}
	c, wc := &r.Context, &w.Context
	process := func(p flow.Process, container bool) flow.Process {
		out := flow.Process{PID: p.PID, Name: truncate(p.Name, 16), Exe: truncate(p.Exe, exeMax)}
		if container {
			out.ContainerID = truncate(p.ContainerID, containerMax)
		}
		return out
	}
	if g&exporter.GroupSrcProcess != 0 {
		wc.Src = process(c.Src, g&exporter.GroupSrcContainer != 0)
	}
	if g&exporter.GroupDstProcess != 0 {
		wc.Dst = process(c.Dst, g&exporter.GroupDstContainer != 0)
	}
	if g&exporter.GroupNAT != 0 {
		wc.NAT = flow.NAT{SrcAddr: c.NAT.SrcAddr.Unmap(), DstAddr: c.NAT.DstAddr.Unmap(), SrcPort: c.NAT.SrcPort, DstPort: c.NAT.DstPort}
	}
	pod := func(e flow.KubeEndpoint) flow.KubeEndpoint {
		return flow.KubeEndpoint{Pod: truncate(e.Pod, 254), Namespace: truncate(e.Namespace, 254), Node: truncate(e.Node, 254),
			WorkloadKind: truncate(e.WorkloadKind, 254), WorkloadName: truncate(e.WorkloadName, 254), Labels: truncate(e.Labels, 254)}
	}
	if g&exporter.GroupSrcPod != 0 {
		wc.Kube.Src = pod(c.Kube.Src)
	}
	if g&exporter.GroupDstPod != 0 {
		wc.Kube.Dst = pod(c.Kube.Dst)
	}
	if g&exporter.GroupService != 0 {
		wc.Kube.ServiceIP, wc.Kube.ServicePort = c.Kube.ServiceIP.Unmap(), c.Kube.ServicePort
		wc.Kube.ServicePortName = truncate(c.Kube.ServicePortName, 254)
	}
	if g&exporter.GroupFlowType != 0 {
		wc.Kube.FlowType = c.Kube.FlowType
	}
	return w
}

// checkFuzzOptions checks the options records of one fuzzed session.
func checkFuzzOptions(t *testing.T, in []flow.Record, options []collector.Received) {
	names := map[uint64]bool{}
	var types, stats int
	for _, o := range options {
		switch o.TemplateID {
		case TemplateIDElementTypes:
			types++
		case TemplateIDInterfaceNames:
			ifindex := o.Extra["ingressInterface"].(uint64)
			if names[ifindex] || o.Extra["interfaceName"] != fmt.Sprint("if", ifindex) {
				t.Errorf("interface record %v", o.Extra)
			}
			names[ifindex] = true
		case TemplateIDExporterStats:
			stats++
			if o.Extra["exportedFlowRecordTotalCount"] != uint64(len(in)) || o.Extra["notSentFlowTotalCount"] != uint64(0) {
				t.Errorf("statistics %v after %d records", o.Extra, len(in))
			}
		default:
			t.Errorf("options record of template %d", o.TemplateID)
		}
	}
	want := map[uint64]bool{}
	for _, r := range in {
		if r.IfIndex != 0 {
			want[uint64(r.IfIndex)] = true
		}
	}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("interfaces named %v, want %v", names, want)
	}
	if types != len(exporter.EnterpriseFields(exporter.DefaultPEN)) || stats != 1 {
		t.Errorf("%d type records and %d statistics", types, stats)
	}
}
