// SPDX-License-Identifier: GPL-2.0
/*
 * policyload: load for a Postfix policy service (the SMTPD_POLICY_README
 * protocol), as the Postfix SMTP server sends it: to measure smtpwall's
 * policy service beside postfwd (tests/bench/bench_policy.sh).
 *
 *   policyload (--unix PATH | --tcp HOST:PORT) [-c N] [-t THREADS]
 *              [-d SECONDS | -n REQUESTS] [--warmup SECONDS]
 *              [--accounts K] [--sources M] [--pick rr|random]
 *              [--state RCPT|END-OF-MESSAGE] [--rcpts-per-msg R]
 *              [--timeout-ms T] [--rate R] [--json] [--allow-errors]
 *              [--max-seconds S]
 *
 * The protocol: a request is "name=value" lines, an empty line ends it;
 * the answer is one "action=..." line and an empty line. Like smtpd, each
 * of the -c connections is reused for request after request, with one
 * request in flight at a time; -t threads share the connections, each on
 * its own epoll loop (non-blocking sockets).
 *
 * Each connection stands for one smtpd process receiving message after
 * message. A message is from one account (sasl_username userI@bench.example,
 * I in 0..K-1) and one client address (10.x.y.z, every 8th source an IPv6
 * address in 2001:db8::/32), both taken in turn (--pick rr, the default) or
 * at random, and has its own instance, queue_id, size and client_port. The
 * attributes are those Postfix 3.7 (Debian bookworm) sends, in its order:
 * request, protocol_state, protocol_name, helo_name, queue_id, sender,
 * recipient, recipient_count, client_address, client_name,
 * reverse_client_name, instance, sasl_method, sasl_username, sasl_sender,
 * size, ccert_* (empty: no client certificate), encryption_*, etrn_domain,
 * stress, client_port, policy_context, server_address, server_port (587).
 * At RCPT (the default) a message makes --rcpts-per-msg requests, one per
 * recipient, recipient_count=0 and queue_id empty for the first (smtpd
 * opens the queue file after the first accepted recipient); at
 * END-OF-MESSAGE it makes one, with recipient_count=R and the recipient
 * only when R is 1.
 *
 * Without --rate a connection sends its next request as soon as the last
 * is answered: the run measures the most the server answers (closed loop;
 * by Little's law the mean latency is then connections / rate). With
 * --rate R the connections share a schedule of R requests/s, staggered,
 * as smtpd processes that each have a client to talk to between requests;
 * a request whose predecessor is answered late is sent at once, behind
 * schedule, and how late it was written is reported as lag (p50/p99/max):
 * a lag near zero means the server kept up with the rate asked.
 *
 * Measured: requests answered, requests/s, the latency of each request
 * (write to complete answer) as p50/p90/p99/max in µs (a histogram: exact
 * below 1024 µs, within 0.2 % above), and the answers by action word:
 * DUNNO, OK, REJECT, DEFER, 4xx, 5xx (a "4NN text"/"5NN text" answer),
 * WARN, FILTER, other. --warmup S runs S seconds first without counting
 * (a pre-forking server spawns its children). With -d, requests in flight
 * at the end are abandoned, neither counted nor errors; with -n exactly N
 * requests are made after the warmup, and requests + errors = N.
 *
 * Strict, as Postfix is (attr_scan_plain without ATTR_FLAG_EXTRA): an
 * answer is an error unless it is exactly "action=VALUE\n\n" with VALUE
 * non-empty and free of CR and NUL, no longer than 2048 bytes, and nothing
 * follows it before the next request. A connection closed or reset, a
 * failed connect and an answer later than --timeout-ms (default 5000) are
 * errors too. Every error is counted by kind, the connection is closed and
 * opened again (after 100 ms if the connect failed), and the first of
 * each kind is reported on stderr. The first connect of every connection
 * happens before the clock starts; if one fails, nothing runs.
 *
 * Output: key=value lines, or with --json one JSON object. client_cpu_s is
 * this process's CPU time: on a small machine the load generator competes
 * with the server it measures.
 *
 * Exit status: 0 no error, 1 errors were counted (0 with --allow-errors)
 * or a system call failed or the first connect did, 2 usage error,
 * 3 --max-seconds elapsed. SIGTERM and SIGINT end a run early, with its
 * results.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_DURATION_S	5
#define DEFAULT_TIMEOUT_MS	5000
#define DEFAULT_ACCOUNTS	100
#define DEFAULT_SOURCES		100
#define MAX_CONNECTIONS		1000
#define MAX_THREADS		64
#define MAX_ACCOUNTS		10000000
#define MAX_SOURCES		((1 << 24) - 2)	/* 10.0.0.1 .. 10.255.255.254 */
#define MAX_RCPTS		1000
#define REQUEST_MAX		2048	/* a request, as built; checked */
#define ANSWER_MAX		2048	/* smtpd's line_length_limit */
#define CONNECT_RETRY_MS	100
#define EPOLL_BATCH		256
#define WAKE_MAX_MS		100	/* a stop request is seen this soon */
#define ERROR_TEXT		240

static const char *prog = "policyload";
static volatile sig_atomic_t stop_requested;

enum pick { PICK_RR, PICK_RANDOM };
enum proto_state { ST_RCPT, ST_EOM };

struct opts {
	const char *target_name;	/* "unix:PATH" or "tcp:HOST:PORT", for the output */
	struct sockaddr_storage addr;
	socklen_t addr_len;
	bool tcp;
	int connections;
	int threads;
	int duration_s;
	long requests;
	int warmup_s;
	long accounts;
	long sources;
	enum pick pick;
	enum proto_state state;
	int rcpts_per_msg;
	int timeout_ms;
	int max_seconds;
	double rate;			/* requests/s over all connections, 0: as fast as answered */
	bool json;
	bool allow_errors;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s (--unix PATH | --tcp HOST:PORT) [-c N] [-t THREADS]\n"
		"                  [-d SECONDS | -n REQUESTS] [--warmup SECONDS]\n"
		"                  [--accounts K] [--sources M] [--pick rr|random]\n"
		"                  [--state RCPT|END-OF-MESSAGE] [--rcpts-per-msg R]\n"
		"                  [--timeout-ms T] [--rate R] [--json] [--allow-errors]\n"
		"                  [--max-seconds S]\n"
		"Postfix policy requests (SMTPD_POLICY_README) over N reused connections\n"
		"(default 1, at most %d), one request in flight on each.\n"
		"  --unix PATH, --tcp HOST:PORT  the policy service ([IPv6]:PORT)\n"
		"  -c N             connections                      -t THREADS  epoll loops (default 1)\n"
		"  -d SECONDS       run time (default %d)            -n REQUESTS exactly this many\n"
		"  --warmup S       run S seconds first, uncounted\n"
		"  --accounts K     sasl_username user0..user{K-1}@bench.example (default %d)\n"
		"  --sources M      client_address values, 10.x.y.z, every 8th IPv6 (default %d)\n"
		"  --pick rr|random how a message's account and source are chosen (default rr)\n"
		"  --state S        protocol_state RCPT (default) or END-OF-MESSAGE\n"
		"  --rcpts-per-msg R  recipients per message (default 1)\n"
		"  --timeout-ms T   an answer later than T ms is an error (default %d)\n"
		"  --rate R         R requests/s over all connections (default: each sends\n"
		"                   again as soon as answered)\n"
		"  --json           one JSON object instead of key=value lines\n"
		"  --allow-errors   exit 0 even if errors were counted\n"
		"  --max-seconds S  hard limit, exit 3\n"
		"exit: 0 no error, 1 errors counted or a failure, 2 usage, 3 --max-seconds\n",
		prog, MAX_CONNECTIONS, DEFAULT_DURATION_S, DEFAULT_ACCOUNTS, DEFAULT_SOURCES,
		DEFAULT_TIMEOUT_MS);
}

#include "tool.h"

/* ---------------------------------------------------------------- results */

enum action {
	A_DUNNO, A_OK, A_REJECT, A_DEFER, A_4XX, A_5XX, A_WARN, A_FILTER, A_OTHER, A_MAX
};

static const char *const action_names[A_MAX] = {
	"DUNNO", "OK", "REJECT", "DEFER", "4xx", "5xx", "WARN", "FILTER", "other",
};

enum error_kind { E_TIMEOUT, E_CLOSED, E_MALFORMED, E_CONNECT, E_MAX };

static const char *const error_names[E_MAX] = { "timeout", "closed", "malformed", "connect" };

/*
 * Latency histogram in µs: one bucket per µs below 1024, then 512 buckets
 * for each power of two up to 2^32 µs (each 0.2 % of its value wide).
 */
#define HIST_EXACT	1024
#define HIST_SUB_BITS	9
#define HIST_SUB	(1u << HIST_SUB_BITS)
#define HIST_GROUPS	22
#define HIST_BUCKETS	(HIST_EXACT + HIST_GROUPS * HIST_SUB)

struct hist {
	uint64_t count;
	uint64_t sum_us;
	uint64_t max_us;
	uint64_t bucket[HIST_BUCKETS];
};

struct stats {
	uint64_t requests;
	uint64_t errors[E_MAX];
	uint64_t actions[A_MAX];
	uint64_t reconnects;
	uint64_t abandoned;
	int64_t last_answer_ns;
	char first_error[E_MAX][ERROR_TEXT];
	struct hist latency;		/* write of the request to its whole answer */
	struct hist lag;		/* --rate: the write after its scheduled time */
};

static unsigned int hist_index(uint64_t us)
{
	int e;

	if (us < HIST_EXACT)
		return (unsigned int)us;
	if (us > UINT32_MAX)
		us = UINT32_MAX;
	e = 63 - __builtin_clzll(us);	/* 10 .. 31 */
	return HIST_EXACT + (unsigned int)(e - 10) * HIST_SUB +
	       (unsigned int)((us >> (e - HIST_SUB_BITS)) - HIST_SUB);
}

/* The middle of bucket @i. */
static uint64_t hist_value(unsigned int i)
{
	unsigned int e;
	uint64_t width;

	if (i < HIST_EXACT)
		return i;
	i -= HIST_EXACT;
	e = i / HIST_SUB + 10;
	width = 1ull << (e - HIST_SUB_BITS);
	return (HIST_SUB + i % HIST_SUB) * width + width / 2;
}

static void hist_add(struct hist *h, uint64_t us)
{
	h->count++;
	h->sum_us += us;
	if (us > h->max_us)
		h->max_us = us;
	h->bucket[hist_index(us)]++;
}

static void hist_merge(struct hist *into, const struct hist *h)
{
	into->count += h->count;
	into->sum_us += h->sum_us;
	if (h->max_us > into->max_us)
		into->max_us = h->max_us;
	for (unsigned int i = 0; i < HIST_BUCKETS; i++)
		into->bucket[i] += h->bucket[i];
}

/* The @pct percentile (nearest rank), never above the largest sample. */
static unsigned long long hist_percentile(const struct hist *h, double pct)
{
	uint64_t rank, seen = 0;

	if (!h->count)
		return 0;
	rank = (uint64_t)(pct / 100.0 * (double)h->count + 0.999999);
	if (rank < 1)
		rank = 1;
	for (unsigned int i = 0; i < HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= rank) {
			uint64_t v = hist_value(i);

			return v > h->max_us ? h->max_us : v;
		}
	}
	return h->max_us;
}

static double hist_mean(const struct hist *h)
{
	return h->count ? (double)h->sum_us / (double)h->count : 0;
}

/* ---------------------------------------------------------------- connections */

enum conn_state {
	C_CONNECTING,	/* non-blocking connect in progress */
	C_WAITING,	/* a request written (maybe in part), its answer awaited */
	C_RETRY,	/* closed after an error, to be opened again at retry_ns */
	C_PACED,	/* --rate: idle until send_at_ns */
	C_DONE,		/* no more requests for it (-n reached) */
};

struct worker;

struct conn {
	struct worker *w;
	int index;			/* among all connections */
	int fd;
	enum conn_state state;
	/* The connections awaiting something, in deadline order. */
	struct conn *prev, *next;
	bool armed;
	int64_t deadline_ns;
	int64_t sent_ns;
	int64_t retry_ns;
	int64_t send_at_ns;		/* --rate: the next request's schedule */
	bool counted;			/* sent after the warmup */
	char request[REQUEST_MAX];
	size_t request_len, request_off;
	char answer[ANSWER_MAX];
	size_t answer_len;
	/* The message this smtpd is receiving. */
	bool in_message;
	int rcpt_index;
	uint32_t account, source;
	uint32_t size;
	uint16_t client_port;
	uint64_t msg_seq;
	char queue_id[16];
	char instance[64];
};

struct worker {
	int id;
	int epfd;
	struct conn *conns;
	int n_conns;
	int n_active;			/* not C_DONE */
	int n_retry;
	int n_paced;
	struct conn *armed_head, *armed_tail;
	uint64_t rng;
	uint64_t next_account, next_source;
	uint64_t messages, recipients;
	pthread_t thread;
	struct stats stats;
};

static struct opts o;
static int64_t t_start_ns, t_measure_ns, t_end_ns;
static int64_t rate_interval_ns;	/* --rate: between two requests of a connection */
static uint64_t issued;			/* counted requests started (-n) */

static int64_t now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts))
		die("clock_gettime: %s", strerror(errno));
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t rng_next(uint64_t *s)
{
	/* xorshift64*: cheap, and good enough to pick accounts */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

/* @s printable for an error message: escapes, at most ~120 characters. */
static void escape(const char *s, size_t n, char *out, size_t outlen)
{
	size_t j = 0;

	for (size_t i = 0; i < n && j + 8 < outlen; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (j > 120) {
			j += (size_t)snprintf(out + j, outlen - j, "...");
			break;
		}
		if (ch == '\n')
			j += (size_t)snprintf(out + j, outlen - j, "\\n");
		else if (ch == '"' || ch == '\\')
			j += (size_t)snprintf(out + j, outlen - j, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			j += (size_t)snprintf(out + j, outlen - j, "\\x%02x", ch);
		else
			out[j++] = (char)ch;
	}
	out[j < outlen ? j : outlen - 1] = '\0';
}

static void arm(struct conn *c, int64_t deadline)
{
	struct worker *w = c->w;

	if (c->armed) {
		if (c->prev)
			c->prev->next = c->next;
		else
			w->armed_head = c->next;
		if (c->next)
			c->next->prev = c->prev;
		else
			w->armed_tail = c->prev;
	}
	/* Every deadline is now + timeout: appending keeps the list sorted. */
	c->deadline_ns = deadline;
	c->next = NULL;
	c->prev = w->armed_tail;
	if (w->armed_tail)
		w->armed_tail->next = c;
	else
		w->armed_head = c;
	w->armed_tail = c;
	c->armed = true;
}

static void disarm(struct conn *c)
{
	struct worker *w = c->w;

	if (!c->armed)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		w->armed_head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		w->armed_tail = c->prev;
	c->prev = c->next = NULL;
	c->armed = false;
}

static void conn_close(struct conn *c)
{
	disarm(c);
	if (c->fd >= 0) {
		close(c->fd);	/* leaves the epoll set with it */
		c->fd = -1;
	}
}

static void conn_done(struct conn *c)
{
	conn_close(c);
	if (c->state == C_RETRY)
		c->w->n_retry--;
	if (c->state == C_PACED)
		c->w->n_paced--;
	c->state = C_DONE;
	c->w->n_active--;
}

static void conn_retry(struct conn *c, int64_t at)
{
	conn_close(c);
	c->state = C_RETRY;
	c->retry_ns = at;
	c->w->n_retry++;
}

static void __attribute__((format(printf, 3, 4)))
conn_error(struct conn *c, enum error_kind kind, const char *fmt, ...)
{
	struct stats *s = &c->w->stats;
	int64_t now = now_ns();
	va_list ap;

	s->errors[kind]++;
	if (!s->first_error[kind][0]) {
		int n = snprintf(s->first_error[kind], ERROR_TEXT, "t=%.3fs connection %d: ",
				 (double)(now - t_start_ns) / 1e9, c->index);

		va_start(ap, fmt);
		vsnprintf(s->first_error[kind] + n, ERROR_TEXT - (size_t)n, fmt, ap);
		va_end(ap);
	}
	c->in_message = false;	/* smtpd would give up on this message */
	conn_retry(c, kind == E_CONNECT ? now + (int64_t)CONNECT_RETRY_MS * 1000000 : now);
}

/* ---------------------------------------------------------------- requests */

static void source_address(uint32_t i, char *buf, size_t len)
{
	if (i % 8 == 7)
		snprintf(buf, len, "2001:db8:%x:%x::1", (i >> 16) & 0xffff, i & 0xffff);
	else
		snprintf(buf, len, "10.%u.%u.%u", ((i + 1) >> 16) & 255, ((i + 1) >> 8) & 255,
			 (i + 1) & 255);
}

static uint32_t pick(struct worker *w, uint64_t *next, long n)
{
	if (o.pick == PICK_RANDOM)
		return (uint32_t)(rng_next(&w->rng) % (uint64_t)n);
	return (uint32_t)((*next)++ % (uint64_t)n);
}

static void message_start(struct conn *c)
{
	struct worker *w = c->w;
	struct timeval tv;

	gettimeofday(&tv, NULL);
	c->in_message = true;
	c->rcpt_index = 0;
	c->account = pick(w, &w->next_account, o.accounts);
	c->source = pick(w, &w->next_source, o.sources);
	c->size = 1000 + (uint32_t)(rng_next(&w->rng) % 200000);
	c->client_port = (uint16_t)(1024 + rng_next(&w->rng) % 64512);
	c->msg_seq++;
	w->messages++;
	/* Postfix's forms: instance "%x.%lx.%lx.%x" (pid, time, usec, seqno), short queue ids. */
	snprintf(c->instance, sizeof(c->instance), "%x.%lx.%lx.%lx", 20000 + c->index,
		 (unsigned long)tv.tv_sec, (unsigned long)tv.tv_usec, (unsigned long)c->msg_seq);
	snprintf(c->queue_id, sizeof(c->queue_id), "%02X%08llX", (unsigned int)w->id & 0xff,
		 (unsigned long long)(w->messages & 0xffffffffull));
}

static void build_request(struct conn *c)
{
	struct worker *w = c->w;
	char addr[48], name[80], helo[96], rcpt[64];
	bool eom = o.state == ST_EOM;
	bool v6 = c->source % 8 == 7;
	int n;

	if (!c->in_message || c->rcpt_index >= (eom ? 1 : o.rcpts_per_msg))
		message_start(c);
	source_address(c->source, addr, sizeof(addr));
	if (v6 || c->source % 4 == 1) {
		snprintf(name, sizeof(name), "unknown");
		snprintf(helo, sizeof(helo), v6 ? "[IPv6:%s]" : "[%s]", addr);
	} else {
		snprintf(name, sizeof(name), "host-10-%u-%u-%u.dyn.bench.example",
			 ((c->source + 1) >> 16) & 255, ((c->source + 1) >> 8) & 255,
			 (c->source + 1) & 255);
		snprintf(helo, sizeof(helo), "%s", name);
	}
	w->recipients++;
	snprintf(rcpt, sizeof(rcpt), "r%llu@d%llu.example", (unsigned long long)w->recipients,
		 (unsigned long long)(w->recipients % 1000));
	n = snprintf(c->request, sizeof(c->request),
		     "request=smtpd_access_policy\n"
		     "protocol_state=%s\n"
		     "protocol_name=ESMTP\n"
		     "helo_name=%s\n"
		     "queue_id=%s\n"
		     "sender=user%u@bench.example\n"
		     "recipient=%s\n"
		     "recipient_count=%d\n"
		     "client_address=%s\n"
		     "client_name=%s\n"
		     "reverse_client_name=%s\n"
		     "instance=%s\n"
		     "sasl_method=PLAIN\n"
		     "sasl_username=user%u@bench.example\n"
		     "sasl_sender=\n"
		     "size=%u\n"
		     "ccert_subject=\n"
		     "ccert_issuer=\n"
		     "ccert_fingerprint=\n"
		     "ccert_pubkey_fingerprint=\n"
		     "encryption_protocol=TLSv1.3\n"
		     "encryption_cipher=TLS_AES_256_GCM_SHA384\n"
		     "encryption_keysize=256\n"
		     "etrn_domain=\n"
		     "stress=\n"
		     "client_port=%u\n"
		     "policy_context=\n"
		     "server_address=%s\n"
		     "server_port=587\n"
		     "\n",
		     eom ? "END-OF-MESSAGE" : "RCPT", helo,
		     !eom && c->rcpt_index == 0 ? "" : c->queue_id, c->account,
		     eom && o.rcpts_per_msg > 1 ? "" : rcpt, eom ? o.rcpts_per_msg : 0, addr,
		     name, name, c->instance, c->account, c->size, c->client_port,
		     v6 ? "2001:db8::25" : "192.0.2.25");
	if (n < 0 || (size_t)n >= sizeof(c->request))
		die("request of %d bytes does not fit %d (a bug)", n, REQUEST_MAX);
	c->request_len = (size_t)n;
	c->request_off = 0;
	c->rcpt_index++;
}

/* ---------------------------------------------------------------- answers */

static enum action classify(const char *v, size_t n)
{
	static const struct {
		const char *word;
		enum action a;
	} words[] = {
		{ "DUNNO", A_DUNNO }, { "OK", A_OK }, { "REJECT", A_REJECT },
		{ "DEFER", A_DEFER }, { "WARN", A_WARN }, { "FILTER", A_FILTER },
	};
	size_t w = 0;

	while (w < n && v[w] != ' ' && v[w] != '\t')
		w++;
	if (w == 3 && (v[0] == '4' || v[0] == '5') && v[1] >= '0' && v[1] <= '9' &&
	    v[2] >= '0' && v[2] <= '9')
		return v[0] == '4' ? A_4XX : A_5XX;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strlen(words[i].word) == w && !strncasecmp(v, words[i].word, w))
			return words[i].a;
	return A_OTHER;
}

/*
 * The answer so far in @c: 0 incomplete, 1 a valid answer (its action in
 * @a), -1 malformed (why in @why).
 */
static int parse_answer(const struct conn *c, enum action *a, char *why, size_t whylen)
{
	static const char prefix[] = "action=";
	const size_t plen = sizeof(prefix) - 1;
	const char *buf = c->answer, *nl;
	size_t len = c->answer_len, line;

	/* Fail at the first wrong byte, not at the timeout. */
	if (memcmp(buf, prefix, len < plen ? len : plen)) {
		snprintf(why, whylen, "answer does not start with \"action=\"");
		return -1;
	}
	if (memchr(buf, '\0', len)) {
		snprintf(why, whylen, "NUL byte in the answer");
		return -1;
	}
	nl = memchr(buf, '\n', len);
	if (!nl) {
		if (len >= ANSWER_MAX) {
			snprintf(why, whylen, "answer longer than %d bytes", ANSWER_MAX);
			return -1;
		}
		return 0;
	}
	line = (size_t)(nl - buf);
	if (line == plen) {
		snprintf(why, whylen, "empty action");
		return -1;
	}
	if (memchr(buf, '\r', line)) {
		snprintf(why, whylen, "CR in the answer");
		return -1;
	}
	if (len == line + 1)
		return 0;	/* the empty line is still to come */
	if (buf[line + 1] != '\n') {
		snprintf(why, whylen, "more than one attribute in the answer");
		return -1;
	}
	if (len > line + 2) {
		snprintf(why, whylen, "%zu bytes after the answer's empty line", len - line - 2);
		return -1;
	}
	*a = classify(buf + plen, line - plen);
	return 1;
}

/* ---------------------------------------------------------------- the loop */

static void conn_write(struct conn *c);

/* Start the next request on @c, or retire it. */
static void conn_next(struct conn *c, int64_t now)
{
	if (stop_requested || now >= t_end_ns) {
		conn_done(c);
		return;
	}
	if (rate_interval_ns) {
		if (c->send_at_ns > now) {
			c->state = C_PACED;
			c->w->n_paced++;
			return;
		}
		if (now >= t_measure_ns)
			hist_add(&c->w->stats.lag, (uint64_t)(now - c->send_at_ns) / 1000);
		/* Behind schedule (a slow answer) it sends at once, and catches up. */
		c->send_at_ns += rate_interval_ns;
	}
	c->counted = now >= t_measure_ns;
	if (c->counted && o.requests &&
	    __atomic_fetch_add(&issued, 1, __ATOMIC_RELAXED) >= (uint64_t)o.requests) {
		conn_done(c);
		return;
	}
	build_request(c);
	c->state = C_WAITING;
	c->answer_len = 0;
	c->sent_ns = now;
	arm(c, now + (int64_t)o.timeout_ms * 1000000);
	conn_write(c);
}

static void conn_write(struct conn *c)
{
	struct epoll_event ev = { .data.ptr = c };
	bool partial = c->request_off > 0;
	ssize_t r;

	r = write(c->fd, c->request + c->request_off, c->request_len - c->request_off);
	if (r < 0 && errno != EAGAIN && errno != EINTR) {
		conn_error(c, E_CLOSED, "write: %s", strerror(errno));
		return;
	}
	if (r > 0)
		c->request_off += (size_t)r;
	/* A full socket buffer (rare: a request is < 2 KiB): wait to write the rest. */
	if (c->request_off < c->request_len)
		ev.events = EPOLLIN | EPOLLOUT;
	else if (partial)
		ev.events = EPOLLIN;
	else
		return;
	if (epoll_ctl(c->w->epfd, EPOLL_CTL_MOD, c->fd, &ev))
		die("epoll_ctl: %s", strerror(errno));
}

static void conn_answer(struct conn *c, enum action a, int64_t now)
{
	struct stats *s = &c->w->stats;

	disarm(c);
	if (c->counted) {
		uint64_t us = (uint64_t)(now - c->sent_ns) / 1000;

		s->requests++;
		s->actions[a]++;
		hist_add(&s->latency, us);
		s->last_answer_ns = now;
	}
	conn_next(c, now);
}

static void conn_read(struct conn *c)
{
	char why[96], text[160];
	enum action a = A_OTHER;
	ssize_t r;
	int v;

	if (c->state != C_WAITING) {
		char junk[64];

		/* C_DONE connections are closed; nothing else reads. */
		r = read(c->fd, junk, sizeof(junk));
		if (r > 0) {
			escape(junk, (size_t)r, text, sizeof(text));
			conn_error(c, E_MALFORMED, "data with no request in flight: \"%s\"", text);
		}
		return;
	}
	r = read(c->fd, c->answer + c->answer_len, ANSWER_MAX - c->answer_len);
	if (r < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		conn_error(c, E_CLOSED, "read: %s", strerror(errno));
		return;
	}
	if (r == 0) {
		escape(c->answer, c->answer_len, text, sizeof(text));
		conn_error(c, E_CLOSED, "closed by the server with %zu of %zu request bytes"
			   " written, answer so far \"%s\"", c->request_off, c->request_len, text);
		return;
	}
	c->answer_len += (size_t)r;
	v = parse_answer(c, &a, why, sizeof(why));
	if (v < 0) {
		escape(c->answer, c->answer_len, text, sizeof(text));
		conn_error(c, E_MALFORMED, "%s: \"%s\"", why, text);
		return;
	}
	if (v == 0)
		return;
	if (c->request_off < c->request_len) {
		conn_error(c, E_MALFORMED, "answer before the end of the request (%zu of %zu"
			   " bytes written)", c->request_off, c->request_len);
		return;
	}
	conn_answer(c, a, now_ns());
}

static int socket_for_target(int flags)
{
	int fd = socket(o.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
	int one = 1;

	if (fd < 0)
		die("socket: %s", strerror(errno));
	/* One write per request: no Nagle delay on the client's side. */
	if (o.tcp && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
		die("setsockopt(TCP_NODELAY): %s", strerror(errno));
	return fd;
}

static void conn_register(struct conn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	if (epoll_ctl(c->w->epfd, EPOLL_CTL_ADD, c->fd, &ev))
		die("epoll_ctl: %s", strerror(errno));
}

/* Open @c again after an error, without blocking. */
static void conn_reopen(struct conn *c, int64_t now)
{
	c->w->n_retry--;
	c->state = C_CONNECTING;
	c->w->stats.reconnects++;
	c->fd = socket_for_target(SOCK_NONBLOCK);
	if (!connect(c->fd, (struct sockaddr *)&o.addr, o.addr_len)) {
		conn_register(c, EPOLLIN);
		conn_next(c, now);
		return;
	}
	if (errno != EINPROGRESS) {
		/* EAGAIN: a unix listener's backlog is full; smtpd fails there too. */
		conn_error(c, E_CONNECT, "connect: %s", strerror(errno));
		return;
	}
	conn_register(c, EPOLLOUT);
	arm(c, now + (int64_t)o.timeout_ms * 1000000);
}

static void conn_connected(struct conn *c, int64_t now)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	socklen_t elen = sizeof(int);
	int e = 0;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &elen))
		die("getsockopt(SO_ERROR): %s", strerror(errno));
	if (e) {
		conn_error(c, E_CONNECT, "connect: %s", strerror(e));
		return;
	}
	disarm(c);
	if (epoll_ctl(c->w->epfd, EPOLL_CTL_MOD, c->fd, &ev))
		die("epoll_ctl: %s", strerror(errno));
	conn_next(c, now);
}

static void conn_timeout(struct conn *c)
{
	if (c->state == C_CONNECTING) {
		conn_error(c, E_CONNECT, "connect: no answer within %d ms", o.timeout_ms);
		return;
	}
	conn_error(c, E_TIMEOUT, "no complete answer within %d ms (%zu bytes so far, %zu of"
		   " %zu request bytes written)", o.timeout_ms, c->answer_len, c->request_off,
		   c->request_len);
}

/* How long epoll may wait: to the first deadline, retry or paced request. */
static struct timespec wake_in(const struct worker *w, int64_t now)
{
	int64_t next = now + (int64_t)WAKE_MAX_MS * 1000000;
	struct timespec ts = { 0 };

	if (w->armed_head && w->armed_head->deadline_ns < next)
		next = w->armed_head->deadline_ns;
	if (t_end_ns < next)
		next = t_end_ns;
	for (int i = 0; (w->n_retry || w->n_paced) && i < w->n_conns; i++) {
		const struct conn *c = &w->conns[i];

		if (c->state == C_RETRY && c->retry_ns < next)
			next = c->retry_ns;
		else if (c->state == C_PACED && c->send_at_ns < next)
			next = c->send_at_ns;
	}
	if (next > now) {
		ts.tv_sec = (next - now) / 1000000000;
		ts.tv_nsec = (next - now) % 1000000000;
	}
	return ts;
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[EPOLL_BATCH];
	int64_t now = now_ns();

	for (int i = 0; i < w->n_conns; i++) {
		conn_register(&w->conns[i], EPOLLIN);
		conn_next(&w->conns[i], now);
	}
	while (w->n_active > 0 && !stop_requested) {
		int n;

		now = now_ns();
		if (now >= t_end_ns)
			break;
		struct timespec wait;

		while (w->armed_head && w->armed_head->deadline_ns <= now)
			conn_timeout(w->armed_head);
		for (int i = 0; (w->n_retry || w->n_paced) && i < w->n_conns; i++) {
			struct conn *c = &w->conns[i];

			if (c->state == C_RETRY && c->retry_ns <= now) {
				conn_reopen(c, now);
			} else if (c->state == C_PACED && c->send_at_ns <= now) {
				w->n_paced--;
				conn_next(c, now);
			}
		}
		wait = wake_in(w, now);
		n = epoll_pwait2(w->epfd, evs, EPOLL_BATCH, &wait, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_pwait2: %s", strerror(errno));
		}
		for (int k = 0; k < n; k++) {
			struct conn *c = evs[k].data.ptr;

			/* An earlier event of this batch may have closed it. */
			if (c->fd < 0)
				continue;
			if (c->state == C_CONNECTING)
				conn_connected(c, now_ns());
			else if (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				conn_read(c);
			else if (evs[k].events & EPOLLOUT)
				conn_write(c);
		}
	}
	for (int i = 0; i < w->n_conns; i++) {
		struct conn *c = &w->conns[i];

		if (c->state == C_WAITING && c->counted)
			w->stats.abandoned++;
		conn_close(c);
	}
	return NULL;
}

/* The first connect of each connection, blocking, before the clock starts. */
static void connect_first(struct conn *c)
{
	struct timeval tv = { .tv_sec = o.timeout_ms / 1000,
			      .tv_usec = (o.timeout_ms % 1000) * 1000 };
	int fl;

	c->fd = socket_for_target(0);
	if (setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)))
		die("setsockopt(SO_SNDTIMEO): %s", strerror(errno));
	if (connect(c->fd, (struct sockaddr *)&o.addr, o.addr_len))
		die("connect to %s (connection %d of %d): %s", o.target_name, c->index + 1,
		    o.connections, strerror(errno));
	fl = fcntl(c->fd, F_GETFL);
	if (fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK))
		die("fcntl(O_NONBLOCK): %s", strerror(errno));
}

/* ---------------------------------------------------------------- output */

static void merge(struct stats *into, const struct stats *s)
{
	into->requests += s->requests;
	into->reconnects += s->reconnects;
	into->abandoned += s->abandoned;
	hist_merge(&into->latency, &s->latency);
	hist_merge(&into->lag, &s->lag);
	if (s->last_answer_ns > into->last_answer_ns)
		into->last_answer_ns = s->last_answer_ns;
	for (int i = 0; i < E_MAX; i++) {
		into->errors[i] += s->errors[i];
		if (!into->first_error[i][0] && s->first_error[i][0])
			memcpy(into->first_error[i], s->first_error[i], ERROR_TEXT);
	}
	for (int i = 0; i < A_MAX; i++)
		into->actions[i] += s->actions[i];
}

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static void report(const struct stats *s, double elapsed_s, double cpu_s)
{
	uint64_t errors = 0;
	double rps = elapsed_s > 0 ? (double)s->requests / elapsed_s : 0;
	const struct hist *l = &s->latency;
	const char *state = o.state == ST_EOM ? "END-OF-MESSAGE" : "RCPT";

	for (int i = 0; i < E_MAX; i++)
		errors += s->errors[i];
	if (o.json) {
		printf("{\"target\":");
		json_string(o.target_name);
		printf(",\"connections\":%d,\"threads\":%d,\"state\":\"%s\",\"rcpts_per_msg\":%d,"
		       "\"accounts\":%ld,\"sources\":%ld,\"pick\":\"%s\",\"warmup_s\":%d,"
		       "\"rate\":%.1f,\"elapsed_s\":%.3f,\"requests\":%llu,\"errors\":%llu,"
		       "\"rps\":%.1f,",
		       o.connections, o.threads, state, o.rcpts_per_msg, o.accounts, o.sources,
		       o.pick == PICK_RANDOM ? "random" : "rr", o.warmup_s, o.rate, elapsed_s,
		       (unsigned long long)s->requests, (unsigned long long)errors, rps);
		printf("\"latency_us\":{\"p50\":%llu,\"p90\":%llu,\"p99\":%llu,\"max\":%llu,"
		       "\"mean\":%.1f},",
		       hist_percentile(l, 50), hist_percentile(l, 90), hist_percentile(l, 99),
		       (unsigned long long)l->max_us, hist_mean(l));
		printf("\"lag_us\":{\"p50\":%llu,\"p99\":%llu,\"max\":%llu},",
		       hist_percentile(&s->lag, 50), hist_percentile(&s->lag, 99),
		       (unsigned long long)s->lag.max_us);
		printf("\"actions\":{");
		for (int i = 0; i < A_MAX; i++)
			printf("%s\"%s\":%llu", i ? "," : "", action_names[i],
			       (unsigned long long)s->actions[i]);
		printf("},\"errors_by_kind\":{");
		for (int i = 0; i < E_MAX; i++)
			printf("%s\"%s\":%llu", i ? "," : "", error_names[i],
			       (unsigned long long)s->errors[i]);
		printf("},\"first_errors\":{");
		for (int i = 0, k = 0; i < E_MAX; i++) {
			if (!s->first_error[i][0])
				continue;
			printf("%s\"%s\":", k++ ? "," : "", error_names[i]);
			json_string(s->first_error[i]);
		}
		printf("},\"reconnects\":%llu,\"abandoned\":%llu,\"client_cpu_s\":%.3f}\n",
		       (unsigned long long)s->reconnects, (unsigned long long)s->abandoned, cpu_s);
	} else {
		printf("target=%s connections=%d threads=%d state=%s rcpts_per_msg=%d accounts=%ld"
		       " sources=%ld pick=%s warmup_s=%d\n",
		       o.target_name, o.connections, o.threads, state, o.rcpts_per_msg, o.accounts,
		       o.sources, o.pick == PICK_RANDOM ? "random" : "rr", o.warmup_s);
		printf("requests=%llu errors=%llu elapsed_s=%.3f rps=%.1f rate=%.1f\n",
		       (unsigned long long)s->requests, (unsigned long long)errors, elapsed_s, rps,
		       o.rate);
		printf("latency_us p50=%llu p90=%llu p99=%llu max=%llu mean=%.1f\n",
		       hist_percentile(l, 50), hist_percentile(l, 90), hist_percentile(l, 99),
		       (unsigned long long)l->max_us, hist_mean(l));
		if (o.rate)
			printf("lag_us p50=%llu p99=%llu max=%llu\n", hist_percentile(&s->lag, 50),
			       hist_percentile(&s->lag, 99), (unsigned long long)s->lag.max_us);
		printf("actions");
		for (int i = 0; i < A_MAX; i++)
			printf(" %s=%llu", action_names[i], (unsigned long long)s->actions[i]);
		printf("\nerrors");
		for (int i = 0; i < E_MAX; i++)
			printf(" %s=%llu", error_names[i], (unsigned long long)s->errors[i]);
		printf("\nreconnects=%llu abandoned=%llu client_cpu_s=%.3f\n",
		       (unsigned long long)s->reconnects, (unsigned long long)s->abandoned, cpu_s);
	}
	for (int i = 0; i < E_MAX; i++)
		if (s->first_error[i][0])
			fprintf(stderr, "%s: first %s error: %s\n", prog, error_names[i],
				s->first_error[i]);
}

/* ---------------------------------------------------------------- main */

static void parse_target_tcp(const char *arg)
{
	static char name[300];
	char host[INET6_ADDRSTRLEN + 3];
	const char *colon = strrchr(arg, ':');
	size_t n;
	int port;

	if (!colon || colon == arg || (n = (size_t)(colon - arg)) >= sizeof(host))
		usage_error("--tcp: '%s' is not HOST:PORT", arg);
	memcpy(host, arg, n);
	host[n] = '\0';
	port = parse_int("--tcp port", colon + 1, 1, 65535);
	o.addr_len = parse_addr(host, port, &o.addr);
	if (!o.addr_len)
		usage_error("--tcp: '%s' is not an IPv4 or [IPv6] address", host);
	o.tcp = true;
	snprintf(name, sizeof(name), "tcp:%s", arg);
	o.target_name = name;
}

static void parse_target_unix(const char *arg)
{
	static char name[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
	struct sockaddr_un *sun = (struct sockaddr_un *)&o.addr;

	if (!*arg || strlen(arg) >= sizeof(sun->sun_path))
		usage_error("--unix: '%s' is empty or longer than %zu bytes", arg,
			    sizeof(sun->sun_path) - 1);
	memset(&o.addr, 0, sizeof(o.addr));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, arg, strlen(arg) + 1);
	o.addr_len = sizeof(*sun);
	o.tcp = false;
	snprintf(name, sizeof(name), "unix:%s", arg);
	o.target_name = name;
}

static long parse_long(const char *opt, const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		usage_error("%s: '%s' is not an integer in [%ld, %ld]", opt, s, min, max);
	return v;
}

enum {
	OPT_UNIX = 256, OPT_TCP, OPT_WARMUP, OPT_ACCOUNTS, OPT_SOURCES, OPT_PICK, OPT_STATE,
	OPT_RCPTS, OPT_TIMEOUT, OPT_JSON, OPT_ALLOW_ERRORS, OPT_MAXSECS, OPT_RATE,
};

static const struct option longopts[] = {
	{ "unix", required_argument, NULL, OPT_UNIX },
	{ "tcp", required_argument, NULL, OPT_TCP },
	{ "connections", required_argument, NULL, 'c' },
	{ "threads", required_argument, NULL, 't' },
	{ "duration", required_argument, NULL, 'd' },
	{ "requests", required_argument, NULL, 'n' },
	{ "warmup", required_argument, NULL, OPT_WARMUP },
	{ "accounts", required_argument, NULL, OPT_ACCOUNTS },
	{ "sources", required_argument, NULL, OPT_SOURCES },
	{ "pick", required_argument, NULL, OPT_PICK },
	{ "state", required_argument, NULL, OPT_STATE },
	{ "rcpts-per-msg", required_argument, NULL, OPT_RCPTS },
	{ "timeout-ms", required_argument, NULL, OPT_TIMEOUT },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "allow-errors", no_argument, NULL, OPT_ALLOW_ERRORS },
	{ "max-seconds", required_argument, NULL, OPT_MAXSECS },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static double cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		die("getrusage: %s", strerror(errno));
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { 0 };
	struct worker *workers;
	struct conn *conns;
	struct stats *total;
	bool duration_given = false;
	uint64_t errors = 0;
	double cpu0, elapsed;
	int64_t t_stop;
	int c;

	o.connections = 1;
	o.threads = 1;
	o.duration_s = DEFAULT_DURATION_S;
	o.accounts = DEFAULT_ACCOUNTS;
	o.sources = DEFAULT_SOURCES;
	o.rcpts_per_msg = 1;
	o.timeout_ms = DEFAULT_TIMEOUT_MS;

	while ((c = getopt_long(argc, argv, "c:t:d:n:h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_UNIX:
		case OPT_TCP:
			if (o.target_name)
				usage_error("one target: --unix PATH or --tcp HOST:PORT");
			if (c == OPT_UNIX)
				parse_target_unix(optarg);
			else
				parse_target_tcp(optarg);
			break;
		case 'c':
			o.connections = parse_int("-c", optarg, 1, MAX_CONNECTIONS);
			break;
		case 't':
			o.threads = parse_int("-t", optarg, 1, MAX_THREADS);
			break;
		case 'd':
			o.duration_s = parse_int("-d", optarg, 1, 86400);
			duration_given = true;
			break;
		case 'n':
			o.requests = parse_long("-n", optarg, 1, 1000000000L);
			break;
		case OPT_WARMUP:
			o.warmup_s = parse_int("--warmup", optarg, 0, 3600);
			break;
		case OPT_ACCOUNTS:
			o.accounts = parse_long("--accounts", optarg, 1, MAX_ACCOUNTS);
			break;
		case OPT_SOURCES:
			o.sources = parse_long("--sources", optarg, 1, MAX_SOURCES);
			break;
		case OPT_PICK:
			if (!strcmp(optarg, "rr") || !strcmp(optarg, "roundrobin"))
				o.pick = PICK_RR;
			else if (!strcmp(optarg, "random"))
				o.pick = PICK_RANDOM;
			else
				usage_error("--pick: '%s' is not rr or random", optarg);
			break;
		case OPT_STATE:
			if (!strcasecmp(optarg, "RCPT"))
				o.state = ST_RCPT;
			else if (!strcasecmp(optarg, "END-OF-MESSAGE"))
				o.state = ST_EOM;
			else
				usage_error("--state: '%s' is not RCPT or END-OF-MESSAGE", optarg);
			break;
		case OPT_RCPTS:
			o.rcpts_per_msg = parse_int("--rcpts-per-msg", optarg, 1, MAX_RCPTS);
			break;
		case OPT_TIMEOUT:
			o.timeout_ms = parse_int("--timeout-ms", optarg, 1, 3600000);
			break;
		case OPT_JSON:
			o.json = true;
			break;
		case OPT_ALLOW_ERRORS:
			o.allow_errors = true;
			break;
		case OPT_RATE:
			o.rate = (double)parse_long("--rate", optarg, 1, 10000000);
			break;
		case OPT_MAXSECS:
			o.max_seconds = parse_int("--max-seconds", optarg, 1, 86400 * 2);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			/* getopt_long() has said what was wrong */
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (!o.target_name)
		usage_error("a target is required: --unix PATH or --tcp HOST:PORT");
	if (duration_given && o.requests)
		usage_error("-d and -n exclude each other");
	if (o.requests)
		o.duration_s = 0;
	if (o.threads > o.connections)
		o.threads = o.connections;

	/* Never hang a bench: a hard limit beyond whatever the run asked for. */
	if (!o.max_seconds)
		o.max_seconds = o.duration_s ? o.warmup_s + o.duration_s + 60 : 3600;
	sa.sa_handler = on_alarm;
	if (sigaction(SIGALRM, &sa, NULL))
		die("sigaction(SIGALRM): %s", strerror(errno));
	sa.sa_handler = on_term;
	if (sigaction(SIGTERM, &sa, NULL) || sigaction(SIGINT, &sa, NULL))
		die("sigaction(SIGTERM): %s", strerror(errno));
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL))
		die("sigaction(SIGPIPE): %s", strerror(errno));
	alarm((unsigned int)o.max_seconds);

	workers = calloc((size_t)o.threads, sizeof(*workers));
	conns = calloc((size_t)o.connections, sizeof(*conns));
	total = calloc(1, sizeof(*total));
	if (!workers || !conns || !total)
		die("out of memory");
	for (int t = 0, first = 0; t < o.threads; t++) {
		struct worker *w = &workers[t];
		int n = o.connections / o.threads + (t < o.connections % o.threads);

		w->id = t;
		w->conns = conns + first;
		w->n_conns = w->n_active = n;
		w->rng = 0x9e3779b97f4a7c15ull ^ ((uint64_t)getpid() << 16) ^ (uint64_t)t;
		/* Threads start apart in the round robin: not all on user0 at once. */
		w->next_account = (uint64_t)t * (uint64_t)o.accounts / (uint64_t)o.threads;
		w->next_source = (uint64_t)t * (uint64_t)o.sources / (uint64_t)o.threads;
		w->epfd = epoll_create1(EPOLL_CLOEXEC);
		if (w->epfd < 0)
			die("epoll_create1: %s", strerror(errno));
		for (int i = 0; i < n; i++) {
			struct conn *cn = &w->conns[i];

			cn->w = w;
			cn->index = first + i;
			cn->fd = -1;
			connect_first(cn);
		}
		first += n;
	}

	cpu0 = cpu_seconds();
	t_start_ns = now_ns();
	t_measure_ns = t_start_ns + (int64_t)o.warmup_s * 1000000000;
	t_end_ns = o.duration_s ? t_measure_ns + (int64_t)o.duration_s * 1000000000 : INT64_MAX;
	if (o.rate) {
		/* Wake-ups on time: a late wake-up would be counted as the server's lag. */
		prctl(PR_SET_TIMERSLACK, 1UL);
		/* Connections evenly staggered: the rate is steady, not in bursts. */
		rate_interval_ns = (int64_t)(1e9 * o.connections / o.rate);
		if (rate_interval_ns < 1)
			rate_interval_ns = 1;
		for (int i = 0; i < o.connections; i++)
			conns[i].send_at_ns = t_start_ns + rate_interval_ns * i / o.connections;
	}
	for (int t = 0; t < o.threads; t++) {
		int e = pthread_create(&workers[t].thread, NULL, worker_run, &workers[t]);

		if (e)
			die("pthread_create: %s", strerror(e));
	}
	for (int t = 0; t < o.threads; t++) {
		pthread_join(workers[t].thread, NULL);
		merge(total, &workers[t].stats);
		close(workers[t].epfd);
	}
	t_stop = now_ns();
	if (o.duration_s && t_stop > t_end_ns)
		t_stop = t_end_ns;
	/* -n: until the last answer; -d: the run time asked, or less if stopped. */
	if (!o.duration_s && total->last_answer_ns)
		t_stop = total->last_answer_ns;
	elapsed = t_stop > t_measure_ns ? (double)(t_stop - t_measure_ns) / 1e9 : 0;
	report(total, elapsed, cpu_seconds() - cpu0);

	for (int i = 0; i < E_MAX; i++)
		errors += total->errors[i];
	free(workers);
	free(conns);
	free(total);
	if (errors && !o.allow_errors) {
		fprintf(stderr, "%s: %llu errors (--allow-errors to exit 0 all the same)\n", prog,
			(unsigned long long)errors);
		return 1;
	}
	return 0;
}
