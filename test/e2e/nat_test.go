package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap/zaptest/observer"

	"github.com/podflow/podflow/agent"
	"github.com/podflow/podflow/config"
	"github.com/podflow/podflow/enrich/conntrack"
	"github.com/podflow/podflow/enrich/owners"
	"github.com/podflow/podflow/flow"
)

var (
	serviceV4 = netip.MustParseAddr("10.96.0.10")
	serviceV6 = netip.MustParseAddr("fd96::10")
)

// addService implements a ClusterIP-style service in the node: packets to
// svc:80 are DNAT'ed to backend:8080 (the proto given).
func addService(t *testing.T, rp *routedPair, ipv6 bool, proto string, svc, backend netip.Addr) {
	t.Helper()
	iptables(t, rp.node.ns, ipv6, "-t", "nat", "-A", "PREROUTING", "-d", svc.String(), "-p", proto, "--dport", "80",
		"-j", "DNAT", "--to-destination", netip.AddrPortFrom(backend, 8080).String())
}

// conntrackReply returns the reply-direction source of the connection whose
// original tuple is from → to, as `conntrack -L` prints it.
func conntrackReply(t *testing.T, rp *routedPair, proto string, from, to netip.AddrPort) netip.AddrPort {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", rp.node.ns.Name, "conntrack", "-L", "-p", proto,
		"-s", from.Addr().String(), "-d", to.Addr().String()).CombinedOutput()
	if err != nil {
		t.Fatalf("conntrack -L: %v\n%s", err, out)
	}
	re := regexp.MustCompile(`src=(\S+) dst=(\S+) sport=(\d+) dport=(\d+)`)
	for _, line := range strings.Split(string(out), "\n") {
		m := re.FindAllStringSubmatch(line, 2)
		if len(m) != 2 || m[0][3] != fmt.Sprint(from.Port()) || m[0][4] != fmt.Sprint(to.Port()) {
			continue
		}
		return netip.MustParseAddrPort(net.JoinHostPort(m[1][1], m[1][3]))
	}
	t.Fatalf("conntrack -L has no %s connection %s → %s:\n%s", proto, from, to, out)
	return netip.AddrPort{}
}

// A service IP implemented with iptables DNAT in the node: the client's
// flow to it carries the backend's address and port, as conntrack -L shows
// them, for TCP and UDP over IPv4 and TCP over IPv6.
func TestServiceFlowCarriesItsBackend(t *testing.T) {
	for _, tc := range []struct {
		ipv6  bool
		proto string
	}{{false, "tcp"}, {false, "udp"}, {true, "tcp"}} {
		t.Run(family(tc.ipv6)+"-"+tc.proto, func(t *testing.T) {
			rp := processNode(t)
			_, backendAddr := rp.addrs(tc.ipv6)
			svc := serviceV4
			if tc.ipv6 {
				svc = serviceV6
			}
			addService(t, rp, tc.ipv6, tc.proto, svc, backendAddr)
			backend := netip.AddrPortFrom(backendAddr, 8080)
			stop := serve(t, rp.srv, tc.proto, backend)
			c := startChild(t, rp.client.ns)
			service := netip.AddrPortFrom(svc, 80)
			local := netip.MustParseAddrPort(c.do(t, tc.proto+" "+service.String()))
			c.do(t, "send 3")
			if tc.proto == "udp" {
				stop(3)
			}
			c.do(t, "finish")
			if tc.proto == "tcp" {
				stop(0)
			}
			reply := conntrackReply(t, rp, tc.proto, local, service)
			_, recs := rp.finish(t)
			p := flow.ProtoTCP
			if tc.proto == "udp" {
				p = flow.ProtoUDP
			}
			nat := contextOf(recs, tupleOf(local, service, p)).NAT
			got := netip.AddrPortFrom(nat.DstAddr, nat.DstPort)
			if got != reply || got != backend {
				t.Errorf("flow to the service: post-NAT destination %s, conntrack -L says %s, backend is %s", got, reply, backend)
			}
			if netip.AddrPortFrom(nat.SrcAddr, nat.SrcPort) != local {
				t.Errorf("post-NAT source %s:%d, want the client's own %s (no SNAT)", nat.SrcAddr, nat.SrcPort, local)
			}
		})
	}
}

// Thousands of short connections through the service overflow podflow's
// conntrack event socket (made small here): podflow stays up, resyncs from
// a dump, says so in its log and counters, and still names the backend of
// a connection made after the flood.
func TestConntrackFloodResyncs(t *testing.T) {
	var nat *conntrack.Table
	var metricsAddr string
	var natMu sync.Mutex
	rp := &routedPair{}
	n := newNode(t)
	rp.node, rp.client, rp.srv = n, n.addRoutedPod(t, 1), n.addRoutedPod(t, 2)
	rp.col = startIPFIXCollector(t, "tcp") // 8000 flood flows: TCP loses none
	rp.colURL = rp.col.url("ipfix+tcp")
	rp.agent = startAgentFull(t, n.ns, func(c *config.Config) { c.ProcessContext = false },
		func(o *agent.Options) {
			o.Conntrack = func(c *conntrack.Config) { c.ReadBuffer = 8192 }
			o.Context = func(_ *owners.Table, ct *conntrack.Table) { natMu.Lock(); nat = ct; natMu.Unlock() }
			o.Metrics = func(a net.Addr) { natMu.Lock(); metricsAddr = a.String(); natMu.Unlock() }
		}, rp.colURL)
	addService(t, rp, false, "udp", serviceV4, rp.srv.v4)

	// 8000 UDP "connections": one datagram each from distinct source ports,
	// sent from the pod's namespace (sockets belong to the namespace of the
	// thread that creates them: all on the locked thread of Do).
	err := rp.client.ns.Do(func() error {
		for i := range 8000 {
			c, err := net.Dial("udp", netip.AddrPortFrom(serviceV4, 80).String())
			if err != nil {
				return fmt.Errorf("dial %d: %w", i, err)
			}
			c.Write([]byte("x"))
			c.Close()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	natMu.Lock()
	table := nat
	natMu.Unlock()
	if table == nil {
		t.Fatal("no conntrack table")
	}
	poll(t, "a resync after the overrun", func() bool { s := table.Stats(); return s.Overruns > 0 && s.Resyncs > 0 })
	// The table converges on the kernel's: every flood connection held.
	// The table converges on the kernel's: it holds the translated
	// connections, here those to the service.
	kernelCount := func() int {
		out, err := exec.Command("ip", "netns", "exec", rp.node.ns.Name, "conntrack", "-L", "-p", "udp", "-d", serviceV4.String()).Output()
		if err != nil {
			t.Fatalf("conntrack -L: %v", err)
		}
		return strings.Count(string(out), "\n")
	}
	var lastTable, lastKernel int
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last seen: table %d entries, kernel %d; stats %+v", lastTable, lastKernel, table.Stats())
		}
	})
	poll(t, "the table to hold the kernel's connections", func() bool {
		lastTable, lastKernel = table.Stats().Entries, kernelCount()
		return lastTable == lastKernel
	})
	// The overruns and resyncs are in the metrics, as the table counts them.
	natMu.Lock()
	maddr := metricsAddr
	natMu.Unlock()
	st := table.Stats()
	scraped := scrape(t, maddr)
	if scraped["podflow_conntrack_overruns_total"] != float64(st.Overruns) || scraped["podflow_conntrack_resyncs_total"] != float64(st.Resyncs) {
		t.Errorf("metrics: overruns %v resyncs %v; table: %d and %d",
			scraped["podflow_conntrack_overruns_total"], scraped["podflow_conntrack_resyncs_total"], st.Overruns, st.Resyncs)
	}
	// A connection after the flood is still enriched.
	stop := serve(t, rp.srv, "udp", netip.AddrPortFrom(rp.srv.v4, 8080))
	c := startChild(t, rp.client.ns)
	local := netip.MustParseAddrPort(c.do(t, "udp "+netip.AddrPortFrom(serviceV4, 80).String()))
	c.do(t, "send 2")
	stop(2)
	c.do(t, "finish")
	svcTuple := tupleOf(local, netip.AddrPortFrom(serviceV4, 80), flow.ProtoUDP)
	poll(t, "the post-flood connection in the table", func() bool { _, ok := table.Lookup(svcTuple); return ok })
	stats := rp.agent.stop(t)
	recs := rp.col.waitRecords(t, stats[rp.colURL].RecordsSent)
	nat2 := contextOf(recs, tupleOf(local, netip.AddrPortFrom(serviceV4, 80), flow.ProtoUDP)).NAT
	if nat2.DstAddr != rp.srv.v4 || nat2.DstPort != 8080 {
		t.Errorf("after the flood: post-NAT %+v, want %s:8080", nat2, rp.srv.v4)
	}
	s := table.Stats()
	t.Logf("conntrack table: %+v", s)
	if s.Overruns == 0 || s.Resyncs == 0 || rp.agent.logs.FilterMessageSnippet("overrun").Len() == 0 {
		t.Errorf("overruns %d resyncs %d; logged: %v", s.Overruns, s.Resyncs, messages(rp.agent.logs.All()))
	}
	if rp.agent.logs.FilterMessage("NAT context totals").Len() != 1 {
		t.Errorf("no NAT totals at shutdown")
	}
}

func messages(entries []observer.LoggedEntry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.Message)
	}
	return out
}

// scrape reads podflow's /metrics into name{labels} → value.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}
