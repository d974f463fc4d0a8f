/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Load the smtpwall XDP program for BPF_PROG_TEST_RUN: tests and the
 * benchmark. Self-contained (libbpf, the skeleton and the shared header
 * only), no test framework: every helper returns 0 or a negative errno so
 * the caller decides how to fail.
 *
 * Nothing is pinned: the maps are declared LIBBPF_PIN_BY_NAME, and a test
 * that pinned them under /sys/fs/bpf would adopt, or clobber, the maps of a
 * daemon running on the same host.
 */
#ifndef SW_BPF_HARNESS_H
#define SW_BPF_HARNESS_H

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "smtpwall.h"
#include "smtpwall.skel.h"

#define SWH_NS	     1000000000ULL
/* Tests start the clock well away from 0 so that "0 = unset" fields cannot pass by accident. */
#define SWH_T0	     (1000 * SWH_NS)

struct swh_opts {
	__u32 max_sources;	/* sw_sources and sw_reaped capacity; 0 = as declared */
	__u32 max_sessions;	/* sw_sessions capacity; 0 = as declared */
	bool real_clock;	/* use bpf_ktime_get_ns instead of sw_test_now_ns */
	bool bench_vary_sport;	/* every frame gets a new source port */
	/*
	 * Another loaded instance whose pinned maps (the LIBBPF_PIN_BY_NAME
	 * ones) this one adopts, as a restarted daemon's program adopts the
	 * pins; its .bss, .rodata and unpinned maps are its own. The clock
	 * and config are taken over from it, and the config is not written.
	 */
	const struct swh *adopt;
};

struct swh {
	struct smtpwall_bpf *skel;
	int prog_fd;
	int ncpus;
	struct sw_config cfg;	/* what swh_write_config() writes */
	struct sw_stats *percpu;
};

static inline void swh_guard_port(struct sw_config *c, __u16 port)
{
	c->port_bitmap[port >> 6] |= 1ULL << (port & 63);
}

/* Aggregation masks in network byte order, as the daemon computes them. */
static inline __u32 swh_mask32(unsigned int bits)
{
	return htonl(bits >= 32 ? 0xffffffffU : bits ? ~(0xffffffffU >> bits) : 0);
}

static inline void swh_set_prefixes(struct sw_config *c, unsigned int v4, unsigned int v6)
{
	int i;

	c->v4_mask = swh_mask32(v4);
	for (i = 0; i < 4; i++)
		c->v6_mask[i] = swh_mask32(v6 > 32U * i ? v6 - 32U * i : 0);
}

/*
 * Enabled, SMTP ports guarded, /32 and /64 sources, every limit off, and
 * the daemon's 30 s handshake timeout (with 0, every reserved session slot
 * would lapse at once and no handshake would ever complete).
 */
static inline void swh_config_default(struct sw_config *c)
{
	memset(c, 0, sizeof(*c));
	c->flags = SW_CFG_ENABLED;
	c->handshake_timeout_ns = 30 * SWH_NS;
	swh_guard_port(c, 25);
	swh_guard_port(c, 465);
	swh_guard_port(c, 587);
	swh_set_prefixes(c, 32, 64);
}

static inline int swh_write_config(struct swh *h)
{
	__u32 zero = 0;

	if (bpf_map_update_elem(bpf_map__fd(h->skel->maps.sw_config), &zero, &h->cfg, BPF_ANY))
		return -errno;
	return 0;
}

static inline void swh_set_now(struct swh *h, __u64 ns)
{
	h->skel->bss->sw_test_now_ns = ns;
}

static inline __u64 swh_now(const struct swh *h)
{
	return h->skel->bss->sw_test_now_ns;
}

static inline void swh_advance(struct swh *h, __u64 ns)
{
	h->skel->bss->sw_test_now_ns += ns;
}

static inline void swh_close(struct swh *h)
{
	smtpwall_bpf__destroy(h->skel);
	free(h->percpu);
	memset(h, 0, sizeof(*h));
}

/*
 * Open and load a fresh instance (own maps, nothing pinned), with the test
 * clock at SWH_T0 and the default configuration written.
 */
static inline int swh_open(struct swh *h, const struct swh_opts *o)
{
	static const struct swh_opts none;
	struct bpf_map *map;
	int err;

	if (!o)
		o = &none;
	memset(h, 0, sizeof(*h));
	h->ncpus = libbpf_num_possible_cpus();
	if (h->ncpus <= 0)
		return h->ncpus ? h->ncpus : -EINVAL;
	h->percpu = calloc(h->ncpus, sizeof(struct sw_stats));
	if (!h->percpu)
		return -ENOMEM;
	h->skel = smtpwall_bpf__open();
	if (!h->skel) {
		err = -errno;
		goto fail;
	}
	bpf_object__for_each_map(map, h->skel->obj) {
		if (o->adopt && bpf_map__pin_path(map)) {
			const struct bpf_map *old;

			old = bpf_object__find_map_by_name(o->adopt->skel->obj, bpf_map__name(map));
			if (!old) {
				err = -ENOENT;
				goto fail;
			}
			err = bpf_map__reuse_fd(map, bpf_map__fd(old));
			if (err)
				goto fail;
		}
		err = bpf_map__set_pin_path(map, NULL);
		if (err)
			goto fail;
	}
	if (o->max_sources) {
		err = bpf_map__set_max_entries(h->skel->maps.sw_sources, o->max_sources);
		if (!err)
			err = bpf_map__set_max_entries(h->skel->maps.sw_reaped, o->max_sources);
		if (err)
			goto fail;
	}
	if (o->max_sessions) {
		err = bpf_map__set_max_entries(h->skel->maps.sw_sessions, o->max_sessions);
		if (err)
			goto fail;
	}
	h->skel->rodata->sw_test_clock = !o->real_clock;
	h->skel->rodata->sw_bench_vary_sport = o->bench_vary_sport;
	err = smtpwall_bpf__load(h->skel);
	if (err)
		goto fail;
	h->prog_fd = bpf_program__fd(h->skel->progs.smtpwall_xdp);
	if (o->adopt) {
		swh_set_now(h, swh_now(o->adopt));
		h->cfg = o->adopt->cfg;
		return 0;
	}
	swh_set_now(h, SWH_T0);
	swh_config_default(&h->cfg);
	err = swh_write_config(h);
	if (err)
		goto fail;
	return 0;
fail:
	swh_close(h);
	return err < 0 ? err : -EINVAL;
}

/* One frame through the program; the verdict in @retval. */
static inline int swh_run(struct swh *h, const void *frame, size_t len, __u32 *retval)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = frame,
		.data_size_in = (__u32)len,
		.repeat = 1,
	);
	int err;

	err = bpf_prog_test_run_opts(h->prog_fd, &opts);
	if (err)
		return err;
	*retval = opts.retval;
	return 0;
}

/* Totals over all CPUs. */
static inline int swh_stats(struct swh *h, struct sw_stats *sum)
{
	__u32 zero = 0;
	size_t n = sizeof(*sum) / sizeof(__u64);
	int cpu;
	size_t i;

	if (bpf_map_lookup_elem(bpf_map__fd(h->skel->maps.sw_stats), &zero, h->percpu))
		return -errno;
	memset(sum, 0, sizeof(*sum));
	for (cpu = 0; cpu < h->ncpus; cpu++) {
		const __u64 *v = (const __u64 *)&h->percpu[cpu];

		for (i = 0; i < n; i++)
			((__u64 *)sum)[i] += v[i];
	}
	return 0;
}

static inline int swh_global(struct swh *h, struct sw_global *g)
{
	__u32 zero = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(h->skel->maps.sw_global), &zero, g))
		return -errno;
	return 0;
}

/* The source key of address text @addr under @c's aggregation masks. */
static inline int swh_src_key(const struct sw_config *c, const char *addr, struct sw_src_key *key)
{
	__u32 a[4] = { 0 };
	bool v6 = strchr(addr, ':') != NULL;

	if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, a) != 1)
		return -EINVAL;
	sw_source_key_raw(c, v6 ? SW_AF_INET6 : SW_AF_INET, a, key);
	return 0;
}

/* State of the source @addr belongs to; -ENOENT if it has none. */
static inline int swh_source(struct swh *h, const char *addr, struct sw_source *out)
{
	struct sw_src_key key;
	int err = swh_src_key(&h->cfg, addr, &key);

	if (err)
		return err;
	if (bpf_map_lookup_elem(bpf_map__fd(h->skel->maps.sw_sources), &key, out))
		return -errno;
	return 0;
}

/* Entries in a hash map, by walking its keys. */
static inline int swh_count_entries(struct bpf_map *map)
{
	int fd = bpf_map__fd(map), n = 0;
	size_t ksz = bpf_map__key_size(map);
	char key[64], next[64];
	void *prev = NULL;

	if (ksz > sizeof(key))
		return -E2BIG;
	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, ksz);
		prev = key;
		n++;
	}
	return n;
}

static inline int swh_source_count(struct swh *h)
{
	return swh_count_entries(h->skel->maps.sw_sources);
}

static inline int swh_session_count(struct swh *h)
{
	return swh_count_entries(h->skel->maps.sw_sessions);
}

/* The session key of a client @src:@sport to @dst:@dport (dst NULL: the pkt.h defaults). */
static inline int swh_session_key(const char *src, __u16 sport, const char *dst, __u16 dport,
				  struct sw_session_key *k)
{
	int fam = strchr(src, ':') ? AF_INET6 : AF_INET;

	memset(k, 0, sizeof(*k));
	if (!dst)
		dst = fam == AF_INET ? "192.0.2.1" : "2001:db8::1";
	if (inet_pton(fam, src, k->saddr) != 1 || inet_pton(fam, dst, k->daddr) != 1)
		return -EINVAL;
	k->sport = htons(sport);
	k->dport = htons(dport);
	k->family = fam == AF_INET ? SW_AF_INET : SW_AF_INET6;
	return 0;
}

/* The session of a client @src:@sport to @dst:@dport (dst NULL: the pkt.h defaults). */
static inline int swh_session(struct swh *h, const char *src, __u16 sport, const char *dst,
			      __u16 dport, struct sw_session *out)
{
	struct sw_session_key k;
	int err = swh_session_key(src, sport, dst, dport, &k);

	if (err)
		return err;
	if (bpf_map_lookup_elem(bpf_map__fd(h->skel->maps.sw_sessions), &k, out))
		return -errno;
	return 0;
}

/*
 * The pending slot of @s that holds the handshake @src:@sport -> @dst:@dport
 * (dst NULL: the pkt.h defaults), by the secret in sw_global; -ENOENT if
 * none does, whether or not the slot has lapsed.
 */
static inline int swh_pending_slot(struct swh *h, const struct sw_source *s, const char *src,
				   __u16 sport, const char *dst, __u16 dport)
{
	struct sw_session_key k;
	struct sw_global g;
	__u32 hash;
	int err, i;

	err = swh_session_key(src, sport, dst, dport, &k);
	if (!err)
		err = swh_global(h, &g);
	if (err)
		return err;
	if (!g.tuple_key)
		return -ENOENT;	/* not drawn yet: nothing was hashed */
	/* The value the program's slot holds (include/smtpwall/tuple_hash.h). */
	hash = sw_tuple_hash(g.tuple_key, k.sport, ntohs(k.dport), k.saddr, k.daddr);
	for (i = 0; i < SW_PENDING_SLOTS; i++)
		if (s->pending_tuple[i] == hash)
			return i;
	return -ENOENT;
}

/*
 * Add "addr/len" (or a bare address: a host) to the allow or deny list, as
 * the daemon does: the value repeats the prefix length. @expires_ns 0 = never.
 * Does not bump list_gen: tests decide when known sources see the change.
 */
static inline int swh_list_set(struct swh *h, bool deny, const char *cidr, __u64 expires_ns)
{
	struct sw_list_entry v = { .expires_ns = expires_ns, .origin = SW_ORIGIN_STORE };
	char buf[INET6_ADDRSTRLEN + 8];
	char *slash;
	struct bpf_map *map;
	int v6 = strchr(cidr, ':') != NULL;
	union {
		struct sw_lpm_v4 v4;
		struct sw_lpm_v6 v6;
	} k;
	int err;

	memset(&k, 0, sizeof(k));
	snprintf(buf, sizeof(buf), "%s", cidr);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	v.prefixlen = slash ? (__u32)atoi(slash) : v6 ? 128 : 32;
	if (v6) {
		k.v6.prefixlen = v.prefixlen;
		err = inet_pton(AF_INET6, buf, k.v6.addr) == 1 ? 0 : -EINVAL;
		map = deny ? h->skel->maps.sw_deny_v6 : h->skel->maps.sw_allow_v6;
	} else {
		k.v4.prefixlen = v.prefixlen;
		err = inet_pton(AF_INET, buf, &k.v4.addr) == 1 ? 0 : -EINVAL;
		map = deny ? h->skel->maps.sw_deny_v4 : h->skel->maps.sw_allow_v4;
	}
	if (err)
		return err;
	if (bpf_map_update_elem(bpf_map__fd(map), &k, &v, BPF_ANY))
		return -errno;
	return 0;
}

static inline int swh_list_del(struct swh *h, bool deny, const char *cidr)
{
	char buf[INET6_ADDRSTRLEN + 8];
	char *slash;
	struct bpf_map *map;
	int v6 = strchr(cidr, ':') != NULL;
	union {
		struct sw_lpm_v4 v4;
		struct sw_lpm_v6 v6;
	} k;
	__u32 plen;

	memset(&k, 0, sizeof(k));
	snprintf(buf, sizeof(buf), "%s", cidr);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	plen = slash ? (__u32)atoi(slash) : v6 ? 128 : 32;
	if (v6) {
		k.v6.prefixlen = plen;
		if (inet_pton(AF_INET6, buf, k.v6.addr) != 1)
			return -EINVAL;
		map = deny ? h->skel->maps.sw_deny_v6 : h->skel->maps.sw_allow_v6;
	} else {
		k.v4.prefixlen = plen;
		if (inet_pton(AF_INET, buf, &k.v4.addr) != 1)
			return -EINVAL;
		map = deny ? h->skel->maps.sw_deny_v4 : h->skel->maps.sw_allow_v4;
	}
	if (bpf_map_delete_elem(bpf_map__fd(map), &k))
		return -errno;
	return 0;
}

/* Publish a list change to known sources, as the daemon does after editing the tries. */
static inline int swh_bump_list_gen(struct swh *h)
{
	h->cfg.list_gen++;
	return swh_write_config(h);
}

/* Sessions the daemon closed for the source @addr belongs to (cumulative). */
static inline int swh_set_reaped(struct swh *h, const char *addr, __u64 n)
{
	struct sw_src_key key;
	int err = swh_src_key(&h->cfg, addr, &key);

	if (err)
		return err;
	if (bpf_map_update_elem(bpf_map__fd(h->skel->maps.sw_reaped), &key, &n, BPF_ANY))
		return -errno;
	return 0;
}

/*
 * The daemon's view of a test instance, for tests of user/ code that works
 * on the maps (GC, list sync): sw_kernel handles on @h's (unpinned) maps.
 * Needs build/libsmtpwall.a. Returns 0, or -1 with a message on stderr.
 */
#include "kernel.h"
#include "loader.h"

static inline int swh_open_kernel(struct swh *h, struct sw_kernel *k)
{
	char err[256];
	int ret = swh_open(h, NULL);

	if (ret) {
		fprintf(stderr, "loading the XDP program failed: %s\n", strerror(-ret));
		return -1;
	}
	if (sw_kernel_from_skel(k, h->skel, "/tmp/unused", err, sizeof(err))) {
		fprintf(stderr, "sw_kernel_from_skel: %s\n", err);
		swh_close(h);
		return -1;
	}
	return 0;
}

/*
 * Publish daemon settings @s as the daemon does (through the mmap'd config),
 * keeping the list state that belongs to the list writers, and mirror them
 * into the harness so that its source-key helpers use the same masks.
 */
static inline void swh_apply_settings(struct swh *h, struct sw_kernel *k, const struct sw_settings *s)
{
	struct sw_config c;

	sw_settings_to_kernel(s, &c);
	c.list_gen = k->config->list_gen;
	c.list_fine = k->config->list_fine;
	c.geo_gen = k->config->geo_gen;	/* owned by the geo loader, as in the daemon */
	memcpy(k->config, &c, sizeof(c));
	h->cfg = c;
}

#endif
