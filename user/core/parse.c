// SPDX-License-Identifier: GPL-2.0
/*
 * Parsers for operator input (config file values and CLI arguments).
 *
 * They are strict on purpose: a typo in a firewall's configuration should
 * stop the daemon with a message naming the mistake, not be read as some
 * other value. Surrounding whitespace is ignored (the CLI may pass it);
 * anything else that is not part of the grammar is an error.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "parse.h"

#define NS_PER_US  1000ULL
#define NS_PER_MS  1000000ULL
#define NS_PER_SEC 1000000000ULL
#define NS_PER_MIN (60 * NS_PER_SEC)
#define NS_PER_H   (60 * NS_PER_MIN)
#define NS_PER_DAY (24 * NS_PER_H)

/* Input is quoted in messages; this much of it is enough to recognise it. */
#define SHOW_MAX 48

__attribute__((format(printf, 2, 3)))
static int fail(char err[SW_ERR_LEN], const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err, SW_ERR_LEN, fmt, ap);
	va_end(ap);
	return -1;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/*
 * A printable, bounded copy of [s, s + n) for quoting in a message, so that
 * a long or binary value cannot push the explanation out of the buffer.
 */
static const char *show(const char *s, size_t n, char buf[SHOW_MAX + 4])
{
	size_t i, m = n > SHOW_MAX ? SHOW_MAX : n;

	for (i = 0; i < m; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (n > m) {
		memcpy(buf + m, "...", 4);
	} else {
		buf[m] = '\0';
	}
	return buf;
}

/* The span of @s without surrounding whitespace. */
static const char *trim(const char *s, const char **end)
{
	const char *e;

	while (is_space(*s))
		s++;
	e = s + strlen(s);
	while (e > s && is_space(e[-1]))
		e--;
	*end = e;
	return s;
}

/*
 * Decimal digits at *p (before @end) into @v. Returns the number of digits
 * read, or -1 if the value does not fit in 64 bits.
 */
static int scan_u64(const char **p, const char *end, uint64_t *v)
{
	const char *s = *p;
	uint64_t n = 0;
	int digits = 0;

	while (s < end && is_digit(*s)) {
		unsigned d = *s - '0';

		if (n > (UINT64_MAX - d) / 10)
			return -1;
		n = n * 10 + d;
		s++;
		digits++;
	}
	*p = s;
	*v = n;
	return digits;
}

/* Is [s, e) exactly the word @w, ignoring case? */
static bool word_is(const char *s, const char *e, const char *w)
{
	size_t n = strlen(w);

	return (size_t)(e - s) == n && !strncasecmp(s, w, n);
}

/* ---- addresses ---------------------------------------------------------- */

static unsigned full_prefix(uint8_t family)
{
	return family == SW_AF_INET ? 32 : 128;
}

static void mask_addr(uint8_t addr[16], unsigned bytes, unsigned prefixlen)
{
	unsigned i;

	for (i = 0; i < bytes; i++) {
		if (prefixlen >= 8) {
			prefixlen -= 8;
		} else {
			addr[i] &= (uint8_t)(0xff00 >> prefixlen);
			prefixlen = 0;
		}
	}
}

/*
 * The address part of a CIDR, already trimmed and without the prefix. The
 * family is chosen by the presence of ':' so that the message can say which
 * kind of address was not understood.
 */
static int parse_addr_part(const char *s, const char *e, struct sw_cidr *out,
			   char err[SW_ERR_LEN])
{
	char buf[INET6_ADDRSTRLEN + 1], q[SHOW_MAX + 4];
	size_t n = e - s;
	bool v6 = memchr(s, ':', n) != NULL;

	if (!n)
		return fail(err, "missing address");
	if (n >= sizeof(buf))
		return fail(err, "invalid address \"%s\": too long", show(s, n, q));
	memcpy(buf, s, n);
	buf[n] = '\0';

	memset(out, 0, sizeof(*out));
	if (v6) {
		if (inet_pton(AF_INET6, buf, out->addr) != 1)
			return fail(err, "invalid IPv6 address \"%s\"", show(s, n, q));
		out->family = SW_AF_INET6;
	} else {
		if (inet_pton(AF_INET, buf, out->addr) != 1)
			return fail(err, "invalid IPv4 address \"%s\"", show(s, n, q));
		out->family = SW_AF_INET;
	}
	out->prefixlen = full_prefix(out->family);
	return 0;
}

int sw_parse_cidr(const char *s, struct sw_cidr *out, char err[SW_ERR_LEN])
{
	const char *b, *e, *slash, *p;
	char q[SHOW_MAX + 4], net[INET6_ADDRSTRLEN + 8];
	struct sw_cidr c, masked;
	uint64_t plen;
	unsigned max;
	int digits;

	if (!s)
		return fail(err, "missing address");
	b = trim(s, &e);
	if (b == e)
		return fail(err, "empty address (expected an address or address/prefix)");
	slash = memchr(b, '/', e - b);
	if (parse_addr_part(b, slash ? slash : e, &c, err))
		return -1;
	if (!slash)
		goto done;

	max = full_prefix(c.family);
	p = slash + 1;
	if (p == e)
		return fail(err, "invalid address \"%s\": missing prefix length after '/'",
			    show(b, e - b, q));
	digits = scan_u64(&p, e, &plen);
	if (digits <= 0 || p != e) {
		if (*(slash + 1) == '-')
			return fail(err, "invalid prefix length \"%s\": must not be negative",
				    show(slash + 1, e - slash - 1, q));
		return fail(err, "invalid prefix length \"%s\" (expected a number 0-%u)",
			    show(slash + 1, e - slash - 1, q), max);
	}
	if (digits > 3 || plen > max)
		return fail(err, "invalid prefix length %s (%s allows 0-%u)",
			    show(slash + 1, e - slash - 1, q),
			    c.family == SW_AF_INET ? "IPv4" : "IPv6", max);
	c.prefixlen = plen;

	masked = c;
	mask_addr(masked.addr, c.family == SW_AF_INET ? 4 : 16, c.prefixlen);
	if (memcmp(masked.addr, c.addr, sizeof(c.addr))) {
		sw_format_cidr(&masked, false, net, sizeof(net));
		return fail(err, "%s has host bits set; did you mean %s?", show(b, e - b, q), net);
	}
done:
	*out = c;
	return 0;
}

int sw_parse_addr(const char *s, struct sw_cidr *out, char err[SW_ERR_LEN])
{
	const char *b, *e;
	char q[SHOW_MAX + 4];
	struct sw_cidr c;

	if (!s)
		return fail(err, "missing address");
	b = trim(s, &e);
	if (b == e)
		return fail(err, "empty address");
	if (memchr(b, '/', e - b))
		return fail(err, "invalid address \"%s\": expected a single address, not a prefix",
			    show(b, e - b, q));
	if (parse_addr_part(b, e, &c, err))
		return -1;
	*out = c;
	return 0;
}

void sw_format_cidr(const struct sw_cidr *c, bool bare_if_host, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	int af;

	if (!len)
		return;
	if (c->family == SW_AF_INET)
		af = AF_INET;
	else if (c->family == SW_AF_INET6)
		af = AF_INET6;
	else {
		snprintf(buf, len, "?");
		return;
	}
	if (!inet_ntop(af, c->addr, a, sizeof(a))) {
		snprintf(buf, len, "?");
		return;
	}
	if (bare_if_host && c->prefixlen == full_prefix(c->family))
		snprintf(buf, len, "%s", a);
	else
		snprintf(buf, len, "%s/%u", a, c->prefixlen);
}

/* ---- durations ---------------------------------------------------------- */

/* Largest first: a duration names its units in this order, each at most once. */
static const struct {
	const char *name;
	uint64_t ns;
} dur_units[] = {
	{ "d", NS_PER_DAY }, { "h", NS_PER_H }, { "m", NS_PER_MIN }, { "s", NS_PER_SEC },
	{ "ms", NS_PER_MS },
	/*
	 * Not advertised (operators never need them), but accepted so that
	 * anything sw_format_duration() prints parses back to the same value.
	 */
	{ "us", NS_PER_US }, { "ns", 1 },
};
#define N_DUR_UNITS (sizeof(dur_units) / sizeof(dur_units[0]))

int sw_parse_duration(const char *s, uint64_t *ns, char err[SW_ERR_LEN])
{
	const char *b, *e, *p, *u;
	char q[SHOW_MAX + 4], uq[SHOW_MAX + 4];
	uint64_t total = 0, n;
	int last = -1, digits;
	unsigned i;

	if (!s)
		return fail(err, "missing duration");
	b = trim(s, &e);
	if (b == e)
		return fail(err, "empty duration (expected e.g. 30s, 10m, 1h30m)");
	p = b;

	/* A bare number is seconds, but only on its own: "1h30" is ambiguous. */
	digits = scan_u64(&p, e, &n);
	if (digits > 0 && p == e) {
		if (n > UINT64_MAX / NS_PER_SEC)
			return fail(err, "invalid duration \"%s\": too large", show(b, e - b, q));
		*ns = n * NS_PER_SEC;
		return 0;
	}

	p = b;
	while (p < e) {
		if (*p == '-')
			return fail(err, "invalid duration \"%s\": must not be negative",
				    show(b, e - b, q));
		digits = scan_u64(&p, e, &n);
		if (digits < 0)
			return fail(err, "invalid duration \"%s\": too large", show(b, e - b, q));
		if (!digits)
			return fail(err, "invalid duration \"%s\": expected a number at \"%s\"",
				    show(b, e - b, q), show(p, e - p, uq));
		if (p == e)
			return fail(err, "invalid duration \"%s\": missing unit after %" PRIu64
				    " (use ms, s, m, h, d)", show(b, e - b, q), n);
		if (*p == '.' || *p == ',')
			return fail(err, "invalid duration \"%s\": fractions are not supported; "
				    "combine units instead (e.g. 1h30m, 1s500ms)", show(b, e - b, q));
		u = p;
		while (p < e && is_alpha(*p))
			p++;
		if (u == p)
			return fail(err, "invalid duration \"%s\": unexpected \"%s\"",
				    show(b, e - b, q), show(u, e - u, uq));
		for (i = 0; i < N_DUR_UNITS; i++)
			if ((size_t)(p - u) == strlen(dur_units[i].name) &&
			    !memcmp(u, dur_units[i].name, p - u))
				break;
		if (i == N_DUR_UNITS)
			return fail(err, "invalid duration \"%s\": unknown unit \"%s\" "
				    "(use ms, s, m, h, d)", show(b, e - b, q), show(u, p - u, uq));
		if ((int)i <= last)
			return fail(err, "invalid duration \"%s\": units must go from largest to "
				    "smallest, each at most once (e.g. 1h30m)", show(b, e - b, q));
		last = i;
		if (n > UINT64_MAX / dur_units[i].ns ||
		    n * dur_units[i].ns > UINT64_MAX - total)
			return fail(err, "invalid duration \"%s\": too large", show(b, e - b, q));
		total += n * dur_units[i].ns;
	}
	*ns = total;
	return 0;
}

/*
 * Two exact candidates, and the shorter one wins: the value in the largest
 * unit that divides it ("90s", "36h", "5401s") and the value split across
 * units ("1h30m1s", "1d1ms"). A tie goes to the single unit, which is
 * easier to compare at a glance.
 */
void sw_format_duration(uint64_t ns, char *buf, size_t len)
{
	char single[32], multi[96];
	size_t off = 0;
	unsigned i;

	if (!len)
		return;
	if (!ns) {
		snprintf(buf, len, "0s");
		return;
	}
	for (i = 0; i < N_DUR_UNITS; i++)
		if (ns % dur_units[i].ns == 0)
			break;
	snprintf(single, sizeof(single), "%" PRIu64 "%s", ns / dur_units[i].ns,
		 dur_units[i].name);

	multi[0] = '\0';
	for (i = 0; i < N_DUR_UNITS && ns; i++) {
		uint64_t q = ns / dur_units[i].ns;

		ns %= dur_units[i].ns;
		if (q)
			off += snprintf(multi + off, sizeof(multi) - off, "%" PRIu64 "%s", q,
					dur_units[i].name);
	}
	snprintf(buf, len, "%s", strlen(multi) < strlen(single) ? multi : single);
}

/* ---- rates -------------------------------------------------------------- */

static const struct {
	const char *name;
	uint64_t ns;
	const char *canon;
} rate_units[] = {
	{ "s", NS_PER_SEC, "s" },   { "sec", NS_PER_SEC, "s" }, { "m", NS_PER_MIN, "min" },
	{ "min", NS_PER_MIN, "min" }, { "h", NS_PER_H, "h" },	  { "hour", NS_PER_H, "h" },
};

int sw_parse_rate(const char *s, uint64_t *interval_ns, char err[SW_ERR_LEN])
{
	const char *b, *e, *p, *u, *ue;
	char q[SHOW_MAX + 4], uq[SHOW_MAX + 4];
	uint64_t n;
	unsigned i;
	int digits;

	if (!s)
		return fail(err, "missing rate");
	b = trim(s, &e);
	if (b == e)
		return fail(err, "empty rate (expected N/s, N/min, N/h or off)");
	if (word_is(b, e, "off") || word_is(b, e, "0")) {
		*interval_ns = 0;
		return 0;
	}
	if (*b == '-')
		return fail(err, "invalid rate \"%s\": must not be negative", show(b, e - b, q));
	p = b;
	digits = scan_u64(&p, e, &n);
	if (digits < 0)
		return fail(err, "invalid rate \"%s\": number too large", show(b, e - b, q));
	if (!digits)
		return fail(err, "invalid rate \"%s\" (expected N/s, N/min, N/h or off)",
			    show(b, e - b, q));
	while (p < e && is_space(*p))
		p++;
	if (p == e)
		return fail(err, "invalid rate \"%s\": missing unit (e.g. %" PRIu64 "/min)",
			    show(b, e - b, q), n);
	if (*p != '/')
		return fail(err, "invalid rate \"%s\": unexpected \"%s\" (expected N/s, N/min "
			    "or N/h)", show(b, e - b, q), show(p, e - p, uq));
	p++;
	while (p < e && is_space(*p))
		p++;
	u = p;
	ue = e;
	for (i = 0; i < sizeof(rate_units) / sizeof(rate_units[0]); i++)
		if (word_is(u, ue, rate_units[i].name))
			break;
	if (i == sizeof(rate_units) / sizeof(rate_units[0]))
		return fail(err, "invalid rate \"%s\": unknown unit \"%s\" (use s, min or h)",
			    show(b, e - b, q), show(u, ue - u, uq));
	if (!n)
		return fail(err, "invalid rate \"%s\": must be greater than 0 (use off to "
			    "disable)", show(b, e - b, q));
	if (n > rate_units[i].ns)
		return fail(err, "invalid rate \"%s\": too high (at most %" PRIu64 "/%s)",
			    show(b, e - b, q), rate_units[i].ns, rate_units[i].canon);
	*interval_ns = rate_units[i].ns / n;
	return 0;
}

/* ---- numbers and booleans ----------------------------------------------- */

int sw_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out,
		  char err[SW_ERR_LEN])
{
	const char *b, *e, *p;
	char q[SHOW_MAX + 4];
	uint64_t n;
	int digits;

	if (!s)
		return fail(err, "missing number");
	b = trim(s, &e);
	if (b == e)
		return fail(err, "empty value (expected a number %" PRIu64 "-%" PRIu64 ")",
			    min, max);
	if (*b == '-')
		return fail(err, "invalid number \"%s\": must not be negative", show(b, e - b, q));
	p = b;
	digits = scan_u64(&p, e, &n);
	if (digits < 0)
		return fail(err, "invalid number \"%s\": too large (maximum %" PRIu64 ")",
			    show(b, e - b, q), max);
	if (!digits || p != e)
		return fail(err, "invalid number \"%s\" (expected digits only)", show(b, e - b, q));
	if (n < min || n > max)
		return fail(err, "%" PRIu64 " is out of range (%" PRIu64 "-%" PRIu64 ")", n, min,
			    max);
	*out = n;
	return 0;
}

int sw_parse_bool(const char *s, bool *out, char err[SW_ERR_LEN])
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	const char *b, *e;
	char q[SHOW_MAX + 4];
	unsigned i;

	if (!s)
		return fail(err, "missing value (use yes or no)");
	b = trim(s, &e);
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (word_is(b, e, yes[i])) {
			*out = true;
			return 0;
		}
		if (word_is(b, e, no[i])) {
			*out = false;
			return 0;
		}
	}
	if (b == e)
		return fail(err, "empty value (use yes or no)");
	return fail(err, "invalid boolean \"%s\" (use yes or no)", show(b, e - b, q));
}

/* ---- ports -------------------------------------------------------------- */

static int scan_port(const char **p, const char *e, const char *tok, const char *tok_end,
		     unsigned *port, char err[SW_ERR_LEN])
{
	char q[SHOW_MAX + 4];
	uint64_t n;
	int digits;

	if (*p < e && **p == '-')
		return fail(err, "invalid port \"%s\": must not be negative",
			    show(tok, tok_end - tok, q));
	digits = scan_u64(p, e, &n);
	if (digits == 0)
		return fail(err, "invalid port \"%s\" (expected a number or a range a-b)",
			    show(tok, tok_end - tok, q));
	if (digits < 0 || n < 1 || n > 65535)
		return fail(err, "port %s is out of range (1-65535)", show(tok, tok_end - tok, q));
	*port = n;
	return 0;
}

int sw_parse_ports(const char *s, uint64_t bitmap[SW_PORT_WORDS], char err[SW_ERR_LEN])
{
	const char *b, *e, *p, *tok, *tok_end;
	char q[SHOW_MAX + 4];
	unsigned lo, hi, port, count = 0;

	memset(bitmap, 0, SW_PORT_WORDS * sizeof(bitmap[0]));
	if (!s)
		return fail(err, "no ports given");
	b = trim(s, &e);
	p = b;
	while (p < e) {
		/* A token ends at whitespace or a comma. */
		tok = p;
		while (p < e && !is_space(*p) && *p != ',')
			p++;
		tok_end = p;
		if (tok == tok_end)
			return fail(err, "invalid port list \"%s\": empty entry (stray comma?)",
				    show(b, e - b, q));

		p = tok;
		if (scan_port(&p, tok_end, tok, tok_end, &lo, err))
			return -1;
		hi = lo;
		if (p < tok_end && *p == '-') {
			const char *r = p + 1;

			if (r == tok_end)
				return fail(err, "invalid port range \"%s\": missing end",
					    show(tok, tok_end - tok, q));
			p = r;
			if (scan_port(&p, tok_end, r, tok_end, &hi, err))
				return -1;
			if (hi < lo)
				return fail(err, "invalid port range \"%s\": start is above end",
					    show(tok, tok_end - tok, q));
		}
		if (p != tok_end)
			return fail(err, "invalid port \"%s\" (expected a number or a range a-b)",
				    show(tok, tok_end - tok, q));
		for (port = lo; port <= hi; port++)
			bitmap[port >> 6] |= 1ULL << (port & 63);
		count++;

		/* Separator: whitespace, at most one comma, whitespace. */
		while (p < e && is_space(*p))
			p++;
		if (p < e && *p == ',') {
			p++;
			while (p < e && is_space(*p))
				p++;
			if (p == e)
				return fail(err, "invalid port list \"%s\": trailing comma",
					    show(b, e - b, q));
		}
	}
	if (!count)
		return fail(err, "no ports given (at least one port is required)");
	return 0;
}

static bool port_set(const uint64_t bitmap[SW_PORT_WORDS], unsigned port)
{
	return bitmap[port >> 6] & (1ULL << (port & 63));
}

void sw_format_ports(const uint64_t bitmap[SW_PORT_WORDS], char *buf, size_t len)
{
	size_t off = 0;
	unsigned p, end;
	char item[16];

	if (!len)
		return;
	buf[0] = '\0';
	/* Port 0 cannot be guarded (the parser refuses it): not shown. */
	for (p = 1; p <= 65535; p = end + 1) {
		size_t n;

		if (!port_set(bitmap, p)) {
			end = p;
			continue;
		}
		for (end = p; end < 65535 && port_set(bitmap, end + 1); end++)
			;
		/* Two neighbours read better as a list than as a range. */
		if (end == p)
			n = snprintf(item, sizeof(item), "%s%u", off ? "," : "", p);
		else if (end == p + 1)
			n = snprintf(item, sizeof(item), "%s%u,%u", off ? "," : "", p, end);
		else
			n = snprintf(item, sizeof(item), "%s%u-%u", off ? "," : "", p, end);
		if (off + n >= len) {
			/*
			 * Does not fit: end with ",..." so the cut is visible,
			 * dropping whole entries to make room, never half a number.
			 */
			while (off > 0 && off + sizeof(",...") > len) {
				while (off > 0 && buf[off - 1] != ',')
					off--;
				if (off > 0)
					off--;
			}
			if (off > 0)
				memcpy(buf + off, ",...", sizeof(",..."));
			else if (len >= sizeof("..."))
				memcpy(buf, "...", sizeof("..."));
			else
				buf[0] = '\0';
			return;
		}
		memcpy(buf + off, item, n + 1);
		off += n;
	}
}

/* ---- masks -------------------------------------------------------------- */

static uint32_t mask32(unsigned bits)
{
	return bits ? htonl(0xffffffffU << (32 - bits)) : 0;
}

void sw_prefix_mask_v4(unsigned prefixlen, uint32_t *v4)
{
	*v4 = mask32(prefixlen > 32 ? 32 : prefixlen);
}

void sw_prefix_mask_v6(unsigned prefixlen, uint32_t v6[4])
{
	unsigned i;

	if (prefixlen > 128)
		prefixlen = 128;
	for (i = 0; i < 4; i++) {
		unsigned bits = prefixlen > 32 * i ? prefixlen - 32 * i : 0;

		v6[i] = mask32(bits > 32 ? 32 : bits);
	}
}

const char *sw_phase_name(unsigned phase)
{
	static const char *const names[SW_PH_MAX] = {
		[SW_PH_CONNECTED] = "connected", [SW_PH_GREETED] = "greeted", [SW_PH_HELO] = "helo",
		[SW_PH_AUTH] = "auth",		 [SW_PH_MAIL] = "mail",	      [SW_PH_RCPT] = "rcpt",
		[SW_PH_DATA] = "data",		 [SW_PH_DELIVERED] = "delivered", [SW_PH_QUIT] = "quit",
		[SW_PH_TLS] = "tls",
	};
	return phase < SW_PH_MAX ? names[phase] : "unknown";
}

void sw_probation_text(uint32_t detail, uint64_t limit_ns, char *buf, size_t len)
{
	unsigned phase = detail >> SW_PROBATION_PHASE_SHIFT & SW_PROBATION_PHASE_MASK;
	double secs = (detail & SW_PROBATION_MS_MASK) / 1000.0;
	char limit[32] = "";
	int n;

	if (detail & SW_PROBATION_LIFETIME)
		n = snprintf(buf, len, "lifetime %.1fs used up in phase %s", secs, sw_phase_name(phase));
	else
		n = snprintf(buf, len, "no progress for %.1fs in phase %s", secs, sw_phase_name(phase));
	if (limit_ns && n >= 0 && (size_t)n < len) {
		sw_format_duration(limit_ns, limit, sizeof(limit));
		snprintf(buf + n, len - n, " (limit %s)", limit);
	}
}

bool sw_cidr_contains(const struct sw_cidr *c, uint8_t family, const uint8_t *addr)
{
	unsigned full = c->prefixlen / 8, rest = c->prefixlen % 8;

	if (c->family != family)
		return false;
	if (memcmp(c->addr, addr, full))
		return false;
	return !rest || !((c->addr[full] ^ addr[full]) & (uint8_t)(0xff << (8 - rest)));
}

/* ---- names ---------------------------------------------------------------- */

const char *sw_reason_name(unsigned reason)
{
	static const char *const names[SW_R_ALL] = {
		[SW_R_RATE] = "rate",	  [SW_R_CONCURRENCY] = "concurrency", [SW_R_PENALTY] = "penalty",
		[SW_R_DENY] = "deny",	  [SW_R_MALFORMED] = "malformed",     [SW_R_FLOOD] = "flood",
		[SW_R_COUNTRY] = "country", [SW_R_COUNTRY_RATE] = "country_rate",
		[SW_R_EMERGENCY] = "emergency", [SW_R_IDLE] = "idle",	      [SW_R_PREGREET] = "pregreet",
		[SW_R_HARVEST] = "harvest", [SW_R_AUTH] = "auth",   [SW_R_PROBATION] = "probation",
	};
	return reason < SW_R_ALL ? names[reason] : "unknown";
}

int sw_country_letter(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	return -1;
}

int sw_country_id(const char *code)
{
	int a, b;

	if (!code || !code[0] || !code[1] || code[2])
		return -1;
	a = sw_country_letter(code[0]);
	b = sw_country_letter(code[1]);
	if (a < 0 || b < 0)
		return -1;
	return SW_COUNTRY_FIRST + a * 26 + b;
}

void sw_country_code(unsigned id, char out[3])
{
	if (id >= SW_COUNTRY_FIRST && id <= SW_COUNTRY_LAST) {
		out[0] = 'A' + (id - 1) / 26;
		out[1] = 'A' + (id - 1) % 26;
		out[2] = 0;
	} else if (id == SW_COUNTRY_UNKNOWN) {
		memcpy(out, "--", 3);
	} else if (id == SW_COUNTRY_NONE) {
		out[0] = 0;
	} else {
		memcpy(out, "??", 3);
	}
}
