// SPDX-License-Identifier: GPL-2.0
/*
 * The logic the BPF program shares with the daemon, the CLI and the tests
 * (include/smtpwall/: gcra.h, tuple_hash.h, source_key.h, pending.h,
 * source_state.h, list_verdict.h, geo_walk.h), each tested once here,
 * natively: the same source is what the program runs. The boundaries are
 * the point: a burst's last cell, a slot's lapse time, an entry's expiry
 * instant, a clock that goes backwards, prefixes at the edges of a table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include "smtpwall.h"
#include "parse.h"

#define SEC 1000000000ULL
#define T   (1000 * SEC)	/* a time well away from 0: 0 means "unset" in many fields */

/* ---- GCRA ---- */

/* Burst 3 at 1/s: three cells at once, then one a second, on the exact boundary. */
static void test_gcra_burst(void **state)
{
	const __u64 interval = SEC, tolerance = 2 * SEC;
	__u64 tat = 0;

	for (int i = 0; i < 3; i++) {
		assert_true(sw_gcra_conforms(&tat, T, tolerance));
		assert_true(sw_gcra_admit(&tat, T, interval, tolerance));
	}
	assert_int_equal(tat, T + 3 * SEC);
	/* The fourth at once, and one ns before the next interval: refused, nothing charged. */
	assert_false(sw_gcra_conforms(&tat, T, tolerance));
	assert_false(sw_gcra_admit(&tat, T, interval, tolerance));
	assert_false(sw_gcra_admit(&tat, T + SEC - 1, interval, tolerance));
	assert_int_equal(tat, T + 3 * SEC);
	/* One interval later, exactly: one more, and only one. */
	assert_true(sw_gcra_admit(&tat, T + SEC, interval, tolerance));
	assert_false(sw_gcra_admit(&tat, T + SEC, interval, tolerance));
	/* Idle long enough, the whole burst again; the TAT starts from now, not from the past. */
	assert_true(sw_gcra_admit(&tat, T + 100 * SEC, interval, tolerance));
	assert_int_equal(tat, T + 101 * SEC);
}

/* Burst 1 (tolerance 0): exactly one cell per interval. */
static void test_gcra_no_burst(void **state)
{
	__u64 tat = 0;

	assert_true(sw_gcra_admit(&tat, T, SEC, 0));
	assert_false(sw_gcra_conforms(&tat, T + SEC - 1, 0));
	assert_false(sw_gcra_admit(&tat, T + SEC - 1, SEC, 0));
	assert_true(sw_gcra_conforms(&tat, T + SEC, 0));
	assert_true(sw_gcra_admit(&tat, T + SEC, SEC, 0));
	/* An infinite tolerance charges without refusing: the program's charge after the checks. */
	assert_true(sw_gcra_admit(&tat, T + SEC, SEC, (__u64)-1));
	assert_int_equal(tat, T + 3 * SEC);
}

static void test_gcra_clock_backwards(void **state)
{
	__u64 tat = 0;

	assert_true(sw_gcra_admit(&tat, T, SEC, SEC));
	assert_true(sw_gcra_admit(&tat, T, SEC, SEC));
	/* The clock steps back 10 s: the TAT only looks further ahead, refused and not charged. */
	assert_false(sw_gcra_conforms(&tat, T - 10 * SEC, SEC));
	assert_false(sw_gcra_admit(&tat, T - 10 * SEC, SEC, SEC));
	assert_int_equal(tat, T + 2 * SEC);
	/* Once the clock has caught up, the limit works as before. */
	assert_true(sw_gcra_admit(&tat, T + SEC, SEC, SEC));
	/* A clock that wrapped past 2^64 is far behind any TAT: refused, never a wrong admission. */
	tat = UINT64_MAX - SEC;
	assert_false(sw_gcra_admit(&tat, 5, SEC, SEC));
	assert_int_equal(tat, UINT64_MAX - SEC);
}

static void test_gcra_tat_wraps(void **state)
{
	const __u64 now = UINT64_MAX - SEC;
	__u64 tat = now + SEC / 2;

	/* Within the tolerance: admitted, and the TAT wraps past 2^64 ... */
	assert_true(sw_gcra_admit(&tat, now, SEC, SEC));
	assert_int_equal(tat, now + SEC / 2 + SEC);	/* mod 2^64 */
	assert_true(tat < now);
	/* ... so it looks behind the clock: the word starts afresh (an over-admission). */
	assert_true(sw_gcra_conforms(&tat, now, 0));
	assert_true(sw_gcra_admit(&tat, now, SEC, 0));
}

/* ---- the keyed tuple hash ---- */

/*
 * HalfSipHash-1-3, 32-bit output, key 00 01 .. 07, message 00 01 .. of each
 * length: the reference vectors (github.com/veorq/SipHash), as Linux's
 * lib/siphash_kunit.c lists them for hsiphash on 32-bit machines.
 */
static const __u32 hsiphash13_vectors[16] = {
	[0] = 0x5814c896, [1] = 0x7e059ea6, [2] = 0x577999b1, [3] = 0x6b28096c,
	[4] = 0x8b31d501, [9] = 0x7c46fb7f, [15] = 0x88b4c4cc,
};

static void test_hsiphash_reference_vectors(void **state)
{
	union {
		__u8 b[64];
		__u32 w[16];
	} msg;

	for (int i = 0; i < 64; i++)
		msg.b[i] = i;
	for (unsigned int n = 0; n < 16; n++) {
		if (!hsiphash13_vectors[n])
			continue;
		if (sw_hsiphash13(0x0706050403020100ULL, msg.w, n) != hsiphash13_vectors[n]) {
			print_error("%u bytes: %08x, want %08x\n", n * 4,
				    sw_hsiphash13(0x0706050403020100ULL, msg.w, n), hsiphash13_vectors[n]);
			fail();
		}
	}
}

/*
 * The hashes of fixed tuples under a fixed secret. Pending slots hold them
 * in pinned maps: a rebuilt program that hashed differently would take a
 * restarted daemon's pending handshakes for new ones. These values must
 * never change.
 */
static void test_tuple_hash_stable(void **state)
{
	const __u64 key = 0x0123456789abcdefULL;
	__u32 c4[4] = { 0 }, s4[4] = { 0 }, c6[4], s6[4];

	inet_pton(AF_INET, "198.51.100.7", c4);
	inet_pton(AF_INET, "192.0.2.1", s4);
	inet_pton(AF_INET6, "2001:db8:1:2::7", c6);
	inet_pton(AF_INET6, "2001:db8::1", s6);
	assert_int_equal(sw_tuple_hash(key, htons(40000), 25, c4, s4), 0x43989887);
	assert_int_equal(sw_tuple_hash(key, htons(40001), 25, c4, s4), 0x0d4d6e5f);
	assert_int_equal(sw_tuple_hash(key, htons(40000), 587, c6, s6), 0x9a73aba7);
	assert_int_equal(sw_tuple_hash(key + 1, htons(40000), 25, c4, s4), 0xbd496a78);
}

/* Every part of the tuple, and the secret, goes into the hash. */
static void test_tuple_hash_covers_the_tuple(void **state)
{
	const __u64 key = 0x0123456789abcdefULL;
	__u32 c[4], s[4], other[4];
	__u32 h;

	inet_pton(AF_INET6, "2001:db8:1:2::7", c);
	inet_pton(AF_INET6, "2001:db8::1", s);
	h = sw_tuple_hash(key, htons(40000), 25, c, s);
	assert_int_not_equal(h, 0);
	/* Another host of the same /64 is another handshake. */
	memcpy(other, c, sizeof(other));
	other[3] ^= htonl(1);
	assert_int_not_equal(sw_tuple_hash(key, htons(40000), 25, other, s), h);
	/* Another server address, port, client port; client and server swapped. */
	memcpy(other, s, sizeof(other));
	other[3] ^= htonl(2);
	assert_int_not_equal(sw_tuple_hash(key, htons(40000), 25, c, other), h);
	assert_int_not_equal(sw_tuple_hash(key, htons(40000), 587, c, s), h);
	assert_int_not_equal(sw_tuple_hash(key, htons(40001), 25, c, s), h);
	assert_int_not_equal(sw_tuple_hash(key, htons(40000), 25, s, c), h);
	/* Another secret. */
	assert_int_not_equal(sw_tuple_hash(key ^ 1ULL << 40, htons(40000), 25, c, s), h);
}

/* ---- source keys ---- */

static void config_with_prefixes(struct sw_config *cfg, unsigned int v4, unsigned int v6)
{
	memset(cfg, 0, sizeof(*cfg));
	sw_prefix_mask_v4(v4, &cfg->v4_mask);
	sw_prefix_mask_v6(v6, cfg->v6_mask);
}

static void key_of(const struct sw_config *cfg, const char *text, struct sw_src_key *key)
{
	__u32 a[4] = { 0 };
	int v6 = strchr(text, ':') != NULL;

	assert_int_equal(inet_pton(v6 ? AF_INET6 : AF_INET, text, a), 1);
	memset(key, 0xa5, sizeof(*key));	/* whatever was there: every byte must be written */
	sw_source_key_raw(cfg, v6 ? SW_AF_INET6 : SW_AF_INET, a, key);
}

static void assert_key(const struct sw_src_key *key, const char *want, __u8 family)
{
	struct sw_src_key w;

	memset(&w, 0, sizeof(w));
	assert_int_equal(inet_pton(family == SW_AF_INET6 ? AF_INET6 : AF_INET, want, w.addr), 1);
	w.family = family;
	assert_memory_equal(key, &w, sizeof(w));
}

static void test_source_key_v6_64(void **state)
{
	struct sw_config cfg;
	struct sw_src_key a, b;

	config_with_prefixes(&cfg, 32, 64);
	key_of(&cfg, "2001:db8:1:2:aaaa:bbbb:cccc:dddd", &a);
	assert_key(&a, "2001:db8:1:2::", SW_AF_INET6);
	/* Every host of the /64 is one source: one key, padding and all. */
	key_of(&cfg, "2001:db8:1:2::1", &b);
	assert_memory_equal(&a, &b, sizeof(a));
	key_of(&cfg, "2001:db8:1:2:ffff:ffff:ffff:ffff", &b);
	assert_memory_equal(&a, &b, sizeof(a));
	/* The neighbouring /64s are other sources. */
	key_of(&cfg, "2001:db8:1:3::1", &b);
	assert_key(&b, "2001:db8:1:3::", SW_AF_INET6);
	key_of(&cfg, "2001:db8:1:1:ffff:ffff:ffff:ffff", &b);
	assert_key(&b, "2001:db8:1:1::", SW_AF_INET6);
}

static void test_source_key_prefixes(void **state)
{
	struct sw_config cfg;
	struct sw_src_key k;

	config_with_prefixes(&cfg, 32, 128);
	key_of(&cfg, "198.51.100.7", &k);
	assert_key(&k, "198.51.100.7", SW_AF_INET);
	key_of(&cfg, "2001:db8::1:2", &k);
	assert_key(&k, "2001:db8::1:2", SW_AF_INET6);
	config_with_prefixes(&cfg, 24, 48);
	key_of(&cfg, "198.51.100.255", &k);
	assert_key(&k, "198.51.100.0", SW_AF_INET);
	key_of(&cfg, "2001:db8:1:ffff::1", &k);
	assert_key(&k, "2001:db8:1::", SW_AF_INET6);
	/* A /63: the boundary inside a word. */
	config_with_prefixes(&cfg, 0, 63);
	key_of(&cfg, "2001:db8:1:3::1", &k);
	assert_key(&k, "2001:db8:1:2::", SW_AF_INET6);
	/* /0: all of a family is one source, but the families stay apart. */
	key_of(&cfg, "203.0.113.9", &k);
	assert_key(&k, "0.0.0.0", SW_AF_INET);
}

/* ---- pending handshake slots ---- */

static void test_pending_slot_lapses_at_its_time(void **state)
{
	struct sw_source src;

	memset(&src, 0, sizeof(src));
	src.pending_tuple[3] = 0x1234;
	src.pending_until[3] = T;
	assert_true(sw_pending_slot_live(&src, 3, T - 1));
	assert_false(sw_pending_slot_live(&src, 3, T));
	assert_int_equal(sw_source_pending(&src, T - 1), 1);
	assert_int_equal(sw_source_pending(&src, T), 0);
	/* A free slot (tuple 0) holds nothing, whatever its time says. */
	src.pending_until[5] = T + 100 * SEC;
	assert_false(sw_pending_slot_live(&src, 5, T));
	/* The overflow lapses as a whole. */
	src.overflow = 4;
	src.overflow_until_ns = T + SEC;
	assert_int_equal(sw_pending_overflow(&src, T + SEC - 1), 4);
	assert_int_equal(sw_source_pending(&src, T + SEC - 1), 4);
	assert_int_equal(sw_pending_overflow(&src, T + SEC), 0);
}

static void test_pending_reap(void **state)
{
	struct sw_source src, copy;

	memset(&src, 0, sizeof(src));
	for (int i = 0; i < SW_PENDING_SLOTS; i++) {
		src.pending_tuple[i] = i + 1;
		src.pending_until[i] = T + i * SEC;	/* slot i lapses at T + i s */
	}
	src.pending_tuple[6] = 0;			/* free */
	src.pending_probation = 1U << 2 | 1U << 5 | 1U << 6;
	src.overflow = 2;
	src.overflow_until_ns = T + 3 * SEC;

	/* At T + 3 s: slots 0-3 lapsed, 4, 5 and 7 live, the overflow lapsed. */
	assert_int_equal(sw_source_pending(&src, T + 3 * SEC), 3);
	assert_int_equal(sw_source_pending_probation(&src, T + 3 * SEC), 1);	/* 5; 2 lapsed, 6 free */
	copy = src;
	assert_int_equal(sw_pending_reap(&src, T + 3 * SEC), 3);
	for (int i = 0; i < SW_PENDING_SLOTS; i++)
		assert_int_equal(src.pending_tuple[i], i <= 3 || i == 6 ? 0 : (__u32)i + 1);
	assert_int_equal(src.overflow, 0);
	/* Nothing else is touched, and a second reap finds what the count finds. */
	memcpy(copy.pending_tuple, src.pending_tuple, sizeof(copy.pending_tuple));
	copy.overflow = 0;
	assert_memory_equal(&src, &copy, sizeof(src));
	assert_int_equal(sw_pending_reap(&src, T + 3 * SEC), 3);
	assert_int_equal(sw_pending_reap(&src, T + 7 * SEC), 0);
	assert_int_equal(sw_source_pending(&src, T + 7 * SEC), 0);
}

/* ---- known good, live sessions ---- */

static void test_known_good(void **state)
{
	const __u64 ttl = 3600 * SEC;
	struct sw_config cfg;
	struct sw_source src;

	memset(&cfg, 0, sizeof(cfg));
	memset(&src, 0, sizeof(src));
	cfg.good_ttl_ns = ttl;
	assert_false(sw_source_known_good(&cfg, &src, T));	/* never completed a session */
	src.last_good_ns = T;
	assert_true(sw_source_known_good(&cfg, &src, T));
	assert_true(sw_source_known_good(&cfg, &src, T + ttl - 1));
	assert_false(sw_source_known_good(&cfg, &src, T + ttl));
	/* A clock behind the evidence proves nothing. */
	assert_false(sw_source_known_good(&cfg, &src, T - 1));
	/* good_ttl 0: nobody is known good. */
	assert_false(sw_known_good(T, 0, T));
}

static void test_sessions_live(void **state)
{
	assert_int_equal(sw_sessions_live(5, 0), 5);
	assert_int_equal(sw_sessions_live(5, 2), 3);
	assert_int_equal(sw_sessions_live(5, 5), 0);
	/* The daemon reaped more than the program counted open: none, never a wrap. */
	assert_int_equal(sw_sessions_live(5, 6), 0);
	assert_int_equal(sw_sessions_live(5, 1ULL << 32), 0);
	assert_int_equal(sw_sessions_live(0, 0), 0);
}

/* ---- allow/deny ---- */

static void test_list_pick(void **state)
{
	struct sw_list_entry allow24 = { .prefixlen = 24, .expires_ns = 0 };
	struct sw_list_entry allow32 = { .prefixlen = 32, .expires_ns = T };
	struct sw_list_entry deny24 = { .prefixlen = 24, .expires_ns = T + SEC };
	struct sw_list_entry deny32 = { .prefixlen = 32, .expires_ns = 0 };
	__u64 expires = 1;

	assert_int_equal(sw_list_pick(NULL, NULL, &expires), SW_LIST_NONE);
	assert_int_equal(expires, 0);
	assert_int_equal(sw_list_pick(&allow32, NULL, &expires), SW_LIST_ALLOW);
	assert_int_equal(expires, T);
	assert_int_equal(sw_list_pick(NULL, &deny24, &expires), SW_LIST_DENY);
	assert_int_equal(expires, T + SEC);
	/* The more specific entry wins, whichever list it is in ... */
	assert_int_equal(sw_list_pick(&allow32, &deny24, &expires), SW_LIST_ALLOW);
	assert_int_equal(expires, T);
	assert_int_equal(sw_list_pick(&allow24, &deny32, &expires), SW_LIST_DENY);
	assert_int_equal(expires, 0);
	/* ... and on equal prefixes, the deny entry. */
	assert_int_equal(sw_list_pick(&allow24, &deny24, &expires), SW_LIST_DENY);
	assert_int_equal(expires, T + SEC);
}

static void test_list_expiry(void **state)
{
	struct sw_list_entry e = { .prefixlen = 32, .expires_ns = T };

	assert_false(sw_list_expired(&e, T - 1));
	assert_true(sw_list_expired(&e, T));
	assert_true(sw_list_expired(&e, UINT64_MAX));
	e.expires_ns = 0;	/* never */
	assert_false(sw_list_expired(&e, UINT64_MAX));
}

/* ---- the geo walk ---- */

struct test_table {
	struct sw_geo_chunk *c;
	__u32 n;
};

static const struct sw_geo_chunk *test_chunk(const void *tbl, __u32 idx)
{
	const struct test_table *t = tbl;

	return idx < t->n ? &t->c[idx] : NULL;
}

static __u32 cc(const char *iso)
{
	return 1 + (iso[0] - 'A') * 26 + (iso[1] - 'A');
}

static __u32 walk4(const struct test_table *t, const char *text)
{
	__u32 a;

	assert_int_equal(inet_pton(AF_INET, text, &a), 1);
	return sw_geo_walk(t, test_chunk, sw_geo_bits4(a), SW_GEO4_LEVELS);
}

static __u32 walk6(const struct test_table *t, const char *text)
{
	__u32 a[4];

	assert_int_equal(inet_pton(AF_INET6, text, a), 1);
	return sw_geo_walk(t, test_chunk, sw_geo_bits6(a), SW_GEO6_LEVELS);
}

static void test_geo_walk_v4_edges(void **state)
{
	struct test_table t = { .c = calloc(SW_GEO_ROOT_CHUNKS + 4, sizeof(*t.c)), .n = SW_GEO_ROOT_CHUNKS + 4 };
	const __u32 root = 0, lvl1 = SW_GEO_ROOT_CHUNKS, lvl1b = lvl1 + 1, lvl2 = lvl1 + 2;

	assert_non_null(t.c);
	/* /0: every root entry a leaf, the first and last addresses included. */
	for (int i = 0; i < SW_GEO_ROOT_CHUNKS; i++)
		for (int j = 0; j < SW_GEO_CHUNK; j++)
			t.c[root + i].e[j] = SW_GEO_LEAF(cc("ZZ"), 0);
	assert_int_equal(walk4(&t, "0.0.0.0"), SW_GEO_LEAF(cc("ZZ"), 0));
	assert_int_equal(walk4(&t, "255.255.255.255"), SW_GEO_LEAF(cc("ZZ"), 0));
	/* A /16 is one root entry: chunk = first byte, entry = second. */
	t.c[10].e[20] = SW_GEO_LEAF(cc("US"), 16);
	assert_int_equal(walk4(&t, "10.20.255.255"), SW_GEO_LEAF(cc("US"), 16));
	assert_int_equal(walk4(&t, "10.21.0.0"), SW_GEO_LEAF(cc("ZZ"), 0));
	/* A /24 one level down; a /32 at the last level, its neighbours not in it. */
	t.c[10].e[30] = SW_GEO_PTR | lvl1;
	t.c[lvl1].e[40] = SW_GEO_LEAF(cc("DE"), 24);
	t.c[lvl1].e[41] = SW_GEO_PTR | lvl2;
	t.c[lvl2].e[2] = SW_GEO_LEAF(cc("FR"), 32);
	assert_int_equal(walk4(&t, "10.30.40.0"), SW_GEO_LEAF(cc("DE"), 24));
	assert_int_equal(walk4(&t, "10.30.40.255"), SW_GEO_LEAF(cc("DE"), 24));
	assert_int_equal(walk4(&t, "10.30.41.2"), SW_GEO_LEAF(cc("FR"), 32));
	assert_int_equal(walk4(&t, "10.30.41.1"), 0);
	assert_int_equal(walk4(&t, "10.30.41.3"), 0);
	/* Past the last level, a pointer is a table built wrong: not in the database. */
	t.c[lvl2].e[3] = SW_GEO_PTR | lvl1b;
	assert_int_equal(walk4(&t, "10.30.41.3"), 0);
	/* A pointer to a chunk the table does not have: not in the database. */
	t.c[255].e[255] = SW_GEO_PTR | 999;
	assert_int_equal(walk4(&t, "255.255.255.255"), 0);
	/* No root: nothing. */
	t.n = 0;
	assert_int_equal(walk4(&t, "10.20.0.1"), 0);
	free(t.c);
}

static void test_geo_walk_v6_depth(void **state)
{
	struct test_table t = { .c = calloc(SW_GEO_ROOT_CHUNKS + 6, sizeof(*t.c)), .n = SW_GEO_ROOT_CHUNKS + 6 };
	/* 2001:0db8:0001:0002::/64: root 0x20, 0x01, then 0x0d 0xb8 0x00 0x01 0x00 0x02. */
	const __u8 path[6] = { 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x02 };

	assert_non_null(t.c);
	t.c[0x20].e[0x01] = SW_GEO_PTR | SW_GEO_ROOT_CHUNKS;
	for (int level = 0; level < 5; level++)
		t.c[SW_GEO_ROOT_CHUNKS + level].e[path[level]] = SW_GEO_PTR | (SW_GEO_ROOT_CHUNKS + level + 1);
	t.c[SW_GEO_ROOT_CHUNKS + 5].e[path[5]] = SW_GEO_LEAF(cc("NL"), 64) | SW_GEO_FOLDED;
	/* Six levels below the root reach a /64; the interface identifier is not read. */
	assert_int_equal(walk6(&t, "2001:db8:1:2::"), SW_GEO_LEAF(cc("NL"), 64) | SW_GEO_FOLDED);
	assert_int_equal(walk6(&t, "2001:db8:1:2:ffff:ffff:ffff:ffff"), SW_GEO_LEAF(cc("NL"), 64) | SW_GEO_FOLDED);
	assert_int_equal(walk6(&t, "2001:db8:1:3::"), 0);
	assert_int_equal(walk6(&t, "2001:db9::"), 0);
	/* A short table: the walk stops at the missing chunk. */
	t.n = SW_GEO_ROOT_CHUNKS + 5;
	assert_int_equal(walk6(&t, "2001:db8:1:2::"), 0);
	free(t.c);
}

static void test_geo_leaves(void **state)
{
	__u32 bits4, a[4], v4, skip;

	assert_int_equal(sw_geo_leaf_country(SW_GEO_LEAF(cc("DE"), 24)), cc("DE"));
	assert_int_equal(sw_geo_leaf_country(SW_GEO_LEAF(SW_COUNTRY_LAST, 8)), SW_COUNTRY_LAST);
	/* No country, or an id past ZZ (none, or junk in the table): unknown. */
	assert_int_equal(sw_geo_leaf_country(0), SW_COUNTRY_UNKNOWN);
	assert_int_equal(sw_geo_leaf_country(SW_GEO_LEAF(SW_COUNTRY_NONE, 8)), SW_COUNTRY_UNKNOWN);
	assert_int_equal(sw_geo_leaf_country(SW_GEO_CC_MASK), SW_COUNTRY_UNKNOWN);

	/* Addresses as the walk reads them: network byte order in, left-aligned bits out. */
	inet_pton(AF_INET, "1.2.3.4", &bits4);
	assert_int_equal(sw_geo_bits4(bits4), 0x0102030400000000ULL);
	inet_pton(AF_INET6, "2001:db8:1:2:3:4:5:6", a);
	assert_int_equal(sw_geo_bits6(a), 0x20010db800010002ULL);

	/* 6to4 embeds the IPv4 address in bits 16-47, Teredo its server's in 32-63. */
	inet_pton(AF_INET6, "2002:c000:0204::1", a);
	assert_true(sw_geo_v4_alias(SW_GEO_V4_6TO4, sw_geo_bits6(a), &v4, &skip));
	assert_int_equal(v4, 0xc0000204);
	assert_int_equal(skip, 16);
	inet_pton(AF_INET6, "2001:0:c000:0201::1", a);
	assert_true(sw_geo_v4_alias(SW_GEO_V4_TEREDO, sw_geo_bits6(a), &v4, &skip));
	assert_int_equal(v4, 0xc0000201);
	assert_int_equal(skip, 32);
	assert_false(sw_geo_v4_alias(SW_GEO_LEAF(cc("US"), 32), sw_geo_bits6(a), &v4, &skip));
}

/* Session durations: each bound belongs to its own bucket, a nanosecond more to the next. */
static void test_duration_buckets(void **state)
{
	static const __u64 bounds_ms[] = SW_DUR_BOUNDS_MS;
	const __u64 ms = 1000000ULL;

	(void)state;
	assert_int_equal(sizeof(bounds_ms) / sizeof(bounds_ms[0]), SW_DUR_BUCKETS - 1);
	assert_int_equal(sw_duration_bucket(0), 0);
	for (unsigned i = 0; i < SW_DUR_BUCKETS - 1; i++) {
		assert_int_equal(sw_duration_bucket(bounds_ms[i] * ms), i);
		assert_int_equal(sw_duration_bucket(bounds_ms[i] * ms + 1), i + 1);
		if (i)
			assert_true(bounds_ms[i] > bounds_ms[i - 1]);
	}
	assert_int_equal(sw_duration_bucket(~0ULL), SW_DUR_BUCKETS - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gcra_burst),
		cmocka_unit_test(test_gcra_no_burst),
		cmocka_unit_test(test_gcra_clock_backwards),
		cmocka_unit_test(test_gcra_tat_wraps),
		cmocka_unit_test(test_hsiphash_reference_vectors),
		cmocka_unit_test(test_tuple_hash_stable),
		cmocka_unit_test(test_tuple_hash_covers_the_tuple),
		cmocka_unit_test(test_source_key_v6_64),
		cmocka_unit_test(test_source_key_prefixes),
		cmocka_unit_test(test_pending_slot_lapses_at_its_time),
		cmocka_unit_test(test_pending_reap),
		cmocka_unit_test(test_known_good),
		cmocka_unit_test(test_sessions_live),
		cmocka_unit_test(test_list_pick),
		cmocka_unit_test(test_list_expiry),
		cmocka_unit_test(test_geo_walk_v4_edges),
		cmocka_unit_test(test_geo_walk_v6_depth),
		cmocka_unit_test(test_geo_leaves),
		cmocka_unit_test(test_duration_buckets),
	};

	return cmocka_run_group_tests_name("shared logic", tests, NULL, NULL);
}
