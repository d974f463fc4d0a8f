// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of user/geo/geo.c's database side: country codes, and
 * sw_geo_build + sw_geo_lookup4/6 on databases written by our own writer
 * (tests/lib/mmdb_writer.h) into a temporary directory: every schema,
 * IPv4 and IPv6 trees with and without IPv4 aliasing, trie levels and shared chunks, folded
 * IPv6 prefixes, records without a country, damaged files, and a
 * cross-check against libmaxminddb's own lookups on a random database.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "geo.h"
#include "mmdb_writer.h"

static char tmpdir[] = "/tmp/smtpwall-test-geo.XXXXXX";

static void path_of(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", tmpdir, name);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- fixtures -------------------------------------------------------------- */

struct fx {
	const char *cidr;
	const char *cc;		/* NULL: no country */
	enum mmdbw_schema schema;
};

struct db_opts {
	unsigned ip_version, record_size;
	bool alias;
	const char *type;
	uint64_t epoch;
};

/* Write @n fixtures to tmpdir/@name; @nodes (optional) gets the tree's node count. */
static void write_db(const char *name, const struct db_opts *o, const struct fx *f, size_t n,
		     char *path, size_t len, uint64_t *nodes)
{
	struct mmdbw *w = mmdbw_new(o->ip_version, o->record_size);
	struct mmdbw_stats st;

	assert_non_null(w);
	for (size_t i = 0; i < n; i++)
		if (mmdbw_add(w, f[i].cidr, f[i].cc, f[i].schema)) {
			print_error("fixture %s: %s\n", f[i].cidr, mmdbw_error(w));
			fail();
		}
	if (o->alias)
		mmdbw_alias_ipv4(w);
	if (o->type)
		mmdbw_set_type(w, o->type);
	if (o->epoch)
		mmdbw_set_epoch(w, o->epoch);
	path_of(path, len, name);
	assert_int_equal(mmdbw_stats(w, &st), 0);
	if (nodes)
		*nodes = st.nodes;
	assert_int_equal(mmdbw_write(w, path), 0);
	mmdbw_free(w);
}

static void must_build(const char *path, struct sw_geo_table *t)
{
	char err[512] = "";

	if (sw_geo_build(path, t, err, sizeof(err))) {
		print_error("sw_geo_build(%s): %s\n", path, err);
		fail();
	}
}

/*
 * @want: NULL = not in the database; "--" = in it, without a country;
 * else the country. @plen: the record's prefix length.
 */
static void check_result(const char *what, const struct sw_geo_result *r, const char *want,
			 unsigned plen)
{
	unsigned id;
	char got[3];

	sw_country_code(r->country, got);
	if (!want) {
		if (r->found || r->country != SW_COUNTRY_UNKNOWN || r->prefixlen) {
			print_error("%s: expected not found, got %s/%u found=%d\n", what, got,
				    r->prefixlen, r->found);
			fail();
		}
		return;
	}
	id = strcmp(want, "--") ? (unsigned)sw_country_id(want) : SW_COUNTRY_UNKNOWN;
	if (!r->found || r->country != id || r->prefixlen != plen) {
		print_error("%s: expected %s/%u, got %s/%u found=%d\n", what, want, plen, got,
			    r->prefixlen, r->found);
		fail();
	}
}

static void expect4(const struct sw_geo_table *t, const char *addr, const char *want, unsigned plen)
{
	struct sw_geo_result r;
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, addr, &a), 1);
	sw_geo_lookup4(t->v4, t->v4_chunks, a.s_addr, &r);
	check_result(addr, &r, want, plen);
}

static void expect6(const struct sw_geo_table *t, const char *addr, const char *want, unsigned plen,
		    bool folded)
{
	struct sw_geo_result r;
	uint8_t a[16];

	assert_int_equal(inet_pton(AF_INET6, addr, a), 1);
	sw_geo_lookup6(t->v6, t->v6_chunks, a, &r);
	check_result(addr, &r, want, plen);
	if (r.folded != folded) {
		print_error("%s: folded %d, expected %d\n", addr, r.folded, folded);
		fail();
	}
}

/* ---- country codes ----------------------------------------------------------- */

static void test_country_codes(void **state)
{
	static const char *const bad[] = { "", "J", "JPN", "J1", "1P", "J ", " J", "\xc3\x84X", "-",
					   "--" };
	char out[3];

	assert_int_equal(sw_country_id("AA"), SW_COUNTRY_FIRST);
	assert_int_equal(sw_country_id("ZZ"), SW_COUNTRY_LAST);
	assert_int_equal(sw_country_id("JP"), 1 + ('J' - 'A') * 26 + ('P' - 'A'));
	assert_int_equal(sw_country_id("jp"), sw_country_id("JP"));
	assert_int_equal(sw_country_id("jP"), sw_country_id("JP"));
	assert_int_equal(sw_country_id(NULL), -1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sw_country_id(bad[i]) != -1) {
			print_error("\"%s\" accepted\n", bad[i]);
			fail();
		}
	/* Every id round-trips, and every code is two capitals. */
	for (unsigned id = SW_COUNTRY_FIRST; id <= SW_COUNTRY_LAST; id++) {
		sw_country_code(id, out);
		assert_int_equal(strlen(out), 2);
		assert_true(out[0] >= 'A' && out[0] <= 'Z' && out[1] >= 'A' && out[1] <= 'Z');
		assert_int_equal(sw_country_id(out), id);
	}
	sw_country_code(SW_COUNTRY_UNKNOWN, out);
	assert_string_equal(out, "--");
	sw_country_code(SW_COUNTRY_NONE, out);
	assert_string_equal(out, "");
	sw_country_code(SW_COUNTRY_IDS, out);
	assert_string_equal(out, "??");
	sw_country_code(0xffff, out);
	assert_string_equal(out, "??");
}

/* ---- schemas ------------------------------------------------------------------- */

/* GeoIP2 records, and registered_country when there is no country: an IPv4 database. */
static void test_geoip2_ipv4(void **state)
{
	static const struct fx f[] = {
		{ "1.0.0.0/8", "AU", MMDBW_GEOIP2 },
		{ "100.64.0.0/10", "JP", MMDBW_GEOIP2 },
		{ "192.0.2.0/24", "US", MMDBW_GEOIP2_REGISTERED },
		{ "198.51.100.0/23", "DE", MMDBW_GEOIP2 },
		{ "203.0.113.0/25", "FR", MMDBW_GEOIP2 },
		{ "203.0.113.128/26", "NL", MMDBW_GEOIP2_REGISTERED },
		{ "203.0.113.255", "SE", MMDBW_GEOIP2 },
		{ "255.255.255.0/24", "XK", MMDBW_GEOIP2 },
	};
	struct db_opts o = { .ip_version = 4, .record_size = 24, .type = "smtpwall-Unit-Country",
			     .epoch = 1234567890 };
	struct sw_geo_table t;
	struct sw_geo_result r;
	uint8_t a6[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	char path[256];
	uint64_t nodes;

	write_db("geoip2-v4.mmdb", &o, f, sizeof(f) / sizeof(f[0]), path, sizeof(path), &nodes);
	must_build(path, &t);
	assert_int_equal(t.ip_version, 4);
	assert_int_equal(t.record_size, 24);
	assert_int_equal(t.node_count, nodes);
	assert_int_equal(t.build_epoch, 1234567890);
	assert_string_equal(t.db_type, "smtpwall-Unit-Country");
	assert_int_equal(t.schemas, SW_GEO_SCHEMA_GEOIP2);
	assert_int_equal(t.v4_prefixes, 8);
	assert_int_equal(t.v6_prefixes, 0);
	assert_int_equal(t.no_country, 0);
	assert_int_equal(t.folded, 0);
	assert_null(t.v6);
	assert_int_equal(t.v6_chunks, 0);
	/*
	 * Records of /16 or shorter are root entries; 192.0.2/24, 198.51.100/23
	 * and 255.255.255/24 each need a /24-level chunk, 203.0.113/24 one
	 * more for its /25, /26 and /32.
	 */
	assert_int_equal(t.v4_chunks, SW_GEO_ROOT_CHUNKS + 5);
	assert_int_equal(t.shared, 0);

	expect4(&t, "1.0.0.0", "AU", 8);
	expect4(&t, "1.255.255.255", "AU", 8);
	expect4(&t, "0.255.255.255", NULL, 0);
	expect4(&t, "2.0.0.0", NULL, 0);
	expect4(&t, "100.64.0.1", "JP", 10);
	expect4(&t, "100.127.255.255", "JP", 10);
	expect4(&t, "100.63.255.255", NULL, 0);
	expect4(&t, "100.128.0.0", NULL, 0);
	expect4(&t, "192.0.2.77", "US", 24);	/* registered_country only */
	expect4(&t, "198.51.100.0", "DE", 23);
	expect4(&t, "198.51.101.255", "DE", 23);
	expect4(&t, "198.51.102.0", NULL, 0);
	expect4(&t, "203.0.113.0", "FR", 25);
	expect4(&t, "203.0.113.127", "FR", 25);
	expect4(&t, "203.0.113.128", "NL", 26);
	expect4(&t, "203.0.113.191", "NL", 26);
	expect4(&t, "203.0.113.192", NULL, 0);
	expect4(&t, "203.0.113.254", NULL, 0);
	expect4(&t, "203.0.113.255", "SE", 32);
	expect4(&t, "203.0.112.255", NULL, 0);
	expect4(&t, "255.255.255.255", "XK", 24);
	expect4(&t, "0.0.0.0", NULL, 0);
	/* No IPv6 table: IPv6 lookups find nothing rather than reading out of bounds. */
	sw_geo_lookup6(t.v6, t.v6_chunks, a6, &r);
	assert_false(r.found);
	sw_geo_table_free(&t);
	assert_null(t.v4);
	assert_int_equal(t.v4_chunks, 0);
}

/* The flat schema (DB-IP Lite, ip-location-db) in an IPv6 database, 28-bit records. */
static void test_flat_ipv6(void **state)
{
	static const struct fx f[] = {
		{ "10.0.0.0/8", "JP", MMDBW_FLAT },
		{ "2001:db8::/32", "NL", MMDBW_FLAT },
		{ "2400::/12", "JP", MMDBW_FLAT },
		{ "3000::/4", "SE", MMDBW_FLAT },
		{ "2c0f:f000::/20", "ZA", MMDBW_FLAT },
		{ "2600:1::/48", "US", MMDBW_FLAT },
		{ "2a00:1450:4001:800::/56", "IE", MMDBW_FLAT },
		{ "2a02:598:2::/64", "CZ", MMDBW_FLAT },
		{ "2a03::/17", "GB", MMDBW_FLAT },
	};
	struct db_opts o = { .ip_version = 6, .record_size = 28 };
	struct sw_geo_table t;
	char path[256];

	write_db("flat-v6.mmdb", &o, f, sizeof(f) / sizeof(f[0]), path, sizeof(path), NULL);
	must_build(path, &t);
	assert_int_equal(t.ip_version, 6);
	assert_int_equal(t.record_size, 28);
	assert_int_equal(t.schemas, SW_GEO_SCHEMA_FLAT);
	assert_int_equal(t.v4_prefixes, 1);
	assert_int_equal(t.v6_prefixes, 8);
	assert_int_equal(t.no_country, 0);
	assert_int_equal(t.folded, 0);
	assert_non_null(t.v6);
	assert_true(t.v6_chunks > SW_GEO_ROOT_CHUNKS);
	assert_int_equal(t.v4_chunks, SW_GEO_ROOT_CHUNKS);	/* 10/8: root entries only */
	assert_string_equal(t.db_type, "smtpwall-Test-Country");	/* the writer's default */
	assert_int_equal(t.build_epoch, 1700000000);

	expect4(&t, "10.20.30.40", "JP", 8);
	expect4(&t, "11.0.0.0", NULL, 0);
	expect6(&t, "2001:db8::", "NL", 32, false);
	expect6(&t, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "NL", 32, false);
	expect6(&t, "2001:db9::", NULL, 0, false);
	expect6(&t, "2400::1", "JP", 12, false);
	expect6(&t, "240f:ffff::", "JP", 12, false);
	expect6(&t, "2410::", NULL, 0, false);
	expect6(&t, "3000::", "SE", 4, false);
	expect6(&t, "3fff:ffff::1", "SE", 4, false);
	expect6(&t, "4000::", NULL, 0, false);
	expect6(&t, "2c0f:f000::1", "ZA", 20, false);
	expect6(&t, "2c0f:ffff:ffff::", "ZA", 20, false);
	expect6(&t, "2c0f:efff::", NULL, 0, false);
	expect6(&t, "2600:1::abcd", "US", 48, false);
	expect6(&t, "2600:1:0:ffff::", "US", 48, false);
	expect6(&t, "2600:1:1::", NULL, 0, false);
	expect6(&t, "2a00:1450:4001:8ff::1", "IE", 56, false);
	expect6(&t, "2a00:1450:4001:900::", NULL, 0, false);
	expect6(&t, "2a02:598:2::ffff", "CZ", 64, false);
	expect6(&t, "2a02:598:2:1::", NULL, 0, false);
	expect6(&t, "2a03::", "GB", 17, false);
	expect6(&t, "2a03:7fff::", "GB", 17, false);
	expect6(&t, "2a03:8000::", NULL, 0, false);
	/* IPv4 space is classified through the IPv4 table only. */
	expect6(&t, "::10.20.30.40", NULL, 0, false);
	sw_geo_table_free(&t);
}

/* Records of every schema in one database; odd codes count as no country. */
static void test_mixed_schemas(void **state)
{
	static const struct fx f[] = {
		{ "10.0.0.0/8", "JP", MMDBW_GEOIP2 },
		{ "11.0.0.0/8", "US", MMDBW_GEOIP2_REGISTERED },
		{ "12.0.0.0/8", "DE", MMDBW_FLAT },
		{ "13.0.0.0/8", "fr", MMDBW_FLAT },	/* lower case is still France */
		{ "14.0.0.0/8", "XYZ", MMDBW_FLAT },	/* not a two-letter code */
		{ "15.0.0.0/8", "J1", MMDBW_GEOIP2 },
		{ "2001:db8::/32", "NL", MMDBW_GEOIP2 },
		{ "2001:db9::/32", "BE", MMDBW_FLAT },
	};
	struct db_opts o = { .ip_version = 6, .record_size = 32 };
	struct sw_geo_table t;
	char path[256];

	write_db("mixed.mmdb", &o, f, sizeof(f) / sizeof(f[0]), path, sizeof(path), NULL);
	must_build(path, &t);
	assert_int_equal(t.record_size, 32);
	assert_int_equal(t.schemas, SW_GEO_SCHEMA_GEOIP2 | SW_GEO_SCHEMA_FLAT);
	assert_int_equal(t.v4_prefixes, 6);
	assert_int_equal(t.v6_prefixes, 2);
	assert_int_equal(t.no_country, 2);
	expect4(&t, "10.1.2.3", "JP", 8);
	expect4(&t, "11.1.2.3", "US", 8);
	expect4(&t, "12.1.2.3", "DE", 8);
	expect4(&t, "13.1.2.3", "FR", 8);
	expect4(&t, "14.1.2.3", "--", 8);
	expect4(&t, "15.1.2.3", "--", 8);
	expect6(&t, "2001:db8::1", "NL", 32, false);
	expect6(&t, "2001:db9::1", "BE", 32, false);
	sw_geo_table_free(&t);
}

/* The same prefixes in 24-, 28- and 32-bit records, IPv4 and IPv6 trees: the same tables. */
static void test_record_sizes(void **state)
{
	static const struct fx f[] = {
		{ "1.0.0.0/8", "AU", MMDBW_GEOIP2 },   { "192.0.2.0/26", "US", MMDBW_FLAT },
		{ "192.0.2.64/32", "CA", MMDBW_FLAT }, { "198.51.100.0/24", NULL, MMDBW_GEOIP2 },
	};
	static const unsigned sizes[] = { 24, 28, 32 };
	struct sw_geo_table first = { 0 }, t;
	char path[256], name[32];

	for (unsigned v = 4; v <= 6; v += 2)
		for (int i = 0; i < 3; i++) {
			struct db_opts o = { .ip_version = v, .record_size = sizes[i],
					     .alias = v == 6 };

			snprintf(name, sizeof(name), "rs%u-v%u.mmdb", sizes[i], v);
			write_db(name, &o, f, sizeof(f) / sizeof(f[0]), path, sizeof(path), NULL);
			must_build(path, &t);
			assert_int_equal(t.record_size, sizes[i]);
			assert_int_equal(t.ip_version, v);
			assert_int_equal(t.v4_prefixes, 4);
			assert_int_equal(t.no_country, 1);
			expect4(&t, "1.2.3.4", "AU", 8);
			expect4(&t, "192.0.2.63", "US", 26);
			expect4(&t, "192.0.2.64", "CA", 32);
			expect4(&t, "192.0.2.65", NULL, 0);
			expect4(&t, "198.51.100.99", "--", 24);
			if (!first.v4) {
				first = t;
				continue;
			}
			assert_int_equal(t.v4_chunks, first.v4_chunks);
			assert_memory_equal(t.v4, first.v4,
					    (size_t)t.v4_chunks * SW_GEO_CHUNK * sizeof(*t.v4));
			sw_geo_table_free(&t);
		}
	sw_geo_table_free(&first);
}

/* ---- IPv4 in IPv6 trees, trie levels, folding ------------------------------------ */

/*
 * MaxMind's aliases make one IPv4 record reachable under ::/96,
 * ::ffff:0:0/96, 2001::/32 and 2002::/16: it must be loaded once, into
 * the IPv4 table, which must be exactly that of the same database without
 * aliases. (How 6to4 and Teredo addresses are classified is geo.c's
 * choice, not asserted here.)
 */
static void test_ipv6_alias(void **state)
{
	static const struct fx f[] = {
		{ "10.0.0.0/8", "JP", MMDBW_GEOIP2 },	   { "192.0.2.0/24", "US", MMDBW_GEOIP2 },
		{ "198.51.100.16/28", "DE", MMDBW_GEOIP2 }, { "203.0.113.7", "FR", MMDBW_GEOIP2 },
		{ "0.0.0.0/8", "SE", MMDBW_GEOIP2 },	   { "2001:db8::/32", "NL", MMDBW_GEOIP2 },
		{ "2a00::/16", "GB", MMDBW_GEOIP2 },	   { "2600:1::/48", "US", MMDBW_GEOIP2 },
	};
	static const char *const via_alias[] = { "::ffff:10.1.2.3", "2002:a01:203::1",
						 "2001:0:a01:203::", "::10.1.2.3" };
	struct db_opts o = { .ip_version = 6, .record_size = 24, .alias = true };
	struct sw_geo_table t, plain;
	char path[256], path2[256];
	MMDB_s db;
	int gai, mmdb_err;

	write_db("alias.mmdb", &o, f, sizeof(f) / sizeof(f[0]), path, sizeof(path), NULL);
	o.alias = false;
	write_db("noalias.mmdb", &o, f, sizeof(f) / sizeof(f[0]), path2, sizeof(path2), NULL);

	/* The aliases are really in the file: libmaxminddb finds 10/8 through each. */
	assert_int_equal(MMDB_open(path, MMDB_MODE_MMAP, &db), MMDB_SUCCESS);
	for (size_t i = 0; i < sizeof(via_alias) / sizeof(via_alias[0]); i++) {
		MMDB_lookup_result_s res = MMDB_lookup_string(&db, via_alias[i], &gai, &mmdb_err);
		MMDB_entry_data_s d;

		assert_int_equal(gai, 0);
		assert_int_equal(mmdb_err, MMDB_SUCCESS);
		if (!res.found_entry) {
			print_error("%s: not found through the alias\n", via_alias[i]);
			fail();
		}
		assert_int_equal(MMDB_get_value(&res.entry, &d, "country", "iso_code", NULL),
				 MMDB_SUCCESS);
		assert_true(d.has_data && d.data_size == 2 && !memcmp(d.utf8_string, "JP", 2));
	}
	MMDB_close(&db);

	must_build(path, &t);
	assert_int_equal(t.v4_prefixes, 5);	/* each IPv4 record once, not four times */
	assert_int_equal(t.v6_prefixes, 3);
	expect4(&t, "10.1.2.3", "JP", 8);
	expect4(&t, "0.1.2.3", "SE", 8);
	expect4(&t, "192.0.2.1", "US", 24);
	expect4(&t, "198.51.100.31", "DE", 28);
	expect4(&t, "198.51.100.32", NULL, 0);
	expect4(&t, "203.0.113.7", "FR", 32);
	expect4(&t, "203.0.113.6", NULL, 0);
	expect6(&t, "2001:db8:1::", "NL", 32, false);
	expect6(&t, "2a00:ffff::", "GB", 16, false);
	expect6(&t, "2600:1::1", "US", 48, false);
	/* IPv4 records are classified through the IPv4 table, never as IPv6 ::/96 space. */
	expect6(&t, "::10.1.2.3", NULL, 0, false);

	/* The IPv4 table is exactly the one of the same data without aliases. */
	must_build(path2, &plain);
	assert_int_equal(plain.v4_prefixes, 5);
	assert_int_equal(plain.v6_prefixes, 3);
	assert_int_equal(t.v4_chunks, plain.v4_chunks);
	assert_memory_equal(t.v4, plain.v4, (size_t)t.v4_chunks * SW_GEO_CHUNK * sizeof(*t.v4));
	assert_true(t.node_count > plain.node_count);	/* the alias paths are extra nodes */
	expect6(&plain, "2001:db8:1::", "NL", 32, false);
	expect6(&plain, "2a00:ffff::", "GB", 16, false);
	expect6(&plain, "2600:1::1", "US", 48, false);
	sw_geo_table_free(&t);
	sw_geo_table_free(&plain);
}

/*
 * The IPv4 trie's levels: /16 and shorter in the root, /17-/24 one level
 * down, /25-/32 two; /24s split the same way share one chunk.
 */
static void test_ipv4_levels(void **state)
{
	static const struct fx f[] = {
		{ "192.0.2.0/25", "FR", MMDBW_FLAT },
		{ "192.0.2.128/25", "FR", MMDBW_FLAT },
		{ "198.51.100.0/25", "FR", MMDBW_FLAT },
		{ "198.51.100.128/25", "FR", MMDBW_FLAT },
		{ "203.0.113.0/26", "DE", MMDBW_FLAT },
		{ "203.0.113.64/27", "DE", MMDBW_FLAT },
		{ "10.0.0.0/31", "JP", MMDBW_FLAT },
		{ "10.0.0.2/32", "US", MMDBW_FLAT },
		{ "10.0.0.255/32", "KR", MMDBW_FLAT },
		{ "10.0.1.0/24", "CN", MMDBW_FLAT },
		{ "172.16.0.0/12", "BR", MMDBW_FLAT },
	};
	struct db_opts o = { .ip_version = 4, .record_size = 28 };
	struct sw_geo_table t;
	char path[256];
	uint32_t r1, r2, r3, r4, e1, e2, e3;

	write_db("levels.mmdb", &o, f, sizeof(f) / sizeof(f[0]), path, sizeof(path), NULL);
	must_build(path, &t);
	assert_int_equal(t.v4_prefixes, 11);
	/*
	 * /24-level chunks for 192.0.2, 198.51.100, 203.0.113 and 10.0.0-1;
	 * /32-level ones for 192.0.2/24 and 198.51.100/24 (identical: stored
	 * once), 203.0.113/24 and 10.0.0/24. 172.16/12 is root entries.
	 */
	assert_int_equal(t.v4_chunks, SW_GEO_ROOT_CHUNKS + 7);
	assert_int_equal(t.shared, 1);
	r1 = t.v4[192 << 8 | 0];
	r2 = t.v4[198 << 8 | 51];
	r3 = t.v4[203 << 8 | 0];
	r4 = t.v4[10 << 8 | 0];
	assert_true(r1 & r2 & r3 & r4 & SW_GEO_PTR);
	e1 = t.v4[(size_t)(r1 & ~SW_GEO_PTR) * SW_GEO_CHUNK + 2];
	e2 = t.v4[(size_t)(r2 & ~SW_GEO_PTR) * SW_GEO_CHUNK + 100];
	e3 = t.v4[(size_t)(r3 & ~SW_GEO_PTR) * SW_GEO_CHUNK + 113];
	assert_true(e1 & SW_GEO_PTR);
	assert_int_equal(e1, e2);
	assert_true(e3 & SW_GEO_PTR);
	assert_int_not_equal(e1, e3);
	/* A whole /24 is a leaf one level down; a /12 a run of root leaves. */
	assert_false(t.v4[(size_t)(r4 & ~SW_GEO_PTR) * SW_GEO_CHUNK + 1] & SW_GEO_PTR);
	assert_false(t.v4[172 << 8 | 16] & SW_GEO_PTR);
	assert_false(t.v4[172 << 8 | 31] & SW_GEO_PTR);

	expect4(&t, "192.0.2.0", "FR", 25);
	expect4(&t, "192.0.2.200", "FR", 25);
	expect4(&t, "198.51.100.127", "FR", 25);
	expect4(&t, "203.0.113.63", "DE", 26);
	expect4(&t, "203.0.113.64", "DE", 27);
	expect4(&t, "203.0.113.95", "DE", 27);
	expect4(&t, "203.0.113.96", NULL, 0);
	expect4(&t, "10.0.0.0", "JP", 31);
	expect4(&t, "10.0.0.1", "JP", 31);
	expect4(&t, "10.0.0.2", "US", 32);
	expect4(&t, "10.0.0.3", NULL, 0);
	expect4(&t, "10.0.0.254", NULL, 0);
	expect4(&t, "10.0.0.255", "KR", 32);
	expect4(&t, "10.0.1.77", "CN", 24);
	expect4(&t, "10.0.2.0", NULL, 0);
	expect4(&t, "172.31.255.255", "BR", 12);
	sw_geo_table_free(&t);
}

/*
 * Tens of thousands of distinct split /24s: the trie has no fixed group
 * budget, so every one keeps its exact countries.
 */
static void test_many_split_24s(void **state)
{
	const unsigned n = 37768;
	struct mmdbw *w = mmdbw_new(4, 0);
	struct sw_geo_table t;
	char path[256];

	assert_non_null(w);
	for (unsigned i = 0; i < n; i++) {
		/*
		 * /24 number i: a /25 of country a, then a /25 of b (or, in one
		 * in four, a /26 of b and a gap); (a, b) differs for every i.
		 */
		uint8_t a[4] = { 10 + (i >> 16), i >> 8, i, 0 };
		char ca[3] = { 'A' + i % 26, 'A' + i / 26 % 26, 0 };
		char cb[3] = { 'A' + i / 676 % 26, 'A' + i / 17576, 0 };

		assert_int_equal(mmdbw_add_bin(w, 4, a, 25, ca, MMDBW_FLAT), 0);
		a[3] = 128;
		assert_int_equal(mmdbw_add_bin(w, 4, a, i % 4 ? 25 : 26, cb, MMDBW_FLAT), 0);
	}
	path_of(path, sizeof(path), "groups.mmdb");
	assert_int_equal(mmdbw_write(w, path), 0);
	mmdbw_free(w);
	must_build(path, &t);
	assert_int_equal(t.v4_prefixes, 2 * n);
	/* One /32-level chunk per /24, one /24-level chunk per /16 touched. */
	assert_int_equal(t.v4_chunks, SW_GEO_ROOT_CHUNKS + n + (n + 255) / 256);
	for (unsigned i = 0; i < n; i += 97) {
		char ca[3] = { 'A' + i % 26, 'A' + i / 26 % 26, 0 };
		char cb[3] = { 'A' + i / 676 % 26, 'A' + i / 17576, 0 };
		char lo[32], hi[32];

		snprintf(lo, sizeof(lo), "%u.%u.%u.1", 10 + (i >> 16), (i >> 8) & 0xff, i & 0xff);
		snprintf(hi, sizeof(hi), "%u.%u.%u.129", 10 + (i >> 16), (i >> 8) & 0xff, i & 0xff);
		expect4(&t, lo, ca, 25);
		expect4(&t, hi, cb, i % 4 ? 25 : 26);
	}
	sw_geo_table_free(&t);
}

/* IPv6 prefixes longer than /64: their /64 is classified by its first record. */
static void test_ipv6_fold(void **state)
{
	static const struct fx f[] = {
		{ "2001:db8:0:1::/80", "JP", MMDBW_GEOIP2 },
		{ "2001:db8:0:1:8000::/96", "US", MMDBW_GEOIP2 },
		{ "2001:db8:0:1:ffff::1", "DE", MMDBW_GEOIP2 },
		{ "2001:db8:0:2::1234/128", "FR", MMDBW_GEOIP2 },
		{ "2001:db8:0:3::/64", "NL", MMDBW_GEOIP2 },
		{ "2001:db8:1::/48", "SE", MMDBW_GEOIP2 },
		{ "2001:db8:0:4:1::/80", NULL, MMDBW_GEOIP2 },
	};
	struct db_opts o = { .ip_version = 6, .record_size = 24, .alias = true };
	struct sw_geo_table t;
	char path[256];

	write_db("fold.mmdb", &o, f, sizeof(f) / sizeof(f[0]), path, sizeof(path), NULL);
	must_build(path, &t);
	assert_int_equal(t.v6_prefixes, 7);
	assert_int_equal(t.v4_prefixes, 0);
	assert_int_equal(t.folded, 3);
	assert_int_equal(t.no_country, 1);
	expect6(&t, "2001:db8:0:1::", "JP", 64, true);
	expect6(&t, "2001:db8:0:1:8000::1", "JP", 64, true);	/* US's, classified by the first */
	expect6(&t, "2001:db8:0:1:ffff::1", "JP", 64, true);
	expect6(&t, "2001:db8:0:1:1234::", "JP", 64, true);	/* a gap in the /64 */
	expect6(&t, "2001:db8:0:2::", "FR", 64, true);
	expect6(&t, "2001:db8:0:2:ffff:ffff:ffff:ffff", "FR", 64, true);
	expect6(&t, "2001:db8:0:3::5", "NL", 64, false);
	expect6(&t, "2001:db8:0:4::", "--", 64, true);
	expect6(&t, "2001:db8:0:5::", NULL, 0, false);
	expect6(&t, "2001:db8:0:0:ffff::", NULL, 0, false);
	expect6(&t, "2001:db8:1:ffff::", "SE", 48, false);
	sw_geo_table_free(&t);
}

/* Records that name no country are found, as SW_COUNTRY_UNKNOWN; other addresses are not found. */
static void test_no_country(void **state)
{
	static const struct fx f[] = {
		{ "10.0.0.0/8", NULL, MMDBW_GEOIP2 },
		{ "192.0.2.0/24", "JP", MMDBW_NO_COUNTRY },	/* the country is ignored */
		{ "192.0.3.0/25", NULL, MMDBW_FLAT },
		{ "198.51.100.0/24", "JP", MMDBW_GEOIP2 },
		{ "2001:db8::/32", NULL, MMDBW_FLAT },
		{ "2001:db9::/48", "US", MMDBW_GEOIP2 },
	};
	struct db_opts o = { .ip_version = 6, .record_size = 28, .alias = true };
	struct sw_geo_table t;
	char path[256];

	write_db("nocountry.mmdb", &o, f, sizeof(f) / sizeof(f[0]), path, sizeof(path), NULL);
	must_build(path, &t);
	assert_int_equal(t.no_country, 4);
	assert_int_equal(t.v4_prefixes, 4);
	assert_int_equal(t.v6_prefixes, 2);
	/* A record without a country says nothing about the schema. */
	assert_int_equal(t.schemas, SW_GEO_SCHEMA_GEOIP2);
	expect4(&t, "10.1.1.1", "--", 8);
	expect4(&t, "192.0.2.1", "--", 24);
	expect4(&t, "192.0.3.127", "--", 25);
	expect4(&t, "192.0.3.128", NULL, 0);
	expect4(&t, "198.51.100.1", "JP", 24);
	expect4(&t, "8.8.8.8", NULL, 0);
	expect6(&t, "2001:db8::1", "--", 32, false);
	expect6(&t, "2001:db9::1", "US", 48, false);
	expect6(&t, "2400::1", NULL, 0, false);
	sw_geo_table_free(&t);
}

/* ---- cross-check with libmaxminddb ------------------------------------------------- */

struct gen_prefix {
	uint8_t addr[16];
	uint8_t family, len;
	char cc[3];		/* "" = no country */
};

struct gen_list {
	struct gen_prefix *p;
	size_t n, cap;
	size_t every, seen;	/* keep one in @every */
};

static void collect(void *ctx, int family, const uint8_t *addr, unsigned len, const char *cc)
{
	struct gen_list *l = ctx;
	struct gen_prefix *p;

	if (l->every > 1 && l->seen++ % l->every)
		return;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 4096;
		l->p = realloc(l->p, l->cap * sizeof(*l->p));
		assert_non_null(l->p);
	}
	p = &l->p[l->n++];
	memset(p, 0, sizeof(*p));
	memcpy(p->addr, addr, family == 4 ? 4 : 16);
	p->family = family;
	p->len = len;
	snprintf(p->cc, sizeof(p->cc), "%s", cc ? cc : "");
}

static uint64_t hi64(const uint8_t a[16])
{
	uint64_t h = 0;

	for (int i = 0; i < 8; i++)
		h = h << 8 | a[i];
	return h;
}

/* The country libmaxminddb's entry names, by geo.c's documented precedence. */
static unsigned mmdb_country(MMDB_entry_s *e)
{
	static const char *const paths[3][3] = { { "country", "iso_code", NULL },
						 { "registered_country", "iso_code", NULL },
						 { "country_code", NULL, NULL } };

	for (int i = 0; i < 3; i++) {
		MMDB_entry_data_s d;
		char code[3];

		if (MMDB_aget_value(e, &d, paths[i]) != MMDB_SUCCESS || !d.has_data ||
		    d.type != MMDB_DATA_TYPE_UTF8_STRING || d.data_size != 2)
			continue;
		memcpy(code, d.utf8_string, 2);
		code[2] = 0;
		if (sw_country_id(code) > 0)
			return sw_country_id(code);
	}
	return SW_COUNTRY_UNKNOWN;
}

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A random address inside prefix @p, or its first or last one. */
static void addr_in(const struct gen_prefix *p, uint64_t *s, int which, uint8_t out[16])
{
	unsigned bits = p->family == 4 ? 32 : 128;

	memcpy(out, p->addr, 16);
	for (unsigned i = p->len; i < bits; i++) {
		bool one = which == 1 || (which == 0 && (rnd(s) & 1));

		if (one)
			out[i / 8] |= 0x80 >> (i % 8);
	}
}

struct xcheck {
	const char *name;
	unsigned ip_version, record_size;
	bool alias;
	enum mmdbw_schema schema;
	uint64_t n;
	unsigned v6_share;
	uint64_t seed;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void cross_check(const struct xcheck *x)
{
	struct gen_list l = { 0 };
	struct mmdbw *w = mmdbw_new(x->ip_version, x->record_size);
	struct sw_geo_table t;
	uint64_t *fold_key = NULL, n_fold = 0, s = x->seed * 7919, no_cc = 0, n4 = 0, n6 = 0;
	uint16_t *fold_cc = NULL;
	size_t v4_idx[2] = { SIZE_MAX, 0 }, v6_idx[2] = { SIZE_MAX, 0 };
	unsigned mism = 0, samples[2] = { 0 }, found[2] = { 0 }, folded_hits = 0;
	char path[256], name[64];
	MMDB_s db;

	assert_non_null(w);
	if (mmdbw_add_random(w, x->n, x->v6_share, x->seed, x->schema, collect, &l)) {
		print_error("mmdbw_add_random: %s\n", mmdbw_error(w));
		fail();
	}
	if (x->alias)
		mmdbw_alias_ipv4(w);
	snprintf(name, sizeof(name), "xcheck-%s.mmdb", x->name);
	path_of(path, sizeof(path), name);
	assert_int_equal(mmdbw_write(w, path), 0);
	mmdbw_free(w);
	assert_int_equal(l.n, x->n);

	/* What the generator made: counts, and each folded /64's first (lowest) record. */
	fold_key = calloc(l.n, sizeof(*fold_key));
	fold_cc = calloc(l.n, sizeof(*fold_cc));
	assert_non_null(fold_key);
	assert_non_null(fold_cc);
	for (size_t i = 0; i < l.n; i++) {
		struct gen_prefix *p = &l.p[i];
		size_t *idx = p->family == 4 ? v4_idx : v6_idx;

		no_cc += !p->cc[0];
		*(p->family == 4 ? &n4 : &n6) += 1;
		if (idx[0] == SIZE_MAX)
			idx[0] = i;
		idx[1] = i + 1;
		if (p->family == 6 && p->len > 64 &&
		    (!n_fold || fold_key[n_fold - 1] != hi64(p->addr))) {
			/* In address order, so the first seen of a /64 is its lowest. */
			assert_true(!n_fold || fold_key[n_fold - 1] < hi64(p->addr));
			fold_key[n_fold] = hi64(p->addr);
			fold_cc[n_fold++] = p->cc[0] ? sw_country_id(p->cc) : SW_COUNTRY_UNKNOWN;
		}
	}

	must_build(path, &t);
	assert_int_equal(t.v4_prefixes, n4);
	assert_int_equal(t.v6_prefixes, n6);
	assert_int_equal(t.no_country, no_cc);
	assert_int_equal(t.folded, n_fold);
	assert_int_equal(MMDB_open(path, MMDB_MODE_MMAP, &db), MMDB_SUCCESS);

	/*
	 * 100000 addresses: IPv4 and IPv6 alike, mostly inside generated
	 * prefixes (some at their first and last address), the rest anywhere
	 * (IPv6: in 2000::/3), compared with libmaxminddb's answer.
	 */
	for (int i = 0; i < 100000; i++) {
		bool v6 = n6 && (!n4 || (i & 1));
		size_t *idx = v6 ? v6_idx : v4_idx;
		uint64_t roll = rnd(&s) % 100;
		uint8_t a[16] = { 0 };
		struct sw_geo_result r;
		MMDB_lookup_result_s res;
		int err = 0;
		unsigned want_cc = SW_COUNTRY_UNKNOWN, want_len = 0;
		bool want_found, want_folded = false;

		if (roll < 75) {
			const struct gen_prefix *p = &l.p[idx[0] + rnd(&s) % (idx[1] - idx[0])];

			addr_in(p, &s, roll < 5 ? -1 : roll < 10 ? 1 : 0, a);
		} else if (v6) {
			uint64_t h = rnd(&s), lo = rnd(&s);

			h = (h & ~(7ULL << 61)) | (1ULL << 61);	/* 2000::/3 */
			for (int j = 0; j < 8; j++) {
				a[j] = h >> (56 - 8 * j);
				a[8 + j] = lo >> (56 - 8 * j);
			}
			/* 6to4 and Teredo alias IPv4: geo.c's own business (test_ipv6_alias). */
			if (h >> 48 == 0x2002 || h >> 32 == 0x20010000ULL)
				continue;
		} else {
			uint64_t v = rnd(&s);

			memcpy(a, &v, 4);
		}
		samples[v6]++;
		if (v6) {
			struct sockaddr_in6 sa = { .sin6_family = AF_INET6 };

			memcpy(&sa.sin6_addr, a, 16);
			res = MMDB_lookup_sockaddr(&db, (struct sockaddr *)&sa, &err);
			sw_geo_lookup6(t.v6, t.v6_chunks, a, &r);
		} else {
			struct sockaddr_in sa = { .sin_family = AF_INET };
			uint32_t be;

			memcpy(&sa.sin_addr, a, 4);
			memcpy(&be, a, 4);
			res = MMDB_lookup_sockaddr(&db, (struct sockaddr *)&sa, &err);
			sw_geo_lookup4(t.v4, t.v4_chunks, be, &r);
		}
		assert_int_equal(err, MMDB_SUCCESS);
		want_found = res.found_entry;
		if (want_found) {
			want_cc = mmdb_country(&res.entry);
			want_len = res.netmask - (!v6 && x->ip_version == 6 ? 96 : 0);
		}
		if (v6) {
			uint64_t key = hi64(a);
			uint64_t *hit = NULL;

			if (n_fold)
				hit = bsearch(&key, fold_key, n_fold, sizeof(key), cmp_u64);

			/* A /64 holding longer prefixes: all of it is its first record's. */
			if (hit) {
				want_found = true;
				want_folded = true;
				want_cc = fold_cc[hit - fold_key];
				want_len = 64;
				folded_hits++;
			}
		}
		found[v6] += want_found;
		if (r.found != want_found || r.folded != want_folded ||
		    (want_found && (r.country != want_cc || r.prefixlen != want_len))) {
			char txt[INET6_ADDRSTRLEN], got[3], want[3];

			inet_ntop(v6 ? AF_INET6 : AF_INET, a, txt, sizeof(txt));
			sw_country_code(r.country, got);
			sw_country_code(want_cc, want);
			if (mism++ < 10)
				print_error("%s: %s: geo.c %s/%u found=%d folded=%d, "
					    "libmaxminddb %s/%u found=%d (netmask %u) folded=%d\n",
					    x->name, txt, got, r.prefixlen, r.found, r.folded, want,
					    want_len, want_found, res.netmask, want_folded);
		}
	}
	printf("# cross-check %s: %u IPv4 (%u found), %u IPv6 (%u found, %u in %" PRIu64
	       " folded /64s), %u mismatches\n",
	       x->name, samples[0], found[0], samples[1], found[1], folded_hits, n_fold, mism);
	MMDB_close(&db);
	assert_int_equal(mism, 0);
	/* The comparison must have compared something. */
	if (n4)
		assert_true(found[0] > samples[0] / 2);
	if (n6) {
		assert_true(found[1] > samples[1] / 2);
		assert_true(n_fold > 0 && folded_hits > 0);
	}
	sw_geo_table_free(&t);
	free(fold_key);
	free(fold_cc);
	free(l.p);
}

static void test_cross_check(void **state)
{
	static const struct xcheck x[] = {
		{ "geoip2-v6-alias", 6, 28, true, MMDBW_GEOIP2, 20000, 30, 7 },
		{ "flat-v6", 6, 32, false, MMDBW_FLAT, 20000, 50, 8 },
		{ "registered-v4", 4, 24, false, MMDBW_GEOIP2_REGISTERED, 20000, 0, 9 },
	};

	for (size_t i = 0; i < sizeof(x) / sizeof(x[0]); i++)
		cross_check(&x[i]);
}

/* ---- damaged and missing files ----------------------------------------------------- */

static void assert_zeroed(const struct sw_geo_table *t)
{
	static const struct sw_geo_table zero;

	assert_memory_equal(t, &zero, sizeof(zero));
}

/* sw_geo_build on @path must fail, name the path, say @cause, and leave @t empty. */
static void expect_failure(const char *path, const char *cause)
{
	struct sw_geo_table t;
	char err[512] = "", prefix[300];

	memset(&t, 0xa5, sizeof(t));	/* whatever the caller had in it */
	if (!sw_geo_build(path, &t, err, sizeof(err))) {
		print_error("%s: sw_geo_build succeeded (expected: %s); it counted %" PRIu64
			    " records without a country\n", path, cause, t.no_country);
		sw_geo_table_free(&t);
		fail();
	}
	snprintf(prefix, sizeof(prefix), "%s: ", path);
	if (strncmp(err, prefix, strlen(prefix)) || !strstr(err, cause) ||
	    strlen(err) <= strlen(prefix)) {
		print_error("%s: error \"%s\" should start with the path and say \"%s\"\n", path,
			    err, cause);
		fail();
	}
	assert_zeroed(&t);
	printf("# %s\n", err);
}

static void write_bytes(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void test_missing_and_not_databases(void **state)
{
	char path[256], text[] = "1.2.3.0/24 JP\n";
	uint8_t junk[4096];
	uint64_t s = 99;

	path_of(path, sizeof(path), "does-not-exist.mmdb");
	expect_failure(path, "No such file or directory");
	expect_failure(tmpdir, "not a regular file");
	path_of(path, sizeof(path), "empty.mmdb");
	write_bytes(path, "", 0);
	expect_failure(path, "MaxMind DB file");	/* libmaxminddb's I/O error */
	path_of(path, sizeof(path), "text.mmdb");
	write_bytes(path, text, strlen(text));
	expect_failure(path, "not a MaxMind DB file, or a damaged one");
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = rnd(&s);
	path_of(path, sizeof(path), "junk.mmdb");
	write_bytes(path, junk, sizeof(junk));
	expect_failure(path, "not a MaxMind DB file, or a damaged one");
}

/* A database whose metadata says the tree has no nodes. */
static void test_empty_tree(void **state)
{
	struct mmdbw *w = mmdbw_new(4, 24);
	char path[256], bad[256];
	FILE *f;
	uint8_t *buf;
	long len;
	uint8_t *m;

	assert_non_null(w);
	assert_int_equal(mmdbw_add(w, "10.0.0.0/8", "JP", MMDBW_FLAT), 0);
	path_of(path, sizeof(path), "one.mmdb");
	assert_int_equal(mmdbw_write(w, path), 0);
	mmdbw_free(w);
	/* node_count is a one-byte uint32 here (8 nodes): make it 0, a uint32 of no bytes. */
	f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	buf = malloc(len);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, len, f), len);
	fclose(f);
	m = memmem(buf, len, "\x4anode_count\xc1", 12);
	assert_non_null(m);
	m[11] = 0xc0;	/* uint32, size 0: the value 0 */
	memmove(m + 12, m + 13, buf + len - (m + 13));
	path_of(bad, sizeof(bad), "zero-nodes.mmdb");
	write_bytes(bad, buf, len - 1);
	free(buf);
	expect_failure(bad, "");
}

/* A good random database to damage: IPv4 with GeoIP2 records (@v 0), IPv6 aliased, flat (1). */
static void good_db(int v, char *path, size_t len)
{
	struct mmdbw *w = mmdbw_new(v ? 6 : 4, v ? 28 : 24);
	struct sw_geo_table t;
	char name[32];

	assert_non_null(w);
	assert_int_equal(
		mmdbw_add_random(w, 500, 30, 3 + v, v ? MMDBW_FLAT : MMDBW_GEOIP2, NULL, NULL), 0);
	if (v)
		mmdbw_alias_ipv4(w);
	snprintf(name, sizeof(name), "good-%d.mmdb", v);
	path_of(path, len, name);
	assert_int_equal(mmdbw_write(w, path), 0);
	mmdbw_free(w);
	must_build(path, &t);	/* the original is fine */
	sw_geo_table_free(&t);
}

static void corrupt_and_expect(int v, enum mmdbw_corruption kind, const char *cause)
{
	char good[256], bad[256], name[64];

	good_db(v, good, sizeof(good));
	snprintf(name, sizeof(name), "bad-%d-%s.mmdb", v, mmdbw__corruption_names[kind]);
	path_of(bad, sizeof(bad), name);
	if (mmdbw_corrupt_file(good, bad, kind)) {
		print_error("corrupting %s (%s): %s\n", good, name, strerror(errno));
		fail();
	}
	expect_failure(bad, cause);
}

static void test_corrupt(void **state)
{
	static const struct {
		enum mmdbw_corruption kind;
		const char *cause;
	} kinds[] = {
		{ MMDBW_CORRUPT_TRUNCATE, "not a MaxMind DB file, or a damaged one" },
		{ MMDBW_CORRUPT_MAGIC, "not a MaxMind DB file, or a damaged one" },
		{ MMDBW_CORRUPT_TREE, "points outside the file" },
		{ MMDBW_CORRUPT_LOOP, "search tree" },
		{ MMDBW_CORRUPT_DATA, "corrupt data record" },
	};

	for (int v = 0; v < 2; v++)
		for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
			corrupt_and_expect(v, kinds[i].kind, kinds[i].cause);
}

/*
 * A country field that is not a string (here a uint16) is corrupt data:
 * geo.c's header comment lists "a country field of the wrong type" among
 * the errors that name the file, rather than a silent "no country".
 */
static void test_corrupt_wrong_type(void **state)
{
	for (int v = 0; v < 2; v++)
		corrupt_and_expect(v, MMDBW_CORRUPT_TYPE, "corrupt data record");
}

/* ---- a full-size database ------------------------------------------------------------ */

static void test_large_database(void **state)
{
	struct gen_list l = { .every = 97 };
	struct mmdbw *w = mmdbw_new(6, 0);
	struct sw_geo_table t;
	struct mmdbw_stats st;
	char path[256];
	double t0, t_write, t_build;
	struct stat sb;
	uint64_t s = 5;
	unsigned checked = 0;

	assert_non_null(w);
	t0 = now_s();
	assert_int_equal(mmdbw_add_random(w, 1400000, 30, 1, MMDBW_GEOIP2, collect, &l), 0);
	mmdbw_alias_ipv4(w);
	path_of(path, sizeof(path), "large.mmdb");
	assert_int_equal(mmdbw_stats(w, &st), 0);
	assert_int_equal(mmdbw_write(w, path), 0);
	t_write = now_s() - t0;
	mmdbw_free(w);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, st.bytes);

	t0 = now_s();
	must_build(path, &t);
	t_build = now_s() - t0;
	printf("# 1.4M prefixes (%" PRIu64 " IPv4, %" PRIu64 " IPv6): written in %.2f s (%" PRIu64
	       " nodes, %u-bit records, %.1f MiB); sw_geo_build %.2f s: %u IPv4 chunks (%" PRIu64
	       " shared), %u IPv6 chunks (%.1f MiB), %" PRIu64 " folded /64s\n",
	       t.v4_prefixes, t.v6_prefixes, t_write, st.nodes, st.record_size,
	       sb.st_size / 1048576.0, t_build, t.v4_chunks, t.shared, t.v6_chunks,
	       (double)t.v6_chunks * SW_GEO_CHUNK * 4 / 1048576.0, t.folded);
	assert_true(t_build < 5.0);
	assert_int_equal(t.v4_prefixes, 980000);
	assert_int_equal(t.v6_prefixes, 420000);

	/* One prefix in 97, at a random address inside it, where nothing was folded. */
	for (size_t i = 0; i < l.n; i++) {
		const struct gen_prefix *p = &l.p[i];
		struct sw_geo_result r;
		uint8_t a[16];
		unsigned want = p->cc[0] ? (unsigned)sw_country_id(p->cc) : SW_COUNTRY_UNKNOWN;

		addr_in(p, &s, 0, a);
		if (p->family == 4) {
			uint32_t be;

			memcpy(&be, a, 4);
			sw_geo_lookup4(t.v4, t.v4_chunks, be, &r);
		} else {
			sw_geo_lookup6(t.v6, t.v6_chunks, a, &r);
			if (p->len > 64)
				continue;
		}
		if (!r.found || r.country != want || r.prefixlen != p->len) {
			char txt[INET6_ADDRSTRLEN];

			inet_ntop(p->family == 4 ? AF_INET : AF_INET6, a, txt, sizeof(txt));
			print_error("%s in /%u %s: got %u/%u found=%d\n", txt, p->len, p->cc,
				    r.country, r.prefixlen, r.found);
			fail();
		}
		checked++;
	}
	assert_true(checked > 10000);
	sw_geo_table_free(&t);
	free(l.p);
}

/* ---- the writer's own refusals ----------------------------------------------------------- */

static void test_writer_refuses(void **state)
{
	struct mmdbw *w4 = mmdbw_new(4, 0), *w6 = mmdbw_new(6, 24);
	static const uint8_t net[4] = { 10, 0, 0, 0 };
	struct mmdbw_stats st;
	char path[256];

	assert_null(mmdbw_new(5, 24));
	assert_null(mmdbw_new(4, 16));
	assert_non_null(w4);
	assert_non_null(w6);
	assert_int_equal(mmdbw_add(w4, "10.0.0.0/8", "JP", MMDBW_GEOIP2), 0);
	assert_int_equal(mmdbw_add(w4, "10.1.0.0/16", "JP", MMDBW_GEOIP2), -1);	/* inside */
	assert_int_equal(errno, EEXIST);
	assert_int_equal(mmdbw_add(w4, "10.0.0.0/8", "US", MMDBW_GEOIP2), -1);	/* the same */
	assert_int_equal(mmdbw_add(w4, "8.0.0.0/6", "US", MMDBW_GEOIP2), -1);	/* around */
	assert_non_null(strstr(mmdbw_error(w4), "10.0.0.0/8"));
	assert_int_equal(mmdbw_add(w4, "10.0.0.1/8", "JP", MMDBW_GEOIP2), -1);	/* host bits */
	assert_int_equal(mmdbw_add(w4, "2001:db8::/32", "JP", MMDBW_GEOIP2), -1);
	assert_int_equal(errno, EAFNOSUPPORT);
	assert_int_equal(mmdbw_add(w4, "10.0.0.0/33", "JP", MMDBW_GEOIP2), -1);
	assert_int_equal(mmdbw_add(w4, "10.0.0/8", "JP", MMDBW_GEOIP2), -1);
	assert_int_equal(mmdbw_add(w4, "", "JP", MMDBW_GEOIP2), -1);
	assert_int_equal(mmdbw_add(w4, "11.0.0.0/8", "", MMDBW_GEOIP2), -1);
	assert_int_equal(mmdbw_add_bin(w4, 4, net, 8, "JP", MMDBW_FLAT), -1);
	assert_int_equal(mmdbw_add(w4, "12.0.0.0/8", "JP", MMDBW_FLAT), 0);
	assert_int_equal(w4->v4_prefixes, 2);

	assert_int_equal(mmdbw_add(w6, "10.0.0.0/8", "JP", MMDBW_GEOIP2), 0);
	/* The same place as 10.0.0.0/8. */
	assert_int_equal(mmdbw_add(w6, "::10.0.0.0/104", "JP", MMDBW_GEOIP2), -1);
	assert_int_equal(mmdbw_add(w6, "2002:ff00::/24", "JP", MMDBW_GEOIP2), 0);
	mmdbw_alias_ipv4(w6);	/* 2002::/16 is taken: the aliases cannot be placed */
	path_of(path, sizeof(path), "refused.mmdb");
	assert_int_equal(mmdbw_write(w6, path), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(access(path, F_OK), -1);
	mmdbw_free(w6);

	/* After the aliases, their space is taken. */
	w6 = mmdbw_new(6, 0);
	assert_non_null(w6);
	mmdbw_alias_ipv4(w6);
	assert_int_equal(mmdbw_add(w6, "2002:ff00::/24", "JP", MMDBW_GEOIP2), -1);
	assert_int_equal(errno, EEXIST);
	assert_non_null(strstr(mmdbw_error(w6), "2002::/16"));
	assert_int_equal(mmdbw_add(w6, "2001::/16", "JP", MMDBW_GEOIP2), -1);	/* holds Teredo */
	assert_int_equal(mmdbw_add(w6, "2001:db8::/32", "JP", MMDBW_GEOIP2), 0);
	assert_int_equal(mmdbw_write(w6, path), 0);
	mmdbw_free(w6);

	/* A record size of 0 is the smallest that fits. */
	assert_int_equal(mmdbw_stats(w4, &st), 0);
	assert_int_equal(st.record_size, 24);
	assert_int_equal(st.v4_prefixes, 2);
	assert_int_equal(st.data_records, 2);
	mmdbw_free(w4);
}

/* ---- setup -------------------------------------------------------------------------- */

static int setup(void **state)
{
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	char path[512];

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
			unlink(path);
		}
	closedir(d);
	return rmdir(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_country_codes),
		cmocka_unit_test(test_writer_refuses),
		cmocka_unit_test(test_geoip2_ipv4),
		cmocka_unit_test(test_flat_ipv6),
		cmocka_unit_test(test_mixed_schemas),
		cmocka_unit_test(test_record_sizes),
		cmocka_unit_test(test_ipv6_alias),
		cmocka_unit_test(test_ipv4_levels),
		cmocka_unit_test(test_many_split_24s),
		cmocka_unit_test(test_ipv6_fold),
		cmocka_unit_test(test_no_country),
		cmocka_unit_test(test_cross_check),
		cmocka_unit_test(test_missing_and_not_databases),
		cmocka_unit_test(test_empty_tree),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_corrupt_wrong_type),
		cmocka_unit_test(test_large_database),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
