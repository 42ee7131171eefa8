package netflow5

import (
	"encoding/binary"
	"fmt"
	"net"
	"os/exec"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/podflow/podflow/internal/decoders"
)

// samplingN is the interval of the sampling tests: each packet counted with
// probability 1/10, the records' counts the sampled ones.
const samplingN = 10

// exportSampled sends interopTruths in one packet, sampled 1 in samplingN.
func exportSampled(t *testing.T, address string) {
	t.Helper()
	e, err := New(Config{Address: address, Boot: boot, Now: func() time.Time { return interopNow }, SamplingInterval: samplingN}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.Export(records(interopTruths)); err != nil {
		t.Fatal(err)
	}
}

// nfcapd reads the header's interval and multiplies every record's packets
// and octets by it: nfdump shows raw × N exactly.
func TestSamplingNfdumpScalesCounts(t *testing.T) {
	t.Parallel()
	n := decoders.StartNfcapd(t)
	exportSampled(t, n.Addr().String())
	file := n.Stop(t)
	got := map[string]string{}
	for _, r := range decoders.NfdumpRecords(t, file) {
		got[fmt.Sprint(r["src4_addr"])] = fmt.Sprintf("%v/%v", r["in_packets"], r["in_bytes"])
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
	// nfdump reads the mode as the algorithm: 2, random.
	samplers := regexp.MustCompile(`(?m)^\s*Sampler: .*$`).FindAllString(string(out), -1)
	wantSampler := fmt.Sprintf("Sampler: Generic Sampler: algorithm: 2, packet interval: 1, packet space: %d", samplingN-1)
	if len(samplers) != 1 || strings.TrimSpace(samplers[0]) != wantSampler {
		t.Errorf("nfdump -E samplers %q, want one %q", samplers, wantSampler)
	}
}

// tshark reads both parts of the header field: random mode, interval N.
func TestSamplingTsharkReadsTheHeader(t *testing.T) {
	t.Parallel()
	l := decoders.Listen(t)
	exportSampled(t, l.Addr().String())
	datagrams, err := l.WaitDatagrams(1, waitLimit)
	if err != nil {
		t.Fatal(err)
	}
	packets := decoders.DecodeNetFlow(t, datagrams)
	if len(packets) != 1 {
		t.Fatalf("tshark decoded %d packets, want 1", len(packets))
	}
	h := packets[0].Header
	if h["cflow.samplingmode"] != "2" || h["cflow.samplerate"] != fmt.Sprint(samplingN) || len(packets[0].Flows) != len(interopTruths) {
		t.Errorf("tshark: sampling mode %q rate %q, %d flows; want 2, %d, %d",
			h["cflow.samplingmode"], h["cflow.samplerate"], len(packets[0].Flows), samplingN, len(interopTruths))
	}
}

func TestSamplingField(t *testing.T) {
	for _, tc := range []struct {
		n       uint32
		field   uint16
		clamped bool
	}{
		{0, 0, false}, {1, 0, false}, {2, 0x8002, false}, {samplingN, 0x800a, false},
		{16383, 0xbfff, false}, {16384, 0xbfff, true}, {1 << 31, 0xbfff, true},
	} {
		if field, clamped := samplingField(tc.n); field != tc.field || clamped != tc.clamped {
			t.Errorf("samplingField(%d) = %#04x, %v; want %#04x, %v", tc.n, field, clamped, tc.field, tc.clamped)
		}
	}
}

// An interval v5 cannot hold goes out as 16383: logged once at New, and
// every packet that carries it counted.
func TestSamplingIntervalBeyondV5(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	conn := &captureConn{}
	e, err := newExporter(Config{Address: "127.0.0.1:2055", Boot: boot, Now: func() time.Time { return interopNow }, SamplingInterval: 20000},
		zap.New(core), func(string, string, time.Duration) (net.Conn, error) { return conn, nil })
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for range 2 {
		if err := e.Export(records(interopTruths[:1])); err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range conn.packets() {
		if got := binary.BigEndian.Uint16(p[22:]); got != 0xbfff {
			t.Errorf("packet %d: sampling_interval %#04x, want 0xbfff (random, 16383)", i, got)
		}
	}
	if c := e.Clamps(); c.Sampling != 2 || len(conn.packets()) != 2 {
		t.Errorf("clamps %+v after %d packets, want Sampling 2", c, len(conn.packets()))
	}
	if got := logs.FilterField(zap.Uint32("interval", 20000)).Len(); got != 1 || logs.Len() != 1 {
		t.Errorf("%d warnings naming the interval (%d in all), want 1: %v", got, logs.Len(), logs.All())
	}
}

// SamplingInterval 1 means every packet is counted: the packets are those
// of an exporter that knows nothing of sampling, octet for octet.
func TestUnsampledSendsNothingNew(t *testing.T) {
	capture := func(interval uint32) [][]byte {
		e, conn := newCaptured(t, Config{Boot: boot, Now: func() time.Time { return interopNow }, SamplingInterval: interval})
		if err := e.Export(records(interopTruths)); err != nil {
			t.Fatal(err)
		}
		return conn.packets()
	}
	if !reflect.DeepEqual(capture(1), capture(0)) {
		t.Error("SamplingInterval 1 sent other packets than 0")
	}
	if got := capture(0); binary.BigEndian.Uint16(got[0][22:]) != 0 {
		t.Errorf("unsampled header says sampling %#04x", binary.BigEndian.Uint16(got[0][22:]))
	}
}
