// SPDX-License-Identifier: GPL-2.0
/*
 * The daemon's GC (user/gc.c) against the real XDP program: state is made
 * by running frames through the program, sw_gc_run() is called with a
 * chosen time on the program's test clock, and the program must then act
 * on what the GC did (a reaped session frees a concurrency slot, a removed
 * ban lets SYNs through).
 *
 * Every test loads its own program and maps; nothing is pinned.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "bpf_harness.h"
#include "pkt.h"
#include "kernel.h"
#include "gc.h"
#include "lists.h"

#define NS   SWH_NS
#define T0   SWH_T0
#define PASS XDP_PASS
#define DROP XDP_DROP

/* The value sw_reaped_of() gives for a source without a sw_reaped entry. */
#define NO_ENTRY (-1LL)

struct fx {
	struct swh h;
	struct sw_kernel k;
	struct sw_settings s;
	struct sw_gc gc;
	struct sw_gc_result res;
};

/*
 * Publish f->s to the program as the daemon does (through the mmap'd
 * config), keeping the list state that belongs to the list writers, and
 * mirror it into the harness so that its source-key helpers use the same
 * masks.
 */
static void apply(struct fx *f)
{
	struct sw_config c;

	sw_settings_to_kernel(&f->s, &c);
	c.list_gen = f->k.config->list_gen;
	c.list_fine = f->k.config->list_fine;
	memcpy(f->k.config, &c, sizeof(c));
	f->h.cfg = c;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256];
	int fds[11], err_no;

	if (!f)
		return -1;
	err_no = swh_open(&f->h, NULL);
	if (err_no) {
		fprintf(stderr, "loading the XDP program failed: %s\n", strerror(-err_no));
		free(f);
		return -1;
	}
	fds[0] = bpf_map__fd(f->h.skel->maps.sw_config);
	fds[1] = bpf_map__fd(f->h.skel->maps.sw_global);
	fds[2] = bpf_map__fd(f->h.skel->maps.sw_stats);
	fds[3] = bpf_map__fd(f->h.skel->maps.sw_sources);
	fds[4] = bpf_map__fd(f->h.skel->maps.sw_reaped);
	fds[5] = bpf_map__fd(f->h.skel->maps.sw_sessions);
	fds[6] = bpf_map__fd(f->h.skel->maps.sw_allow_v4);
	fds[7] = bpf_map__fd(f->h.skel->maps.sw_allow_v6);
	fds[8] = bpf_map__fd(f->h.skel->maps.sw_deny_v4);
	fds[9] = bpf_map__fd(f->h.skel->maps.sw_deny_v6);
	fds[10] = bpf_map__fd(f->h.skel->maps.sw_events);
	if (sw_kernel_adopt(&f->k, "/tmp/unused", fds, err, sizeof(err))) {
		fprintf(stderr, "sw_kernel_adopt: %s\n", err);
		swh_close(&f->h);
		free(f);
		return -1;
	}

	/*
	 * The daemon's defaults, with the limits that are not under test off:
	 * tests open several sessions at one instant and must not be rate
	 * limited, penalised or gated for it. Tests turn on what they need.
	 */
	sw_settings_defaults(&f->s);
	f->s.syn_interval_ns = 0;
	f->s.penalty_strikes = 0;
	f->s.new_source_interval_ns = 0;
	apply(f);
	sw_gc_init(&f->gc);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (!f)
		return 0;
	sw_gc_free(&f->gc);
	sw_kernel_close(&f->k);
	swh_close(&f->h);
	sw_settings_free(&f->s);
	free(f);
	return 0;
}

#define GC_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

/* A frame from the client @src:@sport to port 25, at the program's current time. */
static __u32 frame(struct fx *f, const char *src, __u16 sport, __u8 flags)
{
	uint8_t buf[PKT_MAX];
	size_t len = pkt_simple(buf, src, sport, 25, flags);
	__u32 ret = ~0U;

	assert_true(len > 0);
	assert_int_equal(swh_run(&f->h, buf, len, &ret), 0);
	return ret;
}

static __u32 syn(struct fx *f, const char *src, __u16 sport)
{
	return frame(f, src, sport, PKT_SYN);
}

/* One GC pass at @now (the program's clock); the result is in f->res. */
static void gc(struct fx *f, __u64 now)
{
	assert_int_equal(sw_gc_run(&f->gc, &f->k, &f->s, now, &f->res), 0);
}

static __u64 stats_dropped(struct fx *f, enum sw_reason r)
{
	struct sw_stats st = { 0 };

	assert_int_equal(swh_stats(&f->h, &st), 0);
	return st.dropped[r];
}

static struct sw_src_key src_key(struct fx *f, const char *addr)
{
	struct sw_src_key key;

	assert_int_equal(swh_src_key(&f->h.cfg, addr, &key), 0);
	return key;
}

static struct sw_source source(struct fx *f, const char *addr)
{
	struct sw_source s = { 0 };
	int err = swh_source(&f->h, addr, &s);

	if (err)
		fail_msg("no source state for %s: %s", addr, strerror(-err));
	return s;
}

static bool has_source(struct fx *f, const char *addr)
{
	struct sw_source s;

	return swh_source(&f->h, addr, &s) == 0;
}

/* The source's sw_reaped count, or NO_ENTRY. */
static long long sw_reaped_of(struct fx *f, const char *addr)
{
	struct sw_src_key key = src_key(f, addr);
	__u64 v;

	if (bpf_map_lookup_elem(f->k.reaped_fd, &key, &v))
		return NO_ENTRY;
	return (long long)v;
}

static uint32_t live(struct fx *f, const char *addr)
{
	struct sw_src_key key = src_key(f, addr);
	struct sw_source s = source(f, addr);

	return sw_source_live(&f->k, &key, &s);
}

static bool has_session(struct fx *f, const char *addr, __u16 sport)
{
	struct sw_session sess;

	return swh_session(&f->h, addr, sport, NULL, 25, &sess) == 0;
}

/* The key of the session @addr:@sport -> the pkt.h default server, port 25. */
static struct sw_session_key session_key(const char *addr, __u16 sport)
{
	struct sw_session_key k = { 0 };
	int v6 = strchr(addr, ':') != NULL;

	assert_int_equal(inet_pton(v6 ? AF_INET6 : AF_INET, addr, k.saddr), 1);
	assert_int_equal(inet_pton(v6 ? AF_INET6 : AF_INET, v6 ? "2001:db8::1" : "192.0.2.1", k.daddr), 1);
	k.sport = htons(sport);
	k.dport = htons(25);
	k.family = v6 ? SW_AF_INET6 : SW_AF_INET;
	return k;
}

/*
 * Remove a session the way an LRU eviction does: the entry goes, but
 * nobody decrements the source's sessions_open. Returns the old value so
 * a test can put it back.
 */
static struct sw_session evict(struct fx *f, const char *addr, __u16 sport)
{
	struct sw_session_key k = session_key(addr, sport);
	struct sw_session v;

	assert_int_equal(bpf_map_lookup_elem(f->k.sessions_fd, &k, &v), 0);
	assert_int_equal(bpf_map_delete_elem(f->k.sessions_fd, &k), 0);
	return v;
}

static void unevict(struct fx *f, const char *addr, __u16 sport, const struct sw_session *v)
{
	struct sw_session_key k = session_key(addr, sport);

	assert_int_equal(bpf_map_update_elem(f->k.sessions_fd, &k, v, BPF_NOEXIST), 0);
}

static void assert_res(const struct sw_gc_result *r, long seen, long expired, long evicted,
		       long sources_seen, long sources_expired, long list_expired)
{
	assert_int_equal(r->sessions_seen, seen);
	assert_int_equal(r->sessions_expired, expired);
	assert_int_equal(r->sessions_evicted, evicted);
	assert_int_equal(r->sources_seen, sources_seen);
	assert_int_equal(r->sources_expired, sources_expired);
	assert_int_equal(r->list_expired, list_expired);
}

/* ---- sessions ---- */

static void test_half_open_expires_after_handshake_timeout(void **state)
{
	struct fx *f = *state;
	const char *a = "198.51.100.7";
	__u64 hs = f->s.handshake_timeout_ns;

	f->s.max_sessions = 1;
	apply(f);

	assert_int_equal(syn(f, a, 1000), PASS);
	/* The one slot is taken by a client that never completes the handshake. */
	assert_int_equal(syn(f, a, 1001), DROP);
	assert_int_equal(live(f, a), 1);

	gc(f, T0 + hs / 2);
	assert_res(&f->res, 1, 0, 0, 1, 0, 0);
	/* The timeout is "more than": exactly at it the session is still given its chance. */
	gc(f, T0 + hs);
	assert_res(&f->res, 1, 0, 0, 1, 0, 0);
	assert_true(has_session(f, a, 1000));
	assert_int_equal(sw_reaped_of(f, a), NO_ENTRY);

	swh_set_now(&f->h, T0 + hs + 1);
	assert_int_equal(syn(f, a, 1001), DROP);	/* the GC has not run: still full */

	gc(f, T0 + hs + 1);
	assert_res(&f->res, 1, 1, 0, 1, 0, 0);
	assert_false(has_session(f, a, 1000));
	assert_int_equal(sw_reaped_of(f, a), 1);
	assert_int_equal(source(f, a).sessions_open, 1);	/* the program's count is untouched */
	assert_int_equal(live(f, a), 0);

	/* The program now sees the slot free. */
	assert_int_equal(syn(f, a, 1001), PASS);
	assert_int_equal(live(f, a), 1);
	assert_int_equal(syn(f, a, 1002), DROP);
	assert_int_equal(stats_dropped(f, SW_R_CONCURRENCY), 3);
}

static void test_established_expires_after_idle_timeout(void **state)
{
	struct fx *f = *state;
	const char *a = "198.51.100.7", *b = "2001:db8:1::7";
	__u64 idle = f->s.idle_timeout_ns;

	assert_true(idle > f->s.handshake_timeout_ns);
	assert_int_equal(syn(f, a, 1000), PASS);
	assert_int_equal(frame(f, a, 1000, PKT_ACK), PASS);
	assert_int_equal(syn(f, b, 1000), PASS);
	assert_int_equal(frame(f, b, 1000, PKT_ACK), PASS);

	gc(f, T0 + f->s.handshake_timeout_ns + 1);
	assert_res(&f->res, 2, 0, 0, 2, 0, 0);

	/* b keeps talking; a goes quiet. */
	swh_set_now(&f->h, T0 + idle / 2);
	assert_int_equal(frame(f, b, 1000, PKT_ACK | PKT_PSH), PASS);

	gc(f, T0 + idle);
	assert_res(&f->res, 2, 0, 0, 2, 0, 0);
	gc(f, T0 + idle + 1);
	assert_res(&f->res, 2, 1, 0, 2, 0, 0);
	assert_false(has_session(f, a, 1000));
	assert_true(has_session(f, b, 1000));
	assert_int_equal(sw_reaped_of(f, a), 1);
	assert_int_equal(sw_reaped_of(f, b), NO_ENTRY);
	assert_int_equal(live(f, a), 0);
	assert_int_equal(live(f, b), 1);

	/* b's idle time counts from its last packet. */
	gc(f, T0 + idle / 2 + idle);
	assert_int_equal(f->res.sessions_expired, 0);
	gc(f, T0 + idle / 2 + idle + 1);
	assert_int_equal(f->res.sessions_expired, 1);
	assert_int_equal(sw_reaped_of(f, b), 1);
	assert_int_equal(live(f, b), 0);
}

static void test_client_close_is_not_reaped_again(void **state)
{
	struct fx *f = *state;
	const char *a = "198.51.100.7", *b = "198.51.100.8";
	struct sw_source s;

	/* a: full handshake then FIN; b: half-open then RST. */
	assert_int_equal(syn(f, a, 1000), PASS);
	assert_int_equal(frame(f, a, 1000, PKT_ACK), PASS);
	assert_int_equal(frame(f, a, 1000, PKT_FIN | PKT_ACK), PASS);
	assert_int_equal(syn(f, b, 1000), PASS);
	assert_int_equal(frame(f, b, 1000, PKT_RST), PASS);
	assert_int_equal(swh_session_count(&f->h), 0);

	/* Past every session timeout, before the sources are idle long enough to go. */
	gc(f, T0 + f->s.idle_timeout_ns + 1);
	assert_res(&f->res, 0, 0, 0, 2, 0, 0);
	gc(f, T0 + f->s.idle_timeout_ns + 2);
	assert_res(&f->res, 0, 0, 0, 2, 0, 0);
	assert_int_equal(sw_reaped_of(f, a), NO_ENTRY);
	assert_int_equal(sw_reaped_of(f, b), NO_ENTRY);
	s = source(f, a);
	assert_int_equal(s.sessions_open, 0);
	assert_int_equal(s.sessions_total, 1);
	assert_int_equal(live(f, a), 0);
	assert_int_equal(live(f, b), 0);
}

static void test_late_fin_after_reap_is_not_counted_again(void **state)
{
	struct fx *f = *state;
	const char *a = "198.51.100.7";
	__u64 t = T0 + f->s.idle_timeout_ns + 1;

	f->s.max_sessions = 2;
	apply(f);
	assert_int_equal(syn(f, a, 1000), PASS);
	assert_int_equal(frame(f, a, 1000, PKT_ACK), PASS);
	gc(f, t);
	assert_int_equal(f->res.sessions_expired, 1);
	assert_int_equal(sw_reaped_of(f, a), 1);

	/* The client closes the session the GC already accounted for. */
	swh_set_now(&f->h, t);
	assert_int_equal(frame(f, a, 1000, PKT_FIN | PKT_ACK), PASS);
	assert_int_equal(source(f, a).sessions_open, 1);
	assert_int_equal(live(f, a), 0);

	/* Both slots are free: a double count would have left one. */
	assert_int_equal(syn(f, a, 1001), PASS);
	assert_int_equal(syn(f, a, 1002), PASS);
	assert_int_equal(syn(f, a, 1003), DROP);
	assert_int_equal(live(f, a), 2);
}

/* ---- sessions lost to LRU eviction ---- */

static void test_eviction_fixed_on_second_sighting(void **state)
{
	struct fx *f = *state;
	const char *a = "198.51.100.7", *b = "198.51.100.8";

	f->s.max_sessions = 2;
	apply(f);
	assert_int_equal(syn(f, a, 1000), PASS);
	assert_int_equal(syn(f, a, 1001), PASS);
	assert_int_equal(syn(f, b, 1000), PASS);
	evict(f, a, 1001);
	/* The program still counts the lost session. */
	assert_int_equal(syn(f, a, 1002), DROP);

	swh_set_now(&f->h, T0 + NS);
	gc(f, T0 + NS);
	assert_res(&f->res, 2, 0, 0, 2, 0, 0);
	assert_int_equal(sw_reaped_of(f, a), NO_ENTRY);
	assert_int_equal(live(f, a), 2);
	assert_int_equal(syn(f, a, 1002), DROP);

	gc(f, T0 + 2 * NS);
	assert_res(&f->res, 2, 0, 1, 2, 0, 0);
	assert_int_equal(sw_reaped_of(f, a), 1);
	assert_int_equal(sw_reaped_of(f, b), NO_ENTRY);
	assert_int_equal(live(f, a), 1);
	assert_int_equal(live(f, b), 1);

	/* Fixed once: a third pass finds nothing to do. */
	gc(f, T0 + 3 * NS);
	assert_res(&f->res, 2, 0, 0, 2, 0, 0);
	assert_int_equal(sw_reaped_of(f, a), 1);

	assert_int_equal(syn(f, a, 1002), PASS);
	assert_int_equal(live(f, a), 2);
	assert_int_equal(syn(f, a, 1003), DROP);
}

static void test_eviction_gap_seen_once_is_ignored(void **state)
{
	struct fx *f = *state;
	const char *a = "198.51.100.7";
	struct sw_session v;

	assert_int_equal(syn(f, a, 1000), PASS);
	assert_int_equal(syn(f, a, 1001), PASS);
	assert_int_equal(syn(f, a, 1002), PASS);

	/*
	 * A gap that is gone at the next pass (a SYN counted between the
	 * GC's walks of the two maps looks like this) must not be acted on.
	 */
	v = evict(f, a, 1001);
	gc(f, T0 + NS);
	assert_int_equal(f->res.sessions_evicted, 0);
	unevict(f, a, 1001, &v);
	gc(f, T0 + 2 * NS);
	assert_int_equal(f->res.sessions_evicted, 0);

	/* Seen again, but not on consecutive passes: it starts over. */
	v = evict(f, a, 1001);
	gc(f, T0 + 3 * NS);
	assert_int_equal(f->res.sessions_evicted, 0);
	assert_int_equal(sw_reaped_of(f, a), NO_ENTRY);

	/* A gap that changed between two passes is not the same suspicion either. */
	evict(f, a, 1002);
	gc(f, T0 + 4 * NS);
	assert_int_equal(f->res.sessions_evicted, 0);
	assert_int_equal(sw_reaped_of(f, a), NO_ENTRY);
	assert_int_equal(live(f, a), 3);

	gc(f, T0 + 5 * NS);
	assert_int_equal(f->res.sessions_evicted, 2);
	assert_int_equal(sw_reaped_of(f, a), 2);
	assert_int_equal(live(f, a), 1);
	assert_true(has_session(f, a, 1000));
}

static void test_eviction_and_expiry_in_one_pass(void **state)
{
	struct fx *f = *state;
	const char *a = "198.51.100.7";
	__u64 hs = f->s.handshake_timeout_ns;

	/* One session evicted, one expiring, one alive, all of one source. */
	assert_int_equal(syn(f, a, 1000), PASS);
	assert_int_equal(syn(f, a, 1001), PASS);
	swh_set_now(&f->h, T0 + hs);
	assert_int_equal(syn(f, a, 1002), PASS);
	evict(f, a, 1001);

	gc(f, T0 + hs + 1);
	assert_res(&f->res, 2, 1, 0, 1, 0, 0);
	assert_int_equal(sw_reaped_of(f, a), 1);
	/* The expiry is accounted; the eviction is only suspected. */
	assert_int_equal(live(f, a), 2);

	gc(f, T0 + hs + 2);
	assert_res(&f->res, 1, 0, 1, 1, 0, 0);
	assert_int_equal(sw_reaped_of(f, a), 2);
	assert_int_equal(live(f, a), 1);
	assert_int_equal(source(f, a).sessions_open, 3);
}

static void test_sessions_counted_per_aggregated_source(void **state)
{
	struct fx *f = *state;
	const char *net = "198.51.100.0", *v6net = "2001:db8:1::";

	/* Sessions of several addresses belong to one /24 (and one /64) source. */
	f->s.ipv4_prefix = 24;
	apply(f);
	assert_int_equal(syn(f, "198.51.100.1", 1000), PASS);
	assert_int_equal(syn(f, "203.0.113.1", 1000), PASS);
	assert_int_equal(syn(f, "198.51.100.2", 1000), PASS);
	assert_int_equal(syn(f, "2001:db8:1::1", 1000), PASS);
	assert_int_equal(syn(f, "198.51.100.3", 1000), PASS);
	assert_int_equal(syn(f, "2001:db8:1::2", 1000), PASS);
	assert_int_equal(swh_source_count(&f->h), 3);
	assert_int_equal(source(f, net).sessions_open, 3);
	assert_int_equal(source(f, v6net).sessions_open, 2);

	evict(f, "198.51.100.2", 1000);
	evict(f, "2001:db8:1::2", 1000);
	gc(f, T0 + NS);
	assert_res(&f->res, 4, 0, 0, 3, 0, 0);
	gc(f, T0 + 2 * NS);
	assert_res(&f->res, 4, 0, 2, 3, 0, 0);
	assert_int_equal(sw_reaped_of(f, net), 1);
	assert_int_equal(sw_reaped_of(f, v6net), 1);
	assert_int_equal(sw_reaped_of(f, "203.0.113.1"), NO_ENTRY);
	assert_int_equal(live(f, net), 2);
	assert_int_equal(live(f, v6net), 1);

	/* Two expiries of one source in one pass add up. */
	gc(f, T0 + f->s.handshake_timeout_ns + 1);
	assert_res(&f->res, 4, 4, 0, 3, 0, 0);
	assert_int_equal(sw_reaped_of(f, net), 3);
	assert_int_equal(sw_reaped_of(f, v6net), 2);
	assert_int_equal(sw_reaped_of(f, "203.0.113.1"), 1);
	assert_int_equal(live(f, net), 0);
	assert_int_equal(live(f, v6net), 0);
}

/* ---- sources ---- */

static void test_quiet_source_expires(void **state)
{
	struct fx *f = *state;
	const char *a = "198.51.100.7", *b = "2001:db8:1::7";
	__u64 idle = f->s.source_idle_ns;
	struct sw_source s;

	assert_int_equal(syn(f, a, 1000), PASS);
	assert_int_equal(frame(f, a, 1000, PKT_RST), PASS);
	/* b is seen later and stays. */
	swh_set_now(&f->h, T0 + idle / 2);
	assert_int_equal(syn(f, b, 1000), PASS);
	assert_int_equal(frame(f, b, 1000, PKT_RST), PASS);

	gc(f, T0 + idle);
	assert_res(&f->res, 0, 0, 0, 2, 0, 0);
	assert_true(has_source(f, a));

	gc(f, T0 + idle + 1);
	assert_res(&f->res, 0, 0, 0, 2, 1, 0);
	assert_false(has_source(f, a));
	assert_true(has_source(f, b));

	/* The program starts the source over. */
	swh_set_now(&f->h, T0 + idle + 1);
	assert_int_equal(syn(f, a, 1001), PASS);
	s = source(f, a);
	assert_int_equal(s.first_seen_ns, T0 + idle + 1);
	assert_int_equal(s.sessions_total, 1);
}

static void test_source_with_live_session_is_kept(void **state)
{
	struct fx *f = *state;
	const char *a = "198.51.100.7";
	__u64 idle = f->s.source_idle_ns;

	/* A session allowed to idle longer than a source: it alone keeps the source. */
	f->s.idle_timeout_ns = 2 * idle;
	apply(f);
	assert_int_equal(syn(f, a, 1000), PASS);
	assert_int_equal(frame(f, a, 1000, PKT_ACK), PASS);

	gc(f, T0 + idle + 1);
	assert_res(&f->res, 1, 0, 0, 1, 0, 0);
	assert_true(has_source(f, a));

	/* The session expires, and the source goes in the same pass, its sw_reaped entry with it. */
	gc(f, T0 + 2 * idle + 1);
	assert_res(&f->res, 1, 1, 0, 1, 1, 0);
	assert_false(has_source(f, a));
	assert_int_equal(sw_reaped_of(f, a), NO_ENTRY);
	assert_int_equal(swh_count_entries(f->h.skel->maps.sw_reaped), 0);

	/* A new source of that address does not inherit the old reaped count. */
	swh_set_now(&f->h, T0 + 2 * idle + 1);
	assert_int_equal(syn(f, a, 1001), PASS);
	assert_int_equal(live(f, a), 1);
}

static void test_source_reaped_entry_deleted_with_source(void **state)
{
	struct fx *f = *state;
	const char *a = "198.51.100.7";
	__u64 hs = f->s.handshake_timeout_ns, idle = f->s.source_idle_ns;

	f->s.max_sessions = 1;
	apply(f);
	assert_int_equal(syn(f, a, 1000), PASS);
	gc(f, T0 + hs + 1);
	assert_int_equal(f->res.sessions_expired, 1);
	assert_int_equal(sw_reaped_of(f, a), 1);

	gc(f, T0 + idle + 1);
	assert_res(&f->res, 0, 0, 0, 1, 1, 0);
	assert_false(has_source(f, a));
	assert_int_equal(sw_reaped_of(f, a), NO_ENTRY);

	/*
	 * Had the reaped count outlived the source, the new source (open 1)
	 * would count 0 live sessions and get a second slot.
	 */
	swh_set_now(&f->h, T0 + idle + 1);
	assert_int_equal(syn(f, a, 1001), PASS);
	assert_int_equal(syn(f, a, 1002), DROP);
}

static void test_penalised_source_is_kept(void **state)
{
	struct fx *f = *state;
	const char *a = "198.51.100.7";
	__u64 idle = f->s.source_idle_ns;
	struct sw_source s;

	/* A penalty longer than source_idle, offences forgotten before it ends. */
	f->s.max_sessions = 1;
	f->s.penalty_strikes = 1;
	f->s.penalty_base_ns = 2 * idle;
	f->s.penalty_max_ns = 2 * idle;
	f->s.penalty_forget_ns = idle / 2;
	apply(f);
	assert_int_equal(syn(f, a, 1000), PASS);
	assert_int_equal(frame(f, a, 1000, PKT_RST), PASS);
	assert_int_equal(syn(f, a, 1001), PASS);
	assert_int_equal(syn(f, a, 1002), DROP);	/* concurrency: strike, penalty */
	s = source(f, a);
	assert_int_equal(s.penalty_until_ns, T0 + 2 * idle);
	assert_int_equal(s.last_offence_ns, T0);
	assert_int_equal(frame(f, a, 1001, PKT_RST), DROP);	/* penalised: dropped, session kept */

	gc(f, T0 + idle + 1);
	assert_int_equal(f->res.sessions_expired, 1);
	assert_int_equal(f->res.sources_expired, 0);
	assert_true(has_source(f, a));
	gc(f, T0 + 2 * idle - 1);
	assert_int_equal(f->res.sources_expired, 0);
	assert_true(has_source(f, a));

	/* Over (the program lets it go at penalty_until too), the offence forgotten: the source goes. */
	gc(f, T0 + 2 * idle);
	assert_int_equal(f->res.sources_expired, 1);
	assert_false(has_source(f, a));
	assert_int_equal(sw_reaped_of(f, a), NO_ENTRY);
}

static void test_recent_offender_is_kept(void **state)
{
	struct fx *f = *state;
	const char *a = "198.51.100.7";
	__u64 idle = f->s.source_idle_ns, forget = f->s.penalty_forget_ns;
	__u64 later;

	/* A short penalty; the offence is remembered for the default `forget`. */
	assert_true(forget > 2 * idle);
	f->s.max_sessions = 1;
	f->s.penalty_strikes = 1;
	f->s.penalty_base_ns = 60 * NS;
	f->s.penalty_max_ns = 3600 * NS;
	apply(f);
	assert_int_equal(syn(f, a, 1000), PASS);
	assert_int_equal(syn(f, a, 1001), DROP);
	assert_int_equal(source(f, a).penalty_until_ns, T0 + 60 * NS);
	assert_int_equal(frame(f, a, 1000, PKT_RST), DROP);

	/* Quiet, penalty over, no session: only the remembered offence keeps it. */
	gc(f, T0 + idle + 1);
	assert_int_equal(f->res.sessions_expired, 1);
	assert_int_equal(f->res.sources_expired, 0);
	assert_true(has_source(f, a));

	/*
	 * It is kept so that the escalation survives: a repeat offence
	 * before `forget` doubles the penalty.
	 */
	later = T0 + idle + 2;
	swh_set_now(&f->h, later);
	assert_int_equal(syn(f, a, 1002), PASS);
	assert_int_equal(syn(f, a, 1003), DROP);
	assert_int_equal(source(f, a).penalty_until_ns, later + 120 * NS);
	assert_int_equal(source(f, a).offences, 2);
	assert_int_equal(frame(f, a, 1002, PKT_RST), DROP);

	gc(f, later + forget);
	assert_int_equal(f->res.sessions_expired, 1);
	assert_int_equal(f->res.sources_expired, 0);
	gc(f, later + forget + 1);
	assert_int_equal(f->res.sources_expired, 1);
	assert_false(has_source(f, a));
}

/* ---- allow/deny entries ---- */

static struct sw_cidr cidr(const char *text)
{
	struct sw_cidr c;
	char err[SW_ERR_LEN];

	if (sw_parse_cidr(text, &c, err))
		fail_msg("%s: %s", text, err);
	return c;
}

static void put(struct fx *f, enum sw_list_kind kind, const char *text, __u64 expires, __u32 origin)
{
	struct sw_cidr c = cidr(text);

	assert_int_equal(sw_list_put(&f->k, kind, &c, expires, origin), 0);
}

static bool listed(struct fx *f, enum sw_list_kind kind, const char *text, struct sw_list_entry *e)
{
	struct sw_cidr c = cidr(text);
	struct sw_list_entry tmp;

	return sw_list_get(&f->k, kind, &c, e ? e : &tmp) == 0;
}

static void test_expired_list_entries_removed(void **state)
{
	struct fx *f = *state;
	const enum sw_list_kind deny = SW_LIST_KIND_DENY, allow = SW_LIST_KIND_ALLOW;
	const char *banned = "203.0.113.9";
	__u64 gen;

	put(f, deny, "203.0.113.0/24", T0 + 10 * NS, SW_ORIGIN_STORE);
	put(f, deny, "2001:db8:bad::/48", T0 + 5 * NS, SW_ORIGIN_STORE);
	put(f, deny, "198.51.100.9", 0, SW_ORIGIN_STORE);
	put(f, allow, "192.0.2.0/24", T0 + 100 * NS, SW_ORIGIN_STORE);
	sw_list_bump_gen(&f->k);
	gen = f->k.config->list_gen;

	assert_int_equal(syn(f, banned, 1000), DROP);
	assert_int_equal(syn(f, "198.51.100.9", 1000), DROP);

	gc(f, T0 + 5 * NS - 1);
	assert_int_equal(f->res.list_expired, 0);
	assert_int_equal(f->k.config->list_gen, gen);

	gc(f, T0 + 10 * NS);
	assert_int_equal(f->res.list_expired, 2);
	assert_int_equal(f->k.config->list_gen, gen + 1);
	assert_false(listed(f, deny, "203.0.113.0/24", NULL));
	assert_false(listed(f, deny, "2001:db8:bad::/48", NULL));
	assert_true(listed(f, deny, "198.51.100.9", NULL));
	assert_true(listed(f, allow, "192.0.2.0/24", NULL));

	/* Nothing more to do: no second bump. */
	gc(f, T0 + 11 * NS);
	assert_int_equal(f->res.list_expired, 0);
	assert_int_equal(f->k.config->list_gen, gen + 1);

	/* The known source re-resolves its verdict under the new generation. */
	swh_set_now(&f->h, T0 + 11 * NS);
	assert_int_equal(syn(f, banned, 1001), PASS);
	assert_int_equal(source(f, banned).list_gen, gen + 1);
	assert_int_equal(source(f, banned).list_verdict, SW_LIST_NONE);
	assert_int_equal(syn(f, "2001:db8:bad::1", 1000), PASS);
	assert_int_equal(syn(f, "198.51.100.9", 1001), DROP);

	gc(f, T0 + 100 * NS);
	assert_int_equal(f->res.list_expired, 1);
	assert_false(listed(f, allow, "192.0.2.0/24", NULL));
	assert_int_equal(f->k.config->list_gen, gen + 2);
}

static void test_expired_cli_entry_leaves_config_entry(void **state)
{
	struct fx *f = *state;
	const enum sw_list_kind deny = SW_LIST_KIND_DENY;
	struct sw_list_entry e;

	/*
	 * 203.0.113.0/24 is in the config's [deny]; a timed CLI ban of the
	 * same prefix took its place in the kernel (sw_lists_sync loads the
	 * store over the config). When the CLI ban runs out, the config's
	 * permanent ban must still be there.
	 */
	f->s.deny = calloc(1, sizeof(*f->s.deny));
	assert_non_null(f->s.deny);
	f->s.deny[0].cidr = cidr("203.0.113.0/24");
	f->s.n_deny = 1;
	put(f, deny, "203.0.113.0/24", T0 + 10 * NS, SW_ORIGIN_STORE);
	put(f, deny, "198.51.100.0/24", T0 + 10 * NS, SW_ORIGIN_STORE);

	gc(f, T0 + 10 * NS);
	assert_int_equal(f->res.list_expired, 2);
	assert_true(listed(f, deny, "203.0.113.0/24", &e));
	assert_int_equal(e.expires_ns, 0);
	assert_int_equal(e.origin, SW_ORIGIN_CONFIG);
	assert_false(listed(f, deny, "198.51.100.0/24", NULL));

	swh_set_now(&f->h, T0 + 10 * NS);
	assert_int_equal(syn(f, "203.0.113.9", 1000), DROP);
	assert_int_equal(syn(f, "198.51.100.9", 1000), PASS);

	gc(f, T0 + 1000 * NS);
	assert_int_equal(f->res.list_expired, 0);
	assert_true(listed(f, deny, "203.0.113.0/24", NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		GC_TEST(test_half_open_expires_after_handshake_timeout),
		GC_TEST(test_established_expires_after_idle_timeout),
		GC_TEST(test_client_close_is_not_reaped_again),
		GC_TEST(test_late_fin_after_reap_is_not_counted_again),
		GC_TEST(test_eviction_fixed_on_second_sighting),
		GC_TEST(test_eviction_gap_seen_once_is_ignored),
		GC_TEST(test_eviction_and_expiry_in_one_pass),
		GC_TEST(test_sessions_counted_per_aggregated_source),
		GC_TEST(test_quiet_source_expires),
		GC_TEST(test_source_with_live_session_is_kept),
		GC_TEST(test_source_reaped_entry_deleted_with_source),
		GC_TEST(test_penalised_source_is_kept),
		GC_TEST(test_recent_offender_is_kept),
		GC_TEST(test_expired_list_entries_removed),
		GC_TEST(test_expired_cli_entry_leaves_config_entry),
	};

	return cmocka_run_group_tests_name("daemon gc", tests, NULL, NULL);
}
