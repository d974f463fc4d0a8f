// SPDX-License-Identifier: GPL-2.0
/*
 * `geo lookup`, `geo status` and `countries`: what the kernel knows about
 * countries, read from the kernel's own tables and counters (not from the
 * database file, which may have changed since it was loaded).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include "cli_util.h"
#include "cli_geo.h"
#include "daemon.h"
#include "gc.h"
#include "json.h"

static const char *const action_names[SW_CA_MAX] = {
	[SW_CA_ALLOW] = "allow", [SW_CA_MONITOR] = "monitor", [SW_CA_LIMIT] = "limit",
	[SW_CA_BLOCK] = "block",
};

const char *sw_country_action_name(unsigned action)
{
	return action < SW_CA_MAX ? action_names[action] : "unknown";
}

/* "JP", "unknown" (not in the database) or "none" (no geo data). */
static const char *country_label(unsigned id, char buf[3])
{
	if (id == SW_COUNTRY_UNKNOWN)
		return "unknown";
	if (id == SW_COUNTRY_NONE)
		return "none";
	sw_country_code(id, buf);
	return buf;
}

void sw_cli_source_country(const struct sw_kernel *k, const struct sw_geo_view *v,
			   const struct sw_src_key *key, const struct sw_source *src, char out[8])
{
	struct sw_geo_result r;
	unsigned id;
	char code[3];

	if (src && src->geo_gen == k->config->geo_gen && src->country < SW_COUNTRY_IDS) {
		id = src->country;
	} else if (v && v->loaded) {
		sw_geo_view_lookup(v, key->family, key->addr, &r);
		id = r.country;
		/* An IPv4-only database places no IPv6 address. */
		if (key->family == SW_AF_INET6 && !v->v6)
			id = SW_COUNTRY_UNKNOWN;
	} else {
		id = SW_COUNTRY_NONE;
	}
	snprintf(out, 8, "%s", country_label(id, code));
}

static int open_view(const struct sw_kernel *k, struct sw_geo_view *v, const char *cmd)
{
	char err[512];

	if (sw_geo_view_open(k, v, err, sizeof(err))) {
		fprintf(stderr, "smtpwall: %s: %s\n", cmd, err);
		return -1;
	}
	return 0;
}

int sw_cmd_geo_lookup(const struct sw_kernel *k, const char *arg, bool json)
{
	struct sw_country_policy pol = { 0 };
	struct sw_geo_result r;
	struct sw_geo_view v;
	struct sw_cidr addr, prefix;
	char err[SW_ERR_LEN], code[3], ptxt[64];
	const char *label;
	__u32 id;

	if (sw_parse_addr(arg, &addr, err)) {
		fprintf(stderr, "smtpwall: geo lookup: %s\n", err);
		return 2;
	}
	if (open_view(k, &v, "geo lookup"))
		return 1;
	if (!v.loaded) {
		fprintf(stderr, "smtpwall: geo lookup: no geo tables in the kernel (set [geo] database "
				"and start or reload the daemon; `smtpwall geo status` tells more)\n");
		sw_geo_view_close(&v);
		return 1;
	}
	if (addr.family == SW_AF_INET) {
		uint32_t a;

		memcpy(&a, addr.addr, 4);
		sw_geo_lookup4(v.v4, v.v4_chunks, a, &r);
	} else {
		sw_geo_lookup6_via4(v.v6, v.v6_chunks, v.v4, v.v4_chunks, addr.addr, &r);
	}
	prefix = addr;
	if (r.found) {
		unsigned max = addr.family == SW_AF_INET ? 32 : 128;

		prefix.prefixlen = r.prefixlen;
		for (unsigned b = r.prefixlen; b < max; b++)
			prefix.addr[b / 8] &= ~(0x80 >> (b % 8));
		sw_format_cidr(&prefix, false, ptxt, sizeof(ptxt));
	}
	id = r.country;
	bpf_map_lookup_elem(k->country_policy_fd, &id, &pol);
	label = country_label(r.country, code);

	if (json) {
		struct sw_json j;

		sw_json_init(&j, stdout);
		sw_json_obj_begin(&j, NULL);
		sw_json_str(&j, "address", arg);
		sw_json_bool(&j, "found", r.found);
		sw_json_str(&j, "country", r.country == SW_COUNTRY_UNKNOWN ? NULL : code);
		sw_json_str(&j, "prefix", r.found ? ptxt : NULL);
		sw_json_bool(&j, "folded", r.folded);
		sw_json_bool(&j, "via_ipv4", r.via_v4);
		sw_json_str(&j, "policy", sw_country_action_name(pol.action));
		sw_json_u64(&j, "generation", v.info.gen);
		sw_json_str(&j, "database", v.info.path);
		sw_json_obj_end(&j);
		sw_json_finish(&j);
	} else if (r.found) {
		char v4txt[INET_ADDRSTRLEN] = "";

		if (r.via_v4)
			inet_ntop(AF_INET, &r.embedded_v4, v4txt, sizeof(v4txt));
		printf("%s: %s, from %s%s%s%s%s; policy %s\n", arg, label, ptxt,
		       r.folded ? " (a /64 holding longer prefixes, classified by its first)" : "",
		       r.via_v4 ? " (the country of its embedded IPv4 address " : "", v4txt,
		       r.via_v4 ? ")" : "", sw_country_action_name(pol.action));
	} else {
		printf("%s: not in the database (unknown); policy %s\n", arg,
		       sw_country_action_name(pol.action));
	}
	sw_geo_view_close(&v);
	return 0;
}

int sw_cmd_geo_status(const struct sw_kernel *k, const struct sw_settings *s, bool json)
{
	struct sw_geo_view v;
	struct sw_geo_info *i = &v.info;
	char built[32], loaded[32];
	struct stat st;
	bool changed = false, have_file;

	if (open_view(k, &v, "geo status"))
		return 1;
	have_file = i->path[0] && stat(i->path, &st) == 0;
	if (v.loaded && have_file)
		changed = i->file_ino != (uint64_t)st.st_ino || i->file_size != (uint64_t)st.st_size ||
			  i->file_mtime_ns != (uint64_t)st.st_mtim.tv_sec * 1000000000ULL + st.st_mtim.tv_nsec;
	sw_cli_format_utc(i->build_epoch, built, sizeof(built));
	sw_cli_format_utc(i->loaded_at, loaded, sizeof(loaded));

	if (json) {
		struct sw_json j;

		sw_json_init(&j, stdout);
		sw_json_obj_begin(&j, NULL);
		sw_json_bool(&j, "loaded", v.loaded);
		sw_json_str(&j, "configured", s->geo_database[0] ? s->geo_database : NULL);
		if (v.loaded) {
			sw_json_str(&j, "file", i->path);
			sw_json_str(&j, "database_type", i->db_type);
			sw_json_u64(&j, "build_epoch", i->build_epoch);
			sw_json_str(&j, "built", built);
			sw_json_u64(&j, "ip_version", i->ip_version);
			sw_json_u64(&j, "record_size", i->record_size);
			sw_json_u64(&j, "node_count", i->node_count);
			sw_json_u64(&j, "ipv4_prefixes", i->v4_prefixes);
			sw_json_u64(&j, "ipv6_prefixes", i->v6_prefixes);
			sw_json_u64(&j, "no_country", i->no_country);
			sw_json_u64(&j, "ipv6_folded", i->folded);
			sw_json_u64(&j, "shared_chunks", i->shared);
			sw_json_u64(&j, "ipv4_aliases", i->v4_aliases);
			sw_json_u64(&j, "ipv4_chunks", v.v4_chunks);
			sw_json_u64(&j, "ipv6_chunks", v.v6_chunks);
			sw_json_u64(&j, "kernel_bytes", v.memlock);
			sw_json_u64(&j, "loaded_at", i->loaded_at);
			sw_json_u64(&j, "load_ms", i->load_ns / 1000000);
			sw_json_u64(&j, "generation", i->gen);
			sw_json_bool(&j, "file_changed", changed);
			sw_json_bool(&j, "file_missing", !have_file);
		}
		sw_json_obj_end(&j);
		sw_json_finish(&j);
		sw_geo_view_close(&v);
		return 0;
	}

	if (!v.loaded) {
		printf("geo: no tables loaded: country policies do not apply\n");
		if (s->geo_database[0])
			printf("  configured: %s (not loaded: see the daemon's log)\n", s->geo_database);
		else
			printf("  configured: none ([geo] database is not set)\n");
		sw_geo_view_close(&v);
		return 0;
	}
	printf("geo: %s\n", i->path);
	printf("  database:    %s, built %s, IPv%u tree, %u nodes, %u-bit records\n",
	       i->db_type[0] ? i->db_type : "(unnamed)", built, i->ip_version, i->node_count,
	       i->record_size);
	printf("  prefixes:    %" PRIu64 " IPv4, %" PRIu64 " IPv6; %" PRIu64 " without a country\n",
	       (uint64_t)i->v4_prefixes, (uint64_t)i->v6_prefixes, (uint64_t)i->no_country);
	if (i->v4_aliases)
		printf("  aliases:     %" PRIu64 " (6to4, Teredo) classified by their embedded IPv4 address\n",
		       (uint64_t)i->v4_aliases);
	if (i->folded)
		printf("  folded:      %" PRIu64 " IPv6 /64s holding longer prefixes, each classified by "
		       "its first\n", (uint64_t)i->folded);
	printf("  loaded:      %s in %.2f s (generation %" PRIu64 ")\n", loaded, i->load_ns / 1e9,
	       (uint64_t)i->gen);
	printf("  kernel:      %.1f MiB (IPv4 %u chunks, IPv6 %u chunks of 1 KiB; %" PRIu64
	       " identical ones stored once)\n", v.memlock / 1048576.0, v.v4_chunks, v.v6_chunks,
	       (uint64_t)i->shared);
	if (!have_file)
		printf("  note:        the file is gone; the loaded tables stay in force\n");
	else if (changed)
		printf("  note:        the file changed since it was loaded; the daemon reloads it "
		       "within gc_interval\n");
	if (s->geo_database[0] && strcmp(s->geo_database, i->path))
		printf("  note:        the configuration names %s, which has not loaded\n", s->geo_database);
	sw_geo_view_close(&v);
	return 0;
}

struct country_row {
	unsigned id;
	struct sw_country_stats st;
	uint64_t sessions, sources;
	uint8_t action;
};

static int row_cmp(const void *a, const void *b)
{
	const struct country_row *x = a, *y = b;

	if (x->st.syn != y->st.syn)
		return x->st.syn < y->st.syn ? 1 : -1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* The policies that cover countries without a section of their own. */
static void print_defaults(const struct sw_settings *set)
{
	char home[3 * 64 + 8] = "";
	size_t off = 0;
	int shown = 0;

	for (unsigned id = SW_COUNTRY_FIRST; id <= SW_COUNTRY_LAST; id++) {
		char code[3];

		if (!set->geo_home[id])
			continue;
		sw_country_code(id, code);
		if (shown++ < 64)
			off += snprintf(home + off, sizeof(home) - off, "%s%s", shown > 1 ? "," : "", code);
	}
	if (shown > 64)
		snprintf(home + off, sizeof(home) - off, ",...");
	printf("home %s: %s; world: %s; unknown: %s\n", shown ? home : "(none)",
	       set->country_home.present ? sw_country_action_name(set->country_home.action) : "allow",
	       set->country_world.present ? sw_country_action_name(set->country_world.action) : "allow",
	       set->country[SW_COUNTRY_UNKNOWN].present ?
		       sw_country_action_name(set->country[SW_COUNTRY_UNKNOWN].action) : "allow");
}

int sw_cmd_countries(const struct sw_kernel *k, const struct sw_settings *set, bool json)
{
	struct sw_country_stats *stats;
	struct country_row *rows;
	struct sw_src_key *keys = NULL;
	struct sw_source *vals = NULL;
	struct sw_geo_view v;
	long n;
	int n_rows = 0, r;

	stats = calloc(SW_COUNTRY_IDS, sizeof(*stats));
	rows = calloc(SW_COUNTRY_IDS, sizeof(*rows));
	if (!stats || !rows) {
		free(stats);
		free(rows);
		return 1;
	}
	r = sw_kernel_country_stats(k, stats);
	if (r) {
		fprintf(stderr, "smtpwall: countries: cannot read the counters: %s\n", strerror(-r));
		free(stats);
		free(rows);
		return 1;
	}
	if (open_view(k, &v, "countries")) {
		free(stats);
		free(rows);
		return 1;
	}
	for (unsigned id = 0; id < SW_COUNTRY_IDS; id++) {
		struct sw_country_policy pol = { 0 };
		__u32 key = id;

		rows[id].id = id;
		rows[id].st = stats[id];
		bpf_map_lookup_elem(k->country_policy_fd, &key, &pol);
		rows[id].action = pol.action;
	}
	/* Sessions and sources now, by each source's country. */
	n = sw_map_dump(k->sources_fd, sizeof(*keys), sizeof(*vals), (void **)&keys, (void **)&vals);
	for (long i = 0; i < n; i++) {
		char label[8];
		int id;

		sw_cli_source_country(k, &v, &keys[i], &vals[i], label);
		id = !strcmp(label, "unknown") ? SW_COUNTRY_UNKNOWN
		     : !strcmp(label, "none")  ? SW_COUNTRY_NONE
					       : sw_country_id(label);
		if (id < 0 || id >= SW_COUNTRY_IDS)
			continue;
		rows[id].sources++;
		rows[id].sessions += sw_source_live(k, &keys[i], &vals[i]);
	}
	free(keys);
	free(vals);
	/*
	 * Countries with something to show, busiest first: traffic, sources,
	 * or a section of their own (home and world apply to every code, and
	 * listing 676 idle ones would hide the few that matter).
	 */
	for (unsigned id = 0; id < SW_COUNTRY_IDS; id++) {
		struct country_row *x = &rows[id];
		bool own = id <= SW_COUNTRY_LAST && set->country[id].present;

		if (x->st.syn || x->sources || own || sw_cli_sum_reasons(x->st.dropped) ||
		    sw_cli_sum_reasons(x->st.would_drop))
			rows[n_rows++] = *x;
	}
	qsort(rows, n_rows, sizeof(*rows), row_cmp);

	if (json) {
		struct sw_json j;

		sw_json_init(&j, stdout);
		sw_json_obj_begin(&j, NULL);
		sw_json_bool(&j, "geo_loaded", v.loaded);
		sw_json_arr_begin(&j, "countries");
		for (int i = 0; i < n_rows; i++) {
			char code[3];

			sw_json_obj_begin(&j, NULL);
			sw_json_str(&j, "country", country_label(rows[i].id, code));
			sw_json_str(&j, "policy", sw_country_action_name(rows[i].action));
			sw_json_u64(&j, "syn", rows[i].st.syn);
			sw_json_u64(&j, "admitted", rows[i].st.admitted);
			sw_cli_json_reasons(&j, "dropped", rows[i].st.dropped);
			sw_cli_json_reasons(&j, "would_drop", rows[i].st.would_drop);
			sw_json_u64(&j, "sessions_now", rows[i].sessions);
			sw_json_u64(&j, "sources", rows[i].sources);
			sw_json_obj_end(&j);
		}
		sw_json_arr_end(&j);
		sw_json_obj_end(&j);
		sw_json_finish(&j);
	} else {
		if (!v.loaded)
			printf("(no geo tables loaded: every source is unclassified, shown as \"none\")\n");
		print_defaults(set);
		printf("%-8s %-8s %10s %10s %10s %10s %9s %8s\n", "COUNTRY", "POLICY", "SYN", "ADMITTED",
		       "DROPPED", "WOULD-DROP", "SESSIONS", "SOURCES");
		for (int i = 0; i < n_rows; i++) {
			char code[3];

			printf("%-8s %-8s %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %9" PRIu64
			       " %8" PRIu64 "\n",
			       country_label(rows[i].id, code), sw_country_action_name(rows[i].action),
			       (uint64_t)rows[i].st.syn, (uint64_t)rows[i].st.admitted,
			       sw_cli_sum_reasons(rows[i].st.dropped), sw_cli_sum_reasons(rows[i].st.would_drop),
			       rows[i].sessions, rows[i].sources);
		}
	}
	sw_geo_view_close(&v);
	free(stats);
	free(rows);
	return 0;
}
