// SPDX-License-Identifier: GPL-2.0
/*
 * Operator commands. They work from the pinned maps and the state database,
 * whether or not the daemon runs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "cli.h"
#include "cli_util.h"
#include "cli_account.h"
#include "cli_events.h"
#include "cli_geo.h"
#include "cli_links.h"
#include "cli_sessions.h"
#include "daemon.h"
#include "gc.h"
#include "json.h"
#include "kernel.h"
#include "lists.h"
#include "loader.h"
#include "store.h"

/* What every command needs: settings, and the pins if smtpwall is loaded. */
struct cli_ctx {
	struct sw_settings s;
	struct sw_kernel k;
	bool loaded;
	char load_err[512];
};

static int ctx_open(struct cli_ctx *c, const char *config_path)
{
	char err[512];

	memset(c, 0, sizeof(*c));
	sw_settings_defaults(&c->s);
	if (config_path && sw_settings_load(&c->s, config_path, err, sizeof(err))) {
		fprintf(stderr, "smtpwall: %s\n", err);
		return -1;
	}
	c->loaded = sw_kernel_open(&c->k, c->s.bpffs_dir, c->load_err, sizeof(c->load_err)) == 0;
	return 0;
}

static void ctx_close(struct cli_ctx *c)
{
	if (c->loaded)
		sw_kernel_close(&c->k);
	sw_settings_free(&c->s);
}

static int need_loaded(struct cli_ctx *c)
{
	if (c->loaded)
		return 0;
	fprintf(stderr, "smtpwall: %s\n", c->load_err);
	return -1;
}

static struct sw_store *open_store(struct cli_ctx *c)
{
	char err[512];
	struct sw_store *st = sw_store_open(c->s.state_dir, err, sizeof(err));

	if (!st)
		fprintf(stderr, "smtpwall: %s\n", err);
	return st;
}

static void print_reasons(const char *title, const __u64 *v)
{
	printf("  %-14s", title);
	for (int r = 0; r < SW_R_MAX; r++)
		printf(" %s=%" PRIu64, sw_reason_name(r), (uint64_t)v[r]);
	printf("\n");
}

/*
 * The daemon's note that it set a damaged state.db aside: shown while the
 * set-aside file is still there (the operator deals with it by moving it).
 * 1 with its parts, 0 if none.
 */
static int state_recovered(const struct cli_ctx *c, long long *at, char *aside, size_t asidelen, char *why,
			   size_t whylen)
{
	char rec[1024], path[512];
	struct sw_store *store = sw_store_open(c->s.state_dir, NULL, 0);
	struct stat sb;
	int n = 0, r;

	if (!store)
		return 0;
	r = sw_store_setting_get(store, "state_recovered", rec, sizeof(rec), NULL, 0);
	sw_store_close(store);
	if (r != 1 || sscanf(rec, "%lld %511s %n", at, path, &n) < 2 || !n)
		return 0;
	if (stat(path, &sb))
		return 0;
	snprintf(aside, asidelen, "%s", path);
	snprintf(why, whylen, "%s", rec + n);
	return 1;
}

/* ---- status ---- */

static int cmd_status(struct cli_ctx *c, bool json)
{
	char rec_aside[512], rec_why[1024];
	long long rec_at;
	struct sw_attachment att[SW_MAX_IFACES * 2];
	struct sw_stats st;
	int n_att, pid;
	long sources = 0, sessions = 0;

	pid = sw_daemon_pid(c->s.state_dir);
	n_att = sw_attachments(c->s.bpffs_dir, att, SW_MAX_IFACES * 2);
	if (n_att < 0)
		n_att = 0;
	if (c->loaded) {
		if (sw_kernel_stats(&c->k, &st))
			memset(&st, 0, sizeof(st));
		sources = sw_map_count(c->k.sources_fd, sizeof(struct sw_src_key));
		sessions = sw_map_count(c->k.sessions_fd, sizeof(struct sw_session_key));
	}

	if (json) {
		struct sw_json j;

		sw_json_init(&j, stdout);
		sw_json_obj_begin(&j, NULL);
		sw_json_obj_begin(&j, "daemon");
		sw_json_bool(&j, "running", pid != 0);
		if (pid > 0)
			sw_json_i64(&j, "pid", pid);
		else
			sw_json_null(&j, "pid");
		sw_json_obj_end(&j);
		sw_json_bool(&j, "loaded", c->loaded);
		if (!c->loaded)
			sw_json_str(&j, "not_loaded", c->load_err);
		sw_json_str(&j, "bpffs_dir", c->s.bpffs_dir);
		sw_json_bool(&j, "dry_run", c->loaded && (c->k.config->flags & SW_CFG_DRY_RUN));
		sw_json_arr_begin(&j, "attached");
		for (int i = 0; i < n_att; i++) {
			sw_json_obj_begin(&j, NULL);
			sw_json_str(&j, "ifname", att[i].ifname);
			sw_json_i64(&j, "ifindex", att[i].ifindex);
			sw_json_str(&j, "mode", att[i].mode);
			sw_json_obj_end(&j);
		}
		sw_json_arr_end(&j);
		sw_json_i64(&j, "sources", sources);
		sw_json_i64(&j, "sessions", sessions);
		if (c->loaded) {
			sw_json_u64(&j, "sources_capacity", c->s.max_sources);
			sw_json_obj_begin(&j, "stats");
			sw_json_u64(&j, "packets", st.packets);
			sw_json_u64(&j, "guarded_packets", st.guarded_packets);
			sw_json_u64(&j, "guarded_bytes", st.guarded_bytes);
			sw_json_u64(&j, "syn", st.syn);
			sw_json_u64(&j, "admitted", st.admitted);
			sw_json_u64(&j, "syn_retransmit", st.syn_retransmit);
			sw_json_u64(&j, "allowlisted", st.allowlisted);
			sw_json_u64(&j, "sessions_opened", st.sessions_opened);
			sw_json_u64(&j, "sessions_closed", st.sessions_closed);
			sw_json_u64(&j, "sessions_untracked", st.sessions_untracked);
			sw_json_u64(&j, "untracked_syn", st.untracked_syn);
			sw_json_u64(&j, "source_table_full", st.source_table_full);
			sw_json_u64(&j, "fragments", st.fragments);
			sw_json_u64(&j, "penalties", st.penalties);
			sw_json_u64(&j, "events_lost", st.events_lost);
			sw_cli_json_reasons(&j, "dropped", st.dropped);
			sw_cli_json_reasons(&j, "would_drop", st.would_drop);
			sw_json_obj_begin(&j, "malformed");
			sw_json_u64(&j, "l2", st.malformed[SW_M_L2]);
			sw_json_u64(&j, "ipv4", st.malformed[SW_M_IPV4]);
			sw_json_u64(&j, "ipv6", st.malformed[SW_M_IPV6]);
			sw_json_u64(&j, "tcp", st.malformed[SW_M_TCP]);
			sw_json_obj_end(&j);
			sw_json_obj_end(&j);
			{
				struct sw_store *store = sw_store_open(c->s.state_dir, NULL, 0);

				sw_cli_status_health_json(&j, &c->k, &st, store, &c->s);
				if (store)
					sw_store_close(store);
			}
		}
		if (state_recovered(c, &rec_at, rec_aside, sizeof(rec_aside), rec_why, sizeof(rec_why))) {
			char when[32];

			sw_cli_format_utc((uint64_t)rec_at, when, sizeof(when));
			sw_json_obj_begin(&j, "state_recovered");
			sw_json_str(&j, "at", when);
			sw_json_str(&j, "set_aside_as", rec_aside);
			sw_json_str(&j, "why", rec_why);
			sw_json_obj_end(&j);
		} else {
			sw_json_null(&j, "state_recovered");
		}
		sw_json_obj_end(&j);
		sw_json_finish(&j);
		return 0;
	}

	printf("daemon:      %s", pid ? "running" : "not running");
	if (pid > 0)
		printf(" (pid %d)", pid);
	if (c->loaded)
		printf("\nmaps:        %s\n", c->s.bpffs_dir);
	else
		printf("\nmaps:        not loaded: %s\n", c->load_err);
	if (state_recovered(c, &rec_at, rec_aside, sizeof(rec_aside), rec_why, sizeof(rec_why))) {
		char when[32];

		sw_cli_format_utc((uint64_t)rec_at, when, sizeof(when));
		printf("state:       DAMAGED state.db set aside as %s at %s (%s); running on a fresh one. "
		       "Move that file away once looked at\n", rec_aside, when, rec_why);
	}
	if (!n_att)
		printf("attached:    none\n");
	for (int i = 0; i < n_att; i++)
		printf("attached:    %s (ifindex %d, %s)\n", att[i].ifname, att[i].ifindex, att[i].mode);
	if (!c->loaded)
		return 0;
	if (c->k.config->flags & SW_CFG_DRY_RUN)
		printf("mode:        DRY-RUN (decisions counted, nothing dropped)\n");
	printf("sources:     %ld of %u\nsessions:    %ld\n", sources, c->s.max_sources, sessions);
	printf("packets:     %" PRIu64 " (%" PRIu64 " to guarded ports, %" PRIu64 " bytes)\n",
	       (uint64_t)st.packets, (uint64_t)st.guarded_packets, (uint64_t)st.guarded_bytes);
	printf("connections: %" PRIu64 " SYNs, %" PRIu64 " admitted, %" PRIu64 " retransmitted, %" PRIu64
	       " allowlisted\n",
	       (uint64_t)st.syn, (uint64_t)st.admitted, (uint64_t)st.syn_retransmit, (uint64_t)st.allowlisted);
	printf("sessions:    %" PRIu64 " opened, %" PRIu64 " closed by clients, %" PRIu64
	       " untracked (source at its limit)\n",
	       (uint64_t)st.sessions_opened, (uint64_t)st.sessions_closed, (uint64_t)st.sessions_untracked);
	printf("penalties:   %" PRIu64 "\n", (uint64_t)st.penalties);
	printf("flood:       %" PRIu64 " SYNs untracked (%" PRIu64 " for a full source table)\n",
	       (uint64_t)st.untracked_syn, (uint64_t)st.source_table_full);
	printf("drops:\n");
	print_reasons("dropped", st.dropped);
	print_reasons("would drop", st.would_drop);
	printf("malformed:   l2=%" PRIu64 " ipv4=%" PRIu64 " ipv6=%" PRIu64 " tcp=%" PRIu64
	       " (fragments %" PRIu64 ")\n",
	       (uint64_t)st.malformed[SW_M_L2], (uint64_t)st.malformed[SW_M_IPV4],
	       (uint64_t)st.malformed[SW_M_IPV6], (uint64_t)st.malformed[SW_M_TCP], (uint64_t)st.fragments);
	{
		struct sw_store *store = sw_store_open(c->s.state_dir, NULL, 0);

		sw_cli_status_health_text(&c->k, &st, store, &c->s);
		if (store)
			sw_store_close(store);
	}
	return 0;
}

/* ---- show ---- */

static uint64_t secs_until(uint64_t t_ns, uint64_t now)
{
	return t_ns > now ? (t_ns - now + 999999999ull) / 1000000000ull : 0;
}

static uint64_t secs_since(uint64_t t_ns, uint64_t now)
{
	return now > t_ns ? (now - t_ns) / 1000000000ull : 0;
}

/* The list entry that decides @addr's fate, as the kernel would choose it. */
static const char *list_verdict(struct cli_ctx *c, const struct sw_cidr *addr, struct sw_cidr *matched,
				struct sw_list_entry *entry, enum sw_list_kind *kind)
{
	struct sw_list_entry a = { 0 }, d = { 0 };
	struct sw_cidr am, dm;
	uint64_t now = sw_mono_ns();
	__u64 expires;
	bool has_a = !sw_list_match(&c->k, SW_LIST_KIND_ALLOW, addr, &a, &am) && !sw_list_expired(&a, now);
	bool has_d = !sw_list_match(&c->k, SW_LIST_KIND_DENY, addr, &d, &dm) && !sw_list_expired(&d, now);

	switch (sw_list_pick(has_a ? &a : NULL, has_d ? &d : NULL, &expires)) {
	case SW_LIST_DENY:
		*matched = dm;
		*entry = d;
		*kind = SW_LIST_KIND_DENY;
		return "deny";
	case SW_LIST_ALLOW:
		*matched = am;
		*entry = a;
		*kind = SW_LIST_KIND_ALLOW;
		return "allow";
	}
	return "none";
}

static int cmd_show(struct cli_ctx *c, const char *arg, bool json)
{
	struct sw_cidr addr, src_cidr, matched;
	struct sw_list_entry entry = { 0 };
	struct sw_store_entry stored;
	enum sw_list_kind kind = 0;
	struct sw_src_key key;
	struct sw_source src;
	char err[SW_ERR_LEN], who[64], mtxt[64], link_key[64];
	const char *list;
	bool known, have_reason = false;
	uint64_t now = sw_mono_ns();
	uint32_t live = 0;
	struct sw_store *store;

	if (sw_parse_addr(arg, &addr, err)) {
		fprintf(stderr, "smtpwall: show: %s\n", err);
		return 2;
	}
	if (need_loaded(c))
		return 1;
	sw_source_key(c->k.config, &addr, &key);
	sw_source_cidr(c->k.config, &key, &src_cidr);
	sw_format_cidr(&src_cidr, false, who, sizeof(who));
	sw_format_cidr(&src_cidr, true, link_key, sizeof(link_key));
	known = bpf_map_lookup_elem(c->k.sources_fd, &key, &src) == 0;
	if (!known)
		memset(&src, 0, sizeof(src));
	else
		live = sw_source_live(&c->k, &key, &src);
	list = list_verdict(c, &addr, &matched, &entry, &kind);
	if (strcmp(list, "none")) {
		sw_format_cidr(&matched, false, mtxt, sizeof(mtxt));
		store = open_store(c);
		if (store) {
			have_reason = sw_store_get(store, kind, &matched, &stored, err, sizeof(err)) == 1;
			sw_store_close(store);
		}
	}
	bool penalised = src.penalty_until_ns > now;
	uint32_t pending = sw_source_pending(&src, now);
	struct sw_geo_view geo;
	char country[8];

	if (sw_geo_view_open(&c->k, &geo, err, sizeof(err)))
		memset(&geo, 0, sizeof(geo));
	sw_cli_source_country(&c->k, &geo, &key, known ? &src : NULL, country);
	sw_geo_view_close(&geo);

	if (json) {
		struct sw_json j;

		sw_json_init(&j, stdout);
		sw_json_obj_begin(&j, NULL);
		sw_json_str(&j, "address", arg);
		sw_json_str(&j, "source", who);
		sw_json_bool(&j, "known", known);
		sw_json_str(&j, "country", country);
		sw_json_u64(&j, "syn", src.syn);
		sw_json_u64(&j, "admitted", src.admitted);
		sw_json_u64(&j, "packets", src.packets);
		sw_json_u64(&j, "bytes", src.bytes);
		sw_json_u64(&j, "sessions_now", live);
		sw_json_u64(&j, "handshakes_pending", pending);
		sw_json_u64(&j, "sessions_total", src.sessions_total);
		sw_cli_json_reasons(&j, "dropped", src.dropped);
		sw_cli_json_reasons(&j, "would_drop", src.would_drop);
		sw_json_obj_begin(&j, "penalty");
		sw_json_bool(&j, "active", penalised);
		sw_json_u64(&j, "remaining_s", penalised ? secs_until(src.penalty_until_ns, now) : 0);
		sw_json_str(&j, "reason", src.offences ? sw_reason_name(src.penalty_reason) : NULL);
		sw_json_u64(&j, "offences", src.offences);
		sw_json_u64(&j, "strikes", src.strikes);
		sw_json_obj_end(&j);
		sw_json_str(&j, "list", list);
		if (strcmp(list, "none")) {
			sw_json_obj_begin(&j, "list_entry");
			sw_json_str(&j, "cidr", mtxt);
			sw_json_str(&j, "origin", entry.origin == SW_ORIGIN_CONFIG ? "config" : "cli");
			sw_json_str(&j, "reason", have_reason ? stored.reason : NULL);
			if (entry.expires_ns)
				sw_json_u64(&j, "expires_in_s", secs_until(entry.expires_ns, now));
			else
				sw_json_null(&j, "expires_in_s");
			sw_json_obj_end(&j);
		}
		sw_json_bool(&j, "proven", src.flags & SW_SRC_PROVEN);
		sw_cli_show_health_json(&j, &c->k, &c->s, &key, &src, known, now);
		if (known) {
			sw_json_u64(&j, "first_seen_s_ago", secs_since(src.first_seen_ns, now));
			sw_json_u64(&j, "last_syn_s_ago", secs_since(src.last_syn_ns, now));
		}
		store = open_store(c);
		if (store) {
			sw_cli_source_accounts(store, &c->s, link_key, &j);
			sw_store_close(store);
		}
		sw_json_obj_end(&j);
		sw_json_finish(&j);
		return 0;
	}

	printf("source %s (address %s, country %s)%s\n", who, arg, country,
	       known ? "" : ": no state (never seen, or expired)");
	store = open_store(c);
	if (store) {
		sw_cli_source_accounts(store, &c->s, link_key, NULL);
		sw_store_close(store);
	}
	if (strcmp(list, "none"))
		printf("  list:      %s %s (%s)%s%s\n", list, mtxt,
		       entry.origin == SW_ORIGIN_CONFIG ? "config" : "cli",
		       have_reason ? ": " : "", have_reason ? stored.reason : "");
	if (!known)
		return 0;
	printf("  seen:      first %" PRIu64 "s ago, last SYN %" PRIu64 "s ago%s\n",
	       secs_since(src.first_seen_ns, now), secs_since(src.last_syn_ns, now),
	       (src.flags & SW_SRC_PROVEN) ? ", completed a handshake" : "");
	printf("  SYNs:      %" PRIu64 " (%" PRIu64 " admitted)\n", (uint64_t)src.syn, (uint64_t)src.admitted);
	printf("  sessions:  %u now, %u handshakes pending, %" PRIu64 " total\n", live, pending,
	       (uint64_t)src.sessions_total);
	printf("  traffic:   %" PRIu64 " packets, %" PRIu64 " bytes\n", (uint64_t)src.packets,
	       (uint64_t)src.bytes);
	print_reasons("dropped", src.dropped);
	print_reasons("would drop", src.would_drop);
	sw_cli_show_health_text(&c->k, &c->s, &key, &src, now);
	if (penalised)
		printf("  penalty:   %" PRIu64 "s left (%s, offence %u)\n", secs_until(src.penalty_until_ns, now),
		       sw_reason_name(src.penalty_reason), src.offences);
	else if (src.offences)
		printf("  penalty:   none now; %u earlier offence(s), last for %s\n", src.offences,
		       sw_reason_name(src.penalty_reason));
	return 0;
}

/* ---- top ---- */

enum top_by { TOP_SYN, TOP_DROPS, TOP_SESSIONS, TOP_PACKETS };

struct top_row {
	struct sw_src_key key;
	struct sw_source src;
	uint32_t live;
	uint64_t drops;
	char country[8];
};

static enum top_by sort_by;

static uint64_t top_metric(const struct top_row *r)
{
	switch (sort_by) {
	case TOP_DROPS:
		return r->drops;
	case TOP_SESSIONS:
		return r->live;
	case TOP_PACKETS:
		return r->src.packets;
	default:
		return r->src.syn;
	}
}

static int top_cmp(const void *a, const void *b)
{
	uint64_t x = top_metric(a), y = top_metric(b);

	return x < y ? 1 : x > y ? -1 : 0;
}

static int cmd_top(struct cli_ctx *c, long limit, enum top_by by, bool json)
{
	struct sw_src_key *keys;
	struct sw_source *vals;
	struct top_row *rows;
	uint64_t now = sw_mono_ns();
	long n;

	if (need_loaded(c))
		return 1;
	n = sw_map_dump(c->k.sources_fd, sizeof(*keys), sizeof(*vals), (void **)&keys, (void **)&vals);
	if (n < 0) {
		fprintf(stderr, "smtpwall: top: cannot read sources: %s\n", strerror((int)-n));
		return 1;
	}
	rows = calloc(n + 1, sizeof(*rows));
	if (!rows) {
		free(keys);
		free(vals);
		return 1;
	}
	struct sw_geo_view geo;
	char err[512];

	if (sw_geo_view_open(&c->k, &geo, err, sizeof(err)))
		memset(&geo, 0, sizeof(geo));
	for (long i = 0; i < n; i++) {
		rows[i].key = keys[i];
		rows[i].src = vals[i];
		rows[i].live = sw_source_live(&c->k, &keys[i], &vals[i]);
		rows[i].drops = sw_cli_sum_reasons(vals[i].dropped) + sw_cli_sum_reasons(vals[i].would_drop);
	}
	sort_by = by;
	qsort(rows, n, sizeof(*rows), top_cmp);
	if (limit < n)
		n = limit;
	for (long i = 0; i < n; i++)
		sw_cli_source_country(&c->k, &geo, &rows[i].key, &rows[i].src, rows[i].country);
	sw_geo_view_close(&geo);
	struct sw_json j;

	if (json) {
		sw_json_init(&j, stdout);
		sw_json_obj_begin(&j, NULL);
		sw_json_arr_begin(&j, "sources");
	} else {
		printf("%-40s %-7s %10s %10s %10s %8s %12s %s\n", "SOURCE", "COUNTRY", "SYN", "ADMITTED",
		       "DROPPED", "SESSIONS", "PACKETS", "STATE");
	}
	for (long i = 0; i < n; i++) {
		struct sw_cidr cidr;
		char who[64], state[64];
		bool pen = rows[i].src.penalty_until_ns > now;

		sw_source_cidr(c->k.config, &rows[i].key, &cidr);
		sw_format_cidr(&cidr, false, who, sizeof(who));
		if (pen)
			snprintf(state, sizeof(state), "penalty %" PRIu64 "s (%s)",
				 secs_until(rows[i].src.penalty_until_ns, now),
				 sw_reason_name(rows[i].src.penalty_reason));
		else
			snprintf(state, sizeof(state), "%s",
				 rows[i].src.list_verdict == SW_LIST_DENY	 ? "banned"
				 : rows[i].src.list_verdict == SW_LIST_ALLOW ? "allowed"
									     : "-");
		if (json) {
			sw_json_obj_begin(&j, NULL);
			sw_json_str(&j, "source", who);
			sw_json_str(&j, "country", rows[i].country);
			sw_json_u64(&j, "syn", rows[i].src.syn);
			sw_json_u64(&j, "admitted", rows[i].src.admitted);
			sw_json_u64(&j, "dropped", rows[i].drops);
			sw_json_u64(&j, "sessions_now", rows[i].live);
			sw_json_u64(&j, "packets", rows[i].src.packets);
			sw_json_u64(&j, "bytes", rows[i].src.bytes);
			sw_json_u64(&j, "penalty_remaining_s", pen ? secs_until(rows[i].src.penalty_until_ns, now) : 0);
			sw_json_str(&j, "penalty_reason", pen ? sw_reason_name(rows[i].src.penalty_reason) : NULL);
			sw_json_obj_end(&j);
		} else {
			printf("%-40s %-7s %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %8u %12" PRIu64 " %s\n",
			       who, rows[i].country, (uint64_t)rows[i].src.syn, (uint64_t)rows[i].src.admitted, rows[i].drops,
			       rows[i].live, (uint64_t)rows[i].src.packets, state);
		}
	}
	if (json) {
		sw_json_arr_end(&j);
		sw_json_obj_end(&j);
		sw_json_finish(&j);
	}
	free(rows);
	free(keys);
	free(vals);
	return 0;
}

/* ---- ban / unban / allow / disallow ---- */

/*
 * A ban that would cut the host off, or everyone: the whole address space,
 * or a prefix holding one of this host's own addresses. NULL if neither;
 * else why, with the address in @addr.
 */
static const char *sweeping_ban(const struct sw_cidr *cidr, char *addr, size_t len)
{
	struct ifaddrs *ifa, *i;
	const char *why = NULL;

	if (!cidr->prefixlen)
		return "it covers every address";
	if (getifaddrs(&ifa))
		return NULL;
	for (i = ifa; i && !why; i = i->ifa_next) {
		const uint8_t *a;
		uint8_t fam;

		if (!i->ifa_addr)
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			fam = SW_AF_INET;
			a = (const uint8_t *)&((struct sockaddr_in *)i->ifa_addr)->sin_addr;
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			fam = SW_AF_INET6;
			a = (const uint8_t *)&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
		} else {
			continue;
		}
		if (sw_cidr_contains(cidr, fam, a)) {
			inet_ntop(i->ifa_addr->sa_family, a, addr, (socklen_t)len);
			why = "it holds this host's own address";
		}
	}
	freeifaddrs(ifa);
	return why;
}

static int cmd_list_add(struct cli_ctx *c, enum sw_list_kind kind, const char *arg, const char *dur,
			const char *reason, bool force)
{
	struct sw_store_entry e = { .kind = kind };
	struct sw_store *store;
	char err[512], txt[64];
	uint64_t for_ns = 0;
	int ret;

	if (sw_parse_cidr(arg, &e.cidr, err)) {
		fprintf(stderr, "smtpwall: %s: %s\n", kind == SW_LIST_KIND_DENY ? "ban" : "allow", err);
		return 2;
	}
	if (dur) {
		if (sw_parse_duration(dur, &for_ns, err)) {
			fprintf(stderr, "smtpwall: --for: %s\n", err);
			return 2;
		}
		if (for_ns < 1000000000ull) {
			fprintf(stderr, "smtpwall: --for: %s is shorter than one second\n", dur);
			return 2;
		}
	}
	if (kind == SW_LIST_KIND_DENY && !force) {
		char addr[INET6_ADDRSTRLEN] = "";
		const char *why = sweeping_ban(&e.cidr, addr, sizeof(addr));

		if (why) {
			fprintf(stderr, "smtpwall: ban: refusing to ban %s: %s%s%s%s; add --force if that is "
				"what you mean\n", arg, why, *addr ? " (" : "", addr, *addr ? ")" : "");
			return 2;
		}
	}
	e.created_at = time(NULL);
	e.expires_at = for_ns ? e.created_at + (int64_t)(for_ns / 1000000000ull) : 0;
	snprintf(e.reason, sizeof(e.reason), "%s", reason ? reason : "manual");

	store = open_store(c);
	if (!store)
		return 1;
	/* The database first: what is promised must survive a reboot. */
	if (sw_store_put(store, &e, err, sizeof(err))) {
		fprintf(stderr, "smtpwall: %s\n", err);
		sw_store_close(store);
		return 1;
	}
	sw_store_close(store);
	sw_format_cidr(&e.cidr, false, txt, sizeof(txt));
	if (!c->loaded) {
		printf("%s %s recorded; not enforced until `smtpwall run` loads it (%s)\n",
		       kind == SW_LIST_KIND_DENY ? "ban of" : "allow of", txt, c->load_err);
		return 0;
	}
	ret = sw_list_put(&c->k, kind, &e.cidr, for_ns ? sw_mono_ns() + for_ns : 0, SW_ORIGIN_STORE);
	if (ret) {
		fprintf(stderr, "smtpwall: recorded, but cannot load %s into the kernel: %s\n", txt, strerror(-ret));
		return 1;
	}
	sw_list_bump_gen(&c->k);
	if (dur)
		printf("%s %s for %s: %s\n", kind == SW_LIST_KIND_DENY ? "banned" : "allowed", txt, dur, e.reason);
	else
		printf("%s %s: %s\n", kind == SW_LIST_KIND_DENY ? "banned" : "allowed", txt, e.reason);
	return 0;
}

static int cmd_list_del(struct cli_ctx *c, enum sw_list_kind kind, const char *arg)
{
	const char *verb = kind == SW_LIST_KIND_DENY ? "unban" : "disallow";
	struct sw_store *store;
	struct sw_cidr cidr;
	char err[512], txt[64];
	int removed, kret = -ENOENT;
	bool in_config;

	if (sw_parse_cidr(arg, &cidr, err)) {
		fprintf(stderr, "smtpwall: %s: %s\n", verb, err);
		return 2;
	}
	sw_format_cidr(&cidr, false, txt, sizeof(txt));
	in_config = sw_lists_in_config(&c->s, kind, &cidr);
	store = open_store(c);
	if (!store)
		return 1;
	removed = sw_store_del(store, kind, &cidr, err, sizeof(err));
	sw_store_close(store);
	if (removed < 0) {
		fprintf(stderr, "smtpwall: %s\n", err);
		return 1;
	}
	if (in_config) {
		fprintf(stderr, "smtpwall: %s: %s is in the [%s] section of %s; remove it there and reload\n",
			verb, txt, sw_list_kind_name(kind), c->s.path);
		if (c->loaded && removed)	/* keep the config's entry, without the CLI's expiry */
			sw_list_put(&c->k, kind, &cidr, 0, SW_ORIGIN_CONFIG);
		return 1;
	}
	if (c->loaded) {
		kret = sw_list_del(&c->k, kind, &cidr);
		if (kret && kret != -ENOENT) {
			fprintf(stderr, "smtpwall: cannot remove %s from the kernel: %s\n", txt, strerror(-kret));
			return 1;
		}
		sw_list_bump_gen(&c->k);
	}
	if (!removed && kret) {
		fprintf(stderr, "smtpwall: %s: %s is not %s\n", verb, txt,
			kind == SW_LIST_KIND_DENY ? "banned" : "allowlisted");
		return 1;
	}
	printf("%s %s\n", kind == SW_LIST_KIND_DENY ? "unbanned" : "disallowed", txt);
	return 0;
}

/* ---- list ---- */

static int cmd_list(struct cli_ctx *c, enum sw_list_kind kind, bool json)
{
	struct sw_store_entry *entries = NULL;
	struct sw_store *store;
	int n = 0;
	char err[512];
	int64_t now_wall = time(NULL);
	const char *title = kind == SW_LIST_KIND_DENY ? "bans" : "allows";
	const struct sw_config_entry *ce = kind == SW_LIST_KIND_ALLOW ? c->s.allow : c->s.deny;
	int nce = kind == SW_LIST_KIND_ALLOW ? c->s.n_allow : c->s.n_deny;
	struct sw_json j;

	store = open_store(c);
	if (!store)
		return 1;
	if (sw_store_list(store, kind, now_wall, &entries, &n, err, sizeof(err))) {
		fprintf(stderr, "smtpwall: %s\n", err);
		sw_store_close(store);
		return 1;
	}
	sw_store_close(store);

	if (json) {
		sw_json_init(&j, stdout);
		sw_json_obj_begin(&j, NULL);
		sw_json_arr_begin(&j, title);
	} else {
		printf("%-44s %-7s %-6s %-12s %s\n", "CIDR", "ORIGIN", "ACTIVE", "EXPIRES IN", "REASON");
	}
	for (int i = 0; i < nce + n; i++) {
		const struct sw_cidr *cidr = i < nce ? &ce[i].cidr : &entries[i - nce].cidr;
		const char *reason = i < nce ? ce[i].reason : entries[i - nce].reason;
		int64_t expires = i < nce ? 0 : entries[i - nce].expires_at;
		struct sw_list_entry ke;
		bool active = c->loaded && !sw_list_get(&c->k, kind, cidr, &ke);
		char txt[64], exp[32];

		sw_format_cidr(cidr, false, txt, sizeof(txt));
		if (expires)
			sw_format_duration((uint64_t)(expires > now_wall ? expires - now_wall : 0) * 1000000000ull,
					   exp, sizeof(exp));
		if (json) {
			sw_json_obj_begin(&j, NULL);
			sw_json_str(&j, "cidr", txt);
			sw_json_str(&j, "reason", reason);
			if (expires)
				sw_json_i64(&j, "expires_in_s", expires > now_wall ? expires - now_wall : 0);
			else
				sw_json_null(&j, "expires_in_s");
			sw_json_str(&j, "origin", i < nce ? "config" : "cli");
			sw_json_bool(&j, "active", active);
			sw_json_obj_end(&j);
		} else {
			printf("%-44s %-7s %-6s %-12s %s\n", txt, i < nce ? "config" : "cli", active ? "yes" : "no",
			       expires ? exp : "never", reason);
		}
	}
	if (json) {
		sw_json_arr_end(&j);
		sw_json_obj_end(&j);
		sw_json_finish(&j);
	}
	free(entries);
	return 0;
}

/* ---- detach ---- */

static int cmd_detach(struct cli_ctx *c, int n_ifaces, char ifaces[][SW_IFNAME_LEN])
{
	char err[512];
	int ret = 0;

	if (c->loaded)
		sw_kernel_close(&c->k);
	c->loaded = false;
	if (n_ifaces) {
		for (int i = 0; i < n_ifaces; i++) {
			int r = sw_detach_iface(c->s.bpffs_dir, ifaces[i], err, sizeof(err));

			if (r == -ENOENT) {
				fprintf(stderr, "smtpwall: detach: %s is not attached\n", ifaces[i]);
				ret = 1;
			} else if (r) {
				fprintf(stderr, "smtpwall: detach: %s\n", err);
				ret = 1;
			} else {
				printf("detached from %s\n", ifaces[i]);
			}
		}
		return ret;
	}
	if (sw_daemon_pid(c->s.state_dir))
		fprintf(stderr, "smtpwall: warning: a daemon is running on %s; it keeps running without "
				"enforcement until restarted or stopped\n", c->s.state_dir);
	if (sw_detach_all(c->s.bpffs_dir, err, sizeof(err))) {
		fprintf(stderr, "smtpwall: detach: %s\n", err);
		return 1;
	}
	printf("detached; pins under %s removed (bans and allows stay in %s/state.db)\n", c->s.bpffs_dir,
	       c->s.state_dir);
	return 0;
}

/* ---- dispatch ---- */

/* ---- the command table ---- */

/* Options, as bits of struct command.opts. */
enum {
	O_JSON = 1 << 0,	/* --json */
	O_FOR = 1 << 1,		/* --for DURATION */
	O_REASON = 1 << 2,	/* --reason TEXT */
	O_FORCE = 1 << 3,	/* --force */
	O_N = 1 << 4,		/* -n N */
	O_BY = 1 << 5,		/* --by KEY */
	O_IFACE = 1 << 6,	/* -i, --interface IFACE (repeatable) */
	O_DRY_RUN = 1 << 7,	/* --dry-run */
	O_FOLLOW = 1 << 8,	/* -f, --follow */
	O_SUSPENDED = 1 << 9,	/* --suspended */
	O_FLAGGED = 1 << 10,	/* --flagged */
};

static const struct {
	unsigned bit;
	const char *name;
} option_names[] = {
	{ O_JSON, "--json" }, { O_FOR, "--for" },  { O_REASON, "--reason" }, { O_FORCE, "--force" },
	{ O_N, "-n" },	      { O_BY, "--by" },	   { O_IFACE, "-i" },	      { O_DRY_RUN, "--dry-run" },
	{ O_FOLLOW, "--follow" }, { O_SUSPENDED, "--suspended" }, { O_FLAGGED, "--flagged" },
};

/* A command line, parsed. */
struct cli_args {
	const char *config_path;
	char **args;
	int nargs;
	unsigned given;		/* O_* seen */
	bool json, force, dry_run, follow, suspended, flagged;
	const char *dur, *reason;
	long limit;
	enum top_by by;
	char ifaces[SW_MAX_IFACES][SW_IFNAME_LEN];
	int n_ifaces;
};

struct command {
	const char *name;
	const char *synopsis;	/* after "smtpwall [-c FILE] " */
	const char *summary;	/* one line, for the usage */
	const char *help;	/* what `COMMAND --help` adds */
	unsigned opts;		/* O_* it takes */
	int min_args, max_args;
	const char *args_what;	/* "a CIDR": for "expected ..." */
	/* Checks of the arguments beyond their number; 0 or the exit code. */
	int (*check)(const struct command *cmd, const struct cli_args *a);
	/* With the context open (config, pinned maps); NULL: run_raw instead. */
	int (*run)(struct cli_ctx *c, const struct cli_args *a);
	int (*run_raw)(const struct cli_args *a);
};

static int run_daemon(const struct cli_args *a)
{
	struct sw_run_opts o = { .config_path = a->config_path, .dry_run = a->dry_run };

	memcpy(o.interfaces, a->ifaces, sizeof(o.interfaces));
	o.n_interfaces = a->n_ifaces;
	return sw_daemon_run(&o);
}

static int run_detach(struct cli_ctx *c, const struct cli_args *a)
{
	return cmd_detach(c, a->n_ifaces, (char (*)[SW_IFNAME_LEN])a->ifaces);
}

static int run_status(struct cli_ctx *c, const struct cli_args *a)
{
	return cmd_status(c, a->json);
}

static int run_top(struct cli_ctx *c, const struct cli_args *a)
{
	return cmd_top(c, a->limit, a->by, a->json);
}

static int run_show(struct cli_ctx *c, const struct cli_args *a)
{
	return cmd_show(c, a->args[0], a->json);
}

static int run_ban(struct cli_ctx *c, const struct cli_args *a)
{
	return cmd_list_add(c, SW_LIST_KIND_DENY, a->args[0], a->dur, a->reason, a->force);
}

static int run_allow(struct cli_ctx *c, const struct cli_args *a)
{
	return cmd_list_add(c, SW_LIST_KIND_ALLOW, a->args[0], a->dur, a->reason, false);
}

static int run_unban(struct cli_ctx *c, const struct cli_args *a)
{
	return cmd_list_del(c, SW_LIST_KIND_DENY, a->args[0]);
}

static int run_disallow(struct cli_ctx *c, const struct cli_args *a)
{
	return cmd_list_del(c, SW_LIST_KIND_ALLOW, a->args[0]);
}

static int check_list(const struct command *cmd, const struct cli_args *a)
{
	if (strcmp(a->args[0], "bans") && strcmp(a->args[0], "allows")) {
		fprintf(stderr, "smtpwall: list: expected bans or allows, not \"%s\"\n", a->args[0]);
		return 2;
	}
	return 0;
}

static int run_list(struct cli_ctx *c, const struct cli_args *a)
{
	return cmd_list(c, !strcmp(a->args[0], "bans") ? SW_LIST_KIND_DENY : SW_LIST_KIND_ALLOW, a->json);
}

static int check_geo(const struct command *cmd, const struct cli_args *a)
{
	if (strcmp(a->args[0], "lookup") && strcmp(a->args[0], "status")) {
		fprintf(stderr, "smtpwall: geo: expected lookup ADDR or status\n");
		return 2;
	}
	if (!strcmp(a->args[0], "lookup") && a->nargs != 2) {
		fprintf(stderr, "smtpwall: geo: expected lookup ADDR\n");
		return 2;
	}
	if (!strcmp(a->args[0], "status") && a->nargs != 1) {
		fprintf(stderr, "smtpwall: geo: expected status and no other argument\n");
		return 2;
	}
	return 0;
}

static int run_geo(struct cli_ctx *c, const struct cli_args *a)
{
	if (need_loaded(c))
		return 1;
	if (!strcmp(a->args[0], "lookup"))
		return sw_cmd_geo_lookup(&c->k, a->args[1], a->json);
	return sw_cmd_geo_status(&c->k, &c->s, a->json);
}

static int run_countries(struct cli_ctx *c, const struct cli_args *a)
{
	return need_loaded(c) ? 1 : sw_cmd_countries(&c->k, &c->s, a->json);
}

static int check_emergency(const struct command *cmd, const struct cli_args *a)
{
	if (a->nargs == 1 && strcmp(a->args[0], "on") && strcmp(a->args[0], "off") && strcmp(a->args[0], "auto")) {
		fprintf(stderr, "smtpwall: emergency: expected on, off or auto, not \"%s\"\n", a->args[0]);
		return 2;
	}
	return 0;
}

static int run_emergency(struct cli_ctx *c, const struct cli_args *a)
{
	struct sw_store *store = open_store(c);
	int ret;

	if (!store)
		return 1;
	ret = sw_cmd_emergency(&c->k, c->loaded, &c->s, store, a->nargs ? a->args[0] : NULL, a->json);
	sw_store_close(store);
	return ret;
}

static int run_events(struct cli_ctx *c, const struct cli_args *a)
{
	/* -n counts events here; without it, every event the daemon kept. */
	return sw_cmd_events(c->s.state_dir, (a->given & O_N) ? a->limit : -1, a->json, a->follow);
}

/* account show|list|suspend|resume|set: which options and arguments each takes. */
static const struct {
	const char *sub;
	unsigned opts;
	int min_args, max_args;	/* after the subcommand */
	const char *usage;
} account_subs[] = {
	{ "show", O_JSON, 1, 1, "account show NAME [--json]" },
	{ "list", O_JSON | O_SUSPENDED | O_FLAGGED, 0, 0, "account list [--suspended|--flagged] [--json]" },
	{ "suspend", O_REASON | O_FOR, 1, 1, "account suspend NAME --reason TEXT [--for DURATION]" },
	{ "resume", O_REASON, 1, 1, "account resume NAME [--reason TEXT]" },
	{ "set", O_REASON | O_FOR, 2, 32, "account set NAME KEY=VALUE... [--for DURATION] [--reason TEXT]" },
};

static int check_account(const struct command *cmd, const struct cli_args *a)
{
	for (size_t i = 0; i < sizeof(account_subs) / sizeof(account_subs[0]); i++) {
		if (strcmp(a->args[0], account_subs[i].sub))
			continue;
		for (size_t o = 0; o < sizeof(option_names) / sizeof(option_names[0]); o++)
			if ((a->given & option_names[o].bit) && !(account_subs[i].opts & option_names[o].bit)) {
				fprintf(stderr, "smtpwall: account %s: %s is not an option of account %s\n"
						"usage: smtpwall [-c FILE] %s\n",
					a->args[0], option_names[o].name, a->args[0], account_subs[i].usage);
				return 2;
			}
		if (a->nargs - 1 < account_subs[i].min_args || a->nargs - 1 > account_subs[i].max_args) {
			fprintf(stderr, "smtpwall: account %s: wrong number of arguments\nusage: smtpwall [-c FILE] %s\n",
				a->args[0], account_subs[i].usage);
			return 2;
		}
		if (a->suspended && a->flagged) {
			fprintf(stderr, "smtpwall: account list: --suspended or --flagged, not both\n");
			return 2;
		}
		if (!strcmp(a->args[0], "suspend") && !a->reason) {
			fprintf(stderr, "smtpwall: account suspend: --reason TEXT is required\n"
					"usage: smtpwall [-c FILE] %s\n", account_subs[i].usage);
			return 2;
		}
		return 0;
	}
	fprintf(stderr, "smtpwall: account: expected show, list, suspend, resume or set, not \"%s\"\n", a->args[0]);
	return 2;
}

static int run_account(struct cli_ctx *c, const struct cli_args *a)
{
	struct sw_store *store = open_store(c);
	const char *sub = a->args[0];
	int ret;

	if (!store)
		return 1;
	if (!strcmp(sub, "show"))
		ret = sw_cmd_account_show(store, &c->s, c->loaded ? &c->k : NULL, a->args[1], a->json);
	else if (!strcmp(sub, "list"))
		ret = sw_cmd_account_list(store, &c->s,
					  a->suspended ? SW_AF_SUSPENDED : a->flagged ? SW_AF_FLAGGED : SW_AF_ALL, a->json);
	else if (!strcmp(sub, "suspend"))
		ret = sw_cmd_account_suspend(store, a->args[1], a->reason, a->dur);
	else if (!strcmp(sub, "resume"))
		ret = sw_cmd_account_resume(store, a->args[1], a->reason);
	else
		ret = sw_cmd_account_set(store, a->args[1], a->args + 2, a->nargs - 2, a->dur, a->reason);
	sw_store_close(store);
	return ret;
}

static int check_accounts(const struct command *cmd, const struct cli_args *a)
{
	if (strcmp(a->args[0], "top")) {
		fprintf(stderr, "smtpwall: accounts: expected top, not \"%s\"\n", a->args[0]);
		return 2;
	}
	return 0;
}

static int run_accounts(struct cli_ctx *c, const struct cli_args *a)
{
	struct sw_store *store = open_store(c);
	int ret;

	if (!store)
		return 1;
	ret = sw_cmd_accounts_top(store, &c->s, a->limit, a->json);
	sw_store_close(store);
	return ret;
}

/* The configuration as `run` would read it: for ExecStartPre and before a reload. */
static int run_check(const struct cli_args *a)
{
	struct sw_settings s;
	char err[512], ifaces[SW_MAX_IFACES * (SW_IFNAME_LEN + 1)] = "";
	size_t off = 0;

	sw_settings_defaults(&s);
	if (a->config_path && sw_settings_load(&s, a->config_path, err, sizeof(err))) {
		fprintf(stderr, "smtpwall: %s\n", err);
		sw_settings_free(&s);
		return 1;
	}
	for (int i = 0; i < s.n_interfaces; i++)
		off += (size_t)snprintf(ifaces + off, sizeof(ifaces) - off, "%s%s", i ? " " : "", s.interfaces[i]);
	printf("%s: valid; interfaces: %s; policy service %s; mail log %s; geo database %s%s\n",
	       a->config_path ? a->config_path : "no configuration file, the built-in defaults",
	       s.n_interfaces ? ifaces : "none (run attaches nowhere)", s.policy_enabled ? "on" : "off",
	       s.maillog_enabled ? "on" : "off", s.geo_database[0] ? s.geo_database : "none",
	       s.dry_run ? "; dry run" : "");
	sw_settings_free(&s);
	return 0;
}

static const struct command commands[] = {
	{ "run", "run [-i IFACE]... [--dry-run]", "load, attach and run the daemon (foreground)",
	  "Loads the XDP program (adopting the pinned maps of an earlier run), attaches it to the\n"
	  "configured interfaces (-i replaces [general] interfaces), and runs until SIGTERM or\n"
	  "SIGINT; SIGHUP reloads the configuration. Stopping leaves enforcement attached.\n"
	  "--dry-run counts every decision and drops nothing.",
	  O_IFACE | O_DRY_RUN, 0, 0, "no arguments besides -i IFACE and --dry-run", NULL, NULL, run_daemon },
	{ "check", "check", "check the configuration file and say what it sets",
	  "Reads the configuration as `run` would and reports the first error (file, line,\n"
	  "key) with exit status 1, or a one-line summary with exit status 0. Nothing else is\n"
	  "touched: the service unit runs it before starting and before a reload.",
	  0, 0, 0, "no arguments", NULL, NULL, run_check },
	{ "detach", "detach [-i IFACE]...", "remove XDP from IFACE, or everything and all pins",
	  "Without -i: detaches from every interface and removes every pin (the kernel's state:\n"
	  "penalties, counters, sessions); bans and allows stay in state.db.",
	  O_IFACE, 0, 0, "no arguments besides -i IFACE", NULL, run_detach, NULL },
	{ "status", "status [--json]", "attachment, totals, drops by reason",
	  "The daemon, the attachments, the totals, drops by reason, emergency mode and\n"
	  "session health.",
	  O_JSON, 0, 0, "no arguments", NULL, run_status, NULL },
	{ "top", "top [-n N] [--by syn|drops|sessions|packets] [--json]", "the busiest sources",
	  "The N (default 20) busiest sources by SYNs, drops, sessions or packets.",
	  O_JSON | O_N | O_BY, 0, 0, "no arguments besides -n, --by, --json", NULL, run_top, NULL },
	{ "show", "show ADDR [--json]", "one source's state, limits and list entry",
	  "Counters, sessions, penalty, probation and list entry of the source ADDR belongs to.",
	  O_JSON, 1, 1, "an address", NULL, run_show, NULL },
	{ "ban", "ban CIDR [--for DURATION] [--reason TEXT] [--force]", "refuse a prefix at the NIC",
	  "Recorded in state.db first, then loaded into the kernel. A ban of every address or of a\n"
	  "prefix holding one of this host's own addresses needs --force.",
	  O_FOR | O_REASON | O_FORCE, 1, 1, "a CIDR", NULL, run_ban, NULL },
	{ "unban", "unban CIDR", "remove a ban", "Removes a ban made with `ban` (not the config's [deny]).",
	  0, 1, 1, "a CIDR", NULL, run_unban, NULL },
	{ "allow", "allow CIDR [--for DURATION] [--reason TEXT]", "exempt a prefix from every limit",
	  "Recorded in state.db first, then loaded into the kernel.",
	  O_FOR | O_REASON, 1, 1, "a CIDR", NULL, run_allow, NULL },
	{ "disallow", "disallow CIDR", "remove an allow",
	  "Removes an allow made with `allow` (not the config's [allow]).",
	  0, 1, 1, "a CIDR", NULL, run_disallow, NULL },
	{ "list", "list bans|allows [--json]", "the deny or the allow list",
	  "Entries of the config file (origin config) and of the CLI (origin cli).",
	  O_JSON, 1, 1, "bans or allows", check_list, run_list, NULL },
	{ "geo", "geo lookup ADDR [--json] | geo status [--json]", "country of ADDR; the loaded geo database",
	  "lookup: the country and database prefix of ADDR, from the kernel's tables.\n"
	  "status: the loaded database: file, build date, prefixes, memory.",
	  O_JSON, 1, 2, "lookup ADDR or status", check_geo, run_geo, NULL },
	{ "countries", "countries [--json]", "per-country policy, connections, drops, sessions",
	  "Every country with a policy or traffic: its action, limits and counters.",
	  O_JSON, 0, 0, "no arguments besides --json", NULL, run_countries, NULL },
	{ "events", "events [-n N] [--json] [--follow]", "the daemon's decisions as they happen",
	  "Penalties, teardowns, idle and probation judgements, emergency transitions, list loads,\n"
	  "geo reloads, attachments and the daemon's own starts and reloads, one per line\n"
	  "(\"TIME kind: text\", or a JSON object with --json), from the daemon's control socket.\n"
	  "Prints the last N events the daemon kept (default: all, up to 1024), then exits;\n"
	  "--follow keeps printing new events until interrupted (-n 0 --follow: only new ones).",
	  O_JSON | O_N | O_FOLLOW, 0, 0, "no arguments besides -n, --json, --follow", NULL, run_events, NULL },
	{ "account", "account show|list|suspend|resume|set ...", "the accounts the policy service judges",
	  "account show NAME [--json]: sending state, flag, policies in force, counts per window\n"
	  "  (minute, hour, day, overseas) against their limits, per-country counts, the source\n"
	  "  addresses with their countries and last use, and the history of every action.\n"
	  "account list [--suspended|--flagged] [--json]: every account known, or those suspended\n"
	  "  or flagged now.\n"
	  "account suspend NAME --reason TEXT [--for DURATION]: stop the account's sending (it can\n"
	  "  still log in and read its mail); until resumed unless --for.\n"
	  "account resume NAME [--reason TEXT]: lift a suspension and clear a flag.\n"
	  "account set NAME KEY=VALUE... [--for DURATION] [--reason TEXT]: per-account settings;\n"
	  "  KEY is abroad (allow|deny|default), overseas (N|default; --for makes the override\n"
	  "  expire by itself, e.g. --for 14d for a traveller), aliases (own sender addresses,\n"
	  "  comma separated), messages_per_minute|hour|day, recipients_per_minute|hour|day\n"
	  "  (N, 0 for off, or default).\n"
	  "Changes go to state.db at once (with who, when and why) and a running daemon applies\n"
	  "them within a second.",
	  O_JSON | O_REASON | O_FOR | O_SUSPENDED | O_FLAGGED, 1, 34, "show, list, suspend, resume or set",
	  check_account, run_account, NULL },
	{ "accounts", "accounts top [-n N] [--json]", "the busiest accounts",
	  "The N (default 20) accounts with the most messages in the last hour, with their\n"
	  "minute, day and overseas counts, refusals and state.",
	  O_JSON | O_N, 1, 1, "top", check_accounts, run_accounts, NULL },
	{ "emergency", "emergency [on|off|auto] [--json]", "set or show emergency mode (kept in state.db)",
	  "on or off force emergency mode at once; auto gives it back to the controller;\n"
	  "no argument shows it.",
	  O_JSON, 0, 1, "on, off, auto or nothing", check_emergency, run_emergency, NULL },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
	fprintf(out, "usage: smtpwall [-c FILE] COMMAND [ARGS]\n\n");
	for (size_t i = 0; i < N_COMMANDS; i++) {
		if (strlen(commands[i].synopsis) > 33)
			fprintf(out, "  %s\n  %-33s %s\n", commands[i].synopsis, "", commands[i].summary);
		else
			fprintf(out, "  %-33s %s\n", commands[i].synopsis, commands[i].summary);
	}
	fprintf(out, "\n  -c FILE   configuration (default " SW_DEFAULT_CONFIG " if it exists)\n"
		     "\nsmtpwall COMMAND --help (or smtpwall help COMMAND) tells more about COMMAND.\n");
}

static void command_help(const struct command *cmd)
{
	printf("usage: smtpwall [-c FILE] %s\n\n%s\n\n%s\n", cmd->synopsis, cmd->summary, cmd->help);
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

/* The options and arguments of @cmd: 0, or the exit code (2: usage error; -1: --help shown). */
static int parse_args(const struct command *cmd, int argc, char **argv, struct cli_args *a)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },	    { "for", required_argument, NULL, 'o' },
		{ "reason", required_argument, NULL, 'r' }, { "by", required_argument, NULL, 'b' },
		{ "interface", required_argument, NULL, 'i' }, { "force", no_argument, NULL, 'F' },
		{ "dry-run", no_argument, NULL, 'd' },	    { "help", no_argument, NULL, 'h' },
		{ "follow", no_argument, NULL, 'w' },	    { "suspended", no_argument, NULL, 'S' },
		{ "flagged", no_argument, NULL, 'G' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":n:i:hf", longopts, NULL)) != -1) {
		char err[SW_ERR_LEN];
		uint64_t v;

		switch (opt) {
		case 'h':
			command_help(cmd);
			return -1;
		case 'j':
			a->given |= O_JSON;
			a->json = true;
			break;
		case 'F':
			a->given |= O_FORCE;
			a->force = true;
			break;
		case 'f':
			if (!(cmd->opts & O_FOLLOW)) {
				fprintf(stderr, "smtpwall: %s: unknown option -f\nusage: smtpwall [-c FILE] %s\n",
					cmd->name, cmd->synopsis);
				return 2;
			}
			__attribute__((fallthrough));	/* -f is --follow */
		case 'w':
			a->given |= O_FOLLOW;
			a->follow = true;
			break;
		case 'S':
			a->given |= O_SUSPENDED;
			a->suspended = true;
			break;
		case 'G':
			a->given |= O_FLAGGED;
			a->flagged = true;
			break;
		case 'd':
			a->given |= O_DRY_RUN;
			a->dry_run = true;
			break;
		case 'o':
			a->given |= O_FOR;
			a->dur = optarg;
			break;
		case 'r':
			a->given |= O_REASON;
			if (strlen(optarg) >= sizeof(((struct sw_store_entry *)0)->reason)) {
				fprintf(stderr, "smtpwall: --reason is longer than 255 bytes\n");
				return 2;
			}
			a->reason = optarg;
			break;
		case 'n':
			a->given |= O_N;
			/* events -n 0: none of the events kept (only new ones with --follow). */
			if (sw_parse_uint(optarg, (cmd->opts & O_FOLLOW) ? 0 : 1, 1000000, &v, err)) {
				fprintf(stderr, "smtpwall: -n: %s\n", err);
				return 2;
			}
			a->limit = (long)v;
			break;
		case 'b':
			a->given |= O_BY;
			if (!strcmp(optarg, "syn"))
				a->by = TOP_SYN;
			else if (!strcmp(optarg, "drops"))
				a->by = TOP_DROPS;
			else if (!strcmp(optarg, "sessions"))
				a->by = TOP_SESSIONS;
			else if (!strcmp(optarg, "packets"))
				a->by = TOP_PACKETS;
			else {
				fprintf(stderr, "smtpwall: --by: \"%s\" is not one of syn, drops, sessions, packets\n",
					optarg);
				return 2;
			}
			break;
		case 'i':
			a->given |= O_IFACE;
			if (a->n_ifaces >= SW_MAX_IFACES) {
				fprintf(stderr, "smtpwall: at most %d interfaces\n", SW_MAX_IFACES);
				return 2;
			}
			if (strlen(optarg) >= SW_IFNAME_LEN || !*optarg) {
				fprintf(stderr, "smtpwall: invalid interface name \"%s\"\n", optarg);
				return 2;
			}
			snprintf(a->ifaces[a->n_ifaces++], SW_IFNAME_LEN, "%s", optarg);
			break;
		case ':':
			fprintf(stderr, "smtpwall: %s: %s needs a value\n", cmd->name, argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, "smtpwall: %s: unknown option %s\nusage: smtpwall [-c FILE] %s\n", cmd->name,
				argv[optind - 1], cmd->synopsis);
			return 2;
		}
	}
	for (size_t i = 0; i < sizeof(option_names) / sizeof(option_names[0]); i++)
		if ((a->given & option_names[i].bit) && !(cmd->opts & option_names[i].bit)) {
			fprintf(stderr, "smtpwall: %s: %s is not an option of %s\nusage: smtpwall [-c FILE] %s\n",
				cmd->name, option_names[i].name, cmd->name, cmd->synopsis);
			return 2;
		}
	a->nargs = argc - optind;
	a->args = argv + optind;
	if (a->nargs < cmd->min_args || a->nargs > cmd->max_args) {
		fprintf(stderr, "smtpwall: %s: expected %s\nusage: smtpwall [-c FILE] %s\n", cmd->name, cmd->args_what,
			cmd->synopsis);
		return 2;
	}
	return cmd->check ? cmd->check(cmd, a) : 0;
}

int sw_cli_main(int argc, char **argv)
{
	const char *config_path = NULL;
	const struct command *cmd;
	struct cli_args a = { .limit = 20, .by = TOP_SYN };
	struct cli_ctx c;
	int argi = 1, ret;

	while (argi < argc && argv[argi][0] == '-') {
		if (!strcmp(argv[argi], "-c") && argi + 1 < argc) {
			config_path = argv[argi + 1];
			argi += 2;
		} else if (!strcmp(argv[argi], "-h") || !strcmp(argv[argi], "--help")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "smtpwall: unknown option %s\n", argv[argi]);
			usage(stderr);
			return 2;
		}
	}
	if (argi >= argc) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[argi], "help")) {
		if (argi + 1 < argc && (cmd = find_command(argv[argi + 1]))) {
			command_help(cmd);
			return 0;
		}
		usage(stdout);
		return 0;
	}
	cmd = find_command(argv[argi]);
	if (!cmd) {
		fprintf(stderr, "smtpwall: unknown command \"%s\"\n", argv[argi]);
		usage(stderr);
		return 2;
	}
	if (!config_path && access(SW_DEFAULT_CONFIG, F_OK) == 0)
		config_path = SW_DEFAULT_CONFIG;
	a.config_path = config_path;
	ret = parse_args(cmd, argc - argi, argv + argi, &a);
	if (ret)
		return ret < 0 ? 0 : ret;
	if (cmd->run_raw)
		return cmd->run_raw(&a);
	if (ctx_open(&c, config_path))
		return 1;
	ret = cmd->run(&c, &a);
	ctx_close(&c);
	return ret;
}
