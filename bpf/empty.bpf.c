// SPDX-License-Identifier: GPL-2.0
/* The baselines of `make bench`: programs that do nothing. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int empty_xdp(struct xdp_md *ctx)
{
	return XDP_PASS;
}

/* The baseline of the egress classes: a tc program that does nothing. */
SEC("tc")
int empty_tc(struct __sk_buff *skb)
{
	return 0;	/* TC_ACT_OK */
}

char LICENSE[] SEC("license") = "GPL";
