// SPDX-License-Identifier: GPL-2.0
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "cli_sessions.h"
#include "health.h"
#include "json.h"

static void fmt_since(uint64_t unix_s, char *buf, size_t len)
{
	time_t t = unix_s;
	struct tm tm;

	if (!unix_s) {
		snprintf(buf, len, "-");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void sw_cli_status_health_json(struct sw_json *j, const struct sw_kernel *k, const struct sw_stats *st,
			       struct sw_store *store, const struct sw_settings *s)
{
	struct sw_daemon_state ds;
	char since[32];

	sw_kernel_daemon_state(k, &ds);
	fmt_since(ds.emergency_since_unix, since, sizeof(since));
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
	fmt_since(ds.emergency_since_unix, since, sizeof(since));
	printf("emergency:   %s (mode %s; enter at %u sessions, leave below %u; entered %" PRIu64 " times)\n",
	       active ? "ON" : "off", sw_emergency_mode_name(sw_health_mode(store, s)), ds.high, ds.low,
	       (uint64_t)ds.emergency_entered);
	if (active || ds.detail[0])
		printf("             %s %s: %s\n", active ? "since" : "last", active ? since : "change",
		       ds.detail[0] ? ds.detail : "-");
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
