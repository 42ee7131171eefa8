package netflow9

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/podflow/podflow/exporter/internal/udpsend"
	"github.com/podflow/podflow/internal/decoders"
	"github.com/podflow/podflow/internal/netflowtest"
)

// samplingN is the interval of the sampling tests: each packet counted with
// probability 1/10, the records' counts the sampled ones.
const samplingN = 10

// sampled sends interopTruths as interop does (templates, and so the
// sampling options, in packets 0 and 4), sampled 1 in samplingN.
var sampled = netflowtest.Interop{Truths: interopTruths, Export: exportTruths(samplingN)}

// nfcapd learns the interval from SAMPLING_INTERVAL and multiplies every
// record's packets and octets by it: nfdump shows raw × N exactly, and
// algorithm 0, as v9 sends none (sampling.go).
func TestSamplingNfdumpScalesCounts(t *testing.T) {
	t.Parallel()
	sampled.NfdumpScalesCounts(t, samplingN, 0)
}

// tshark reads the options record in each packet that carries the
// templates, scope System = the source id, and counts it in the header.
func TestSamplingTsharkReadsTheOptionsRecord(t *testing.T) {
	t.Parallel()
	packets := decoders.DecodeNetFlow(t, sampled.Datagrams(t, len(interopTruths)))
	if len(packets) != len(interopTruths) {
		t.Fatalf("tshark decoded %d packets, want %d", len(packets), len(interopTruths))
	}
	wantOptions := map[string]string{"cflow.scope_system": "00:00:00:2a", "cflow.sampling_interval": fmt.Sprint(samplingN)}
	for i, p := range packets {
		var options []map[string]string
		flows := 0
		for _, f := range p.Flows {
			if _, ok := f["cflow.sampling_interval"]; ok {
				options = append(options, map[string]string{"cflow.scope_system": f["cflow.scope_system"], "cflow.sampling_interval": f["cflow.sampling_interval"]})
			} else {
				flows++
			}
		}
		withTemplates := i%4 == 0
		switch {
		case withTemplates && (len(options) != 1 || !reflect.DeepEqual(options[0], wantOptions)):
			t.Errorf("packet %d: options records %v, want one %v", i, options, wantOptions)
		case !withTemplates && len(options) != 0:
			t.Errorf("packet %d without templates: options records %v", i, options)
		}
		// Header count: data records, plus both templates, the options
		// template and its record.
		if want := fmt.Sprint(flows + 4*btoi(withTemplates)); p.Header["cflow.count"] != want || flows != 1 {
			t.Errorf("packet %d: %d flow records, count %s, want 1 and %s", i, flows, p.Header["cflow.count"], want)
		}
		if len(p.SeqErrors) > 0 {
			t.Errorf("packet %d: %v", i, p.SeqErrors)
		}
	}
}

// SamplingInterval 1 means every packet is counted: the packets are those
// of an exporter that knows nothing of sampling, octet for octet.
func TestUnsampledSendsNothingNew(t *testing.T) {
	capture := func(interval uint32) [][]byte {
		e, conn := newCaptured(t, Config{SourceID: 7, Boot: netflowtest.Boot, SamplingInterval: interval,
			Now: func() time.Time { return netflowtest.InteropNow }, TemplateRefreshPackets: 2})
		for _, w := range interopTruths {
			if err := e.Export(netflowtest.Records([]netflowtest.Truth{w})); err != nil {
				t.Fatal(err)
			}
		}
		return conn.Packets()
	}
	if !reflect.DeepEqual(capture(1), capture(0)) {
		t.Error("SamplingInterval 1 sent other packets than 0")
	}
	if reflect.DeepEqual(capture(samplingN), capture(0)) {
		t.Error("sampling 1 in 10 sent the same packets as unsampled")
	}
}

// The sampling FlowSets count in the MTU check: one octet short fails.
func TestSamplingMTU(t *testing.T) {
	need := minPacketLen + len(samplingFlowSets(0, samplingN))
	for _, tc := range []struct {
		mtu int
		ok  bool
	}{{need + udpsend.OverheadIPv4, true}, {need + udpsend.OverheadIPv4 - 1, false}} {
		e, err := New(Config{Address: "127.0.0.1:2055", MTU: tc.mtu, SamplingInterval: samplingN}, nil)
		if (err == nil) != tc.ok {
			t.Errorf("MTU %d: error %v, want ok=%v", tc.mtu, err, tc.ok)
		}
		if err == nil {
			e.Close()
		}
	}
}
