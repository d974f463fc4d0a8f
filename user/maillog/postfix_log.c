// SPDX-License-Identifier: GPL-2.0
/* Postfix smtpd log lines (postfix_log.h). */
#include "postfix_log.h"

#include <arpa/inet.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>

static const char *const kind_names[SW_ML_N_KINDS] = {
	[SW_ML_NOT_SMTPD] = "not_smtpd",   [SW_ML_OTHER] = "other",	      [SW_ML_MALFORMED] = "malformed",
	[SW_ML_CONNECT] = "connect",	   [SW_ML_AUTH_FAILED] = "auth_failed", [SW_ML_LOGIN] = "login",
	[SW_ML_CLIENT] = "client",	   [SW_ML_DISCONNECT] = "disconnect", [SW_ML_REJECT] = "reject",
	[SW_ML_LOST] = "lost",
};

const char *sw_mlog_kind_name(enum sw_mlog_kind k)
{
	return (unsigned)k < SW_ML_N_KINDS ? kind_names[k] : "unknown";
}

/* The unread part of the line. */
struct cur {
	const char *p, *end;
};

static bool at_end(const struct cur *c)
{
	return c->p >= c->end;
}

/* Skip @word if the line continues with it. */
static bool eat(struct cur *c, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n))
		return false;
	c->p += n;
	return true;
}

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static bool is_alnum(char ch)
{
	return is_digit(ch) || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* A decimal number up to @max; false if none or beyond. */
static bool number(struct cur *c, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;
	const char *start = c->p;

	while (c->p < c->end && is_digit(*c->p)) {
		v = v * 10 + (uint64_t)(*c->p++ - '0');
		if (v > max)
			return false;
	}
	*out = (uint32_t)v;
	return c->p > start;
}

/* The next space-separated token (runs of spaces are one separator). */
static bool token(struct cur *c, const char **tok, size_t *len)
{
	while (c->p < c->end && *c->p == ' ')
		c->p++;
	if (at_end(c))
		return false;
	*tok = c->p;
	while (c->p < c->end && *c->p != ' ')
		c->p++;
	*len = (size_t)(c->p - *tok);
	return true;
}

/* Copy [s, s+n) into @dst of @size; false if it does not fit (then cut). */
static bool copy(char *dst, size_t size, const char *s, size_t n)
{
	bool fits = n < size;

	if (!fits)
		n = size - 1;
	memcpy(dst, s, n);
	dst[n] = 0;
	return fits;
}

/* 1..12 for a month's syslog name, 0 otherwise. */
static int month_of(const char *t, size_t n)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

	if (n != 3)
		return 0;
	for (int i = 0; i < 12; i++)
		if (!memcmp(months + 3 * i, t, 3))
			return i + 1;
	return 0;
}

/* @n digits at @t as a number, -1 if any is not a digit. */
static int digits(const char *t, size_t n)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (!is_digit(t[i]))
			return -1;
		v = v * 10 + (t[i] - '0');
	}
	return v;
}

/* hh:mm:ss at @t into @st; false if it is not a time of day. */
static bool clock_of(const char *t, struct sw_mlog_stamp *st)
{
	int h = digits(t, 2), mi = digits(t + 3, 2), se = digits(t + 6, 2);

	if (t[2] != ':' || t[5] != ':' || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 60)
		return false;
	st->hour = (uint8_t)h;
	st->min = (uint8_t)mi;
	st->sec = (uint8_t)se;
	return true;
}

/* Days from 1970-01-01 to @y-@m-@d (proleptic Gregorian; civil-from-days inverted). */
static int64_t days_from_civil(int y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
	static const int dm[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dm[m - 1];
}

/*
 * YYYY-MM-DDThh:mm:ss[.fraction](Z|+hh:mm|-hh:mm) into @st as unix ms.
 * Anything else leaves @st without a time (the line still reads).
 */
static void rfc3339(const char *t, size_t n, struct sw_mlog_stamp *st)
{
	int y = digits(t, 4), mo = digits(t + 5, 2), d = digits(t + 8, 2), ms = 0, off = 0;
	size_t i = 19;
	int64_t secs;

	if (n < 20 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || y < 1970 || mo < 1 || mo > 12 || d < 1 ||
	    d > days_in_month(y, mo) || !clock_of(t + 11, st))
		return;
	if (t[i] == '.') {
		int scale = 100;

		for (i++; i < n && is_digit(t[i]); i++) {
			ms += (t[i] - '0') * scale;
			scale /= 10;
		}
	}
	if (i < n && (t[i] == 'Z' || t[i] == 'z') && i + 1 == n) {
		off = 0;
	} else if (i + 6 == n && (t[i] == '+' || t[i] == '-') && t[i + 3] == ':') {
		int oh = digits(t + i + 1, 2), om = digits(t + i + 4, 2);

		if (oh < 0 || oh > 23 || om < 0 || om > 59)
			return;
		off = (oh * 60 + om) * 60 * (t[i] == '-' ? -1 : 1);
	} else {
		return;
	}
	secs = days_from_civil(y, mo, d) * 86400 + st->hour * 3600 + st->min * 60 + st->sec - off;
	st->kind = SW_MLOG_STAMP_UNIX;
	st->unix_ms = secs * 1000 + ms;
	st->month = (uint8_t)mo;
	st->mday = (uint8_t)d;
}

/*
 * TAG[PID]: at @c. The tag's last component is the program; smtpd lines
 * only. @service gets the component before it when there are three
 * ("postfix/submission/smtpd"), else "smtpd".
 */
enum tag_result { TAG_NONE, TAG_OTHER, TAG_SMTPD };

static enum tag_result tag(struct cur *c, struct sw_mlog *m)
{
	const char *start = c->p, *open, *last_slash = NULL, *prev_slash = NULL;
	struct cur pc;
	uint32_t pid;

	while (c->p < c->end && *c->p != '[' && *c->p != ' ') {
		char ch = *c->p;

		if (!is_alnum(ch) && ch != '/' && ch != '-' && ch != '_' && ch != '.')
			return TAG_NONE;
		if (ch == '/') {
			prev_slash = last_slash;
			last_slash = c->p;
		}
		c->p++;
	}
	if (at_end(c) || *c->p != '[' || c->p == start)
		return TAG_NONE;
	open = c->p++;
	pc = *c;
	if (!number(&pc, 0xffffffffu, &pid) || !eat(&pc, "]: "))
		return TAG_NONE;
	*c = pc;
	m->pid = pid;
	if (!last_slash || open - last_slash - 1 != 5 || memcmp(last_slash + 1, "smtpd", 5))
		return TAG_OTHER;
	if (strncmp(start, "postfix", 7) || (prev_slash && last_slash == prev_slash + 1))
		return TAG_OTHER;
	if (prev_slash)
		copy(m->service, sizeof(m->service), prev_slash + 1, (size_t)(last_slash - prev_slash - 1));
	else
		copy(m->service, sizeof(m->service), "smtpd", 5);
	return TAG_SMTPD;
}

/* Skip the syslog timestamp and host, whichever form, then read the tag. */
static enum tag_result prefix(struct cur *c, struct sw_mlog *m)
{
	struct cur t = *c;
	const char *tok;
	size_t n;
	int mon;
	enum tag_result r;

	/* a journal entry: the tag first */
	if ((r = tag(&t, m)) != TAG_NONE) {
		*c = t;
		return r;
	}
	t = *c;
	if (!token(&t, &tok, &n))
		return TAG_NONE;
	/* The stamp is written in place (m is zeroed): no padding copied from the stack. */
	if ((mon = month_of(tok, n))) {
		int mday;

		/* Mmm dd hh:mm:ss HOST */
		if (!token(&t, &tok, &n) || n > 2 || !is_digit(tok[0]))
			return TAG_NONE;
		mday = digits(tok, n);
		if (!token(&t, &tok, &n) || n != 8 || tok[2] != ':' || tok[5] != ':')
			return TAG_NONE;
		if (mday >= 1 && mday <= days_in_month(2000, mon) && clock_of(tok, &m->stamp)) {
			m->stamp.kind = SW_MLOG_STAMP_SYSLOG;
			m->stamp.month = (uint8_t)mon;
			m->stamp.mday = (uint8_t)mday;
		}
	} else if (n >= 19 && is_digit(tok[0]) && tok[4] == '-' && tok[10] == 'T') {
		/* RFC 3339 */
		rfc3339(tok, n, &m->stamp);
	} else {
		return TAG_NONE;
	}
	if (m->stamp.kind == SW_MLOG_STAMP_NONE)
		memset(&m->stamp, 0, sizeof(m->stamp));	/* what a stamp that did not read left */
	if (!token(&t, &tok, &n))	/* the host */
		return TAG_NONE;
	if (at_end(&t) || *t.p != ' ')
		return TAG_NONE;
	t.p++;
	r = tag(&t, m);
	*c = t;
	return r;
}

static bool hostname_char(char ch)
{
	return is_alnum(ch) || ch == '-' || ch == '.' || ch == '_';
}

/*
 * NAME[ADDR] or NAME[ADDR]:PORT. The address is checked by inet_pton; a
 * name Postfix would not log is refused.
 */
static bool client(struct cur *c, struct sw_mlog *m)
{
	const char *a;
	size_t n;
	char text[64];

	if (c->p >= c->end || *c->p == '[')
		return false;
	while (c->p < c->end && *c->p != '[') {
		if (!hostname_char(*c->p))
			return false;
		c->p++;
	}
	if (at_end(c))
		return false;
	a = ++c->p;
	while (c->p < c->end && *c->p != ']') {
		char ch = *c->p;

		if (!is_alnum(ch) && ch != ':' && ch != '.')
			return false;
		c->p++;
	}
	n = (size_t)(c->p - a);
	if (at_end(c) || n == 0 || n >= sizeof(text))
		return false;
	c->p++;
	memcpy(text, a, n);
	text[n] = 0;
	if (inet_pton(AF_INET, text, m->addr) == 1)
		m->family = AF_INET;
	else if (inet_pton(AF_INET6, text, m->addr) == 1)
		m->family = AF_INET6;
	else
		return false;
	copy(m->addr_text, sizeof(m->addr_text), text, n);
	if (c->end - c->p >= 2 && c->p[0] == ':' && is_digit(c->p[1])) {
		struct cur pc = *c;
		uint32_t port;

		pc.p++;
		if (!number(&pc, 65535, &port))
			return false;
		m->port = (uint16_t)port;
		*c = pc;
	}
	return true;
}

/*
 * A username: false (not usable as an account) when longer than the
 * field or holding a NUL, which would make it read as another name.
 */
static bool user(struct sw_mlog *m, const char *u, size_t n)
{
	return copy(m->username, sizeof(m->username), u, n) && !memchr(u, 0, n);
}

/* connect from CLIENT */
static enum sw_mlog_kind read_connect(struct cur *c, struct sw_mlog *m)
{
	if (!client(c, m) || !at_end(c))
		return SW_ML_MALFORMED;
	return SW_ML_CONNECT;
}

/* warning: CLIENT: SASL METHOD authentication failed: REASON[, sasl_username=USER] */
static enum sw_mlog_kind read_auth_failed(struct cur *c, struct sw_mlog *m)
{
	const char *meth = c->p, *u;
	static const char key[] = ", sasl_username=";

	while (c->p < c->end && *c->p != ' ') {
		if (!is_alnum(*c->p) && *c->p != '-' && *c->p != '_')
			return SW_ML_MALFORMED;
		c->p++;
	}
	if (c->p == meth || !copy(m->method, sizeof(m->method), meth, (size_t)(c->p - meth)))
		return SW_ML_MALFORMED;
	if (!eat(c, " authentication failed"))
		return SW_ML_MALFORMED;
	/* the reason (from the SASL server), then the username (from the client) */
	u = memmem(c->p, (size_t)(c->end - c->p), key, sizeof(key) - 1);
	if (u) {
		u += sizeof(key) - 1;
		m->has_username = true;
		m->username_cut = !user(m, u, (size_t)(c->end - u));
	}
	return SW_ML_AUTH_FAILED;
}

/*
 * QUEUEID: client=CLIENT[, sasl_method=M, sasl_username=U[, sasl_sender=S]]
 * Other attributes (orig_queue_id=, orig_client=) are skipped. The login
 * name is an account SASL accepted; it runs to ", sasl_sender=" or the end.
 */
static enum sw_mlog_kind read_client(struct cur *c, struct sw_mlog *m)
{
	static const char user_key[] = ", sasl_username=", meth_key[] = ", sasl_method=",
			  sender_key[] = ", sasl_sender=";
	const char *u, *mp, *me, *ue;
	size_t rest;

	if (!client(c, m))
		return SW_ML_MALFORMED;
	rest = (size_t)(c->end - c->p);
	u = memmem(c->p, rest, user_key, sizeof(user_key) - 1);
	if (!u)
		return SW_ML_CLIENT;
	mp = memmem(c->p, (size_t)(u - c->p), meth_key, sizeof(meth_key) - 1);
	if (mp) {
		mp += sizeof(meth_key) - 1;
		me = memchr(mp, ',', (size_t)(u - mp));
		if (!me)
			me = u;
		if (!copy(m->method, sizeof(m->method), mp, (size_t)(me - mp)))
			return SW_ML_MALFORMED;
	}
	u += sizeof(user_key) - 1;
	ue = memmem(u, (size_t)(c->end - u), sender_key, sizeof(sender_key) - 1);
	if (!ue)
		ue = c->end;
	if (ue == u)
		return SW_ML_MALFORMED;
	m->has_username = true;
	m->username_cut = !user(m, u, (size_t)(ue - u));
	return SW_ML_LOGIN;
}

/* N or N/M; for "auth=1" both are 1. */
static bool count_pair(struct cur *c, int *ok, int *total)
{
	uint32_t a, b;

	if (!number(c, 1000000, &a))
		return false;
	b = a;
	if (c->p < c->end && *c->p == '/') {
		c->p++;
		if (!number(c, 1000000, &b) || a > b)
			return false;
	}
	*ok = (int)a;
	*total = (int)b;
	return true;
}

/* disconnect from CLIENT ehlo=1 auth=0/1 ... commands=1/2 */
static enum sw_mlog_kind read_disconnect(struct cur *c, struct sw_mlog *m)
{
	if (!client(c, m))
		return SW_ML_MALFORMED;
	while (!at_end(c)) {
		const char *tok;
		size_t n;
		struct cur t;

		if (!token(c, &tok, &n))
			break;
		t = (struct cur){ tok, tok + n };
		if (eat(&t, "auth=")) {
			if (!count_pair(&t, &m->auth_ok, &m->auth_total) || !at_end(&t))
				return SW_ML_MALFORMED;
		} else if (eat(&t, "commands=")) {
			if (!count_pair(&t, &m->commands_ok, &m->commands_total) || !at_end(&t))
				return SW_ML_MALFORMED;
		}
	}
	return SW_ML_DISCONNECT;
}

/* A command name: capitals, at most 15 ("RCPT", "END-OF-MESSAGE", "UNKNOWN"). */
static bool command(struct cur *c, struct sw_mlog *m)
{
	const char *s = c->p;

	while (c->p < c->end && ((*c->p >= 'A' && *c->p <= 'Z') || *c->p == '-'))
		c->p++;
	return c->p > s && copy(m->command, sizeof(m->command), s, (size_t)(c->p - s));
}

/* NOQUEUE: reject: CMD from CLIENT: CODE X.Y.Z TEXT */
static enum sw_mlog_kind read_reject(struct cur *c, struct sw_mlog *m)
{
	uint32_t code;
	const char *s;

	if (!command(c, m) || !eat(c, " from ") || !client(c, m) || !eat(c, ": "))
		return SW_ML_MALFORMED;
	if (!number(c, 599, &code) || code < 400)
		return SW_ML_MALFORMED;
	m->code = code;
	if (eat(c, " ")) {
		s = c->p;
		while (c->p < c->end && (is_digit(*c->p) || *c->p == '.'))
			c->p++;
		if (c->p > s && c->p < c->end && *c->p == ' ' && (*s == '4' || *s == '5'))
			copy(m->status, sizeof(m->status), s, (size_t)(c->p - s));
	}
	return SW_ML_REJECT;
}

/* lost connection after CMD from CLIENT / timeout after CMD from CLIENT */
static enum sw_mlog_kind read_lost(struct cur *c, struct sw_mlog *m)
{
	if (!command(c, m))
		return SW_ML_MALFORMED;
	/* "after CMD (N bytes) from": DATA and BDAT say how much came */
	if (eat(c, " (")) {
		while (c->p < c->end && *c->p != ')')
			c->p++;
		if (!eat(c, ")"))
			return SW_ML_MALFORMED;
	}
	if (!eat(c, " from ") || !client(c, m))
		return SW_ML_MALFORMED;
	return SW_ML_LOST;
}

/* A Postfix queue id: letters and digits, short (hex) or long form. */
static bool queue_id(struct cur *c, struct sw_mlog *m)
{
	const char *s = c->p;

	while (c->p < c->end && is_alnum(*c->p))
		c->p++;
	if (c->p - s < 6 || !copy(m->queue_id, sizeof(m->queue_id), s, (size_t)(c->p - s)))
		return false;
	return eat(c, ": ");
}

enum sw_mlog_kind sw_mlog_parse(const char *line, size_t len, struct sw_mlog *m)
{
	struct cur c = { line, line + len };
	enum tag_result t;
	enum sw_mlog_kind k;

	memset(m, 0, sizeof(*m));
	m->auth_ok = m->auth_total = m->commands_ok = m->commands_total = -1;
	t = prefix(&c, m);
	if (t != TAG_SMTPD) {
		memset(m, 0, sizeof(*m));
		return m->kind = SW_ML_NOT_SMTPD;
	}
	if (eat(&c, "connect from "))
		k = read_connect(&c, m);
	else if (eat(&c, "disconnect from "))
		k = read_disconnect(&c, m);
	else if (eat(&c, "lost connection after "))
		k = read_lost(&c, m);
	else if (eat(&c, "timeout after ")) {
		m->timeout = true;
		k = read_lost(&c, m);
	} else if (eat(&c, "NOQUEUE: reject: "))
		k = read_reject(&c, m);
	else if (eat(&c, "warning: ")) {
		struct cur w = c;

		/* only "warning: CLIENT: SASL M authentication failed"; other warnings are other */
		if (client(&w, m) && eat(&w, ": SASL ")) {
			c = w;
			k = read_auth_failed(&c, m);
		} else {
			k = SW_ML_OTHER;
		}
	} else {
		struct cur q = c;

		if (queue_id(&q, m) && eat(&q, "client="))
			k = read_client(&q, m);
		else
			k = SW_ML_OTHER;
	}
	if (k == SW_ML_OTHER || k == SW_ML_MALFORMED) {
		/* nothing half-read is left for a caller to trust */
		char service[sizeof(m->service)];
		uint32_t pid = m->pid;

		memcpy(service, m->service, sizeof(service));
		memset(m, 0, sizeof(*m));
		m->auth_ok = m->auth_total = m->commands_ok = m->commands_total = -1;
		memcpy(m->service, service, sizeof(service));
		m->pid = pid;
	}
	return m->kind = k;
}

int64_t sw_mlog_time_ms(const struct sw_mlog_stamp *st, int64_t now_ms)
{
	struct tm now_tm, tm;
	time_t now = (time_t)(now_ms / 1000), t;

	if (st->kind == SW_MLOG_STAMP_UNIX)
		return st->unix_ms;
	if (st->kind != SW_MLOG_STAMP_SYSLOG || !localtime_r(&now, &now_tm))
		return 0;
	/* No year: this year's, or last year's if that would be over a day ahead (a December line in January). */
	for (int back = 0; back < 2; back++) {
		memset(&tm, 0, sizeof(tm));
		tm.tm_year = now_tm.tm_year - back;
		tm.tm_mon = st->month - 1;
		tm.tm_mday = st->mday;
		tm.tm_hour = st->hour;
		tm.tm_min = st->min;
		tm.tm_sec = st->sec;
		tm.tm_isdst = -1;
		t = mktime(&tm);
		if (t == (time_t)-1 || tm.tm_mday != st->mday)
			continue;	/* Feb 29 of a year without one */
		if ((int64_t)t * 1000 <= now_ms + 86400000LL)
			return (int64_t)t * 1000;
	}
	return 0;
}
