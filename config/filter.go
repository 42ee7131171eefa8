package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// The traffic filters (--filter-cidrs, --filter-protocols, --filter-ports)
// decide which packets the kernel accounts; excluded packets are only
// counted (kernel counter filtered_packets). Each rule allows what it
// names, or excludes it when written with a leading "!". Per address (or
// port) the most specific rule decides: the longest prefix, the narrowest
// port range; an allow and a deny equally specific give deny. A packet is
// excluded when its source OR destination is denied, and, if any allow
// rule of that kind exists, unless its source or destination is allowed.
// Packets without ports (ICMP, non-first fragments) match no port rule.

// CIDRRule is one --filter-cidrs value: "10.0.0.0/8", "!fd00::/8". An IPv4
// prefix matches IPv4 packets only, an IPv6 prefix IPv6 packets only.
type CIDRRule struct {
	Deny   bool
	Prefix netip.Prefix
}

// ProtocolRule is one --filter-protocols value: "tcp", "!icmp", "47".
type ProtocolRule struct {
	Deny     bool
	Protocol int // IP protocol number, 0..255
}

// PortRule is one --filter-ports value: "53", "!6000-6100". It matches a
// packet's source or destination port in First..Last.
type PortRule struct {
	Deny        bool
	First, Last int // 0..65535, First <= Last
}

// protocolNames are the protocols --filter-protocols knows by name.
var protocolNames = map[string]int{"icmp": 1, "tcp": 6, "udp": 17, "icmpv6": 58, "sctp": 132}

func deny(s string) (bool, string) {
	if rest, ok := strings.CutPrefix(s, "!"); ok {
		return true, strings.TrimSpace(rest)
	}
	return false, s
}

func bang(deny bool) string {
	if deny {
		return "!"
	}
	return ""
}

// ParseCIDRRule parses [!]PREFIX; a bare address is a host prefix. Host
// bits are dropped: 10.1.2.3/8 is 10.0.0.0/8.
func ParseCIDRRule(s string) (CIDRRule, error) {
	d, v := deny(s)
	p, err := netip.ParsePrefix(v)
	if err != nil {
		a, aerr := netip.ParseAddr(v)
		if aerr != nil || a.Zone() != "" {
			return CIDRRule{}, fmt.Errorf("invalid CIDR %q (want [!]ADDRESS/BITS, e.g. 10.0.0.0/8 or !fd00::/8)", s)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	return CIDRRule{Deny: d, Prefix: p.Masked()}, nil
}

func (r CIDRRule) String() string { return bang(r.Deny) + r.Prefix.String() }

// ParseProtocolRule parses [!]tcp|udp|icmp|icmpv6|sctp|N (N is checked
// by Validate).
func ParseProtocolRule(s string) (ProtocolRule, error) {
	d, v := deny(s)
	if n, ok := protocolNames[strings.ToLower(v)]; ok {
		return ProtocolRule{Deny: d, Protocol: n}, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return ProtocolRule{}, fmt.Errorf("invalid protocol %q (want tcp, udp, icmp, icmpv6, sctp or a number 0..255, ! to exclude)", s)
	}
	return ProtocolRule{Deny: d, Protocol: n}, nil
}

func (r ProtocolRule) String() string {
	for name, n := range protocolNames {
		if n == r.Protocol {
			return bang(r.Deny) + name
		}
	}
	return bang(r.Deny) + strconv.Itoa(r.Protocol)
}

// ParsePortRule parses [!]PORT[-PORT] (the range is checked by Validate).
func ParsePortRule(s string) (PortRule, error) {
	d, v := deny(s)
	first, last, isRange := strings.Cut(v, "-")
	lo, err1 := strconv.Atoi(strings.TrimSpace(first))
	hi, err2 := lo, error(nil)
	if isRange {
		hi, err2 = strconv.Atoi(strings.TrimSpace(last))
	}
	if err1 != nil || err2 != nil {
		return PortRule{}, fmt.Errorf("invalid port range %q (want [!]PORT or [!]FIRST-LAST, e.g. 53 or !6000-6100)", s)
	}
	return PortRule{Deny: d, First: lo, Last: hi}, nil
}

func (r PortRule) String() string {
	if r.First == r.Last {
		return bang(r.Deny) + strconv.Itoa(r.First)
	}
	return fmt.Sprintf("%s%d-%d", bang(r.Deny), r.First, r.Last)
}

// validateFilters reports every out-of-range rule, naming its option.
func (c *Config) validateFilters(fail func(option, format string, args ...any)) {
	for _, r := range c.FilterCIDRs {
		if !r.Prefix.IsValid() || r.Prefix.Addr().Zone() != "" {
			fail("filter-cidrs", "invalid CIDR %v", r.Prefix)
		}
	}
	for _, r := range c.FilterProtocols {
		if r.Protocol < 0 || r.Protocol > 255 {
			fail("filter-protocols", "protocol %d is not in 0..255", r.Protocol)
		}
	}
	for _, r := range c.FilterPorts {
		switch {
		case r.First < 0 || r.First > 65535 || r.Last < 0 || r.Last > 65535:
			fail("filter-ports", "%s: ports are 0..65535", r)
		case r.First > r.Last:
			fail("filter-ports", "%s: first port above last", r)
		}
	}
	if c.SamplingInterval < MinSamplingInterval || c.SamplingInterval > MaxSamplingInterval {
		fail("sampling-interval", "must be in %d..%d, got %d", MinSamplingInterval, MaxSamplingInterval, c.SamplingInterval)
	}
}

// listOption is a list option whose values parse into rules of type R.
func listOption[R fmt.Stringer](name, arg, help string, parse func(string) (R, error), field func(*Config) *[]R) option {
	return option{
		name: name, arg: arg, def: "", list: true, help: help,
		set: func(c *Config, v string) error {
			r, err := parse(v)
			if err != nil {
				return err
			}
			*field(c) = append(*field(c), r)
			return nil
		},
		reset: func(c *Config) { *field(c) = nil },
		show: func(c *Config) any {
			out := []string{}
			for _, r := range *field(c) {
				out = append(out, r.String())
			}
			return out
		},
	}
}
