package e2e

import (
	"net/netip"
	"strconv"
	"testing"

	"github.com/podflow/podflow/exporter"
	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/decoders"
)

// tsharkMeasures decodes what tshark received (messages datagrams) with
// tshark alone and returns each tuple's measurements, merged over its
// records: the independent check of podflow's enterprise and drop
// elements. It fails on any sequence error tshark reports.
func tsharkMeasures(t *testing.T, ts *decoders.Tshark, messages uint64) map[flow.Tuple]flow.Measures {
	t.Helper()
	m, _ := tsharkDecode(t, ts, messages)
	return m
}

// tsharkDecode is tsharkMeasures plus each tuple's context (processes and
// NAT), merged over its records as contextOf does.
func tsharkDecode(t *testing.T, ts *decoders.Tshark, messages uint64) (map[flow.Tuple]flow.Measures, map[flow.Tuple]flow.Context) {
	t.Helper()
	dec, err := ts.Decode(int(messages), waitLimit)
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	if len(dec.SequenceErrors) > 0 {
		t.Fatalf("tshark reports sequence errors: %+v", dec.SequenceErrors)
	}
	pen := strconv.FormatUint(uint64(exporter.DefaultPEN), 10) + ":"
	out := map[flow.Tuple]flow.Measures{}
	contexts := map[flow.Tuple]flow.Context{}
	for _, r := range dec.Records {
		tu := tsharkTuple(t, r.Fields)
		own, err := r.Enterprise()
		if err != nil {
			t.Fatal(err)
		}
		u := func(id string) uint64 {
			b, ok := own[pen+id]
			if !ok {
				return 0
			}
			var v uint64
			for _, c := range b {
				v = v<<8 | uint64(c)
			}
			return v
		}
		var m flow.Measures
		if _, ok := own[pen+"4"]; ok {
			m.RTTSamples = uint32(u("4"))
			m.RTTMinUs, m.RTTMaxUs = uint32(u("1")), uint32(u("2"))
			m.RTTSumUs = u("3") * u("4")
		}
		m.RetransPackets = uint32(fieldUint(t, r.Fields, "cflow.pie.ntop.retransmitted_in_pkts"))
		m.RetransOctets = u("5")
		if _, ok := own[pen+"6"]; ok {
			m.Handshake = flow.Handshake{ServerUs: uint32(u("6")), ClientUs: uint32(u("7")), Seen: true}
		}
		m.WireRetransPackets = uint32(u("9"))
		if reason, ok := own[pen+"8"]; ok {
			m.SetDrop(fieldUint(t, r.Fields, "cflow.drop_packets"), fieldUint(t, r.Fields, "cflow.drop_octets"), string(reason), 0)
		}
		sum := out[tu]
		sum.Add(&m)
		out[tu] = sum

		c := contexts[tu]
		if pid := fieldUint(t, r.Fields, "cflow.pie.ntop.src_proc_id"); pid != 0 {
			c.Src = flow.Process{PID: uint32(pid), Name: r.Fields["cflow.pie.ntop.src_proc_name"],
				Exe: string(own[pen+"10"]), ContainerID: string(own[pen+"11"])}
		}
		if pid := fieldUint(t, r.Fields, "cflow.pie.ntop.dst_proc_pid"); pid != 0 {
			c.Dst = flow.Process{PID: uint32(pid), Name: r.Fields["cflow.pie.ntop.dst_proc_name"],
				Exe: string(own[pen+"12"]), ContainerID: string(own[pen+"13"])}
		}
		if a := tsharkAddr(r.Fields, "cflow.post_natsource_ipv4_address", "cflow.post_nat_source_ipv6_address"); a.IsValid() {
			c.NAT = flow.NAT{SrcAddr: a,
				DstAddr: tsharkAddr(r.Fields, "cflow.post_natdestination_ipv4_address", "cflow.post_nat_destination_ipv6_address"),
				SrcPort: uint16(fieldUint(t, r.Fields, "cflow.post_naptsource_transport_port")),
				DstPort: uint16(fieldUint(t, r.Fields, "cflow.post_naptdestination_transport_port"))}
		}
		contexts[tu] = c
	}
	return out, contexts
}

// tsharkAddr parses the first of the named address fields present.
func tsharkAddr(f map[string]string, names ...string) netip.Addr {
	for _, n := range names {
		if a, err := netip.ParseAddr(f[n]); err == nil {
			return a
		}
	}
	return netip.Addr{}
}

func tsharkTuple(t *testing.T, f map[string]string) flow.Tuple {
	t.Helper()
	addr := func(v4, v6 string) netip.Addr {
		s, ok := f[v4]
		if !ok {
			s = f[v6]
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			t.Fatalf("tshark address %q: %v", s, err)
		}
		return a
	}
	tu := flow.Tuple{
		SrcAddr: addr("cflow.srcaddr", "cflow.srcaddrv6"),
		DstAddr: addr("cflow.dstaddr", "cflow.dstaddrv6"),
		SrcPort: uint16(fieldUint(t, f, "cflow.srcport")),
		DstPort: uint16(fieldUint(t, f, "cflow.dstport")),
		Proto:   uint8(fieldUint(t, f, "cflow.protocol")),
	}
	// flow.Tuple keeps ICMP type<<8|code as the destination port.
	switch tu.Proto {
	case flow.ProtoICMP:
		tu.DstPort = uint16(fieldUint(t, f, "cflow.icmp_type_code_ipv4"))
	case flow.ProtoICMPv6:
		tu.DstPort = uint16(fieldUint(t, f, "cflow.icmp_ipv6_type")<<8 | fieldUint(t, f, "cflow.icmp_ipv6_code"))
	}
	return tu
}

// fieldUint parses a decimal (or 0x-hex) tshark field; absent means 0.
func fieldUint(t *testing.T, f map[string]string, name string) uint64 {
	t.Helper()
	s, ok := f[name]
	if !ok {
		return 0
	}
	v, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		t.Fatalf("tshark field %s=%q: %v", name, s, err)
	}
	return v
}
