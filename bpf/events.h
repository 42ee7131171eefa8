/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Structures shared between the tracepoint programs (events.c) and Go. */
#ifndef PODFLOW_EVENTS_H
#define PODFLOW_EVENTS_H

#include "flow.h"

/* What sockets and drop points measured for one tuple, keyed by a struct
 * flow_key built exactly as the TC programs build it, with ifindex and
 * direction 0: a socket or a drop point knows no observation point, so user
 * space joins these on the 5-tuple. For a socket the tuple is the direction
 * it sends in (local → remote). */
struct tuple_val {
	__u64 rtt_sum_us;   /* sum of the smoothed RTT samples (tcp_probe) */
	__u32 rtt_samples;
	__u32 rtt_min_us;
	__u32 rtt_max_us;
	__u32 retrans_segs; /* segments retransmitted, as tcpi_total_retrans counts */
	__u64 retrans_octets; /* their TCP payload, as tcpi_bytes_retrans counts */
	__u64 drop_packets; /* kfree_skb with a drop reason; GSO segments one by one */
	__u64 drop_octets;  /* IP-level octets of those packets */
	__u64 drop_last_ns; /* bpf_ktime_get_ns of the latest drop: picks drop_reason across CPUs */
	__u32 drop_reason;  /* enum skb_drop_reason of the latest drop */
	__u32 _pad;
};

/* A process owning a local TCP/UDP endpoint, sent once per socket and
 * process through the owner_events ring buffer (user space resolves the
 * executable and container at once, while the process still exists). */
struct owner_event {
	__u8 laddr[16]; /* IPv6 or IPv4-mapped, as in struct flow_key; :: for a wildcard bind */
	__u8 raddr[16]; /* the peer of a connected socket, else :: */
	__u16 lport;
	__u16 rport;
	__u8 proto;
	__u8 ip_version;
	__u8 kind; /* enum owner_kind */
	__u8 _pad;
	__u32 pid;  /* thread group id */
	__u32 netns; /* network namespace inode of the socket */
	char comm[16];
};

enum owner_kind {
	OWNER_CONNECT = 1, /* a TCP connect completed (owner recorded at SYN_SENT) */
	OWNER_LISTEN,      /* a TCP listen() */
	OWNER_IO,          /* the first send or receive of this process on the socket */
	OWNER_CLOSE,       /* the TCP socket closed: the endpoint is free again */
};

/* Per-socket storage: who was last reported as the socket's owner. */
struct sk_owner {
	__u32 pid;
	__u32 connecting; /* pid recorded at SYN_SENT, reported at ESTABLISHED */
	char comm[16];
};

/* Indexes of the per-CPU `event_stats` array. */
enum event_stat {
	EVSTAT_DROPS_NOT_IP = 0, /* dropped skbs with no IP header to name a flow by */
	EVSTAT_MAP_FULL,         /* events lost because the tuple map was full */
	EVSTAT_RETRANS_FAILED,   /* retransmissions the kernel did not send (err != 0) */
	EVSTAT_OWNER_EVENTS_LOST, /* owner events dropped: ring buffer full */
	EVSTAT_FILTERED,         /* measurements of tuples the filters exclude (filter.h), not recorded */
	EVSTAT_MAX,
};

#endif
