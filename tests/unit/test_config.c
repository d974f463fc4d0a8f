// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of user/config/config.c: defaults, the shipped example, every kind of
 * error (which must name file, line and key), [allow]/[deny] lists, and the
 * translation into the kernel's struct sw_config.
 *
 * Run from the repository root: the example is found at a relative path.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "config.h"
#include "geo.h"

#define EXAMPLE "user/smtpwall.conf.example"

#define MS   1000000ULL
#define SEC  1000000000ULL
#define MIN  (60 * SEC)
#define HOUR (60 * MIN)

/* A config file under /tmp with @text; the caller removes it. */
static void write_conf(const char *text, char path[64])
{
	FILE *f;
	int fd;

	snprintf(path, 64, "/tmp/smtpwall-test-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static int load_text(const char *text, struct sw_settings *s, char *err, size_t errlen,
		     char path[64])
{
	int ret;

	write_conf(text, path);
	ret = sw_settings_load(s, path, err, errlen);
	unlink(path);
	return ret;
}

static bool has_port(const struct sw_settings *s, unsigned p)
{
	return s->port_bitmap[p >> 6] & (1ULL << (p & 63));
}

/* Everything but the path must match (lists by content). */
static void assert_settings_equal(const struct sw_settings *a, const struct sw_settings *b)
{
	int i;

	assert_int_equal(a->n_interfaces, b->n_interfaces);
	for (i = 0; i < a->n_interfaces; i++)
		assert_string_equal(a->interfaces[i], b->interfaces[i]);
	assert_string_equal(a->bpffs_dir, b->bpffs_dir);
	assert_string_equal(a->state_dir, b->state_dir);
	assert_int_equal(a->xdp_mode, b->xdp_mode);
	assert_int_equal(a->dry_run, b->dry_run);
	assert_int_equal(a->log_level, b->log_level);
	assert_int_equal(a->gc_interval_ns, b->gc_interval_ns);
	assert_memory_equal(a->port_bitmap, b->port_bitmap, sizeof(a->port_bitmap));
	assert_int_equal(a->ipv4_prefix, b->ipv4_prefix);
	assert_int_equal(a->ipv6_prefix, b->ipv6_prefix);
	assert_int_equal(a->syn_interval_ns, b->syn_interval_ns);
	assert_int_equal(a->syn_burst, b->syn_burst);
	assert_int_equal(a->max_sessions, b->max_sessions);
	assert_int_equal(a->handshake_timeout_ns, b->handshake_timeout_ns);
	assert_int_equal(a->idle_timeout_ns, b->idle_timeout_ns);
	assert_int_equal(a->source_idle_ns, b->source_idle_ns);
	assert_int_equal(a->malformed_pass, b->malformed_pass);
	assert_int_equal(a->penalty_strikes, b->penalty_strikes);
	assert_int_equal(a->penalty_window_ns, b->penalty_window_ns);
	assert_int_equal(a->penalty_base_ns, b->penalty_base_ns);
	assert_int_equal(a->penalty_max_ns, b->penalty_max_ns);
	assert_int_equal(a->penalty_forget_ns, b->penalty_forget_ns);
	assert_int_equal(a->new_source_interval_ns, b->new_source_interval_ns);
	assert_int_equal(a->new_source_burst, b->new_source_burst);
	assert_int_equal(a->flood_drop, b->flood_drop);
	assert_int_equal(a->max_sources, b->max_sources);
	assert_int_equal(a->max_session_entries, b->max_session_entries);
	assert_int_equal(a->n_allow, b->n_allow);
	assert_int_equal(a->n_deny, b->n_deny);
	for (i = 0; i < a->n_allow; i++)
		assert_memory_equal(&a->allow[i].cidr, &b->allow[i].cidr, sizeof(struct sw_cidr));
	for (i = 0; i < a->n_deny; i++)
		assert_memory_equal(&a->deny[i].cidr, &b->deny[i].cidr, sizeof(struct sw_cidr));
}

static void assert_is_defaults(const struct sw_settings *s)
{
	struct sw_settings d;

	sw_settings_defaults(&d);
	assert_settings_equal(s, &d);
	assert_null(s->allow);
	assert_null(s->deny);
}

/* ---- defaults and good files ---------------------------------------------- */

static void test_defaults(void **state)
{
	struct sw_settings s;
	unsigned p, n = 0;

	memset(&s, 0x5a, sizeof(s));
	sw_settings_defaults(&s);
	assert_int_equal(s.n_interfaces, 0);
	assert_string_equal(s.bpffs_dir, "/sys/fs/bpf/smtpwall");
	assert_string_equal(s.state_dir, "/var/lib/smtpwall");
	assert_int_equal(s.xdp_mode, SW_XDP_AUTO);
	assert_false(s.dry_run);
	assert_int_equal(s.log_level, SW_LOG_INFO);
	assert_int_equal(s.gc_interval_ns, 2 * SEC);
	for (p = 0; p < 65536; p++)
		n += has_port(&s, p);
	assert_int_equal(n, 3);
	assert_true(has_port(&s, 25) && has_port(&s, 465) && has_port(&s, 587));
	assert_int_equal(s.ipv4_prefix, 32);
	assert_int_equal(s.ipv6_prefix, 64);
	assert_int_equal(s.syn_interval_ns, 2 * SEC);	/* 30/min */
	assert_int_equal(s.syn_burst, 10);
	assert_int_equal(s.max_sessions, 10);
	assert_int_equal(s.handshake_timeout_ns, 30 * SEC);
	assert_int_equal(s.idle_timeout_ns, 10 * MIN);
	assert_int_equal(s.source_idle_ns, 30 * MIN);
	assert_false(s.malformed_pass);
	assert_int_equal(s.penalty_strikes, 10);
	assert_int_equal(s.penalty_window_ns, 60 * SEC);
	assert_int_equal(s.penalty_base_ns, 5 * MIN);
	assert_int_equal(s.penalty_max_ns, 24 * HOUR);
	assert_int_equal(s.penalty_forget_ns, 24 * HOUR);
	assert_int_equal(s.new_source_interval_ns, 200000);	/* 5000/s */
	assert_int_equal(s.new_source_burst, 10000);
	assert_false(s.flood_drop);
	assert_int_equal(s.max_sources, 131072);
	assert_int_equal(s.max_session_entries, 262144);
	assert_null(s.allow);
	assert_null(s.deny);
	assert_int_equal(s.n_allow, 0);
	assert_int_equal(s.n_deny, 0);
	assert_string_equal(s.path, "");
}

static void test_example_is_defaults(void **state)
{
	struct sw_settings s;
	char err[512] = "";

	if (sw_settings_load(&s, EXAMPLE, err, sizeof(err))) {
		print_error("%s\n", err);
		fail();
	}
	assert_is_defaults(&s);
	assert_string_equal(s.path, EXAMPLE);
	sw_settings_free(&s);
}

/* Every key of the example is set (none only commented out), so none is forgotten. */
static void test_example_lists_every_key(void **state)
{
	/* section.key: names repeat across sections (window, idle...). */
	static const char *const keys[] = {
		"general.bpffs_dir", "general.state_dir", "general.xdp_mode", "general.dry_run",
		"general.log_level", "general.gc_interval", "limits.ports", "limits.ipv4_prefix",
		"limits.ipv6_prefix", "limits.syn_rate", "limits.syn_burst", "limits.max_sessions",
		"limits.handshake_timeout", "limits.idle_timeout", "limits.source_idle",
		"limits.malformed", "penalty.strikes", "penalty.window", "penalty.base", "penalty.max",
		"penalty.forget", "flood.new_source_rate", "flood.new_source_burst", "flood.action",
		"capacity.sources", "capacity.sessions", "sessions.idle_greeted", "sessions.idle_helo",
		"sessions.idle_mail", "sessions.idle_data", "sessions.idle_tls", "sessions.max_idle",
		"sessions.teardown", "sessions.pregreet", "sessions.harvest_min",
		"sessions.harvest_ratio", "sessions.auth_failures", "sessions.window",
		"sessions.good_ttl", "sessions.tls_ports", "emergency.mode", "emergency.capacity",
		"emergency.high", "emergency.low", "emergency.rate", "emergency.hold", "emergency.idle",
		"emergency.teardown_max", "emergency.admit_home",
	};
	char line[512], name[64], section[64] = "", full[140];
	unsigned i, found[sizeof(keys) / sizeof(keys[0])] = { 0 };
	bool ifaces = false;
	FILE *f = fopen(EXAMPLE, "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "[%63[a-z ]]", name) == 1) {
			snprintf(section, sizeof(section), "%s", name);
			continue;
		}
		if (sscanf(line, " %63[a-z_46] =", name) != 1)
			continue;
		snprintf(full, sizeof(full), "%s.%s", section, name);
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (!strcmp(full, keys[i]))
				found[i]++;
	}
	rewind(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "interfaces ="))
			ifaces = true;
	fclose(f);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (found[i] != 1) {
			print_error("key %s appears %u times in %s\n", keys[i], found[i], EXAMPLE);
			fail();
		}
	}
	assert_true(ifaces);
}

static void test_empty_file(void **state)
{
	struct sw_settings s;
	char err[512], path[64];

	assert_int_equal(load_text("", &s, err, sizeof(err), path), 0);
	assert_is_defaults(&s);
	assert_string_equal(s.path, path);
	assert_int_equal(load_text("; only a comment\n# and another\n\n[limits]\n", &s, err,
				   sizeof(err), path), 0);
	assert_is_defaults(&s);
}

static void test_every_key(void **state)
{
	static const char text[] =
		"[general]\n"
		"interfaces = eth0, eth1 bond0.100\tenp3s0f1@x:1\n"
		"bpffs_dir = /sys/fs/bpf/other\n"
		"state_dir = /srv/smtpwall\n"
		"xdp_mode = native\n"
		"dry_run = yes\n"
		"log_level = debug\n"
		"gc_interval = 500ms\n"
		"[limits]\n"
		"ports = 25 2525-2527\n"
		"ipv4_prefix = 24\n"
		"ipv6_prefix = 48\n"
		"syn_rate = 60/min\n"
		"syn_burst = 5\n"
		"max_sessions = 0\n"
		"handshake_timeout = 10s\n"
		"idle_timeout = 1h30m\n"
		"source_idle = 2h\n"
		"malformed = pass\n"
		"[penalty]\n"
		"strikes = 0\n"
		"window = 2m\n"
		"base = 1m\n"
		"max = 1h\n"
		"forget = 7d\n"
		"[flood]\n"
		"new_source_rate = off\n"
		"new_source_burst = 1\n"
		"action = drop\n"
		"[capacity]\n"
		"sources = 1024\n"
		"sessions = 16777216\n";
	struct sw_settings s;
	char err[512], path[64];

	if (load_text(text, &s, err, sizeof(err), path)) {
		print_error("%s\n", err);
		fail();
	}
	assert_int_equal(s.n_interfaces, 4);
	assert_string_equal(s.interfaces[0], "eth0");
	assert_string_equal(s.interfaces[1], "eth1");
	assert_string_equal(s.interfaces[2], "bond0.100");
	assert_string_equal(s.interfaces[3], "enp3s0f1@x:1");
	assert_string_equal(s.bpffs_dir, "/sys/fs/bpf/other");
	assert_string_equal(s.state_dir, "/srv/smtpwall");
	assert_int_equal(s.xdp_mode, SW_XDP_NATIVE);
	assert_true(s.dry_run);
	assert_int_equal(s.log_level, SW_LOG_DEBUG);
	assert_int_equal(s.gc_interval_ns, 500 * MS);
	assert_true(has_port(&s, 25) && has_port(&s, 2525) && has_port(&s, 2527));
	assert_false(has_port(&s, 465) || has_port(&s, 587) || has_port(&s, 2528));
	assert_int_equal(s.ipv4_prefix, 24);
	assert_int_equal(s.ipv6_prefix, 48);
	assert_int_equal(s.syn_interval_ns, SEC);
	assert_int_equal(s.syn_burst, 5);
	assert_int_equal(s.max_sessions, 0);
	assert_int_equal(s.handshake_timeout_ns, 10 * SEC);
	assert_int_equal(s.idle_timeout_ns, 90 * MIN);
	assert_int_equal(s.source_idle_ns, 2 * HOUR);
	assert_true(s.malformed_pass);
	assert_int_equal(s.penalty_strikes, 0);
	assert_int_equal(s.penalty_window_ns, 2 * MIN);
	assert_int_equal(s.penalty_base_ns, MIN);
	assert_int_equal(s.penalty_max_ns, HOUR);
	assert_int_equal(s.penalty_forget_ns, 7 * 24 * HOUR);
	assert_int_equal(s.new_source_interval_ns, 0);
	assert_int_equal(s.new_source_burst, 1);
	assert_true(s.flood_drop);
	assert_int_equal(s.max_sources, 1024);
	assert_int_equal(s.max_session_entries, 16777216);
	sw_settings_free(&s);
}

/* Syntax niceties: indentation, inline ';' comments, CRLF, a BOM, "last one wins". */
static void test_syntax(void **state)
{
	struct sw_settings s;
	char err[512], path[64];

	assert_int_equal(load_text("\xef\xbb\xbf[limits]\r\n"
				   "  syn_burst = 3   ; indented, with a comment\r\n"
				   "\tmax_sessions = 4\r\n"
				   "    # an indented '#' comment\r\n"
				   "ports = 25 ; smtp only\r\n"
				   "ports = 2525 ; given twice: the last one wins\r\n"
				   "[general]\r\n"
				   "interfaces =\r\n",
				   &s, err, sizeof(err), path), 0);
	assert_int_equal(s.syn_burst, 3);
	assert_int_equal(s.max_sessions, 4);
	assert_true(has_port(&s, 2525));
	assert_false(has_port(&s, 25));
	assert_int_equal(s.n_interfaces, 0);
	sw_settings_free(&s);

	/* name: value is inih's concession to configparser: accepted. */
	assert_int_equal(load_text("[limits]\nsyn_burst: 7\n", &s, err, sizeof(err), path), 0);
	assert_int_equal(s.syn_burst, 7);

	/* A long comment line is fine; only long key lines are refused. */
	{
		char text[1024];

		memset(text, 0, sizeof(text));
		strcpy(text, "# ");
		memset(text + 2, 'c', 600);
		strcat(text, "\n[limits]\nsyn_burst = 9\n");
		assert_int_equal(load_text(text, &s, err, sizeof(err), path), 0);
		assert_int_equal(s.syn_burst, 9);
	}
}

static void test_bounds(void **state)
{
	struct sw_settings s;
	char err[512], path[64];

	assert_int_equal(load_text("[limits]\nipv4_prefix = 8\nipv6_prefix = 16\n"
				   "syn_burst = 1\nmax_sessions = 1000000\n"
				   "[general]\ngc_interval = 100ms\n[penalty]\nstrikes = 1000000\n"
				   "base = 365d\nmax = 365d\n[capacity]\nsources = 16777216\n"
				   "sessions = 1024\n", &s, err, sizeof(err), path), 0);
	assert_int_equal(s.ipv4_prefix, 8);
	assert_int_equal(s.ipv6_prefix, 16);
	assert_int_equal(s.syn_burst, 1);
	assert_int_equal(s.max_sessions, 1000000);
	assert_int_equal(s.gc_interval_ns, 100 * MS);
	assert_int_equal(s.penalty_strikes, 1000000);
	assert_int_equal(s.penalty_base_ns, 365 * 24 * HOUR);
	assert_int_equal(s.max_sources, 16777216);
	assert_int_equal(s.max_session_entries, 1024);

	assert_int_equal(load_text("[limits]\nipv4_prefix = 32\nipv6_prefix = 128\n"
				   "[general]\ngc_interval = 1h\n", &s, err, sizeof(err), path), 0);
	assert_int_equal(s.ipv4_prefix, 32);
	assert_int_equal(s.ipv6_prefix, 128);
	assert_int_equal(s.gc_interval_ns, HOUR);
}

/* ---- errors --------------------------------------------------------------- */

struct bad_case {
	const char *text;
	int line;
	const char *key;	/* e.g. "[limits] syn_rate:"; NULL if the error has none */
	const char *msg;
};

static void check_bad(const struct bad_case *c)
{
	struct sw_settings s;
	char err[512] = "", path[64], prefix[96];

	memset(&s, 0x5a, sizeof(s));
	if (load_text(c->text, &s, err, sizeof(err), path) != -1) {
		print_error("accepted:\n%s\n", c->text);
		fail();
	}
	snprintf(prefix, sizeof(prefix), "%s:%d: ", path, c->line);
	if (strncmp(err, prefix, strlen(prefix)) ||
	    (c->key && !strstr(err, c->key)) || !strstr(err, c->msg)) {
		print_error("text:\n%s\nerror: %s\nwanted: %s%s ... %s\n", c->text, err, prefix,
			    c->key ? c->key : "", c->msg);
		fail();
	}
	/* Failed load: defaults, nothing allocated. */
	assert_is_defaults(&s);
}

static void test_errors(void **state)
{
	static const struct bad_case cases[] = {
		/* structure */
		{ "[limits]\nsyn_rat = 30/min\n", 2, "[limits] syn_rat:",
		  "unknown key (did you mean syn_rate?)" },
		{ "[limits]\nfrobnicate = 1\n", 2, "[limits] frobnicate:", "unknown key" },
		{ "[general]\nports = 25\n", 2, "[general] ports:",
		  "unknown key (ports belongs in [limits])" },
		{ "[general]\ncidr = 192.0.2.0/24\n", 2, "[general] cidr:", "belongs in [allow]" },
		{ "[deny]\naddress = 192.0.2.0/24\n", 2, "[deny] address:", "unknown key" },
		{ "[general]\n[bogus]\nfoo = 1\n", 2, NULL, "unknown section [bogus]" },
		{ "[general]\n\n[limit]\n", 3, NULL, "unknown section [limit]" },
		{ "[ limits ]\nsyn_burst = 1\n", 1, NULL, "unknown section [ limits ]" },
		{ "[Limits]\n", 1, NULL, "unknown section [Limits]" },
		{ "ports = 25\n", 1, "ports:", "outside of any section" },
		{ "[limits]\nports\n", 2, NULL, "syntax error" },
		{ "[limits\nports = 25\n", 1, NULL, "syntax error" },
		/* first error wins */
		{ "[limits]\nsyn_burst = 0\nmax_sessions = x\n", 2, "[limits] syn_burst:",
		  "0 is out of range (1-1000000)" },
		{ "[limits]\nports\nsyn_burst = 0\n", 2, NULL, "syntax error" },
		{ "[limits]\nsyn_burst = 0\nports\n", 2, "[limits] syn_burst:", "out of range" },
		{ "[oops]\n[limits]\nports\n", 1, NULL, "unknown section [oops]" },
		/* [general] */
		{ "[general]\ngc_interval = 5x\n", 2, "[general] gc_interval:",
		  "invalid duration \"5x\": unknown unit \"x\" (use ms, s, m, h, d)" },
		{ "[general]\ngc_interval = 99ms\n", 2, "[general] gc_interval:",
		  "99ms is out of range (100ms to 1h)" },
		{ "[general]\ngc_interval = 1h1ms\n", 2, "[general] gc_interval:", "out of range" },
		{ "[general]\ngc_interval =\n", 2, "[general] gc_interval:", "empty duration" },
		{ "[general]\nxdp_mode = fast\n", 2, "[general] xdp_mode:",
		  "invalid value \"fast\" (use auto, native or generic)" },
		{ "[general]\nlog_level = verbose\n", 2, "[general] log_level:",
		  "(use error, warn, info or debug)" },
		{ "[general]\ndry_run = maybe\n", 2, "[general] dry_run:", "use yes or no" },
		{ "[general]\nbpffs_dir = sys/fs/bpf\n", 2, "[general] bpffs_dir:",
		  "not an absolute path" },
		{ "[general]\nstate_dir =\n", 2, "[general] state_dir:", "empty path" },
		{ "[general]\ninterfaces = eth0 eth$\n", 2, "[general] interfaces:",
		  "invalid interface name \"eth$\"" },
		{ "[general]\ninterfaces = averyveryverylongname\n", 2, "[general] interfaces:",
		  "too long (at most 15 characters)" },
		{ "[general]\ninterfaces = eth0, eth0\n", 2, "[general] interfaces:",
		  "eth0 is listed twice" },
		{ "[general]\ninterfaces = a b c d e f g h i j k l m n o p q\n", 2,
		  "[general] interfaces:", "too many interfaces (at most 16)" },
		{ "[general]\ninterfaces = ..\n", 2, "[general] interfaces:", "invalid interface" },
		/* [limits] */
		{ "[limits]\nports = 0\n", 2, "[limits] ports:", "port 0 is out of range (1-65535)" },
		{ "[limits]\nports = 65536\n", 2, "[limits] ports:", "out of range (1-65535)" },
		{ "[limits]\nports =\n", 2, "[limits] ports:", "no ports given" },
		{ "[limits]\nports = 25 # smtp\n", 2, "[limits] ports:",
		  "'#' starts a comment only at the start of a line" },
		{ "[limits]\nipv4_prefix = 33\n", 2, "[limits] ipv4_prefix:",
		  "invalid prefix length 33 (IPv4 allows 0-32)" },
		{ "[limits]\nipv4_prefix = 0\n", 2, "[limits] ipv4_prefix:", "too short" },
		{ "[limits]\nipv4_prefix = 7\n", 2, "[limits] ipv4_prefix:", "use 8-32" },
		{ "[limits]\nipv4_prefix = 99999999999999999999\n", 2, "[limits] ipv4_prefix:",
		  "invalid prefix length 99999999999999999999 (IPv4 allows 0-32)" },
		{ "[limits]\nipv4_prefix = 24x\n", 2, "[limits] ipv4_prefix:", "invalid number" },
		{ "[limits]\nipv4_prefix = -1\n", 2, "[limits] ipv4_prefix:", "must not be negative" },
		{ "[limits]\nipv6_prefix = 15\n", 2, "[limits] ipv6_prefix:", "use 16-128" },
		{ "[limits]\nipv6_prefix = 129\n", 2, "[limits] ipv6_prefix:", "IPv6 allows 0-128" },
		{ "[limits]\nsyn_rate = 30/fortnight\n", 2, "[limits] syn_rate:",
		  "unknown unit \"fortnight\"" },
		{ "[limits]\nsyn_rate = 30\n", 2, "[limits] syn_rate:", "missing unit" },
		{ "[limits]\nsyn_burst = 1000001\n", 2, "[limits] syn_burst:", "out of range" },
		{ "[limits]\nmax_sessions = 1000001\n", 2, "[limits] max_sessions:",
		  "1000001 is out of range (0-1000000)" },
		{ "[limits]\nmax_sessions = ten\n", 2, "[limits] max_sessions:", "invalid number" },
		{ "[limits]\nhandshake_timeout = 0\n", 2, "[limits] handshake_timeout:",
		  "out of range (must be above 0" },
		{ "[limits]\nidle_timeout = 366d\n", 2, "[limits] idle_timeout:",
		  "at most 365d" },
		{ "[limits]\nsource_idle = 99999999999999999999s\n", 2, "[limits] source_idle:",
		  "too large" },
		{ "[limits]\nmalformed = reject\n", 2, "[limits] malformed:", "(use pass or drop)" },
		/* [penalty] */
		{ "[penalty]\nstrikes = 1000001\n", 2, "[penalty] strikes:", "out of range" },
		{ "[penalty]\nwindow = 0s\n", 2, "[penalty] window:", "out of range" },
		{ "[penalty]\nbase = 1h30\n", 2, "[penalty] base:", "missing unit after 30" },
		{ "[penalty]\nbase = 1h\nmax = 30m\n", 3, "[penalty] max:",
		  "30m is shorter than base (1h)" },
		{ "[penalty]\nmax = 30m\nbase = 1h\n", 3, "[penalty] base:",
		  "1h is longer than max (30m)" },
		{ "[penalty]\nbase = 2d\n", 2, "[penalty] base:", "2d is longer than max (1d)" },
		{ "[penalty]\nmax = 1m\n", 2, "[penalty] max:", "1m is shorter than base (5m)" },
		{ "[penalty]\nforget = -1s\n", 2, "[penalty] forget:", "must not be negative" },
		/* [flood] */
		{ "[flood]\nnew_source_rate = 0/s\n", 2, "[flood] new_source_rate:",
		  "must be greater than 0 (use off to disable)" },
		{ "[flood]\nnew_source_burst = 0\n", 2, "[flood] new_source_burst:",
		  "out of range" },
		{ "[flood]\naction = block\n", 2, "[flood] action:", "(use pass or drop)" },
		/* [capacity] */
		{ "[capacity]\nsources = 1023\n", 2, "[capacity] sources:",
		  "1023 is out of range (1024-16777216)" },
		{ "[capacity]\nsessions = 16777217\n", 2, "[capacity] sessions:", "out of range" },
		/* [allow] / [deny] */
		{ "[allow]\ncidr = 192.0.2.1/24\n", 2, "[allow] cidr:",
		  "192.0.2.1/24 has host bits set; did you mean 192.0.2.0/24?" },
		{ "[deny]\ncidr = 2001:db8::1/32\n", 2, "[deny] cidr:",
		  "did you mean 2001:db8::/32?" },
		{ "[allow]\ncidr = 192.0.2.0/24 my relays\n", 2, "[allow] cidr:",
		  "invalid prefix length" },
		{ "[allow]\ncidr =\n", 2, "[allow] cidr:", "empty address" },
		{ "[allow]\ncidr = 192.0.2.0/24\ncidr = 198.51.100.0/24\n\ncidr = 192.0.2.0/24\n",
		  5, "[allow] cidr:", "192.0.2.0/24 is listed twice (first at line 2)" },
		{ "[deny]\ncidr = 2001:db8::/32\n[allow]\ncidr = 10.0.0.0/8\n[deny]\n"
		  "cidr = 2001:DB8:0::/32\n", 6, "[deny] cidr:",
		  "2001:db8::/32 is listed twice (first at line 2)" },
		{ "[deny]\ncidr = 192.0.2.7\ncidr = 192.0.2.7/32\n", 3, "[deny] cidr:",
		  "192.0.2.7 is listed twice" },
		/* [geo] and [country ...] */
		{ "[geo]\ndatabase = GeoLite2-Country.mmdb\n", 2, "[geo] database:",
		  "is not an absolute path" },
		{ "[geo]\nhome = JP, JPN\n", 2, "[geo] home:",
		  "\"JPN\" is not a two-letter ISO 3166 country code" },
		{ "[geo]\nhome = jp us J1\n", 2, "[geo] home:", "\"J1\" is not a two-letter" },
		{ "[geo]\nhome = JP,us,jp\n", 2, "[geo] home:", "JP is listed twice" },
		{ "[geo]\nhomes = JP\n", 2, "[geo] homes:", "did you mean home?" },
		{ "[country]\naction = block\n", 1, NULL, "[country] needs a country" },
		{ "[country XYZ]\naction = block\n", 1, NULL,
		  "\"XYZ\" is not a country (use home, world, unknown or a two-letter" },
		{ "[country J1]\n", 1, NULL, "is not a country" },
		{ "[country CN]\naction = drop\n", 2, "[country CN] action:",
		  "invalid value \"drop\" (use allow, monitor, limit or block)" },
		{ "[country CN]\naction = block\nsyn_rat = 1/s\n", 3, "[country CN] syn_rat:",
		  "did you mean syn_rate?" },
		{ "[country CN]\naction = block\nports = 25\n", 3, "[country CN] ports:",
		  "a [country ...] section takes action, syn_rate" },
		{ "[country world]\naction = limit\nsyn_burst = 0\n", 3, "[country world] syn_burst:",
		  "out of range" },
		{ "[country world]\naction = limit\ncountry_rate = 5/fortnight\n", 3,
		  "[country world] country_rate:", "" },
		{ "[country home]\naction = allow\n[limits]\n[country home]\naction = limit\n", 4, NULL,
		  "[country home] appears twice (first at line 1)" },
		{ "[country cn]\naction = block\n[country CN]\naction = block\n", 3, NULL,
		  "appears twice (first at line 1)" },
		{ "[limits]\nsyn_burst = 3\n[country BR]\nsyn_rate = 1/s\n", 3, NULL,
		  "[country BR]: no action (set action = allow, monitor, limit or block)" },
		{ "[country unknown]\n\n[limits]\n", 1, NULL, "[country unknown]: no action" },
		{ "[Country JP]\naction = block\n", 1, NULL, "unknown section [Country JP]" },
		/* [sessions] and [emergency] */
		{ "[emergency]\nhigh = 50%\nlow = 60%\n", 3, NULL,
		  "[emergency] low (60 sessions) must be below high (50 sessions)" },
		{ "[emergency]\ncapacity = 10\nhigh = 5\nlow = 80%\n", 4, NULL,
		  "low (8 sessions) must be below high (5 sessions)" },
		{ "[emergency]\nmode = maybe\n", 2, "[emergency] mode:",
		  "invalid value \"maybe\" (use auto, on or off)" },
		{ "[emergency]\nhigh = 150%\n", 2, "[emergency] high:", "out of range" },
		{ "[emergency]\nhigh = 0\n", 2, "[emergency] high:", "out of range" },
		{ "[emergency]\nidle = 0s\n", 2, "[emergency] idle:", "out of range" },
		{ "[emergency]\nprobation_share = 101%\n", 2, "[emergency] probation_share:", "out of range" },
		{ "[emergency]\nprobation_share = lots\n", 2, "[emergency] probation_share:", "invalid" },
		{ "[emergency]\nprobation_per_source = 0\n", 2, "[emergency] probation_per_source:",
		  "out of range" },
		{ "[emergency]\nprobation_helo = 0s\n", 2, "[emergency] probation_helo:", "out of range" },
		{ "[emergency]\nprobation_lifetime = forever\n", 2, "[emergency] probation_lifetime:", "invalid" },
		{ "[sessions]\ntls_ports = 465 587 993 995 2465\n", 2, "[sessions] tls_ports:",
		  "too many ports (at most 4)" },
		{ "[sessions]\ntls_ports = 465,0\n", 2, "[sessions] tls_ports:", "out of range" },
		{ "[sessions]\nharvest_ratio = 150%\n", 2, "[sessions] harvest_ratio:", "out of range" },
		{ "[sessions]\nteardown = sometimes\n", 2, "[sessions] teardown:",
		  "(use penalised or never)" },
		{ "[sessions]\nidle_hello = 5s\n", 2, "[sessions] idle_hello:", "did you mean idle_helo?" },
		/* [metrics] */
		{ "[metrics]\nlisten = 9725\n", 2, "[metrics] listen:", "expected ADDRESS:PORT" },
		{ "[metrics]\nlisten = 127.0.0.1:0\n", 2, "[metrics] listen:", "out of range" },
		{ "[metrics]\nlisten = localhost:9725\n", 2, "[metrics] listen:", "is not an IP address" },
		{ "[metrics]\nlisten = [::1:9725\n", 2, "[metrics] listen:", "expected [IPV6]:PORT" },
		{ "[metrics]\ntop_sources = 1001\n", 2, "[metrics] top_sources:", "out of range" },
		{ "[metrics]\ntop_countries = -1\n", 2, "[metrics] top_countries:", "" },
	};
	unsigned i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_bad(&cases[i]);
}

/* [metrics] listen: any address (not only loopback, unlike [policy] tcp), or off. */
static void test_metrics_listen(void **state)
{
	struct sw_settings s;
	char err[512], path[64];

	(void)state;
	assert_int_equal(load_text("[metrics]\nlisten = 0.0.0.0:9100\ntop_sources = 0\ntop_countries = 250\n", &s, err,
				   sizeof(err), path), 0);
	assert_string_equal(s.metrics_listen, "0.0.0.0:9100");
	assert_int_equal(s.metrics_top_sources, 0);
	assert_int_equal(s.metrics_top_countries, 250);
	sw_settings_free(&s);
	assert_int_equal(load_text("[metrics]\nlisten = [::]:9725\n", &s, err, sizeof(err), path), 0);
	assert_string_equal(s.metrics_listen, "[::]:9725");
	sw_settings_free(&s);
	assert_int_equal(load_text("[metrics]\nlisten = off\n", &s, err, sizeof(err), path), 0);
	assert_string_equal(s.metrics_listen, "");
	sw_settings_free(&s);
	assert_int_equal(load_text("[general]\n", &s, err, sizeof(err), path), 0);
	assert_string_equal(s.metrics_listen, "127.0.0.1:9725");
	assert_int_equal(s.metrics_top_sources, 20);
	assert_int_equal(s.metrics_top_countries, 10);
	sw_settings_free(&s);
}

static void check_good_line(const char *text)
{
	struct sw_settings s;
	char err[512], path[64];

	if (load_text(text, &s, err, sizeof(err), path)) {
		print_error("%s\n", err);
		fail();
	}
	assert_int_equal(strlen(s.state_dir), 185);
}

static void test_long_line(void **state)
{
	struct bad_case c = { NULL, 3, NULL, "line too long" };
	char text[1024];

	snprintf(text, sizeof(text), "[general]\n; fine\nstate_dir = /%0300d\n", 0);
	c.text = text;
	check_bad(&c);

	/* 197 characters is the limit, with either line ending. */
	snprintf(text, sizeof(text), "[general]\nstate_dir = /%0184d\n", 0);
	assert_int_equal(strlen(strchr(text, '\n') + 1), 197 + 1);
	check_good_line(text);
	snprintf(text, sizeof(text), "[general]\r\nstate_dir = /%0184d\r\n", 0);
	check_good_line(text);
	snprintf(text, sizeof(text), "[general]\nstate_dir = /%0184d", 0);
	check_good_line(text);
	snprintf(text, sizeof(text), "[general]\nstate_dir = /%0185d\n", 0);
	c.text = text;
	c.line = 2;
	check_bad(&c);
	c.line = 3;

	/* The line after the long one keeps its number. */
	snprintf(text, sizeof(text), "[general]\n# %0300d\nstate_dir = x\n", 0);
	c.text = text;
	c.key = "[general] state_dir:";
	c.msg = "not an absolute path";
	check_bad(&c);
}

static void test_nul_byte(void **state)
{
	static const char text[] = "[limits]\nsyn_burst = 1\0 ignored?\n";
	struct sw_settings s;
	char err[512], path[64], prefix[128];
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "/tmp/smtpwall-test-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, sizeof(text) - 1, f), sizeof(text) - 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(sw_settings_load(&s, path, err, sizeof(err)), -1);
	unlink(path);
	snprintf(prefix, sizeof(prefix), "%s:2: line contains a NUL byte", path);
	assert_string_equal(err, prefix);
	assert_is_defaults(&s);
}

static void test_cannot_open(void **state)
{
	struct sw_settings s;
	char err[512] = "";

	memset(&s, 0x5a, sizeof(s));
	assert_int_equal(sw_settings_load(&s, "/nonexistent/smtpwall.conf", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/smtpwall.conf: cannot open: "));
	assert_non_null(strstr(err, "No such file or directory"));
	assert_is_defaults(&s);

	/* A directory opens but cannot be read. */
	memset(&s, 0x5a, sizeof(s));
	assert_int_equal(sw_settings_load(&s, "/tmp", err, sizeof(err)), -1);
	assert_string_equal(err, "/tmp: cannot read: Is a directory");
	assert_is_defaults(&s);

	/* A small error buffer is terminated. */
	assert_int_equal(sw_settings_load(&s, "/nonexistent/smtpwall.conf", err, 8), -1);
	assert_int_equal(strlen(err), 7);
}

/* ---- [allow] / [deny] ----------------------------------------------------- */

static void test_lists(void **state)
{
	static const char text[] =
		"[allow]\n"
		"cidr = 192.0.2.0/24\n"
		"cidr = 2001:db8::/32 ; our relays\n"
		"cidr = 203.0.113.5\n"
		"[deny]\n"
		"cidr = 198.51.100.0/24\n"
		"cidr = 192.0.2.0/24\n"	/* in both lists: allowed, the kernel decides */
		"[allow]\n"
		"cidr = 192.0.2.0/25\n";
	struct sw_settings s;
	char err[512], path[64], buf[64], want[128];

	if (load_text(text, &s, err, sizeof(err), path)) {
		print_error("%s\n", err);
		fail();
	}
	assert_int_equal(s.n_allow, 4);
	assert_int_equal(s.n_deny, 2);
	sw_format_cidr(&s.allow[0].cidr, true, buf, sizeof(buf));
	assert_string_equal(buf, "192.0.2.0/24");
	sw_format_cidr(&s.allow[1].cidr, true, buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8::/32");
	sw_format_cidr(&s.allow[2].cidr, true, buf, sizeof(buf));
	assert_string_equal(buf, "203.0.113.5");
	sw_format_cidr(&s.allow[3].cidr, true, buf, sizeof(buf));
	assert_string_equal(buf, "192.0.2.0/25");
	sw_format_cidr(&s.deny[0].cidr, true, buf, sizeof(buf));
	assert_string_equal(buf, "198.51.100.0/24");
	sw_format_cidr(&s.deny[1].cidr, true, buf, sizeof(buf));
	assert_string_equal(buf, "192.0.2.0/24");

	snprintf(want, sizeof(want), "config %s:2", path);
	assert_string_equal(s.allow[0].reason, want);
	snprintf(want, sizeof(want), "config %s:3", path);
	assert_string_equal(s.allow[1].reason, want);
	snprintf(want, sizeof(want), "config %s:9", path);
	assert_string_equal(s.allow[3].reason, want);
	snprintf(want, sizeof(want), "config %s:7", path);
	assert_string_equal(s.deny[1].reason, want);

	sw_settings_free(&s);
	assert_null(s.allow);
	assert_null(s.deny);
	assert_int_equal(s.n_allow, 0);
	sw_settings_free(&s);	/* twice is harmless */
}

/* Many entries: the arrays and the repeat check grow. */
static void test_lists_many(void **state)
{
	size_t cap = 64 + 3000 * 32;
	char *text = malloc(cap), path[64], err[512];
	struct sw_settings s;
	size_t off = 0;
	int i;

	assert_non_null(text);
	off += snprintf(text + off, cap - off, "[deny]\n");
	for (i = 0; i < 3000; i++)
		off += snprintf(text + off, cap - off, "cidr = 10.%d.%d.0/24\n", i / 256, i % 256);
	assert_int_equal(load_text(text, &s, err, sizeof(err), path), 0);
	assert_int_equal(s.n_deny, 3000);
	assert_int_equal(s.deny[2999].cidr.addr[1], 2999 / 256);
	assert_int_equal(s.deny[2999].cidr.addr[2], 2999 % 256);
	sw_settings_free(&s);

	/* A repeat far down is still found, with the line of the first. */
	off += snprintf(text + off, cap - off, "cidr = 10.1.44.0/24\n");
	assert_int_equal(load_text(text, &s, err, sizeof(err), path), -1);
	assert_non_null(strstr(err, ":3002: [deny] cidr: 10.1.44.0/24 is listed twice "
				    "(first at line 302)"));
	free(text);
}

static void test_lists_limit(void **state)
{
	size_t cap = 16 + (SW_LIST_MAX_ENTRIES + 1) * 24;
	char *text = malloc(cap), path[64], err[512], want[64];
	struct sw_settings s;
	size_t off = 0;
	int i;

	assert_non_null(text);
	off += snprintf(text + off, cap - off, "[allow]\n");
	for (i = 0; i < SW_LIST_MAX_ENTRIES; i++)
		off += snprintf(text + off, cap - off, "cidr = 10.%d.%d.%d\n", i >> 16,
				(i >> 8) & 255, i & 255);
	assert_int_equal(load_text(text, &s, err, sizeof(err), path), 0);
	assert_int_equal(s.n_allow, SW_LIST_MAX_ENTRIES);
	sw_settings_free(&s);

	off += snprintf(text + off, cap - off, "cidr = 192.0.2.1\n");
	assert_int_equal(load_text(text, &s, err, sizeof(err), path), -1);
	snprintf(want, sizeof(want), ":%d: [allow] cidr: too many entries (at most %d)",
		 SW_LIST_MAX_ENTRIES + 2, SW_LIST_MAX_ENTRIES);
	assert_non_null(strstr(err, want));
	assert_is_defaults(&s);
	free(text);
}

/* ---- kernel view ---------------------------------------------------------- */

static void test_to_kernel(void **state)
{
	static const char text[] =
		"[general]\n"
		"dry_run = yes\n"
		"[limits]\n"
		"ports = 25 587\n"
		"syn_rate = 60/min\n"
		"syn_burst = 5\n"
		"max_sessions = 3\n"
		"ipv4_prefix = 24\n"
		"ipv6_prefix = 56\n"
		"malformed = pass\n"
		"[penalty]\n"
		"strikes = 4\n"
		"window = 30s\n"
		"base = 1m\n"
		"max = 2h\n"
		"forget = 12h\n"
		"[flood]\n"
		"new_source_rate = 100/s\n"
		"new_source_burst = 50\n"
		"action = drop\n";
	struct sw_settings s;
	struct sw_config k;
	char err[512], path[64];

	if (load_text(text, &s, err, sizeof(err), path)) {
		print_error("%s\n", err);
		fail();
	}
	memset(&k, 0x5a, sizeof(k));
	sw_settings_to_kernel(&s, &k);
	assert_memory_equal(k.port_bitmap, s.port_bitmap, sizeof(k.port_bitmap));
	assert_true(k.port_bitmap[0] == 1ULL << 25);
	assert_true(k.port_bitmap[587 / 64] == 1ULL << (587 % 64));
	assert_int_equal(k.syn_interval_ns, 1000000000ULL);
	assert_int_equal(k.syn_tolerance_ns, 4000000000ULL);
	assert_int_equal(k.penalty_window_ns, 30 * SEC);
	assert_int_equal(k.penalty_base_ns, MIN);
	assert_int_equal(k.penalty_max_ns, 2 * HOUR);
	assert_int_equal(k.penalty_forget_ns, 12 * HOUR);
	assert_int_equal(k.new_source_interval_ns, 10 * MS);
	assert_int_equal(k.new_source_tolerance_ns, 49 * 10 * MS);
	assert_int_equal(k.list_gen, 0);
	assert_int_equal(k.max_sessions, 3);
	assert_int_equal(k.penalty_strikes, 4);
	assert_int_equal(ntohl(k.v4_mask), 0xffffff00);
	assert_int_equal(k.v6_mask[0], 0xffffffff);
	assert_int_equal(ntohl(k.v6_mask[1]), 0xffffff00);
	assert_int_equal(k.v6_mask[2], 0);
	assert_int_equal(k.v6_mask[3], 0);
	assert_int_equal(k.flags, SW_CFG_ENABLED | SW_CFG_DRY_RUN | SW_CFG_MALFORMED_PASS |
				  SW_CFG_FLOOD_DROP);
	assert_int_equal(k.list_fine, 0);	/* owned by the list writers */
	assert_int_equal(k.geo_gen, 0);	/* owned by the geo loader */
	sw_settings_free(&s);

	/* Defaults: enabled and nothing else; 30/min with burst 10. */
	sw_settings_defaults(&s);
	sw_settings_to_kernel(&s, &k);
	assert_int_equal(k.flags, SW_CFG_ENABLED);
	assert_int_equal(k.syn_interval_ns, 2 * SEC);
	assert_int_equal(k.syn_tolerance_ns, 18 * SEC);
	assert_int_equal(k.new_source_interval_ns, 200000);
	assert_int_equal(k.new_source_tolerance_ns, 9999ULL * 200000);
	assert_int_equal(k.v4_mask, 0xffffffff);
	assert_int_equal(k.v6_mask[1], 0xffffffff);
	assert_int_equal(k.v6_mask[2], 0);
	assert_int_equal(k.max_sessions, 10);
	assert_int_equal(k.penalty_strikes, 10);

	/* Rate limits off: no tolerance either. */
	assert_int_equal(load_text("[limits]\nsyn_rate = off\n[flood]\nnew_source_rate = off\n",
				   &s, err, sizeof(err), path), 0);
	sw_settings_to_kernel(&s, &k);
	assert_int_equal(k.syn_interval_ns, 0);
	assert_int_equal(k.syn_tolerance_ns, 0);
	assert_int_equal(k.new_source_interval_ns, 0);
	assert_int_equal(k.new_source_tolerance_ns, 0);

	/* The largest tolerance the ranges allow still fits. */
	assert_int_equal(load_text("[limits]\nsyn_rate = 1/h\nsyn_burst = 1000000\n",
				   &s, err, sizeof(err), path), 0);
	sw_settings_to_kernel(&s, &k);
	assert_true(k.syn_tolerance_ns == 999999ULL * 3600 * SEC);
}

static void test_sessions_and_emergency(void **state)
{
	static const char text[] =
		"[sessions]\n"
		"idle_greeted = 3s\nidle_helo = 4s\nidle_mail = 5s\nidle_data = 6s\nidle_tls = 7s\n"
		"max_idle = 1\nteardown = never\npregreet = 0\nharvest_min = 4\nharvest_ratio = 75\n"
		"auth_failures = 2\nwindow = 1m\ngood_ttl = 2h\ntls_ports = 465, 10465\n"
		"[emergency]\nmode = on\ncapacity = 10\nhigh = 8\nlow = 50%\nrate = 20/s\nhold = 5s\n"
		"idle = 2s\nteardown_max = 7\nadmit_home = yes\n";
	struct sw_settings s;
	struct sw_config k;
	char err[512] = "", path[64];

	if (load_text(text, &s, err, sizeof(err), path)) {
		print_error("%s\n", err);
		fail();
	}
	assert_int_equal(sw_settings_idle_ns(&s, SW_PH_CONNECTED), 0);	/* the server's turn */
	assert_int_equal(sw_settings_idle_ns(&s, SW_PH_GREETED), 3 * SEC);
	assert_int_equal(sw_settings_idle_ns(&s, SW_PH_HELO), 4 * SEC);
	assert_int_equal(sw_settings_idle_ns(&s, SW_PH_AUTH), 4 * SEC);
	assert_int_equal(sw_settings_idle_ns(&s, SW_PH_DELIVERED), 4 * SEC);
	assert_int_equal(sw_settings_idle_ns(&s, SW_PH_MAIL), 5 * SEC);
	assert_int_equal(sw_settings_idle_ns(&s, SW_PH_RCPT), 5 * SEC);
	assert_int_equal(sw_settings_idle_ns(&s, SW_PH_DATA), 6 * SEC);
	assert_int_equal(sw_settings_idle_ns(&s, SW_PH_TLS), 7 * SEC);
	assert_int_equal(sw_settings_idle_ns(&s, SW_PH_QUIT), 0);
	assert_int_equal(s.max_idle, 1);
	assert_false(s.teardown_penalised);
	assert_int_equal(s.emergency_mode, SW_EM_ON);
	assert_int_equal(sw_settings_emerg_high(&s), 8);	/* absolute */
	assert_int_equal(sw_settings_emerg_low(&s), 5);		/* 50 % of 10 */
	assert_int_equal(s.emerg_rate_interval_ns, 50 * MS);
	assert_int_equal(s.emerg_hold_ns, 5 * SEC);
	assert_int_equal(s.emerg_idle_ns, 2 * SEC);
	assert_int_equal(s.emerg_teardown_max, 7);
	sw_settings_to_kernel(&s, &k);
	assert_int_equal(k.pregreet_limit, 0);
	assert_int_equal(k.harvest_min, 4);
	assert_int_equal(k.harvest_ratio, 75);
	assert_int_equal(k.auth_fail_limit, 2);
	assert_int_equal(k.health_window_ns, 60 * SEC);
	assert_int_equal(k.good_ttl_ns, 7200 * SEC);
	assert_int_equal(k.tls_ports[0], 465);
	assert_int_equal(k.tls_ports[1], 10465);
	assert_int_equal(k.tls_ports[2], 0);
	assert_true(k.flags & SW_CFG_EMERG_HOME);
	/* Emergency itself and the egress flag belong to the daemon, never the file. */
	assert_false(k.flags & (SW_CFG_EMERGENCY | SW_CFG_EGRESS));
	sw_settings_free(&s);

	/* Defaults: percentages of the default capacity 100. */
	sw_settings_defaults(&s);
	assert_int_equal(sw_settings_emerg_high(&s), 90);
	assert_int_equal(sw_settings_emerg_low(&s), 70);
	assert_int_equal(s.pregreet_limit, 1);
	assert_true(s.teardown_penalised);
	assert_int_equal(s.tls_ports[0], 465);
}

static void test_probation_settings(void **state)
{
	static const char text[] =
		"[emergency]\ncapacity = 50\nprobation_share = 10%\nprobation_per_source = 2\n"
		"probation_greeted = 3s\nprobation_helo = 4s\nprobation_mail = 5s\nprobation_data = 6s\n"
		"probation_lifetime = 40s\n";
	struct sw_settings s;
	struct sw_config k;
	char err[512] = "", path[64];

	if (load_text(text, &s, err, sizeof(err), path)) {
		print_error("%s\n", err);
		fail();
	}
	assert_int_equal(sw_settings_probation_slots(&s), 5);	/* 10 % of 50 */
	assert_int_equal(sw_settings_probation_ns(&s, SW_PH_CONNECTED), 0);	/* the server's turn */
	assert_int_equal(sw_settings_probation_ns(&s, SW_PH_GREETED), 3 * SEC);
	assert_int_equal(sw_settings_probation_ns(&s, SW_PH_HELO), 4 * SEC);
	assert_int_equal(sw_settings_probation_ns(&s, SW_PH_AUTH), 4 * SEC);
	assert_int_equal(sw_settings_probation_ns(&s, SW_PH_DELIVERED), 4 * SEC);
	assert_int_equal(sw_settings_probation_ns(&s, SW_PH_MAIL), 5 * SEC);
	assert_int_equal(sw_settings_probation_ns(&s, SW_PH_RCPT), 5 * SEC);
	assert_int_equal(sw_settings_probation_ns(&s, SW_PH_DATA), 6 * SEC);
	assert_int_equal(sw_settings_probation_ns(&s, SW_PH_TLS), 0);	/* unreadable: [sessions] idle_tls */
	assert_int_equal(sw_settings_probation_ns(&s, SW_PH_QUIT), 0);
	assert_int_equal(s.probation_lifetime_ns, 40 * SEC);
	sw_settings_to_kernel(&s, &k);
	assert_int_equal(k.probation_per_source, 2);
	assert_int_equal(k.probation_limit, 0);	/* the daemon's, on its first run */
	sw_settings_free(&s);

	/* A share too small for one whole slot still gives one. */
	assert_int_equal(load_text("[emergency]\ncapacity = 5\nprobation_share = 10%\n", &s, err, sizeof(err),
				   path), 0);
	assert_int_equal(sw_settings_probation_slots(&s), 1);
	sw_settings_free(&s);

	/* 0 %: probation off, only known-good sources in an emergency. */
	assert_int_equal(load_text("[emergency]\nprobation_share = 0%\nprobation_per_source = 3\n", &s, err,
				   sizeof(err), path), 0);
	assert_int_equal(sw_settings_probation_slots(&s), 0);
	sw_settings_to_kernel(&s, &k);
	assert_int_equal(k.probation_per_source, 0);
	sw_settings_free(&s);

	/* Defaults: 20 % of capacity 100, one session per source. */
	sw_settings_defaults(&s);
	assert_int_equal(sw_settings_probation_slots(&s), 20);
	assert_int_equal(s.probation_per_source, 1);
	assert_int_equal(sw_settings_probation_ns(&s, SW_PH_GREETED), 10 * SEC);
	assert_int_equal(sw_settings_probation_ns(&s, SW_PH_HELO), 10 * SEC);
	assert_int_equal(sw_settings_probation_ns(&s, SW_PH_MAIL), 20 * SEC);
	assert_int_equal(sw_settings_probation_ns(&s, SW_PH_DATA), 30 * SEC);
	assert_int_equal(s.probation_lifetime_ns, 60 * SEC);
	sw_settings_to_kernel(&s, &k);
	assert_int_equal(k.probation_per_source, 1);
}

static int id_of(const char *code)
{
	int id = sw_country_id(code);

	assert_true(id >= SW_COUNTRY_FIRST && id <= SW_COUNTRY_LAST);
	return id;
}

static void test_countries(void **state)
{
	static const char text[] =
		"[limits]\n"
		"syn_rate = 60/min\n"
		"syn_burst = 5\n"
		"max_sessions = 4\n"
		"[geo]\n"
		"database = /var/lib/GeoIP/GeoLite2-Country.mmdb\n"
		"home = jp, US\n"
		"[country home]\n"
		"action = allow\n"
		"[country world]\n"
		"action = limit\n"
		"syn_rate = 6/min\n"
		"max_sessions = 2\n"
		"country_rate = 20/s\n"
		"[country unknown]\n"
		"action = monitor\n"
		"syn_burst = 2\n"
		"[country cn]\n"
		"action = block\n"
		"[country US]\n"
		"action = limit\n"
		"country_rate = 100/s\n"
		"country_burst = 500\n";
	struct sw_settings s;
	struct sw_country_policy p;
	char err[512] = "", path[64];

	if (load_text(text, &s, err, sizeof(err), path)) {
		print_error("%s\n", err);
		fail();
	}
	assert_string_equal(s.geo_database, "/var/lib/GeoIP/GeoLite2-Country.mmdb");
	assert_int_equal(s.n_home, 2);
	assert_true(s.geo_home[id_of("JP")]);
	assert_true(s.geo_home[id_of("US")]);
	assert_false(s.geo_home[id_of("CN")]);

	/* A home country: [country home], allow. */
	sw_settings_country_policy(&s, id_of("JP"), &p);
	assert_int_equal(p.action, SW_CA_ALLOW);
	assert_int_equal(p.agg_interval_ns, 0);

	/* An explicit section beats home: US is home but limited by its own section. */
	sw_settings_country_policy(&s, id_of("US"), &p);
	assert_int_equal(p.action, SW_CA_LIMIT);
	assert_int_equal(p.syn_interval_ns, SEC);		/* [limits] 60/min, inherited */
	assert_int_equal(p.syn_tolerance_ns, 4 * SEC);		/* burst 5, inherited */
	assert_int_equal(p.max_sessions, 4);
	assert_int_equal(p.agg_interval_ns, 10 * MS);
	assert_int_equal(p.agg_tolerance_ns, 499ULL * 10 * MS);

	/* The rest of the world: [country world] with its own rate, inherited burst. */
	sw_settings_country_policy(&s, id_of("BR"), &p);
	assert_int_equal(p.action, SW_CA_LIMIT);
	assert_int_equal(p.syn_interval_ns, 10 * SEC);
	assert_int_equal(p.syn_tolerance_ns, 4 * 10 * SEC);
	assert_int_equal(p.max_sessions, 2);
	assert_int_equal(p.agg_interval_ns, 50 * MS);
	assert_int_equal(p.agg_tolerance_ns, 9 * 50 * MS);	/* country_burst default 10 */

	sw_settings_country_policy(&s, id_of("CN"), &p);
	assert_int_equal(p.action, SW_CA_BLOCK);

	sw_settings_country_policy(&s, SW_COUNTRY_UNKNOWN, &p);
	assert_int_equal(p.action, SW_CA_MONITOR);
	assert_int_equal(p.syn_interval_ns, SEC);
	assert_int_equal(p.syn_tolerance_ns, 1 * SEC);

	/* No database loaded: no country policy, whatever the sections say. */
	sw_settings_country_policy(&s, SW_COUNTRY_NONE, &p);
	assert_int_equal(p.action, SW_CA_ALLOW);
	assert_int_equal(p.syn_interval_ns, 0);
	sw_settings_free(&s);

	/* Without any [country ...] section every country is allowed: fail open. */
	assert_int_equal(load_text("[geo]\nhome = JP\n", &s, err, sizeof(err), path), 0);
	for (unsigned id = 0; id < SW_COUNTRY_IDS; id++) {
		sw_settings_country_policy(&s, id, &p);
		assert_int_equal(p.action, SW_CA_ALLOW);
	}
	assert_string_equal(s.geo_database, "");

	/* Only [country world]: home countries stay allowed, unknown too. */
	assert_int_equal(load_text("[geo]\nhome = JP\ndatabase =\n[country world]\naction = block\n",
				   &s, err, sizeof(err), path), 0);
	sw_settings_country_policy(&s, id_of("JP"), &p);
	assert_int_equal(p.action, SW_CA_ALLOW);
	sw_settings_country_policy(&s, id_of("DE"), &p);
	assert_int_equal(p.action, SW_CA_BLOCK);
	sw_settings_country_policy(&s, SW_COUNTRY_UNKNOWN, &p);
	assert_int_equal(p.action, SW_CA_ALLOW);
	sw_settings_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_example_is_defaults),
		cmocka_unit_test(test_example_lists_every_key),
		cmocka_unit_test(test_empty_file),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_cannot_open),
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_lists_many),
		cmocka_unit_test(test_lists_limit),
		cmocka_unit_test(test_to_kernel),
		cmocka_unit_test(test_countries),
		cmocka_unit_test(test_sessions_and_emergency),
		cmocka_unit_test(test_probation_settings),
		cmocka_unit_test(test_metrics_listen),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
