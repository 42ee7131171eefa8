package decoders

import (
	"net/netip"
	"testing"

	"github.com/podflow/podflow/exporter"
)

// The scenario both decoders get: podflow's IPv4 template with every
// measurement group (two records, strings of different lengths so a wrong
// length prefix would garble the second), then its IPv6 template with RTT
// only, then a message whose sequence number skips 7 records.
const (
	domainID   = 42
	templateV4 = 256
	templateV6 = 257
	exportTime = 1700000000 // 2023-11-14T22:13:20Z
)

var (
	// Every measurement group (process and NAT context are checked end to
	// end, against real processes, in test/e2e).
	v4Fields = exporter.TemplateFields(false, exporter.GroupRTT|exporter.GroupRetrans|exporter.GroupHandshake|
		exporter.GroupDrops|exporter.GroupWireRetrans, exporter.DefaultPEN)
	v6Fields = exporter.TemplateFields(true, exporter.GroupRTT, exporter.DefaultPEN)

	// recordA: counters beyond 32 bits, so truncation to 4 bytes would show.
	recordA = map[string]any{
		"sourceIPv4Address": netip.MustParseAddr("10.1.2.3"), "destinationIPv4Address": netip.MustParseAddr("10.4.5.6"),
		"sourceTransportPort": uint64(40001), "destinationTransportPort": uint64(443), "protocolIdentifier": uint64(6),
		"octetDeltaCount": uint64(5_000_000_123), "packetDeltaCount": uint64(4_000_001),
		"tcpControlBits":        uint64(0x1b), // FIN|SYN|PSH|ACK
		"flowStartMilliseconds": uint64(1700000000123), "flowEndMilliseconds": uint64(1700000005456),
		"flowEndReason": uint64(3), "ingressInterface": uint64(7), "egressInterface": uint64(0),
		"flowDirection": uint64(0), "icmpTypeCodeIPv4": uint64(0),
		"tcpRttMinMicroseconds": uint64(1500), "tcpRttMaxMicroseconds": uint64(25000),
		"tcpRttMeanMicroseconds": uint64(8000), "tcpRttSampleCount": uint64(12),
		"RETRANSMITTED_IN_PKTS": uint64(5), "tcpRetransmittedPayloadOctets": uint64(6_000_000_007),
		"tcpHandshakeServerMicroseconds": uint64(350), "tcpHandshakeClientMicroseconds": uint64(420),
		"tcpWireRetransmittedPackets": uint64(6),
		"droppedPacketDeltaCount":     uint64(3), "droppedOctetDeltaCount": uint64(180),
		"kernelDropReason": "NETFILTER_DROP",
	}
	recordB = map[string]any{
		"sourceIPv4Address": netip.MustParseAddr("10.1.2.3"), "destinationIPv4Address": netip.MustParseAddr("10.4.5.7"),
		"sourceTransportPort": uint64(40002), "destinationTransportPort": uint64(8080), "protocolIdentifier": uint64(6),
		"octetDeltaCount": uint64(600), "packetDeltaCount": uint64(10),
		"tcpControlBits":        uint64(0x10), // ACK
		"flowStartMilliseconds": uint64(1700000001000), "flowEndMilliseconds": uint64(1700000002000),
		"flowEndReason": uint64(2), "ingressInterface": uint64(0), "egressInterface": uint64(9),
		"flowDirection": uint64(1), "icmpTypeCodeIPv4": uint64(0),
		"tcpRttMinMicroseconds": uint64(90), "tcpRttMaxMicroseconds": uint64(110),
		"tcpRttMeanMicroseconds": uint64(100), "tcpRttSampleCount": uint64(2),
		"RETRANSMITTED_IN_PKTS": uint64(1), "tcpRetransmittedPayloadOctets": uint64(1448),
		"tcpHandshakeServerMicroseconds": uint64(4294967295), "tcpHandshakeClientMicroseconds": uint64(1),
		"tcpWireRetransmittedPackets": uint64(2),
		"droppedPacketDeltaCount":     uint64(1), "droppedOctetDeltaCount": uint64(60),
		"kernelDropReason": "NO_SOCKET",
	}
	recordC = map[string]any{
		"sourceIPv6Address": netip.MustParseAddr("2001:db8::1"), "destinationIPv6Address": netip.MustParseAddr("2001:db8::2"),
		"sourceTransportPort": uint64(50000), "destinationTransportPort": uint64(22), "protocolIdentifier": uint64(6),
		"octetDeltaCount": uint64(2000), "packetDeltaCount": uint64(20),
		"tcpControlBits":        uint64(0x18), // PSH|ACK
		"flowStartMilliseconds": uint64(1700000003000), "flowEndMilliseconds": uint64(1700000004000),
		"flowEndReason": uint64(1), "ingressInterface": uint64(3), "egressInterface": uint64(0),
		"flowDirection": uint64(0), "icmpTypeCodeIPv6": uint64(0),
		"tcpRttMinMicroseconds": uint64(10), "tcpRttMaxMicroseconds": uint64(30),
		"tcpRttMeanMicroseconds": uint64(20), "tcpRttSampleCount": uint64(3),
	}
)

// scenario returns the three messages in sending order.
func scenario(t *testing.T) [][]byte {
	t.Helper()
	encode := func(fields []exporter.Field, values map[string]any) []byte {
		r, err := dataRecord(fields, values)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a, b, c := encode(v4Fields, recordA), encode(v4Fields, recordB), encode(v6Fields, recordC)
	return [][]byte{
		ipfixMessage(exportTime, 0, domainID,
			ipfixSet(2, templateRecord(templateV4, v4Fields)), ipfixSet(templateV4, a, b)),
		ipfixMessage(exportTime+1, 2, domainID,
			ipfixSet(2, templateRecord(templateV6, v6Fields)), ipfixSet(templateV6, c)),
		// 3 records were sent so far: sequence 10 claims 7 more went missing.
		ipfixMessage(exportTime+2, 10, domainID, ipfixSet(templateV4, a)),
	}
}
