// SPDX-License-Identifier: GPL-2.0
/*
 * Country data from a MaxMind-format database into the kernel.
 *
 * libmaxminddb answers "which record holds this address" but cannot list
 * its records, so the whole search tree is walked with MMDB_read_node from
 * node 0. Every data record reached is a prefix (the path to it) with a
 * country; the leaves of a search tree never overlap, so the prefixes can
 * be written into the tables in any order.
 *
 * IPv6 databases keep IPv4 under ::/96 and make ::ffff:0:0/96, 2001::/32
 * and 2002::/16 point at that same subtree. The walk enters it only through
 * ::/96, so each IPv4 record is loaded once.
 *
 * A database is hostile input like any other: a node index beyond the tree,
 * a record beyond the data section, a tree that loops back on itself, a
 * country field of the wrong type. Each is an error naming the file; the
 * tables in force stay as they are.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <maxminddb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "bus.h"
#include "geo.h"
#include "kernel.h"
#include "log.h"





/* ---- lookups (the program's walk: include/smtpwall/geo_walk.h) ------------ */

/* A table in memory: @chunks chunks of SW_GEO_CHUNK entries, the root first. */
struct mem_table {
	const uint32_t *e;
	uint32_t chunks;
};

/* sw_geo_chunk_fn over a table in memory: an index beyond it is no chunk. */
static const struct sw_geo_chunk *mem_chunk(const void *tbl, __u32 idx)
{
	const struct mem_table *t = tbl;

	return idx < t->chunks ? (const struct sw_geo_chunk *)&t->e[(size_t)idx * SW_GEO_CHUNK] : NULL;
}

static void leaf_result(uint32_t e, struct sw_geo_result *r)
{
	memset(r, 0, sizeof(*r));
	r->raw = e;
	r->found = !!(e & SW_GEO_FOUND);
	r->country = sw_geo_leaf_country(e);
	r->prefixlen = (e >> SW_GEO_LEN_SHIFT) & SW_GEO_LEN_MASK;
	r->folded = !!(e & SW_GEO_FOLDED);
}

/* The leaf for @bits in a trie of @chunks chunks; 0 if none, or if it has no whole root. */
static uint32_t trie_walk(const uint32_t *e, uint32_t chunks, uint64_t bits, int levels)
{
	struct mem_table t = { .e = e, .chunks = chunks };

	if (!e || chunks < SW_GEO_ROOT_CHUNKS)
		return 0;
	return sw_geo_walk(&t, mem_chunk, bits, levels);
}

void sw_geo_lookup4(const uint32_t *v4, uint32_t chunks, uint32_t addr, struct sw_geo_result *r)
{
	leaf_result(trie_walk(v4, chunks, sw_geo_bits4(addr), SW_GEO4_LEVELS), r);
}

/* The first 64 bits of @addr, which may lie unaligned. */
static uint64_t bits6(const uint8_t addr[16])
{
	uint32_t w[4];

	memcpy(w, addr, sizeof(w));
	return sw_geo_bits6(w);
}

void sw_geo_lookup6(const uint32_t *v6, uint32_t chunks, const uint8_t addr[16],
		    struct sw_geo_result *r)
{
	leaf_result(trie_walk(v6, chunks, bits6(addr), SW_GEO6_LEVELS), r);
}

void sw_geo_lookup6_via4(const uint32_t *v6, uint32_t v6_chunks, const uint32_t *v4, uint32_t v4_chunks,
			 const uint8_t addr[16], struct sw_geo_result *r)
{
	uint32_t a, skip;

	sw_geo_lookup6(v6, v6_chunks, addr, r);
	if (!sw_geo_v4_alias(r->raw, bits6(addr), &a, &skip))
		return;
	sw_geo_lookup4(v4, v4_chunks, htonl(a), r);
	r->via_v4 = true;
	r->embedded_v4 = htonl(a);
	if (r->found)
		r->prefixlen += skip;
}

/* ---- building ------------------------------------------------------------- */

/* Country of each distinct data record, by its offset: a database has few. */
struct cc_cache {
	uint32_t *offsets;	/* offset + 1; 0 = empty */
	uint16_t *ids;
	size_t size, used;
};

/* A trie while it is built: chunks of SW_GEO_CHUNK entries, the root first. */
struct trie {
	uint32_t *e;
	uint8_t *depth;		/* of each chunk: 0 for the root, 1.. below */
	uint32_t n, cap;
	unsigned levels;	/* below the root: SW_GEO4_LEVELS or SW_GEO6_LEVELS */
	bool used;		/* a record was added */
};

struct builder {
	MMDB_s *db;
	const char *path;
	char *err;
	size_t errlen;
	struct sw_geo_table *t;
	struct cc_cache cc;
	struct trie v4, v6;
	sw_geo_prefix_fn each;	/* optional: told every record */
	void *each_ctx;
	uint64_t visits, max_visits;
	uint32_t ipv4_start;	/* node of ::/96 in an IPv6 tree, or UINT32_MAX */
	bool failed;
};

__attribute__((format(printf, 2, 3)))
static int fail(struct builder *b, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	if (b->failed)
		return -1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(b->err, b->errlen, "%s: %s", b->path, msg);
	b->failed = true;
	return -1;
}

static int cc_grow(struct cc_cache *c)
{
	struct cc_cache bigger = { .size = c->size ? c->size * 2 : 1024 };

	bigger.offsets = calloc(bigger.size, sizeof(*bigger.offsets));
	bigger.ids = calloc(bigger.size, sizeof(*bigger.ids));
	if (!bigger.offsets || !bigger.ids) {
		free(bigger.offsets);
		free(bigger.ids);
		return -1;
	}
	for (size_t i = 0; i < c->size; i++) {
		size_t j;

		if (!c->offsets[i])
			continue;
		j = (c->offsets[i] * 2654435761U) & (bigger.size - 1);
		while (bigger.offsets[j])
			j = (j + 1) & (bigger.size - 1);
		bigger.offsets[j] = c->offsets[i];
		bigger.ids[j] = c->ids[i];
	}
	bigger.used = c->used;
	free(c->offsets);
	free(c->ids);
	*c = bigger;
	return 0;
}

/* "country.iso_code" for messages. */
static void path_text(const char *const *path, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = 0;
	for (int i = 0; path[i] && off < len; i++)
		off += snprintf(buf + off, len - off, "%s%s", i ? "." : "", path[i]);
}

/*
 * A string field at @path of the record: 1 with its two letters in @code
 * (or code[0] = 0 when it is not a two-letter code), 0 if absent, -1 on
 * corrupt data. The map that holds it must be a map and the field a
 * string: anything else is a damaged (or foreign) database, not a record
 * without a country.
 */
static int string_field(struct builder *b, MMDB_entry_s *entry, const char *const *path,
			char code[3])
{
	const char *parent[2] = { path[0], NULL };
	MMDB_entry_data_s data;
	char where[64];
	int status;

	code[0] = 0;
	path_text(path, where, sizeof(where));
	if (path[1]) {
		status = MMDB_aget_value(entry, &data, parent);
		if (status == MMDB_SUCCESS && data.has_data && data.type != MMDB_DATA_TYPE_MAP)
			return fail(b, "corrupt data record at offset %" PRIu32 ": %s is not a map (type %u)",
				    entry->offset, path[0], data.type);
	}
	status = MMDB_aget_value(entry, &data, path);
	if (status == MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR || status == MMDB_INVALID_LOOKUP_PATH_ERROR)
		return 0;	/* the record is shaped differently: not this schema */
	if (status != MMDB_SUCCESS)
		return fail(b, "corrupt data record at offset %" PRIu32 ": %s", entry->offset,
			    MMDB_strerror(status));
	if (!data.has_data)
		return 0;
	if (data.type != MMDB_DATA_TYPE_UTF8_STRING)
		return fail(b, "corrupt data record at offset %" PRIu32 ": %s is not a string (type %u)",
			    entry->offset, where, data.type);
	if (data.data_size == 2 && sw_country_letter(data.utf8_string[0]) >= 0 &&
	    sw_country_letter(data.utf8_string[1]) >= 0) {
		code[0] = data.utf8_string[0];
		code[1] = data.utf8_string[1];
		code[2] = 0;
	}
	return 1;
}

/* The country id of a data record: GeoIP2 country, its registered country, or the flat field. */
static int record_country(struct builder *b, uint32_t offset, uint16_t *out)
{
	static const char *const geoip2[] = { "country", "iso_code", NULL };
	static const char *const registered[] = { "registered_country", "iso_code", NULL };
	static const char *const flat[] = { "country_code", NULL };
	MMDB_entry_s entry = { .mmdb = b->db, .offset = offset };
	char code[3];
	size_t i;
	int r;

	if (b->cc.used * 2 >= b->cc.size && cc_grow(&b->cc))
		return fail(b, "out of memory");
	i = ((offset + 1) * 2654435761U) & (b->cc.size - 1);
	while (b->cc.offsets[i]) {
		if (b->cc.offsets[i] == offset + 1) {
			*out = b->cc.ids[i];
			return 0;
		}
		i = (i + 1) & (b->cc.size - 1);
	}

	*out = SW_COUNTRY_UNKNOWN;
	r = string_field(b, &entry, geoip2, code);
	if (r < 0)
		return -1;
	if (r > 0)
		b->t->schemas |= SW_GEO_SCHEMA_GEOIP2;
	if (!code[0]) {
		r = string_field(b, &entry, registered, code);
		if (r < 0)
			return -1;
		if (r > 0)
			b->t->schemas |= SW_GEO_SCHEMA_GEOIP2;
	}
	if (!code[0]) {
		r = string_field(b, &entry, flat, code);
		if (r < 0)
			return -1;
		if (r > 0)
			b->t->schemas |= SW_GEO_SCHEMA_FLAT;
	}
	if (code[0])
		*out = sw_country_id(code);
	b->cc.offsets[i] = offset + 1;
	b->cc.ids[i] = *out;
	b->cc.used++;
	return 0;
}


static int trie_init(struct builder *b, struct trie *t, unsigned levels)
{
	t->cap = 4096;
	t->n = SW_GEO_ROOT_CHUNKS;
	t->levels = levels;
	t->e = calloc((size_t)t->cap * SW_GEO_CHUNK, sizeof(*t->e));
	t->depth = calloc(t->cap, 1);
	if (!t->e || !t->depth)
		return fail(b, "out of memory");
	return 0;
}

static void trie_free(struct trie *t)
{
	free(t->e);
	free(t->depth);
	memset(t, 0, sizeof(*t));
}

/* A new chunk at @depth whose every entry is @fill (the leaf it refines). */
static int trie_chunk(struct builder *b, struct trie *t, uint32_t fill, unsigned depth)
{
	if (t->n == t->cap) {
		uint32_t cap = t->cap * 2;
		uint32_t *e = realloc(t->e, (size_t)cap * SW_GEO_CHUNK * sizeof(*e));
		uint8_t *d;

		if (!e)
			return fail(b, "out of memory");
		t->e = e;
		d = realloc(t->depth, cap);
		if (!d)
			return fail(b, "out of memory");
		t->depth = d;
		t->cap = cap;
	}
	if (t->n >= SW_GEO_PTR - 1)
		return fail(b, "too many prefixes for the table");
	for (int i = 0; i < SW_GEO_CHUNK; i++)
		t->e[(size_t)t->n * SW_GEO_CHUNK + i] = fill;
	t->depth[t->n] = depth;
	return t->n++;
}

/*
 * Set entries [first, first + n) from chunk @chunk on (n may span several
 * consecutive root chunks), pushing the leaf into any subtree below.
 */
static void trie_fill(struct trie *t, uint32_t chunk, uint32_t first, uint32_t n, uint32_t leaf)
{
	for (uint32_t i = 0; i < n; i++) {
		uint32_t *e = &t->e[(size_t)chunk * SW_GEO_CHUNK + first + i];

		if (*e & SW_GEO_PTR)
			trie_fill(t, *e & ~SW_GEO_PTR, 0, SW_GEO_CHUNK, leaf);
		else
			*e = leaf;
	}
}

/*
 * Store @leaf for the prefix @bits/@len (bits left-aligned, host bits
 * zero, len at most 16 + 8 * levels). The walk yields records in address
 * order and they never overlap, so a leaf only ever lands on entries that
 * hold nothing or the shorter prefix around it.
 */
static int trie_add(struct builder *b, struct trie *t, uint64_t bits, unsigned len, uint32_t leaf)
{
	size_t pos = bits >> 48;	/* entry index: the root first, then one chunk per level */
	unsigned covered = 16;

	t->used = true;
	if (len <= 16) {
		trie_fill(t, pos >> 8, pos & 0xff & ~((1U << (16 - len)) - 1), 1U << (16 - len), leaf);
		return 0;
	}
	for (unsigned level = 0; level < t->levels; level++) {
		uint32_t chunk, idx;

		if (!(t->e[pos] & SW_GEO_PTR)) {
			int c = trie_chunk(b, t, t->e[pos], level + 1);

			if (c < 0)
				return -1;
			t->e[pos] = SW_GEO_PTR | c;
		}
		chunk = t->e[pos] & ~SW_GEO_PTR;
		covered += 8;
		idx = (bits >> (64 - covered)) & 0xff;
		if (len <= covered) {
			if (leaf & SW_GEO_FOLDED) {
				/* Several longer prefixes in one /64: the first (lowest) classifies it. */
				if (t->e[(size_t)chunk * SW_GEO_CHUNK + idx] & SW_GEO_FOLDED)
					return 0;
				b->t->folded++;
			}
			trie_fill(t, chunk, idx & ~((1U << (covered - len)) - 1), 1U << (covered - len), leaf);
			return 0;
		}
		pos = (size_t)chunk * SW_GEO_CHUNK + idx;
	}
	return fail(b, "internal error: prefix /%u deeper than the table", len);
}

static int add_v4(struct builder *b, uint32_t addr, unsigned len, uint16_t cc)
{
	b->t->v4_prefixes++;
	return trie_add(b, &b->v4, (uint64_t)addr << 32, len, SW_GEO_LEAF(cc, len));
}

/* @extra: SW_GEO_V4_* for an alias of the IPv4 subtree (with @cc 0), else 0. */
static int add_v6(struct builder *b, uint64_t hi, unsigned len, uint16_t cc, uint32_t extra)
{
	if (len > 64)
		return trie_add(b, &b->v6, hi, 64, SW_GEO_LEAF(cc, 64) | SW_GEO_FOLDED);
	return trie_add(b, &b->v6, hi, len, SW_GEO_LEAF(cc, len) | extra);
}

/* A data record at the end of path @bits (@depth bits long). */
static int add_record(struct builder *b, const uint8_t bits[16], unsigned depth, uint32_t offset)
{
	uint16_t cc = SW_COUNTRY_UNKNOWN;
	uint64_t hi = 0;
	bool v4_space = true;

	if (record_country(b, offset, &cc))
		return -1;
	if (cc == SW_COUNTRY_UNKNOWN)
		b->t->no_country++;
	if (b->db->metadata.ip_version == 4) {
		uint32_t a = (uint32_t)bits[0] << 24 | bits[1] << 16 | bits[2] << 8 | bits[3];

		if (b->each)
			b->each(b->each_ctx, SW_AF_INET, bits, depth, cc);
		return add_v4(b, a, depth, cc);
	}
	for (int i = 0; i < 12; i++)
		v4_space &= bits[i] == 0;
	if (v4_space && depth >= 96) {
		uint32_t a = (uint32_t)bits[12] << 24 | bits[13] << 16 | bits[14] << 8 | bits[15];

		if (b->each)
			b->each(b->each_ctx, SW_AF_INET, bits + 12, depth - 96, cc);
		return add_v4(b, a, depth - 96, cc);
	}
	if (b->each)
		b->each(b->each_ctx, SW_AF_INET6, bits, depth, cc);
	for (int i = 0; i < 8; i++)
		hi = hi << 8 | bits[i];
	/* A record above ::/96 holds all of IPv4. */
	if (v4_space && trie_add(b, &b->v4, 0, 0, SW_GEO_LEAF(cc, 0)))
		return -1;
	b->t->v6_prefixes++;
	return add_v6(b, hi, depth, cc, 0);
}

/*
 * A search-tree record at @bits/@depth points at the IPv4 subtree from
 * somewhere other than ::/96. 6to4 and Teredo become leaves that send the
 * lookup to the IPv4 table, which holds that subtree already; other
 * aliases (::ffff:0:0/96, IPv4-mapped, never a source on the wire) are
 * left out.
 */
static int add_alias(struct builder *b, const uint8_t bits[16], unsigned depth)
{
	static const uint8_t teredo[4] = { 0x20, 0x01, 0x00, 0x00 };
	uint64_t hi = 0;
	uint32_t kind;

	if (depth == 16 && bits[0] == 0x20 && bits[1] == 0x02)
		kind = SW_GEO_V4_6TO4;
	else if (depth == 32 && !memcmp(bits, teredo, 4))
		kind = SW_GEO_V4_TEREDO;
	else
		return 0;
	for (int i = 0; i < 8; i++)
		hi = hi << 8 | bits[i];
	b->t->v4_aliases++;
	return add_v6(b, hi, depth, SW_COUNTRY_UNKNOWN, kind);
}

/* Set bit @i of the path to @v and clear every bit after it: the prefix's host bits. */
static void set_bit(uint8_t bits[16], unsigned i, int v)
{
	bits[i / 8] &= (uint8_t)(0xff00 >> (i % 8));
	if (v)
		bits[i / 8] |= 0x80 >> (i % 8);
	if (i / 8 < 15)
		memset(&bits[i / 8 + 1], 0, 15 - i / 8);
}

/* Depth-first from node 0, left before right, so records come in address order. */
static int walk(struct builder *b)
{
	struct frame {
		uint32_t node;
		uint8_t depth;
		uint8_t side;	/* 0: visit left next, 1: right next, 2: done */
	} stack[130];
	MMDB_search_node_s nodes[130];
	unsigned max_depth = b->db->metadata.ip_version == 6 ? 128 : 32;
	uint8_t bits[16] = { 0 };
	int sp = 0;

	stack[0] = (struct frame){ 0, 0, 0 };
	if (MMDB_read_node(b->db, 0, &nodes[0]) != MMDB_SUCCESS)
		return fail(b, "cannot read the root of the search tree");
	b->visits = 1;
	while (sp >= 0) {
		struct frame *f = &stack[sp];
		MMDB_search_node_s *n = &nodes[sp];
		uint8_t type;
		uint64_t rec;
		MMDB_entry_s entry;
		unsigned child_depth = f->depth + 1;

		if (f->side == 2) {
			sp--;
			continue;
		}
		set_bit(bits, f->depth, f->side);
		if (f->side == 0) {
			type = n->left_record_type;
			rec = n->left_record;
			entry = n->left_record_entry;
		} else {
			type = n->right_record_type;
			rec = n->right_record;
			entry = n->right_record_entry;
		}
		f->side++;
		switch (type) {
		case MMDB_RECORD_TYPE_EMPTY:
			break;
		case MMDB_RECORD_TYPE_DATA:
			if (add_record(b, bits, child_depth, entry.offset))
				return -1;
			break;
		case MMDB_RECORD_TYPE_SEARCH_NODE: {
			bool via_v4 = true;

			if (child_depth >= max_depth)
				return fail(b, "search tree deeper than %u bits", max_depth);
			/*
			 * The IPv4 subtree is walked only as ::/96; an alias
			 * of it becomes a pointer to the IPv4 table.
			 */
			if (rec == b->ipv4_start) {
				for (unsigned i = 0; i < child_depth; i++)
					via_v4 &= !(bits[i / 8] & (0x80 >> (i % 8)));
				if (!via_v4 || child_depth != 96) {
					if (add_alias(b, bits, child_depth))
						return -1;
					break;
				}
			}
			if (++b->visits > b->max_visits)
				return fail(b, "search tree visits nodes more than once (corrupt or looping tree)");
			if (MMDB_read_node(b->db, rec, &nodes[sp + 1]) != MMDB_SUCCESS)
				return fail(b, "search tree node %" PRIu64 " cannot be read", rec);
			sp++;
			stack[sp] = (struct frame){ (uint32_t)rec, child_depth, 0 };
			break;
		}
		default:
			return fail(b, "search tree record %" PRIu64 " points outside the file", rec);
		}
	}
	return 0;
}

/* The node of ::/96 in an IPv6 tree (96 left turns from the root), if there is one. */
static uint32_t find_ipv4_start(MMDB_s *db)
{
	MMDB_search_node_s n;
	uint32_t node = 0;

	if (db->metadata.ip_version != 6)
		return UINT32_MAX;
	for (int i = 0; i < 96; i++) {
		if (MMDB_read_node(db, node, &n) != MMDB_SUCCESS ||
		    n.left_record_type != MMDB_RECORD_TYPE_SEARCH_NODE)
			return UINT32_MAX;
		node = n.left_record;
	}
	return node;
}


static uint64_t chunk_hash(const uint32_t *c)
{
	uint64_t h = 1469598103934665603ULL;

	for (int i = 0; i < SW_GEO_CHUNK; i++)
		h = (h ^ c[i]) * 1099511628211ULL;
	return h;
}

/*
 * Store identical chunks once (a /24 split into the same halves, a /48
 * of one country inside many /32s): bottom-up, so that a chunk's children
 * are already shared when it is compared, then compacted. The root stays
 * where it is. Returns the number of chunks saved, or -1.
 */
static int64_t trie_share(struct builder *b, struct trie *t)
{
	uint32_t *canon = NULL, *slots = NULL, *newidx = NULL, *out = NULL, kept = 0;
	size_t n_slots = 1;
	int64_t saved = -1;

	while (n_slots < (size_t)t->n * 2)
		n_slots *= 2;
	canon = malloc((size_t)t->n * sizeof(*canon));
	newidx = malloc((size_t)t->n * sizeof(*newidx));
	slots = calloc(n_slots, sizeof(*slots));
	if (!canon || !newidx || !slots) {
		fail(b, "out of memory");
		goto out;
	}
	for (uint32_t c = 0; c < t->n; c++)
		canon[c] = c;
	for (int d = t->levels; d >= 0; d--) {
		for (uint32_t c = 0; c < t->n; c++) {
			uint32_t *e = &t->e[(size_t)c * SW_GEO_CHUNK];
			size_t s;

			if (t->depth[c] != d)
				continue;
			for (int i = 0; i < SW_GEO_CHUNK; i++)
				if (e[i] & SW_GEO_PTR)
					e[i] = SW_GEO_PTR | canon[e[i] & ~SW_GEO_PTR];
			if (!d)
				continue;	/* root chunks are found by position */
			s = chunk_hash(e) & (n_slots - 1);
			while (slots[s]) {
				uint32_t other = slots[s] - 1;

				if (!memcmp(&t->e[(size_t)other * SW_GEO_CHUNK], e,
					    SW_GEO_CHUNK * sizeof(*e))) {
					canon[c] = other;
					break;
				}
				s = (s + 1) & (n_slots - 1);
			}
			if (!slots[s])
				slots[s] = c + 1;
		}
	}
	for (uint32_t c = 0; c < t->n; c++)
		if (canon[c] == c)
			newidx[c] = kept++;
	out = malloc((size_t)kept * SW_GEO_CHUNK * sizeof(*out));
	if (!out) {
		fail(b, "out of memory");
		goto out;
	}
	for (uint32_t c = 0; c < t->n; c++) {
		uint32_t *dst = &out[(size_t)newidx[c] * SW_GEO_CHUNK];

		if (canon[c] != c)
			continue;
		for (int i = 0; i < SW_GEO_CHUNK; i++) {
			uint32_t x = t->e[(size_t)c * SW_GEO_CHUNK + i];

			dst[i] = x & SW_GEO_PTR ? SW_GEO_PTR | newidx[x & ~SW_GEO_PTR] : x;
		}
	}
	saved = t->n - kept;
	free(t->e);
	t->e = out;
	t->n = kept;
out:
	free(canon);
	free(newidx);
	free(slots);
	return saved;
}

/* Hand the finished trie over to the table: shared, compacted. */
static int trie_finish(struct builder *b, struct trie *t, uint32_t **out, uint32_t *chunks)
{
	int64_t saved = trie_share(b, t);

	if (saved < 0)
		return -1;
	b->t->shared += saved;
	*out = t->e;
	*chunks = t->n;
	t->e = NULL;
	return 0;
}

int sw_geo_build(const char *path, struct sw_geo_table *t, char *err, size_t errlen)
{
	return sw_geo_build_each(path, t, NULL, NULL, err, errlen);
}

int sw_geo_build_each(const char *path, struct sw_geo_table *t, sw_geo_prefix_fn each, void *ctx,
		      char *err, size_t errlen)
{
	struct builder b = { .path = path, .err = err, .errlen = errlen, .t = t, .each = each,
			     .each_ctx = ctx };
	MMDB_s db;
	struct stat st;
	int status;

	memset(t, 0, sizeof(*t));
	if (stat(path, &st)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		return -1;
	}
	status = MMDB_open(path, MMDB_MODE_MMAP, &db);
	if (status != MMDB_SUCCESS) {
		snprintf(err, errlen, "%s: %s%s", path, MMDB_strerror(status),
			 status == MMDB_IO_ERROR ? "" : " (not a MaxMind DB file, or a damaged one)");
		return -1;
	}
	b.db = &db;
	if (db.metadata.ip_version != 4 && db.metadata.ip_version != 6) {
		fail(&b, "unsupported ip_version %u", db.metadata.ip_version);
		goto out;
	}
	if (!db.metadata.node_count) {
		fail(&b, "empty search tree");
		goto out;
	}
	t->ip_version = db.metadata.ip_version;
	t->node_count = db.metadata.node_count;
	t->record_size = db.metadata.record_size;
	t->build_epoch = db.metadata.build_epoch;
	snprintf(t->db_type, sizeof(t->db_type), "%s",
		 db.metadata.database_type ? db.metadata.database_type : "");

	if (trie_init(&b, &b.v4, SW_GEO4_LEVELS) || trie_init(&b, &b.v6, SW_GEO6_LEVELS))
		goto out;
	b.max_visits = (uint64_t)db.metadata.node_count + 1;
	b.ipv4_start = find_ipv4_start(&db);
	if (walk(&b) || trie_finish(&b, &b.v4, &t->v4, &t->v4_chunks))
		goto out;
	/* An IPv4-only database has no IPv6 table: IPv6 sources are unknown, not unclassified. */
	if ((b.v6.used || t->ip_version == 6) && trie_finish(&b, &b.v6, &t->v6, &t->v6_chunks))
		goto out;
out:
	trie_free(&b.v4);
	trie_free(&b.v6);
	free(b.cc.offsets);
	free(b.cc.ids);
	MMDB_close(&db);
	if (b.failed) {
		sw_geo_table_free(t);
		return -1;
	}
	return 0;
}

void sw_geo_table_free(struct sw_geo_table *t)
{
	free(t->v4);
	free(t->v6);
	memset(t, 0, sizeof(*t));
}

/* ---- the kernel side -------------------------------------------------------- */

uint64_t sw_fd_memlock(int fd)
{
	char path[64], line[128];
	uint64_t v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %" SCNu64, &v) == 1)
			break;
	fclose(f);
	return v;
}

/* A new inner map of @chunks chunks holding @data. Returns the fd or -errno. */
static int make_inner(const char *name, uint32_t value_size, uint32_t chunks, const void *data,
		      uint64_t *memlock, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_INNER_MAP | BPF_F_MMAPABLE);
	size_t len = (size_t)value_size * chunks;
	void *m;
	int fd, e;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, name, sizeof(__u32), value_size, chunks, &opts);
	if (fd < 0) {
		e = -errno;
		snprintf(err, errlen, "cannot create the %s table (%u chunks of %u bytes): %s", name,
			 chunks, value_size, strerror(-e));
		return e;
	}
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		e = -errno;
		snprintf(err, errlen, "cannot map the %s table: %s", name, strerror(-e));
		close(fd);
		return e;
	}
	memcpy(m, data, len);
	munmap(m, len);
	*memlock += sw_fd_memlock(fd);
	return fd;
}

int sw_geo_put_tables(int geo4_fd, int geo6_fd, const struct sw_geo_table *t, uint64_t *memlock,
		      char *err, size_t errlen)
{
	__u32 zero = 0;
	int fd4, fd6 = -1, ret = 0;

	*memlock = 0;
	fd4 = make_inner("sw_geo4_tbl", sizeof(struct sw_geo_chunk), t->v4_chunks, t->v4, memlock,
			 err, errlen);
	if (fd4 < 0)
		return fd4;
	if (t->v6) {
		fd6 = make_inner("sw_geo6_tbl", sizeof(struct sw_geo_chunk), t->v6_chunks, t->v6,
				 memlock, err, errlen);
		if (fd6 < 0) {
			close(fd4);
			return fd6;
		}
	}
	/*
	 * Each update returns only after programs that might still use the old
	 * table have finished (the kernel waits for map-in-map updates), so
	 * once the caller moves geo_gen, every packet that sees the new
	 * generation also sees the new tables.
	 */
	if (bpf_map_update_elem(geo4_fd, &zero, &fd4, BPF_ANY)) {
		ret = -errno;
		snprintf(err, errlen, "cannot install the IPv4 table: %s", strerror(-ret));
	} else if (fd6 >= 0 ? bpf_map_update_elem(geo6_fd, &zero, &fd6, BPF_ANY)
			    : (bpf_map_delete_elem(geo6_fd, &zero) && errno != ENOENT)) {
		ret = -errno;
		snprintf(err, errlen, "cannot install the IPv6 table: %s", strerror(-ret));
	}
	close(fd4);
	if (fd6 >= 0)
		close(fd6);
	return ret;
}

int sw_geo_install(const struct sw_kernel *k, const struct sw_geo_table *t, const char *path,
		   const struct stat *st, uint64_t load_ns, char *err, size_t errlen)
{
	struct sw_geo_info info = { 0 };
	uint64_t memlock = 0;
	__u32 zero = 0;
	int ret;

	ret = sw_geo_put_tables(k->geo4_fd, k->geo6_fd, t, &memlock, err, errlen);
	if (ret)
		return ret;
	info.gen = __atomic_add_fetch(&k->config->geo_gen, 1, __ATOMIC_SEQ_CST);
	info.build_epoch = t->build_epoch;
	info.loaded_at = time(NULL);
	info.load_ns = load_ns;
	if (st) {
		info.file_size = st->st_size;
		info.file_mtime_ns = (uint64_t)st->st_mtim.tv_sec * 1000000000ULL + st->st_mtim.tv_nsec;
		info.file_ino = st->st_ino;
		info.file_dev = st->st_dev;
	}
	info.v4_prefixes = t->v4_prefixes;
	info.v6_prefixes = t->v6_prefixes;
	info.v4_chunks = t->v4_chunks;
	info.v6_chunks = t->v6 ? t->v6_chunks : 0;
	info.no_country = t->no_country;
	info.folded = t->folded;
	info.shared = t->shared;
	info.v4_aliases = t->v4_aliases;
	info.kernel_bytes = memlock;
	info.ip_version = t->ip_version;
	info.node_count = t->node_count;
	info.record_size = t->record_size;
	info.schemas = t->schemas;
	snprintf(info.path, sizeof(info.path), "%s", path);
	snprintf(info.db_type, sizeof(info.db_type), "%s", t->db_type);
	if (bpf_map_update_elem(k->geo_info_fd, &zero, &info, BPF_ANY)) {
		ret = -errno;
		snprintf(err, errlen, "cannot record the geo table's description: %s", strerror(-ret));
	}
	return ret;
}

int sw_geo_clear(const struct sw_kernel *k, char *err, size_t errlen)
{
	struct sw_geo_info info = { 0 };
	__u32 zero = 0;

	if ((bpf_map_delete_elem(k->geo4_fd, &zero) && errno != ENOENT) ||
	    (bpf_map_delete_elem(k->geo6_fd, &zero) && errno != ENOENT)) {
		snprintf(err, errlen, "cannot remove the geo tables: %s", strerror(errno));
		return -errno;
	}
	__atomic_add_fetch(&k->config->geo_gen, 1, __ATOMIC_SEQ_CST);
	bpf_map_update_elem(k->geo_info_fd, &zero, &info, BPF_ANY);
	return 0;
}

/* Map the inner table in slot 0 of @outer read-only. 0, or -ENOENT if the slot is empty. */
static int map_inner(int outer, const void **out, uint32_t *chunks, size_t *len, uint64_t *memlock,
		     char *err, size_t errlen)
{
	struct bpf_map_info mi = { 0 };
	__u32 zero = 0, id, mlen = sizeof(mi);
	void *m;
	int fd;

	if (bpf_map_lookup_elem(outer, &zero, &id))
		return errno == ENOENT ? -ENOENT : -errno;
	fd = bpf_map_get_fd_by_id(id);
	if (fd < 0) {
		/* Swapped out between the two calls. */
		snprintf(err, errlen, "geo table changed while reading it; try again");
		return -EAGAIN;
	}
	if (bpf_obj_get_info_by_fd(fd, &mi, &mlen)) {
		snprintf(err, errlen, "cannot inspect the geo table: %s", strerror(errno));
		close(fd);
		return -EIO;
	}
	*len = (size_t)mi.value_size * mi.max_entries;
	m = mmap(NULL, *len, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		snprintf(err, errlen, "cannot map the geo table: %s", strerror(errno));
		close(fd);
		return -EIO;
	}
	*memlock += sw_fd_memlock(fd);
	close(fd);
	*out = m;
	*chunks = mi.max_entries;
	return 0;
}

int sw_geo_view_open(const struct sw_kernel *k, struct sw_geo_view *v, char *err, size_t errlen)
{
	const void *p;
	__u32 zero = 0;
	int r;

	memset(v, 0, sizeof(*v));
	if (bpf_map_lookup_elem(k->geo_info_fd, &zero, &v->info)) {
		snprintf(err, errlen, "cannot read sw_geo_info: %s", strerror(errno));
		return -errno;
	}
	r = map_inner(k->geo4_fd, &p, &v->v4_chunks, &v->v4_len, &v->memlock, err, errlen);
	if (r == -ENOENT)
		return 0;
	if (r)
		return r;
	v->v4 = p;
	r = map_inner(k->geo6_fd, &p, &v->v6_chunks, &v->v6_len, &v->memlock, err, errlen);
	if (r && r != -ENOENT) {
		sw_geo_view_close(v);
		return r;
	}
	if (!r)
		v->v6 = p;
	v->loaded = true;
	return 0;
}

void sw_geo_view_close(struct sw_geo_view *v)
{
	if (v->v4)
		munmap((void *)v->v4, v->v4_len);
	if (v->v6)
		munmap((void *)v->v6, v->v6_len);
	memset(v, 0, sizeof(*v));
}

void sw_geo_view_lookup(const struct sw_geo_view *v, uint8_t family, const uint32_t addr[4],
			struct sw_geo_result *r)
{
	if (family == SW_AF_INET)
		sw_geo_lookup4(v->v4, v->v4_chunks, addr[0], r);
	else
		sw_geo_lookup6_via4(v->v6, v->v6_chunks, v->v4, v->v4_chunks, (const uint8_t *)addr, r);
}

/* ---- keeping the kernel in line with the file ------------------------------- */

static bool same_file(const struct sw_geo_info *i, const char *path, const struct stat *st)
{
	return i->gen && !strcmp(i->path, path) && i->file_ino == (uint64_t)st->st_ino &&
	       i->file_dev == (uint64_t)st->st_dev && i->file_size == (uint64_t)st->st_size &&
	       i->file_mtime_ns == (uint64_t)st->st_mtim.tv_sec * 1000000000ULL + st->st_mtim.tv_nsec;
}

static void describe_kept(const struct sw_geo_info *i, char *buf, size_t len)
{
	if (i->gen) {
		char when[32];
		time_t t = i->loaded_at;

		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&t));
		snprintf(buf, len, "keeping the tables loaded from %s at %s", i->path, when);
	} else {
		snprintf(buf, len, "no country data: country policies do not apply until it loads");
	}
}

int sw_geo_refresh(struct sw_geo_watch *w, const struct sw_kernel *k, const char *path, bool force)
{
	struct sw_geo_info info = { 0 };
	struct sw_geo_table t;
	struct stat st;
	char err[512], kept[SW_PATH_LEN + 96], built[32];
	uint64_t t0;
	__u32 zero = 0;
	time_t epoch;

	if (bpf_map_lookup_elem(k->geo_info_fd, &zero, &info))
		memset(&info, 0, sizeof(info));
	if (!path[0]) {
		if (!info.gen)
			return 0;
		if (sw_geo_clear(k, err, sizeof(err))) {
			sw_bus_emit(SW_BUS_GEO, SW_LOG_ERROR, "failed", "", "clear", "%s", err);
			return -1;
		}
		sw_bus_emit(SW_BUS_GEO, SW_LOG_INFO, "removed", "", "unconfigured",
			    "no database configured; country tables removed");
		return 1;
	}
	if (stat(path, &st)) {
		if (!w->missing || force) {
			describe_kept(&info, kept, sizeof(kept));
			sw_bus_emit(SW_BUS_GEO, SW_LOG_ERROR, "failed", "", "unreadable", "cannot read %s: %s; %s", path,
				    strerror(errno), kept);
		}
		w->missing = true;
		return -1;
	}
	w->missing = false;
	if (!force && same_file(&info, path, &st))
		return 0;
	if (!force && w->failed && !strcmp(w->failed_path, path) && w->failed_st.st_ino == st.st_ino &&
	    w->failed_st.st_size == st.st_size && w->failed_st.st_mtim.tv_sec == st.st_mtim.tv_sec &&
	    w->failed_st.st_mtim.tv_nsec == st.st_mtim.tv_nsec)
		return -1;	/* this version was tried and reported already */

	t0 = sw_mono_ns();
	if (sw_geo_build(path, &t, err, sizeof(err)) ||
	    sw_geo_install(k, &t, path, &st, 0, err, sizeof(err))) {
		describe_kept(&info, kept, sizeof(kept));
		sw_bus_emit(SW_BUS_GEO, SW_LOG_ERROR, "failed", "", "invalid", "%s; %s", err, kept);
		sw_geo_table_free(&t);
		w->failed = true;
		w->failed_st = st;
		snprintf(w->failed_path, sizeof(w->failed_path), "%s", path);
		return -1;
	}
	w->failed = false;
	/* The load time, recorded once it is known. */
	if (!bpf_map_lookup_elem(k->geo_info_fd, &zero, &info)) {
		info.load_ns = sw_mono_ns() - t0;
		bpf_map_update_elem(k->geo_info_fd, &zero, &info, BPF_ANY);
	}
	epoch = t.build_epoch;
	strftime(built, sizeof(built), "%Y-%m-%d", gmtime(&epoch));
	{
		struct sw_bus_event ev = { .kind = SW_BUS_GEO, .level = SW_LOG_INFO,
					   .count = t.v4_prefixes + t.v6_prefixes };

		snprintf(ev.action, sizeof(ev.action), "loaded");
		snprintf(ev.reason, sizeof(ev.reason), "%s", force ? "reload" : "changed");
		snprintf(ev.text, sizeof(ev.text),
			 "loaded %s (%s, built %s): %" PRIu64 " IPv4 and %" PRIu64 " IPv6 prefixes in "
			 "%.2f s, %.1f MiB of kernel memory",
			 path, t.db_type[0] ? t.db_type : "unnamed", built, t.v4_prefixes, t.v6_prefixes,
			 info.load_ns / 1e9, info.kernel_bytes / 1048576.0);
		sw_bus_publish(&ev);
	}
	if (t.no_country)
		sw_bus_emit(SW_BUS_GEO, SW_LOG_INFO, "noted", "", "no_country",
			    "%" PRIu64 " records name no country: those addresses count as unknown", t.no_country);
	sw_geo_table_free(&t);
	return 1;
}
