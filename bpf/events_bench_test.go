package bpf

import (
	"net"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/podflow/podflow/internal/netnstest"
)

// BenchmarkTracepoints reports the kernel's own accounting (BPF stats:
// run_time_ns / run_cnt) of each socket and drop tracepoint program while
// real traffic runs in a test namespace: TCP exchanges over loopback for
// tcp_probe, UDP datagrams to a closed port for kfree_skb. These programs
// cannot be run by BPF_PROG_TEST_RUN (tp_btf), so this is the figure of a
// real hit. tcp_retransmit_* fire only under loss and are not measured here.
func BenchmarkTracepoints(b *testing.B) {
	ev, _ := openAllEvents(b)
	stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		b.Fatalf("enable BPF stats: %v", err)
	}
	defer stats.Close()
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
		st, err := ev.Program(name).Stats()
		if err != nil {
			b.Fatal(err)
		}
		if st.RunCount == 0 {
			b.Fatalf("%s: no BPF stats", name)
		}
		b.ReportMetric(float64(st.Runtime.Nanoseconds())/float64(st.RunCount), name+"-ns/hit")
	}
}
