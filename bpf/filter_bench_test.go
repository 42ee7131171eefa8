package bpf

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/pkt"
	"github.com/podflow/podflow/internal/privtest"
)

// BenchmarkFilters reports ns/packet of the TC program with each in-kernel
// filter configured, for packets the filters keep (then accounted as usual)
// and packets they exclude, and with 1-in-100 sampling, beside the program
// without filters and the reference, all measured in the same run. The CIDR
// trie holds 258 rules (256 /24s that never match besides the ones that
// do), as a realistic rule set would. Run with -benchtime 1x.
func BenchmarkFilters(b *testing.B) {
	privtest.Require(b)
	cidrs := Filter{AllowCIDRs: prefixes("10.0.0.0/8", "fd00::/16"), DenyCIDRs: prefixes("10.1.0.0/16", "fd00:bad::/32")}
	for i := range 128 {
		cidrs.AllowCIDRs = append(cidrs.AllowCIDRs, netip.MustParsePrefix(fmt.Sprintf("172.16.%d.0/24", i)))
		cidrs.DenyCIDRs = append(cidrs.DenyCIDRs, netip.MustParsePrefix(fmt.Sprintf("2001:db8:%x::/48", i)))
	}
	all := cidrs
	all.AllowProtocols = []uint8{6, 17}
	all.AllowPorts = []PortRange{{1, 1023}}
	all.DenyPorts = []PortRange{{22, 22}}
	variants := []struct {
		name string
		opts LoadOptions
	}{
		{"none", LoadOptions{}},
		{"protocols", LoadOptions{Filter: Filter{AllowProtocols: []uint8{6, 17}}}},
		{"ports", LoadOptions{Filter: Filter{AllowPorts: []PortRange{{1, 1023}}, DenyPorts: []PortRange{{22, 22}}}}},
		{"cidrs", LoadOptions{Filter: cidrs}},
		{"all", LoadOptions{Filter: all}},
		{"sampling-100", LoadOptions{SamplingInterval: 100}},
	}
	progs := map[string]*Objects{}
	for _, v := range variants {
		v.opts.MaxFlows = 1024
		objs, err := Load(v.opts)
		if err != nil {
			b.Fatal(err)
		}
		defer objs.Close()
		progs[v.name] = objs
	}
	var ref ReferenceObjects
	if err := LoadReferenceObjects(&ref, nil); err != nil {
		b.Fatal(err)
	}
	defer ref.Close()

	a10, a10bad := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.1.0.1")
	b10 := netip.MustParseAddr("10.0.0.2")
	fd, fdBad := netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00:bad::1")
	frames := []struct {
		name  string
		frame pkt.Frame
	}{
		{"ipv4-kept", pkt.Frame{Src: a10, Dst: b10, Proto: 6, SrcPort: 40000, DstPort: 80, TCPFlags: flow.TCPAck, Payload: 10}},
		{"ipv4-excluded", pkt.Frame{Src: a10bad, Dst: b10, Proto: 6, SrcPort: 40000, DstPort: 22, TCPFlags: flow.TCPAck, Payload: 10}},
		{"ipv6-kept", pkt.Frame{Src: fd, Dst: v6b, Proto: 6, SrcPort: 40000, DstPort: 80, TCPFlags: flow.TCPAck}},
		{"ipv6-excluded", pkt.Frame{Src: fdBad, Dst: v6b, Proto: 6, SrcPort: 40000, DstPort: 22, TCPFlags: flow.TCPAck}},
	}
	for _, f := range frames {
		data := f.frame.Bytes()
		b.Run(f.name, func(b *testing.B) {
			for b.Loop() {
				reference := perPacket(b, ref.TcReference, data)
				for _, v := range variants {
					b.ReportMetric(perPacket(b, progs[v.name].TcIngress, data), v.name+"-ns/packet")
				}
				b.ReportMetric(reference, "ref-ns/packet")
			}
		})
	}
}
