// SPDX-License-Identifier: GPL-2.0
/*
 * The XDP program's parser (bpf/parse.h) seen through its verdicts: VLAN
 * tags, IPv4 options and fragments, IPv6 extension headers and fragments,
 * TCP header checks, what counts as malformed and of which kind, and every
 * truncation of valid frames.
 *
 * A header that is parsed at the wrong offset shows up as a handshake that
 * opens no session on port 25 (the ports would be read from the wrong
 * bytes), so the "parsed correctly" tests complete a handshake (SYN, then
 * ACK) with the frame layout under test and check the session record.
 */
#include "sw_test.h"

/* Byte offsets of the layers in a pkt_build() frame. */
struct layout {
	size_t l3;		/* IP header */
	size_t l4;		/* TCP header */
};

static struct layout pkt_layout(const struct pkt_opts *o)
{
	const char *src = o->src ? o->src : "198.51.100.7";
	struct layout l = { .l3 = 14 + 4 * o->vlan_tags };
	int i;

	if (!strchr(src, ':')) {
		l.l4 = l.l3 + 20 + 4 * o->ip_opt_words;
		return l;
	}
	l.l4 = l.l3 + 40;
	for (i = 0; i < 4 && o->v6_ext[i]; i++)
		l.l4 += o->v6_ext[i] == IPPROTO_AH ? 12 : 8;
	return l;
}

/* The IPv4 total length field of a frame without VLAN tags. */
static void set_tot_len(uint8_t *frame, size_t l3, uint16_t tot_len)
{
	struct iphdr *ip = (struct iphdr *)(frame + l3);

	ip->tot_len = htons(tot_len);
}

static __u64 malformed_total(const struct sw_stats *st)
{
	return st->malformed[SW_M_L2] + st->malformed[SW_M_IPV4] +
	       st->malformed[SW_M_IPV6] + st->malformed[SW_M_TCP];
}

/* Run a frame that must be malformed of @kind, with the verdict @verdict. */
static void expect_malformed(struct swh *h, const uint8_t *frame, size_t len, int kind, __u32 verdict)
{
	struct sw_stats before = stats(h), after;
	__u32 ret = run_frame(h, frame, len);

	after = stats(h);
	if (ret != verdict)
		fail_msg("length %zu: verdict %u, expected %u", len, ret, verdict);
	if (after.malformed[kind] != before.malformed[kind] + 1 ||
	    malformed_total(&after) != malformed_total(&before) + 1)
		fail_msg("length %zu: not counted as malformed kind %d (L2 %llu IPv4 %llu IPv6 %llu TCP %llu)",
			 len, kind, (unsigned long long)(after.malformed[SW_M_L2] - before.malformed[SW_M_L2]),
			 (unsigned long long)(after.malformed[SW_M_IPV4] - before.malformed[SW_M_IPV4]),
			 (unsigned long long)(after.malformed[SW_M_IPV6] - before.malformed[SW_M_IPV6]),
			 (unsigned long long)(after.malformed[SW_M_TCP] - before.malformed[SW_M_TCP]));
	assert_int_equal(after.guarded_packets, before.guarded_packets);
}

static void expect_malformed_pkt(struct swh *h, const struct pkt_opts *o, int kind, __u32 verdict)
{
	uint8_t buf[PKT_MAX];
	size_t len = pkt_build(o, buf);

	assert_true(len > 0);
	expect_malformed(h, buf, len, kind, verdict);
}

/*
 * A SYN that must be admitted for @o's source, then the ACK of the same
 * frame layout that must complete its handshake: a session record for the
 * right ports exists only if both were parsed at the right offsets.
 */
static void expect_admitted(struct swh *h, const struct pkt_opts *o)
{
	struct pkt_opts ack = *o;
	struct sw_session sess;
	struct sw_stats before = stats(h), after;

	assert_int_equal(run_pkt(h, o), PASS);
	after = stats(h);
	assert_int_equal(after.admitted, before.admitted + 1);
	ack.flags = PKT_ACK;
	assert_int_equal(run_pkt(h, &ack), PASS);
	after = stats(h);
	assert_int_equal(after.sessions_opened, before.sessions_opened + 1);
	assert_int_equal(malformed_total(&after), malformed_total(&before));
	assert_int_equal(swh_session(h, o->src, o->sport ? o->sport : 40000, NULL,
				     o->dport ? o->dport : 25, &sess), 0);
	assert_int_equal(sess.flags, SW_SESS_HANDSHAKE);
}

/* ---- Ethernet and VLAN ---- */

static void test_vlan_tags(void **state)
{
	struct swh *h = *state;
	struct pkt_opts one = { .src = "198.51.100.1", .vlan_tags = 1 };
	struct pkt_opts qinq = { .src = "198.51.100.2", .vlan_tags = 2 };
	struct pkt_opts qinq6 = { .src = "2001:db8:1::2", .vlan_tags = 2 };
	struct pkt_opts ad = { .src = "198.51.100.3", .vlan_tags = 1 };
	struct pkt_opts three = { .src = "198.51.100.4", .vlan_tags = 3 };
	struct pkt_opts three80 = { .src = "198.51.100.4", .vlan_tags = 3, .dport = 80 };
	struct pkt_opts four = { .src = "198.51.100.4", .vlan_tags = 4, .dport = 80, .flags = PKT_ACK };
	uint8_t buf[PKT_MAX];
	size_t len;
	struct sw_stats st;

	expect_admitted(h, &one);
	expect_admitted(h, &qinq);
	expect_admitted(h, &qinq6);

	/* A single 802.1ad tag is a tag too. */
	len = pkt_build(&ad, buf);
	*(uint16_t *)(buf + 12) = htons(ETH_P_8021AD);
	assert_int_equal(run_frame(h, buf, len), PASS);
	assert_int_equal(source(h, "198.51.100.3").admitted, 1);

	/* Beyond two tags we cannot see the port: dropped whatever it is. */
	expect_malformed_pkt(h, &three, SW_M_L2, DROP);
	expect_malformed_pkt(h, &three80, SW_M_L2, DROP);
	expect_malformed_pkt(h, &four, SW_M_L2, DROP);
	assert_no_source(h, "198.51.100.4");

	st = stats(h);
	assert_int_equal(st.malformed[SW_M_L2], 3);
	assert_int_equal(st.dropped[SW_R_MALFORMED], 3);
	assert_int_equal(st.admitted, 4);
}

/* ---- IPv4 ---- */

static void test_ipv4_options(void **state)
{
	struct swh *h = *state;
	struct pkt_opts o = { .src = "198.51.100.7" };
	int words;

	/* ihl 6..15 */
	for (words = 1; words <= 10; words++) {
		o.ip_opt_words = words;
		o.sport = 1000 + words;
		expect_admitted(h, &o);
	}
	/* TCP options too, and both at their maximum behind two tags */
	o.ip_opt_words = 0;
	for (words = 1; words <= 10; words++) {
		o.tcp_opt_words = words;
		o.sport = 2000 + words;
		expect_admitted(h, &o);
	}
	o.ip_opt_words = 10;
	o.vlan_tags = 2;
	o.sport = 3000;
	expect_admitted(h, &o);
	assert_int_equal(source(h, "198.51.100.7").sessions_open, 21);
}

static void test_ipv4_bad_header(void **state)
{
	struct swh *h = *state;
	struct pkt_opts o = { .src = "198.51.100.7" };
	uint8_t buf[PKT_MAX];
	size_t len;
	struct sw_stats st;
	int n = 0;

	/* ihl < 5, to a guarded and an unguarded port: the port is not known */
	for (o.ihl = 1; o.ihl <= 4; o.ihl++, n++)
		expect_malformed_pkt(h, &o, SW_M_IPV4, DROP);
	o.dport = 80;
	o.ihl = 4;
	expect_malformed_pkt(h, &o, SW_M_IPV4, DROP);
	n++;
	o.dport = 0;
	o.ihl = 0;

	/* version != 4 behind an IPv4 ethertype */
	o.ip_version = 6;
	expect_malformed_pkt(h, &o, SW_M_IPV4, DROP);
	o.ip_version = 5;
	expect_malformed_pkt(h, &o, SW_M_IPV4, DROP);
	n += 2;
	o.ip_version = 0;

	/* total length shorter than the header */
	len = pkt_build(&o, buf);
	set_tot_len(buf, 14, 19);
	expect_malformed(h, buf, len, SW_M_IPV4, DROP);
	o.ip_opt_words = 2;
	len = pkt_build(&o, buf);
	set_tot_len(buf, 14, 27);	/* > 20 but < ihl * 4 = 28 */
	expect_malformed(h, buf, len, SW_M_IPV4, DROP);
	o.ip_opt_words = 0;
	/* ...and longer than the frame */
	len = pkt_build(&o, buf);
	set_tot_len(buf, 14, len - 14 + 1);
	expect_malformed(h, buf, len, SW_M_IPV4, DROP);
	set_tot_len(buf, 14, 0xffff);
	expect_malformed(h, buf, len, SW_M_IPV4, DROP);
	n += 4;

	/* ihl beyond the frame: an options area the frame does not have */
	len = pkt_build(&o, buf);
	buf[14] = 0x4f;
	set_tot_len(buf, 14, len - 14);
	expect_malformed(h, buf, 14 + 40, SW_M_IPV4, DROP);
	n++;

	st = stats(h);
	assert_int_equal(st.malformed[SW_M_IPV4], n);
	assert_int_equal(st.dropped[SW_R_MALFORMED], n);
	assert_int_equal(swh_source_count(h), 0);

	/* Ethernet padding after the datagram is fine: 54-byte SYN padded to 60. */
	len = pkt_build(&o, buf);
	assert_int_equal(len, 54);
	memset(buf + len, 0, 6);
	assert_int_equal(run_frame(h, buf, 60), PASS);
	assert_int_equal(source(h, "198.51.100.7").admitted, 1);
}

static void test_ipv4_fragments(void **state)
{
	struct swh *h = *state;
	struct pkt_opts frag = { .src = "198.51.100.7", .ipv4_frag_offset = 185, .flags = PKT_ACK };
	struct pkt_opts first = { .src = "198.51.100.8", .sport = 7 };
	struct pkt_opts udp = { .src = "198.51.100.7", .ipv4_frag_offset = 185, .proto = IPPROTO_UDP };
	uint8_t buf[PKT_MAX];
	size_t len;
	struct sw_stats st;

	/* Unknown source: passes, counted, no state. */
	assert_int_equal(run_pkt(h, &frag), PASS);
	assert_no_source(h, "198.51.100.7");
	st = stats(h);
	assert_int_equal(st.fragments, 1);
	assert_int_equal(st.guarded_packets, 1);

	/* A fragment carries no TCP header at all: 8 bytes of data are enough. */
	len = pkt_build(&frag, buf);
	set_tot_len(buf, 14, 28);
	assert_int_equal(run_frame(h, buf, 14 + 28), PASS);
	/* ...and the fragment with the SYN flags' byte set is still not a SYN. */
	frag.flags = PKT_SYN;
	assert_int_equal(run_pkt(h, &frag), PASS);
	assert_no_source(h, "198.51.100.7");
	frag.flags = PKT_ACK;

	/* A first fragment (MF set, offset 0) is parsed as TCP. */
	len = pkt_build(&first, buf);
	*(uint16_t *)(buf + 14 + 6) = htons(0x2000);
	assert_int_equal(run_frame(h, buf, len), PASS);
	assert_int_equal(source(h, "198.51.100.8").admitted, 1);

	/* A known source: passes, counted on the source. */
	frag.src = "198.51.100.8";
	assert_int_equal(run_pkt(h, &frag), PASS);
	assert_int_equal(source(h, "198.51.100.8").packets, 2);
	assert_int_equal(source(h, "198.51.100.8").admitted, 1);

	/* A UDP fragment is not ours. */
	assert_int_equal(run_pkt(h, &udp), PASS);

	st = stats(h);
	assert_int_equal(st.fragments, 4);
	assert_int_equal(st.syn, 1);
	assert_no_drops(&st);

	/* Banned: dropped, known source or not. */
	list_set(h, true, "198.51.100.0/24", 0);
	bump_list_gen(h);
	assert_int_equal(run_pkt(h, &frag), DROP);
	frag.src = "198.51.100.9";
	assert_int_equal(run_pkt(h, &frag), DROP);
	st = stats(h);
	assert_int_equal(st.dropped[SW_R_DENY], 2);
	assert_int_equal(st.fragments, 6);
}

/* ---- IPv6 ---- */

static void test_ipv6_ext_headers(void **state)
{
	struct swh *h = *state;
	static const int chains[][4] = {
		{ EXT_HOPOPTS },
		{ IPPROTO_ROUTING },
		{ IPPROTO_DSTOPTS },
		{ IPPROTO_AH },
		{ IPPROTO_FRAGMENT },	/* offset 0: the first fragment, parsed */
		{ EXT_HOPOPTS, IPPROTO_ROUTING, IPPROTO_DSTOPTS },
		{ EXT_HOPOPTS, IPPROTO_AH, IPPROTO_FRAGMENT, IPPROTO_DSTOPTS },
		{ IPPROTO_DSTOPTS, IPPROTO_ROUTING, IPPROTO_AH, IPPROTO_AH },
	};
	struct pkt_opts o = { .src = "2001:db8:1::7", .tcp_opt_words = 3 };
	struct pkt_opts udp = { .src = "2001:db8:1::7", .proto = IPPROTO_UDP,
				.v6_ext = { EXT_HOPOPTS, IPPROTO_FRAGMENT } };
	struct pkt_opts nonext = { .src = "2001:db8:1::7", .proto = 59 /* no next header */,
				   .v6_ext = { IPPROTO_DSTOPTS } };
	unsigned int i;

	for (i = 0; i < sizeof(chains) / sizeof(chains[0]); i++) {
		memcpy(o.v6_ext, chains[i], sizeof(o.v6_ext));
		o.sport = 100 + i;
		o.vlan_tags = i & 1;
		expect_admitted(h, &o);
	}
	assert_int_equal(source(h, "2001:db8:1::7").sessions_open, i);

	assert_int_equal(run_pkt(h, &udp), PASS);
	assert_int_equal(run_pkt(h, &nonext), PASS);
	assert_int_equal(stats(h).guarded_packets, 2 * i);	/* SYN and ACK each */
}

/*
 * IPv6 SYN with @n extension headers of @type (8 bytes each) before TCP,
 * built by hand: pkt.h stops at four.
 */
static size_t v6_chain(uint8_t *buf, int n, int type, uint16_t sport, uint8_t flags)
{
	struct pkt_opts o = { .src = "2001:db8:1::7", .sport = sport, .flags = flags };
	size_t len = pkt_build(&o, buf);
	const size_t l3 = 14, l4 = l3 + 40, tcp = len - l4;
	struct ipv6hdr *ip6;
	int i;

	assert_true(len + 8 * n <= PKT_MAX);
	memmove(buf + l4 + 8 * n, buf + l4, tcp);
	memset(buf + l4, 0, 8 * n);
	for (i = 0; i < n; i++)
		buf[l4 + 8 * i] = i == n - 1 ? IPPROTO_TCP : type;
	ip6 = (struct ipv6hdr *)(buf + l3);
	ip6->nexthdr = n ? type : IPPROTO_TCP;
	ip6->payload_len = htons(8 * n + tcp);
	return len + 8 * n;
}

static void test_ipv6_ext_chain_limit(void **state)
{
	struct swh *h = *state;
	uint8_t buf[PKT_MAX];
	struct sw_session sess;
	size_t len;
	int n;

	/* Up to SW_MAX_IPV6_EXT (8) extension headers are walked. */
	for (n = 0; n <= 8; n++) {
		len = v6_chain(buf, n, IPPROTO_DSTOPTS, 100 + n, PKT_SYN);
		assert_int_equal(run_frame(h, buf, len), PASS);
		len = v6_chain(buf, n, IPPROTO_DSTOPTS, 100 + n, PKT_ACK);
		assert_int_equal(run_frame(h, buf, len), PASS);
		if (swh_session(h, "2001:db8:1::7", 100 + n, NULL, 25, &sess))
			fail_msg("handshake behind %d extension headers not seen", n);
	}
	/* More, and the port cannot be found: malformed, dropped. */
	for (n = 9; n <= 12; n++) {
		len = v6_chain(buf, n, n & 1 ? IPPROTO_DSTOPTS : IPPROTO_HOPOPTS, 100 + n, PKT_SYN);
		expect_malformed(h, buf, len, SW_M_IPV6, DROP);
	}
	assert_int_equal(stats(h).dropped[SW_R_MALFORMED], 4);
}

static void test_ipv6_fragments(void **state)
{
	struct swh *h = *state;
	struct pkt_opts frag = { .src = "2001:db8:1::7", .flags = PKT_ACK,
				 .v6_ext = { IPPROTO_FRAGMENT }, .v6_frag_offset = 100 };
	struct pkt_opts frag2 = { .src = "2001:db8:2::7", .flags = PKT_SYN,
				  .v6_ext = { EXT_HOPOPTS, IPPROTO_FRAGMENT }, .v6_frag_offset = 1 };
	struct pkt_opts udp = { .src = "2001:db8:1::7", .proto = IPPROTO_UDP,
				.v6_ext = { IPPROTO_FRAGMENT }, .v6_frag_offset = 100 };
	struct sw_stats st;

	assert_int_equal(run_pkt(h, &frag), PASS);
	assert_int_equal(run_pkt(h, &frag2), PASS);
	assert_no_source(h, "2001:db8:1::7");
	assert_no_source(h, "2001:db8:2::7");
	assert_int_equal(run_pkt(h, &udp), PASS);
	st = stats(h);
	assert_int_equal(st.fragments, 2);
	assert_int_equal(st.syn, 0);

	/* Known source */
	assert_int_equal(syn(h, "2001:db8:1::7", 1), PASS);
	assert_int_equal(run_pkt(h, &frag), PASS);
	assert_int_equal(source(h, "2001:db8:1::7").packets, 2);

	/* Banned */
	list_set(h, true, "2001:db8::/32", 0);
	bump_list_gen(h);
	assert_int_equal(run_pkt(h, &frag), DROP);
	assert_int_equal(run_pkt(h, &frag2), DROP);
	st = stats(h);
	assert_int_equal(st.fragments, 5);
	assert_int_equal(st.dropped[SW_R_DENY], 2);
}

static void test_ipv6_bad_header(void **state)
{
	struct swh *h = *state;
	struct pkt_opts v4in6 = { .src = "2001:db8:1::7", .ip_version = 4 };
	struct pkt_opts o = { .src = "2001:db8:1::7", .v6_ext = { IPPROTO_DSTOPTS }, .dport = 80 };
	uint8_t buf[PKT_MAX];
	size_t len;

	expect_malformed_pkt(h, &v4in6, SW_M_IPV6, DROP);

	/* An extension header claiming more than the frame holds: the TCP header is not there. */
	len = pkt_build(&o, buf);
	buf[14 + 40 + 1] = 255;
	expect_malformed(h, buf, len, SW_M_TCP, DROP);
	/* An extension header chain that runs out mid-header. */
	buf[14 + 40 + 1] = 0;
	buf[14 + 40] = IPPROTO_ROUTING;	/* the next one would start at the TCP header */
	expect_malformed(h, buf, 14 + 40 + 8 + 1, SW_M_IPV6, DROP);
	/*
	 * A payload length beyond the frame, as IPv4's total length: the
	 * kernel drops such a datagram, and its data must not count. Dropped
	 * whatever the port (here 80): it is not read.
	 */
	o.v6_ext[0] = 0;
	len = pkt_build(&o, buf);
	buf[14 + 5]++;
	expect_malformed(h, buf, len, SW_M_IPV6, DROP);
	buf[14 + 4] = 0x40;
	expect_malformed(h, buf, len, SW_M_IPV6, DROP);
	assert_int_equal(swh_source_count(h), 0);
}

/* ---- TCP ---- */

static void test_tcp_bad_header(void **state)
{
	struct swh *h = *state;
	struct pkt_opts o = { .src = "198.51.100.7" };
	struct pkt_opts o6 = { .src = "2001:db8:1::7" };
	uint8_t buf[PKT_MAX];
	size_t len;
	struct sw_stats st;
	int n = 0, passed = 0;

	/* doff < 5: the port is readable, so only a guarded port's frame is dropped */
	for (o.doff = 1; o.doff <= 4; o.doff++, n++) {
		o.dport = 25;
		expect_malformed_pkt(h, &o, SW_M_TCP, DROP);
		o.dport = 80;
		expect_malformed_pkt(h, &o, SW_M_TCP, PASS);
		passed++;
	}
	/* doff beyond the frame */
	o.doff = 15;
	o.dport = 465;
	expect_malformed_pkt(h, &o, SW_M_TCP, DROP);
	o.dport = 80;
	expect_malformed_pkt(h, &o, SW_M_TCP, PASS);
	passed++;
	o.doff = 6;	/* one word more than there is */
	o.dport = 587;
	expect_malformed_pkt(h, &o, SW_M_TCP, DROP);
	o6.doff = 15;
	expect_malformed_pkt(h, &o6, SW_M_TCP, DROP);
	n += 3;

	/* A TCP header of 10 bytes (IP length consistent): ports readable, the rest not. */
	o.doff = 0;
	o.dport = 25;
	len = pkt_build(&o, buf);
	set_tot_len(buf, 14, 20 + 10);
	expect_malformed(h, buf, 14 + 20 + 10, SW_M_TCP, DROP);
	o.dport = 80;
	len = pkt_build(&o, buf);
	set_tot_len(buf, 14, 20 + 10);
	expect_malformed(h, buf, 14 + 20 + 10, SW_M_TCP, PASS);
	passed++;
	len = pkt_build(&o6, buf);
	buf[14 + 4] = 0;	/* payload length 10 */
	buf[14 + 5] = 10;
	expect_malformed(h, buf, 14 + 40 + 10, SW_M_TCP, DROP);
	n += 2;
	/* 3 bytes: not even the port, whatever it would have been */
	len = pkt_build(&o, buf);
	set_tot_len(buf, 14, 20 + 3);
	expect_malformed(h, buf, 14 + 20 + 3, SW_M_TCP, DROP);
	n++;
	(void)len;

	st = stats(h);
	assert_int_equal(st.malformed[SW_M_TCP], n + passed);
	assert_int_equal(passed, 6);
	assert_int_equal(st.dropped[SW_R_MALFORMED], n);
	assert_int_equal(st.guarded_packets, 0);
	assert_int_equal(swh_source_count(h), 0);
	assert_int_equal(swh_session_count(h), 0);
}

/*
 * The TCP header must fit in what the IP header declares, not only in the
 * frame: Ethernet padding after the datagram is no place for TCP options.
 */
static void test_tcp_header_beyond_ip_length(void **state)
{
	struct swh *h = *state;
	struct pkt_opts o = { .src = "198.51.100.7", .doff = 6 };
	struct pkt_opts o6 = { .src = "2001:db8:1::7", .doff = 6, .v6_ext = { IPPROTO_DSTOPTS } };
	struct pkt_opts fit = { .src = "198.51.100.8", .tcp_opt_words = 1 };
	uint8_t buf[PKT_MAX];
	size_t len;
	struct sw_stats st;

	/* doff 6 in a 20-byte TCP segment, the frame padded to 60: 24 bytes are there. */
	len = pkt_build(&o, buf);
	assert_int_equal(len, 54);
	memset(buf + len, 0, 6);
	expect_malformed(h, buf, 60, SW_M_TCP, DROP);
	/* doff 15 (60 bytes) with the frame padded to hold all of them */
	o.doff = 15;
	len = pkt_build(&o, buf);
	memset(buf + len, 0, 40);
	expect_malformed(h, buf, len + 40, SW_M_TCP, DROP);
	/* to an unguarded port: counted, passed */
	o.dport = 80;
	len = pkt_build(&o, buf);
	memset(buf + len, 0, 40);
	expect_malformed(h, buf, len + 40, SW_M_TCP, PASS);

	/* IPv6, by the payload length less the extension headers */
	len = pkt_build(&o6, buf);
	assert_int_equal(len, 14 + 40 + 8 + 20);
	memset(buf + len, 0, 4);
	expect_malformed(h, buf, len + 4, SW_M_TCP, DROP);

	/* The edge: a TCP header of exactly the IP-declared length fits... */
	len = pkt_build(&fit, buf);
	assert_int_equal(len, 14 + 20 + 24);
	memset(buf + len, 0, 8);
	assert_int_equal(run_frame(h, buf, len + 8), PASS);
	assert_int_equal(source(h, "198.51.100.8").admitted, 1);
	/* ...one byte less declared, and it does not (the frame still holds it). */
	set_tot_len(buf, 14, 20 + 24 - 1);
	expect_malformed(h, buf, len + 8, SW_M_TCP, DROP);
	o6.doff = 0;
	o6.tcp_opt_words = 1;
	len = pkt_build(&o6, buf);
	buf[14 + 5]--;	/* payload length, low byte */
	expect_malformed(h, buf, len, SW_M_TCP, DROP);

	st = stats(h);
	assert_int_equal(st.malformed[SW_M_TCP], 6);
	assert_int_equal(st.dropped[SW_R_MALFORMED], 5);
	assert_int_equal(st.admitted, 1);
	assert_no_source(h, "198.51.100.7");
	assert_no_source(h, "2001:db8:1::7");
	assert_int_equal(swh_source_count(h), 1);
}

static void test_malformed_pass_flag(void **state)
{
	struct swh *h = *state;
	struct pkt_opts three = { .vlan_tags = 3 };
	struct pkt_opts ihl = { .ihl = 3 };
	struct pkt_opts v6 = { .src = "2001:db8:1::7", .ip_version = 5 };
	struct pkt_opts doff = { .doff = 2 };
	struct sw_stats st;
	int i, pass;

	for (pass = 0; pass < 2; pass++) {
		/* pass 1: in dry-run too, a frame let through on purpose is no would-drop */
		h->cfg.flags |= SW_CFG_MALFORMED_PASS | (pass ? SW_CFG_DRY_RUN : 0);
		sw_config(h);
		expect_malformed_pkt(h, &three, SW_M_L2, PASS);
		expect_malformed_pkt(h, &ihl, SW_M_IPV4, PASS);
		expect_malformed_pkt(h, &v6, SW_M_IPV6, PASS);
		expect_malformed_pkt(h, &doff, SW_M_TCP, PASS);
	}
	st = stats(h);
	for (i = 0; i < SW_M_MAX; i++)
		assert_int_equal(st.malformed[i], 2);
	assert_no_drops(&st);
	assert_int_equal(st.would_drop[SW_R_MALFORMED], 0);
	assert_int_equal(swh_source_count(h), 0);
}

static void test_malformed_counters_per_kind(void **state)
{
	struct swh *h = *state;
	struct pkt_opts l2 = { .vlan_tags = 3 };
	struct pkt_opts v4 = { .ip_version = 7 };
	struct pkt_opts v6 = { .src = "2001:db8:1::7", .ip_version = 7 };
	struct pkt_opts tcp = { .doff = 3 };
	struct sw_stats st;
	int i;

	for (i = 0; i < 1; i++)
		assert_int_equal(run_pkt(h, &l2), DROP);
	for (i = 0; i < 2; i++)
		assert_int_equal(run_pkt(h, &v4), DROP);
	for (i = 0; i < 3; i++)
		assert_int_equal(run_pkt(h, &v6), DROP);
	for (i = 0; i < 4; i++)
		assert_int_equal(run_pkt(h, &tcp), DROP);
	st = stats(h);
	assert_int_equal(st.malformed[SW_M_L2], 1);
	assert_int_equal(st.malformed[SW_M_IPV4], 2);
	assert_int_equal(st.malformed[SW_M_IPV6], 3);
	assert_int_equal(st.malformed[SW_M_TCP], 4);
	assert_int_equal(st.dropped[SW_R_MALFORMED], 10);
	assert_int_equal(st.packets, 10);
	assert_int_equal(st.guarded_packets, 0);
	for (i = 0; i < SW_R_MAX; i++)
		if (i != SW_R_MALFORMED)
			assert_int_equal(st.dropped[i], 0);
}

/* ---- truncation ---- */

/* Which kind of malformed a frame cut at @len must be. */
static int cut_kind(const struct pkt_opts *o, const struct layout *l, size_t len)
{
	bool v6 = o->src && strchr(o->src, ':');

	if (len < l->l3)
		return SW_M_L2;
	/* The total (IPv4) or payload (IPv6) length no longer fits. */
	return v6 ? SW_M_IPV6 : SW_M_IPV4;
}

/*
 * Run @o's frame cut at every length: below the Ethernet header the kernel
 * refuses it; from there every cut must be malformed of the right kind and
 * dropped, leaving no state and not touching the source's; only the whole
 * frame is admitted.
 */
static void truncation_sweep(struct swh *h, const struct pkt_opts *o)
{
	uint8_t frame[PKT_MAX];
	size_t full = pkt_build(o, frame), len;
	struct layout l = pkt_layout(o);
	struct sw_source s, s2;
	__u32 ret;
	int round;

	assert_true(full > l.l4);
	assert_int_equal(full, l.l4 + 20 + 4 * o->tcp_opt_words);
	for (len = 0; len < ETH_HLEN; len++)
		assert_int_equal(swh_run(h, frame, len, &ret), -EINVAL);

	/* Round 0: the source is unknown. Round 1: it is known, with a session. */
	for (round = 0; round < 2; round++) {
		if (round)
			s = source(h, o->src);
		for (len = ETH_HLEN; len < full; len++) {
			expect_malformed(h, frame, len, cut_kind(o, &l, len), DROP);
			if (!round)
				assert_int_equal(swh_source_count(h), 0);
		}
		if (round) {
			s2 = source(h, o->src);
			assert_memory_equal(&s, &s2, sizeof(s));
		}
		assert_int_equal(swh_session_count(h), 0);
		assert_int_equal(run_frame(h, frame, full), PASS);
		assert_int_equal(source(h, o->src).admitted, 1);
		assert_int_equal(pending_of(h, o->src), 1);
	}
	assert_int_equal(stats(h).dropped[SW_R_MALFORMED], 2 * (full - ETH_HLEN));
	assert_int_equal(stats(h).syn_retransmit, 1);
}

static void test_truncate_ipv4_plain(void **state)
{
	struct pkt_opts o = { .src = "198.51.100.7" };

	truncation_sweep(*state, &o);
}

static void test_truncate_ipv4_options_qinq(void **state)
{
	struct pkt_opts o = { .src = "198.51.100.7", .vlan_tags = 2, .ip_opt_words = 4,
			      .tcp_opt_words = 5 };

	truncation_sweep(*state, &o);
}

static void test_truncate_ipv6_three_ext(void **state)
{
	struct pkt_opts o = { .src = "2001:db8:1::7", .tcp_opt_words = 3,
			      .v6_ext = { EXT_HOPOPTS, IPPROTO_ROUTING, IPPROTO_DSTOPTS } };

	truncation_sweep(*state, &o);
}

static void test_truncate_ipv6_ah_fragment(void **state)
{
	struct pkt_opts o = { .src = "2001:db8:1::7", .vlan_tags = 1,
			      .v6_ext = { EXT_HOPOPTS, IPPROTO_AH, IPPROTO_FRAGMENT } };

	truncation_sweep(*state, &o);
}

static void test_truncate_ipv6_plain(void **state)
{
	struct pkt_opts o = { .src = "2001:db8:1::7", .vlan_tags = 2 };

	truncation_sweep(*state, &o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		SW_TEST(test_vlan_tags),
		SW_TEST(test_ipv4_options),
		SW_TEST(test_ipv4_bad_header),
		SW_TEST(test_ipv4_fragments),
		SW_TEST(test_ipv6_ext_headers),
		SW_TEST(test_ipv6_ext_chain_limit),
		SW_TEST(test_ipv6_fragments),
		SW_TEST(test_ipv6_bad_header),
		SW_TEST(test_tcp_bad_header),
		SW_TEST(test_tcp_header_beyond_ip_length),
		SW_TEST(test_malformed_pass_flag),
		SW_TEST(test_malformed_counters_per_kind),
		SW_TEST(test_truncate_ipv4_plain),
		SW_TEST(test_truncate_ipv4_options_qinq),
		SW_TEST(test_truncate_ipv6_three_ext),
		SW_TEST(test_truncate_ipv6_ah_fragment),
		SW_TEST(test_truncate_ipv6_plain),
	};

	return cmocka_run_group_tests_name("bpf parser", tests, NULL, NULL);
}
