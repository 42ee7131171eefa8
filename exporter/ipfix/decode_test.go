package ipfix

import (
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/vmware/go-ipfix/pkg/entities"

	"github.com/podflow/podflow/flow"
)

func TestEveryFieldDecodesToTheValueSent(t *testing.T) {
	col := startCollector(t, "udp", "127.0.0.1:0")
	clock := newFakeClock()
	e, err := New(Config{NoOptions: true, Network: "udp", Address: col.address(), ObservationDomainID: 42, Now: clock.Now}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()

	first := time.UnixMilli(1_700_000_000_123)
	last := time.UnixMilli(1_700_000_009_456)
	mk := func(src, dst string, sport, dport uint16, proto uint8, ifindex uint32, dir flow.Direction,
		packets, octets uint64, flags uint16, reason flow.EndReason) flow.Record {
		return flow.Record{
			Key: flow.Key{Tuple: flow.Tuple{SrcAddr: netip.MustParseAddr(src), DstAddr: netip.MustParseAddr(dst),
				SrcPort: sport, DstPort: dport, Proto: proto}, IfIndex: ifindex, Direction: dir},
			Counters:  flow.Counters{Packets: packets, Octets: octets, First: first, Last: last, TCPFlags: flags},
			EndReason: reason,
		}
	}
	records := []flow.Record{
		mk("10.1.2.3", "192.168.7.8", 43210, 443, flow.ProtoTCP, 7, flow.Egress, 12, 3456,
			flow.TCPSyn|flow.TCPAck|flow.TCPFin|flow.TCPNs, flow.EndOfFlow),
		mk("fd00::1", "2001:db8::53", 5353, 53, flow.ProtoUDP, 3, flow.Ingress, 1, 80, 0, flow.ActiveTimeout),
		mk("10.0.0.1", "10.0.0.2", 0, 3<<8|3, flow.ProtoICMP, 9, flow.Ingress, 2, 168, 0, flow.IdleTimeout),
		mk("fd00::a", "fd00::b", 0, 1<<8|4, flow.ProtoICMPv6, 4000000000, flow.Egress, 5, 520, 0, flow.ForcedEnd),
	}
	if err := e.Export(records); err != nil {
		t.Fatal(err)
	}

	want := map[string]map[string]any{
		"10.1.2.3": {
			"sourceIPv4Address": "10.1.2.3", "destinationIPv4Address": "192.168.7.8",
			"sourceTransportPort": uint16(43210), "destinationTransportPort": uint16(443),
			"protocolIdentifier": uint8(6), "octetDeltaCount": uint64(3456), "packetDeltaCount": uint64(12),
			"tcpControlBits": uint16(0x113), "flowStartMilliseconds": uint64(1_700_000_000_123),
			"flowEndMilliseconds": uint64(1_700_000_009_456), "flowEndReason": uint8(3),
			"ingressInterface": uint32(0), "egressInterface": uint32(7), "flowDirection": uint8(1),
			"icmpTypeCodeIPv4": uint16(0),
		},
		"fd00::1": {
			"sourceIPv6Address": "fd00::1", "destinationIPv6Address": "2001:db8::53",
			"sourceTransportPort": uint16(5353), "destinationTransportPort": uint16(53),
			"protocolIdentifier": uint8(17), "octetDeltaCount": uint64(80), "packetDeltaCount": uint64(1),
			"tcpControlBits": uint16(0), "flowStartMilliseconds": uint64(1_700_000_000_123),
			"flowEndMilliseconds": uint64(1_700_000_009_456), "flowEndReason": uint8(2),
			"ingressInterface": uint32(3), "egressInterface": uint32(0), "flowDirection": uint8(0),
			"icmpTypeCodeIPv6": uint16(0),
		},
		"10.0.0.1": {
			"sourceIPv4Address": "10.0.0.1", "destinationIPv4Address": "10.0.0.2",
			"sourceTransportPort": uint16(0), "destinationTransportPort": uint16(0),
			"protocolIdentifier": uint8(1), "octetDeltaCount": uint64(168), "packetDeltaCount": uint64(2),
			"tcpControlBits": uint16(0), "flowStartMilliseconds": uint64(1_700_000_000_123),
			"flowEndMilliseconds": uint64(1_700_000_009_456), "flowEndReason": uint8(1),
			"ingressInterface": uint32(9), "egressInterface": uint32(0), "flowDirection": uint8(0),
			"icmpTypeCodeIPv4": uint16(0x0303),
		},
		"fd00::a": {
			"sourceIPv6Address": "fd00::a", "destinationIPv6Address": "fd00::b",
			"sourceTransportPort": uint16(0), "destinationTransportPort": uint16(0),
			"protocolIdentifier": uint8(58), "octetDeltaCount": uint64(520), "packetDeltaCount": uint64(5),
			"tcpControlBits": uint16(0), "flowStartMilliseconds": uint64(1_700_000_000_123),
			"flowEndMilliseconds": uint64(1_700_000_009_456), "flowEndReason": uint8(4),
			"ingressInterface": uint32(0), "egressInterface": uint32(4000000000), "flowDirection": uint8(1),
			"icmpTypeCodeIPv6": uint16(0x0104),
		},
	}

	msgs := col.waitDataRecords(t, len(records))
	got := map[string]map[string]any{}
	for _, m := range msgs {
		if m.GetObsDomainID() != 42 || m.GetExportTime() != 1_700_000_000 || m.GetVersion() != 10 {
			t.Errorf("header: domain %d export time %d version %d", m.GetObsDomainID(), m.GetExportTime(), m.GetVersion())
		}
		if m.GetSet().GetSetType() != entities.Data {
			continue
		}
		for _, r := range m.GetSet().GetRecords() {
			fields := decodedFields(r)
			src := fields["sourceIPv4Address"]
			if src == nil {
				src = fields["sourceIPv6Address"]
			}
			got[fmt.Sprint(src)] = fields
		}
	}
	if !reflect.DeepEqual(got, want) {
		for k := range want {
			if !reflect.DeepEqual(got[k], want[k]) {
				t.Errorf("record %s\n got %#v\nwant %#v", k, got[k], want[k])
			}
		}
		t.Fatalf("decoded %d records, want %d", len(got), len(want))
	}
	if s := e.Stats(); s.RecordsSent != 4 || s.RecordsLost != 0 || s.TemplatesSent != 2 || s.MessagesSent != 4 {
		t.Errorf("stats %+v", s)
	}
}

// decodedFields maps element names to values, addresses as strings.
func decodedFields(r entities.Record) map[string]any {
	out := map[string]any{}
	for name, v := range r.GetElementMap() {
		if ip, ok := v.(net.IP); ok {
			v = ip.String()
		}
		out[name] = v
	}
	return out
}

func TestInvalidAddressesAreCountedLost(t *testing.T) {
	col := startCollector(t, "udp", "127.0.0.1:0")
	e, err := New(Config{NoOptions: true, Network: "udp", Address: col.address()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	bad := record("10.0.0.1", "10.0.0.2", 1, 2, flow.ProtoUDP, 1)
	bad.DstAddr = netip.Addr{}
	if err := e.Export([]flow.Record{bad, record("10.0.0.1", "10.0.0.2", 1, 2, flow.ProtoUDP, 2)}); err == nil {
		t.Fatal("want an error for the record without a destination address")
	}
	if s := e.Stats(); s.RecordsLost != 1 || s.RecordsSent != 1 {
		t.Errorf("stats %+v, want 1 lost and 1 sent", s)
	}
	col.waitDataRecords(t, 1)
}
