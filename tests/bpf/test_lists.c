// SPDX-License-Identifier: GPL-2.0
/*
 * Allow and deny lists in the XDP program: bans for known and unknown
 * sources, expiry, the per-source verdict cache and its list_gen, the
 * allow list's bypass, and which of two overlapping entries wins.
 */
#include "sw_test.h"

static void test_deny_unknown_source_v4(void **state)
{
	struct swh *h = *state;
	struct pkt_opts frag = { .src = "203.0.113.11", .ipv4_frag_offset = 100, .flags = PKT_ACK };
	struct sw_stats st;

	list_set(h, true, "203.0.113.0/24", 0);

	assert_int_equal(syn(h, "203.0.113.9", 1), DROP);
	assert_int_equal(seg(h, "203.0.113.10", 1, PKT_ACK), DROP);
	assert_int_equal(seg(h, "203.0.113.10", 1, PKT_RST), DROP);
	assert_int_equal(run_pkt(h, &frag), DROP);
	/* A banned source gets no state, not even for its SYN, and never a session. */
	assert_no_source(h, "203.0.113.9");
	assert_no_source(h, "203.0.113.10");
	assert_no_source(h, "203.0.113.11");
	assert_int_equal(swh_source_count(h), 0);
	assert_int_equal(swh_session_count(h), 0);

	/* Next to the range: not banned. */
	assert_int_equal(syn(h, "203.0.114.1", 1), PASS);
	assert_int_equal(syn(h, "203.0.112.255", 1), PASS);

	st = stats(h);
	assert_int_equal(st.dropped[SW_R_DENY], 4);
	assert_int_equal(st.admitted, 2);
	assert_int_equal(st.fragments, 1);
	assert_int_equal(swh_source_count(h), 2);
}

static int setup_2_sources(void **state)
{
	struct swh_opts o = { .max_sources = 2 };

	return sw_setup_opts(state, &o);
}

/*
 * A banned source without state is dropped before anything is spent on it:
 * no source entry, no token of the new-source gate. A banned flood can
 * neither shut the gate for others nor fill the table.
 */
static void test_deny_unknown_spends_nothing(void **state)
{
	struct swh *h = *state;
	char addr[64];
	struct sw_global g;
	struct sw_stats st;
	int i;

	h->cfg.new_source_interval_ns = NS;	/* 1 new source/s, burst 1 */
	h->cfg.flags |= SW_CFG_FLOOD_DROP;
	sw_config(h);
	list_set(h, true, "203.0.113.0/24", 0);
	list_set(h, true, "2001:db8:bad::/48", 0);

	for (i = 1; i <= 20; i++) {
		snprintf(addr, sizeof(addr), "203.0.113.%d", i);
		assert_int_equal(syn(h, addr, 1), DROP);
		snprintf(addr, sizeof(addr), "2001:db8:bad:%x::1", i);
		assert_int_equal(syn(h, addr, 1), DROP);
	}
	assert_int_equal(swh_source_count(h), 0);
	st = stats(h);
	assert_int_equal(st.dropped[SW_R_DENY], 40);
	assert_int_equal(st.dropped[SW_R_FLOOD], 0);
	assert_int_equal(st.untracked_syn, 0);
	assert_int_equal(st.source_table_full, 0);
	assert_int_equal(swh_global(h, &g), 0);
	assert_int_equal(g.new_source_tat_ns, 0);
	assert_int_equal(g.gate_shut_ns, 0);

	/* The gate's one token is still there for a legitimate new source... */
	assert_int_equal(syn(h, "198.51.100.1", 1), PASS);
	assert_int_equal(source(h, "198.51.100.1").admitted, 1);
	/* ...and it was the only one. */
	assert_int_equal(syn(h, "198.51.100.2", 1), DROP);
	assert_no_source(h, "198.51.100.2");
	st = stats(h);
	assert_int_equal(st.dropped[SW_R_FLOOD], 1);
	assert_int_equal(st.untracked_syn, 1);

	/* In dry-run the same: counted, and nothing spent. */
	h->cfg.flags |= SW_CFG_DRY_RUN;
	sw_config(h);
	swh_advance(h, NS);
	assert_int_equal(syn(h, "203.0.113.50", 1), PASS);
	assert_int_equal(syn(h, "2001:db8:bad::50", 1), PASS);
	assert_no_source(h, "203.0.113.50");
	assert_no_source(h, "2001:db8:bad::50");
	assert_int_equal(syn(h, "198.51.100.2", 1), PASS);
	assert_int_equal(source(h, "198.51.100.2").admitted, 1);
	assert_int_equal(swh_source_count(h), 2);	/* the table is full now */

	st = stats(h);
	assert_int_equal(st.would_drop[SW_R_DENY], 2);
	assert_int_equal(st.dropped[SW_R_DENY], 40);
	assert_int_equal(st.untracked_syn, 1);
	assert_int_equal(st.source_table_full, 0);
	assert_int_equal(st.admitted, 2);
}

static void test_deny_known_source(void **state)
{
	struct swh *h = *state;
	const char *a = "198.51.100.7";
	struct sw_source s;

	assert_int_equal(syn(h, a, 1), PASS);
	assert_int_equal(seg(h, a, 1, PKT_ACK), PASS);

	list_set(h, true, a, 0);
	bump_list_gen(h);

	/* A ban cuts everything, the established session included. */
	assert_int_equal(seg(h, a, 1, PKT_ACK), DROP);
	assert_int_equal(syn(h, a, 2), DROP);
	assert_int_equal(syn(h, a, 1), DROP);	/* retransmission: no way around */
	s = source(h, a);
	assert_int_equal(s.list_verdict, SW_LIST_DENY);
	assert_int_equal(s.list_gen, 1);
	assert_int_equal(s.list_expires_ns, 0);
	assert_int_equal(s.dropped[SW_R_DENY], 3);
	assert_int_equal(s.admitted, 1);
	assert_int_equal(stats(h).dropped[SW_R_DENY], 3);
}

static void test_deny_v6(void **state)
{
	struct swh *h = *state;

	assert_int_equal(syn(h, "2001:db8:bad:7::1", 1), PASS);	/* known before the ban */
	list_set(h, true, "2001:db8:bad::/48", 0);
	bump_list_gen(h);

	assert_int_equal(syn(h, "2001:db8:bad:7::1", 2), DROP);
	assert_int_equal(syn(h, "2001:db8:bad:1::1", 1), DROP);	/* unknown, SYN */
	assert_int_equal(seg(h, "2001:db8:bad:2::1", 1, PKT_ACK), DROP);	/* unknown, not SYN */
	assert_no_source(h, "2001:db8:bad:1::1");
	assert_no_source(h, "2001:db8:bad:2::1");
	assert_int_equal(syn(h, "2001:db8:bad0::1", 1), PASS);
	assert_int_equal(syn(h, "2001:db8:bac:ffff::1", 1), PASS);
	assert_int_equal(stats(h).dropped[SW_R_DENY], 3);
	assert_int_equal(source(h, "2001:db8:bad:7::1").dropped[SW_R_DENY], 1);
}

static void test_deny_expiry(void **state)
{
	struct swh *h = *state;
	struct sw_source s;

	/* Expired at the moment it is consulted: ignored. */
	list_set(h, true, "198.51.100.7", T0);
	assert_int_equal(syn(h, "198.51.100.7", 1), PASS);
	assert_int_equal(source(h, "198.51.100.7").list_verdict, SW_LIST_NONE);

	/* A ban with an expiry: drops until then, for known and unknown sources. */
	assert_int_equal(syn(h, "198.51.100.8", 1), PASS);
	list_set(h, true, "198.51.100.8", T0 + 5 * NS);
	list_set(h, true, "198.51.100.9", T0 + 5 * NS);
	list_set(h, true, "198.51.100.10", T0 + 5 * NS);
	bump_list_gen(h);
	assert_int_equal(syn(h, "198.51.100.8", 2), DROP);
	s = source(h, "198.51.100.8");
	assert_int_equal(s.list_verdict, SW_LIST_DENY);
	assert_int_equal(s.list_expires_ns, T0 + 5 * NS);
	assert_int_equal(seg(h, "198.51.100.9", 1, PKT_ACK), DROP);
	assert_int_equal(syn(h, "198.51.100.10", 1), DROP);

	swh_set_now(h, T0 + 5 * NS - 1);
	assert_int_equal(syn(h, "198.51.100.8", 3), DROP);
	assert_int_equal(seg(h, "198.51.100.9", 1, PKT_ACK), DROP);
	assert_int_equal(syn(h, "198.51.100.10", 1), DROP);
	assert_no_source(h, "198.51.100.10");

	/* Expired: lifted without any list_gen bump, because the verdict carried its expiry. */
	swh_set_now(h, T0 + 5 * NS);
	assert_int_equal(syn(h, "198.51.100.8", 4), PASS);
	s = source(h, "198.51.100.8");
	assert_int_equal(s.list_verdict, SW_LIST_NONE);
	assert_int_equal(s.list_expires_ns, 0);
	assert_int_equal(s.dropped[SW_R_DENY], 2);
	assert_int_equal(s.admitted, 2);
	assert_int_equal(seg(h, "198.51.100.9", 1, PKT_ACK), PASS);
	/* The unknown source gets its state now, with a verdict of none. */
	assert_int_equal(syn(h, "198.51.100.10", 1), PASS);
	s = source(h, "198.51.100.10");
	assert_int_equal(s.list_verdict, SW_LIST_NONE);
	assert_int_equal(s.list_expires_ns, 0);
	assert_int_equal(s.dropped[SW_R_DENY], 0);
	assert_int_equal(stats(h).dropped[SW_R_DENY], 6);
}

static void test_list_cache_needs_gen_bump(void **state)
{
	struct swh *h = *state;
	const char *a = "198.51.100.7";

	h->cfg.syn_interval_ns = NS;	/* burst 1 */
	sw_config(h);

	assert_int_equal(syn(h, a, 1), PASS);
	assert_int_equal(source(h, a).list_gen, 0);

	/* A ban the program has not been told about: the cached verdict stands. */
	list_set(h, true, "198.51.100.0/24", 0);
	swh_advance(h, NS);
	assert_int_equal(syn(h, a, 2), PASS);
	assert_int_equal(seg(h, a, 1, PKT_ACK), PASS);
	assert_int_equal(source(h, a).list_verdict, SW_LIST_NONE);
	/* ...but a source without state is looked up directly. */
	assert_int_equal(seg(h, "198.51.100.8", 1, PKT_ACK), DROP);

	bump_list_gen(h);
	assert_int_equal(seg(h, a, 1, PKT_ACK), DROP);
	swh_advance(h, NS);
	assert_int_equal(syn(h, a, 3), DROP);
	assert_int_equal(source(h, a).list_verdict, SW_LIST_DENY);
	assert_int_equal(source(h, a).list_gen, 1);

	/* Unbanned, not yet told: still banned. Told: free. */
	assert_int_equal(swh_list_del(h, true, "198.51.100.0/24"), 0);
	assert_int_equal(seg(h, a, 1, PKT_ACK), DROP);
	bump_list_gen(h);
	assert_int_equal(seg(h, a, 1, PKT_ACK), PASS);
	assert_int_equal(syn(h, a, 3), PASS);
	assert_int_equal(source(h, a).list_verdict, SW_LIST_NONE);

	/* The same for an allow: the rate limit applies until the bump. */
	list_set(h, false, a, 0);
	assert_int_equal(syn(h, a, 4), DROP);
	bump_list_gen(h);
	assert_int_equal(syn(h, a, 4), PASS);
	assert_int_equal(syn(h, a, 5), PASS);
	assert_int_equal(source(h, a).list_verdict, SW_LIST_ALLOW);
	assert_int_equal(source(h, a).dropped[SW_R_DENY], 3);
	assert_int_equal(source(h, a).dropped[SW_R_RATE], 1);
	assert_int_equal(stats(h).dropped[SW_R_DENY], 4);
}

static void test_allow_bypasses_limits(void **state)
{
	struct swh *h = *state;
	const char *a = "198.51.100.7", *b = "198.51.100.8";
	struct sw_source s;
	struct sw_stats st;
	int i;

	h->cfg.syn_interval_ns = NS;	/* 1/s, burst 1 */
	h->cfg.max_sessions = 1;
	h->cfg.penalty_strikes = 1;
	h->cfg.penalty_window_ns = 60 * NS;
	h->cfg.penalty_base_ns = 10 * NS;
	h->cfg.penalty_max_ns = 100 * NS;
	sw_config(h);
	list_set(h, false, a, 0);
	list_set(h, false, "2001:db8:1::/64", 0);

	for (i = 0; i < 10; i++)
		assert_int_equal(syn(h, a, 100 + i), PASS);
	for (i = 0; i < 5; i++)
		assert_int_equal(syn(h, "2001:db8:1::1", 100 + i), PASS);
	/* A retransmission (of a handshake with a slot) is not counted again. */
	assert_int_equal(syn(h, a, 100), PASS);

	s = source(h, a);
	assert_int_equal(s.list_verdict, SW_LIST_ALLOW);
	assert_int_equal(s.syn, 11);
	assert_int_equal(s.admitted, 10);
	assert_int_equal(pending_in(h, &s), 10);	/* 8 slots, 2 counted */
	assert_int_equal(s.overflow, 2);
	assert_int_equal(s.strikes, 0);
	assert_int_equal(s.penalty_until_ns, 0);
	assert_int_equal(source(h, "2001:db8:1::1").admitted, 5);
	st = stats(h);
	assert_int_equal(st.allowlisted, 15);
	assert_int_equal(st.syn, 16);
	assert_int_equal(st.admitted, 15);
	assert_int_equal(st.syn_retransmit, 1);
	assert_int_equal(st.penalties, 0);
	assert_no_drops(&st);

	/* b, not allowlisted, is limited (max_sessions first) and lands in the penalty box... */
	assert_int_equal(syn(h, b, 1), PASS);
	assert_int_equal(seg(h, b, 1, PKT_ACK), PASS);
	assert_int_equal(syn(h, b, 2), DROP);
	s = source(h, b);
	assert_int_equal(s.penalty_until_ns, T0 + 10 * NS);
	assert_int_equal(s.penalty_reason, SW_R_CONCURRENCY);
	assert_int_equal(seg(h, b, 1, PKT_ACK), DROP);

	/* ...from which an allow entry lets it out. */
	list_set(h, false, b, 0);
	bump_list_gen(h);
	assert_int_equal(seg(h, b, 1, PKT_ACK), PASS);
	assert_int_equal(syn(h, b, 2), PASS);
	assert_int_equal(syn(h, b, 3), PASS);
	st = stats(h);
	assert_int_equal(st.allowlisted, 17);
	assert_int_equal(st.dropped[SW_R_CONCURRENCY], 1);
	assert_int_equal(st.dropped[SW_R_RATE], 0);
	assert_int_equal(st.dropped[SW_R_PENALTY], 1);
}

static void test_allow_more_specific_wins(void **state)
{
	struct swh *h = *state;
	struct sw_stats st;

	list_set(h, true, "203.0.113.0/24", 0);
	list_set(h, false, "203.0.113.5", 0);
	list_set(h, false, "203.0.113.64/26", 0);
	list_set(h, false, "198.51.100.0/24", 0);
	list_set(h, true, "198.51.100.66", 0);
	list_set(h, true, "2001:db8:bad::/48", 0);
	list_set(h, false, "2001:db8:bad:1::/64", 0);

	/* allow inside deny */
	assert_int_equal(syn(h, "203.0.113.5", 1), PASS);
	assert_int_equal(source(h, "203.0.113.5").list_verdict, SW_LIST_ALLOW);
	assert_int_equal(syn(h, "203.0.113.6", 1), DROP);
	assert_int_equal(seg(h, "203.0.113.70", 1, PKT_ACK), PASS);	/* unknown source */
	assert_int_equal(seg(h, "203.0.113.10", 1, PKT_ACK), DROP);
	assert_int_equal(syn(h, "2001:db8:bad:1::1", 1), PASS);
	assert_int_equal(syn(h, "2001:db8:bad:2::1", 1), DROP);

	/* deny inside allow */
	assert_int_equal(syn(h, "198.51.100.66", 1), DROP);
	assert_int_equal(seg(h, "198.51.100.66", 1, PKT_ACK), DROP);
	assert_int_equal(syn(h, "198.51.100.67", 1), PASS);

	st = stats(h);
	assert_int_equal(st.dropped[SW_R_DENY], 5);
	assert_int_equal(st.allowlisted, 3);
}

static void test_equal_prefix_deny_wins(void **state)
{
	struct swh *h = *state;

	/* Known before the entries, so that their cached verdict is judged too. */
	assert_int_equal(syn(h, "203.0.113.9", 1), PASS);
	assert_int_equal(syn(h, "2001:db8:bad::9", 1), PASS);
	list_set(h, false, "203.0.113.0/24", 0);
	list_set(h, true, "203.0.113.0/24", 0);
	list_set(h, false, "2001:db8:bad::/64", 0);
	list_set(h, true, "2001:db8:bad::/64", 0);
	bump_list_gen(h);

	assert_int_equal(syn(h, "203.0.113.9", 2), DROP);
	assert_int_equal(source(h, "203.0.113.9").list_verdict, SW_LIST_DENY);
	assert_int_equal(seg(h, "203.0.113.10", 1, PKT_ACK), DROP);
	assert_int_equal(syn(h, "203.0.113.11", 1), DROP);
	assert_no_source(h, "203.0.113.11");
	assert_int_equal(syn(h, "2001:db8:bad::9", 2), DROP);
	assert_int_equal(source(h, "2001:db8:bad::9").list_verdict, SW_LIST_DENY);
	assert_int_equal(seg(h, "2001:db8:bad::10", 1, PKT_ACK), DROP);
	assert_int_equal(stats(h).dropped[SW_R_DENY], 5);
	assert_int_equal(stats(h).allowlisted, 0);
}

static void test_expired_allow_falls_back_to_deny(void **state)
{
	struct swh *h = *state;
	const char *a = "203.0.113.5";
	struct sw_source s;

	list_set(h, true, "203.0.113.0/24", 0);
	list_set(h, false, a, T0 + 5 * NS);
	list_set(h, false, "203.0.113.6", T0 + 5 * NS);

	assert_int_equal(syn(h, a, 1), PASS);
	assert_int_equal(seg(h, "203.0.113.6", 1, PKT_ACK), PASS);
	s = source(h, a);
	assert_int_equal(s.list_verdict, SW_LIST_ALLOW);
	assert_int_equal(s.list_expires_ns, T0 + 5 * NS);

	swh_set_now(h, T0 + 5 * NS);
	assert_int_equal(seg(h, a, 1, PKT_ACK), DROP);
	s = source(h, a);
	assert_int_equal(s.list_verdict, SW_LIST_DENY);
	assert_int_equal(s.list_expires_ns, 0);
	/* An unknown source in the same situation. */
	assert_int_equal(seg(h, "203.0.113.6", 1, PKT_ACK), DROP);
	assert_int_equal(stats(h).dropped[SW_R_DENY], 2);
}

/*
 * An entry narrower than a source (a /128 in a /64): with list_fine set, as
 * the list writers do, each address gets its own verdict, whichever address
 * of the source came first.
 */
static void test_fine_entries_v6(void **state)
{
	struct swh *h = *state;
	struct sw_stats st;

	h->cfg.syn_interval_ns = NS;	/* burst 1, per /64 */
	h->cfg.list_fine = SW_LIST_FINE_V6;
	sw_config(h);
	list_set(h, true, "2001:db8:1::bad", 0);
	list_set(h, true, "2001:db8:2::bad", 0);
	list_set(h, false, "2001:db8:3::a", 0);
	bump_list_gen(h);

	/* A good address of the /64 first, then the banned one. */
	assert_int_equal(syn(h, "2001:db8:1::1", 1), PASS);
	assert_int_equal(syn(h, "2001:db8:1::bad", 1), DROP);
	assert_int_equal(seg(h, "2001:db8:1::bad", 1, PKT_ACK), DROP);
	assert_int_equal(seg(h, "2001:db8:1::1", 1, PKT_ACK), PASS);
	assert_int_equal(source(h, "2001:db8:1::1").dropped[SW_R_DENY], 2);

	/* The banned one first, then a good one. */
	assert_int_equal(syn(h, "2001:db8:2::bad", 1), DROP);
	assert_int_equal(syn(h, "2001:db8:2::1", 1), PASS);
	assert_int_equal(seg(h, "2001:db8:2::bad", 1, PKT_ACK), DROP);

	/* An allowed address bypasses the limits, its /64 neighbours do not. */
	assert_int_equal(syn(h, "2001:db8:3::1", 1), PASS);
	assert_int_equal(syn(h, "2001:db8:3::1", 2), DROP);
	assert_int_equal(syn(h, "2001:db8:3::a", 1), PASS);
	assert_int_equal(syn(h, "2001:db8:3::a", 2), PASS);
	assert_int_equal(syn(h, "2001:db8:3::2", 1), DROP);

	st = stats(h);
	assert_int_equal(st.dropped[SW_R_DENY], 4);
	assert_int_equal(st.dropped[SW_R_RATE], 2);
	assert_int_equal(st.allowlisted, 2);
}

static void test_fine_entries_v4_and_per_family(void **state)
{
	struct swh *h = *state;

	swh_set_prefixes(&h->cfg, 24, 64);
	h->cfg.list_fine = SW_LIST_FINE_V4;
	sw_config(h);
	list_set(h, true, "198.51.100.9", 0);
	list_set(h, true, "198.51.101.9", 0);
	bump_list_gen(h);

	assert_int_equal(syn(h, "198.51.100.1", 1), PASS);
	assert_int_equal(syn(h, "198.51.100.9", 1), DROP);
	assert_int_equal(seg(h, "198.51.100.1", 1, PKT_ACK), PASS);
	assert_int_equal(syn(h, "198.51.101.9", 1), DROP);
	assert_int_equal(syn(h, "198.51.101.1", 1), PASS);
	assert_int_equal(swh_source_count(h), 2);

	/* The flag is per family: IPv6 sources keep their cached verdict. */
	assert_int_equal(syn(h, "2001:db8:1::1", 1), PASS);
	list_set(h, true, "2001:db8:1::/64", 0);
	assert_int_equal(seg(h, "2001:db8:1::1", 1, PKT_ACK), PASS);
	bump_list_gen(h);
	assert_int_equal(seg(h, "2001:db8:1::1", 1, PKT_ACK), DROP);

	/*
	 * And the other way round: without its flag, IPv4 falls back to one
	 * verdict per source, resolved (after the bump above) by whichever
	 * address comes first: the inconsistency list_fine exists to prevent.
	 */
	h->cfg.list_fine = SW_LIST_FINE_V6;
	sw_config(h);
	assert_int_equal(seg(h, "198.51.100.1", 1, PKT_ACK), PASS);
	assert_int_equal(seg(h, "198.51.100.9", 1, PKT_ACK), PASS);	/* cached: none */
	assert_int_equal(seg(h, "198.51.101.9", 1, PKT_ACK), DROP);
	assert_int_equal(seg(h, "198.51.101.1", 1, PKT_ACK), DROP);	/* cached: deny */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		SW_TEST(test_deny_unknown_source_v4),
		cmocka_unit_test_setup_teardown(test_deny_unknown_spends_nothing, setup_2_sources,
						sw_teardown),
		SW_TEST(test_deny_known_source),
		SW_TEST(test_deny_v6),
		SW_TEST(test_deny_expiry),
		SW_TEST(test_list_cache_needs_gen_bump),
		SW_TEST(test_allow_bypasses_limits),
		SW_TEST(test_allow_more_specific_wins),
		SW_TEST(test_equal_prefix_deny_wins),
		SW_TEST(test_expired_allow_falls_back_to_deny),
		SW_TEST(test_fine_entries_v6),
		SW_TEST(test_fine_entries_v4_and_per_family),
	};

	return cmocka_run_group_tests_name("bpf allow/deny lists", tests, NULL, NULL);
}
