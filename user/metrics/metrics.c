// SPDX-License-Identifier: GPL-2.0
/* A scrape's collection and rendering (metrics.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include "clock.h"
#include "json.h"
#include "metrics.h"
#include "parse.h"

#ifndef SW_VERSION
#define SW_VERSION "unknown"
#endif

#define WALK_CHUNK 4096
#define MAX_TOP	   1000

/* ---- source keys -> counts: an open-addressing table ----------------------------- */

struct kv {
	struct sw_src_key key;
	uint32_t used;	/* 0: free; the source memory keeps its generation here */
	uint64_t val;
};

struct kvtab {
	struct kv *e;
	size_t cap, n;	/* cap: a power of two */
};

static uint64_t key_hash(const struct sw_src_key *k)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ k->family;

	for (int i = 0; i < 4; i++) {
		h ^= k->addr[i];
		h *= 0x100000001b3ULL;
		h ^= h >> 29;
	}
	return h;
}

static int kv_init(struct kvtab *t, size_t want)
{
	size_t cap = 64;

	while (cap < want * 2)
		cap *= 2;
	t->e = calloc(cap, sizeof(*t->e));
	t->cap = t->e ? cap : 0;
	t->n = 0;
	return t->e ? 0 : -ENOMEM;
}

static void kv_free(struct kvtab *t)
{
	free(t->e);
	memset(t, 0, sizeof(*t));
}

static struct kv *kv_slot(const struct kvtab *t, const struct sw_src_key *k)
{
	size_t i;

	if (!t->cap)
		return NULL;
	for (i = key_hash(k) & (t->cap - 1);; i = (i + 1) & (t->cap - 1))
		if (!t->e[i].used || !memcmp(&t->e[i].key, k, sizeof(*k)))
			return &t->e[i];
}

static bool kv_get(const struct kvtab *t, const struct sw_src_key *k, uint64_t *val)
{
	struct kv *s = kv_slot(t, k);

	if (!s || !s->used)
		return false;
	*val = s->val;
	return true;
}

/* The slot of @k, added (used 1, val 0; *added set) if absent. NULL if memory ran out. */
static struct kv *kv_at(struct kvtab *t, const struct sw_src_key *k, bool *added)
{
	struct kv *s;

	if ((t->n + 1) * 2 > t->cap) {
		struct kvtab bigger;

		if (kv_init(&bigger, t->n + 1 > t->cap ? t->n + 1 : t->cap))
			return NULL;
		for (size_t i = 0; i < t->cap; i++)
			if (t->e[i].used)
				*kv_slot(&bigger, &t->e[i].key) = t->e[i];
		bigger.n = t->n;
		kv_free(t);
		*t = bigger;
	}
	s = kv_slot(t, k);
	*added = !s->used;
	if (!s->used) {
		s->used = 1;
		s->key = *k;
		s->val = 0;
		t->n++;
	}
	return s;
}

static int kv_put(struct kvtab *t, const struct sw_src_key *k, uint64_t val)
{
	bool added;
	struct kv *s = kv_at(t, k, &added);

	if (!s)
		return -ENOMEM;
	s->val = val;
	return 0;
}

/*
 * One table, updated in place by each walk: a source's slot holds its
 * attempts when last seen and the generation (scrape) that saw it. A slot
 * seen by the last completed walk or later gives the attempts since. One
 * probe a source, and no table of every source allocated and filled anew
 * each scrape. Slots of sources gone are dropped when they outnumber the
 * live ones.
 */
struct sw_src_memory {
	struct kvtab seen;
	uint32_t gen;		/* of the walk running, or the last one */
	uint32_t prev_gen;	/* of the last completed walk; 0: none yet */
};

/* Keep only the slots of generation @gen. */
static int kv_keep(struct kvtab *t, uint32_t gen)
{
	struct kvtab fresh;
	size_t live = 0;

	for (size_t i = 0; i < t->cap; i++)
		live += t->e[i].used == gen;
	if (kv_init(&fresh, live ? live : 1024))
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++)
		if (t->e[i].used == gen)
			*kv_slot(&fresh, &t->e[i].key) = t->e[i];
	fresh.n = live;
	kv_free(t);
	*t = fresh;
	return 0;
}

struct sw_src_memory *sw_src_memory_new(void)
{
	return calloc(1, sizeof(struct sw_src_memory));
}

void sw_src_memory_free(struct sw_src_memory *m)
{
	if (!m)
		return;
	kv_free(&m->seen);
	free(m);
}

void sw_scrape_free(struct sw_scrape *sc)
{
	free(sc->top);
	free(sc->sources_json);
	sc->top = NULL;
	sc->sources_json = NULL;
}

/* ---- collection -------------------------------------------------------------------- */

void sw_scrape_source_text(const struct sw_kernel *k, const struct sw_src_key *key, char *buf, size_t len)
{
	struct sw_cidr c;

	sw_source_cidr(k->config, key, &c);
	sw_format_cidr(&c, true, buf, len);
}

static void country_label(unsigned id, char out[8])
{
	if (id == SW_COUNTRY_UNKNOWN)
		snprintf(out, 8, "unknown");
	else if (id >= SW_COUNTRY_NONE)
		snprintf(out, 8, "none");
	else
		sw_country_code(id, out);
}

struct walk {
	const struct sw_kernel *k;
	struct sw_scrape *sc;
	struct sw_src_memory *mem;
	struct kvtab reaped;
	bool mem_ok;
	uint64_t *recent;		/* of the chunk's sources, by remember() */
	unsigned cap_recent;
	struct sw_top_source *heap;	/* a min-heap of the busiest, by (recent, syn) */
	unsigned n_heap, cap_heap;
	FILE *json_f;
	struct sw_json json;
};

static bool busier(const struct sw_top_source *a, const struct sw_top_source *b)
{
	if (a->recent != b->recent)
		return a->recent > b->recent;
	if (a->syn != b->syn)
		return a->syn > b->syn;
	return a->packets > b->packets;
}

static void heap_down(struct sw_top_source *h, unsigned n, unsigned i)
{
	for (;;) {
		unsigned l = 2 * i + 1, r = l + 1, m = i;
		struct sw_top_source t;

		if (l < n && busier(&h[m], &h[l]))
			m = l;
		if (r < n && busier(&h[m], &h[r]))
			m = r;
		if (m == i)
			return;
		t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

static void heap_offer(struct walk *w, const struct sw_top_source *s)
{
	struct sw_top_source *h = w->heap;

	if (!w->cap_heap)
		return;
	if (w->n_heap < w->cap_heap) {
		unsigned i = w->n_heap++;

		h[i] = *s;
		while (i) {
			unsigned p = (i - 1) / 2;
			struct sw_top_source t;

			if (!busier(&h[p], &h[i]))
				break;
			t = h[p];
			h[p] = h[i];
			h[i] = t;
			i = p;
		}
	} else if (busier(s, &h[0])) {
		h[0] = *s;
		heap_down(h, w->n_heap, 0);
	}
}

/* Kernel monotonic ns as unix seconds by the scrape's clocks: sw_mono_to_wall, without two clock reads. */
static int64_t scrape_wall(const struct sw_scrape *sc, uint64_t mono_ns)
{
	if (!mono_ns)
		return 0;
	return (int64_t)sc->unix_now + ((int64_t)mono_ns - (int64_t)sc->mono_now) / 1000000000ll;
}

static void json_source(struct walk *w, const struct sw_src_key *key, const struct sw_source *v, uint32_t live,
			unsigned cc, bool penalised)
{
	struct sw_json *j = &w->json;
	char text[64], code[8];
	uint64_t dropped = 0;

	for (int r = 0; r < SW_R_MAX; r++)
		dropped += v->dropped[r];
	sw_scrape_source_text(w->k, key, text, sizeof(text));
	country_label(cc, code);
	sw_json_obj_begin(j, NULL);
	sw_json_str(j, "source", text);
	sw_json_str(j, "country", code);
	sw_json_u64(j, "connection_attempts", v->syn);
	sw_json_u64(j, "admitted", v->admitted);
	sw_json_u64(j, "dropped", dropped);
	sw_json_obj_begin(j, "dropped_by_reason");
	for (int r = 0; r < SW_R_MAX; r++)
		if (v->dropped[r])
			sw_json_u64(j, sw_reason_name(r), v->dropped[r]);
	sw_json_obj_end(j);
	sw_json_u64(j, "packets", v->packets);
	sw_json_u64(j, "bytes", v->bytes);
	sw_json_u64(j, "sessions_open", live);
	sw_json_u64(j, "sessions_total", v->sessions_total);
	sw_json_u64(j, "sessions_completed", v->sessions_completed);
	sw_json_u64(j, "sessions_abandoned", v->sessions_abandoned);
	sw_json_u64(j, "messages", v->messages);
	sw_json_u64(j, "recipients_rejected", v->rcpt_rejected);
	sw_json_u64(j, "auth_failures", v->auth_failed);
	sw_json_bool(j, "penalised", penalised);
	if (penalised) {
		sw_json_str(j, "penalty_reason", sw_reason_name(v->penalty_reason));
		sw_json_i64(j, "penalty_until", scrape_wall(w->sc, v->penalty_until_ns));
	}
	sw_json_u64(j, "offences", v->offences);
	sw_json_bool(j, "known_good", v->last_good_ns != 0);
	sw_json_i64(j, "first_seen", scrape_wall(w->sc, v->first_seen_ns));
	if (v->last_syn_ns)
		sw_json_i64(j, "last_attempt", scrape_wall(w->sc, v->last_syn_ns));
	sw_json_obj_end(j);
}

/*
 * The attempts of @n sources since the previous scrape into w->recent (0
 * when there was none), and theirs now into the memory. A pass of its
 * own: the slots are scattered over a table far bigger than the caches,
 * and only a tight loop keeps many fetches in flight; one at a time,
 * inside the per-source work, they took a tenth of the scrape.
 */
static void remember(struct walk *w, const struct sw_src_key *kk, const struct sw_source *vv, unsigned n)
{
	struct sw_src_memory *m = w->mem;

	for (unsigned i = 0; i < n; i++) {
		bool added;
		struct kv *s = w->mem_ok ? kv_at(&m->seen, &kk[i], &added) : NULL;

		w->recent[i] = 0;
		if (!s) {
			w->mem_ok = false;	/* out of memory: this scrape ranks the rest by totals */
			continue;
		}
		if (m->prev_gen)
			w->recent[i] = !added && s->used >= m->prev_gen && s->val <= vv[i].syn ? vv[i].syn - s->val
											    : vv[i].syn;
		s->val = vv[i].syn;
		s->used = m->gen;
	}
}

static int on_sources(void *ctx, const void *keys, const void *values, unsigned n)
{
	struct walk *w = ctx;
	struct sw_scrape *sc = w->sc;
	const struct sw_src_key *kk = keys;
	const struct sw_source *vv = values;
	bool remembered = false;

	if (w->mem_ok && n > w->cap_recent) {
		uint64_t *bigger = realloc(w->recent, n * sizeof(*bigger));

		if (bigger) {
			w->recent = bigger;
			w->cap_recent = n;
		} else {
			w->mem_ok = false;
		}
	}
	if (w->mem_ok) {
		remember(w, kk, vv, n);
		remembered = true;
	}
	for (unsigned i = 0; i < n; i++) {
		const struct sw_source *v = &vv[i];
		struct sw_top_source t;
		uint64_t reaped = 0;
		unsigned cc = v->country < SW_COUNTRY_IDS ? v->country : SW_COUNTRY_UNKNOWN;
		bool penalised = v->penalty_until_ns > sc->mono_now;

		if (v->geo_gen == 0)
			cc = SW_COUNTRY_NONE;	/* never classified */
		kv_get(&w->reaped, &kk[i], &reaped);
		memset(&t, 0, sizeof(t));
		t.key = kk[i];
		t.syn = v->syn;
		t.admitted = v->admitted;
		t.packets = v->packets;
		for (int r = 0; r < SW_R_MAX; r++)
			t.dropped += v->dropped[r];
		t.sessions_open = v->sessions_open > reaped ? v->sessions_open - (uint32_t)reaped : 0;
		t.penalised = penalised;
		if (remembered)
			t.recent = w->recent[i];
		sc->sources++;
		if (penalised)
			sc->penalised++;
		sc->country_sources[cc]++;
		sc->country_sessions[cc] += t.sessions_open;
		heap_offer(w, &t);
		if (w->json_f)
			json_source(w, &kk[i], v, t.sessions_open, cc, penalised);
	}
	return 0;
}

static int on_reaped(void *ctx, const void *keys, const void *values, unsigned n)
{
	struct walk *w = ctx;
	const struct sw_src_key *kk = keys;
	const __u64 *vv = values;

	for (unsigned i = 0; i < n; i++)
		if (vv[i] && kv_put(&w->reaped, &kk[i], vv[i]))
			return -ENOMEM;
	return 0;
}

static void note_err(struct sw_scrape *sc, const char *what, long rc)
{
	if (!sc->err[0])
		snprintf(sc->err, sizeof(sc->err), "%s: %s", what, strerror((int)-rc));
}

static int by_busiest(const void *a, const void *b)
{
	return busier(a, b) ? -1 : busier(b, a) ? 1 : 0;
}

void sw_scrape_collect(const struct sw_kernel *k, struct sw_src_memory *mem, struct sw_scrape *sc)
{
	uint64_t t0 = sw_mono_ns();
	struct walk w;
	__u32 zero = 0;
	char *json_buf = NULL;
	size_t json_len = 0;
	long rc;

	sc->unix_now = (uint64_t)time(NULL);
	sc->mono_now = t0;
	sc->err[0] = '\0';
	if (!(rc = sw_kernel_stats(k, &sc->st)))
		sc->stats_ok = true;
	else
		note_err(sc, "sw_stats", rc);
	if (!(rc = sw_kernel_daemon_state(k, &sc->ds)))
		sc->ds_ok = true;
	else
		note_err(sc, "sw_daemon", rc);
	if (!bpf_map_lookup_elem(k->geo_info_fd, &zero, &sc->gi))
		sc->geo_ok = true;
	else
		note_err(sc, "sw_geo_info", -errno);
	if (!(rc = sw_kernel_country_stats(k, sc->cs)))
		sc->countries_ok = true;
	else
		note_err(sc, "sw_country_stats", rc);

	/*
	 * The sessions: the sessions service's walk counted them at most a
	 * gc_interval ago, so a scrape does not read 200,000 records again only
	 * to count them; before its first walk, counted here.
	 */
	if (sc->fig.gc.have)
		sc->entries[SW_MM_SESSIONS] = sc->fig.gc.sessions;
	else
		sc->entries[SW_MM_SESSIONS] = sw_map_count(k->sessions_fd, sizeof(struct sw_session_key));
	sc->entries[SW_MM_ALLOW4] = sw_map_count(k->allow_v4_fd, sizeof(struct sw_lpm_v4));
	sc->entries[SW_MM_ALLOW6] = sw_map_count(k->allow_v6_fd, sizeof(struct sw_lpm_v6));
	sc->entries[SW_MM_DENY4] = sw_map_count(k->deny_v4_fd, sizeof(struct sw_lpm_v4));
	sc->entries[SW_MM_DENY6] = sw_map_count(k->deny_v6_fd, sizeof(struct sw_lpm_v6));

	/* One walk over the sources: countries' sessions, the busiest, the JSON table. */
	memset(&w, 0, sizeof(w));
	w.k = k;
	w.sc = sc;
	w.mem = mem;
	w.cap_heap = sc->top_sources < MAX_TOP ? sc->top_sources : MAX_TOP;
	w.heap = w.cap_heap ? calloc(w.cap_heap, sizeof(*w.heap)) : NULL;
	if (w.cap_heap && !w.heap)
		w.cap_heap = 0;
	kv_init(&w.reaped, 1024);
	rc = sw_map_walk(k->reaped_fd, sizeof(struct sw_src_key), sizeof(__u64), WALK_CHUNK, on_reaped, &w);
	if (rc < 0)
		note_err(sc, "sw_reaped", rc);
	if (mem) {
		mem->gen++;
		w.mem_ok = mem->seen.e || !kv_init(&mem->seen, 1024);
	}
	if (sc->want_sources_json) {
		w.json_f = open_memstream(&json_buf, &json_len);
		if (w.json_f) {
			/* Ours alone: a lock for each of its 40 MB of characters cost a fifth of the table's time. */
			__fsetlocking(w.json_f, FSETLOCKING_BYCALLER);
			sw_json_init(&w.json, w.json_f);
			sw_json_obj_begin(&w.json, NULL);
			sw_json_u64(&w.json, "time", sc->unix_now);
			sw_json_arr_begin(&w.json, "sources");
		}
	}
	rc = sw_map_walk(k->sources_fd, sizeof(struct sw_src_key), sizeof(struct sw_source), WALK_CHUNK, on_sources,
			 &w);
	sc->entries[SW_MM_SOURCES] = rc;
	if (rc >= 0)
		sc->sources_ok = true;
	else
		note_err(sc, "sw_sources", rc);
	if (w.json_f) {
		sw_json_arr_end(&w.json);
		sw_json_u64(&w.json, "count", sc->sources);
		sw_json_obj_end(&w.json);
		sw_json_finish(&w.json);
		if (fclose(w.json_f) == 0 && rc >= 0) {
			sc->sources_json = json_buf;
			sc->sources_json_len = json_len;
		} else {
			free(json_buf);
		}
	}
	if (mem && w.mem_ok && rc >= 0) {
		mem->prev_gen = mem->gen;
		if (mem->seen.n > 2 * sc->sources + 1024)
			kv_keep(&mem->seen, mem->gen);	/* out of memory: the next walk's turn */
	}
	kv_free(&w.reaped);
	free(w.recent);
	qsort(w.heap, w.n_heap, sizeof(*w.heap), by_busiest);
	for (unsigned i = 0; i < w.n_heap; i++)
		sw_scrape_source_text(k, &w.heap[i].key, w.heap[i].text, sizeof(w.heap[i].text));
	sc->top = w.heap;
	sc->n_top = w.n_heap;
	sc->collect_s = (double)(sw_mono_ns() - t0) / 1e9;
}

/* ---- rendering ----------------------------------------------------------------------- */

static const char *const malformed_names[SW_M_MAX] = { "l2", "ipv4", "ipv6", "tcp" };
static const char *const map_names[SW_MM_N] = { "sources", "sessions", "allow_v4", "allow_v6", "deny_v4", "deny_v6" };
static const char *const verdict_names[SW_VERDICT_KINDS] = { "dunno", "refuse", "warn", "filter" };

static void counter(struct sw_expo *e, const char *name, const char *help, uint64_t v)
{
	sw_expo_one_u64(e, name, SW_EXPO_COUNTER, help, v);
}

static void gauge(struct sw_expo *e, const char *name, const char *help, double v)
{
	sw_expo_one_f64(e, name, SW_EXPO_GAUGE, help, v);
}

static void by_reason(struct sw_expo *e, const char *name, const char *help, const __u64 *v, unsigned n)
{
	sw_expo_family(e, name, SW_EXPO_COUNTER, help);
	for (unsigned r = 0; r < n; r++) {
		struct sw_lbl l = { "reason", sw_reason_name(r) };

		sw_expo_u64(e, "", &l, 1, v[r]);
	}
}

static void render_kernel(const struct sw_scrape *sc, struct sw_expo *e)
{
	const struct sw_stats *st = &sc->st;
	static const uint64_t bounds_ms[] = SW_DUR_BOUNDS_MS;
	double bounds[SW_DUR_BUCKETS - 1];
	uint64_t counts[SW_DUR_BUCKETS];

	counter(e, "smtpwall_packets_total", "Frames the XDP program saw.", st->packets);
	counter(e, "smtpwall_guarded_packets_total", "Frames to a guarded port.", st->guarded_packets);
	counter(e, "smtpwall_guarded_bytes_total", "Bytes of frames to a guarded port.", st->guarded_bytes);
	counter(e, "smtpwall_syns_total", "Connection attempts (SYN) on guarded ports, whatever the verdict.", st->syn);
	counter(e, "smtpwall_admitted_total", "Connection attempts admitted.", st->admitted);
	counter(e, "smtpwall_syn_retransmits_total", "SYNs repeating a pending handshake (not charged again).",
		st->syn_retransmit);
	counter(e, "smtpwall_allowlisted_total", "Connection attempts admitted past the limits: allowlisted source.",
		st->allowlisted);
	counter(e, "smtpwall_untracked_syns_total", "SYNs of unknown sources while the new-source gate was shut.",
		st->untracked_syn);
	counter(e, "smtpwall_source_table_full_total", "Sources not tracked: the source table was full.",
		st->source_table_full);
	counter(e, "smtpwall_fragments_total", "Non-first fragments of guarded traffic.", st->fragments);
	counter(e, "smtpwall_events_lost_total", "Kernel events lost: the ring buffer was full.", st->events_lost);
	by_reason(e, "smtpwall_dropped_packets_total", "Packets dropped, by reason.", st->dropped, SW_R_MAX);
	by_reason(e, "smtpwall_would_drop_packets_total",
		  "Packets that would have been dropped (dry-run, monitored countries), by reason.", st->would_drop,
		  SW_R_MAX);
	by_reason(e, "smtpwall_penalties_total", "Sources sent to the penalty box, by reason.", st->penalties_by,
		  SW_R_ALL);
	sw_expo_family(e, "smtpwall_malformed_packets_total", SW_EXPO_COUNTER,
		       "Frames the parser could not read, by kind (whatever the verdict).");
	for (int m = 0; m < SW_M_MAX; m++) {
		struct sw_lbl l = { "kind", malformed_names[m] };

		sw_expo_u64(e, "", &l, 1, st->malformed[m]);
	}
	counter(e, "smtpwall_sessions_opened_total", "Sessions opened: handshake completed, record made.",
		st->sessions_opened);
	counter(e, "smtpwall_sessions_closed_total", "Sessions closed by the client (FIN or RST).",
		st->sessions_closed);
	counter(e, "smtpwall_sessions_untracked_total",
		"Connections without a record: source at max_sessions, no handshake pending.", st->sessions_untracked);
	counter(e, "smtpwall_sessions_completed_total", "Sessions ended after a message or a QUIT.",
		st->sessions_completed);
	counter(e, "smtpwall_sessions_abandoned_total", "Sessions ended without a message or a QUIT.",
		st->sessions_abandoned);
	counter(e, "smtpwall_sessions_server_closed_total", "Sessions reset or closed by the server.",
		st->server_closed);
	for (int i = 0; i < SW_DUR_BUCKETS - 1; i++)
		bounds[i] = (double)bounds_ms[i] / 1000.0;
	sw_expo_family(e, "smtpwall_session_duration_seconds", SW_EXPO_HISTOGRAM,
		       "Durations of the sessions that ended (FIN or RST seen), bucketed in the kernel.");
	for (int i = 0; i < SW_DUR_BUCKETS; i++)
		counts[i] = st->session_duration[i];
	sw_expo_histogram(e, NULL, 0, bounds, SW_DUR_BUCKETS - 1, counts, (double)st->session_duration_ns / 1e9);
	counter(e, "smtpwall_server_segments_total", "Segments of guarded sessions from the server (egress).",
		st->server_packets);
	counter(e, "smtpwall_greetings_total", "Server greetings seen.", st->greetings);
	counter(e, "smtpwall_pregreet_sessions_total", "Sessions where the client talked before the greeting.",
		st->pregreet);
	counter(e, "smtpwall_recipients_total", "RCPT commands answered.", st->rcpt);
	counter(e, "smtpwall_recipients_rejected_total", "RCPT commands answered with 5xx.", st->rcpt_rejected);
	counter(e, "smtpwall_auth_failures_total", "Failed logins seen in plaintext sessions.", st->auth_failed);
	counter(e, "smtpwall_messages_total", "Messages accepted by the server.", st->messages);
	counter(e, "smtpwall_probation_admissions_total",
		"Connection attempts of unproven sources admitted on probation in an emergency.",
		st->probation_admitted);
	sw_expo_family(e, "smtpwall_probation_refused_total", SW_EXPO_COUNTER,
		       "Probation refused: every slot taken (full), or the source holds its share (busy).");
	{
		struct sw_lbl full = { "why", "full" }, busy = { "why", "busy" };

		sw_expo_u64(e, "", &full, 1, st->probation_full);
		sw_expo_u64(e, "", &busy, 1, st->probation_busy);
	}
	counter(e, "smtpwall_probation_graduated_total", "Probation sessions that delivered a message.",
		st->probation_graduated);
}

static void render_daemon_state(const struct sw_scrape *sc, struct sw_expo *e)
{
	const struct sw_daemon_state *ds = &sc->ds;
	uint64_t em_ns = ds->emergency_ns_total;

	if (ds->emergency_since_ns && sc->mono_now > ds->emergency_since_ns)
		em_ns += sc->mono_now - ds->emergency_since_ns;
	gauge(e, "smtpwall_sessions_open", "The MTA's connections on the guarded ports, at the last health run.",
	      (double)ds->sessions_now);
	gauge(e, "smtpwall_sessions_idle", "Idle sessions, at the last health run.", (double)ds->idle_now);
	gauge(e, "smtpwall_new_sessions_per_second", "Sessions opened per second, at the last health run.",
	      (double)ds->new_session_rate);
	gauge(e, "smtpwall_emergency_active", "1 in emergency mode, else 0.", ds->emergency_since_ns ? 1 : 0);
	sw_expo_family(e, "smtpwall_emergency_transitions_total", SW_EXPO_COUNTER,
		       "Transitions into (entered) and out of (left) emergency mode.");
	{
		struct sw_lbl in = { "direction", "entered" }, out = { "direction", "left" };

		sw_expo_u64(e, "", &in, 1, ds->emergency_entered);
		sw_expo_u64(e, "", &out, 1, ds->emergency_left);
	}
	sw_expo_one_f64(e, "smtpwall_emergency_seconds_total", SW_EXPO_COUNTER, "Time spent in emergency mode.",
			(double)em_ns / 1e9);
	gauge(e, "smtpwall_emergency_high_water_sessions", "The sessions that start emergency mode.", ds->high);
	gauge(e, "smtpwall_emergency_low_water_sessions", "The sessions below which emergency mode may end.", ds->low);
	gauge(e, "smtpwall_probation_slots", "Probation sessions allowed at once.", (double)ds->probation_slots);
	gauge(e, "smtpwall_probation_slots_used", "Probation sessions in use, at the last run.",
	      (double)ds->probation_used);
	counter(e, "smtpwall_probation_failed_total", "Sources penalised for a failed probation.", ds->probation_failed);
	sw_expo_family(e, "smtpwall_teardowns_total", SW_EXPO_COUNTER,
		       "Sessions torn down (SOCK_DESTROY): idle in an emergency, of a penalised source, other.");
	{
		struct sw_lbl em = { "cause", "emergency" }, pen = { "cause", "penalised" }, oth = { "cause", "other" };
		uint64_t known = ds->teardowns_emergency + ds->teardowns_penalised;

		sw_expo_u64(e, "", &em, 1, ds->teardowns_emergency);
		sw_expo_u64(e, "", &pen, 1, ds->teardowns_penalised);
		sw_expo_u64(e, "", &oth, 1, ds->teardowns > known ? ds->teardowns - known : 0);
	}
	counter(e, "smtpwall_teardown_failures_total", "Teardowns that failed.", ds->teardown_failed);
}

struct cc_pick {
	unsigned id;
	uint64_t syn;
};

static int by_syn(const void *a, const void *b)
{
	const struct cc_pick *x = a, *y = b;

	return x->syn < y->syn ? 1 : x->syn > y->syn ? -1 : (int)x->id - (int)y->id;
}

/* A family of per-country or per-source series, rendered from a vector of values. */
struct family {
	const char *name, *help;
	enum sw_expo_type type;
};

#define COUNTRY_FAMS 6

/* Country @id's values, in the order of render_countries' families. */
static void country_values(const struct sw_scrape *sc, unsigned id, uint64_t v[COUNTRY_FAMS])
{
	const struct sw_country_stats *c = &sc->cs[id];

	v[0] = c->syn;
	v[1] = c->admitted;
	v[2] = v[3] = 0;
	for (int r = 0; r < SW_R_MAX; r++) {
		v[2] += c->dropped[r];
		v[3] += c->would_drop[r];
	}
	v[4] = sc->country_sessions[id];
	v[5] = sc->country_sources[id];
}

static void render_countries(const struct sw_scrape *sc, struct sw_expo *e)
{
	static const struct family fam[COUNTRY_FAMS] = {
		{ "smtpwall_country_connection_attempts_total", "Connection attempts of the country's sources.",
		  SW_EXPO_COUNTER },
		{ "smtpwall_country_admitted_total", "Connection attempts of the country's sources admitted.",
		  SW_EXPO_COUNTER },
		{ "smtpwall_country_dropped_packets_total", "Packets of the country's sources dropped.",
		  SW_EXPO_COUNTER },
		{ "smtpwall_country_would_drop_packets_total",
		  "Packets of the country's sources that would have been dropped.", SW_EXPO_COUNTER },
		{ "smtpwall_country_sessions", "Open sessions of the country's sources.", SW_EXPO_GAUGE },
		{ "smtpwall_country_sources", "The country's sources in the kernel table.", SW_EXPO_GAUGE },
	};
	struct cc_pick picks[SW_COUNTRY_IDS];
	bool shown[SW_COUNTRY_IDS] = { false };
	uint64_t other[COUNTRY_FAMS] = { 0 }, v[COUNTRY_FAMS];
	unsigned n = 0;

	for (unsigned id = 0; id < SW_COUNTRY_IDS; id++) {
		if (sc->configured_country[id])
			shown[id] = true;
		else if (sc->cs[id].syn || sc->country_sources[id])
			picks[n++] = (struct cc_pick){ id, sc->cs[id].syn };
	}
	qsort(picks, n, sizeof(picks[0]), by_syn);
	for (unsigned i = 0; i < n && i < sc->top_countries; i++)
		shown[picks[i].id] = true;
	for (unsigned id = 0; id < SW_COUNTRY_IDS; id++) {
		if (shown[id])
			continue;
		country_values(sc, id, v);
		for (int f = 0; f < COUNTRY_FAMS; f++)
			other[f] += v[f];
	}
	for (int f = 0; f < COUNTRY_FAMS; f++) {
		sw_expo_family(e, fam[f].name, fam[f].type, fam[f].help);
		for (unsigned id = 0; id < SW_COUNTRY_IDS; id++) {
			char code[8];
			struct sw_lbl l = { "country", code };

			if (!shown[id])
				continue;
			country_values(sc, id, v);
			country_label(id, code);
			sw_expo_u64(e, "", &l, 1, v[f]);
		}
		if (n > sc->top_countries) {
			struct sw_lbl l = { "country", "other" };

			sw_expo_u64(e, "", &l, 1, other[f]);
		}
	}
}

static void render_sources(const struct sw_scrape *sc, struct sw_expo *e)
{
	static const struct family fam[6] = {
		{ "smtpwall_source_connection_attempts_total", "Connection attempts of one of the busiest sources.",
		  SW_EXPO_COUNTER },
		{ "smtpwall_source_admitted_total", "Connection attempts admitted, of one of the busiest sources.",
		  SW_EXPO_COUNTER },
		{ "smtpwall_source_dropped_packets_total", "Packets dropped, of one of the busiest sources.",
		  SW_EXPO_COUNTER },
		{ "smtpwall_source_packets_total", "Packets of one of the busiest sources.", SW_EXPO_COUNTER },
		{ "smtpwall_source_sessions", "Open sessions of one of the busiest sources.", SW_EXPO_GAUGE },
		{ "smtpwall_source_penalised", "1 while one of the busiest sources is in the penalty box.",
		  SW_EXPO_GAUGE },
	};

	gauge(e, "smtpwall_sources", "Sources in the kernel table.", (double)sc->sources);
	gauge(e, "smtpwall_sources_penalised", "Sources in the penalty box.", (double)sc->penalised);
	for (int f = 0; f < 6; f++) {
		sw_expo_family(e, fam[f].name, fam[f].type, fam[f].help);
		for (unsigned i = 0; i < sc->n_top; i++) {
			const struct sw_top_source *t = &sc->top[i];
			uint64_t v[6] = { t->syn, t->admitted, t->dropped, t->packets, t->sessions_open, t->penalised };
			struct sw_lbl l = { "source", t->text };

			sw_expo_u64(e, "", &l, 1, v[f]);
		}
	}
}

static void render_figures(const struct sw_scrape *sc, struct sw_expo *e)
{
	const struct sw_fig_policy *p = &sc->fig.policy;
	const struct sw_fig_maillog *m = &sc->fig.maillog;
	static const double lat_bounds[SW_POL_LAT_BUCKETS] = SW_POL_LAT_BOUNDS;

	sw_expo_family(e, "smtpwall_service_up", SW_EXPO_GAUGE, "1 for each of the daemon's services running.");
	for (unsigned i = 0; i < sc->fig.n_services; i++) {
		struct sw_lbl l = { "service", sc->fig.service[i] };

		sw_expo_u64(e, "", &l, 1, sc->fig.service_up[i]);
	}
	gauge(e, "smtpwall_accounts", "Accounts in the policy service's memory.", p->accounts);
	gauge(e, "smtpwall_accounts_suspended", "Accounts whose sending is suspended.", p->suspended);
	gauge(e, "smtpwall_accounts_flagged", "Accounts flagged (multi-origin, distributed guessing).", p->flagged);
	counter(e, "smtpwall_policy_requests_total", "Policy requests from Postfix.", p->requests);
	sw_expo_family(e, "smtpwall_policy_decisions_total", SW_EXPO_COUNTER,
		       "Policy answers, by action and by the policy that decided.");
	for (int a = 0; a < SW_VERDICT_KINDS; a++)
		for (int q = 0; q < SW_POL_N; q++) {
			struct sw_lbl l[2] = { { "action", verdict_names[a] }, { "policy", sw_policy_name(q) } };

			/* Only the pairs that can happen: DUNNO is policy none, the others are not. */
			if ((a == 0) != (q == SW_POL_NONE))
				continue;
			sw_expo_u64(e, "", l, 2, p->decisions[a][q]);
		}
	sw_expo_family(e, "smtpwall_policy_malformed_requests_total", SW_EXPO_COUNTER,
		       "Malformed policy requests (answered DUNNO), by kind.");
	for (int k = 1; k < SW_PE_N_KINDS; k++) {
		struct sw_lbl l = { "kind", sw_policy_error_name(k) };

		sw_expo_u64(e, "", &l, 1, p->malformed[k]);
	}
	counter(e, "smtpwall_policy_connections_refused_total", "smtpd connections refused: too many clients.",
		p->refused_full);
	gauge(e, "smtpwall_policy_clients", "smtpd clients connected to the policy service.", p->clients);
	sw_expo_family(e, "smtpwall_policy_request_duration_seconds", SW_EXPO_HISTOGRAM,
		       "Time from a policy request's end to its answer being queued.");
	sw_expo_histogram(e, NULL, 0, lat_bounds, SW_POL_LAT_BUCKETS, p->latency, p->latency_sum);

	sw_expo_family(e, "smtpwall_maillog_lines_total", SW_EXPO_COUNTER, "Mail-log lines read, by kind.");
	for (int k = 0; k < SW_ML_N_KINDS; k++) {
		struct sw_lbl l = { "kind", sw_mlog_kind_name(k) };

		sw_expo_u64(e, "", &l, 1, m->kinds[k]);
	}
	counter(e, "smtpwall_maillog_truncated_lines_total", "Mail-log lines longer than the limit (read cut).",
		m->truncated);
	counter(e, "smtpwall_maillog_rotations_total", "Mail-log files followed to a new file or read again from 0.",
		m->rotations + m->truncations);
	if (m->lag_known)
		gauge(e, "smtpwall_maillog_lag_bytes", "Bytes of the mail log not read yet.", (double)m->lag_bytes);
	gauge(e, "smtpwall_maillog_last_line_timestamp_seconds", "The time of the last mail-log line read (0: none).",
	      (double)m->last_line_ms / 1000.0);
	sw_expo_family(e, "smtpwall_maillog_hints_total", SW_EXPO_COUNTER,
		       "What the mail-log follower did: penalties, known-good sources, flags; penalties spared "
		       "(shared address, monitor mode).");
	{
		struct sw_lbl l;
		const char *names[5] = { "penalty", "vouch", "flag", "shared_spared", "monitored" };
		uint64_t v[5] = { m->penalties, m->vouches, m->flags, m->shared_spared, m->monitored };

		l.k = "hint";
		for (int i = 0; i < 5; i++) {
			l.v = names[i];
			sw_expo_u64(e, "", &l, 1, v[i]);
		}
	}
}

static void render_geo_maps(const struct sw_scrape *sc, struct sw_expo *e)
{
	const struct sw_geo_info *g = &sc->gi;

	gauge(e, "smtpwall_geo_database_build_timestamp_seconds", "The geo database's own build time (0: none loaded).",
	      sc->geo_ok && g->gen ? (double)g->build_epoch : 0);
	gauge(e, "smtpwall_geo_database_loaded_timestamp_seconds", "When the geo tables in force were loaded.",
	      sc->geo_ok && g->gen ? (double)g->loaded_at : 0);
	sw_expo_family(e, "smtpwall_geo_prefixes", SW_EXPO_GAUGE, "Database records in the geo tables, by family.");
	{
		struct sw_lbl v4 = { "family", "ipv4" }, v6 = { "family", "ipv6" };

		sw_expo_u64(e, "", &v4, 1, sc->geo_ok && g->gen ? g->v4_prefixes : 0);
		sw_expo_u64(e, "", &v6, 1, sc->geo_ok && g->gen ? g->v6_prefixes : 0);
	}
	gauge(e, "smtpwall_geo_generation", "Generation of the geo tables in force (0: none).",
	      sc->geo_ok ? (double)g->gen : 0);
	gauge(e, "smtpwall_geo_load_duration_seconds", "Time to read, build and install the geo tables in force.",
	      sc->geo_ok && g->gen ? (double)g->load_ns / 1e9 : 0);
	sw_expo_family(e, "smtpwall_map_entries", SW_EXPO_GAUGE, "Entries of the kernel maps.");
	for (int i = 0; i < SW_MM_N; i++) {
		struct sw_lbl l = { "map", map_names[i] };

		if (sc->entries[i] >= 0)
			sw_expo_u64(e, "", &l, 1, (uint64_t)sc->entries[i]);
	}
	sw_expo_family(e, "smtpwall_map_capacity", SW_EXPO_GAUGE, "Capacity of the kernel maps.");
	for (int i = 0; i < SW_MM_N; i++) {
		struct sw_lbl l = { "map", map_names[i] };

		sw_expo_u64(e, "", &l, 1, sc->capacity[i]);
	}
}

int sw_scrape_render(const struct sw_scrape *sc, struct sw_expo *e)
{
	char abi[16];

	if (sc->stats_ok)
		render_kernel(sc, e);
	if (sc->ds_ok)
		render_daemon_state(sc, e);
	if (sc->countries_ok)
		render_countries(sc, e);
	if (sc->sources_ok)
		render_sources(sc, e);
	render_figures(sc, e);
	render_geo_maps(sc, e);
	snprintf(abi, sizeof(abi), "%d", SW_ABI_VERSION);
	sw_expo_family(e, "smtpwall_build_info", SW_EXPO_GAUGE, "The build: version and layout (ABI) version.");
	{
		struct sw_lbl l[2] = { { "version", SW_VERSION }, { "abi", abi } };

		sw_expo_u64(e, "", l, 2, 1);
	}
	gauge(e, "smtpwall_start_time_seconds", "When the daemon started, unix seconds.", (double)sc->started_unix);
	gauge(e, "smtpwall_scrape_collect_seconds", "How long this scrape's collection from the kernel took.",
	      sc->collect_s);
	if (sc->fig.gc.have) {
		gauge(e, "smtpwall_gc_duration_seconds",
		      "How long the last walk of the session and source tables (expiry, session health) took.",
		      sc->fig.gc.seconds);
		counter(e, "smtpwall_gc_runs_total", "Walks of the session and source tables.", sc->fig.gc.runs);
	}
	gauge(e, "smtpwall_scrape_loop_stall_seconds",
	      "The event loop's worst lateness while the previous scrape was collected (a 10 ms probe).",
	      sc->previous_stall_s);
	gauge(e, "smtpwall_scrape_errors", "Kernel maps this scrape could not read (their families are left out).",
	      sc->err[0] ? 1 : 0);
	return sw_expo_finish(e);
}
