/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* TCP handshake timing on the wire, for connections whose sockets live
 * elsewhere (traffic routed or bridged through the node): at one
 * observation point, SYN → SYN-ACK is the server-side part of the handshake
 * RTT and SYN-ACK → ACK the client-side part.
 *
 * Cost: SYN and SYN-ACK packets touch the handshakes map; the handshake
 * completing ACK is the first ACK of the client→server flow, so an ACK looks
 * the map up only when this CPU's entry of that flow has not seen an ACK yet
 * in this drain interval (once per flow, CPU and interval, not per packet).
 *
 * Limits: the latest SYN and SYN-ACK are the ones timed (a retransmitted SYN
 * is usually the one answered; Karn's ambiguity remains); a connection
 * already open when podflow started, or whose SYN was not seen at this
 * observation point, has no handshake timing; TCP Fast Open data on the SYN
 * does not change the timing. */
#ifndef PODFLOW_HANDSHAKE_H
#define PODFLOW_HANDSHAKE_H

#define TCP_FLAG_FIN 0x01
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_RST 0x04
#define TCP_FLAG_ACK 0x10

static __always_inline void handshake_key(struct flow_key *dst, const struct flow_key *k, bool reverse)
{
	*dst = *k;
	dst->direction = 0;
	if (reverse) {
		__builtin_memcpy(dst->saddr, k->daddr, 16);
		__builtin_memcpy(dst->daddr, k->saddr, 16);
		dst->sport = k->dport;
		dst->dport = k->sport;
	}
}

/* handshake_step runs for every TCP packet with the flags it carries, the
 * flags this CPU's entry of its flow had before it (0 for a new entry) and
 * that entry, which gets the timing when this packet completes a handshake. */
static __always_inline void handshake_step(const struct flow_key *key, __u16 flags, __u16 seen, struct flow_val *v)
{
	struct flow_key hk;
	struct handshake *h;
	__u64 now;

	if (flags & TCP_FLAG_SYN) {
		now = bpf_ktime_get_ns();
		if (!(flags & TCP_FLAG_ACK)) {
			struct handshake nh = { .syn_ns = now };

			handshake_key(&hk, key, false);
			if (bpf_map_update_elem(&handshakes, &hk, &nh, BPF_ANY))
				stat_add(STAT_HANDSHAKES_EVICTED, 1);
			return;
		}
		handshake_key(&hk, key, true);
		h = bpf_map_lookup_elem(&handshakes, &hk);
		if (h)
			h->synack_ns = now;
		return;
	}
	if (!(flags & TCP_FLAG_ACK) || (seen & TCP_FLAG_ACK) || (flags & TCP_FLAG_RST))
		return;
	handshake_key(&hk, key, false);
	h = bpf_map_lookup_elem(&handshakes, &hk);
	if (!h)
		return;
	if (h->synack_ns && h->synack_ns >= h->syn_ns) {
		now = bpf_ktime_get_ns();
		v->handshake_server_us = (h->synack_ns - h->syn_ns) / 1000;
		v->handshake_client_us = (now - h->synack_ns) / 1000;
		v->handshake_seen = 1;
	}
	bpf_map_delete_elem(&handshakes, &hk);
}

#endif
