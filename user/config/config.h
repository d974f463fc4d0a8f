/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The daemon's configuration: one INI file (parsed by inih), documented key
 * by key in user/smtpwall.conf.example and the README.
 */
#ifndef SW_CONFIG_H
#define SW_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include "log.h"
#include "parse.h"

#define SW_DEFAULT_CONFIG     "/etc/smtpwall/smtpwall.conf"
#define SW_DEFAULT_BPFFS_DIR  "/sys/fs/bpf/smtpwall"
#define SW_DEFAULT_STATE_DIR  "/var/lib/smtpwall"
#define SW_MAX_IFACES	      16
#define SW_IFNAME_LEN	      16 /* IFNAMSIZ */
#define SW_PATH_LEN	      256
#define SW_DEFAULT_METRICS_LISTEN "127.0.0.1:9725"
#define SW_DEFAULT_COUNTRY_BURST 10 /* [country ...] country_burst */

enum sw_xdp_mode { SW_XDP_AUTO = 0, SW_XDP_NATIVE, SW_XDP_GENERIC };
enum sw_emergency_mode { SW_EM_AUTO = 0, SW_EM_ON, SW_EM_OFF };

/* A static allow/deny entry from the config file. */
struct sw_config_entry {
	struct sw_cidr cidr;
	char reason[128];	/* "config <file>:<line>" unless given */
};

/*
 * One [country ...] section. Keys not given inherit: syn_rate, syn_burst and
 * max_sessions from [limits]; country_rate is off. See
 * sw_settings_country_policy().
 */
struct sw_country_rule {
	bool present;			/* the section appears in the file */
	bool has_action;		/* `action` is required in every [country ...] section */
	uint8_t action;			/* enum sw_country_action */
	bool has_syn_rate, has_syn_burst, has_max_sessions;
	uint64_t syn_interval_ns;	/* per source; 0 = off */
	unsigned syn_burst;
	unsigned max_sessions;
	uint64_t country_interval_ns;	/* the whole country; 0 = off (default) */
	unsigned country_burst;		/* default 10 */
	int line;			/* of the section header, for messages */
};

/* A policy's rollout mode ([accounts] *_mode). */
enum sw_account_mode { SW_AM_ENFORCE = 0, SW_AM_MONITOR, SW_AM_OFF };

#define SW_RELAY_NETS	     16
#define SW_DEFAULT_POLICY_SOCKET "/var/spool/postfix/private/smtpwall"

struct sw_settings {
	/* [general] */
	char interfaces[SW_MAX_IFACES][SW_IFNAME_LEN];
	int n_interfaces;
	char bpffs_dir[SW_PATH_LEN];
	char state_dir[SW_PATH_LEN];
	enum sw_xdp_mode xdp_mode;
	bool dry_run;
	enum sw_log_level log_level;
	enum sw_log_format log_format;	/* text, or one JSON object per line */
	uint64_t gc_interval_ns;

	/* [limits] */
	uint64_t port_bitmap[SW_PORT_WORDS];
	unsigned ipv4_prefix;		/* 0-32, default 32 */
	unsigned ipv6_prefix;		/* 0-128, default 64 */
	uint64_t syn_interval_ns;	/* from syn_rate; 0 = off */
	unsigned syn_burst;		/* >= 1 */
	unsigned max_sessions;		/* per source, 0 = unlimited */
	uint64_t handshake_timeout_ns;	/* session without the client's ACK expires */
	uint64_t idle_timeout_ns;	/* established session without client packets expires */
	uint64_t source_idle_ns;	/* state of a quiet source with no sessions is dropped */
	bool malformed_pass;		/* malformed = pass|drop */

	/* [penalty] */
	unsigned penalty_strikes;	/* 0 disables */
	uint64_t penalty_window_ns;
	uint64_t penalty_base_ns;
	uint64_t penalty_max_ns;
	uint64_t penalty_forget_ns;

	/* [flood] */
	uint64_t new_source_interval_ns; /* from new_source_rate; 0 = gate off */
	unsigned new_source_burst;
	bool flood_drop;		/* action = pass|drop */

	/* [capacity] */
	unsigned max_sources;		/* sw_sources / sw_reaped entries */
	unsigned max_session_entries;	/* sw_sessions entries */

	/* [sessions]: idle thresholds by phase (the client silent while the server waits) */
	uint64_t idle_greeted_ns;	/* greeted, no HELO yet */
	uint64_t idle_helo_ns;		/* after HELO/AUTH or between messages */
	uint64_t idle_mail_ns;		/* inside a transaction (MAIL, RCPT) */
	uint64_t idle_data_ns;		/* sending the message */
	uint64_t idle_tls_ns;		/* encrypted: phase unknown */
	unsigned max_idle;		/* idle sessions a source may hold; more: penalty; 0 = off */
	bool teardown_penalised;	/* tear down the sessions of a source penalised for its sessions */
	unsigned pregreet_limit;	/* 0 = off */
	unsigned harvest_min;		/* 0 = off */
	unsigned harvest_ratio;		/* percent */
	unsigned auth_fail_limit;	/* 0 = off */
	uint64_t health_window_ns;
	uint64_t good_ttl_ns;
	uint16_t tls_ports[SW_TLS_PORTS];

	/* [emergency] */
	enum sw_emergency_mode emergency_mode;	/* initial; `smtpwall emergency` overrides, kept in state.db */
	unsigned mta_capacity;		/* sessions the MTA can serve at once */
	unsigned emerg_high;		/* enter at this many sessions (absolute or % of capacity) */
	bool emerg_high_pct;
	unsigned emerg_low;		/* may leave below this many */
	bool emerg_low_pct;
	uint64_t emerg_rate_interval_ns; /* enter when new sessions come faster than this rate; 0 = off */
	uint64_t emerg_hold_ns;		/* stay at least this long */
	uint64_t emerg_idle_ns;		/* sessions idle this long are torn down while it lasts */
	unsigned emerg_teardown_max;	/* teardowns per GC run */
	bool emerg_admit_home;
	/*
	 * Probation: during an emergency, sources not known good may hold
	 * probation_per_source sessions each, in probation_share % of the
	 * capacity, and are judged by progress: no step of the dialogue for
	 * their phase's limit, or probation_lifetime before a message, and
	 * the source is penalised (reason probation). Share 0: off.
	 */
	unsigned probation_share;	/* percent of mta_capacity */
	unsigned probation_per_source;
	uint64_t probation_greeted_ns;
	uint64_t probation_helo_ns;
	uint64_t probation_mail_ns;
	uint64_t probation_data_ns;
	uint64_t probation_lifetime_ns;

	/* [geo] */
	char geo_database[SW_PATH_LEN];	/* "" = no country data (default) */
	bool geo_home[SW_COUNTRY_IDS];	/* the home countries, by id */
	int n_home;

	/*
	 * [country home], [country world] (every other known country),
	 * [country unknown] (stored at country[SW_COUNTRY_UNKNOWN]) and
	 * [country XX] (country[id of XX]).
	 */
	struct sw_country_rule country_home, country_world;
	struct sw_country_rule country[SW_COUNTRY_IDS];

	/* [policy]: the Postfix policy service */
	bool policy_enabled;
	char policy_socket[SW_PATH_LEN];	/* unix socket; "" = none */
	char policy_group[64];			/* its group, "" = the daemon's */
	unsigned policy_socket_mode;		/* default 0660 */
	char policy_tcp[64];			/* "127.0.0.1:10040"; "" = none */
	unsigned policy_max_clients;
	uint64_t policy_idle_ns;		/* a client silent this long is closed */

	/* [metrics]: the Prometheus endpoint */
	char metrics_listen[64];		/* "127.0.0.1:9725"; "" = off */
	unsigned metrics_top_sources;		/* the busiest sources with series of their own */
	unsigned metrics_top_countries;		/* countries beyond the configured ones */

	/* [accounts]: the policies (see the README's "Accounts") */
	enum sw_account_mode limits_mode, overseas_mode, abroad_mode, mismatch_mode, origins_mode;
	unsigned limits[6];			/* enum sw_acct_limit order; 0 = off */
	uint64_t suspend_ns;			/* an automatic suspension's length; 0 = until resumed */
	unsigned suspend_code;			/* 4xx defers, 5xx refuses */
	unsigned overseas_limit;		/* messages per overseas_window from abroad; 0 = off */
	uint64_t overseas_window_ns;
	bool abroad_deny;			/* the default of an account's abroad policy */
	char sender_domains[512];		/* login@domain is the account's own address */
	unsigned origins_countries, origins_addresses;	/* 0 = that count off */
	uint64_t origins_window_ns;
	bool origins_suspend;
	char notify_command[SW_PATH_LEN];	/* run on a flag; "" = none */
	char flagged_filter[128];		/* "transport:nexthop" for flagged accounts' mail; "" = none */
	struct sw_cidr relay_networks[SW_RELAY_NETS];	/* unauthenticated senders counted by address */
	int n_relay_networks;

	/* [maillog]: the mail-log follower and its hints to the kernel */
	bool maillog_enabled;
	char maillog_file[SW_PATH_LEN];		/* Postfix's log file; "" with journal = yes */
	bool maillog_journal;			/* the systemd journal instead of a file */
	char maillog_journal_dir[SW_PATH_LEN];	/* a journal directory; "" = the system's */
	bool maillog_monitor;			/* judge and report, penalise nothing */
	unsigned auth_failures;			/* failed logins of a source that penalise; 0 = off */
	uint64_t auth_window_ns;
	unsigned guess_sources;			/* sources failing one account that flag it; 0 = off */
	uint64_t guess_window_ns;
	bool guess_suspend;			/* a distributed guess also suspends the account's sending */
	unsigned shared_accounts;		/* accounts logged in from a source that make it shared; 0 = none */
	uint64_t shared_window_ns;
	unsigned suspended_uses;		/* refusals of a suspended account that penalise its source; 0 = off */
	uint64_t suspended_window_ns;
	bool vouch;				/* a login makes the source known good */

	/* [allow] / [deny]: repeated `cidr = ...` keys */
	struct sw_config_entry *allow;
	int n_allow;
	struct sw_config_entry *deny;
	int n_deny;

	char path[SW_PATH_LEN];		/* the file it came from, "" for defaults */
};

/* Built-in defaults (what an empty file gives). */
void sw_settings_defaults(struct sw_settings *s);
/*
 * Load @path over the defaults. On error returns -1 and writes
 * "<path>:<line>: [section] key: message" (or "<path>: message") to @err;
 * @s is then freed and left with defaults. Unknown sections or keys are errors.
 */
int sw_settings_load(struct sw_settings *s, const char *path, char *err, size_t errlen);
void sw_settings_free(struct sw_settings *s);
/*
 * The kernel policy of country @id: the explicit [country XX] section if
 * present, else [country unknown] for SW_COUNTRY_UNKNOWN, [country home] for
 * a home country, [country world] for any other; SW_COUNTRY_NONE (no geo
 * data) is always allow. Per-source values not set inherit [limits].
 */
void sw_settings_country_policy(const struct sw_settings *s, unsigned id, struct sw_country_policy *out);

/* The emergency marks in sessions, percentages resolved against the capacity. */
unsigned sw_settings_emerg_high(const struct sw_settings *s);
unsigned sw_settings_emerg_low(const struct sw_settings *s);
/* Probation sessions at once: probation_share of the capacity, at least 1; 0 when probation is off. */
unsigned sw_settings_probation_slots(const struct sw_settings *s);
/* The no-progress limit of a probation session in @phase; 0 = not judged (before the greeting, TLS, after QUIT). */
uint64_t sw_settings_probation_ns(const struct sw_settings *s, unsigned phase);
/* The idle threshold of a session in @phase (enum sw_phase); 0: not judged. */
uint64_t sw_settings_idle_ns(const struct sw_settings *s, unsigned phase);

/* Fill the kernel's struct sw_config (flags include SW_CFG_ENABLED). list_gen is left 0. */
void sw_settings_to_kernel(const struct sw_settings *s, struct sw_config *k);

#endif
