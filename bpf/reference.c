//go:build ignore

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Benchmark references, never attached: the practical floor a flow counter
 * can reach (parse the 5-tuple of an untagged IPv4/IPv6 TCP/UDP frame, one
 * per-CPU hash lookup and update) and an empty program. `make bench` reports
 * podflow's TC program beside them. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>

#include "flow.h"

char __license[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__type(key, struct flow_key);
	__type(value, struct flow_val);
	__uint(max_entries, 32768);
} ref_flows SEC(".maps");

SEC("tc")
int tc_empty(struct __sk_buff *skb)
{
	return -1;
}

SEC("tc")
int tc_reference(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct flow_key key = {};
	__u8 *l4;

	if ((void *)(eth + 1) > data_end)
		return -1;
	if (eth->h_proto == bpf_htons(0x0800)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > data_end)
			return -1;
		__builtin_memcpy(&key.saddr[12], &ip->saddr, 4);
		__builtin_memcpy(&key.daddr[12], &ip->daddr, 4);
		key.proto = ip->protocol;
		l4 = (void *)(ip + 1);
	} else if (eth->h_proto == bpf_htons(0x86DD)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > data_end)
			return -1;
		__builtin_memcpy(key.saddr, &ip6->saddr, 16);
		__builtin_memcpy(key.daddr, &ip6->daddr, 16);
		key.proto = ip6->nexthdr;
		l4 = (void *)(ip6 + 1);
	} else {
		return -1;
	}
	if ((void *)(l4 + 4) > data_end)
		return -1;
	key.sport = ((__u16)l4[0] << 8) | l4[1];
	key.dport = ((__u16)l4[2] << 8) | l4[3];

	struct flow_val *v = bpf_map_lookup_elem(&ref_flows, &key);
	if (v) {
		v->packets++;
		v->octets += skb->len;
		return -1;
	}
	struct flow_val nv = { .packets = 1, .octets = skb->len };
	bpf_map_update_elem(&ref_flows, &key, &nv, BPF_NOEXIST);
	return -1;
}

/* The floor of a BTF tracepoint hit (the call and BPF stats' own clock
 * reads): the tracepoint benchmark attaches these beside tcp_probe and
 * kfree_skb. */
SEC("tp_btf/tcp_probe")
int BPF_PROG(tp_probe_empty, struct sock *sk, struct sk_buff *skb)
{
	return 0;
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(tp_drop_empty, struct sk_buff *skb, void *location, enum skb_drop_reason reason)
{
	return 0;
}
