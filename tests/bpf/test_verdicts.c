// SPDX-License-Identifier: GPL-2.0
/*
 * Verdicts of the XDP program, frame by frame, through BPF_PROG_TEST_RUN:
 * what passes untouched, SYN admission, the rate and concurrency limits,
 * the penalty box, dry-run, the new-source gate and source aggregation.
 * Allow/deny lists are in test_lists.c, the parser in test_parser.c.
 *
 * Time is the program's test clock (sw_test_now_ns), starting at T0: no
 * test sleeps, and every expiry is asserted on both sides of its edge.
 */
#include "sw_test.h"

/* ---- frames that are not ours pass, and leave no trace ---- */

static void test_disabled_passes_everything(void **state)
{
	struct swh *h = *state;
	struct pkt_opts bad_ihl = { .ihl = 4 };
	struct pkt_opts three_tags = { .vlan_tags = 3 };
	struct sw_stats st;
	int i;

	/* Limits that would drop almost everything, but the program is not enabled. */
	h->cfg.flags = SW_CFG_DRY_RUN | SW_CFG_FLOOD_DROP;
	h->cfg.syn_interval_ns = NS;
	h->cfg.max_sessions = 1;
	h->cfg.penalty_strikes = 1;
	h->cfg.penalty_base_ns = 10 * NS;
	h->cfg.penalty_max_ns = 10 * NS;
	sw_config(h);
	list_set(h, true, "198.51.100.0/24", 0);

	for (i = 0; i < 5; i++)
		assert_int_equal(syn(h, "198.51.100.7", 40000 + i), PASS);
	assert_int_equal(seg(h, "198.51.100.7", 40000, PKT_ACK), PASS);
	assert_int_equal(run_pkt(h, &bad_ihl), PASS);
	assert_int_equal(run_pkt(h, &three_tags), PASS);

	/* All-zero, as the map is before the daemon writes it. */
	memset(&h->cfg, 0, sizeof(h->cfg));
	sw_config(h);
	assert_int_equal(syn(h, "198.51.100.7", 41000), PASS);
	assert_int_equal(run_pkt(h, &bad_ihl), PASS);

	st = stats(h);
	assert_int_equal(st.packets, 10);	/* seen, nothing else */
	assert_int_equal(st.guarded_packets, 0);
	assert_int_equal(st.syn, 0);
	for (i = 0; i < SW_M_MAX; i++)
		assert_int_equal(st.malformed[i], 0);
	for (i = 0; i < SW_R_MAX; i++)
		assert_int_equal(st.would_drop[i], 0);
	assert_no_drops(&st);
	assert_int_equal(swh_source_count(h), 0);
	assert_int_equal(swh_session_count(h), 0);
}

/* An ARP request, optionally behind a VLAN tag. */
static size_t arp_frame(uint8_t *buf, bool vlan)
{
	uint8_t *p = buf;

	memset(buf, 0, 64);
	memset(p, 0xff, 6);
	memcpy(p + 6, "\x02\x00\x00\x00\x00\x02", 6);
	p += 12;
	if (vlan) {
		*(uint16_t *)p = htons(ETH_P_8021Q);
		*(uint16_t *)(p + 2) = htons(7);
		p += 4;
	}
	*(uint16_t *)p = htons(ETH_P_ARP);
	p += 2;
	*(uint16_t *)p = htons(1);		/* Ethernet */
	*(uint16_t *)(p + 2) = htons(ETH_P_IP);
	p[4] = 6;
	p[5] = 4;
	*(uint16_t *)(p + 6) = htons(1);	/* request */
	return p + 28 - buf;
}

static void test_non_ip_passes(void **state)
{
	struct swh *h = *state;
	uint8_t buf[64];
	struct sw_stats st;

	/* Strict settings, so that anything wrongly judged would be dropped. */
	h->cfg.new_source_interval_ns = NS;
	h->cfg.flags |= SW_CFG_FLOOD_DROP;
	sw_config(h);

	assert_int_equal(run_frame(h, buf, arp_frame(buf, false)), PASS);
	assert_int_equal(run_frame(h, buf, arp_frame(buf, true)), PASS);

	st = stats(h);
	assert_int_equal(st.packets, 2);
	assert_int_equal(st.guarded_packets, 0);
	assert_int_equal(st.malformed[SW_M_L2], 0);
	assert_no_drops(&st);
	assert_int_equal(swh_source_count(h), 0);
}

static void test_udp_and_icmp_pass(void **state)
{
	struct swh *h = *state;
	struct pkt_opts udp4 = { .src = "198.51.100.7", .dport = 25, .proto = IPPROTO_UDP };
	struct pkt_opts udp6 = { .src = "2001:db8:1::7", .dport = 25, .proto = IPPROTO_UDP };
	struct pkt_opts icmp6 = { .src = "2001:db8:1::7", .proto = IPPROTO_ICMPV6 };
	struct pkt_opts udp6_ext = { .src = "2001:db8:1::7", .dport = 25, .proto = IPPROTO_UDP,
				     .v6_ext = { EXT_HOPOPTS, IPPROTO_DSTOPTS } };
	struct sw_stats st;

	list_set(h, true, "198.51.100.0/24", 0);
	list_set(h, true, "2001:db8:1::/48", 0);
	h->cfg.flags |= SW_CFG_FLOOD_DROP;
	h->cfg.new_source_interval_ns = NS;
	sw_config(h);

	/* Not TCP: not ours, even from a banned source to port 25. */
	assert_int_equal(run_pkt(h, &udp4), PASS);
	assert_int_equal(run_pkt(h, &udp6), PASS);
	assert_int_equal(run_pkt(h, &icmp6), PASS);
	assert_int_equal(run_pkt(h, &udp6_ext), PASS);

	st = stats(h);
	assert_int_equal(st.packets, 4);
	assert_int_equal(st.guarded_packets, 0);
	assert_no_drops(&st);
	assert_int_equal(swh_source_count(h), 0);
}

static void test_unguarded_port_passes(void **state)
{
	struct swh *h = *state;
	uint8_t buf[PKT_MAX];
	size_t len;
	struct sw_stats st;
	struct sw_source s;
	int i;

	h->cfg.syn_interval_ns = NS;	/* burst 1 */
	h->cfg.max_sessions = 1;
	h->cfg.new_source_interval_ns = NS;
	swh_guard_port(&h->cfg, 65535);	/* the last bitmap word works too */
	sw_config(h);

	/* Ports next to the guarded ones, and 25 + 64 (same bit, next word). */
	for (i = 0; i < 10; i++) {
		static const uint16_t ports[] = { 24, 26, 80, 89, 464, 466, 586, 588, 143, 65534 };

		len = pkt_simple(buf, "198.51.100.7", 40000 + i, ports[i], PKT_SYN);
		assert_int_equal(run_frame(h, buf, len), PASS);
		len = pkt_simple(buf, "198.51.100.7", 40000 + i, ports[i], PKT_ACK);
		assert_int_equal(run_frame(h, buf, len), PASS);
	}
	st = stats(h);
	assert_int_equal(st.packets, 20);
	assert_int_equal(st.guarded_packets, 0);
	assert_int_equal(st.syn, 0);
	assert_int_equal(swh_source_count(h), 0);
	assert_int_equal(swh_session_count(h), 0);

	/*
	 * 465 opens state; 587 is guarded too: same source, refused at
	 * max_sessions 1 (465's handshake pending) before the rate is judged.
	 */
	len = pkt_simple(buf, "198.51.100.7", 41000, 465, PKT_SYN);
	assert_int_equal(run_frame(h, buf, len), PASS);
	len = pkt_simple(buf, "198.51.100.7", 41001, 587, PKT_SYN);
	assert_int_equal(run_frame(h, buf, len), DROP);
	s = source(h, "198.51.100.7");
	assert_int_equal(s.syn, 2);
	assert_int_equal(s.dropped[SW_R_CONCURRENCY], 1);
	assert_int_equal(s.dropped[SW_R_RATE], 0);

	swh_advance(h, 5 * NS);
	len = pkt_simple(buf, "198.51.100.8", 41000, 65535, PKT_SYN);
	assert_int_equal(run_frame(h, buf, len), PASS);
	assert_int_equal(pending_of(h, "198.51.100.8"), 1);
}

/* ---- SYN admission ---- */

static void test_syn_reserves_ack_opens_session(void **state)
{
	struct swh *h = *state;
	uint8_t buf[PKT_MAX];
	size_t len = pkt_simple(buf, "198.51.100.7", 40001, 25, PKT_SYN);
	size_t alen, dlen;
	struct pkt_opts d = { .src = "198.51.100.7", .sport = 40001, .flags = PKT_ACK | PKT_PSH,
			      .payload = 100 };
	struct sw_session sess;
	struct sw_source s;
	struct sw_stats st;
	int i, slot;

	assert_no_source(h, "198.51.100.7");
	assert_int_equal(run_frame(h, buf, len), PASS);

	/* The SYN creates the source and reserves a slot; no session record yet. */
	s = source(h, "198.51.100.7");
	assert_int_equal(s.first_seen_ns, T0);
	assert_int_equal(s.last_syn_ns, T0);
	assert_int_equal(s.strike_window_ns, T0);
	assert_int_equal(s.syn, 1);
	assert_int_equal(s.admitted, 1);
	assert_int_equal(s.packets, 1);
	assert_int_equal(s.bytes, len);
	/* A slot holding this handshake until handshake_timeout; nothing else. */
	assert_int_equal(pending_in(h, &s), 1);
	slot = slot_of(h, &s, "198.51.100.7", 40001);
	assert_true(slot >= 0);
	assert_int_equal(s.pending_until[slot], T0 + 30 * NS);
	for (i = 0; i < SW_PENDING_SLOTS; i++) {
		if (i == slot)
			continue;
		assert_int_equal(s.pending_tuple[i], 0);
		assert_int_equal(s.pending_until[i], 0);
	}
	assert_int_equal(s.overflow, 0);
	assert_int_equal(s.overflow_until_ns, 0);
	assert_int_equal(s.sessions_open, 0);
	assert_int_equal(s.sessions_total, 0);
	assert_int_equal(s.penalty_until_ns, 0);
	assert_int_equal(s.list_verdict, SW_LIST_NONE);
	assert_int_equal(s.flags & SW_SRC_PROVEN, 0);
	assert_int_equal(swh_session_count(h), 0);

	st = stats(h);
	assert_int_equal(st.packets, 1);
	assert_int_equal(st.guarded_packets, 1);
	assert_int_equal(st.guarded_bytes, len);
	assert_int_equal(st.syn, 1);
	assert_int_equal(st.admitted, 1);
	assert_int_equal(st.sessions_opened, 0);
	assert_int_equal(st.syn_retransmit, 0);
	assert_no_drops(&st);

	/* The client's ACK completes the handshake: session record, source proven. */
	swh_advance(h, NS);
	alen = pkt_simple(buf, "198.51.100.7", 40001, 25, PKT_ACK);
	assert_int_equal(run_frame(h, buf, alen), PASS);
	assert_int_equal(swh_session(h, "198.51.100.7", 40001, NULL, 25, &sess), 0);
	assert_int_equal(sess.flags, SW_SESS_HANDSHAKE);
	assert_int_equal(sess.start_ns, T0 + NS);
	assert_int_equal(sess.packets, 1);
	assert_int_equal(sess.bytes, alen);
	s = source(h, "198.51.100.7");
	assert_int_equal(s.flags & SW_SRC_PROVEN, SW_SRC_PROVEN);
	assert_int_equal(pending_in(h, &s), 0);
	assert_int_equal(slots_used(&s), 0);	/* its slot is free */
	assert_int_equal(s.sessions_open, 1);
	assert_int_equal(s.sessions_total, 1);
	assert_int_equal(s.packets, 2);
	assert_int_equal(s.syn, 1);
	assert_int_equal(s.last_syn_ns, T0);
	assert_int_equal(stats(h).sessions_opened, 1);

	/* Data counts on the record. */
	dlen = pkt_build(&d, buf);
	assert_int_equal(run_frame(h, buf, dlen), PASS);
	assert_int_equal(swh_session(h, "198.51.100.7", 40001, NULL, 25, &sess), 0);
	assert_int_equal(sess.packets, 2);
	assert_int_equal(sess.bytes, alen + dlen);
	assert_int_equal(sess.start_ns, T0 + NS);
	assert_int_equal(source(h, "198.51.100.7").sessions_open, 1);

	/* IPv6 the same way, as its own family. */
	handshake(h, "2001:db8:1::7", 40001);
	s = source(h, "2001:db8:1::7");
	assert_int_equal(s.admitted, 1);
	assert_int_equal(s.sessions_open, 1);
	assert_int_equal(swh_source_count(h), 2);
	assert_int_equal(swh_session_count(h), 2);
}

static void test_syn_retransmit(void **state)
{
	struct swh *h = *state;
	uint8_t buf[PKT_MAX];
	struct sw_source s;
	struct sw_stats st;

	h->cfg.max_sessions = 2;
	sw_config(h);

	assert_int_equal(syn(h, "198.51.100.7", 40001), PASS);
	swh_advance(h, NS);
	assert_int_equal(syn(h, "198.51.100.7", 40001), PASS);

	st = stats(h);
	assert_int_equal(st.syn, 2);
	assert_int_equal(st.syn_retransmit, 1);
	assert_int_equal(st.admitted, 1);
	s = source(h, "198.51.100.7");
	assert_int_equal(s.syn, 2);
	assert_int_equal(s.admitted, 1);
	assert_int_equal(s.last_syn_ns, T0 + NS);
	assert_int_equal(pending_in(h, &s), 1);
	/* The same slot, renewed: it now lapses handshake_timeout after the retransmission. */
	assert_int_equal(slots_used(&s), 1);
	assert_int_equal(until_of(h, &s, "198.51.100.7", 40001), T0 + 31 * NS);

	/* Same source port to another guarded port: another connection. */
	assert_int_equal(run_frame(h, buf, pkt_simple(buf, "198.51.100.7", 40001, 587, PKT_SYN)), PASS);
	st = stats(h);
	assert_int_equal(st.syn_retransmit, 1);
	assert_int_equal(st.admitted, 2);
	s = source(h, "198.51.100.7");
	assert_int_equal(pending_in(h, &s), 2);
	assert_int_equal(slots_used(&s), 2);
	assert_true(swh_pending_slot(h, &s, "198.51.100.7", 40001, NULL, 587) >= 0);

	/* At max_sessions, retransmissions of the admitted handshakes still pass. */
	assert_int_equal(syn(h, "198.51.100.7", 40002), DROP);
	assert_int_equal(syn(h, "198.51.100.7", 40001), PASS);
	assert_int_equal(run_frame(h, buf, pkt_simple(buf, "198.51.100.7", 40001, 587, PKT_SYN)), PASS);
	st = stats(h);
	assert_int_equal(st.syn_retransmit, 3);
	assert_int_equal(st.dropped[SW_R_CONCURRENCY], 1);
	assert_int_equal(st.admitted, 2);
	assert_int_equal(pending_of(h, "198.51.100.7"), 2);
}

static void test_syn_ack_is_not_a_syn(void **state)
{
	struct swh *h = *state;
	struct sw_stats st;

	h->cfg.syn_interval_ns = NS;	/* burst 1 */
	sw_config(h);

	/* SYN+ACK towards the server is no connection attempt: no state, no limit. */
	assert_int_equal(seg(h, "198.51.100.7", 1, PKT_SYN | PKT_ACK), PASS);
	assert_no_source(h, "198.51.100.7");
	assert_int_equal(syn(h, "198.51.100.8", 1), PASS);
	assert_int_equal(seg(h, "198.51.100.8", 2, PKT_SYN | PKT_ACK), PASS);
	assert_int_equal(seg(h, "198.51.100.8", 3, PKT_SYN | PKT_ACK), PASS);
	st = stats(h);
	assert_int_equal(st.syn, 1);
	assert_int_equal(st.guarded_packets, 4);
	assert_int_equal(swh_session_count(h), 0);
	assert_int_equal(pending_of(h, "198.51.100.8"), 1);
	assert_no_drops(&st);
}

/*
 * A retransmission is the same handshake: same client address and port,
 * same server address and port. Nothing else of a source may pass as one,
 * or it would be admitted uncharged past every limit.
 */
static void test_retransmit_is_same_tuple(void **state)
{
	struct swh *h = *state;
	struct pkt_opts o = { .src = "198.51.100.7", .dst = "192.0.2.1", .sport = 0x1000 };
	struct sw_global g;
	struct sw_source s;
	char addr[64];
	__u64 key;
	int i;

	h->cfg.syn_interval_ns = NS;	/* burst 1: any new connection now is dropped */
	sw_config(h);

	/* Hosts of one /64 source, all with the same port. */
	assert_int_equal(swh_global(h, &g), 0);
	assert_int_equal(g.tuple_key, 0);
	assert_int_equal(syn(h, "2001:db8:1::1", 1000), PASS);
	assert_int_equal(swh_global(h, &g), 0);
	key = g.tuple_key;
	assert_true(key != 0);	/* drawn on first use, into sw_global */
	/* ...and it is the secret the slot's hash was made with. */
	s = source(h, "2001:db8:1::1");
	assert_int_equal(slots_used(&s), 1);
	assert_int_equal(until_of(h, &s, "2001:db8:1::1", 1000), T0 + 30 * NS);
	for (i = 2; i < 200; i++) {
		snprintf(addr, sizeof(addr), "2001:db8:1::%x", i);
		if (syn(h, addr, 1000) != DROP)
			fail_msg("SYN from %s passed as a retransmission", addr);
	}
	assert_int_equal(syn(h, "2001:db8:1::1", 1000), PASS);

	/* Two server addresses, ports chosen to collide under an unkeyed XOR of the tuple. */
	assert_int_equal(run_pkt(h, &o), PASS);
	o.dst = "192.0.2.2";
	o.sport = 0x1300;
	assert_int_equal(run_pkt(h, &o), DROP);
	o.sport = 0x1000;
	assert_int_equal(run_pkt(h, &o), DROP);
	o.dst = "192.0.2.1";
	o.dport = 587;
	assert_int_equal(run_pkt(h, &o), DROP);
	o.dport = 25;
	assert_int_equal(run_pkt(h, &o), PASS);

	assert_int_equal(stats(h).syn_retransmit, 2);
	assert_int_equal(source(h, "2001:db8:1::1").dropped[SW_R_RATE], 198);
	assert_int_equal(swh_global(h, &g), 0);
	assert_int_equal(g.tuple_key, key);	/* drawn once */
}

/*
 * A restarted daemon loads a new program over the pinned maps: handshakes
 * pending across the restart are still recognised, because the hash
 * secret is kept in the pinned sw_global, not in the program's own data.
 */
static void test_tuple_key_survives_reload(void **state)
{
	struct swh *h = *state, h2;
	struct swh_opts o = { .adopt = h };
	const char *a = "198.51.100.7";
	struct sw_global g;
	struct sw_stats st;
	__u64 key;

	h->cfg.max_sessions = 1;	/* a retransmission not recognised would be refused */
	sw_config(h);
	assert_int_equal(syn(h, a, 1), PASS);
	assert_int_equal(swh_global(h, &g), 0);
	key = g.tuple_key;
	assert_true(key != 0);

	assert_int_equal(swh_open(&h2, &o), 0);
	assert_int_equal(swh_now(&h2), T0);
	swh_advance(&h2, NS);
	assert_int_equal(syn(&h2, a, 1), PASS);
	assert_int_equal(syn(&h2, a, 2), DROP);
	assert_int_equal(seg(&h2, a, 1, PKT_ACK), PASS);
	assert_true(has_session(&h2, a, 1));

	st = stats(&h2);	/* the pinned sw_stats, shared */
	assert_int_equal(st.syn_retransmit, 1);
	assert_int_equal(st.admitted, 1);
	assert_int_equal(st.sessions_opened, 1);
	assert_int_equal(st.dropped[SW_R_CONCURRENCY], 1);
	assert_int_equal(swh_global(&h2, &g), 0);
	assert_int_equal(g.tuple_key, key);
	swh_close(&h2);

	/* The first program sees what the second did: the maps are one. */
	assert_int_equal(source(h, a).sessions_open, 1);
}

/* ---- SYN rate limit (GCRA) ---- */

static void test_syn_rate_limit(void **state)
{
	struct swh *h = *state;
	struct sw_source s;
	struct sw_stats st;
	int i;

	h->cfg.syn_interval_ns = NS;		/* 1 SYN/s */
	h->cfg.syn_tolerance_ns = 2 * NS;	/* burst 3 */
	sw_config(h);

	for (i = 1; i <= 3; i++)
		assert_int_equal(syn(h, "198.51.100.7", i), PASS);
	assert_int_equal(syn(h, "198.51.100.7", 4), DROP);

	s = source(h, "198.51.100.7");
	assert_int_equal(s.syn, 4);
	assert_int_equal(s.admitted, 3);
	assert_int_equal(pending_in(h, &s), 3);
	assert_int_equal(s.dropped[SW_R_RATE], 1);
	assert_int_equal(s.dropped[SW_R_CONCURRENCY], 0);
	st = stats(h);
	assert_int_equal(st.syn, 4);
	assert_int_equal(st.admitted, 3);
	assert_int_equal(st.dropped[SW_R_RATE], 1);
	assert_int_equal(st.penalties, 0);	/* penalty_strikes 0: no penalty box */

	/* A retransmission of an admitted SYN is not a new connection: not limited. */
	assert_int_equal(syn(h, "198.51.100.7", 1), PASS);
	assert_int_equal(stats(h).syn_retransmit, 1);

	/* Another source has its own budget. */
	assert_int_equal(syn(h, "198.51.100.8", 1), PASS);

	/* One interval later, exactly one more. */
	swh_advance(h, NS);
	assert_int_equal(syn(h, "198.51.100.7", 4), PASS);
	assert_int_equal(syn(h, "198.51.100.7", 5), DROP);
	/* Half an interval is not enough; the full one is. */
	swh_advance(h, NS / 2);
	assert_int_equal(syn(h, "198.51.100.7", 5), DROP);
	swh_advance(h, NS / 2);
	assert_int_equal(syn(h, "198.51.100.7", 5), PASS);

	/* A long quiet spell gives back the burst, and no more than the burst. */
	swh_advance(h, 3600 * NS);
	for (i = 10; i < 13; i++)
		assert_int_equal(syn(h, "198.51.100.7", i), PASS);
	assert_int_equal(syn(h, "198.51.100.7", 13), DROP);

	s = source(h, "198.51.100.7");
	assert_int_equal(s.dropped[SW_R_RATE], 4);
	assert_int_equal(s.admitted, 8);
	assert_int_equal(pending_in(h, &s), 3);	/* the hour-old ones lapsed */
	assert_int_equal(stats(h).dropped[SW_R_RATE], 4);
	assert_int_equal(source(h, "198.51.100.8").dropped[SW_R_RATE], 0);
}

/* ---- concurrency limit ---- */

static void test_concurrency_limit_fin_rst(void **state)
{
	struct swh *h = *state;
	const char *a = "198.51.100.7";
	struct sw_source s;
	struct sw_stats st;

	h->cfg.max_sessions = 2;
	sw_config(h);

	/* Reserved slots count: two handshakes under way fill the quota. */
	assert_int_equal(syn(h, a, 1), PASS);
	assert_int_equal(syn(h, a, 2), PASS);
	assert_int_equal(syn(h, a, 3), DROP);
	s = source(h, a);
	assert_int_equal(pending_in(h, &s), 2);
	assert_int_equal(s.dropped[SW_R_CONCURRENCY], 1);
	assert_int_equal(stats(h).dropped[SW_R_CONCURRENCY], 1);

	/* So do the sessions they become. */
	assert_int_equal(seg(h, a, 1, PKT_ACK), PASS);
	assert_int_equal(seg(h, a, 2, PKT_ACK), PASS);
	s = source(h, a);
	assert_int_equal(pending_in(h, &s), 0);
	assert_int_equal(slots_used(&s), 0);
	assert_int_equal(s.sessions_open, 2);
	assert_int_equal(syn(h, a, 3), DROP);

	/* Time alone frees no established session: only a close does. */
	swh_advance(h, 3600 * NS);
	assert_int_equal(syn(h, a, 3), DROP);

	/* The client's FIN closes session 1 and frees a slot. */
	assert_int_equal(seg(h, a, 1, PKT_FIN | PKT_ACK), PASS);
	s = source(h, a);
	assert_int_equal(s.sessions_open, 1);
	assert_false(has_session(h, a, 1));
	assert_int_equal(stats(h).sessions_closed, 1);
	/* A second FIN (retransmitted) does not close it twice. */
	assert_int_equal(seg(h, a, 1, PKT_FIN | PKT_ACK), PASS);
	assert_int_equal(source(h, a).sessions_open, 1);
	assert_int_equal(stats(h).sessions_closed, 1);

	assert_int_equal(syn(h, a, 3), PASS);
	assert_int_equal(syn(h, a, 4), DROP);

	/* An RST of a connection we do not know frees nothing. */
	assert_int_equal(seg(h, a, 99, PKT_RST), PASS);
	assert_int_equal(syn(h, a, 4), DROP);

	/* The client's RST closes session 2. */
	assert_int_equal(seg(h, a, 2, PKT_RST), PASS);
	assert_int_equal(source(h, a).sessions_open, 0);
	assert_int_equal(syn(h, a, 4), PASS);
	assert_int_equal(syn(h, a, 5), DROP);

	/* An RST abandoning a handshake (3) frees its reserved slot, and only that. */
	s = source(h, a);
	assert_true(slot_of(h, &s, a, 3) >= 0);
	assert_int_equal(seg(h, a, 3, PKT_RST), PASS);
	s = source(h, a);
	assert_int_equal(pending_in(h, &s), 1);
	assert_int_equal(slot_of(h, &s, a, 3), -1);
	assert_true(slot_of(h, &s, a, 4) >= 0);
	assert_false(has_session(h, a, 3));
	assert_int_equal(syn(h, a, 5), PASS);
	assert_int_equal(syn(h, a, 6), DROP);

	s = source(h, a);
	assert_int_equal(s.sessions_open, 0);
	assert_int_equal(pending_in(h, &s), 2);
	assert_int_equal(s.sessions_total, 2);
	assert_int_equal(s.dropped[SW_R_CONCURRENCY], 7);
	st = stats(h);
	assert_int_equal(st.sessions_closed, 2);
	assert_int_equal(st.sessions_opened, 2);
	assert_int_equal(st.dropped[SW_R_CONCURRENCY], 7);
	assert_int_equal(st.dropped[SW_R_RATE], 0);
}

static void test_handshake_timeout(void **state)
{
	struct swh *h = *state;
	const char *a = "198.51.100.7";
	struct sw_session sess;
	struct sw_source s;

	h->cfg.max_sessions = 2;
	sw_config(h);

	assert_int_equal(syn(h, a, 1), PASS);
	assert_int_equal(syn(h, a, 2), PASS);
	assert_int_equal(syn(h, a, 3), DROP);

	/* Handshakes that never complete hold their slots for handshake_timeout... */
	swh_set_now(h, T0 + 30 * NS - 1);
	assert_int_equal(syn(h, a, 3), DROP);
	assert_int_equal(pending_of(h, a), 2);
	/* ...and lapse then. */
	swh_set_now(h, T0 + 30 * NS);
	assert_int_equal(pending_of(h, a), 0);
	assert_int_equal(syn(h, a, 3), PASS);
	/* That SYN freed the lapsed slots and took one. */
	s = source(h, a);
	assert_int_equal(pending_in(h, &s), 1);
	assert_int_equal(slots_used(&s), 1);
	assert_int_equal(until_of(h, &s, a, 3), T0 + 60 * NS);

	/* A late ACK of a lapsed handshake is not one of ours: a pure ACK creates nothing. */
	assert_int_equal(seg(h, a, 1, PKT_ACK), PASS);
	assert_false(has_session(h, a, 1));
	/* Data of it does (a session we lost track of), without a reservation. */
	assert_int_equal(data(h, a, 2, 10), PASS);
	assert_int_equal(swh_session(h, a, 2, NULL, 25, &sess), 0);
	assert_int_equal(sess.flags, 0);
	s = source(h, a);
	assert_int_equal(s.sessions_open, 1);
	assert_int_equal(pending_in(h, &s), 1);
	assert_int_equal(until_of(h, &s, a, 3), T0 + 60 * NS);
	assert_int_equal(syn(h, a, 4), DROP);	/* 1 open + 1 pending */

	/* Lapsed but not yet freed by a SYN: the ACK is not ours either. */
	swh_set_now(h, T0 + 60 * NS);
	assert_int_equal(seg(h, a, 3, PKT_ACK), PASS);
	assert_false(has_session(h, a, 3));
	s = source(h, a);
	assert_true(slot_of(h, &s, a, 3) >= 0);	/* still held, lapsed */
	assert_int_equal(pending_in(h, &s), 0);
	/* The next SYN frees that slot. */
	assert_int_equal(syn(h, a, 4), PASS);
	s = source(h, a);
	assert_int_equal(slot_of(h, &s, a, 3), -1);
	assert_int_equal(until_of(h, &s, a, 4), T0 + 90 * NS);
	assert_int_equal(slots_used(&s), 1);
	assert_int_equal(stats(h).sessions_opened, 1);
}

/*
 * Each pending handshake lapses handshake_timeout after its own SYN, or
 * after its latest retransmission: not all together.
 */
static void test_pending_slots_lapse_one_by_one(void **state)
{
	struct swh *h = *state;
	const char *a = "198.51.100.7";
	struct sw_session sess;
	struct sw_source s;

	h->cfg.max_sessions = 2;
	sw_config(h);

	assert_int_equal(syn(h, a, 1), PASS);
	swh_set_now(h, T0 + 10 * NS);
	assert_int_equal(syn(h, a, 2), PASS);
	s = source(h, a);
	assert_int_equal(until_of(h, &s, a, 1), T0 + 30 * NS);
	assert_int_equal(until_of(h, &s, a, 2), T0 + 40 * NS);

	/* The client retransmits 1: its slot is renewed, 2's is not. */
	swh_set_now(h, T0 + 20 * NS);
	assert_int_equal(syn(h, a, 1), PASS);
	assert_int_equal(stats(h).syn_retransmit, 1);
	s = source(h, a);
	assert_int_equal(until_of(h, &s, a, 1), T0 + 50 * NS);
	assert_int_equal(until_of(h, &s, a, 2), T0 + 40 * NS);
	assert_int_equal(slots_used(&s), 2);
	assert_int_equal(syn(h, a, 3), DROP);

	/* 1 would have lapsed at 30 s without the retransmission: still held. */
	swh_set_now(h, T0 + 40 * NS - 1);
	assert_int_equal(syn(h, a, 3), DROP);
	/* 2 lapses at 40 s, on its own: one slot free. */
	swh_set_now(h, T0 + 40 * NS);
	assert_int_equal(syn(h, a, 3), PASS);
	assert_int_equal(syn(h, a, 4), DROP);
	s = source(h, a);
	assert_int_equal(slot_of(h, &s, a, 2), -1);
	assert_int_equal(until_of(h, &s, a, 3), T0 + 70 * NS);
	assert_int_equal(slots_used(&s), 2);

	/* 1 lapses at 50 s: 3 alone still holds a slot. */
	swh_set_now(h, T0 + 50 * NS - 1);
	assert_int_equal(syn(h, a, 4), DROP);
	swh_set_now(h, T0 + 50 * NS);
	assert_int_equal(syn(h, a, 4), PASS);
	assert_int_equal(syn(h, a, 5), DROP);

	/* Lapsed handshakes complete nothing; live ones do. */
	assert_int_equal(seg(h, a, 1, PKT_ACK), PASS);
	assert_false(has_session(h, a, 1));
	assert_int_equal(seg(h, a, 3, PKT_ACK), PASS);
	assert_int_equal(swh_session(h, a, 3, NULL, 25, &sess), 0);
	assert_int_equal(sess.flags, SW_SESS_HANDSHAKE);
	s = source(h, a);
	assert_int_equal(pending_in(h, &s), 1);
	assert_int_equal(slots_used(&s), 1);
	assert_int_equal(until_of(h, &s, a, 4), T0 + 80 * NS);
	assert_int_equal(s.sessions_open, 1);
	assert_int_equal(s.dropped[SW_R_CONCURRENCY], 5);
}

/* The client of the abandoned handshakes below connects at @t: @verdict, then done with it. */
static void client_connects(struct swh *h, const char *addr, __u64 t, uint16_t sport, __u32 verdict)
{
	swh_set_now(h, T0 + t * NS);
	if (syn(h, addr, sport) != verdict)
		fail_msg("SYN of %s at %llu s: expected verdict %u", addr, (unsigned long long)t, verdict);
	if (verdict != PASS)
		return;
	assert_int_equal(seg(h, addr, sport, PKT_ACK), PASS);
	assert_true(has_session(h, addr, sport));
	assert_int_equal(seg(h, addr, sport, PKT_FIN | PKT_ACK), PASS);
	assert_false(has_session(h, addr, sport));
}

/*
 * What per-slot lapse is for: a client at max_sessions 2 with two handshakes
 * abandoned, at 0 s and 10 s (30 s handshake timeout), that keeps opening a
 * connection every 20 s. The 0 s slot lapses at 30 s on its own while the
 * 10 s one is pending until 40 s, and the client's SYNs do not renew either.
 */
static void test_abandoned_handshakes_lapse_on_their_own(void **state)
{
	struct swh *h = *state;
	const char *a = "198.51.100.7", *b = "198.51.100.8";
	struct sw_source s;
	__u64 t;

	h->cfg.max_sessions = 2;
	sw_config(h);

	assert_int_equal(syn(h, a, 1), PASS);
	assert_int_equal(syn(h, b, 1), PASS);
	swh_set_now(h, T0 + 10 * NS);
	assert_int_equal(syn(h, a, 2), PASS);
	assert_int_equal(syn(h, b, 2), PASS);

	/*
	 * a connects at 20 s, 40 s, ...; b, the same 5 s earlier in its cycle,
	 * at 15 s, 35 s, 55 s. Until 30 s both slots are held.
	 */
	client_connects(h, b, 15, 100, DROP);
	client_connects(h, a, 20, 100, DROP);
	swh_set_now(h, T0 + 30 * NS - 1);
	assert_int_equal(pending_of(h, a), 2);
	swh_set_now(h, T0 + 30 * NS);
	s = source(h, a);
	assert_int_equal(pending_in(h, &s), 1);	/* 0 s lapsed, 10 s still pending */
	assert_int_equal(until_of(h, &s, a, 2), T0 + 40 * NS);
	/* So b gets in at 35 s, on the one slot that lapsed. */
	client_connects(h, b, 35, 101, PASS);
	assert_int_equal(pending_of(h, b), 1);
	/* At 40 s the 10 s slot has lapsed too (at its time, not after): a gets in. */
	client_connects(h, a, 40, 101, PASS);
	client_connects(h, b, 55, 102, PASS);
	for (t = 60; t <= 200; t += 20)
		client_connects(h, a, t, 102 + t / 20, PASS);

	s = source(h, a);
	assert_int_equal(s.dropped[SW_R_CONCURRENCY], 1);
	assert_int_equal(s.sessions_total, 9);
	assert_int_equal(s.sessions_open, 0);
	assert_int_equal(pending_in(h, &s), 0);
	s = source(h, b);
	assert_int_equal(s.dropped[SW_R_CONCURRENCY], 1);
	assert_int_equal(s.sessions_total, 2);
}

/* A segment of a source we know, for a session we have no record of. */
static void test_session_without_handshake(void **state)
{
	struct swh *h = *state;
	const char *a = "198.51.100.7", *b = "198.51.100.8", *c = "2001:db8:1::8";
	uint8_t buf[PKT_MAX];
	struct pkt_opts o = { .src = b, .sport = 61, .flags = PKT_ACK };
	struct sw_session sess;
	struct sw_stats st;
	size_t len;

	h->cfg.max_sessions = 1;
	sw_config(h);
	handshake(h, a, 1);

	/* Pure ACKs create nothing: they are what follows a close. */
	assert_int_equal(seg(h, a, 50, PKT_ACK), PASS);
	assert_false(has_session(h, a, 50));
	/* Data does, but not past max_sessions. */
	assert_int_equal(data(h, a, 51, 10), PASS);
	assert_false(has_session(h, a, 51));
	assert_int_equal(stats(h).sessions_untracked, 1);
	assert_int_equal(seg(h, a, 1, PKT_FIN | PKT_ACK), PASS);
	assert_int_equal(data(h, a, 51, 10), PASS);
	assert_int_equal(swh_session(h, a, 51, NULL, 25, &sess), 0);
	assert_int_equal(sess.flags, 0);
	assert_int_equal(source(h, a).sessions_open, 1);
	/* Data without ACK is nothing we track. */
	o.src = a;
	o.sport = 52;
	o.flags = PKT_PSH;
	o.payload = 10;
	h->cfg.max_sessions = 0;
	sw_config(h);
	assert_int_equal(run_pkt(h, &o), PASS);
	assert_false(has_session(h, a, 52));

	/* Payload is judged by the IP lengths: Ethernet padding is not data. */
	assert_int_equal(syn(h, b, 1), PASS);
	o.src = b;
	o.sport = 61;
	o.flags = PKT_ACK;
	o.payload = 0;
	len = pkt_build(&o, buf);
	memset(buf + len, 0, 6);
	assert_int_equal(run_frame(h, buf, len + 6), PASS);
	assert_false(has_session(h, b, 61));
	o.payload = 1;
	assert_int_equal(run_pkt(h, &o), PASS);
	assert_true(has_session(h, b, 61));

	/* IPv6: by the payload length, extension headers not counted as data. */
	assert_int_equal(syn(h, c, 1), PASS);
	o.src = c;
	o.sport = 62;
	o.payload = 0;
	o.v6_ext[0] = IPPROTO_DSTOPTS;
	assert_int_equal(run_pkt(h, &o), PASS);
	assert_false(has_session(h, c, 62));
	o.payload = 1;
	assert_int_equal(run_pkt(h, &o), PASS);
	assert_true(has_session(h, c, 62));
	/* A payload length of 0 (a jumbogram, BIG TCP): what the frame holds. */
	o.sport = 63;
	o.payload = 1;
	len = pkt_build(&o, buf);
	buf[14 + 4] = 0;
	buf[14 + 5] = 0;
	assert_int_equal(run_frame(h, buf, len), PASS);
	assert_true(has_session(h, c, 63));
	o.sport = 64;
	o.payload = 0;
	len = pkt_build(&o, buf);
	buf[14 + 4] = 0;
	buf[14 + 5] = 0;
	assert_int_equal(run_frame(h, buf, len), PASS);
	assert_false(has_session(h, c, 64));

	st = stats(h);
	assert_int_equal(st.sessions_opened, 5);
	assert_int_equal(st.sessions_untracked, 1);
}

/* More handshakes under way at once than a source has slots. */
static void test_pending_slots_overflow(void **state)
{
	struct swh *h = *state;
	const char *a = "198.51.100.7";
	const int n = SW_PENDING_SLOTS;
	struct sw_session sess;
	struct sw_source s;
	int i;

	h->cfg.max_sessions = n + 2;
	sw_config(h);

	/* A slot each for the first eight; the ninth is counted, not remembered. */
	for (i = 1; i <= n + 1; i++)
		assert_int_equal(syn(h, a, i), PASS);
	s = source(h, a);
	for (i = 1; i <= n; i++)
		assert_int_equal(until_of(h, &s, a, i), T0 + 30 * NS);
	assert_int_equal(slots_used(&s), n);
	assert_int_equal(slot_of(h, &s, a, n + 1), -1);
	assert_int_equal(s.overflow, 1);
	assert_int_equal(s.overflow_until_ns, T0 + 30 * NS);
	assert_int_equal(pending_in(h, &s), n + 1);

	/* The count lapses as a whole, handshake_timeout after the latest it holds. */
	swh_set_now(h, T0 + 10 * NS);
	assert_int_equal(syn(h, a, n + 2), PASS);
	s = source(h, a);
	assert_int_equal(s.overflow, 2);
	assert_int_equal(s.overflow_until_ns, T0 + 40 * NS);
	assert_int_equal(pending_in(h, &s), n + 2);
	/* Counted or remembered, reservations count towards max_sessions. */
	assert_int_equal(syn(h, a, 100), DROP);
	/* A remembered one is recognised when retransmitted. */
	assert_int_equal(syn(h, a, 1), PASS);
	assert_int_equal(stats(h).syn_retransmit, 1);
	s = source(h, a);
	assert_int_equal(until_of(h, &s, a, 1), T0 + 40 * NS);
	assert_int_equal(until_of(h, &s, a, 2), T0 + 30 * NS);

	/* A counted one's pure ACK is not recognised... */
	assert_int_equal(seg(h, a, n + 1, PKT_ACK), PASS);
	assert_false(has_session(h, a, n + 1));
	/* ...its data is, as a session we lost track of, and releases one counted reservation. */
	assert_int_equal(data(h, a, n + 1, 10), PASS);
	assert_int_equal(swh_session(h, a, n + 1, NULL, 25, &sess), 0);
	assert_int_equal(sess.flags, 0);
	s = source(h, a);
	assert_int_equal(s.overflow, 1);
	assert_int_equal(slots_used(&s), n);
	assert_int_equal(s.sessions_open, 1);
	/* More of its data counts on the record: it releases nothing more. */
	assert_int_equal(data(h, a, n + 1, 10), PASS);
	assert_int_equal(source(h, a).overflow, 1);

	/* The remembered ones complete normally and free their slots. */
	for (i = 1; i <= n; i++) {
		assert_int_equal(seg(h, a, i, PKT_ACK), PASS);
		assert_int_equal(swh_session(h, a, i, NULL, 25, &sess), 0);
		assert_int_equal(sess.flags, SW_SESS_HANDSHAKE);
	}
	s = source(h, a);
	assert_int_equal(slots_used(&s), 0);
	assert_int_equal(s.overflow, 1);
	assert_int_equal(pending_in(h, &s), 1);
	assert_int_equal(s.sessions_open, n + 1);
	assert_int_equal(syn(h, a, 100), DROP);	/* n + 1 open + 1 counted */

	/* A free slot is taken before the count grows. */
	assert_int_equal(seg(h, a, 1, PKT_FIN | PKT_ACK), PASS);
	assert_int_equal(syn(h, a, 100), PASS);
	assert_int_equal(syn(h, a, 101), DROP);
	s = source(h, a);
	assert_int_equal(until_of(h, &s, a, 100), T0 + 40 * NS);
	assert_int_equal(slots_used(&s), 1);
	assert_int_equal(s.overflow, 1);

	/* Both lapse at 40 s. */
	swh_set_now(h, T0 + 40 * NS - 1);
	assert_int_equal(syn(h, a, 101), DROP);
	swh_set_now(h, T0 + 40 * NS);
	assert_int_equal(pending_of(h, a), 0);
	assert_int_equal(syn(h, a, 101), PASS);
	s = source(h, a);
	assert_int_equal(s.overflow, 0);
	assert_int_equal(slot_of(h, &s, a, 100), -1);
	assert_int_equal(until_of(h, &s, a, 101), T0 + 70 * NS);
	assert_int_equal(slots_used(&s), 1);
	assert_int_equal(pending_in(h, &s), 1);
	assert_int_equal(s.sessions_open, n);
	assert_int_equal(s.dropped[SW_R_CONCURRENCY], 4);
}

static void test_close_never_wraps(void **state)
{
	struct swh *h = *state;
	struct sw_src_key key;
	struct sw_source s;
	int fd = bpf_map__fd(h->skel->maps.sw_sources);

	handshake(h, "198.51.100.7", 1);
	/* Whatever made the count 0 with a session still in the map... */
	assert_int_equal(swh_src_key(&h->cfg, "198.51.100.7", &key), 0);
	assert_int_equal(bpf_map_lookup_elem(fd, &key, &s), 0);
	s.sessions_open = 0;
	assert_int_equal(bpf_map_update_elem(fd, &key, &s, BPF_EXIST), 0);
	/* ...the close does not wrap it to 2^32 - 1, which would lock the source out. */
	assert_int_equal(seg(h, "198.51.100.7", 1, PKT_FIN | PKT_ACK), PASS);
	assert_int_equal(source(h, "198.51.100.7").sessions_open, 0);
	assert_int_equal(stats(h).sessions_closed, 1);
	h->cfg.max_sessions = 1;
	sw_config(h);
	assert_int_equal(syn(h, "198.51.100.7", 2), PASS);
}

static void test_concurrency_reaped(void **state)
{
	struct swh *h = *state;
	const char *a = "198.51.100.7";

	h->cfg.max_sessions = 2;
	sw_config(h);

	handshake(h, a, 1);
	handshake(h, a, 2);
	assert_int_equal(syn(h, a, 3), DROP);

	/* The daemon expired one of them (as it writes sw_reaped): one slot. */
	assert_int_equal(swh_set_reaped(h, a, 1), 0);
	assert_int_equal(syn(h, a, 3), PASS);
	assert_int_equal(syn(h, a, 4), DROP);	/* 1 live + 1 pending */
	assert_int_equal(seg(h, a, 3, PKT_ACK), PASS);
	assert_int_equal(source(h, a).sessions_open, 3);	/* created minus closed */
	assert_int_equal(syn(h, a, 4), DROP);	/* 3 - 1 reaped = 2 live */

	/* Cumulative count: 3 reaped of 3 created leaves 0 live, so two more. */
	assert_int_equal(swh_set_reaped(h, a, 3), 0);
	assert_int_equal(syn(h, a, 4), PASS);
	assert_int_equal(syn(h, a, 5), PASS);
	assert_int_equal(syn(h, a, 6), DROP);	/* reaped sessions are not reservations */

	/* More reaped than created (a close raced a reap): 0 live, not a wrap-around. */
	assert_int_equal(seg(h, a, 4, PKT_ACK), PASS);
	assert_int_equal(seg(h, a, 5, PKT_ACK), PASS);
	assert_int_equal(syn(h, a, 6), DROP);
	assert_int_equal(swh_set_reaped(h, a, 1000), 0);
	assert_int_equal(syn(h, a, 6), PASS);

	/* A session we lost track of is re-tracked while under the limit (reaped counted). */
	assert_int_equal(data(h, a, 50, 10), PASS);
	assert_true(has_session(h, a, 50));

	/* Another source's reaped count is not ours. */
	handshake(h, "198.51.100.8", 1);
	handshake(h, "198.51.100.8", 2);
	assert_int_equal(syn(h, "198.51.100.8", 3), DROP);

	assert_int_equal(source(h, a).dropped[SW_R_CONCURRENCY], 5);
	assert_int_equal(stats(h).dropped[SW_R_CONCURRENCY], 6);
}

/* ---- penalty box ---- */

static void penalty_config(struct swh *h)
{
	h->cfg.penalty_strikes = 3;
	h->cfg.penalty_window_ns = 60 * NS;
	h->cfg.penalty_base_ns = 10 * NS;
	h->cfg.penalty_max_ns = 100 * NS;
	h->cfg.penalty_forget_ns = 3600 * NS;
}

static void test_penalty_box(void **state)
{
	struct swh *h = *state;
	struct pkt_opts frag = { .src = "198.51.100.7", .ipv4_frag_offset = 10, .flags = PKT_ACK };
	struct sw_src_key key;
	struct ev_log log;
	struct sw_source s;
	struct sw_stats st;
	int i;

	h->cfg.syn_interval_ns = NS;
	h->cfg.syn_tolerance_ns = 2 * NS;
	penalty_config(h);
	sw_config(h);

	/* An established session, then the rest of the burst. */
	assert_int_equal(syn(h, "198.51.100.7", 1), PASS);
	assert_int_equal(seg(h, "198.51.100.7", 1, PKT_ACK), PASS);
	assert_int_equal(syn(h, "198.51.100.7", 2), PASS);
	assert_int_equal(syn(h, "198.51.100.7", 3), PASS);

	/* Two violations: strikes, no penalty yet, the session is untouched. */
	for (i = 1; i <= 2; i++) {
		assert_int_equal(syn(h, "198.51.100.7", 10 + i), DROP);
		s = source(h, "198.51.100.7");
		assert_int_equal(s.strikes, i);
		assert_int_equal(s.penalty_until_ns, 0);
		assert_int_equal(seg(h, "198.51.100.7", 1, PKT_ACK | PKT_PSH), PASS);
	}
	drain_events(h, &log);
	assert_int_equal(log.n, 0);

	/* The third: into the box for the base time. */
	assert_int_equal(syn(h, "198.51.100.7", 13), DROP);
	s = source(h, "198.51.100.7");
	assert_int_equal(s.penalty_until_ns, T0 + 10 * NS);
	assert_int_equal(s.penalty_reason, SW_R_RATE);
	assert_int_equal(s.offences, 1);
	assert_int_equal(s.last_offence_ns, T0);
	assert_int_equal(s.strikes, 0);
	assert_int_equal(s.dropped[SW_R_RATE], 3);
	st = stats(h);
	assert_int_equal(st.penalties, 1);
	assert_int_equal(st.dropped[SW_R_RATE], 3);
	assert_int_equal(st.dropped[SW_R_PENALTY], 0);
	assert_int_equal(st.events_lost, 0);

	drain_events(h, &log);
	assert_int_equal(log.n, 1);
	assert_int_equal(swh_src_key(&h->cfg, "198.51.100.7", &key), 0);
	assert_int_equal(log.ev[0].type, SW_EV_PENALTY);
	assert_int_equal(log.ev[0].reason, SW_R_RATE);
	assert_int_equal(log.ev[0].ts_ns, T0);
	assert_int_equal(log.ev[0].until_ns, T0 + 10 * NS);
	assert_int_equal(log.ev[0].offences, 1);
	assert_int_equal(log.ev[0].strikes, 3);
	assert_memory_equal(&log.ev[0].src, &key, sizeof(key));

	/* Everything of the source is dropped now, the established session too. */
	assert_int_equal(seg(h, "198.51.100.7", 1, PKT_ACK), DROP);
	assert_int_equal(seg(h, "198.51.100.7", 1, PKT_ACK | PKT_PSH), DROP);
	assert_int_equal(syn(h, "198.51.100.7", 2), DROP);	/* even a retransmitted SYN */
	assert_int_equal(run_pkt(h, &frag), DROP);		/* and its fragments */
	s = source(h, "198.51.100.7");
	assert_int_equal(s.dropped[SW_R_PENALTY], 4);
	assert_int_equal(s.dropped[SW_R_RATE], 3);
	st = stats(h);
	assert_int_equal(st.dropped[SW_R_PENALTY], 4);
	assert_int_equal(st.penalties, 1);

	/* Others are not affected. */
	assert_int_equal(syn(h, "198.51.100.8", 1), PASS);

	/* Up to the last nanosecond... */
	swh_set_now(h, T0 + 10 * NS - 1);
	assert_int_equal(seg(h, "198.51.100.7", 1, PKT_ACK), DROP);
	/* ...and lifted on the dot. */
	swh_set_now(h, T0 + 10 * NS);
	assert_int_equal(seg(h, "198.51.100.7", 1, PKT_ACK), PASS);
	assert_int_equal(source(h, "198.51.100.7").penalty_until_ns, 0);	/* served */
	assert_int_equal(syn(h, "198.51.100.7", 20), PASS);
	drain_events(h, &log);
	assert_int_equal(log.n, 0);
	assert_int_equal(stats(h).dropped[SW_R_PENALTY], 5);
}

/* Commit one offence at the current time (rate 1/s, burst 1, 3 strikes); its length. */
static __u64 offend(struct swh *h, const char *addr, uint16_t *sport)
{
	__u64 now = swh_now(h);
	struct sw_source s;
	int i;

	assert_int_equal(syn(h, addr, (*sport)++), PASS);
	for (i = 0; i < 3; i++)
		assert_int_equal(syn(h, addr, (*sport)++), DROP);
	s = source(h, addr);
	assert_int_equal(s.last_offence_ns, now);
	assert_true(s.penalty_until_ns > now);
	return s.penalty_until_ns - now;
}

static void test_penalty_escalation(void **state)
{
	struct swh *h = *state;
	static const __u64 expect[] = { 10, 20, 40, 80, 100, 100 };
	const char *a = "198.51.100.7";
	uint16_t sport = 1;
	struct ev_log log;
	__u64 len, last;
	unsigned int i;

	h->cfg.syn_interval_ns = NS;
	penalty_config(h);
	sw_config(h);

	/* Doubles with each offence, capped at the maximum. */
	for (i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		len = offend(h, a, &sport);
		assert_int_equal(len, expect[i] * NS);
		assert_int_equal(source(h, a).offences, i + 1);
		/* Served: released exactly at the end. */
		swh_advance(h, len - 1);
		assert_int_equal(seg(h, a, 1, PKT_ACK), DROP);
		swh_advance(h, 1);
		assert_int_equal(seg(h, a, 1, PKT_ACK), PASS);
	}
	drain_events(h, &log);
	assert_int_equal(log.n, 6);
	for (i = 0; i < 6; i++) {
		assert_int_equal(log.ev[i].offences, i + 1);
		assert_int_equal(log.ev[i].until_ns - log.ev[i].ts_ns, expect[i] * NS);
		assert_int_equal(log.ev[i].reason, SW_R_RATE);
	}
	assert_int_equal(stats(h).penalties, 6);

	/* `forget` after the last offence is not yet forgotten... */
	last = source(h, a).last_offence_ns;
	swh_set_now(h, last + 3600 * NS);
	assert_int_equal(offend(h, a, &sport), 100 * NS);
	assert_int_equal(source(h, a).offences, 7);

	/* ...a moment more is: back to the base, and escalating from there. */
	last = source(h, a).last_offence_ns;
	swh_set_now(h, last + 3600 * NS + 1);
	assert_int_equal(offend(h, a, &sport), 10 * NS);
	assert_int_equal(source(h, a).offences, 1);
	swh_advance(h, 10 * NS);
	assert_int_equal(offend(h, a, &sport), 20 * NS);
	assert_int_equal(source(h, a).offences, 2);

	drain_events(h, &log);
	assert_int_equal(log.n, 3);
	assert_int_equal(log.ev[1].offences, 1);
	assert_int_equal(log.ev[2].offences, 2);
}

static void test_penalty_strike_window(void **state)
{
	struct swh *h = *state;
	const char *a = "198.51.100.7";
	struct sw_source s;

	h->cfg.syn_interval_ns = NS;
	penalty_config(h);
	sw_config(h);

	assert_int_equal(syn(h, a, 1), PASS);
	assert_int_equal(syn(h, a, 2), DROP);
	assert_int_equal(syn(h, a, 3), DROP);
	assert_int_equal(source(h, a).strikes, 2);

	/* Past the window, the two old strikes no longer count. */
	swh_advance(h, 61 * NS);
	assert_int_equal(syn(h, a, 4), PASS);
	assert_int_equal(syn(h, a, 5), DROP);
	s = source(h, a);
	assert_int_equal(s.strikes, 1);
	assert_int_equal(s.strike_window_ns, T0 + 61 * NS);
	assert_int_equal(s.penalty_until_ns, 0);
	assert_int_equal(syn(h, a, 6), DROP);
	assert_int_equal(source(h, a).penalty_until_ns, 0);

	/* The third strike within this window. */
	swh_advance(h, 59 * NS);
	assert_int_equal(syn(h, a, 7), PASS);
	assert_int_equal(syn(h, a, 8), DROP);
	s = source(h, a);
	assert_int_equal(s.penalty_until_ns, T0 + 120 * NS + 10 * NS);
	assert_int_equal(stats(h).penalties, 1);
}

static void test_penalty_from_concurrency(void **state)
{
	struct swh *h = *state;
	const char *a = "2001:db8:1::7";
	struct ev_log log;
	struct sw_source s;

	h->cfg.max_sessions = 1;
	penalty_config(h);
	h->cfg.penalty_strikes = 2;
	sw_config(h);

	assert_int_equal(syn(h, a, 1), PASS);
	assert_int_equal(seg(h, a, 1, PKT_ACK), PASS);
	assert_int_equal(syn(h, a, 2), DROP);
	assert_int_equal(source(h, a).penalty_until_ns, 0);
	assert_int_equal(syn(h, a, 3), DROP);
	s = source(h, a);
	assert_int_equal(s.penalty_until_ns, T0 + 10 * NS);
	assert_int_equal(s.penalty_reason, SW_R_CONCURRENCY);
	assert_int_equal(s.dropped[SW_R_CONCURRENCY], 2);

	drain_events(h, &log);
	assert_int_equal(log.n, 1);
	assert_int_equal(log.ev[0].reason, SW_R_CONCURRENCY);
	assert_int_equal(log.ev[0].src.family, SW_AF_INET6);
	assert_int_equal(log.ev[0].strikes, 2);

	assert_int_equal(seg(h, a, 1, PKT_ACK), DROP);
	assert_int_equal(source(h, a).dropped[SW_R_PENALTY], 1);
}

static void test_no_penalty_without_strikes(void **state)
{
	struct swh *h = *state;
	struct ev_log log;
	struct sw_source s;
	int i;

	h->cfg.syn_interval_ns = NS;
	penalty_config(h);
	h->cfg.penalty_strikes = 0;	/* penalty box off */
	sw_config(h);

	assert_int_equal(syn(h, "198.51.100.7", 1), PASS);
	assert_int_equal(seg(h, "198.51.100.7", 1, PKT_ACK), PASS);
	for (i = 0; i < 20; i++)
		assert_int_equal(syn(h, "198.51.100.7", 100 + i), DROP);
	s = source(h, "198.51.100.7");
	assert_int_equal(s.penalty_until_ns, 0);
	assert_int_equal(s.strikes, 0);
	assert_int_equal(s.offences, 0);
	assert_int_equal(seg(h, "198.51.100.7", 1, PKT_ACK), PASS);
	assert_int_equal(stats(h).penalties, 0);
	drain_events(h, &log);
	assert_int_equal(log.n, 0);
}

/* ---- the invariant: limits never cut an established session ---- */

static void test_established_survives_limits(void **state)
{
	struct swh *h = *state;
	const char *a = "198.51.100.7";
	struct pkt_opts data = { .src = a, .sport = 1, .flags = PKT_ACK | PKT_PSH, .payload = 512 };
	struct sw_session sess;
	struct sw_stats st;
	int i;

	h->cfg.syn_interval_ns = NS;	/* 1/s, burst 1 */
	h->cfg.max_sessions = 2;
	sw_config(h);

	assert_int_equal(syn(h, a, 1), PASS);
	assert_int_equal(seg(h, a, 1, PKT_ACK), PASS);

	/* Rate exhausted: new connections refused, the session carries on. */
	assert_int_equal(syn(h, a, 2), DROP);
	for (i = 0; i < 20; i++)
		assert_int_equal(run_pkt(h, &data), PASS);
	st = stats(h);
	assert_int_equal(st.dropped[SW_R_RATE], 1);
	assert_int_equal(st.dropped[SW_R_CONCURRENCY], 0);

	/* Rate available again: a second session, and max_sessions reached: the same. */
	swh_advance(h, 2 * NS);
	handshake(h, a, 2);
	assert_int_equal(syn(h, a, 3), DROP);
	swh_advance(h, 2 * NS);
	assert_int_equal(syn(h, a, 3), DROP);
	for (i = 0; i < 20; i++)
		assert_int_equal(run_pkt(h, &data), PASS);
	assert_int_equal(stats(h).dropped[SW_R_CONCURRENCY], 2);

	assert_int_equal(swh_session(h, a, 1, NULL, 25, &sess), 0);
	assert_int_equal(sess.packets, 41);	/* from the handshake's ACK on */
	/* No egress program here (SW_CFG_EGRESS unset): data before a greeting is not judged. */
	assert_int_equal(sess.flags, SW_SESS_HANDSHAKE);
	assert_int_equal(sess.start_ns, T0);

	/* Its end frees a slot: the next SYN is admitted at once. */
	assert_int_equal(seg(h, a, 1, PKT_FIN | PKT_ACK), PASS);
	assert_int_equal(syn(h, a, 3), PASS);

	st = stats(h);
	assert_int_equal(st.dropped[SW_R_RATE], 1);
	assert_int_equal(st.dropped[SW_R_CONCURRENCY], 2);
	assert_int_equal(st.dropped[SW_R_PENALTY], 0);
	assert_int_equal(st.sessions_closed, 1);
}

/*
 * Concurrency is judged before the rate: a SYN refused because the source
 * is at max_sessions spends no rate token, however many are refused, so
 * the first SYN after a close gets in.
 */
static void test_concurrency_before_rate(void **state)
{
	struct swh *h = *state;
	const char *a = "198.51.100.7";
	struct sw_source s;
	struct sw_stats st;
	int i;

	h->cfg.syn_interval_ns = NS;	/* 1/s, burst 1 */
	h->cfg.max_sessions = 1;
	sw_config(h);

	handshake(h, a, 1);
	assert_int_equal(source(h, a).syn_tat_ns, T0 + NS);

	/* A second later a token is there, but no session slot. */
	swh_advance(h, NS);
	for (i = 0; i < 50; i++)
		assert_int_equal(syn(h, a, 100 + i), DROP);
	s = source(h, a);
	assert_int_equal(s.dropped[SW_R_CONCURRENCY], 50);
	assert_int_equal(s.dropped[SW_R_RATE], 0);
	assert_int_equal(s.syn_tat_ns, T0 + NS);	/* no token spent */
	assert_int_equal(s.admitted, 1);

	/* The session closes: the token is still there, at the same instant. */
	assert_int_equal(seg(h, a, 1, PKT_FIN | PKT_ACK), PASS);
	assert_int_equal(syn(h, a, 2), PASS);
	assert_int_equal(source(h, a).syn_tat_ns, T0 + 2 * NS);

	/* Over both limits, a SYN is refused for concurrency... */
	assert_int_equal(syn(h, a, 3), DROP);
	s = source(h, a);
	assert_int_equal(s.dropped[SW_R_CONCURRENCY], 51);
	assert_int_equal(s.dropped[SW_R_RATE], 0);
	/* ...and over the rate alone, for the rate. */
	assert_int_equal(seg(h, a, 2, PKT_RST), PASS);
	assert_int_equal(pending_of(h, a), 0);
	assert_int_equal(syn(h, a, 3), DROP);
	s = source(h, a);
	assert_int_equal(s.dropped[SW_R_CONCURRENCY], 51);
	assert_int_equal(s.dropped[SW_R_RATE], 1);
	swh_advance(h, NS);
	assert_int_equal(syn(h, a, 3), PASS);

	st = stats(h);
	assert_int_equal(st.dropped[SW_R_CONCURRENCY], 51);
	assert_int_equal(st.dropped[SW_R_RATE], 1);
	assert_int_equal(st.admitted, 3);
}

/* ---- dry-run ---- */

static void test_dry_run_never_drops(void **state)
{
	struct swh *h = *state;
	struct pkt_opts bad_ihl = { .src = "198.51.100.9", .ihl = 4 };
	struct sw_source s;
	struct sw_stats st;

	h->cfg.flags |= SW_CFG_DRY_RUN | SW_CFG_FLOOD_DROP;
	sw_config(h);

	/* malformed */
	assert_int_equal(run_pkt(h, &bad_ihl), PASS);
	st = stats(h);
	assert_int_equal(st.would_drop[SW_R_MALFORMED], 1);
	assert_int_equal(st.malformed[SW_M_IPV4], 1);

	/* rate: the would-be-dropped SYN is admitted, its slot reserved */
	h->cfg.syn_interval_ns = NS;
	sw_config(h);
	assert_int_equal(syn(h, "198.51.100.1", 1), PASS);
	assert_int_equal(syn(h, "198.51.100.1", 2), PASS);
	s = source(h, "198.51.100.1");
	assert_int_equal(s.would_drop[SW_R_RATE], 1);
	assert_int_equal(s.dropped[SW_R_RATE], 0);
	assert_int_equal(pending_in(h, &s), 2);
	assert_int_equal(stats(h).would_drop[SW_R_RATE], 1);

	/* concurrency */
	h->cfg.syn_interval_ns = 0;
	h->cfg.max_sessions = 1;
	sw_config(h);
	assert_int_equal(syn(h, "198.51.100.2", 1), PASS);
	assert_int_equal(syn(h, "198.51.100.2", 2), PASS);
	s = source(h, "198.51.100.2");
	assert_int_equal(s.would_drop[SW_R_CONCURRENCY], 1);
	assert_int_equal(pending_in(h, &s), 2);
	assert_int_equal(stats(h).would_drop[SW_R_CONCURRENCY], 1);

	/* penalty: still given (and reported), but its packets only counted */
	penalty_config(h);
	h->cfg.penalty_strikes = 1;
	sw_config(h);
	assert_int_equal(syn(h, "198.51.100.3", 1), PASS);
	assert_int_equal(syn(h, "198.51.100.3", 2), PASS);
	s = source(h, "198.51.100.3");
	assert_int_equal(s.penalty_until_ns, T0 + 10 * NS);
	assert_int_equal(stats(h).penalties, 1);
	assert_int_equal(seg(h, "198.51.100.3", 1, PKT_ACK), PASS);
	assert_int_equal(syn(h, "198.51.100.3", 3), PASS);
	s = source(h, "198.51.100.3");
	assert_int_equal(s.would_drop[SW_R_PENALTY], 2);
	/* counted once, as a penalty, not again as concurrency */
	assert_int_equal(s.would_drop[SW_R_CONCURRENCY], 1);
	assert_int_equal(s.sessions_open, 1);	/* the ACK completed handshake 1 */
	assert_int_equal(pending_in(h, &s), 2);
	assert_int_equal(stats(h).would_drop[SW_R_PENALTY], 2);

	/* deny, known source: its SYN reserves nothing */
	h->cfg.max_sessions = 0;
	h->cfg.penalty_strikes = 0;
	sw_config(h);
	assert_int_equal(syn(h, "198.51.100.4", 1), PASS);
	list_set(h, true, "198.51.100.4", 0);
	list_set(h, true, "198.51.100.5", 0);
	bump_list_gen(h);
	assert_int_equal(syn(h, "198.51.100.4", 2), PASS);
	s = source(h, "198.51.100.4");
	assert_int_equal(s.would_drop[SW_R_DENY], 1);
	assert_int_equal(s.list_verdict, SW_LIST_DENY);
	assert_int_equal(s.admitted, 1);
	assert_int_equal(pending_in(h, &s), 1);
	assert_int_equal(slot_of(h, &s, "198.51.100.4", 2), -1);
	/* unknown source, SYN or not: counted, and no state made for it */
	assert_int_equal(syn(h, "198.51.100.5", 1), PASS);
	assert_int_equal(seg(h, "198.51.100.5", 1, PKT_ACK), PASS);
	assert_no_source(h, "198.51.100.5");
	assert_int_equal(stats(h).would_drop[SW_R_DENY], 3);

	/* new-source flood */
	h->cfg.new_source_interval_ns = NS;
	sw_config(h);
	assert_int_equal(syn(h, "198.51.100.6", 1), PASS);
	source(h, "198.51.100.6");
	assert_int_equal(syn(h, "198.51.100.7", 1), PASS);
	assert_no_source(h, "198.51.100.7");

	st = stats(h);
	assert_no_drops(&st);
	assert_int_equal(st.would_drop[SW_R_RATE], 1);
	assert_int_equal(st.would_drop[SW_R_CONCURRENCY], 2);
	assert_int_equal(st.would_drop[SW_R_PENALTY], 2);
	assert_int_equal(st.would_drop[SW_R_DENY], 3);
	assert_int_equal(st.would_drop[SW_R_MALFORMED], 1);
	assert_int_equal(st.would_drop[SW_R_FLOOD], 1);
	assert_int_equal(st.untracked_syn, 1);
}

/* ---- new-source gate and source table capacity ---- */

static void test_new_source_gate(void **state)
{
	struct swh *h = *state;
	struct sw_global g;
	struct sw_stats st;

	h->cfg.new_source_interval_ns = NS;	/* 1 new source/s, no burst */
	sw_config(h);

	assert_int_equal(syn(h, "198.51.100.1", 1), PASS);
	source(h, "198.51.100.1");

	/* Gate shut: the second new source passes, untracked. */
	assert_int_equal(syn(h, "198.51.100.2", 1), PASS);
	assert_no_source(h, "198.51.100.2");
	st = stats(h);
	assert_int_equal(st.untracked_syn, 1);
	assert_int_equal(st.admitted, 1);
	assert_no_drops(&st);
	assert_int_equal(swh_global(h, &g), 0);
	assert_int_equal(g.gate_shut_ns, T0);
	assert_int_equal(pending_of(h, "198.51.100.1"), 1);

	/* Known sources do not need the gate. */
	assert_int_equal(syn(h, "198.51.100.1", 2), PASS);
	assert_int_equal(seg(h, "198.51.100.1", 1, PKT_ACK), PASS);
	assert_int_equal(source(h, "198.51.100.1").admitted, 2);

	/* Non-SYNs of unknown sources are not gated. */
	assert_int_equal(seg(h, "198.51.100.3", 1, PKT_ACK), PASS);
	assert_int_equal(stats(h).untracked_syn, 1);

	/* A banned unknown source is dropped all the same, before the gate. */
	list_set(h, true, "198.51.100.4", 0);
	assert_int_equal(syn(h, "198.51.100.4", 1), DROP);
	assert_no_source(h, "198.51.100.4");
	st = stats(h);
	assert_int_equal(st.dropped[SW_R_DENY], 1);
	assert_int_equal(st.untracked_syn, 1);

	/* [flood] action = drop: refused instead. */
	h->cfg.flags |= SW_CFG_FLOOD_DROP;
	sw_config(h);
	assert_int_equal(syn(h, "198.51.100.2", 1), DROP);
	assert_no_source(h, "198.51.100.2");
	st = stats(h);
	assert_int_equal(st.dropped[SW_R_FLOOD], 1);
	assert_int_equal(st.untracked_syn, 2);
	assert_int_equal(syn(h, "198.51.100.1", 3), PASS);	/* still admitted */
	assert_int_equal(seg(h, "198.51.100.3", 1, PKT_ACK), PASS);	/* not a SYN */
	/* An allowlisted unknown source is not refused, only untracked. */
	list_set(h, false, "198.51.100.5", 0);
	assert_int_equal(syn(h, "198.51.100.5", 1), PASS);
	assert_no_source(h, "198.51.100.5");
	st = stats(h);
	assert_int_equal(st.dropped[SW_R_FLOOD], 1);
	assert_int_equal(st.untracked_syn, 3);

	/* One interval later the gate lets one more in. */
	swh_advance(h, NS);
	assert_int_equal(syn(h, "198.51.100.2", 1), PASS);
	assert_int_equal(source(h, "198.51.100.2").admitted, 1);
	assert_int_equal(syn(h, "198.51.100.6", 1), DROP);
	assert_no_source(h, "198.51.100.6");
	st = stats(h);
	assert_int_equal(st.dropped[SW_R_FLOOD], 2);
	assert_int_equal(swh_source_count(h), 2);
	assert_int_equal(swh_global(h, &g), 0);
	assert_int_equal(g.gate_shut_ns, T0 + NS);
}

static void test_new_source_gate_burst(void **state)
{
	struct swh *h = *state;
	char addr[32];
	int i;

	h->cfg.new_source_interval_ns = NS / 10;	/* 10/s */
	h->cfg.new_source_tolerance_ns = 4 * NS / 10;	/* burst 5 */
	sw_config(h);

	for (i = 1; i <= 6; i++) {
		snprintf(addr, sizeof(addr), "198.51.100.%d", i);
		assert_int_equal(syn(h, addr, 1), PASS);
	}
	assert_int_equal(swh_source_count(h), 5);
	assert_no_source(h, "198.51.100.6");
	assert_int_equal(stats(h).untracked_syn, 1);

	swh_advance(h, NS / 10);
	assert_int_equal(syn(h, "198.51.100.6", 1), PASS);
	assert_int_equal(syn(h, "198.51.100.7", 1), PASS);
	assert_int_equal(swh_source_count(h), 6);
	assert_int_equal(stats(h).untracked_syn, 2);
}

static int setup_4_sources(void **state)
{
	struct swh_opts o = { .max_sources = 4 };

	return sw_setup_opts(state, &o);
}

static void test_source_table_full(void **state)
{
	struct swh *h = *state;
	char addr[32];
	struct sw_source s;
	struct sw_stats st;
	int i;

	for (i = 1; i <= 4; i++) {
		snprintf(addr, sizeof(addr), "198.51.100.%d", i);
		assert_int_equal(syn(h, addr, 1), PASS);
	}
	assert_int_equal(swh_source_count(h), 4);

	/* The fifth is untracked; nobody is evicted for it. */
	swh_advance(h, NS);
	assert_int_equal(syn(h, "198.51.100.5", 1), PASS);
	assert_int_equal(syn(h, "2001:db8:1::5", 1), PASS);
	assert_no_source(h, "198.51.100.5");
	assert_no_source(h, "2001:db8:1::5");
	st = stats(h);
	assert_int_equal(st.source_table_full, 2);
	assert_int_equal(st.untracked_syn, 2);
	assert_int_equal(st.admitted, 4);
	assert_no_drops(&st);
	assert_int_equal(swh_source_count(h), 4);
	for (i = 1; i <= 4; i++) {
		snprintf(addr, sizeof(addr), "198.51.100.%d", i);
		s = source(h, addr);
		assert_int_equal(s.first_seen_ns, T0);
		assert_int_equal(s.admitted, 1);
		assert_int_equal(pending_in(h, &s), 1);
	}

	/* Known sources carry on. */
	assert_int_equal(syn(h, "198.51.100.1", 2), PASS);
	assert_int_equal(source(h, "198.51.100.1").admitted, 2);
	assert_int_equal(seg(h, "198.51.100.5", 1, PKT_ACK), PASS);

	/* With [flood] action = drop, an untracked SYN is refused like a gated one. */
	h->cfg.flags |= SW_CFG_FLOOD_DROP;
	sw_config(h);
	assert_int_equal(syn(h, "198.51.100.5", 2), DROP);
	st = stats(h);
	assert_int_equal(st.source_table_full, 3);
	assert_int_equal(st.dropped[SW_R_FLOOD], 1);
	assert_int_equal(swh_source_count(h), 4);
}

/* ---- source aggregation ---- */

static void test_aggregation_v4_prefix(void **state)
{
	struct swh *h = *state;
	struct sw_src_key key;
	struct sw_source s;
	struct in_addr net;

	swh_set_prefixes(&h->cfg, 24, 64);
	h->cfg.max_sessions = 2;
	sw_config(h);

	assert_int_equal(syn(h, "198.51.100.1", 1), PASS);
	assert_int_equal(syn(h, "198.51.100.2", 1), PASS);
	assert_int_equal(swh_source_count(h), 1);
	s = source(h, "198.51.100.200");
	assert_int_equal(s.syn, 2);
	assert_int_equal(pending_in(h, &s), 2);
	/* One source, one slot per handshake: each host's own tuple. */
	assert_int_equal(until_of(h, &s, "198.51.100.1", 1), T0 + 30 * NS);
	assert_int_equal(until_of(h, &s, "198.51.100.2", 1), T0 + 30 * NS);
	assert_int_equal(slots_used(&s), 2);

	/* The limits apply to the /24 as one source. */
	assert_int_equal(syn(h, "198.51.100.3", 1), DROP);
	assert_int_equal(syn(h, "198.51.101.1", 1), PASS);
	assert_int_equal(swh_source_count(h), 2);
	assert_int_equal(source(h, "198.51.101.1").syn, 1);

	/* The key is the masked address. */
	assert_int_equal(swh_src_key(&h->cfg, "198.51.100.77", &key), 0);
	inet_pton(AF_INET, "198.51.100.0", &net);
	assert_int_equal(key.addr[0], net.s_addr);
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(h->skel->maps.sw_sources), &key, &s), 0);
	assert_int_equal(s.dropped[SW_R_CONCURRENCY], 1);
}

static void test_aggregation_v6_default_64(void **state)
{
	struct swh *h = *state;
	struct sw_src_key key = { .family = SW_AF_INET6 };
	struct sw_source s;

	h->cfg.syn_interval_ns = NS;	/* burst 1: the second SYN of a source is dropped */
	sw_config(h);

	assert_int_equal(syn(h, "2001:db8:1::1", 1), PASS);
	assert_int_equal(syn(h, "2001:db8:1::2", 1), DROP);	/* same /64 */
	assert_int_equal(syn(h, "2001:db8:1:0:ffff::3", 1), DROP);
	assert_int_equal(syn(h, "2001:db8:2::1", 1), PASS);	/* another /64 */
	assert_int_equal(syn(h, "2001:db8:1:1::1", 1), PASS);	/* and another */
	assert_int_equal(swh_source_count(h), 3);
	s = source(h, "2001:db8:1::ffff");
	assert_int_equal(s.syn, 3);
	assert_int_equal(s.admitted, 1);
	assert_int_equal(s.dropped[SW_R_RATE], 2);

	inet_pton(AF_INET6, "2001:db8:1::", key.addr);
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(h->skel->maps.sw_sources), &key, &s), 0);
	assert_int_equal(s.syn, 3);

	/* An IPv4 address with the same first word is another source (family in the key). */
	swh_advance(h, 10 * NS);
	assert_int_equal(syn(h, "2001:db8::1", 1), PASS);
	assert_int_equal(syn(h, "32.1.13.184", 1), PASS);
	assert_int_equal(swh_source_count(h), 5);
	assert_int_equal(source(h, "32.1.13.184").syn, 1);
	assert_int_equal(source(h, "2001:db8::9").syn, 1);
}

static void test_aggregation_v6_48(void **state)
{
	struct swh *h = *state;
	struct sw_src_key key = { .family = SW_AF_INET6 };
	struct sw_source s;

	/* A prefix that cuts through the second word of the address. */
	swh_set_prefixes(&h->cfg, 32, 48);
	sw_config(h);

	assert_int_equal(syn(h, "2001:db8:1:1::1", 1), PASS);
	assert_int_equal(syn(h, "2001:db8:1:ffff::1", 1), PASS);
	assert_int_equal(syn(h, "2001:db8:2:1::1", 1), PASS);
	assert_int_equal(swh_source_count(h), 2);
	inet_pton(AF_INET6, "2001:db8:1::", key.addr);
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(h->skel->maps.sw_sources), &key, &s), 0);
	assert_int_equal(s.syn, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		SW_TEST(test_disabled_passes_everything),
		SW_TEST(test_non_ip_passes),
		SW_TEST(test_udp_and_icmp_pass),
		SW_TEST(test_unguarded_port_passes),
		SW_TEST(test_syn_reserves_ack_opens_session),
		SW_TEST(test_syn_retransmit),
		SW_TEST(test_retransmit_is_same_tuple),
		SW_TEST(test_tuple_key_survives_reload),
		SW_TEST(test_syn_ack_is_not_a_syn),
		SW_TEST(test_syn_rate_limit),
		SW_TEST(test_concurrency_limit_fin_rst),
		SW_TEST(test_handshake_timeout),
		SW_TEST(test_pending_slots_lapse_one_by_one),
		SW_TEST(test_abandoned_handshakes_lapse_on_their_own),
		SW_TEST(test_session_without_handshake),
		SW_TEST(test_pending_slots_overflow),
		SW_TEST(test_close_never_wraps),
		SW_TEST(test_concurrency_reaped),
		SW_TEST(test_penalty_box),
		SW_TEST(test_penalty_escalation),
		SW_TEST(test_penalty_strike_window),
		SW_TEST(test_penalty_from_concurrency),
		SW_TEST(test_no_penalty_without_strikes),
		SW_TEST(test_established_survives_limits),
		SW_TEST(test_concurrency_before_rate),
		SW_TEST(test_dry_run_never_drops),
		SW_TEST(test_new_source_gate),
		SW_TEST(test_new_source_gate_burst),
		cmocka_unit_test_setup_teardown(test_source_table_full, setup_4_sources, sw_teardown),
		SW_TEST(test_aggregation_v4_prefix),
		SW_TEST(test_aggregation_v6_default_64),
		SW_TEST(test_aggregation_v6_48),
	};

	return cmocka_run_group_tests_name("bpf verdicts", tests, NULL, NULL);
}
