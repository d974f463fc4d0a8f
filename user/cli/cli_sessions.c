// SPDX-License-Identifier: GPL-2.0
#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "cli_util.h"
#include "cli_sessions.h"
#include "gc.h"
#include "health.h"
#include "json.h"

void sw_cli_status_health_json(struct sw_json *j, const struct sw_kernel *k, const struct sw_stats *st,
			       struct sw_store *store, const struct sw_settings *s)
{
	struct sw_daemon_state ds;
	char since[32];

	sw_kernel_daemon_state(k, &ds);
	sw_cli_format_utc(ds.emergency_since_unix, since, sizeof(since));
	sw_json_obj_begin(j, "emergency");
	sw_json_str(j, "mode", sw_emergency_mode_name(sw_health_mode(store, s)));
	sw_json_bool(j, "active", (k->config->flags & SW_CFG_EMERGENCY) != 0);
	sw_json_str(j, "since", ds.emergency_since_unix ? since : NULL);
	sw_json_str(j, "reason", sw_emergency_reason_name(ds.reason));
	sw_json_str(j, "detail", ds.detail[0] ? ds.detail : NULL);
	sw_json_u64(j, "entered", ds.emergency_entered);
	sw_json_u64(j, "left", ds.emergency_left);
	sw_json_u64(j, "high", ds.high);
	sw_json_u64(j, "low", ds.low);
	sw_json_u64(j, "capacity", s->mta_capacity);
	sw_json_obj_begin(j, "probation");
	sw_json_u64(j, "slots", ds.probation_slots);
	sw_json_u64(j, "in_use", ds.probation_used);
	sw_json_u64(j, "per_source", k->config->probation_per_source);
	sw_json_u64(j, "admitted", st->probation_admitted);
	sw_json_u64(j, "refused_full", st->probation_full);
	sw_json_u64(j, "refused_busy", st->probation_busy);
	sw_json_u64(j, "graduated", st->probation_graduated);
	sw_json_u64(j, "failed", ds.probation_failed);
	sw_json_obj_end(j);
	sw_json_obj_end(j);
	sw_json_obj_begin(j, "health");
	sw_json_u64(j, "sessions_now", ds.sessions_now);
	sw_json_u64(j, "idle_now", ds.idle_now);
	sw_json_u64(j, "new_session_rate", ds.new_session_rate);
	sw_json_u64(j, "teardowns", ds.teardowns);
	sw_json_u64(j, "teardowns_emergency", ds.teardowns_emergency);
	sw_json_u64(j, "teardowns_penalised", ds.teardowns_penalised);
	sw_json_u64(j, "teardown_failed", ds.teardown_failed);
	sw_json_u64(j, "idle_penalties", ds.idle_penalties);
	sw_json_u64(j, "greetings", st->greetings);
	sw_json_u64(j, "server_packets", st->server_packets);
	sw_json_u64(j, "pregreet", st->pregreet);
	sw_json_u64(j, "rcpt", st->rcpt);
	sw_json_u64(j, "rcpt_rejected", st->rcpt_rejected);
	sw_json_u64(j, "auth_failed", st->auth_failed);
	sw_json_u64(j, "messages", st->messages);
	sw_json_u64(j, "sessions_completed", st->sessions_completed);
	sw_json_u64(j, "sessions_abandoned", st->sessions_abandoned);
	sw_json_u64(j, "server_closed", st->server_closed);
	sw_json_u64(j, "last_run", ds.last_run_unix);
	sw_json_obj_end(j);
}

void sw_cli_status_health_text(const struct sw_kernel *k, const struct sw_stats *st, struct sw_store *store,
			       const struct sw_settings *s)
{
	struct sw_daemon_state ds;
	char since[32];
	bool active = k->config->flags & SW_CFG_EMERGENCY;

	sw_kernel_daemon_state(k, &ds);
	sw_cli_format_utc(ds.emergency_since_unix, since, sizeof(since));
	printf("emergency:   %s (mode %s; enter at %u sessions, leave below %u; entered %" PRIu64 " times)\n",
	       active ? "ON" : "off", sw_emergency_mode_name(sw_health_mode(store, s)), ds.high, ds.low,
	       (uint64_t)ds.emergency_entered);
	if (active || ds.detail[0])
		printf("             %s %s: %s\n", active ? "since" : "last", active ? since : "change",
		       ds.detail[0] ? ds.detail : "-");
	if (k->config->probation_per_source)
		printf("probation:   %" PRIu64 " of %" PRIu64 " slots in use, %u per source; %" PRIu64
		       " admitted, %" PRIu64 " graduated (delivered), %" PRIu64 " failed (penalised); refused: %"
		       PRIu64 " slots full, %" PRIu64 " source busy\n",
		       (uint64_t)ds.probation_used, (uint64_t)ds.probation_slots, k->config->probation_per_source,
		       (uint64_t)st->probation_admitted, (uint64_t)st->probation_graduated,
		       (uint64_t)ds.probation_failed, (uint64_t)st->probation_full, (uint64_t)st->probation_busy);
	else
		printf("probation:   off ([emergency] probation_share = 0): only known-good sources in an emergency\n");
	printf("health:      %" PRIu64 " MTA sessions, %" PRIu64 " idle, %" PRIu64 " new/s; %" PRIu64
	       " torn down (%" PRIu64 " in emergencies, %" PRIu64 " of penalised sources, %" PRIu64
	       " failed); %" PRIu64 " idle penalties\n",
	       (uint64_t)ds.sessions_now, (uint64_t)ds.idle_now, (uint64_t)ds.new_session_rate,
	       (uint64_t)ds.teardowns, (uint64_t)ds.teardowns_emergency, (uint64_t)ds.teardowns_penalised,
	       (uint64_t)ds.teardown_failed, (uint64_t)ds.idle_penalties);
	printf("dialogue:    %" PRIu64 " greetings, %" PRIu64 " messages, %" PRIu64 " completed / %" PRIu64
	       " abandoned sessions, %" PRIu64 " pregreet, %" PRIu64 " of %" PRIu64
	       " recipients rejected, %" PRIu64 " failed logins\n",
	       (uint64_t)st->greetings, (uint64_t)st->messages, (uint64_t)st->sessions_completed,
	       (uint64_t)st->sessions_abandoned, (uint64_t)st->pregreet, (uint64_t)st->rcpt_rejected,
	       (uint64_t)st->rcpt, (uint64_t)st->auth_failed);
}

int sw_cmd_emergency(const struct sw_kernel *k, bool loaded, const struct sw_settings *s,
		     struct sw_store *store, const char *arg, bool json)
{
	char err[512];
	int mode = -1;

	if (arg) {
		for (int m = SW_EM_AUTO; m <= SW_EM_OFF; m++)
			if (!strcmp(arg, sw_emergency_mode_name(m)))
				mode = m;
		if (mode < 0) {
			fprintf(stderr, "smtpwall: emergency: expected on, off or auto, not \"%s\"\n", arg);
			return 2;
		}
		if (sw_store_setting_put(store, "emergency_mode", arg, err, sizeof(err))) {
			fprintf(stderr, "smtpwall: emergency: %s\n", err);
			return 1;
		}
		/*
		 * on/off act at once on the loaded program; the daemon, within
		 * gc_interval, records the transition and does the teardowns.
		 */
		if (loaded && mode == SW_EM_ON)
			sw_kernel_config_flag(k, SW_CFG_EMERGENCY, true);
		else if (loaded && mode == SW_EM_OFF)
			sw_kernel_config_flag(k, SW_CFG_EMERGENCY, false);
	}
	if (json) {
		struct sw_json j;

		sw_json_init(&j, stdout);
		sw_json_obj_begin(&j, NULL);
		sw_json_str(&j, "mode", sw_emergency_mode_name(sw_health_mode(store, s)));
		sw_json_bool(&j, "active", loaded && (k->config->flags & SW_CFG_EMERGENCY));
		sw_json_obj_end(&j);
		sw_json_finish(&j);
	} else {
		printf("emergency mode %s (%s now)%s\n", sw_emergency_mode_name(sw_health_mode(store, s)),
		       loaded && (k->config->flags & SW_CFG_EMERGENCY) ? "on" : "off",
		       loaded ? "" : "; the program is not loaded: takes effect when the daemon starts");
	}
	return 0;
}

/* The source's sessions in the table now, and how many are idle beyond their phase's threshold. */
static void source_sessions(const struct sw_kernel *k, const struct sw_settings *s, const struct sw_src_key *key,
			    uint64_t now, unsigned *open, unsigned *idle, uint64_t *longest)
{
	struct sw_session_key *keys = NULL;
	struct sw_session *vals = NULL;
	long n = sw_map_dump(k->sessions_fd, sizeof(*keys), sizeof(*vals), (void **)&keys, (void **)&vals);

	*open = *idle = 0;
	*longest = 0;
	for (long i = 0; i < n; i++) {
		struct sw_src_key sk;
		uint64_t idle_ns, limit;

		sw_source_key_raw(k->config, keys[i].family, keys[i].saddr, &sk);
		if (memcmp(&sk, key, sizeof(sk)))
			continue;
		(*open)++;
		idle_ns = sw_session_idle_ns(&vals[i], now);
		limit = sw_settings_idle_ns(s, vals[i].phase);
		if (limit && idle_ns >= limit)
			(*idle)++;
		if (idle_ns > *longest)
			*longest = idle_ns;
	}
	free(keys);
	free(vals);
}

/* The source's probation record: admitted, failed, the last failure. */
static void probation_json(struct sw_json *j, const struct sw_settings *s, const struct sw_source *src)
{
	char why[128];
	unsigned phase = src->probation_detail >> SW_PROBATION_PHASE_SHIFT & SW_PROBATION_PHASE_MASK;
	bool lifetime = src->probation_detail & SW_PROBATION_LIFETIME;

	sw_json_obj_begin(j, "probation");
	sw_json_u64(j, "admitted", src->probation_admitted);
	sw_json_u64(j, "failed", src->probation_failed);
	if (src->probation_failed) {
		sw_probation_text(src->probation_detail,
				  lifetime ? s->probation_lifetime_ns : sw_settings_probation_ns(s, phase), why,
				  sizeof(why));
		sw_json_str(j, "last_failure", why);
	} else {
		sw_json_null(j, "last_failure");
	}
	sw_json_obj_end(j);
}

void sw_cli_show_health_json(struct sw_json *j, const struct sw_kernel *k, const struct sw_settings *s,
			     const struct sw_src_key *key, const struct sw_source *src, bool known, uint64_t now)
{
	unsigned open = 0, idle = 0;
	uint64_t longest = 0, ended = src->sessions_completed + src->sessions_abandoned;

	if (known)
		source_sessions(k, s, key, now, &open, &idle, &longest);
	sw_json_obj_begin(j, "health");
	sw_json_bool(j, "known_good", known && sw_source_known_good(k->config, src, now));
	if (known && src->last_good_ns)
		sw_json_u64(j, "last_completed_s_ago", (now - src->last_good_ns) / 1000000000ULL);
	else
		sw_json_null(j, "last_completed_s_ago");
	sw_json_u64(j, "sessions_completed", src->sessions_completed);
	sw_json_u64(j, "sessions_abandoned", src->sessions_abandoned);
	sw_json_u64(j, "session_avg_ms", ended ? src->session_ns_total / ended / 1000000 : 0);
	sw_json_u64(j, "session_max_ms", src->session_ns_max / 1000000);
	sw_json_u64(j, "idle_now", idle);
	sw_json_u64(j, "longest_idle_ms", longest / 1000000);
	sw_json_u64(j, "messages", src->messages);
	sw_json_u64(j, "rcpt", src->rcpt);
	sw_json_u64(j, "rcpt_rejected", src->rcpt_rejected);
	sw_json_u64(j, "auth_failed", src->auth_failed);
	sw_json_u64(j, "pregreet", src->pregreet);
	probation_json(j, s, src);
	sw_json_obj_end(j);
}

void sw_cli_show_health_text(const struct sw_kernel *k, const struct sw_settings *s, const struct sw_src_key *key,
			     const struct sw_source *src, uint64_t now)
{
	unsigned open, idle;
	uint64_t longest, ended = src->sessions_completed + src->sessions_abandoned;

	source_sessions(k, s, key, now, &open, &idle, &longest);
	printf("  health:    %" PRIu64 " completed, %" PRIu64 " abandoned (avg %" PRIu64 " ms, max %" PRIu64
	       " ms); %u idle now%s\n",
	       (uint64_t)src->sessions_completed, (uint64_t)src->sessions_abandoned,
	       ended ? (uint64_t)(src->session_ns_total / ended / 1000000) : 0,
	       (uint64_t)(src->session_ns_max / 1000000), idle,
	       sw_source_known_good(k->config, src, now) ? "; known good" : "");
	printf("  dialogue:  %" PRIu64 " messages, %" PRIu64 " of %" PRIu64 " recipients rejected, %" PRIu64
	       " failed logins, %" PRIu64 " pregreet\n",
	       (uint64_t)src->messages, (uint64_t)src->rcpt_rejected, (uint64_t)src->rcpt,
	       (uint64_t)src->auth_failed, (uint64_t)src->pregreet);
	if (src->probation_admitted || src->probation_failed) {
		unsigned phase = src->probation_detail >> SW_PROBATION_PHASE_SHIFT & SW_PROBATION_PHASE_MASK;
		bool lifetime = src->probation_detail & SW_PROBATION_LIFETIME;
		char why[128] = "-";

		if (src->probation_failed)
			sw_probation_text(src->probation_detail,
					  lifetime ? s->probation_lifetime_ns : sw_settings_probation_ns(s, phase),
					  why, sizeof(why));
		printf("  probation: %u sessions admitted in emergencies, %u failed; last failure: %s\n",
		       src->probation_admitted, src->probation_failed, why);
	}
}
