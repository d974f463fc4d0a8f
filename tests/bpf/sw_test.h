/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cmocka glue for the BPF verdict tests: every test gets its own freshly
 * loaded program and maps (setup/teardown), so no test sees another's state.
 * The helpers assert on the way, so a test reads as the sequence of frames
 * and the verdicts they must get.
 */
#ifndef SW_BPF_TEST_H
#define SW_BPF_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "bpf_harness.h"
#include "pkt.h"
#include "gc.h"

#define NS    SWH_NS
#define T0    SWH_T0
#define PASS  XDP_PASS
#define DROP  XDP_DROP

/*
 * pkt.h ends its v6_ext list at the first 0, and IPPROTO_HOPOPTS is 0, so a
 * hop-by-hop header cannot be asked for by its number. pkt_build() stores
 * the type into a one-byte next-header field, so 256 + 0 is written as 0
 * (hop-by-hop) while not ending the list, and sized 8 bytes like any
 * option header.
 */
#define EXT_HOPOPTS (256 + IPPROTO_HOPOPTS)

#define SW_TEST(fn) cmocka_unit_test_setup_teardown(fn, sw_setup, sw_teardown)

static inline int sw_setup_opts(void **state, const struct swh_opts *o)
{
	struct swh *h = calloc(1, sizeof(*h));
	int err;

	if (!h)
		return -1;
	err = swh_open(h, o);
	if (err) {
		fprintf(stderr, "loading the XDP program failed: %s\n", strerror(-err));
		free(h);
		return -1;
	}
	*state = h;
	return 0;
}

static inline int sw_setup(void **state)
{
	return sw_setup_opts(state, NULL);
}

static inline int sw_teardown(void **state)
{
	struct swh *h = *state;

	if (h) {
		swh_close(h);
		free(h);
	}
	return 0;
}

static inline void sw_config(struct swh *h)
{
	assert_int_equal(swh_write_config(h), 0);
}

static inline __u32 run_frame(struct swh *h, const void *frame, size_t len)
{
	__u32 ret = ~0U;

	assert_int_equal(swh_run(h, frame, len, &ret), 0);
	return ret;
}

static inline __u32 run_pkt(struct swh *h, const struct pkt_opts *o)
{
	uint8_t buf[PKT_MAX];
	size_t len = pkt_build(o, buf);

	assert_true(len > 0);
	return run_frame(h, buf, len);
}

/* A SYN from @src:@sport to port 25. */
static inline __u32 syn(struct swh *h, const char *src, uint16_t sport)
{
	uint8_t buf[PKT_MAX];
	size_t len = pkt_simple(buf, src, sport, 25, PKT_SYN);

	assert_true(len > 0);
	return run_frame(h, buf, len);
}

/* A non-SYN segment of the client's connection @src:@sport -> port 25. */
static inline __u32 seg(struct swh *h, const char *src, uint16_t sport, uint8_t flags)
{
	uint8_t buf[PKT_MAX];
	size_t len = pkt_simple(buf, src, sport, 25, flags);

	assert_true(len > 0);
	return run_frame(h, buf, len);
}

/* A segment of @src:@sport -> port 25 carrying @payload bytes of data. */
static inline __u32 data(struct swh *h, const char *src, uint16_t sport, int payload)
{
	struct pkt_opts o = { .src = src, .sport = sport, .flags = PKT_ACK | PKT_PSH,
			      .payload = payload };

	return run_pkt(h, &o);
}

/* SYN and the ACK completing the handshake: the session record exists after. */
static inline void handshake(struct swh *h, const char *src, uint16_t sport)
{
	struct sw_session sess;

	assert_int_equal(syn(h, src, sport), PASS);
	assert_int_equal(seg(h, src, sport, PKT_ACK), PASS);
	assert_int_equal(swh_session(h, src, sport, NULL, 25, &sess), 0);
	assert_int_equal(sess.flags, SW_SESS_HANDSHAKE);
}

static inline bool has_session(struct swh *h, const char *src, uint16_t sport)
{
	struct sw_session sess;

	return swh_session(h, src, sport, NULL, 25, &sess) == 0;
}

static inline struct sw_stats stats(struct swh *h)
{
	struct sw_stats st = { 0 };

	assert_int_equal(swh_stats(h, &st), 0);
	return st;
}

/* The state of @addr's source, which must exist. */
static inline struct sw_source source(struct swh *h, const char *addr)
{
	struct sw_source s = { 0 };
	int err = swh_source(h, addr, &s);

	if (err)
		fail_msg("no source state for %s: %s", addr, strerror(-err));
	return s;
}

static inline void assert_no_source(struct swh *h, const char *addr)
{
	struct sw_source s = { 0 };

	assert_int_equal(swh_source(h, addr, &s), -ENOENT);
}

/* Handshakes of @s pending now on the test clock, as the daemon counts them. */
static inline uint32_t pending_in(struct swh *h, const struct sw_source *s)
{
	return sw_source_pending(s, swh_now(h));
}

/* Handshakes pending now for @addr's source, which must exist. */
static inline uint32_t pending_of(struct swh *h, const char *addr)
{
	struct sw_source s = source(h, addr);

	return pending_in(h, &s);
}

/*
 * The slot of @s holding the handshake @src:@sport -> port 25, lapsed or
 * not; -1 if no slot holds it.
 */
static inline int slot_of(struct swh *h, const struct sw_source *s, const char *src, uint16_t sport)
{
	int slot = swh_pending_slot(h, s, src, sport, NULL, 25);

	if (slot < 0 && slot != -ENOENT)
		fail_msg("pending slot of %s:%u: %s", src, sport, strerror(-slot));
	return slot < 0 ? -1 : slot;
}

/* When the slot of @s holding the handshake @src:@sport -> port 25 lapses; it must hold one. */
static inline __u64 until_of(struct swh *h, const struct sw_source *s, const char *src, uint16_t sport)
{
	int slot = slot_of(h, s, src, sport);

	if (slot < 0)
		fail_msg("no pending slot holds %s:%u", src, sport);
	return s->pending_until[slot];
}

/* Slots of @s holding a handshake (lapsed or not). */
static inline int slots_used(const struct sw_source *s)
{
	int i, n = 0;

	for (i = 0; i < SW_PENDING_SLOTS; i++)
		n += s->pending_tuple[i] != 0;
	return n;
}

static inline void assert_no_drops(const struct sw_stats *st)
{
	int r;

	for (r = 0; r < SW_R_MAX; r++)
		if (st->dropped[r])
			fail_msg("dropped[%d] = %llu, expected none", r, (unsigned long long)st->dropped[r]);
}

static inline void list_set(struct swh *h, bool deny, const char *cidr, __u64 expires_ns)
{
	assert_int_equal(swh_list_set(h, deny, cidr, expires_ns), 0);
}

static inline void bump_list_gen(struct swh *h)
{
	assert_int_equal(swh_bump_list_gen(h), 0);
}

/* Penalty events drained from sw_events. */
struct ev_log {
	struct sw_event ev[64];
	int n;
};

static inline int ev_collect(void *ctx, void *data, size_t size)
{
	struct ev_log *log = ctx;

	if (size != sizeof(struct sw_event) || log->n >= 64)
		return -EINVAL;
	memcpy(&log->ev[log->n++], data, sizeof(struct sw_event));
	return 0;
}

/* Everything in the ring buffer now; it is empty afterwards. */
static inline void drain_events(struct swh *h, struct ev_log *log)
{
	struct ring_buffer *rb;
	int n;

	memset(log, 0, sizeof(*log));
	rb = ring_buffer__new(bpf_map__fd(h->skel->maps.sw_events), ev_collect, log, NULL);
	assert_non_null(rb);
	n = ring_buffer__consume(rb);
	ring_buffer__free(rb);
	assert_true(n >= 0);
	assert_int_equal(n, log->n);
}

#endif
