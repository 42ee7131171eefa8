package ipfix

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/podflow/podflow/exporter"
	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/decoders"
)

// everyGroup returns a record of the family that carries every field
// group, with strings of every length class podflow sends.
func everyGroup(v6 bool, packets uint64) flow.Record {
	r := record("10.1.0.1", "10.2.0.2", 40000, 443, flow.ProtoTCP, packets)
	svc, natSrc, natDst := netip.MustParseAddr("10.96.0.10"), netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("10.2.0.9")
	if v6 {
		r = record("fd00::1", "fd00::2", 40000, 443, flow.ProtoTCP, packets)
		svc, natSrc, natDst = netip.MustParseAddr("fd96::a"), netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("fd00::9")
	}
	r.IfIndex, r.Direction, r.TCPFlags = 3, flow.Egress, flow.TCPSyn|flow.TCPAck
	r.Measures = flow.Measures{RTTSumUs: 300, RTTSamples: 2, RTTMinUs: 100, RTTMaxUs: 200, RetransPackets: 1, RetransOctets: 1448,
		Handshake: flow.Handshake{ServerUs: 150, ClientUs: 20, Seen: true}, WireRetransPackets: 2}
	r.Measures.SetDrop(1, 60, "NETFILTER_DROP", 0)
	r.Context = flow.Context{
		Src: flow.Process{PID: 4321, Name: "curl", Exe: "/usr/bin/" + strings.Repeat("c", 190), ContainerID: strings.Repeat("a", 64)},
		Dst: flow.Process{PID: 1, Name: "nginx: worker", Exe: "/usr/sbin/nginx", ContainerID: strings.Repeat("b", 64)},
		NAT: flow.NAT{SrcAddr: natSrc, DstAddr: natDst, SrcPort: 5555, DstPort: 8443},
		Kube: flow.Kube{
			Src: flow.KubeEndpoint{Pod: "client-7d9f", Namespace: "default", Node: "node-a", WorkloadKind: "Deployment",
				WorkloadName: "client", Labels: `{"app":"client"}`},
			Dst:       flow.KubeEndpoint{Pod: strings.Repeat("p", 253), Namespace: "web", Node: "node-b", Labels: `{"app":"` + strings.Repeat("w", 200) + `"}`},
			ServiceIP: svc, ServicePort: 443, ServicePortName: "web/frontend:https", FlowType: flow.FlowTypeInterNode,
		},
	}
	return r
}

// captureTCP accepts one exporter and writes its stream to a file: a TCP
// stream of IPFIX messages is exactly an IPFIX file (RFC 5655). wait
// returns the file's path once the exporter has closed the connection.
func captureTCP(t *testing.T) (address string, wait func() string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	path := filepath.Join(t.TempDir(), "session.ipfix")
	done := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer conn.Close()
		f, err := os.Create(path)
		if err != nil {
			done <- err
			return
		}
		_, err = io.Copy(f, conn)
		done <- errors.Join(err, f.Close())
	}()
	return ln.Addr().String(), func() string {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(waitLimit):
			t.Fatal("capture did not end")
		}
		return path
	}
}

// dumpSession runs ipfixDump (the binary at dump) over the session file at
// path, fails t on an error or a warning, checks its closing summary
// against the exporter's stats s and the data records the session must
// hold, and returns ipfixDump's output.
func dumpSession(t *testing.T, dump, path string, s exporter.Stats, dataRecords int) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	defer cancel()
	d, err := decoders.RunIPFIXDump(ctx, dump, path)
	if err != nil {
		t.Fatal(err)
	}
	if d.Stderr != "" {
		t.Fatalf("ipfixDump warned:\n%s", d.Stderr)
	}
	summary := fmt.Sprintf("*** File Stats: %d Messages, %d Data Records, %d Template Records ***", s.MessagesSent, dataRecords, s.TemplatesSent)
	if d.Stats != summary {
		t.Errorf("ipfixDump's summary %q, want %q", d.Stats, summary)
	}
	return d.Output
}

// ipfixDump (libfixbuf), the strictest decoder at hand, reads a whole TCP
// session: flow records of every field group with variable-length strings,
// the options templates, RFC 5610 type records (so it names podflow's
// elements instead of calling them alien), interface names and the
// statistics, with no error or warning.
func TestIPFIXDumpDecodesASession(t *testing.T) {
	dump := decoders.RequireTool(t, "ipfixDump")
	address, wait := captureTCP(t)
	e, err := New(Config{Network: "tcp", Address: address, ObservationDomainID: 5, ExportingProcessID: 77, StatsInterval: time.Hour,
		InterfaceName: func(ifindex uint32) (string, string, bool) {
			return fmt.Sprintf("veth%04x", ifindex), "veth", ifindex != 9
		}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	recs := append(mixedRecords(10), everyGroup(false, 101), everyGroup(true, 102))
	recs[0].IfIndex, recs[1].IfIndex = 9, 12
	lost := record("10.0.0.1", "10.0.0.2", 1, 2, flow.ProtoUDP, 5)
	lost.SrcAddr = netip.Addr{}
	if err := e.Export(append(recs, lost)); err == nil {
		t.Fatal("want the record without a source counted lost")
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	s := e.Stats()
	types := len(exporter.EnterpriseFields(exporter.DefaultPEN))
	records := len(recs) + types + 2 /* interfaces 3, 12 */ + 1 /* statistics */
	out := dumpSession(t, dump, wait(), s, records)
	if strings.Contains(out, "_alienInformationElement") {
		t.Error("ipfixDump did not learn every enterprise element from the type records")
	}
	for _, f := range exporter.EnterpriseFields(exporter.DefaultPEN) {
		// Every element named in the templates that use it.
		want := regexp.MustCompile(fmt.Sprintf(`ent: +%d +id: +%d +type: \S+ +len: +%d +%s\n`, f.PEN, f.ID, f.Length, f.Name))
		if !want.MatchString(out) {
			t.Errorf("no template field %s (%d/%d) in ipfixDump's output", f.Name, f.PEN, f.ID)
		}
	}
	for _, want := range []string{
		`\(10\) \(S\) +ingressInterface : 3\n\t\(82\) +interfaceName : \(len: 8\) veth0003\n\t\(83\) +interfaceDescription : \(len: 4\) veth\n`,
		`\(10\) \(S\) +ingressInterface : 12\n\t\(82\) +interfaceName : \(len: 8\) veth000c\n`,
		`\(32473/1\) +tcpRttMinMicroseconds : 100\n`,
		`\(32473/3\) +tcpRttMeanMicroseconds : 150\n`,
		`\(35632/169\) +SRC_PROC_NAME : \(len: 4\) curl\n`,
		`\(32473/10\) +sourceProcessExecutable : \(len: 199\) /usr/bin/c+\n`,
		`\(56506/103\) +destinationPodName : \(len: 253\) p+\n`,
		`\(56506/144\) +destinationPodLabels : \(len: 210\) \{"app":"w+"\}\n`,
		`\(56506/109\) +destinationServicePortName : \(len: 18\) web/frontend:https\n`,
		`\(32473/8\) +kernelDropReason : \(len: 14\) NETFILTER_DROP\n`,
		`\(341\) +informationElementName : \(len: 21\) tcpRttMinMicroseconds\n`,
		fmt.Sprintf(`\(144\) \(S\) +exportingProcessId : 77\n\t\(41\) +exportedMessageTotalCount : %d\n\t\(42\) +exportedFlowRecordTotalCount : %d\n\t\(40\) +exportedOctetTotalCount : %d\n\t\(166\) +notSentFlowTotalCount : 1\n\t\(167\) +notSentPacketTotalCount : 5\n\t\(168\) +notSentOctetTotalCount : 500\n`,
			s.MessagesSent, s.RecordsSent, s.BytesSent),
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("no match for %s in ipfixDump's output", want)
		}
	}
	if strings.Contains(out, "veth0009") {
		t.Error("an interface the callback does not know was named")
	}
	if t.Failed() {
		t.Logf("ipfixDump output:\n%s", out)
	}
}
