package netflow5

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/decoders"
	"github.com/podflow/podflow/internal/netflowtest"
)

// The interop tests send interopTruths in three Export calls, the second
// with an IPv6 record v5 cannot carry: packets of 2, 1 and 2 records with
// flow_sequence 0, 2 and 3. Independent decoders must read every record
// back exactly, with no sequence error.

const interopEngineType, interopEngineID = 1, 42

var interopSequences = []int{0, 2, 3}

var interop = netflowtest.Interop{Truths: interopTruths, Export: exportTruths}

func exportTruths(t testing.TB, address string) {
	t.Helper()
	e, err := New(Config{Address: address, EngineType: interopEngineType, EngineID: interopEngineID,
		Boot: netflowtest.Boot, Now: func() time.Time { return netflowtest.InteropNow }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	v6 := netflowtest.Truth{Src: "fd00::1", Dst: "fd00::2", Proto: flow.ProtoUDP, Packets: 1, First: time.Second, Last: time.Second}
	calls := [][]netflowtest.Truth{interopTruths[0:2], {interopTruths[2], v6}, interopTruths[3:5]}
	for i, c := range calls {
		if err := e.Export(netflowtest.Records(c)); (err != nil) != (i == 1) || (err != nil && !errors.Is(err, errNotIPv4)) {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if s := e.Stats(); s.RecordsSent != uint64(len(interopTruths)) || s.RecordsLost != 1 || e.Unexportable() != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestNfdumpDecodesEveryRecord(t *testing.T) {
	t.Parallel()
	interop.NfdumpDecodes(t, netflowtest.NfdumpWant)
}

// The sequence check above has teeth: nfdump counts a missing packet.
func TestNfdumpCountsAMissingPacket(t *testing.T) {
	t.Parallel()
	interop.NfdumpCountsAMissingPacket(t, len(interopSequences), 1)
}

// tshark has no sequence analysis for v5 (only for v9 and IPFIX): the
// flow_sequence it reads is checked against the records before it.
func TestTsharkDecodesEveryRecord(t *testing.T) {
	t.Parallel()
	header := func(i int, p decoders.NetFlowPacket) map[string]string {
		return map[string]string{"cflow.version": "5", "cflow.sequence": fmt.Sprint(interopSequences[i]),
			"cflow.count": fmt.Sprint(len(p.Flows)), "cflow.engine_type": fmt.Sprint(interopEngineType),
			"cflow.engine_id": fmt.Sprint(interopEngineID), "cflow.samplerate": "0",
			// InteropNow is Boot+100.7s: the header names Boot+101s.
			"cflow.unix_secs": "1700000101", "cflow.unix_nsecs": "0", "cflow.sysuptime": "101.000000000"}
	}
	interop.TsharkDecodes(t, len(interopSequences), header, tsharkWant)
}

// tsharkWant is what tshark prints of a record v5 carries.
func tsharkWant(w netflowtest.Truth) map[string]string {
	m := netflowtest.TsharkWant(w)
	m["cflow.nexthop"] = "0.0.0.0"
	return m
}

func TestNfacctdDecodesEveryRecord(t *testing.T) {
	t.Parallel()
	interop.NfacctdDecodes(t, func(w netflowtest.Truth) map[string]string {
		i := slices.IndexFunc(interopTruths, func(o netflowtest.Truth) bool { return o.Src == w.Src })
		m := netflowtest.NfacctdWant(w)
		m["port_src"], m["port_dst"] = fmt.Sprint(w.SrcPort), fmt.Sprint(w.DstPort)
		if w.Proto == flow.ProtoSCTP {
			// nfacctd keeps ports of TCP, UDP (and ICMP's type/code) only.
			m["port_src"], m["port_dst"] = "0", "0"
		}
		m["export_proto_version"] = "5"
		m["export_proto_seqno"] = fmt.Sprint(interopSequences[[]int{0, 0, 1, 2, 2}[i]])
		return m
	})
}
