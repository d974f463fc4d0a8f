// SPDX-License-Identifier: GPL-2.0
/*
 * The daemon's GC (user/kernel/gc.c) against the real XDP program: state is made
 * by running frames through the program, sw_gc_run() is called with a
 * chosen time on the program's test clock, and the program must then act
 * on what the GC did (a reaped session frees a concurrency slot, a removed
 * ban lets SYNs through).
 *
 * What each side owns: a SYN only reserves a slot (the source's pending
 * count), and that reservation lapses in the kernel after handshake_timeout;
 * the session record is made by the handshake's ACK (or by data of a
 * connection we have no record of), and the GC judges it idle by its packet
 * count standing still between runs for more than idle_timeout.
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
#include "loader.h"
#include "gc.h"
#include "lists.h"

#define NS   SWH_NS
#define T0   SWH_T0
#define PASS XDP_PASS
#define DROP XDP_DROP

/* The value sw_reaped_of() gives for a source without a sw_reaped entry. */
#define NO_ENTRY (-1LL)

/* Payload bytes of a data segment. */
#define DATA_LEN 100

struct fx {
	struct swh h;
	struct sw_kernel k;
	struct sw_settings s;
	struct sw_gc gc;
	struct sw_gc_result res;
};

static void apply(struct fx *f)
{
	swh_apply_settings(&f->h, &f->k, &f->s);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	if (swh_open_kernel(&f->h, &f->k)) {
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

static __u32 run(struct fx *f, const struct pkt_opts *o)
{
	uint8_t buf[PKT_MAX];
	size_t len = pkt_build(o, buf);
	__u32 ret = ~0U;

	assert_true(len > 0);
	assert_int_equal(swh_run(&f->h, buf, len, &ret), 0);
	return ret;
}

/* A frame without payload from the client @src:@sport to port 25, at the program's current time. */
static __u32 frame(struct fx *f, const char *src, __u16 sport, __u8 flags)
{
	struct pkt_opts o = { .src = src, .sport = sport, .dport = 25, .flags = flags };

	return run(f, &o);
}

static __u32 syn(struct fx *f, const char *src, __u16 sport)
{
	return frame(f, src, sport, PKT_SYN);
}

/* A segment carrying DATA_LEN bytes of payload. */
static __u32 data(struct fx *f, const char *src, __u16 sport)
{
	struct pkt_opts o = {
		.src = src, .sport = sport, .dport = 25,
		.flags = PKT_ACK | PKT_PSH, .payload = DATA_LEN,
	};

	return run(f, &o);
}

/* One GC pass at @now (the program's clock); the result is in f->res. */
static void gc(struct fx *f, __u64 now)
{
	assert_int_equal(sw_gc_run(&f->gc, &f->k, &f->s, now, &f->res), 0);
}

/* The daemon restarts: the GC's memory of sessions and drifts is gone. */
static void gc_restart(struct fx *f)
{
	sw_gc_free(&f->gc);
	sw_gc_init(&f->gc);
}

static struct sw_stats stats(struct fx *f)
{
	struct sw_stats st = { 0 };

	assert_int_equal(swh_stats(&f->h, &st), 0);
	return st;
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

/* Handshakes of the source pending at the program's current time, as the GC counts them. */
static uint32_t pending(struct fx *f, const char *addr)
{
	struct sw_source s = source(f, addr);

	return sw_source_pending(&s, swh_now(&f->h));
}

/* The GC only ever deletes sources: one it keeps is left exactly as it was. */
static void assert_source_unchanged(struct fx *f, const char *addr, const struct sw_source *before)
{
	struct sw_source now = source(f, addr);

	assert_memory_equal(&now, before, sizeof(now));
}

static bool has_session(struct fx *f, const char *addr, __u16 sport)
{
	struct sw_session sess;

	return swh_session(&f->h, addr, sport, NULL, 25, &sess) == 0;
}

static struct sw_session session(struct fx *f, const char *addr, __u16 sport)
{
	struct sw_session sess = { 0 };
	int err = swh_session(&f->h, addr, sport, NULL, 25, &sess);

	if (err)
		fail_msg("no session %s:%u: %s", addr, sport, strerror(-err));
	return sess;
}

/* A completed handshake at the program's current time: the ACK makes the record. */
static void open_session(struct fx *f, const char *addr, __u16 sport)
{
	assert_int_equal(syn(f, addr, sport), PASS);
	assert_false(has_session(f, addr, sport));
	assert_int_equal(frame(f, addr, sport, PKT_ACK), PASS);
	assert_true(has_session(f, addr, sport));
	assert_int_equal(session(f, addr, sport).flags, SW_SESS_HANDSHAKE);
}

/* The key of the session @addr:@sport -> the pkt.h default server, port 25. */
static struct sw_session_key session_key(const char *addr, __u16 sport)
{
	struct sw_session_key k = { 0 };
	int v6 = strchr(addr, ':') != NULL;
	int fam = v6 ? AF_INET6 : AF_INET;

	assert_int_equal(inet_pton(fam, addr, k.saddr), 1);
	assert_int_equal(inet_pton(fam, v6 ? "2001:db8::1" : "192.0.2.1", k.daddr), 1);
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

/* ---- handshakes and sessions ---- */

static void test_half_open_slot_lapses_in_kernel(void **state)
{
	struct fx *f = *state;
	const char *a = "198.51.100.7";
	__u64 hs = f->s.handshake_timeout_ns;
	__u64 lapse = T0 + NS + hs;
	struct sw_source s;

	f->s.max_sessions = 1;
	apply(f);

	/* The one slot is reserved by a client that never completes the handshake. */
	assert_int_equal(syn(f, a, 1000), PASS);
	assert_int_equal(syn(f, a, 1001), DROP);
	/* Its retransmission is the same connection: passed, not charged, slot renewed. */
	swh_set_now(&f->h, T0 + NS);
	assert_int_equal(syn(f, a, 1000), PASS);
	assert_int_equal(stats(f).syn_retransmit, 1);
	assert_int_equal(stats(f).admitted, 1);
	assert_int_equal(pending(f, a), 1);
	assert_int_equal(source(f, a).sessions_open, 0);
	assert_int_equal(swh_session_count(&f->h), 0);

	/* Nothing for the GC to do, however late it runs: no record, no reaping. */
	s = source(f, a);
	gc(f, lapse + 1);
	assert_res(&f->res, 0, 0, 0, 1, 0, 0);
	gc(f, lapse + 2);
	assert_res(&f->res, 0, 0, 0, 1, 0, 0);
	assert_int_equal(sw_reaped_of(f, a), NO_ENTRY);
	assert_source_unchanged(f, a, &s);

	/* The kernel keeps the slot until handshake_timeout after the last SYN... */
	swh_set_now(&f->h, lapse - 1);
	assert_int_equal(pending(f, a), 1);
	assert_int_equal(syn(f, a, 1001), DROP);

	/* ...and lets it lapse then: the next SYN is admitted. */
	swh_set_now(&f->h, lapse);
	assert_int_equal(pending(f, a), 0);
	assert_int_equal(syn(f, a, 1001), PASS);
	assert_int_equal(pending(f, a), 1);
	/* The lapsed handshake is forgotten: its SYN now is a new connection... */
	assert_int_equal(syn(f, a, 1000), DROP);
	assert_int_equal(stats(f).syn_retransmit, 1);
	/* ...and its late ACK makes no record. */
	assert_int_equal(frame(f, a, 1000, PKT_ACK), PASS);
	assert_false(has_session(f, a, 1000));

	/* The handshake admitted after the lapse completes normally. */
	assert_int_equal(frame(f, a, 1001, PKT_ACK), PASS);
	assert_true(has_session(f, a, 1001));
	assert_int_equal(pending(f, a), 0);
	assert_int_equal(source(f, a).sessions_open, 1);
	assert_int_equal(stats(f).sessions_opened, 1);
	assert_int_equal(syn(f, a, 1002), DROP);
	assert_int_equal(stats(f).dropped[SW_R_CONCURRENCY], 4);
	assert_int_equal(sw_reaped_of(f, a), NO_ENTRY);
}

static void test_established_expires_after_idle_timeout(void **state)
{
	struct fx *f = *state;
	const char *a = "198.51.100.7", *b = "2001:db8:1::7", *c = "198.51.100.8";
	__u64 idle = f->s.idle_timeout_ns;

	f->s.max_sessions = 1;
	apply(f);
	open_session(f, a, 1000);
	open_session(f, b, 1000);
	open_session(f, c, 1000);

	/* First sighting: every session counts as active now. */
	gc(f, T0);
	assert_res(&f->res, 3, 0, 0, 3, 0, 0);

	/* b talks and the next run sees it; a stays quiet. */
	swh_set_now(&f->h, T0 + idle / 2);
	assert_int_equal(data(f, b, 1000), PASS);
	assert_int_equal(session(f, b, 1000).packets, 2);
	gc(f, T0 + idle / 2);
	assert_res(&f->res, 3, 0, 0, 3, 0, 0);
	/* c talks right after that run: its activity is dated to the run that sees it. */
	swh_set_now(&f->h, T0 + idle / 2 + 1);
	assert_int_equal(data(f, c, 1000), PASS);

	/* The timeout is "more than": exactly at it the session is kept. */
	gc(f, T0 + idle);
	assert_res(&f->res, 3, 0, 0, 3, 0, 0);
	assert_true(has_session(f, a, 1000));
	swh_set_now(&f->h, T0 + idle);
	assert_int_equal(syn(f, a, 1001), DROP);	/* the slot is still held */

	gc(f, T0 + idle + 1);
	assert_res(&f->res, 3, 1, 0, 3, 0, 0);
	assert_false(has_session(f, a, 1000));
	assert_true(has_session(f, b, 1000));
	assert_true(has_session(f, c, 1000));
	assert_int_equal(sw_reaped_of(f, a), 1);
	assert_int_equal(sw_reaped_of(f, b), NO_ENTRY);
	assert_int_equal(sw_reaped_of(f, c), NO_ENTRY);
	/* The program's count is untouched: the reaped count makes up for it. */
	assert_int_equal(source(f, a).sessions_open, 1);
	assert_int_equal(live(f, a), 0);
	assert_int_equal(live(f, b), 1);

	/* The program now sees a's slot free. */
	swh_set_now(&f->h, T0 + idle + 1);
	assert_int_equal(syn(f, a, 1001), PASS);
	assert_int_equal(syn(f, a, 1002), DROP);

	/* b's idle time counts from the run that saw its packet. */
	gc(f, T0 + idle / 2 + idle);
	assert_res(&f->res, 2, 0, 0, 3, 0, 0);
	gc(f, T0 + idle / 2 + idle + 1);
	assert_res(&f->res, 2, 1, 0, 3, 0, 0);
	assert_false(has_session(f, b, 1000));
	assert_int_equal(sw_reaped_of(f, b), 1);
	assert_int_equal(live(f, b), 0);

	/* c's from the run at T0 + idle, the first to see its packet. */
	gc(f, T0 + 2 * idle);
	assert_res(&f->res, 1, 0, 0, 3, 0, 0);
	assert_true(has_session(f, c, 1000));
	gc(f, T0 + 2 * idle + 1);
	assert_res(&f->res, 1, 1, 0, 3, 0, 0);
	assert_false(has_session(f, c, 1000));
	assert_int_equal(sw_reaped_of(f, c), 1);
	assert_int_equal(sw_reaped_of(f, a), 1);
	assert_int_equal(stats(f).dropped[SW_R_CONCURRENCY], 2);
}

static void test_gc_restart_gives_fresh_idle_timeout(void **state)
{
	struct fx *f = *state;
	const char *a = "198.51.100.7", *b = "198.51.100.8";
	__u64 idle = f->s.idle_timeout_ns;

	open_session(f, a, 1000);
	gc(f, T0);
	gc(f, T0 + idle / 2);
	assert_res(&f->res, 1, 0, 0, 1, 0, 0);

	/*
	 * The daemon restarts. It cannot know how long a was quiet before:
	 * a gets a whole idle_timeout from the new daemon's first sighting,
	 * like b, which is new.
	 */
	gc_restart(f);
	swh_set_now(&f->h, T0 + idle / 2);
	open_session(f, b, 1000);
	gc(f, T0 + idle);
	assert_res(&f->res, 2, 0, 0, 2, 0, 0);
	/* The old daemon would have reaped a here. */
	gc(f, T0 + idle + 1);
	assert_res(&f->res, 2, 0, 0, 2, 0, 0);
	gc(f, T0 + 2 * idle);
	assert_res(&f->res, 2, 0, 0, 2, 0, 0);
	assert_int_equal(sw_reaped_of(f, a), NO_ENTRY);

	gc(f, T0 + 2 * idle + 1);
	assert_res(&f->res, 2, 2, 0, 2, 0, 0);
	assert_int_equal(swh_session_count(&f->h), 0);
	assert_int_equal(sw_reaped_of(f, a), 1);
	assert_int_equal(sw_reaped_of(f, b), 1);
}

static void test_reused_session_key_is_a_new_session(void **state)
{
	struct fx *f = *state;
	const char *a = "198.51.100.7";
	__u64 idle = f->s.idle_timeout_ns;
	__u64 t = T0 + idle - NS;

	open_session(f, a, 1000);
	assert_int_equal(session(f, a, 1000).packets, 1);
	gc(f, T0);

	/*
	 * Just before it would expire, the client resets it and connects
	 * again from the same port. The new record has the packet count the
	 * GC remembers of the old one: it must still be judged as new.
	 */
	swh_set_now(&f->h, t);
	assert_int_equal(frame(f, a, 1000, PKT_RST), PASS);
	assert_false(has_session(f, a, 1000));
	open_session(f, a, 1000);
	assert_int_equal(session(f, a, 1000).packets, 1);
	assert_int_equal(session(f, a, 1000).start_ns, t);
	assert_int_equal(stats(f).sessions_closed, 1);

	gc(f, T0 + idle + 1);
	assert_res(&f->res, 1, 0, 0, 1, 0, 0);
	assert_true(has_session(f, a, 1000));
	assert_int_equal(live(f, a), 1);

	gc(f, T0 + 2 * idle + 1);
	assert_res(&f->res, 1, 0, 0, 1, 0, 0);
	gc(f, T0 + 2 * idle + 2);
	assert_res(&f->res, 1, 1, 0, 1, 0, 0);
	assert_int_equal(sw_reaped_of(f, a), 1);
	assert_int_equal(live(f, a), 0);
}

static void test_client_close_is_not_reaped_again(void **state)
{
	struct fx *f = *state;
	const char *a = "198.51.100.7", *b = "198.51.100.8";
	__u64 idle = f->s.idle_timeout_ns;
	struct sw_session sess;
	struct sw_source s;

	f->s.max_sessions = 1;
	apply(f);

	/* a: full handshake, data, then FIN; the ACK of the server's FIN follows. */
	open_session(f, a, 1000);
	gc(f, T0);
	assert_res(&f->res, 1, 0, 0, 1, 0, 0);
	assert_int_equal(data(f, a, 1000), PASS);
	assert_int_equal(frame(f, a, 1000, PKT_FIN | PKT_ACK), PASS);
	assert_false(has_session(f, a, 1000));
	assert_int_equal(frame(f, a, 1000, PKT_ACK), PASS);
	assert_false(has_session(f, a, 1000));
	assert_int_equal(stats(f).sessions_opened, 1);
	assert_int_equal(stats(f).sessions_closed, 1);

	/* b: half-open, then RST: its reserved slot is released, no record made. */
	assert_int_equal(syn(f, b, 1000), PASS);
	assert_int_equal(pending(f, b), 1);
	assert_int_equal(frame(f, b, 1000, PKT_RST), PASS);
	assert_int_equal(pending(f, b), 0);
	assert_int_equal(swh_session_count(&f->h), 0);

	/* Past every session timeout, before the sources are idle long enough to go. */
	gc(f, T0 + idle + 1);
	assert_res(&f->res, 0, 0, 0, 2, 0, 0);
	gc(f, T0 + idle + 2);
	assert_res(&f->res, 0, 0, 0, 2, 0, 0);
	assert_int_equal(sw_reaped_of(f, a), NO_ENTRY);
	assert_int_equal(sw_reaped_of(f, b), NO_ENTRY);
	s = source(f, a);
	assert_int_equal(s.sessions_open, 0);
	assert_int_equal(s.sessions_total, 1);
	assert_int_equal(live(f, a), 0);
	assert_int_equal(live(f, b), 0);

	/* b's one slot is free for a new connection. */
	swh_set_now(&f->h, T0 + idle + 2);
	assert_int_equal(syn(f, b, 1001), PASS);
	assert_int_equal(syn(f, b, 1002), DROP);

	/* Data of a connection we hold no record of is tracked again. */
	assert_int_equal(data(f, a, 1000), PASS);
	sess = session(f, a, 1000);
	assert_int_equal(sess.flags, 0);
	assert_int_equal(sess.packets, 1);
	assert_int_equal(sess.start_ns, T0 + idle + 2);
	assert_int_equal(stats(f).sessions_opened, 2);
	s = source(f, a);
	assert_int_equal(s.sessions_open, 1);
	assert_int_equal(s.sessions_total, 2);
	assert_int_equal(live(f, a), 1);
}

static void test_late_fin_after_reap_is_not_counted_again(void **state)
{
	struct fx *f = *state;
	const char *a = "198.51.100.7";
	__u64 t = T0 + f->s.idle_timeout_ns + 1;

	f->s.max_sessions = 2;
	apply(f);
	open_session(f, a, 1000);
	gc(f, T0);
	gc(f, t);
	assert_res(&f->res, 1, 1, 0, 1, 0, 0);
	assert_int_equal(sw_reaped_of(f, a), 1);

	/* The client closes the session the GC already accounted for. */
	swh_set_now(&f->h, t);
	assert_int_equal(frame(f, a, 1000, PKT_FIN | PKT_ACK), PASS);
	assert_false(has_session(f, a, 1000));
	assert_int_equal(stats(f).sessions_closed, 0);
	assert_int_equal(source(f, a).sessions_open, 1);
	assert_int_equal(live(f, a), 0);

	/* Both slots are free: a double count would have left one. */
	assert_int_equal(syn(f, a, 1001), PASS);
	assert_int_equal(syn(f, a, 1002), PASS);
	assert_int_equal(syn(f, a, 1003), DROP);
	assert_int_equal(pending(f, a), 2);
	assert_int_equal(live(f, a), 0);
}

static void test_reaped_session_resumed_by_data(void **state)
{
	struct fx *f = *state;
	const char *a = "198.51.100.7";
	__u64 idle = f->s.idle_timeout_ns;
	__u64 t = T0 + idle + 1;
	struct sw_source s;

	f->s.max_sessions = 1;
	apply(f);
	open_session(f, a, 1000);
	gc(f, T0);

	/* At max_sessions, data of an unknown connection makes no record. */
	swh_set_now(&f->h, T0 + NS);
	assert_int_equal(data(f, a, 1001), PASS);
	assert_false(has_session(f, a, 1001));
	assert_int_equal(stats(f).sessions_untracked, 1);

	gc(f, t);
	assert_res(&f->res, 1, 1, 0, 1, 0, 0);
	assert_int_equal(live(f, a), 0);

	/* The reaped session speaks again: tracked again, and counted live. */
	swh_set_now(&f->h, t);
	assert_int_equal(data(f, a, 1000), PASS);
	assert_true(has_session(f, a, 1000));
	assert_int_equal(session(f, a, 1000).flags, 0);
	s = source(f, a);
	assert_int_equal(s.sessions_open, 2);
	assert_int_equal(live(f, a), 1);
	assert_int_equal(data(f, a, 1001), PASS);
	assert_false(has_session(f, a, 1001));
	assert_int_equal(stats(f).sessions_untracked, 2);

	/* A new record for the GC: first seen now, not expired with the old one's history. */
	gc(f, t + 1);
	assert_res(&f->res, 1, 0, 0, 1, 0, 0);
	assert_int_equal(sw_reaped_of(f, a), 1);

	/* Its close is counted once, by the program. */
	assert_int_equal(frame(f, a, 1000, PKT_FIN | PKT_ACK), PASS);
	assert_false(has_session(f, a, 1000));
	assert_int_equal(source(f, a).sessions_open, 1);
	assert_int_equal(live(f, a), 0);
	gc(f, t + idle + 2);
	assert_res(&f->res, 0, 0, 0, 1, 0, 0);
	assert_int_equal(sw_reaped_of(f, a), 1);
	assert_int_equal(syn(f, a, 1002), PASS);
	assert_int_equal(syn(f, a, 1003), DROP);
}

/* ---- sessions lost to LRU eviction ---- */

static void test_eviction_fixed_on_second_sighting(void **state)
{
	struct fx *f = *state;
	const char *a = "198.51.100.7", *b = "198.51.100.8";

	f->s.max_sessions = 2;
	apply(f);
	open_session(f, a, 1000);
	open_session(f, a, 1001);
	open_session(f, b, 1000);
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
	assert_int_equal(syn(f, a, 1003), DROP);
	assert_int_equal(frame(f, a, 1002, PKT_ACK), PASS);
	assert_int_equal(live(f, a), 2);

	/* The open count now matches the map: no new suspicion. */
	gc(f, T0 + 4 * NS);
	assert_res(&f->res, 3, 0, 0, 2, 0, 0);
	gc(f, T0 + 5 * NS);
	assert_res(&f->res, 3, 0, 0, 2, 0, 0);
	assert_int_equal(sw_reaped_of(f, a), 1);
}

static void test_eviction_gap_seen_once_is_ignored(void **state)
{
	struct fx *f = *state;
	const char *a = "198.51.100.7";
	struct sw_session v;

	open_session(f, a, 1000);
	open_session(f, a, 1001);
	open_session(f, a, 1002);

	/*
	 * A gap that is gone at the next pass (a record made between the
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
	assert_res(&f->res, 1, 0, 2, 1, 0, 0);
	assert_int_equal(sw_reaped_of(f, a), 2);
	assert_int_equal(live(f, a), 1);
	assert_true(has_session(f, a, 1000));
}

static void test_eviction_and_expiry_in_one_pass(void **state)
{
	struct fx *f = *state;
	const char *a = "198.51.100.7";
	__u64 idle = f->s.idle_timeout_ns;

	/* One session evicted, one expiring, one alive, all of one source. */
	open_session(f, a, 1000);
	open_session(f, a, 1001);
	open_session(f, a, 1002);
	gc(f, T0);
	assert_res(&f->res, 3, 0, 0, 1, 0, 0);
	swh_set_now(&f->h, T0 + idle / 2);
	assert_int_equal(data(f, a, 1002), PASS);
	gc(f, T0 + idle / 2);
	evict(f, a, 1001);

	/*
	 * The expiry is accounted before the open count is compared with
	 * the map, so the gap is the eviction alone, on both passes.
	 */
	gc(f, T0 + idle + 1);
	assert_res(&f->res, 2, 1, 0, 1, 0, 0);
	assert_int_equal(sw_reaped_of(f, a), 1);
	assert_int_equal(live(f, a), 2);	/* the eviction is only suspected */

	gc(f, T0 + idle + 2);
	assert_res(&f->res, 1, 0, 1, 1, 0, 0);
	assert_int_equal(sw_reaped_of(f, a), 2);
	assert_int_equal(live(f, a), 1);
	assert_int_equal(source(f, a).sessions_open, 3);
	assert_false(has_session(f, a, 1000));
	assert_true(has_session(f, a, 1002));
}

static void test_sessions_counted_per_aggregated_source(void **state)
{
	struct fx *f = *state;
	const char *net = "198.51.100.0", *v6net = "2001:db8:1::";
	__u64 idle = f->s.idle_timeout_ns;

	/* Sessions of several addresses belong to one /24 (and one /64) source. */
	f->s.ipv4_prefix = 24;
	apply(f);
	open_session(f, "198.51.100.1", 1000);
	open_session(f, "203.0.113.1", 1000);
	open_session(f, "198.51.100.2", 1000);
	open_session(f, "2001:db8:1::1", 1000);
	open_session(f, "198.51.100.3", 1000);
	open_session(f, "2001:db8:1::2", 1000);
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
	gc(f, T0 + NS + idle + 1);
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
	/* Traffic that is not a SYN does not keep a source. */
	swh_set_now(&f->h, T0 + idle);
	assert_int_equal(frame(f, a, 1000, PKT_ACK), PASS);
	assert_int_equal(source(f, a).last_syn_ns, T0);

	gc(f, T0 + idle);
	assert_res(&f->res, 0, 0, 0, 2, 0, 0);
	assert_true(has_source(f, a));

	gc(f, T0 + idle + 1);
	assert_res(&f->res, 0, 0, 0, 2, 1, 0);
	assert_false(has_source(f, a));
	assert_true(has_source(f, b));
	assert_int_equal(sw_reaped_of(f, a), NO_ENTRY);

	/* The program starts the source over. */
	swh_set_now(&f->h, T0 + idle + 1);
	assert_int_equal(syn(f, a, 1001), PASS);
	s = source(f, a);
	assert_int_equal(s.first_seen_ns, T0 + idle + 1);
	assert_int_equal(s.syn, 1);
	assert_int_equal(s.admitted, 1);
	assert_int_equal(pending(f, a), 1);
	assert_int_equal(s.sessions_total, 0);

	gc(f, T0 + idle / 2 + idle + 1);
	assert_res(&f->res, 0, 0, 0, 2, 1, 0);
	assert_false(has_source(f, b));
	assert_true(has_source(f, a));
}

static void test_source_with_live_session_is_kept(void **state)
{
	struct fx *f = *state;
	const char *a = "198.51.100.7";
	__u64 idle = f->s.source_idle_ns;

	/* A session allowed to idle longer than a source: it alone keeps the source. */
	f->s.idle_timeout_ns = 2 * idle;
	f->s.max_sessions = 1;
	apply(f);
	open_session(f, a, 1000);

	gc(f, T0);
	gc(f, T0 + idle + 1);
	assert_res(&f->res, 1, 0, 0, 1, 0, 0);
	assert_true(has_source(f, a));

	/* The session expires, and the source goes in the same pass, with its sw_reaped entry. */
	gc(f, T0 + 2 * idle + 1);
	assert_res(&f->res, 1, 1, 0, 1, 1, 0);
	assert_false(has_source(f, a));
	assert_int_equal(sw_reaped_of(f, a), NO_ENTRY);
	assert_int_equal(swh_count_entries(f->h.skel->maps.sw_reaped), 0);

	/*
	 * A new source of that address does not inherit the old reaped
	 * count: with it, the new session would count 0 live and a second
	 * one would be admitted.
	 */
	swh_set_now(&f->h, T0 + 2 * idle + 1);
	open_session(f, a, 1001);
	assert_int_equal(live(f, a), 1);
	assert_int_equal(syn(f, a, 1002), DROP);
}

static void test_source_with_session_in_map_is_kept(void **state)
{
	struct fx *f = *state;
	const char *a = "198.51.100.7";
	__u64 idle = f->s.source_idle_ns;

	/*
	 * The open count says no live session (here: the reaped count was
	 * set over it), but a record is still in the map: the source must
	 * stay, or its record would outlive it.
	 */
	f->s.idle_timeout_ns = 2 * idle;
	apply(f);
	open_session(f, a, 1000);
	assert_int_equal(swh_set_reaped(&f->h, a, 1), 0);
	assert_int_equal(live(f, a), 0);

	gc(f, T0);
	gc(f, T0 + idle + 1);
	assert_res(&f->res, 1, 0, 0, 1, 0, 0);
	assert_true(has_source(f, a));
	assert_int_equal(sw_reaped_of(f, a), 1);

	/* Once the record is gone (the client closed it), so is the source. */
	assert_int_equal(frame(f, a, 1000, PKT_RST), PASS);
	assert_false(has_session(f, a, 1000));
	gc(f, T0 + idle + 2);
	assert_res(&f->res, 0, 0, 0, 1, 1, 0);
	assert_false(has_source(f, a));
	assert_int_equal(sw_reaped_of(f, a), NO_ENTRY);
}

static void test_source_with_evicted_session_goes_after_fixup(void **state)
{
	struct fx *f = *state;
	const char *a = "198.51.100.7";
	__u64 idle = f->s.source_idle_ns;

	/*
	 * The source's one session was lost to eviction. Until the gap is
	 * confirmed, the open count still says live (it could be a record
	 * made between the GC's walks), and that keeps the source.
	 */
	open_session(f, a, 1000);
	evict(f, a, 1000);
	gc(f, T0 + idle + 1);
	assert_res(&f->res, 0, 0, 0, 1, 0, 0);
	assert_true(has_source(f, a));
	assert_int_equal(live(f, a), 1);

	/* Confirmed on the next pass: fixed, and the source goes in that same pass. */
	gc(f, T0 + idle + 2);
	assert_res(&f->res, 0, 0, 1, 1, 1, 0);
	assert_false(has_source(f, a));
	assert_int_equal(sw_reaped_of(f, a), NO_ENTRY);
}

static void test_source_reaped_entry_deleted_with_source(void **state)
{
	struct fx *f = *state;
	const char *a = "198.51.100.7";
	__u64 idle = f->s.source_idle_ns;

	assert_true(f->s.idle_timeout_ns < idle);
	f->s.max_sessions = 1;
	apply(f);
	open_session(f, a, 1000);
	gc(f, T0);
	gc(f, T0 + f->s.idle_timeout_ns + 1);
	assert_res(&f->res, 1, 1, 0, 1, 0, 0);
	assert_int_equal(sw_reaped_of(f, a), 1);
	assert_true(has_source(f, a));

	gc(f, T0 + idle);
	assert_res(&f->res, 0, 0, 0, 1, 0, 0);
	gc(f, T0 + idle + 1);
	assert_res(&f->res, 0, 0, 0, 1, 1, 0);
	assert_false(has_source(f, a));
	assert_int_equal(sw_reaped_of(f, a), NO_ENTRY);

	/*
	 * Had the reaped count outlived the source, the new source (open 1)
	 * would count 0 live sessions and get a second slot.
	 */
	swh_set_now(&f->h, T0 + idle + 1);
	open_session(f, a, 1001);
	assert_int_equal(syn(f, a, 1002), DROP);
}

static void test_source_with_pending_handshake_is_kept(void **state)
{
	struct fx *f = *state;
	const char *a = "198.51.100.1", *b = "198.51.100.2", *c = "198.51.100.3";
	const char *d = "198.51.100.4", *e = "198.51.100.5", *o = "198.51.100.6";
	__u64 idle = 10 * NS, hs = 60 * NS, t = T0 + 20 * NS;

	/* Handshake reservations that outlive source_idle. */
	f->s.source_idle_ns = idle;
	f->s.handshake_timeout_ns = hs;
	apply(f);

	/* a: half-open; b: completed and closed; c: abandoned with RST. */
	assert_int_equal(syn(f, a, 1000), PASS);
	open_session(f, b, 1000);
	assert_int_equal(frame(f, b, 1000, PKT_FIN | PKT_ACK), PASS);
	assert_int_equal(syn(f, c, 1000), PASS);
	assert_int_equal(frame(f, c, 1000, PKT_RST), PASS);
	/* d: a second half-open handshake later; e: a retransmission later. */
	assert_int_equal(syn(f, d, 1000), PASS);
	assert_int_equal(syn(f, e, 1000), PASS);
	/* o: more handshakes than slots; then only the one beyond them is left. */
	for (int i = 0; i < SW_PENDING_SLOTS; i++)
		assert_int_equal(syn(f, o, 1000 + i), PASS);
	swh_set_now(&f->h, t);
	assert_int_equal(syn(f, d, 1001), PASS);
	assert_int_equal(syn(f, e, 1000), PASS);
	assert_int_equal(stats(f).syn_retransmit, 1);
	assert_int_equal(syn(f, o, 1000 + SW_PENDING_SLOTS), PASS);
	for (int i = 0; i < SW_PENDING_SLOTS; i++)
		assert_int_equal(frame(f, o, 1000 + i, PKT_RST), PASS);

	assert_int_equal(pending(f, a), 1);
	assert_int_equal(pending(f, b), 0);
	assert_int_equal(pending(f, c), 0);
	assert_int_equal(pending(f, d), 2);
	assert_int_equal(pending(f, e), 1);
	assert_int_equal(pending(f, o), 1);

	/* Past source_idle after the last SYN of each: only the pending ones stay. */
	gc(f, t + idle + 1);
	assert_res(&f->res, 0, 0, 0, 6, 2, 0);
	assert_true(has_source(f, a));
	assert_false(has_source(f, b));
	assert_false(has_source(f, c));

	gc(f, T0 + hs - 1);
	assert_res(&f->res, 0, 0, 0, 4, 0, 0);
	assert_true(has_source(f, a));

	/*
	 * At handshake_timeout after its SYN the kernel lets a's slot lapse:
	 * nothing holds a any more. d's second handshake, e's renewed one
	 * and o's one beyond the slots lapse later.
	 */
	gc(f, T0 + hs);
	assert_res(&f->res, 0, 0, 0, 4, 1, 0);
	assert_false(has_source(f, a));
	assert_true(has_source(f, d));
	assert_true(has_source(f, e));
	assert_true(has_source(f, o));

	gc(f, t + hs - 1);
	assert_res(&f->res, 0, 0, 0, 3, 0, 0);
	gc(f, t + hs);
	assert_res(&f->res, 0, 0, 0, 3, 3, 0);
	assert_int_equal(swh_source_count(&f->h), 0);
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
	/* Penalised: the RST is dropped, the slot stays reserved. */
	assert_int_equal(frame(f, a, 1001, PKT_RST), DROP);
	assert_int_equal(pending(f, a), 1);

	/* Quiet, slot lapsed, offence forgotten: only the running penalty keeps it. */
	gc(f, T0 + idle + 1);
	assert_res(&f->res, 0, 0, 0, 1, 0, 0);
	assert_true(has_source(f, a));
	gc(f, T0 + 2 * idle - 1);
	assert_res(&f->res, 0, 0, 0, 1, 0, 0);
	assert_true(has_source(f, a));

	/* Over (the program lets it go at penalty_until too): the source goes. */
	gc(f, T0 + 2 * idle);
	assert_res(&f->res, 0, 0, 0, 1, 1, 0);
	assert_false(has_source(f, a));
	assert_int_equal(sw_reaped_of(f, a), NO_ENTRY);
}

static void test_recent_offender_is_kept(void **state)
{
	struct fx *f = *state;
	const char *a = "198.51.100.7";
	__u64 idle = f->s.source_idle_ns, forget = f->s.penalty_forget_ns;
	__u64 later;
	struct sw_source s;

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

	/* Quiet, penalty over, no session, slot lapsed: only the remembered offence keeps it. */
	gc(f, T0 + idle + 1);
	assert_res(&f->res, 0, 0, 0, 1, 0, 0);
	assert_true(has_source(f, a));

	/*
	 * A packet that finds the penalty served clears it; the offence is
	 * still remembered, and still keeps the source.
	 */
	later = T0 + idle + 2;
	swh_set_now(&f->h, later);
	assert_int_equal(frame(f, a, 1000, PKT_ACK), PASS);
	s = source(f, a);
	assert_int_equal(s.penalty_until_ns, 0);
	assert_int_equal(s.last_offence_ns, T0);
	gc(f, later);
	assert_res(&f->res, 0, 0, 0, 1, 0, 0);
	assert_true(has_source(f, a));

	/*
	 * It is kept so that the escalation survives: a repeat offence
	 * before `forget` doubles the penalty.
	 */
	assert_int_equal(syn(f, a, 1002), PASS);
	assert_int_equal(syn(f, a, 1003), DROP);
	s = source(f, a);
	assert_int_equal(s.penalty_until_ns, later + 120 * NS);
	assert_int_equal(s.offences, 2);
	assert_int_equal(s.last_offence_ns, later);
	assert_int_equal(frame(f, a, 1002, PKT_RST), DROP);

	gc(f, later + forget);
	assert_res(&f->res, 0, 0, 0, 1, 0, 0);
	assert_true(has_source(f, a));
	gc(f, later + forget + 1);
	assert_res(&f->res, 0, 0, 0, 1, 1, 0);
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
		GC_TEST(test_half_open_slot_lapses_in_kernel),
		GC_TEST(test_established_expires_after_idle_timeout),
		GC_TEST(test_gc_restart_gives_fresh_idle_timeout),
		GC_TEST(test_reused_session_key_is_a_new_session),
		GC_TEST(test_client_close_is_not_reaped_again),
		GC_TEST(test_late_fin_after_reap_is_not_counted_again),
		GC_TEST(test_reaped_session_resumed_by_data),
		GC_TEST(test_eviction_fixed_on_second_sighting),
		GC_TEST(test_eviction_gap_seen_once_is_ignored),
		GC_TEST(test_eviction_and_expiry_in_one_pass),
		GC_TEST(test_sessions_counted_per_aggregated_source),
		GC_TEST(test_quiet_source_expires),
		GC_TEST(test_source_with_live_session_is_kept),
		GC_TEST(test_source_with_session_in_map_is_kept),
		GC_TEST(test_source_with_evicted_session_goes_after_fixup),
		GC_TEST(test_source_reaped_entry_deleted_with_source),
		GC_TEST(test_source_with_pending_handshake_is_kept),
		GC_TEST(test_penalised_source_is_kept),
		GC_TEST(test_recent_offender_is_kept),
		GC_TEST(test_expired_list_entries_removed),
		GC_TEST(test_expired_cli_entry_leaves_config_entry),
	};

	return cmocka_run_group_tests_name("daemon gc", tests, NULL, NULL);
}
