// SPDX-License-Identifier: GPL-2.0
/*
 * mkseeds: the seeds of tests/fuzz/corpus that are built rather than
 * written by hand, from the same writers as the tests use: MaxMind DB files
 * (tests/lib/mmdb_writer.h), good and damaged in each way it knows, and
 * frames (tests/lib/pkt.h) of every layout the parser takes apart.
 *
 *   mkseeds CORPUS_DIR     (make fuzz-seeds: tests/fuzz/corpus)
 *
 * Each generated file is named gen-*, and every gen-* of CORPUS_DIR/mmdb
 * and CORPUS_DIR/packet is rewritten, so that a seed dropped here is
 * dropped there too; the output is the same on every run.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mmdb_writer.h"
#include "pkt.h"

static const char *corpus;

static __attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...)
{
	va_list ap;

	fputs("mkseeds: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void path_of(char *buf, size_t len, const char *harness, const char *name)
{
	if (snprintf(buf, len, "%s/%s/gen-%s", corpus, harness, name) >= (int)len)
		die("%s/%s/gen-%s: path too long", corpus, harness, name);
}

/* An empty CORPUS_DIR/@harness of generated seeds, ready for new ones. */
static void clear_generated(const char *harness)
{
	char dir[4096], file[4096 + 256];
	struct dirent *d;
	DIR *dp;

	snprintf(dir, sizeof(dir), "%s/%s", corpus, harness);
	if (mkdir(dir, 0755) && errno != EEXIST)
		die("%s: %s", dir, strerror(errno));
	dp = opendir(dir);
	if (!dp)
		die("%s: %s", dir, strerror(errno));
	while ((d = readdir(dp)))
		if (!strncmp(d->d_name, "gen-", 4)) {
			snprintf(file, sizeof(file), "%s/%s", dir, d->d_name);
			if (unlink(file))
				die("%s: %s", file, strerror(errno));
		}
	closedir(dp);
}

/* ---- databases ------------------------------------------------------------- */

struct prefix {
	const char *cidr;
	const char *country;	/* NULL: a record without a country */
	enum mmdbw_schema schema;
};

struct database {
	const char *name;
	unsigned ip_version, record_size;
	bool alias;
	const struct prefix *prefixes;
	/* Damaged copies of it, each written as gen-<name>-<corruption>.mmdb. */
	bool corrupt;
};

static const struct prefix v4_geoip2[] = {
	{ "10.0.0.0/8", "JP", MMDBW_GEOIP2 },
	{ "192.0.2.0/24", "US", MMDBW_GEOIP2 },
	{ "198.51.100.0/25", "DE", MMDBW_GEOIP2_REGISTERED },
	{ "198.51.100.128/26", NULL, MMDBW_NO_COUNTRY },
	{ "203.0.113.7/32", "FR", MMDBW_GEOIP2 },
	{ NULL },
};

static const struct prefix v4_flat[] = {
	{ "0.0.0.0/1", "BR", MMDBW_FLAT },
	{ "128.0.0.0/2", "CN", MMDBW_FLAT },
	{ "192.0.0.0/16", "zz", MMDBW_FLAT },
	{ "203.0.113.0/24", "XYZ", MMDBW_FLAT },
	{ NULL },
};

static const struct prefix v6_mixed[] = {
	{ "10.0.0.0/8", "JP", MMDBW_GEOIP2 },
	{ "192.0.2.0/24", "US", MMDBW_FLAT },
	{ "2001:db8:8000::/33", "FR", MMDBW_GEOIP2 },
	{ "2001:db8:1:2::/80", "DE", MMDBW_GEOIP2 },
	{ "2001:db8:1:2:8000::/65", "NL", MMDBW_GEOIP2 },
	{ "2a00::/12", "GB", MMDBW_GEOIP2_REGISTERED },
	{ "2c0f:f000::1/128", NULL, MMDBW_NO_COUNTRY },
	{ NULL },
};

/* A record above ::/96 holds all of IPv4. */
static const struct prefix v6_above_v4[] = {
	{ "::/16", "AU", MMDBW_FLAT },
	{ "2001:db8::/48", "SE", MMDBW_FLAT },
	{ NULL },
};

static const struct database databases[] = {
	{ "v4-geoip2-24", 4, 24, false, v4_geoip2, true },
	{ "v4-flat-28", 4, 28, false, v4_flat, false },
	{ "v4-geoip2-32", 4, 32, false, v4_geoip2, false },
	{ "v6-alias-28", 6, 28, true, v6_mixed, true },
	{ "v6-plain-24", 6, 24, false, v6_mixed, false },
	{ "v6-above-v4-32", 6, 32, false, v6_above_v4, false },
};

static void write_database(const struct database *d)
{
	static const char *const corruptions[] = { "truncate", "magic", "tree", "loop", "data", "type" };
	char path[4096], bad[4096], name[256];
	struct mmdbw *w = mmdbw_new(d->ip_version, d->record_size);

	if (!w)
		die("mmdbw_new: %s", strerror(errno));
	for (const struct prefix *p = d->prefixes; p->cidr; p++)
		if (mmdbw_add(w, p->cidr, p->country, p->schema))
			die("%s: %s: %s", d->name, p->cidr, mmdbw_error(w));
	if (d->alias)
		mmdbw_alias_ipv4(w);
	snprintf(name, sizeof(name), "%s.mmdb", d->name);
	path_of(path, sizeof(path), "mmdb", name);
	if (mmdbw_write(w, path))
		die("%s: %s", path, strerror(errno));
	mmdbw_free(w);
	if (!d->corrupt)
		return;
	for (size_t i = 0; i < sizeof(corruptions) / sizeof(corruptions[0]); i++) {
		snprintf(name, sizeof(name), "%s-%s.mmdb", d->name, corruptions[i]);
		path_of(bad, sizeof(bad), "mmdb", name);
		if (mmdbw_corrupt_file(path, bad, mmdbw_corruption_parse(corruptions[i])))
			die("%s: %s", bad, strerror(errno));
	}
}

/* ---- frames ---------------------------------------------------------------- */

static const char ehlo[] = "EHLO client.example\r\nMAIL FROM:<a@example.org>\r\n"
			   "RCPT TO:<b@example.net>\r\nDATA\r\n";
static const char replies[] = "250-mx.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n354 go on\r\n";
static const char bdat[] = "BDAT 1000 LAST\r\n";
static const char quit[] = "quit\r\n";

static const struct frame {
	const char *name;
	struct pkt_opts o;
} frames[] = {
	{ "v4-syn", { .src = "198.51.100.7" } },
	{ "v4-ack-ehlo", { .src = "198.51.100.7", .flags = PKT_ACK | PKT_PSH, .payload = sizeof(ehlo) - 1,
			   .payload_data = ehlo } },
	{ "v4-options-qinq", { .src = "198.51.100.7", .vlan_tags = 2, .ip_opt_words = 4, .tcp_opt_words = 3 } },
	{ "v4-one-vlan-quit", { .src = "198.51.100.7", .vlan_tags = 1, .flags = PKT_ACK,
				.payload = sizeof(quit) - 1, .payload_data = quit } },
	{ "v4-fragment", { .src = "198.51.100.7", .ipv4_frag_offset = 100 } },
	{ "v4-udp", { .src = "198.51.100.7", .proto = IPPROTO_UDP } },
	{ "v4-bad-ihl", { .src = "198.51.100.7", .ihl = 4 } },
	{ "v4-bad-doff", { .src = "198.51.100.7", .doff = 15 } },
	{ "v4-three-vlans", { .src = "198.51.100.7", .vlan_tags = 3 } },
	{ "v4-reply", { .src = "192.0.2.1", .dst = "198.51.100.7", .sport = 25, .dport = 40000,
			.flags = PKT_ACK | PKT_PSH, .payload = sizeof(replies) - 1, .payload_data = replies } },
	{ "v6-syn", { .src = "2001:db8:1::7" } },
	{ "v6-three-ext", { .src = "2001:db8:1::7", .tcp_opt_words = 2,
			    .v6_ext = { IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPPROTO_DSTOPTS } } },
	{ "v6-ah-fragment", { .src = "2001:db8:1::7", .vlan_tags = 1,
			      .v6_ext = { IPPROTO_AH, IPPROTO_FRAGMENT } } },
	{ "v6-fragment-later", { .src = "2001:db8:1::7", .v6_ext = { IPPROTO_FRAGMENT }, .v6_frag_offset = 10 } },
	{ "v6-bdat", { .src = "2001:db8:1::7", .flags = PKT_ACK, .payload = sizeof(bdat) - 1,
		       .payload_data = bdat, .v6_ext = { IPPROTO_DSTOPTS } } },
	{ "v6-ehlo", { .src = "2001:db8:1::7", .vlan_tags = 2, .flags = PKT_ACK | PKT_PSH,
		       .payload = sizeof(ehlo) - 1, .payload_data = ehlo } },
	{ "v6-reply", { .src = "2001:db8::1", .dst = "2001:db8:1::7", .sport = 587, .dport = 40000,
			.flags = PKT_ACK, .payload = sizeof(replies) - 1, .payload_data = replies } },
};

static void write_frame(const struct frame *f)
{
	struct pkt_opts o = f->o;
	uint8_t buf[PKT_MAX];
	char path[4096], name[256];
	size_t len;
	FILE *out;

	if (!o.seq)
		o.seq = 1000;	/* not pkt.h's counter: the same bytes on every run */
	len = pkt_build(&o, buf);
	if (!len)
		die("frame %s: bad options", f->name);
	snprintf(name, sizeof(name), "%s.bin", f->name);
	path_of(path, sizeof(path), "packet", name);
	out = fopen(path, "we");
	if (!out || fwrite(buf, 1, len, out) != len || fclose(out))
		die("%s: %s", path, strerror(errno));
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fputs("usage: mkseeds CORPUS_DIR\n", stderr);
		return 2;
	}
	corpus = argv[1];
	clear_generated("mmdb");
	clear_generated("packet");
	for (size_t i = 0; i < sizeof(databases) / sizeof(databases[0]); i++)
		write_database(&databases[i]);
	for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]); i++)
		write_frame(&frames[i]);
	printf("mkseeds: %zu databases (and damaged copies), %zu frames in %s\n",
	       sizeof(databases) / sizeof(databases[0]), sizeof(frames) / sizeof(frames[0]), corpus);
	return 0;
}
