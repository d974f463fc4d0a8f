// SPDX-License-Identifier: GPL-2.0
/*
 * The mail-log follower service ([maillog]): Postfix's log, from a file
 * (follow.c: rotation by rename and by copy-truncate) or the systemd
 * journal (journal.c), read line by line (postfix_log.c) into the hints
 * engine (hints.c), whose actions go to the kernel (sw_loader_penalize,
 * sw_loader_vouch) and to the accounts ledger (sw_accounts_flag).
 *
 * Where it is in the log is saved in state.db (settings "maillog.file" or
 * "maillog.journal") in the same transaction as the source links and the
 * failure counts of the lines before it, after every batch of lines: a
 * restart resumes after the last batch it saved, counting on. Reading is bounded per turn of the loop
 * (BATCH lines), so a backlog never stalls the other services.
 *
 * Fail open: a log that cannot be read, or a state.db that cannot be
 * written, is reported (once per episode) and retried; the hints already
 * given stay in the kernel.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <event2/event.h>

#include "accounts.h"
#include "bus.h"
#include "follow.h"
#include "hints.h"
#include "journal.h"
#include "log.h"
#include "parse.h"
#include "postfix_log.h"
#include "figures.h"
#include "service.h"
#include "store_accounts.h"
#include "store_links.h"

#define BATCH	    20000	/* lines per turn of the loop */
#define POLL_MS	    250
#define LINKS_KEEP  (30 * 86400)	/* links not seen for 30 days are forgotten */
#define KEY_FILE    "maillog.file"
#define KEY_JOURNAL "maillog.journal"

struct maillog_svc {
	struct sw_daemon *d;
	struct sw_hints *hints;
	struct sw_link_store *ls;
	struct sw_acct_store *as;	/* flags written directly when the policy service is off */
	struct sw_follow *f;
	struct sw_journal *j;
	struct event *poll, *watch;
	struct sw_config masks;
	char cur_file[SW_PATH_LEN];
	bool journal;
	uint32_t state_gen;
	int64_t store_noted, expired_at;
	uint64_t kinds[SW_ML_N_KINDS], truncated;
	int64_t last_event_ms;	/* the time given to the last line: times never go back */
	int64_t last_read_ms;	/* when the last line was read */
	bool store_failing, save_all;
	char store_err[512];
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void key_text(const struct maillog_svc *m, const struct sw_src_key *key, char *buf, size_t len)
{
	struct sw_cidr c;
	unsigned plen = key->family == SW_AF_INET ? m->d->s.ipv4_prefix : m->d->s.ipv6_prefix;

	memset(&c, 0, sizeof(c));
	c.family = key->family;
	c.prefixlen = (uint8_t)plen;
	memcpy(c.addr, key->addr, key->family == SW_AF_INET ? 4 : 16);
	sw_format_cidr(&c, true, buf, len);
}

static void conf_of(const struct sw_settings *s, struct sw_hints_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->auth_failures = s->auth_failures;
	c->auth_window_ms = s->auth_window_ns / 1000000;
	c->guess_sources = s->guess_sources;
	c->guess_window_ms = s->guess_window_ns / 1000000;
	c->shared_accounts = s->shared_accounts;
	c->shared_window_ms = s->shared_window_ns / 1000000;
	c->suspended_uses = s->suspended_uses;
	c->suspended_window_ms = s->suspended_window_ns / 1000000;
	c->vouch = s->vouch;
	c->monitor = s->maillog_monitor || s->dry_run;
}

/* ---- the hints' actions ---- */

static int op_penalize(void *ctx, const struct sw_src_key *key, uint32_t reason, uint32_t detail)
{
	struct maillog_svc *m = ctx;

	return m->d->loaded ? sw_loader_penalize(&m->d->l, key, reason, detail) : -ENOENT;
}

static int op_vouch(void *ctx, const struct sw_src_key *key, const char *account)
{
	struct maillog_svc *m = ctx;

	/* the sources of a suspended or flagged account are not vouched for */
	if (m->d->accounts) {
		bool good;

		pthread_mutex_lock(m->d->accounts_lock);
		good = sw_accounts_in_good_standing(m->d->accounts, account, now_ms());
		pthread_mutex_unlock(m->d->accounts_lock);
		if (!good)
			return -EACCES;
	}
	return m->d->loaded ? sw_loader_vouch(&m->d->l, key) : -ENOENT;
}

/* Without the policy service: the flag goes straight to state.db, with its audit record. */
static void flag_in_store(struct maillog_svc *m, const char *account, const char *why)
{
	struct sw_acct_policy p;
	struct sw_acct_audit au = { .at = (int64_t)time(NULL) };
	char err[512];
	int r;

	if (!m->as)
		return;
	r = sw_acct_policy_get(m->as, account, &p, err, sizeof(err));
	if (r < 0 || p.flagged_at) {
		if (r < 0)
			sw_warn("maillog: cannot flag %s: %s", account, err);
		return;
	}
	p.flagged_at = au.at;
	snprintf(p.flag_reason, sizeof(p.flag_reason), "%s", why);
	snprintf(au.actor, sizeof(au.actor), "maillog");
	snprintf(au.action, sizeof(au.action), "flagged");
	snprintf(au.reason, sizeof(au.reason), "%s", why);
	snprintf(au.detail, sizeof(au.detail), "guess");
	if (sw_acct_policy_put(m->as, &p, SW_AP_FLAG, &au, err, sizeof(err)))
		sw_warn("maillog: cannot flag %s: %s", account, err);
}

static void op_flag(void *ctx, const char *account, const char *why)
{
	struct maillog_svc *m = ctx;

	if (m->d->accounts) {
		pthread_mutex_lock(m->d->accounts_lock);
		sw_accounts_flag(m->d->accounts, account, "guess", why, "", m->d->s.guess_suspend, now_ms());
		pthread_mutex_unlock(m->d->accounts_lock);
	} else
		flag_in_store(m, account, why);
}

static void op_note(void *ctx, const char *action, const struct sw_src_key *key, const char *account,
		    uint64_t count, const char *text)
{
	struct maillog_svc *m = ctx;
	struct sw_bus_event ev = { .kind = SW_BUS_MAILLOG, .count = count };
	bool guess = !strcmp(action, "guessed");

	ev.level = !strcmp(action, "penalised") || guess || !strcmp(action, "failed") ? SW_LOG_WARN : SW_LOG_INFO;
	snprintf(ev.action, sizeof(ev.action), "%s", action);
	key_text(m, key, ev.source, sizeof(ev.source));
	snprintf(ev.account, sizeof(ev.account), "%s", account ? account : "");
	snprintf(ev.reason, sizeof(ev.reason), "%s",
		 guess ? "guess" : strstr(text, "suspended account") ? "suspended" : "auth");
	if (guess)
		snprintf(ev.text, sizeof(ev.text), "%s: flagged: %s (last from %s)", account, text, ev.source);
	else
		snprintf(ev.text, sizeof(ev.text), "%s: %s%s%s%s", ev.source, strcmp(action, "penalised") ? "" : "penalised: ",
			 text, account && account[0] ? ", last account " : "", account ? account : "");
	sw_bus_publish(&ev);
}

/* ---- position and links ---- */

static void put_link(void *ctx, const struct sw_hints_link *l)
{
	struct maillog_svc *m = ctx;
	struct sw_link_row r;

	memset(&r, 0, sizeof(r));
	key_text(m, &l->key, r.addr, sizeof(r.addr));
	snprintf(r.name, sizeof(r.name), "%s", l->account);
	r.first_seen = l->first_seen;
	r.last_seen = l->last_seen;
	r.logins = l->logins;
	r.failures = l->failures;
	r.last_login = l->last_login;
	r.last_failure = l->last_failure;
	if (!m->store_failing && sw_link_put(m->ls, &r, m->store_err, sizeof(m->store_err)))
		m->store_failing = true;
}

static void position_text(const struct maillog_svc *m, char *buf, size_t len)
{
	if (m->j) {
		if (sw_journal_cursor(m->j, buf, len) < 0)
			buf[0] = 0;
		return;
	}
	{
		struct sw_follow_pos p;

		sw_follow_position(m->f, &p);
		snprintf(buf, len, "%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIx64 " %" PRIu32 " %s", p.dev, p.ino,
			 p.offset, p.head_hash, p.head_len, m->cur_file);
	}
}

static void put_failures(void *ctx, const struct sw_src_key *key, const int64_t *times, unsigned n)
{
	struct maillog_svc *m = ctx;
	char addr[64];

	key_text(m, key, addr, sizeof(addr));
	if (!m->store_failing && sw_fail_put(m->ls, addr, times, n, m->store_err, sizeof(m->store_err)))
		m->store_failing = true;
}

/* The changed links and failures, and where we are, in one transaction. */
static void save(struct maillog_svc *m, bool all)
{
	char err[512], pos[SW_JOURNAL_CURSOR_MAX + SW_PATH_LEN + 128];
	int64_t now = now_ms();

	if (!m->ls)
		return;
	m->store_failing = false;
	if (sw_link_begin(m->ls, err, sizeof(err)))
		goto failed;
	sw_hints_each_link(m->hints, all || m->save_all, put_link, m);
	sw_hints_each_failures(m->hints, all || m->save_all, now, put_failures, m);
	position_text(m, pos, sizeof(pos));
	if (!m->store_failing && pos[0] &&
	    sw_store_setting_put(m->d->store, m->j ? KEY_JOURNAL : KEY_FILE, pos, m->store_err, sizeof(m->store_err)))
		m->store_failing = true;
	if (m->store_failing) {
		sw_link_rollback(m->ls);
		snprintf(err, sizeof(err), "%s", m->store_err);
		goto failed;
	}
	if (sw_link_commit(m->ls, err, sizeof(err)))
		goto failed;
	m->save_all = false;
	if (now / 1000 - m->expired_at > 3600) {
		m->expired_at = now / 1000;
		sw_link_expire(m->ls, now / 1000 - LINKS_KEEP, err, sizeof(err));
	}
	return;
failed:
	/* the links were marked clean: the next save writes them all */
	m->save_all = true;
	if (now - m->store_noted > 60000) {
		m->store_noted = now;
		sw_bus_emit(SW_BUS_MAILLOG, SW_LOG_ERROR, "failed", "", "store",
			    "cannot save the log position and source links: %s (retried with the next lines)", err);
	}
}

static void load_link(void *ctx, const struct sw_link_row *r)
{
	struct maillog_svc *m = ctx;
	struct sw_hints_link l;
	struct sw_cidr c;
	char err[SW_ERR_LEN];

	if (sw_parse_cidr(r->addr, &c, err))
		return;
	memset(&l, 0, sizeof(l));
	sw_hints_key(m->hints, c.family, c.addr, &l.key);
	snprintf(l.account, sizeof(l.account), "%s", r->name);
	l.first_seen = r->first_seen;
	l.last_seen = r->last_seen;
	l.logins = r->logins;
	l.failures = r->failures;
	l.last_login = r->last_login;
	l.last_failure = r->last_failure;
	sw_hints_load_link(m->hints, &l);
}

static void load_failures(void *ctx, const char *addr, const int64_t *times, unsigned n)
{
	struct maillog_svc *m = ctx;
	struct sw_src_key key;
	struct sw_cidr c;
	char err[SW_ERR_LEN];

	if (sw_parse_cidr(addr, &c, err))
		return;
	sw_hints_key(m->hints, c.family, c.addr, &key);
	sw_hints_load_failures(m->hints, &key, times, n, now_ms());
}

/* "DEV INO OFFSET HASH LEN PATH" of the file it was following, if it is this file. */
static bool saved_file_position(struct maillog_svc *m, struct sw_follow_pos *p)
{
	char v[SW_PATH_LEN + 128], err[512], path[SW_PATH_LEN];
	int n = 0;

	memset(p, 0, sizeof(*p));
	if (sw_store_setting_get(m->d->store, KEY_FILE, v, sizeof(v), err, sizeof(err)) != 1)
		return false;
	if (sscanf(v, "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNx64 " %" SCNu32 " %n", &p->dev, &p->ino, &p->offset,
		   &p->head_hash, &p->head_len, &n) != 5 || !n) {
		sw_warn("maillog: the saved position \"%.80s\" does not read; starting at the end of %s", v,
			m->cur_file);
		memset(p, 0, sizeof(*p));
		return false;
	}
	snprintf(path, sizeof(path), "%s", v + n);
	if (strcmp(path, m->cur_file)) {
		sw_info("maillog: the saved position is in %s, not %s; starting at the end of %s", path, m->cur_file,
			m->cur_file);
		memset(p, 0, sizeof(*p));
		return false;
	}
	return p->ino != 0;
}

/* ---- reading ---- */

/*
 * When a line happened, for the hints' windows: its own time (the
 * journal's, or the line's stamp), so that a backlog read after a restart
 * or a stall counts when it was written, not all at once now. Never
 * later than now (a clock ahead, a forged stamp), never before the line
 * before it (stamps out of order), and now if the line has none.
 */
static int64_t line_time(struct maillog_svc *m, const struct sw_mlog *ml)
{
	int64_t now = now_ms(), t = m->j ? sw_journal_entry_ms(m->j) : 0;

	if (!t)
		t = sw_mlog_time_ms(&ml->stamp, now);
	if (t <= 0 || t > now)
		t = now;
	if (t < m->last_event_ms)
		t = m->last_event_ms <= now ? m->last_event_ms : now;
	m->last_event_ms = t;
	return t;
}

static void on_line(void *ctx, const char *line, size_t len, unsigned flags)
{
	struct maillog_svc *m = ctx;
	struct sw_mlog ml;
	enum sw_mlog_kind k;

	if (flags & SW_FOLLOW_TRUNCATED)
		m->truncated++;
	m->last_read_ms = now_ms();
	k = sw_mlog_parse(line, len, &ml);
	m->kinds[k]++;
	if (k > SW_ML_MALFORMED)
		sw_hints_line(m->hints, &ml, line_time(m, &ml));
}

static void tell_state(struct maillog_svc *m)
{
	const char *msg;
	uint32_t gen;
	enum sw_follow_state st;

	if (!m->f)
		return;
	st = sw_follow_state(m->f, &msg, &gen);
	if (gen == m->state_gen)
		return;
	m->state_gen = gen;
	if (msg && msg[0])
		sw_bus_emit(SW_BUS_MAILLOG, st == SW_FOLLOW_READING ? SW_LOG_INFO : SW_LOG_WARN,
			    st == SW_FOLLOW_READING ? "reading" : st == SW_FOLLOW_WAITING ? "waiting" : "failed", "",
			    "file", "%s", msg);
}

static void arm(struct maillog_svc *m, bool now)
{
	struct timeval tv = { 0, now ? 0 : POLL_MS * 1000 };

	evtimer_add(m->poll, &tv);
}

static void read_some(struct maillog_svc *m)
{
	int n;

	if (m->f)
		n = sw_follow_read(m->f, on_line, m, BATCH);
	else
		n = sw_journal_read(m->j, on_line, m, BATCH);
	tell_state(m);
	if (n > 0)
		save(m, false);
	else if (m->save_all)
		save(m, false);	/* retry a failed save */
	arm(m, n >= BATCH);	/* more waiting: the next turn of the loop */
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
	read_some(arg);
}

static void on_watch(evutil_socket_t fd, short what, void *arg)
{
	struct maillog_svc *m = arg;

	evtimer_del(m->poll);
	read_some(m);
}

/* ---- the service ---- */

static void teardown(struct maillog_svc *m)
{
	if (m->hints && m->ls)
		save(m, false);
	if (m->d->hints == m->hints)	/* read by the policy thread too */
		__atomic_store_n(&m->d->hints, NULL, __ATOMIC_RELEASE);
	if (m->poll)
		event_free(m->poll);
	if (m->watch)
		event_free(m->watch);
	m->poll = m->watch = NULL;
	sw_follow_close(m->f);
	sw_journal_close(m->j);
	m->f = NULL;
	m->j = NULL;
	sw_hints_free(m->hints);
	m->hints = NULL;
	sw_link_store_close(m->ls);
	m->ls = NULL;
	sw_acct_store_close(m->as);
	m->as = NULL;
}

static int setup(struct maillog_svc *m, char *err, size_t errlen)
{
	struct sw_daemon *d = m->d;
	struct sw_hints_conf conf;
	struct sw_hints_ops ops = { op_penalize, op_vouch, op_flag, op_note, m };
	int fd;

	if (!d->store) {
		snprintf(err, errlen, "maillog: no state.db, the mail-log follower is off");
		return -1;
	}
	sw_settings_to_kernel(&d->s, &m->masks);
	conf_of(&d->s, &conf);
	m->hints = sw_hints_new(&conf, &m->masks, &ops);
	m->ls = sw_link_store_open(d->store, err, errlen);
	if (!m->hints || !m->ls) {
		if (!m->hints)
			snprintf(err, errlen, "maillog: out of memory");
		goto fail;
	}
	m->as = sw_acct_store_open(d->store, err, errlen);
	if (!m->as)
		goto fail;
	if (sw_link_each(m->ls, (int64_t)time(NULL) - LINKS_KEEP, load_link, m, err, errlen) < 0 ||
	    sw_fail_each(m->ls, load_failures, m, err, errlen) < 0)
		goto fail;
	m->journal = d->s.maillog_journal;
	snprintf(m->cur_file, sizeof(m->cur_file), "%s", d->s.maillog_file);
	if (m->journal) {
		char cursor[SW_JOURNAL_CURSOR_MAX] = "", e2[512];

		if (sw_store_setting_get(d->store, KEY_JOURNAL, cursor, sizeof(cursor), e2, sizeof(e2)) != 1)
			cursor[0] = 0;
		m->j = sw_journal_open(d->s.maillog_journal_dir[0] ? d->s.maillog_journal_dir : NULL, cursor, err,
				       errlen);
		if (!m->j)
			goto fail;
		sw_bus_emit(SW_BUS_MAILLOG, SW_LOG_INFO, "reading", "", "journal", "%s", sw_journal_message(m->j));
		fd = sw_journal_fd(m->j);
	} else {
		struct sw_follow_pos pos;
		bool resume = saved_file_position(m, &pos);

		m->f = sw_follow_open(m->cur_file, resume ? &pos : NULL, SW_FOLLOW_FROM_END, err, errlen);
		if (!m->f)
			goto fail;
		tell_state(m);
		fd = sw_follow_inotify_fd(m->f);
	}
	m->poll = evtimer_new(d->base, on_poll, m);
	if (!m->poll) {
		snprintf(err, errlen, "maillog: out of memory");
		goto fail;
	}
	if (fd >= 0) {
		m->watch = event_new(d->base, fd, EV_READ | EV_PERSIST, on_watch, m);
		if (m->watch)
			event_add(m->watch, NULL);
	}
	__atomic_store_n(&d->hints, m->hints, __ATOMIC_RELEASE);
	m->save_all = true;	/* the first save rewrites what was loaded: aged-out failures are deleted */
	arm(m, true);
	return 0;
fail:
	teardown(m);
	return -1;
}

static int maillog_start(struct sw_daemon *d, void **state, char *err, size_t errlen)
{
	struct maillog_svc *m = calloc(1, sizeof(*m));

	if (!m) {
		snprintf(err, errlen, "maillog: out of memory");
		return -1;
	}
	m->d = d;
	*state = m;
	if (!d->s.maillog_enabled)
		return 0;
	if (setup(m, err, errlen)) {
		*state = NULL;
		free(m);
		return -1;
	}
	return 0;
}

static void maillog_reload(struct sw_daemon *d, void *state)
{
	struct maillog_svc *m = state;
	struct sw_hints_conf conf;
	char err[512] = "";

	if (!m)
		return;
	if (!d->s.maillog_enabled) {
		if (m->hints) {
			teardown(m);
			sw_bus_emit(SW_BUS_MAILLOG, SW_LOG_INFO, "stopped", "", "", "disabled by the reload");
		}
		return;
	}
	if (m->hints && (m->journal != d->s.maillog_journal || strcmp(m->cur_file, d->s.maillog_file)))
		teardown(m);	/* another log: start over on it */
	if (!m->hints) {
		if (setup(m, err, sizeof(err)))
			sw_bus_emit(SW_BUS_MAILLOG, SW_LOG_ERROR, "failed", "", "start", "%s", err);
		return;
	}
	conf_of(&d->s, &conf);
	sw_hints_configure(m->hints, &conf);
}

static void maillog_stop(struct sw_daemon *d, void *state)
{
	struct maillog_svc *m = state;

	if (!m)
		return;
	if (m->hints) {
		const struct sw_hints_stats *st = sw_hints_stats(m->hints);
		uint64_t lines = 0;

		for (int k = 0; k < SW_ML_N_KINDS; k++)
			lines += m->kinds[k];
		sw_info("maillog: %" PRIu64 " lines (%" PRIu64 " failed logins, %" PRIu64 " logins, %" PRIu64
			" malformed, %" PRIu64 " cut); %" PRIu64 " penalties, %" PRIu64 " spared as shared, %" PRIu64
			" vouched, %" PRIu64 " accounts flagged",
			lines, m->kinds[SW_ML_AUTH_FAILED], m->kinds[SW_ML_LOGIN], m->kinds[SW_ML_MALFORMED], m->truncated,
			st->penalties, st->shared_spared, st->vouches, st->flags);
		teardown(m);
	}
	free(m);
}

static void maillog_figures(struct sw_daemon *d, void *state, struct sw_figures *f)
{
	struct maillog_svc *m = state;
	struct sw_fig_maillog *g = &f->maillog;

	if (!m || !m->hints)
		return;
	g->up = true;
	g->journal = m->journal;
	memcpy(g->kinds, m->kinds, sizeof(g->kinds));
	g->truncated = m->truncated;
	g->last_line_ms = m->last_read_ms;
	if (m->f) {
		const struct sw_follow_stats *fs = sw_follow_stats(m->f);
		struct sw_follow_pos pos;
		struct stat st;

		g->rotations = fs->rotations;
		g->truncations = fs->truncations;
		sw_follow_position(m->f, &pos);
		if (m->cur_file[0] && !stat(m->cur_file, &st)) {
			g->lag_known = true;
			if ((uint64_t)st.st_ino == pos.ino && (uint64_t)st.st_dev == pos.dev)
				g->lag_bytes = (uint64_t)st.st_size > pos.offset ? (uint64_t)st.st_size - pos.offset : 0;
			else
				g->lag_bytes = (uint64_t)st.st_size;	/* a new file, not opened yet */
		}
	}
	{
		const struct sw_hints_stats *hs = sw_hints_stats(m->hints);

		g->penalties = hs->penalties;	/* penalties_suspended among them */
		g->vouches = hs->vouches;
		g->flags = hs->flags;
		g->shared_spared = hs->shared_spared;
		g->monitored = hs->monitored;
	}
}

const struct sw_service sw_svc_maillog = {
	.name = "maillog",
	.start = maillog_start,
	.reload = maillog_reload,
	.stop = maillog_stop,
	.figures = maillog_figures,
	.required = false,
};
