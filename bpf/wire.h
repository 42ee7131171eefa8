/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* TCP retransmissions seen on the wire, for flows whose sockets live
 * elsewhere: a segment whose data (or SYN, FIN) starts below the highest
 * sequence number the flow already reached at this observation point was
 * sent before. Only packets that occupy sequence space (data, SYN, FIN)
 * touch the tcp_seqs map: pure ACKs cost nothing.
 *
 * Exact when the observation point sees every packet of the flow in order
 * and losses happen after it (the usual case for a pod's veth: the lost
 * copy passed here, the retransmission passes again). Limits: a segment
 * lost before the observation point is never seen twice, so its
 * retransmission is not counted; packets reordered before the observation
 * point count as retransmissions; a flow first seen mid-connection starts
 * counting from its first packet here; the state is shared by all CPUs
 * without atomics, so two CPUs racing on one flow can miss one. A GSO skb
 * that starts below the mark counts all its segments. */
#ifndef PODFLOW_WIRE_H
#define PODFLOW_WIRE_H

static __always_inline __u32 wire_retrans(const struct flow_key *key, const struct parsed *p, __u32 payload, __u32 segs)
{
	__u32 len = payload, end;
	struct seq_state *s;

	if (p->tcp_flags & TCP_FLAG_RST)
		return 0;
	if (p->tcp_flags & TCP_FLAG_SYN)
		len++;
	if (p->tcp_flags & TCP_FLAG_FIN)
		len++;
	if (!len)
		return 0; /* pure ACK: occupies no sequence space */
	end = p->tcp_seq + len;
	s = bpf_map_lookup_elem(&tcp_seqs, key);
	if (!s) {
		struct seq_state ns = { .next = end };

		bpf_map_update_elem(&tcp_seqs, key, &ns, BPF_ANY);
		return 0;
	}
	if ((p->tcp_flags & TCP_FLAG_SYN) && end != s->next) {
		s->next = end; /* a new connection on a reused 4-tuple */
		return 0;
	}
	if ((__s32)(p->tcp_seq - s->next) < 0) {
		if ((__s32)(end - s->next) > 0)
			s->next = end;
		return segs;
	}
	s->next = end;
	return 0;
}

#endif
