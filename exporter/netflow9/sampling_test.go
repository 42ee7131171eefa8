package netflow9

import (
	"fmt"
	"os/exec"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/podflow/podflow/internal/decoders"
)

// samplingN is the interval of the sampling tests: each packet counted with
// probability 1/10, the records' counts the sampled ones.
const samplingN = 10

// exportSampled sends interopTruths as exportTruths does (templates, and so
// the sampling options, in packets 0 and 4), sampled 1 in samplingN.
func exportSampled(t *testing.T, address string) {
	t.Helper()
	e, err := New(Config{Address: address, SourceID: interopSourceID, Boot: boot, SamplingInterval: samplingN,
		Now: func() time.Time { return interopNow }, TemplateRefreshPackets: 4}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for _, w := range interopTruths {
		if err := e.Export(records([]truth{w})); err != nil {
			t.Fatal(err)
		}
	}
	// Two template rounds of three: both templates and the options template.
	if s := e.Stats(); s.RecordsSent != uint64(len(interopTruths)) || s.TemplatesSent != 6 || s.RecordsLost != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// nfcapd learns the interval from SAMPLING_INTERVAL and multiplies every
// record's packets and octets by it: nfdump shows raw × N exactly.
func TestSamplingNfdumpScalesCounts(t *testing.T) {
	t.Parallel()
	n := decoders.StartNfcapd(t)
	exportSampled(t, n.Addr().String())
	file := n.Stop(t)
	got := map[string]string{}
	for _, r := range decoders.NfdumpRecords(t, file) {
		src := fmt.Sprint(r["src4_addr"], r["src6_addr"])
		got[strings.ReplaceAll(src, "<nil>", "")] = fmt.Sprintf("%v/%v", r["in_packets"], r["in_bytes"])
	}
	want := map[string]string{}
	for _, w := range interopTruths {
		want[w.src] = fmt.Sprintf("%d/%d", w.packets*samplingN, w.octets*samplingN)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("nfdump packets/bytes by source %v\nwant raw × %d: %v", got, samplingN, want)
	}
	cmd := exec.Command(decoders.RequireTool(t, "nfdump"), "-E", file)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", cmd, err, out)
	}
	samplers := regexp.MustCompile(`(?m)^\s*Sampler: .*$`).FindAllString(string(out), -1)
	wantSampler := fmt.Sprintf("Sampler: Generic Sampler: algorithm: 0, packet interval: 1, packet space: %d", samplingN-1)
	if len(samplers) != 1 || strings.TrimSpace(samplers[0]) != wantSampler {
		t.Errorf("nfdump -E samplers %q, want one %q", samplers, wantSampler)
	}
}

// tshark reads the options record in each packet that carries the
// templates, scope System = the source id, and counts it in the header.
func TestSamplingTsharkReadsTheOptionsRecord(t *testing.T) {
	t.Parallel()
	l := decoders.Listen(t)
	exportSampled(t, l.Addr().String())
	datagrams, err := l.WaitDatagrams(len(interopTruths), waitLimit)
	if err != nil {
		t.Fatal(err)
	}
	packets := decoders.DecodeNetFlow(t, datagrams)
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
		e, conn := newCaptured(t, Config{SourceID: 7, Boot: boot, SamplingInterval: interval,
			Now: func() time.Time { return interopNow }, TemplateRefreshPackets: 2})
		for _, w := range interopTruths {
			if err := e.Export(records([]truth{w})); err != nil {
				t.Fatal(err)
			}
		}
		return conn.packets()
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
	}{{need + overheadIPv4, true}, {need + overheadIPv4 - 1, false}} {
		e, err := New(Config{Address: "127.0.0.1:2055", MTU: tc.mtu, SamplingInterval: samplingN}, nil)
		if (err == nil) != tc.ok {
			t.Errorf("MTU %d: error %v, want ok=%v", tc.mtu, err, tc.ok)
		}
		if err == nil {
			e.Close()
		}
	}
}
