/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Packet parsing for the XDP program: Ethernet with up to two VLAN tags,
 * IPv4 with options, IPv6 with a bounded extension-header walk, TCP.
 *
 * Every read is bounds-checked against data_end. A frame that is cut short
 * or inconsistent before we know it is not TCP is "malformed": the caller
 * decides (by default, drop) so that a broken header is never a way past
 * the guard.
 */
#ifndef SW_BPF_PARSE_H
#define SW_BPF_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include "smtpwall.h"

#define SW_MAX_VLAN_TAGS 2
#define SW_MAX_IPV6_EXT	 8

#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif

enum sw_parse_result {
	SW_P_OTHER = 0,	/* not TCP over IP: not ours, pass */
	SW_P_TCP,	/* a complete TCP header: ports and flags valid */
	SW_P_FRAGMENT,	/* non-first fragment of TCP: addresses valid, no ports */
	SW_P_MALFORMED,	/* see malformed_kind; dport valid if dport_known */
};

struct sw_packet {
	__u32 saddr[4];
	__u32 daddr[4];
	__u16 sport;		/* network byte order */
	__u16 dport;		/* host byte order, for the port bitmap */
	__u8 family;
	__u8 tcp_flags;		/* byte 13 of the TCP header */
	__u8 malformed_kind;	/* enum sw_malformed */
	__u8 dport_known;	/* for SW_P_MALFORMED: the destination port could be read */
	__u8 has_payload;	/* TCP carries data, by the IP header's lengths (not padding) */
	__u8 pad[3];
	__u32 seq;		/* TCP sequence number, host order */
	__u32 payload_off;	/* TCP payload: offset from the frame's start */
	__u32 payload_len;	/* and length, by the IP header's lengths */
};

#define SW_TCP_FIN 0x01
#define SW_TCP_SYN 0x02
#define SW_TCP_RST 0x04
#define SW_TCP_ACK 0x10

static __always_inline int sw_malformed(struct sw_packet *p, __u8 kind)
{
	p->malformed_kind = kind;
	return SW_P_MALFORMED;
}

/*
 * Where the frame is and how long it really is: @len may exceed data_end -
 * data for a socket buffer whose payload lies outside its linear part (tc).
 * Headers must be in [data, data_end); lengths are checked against @len.
 */
struct sw_frame {
	void *data;
	void *data_end;
	__u32 len;
};

/* TCP at @l4; @l4_len is the L4 length the IP header declares. */
static __always_inline int sw_parse_tcp(struct sw_packet *p, const struct sw_frame *f, void *l4,
					__u32 l4_len)
{
	void *data_end = f->data_end;
	struct tcphdr *tcp = l4;
	__u16 *ports = l4;

	if ((void *)(ports + 2) > data_end)
		return sw_malformed(p, SW_M_TCP);
	p->sport = ports[0];
	p->dport = bpf_ntohs(ports[1]);
	p->dport_known = 1;
	if ((void *)(tcp + 1) > data_end)
		return sw_malformed(p, SW_M_TCP);
	/* Within the frame, and within what the IP header says (not Ethernet padding). */
	if (tcp->doff < 5 || l4 + tcp->doff * 4 > data_end || (__u32)tcp->doff * 4 > l4_len)
		return sw_malformed(p, SW_M_TCP);
	p->tcp_flags = ((__u8 *)tcp)[13];
	p->seq = bpf_ntohl(tcp->seq);
	p->has_payload = l4_len > (__u32)tcp->doff * 4;
	p->payload_off = (__u32)(l4 - f->data) + tcp->doff * 4;
	p->payload_len = l4_len - tcp->doff * 4;
	return SW_P_TCP;
}

static __always_inline int sw_parse_ipv4(struct sw_packet *p, const struct sw_frame *f, struct iphdr *ip)
{
	void *data_end = f->data_end;
	__u32 hlen;

	if ((void *)(ip + 1) > data_end)
		return sw_malformed(p, SW_M_IPV4);
	hlen = ip->ihl * 4;
	if (ip->version != 4 || ip->ihl < 5 || (void *)ip + hlen > data_end ||
	    bpf_ntohs(ip->tot_len) < hlen ||
	    (__u32)((void *)ip - f->data) + bpf_ntohs(ip->tot_len) > f->len)
		return sw_malformed(p, SW_M_IPV4);
	if (ip->protocol != IPPROTO_TCP)
		return SW_P_OTHER;
	p->family = SW_AF_INET;
	p->saddr[0] = ip->saddr;
	p->daddr[0] = ip->daddr;
	if (ip->frag_off & bpf_htons(0x1fff))
		return SW_P_FRAGMENT;
	return sw_parse_tcp(p, f, (void *)ip + hlen, bpf_ntohs(ip->tot_len) - hlen);
}

/* L4 bytes of an IPv6 payload of @payload_len bytes, after @ext_len bytes of extension headers. */
static __always_inline __u32 sw_v6_l4_len(__u32 payload_len, __u32 ext_len)
{
	return payload_len > ext_len ? payload_len - ext_len : 0;
}

static __always_inline int sw_parse_ipv6(struct sw_packet *p, const struct sw_frame *f, struct ipv6hdr *ip6)
{
	void *data_end = f->data_end;
	void *cursor = ip6 + 1;
	__u32 ext_len = 0;	/* extension header bytes walked so far */
	__u32 ip6_end, payload_len;	/* where the IPv6 header ends; the length it declares */
	__u8 next;
	int i;

	if ((void *)(ip6 + 1) > data_end)
		return sw_malformed(p, SW_M_IPV6);
	if (ip6->version != 6)
		return sw_malformed(p, SW_M_IPV6);
	/*
	 * The payload length is checked against the frame, as IPv4's total
	 * length is: a datagram longer than the frame is one the kernel drops
	 * as truncated, and must not count here as data that never arrives.
	 * 0 (a jumbogram, or BIG TCP on egress) is whatever the frame holds
	 * (tests/fuzz/regress/packet/).
	 */
	ip6_end = (__u32)((void *)ip6 - f->data) + sizeof(*ip6);
	payload_len = bpf_ntohs(ip6->payload_len);
	if (ip6_end + payload_len > f->len)
		return sw_malformed(p, SW_M_IPV6);
	if (!payload_len)
		payload_len = f->len - ip6_end;
	p->family = SW_AF_INET6;
	__builtin_memcpy(p->saddr, &ip6->saddr, 16);
	__builtin_memcpy(p->daddr, &ip6->daddr, 16);
	next = ip6->nexthdr;

#pragma unroll
	for (i = 0; i < SW_MAX_IPV6_EXT; i++) {
		__u8 *ext = cursor;

		switch (next) {
		case IPPROTO_TCP:
			return sw_parse_tcp(p, f, cursor, sw_v6_l4_len(payload_len, ext_len));
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			if ((void *)(ext + 2) > data_end)
				return sw_malformed(p, SW_M_IPV6);
			next = ext[0];
			cursor += (ext[1] + 1) * 8;
			ext_len += (ext[1] + 1) * 8;
			break;
		case IPPROTO_AH:
			if ((void *)(ext + 2) > data_end)
				return sw_malformed(p, SW_M_IPV6);
			next = ext[0];
			cursor += (ext[1] + 2) * 4;
			ext_len += (ext[1] + 2) * 4;
			break;
		case IPPROTO_FRAGMENT:
			if ((void *)(ext + 8) > data_end)
				return sw_malformed(p, SW_M_IPV6);
			next = ext[0];
			/* offset is the upper 13 bits of bytes 2-3 */
			if ((((__u16)ext[2] << 8 | ext[3]) & 0xfff8) != 0)
				return next == IPPROTO_TCP ? SW_P_FRAGMENT : SW_P_OTHER;
			cursor += 8;
			ext_len += 8;
			break;
		default:
			return SW_P_OTHER;
		}
	}
	/*
	 * SW_MAX_IPV6_EXT headers walked: the upper layer may still follow
	 * them. Another extension header: chain too long, cannot tell it is
	 * not SMTP.
	 */
	switch (next) {
	case IPPROTO_TCP:
		return sw_parse_tcp(p, f, cursor, sw_v6_l4_len(payload_len, ext_len));
	case IPPROTO_HOPOPTS:
	case IPPROTO_ROUTING:
	case IPPROTO_DSTOPTS:
	case IPPROTO_AH:
	case IPPROTO_FRAGMENT:
		return sw_malformed(p, SW_M_IPV6);
	default:
		return SW_P_OTHER;
	}
}

/* Parse frame @f into @p. */
static __always_inline int sw_parse_frame(const struct sw_frame *f, struct sw_packet *p)
{
	void *data = f->data, *data_end = f->data_end;
	struct ethhdr *eth = data;
	void *cursor = eth + 1;
	__u16 proto;
	int i;

	if ((void *)(eth + 1) > data_end)
		return sw_malformed(p, SW_M_L2);
	proto = eth->h_proto;

#pragma unroll
	for (i = 0; i < SW_MAX_VLAN_TAGS; i++) {
		__u16 *vlan = cursor;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(vlan + 2) > data_end)
			return sw_malformed(p, SW_M_L2);
		proto = vlan[1];
		cursor = vlan + 2;
	}

	if (proto == bpf_htons(ETH_P_IP))
		return sw_parse_ipv4(p, f, cursor);
	if (proto == bpf_htons(ETH_P_IPV6))
		return sw_parse_ipv6(p, f, cursor);
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD))
		return sw_malformed(p, SW_M_L2);	/* a third tag: beyond what we parse */
	return SW_P_OTHER;
}

/* Parse the linear frame between @data and @data_end (XDP) into @p. */
static __always_inline int sw_parse(void *data, void *data_end, struct sw_packet *p)
{
	struct sw_frame f = { .data = data, .data_end = data_end, .len = data_end - data };

	return sw_parse_frame(&f, p);
}

#endif
