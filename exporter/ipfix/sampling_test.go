package ipfix

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/podflow/podflow/collector"
	"github.com/podflow/podflow/exporter"
	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/decoders"
)

// samplingN is the interval of the sampling tests: each packet counted with
// probability 1/10, the records' counts the sampled ones.
const samplingN = 10

// samplingConfig exports to address with sampling 1 in samplingN from
// observation domain 3, without statistics (fewer messages to wait for).
func samplingConfig(network, address string) Config {
	return Config{Network: network, Address: address, ObservationDomainID: 3, StatsInterval: -1, SamplingInterval: samplingN}
}

// nfcapd learns the interval from samplingInterval and multiplies every
// record's packets and octets by it: nfdump shows raw × N exactly.
func TestSamplingNfdumpScalesCounts(t *testing.T) {
	t.Parallel()
	n := decoders.StartNfcapd(t)
	e, err := New(samplingConfig("udp", n.Addr().String()), nil)
	if err != nil {
		t.Fatal(err)
	}
	recs := mixedRecords(6) // packets 1..6, octets 100..600
	if err := e.Export(recs); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	dir := n.Stop(t)

	var got []string
	for _, r := range decoders.NfdumpRecords(t, dir) {
		got = append(got, fmt.Sprintf("%v/%v", r["in_packets"], r["in_bytes"]))
	}
	var want []string
	for _, r := range recs {
		want = append(want, fmt.Sprintf("%d/%d", r.Packets*samplingN, r.Octets*samplingN))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("nfdump packets/bytes %v, want raw × %d: %v", got, samplingN, want)
	}

	samplers := decoders.NfdumpSamplers(t, dir)
	wantSampler := fmt.Sprintf("Sampler: Generic Sampler: algorithm: 0, packet interval: 1, packet space: %d", samplingN-1)
	if len(samplers) != 1 || samplers[0] != wantSampler {
		t.Errorf("nfdump -E samplers %q, want one %q", samplers, wantSampler)
	}
}

// tshark names both sampling records' fields, with the exact values.
func TestSamplingTsharkNamesTheOptions(t *testing.T) {
	t.Parallel()
	tshark := decoders.RequireTool(t, "tshark")
	l := decoders.Listen(t)
	e, err := New(samplingConfig("udp", l.Addr().String()), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.Export(mixedRecords(2)); err != nil {
		t.Fatal(err)
	}
	datagrams, err := l.WaitDatagrams(int(e.Stats().MessagesSent), waitLimit)
	if err != nil {
		t.Fatal(err)
	}
	pcap := filepath.Join(t.TempDir(), "sampling.pcap")
	f, err := os.Create(pcap)
	if err != nil {
		t.Fatal(err)
	}
	const port = 4739
	err = decoders.WritePcap(f, port, time.Unix(1_700_000_000, 0), datagrams)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	fields := []string{"cflow.flowset_id", "cflow.od_id", "cflow.sampling_interval",
		"cflow.selector_id", "cflow.selector_algorithm", "cflow.sampling_probability"}
	args := []string{"-r", pcap, "-d", fmt.Sprintf("udp.port==%d,cflow", port),
		"-Y", "cflow.sampling_interval || cflow.selector_id", "-T", "fields", "-E", "separator=;"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, tshark, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v: %s", cmd, err, stderr.Bytes())
	}
	// One message each: set id, the header's domain and the scope's, then
	// the values; tshark prints the probability as a float.
	want := fmt.Sprintf("%d;3,3;%d;;;\n%d;3;;1;4;0.1\n", TemplateIDSamplingInterval, samplingN, TemplateIDSelector)
	if string(out) != want {
		t.Errorf("tshark printed\n%s\nwant\n%s", out, want)
	}
}

// Every record arrives at podflow's collector with the interval: the
// options records announce it before the first flow record, and each flow
// record carries it, its counts as sent.
func TestSamplingCollectorRoundTrip(t *testing.T) {
	t.Parallel()
	col := startPodflow(t, "udp://127.0.0.1:0")
	e, err := New(samplingConfig("udp", col.Addr().String()), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	recs := mixedRecords(4)
	if err := e.Export(recs); err != nil {
		t.Fatal(err)
	}
	got := receiveRecords(t, col, countFlows(len(recs)))

	interval := byTemplate(got, TemplateIDSamplingInterval)
	selector := byTemplate(got, TemplateIDSelector)
	if len(interval) != 1 || len(selector) != 1 {
		t.Fatalf("%d samplingInterval and %d selector records, want one each", len(interval), len(selector))
	}
	checkOptions(t, "samplingInterval record", interval[0], []string{"observationDomainId"},
		map[string]any{"observationDomainId": uint64(3), "samplingInterval": uint64(samplingN)})
	checkOptions(t, "selector record", selector[0], []string{"selectorId"},
		map[string]any{"selectorId": SelectorID, "selectorAlgorithm": uint64(4), "samplingProbability": 0.1})
	for _, r := range []collector.Received{interval[0], selector[0]} {
		if r.SamplingInterval != samplingN {
			t.Errorf("options record of template %d: SamplingInterval %d, want %d", r.TemplateID, r.SamplingInterval, samplingN)
		}
	}
	firstFlow := slices.IndexFunc(got, func(r collector.Received) bool { return !r.Options })
	lastSampling := slices.IndexFunc(got, func(r collector.Received) bool { return r.TemplateID == TemplateIDSelector })
	if lastSampling > firstFlow {
		t.Errorf("sampling records end at %d, flow records start at %d: want the sampling first", lastSampling, firstFlow)
	}
	packets := map[uint64]bool{}
	for _, r := range flowRecords(got) {
		if r.SamplingInterval != samplingN || r.Octets != r.Packets*100 {
			t.Errorf("flow record %d: SamplingInterval %d, octets %d: want %d and the raw count", r.Packets, r.SamplingInterval, r.Octets, samplingN)
		}
		packets[r.Packets] = true
	}
	if !reflect.DeepEqual(packets, map[uint64]bool{1: true, 2: true, 3: true, 4: true}) {
		t.Errorf("flow records with packets %v, want 1..4 as sent", packets)
	}
	if s := col.Stats(); s.DecodeErrors != 0 || s.RecordsMissing != 0 || s.DataSetsWithoutTemplate != 0 {
		t.Errorf("collector stats %+v", s)
	}
}

// setIDs returns the set id of each captured message, in order.
func setIDs(msgs [][]byte) []uint16 {
	ids := make([]uint16, len(msgs))
	for i, m := range msgs {
		ids[i] = be16(m[setStart:])
	}
	return ids
}

func count(ids []uint16, id uint16) int {
	n := 0
	for _, v := range ids {
		if v == id {
			n++
		}
	}
	return n
}

// The sampling templates and records go out with the other options: again
// at each UDP template refresh, once per TCP session however long.
func TestSamplingResentEachRound(t *testing.T) {
	for _, network := range []string{"udp", "tcp"} {
		clock := newFakeClock()
		conn := &captureConn{}
		cfg := samplingConfig(network, "192.0.2.1:4739")
		cfg.TemplateRefresh, cfg.Now = time.Minute, clock.Now
		e, err := newExporter(cfg, nil, func(string, string, time.Duration) (net.Conn, error) { return conn, nil })
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if err := e.Export(mixedRecords(2)); err != nil {
				t.Fatal(err)
			}
			clock.Advance(time.Minute)
		}
		ids := setIDs(conn.msgs)
		rounds := map[string]int{"udp": 3, "tcp": 1}[network]
		if n, m := count(ids, TemplateIDSamplingInterval), count(ids, TemplateIDSelector); n != rounds || m != rounds {
			t.Errorf("%s: %d samplingInterval and %d selector records in %v, want %d each", network, n, m, ids, rounds)
		}
		// Per round: the types, both sampling and both base templates.
		if got := e.Stats().TemplatesSent; got != uint64(5*rounds) {
			t.Errorf("%s: %d templates sent, want %d", network, got, 5*rounds)
		}
		// Each record follows its template, in the same round.
		for i, id := range ids {
			if (id == TemplateIDSamplingInterval || id == TemplateIDSelector) && !templateBefore(conn.msgs[:i], id) {
				t.Errorf("%s: message %d: sampling record %d before its template", network, i, id)
			}
		}
		e.Close()
	}
}

// templateBefore reports whether msgs hold an options template id since
// the last record of it.
func templateBefore(msgs [][]byte, id uint16) bool {
	for i := len(msgs) - 1; i >= 0; i-- {
		m := msgs[i]
		switch {
		case be16(m[setStart:]) == optionsTemplateSetID && be16(m[firstRecordAt:]) == id:
			return true
		case be16(m[setStart:]) == id:
			return false
		}
	}
	return false
}

// Unsampled (0 or 1), or without options, the wire is what it was: not one
// octet differs from an exporter that knows nothing of sampling.
func TestUnsampledSendsNothingNew(t *testing.T) {
	capture := func(cfg Config) [][]byte {
		conn := &captureConn{}
		cfg.Network, cfg.Address, cfg.Now = "tcp", "192.0.2.1:4739", newFakeClock().Now
		cfg.StatsInterval, cfg.ExportingProcessID = time.Hour, 1
		e, err := newExporter(cfg, nil, func(string, string, time.Duration) (net.Conn, error) { return conn, nil })
		if err != nil {
			t.Fatal(err)
		}
		// One family: data messages of several layouts go out in map order.
		recs := []flow.Record{record("10.0.0.1", "10.0.0.2", 1, 2, flow.ProtoUDP, 1), record("10.0.0.3", "10.0.0.4", 3, 4, flow.ProtoTCP, 2)}
		if err := e.Export(recs); err != nil {
			t.Fatal(err)
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		return conn.msgs
	}
	base := capture(Config{})
	for _, cfg := range []Config{{SamplingInterval: 1}, {SamplingInterval: 0}} {
		if got := capture(cfg); !reflect.DeepEqual(got, base) {
			t.Errorf("SamplingInterval %d: the messages differ from an unsampled exporter's", cfg.SamplingInterval)
		}
	}
	if got, want := capture(Config{NoOptions: true, SamplingInterval: samplingN}), capture(Config{NoOptions: true}); !reflect.DeepEqual(got, want) {
		t.Error("NoOptions with sampling: the messages differ from NoOptions without")
	}
	if got := capture(Config{SamplingInterval: samplingN}); reflect.DeepEqual(got, base) {
		t.Error("sampling 1 in 10 sent the same messages as unsampled")
	}
}

// ipfixDump (libfixbuf) reads a TCP session with the sampling options
// without a complaint, and names their fields with the exact values.
func TestSamplingIPFIXDump(t *testing.T) {
	t.Parallel()
	dump := decoders.RequireTool(t, "ipfixDump")
	address, wait := captureTCP(t)
	cfg := samplingConfig("tcp", address)
	cfg.StatsInterval = time.Hour
	e, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	recs := append(mixedRecords(4), everyGroup(false, 101), everyGroup(true, 102))
	if err := e.Export(recs); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	records := len(recs) + len(exporter.EnterpriseFields(exporter.DefaultPEN)) + 2 /* sampling */ + 1 /* statistics */
	out := dumpSession(t, dump, wait(), e.Stats(), records)
	for _, want := range []string{
		fmt.Sprintf(`\(149\) \(S\) +observationDomainId : 3\n\t\(34\) +samplingInterval : %d\n`, samplingN),
		`\(302\) \(S\) +selectorId : 1\n\t\(304\) +selectorAlgorithm : 4\n\t\(311\) +samplingProbability : 0\.1\d*\n`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("no match for %s in ipfixDump's output", want)
		}
	}
	if t.Failed() {
		t.Logf("ipfixDump output:\n%s", out)
	}
}

// pmacct's nfacctd reads samplingInterval too: it reports sampling_rate N
// beside the raw counts (nfacctd_renormalize would scale them instead).
func TestSamplingNfacctdReadsTheInterval(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	conf := "daemonize: false\nplugins: print\nprint_output: json\naggregate: src_host, dst_host, sampling_rate\n"
	if err := os.WriteFile(filepath.Join(dir, decoders.NfacctdConfig), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, decoders.NfacctdPrimitives), []byte("! none\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	n := decoders.StartNfacctd(t, dir)
	e, err := New(samplingConfig("udp", n.Addr().String()), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.Export(mixedRecords(4)); err != nil { // 10.0.0.1: packets 1 and 3, fd00::1: 2 and 4
		t.Fatal(err)
	}
	want := map[string]string{"10.0.0.1": "4/400", "fd00::1": "6/600"}
	got := map[string]string{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("nfacctd's packets/bytes by source %v, want %v", got, want)
		}
	})
	// A purge may split a source's records: sum them until both add up.
	poll(t, "nfacctd's aggregates", func() bool {
		recs, err := n.WaitRecords(len(want), waitLimit)
		if err != nil {
			t.Fatal(err)
		}
		sums := map[string][2]uint64{}
		for _, r := range recs {
			if rate := fmt.Sprint(r["sampling_rate"]); rate != fmt.Sprint(samplingN) {
				t.Fatalf("nfacctd record %v: sampling_rate %s, want %d", r, rate, samplingN)
			}
			var p, b uint64
			fmt.Sscan(fmt.Sprint(r["packets"]), &p)
			fmt.Sscan(fmt.Sprint(r["bytes"]), &b)
			src := fmt.Sprint(r["ip_src"])
			sums[src] = [2]uint64{sums[src][0] + p, sums[src][1] + b}
		}
		clear(got)
		for src, s := range sums {
			got[src] = fmt.Sprintf("%d/%d", s[0], s[1])
		}
		return reflect.DeepEqual(got, want)
	})
}
