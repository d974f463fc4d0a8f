/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A MaxMind DB (.mmdb) writer for tests and build/tools/mkmmdb, with no
 * dependency on libmaxminddb: the tests read what it writes with
 * libmaxminddb and with user/geo/geo.c, so a writer built on the reader could
 * hide a bug shared by both.
 *
 * The search tree is built in memory as one array of node pairs (no malloc
 * per node), so 1.4 million prefixes take a second or so. Every leaf points
 * at one data record per distinct (schema, country), written once, as real
 * databases do. Branches that lead nowhere are "empty" records.
 *
 * Besides writing, it can generate a realistic random database
 * (mmdbw_add_random) and damage a good file in controlled ways
 * (mmdbw_corrupt_file), for the loader's error paths.
 */
#ifndef SW_MMDB_WRITER_H
#define SW_MMDB_WRITER_H

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

enum mmdbw_schema {
	MMDBW_GEOIP2,		/* {"country":{"iso_code":"JP", "names":{"en":...}}, "registered_country":{"iso_code":"JP"}, "continent":{"code":"AS"}} */
	MMDBW_GEOIP2_REGISTERED,/* only {"registered_country":{"iso_code":"JP"}} (GeoLite2 has such records) */
	MMDBW_FLAT,		/* {"country_code":"JP"} as DB-IP Lite / ip-location-db */
	MMDBW_NO_COUNTRY,	/* a record naming no country, e.g. {"continent":{"code":"EU"}}; country arg ignored */
};
#define MMDBW_SCHEMAS 4

/*
 * Tree values while building: 0 is "empty" (node 0 is the root, never a
 * child), 1..MMDBW_MAX_NODES a node, MMDBW_DATA | k data record k, and
 * MMDBW_ALIAS "whatever ::/96 holds", resolved when the file is written.
 */
#define MMDBW_EMPTY	0U
#define MMDBW_DATA	0x80000000U
#define MMDBW_ALIAS	0x7fffffffU
#define MMDBW_MAX_NODES 0x7ffffff0U
#define MMDBW_CC_LEN	16	/* longest country string + 1: tests may write odd ones */

struct mmdbw_record {
	uint32_t hash;
	uint8_t schema;
	char country[MMDBW_CC_LEN];
};

struct mmdbw {
	unsigned ip_version;
	unsigned record_size;	/* 24, 28, 32, or 0: the smallest that fits, chosen on writing */
	uint32_t *nodes;	/* two values per node: left, right */
	size_t n_nodes, cap_nodes;
	struct mmdbw_record *recs;
	uint32_t n_recs, cap_recs;
	uint32_t *slots;	/* hash of recs: index + 1, 0 free */
	uint32_t n_slots;
	uint64_t v4_prefixes, v6_prefixes;
	uint64_t epoch;
	char type[128];
	bool alias;
	bool alias_conflict;	/* an alias could not be placed: writing fails with EEXIST */
	char err[192];		/* why the last call failed */
};

/* ---- small helpers --------------------------------------------------------- */

__attribute__((format(printf, 2, 3)))
static inline int mmdbw__fail(struct mmdbw *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->err, sizeof(w->err), fmt, ap);
	va_end(ap);
	return -1;
}

/* Why the last mmdbw_add, mmdbw_add_bin or mmdbw_add_random* call failed. */
static inline const char *mmdbw_error(const struct mmdbw *w)
{
	return w->err[0] ? w->err : "no error";
}

static inline unsigned mmdbw__bit(const uint8_t a[16], unsigned i)
{
	return (a[i >> 3] >> (7 - (i & 7))) & 1;
}

/* "10.0.0.0/8", or "2001:db8::/32"; IPv4 space of an IPv6 tree shown as IPv4. */
static inline void mmdbw__format(const struct mmdbw *w, const uint8_t a[16], unsigned bits,
				 char *out, size_t len)
{
	char txt[INET6_ADDRSTRLEN];
	bool v4 = w->ip_version == 4;

	if (!v4 && bits >= 96) {
		v4 = true;
		for (int i = 0; i < 12; i++)
			v4 &= a[i] == 0;
		if (v4) {
			inet_ntop(AF_INET, a + 12, txt, sizeof(txt));
			snprintf(out, len, "%s/%u", txt, bits - 96);
			return;
		}
	}
	inet_ntop(v4 ? AF_INET : AF_INET6, a, txt, sizeof(txt));
	snprintf(out, len, "%s/%u", txt, bits);
}

/* ---- building the tree ------------------------------------------------------ */

/* ip_version 4 or 6; record_size 24, 28, 32, or 0: the smallest that fits, chosen on writing. */
static inline struct mmdbw *mmdbw_new(unsigned ip_version, unsigned record_size)
{
	struct mmdbw *w;

	if ((ip_version != 4 && ip_version != 6) ||
	    (record_size && record_size != 24 && record_size != 28 && record_size != 32)) {
		errno = EINVAL;
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->ip_version = ip_version;
	w->record_size = record_size;
	w->cap_nodes = 1024;
	w->nodes = calloc(w->cap_nodes * 2, sizeof(*w->nodes));
	w->n_slots = 256;
	w->slots = calloc(w->n_slots, sizeof(*w->slots));
	if (!w->nodes || !w->slots) {
		free(w->nodes);
		free(w->slots);
		free(w);
		errno = ENOMEM;
		return NULL;
	}
	w->n_nodes = 1;	/* the root, both records empty */
	w->epoch = 1700000000;
	snprintf(w->type, sizeof(w->type), "smtpwall-Test-Country");
	return w;
}

static inline void mmdbw_free(struct mmdbw *w)
{
	if (!w)
		return;
	free(w->nodes);
	free(w->recs);
	free(w->slots);
	free(w);
}

static inline void mmdbw_set_type(struct mmdbw *w, const char *database_type)
{
	snprintf(w->type, sizeof(w->type), "%s", database_type ? database_type : "");
}

static inline void mmdbw_set_epoch(struct mmdbw *w, uint64_t build_epoch)
{
	w->epoch = build_epoch;
}

static inline int mmdbw__new_node(struct mmdbw *w, uint32_t *out)
{
	if (w->n_nodes >= MMDBW_MAX_NODES) {
		errno = E2BIG;
		return mmdbw__fail(w, "too many nodes");
	}
	if (w->n_nodes == w->cap_nodes) {
		size_t cap = w->cap_nodes * 2;
		uint32_t *n = realloc(w->nodes, cap * 2 * sizeof(*n));

		if (!n) {
			errno = ENOMEM;
			return mmdbw__fail(w, "out of memory");
		}
		w->nodes = n;
		w->cap_nodes = cap;
	}
	w->nodes[w->n_nodes * 2] = MMDBW_EMPTY;
	w->nodes[w->n_nodes * 2 + 1] = MMDBW_EMPTY;
	*out = (uint32_t)w->n_nodes++;
	return 0;
}

/* Name some leaf below node @node (reached by @bits of @a) for an overlap message. */
static inline void mmdbw__some_leaf(const struct mmdbw *w, uint32_t node, uint8_t a[16],
				    unsigned bits, char *out, size_t len)
{
	for (;;) {
		uint32_t l = w->nodes[node * 2], r = w->nodes[node * 2 + 1];
		uint32_t v = l != MMDBW_EMPTY ? l : r;

		if (l == MMDBW_EMPTY)
			a[bits >> 3] |= 0x80 >> (bits & 7);
		else
			a[bits >> 3] &= ~(0x80 >> (bits & 7));
		bits++;
		if (v == MMDBW_EMPTY || v == MMDBW_ALIAS || (v & MMDBW_DATA) || bits >= 128)
			break;
		node = v;
	}
	mmdbw__format(w, a, bits, out, len);
}

/*
 * Would a record at the @bits-bit prefix @a overlap one already there?
 * Leaves of a search tree cannot nest, so any containment is refused.
 */
static inline int mmdbw__check(struct mmdbw *w, const uint8_t a[16], unsigned bits)
{
	char mine[64], theirs[64];
	uint8_t b[16];
	uint32_t node = 0;

	for (unsigned i = 0; i < bits; i++) {
		uint32_t v = w->nodes[node * 2 + mmdbw__bit(a, i)];

		if (v == MMDBW_EMPTY)
			return 0;
		if (i == bits - 1 || v == MMDBW_ALIAS || (v & MMDBW_DATA)) {
			mmdbw__format(w, a, bits, mine, sizeof(mine));
			memcpy(b, a, 16);
			if (v == MMDBW_ALIAS || (v & MMDBW_DATA)) {
				for (unsigned j = i + 1; j < 128; j++)
					b[j >> 3] &= ~(0x80 >> (j & 7));
				mmdbw__format(w, b, i + 1, theirs, sizeof(theirs));
			} else {
				mmdbw__some_leaf(w, v, b, i + 1, theirs, sizeof(theirs));
			}
			errno = EEXIST;
			if (v == MMDBW_ALIAS)
				return mmdbw__fail(w, "%s overlaps the IPv4 alias %s", mine,
						   theirs);
			return mmdbw__fail(w, "%s overlaps %s, added before", mine, theirs);
		}
		node = v;
	}
	return 0;
}

/* Put @value at the prefix, creating nodes on the way (mmdbw__check passed). */
static inline int mmdbw__insert(struct mmdbw *w, const uint8_t a[16], unsigned bits, uint32_t value)
{
	uint32_t node = 0;

	for (unsigned i = 0; i + 1 < bits; i++) {
		size_t slot = (size_t)node * 2 + mmdbw__bit(a, i);
		uint32_t v = w->nodes[slot];

		if (v == MMDBW_EMPTY) {
			if (mmdbw__new_node(w, &v))
				return -1;
			w->nodes[slot] = v;	/* by index: the array may have moved */
		}
		node = v;
	}
	w->nodes[(size_t)node * 2 + mmdbw__bit(a, bits - 1)] = value;
	return 0;
}

static inline uint32_t mmdbw__hash(unsigned schema, const char *cc)
{
	uint32_t h = 2166136261U ^ schema;

	for (; *cc; cc++)
		h = (h ^ (uint8_t)*cc) * 16777619U;
	return h;
}

/* The data record for (schema, country): one per distinct pair, shared by all leaves. */
static inline int mmdbw__record(struct mmdbw *w, const char *country, enum mmdbw_schema schema,
				uint32_t *out)
{
	struct mmdbw_record *r;
	uint32_t h, i;

	if ((unsigned)schema >= MMDBW_SCHEMAS) {
		errno = EINVAL;
		return mmdbw__fail(w, "unknown schema %d", (int)schema);
	}
	/* A record without a country is the same thing whatever schema was asked for. */
	if (!country || schema == MMDBW_NO_COUNTRY) {
		country = "";
		schema = MMDBW_NO_COUNTRY;
	} else {
		size_t n = strlen(country);

		if (!n || n >= MMDBW_CC_LEN) {
			errno = EINVAL;
			return mmdbw__fail(w, "bad country code \"%s\"", country);
		}
	}
	h = mmdbw__hash(schema, country);
	for (i = h & (w->n_slots - 1); w->slots[i]; i = (i + 1) & (w->n_slots - 1)) {
		r = &w->recs[w->slots[i] - 1];
		if (r->hash == h && r->schema == schema && !strcmp(r->country, country)) {
			*out = w->slots[i] - 1;
			return 0;
		}
	}
	if (w->n_recs == w->cap_recs) {
		uint32_t cap = w->cap_recs ? w->cap_recs * 2 : 64;
		struct mmdbw_record *n = realloc(w->recs, cap * sizeof(*n));

		if (!n) {
			errno = ENOMEM;
			return mmdbw__fail(w, "out of memory");
		}
		w->recs = n;
		w->cap_recs = cap;
	}
	if ((w->n_recs + 1) * 2 > w->n_slots) {
		uint32_t ns = w->n_slots * 2, *s = calloc(ns, sizeof(*s));

		if (!s) {
			errno = ENOMEM;
			return mmdbw__fail(w, "out of memory");
		}
		for (uint32_t k = 0; k < w->n_recs; k++) {
			uint32_t j = w->recs[k].hash & (ns - 1);

			while (s[j])
				j = (j + 1) & (ns - 1);
			s[j] = k + 1;
		}
		free(w->slots);
		w->slots = s;
		w->n_slots = ns;
		for (i = h & (ns - 1); s[i]; i = (i + 1) & (ns - 1))
			;
	}
	r = &w->recs[w->n_recs];
	r->hash = h;
	r->schema = schema;
	snprintf(r->country, sizeof(r->country), "%s", country);
	w->slots[i] = ++w->n_recs;
	*out = w->n_recs - 1;
	return 0;
}

/*
 * The same with a binary address: family 4 or 6 (AF_INET/AF_INET6 are
 * accepted too), addr 4 or 16 bytes network order. errno on failure:
 * EINVAL (bad prefix, host bits set, bad country), EAFNOSUPPORT (IPv6 into
 * an IPv4 database), EEXIST (overlap), ENOMEM; mmdbw_error() says more.
 */
static inline int mmdbw_add_bin(struct mmdbw *w, int family, const uint8_t *addr,
				unsigned prefixlen, const char *country, enum mmdbw_schema schema)
{
	unsigned max = family == 4 || family == AF_INET ? 32 : 128, bits;
	uint8_t a[16] = { 0 };
	uint32_t rec;

	w->err[0] = 0;
	if (family != 4 && family != 6 && family != AF_INET && family != AF_INET6) {
		errno = EINVAL;
		return mmdbw__fail(w, "unknown address family %d", family);
	}
	if (prefixlen > max) {
		errno = EINVAL;
		return mmdbw__fail(w, "prefix length /%u beyond /%u", prefixlen, max);
	}
	if (max == 128 && w->ip_version == 4) {
		errno = EAFNOSUPPORT;
		return mmdbw__fail(w, "IPv6 prefix in an IPv4 database");
	}
	/* An IPv6 database keeps IPv4 at ::a.b.c.d/(96 + len), as MaxMind does. */
	if (max == 32 && w->ip_version == 6) {
		memcpy(a + 12, addr, 4);
		bits = prefixlen + 96;
	} else {
		memcpy(a, addr, max / 8);
		bits = prefixlen;
	}
	for (unsigned i = bits; i < (w->ip_version == 6 ? 128U : 32U); i++)
		if (mmdbw__bit(a, i)) {
			char txt[64];

			mmdbw__format(w, a, w->ip_version == 6 ? 128 : 32, txt, sizeof(txt));
			errno = EINVAL;
			return mmdbw__fail(w, "host bits set in %.*s/%u",
					   (int)(strchr(txt, '/') - txt), txt, prefixlen);
		}
	if (bits == 0) {
		/* The tree has no record above the root: /0 is its two halves. */
		uint8_t hi[16] = { 0x80 };

		if (mmdbw__check(w, a, 1) || mmdbw__check(w, hi, 1) ||
		    mmdbw__record(w, country, schema, &rec) ||
		    mmdbw__insert(w, a, 1, MMDBW_DATA | rec) ||
		    mmdbw__insert(w, hi, 1, MMDBW_DATA | rec))
			return -1;
	} else if (mmdbw__check(w, a, bits) || mmdbw__record(w, country, schema, &rec) ||
		   mmdbw__insert(w, a, bits, MMDBW_DATA | rec)) {
		return -1;
	}
	if (max == 32)
		w->v4_prefixes++;
	else
		w->v6_prefixes++;
	return 0;
}

/* "10.1.0.0/16", "2001:db8::/32", or a bare address (a host route). 0 or -1. */
static inline int mmdbw_parse_cidr(const char *cidr, int *family, uint8_t addr[16],
				   unsigned *prefixlen)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(cidr, '/');
	size_t n = slash ? (size_t)(slash - cidr) : strlen(cidr);
	unsigned len = 0;

	if (!n || n >= INET6_ADDRSTRLEN)
		return -1;
	memcpy(buf, cidr, n);
	buf[n] = 0;
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, buf, addr) == 1)
		*family = 4;
	else if (inet_pton(AF_INET6, buf, addr) == 1)
		*family = 6;
	else
		return -1;
	if (!slash) {
		*prefixlen = *family == 4 ? 32 : 128;
		return 0;
	}
	if (!slash[1] || strlen(slash + 1) > 3)
		return -1;
	for (const char *p = slash + 1; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		len = len * 10 + (*p - '0');
	}
	if (len > (*family == 4 ? 32U : 128U))
		return -1;
	*prefixlen = len;
	return 0;
}

/*
 * cidr "10.1.0.0/16", "2001:db8::/32", a bare address = host route. In an
 * IPv6 database an IPv4 cidr is stored at ::a.b.c.d/(96+len), as MaxMind
 * does. Host bits must be zero. Returns 0, or -1 (bad cidr, IPv6 into an
 * IPv4 db, overlapping an existing prefix: one containing another).
 */
static inline int mmdbw_add(struct mmdbw *w, const char *cidr, const char *country,
			    enum mmdbw_schema schema)
{
	uint8_t a[16];
	unsigned len;
	int family;

	if (!cidr || mmdbw_parse_cidr(cidr, &family, a, &len)) {
		w->err[0] = 0;
		errno = EINVAL;
		return mmdbw__fail(w, "bad CIDR \"%s\"", cidr ? cidr : "(null)");
	}
	return mmdbw_add_bin(w, family, a, len, country, schema);
}

/*
 * IPv6 database: make ::ffff:0:0/96, 2001::/32 and 2002::/16 point at the
 * ::/96 node (the IPv4 subtree), as MaxMind's databases do, so one IPv4
 * record is reachable under four paths. Prefixes already added inside those
 * ranges make the aliasing impossible: mmdbw_write then fails with EEXIST;
 * prefixes added there later are refused.
 */
static inline void mmdbw_alias_ipv4(struct mmdbw *w)
{
	static const uint8_t aliases[3][16] = {
		{ [10] = 0xff, [11] = 0xff },
		{ 0x20, 0x01 },
		{ 0x20, 0x02 },
	};
	static const unsigned bits[3] = { 96, 32, 16 };

	if (w->ip_version != 6 || w->alias)
		return;
	w->alias = true;
	for (int i = 0; i < 3; i++)
		if (mmdbw__check(w, aliases[i], bits[i]) ||
		    mmdbw__insert(w, aliases[i], bits[i], MMDBW_ALIAS))
			w->alias_conflict = true;
}

/* ---- writing --------------------------------------------------------------- */

struct mmdbw__buf {
	uint8_t *p;
	size_t len, cap;
	bool oom;
};

static inline void mmdbw__put(struct mmdbw__buf *b, const void *data, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		uint8_t *p;

		while (cap < b->len + n)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

/* Control byte(s): type 1-7 in the top 3 bits, else 0 and an extended type byte (type - 7). */
static inline void mmdbw__ctrl(struct mmdbw__buf *b, unsigned type, uint32_t size)
{
	uint8_t c[5];
	size_t n = 1;

	c[0] = type <= 7 ? type << 5 : 0;
	if (type > 7)
		c[n++] = type - 7;
	if (size < 29) {
		c[0] |= size;
	} else if (size < 29 + 256) {
		c[0] |= 29;
		c[n++] = size - 29;
	} else if (size < 285 + 65536) {
		c[0] |= 30;
		c[n++] = (size - 285) >> 8;
		c[n++] = size - 285;
	} else {
		c[0] |= 31;
		size -= 65821;
		c[n++] = size >> 16;
		c[n++] = size >> 8;
		c[n++] = size;
	}
	mmdbw__put(b, c, n);
}

#define MMDBW_T_STRING 2
#define MMDBW_T_UINT16 5
#define MMDBW_T_UINT32 6
#define MMDBW_T_MAP    7
#define MMDBW_T_UINT64 9
#define MMDBW_T_ARRAY  11

static inline void mmdbw__str(struct mmdbw__buf *b, const char *s)
{
	size_t n = strlen(s);

	mmdbw__ctrl(b, MMDBW_T_STRING, n);
	mmdbw__put(b, s, n);
}

/* Unsigned integers take as few bytes as their value needs (zero takes none). */
static inline void mmdbw__uint(struct mmdbw__buf *b, unsigned type, uint64_t v)
{
	uint8_t be[8];
	unsigned n = 0;

	for (uint64_t x = v; x; x >>= 8)
		n++;
	for (unsigned i = 0; i < n; i++)
		be[i] = v >> (8 * (n - 1 - i));
	mmdbw__ctrl(b, type, n);
	mmdbw__put(b, be, n);
}

/* Countries by continent: real codes for realistic records and random databases. */
static const char *const mmdbw__continents[7][2] = {
	{ "AF", "DZ AO BJ BW BF BI CV CM CF TD KM CG CD CI DJ EG GQ ER SZ ET GA GM GH GN GW KE LS "
		"LR LY MG MW ML MR MU YT MA MZ NA NE NG RE RW SH ST SN SC SL SO ZA SS SD TZ TG TN "
		"UG EH ZM ZW" },
	{ "AN", "AQ BV GS HM TF" },
	{ "AS", "AF AM AZ BH BD BT IO BN KH CN CY GE HK IN ID IR IQ IL JP JO KZ KW KG LA LB MO MY "
		"MV MN MM NP KP OM PK PS PH QA SA SG KR LK SY TW TJ TH TL TR TM AE UZ VN YE CX "
		"CC" },
	{ "EU", "AX AL AD AT BY BE BA BG HR CZ DK EE FO FI FR DE GI GR GG HU IS IE IM IT JE XK LV "
		"LI LT LU MT MD MC ME NL MK NO PL PT RO RU SM RS SK SI ES SJ SE CH UA GB VA" },
	{ "NA", "AI AG AW BS BB BZ BM BQ VG CA KY CR CU CW DM DO SV GL GD GP GT HT HN JM MQ MX MS "
		"NI PA PR BL KN LC MF PM VC SX TT TC US VI UM" },
	{ "OC", "AS AU CK FJ PF GU KI MH FM NR NC NZ NU NF MP PW PG PN WS SB TK TO TV VU WF" },
	{ "SA", "AR BO BR CL CO EC FK GF GY PY PE SR UY VE" },
};

/* The continent of an upper-case ISO code, or NULL. */
static inline const char *mmdbw__continent(const char *cc)
{
	if (strlen(cc) != 2)
		return NULL;
	for (int i = 0; i < 7; i++)
		for (const char *p = mmdbw__continents[i][1]; *p; p += p[2] ? 3 : 2)
			if (p[0] == cc[0] && p[1] == cc[1])
				return mmdbw__continents[i][0];
	return NULL;
}

static inline void mmdbw__data_record(struct mmdbw__buf *b, const struct mmdbw_record *r)
{
	const char *cont;

	switch (r->schema) {
	case MMDBW_GEOIP2:
		cont = mmdbw__continent(r->country);
		mmdbw__ctrl(b, MMDBW_T_MAP, cont ? 3 : 2);
		mmdbw__str(b, "country");
		mmdbw__ctrl(b, MMDBW_T_MAP, 2);
		mmdbw__str(b, "iso_code");
		mmdbw__str(b, r->country);
		mmdbw__str(b, "names");
		mmdbw__ctrl(b, MMDBW_T_MAP, 1);
		mmdbw__str(b, "en");
		mmdbw__str(b, r->country);	/* a name is not what the tests look at */
		mmdbw__str(b, "registered_country");
		mmdbw__ctrl(b, MMDBW_T_MAP, 1);
		mmdbw__str(b, "iso_code");
		mmdbw__str(b, r->country);
		if (cont) {
			mmdbw__str(b, "continent");
			mmdbw__ctrl(b, MMDBW_T_MAP, 1);
			mmdbw__str(b, "code");
			mmdbw__str(b, cont);
		}
		break;
	case MMDBW_GEOIP2_REGISTERED:
		mmdbw__ctrl(b, MMDBW_T_MAP, 1);
		mmdbw__str(b, "registered_country");
		mmdbw__ctrl(b, MMDBW_T_MAP, 1);
		mmdbw__str(b, "iso_code");
		mmdbw__str(b, r->country);
		break;
	case MMDBW_FLAT:
		mmdbw__ctrl(b, MMDBW_T_MAP, 1);
		mmdbw__str(b, "country_code");
		mmdbw__str(b, r->country);
		break;
	default:
		mmdbw__ctrl(b, MMDBW_T_MAP, 1);
		mmdbw__str(b, "continent");
		mmdbw__ctrl(b, MMDBW_T_MAP, 1);
		mmdbw__str(b, "code");
		mmdbw__str(b, "EU");
		break;
	}
}

static const uint8_t mmdbw__marker[14] = "\xAB\xCD\xEFMaxMind.com";

/* Everything but the tree, laid out: what mmdbw_write and mmdbw_stats share. */
struct mmdbw__layout {
	struct mmdbw__buf data, meta;
	uint32_t *offsets;	/* of each data record */
	uint32_t alias_target;	/* what MMDBW_ALIAS resolves to */
	unsigned record_size;
	uint64_t tree_bytes, file_bytes;
};

static inline void mmdbw__layout_free(struct mmdbw__layout *l)
{
	free(l->data.p);
	free(l->meta.p);
	free(l->offsets);
}

static inline int mmdbw__lay_out(const struct mmdbw *w, struct mmdbw__layout *l)
{
	uint64_t need;
	uint32_t node = 0;

	memset(l, 0, sizeof(*l));
	if (w->alias_conflict) {
		errno = EEXIST;
		return -1;
	}
	l->offsets = malloc((w->n_recs + 1) * sizeof(*l->offsets));
	if (!l->offsets) {
		errno = ENOMEM;
		return -1;
	}
	for (uint32_t k = 0; k < w->n_recs; k++) {
		l->offsets[k] = l->data.len;
		mmdbw__data_record(&l->data, &w->recs[k]);
	}
	/* The aliases lead where ::/96 does: the IPv4 subtree, a record above it, or nowhere. */
	l->alias_target = MMDBW_EMPTY;
	if (w->alias)
		for (int i = 0; i < 96; i++) {
			uint32_t v = w->nodes[node * 2];

			if (i == 95 || v == MMDBW_EMPTY || (v & MMDBW_DATA)) {
				l->alias_target = v;
				break;
			}
			node = v;
		}

	/* Values run up to node_count + 16 + the data section: the record size must hold them. */
	need = w->n_nodes + 16 + l->data.len;
	l->record_size = w->record_size;
	if (!l->record_size)
		l->record_size = need < (1ULL << 24) ? 24 : need < (1ULL << 28) ? 28 : 32;
	if (need >= (1ULL << l->record_size)) {
		mmdbw__layout_free(l);
		errno = E2BIG;
		return -1;
	}
	l->tree_bytes = (uint64_t)w->n_nodes * l->record_size / 4;

	mmdbw__ctrl(&l->meta, MMDBW_T_MAP, 9);
	mmdbw__str(&l->meta, "binary_format_major_version");
	mmdbw__uint(&l->meta, MMDBW_T_UINT16, 2);
	mmdbw__str(&l->meta, "binary_format_minor_version");
	mmdbw__uint(&l->meta, MMDBW_T_UINT16, 0);
	mmdbw__str(&l->meta, "build_epoch");
	mmdbw__uint(&l->meta, MMDBW_T_UINT64, w->epoch);
	mmdbw__str(&l->meta, "database_type");
	mmdbw__str(&l->meta, w->type);
	mmdbw__str(&l->meta, "description");
	mmdbw__ctrl(&l->meta, MMDBW_T_MAP, 1);
	mmdbw__str(&l->meta, "en");
	mmdbw__str(&l->meta, "smtpwall test database (tests/lib/mmdb_writer.h)");
	mmdbw__str(&l->meta, "ip_version");
	mmdbw__uint(&l->meta, MMDBW_T_UINT16, w->ip_version);
	mmdbw__str(&l->meta, "languages");
	mmdbw__ctrl(&l->meta, MMDBW_T_ARRAY, 1);
	mmdbw__str(&l->meta, "en");
	mmdbw__str(&l->meta, "node_count");
	mmdbw__uint(&l->meta, MMDBW_T_UINT32, w->n_nodes);
	mmdbw__str(&l->meta, "record_size");
	mmdbw__uint(&l->meta, MMDBW_T_UINT16, l->record_size);
	if (l->data.oom || l->meta.oom) {
		mmdbw__layout_free(l);
		errno = ENOMEM;
		return -1;
	}
	l->file_bytes = l->tree_bytes + 16 + l->data.len + sizeof(mmdbw__marker) + l->meta.len;
	return 0;
}

/* A tree value as the file spells it. */
static inline uint64_t mmdbw__value(const struct mmdbw *w, const struct mmdbw__layout *l,
				    uint32_t v)
{
	if (v == MMDBW_ALIAS)
		v = l->alias_target;
	if (v == MMDBW_EMPTY)
		return w->n_nodes;
	if (v & MMDBW_DATA)
		return w->n_nodes + 16 + l->offsets[v & ~MMDBW_DATA];
	return v;
}

static inline int mmdbw__write_fd(const struct mmdbw *w, const struct mmdbw__layout *l, FILE *f)
{
	static const uint8_t zeros[16];
	uint8_t buf[65536];
	size_t n = 0;
	unsigned rs = l->record_size;

	for (size_t i = 0; i < w->n_nodes; i++) {
		uint64_t a = mmdbw__value(w, l, w->nodes[i * 2]);
		uint64_t b = mmdbw__value(w, l, w->nodes[i * 2 + 1]);
		uint8_t *p = buf + n;

		if (rs == 24) {
			p[0] = a >> 16, p[1] = a >> 8, p[2] = a;
			p[3] = b >> 16, p[4] = b >> 8, p[5] = b;
		} else if (rs == 28) {
			/* The middle byte: the left record's top nibble, then the right's. */
			p[0] = a >> 16, p[1] = a >> 8, p[2] = a;
			p[3] = (a >> 24 & 0x0f) << 4 | (b >> 24 & 0x0f);
			p[4] = b >> 16, p[5] = b >> 8, p[6] = b;
		} else {
			p[0] = a >> 24, p[1] = a >> 16, p[2] = a >> 8, p[3] = a;
			p[4] = b >> 24, p[5] = b >> 16, p[6] = b >> 8, p[7] = b;
		}
		n += rs / 4;
		if (n + 8 > sizeof(buf)) {
			if (fwrite(buf, 1, n, f) != n)
				return -1;
			n = 0;
		}
	}
	if ((n && fwrite(buf, 1, n, f) != n) || fwrite(zeros, 1, 16, f) != 16 ||
	    (l->data.len && fwrite(l->data.p, 1, l->data.len, f) != l->data.len) ||
	    fwrite(mmdbw__marker, 1, sizeof(mmdbw__marker), f) != sizeof(mmdbw__marker) ||
	    fwrite(l->meta.p, 1, l->meta.len, f) != l->meta.len)
		return -1;
	return 0;
}

/*
 * Write the database to @path: 0, or -1 with errno (E2BIG: the tree does
 * not fit the record size; EEXIST: the IPv4 aliases collide with prefixes).
 * A regular file is replaced atomically (written beside it, renamed over),
 * as a database update would be, so a reader never sees half a file.
 */
static inline int mmdbw_write(const struct mmdbw *w, const char *path)
{
	struct mmdbw__layout l;
	char tmp[4096];
	struct stat st;
	bool direct;
	FILE *f;
	int e;

	if (mmdbw__lay_out(w, &l))
		return -1;
	direct = !stat(path, &st) && !S_ISREG(st.st_mode);	/* /dev/stdout and the like */
	if (direct)
		snprintf(tmp, sizeof(tmp), "%s", path);
	else if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp)) {
		mmdbw__layout_free(&l);
		errno = ENAMETOOLONG;
		return -1;
	}
	f = fopen(tmp, "we");
	if (!f) {
		e = errno;
		mmdbw__layout_free(&l);
		errno = e;
		return -1;
	}
	setvbuf(f, NULL, _IOFBF, 1 << 20);
	e = mmdbw__write_fd(w, &l, f) ? errno : 0;
	if (fclose(f) && !e)
		e = errno ? errno : EIO;
	if (!e && !direct && rename(tmp, path))
		e = errno;
	if (e && !direct)
		unlink(tmp);
	mmdbw__layout_free(&l);
	errno = e;
	return e ? -1 : 0;
}

/* What mmdbw_write would produce, without writing it. */
struct mmdbw_stats {
	uint64_t v4_prefixes, v6_prefixes;	/* as added (IPv4 / IPv6 family) */
	uint64_t nodes;
	uint32_t data_records;
	unsigned record_size;			/* the one written (resolves 0) */
	uint64_t bytes;				/* file size */
};

static inline int mmdbw_stats(const struct mmdbw *w, struct mmdbw_stats *s)
{
	struct mmdbw__layout l;

	memset(s, 0, sizeof(*s));
	s->v4_prefixes = w->v4_prefixes;
	s->v6_prefixes = w->v6_prefixes;
	s->nodes = w->n_nodes;
	s->data_records = w->n_recs;
	if (mmdbw__lay_out(w, &l))
		return -1;
	s->record_size = l.record_size;
	s->bytes = l.file_bytes;
	mmdbw__layout_free(&l);
	return 0;
}

/* ---- a realistic random database -------------------------------------------- */

/* Told every prefix generated: @country NULL for a record without one. */
typedef void (*mmdbw_prefix_fn)(void *ctx, int family, const uint8_t *addr, unsigned prefixlen,
				const char *country);

struct mmdbw__rng {
	uint64_t s;
};

/* splitmix64: small, fast, and the same sequence on every machine. */
static inline uint64_t mmdbw__next(struct mmdbw__rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint64_t mmdbw__below(struct mmdbw__rng *r, uint64_t n)
{
	return n ? mmdbw__next(r) % n : 0;
}

/* Prefix-length mixes, weights per 100000. */
struct mmdbw__len_weight {
	uint8_t len;
	uint32_t weight;
};

/* IPv4: mostly /16-/24 (half of all /24), a few /8-/15, some /25-/32. */
static const struct mmdbw__len_weight mmdbw__v4_lens[] = {
	{ 8, 1 },     { 9, 1 },      { 10, 2 },     { 11, 3 },     { 12, 5 },    { 13, 8 },
	{ 14, 12 },   { 15, 18 },    { 16, 600 },   { 17, 1000 },  { 18, 1800 }, { 19, 3000 },
	{ 20, 5000 }, { 21, 7000 },  { 22, 11000 }, { 23, 12000 }, { 24, 53500 }, { 25, 1200 },
	{ 26, 1000 }, { 27, 800 },   { 28, 600 },   { 29, 500 },   { 30, 400 },  { 31, 100 },
	{ 32, 450 },
};

/* IPv6: mostly /29-/48 (/32 and /48 above all), some /49-/64, a few /65-/128. */
static const struct mmdbw__len_weight mmdbw__v6_lens[] = {
	{ 19, 100 },  { 20, 150 },  { 21, 150 },  { 22, 200 },	{ 23, 200 },   { 24, 300 },
	{ 25, 200 },  { 26, 300 },  { 27, 400 },  { 28, 1000 }, { 29, 8000 },  { 30, 1500 },
	{ 31, 1000 }, { 32, 25000 }, { 33, 1000 }, { 34, 1000 }, { 35, 1000 }, { 36, 2000 },
	{ 37, 500 },  { 38, 500 },  { 39, 500 },  { 40, 3000 }, { 41, 300 },   { 42, 500 },
	{ 43, 300 },  { 44, 2500 }, { 45, 500 },  { 46, 1000 }, { 47, 1500 },  { 48, 34600 },
	{ 49, 200 },  { 50, 200 },  { 51, 200 },  { 52, 500 },	{ 53, 100 },   { 54, 100 },
	{ 55, 100 },  { 56, 4000 }, { 57, 100 },  { 58, 100 },	{ 59, 100 },   { 60, 500 },
	{ 61, 100 },  { 62, 100 },  { 63, 100 },  { 64, 4000 }, { 80, 50 },    { 96, 50 },
	{ 112, 50 },  { 120, 50 },  { 126, 50 },  { 128, 50 },
};

static inline unsigned mmdbw__pick_len(struct mmdbw__rng *r, const struct mmdbw__len_weight *t,
				       size_t n)
{
	uint64_t x = mmdbw__below(r, 100000);

	for (size_t i = 0; i < n; i++) {
		if (x < t[i].weight)
			return t[i].len;
		x -= t[i].weight;
	}
	return t[n - 1].len;
}

/* ~250 codes, the busiest first, drawn with Zipf weights 1/rank. */
struct mmdbw__countries {
	char code[260][3];
	uint64_t cum[260];
	unsigned n;
};

static inline void mmdbw__countries_init(struct mmdbw__countries *c)
{
	static const char busiest[] = "US CN JP DE GB KR BR FR CA IT NL AU RU IN ES SE MX TW PL ZA "
				      "CH AR ID TR VN UA IR EG BE CZ AT DK FI NO IL SG HK TH MY CL "
				      "CO RO PT GR HU NZ IE PH SA AE PK BD NG KE";
	uint64_t total = 0;

	c->n = 0;
	for (int pass = 0; pass < 8; pass++) {
		const char *list = pass ? mmdbw__continents[pass - 1][1] : busiest;

		for (const char *p = list; *p; p += p[2] ? 3 : 2) {
			bool seen = false;

			for (unsigned i = 0; i < c->n && !seen; i++)
				seen = c->code[i][0] == p[0] && c->code[i][1] == p[1];
			if (seen || c->n == 260)
				continue;
			c->code[c->n][0] = p[0];
			c->code[c->n][1] = p[1];
			c->code[c->n][2] = 0;
			total += 1000000 / (c->n + 1);
			c->cum[c->n++] = total;
		}
	}
}

static inline const char *mmdbw__pick_country(struct mmdbw__rng *r,
					      const struct mmdbw__countries *c)
{
	uint64_t x = mmdbw__below(r, c->cum[c->n - 1]);
	unsigned lo = 0, hi = c->n - 1;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (c->cum[mid] > x)
			hi = mid;
		else
			lo = mid + 1;
	}
	return c->code[lo];
}

typedef unsigned __int128 mmdbw__u128;

static inline mmdbw__u128 mmdbw__v6(uint16_t a, uint16_t b)
{
	return (mmdbw__u128)a << 112 | (mmdbw__u128)b << 96;
}

static inline mmdbw__u128 mmdbw__align(mmdbw__u128 v, unsigned host_bits)
{
	mmdbw__u128 m = ((mmdbw__u128)1 << host_bits) - 1;

	return (v + m) & ~m;
}

/*
 * One family's prefixes: runs ("blocks") of 1-64 prefixes laid end to end,
 * largest first so each is aligned without waste, one country for most of
 * a block as an allocation would have, random gaps between blocks. The
 * layout is decided by the generator alone, so a dry run (@w NULL) tells
 * whether @n prefixes fit the address space with lengths @shift longer.
 */
static inline int mmdbw__gen(struct mmdbw *w, int family, uint64_t n, uint64_t seed, unsigned shift,
			     enum mmdbw_schema schema, mmdbw_prefix_fn each, void *ctx)
{
	const struct mmdbw__len_weight *lens = family == 4 ? mmdbw__v4_lens : mmdbw__v6_lens;
	size_t n_lens = family == 4 ? sizeof(mmdbw__v4_lens) / sizeof(mmdbw__v4_lens[0])
				    : sizeof(mmdbw__v6_lens) / sizeof(mmdbw__v6_lens[0]);
	unsigned bits = family == 4 ? 32 : 128;
	struct mmdbw__rng rng = { seed * 0x2545f4914f6cdd1dULL + (unsigned)family };
	mmdbw__u128 cur, end, expect = 0;
	struct mmdbw__countries cc;
	uint64_t placed = 0;

	mmdbw__countries_init(&cc);
	if (family == 4) {
		/* 1.0.0.0 up to multicast. */
		cur = 0x01000000;
		end = 0xe0000000;
		/* Address space per 100000 prefixes, expected from the mix. */
		for (size_t i = 0; i < n_lens; i++) {
			unsigned l = lens[i].len + shift > 32 ? 32 : lens[i].len + shift;

			expect += (mmdbw__u128)lens[i].weight << (32 - l);
		}
	} else {
		/* Global unicast from 2001:200::, past Teredo (2001::/32). */
		cur = mmdbw__v6(0x2001, 0x0200);
		end = mmdbw__v6(0x4000, 0);
	}
	while (placed < n) {
		unsigned k = 1 + mmdbw__below(&rng, 64), blen[64];
		const char *block_cc = mmdbw__pick_country(&rng, &cc);
		mmdbw__u128 size = 0, gap;

		if (k > n - placed)
			k = n - placed;
		for (unsigned i = 0; i < k; i++) {
			unsigned l = mmdbw__pick_len(&rng, lens, n_lens) + shift, j = i;

			if (l > bits)
				l = bits;
			for (; j > 0 && blen[j - 1] > l; j--)
				blen[j] = blen[j - 1];
			blen[j] = l;
			size += (mmdbw__u128)1 << (bits - l);
		}
		if (family == 4) {
			/*
			 * Gaps share out what the remaining prefixes will leave
			 * free (half as much again as their expected size, for
			 * alignment), so the space is used evenly whatever the
			 * count; never so much that the rest cannot follow.
			 */
			mmdbw__u128 left = end - cur, need = expect * (n - placed) / 100000 * 3 / 2;
			mmdbw__u128 rest = expect * (n - placed - k) / 100000;
			uint64_t blocks = (n - placed) / 32 + 1;
			uint64_t gap_avg = left > need ? (uint64_t)((left - need) / blocks) : 0;

			gap = gap_avg ? mmdbw__below(&rng, gap_avg * 2 + 1) : 0;
			if (mmdbw__align(cur + gap, bits - blen[0]) + size + rest > end)
				gap = 0;
		} else {
			gap = (size >> 8) * mmdbw__below(&rng, 512);	/* about the block's size */
		}
		/* Aligned for the largest; the rest follow aligned by construction. */
		cur = mmdbw__align(cur + gap, bits - blen[0]);
		/* Keep out of 6to4 (2002::/16), which an IPv6 database aliases to IPv4. */
		if (family == 6 && cur < mmdbw__v6(0x2003, 0) && cur + size > mmdbw__v6(0x2002, 0))
			cur = mmdbw__v6(0x2003, 0);
		if (cur + size > end || cur + size < cur) {
			errno = ERANGE;
			return -1;
		}
		for (unsigned i = 0; i < k; i++) {
			uint64_t roll = mmdbw__below(&rng, 100);
			const char *code = roll == 0 ? NULL : roll < 86 ? block_cc
							     : mmdbw__pick_country(&rng, &cc);
			uint8_t a[16];

			for (unsigned j = 0; j < bits / 8; j++)
				a[j] = cur >> (bits - 8 - 8 * j);
			if (w) {
				if (mmdbw_add_bin(w, family, a, blen[i], code, schema))
					return -1;
				if (each)
					each(ctx, family, a, blen[i], code);
			}
			cur += (mmdbw__u128)1 << (bits - blen[i]);
		}
		placed += k;
	}
	return 0;
}

/*
 * @n4 IPv4 and @n6 IPv6 non-overlapping prefixes, the same for a given
 * @seed: IPv4 mostly /16-/24 with some /8-/15 and /25-/32, IPv6 /19-/48
 * with some /49-/64 and a few /65-/128; ~250 countries, skewed; 1 % of
 * records without a country. If @n4 prefixes do not fit IPv4 with that
 * mix, all IPv4 lengths grow alike until they do. @each (optional) is told
 * every prefix, in address order within each family.
 */
static inline int mmdbw_add_random_split(struct mmdbw *w, uint64_t n4, uint64_t n6, uint64_t seed,
					 enum mmdbw_schema schema, mmdbw_prefix_fn each, void *ctx)
{
	unsigned shift = 0;

	w->err[0] = 0;
	if (n6 && w->ip_version != 6) {
		errno = EAFNOSUPPORT;
		return mmdbw__fail(w, "IPv6 prefixes asked of an IPv4 database");
	}
	while (mmdbw__gen(NULL, 4, n4, seed, shift, schema, NULL, NULL))
		if (++shift > 24) {
			errno = ERANGE;
			return mmdbw__fail(w, "%llu IPv4 prefixes do not fit the address space",
					   (unsigned long long)n4);
		}
	if (mmdbw__gen(NULL, 6, n6, seed, 0, schema, NULL, NULL)) {
		errno = ERANGE;
		return mmdbw__fail(w, "%llu IPv6 prefixes do not fit the address space",
				   (unsigned long long)n6);
	}
	if (mmdbw__gen(w, 4, n4, seed, shift, schema, each, ctx) ||
	    mmdbw__gen(w, 6, n6, seed, 0, schema, each, ctx))
		return -1;
	return 0;
}

/* @n prefixes, @v6_percent of them IPv6 (forced to 0 in an IPv4 database). */
static inline int mmdbw_add_random(struct mmdbw *w, uint64_t n, unsigned v6_percent, uint64_t seed,
				   enum mmdbw_schema schema, mmdbw_prefix_fn each, void *ctx)
{
	uint64_t n6 = w->ip_version == 6 ? n * (v6_percent > 100 ? 100 : v6_percent) / 100 : 0;

	return mmdbw_add_random_split(w, n - n6, n6, seed, schema, each, ctx);
}

/* ---- damaged files ------------------------------------------------------------ */

enum mmdbw_corruption {
	MMDBW_CORRUPT_TRUNCATE,	/* cut in the middle of the search tree */
	MMDBW_CORRUPT_MAGIC,	/* the metadata marker destroyed */
	MMDBW_CORRUPT_TREE,	/* a search-tree record points past the end of the file */
	MMDBW_CORRUPT_LOOP,	/* a deep search-tree record points back up the tree: a cycle */
	MMDBW_CORRUPT_DATA,	/* a record's country field is a pointer out of the data section */
	MMDBW_CORRUPT_TYPE,	/* a record's country field is a uint16, not a string */
};

static const char *const mmdbw__corruption_names[] = { "truncate", "magic", "tree",
						       "loop",	   "data",  "type" };
#define MMDBW_CORRUPTIONS 6

static inline int mmdbw_corruption_parse(const char *name)
{
	for (int i = 0; i < MMDBW_CORRUPTIONS; i++)
		if (!strcmp(name, mmdbw__corruption_names[i]))
			return i;
	return -1;
}

/* What we need of a file: its layout from the metadata. */
struct mmdbw__file {
	uint8_t *b;
	size_t len;
	size_t marker;		/* offset of the last metadata marker */
	uint64_t node_count, record_size;
	size_t tree_bytes, data_start;	/* the data section: [data_start, marker) */
};

/* A control byte at *pos: type (1 = pointer, whose size is its byte count) and size. */
static inline int mmdbw__dec_ctrl(const uint8_t *b, size_t len, size_t *pos, unsigned *type,
				  uint32_t *size)
{
	unsigned t, s, extra;
	uint32_t v = 0;
	uint8_t c;

	if (*pos >= len)
		return -1;
	c = b[(*pos)++];
	t = c >> 5;
	if (t == 1) {
		*type = 1;
		*size = ((c >> 3) & 3) + 1;
		return 0;
	}
	if (t == 0) {
		if (*pos >= len)
			return -1;
		t = 7 + b[(*pos)++];
	}
	s = c & 0x1f;
	extra = s >= 29 ? s - 28 : 0;
	if (*pos + extra > len)
		return -1;
	for (unsigned i = 0; i < extra; i++)
		v = v << 8 | b[(*pos)++];
	*type = t;
	*size = s == 29 ? 29 + v : s == 30 ? 285 + v : s == 31 ? 65821 + v : s;
	return 0;
}

/* The data-section offset a pointer at @pos names. */
static inline uint64_t mmdbw__pointer(const uint8_t *b, size_t pos)
{
	uint8_t c = b[pos];
	unsigned ss = (c >> 3) & 3, vvv = c & 7;
	const uint8_t *p = b + pos + 1;

	switch (ss) {
	case 0:
		return (uint64_t)vvv << 8 | p[0];
	case 1:
		return 2048 + ((uint64_t)vvv << 16 | p[0] << 8 | p[1]);
	case 2:
		return 526336 + ((uint64_t)vvv << 24 | p[0] << 16 | p[1] << 8 | p[2]);
	default:
		return (uint64_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
	}
}

/* Step over the value at *pos. */
static inline int mmdbw__skip(const uint8_t *b, size_t len, size_t *pos, int depth)
{
	unsigned type;
	uint32_t size;

	if (depth > 32 || mmdbw__dec_ctrl(b, len, pos, &type, &size))
		return -1;
	switch (type) {
	case 7:		/* map */
		for (uint64_t i = 0; i < (uint64_t)size * 2; i++)
			if (mmdbw__skip(b, len, pos, depth + 1))
				return -1;
		return 0;
	case 11:	/* array */
		for (uint32_t i = 0; i < size; i++)
			if (mmdbw__skip(b, len, pos, depth + 1))
				return -1;
		return 0;
	case 14:	/* boolean: the value is the size */
		return 0;
	default:	/* a pointer's size is its byte count too */
		if (*pos + size > len)
			return -1;
		*pos += size;
		return 0;
	}
}

/* Where the value at @pos really is: a pointer's target, else @pos. */
static inline size_t mmdbw__follow(const struct mmdbw__file *f, size_t pos)
{
	if (pos < f->len && f->b[pos] >> 5 == 1 && pos + 5 <= f->len) {
		uint64_t off = mmdbw__pointer(f->b, pos);

		if (f->data_start + off < f->marker)
			return f->data_start + off;
	}
	return pos;
}

/* Is the string at @pos (following a pointer) @s? */
static inline bool mmdbw__is_str(const struct mmdbw__file *f, size_t pos, const char *s)
{
	unsigned type;
	uint32_t size;

	pos = mmdbw__follow(f, pos);
	if (mmdbw__dec_ctrl(f->b, f->len, &pos, &type, &size) || type != 2 || pos + size > f->len)
		return false;
	return size == strlen(s) && !memcmp(f->b + pos, s, size);
}

static inline int mmdbw__read_file_layout(struct mmdbw__file *f)
{
	size_t lo = f->len > 128 * 1024 ? f->len - 128 * 1024 : 0, pos;
	unsigned type;
	uint32_t size;

	f->marker = SIZE_MAX;
	/* The last marker in the file's last 128 KiB, as readers look for it. */
	for (size_t i = f->len >= sizeof(mmdbw__marker) ? f->len - sizeof(mmdbw__marker) + 1 : 0;
	     i-- > lo;)
		if (!memcmp(f->b + i, mmdbw__marker, sizeof(mmdbw__marker))) {
			f->marker = i;
			break;
		}
	if (f->marker == SIZE_MAX)
		return -1;
	pos = f->marker + sizeof(mmdbw__marker);
	if (mmdbw__dec_ctrl(f->b, f->len, &pos, &type, &size) || type != 7)
		return -1;
	f->node_count = f->record_size = 0;
	for (uint32_t i = 0; i < size; i++) {
		size_t key = pos, val;
		unsigned vt;
		uint32_t vs;

		if (mmdbw__skip(f->b, f->len, &pos, 0))
			return -1;
		val = pos;
		if (mmdbw__dec_ctrl(f->b, f->len, &val, &vt, &vs))
			return -1;
		if ((vt == 5 || vt == 6) && vs <= 4 && val + vs <= f->len) {
			uint64_t v = 0;

			for (uint32_t j = 0; j < vs; j++)
				v = v << 8 | f->b[val + j];
			if (mmdbw__is_str(f, key, "node_count"))
				f->node_count = v;
			else if (mmdbw__is_str(f, key, "record_size"))
				f->record_size = v;
		}
		if (mmdbw__skip(f->b, f->len, &pos, 0))
			return -1;
	}
	if (!f->node_count ||
	    (f->record_size != 24 && f->record_size != 28 && f->record_size != 32))
		return -1;
	f->tree_bytes = f->node_count * f->record_size / 4;
	f->data_start = f->tree_bytes + 16;
	if (f->data_start > f->marker)
		return -1;
	return 0;
}

static inline uint64_t mmdbw__get_record(const struct mmdbw__file *f, uint64_t node, int right)
{
	const uint8_t *p = f->b + node * f->record_size / 4;

	if (f->record_size == 24)
		return right ? (uint64_t)p[3] << 16 | p[4] << 8 | p[5]
			     : (uint64_t)p[0] << 16 | p[1] << 8 | p[2];
	if (f->record_size == 28)
		return right ? (uint64_t)(p[3] & 0x0f) << 24 | p[4] << 16 | p[5] << 8 | p[6]
			     : (uint64_t)(p[3] >> 4) << 24 | p[0] << 16 | p[1] << 8 | p[2];
	p += right ? 4 : 0;
	return (uint64_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

static inline void mmdbw__set_record(struct mmdbw__file *f, uint64_t node, int right, uint64_t v)
{
	uint8_t *p = f->b + node * f->record_size / 4;

	if (f->record_size == 24) {
		p += right ? 3 : 0;
		p[0] = v >> 16, p[1] = v >> 8, p[2] = v;
	} else if (f->record_size == 28) {
		if (right) {
			p[3] = (p[3] & 0xf0) | (v >> 24 & 0x0f);
			p[4] = v >> 16, p[5] = v >> 8, p[6] = v;
		} else {
			p[3] = (p[3] & 0x0f) | (v >> 24 & 0x0f) << 4;
			p[0] = v >> 16, p[1] = v >> 8, p[2] = v;
		}
	} else {
		p += right ? 4 : 0;
		p[0] = v >> 24, p[1] = v >> 16, p[2] = v >> 8, p[3] = v;
	}
}

/*
 * The country strings of the first data record that has any (country,
 * registered_country .iso_code, country_code); their control-byte offsets
 * in @out. Returns how many.
 */
static inline int mmdbw__country_fields(const struct mmdbw__file *f, size_t out[4])
{
	size_t pos = f->data_start;

	while (pos < f->marker) {
		size_t item = mmdbw__follow(f, pos), p = item;
		unsigned type;
		uint32_t size;
		int found = 0;

		if (mmdbw__dec_ctrl(f->b, f->marker, &p, &type, &size))
			return 0;
		for (uint32_t i = 0; type == 7 && i < size; i++) {
			size_t key = p, val;

			if (mmdbw__skip(f->b, f->marker, &p, 0))
				return 0;
			val = mmdbw__follow(f, p);
			if (mmdbw__is_str(f, key, "country_code") && found < 4) {
				out[found++] = val;
			} else if (mmdbw__is_str(f, key, "country") ||
				   mmdbw__is_str(f, key, "registered_country")) {
				size_t q = val;
				unsigned t2;
				uint32_t s2;

				if (mmdbw__dec_ctrl(f->b, f->marker, &q, &t2, &s2))
					return 0;
				for (uint32_t j = 0; t2 == 7 && j < s2; j++) {
					size_t k2 = q;

					if (mmdbw__skip(f->b, f->marker, &q, 0))
						return 0;
					if (mmdbw__is_str(f, k2, "iso_code") && found < 4)
						out[found++] = mmdbw__follow(f, q);
					if (mmdbw__skip(f->b, f->marker, &q, 0))
						return 0;
				}
			}
			if (mmdbw__skip(f->b, f->marker, &p, 0))
				return 0;
		}
		if (found)
			return found;
		if (mmdbw__skip(f->b, f->marker, &pos, 0))
			return 0;
	}
	return 0;
}

/*
 * Damage the database in @buf (its length in *@len) as @kind says. 0, or
 * -1 with errno: EINVAL (not a database we can read), ENOENT (nothing to
 * damage of that kind, e.g. no record names a country).
 */
static inline int mmdbw_corrupt_buf(uint8_t *buf, size_t *len, enum mmdbw_corruption kind)
{
	struct mmdbw__file f = { .b = buf, .len = *len };
	uint64_t max_value;
	size_t fields[4];
	int n;

	if (mmdbw__read_file_layout(&f)) {
		errno = EINVAL;
		return -1;
	}
	max_value = (1ULL << f.record_size) - 1;
	switch (kind) {
	case MMDBW_CORRUPT_TRUNCATE:
		*len = f.tree_bytes / 2 ? f.tree_bytes / 2 : 1;
		return 0;
	case MMDBW_CORRUPT_MAGIC:
		buf[f.marker + 3] ^= 0xff;	/* the 'M' */
		return 0;
	case MMDBW_CORRUPT_TREE:
		/* The last node with a data record: deep, reached only by a full walk. */
		for (uint64_t node = f.node_count; node-- > 0;)
			for (int right = 1; right >= 0; right--) {
				uint64_t v = mmdbw__get_record(&f, node, right);

				if (v <= f.node_count)
					continue;
				/* Past the end of the file, or as far as a record reaches. */
				v = f.node_count + f.len - f.tree_bytes + 1;
				if (v > max_value)
					v = max_value;
				if (v < f.node_count + (f.marker - f.tree_bytes)) {
					errno = ERANGE;
					return -1;
				}
				mmdbw__set_record(&f, node, right, v);
				return 0;
			}
		errno = ENOENT;
		return -1;
	case MMDBW_CORRUPT_LOOP: {
		/*
		 * Down the rightmost path to its last node, whose leaf record
		 * then points back at the root's child on that path: a cycle.
		 * Not at the root itself, which libmaxminddb already refuses
		 * as a record value; a loop further down only a full walk finds.
		 */
		uint64_t node = 0, depth = 0, back = 0;

		for (;;) {
			uint64_t r = mmdbw__get_record(&f, node, 1);
			uint64_t l = mmdbw__get_record(&f, node, 0);
			uint64_t next = r < f.node_count ? r : l < f.node_count ? l : 0;

			if (!next || ++depth > 128)
				break;
			if (depth == 1)
				back = next;
			node = next;
		}
		if (depth < 2) {
			errno = ENOENT;
			return -1;
		}
		mmdbw__set_record(&f, node, mmdbw__get_record(&f, node, 1) >= f.node_count, back);
		return 0;
	}
	case MMDBW_CORRUPT_DATA:
	case MMDBW_CORRUPT_TYPE:
		n = mmdbw__country_fields(&f, fields);
		if (!n) {
			errno = ENOENT;
			return -1;
		}
		for (int i = 0, changed = 0; i < n; i++) {
			/* Two-letter strings only: the replacement must keep the length. */
			if (buf[fields[i]] != 0x42) {
				if (i == n - 1 && !changed) {
					errno = ENOENT;
					return -1;
				}
				continue;
			}
			changed++;
			if (kind == MMDBW_CORRUPT_TYPE) {
				buf[fields[i]] = 0xa2;	/* uint16, 2 bytes: the letters, a number */
			} else {
				/* A 3-byte pointer to offset 526335, past our data sections. */
				if (f.marker - f.data_start <= 526335) {
					buf[fields[i]] = 0x2f;
					buf[fields[i] + 1] = 0xff;
					buf[fields[i] + 2] = 0xff;
				} else {
					errno = ERANGE;
					return -1;
				}
			}
		}
		return 0;
	}
	errno = EINVAL;
	return -1;
}

/* Read @in, damage it, write @out. 0 or -1 with errno. */
static inline int mmdbw_corrupt_file(const char *in, const char *out, enum mmdbw_corruption kind)
{
	FILE *f = fopen(in, "rbe");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;
	int e = 0;

	if (!f)
		return -1;
	do {
		if (len == cap) {
			uint8_t *p = realloc(buf, cap = cap ? cap * 2 : 1 << 20);

			if (!p) {
				e = ENOMEM;
				break;
			}
			buf = p;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n);
	if (!e && ferror(f))
		e = EIO;
	fclose(f);
	if (!e && mmdbw_corrupt_buf(buf, &len, kind))
		e = errno;
	if (!e) {
		f = fopen(out, "wbe");
		if (!f)
			e = errno;
		else if (fwrite(buf, 1, len, f) != len)
			e = errno ? errno : EIO;
		if (f && fclose(f) && !e)
			e = errno ? errno : EIO;
	}
	free(buf);
	errno = e;
	return e ? -1 : 0;
}

#endif
