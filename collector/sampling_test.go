package collector

import (
	"math"
	"testing"
)

// Each way exporters announce packet sampling gives the interval, on the
// options record and on the flow records of its observation domain that
// follow it in the session; other domains, and records before the
// announcement, have none.
func TestSamplingIntervalAnnounced(t *testing.T) {
	flowTmpl := tmplRecord(256, spec{8, 4, 0}, spec{12, 4, 0}, spec{2, 8, 0}) // addresses, packetDeltaCount
	flowRec := cat([]byte{10, 0, 0, 1, 10, 0, 0, 2}, be(3, 8))
	for _, tc := range []struct {
		name   string
		fields []spec // after the scope observationDomainId
		values []byte
		want   uint32
	}{
		{"samplingInterval", []spec{{34, 4, 0}}, be(10, 4), 10},
		{"samplingInterval reduced to 2 octets", []spec{{34, 2, 0}}, be(300, 2), 300},
		{"samplerRandomInterval", []spec{{48, 1, 0}, {49, 1, 0}, {50, 4, 0}}, cat(be(1, 1), be(2, 1), be(100, 4)), 100},
		{"samplingPacketInterval and Space", []spec{{305, 4, 0}, {306, 4, 0}}, cat(be(1, 4), be(999, 4)), 1000},
		{"2 in 10, systematic", []spec{{305, 4, 0}, {306, 4, 0}}, cat(be(2, 4), be(8, 4)), 5},
		{"samplingProbability", []spec{{304, 2, 0}, {311, 8, 0}}, cat(be(4, 2), be(math.Float64bits(1.0/3), 8)), 3},
		{"samplingProbability as float32", []spec{{311, 4, 0}}, be(uint64(math.Float32bits(0.01)), 4), 100},
		{"no sampling element", []spec{{41, 8, 0}}, be(5, 8), 0},
		{"a probability above 1", []spec{{311, 8, 0}}, be(math.Float64bits(2), 8), 0},
	} {
		d := NewDecoder("192.0.2.1:4739")
		opts := optionsTmplRecord(300, 1, append([]spec{{149, 4, 0}}, tc.fields...)...)
		var got []Received
		for i, msg := range [][]byte{
			message(7, 0, set(2, flowTmpl), set(3, opts), set(256, flowRec)), // before the announcement
			message(7, 1, set(300, cat(be(7, 4), tc.values))),
			message(7, 2, set(256, flowRec)),
			message(8, 0, set(2, flowTmpl), set(256, flowRec)), // another domain
		} {
			recs, err := d.Decode(msg)
			if err != nil {
				t.Fatalf("%s: message %d: %v", tc.name, i, err)
			}
			got = append(got, recs...)
		}
		if len(got) != 4 || !got[1].Options {
			t.Fatalf("%s: %d records %+v", tc.name, len(got), got)
		}
		if got[0].SamplingInterval != 0 || got[1].SamplingInterval != tc.want || got[2].SamplingInterval != tc.want || got[3].SamplingInterval != 0 {
			t.Errorf("%s: intervals before %d, options %d, after %d, other domain %d; want 0, %d, %d, 0", tc.name,
				got[0].SamplingInterval, got[1].SamplingInterval, got[2].SamplingInterval, got[3].SamplingInterval, tc.want, tc.want)
		}
		if got[2].Packets != 3 {
			t.Errorf("%s: packets %d, want 3 as sent", tc.name, got[2].Packets)
		}
	}
}

// The interval of a sampling exporter shows in both output formats, after
// the flow's fields; an interval of 1 (unsampled) changes nothing.
func TestSamplingIntervalFormatted(t *testing.T) {
	r := tcpRecord()
	r.SamplingInterval = 10
	wantJSON := `{"exporter":"127.0.0.1:50000","observationDomainId":7,"sequenceNumber":3,"exportTime":1795316647,"templateId":256,` +
		`"flowStart":"2026-11-22T03:04:05.123Z","flowStartMilliseconds":1795316645123,` +
		`"flowEnd":"2026-11-22T03:04:06.357Z","flowEndMilliseconds":1795316646357,` +
		`"protocolIdentifier":6,"sourceIPv4Address":"10.0.0.1","destinationIPv4Address":"10.0.0.2",` +
		`"sourceTransportPort":34567,"destinationTransportPort":80,"octetDeltaCount":840,"packetDeltaCount":10,` +
		`"tcpControlBits":19,"ingressInterface":5,"flowDirection":0,"flowEndReason":1,"samplingInterval":10}`
	if got := string(FormatJSON(r)); got != wantJSON {
		t.Errorf("FormatJSON:\n got %s\nwant %s", got, wantJSON)
	}
	wantText := "2026-11-22T03:04:05.123Z tcp 10.0.0.1:34567 -> 10.0.0.2:80 if=5 ingress pkts=10 bytes=840 flags=SYN,ACK,FIN reason=idle dur=1.234s sampled=1/10"
	if got := FormatText(r); got != wantText {
		t.Errorf("FormatText:\n got %s\nwant %s", got, wantText)
	}
	r.SamplingInterval = 1
	if string(FormatJSON(r)) != string(FormatJSON(tcpRecord())) || FormatText(r) != FormatText(tcpRecord()) {
		t.Error("an interval of 1 changed the output")
	}
}
