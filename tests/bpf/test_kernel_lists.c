// SPDX-License-Identifier: GPL-2.0
/*
 * User space's side of the kernel maps, against a real loaded program:
 * the allow/deny list operations of user/kernel/kernel.c, sw_lists_sync()
 * (config + state database -> kernel), the wall/monotonic clock
 * conversion behind CLI expiries, and sw_map_dump() on both of its paths
 * (batched for hashes, key by key for LPM tries).
 *
 * Every test loads its own program and maps; nothing is pinned.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <time.h>
#include <unistd.h>
#include "bpf_harness.h"
#include "pkt.h"
#include "kernel.h"
#include "loader.h"
#include "lists.h"
#include "store.h"

#define NS   SWH_NS
#define PASS XDP_PASS
#define DROP XDP_DROP

static const enum sw_list_kind ALLOW = SW_LIST_KIND_ALLOW, DENY = SW_LIST_KIND_DENY;

struct fx {
	struct swh h;
	struct sw_kernel k;
	struct sw_settings s;
	struct sw_store *store;
	char dir[64];		/* the store's state_dir, "" when none */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	if (swh_open_kernel(&f->h, &f->k)) {
		free(f);
		return -1;
	}
	/* The daemon's defaults, minus the limits that would get in the way of many SYNs at once. */
	sw_settings_defaults(&f->s);
	f->s.syn_interval_ns = 0;
	f->s.penalty_strikes = 0;
	f->s.new_source_interval_ns = 0;
	swh_apply_settings(&f->h, &f->k, &f->s);
	*state = f;
	return 0;
}

static void remove_store(struct fx *f)
{
	static const char *const files[] = { "state.db", "state.db-wal", "state.db-shm", "state.db-journal" };
	char path[128];

	if (f->store)
		sw_store_close(f->store);
	f->store = NULL;
	if (!f->dir[0])
		return;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", f->dir, files[i]);
		unlink(path);
	}
	rmdir(f->dir);
	f->dir[0] = '\0';
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (!f)
		return 0;
	remove_store(f);
	sw_kernel_close(&f->k);
	swh_close(&f->h);
	sw_settings_free(&f->s);
	free(f);
	return 0;
}

#define KL_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

static struct sw_cidr cidr(const char *text)
{
	struct sw_cidr c;
	char err[SW_ERR_LEN];

	if (sw_parse_cidr(text, &c, err))
		fail_msg("%s: %s", text, err);
	return c;
}

static bool cidr_eq(const struct sw_cidr *a, const struct sw_cidr *b)
{
	return a->family == b->family && a->prefixlen == b->prefixlen &&
	       !memcmp(a->addr, b->addr, a->family == SW_AF_INET ? 4 : 16);
}

static void put(struct fx *f, enum sw_list_kind kind, const char *text, __u64 expires, __u32 origin)
{
	struct sw_cidr c = cidr(text);

	assert_int_equal(sw_list_put(&f->k, kind, &c, expires, origin), 0);
}

static int get(struct fx *f, enum sw_list_kind kind, const char *text, struct sw_list_entry *e)
{
	struct sw_cidr c = cidr(text);

	return sw_list_get(&f->k, kind, &c, e);
}

static int del(struct fx *f, enum sw_list_kind kind, const char *text)
{
	struct sw_cidr c = cidr(text);

	return sw_list_del(&f->k, kind, &c);
}

/* The entry @addr matches must be @want ("" for none), with @want's prefix and no host bits. */
static void assert_match(struct fx *f, enum sw_list_kind kind, const char *addr, const char *want)
{
	struct sw_cidr a = cidr(addr), m, w;
	struct sw_list_entry e;
	char got[64];
	int ret;

	memset(&m, 0xaa, sizeof(m));
	ret = sw_list_match(&f->k, kind, &a, &e, &m);
	if (!*want) {
		assert_int_equal(ret, -ENOENT);
		return;
	}
	assert_int_equal(ret, 0);
	w = cidr(want);
	if (!cidr_eq(&m, &w)) {
		sw_format_cidr(&m, false, got, sizeof(got));
		fail_msg("%s matched %s, expected %s", addr, got, want);
	}
	assert_int_equal(e.prefixlen, w.prefixlen);
	/* Without @matched, the entry alone. */
	assert_int_equal(sw_list_match(&f->k, kind, &a, &e, NULL), 0);
	assert_int_equal(e.prefixlen, w.prefixlen);
}

/* The item for @text among @n dumped ones; failing the test if there is none. */
static const struct sw_list_item *find_item(const struct sw_list_item *items, long n, const char *text)
{
	struct sw_cidr c = cidr(text);

	for (long i = 0; i < n; i++)
		if (cidr_eq(&items[i].cidr, &c))
			return &items[i];
	fail_msg("%s is not in the list", text);
	return NULL;
}

static void assert_entry(const struct sw_list_entry *e, __u32 prefixlen, __u64 expires, __u32 origin)
{
	assert_int_equal(e->prefixlen, prefixlen);
	assert_int_equal(e->expires_ns, expires);
	assert_int_equal(e->origin, origin);
}

static void assert_near(__u64 got, __u64 want, __u64 slack)
{
	if (got + slack < want || got > want + slack)
		fail_msg("%llu is not within %llu of %llu", (unsigned long long)got,
			 (unsigned long long)slack, (unsigned long long)want);
}

static __u32 syn(struct fx *f, const char *src, __u16 sport)
{
	uint8_t buf[PKT_MAX];
	size_t len = pkt_simple(buf, src, sport, 25, PKT_SYN);
	__u32 ret = ~0U;

	assert_true(len > 0);
	assert_int_equal(swh_run(&f->h, buf, len, &ret), 0);
	return ret;
}

static struct sw_stats stats(struct fx *f)
{
	struct sw_stats st = { 0 };

	assert_int_equal(swh_stats(&f->h, &st), 0);
	return st;
}

/* ---- list operations ---- */

static void test_list_ops_v4(void **state)
{
	struct fx *f = *state;
	struct sw_list_item *items;
	struct sw_list_entry e;
	long n;

	put(f, DENY, "10.0.0.0/8", 0, SW_ORIGIN_CONFIG);
	put(f, DENY, "10.1.0.0/16", 12345, SW_ORIGIN_STORE);
	put(f, DENY, "10.1.2.3", 0, SW_ORIGIN_STORE);
	put(f, DENY, "172.16.0.0/13", 7, SW_ORIGIN_STORE);

	assert_int_equal(get(f, DENY, "10.0.0.0/8", &e), 0);
	assert_entry(&e, 8, 0, SW_ORIGIN_CONFIG);
	assert_int_equal(get(f, DENY, "10.1.0.0/16", &e), 0);
	assert_entry(&e, 16, 12345, SW_ORIGIN_STORE);
	assert_int_equal(get(f, DENY, "10.1.2.3/32", &e), 0);
	assert_entry(&e, 32, 0, SW_ORIGIN_STORE);
	assert_int_equal(get(f, DENY, "172.16.0.0/13", &e), 0);
	assert_entry(&e, 13, 7, SW_ORIGIN_STORE);

	/* get is exact: a prefix covered by a shorter entry is not "there". */
	assert_int_equal(get(f, DENY, "10.0.0.0/16", &e), -ENOENT);
	assert_int_equal(get(f, DENY, "10.1.2.0/24", &e), -ENOENT);
	assert_int_equal(get(f, DENY, "10.1.2.4", &e), -ENOENT);
	assert_int_equal(get(f, DENY, "10.0.0.0/7", &e), -ENOENT);
	assert_int_equal(get(f, DENY, "11.0.0.0/8", &e), -ENOENT);
	assert_int_equal(get(f, ALLOW, "10.0.0.0/8", &e), -ENOENT);

	/* match is longest-prefix, and reports the entry's prefix with host bits cleared. */
	assert_match(f, DENY, "10.1.2.3", "10.1.2.3/32");
	assert_match(f, DENY, "10.1.9.9", "10.1.0.0/16");
	assert_match(f, DENY, "10.200.1.1", "10.0.0.0/8");
	assert_match(f, DENY, "172.23.255.255", "172.16.0.0/13");
	assert_match(f, DENY, "172.16.0.1", "172.16.0.0/13");
	assert_match(f, DENY, "172.24.0.1", "");
	assert_match(f, DENY, "11.0.0.1", "");
	assert_match(f, ALLOW, "10.1.2.3", "");

	n = sw_list_dump(&f->k, DENY, &items);
	assert_int_equal(n, 4);
	assert_entry(&find_item(items, n, "10.0.0.0/8")->entry, 8, 0, SW_ORIGIN_CONFIG);
	assert_entry(&find_item(items, n, "10.1.0.0/16")->entry, 16, 12345, SW_ORIGIN_STORE);
	assert_entry(&find_item(items, n, "10.1.2.3")->entry, 32, 0, SW_ORIGIN_STORE);
	assert_entry(&find_item(items, n, "172.16.0.0/13")->entry, 13, 7, SW_ORIGIN_STORE);
	free(items);
	assert_int_equal(sw_list_dump(&f->k, ALLOW, &items), 0);
	free(items);

	/* Replacing an entry keeps one entry, with the new value. */
	put(f, DENY, "10.0.0.0/8", 99, SW_ORIGIN_STORE);
	assert_int_equal(get(f, DENY, "10.0.0.0/8", &e), 0);
	assert_entry(&e, 8, 99, SW_ORIGIN_STORE);

	assert_int_equal(del(f, DENY, "10.1.0.0/16"), 0);
	assert_int_equal(del(f, DENY, "10.1.0.0/16"), -ENOENT);
	assert_int_equal(del(f, DENY, "10.1.2.0/24"), -ENOENT);
	assert_int_equal(get(f, DENY, "10.1.0.0/16", &e), -ENOENT);
	assert_match(f, DENY, "10.1.9.9", "10.0.0.0/8");
	assert_match(f, DENY, "10.1.2.3", "10.1.2.3/32");

	n = sw_list_dump(&f->k, DENY, &items);
	assert_int_equal(n, 3);
	free(items);

	/* The default route matches everything, with nothing left of the address. */
	put(f, ALLOW, "0.0.0.0/0", 0, SW_ORIGIN_CONFIG);
	assert_match(f, ALLOW, "203.0.113.77", "0.0.0.0/0");
}

static void test_list_ops_v6(void **state)
{
	struct fx *f = *state;
	struct sw_list_item *items;
	struct sw_list_entry e;
	long n;

	put(f, DENY, "2001:db8::/32", 0, SW_ORIGIN_CONFIG);
	put(f, DENY, "2001:db8:bad::/48", 5, SW_ORIGIN_STORE);
	put(f, DENY, "2001:db8:bad:1::1", 6, SW_ORIGIN_STORE);
	put(f, DENY, "2001:db8:ab80::/41", 0, SW_ORIGIN_STORE);
	/* An IPv4 entry of the same kind lives in its own map. */
	put(f, DENY, "192.0.2.0/24", 0, SW_ORIGIN_CONFIG);

	assert_int_equal(get(f, DENY, "2001:db8::/32", &e), 0);
	assert_entry(&e, 32, 0, SW_ORIGIN_CONFIG);
	assert_int_equal(get(f, DENY, "2001:db8:bad::/48", &e), 0);
	assert_entry(&e, 48, 5, SW_ORIGIN_STORE);
	assert_int_equal(get(f, DENY, "2001:db8:bad:1::1/128", &e), 0);
	assert_entry(&e, 128, 6, SW_ORIGIN_STORE);
	assert_int_equal(get(f, DENY, "2001:db8:bad::/64", &e), -ENOENT);
	assert_int_equal(get(f, DENY, "2001:db8:bad:1::2", &e), -ENOENT);
	assert_int_equal(get(f, DENY, "2001:db8::/33", &e), -ENOENT);
	assert_int_equal(get(f, ALLOW, "2001:db8::/32", &e), -ENOENT);

	assert_match(f, DENY, "2001:db8:bad:1::1", "2001:db8:bad:1::1/128");
	assert_match(f, DENY, "2001:db8:bad:1::2", "2001:db8:bad::/48");
	assert_match(f, DENY, "2001:db8:bad:ffff:1:2:3:4", "2001:db8:bad::/48");
	assert_match(f, DENY, "2001:db8:abff:ffff::1", "2001:db8:ab80::/41");
	assert_match(f, DENY, "2001:db8:ab7f::1", "2001:db8::/32");
	assert_match(f, DENY, "2001:db9::1", "");
	assert_match(f, DENY, "::ffff:192.0.2.1", "");

	n = sw_list_dump(&f->k, DENY, &items);
	assert_int_equal(n, 5);
	assert_entry(&find_item(items, n, "2001:db8::/32")->entry, 32, 0, SW_ORIGIN_CONFIG);
	assert_entry(&find_item(items, n, "2001:db8:bad::/48")->entry, 48, 5, SW_ORIGIN_STORE);
	assert_entry(&find_item(items, n, "2001:db8:bad:1::1")->entry, 128, 6, SW_ORIGIN_STORE);
	assert_entry(&find_item(items, n, "2001:db8:ab80::/41")->entry, 41, 0, SW_ORIGIN_STORE);
	assert_entry(&find_item(items, n, "192.0.2.0/24")->entry, 24, 0, SW_ORIGIN_CONFIG);
	free(items);

	assert_int_equal(del(f, DENY, "2001:db8:bad::/48"), 0);
	assert_int_equal(del(f, DENY, "2001:db8:bad::/48"), -ENOENT);
	assert_match(f, DENY, "2001:db8:bad:1::2", "2001:db8::/32");
	assert_match(f, DENY, "2001:db8:bad:1::1", "2001:db8:bad:1::1/128");

	put(f, ALLOW, "::/0", 0, SW_ORIGIN_CONFIG);
	assert_match(f, ALLOW, "2001:db8:1:2:3:4:5:6", "::/0");
}

static void test_list_put_reaches_program(void **state)
{
	struct fx *f = *state;

	/* A known source, then a ban: the program sees it once list_gen moves. */
	assert_int_equal(syn(f, "198.51.100.7", 1), PASS);
	put(f, DENY, "198.51.100.0/24", 0, SW_ORIGIN_STORE);
	put(f, DENY, "2001:db8:bad::/48", 0, SW_ORIGIN_STORE);
	assert_int_equal(syn(f, "198.51.100.7", 2), PASS);
	sw_list_bump_gen(&f->k);
	assert_int_equal(f->k.config->list_gen, 1);
	assert_int_equal(syn(f, "198.51.100.7", 3), DROP);
	assert_int_equal(syn(f, "198.51.100.8", 1), DROP);
	assert_int_equal(syn(f, "2001:db8:bad:1::1", 1), DROP);

	assert_int_equal(del(f, DENY, "198.51.100.0/24"), 0);
	sw_list_bump_gen(&f->k);
	assert_int_equal(syn(f, "198.51.100.7", 4), PASS);
	assert_int_equal(stats(f).dropped[SW_R_DENY], 3);
}

/* ---- sw_lists_sync ---- */

static void open_store(struct fx *f)
{
	char err[512];

	snprintf(f->dir, sizeof(f->dir), "/tmp/smtpwall-test-XXXXXX");
	if (!mkdtemp(f->dir)) {
		f->dir[0] = '\0';
		fail_msg("mkdtemp: %s", strerror(errno));
	}
	f->store = sw_store_open(f->dir, err, sizeof(err));
	if (!f->store)
		fail_msg("sw_store_open: %s", err);
}

static void store_put(struct fx *f, enum sw_list_kind kind, const char *text, int64_t expires_at)
{
	struct sw_store_entry e = { .kind = kind, .cidr = cidr(text), .created_at = time(NULL),
				    .expires_at = expires_at };
	char err[512];

	snprintf(e.reason, sizeof(e.reason), "test");
	if (sw_store_put(f->store, &e, err, sizeof(err)))
		fail_msg("sw_store_put %s: %s", text, err);
}

/* Config file entries: what the [allow]/[deny] sections would have given. */
static void set_config_list(struct sw_config_entry **out, int *n, const char *const *texts, int count)
{
	free(*out);
	*out = calloc(count ? count : 1, sizeof(**out));
	assert_non_null(*out);
	for (int i = 0; i < count; i++) {
		(*out)[i].cidr = cidr(texts[i]);
		snprintf((*out)[i].reason, sizeof((*out)[i].reason), "config test:%d", i + 1);
	}
	*n = count;
}

static long sync_lists(struct fx *f)
{
	char err[512] = "";
	long n = sw_lists_sync(&f->k, &f->s, f->store, err, sizeof(err));

	if (n < 0)
		fail_msg("sw_lists_sync: %s", err);
	return n;
}

static void test_sync(void **state)
{
	static const char *const allow_cfg[] = { "192.0.2.0/24" };
	static const char *const deny_cfg[] = { "203.0.113.0/24", "2001:db8:bad::/48" };
	struct fx *f = *state;
	struct sw_cidr unbanned = cidr("198.51.100.7");
	struct sw_list_item *items;
	int64_t wall = time(NULL);
	char err[512];
	__u64 mono;
	long n;

	/* Expiries are loaded on the real clock: run the program on it too. */
	swh_set_now(&f->h, sw_mono_ns());
	f->k.config->list_gen = 5;

	/* What an earlier run left in the kernel. */
	put(f, DENY, "100.64.0.0/10", 0, SW_ORIGIN_STORE);
	put(f, DENY, "198.51.100.9", 0, SW_ORIGIN_STORE);
	put(f, DENY, "203.0.113.0/24", 0, SW_ORIGIN_CONFIG);
	put(f, ALLOW, "10.0.0.0/8", 0, SW_ORIGIN_CONFIG);
	put(f, ALLOW, "2001:db8:dead::/48", 0, SW_ORIGIN_STORE);
	assert_int_equal(syn(f, "198.51.100.9", 1), DROP);	/* a known source, banned */
	assert_int_equal(syn(f, "100.64.1.1", 1), DROP);

	set_config_list(&f->s.allow, &f->s.n_allow, allow_cfg, 1);
	set_config_list(&f->s.deny, &f->s.n_deny, deny_cfg, 2);
	open_store(f);
	store_put(f, DENY, "198.51.100.7", 0);
	store_put(f, DENY, "198.51.100.8", wall + 3600);
	store_put(f, DENY, "198.51.100.9", wall - 10);	/* already expired */
	store_put(f, DENY, "203.0.113.0/24", wall + 600);	/* a timed ban over a config entry */
	store_put(f, ALLOW, "2001:db8:1::/64", 0);

	mono = sw_mono_ns();
	assert_int_equal(sync_lists(f), 3 + 4);
	assert_int_equal(f->k.config->list_gen, 6);

	n = sw_list_dump(&f->k, DENY, &items);
	assert_int_equal(n, 4);
	assert_entry(&find_item(items, n, "2001:db8:bad::/48")->entry, 48, 0, SW_ORIGIN_CONFIG);
	assert_entry(&find_item(items, n, "198.51.100.7")->entry, 32, 0, SW_ORIGIN_STORE);
	/* The CLI entry is loaded over the config's one and carries its expiry. */
	assert_int_equal(find_item(items, n, "203.0.113.0/24")->entry.origin, SW_ORIGIN_STORE);
	assert_near(find_item(items, n, "203.0.113.0/24")->entry.expires_ns, mono + 600 * NS, 2 * NS);
	assert_int_equal(find_item(items, n, "198.51.100.8")->entry.origin, SW_ORIGIN_STORE);
	assert_near(find_item(items, n, "198.51.100.8")->entry.expires_ns, mono + 3600 * NS, 2 * NS);
	free(items);
	n = sw_list_dump(&f->k, ALLOW, &items);
	assert_int_equal(n, 2);
	assert_entry(&find_item(items, n, "192.0.2.0/24")->entry, 24, 0, SW_ORIGIN_CONFIG);
	assert_entry(&find_item(items, n, "2001:db8:1::/64")->entry, 64, 0, SW_ORIGIN_STORE);
	free(items);

	/* The program's verdicts follow, for known sources too (list_gen moved). */
	assert_int_equal(syn(f, "198.51.100.9", 2), PASS);
	assert_int_equal(syn(f, "100.64.1.1", 2), PASS);
	assert_int_equal(syn(f, "198.51.100.7", 1), DROP);
	assert_int_equal(syn(f, "198.51.100.8", 1), DROP);
	assert_int_equal(syn(f, "203.0.113.5", 1), DROP);
	assert_int_equal(syn(f, "2001:db8:bad:7::1", 1), DROP);
	assert_int_equal(syn(f, "10.1.1.1", 1), PASS);
	assert_int_equal(syn(f, "2001:db8:dead::1", 1), PASS);
	assert_int_equal(stats(f).allowlisted, 0);
	assert_int_equal(syn(f, "192.0.2.5", 1), PASS);
	assert_int_equal(syn(f, "2001:db8:1::5", 1), PASS);
	assert_int_equal(stats(f).allowlisted, 2);
	assert_int_equal(stats(f).dropped[SW_R_DENY], 2 + 4);

	/* Unbanned on the CLI, one config entry gone: the next sync follows both. */
	assert_int_equal(sw_store_del(f->store, DENY, &unbanned, err, sizeof(err)), 1);
	f->s.n_deny = 1;	/* 2001:db8:bad::/48 removed from [deny] */
	assert_int_equal(sync_lists(f), 2 + 3);
	assert_int_equal(f->k.config->list_gen, 7);
	n = sw_list_dump(&f->k, DENY, &items);
	assert_int_equal(n, 2);
	find_item(items, n, "203.0.113.0/24");
	find_item(items, n, "198.51.100.8");
	free(items);
	assert_int_equal(syn(f, "198.51.100.7", 2), PASS);
	assert_int_equal(syn(f, "2001:db8:bad:7::1", 2), PASS);

	/* Nothing changed: the same lists again. */
	assert_int_equal(sync_lists(f), 5);
	assert_int_equal(f->k.config->list_gen, 8);
	n = sw_list_dump(&f->k, DENY, &items);
	assert_int_equal(n, 2);
	free(items);
	n = sw_list_dump(&f->k, ALLOW, &items);
	assert_int_equal(n, 2);
	free(items);
}

static void test_sync_empty(void **state)
{
	struct fx *f = *state;
	struct sw_list_item *items;

	/* No config entries, an empty store: whatever the kernel held goes. */
	put(f, DENY, "198.51.100.0/24", 0, SW_ORIGIN_STORE);
	put(f, ALLOW, "2001:db8::/32", 0, SW_ORIGIN_CONFIG);
	open_store(f);
	assert_int_equal(sync_lists(f), 0);
	assert_int_equal(f->k.config->list_gen, 1);
	assert_int_equal(sw_list_dump(&f->k, DENY, &items), 0);
	free(items);
	assert_int_equal(sw_list_dump(&f->k, ALLOW, &items), 0);
	free(items);
}

static void test_sync_marks_entries_finer_than_a_source(void **state)
{
	static const char *const deny_cfg[] = { "2001:db8:bad::1", "203.0.113.0/24" };
	struct fx *f = *state;
	struct sw_cidr allowed = cidr("198.51.100.7");
	struct sw_config c;
	char err[512];

	/* /24 IPv4 sources, /64 IPv6 sources. */
	f->s.ipv4_prefix = 24;
	sw_settings_to_kernel(&f->s, &c);
	memcpy(f->k.config, &c, sizeof(c));
	f->h.cfg = c;

	/* A /128 ban inside a /64 source; a /24 ban no finer than a source. */
	set_config_list(&f->s.deny, &f->s.n_deny, deny_cfg, 2);
	open_store(f);
	sync_lists(f);
	assert_int_equal(f->k.config->list_fine, SW_LIST_FINE_V6);

	/* Whichever address of the /64 comes first, only the banned one is dropped. */
	assert_int_equal(syn(f, "2001:db8:bad::2", 1), PASS);
	assert_int_equal(syn(f, "2001:db8:bad::1", 1), DROP);
	assert_int_equal(syn(f, "2001:db8:bad::2", 2), PASS);

	/* An allowed /32 inside a /24 source: its neighbours are not allowlisted with it. */
	store_put(f, ALLOW, "198.51.100.7", 0);
	sync_lists(f);
	assert_int_equal(f->k.config->list_fine, SW_LIST_FINE_V4 | SW_LIST_FINE_V6);
	assert_int_equal(syn(f, "198.51.100.7", 1), PASS);
	assert_int_equal(syn(f, "198.51.100.8", 1), PASS);
	assert_int_equal(stats(f).allowlisted, 1);

	/* Gone from the config and the store: nothing is finer any more. */
	f->s.n_deny = 0;
	assert_int_equal(sw_store_del(f->store, ALLOW, &allowed, err, sizeof(err)), 1);
	sync_lists(f);
	assert_int_equal(f->k.config->list_fine, 0);
}

/* ---- wall clock <-> kernel clock ---- */

static void test_wall_mono(void **state)
{
	int64_t wall = time(NULL);
	__u64 mono = sw_mono_ns(), m;
	int64_t back;

	(void)state;
	assert_int_equal(sw_wall_to_mono(0), 0);
	assert_int_equal(sw_mono_to_wall(0), 0);

	/* An hour ahead on one clock is an hour ahead on the other. */
	m = sw_wall_to_mono(wall + 3600);
	assert_near(m, mono + 3600 * NS, 2 * NS);
	back = sw_mono_to_wall(m);
	assert_true(back >= wall + 3600 - 1 && back <= wall + 3600 + 1);

	back = sw_mono_to_wall(sw_mono_ns() + 90 * NS);
	assert_true(back >= wall + 90 - 1 && back <= wall + 90 + 2);
	back = sw_mono_to_wall(sw_mono_ns() - 90 * NS);
	assert_true(back >= wall - 90 - 1 && back <= wall - 90 + 2);

	/* The past, even the distant past, is "due now": nonzero, not in the future. */
	m = sw_wall_to_mono(wall - 10);
	assert_true(m != 0);
	assert_true(m >= mono && m <= sw_mono_ns());
	m = sw_wall_to_mono(1);
	assert_true(m != 0);
	assert_true(m <= sw_mono_ns());
	m = sw_wall_to_mono(time(NULL));
	assert_true(m != 0);
	assert_true(m <= sw_mono_ns());
}

static void test_past_expiry_is_due_for_program(void **state)
{
	struct fx *f = *state;

	/* A ban converted from a past wall time is not enforced by the program. */
	put(f, DENY, "198.51.100.7", sw_wall_to_mono(time(NULL) - 5), SW_ORIGIN_STORE);
	put(f, DENY, "198.51.100.8", sw_wall_to_mono(time(NULL) + 3600), SW_ORIGIN_STORE);
	swh_set_now(&f->h, sw_mono_ns());
	assert_int_equal(syn(f, "198.51.100.7", 1), PASS);
	assert_int_equal(syn(f, "198.51.100.8", 1), DROP);
}

/* ---- sw_map_dump ---- */

static void test_map_dump_empty(void **state)
{
	struct fx *f = *state;
	void *keys, *vals;

	assert_int_equal(sw_map_dump(f->k.sources_fd, sizeof(struct sw_src_key), sizeof(struct sw_source),
				     &keys, &vals), 0);
	free(keys);
	free(vals);
	assert_int_equal(sw_map_dump(f->k.sessions_fd, sizeof(struct sw_session_key),
				     sizeof(struct sw_session), &keys, &vals), 0);
	free(keys);
	free(vals);
	assert_int_equal(sw_map_dump(f->k.deny_v4_fd, sizeof(struct sw_lpm_v4), sizeof(struct sw_list_entry),
				     &keys, &vals), 0);
	free(keys);
	free(vals);
	assert_int_equal(sw_map_count(f->k.sources_fd, sizeof(struct sw_src_key)), 0);
}

#define MANY 5000

static void test_map_dump_hash_batched(void **state)
{
	struct fx *f = *state;
	struct sw_src_key *keys;
	struct sw_source *vals;
	struct sw_session_key *skeys;
	struct sw_session *svals;
	static bool seen[MANY];
	long n;
	int i;

	for (i = 0; i < MANY; i++) {
		struct sw_src_key k = { .addr = { htonl(0x0a000000 | i) }, .family = SW_AF_INET };
		struct sw_source v = { .syn = i, .packets = 3ull * i + 1, .sessions_open = i };
		struct sw_session_key sk = { .saddr = { htonl(0x0b000000 | i) }, .sport = htons(i),
					     .dport = htons(25), .family = SW_AF_INET };
		struct sw_session sv = { .start_ns = i, .bytes = 7ull * i };

		assert_int_equal(bpf_map_update_elem(f->k.sources_fd, &k, &v, BPF_NOEXIST), 0);
		assert_int_equal(bpf_map_update_elem(f->k.sessions_fd, &sk, &sv, BPF_NOEXIST), 0);
	}

	n = sw_map_dump(f->k.sources_fd, sizeof(*keys), sizeof(*vals), (void **)&keys, (void **)&vals);
	assert_int_equal(n, MANY);
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < n; i++) {
		__u32 idx = ntohl(keys[i].addr[0]) & 0xffffff;

		assert_int_equal(ntohl(keys[i].addr[0]) >> 24, 0x0a);
		assert_int_equal(keys[i].family, SW_AF_INET);
		assert_true(idx < MANY);
		assert_false(seen[idx]);
		seen[idx] = true;
		assert_int_equal(vals[i].syn, idx);
		assert_int_equal(vals[i].packets, 3ull * idx + 1);
		assert_int_equal(vals[i].sessions_open, idx);
	}
	free(keys);
	free(vals);
	assert_int_equal(sw_map_count(f->k.sources_fd, sizeof(struct sw_src_key)), MANY);

	/* The LRU map of sessions, as the GC walks it. */
	n = sw_map_dump(f->k.sessions_fd, sizeof(*skeys), sizeof(*svals), (void **)&skeys, (void **)&svals);
	assert_int_equal(n, MANY);
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < n; i++) {
		__u32 idx = ntohl(skeys[i].saddr[0]) & 0xffffff;

		assert_true(idx < MANY);
		assert_false(seen[idx]);
		seen[idx] = true;
		assert_int_equal(ntohs(skeys[i].sport), idx);
		assert_int_equal(svals[i].start_ns, idx);
		assert_int_equal(svals[i].bytes, 7ull * idx);
	}
	free(skeys);
	free(svals);
}

/*
 * LPM tries: batched on kernels whose tries have the generic batch ops
 * (6.18 has them), walked key by key on older ones; the result must be the
 * same either way.
 */
static void test_map_dump_lpm(void **state)
{
	struct fx *f = *state;
	struct sw_lpm_v4 *keys;
	struct sw_list_entry *vals;
	struct sw_list_item *items;
	static bool seen[MANY];
	long n;
	int i;

	/* More than the initial 4096 slots, so the arrays must grow on either path. */
	for (i = 0; i < MANY; i++) {
		struct sw_lpm_v4 k = { .prefixlen = 32, .addr = htonl(0x0c000000 | i) };
		struct sw_list_entry v = { .expires_ns = i, .prefixlen = 32, .origin = 1 + i % 2 };

		assert_int_equal(bpf_map_update_elem(f->k.deny_v4_fd, &k, &v, BPF_NOEXIST), 0);
	}
	/* Nested prefixes too: the trie's walk visits inner nodes. */
	put(f, DENY, "12.0.0.0/8", 0, SW_ORIGIN_CONFIG);
	put(f, DENY, "12.0.16.0/20", 0, SW_ORIGIN_CONFIG);

	n = sw_map_dump(f->k.deny_v4_fd, sizeof(*keys), sizeof(*vals), (void **)&keys, (void **)&vals);
	assert_int_equal(n, MANY + 2);
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < n; i++) {
		__u32 idx = ntohl(keys[i].addr) & 0xffffff;

		assert_int_equal(vals[i].prefixlen, keys[i].prefixlen);
		if (keys[i].prefixlen != 32)
			continue;
		assert_true(idx < MANY);
		assert_false(seen[idx]);
		seen[idx] = true;
		assert_int_equal(vals[i].expires_ns, idx);
		assert_int_equal(vals[i].origin, 1 + idx % 2);
	}
	free(keys);
	free(vals);

	n = sw_list_dump(&f->k, DENY, &items);
	assert_int_equal(n, MANY + 2);
	for (i = 0; i < n; i++)
		assert_int_equal(items[i].cidr.family, SW_AF_INET);
	assert_entry(&find_item(items, n, "12.0.16.0/20")->entry, 20, 0, SW_ORIGIN_CONFIG);
	assert_entry(&find_item(items, n, "12.0.19.135")->entry, 32, MANY - 1, 1 + (MANY - 1) % 2);
	free(items);
}

static void test_map_dump_lpm_v6_many(void **state)
{
	struct fx *f = *state;
	struct sw_lpm_v6 *keys;
	struct sw_list_entry *vals;
	static bool seen[MANY];
	long n;
	int i;

	/*
	 * IPv6 keys are 20 bytes: a dump that resumes from a saved position
	 * must carry the whole key over, not a part of it.
	 */
	for (i = 0; i < MANY; i++) {
		struct sw_lpm_v6 k = { .prefixlen = 128,
				       .addr = { htonl(0x20010db8), 0, htonl(0xbad), htonl(i) } };
		struct sw_list_entry v = { .expires_ns = i, .prefixlen = 128, .origin = SW_ORIGIN_STORE };

		assert_int_equal(bpf_map_update_elem(f->k.deny_v6_fd, &k, &v, BPF_NOEXIST), 0);
	}
	n = sw_map_dump(f->k.deny_v6_fd, sizeof(*keys), sizeof(*vals), (void **)&keys, (void **)&vals);
	assert_int_equal(n, MANY);
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < n; i++) {
		__u32 idx = ntohl(keys[i].addr[3]);

		assert_int_equal(keys[i].prefixlen, 128);
		assert_int_equal(ntohl(keys[i].addr[2]), 0xbad);
		assert_true(idx < MANY);
		assert_false(seen[idx]);
		seen[idx] = true;
		assert_int_equal(vals[i].expires_ns, idx);
	}
	free(keys);
	free(vals);
}

/*
 * The key-by-key walk, on a map type without batch lookups on any kernel
 * (a device hash map of the loopback device): what LPM tries get on older
 * kernels.
 */
static void test_map_dump_without_batch_support(void **state)
{
	struct bpf_devmap_val v = { .ifindex = 1 }, *vals;
	__u32 *keys, count = 1;
	static bool seen[MANY];
	int fd, i;
	long n;

	(void)state;
	fd = bpf_map_create(BPF_MAP_TYPE_DEVMAP_HASH, "sw_test_nobatch", sizeof(__u32), sizeof(v), 2 * MANY,
			    NULL);
	assert_true(fd >= 0);
	/* An empty one first, then more entries than the walk's first allocation. */
	n = sw_map_dump(fd, sizeof(*keys), sizeof(*vals), (void **)&keys, (void **)&vals);
	assert_int_equal(n, 0);
	free(keys);
	free(vals);
	for (i = 0; i < MANY; i++) {
		__u32 k = 3 * i + 1;

		assert_int_equal(bpf_map_update_elem(fd, &k, &v, BPF_NOEXIST), 0);
	}
	/* The premise: this map type really has no batch lookup. */
	assert_int_not_equal(bpf_map_lookup_batch(fd, NULL, &(__u64){ 0 }, &(__u32){ 0 },
						  &(struct bpf_devmap_val){ 0 }, &count, NULL), 0);
	assert_int_not_equal(errno, ENOENT);

	n = sw_map_dump(fd, sizeof(*keys), sizeof(*vals), (void **)&keys, (void **)&vals);
	assert_int_equal(n, MANY);
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < n; i++) {
		assert_int_equal(keys[i] % 3, 1);
		assert_true(keys[i] / 3 < MANY);
		assert_false(seen[keys[i] / 3]);
		seen[keys[i] / 3] = true;
		assert_int_equal(vals[i].ifindex, 1);
	}
	free(keys);
	free(vals);
	assert_int_equal(sw_map_count(fd, sizeof(__u32)), MANY);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		KL_TEST(test_list_ops_v4),
		KL_TEST(test_list_ops_v6),
		KL_TEST(test_list_put_reaches_program),
		KL_TEST(test_sync),
		KL_TEST(test_sync_empty),
		KL_TEST(test_sync_marks_entries_finer_than_a_source),
		cmocka_unit_test(test_wall_mono),
		KL_TEST(test_past_expiry_is_due_for_program),
		KL_TEST(test_map_dump_empty),
		KL_TEST(test_map_dump_hash_batched),
		KL_TEST(test_map_dump_lpm),
		KL_TEST(test_map_dump_lpm_v6_many),
		cmocka_unit_test(test_map_dump_without_batch_support),
	};

	return cmocka_run_group_tests_name("kernel lists, sync, clocks, map dump", tests, NULL, NULL);
}
