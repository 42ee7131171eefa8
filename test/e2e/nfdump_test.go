package e2e

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/podflow/podflow/flow"
)

// nfcapd is nfdump's collector daemon, the independent decoder of the
// end-to-end tests. It rotates files every 2 s; nfdump reads the closed ones.
type nfcapd struct {
	port int
	dir  string
	cmd  *exec.Cmd
	log  bytes.Buffer
}

func startNfcapd(t *testing.T) *nfcapd {
	t.Helper()
	if _, err := exec.LookPath("nfcapd"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("nfcapd not installed (apt-get install nfdump); CI=true forbids skipping")
		}
		t.Skip("nfcapd not installed (apt-get install nfdump)")
	}
	port := freeUDPPort(t)
	n := &nfcapd{port: port, dir: t.TempDir()}
	n.cmd = exec.Command("nfcapd", "-p", strconv.Itoa(port), "-b", "127.0.0.1", "-w", n.dir, "-t", "2")
	n.cmd.Stdout, n.cmd.Stderr = &n.log, &n.log
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.cmd.Process.Signal(syscall.SIGTERM)
		n.cmd.Wait()
	})
	return n
}

func (n *nfcapd) url() string { return fmt.Sprintf("ipfix+udp://127.0.0.1:%d", n.port) }

// records waits until nfdump decodes want records from the rotated files,
// then returns them.
func (n *nfcapd) records(t *testing.T, want int) []flow.Record {
	t.Helper()
	var recs []flow.Record
	var lastErr error
	deadline := time.Now().Add(waitLimit)
	for {
		recs, lastErr = n.read()
		if lastErr == nil && len(recs) >= want {
			break
		}
		if time.Now().After(deadline) {
			files, _ := os.ReadDir(n.dir)
			t.Fatalf("nfdump decoded %d of %d records (%v); files %v; nfcapd: %s", len(recs), want, lastErr, files, n.log.String())
		}
		time.Sleep(50 * time.Millisecond) // nfcapd rotates every 2 s
	}
	if len(recs) != want {
		t.Fatalf("nfdump decoded %d records, want %d (%v)", len(recs), want, lastErr)
	}
	return recs
}

func (n *nfcapd) read() ([]flow.Record, error) {
	entries, err := os.ReadDir(n.dir)
	if err != nil {
		return nil, err
	}
	var recs []flow.Record
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, "nfcapd.") || strings.Contains(name, "current") {
			continue
		}
		out, err := exec.Command("nfdump", "-r", n.dir+"/"+name, "-N", "-o", "csv").Output()
		if err != nil {
			return nil, fmt.Errorf("nfdump %s: %w", name, err)
		}
		r, err := parseNfdumpCSV(out)
		if err != nil {
			return nil, fmt.Errorf("nfdump %s: %w", name, err)
		}
		recs = append(recs, r...)
	}
	return recs, nil
}

func parseNfdumpCSV(out []byte) ([]flow.Record, error) {
	rd := csv.NewReader(bytes.NewReader(out))
	rd.FieldsPerRecord = -1 // summary lines follow the records
	rows, err := rd.ReadAll()
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	if len(rows[0]) < 2 || rows[0][0] != "ts" {
		return nil, fmt.Errorf("unexpected nfdump csv header %q", rows[0])
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	var recs []flow.Record
	for _, row := range rows[1:] {
		if len(row) != len(rows[0]) || row[0] == "Summary" || row[0] == "flows" {
			continue // summary lines
		}
		get := func(name string) string { return row[col[name]] }
		num := func(name string) uint64 { v, _ := strconv.ParseUint(get(name), 10, 64); return v }
		var r flow.Record
		r.SrcAddr, _ = netip.ParseAddr(get("sa"))
		r.DstAddr, _ = netip.ParseAddr(get("da"))
		r.SrcPort, r.DstPort = uint16(num("sp")), uint16(num("dp"))
		r.Proto = protoNumber(get("pr"))
		r.Packets, r.Octets = num("ipkt"), num("ibyt")
		r.IfIndex = uint32(num("in"))
		if out := num("out"); r.IfIndex == 0 {
			r.IfIndex, r.Direction = uint32(out), flow.Egress
		}
		// Whole seconds for NetFlow, milliseconds for IPFIX: a fraction in
		// the input parses without one in the layout.
		r.First, _ = time.Parse("2006-01-02 15:04:05", get("ts"))
		r.Last, _ = time.Parse("2006-01-02 15:04:05", get("te"))
		recs = append(recs, r)
	}
	return recs, nil
}

func protoNumber(s string) uint8 {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "TCP":
		return flow.ProtoTCP
	case "UDP":
		return flow.ProtoUDP
	case "ICMP":
		return flow.ProtoICMP
	case "ICMP6":
		return flow.ProtoICMPv6
	case "IGMP":
		return 2
	case "GRE":
		return 47
	case "ESP":
		return 50
	case "SCTP":
		return flow.ProtoSCTP
	}
	v, _ := strconv.Atoi(strings.TrimSpace(s))
	return uint8(v)
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}
