package bpf

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
)

func TestCIDRKeys(t *testing.T) {
	for _, tc := range []struct {
		prefix  string
		version uint8
		bits    uint32
		addr    string
	}{
		{"10.0.0.0/8", 4, 8 + 96 + 8, "::ffff:10.0.0.0"},
		{"10.1.2.3/16", 4, 8 + 96 + 16, "::ffff:10.1.0.0"}, // host bits dropped
		{"0.0.0.0/0", 4, 8 + 96, "::ffff:0.0.0.0"},
		{"192.168.0.1/32", 4, 8 + 128, "::ffff:192.168.0.1"},
		{"fd00::/16", 6, 8 + 16, "fd00::"},
		{"::/0", 6, 8, "::"},
		{"::ffff:10.0.0.0/104", 6, 8 + 104, "::ffff:10.0.0.0"}, // an IPv6 prefix: IPv6 packets only
	} {
		k := cidrKey(netip.MustParsePrefix(tc.prefix))
		want := FlowCidrKey{Prefixlen: tc.bits, Version: tc.version, Addr: netip.MustParseAddr(tc.addr).As16()}
		if k != want {
			t.Errorf("%s: key %+v, want %+v", tc.prefix, k, want)
		}
	}
}

func TestCompileCIDRs(t *testing.T) {
	f := Filter{AllowCIDRs: prefixes("10.0.0.0/8", "10.1.0.0/16"), DenyCIDRs: prefixes("10.1.0.0/16", "fd00::/8")}
	k, err := f.compile()
	if err != nil {
		t.Fatal(err)
	}
	want := []ebpf.MapKV{
		{Key: cidrKey(netip.MustParsePrefix("10.0.0.0/8")), Value: uint8(filterAllow)},
		{Key: cidrKey(netip.MustParsePrefix("10.1.0.0/16")), Value: uint8(filterDeny)}, // equal prefixes: deny
		{Key: cidrKey(netip.MustParsePrefix("fd00::/8")), Value: uint8(filterDeny)},
	}
	if len(k.cidrs) != len(want) {
		t.Fatalf("trie %+v, want %+v", k.cidrs, want)
	}
	for i := range want {
		if k.cidrs[i] != want[i] {
			t.Errorf("trie entry %d = %+v, want %+v", i, k.cidrs[i], want[i])
		}
	}
	if k.cidrFlags != filterHasAllow|filterHasDeny || k.protos || k.portFlags != 0 {
		t.Fatalf("flags cidr %d protos %v ports %d", k.cidrFlags, k.protos, k.portFlags)
	}
}

func TestCompileProtocols(t *testing.T) {
	k, err := (&Filter{AllowProtocols: []uint8{6, 17, 1}, DenyProtocols: []uint8{1, 132}}).compile()
	if err != nil {
		t.Fatal(err)
	}
	for p, excl := range k.protoExcl {
		want := uint8(1)
		if p == 6 || p == 17 {
			want = 0
		}
		if excl != want {
			t.Errorf("protocol %d excluded = %d, want %d", p, excl, want)
		}
	}
	k, _ = (&Filter{DenyProtocols: []uint8{58}}).compile()
	if !k.protos || k.protoExcl[58] != 1 || k.protoExcl[6] != 0 {
		t.Fatalf("deny 58: protos %v, [58]=%d [6]=%d", k.protos, k.protoExcl[58], k.protoExcl[6])
	}
	if k, _ := (&Filter{}).compile(); k.protos || k.cidrFlags != 0 || k.portFlags != 0 || len(k.cidrs) != 0 {
		t.Fatalf("empty filter compiled to %+v", k)
	}
}

func TestCompilePortsNarrowestWins(t *testing.T) {
	k, err := (&Filter{
		AllowPorts: []PortRange{{0, 65535}, {6063, 6063}, {100, 200}},
		DenyPorts:  []PortRange{{6000, 6100}, {100, 200}, {65535, 65535}},
	}).compile()
	if err != nil {
		t.Fatal(err)
	}
	bit := func(m *[8192]uint8, p int) bool { return m[p>>3]>>(p&7)&1 == 1 }
	for p := range 65536 {
		deny := (p >= 6000 && p <= 6100 && p != 6063) || (p >= 100 && p <= 200) || p == 65535
		if bit(&k.portDenied, p) != deny || bit(&k.portAllowed, p) != !deny {
			t.Fatalf("port %d: denied %v allowed %v, want denied %v", p, bit(&k.portDenied, p), bit(&k.portAllowed, p), deny)
		}
	}
	if k.portFlags != filterHasAllow|filterHasDeny {
		t.Fatalf("port flags %d", k.portFlags)
	}
	k, _ = (&Filter{AllowPorts: []PortRange{{53, 53}}}).compile()
	if k.portFlags != filterHasAllow {
		t.Fatalf("allow only: port flags %d", k.portFlags)
	}
}

func TestCompileRejects(t *testing.T) {
	for _, tc := range []struct {
		f    Filter
		want string
	}{
		{Filter{DenyCIDRs: []netip.Prefix{{}}}, "filter: invalid CIDR invalid Prefix"},
		{Filter{AllowPorts: []PortRange{{10, 9}}}, "filter: port range 10-9: first above last"},
	} {
		if _, err := tc.f.compile(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.f, err, tc.want)
		}
	}
}

func TestSamplingThreshold(t *testing.T) {
	for n, want := range map[uint32]uint32{
		0: 0, 1: 0, 2: 1 << 31, 3: 1431655765, 8: 1 << 29, 10: 429496730, 100: 42949673, 1 << 24: 256,
	} {
		if got := samplingThreshold(n); got != want {
			t.Errorf("samplingThreshold(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestPortRangeString(t *testing.T) {
	if s := (PortRange{80, 80}).String(); s != "80" {
		t.Errorf("%q", s)
	}
	if s := (PortRange{1, 1023}).String(); s != "1-1023" {
		t.Errorf("%q", s)
	}
}
