package e2e

import (
	"bytes"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/podflow/podflow/collector"
	"github.com/podflow/podflow/config"
	"github.com/podflow/podflow/exporter"
	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/decoders"
	"github.com/podflow/podflow/internal/privtest"
)

// The interop matrix (issue 6). Run 1 exports the same flows at once over
// IPFIX/UDP, IPFIX/TCP, NetFlow v9 and NetFlow v5 to every independent
// decoder that reads each. Run 2 exports over IPFIX/TLS to go-ipfix's
// collector, which cannot decode options templates (over TCP/TLS it closes
// the connection at the first one) while the agent's --ipfix-options is
// global, so that run has options off. Each protocol × decoder cell is a
// subtest checking, against the truth a packet socket saw on the node's
// veths (itself checked against the traffic as sent): every record arrives
// (as many decoded as the exporter sent); the truth's 5-tuples, packets
// and octets; start and end within one poll interval plus the decoder's
// own resolution; no sequence gap; and the enterprise elements it decodes
// equal to the reference's (podflow's collector, whose measurements are
// checked against the sockets' and iptables' own counts).
//
// Combinations that do not exist, and why:
//   - IPFIX/TCP → nfcapd: nfcapd (nfdump 1.7) collects over UDP only.
//   - IPFIX/TCP → nfacctd: nfacctd (pmacct 1.7.7) listens on UDP only.
//   - IPFIX/TLS → nfcapd, nfacctd: no TLS. → tshark, ipfixDump: they read
//     captures, and a TLS capture is ciphertext; the IPFIX/TCP cells read
//     the same encoder's stream in clear.
//   - IPFIX/UDP and IPFIX/TCP → go-ipfix: options templates (see above);
//     it reads the TLS run instead.
//   - NetFlow v9 and v5 → ipfixDump, go-ipfix, podflow's collector: IPFIX
//     only. No NetFlow cell checks enterprise elements: podflow's NetFlow
//     carries the classic fields only.
//
// tshark reads the IPFIX/TCP session's messages re-framed one per UDP
// datagram of a synthetic capture (the octets podflow sent, cut at the
// message lengths), as it reads every capture here.

// Ports of the matrix traffic; the iptables rules drop on two of them.
const (
	matrixUDP4, matrixUDP6, matrixTCP4, matrixTCP6 = 7600, 7601, 7602, 7603
	matrixUDPSent, matrixUDPSize                   = 30, 200
)

// Measurement groups of the enterprise (and drop) elements a decoder may
// decode.
const (
	groupRTT, groupRetrans, groupHandshake = "rtt", "retrans", "handshake"
	groupWire, groupDrops, groupDropReason = "wire-retrans", "drops", "drop-reason"
	groupProcess                           = "process"
)

var allGroups = []string{groupRTT, groupRetrans, groupHandshake, groupWire, groupDrops, groupDropReason, groupProcess}

// matrixCell is one protocol × decoder combination.
type matrixCell struct {
	protocol, decoder string
	url               string // the collector URL podflow exported to
	// decode returns the decoder's flow records and the sequence errors
	// it (or a check of the sequence numbers it printed) found.
	decode     func(t *testing.T) ([]flow.Record, []string)
	reference  bool          // podflow's collector: its measurements are checked against the sockets and rules
	aggregates bool          // several records may print as one (nfacctd): sums only
	resolution time.Duration // of the decoder's times, beyond podflow's milliseconds
	groups     []string      // measurement groups it decodes
	sequence   string        // how the sequence is checked, for the matrix log
}

// matrixRun is one agent run: its truth, its reference and its cells.
type matrixRun struct {
	stats       map[string]exporter.Stats
	truth       map[flow.Tuple]decoders.Sniffed // the test's traffic
	background  map[flow.Tuple]bool             // anything else the packet socket saw (IPv6 multicast listener reports...)
	ref         map[flow.Tuple]matrixView
	ipv6Records uint64 // reference records of IPv6 flows: NetFlow v5 counts them unexportable
	fanout      *exporter.Fanout
	rows        []matrixRow
}

type matrixRow struct {
	protocol, decoder, records, start, end, sequence, groups, result string
}

func TestInteropMatrix(t *testing.T) {
	privtest.Require(t)
	for _, tool := range []string{"nfcapd", "nfdump", "nfacctd", "tshark", "ipfixDump"} {
		decoders.RequireTool(t, tool)
	}
	n, cli, srv := matrixNode(t)
	primitives, err := decoders.ReadNfacctdPrimitives("../../configs/pmacct/" + decoders.NfacctdPrimitives)
	if err != nil {
		t.Fatal(err)
	}
	d := matrixDecoders{pen: exporter.DefaultPEN, primitives: primitives,
		// The shipped config and primitives, with nfacctd's sequence checks
		// on (off by default).
		nfacctdDir: decoders.NfacctdConfigDir(t, "../../configs/pmacct", map[string]string{"nfacctd_disable_checks": "false"})}
	rows := matrixEveryProtocol(t, n, cli, srv, d)
	rows = append(rows, matrixTLS(t, n, cli, srv, d)...)
	logMatrix(t, rows)
}

// matrixDecoders is what the cells of both runs share.
type matrixDecoders struct {
	pen        uint32            // podflow's enterprise number
	primitives map[string]string // nfacctd's primitives: name → element
	nfacctdDir string            // nfacctd's config
}

// nfacctdGroups are the measurements the shipped primitives decode (pmacct
// has no primitive for IANA's dropped packet and octet counts).
var nfacctdGroups = []string{groupRTT, groupRetrans, groupHandshake, groupWire, groupDropReason, groupProcess}

// matrixEveryProtocol is run 1: every protocol but TLS, to every decoder at
// once.
func matrixEveryProtocol(t *testing.T, n *node, cli, srv *pod, d matrixDecoders) []matrixRow {
	refTCP, refUDP := startIPFIXCollector(t, "tcp"), startIPFIXCollector(t, "udp")
	nfcapd := map[string]*decoders.Nfcapd{}
	nfacctd := map[string]*decoders.Nfacctd{}
	for _, p := range []string{"ipfix", "netflow9", "netflow5"} {
		nfcapd[p], nfacctd[p] = decoders.StartNfcapd(t), decoders.StartNfacctd(t, d.nfacctdDir)
	}
	ts := decoders.NewTshark(t)
	stream := decoders.CaptureStream(t)
	nf9, nf5 := decoders.Listen(t), decoders.Listen(t)
	urls := map[string]string{
		"ref": refTCP.url("ipfix+tcp"), "udp": refUDP.url("ipfix+udp"),
		"nfcapd": "ipfix+udp://" + nfcapd["ipfix"].Addr().String(), "nfacctd": "ipfix+udp://" + nfacctd["ipfix"].Addr().String(),
		"capture": "ipfix+udp://" + ts.Addr().String(), "stream": "ipfix+tcp://" + stream.Addr().String(),
		"nfcapd9": "netflow9+udp://" + nfcapd["netflow9"].Addr().String(), "nfacctd9": "netflow9+udp://" + nfacctd["netflow9"].Addr().String(),
		"tshark9": "netflow9+udp://" + nf9.Addr().String(),
		"nfcapd5": "netflow5+udp://" + nfcapd["netflow5"].Addr().String(), "nfacctd5": "netflow5+udp://" + nfacctd["netflow5"].Addr().String(),
		"tshark5": "netflow5+udp://" + nf5.Addr().String(),
	}
	run := runMatrixAgent(t, n, cli, srv, func(*config.Config) {}, urls["ref"], refTCP, slices.Collect(maps.Values(urls))...)

	run.cell(t, matrixCell{protocol: "IPFIX-TCP", decoder: "podflow", url: urls["ref"], reference: true, sequence: "collector's RecordsMissing",
		decode: func(t *testing.T) ([]flow.Record, []string) {
			return refTCP.waitRecords(t, run.stats[urls["ref"]].RecordsSent), nil
		}})
	run.cell(t, matrixCell{protocol: "IPFIX-TCP", decoder: "ipfixDump", url: urls["stream"], groups: allGroups, sequence: "stderr, headers",
		decode: func(t *testing.T) ([]flow.Record, []string) {
			return ipfixDumpRecords(t, run, urls["stream"], streamFile(t, stream), d.pen)
		}})
	run.cell(t, matrixCell{protocol: "IPFIX-TCP", decoder: "tshark", url: urls["stream"], groups: allGroups, sequence: "expert info",
		decode: func(t *testing.T) ([]flow.Record, []string) {
			return tsharkStreamRecords(t, run, urls["stream"], streamFile(t, stream), d.pen)
		}})
	run.cell(t, matrixCell{protocol: "IPFIX-UDP", decoder: "podflow", url: urls["udp"], groups: allGroups, sequence: "collector's RecordsMissing",
		decode: func(t *testing.T) ([]flow.Record, []string) {
			return refUDP.waitRecords(t, run.stats[urls["udp"]].RecordsSent), nil
		}})
	run.cell(t, matrixCell{protocol: "IPFIX-UDP", decoder: "nfcapd", url: urls["nfcapd"], sequence: "nfdump -I",
		decode: func(t *testing.T) ([]flow.Record, []string) { return nfdumpRecords(t, nfcapd["ipfix"]) }})
	// nfacctd counts IPFIX sequence numbers per flow record, not per data
	// record as RFC 7011 does: every options record reads as a gap to it.
	// Its sequence check is in the run with options off.
	run.cell(t, matrixCell{protocol: "IPFIX-UDP", decoder: "nfacctd", url: urls["nfacctd"], aggregates: true, groups: nfacctdGroups,
		sequence: "none: options records (see nfacctd-no-options)",
		decode: func(t *testing.T) ([]flow.Record, []string) {
			recs, _ := nfacctdRecords(t, run, nfacctd["ipfix"], d.primitives, false, d.pen)
			return recs, nil
		}})
	run.cell(t, matrixCell{protocol: "IPFIX-UDP", decoder: "tshark", url: urls["capture"], groups: allGroups, sequence: "expert info",
		decode: func(t *testing.T) ([]flow.Record, []string) { return tsharkRecords(t, run, ts, urls["capture"], d.pen) }})
	run.cell(t, matrixCell{protocol: "IPFIX-UDP", decoder: "ipfixDump", url: urls["capture"], groups: allGroups, sequence: "stderr, headers",
		decode: func(t *testing.T) ([]flow.Record, []string) {
			return ipfixDumpRecords(t, run, urls["capture"], datagramFile(t, ts.Datagrams()), d.pen)
		}})
	for _, v := range []struct {
		protocol, key, suffix string
		tshark                *decoders.Listener
	}{{"NetFlow9", "netflow9", "9", nf9}, {"NetFlow5", "netflow5", "5", nf5}} {
		run.cell(t, matrixCell{protocol: v.protocol, decoder: "nfcapd", url: urls["nfcapd"+v.suffix], sequence: "nfdump -I",
			decode: func(t *testing.T) ([]flow.Record, []string) { return nfdumpRecords(t, nfcapd[v.key]) }})
		// nfacctd computes NetFlow times in whole seconds (unix_secs minus
		// whole seconds of uptime).
		run.cell(t, matrixCell{protocol: v.protocol, decoder: "nfacctd", url: urls["nfacctd"+v.suffix], aggregates: true, resolution: time.Second, sequence: "log",
			decode: func(t *testing.T) ([]flow.Record, []string) {
				return nfacctdRecords(t, run, nfacctd[v.key], nil, v.suffix == "5", d.pen)
			}})
		run.cell(t, matrixCell{protocol: v.protocol, decoder: "tshark", url: urls["tshark"+v.suffix], sequence: "expert info, headers",
			decode: func(t *testing.T) ([]flow.Record, []string) {
				return tsharkNetFlowRecords(t, run, v.tshark, urls["tshark"+v.suffix], v.suffix == "5")
			}})
	}
	return run.rows
}

// matrixTLS is run 2: IPFIX/TLS with options off, to go-ipfix and podflow's
// collector; options off also lets nfacctd check IPFIX sequence numbers.
func matrixTLS(t *testing.T, n *node, cli, srv *pod, d matrixDecoders) []matrixRow {
	p := decoders.NewPKI(t)
	refTLS := startIPFIXCollector(t, "tls", collector.WithTLS(p.CollectorTLS()))
	goipfix := decoders.StartGoIPFIXTLS(t, p)
	nfacctd := decoders.StartNfacctd(t, d.nfacctdDir)
	tlsRef, tlsGo := refTLS.url("ipfix+tls"), "ipfix+tls://"+goipfix.Addr()
	nfURL := "ipfix+udp://" + nfacctd.Addr().String()
	run := runMatrixAgent(t, n, cli, srv, func(c *config.Config) {
		c.IPFIXOptions = false
		c.CollectorCA, c.CollectorCert, c.CollectorKey = p.CAFile, p.ClientCertFile, p.ClientKey
	}, tlsRef, refTLS, tlsRef, tlsGo, nfURL)
	run.cell(t, matrixCell{protocol: "IPFIX-TLS", decoder: "podflow", url: tlsRef, reference: true, sequence: "collector's RecordsMissing",
		decode: func(t *testing.T) ([]flow.Record, []string) {
			return refTLS.waitRecords(t, run.stats[tlsRef].RecordsSent), nil
		}})
	run.cell(t, matrixCell{protocol: "IPFIX-TLS", decoder: "go-ipfix", url: tlsGo, groups: allGroups, sequence: "headers",
		decode: func(t *testing.T) ([]flow.Record, []string) { return goIPFIXRecords(t, run, goipfix, tlsGo, d.pen) }})
	run.cell(t, matrixCell{protocol: "IPFIX-UDP", decoder: "nfacctd-no-options", url: nfURL, aggregates: true, groups: nfacctdGroups, sequence: "log",
		decode: func(t *testing.T) ([]flow.Record, []string) {
			return nfacctdRecords(t, run, nfacctd, d.primitives, false, d.pen)
		}})
	return run.rows
}

// matrixNode is a node with two routed pods (IPv4 and IPv6, offloads off
// so the veths carry packets, not super-packets) and iptables rules that
// drop every third UDP/IPv4 datagram and every 20th large TCP/IPv4 segment
// to the server: kernel drops and TCP retransmissions to export.
func matrixNode(t *testing.T) (*node, *pod, *pod) {
	n := newNode(t)
	cli, srv := n.addRoutedPod(t, 1), n.addRoutedPod(t, 2)
	cli.offloads(t, n, false)
	srv.offloads(t, n, false)
	iptables(t, n.ns, false, "-A", "FORWARD", "-p", "udp", "--dport", itoa(matrixUDP4),
		"-m", "statistic", "--mode", "nth", "--every", "3", "--packet", "0", "-j", "DROP")
	iptables(t, n.ns, false, "-A", "FORWARD", "-p", "tcp", "--dport", itoa(matrixTCP4), "-m", "length", "--length", "1000:65535",
		"-m", "statistic", "--mode", "nth", "--every", "20", "--packet", "10", "-j", "DROP")
	return n, cli, srv
}

// runMatrixAgent runs podflow on n exporting to urls while the traffic
// flows, then checks the truth (a packet socket's counts) against the
// traffic as constructed and the reference against the truth.
func runMatrixAgent(t *testing.T, n *node, cli, srv *pod, tune func(*config.Config), refURL string, ref *ipfixCollector, urls ...string) *matrixRun {
	t.Helper()
	sniffer := decoders.Sniff(t, n.ns)
	ag := startAgentWith(t, n, func(c *config.Config) {
		tune(c)
	}, urls...)
	fanout := ag.fanout
	udp4 := sendUDPExpectingLoss(t, cli, srv, srv.v4, matrixUDP4, matrixUDPSent, matrixUDPSize, matrixUDPSent-matrixUDPSent/3)
	udp6 := sendUDP(t, cli, srv, srv.v6, matrixUDP6, matrixUDPSent, matrixUDPSize)
	tcp4 := sendTCP(t, cli, srv, srv.v4, matrixTCP4, 150_000)
	tcp6 := sendTCP(t, cli, srv, srv.v6, matrixTCP6, 100_000)
	stats := ag.stop(t)
	sniffed := sniffer.Flows(t)
	run := &matrixRun{stats: stats, truth: map[flow.Tuple]decoders.Sniffed{}, background: map[flow.Tuple]bool{}, fanout: fanout}

	// The truth is the traffic as constructed.
	u4, u6 := tupleOf(udp4, netip.AddrPortFrom(srv.v4, matrixUDP4), flow.ProtoUDP), tupleOf(udp6, netip.AddrPortFrom(srv.v6, matrixUDP6), flow.ProtoUDP)
	t4, t6 := tupleOf(tcp4.local, netip.AddrPortFrom(srv.v4, matrixTCP4), flow.ProtoTCP), tupleOf(tcp6.local, netip.AddrPortFrom(srv.v6, matrixTCP6), flow.ProtoTCP)
	want := map[flow.Tuple][2]uint64{
		u4: {matrixUDPSent, matrixUDPSent * (20 + 8 + matrixUDPSize)}, u6: {matrixUDPSent, matrixUDPSent * (40 + 8 + matrixUDPSize)},
		t4: {uint64(tcp4.segsOut), 0}, t4.Reverse(): {uint64(tcp4.segsIn), 0},
		t6: {uint64(tcp6.segsOut), 0}, t6.Reverse(): {uint64(tcp6.segsIn), 0},
	}
	for tu, w := range want {
		g := sniffed[tu]
		if g.Packets != w[0] || (w[1] != 0 && g.Octets != w[1]) {
			t.Fatalf("%v: the packet socket counted %d packets %d octets, the test sent %d (%d octets)", tu, g.Packets, g.Octets, w[0], w[1])
		}
		run.truth[tu] = g
	}
	for tu := range sniffed {
		if _, ok := want[tu]; !ok {
			run.background[tu] = true
			t.Logf("background flow on the node, exported but not checked: %v", tu)
		}
	}

	// The reference's measurements are those of the sockets and rules.
	recs := ref.waitRecords(t, stats[refURL].RecordsSent)
	for _, r := range recs {
		if r.SrcAddr.Is6() {
			run.ipv6Records++
		}
	}
	run.ref = matrixViews(recs, allGroups)
	if v := run.ref[u4]; v.drops != [2]uint64{matrixUDPSent / 3, matrixUDPSent / 3 * (20 + 8 + matrixUDPSize)} || v.dropReasons != "NETFILTER_DROP" {
		t.Errorf("UDP/IPv4 drops %v %q, the rule dropped every third of %d datagrams", v.drops, v.dropReasons, matrixUDPSent)
	}
	if v := run.ref[t4]; tcp4.retrans == 0 || v.retrans != [2]uint64{uint64(tcp4.retrans), tcp4.bytesRetrans} {
		t.Errorf("TCP/IPv4 retransmissions %v, the socket's %d (%d octets), want > 0", v.retrans, tcp4.retrans, tcp4.bytesRetrans)
	}
	for _, tu := range []flow.Tuple{t4, t6} {
		if v := run.ref[tu]; v.rtt[0] == 0 || !v.handshake.Seen || v.src.PID != uint32(os.Getpid()) {
			t.Errorf("%v: rtt %v, handshake %+v, source process %+v: want RTT samples, the handshake, this test's pid", tu, v.rtt, v.handshake, v.src)
		}
	}
	return run
}

// cell runs one cell's subtest and records its row.
func (r *matrixRun) cell(t *testing.T, c matrixCell) {
	row := matrixRow{protocol: c.protocol, decoder: c.decoder, sequence: c.sequence, groups: strings.Join(c.groups, " ")}
	switch {
	case c.reference:
		row.groups = "reference: vs sockets, iptables"
	case row.groups == "":
		row.groups = "none"
	}
	ok := t.Run(c.protocol+"/"+c.decoder, func(t *testing.T) { r.check(t, c, &row) })
	row.result = map[bool]string{true: "PASS", false: "FAIL"}[ok]
	r.rows = append(r.rows, row)
}

func (r *matrixRun) check(t *testing.T, c matrixCell, row *matrixRow) {
	s := r.stats[c.url]
	v5 := c.protocol == "NetFlow5"
	wantLost := uint64(0)
	if v5 { // v5 carries IPv4 only: the IPv6 records are counted, not sent
		wantLost = r.ipv6Records
		e, ok := r.exporter(c.url).(interface{ Unexportable() uint64 })
		if !ok || e.Unexportable() != r.ipv6Records {
			t.Errorf("NetFlow v5 exporter: want %d IPv6 records counted unexportable", r.ipv6Records)
		}
	}
	if s.RecordsLost != wantLost || s.RecordsSent == 0 {
		t.Errorf("exporter sent %d records and lost %d, want %d lost", s.RecordsSent, s.RecordsLost, wantLost)
	}
	recs, seqErrs := c.decode(t)
	row.records = fmt.Sprintf("%d/%d", len(recs), s.RecordsSent)
	if c.aggregates {
		row.records = fmt.Sprintf("%d lines/%d", len(recs), s.RecordsSent)
	} else if uint64(len(recs)) != s.RecordsSent {
		t.Errorf("decoded %d records, the exporter sent %d", len(recs), s.RecordsSent)
	}
	for _, e := range seqErrs {
		t.Errorf("sequence: %s", e)
	}

	truth := map[flow.Tuple]decoders.Sniffed{}
	for tu, f := range r.truth {
		if !v5 || tu.SrcAddr.Is4() {
			truth[tu] = f
		}
	}
	got := matrixSums(recs)
	for tu := range got {
		if _, ok := truth[tu]; !ok && !r.background[tu] {
			t.Errorf("decoded a flow the node did not carry: %v", tu)
		}
	}
	var dStart, dEnd time.Duration
	for tu, w := range truth {
		g := got[tu]
		if g.Packets != w.Packets || g.Octets != w.Octets {
			t.Errorf("%v: %d packets %d octets, the truth %d %d", tu, g.Packets, g.Octets, w.Packets, w.Octets)
		}
		ds, de := g.First.Sub(w.First), g.Last.Sub(w.Last)
		if ds.Abs() > pollInterval+c.resolution || de.Abs() > pollInterval+c.resolution {
			t.Errorf("%v: starts %s ends %s; the first packet %s, the last %s: more than %v apart",
				tu, g.First.Format(time.StampMicro), g.Last.Format(time.StampMicro), w.First.Format(time.StampMicro), w.Last.Format(time.StampMicro), pollInterval+c.resolution)
		}
		dStart, dEnd = maxAbs(dStart, ds), maxAbs(dEnd, de)
	}
	row.start, row.end = fmt.Sprint(dStart.Round(time.Microsecond)), fmt.Sprint(dEnd.Round(time.Microsecond))

	if c.reference {
		return
	}
	views := matrixViews(recs, c.groups)
	for tu := range truth {
		if want := r.ref[tu].only(c.groups); views[tu] != want {
			t.Errorf("%v: enterprise elements %+v, the reference %+v", tu, views[tu], want)
		}
	}
}

func (r *matrixRun) exporter(url string) exporter.Exporter {
	for i, name := range r.fanout.Names {
		if name == url {
			return r.fanout.Exporters[i]
		}
	}
	return nil
}

func maxAbs(a, b time.Duration) time.Duration {
	if b.Abs() > a.Abs() {
		return b
	}
	return a
}

// matrixSums adds up each tuple's packets and octets, with its earliest
// start and latest end (records without packets carry no times).
func matrixSums(recs []flow.Record) map[flow.Tuple]flow.Counters {
	out := map[flow.Tuple]flow.Counters{}
	for _, r := range recs {
		if r.Packets == 0 {
			continue
		}
		c := out[r.Tuple]
		c.Add(flow.Counters{Packets: r.Packets, Octets: r.Octets, First: r.First, Last: r.Last})
		out[r.Tuple] = c
	}
	return out
}

// matrixView is what a decoder read of a flow's measurements, merged over
// its records in a way that does not depend on their order (decoders need
// not keep it): RTT samples, min and max; retransmitted packets and
// octets; the handshake; wire retransmissions; dropped packets and
// octets; the drop reasons seen; the processes at either end.
type matrixView struct {
	rtt         [3]uint32
	retrans     [2]uint64
	handshake   flow.Handshake
	wire        uint32
	drops       [2]uint64
	dropReasons string
	src, dst    flow.Process
}

func matrixViews(recs []flow.Record, groups []string) map[flow.Tuple]matrixView {
	merged := map[flow.Tuple]*flow.Measures{}
	reasons := map[flow.Tuple][]string{}
	out := map[flow.Tuple]matrixView{}
	for _, r := range recs {
		m := merged[r.Tuple]
		if m == nil {
			m = &flow.Measures{}
			merged[r.Tuple] = m
		}
		m.Add(&r.Measures)
		if r.Measures.DropReason != "" && !slices.Contains(reasons[r.Tuple], r.Measures.DropReason) {
			reasons[r.Tuple] = append(reasons[r.Tuple], r.Measures.DropReason)
		}
		v := out[r.Tuple]
		if r.Context.Src.Known() {
			v.src = r.Context.Src
		}
		if r.Context.Dst.Known() {
			v.dst = r.Context.Dst
		}
		out[r.Tuple] = v
	}
	for tu, m := range merged {
		v := out[tu]
		v.rtt = [3]uint32{m.RTTSamples, m.RTTMinUs, m.RTTMaxUs}
		v.retrans = [2]uint64{uint64(m.RetransPackets), m.RetransOctets}
		v.handshake, v.wire = m.Handshake, m.WireRetransPackets
		v.drops = [2]uint64{m.DropPackets, m.DropOctets}
		slices.Sort(reasons[tu])
		v.dropReasons = strings.Join(reasons[tu], ",")
		out[tu] = v.only(groups)
	}
	return out
}

// only keeps the groups named.
func (v matrixView) only(groups []string) matrixView {
	var o matrixView
	for _, g := range groups {
		switch g {
		case groupRTT:
			o.rtt = v.rtt
		case groupRetrans:
			o.retrans = v.retrans
		case groupHandshake:
			o.handshake = v.handshake
		case groupWire:
			o.wire = v.wire
		case groupDrops:
			o.drops = v.drops
		case groupDropReason:
			o.dropReasons = v.dropReasons
		case groupProcess:
			o.src, o.dst = v.src, v.dst
		}
	}
	return o
}

func logMatrix(t *testing.T, rows []matrixRow) {
	var b bytes.Buffer
	w := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "protocol\tdecoder\trecords\tmax Δstart\tmax Δend\tsequence check\tenterprise groups\tresult")
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.protocol, r.decoder, r.records, r.start, r.end, r.sequence, r.groups, r.result)
	}
	w.Flush()
	t.Logf("interop matrix (Δ: decoded time minus the packet socket's, per flow, the largest):\n%s", b.String())
}
