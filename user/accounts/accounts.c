// SPDX-License-Identifier: GPL-2.0
/* The accounts ledger and policies of accounts.h. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "accounts.h"
#include "bus.h"
#include "log.h"
#include "parse.h"

#define SLOTS		12	/* buckets inside a window */
#define RING		(SLOTS + 1)
#define ADDRS_MAX	32	/* source addresses of an account kept in memory */
#define INSTANCES	8	/* recent messages, so a message's RCPTs count it once */
#define EVICT_MS	(2 * 86400000LL)
#define NOTE_EVERY_MS	60000	/* a refusal is an event at most once a minute per account and policy */
#define BLOB_MAGIC	0x53574131u	/* "SWA1" */

static const int64_t window_ms[SW_W_N] = { 60000, 3600000, 86400000 };

struct win {
	int64_t head;		/* bucket number of ring[head % RING] */
	uint32_t n[RING];
};

struct addr_use {
	char key[64];
	uint16_t country;
	int64_t first_seen, last_seen;
	uint64_t messages;
	bool dirty;
};

struct acct {
	struct acct *next;
	uint32_t hash;
	struct sw_acct_policy p;
	bool policy_pending;	/* a policy write failed: retried by the flush */
	unsigned pending_fields;
	struct win msgs[SW_W_N], rcpts[SW_W_N], overseas;
	uint64_t total_msgs, total_rcpts, refused;
	int64_t first_seen, last_seen;
	struct addr_use addrs[ADDRS_MAX];
	int n_addrs;
	uint64_t instances[INSTANCES];
	unsigned next_instance;
	int64_t noted_ms[SW_POL_N];
	bool dirty;
};

struct sw_accounts {
	struct sw_acct_store *as;
	const struct sw_settings *s;
	struct acct **table;
	size_t buckets, count;
	sw_accounts_flag_fn on_flag;
	void *on_flag_ctx;
	int64_t data_version, changed_ms;
	size_t evict_cursor;
};

static const char *const policy_names[SW_POL_N] = {
	[SW_POL_NONE] = "none",	      [SW_POL_SUSPENDED] = "suspended", [SW_POL_LIMITS] = "limits",
	[SW_POL_OVERSEAS] = "overseas", [SW_POL_ABROAD] = "abroad",	  [SW_POL_MISMATCH] = "mismatch",
	[SW_POL_ORIGINS] = "origins",	[SW_POL_FILTER] = "filter",
};

const char *sw_policy_name(enum sw_policy_id p)
{
	return (unsigned)p < SW_POL_N ? policy_names[p] : "unknown";
}

const char *sw_acct_window_name(enum sw_acct_window w)
{
	static const char *const names[SW_W_N] = { "minute", "hour", "day" };

	return (unsigned)w < SW_W_N ? names[w] : "?";
}

/* ---- windows ---- */

static void win_advance(struct win *w, int64_t bucket)
{
	if (bucket <= w->head)
		return;	/* the same bucket, or the clock stepped back: count in the newest */
	if (bucket - w->head >= RING) {
		memset(w->n, 0, sizeof(w->n));
	} else {
		for (int64_t b = w->head + 1; b <= bucket; b++)
			w->n[b % RING] = 0;
	}
	w->head = bucket;
}

static void win_add(struct win *w, int64_t len_ms, int64_t now_ms, uint32_t n)
{
	int64_t bucket_ms = len_ms / SLOTS;

	win_advance(w, now_ms / bucket_ms);
	w->n[w->head % RING] = w->n[w->head % RING] + n < w->n[w->head % RING] ? UINT32_MAX
										: w->n[w->head % RING] + n;
}

/* The count in the last @len_ms: whole buckets, and the share of the one sliding out. */
static uint64_t win_count(const struct win *w, int64_t len_ms, int64_t now_ms)
{
	int64_t bucket_ms = len_ms / SLOTS, bucket = now_ms / bucket_ms, into = now_ms % bucket_ms;
	uint64_t sum = 0;

	if (bucket < w->head)
		bucket = w->head;
	for (int64_t b = bucket - SLOTS + 1; b <= bucket; b++)
		if (b <= w->head && w->head - b < RING)
			sum += w->n[b % RING];
	{
		int64_t old = bucket - SLOTS;

		if (old <= w->head && w->head - old < RING && old >= 0)
			sum += (uint64_t)w->n[old % RING] * (uint64_t)(bucket_ms - into) / (uint64_t)bucket_ms;
	}
	return sum;
}

/* The windows blob: magic, overseas window length, then 7 windows. */
struct blob {
	uint32_t magic;
	uint32_t overseas_bucket_ms;
	struct win w[2 * SW_W_N + 1];
};

int sw_accounts_figures(const void *data, size_t len, int64_t now_ms, struct sw_acct_figures *f)
{
	struct blob b;

	memset(f, 0, sizeof(*f));
	if (!data || len != sizeof(b))
		return -1;
	memcpy(&b, data, sizeof(b));
	if (b.magic != BLOB_MAGIC || !b.overseas_bucket_ms)
		return -1;
	for (int i = 0; i < SW_W_N; i++) {
		f->messages[i] = win_count(&b.w[i], window_ms[i], now_ms);
		f->recipients[i] = win_count(&b.w[SW_W_N + i], window_ms[i], now_ms);
	}
	f->overseas_window_ms = (uint64_t)b.overseas_bucket_ms * SLOTS;
	f->overseas = win_count(&b.w[2 * SW_W_N], (int64_t)f->overseas_window_ms, now_ms);
	return 0;
}

static int64_t overseas_ms(const struct sw_accounts *A)
{
	int64_t ms = (int64_t)(A->s->overseas_window_ns / 1000000);

	return ms < SLOTS ? SLOTS : ms - ms % SLOTS;
}

/* ---- the table ---- */

static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

struct sw_accounts *sw_accounts_new(struct sw_acct_store *as, const struct sw_settings *s, char *err,
				    size_t errlen)
{
	struct sw_accounts *A = calloc(1, sizeof(*A));

	if (A) {
		A->buckets = 4096;
		A->table = calloc(A->buckets, sizeof(*A->table));
	}
	if (!A || !A->table) {
		free(A);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	A->as = as;
	A->s = s;
	A->data_version = sw_acct_data_version(as);
	A->changed_ms = 0;
	return A;
}

void sw_accounts_free(struct sw_accounts *A)
{
	if (!A)
		return;
	for (size_t i = 0; i < A->buckets; i++)
		for (struct acct *a = A->table[i], *n; a; a = n) {
			n = a->next;
			free(a);
		}
	free(A->table);
	free(A);
}

void sw_accounts_set_settings(struct sw_accounts *A, const struct sw_settings *s)
{
	A->s = s;
}

void sw_accounts_on_flag(struct sw_accounts *A, sw_accounts_flag_fn fn, void *ctx)
{
	A->on_flag = fn;
	A->on_flag_ctx = ctx;
}

static void grow(struct sw_accounts *A)
{
	size_t nb = A->buckets * 2;
	struct acct **nt = calloc(nb, sizeof(*nt));

	if (!nt)
		return;	/* longer chains, still correct */
	for (size_t i = 0; i < A->buckets; i++)
		for (struct acct *a = A->table[i], *n; a; a = n) {
			n = a->next;
			a->next = nt[a->hash & (nb - 1)];
			nt[a->hash & (nb - 1)] = a;
		}
	free(A->table);
	A->table = nt;
	A->buckets = nb;
}

static struct acct *find(const struct sw_accounts *A, const char *name, uint32_t h)
{
	for (struct acct *a = A->table[h & (A->buckets - 1)]; a; a = a->next)
		if (a->hash == h && !strcmp(a->p.name, name))
			return a;
	return NULL;
}

/* What state.db has of @a's counters and addresses. */
static void load_counts(struct sw_accounts *A, struct acct *a)
{
	struct sw_acct_counts c;
	struct sw_acct_addr *addrs = NULL;
	struct blob b;
	char err[SW_ERR_LEN];
	int n = 0;

	if (sw_acct_counts_get(A->as, a->p.name, &c, &b, sizeof(b), err, sizeof(err)) == 1) {
		a->first_seen = c.first_seen;
		a->last_seen = c.last_seen;
		a->total_msgs = c.messages;
		a->total_rcpts = c.recipients;
		a->refused = c.refused;
		if (c.windows_len == sizeof(b) && b.magic == BLOB_MAGIC) {
			memcpy(a->msgs, &b.w[0], sizeof(a->msgs));
			memcpy(a->rcpts, &b.w[SW_W_N], sizeof(a->rcpts));
			/* a changed overseas window starts afresh rather than being misread */
			if ((int64_t)b.overseas_bucket_ms * SLOTS == overseas_ms(A))
				a->overseas = b.w[2 * SW_W_N];
		}
	}
	if (!sw_acct_addrs(A->as, a->p.name, ADDRS_MAX, &addrs, &n, err, sizeof(err))) {
		for (int i = 0; i < n; i++) {
			struct addr_use *u = &a->addrs[a->n_addrs++];
			int id = addrs[i].country[0] ? sw_country_id(addrs[i].country) : -1;

			snprintf(u->key, sizeof(u->key), "%s", addrs[i].addr);
			u->country = id >= 0 ? (uint16_t)id : SW_COUNTRY_UNKNOWN;
			u->first_seen = addrs[i].first_seen;
			u->last_seen = addrs[i].last_seen;
			u->messages = addrs[i].messages;
		}
		free(addrs);
	}
}

static struct acct *get(struct sw_accounts *A, const char *name)
{
	uint32_t h = name_hash(name);
	struct acct *a = find(A, name, h);
	char err[SW_ERR_LEN];

	if (a)
		return a;
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->hash = h;
	if (sw_acct_policy_get(A->as, name, &a->p, err, sizeof(err)) < 0) {
		/* state.db unreadable: decide on what we know (nothing), fail open */
		sw_log(SW_LOG_WARN, "accounts: %s", err);
		sw_acct_policy_defaults(&a->p, name);
	}
	load_counts(A, a);
	if (A->count >= A->buckets)
		grow(A);
	a->next = A->table[h & (A->buckets - 1)];
	A->table[h & (A->buckets - 1)] = a;
	A->count++;
	return a;
}

/* ---- the account's state ---- */

static void note(struct acct *a, const char *action, const char *reason, const char *source,
		 enum sw_log_level level, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* An account event on the bus (and so in the log and `smtpwall events`). */
static void note(struct acct *a, const char *action, const char *reason, const char *source,
		 enum sw_log_level level, const char *fmt, ...)
{
	struct sw_bus_event ev = { .kind = SW_BUS_ACCOUNT, .level = level };
	va_list ap;

	snprintf(ev.action, sizeof(ev.action), "%s", action);
	snprintf(ev.reason, sizeof(ev.reason), "%s", reason);
	snprintf(ev.source, sizeof(ev.source), "%s", source ? source : "");
	snprintf(ev.account, sizeof(ev.account), "%s", a->p.name);
	va_start(ap, fmt);
	vsnprintf(ev.text, sizeof(ev.text), fmt, ap);
	va_end(ap);
	sw_bus_publish(&ev);
}

/* Commit @fields of the account (and an audit record) now; on failure keep it for the flush. */
static void commit_policy(struct sw_accounts *A, struct acct *a, unsigned fields, const char *action,
			  const char *reason, const char *detail)
{
	struct sw_acct_audit au = { .at = 0 };
	char err[SW_ERR_LEN];

	snprintf(au.actor, sizeof(au.actor), "policy");
	snprintf(au.action, sizeof(au.action), "%s", action);
	snprintf(au.reason, sizeof(au.reason), "%s", reason);
	snprintf(au.detail, sizeof(au.detail), "%s", detail ? detail : "");
	if (sw_acct_policy_put(A->as, &a->p, fields, &au, err, sizeof(err))) {
		sw_log(SW_LOG_ERROR, "accounts: %s: %s not saved yet (retried each second): %s", a->p.name, action,
		       err);
		a->policy_pending = true;
		a->pending_fields |= fields;
	}
}

static bool suspended(const struct acct *a, int64_t now_s)
{
	return a->p.suspended_until && (a->p.suspended_until == SW_SUSPENDED_UNTIL_RESUMED ||
					a->p.suspended_until > now_s);
}

static void suspend(struct sw_accounts *A, struct acct *a, int64_t now_s, const char *why, const char *source,
		    enum sw_policy_id cause)
{
	/* only 0 means until resumed: a part of a second is rounded up to one */
	uint64_t len_s = (A->s->suspend_ns + 999999999ULL) / 1000000000ULL;
	char until[64];

	a->p.suspended_at = now_s;
	a->p.suspended_until = len_s ? now_s + (int64_t)len_s : SW_SUSPENDED_UNTIL_RESUMED;
	snprintf(a->p.suspend_reason, sizeof(a->p.suspend_reason), "%s", why);
	snprintf(a->p.suspend_by, sizeof(a->p.suspend_by), "policy");
	if (len_s)
		sw_format_duration(A->s->suspend_ns, until, sizeof(until));
	else
		snprintf(until, sizeof(until), "until resumed");
	commit_policy(A, a, SW_AP_SUSPEND, "suspended", why, until);
	note(a, "suspended", sw_policy_name(cause), source, SW_LOG_WARN, "%s: sending suspended (%s%s): %s", a->p.name,
	     len_s ? "for " : "", until, why);
}

/* A suspension that ran out is lifted (and recorded) at the account's next request. */
static void expire(struct sw_accounts *A, struct acct *a, int64_t now_s)
{
	if (a->p.suspended_until && a->p.suspended_until != SW_SUSPENDED_UNTIL_RESUMED &&
	    a->p.suspended_until <= now_s) {
		a->p.suspended_at = a->p.suspended_until = 0;
		a->p.suspend_reason[0] = a->p.suspend_by[0] = 0;
		commit_policy(A, a, SW_AP_SUSPEND, "resumed", "the suspension ran out", NULL);
		note(a, "resumed", "expired", NULL, SW_LOG_INFO, "%s: the suspension ran out", a->p.name);
	}
	if (a->p.overseas_until && a->p.overseas_until <= now_s) {
		a->p.overseas_limit = -1;
		a->p.overseas_until = 0;
		commit_policy(A, a, SW_AP_OVERSEAS, "override-expired", "the overseas cap override ran out", NULL);
		note(a, "override-expired", "overseas", NULL, SW_LOG_INFO,
		     "%s: the overseas cap override ran out; the default applies again", a->p.name);
	}
}

static struct addr_use *use_address(struct acct *a, const struct sw_origin *o, int64_t now_s, bool message)
{
	struct addr_use *u = NULL, *oldest = NULL;

	for (int i = 0; i < a->n_addrs; i++) {
		if (!strcmp(a->addrs[i].key, o->key)) {
			u = &a->addrs[i];
			break;
		}
		if (!oldest || a->addrs[i].last_seen < oldest->last_seen)
			oldest = &a->addrs[i];
	}
	if (!u) {
		/* the least recently used leaves memory; state.db keeps it */
		u = a->n_addrs < ADDRS_MAX ? &a->addrs[a->n_addrs++] : oldest;
		memset(u, 0, sizeof(*u));
		snprintf(u->key, sizeof(u->key), "%s", o->key);
		u->first_seen = now_s;
	}
	u->country = o->country;
	u->last_seen = now_s;
	if (message)
		u->messages++;
	u->dirty = true;
	return u;
}

/* Distinct addresses and known countries used within the origins window. */
static void origins(const struct sw_accounts *A, const struct acct *a, int64_t now_s, unsigned *n_addrs,
		    unsigned *n_countries, char *list, size_t listlen)
{
	int64_t since = now_s - (int64_t)(A->s->origins_window_ns / 1000000000ULL);
	uint16_t seen[ADDRS_MAX];
	unsigned nc = 0, na = 0;
	size_t off = 0;

	if (listlen)
		list[0] = 0;
	for (int i = 0; i < a->n_addrs; i++) {
		const struct addr_use *u = &a->addrs[i];
		bool dup = false;

		if (u->last_seen < since)
			continue;
		na++;
		if (u->country == SW_COUNTRY_UNKNOWN || u->country == SW_COUNTRY_NONE)
			continue;
		for (unsigned j = 0; j < nc; j++)
			dup |= seen[j] == u->country;
		if (dup)
			continue;
		seen[nc++] = u->country;
		if (off + 4 < listlen) {
			char code[3];

			sw_country_code(u->country, code);
			off += (size_t)snprintf(list + off, listlen - off, "%s%c%c", nc > 1 ? " " : "",
						code[0] & ~0x20, code[1] & ~0x20);
		}
	}
	*n_addrs = na;
	*n_countries = nc;
}

/* ---- policies ---- */

/*
 * Messages are told apart by Postfix's instance attribute. A message is
 * remembered only once it has been counted (accepted or only warned
 * about): a message whose first RCPT was refused stays new, so each of
 * its later RCPTs meets the same checks and cannot slip through.
 */
static uint64_t instance_hash(const char *instance)
{
	uint64_t h = 1469598103934665603ULL;

	for (const char *p = instance; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ULL;
	return h | 1;	/* never 0, the empty slot */
}

static bool new_message(const struct acct *a, const char *instance)
{
	uint64_t h;

	if (!*instance)
		return true;
	h = instance_hash(instance);
	for (int i = 0; i < INSTANCES; i++)
		if (a->instances[i] == h)
			return false;
	return true;
}

static void remember_message(struct acct *a, const char *instance)
{
	if (*instance)
		a->instances[a->next_instance++ % INSTANCES] = instance_hash(instance);
}

static void reply(struct sw_verdict *v, enum sw_verdict_kind kind, enum sw_policy_id pol, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void reply(struct sw_verdict *v, enum sw_verdict_kind kind, enum sw_policy_id pol, const char *fmt, ...)
{
	va_list ap;

	v->kind = kind;
	v->policy = pol;
	va_start(ap, fmt);
	vsnprintf(v->action, sizeof(v->action), fmt, ap);
	va_end(ap);
}

/* "450 4.7.1" for 4xx, "550 5.7.1" for 5xx. */
static void code_of(unsigned code, char *buf, size_t len)
{
	snprintf(buf, len, "%u %u.7.1", code, code / 100);
}

/*
 * A policy that would refuse: enforced, a refusal now; monitored, the
 * first WARN is kept (Postfix logs it and goes on) and the next policy is
 * asked. Returns true when the decision is final.
 */
static bool refuse(struct acct *a, enum sw_account_mode mode, struct sw_verdict *v, enum sw_policy_id pol,
		   const char *source, int64_t now_ms, const char *text)
{
	bool noted = now_ms - a->noted_ms[pol] >= NOTE_EVERY_MS || !a->noted_ms[pol];

	if (noted)
		a->noted_ms[pol] = now_ms;
	if (mode == SW_AM_ENFORCE) {
		a->refused++;
		a->dirty = true;
		if (noted)
			note(a, "refused", sw_policy_name(pol), source, SW_LOG_INFO, "%s: refused: %s",
			     a->p.name, text);
		return true;
	}
	if (noted)
		note(a, "would-refuse", sw_policy_name(pol), source, SW_LOG_INFO,
		     "%s: monitor mode, would refuse: %s", a->p.name, text);
	if (v->kind == SW_V_DUNNO)
		reply(v, SW_V_WARN, pol, "WARN smtpwall monitor: %s", text);
	return false;
}

bool sw_accounts_sender_own(const char *login, const char *sender, const char *sender_domains,
			    const char *aliases)
{
	const char *at = strchr(login, '@');
	size_t sl = strlen(sender);

	if (!*sender || !strcasecmp(login, sender))
		return true;	/* the null sender (a bounce) is nobody's */
	/*
	 * Login "alice" sends as alice@D for each D of sender_domains, or as
	 * alice@ any domain when none is configured.
	 */
	if (!at) {
		size_t ll = strlen(login);
		const char *p = sender_domains;

		if (sl > ll + 1 && !strncasecmp(sender, login, ll) && sender[ll] == '@') {
			if (!sender_domains[strspn(sender_domains, " \t,")])
				return true;
			while (*p) {
				size_t dl;

				p += strspn(p, " \t,");
				dl = strcspn(p, " \t,");
				if (dl && dl == sl - ll - 1 && !strncasecmp(sender + ll + 1, p, dl))
					return true;
				p += dl;
			}
		}
	}
	for (const char *p = aliases; *p;) {
		size_t al;

		p += strspn(p, " \t,");
		al = strcspn(p, " \t,");
		if (al && al == sl && !strncasecmp(p, sender, al))
			return true;
		p += al;
	}
	return false;
}

static int64_t limit_of(const struct sw_accounts *A, const struct acct *a, int i)
{
	return a->p.limits[i] >= 0 ? a->p.limits[i] : (int64_t)A->s->limits[i];
}

/* The send limits, with this message's @msgs and @rcpts added. A limit reached suspends. */
static bool check_limits(struct sw_accounts *A, struct acct *a, unsigned msgs, unsigned rcpts,
			 const struct sw_origin *o, int64_t now_ms, struct sw_verdict *v)
{
	char why[SW_ACCOUNT_REASON_LEN], code[16];

	if (A->s->limits_mode == SW_AM_OFF)
		return false;
	for (int i = 0; i < SW_LIM_N; i++) {
		int64_t lim = limit_of(A, a, i);
		bool is_msg = i < SW_W_N;
		int w = i % SW_W_N;
		uint64_t add = is_msg ? msgs : rcpts, have;

		if (lim <= 0 || !add)
			continue;
		have = win_count(is_msg ? &a->msgs[w] : &a->rcpts[w], window_ms[w], now_ms);
		if (have + add <= (uint64_t)lim)
			continue;
		snprintf(why, sizeof(why), "%s limit: %" PRIu64 " %s in the last %s (limit %" PRId64 ")",
			 is_msg ? "message" : "recipient", have + add, is_msg ? "messages" : "recipients",
			 sw_acct_window_name(w), lim);
		if (A->s->limits_mode == SW_AM_ENFORCE) {
			suspend(A, a, now_ms / 1000, why, o->key, SW_POL_LIMITS);
			code_of(A->s->suspend_code, code, sizeof(code));
			a->refused++;
			a->dirty = true;
			reply(v, SW_V_REFUSE, SW_POL_LIMITS, "%s Sending suspended for this account: %s", code,
			      why);
			return true;
		}
		refuse(a, SW_AM_MONITOR, v, SW_POL_LIMITS, o->key, now_ms, why);
		return false;
	}
	return false;
}

static void maybe_flag(struct sw_accounts *A, struct acct *a, const struct sw_origin *o, int64_t now_ms,
		       struct sw_verdict *v)
{
	const struct sw_settings *s = A->s;
	unsigned na, nc;
	char list[128], why[SW_ACCOUNT_REASON_LEN], win[32];

	if (s->origins_mode == SW_AM_OFF || a->p.flagged_at)
		return;
	origins(A, a, now_ms / 1000, &na, &nc, list, sizeof(list));
	sw_format_duration(s->origins_window_ns, win, sizeof(win));
	if (s->origins_countries && nc >= s->origins_countries)
		snprintf(why, sizeof(why), "used from %u countries (%s) within %s (limit %u)", nc, list, win,
			 s->origins_countries);
	else if (s->origins_addresses && na >= s->origins_addresses)
		snprintf(why, sizeof(why), "used from %u addresses within %s (limit %u)", na, win,
			 s->origins_addresses);
	else
		return;
	if (s->origins_mode == SW_AM_MONITOR) {
		refuse(a, SW_AM_MONITOR, v, SW_POL_ORIGINS, o->key, now_ms, why);
		return;
	}
	a->p.flagged_at = now_ms / 1000;
	snprintf(a->p.flag_reason, sizeof(a->p.flag_reason), "%s", why);
	commit_policy(A, a, SW_AP_FLAG, "flagged", why, list);
	note(a, "flagged", "origins", o->key, SW_LOG_WARN, "%s: flagged: %s", a->p.name, why);
	if (A->on_flag)
		A->on_flag(A->on_flag_ctx, a->p.name, why);
	if (s->origins_suspend && !suspended(a, now_ms / 1000))
		suspend(A, a, now_ms / 1000, why, o->key, SW_POL_ORIGINS);
}

bool sw_accounts_in_good_standing(struct sw_accounts *A, const char *name, int64_t now_ms)
{
	uint32_t h = name_hash(name);
	struct acct *a = find(A, name, h);

	return !a || (!a->p.flagged_at && !suspended(a, now_ms / 1000));
}

int sw_accounts_flag(struct sw_accounts *A, const char *name, const char *reason, const char *why,
		     const char *source, bool suspend_too, int64_t now_ms)
{
	struct acct *a = get(A, name);

	if (!a)
		return -1;
	expire(A, a, now_ms / 1000);
	if (a->p.flagged_at)
		return 0;
	a->p.flagged_at = now_ms / 1000;
	snprintf(a->p.flag_reason, sizeof(a->p.flag_reason), "%s", why);
	commit_policy(A, a, SW_AP_FLAG, "flagged", why, reason);
	note(a, "flagged", reason, source, SW_LOG_WARN, "%s: flagged: %s", a->p.name, why);
	if (A->on_flag)
		A->on_flag(A->on_flag_ctx, a->p.name, why);
	if (suspend_too && !suspended(a, now_ms / 1000))
		suspend(A, a, now_ms / 1000, why, source, SW_POL_ORIGINS);
	return 1;
}

static bool is_relay(const struct sw_settings *s, const char *addr, char *key, size_t keylen)
{
	struct sw_cidr c;
	char err[SW_ERR_LEN];

	if (!s->n_relay_networks || sw_parse_addr(addr, &c, err))
		return false;
	for (int i = 0; i < s->n_relay_networks; i++) {
		const struct sw_cidr *n = &s->relay_networks[i];
		unsigned bits = n->prefixlen, bytes = bits / 8;

		if (n->family != c.family || memcmp(n->addr, c.addr, bytes))
			continue;
		if (bits % 8 && (n->addr[bytes] ^ c.addr[bytes]) & (0xff00 >> (bits % 8)))
			continue;
		snprintf(key, keylen, "client:%s", addr);
		return true;
	}
	return false;
}

void sw_accounts_decide(struct sw_accounts *A, const struct sw_policy_req *r, const struct sw_origin *o,
			int64_t now_ms, struct sw_verdict *v)
{
	const struct sw_settings *s = A->s;
	int64_t now_s = now_ms / 1000;
	char name[SW_ACCOUNT_NAME_LEN], code[16];
	unsigned msgs = 0, rcpts = 0;
	struct addr_use *use = NULL;
	struct acct *a;

	reply(v, SW_V_DUNNO, SW_POL_NONE, "DUNNO");
	if (r->sasl_username[0])
		snprintf(name, sizeof(name), "%s", r->sasl_username);
	else if (!is_relay(s, r->client_address, name, sizeof(name)))
		return;
	switch (r->state) {
	case SW_PS_MAIL:
	case SW_PS_RCPT:
	case SW_PS_DATA:
	case SW_PS_END_OF_MESSAGE:
		break;
	default:
		return;	/* nothing is sent before MAIL */
	}
	a = get(A, name);
	if (!a)
		return;	/* out of memory: fail open */
	expire(A, a, now_s);
	/*
	 * Every use is evidence of where the login is used from, refused or
	 * not: a stolen account tried from twenty countries is flagged even
	 * though the overseas cap refused most of it.
	 */
	if (o->key[0]) {
		use = use_address(a, o, now_s, false);
		a->dirty = true;
		if (r->state == SW_PS_RCPT || r->state == SW_PS_END_OF_MESSAGE || r->state == SW_PS_MAIL)
			maybe_flag(A, a, o, now_ms, v);
	}
	if (suspended(a, now_s)) {
		code_of(s->suspend_code, code, sizeof(code));
		refuse(a, SW_AM_ENFORCE, v, SW_POL_SUSPENDED, o->key, now_ms, a->p.suspend_reason);
		reply(v, SW_V_REFUSE, SW_POL_SUSPENDED, "%s Sending suspended for this account: %s", code,
		      a->p.suspend_reason[0] ? a->p.suspend_reason : "by the operator");
		return;
	}
	if (r->state == SW_PS_RCPT) {
		msgs = new_message(a, r->instance) ? 1 : 0;
		rcpts = 1;
	} else if (r->state == SW_PS_END_OF_MESSAGE) {
		/* only a message no RCPT request counted (the hook is at end of data alone) */
		if (new_message(a, r->instance)) {
			msgs = 1;
			rcpts = r->recipient_count ? r->recipient_count : 1;
		}
	}
	/*
	 * From abroad, no sending and a foreign sender refuse every RCPT and
	 * end of data of the message; the cap refuses a message not yet counted.
	 */
	if (o->abroad && (r->state == SW_PS_RCPT || r->state == SW_PS_END_OF_MESSAGE)) {
		bool deny = a->p.abroad >= 0 ? a->p.abroad == 1 : s->abroad_deny;
		int64_t cap = a->p.overseas_limit >= 0 ? a->p.overseas_limit : (int64_t)s->overseas_limit;
		char text[SW_ACCOUNT_REASON_LEN + 64], cc[3];

		sw_country_code(o->country, cc);
		if (deny && s->abroad_mode != SW_AM_OFF) {
			snprintf(text, sizeof(text), "sending from abroad (%c%c) is disabled for this account",
				 cc[0] & ~0x20, cc[1] & ~0x20);
			if (refuse(a, s->abroad_mode, v, SW_POL_ABROAD, o->key, now_ms, text)) {
				reply(v, SW_V_REFUSE, SW_POL_ABROAD, "550 5.7.1 %s", text);
				return;
			}
		}
		if (s->mismatch_mode != SW_AM_OFF &&
		    !sw_accounts_sender_own(name, r->sender, s->sender_domains, a->p.aliases)) {
			snprintf(text, sizeof(text), "sender <%.200s> is not this account's own address (from abroad, %c%c)",
				 r->sender, cc[0] & ~0x20, cc[1] & ~0x20);
			if (refuse(a, s->mismatch_mode, v, SW_POL_MISMATCH, o->key, now_ms, text)) {
				reply(v, SW_V_REFUSE, SW_POL_MISMATCH, "550 5.7.1 %s", text);
				return;
			}
		}
		if (msgs && cap > 0 && s->overseas_mode != SW_AM_OFF &&
		    win_count(&a->overseas, overseas_ms(A), now_ms) + 1 > (uint64_t)cap) {
			char w[32];

			sw_format_duration((uint64_t)overseas_ms(A) * 1000000ULL, w, sizeof(w));
			snprintf(text, sizeof(text), "overseas sending limit reached: %" PRId64 " messages per %s from abroad",
				 cap, w);
			if (refuse(a, s->overseas_mode, v, SW_POL_OVERSEAS, o->key, now_ms, text)) {
				reply(v, SW_V_REFUSE, SW_POL_OVERSEAS, "450 4.7.1 %s", text);
				return;
			}
		}
	}
	if (check_limits(A, a, msgs, rcpts, o, now_ms, v))
		return;
	/* Accepted (or only warned about): count it. */
	if (msgs || rcpts) {
		for (int w = 0; w < SW_W_N; w++) {
			if (msgs)
				win_add(&a->msgs[w], window_ms[w], now_ms, msgs);
			win_add(&a->rcpts[w], window_ms[w], now_ms, rcpts);
		}
		if (o->abroad && msgs)
			win_add(&a->overseas, overseas_ms(A), now_ms, msgs);
		a->total_msgs += msgs;
		a->total_rcpts += rcpts;
		if (!a->first_seen)
			a->first_seen = now_s;
		a->last_seen = now_s;
		a->dirty = true;
		if (use && msgs)
			use->messages += msgs;
		if (msgs)
			remember_message(a, r->instance);
	}
	if (a->p.flagged_at && s->flagged_filter[0] && v->kind == SW_V_DUNNO &&
	    (r->state == SW_PS_RCPT || r->state == SW_PS_END_OF_MESSAGE))
		reply(v, SW_V_FILTER, SW_POL_FILTER, "FILTER %s", s->flagged_filter);
}

/* ---- persistence ---- */

/*
 * The once-a-second write, in two halves: the loop copies what changed
 * into a batch (sw_accounts_take, microseconds), and anyone with a store
 * connection writes it (sw_acct_batch_write, milliseconds: the policy
 * service's writer thread, so that answers never wait for it). A batch
 * that could not be written is marked unsaved again (sw_accounts_unsaved)
 * and goes out with the next one.
 */
struct batch_acct {
	char name[SW_ACCOUNT_NAME_LEN];
	struct sw_acct_counts c;	/* .windows is set when written: the array moves */
	struct blob b;
	size_t first_addr, n_addrs;	/* in the batch's addrs */
};

struct sw_acct_batch {
	struct batch_acct *accts;
	size_t n, cap;
	struct sw_acct_addr *addrs;
	size_t n_addrs, cap_addrs;
};

void sw_acct_batch_free(struct sw_acct_batch *b)
{
	if (!b)
		return;
	free(b->accts);
	free(b->addrs);
	free(b);
}

size_t sw_acct_batch_accounts(const struct sw_acct_batch *b)
{
	return b ? b->n : 0;
}

static int batch_grow(void **arr, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 64;
	void *p;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	p = realloc(*arr, n * size);
	if (!p)
		return -1;
	*arr = p;
	*cap = n;
	return 0;
}

static int batch_add(struct sw_accounts *A, struct sw_acct_batch *b, const struct acct *a)
{
	struct batch_acct *e;
	int dirty_addrs = 0;

	for (int i = 0; i < a->n_addrs; i++)
		dirty_addrs += a->addrs[i].dirty;
	if (batch_grow((void **)&b->accts, &b->cap, b->n + 1, sizeof(*b->accts)) ||
	    batch_grow((void **)&b->addrs, &b->cap_addrs, b->n_addrs + (size_t)dirty_addrs, sizeof(*b->addrs)))
		return -1;
	e = &b->accts[b->n++];
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", a->p.name);
	e->b.magic = BLOB_MAGIC;
	e->b.overseas_bucket_ms = (uint32_t)(overseas_ms(A) / SLOTS);
	memcpy(&e->b.w[0], a->msgs, sizeof(a->msgs));
	memcpy(&e->b.w[SW_W_N], a->rcpts, sizeof(a->rcpts));
	e->b.w[2 * SW_W_N] = a->overseas;
	e->c = (struct sw_acct_counts){ .first_seen = a->first_seen, .last_seen = a->last_seen,
					.messages = a->total_msgs, .recipients = a->total_rcpts,
					.refused = a->refused, .windows_len = sizeof(e->b) };
	e->first_addr = b->n_addrs;
	for (int i = 0; i < a->n_addrs; i++) {
		const struct addr_use *u = &a->addrs[i];
		struct sw_acct_addr *r;

		if (!u->dirty)
			continue;
		r = &b->addrs[b->n_addrs++];
		memset(r, 0, sizeof(*r));
		snprintf(r->addr, sizeof(r->addr), "%s", u->key);
		if (u->country != SW_COUNTRY_UNKNOWN && u->country != SW_COUNTRY_NONE)
			sw_country_code(u->country, r->country);
		r->first_seen = u->first_seen;
		r->last_seen = u->last_seen;
		r->messages = u->messages;
	}
	e->n_addrs = b->n_addrs - e->first_addr;
	return 0;
}

int sw_accounts_take(struct sw_accounts *A, struct sw_acct_batch **out, char *err, size_t errlen)
{
	struct sw_acct_batch *b = *out;	/* a batch to fill again, or NULL */
	bool reused = b != NULL;

	*out = NULL;
	if (b)
		b->n = b->n_addrs = 0;
	for (size_t i = 0; i < A->buckets; i++)
		for (struct acct *a = A->table[i]; a; a = a->next) {
			if (!a->dirty)
				continue;
			if (!b && !(b = calloc(1, sizeof(*b))))
				goto oom;
			if (batch_add(A, b, a))
				goto oom;
		}
	if (!b || !b->n) {
		*out = reused ? b : NULL;	/* nothing changed: the caller keeps its batch */
		if (!reused)
			sw_acct_batch_free(b);
		return 0;
	}
	/* Copied: what changes from now on goes out with the next batch. */
	for (size_t i = 0; i < A->buckets; i++)
		for (struct acct *a = A->table[i]; a; a = a->next) {
			a->dirty = false;
			for (int j = 0; j < a->n_addrs; j++)
				a->addrs[j].dirty = false;
		}
	*out = b;
	return 0;
oom:
	if (reused) {
		b->n = b->n_addrs = 0;
		*out = b;
	} else {
		sw_acct_batch_free(b);
	}
	snprintf(err, errlen, "out of memory copying the counts to save");
	return -1;
}

int sw_acct_batch_write(struct sw_acct_store *as, struct sw_acct_batch *b, char *err, size_t errlen)
{
	if (!b || !b->n)
		return 0;
	if (sw_acct_begin(as, err, errlen))
		return -1;
	for (size_t i = 0; i < b->n; i++) {
		struct batch_acct *e = &b->accts[i];

		e->c.windows = &e->b;
		if (sw_acct_counts_put(as, e->name, &e->c, err, errlen))
			goto fail;
		for (size_t j = 0; j < e->n_addrs; j++)
			if (sw_acct_addr_put(as, e->name, &b->addrs[e->first_addr + j], err, errlen))
				goto fail;
	}
	return sw_acct_commit(as, err, errlen);
fail:
	sw_acct_rollback(as);
	return -1;
}

void sw_accounts_unsaved(struct sw_accounts *A, const struct sw_acct_batch *b)
{
	for (size_t i = 0; b && i < b->n; i++) {
		const struct batch_acct *e = &b->accts[i];
		struct acct *a = find(A, e->name, name_hash(e->name));

		if (!a)
			continue;	/* cannot leave memory while dirty: only if it was never ours */
		a->dirty = true;
		for (size_t j = 0; j < e->n_addrs; j++)
			for (int k = 0; k < a->n_addrs; k++)
				if (!strcmp(a->addrs[k].key, b->addrs[e->first_addr + j].addr))
					a->addrs[k].dirty = true;
	}
}

/* A row the CLI changed: take its policy fields, unless ours are still waiting to be saved. */
static void take_change(void *ctx, const struct sw_acct_policy *p)
{
	struct sw_accounts *A = ctx;
	struct acct *a = find(A, p->name, name_hash(p->name));

	if (a && !a->policy_pending)
		a->p = *p;
}

int sw_accounts_upkeep(struct sw_accounts *A, int64_t now_ms, char *err, size_t errlen)
{
	int64_t dv;

	/* Policy writes that failed when they were made. */
	for (size_t i = 0; i < A->buckets; i++)
		for (struct acct *a = A->table[i]; a; a = a->next)
			if (a->policy_pending &&
			    !sw_acct_policy_put(A->as, &a->p, a->pending_fields, NULL, err, errlen)) {
				a->policy_pending = false;
				a->pending_fields = 0;
			}
	/* The CLI's changes: someone else committed since we last looked. */
	dv = sw_acct_data_version(A->as);
	if (dv != A->data_version) {
		A->data_version = dv;
		if (sw_acct_changed_since(A->as, A->changed_ms, &A->changed_ms, take_change, A, err, errlen) < 0)
			return -1;
	}
	/* Unused accounts leave memory, a few buckets a second; never one with counts unsaved. */
	for (int k = 0; k < 64 && A->buckets; k++) {
		size_t i = A->evict_cursor++ % A->buckets;

		for (struct acct **pp = &A->table[i]; *pp;) {
			struct acct *a = *pp;

			if (!a->dirty && !a->policy_pending && now_ms / 1000 - a->last_seen > EVICT_MS / 1000 &&
			    !suspended(a, now_ms / 1000) && !a->p.flagged_at) {
				*pp = a->next;
				free(a);
				A->count--;
			} else {
				pp = &a->next;
			}
		}
	}
	return 0;
}

int sw_accounts_flush(struct sw_accounts *A, int64_t now_ms, char *err, size_t errlen)
{
	struct sw_acct_batch *b = NULL;
	int ret;

	if (sw_accounts_take(A, &b, err, errlen))
		return -1;
	ret = sw_acct_batch_write(A->as, b, err, errlen);
	if (ret)
		sw_accounts_unsaved(A, b);
	sw_acct_batch_free(b);
	/* The CLI's changes are followed even while counts cannot be written. */
	if (ret) {
		char ignored[256];

		sw_accounts_upkeep(A, now_ms, ignored, sizeof(ignored));
		return -1;
	}
	return sw_accounts_upkeep(A, now_ms, err, errlen);
}

void sw_accounts_census(const struct sw_accounts *A, unsigned *in_memory, unsigned *n_suspended,
			unsigned *n_flagged)
{
	int64_t now_s = (int64_t)time(NULL);

	*in_memory = (unsigned)A->count;
	*n_suspended = *n_flagged = 0;
	for (size_t i = 0; i < A->buckets; i++)
		for (struct acct *a = A->table[i]; a; a = a->next) {
			*n_suspended += suspended(a, now_s);
			*n_flagged += a->p.flagged_at != 0;
		}
}
