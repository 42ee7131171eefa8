package decoders

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/podflow/podflow/flow"
)

// FlowRecords maps the flows of a NetFlow v9 or v5 packet as tshark
// printed them back into flow.Records, their times made absolute from the
// header: the export time (unix_secs, and unix_nsecs in v5) minus the
// exporter's uptime then, plus the flow's uptime at its first and last
// packet.
func (p NetFlowPacket) FlowRecords() ([]flow.Record, error) {
	h := p.Header
	secs, err := strconv.ParseInt(h["cflow.unix_secs"], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("unix_secs %q: %w", h["cflow.unix_secs"], err)
	}
	var nsecs int64
	if s, ok := h["cflow.unix_nsecs"]; ok {
		if nsecs, err = strconv.ParseInt(s, 10, 64); err != nil {
			return nil, fmt.Errorf("unix_nsecs %q: %w", s, err)
		}
	}
	uptime, err := parseSeconds(h["cflow.sysuptime"])
	if err != nil {
		return nil, fmt.Errorf("sysuptime: %w", err)
	}
	boot := time.Unix(secs, nsecs).Add(-uptime)
	var recs []flow.Record
	for _, f := range p.Flows {
		var r flow.Record
		var errs []error
		addr := func(names ...string) netip.Addr {
			for _, n := range names {
				if s, ok := f[n]; ok {
					a, err := netip.ParseAddr(s)
					errs = append(errs, err)
					return a
				}
			}
			errs = append(errs, fmt.Errorf("none of %v", names))
			return netip.Addr{}
		}
		num := func(name string) uint64 {
			v, err := strconv.ParseUint(f[name], 0, 64)
			errs = append(errs, err)
			return v
		}
		at := func(name string) time.Time {
			d, err := parseSeconds(f[name])
			errs = append(errs, err)
			return boot.Add(d)
		}
		r.SrcAddr, r.DstAddr = addr("cflow.srcaddr", "cflow.srcaddrv6"), addr("cflow.dstaddr", "cflow.dstaddrv6")
		r.SrcPort, r.DstPort, r.Proto = uint16(num("cflow.srcport")), uint16(num("cflow.dstport")), uint8(num("cflow.protocol"))
		r.Packets, r.Octets = num("cflow.packets"), num("cflow.octets")
		r.First, r.Last = at("cflow.timestart"), at("cflow.timeend")
		for _, err := range errs {
			if err != nil {
				return nil, fmt.Errorf("flow %v: %w", f, err)
			}
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// parseSeconds parses tshark's relative times ("101.250000000").
func parseSeconds(s string) (time.Duration, error) {
	whole, frac, _ := strings.Cut(s, ".")
	sec, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || len(frac) > 9 {
		return 0, fmt.Errorf("seconds %q", s)
	}
	var ns int64
	if frac != "" {
		if ns, err = strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64); err != nil {
			return 0, fmt.Errorf("seconds %q", s)
		}
	}
	return time.Duration(sec)*time.Second + time.Duration(ns), nil
}

// NfdumpFlowRecords maps nfdump's JSON records (NfdumpRecords) back into
// flow.Records: 5-tuple, counters, observation point, times to the
// millisecond.
func NfdumpFlowRecords(recs []map[string]any) ([]flow.Record, error) {
	out := make([]flow.Record, 0, len(recs))
	for _, j := range recs {
		var r flow.Record
		var errs []error
		str := func(k string) string {
			if v, ok := j[k]; ok {
				return fmt.Sprint(v)
			}
			return ""
		}
		addr := func(v4, v6 string) netip.Addr {
			s := str(v4)
			if s == "" {
				s = str(v6)
			}
			a, err := netip.ParseAddr(s)
			errs = append(errs, err)
			return a.Unmap()
		}
		num := func(k string) uint64 {
			v, err := strconv.ParseUint(str(k), 10, 64)
			errs = append(errs, err)
			return v
		}
		at := func(k string) time.Time {
			t, err := NfdumpTime(j[k])
			errs = append(errs, err)
			return t
		}
		r.SrcAddr, r.DstAddr = addr("src4_addr", "src6_addr"), addr("dst4_addr", "dst6_addr")
		r.Proto = uint8(num("proto"))
		if _, ok := j["icmp_type"]; ok {
			// ICMP: podflow's key holds type<<8|code as the destination port.
			r.DstPort = uint16(num("icmp_type")<<8 | num("icmp_code"))
		} else {
			r.SrcPort, r.DstPort = uint16(num("src_port")), uint16(num("dst_port"))
		}
		r.Packets, r.Octets = num("in_packets"), num("in_bytes")
		r.First, r.Last = at("first"), at("last")
		// The observation point: podflow exports ingressInterface for
		// ingress, egressInterface for egress (absent: 0).
		if _, ok := j["input_snmp"]; ok {
			r.IfIndex = uint32(num("input_snmp"))
		}
		if _, ok := j["output_snmp"]; ok && r.IfIndex == 0 {
			r.IfIndex, r.Direction = uint32(num("output_snmp")), flow.Egress
		}
		for _, err := range errs {
			if err != nil {
				return nil, fmt.Errorf("nfdump record %v: %w", j, err)
			}
		}
		out = append(out, r)
	}
	return out, nil
}
