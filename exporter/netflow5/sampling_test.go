package netflow5

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/podflow/podflow/internal/decoders"
	"github.com/podflow/podflow/internal/netflowtest"
)

// samplingN is the interval of the sampling tests: each packet counted with
// probability 1/10, the records' counts the sampled ones.
const samplingN = 10

// sampled sends interopTruths in one packet, sampled 1 in samplingN.
var sampled = netflowtest.Interop{Truths: interopTruths, Export: func(t testing.TB, address string) {
	t.Helper()
	e, err := New(Config{Address: address, Boot: netflowtest.Boot, Now: func() time.Time { return netflowtest.InteropNow },
		SamplingInterval: samplingN}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.Export(netflowtest.Records(interopTruths)); err != nil {
		t.Fatal(err)
	}
}}

// nfcapd reads the header's interval and multiplies every record's packets
// and octets by it: nfdump shows raw × N exactly. It reads the mode as the
// algorithm: 2, random.
func TestSamplingNfdumpScalesCounts(t *testing.T) {
	t.Parallel()
	sampled.NfdumpScalesCounts(t, samplingN, 2)
}

// tshark reads both parts of the header field: random mode, interval N;
// the records' counts are the sampled ones.
func TestSamplingTsharkReadsTheHeader(t *testing.T) {
	t.Parallel()
	header := func(int, decoders.NetFlowPacket) map[string]string {
		return map[string]string{"cflow.samplingmode": "2", "cflow.samplerate": fmt.Sprint(samplingN)}
	}
	sampled.TsharkDecodes(t, 1, header, tsharkWant)
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
	conn := &netflowtest.CaptureConn{}
	e, err := newExporter(Config{Address: "127.0.0.1:2055", Boot: netflowtest.Boot,
		Now: func() time.Time { return netflowtest.InteropNow }, SamplingInterval: 20000}, zap.New(core), conn.Dial)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for range 2 {
		if err := e.Export(netflowtest.Records(interopTruths[:1])); err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range conn.Packets() {
		if got := binary.BigEndian.Uint16(p[22:]); got != 0xbfff {
			t.Errorf("packet %d: sampling_interval %#04x, want 0xbfff (random, 16383)", i, got)
		}
	}
	if c := e.Clamps(); c.Sampling != 2 || len(conn.Packets()) != 2 {
		t.Errorf("clamps %+v after %d packets, want Sampling 2", c, len(conn.Packets()))
	}
	if got := logs.FilterField(zap.Uint32("interval", 20000)).Len(); got != 1 || logs.Len() != 1 {
		t.Errorf("%d warnings naming the interval (%d in all), want 1: %v", got, logs.Len(), logs.All())
	}
}

// SamplingInterval 1 means every packet is counted: the packets are those
// of an exporter that knows nothing of sampling, octet for octet.
func TestUnsampledSendsNothingNew(t *testing.T) {
	capture := func(interval uint32) [][]byte {
		e, conn := newCaptured(t, Config{Boot: netflowtest.Boot, Now: func() time.Time { return netflowtest.InteropNow },
			SamplingInterval: interval})
		if err := e.Export(netflowtest.Records(interopTruths)); err != nil {
			t.Fatal(err)
		}
		return conn.Packets()
	}
	if !reflect.DeepEqual(capture(1), capture(0)) {
		t.Error("SamplingInterval 1 sent other packets than 0")
	}
	if got := capture(0); binary.BigEndian.Uint16(got[0][22:]) != 0 {
		t.Errorf("unsampled header says sampling %#04x", binary.BigEndian.Uint16(got[0][22:]))
	}
}
