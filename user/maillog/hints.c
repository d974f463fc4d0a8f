// SPDX-License-Identifier: GPL-2.0
/* The hints engine: log lines and policy refusals into kernel actions (hints.h). */
#include "hints.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpwall/common.h"
#include "smtpwall/source_key.h"
#include "smtpwall/verdict.h"

#define SUSPENDED_TIMES 16
#define SWEEP		64	/* entries looked at for the one to reuse when full */
#define VOUCH_EVERY_MS	60000	/* a source is vouched for at most once a minute */

struct link {
	char account[SW_MLOG_USER_LEN];
	int64_t first_seen, last_seen, last_login, last_failure;	/* unix s */
	int64_t last_login_ms;
	uint64_t logins, failures;
	bool dirty;
};

struct src {
	struct src *next;
	struct sw_src_key key;
	uint32_t hash;
	int64_t last_ms;
	int64_t fails[SW_HINTS_FAILS];	/* ms; 0 empty */
	unsigned fail_next;
	bool fails_dirty;		/* changed since the store last had them */
	int64_t suspended[SUSPENDED_TIMES];
	unsigned suspended_next;
	int64_t vouched_ms, spared_ms;
	struct link *links;		/* SW_HINTS_LINKS, allocated with the first */
	unsigned n_links;
};

struct guesser {
	uint32_t key_hash;
	int64_t ms;
};

struct acct {
	struct acct *next;
	uint32_t hash;
	char name[SW_MLOG_USER_LEN];
	int64_t last_ms, flagged_ms;
	struct guesser g[SW_HINTS_GUESSERS];
	unsigned g_next;
};

struct table {
	void **buckets;		/* struct src * or struct acct *: both start with their next */
	size_t n_buckets, count, cap, cursor;
};

struct sw_hints {
	struct sw_hints_conf conf;
	uint32_t v4_mask, v6_mask[4];
	struct sw_hints_ops ops;
	struct table srcs, accts;
	struct sw_hints_stats st;
};

static uint32_t hash_bytes(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint32_t h = 2166136261u;

	while (n--)
		h = (h ^ *b++) * 16777619u;
	return h;
}

static uint32_t key_hash(const struct sw_src_key *k)
{
	return hash_bytes(k, sizeof(*k));
}

static bool table_init(struct table *t, size_t cap)
{
	t->n_buckets = cap * 2;
	t->cap = cap;
	t->buckets = calloc(t->n_buckets, sizeof(void *));
	return t->buckets != NULL;
}

struct sw_hints *sw_hints_new(const struct sw_hints_conf *conf, const struct sw_config *masks,
			      const struct sw_hints_ops *ops)
{
	struct sw_hints *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->conf = *conf;
	h->v4_mask = masks->v4_mask;
	memcpy(h->v6_mask, masks->v6_mask, sizeof(h->v6_mask));
	h->ops = *ops;
	if (!table_init(&h->srcs, SW_HINTS_SOURCES) || !table_init(&h->accts, SW_HINTS_ACCOUNTS)) {
		sw_hints_free(h);
		return NULL;
	}
	return h;
}

void sw_hints_free(struct sw_hints *h)
{
	if (!h)
		return;
	for (size_t i = 0; h->srcs.buckets && i < h->srcs.n_buckets; i++)
		for (struct src *s = h->srcs.buckets[i], *n; s; s = n) {
			n = s->next;
			free(s->links);
			free(s);
		}
	for (size_t i = 0; h->accts.buckets && i < h->accts.n_buckets; i++)
		for (struct acct *a = h->accts.buckets[i], *n; a; a = n) {
			n = a->next;
			free(a);
		}
	free(h->srcs.buckets);
	free(h->accts.buckets);
	free(h);
}

void sw_hints_configure(struct sw_hints *h, const struct sw_hints_conf *conf)
{
	h->conf = *conf;
}

const struct sw_hints_stats *sw_hints_stats(const struct sw_hints *h)
{
	return &h->st;
}

void sw_hints_key(const struct sw_hints *h, uint8_t family, const uint8_t addr[16], struct sw_src_key *key)
{
	uint32_t a[4] = { 0 };
	struct sw_config masks;

	memset(&masks, 0, sizeof(masks));
	masks.v4_mask = h->v4_mask;
	memcpy(masks.v6_mask, h->v6_mask, sizeof(masks.v6_mask));
	memcpy(a, addr, family == SW_AF_INET ? 4 : 16);
	sw_source_key_raw(&masks, family, a, key);
}

/* ---- sources ---- */

static struct src *src_find(const struct sw_hints *h, const struct sw_src_key *key, uint32_t hash)
{
	for (struct src *s = h->srcs.buckets[hash % h->srcs.n_buckets]; s; s = s->next)
		if (s->hash == hash && !memcmp(&s->key, key, sizeof(*key)))
			return s;
	return NULL;
}

static void src_unlink(struct sw_hints *h, struct src *victim)
{
	struct src **pp = (struct src **)&h->srcs.buckets[victim->hash % h->srcs.n_buckets];

	while (*pp && *pp != victim)
		pp = &(*pp)->next;
	if (*pp)
		*pp = victim->next;
	h->srcs.count--;
}

/* The entry idle longest among the next SWEEP buckets' entries, or NULL. */
static void *sweep_oldest(struct table *t, size_t last_ms_offset)
{
	void *best = NULL;
	int64_t best_ms = INT64_MAX;

	for (int i = 0; i < SWEEP * 4 && t->count; i++) {
		void *e = t->buckets[t->cursor];

		t->cursor = (t->cursor + 1) % t->n_buckets;
		for (; e; e = *(void **)e) {
			int64_t ms = *(int64_t *)((char *)e + last_ms_offset);

			if (ms < best_ms) {
				best_ms = ms;
				best = e;
			}
		}
		if (best && i >= SWEEP)
			break;
	}
	return best;
}

static struct src *src_get(struct sw_hints *h, const struct sw_src_key *key, int64_t now_ms)
{
	uint32_t hash = key_hash(key);
	struct src *s = src_find(h, key, hash);
	void **bucket;

	if (s) {
		s->last_ms = now_ms;
		return s;
	}
	if (h->srcs.count >= h->srcs.cap) {
		struct src *old = sweep_oldest(&h->srcs, offsetof(struct src, last_ms));

		if (!old || old->last_ms >= now_ms) {
			h->st.table_full++;
			return NULL;
		}
		src_unlink(h, old);
		free(old->links);
		free(old);
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		h->st.table_full++;
		return NULL;
	}
	s->key = *key;
	s->hash = hash;
	s->last_ms = now_ms;
	bucket = &h->srcs.buckets[hash % h->srcs.n_buckets];
	s->next = *bucket;
	*bucket = s;
	h->srcs.count++;
	return s;
}

static unsigned count_within(const int64_t *times, unsigned n, int64_t now_ms, uint64_t window_ms)
{
	unsigned c = 0;

	for (unsigned i = 0; i < n; i++)
		if (times[i] && now_ms - times[i] < (int64_t)window_ms && times[i] <= now_ms)
			c++;
	return c;
}

static unsigned shared_count(const struct sw_hints *h, const struct src *s, int64_t now_ms)
{
	unsigned c = 0;

	for (unsigned i = 0; i < s->n_links; i++) {
		const struct link *l = &s->links[i];

		if (l->account[0] && l->last_login_ms && now_ms - l->last_login_ms < (int64_t)h->conf.shared_window_ms)
			c++;
	}
	return c;
}

static bool src_shared(const struct sw_hints *h, const struct src *s, int64_t now_ms, unsigned *accounts)
{
	unsigned c = shared_count(h, s, now_ms);

	if (accounts)
		*accounts = c;
	return h->conf.shared_accounts && c >= h->conf.shared_accounts;
}

bool sw_hints_shared(const struct sw_hints *h, const struct sw_src_key *key, int64_t now_ms, unsigned *accounts)
{
	const struct src *s = src_find(h, key, key_hash(key));

	if (!s) {
		if (accounts)
			*accounts = 0;
		return false;
	}
	return src_shared(h, s, now_ms, accounts);
}

unsigned sw_hints_failures(const struct sw_hints *h, const struct sw_src_key *key, int64_t now_ms)
{
	const struct src *s = src_find(h, key, key_hash(key));

	return s ? count_within(s->fails, SW_HINTS_FAILS, now_ms, h->conf.auth_window_ms) : 0;
}

/*
 * The link of @account ("" for failures without a username). A full set
 * reuses the link seen longest ago.
 */
static struct link *link_get(struct sw_hints *h, struct src *s, const char *account, int64_t now_ms)
{
	struct link *l = NULL;

	if (!s->links) {
		s->links = calloc(SW_HINTS_LINKS, sizeof(*s->links));
		if (!s->links)
			return NULL;
	}
	for (unsigned i = 0; i < s->n_links; i++)
		if (!strcmp(s->links[i].account, account))
			return &s->links[i];
	if (s->n_links < SW_HINTS_LINKS) {
		l = &s->links[s->n_links++];
	} else {
		l = &s->links[0];
		for (unsigned i = 1; i < s->n_links; i++)
			if (s->links[i].last_seen < l->last_seen)
				l = &s->links[i];
	}
	memset(l, 0, sizeof(*l));
	snprintf(l->account, sizeof(l->account), "%s", account);
	l->first_seen = now_ms / 1000;
	return l;
}

static void note(struct sw_hints *h, const char *action, const struct sw_src_key *key, const char *account,
		 uint64_t count, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void note(struct sw_hints *h, const char *action, const struct sw_src_key *key, const char *account,
		 uint64_t count, const char *fmt, ...)
{
	char text[320];
	va_list ap;

	if (!h->ops.note)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	h->ops.note(h->ops.ctx, action, key, account, count, text);
}

static void window_text(uint64_t ms, char *buf, size_t len)
{
	if (ms % 3600000 == 0)
		snprintf(buf, len, "%" PRIu64 "h", ms / 3600000);
	else if (ms % 60000 == 0)
		snprintf(buf, len, "%" PRIu64 "m", ms / 60000);
	else
		snprintf(buf, len, "%" PRIu64 "s", ms / 1000);
}

/*
 * A penalty judged for @s (@count of @what within @window): unless the
 * source is shared or the engine only monitors. Returns true if given.
 */
static bool judge(struct sw_hints *h, struct src *s, uint32_t detail, unsigned count, const char *what,
		  uint64_t window_ms, const char *account, int64_t now_ms)
{
	char win[32];
	unsigned accounts;
	int r;

	window_text(window_ms, win, sizeof(win));
	if (src_shared(h, s, now_ms, &accounts)) {
		h->st.shared_spared++;
		/* told once a window, not at every failure */
		if (!s->spared_ms || now_ms - s->spared_ms >= (int64_t)window_ms) {
			s->spared_ms = now_ms;
			note(h, "spared", &s->key, account, count,
			     "%u %s within %s, not penalised: a shared address (%u accounts logged in from it)", count,
			     what, win, accounts);
		}
		return false;
	}
	if (h->conf.monitor) {
		h->st.monitored++;
		note(h, "would-penalise", &s->key, account, count, "%u %s within %s (monitor mode: not penalised)",
		     count, what, win);
		return false;
	}
	r = h->ops.penalize ? h->ops.penalize(h->ops.ctx, &s->key, SW_R_AUTH, detail) : -ENOSYS;
	if (r == 0) {
		h->st.penalties++;
		if (detail & SW_HINT_DETAIL_SUSPENDED)
			h->st.penalties_suspended++;
		note(h, "penalised", &s->key, account, count, "%u %s within %s", count, what, win);
		return true;
	}
	if (r == -EALREADY) {
		h->st.already++;
		return false;
	}
	if (r == -ENOENT) {
		h->st.no_state++;
		note(h, "no-state", &s->key, account, count,
		     "%u %s within %s, but the kernel has no state for the source (is the port in [limits] ports?)",
		     count, what, win);
		return false;
	}
	h->st.penalty_errors++;
	note(h, "failed", &s->key, account, count, "%u %s within %s, the penalty failed: %s", count, what, win,
	     strerror(-r));
	return false;
}

/* ---- accounts: distributed guessing ---- */

static struct acct *acct_get(struct sw_hints *h, const char *name, int64_t now_ms)
{
	uint32_t hash = hash_bytes(name, strlen(name));
	void **bucket = &h->accts.buckets[hash % h->accts.n_buckets];
	struct acct *a;

	for (a = *bucket; a; a = a->next)
		if (a->hash == hash && !strcmp(a->name, name)) {
			a->last_ms = now_ms;
			return a;
		}
	if (h->accts.count >= h->accts.cap) {
		struct acct *old = sweep_oldest(&h->accts, offsetof(struct acct, last_ms)), **pp;

		if (!old || old->last_ms >= now_ms) {
			h->st.table_full++;
			return NULL;
		}
		pp = (struct acct **)&h->accts.buckets[old->hash % h->accts.n_buckets];
		while (*pp && *pp != old)
			pp = &(*pp)->next;
		if (*pp)
			*pp = old->next;
		h->accts.count--;
		free(old);
	}
	a = calloc(1, sizeof(*a));
	if (!a) {
		h->st.table_full++;
		return NULL;
	}
	a->hash = hash;
	snprintf(a->name, sizeof(a->name), "%s", name);
	a->last_ms = now_ms;
	a->next = *bucket;
	*bucket = a;
	h->accts.count++;
	return a;
}

static void guessed(struct sw_hints *h, const char *name, const struct src *s, int64_t now_ms)
{
	struct acct *a;
	unsigned distinct = 0;
	char win[32], why[256];

	if (!h->conf.guess_sources)
		return;
	a = acct_get(h, name, now_ms);
	if (!a)
		return;
	for (unsigned i = 0; i < SW_HINTS_GUESSERS; i++)
		if (a->g[i].ms && a->g[i].key_hash == s->hash) {
			a->g[i].ms = now_ms;
			goto count;
		}
	a->g[a->g_next].key_hash = s->hash;
	a->g[a->g_next].ms = now_ms;
	a->g_next = (a->g_next + 1) % SW_HINTS_GUESSERS;
count:
	for (unsigned i = 0; i < SW_HINTS_GUESSERS; i++)
		if (a->g[i].ms && now_ms - a->g[i].ms < (int64_t)h->conf.guess_window_ms)
			distinct++;
	if (distinct < h->conf.guess_sources)
		return;
	if (a->flagged_ms && now_ms - a->flagged_ms < (int64_t)h->conf.guess_window_ms)
		return;	/* once a window */
	a->flagged_ms = now_ms;
	window_text(h->conf.guess_window_ms, win, sizeof(win));
	snprintf(why, sizeof(why), "failed logins from %u sources within %s (limit %u): a distributed guess",
		 distinct, win, h->conf.guess_sources);
	h->st.flags++;
	note(h, "guessed", &s->key, name, distinct, "%s", why);
	if (h->ops.flag)
		h->ops.flag(h->ops.ctx, name, why);
}

/* ---- the lines ---- */

static void failed(struct sw_hints *h, const struct sw_mlog *m, int64_t now_ms)
{
	struct sw_src_key key;
	struct src *s;
	struct link *l;
	const char *account = m->has_username && !m->username_cut ? m->username : "";
	unsigned n;

	h->st.failures++;
	sw_hints_key(h, m->family, m->addr, &key);
	s = src_get(h, &key, now_ms);
	if (!s)
		return;
	s->fails[s->fail_next] = now_ms;
	s->fail_next = (s->fail_next + 1) % SW_HINTS_FAILS;
	s->fails_dirty = true;
	l = link_get(h, s, account, now_ms);
	if (l) {
		l->failures++;
		l->last_failure = l->last_seen = now_ms / 1000;
		l->dirty = true;
	}
	if (account[0])
		guessed(h, account, s, now_ms);
	if (!h->conf.auth_failures)
		return;
	n = count_within(s->fails, SW_HINTS_FAILS, now_ms, h->conf.auth_window_ms);
	if (n < h->conf.auth_failures)
		return;
	if (judge(h, s, n, n, "failed logins", h->conf.auth_window_ms, account, now_ms))
		memset(s->fails, 0, sizeof(s->fails));	/* the next penalty needs new evidence */
}

static void logged_in(struct sw_hints *h, const struct sw_mlog *m, const char *account, int64_t now_ms)
{
	struct sw_src_key key;
	struct src *s;

	h->st.logins++;
	sw_hints_key(h, m->family, m->addr, &key);
	s = src_get(h, &key, now_ms);
	if (!s)
		return;
	/* failures before a login of the source no longer count toward its penalty */
	if (s->fails[(s->fail_next + SW_HINTS_FAILS - 1) % SW_HINTS_FAILS])
		s->fails_dirty = true;
	memset(s->fails, 0, sizeof(s->fails));
	if (account && account[0]) {
		struct link *l = link_get(h, s, account, now_ms);

		if (l) {
			l->logins++;
			l->last_login = l->last_seen = now_ms / 1000;
			l->last_login_ms = now_ms;
			l->dirty = true;
		}
	}
	/* known good takes a login that sent mail: an AUTH alone proves little */
	if (account && account[0] && h->conf.vouch && h->ops.vouch &&
	    (!s->vouched_ms || now_ms - s->vouched_ms >= VOUCH_EVERY_MS)) {
		int r = h->ops.vouch(h->ops.ctx, &s->key, account);

		if (r == 0) {
			h->st.vouches++;
			s->vouched_ms = now_ms;
		} else if (r == -EACCES) {
			h->st.vouch_refused++;
		} else if (r != -ENOENT) {
			h->st.vouch_errors++;
		}
	}
}

void sw_hints_line(struct sw_hints *h, const struct sw_mlog *m, int64_t now_ms)
{
	switch (m->kind) {
	case SW_ML_AUTH_FAILED:
		failed(h, m, now_ms);
		break;
	case SW_ML_LOGIN:
		logged_in(h, m, m->username_cut ? NULL : m->username, now_ms);
		break;
	case SW_ML_DISCONNECT:
		if (m->auth_ok > 0)
			logged_in(h, m, NULL, now_ms);
		break;
	default:
		break;
	}
}

void sw_hints_suspended_use(struct sw_hints *h, uint8_t family, const uint8_t addr[16], const char *account,
			    int64_t now_ms)
{
	struct sw_src_key key;
	struct src *s;
	unsigned n;

	h->st.suspended_uses++;
	if (!h->conf.suspended_uses)
		return;
	sw_hints_key(h, family, addr, &key);
	s = src_get(h, &key, now_ms);
	if (!s)
		return;
	s->suspended[s->suspended_next] = now_ms;
	s->suspended_next = (s->suspended_next + 1) % SUSPENDED_TIMES;
	n = count_within(s->suspended, SUSPENDED_TIMES, now_ms, h->conf.suspended_window_ms);
	if (n < h->conf.suspended_uses)
		return;
	if (judge(h, s, SW_HINT_DETAIL_SUSPENDED | n, n, "uses of a suspended account", h->conf.suspended_window_ms,
		  account, now_ms))
		memset(s->suspended, 0, sizeof(s->suspended));
}

/* ---- the store ---- */

void sw_hints_each_link(struct sw_hints *h, bool all, void (*fn)(void *ctx, const struct sw_hints_link *l),
			void *ctx)
{
	for (size_t i = 0; i < h->srcs.n_buckets; i++)
		for (struct src *s = h->srcs.buckets[i]; s; s = s->next)
			for (unsigned j = 0; j < s->n_links; j++) {
				struct link *l = &s->links[j];
				struct sw_hints_link out;

				if (!all && !l->dirty)
					continue;
				memset(&out, 0, sizeof(out));
				out.key = s->key;
				snprintf(out.account, sizeof(out.account), "%s", l->account);
				out.first_seen = l->first_seen;
				out.last_seen = l->last_seen;
				out.logins = l->logins;
				out.failures = l->failures;
				out.last_login = l->last_login;
				out.last_failure = l->last_failure;
				fn(ctx, &out);
				l->dirty = false;
			}
}

void sw_hints_load_link(struct sw_hints *h, const struct sw_hints_link *in)
{
	int64_t seen_ms = in->last_seen * 1000;
	struct src *s = src_get(h, &in->key, seen_ms);
	struct link *l;

	if (!s)
		return;
	l = link_get(h, s, in->account, seen_ms);
	if (!l)
		return;
	l->first_seen = in->first_seen;
	l->last_seen = in->last_seen;
	l->logins = in->logins;
	l->failures = in->failures;
	l->last_login = in->last_login;
	l->last_failure = in->last_failure;
	l->last_login_ms = in->last_login * 1000;
	l->dirty = false;
}

void sw_hints_each_failures(struct sw_hints *h, bool all, int64_t now_ms,
			    void (*fn)(void *ctx, const struct sw_src_key *key, const int64_t *times, unsigned n),
			    void *ctx)
{
	for (size_t i = 0; i < h->srcs.n_buckets; i++)
		for (struct src *s = h->srcs.buckets[i]; s; s = s->next) {
			int64_t t[SW_HINTS_FAILS];
			unsigned n = 0;

			if (!all && !s->fails_dirty)
				continue;
			/* oldest first, only those the window still counts */
			for (unsigned j = 0; j < SW_HINTS_FAILS; j++) {
				int64_t v = s->fails[(s->fail_next + j) % SW_HINTS_FAILS];

				if (v && now_ms - v < (int64_t)h->conf.auth_window_ms)
					t[n++] = v;
			}
			fn(ctx, &s->key, t, n);
			s->fails_dirty = false;
		}
}

void sw_hints_load_failures(struct sw_hints *h, const struct sw_src_key *key, const int64_t *times, unsigned n,
			    int64_t now_ms)
{
	struct src *s = src_get(h, key, now_ms);

	if (!s)
		return;
	for (unsigned i = 0; i < n && i < SW_HINTS_FAILS; i++) {
		if (!times[i] || times[i] > now_ms)
			continue;
		s->fails[s->fail_next] = times[i];
		s->fail_next = (s->fail_next + 1) % SW_HINTS_FAILS;
	}
}
