// SPDX-License-Identifier: GPL-2.0
/*
 * `make bench`, second part: what country classification costs per packet,
 * with smtpwall's direct-indexed tables and with a BPF LPM trie holding the
 * same prefixes, at 10 prefixes and at a full database (1.4 million
 * prefixes, DB-IP Lite's size); and what the whole enforcer costs on a
 * spoofed-source SYN flood (a new IPv4 source every packet, so every packet
 * is classified afresh) without geo data, with the small and with the full
 * database.
 *
 * The databases are written by our own fixture writer (build/tools/mkmmdb:
 * a synthetic database with a realistic prefix-length mix), unless
 * --mmdb FILE names a real one for the large case. Each is read with the
 * daemon's loader (user/geo/geo.c), so the load time and kernel memory
 * reported are the daemon's. Addresses to classify are drawn at random
 * inside the database's prefixes, 65536 of them, cycled.
 *
 * Every measurement is checked: the tables and the trie must give the same
 * country for every sampled address, and the flood runs must take the
 * intended path on every repetition. Rounds rotate the order of the series;
 * medians are reported.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "smtpwall.h"
#include "config.h"
#include "geo.h"
#include "kernel.h"
#include "bench_geo.skel.h"
#include "smtpwall.skel.h"
#include "pkt.h"

#define N_SAMPLES 65536
#define NSEC_PER_SEC 1000000000ULL

struct prefix {
	uint8_t addr[16];
	uint8_t len;
	uint16_t cc;
};

struct db {
	const char *name;
	char path[512];
	struct sw_geo_table t;
	struct prefix *v4, *v6;
	size_t n4, n6, cap4, cap6;
	double build_s, put_s;
	uint64_t dir_mem;
};

enum { P_NONE, P_DIR, P_LPM, P_MAX };

struct geo_result {
	double ns[P_MAX];	/* medians */
	double lpm_fill_s;
	uint64_t lpm_mem;
	size_t prefixes;
};

static int repeat = 1000000, rounds = 7;

__attribute__((noreturn, format(printf, 1, 2)))
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "bench_geo: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void collect(void *ctx, uint8_t family, const uint8_t *addr, unsigned len, uint16_t cc)
{
	struct db *d = ctx;
	struct prefix **v = family == SW_AF_INET ? &d->v4 : &d->v6;
	size_t *n = family == SW_AF_INET ? &d->n4 : &d->n6;
	size_t *cap = family == SW_AF_INET ? &d->cap4 : &d->cap6;

	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 1024;
		*v = realloc(*v, *cap * sizeof(**v));
		if (!*v)
			die("out of memory");
	}
	memset(&(*v)[*n], 0, sizeof(**v));
	memcpy((*v)[*n].addr, addr, family == SW_AF_INET ? 4 : 16);
	(*v)[*n].len = len;
	(*v)[*n].cc = cc;
	(*n)++;
}

static void run_cmd(const char *cmd, const char *input)
{
	FILE *p = popen(cmd, "w");

	if (!p)
		die("cannot run %s", cmd);
	if (input)
		fputs(input, p);
	if (pclose(p))
		die("failed: %s", cmd);
}

static void load_db(struct db *d)
{
	char err[512];
	double t0 = now_s();

	if (sw_geo_build_each(d->path, &d->t, collect, d, err, sizeof(err)))
		die("%s", err);
	d->build_s = now_s() - t0;
	if (!d->n4 || !d->n6)
		die("%s: the database needs both IPv4 and IPv6 prefixes", d->path);
}

/* An address inside a random prefix of @v (IPv6: prefixes of at most /64, as the tables hold). */
static void sample(const struct prefix *v, size_t n, bool v6, __u32 out[4])
{
	const struct prefix *p;
	uint8_t a[16];

	do
		p = &v[rnd() % n];
	while (v6 && p->len > 64);
	memcpy(a, p->addr, 16);
	for (unsigned b = p->len; b < (v6 ? 128u : 32u); b++)
		if (rnd() & 1)
			a[b / 8] |= 0x80 >> (b % 8);
	memset(out, 0, 16);
	memcpy(out, a, v6 ? 16 : 4);
}

static double run_prog(int fd, __u32 reps)
{
	uint8_t frame[64] = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = sizeof(frame),
		    .repeat = (int)reps);

	if (bpf_prog_test_run_opts(fd, &o))
		die("BPF_PROG_TEST_RUN: %s", strerror(errno));
	if (o.retval != XDP_PASS)
		die("bench program returned %u (no sample address?)", o.retval);
	return o.duration;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Classification alone: tables vs trie vs neither, one family, one database. */
static void bench_classify(struct db *d, bool v6, struct geo_result *res)
{
	const struct prefix *v = v6 ? d->v6 : d->v4;
	size_t n = v6 ? d->n6 : d->n4;
	struct bench_geo_bpf *s;
	struct bpf_map *map;
	int fds[P_MAX], lpm_fd;
	double *series[P_MAX];
	uint64_t sums[2];
	char err[512];
	double t0;

	s = bench_geo_bpf__open();
	if (!s)
		die("open bench_geo: %s", strerror(errno));
	s->rodata->sw_bench_v6 = v6;
	bpf_object__for_each_map(map, s->obj)
		bpf_map__set_pin_path(map, NULL);
	bpf_map__set_max_entries(s->maps.sw_bench_lpm4, v6 ? 1 : n);
	bpf_map__set_max_entries(s->maps.sw_bench_lpm6, v6 ? n : 1);
	if (bench_geo_bpf__load(s))
		die("load bench_geo: %s", strerror(errno));
	fds[P_NONE] = bpf_program__fd(s->progs.geo_none_xdp);
	fds[P_DIR] = bpf_program__fd(s->progs.geo_dir_xdp);
	fds[P_LPM] = bpf_program__fd(s->progs.geo_lpm_xdp);

	for (__u32 i = 0; i < N_SAMPLES; i++) {
		__u32 a[4];

		sample(v, n, v6, a);
		if (bpf_map__update_elem(s->maps.sw_bench_addrs, &i, sizeof(i), a, sizeof(a), 0))
			die("sample: %s", strerror(errno));
	}
	t0 = now_s();
	if (sw_geo_put_tables(bpf_map__fd(s->maps.sw_geo4), bpf_map__fd(s->maps.sw_geo6), &d->t,
			      &d->dir_mem, err, sizeof(err)))
		die("%s", err);
	d->put_s = now_s() - t0;

	lpm_fd = bpf_map__fd(v6 ? s->maps.sw_bench_lpm6 : s->maps.sw_bench_lpm4);
	t0 = now_s();
	for (size_t i = 0; i < n; i++) {
		struct sw_lpm_v6 k6 = { .prefixlen = v[i].len };
		struct sw_lpm_v4 k4 = { .prefixlen = v[i].len };
		int r;

		if (v6) {
			memcpy(k6.addr, v[i].addr, 16);
			r = bpf_map_update_elem(lpm_fd, &k6, &v[i].cc, BPF_ANY);
		} else {
			memcpy(&k4.addr, v[i].addr, 4);
			r = bpf_map_update_elem(lpm_fd, &k4, &v[i].cc, BPF_ANY);
		}
		if (r)
			die("LPM trie insert %zu of %zu: %s", i, n, strerror(errno));
	}
	res->lpm_fill_s = now_s() - t0;
	res->lpm_mem = sw_fd_memlock(lpm_fd);
	res->prefixes = n;

	/* Both must give the same country for every sample, and mostly a real one. */
	for (int p = P_DIR; p <= P_LPM; p++) {
		s->bss->sw_bench_seq = 0;
		s->bss->sw_bench_sum = 0;
		run_prog(fds[p], N_SAMPLES);
		sums[p - P_DIR] = s->bss->sw_bench_sum;
	}
	if (sums[0] != sums[1])
		die("%s %s: the tables and the LPM trie disagree (country sums %llu vs %llu)", d->name,
		    v6 ? "IPv6" : "IPv4", (unsigned long long)sums[0], (unsigned long long)sums[1]);
	if (sums[0] < (uint64_t)N_SAMPLES)
		die("%s %s: samples classified as unknown: not measuring lookups that hit", d->name,
		    v6 ? "IPv6" : "IPv4");

	for (int p = 0; p < P_MAX; p++) {
		series[p] = calloc(rounds, sizeof(double));
		if (!series[p])
			die("out of memory");
	}
	for (int r = 0; r < rounds; r++)
		for (int i = 0; i < P_MAX; i++) {
			int p = (i + r) % P_MAX;

			series[p][r] = run_prog(fds[p], repeat);
		}
	for (int p = 0; p < P_MAX; p++) {
		res->ns[p] = median(series[p], rounds);
		free(series[p]);
	}
	bench_geo_bpf__destroy(s);
}

/* ---- the whole enforcer on a spoofed-source SYN flood ---- */

static struct smtpwall_bpf *flood_load(void)
{
	struct smtpwall_bpf *s = smtpwall_bpf__open();
	struct bpf_map *map;
	struct sw_settings set;
	struct sw_config c;
	__u32 zero = 0;

	if (!s)
		die("open smtpwall: %s", strerror(errno));
	s->rodata->sw_bench_vary_saddr = true;
	bpf_object__for_each_map(map, s->obj)
		bpf_map__set_pin_path(map, NULL);
	if (smtpwall_bpf__load(s))
		die("load smtpwall: %s", strerror(errno));
	sw_settings_defaults(&set);
	set.new_source_interval_ns = 3600 * NSEC_PER_SEC;
	set.new_source_burst = 1;
	set.flood_drop = true;
	sw_settings_to_kernel(&set, &c);
	sw_settings_free(&set);
	if (bpf_map__update_elem(s->maps.sw_config, &zero, sizeof(zero), &c, sizeof(c), 0))
		die("sw_config: %s", strerror(errno));
	return s;
}

static void flood_stats(struct smtpwall_bpf *s, struct sw_stats *sum)
{
	int ncpu = libbpf_num_possible_cpus();
	struct sw_stats *pc = calloc(ncpu, sizeof(*pc));
	__u32 zero = 0;

	if (!pc || bpf_map__lookup_elem(s->maps.sw_stats, &zero, sizeof(zero), pc, ncpu * sizeof(*pc), 0))
		die("sw_stats: %s", strerror(errno));
	memset(sum, 0, sizeof(*sum));
	for (int c = 0; c < ncpu; c++) {
		sum->syn += pc[c].syn;
		sum->dropped[SW_R_FLOOD] += pc[c].dropped[SW_R_FLOOD];
	}
	free(pc);
}

/* ns per flood SYN: [0] no geo data, [1] small database, [2] large. */
static void bench_flood(struct db *small, struct db *large, double out[3])
{
	struct smtpwall_bpf *s[3];
	double *series[3];
	struct pkt_opts o = { .src = "198.51.100.1", .dst = "192.0.2.1", .sport = 40000, .dport = 25,
			      .flags = PKT_SYN, .tcp_opt_words = 5 };
	uint8_t buf[PKT_MAX];
	__u32 len = pkt_build(&o, buf);
	struct db *dbs[3] = { NULL, small, large };
	char err[512];

	for (int i = 0; i < 3; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = buf, .data_size_in = len, .repeat = 1);
		uint64_t mem;

		s[i] = flood_load();
		if (dbs[i] && sw_geo_put_tables(bpf_map__fd(s[i]->maps.sw_geo4),
						bpf_map__fd(s[i]->maps.sw_geo6), &dbs[i]->t, &mem, err,
						sizeof(err)))
			die("%s", err);
		/* The first new source takes the gate's only token; every later one is a flood SYN. */
		if (bpf_prog_test_run_opts(bpf_program__fd(s[i]->progs.smtpwall_xdp), &t))
			die("BPF_PROG_TEST_RUN: %s", strerror(errno));
		series[i] = calloc(rounds, sizeof(double));
		if (!series[i])
			die("out of memory");
	}
	for (int r = 0; r < rounds; r++)
		for (int k = 0; k < 3; k++) {
			int i = (k + r) % 3;
			LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = buf, .data_size_in = len,
				    .repeat = repeat);
			struct sw_stats a, b;

			flood_stats(s[i], &a);
			if (bpf_prog_test_run_opts(bpf_program__fd(s[i]->progs.smtpwall_xdp), &t))
				die("BPF_PROG_TEST_RUN: %s", strerror(errno));
			flood_stats(s[i], &b);
			if (t.retval != XDP_DROP || b.dropped[SW_R_FLOOD] - a.dropped[SW_R_FLOOD] != (__u64)repeat)
				die("flood: %llu of %d SYNs took the flood path (verdict %u)",
				    (unsigned long long)(b.dropped[SW_R_FLOOD] - a.dropped[SW_R_FLOOD]), repeat,
				    t.retval);
			series[i][r] = t.duration;
		}
	for (int i = 0; i < 3; i++) {
		out[i] = median(series[i], rounds);
		free(series[i]);
		smtpwall_bpf__destroy(s[i]);
	}
}

/* build/tools/mkmmdb, next to this binary (build/bench_geo). */
static void tool_path(char *out, size_t len)
{
	char exe[400];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n <= 0)
		die("readlink /proc/self/exe: %s", strerror(errno));
	exe[n] = 0;
	slash = strrchr(exe, '/');
	if (slash)
		*slash = 0;
	snprintf(out, len, "%s/tools/mkmmdb", exe);
	if (access(out, X_OK))
		die("%s is missing: run `make tests` first", out);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_geo [--rounds N] [--repeat N] [--mmdb FILE] [--size V4,V6]\n"
		   "  --mmdb FILE   a real country database for the large case (default: synthetic)\n"
		   "  --size V4,V6  prefixes of the synthetic large database (default 594000,774000)\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "rounds", required_argument, NULL, 'r' }, { "repeat", required_argument, NULL, 'n' },
		{ "mmdb", required_argument, NULL, 'm' },   { "size", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },	    { NULL, 0, NULL, 0 },
	};
	const char *size = "594000,774000", *real = NULL;
	struct db small = { .name = "10 prefixes" }, large = { .name = "full database" };
	struct geo_result res[2][2];	/* [db][v6] */
	char dir[] = "/tmp/smtpwall-bench-geo.XXXXXX", cmd[2048], date[32], tool[512];
	struct db *dbs[2] = { &small, &large };
	double flood[3];
	struct utsname u;
	time_t now = time(NULL);
	cpu_set_t set;
	int o;

	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'r':
			rounds = atoi(optarg);
			break;
		case 'n':
			repeat = atoi(optarg);
			break;
		case 'm':
			real = optarg;
			break;
		case 's':
			size = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (rounds < 1 || rounds > 1000 || repeat < 1000)
		die("--rounds 1..1000, --repeat >= 1000");
	/* One CPU, the last allowed one, as the other bench does. */
	if (!sched_getaffinity(0, sizeof(set), &set)) {
		int last = 0;

		for (int i = 0; i < CPU_SETSIZE; i++)
			if (CPU_ISSET(i, &set))
				last = i;
		CPU_ZERO(&set);
		CPU_SET(last, &set);
		sched_setaffinity(0, sizeof(set), &set);
	}
	if (!mkdtemp(dir))
		die("mkdtemp: %s", strerror(errno));
	tool_path(tool, sizeof(tool));
	snprintf(small.path, sizeof(small.path), "%s/small.mmdb", dir);
	snprintf(cmd, sizeof(cmd), "%s -o %s", tool, small.path);
	run_cmd(cmd, "1.0.0.0/8 AU\n100.64.0.0/10 JP\n192.0.2.0/24 US\n198.51.100.0/25 DE\n"
		     "203.0.113.128/26 FR\n2001:db8::/32 NL\n2400::/12 JP\n2a00::/16 SE\n"
		     "2600:1::/48 US\n2c0f:f000::/20 ZA\n");
	if (real) {
		snprintf(large.path, sizeof(large.path), "%s", real);
		large.name = "real database";
	} else {
		snprintf(large.path, sizeof(large.path), "%s/large.mmdb", dir);
		snprintf(cmd, sizeof(cmd), "%s --synthetic %s --seed 1 -o %s", tool, size, large.path);
		run_cmd(cmd, NULL);
	}
	for (int i = 0; i < 2; i++) {
		load_db(dbs[i]);
		for (int v6 = 0; v6 < 2; v6++)
			bench_classify(dbs[i], v6, &res[i][v6]);
	}
	bench_flood(&small, &large, flood);

	uname(&u);
	strftime(date, sizeof(date), "%Y-%m-%d", gmtime(&now));
	printf("\ncountry classification, %s, kernel %s; BPF_PROG_TEST_RUN repeat %d, median of %d rounds\n",
	       date, u.release, repeat, rounds);
	printf("ns per packet; \"baseline\" is the same program without the lookup (sample fetch only)\n\n");
	printf("%-28s %10s %10s %10s %12s %12s\n", "database", "baseline", "tables", "LPM trie",
	       "tables net", "trie net");
	for (int i = 0; i < 2; i++)
		for (int v6 = 0; v6 < 2; v6++) {
			struct geo_result *r = &res[i][v6];
			char label[64];

			snprintf(label, sizeof(label), "%s, IPv%d (%zu)", dbs[i]->name, v6 ? 6 : 4, r->prefixes);
			printf("%-28s %10.0f %10.0f %10.0f %12.0f %12.0f\n", label, r->ns[P_NONE], r->ns[P_DIR],
			       r->ns[P_LPM], r->ns[P_DIR] - r->ns[P_NONE], r->ns[P_LPM] - r->ns[P_NONE]);
		}
	printf("\nloading (daemon's loader, user/geo/geo.c):\n");
	for (int i = 0; i < 2; i++)
		printf("  %-14s %zu IPv4 + %zu IPv6 prefixes: read and built in %.2f s, installed in %.3f s; "
		       "tables %.1f MiB of kernel memory; the same data in LPM tries: %.1f MiB, "
		       "filled in %.1f s\n",
		       dbs[i]->name, dbs[i]->n4, dbs[i]->n6, dbs[i]->build_s, dbs[i]->put_s,
		       dbs[i]->dir_mem / 1048576.0,
		       (res[i][0].lpm_mem + res[i][1].lpm_mem) / 1048576.0,
		       res[i][0].lpm_fill_s + res[i][1].lpm_fill_s);
	printf("\nwhole enforcer, spoofed-source SYN flood (new IPv4 source every packet, gate shut):\n");
	printf("  no geo data %.0f ns, 10 prefixes %.0f ns, full database %.0f ns per packet\n",
	       flood[0], flood[1], flood[2]);
	for (int i = 0; i < 2; i++) {
		sw_geo_table_free(&dbs[i]->t);
		free(dbs[i]->v4);
		free(dbs[i]->v6);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		fprintf(stderr, "bench_geo: cannot remove %s\n", dir);
	return 0;
}
