/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Packet parsing for the TC programs: L2 (Ethernet, up to two 802.1Q/802.1ad
 * tags) → IPv4 (with options) / IPv6 (with extension headers) → L4 ports,
 * ICMP type/code and TCP flags. Direct packet access only; a header that lies
 * beyond the linear part of a non-linear skb is reported as PARSE_NEED_PULL so
 * the caller can pull and parse again. */
#ifndef PODFLOW_PARSE_H
#define PODFLOW_PARSE_H

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8

#define NEXTHDR_HOP 0
#define NEXTHDR_ROUTING 43
#define NEXTHDR_FRAGMENT 44
#define NEXTHDR_AUTH 51
#define NEXTHDR_DEST 60
#define NEXTHDR_MOBILITY 135
#define IPV6_MAX_EXT_HEADERS 6

#define PROTO_ICMP 1
#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_ICMPV6 58
#define PROTO_SCTP 132
#define PROTO_UDPLITE 136

enum parse_result {
	PARSE_OK = 0,
	PARSE_NON_IP,
	PARSE_MALFORMED,
	PARSE_NEED_PULL,
};

struct parsed {
	struct flow_key key;
	__u32 l3_off;   /* L2 header length */
	__u32 hdr_len;  /* L3 + L4 header length: what every GSO segment repeats */
	__u32 ip_len;   /* IP total length from the header, 0 if unknown */
	__u32 tcp_seq;  /* TCP sequence number (host order) */
	__u16 tcp_flags;
	__u8 l4_truncated;
	__u8 fragment;
};

struct vlan_tag {
	__be16 tci;
	__be16 proto;
};

struct ipv6_ext {
	__u8 nexthdr;
	__u8 len;
};

struct ipv6_frag {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;
	__be32 id;
};

/* A header of n bytes at offset off does not fit the linear data: either the
 * packet really is that short, or the rest is in fragments and must be pulled. */
static __always_inline int short_header(struct __sk_buff *skb, __u32 end)
{
	return skb->len >= end ? PARSE_NEED_PULL : PARSE_MALFORMED;
}

/* Whether the L4 header's first `need` bytes are in the linear data. Each
 * protocol checks with its own constant so the verifier keeps the bound. */
#define L4_FITS(need)                                                     \
	({                                                                \
		int __r = PARSE_OK;                                       \
		if ((void *)(l4 + (need)) > data_end) {                   \
			if (skb->len >= off + (need))                     \
				return PARSE_NEED_PULL;                   \
			/* The L3 header is whole, so the packet belongs \
			 * to this host pair: count it there with ports 0 \
			 * rather than lose it. */                        \
			p->l4_truncated = 1;                              \
			__r = -1;                                         \
		}                                                         \
		__r == PARSE_OK;                                          \
	})

static __always_inline int parse_l4(struct __sk_buff *skb, struct parsed *p, __u32 off, __u8 proto)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u8 *l4 = data + off;

	p->key.proto = proto;
	switch (proto) {
	case PROTO_TCP: {
		__u32 doff;

		if (!L4_FITS(20))
			return PARSE_OK;
		p->key.sport = ((__u16)l4[0] << 8) | l4[1];
		p->key.dport = ((__u16)l4[2] << 8) | l4[3];
		p->tcp_flags = ((__u16)(l4[12] & 1) << 8) | l4[13];
		p->tcp_seq = ((__u32)l4[4] << 24) | ((__u32)l4[5] << 16) | ((__u32)l4[6] << 8) | l4[7];
		doff = (l4[12] >> 4) * 4;
		p->hdr_len += doff < 20 ? 20 : doff;
		return PARSE_OK;
	}
	case PROTO_UDP:
	case PROTO_UDPLITE:
		if (!L4_FITS(8))
			return PARSE_OK;
		p->hdr_len += 8;
		break;
	case PROTO_SCTP:
		if (!L4_FITS(12))
			return PARSE_OK;
		p->hdr_len += 12;
		break;
	case PROTO_ICMP:
	case PROTO_ICMPV6:
		if (!L4_FITS(4))
			return PARSE_OK;
		p->key.dport = ((__u16)l4[0] << 8) | l4[1];
		p->hdr_len += 8;
		return PARSE_OK;
	default:
		return PARSE_OK; /* no ports: counted by protocol number */
	}
	p->key.sport = ((__u16)l4[0] << 8) | l4[1];
	p->key.dport = ((__u16)l4[2] << 8) | l4[3];
	return PARSE_OK;
}

static __always_inline int parse_ipv4(struct __sk_buff *skb, struct parsed *p, __u32 off)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct iphdr *ip = data + off;
	__u32 ihl;

	if ((void *)(ip + 1) > data_end)
		return short_header(skb, off + sizeof(*ip));
	if (ip->version != 4 || ip->ihl < 5)
		return PARSE_MALFORMED;
	ihl = ip->ihl * 4;
	if (data + off + ihl > data_end)
		return short_header(skb, off + ihl);
	p->ip_len = bpf_ntohs(ip->tot_len);
	if (p->ip_len < ihl)
		return PARSE_MALFORMED;

	p->key.ip_version = 4;
	p->key.saddr[10] = 0xff;
	p->key.saddr[11] = 0xff;
	p->key.daddr[10] = 0xff;
	p->key.daddr[11] = 0xff;
	__builtin_memcpy(&p->key.saddr[12], &ip->saddr, 4);
	__builtin_memcpy(&p->key.daddr[12], &ip->daddr, 4);
	p->hdr_len = ihl;
	if (ip->frag_off & bpf_htons(0x1fff)) {
		/* Non-first fragment: no L4 header. Counted to the 3-tuple
		 * with ports 0, as classic exporters do. */
		p->key.proto = ip->protocol;
		p->fragment = 1;
		return PARSE_OK;
	}
	return parse_l4(skb, p, off + ihl, ip->protocol);
}

static __always_inline int parse_ipv6(struct __sk_buff *skb, struct parsed *p, __u32 off)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ipv6hdr *ip6 = data + off;
	__u8 nexthdr;

	if ((void *)(ip6 + 1) > data_end)
		return short_header(skb, off + sizeof(*ip6));
	if (ip6->version != 6)
		return PARSE_MALFORMED;
	p->key.ip_version = 6;
	__builtin_memcpy(p->key.saddr, &ip6->saddr, 16);
	__builtin_memcpy(p->key.daddr, &ip6->daddr, 16);
	if (ip6->payload_len) /* 0 means a jumbogram or BIG TCP: length unknown */
		p->ip_len = bpf_ntohs(ip6->payload_len) + sizeof(*ip6);
	nexthdr = ip6->nexthdr;
	off += sizeof(*ip6);
	p->hdr_len = sizeof(*ip6);

#pragma unroll
	for (int i = 0; i < IPV6_MAX_EXT_HEADERS; i++) {
		__u32 len;

		switch (nexthdr) {
		case NEXTHDR_HOP:
		case NEXTHDR_ROUTING:
		case NEXTHDR_DEST:
		case NEXTHDR_MOBILITY:
		case NEXTHDR_AUTH: {
			struct ipv6_ext *ext = data + off;

			if ((void *)(ext + 1) > data_end)
				return short_header(skb, off + sizeof(*ext));
			if (nexthdr == NEXTHDR_AUTH)
				len = ((__u32)ext->len + 2) * 4;
			else
				len = ((__u32)ext->len + 1) * 8;
			nexthdr = ext->nexthdr;
			break;
		}
		case NEXTHDR_FRAGMENT: {
			struct ipv6_frag *frag = data + off;

			if ((void *)(frag + 1) > data_end)
				return short_header(skb, off + sizeof(*frag));
			nexthdr = frag->nexthdr;
			p->hdr_len += sizeof(*frag);
			if (frag->frag_off & bpf_htons(0xfff8)) {
				p->key.proto = nexthdr;
				p->fragment = 1;
				return PARSE_OK;
			}
			off += sizeof(*frag);
			continue;
		}
		default:
			return parse_l4(skb, p, off, nexthdr);
		}
		off += len;
		p->hdr_len += len;
	}
	/* Longer header chains than we walk: count by the next header, no ports. */
	p->key.proto = nexthdr;
	return PARSE_OK;
}

static __always_inline int parse_packet(struct __sk_buff *skb, struct parsed *p, bool l2)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__be16 proto = skb->protocol;
	__u32 off = 0;

	if (l2) {
		struct ethhdr *eth = data;

		if ((void *)(eth + 1) > data_end)
			return short_header(skb, sizeof(*eth));
		proto = eth->h_proto;
		off = sizeof(*eth);
#pragma unroll
		for (int i = 0; i < 2; i++) {
			struct vlan_tag *tag = data + off;

			if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
				break;
			if ((void *)(tag + 1) > data_end)
				return short_header(skb, off + sizeof(*tag));
			proto = tag->proto;
			off += sizeof(*tag);
		}
	}
	p->l3_off = off;
	if (proto == bpf_htons(ETH_P_IP))
		return parse_ipv4(skb, p, off);
	if (proto == bpf_htons(ETH_P_IPV6))
		return parse_ipv6(skb, p, off);
	return PARSE_NON_IP;
}

#endif
