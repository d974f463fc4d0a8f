// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of user/core/parse.c: every parser with good values, boundaries and
 * the garbage an operator might type, and the formatters' round trips.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include "parse.h"

#define SEC  1000000000ULL
#define MIN  (60 * SEC)
#define HOUR (60 * MIN)
#define DAY  (24 * HOUR)

/* An error message must contain @want (and never be empty). */
static void assert_err_has(const char *err, const char *want, const char *input)
{
	if (!strstr(err, want)) {
		print_error("input \"%s\": error \"%s\" lacks \"%s\"\n", input, err, want);
		fail();
	}
}

/* ---- CIDR ----------------------------------------------------------------- */

static void check_cidr(const char *in, uint8_t family, unsigned plen, const char *canon)
{
	char err[SW_ERR_LEN] = "", buf[64];
	struct sw_cidr c;

	if (sw_parse_cidr(in, &c, err)) {
		print_error("\"%s\" rejected: %s\n", in, err);
		fail();
	}
	assert_int_equal(c.family, family);
	assert_int_equal(c.prefixlen, plen);
	sw_format_cidr(&c, false, buf, sizeof(buf));
	assert_string_equal(buf, canon);
}

static void test_cidr_good(void **state)
{
	struct sw_cidr c;
	char err[SW_ERR_LEN];
	static const uint8_t net[4] = { 192, 0, 2, 0 };
	unsigned i;

	check_cidr("192.0.2.0/24", SW_AF_INET, 24, "192.0.2.0/24");
	check_cidr("192.0.2.7", SW_AF_INET, 32, "192.0.2.7/32");
	check_cidr("192.0.2.7/32", SW_AF_INET, 32, "192.0.2.7/32");
	check_cidr("0.0.0.0/0", SW_AF_INET, 0, "0.0.0.0/0");
	check_cidr("10.0.0.0/8", SW_AF_INET, 8, "10.0.0.0/8");
	check_cidr("  198.51.100.0/22\t", SW_AF_INET, 22, "198.51.100.0/22");
	check_cidr("255.255.255.255", SW_AF_INET, 32, "255.255.255.255/32");

	check_cidr("2001:db8::/32", SW_AF_INET6, 32, "2001:db8::/32");
	check_cidr("2001:DB8::/32", SW_AF_INET6, 32, "2001:db8::/32");
	check_cidr("2001:0db8:0000::/48", SW_AF_INET6, 48, "2001:db8::/48");
	check_cidr("2001:db8::1", SW_AF_INET6, 128, "2001:db8::1/128");
	check_cidr("::/0", SW_AF_INET6, 0, "::/0");
	check_cidr("::1/128", SW_AF_INET6, 128, "::1/128");
	check_cidr("::", SW_AF_INET6, 128, "::/128");
	check_cidr("fe80::/10", SW_AF_INET6, 10, "fe80::/10");
	check_cidr("2001:db8:0:1::/64", SW_AF_INET6, 64, "2001:db8:0:1::/64");
	check_cidr("2001:db8::8000/113", SW_AF_INET6, 113, "2001:db8::8000/113");
	check_cidr("::ffff:192.0.2.0/120", SW_AF_INET6, 120, "::ffff:192.0.2.0/120");

	/* Address bytes, and nothing beyond the IPv4 address. */
	assert_int_equal(sw_parse_cidr("192.0.2.0/24", &c, err), 0);
	assert_memory_equal(c.addr, net, 4);
	for (i = 4; i < 16; i++)
		assert_int_equal(c.addr[i], 0);
}

static void test_cidr_bad(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "", "empty" },
		{ "   ", "empty" },
		{ "192.0.2.1/24", "192.0.2.1/24 has host bits set; did you mean 192.0.2.0/24?" },
		{ "10.1.2.3/8", "did you mean 10.0.0.0/8?" },
		{ "192.0.2.128/24", "did you mean 192.0.2.0/24?" },
		{ "0.0.0.1/0", "did you mean 0.0.0.0/0?" },
		{ "2001:db8::1/32", "2001:db8::1/32 has host bits set; did you mean 2001:db8::/32?" },
		{ "2001:db8::1/127", "did you mean 2001:db8::/127?" },
		{ "192.0.2.0/33", "invalid prefix length 33 (IPv4 allows 0-32)" },
		{ "192.0.2.0/100", "(IPv4 allows 0-32)" },
		{ "192.0.2.0/0024", "IPv4 allows 0-32" },
		{ "::/129", "invalid prefix length 129 (IPv6 allows 0-128)" },
		{ "192.0.2.0/", "missing prefix length" },
		{ "192.0.2.0/-1", "must not be negative" },
		{ "192.0.2.0/+8", "invalid prefix length" },
		{ "192.0.2.0/2x", "invalid prefix length \"2x\"" },
		{ "192.0.2.0/24 spam", "invalid prefix length" },
		{ "192.0.2.0/24/8", "invalid prefix length" },
		{ "192.0.2.0/99999999999999999999", "invalid prefix length" },
		{ "/24", "missing address" },
		{ "256.0.0.0", "invalid IPv4 address \"256.0.0.0\"" },
		{ "1.2.3", "invalid IPv4 address" },
		{ "01.2.3.4", "invalid IPv4 address" },
		{ "1.2.3.4.5", "invalid IPv4 address" },
		{ "192.0.2.0 /24", "invalid IPv4 address" },
		{ "example.org", "invalid IPv4 address" },
		{ "2001:db8::g", "invalid IPv6 address" },
		{ "1::2::3", "invalid IPv6 address" },
		{ "fe80::1%eth0", "invalid IPv6 address" },
		{ "2001:db8:0:0:0:0:0:0:1", "invalid IPv6 address" },
	};
	char err[SW_ERR_LEN];
	struct sw_cidr c;
	unsigned i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		if (sw_parse_cidr(cases[i].in, &c, err) != -1) {
			print_error("\"%s\" accepted\n", cases[i].in);
			fail();
		}
		assert_err_has(err, cases[i].want, cases[i].in);
	}
	assert_int_equal(sw_parse_cidr(NULL, &c, err), -1);
}

static void test_cidr_long_input(void **state)
{
	char in[600], err[SW_ERR_LEN];
	struct sw_cidr c;

	/* Garbage longer than the message buffer: quoted in part, message intact. */
	memset(in, '1', sizeof(in) - 1);
	in[sizeof(in) - 1] = '\0';
	assert_int_equal(sw_parse_cidr(in, &c, err), -1);
	assert_true(strlen(err) < SW_ERR_LEN);
	assert_err_has(err, "...", "long");
	assert_err_has(err, "too long", "long");
}

static void test_addr(void **state)
{
	char err[SW_ERR_LEN], buf[64];
	struct sw_cidr c;

	assert_int_equal(sw_parse_addr("192.0.2.1", &c, err), 0);
	assert_int_equal(c.family, SW_AF_INET);
	assert_int_equal(c.prefixlen, 32);
	sw_format_cidr(&c, true, buf, sizeof(buf));
	assert_string_equal(buf, "192.0.2.1");

	assert_int_equal(sw_parse_addr(" 2001:db8::25 ", &c, err), 0);
	assert_int_equal(c.family, SW_AF_INET6);
	assert_int_equal(c.prefixlen, 128);
	sw_format_cidr(&c, true, buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8::25");

	assert_int_equal(sw_parse_addr("192.0.2.0/24", &c, err), -1);
	assert_err_has(err, "not a prefix", "192.0.2.0/24");
	assert_int_equal(sw_parse_addr("192.0.2.1/32", &c, err), -1);
	assert_int_equal(sw_parse_addr("", &c, err), -1);
	assert_err_has(err, "empty", "");
	assert_int_equal(sw_parse_addr("300.1.1.1", &c, err), -1);
	assert_err_has(err, "invalid IPv4 address", "300.1.1.1");
	assert_int_equal(sw_parse_addr("::x", &c, err), -1);
	assert_err_has(err, "invalid IPv6 address", "::x");
}

static void test_cidr_format(void **state)
{
	static const char *const round[] = {
		"192.0.2.0/24", "0.0.0.0/0", "203.0.113.9/32", "2001:db8::/32", "::/0",
		"2001:db8::25/128", "fe80::/10", "::ffff:198.51.100.0/120",
	};
	char err[SW_ERR_LEN], buf[64];
	struct sw_cidr c, again;
	unsigned i;

	for (i = 0; i < sizeof(round) / sizeof(round[0]); i++) {
		assert_int_equal(sw_parse_cidr(round[i], &c, err), 0);
		sw_format_cidr(&c, false, buf, sizeof(buf));
		assert_string_equal(buf, round[i]);
		assert_int_equal(sw_parse_cidr(buf, &again, err), 0);
		assert_memory_equal(&c, &again, sizeof(c));
	}

	/* bare_if_host drops only a full prefix. */
	assert_int_equal(sw_parse_cidr("192.0.2.0/24", &c, err), 0);
	sw_format_cidr(&c, true, buf, sizeof(buf));
	assert_string_equal(buf, "192.0.2.0/24");
	assert_int_equal(sw_parse_cidr("2001:db8::1", &c, err), 0);
	sw_format_cidr(&c, true, buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8::1");
	sw_format_cidr(&c, false, buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8::1/128");

	/* Small buffers are terminated, not overrun. */
	memset(buf, 'x', sizeof(buf));
	sw_format_cidr(&c, false, buf, 5);
	assert_string_equal(buf, "2001");
	assert_int_equal(buf[5], 'x');

	memset(&c, 0, sizeof(c));
	sw_format_cidr(&c, false, buf, sizeof(buf));
	assert_string_equal(buf, "?");
}

/* ---- durations ------------------------------------------------------------ */

static void test_duration_good(void **state)
{
	static const struct {
		const char *in;
		uint64_t ns;
	} cases[] = {
		{ "0", 0 },
		{ "0s", 0 },
		{ "0ms", 0 },
		{ "90", 90 * SEC },
		{ "90s", 90 * SEC },
		{ "15m", 15 * MIN },
		{ "2h", 2 * HOUR },
		{ "7d", 7 * DAY },
		{ "1h30m", HOUR + 30 * MIN },
		{ "500ms", 500000000ULL },
		{ "1s500ms", 1500000000ULL },
		{ "1d2h3m4s5ms", DAY + 2 * HOUR + 3 * MIN + 4 * SEC + 5000000ULL },
		{ "90m", 90 * MIN },
		{ "  30s  ", 30 * SEC },
		{ "\t10m\n", 10 * MIN },
		{ "007s", 7 * SEC },
		{ "1us", 1000 },
		{ "1ns", 1 },
		{ "18446744073s", 18446744073ULL * SEC },
		{ "18446744073", 18446744073ULL * SEC },
		{ "18446744073709551615ns", UINT64_MAX },
	};
	char err[SW_ERR_LEN];
	unsigned i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t ns = 12345;

		if (sw_parse_duration(cases[i].in, &ns, err)) {
			print_error("\"%s\" rejected: %s\n", cases[i].in, err);
			fail();
		}
		assert_int_equal(ns, cases[i].ns);
	}
}

static void test_duration_bad(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "", "empty duration" },
		{ "  ", "empty duration" },
		{ "5x", "invalid duration \"5x\": unknown unit \"x\" (use ms, s, m, h, d)" },
		{ "5sec", "unknown unit \"sec\"" },
		{ "5S", "unknown unit \"S\"" },
		{ "-5s", "must not be negative" },
		{ "-5", "must not be negative" },
		{ "99999999999999999999s", "too large" },
		{ "99999999999999999999", "too large" },
		{ "18446744074s", "too large" },
		{ "18446744074", "too large" },
		{ "213504d", "too large" },
		{ "18446744073s709551616ms", "too large" },
		{ "18446744073709551616ns", "too large" },
		{ "1h30", "missing unit after 30" },
		{ "30m1h", "largest to smallest" },
		{ "1h1h", "largest to smallest" },
		{ "1s1s", "largest to smallest" },
		{ "1.5h", "fractions are not supported" },
		{ "1,5h", "fractions are not supported" },
		{ "5 s", "unexpected \" s\"" },
		{ "1h 30m", "expected a number at \" 30m\"" },
		{ "s", "expected a number" },
		{ "h5", "expected a number" },
		{ "+5s", "expected a number" },
		{ "5s!", "expected a number at \"!\"" },
		{ "forever", "expected a number" },
	};
	char err[SW_ERR_LEN];
	unsigned i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t ns = 777;

		err[0] = '\0';
		if (sw_parse_duration(cases[i].in, &ns, err) != -1) {
			print_error("\"%s\" accepted as %llu\n", cases[i].in,
				    (unsigned long long)ns);
			fail();
		}
		assert_err_has(err, cases[i].want, cases[i].in);
		assert_int_equal(ns, 777);	/* untouched on error */
	}
	assert_int_equal(sw_parse_duration(NULL, &(uint64_t){ 0 }, err), -1);
}

static void test_duration_format(void **state)
{
	static const struct {
		uint64_t ns;
		const char *out;
	} cases[] = {
		{ 0, "0s" },
		{ 90 * SEC, "90s" },
		{ 15 * MIN, "15m" },
		{ 90 * MIN, "90m" },
		{ 2 * HOUR, "2h" },
		{ 36 * HOUR, "36h" },
		{ 7 * DAY, "7d" },
		{ 500000000ULL, "500ms" },
		{ 1500000000ULL, "1500ms" },
		{ HOUR + 30 * MIN + 1 * SEC, "5401s" },
		{ DAY + 1000000ULL, "1d1ms" },
		{ 2 * DAY + 3 * HOUR + 5 * SEC, "2d3h5s" },
		{ 1, "1ns" },
		{ 1000, "1us" },
		{ 200000, "200us" },
		{ UINT64_MAX, "18446744073709551615ns" },
	};
	static const uint64_t round[] = {
		0, 1, 999, 1000, 1000000, 1 * SEC, 2 * SEC, 59 * SEC, 61 * SEC, 3599 * SEC,
		HOUR, 25 * HOUR, 24 * HOUR, 30 * DAY + 1, 123456789, 33333333, UINT64_MAX,
		UINT64_MAX - 1, 213503 * DAY,
	};
	char buf[64], err[SW_ERR_LEN];
	unsigned i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sw_format_duration(cases[i].ns, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].out);
	}
	for (i = 0; i < sizeof(round) / sizeof(round[0]); i++) {
		uint64_t back;

		sw_format_duration(round[i], buf, sizeof(buf));
		if (sw_parse_duration(buf, &back, err)) {
			print_error("formatted \"%s\" does not parse: %s\n", buf, err);
			fail();
		}
		assert_int_equal(back, round[i]);
	}

	/* Truncated, terminated. */
	memset(buf, 'x', sizeof(buf));
	sw_format_duration(5401 * SEC, buf, 3);
	assert_string_equal(buf, "54");
	assert_int_equal(buf[3], 'x');
}

/* ---- rates ---------------------------------------------------------------- */

static void test_rate_good(void **state)
{
	static const struct {
		const char *in;
		uint64_t ns;
	} cases[] = {
		{ "30/min", 2 * SEC },
		{ "30/m", 2 * SEC },
		{ "60/min", 1 * SEC },
		{ "1/min", MIN },
		{ "5000/s", 200000 },
		{ "10/sec", 100000000 },
		{ "1/s", SEC },
		{ "1/h", HOUR },
		{ "2/hour", 30 * MIN },
		{ "7/s", 142857142 },	/* integer division */
		{ "1000000000/s", 1 },
		{ "60000000000/min", 1 },
		{ "3600000000000/h", 1 },
		{ "30/MIN", 2 * SEC },
		{ " 30 / min ", 2 * SEC },
		{ "off", 0 },
		{ "OFF", 0 },
		{ "0", 0 },
		{ " off ", 0 },
	};
	char err[SW_ERR_LEN];
	unsigned i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t ns = 12345;

		if (sw_parse_rate(cases[i].in, &ns, err)) {
			print_error("\"%s\" rejected: %s\n", cases[i].in, err);
			fail();
		}
		assert_int_equal(ns, cases[i].ns);
	}
}

static void test_rate_bad(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "", "empty rate" },
		{ "30", "missing unit" },
		{ "30/", "unknown unit \"\"" },
		{ "30/day", "unknown unit \"day\" (use s, min or h)" },
		{ "30/min x", "unknown unit \"min x\"" },
		{ "30//min", "unknown unit \"/min\"" },
		{ "30 min", "unexpected \"min\"" },
		{ "30/minute", "unknown unit" },
		{ "0/s", "must be greater than 0" },
		{ "00", "missing unit" },
		{ "-1/s", "must not be negative" },
		{ "1000000001/s", "too high (at most 1000000000/s)" },
		{ "60000000001/m", "at most 60000000000/min" },
		{ "99999999999999999999/s", "number too large" },
		{ "abc", "expected N/s, N/min, N/h or off" },
		{ "/s", "expected N/s" },
		{ "1.5/s", "unexpected \".5/s\"" },
		{ "of", "expected N/s" },
	};
	char err[SW_ERR_LEN];
	unsigned i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t ns = 777;

		err[0] = '\0';
		if (sw_parse_rate(cases[i].in, &ns, err) != -1) {
			print_error("\"%s\" accepted as %llu\n", cases[i].in,
				    (unsigned long long)ns);
			fail();
		}
		assert_err_has(err, cases[i].want, cases[i].in);
		assert_int_equal(ns, 777);
	}
}

/* ---- numbers and booleans ------------------------------------------------- */

static void test_uint(void **state)
{
	char err[SW_ERR_LEN];
	uint64_t v;

	assert_int_equal(sw_parse_uint("0", 0, 10, &v, err), 0);
	assert_int_equal(v, 0);
	assert_int_equal(sw_parse_uint("10", 0, 10, &v, err), 0);
	assert_int_equal(v, 10);
	assert_int_equal(sw_parse_uint(" 7\t", 0, 10, &v, err), 0);
	assert_int_equal(v, 7);
	assert_int_equal(sw_parse_uint("010", 0, 10, &v, err), 0);
	assert_int_equal(v, 10);	/* decimal, never octal */
	assert_int_equal(sw_parse_uint("18446744073709551615", 0, UINT64_MAX, &v, err), 0);
	assert_true(v == UINT64_MAX);

	v = 5;
	assert_int_equal(sw_parse_uint("11", 0, 10, &v, err), -1);
	assert_err_has(err, "11 is out of range (0-10)", "11");
	assert_int_equal(v, 5);
	assert_int_equal(sw_parse_uint("0", 1, 10, &v, err), -1);
	assert_err_has(err, "0 is out of range (1-10)", "0");
	assert_int_equal(sw_parse_uint("", 1, 10, &v, err), -1);
	assert_err_has(err, "empty", "");
	assert_int_equal(sw_parse_uint("-1", 0, 10, &v, err), -1);
	assert_err_has(err, "must not be negative", "-1");
	assert_int_equal(sw_parse_uint("+1", 0, 10, &v, err), -1);
	assert_err_has(err, "invalid number \"+1\"", "+1");
	assert_int_equal(sw_parse_uint("1x", 0, 10, &v, err), -1);
	assert_err_has(err, "invalid number \"1x\"", "1x");
	assert_int_equal(sw_parse_uint("1 2", 0, 100, &v, err), -1);
	assert_int_equal(sw_parse_uint("0x10", 0, 100, &v, err), -1);
	assert_int_equal(sw_parse_uint("1e3", 0, 10000, &v, err), -1);
	assert_int_equal(sw_parse_uint("18446744073709551616", 0, UINT64_MAX, &v, err), -1);
	assert_err_has(err, "too large", "2^64");
	assert_int_equal(sw_parse_uint("99999999999999999999999", 0, 10, &v, err), -1);
	assert_err_has(err, "too large (maximum 10)", "huge");
	assert_int_equal(sw_parse_uint(NULL, 0, 10, &v, err), -1);
	assert_int_equal(v, 5);
}

static void test_bool(void **state)
{
	static const char *const yes[] = { "yes", "true", "on", "1", "YES", "True", " on " };
	static const char *const no[] = { "no", "false", "off", "0", "NO", "False" };
	static const char *const bad[] = { "", "maybe", "2", "yess", "y", "n", "enabled", "10" };
	char err[SW_ERR_LEN];
	unsigned i;
	bool b;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		b = false;
		assert_int_equal(sw_parse_bool(yes[i], &b, err), 0);
		assert_true(b);
	}
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		b = true;
		assert_int_equal(sw_parse_bool(no[i], &b, err), 0);
		assert_false(b);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(sw_parse_bool(bad[i], &b, err), -1);
		assert_err_has(err, "use yes or no", bad[i]);
	}
}

/* ---- ports ---------------------------------------------------------------- */

static bool has_port(const uint64_t *bm, unsigned p)
{
	return bm[p >> 6] & (1ULL << (p & 63));
}

static unsigned count_ports(const uint64_t *bm)
{
	unsigned i, n = 0;

	for (i = 0; i < SW_PORT_WORDS; i++)
		n += __builtin_popcountll(bm[i]);
	return n;
}

static void test_ports_good(void **state)
{
	uint64_t bm[SW_PORT_WORDS];
	char err[SW_ERR_LEN];

	memset(bm, 0xff, sizeof(bm));	/* cleared first */
	assert_int_equal(sw_parse_ports("25, 465 587", bm, err), 0);
	assert_int_equal(count_ports(bm), 3);
	assert_true(has_port(bm, 25) && has_port(bm, 465) && has_port(bm, 587));

	assert_int_equal(sw_parse_ports("25,465,587-590", bm, err), 0);
	assert_int_equal(count_ports(bm), 6);
	assert_true(has_port(bm, 588) && has_port(bm, 590) && !has_port(bm, 591));

	assert_int_equal(sw_parse_ports("  25\t,\t465  ,587 ", bm, err), 0);
	assert_int_equal(count_ports(bm), 3);
	assert_int_equal(sw_parse_ports("25 25 25-25", bm, err), 0);
	assert_int_equal(count_ports(bm), 1);

	assert_int_equal(sw_parse_ports("1", bm, err), 0);
	assert_true(has_port(bm, 1));
	assert_int_equal(count_ports(bm), 1);
	assert_int_equal(sw_parse_ports("65535", bm, err), 0);
	assert_true(has_port(bm, 65535));
	assert_int_equal(count_ports(bm), 1);
	assert_int_equal(sw_parse_ports("1-65535", bm, err), 0);
	assert_int_equal(count_ports(bm), 65535);
	assert_false(has_port(bm, 0));
	assert_int_equal(sw_parse_ports("63-64,127-128", bm, err), 0);
	assert_int_equal(count_ports(bm), 4);
	assert_true(bm[0] == 1ULL << 63 && bm[1] == (1ULL | 1ULL << 63) && bm[2] == 1);
}

static void test_ports_bad(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "", "no ports given" },
		{ "   ", "no ports given" },
		{ "0", "port 0 is out of range (1-65535)" },
		{ "65536", "port 65536 is out of range (1-65535)" },
		{ "25,0", "port 0 is out of range" },
		{ "0-25", "out of range" },
		{ "25-65536", "port 65536 is out of range" },
		{ "99999999999999999999", "out of range" },
		{ ",", "empty entry" },
		{ ",25", "empty entry" },
		{ "25,", "trailing comma" },
		{ "25, ", "trailing comma" },
		{ "25,,465", "empty entry" },
		{ "25, ,465", "empty entry" },
		{ "590-587", "start is above end" },
		{ "587-", "missing end" },
		{ "-5", "must not be negative" },
		{ "25x", "invalid port \"25x\"" },
		{ "smtp", "invalid port \"smtp\"" },
		{ "25-30-40", "invalid port \"25-30-40\"" },
		{ "25;465", "invalid port \"25;465\"" },
		{ "25 - 30", "must not be negative" },
	};
	uint64_t bm[SW_PORT_WORDS];
	char err[SW_ERR_LEN];
	unsigned i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		if (sw_parse_ports(cases[i].in, bm, err) != -1) {
			print_error("\"%s\" accepted\n", cases[i].in);
			fail();
		}
		assert_err_has(err, cases[i].want, cases[i].in);
	}
}

static void test_ports_format(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "25, 465 587", "25,465,587" },
		{ "587-590,25,465", "25,465,587-590" },
		{ "587,588", "587,588" },
		{ "587-589", "587-589" },
		{ "1-65535", "1-65535" },
		{ "65535 1", "1,65535" },
		{ "1-3 5-7 9", "1-3,5-7,9" },
	};
	uint64_t bm[SW_PORT_WORDS], back[SW_PORT_WORDS];
	char buf[256], err[SW_ERR_LEN];
	unsigned i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(sw_parse_ports(cases[i].in, bm, err), 0);
		sw_format_ports(bm, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].out);
		assert_int_equal(sw_parse_ports(buf, back, err), 0);
		assert_memory_equal(bm, back, sizeof(bm));
	}

	memset(bm, 0, sizeof(bm));
	sw_format_ports(bm, buf, sizeof(buf));
	assert_string_equal(buf, "");

	/* Too long for the buffer: cut visibly, terminated, not overrun. */
	assert_int_equal(sw_parse_ports("1000 2000 3000 4000 5000", bm, err), 0);
	memset(buf, 'x', sizeof(buf));
	sw_format_ports(bm, buf, 12);
	assert_string_equal(buf, "1000,...");
	assert_int_equal(buf[12], 'x');
	sw_format_ports(bm, buf, 24);
	assert_string_equal(buf, "1000,2000,3000,4000,...");
	sw_format_ports(bm, buf, 25);
	assert_string_equal(buf, "1000,2000,3000,4000,5000");
	sw_format_ports(bm, buf, 7);
	assert_string_equal(buf, "...");
	sw_format_ports(bm, buf, 3);
	assert_string_equal(buf, "");
}

/* ---- masks ---------------------------------------------------------------- */

static void test_masks(void **state)
{
	uint32_t m4, m6[4];

	sw_prefix_mask_v4(0, &m4);
	assert_int_equal(m4, 0);
	sw_prefix_mask_v4(8, &m4);
	assert_int_equal(ntohl(m4), 0xff000000);
	sw_prefix_mask_v4(24, &m4);
	assert_int_equal(ntohl(m4), 0xffffff00);
	sw_prefix_mask_v4(31, &m4);
	assert_int_equal(ntohl(m4), 0xfffffffe);
	sw_prefix_mask_v4(32, &m4);
	assert_int_equal(m4, 0xffffffff);
	sw_prefix_mask_v4(33, &m4);
	assert_int_equal(m4, 0xffffffff);
	/* Network byte order: the first byte in memory is the most significant. */
	sw_prefix_mask_v4(8, &m4);
	assert_int_equal(((uint8_t *)&m4)[0], 0xff);
	assert_int_equal(((uint8_t *)&m4)[1], 0);

	sw_prefix_mask_v6(0, m6);
	assert_true(!m6[0] && !m6[1] && !m6[2] && !m6[3]);
	sw_prefix_mask_v6(64, m6);
	assert_true(m6[0] == 0xffffffff && m6[1] == 0xffffffff && !m6[2] && !m6[3]);
	sw_prefix_mask_v6(48, m6);
	assert_int_equal(m6[0], 0xffffffff);
	assert_int_equal(ntohl(m6[1]), 0xffff0000);
	assert_true(!m6[2] && !m6[3]);
	sw_prefix_mask_v6(32, m6);
	assert_true(m6[0] == 0xffffffff && !m6[1]);
	sw_prefix_mask_v6(127, m6);
	assert_true(m6[0] == 0xffffffff && m6[1] == 0xffffffff && m6[2] == 0xffffffff);
	assert_int_equal(ntohl(m6[3]), 0xfffffffe);
	sw_prefix_mask_v6(128, m6);
	assert_true(m6[0] == 0xffffffff && m6[3] == 0xffffffff);
	sw_prefix_mask_v6(200, m6);
	assert_true(m6[3] == 0xffffffff);
	sw_prefix_mask_v6(1, m6);
	assert_int_equal(((uint8_t *)m6)[0], 0x80);
	assert_int_equal(((uint8_t *)m6)[1], 0);
}

/* The masks agree with what the CIDR parser considers the network part. */
static void test_masks_match_cidr(void **state)
{
	char err[SW_ERR_LEN];
	struct sw_cidr host, net;
	uint32_t m6[4], a[4];
	unsigned plen, i;
	char buf[64];

	assert_int_equal(sw_parse_addr("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", &host, err), 0);
	for (plen = 0; plen <= 128; plen++) {
		sw_prefix_mask_v6(plen, m6);
		memcpy(a, host.addr, 16);
		for (i = 0; i < 4; i++)
			a[i] &= m6[i];
		memset(&net, 0, sizeof(net));
		net.family = SW_AF_INET6;
		net.prefixlen = plen;
		memcpy(net.addr, a, 16);
		sw_format_cidr(&net, false, buf, sizeof(buf));
		if (sw_parse_cidr(buf, &net, err)) {
			print_error("/%u: %s\n", plen, err);
			fail();
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cidr_good),
		cmocka_unit_test(test_cidr_bad),
		cmocka_unit_test(test_cidr_long_input),
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_cidr_format),
		cmocka_unit_test(test_duration_good),
		cmocka_unit_test(test_duration_bad),
		cmocka_unit_test(test_duration_format),
		cmocka_unit_test(test_rate_good),
		cmocka_unit_test(test_rate_bad),
		cmocka_unit_test(test_uint),
		cmocka_unit_test(test_bool),
		cmocka_unit_test(test_ports_good),
		cmocka_unit_test(test_ports_bad),
		cmocka_unit_test(test_ports_format),
		cmocka_unit_test(test_masks),
		cmocka_unit_test(test_masks_match_cidr),
	};

	return cmocka_run_group_tests_name("parse", tests, NULL, NULL);
}
