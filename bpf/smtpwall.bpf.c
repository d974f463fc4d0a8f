// SPDX-License-Identifier: GPL-2.0
/*
 * smtpwall XDP enforcer: per-source SMTP connection limits. The entry
 * points only; each step is a header of its own, in the order a packet
 * meets them:
 *   parse.h      the frame: Ethernet, VLANs, IPv4/IPv6, TCP
 *   guard.h      guarded ports, malformed frames, how verdicts are counted
 *   lists.h      allow/deny, cached per source
 *   penalty.h    strikes, the penalty box, session-health policies
 *   geo.h        the country of an address (country.h: of a source, and
 *                its policy, counters and shared rate)
 *   handshake.h  the slots of pending handshakes
 *   emergency.h  known-good admission, probation
 *   source.h     state, the new-source gate, the verdict on a source and
 *                the limits on its SYNs
 *   session.h    session records: created by the ACK completing a
 *                handshake, ended by FIN/RST
 *   smtp.h       lines of the dialogue; client.h reads the client's side
 *                (XDP), server.h the server's (tc egress)
 *   clock.h      the time, read lazily, or a test's
 * Maps are declared in maps/, types and the logic user space shares in
 * include/smtpwall.h.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <linux/pkt_cls.h>
#include "smtpwall.h"
#include "../maps/config.h"
#include "../maps/sources.h"
#include "../maps/sessions.h"
#include "../maps/lists.h"
#include "../maps/events.h"
#include "../maps/geo.h"
#include "parse.h"
#include "clock.h"
#include "guard.h"
#include "penalty.h"
#include "source.h"
#include "session.h"
#include "client.h"
#include "server.h"

/*
 * Set by the benchmark before load: vary the source port of every packet so
 * that each ACK completes a different handshake. Both knobs are read-only
 * data: the verifier removes the dead branches from the production program.
 */
const volatile bool sw_bench_vary_sport = false;
__u32 sw_bench_seq = 0;
/* Set by the geo benchmark: a different IPv4 source per packet, as a spoofed flood sends. */
const volatile bool sw_bench_vary_saddr = false;
/* Set by the benchmark: every repetition of a frame is new data (advance the sequence). */
const volatile bool sw_bench_vary_seq = false;
__u32 sw_bench_seq_step = 0;

/*
 * For each frame to a guarded TCP port: parse -> source state -> its
 * verdict (lists, penalty box) -> a SYN meets the limits (source.h);
 * other segments keep the session (session.h) and are read (client.h).
 */
SEC("xdp")
int smtpwall_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct sw_packet p = {};
	struct sw_src_key key = {};
	struct sw_judgement v = {};
	struct sw_config *cfg;
	struct sw_source *src;
	struct sw_stats *st;
	__u32 zero = 0;
	__u64 len;
	int kind, verdict;

	cfg = bpf_map_lookup_elem(&sw_config, &zero);
	st = bpf_map_lookup_elem(&sw_stats, &zero);
	if (!cfg || !st)
		return XDP_PASS;
	st->packets++;
	if (!(cfg->flags & SW_CFG_ENABLED))
		return XDP_PASS;
	v.cc = SW_COUNTRY_NONE;

	kind = sw_parse(data, data_end, &p);
	if (kind == SW_P_OTHER)
		return XDP_PASS;
	if (kind == SW_P_MALFORMED)
		return sw_malformed_verdict(cfg, st, &p);
	if (kind == SW_P_TCP && !sw_port_guarded(cfg, p.dport))
		return XDP_PASS;

	if (sw_bench_vary_sport)
		p.sport ^= (__u16)sw_bench_seq++;
	if (sw_bench_vary_seq)
		p.seq += sw_bench_seq_step++ * 4096;
	if (sw_bench_vary_saddr && p.family == SW_AF_INET)
		p.saddr[0] ^= bpf_htonl(sw_bench_seq++ * 2654435761U);

	len = data_end - data;
	st->guarded_packets++;
	st->guarded_bytes += len;
	sw_source_key_raw(cfg, p.family, p.saddr, &key);
	v.syn = kind == SW_P_TCP && (p.tcp_flags & (SW_TCP_SYN | SW_TCP_ACK)) == SW_TCP_SYN;
	if (v.syn)
		st->syn++;
	if (kind == SW_P_FRAGMENT)
		st->fragments++;

	src = bpf_map_lookup_elem(&sw_sources, &key);
	if (!src) {
		src = sw_unknown_source(cfg, st, &p, &key, &v, &verdict);
		if (!src)
			return verdict;
	}

	__sync_fetch_and_add(&src->packets, 1);
	__sync_fetch_and_add(&src->bytes, len);
	if (v.syn)
		__sync_fetch_and_add(&src->syn, 1);

	verdict = sw_source_verdict(cfg, st, &p, &key, src, &v);
	if (verdict != SW_CONTINUE)
		return verdict;
	if (v.syn)
		return sw_source_syn(cfg, st, &p, &key, src, &v);
	if (kind == SW_P_TCP)
		sw_client_segment(ctx, cfg, &p, &key, src, &v.now, len, st);
	return XDP_PASS;
}

/* The server's side: replies, the greeting, the server's close (server.h). */
SEC("tc")
int smtpwall_tc_egress(struct __sk_buff *skb)
{
	struct sw_packet p = {};
	struct sw_session_key sk = {};
	struct sw_frame f;
	struct sw_config *cfg;
	struct sw_stats *st;
	struct sw_session *sess;
	__u32 zero = 0;

	cfg = bpf_map_lookup_elem(&sw_config, &zero);
	st = bpf_map_lookup_elem(&sw_stats, &zero);
	if (!cfg || !st || !(cfg->flags & SW_CFG_ENABLED))
		return TC_ACT_OK;
	/* Headers into the linear part; the payload is copied out below. */
	bpf_skb_pull_data(skb, skb->len < SW_SCAN_BYTES ? skb->len : SW_SCAN_BYTES);
	f.data = (void *)(long)skb->data;
	f.data_end = (void *)(long)skb->data_end;
	f.len = skb->len;
	if (sw_parse_frame(&f, &p) != SW_P_TCP || !sw_port_guarded(cfg, bpf_ntohs(p.sport)))
		return TC_ACT_OK;
	if (sw_bench_vary_seq)
		p.seq += sw_bench_seq_step++ * 4096;

	sw_session_key_reply(&p, &sk);
	sess = bpf_map_lookup_elem(&sw_sessions, &sk);
	if (!sess)
		return TC_ACT_OK;
	sw_server_segment(skb, cfg, &p, &sk, sess, st);
	return TC_ACT_OK;
}

/*
 * Penalise a source for what only the daemon sees (idle sessions), through
 * the same escalation as the program's own penalties. Run by the daemon
 * with BPF_PROG_RUN; never attached.
 */
SEC("syscall")
int smtpwall_ctl_penalize(struct sw_ctl_penalty *req)
{
	struct sw_ctl_penalty r;
	struct sw_config *cfg;
	struct sw_stats *st;
	struct sw_source *src;
	__u32 zero = 0;
	__u64 now;
	int result = 0;

	/* One copy of the request: context fields are read at fixed offsets only. */
	__builtin_memcpy(&r, req, sizeof(r));
	now = sw_test_clock ? sw_test_now_ns : r.now_ns;
	cfg = bpf_map_lookup_elem(&sw_config, &zero);
	st = bpf_map_lookup_elem(&sw_stats, &zero);
	src = bpf_map_lookup_elem(&sw_sources, &r.src);
	if (!cfg || !st)
		result = -22;	/* EINVAL */
	else if (!src)
		result = -2;	/* ENOENT */
	else if (src->penalty_until_ns > now)
		result = -114;	/* EALREADY */
	else
		sw_penalize(cfg, &r.src, src, r.reason, r.detail, now, st);
	if (src && r.reason == SW_R_PROBATION && (result == 0 || result == -114)) {
		/* Counted even when already penalised: show tells each failure. */
		__sync_fetch_and_add(&src->probation_failed, 1);
		src->probation_detail = r.detail;
	}
	req->result = result;
	return 0;
}

/*
 * Vouch for a source the MTA saw log in (the mail-log follower): it is
 * known good from now, as if a session of it had completed, so emergency
 * mode admits it. A penalised source stays penalised. Run by the daemon
 * with BPF_PROG_RUN; never attached. The reason field is not read.
 */
SEC("syscall")
int smtpwall_ctl_vouch(struct sw_ctl_penalty *req)
{
	struct sw_ctl_penalty r;
	struct sw_source *src;
	__u64 now;
	int result = 0;

	__builtin_memcpy(&r, req, sizeof(r));
	now = sw_test_clock ? sw_test_now_ns : r.now_ns;
	src = bpf_map_lookup_elem(&sw_sources, &r.src);
	if (!src)
		result = -2;	/* ENOENT */
	else if (src->penalty_until_ns > now)
		result = -114;	/* EALREADY: penalised, not vouched for */
	else if (src->last_good_ns < now)
		src->last_good_ns = now;	/* one word; a racing session end writes a time as good */
	req->result = result;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
