// SPDX-License-Identifier: GPL-2.0
/*
 * The configuration reader (user/config/config.c): sw_settings_load() on
 * whatever file an operator, or a botched deployment, might leave behind.
 *
 * The input is the file. It is handed over through a memfd, by the path
 * /proc/self/fd/N, so the reader is run exactly as the daemon runs it
 * (fopen, getline, inih) with nothing written to disk.
 *
 * A load either succeeds with settings that keep every promise the rest of
 * the program relies on (values within their bounds, lists without
 * repeats, host bits clear, low mark below high, penalty max not below
 * base, a country section with an action), or fails with one message that
 * names the file and a line of it, leaving the defaults behind and nothing
 * allocated.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "config.h"

#define check(cond, ...)                                                                   \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "fuzz_config: %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                                      \
			fputc('\n', stderr);                                               \
			abort();                                                           \
		}                                                                          \
	} while (0)

static int file_fd = -1;
static char file_path[64];
static struct sw_settings defaults;

static bool terminated(const char *s, size_t len)
{
	return memchr(s, '\0', len) != NULL;
}

static void check_path_field(const char *what, const char *p, bool may_be_empty)
{
	check(terminated(p, SW_PATH_LEN), "%s not terminated", what);
	if (may_be_empty && !p[0])
		return;
	check(p[0] == '/', "%s \"%s\" is not absolute", what, p);
}

static void check_entries(const char *list, const struct sw_config_entry *e, int n)
{
	check(n >= 0 && n <= SW_LIST_MAX_ENTRIES, "[%s]: %d entries", list, n);
	check(n == 0 || e != NULL, "[%s]: %d entries and no array", list, n);
	for (int i = 0; i < n; i++) {
		const struct sw_cidr *c = &e[i].cidr;
		unsigned bytes = c->family == SW_AF_INET ? 4 : 16;

		check(c->family == SW_AF_INET || c->family == SW_AF_INET6, "[%s] %d: family %u", list,
		      i, c->family);
		check(c->prefixlen <= bytes * 8, "[%s] %d: /%u", list, i, c->prefixlen);
		check(sw_cidr_contains(c, c->family, c->addr), "[%s] %d: not its own network", list,
		      i);
		for (unsigned b = 0; b < 16; b++) {
			unsigned bit0 = b * 8;
			uint8_t host = b >= bytes || bit0 >= c->prefixlen ? 0xff :
				       bit0 + 8 <= c->prefixlen ? 0 : 0xff >> (c->prefixlen - bit0);

			check(!(c->addr[b] & host), "[%s] %d: host bits set in byte %u", list, i, b);
		}
		check(terminated(e[i].reason, sizeof(e[i].reason)) &&
		      !strncmp(e[i].reason, "config ", 7), "[%s] %d: reason \"%.40s\"", list, i,
		      e[i].reason);
		/* The reader refuses a repeated prefix: none is left in the list. */
		for (int j = 0; j < i; j++)
			check(memcmp(&e[j].cidr, c, sizeof(*c)), "[%s]: entries %d and %d are equal",
			      list, j, i);
	}
}

static void check_country(const char *name, const struct sw_country_rule *r)
{
	if (!r->present)
		return;
	check(r->has_action, "[country %s] without an action accepted", name);
	check(r->action < SW_CA_MAX, "[country %s]: action %u", name, r->action);
	check(!r->has_syn_burst || (r->syn_burst >= 1 && r->syn_burst <= 1000000),
	      "[country %s]: syn_burst %u", name, r->syn_burst);
	check(r->syn_interval_ns <= 3600ULL * 1000000000ULL, "[country %s]: syn interval %" PRIu64,
	      name, r->syn_interval_ns);
	check(r->line >= 1, "[country %s]: line %d", name, r->line);
}

static void check_loaded(const struct sw_settings *s)
{
	struct sw_country_policy pol;
	struct sw_config k;
	bool any_port = false;
	int home = 0;

	check(s->n_interfaces >= 0 && s->n_interfaces <= SW_MAX_IFACES, "%d interfaces",
	      s->n_interfaces);
	for (int i = 0; i < s->n_interfaces; i++) {
		check(terminated(s->interfaces[i], SW_IFNAME_LEN) && s->interfaces[i][0],
		      "interface %d empty or not terminated", i);
		for (int j = 0; j < i; j++)
			check(strcmp(s->interfaces[i], s->interfaces[j]), "interface %s twice",
			      s->interfaces[i]);
	}
	check_path_field("bpffs_dir", s->bpffs_dir, false);
	check_path_field("state_dir", s->state_dir, false);
	check_path_field("geo database", s->geo_database, true);
	check(!strcmp(s->path, file_path), "path \"%s\"", s->path);

	check(!(s->port_bitmap[0] & 1), "port 0 guarded");
	for (int i = 0; i < SW_PORT_WORDS; i++)
		any_port |= s->port_bitmap[i] != 0;
	check(any_port, "no port guarded");
	check(s->ipv4_prefix >= 8 && s->ipv4_prefix <= 32, "ipv4_prefix %u", s->ipv4_prefix);
	check(s->ipv6_prefix >= 16 && s->ipv6_prefix <= 128, "ipv6_prefix %u", s->ipv6_prefix);
	check(s->syn_burst >= 1, "syn_burst %u", s->syn_burst);
	check(s->new_source_burst >= 1, "new_source_burst %u", s->new_source_burst);
	check(s->gc_interval_ns >= 100000000ULL, "gc_interval %" PRIu64, s->gc_interval_ns);
	check(s->max_sources >= 1024 && s->max_session_entries >= 1024, "capacity %u/%u",
	      s->max_sources, s->max_session_entries);
	check(s->penalty_max_ns >= s->penalty_base_ns, "penalty max %" PRIu64 " < base %" PRIu64,
	      s->penalty_max_ns, s->penalty_base_ns);
	check(sw_settings_emerg_low(s) < sw_settings_emerg_high(s), "emergency low %u >= high %u",
	      sw_settings_emerg_low(s), sw_settings_emerg_high(s));
	check(s->probation_share <= 100 && s->harvest_ratio <= 100, "percentages %u, %u",
	      s->probation_share, s->harvest_ratio);

	for (int id = 0; id < SW_COUNTRY_IDS; id++)
		home += s->geo_home[id];
	check(home == s->n_home, "%d home countries counted as %d", home, s->n_home);
	check(!s->geo_home[SW_COUNTRY_UNKNOWN] && !s->geo_home[SW_COUNTRY_NONE],
	      "unknown or none is a home country");
	check_country("home", &s->country_home);
	check_country("world", &s->country_world);
	for (int id = 0; id <= SW_COUNTRY_LAST; id++) {
		char code[3];

		sw_country_code(id, code);
		check_country(id == SW_COUNTRY_UNKNOWN ? "unknown" : code, &s->country[id]);
	}
	check(!s->country[SW_COUNTRY_NONE].present, "[country] for no country data");

	check_entries("allow", s->allow, s->n_allow);
	check_entries("deny", s->deny, s->n_deny);

	/* What the daemon does next with them: nothing to crash on. */
	sw_settings_to_kernel(s, &k);
	check(k.flags & SW_CFG_ENABLED, "kernel config not enabled");
	for (unsigned id = 0; id < SW_COUNTRY_IDS; id++) {
		sw_settings_country_policy(s, id, &pol);
		check(pol.action < SW_CA_MAX, "country %u: action %u", id, pol.action);
	}
	for (unsigned ph = 0; ph <= SW_PH_MAX; ph++) {
		sw_settings_idle_ns(s, ph);
		sw_settings_probation_ns(s, ph);
	}
	check(sw_settings_probation_slots(s) <= (s->mta_capacity ? s->mta_capacity : 1),
	      "probation slots %u of %u", sw_settings_probation_slots(s), s->mta_capacity);
}

/* "<path>:<line>: " with a line of the file, or "<path>: " for the file as a whole. */
static void check_error(const char *err, size_t err_size, const uint8_t *data, size_t size)
{
	size_t plen = strlen(file_path), lines = 1;
	char *end;
	long line;

	check(terminated(err, err_size), "message not terminated");
	check(!strncmp(err, file_path, plen) && err[plen] == ':', "message \"%s\" does not name "
	      "the file", err);
	if (err[plen + 1] == ' ')
		return;
	line = strtol(err + plen + 1, &end, 10);
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	check(end != err + plen + 1 && *end == ':' && line >= 1 && (size_t)line <= lines,
	      "message \"%s\" names no line of a %zu-line file", err, lines);
	check(strlen(end) > 2, "message \"%s\" says nothing", err);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	file_fd = memfd_create("fuzz_config", MFD_CLOEXEC);
	if (file_fd < 0) {
		perror("fuzz_config: memfd_create");
		exit(1);
	}
	snprintf(file_path, sizeof(file_path), "/proc/self/fd/%d", file_fd);
	sw_settings_defaults(&defaults);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sw_settings s;
	char err[1024];
	int ret;

	if (ftruncate(file_fd, 0) || pwrite(file_fd, data, size, 0) != (ssize_t)size) {
		perror("fuzz_config: writing the memfd");
		exit(1);
	}
	memset(err, 0x5a, sizeof(err));
	ret = sw_settings_load(&s, file_path, err, sizeof(err));
	check(ret == 0 || ret == -1, "returned %d", ret);
	if (ret == 0) {
		check(err[0] == '\0', "success with a message \"%.200s\"", err);
		check_loaded(&s);
		sw_settings_free(&s);
		return 0;
	}
	check_error(err, sizeof(err), data, size);
	/* A failed load leaves the defaults, and nothing to free. */
	check(!s.allow && !s.deny && !s.n_allow && !s.n_deny, "lists left after a failed load");
	check(!memcmp(&s, &defaults, sizeof(s)), "settings other than the defaults after \"%s\"", err);
	return 0;
}
