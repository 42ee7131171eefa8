package bpf

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"

	"github.com/cilium/ebpf"
)

// Filter selects the packets the TC programs account; the others are only
// counted, in STAT_FILTERED_PACKETS and STAT_FILTERED_OCTETS. The zero
// value accounts everything.
//
// The three kinds of rules share one semantics. Each address (port) of a
// packet takes the action of the most specific rule matching it: the
// longest prefix, the narrowest port range; an allow and a deny that are
// equally specific give deny. Then a deny on the source OR the destination
// excludes the packet, and if any allow rule of that kind exists, the
// source or the destination must be allowed. So "allow 10.0.0.0/8, deny
// 10.1.0.0/16" accounts traffic to or from 10/8 except anything touching
// 10.1/16, and "allow 1-1023, deny 22" accounts the well-known ports but
// SSH.
//
// An IPv4 prefix matches IPv4 packets only, an IPv6 prefix IPv6 packets
// only (::/0 is every IPv6 packet). Packets without ports (ICMP, non-first
// fragments, truncated L4 headers, protocols other than TCP, UDP, UDP-Lite
// and SCTP) match no port rule: port allows exclude them, port denies keep
// them.
type Filter struct {
	AllowCIDRs, DenyCIDRs         []netip.Prefix
	AllowProtocols, DenyProtocols []uint8
	AllowPorts, DenyPorts         []PortRange
}

// PortRange is the ports First..Last, both included.
type PortRange struct {
	First, Last uint16
}

func (r PortRange) String() string {
	if r.First == r.Last {
		return fmt.Sprint(r.First)
	}
	return fmt.Sprintf("%d-%d", r.First, r.Last)
}

// Values of the CIDR trie and bits of filter_cidrs / filter_ports (filter.h).
const (
	filterAllow = 1
	filterDeny  = 2

	filterHasDeny  = 1
	filterHasAllow = 2
)

// kernelFilter is a Filter compiled into the TC programs' tables.
type kernelFilter struct {
	cidrFlags   uint8 // filterHas* bits; 0: no CIDR filter
	cidrs       []ebpf.MapKV
	protos      bool // proto_excluded is in use
	protoExcl   [256]uint8
	portFlags   uint8
	portAllowed [8192]uint8
	portDenied  [8192]uint8
}

func (f *Filter) compile() (*kernelFilter, error) {
	k := &kernelFilter{}
	if err := k.compileCIDRs(f.AllowCIDRs, f.DenyCIDRs); err != nil {
		return nil, err
	}
	k.compileProtocols(f.AllowProtocols, f.DenyProtocols)
	if err := k.compilePorts(f.AllowPorts, f.DenyPorts); err != nil {
		return nil, err
	}
	return k, nil
}

// cidrKey is a prefix's key in the trie: the IP version byte, then the
// address as IPv6 (IPv4-mapped for IPv4), as the programs look them up.
func cidrKey(p netip.Prefix) FlowCidrKey {
	p = p.Masked()
	k := FlowCidrKey{Version: 6, Prefixlen: 8 + uint32(p.Bits()), Addr: p.Addr().As16()}
	if p.Addr().Is4() {
		k.Version, k.Prefixlen = 4, 8+96+uint32(p.Bits())
	}
	return k
}

func (k *kernelFilter) compileCIDRs(allow, deny []netip.Prefix) error {
	actions := map[FlowCidrKey]uint8{}
	var order []FlowCidrKey // deterministic map contents
	for _, set := range []struct {
		prefixes []netip.Prefix
		action   uint8
	}{{allow, filterAllow}, {deny, filterDeny}} {
		for _, p := range set.prefixes {
			if !p.IsValid() || p.Addr().Zone() != "" {
				return fmt.Errorf("filter: invalid CIDR %v", p)
			}
			key := cidrKey(p)
			if _, seen := actions[key]; !seen {
				order = append(order, key)
			}
			actions[key] = max(actions[key], set.action) // equal prefixes: deny wins
		}
	}
	for _, key := range order {
		k.cidrs = append(k.cidrs, ebpf.MapKV{Key: key, Value: actions[key]})
	}
	if len(deny) > 0 {
		k.cidrFlags |= filterHasDeny
	}
	if len(allow) > 0 {
		k.cidrFlags |= filterHasAllow
	}
	return nil
}

// compileProtocols folds the protocol rules into one table: a protocol is
// excluded when denied, or when allows exist and it is not allowed.
func (k *kernelFilter) compileProtocols(allow, deny []uint8) {
	if len(allow) == 0 && len(deny) == 0 {
		return
	}
	k.protos = true
	if len(allow) > 0 {
		for i := range k.protoExcl {
			k.protoExcl[i] = 1
		}
		for _, p := range allow {
			k.protoExcl[p] = 0
		}
	}
	for _, p := range deny {
		k.protoExcl[p] = 1
	}
}

// compilePorts paints each port with its most specific rule's action:
// widest ranges first, so narrower ones overwrite them, allows before
// denies of the same width.
func (k *kernelFilter) compilePorts(allow, deny []PortRange) error {
	type rule struct {
		r      PortRange
		action uint8
	}
	var rules []rule
	for _, set := range []struct {
		ranges []PortRange
		action uint8
	}{{allow, filterAllow}, {deny, filterDeny}} {
		for _, r := range set.ranges {
			if r.First > r.Last {
				return fmt.Errorf("filter: port range %d-%d: first above last", r.First, r.Last)
			}
			rules = append(rules, rule{r, set.action})
		}
	}
	slices.SortStableFunc(rules, func(a, b rule) int {
		if c := cmp.Compare(b.r.Last-b.r.First, a.r.Last-a.r.First); c != 0 {
			return c
		}
		return cmp.Compare(a.action, b.action)
	})
	var actions [65536]uint8
	for _, ru := range rules {
		for p := int(ru.r.First); p <= int(ru.r.Last); p++ {
			actions[p] = ru.action
		}
	}
	for p, a := range actions {
		switch a {
		case filterAllow:
			k.portAllowed[p>>3] |= 1 << (p & 7)
		case filterDeny:
			k.portDenied[p>>3] |= 1 << (p & 7)
			k.portFlags |= filterHasDeny
		}
	}
	if len(allow) > 0 {
		k.portFlags |= filterHasAllow
	}
	return nil
}

// apply sets the filter's constants and CIDR trie in spec. One function
// for both objects, which declare them alike (filter.h): the TC programs'
// (LoadFlow) and the tracepoints' (LoadEvents). The tracepoints then get
// the TC programs' trie through MapReplacements, so the contents set here
// are loaded once.
func (k *kernelFilter) apply(spec *ebpf.CollectionSpec) error {
	trie := spec.Maps[FlowMapFilterCidr] // == EventsMapFilterCidr
	if trie == nil {
		return fmt.Errorf("filter: no map %s in the object", FlowMapFilterCidr)
	}
	trie.MaxEntries = uint32(max(len(k.cidrs), 1))
	trie.Contents = k.cidrs
	for name, v := range map[string]any{
		FlowVarFilterCidrs:   k.cidrFlags,
		FlowVarFilterProtos:  k.protos,
		FlowVarProtoExcluded: k.protoExcl,
		FlowVarFilterPorts:   k.portFlags,
		FlowVarPortAllowed:   k.portAllowed,
		FlowVarPortDenied:    k.portDenied,
	} {
		vs := spec.Variables[name]
		if vs == nil {
			return fmt.Errorf("filter: no variable %s in the object", name)
		}
		if err := vs.Set(v); err != nil {
			return fmt.Errorf("set %s: %w", name, err)
		}
	}
	return nil
}

// LoadedFilter is the Filter Load compiled into the TC programs, with its
// CIDR trie in the kernel: Objects.Filter returns it. Passed as
// EventOptions.Filter, it makes the socket and drop tracepoints take the
// same decision, from the same constants and the very same trie.
type LoadedFilter struct {
	compiled *kernelFilter
	cidrs    *ebpf.Map // the TC programs' filter_cidr, owned by Objects
}

// Filter returns the filter the TC programs apply, for OpenEvents. Use it
// while the Objects are open; the tracepoints loaded with it keep the trie
// alive after they close.
func (o *Objects) Filter() *LoadedFilter {
	compiled := o.filter
	if compiled == nil {
		compiled = &kernelFilter{} // Objects not made by Load: no rules
	}
	return &LoadedFilter{compiled: compiled, cidrs: o.FilterCidr}
}

// samplingThreshold is round(2^32 / n): the programs sample a packet when a
// 32-bit random number is below it, i.e. with probability 1/n.
func samplingThreshold(n uint32) uint32 {
	if n <= 1 {
		return 0 // unused: sampling is off
	}
	return uint32((1<<32 + uint64(n)/2) / uint64(n))
}
