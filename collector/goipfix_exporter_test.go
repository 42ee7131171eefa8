package collector

import (
	"net"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/vmware/go-ipfix/pkg/entities"
	"github.com/vmware/go-ipfix/pkg/exporter"
	"github.com/vmware/go-ipfix/pkg/registry"

	"github.com/podflow/podflow/flow"
)

const testDomain = 7

var (
	flowStart = time.UnixMilli(1795316645123).UTC() // 2026-11-22T03:04:05.123Z
	flowEnd   = flowStart.Add(1234 * time.Millisecond)
)

// sentFlow is one template and the data records sent with it, and what the
// collector must make of each record.
type sentFlow struct {
	name    string
	records [][]entities.InfoElementWithValue
	want    []Received // header fields (sequence, export time, exporter) are checked apart
}

func ianaIE(t *testing.T, name string) *entities.InfoElement {
	t.Helper()
	ie, err := registry.GetInfoElement(name, registry.IANAEnterpriseID)
	if err != nil {
		t.Fatal(err)
	}
	return ie
}

func testFlows(t *testing.T) []sentFlow {
	ie := func(name string) *entities.InfoElement { return ianaIE(t, name) }
	ip := func(s string) net.IP { return net.ParseIP(s) }
	start, end := uint64(flowStart.UnixMilli()), uint64(flowEnd.UnixMilli())
	podName, err := registry.GetInfoElement("sourcePodName", registry.AntreaEnterpriseID)
	if err != nil {
		t.Fatal(err)
	}
	unknownEnterprise := entities.NewInfoElement("", 1, entities.OctetArray, 99999, 4)

	tcp := func(octets uint64) []entities.InfoElementWithValue {
		return []entities.InfoElementWithValue{
			entities.NewIPAddressInfoElement(ie("sourceIPv4Address"), ip("10.0.0.1")),
			entities.NewIPAddressInfoElement(ie("destinationIPv4Address"), ip("10.0.0.2")),
			entities.NewUnsigned16InfoElement(ie("sourceTransportPort"), 34567),
			entities.NewUnsigned16InfoElement(ie("destinationTransportPort"), 80),
			entities.NewUnsigned8InfoElement(ie("protocolIdentifier"), 6),
			entities.NewUnsigned64InfoElement(ie("octetDeltaCount"), octets),
			entities.NewUnsigned64InfoElement(ie("packetDeltaCount"), 10),
			entities.NewUnsigned16InfoElement(ie("tcpControlBits"), 0x113),
			entities.NewDateTimeMillisecondsInfoElement(ie("flowStartMilliseconds"), start),
			entities.NewDateTimeMillisecondsInfoElement(ie("flowEndMilliseconds"), end),
			entities.NewUnsigned8InfoElement(ie("flowEndReason"), 1),
			entities.NewUnsigned32InfoElement(ie("ingressInterface"), 5),
			entities.NewUnsigned32InfoElement(ie("egressInterface"), 9),
			entities.NewUnsigned8InfoElement(ie("flowDirection"), 0),
			entities.NewUnsigned8InfoElement(ie("ipClassOfService"), 0x10),
			entities.NewStringInfoElement(podName, "web-0"),
			entities.NewOctetArrayInfoElement(unknownEnterprise, []byte{1, 2, 3, 4}),
		}
	}
	tcpWant := func(octets uint64) Received {
		return Received{
			Record: flow.Record{
				Key: flow.Key{Tuple: flow.Tuple{
					SrcAddr: netip.MustParseAddr("10.0.0.1"), DstAddr: netip.MustParseAddr("10.0.0.2"),
					SrcPort: 34567, DstPort: 80, Proto: flow.ProtoTCP,
				}, IfIndex: 5, Direction: flow.Ingress},
				Counters: flow.Counters{Packets: 10, Octets: octets, First: flowStart, Last: flowEnd, TCPFlags: 0x113},
				// Antrea's sourcePodName is one podflow exports too: mapped.
				Context:   flow.Context{Kube: flow.Kube{Src: flow.KubeEndpoint{Pod: "web-0"}}},
				EndReason: flow.IdleTimeout,
			},
			Extra: map[string]any{
				"egressInterface": uint64(9), "ipClassOfService": uint64(0x10),
				"en99999:id1": []byte{1, 2, 3, 4},
			},
		}
	}
	return []sentFlow{
		{
			name:    "IPv4 TCP, two records in one set",
			records: [][]entities.InfoElementWithValue{tcp(840), tcp(1500)},
			want:    []Received{tcpWant(840), tcpWant(1500)},
		},
		{
			name: "IPv6 UDP egress",
			records: [][]entities.InfoElementWithValue{{
				entities.NewIPAddressInfoElement(ie("sourceIPv6Address"), ip("2001:db8::1")),
				entities.NewIPAddressInfoElement(ie("destinationIPv6Address"), ip("2001:db8::2")),
				entities.NewUnsigned16InfoElement(ie("sourceTransportPort"), 5353),
				entities.NewUnsigned16InfoElement(ie("destinationTransportPort"), 53),
				entities.NewUnsigned8InfoElement(ie("protocolIdentifier"), 17),
				entities.NewUnsigned64InfoElement(ie("octetDeltaCount"), 1000),
				entities.NewUnsigned64InfoElement(ie("packetDeltaCount"), 5),
				entities.NewDateTimeMillisecondsInfoElement(ie("flowStartMilliseconds"), start),
				entities.NewDateTimeMillisecondsInfoElement(ie("flowEndMilliseconds"), end),
				entities.NewUnsigned8InfoElement(ie("flowEndReason"), 2),
				entities.NewUnsigned32InfoElement(ie("egressInterface"), 7),
				entities.NewUnsigned8InfoElement(ie("flowDirection"), 1),
			}},
			want: []Received{{Record: flow.Record{
				Key: flow.Key{Tuple: flow.Tuple{
					SrcAddr: netip.MustParseAddr("2001:db8::1"), DstAddr: netip.MustParseAddr("2001:db8::2"),
					SrcPort: 5353, DstPort: 53, Proto: flow.ProtoUDP,
				}, IfIndex: 7, Direction: flow.Egress},
				Counters:  flow.Counters{Packets: 5, Octets: 1000, First: flowStart, Last: flowEnd},
				EndReason: flow.ActiveTimeout,
			}}},
		},
		{
			name: "ICMP echo request, direction from the interface",
			records: [][]entities.InfoElementWithValue{{
				entities.NewIPAddressInfoElement(ie("sourceIPv4Address"), ip("10.0.0.1")),
				entities.NewIPAddressInfoElement(ie("destinationIPv4Address"), ip("10.0.0.3")),
				entities.NewUnsigned8InfoElement(ie("protocolIdentifier"), 1),
				entities.NewUnsigned16InfoElement(ie("icmpTypeCodeIPv4"), 8<<8),
				entities.NewUnsigned64InfoElement(ie("octetDeltaCount"), 84),
				entities.NewUnsigned64InfoElement(ie("packetDeltaCount"), 1),
				entities.NewDateTimeMillisecondsInfoElement(ie("flowStartMilliseconds"), start),
				entities.NewDateTimeMillisecondsInfoElement(ie("flowEndMilliseconds"), start),
				entities.NewUnsigned8InfoElement(ie("flowEndReason"), 3),
				entities.NewUnsigned32InfoElement(ie("ingressInterface"), 3),
			}},
			want: []Received{{Record: flow.Record{
				Key: flow.Key{Tuple: flow.Tuple{
					SrcAddr: netip.MustParseAddr("10.0.0.1"), DstAddr: netip.MustParseAddr("10.0.0.3"),
					DstPort: 8 << 8, Proto: flow.ProtoICMP,
				}, IfIndex: 3, Direction: flow.Ingress},
				Counters:  flow.Counters{Packets: 1, Octets: 84, First: flowStart, Last: flowStart},
				EndReason: flow.EndOfFlow,
			}}},
		},
		{
			name: "ICMPv6 destination unreachable, egress from the non-zero interface (the zero one is dropped)",
			records: [][]entities.InfoElementWithValue{{
				entities.NewIPAddressInfoElement(ie("sourceIPv6Address"), ip("fd00::1")),
				entities.NewIPAddressInfoElement(ie("destinationIPv6Address"), ip("fd00::2")),
				entities.NewUnsigned8InfoElement(ie("protocolIdentifier"), 58),
				entities.NewUnsigned16InfoElement(ie("icmpTypeCodeIPv6"), 1<<8|4),
				entities.NewUnsigned64InfoElement(ie("octetDeltaCount"), 1280),
				entities.NewUnsigned64InfoElement(ie("packetDeltaCount"), 2),
				entities.NewDateTimeMillisecondsInfoElement(ie("flowStartMilliseconds"), start),
				entities.NewDateTimeMillisecondsInfoElement(ie("flowEndMilliseconds"), end),
				entities.NewUnsigned8InfoElement(ie("flowEndReason"), 4),
				entities.NewUnsigned32InfoElement(ie("ingressInterface"), 0),
				entities.NewUnsigned32InfoElement(ie("egressInterface"), 4),
			}},
			want: []Received{{
				Record: flow.Record{
					Key: flow.Key{Tuple: flow.Tuple{
						SrcAddr: netip.MustParseAddr("fd00::1"), DstAddr: netip.MustParseAddr("fd00::2"),
						DstPort: 1<<8 | 4, Proto: flow.ProtoICMPv6,
					}, IfIndex: 4, Direction: flow.Egress},
					Counters:  flow.Counters{Packets: 2, Octets: 1280, First: flowStart, Last: flowEnd},
					EndReason: flow.ForcedEnd,
				},
			}},
		},
	}
}

// TestGoIPFIXExporterRoundTrip sends flows with go-ipfix's own exporter and
// checks every decoded field.
func TestGoIPFIXExporterRoundTrip(t *testing.T) {
	for _, proto := range []string{"udp", "tcp"} {
		t.Run(proto, func(t *testing.T) {
			c := startCollector(t, proto+"://127.0.0.1:0")
			ep, err := exporter.InitExportingProcess(exporter.ExporterInput{
				CollectorAddress:    c.Addr().String(),
				CollectorProtocol:   proto,
				ObservationDomainID: testDomain,
				TempRefTimeout:      3600, // its refresh goroutine races with sends: keep it asleep
				PathMTU:             1500,
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(ep.CloseConnToCollector)

			before := time.Now()
			var seq uint32
			var wantAll []Received
			for _, f := range testFlows(t) {
				id := ep.NewTemplateID()
				tmpl := entities.NewTemplateRecordFromElements(id, f.records[0])
				if err := tmpl.PrepareRecord(); err != nil {
					t.Fatal(err)
				}
				tset := entities.NewSet(false)
				if err := tset.PrepareSet(entities.Template, entities.TemplateSetID); err != nil {
					t.Fatal(err)
				}
				if err := tset.AddRecordV3(tmpl); err != nil {
					t.Fatal(err)
				}
				if _, err := ep.SendSet(tset); err != nil {
					t.Fatalf("%s: sending template: %v", f.name, err)
				}
				var recs []entities.Record
				for _, elems := range f.records {
					recs = append(recs, entities.NewDataRecordFromElements(id, elems))
				}
				if n, _, err := ep.SendDataRecords(id, recs, nil); err != nil || n != len(recs) {
					t.Fatalf("%s: sent %d of %d records: %v", f.name, n, len(recs), err)
				}
				for _, w := range f.want {
					w.ObservationDomainID, w.SequenceNumber, w.TemplateID = testDomain, seq, id
					wantAll = append(wantAll, w)
				}
				seq += uint32(len(recs))
			}

			var exporterAddr string
			for i, want := range wantAll {
				got := receive(t, c)
				checkHeader(t, got, before)
				if i == 0 {
					exporterAddr = got.Exporter
				} else if got.Exporter != exporterAddr {
					t.Errorf("record %d: Exporter %q, earlier records %q", i, got.Exporter, exporterAddr)
				}
				got.ExportTime, got.Exporter = time.Time{}, ""
				if !reflect.DeepEqual(got, want) {
					t.Errorf("record %d:\n got %#v\nwant %#v", i, got, want)
				}
			}
			wantStats := Stats{MessagesReceived: 8, RecordsReceived: 5, TemplatesReceived: 4}
			if st := c.Stats(); st != wantStats {
				t.Errorf("Stats = %+v, want %+v", st, wantStats)
			}
		})
	}
}

// checkHeader checks what go-ipfix's exporter decides itself: the export
// time (its clock, whole seconds) and its own address.
func checkHeader(t *testing.T, got Received, before time.Time) {
	t.Helper()
	if got.ExportTime.Before(before.Truncate(time.Second)) || got.ExportTime.After(time.Now()) || got.ExportTime.Location() != time.UTC {
		t.Errorf("ExportTime %v not a UTC time since %v", got.ExportTime, before)
	}
	ap, err := netip.ParseAddrPort(got.Exporter)
	if err != nil || ap.Addr() != netip.MustParseAddr("127.0.0.1") || ap.Port() == 0 {
		t.Errorf("Exporter %q, want 127.0.0.1:<port>", got.Exporter)
	}
}
