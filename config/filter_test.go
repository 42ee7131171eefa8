package config

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestFilterOptionsFromEverySource(t *testing.T) {
	path := writeFile(t, "p.yaml", "filter-ports: [1-1023, \"!22\", 65535]\nsampling-interval: 10\n")
	got := mustLoad(t, []string{"--config", path, "--filter-cidrs", "10.0.0.0/8,!10.1.2.3/16", "--filter-cidrs", "fd00::1"},
		env{"PODFLOW_FILTER_PROTOCOLS": "tcp, !ICMP, icmpv6, sctp, udp, 47"})
	wantCIDRs := []CIDRRule{
		{Prefix: netip.MustParsePrefix("10.0.0.0/8")},
		{Deny: true, Prefix: netip.MustParsePrefix("10.1.0.0/16")}, // host bits dropped
		{Prefix: netip.MustParsePrefix("fd00::1/128")},             // a bare address is a host prefix
	}
	wantProtos := []ProtocolRule{{Protocol: 6}, {Deny: true, Protocol: 1}, {Protocol: 58}, {Protocol: 132}, {Protocol: 17}, {Protocol: 47}}
	wantPorts := []PortRule{{First: 1, Last: 1023}, {Deny: true, First: 22, Last: 22}, {First: 65535, Last: 65535}}
	if !reflect.DeepEqual(got.FilterCIDRs, wantCIDRs) || !reflect.DeepEqual(got.FilterProtocols, wantProtos) ||
		!reflect.DeepEqual(got.FilterPorts, wantPorts) || got.SamplingInterval != 10 {
		t.Fatalf("got %+v %+v %+v %d", got.FilterCIDRs, got.FilterProtocols, got.FilterPorts, got.SamplingInterval)
	}
	// The log shows each rule as it would be written.
	for o, want := range map[string][]string{
		"filter-cidrs":     {"10.0.0.0/8", "!10.1.0.0/16", "fd00::1/128"},
		"filter-protocols": {"tcp", "!icmp", "icmpv6", "sctp", "udp", "47"},
		"filter-ports":     {"1-1023", "!22", "65535"},
	} {
		opt, _ := lookupOption(o)
		if shown := opt.show(got); !reflect.DeepEqual(shown, want) {
			t.Errorf("%s shows %q, want %q", o, shown, want)
		}
	}
}

func TestFilterParseErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--filter-cidrs", "10.0.0.0/33"},
			`--filter-cidrs: invalid CIDR "10.0.0.0/33" (want [!]ADDRESS/BITS, e.g. 10.0.0.0/8 or !fd00::/8) (from command line)`},
		{[]string{"--filter-cidrs", "!fe80::1%eth0"},
			`--filter-cidrs: invalid CIDR "!fe80::1%eth0" (want [!]ADDRESS/BITS, e.g. 10.0.0.0/8 or !fd00::/8) (from command line)`},
		{[]string{"--filter-protocols", "gre"},
			`--filter-protocols: invalid protocol "gre" (want tcp, udp, icmp, icmpv6, sctp or a number 0..255, ! to exclude) (from command line)`},
		{[]string{"--filter-ports", "http"},
			`--filter-ports: invalid port range "http" (want [!]PORT or [!]FIRST-LAST, e.g. 53 or !6000-6100) (from command line)`},
		{[]string{"--filter-ports", "1-"},
			`--filter-ports: invalid port range "1-" (want [!]PORT or [!]FIRST-LAST, e.g. 53 or !6000-6100) (from command line)`},
		{[]string{"--sampling-interval", "ten"}, `--sampling-interval: invalid integer "ten" (from command line)`},
	}
	for _, tc := range cases {
		if got := loadErr(t, tc.args, nil); got != tc.want {
			t.Errorf("%q:\n got %s\nwant %s", tc.args, got, tc.want)
		}
	}
}

func TestFilterValidate(t *testing.T) {
	cases := []struct {
		name   string
		modify func(c *Config)
		want   string
	}{
		{"port above 65535", func(c *Config) { c.FilterPorts = []PortRule{{First: 70000, Last: 70000}} },
			"--filter-ports: 70000: ports are 0..65535"},
		{"range end above 65535", func(c *Config) { c.FilterPorts = []PortRule{{Deny: true, First: 1, Last: 65536}} },
			"--filter-ports: !1-65536: ports are 0..65535"},
		{"range backwards", func(c *Config) { c.FilterPorts = []PortRule{{First: 20, Last: 10}} },
			"--filter-ports: 20-10: first port above last"},
		{"protocol 256", func(c *Config) { c.FilterProtocols = []ProtocolRule{{Protocol: 256}} },
			"--filter-protocols: protocol 256 is not in 0..255"},
		{"invalid prefix", func(c *Config) { c.FilterCIDRs = []CIDRRule{{Deny: true}} },
			"--filter-cidrs: invalid CIDR invalid Prefix"},
		{"sampling 0", func(c *Config) { c.SamplingInterval = 0 }, "--sampling-interval: must be in 1..16777216, got 0"},
		{"sampling too sparse", func(c *Config) { c.SamplingInterval = 1<<24 + 1 }, "--sampling-interval: must be in 1..16777216, got 16777217"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Defaults()
			tc.modify(c)
			if err := c.Validate(); err == nil || err.Error() != tc.want {
				t.Fatalf("Validate() = %v, want %s", err, tc.want)
			}
		})
	}
	// From the command line, a range that parses but is out of bounds is
	// reported by Validate, against its option.
	got := loadErr(t, []string{"--filter-ports", "20-10,70000", "--sampling-interval", "0", "--filter-protocols", "300"}, nil)
	want := strings.Join([]string{
		"--filter-protocols: protocol 300 is not in 0..255",
		"--filter-ports: 20-10: first port above last",
		"--filter-ports: 70000: ports are 0..65535",
		"--sampling-interval: must be in 1..16777216, got 0",
	}, "\n")
	if got != want {
		t.Fatalf("error\n got %s\nwant %s", got, want)
	}
	c := Defaults()
	c.SamplingInterval = MaxSamplingInterval
	c.FilterPorts = []PortRule{{First: 0, Last: 65535}}
	c.FilterProtocols = []ProtocolRule{{Protocol: 0}, {Protocol: 255}}
	if err := c.Validate(); err != nil {
		t.Fatalf("limits: %v", err)
	}
}

// An unquoted "!rule" in YAML is a tag on an empty value: refused with a hint.
func TestFilterYAMLUnquotedDeny(t *testing.T) {
	for _, content := range []string{"filter-ports:\n  - 80\n  - !22\n", "filter-cidrs: !10.1.0.0/16\n"} {
		path := writeFile(t, "p.yaml", content)
		got := loadErr(t, []string{"--config", path}, nil)
		if !strings.Contains(got, "is read as a YAML tag: quote it") {
			t.Errorf("%q: error %q", content, got)
		}
	}
	path := writeFile(t, "p.yaml", "filter-ports: [\"!22\"]\n")
	if got := mustLoad(t, []string{"--config", path}, nil); !reflect.DeepEqual(got.FilterPorts, []PortRule{{Deny: true, First: 22, Last: 22}}) {
		t.Fatalf("quoted: %+v", got.FilterPorts)
	}
}
