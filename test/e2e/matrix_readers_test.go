package e2e

// The matrix's readers: each decoder's output back to podflow's records,
// with the sequence errors it saw.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/decoders"
)

func nfdumpRecords(t *testing.T, n *decoders.Nfcapd) ([]flow.Record, []string) {
	dir := n.Stop(t)
	recs, err := decoders.NfdumpFlowRecords(decoders.NfdumpRecords(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	var seq []string
	if e := n.SequenceErrors(t, dir); e != 0 {
		seq = append(seq, fmt.Sprintf("nfdump counted %d sequence failures", e))
	}
	return recs, seq
}

// nfacctdRecords waits until nfacctd printed every packet of the truth's
// flows (IPv4 only for v5): its lines aggregate records, so their number
// is no measure.
func nfacctdRecords(t *testing.T, run *matrixRun, n *decoders.Nfacctd, primitives map[string]string, ipv4Only bool, pen uint32) ([]flow.Record, []string) {
	var recs []flow.Record
	poll(t, "nfacctd to print every packet", func() bool {
		lines, err := n.WaitRecords(1, waitLimit)
		if err != nil {
			t.Fatal(err)
		}
		recs = flowRecordsOf(t, elementsOf(t, lines, func(l map[string]any) (decoders.Elements, error) {
			return decoders.NfacctdElements(l, primitives)
		}), pen)
		got := map[flow.Tuple]uint64{}
		for _, r := range recs {
			got[r.Tuple] += r.Packets
		}
		for tu, f := range run.truth {
			if (!ipv4Only || tu.SrcAddr.Is4()) && got[tu] < f.Packets {
				return false
			}
		}
		return true
	})
	return recs, decoders.NfacctdSequenceErrors(n.Log())
}

func tsharkRecords(t *testing.T, run *matrixRun, ts *decoders.Tshark, url string, pen uint32) ([]flow.Record, []string) {
	dec, err := ts.Decode(int(run.stats[url].MessagesSent), waitLimit)
	if err != nil {
		t.Fatal(err)
	}
	return tsharkFlowRecords(t, dec, pen)
}

func tsharkFlowRecords(t *testing.T, dec *decoders.Decoding, pen uint32) ([]flow.Record, []string) {
	recs := flowRecordsOf(t, elementsOf(t, dec.Records, func(r decoders.Record) (decoders.Elements, error) {
		return r.Elements(pen)
	}), pen)
	var seq []string
	for _, e := range dec.SequenceErrors {
		seq = append(seq, fmt.Sprintf("tshark: frame %d: %s", e.Frame, e.Message))
	}
	return recs, seq
}

// tsharkStreamRecords decodes a TCP session's messages, one per datagram
// of a synthetic capture.
func tsharkStreamRecords(t *testing.T, run *matrixRun, url, file string, pen uint32) ([]flow.Record, []string) {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := decoders.SplitIPFIX(data)
	if err != nil {
		t.Fatal(err)
	}
	if uint64(len(msgs)) != run.stats[url].MessagesSent {
		t.Errorf("the session holds %d messages, the exporter sent %d", len(msgs), run.stats[url].MessagesSent)
	}
	pcap := filepath.Join(t.TempDir(), "session.pcap")
	f, err := os.Create(pcap)
	if err != nil {
		t.Fatal(err)
	}
	const port = 4739
	err = decoders.WritePcap(f, port, time.Now(), msgs)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	dec, err := decoders.DecodePcap(ctx, decoders.RequireTool(t, "tshark"), pcap, port)
	if err != nil {
		t.Fatal(err)
	}
	return tsharkFlowRecords(t, dec, pen)
}

// tsharkNetFlowRecords decodes a NetFlow stream and checks its sequence
// numbers: v9 counts packets, v5 flows.
func tsharkNetFlowRecords(t *testing.T, run *matrixRun, l *decoders.Listener, url string, v5 bool) ([]flow.Record, []string) {
	datagrams, err := l.WaitDatagrams(int(run.stats[url].MessagesSent), waitLimit)
	if err != nil {
		t.Fatal(err)
	}
	var recs []flow.Record
	var seq []string
	var next uint64
	for i, p := range decoders.DecodeNetFlow(t, datagrams) {
		for _, e := range p.SeqErrors {
			seq = append(seq, fmt.Sprintf("tshark: packet %d: %s", i+1, e))
		}
		got := fieldUint(t, p.Header, "cflow.sequence")
		if i > 0 && got != next {
			seq = append(seq, fmt.Sprintf("packet %d: sequence %d, want %d", i+1, got, next))
		}
		next = got + 1
		if v5 {
			next = got + fieldUint(t, p.Header, "cflow.count")
		}
		r, err := p.FlowRecords()
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r...)
	}
	return recs, seq
}

// ipfixDumpRecords runs ipfixDump on a file of the messages sent to url:
// it must read them all without a warning, name every enterprise element
// (from the RFC 5610 type records) and print contiguous sequence numbers.
func ipfixDumpRecords(t *testing.T, run *matrixRun, url, file string, pen uint32) ([]flow.Record, []string) {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	d, err := decoders.RunIPFIXDump(ctx, decoders.RequireTool(t, "ipfixDump"), file)
	if err != nil {
		t.Fatal(err)
	}
	if d.Stderr != "" {
		t.Errorf("ipfixDump warned:\n%s", d.Stderr)
	}
	if want := fmt.Sprintf("*** File Stats: %d Messages,", run.stats[url].MessagesSent); !strings.HasPrefix(d.Stats, want) {
		t.Errorf("ipfixDump: %q, want %q", d.Stats, want)
	}
	if strings.Contains(d.Output, "_alienInformationElement") {
		t.Error("ipfixDump met an enterprise element no type record described")
	}
	var flows []decoders.Elements
	for _, e := range d.Records {
		if _, v4 := e["0/8"]; v4 || e["0/27"] != "" { // not an options record
			flows = append(flows, e)
		}
	}
	return flowRecordsOf(t, flows, pen), d.SequenceGaps()
}

func goIPFIXRecords(t *testing.T, run *matrixRun, g *decoders.GoIPFIX, url string, pen uint32) ([]flow.Record, []string) {
	msgs, err := g.WaitDataRecords(int(run.stats[url].RecordsSent), waitLimit)
	if err != nil {
		t.Fatal(err)
	}
	elems, err := decoders.GoIPFIXElements(msgs, pen)
	if err != nil {
		t.Fatal(err)
	}
	return flowRecordsOf(t, elems, pen), decoders.GoIPFIXSequenceGaps(msgs)
}

// elementsOf maps each item a decoder printed to Elements.
func elementsOf[T any](t *testing.T, items []T, elements func(T) (decoders.Elements, error)) []decoders.Elements {
	t.Helper()
	out := make([]decoders.Elements, 0, len(items))
	for _, it := range items {
		e, err := elements(it)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// flowRecordsOf maps decoded elements back into flow records; pen is
// podflow's enterprise number.
func flowRecordsOf(t *testing.T, elems []decoders.Elements, pen uint32) []flow.Record {
	t.Helper()
	recs := make([]flow.Record, 0, len(elems))
	for _, e := range elems {
		r, err := e.FlowRecord(pen)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	return recs
}

func streamFile(t *testing.T, c *decoders.StreamCapture) string {
	path, err := c.Wait(waitLimit)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// datagramFile writes UDP datagrams (whole IPFIX messages) as one file.
func datagramFile(t *testing.T, datagrams [][]byte) string {
	path := filepath.Join(t.TempDir(), "datagrams.ipfix")
	if err := os.WriteFile(path, bytes.Join(datagrams, nil), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
