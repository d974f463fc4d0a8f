// SPDX-License-Identifier: GPL-2.0
/*
 * For `make bench` only: the cost of classifying a source address by
 * country, with smtpwall's direct-indexed tables (bpf/geo.h) and with a BPF
 * LPM trie holding the same prefixes. Each run takes the next address from
 * a sample of addresses inside the database (sw_bench_addrs), as a
 * spoofed-source flood would present them; geo_none_xdp does the same
 * without a lookup, to be subtracted. Nothing here is pinned or loaded by
 * the daemon.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <stdbool.h>
#include "smtpwall.h"
#include "../maps/geo.h"
#include "geo.h"

#define SW_BENCH_ADDRS 65536

struct sw_bench_addr {
	__u32 addr[4];		/* network byte order; IPv4 in addr[0] */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SW_BENCH_ADDRS);
	__type(key, __u32);
	__type(value, struct sw_bench_addr);
} sw_bench_addrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);		/* sized by the bench */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sw_lpm_v4);
	__type(value, __u16);
} sw_bench_lpm4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sw_lpm_v6);
	__type(value, __u16);
} sw_bench_lpm6 SEC(".maps");

const volatile bool sw_bench_v6 = false;
__u32 sw_bench_seq = 0;
__u64 sw_bench_sum = 0;		/* country ids added up: the result is used, and checkable */

static __always_inline struct sw_bench_addr *next_addr(void)
{
	__u32 i = sw_bench_seq++ & (SW_BENCH_ADDRS - 1);

	return bpf_map_lookup_elem(&sw_bench_addrs, &i);
}

SEC("xdp")
int geo_none_xdp(struct xdp_md *ctx)
{
	struct sw_bench_addr *a = next_addr();

	if (!a)
		return XDP_ABORTED;
	sw_bench_sum += a->addr[0] & 1;
	return XDP_PASS;
}

SEC("xdp")
int geo_dir_xdp(struct xdp_md *ctx)
{
	struct sw_bench_addr *a = next_addr();

	if (!a)
		return XDP_ABORTED;
	sw_bench_sum += sw_bench_v6 ? sw_geo_country6(a->addr) : sw_geo_country4(a->addr[0]);
	return XDP_PASS;
}

SEC("xdp")
int geo_lpm_xdp(struct xdp_md *ctx)
{
	struct sw_bench_addr *a = next_addr();
	__u16 *cc;

	if (!a)
		return XDP_ABORTED;
	if (sw_bench_v6) {
		struct sw_lpm_v6 k = { .prefixlen = 128 };

		__builtin_memcpy(k.addr, a->addr, 16);
		cc = bpf_map_lookup_elem(&sw_bench_lpm6, &k);
	} else {
		struct sw_lpm_v4 k = { .prefixlen = 32, .addr = a->addr[0] };

		cc = bpf_map_lookup_elem(&sw_bench_lpm4, &k);
	}
	sw_bench_sum += cc ? *cc : SW_COUNTRY_UNKNOWN;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
