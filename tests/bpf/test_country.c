// SPDX-License-Identifier: GPL-2.0
/*
 * Country policy in the XDP program, frame by frame through
 * BPF_PROG_TEST_RUN: classification of sources by the geo tables, the
 * block / limit / monitor actions, the country-wide rate, dry-run, the
 * allow list, home / world / unknown resolution, IPv6 databases, reloads
 * and the per-country counters.
 *
 * Everything goes the daemon's way: geo data are real .mmdb files written
 * by tests/lib/mmdb_writer.h, read by user/geo/geo.c (sw_geo_build) and swapped
 * into the test program's maps (sw_geo_install); policies are INI files
 * read by sw_settings_load and written by sw_kernel_country_policy. So a
 * failure here may lie anywhere between the config file and the verdict.
 *
 * Time is the program's test clock (sw_test_now_ns), starting at T0.
 */
#include <dirent.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <maxminddb.h>
#include "sw_test.h"
#include "config.h"
#include "geo.h"
#include "kernel.h"
#include "parse.h"
#include "store.h"
#include "mmdb_writer.h"

/* Sources of the IPv4 database v4db[] below, one per kind of record. */
#define JP1   "198.51.100.7"
#define JP2   "198.51.100.8"
#define JP3   "198.51.100.9"
#define CN1   "203.0.113.5"	/* lower half of a /24 split between two countries */
#define CN2   "203.0.113.6"
#define RU1   "203.0.113.200"	/* upper half, flat schema (country_code) */
#define US1   "100.64.1.1"	/* registered_country only */
#define US2   "100.64.1.2"
#define DE1   "10.1.2.3"
#define NOCC1 "172.16.5.5"	/* a record without a country */
#define OFF1  "198.18.0.1"	/* in no record at all */

struct fx {
	struct swh h;
	struct sw_kernel k;
	struct sw_settings s;
	char dir[64];		/* fixtures: config and databases; removed in teardown */
	cpu_set_t cpus;		/* the CPUs we may run on, restored in teardown */
};

struct rec {
	const char *cidr;
	const char *cc;
	enum mmdbw_schema schema;
};

static const struct rec v4db[] = {
	{ "198.51.100.0/24", "JP", MMDBW_GEOIP2 },
	{ "203.0.113.0/25", "CN", MMDBW_GEOIP2 },
	{ "203.0.113.128/25", "RU", MMDBW_FLAT },
	{ "100.64.0.0/16", "US", MMDBW_GEOIP2_REGISTERED },
	{ "10.0.0.0/8", "DE", MMDBW_GEOIP2 },
	{ "172.16.0.0/12", NULL, MMDBW_NO_COUNTRY },
	{ NULL, NULL, 0 },
};

/* ---- fixture ---- */

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/sw-country.XXXXXX");
	if (!mkdtemp(f->dir)) {
		perror("mkdtemp");
		free(f);
		return -1;
	}
	if (swh_open_kernel(&f->h, &f->k)) {
		rmdir(f->dir);
		free(f);
		return -1;
	}
	sw_settings_defaults(&f->s);
	if (sched_getaffinity(0, sizeof(f->cpus), &f->cpus))
		CPU_ZERO(&f->cpus);
	*state = f;
	return 0;
}

static void remove_dir(const char *dir)
{
	char path[SW_PATH_LEN + 64];
	struct dirent *e;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (!f)
		return 0;
	if (CPU_COUNT(&f->cpus))
		sched_setaffinity(0, sizeof(f->cpus), &f->cpus);
	sw_kernel_close(&f->k);
	swh_close(&f->h);
	sw_settings_free(&f->s);
	remove_dir(f->dir);
	free(f);
	return 0;
}

#define CT(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

/*
 * Publish the settings as the daemon's apply_kernel_config() does: the
 * config keeps the list and geo generations it has (the harness's
 * swh_apply_settings() would reset geo_gen to 0, which the daemon never
 * does), then every country's policy.
 */
static void apply(struct fx *f)
{
	struct sw_config c;

	sw_settings_to_kernel(&f->s, &c);
	c.list_gen = __atomic_load_n(&f->k.config->list_gen, __ATOMIC_SEQ_CST);
	c.list_fine = __atomic_load_n(&f->k.config->list_fine, __ATOMIC_SEQ_CST);
	c.geo_gen = __atomic_load_n(&f->k.config->geo_gen, __ATOMIC_SEQ_CST);
	memcpy(f->k.config, &c, sizeof(c));
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	f->h.cfg = c;
	assert_int_equal(sw_kernel_country_policy(&f->k, &f->s), 0);
}

/* Write @text as the config file, load it and publish it. */
static void conf(struct fx *f, const char *text)
{
	char path[SW_PATH_LEN], err[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/smtpwall.conf", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_true(fputs(text, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
	sw_settings_free(&f->s);
	if (sw_settings_load(&f->s, path, err, sizeof(err)))
		fail_msg("config rejected: %s\n---\n%s---", err, text);
	apply(f);
}

/* Write the database @name from @r (NULL-terminated) into the fixture directory. */
static void write_db(struct fx *f, const char *name, unsigned ip_version, unsigned record_size,
		     bool alias, const struct rec *r, char path[SW_PATH_LEN])
{
	struct mmdbw *w = mmdbw_new(ip_version, record_size);

	assert_non_null(w);
	for (; r->cidr; r++)
		if (mmdbw_add(w, r->cidr, r->cc, r->schema))
			fail_msg("mmdbw_add %s %s: %s", r->cidr, r->cc ? r->cc : "(none)",
				 mmdbw_error(w));
	if (alias)
		mmdbw_alias_ipv4(w);
	snprintf(path, SW_PATH_LEN, "%s/%s", f->dir, name);
	assert_int_equal(mmdbw_write(w, path), 0);
	mmdbw_free(w);
}

static void build(const char *path, struct sw_geo_table *t)
{
	char err[512];

	if (sw_geo_build(path, t, err, sizeof(err)))
		fail_msg("sw_geo_build: %s", err);
}

static void install(struct fx *f, const char *path, const struct sw_geo_table *t)
{
	struct stat st;
	char err[512];

	assert_int_equal(stat(path, &st), 0);
	if (sw_geo_install(&f->k, t, path, &st, 0, err, sizeof(err)))
		fail_msg("sw_geo_install: %s", err);
}

/* Build @path and swap it into the kernel, as the daemon's refresh does. */
static void load_db(struct fx *f, const char *path)
{
	struct sw_geo_table t;

	build(path, &t);
	install(f, path, &t);
	sw_geo_table_free(&t);
}

static void geo(struct fx *f, const char *name, unsigned ip_version, unsigned record_size,
		bool alias, const struct rec *r)
{
	char path[SW_PATH_LEN];

	write_db(f, name, ip_version, record_size, alias, r, path);
	load_db(f, path);
}

/* The IPv4 database most tests use. */
static void geo_v4(struct fx *f)
{
	geo(f, "v4.mmdb", 4, 24, false, v4db);
}

static unsigned cc(const char *code)
{
	int id = sw_country_id(code);

	assert_true(id >= SW_COUNTRY_FIRST && id <= SW_COUNTRY_LAST);
	return (unsigned)id;
}

static uint32_t geo_gen(struct fx *f)
{
	return __atomic_load_n(&f->k.config->geo_gen, __ATOMIC_SEQ_CST);
}

/* Every country's counters, summed over CPUs: SW_COUNTRY_IDS entries, to free(). */
static struct sw_country_stats *all_cstats(struct fx *f)
{
	struct sw_country_stats *all = calloc(SW_COUNTRY_IDS, sizeof(*all));

	assert_non_null(all);
	assert_int_equal(sw_kernel_country_stats(&f->k, all), 0);
	return all;
}

static struct sw_country_stats cstats(struct fx *f, unsigned id)
{
	struct sw_country_stats *all = all_cstats(f), one;

	one = all[id];
	free(all);
	return one;
}

static struct sw_country_policy policy(struct fx *f, unsigned id)
{
	struct sw_country_policy p;

	assert_int_equal(bpf_map_lookup_elem(f->k.country_policy_fd, &id, &p), 0);
	return p;
}

static void list_put(struct fx *f, enum sw_list_kind kind, const char *text)
{
	struct sw_cidr c;
	char err[SW_ERR_LEN];

	if (sw_parse_cidr(text, &c, err))
		fail_msg("%s: %s", text, err);
	assert_int_equal(sw_list_put(&f->k, kind, &c, 0, SW_ORIGIN_STORE), 0);
	sw_list_bump_gen(&f->k);
	f->h.cfg.list_gen = f->k.config->list_gen;
}

static void list_del(struct fx *f, enum sw_list_kind kind, const char *text)
{
	struct sw_cidr c;
	char err[SW_ERR_LEN];

	if (sw_parse_cidr(text, &c, err))
		fail_msg("%s: %s", text, err);
	assert_int_equal(sw_list_del(&f->k, kind, &c), 0);
	sw_list_bump_gen(&f->k);
	f->h.cfg.list_gen = f->k.config->list_gen;
}

/*
 * Run the next frames on the @i-th CPU we may use (modulo their number):
 * BPF_PROG_TEST_RUN counts on the caller's CPU, so this spreads the
 * per-CPU counters that sw_kernel_country_stats() must sum.
 */
static void hop(struct fx *f, int i)
{
	int n = CPU_COUNT(&f->cpus), seen = 0;
	cpu_set_t one;

	if (n < 2)
		return;
	i %= n;
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &f->cpus) || seen++ != i)
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
		return;
	}
}

/* CPUs whose slot of country @id counted a SYN. */
static int cpus_counting(struct fx *f, unsigned id)
{
	int ncpus = libbpf_num_possible_cpus(), n = 0;
	struct sw_country_stats *v;

	assert_true(ncpus > 0);
	v = calloc(ncpus, sizeof(*v));
	assert_non_null(v);
	assert_int_equal(bpf_map_lookup_elem(f->k.country_stats_fd, &id, v), 0);
	for (int c = 0; c < ncpus; c++)
		n += v[c].syn != 0;
	free(v);
	return n;
}

/* @n SYNs from @src on ports @sport.. that must all get @verdict. */
static void syns(struct swh *h, const char *src, uint16_t sport, int n, __u32 verdict)
{
	for (int i = 0; i < n; i++)
		if (syn(h, src, sport + i) != verdict)
			fail_msg("SYN %d of %d from %s:%u: expected %s", i + 1, n, src, sport + i,
				 verdict == PASS ? "PASS" : "DROP");
}

static void assert_no_would(const struct sw_stats *st)
{
	for (int r = 0; r < SW_R_MAX; r++)
		if (st->would_drop[r])
			fail_msg("would_drop[%d] = %llu, expected none", r,
				 (unsigned long long)st->would_drop[r]);
}

static void assert_cs_clean(const struct sw_country_stats *c)
{
	for (int r = 0; r < SW_R_MAX; r++) {
		if (c->dropped[r])
			fail_msg("country dropped[%d] = %llu, expected none", r,
				 (unsigned long long)c->dropped[r]);
		if (c->would_drop[r])
			fail_msg("country would_drop[%d] = %llu, expected none", r,
				 (unsigned long long)c->would_drop[r]);
	}
}

/* ---- no geo data ---- */

static void test_no_geo_tables_no_policy(void **state)
{
	struct fx *f = *state;
	struct swh *h = &f->h;
	struct sw_country_stats c;
	struct sw_country_policy p;
	struct sw_source s;
	struct sw_stats st;

	/* Policies that would refuse everything, once there is a database to say where from. */
	conf(f, "[limits]\nmax_sessions = 0\n"
		"[country world]\naction = block\n"
		"[country unknown]\naction = block\n"
		"[country JP]\naction = block\n");
	p = policy(f, SW_COUNTRY_NONE);
	assert_int_equal(p.action, SW_CA_ALLOW);
	assert_int_equal(geo_gen(f), 0);

	syns(h, JP1, 40000, 3, PASS);
	syns(h, "2001:db8:1::7", 40000, 3, PASS);
	s = source(h, JP1);
	assert_int_equal(s.country, SW_COUNTRY_NONE);
	assert_int_equal(s.geo_gen, 0);
	assert_int_equal(s.admitted, 3);
	s = source(h, "2001:db8:1::7");
	assert_int_equal(s.country, SW_COUNTRY_NONE);
	assert_int_equal(s.admitted, 3);

	/* Unclassified sources still get the base [limits]: burst 10. */
	syns(h, JP1, 40003, 7, PASS);
	assert_int_equal(syn(h, JP1, 40010), DROP);
	st = stats(h);
	assert_int_equal(st.syn, 14);
	assert_int_equal(st.admitted, 13);
	assert_int_equal(st.dropped[SW_R_RATE], 1);
	assert_int_equal(st.dropped[SW_R_COUNTRY], 0);
	assert_int_equal(st.dropped[SW_R_COUNTRY_RATE], 0);
	assert_no_would(&st);
	c = cstats(f, SW_COUNTRY_NONE);
	assert_int_equal(c.syn, 14);
	assert_int_equal(c.admitted, 13);
	assert_int_equal(c.dropped[SW_R_RATE], 1);

	/* Once a database loads, the same known sources are classified on their next SYN. */
	geo_v4(f);
	assert_int_equal(geo_gen(f), 1);
	swh_advance(h, 10 * NS);
	assert_int_equal(syn(h, JP1, 40011), DROP);
	s = source(h, JP1);
	assert_int_equal(s.country, cc("JP"));
	assert_int_equal(s.geo_gen, 1);
	assert_int_equal(s.dropped[SW_R_COUNTRY], 1);
	/* An IPv4-only database places no IPv6 address: unknown, and unknown is blocked. */
	assert_int_equal(syn(h, "2001:db8:1::7", 40011), DROP);
	s = source(h, "2001:db8:1::7");
	assert_int_equal(s.country, SW_COUNTRY_UNKNOWN);
	assert_int_equal(s.geo_gen, 1);
	assert_int_equal(cstats(f, SW_COUNTRY_UNKNOWN).dropped[SW_R_COUNTRY], 1);
	assert_int_equal(cstats(f, cc("JP")).dropped[SW_R_COUNTRY], 1);
}

/* ---- action = block ---- */

static void test_block_new_source_no_state(void **state)
{
	struct fx *f = *state;
	struct swh *h = &f->h;
	struct sw_country_stats c;
	struct sw_source s;
	struct sw_stats st;
	struct ev_log log;

	/*
	 * One strike would be a penalty, and the new-source gate holds a
	 * single token: a blocked source must spend neither.
	 */
	conf(f, "[geo]\nhome = JP\n"
		"[penalty]\nstrikes = 1\n"
		"[flood]\nnew_source_rate = 1/min\nnew_source_burst = 1\n"
		"[country home]\naction = allow\n"
		"[country CN]\naction = block\n");
	geo_v4(f);
	assert_int_equal(policy(f, cc("CN")).action, SW_CA_BLOCK);

	syns(h, CN1, 40000, 20, DROP);
	assert_no_source(h, CN1);
	assert_int_equal(swh_source_count(h), 0);
	st = stats(h);
	assert_int_equal(st.syn, 20);
	assert_int_equal(st.dropped[SW_R_COUNTRY], 20);
	assert_int_equal(st.admitted, 0);
	assert_int_equal(st.penalties, 0);
	assert_int_equal(st.untracked_syn, 0);
	drain_events(h, &log);
	assert_int_equal(log.n, 0);
	c = cstats(f, cc("CN"));
	assert_int_equal(c.syn, 20);
	assert_int_equal(c.admitted, 0);
	assert_int_equal(c.dropped[SW_R_COUNTRY], 20);

	/* JP, at home, gets the gate's token; the rest of CN's /24 is RU's, not blocked. */
	assert_int_equal(syn(h, JP1, 40000), PASS);
	s = source(h, JP1);
	assert_int_equal(s.country, cc("JP"));
	assert_int_equal(s.geo_gen, geo_gen(f));
	assert_int_equal(s.admitted, 1);
	swh_advance(h, 60 * NS);	/* the next gate token */
	assert_int_equal(syn(h, RU1, 40000), PASS);
	assert_int_equal(source(h, RU1).country, cc("RU"));
	st = stats(h);
	assert_int_equal(st.untracked_syn, 0);
	assert_int_equal(st.admitted, 2);
	c = cstats(f, cc("JP"));
	assert_int_equal(c.syn, 1);
	assert_int_equal(c.admitted, 1);
	assert_cs_clean(&c);
	assert_int_equal(cstats(f, cc("RU")).admitted, 1);
}

static void test_block_known_source_keeps_sessions(void **state)
{
	struct fx *f = *state;
	struct swh *h = &f->h;
	struct sw_country_stats c;
	struct sw_session sess;
	struct sw_source s;
	struct sw_stats st;

	conf(f, "[penalty]\nstrikes = 1\n");
	geo_v4(f);
	handshake(h, CN1, 40000);
	assert_int_equal(syn(h, CN1, 40001), PASS);	/* a handshake pending across the change */
	assert_int_equal(source(h, CN1).country, cc("CN"));

	/* SIGHUP with CN now blocked. */
	conf(f, "[penalty]\nstrikes = 1\n[country CN]\naction = block\n");

	/* What was admitted before goes on: the session, and the pending handshake. */
	assert_int_equal(data(h, CN1, 40000, 100), PASS);
	assert_int_equal(syn(h, CN1, 40001), PASS);	/* its SYN retransmitted */
	assert_int_equal(seg(h, CN1, 40001, PKT_ACK), PASS);
	assert_true(has_session(h, CN1, 40001));

	/* New connections are refused, without strikes. */
	assert_int_equal(syn(h, CN1, 40002), DROP);
	assert_int_equal(syn(h, CN1, 40003), DROP);
	assert_int_equal(data(h, CN1, 40000, 100), PASS);
	assert_int_equal(swh_session(h, CN1, 40000, NULL, 25, &sess), 0);
	assert_int_equal(sess.packets, 3);
	assert_int_equal(seg(h, CN1, 40000, PKT_FIN | PKT_ACK), PASS);
	assert_false(has_session(h, CN1, 40000));

	s = source(h, CN1);
	assert_int_equal(s.dropped[SW_R_COUNTRY], 2);
	assert_int_equal(s.strikes, 0);
	assert_int_equal(s.penalty_until_ns, 0);
	assert_int_equal(s.sessions_open, 1);
	st = stats(h);
	assert_int_equal(st.penalties, 0);
	assert_int_equal(st.dropped[SW_R_COUNTRY], 2);
	assert_int_equal(st.syn_retransmit, 1);
	assert_int_equal(st.sessions_opened, 2);
	assert_int_equal(st.sessions_closed, 1);
	c = cstats(f, cc("CN"));
	assert_int_equal(c.syn, 5);
	assert_int_equal(c.admitted, 2);
	assert_int_equal(c.dropped[SW_R_COUNTRY], 2);
}

/* ---- action = limit ---- */

static void test_limit_tighter_rate(void **state)
{
	struct fx *f = *state;
	struct swh *h = &f->h;
	struct sw_country_policy p;
	struct sw_source s;
	struct sw_stats st;

	/* Base: 30/min, burst 10. DE: 6/min, burst 3. */
	conf(f, "[limits]\nmax_sessions = 0\n"
		"[penalty]\nstrikes = 0\n"
		"[country DE]\naction = limit\nsyn_rate = 6/min\nsyn_burst = 3\n");
	geo_v4(f);
	p = policy(f, cc("DE"));
	assert_int_equal(p.action, SW_CA_LIMIT);
	assert_int_equal(p.syn_interval_ns, 10 * NS);
	assert_int_equal(p.syn_tolerance_ns, 20 * NS);
	assert_int_equal(p.max_sessions, 0);
	assert_int_equal(policy(f, cc("US")).action, SW_CA_ALLOW);

	syns(h, DE1, 40000, 3, PASS);
	assert_int_equal(syn(h, DE1, 40003), DROP);
	syns(h, US1, 40000, 10, PASS);
	assert_int_equal(syn(h, US1, 40010), DROP);

	/* 10 s later: one DE token (10 s), five US tokens (2 s each). */
	swh_advance(h, 10 * NS);
	assert_int_equal(syn(h, DE1, 40004), PASS);
	assert_int_equal(syn(h, DE1, 40005), DROP);
	syns(h, US1, 40011, 5, PASS);
	assert_int_equal(syn(h, US1, 40016), DROP);

	s = source(h, DE1);
	assert_int_equal(s.admitted, 4);
	assert_int_equal(s.dropped[SW_R_RATE], 2);
	s = source(h, US1);
	assert_int_equal(s.admitted, 15);
	assert_int_equal(s.dropped[SW_R_RATE], 2);
	st = stats(h);
	assert_int_equal(st.dropped[SW_R_RATE], 4);
	assert_int_equal(cstats(f, cc("DE")).dropped[SW_R_RATE], 2);
	assert_int_equal(cstats(f, cc("DE")).admitted, 4);
	assert_int_equal(cstats(f, cc("US")).dropped[SW_R_RATE], 2);
	assert_int_equal(cstats(f, cc("US")).admitted, 15);
}

static void test_limit_looser(void **state)
{
	struct fx *f = *state;
	struct swh *h = &f->h;
	struct sw_source s;
	struct sw_stats st;
	int i;

	/* Base: burst 3, two sessions. DE: burst 8, no session cap. RU: no rate, four sessions. */
	conf(f, "[limits]\nsyn_burst = 3\nmax_sessions = 2\n"
		"[penalty]\nstrikes = 0\n"
		"[country DE]\naction = limit\nsyn_burst = 8\nmax_sessions = 0\n"
		"[country RU]\naction = limit\nsyn_rate = off\nmax_sessions = 4\n");
	geo_v4(f);

	syns(h, DE1, 40000, 8, PASS);
	assert_int_equal(syn(h, DE1, 40008), DROP);
	s = source(h, DE1);
	assert_int_equal(s.admitted, 8);
	assert_int_equal(s.dropped[SW_R_RATE], 1);
	assert_int_equal(pending_in(h, &s), 8);

	/* Others keep [limits]: two at once, three in a burst. */
	syns(h, US1, 40000, 2, PASS);
	assert_int_equal(syn(h, US1, 40002), DROP);
	assert_int_equal(source(h, US1).dropped[SW_R_CONCURRENCY], 1);
	for (i = 0; i < 3; i++) {
		handshake(h, US2, 40000 + i);
		assert_int_equal(seg(h, US2, 40000 + i, PKT_FIN | PKT_ACK), PASS);
	}
	assert_int_equal(syn(h, US2, 40003), DROP);
	assert_int_equal(source(h, US2).dropped[SW_R_RATE], 1);

	/* RU: four live sessions, beyond the base burst and the base cap. */
	for (i = 0; i < 4; i++)
		handshake(h, RU1, 40000 + i);
	assert_int_equal(syn(h, RU1, 40004), DROP);
	assert_int_equal(seg(h, RU1, 40000, PKT_FIN | PKT_ACK), PASS);
	assert_int_equal(syn(h, RU1, 40005), PASS);
	s = source(h, RU1);
	assert_int_equal(s.admitted, 5);
	assert_int_equal(s.dropped[SW_R_CONCURRENCY], 1);
	assert_int_equal(s.dropped[SW_R_RATE], 0);

	st = stats(h);
	assert_int_equal(st.dropped[SW_R_RATE], 2);
	assert_int_equal(st.dropped[SW_R_CONCURRENCY], 2);
	assert_int_equal(cstats(f, cc("RU")).dropped[SW_R_CONCURRENCY], 1);
	assert_int_equal(cstats(f, cc("US")).dropped[SW_R_CONCURRENCY], 1);
	assert_int_equal(cstats(f, cc("US")).dropped[SW_R_RATE], 1);
	assert_int_equal(cstats(f, cc("DE")).dropped[SW_R_RATE], 1);
}

static void test_limit_strikes_and_penalty(void **state)
{
	struct fx *f = *state;
	struct swh *h = &f->h;
	struct sw_country_stats c;
	struct sw_src_key key;
	struct sw_source s;
	struct sw_stats st;
	struct ev_log log;

	conf(f, "[limits]\nmax_sessions = 0\n"
		"[penalty]\nstrikes = 3\nwindow = 60s\nbase = 5m\nmax = 1h\n"
		"[country DE]\naction = limit\nsyn_rate = 60/min\nsyn_burst = 2\n"
		"[country RU]\naction = limit\nsyn_rate = off\nmax_sessions = 1\n");
	geo_v4(f);

	/* DE: two in a burst; the third strike of the rate limit is a penalty. */
	syns(h, DE1, 40000, 2, PASS);
	syns(h, DE1, 40002, 3, DROP);
	s = source(h, DE1);
	assert_int_equal(s.dropped[SW_R_RATE], 3);
	assert_int_equal(s.penalty_until_ns, T0 + 300 * NS);
	assert_int_equal(s.penalty_reason, SW_R_RATE);
	assert_int_equal(s.offences, 1);
	assert_int_equal(syn(h, DE1, 40005), DROP);
	assert_int_equal(source(h, DE1).dropped[SW_R_PENALTY], 1);

	/* RU: one session at a time; three refusals are a penalty too. */
	assert_int_equal(syn(h, RU1, 40000), PASS);
	syns(h, RU1, 40001, 3, DROP);
	s = source(h, RU1);
	assert_int_equal(s.dropped[SW_R_CONCURRENCY], 3);
	assert_int_equal(s.penalty_reason, SW_R_CONCURRENCY);
	assert_int_equal(s.penalty_until_ns, T0 + 300 * NS);
	assert_int_equal(syn(h, RU1, 40004), DROP);

	/* The base limits of US are not touched by either. */
	syns(h, US1, 40000, 5, PASS);
	s = source(h, US1);
	assert_int_equal(s.strikes, 0);
	assert_int_equal(s.penalty_until_ns, 0);

	st = stats(h);
	assert_int_equal(st.penalties, 2);
	assert_int_equal(st.dropped[SW_R_RATE], 3);
	assert_int_equal(st.dropped[SW_R_CONCURRENCY], 3);
	assert_int_equal(st.dropped[SW_R_PENALTY], 2);
	drain_events(h, &log);
	assert_int_equal(log.n, 2);
	assert_int_equal(swh_src_key(&h->cfg, DE1, &key), 0);
	assert_memory_equal(&log.ev[0].src, &key, sizeof(key));
	assert_int_equal(log.ev[0].reason, SW_R_RATE);
	assert_int_equal(log.ev[0].strikes, 3);
	assert_int_equal(log.ev[1].reason, SW_R_CONCURRENCY);
	c = cstats(f, cc("DE"));
	assert_int_equal(c.syn, 6);
	assert_int_equal(c.admitted, 2);
	assert_int_equal(c.dropped[SW_R_RATE], 3);
	assert_int_equal(c.dropped[SW_R_PENALTY], 1);
	c = cstats(f, cc("RU"));
	assert_int_equal(c.syn, 5);
	assert_int_equal(c.dropped[SW_R_CONCURRENCY], 3);
	assert_int_equal(c.dropped[SW_R_PENALTY], 1);

	/* Penalised: even the handshake admitted before is dropped now, as for base limits. */
	assert_int_equal(seg(h, RU1, 40000, PKT_ACK), DROP);
}

/* ---- country_rate ---- */

static void test_country_rate_limit(void **state)
{
	struct fx *f = *state;
	struct swh *h = &f->h;
	struct sw_country_policy p;
	struct sw_country_stats c;
	struct sw_source s;
	struct sw_stats st;
	char a[32];
	int i;

	/* DE as a whole: 60/min, burst 5; each source alone keeps the base 30/min, burst 10. */
	conf(f, "[flood]\nnew_source_rate = off\n"
		"[penalty]\nstrikes = 1\n"
		"[country DE]\naction = limit\ncountry_rate = 60/min\ncountry_burst = 5\n");
	geo_v4(f);
	p = policy(f, cc("DE"));
	assert_int_equal(p.agg_interval_ns, NS);
	assert_int_equal(p.agg_tolerance_ns, 4 * NS);
	assert_int_equal(p.syn_interval_ns, 2 * NS);

	for (i = 1; i <= 20; i++) {
		snprintf(a, sizeof(a), "10.0.0.%d", i);
		assert_int_equal(syn(h, a, 40000), i <= 5 ? PASS : DROP);
		if (i <= 5)
			assert_int_equal(source(h, a).country, cc("DE"));
		else
			assert_no_source(h, a);	/* refused before any state is spent */
	}
	/* Another country is not held back by DE's rate. */
	for (i = 1; i <= 20; i++) {
		snprintf(a, sizeof(a), "100.64.0.%d", i);
		assert_int_equal(syn(h, a, 40000), PASS);
	}
	st = stats(h);
	assert_int_equal(st.dropped[SW_R_COUNTRY_RATE], 15);
	assert_int_equal(st.admitted, 25);
	assert_int_equal(st.penalties, 0);
	c = cstats(f, cc("DE"));
	assert_int_equal(c.syn, 20);
	assert_int_equal(c.admitted, 5);
	assert_int_equal(c.dropped[SW_R_COUNTRY_RATE], 15);
	c = cstats(f, cc("US"));
	assert_int_equal(c.syn, 20);
	assert_int_equal(c.admitted, 20);
	assert_cs_clean(&c);

	/* A known DE source is held by it as well; not its own offence: no strike. */
	assert_int_equal(syn(h, "10.0.0.1", 40001), DROP);
	s = source(h, "10.0.0.1");
	assert_int_equal(s.dropped[SW_R_COUNTRY_RATE], 1);
	assert_int_equal(s.strikes, 0);
	assert_int_equal(s.penalty_until_ns, 0);

	/* One token a second, to whichever source comes first. */
	swh_advance(h, NS);
	assert_int_equal(syn(h, "10.0.0.21", 40000), PASS);
	assert_int_equal(syn(h, "10.0.0.22", 40000), DROP);
	assert_int_equal(syn(h, "10.0.0.2", 40001), DROP);
	swh_advance(h, NS);
	assert_int_equal(syn(h, "10.0.0.2", 40002), PASS);
	c = cstats(f, cc("DE"));
	assert_int_equal(c.syn, 25);
	assert_int_equal(c.admitted, 7);
	assert_int_equal(c.dropped[SW_R_COUNTRY_RATE], 18);
	assert_int_equal(stats(h).dropped[SW_R_COUNTRY_RATE], 18);
}

/*
 * While the new-source gate is shut, SYNs of new sources pass untracked
 * ([flood] action = pass); they still spend their country's rate, so a
 * flood of fresh addresses cannot get around it.
 */
static void test_country_rate_counts_untracked(void **state)
{
	struct fx *f = *state;
	struct swh *h = &f->h;
	struct sw_country_stats c;
	struct sw_stats st;
	char a[32];
	int i;

	conf(f, "[flood]\nnew_source_rate = 1/min\nnew_source_burst = 1\n"
		"[country DE]\naction = limit\ncountry_rate = 60/min\ncountry_burst = 5\n");
	geo_v4(f);

	for (i = 1; i <= 8; i++) {
		snprintf(a, sizeof(a), "10.0.0.%d", i);
		assert_int_equal(syn(h, a, 40000), i <= 5 ? PASS : DROP);
	}
	assert_int_equal(swh_source_count(h), 1);	/* the gate's one token */
	/* US is not DE: its untracked SYNs pass, and spend nothing of DE's. */
	syns(h, US1, 40000, 1, PASS);
	syns(h, US2, 40000, 1, PASS);
	st = stats(h);
	assert_int_equal(st.untracked_syn, 6);
	assert_int_equal(st.admitted, 1);
	assert_int_equal(st.dropped[SW_R_COUNTRY_RATE], 3);
	assert_int_equal(st.dropped[SW_R_FLOOD], 0);
	c = cstats(f, cc("DE"));
	assert_int_equal(c.syn, 8);
	assert_int_equal(c.admitted, 1);
	assert_int_equal(c.dropped[SW_R_COUNTRY_RATE], 3);
	swh_advance(h, NS);
	assert_int_equal(syn(h, "10.0.0.9", 40000), PASS);
	assert_int_equal(syn(h, "10.0.0.10", 40000), DROP);
}

static void test_country_rate_monitor(void **state)
{
	struct fx *f = *state;
	struct swh *h = &f->h;
	struct sw_country_stats c;
	struct sw_source s;
	struct sw_stats st;
	char a[32];
	int i;

	conf(f, "[flood]\nnew_source_rate = off\n"
		"[country DE]\naction = monitor\ncountry_rate = 60/min\ncountry_burst = 5\n");
	geo_v4(f);

	for (i = 1; i <= 20; i++) {
		snprintf(a, sizeof(a), "10.0.0.%d", i);
		assert_int_equal(syn(h, a, 40000), PASS);
	}
	for (i = 1; i <= 20; i++) {
		snprintf(a, sizeof(a), "10.0.0.%d", i);
		s = source(h, a);
		assert_int_equal(s.admitted, 1);
		assert_int_equal(s.dropped[SW_R_COUNTRY_RATE], 0);
		assert_int_equal(s.would_drop[SW_R_COUNTRY_RATE], i <= 5 ? 0 : 1);
	}
	/* A known source, beyond the burst too. */
	assert_int_equal(syn(h, "10.0.0.1", 40001), PASS);
	assert_int_equal(source(h, "10.0.0.1").would_drop[SW_R_COUNTRY_RATE], 1);

	st = stats(h);
	assert_no_drops(&st);
	assert_int_equal(st.admitted, 21);
	c = cstats(f, cc("DE"));
	assert_int_equal(c.syn, 21);
	assert_int_equal(c.admitted, 21);
	assert_int_equal(c.dropped[SW_R_COUNTRY_RATE], 0);
	/*
	 * BUG (kept failing on purpose): 16 SYNs were beyond the country's
	 * burst, so 16 would-drops. For a source without state,
	 * smtpwall_xdp's new-source path counts the would-drop (with the
	 * conformance check, charge = false) and then sw_syn() evaluates
	 * the country rate again (charge = true) and counts it a second time:
	 * 31 instead of 16, in sw_stats and in the country's counters.
	 */
	assert_int_equal(st.would_drop[SW_R_COUNTRY_RATE], 16);
	assert_int_equal(c.would_drop[SW_R_COUNTRY_RATE], 16);
}

static void test_country_rate_dry_run(void **state)
{
	struct fx *f = *state;
	struct swh *h = &f->h;
	struct sw_country_stats c;
	struct sw_stats st;
	char a[32];
	int i;

	conf(f, "[general]\ndry_run = yes\n"
		"[flood]\nnew_source_rate = off\n"
		"[country DE]\naction = limit\ncountry_rate = 60/min\ncountry_burst = 5\n");
	geo_v4(f);

	for (i = 1; i <= 20; i++) {
		snprintf(a, sizeof(a), "10.0.0.%d", i);
		assert_int_equal(syn(h, a, 40000), PASS);
	}
	/* What would have been refused did not spend the country's tokens either. */
	assert_int_equal(syn(h, "10.0.0.1", 40001), PASS);
	swh_advance(h, NS);
	assert_int_equal(syn(h, "10.0.0.2", 40001), PASS);
	assert_int_equal(syn(h, "10.0.0.3", 40001), PASS);

	st = stats(h);
	assert_no_drops(&st);
	assert_int_equal(st.admitted, 23);
	assert_int_equal(st.would_drop[SW_R_COUNTRY_RATE], 17);
	c = cstats(f, cc("DE"));
	assert_int_equal(c.syn, 23);
	assert_int_equal(c.admitted, 23);
	assert_int_equal(c.would_drop[SW_R_COUNTRY_RATE], 17);
	assert_int_equal(source(h, "10.0.0.1").would_drop[SW_R_COUNTRY_RATE], 1);
	assert_int_equal(source(h, "10.0.0.2").would_drop[SW_R_COUNTRY_RATE], 0);
	assert_int_equal(source(h, "10.0.0.3").would_drop[SW_R_COUNTRY_RATE], 1);
	/*
	 * BUG (kept failing on purpose): 10.0.0.6's only SYN would have been
	 * dropped, and sw_stats and the country count it, but the source's
	 * own would_drop does not: the new-source path calls sw_drop() with
	 * src = NULL before allocating the state it then admits the SYN on.
	 */
	assert_int_equal(source(h, "10.0.0.6").would_drop[SW_R_COUNTRY_RATE], 1);
}

/* ---- action = monitor ---- */

static void test_monitor_per_source_limits(void **state)
{
	struct fx *f = *state;
	struct swh *h = &f->h;
	struct sw_country_stats c;
	struct sw_source s;
	struct sw_stats st;

	/* A penalty after one strike: monitored would-drops must not be strikes. */
	conf(f, "[limits]\nmax_sessions = 0\n"
		"[penalty]\nstrikes = 1\n"
		"[country DE]\naction = monitor\nsyn_rate = 60/min\nsyn_burst = 2\n"
		"max_sessions = 0\n"
		"[country RU]\naction = monitor\nsyn_rate = off\nmax_sessions = 2\n");
	geo_v4(f);
	assert_int_equal(policy(f, cc("DE")).action, SW_CA_MONITOR);

	/* DE's own limit would refuse the 3rd to 10th; the base burst admits them. */
	syns(h, DE1, 40000, 10, PASS);
	s = source(h, DE1);
	assert_int_equal(s.admitted, 10);
	assert_int_equal(s.would_drop[SW_R_RATE], 8);
	assert_int_equal(s.strikes, 0);
	assert_int_equal(s.penalty_until_ns, 0);
	/* The base limit is still enforced, with its strike. */
	assert_int_equal(syn(h, DE1, 40010), DROP);
	s = source(h, DE1);
	assert_int_equal(s.dropped[SW_R_RATE], 1);
	assert_true(s.penalty_until_ns > swh_now(h));

	/* RU would allow two at once. */
	syns(h, RU1, 40000, 5, PASS);
	s = source(h, RU1);
	assert_int_equal(s.would_drop[SW_R_CONCURRENCY], 3);
	assert_int_equal(s.would_drop[SW_R_RATE], 0);
	assert_int_equal(s.strikes, 0);

	st = stats(h);
	assert_int_equal(st.would_drop[SW_R_RATE], 8);
	assert_int_equal(st.would_drop[SW_R_CONCURRENCY], 3);
	assert_int_equal(st.dropped[SW_R_RATE], 1);
	assert_int_equal(st.dropped[SW_R_CONCURRENCY], 0);
	assert_int_equal(st.penalties, 1);
	c = cstats(f, cc("DE"));
	assert_int_equal(c.syn, 11);
	assert_int_equal(c.admitted, 10);
	assert_int_equal(c.would_drop[SW_R_RATE], 8);
	assert_int_equal(c.dropped[SW_R_RATE], 1);
	c = cstats(f, cc("RU"));
	assert_int_equal(c.admitted, 5);
	assert_int_equal(c.would_drop[SW_R_CONCURRENCY], 3);
}

/* ---- dry-run ---- */

static void test_dry_run_block(void **state)
{
	struct fx *f = *state;
	struct swh *h = &f->h;
	struct sw_country_stats c;
	struct sw_source s;
	struct sw_stats st;

	conf(f, "[general]\ndry_run = yes\n"
		"[penalty]\nstrikes = 1\n"
		"[country CN]\naction = block\n");
	geo_v4(f);
	assert_true(f->k.config->flags & SW_CFG_DRY_RUN);

	handshake(h, CN1, 40000);
	syns(h, CN1, 40001, 4, PASS);

	st = stats(h);
	assert_no_drops(&st);
	assert_int_equal(st.would_drop[SW_R_COUNTRY], 5);
	assert_int_equal(st.admitted, 5);
	assert_int_equal(st.penalties, 0);
	c = cstats(f, cc("CN"));
	assert_int_equal(c.syn, 5);
	assert_int_equal(c.admitted, 5);
	assert_int_equal(c.dropped[SW_R_COUNTRY], 0);
	assert_int_equal(c.would_drop[SW_R_COUNTRY], 5);
	s = source(h, CN1);
	assert_int_equal(s.syn, 5);
	assert_int_equal(s.admitted, 5);
	assert_int_equal(s.dropped[SW_R_COUNTRY], 0);
	assert_int_equal(s.strikes, 0);
	/*
	 * BUG (kept failing on purpose): all five SYNs would have been
	 * dropped, but the source counts 4: the first one's would-drop is
	 * counted by the new-source path with src = NULL, before the state
	 * it is then admitted on exists.
	 */
	assert_int_equal(s.would_drop[SW_R_COUNTRY], 5);
}

/* ---- the allow list ---- */

static void test_allowlist_beats_block(void **state)
{
	struct fx *f = *state;
	struct swh *h = &f->h;
	struct sw_country_stats c;
	struct sw_source s;
	struct sw_stats st;

	conf(f, "[penalty]\nstrikes = 1\n[country CN]\naction = block\n");
	geo_v4(f);
	list_put(f, SW_LIST_KIND_ALLOW, "203.0.113.5/32");

	/* Past the country's block, and past the base limits (burst 10, 10 sessions). */
	syns(h, CN1, 40000, 15, PASS);
	s = source(h, CN1);
	assert_int_equal(s.list_verdict, SW_LIST_ALLOW);
	assert_int_equal(s.country, cc("CN"));
	assert_int_equal(s.admitted, 15);
	assert_int_equal(syn(h, CN2, 40000), DROP);
	assert_no_source(h, CN2);
	st = stats(h);
	assert_int_equal(st.allowlisted, 15);
	assert_int_equal(st.dropped[SW_R_COUNTRY], 1);
	c = cstats(f, cc("CN"));
	assert_int_equal(c.syn, 16);
	assert_int_equal(c.admitted, 15);
	assert_int_equal(c.dropped[SW_R_COUNTRY], 1);

	/* Allowed later: the next SYN passes. */
	list_put(f, SW_LIST_KIND_ALLOW, "203.0.113.6/32");
	assert_int_equal(syn(h, CN2, 40001), PASS);
	/* And no longer allowed: the country's block applies to the known source. */
	list_del(f, SW_LIST_KIND_ALLOW, "203.0.113.5/32");
	assert_int_equal(syn(h, CN1, 40015), DROP);
	s = source(h, CN1);
	assert_int_equal(s.list_verdict, SW_LIST_NONE);
	assert_int_equal(s.dropped[SW_R_COUNTRY], 1);
	assert_int_equal(s.strikes, 0);
}

/* ---- home, world, unknown, explicit ---- */

static void test_unknown_home_world_explicit(void **state)
{
	struct fx *f = *state;
	struct swh *h = &f->h;
	struct sw_country_stats c;
	struct sw_stats st;

	conf(f, "[geo]\nhome = JP, DE\n"
		"[limits]\nmax_sessions = 0\n"
		"[penalty]\nstrikes = 0\n"
		"[country home]\naction = limit\nsyn_burst = 5\n"
		"[country world]\naction = limit\nsyn_burst = 2\n"
		"[country unknown]\naction = block\n"
		"[country DE]\naction = allow\n"
		"[country CN]\naction = limit\nsyn_burst = 4\n");
	geo_v4(f);

	/* Not in the database, a record without a country, IPv6 in an IPv4 database. */
	assert_int_equal(syn(h, OFF1, 40000), DROP);
	assert_int_equal(syn(h, NOCC1, 40000), DROP);
	assert_int_equal(syn(h, "2001:db8:5::1", 40000), DROP);
	assert_no_source(h, OFF1);
	assert_no_source(h, NOCC1);
	assert_no_source(h, "2001:db8:5::1");
	c = cstats(f, SW_COUNTRY_UNKNOWN);
	assert_int_equal(c.syn, 3);
	assert_int_equal(c.dropped[SW_R_COUNTRY], 3);

	syns(h, JP1, 40000, 5, PASS);		/* home */
	assert_int_equal(syn(h, JP1, 40005), DROP);
	syns(h, US1, 40000, 2, PASS);		/* world (registered_country) */
	assert_int_equal(syn(h, US1, 40002), DROP);
	syns(h, RU1, 40000, 2, PASS);		/* world (flat country_code) */
	assert_int_equal(syn(h, RU1, 40002), DROP);
	syns(h, DE1, 40000, 10, PASS);		/* home, but its own section: the base limits */
	assert_int_equal(syn(h, DE1, 40010), DROP);
	syns(h, CN1, 40000, 4, PASS);		/* its own section beats world */
	assert_int_equal(syn(h, CN1, 40004), DROP);

	assert_int_equal(source(h, JP1).country, cc("JP"));
	assert_int_equal(source(h, US1).country, cc("US"));
	assert_int_equal(source(h, RU1).country, cc("RU"));
	assert_int_equal(source(h, DE1).country, cc("DE"));
	assert_int_equal(source(h, CN1).country, cc("CN"));
	assert_int_equal(policy(f, cc("JP")).action, SW_CA_LIMIT);
	assert_int_equal(policy(f, cc("DE")).action, SW_CA_ALLOW);
	assert_int_equal(policy(f, cc("FR")).action, SW_CA_LIMIT);	/* world */
	assert_int_equal(policy(f, SW_COUNTRY_UNKNOWN).action, SW_CA_BLOCK);
	st = stats(h);
	assert_int_equal(st.dropped[SW_R_COUNTRY], 3);
	assert_int_equal(st.dropped[SW_R_RATE], 5);
	assert_int_equal(cstats(f, cc("JP")).dropped[SW_R_RATE], 1);
	assert_int_equal(cstats(f, cc("US")).admitted, 2);
	assert_int_equal(cstats(f, cc("RU")).admitted, 2);
	assert_int_equal(cstats(f, cc("DE")).admitted, 10);
	assert_int_equal(cstats(f, cc("CN")).admitted, 4);
}

static void test_unknown_is_not_world(void **state)
{
	struct fx *f = *state;
	struct swh *h = &f->h;

	/* world blocks, unknown has no section of its own, home has none either. */
	conf(f, "[geo]\nhome = JP\n[country world]\naction = block\n");
	geo_v4(f);

	assert_int_equal(syn(h, OFF1, 40000), PASS);
	assert_int_equal(syn(h, NOCC1, 40000), PASS);
	assert_int_equal(source(h, OFF1).country, SW_COUNTRY_UNKNOWN);
	assert_int_equal(source(h, NOCC1).country, SW_COUNTRY_UNKNOWN);
	assert_int_equal(syn(h, JP1, 40000), PASS);	/* home without [country home] */
	assert_int_equal(syn(h, US1, 40000), DROP);
	assert_int_equal(syn(h, CN1, 40000), DROP);
	assert_int_equal(cstats(f, SW_COUNTRY_UNKNOWN).admitted, 2);
	assert_int_equal(stats(h).dropped[SW_R_COUNTRY], 2);
}

/* ---- IPv6 ---- */

static const struct rec v6db[] = {
	{ "2001:db8:100::/48", "JP", MMDBW_GEOIP2 },
	{ "2001:db8:200::/64", "US", MMDBW_GEOIP2 },
	{ "2001:db8:400::/80", "DE", MMDBW_GEOIP2 },		/* longer than a /64: folded */
	{ "2001:db8:400:0:8000::/65", "CN", MMDBW_FLAT },	/* the same /64, after it */
	{ "198.51.100.0/24", "CN", MMDBW_GEOIP2 },		/* IPv4, at ::198.51.100.0/120 */
	{ "203.0.113.0/24", "RU", MMDBW_GEOIP2_REGISTERED },
	{ NULL, NULL, 0 },
};

static void test_ipv6_database(void **state)
{
	struct fx *f = *state;
	struct swh *h = &f->h;
	struct sw_source s;
	struct sw_stats st;

	conf(f, "[limits]\nmax_sessions = 0\n"
		"[penalty]\nstrikes = 0\n"
		"[country JP]\naction = block\n"
		"[country US]\naction = limit\nsyn_burst = 2\n"
		"[country unknown]\naction = limit\nsyn_burst = 1\n"
		"[country CN]\naction = limit\nsyn_burst = 3\n"
		"[country DE]\naction = block\n");
	geo(f, "v6.mmdb", 6, 28, true, v6db);

	assert_int_equal(syn(h, "2001:db8:100:5::1", 40000), DROP);	/* JP's /48 */
	assert_no_source(h, "2001:db8:100:5::1");

	/* Two addresses of one /64: one source, US's burst of 2 between them. */
	assert_int_equal(syn(h, "2001:db8:200::1", 40000), PASS);
	assert_int_equal(syn(h, "2001:db8:200::ffff:2", 40000), PASS);
	assert_int_equal(syn(h, "2001:db8:200::3", 40000), DROP);
	s = source(h, "2001:db8:200::");
	assert_int_equal(s.country, cc("US"));
	assert_int_equal(s.admitted, 2);
	assert_int_equal(s.dropped[SW_R_RATE], 1);
	assert_int_equal(s.geo_gen, geo_gen(f));

	/* The next /64 is in no record. */
	assert_int_equal(syn(h, "2001:db8:200:1::1", 40000), PASS);
	assert_int_equal(syn(h, "2001:db8:200:1::1", 40001), DROP);
	assert_int_equal(source(h, "2001:db8:200:1::").country, SW_COUNTRY_UNKNOWN);

	/* A /64 holding longer prefixes is classified by its first: DE, blocked. */
	assert_int_equal(syn(h, "2001:db8:400::1", 40000), DROP);
	assert_int_equal(syn(h, "2001:db8:400:0:8000::1", 40000), DROP);
	assert_int_equal(cstats(f, cc("DE")).dropped[SW_R_COUNTRY], 2);
	assert_int_equal(cstats(f, cc("CN")).syn, 0);

	/* IPv4 sources of the same database, through its IPv4 table. */
	syns(h, "198.51.100.9", 40000, 3, PASS);
	assert_int_equal(syn(h, "198.51.100.9", 40003), DROP);
	assert_int_equal(source(h, "198.51.100.9").country, cc("CN"));
	syns(h, "203.0.113.9", 40000, 5, PASS);	/* RU: no section, the base limits */
	assert_int_equal(source(h, "203.0.113.9").country, cc("RU"));

	st = stats(h);
	assert_int_equal(st.dropped[SW_R_COUNTRY], 3);
	assert_int_equal(st.dropped[SW_R_RATE], 3);
	assert_int_equal(cstats(f, cc("JP")).dropped[SW_R_COUNTRY], 1);
	assert_int_equal(cstats(f, cc("US")).admitted, 2);
	assert_int_equal(cstats(f, SW_COUNTRY_UNKNOWN).admitted, 1);
	assert_int_equal(cstats(f, cc("CN")).admitted, 3);
	assert_int_equal(cstats(f, cc("RU")).admitted, 5);
}

/* The country libmaxminddb gives @addr in @path ("--" if none): the database's own answer. */
static void mmdb_country(const char *path, const char *addr, char out[3])
{
	static const char *const paths[][3] = {
		{ "country", "iso_code", NULL },
		{ "registered_country", "iso_code", NULL },
		{ "country_code", NULL, NULL },
	};
	MMDB_lookup_result_s r;
	MMDB_entry_data_s d;
	MMDB_s db;
	int gai, mmerr;

	memcpy(out, "--", 3);
	assert_int_equal(MMDB_open(path, MMDB_MODE_MMAP, &db), MMDB_SUCCESS);
	r = MMDB_lookup_string(&db, addr, &gai, &mmerr);
	assert_int_equal(gai, 0);
	assert_int_equal(mmerr, MMDB_SUCCESS);
	for (size_t i = 0; r.found_entry && i < 3; i++) {
		if (MMDB_aget_value(&r.entry, &d, paths[i]) == MMDB_SUCCESS && d.has_data &&
		    d.type == MMDB_DATA_TYPE_UTF8_STRING && d.data_size == 2) {
			memcpy(out, d.utf8_string, 2);
			break;
		}
	}
	MMDB_close(&db);
}

/*
 * The kernel classifies a source as the database does its first address,
 * aliases included: an IPv6 database makes 6to4 (2002::/16) and Teredo
 * (2001::/32) addresses point at the IPv4 records.
 */
static void test_ipv6_aliases_as_database(void **state)
{
	static const char *const addrs[] = {
		"2001:db8:200::1",	/* plain IPv6 */
		"198.51.100.9",		/* IPv4 */
		"2002:c633:6409::1",	/* 6to4 of 198.51.100.9 */
		"2002:cb00:7109::1",	/* 6to4 of 203.0.113.9 */
		"2001:0:cb00:7109::1",	/* Teredo, server 203.0.113.9 */
	};
	struct fx *f = *state;
	struct swh *h = &f->h;
	char path[SW_PATH_LEN], want[3], got[3], msg[1024] = "";
	size_t len = 0;

	conf(f, "[limits]\nmax_sessions = 0\n");
	write_db(f, "v6.mmdb", 6, 28, true, v6db, path);
	load_db(f, path);
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		mmdb_country(path, addrs[i], want);
		assert_int_equal(syn(h, addrs[i], 40000), PASS);
		sw_country_code(source(h, addrs[i]).country, got);
		if (strcmp(want, got) && len < sizeof(msg))
			len += snprintf(msg + len, sizeof(msg) - len,
					"\n  %s: the database says %s, the kernel %s", addrs[i],
					want, got);
	}
	/*
	 * BUG (kept failing on purpose): user/geo/geo.c's walk enters the IPv4
	 * subtree only through ::/96 and skips the alias branches, so the
	 * IPv6 table holds nothing under 2002::/16 or 2001::/32: 6to4 and
	 * Teredo sources are SW_COUNTRY_UNKNOWN where the database (and
	 * libmaxminddb) name the IPv4 address's country. A blocked country's
	 * hosts get past the block over 6to4 while [country unknown] allows,
	 * and all 6to4/Teredo users are refused where it blocks.
	 */
	if (len)
		fail_msg("kernel and database disagree:%s", msg);
}

/* ---- reload ---- */

static const struct rec db_a[] = {
	{ "198.51.100.0/24", "JP", MMDBW_GEOIP2 },
	{ "203.0.113.0/24", "CN", MMDBW_GEOIP2 },
	{ "2001:db8:1::/48", "JP", MMDBW_GEOIP2 },
	{ NULL, NULL, 0 },
};

static const struct rec db_b[] = {
	{ "198.51.100.0/24", "CN", MMDBW_FLAT },
	{ "203.0.113.0/24", "JP", MMDBW_FLAT },
	{ "2001:db8:1::/48", "CN", MMDBW_FLAT },
	{ NULL, NULL, 0 },
};

static void test_reload_reclassifies(void **state)
{
	struct fx *f = *state;
	struct swh *h = &f->h;
	char a[SW_PATH_LEN], b[SW_PATH_LEN];
	struct sw_country_stats c;
	struct sw_geo_info info;
	struct sw_source s;
	uint32_t gen_a, gen_b, zero = 0;
	const char *v6 = "2001:db8:1:2::7";

	conf(f, "[penalty]\nstrikes = 1\n[country CN]\naction = block\n");
	write_db(f, "a.mmdb", 6, 32, true, db_a, a);
	write_db(f, "b.mmdb", 6, 32, true, db_b, b);
	load_db(f, a);
	gen_a = geo_gen(f);

	handshake(h, JP1, 40000);
	assert_int_equal(syn(h, v6, 40000), PASS);
	assert_int_equal(syn(h, CN1, 40000), DROP);
	s = source(h, JP1);
	assert_int_equal(s.country, cc("JP"));
	assert_int_equal(s.geo_gen, gen_a);

	load_db(f, b);
	gen_b = geo_gen(f);
	assert_int_equal(gen_b, gen_a + 1);
	assert_int_equal(bpf_map_lookup_elem(f->k.geo_info_fd, &zero, &info), 0);
	assert_int_equal(info.gen, gen_b);
	assert_string_equal(info.path, b);

	/* The session goes on; segments do not classify. */
	assert_int_equal(data(h, JP1, 40000, 10), PASS);
	assert_int_equal(source(h, JP1).geo_gen, gen_a);
	/* The next SYN classifies the cached source again: now CN, blocked. */
	assert_int_equal(syn(h, JP1, 40001), DROP);
	s = source(h, JP1);
	assert_int_equal(s.country, cc("CN"));
	assert_int_equal(s.geo_gen, gen_b);
	assert_int_equal(s.dropped[SW_R_COUNTRY], 1);
	assert_int_equal(s.sessions_open, 1);
	assert_int_equal(data(h, JP1, 40000, 10), PASS);
	assert_int_equal(syn(h, v6, 40001), DROP);
	assert_int_equal(source(h, v6).country, cc("CN"));
	/* And the other way: what was CN is JP now. */
	assert_int_equal(syn(h, CN1, 40001), PASS);
	assert_int_equal(source(h, CN1).country, cc("JP"));

	c = cstats(f, cc("CN"));
	assert_int_equal(c.syn, 3);
	assert_int_equal(c.dropped[SW_R_COUNTRY], 3);
	c = cstats(f, cc("JP"));
	assert_int_equal(c.syn, 3);
	assert_int_equal(c.admitted, 3);

	/* Back to A, then no database at all: unclassified, no policy. */
	load_db(f, a);
	assert_int_equal(syn(h, JP1, 40002), PASS);
	assert_int_equal(source(h, JP1).country, cc("JP"));
	{
		char err[256];

		assert_int_equal(sw_geo_clear(&f->k, err, sizeof(err)), 0);
	}
	assert_int_equal(syn(h, CN1, 40002), PASS);
	s = source(h, CN1);
	assert_int_equal(s.country, SW_COUNTRY_NONE);
	assert_int_equal(s.geo_gen, geo_gen(f));
}

/*
 * Frames interleaved with swaps. Three databases give every test prefix a
 * different country; they are installed in turn, X Y Z X ..., by a thread
 * while this one sends SYNs. The tables are swapped before geo_gen moves,
 * so a source cached at generation g was classified by the tables of g or
 * of g + 1 (swapped, not yet announced): never by older ones, never by a
 * mix (the root of one and the chunks of another would give neither).
 */
#define MIX_INSTALLS 25	/* ends on Y: every known source must change country */
#define MIX_CLASSES  6

static const char *const mix_cc[3][MIX_CLASSES] = {
	/* 10.1/16, 10.2/16, 10.3.0.0/25, 10.3.0.128/25, 2001:db8:1::/48, 2001:db8:2::/48 */
	{ "JP", "US", "DE", "FR", "JP", "US" },
	{ "US", "DE", "JP", "JP", "US", "DE" },
	{ "DE", "JP", "FR", "US", "DE", "JP" },
};

struct mixer {
	struct fx *f;
	const char *path[3];
	struct sw_geo_table t[3];
	int installs;
	int failed;
	char err[512];
	int done;
};

static void *mixer_run(void *arg)
{
	struct mixer *m = arg;

	for (int i = 1; i <= MIX_INSTALLS; i++) {
		struct stat st;
		int d = i % 3;

		if (stat(m->path[d], &st) || sw_geo_install(&m->f->k, &m->t[d], m->path[d], &st, 0,
							    m->err, sizeof(m->err))) {
			m->failed = 1;
			break;
		}
		__atomic_store_n(&m->installs, i, __ATOMIC_SEQ_CST);
	}
	__atomic_store_n(&m->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void mix_addr(int cls, unsigned n, char *buf, size_t len)
{
	switch (cls) {
	case 0:
		snprintf(buf, len, "10.1.%u.%u", (n >> 8) & 0xff, n & 0xff);
		break;
	case 1:
		snprintf(buf, len, "10.2.%u.%u", (n >> 8) & 0xff, n & 0xff);
		break;
	case 2:
		snprintf(buf, len, "10.3.0.%u", n & 0x7f);
		break;
	case 3:
		snprintf(buf, len, "10.3.0.%u", 128 + (n & 0x7f));
		break;
	case 4:
		snprintf(buf, len, "2001:db8:1:%x::1", n & 0xffff);
		break;
	default:
		snprintf(buf, len, "2001:db8:2:%x::1", n & 0xffff);
		break;
	}
}

static void test_reload_interleaved_never_mixed(void **state)
{
	struct fx *f = *state;
	struct swh *h = &f->h;
	static const char *const cidrs[MIX_CLASSES] = {
		"10.1.0.0/16", "10.2.0.0/16", NULL, NULL, "2001:db8:1::/48", "2001:db8:2::/48",
	};
	char paths[3][SW_PATH_LEN], name[16], addr[64];
	struct mixer m = { .f = f };
	unsigned frames = 0, fresh = 0, bad = 0, ahead = 0, n = 0;
	char bad_msg[256] = "";
	uint32_t gen0;
	pthread_t th;

	conf(f, "[limits]\nsyn_rate = off\nmax_sessions = 0\n"
		"[flood]\nnew_source_rate = off\n");
	for (int d = 0; d < 3; d++) {
		struct rec r[MIX_CLASSES + 2];
		int k = 0;

		for (int c = 0; c < MIX_CLASSES; c++) {
			if (cidrs[c])
				r[k++] = (struct rec){ cidrs[c], mix_cc[d][c], MMDBW_GEOIP2 };
		}
		/* 10.3.0.0/24: split in two except where both halves agree (Y: one record). */
		if (!strcmp(mix_cc[d][2], mix_cc[d][3])) {
			r[k++] = (struct rec){ "10.3.0.0/24", mix_cc[d][2], MMDBW_GEOIP2 };
		} else {
			r[k++] = (struct rec){ "10.3.0.0/25", mix_cc[d][2], MMDBW_GEOIP2 };
			r[k++] = (struct rec){ "10.3.0.128/25", mix_cc[d][3], MMDBW_GEOIP2 };
		}
		r[k] = (struct rec){ NULL, NULL, 0 };
		snprintf(name, sizeof(name), "mix%d.mmdb", d);
		write_db(f, name, 6, 24, true, r, paths[d]);
		m.path[d] = paths[d];
		build(paths[d], &m.t[d]);
	}
	install(f, paths[0], &m.t[0]);
	gen0 = geo_gen(f);	/* generation g holds database (g - gen0) % 3 */

	assert_int_equal(pthread_create(&th, NULL, mixer_run, &m), 0);
	while (!__atomic_load_n(&m.done, __ATOMIC_SEQ_CST) || frames < 2000) {
		int cls = frames % MIX_CLASSES;
		/* Half the frames from sources never seen, half from six known ones. */
		bool is_fresh = (frames / MIX_CLASSES) % 2 == 0 && fresh < 60000;
		struct sw_source s;
		struct sw_src_key key;
		const char *c0, *c1;
		char got[3];
		uint32_t g;
		__u32 ret;

		mix_addr(cls, is_fresh ? 1 + fresh / MIX_CLASSES : 0, addr, sizeof(addr));
		if (is_fresh)
			fresh++;
		{
			uint8_t buf[PKT_MAX];
			size_t len = pkt_simple(buf, addr, 40000 + (n++ & 0x3fff), 25, PKT_SYN);

			if (!len || swh_run(h, buf, len, &ret) || ret != PASS) {
				snprintf(bad_msg, sizeof(bad_msg), "SYN from %s not passed", addr);
				bad++;
				break;
			}
		}
		frames++;
		if (swh_src_key(&h->cfg, addr, &key) ||
		    bpf_map_lookup_elem(bpf_map__fd(h->skel->maps.sw_sources), &key, &s)) {
			snprintf(bad_msg, sizeof(bad_msg), "no state for %s", addr);
			bad++;
			break;
		}
		g = s.geo_gen;
		if (g < gen0) {
			snprintf(bad_msg, sizeof(bad_msg), "%s cached at generation %u < %u",
				 addr, g, gen0);
			bad++;
			break;
		}
		c0 = mix_cc[(g - gen0) % 3][cls];
		c1 = mix_cc[(g - gen0 + 1) % 3][cls];
		sw_country_code(s.country, got);
		if (!strcmp(got, c0))
			continue;
		if (!strcmp(got, c1)) {
			ahead++;	/* classified between a swap and its announcement */
			continue;
		}
		if (bad++ == 0)
			snprintf(bad_msg, sizeof(bad_msg),
				 "%s at generation %u classified %s, expected %s (or %s)", addr,
				 g - gen0, got, c0, c1);
	}
	pthread_join(th, NULL);
	for (int d = 0; d < 3; d++)
		sw_geo_table_free(&m.t[d]);
	if (m.failed)
		fail_msg("install %d: %s", m.installs + 1, m.err);
	if (bad)
		fail_msg("%u of %u frames: %s", bad, frames, bad_msg);
	assert_int_equal(m.installs, MIX_INSTALLS);
	assert_int_equal(geo_gen(f), gen0 + MIX_INSTALLS);

	/* After the last swap, known sources take the last database's country on their next SYN. */
	for (int cls = 0; cls < MIX_CLASSES; cls++) {
		struct sw_source s;
		char got[3];

		mix_addr(cls, 0, addr, sizeof(addr));
		assert_int_equal(syn(h, addr, 50000), PASS);
		s = source(h, addr);
		assert_int_equal(s.geo_gen, gen0 + MIX_INSTALLS);
		sw_country_code(s.country, got);
		assert_string_equal(got, mix_cc[MIX_INSTALLS % 3][cls]);
	}
	print_message("# %u frames (%u from new sources) across %d swaps; %u classified between a "
		      "swap and its generation\n", frames, fresh, MIX_INSTALLS, ahead);
}

/* ---- per-country counters ---- */

static void test_country_counters(void **state)
{
	struct fx *f = *state;
	struct swh *h = &f->h;
	struct sw_country_stats *all, sum = { 0 };
	struct sw_country_stats c;
	struct sw_stats st;
	int r;

	conf(f, "[limits]\nmax_sessions = 0\n"
		"[penalty]\nstrikes = 2\nwindow = 60s\nbase = 1m\n"
		"[country JP]\naction = limit\nsyn_burst = 3\ncountry_rate = 60/min\n"
		"country_burst = 4\n"
		"[country CN]\naction = block\n");
	geo_v4(f);

	/*
	 * JP1: three admitted, two over its rate (the second a penalty), one
	 * in the penalty box; frames spread over the CPUs as they go.
	 */
	hop(f, 0);
	syns(h, JP1, 40000, 3, PASS);
	hop(f, 1);
	syns(h, JP1, 40003, 2, DROP);
	hop(f, 0);
	assert_int_equal(syn(h, JP1, 40005), DROP);
	/* JP2: the country's 4th token, and a retransmission of it. */
	hop(f, 1);
	assert_int_equal(syn(h, JP2, 40000), PASS);
	hop(f, 0);
	assert_int_equal(syn(h, JP2, 40000), PASS);
	/* JP3: the country's burst is spent. */
	hop(f, 1);
	assert_int_equal(syn(h, JP3, 40000), DROP);
	syns(h, CN1, 40000, 2, DROP);
	hop(f, 0);
	syns(h, US1, 40000, 2, PASS);
	/* Non-SYN segments are not connection attempts. */
	assert_int_equal(seg(h, US1, 40000, PKT_ACK), PASS);
	assert_int_equal(data(h, US1, 40000, 50), PASS);

	if (CPU_COUNT(&f->cpus) >= 2)
		assert_int_equal(cpus_counting(f, cc("JP")), 2);
	c = cstats(f, cc("JP"));
	assert_int_equal(c.syn, 9);
	assert_int_equal(c.admitted, 4);
	assert_int_equal(c.dropped[SW_R_RATE], 2);
	assert_int_equal(c.dropped[SW_R_PENALTY], 1);
	assert_int_equal(c.dropped[SW_R_COUNTRY_RATE], 1);
	assert_int_equal(c.dropped[SW_R_COUNTRY], 0);
	for (r = 0; r < SW_R_MAX; r++)
		assert_int_equal(c.would_drop[r], 0);
	c = cstats(f, cc("CN"));
	assert_int_equal(c.syn, 2);
	assert_int_equal(c.admitted, 0);
	assert_int_equal(c.dropped[SW_R_COUNTRY], 2);
	c = cstats(f, cc("US"));
	assert_int_equal(c.syn, 2);
	assert_int_equal(c.admitted, 2);
	assert_cs_clean(&c);

	/* Nothing anywhere else, and together they are the totals. */
	all = all_cstats(f);
	for (unsigned id = 0; id < SW_COUNTRY_IDS; id++) {
		if (id != cc("JP") && id != cc("CN") && id != cc("US") && all[id].syn)
			fail_msg("country id %u counted %llu SYNs", id,
				 (unsigned long long)all[id].syn);
		sum.syn += all[id].syn;
		sum.admitted += all[id].admitted;
		for (r = 0; r < SW_R_MAX; r++) {
			sum.dropped[r] += all[id].dropped[r];
			sum.would_drop[r] += all[id].would_drop[r];
		}
	}
	free(all);
	st = stats(h);
	assert_int_equal(st.syn, 13);
	assert_int_equal(st.syn_retransmit, 1);
	assert_int_equal(sum.syn, st.syn);
	assert_int_equal(sum.admitted, st.admitted);
	for (r = 0; r < SW_R_MAX; r++) {
		assert_int_equal(sum.dropped[r], st.dropped[r]);
		assert_int_equal(sum.would_drop[r], st.would_drop[r]);
	}
}

static void test_country_counters_banned_known_source(void **state)
{
	struct fx *f = *state;
	struct swh *h = &f->h;
	struct sw_country_stats c;
	struct sw_stats st;

	conf(f, "[country JP]\naction = limit\n");
	geo_v4(f);
	handshake(h, JP1, 40000);
	list_put(f, SW_LIST_KIND_DENY, "198.51.100.7/32");
	syns(h, JP1, 40001, 3, DROP);

	st = stats(h);
	assert_int_equal(st.syn, 4);
	assert_int_equal(st.dropped[SW_R_DENY], 3);
	c = cstats(f, cc("JP"));
	assert_int_equal(c.admitted, 1);
	assert_int_equal(c.dropped[SW_R_DENY], 3);
	/*
	 * BUG (kept failing on purpose): four SYNs came from JP, three of them
	 * dropped by the ban; the country counts the three drops but only
	 * one SYN. smtpwall_xdp's SW_LIST_DENY case for a source with state
	 * counts the drop on the country (sw_drop with
	 * sw_country_stats_of(...)) without the cs->syn++ that the penalty
	 * and SYN paths do, so dropped can exceed syn.
	 */
	assert_int_equal(c.syn, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		CT(test_no_geo_tables_no_policy),
		CT(test_block_new_source_no_state),
		CT(test_block_known_source_keeps_sessions),
		CT(test_limit_tighter_rate),
		CT(test_limit_looser),
		CT(test_limit_strikes_and_penalty),
		CT(test_country_rate_limit),
		CT(test_country_rate_counts_untracked),
		CT(test_country_rate_monitor),
		CT(test_country_rate_dry_run),
		CT(test_monitor_per_source_limits),
		CT(test_dry_run_block),
		CT(test_allowlist_beats_block),
		CT(test_unknown_home_world_explicit),
		CT(test_unknown_is_not_world),
		CT(test_ipv6_database),
		CT(test_ipv6_aliases_as_database),
		CT(test_reload_reclassifies),
		CT(test_reload_interleaved_never_mixed),
		CT(test_country_counters),
		CT(test_country_counters_banned_known_source),
	};

	return cmocka_run_group_tests_name("bpf country policy", tests, NULL, NULL);
}
