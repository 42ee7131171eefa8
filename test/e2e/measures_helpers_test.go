package e2e

import (
	"fmt"
	"net/netip"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/netnstest"
)

// iptables runs iptables (ip6tables for IPv6) inside ns.
func iptables(t *testing.T, ns *netnstest.Netns, ipv6 bool, args ...string) {
	t.Helper()
	cmd := "iptables"
	if ipv6 {
		cmd = "ip6tables"
	}
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns.Name, cmd}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", cmd, strings.Join(args, " "), err, out)
	}
}

// ruleCounters returns the packet and byte counters of the one rule of
// chain whose text contains marker (iptables-save -c form).
func ruleCounters(t *testing.T, ns *netnstest.Netns, ipv6 bool, chain, marker string) (packets, octets uint64) {
	t.Helper()
	cmd := "iptables-save"
	if ipv6 {
		cmd = "ip6tables-save"
	}
	out, err := exec.Command("ip", "netns", "exec", ns.Name, cmd, "-c", "-t", "filter").CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	re := regexp.MustCompile(`^\[(\d+):(\d+)\] -A ` + chain + ` .*` + regexp.QuoteMeta(marker))
	for _, line := range strings.Split(string(out), "\n") {
		if m := re.FindStringSubmatch(line); m != nil {
			packets, _ = strconv.ParseUint(m[1], 10, 64)
			octets, _ = strconv.ParseUint(m[2], 10, 64)
			return packets, octets
		}
	}
	t.Fatalf("no %s rule with %q in:\n%s", chain, marker, out)
	return 0, 0
}

// measuresByTuple merges the measurements of every record of each tuple.
func measuresByTuple(recs []flow.Record) map[flow.Tuple]flow.Measures {
	out := map[flow.Tuple]flow.Measures{}
	for _, r := range recs {
		m := out[r.Tuple]
		m.Add(&r.Measures)
		out[r.Tuple] = m
	}
	return out
}

func tupleOf(local, remote netip.AddrPort, proto uint8) flow.Tuple {
	return flow.Tuple{SrcAddr: local.Addr().Unmap(), DstAddr: remote.Addr().Unmap(),
		SrcPort: local.Port(), DstPort: remote.Port(), Proto: proto}
}

// within reports whether got lies within frac of want.
func within(got, want float64, frac float64) bool {
	return got >= want*(1-frac) && got <= want*(1+frac)
}

func family(ipv6 bool) string {
	if ipv6 {
		return "ipv6"
	}
	return "ipv4"
}

func describe(m flow.Measures) string {
	return fmt.Sprintf("rtt %d/%d/%d µs (%d samples), retrans %d/%d B, wire retrans %d, handshake %+v, drops %d/%d B %q",
		m.RTTMinUs, m.RTTMeanUs(), m.RTTMaxUs, m.RTTSamples, m.RetransPackets, m.RetransOctets,
		m.WireRetransPackets, m.Handshake, m.DropPackets, m.DropOctets, m.DropReason)
}

// assertSameMeasures checks that an independent decoder read the same
// measurements as podflow's collector, tuple by tuple.
func assertSameMeasures(t *testing.T, ours, theirs map[flow.Tuple]flow.Measures) {
	t.Helper()
	if len(ours) != len(theirs) {
		t.Errorf("podflow's collector has %d tuples, the independent decoder %d", len(ours), len(theirs))
	}
	for tu, m := range ours {
		o := theirs[tu]
		// RTT sums are rebuilt from mean × count on both sides only when
		// records were merged; compare what the wire carries.
		if m.RTTSamples != o.RTTSamples || m.RTTMinUs != o.RTTMinUs || m.RTTMaxUs != o.RTTMaxUs ||
			m.RetransPackets != o.RetransPackets || m.RetransOctets != o.RetransOctets ||
			m.Handshake != o.Handshake || m.WireRetransPackets != o.WireRetransPackets || m.DropPackets != o.DropPackets || m.DropOctets != o.DropOctets ||
			m.DropReason != o.DropReason {
			t.Errorf("%v:\n podflow: %s\n tshark:  %s", tu, describe(m), describe(o))
		}
	}
}
