//go:build ignore

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* podflow's socket and drop tracepoints: per-tuple TCP RTT samples and
 * retransmissions from the sockets of every network namespace, and packets
 * the kernel dropped, with the reason. BTF-enabled raw tracepoints (tp_btf)
 * need neither kprobes nor fentry nor a mounted tracefs. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "events.h"

#define AF_INET 2
#define AF_INET6 10
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define EEXIST 17
#define PROTO_ICMP 1
#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_ICMPV6 58
#define PROTO_SCTP 132
#define PROTO_UDPLITE 136
#define IPV6_MAX_EXT_HEADERS 6

char __license[] SEC("license") = "Dual BSD/GPL";

/* Double-buffered like the flow maps, but selected by an index instead of
 * an array-of-maps slot: a lookup through an inner map pointer is a helper
 * call the verifier cannot inline (30–70 ns more per hit, measured here, noisily), and these programs
 * run for every TCP segment a local socket receives. User space flips
 * tuples_index, then makes the kernel wait for running programs by updating
 * rcu_wait (any array-of-maps update waits, maybe_wait_bpf_programs), then
 * drains the retired map with nothing writing to it. */
struct tuple_map {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__type(key, struct flow_key);
	__type(value, struct tuple_val);
	__uint(max_entries, 32768);
};
struct tuple_map tuples_a SEC(".maps");
struct tuple_map tuples_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32); /* 0: tuples_a is live, 1: tuples_b */
} tuples_index SEC(".maps");

struct rcu_dummy_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
};
struct rcu_dummy_map rcu_dummy SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct rcu_dummy_map);
} rcu_wait SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, EVSTAT_MAX);
} event_stats SEC(".maps");

const enum event_stat *unused_event_stat __attribute__((unused));

static __always_inline void evstat_add(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&event_stats, &idx);

	if (v)
		*v += n;
}

#include "filter.h"

/* tuple_excluded applies the TC programs' filters (filter.h, the same
 * function, tables and CIDR trie) to a tuple before any tuple map is
 * touched, so measurements of excluded traffic leave no state behind
 * either; it counts the measurements it keeps out (one per RTT sample,
 * retransmission or dropped skb). Sampling is not applied: it selects
 * packets for the flow counters, while these programs measure sockets and
 * drop points, whose figures (a smoothed RTT, a socket's retransmissions,
 * each drop) stay exact whatever the sampling interval. */
static __always_inline bool tuple_excluded(const struct flow_key *key, bool has_ports)
{
	if (!excluded(key, has_ports))
		return false;
	evstat_add(EVSTAT_FILTERED, 1);
	return true;
}

static __always_inline struct tuple_val *tuple_get_in(void *m, struct flow_key *key)
{
	static const struct tuple_val zero;
	struct tuple_val *v = bpf_map_lookup_elem(m, key);
	long err;

	if (v)
		return v;
	err = bpf_map_update_elem(m, key, &zero, BPF_NOEXIST);
	if (err && err != -EEXIST) {
		evstat_add(EVSTAT_MAP_FULL, 1);
		return NULL;
	}
	return bpf_map_lookup_elem(m, key);
}

/* tuple_get returns this CPU's value of key in the live map, inserting a
 * zeroed one if needed; NULL when the map is full. Each map gets its own
 * call sites, so the verifier can inline the lookups. */
static __always_inline struct tuple_val *tuple_get(struct flow_key *key)
{
	__u32 slot = 0, *idx = bpf_map_lookup_elem(&tuples_index, &slot);

	if (idx && *idx)
		return tuple_get_in(&tuples_b, key);
	return tuple_get_in(&tuples_a, key);
}

static __always_inline void v4_mapped(__u8 *dst, __be32 a)
{
	dst[10] = 0xff;
	dst[11] = 0xff;
	__builtin_memcpy(&dst[12], &a, 4);
}

/* Two word compares: a byte loop leaves the verifier one branch per byte
 * and address, too many paths once the filters read the key. */
static __always_inline bool is_v4_mapped(const __u8 *a)
{
	__u64 zero;
	__u32 ffff;

	__builtin_memcpy(&zero, a, 8);
	__builtin_memcpy(&ffff, a + 8, 4);
	return zero == 0 && ffff == bpf_htonl(0x0000ffff);
}

/* sock_key builds the key of the direction a socket sends in. It reads only
 * struct sock_common, so it serves request socks (SYN-ACKs) too. tp_btf
 * arguments are BTF pointers: plain loads (checked, CO-RE relocated) cost
 * far less than bpf_probe_read_kernel calls. */
static __always_inline bool sock_key(const struct sock_common *sk, struct flow_key *k)
{
	__u16 family = sk->skc_family;

	__builtin_memset(k, 0, sizeof(*k));
	k->proto = PROTO_TCP;
	k->sport = sk->skc_num;
	k->dport = bpf_ntohs(sk->skc_dport);
	if (family == AF_INET) {
		k->ip_version = 4;
		v4_mapped(k->saddr, sk->skc_rcv_saddr);
		v4_mapped(k->daddr, sk->skc_daddr);
		return true;
	}
	if (family != AF_INET6)
		return false;
	__builtin_memcpy(k->saddr, sk->skc_v6_rcv_saddr.in6_u.u6_addr8, 16);
	__builtin_memcpy(k->daddr, sk->skc_v6_daddr.in6_u.u6_addr8, 16);
	/* A dual-stack socket talking IPv4 sends IPv4 packets: key them so. */
	k->ip_version = is_v4_mapped(k->saddr) && is_v4_mapped(k->daddr) ? 4 : 6;
	return true;
}

/* Every TCP segment a socket receives in ESTABLISHED state (tcp_rcv_established):
 * sample the socket's smoothed RTT, as TCP_INFO's tcpi_rtt reports it. */
SEC("tp_btf/tcp_probe")
int BPF_PROG(tcp_probe, struct sock *sk, struct sk_buff *skb)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
	struct flow_key key;
	struct tuple_val *v;
	__u32 srtt;

	if (!tp)
		return 0;
	srtt = tp->srtt_us >> 3;
	if (!srtt || !sock_key(&sk->__sk_common, &key) || tuple_excluded(&key, true))
		return 0;
	v = tuple_get(&key);
	if (!v)
		return 0;
	v->rtt_sum_us += srtt;
	v->rtt_samples++;
	if (!v->rtt_min_us || srtt < v->rtt_min_us)
		v->rtt_min_us = srtt;
	if (srtt > v->rtt_max_us)
		v->rtt_max_us = srtt;
	return 0;
}

/* Fires for every retransmission attempt, with err != 0 when nothing was
 * sent; the socket's total_retrans and bytes_retrans grow by this skb's
 * segments and payload only when it was. */
SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(tcp_retransmit_skb, const struct sock *sk, const struct sk_buff *skb, int err)
{
	const struct tcp_skb_cb *cb;
	struct flow_key key;
	struct tuple_val *v;
	__u16 segs;

	if (err) {
		evstat_add(EVSTAT_RETRANS_FAILED, 1);
		return 0;
	}
	if (!skb || !sock_key(&sk->__sk_common, &key) || tuple_excluded(&key, true))
		return 0;
	cb = (const struct tcp_skb_cb *)&skb->cb[0];
	segs = BPF_CORE_READ(cb, tcp_gso_segs); /* skb->cb is a char array to the verifier */
	v = tuple_get(&key);
	if (!v)
		return 0;
	v->retrans_segs += segs ? segs : 1;
	v->retrans_octets += skb->len;
	return 0;
}

/* A listener retransmitting a SYN-ACK for a request sock: the child socket
 * starts with these in its total_retrans. */
SEC("tp_btf/tcp_retransmit_synack")
int BPF_PROG(tcp_retransmit_synack, const struct sock *sk, const struct request_sock *req)
{
	struct flow_key key;
	struct tuple_val *v;

	if (!sock_key(&req->__req_common, &key) || tuple_excluded(&key, true))
		return 0;
	v = tuple_get(&key);
	if (v)
		v->retrans_segs++;
	return 0;
}

struct drop_parse {
	struct flow_key key;
	__u32 ip_len;  /* IP total length from the header, 0 if unknown */
	__u32 hdr_len; /* L3 + L4 header length, repeated by every GSO segment */
	bool has_ports; /* key holds ports read from the L4 header (filter.h) */
};

static __always_inline void drop_l4(struct drop_parse *d, const __u8 *l4, __u8 proto)
{
	__u8 h[14];

	d->key.proto = proto;
	switch (proto) {
	case PROTO_TCP:
		if (bpf_probe_read_kernel(h, 14, l4))
			return;
		d->hdr_len += (h[12] >> 4) * 4;
		break;
	case PROTO_UDP:
	case PROTO_UDPLITE:
	case PROTO_SCTP:
		if (bpf_probe_read_kernel(h, 4, l4))
			return;
		d->hdr_len += proto == PROTO_SCTP ? 12 : 8;
		break;
	case PROTO_ICMP:
	case PROTO_ICMPV6:
		if (bpf_probe_read_kernel(h, 2, l4))
			return;
		d->key.dport = ((__u16)h[0] << 8) | h[1];
		d->hdr_len += 8;
		return;
	default:
		return;
	}
	d->key.sport = ((__u16)h[0] << 8) | h[1];
	d->key.dport = ((__u16)h[2] << 8) | h[3];
	d->has_ports = true;
}

static __always_inline bool drop_ipv4(struct drop_parse *d, const __u8 *nh)
{
	struct iphdr ip;
	__u32 ihl;

	if (bpf_probe_read_kernel(&ip, sizeof(ip), nh) || ip.version != 4 || ip.ihl < 5)
		return false;
	ihl = ip.ihl * 4;
	d->key.ip_version = 4;
	v4_mapped(d->key.saddr, ip.saddr);
	v4_mapped(d->key.daddr, ip.daddr);
	d->ip_len = bpf_ntohs(ip.tot_len);
	d->hdr_len = ihl;
	if (ip.frag_off & bpf_htons(0x1fff)) {
		d->key.proto = ip.protocol; /* later fragment: ports 0, as the TC programs count it */
		return true;
	}
	drop_l4(d, nh + ihl, ip.protocol);
	return true;
}

static __always_inline bool drop_ipv6(struct drop_parse *d, const __u8 *nh)
{
	struct ipv6hdr ip6;
	__u32 off = sizeof(ip6);
	__u8 nexthdr;

	if (bpf_probe_read_kernel(&ip6, sizeof(ip6), nh) || ip6.version != 6)
		return false;
	d->key.ip_version = 6;
	__builtin_memcpy(d->key.saddr, &ip6.saddr, 16);
	__builtin_memcpy(d->key.daddr, &ip6.daddr, 16);
	if (ip6.payload_len)
		d->ip_len = bpf_ntohs(ip6.payload_len) + sizeof(ip6);
	d->hdr_len = sizeof(ip6);
	nexthdr = ip6.nexthdr;
	for (int i = 0; i < IPV6_MAX_EXT_HEADERS; i++) {
		__u8 ext[4];
		__u32 len;

		switch (nexthdr) {
		case 0:   /* hop-by-hop */
		case 43:  /* routing */
		case 60:  /* destination */
		case 135: /* mobility */
		case 51:  /* AH */
			if (bpf_probe_read_kernel(ext, 2, nh + off))
				return true;
			len = nexthdr == 51 ? ((__u32)ext[1] + 2) * 4 : ((__u32)ext[1] + 1) * 8;
			nexthdr = ext[0];
			break;
		case 44: /* fragment */
			if (bpf_probe_read_kernel(ext, 4, nh + off))
				return true;
			nexthdr = ext[0];
			d->hdr_len += 8;
			if (((__u16)ext[2] << 8 | ext[3]) & 0xfff8) {
				d->key.proto = nexthdr;
				return true;
			}
			off += 8;
			continue;
		default:
			drop_l4(d, nh + off, nexthdr);
			return true;
		}
		off += len;
		d->hdr_len += len;
	}
	d->key.proto = nexthdr;
	return true;
}

/* Every skb freed as a drop (kfree_skb_reason; consumed skbs go to the
 * consume_skb tracepoint instead, and SKB_CONSUMED is skipped in case a
 * kernel routes it here; so is QUEUE_PURGE, see below). The packet is keyed from its IP header, wherever
 * the stack dropped it, so it lands on the flow TC counted it in. */
SEC("tp_btf/kfree_skb")
int BPF_PROG(kfree_skb, struct sk_buff *skb, void *location, enum skb_drop_reason reason)
{
	struct skb_shared_info *shinfo;
	struct drop_parse d;
	struct tuple_val *v;
	__u16 proto, nh_off, segs;
	__u32 data_off, len, octets;
	unsigned char *head;
	bool ok = false;

	if (reason <= bpf_core_enum_value(enum skb_drop_reason, SKB_CONSUMED))
		return 0;
	/* A socket closing with skbs still queued (often just the peer's FIN):
	 * nothing was lost on the way, and every closed connection would
	 * otherwise show a "drop". */
	if (bpf_core_enum_value_exists(enum skb_drop_reason, SKB_DROP_REASON_QUEUE_PURGE) &&
	    reason == bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_QUEUE_PURGE))
		return 0;
	__builtin_memset(&d, 0, sizeof(d));
	proto = bpf_ntohs(skb->protocol);
	nh_off = skb->network_header;
	head = skb->head;
	if (nh_off != (__u16)~0U) {
		if (proto == ETH_P_IP)
			ok = drop_ipv4(&d, head + nh_off);
		else if (proto == ETH_P_IPV6)
			ok = drop_ipv6(&d, head + nh_off);
	}
	if (!ok) {
		evstat_add(EVSTAT_DROPS_NOT_IP, 1);
		return 0;
	}
	if (tuple_excluded(&d.key, d.has_ports))
		return 0;
	/* IP-level octets the way the TC programs count them: the IP length
	 * (no L2 padding), or for a GSO skb every segment's share with its
	 * repeated headers. skb->len counts from skb->data, which lies before
	 * the network header (L2 still there) or after it (already pulled). */
	data_off = skb->data - head;
	len = skb->len + data_off - nh_off;
	shinfo = (struct skb_shared_info *)(head + skb->end);
	segs = BPF_CORE_READ(shinfo, gso_segs);
	if (segs > 1)
		octets = len + (segs - 1) * d.hdr_len;
	else
		octets = d.ip_len && d.ip_len <= len ? d.ip_len : len;
	if (!segs)
		segs = 1;

	v = tuple_get(&d.key);
	if (!v)
		return 0;
	v->drop_packets += segs;
	v->drop_octets += octets;
	v->drop_reason = reason;
	v->drop_last_ns = bpf_ktime_get_ns();
	return 0;
}

/* ---- Socket owners: which process owns a local endpoint. ---- */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} owner_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sk_owner);
} sk_owners SEC(".maps");

const struct owner_event *unused_owner_event __attribute__((unused));
const enum owner_kind *unused_owner_kind __attribute__((unused));

#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17

/* emit_owner reports sk's local endpoint (and peer) as owned by pid/comm.
 * Not filtered: an owner belongs to a socket, not to a flow. A listener or
 * an unconnected UDP socket has no peer to match CIDR rules against, and
 * one socket serves flows the filters keep as well as flows they exclude.
 * User space looks owners up only for the flows it accounts (and its /proc
 * scan at start-up adds every socket anyway): the owner of excluded
 * traffic costs one record here and one table entry per socket and
 * process. */
static __always_inline void emit_owner(const struct sock *sk, __u8 kind, __u32 pid, const char *comm)
{
	const struct sock_common *c = &sk->__sk_common;
	struct owner_event *e;
	struct flow_key k;

	if (!sock_key(c, &k))
		return;
	e = bpf_ringbuf_reserve(&owner_events, sizeof(*e), 0);
	if (!e) {
		evstat_add(EVSTAT_OWNER_EVENTS_LOST, 1);
		return;
	}
	__builtin_memcpy(e->laddr, k.saddr, 16);
	__builtin_memcpy(e->raddr, k.daddr, 16);
	e->lport = k.sport;
	e->rport = k.dport;
	e->proto = sk->sk_protocol;
	e->ip_version = k.ip_version;
	e->kind = kind;
	e->_pad = 0;
	e->pid = pid;
	e->netns = c->skc_net.net->ns.inum;
	__builtin_memcpy(e->comm, comm, 16);
	bpf_ringbuf_submit(e, 0);
}

static __always_inline bool inet_tcp_udp(const struct sock *sk)
{
	__u16 family = sk->__sk_common.skc_family;
	__u16 proto = sk->sk_protocol;

	return (family == AF_INET || family == AF_INET6) && (proto == IPPROTO_TCP_ || proto == IPPROTO_UDP_);
}

/* TCP state changes: listen() and connect() run in the owner's context;
 * the connect's ports are only known once it is ESTABLISHED (softirq), so
 * the owner is kept in the socket's storage in between. */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(inet_sock_set_state, const struct sock *sk, const int oldstate, const int newstate)
{
	struct sock *s = (struct sock *)sk;
	struct sk_owner *o;
	char comm[16];
	__u32 pid;

	if (sk->sk_protocol != IPPROTO_TCP_)
		return 0;
	switch (newstate) {
	case TCP_LISTEN:
	case TCP_SYN_SENT:
		pid = bpf_get_current_pid_tgid() >> 32;
		bpf_get_current_comm(comm, sizeof(comm));
		if (newstate == TCP_LISTEN) {
			emit_owner(sk, OWNER_LISTEN, pid, comm);
			return 0;
		}
		o = bpf_sk_storage_get(&sk_owners, s, 0, BPF_SK_STORAGE_GET_F_CREATE);
		if (o) {
			o->connecting = pid;
			__builtin_memcpy(o->comm, comm, 16);
		}
		return 0;
	case TCP_ESTABLISHED:
		if (oldstate != TCP_SYN_SENT)
			return 0;
		o = bpf_sk_storage_get(&sk_owners, s, 0, 0);
		if (o && o->connecting && o->pid != o->connecting) {
			o->pid = o->connecting;
			emit_owner(sk, OWNER_CONNECT, o->pid, o->comm);
		}
		return 0;
	case TCP_CLOSE:
		if (oldstate == TCP_LISTEN || oldstate == TCP_SYN_SENT || oldstate == TCP_SYN_RECV)
			return 0; /* no flow was attributed to it through this path */
		emit_owner(sk, OWNER_CLOSE, 0, "");
		return 0;
	}
	return 0;
}

/* The first send or receive of a process on a TCP or UDP socket: accepted
 * TCP connections and UDP sockets get their owner here. Later calls of the
 * same process return after one socket-storage lookup. */
static __always_inline void owner_io(struct sock *sk)
{
	struct sk_owner *o;
	__u32 pid;

	if (!sk || !inet_tcp_udp(sk))
		return;
	pid = bpf_get_current_pid_tgid() >> 32;
	o = bpf_sk_storage_get(&sk_owners, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!o || o->pid == pid)
		return;
	o->pid = pid;
	bpf_get_current_comm(o->comm, sizeof(o->comm));
	emit_owner(sk, OWNER_IO, pid, o->comm);
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(sock_send_length, struct sock *sk, int ret, int flags)
{
	if (ret > 0)
		owner_io(sk);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(sock_recv_length, struct sock *sk, int ret, int flags)
{
	if (ret > 0)
		owner_io(sk);
	return 0;
}
