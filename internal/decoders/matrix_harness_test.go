package decoders

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmware/go-ipfix/pkg/entities"

	"github.com/podflow/podflow/exporter"
	"github.com/podflow/podflow/exporter/ipfix"
	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/netnstest"
	"github.com/podflow/podflow/internal/privtest"
)

// sessionRecords are what podflow's IPFIX exporter sends in the round
// trips below: every measurement group and both processes on IPv4, drops
// on IPv6. Only what Elements.FlowRecord maps back is set.
func sessionRecords() []flow.Record {
	tcp := flow.Record{
		Key: flow.Key{Tuple: flow.Tuple{SrcAddr: netip.MustParseAddr("10.1.0.1"), DstAddr: netip.MustParseAddr("10.2.0.2"),
			SrcPort: 40000, DstPort: 443, Proto: flow.ProtoTCP}},
		Counters: flow.Counters{Packets: 5_000_000_001, Octets: 7_000_000_003,
			First: time.UnixMilli(1_700_000_000_123).UTC(), Last: time.UnixMilli(1_700_000_001_456).UTC()},
		Measures: flow.Measures{RTTSumUs: 300, RTTSamples: 2, RTTMinUs: 100, RTTMaxUs: 200, RetransPackets: 1, RetransOctets: 1448,
			Handshake: flow.Handshake{ServerUs: 150, ClientUs: 20, Seen: true}, WireRetransPackets: 2},
		Context: flow.Context{
			Src: flow.Process{PID: 4321, Name: "curl", Exe: "/usr/bin/curl", ContainerID: strings.Repeat("a", 64)},
			Dst: flow.Process{PID: 1, Name: "nginx: worker", Exe: "/usr/sbin/nginx"},
		},
	}
	udp := flow.Record{
		Key: flow.Key{Tuple: flow.Tuple{SrcAddr: netip.MustParseAddr("fd00::1"), DstAddr: netip.MustParseAddr("fd00::2"),
			SrcPort: 5353, DstPort: 53, Proto: flow.ProtoUDP}},
		Counters: flow.Counters{Packets: 30, Octets: 3000,
			First: time.UnixMilli(1_700_000_002_000).UTC(), Last: time.UnixMilli(1_700_000_002_999).UTC()},
	}
	udp.Measures.SetDrop(3, 300, "NETFILTER_DROP", 0)
	return []flow.Record{tcp, udp}
}

func exportSession(t *testing.T, cfg ipfix.Config) {
	t.Helper()
	cfg.StatsInterval = time.Hour
	e, err := ipfix.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Export(sessionRecords()); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
}

// checkRoundTrip compares decoded Elements with sessionRecords, in any
// order: records of different templates travel in different sets, and
// IPFIX promises no order between sets.
func checkRoundTrip(t *testing.T, decoder string, elems []Elements) {
	t.Helper()
	want := sessionRecords()
	if len(elems) != len(want) {
		t.Fatalf("%s: %d flow records, want %d", decoder, len(elems), len(want))
	}
	matched := make([]bool, len(want))
next:
	for i, e := range elems {
		got, err := e.FlowRecord(exporter.DefaultPEN)
		if err != nil {
			t.Fatalf("%s: %v", decoder, err)
		}
		got.First, got.Last = got.First.UTC(), got.Last.UTC()
		for j := range want {
			if !matched[j] && got == want[j] {
				matched[j] = true
				continue next
			}
		}
		t.Errorf("%s: record %d matches no record sent:\n got %+v", decoder, i, got)
	}
}

// flowElements keeps the records that carry a source address (not the
// options records).
func flowElements(all []Elements) []Elements {
	var out []Elements
	for _, e := range all {
		if _, v4 := e["0/8"]; v4 || e["0/27"] != "" {
			out = append(out, e)
		}
	}
	return out
}

// A TCP session read back by ipfixDump (from the stream as a file) and by
// tshark (its messages re-framed as datagrams): every element podflow
// meant, and no sequence gap.
func TestIPFIXDumpAndTsharkReadASessionBack(t *testing.T) {
	t.Parallel()
	dump, tshark := RequireTool(t, "ipfixDump"), RequireTool(t, "tshark")
	c := CaptureStream(t)
	exportSession(t, ipfix.Config{Network: "tcp", Address: c.Addr().String()})
	path, err := c.Wait(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := RunIPFIXDump(ctx, dump, path)
	if err != nil {
		t.Fatal(err)
	}
	if d.Stderr != "" || len(d.SequenceGaps()) != 0 || len(d.Messages) == 0 {
		t.Errorf("ipfixDump: %d messages, gaps %v, stderr %q", len(d.Messages), d.SequenceGaps(), d.Stderr)
	}
	checkRoundTrip(t, "ipfixDump", flowElements(d.Records))

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := SplitIPFIX(data)
	if err != nil || len(msgs) != len(d.Messages) {
		t.Fatalf("split %d messages (%v), ipfixDump read %d", len(msgs), err, len(d.Messages))
	}
	pcap := filepath.Join(t.TempDir(), "session.pcap")
	var buf bytes.Buffer
	if err := WritePcap(&buf, 4739, time.Now(), msgs); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pcap, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	dec, err := DecodePcap(ctx, tshark, pcap, 4739)
	if err != nil {
		t.Fatal(err)
	}
	var elems []Elements
	for _, r := range dec.Records {
		e, err := r.Elements(exporter.DefaultPEN)
		if err != nil {
			t.Fatal(err)
		}
		elems = append(elems, e)
	}
	if len(dec.SequenceErrors) != 0 {
		t.Errorf("tshark: %+v", dec.SequenceErrors)
	}
	checkRoundTrip(t, "tshark", elems)
}

// The ipfixDump sequence checks have teeth: the scenario's third message
// claims 7 records went missing.
func TestIPFIXDumpReportsASequenceGap(t *testing.T) {
	t.Parallel()
	dump := RequireTool(t, "ipfixDump")
	path := filepath.Join(t.TempDir(), "gap.ipfix")
	if err := os.WriteFile(path, bytes.Join(scenario(t), nil), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := RunIPFIXDump(context.Background(), dump, path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(d.Stderr, "out of sequence") {
		t.Errorf("ipfixDump did not warn: %q", d.Stderr)
	}
	if gaps := d.SequenceGaps(); len(gaps) != 1 || !strings.Contains(gaps[0], "sequence 10, want 3") {
		t.Errorf("gaps %v, want message 3's", gaps)
	}
}

// nfdump's IPFIX sequence check has teeth too.
func TestNfdumpCountsAnIPFIXGap(t *testing.T) {
	t.Parallel()
	n := StartNfcapd(t)
	SendUDP(t, n.Addr(), scenario(t))
	if got := n.SequenceErrors(t, n.Stop(t)); got != 1 {
		t.Errorf("nfdump counted %d sequence failures, want 1", got)
	}
}

// go-ipfix over mutual TLS, options off: every element back (podflow's and
// ntop's as octets), contiguous sequence numbers, and a gap when a message
// is missing.
func TestGoIPFIXReadsATLSSessionBack(t *testing.T) {
	t.Parallel()
	p := NewPKI(t)
	g := StartGoIPFIXTLS(t, p)
	exportSession(t, ipfix.Config{Network: "tls", Address: g.Addr(), NoOptions: true, TLS: p.ExporterTLS()})
	msgs, err := g.WaitDataRecords(len(sessionRecords()), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if gaps := GoIPFIXSequenceGaps(msgs); len(gaps) != 0 {
		t.Errorf("gaps %v", gaps)
	}
	elems, err := GoIPFIXElements(msgs, exporter.DefaultPEN)
	if err != nil {
		t.Fatal(err)
	}
	checkRoundTrip(t, "go-ipfix", elems)

	first := -1 // the first data message: the one after it then skips its records
	for i, m := range msgs {
		if m.GetSet().GetSetType() == entities.Data && first < 0 {
			first = i
		}
	}
	if first < 0 || first == len(msgs)-1 {
		t.Fatalf("no data message followed by another among %d", len(msgs))
	}
	gapped := append(append([]*entities.Message(nil), msgs[:first]...), msgs[first+1:]...)
	if gaps := GoIPFIXSequenceGaps(gapped); len(gaps) != 1 {
		t.Errorf("without message %d: gaps %v, want one", first+1, gaps)
	}
}

// nfacctd with the shipped primitives: its lines map back to the records
// (recordC, sent once, exactly), and with its checks on it logs the
// scenario's gap.
func TestNfacctdLinesAndSequenceGap(t *testing.T) {
	t.Parallel()
	n := StartNfacctd(t, NfacctdConfigDir(t, "../../configs/pmacct", map[string]string{"nfacctd_disable_checks": "false"}))
	primitives, err := ReadNfacctdPrimitives("../../configs/pmacct/" + NfacctdPrimitives)
	if err != nil {
		t.Fatal(err)
	}
	SendUDP(t, n.Addr(), scenario(t))
	lines, err := n.WaitRecords(3, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	pollUntil(t, "nfacctd to log the gap", func() bool { return len(NfacctdSequenceErrors(n.Log())) > 0 })
	want := flow.Record{
		Key: flow.Key{Tuple: flow.Tuple{SrcAddr: netip.MustParseAddr("2001:db8::1"), DstAddr: netip.MustParseAddr("2001:db8::2"),
			SrcPort: 50000, DstPort: 22, Proto: flow.ProtoTCP}},
		Counters: flow.Counters{Packets: 20, Octets: 2000, First: time.UnixMilli(1700000003000).UTC(), Last: time.UnixMilli(1700000004000).UTC()},
		Measures: flow.Measures{RTTSumUs: 60, RTTSamples: 3, RTTMinUs: 10, RTTMaxUs: 30},
	}
	found := false
	for _, l := range lines {
		e, err := NfacctdElements(l, primitives)
		if err != nil {
			t.Fatal(err)
		}
		r, err := e.FlowRecord(exporter.DefaultPEN)
		if err != nil {
			t.Fatal(err)
		}
		if r.Tuple == want.Tuple {
			found = true
			r.First, r.Last = r.First.UTC(), r.Last.UTC()
			if r != want {
				t.Errorf("nfacctd:\n got  %+v\n want %+v", r, want)
			}
		}
	}
	if !found {
		t.Errorf("no line for %v in %v", want.Tuple, lines)
	}
}

// The sniffer counts what a namespace receives, once, with the kernel's
// receive time.
func TestSnifferCountsReceivedPackets(t *testing.T) {
	privtest.Require(t)
	a, b := netnstest.New(t), netnstest.New(t)
	la, lb := a.AddVethPair(t, "sniff0", "sniff1", b)
	a.AddAddr(t, la, "10.99.0.1/24")
	b.AddAddr(t, lb, "10.99.0.2/24")
	a.LinkUp(t, la)
	b.LinkUp(t, lb)
	a.AddNeigh(t, la, net.IPv4(10, 99, 0, 2), b.Link(t, "sniff1").Attrs().HardwareAddr)
	s := Sniff(t, b)
	warm, srv := udpPair(t, a, b, "10.99.0.2:8"), udpPair(t, a, b, "10.99.0.2:9")
	// A fresh veth drops what it is given until its queue is activated:
	// one datagram through on another port first.
	buf := make([]byte, 100)
	pollUntil(t, "a datagram through the new veth", func() bool {
		if _, err := warm.cli.Write(buf); err != nil {
			t.Fatal(err)
		}
		warm.srv.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		_, _, err := warm.srv.ReadFrom(buf)
		return err == nil
	})
	before := time.Now()
	for range 5 {
		if _, err := srv.cli.Write(buf); err != nil {
			t.Fatal(err)
		}
	}
	local := netip.MustParseAddrPort(srv.cli.LocalAddr().String())
	tu := flow.Tuple{SrcAddr: local.Addr(), DstAddr: netip.MustParseAddr("10.99.0.2"), SrcPort: local.Port(), DstPort: 9, Proto: flow.ProtoUDP}
	var got Sniffed
	pollUntil(t, "five datagrams at the sniffer", func() bool {
		got = s.Flows(t)[tu]
		return got.Packets >= 5
	})
	after := time.Now()
	if got.Packets != 5 || got.Octets != 5*128 || got.First.Before(before) || got.Last.After(after) || got.Last.Before(got.First) {
		t.Errorf("sniffed %+v, want 5 packets of 128 octets between %v and %v", got, before, after)
	}
}

type udpEnds struct {
	cli net.Conn
	srv net.PacketConn
}

// udpPair listens on addr in b and dials it from a.
func udpPair(t *testing.T, a, b *netnstest.Netns, addr string) udpEnds {
	t.Helper()
	var u udpEnds
	if err := errors.Join(b.Do(func() (err error) {
		u.srv, err = net.ListenPacket("udp4", addr)
		return err
	}), a.Do(func() (err error) {
		u.cli, err = net.Dial("udp4", addr)
		return err
	})); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.cli.Close(); u.srv.Close() })
	return u
}
