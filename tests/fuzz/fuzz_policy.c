// SPDX-License-Identifier: GPL-2.0
/*
 * The Postfix policy protocol reader (user/accounts/policy_proto.c) and
 * the decisions on what it reads (user/accounts/accounts.c): whatever a
 * client of the policy socket sends.
 *
 * The input is a byte stream, read twice: by sw_policy_parse_stream(),
 * and line by line through sw_policy_req_line() under the policy
 * service's rules (a line over SW_POLICY_LINE_MAX + 1 bytes loses the
 * stream). Both must give the same requests. After every line each field
 * is NUL-terminated within its size, the error kind is one of the enum,
 * the counts are within what was fed and, for a well-formed request,
 * within the limits. Every complete well-formed request is then decided
 * by a ledger over a real state.db (a temporary directory made once,
 * emptied before each input so that an input decides the same every
 * time); a verdict is one of its kinds with a reply line Postfix can
 * read: no line break, a 4xx/5xx code for a refusal, WARN, FILTER or
 * DUNNO. The request's size= moves the clock forward (up to an hour a
 * request), so suspensions and overrides expire within an input.
 */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sqlite3.h>
#include "accounts.h"
#include "config.h"
#include "parse.h"
#include "policy_proto.h"
#include "store.h"
#include "store_accounts.h"

#define check(cond, ...)                                                                   \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "fuzz_policy: %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                                      \
			fputc('\n', stderr);                                               \
			abort();                                                           \
		}                                                                          \
	} while (0)

#define MAX_REQS 64	/* requests of one input compared between the two readings */
#define T0	 1700000000000LL

static char dir[64], state_dir[96], db_path[128];
static struct sw_settings settings;
static struct sw_store *store;
static struct sw_acct_store *acct_store;
static sqlite3 *wipe_db;	/* our own connection, to empty the accounts tables */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void cleanup(void)
{
	sqlite3_close(wipe_db);
	sw_acct_store_close(acct_store);
	sw_store_close(store);
	if (dir[0])
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void init_once(void)
{
	static const char *const nets[] = { "10.0.0.0/8", "2001:db8:100::/40" };
	char err[SW_ERR_LEN];
	struct stat sb;

	/* tmpfs when there is one: state.db's writes stay in memory */
	snprintf(dir, sizeof(dir), "%s/fuzz_policy.XXXXXX", stat("/dev/shm", &sb) == 0 ? "/dev/shm" : "/tmp");
	check(mkdtemp(dir), "mkdtemp %s", dir);
	snprintf(state_dir, sizeof(state_dir), "%s/state", dir);
	snprintf(db_path, sizeof(db_path), "%s/state.db", state_dir);
	atexit(cleanup);

	/* limits small enough for a few requests to reach every policy */
	sw_settings_defaults(&settings);
	settings.limits[SW_LIM_MSG_MINUTE] = 3;
	settings.limits[SW_LIM_MSG_HOUR] = 6;
	settings.limits[SW_LIM_RCPT_MINUTE] = 5;
	settings.suspend_ns = 3600ULL * 1000000000ULL;
	settings.overseas_limit = 2;
	settings.overseas_window_ns = 6 * 3600ULL * 1000000000ULL;
	settings.origins_countries = 2;
	settings.origins_addresses = 3;
	snprintf(settings.sender_domains, sizeof(settings.sender_domains), "example.org, example.net");
	snprintf(settings.flagged_filter, sizeof(settings.flagged_filter), "smtp-flagged:[192.0.2.25]:25");
	for (int i = 0; i < 2; i++)
		check(!sw_parse_cidr(nets[i], &settings.relay_networks[i], err), "%s: %s", nets[i], err);
	settings.n_relay_networks = 2;

	store = sw_store_open(state_dir, err, sizeof(err));
	check(store, "sw_store_open: %s", err);
	acct_store = sw_acct_store_open(store, err, sizeof(err));
	check(acct_store, "sw_acct_store_open: %s", err);
	check(sqlite3_open(db_path, &wipe_db) == SQLITE_OK, "open %s", db_path);
	sqlite3_busy_timeout(wipe_db, 5000);
	sqlite3_exec(wipe_db, "PRAGMA synchronous = OFF", NULL, NULL, NULL);
}

static void wipe(void)
{
	static const char sql[] = "BEGIN IMMEDIATE; DELETE FROM accounts; DELETE FROM account_counts;"
				  " DELETE FROM account_addrs; DELETE FROM account_audit; COMMIT";

	check(sqlite3_exec(wipe_db, sql, NULL, NULL, NULL) == SQLITE_OK, "empty the tables: %s",
	      sqlite3_errmsg(wipe_db));
}

/* ---- the reader's invariants ---- */

#define FIELD_OK(r, f) check(memchr((r)->f, 0, sizeof((r)->f)), #f " not terminated within %zu bytes", sizeof((r)->f))

static void check_req(const struct sw_policy_req *r, size_t lines, size_t bytes_fed)
{
	FIELD_OK(r, protocol_state);
	FIELD_OK(r, client_address);
	FIELD_OK(r, sasl_username);
	FIELD_OK(r, sasl_method);
	FIELD_OK(r, sender);
	FIELD_OK(r, recipient);
	FIELD_OK(r, instance);
	FIELD_OK(r, queue_id);
	check((unsigned)r->error < SW_PE_N_KINDS, "error kind %d", (int)r->error);
	check(strcmp(sw_policy_error_name(r->error), "unknown"), "error %d has no name", (int)r->error);
	check((unsigned)r->state <= SW_PS_ETRN, "state %d", (int)r->state);
	if (r->state != SW_PS_UNKNOWN)
		check(!strcmp(r->protocol_state, sw_policy_state_name(r->state)), "state %d read from \"%s\"",
		      (int)r->state, r->protocol_state);
	check(r->attrs <= lines, "%u attributes from %zu lines", r->attrs, lines);
	check(r->bytes <= bytes_fed, "%zu bytes counted of %zu fed", r->bytes, bytes_fed);
	if (r->error == SW_PE_NONE) {
		check(r->attrs <= SW_POLICY_ATTRS_MAX, "%u attributes in a well-formed request", r->attrs);
		check(r->bytes <= SW_POLICY_REQUEST_MAX, "%zu bytes in a well-formed request", r->bytes);
	}
	if (r->error == SW_PE_LINE_TOO_LONG)
		check(bytes_fed > SW_POLICY_LINE_MAX, "line_too_long after %zu bytes", bytes_fed);
}

struct reading {
	int n;
	struct sw_policy_req r[MAX_REQS];
};

static void collect(void *ctx, const struct sw_policy_req *r)
{
	struct reading *g = ctx;

	check_req(r, SIZE_MAX, SIZE_MAX);
	if (g->n < MAX_REQS)
		g->r[g->n] = *r;
	g->n++;
}

static bool same_req(const struct sw_policy_req *a, const struct sw_policy_req *b)
{
	return a->state == b->state && a->error == b->error && a->have_request == b->have_request &&
	       a->recipient_count == b->recipient_count && a->size == b->size && a->attrs == b->attrs &&
	       a->bytes == b->bytes && !strcmp(a->protocol_state, b->protocol_state) &&
	       !strcmp(a->client_address, b->client_address) && !strcmp(a->sasl_username, b->sasl_username) &&
	       !strcmp(a->sasl_method, b->sasl_method) && !strcmp(a->sender, b->sender) &&
	       !strcmp(a->recipient, b->recipient) && !strcmp(a->instance, b->instance) &&
	       !strcmp(a->queue_id, b->queue_id);
}

/* ---- decisions ---- */

static void origin_of(const struct sw_policy_req *r, struct sw_origin *o)
{
	static const char *const codes[] = { "de", "de", "jp", "us", "cn", "br" };
	struct sw_cidr c;
	char err[SW_ERR_LEN];
	uint32_t h = 2166136261u;

	memset(o, 0, sizeof(*o));
	snprintf(o->key, sizeof(o->key), "%.63s", r->client_address);
	o->country = SW_COUNTRY_NONE;
	if (!r->client_address[0] || sw_parse_addr(r->client_address, &c, err))
		return;
	for (const char *p = r->client_address; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	/* home is Germany; one address in eight has no country in the database */
	if (h % 8 >= 6) {
		o->country = SW_COUNTRY_UNKNOWN;
		return;
	}
	o->country = (uint16_t)sw_country_id(codes[h % 8]);
	o->abroad = h % 8 >= 2;
}

static bool is_relay(const char *addr)
{
	struct sw_cidr c;
	char err[SW_ERR_LEN];

	if (sw_parse_addr(addr, &c, err))
		return false;
	for (int i = 0; i < settings.n_relay_networks; i++)
		if (sw_cidr_contains(&settings.relay_networks[i], c.family, c.addr))
			return true;
	return false;
}

static void check_verdict(const struct sw_verdict *v)
{
	size_t len;

	check((unsigned)v->kind <= SW_V_FILTER, "verdict kind %d", (int)v->kind);
	check((unsigned)v->policy < SW_POL_N, "policy %d", (int)v->policy);
	check(memchr(v->action, 0, sizeof(v->action)), "action not terminated");
	len = strlen(v->action);
	check(len > 0, "empty action");
	/* the reply is "action=...\n\n": a line break would be a second reply line */
	check(!memchr(v->action, '\n', len), "a line break in \"%s\"", v->action);
	switch (v->kind) {
	case SW_V_DUNNO:
		check(!strcmp(v->action, "DUNNO") && v->policy == SW_POL_NONE, "DUNNO as \"%s\" by %s", v->action,
		      sw_policy_name(v->policy));
		break;
	case SW_V_REFUSE:
		check(len > 10 && (v->action[0] == '4' || v->action[0] == '5') && v->action[1] >= '0' &&
			      v->action[1] <= '9' && v->action[2] >= '0' && v->action[2] <= '9' && v->action[3] == ' ',
		      "refusal \"%s\" has no 4xx/5xx code", v->action);
		check(v->policy != SW_POL_NONE && v->policy != SW_POL_FILTER, "refusal by %s", sw_policy_name(v->policy));
		break;
	case SW_V_WARN:
		check(!strncmp(v->action, "WARN ", 5) && v->policy != SW_POL_NONE, "warning \"%s\"", v->action);
		break;
	case SW_V_FILTER:
		check(!strcmp(v->action, "FILTER smtp-flagged:[192.0.2.25]:25") && v->policy == SW_POL_FILTER,
		      "filter \"%s\" by %s", v->action, sw_policy_name(v->policy));
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	static struct reading stream, lines;
	const char *buf = (const char *)data;
	struct sw_policy_req *r;
	struct sw_accounts *A;
	char err[SW_ERR_LEN];
	size_t pos = 0, n_lines = 0, fed = 0;
	int n_stream, decided = 0;
	bool lost = false;
	int64_t now = T0;

	if (!ready) {
		init_once();
		ready = true;
	}

	/* the first reading: the stream splitter */
	stream.n = 0;
	n_stream = sw_policy_parse_stream(buf, size, collect, &stream);
	check(n_stream == -1 || n_stream == stream.n, "%d requests returned, %d given", n_stream, stream.n);

	/* the second: line by line, the policy service's way, each complete request decided */
	r = malloc(sizeof(*r));
	check(r, "out of memory");
	memset(r, 0xa5, sizeof(*r));	/* reset must not rely on a zeroed struct */
	sw_policy_req_reset(r);
	check_req(r, 0, 0);
	/* the input's length picks the rollout mode: enforce, monitor, or some policies off */
	settings.limits_mode = settings.overseas_mode = settings.abroad_mode = settings.mismatch_mode =
		settings.origins_mode = (enum sw_account_mode)(size % 3 == 1 ? SW_AM_MONITOR : SW_AM_ENFORCE);
	if (size % 3 == 2)
		settings.overseas_mode = settings.origins_mode = SW_AM_OFF;
	settings.abroad_deny = size % 5 == 0;
	settings.origins_suspend = size % 7 == 0;
	A = sw_accounts_new(acct_store, &settings, err, sizeof(err));
	check(A, "sw_accounts_new: %s", err);
	lines.n = 0;
	while (pos < size) {
		const char *nl = memchr(buf + pos, '\n', size - pos);
		size_t llen = nl ? (size_t)(nl - (buf + pos)) : size - pos;

		if (llen > SW_POLICY_LINE_MAX + 1) {
			lost = true;
			break;
		}
		if (!nl)
			break;
		n_lines++;
		fed += llen + 1;
		if (sw_policy_req_line(r, buf + pos, llen) == SW_PL_END) {
			check_req(r, n_lines, fed);
			check(r->error != SW_PE_NONE || r->have_request, "well formed without request=");
			if (lines.n < MAX_REQS)
				lines.r[lines.n] = *r;
			lines.n++;
			if (r->error == SW_PE_NONE) {
				struct sw_verdict v;
				struct sw_origin o;

				now += (int64_t)(r->size % 3600000);
				origin_of(r, &o);
				memset(&v, 0x5a, sizeof(v));
				sw_accounts_decide(A, r, &o, now, &v);
				check_verdict(&v);
				if (!r->sasl_username[0] && !is_relay(r->client_address))
					check(v.kind == SW_V_DUNNO, "no login, not a relay: \"%s\"", v.action);
				/* every fourth decision, the once-a-second flush */
				if (++decided % 4 == 0)
					check(!sw_accounts_flush(A, now, err, sizeof(err)), "flush: %s", err);
			}
			sw_policy_req_reset(r);
			n_lines = fed = 0;
		} else {
			check_req(r, n_lines, fed);
		}
		pos += llen + 1;
	}
	free(r);

	check(lost == (n_stream == -1), "the stream reader says %d, the line reader %s", n_stream,
	      lost ? "lost the stream" : "did not");
	check(lines.n == stream.n, "%d requests line by line, %d from the stream", lines.n, stream.n);
	for (int i = 0; i < lines.n && i < MAX_REQS; i++)
		check(same_req(&lines.r[i], &stream.r[i]), "request %d reads differently in the two readings", i);

	if (decided) {
		check(!sw_accounts_flush(A, now, err, sizeof(err)), "flush: %s", err);
		wipe();
	}
	sw_accounts_free(A);
	return 0;
}
