// SPDX-License-Identifier: GPL-2.0
/*
 * The country database loader (user/geo/geo.c): sw_geo_build_each() on a
 * MaxMind DB file, read by libmaxminddb and turned into the kernel's tries.
 *
 * The input is the file, handed over through a memfd by the path
 * /proc/self/fd/N (libmaxminddb maps it as it maps a real one). The seeds
 * in tests/fuzz/corpus/mmdb are databases of tests/lib/mmdb_writer.h,
 * good and damaged (make fuzz-seeds); tests/fuzz/fuzz_mmdb.dict gives the
 * mutator the format's markers and metadata keys.
 *
 * A load either fails with a message that names the file and leaves the
 * table empty, or gives tables the BPF program can walk: every pointer
 * inside the table and to a chunk of the next level, no pointer at the
 * last, leaves with a country id and a prefix length in range. Every
 * record the walk reported is counted, and looking up its first address
 * in the tables gives its country and length (an IPv6 record longer than
 * /64 gives a folded /64).
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "geo.h"

#define check(cond, ...)                                                                   \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "fuzz_mmdb: %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                                      \
			fputc('\n', stderr);                                               \
			abort();                                                           \
		}                                                                          \
	} while (0)

/* Records kept for the lookups; a small input cannot reach many more. */
#define MAX_RECORDS 4096

struct record {
	uint8_t family;
	uint8_t prefixlen;
	uint16_t country;
	uint8_t addr[16];
};

struct records {
	struct record r[MAX_RECORDS];
	uint64_t n;		/* all reported, kept or not */
};

static int file_fd = -1;
static char file_path[64];
static struct records records;
static uint8_t *chunk_level;	/* scratch: the level of each chunk */
static size_t chunk_level_cap;

/*
 * libmaxminddb before 1.12 leaks in MMDB_open() on some damaged metadata
 * (maxmind/libmaxminddb#356; bookworm has 1.7.1): not ours to fix, and
 * not to be mistaken for a leak of geo.c, whose allocations are all its own.
 */
const char *__lsan_default_suppressions(void)
{
	return "leak:libmaxminddb.so\n";
}

static void each_record(void *ctx, uint8_t family, const uint8_t *addr, unsigned prefixlen,
			uint16_t country)
{
	struct records *rs = ctx;
	struct record *r;

	check(family == SW_AF_INET || family == SW_AF_INET6, "record of family %u", family);
	check(prefixlen <= (family == SW_AF_INET ? 32U : 128U), "record /%u", prefixlen);
	check(country <= SW_COUNTRY_LAST, "record country %u", country);
	if (rs->n++ >= MAX_RECORDS)
		return;
	r = &rs->r[rs->n - 1];
	r->family = family;
	r->prefixlen = prefixlen;
	r->country = country;
	memset(r->addr, 0, sizeof(r->addr));
	memcpy(r->addr, addr, family == SW_AF_INET ? 4 : 16);
}

static void check_leaf(const char *name, uint32_t e, unsigned max_len, bool v6)
{
	check((e & SW_GEO_CC_MASK) <= SW_COUNTRY_LAST, "%s leaf %#x: country", name, e);
	check(((e >> SW_GEO_LEN_SHIFT) & SW_GEO_LEN_MASK) <= max_len, "%s leaf %#x: length", name, e);
	check(e & SW_GEO_FOUND || !e, "%s leaf %#x: data without a record", name, e);
	check(v6 || !(e & (SW_GEO_FOLDED | SW_GEO_V4_6TO4 | SW_GEO_V4_TEREDO)), "%s leaf %#x: IPv6 "
	      "flags", name, e);
}

/*
 * Every chunk is reached at one level only (chunks are shared only among
 * equals), so a pass per level checks the whole trie in chunks * 256 steps.
 */
static void check_trie(const char *name, const uint32_t *e, uint32_t chunks, unsigned levels,
		       unsigned max_len)
{
	if (chunks > chunk_level_cap) {
		free(chunk_level);
		chunk_level = malloc(chunks);
		check(chunk_level, "out of memory");
		chunk_level_cap = chunks;
	}
	memset(chunk_level, 0xff, chunks);
	check(chunks >= SW_GEO_ROOT_CHUNKS, "%s: %u chunks", name, chunks);
	memset(chunk_level, 0, SW_GEO_ROOT_CHUNKS);
	for (unsigned level = 0; level <= levels; level++) {
		for (uint32_t c = 0; c < chunks; c++) {
			if (chunk_level[c] != level)
				continue;
			for (unsigned i = 0; i < SW_GEO_CHUNK; i++) {
				uint32_t x = e[(size_t)c * SW_GEO_CHUNK + i], to = x & ~SW_GEO_PTR;

				if (!(x & SW_GEO_PTR)) {
					check_leaf(name, x, max_len, levels == SW_GEO6_LEVELS);
					continue;
				}
				check(level < levels, "%s: pointer at the last level (chunk %u)", name, c);
				check(to >= SW_GEO_ROOT_CHUNKS && to < chunks, "%s: chunk %u points at %u of %u",
				      name, c, to, chunks);
				check(chunk_level[to] == 0xff || chunk_level[to] == level + 1,
				      "%s: chunk %u reached at levels %u and %u", name, to, chunk_level[to],
				      level + 1);
				chunk_level[to] = level + 1;
			}
		}
	}
}

static void check_table(const struct sw_geo_table *t)
{
	uint64_t kept = records.n < MAX_RECORDS ? records.n : MAX_RECORDS;

	check(t->ip_version == 4 || t->ip_version == 6, "ip_version %u", t->ip_version);
	check(t->v4 && t->v4_chunks >= SW_GEO_ROOT_CHUNKS, "no IPv4 table");
	check((t->v6 != NULL) == (t->v6_chunks != 0), "IPv6 table of %u chunks at %p", t->v6_chunks,
	      (void *)t->v6);
	check(t->ip_version == 4 || t->v6, "an IPv6 database without an IPv6 table");
	check(memchr(t->db_type, '\0', sizeof(t->db_type)), "database type not terminated");
	check_trie("IPv4", t->v4, t->v4_chunks, SW_GEO4_LEVELS, 32);
	if (t->v6)
		check_trie("IPv6", t->v6, t->v6_chunks, SW_GEO6_LEVELS, 64);
	check(records.n == t->v4_prefixes + t->v6_prefixes, "%lu records reported, %lu + %lu counted",
	      (unsigned long)records.n, (unsigned long)t->v4_prefixes, (unsigned long)t->v6_prefixes);

	for (uint64_t i = 0; i < kept; i++) {
		const struct record *r = &records.r[i];
		struct sw_geo_result res;
		uint32_t a4;

		if (r->family == SW_AF_INET) {
			memcpy(&a4, r->addr, 4);
			sw_geo_lookup4(t->v4, t->v4_chunks, a4, &res);
			check(res.found && res.country == r->country && res.prefixlen == r->prefixlen,
			      "IPv4 record %lu (/%u, country %u) looked up: found %d, country %u, /%u",
			      (unsigned long)i, r->prefixlen, r->country, res.found, res.country,
			      res.prefixlen);
			continue;
		}
		check(t->v6, "an IPv6 record without an IPv6 table");
		sw_geo_lookup6(t->v6, t->v6_chunks, r->addr, &res);
		check(res.found, "IPv6 record %lu (/%u) not found", (unsigned long)i, r->prefixlen);
		if (r->prefixlen > 64)
			check(res.folded && res.prefixlen == 64, "IPv6 record %lu (/%u) not folded",
			      (unsigned long)i, r->prefixlen);
		else
			check(res.country == r->country && res.prefixlen == r->prefixlen && !res.folded,
			      "IPv6 record %lu (/%u, country %u) looked up: country %u, /%u, folded %d",
			      (unsigned long)i, r->prefixlen, r->country, res.country, res.prefixlen,
			      res.folded);
	}

	/* The 6to4 and Teredo aliases lead to the IPv4 table, in bounds. */
	if (t->v6) {
		static const uint8_t six_to_four[16] = { 0x20, 0x02, 0xc0, 0x00, 0x02, 0x01 };
		static const uint8_t teredo[16] = { 0x20, 0x01, 0, 0, 0xc0, 0x00, 0x02, 0x01 };
		struct sw_geo_result res;

		sw_geo_lookup6_via4(t->v6, t->v6_chunks, t->v4, t->v4_chunks, six_to_four, &res);
		check(!res.found || res.prefixlen <= 64, "6to4: /%u", res.prefixlen);
		sw_geo_lookup6_via4(t->v6, t->v6_chunks, t->v4, t->v4_chunks, teredo, &res);
		check(!res.found || res.prefixlen <= 64, "Teredo: /%u", res.prefixlen);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	file_fd = memfd_create("fuzz_mmdb", MFD_CLOEXEC);
	if (file_fd < 0) {
		perror("fuzz_mmdb: memfd_create");
		exit(1);
	}
	snprintf(file_path, sizeof(file_path), "/proc/self/fd/%d", file_fd);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct sw_geo_table empty;
	struct sw_geo_table t;
	char err[512];
	size_t plen = strlen(file_path);

	if (ftruncate(file_fd, 0) || pwrite(file_fd, data, size, 0) != (ssize_t)size) {
		perror("fuzz_mmdb: writing the memfd");
		exit(1);
	}
	records.n = 0;
	memset(err, 0x5a, sizeof(err));
	memset(&t, 0xa5, sizeof(t));
	if (sw_geo_build_each(file_path, &t, each_record, &records, err, sizeof(err))) {
		check(memchr(err, '\0', sizeof(err)), "message not terminated");
		check(!strncmp(err, file_path, plen) && err[plen] == ':' && strlen(err) > plen + 2,
		      "message \"%.200s\" does not name the file, or says nothing", err);
		check(!memcmp(&t, &empty, sizeof(t)), "table left after \"%s\"", err);
		return 0;
	}
	check_table(&t);
	sw_geo_table_free(&t);
	return 0;
}
