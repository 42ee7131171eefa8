/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Structures shared between the TC programs and Go (bpf2go generates the Go
 * side). Every hole is an explicit _pad field so both sides agree on the
 * layout without __attribute__((packed)). */
#ifndef PODFLOW_FLOW_H
#define PODFLOW_FLOW_H

/* One flow at one observation point. Addresses are IPv6 or IPv4-mapped IPv6;
 * ports are host byte order; for ICMP/ICMPv6 sport is 0 and dport is
 * type<<8|code. */
struct flow_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u32 ifindex;
	__u8 proto;
	__u8 direction; /* 0 ingress, 1 egress (TC hook) */
	__u8 ip_version; /* 4 or 6 */
	__u8 _pad;
};

struct flow_val {
	__u64 packets; /* segments: a GSO skb counts gso_segs packets */
	__u64 octets;  /* IP-level octets those segments carry */
	__u64 first_ns; /* bpf_ktime_get_ns of the first packet */
	__u64 last_ns;
	__u16 tcp_flags; /* OR of the 9 TCP flag bits (NS..FIN) */
	__u8 _pad[6];
};

/* Indexes of the per-CPU `stats` array: what could not be put in a flow is
 * still counted, so totals reconcile with interface counters. */
enum flow_stat {
	STAT_MAP_FULL_PACKETS = 0, /* no room in the flow map */
	STAT_MAP_FULL_OCTETS,
	STAT_NON_IP_PACKETS, /* ARP, LLDP, ...: not flows */
	STAT_NON_IP_OCTETS,
	STAT_MALFORMED_PACKETS, /* L2/L3 header truncated or invalid */
	STAT_MALFORMED_OCTETS,
	STAT_L4_TRUNCATED_PACKETS, /* counted in the flow with ports 0 */
	STAT_FRAGMENTS, /* non-first fragments, counted with ports 0 */
	STAT_PULL_FAILED, /* headers not linear and bpf_skb_pull_data failed */
	STAT_MAX,
};

#endif
