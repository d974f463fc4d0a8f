/* SPDX-License-Identifier: GPL-2.0 */
/*
 * State expiry, run by the daemon every gc_interval:
 *  - sessions: after idle_timeout without a client packet, judged by the
 *    session's packet count standing still between runs (the program keeps
 *    no per-packet time); each one the daemon deletes is added to the
 *    source's sw_reaped count. Half-open handshakes hold no session record:
 *    their reserved slots lapse in the kernel after handshake_timeout;
 *  - sessions lost to LRU eviction: a source whose open count exceeds the
 *    sessions actually in the map by the same amount on two consecutive
 *    runs gets the difference reaped;
 *  - sources: no SYN for source_idle, no live session or pending handshake,
 *    no running penalty, no offence still remembered (penalty forget) and
 *    no session completed within good_ttl (known-good sources are what
 *    emergency mode admits) are removed;
 *  - idle sessions (the client silent while the server waits) are listed
 *    for the session-health policies.
 *  - allow/deny entries past their expiry are removed.
 */
#ifndef SW_GC_H
#define SW_GC_H

#include "config.h"
#include "kernel.h"

/*
 * A session that made no progress for a while although it is the client's
 * turn (see sw_session_idle_ns), or (during an emergency) one older than
 * the probation lifetime: the candidates of the health policies.
 */
struct sw_idle_session {
	struct sw_session_key key;
	struct sw_src_key src;
	uint64_t idle_ns;	/* without progress, the client to move */
	uint64_t threshold_ns;	/* the [sessions] idle threshold of its phase; 0 = not judged */
	uint64_t start_ns;	/* the session's start */
	uint32_t flags;		/* SW_SESS_* */
	uint8_t phase;		/* enum sw_phase */
	uint8_t pad[3];
};

struct sw_gc_result {
	/*
	 * Sessions idle for at least the shorter of their phase's threshold
	 * and [emergency] idle, for the health policies (user/daemon/health.c).
	 * malloc'd; sw_gc_result_free() releases it.
	 */
	struct sw_idle_session *idle;
	long n_idle;
	long sessions_seen;
	long sessions_expired;	/* idle timeout */
	long sessions_evicted;	/* open count fixed for sessions lost to LRU eviction */
	long sources_seen;
	long sources_expired;
	long list_expired;
	/*
	 * Probation: sw_global.probation_admitted read before the walk, and
	 * the probation slots in use found by it (sessions opened on
	 * probation, handshakes pending from sources not known good).
	 */
	uint64_t probation_admitted;
	long probation_sessions;
	long probation_pending;
};

/* Remembers suspected evictions and session activity between runs. */
struct sw_gc {
	struct sw_src_drift *drift;
	long n_drift;
	struct sw_sess_seen *seen;	/* sorted by session key */
	long n_seen;
};

void sw_gc_init(struct sw_gc *gc);
void sw_gc_result_free(struct sw_gc_result *res);
/*
 * How long session @v has gone without progress while it was the
 * client's turn, at @now; 0 while the server owes a reply (a command
 * unanswered, the final dot sent), before the greeting and after the
 * server closed or answered QUIT. An encrypted session's dialogue is not
 * seen: it is idle while the client is silent after the server spoke.
 */
uint64_t sw_session_idle_ns(const struct sw_session *v, uint64_t now);

/* How long the server may owe a reply before the client is judged again. */
#define SW_OWED_MAX_NS (120 * 1000000000ULL)

/*
 * Does an emergency put this source on probation: not known good, not
 * allowlisted, and not a home source admitted by [emergency] admit_home?
 */
bool sw_source_on_probation(const struct sw_config *cfg, const struct sw_settings *s,
			    const struct sw_source *src, uint64_t now);
void sw_gc_free(struct sw_gc *gc);
/*
 * A run: sw_gc_walk (sessions and sources; @res is reset first, and @s is
 * read only for its scalars, so a copy without the allow/deny entries
 * will do, on any thread) then sw_gc_expire_lists (the allow/deny
 * entries, against the config's in @s). 0, or the first error; what could
 * be done is done either way.
 */
int sw_gc_run(struct sw_gc *gc, const struct sw_kernel *k, const struct sw_settings *s, uint64_t now,
	      struct sw_gc_result *res);
int sw_gc_walk(struct sw_gc *gc, const struct sw_kernel *k, const struct sw_settings *s, uint64_t now,
	       struct sw_gc_result *res);
int sw_gc_expire_lists(const struct sw_kernel *k, const struct sw_settings *s, uint64_t now,
		       struct sw_gc_result *res);

/* Live sessions of a source: open count minus what the daemon reaped. */
uint32_t sw_source_live(const struct sw_kernel *k, const struct sw_src_key *key,
			const struct sw_source *src);

#endif
