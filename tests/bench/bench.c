// SPDX-License-Identifier: GPL-2.0
/*
 * `make bench`: nanoseconds per packet of the smtpwall XDP program for each
 * class of packet it handles, by BPF_PROG_TEST_RUN, beside an empty XDP
 * program and xdp-filter's program on the same frames.
 *
 * opts.duration is the kernel's own mean per repetition, measured inside the
 * run loop with the time spent rescheduled left out, so syscall overhead is
 * not in the numbers. It is an integer: 1 ns resolution.
 *
 * The machine is noisy, so every class is measured in each of R rounds right
 * next to the empty program (and xdp-filter), in an order that rotates with
 * the round, and the median over rounds is reported. Every measured run is
 * checked: its verdict and the counters that prove the intended code path
 * ran for every repetition. Measuring the wrong path silently is worse than
 * not measuring at all, so a failed check exits 1.
 *
 * Nothing is pinned: the maps of the real daemon (under /sys/fs/bpf) are
 * never touched.
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/utsname.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "smtpwall.h"
#include "config.h"
#include "gc.h"
#include "kernel.h"
#include "smtpwall.skel.h"
#include "empty.skel.h"
#include "pkt.h"

#define NSEC_PER_SEC 1000000000ULL

/* The sw_bench_vary_sport knob XORs a 16-bit counter into the source port. */
#define SPORT_CYCLE 65536U

/*
 * xdp-filter with its default policy ("allow": rules drop, the rest
 * passes) and its default features ("all") runs this program; it is also
 * the only variant with both IP and port rules. The *_dny_* objects are the
 * deny policy (drop all but the rules) and would drop every frame here.
 */
static const char *const xf_default_paths[] = {
	"/usr/lib/x86_64-linux-gnu/bpf/xdpfilt_alw_all.o",
	"/usr/lib/aarch64-linux-gnu/bpf/xdpfilt_alw_all.o",
	"/usr/lib/bpf/xdpfilt_alw_all.o",
	"/usr/local/lib/bpf/xdpfilt_alw_all.o",
	NULL,
};

/* xdp-filter's rule flags (its common_kern_user.h), values of its maps. */
#define XF_FLAG_SRC (1U << 0)
#define XF_FLAG_DST (1U << 1)
#define XF_FLAG_TCP (1U << 2)

/* Rules loaded into both filters so that lookups do not run on empty maps. */
#define FILLER_DENY  1000
#define FILLER_ALLOW 16

/* Addresses. All documentation or benchmarking ranges. */
#define DST		"192.0.2.1"
#define CLIENT		"198.51.100.7"	 /* established session, non-SMTP */
#define ADMIT_SRC	"198.51.100.20"	 /* admitted SYNs */
#define LIMIT_SRC	"198.51.100.30"	 /* rate-limited SYNs */
#define GATE_SRC	"198.51.100.40"	 /* takes the flood instance's only new-source slot */
#define SPOOF_SRC	"100.64.7.7"	 /* unknown source while the gate is shut */
#define BAN_NET		"203.0.113.0"	 /* deny list: 203.0.113.0/24 */
#define BAN_SRC		"203.0.113.9"	 /* banned, has source state */
#define BAN_NOSTATE_SRC "203.0.113.10"	 /* banned, never sent a SYN: no state */
#define SMTP_PORT	25
#define DATA_BYTES	100		 /* an SMTP command line or so */
#define SYN_OPT_WORDS	5		 /* MSS, SACK-permitted, timestamps, wscale */

struct frame {
	uint8_t buf[PKT_MAX];
	__u32 len;
};

enum { S_SW, S_EMPTY, S_XF, S_MAX };

enum cls_id {
	C_NONSMTP,
	C_ADMIT,
	C_SESSION_NEW,
	C_LIMIT,
	C_BAN_SYN,
	C_BAN_ACK,
	C_BAN_NOSTATE,
	C_ESTAB,
	C_FLOOD,
	C_CMD,
	C_REPLY,
	C_MAX
};

struct bench {
	int repeat, rounds, cpu;
	bool json;
	bool only[C_MAX];		/* classes to measure; all if none named */
	struct empty_bpf *empty;
	struct smtpwall_bpf *prod;	/* production build: what the daemon loads */
	struct smtpwall_bpf *admit;	/* varying sport, no limits */
	struct smtpwall_bpf *session;	/* varying sport, no limits: data segments create sessions */
	unsigned int admit_chunks;	/* destinations used so far by admitted-SYN runs */
	struct smtpwall_bpf *limit;	/* varying sport, 1 SYN an hour */
	struct smtpwall_bpf *flood;	/* new-source gate shut */
	struct bpf_object *xf;
	int xf_fd;			/* -1: xdp-filter not measured */
	char xf_path[256];
	char xf_error[256];
	struct frame f[C_MAX];		/* the measured frame of each class */
	struct frame admit_verify, session_verify, limit_first, estab_syn, gate_syn;
	double *res[C_MAX][S_MAX];	/* [class][series][round] ns per packet */
};

struct cls {
	const char *name;
	const char *key;	/* JSON */
	bool xf;		/* measure xdp-filter on the same frame */
	void (*setup)(struct bench *b);	/* once, before the rounds */
	double (*run)(struct bench *b);	/* one measurement: ns per packet */
};

static bool verbose;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG || (level == LIBBPF_INFO && !verbose))
		return 0;
	return vfprintf(stderr, fmt, args);
}

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static const char *xdp_name(__u32 v)
{
	static const char *const names[] = { "XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX",
					     "XDP_REDIRECT" };

	return v < 5 ? names[v] : "XDP_?";
}

/* Frames of realistic size: SYNs carry TCP options, data segments a command line. */
static void frame(struct frame *f, const char *src, const char *dst, uint16_t sport, uint16_t dport,
		  uint8_t flags)
{
	struct pkt_opts o = {
		.src = src,
		.dst = dst,
		.sport = sport,
		.dport = dport,
		.flags = flags,
	};

	if (flags == PKT_SYN)
		o.tcp_opt_words = SYN_OPT_WORDS;
	else if (flags & PKT_PSH)
		o.payload = DATA_BYTES;
	f->len = pkt_build(&o, f->buf);
	if (!f->len)
		die("cannot build a frame from %s to %s", src, dst);
}

static __u32 ip4(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		die("bad address %s", s);
	return a.s_addr;
}

/* 198.18.0.0/15 + @n: the n-th destination of the admit chunks. */
static void bench_dst(unsigned int n, char *out, size_t len)
{
	struct in_addr a = { .s_addr = htonl(0xc6120000U + 1 + n) };

	inet_ntop(AF_INET, &a, out, len);
}

/*
 * One BPF_PROG_TEST_RUN of @repeat runs. Returns the kernel's mean ns per
 * run and the verdict of the last run.
 */
static double test_run(int fd, const struct frame *f, __u32 repeat, __u32 *retval)
{
	LIBBPF_OPTS(bpf_test_run_opts, o,
		    .data_in = f->buf,
		    .data_size_in = f->len,
		    .repeat = (int)repeat);
	int err;

	err = bpf_prog_test_run_opts(fd, &o);
	if (err)
		die("BPF_PROG_TEST_RUN: %s", strerror(errno));
	*retval = o.retval;
	return o.duration;
}

static void expect_verdict(const char *what, __u32 got, __u32 want)
{
	if (got != want)
		die("%s: verdict %s, expected %s: not measuring the intended path", what,
		    xdp_name(got), xdp_name(want));
}

static void expect_delta(const char *what, const char *counter, __u64 before, __u64 after,
			 __u64 want)
{
	if (after - before != want)
		die("%s: %s grew by %llu, expected %llu: not every repetition took the intended path",
		    what, counter, (unsigned long long)(after - before), (unsigned long long)want);
}

/* ---- smtpwall instances ---- */

static int prog_fd(struct smtpwall_bpf *s)
{
	return bpf_program__fd(s->progs.smtpwall_xdp);
}

static struct smtpwall_bpf *sw_load(bool vary_sport, __u32 sessions)
{
	struct smtpwall_bpf *s;
	struct bpf_map *map;
	int err;

	s = smtpwall_bpf__open();
	if (!s)
		die("open smtpwall: %s", strerror(errno));
	s->rodata->sw_bench_vary_sport = vary_sport;
	/* A frame repeated a million times is new data each time, as a real stream's is. */
	s->rodata->sw_bench_vary_seq = true;
	/* Never pin, never reuse a pin: the daemon's maps live there. */
	bpf_object__for_each_map(map, s->obj) {
		err = bpf_map__set_pin_path(map, NULL);
		if (err)
			die("unpin %s: %s", bpf_map__name(map), strerror(-err));
	}
	if (sessions) {
		err = bpf_map__set_max_entries(s->maps.sw_sessions, sessions);
		if (err)
			die("sw_sessions max_entries: %s", strerror(-err));
	}
	err = smtpwall_bpf__load(s);
	if (err)
		die("load smtpwall: %s", strerror(-err));
	return s;
}

/*
 * The daemon's own defaults (user/config/config.c), as `smtpwall run` with an empty
 * config file would load them, tightened to 5 SYN/s and 5 strikes.
 */
static void cfg_default(struct sw_config *c)
{
	struct sw_settings set;

	sw_settings_defaults(&set);
	set.syn_interval_ns = NSEC_PER_SEC / 5;
	set.penalty_strikes = 5;
	sw_settings_to_kernel(&set, c);
	sw_settings_free(&set);
	c->list_gen = 1;
}

static void sw_configure(struct smtpwall_bpf *s, const struct sw_config *c)
{
	__u32 zero = 0;

	if (bpf_map__update_elem(s->maps.sw_config, &zero, sizeof(zero), c, sizeof(*c), 0))
		die("write sw_config: %s", strerror(errno));
}

static void sw_list_add(struct bpf_map *map, __u32 addr, __u32 prefixlen)
{
	struct sw_lpm_v4 k = { .prefixlen = prefixlen, .addr = addr };
	struct sw_list_entry e = { .prefixlen = prefixlen, .origin = SW_ORIGIN_CONFIG };

	if (bpf_map__update_elem(map, &k, sizeof(k), &e, sizeof(e), 0))
		die("list %s: %s", bpf_map__name(map), strerror(errno));
}

/* Filler list entries (10.0.0.0/8) so the tries are not empty, plus the ban. */
static void sw_lists(struct smtpwall_bpf *s)
{
	int i;

	for (i = 0; i < FILLER_DENY; i++)
		sw_list_add(s->maps.sw_deny_v4, htonl(0x0a000000U | (i << 8) | 7), 32);
	for (i = 0; i < FILLER_ALLOW; i++)
		sw_list_add(s->maps.sw_allow_v4, htonl(0xac100000U | (i << 8)), 24);
	sw_list_add(s->maps.sw_deny_v4, ip4(BAN_NET), 24);
}

static void sw_stats(struct smtpwall_bpf *s, struct sw_stats *sum)
{
	int n = libbpf_num_possible_cpus();
	struct sw_stats *v;
	__u32 zero = 0;
	int cpu;
	size_t i;

	v = calloc(n, sizeof(*v));
	if (!v)
		die("out of memory");
	if (bpf_map__lookup_elem(s->maps.sw_stats, &zero, sizeof(zero), v, n * sizeof(*v), 0))
		die("read sw_stats: %s", strerror(errno));
	memset(sum, 0, sizeof(*sum));
	for (cpu = 0; cpu < n; cpu++)
		for (i = 0; i < sizeof(*sum) / sizeof(__u64); i++)
			((__u64 *)sum)[i] += ((__u64 *)&v[cpu])[i];
	free(v);
}

/* The state of source @addr (/32 masks); false if it has none. */
static bool sw_source(struct smtpwall_bpf *s, const char *addr, struct sw_source *out)
{
	struct sw_src_key k = { .addr = { ip4(addr) }, .family = SW_AF_INET };

	return !bpf_map__lookup_elem(s->maps.sw_sources, &k, sizeof(k), out, sizeof(*out), 0);
}

static bool sw_session(struct smtpwall_bpf *s, const char *src, const char *dst, __u16 sport,
		       struct sw_session *out)
{
	struct sw_session_key k = {
		.saddr = { ip4(src) },
		.daddr = { ip4(dst) },
		.sport = htons(sport),
		.dport = htons(SMTP_PORT),
		.family = SW_AF_INET,
	};

	return !bpf_map__lookup_elem(s->maps.sw_sessions, &k, sizeof(k), out, sizeof(*out), 0);
}

/* ---- xdp-filter ---- */

static void xf_rule(struct bpf_map *map, const void *key, size_t key_size, __u64 flags)
{
	int n = libbpf_num_possible_cpus();
	__u64 *v;
	int i;

	/* Per-CPU maps: the rule must hold on whichever CPU the packet is run. */
	v = calloc(n, sizeof(*v));
	if (!v)
		die("out of memory");
	for (i = 0; i < n; i++)
		v[i] = flags;
	if (bpf_map__update_elem(map, key, key_size, v, n * sizeof(*v), 0))
		die("xdp-filter rule in %s: %s", bpf_map__name(map), strerror(errno));
	free(v);
}

/*
 * Load xdp-filter's program and give it what `xdp-filter load` followed by
 * `xdp-filter ip -m src` for the banned addresses (and as many filler
 * addresses as smtpwall's deny list has) and `xdp-filter port 23` would
 * give it. On failure, say why and carry on without it.
 */
static void xf_load(struct bench *b, const char *path)
{
	struct bpf_map *map, *ports = NULL, *ipv4 = NULL;
	struct bpf_program *prog;
	__u32 key;
	int i, err;

	b->xf_fd = -1;
	if (!path) {
		for (i = 0; xf_default_paths[i]; i++)
			if (!access(xf_default_paths[i], R_OK))
				break;
		path = xf_default_paths[i];
		if (!path) {
			snprintf(b->xf_error, sizeof(b->xf_error),
				 "xdpfilt_alw_all.o not found (is xdp-tools installed?)");
			return;
		}
	}
	snprintf(b->xf_path, sizeof(b->xf_path), "%s", path);
	b->xf = bpf_object__open_file(path, NULL);
	if (!b->xf) {
		snprintf(b->xf_error, sizeof(b->xf_error), "cannot open %s: %s", path,
			 strerror(errno));
		return;
	}
	bpf_object__for_each_map(map, b->xf) {
		bpf_map__set_pin_path(map, NULL);
		if (!strcmp(bpf_map__name(map), "filter_ports"))
			ports = map;
		else if (!strcmp(bpf_map__name(map), "filter_ipv4"))
			ipv4 = map;
	}
	prog = bpf_object__next_program(b->xf, NULL);
	if (!prog || !ports || !ipv4) {
		snprintf(b->xf_error, sizeof(b->xf_error),
			 "%s: no XDP program, filter_ports or filter_ipv4 map", path);
		goto fail;
	}
	err = bpf_object__load(b->xf);
	if (err) {
		snprintf(b->xf_error, sizeof(b->xf_error), "cannot load %s: %s", path,
			 strerror(-err));
		goto fail;
	}
	for (i = 0; i < FILLER_DENY; i++) {
		key = htonl(0x0a000000U | (i << 8) | 7);
		xf_rule(ipv4, &key, sizeof(key), XF_FLAG_SRC);
	}
	key = ip4(BAN_SRC);
	xf_rule(ipv4, &key, sizeof(key), XF_FLAG_SRC);
	key = ip4(BAN_NOSTATE_SRC);
	xf_rule(ipv4, &key, sizeof(key), XF_FLAG_SRC);
	/* Keyed by the port as it is in the header: network byte order. */
	key = htons(23);
	xf_rule(ports, &key, sizeof(key), XF_FLAG_DST | XF_FLAG_TCP);
	b->xf_fd = bpf_program__fd(prog);
	return;
fail:
	bpf_object__close(b->xf);
	b->xf = NULL;
}

/* ---- classes ---- */

static void setup_nonsmtp(struct bench *b)
{
	__u32 ret;

	frame(&b->f[C_NONSMTP], CLIENT, DST, 40000, 80, PKT_ACK | PKT_PSH);
	test_run(prog_fd(b->prod), &b->f[C_NONSMTP], 1, &ret);
	expect_verdict("non-SMTP", ret, XDP_PASS);
}

static double run_nonsmtp(struct bench *b)
{
	struct sw_stats s0, s1;
	__u32 ret;
	double ns;

	sw_stats(b->prod, &s0);
	ns = test_run(prog_fd(b->prod), &b->f[C_NONSMTP], b->repeat, &ret);
	sw_stats(b->prod, &s1);
	expect_verdict("non-SMTP", ret, XDP_PASS);
	expect_delta("non-SMTP", "packets", s0.packets, s1.packets, b->repeat);
	expect_delta("non-SMTP", "guarded_packets", s0.guarded_packets, s1.guarded_packets, 0);
	return ns;
}

static void admit_configure(struct smtpwall_bpf *s)
{
	struct sw_config c;

	cfg_default(&c);
	c.syn_interval_ns = 0;
	c.syn_tolerance_ns = 0;
	c.max_sessions = 0;
	c.penalty_strikes = 0;
	sw_configure(s, &c);
	sw_lists(s);
}

static void admit_verify(struct bench *b, struct smtpwall_bpf *s)
{
	struct sw_source a0, a1;
	struct sw_stats s0, s1;
	bool known;
	__u32 ret;

	known = sw_source(s, ADMIT_SRC, &a0);
	sw_stats(s, &s0);
	test_run(prog_fd(s), &b->admit_verify, 1, &ret);
	expect_verdict("admitted SYN", ret, XDP_PASS);
	sw_stats(s, &s1);
	if (!sw_source(s, ADMIT_SRC, &a1))
		die("admitted SYN: the source got no state");
	expect_delta("admitted SYN", "source admitted", known ? a0.admitted : 0, a1.admitted, 1);
	/* An admitted SYN reserves a slot; the session record waits for the ACK. */
	expect_delta("admitted SYN", "sessions_opened", s0.sessions_opened, s1.sessions_opened, 0);
	expect_delta("admitted SYN", "source pending", known ? sw_source_pending(&a0, sw_mono_ns()) : 0,
		     sw_source_pending(&a1, sw_mono_ns()), 1);
}

/*
 * Empty sw_sessions between runs, so that the table never holds more than
 * one run's sessions: batched where the kernel can, else key by key.
 */
static void sessions_clear(struct smtpwall_bpf *s)
{
	const __u32 batch = 8192;
	int fd = bpf_map__fd(s->maps.sw_sessions);
	struct sw_session_key *keys, next;
	struct sw_session *vals;
	__u32 token, count;
	void *in = NULL;
	int err;

	keys = calloc(batch, sizeof(*keys));
	vals = calloc(batch, sizeof(*vals));
	if (!keys || !vals)
		die("out of memory");
	do {
		LIBBPF_OPTS(bpf_map_batch_opts, o);

		count = batch;
		err = bpf_map_lookup_and_delete_batch(fd, in, &token, keys, vals, &count, &o);
		in = &token;
	} while (!err);
	if (err != -ENOENT) {
		/* Batch operations unsupported: the slow way. */
		while (!bpf_map_get_next_key(fd, NULL, &next))
			if (bpf_map_delete_elem(fd, &next))
				die("clear sw_sessions: %s", strerror(errno));
	}
	if (!bpf_map_get_next_key(fd, NULL, &next))
		die("clear sw_sessions: entries left");
	free(keys);
	free(vals);
}

static void setup_admit(struct bench *b)
{
	frame(&b->admit_verify, ADMIT_SRC, DST, 40000, SMTP_PORT, PKT_SYN);
	frame(&b->f[C_ADMIT], ADMIT_SRC, DST, 40000, SMTP_PORT, PKT_SYN);
	b->admit = sw_load(true, 0);
	admit_configure(b->admit);
	admit_verify(b, b->admit);
}

/*
 * Every SYN is a new connection attempt (the source port changes each
 * time), admitted: source lookup, limits, and a reserved slot. No session
 * record is made on a SYN, so there is nothing to insert or clear. The
 * program's port counter is 16 bits wide and the first 8 handshakes stay
 * remembered as pending: runs are cut at 65536 SYNs, each to its own
 * destination, so that no measured SYN can match a pending one and count as
 * a retransmission (checked). Means are weighted by run length.
 */
static double run_admit(struct bench *b)
{
	struct sw_source a0, a1;
	struct sw_stats s0, s1;
	struct frame f;
	char dst[INET_ADDRSTRLEN];
	double total = 0;
	unsigned int chunk, n, left;
	__u32 ret;

	sw_stats(b->admit, &s0);
	sw_source(b->admit, ADMIT_SRC, &a0);
	for (chunk = 0, left = b->repeat; left; chunk++, left -= n) {
		n = left < SPORT_CYCLE ? left : SPORT_CYCLE;
		bench_dst(b->admit_chunks++, dst, sizeof(dst));
		frame(&f, ADMIT_SRC, dst, 40000, SMTP_PORT, PKT_SYN);
		total += test_run(prog_fd(b->admit), &f, n, &ret) * n;
		expect_verdict("admitted SYN", ret, XDP_PASS);
	}
	sw_stats(b->admit, &s1);
	sw_source(b->admit, ADMIT_SRC, &a1);
	expect_delta("admitted SYN", "syn_retransmit", s0.syn_retransmit, s1.syn_retransmit, 0);
	expect_delta("admitted SYN", "source admitted", a0.admitted, a1.admitted, b->repeat);
	return total / b->repeat;
}

/*
 * The first data segment of a connection whose record we do not hold: the
 * program creates the session. This is the insert into sw_sessions that
 * every connection pays once (the handshake's ACK pays the same insert).
 */
static void setup_session(struct bench *b)
{
	struct sw_stats s0, s1;
	__u32 ret;

	frame(&b->session_verify, ADMIT_SRC, DST, 41000, SMTP_PORT, PKT_ACK | PKT_PSH);
	/* What xdp-filter is measured on; the runs use one destination per chunk. */
	frame(&b->f[C_SESSION_NEW], ADMIT_SRC, DST, 41000, SMTP_PORT, PKT_ACK | PKT_PSH);
	b->session = sw_load(true, 0);
	admit_configure(b->session);
	sw_stats(b->session, &s0);
	/* The source needs state: one SYN gives it. */
	test_run(prog_fd(b->session), &b->admit_verify, 1, &ret);
	expect_verdict("new session (SYN)", ret, XDP_PASS);
	test_run(prog_fd(b->session), &b->session_verify, 1, &ret);
	expect_verdict("new session", ret, XDP_PASS);
	sw_stats(b->session, &s1);
	expect_delta("new session", "sessions_opened", s0.sessions_opened, s1.sessions_opened, 1);
	sessions_clear(b->session);
}

/*
 * The program's source-port counter is 16 bits wide, so a run of more than
 * 65536 segments would come back to sessions it created. Runs are cut at
 * 65536, each to its own destination address, the production-size table
 * emptied after each (so it holds at most 65536 sessions, and its free
 * entries come back scattered as in a table in use), and the means weighted.
 */
static double run_session(struct bench *b)
{
	struct sw_stats s0, s1;
	struct frame f;
	char dst[INET_ADDRSTRLEN];
	double total = 0;
	unsigned int chunk, n, left;
	__u32 ret;

	sw_stats(b->session, &s0);
	for (chunk = 0, left = b->repeat; left; chunk++, left -= n) {
		n = left < SPORT_CYCLE ? left : SPORT_CYCLE;
		bench_dst(chunk, dst, sizeof(dst));
		frame(&f, ADMIT_SRC, dst, 41000, SMTP_PORT, PKT_ACK | PKT_PSH);
		total += test_run(prog_fd(b->session), &f, n, &ret) * n;
		expect_verdict("new session", ret, XDP_PASS);
		sessions_clear(b->session);
	}
	sw_stats(b->session, &s1);
	expect_delta("new session", "sessions_opened", s0.sessions_opened, s1.sessions_opened, b->repeat);
	return total / b->repeat;
}

static void setup_limit(struct bench *b)
{
	struct sw_config c;
	__u32 ret;

	b->limit = sw_load(true, 0);
	cfg_default(&c);
	c.syn_interval_ns = 3600 * NSEC_PER_SEC;
	c.syn_tolerance_ns = 0;
	c.penalty_strikes = 0;
	sw_configure(b->limit, &c);
	sw_lists(b->limit);

	/*
	 * The first SYN is admitted to another destination, so that no
	 * measured SYN can be the retransmission of an open session.
	 */
	frame(&b->limit_first, LIMIT_SRC, DST, 40000, SMTP_PORT, PKT_SYN);
	frame(&b->f[C_LIMIT], LIMIT_SRC, "192.0.2.2", 40000, SMTP_PORT, PKT_SYN);
	test_run(prog_fd(b->limit), &b->limit_first, 1, &ret);
	expect_verdict("SYN over the limit (first SYN)", ret, XDP_PASS);
	test_run(prog_fd(b->limit), &b->f[C_LIMIT], 1, &ret);
	expect_verdict("SYN over the limit", ret, XDP_DROP);
}

static double run_limit(struct bench *b)
{
	struct sw_stats s0, s1;
	struct sw_source src;
	__u32 ret;
	double ns;

	sw_stats(b->limit, &s0);
	ns = test_run(prog_fd(b->limit), &b->f[C_LIMIT], b->repeat, &ret);
	sw_stats(b->limit, &s1);
	expect_verdict("SYN over the limit", ret, XDP_DROP);
	expect_delta("SYN over the limit", "dropped[rate]", s0.dropped[SW_R_RATE],
		     s1.dropped[SW_R_RATE], b->repeat);
	if (!sw_source(b->limit, LIMIT_SRC, &src) || src.penalty_until_ns)
		die("SYN over the limit: the source entered the penalty box");
	return ns;
}

/*
 * The banned source connected before its ban, which gave it state; after
 * the ban (and the list generation bump every list writer does) its first
 * packet caches the deny verdict, and from then on its packets are judged
 * without the tries. A source banned before it ever connected gets no
 * state at all: that is the "without state" class.
 */
static void setup_ban(struct bench *b)
{
	struct sw_lpm_v4 net = { .prefixlen = 24, .addr = ip4(BAN_NET) };
	struct sw_source src;
	struct sw_config c;
	__u32 ret, zero = 0;

	frame(&b->f[C_BAN_SYN], BAN_SRC, DST, 40000, SMTP_PORT, PKT_SYN);
	if (bpf_map__delete_elem(b->prod->maps.sw_deny_v4, &net, sizeof(net), 0))
		die("unban %s/24: %s", BAN_NET, strerror(errno));
	test_run(prog_fd(b->prod), &b->f[C_BAN_SYN], 1, &ret);
	expect_verdict("SYN before the ban", ret, XDP_PASS);
	sw_list_add(b->prod->maps.sw_deny_v4, ip4(BAN_NET), 24);
	if (bpf_map__lookup_elem(b->prod->maps.sw_config, &zero, sizeof(zero), &c, sizeof(c), 0))
		die("read sw_config: %s", strerror(errno));
	c.list_gen++;
	sw_configure(b->prod, &c);

	frame(&b->f[C_BAN_ACK], BAN_SRC, DST, 40000, SMTP_PORT, PKT_ACK | PKT_PSH);
	frame(&b->f[C_BAN_NOSTATE], BAN_NOSTATE_SRC, DST, 40000, SMTP_PORT, PKT_ACK | PKT_PSH);
	test_run(prog_fd(b->prod), &b->f[C_BAN_SYN], 1, &ret);
	expect_verdict("banned SYN", ret, XDP_DROP);
	if (!sw_source(b->prod, BAN_SRC, &src) || src.list_verdict != SW_LIST_DENY)
		die("banned SYN: the source has no state with a cached deny verdict");
	test_run(prog_fd(b->prod), &b->f[C_BAN_ACK], 1, &ret);
	expect_verdict("banned ACK", ret, XDP_DROP);
	test_run(prog_fd(b->prod), &b->f[C_BAN_NOSTATE], 1, &ret);
	expect_verdict("banned ACK, no state", ret, XDP_DROP);
	if (sw_source(b->prod, BAN_NOSTATE_SRC, &src))
		die("banned ACK, no state: the source has state");
}

static double run_ban(struct bench *b, enum cls_id c, const char *what)
{
	struct sw_stats s0, s1;
	struct sw_source a0, a1;
	bool stateful = c != C_BAN_NOSTATE;
	__u32 ret;
	double ns;

	sw_stats(b->prod, &s0);
	if (stateful)
		sw_source(b->prod, BAN_SRC, &a0);
	ns = test_run(prog_fd(b->prod), &b->f[c], b->repeat, &ret);
	sw_stats(b->prod, &s1);
	expect_verdict(what, ret, XDP_DROP);
	expect_delta(what, "dropped[deny]", s0.dropped[SW_R_DENY], s1.dropped[SW_R_DENY], b->repeat);
	if (stateful) {
		sw_source(b->prod, BAN_SRC, &a1);
		expect_delta(what, "source dropped[deny]", a0.dropped[SW_R_DENY],
			     a1.dropped[SW_R_DENY], b->repeat);
	} else if (sw_source(b->prod, BAN_NOSTATE_SRC, &a1)) {
		die("%s: the source got state", what);
	}
	return ns;
}

static double run_ban_syn(struct bench *b)
{
	return run_ban(b, C_BAN_SYN, "banned SYN");
}

static double run_ban_ack(struct bench *b)
{
	return run_ban(b, C_BAN_ACK, "banned ACK");
}

static double run_ban_nostate(struct bench *b)
{
	return run_ban(b, C_BAN_NOSTATE, "banned ACK, no state");
}

static void setup_estab(struct bench *b)
{
	struct sw_session sess;
	__u32 ret;

	frame(&b->estab_syn, CLIENT, DST, 40001, SMTP_PORT, PKT_SYN);
	frame(&b->f[C_ESTAB], CLIENT, DST, 40001, SMTP_PORT, PKT_ACK | PKT_PSH);
	test_run(prog_fd(b->prod), &b->estab_syn, 1, &ret);
	expect_verdict("established (SYN)", ret, XDP_PASS);
	test_run(prog_fd(b->prod), &b->f[C_ESTAB], 1, &ret);
	expect_verdict("established", ret, XDP_PASS);
	if (!sw_session(b->prod, CLIENT, DST, 40001, &sess) || !(sess.flags & SW_SESS_HANDSHAKE))
		die("established: no session record after SYN and ACK");
}

static double run_estab(struct bench *b)
{
	struct sw_session s0, s1;
	__u32 ret;
	double ns;

	if (!sw_session(b->prod, CLIENT, DST, 40001, &s0))
		die("established: the session is gone");
	ns = test_run(prog_fd(b->prod), &b->f[C_ESTAB], b->repeat, &ret);
	expect_verdict("established", ret, XDP_PASS);
	if (!sw_session(b->prod, CLIENT, DST, 40001, &s1))
		die("established: the session is gone");
	expect_delta("established", "session packets", s0.packets, s1.packets, b->repeat);
	return ns;
}

/*
 * The per-packet path of a spoofed-source SYN flood: an unknown source
 * while the new-source gate is shut (one source an hour, already taken).
 * The source address is constant here, but it is never given state, so each
 * repetition misses sw_sources exactly as a new random address would.
 */
static void setup_flood(struct bench *b)
{
	struct sw_config c;
	struct sw_source src;
	__u32 ret;

	b->flood = sw_load(false, 0);
	cfg_default(&c);
	c.new_source_interval_ns = 3600 * NSEC_PER_SEC;
	c.new_source_tolerance_ns = 0;
	c.flags |= SW_CFG_FLOOD_DROP;
	sw_configure(b->flood, &c);
	sw_lists(b->flood);

	frame(&b->gate_syn, GATE_SRC, DST, 40000, SMTP_PORT, PKT_SYN);
	frame(&b->f[C_FLOOD], SPOOF_SRC, DST, 40000, SMTP_PORT, PKT_SYN);
	test_run(prog_fd(b->flood), &b->gate_syn, 1, &ret);
	expect_verdict("flood (gate opener)", ret, XDP_PASS);
	test_run(prog_fd(b->flood), &b->f[C_FLOOD], 1, &ret);
	expect_verdict("flood", ret, XDP_DROP);
	if (sw_source(b->flood, SPOOF_SRC, &src))
		die("flood: the unknown source got state: the gate is open");
}

static double run_flood(struct bench *b)
{
	struct sw_stats s0, s1;
	__u32 ret;
	double ns;

	sw_stats(b->flood, &s0);
	ns = test_run(prog_fd(b->flood), &b->f[C_FLOOD], b->repeat, &ret);
	sw_stats(b->flood, &s1);
	expect_verdict("flood", ret, XDP_DROP);
	expect_delta("flood", "untracked_syn", s0.untracked_syn, s1.untracked_syn, b->repeat);
	expect_delta("flood", "dropped[flood]", s0.dropped[SW_R_FLOOD], s1.dropped[SW_R_FLOOD],
		     b->repeat);
	return ns;
}

/*
 * A client command on a plaintext session: the payload is copied out and
 * read (line split, command, queue). RCPT, as a harvester sends many.
 */
static const char rcpt_cmd[] = "RCPT TO:<someone@example.org>\r\n";
static const char reply_250[] = "250 2.1.5 Ok\r\n";

static void setup_cmd(struct bench *b)
{
	struct pkt_opts o = { .src = CLIENT, .dst = DST, .sport = 40001, .dport = SMTP_PORT,
			      .flags = PKT_ACK | PKT_PSH, .payload = sizeof(rcpt_cmd) - 1,
			      .payload_data = rcpt_cmd };
	struct pkt_opts r = { .src = DST, .dst = CLIENT, .sport = SMTP_PORT, .dport = 40001,
			      .flags = PKT_ACK | PKT_PSH, .payload = sizeof(reply_250) - 1,
			      .payload_data = reply_250 };

	/* The session of the established class (set up before), on the same tuple. */
	b->f[C_CMD].len = pkt_build(&o, b->f[C_CMD].buf);
	b->f[C_REPLY].len = pkt_build(&r, b->f[C_REPLY].buf);
	if (!b->f[C_CMD].len || !b->f[C_REPLY].len)
		die("cannot build the SMTP frames");
}

static double run_cmd(struct bench *b)
{
	struct sw_session s0, s1;
	__u32 ret;
	double ns;

	if (!sw_session(b->prod, CLIENT, DST, 40001, &s0))
		die("SMTP command: the session is gone");
	ns = test_run(prog_fd(b->prod), &b->f[C_CMD], b->repeat, &ret);
	expect_verdict("SMTP command", ret, XDP_PASS);
	if (!sw_session(b->prod, CLIENT, DST, 40001, &s1))
		die("SMTP command: the session is gone");
	expect_delta("SMTP command", "session packets", s0.packets, s1.packets, b->repeat);
	if (s1.cmd_head == s1.cmd_tail && s1.cmdq[0] != SW_CMD_RCPT)
		die("SMTP command: the RCPT was not read");
	return ns;
}

/* The server's reply on egress, matched to a queued command (or to RCPT, the last one). */
static double run_reply(struct bench *b)
{
	struct sw_session s0, s1;
	__u32 ret;
	double ns;

	if (!sw_session(b->prod, CLIENT, DST, 40001, &s0))
		die("server reply: the session is gone");
	ns = test_run(bpf_program__fd(b->prod->progs.smtpwall_tc_egress), &b->f[C_REPLY], b->repeat, &ret);
	if (ret != 0)
		die("server reply: tc verdict %u, expected TC_ACT_OK", ret);
	if (!sw_session(b->prod, CLIENT, DST, 40001, &s1))
		die("server reply: the session is gone");
	expect_delta("server reply", "server packets", s0.server_packets, s1.server_packets, b->repeat);
	if (s1.rcpt == s0.rcpt)
		die("server reply: the 250 was not matched to a RCPT");
	return ns;
}

static const struct cls classes[C_MAX] = {
	[C_NONSMTP] = { "non-SMTP (TCP data to port 80)", "non_smtp", true,
			setup_nonsmtp, run_nonsmtp },
	[C_ADMIT] = { "SYN admitted (slot reserved)", "syn_admitted", true,
		      setup_admit, run_admit },
	[C_SESSION_NEW] = { "new session record (first ACK/data)", "session_created", true,
			    setup_session, run_session },
	[C_LIMIT] = { "SYN over the rate limit", "syn_over_limit", false,
		      setup_limit, run_limit },
	[C_BAN_SYN] = { "banned source, SYN", "banned_syn", true, setup_ban, run_ban_syn },
	[C_BAN_ACK] = { "banned source, ACK+PSH data", "banned_ack", true, NULL, run_ban_ack },
	[C_BAN_NOSTATE] = { "banned source without state, ACK+PSH", "banned_ack_nostate", true,
			    NULL, run_ban_nostate },
	[C_ESTAB] = { "established session, ACK+PSH data", "established", true,
		      setup_estab, run_estab },
	[C_FLOOD] = { "SYN, unknown source, gate shut (flood)", "flood_syn", false,
		      setup_flood, run_flood },
	[C_CMD] = { "SMTP command on a plaintext session (RCPT TO)", "smtp_command", false,
		    setup_cmd, run_cmd },
	[C_REPLY] = { "server reply on egress (tc, 250 to RCPT)", "server_reply", false,
		      NULL, run_reply },
};

/* xdp-filter's verdict on each class's frame under the rules of xf_load(). */
static __u32 xf_expected(enum cls_id c)
{
	return c == C_BAN_SYN || c == C_BAN_ACK || c == C_BAN_NOSTATE ? XDP_DROP : XDP_PASS;
}

static void xf_check(struct bench *b)
{
	__u32 ret;
	int c;

	for (c = 0; c < C_MAX; c++) {
		if (!classes[c].xf)
			continue;
		test_run(b->xf_fd, &b->f[c], 1, &ret);
		if (ret != xf_expected(c))
			die("xdp-filter on \"%s\": verdict %s, expected %s; is %s the allow-policy "
			    "program (xdpfilt_alw_*)?", classes[c].name, xdp_name(ret),
			    xdp_name(xf_expected(c)), b->xf_path);
	}
}

/* ---- measurement ---- */

static void measure(struct bench *b, int c, int round)
{
	__u32 ret;
	int i;

	/* Rotate the order so that no series always runs first (cold) or last. */
	for (i = 0; i < S_MAX; i++) {
		switch ((i + round) % S_MAX) {
		case S_SW:
			b->res[c][S_SW][round] = classes[c].run(b);
			break;
		case S_EMPTY:
			/* The egress class beside an empty tc program, the rest an empty XDP one. */
			if (c == C_REPLY) {
				b->res[c][S_EMPTY][round] =
					test_run(bpf_program__fd(b->empty->progs.empty_tc), &b->f[c],
						 b->repeat, &ret);
				expect_verdict("empty tc program", ret, 0);
				break;
			}
			b->res[c][S_EMPTY][round] =
				test_run(bpf_program__fd(b->empty->progs.empty_xdp), &b->f[c],
					 b->repeat, &ret);
			expect_verdict("empty program", ret, XDP_PASS);
			break;
		case S_XF:
			if (b->xf_fd < 0 || !classes[c].xf)
				break;
			b->res[c][S_XF][round] = test_run(b->xf_fd, &b->f[c], b->repeat, &ret);
			expect_verdict("xdp-filter", ret, xf_expected(c));
			break;
		}
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
	double *s = malloc(n * sizeof(*s));
	double m;

	if (!s)
		die("out of memory");
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	free(s);
	return m;
}

/* ---- report ---- */

struct target {
	const char *name;
	enum cls_id c;
	double factor;	/* smtpwall <= factor * xdp-filter */
};

static const struct target targets[] = {
	{ "banned-source drop (SYN) <= xdp-filter", C_BAN_SYN, 1 },
	{ "banned-source drop (ACK) <= xdp-filter", C_BAN_ACK, 1 },
	{ "banned-source drop, no state (ACK) <= xdp-filter", C_BAN_NOSTATE, 1 },
	{ "established-session packet <= xdp-filter", C_ESTAB, 1 },
	{ "admitted SYN <= 2 x xdp-filter", C_ADMIT, 2 },
};

static void cpu_model(char *out, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256], *p;

	snprintf(out, len, "unknown CPU");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "model name", 10))
			continue;
		p = strchr(line, ':');
		if (!p)
			break;
		for (p++; *p == ' ' || *p == '\t'; p++)
			;
		p[strcspn(p, "\n")] = 0;
		snprintf(out, len, "%s", p);
		break;
	}
	fclose(f);
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void json_series(const double *v, int n)
{
	int i;

	putchar('[');
	for (i = 0; i < n; i++)
		printf("%s%.1f", i ? ", " : "", v[i]);
	putchar(']');
}

static void report(struct bench *b)
{
	char date[16], cpu[128];
	struct utsname u;
	time_t now = time(NULL);
	double m[C_MAX][S_MAX];
	bool xf = b->xf_fd >= 0;
	const size_t ntargets = sizeof(targets) / sizeof(targets[0]);
	size_t t, last_target = ntargets;
	int c, s, last = 0;

	strftime(date, sizeof(date), "%Y-%m-%d", gmtime(&now));
	uname(&u);
	cpu_model(cpu, sizeof(cpu));
	for (c = 0; c < C_MAX; c++)
		for (s = 0; s < S_MAX; s++)
			m[c][s] = median(b->res[c][s], b->rounds);
	for (c = 0; c < C_MAX; c++)
		if (b->only[c])
			last = c;
	for (t = 0; t < ntargets; t++)
		if (b->only[targets[t].c])
			last_target = t;

	if (b->json) {
		printf("{\n  \"date\": \"%s\",\n  \"kernel\": ", date);
		json_str(u.release);
		printf(",\n  \"cpu\": ");
		json_str(cpu);
		printf(",\n  \"repeat\": %d,\n  \"rounds\": %d,\n  \"pinned_cpu\": %d,\n  \"xdp_filter\": ",
		       b->repeat, b->rounds, b->cpu);
		if (xf)
			json_str(b->xf_path);
		else
			printf("null");
		if (!xf) {
			printf(",\n  \"xdp_filter_error\": ");
			json_str(b->xf_error);
		}
		printf(",\n  \"classes\": [\n");
		for (c = 0; c < C_MAX; c++) {
			if (!b->only[c])
				continue;
			printf("    {\"class\": \"%s\", \"name\": ", classes[c].key);
			json_str(classes[c].name);
			printf(", \"smtpwall_ns\": %.1f, \"empty_ns\": %.1f, \"ratio_empty\": %.2f",
			       m[c][S_SW], m[c][S_EMPTY], m[c][S_SW] / m[c][S_EMPTY]);
			if (xf && classes[c].xf)
				printf(", \"xdp_filter_ns\": %.1f, \"ratio_xdp_filter\": %.2f",
				       m[c][S_XF], m[c][S_SW] / m[c][S_XF]);
			printf(",\n     \"rounds\": {\"smtpwall\": ");
			json_series(b->res[c][S_SW], b->rounds);
			printf(", \"empty\": ");
			json_series(b->res[c][S_EMPTY], b->rounds);
			if (xf && classes[c].xf) {
				printf(", \"xdp_filter\": ");
				json_series(b->res[c][S_XF], b->rounds);
			}
			printf("}}%s\n", c < last ? "," : "");
		}
		printf("  ]");
		if (xf) {
			printf(",\n  \"targets\": [\n");
			for (t = 0; t < ntargets; t++) {
				c = targets[t].c;
				if (!b->only[c])
					continue;
				printf("    {\"target\": ");
				json_str(targets[t].name);
				printf(", \"smtpwall_ns\": %.1f, \"limit_ns\": %.1f, \"pass\": %s}%s\n",
				       m[c][S_SW], targets[t].factor * m[c][S_XF],
				       m[c][S_SW] <= targets[t].factor * m[c][S_XF] ? "true" : "false",
				       t < last_target ? "," : "");
			}
			printf("  ]");
		}
		printf("\n}\n");
		return;
	}

	printf("%s (UTC), kernel %s, %s; BPF_PROG_TEST_RUN repeat %d, median of %d rounds, CPU %d\n\n",
	       date, u.release, cpu, b->repeat, b->rounds, b->cpu);
	printf("| packet class | smtpwall ns | empty ns | ratio vs empty "
	       "| xdp-filter ns | ratio vs xdp-filter |\n");
	printf("|---|---:|---:|---:|---:|---:|\n");
	for (c = 0; c < C_MAX; c++) {
		if (!b->only[c])
			continue;
		printf("| %s | %.1f | %.1f | %.1f |", classes[c].name, m[c][S_SW], m[c][S_EMPTY],
		       m[c][S_SW] / m[c][S_EMPTY]);
		if (xf && classes[c].xf)
			printf(" %.1f | %.2f |\n", m[c][S_XF], m[c][S_SW] / m[c][S_XF]);
		else
			printf(" — | — |\n");
	}
	printf("\n"
	       "- SYN admitted: every SYN a new connection attempt, admitted; no session record yet.\n"
	       "- New session record: once per connection, the ACK completing the handshake (or the\n"
	       "  first data segment) inserts it; table emptied every %u inserts.\n"
	       "- Banned source: cached deny verdict in its source state; without state: list lookup.\n"
	       "- Flood: SYN from an unknown source, new-source gate shut, [flood] action=drop.\n"
	       "- smtpwall deny list: %d /32 + the banned /24; allow list: %d /24.\n",
	       SPORT_CYCLE, FILLER_DENY, FILLER_ALLOW);
	if (!xf) {
		printf("- xdp-filter not measured: %s\n", b->xf_error);
		return;
	}
	printf("- xdp-filter: %s (policy allow, all features);\n"
	       "  %d IPv4 source rules incl. the banned addresses, TCP dst port 23;\n"
	       "  — = xdp-filter has no equivalent decision.\n\n",
	       b->xf_path, FILLER_DENY + 2);
	printf("Targets (informational):\n");
	for (t = 0; t < ntargets; t++) {
		c = targets[t].c;
		if (!b->only[c])
			continue;
		printf("  %s  %s: %.1f ns vs %.1f ns\n",
		       m[c][S_SW] <= targets[t].factor * m[c][S_XF] ? "PASS" : "MISS",
		       targets[t].name, m[c][S_SW], targets[t].factor * m[c][S_XF]);
	}
}

/* ---- main ---- */

static void pin_cpu(struct bench *b)
{
	cpu_set_t set;
	int i;

	if (sched_getaffinity(0, sizeof(set), &set))
		die("sched_getaffinity: %s", strerror(errno));
	/* Default: the last allowed CPU, usually the one with fewer interrupts than CPU 0. */
	if (b->cpu < 0)
		for (i = 0; i < CPU_SETSIZE; i++)
			if (CPU_ISSET(i, &set))
				b->cpu = i;
	CPU_ZERO(&set);
	CPU_SET(b->cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		die("pin to CPU %d: %s", b->cpu, strerror(errno));
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: bench [--rounds N] [--repeat N] [--cpu N] [--json] [--only C,..] [--xdp-filter PATH]\n"
		"  --rounds N       rounds; each class measured once per round (default 7)\n"
		"  --repeat N       BPF_PROG_TEST_RUN repetitions per measurement (default 1000000)\n"
		"  --cpu N          CPU to run on (default: the last allowed one)\n"
		"  --json           JSON instead of a Markdown table\n"
		"  --only C[,C]     measure only these classes (names as in the JSON output)\n"
		"  --xdp-filter P   xdp-filter BPF object to compare with (default xdpfilt_alw_all.o)\n"
		"  --verbose        libbpf's informational messages\n");
}

/* --only a,b: measure these classes (by JSON name) only, e.g. to profile one path. */
static void select_classes(struct bench *b, char *list)
{
	char *name, *save = NULL;
	int c;

	for (name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
		for (c = 0; c < C_MAX; c++)
			if (!strcmp(name, classes[c].key))
				break;
		if (c == C_MAX)
			die("--only: no class %s", name);
		b->only[c] = true;
	}
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

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "rounds", required_argument, NULL, 'r' },
		{ "repeat", required_argument, NULL, 'n' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "xdp-filter", required_argument, NULL, 'x' },
		{ "only", required_argument, NULL, 'o' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct bench b = { .repeat = 1000000, .rounds = 7, .cpu = -1, .xf_fd = -1 };
	const char *xf_path = NULL;
	struct sw_config cfg;
	int o, c, s, r;

	while ((o = getopt_long(argc, argv, "r:n:c:jx:o:vh", opts, NULL)) != -1) {
		switch (o) {
		case 'r':
			b.rounds = parse_int(optarg, "--rounds", 1, 1000);
			break;
		case 'n':
			b.repeat = parse_int(optarg, "--repeat", 1, 1 << 30);
			break;
		case 'c':
			b.cpu = parse_int(optarg, "--cpu", 0, CPU_SETSIZE - 1);
			break;
		case 'j':
			b.json = true;
			break;
		case 'x':
			xf_path = optarg;
			break;
		case 'o':
			select_classes(&b, optarg);
			break;
		case 'v':
			verbose = true;
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
	for (c = 0; c < C_MAX && !b.only[c]; c++)
		;
	if (c == C_MAX)
		for (c = 0; c < C_MAX; c++)
			b.only[c] = true;
	libbpf_set_print(libbpf_print);
	pin_cpu(&b);

	for (c = 0; c < C_MAX; c++)
		for (s = 0; s < S_MAX; s++) {
			b.res[c][s] = calloc(b.rounds, sizeof(double));
			if (!b.res[c][s])
				die("out of memory");
		}

	b.empty = empty_bpf__open_and_load();
	if (!b.empty)
		die("load the empty program: %s", strerror(errno));
	b.prod = sw_load(false, 0);
	cfg_default(&cfg);
	sw_configure(b.prod, &cfg);
	sw_lists(b.prod);

	for (c = 0; c < C_MAX; c++)
		if (classes[c].setup)
			classes[c].setup(&b);

	xf_load(&b, xf_path);
	if (b.xf_fd >= 0)
		xf_check(&b);
	else
		fprintf(stderr, "bench: xdp-filter not measured: %s\n", b.xf_error);

	for (r = 0; r < b.rounds; r++)
		for (c = 0; c < C_MAX; c++)
			if (b.only[c])
				measure(&b, c, r);

	report(&b);

	bpf_object__close(b.xf);
	smtpwall_bpf__destroy(b.flood);
	smtpwall_bpf__destroy(b.limit);
	smtpwall_bpf__destroy(b.session);
	smtpwall_bpf__destroy(b.admit);
	smtpwall_bpf__destroy(b.prod);
	empty_bpf__destroy(b.empty);
	for (c = 0; c < C_MAX; c++)
		for (s = 0; s < S_MAX; s++)
			free(b.res[c][s]);
	return 0;
}
