/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* In-kernel filters: which traffic is accounted at all. Both objects
 * include this file and make the same decision with the same function,
 * excluded(): the TC programs (flow.c) for every packet, after parsing and
 * before any map of flows, handshakes or TCP sequences is touched; the
 * socket and drop tracepoints (events.c) for every measurement, before a
 * tuple map is touched. What is excluded is only counted (STAT_FILTERED_*,
 * EVSTAT_FILTERED). The includer provides struct flow_key (flow.h) and the
 * PROTO_* numbers.
 *
 * Three filters, one semantics. Each address (or port) of a packet gets the
 * action of the most specific rule that matches it (longest CIDR prefix,
 * narrowest port range; equal ones: deny wins), or none. Then
 *   - a deny on the source OR the destination excludes the packet;
 *   - if any allow rule exists, the source or the destination must be
 *     allowed, or the packet is excluded.
 * The protocol, a single value, follows the same rules (user space folds
 * them into one "excluded" table). Packets without ports (ICMP, later
 * fragments, truncated L4 headers, protocols other than TCP, UDP, UDP-Lite
 * and SCTP) never match a port rule: port allows exclude them, port denies
 * keep them.
 *
 * CIDR rules live in one LPM trie for both IP versions: the key is the IP
 * version byte followed by the IPv4-mapped IPv6 address of struct flow_key,
 * so an IPv4 /8 is a /8+8+96 and ::/0 covers IPv6 only. User space loads
 * the trie once, with the TC programs, and hands the same kernel map to the
 * tracepoints. Protocol and port rules are tables in .rodata: one plain
 * load per packet, no helper call.
 *
 * Each filter is compiled in but gated by a `volatile const` the loader
 * sets (one Go function sets them in both objects): unconfigured, the
 * verifier removes it and it costs nothing. */
#ifndef PODFLOW_FILTER_H
#define PODFLOW_FILTER_H

/* Bits of filter_cidrs and filter_ports: which kinds of rules exist. */
#define FILTER_HAS_DENY 1
#define FILTER_HAS_ALLOW 2

/* Values of the CIDR trie. */
#define FILTER_ALLOW 1
#define FILTER_DENY 2

struct cidr_key {
	__u32 prefixlen; /* bits of version + addr that must match */
	__u8 version;    /* 4 or 6 */
	__u8 addr[16];   /* IPv6, or IPv4-mapped IPv6 */
	__u8 _pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct cidr_key);
	__type(value, __u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1); /* sized to the rules at load time */
} filter_cidr SEC(".maps");

volatile const __u8 filter_cidrs = 0;
volatile const bool filter_protos = false;
volatile const __u8 filter_ports = 0;
/* 1: packets of this IP protocol are excluded. */
volatile const __u8 proto_excluded[256] = {};
/* Bitmaps indexed by port: the most specific port rule is an allow / a deny. */
volatile const __u8 port_allowed[8192] = {};
volatile const __u8 port_denied[8192] = {};

static __always_inline __u8 cidr_action(__u8 version, const __u8 *addr)
{
	struct cidr_key k = { .prefixlen = 8 + 128, .version = version };
	__u8 *a;

	__builtin_memcpy(k.addr, addr, 16);
	a = bpf_map_lookup_elem(&filter_cidr, &k);
	return a ? *a : 0;
}

static __always_inline bool cidrs_exclude(const struct flow_key *key)
{
	__u8 s, d;

	s = cidr_action(key->ip_version, key->saddr);
	if (s == FILTER_DENY)
		return true;
	/* Without denies an allowed source settles it: one lookup. */
	if (s == FILTER_ALLOW && !(filter_cidrs & FILTER_HAS_DENY))
		return false;
	d = cidr_action(key->ip_version, key->daddr);
	if (d == FILTER_DENY)
		return true;
	return (filter_cidrs & FILTER_HAS_ALLOW) && s != FILTER_ALLOW && d != FILTER_ALLOW;
}

static __always_inline bool port_bit(volatile const __u8 *bitmap, __u16 port)
{
	return (bitmap[port >> 3] >> (port & 7)) & 1;
}

/* proto_has_ports says whether the protocol's header starts with a source
 * and a destination port; ICMP's type and code in dport are not ports. */
static __always_inline bool proto_has_ports(__u8 proto)
{
	switch (proto) {
	case PROTO_TCP:
	case PROTO_UDP:
	case PROTO_UDPLITE:
	case PROTO_SCTP:
		return true;
	}
	return false;
}

/* has_ports: key holds ports read from an L4 header (proto_has_ports, and
 * neither a later fragment nor a truncated header). */
static __always_inline bool ports_exclude(const struct flow_key *key, bool has_ports)
{
	if (!has_ports)
		return filter_ports & FILTER_HAS_ALLOW;
	if ((filter_ports & FILTER_HAS_DENY) &&
	    (port_bit(port_denied, key->sport) || port_bit(port_denied, key->dport)))
		return true;
	return (filter_ports & FILTER_HAS_ALLOW) &&
	       !port_bit(port_allowed, key->sport) && !port_bit(port_allowed, key->dport);
}

/* excluded says whether the configured filters keep this packet (or this
 * tuple's measurement) out of the accounting; the cheapest tests run first. */
static __always_inline bool excluded(const struct flow_key *key, bool has_ports)
{
	if (filter_protos && proto_excluded[key->proto])
		return true;
	if (filter_ports && ports_exclude(key, has_ports))
		return true;
	if (filter_cidrs && cidrs_exclude(key))
		return true;
	return false;
}

#endif
