/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Types and constants shared by the BPF programs and user space.
 *
 * Fixed-width types only, explicit padding, no pointers: every struct here
 * is a BPF map key or value and must have the same layout on both sides.
 * Changing a struct changes the pinned maps' layout: the daemon then refuses
 * to adopt old pins and asks for `smtpwall detach`.
 */
#ifndef SMTPWALL_H
#define SMTPWALL_H

#include <linux/types.h>

#define SW_AF_INET  2	/* AF_INET, without pulling libc into BPF */
#define SW_AF_INET6 10	/* AF_INET6 */

/* Ports whose sessions are TLS from the start, at most. */
#define SW_TLS_PORTS 4

/* Guarded ports are a bitmap indexed by TCP destination port. */
#define SW_PORT_WORDS (65536 / 64)

/* Default map capacities; `[capacity]` in the config overrides them. */
#define SW_DEFAULT_MAX_SOURCES	131072
#define SW_DEFAULT_MAX_SESSIONS 262144
#define SW_LIST_MAX_ENTRIES	65536
#define SW_EVENTS_BYTES		(256 * 1024)

/* Why a packet was, or in dry-run would have been, dropped. */
enum sw_reason {
	SW_R_RATE = 0,	   /* new-connection (SYN) rate limit of the source */
	SW_R_CONCURRENCY,  /* source already holds max_sessions sessions */
	SW_R_PENALTY,	   /* source is in the penalty box */
	SW_R_DENY,	   /* source matches the deny list (a ban) */
	SW_R_MALFORMED,	   /* frame that may be for a guarded port but cannot be parsed */
	SW_R_FLOOD,	   /* new-source flood, SYN from an unknown source, [flood] action=drop */
	SW_R_COUNTRY,	   /* the source's country is blocked ([country] action = block) */
	SW_R_COUNTRY_RATE, /* the country's own new-connection rate ([country] country_rate) */
	SW_R_EMERGENCY,	   /* emergency mode: new sessions only from sources known to be good */
	SW_R_MAX,	   /* drop reasons end here; the rest are reasons of penalties only */
	SW_R_IDLE = SW_R_MAX, /* the source held too many idle sessions ([sessions] max_idle) */
	SW_R_PREGREET,	   /* the client talked before the server's greeting */
	SW_R_HARVEST,	   /* too many rejected recipients (directory harvest) */
	SW_R_AUTH,	   /* too many failed logins */
	SW_R_PROBATION,	   /* an unproven source's session made no progress during an emergency */
	SW_R_ALL
};

/* Kinds of frames the parser could not make sense of. */
enum sw_malformed {
	SW_M_L2 = 0,	/* truncated Ethernet / VLAN header, or more than two VLAN tags */
	SW_M_IPV4,	/* truncated IPv4 header, version != 4, ihl < 5, bad total length */
	SW_M_IPV6,	/* truncated IPv6 header or extension header, chain too long */
	SW_M_TCP,	/* truncated TCP header, doff < 5, or doff beyond the packet */
	SW_M_MAX
};

/*
 * sw_config.list_fine: some allow/deny entry of that family is narrower than
 * the source aggregation prefix (say a /128 ban with ipv6_prefix 64), so
 * addresses of one source may differ in verdict: the program then resolves
 * the lists per packet for that family instead of caching per source.
 */
#define SW_LIST_FINE_V4 (1U << 0)
#define SW_LIST_FINE_V6 (1U << 1)

/* sw_config.flags */
#define SW_CFG_ENABLED	      (1U << 0) /* unset: every frame passes (config not yet written) */
#define SW_CFG_DRY_RUN	      (1U << 1) /* count would-drops, drop nothing */
#define SW_CFG_MALFORMED_PASS (1U << 2) /* pass malformed frames instead of dropping them */
#define SW_CFG_FLOOD_DROP     (1U << 3) /* drop SYNs of unknown sources while the new-source gate is shut */
#define SW_CFG_EMERGENCY      (1U << 4) /* emergency mode: new sessions only from known-good sources */
#define SW_CFG_EMERG_HOME     (1U << 5) /* ... and from home-country sources ([emergency] admit_home) */
#define SW_CFG_EGRESS	      (1U << 6) /* the egress program runs on every interface: the server's side
					 * is seen, so a client without a greeting before it talked early */
/* The flags owned at run time (the health controller, the attacher), never by the config file. */
#define SW_CFG_RUNTIME (SW_CFG_EMERGENCY | SW_CFG_EGRESS)

/*
 * The kernel's view of the configuration: one entry in the sw_config array,
 * written by the daemon. All times are nanoseconds of CLOCK_MONOTONIC
 * (bpf_ktime_get_ns). A zero interval or limit disables that check.
 */
struct sw_config {
	__u64 port_bitmap[SW_PORT_WORDS]; /* guarded TCP destination ports */
	__u64 syn_interval_ns;	  /* GCRA emission interval: 1 s / SYN rate; 0 = no rate limit */
	__u64 syn_tolerance_ns;	  /* GCRA burst tolerance: (burst - 1) * interval */
	__u64 penalty_window_ns;  /* strikes count within this window */
	__u64 penalty_base_ns;	  /* first penalty; doubles on each repeat offence */
	__u64 penalty_max_ns;	  /* cap of an escalated penalty */
	__u64 penalty_forget_ns;  /* offences are forgotten after this long without one */
	__u64 new_source_interval_ns;  /* global gate on allocating state for new sources */
	__u64 new_source_tolerance_ns;
	__u64 handshake_timeout_ns; /* an admitted SYN's reserved session slot lapses after this */
	__u64 list_gen;		  /* bumped by every allow/deny list change; invalidates cached verdicts */
	__u32 max_sessions;	  /* concurrent sessions per source; 0 = unlimited */
	__u32 penalty_strikes;	  /* violations within the window that earn a penalty; 0 = never */
	__u32 v4_mask;		  /* source aggregation mask, network byte order */
	__u32 v6_mask[4];	  /* source aggregation mask, network byte order */
	__u32 flags;		  /* SW_CFG_* */
	__u32 list_fine;	  /* SW_LIST_FINE_*: maintained with list_gen by the list writers */
	__u32 geo_gen;		  /* bumped after each geo table swap; invalidates cached countries */
	/* Session health ([sessions]): 0 disables a policy. */
	__u64 health_window_ns;	  /* pregreet, harvest and auth counts are kept over this window */
	__u64 good_ttl_ns;	  /* a source that completed a session is known good this long */
	__u32 pregreet_limit;	  /* sessions talking before the greeting that earn a penalty */
	__u32 harvest_min;	  /* rejected recipients before the ratio is judged */
	__u32 harvest_ratio;	  /* percent of recipients rejected that is a harvest */
	__u32 auth_fail_limit;	  /* failed logins that earn a penalty */
	__u16 tls_ports[SW_TLS_PORTS]; /* TLS from the first byte (465); 0 = unused */
	/*
	 * Probation ([emergency] probation_*): during an emergency, a source
	 * that is not known good may still open probation_per_source sessions
	 * while sw_global.probation_admitted is below probation_limit. The
	 * daemon moves the limit every run: the admissions counted when it
	 * last looked, plus the probation slots then free. 0 per source: no
	 * probation (only known-good sources in an emergency).
	 */
	__u64 probation_limit;
	__u32 probation_per_source;
	__u32 pad_probation;
};

/* sw_daemon_state.reason: why emergency mode was last entered or left. */
enum sw_emergency_reason {
	SW_ER_NONE = 0,
	SW_ER_SESSIONS,		/* sessions reached the high-water mark */
	SW_ER_RATE,		/* new sessions came faster than [emergency] rate */
	SW_ER_MANUAL,		/* `smtpwall emergency on` / `off` */
	SW_ER_CALM,		/* below the low-water mark for the hold time */
};

/*
 * What the daemon decides and counts (emergency mode, teardowns), in a
 * pinned map so that a restart keeps it and the CLI can show it. Written
 * by the daemon only.
 */
struct sw_daemon_state {
	__u64 emergency_since_ns;	/* CLOCK_MONOTONIC of the last entry; 0 = not in emergency */
	__u64 emergency_since_unix;
	__u64 emergency_entered;	/* transitions into emergency mode */
	__u64 emergency_left;
	__u64 teardowns;		/* sessions torn down with SOCK_DESTROY */
	__u64 teardowns_emergency;	/* ... because idle during an emergency */
	__u64 teardowns_penalised;	/* ... because their source was penalised for its sessions */
	__u64 teardown_failed;
	__u64 idle_penalties;		/* penalties for holding too many idle sessions */
	__u64 sessions_now;		/* the MTA's connections on the guarded ports, last run */
	__u64 idle_now;			/* idle sessions, last run */
	__u64 new_session_rate;		/* sessions opened per second, last run */
	__u64 last_run_unix;
	__u64 probation_failed;		/* sources penalised for a failed probation */
	__u64 probation_slots;		/* probation sessions allowed at once */
	__u64 probation_used;		/* ... in use at the last run */
	__u32 mode;			/* enum sw_emergency_mode in force */
	__u32 reason;			/* enum sw_emergency_reason of the last transition */
	__u32 high, low;		/* the marks in force, in sessions */
	char detail[128];		/* the last transition, as logged */
};

/* Per-CPU totals, summed by user space. */
struct sw_stats {
	__u64 packets;		/* every frame the program saw */
	__u64 guarded_packets;	/* frames to a guarded port */
	__u64 guarded_bytes;
	__u64 syn;		/* connection attempts (SYN without ACK) on guarded ports, all verdicts */
	__u64 admitted;		/* SYNs admitted */
	__u64 syn_retransmit;	/* SYNs repeating a pending handshake: not charged again */
	__u64 allowlisted;	/* SYNs admitted past the limits because the source is allowlisted */
	__u64 sessions_opened;	/* session records created: handshake completed */
	__u64 sessions_closed;	/* closed by the client's FIN or RST */
	__u64 sessions_untracked; /* no record: source at max_sessions with no handshake pending */
	__u64 untracked_syn;	/* SYNs of unknown sources while the new-source gate was shut */
	__u64 source_table_full;/* source state could not be allocated: table full */
	__u64 fragments;	/* non-first fragments of guarded traffic */
	__u64 penalties;	/* times a source was sent to the penalty box */
	__u64 events_lost;	/* ring buffer full: event not delivered */
	__u64 server_packets;	/* egress: segments of guarded sessions from the server */
	__u64 greetings;	/* server greetings seen */
	__u64 pregreet;		/* sessions where the client talked before the greeting */
	__u64 rcpt;		/* RCPT commands answered */
	__u64 rcpt_rejected;	/* ... with 5xx */
	__u64 auth_failed;	/* failed logins (535 / 5xx to AUTH) */
	__u64 messages;		/* messages accepted (2xx after the data) */
	__u64 sessions_completed; /* closed after a message or a QUIT */
	__u64 sessions_abandoned; /* closed without either */
	__u64 server_closed;	/* sessions reset or closed by the server */
	__u64 probation_admitted; /* SYNs of unproven sources admitted on probation in an emergency */
	__u64 probation_full;	/* ... refused: every probation slot taken */
	__u64 probation_busy;	/* ... refused: the source holds its probation_per_source already */
	__u64 probation_graduated; /* probation sessions that delivered a message: the source is known good */
	__u64 dropped[SW_R_MAX];
	__u64 would_drop[SW_R_MAX];	/* dry-run */
	__u64 malformed[SW_M_MAX];	/* seen, whatever the verdict */
};

/* Global state shared by all CPUs: one entry in sw_global. */
struct sw_global {
	__u64 new_source_tat_ns; /* GCRA state of the new-source gate */
	__u64 gate_shut_ns;	 /* last time the gate refused a new source */
	__u64 tuple_key;	 /* secret of the pending-handshake hash, drawn once; pinned */
	__u64 probation_admitted; /* SYNs admitted on probation, ever (see sw_config.probation_limit) */
};

/*
 * A source: an IPv4 address masked to ipv4_prefix, or an IPv6 address
 * masked to ipv6_prefix. IPv4 uses addr[0] only; all in network byte order.
 */
struct sw_src_key {
	__u32 addr[4];
	__u8 family;		/* SW_AF_INET or SW_AF_INET6 */
	__u8 pad[3];
};

/* sw_source.list_verdict */
#define SW_LIST_NONE  0
#define SW_LIST_ALLOW 1
#define SW_LIST_DENY  2

/* sw_source.flags */
#define SW_SRC_PROVEN (1U << 0)	/* completed a TCP handshake: not a spoofed address */

/* Handshakes remembered per source to recognise a retransmitted SYN. */
#define SW_PENDING_SLOTS 8

struct sw_source {
	__u64 first_seen_ns;
	__u64 last_syn_ns;	/* last connection attempt */
	__u64 syn_tat_ns;	/* GCRA theoretical arrival time of the SYN rate limit */
	__u64 watch_tat_ns;	/* GCRA state of a monitored country's per-source rate (counted only) */
	__u64 penalty_until_ns;	/* 0 or a time: dropped until then */
	__u64 strike_window_ns;	/* start of the current strike window */
	__u64 last_offence_ns;	/* last time a penalty was given */
	__u64 list_gen;		/* sw_config.list_gen when list_verdict was computed */
	__u64 list_expires_ns;	/* expiry of the list entry behind list_verdict; 0 = none */
	__u64 pending_until[SW_PENDING_SLOTS]; /* each remembered handshake's slot lapses then */
	__u64 overflow_until_ns; /* the overflow reservations lapse then */
	__u64 syn;
	__u64 admitted;
	__u64 packets;
	__u64 bytes;
	__u64 sessions_total;
	__u64 dropped[SW_R_MAX];
	__u64 would_drop[SW_R_MAX];
	__u32 sessions_open;	/* records created minus closed by the client; see sw_reaped */
	/*
	 * Admitted SYNs whose handshake has not completed (pending): one slot
	 * each, with the keyed hash of its tuple (0 = free) and its own lapse
	 * time; beyond SW_PENDING_SLOTS at once, a count that lapses as a whole.
	 */
	__u32 pending_tuple[SW_PENDING_SLOTS];
	__u32 overflow;
	__u32 strikes;		/* violations in the current window */
	__u32 offences;		/* penalties served, for escalation */
	__u8 list_verdict;	/* SW_LIST_* */
	__u8 penalty_reason;	/* enum sw_reason of the last penalty */
	__u16 flags;		/* SW_SRC_* */
	__u32 geo_gen;		/* sw_config.geo_gen when `country` was classified */
	__u16 country;		/* SW_COUNTRY_* id of the source key's address; valid while geo_gen matches */
	__u8 pending_probation;	/* bit i: pending slot i was admitted on probation (while its tuple is set) */
	__u8 pad8;
	__u16 pad[2];
	/* Session health: totals, and counts within the health window. */
	__u64 last_good_ns;	/* last session completed (a message, or a QUIT after HELO) */
	__u64 health_window_ns;	/* start of the current health window */
	__u64 sessions_completed;
	__u64 sessions_abandoned;
	__u64 session_ns_total;	/* durations of the sessions ended, added up */
	__u64 session_ns_max;
	__u64 messages;
	__u64 rcpt;
	__u64 rcpt_rejected;
	__u64 auth_failed;
	__u64 pregreet;
	__u32 win_rcpt;		/* within the health window */
	__u32 win_rejected;
	__u32 win_auth_failed;
	__u32 win_pregreet;
	/* Probation (emergency mode): sessions admitted on it, and failed (the daemon's penalties). */
	__u32 probation_admitted;
	__u32 probation_failed;
	__u32 probation_detail;	/* the last failure: SW_PROBATION_* of sw_ctl_penalty.detail */
	__u32 pad_probation;
};

/* A TCP connection to a guarded port, seen from the client's side. */
struct sw_session_key {
	__u32 saddr[4];
	__u32 daddr[4];
	__u16 sport;		/* network byte order */
	__u16 dport;		/* network byte order */
	__u8 family;
	__u8 pad[3];
};

/* sw_session.flags */
#define SW_SESS_HANDSHAKE (1U << 0) /* created by the ACK of a handshake admitted here: seen from the start */
#define SW_SESS_TLS	  (1U << 1) /* encrypted (STARTTLS done, or port 465): the dialogue is not read */
#define SW_SESS_BODY	  (1U << 2) /* the client sends message data (after 354, or BDAT) */
#define SW_SESS_PREGREET  (1U << 3) /* the client talked before the server's greeting */
#define SW_SESS_AUTH	  (1U << 4) /* an AUTH exchange is in progress */
#define SW_SESS_QUIT	  (1U << 5) /* the server answered QUIT */
#define SW_SESS_SRV_CLOSE (1U << 6) /* the server closed (FIN) or said 421 */
#define SW_SESS_COUNTED	  (1U << 7) /* completed/abandoned already counted for the source */
#define SW_SESS_BDAT	  (1U << 8) /* the data being sent is a BDAT chunk */
#define SW_SESS_BDAT_LAST (1U << 9) /* ... the last one of its message (BDAT n LAST) */
#define SW_SESS_PROBATION (1U << 10) /* opened on probation: an unproven source during an emergency */
#define SW_SESS_DOT	  (1U << 11) /* the message's final dot was sent: the server owes the reply */

/*
 * Message data counts as progress every SW_BODY_PROGRESS bytes: a slow
 * link uploading a large message progresses, a drip of a byte or two
 * every few seconds does not.
 */
#define SW_BODY_PROGRESS 1024

/*
 * SMTP phase: how far the dialogue went, from the client's commands and the
 * server's answers, while it is readable (before STARTTLS).
 */
enum sw_phase {
	SW_PH_CONNECTED = 0,	/* handshake done, no greeting yet */
	SW_PH_GREETED,		/* the server greeted; waiting for HELO/EHLO */
	SW_PH_HELO,		/* HELO/EHLO done */
	SW_PH_AUTH,		/* logged in */
	SW_PH_MAIL,		/* MAIL FROM accepted */
	SW_PH_RCPT,		/* a recipient accepted */
	SW_PH_DATA,		/* sending the message */
	SW_PH_DELIVERED,	/* a message accepted; may send another */
	SW_PH_QUIT,		/* QUIT answered, after HELO (a QUIT alone leaves the phase) */
	SW_PH_TLS,		/* encrypted: phase unknown from here */
	SW_PH_MAX
};

/* Client commands, queued until the server answers them (pipelining). */
enum sw_cmd {
	SW_CMD_OTHER = 0,
	SW_CMD_HELO,		/* HELO, EHLO, LHLO */
	SW_CMD_STARTTLS,
	SW_CMD_AUTH,
	SW_CMD_MAIL,
	SW_CMD_RCPT,
	SW_CMD_DATA,
	SW_CMD_BDAT,
	SW_CMD_RSET,
	SW_CMD_QUIT,
};

#define SW_CMDQ 16		/* commands awaiting a reply, per session */

/*
 * Created when the client's ACK completes the handshake (never on the SYN,
 * so half-open floods do not churn this table). The XDP program writes the
 * client's side, the tc egress program the server's; the program reads the
 * clock only for segments that carry data, so idleness is judged from
 * `last_client_ns` and `last_server_ns` by the daemon.
 */
struct sw_session {
	__u64 start_ns;
	__u64 packets;		/* from the client, including the creating ACK */
	__u64 bytes;
	__u64 last_client_ns;	/* last client segment with data; 0 = none yet */
	__u64 greeting_ns;	/* the server's greeting (its first data); 0 = not yet */
	__u64 last_server_ns;	/* last server segment with data */
	__u64 server_packets;
	__u64 server_bytes;
	__u32 flags;		/* SW_SESS_* */
	__u16 rcpt;		/* RCPT commands answered */
	__u16 rcpt_rejected;	/* ... with 5xx */
	__u16 messages;		/* messages accepted */
	__u16 errors;		/* other commands answered 5xx */
	__u8 phase;		/* enum sw_phase */
	__u8 auth_failed;
	__u8 cmd_head;		/* written by XDP: next free slot of cmdq */
	__u8 cmd_tail;		/* written by tc: next command to be answered */
	__u8 cmdq[SW_CMDQ];	/* enum sw_cmd */
	__u16 last_reply;	/* the server's last reply code */
	__u8 last_cmd_rcpt;	/* the last reply answered a RCPT */
	__u8 pad[5];
	/*
	 * The sequence number after the last data read from each side (0 =
	 * none yet): a retransmitted segment (the peer's ACK was lost, or
	 * dropped with a penalised source) is not read twice.
	 */
	__u32 client_next_seq;
	__u32 server_next_seq;
	/*
	 * Progress: the last time the dialogue advanced (see sw_progress in
	 * bpf/smtpwall.bpf.c): the greeting, a phase reached for the first
	 * time in the transaction, an accepted recipient, SW_BODY_PROGRESS
	 * bytes of message data, a message accepted; on an encrypted
	 * session, any new client data. NOOP, RSET, HELP, VRFY, a repeated
	 * HELO/EHLO and their replies are not progress.
	 */
	__u64 progress_ns;
	__u32 body_unprogressed; /* message bytes since the last body progress */
	__u8 phase_max;		/* the furthest phase of the current transaction */
	__u8 pad2[3];
};

/* Allow/deny list LPM keys. */
struct sw_lpm_v4 {
	__u32 prefixlen;
	__u32 addr;		/* network byte order */
};

struct sw_lpm_v6 {
	__u32 prefixlen;
	__u32 addr[4];		/* network byte order */
};

/* sw_list_entry.origin */
#define SW_ORIGIN_CONFIG 1	/* [allow]/[deny] in the config file */
#define SW_ORIGIN_STORE	 2	/* CLI ban/allow, kept in the state database */

struct sw_list_entry {
	__u64 expires_ns;	/* CLOCK_MONOTONIC; 0 = never */
	__u32 prefixlen;	/* copy of the key's, so the more specific of allow/deny can win */
	__u32 origin;		/* SW_ORIGIN_* */
};

/*
 * Countries. An ISO 3166-1 alpha-2 code is its own id, so policies and
 * counters never depend on which database is loaded:
 * id = 1 + (first letter - 'A') * 26 + (second letter - 'A').
 */
#define SW_COUNTRY_UNKNOWN 0	/* not in the database, or its record names no usable country */
#define SW_COUNTRY_FIRST   1	/* "AA" */
#define SW_COUNTRY_LAST	   676	/* "ZZ" */
#define SW_COUNTRY_NONE	   677	/* no geo database loaded: not classified, no country policy */
#define SW_COUNTRY_IDS	   678

/*
 * Geo tables: multibit tries of 256-entry chunks, so a lookup costs a
 * fixed number of array reads whatever the size of the database. Each
 * family lives in an ARRAY map of chunks, swapped as a whole (map-in-map)
 * when the database is reloaded.
 *
 * Chunks 0-255 are the root, indexed by the top 16 bits of the address
 * (chunk = top 8 bits, entry = next 8); each further level takes 8 bits:
 * IPv4 two levels (to /32), IPv6 six (to /64: sources are never finer in
 * practice, and longer database prefixes are folded into their /64, see
 * SW_GEO_FOLDED). An entry with SW_GEO_PTR set points at chunk
 * (entry & ~SW_GEO_PTR); any other entry is a leaf:
 *   bits 0-9   country id (SW_COUNTRY_*)
 *   bits 10-16 prefix length of the database record it came from
 *   bit 17     SW_GEO_FOLDED, bits 18-19 SW_GEO_V4_*
 *   bit 20     SW_GEO_FOUND: a record covers it (0: not in the database)
 * A /16 covered by one record (four in five on a real database) is one
 * root entry: a spoofed flood over the whole address space mostly reads
 * the 256 KiB root, which stays in cache, rather than random memory.
 */
#define SW_GEO_CHUNK	    256
#define SW_GEO_ROOT_CHUNKS  256
#define SW_GEO4_LEVELS	    2
#define SW_GEO6_LEVELS	    6
#define SW_GEO_PTR	    0x80000000U
#define SW_GEO_CC_MASK	    0x3ff
#define SW_GEO_LEN_SHIFT    10
#define SW_GEO_LEN_MASK	    0x7f
#define SW_GEO_FOLDED	    (1U << 17)	/* this /64 held longer prefixes; classified by its first */
/*
 * Leaves of the prefixes a database aliases to its IPv4 subtree, as
 * MaxMind's do: an address there has the country of the IPv4 address it
 * embeds, looked up in the IPv4 table. 6to4 (2002::/16) embeds it in bits
 * 16-47, Teredo (2001::/32) its server's in bits 32-63.
 */
#define SW_GEO_V4_6TO4	    (1U << 18)
#define SW_GEO_V4_TEREDO    (1U << 19)
#define SW_GEO_FOUND	    (1U << 20)
#define SW_GEO_LEAF(cc, len) ((__u32)(cc) | (__u32)(len) << SW_GEO_LEN_SHIFT | SW_GEO_FOUND)
struct sw_geo_chunk {
	__u32 e[SW_GEO_CHUNK];
};

/* What the loaded geo tables hold: one entry in sw_geo_info, written with them. */
#define SW_GEO_SCHEMA_GEOIP2 1	/* country.iso_code, else registered_country.iso_code */
#define SW_GEO_SCHEMA_FLAT   2	/* country_code (DB-IP Lite, ip-location-db) */
struct sw_geo_info {
	__u64 gen;		/* sw_config.geo_gen these tables were installed with; 0 = none */
	__u64 build_epoch;	/* the database's own build time, unix seconds */
	__u64 loaded_at;	/* unix seconds */
	__u64 load_ns;		/* read + build + install */
	__u64 file_size;
	__u64 file_mtime_ns;
	__u64 file_ino;
	__u64 file_dev;
	__u64 v4_prefixes;	/* database records loaded */
	__u64 v6_prefixes;
	__u64 v4_chunks;	/* entries of the inner maps */
	__u64 v6_chunks;
	__u64 no_country;	/* records without a usable country code */
	__u64 folded;		/* IPv6 /64s holding longer prefixes */
	__u64 shared;		/* chunks saved by storing identical ones once */
	__u64 v4_aliases;	/* 6to4 / Teredo prefixes classified through the IPv4 table */
	__u64 kernel_bytes;	/* memory of the inner maps */
	__u32 ip_version;	/* 4 or 6 */
	__u32 node_count;
	__u32 record_size;
	__u32 schemas;		/* SW_GEO_SCHEMA_* seen */
	char path[256];
	char db_type[64];
};

/* sw_country_policy.action */
enum sw_country_action {
	SW_CA_ALLOW = 0,	/* the base [limits]; no country rule */
	SW_CA_MONITOR,		/* the country's limits are evaluated and counted as would-drops only */
	SW_CA_LIMIT,		/* the country's limits are enforced */
	SW_CA_BLOCK,		/* new connections are dropped */
	SW_CA_MAX
};

/*
 * One country's policy (written by the daemon, resolved from home / world /
 * unknown / per-country sections). Per-source values replace [limits] for
 * this country's sources under limit (and are watched under monitor).
 * 0 disables a check, as in sw_config.
 */
struct sw_country_policy {
	__u64 syn_interval_ns;	/* per source */
	__u64 syn_tolerance_ns;
	__u64 agg_interval_ns;	/* the whole country together */
	__u64 agg_tolerance_ns;
	__u32 max_sessions;	/* per source */
	__u8 action;		/* enum sw_country_action */
	__u8 home;		/* a [geo] home country: admitted in emergency with [emergency] admit_home */
	__u8 pad[2];
};

/* The country-wide rate's GCRA word, shared by all CPUs. */
struct sw_country_state {
	__u64 agg_tat_ns;
};

/*
 * Per-country, per-CPU counters: connection attempts and, like sw_stats,
 * dropped packets by reason (a banned or penalised source's every packet).
 * A banned source without state is dropped before it is classified, so
 * its drops count in sw_stats only.
 */
struct sw_country_stats {
	__u64 syn;		/* connection attempts of the country's sources */
	__u64 admitted;
	__u64 dropped[SW_R_MAX];
	__u64 would_drop[SW_R_MAX];	/* dry-run, or the country is monitored */
};

/* Ring buffer events */
enum sw_event_type {
	SW_EV_PENALTY = 1,	/* a source entered the penalty box */
};

/*
 * The daemon's request to the sw_ctl program (BPF_PROG_RUN): penalise a
 * source for what only user space can see (idle sessions), with the same
 * escalation as the kernel's own penalties.
 */
struct sw_ctl_penalty {
	struct sw_src_key src;
	__u32 reason;		/* enum sw_reason */
	__u32 detail;		/* e.g. idle sessions held, for the event; SW_PROBATION_* for probation */
	__u64 now_ns;		/* CLOCK_MONOTONIC */
	__s32 result;		/* out: 0 penalised, -ENOENT no state, -EALREADY already */
	__u32 pad;
};

/*
 * sw_ctl_penalty.detail of a probation failure, kept in
 * sw_source.probation_detail for `show`: how long the session went
 * without progress (ms, capped), in which phase, and whether it was its
 * lifetime budget that ran out.
 */
#define SW_PROBATION_MS_MASK	 0x00ffffffU
#define SW_PROBATION_PHASE_SHIFT 24
#define SW_PROBATION_PHASE_MASK	 0xfU
#define SW_PROBATION_LIFETIME	 (1U << 28)

struct sw_event {
	__u64 ts_ns;
	__u64 until_ns;
	struct sw_src_key src;
	__u32 type;		/* enum sw_event_type */
	__u32 reason;		/* enum sw_reason */
	__u32 offences;
	__u32 strikes;
	__u32 pad;
};

/*
 * The layout of the pinned state. Maps outlive the daemon (bpffs pins), so
 * a daemon or CLI built from another layout must not read them as its own:
 * the loader records SW_ABI_VERSION in the sw_abi map when it creates the
 * pins, and refuses to adopt pins of another version (`smtpwall detach`
 * removes them). Bump SW_ABI_VERSION with any change to a struct above, to
 * a map's key, value or flags, or to the set of maps; the assertions below
 * make a size change impossible to miss. struct sw_abi itself never changes.
 */
#define SW_ABI_VERSION 1
#define SW_ABI_MAGIC   0x53574142U	/* "SWAB" */

struct sw_abi {
	__u32 magic;		/* SW_ABI_MAGIC once written */
	__u32 version;		/* SW_ABI_VERSION of the build that created the pins */
	__u32 config_size;	/* sizeof of the main records, as a second check */
	__u32 source_size;
	__u32 session_size;
	__u32 stats_size;
	__u32 global_size;
	__u32 daemon_size;
};

#define SW_ABI_SIZE(t, n) _Static_assert(sizeof(struct t) == (n), \
	"struct " #t " changed size: bump SW_ABI_VERSION and update this assertion")
#define SW_ABI_OFFSET(t, f, n) _Static_assert(__builtin_offsetof(struct t, f) == (n), \
	"struct " #t "." #f " moved: bump SW_ABI_VERSION and update this assertion")
SW_ABI_SIZE(sw_abi, 32);
SW_ABI_SIZE(sw_config, 8368);
SW_ABI_SIZE(sw_daemon_state, 272);
SW_ABI_SIZE(sw_stats, 408);
SW_ABI_SIZE(sw_global, 32);
SW_ABI_SIZE(sw_src_key, 20);
SW_ABI_SIZE(sw_source, 512);
SW_ABI_SIZE(sw_session_key, 40);
SW_ABI_SIZE(sw_session, 128);
SW_ABI_SIZE(sw_list_entry, 16);
SW_ABI_SIZE(sw_geo_chunk, 1024);
SW_ABI_SIZE(sw_geo_info, 472);
SW_ABI_SIZE(sw_country_policy, 40);
SW_ABI_SIZE(sw_country_state, 8);
SW_ABI_SIZE(sw_country_stats, 160);
SW_ABI_SIZE(sw_ctl_penalty, 48);
SW_ABI_SIZE(sw_event, 56);
/* Fields user space writes with atomics while the program runs. */
SW_ABI_OFFSET(sw_config, flags, 8300);
SW_ABI_OFFSET(sw_config, probation_limit, 8352);
SW_ABI_OFFSET(sw_source, last_good_ns, 392);
SW_ABI_OFFSET(sw_session, flags, 64);

#endif /* SMTPWALL_H */
