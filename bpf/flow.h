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
	__u8 handshake_seen; /* 1: the two fields below hold a handshake's timing */
	__u8 _pad;
	/* A TCP handshake completed at this observation point, timed on the
	 * wire (client→server flow only): SYN → SYN-ACK and SYN-ACK → ACK, µs. */
	__u32 handshake_server_us;
	__u32 handshake_client_us;
	/* TCP segments seen again at this observation point: data (or SYN, FIN)
	 * starting below the highest sequence number already seen. */
	__u32 wire_retrans;
};

/* The highest TCP sequence number (plus one) a flow's packets reached at one
 * observation point. */
struct seq_state {
	__u32 next;
	__u32 _pad;
};

/* A TCP handshake in progress at one observation point, keyed by the
 * client→server flow_key with direction 0 (the SYN and the SYN-ACK cross
 * the interface in opposite directions). */
struct handshake {
	__u64 syn_ns;    /* the latest SYN: a retransmitted SYN is the one answered */
	__u64 synack_ns; /* the latest SYN-ACK */
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
	STAT_HANDSHAKES_EVICTED, /* handshakes map full: a SYN was not tracked */
	STAT_FILTERED_PACKETS, /* excluded by the filters (filter.h) */
	STAT_FILTERED_OCTETS,
	STAT_SAMPLED_OUT_PACKETS, /* passed the filters, not sampled */
	STAT_SAMPLED_OUT_OCTETS,
	STAT_MAX,
};

#endif
