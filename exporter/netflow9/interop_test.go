package netflow9

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/decoders"
	"github.com/podflow/podflow/internal/netflowtest"
)

// The interop tests send interopTruths, one Export call (so one packet)
// each, templates every 4 packets (T---T--), and check that independent
// decoders read every record back exactly, with no sequence error.

const interopSourceID = 42

var interop = netflowtest.Interop{Truths: interopTruths, Export: exportTruths(0)}

// exportTruths returns the Export of the interop tests, the records
// sampled 1 in interval (0: unsampled).
func exportTruths(interval uint32) func(testing.TB, string) {
	return func(t testing.TB, address string) {
		t.Helper()
		e, err := New(Config{Address: address, SourceID: interopSourceID, Boot: netflowtest.Boot, SamplingInterval: interval,
			Now: func() time.Time { return netflowtest.InteropNow }, TemplateRefreshPackets: 4}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		for _, w := range interopTruths {
			if err := e.Export(netflowtest.Records([]netflowtest.Truth{w})); err != nil {
				t.Fatal(err)
			}
		}
		// Two template rounds: both templates, and the options template
		// when sampled.
		templates := uint64(4)
		if interval > 1 {
			templates = 6
		}
		if s := e.Stats(); s.RecordsSent != uint64(len(interopTruths)) || s.TemplatesSent != templates || s.RecordsLost != 0 {
			t.Fatalf("stats %+v", s)
		}
	}
}

func TestNfdumpDecodesEveryRecord(t *testing.T) {
	t.Parallel()
	interop.NfdumpDecodes(t, func(w netflowtest.Truth) map[string]string {
		m := netflowtest.NfdumpWant(w)
		m["direction"] = fmt.Sprint(uint8(w.Dir))
		return m
	})
}

// The sequence check above has teeth: nfdump counts a missing packet.
func TestNfdumpCountsAMissingPacket(t *testing.T) {
	t.Parallel()
	interop.NfdumpCountsAMissingPacket(t, len(interopTruths), 2)
}

func TestTsharkDecodesEveryRecord(t *testing.T) {
	t.Parallel()
	header := func(i int, p decoders.NetFlowPacket) map[string]string {
		return map[string]string{"cflow.version": "9", "cflow.sequence": fmt.Sprint(i),
			"cflow.source_id": fmt.Sprint(interopSourceID), "cflow.count": fmt.Sprint(len(p.Flows) + 2*btoi(i%4 == 0)),
			// InteropNow is Boot+100.7s: the header names Boot+101s.
			"cflow.unix_secs": "1700000101", "cflow.sysuptime": "101.000000000"}
	}
	datagrams := interop.TsharkDecodes(t, len(interopTruths), header, tsharkWant)

	// A missing packet shows: the sequence check has teeth.
	gap := decoders.DecodeNetFlow(t, append(datagrams[:1:1], datagrams[2:]...))
	if errs := gap[1].SeqErrors; len(errs) != 1 || !strings.Contains(errs[0], "expected 1, got 2") {
		t.Errorf("tshark on a missing packet: %v", errs)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// tsharkWant is what tshark prints of a record v9 carries.
func tsharkWant(w netflowtest.Truth) map[string]string {
	m := netflowtest.TsharkWant(w)
	m["cflow.direction"], m["cflow.flow_end_reason"] = fmt.Sprint(uint8(w.Dir)), fmt.Sprint(uint8(w.Reason))
	m["cflow.icmp_type_code_ipv4"] = "0x0000"
	if w.Proto == flow.ProtoICMP || w.Proto == flow.ProtoICMPv6 {
		m["cflow.icmp_type_code_ipv4"] = fmt.Sprintf("0x%04x", w.DstPort)
	}
	return m
}

func TestNfacctdDecodesEveryRecord(t *testing.T) {
	t.Parallel()
	interop.NfacctdDecodes(t, func(w netflowtest.Truth) map[string]string {
		m := netflowtest.NfacctdWant(w)
		m["port_src"], m["port_dst"] = fmt.Sprint(w.SrcPort), fmt.Sprint(w.DstPort)
		m["export_proto_version"], m["export_proto_sysid"] = "9", fmt.Sprint(interopSourceID)
		seq := slices.IndexFunc(interopTruths, func(o netflowtest.Truth) bool { return o.Src == w.Src })
		m["export_proto_seqno"] = fmt.Sprint(seq)
		return m
	})
}
