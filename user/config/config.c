// SPDX-License-Identifier: GPL-2.0
/*
 * The configuration file: INI, read with inih, every key documented in
 * user/smtpwall.conf.example.
 *
 * Rules an operator can rely on:
 *  - unknown sections and keys are errors (a typo must not silently leave a
 *    default in force);
 *  - a key given twice keeps the last value, except `cidr` in [allow] and
 *    [deny], which adds one entry per line (a repeated prefix is an error);
 *  - ';' after whitespace starts a comment anywhere, '#' only at the start
 *    of a line (that is how Debian's inih is built);
 *  - the first error stops the load, reported as
 *    "<path>:<line>: [section] key: message".
 *
 * inih is given lines through our own reader rather than the FILE, for
 * three reasons: the reader counts lines, so a handler knows its line
 * number (inih's handler does not get it in Debian's build); it strips
 * leading whitespace, so an indented key is a key and not inih's
 * continuation of the previous value; and it refuses lines longer than
 * inih's fixed buffer, which inih would otherwise split into two lines.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "config.h"

#define NS_PER_MS  1000000ULL
#define NS_PER_SEC 1000000000ULL
#define NS_PER_MIN (60 * NS_PER_SEC)
#define NS_PER_H   (60 * NS_PER_MIN)
#define NS_PER_DAY (24 * NS_PER_H)

/*
 * Durations are added to the kernel's clock; a year keeps every sum far
 * from overflowing while being longer than any sensible timeout.
 */
#define MAX_DURATION (365 * NS_PER_DAY)

#define MSG_LEN 512

enum key_kind {
	K_DURATION,	/* uint64_t ns within [min, max] */
	K_UINT,		/* unsigned within [min, max] */
	K_BOOL,
	K_RATE,		/* uint64_t interval ns */
	K_IFACES,
	K_PATH,		/* char[SW_PATH_LEN], absolute */
	K_XDP_MODE,
	K_LOG_LEVEL,
	K_LOG_FORMAT,
	K_PORTS,
	K_PREFIX4,
	K_PREFIX6,
	K_MALFORMED,	/* pass|drop into malformed_pass */
	K_FLOOD_ACTION,	/* pass|drop into flood_drop */
	K_CIDR,		/* [allow]/[deny] entry */
	K_GEO_PATH,	/* an absolute path, or empty for none */
	K_PERCENT,	/* unsigned 0-100 with an optional '%' */
	K_MARK,		/* unsigned count, or N% of [emergency] capacity */
	K_EMERG_MODE,	/* auto|on|off */
	K_TLS_PORTS,	/* up to SW_TLS_PORTS ports */
	K_TEARDOWN,	/* penalised|never */
	K_HOME,		/* [geo] home: country codes */
	K_STRING,	/* char[max] */
	K_OCTAL,	/* unsigned file mode within [min, max] */
	K_LOOPBACK,	/* "127.0.0.1:PORT" or "[::1]:PORT" into char[64] */
	K_LISTEN,	/* "ADDRESS:PORT", "[IPV6]:PORT", or "off" (""), into char[64] */
	K_ACCT_MODE,	/* enforce|monitor|off */
	K_ABROAD,	/* allow|deny into abroad_deny */
	K_REPLY_CODE,	/* 4xx or 5xx */
	K_CIDRS,	/* up to SW_RELAY_NETS prefixes */
	K_FILTER,	/* "transport:nexthop" */
};

struct key_def {
	const char *section;
	const char *name;
	enum key_kind kind;
	size_t off;
	uint64_t min, max;
};

#define F(field) offsetof(struct sw_settings, field)

static const struct key_def keys[] = {
	{ "general", "interfaces", K_IFACES, 0 },
	{ "general", "bpffs_dir", K_PATH, F(bpffs_dir) },
	{ "general", "state_dir", K_PATH, F(state_dir) },
	{ "general", "xdp_mode", K_XDP_MODE, 0 },
	{ "general", "dry_run", K_BOOL, F(dry_run) },
	{ "general", "log_level", K_LOG_LEVEL, 0 },
	{ "general", "log_format", K_LOG_FORMAT, 0 },
	{ "general", "gc_interval", K_DURATION, F(gc_interval_ns), 100 * NS_PER_MS, NS_PER_H },

	{ "limits", "ports", K_PORTS, 0 },
	{ "limits", "ipv4_prefix", K_PREFIX4, 0 },
	{ "limits", "ipv6_prefix", K_PREFIX6, 0 },
	{ "limits", "syn_rate", K_RATE, F(syn_interval_ns) },
	{ "limits", "syn_burst", K_UINT, F(syn_burst), 1, 1000000 },
	{ "limits", "max_sessions", K_UINT, F(max_sessions), 0, 1000000 },
	{ "limits", "handshake_timeout", K_DURATION, F(handshake_timeout_ns), 1, MAX_DURATION },
	{ "limits", "idle_timeout", K_DURATION, F(idle_timeout_ns), 1, MAX_DURATION },
	{ "limits", "source_idle", K_DURATION, F(source_idle_ns), 1, MAX_DURATION },
	{ "limits", "malformed", K_MALFORMED, 0 },

	{ "penalty", "strikes", K_UINT, F(penalty_strikes), 0, 1000000 },
	{ "penalty", "window", K_DURATION, F(penalty_window_ns), 1, MAX_DURATION },
	{ "penalty", "base", K_DURATION, F(penalty_base_ns), 1, MAX_DURATION },
	{ "penalty", "max", K_DURATION, F(penalty_max_ns), 1, MAX_DURATION },
	{ "penalty", "forget", K_DURATION, F(penalty_forget_ns), 1, MAX_DURATION },

	{ "flood", "new_source_rate", K_RATE, F(new_source_interval_ns) },
	{ "flood", "new_source_burst", K_UINT, F(new_source_burst), 1, 1000000 },
	{ "flood", "action", K_FLOOD_ACTION, 0 },

	{ "capacity", "sources", K_UINT, F(max_sources), 1024, 16777216 },
	{ "capacity", "sessions", K_UINT, F(max_session_entries), 1024, 16777216 },

	{ "sessions", "idle_greeted", K_DURATION, F(idle_greeted_ns), 1, MAX_DURATION },
	{ "sessions", "idle_helo", K_DURATION, F(idle_helo_ns), 1, MAX_DURATION },
	{ "sessions", "idle_mail", K_DURATION, F(idle_mail_ns), 1, MAX_DURATION },
	{ "sessions", "idle_data", K_DURATION, F(idle_data_ns), 1, MAX_DURATION },
	{ "sessions", "idle_tls", K_DURATION, F(idle_tls_ns), 1, MAX_DURATION },
	{ "sessions", "max_idle", K_UINT, F(max_idle), 0, 1000000 },
	{ "sessions", "teardown", K_TEARDOWN, 0 },
	{ "sessions", "pregreet", K_UINT, F(pregreet_limit), 0, 1000000 },
	{ "sessions", "harvest_min", K_UINT, F(harvest_min), 0, 1000000 },
	{ "sessions", "harvest_ratio", K_PERCENT, F(harvest_ratio), 1, 100 },
	{ "sessions", "auth_failures", K_UINT, F(auth_fail_limit), 0, 1000000 },
	{ "sessions", "window", K_DURATION, F(health_window_ns), 1, MAX_DURATION },
	{ "sessions", "good_ttl", K_DURATION, F(good_ttl_ns), 1, MAX_DURATION },
	{ "sessions", "tls_ports", K_TLS_PORTS, 0 },

	{ "emergency", "mode", K_EMERG_MODE, 0 },
	{ "emergency", "capacity", K_UINT, F(mta_capacity), 1, 10000000 },
	{ "emergency", "high", K_MARK, F(emerg_high), 1, 10000000 },
	{ "emergency", "low", K_MARK, F(emerg_low), 0, 10000000 },
	{ "emergency", "rate", K_RATE, F(emerg_rate_interval_ns) },
	{ "emergency", "hold", K_DURATION, F(emerg_hold_ns), 1, MAX_DURATION },
	{ "emergency", "idle", K_DURATION, F(emerg_idle_ns), 1, MAX_DURATION },
	{ "emergency", "teardown_max", K_UINT, F(emerg_teardown_max), 0, 1000000 },
	{ "emergency", "admit_home", K_BOOL, F(emerg_admit_home) },
	{ "emergency", "probation_share", K_PERCENT, F(probation_share), 0, 100 },
	{ "emergency", "probation_per_source", K_UINT, F(probation_per_source), 1, 100 },
	{ "emergency", "probation_greeted", K_DURATION, F(probation_greeted_ns), NS_PER_MS, MAX_DURATION },
	{ "emergency", "probation_helo", K_DURATION, F(probation_helo_ns), NS_PER_MS, MAX_DURATION },
	{ "emergency", "probation_mail", K_DURATION, F(probation_mail_ns), NS_PER_MS, MAX_DURATION },
	{ "emergency", "probation_data", K_DURATION, F(probation_data_ns), NS_PER_MS, MAX_DURATION },
	{ "emergency", "probation_lifetime", K_DURATION, F(probation_lifetime_ns), NS_PER_MS, MAX_DURATION },

	{ "geo", "database", K_GEO_PATH, F(geo_database) },
	{ "geo", "home", K_HOME, 0 },

	{ "policy", "enabled", K_BOOL, F(policy_enabled) },
	{ "policy", "socket", K_GEO_PATH, F(policy_socket) },
	{ "policy", "socket_group", K_STRING, F(policy_group), 0, 64 },
	{ "policy", "socket_mode", K_OCTAL, F(policy_socket_mode), 0, 0777 },
	{ "policy", "tcp", K_LOOPBACK, F(policy_tcp) },
	{ "policy", "max_clients", K_UINT, F(policy_max_clients), 1, 100000 },
	{ "policy", "idle_timeout", K_DURATION, F(policy_idle_ns), NS_PER_SEC, NS_PER_DAY },
	{ "metrics", "listen", K_LISTEN, F(metrics_listen) },
	{ "metrics", "top_sources", K_UINT, F(metrics_top_sources), 0, 1000 },
	{ "metrics", "top_countries", K_UINT, F(metrics_top_countries), 0, 250 },

	{ "accounts", "limits_mode", K_ACCT_MODE, F(limits_mode) },
	{ "accounts", "messages_per_minute", K_UINT, F(limits[0]), 0, 100000000 },
	{ "accounts", "messages_per_hour", K_UINT, F(limits[1]), 0, 100000000 },
	{ "accounts", "messages_per_day", K_UINT, F(limits[2]), 0, 100000000 },
	{ "accounts", "recipients_per_minute", K_UINT, F(limits[3]), 0, 100000000 },
	{ "accounts", "recipients_per_hour", K_UINT, F(limits[4]), 0, 100000000 },
	{ "accounts", "recipients_per_day", K_UINT, F(limits[5]), 0, 100000000 },
	{ "accounts", "suspend_for", K_DURATION, F(suspend_ns), 0, MAX_DURATION },
	{ "accounts", "suspend_reply", K_REPLY_CODE, F(suspend_code) },
	{ "accounts", "overseas_mode", K_ACCT_MODE, F(overseas_mode) },
	{ "accounts", "overseas_messages", K_UINT, F(overseas_limit), 0, 100000000 },
	{ "accounts", "overseas_window", K_DURATION, F(overseas_window_ns), NS_PER_MIN, 30 * NS_PER_DAY },
	{ "accounts", "abroad_mode", K_ACCT_MODE, F(abroad_mode) },
	{ "accounts", "abroad", K_ABROAD, F(abroad_deny) },
	{ "accounts", "mismatch_mode", K_ACCT_MODE, F(mismatch_mode) },
	{ "accounts", "sender_domains", K_STRING, F(sender_domains), 0, 512 },
	{ "accounts", "origins_mode", K_ACCT_MODE, F(origins_mode) },
	{ "accounts", "origins_countries", K_UINT, F(origins_countries), 0, 32 },
	{ "accounts", "origins_addresses", K_UINT, F(origins_addresses), 0, 32 },
	{ "accounts", "origins_window", K_DURATION, F(origins_window_ns), NS_PER_MIN, NS_PER_DAY },
	{ "accounts", "origins_suspend", K_BOOL, F(origins_suspend) },
	{ "accounts", "notify_command", K_GEO_PATH, F(notify_command) },
	{ "accounts", "flagged_filter", K_FILTER, F(flagged_filter) },
	{ "accounts", "relay_networks", K_CIDRS, 0 },
	{ "maillog", "enabled", K_BOOL, F(maillog_enabled) },
	{ "maillog", "file", K_GEO_PATH, F(maillog_file) },
	{ "maillog", "journal", K_BOOL, F(maillog_journal) },
	{ "maillog", "journal_dir", K_GEO_PATH, F(maillog_journal_dir) },
	{ "maillog", "monitor", K_BOOL, F(maillog_monitor) },
	{ "maillog", "auth_failures", K_UINT, F(auth_failures), 0, 64 },
	{ "maillog", "auth_window", K_DURATION, F(auth_window_ns), NS_PER_SEC, NS_PER_DAY },
	{ "maillog", "guess_sources", K_UINT, F(guess_sources), 0, 64 },
	{ "maillog", "guess_window", K_DURATION, F(guess_window_ns), NS_PER_MIN, NS_PER_DAY },
	{ "maillog", "guess_suspend", K_BOOL, F(guess_suspend) },
	{ "maillog", "shared_accounts", K_UINT, F(shared_accounts), 0, 16 },
	{ "maillog", "shared_window", K_DURATION, F(shared_window_ns), NS_PER_MIN, 30 * NS_PER_DAY },
	{ "maillog", "suspended_uses", K_UINT, F(suspended_uses), 0, 16 },
	{ "maillog", "suspended_window", K_DURATION, F(suspended_window_ns), NS_PER_SEC, NS_PER_DAY },
	{ "maillog", "vouch", K_BOOL, F(vouch) },

	{ "allow", "cidr", K_CIDR, 0 },
	{ "deny", "cidr", K_CIDR, 0 },
};

/*
 * Keys of a [country home|world|unknown|XX] section: handled apart from the
 * table above because the section name carries the country.
 */
static const char *const country_keys[] = {
	"action", "syn_rate", "syn_burst", "max_sessions", "country_rate", "country_burst",
};
#define N_COUNTRY_KEYS (sizeof(country_keys) / sizeof(country_keys[0]))
#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

static const char *const sections[] = {
	"general", "limits", "penalty", "flood", "capacity", "sessions", "emergency", "geo", "policy", "accounts",
	"maillog", "metrics", "allow", "deny",
};
#define N_SECTIONS (sizeof(sections) / sizeof(sections[0]))

/* Open-addressing set of the prefixes of one list, to find repeats in O(1). */
struct cidr_set {
	uint32_t *slots;	/* entry index + 1; 0 = empty */
	size_t size;		/* power of two, or 0 */
};

/* One of [allow] / [deny] while loading. */
struct list_load {
	struct sw_config_entry **entries;
	int *n;
	int cap;
	int *lines;		/* line of each entry, for the repeat message */
	struct cidr_set set;
};

struct loader {
	struct sw_settings *s;
	FILE *fp;
	const char *path;
	char *buf;		/* getline() buffer */
	size_t buf_cap;
	int lineno;		/* line last handed to inih */
	int err_line;		/* first error we found; 0 = none yet */
	char err[MSG_LEN];	/* its message, after "<path>:<line>: " */
	int base_line, max_line; /* where [penalty] base/max were set */
	int mark_line;		/* where [emergency] capacity, high or low was last set */
	struct list_load allow, deny;
};

__attribute__((format(printf, 2, 3)))
static void set_error(struct loader *l, const char *fmt, ...)
{
	va_list ap;

	/* Only the first error is reported: later ones are often its echoes. */
	if (l->err_line)
		return;
	l->err_line = l->lineno ? l->lineno : 1;
	va_start(ap, fmt);
	vsnprintf(l->err, sizeof(l->err), fmt, ap);
	va_end(ap);
}

/*
 * "country home", "country world", "country unknown" or "country XX" (any
 * case, one space): the rule it names, or NULL with a reason in @msg.
 */
static struct sw_country_rule *country_section(struct sw_settings *s, const char *name, char *msg)
{
	const char *arg;
	int id;

	if (strncmp(name, "country", 7) || (name[7] != ' ' && name[7] != '\t'))
		return NULL;
	arg = name + 8;
	while (*arg == ' ' || *arg == '\t')
		arg++;
	if (!strcasecmp(arg, "home"))
		return &s->country_home;
	if (!strcasecmp(arg, "world"))
		return &s->country_world;
	if (!strcasecmp(arg, "unknown"))
		return &s->country[SW_COUNTRY_UNKNOWN];
	id = sw_country_id(arg);
	if (id < 0) {
		if (msg)
			snprintf(msg, SW_ERR_LEN, "[%.40s]: \"%.20s\" is not a country (use home, world, "
				 "unknown or a two-letter ISO 3166 code such as JP)", name, arg);
		return NULL;
	}
	return &s->country[id];
}

static bool known_section(const char *name)
{
	unsigned i;

	for (i = 0; i < N_SECTIONS; i++)
		if (!strcmp(name, sections[i]))
			return true;
	return false;
}

/* ---- the line reader handed to inih ------------------------------------ */

/*
 * Section headers are checked here rather than in the handler, because
 * inih calls the handler only for keys: an empty misspelt section would
 * otherwise pass unnoticed.
 */
static void check_section_line(struct loader *l, const char *line)
{
	const char *end = strchr(line + 1, ']');
	char name[64];
	size_t n;

	if (!end)
		return;		/* inih reports the syntax error itself */
	n = end - line - 1;
	if (n >= sizeof(name)) {
		set_error(l, "unknown section [%.40s...]", line + 1);
		return;
	}
	memcpy(name, line + 1, n);
	name[n] = '\0';
	if (!strncmp(name, "country", 7) && (name[7] == ' ' || name[7] == '\t')) {
		char msg[SW_ERR_LEN];
		struct sw_country_rule *r = country_section(l->s, name, msg);

		if (!r) {
			set_error(l, "%s", msg);
			return;
		}
		if (r->present) {
			set_error(l, "[%s] appears twice (first at line %d)", name, r->line);
			return;
		}
		r->present = true;
		r->line = l->lineno;
		return;
	}
	if (!strcmp(name, "country")) {
		set_error(l, "[country] needs a country: [country home], [country world], "
			  "[country unknown] or [country XX]");
		return;
	}
	if (!known_section(name))
		set_error(l, "unknown section [%s] (known: [general], [limits], [penalty], "
			  "[flood], [capacity], [sessions], [emergency], [geo], [country ...], [policy], "
			  "[accounts], [maillog], [metrics], [allow], [deny])", name);
}

static char *reader(char *str, int num, void *stream)
{
	struct loader *l = stream;
	ssize_t got;
	char *line;
	size_t n, vis;

	got = getline(&l->buf, &l->buf_cap, l->fp);
	if (got < 0)
		return NULL;
	l->lineno++;
	line = l->buf;
	/* A UTF-8 byte order mark, as inih would skip it. */
	if (l->lineno == 1 && got >= 3 && !memcmp(line, "\xef\xbb\xbf", 3))
		line += 3;
	while (*line == ' ' || *line == '\t')
		line++;
	n = strlen(line);
	if (n != (size_t)(got - (line - l->buf))) {
		/* inih would silently ignore whatever follows the NUL. */
		set_error(l, "line contains a NUL byte");
		snprintf(str, num, "\n");
		return str;
	}
	vis = n;
	while (vis && (line[vis - 1] == '\n' || line[vis - 1] == '\r'))
		vis--;

	/* inih's buffer holds num - 1 bytes, including "\r\n". */
	if (num < 3)
		return NULL;
	if (vis > (size_t)num - 3) {
		if (*line == ';' || *line == '#') {
			/* A comment: its length is harmless, its end is not needed. */
			snprintf(str, num, ";\n");
			return str;
		}
		set_error(l, "line too long (at most %d characters)", num - 3);
		snprintf(str, num, "\n");
		return str;
	}
	if (*line == '[')
		check_section_line(l, line);
	/*
	 * The visible part and one line break: a run of '\r' before the '\n'
	 * is not counted above, and copied it would overflow inih's buffer
	 * (tests/fuzz/regress/config/). inih strips trailing '\r' anyway.
	 */
	memcpy(str, line, vis);
	memcpy(str + vis, "\n", 2);
	return str;
}

/* ---- values ------------------------------------------------------------- */

static int parse_ifaces(struct sw_settings *s, const char *v, char *msg)
{
	char names[SW_MAX_IFACES][SW_IFNAME_LEN];
	const char *p = v, *t;
	int n = 0, i;

	while (*p) {
		size_t len;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			break;
		t = p;
		while (*p && *p != ' ' && *p != '\t' && *p != ',')
			p++;
		len = p - t;
		if (len >= SW_IFNAME_LEN) {
			snprintf(msg, SW_ERR_LEN, "interface name \"%.*s\" is too long (at most %d "
				 "characters)", (int)(len > 40 ? 40 : len), t, SW_IFNAME_LEN - 1);
			return -1;
		}
		for (i = 0; i < (int)len; i++) {
			char c = t[i];

			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			      (c >= '0' && c <= '9') || strchr("._-@:", c))) {
				snprintf(msg, SW_ERR_LEN, "invalid interface name \"%.*s\" (letters, "
					 "digits and . _ - @ : only)", (int)len, t);
				return -1;
			}
		}
		if ((len == 1 && t[0] == '.') || (len == 2 && t[0] == '.' && t[1] == '.')) {
			snprintf(msg, SW_ERR_LEN, "invalid interface name \"%.*s\"", (int)len, t);
			return -1;
		}
		if (n == SW_MAX_IFACES) {
			snprintf(msg, SW_ERR_LEN, "too many interfaces (at most %d)",
				 SW_MAX_IFACES);
			return -1;
		}
		memcpy(names[n], t, len);
		names[n][len] = '\0';
		for (i = 0; i < n; i++) {
			if (!strcmp(names[i], names[n])) {
				snprintf(msg, SW_ERR_LEN, "interface %.15s is listed twice", names[n]);
				return -1;
			}
		}
		n++;
	}
	memcpy(s->interfaces, names, sizeof(names));
	s->n_interfaces = n;
	return 0;
}

static int parse_path(char *dst, const char *v, char *msg)
{
	size_t n = strlen(v);

	if (!n) {
		snprintf(msg, SW_ERR_LEN, "empty path");
		return -1;
	}
	if (v[0] != '/') {
		snprintf(msg, SW_ERR_LEN, "\"%.80s\" is not an absolute path", v);
		return -1;
	}
	if (n >= SW_PATH_LEN) {
		snprintf(msg, SW_ERR_LEN, "path too long (at most %d characters)", SW_PATH_LEN - 1);
		return -1;
	}
	memcpy(dst, v, n + 1);
	return 0;
}

/* One of @names (case-insensitive): its index, or -1 with the choices listed. */
static int parse_choice(const char *v, const char *const *names, int n, char *msg)
{
	char list[128] = "";
	size_t off = 0;
	int i;

	for (i = 0; i < n; i++)
		if (!strcasecmp(v, names[i]))
			return i;
	for (i = 0; i < n; i++)
		off += snprintf(list + off, sizeof(list) - off, "%s%s", names[i],
				i == n - 1 ? "" : (i == n - 2 ? " or " : ", "));
	snprintf(msg, SW_ERR_LEN, "invalid value \"%.60s\" (use %s)", v, list);
	return -1;
}

static int parse_prefix(unsigned *dst, const char *v, unsigned min, unsigned max,
			const char *fam, char *msg)
{
	uint64_t n;

	if (v[0] && strspn(v, "0123456789") == strlen(v) && strlen(v) > 3) {
		snprintf(msg, SW_ERR_LEN, "invalid prefix length %.40s (%s allows 0-%u)", v, fam,
			 max);
		return -1;
	}
	if (sw_parse_uint(v, 0, UINT64_MAX, &n, msg))
		return -1;
	if (n > max) {
		snprintf(msg, SW_ERR_LEN, "invalid prefix length %" PRIu64 " (%s allows 0-%u)", n,
			 fam, max);
		return -1;
	}
	if (n < min) {
		snprintf(msg, SW_ERR_LEN, "prefix length %" PRIu64 " is too short: every %s "
			 "source in a /%" PRIu64 " would share one limit (use %u-%u)", n, fam, n,
			 min, max);
		return -1;
	}
	*dst = n;
	return 0;
}

/* ---- [allow] / [deny] ---------------------------------------------------- */

static uint32_t cidr_hash(const struct sw_cidr *c)
{
	uint32_t h = 2166136261U;
	unsigned i;

	h = (h ^ c->family) * 16777619U;
	h = (h ^ c->prefixlen) * 16777619U;
	for (i = 0; i < sizeof(c->addr); i++)
		h = (h ^ c->addr[i]) * 16777619U;
	return h;
}

static bool cidr_eq(const struct sw_cidr *a, const struct sw_cidr *b)
{
	return a->family == b->family && a->prefixlen == b->prefixlen &&
	       !memcmp(a->addr, b->addr, sizeof(a->addr));
}

/* The slot for @c: an empty one, or the one holding an equal prefix. */
static uint32_t *set_slot(struct cidr_set *set, const struct sw_config_entry *e,
			  const struct sw_cidr *c)
{
	size_t i = cidr_hash(c) & (set->size - 1);

	while (set->slots[i] && !cidr_eq(&e[set->slots[i] - 1].cidr, c))
		i = (i + 1) & (set->size - 1);
	return &set->slots[i];
}

/* Room for @n entries at a load factor of at most one half. */
static int set_reserve(struct cidr_set *set, const struct sw_config_entry *e, int n)
{
	struct cidr_set bigger;
	int i;

	if (set->size >= (size_t)n * 2)
		return 0;
	bigger.size = set->size ? set->size * 2 : 64;
	while (bigger.size < (size_t)n * 2)
		bigger.size *= 2;
	bigger.slots = calloc(bigger.size, sizeof(bigger.slots[0]));
	if (!bigger.slots)
		return -1;
	for (i = 0; i < n - 1; i++)
		*set_slot(&bigger, e, &e[i].cidr) = i + 1;
	free(set->slots);
	*set = bigger;
	return 0;
}

/* "config <path>:<line>", keeping the end of an over-long path. */
static void entry_reason(char *dst, size_t len, const char *path, int line)
{
	char suffix[16];
	size_t plen = strlen(path), room;

	snprintf(suffix, sizeof(suffix), ":%d", line);
	room = len - 1 - strlen("config ") - strlen(suffix);
	if (plen <= room)
		snprintf(dst, len, "config %s%s", path, suffix);
	else
		snprintf(dst, len, "config ...%s%s", path + plen - (room - 3), suffix);
}

static int add_entry(struct loader *l, struct list_load *ll, const char *v, char *msg)
{
	struct sw_config_entry *e = *ll->entries;
	struct sw_cidr c;
	char shown[INET6_ADDRSTRLEN + 8];
	uint32_t *slot;
	int n = *ll->n;

	if (sw_parse_cidr(v, &c, msg))
		return -1;
	if (n >= SW_LIST_MAX_ENTRIES) {
		snprintf(msg, SW_ERR_LEN, "too many entries (at most %d)", SW_LIST_MAX_ENTRIES);
		return -1;
	}
	if (n == ll->cap) {
		int cap = ll->cap ? ll->cap * 2 : 16;
		struct sw_config_entry *ne;
		int *nl;

		ne = realloc(e, cap * sizeof(*ne));
		if (!ne)
			goto oom;
		e = *ll->entries = ne;
		nl = realloc(ll->lines, cap * sizeof(*nl));
		if (!nl)
			goto oom;
		ll->lines = nl;
		ll->cap = cap;
	}
	if (set_reserve(&ll->set, e, n + 1))
		goto oom;
	slot = set_slot(&ll->set, e, &c);
	if (*slot) {
		sw_format_cidr(&c, true, shown, sizeof(shown));
		snprintf(msg, SW_ERR_LEN, "%s is listed twice (first at line %d)", shown,
			 ll->lines[*slot - 1]);
		return -1;
	}
	memset(&e[n], 0, sizeof(e[n]));
	e[n].cidr = c;
	entry_reason(e[n].reason, sizeof(e[n].reason), l->path, l->lineno);
	ll->lines[n] = l->lineno;
	*slot = n + 1;
	*ll->n = n + 1;
	return 0;
oom:
	snprintf(msg, SW_ERR_LEN, "out of memory");
	return -1;
}

/* ---- [geo] and [country ...] ---------------------------------------------- */

static unsigned distance(const char *a, const char *b);

/* "JP, US de": two-letter codes separated by commas or blanks; each once. */
static int parse_home(struct sw_settings *s, const char *v, char *msg)
{
	bool home[SW_COUNTRY_IDS] = { false };
	const char *p = v;
	int n = 0;

	while (*p) {
		char code[3];
		size_t len;
		int id;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			break;
		len = strcspn(p, " \t,");
		if (len != 2 || (id = sw_country_id((memcpy(code, p, 2), code[2] = 0, code))) < 0) {
			snprintf(msg, SW_ERR_LEN, "\"%.*s\" is not a two-letter ISO 3166 country code",
				 (int)(len > 20 ? 20 : len), p);
			return -1;
		}
		if (home[id]) {
			snprintf(msg, SW_ERR_LEN, "%c%c is listed twice", code[0] & ~0x20, code[1] & ~0x20);
			return -1;
		}
		home[id] = true;
		n++;
		p += len;
	}
	memcpy(s->geo_home, home, sizeof(home));
	s->n_home = n;
	return 0;
}

static int set_country_key(struct sw_country_rule *r, const char *name, const char *v, char *msg)
{
	static const char *const actions[] = { "allow", "monitor", "limit", "block" };
	uint64_t u;
	int i;

	if (!strcmp(name, "action")) {
		if ((i = parse_choice(v, actions, 4, msg)) < 0)
			return -1;
		r->action = (uint8_t)i;	/* the order of enum sw_country_action */
		r->has_action = true;
	} else if (!strcmp(name, "syn_rate")) {
		if (sw_parse_rate(v, &r->syn_interval_ns, msg))
			return -1;
		r->has_syn_rate = true;
	} else if (!strcmp(name, "syn_burst")) {
		if (sw_parse_uint(v, 1, 1000000, &u, msg))
			return -1;
		r->syn_burst = u;
		r->has_syn_burst = true;
	} else if (!strcmp(name, "max_sessions")) {
		if (sw_parse_uint(v, 0, 1000000, &u, msg))
			return -1;
		r->max_sessions = u;
		r->has_max_sessions = true;
	} else if (!strcmp(name, "country_rate")) {
		if (sw_parse_rate(v, &r->country_interval_ns, msg))
			return -1;
	} else if (!strcmp(name, "country_burst")) {
		if (sw_parse_uint(v, 1, 1000000, &u, msg))
			return -1;
		r->country_burst = u;
	} else {
		const char *near = NULL;

		for (unsigned k = 0; k < N_COUNTRY_KEYS; k++)
			if (distance(name, country_keys[k]) < 3)
				near = country_keys[k];
		if (near)
			snprintf(msg, SW_ERR_LEN, "unknown key (did you mean %s?)", near);
		else
			snprintf(msg, SW_ERR_LEN, "unknown key (a [country ...] section takes action, "
				 "syn_rate, syn_burst, max_sessions, country_rate, country_burst)");
		return -1;
	}
	return 0;
}

/* ---- [policy] and [accounts] ------------------------------------------- */

/*
 * "127.0.0.1:10040" or "[::1]:10040": the policy protocol has no
 * authentication, so its TCP listener is for loopback only.
 */
static int parse_hostport(const char *v, char *out, bool loopback_only, char *msg)
{
	char host[48];
	const char *colon;
	uint8_t a6[16];
	struct in_addr a4;
	uint64_t port;
	size_t hl;

	if (!*v) {
		out[0] = 0;
		return 0;
	}
	colon = strrchr(v, ':');
	if (!colon || colon == v) {
		snprintf(msg, SW_ERR_LEN, "expected ADDRESS:PORT (e.g. 127.0.0.1:10040)");
		return -1;
	}
	hl = (size_t)(colon - v);
	if (v[0] == '[') {
		if (hl < 3 || v[hl - 1] != ']') {
			snprintf(msg, SW_ERR_LEN, "expected [IPV6]:PORT (e.g. [::1]:10040)");
			return -1;
		}
		v++;
		hl -= 2;
	}
	if (hl >= sizeof(host)) {
		snprintf(msg, SW_ERR_LEN, "address too long");
		return -1;
	}
	memcpy(host, v, hl);
	host[hl] = 0;
	if (sw_parse_uint(colon + 1, 1, 65535, &port, msg))
		return -1;
	if (inet_pton(AF_INET, host, &a4) == 1) {
		if (loopback_only && (ntohl(a4.s_addr) >> 24) != 127) {
			snprintf(msg, SW_ERR_LEN, "%s is not a loopback address: the policy protocol has no "
				 "authentication, listen on 127.0.0.0/8 or ::1 only", host);
			return -1;
		}
	} else if (inet_pton(AF_INET6, host, a6) == 1) {
		static const uint8_t lo6[16] = { [15] = 1 };

		if (loopback_only && memcmp(a6, lo6, 16)) {
			snprintf(msg, SW_ERR_LEN, "%s is not a loopback address: the policy protocol has no "
				 "authentication, listen on 127.0.0.0/8 or ::1 only", host);
			return -1;
		}
	} else {
		snprintf(msg, SW_ERR_LEN, "\"%s\" is not an IP address", host);
		return -1;
	}
	snprintf(out, 64, "%s%s%s:%u", strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "",
		 (unsigned)port);
	return 0;
}

/* "10.0.0.0/8, 2001:db8::/32": the networks whose unauthenticated mail is counted by address. */
static int parse_cidrs(struct sw_settings *s, const char *v, char *msg)
{
	struct sw_cidr nets[SW_RELAY_NETS];
	const char *p = v;
	int n = 0;

	while (*p) {
		char one[64];
		size_t len;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			break;
		len = strcspn(p, " \t,");
		if (len >= sizeof(one)) {
			snprintf(msg, SW_ERR_LEN, "\"%.20s...\" is not a CIDR", p);
			return -1;
		}
		memcpy(one, p, len);
		one[len] = 0;
		if (n == SW_RELAY_NETS) {
			snprintf(msg, SW_ERR_LEN, "at most %d networks", SW_RELAY_NETS);
			return -1;
		}
		if (sw_parse_cidr(one, &nets[n], msg))
			return -1;
		n++;
		p += len;
	}
	memcpy(s->relay_networks, nets, sizeof(nets[0]) * (size_t)n);
	s->n_relay_networks = n;
	return 0;
}

/* Postfix's FILTER transport:destination; nothing that could break the reply line. */
static int parse_filter(const char *v, char *out, char *msg)
{
	size_t len = strlen(v);

	if (!len) {
		out[0] = 0;
		return 0;
	}
	if (len >= 128) {
		snprintf(msg, SW_ERR_LEN, "longer than 127 bytes");
		return -1;
	}
	if (!strchr(v, ':') || v[0] == ':') {
		snprintf(msg, SW_ERR_LEN, "expected transport:nexthop (e.g. smtp-flagged:[192.0.2.25]:25)");
		return -1;
	}
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)v[i] <= ' ' || v[i] == 0x7f) {
			snprintf(msg, SW_ERR_LEN, "no spaces or control characters allowed");
			return -1;
		}
	memcpy(out, v, len + 1);
	return 0;
}

/* ---- the handler -------------------------------------------------------- */

/* Edit distance of short strings, for "did you mean". */
static unsigned distance(const char *a, const char *b)
{
	unsigned row[40], i, j, la = strlen(a), lb = strlen(b);

	if (la >= 40 || lb >= 40)
		return 99;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		unsigned diag = row[0], up;

		row[0] = i;
		for (j = 1; j <= lb; j++) {
			unsigned best = diag + (a[i - 1] != b[j - 1]);

			up = row[j];
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb];
}

static void unknown_key(const char *section, const char *name, char *msg)
{
	const char *near = NULL;
	unsigned i, best = 3;

	for (i = 0; i < N_KEYS; i++) {
		if (!strcmp(keys[i].name, name)) {
			snprintf(msg, SW_ERR_LEN, "unknown key (%s belongs in [%s])", name,
				 keys[i].section);
			return;
		}
	}
	for (i = 0; i < N_KEYS; i++) {
		unsigned d;

		if (strcmp(keys[i].section, section))
			continue;
		d = distance(name, keys[i].name);
		if (d < best && d < strlen(name)) {
			best = d;
			near = keys[i].name;
		}
	}
	if (near)
		snprintf(msg, SW_ERR_LEN, "unknown key (did you mean %s?)", near);
	else
		snprintf(msg, SW_ERR_LEN, "unknown key");
}

static int set_value(struct loader *l, const struct key_def *k, const char *section,
		     const char *v, char *msg)
{
	static const char *const xdp_modes[] = { "auto", "native", "generic" };
	static const char *const levels[] = { "error", "warn", "info", "debug" };
	static const char *const log_formats[] = { "text", "json" };
	static const char *const pass_drop[] = { "pass", "drop" };
	struct sw_settings *s = l->s;
	char *field = (char *)s + k->off;
	uint64_t u, ports[SW_PORT_WORDS];
	bool b;
	int i;

	switch (k->kind) {
	case K_DURATION:
		if (sw_parse_duration(v, &u, msg))
			return -1;
		if (u < k->min || u > k->max) {
			char lo[32], hi[32];

			sw_format_duration(k->min, lo, sizeof(lo));
			sw_format_duration(k->max, hi, sizeof(hi));
			if (k->min <= 1)
				snprintf(msg, SW_ERR_LEN, "%s is out of range (must be above 0 and at most "
					 "%s)", v, hi);
			else
				snprintf(msg, SW_ERR_LEN, "%s is out of range (%s to %s)", v, lo, hi);
			return -1;
		}
		memcpy(field, &u, sizeof(u));
		return 0;
	case K_UINT: {
		unsigned x;

		if (sw_parse_uint(v, k->min, k->max, &u, msg))
			return -1;
		x = u;
		memcpy(field, &x, sizeof(x));
		return 0;
	}
	case K_BOOL:
		if (sw_parse_bool(v, &b, msg))
			return -1;
		memcpy(field, &b, sizeof(b));
		return 0;
	case K_RATE:
		if (sw_parse_rate(v, &u, msg))
			return -1;
		memcpy(field, &u, sizeof(u));
		return 0;
	case K_IFACES:
		return parse_ifaces(s, v, msg);
	case K_PATH:
		return parse_path(field, v, msg);
	case K_XDP_MODE:
		if ((i = parse_choice(v, xdp_modes, 3, msg)) < 0)
			return -1;
		s->xdp_mode = (enum sw_xdp_mode)i;
		return 0;
	case K_LOG_LEVEL:
		if ((i = parse_choice(v, levels, 4, msg)) < 0)
			return -1;
		s->log_level = (enum sw_log_level)i;
		return 0;
	case K_LOG_FORMAT:
		if ((i = parse_choice(v, log_formats, 2, msg)) < 0)
			return -1;
		s->log_format = (enum sw_log_format)i;
		return 0;
	case K_PORTS:
		/* Into a copy: a bad list must not leave half a bitmap behind. */
		if (sw_parse_ports(v, ports, msg))
			return -1;
		memcpy(s->port_bitmap, ports, sizeof(ports));
		return 0;
	case K_PREFIX4:
		return parse_prefix(&s->ipv4_prefix, v, 8, 32, "IPv4", msg);
	case K_PREFIX6:
		return parse_prefix(&s->ipv6_prefix, v, 16, 128, "IPv6", msg);
	case K_MALFORMED:
		if ((i = parse_choice(v, pass_drop, 2, msg)) < 0)
			return -1;
		s->malformed_pass = i == 0;
		return 0;
	case K_FLOOD_ACTION:
		if ((i = parse_choice(v, pass_drop, 2, msg)) < 0)
			return -1;
		s->flood_drop = i == 1;
		return 0;
	case K_CIDR:
		return add_entry(l, !strcmp(section, "allow") ? &l->allow : &l->deny, v, msg);
	case K_GEO_PATH:
		if (!*v) {
			field[0] = '\0';
			return 0;
		}
		return parse_path(field, v, msg);
	case K_HOME:
		return parse_home(s, v, msg);
	case K_PERCENT: {
		char num[32];
		size_t n = strlen(v);
		unsigned x;

		if (n && v[n - 1] == '%')
			n--;
		if (n >= sizeof(num)) {
			snprintf(msg, SW_ERR_LEN, "invalid percentage \"%.40s\"", v);
			return -1;
		}
		memcpy(num, v, n);
		num[n] = 0;
		if (sw_parse_uint(num, k->min, k->max, &u, msg))
			return -1;
		x = u;
		memcpy(field, &x, sizeof(x));
		return 0;
	}
	case K_MARK: {
		char num[32];
		size_t n = strlen(v);
		bool pct = n && v[n - 1] == '%';
		bool *pct_field = k->off == F(emerg_high) ? &s->emerg_high_pct : &s->emerg_low_pct;
		unsigned x;

		if (pct)
			n--;
		if (n >= sizeof(num)) {
			snprintf(msg, SW_ERR_LEN, "invalid value \"%.40s\" (a count, or a percentage of "
				 "capacity such as 90%%)", v);
			return -1;
		}
		memcpy(num, v, n);
		num[n] = 0;
		if (sw_parse_uint(num, pct ? 0 : k->min, pct ? 100 : k->max, &u, msg))
			return -1;
		x = u;
		memcpy(field, &x, sizeof(x));
		*pct_field = pct;
		return 0;
	}
	case K_EMERG_MODE: {
		static const char *const modes[] = { "auto", "on", "off" };

		if ((i = parse_choice(v, modes, 3, msg)) < 0)
			return -1;
		s->emergency_mode = (enum sw_emergency_mode)i;
		return 0;
	}
	case K_TEARDOWN: {
		static const char *const td[] = { "penalised", "never" };

		if ((i = parse_choice(v, td, 2, msg)) < 0)
			return -1;
		s->teardown_penalised = i == 0;
		return 0;
	}
	case K_STRING: {
		size_t len = strlen(v);

		if (len >= k->max) {
			snprintf(msg, SW_ERR_LEN, "longer than %u bytes", (unsigned)(k->max - 1));
			return -1;
		}
		memcpy(field, v, len + 1);
		return 0;
	}
	case K_OCTAL: {
		char *end;
		unsigned long m;

		errno = 0;
		m = strtoul(v, &end, 8);
		if (!*v || *end || errno || m > k->max || *v == '-' || *v == '+') {
			snprintf(msg, SW_ERR_LEN, "\"%.20s\" is not an octal file mode (e.g. 0660)", v);
			return -1;
		}
		*(unsigned *)field = (unsigned)m;
		return 0;
	}
	case K_LOOPBACK:
		return parse_hostport(v, field, true, msg);
	case K_LISTEN:
		if (!strcmp(v, "off") || !strcmp(v, "no")) {
			((char *)field)[0] = 0;
			return 0;
		}
		return parse_hostport(v, field, false, msg);
	case K_ACCT_MODE: {
		static const char *const modes[] = { "enforce", "monitor", "off" };

		if ((i = parse_choice(v, modes, 3, msg)) < 0)
			return -1;
		*(enum sw_account_mode *)field = (enum sw_account_mode)i;
		return 0;
	}
	case K_ABROAD: {
		static const char *const ad[] = { "allow", "deny" };

		if ((i = parse_choice(v, ad, 2, msg)) < 0)
			return -1;
		*(bool *)field = i == 1;
		return 0;
	}
	case K_REPLY_CODE:
		if (sw_parse_uint(v, 400, 599, &u, msg))
			return -1;
		if ((u >= 460 && u < 500) || u >= 560 || u % 100 >= 60) {
			snprintf(msg, SW_ERR_LEN, "%u is not an SMTP 4xx or 5xx reply code", (unsigned)u);
			return -1;
		}
		*(unsigned *)field = (unsigned)u;
		return 0;
	case K_CIDRS:
		return parse_cidrs(s, v, msg);
	case K_FILTER:
		return parse_filter(v, field, msg);
	case K_TLS_PORTS: {
		uint16_t tls[SW_TLS_PORTS] = { 0 };
		const char *p = v;
		int n = 0;

		while (*p) {
			char num[16];
			size_t len;

			while (*p == ' ' || *p == '\t' || *p == ',')
				p++;
			if (!*p)
				break;
			len = strcspn(p, " \t,");
			if (len >= sizeof(num)) {
				snprintf(msg, SW_ERR_LEN, "invalid port \"%.20s\"", p);
				return -1;
			}
			memcpy(num, p, len);
			num[len] = 0;
			if (sw_parse_uint(num, 1, 65535, &u, msg))
				return -1;
			if (n == SW_TLS_PORTS) {
				snprintf(msg, SW_ERR_LEN, "too many ports (at most %d)", SW_TLS_PORTS);
				return -1;
			}
			tls[n++] = u;
			p += len;
		}
		memcpy(s->tls_ports, tls, sizeof(tls));
		return 0;
	}
	}
	snprintf(msg, SW_ERR_LEN, "internal error: unhandled key kind");
	return -1;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct loader *l = user;
	char msg[SW_ERR_LEN];
	const struct key_def *k = NULL;
	unsigned i;

	/* Only in builds that announce sections or allow keys without values. */
	if (!name)
		return 1;
	if (!value)
		value = "";
	if (!*section) {
		set_error(l, "%s: key outside of any section (put it under [general], [limits], "
			  "...)", name);
		return 0;
	}
	if (!strncmp(section, "country", 7) && (section[7] == ' ' || section[7] == '\t')) {
		struct sw_country_rule *r = country_section(l->s, section, msg);

		if (!r) {
			set_error(l, "%s", msg);
			return 0;
		}
		if (set_country_key(r, name, value, msg)) {
			set_error(l, "[%s] %s: %s", section, name, msg);
			return 0;
		}
		return 1;
	}
	if (!known_section(section)) {
		/* Already reported at the section header by the reader. */
		set_error(l, "unknown section [%s]", section);
		return 0;
	}
	for (i = 0; i < N_KEYS; i++) {
		if (!strcmp(keys[i].section, section) && !strcmp(keys[i].name, name)) {
			k = &keys[i];
			break;
		}
	}
	if (!k) {
		unknown_key(section, name, msg);
		set_error(l, "[%s] %s: %s", section, name, msg);
		return 0;
	}
	if (set_value(l, k, section, value, msg)) {
		/* A common slip: '#' is a comment only at the start of a line. */
		if (strchr(value, '#'))
			set_error(l, "[%s] %s: %s; note: '#' starts a comment only at the start of "
				  "a line, use ';' after a value", section, name, msg);
		else
			set_error(l, "[%s] %s: %s", section, name, msg);
		return 0;
	}
	if (k->kind == K_MARK || k->off == F(mta_capacity))
		l->mark_line = l->lineno;
	if (k->kind == K_DURATION && k->off == F(penalty_base_ns))
		l->base_line = l->lineno;
	if (k->kind == K_DURATION && k->off == F(penalty_max_ns))
		l->max_line = l->lineno;
	return 1;
}

/* Checks that involve more than one key, once all are read. */
static void check_country_rule(struct loader *l, const struct sw_country_rule *r, const char *name)
{
	if (!r->present || r->has_action)
		return;
	l->lineno = r->line;
	set_error(l, "[country %s]: no action (set action = allow, monitor, limit or block)", name);
}

static void check_settings(struct loader *l)
{
	const struct sw_settings *s = l->s;
	char base[32], max[32];

	check_country_rule(l, &s->country_home, "home");
	check_country_rule(l, &s->country_world, "world");
	for (unsigned id = 0; id <= SW_COUNTRY_LAST; id++) {
		char code[3];

		sw_country_code(id, code);
		check_country_rule(l, &s->country[id], id == SW_COUNTRY_UNKNOWN ? "unknown" : code);
	}
	if (l->err_line)
		return;
	if (s->maillog_enabled && !s->maillog_journal && !s->maillog_file[0]) {
		l->lineno = 0;
		set_error(l, "[maillog] enabled needs a file (file = /var/log/mail.log) or journal = yes");
		return;
	}
	if (sw_settings_emerg_low(s) >= sw_settings_emerg_high(s)) {
		l->lineno = l->mark_line;
		set_error(l, "[emergency] low (%u sessions) must be below high (%u sessions)",
			  sw_settings_emerg_low(s), sw_settings_emerg_high(s));
		return;
	}
	if (s->penalty_max_ns >= s->penalty_base_ns)
		return;
	sw_format_duration(s->penalty_base_ns, base, sizeof(base));
	sw_format_duration(s->penalty_max_ns, max, sizeof(max));
	/* Blame the key written later: that is the one that made them disagree. */
	if (l->max_line > l->base_line) {
		l->lineno = l->max_line;
		set_error(l, "[penalty] max: %s is shorter than base (%s)", max, base);
	} else {
		l->lineno = l->base_line;
		set_error(l, "[penalty] base: %s is longer than max (%s)", base, max);
	}
}

/* ---- public ------------------------------------------------------------- */

void sw_settings_defaults(struct sw_settings *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->bpffs_dir, sizeof(s->bpffs_dir), "%s", SW_DEFAULT_BPFFS_DIR);
	snprintf(s->state_dir, sizeof(s->state_dir), "%s", SW_DEFAULT_STATE_DIR);
	s->xdp_mode = SW_XDP_AUTO;
	s->dry_run = false;
	s->log_level = SW_LOG_INFO;
	s->log_format = SW_LOG_TEXT;
	s->gc_interval_ns = 2 * NS_PER_SEC;

	s->port_bitmap[25 >> 6] |= 1ULL << (25 & 63);
	s->port_bitmap[465 >> 6] |= 1ULL << (465 & 63);
	s->port_bitmap[587 >> 6] |= 1ULL << (587 & 63);
	s->ipv4_prefix = 32;
	s->ipv6_prefix = 64;
	s->syn_interval_ns = NS_PER_MIN / 30;
	s->syn_burst = 10;
	s->max_sessions = 10;
	s->handshake_timeout_ns = 30 * NS_PER_SEC;
	s->idle_timeout_ns = 10 * NS_PER_MIN;
	s->source_idle_ns = 30 * NS_PER_MIN;
	s->malformed_pass = false;

	s->penalty_strikes = 10;
	s->penalty_window_ns = 60 * NS_PER_SEC;
	s->penalty_base_ns = 5 * NS_PER_MIN;
	s->penalty_max_ns = 24 * NS_PER_H;
	s->penalty_forget_ns = 24 * NS_PER_H;

	s->new_source_interval_ns = NS_PER_SEC / 5000;
	s->new_source_burst = 10000;
	s->flood_drop = false;

	s->max_sources = SW_DEFAULT_MAX_SOURCES;
	s->max_session_entries = SW_DEFAULT_MAX_SESSIONS;

	/*
	 * Real MTAs answer within seconds; Postfix itself waits 300 s
	 * (smtpd_timeout) on every read, which is what lets idle sessions
	 * starve it. These are far below that and far above a slow sender.
	 */
	s->idle_greeted_ns = 30 * NS_PER_SEC;
	s->idle_helo_ns = 60 * NS_PER_SEC;
	s->idle_mail_ns = 120 * NS_PER_SEC;
	s->idle_data_ns = 180 * NS_PER_SEC;
	s->idle_tls_ns = 120 * NS_PER_SEC;
	s->max_idle = 3;
	s->teardown_penalised = true;
	s->pregreet_limit = 1;
	s->harvest_min = 10;
	s->harvest_ratio = 50;
	s->auth_fail_limit = 5;
	s->health_window_ns = 10 * NS_PER_MIN;
	s->good_ttl_ns = 24 * NS_PER_H;
	s->tls_ports[0] = 465;

	s->emergency_mode = SW_EM_AUTO;
	s->mta_capacity = 100;		/* Postfix's default_process_limit */
	s->emerg_high = 90;
	s->emerg_high_pct = true;
	s->emerg_low = 70;
	s->emerg_low_pct = true;
	s->emerg_rate_interval_ns = 0;
	s->emerg_hold_ns = 30 * NS_PER_SEC;
	s->emerg_idle_ns = 10 * NS_PER_SEC;
	s->emerg_teardown_max = 100;
	s->emerg_admit_home = false;
	s->probation_share = 20;
	s->probation_per_source = 1;
	s->probation_greeted_ns = 10 * NS_PER_SEC;
	s->probation_helo_ns = 10 * NS_PER_SEC;
	s->probation_mail_ns = 20 * NS_PER_SEC;
	s->probation_data_ns = 30 * NS_PER_SEC;
	s->probation_lifetime_ns = 60 * NS_PER_SEC;

	s->policy_enabled = false;
	snprintf(s->policy_socket, sizeof(s->policy_socket), "%s", SW_DEFAULT_POLICY_SOCKET);
	snprintf(s->policy_group, sizeof(s->policy_group), "postfix");
	s->policy_socket_mode = 0660;
	s->policy_max_clients = 1000;
	s->policy_idle_ns = 10 * NS_PER_MIN;

	snprintf(s->metrics_listen, sizeof(s->metrics_listen), "%s", SW_DEFAULT_METRICS_LISTEN);
	s->metrics_top_sources = 20;
	s->metrics_top_countries = 10;

	/*
	 * Send limits far above a person's mail and far below a spam run;
	 * policyd-rate-limit's 10/min and 150/day are tighter. A suspension
	 * defers (4xx): nothing is lost if it was a mistake.
	 */
	s->limits_mode = SW_AM_ENFORCE;
	s->limits[0] = 20;
	s->limits[1] = 200;
	s->limits[2] = 1000;
	s->limits[3] = 100;
	s->limits[4] = 1000;
	s->limits[5] = 3000;
	s->suspend_ns = 24 * NS_PER_H;
	s->suspend_code = 450;
	s->overseas_mode = SW_AM_ENFORCE;
	s->overseas_limit = 20;
	s->overseas_window_ns = NS_PER_DAY;
	s->abroad_mode = SW_AM_ENFORCE;
	s->abroad_deny = false;
	s->mismatch_mode = SW_AM_ENFORCE;
	s->origins_mode = SW_AM_ENFORCE;
	s->origins_countries = 3;
	s->origins_addresses = 10;
	s->origins_window_ns = NS_PER_H;
	s->origins_suspend = false;
	snprintf(s->maillog_file, sizeof(s->maillog_file), "/var/log/mail.log");
	s->auth_failures = 5;
	s->auth_window_ns = 10 * NS_PER_MIN;
	s->guess_sources = 10;
	s->guess_window_ns = NS_PER_H;
	s->shared_accounts = 5;
	s->shared_window_ns = NS_PER_DAY;
	s->suspended_uses = 3;
	s->suspended_window_ns = 10 * NS_PER_MIN;
	s->vouch = true;
}

unsigned sw_settings_emerg_high(const struct sw_settings *s)
{
	unsigned v = s->emerg_high_pct ? (unsigned)((uint64_t)s->mta_capacity * s->emerg_high / 100)
				       : s->emerg_high;

	return v ? v : 1;
}

unsigned sw_settings_emerg_low(const struct sw_settings *s)
{
	return s->emerg_low_pct ? (unsigned)((uint64_t)s->mta_capacity * s->emerg_low / 100) : s->emerg_low;
}

unsigned sw_settings_probation_slots(const struct sw_settings *s)
{
	uint64_t n = (uint64_t)s->mta_capacity * s->probation_share / 100;

	if (!s->probation_share)
		return 0;
	return n ? (unsigned)n : 1;
}

uint64_t sw_settings_probation_ns(const struct sw_settings *s, unsigned phase)
{
	switch (phase) {
	case SW_PH_GREETED:
		return s->probation_greeted_ns;
	case SW_PH_HELO:
	case SW_PH_AUTH:
	case SW_PH_DELIVERED:
		return s->probation_helo_ns;
	case SW_PH_MAIL:
	case SW_PH_RCPT:
		return s->probation_mail_ns;
	case SW_PH_DATA:
		return s->probation_data_ns;
	default:
		return 0;
	}
}

uint64_t sw_settings_idle_ns(const struct sw_settings *s, unsigned phase)
{
	switch (phase) {
	case SW_PH_GREETED:
		return s->idle_greeted_ns;
	case SW_PH_HELO:
	case SW_PH_AUTH:
	case SW_PH_DELIVERED:
		return s->idle_helo_ns;
	case SW_PH_MAIL:
	case SW_PH_RCPT:
		return s->idle_mail_ns;
	case SW_PH_DATA:
		return s->idle_data_ns;
	case SW_PH_TLS:
		return s->idle_tls_ns;
	default:
		return 0;	/* before the greeting the server is the one to wait for; after QUIT, done */
	}
}

void sw_settings_free(struct sw_settings *s)
{
	free(s->allow);
	free(s->deny);
	s->allow = NULL;
	s->deny = NULL;
	s->n_allow = 0;
	s->n_deny = 0;
}

/*
 * @s need not be initialised: it is reset to the defaults first, and what
 * it held before is not freed (load into a fresh struct, then swap).
 */
int sw_settings_load(struct sw_settings *s, const char *path, char *err, size_t errlen)
{
	struct loader l = { .s = s, .path = path };
	int ret, line;

	sw_settings_defaults(s);
	if (err && errlen)
		err[0] = '\0';
	if (strlen(path) >= sizeof(s->path)) {
		if (err && errlen)
			snprintf(err, errlen, "%.64s...: path too long", path);
		return -1;
	}
	snprintf(s->path, sizeof(s->path), "%s", path);
	l.allow.entries = &s->allow;
	l.allow.n = &s->n_allow;
	l.deny.entries = &s->deny;
	l.deny.n = &s->n_deny;

	l.fp = fopen(path, "re");
	if (!l.fp) {
		if (err && errlen)
			snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		sw_settings_defaults(s);
		return -1;
	}
	errno = 0;
	ret = ini_parse_stream(reader, &l, handler, &l);
	if (ferror(l.fp)) {
		/* A directory, an I/O error: what was read is not the whole file. */
		int e = errno ? errno : EIO;

		if (err && errlen && l.lineno)
			snprintf(err, errlen, "%s:%d: cannot read further: %s", path, l.lineno,
				 strerror(e));
		else if (err && errlen)
			snprintf(err, errlen, "%s: cannot read: %s", path, strerror(e));
		ret = -3;
	} else if (ret == 0 && !l.err_line) {
		check_settings(&l);
	}
	fclose(l.fp);
	free(l.buf);
	free(l.allow.lines);
	free(l.allow.set.slots);
	free(l.deny.lines);
	free(l.deny.set.slots);

	if (ret == 0 && !l.err_line)
		return 0;

	if (ret == -2) {
		if (err && errlen)
			snprintf(err, errlen, "%s: out of memory", path);
	} else if (ret == -1) {
		/* Only ini_parse() opens files; kept for completeness. */
		if (err && errlen)
			snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
	} else if (ret != -3 && err && errlen) {
		/*
		 * inih reports the first line where it or the handler failed;
		 * errors we noted ourselves (section headers, long lines) may be
		 * earlier, and inih does not know about them.
		 */
		line = l.err_line;
		if (ret > 0 && (!line || ret < line))
			snprintf(err, errlen, "%s:%d: syntax error (expected [section], key = value "
				 "or a comment)", path, ret);
		else
			snprintf(err, errlen, "%s:%d: %s", path, line, l.err);
	}
	sw_settings_free(s);
	sw_settings_defaults(s);
	return -1;
}

/* The rule that governs country @id, or NULL: allow with the base limits. */
static const struct sw_country_rule *country_rule(const struct sw_settings *s, unsigned id)
{
	if (id > SW_COUNTRY_LAST)
		return NULL;		/* SW_COUNTRY_NONE: no geo data, no country policy */
	if (s->country[id].present)
		return &s->country[id];
	if (id == SW_COUNTRY_UNKNOWN)
		return NULL;
	if (s->geo_home[id])
		return s->country_home.present ? &s->country_home : NULL;
	return s->country_world.present ? &s->country_world : NULL;
}

void sw_settings_country_policy(const struct sw_settings *s, unsigned id, struct sw_country_policy *out)
{
	const struct sw_country_rule *r = country_rule(s, id);
	uint64_t interval;
	unsigned burst;

	memset(out, 0, sizeof(*out));
	out->action = SW_CA_ALLOW;
	out->home = id >= SW_COUNTRY_FIRST && id <= SW_COUNTRY_LAST && s->geo_home[id];
	if (!r)
		return;
	out->action = r->action;
	interval = r->has_syn_rate ? r->syn_interval_ns : s->syn_interval_ns;
	burst = r->has_syn_burst ? r->syn_burst : s->syn_burst;
	out->syn_interval_ns = interval;
	out->syn_tolerance_ns = burst ? (uint64_t)(burst - 1) * interval : 0;
	out->max_sessions = r->has_max_sessions ? r->max_sessions : s->max_sessions;
	out->agg_interval_ns = r->country_interval_ns;
	burst = r->country_burst ? r->country_burst : SW_DEFAULT_COUNTRY_BURST;
	out->agg_tolerance_ns = (uint64_t)(burst - 1) * r->country_interval_ns;
}

void sw_settings_to_kernel(const struct sw_settings *s, struct sw_config *k)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->port_bitmap, s->port_bitmap, sizeof(k->port_bitmap));
	k->syn_interval_ns = s->syn_interval_ns;
	k->syn_tolerance_ns = s->syn_burst ? (uint64_t)(s->syn_burst - 1) * s->syn_interval_ns : 0;
	k->penalty_window_ns = s->penalty_window_ns;
	k->penalty_base_ns = s->penalty_base_ns;
	k->penalty_max_ns = s->penalty_max_ns;
	k->penalty_forget_ns = s->penalty_forget_ns;
	k->new_source_interval_ns = s->new_source_interval_ns;
	k->new_source_tolerance_ns = s->new_source_burst ?
		(uint64_t)(s->new_source_burst - 1) * s->new_source_interval_ns : 0;
	k->handshake_timeout_ns = s->handshake_timeout_ns;
	k->list_gen = 0;
	k->max_sessions = s->max_sessions;
	k->penalty_strikes = s->penalty_strikes;
	sw_prefix_mask_v4(s->ipv4_prefix, &k->v4_mask);
	sw_prefix_mask_v6(s->ipv6_prefix, k->v6_mask);
	k->flags = SW_CFG_ENABLED;
	if (s->dry_run)
		k->flags |= SW_CFG_DRY_RUN;
	if (s->malformed_pass)
		k->flags |= SW_CFG_MALFORMED_PASS;
	if (s->flood_drop)
		k->flags |= SW_CFG_FLOOD_DROP;
	if (s->emerg_admit_home)
		k->flags |= SW_CFG_EMERG_HOME;
	k->health_window_ns = s->health_window_ns;
	k->good_ttl_ns = s->good_ttl_ns;
	k->pregreet_limit = s->pregreet_limit;
	k->harvest_min = s->harvest_min;
	k->harvest_ratio = s->harvest_ratio;
	k->auth_fail_limit = s->auth_fail_limit;
	memcpy(k->tls_ports, s->tls_ports, sizeof(k->tls_ports));
	k->probation_per_source = s->probation_share ? s->probation_per_source : 0;
	k->probation_limit = 0;	/* the daemon's, every run */
}
