package e2e

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/podflow/podflow/config"
	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/decoders"
)

// One podflow run exported at once over IPFIX/TCP to its own collector (the
// reference), over IPFIX/UDP to pmacct's nfacctd with the shipped config
// and primitives, and over IPFIX/UDP to a capture that ipfixDump (libfixbuf,
// the strictest RFC checker) reads with RFC 5610 type records: nfacctd's
// per-flow packets and octets equal the reference's, the enterprise
// elements come out by name, and ipfixDump reads the whole stream without
// a complaint and knows every enterprise element.
func TestInteropNfacctdAndIpfixDump(t *testing.T) {
	dump := decoders.RequireTool(t, "ipfixDump")
	rp := processNode(t) // routed pods; its agent exports to its own collector and tshark
	rp.agent.stop(t)     // restart below with the extra collectors
	nfacctd := decoders.StartNfacctd(t, "../../configs/pmacct")
	capture := decoders.Listen(t)
	capURL := "ipfix+udp://" + capture.Addr().String()
	nfURL := "ipfix+udp://" + nfacctd.Addr().String()
	ref := startIPFIXCollector(t, "tcp")
	ag := startAgentWith(t, rp.node, func(c *config.Config) {}, ref.url("ipfix+tcp"), nfURL, capURL)

	_, srv := rp.addrs(false)
	sendUDP(t, rp.client, rp.srv, srv, 7400, 20, 300)
	sendTCP(t, rp.client, rp.srv, srv, 7401, 30_000)
	stats := ag.stop(t)
	want := sumByTuple(ref.waitRecords(t, stats[ref.url("ipfix+tcp")].RecordsSent))

	// nfacctd: aggregated by the shipped primitives (timestamps among them),
	// so at most one line per record; sum per 5-tuple.
	lines, err := nfacctd.WaitRecords(1, waitLimit)
	if err != nil {
		t.Fatal(err)
	}
	got := map[flow.Tuple]flow.Counters{}
	poll(t, "nfacctd to print every flow", func() bool {
		lines, err = nfacctd.WaitRecords(1, waitLimit)
		if err != nil {
			t.Fatal(err)
		}
		got = nfacctdSums(t, lines)
		return equalSums(got, want)
	})
	for tu, w := range want {
		if g := got[tu]; g != w {
			t.Errorf("nfacctd %v: %+v, reference %+v", tu, g, w)
		}
	}
	sawRTT := false
	for _, l := range lines {
		if v, ok := l["tcp_rtt_sample_count"]; ok && fmt.Sprint(v) != "0" && fmt.Sprint(v) != "" {
			sawRTT = true
		}
	}
	if !sawRTT {
		t.Error("nfacctd decoded no podflow RTT element through the shipped primitives")
	}

	// ipfixDump on the captured stream (UDP datagrams are whole messages).
	var stream bytes.Buffer
	for _, d := range capture.Datagrams() {
		stream.Write(d)
	}
	path := filepath.Join(t.TempDir(), "capture.ipfix")
	if err := os.WriteFile(path, stream.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	cmd := exec.Command(dump, "--in", path, "--rfc5610")
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil || errOut.Len() > 0 {
		t.Fatalf("ipfixDump: %v\n%s", err, errOut.String())
	}
	if strings.Contains(out.String(), "_alienInformationElement") {
		t.Error("ipfixDump met an enterprise element no type record described")
	}
	if s := stats[capURL]; !strings.Contains(out.String(), fmt.Sprintf("*** File Stats: %d Messages", s.MessagesSent)) {
		t.Errorf("ipfixDump did not read all %d messages:\n%s", s.MessagesSent, tail(out.String(), 5))
	}
}

func nfacctdSums(t *testing.T, lines []map[string]any) map[flow.Tuple]flow.Counters {
	out := map[flow.Tuple]flow.Counters{}
	num := func(v any) uint64 {
		var n uint64
		fmt.Sscan(fmt.Sprint(v), &n)
		return n
	}
	for _, l := range lines {
		src, err1 := netip.ParseAddr(fmt.Sprint(l["ip_src"]))
		dst, err2 := netip.ParseAddr(fmt.Sprint(l["ip_dst"]))
		if err1 != nil || err2 != nil {
			continue
		}
		proto := protoNumber(fmt.Sprint(l["ip_proto"]))
		tu := flow.Tuple{SrcAddr: src.Unmap(), DstAddr: dst.Unmap(), SrcPort: uint16(num(l["port_src"])), DstPort: uint16(num(l["port_dst"])), Proto: proto}
		c := out[tu]
		c.Packets += num(l["packets"])
		c.Octets += num(l["bytes"])
		out[tu] = c
	}
	return out
}

func equalSums(a, b map[flow.Tuple]flow.Counters) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
