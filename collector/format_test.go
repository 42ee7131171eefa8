package collector

import (
	"bytes"
	"encoding/json"
	"net"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/podflow/podflow/flow"
)

func header7(seq uint32, templateID uint16) Received {
	return Received{
		ObservationDomainID: 7, SequenceNumber: seq, TemplateID: templateID,
		ExportTime: time.Unix(exportTime+2, 0).UTC(), Exporter: "127.0.0.1:50000",
	}
}

func tcpRecord() Received {
	r := header7(3, 256)
	r.Record = flow.Record{
		Key: flow.Key{Tuple: flow.Tuple{
			SrcAddr: netip.MustParseAddr("10.0.0.1"), DstAddr: netip.MustParseAddr("10.0.0.2"),
			SrcPort: 34567, DstPort: 80, Proto: flow.ProtoTCP,
		}, IfIndex: 5, Direction: flow.Ingress},
		Counters:  flow.Counters{Packets: 10, Octets: 840, First: flowStart, Last: flowEnd, TCPFlags: flow.TCPSyn | flow.TCPAck | flow.TCPFin},
		EndReason: flow.IdleTimeout,
	}
	return r
}

func icmpv6Record() Received {
	r := header7(4, 257)
	r.Record = flow.Record{
		Key: flow.Key{Tuple: flow.Tuple{
			SrcAddr: netip.MustParseAddr("fd00::1"), DstAddr: netip.MustParseAddr("fd00::2"),
			DstPort: 1<<8 | 4, Proto: flow.ProtoICMPv6,
		}, IfIndex: 4, Direction: flow.Egress},
		Counters:  flow.Counters{Packets: 2, Octets: 1280, First: flowStart, Last: flowEnd},
		EndReason: flow.ForcedEnd,
	}
	r.Extra = map[string]any{
		"flowDirection":    uint64(5), // an exporter's invalid value, kept beside the decoded one
		"sourcePodName":    "web 0",
		"en99999:id1":      []byte{1, 2, 3, 4},
		"sourceMacAddress": net.HardwareAddr{2, 0, 0, 0, 0, 1},
		"flowStartSeconds": time.Unix(exportTime, 0).UTC(),
	}
	return r
}

func optionsRecord() Received {
	r := header7(5, 258)
	r.Options = true
	r.Scope = []string{"observationDomainId"}
	r.Extra = map[string]any{"observationDomainId": uint64(7), "exportedFlowRecordTotalCount": uint64(12345)}
	return r
}

func TestFormatJSONGolden(t *testing.T) {
	want := `{"exporter":"127.0.0.1:50000","observationDomainId":7,"sequenceNumber":3,"exportTime":1795316647,"templateId":256,` +
		`"flowStart":"2026-11-22T03:04:05.123Z","flowStartMilliseconds":1795316645123,` +
		`"flowEnd":"2026-11-22T03:04:06.357Z","flowEndMilliseconds":1795316646357,` +
		`"protocolIdentifier":6,"sourceIPv4Address":"10.0.0.1","destinationIPv4Address":"10.0.0.2",` +
		`"sourceTransportPort":34567,"destinationTransportPort":80,"octetDeltaCount":840,"packetDeltaCount":10,` +
		`"tcpControlBits":19,"ingressInterface":5,"flowDirection":0,"flowEndReason":1}`
	if got := string(FormatJSON(tcpRecord())); got != want {
		t.Errorf("FormatJSON:\n got %s\nwant %s", got, want)
	}
}

func TestFormatJSONKeys(t *testing.T) {
	tests := []struct {
		name string
		r    Received
		want map[string]any
	}{{
		name: "ICMPv6 with extras",
		r:    icmpv6Record(),
		want: map[string]any{
			"exporter": "127.0.0.1:50000", "observationDomainId": json.Number("7"), "sequenceNumber": json.Number("4"),
			"exportTime": json.Number("1795316647"), "templateId": json.Number("257"),
			"flowStart": "2026-11-22T03:04:05.123Z", "flowStartMilliseconds": json.Number("1795316645123"),
			"flowEnd": "2026-11-22T03:04:06.357Z", "flowEndMilliseconds": json.Number("1795316646357"),
			"protocolIdentifier": json.Number("58"), "sourceIPv6Address": "fd00::1", "destinationIPv6Address": "fd00::2",
			"icmpTypeCodeIPv6": json.Number("260"), "octetDeltaCount": json.Number("1280"), "packetDeltaCount": json.Number("2"),
			"tcpControlBits": json.Number("0"), "egressInterface": json.Number("4"), "flowDirection": json.Number("1"),
			"flowEndReason":       json.Number("4"),
			"flowDirection#extra": json.Number("5"), "sourcePodName": "web 0", "en99999:id1": "0x01020304",
			"sourceMacAddress": "02:00:00:00:00:01", "flowStartSeconds": "2026-11-22T03:04:05Z",
		},
	}, {
		name: "options record",
		r:    optionsRecord(),
		want: map[string]any{
			"exporter": "127.0.0.1:50000", "observationDomainId": json.Number("7"), "sequenceNumber": json.Number("5"),
			"exportTime": json.Number("1795316647"), "templateId": json.Number("258"), "options": true,
			"scope": []any{"observationDomainId"}, "exportedFlowRecordTotalCount": json.Number("12345"),
		},
	}, {
		name: "record without times or addresses",
		r:    Received{Record: flow.Record{Key: flow.Key{Tuple: flow.Tuple{Proto: flow.ProtoUDP}}}},
		want: map[string]any{
			"exporter": "", "observationDomainId": json.Number("0"), "sequenceNumber": json.Number("0"),
			"exportTime": json.Number("-62135596800"), "templateId": json.Number("0"),
			"protocolIdentifier": json.Number("17"), "sourceTransportPort": json.Number("0"), "destinationTransportPort": json.Number("0"),
			"octetDeltaCount": json.Number("0"), "packetDeltaCount": json.Number("0"), "tcpControlBits": json.Number("0"),
			"ingressInterface": json.Number("0"), "flowDirection": json.Number("0"), "flowEndReason": json.Number("0"),
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line := FormatJSON(tt.r)
			if bytes.ContainsAny(line, "\n\r") {
				t.Errorf("not one line: %q", line)
			}
			dec := json.NewDecoder(bytes.NewReader(line))
			dec.UseNumber()
			var got map[string]any
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			if dec.More() {
				t.Errorf("trailing data after the object: %s", line)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("\n got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestFormatText(t *testing.T) {
	tests := []struct {
		r    Received
		want string
	}{
		{tcpRecord(), "2026-11-22T03:04:05.123Z tcp 10.0.0.1:34567 -> 10.0.0.2:80 if=5 ingress pkts=10 bytes=840 flags=SYN,ACK,FIN reason=idle dur=1.234s"},
		{icmpv6Record(), "2026-11-22T03:04:05.123Z icmpv6 fd00::1 -> fd00::2 type=1 code=4 if=4 egress pkts=2 bytes=1280 reason=forced dur=1.234s" +
			` en99999:id1=0x01020304 flowDirection=5 flowStartSeconds=2026-11-22T03:04:05Z sourceMacAddress=02:00:00:00:00:01 sourcePodName="web 0"`},
		{optionsRecord(), "2026-11-22T03:04:07.000Z options exporter=127.0.0.1:50000 domain=7 template=258 scope=observationDomainId exportedFlowRecordTotalCount=12345 observationDomainId=7"},
		{Received{Record: flow.Record{Key: flow.Key{Tuple: flow.Tuple{SrcAddr: netip.MustParseAddr("2001:db8::1"), SrcPort: 1, DstPort: 2, Proto: 47}}, Counters: flow.Counters{TCPFlags: 0x1ff | 0x200}}},
			"0001-01-01T00:00:00.000Z proto47 [2001:db8::1]:1 -> -:2 if=0 ingress pkts=0 bytes=0 flags=SYN,ACK,PSH,URG,ECE,CWR,NS,FIN,RST,0x200"},
	}
	for _, tt := range tests {
		if got := FormatText(tt.r); got != tt.want {
			t.Errorf("FormatText:\n got %s\nwant %s", got, tt.want)
		}
	}
}
