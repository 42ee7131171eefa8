package agent

import (
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"go.uber.org/zap"

	"github.com/podflow/podflow/bpf"
	"github.com/podflow/podflow/exporter/ipfix"
	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/privtest"
)

// BenchmarkDrainTableEncodeSend measures records/s through the user-space
// path on one goroutine: BatchLookupAndDelete of a kernel map holding n
// flows, CPU merge, flow table, IPFIX encoding and UDP send to a local
// socket. It also reports the table's heap bytes per active flow.
func BenchmarkDrainTableEncodeSend(b *testing.B) {
	privtest.Require(b)
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("flows=%d", n), func(b *testing.B) { benchPipeline(b, n) })
	}
}

func benchPipeline(b *testing.B, n int) {
	objs, err := bpf.Load(bpf.LoadOptions{MaxFlows: uint32(n)})
	if err != nil {
		b.Fatal(err)
	}
	defer objs.Close()
	drainer, err := bpf.NewDrainer(objs)
	if err != nil {
		b.Fatal(err)
	}
	sink, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	go discard(sink)
	exp, err := ipfix.New(ipfix.Config{Network: "udp", Address: sink.LocalAddr().String()}, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	defer exp.Close()
	keys, vals := syntheticFlows(b, n)
	toWall := func(ns uint64) time.Time { return time.Unix(0, int64(ns)) }

	var entries []flow.Entry
	var records []flow.Record
	var bytesPerFlow float64
	live, retired := objs.FlowsA, objs.FlowsB // mirrors the drainer's swap
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		if _, err := live.BatchUpdate(keys, vals, nil); err != nil {
			b.Fatal(err)
		}
		live, retired = retired, live // the drain below retires the map just filled
		table := flow.NewTable(flow.TableConfig{})
		var before runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()

		entries, err = drainer.Drain(entries[:0], toWall)
		if err != nil || len(entries) != n {
			b.Fatalf("drained %d of %d: %v", len(entries), n, err)
		}
		table.Update(entries)

		b.StopTimer()
		var after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&after)
		bytesPerFlow = float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
		runtime.KeepAlive(table)
		b.StartTimer()

		records = table.Flush(records[:0])
		if err := exp.Export(records); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(bytesPerFlow, "heap-B/flow")
	if s := exp.Stats(); s.RecordsLost != 0 {
		b.Fatalf("%d records lost", s.RecordsLost)
	}
}

func syntheticFlows(b *testing.B, n int) ([]bpf.FlowFlowKey, []bpf.FlowFlowVal) {
	cpus, err := ebpf.PossibleCPU()
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]bpf.FlowFlowKey, n)
	vals := make([]bpf.FlowFlowVal, n*cpus)
	for i := range keys {
		k := &keys[i]
		k.Saddr[10], k.Saddr[11], k.Saddr[12], k.Saddr[15] = 0xff, 0xff, 10, byte(i)
		k.Daddr[10], k.Daddr[11], k.Daddr[12], k.Daddr[14], k.Daddr[15] = 0xff, 0xff, 10, byte(i>>16), byte(i>>8)
		k.Sport, k.Dport, k.Proto, k.IpVersion, k.Ifindex = uint16(i), 443, 6, 4, 3
		v := &vals[i*cpus]
		v.Packets, v.Octets, v.FirstNs, v.LastNs, v.TcpFlags = 10, 5000, 1e9, 2e9, 0x18
	}
	return keys, vals
}

func discard(c net.PacketConn) {
	buf := make([]byte, 65536)
	for {
		if _, _, err := c.ReadFrom(buf); err != nil {
			return
		}
	}
}
