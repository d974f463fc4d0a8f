/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Crafted frames for BPF_PROG_TEST_RUN tests and the benchmark:
 * Ethernet, 0-2 VLAN tags (or more, to test the limit), IPv4 with options or
 * IPv6 with extension headers, TCP with options, and a payload. Fields can
 * be made wrong on purpose (ihl, doff, version, fragment offset).
 */
#ifndef SW_TEST_PKT_H
#define SW_TEST_PKT_H

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>

#define PKT_MAX 2048

#define PKT_FIN 0x01
#define PKT_SYN 0x02
#define PKT_RST 0x04
#define PKT_PSH 0x08
#define PKT_ACK 0x10

struct pkt_opts {
	const char *src;	/* address text; family from its form */
	const char *dst;	/* default 192.0.2.1 / 2001:db8::1 */
	uint16_t sport;		/* default 40000 */
	uint16_t dport;		/* default 25 */
	uint8_t flags;		/* TCP flags, default SYN */
	int vlan_tags;		/* 0..4; 1st is 802.1ad when 2+ (QinQ) */
	int ip_opt_words;	/* IPv4 options, 4-byte words (0-10) */
	int v6_ext[4];		/* IPv6 ext header types before TCP, 0-terminated:
				   IPPROTO_HOPOPTS, _ROUTING, _DSTOPTS, _FRAGMENT, _AH */
	int v6_frag_offset;	/* fragment offset (8-byte units) for an IPPROTO_FRAGMENT ext */
	int ipv4_frag_offset;	/* 8-byte units; nonzero makes a non-first fragment */
	int proto;		/* IP protocol, default TCP */
	int ihl;		/* override (0 = correct) */
	int doff;		/* override (0 = correct) */
	int ip_version;		/* override (0 = correct) */
	int tcp_opt_words;	/* TCP options, 4-byte words (0-10) */
	int payload;		/* payload bytes */
	const void *payload_data; /* @payload bytes to carry (NULL: 'x' filler), e.g. "EHLO x\r\n" */
	uint32_t seq;		/* TCP sequence number; 0: the next of a counter shared by all frames */
};

static inline int pkt_family(const char *addr)
{
	return strchr(addr, ':') ? AF_INET6 : AF_INET;
}

/* Build the frame into @buf; returns its length, or 0 if @o is invalid. */
/* A sequence number after every one handed out before (room for @len bytes). */
static inline uint32_t pkt_next_seq(uint32_t len)
{
	static uint32_t next = 1000;
	uint32_t seq = next;

	next += len + 1;
	return seq;
}

static inline size_t pkt_build(const struct pkt_opts *o, uint8_t *buf)
{
	const char *src = o->src ? o->src : "198.51.100.7";
	int fam = pkt_family(src);
	const char *dst = o->dst ? o->dst : (fam == AF_INET ? "192.0.2.1" : "2001:db8::1");
	uint8_t *p = buf, *ip_start, *l4;
	int proto = o->proto ? o->proto : IPPROTO_TCP;
	int tcp_len = 20 + 4 * o->tcp_opt_words;
	int i;

	memset(buf, 0, PKT_MAX);
	/* Ethernet */
	memcpy(p, "\x02\x00\x00\x00\x00\x01", 6);
	memcpy(p + 6, "\x02\x00\x00\x00\x00\x02", 6);
	p += 12;
	for (i = 0; i < o->vlan_tags; i++) {
		uint16_t tpid = (i == 0 && o->vlan_tags > 1) ? ETH_P_8021AD : ETH_P_8021Q;
		*(uint16_t *)p = htons(tpid);
		*(uint16_t *)(p + 2) = htons(100 + i);
		p += 4;
	}
	*(uint16_t *)p = htons(fam == AF_INET ? ETH_P_IP : ETH_P_IPV6);
	p += 2;
	ip_start = p;

	if (fam == AF_INET) {
		struct iphdr *ip = (struct iphdr *)p;
		int hl = 5 + o->ip_opt_words;

		ip->version = o->ip_version ? o->ip_version : 4;
		ip->ihl = o->ihl ? o->ihl : hl;
		ip->ttl = 64;
		ip->protocol = proto;
		ip->frag_off = htons(o->ipv4_frag_offset & 0x1fff);
		if (inet_pton(AF_INET, src, &ip->saddr) != 1 || inet_pton(AF_INET, dst, &ip->daddr) != 1)
			return 0;
		memset(p + 20, 1 /* NOP */, 4 * o->ip_opt_words);
		p += hl * 4;
		l4 = p;
		ip->tot_len = htons(hl * 4 + tcp_len + o->payload);
	} else {
		struct ipv6hdr *ip6 = (struct ipv6hdr *)p;
		uint8_t *next = &ip6->nexthdr;

		ip6->version = o->ip_version ? o->ip_version : 6;
		ip6->hop_limit = 64;
		if (inet_pton(AF_INET6, src, &ip6->saddr) != 1 || inet_pton(AF_INET6, dst, &ip6->daddr) != 1)
			return 0;
		p += 40;
		for (i = 0; i < 4 && o->v6_ext[i]; i++) {
			*next = o->v6_ext[i];
			next = p;	/* next-header byte of this ext header */
			if (o->v6_ext[i] == IPPROTO_FRAGMENT) {
				uint16_t off = (uint16_t)(o->v6_frag_offset << 3);
				p[2] = off >> 8;
				p[3] = off & 0xff;
				p += 8;
			} else if (o->v6_ext[i] == IPPROTO_AH) {
				p[1] = 1;	/* (1 + 2) * 4 = 12 bytes */
				p += 12;
			} else {
				p[1] = 0;	/* (0 + 1) * 8 = 8 bytes */
				p += 8;
			}
		}
		*next = proto;
		l4 = p;
		ip6->payload_len = htons((l4 - (ip_start + 40)) + tcp_len + o->payload);
	}

	/* TCP */
	{
		struct tcphdr *tcp = (struct tcphdr *)l4;

		tcp->source = htons(o->sport ? o->sport : 40000);
		tcp->dest = htons(o->dport ? o->dport : 25);
		/*
		 * Every frame built gets a later sequence number than the one
		 * before, as a real sender's new data does; a frame sent twice
		 * is a retransmission. @seq overrides it.
		 */
		tcp->seq = htonl(o->seq ? o->seq : pkt_next_seq(o->payload));
		tcp->doff = o->doff ? o->doff : tcp_len / 4;
		((uint8_t *)tcp)[13] = o->flags ? o->flags : PKT_SYN;
		tcp->window = htons(65535);
		memset(l4 + 20, 1, 4 * o->tcp_opt_words);
		p = l4 + tcp_len;
	}
	if (o->payload_data)
		memcpy(p, o->payload_data, o->payload);
	else
		memset(p, 'x', o->payload);
	p += o->payload;
	return p - buf;
}

/* Convenience: a frame from @src to port @dport with TCP @flags. */
static inline size_t pkt_simple(uint8_t *buf, const char *src, uint16_t sport, uint16_t dport, uint8_t flags)
{
	struct pkt_opts o = { .src = src, .sport = sport, .dport = dport, .flags = flags };

	return pkt_build(&o, buf);
}

#endif
