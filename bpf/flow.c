//go:build ignore

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* podflow's TC programs: count every packet crossing an observed interface
 * into a per-CPU hash keyed by flow and observation point. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "flow.h"
#include "parse.h"

#define TC_ACT_UNSPEC (-1) /* == TCX_NEXT: never change the packet's fate */
#define EEXIST 17
#define PULL_LEN 256 /* enough for L2 + IPv4 options / IPv6 ext headers + L4 */

char __license[] SEC("license") = "Dual BSD/GPL";

/* Two flow maps, double-buffered: the programs write to the one in
 * live_flows[0] while user space drains the other. Swapping the slot of an
 * array-of-maps makes the kernel wait for running programs
 * (maybe_wait_bpf_programs), so the retired map is quiescent before it is
 * drained: a drain never races an update and loses nothing. Sizes are set at
 * load time from the configuration. */
struct flow_map {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__type(key, struct flow_key);
	__type(value, struct flow_val);
	__uint(max_entries, 32768);
};
struct flow_map flows_a SEC(".maps");
struct flow_map flows_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct flow_map);
} live_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, STAT_MAX);
} stats SEC(".maps");

/* Handshakes in progress, shared by all CPUs (a SYN and its SYN-ACK may be
 * processed on different ones). LRU: a SYN never answered ages out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct flow_key);
	__type(value, struct handshake);
	__uint(max_entries, 8192);
} handshakes SEC(".maps");

/* Set at load time. By default packets are stamped with jiffies: a plain
 * read of a kernel variable, tick resolution (1-10 ms), which IPFIX flow
 * records are fine with. bpf_ktime_get_ns costs ~40 ns per packet more on
 * this VM, even bpf_ktime_get_coarse_ns ~20 ns. User space converts jiffies with the
 * tick length and phase it measures through sample_clock. */
volatile const bool precise_timestamps = false;

/* Set at load time: time TCP handshakes on the wire (see handshake.h) and
 * count TCP retransmissions from sequence numbers (see wire.h). */
volatile const bool track_handshakes = true;
volatile const bool track_wire_retrans = true;

/* Sequence state of TCP flows per observation point, shared by all CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct flow_key);
	__type(value, struct seq_state);
	__uint(max_entries, 32768);
} tcp_seqs SEC(".maps");

/* The last sample_clock run: jiffies and CLOCK_MONOTONIC read together. */
struct clock_sample {
	__u64 jiffies;
	__u64 mono_ns;
} last_clock_sample;

/* Keeps enum flow_stat in BTF so bpf2go emits its Go constants. */
const enum flow_stat *unused_flow_stat __attribute__((unused));

static __always_inline void stat_add(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		*v += n;
}

#include "handshake.h" /* uses stat_add and the handshakes map */
#include "wire.h"
#include "filter.h"

/* Set at load time: 1-in-N packet sampling (RFC 5475 uniform probabilistic
 * sampling, each packet independently with probability 1/N); 1 accounts
 * every packet. A packet is sampled when a 32-bit random number is below
 * sampling_threshold = round(2^32 / N): a compare rather than a division
 * (% N == 0), and half its bias: the probability is off by at most
 * N / 2^33 of itself (exact for powers of two). A GSO skb is sampled as a
 * whole and counts its segments: the expected counts are the same. */
volatile const __u32 sampling_interval = 1;
volatile const __u32 sampling_threshold = 0;

static __always_inline void flow_add(struct flow_val *v, __u64 octets, __u32 segs, __u16 flags, __u64 now, __u32 retrans)
{
	v->packets += segs;
	v->wire_retrans += retrans;
	v->octets += octets;
	v->last_ns = now;
	v->tcp_flags |= flags;
	/* Another CPU may have created the entry, leaving this CPU's slot zeroed. */
	if (!v->first_ns)
		v->first_ns = now;
}

static __always_inline void account(void *flows, struct flow_key *key, __u64 octets, __u32 segs, __u16 flags, __u32 retrans)
{
	__u64 now = precise_timestamps ? bpf_ktime_get_ns() : bpf_jiffies64();
	struct flow_val *v = bpf_map_lookup_elem(flows, key);
	long err;

	if (v) {
		if (track_handshakes && key->proto == PROTO_TCP)
			handshake_step(key, flags, v->tcp_flags, v);
		flow_add(v, octets, segs, flags, now, retrans);
		return;
	}
	struct flow_val nv = {
		.packets = segs,
		.octets = octets,
		.first_ns = now,
		.last_ns = now,
		.tcp_flags = flags,
		.wire_retrans = retrans,
	};
	if (track_handshakes && key->proto == PROTO_TCP)
		handshake_step(key, flags, 0, &nv);
	err = bpf_map_update_elem(flows, key, &nv, BPF_NOEXIST);
	if (!err)
		return;
	if (err == -EEXIST) { /* another CPU inserted it first */
		v = bpf_map_lookup_elem(flows, key);
		if (v) {
			flow_add(v, octets, segs, flags, now, retrans);
			return;
		}
	}
	stat_add(STAT_MAP_FULL_PACKETS, segs);
	stat_add(STAT_MAP_FULL_OCTETS, octets);
}

static __always_inline int observe(struct __sk_buff *skb, __u8 direction, bool l2)
{
	struct parsed p;
	__u32 segs, avail, l3len, retrans = 0, zero = 0;
	void *flows;
	__u64 octets;
	int r;

	__builtin_memset(&p, 0, sizeof(p));
	r = parse_packet(skb, &p, l2);
	if (r == PARSE_NEED_PULL) {
		/* Headers reach into paged data: make them linear, parse again. */
		if (bpf_skb_pull_data(skb, skb->len < PULL_LEN ? skb->len : PULL_LEN)) {
			stat_add(STAT_PULL_FAILED, 1);
			r = PARSE_MALFORMED;
		} else {
			__builtin_memset(&p, 0, sizeof(p));
			r = parse_packet(skb, &p, l2);
			if (r == PARSE_NEED_PULL)
				r = PARSE_MALFORMED;
		}
	}
	if (r == PARSE_NON_IP) {
		stat_add(STAT_NON_IP_PACKETS, 1);
		stat_add(STAT_NON_IP_OCTETS, skb->len);
		return TC_ACT_UNSPEC;
	}
	if (r != PARSE_OK) {
		stat_add(STAT_MALFORMED_PACKETS, 1);
		stat_add(STAT_MALFORMED_OCTETS, skb->len);
		return TC_ACT_UNSPEC;
	}
	/* IP-level octets. A GSO skb stands for gso_segs packets, each
	 * repeating the L3+L4 headers: count what the wire would carry. */
	avail = skb->len - p.l3_off;
	segs = skb->gso_segs;
	if (segs > 1) {
		l3len = avail;
		octets = avail + (__u64)(segs - 1) * p.hdr_len;
	} else {
		l3len = p.ip_len && p.ip_len <= avail ? p.ip_len : avail; /* drop L2 padding */
		octets = l3len;
	}
	if (!segs)
		segs = 1;

	/* Filters and sampling come before any map is touched: excluded and
	 * unsampled packets leave no state behind, only these counters. */
	if (excluded(&p.key, proto_has_ports(p.key.proto) && !p.l4_truncated && !p.fragment)) {
		stat_add(STAT_FILTERED_PACKETS, segs);
		stat_add(STAT_FILTERED_OCTETS, octets);
		return TC_ACT_UNSPEC;
	}
	if (sampling_interval > 1 && bpf_get_prandom_u32() >= sampling_threshold) {
		stat_add(STAT_SAMPLED_OUT_PACKETS, segs);
		stat_add(STAT_SAMPLED_OUT_OCTETS, octets);
		return TC_ACT_UNSPEC;
	}
	if (p.l4_truncated)
		stat_add(STAT_L4_TRUNCATED_PACKETS, 1);
	if (p.fragment)
		stat_add(STAT_FRAGMENTS, 1);

	p.key.ifindex = skb->ifindex;
	p.key.direction = direction;
	if (track_wire_retrans && p.key.proto == PROTO_TCP && !p.l4_truncated && !p.fragment)
		retrans = wire_retrans(&p.key, &p, l3len > p.hdr_len ? l3len - p.hdr_len : 0, segs);
	flows = bpf_map_lookup_elem(&live_flows, &zero);
	if (flows)
		account(flows, &p.key, octets, segs, p.tcp_flags, retrans);
	return TC_ACT_UNSPEC;
}

SEC("tc")
int tc_ingress(struct __sk_buff *skb)
{
	return observe(skb, 0, true);
}

SEC("tc")
int tc_egress(struct __sk_buff *skb)
{
	return observe(skb, 1, true);
}

/* Variants for interfaces without an Ethernet header (tun, WireGuard). */
SEC("tc")
int tc_ingress_l3(struct __sk_buff *skb)
{
	return observe(skb, 0, false);
}

SEC("tc")
int tc_egress_l3(struct __sk_buff *skb)
{
	return observe(skb, 1, false);
}

/* Never attached: user space runs it (BPF_PROG_TEST_RUN) to relate jiffies
 * to CLOCK_MONOTONIC. */
SEC("tc")
int sample_clock(struct __sk_buff *skb)
{
	last_clock_sample.jiffies = bpf_jiffies64();
	last_clock_sample.mono_ns = bpf_ktime_get_ns();
	return TC_ACT_UNSPEC;
}
