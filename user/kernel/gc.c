// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "gc.h"
#include "lists.h"
#include "log.h"

struct sw_src_drift {
	struct sw_src_key key;
	uint32_t drift;
};

/*
 * What the daemon remembers of a session between runs: the program reads no
 * clock for established traffic, so a session is idle while its packet
 * count stands still.
 */
struct sw_sess_seen {
	struct sw_session_key key;
	uint64_t start_ns;	/* tells a record made anew under the same key from the old one */
	uint64_t packets;
	uint64_t changed_ns;	/* when `packets` was last seen to move */
};

static int sess_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct sw_session_key));
}

/* Sessions of one source, counted while walking sw_sessions. */
struct src_count {
	struct sw_src_key key;
	uint32_t in_map;	/* sessions still in the map */
	uint32_t reaped;	/* sessions the daemon deleted in this run */
};

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct sw_src_key));
}

void sw_gc_init(struct sw_gc *gc)
{
	memset(gc, 0, sizeof(*gc));
}

void sw_gc_result_free(struct sw_gc_result *res)
{
	free(res->idle);
	res->idle = NULL;
	res->n_idle = 0;
}

uint64_t sw_session_idle_ns(const struct sw_session *v, uint64_t now)
{
	uint64_t server = v->last_server_ns ? v->last_server_ns : v->greeting_ns;
	uint64_t since;
	bool owed;

	/* Before the greeting, or after the server closed, the client owes nothing. */
	if (!server || (v->flags & (SW_SESS_SRV_CLOSE | SW_SESS_QUIT)))
		return 0;
	if (v->flags & SW_SESS_TLS) {
		/* Unreadable: the client is idle while silent after the server spoke. */
		if (v->last_client_ns > server || now <= server)
			return 0;
		return now - server;
	}
	/*
	 * The server owes an answer: the client waits, however long the
	 * server takes, up to SW_OWED_MAX_NS (a queue that never empties
	 * must not shield a client for ever).
	 */
	owed = v->cmd_head != v->cmd_tail || (v->flags & SW_SESS_DOT);
	if (owed && v->last_client_ns && now > v->last_client_ns && now - v->last_client_ns < SW_OWED_MAX_NS)
		return 0;
	since = v->progress_ns > v->greeting_ns ? v->progress_ns : v->greeting_ns;
	return now > since ? now - since : 0;
}

bool sw_source_on_probation(const struct sw_config *cfg, const struct sw_settings *s,
			    const struct sw_source *src, uint64_t now)
{
	if (sw_source_known_good(cfg, src, now) || src->list_verdict == SW_LIST_ALLOW)
		return false;
	if (s->emerg_admit_home && src->country >= SW_COUNTRY_FIRST && src->country <= SW_COUNTRY_LAST &&
	    s->geo_home[src->country])
		return false;
	return true;
}

void sw_gc_free(struct sw_gc *gc)
{
	free(gc->drift);
	free(gc->seen);
	memset(gc, 0, sizeof(*gc));
}

uint32_t sw_source_live(const struct sw_kernel *k, const struct sw_src_key *key,
			const struct sw_source *src)
{
	__u64 reaped = 0;

	bpf_map_lookup_elem(k->reaped_fd, key, &reaped);
	return sw_sessions_live(src->sessions_open, reaped);
}

static void add_reaped(const struct sw_kernel *k, const struct sw_src_key *key, uint64_t n)
{
	__u64 reaped = 0;

	/* The daemon is the only writer of sw_reaped: read-modify-write is safe. */
	bpf_map_lookup_elem(k->reaped_fd, key, &reaped);
	reaped += n;
	if (bpf_map_update_elem(k->reaped_fd, key, &reaped, BPF_ANY))
		sw_warn("gc: cannot update sw_reaped: %s", strerror(errno));
}

/*
 * Pass 1: expire idle sessions and count the rest per source. A session
 * first seen in this run (new, or the daemon restarted) counts as active
 * now: an idle session then lives one idle_timeout longer, never less.
 */
static long gc_sessions(struct sw_gc *gc, const struct sw_kernel *k, const struct sw_settings *s,
			uint64_t now, struct src_count **counts_out, struct sw_gc_result *res)
{
	struct sw_session_key *keys;
	struct sw_session *vals;
	struct src_count *counts;
	struct sw_sess_seen *seen;
	long n, nc = 0, ns = 0;
	bool emergency = __atomic_load_n(&k->config->flags, __ATOMIC_RELAXED) & SW_CFG_EMERGENCY;

	n = sw_map_dump(k->sessions_fd, sizeof(*keys), sizeof(*vals), (void **)&keys, (void **)&vals);
	if (n < 0)
		return n;
	res->sessions_seen = n;
	counts = calloc(n + 1, sizeof(*counts));
	seen = calloc(n + 1, sizeof(*seen));
	res->idle = calloc(n + 1, sizeof(*res->idle));
	if (!counts || !seen || !res->idle) {
		free(counts);
		free(seen);
		sw_gc_result_free(res);
		free(keys);
		free(vals);
		return -ENOMEM;
	}
	for (long i = 0; i < n; i++) {
		struct src_count *c = &counts[nc++];
		struct sw_sess_seen *prev = NULL, *cur = &seen[ns];

		if (gc->n_seen)
			prev = bsearch(&keys[i], gc->seen, gc->n_seen, sizeof(*gc->seen), sess_cmp);
		cur->key = keys[i];
		cur->start_ns = vals[i].start_ns;
		cur->packets = vals[i].packets;
		cur->changed_ns = prev && prev->start_ns == vals[i].start_ns &&
				  prev->packets == vals[i].packets ? prev->changed_ns : now;

		sw_source_key_raw(k->config, keys[i].family, keys[i].saddr, &c->key);
		c->in_map = 1;
		if (now - cur->changed_ns > s->idle_timeout_ns &&
		    !bpf_map_delete_elem(k->sessions_fd, &keys[i])) {
			/* We deleted it, so the program cannot close it again: reap once. */
			c->in_map = 0;
			c->reaped = 1;
			res->sessions_expired++;
			continue;
		}
		ns++;

		uint64_t idle = sw_session_idle_ns(&vals[i], now);
		uint64_t limit = sw_settings_idle_ns(s, vals[i].phase);
		uint64_t watch = limit && limit < s->emerg_idle_ns ? limit : s->emerg_idle_ns;
		uint64_t probation = emergency ? sw_settings_probation_ns(s, vals[i].phase) : 0;
		/* A probation candidate by age: its lifetime runs out outside the message data. */
		bool aged = emergency && s->probation_share && !(vals[i].flags & (SW_SESS_TLS | SW_SESS_BODY)) &&
			    !(vals[i].flags & (SW_SESS_QUIT | SW_SESS_SRV_CLOSE)) && vals[i].greeting_ns &&
			    now - vals[i].start_ns >= s->probation_lifetime_ns;

		if (probation && probation < watch)
			watch = probation;
		if (vals[i].flags & SW_SESS_PROBATION)
			res->probation_sessions++;
		if ((idle && idle >= watch) || aged) {
			struct sw_idle_session *is = &res->idle[res->n_idle++];

			is->key = keys[i];
			is->src = c->key;
			is->idle_ns = idle;
			is->threshold_ns = limit;
			is->start_ns = vals[i].start_ns;
			is->flags = vals[i].flags;
			is->phase = vals[i].phase;
		}
	}
	free(keys);
	free(vals);
	qsort(seen, ns, sizeof(*seen), sess_cmp);
	free(gc->seen);
	gc->seen = seen;
	gc->n_seen = ns;

	/* Fold to one row per source. */
	qsort(counts, nc, sizeof(*counts), key_cmp);
	long out = 0;
	for (long i = 0; i < nc; i++) {
		if (out && !key_cmp(&counts[out - 1].key, &counts[i].key)) {
			counts[out - 1].in_map += counts[i].in_map;
			counts[out - 1].reaped += counts[i].reaped;
		} else {
			counts[out++] = counts[i];
		}
	}
	for (long i = 0; i < out; i++)
		if (counts[i].reaped)
			add_reaped(k, &counts[i].key, counts[i].reaped);
	*counts_out = counts;
	return out;
}

static uint32_t previous_drift(const struct sw_gc *gc, const struct sw_src_key *key)
{
	struct sw_src_drift *d;

	/* Before the first run drift is NULL, which bsearch() must not be given. */
	if (!gc->n_drift)
		return 0;
	d = bsearch(key, gc->drift, gc->n_drift, sizeof(*d), key_cmp);
	return d ? d->drift : 0;
}

/* Nothing holds source @src any more (@live and @in_map: its sessions): it may go. */
static bool source_done(const struct sw_source *src, uint32_t live, uint32_t in_map, const struct sw_settings *s,
			uint64_t now)
{
	return live == 0 && in_map == 0 && src->penalty_until_ns <= now && !sw_source_pending(src, now) &&
	       src->last_syn_ns < now && now - src->last_syn_ns > s->source_idle_ns &&
	       (!src->last_offence_ns || now - src->last_offence_ns > s->penalty_forget_ns) &&
	       !sw_known_good(src->last_good_ns, s->good_ttl_ns, now);
}

int sw_gc_walk(struct sw_gc *gc, const struct sw_kernel *k, const struct sw_settings *s, uint64_t now,
	       struct sw_gc_result *res)
{
	struct sw_src_drift *drift = NULL;
	struct src_count *counts = NULL;
	struct sw_src_key *keys = NULL;
	struct sw_source *vals = NULL;
	long nc, n, nd = 0;
	int ret = 0;

	memset(res, 0, sizeof(*res));
	/* Before the walk: admissions after this read are charged against the slots it finds free. */
	{
		struct sw_global g;
		__u32 zero = 0;

		if (!bpf_map_lookup_elem(k->global_fd, &zero, &g))
			res->probation_admitted = g.probation_admitted;
	}
	nc = gc_sessions(gc, k, s, now, &counts, res);
	if (nc < 0)
		return (int)nc;

	n = sw_map_dump(k->sources_fd, sizeof(*keys), sizeof(*vals), (void **)&keys, (void **)&vals);
	if (n < 0) {
		ret = (int)n;
		goto out;
	}
	res->sources_seen = n;
	drift = calloc(n + 1, sizeof(*drift));
	if (!drift) {
		ret = -ENOMEM;
		goto out;
	}

	for (long i = 0; i < n; i++) {
		struct src_count *c = bsearch(&keys[i], counts, nc, sizeof(*counts), key_cmp);
		uint32_t in_map = c ? c->in_map : 0;
		uint32_t live = sw_source_live(k, &keys[i], &vals[i]);
		const struct sw_source *src = &vals[i];

		res->probation_pending += sw_source_pending_probation(src, now);

		/*
		 * More sessions open than in the map: the LRU evicted some. A
		 * SYN racing with this walk looks the same for one run, so act
		 * only when the same gap is seen twice in a row.
		 */
		if (live > in_map) {
			uint32_t gap = live - in_map;

			if (previous_drift(gc, &keys[i]) == gap) {
				add_reaped(k, &keys[i], gap);
				res->sessions_evicted += gap;
				live = in_map;
			} else {
				drift[nd].key = keys[i];
				drift[nd].drift = gap;
				nd++;
			}
		}

		if (source_done(src, live, in_map, s, now)) {
			struct sw_source fresh;

			/*
			 * Read again just before it goes: the dump is as old as the
			 * walk (a fifth of a second at 100,000 sources), and a SYN
			 * or a penalty given meanwhile (the mail log's, a CLI
			 * ban) keeps the source.
			 */
			if (bpf_map_lookup_elem(k->sources_fd, &keys[i], &fresh) ||
			    !source_done(&fresh, sw_source_live(k, &keys[i], &fresh), in_map, s, now))
				continue;
			if (!bpf_map_delete_elem(k->sources_fd, &keys[i])) {
				bpf_map_delete_elem(k->reaped_fd, &keys[i]);
				res->sources_expired++;
			}
		}
	}
	free(gc->drift);
	gc->drift = drift;
	gc->n_drift = nd;
	/* Sorted for bsearch in the next run. */
	qsort(gc->drift, gc->n_drift, sizeof(*gc->drift), key_cmp);
	drift = NULL;
out:
	free(drift);
	free(counts);
	free(keys);
	free(vals);
	return ret;
}

int sw_gc_expire_lists(const struct sw_kernel *k, const struct sw_settings *s, uint64_t now,
		       struct sw_gc_result *res)
{
	int ret = 0;

	/* Expired allow/deny entries. */
	for (int kind = SW_LIST_KIND_ALLOW; kind <= SW_LIST_KIND_DENY; kind++) {
		struct sw_list_item *items;
		long ni = sw_list_dump(k, kind, &items);

		if (ni < 0) {
			ret = (int)ni;
			continue;
		}
		for (long i = 0; i < ni; i++) {
			if (!items[i].entry.expires_ns || items[i].entry.expires_ns > now)
				continue;
			/*
			 * A timed CLI entry loaded over a config entry of the same
			 * prefix: when it runs out, the config's permanent one is due.
			 */
			if (sw_lists_in_config(s, kind, &items[i].cidr)) {
				if (!sw_list_put(k, kind, &items[i].cidr, 0, SW_ORIGIN_CONFIG))
					res->list_expired++;
			} else if (!sw_list_del(k, kind, &items[i].cidr)) {
				res->list_expired++;
			}
		}
		free(items);
	}
	if (res->list_expired)
		sw_list_bump_gen(k);
	return ret;
}

int sw_gc_run(struct sw_gc *gc, const struct sw_kernel *k, const struct sw_settings *s, uint64_t now,
	      struct sw_gc_result *res)
{
	int ret = sw_gc_walk(gc, k, s, now, res);
	int r = sw_gc_expire_lists(k, s, now, res);

	return ret ? ret : r;
}
