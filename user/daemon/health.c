// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include "daemon.h"
#include "bus.h"
#include "health.h"
#include "log.h"

#define NS_PER_SEC 1000000000ULL

static const char *const mode_names[] = { [SW_EM_AUTO] = "auto", [SW_EM_ON] = "on", [SW_EM_OFF] = "off" };

const char *sw_emergency_mode_name(unsigned mode)
{
	return mode <= SW_EM_OFF ? mode_names[mode] : "unknown";
}

const char *sw_emergency_reason_name(unsigned reason)
{
	static const char *const names[] = {
		[SW_ER_NONE] = "none",	     [SW_ER_SESSIONS] = "sessions", [SW_ER_RATE] = "rate",
		[SW_ER_MANUAL] = "manual",   [SW_ER_CALM] = "calm",
	};
	return reason <= SW_ER_CALM ? names[reason] : "unknown";
}

int sw_health_init(struct sw_health *h, char *err, size_t errlen)
{
	memset(h, 0, sizeof(*h));
	h->diag = sw_sockdiag_open(err, errlen);
	return h->diag ? 0 : -1;
}

void sw_health_free(struct sw_health *h)
{
	sw_sockdiag_close(h->diag);
	free(h->doomed);
	memset(h, 0, sizeof(*h));
}

static bool is_health_reason(uint32_t reason)
{
	return reason == SW_R_IDLE || reason == SW_R_PREGREET || reason == SW_R_HARVEST || reason == SW_R_AUTH ||
	       reason == SW_R_PROBATION;
}

void sw_health_penalised(struct sw_health *h, const struct sw_settings *s, const struct sw_src_key *key,
			 uint32_t reason)
{
	if (!s->teardown_penalised || !is_health_reason(reason))
		return;
	for (long i = 0; i < h->n_doomed; i++)
		if (!memcmp(&h->doomed[i], key, sizeof(*key)))
			return;
	if (h->n_doomed == h->cap_doomed) {
		long cap = h->cap_doomed ? h->cap_doomed * 2 : 64;
		struct sw_src_key *d = realloc(h->doomed, cap * sizeof(*d));

		if (!d) {
			sw_warn("health: out of memory: the sessions of a penalised source stay up");
			return;
		}
		h->doomed = d;
		h->cap_doomed = cap;
	}
	h->doomed[h->n_doomed++] = *key;
}

enum sw_emergency_mode sw_health_mode(struct sw_store *store, const struct sw_settings *s)
{
	char v[16], err[256];

	if (store && sw_store_setting_get(store, "emergency_mode", v, sizeof(v), err, sizeof(err)) == 1) {
		for (unsigned m = SW_EM_AUTO; m <= SW_EM_OFF; m++)
			if (!strcmp(v, mode_names[m]))
				return m;
		sw_warn("state.db: emergency_mode \"%s\" is not auto, on or off; using the config's", v);
	}
	return s->emergency_mode;
}

static void src_text(const struct sw_kernel *k, const struct sw_src_key *key, char *buf, size_t len)
{
	struct sw_cidr c;

	sw_source_cidr(k->config, key, &c);
	sw_format_cidr(&c, true, buf, len);
}

/* "198.51.100.7:41234 -> 192.0.2.1:25" */
static void session_text(const struct sw_session_key *key, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
	int af = key->family == SW_AF_INET ? AF_INET : AF_INET6;

	inet_ntop(af, key->saddr, a, sizeof(a));
	inet_ntop(af, key->daddr, b, sizeof(b));
	snprintf(buf, len, af == AF_INET ? "%s:%u -> %s:%u" : "[%s]:%u -> [%s]:%u", a, ntohs(key->sport), b,
		 ntohs(key->dport));
}

#define phase_name sw_phase_name

/* "2.1s": idle times are measured, not configured, so they are never round. */
static void secs_text(uint64_t ns, char *buf, size_t len)
{
	snprintf(buf, len, "%.1fs", ns / 1e9);
}

/* Tear one session down; counted and logged with @why. */
static int teardown(struct sw_health *h, const struct sw_kernel *k, struct sw_daemon_state *ds,
		    const struct sw_session_key *key, const char *why, bool emergency)
{
	char txt[128];
	int r;

	if (!h->diag)
		return -ENOTCONN;
	session_text(key, txt, sizeof(txt));
	r = sw_sockdiag_destroy(h->diag, key);
	if (r == -ENOENT) {
		/* The MTA closed it meanwhile; the record is stale. */
		bpf_map_delete_elem(k->sessions_fd, key);
		return r;
	}
	if (r) {
		ds->teardown_failed++;
		sw_bus_emit(SW_BUS_TEARDOWN, SW_LOG_WARN, "failed", txt, emergency ? "emergency" : "penalised",
			    "%s: %s%s", txt, strerror(-r),
			    r == -EOPNOTSUPP ? " (the kernel lacks CONFIG_INET_DIAG_DESTROY)" : "");
		return r;
	}
	ds->teardowns++;
	if (emergency)
		ds->teardowns_emergency++;
	else
		ds->teardowns_penalised++;
	sw_bus_emit(SW_BUS_TEARDOWN, SW_LOG_INFO, "torn down", txt, emergency ? "emergency" : "penalised",
		    "%s: %s", txt, why);
	return 0;
}

/* Per source: idle sessions beyond their phase's threshold. */
struct idle_count {
	struct sw_src_key src;
	uint32_t idle;
	uint32_t worst;		/* index of its most idle session */
};

static int src_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct sw_src_key));
}

static long count_idle(const struct sw_gc_result *gc, struct idle_count **out)
{
	struct idle_count *c = calloc(gc->n_idle + 1, sizeof(*c));
	long n = 0;

	*out = c;
	if (!c)
		return -ENOMEM;
	for (long i = 0; i < gc->n_idle; i++) {
		const struct sw_idle_session *is = &gc->idle[i];

		if (!is->threshold_ns || is->idle_ns < is->threshold_ns)
			continue;
		c[n].src = is->src;
		c[n].idle = 1;
		c[n].worst = i;
		n++;
	}
	qsort(c, n, sizeof(*c), src_cmp);
	long m = 0;
	for (long i = 0; i < n; i++) {
		if (m && !src_cmp(&c[m - 1].src, &c[i].src)) {
			c[m - 1].idle++;
			if (gc->idle[c[i].worst].idle_ns > gc->idle[c[m - 1].worst].idle_ns)
				c[m - 1].worst = c[i].worst;
		} else {
			c[m++] = c[i];
		}
	}
	return m;
}

/* The idle policy: penalise (and doom) sources over max_idle. */
static void idle_policy(struct sw_health *h, struct sw_loader *l, const struct sw_settings *s,
			const struct sw_gc_result *gc, struct idle_count *c, long n, struct sw_daemon_state *ds)
{
	for (long i = 0; i < n; i++) {
		const struct sw_idle_session *worst = &gc->idle[c[i].worst];
		char who[64], idle[32], limit[32];
		int r;

		if (!s->max_idle || c[i].idle <= s->max_idle)
			continue;
		r = sw_loader_penalize(l, &c[i].src, SW_R_IDLE, c[i].idle);
		if (r == -EALREADY || r == -ENOENT)
			continue;	/* penalised already, or forgotten: nothing to add */
		src_text(&l->k, &c[i].src, who, sizeof(who));
		if (r) {
			sw_warn("idle: cannot penalise %s: %s", who, strerror(-r));
			continue;
		}
		ds->idle_penalties++;
		secs_text(worst->idle_ns, idle, sizeof(idle));
		sw_format_duration(worst->threshold_ns, limit, sizeof(limit));
		struct sw_bus_event ev = { .kind = SW_BUS_IDLE, .level = SW_LOG_INFO, .count = c[i].idle };

		snprintf(ev.action, sizeof(ev.action), "penalised");
		snprintf(ev.source, sizeof(ev.source), "%s", who);
		snprintf(ev.reason, sizeof(ev.reason), "idle");
		snprintf(ev.text, sizeof(ev.text),
			 "%s holds %u idle sessions (limit %u; the longest idle %s in phase %s, threshold %s): "
			 "penalised", who, c[i].idle, s->max_idle, idle, phase_name(worst->phase), limit);
		sw_bus_publish(&ev);
		sw_health_penalised(h, s, &c[i].src, SW_R_IDLE);
	}
}

/* Tear down every session of the doomed sources. */
static void teardown_doomed(struct sw_health *h, const struct sw_kernel *k, struct sw_daemon_state *ds)
{
	struct sw_session_key *keys = NULL;
	struct sw_session *vals = NULL;
	long n;

	if (!h->n_doomed)
		return;
	qsort(h->doomed, h->n_doomed, sizeof(*h->doomed), src_cmp);
	n = sw_map_dump(k->sessions_fd, sizeof(*keys), sizeof(*vals), (void **)&keys, (void **)&vals);
	for (long i = 0; i < n; i++) {
		struct sw_src_key src;
		struct sw_source st;
		char why[96];

		sw_source_key_raw(k->config, keys[i].family, keys[i].saddr, &src);
		if (!bsearch(&src, h->doomed, h->n_doomed, sizeof(*h->doomed), src_cmp))
			continue;
		if (bpf_map_lookup_elem(k->sources_fd, &src, &st))
			memset(&st, 0, sizeof(st));
		snprintf(why, sizeof(why), "source penalised (%s)", sw_reason_name(st.penalty_reason));
		teardown(h, k, ds, &keys[i], why, false);
	}
	free(keys);
	free(vals);
	h->n_doomed = 0;
}

/*
 * Probation, during an emergency: a plaintext session of a source not
 * known good that made no progress within its phase's probation limit, or
 * outlived probation_lifetime (counted from the emergency's start at the
 * earliest, outside message data), fails: its source is penalised (reason
 * probation, the kernel's escalation) and its sessions torn down. An
 * encrypted session cannot be read, so it is never judged here.
 */
static void probation_judge(struct sw_health *h, struct sw_loader *l, const struct sw_settings *s,
			    const struct sw_gc_result *gc, struct sw_daemon_state *ds, uint64_t now)
{
	const struct sw_kernel *k = &l->k;

	if (!s->probation_share)
		return;
	for (long i = 0; i < gc->n_idle; i++) {
		const struct sw_idle_session *is = &gc->idle[i];
		uint64_t limit = sw_settings_probation_ns(s, is->phase);
		uint64_t from = is->start_ns > ds->emergency_since_ns ? is->start_ns : ds->emergency_since_ns;
		uint64_t age = now > from ? now - from : 0;
		bool stalled, expired;
		struct sw_source src;
		char who[64], sess[128], why[160];
		uint32_t detail, ms;
		int r;

		if (is->flags & (SW_SESS_TLS | SW_SESS_QUIT | SW_SESS_SRV_CLOSE))
			continue;
		stalled = limit && is->idle_ns >= limit;
		expired = !(is->flags & SW_SESS_BODY) && age >= s->probation_lifetime_ns;
		if (!stalled && !expired)
			continue;
		if (bpf_map_lookup_elem(k->sources_fd, &is->src, &src))
			continue;	/* forgotten: nothing to judge it by */
		if (!sw_source_on_probation(k->config, s, &src, now))
			continue;
		ms = (stalled ? is->idle_ns : age) / 1000000;
		if (ms > SW_PROBATION_MS_MASK)
			ms = SW_PROBATION_MS_MASK;
		detail = ms | (uint32_t)(is->phase & SW_PROBATION_PHASE_MASK) << SW_PROBATION_PHASE_SHIFT |
			 (stalled ? 0 : SW_PROBATION_LIFETIME);
		sw_probation_text(detail, stalled ? limit : s->probation_lifetime_ns, why, sizeof(why));
		src_text(k, &is->src, who, sizeof(who));
		session_text(&is->key, sess, sizeof(sess));
		r = sw_loader_penalize(l, &is->src, SW_R_PROBATION, detail);
		if (r && r != -EALREADY) {
			sw_warn("probation: cannot penalise %s: %s", who, strerror(-r));
			continue;
		}
		if (!r) {
			ds->probation_failed++;
			sw_bus_emit(SW_BUS_PROBATION, SW_LOG_INFO, "penalised", who, "probation",
				    "%s failed: %s (session %s): penalised", who, why, sess);
		} else {
			sw_debug("probation: %s: another session failed: %s (session %s)", who, why, sess);
		}
		/* Its sessions go, this one included, unless [sessions] teardown = never. */
		sw_health_penalised(h, s, &is->src, SW_R_PROBATION);
	}
}

/*
 * The probation slots free now, as a limit on the kernel's admission
 * counter: what it read before the walk plus the slots the walk found
 * free. An admission racing with the walk is counted twice at worst (a
 * slot held back for one run), never missed.
 */
static void probation_budget(const struct sw_kernel *k, const struct sw_settings *s,
			     const struct sw_gc_result *gc, struct sw_daemon_state *ds)
{
	uint64_t slots = sw_settings_probation_slots(s);
	uint64_t used = gc->probation_sessions + gc->probation_pending;
	uint64_t free_slots = slots > used ? slots - used : 0;

	ds->probation_slots = slots;
	ds->probation_used = used;
	__atomic_store_n(&k->config->probation_limit, gc->probation_admitted + free_slots, __ATOMIC_SEQ_CST);
}

struct candidate {
	uint32_t idx;		/* into gc->idle */
	uint32_t src_idle;	/* idle sessions its source holds */
};

static int cand_cmp(const void *a, const void *b, void *arg)
{
	const struct candidate *x = a, *y = b;
	const struct sw_gc_result *gc = arg;

	if (x->src_idle != y->src_idle)
		return x->src_idle < y->src_idle ? 1 : -1;
	if (gc->idle[x->idx].idle_ns != gc->idle[y->idx].idle_ns)
		return gc->idle[x->idx].idle_ns < gc->idle[y->idx].idle_ns ? 1 : -1;
	return 0;
}

/* In an emergency: sessions idle beyond [emergency] idle, the worst sources' most idle first. */
static void teardown_emergency(struct sw_health *h, const struct sw_kernel *k, const struct sw_settings *s,
			       const struct sw_gc_result *gc, struct idle_count *c, long nc,
			       struct sw_daemon_state *ds)
{
	struct candidate *cand = calloc(gc->n_idle + 1, sizeof(*cand));
	long n = 0, done = 0;

	if (!cand)
		return;
	for (long i = 0; i < gc->n_idle; i++) {
		struct idle_count key = { .src = gc->idle[i].src }, *found;

		if (gc->idle[i].idle_ns < s->emerg_idle_ns)
			continue;
		found = nc ? bsearch(&key, c, nc, sizeof(*c), src_cmp) : NULL;
		cand[n].idx = i;
		cand[n].src_idle = found ? found->idle : 0;
		n++;
	}
	qsort_r(cand, n, sizeof(*cand), cand_cmp, (void *)gc);
	for (long i = 0; i < n && done < s->emerg_teardown_max; i++) {
		const struct sw_idle_session *is = &gc->idle[cand[i].idx];
		char why[128], idle[32];

		secs_text(is->idle_ns, idle, sizeof(idle));
		snprintf(why, sizeof(why), "idle %s in phase %s during the emergency (its source holds %u idle)",
			 idle, phase_name(is->phase), cand[i].src_idle);
		if (!teardown(h, k, ds, &is->key, why, true))
			done++;
	}
	free(cand);
}

static void enter(const struct sw_kernel *k, struct sw_daemon_state *ds, uint64_t now, unsigned reason,
		  const char *detail)
{
	sw_kernel_config_flag(k, SW_CFG_EMERGENCY, true);
	ds->emergency_since_ns = now;
	ds->emergency_since_unix = time(NULL);
	ds->emergency_entered++;
	ds->reason = reason;
	snprintf(ds->detail, sizeof(ds->detail), "%s", detail);
	sw_bus_emit(SW_BUS_EMERGENCY, SW_LOG_WARN, "entered", "", sw_emergency_reason_name(reason),
		    "entered: %s; new sessions from known-good sources, the others on probation; "
		    "idle sessions torn down", detail);
}

static void leave(const struct sw_kernel *k, struct sw_daemon_state *ds, uint64_t now, unsigned reason,
		  const char *detail)
{
	sw_kernel_config_flag(k, SW_CFG_EMERGENCY, false);
	if (ds->emergency_since_ns && now > ds->emergency_since_ns)
		ds->emergency_ns_total += now - ds->emergency_since_ns;
	ds->emergency_since_ns = 0;
	ds->emergency_since_unix = 0;
	ds->emergency_left++;
	ds->reason = reason;
	snprintf(ds->detail, sizeof(ds->detail), "%s", detail);
	sw_bus_emit(SW_BUS_EMERGENCY, SW_LOG_INFO, "left", "", sw_emergency_reason_name(reason), "left: %s",
		    detail);
}

/*
 * @pressure_ns: the last run in which emergency mode refused enough new
 * sessions to fill the MTA again. Leaving needs the sessions below the
 * low-water mark and no such pressure for the hold time: with an attack
 * still knocking, leaving would let it refill the MTA's slots at once.
 */
static void emergency(const struct sw_kernel *k, const struct sw_settings *s, enum sw_emergency_mode mode,
		      uint64_t now, uint64_t pressure_ns, struct sw_daemon_state *ds)
{
	bool active = ds->emergency_since_ns != 0;
	uint64_t per_s = s->emerg_rate_interval_ns ? NS_PER_SEC / s->emerg_rate_interval_ns : 0;
	bool fast = per_s && ds->new_session_rate >= per_s;
	char detail[128];

	ds->mode = mode;
	ds->high = sw_settings_emerg_high(s);
	ds->low = sw_settings_emerg_low(s);
	if (mode == SW_EM_ON && !active) {
		enter(k, ds, now, SW_ER_MANUAL, "turned on by the operator (smtpwall emergency on)");
	} else if (mode == SW_EM_OFF && active) {
		leave(k, ds, now, SW_ER_MANUAL, "turned off by the operator (smtpwall emergency off)");
	} else if (mode == SW_EM_AUTO && !active) {
		if (ds->sessions_now >= ds->high) {
			snprintf(detail, sizeof(detail), "%" PRIu64 " sessions, high-water mark %u (capacity %u)",
				 (uint64_t)ds->sessions_now, ds->high, s->mta_capacity);
			enter(k, ds, now, SW_ER_SESSIONS, detail);
		} else if (fast) {
			snprintf(detail, sizeof(detail), "%" PRIu64 " new sessions/s, limit %" PRIu64 "/s",
				 (uint64_t)ds->new_session_rate, per_s);
			enter(k, ds, now, SW_ER_RATE, detail);
		}
	} else if (mode == SW_EM_AUTO && active && ds->sessions_now < ds->low && !fast &&
		   now - ds->emergency_since_ns >= s->emerg_hold_ns &&
		   (!pressure_ns || now - pressure_ns >= s->emerg_hold_ns)) {
		snprintf(detail, sizeof(detail), "%" PRIu64 " sessions, below the low-water mark %u, no pressure "
			 "for %" PRIu64 " s, after %" PRIu64 " s", (uint64_t)ds->sessions_now, ds->low,
			 (uint64_t)(s->emerg_hold_ns / NS_PER_SEC),
			 (uint64_t)((now - ds->emergency_since_ns) / NS_PER_SEC));
		leave(k, ds, now, SW_ER_CALM, detail);
	}
	/* The kernel's flag follows the decision even if something rewrote the config. */
	sw_kernel_config_flag(k, SW_CFG_EMERGENCY, ds->emergency_since_ns != 0);
}

void sw_health_run(struct sw_health *h, struct sw_loader *l, const struct sw_settings *s,
		   struct sw_store *store, const struct sw_gc_result *gc, uint64_t now)
{
	const struct sw_kernel *k = &l->k;
	struct sw_daemon_state ds;
	struct sw_stats st;
	struct idle_count *c = NULL;
	long nc, sessions;

	sw_kernel_daemon_state(k, &ds);
	/* The MTA's own count when sock_diag works: what its process limit sees. */
	sessions = h->diag ? sw_sockdiag_count(h->diag, s->port_bitmap) : -ENOTCONN;
	if (sessions < 0) {
		if (!h->warned_count)
			sw_warn("health: cannot count the MTA's sessions with sock_diag (%s); using the "
				"session table", strerror((int)-sessions));
		h->warned_count = true;
		sessions = gc->sessions_seen - gc->sessions_expired;
	}
	ds.sessions_now = sessions;
	if (!sw_kernel_stats(k, &st)) {
		uint64_t refused = st.dropped[SW_R_EMERGENCY] + st.would_drop[SW_R_EMERGENCY];

		if (h->last_run_ns && now > h->last_run_ns && st.sessions_opened >= h->last_opened)
			ds.new_session_rate = (st.sessions_opened - h->last_opened) * NS_PER_SEC /
					      (now - h->last_run_ns);
		/*
		 * Pressure: more new sessions refused in this run than the MTA
		 * has free slots, so leaving now would fill it again. A trickle
		 * of unknown but real senders on a busy host is not pressure.
		 */
		if (h->last_run_ns && refused > h->last_refused &&
		    refused - h->last_refused + ds.sessions_now >= sw_settings_emerg_high(s))
			h->pressure_ns = now;
		h->last_opened = st.sessions_opened;
		h->last_refused = refused;
	}
	h->last_run_ns = now;

	nc = count_idle(gc, &c);
	if (nc < 0)
		nc = 0;
	ds.idle_now = 0;
	for (long i = 0; i < nc; i++)
		ds.idle_now += c[i].idle;
	idle_policy(h, l, s, gc, c, nc, &ds);
	emergency(k, s, sw_health_mode(store, s), now, h->pressure_ns, &ds);
	probation_budget(k, s, gc, &ds);
	if (ds.emergency_since_ns)
		probation_judge(h, l, s, gc, &ds, now);
	teardown_doomed(h, k, &ds);
	if (ds.emergency_since_ns)
		teardown_emergency(h, k, s, gc, c, nc, &ds);
	ds.last_run_unix = time(NULL);
	sw_kernel_set_daemon_state(k, &ds);
	free(c);
}
