package bpf

import (
	"fmt"
	"net"
	"net/netip"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/podflow/podflow/internal/netnstest"
	"github.com/podflow/podflow/internal/privtest"
)

// BenchmarkTracepoints reports the kernel's own accounting (BPF stats:
// run_time_ns / run_cnt) of each socket and drop tracepoint program while
// real traffic runs in a test namespace: TCP exchanges over loopback for
// tcp_probe, UDP datagrams to a closed port for kfree_skb. These programs
// cannot be run by BPF_PROG_TEST_RUN (tp_btf), so this is the figure of a
// real hit, beside empty programs on the same tracepoints (the floor: the
// call and the stats' own clock reads). tcp_retransmit_* fire only under
// loss and are not measured here.
//
// Beside them run the same programs with the TC programs' filters (258 CIDR
// rules, as BenchmarkFilters has): rules that keep the loopback traffic
// (then measured as usual), rules that exclude it, and every kind of rule
// (keeping it). A hit runs every variant, so all see the same traffic.
func BenchmarkTracepoints(b *testing.B) {
	privtest.Require(b)
	ev, err := OpenEvents(EventOptions{MaxTuples: 4096, RTT: true, Retransmits: true, Drops: true, Owners: true})
	if err != nil {
		b.Fatal(err)
	}
	defer ev.Close()
	filtered := map[string]*Events{}
	for name, f := range benchEventFilters() {
		objs, err := Load(LoadOptions{MaxFlows: 1024, Filter: f})
		if err != nil {
			b.Fatal(err)
		}
		defer objs.Close()
		fev, err := OpenEvents(EventOptions{MaxTuples: 4096, RTT: true, Drops: true, Filter: objs.Filter()})
		if err != nil {
			b.Fatal(err)
		}
		defer fev.Close()
		filtered[name] = fev
	}
	stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		b.Fatalf("enable BPF stats: %v", err)
	}
	defer stats.Close()
	var ref ReferenceObjects
	if err := LoadReferenceObjects(&ref, nil); err != nil {
		b.Fatal(err)
	}
	defer ref.Close()
	empty := map[string]*ebpf.Program{EventsProgTcpProbe: ref.TpProbeEmpty, EventsProgKfreeSkb: ref.TpDropEmpty}
	for _, p := range empty {
		l, err := link.AttachTracing(link.TracingOptions{Program: p, AttachType: ebpf.AttachTraceRawTp})
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
	}
	ns := netnstest.New(b)
	for b.Loop() {
		err := ns.Do(func() error {
			if _, _, _, err := echoRounds("tcp4", 2000); err != nil {
				return err
			}
			c, err := net.ListenPacket("udp4", "127.0.0.1:0")
			if err != nil {
				return err
			}
			defer c.Close()
			to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}
			for range 2000 {
				if _, err := c.WriteTo(make([]byte, 64), to); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	for _, name := range []string{EventsProgTcpProbe, EventsProgKfreeSkb} {
		b.ReportMetric(nsPerRun(b, ev.Program(name)), name+"-ns/hit")
		b.ReportMetric(nsPerRun(b, empty[name]), name+"-empty-ns/hit")
		for variant, fev := range filtered {
			b.ReportMetric(nsPerRun(b, fev.Program(name)), name+"-"+variant+"-ns/hit")
		}
	}
	// The owner programs run on every send and receive; after a socket's
	// first call by a process they stop at one socket-storage lookup.
	for _, name := range []string{EventsProgSockSendLength, EventsProgSockRecvLength} {
		b.ReportMetric(nsPerRun(b, ev.Program(name)), name+"-ns/hit")
	}
}

func nsPerRun(b *testing.B, p *ebpf.Program) float64 {
	b.Helper()
	st, err := p.Stats()
	if err != nil {
		b.Fatal(err)
	}
	if st.RunCount == 0 {
		b.Fatalf("%s: no BPF stats", p)
	}
	return float64(st.Runtime.Nanoseconds()) / float64(st.RunCount)
}

// benchEventFilters are the filters BenchmarkTracepoints measures, against
// its loopback traffic (127.0.0.1, TCP and UDP, ports above 1023 but 9).
func benchEventFilters() map[string]Filter {
	var others []netip.Prefix // 256 /24s the traffic never matches
	for i := range 128 {
		others = append(others, netip.MustParsePrefix(fmt.Sprintf("172.16.%d.0/24", i)),
			netip.MustParsePrefix(fmt.Sprintf("2001:db8:%x::/48", i)))
	}
	deny := append(prefixes("10.1.0.0/16", "fd00:bad::/32"), others...)
	allow := append(prefixes("10.0.0.0/8", "fd00::/16"), others...)
	return map[string]Filter{
		"cidrs-kept":     {DenyCIDRs: deny},
		"cidrs-excluded": {AllowCIDRs: allow},
		"all-kept": {DenyCIDRs: deny, AllowProtocols: []uint8{6, 17},
			DenyPorts: []PortRange{{22, 22}}},
	}
}
