package collector

import (
	"bytes"
	"math"
	"net"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/podflow/podflow/flow"
)

// IANA element ids used only by tests.
const (
	ieIPClassOfService       uint16 = 5
	ieSourceMacAddress       uint16 = 56
	ieInterfaceName          uint16 = 82
	ieFlowStartSeconds       uint16 = 150
	ieFlowStartMicroseconds  uint16 = 154
	ieFlowStartNanoseconds   uint16 = 156
	ieDataRecordsReliability uint16 = 276
	ieSamplingProbability    uint16 = 311
	ieMibObjectValueInteger  uint16 = 434
)

func checkReceived(t *testing.T, got, want Received) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("\n got %+v\nwant %+v", got, want)
	}
}

func checkStats(t *testing.T, c *Collector, want Stats) {
	t.Helper()
	if got := c.Stats(); got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
}

// header is what every hand-built message from conn on domain 1 carries.
func header(conn net.Conn, seq uint32, templateID uint16) Received {
	return Received{
		ObservationDomainID: 1, SequenceNumber: seq, TemplateID: templateID,
		ExportTime: time.Unix(exportTime, 0).UTC(), Exporter: conn.LocalAddr().String(),
	}
}

// TestReducedSizeEncoding sends integers shorter than their registry type
// (RFC 7011 §6.2), a 1-byte tcpControlBits among them, with the template and
// the data in one message: the input that makes go-ipfix's collector panic.
func TestReducedSizeEncoding(t *testing.T) {
	c := startCollector(t, "udp://127.0.0.1:0")
	conn := dial(t, "udp", c)
	tmpl := tmplRecord(300,
		spec{id: ieSourceIPv4Address, length: 4}, spec{id: ieDestinationIPv4Address, length: 4},
		spec{id: ieSourceTransportPort, length: 2}, spec{id: ieDestinationTransportPort, length: 2},
		spec{id: ieProtocolIdentifier, length: 1},
		spec{id: ieOctetDeltaCount, length: 4}, spec{id: iePacketDeltaCount, length: 2},
		spec{id: ieTCPControlBits, length: 1}, spec{id: ieIngressInterface, length: 2},
		spec{id: ieFlowStartMilliseconds, length: 8}, spec{id: ieFlowEndMilliseconds, length: 8},
		spec{id: ieFlowEndReason, length: 1},
	)
	data := cat([]byte{10, 0, 0, 1}, []byte{10, 0, 0, 2}, be(34567, 2), be(80, 2), be(6, 1),
		be(70000, 4), be(300, 2), be(0x12, 1), be(5, 2),
		be(uint64(flowStart.UnixMilli()), 8), be(uint64(flowEnd.UnixMilli()), 8), be(3, 1))
	send(t, conn, message(1, 0, set(templateSetID, tmpl), set(300, data)))

	want := header(conn, 0, 300)
	want.Record = flow.Record{
		Key: flow.Key{Tuple: flow.Tuple{
			SrcAddr: netip.MustParseAddr("10.0.0.1"), DstAddr: netip.MustParseAddr("10.0.0.2"),
			SrcPort: 34567, DstPort: 80, Proto: flow.ProtoTCP,
		}, IfIndex: 5, Direction: flow.Ingress},
		Counters:  flow.Counters{Packets: 300, Octets: 70000, First: flowStart, Last: flowEnd, TCPFlags: 0x12},
		EndReason: flow.EndOfFlow,
	}
	checkReceived(t, receive(t, c), want)
	checkStats(t, c, Stats{MessagesReceived: 1, RecordsReceived: 1, TemplatesReceived: 1})
}

// TestSeveralSetsPerMessage sends two templates, an options template, their
// data sets (with zero padding) and an IPv4-mapped IPv6 address in one message.
func TestSeveralSetsPerMessage(t *testing.T) {
	c := startCollector(t, "udp://[::1]:0")
	conn := dial(t, "udp", c)
	v6 := tmplRecord(256, spec{id: ieSourceIPv6Address, length: 16}, spec{id: ieDestinationIPv6Address, length: 16},
		spec{id: ieProtocolIdentifier, length: 1}, spec{id: iePacketDeltaCount, length: 8})
	small := tmplRecord(257, spec{id: ieOctetDeltaCount, length: 8}, spec{id: ieEgressInterface, length: 4})
	opts := optionsTmplRecord(258, 1, spec{id: 149, length: 4}, spec{id: 42, length: 8}) // observationDomainId, exportedFlowRecordTotalCount
	mapped := netip.MustParseAddr("::ffff:192.0.2.1").As16()
	v6Data := cat(mapped[:], netip.MustParseAddr("2001:db8::2").AsSlice(), be(17, 1), be(9, 8))
	msg := message(1, 40,
		set(templateSetID, v6, small),
		set(optionsTemplateSetID, opts, []byte{0, 0}), // padding after the options template
		set(256, v6Data, v6Data, []byte{0, 0, 0}),     // two records, padding shorter than a record
		set(257, be(100, 8), be(6, 4)),
		set(258, be(1, 4), be(12345, 8)),
	)
	send(t, conn, msg)

	v6Want := header(conn, 40, 256)
	v6Want.Record = flow.Record{Key: flow.Key{Tuple: flow.Tuple{
		SrcAddr: netip.MustParseAddr("192.0.2.1"), DstAddr: netip.MustParseAddr("2001:db8::2"), Proto: flow.ProtoUDP,
	}}, Counters: flow.Counters{Packets: 9}}
	smallWant := header(conn, 40, 257)
	smallWant.Record = flow.Record{Key: flow.Key{IfIndex: 6, Direction: flow.Egress}, Counters: flow.Counters{Octets: 100}}
	optsWant := header(conn, 40, 258)
	optsWant.Options = true
	optsWant.Scope = []string{"observationDomainId"}
	optsWant.Extra = map[string]any{"observationDomainId": uint64(1), "exportedFlowRecordTotalCount": uint64(12345)}

	for i, want := range []Received{v6Want, v6Want, smallWant, optsWant} {
		got := receive(t, c)
		if i == 0 && got.Exporter != want.Exporter {
			t.Fatalf("Exporter %q, want %q", got.Exporter, want.Exporter)
		}
		checkReceived(t, got, want)
	}
	checkStats(t, c, Stats{MessagesReceived: 1, RecordsReceived: 4, TemplatesReceived: 3})
}

// TestExtraValues checks the Go value of each IPFIX type in Extra, with
// variable-length, unknown, reverse and enterprise elements.
func TestExtraValues(t *testing.T) {
	c := startCollector(t, "udp://127.0.0.1:0")
	conn := dial(t, "udp", c)
	tmpl := tmplRecord(256,
		spec{id: ieInterfaceName, length: variableLength},
		spec{id: ieInterfaceName, length: variableLength}, // repeated: "interfaceName#2"
		spec{id: ieSourceMacAddress, length: 6},
		spec{id: ieFlowStartSeconds, length: 4},
		spec{id: ieFlowStartMicroseconds, length: 8},
		spec{id: ieFlowStartNanoseconds, length: 8},
		spec{id: ieDataRecordsReliability, length: 1},
		spec{id: ieSamplingProbability, length: 4}, // float64 sent as float32
		spec{id: ieMibObjectValueInteger, length: 2},
		spec{id: ieIPClassOfService, length: 1},
		spec{id: 999, length: 3},                                   // not in the registry
		spec{id: 100, length: variableLength, pen: 35632},          // ntop, unknown to go-ipfix
		spec{id: ieOctetDeltaCount, length: 8, pen: 29305},         // reverseOctetDeltaCount (RFC 5103)
		spec{id: iePaddingOctets, length: 2},                       // dropped
		spec{id: ieSourceIPv4Address, length: 5},                   // impossible length: kept raw
		spec{id: ieSourceTransportPort, length: 2, pen: 4_000_000}, // enterprise id equal to an IANA one
	)
	ntpSec := uint64(exportTime + ntpToUnix)
	long := bytes.Repeat([]byte("x"), 300)
	data := cat(varField([]byte("veth0")), varField(long), []byte{2, 0, 0, 0, 0, 1},
		be(exportTime, 4), be(ntpSec<<32|0x80000000|0x7ff, 8), be(ntpSec<<32|0x40000000, 8),
		[]byte{2}, be(uint64(math.Float32bits(0.25)), 4), be(0xfffe, 2), be(0x10, 1),
		[]byte{7, 8, 9}, varField([]byte{0xca, 0xfe}), be(1<<40, 8), []byte{0xff, 0xff},
		[]byte{1, 2, 3, 4, 5}, be(443, 2))
	send(t, conn, message(1, 0, set(templateSetID, tmpl), set(256, data)))

	want := header(conn, 0, 256)
	export := time.Unix(exportTime, 0).UTC()
	want.Extra = map[string]any{
		"interfaceName":          "veth0",
		"interfaceName#2":        string(long),
		"sourceMacAddress":       net.HardwareAddr{2, 0, 0, 0, 0, 1},
		"flowStartSeconds":       export,
		"flowStartMicroseconds":  export.Add(500 * time.Millisecond),
		"flowStartNanoseconds":   export.Add(250 * time.Millisecond),
		"dataRecordsReliability": false,
		"samplingProbability":    0.25,
		"mibObjectValueInteger":  int64(-2),
		"ipClassOfService":       uint64(0x10),
		"en0:id999":              []byte{7, 8, 9},
		"en35632:id100":          []byte{0xca, 0xfe},
		"reverseOctetDeltaCount": uint64(1 << 40),
		"sourceIPv4Address":      []byte{1, 2, 3, 4, 5},
		"en4000000:id7":          []byte{1, 187},
	}
	checkReceived(t, receive(t, c), want)
	// The field of impossible length is the one decode error.
	checkStats(t, c, Stats{MessagesReceived: 1, RecordsReceived: 1, TemplatesReceived: 1, DecodeErrors: 1})
}

// TestTemplatesBelongToTheirSession: a template sent from one UDP source
// does not decode data from another (RFC 7011 §8.4: templates are scoped to
// the transport session), and the data set is counted as without template.
func TestTemplatesBelongToTheirSession(t *testing.T) {
	c := startCollector(t, "udp://127.0.0.1:0")
	first, second := dial(t, "udp", c), dial(t, "udp", c)
	send(t, first, message(1, 0, set(templateSetID, tmplRecord(256, spec{id: iePacketDeltaCount, length: 8}))))
	send(t, second, message(1, 0, set(256, be(1, 8))))
	send(t, first, message(1, 0, set(256, be(2, 8))))
	if got := receive(t, c); got.Packets != 2 || got.Exporter != first.LocalAddr().String() {
		t.Errorf("got %+v, want the record of the first socket", got)
	}
	checkStats(t, c, Stats{MessagesReceived: 3, RecordsReceived: 1, TemplatesReceived: 1, DataSetsWithoutTemplate: 1})
}
