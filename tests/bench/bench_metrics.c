// SPDX-License-Identifier: GPL-2.0
/*
 * `make bench`, the metrics service's part: what one scrape costs with the
 * kernel's tables as full as a busy server's, 100,000 sources and 200,000
 * sessions (the target: under 50 ms), beside what a user would run
 * otherwise for per-source figures, bpftool's dump of the maps.
 *
 * The maps are the real program's (the smtpwall skeleton through
 * tests/lib/bpf_harness.h, nothing pinned by libbpf), at the default
 * capacities, filled with bpf_map_update_batch: a mix of IPv4 /32 and
 * IPv6 /64 sources with heavy-tailed counters, some penalised, most with a
 * country, their sessions in sw_sessions, some reaped, and 1,000 deny
 * entries. Only bpftool needs a path: sw_sources and sw_sessions are
 * pinned for it under a directory of this run's own in /sys/fs/bpf,
 * removed at the end, on failure and on a signal.
 *
 * Timed, in each of R rounds in an order that rotates with the round:
 * sw_scrape_collect + sw_scrape_render as the service's worker runs them
 * for /metrics (text, top_sources 20) and for /sources (the JSON table);
 * and the collection's parts, each with the same calls it makes, so that
 * the reader sees where the time goes. One collector memory serves every
 * scrape, as the service keeps one. Every scrape is checked against what
 * was written (sources, penalised, sessions, deny entries, the busiest
 * source, the JSON's count): a bench that measured a broken scrape would
 * be worse than none.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf_harness.h"
#include "clock.h"
#include "config.h"
#include "kernel.h"
#include "metrics.h"
#include "parse.h"

#define N_SOURCES    100000
#define N_SESSIONS   200000
#define N_DENY	     1000
#define SHARE_V6     4		/* one source in SHARE_V6 is IPv6 */
#define SHARE_PEN    20		/* one in SHARE_PEN is penalised */
#define SHARE_REAPED 50		/* one in SHARE_REAPED with sessions has some reaped */
#define TOP_SOURCES  20
#define TOP_COUNTRIES 10
/* The collector's chunk (WALK_CHUNK in user/metrics/metrics.c), for the parts. */
#define WALK_CHUNK   4096
#define BATCH	     8192	/* entries per bpf_map_update_batch while filling */
#define TARGET_MS    50.0
#define NSEC_PER_SEC 1000000000ULL

static const char *const busy_countries[] = {
	"US", "CN", "DE", "RU", "BR", "IN", "FR", "GB", "NL", "VN", "KR", "JP", "ID", "TR", "UA",
	"PL", "IT", "ES", "CA", "AR", "MX", "IR", "TH", "TW", "RO", "SE", "SG", "HK", "ZA", "EG",
	"PK", "BD", "CO", "CL", "PH", "MY", "NG", "KZ", "BG", "CZ",
};
#define N_COUNTRIES (sizeof(busy_countries) / sizeof(busy_countries[0]))

/* ---- the run's pin directory: removed whatever happens ---- */

static char pin_dir[256], pin_sources[300], pin_sessions[300];

static void unpin(void)
{
	/* Async-signal-safe calls only: also run from the signal handler. */
	if (pin_sources[0])
		unlink(pin_sources);
	if (pin_sessions[0])
		unlink(pin_sessions);
	if (pin_dir[0])
		rmdir(pin_dir);
}

static void on_signal(int sig)
{
	unpin();
	signal(sig, SIG_DFL);
	raise(sig);
}

__attribute__((noreturn, format(printf, 1, 2)))
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "bench_metrics: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);	/* unpin() runs at exit */
}

/*
 * bpftool's argument for each map: a pin in a directory of this run's own
 * under /sys/fs/bpf (--bpffs), as a user would name them; where bpffs does
 * not let us create one (a sandbox), the map's id, which costs bpftool the
 * same.
 */
static char tool_arg[2][2][sizeof(pin_sources)];	/* [map]["pinned"/"id", what] */

static void map_by_id(int m, int fd)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		die("map info: %s", strerror(errno));
	snprintf(tool_arg[m][0], sizeof(tool_arg[m][0]), "id");
	snprintf(tool_arg[m][1], sizeof(tool_arg[m][1]), "%u", info.id);
}

static void pin_maps(struct swh *h, const char *bpffs, char *how, size_t how_len)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	int fds[2] = { bpf_map__fd(h->skel->maps.sw_sources), bpf_map__fd(h->skel->maps.sw_sessions) };
	char *pins[2] = { pin_sources, pin_sessions };
	const char *names[2] = { "sw_sources", "sw_sessions" };
	int err = 0;

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], on_signal);
	if (atexit(unpin))
		die("atexit failed");
	/* Not mkdtemp: bpffs refuses names with a dot. */
	for (int tries = 0; tries < 100; tries++) {
		unsigned tag = (unsigned)(sw_mono_ns() & 0xffff);

		if ((size_t)snprintf(pin_dir, sizeof(pin_dir), "%s/smtpwall-bench-metrics-%d-%04x", bpffs,
				     (int)getpid(), tag) >= sizeof(pin_dir))
			die("--bpffs %s: too long", bpffs);
		err = mkdir(pin_dir, 0700) ? errno : 0;
		if (err != EEXIST)
			break;
	}
	if (err) {
		char tried[sizeof(pin_dir)];

		snprintf(tried, sizeof(tried), "%s", pin_dir);
		pin_dir[0] = 0;
		if (err != EPERM && err != EACCES && err != EROFS)
			die("mkdir %s: %s (is bpffs mounted there?)", tried, strerror(err));
		snprintf(how, how_len, "map dump id N -j (mkdir %s: %s)", tried, strerror(err));
		for (int m = 0; m < 2; m++)
			map_by_id(m, fds[m]);
		return;
	}
	for (int m = 0; m < 2; m++) {
		snprintf(pins[m], sizeof(pin_sources), "%s/%s", pin_dir, names[m]);
		if (bpf_obj_pin(fds[m], pins[m])) {
			int e = errno;

			pins[m][0] = 0;
			die("pin %s/%s: %s", pin_dir, names[m], strerror(e));
		}
		snprintf(tool_arg[m][0], sizeof(tool_arg[m][0]), "pinned");
		snprintf(tool_arg[m][1], sizeof(tool_arg[m][1]), "%s", pins[m]);
	}
	snprintf(how, how_len, "map dump pinned %s/MAP -j", pin_dir);
}

/* ---- helpers ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Heavy-tailed: most sources try a few times, a few try very often. */
static uint64_t rnd_attempts(void)
{
	uint64_t r = rnd() % 1000;

	if (r < 600)
		return 1 + rnd() % 5;
	if (r < 900)
		return 5 + rnd() % 95;
	if (r < 990)
		return 100 + rnd() % 9900;
	return 10000 + rnd() % 990000;
}

static double now_ms(void)
{
	return (double)sw_mono_ns() / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct summary {
	double median, p99, max;
};

/* Median, p99 (linear between order statistics: below 100 runs it is near the max) and max. */
static struct summary summarise(const double *v, int n)
{
	double *s = malloc(n * sizeof(*s));
	struct summary r;
	double pos;
	int lo;

	if (!s)
		die("out of memory");
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	r.median = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	pos = 0.99 * (n - 1);
	lo = (int)pos;
	r.p99 = lo + 1 < n ? s[lo] + (pos - lo) * (s[lo + 1] - s[lo]) : s[lo];
	r.max = s[n - 1];
	free(s);
	return r;
}

/* ---- filling the maps ---- */

struct fill {
	struct sw_src_key *keys;
	struct sw_source *src;
	uint64_t penalised, reaped_total, busiest_syn;
	unsigned busiest;
	struct sw_country_stats cs[SW_COUNTRY_IDS];
};

static void update_batch(int fd, const void *keys, const void *values, size_t ks, size_t vs, size_t n,
			 const char *what)
{
	for (size_t done = 0; done < n;) {
		__u32 count = n - done < BATCH ? (__u32)(n - done) : BATCH;

		if (bpf_map_update_batch(fd, (const char *)keys + done * ks, (const char *)values + done * vs,
					 &count, NULL))
			die("%s: bpf_map_update_batch at %zu of %zu: %s", what, done, n, strerror(errno));
		if (!count)
			die("%s: bpf_map_update_batch wrote nothing at %zu of %zu", what, done, n);
		done += count;
	}
}

static void make_sources(struct fill *f, uint64_t now)
{
	uint64_t week = 7 * 24 * 3600 * NSEC_PER_SEC;
	uint64_t span = now > week + 1 ? week : now - 1;

	f->keys = calloc(N_SOURCES, sizeof(*f->keys));
	f->src = calloc(N_SOURCES, sizeof(*f->src));
	if (!f->keys || !f->src)
		die("out of memory");
	for (unsigned i = 0; i < N_SOURCES; i++) {
		struct sw_src_key *k = &f->keys[i];
		struct sw_source *s = &f->src[i];
		uint64_t r = rnd() % 100, attempts = rnd_attempts();
		unsigned cc;

		if (i % SHARE_V6 == 0) {
			/* 2001:db8:XXXX:XXXX::/64, under the harness's /64 mask */
			k->family = SW_AF_INET6;
			k->addr[0] = htonl(0x20010db8);
			k->addr[1] = htonl(i);
		} else {
			/* 198.18.0.0/15, the benchmarking range: 131072 addresses */
			k->family = SW_AF_INET;
			k->addr[0] = htonl(0xc6120000 + i);
		}
		s->first_seen_ns = now - 1 - rnd() % span;
		s->last_syn_ns = s->first_seen_ns + rnd() % (now - s->first_seen_ns);
		s->syn = attempts;
		s->admitted = attempts - attempts * (rnd() % 30) / 100;
		s->packets = s->admitted * (8 + rnd() % 40) + (attempts - s->admitted);
		s->bytes = s->packets * (60 + rnd() % 600);
		s->sessions_total = s->admitted;
		s->sessions_completed = s->admitted * (rnd() % 100) / 100;
		s->sessions_abandoned = s->admitted - s->sessions_completed;
		s->messages = s->sessions_completed;
		s->rcpt = s->messages * (1 + rnd() % 3);
		s->rcpt_rejected = s->rcpt * (rnd() % 10) / 100;
		s->flags = SW_SRC_PROVEN;
		if (s->admitted < attempts) {
			uint64_t left = attempts - s->admitted;

			s->dropped[SW_R_RATE] = left / 2;
			s->dropped[SW_R_CONCURRENCY] = left / 4;
			s->dropped[rnd() % SW_R_MAX] += left - left / 2 - left / 4;
		}
		if (i % SHARE_PEN == 1) {
			s->penalty_until_ns = now + (60 + rnd() % 3600) * NSEC_PER_SEC;
			s->penalty_reason = rnd() % SW_R_ALL;
			s->last_offence_ns = s->last_syn_ns;
			s->offences = 1 + rnd() % 4;
			s->dropped[SW_R_PENALTY] += 1 + rnd() % 1000;
			f->penalised++;
		} else if (rnd() % 3 == 0) {
			s->last_good_ns = s->last_syn_ns;
		}
		/* Classified, mostly into the busy countries; a few not in the database, a few never. */
		if (r < 2) {
			s->geo_gen = 0;
			cc = SW_COUNTRY_NONE;
		} else if (r < 5) {
			s->geo_gen = 1;
			cc = SW_COUNTRY_UNKNOWN;
		} else {
			s->geo_gen = 1;
			/* Roughly Zipf: the first countries hold most sources. */
			cc = (unsigned)sw_country_id(busy_countries[(rnd() % N_COUNTRIES) * (rnd() % N_COUNTRIES) /
								   N_COUNTRIES]);
		}
		s->country = cc == SW_COUNTRY_NONE ? 0 : (__u16)cc;
		f->cs[cc].syn += s->syn;
		f->cs[cc].admitted += s->admitted;
		for (int d = 0; d < SW_R_MAX; d++)
			f->cs[cc].dropped[d] += s->dropped[d];
		if (s->syn > f->busiest_syn || (s->syn == f->busiest_syn && s->packets > f->src[f->busiest].packets)) {
			f->busiest_syn = s->syn;
			f->busiest = i;
		}
	}
}

/*
 * The sessions: half spread over every source, half over the first 1,000
 * (the servers that send a lot); a source's sessions differ by port.
 */
static void write_sessions(struct swh *h, struct fill *f, uint64_t now)
{
	struct sw_session_key *keys = calloc(N_SESSIONS, sizeof(*keys));
	struct sw_session *vals = calloc(N_SESSIONS, sizeof(*vals));
	uint32_t server4 = htonl(0xc0000201);	/* 192.0.2.1 */
	uint32_t server6[4] = { htonl(0x20010db8), 0, 0, htonl(1) };

	if (!keys || !vals)
		die("out of memory");
	for (unsigned i = 0; i < N_SESSIONS; i++) {
		unsigned si = i % 2 ? (unsigned)(rnd() % N_SOURCES) : (unsigned)(rnd() % 1000);
		struct sw_src_key *sk = &f->keys[si];
		struct sw_source *s = &f->src[si];
		struct sw_session_key *k = &keys[i];
		struct sw_session *v = &vals[i];

		if (s->sessions_open >= 60000)
			die("source %u holds too many sessions for a port each", si);
		k->family = sk->family;
		if (sk->family == SW_AF_INET) {
			k->saddr[0] = sk->addr[0];
			k->daddr[0] = server4;
		} else {
			k->saddr[0] = sk->addr[0];
			k->saddr[1] = sk->addr[1];
			k->saddr[2] = (uint32_t)rnd();
			k->saddr[3] = (uint32_t)rnd();
			memcpy(k->daddr, server6, sizeof(server6));
		}
		k->sport = htons((uint16_t)(1024 + s->sessions_open));
		k->dport = htons(i % 10 ? 25 : 587);
		s->sessions_open++;
		if (s->sessions_total < s->sessions_open)
			s->sessions_total = s->sessions_open;
		v->start_ns = now - 1 - rnd() % (60 * NSEC_PER_SEC);
		v->packets = 3 + rnd() % 200;
		v->bytes = v->packets * (60 + rnd() % 1400);
		v->last_client_ns = v->start_ns + rnd() % (now - v->start_ns);
		v->greeting_ns = v->start_ns + 1000000;
		v->last_server_ns = v->last_client_ns;
		v->server_packets = v->packets;
		v->server_bytes = v->packets * 80;
		v->flags = SW_SESS_HANDSHAKE | (i % 3 ? SW_SESS_TLS : 0);
		v->phase = i % 3 ? SW_PH_TLS : (uint8_t)(rnd() % SW_PH_TLS);
		v->progress_ns = v->last_client_ns;
	}
	update_batch(bpf_map__fd(h->skel->maps.sw_sessions), keys, vals, sizeof(*keys), sizeof(*vals), N_SESSIONS,
		     "sw_sessions");
	free(keys);
	free(vals);
}

/* Some sources had sessions closed by the daemon: their sw_reaped counts. */
static void write_reaped(struct swh *h, struct fill *f)
{
	struct sw_src_key *keys = calloc(N_SOURCES, sizeof(*keys));
	__u64 *vals = calloc(N_SOURCES, sizeof(*vals));
	size_t n = 0, with_sessions = 0;

	if (!keys || !vals)
		die("out of memory");
	for (unsigned i = 0; i < N_SOURCES; i++) {
		if (!f->src[i].sessions_open || with_sessions++ % SHARE_REAPED)
			continue;
		keys[n] = f->keys[i];
		vals[n] = 1 + rnd() % f->src[i].sessions_open;
		f->reaped_total += vals[n];
		n++;
	}
	update_batch(bpf_map__fd(h->skel->maps.sw_reaped), keys, vals, sizeof(*keys), sizeof(*vals), n,
		     "sw_reaped");
	free(keys);
	free(vals);
}

/* 1,000 deny entries: IPv4 hosts and /24s, IPv6 /64s. */
static void write_deny(struct swh *h)
{
	char cidr[INET6_ADDRSTRLEN + 8];	/* as swh_list_set takes it */

	for (unsigned i = 0; i < N_DENY; i++) {
		int err;

		if (i < 700)
			snprintf(cidr, sizeof(cidr), "100.64.%u.%u", i / 250, 1 + i % 250);
		else if (i < 800)
			snprintf(cidr, sizeof(cidr), "100.%u.%u.0/24", 65 + (i - 700) / 50, (i - 700) % 50);
		else
			snprintf(cidr, sizeof(cidr), "2001:db8:ffff:%x::/64", i - 800);
		err = swh_list_set(h, true, cidr, 0);
		if (err)
			die("deny %s: %s", cidr, strerror(-err));
	}
}

/* The per-CPU counters the kernel would hold: totals and countries, on CPU 0. */
static void write_counters(struct swh *h, struct fill *f)
{
	int fd = bpf_map__fd(h->skel->maps.sw_country_stats);
	struct sw_country_stats *pc = calloc(h->ncpus, sizeof(*pc));
	struct sw_stats *st = calloc(h->ncpus, sizeof(*st));
	__u32 zero = 0;

	if (!pc || !st)
		die("out of memory");
	for (__u32 id = 0; id < SW_COUNTRY_IDS; id++) {
		if (!f->cs[id].syn)
			continue;
		pc[0] = f->cs[id];
		if (bpf_map_update_elem(fd, &id, pc, BPF_ANY))
			die("sw_country_stats: %s", strerror(errno));
	}
	for (unsigned i = 0; i < N_SOURCES; i++) {
		st[0].syn += f->src[i].syn;
		for (int d = 0; d < SW_R_MAX; d++)
			st[0].dropped[d] += f->src[i].dropped[d];
	}
	st[0].sessions_closed = N_SESSIONS;
	if (bpf_map_update_elem(bpf_map__fd(h->skel->maps.sw_stats), &zero, st, BPF_ANY))
		die("sw_stats: %s", strerror(errno));
	free(pc);
	free(st);
}

/* ---- the scrape, as the service runs it ---- */

struct ctx {
	struct swh h;
	struct sw_kernel k;
	struct sw_src_memory *mem;
	struct fill f;
	bool configured[SW_COUNTRY_IDS];
};

static void scrape_setup(struct ctx *c, struct sw_scrape *sc, bool json)
{
	memset(sc, 0, sizeof(*sc));
	sc->want_sources_json = json;
	sc->top_sources = TOP_SOURCES;
	sc->top_countries = TOP_COUNTRIES;
	memcpy(sc->configured_country, c->configured, sizeof(c->configured));
	sc->capacity[SW_MM_SOURCES] = SW_DEFAULT_MAX_SOURCES;
	sc->capacity[SW_MM_SESSIONS] = SW_DEFAULT_MAX_SESSIONS;
	for (int i = SW_MM_ALLOW4; i <= SW_MM_DENY6; i++)
		sc->capacity[i] = SW_LIST_MAX_ENTRIES;
	sc->started_unix = (int64_t)time(NULL) - 3600;
	/* As in the daemon after its first table walk: the sessions counted by it. */
	sc->fig.gc.have = true;
	sc->fig.gc.sessions = N_SESSIONS;
	sc->fig.gc.sources = N_SOURCES;
	sc->fig.gc.runs = 1;
}

static void scrape_check(struct ctx *c, const struct sw_scrape *sc, const struct sw_expo *e)
{
	const struct sw_top_source *top = sc->n_top ? &sc->top[0] : NULL;
	uint64_t sessions = 0;
	char want[128];

	if (sc->err[0])
		die("the scrape could not read a map: %s", sc->err);
	if (!sc->stats_ok || !sc->ds_ok || !sc->geo_ok || !sc->countries_ok || !sc->sources_ok)
		die("the scrape left out a part (stats %d, daemon %d, geo %d, countries %d, sources %d)",
		    sc->stats_ok, sc->ds_ok, sc->geo_ok, sc->countries_ok, sc->sources_ok);
	if (sc->sources != N_SOURCES || sc->entries[SW_MM_SOURCES] != N_SOURCES)
		die("the scrape saw %" PRIu64 " sources (walked %ld), not %d", sc->sources,
		    sc->entries[SW_MM_SOURCES], N_SOURCES);
	if (sc->penalised != c->f.penalised)
		die("the scrape saw %" PRIu64 " penalised sources, not %" PRIu64, sc->penalised, c->f.penalised);
	if (sc->entries[SW_MM_SESSIONS] != N_SESSIONS)
		die("the scrape counted %ld sessions, not %d", sc->entries[SW_MM_SESSIONS], N_SESSIONS);
	if (sc->entries[SW_MM_DENY4] + sc->entries[SW_MM_DENY6] != N_DENY)
		die("the scrape counted %ld + %ld deny entries, not %d", sc->entries[SW_MM_DENY4],
		    sc->entries[SW_MM_DENY6], N_DENY);
	for (unsigned id = 0; id < SW_COUNTRY_IDS; id++)
		sessions += sc->country_sessions[id];
	if (sessions != N_SESSIONS - c->f.reaped_total)
		die("the countries hold %" PRIu64 " open sessions, not %" PRIu64, sessions,
		    N_SESSIONS - c->f.reaped_total);
	if (sc->n_top != TOP_SOURCES || !top || memcmp(&top->key, &c->f.keys[c->f.busiest], sizeof(top->key)))
		die("the busiest source is not the one with the most attempts (%u listed)", sc->n_top);
	if (e) {
		snprintf(want, sizeof(want), "\nsmtpwall_sources %d\n", N_SOURCES);
		if (!e->buf || !memmem(e->buf, e->len, want, strlen(want)))
			die("/metrics has no \"smtpwall_sources %d\"", N_SOURCES);
		snprintf(want, sizeof(want), "{source=\"%s\"}", top->text);
		if (!memmem(e->buf, e->len, want, strlen(want)))
			die("/metrics does not name the busiest source %s", top->text);
	}
	if (sc->want_sources_json) {
		snprintf(want, sizeof(want), "],\"count\":%d}\n", N_SOURCES);
		if (!sc->sources_json || sc->sources_json_len < strlen(want) ||
		    strcmp(sc->sources_json + sc->sources_json_len - strlen(want), want))
			die("the /sources table does not end with %s", want);
	}
}

/* S_RENDER is timed inside S_METRICS's scrapes: not a series of its own in the rotation. */
enum series { S_METRICS, S_SOURCES, S_STATS, S_SESS_WALK, S_LISTS, S_SRC_COPY, S_ROTATED, S_RENDER = S_ROTATED,
	      S_MAX };

static const char *const series_names[S_MAX] = {
	[S_METRICS] = "/metrics: collect + render (text, top 20; sessions counted by the daemon's walk)",
	[S_SOURCES] = "/sources: collect + JSON table",
	[S_STATS] = "  stats, daemon state, geo info, 678 countries",
	[S_SESS_WALK] = "  (not in it) sessions: count walk, before the daemon's first walk",
	[S_LISTS] = "  allow/deny lists: count walks",
	[S_SRC_COPY] = "  sources + reaped: the kernel's copy alone",
	[S_RENDER] = "  render (text)",
};

static int on_count(void *ctx, const void *keys, const void *values, unsigned n)
{
	*(long *)ctx += n;
	return 0;
}

static long walk_count(int fd, size_t ks, size_t vs)
{
	long n = 0, r = sw_map_walk(fd, ks, vs, WALK_CHUNK, on_count, &n);

	if (r < 0)
		die("sw_map_walk: %s", strerror((int)-r));
	return n;
}

struct sizes {
	size_t metrics, sources;
	double collect_metrics_ms, collect_sources_ms;	/* sc.collect_s of the last ones */
};

/* One measurement of series @s, in ms; S_METRICS's render alone into *render_ms. */
static double measure(struct ctx *c, enum series s, struct sizes *sz, double *render_ms)
{
	const struct sw_kernel *k = &c->k;
	struct sw_country_stats *cs = NULL;
	struct sw_scrape sc;
	struct sw_expo e;
	double t0, t;

	switch (s) {
	case S_METRICS:
	case S_SOURCES:
		scrape_setup(c, &sc, s == S_SOURCES);
		t0 = now_ms();
		sw_scrape_collect(k, c->mem, &sc);
		if (s == S_METRICS) {
			double t1 = now_ms();

			sw_expo_init(&e, false);
			if (sw_scrape_render(&sc, &e))
				die("render: out of memory");
			*render_ms = now_ms() - t1;
		}
		t = now_ms() - t0;
		scrape_check(c, &sc, s == S_METRICS ? &e : NULL);
		if (s == S_METRICS) {
			sz->metrics = e.len;
			sz->collect_metrics_ms = sc.collect_s * 1e3;
			sw_expo_free(&e);
		} else {
			sz->sources = sc.sources_json_len;
			sz->collect_sources_ms = sc.collect_s * 1e3;
		}
		sw_scrape_free(&sc);
		return t;
	case S_STATS: {
		struct sw_stats st;
		struct sw_daemon_state ds;
		struct sw_geo_info gi;
		__u32 zero = 0;

		cs = calloc(SW_COUNTRY_IDS, sizeof(*cs));
		if (!cs)
			die("out of memory");
		t0 = now_ms();
		if (sw_kernel_stats(k, &st) || sw_kernel_daemon_state(k, &ds) ||
		    bpf_map_lookup_elem(k->geo_info_fd, &zero, &gi) || sw_kernel_country_stats(k, cs))
			die("reading the counters failed");
		t = now_ms() - t0;
		free(cs);
		return t;
	}
	case S_SESS_WALK:
		t0 = now_ms();
		if (walk_count(k->sessions_fd, sizeof(struct sw_session_key), sizeof(struct sw_session)) != N_SESSIONS)
			die("the sessions walk did not see %d sessions", N_SESSIONS);
		return now_ms() - t0;
	case S_LISTS: {
		long n;

		t0 = now_ms();
		n = walk_count(k->allow_v4_fd, sizeof(struct sw_lpm_v4), sizeof(struct sw_list_entry)) +
		    walk_count(k->allow_v6_fd, sizeof(struct sw_lpm_v6), sizeof(struct sw_list_entry)) +
		    walk_count(k->deny_v4_fd, sizeof(struct sw_lpm_v4), sizeof(struct sw_list_entry)) +
		    walk_count(k->deny_v6_fd, sizeof(struct sw_lpm_v6), sizeof(struct sw_list_entry));
		t = now_ms() - t0;
		if (n != N_DENY)
			die("the list walks saw %ld entries, not %d", n, N_DENY);
		return t;
	}
	case S_SRC_COPY:
		t0 = now_ms();
		walk_count(k->reaped_fd, sizeof(struct sw_src_key), sizeof(__u64));
		if (walk_count(k->sources_fd, sizeof(struct sw_src_key), sizeof(struct sw_source)) != N_SOURCES)
			die("the sources walk did not see %d sources", N_SOURCES);
		return now_ms() - t0;
	default:
		die("no series %d", s);
	}
}

/* ---- bpftool, as a user would run it ---- */

struct tool_run {
	double ms;
	size_t bytes;
};

/* Run `bpftool map dump pinned PATH -j` (or id N) for map @m, reading its output as a consumer would. */
static struct tool_run bpftool_dump(const char *bpftool, int m)
{
	static char buf[1 << 16];
	struct tool_run r = { 0 };
	int pipefd[2], status;
	double t0 = now_ms();
	pid_t pid;
	ssize_t n;

	if (pipe(pipefd))
		die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (!pid) {
		int devnull = open("/dev/null", O_WRONLY);

		dup2(pipefd[1], 1);
		if (devnull >= 0)
			dup2(devnull, 2);
		close(pipefd[0]);
		close(pipefd[1]);
		execlp(bpftool, bpftool, "map", "dump", tool_arg[m][0], tool_arg[m][1], "-j", (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	while ((n = read(pipefd[0], buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		if (n > 0)
			r.bytes += (size_t)n;
	close(pipefd[0]);
	if (waitpid(pid, &status, 0) < 0)
		die("waitpid: %s", strerror(errno));
	r.ms = now_ms() - t0;
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		die("`%s map dump %s %s -j` failed (%s %d%s)", bpftool, tool_arg[m][0], tool_arg[m][1],
		    WIFEXITED(status) ? "exit" : "signal", WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
		    WIFEXITED(status) && WEXITSTATUS(status) == 127 ? ": not found" : "");
	return r;
}

/* ---- main ---- */

static void pin_cpu(void)
{
	cpu_set_t set;
	int last = -1;

	/* The last allowed CPU, as the other benches do; bpftool inherits it. */
	if (sched_getaffinity(0, sizeof(set), &set))
		return;
	for (int i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &set))
			last = i;
	if (last < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(last, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static void cpu_model(char *out, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256], *p;

	snprintf(out, len, "unknown CPU");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "model name", 10) || !(p = strchr(line, ':')))
			continue;
		for (p++; *p == ' ' || *p == '\t'; p++)
			;
		p[strcspn(p, "\n")] = 0;
		snprintf(out, len, "%s", p);
		break;
	}
	fclose(f);
}

static int parse_int(const char *s, const char *what, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		die("bad %s: %s (%ld..%ld)", what, s, min, max);
	return (int)v;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_metrics [--rounds N] [--bpftool-runs N] [--bpftool PATH] [--bpffs DIR]\n"
		   "  --rounds N        scrapes of each kind, and of each part (default 25, at least 15)\n"
		   "  --bpftool-runs N  runs of each bpftool dump (default 3; 0: not measured)\n"
		   "  --bpftool PATH    the bpftool to run (default: bpftool on PATH)\n"
		   "  --bpffs DIR       where the maps are pinned for bpftool, in a directory of the run's\n"
		   "                    own, removed at the end (default /sys/fs/bpf)\n");
}

static void print_row(const char *name, const double *v, int n)
{
	struct summary s = summarise(v, n);

	printf("| %s | %.1f | %.1f | %.1f |\n", name, s.median, s.p99, s.max);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "rounds", required_argument, NULL, 'r' },
		{ "bpftool-runs", required_argument, NULL, 'b' },
		{ "bpftool", required_argument, NULL, 't' },
		{ "bpffs", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct swh_opts ho = { .max_sources = SW_DEFAULT_MAX_SOURCES, .max_sessions = SW_DEFAULT_MAX_SESSIONS };
	int rounds = 25, tool_runs = 3, o, err;
	const char *bpftool = "bpftool", *bpffs = "/sys/fs/bpf";
	double *res[S_MAX], fill_ms, first_ms, t0, *tool_ms[2], *rest, *json_part, *no_sess_walk;
	double start_ms = now_ms();
	struct tool_run tool_last[2] = { 0 };
	struct sizes sz = { 0 };
	struct sw_scrape sc;
	char kerr[256], date[32], cpu[128], tool_how[sizeof(pin_dir) + 96];
	struct utsname u;
	time_t now = time(NULL);
	struct ctx *c;
	uint64_t mono;

	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'r':
			rounds = parse_int(optarg, "--rounds", 15, 1000);
			break;
		case 'b':
			tool_runs = parse_int(optarg, "--bpftool-runs", 0, 100);
			break;
		case 't':
			bpftool = optarg;
			break;
		case 'f':
			bpffs = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	c = calloc(1, sizeof(*c));
	for (int s = 0; s < S_MAX; s++)
		res[s] = calloc(rounds, sizeof(double));
	tool_ms[0] = calloc(tool_runs + 1, sizeof(double));
	tool_ms[1] = calloc(tool_runs + 1, sizeof(double));
	rest = calloc(rounds, sizeof(double));
	json_part = calloc(rounds, sizeof(double));
	no_sess_walk = calloc(rounds, sizeof(double));
	if (!c || !tool_ms[0] || !tool_ms[1] || !rest || !json_part || !no_sess_walk)
		die("out of memory");
	for (int s = 0; s < S_MAX; s++)
		if (!res[s])
			die("out of memory");
	pin_cpu();

	err = swh_open(&c->h, &ho);
	if (err)
		die("load the smtpwall program: %s", strerror(-err));
	if (sw_kernel_from_skel(&c->k, c->h.skel, "(unpinned)", kerr, sizeof(kerr)))
		die("%s", kerr);
	pin_maps(&c->h, bpffs, tool_how, sizeof(tool_how));
	c->mem = sw_src_memory_new();
	if (!c->mem)
		die("out of memory");
	/* A home country and a [country] section: always listed. */
	c->configured[sw_country_id("DE")] = true;
	c->configured[sw_country_id("CN")] = true;

	t0 = now_ms();
	mono = sw_mono_ns();
	make_sources(&c->f, mono);
	write_sessions(&c->h, &c->f, mono);
	update_batch(bpf_map__fd(c->h.skel->maps.sw_sources), c->f.keys, c->f.src, sizeof(*c->f.keys),
		     sizeof(*c->f.src), N_SOURCES, "sw_sources");
	write_reaped(&c->h, &c->f);
	write_deny(&c->h);
	write_counters(&c->h, &c->f);
	fill_ms = now_ms() - t0;

	/* The first scrape: its memory of the sources is still empty. Not in the series. */
	scrape_setup(c, &sc, false);
	t0 = now_ms();
	sw_scrape_collect(&c->k, c->mem, &sc);
	first_ms = now_ms() - t0;
	scrape_check(c, &sc, NULL);
	sw_scrape_free(&sc);

	for (int r = 0; r < rounds; r++)
		for (int i = 0; i < S_ROTATED; i++) {
			int s = (i + r) % S_ROTATED;

			res[s][r] = measure(c, s, &sz, &res[S_RENDER][r]);
		}

	for (int i = 0; i < tool_runs; i++)
		for (int m = 0; m < 2; m++) {
			tool_last[m] = bpftool_dump(bpftool, m);
			tool_ms[m][i] = tool_last[m].ms;
		}

	/* ---- report ---- */
	strftime(date, sizeof(date), "%Y-%m-%d", gmtime(&now));
	uname(&u);
	cpu_model(cpu, sizeof(cpu));
	printf("\nmetrics scrape, %s (UTC), kernel %s, %s, %ld CPUs online, pinned to one\n", date, u.release, cpu,
	       sysconf(_SC_NPROCESSORS_ONLN));
	printf("%d sources (1 in %d IPv6 /64, 1 in %d penalised), %d sessions, %d deny entries; "
	       "capacities %u / %u; filled in %.0f ms\n",
	       N_SOURCES, SHARE_V6, SHARE_PEN, N_SESSIONS, N_DENY, SW_DEFAULT_MAX_SOURCES, SW_DEFAULT_MAX_SESSIONS,
	       fill_ms);
	printf("%d rounds, series in rotating order; ms, wall clock of the calls the service's worker makes\n\n",
	       rounds);
	printf("| what | median ms | p99 ms | max ms |\n");
	printf("|---|---:|---:|---:|\n");
	/* The per-source work and the JSON table by difference, round by round. */
	for (int r = 0; r < rounds; r++) {
		rest[r] = res[S_METRICS][r] - res[S_STATS][r] - res[S_LISTS][r] -
			  res[S_SRC_COPY][r] - res[S_RENDER][r];
		json_part[r] = res[S_SOURCES][r] - (res[S_METRICS][r] - res[S_RENDER][r]);
		no_sess_walk[r] = res[S_METRICS][r] + res[S_SESS_WALK][r];
	}
	print_row(series_names[S_METRICS], res[S_METRICS], rounds);
	for (int s = S_STATS; s <= S_SRC_COPY; s++)
		print_row(series_names[s], res[s], rounds);
	print_row("  per-source work (busiest, countries, memory): the rest", rest, rounds);
	print_row(series_names[S_RENDER], res[S_RENDER], rounds);
	print_row(series_names[S_SOURCES], res[S_SOURCES], rounds);
	print_row("  the JSON table: /sources less /metrics's collection", json_part, rounds);
	print_row("/metrics before the daemon's first table walk (counts the sessions itself)",
		  no_sess_walk, rounds);
	if (tool_runs) {
		printf("\n| for comparison: bpftool %s, %d runs | median ms | output |\n", tool_how, tool_runs);
		printf("|---|---:|---:|\n");
		for (int m = 0; m < 2; m++) {
			struct summary s = summarise(tool_ms[m], tool_runs);

			printf("| %s (%d entries) | %.0f | %.1f MB |\n", m ? "sw_sessions" : "sw_sources",
			       m ? N_SESSIONS : N_SOURCES, s.median, tool_last[m].bytes / 1e6);
		}
	}
	printf("\n- /metrics body: %zu bytes (%.1f KB); /sources body: %zu bytes (%.1f MB, %.0f bytes a source)\n",
	       sz.metrics, sz.metrics / 1e3, sz.sources, sz.sources / 1e6, (double)sz.sources / N_SOURCES);
	printf("- the collector's own figure (smtpwall_scrape_collect_seconds), last round: %.1f ms for /metrics, "
	       "%.1f ms for /sources\n", sz.collect_metrics_ms, sz.collect_sources_ms);
	printf("- the first scrape (no memory of the sources yet, not in the series): %.1f ms\n", first_ms);
	printf("- parts: the same calls as sw_scrape_collect makes, chunk %d; p99 interpolated between the "
	       "two slowest runs below 100 rounds\n", WALK_CHUNK);
	printf("- run time %.0f s\n", (now_ms() - start_ms) / 1e3);
	{
		struct summary m = summarise(res[S_METRICS], rounds);

		printf("\nTarget: /metrics scrape at %d sources and %d sessions under %.0f ms: median %.1f ms %s, "
		       "p99 %.1f ms %s\n",
		       N_SOURCES, N_SESSIONS, TARGET_MS, m.median, m.median < TARGET_MS ? "PASS" : "MISS", m.p99,
		       m.p99 < TARGET_MS ? "PASS" : "MISS");
	}

	sw_src_memory_free(c->mem);
	sw_kernel_close(&c->k);
	swh_close(&c->h);
	free(c->f.keys);
	free(c->f.src);
	for (int s = 0; s < S_MAX; s++)
		free(res[s]);
	free(rest);
	free(json_part);
	free(no_sess_walk);
	free(tool_ms[0]);
	free(tool_ms[1]);
	free(c);
	return 0;
}
