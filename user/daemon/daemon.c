// SPDX-License-Identifier: GPL-2.0
/*
 * `smtpwall run`: load (or adopt) the enforcer, attach it, keep its state
 * tidy, log its events, reload on SIGHUP. Exiting leaves enforcement in
 * place: only `smtpwall detach` removes it.
 */
#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "daemon.h"
#include "gc.h"
#include "geo.h"
#include "health.h"
#include "lists.h"
#include "netlink.h"
#include "loader.h"
#include "log.h"
#include "store.h"

static volatile sig_atomic_t got_reload, got_stop;
static struct sw_geo_watch geo_watch;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		got_reload = 1;
	else
		got_stop = 1;
}


/* The daemon's lock: one daemon per state directory. */
static int take_pidfile(const char *state_dir, char *err, size_t errlen)
{
	char path[SW_PATH_LEN + 16], buf[32];
	int fd;

	snprintf(path, sizeof(path), "%s/daemon.pid", state_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

		buf[n > 0 ? n : 0] = 0;
		buf[strcspn(buf, "\n")] = 0;
		snprintf(err, errlen, "another smtpwall daemon (pid %s) holds %s", buf[0] ? buf : "?", path);
		close(fd);
		return -1;
	}
	if (ftruncate(fd, 0) == 0) {
		int len = snprintf(buf, sizeof(buf), "%d\n", getpid());

		if (pwrite(fd, buf, len, 0) != len)
			sw_warn("cannot write %s: %s", path, strerror(errno));
	}
	return fd;
}

int sw_daemon_pid(const char *state_dir)
{
	char path[SW_PATH_LEN + 16], buf[32];
	int fd, pid = 0;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/daemon.pid", state_dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	/* Held lock = running daemon; a stale file from a killed one is not. */
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		close(fd);
		return 0;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = 0;
		pid = atoi(buf);
	}
	close(fd);
	return pid > 0 ? pid : -1;
}

/* What the event handler needs. */
struct event_ctx {
	const struct sw_kernel *k;
	struct sw_health *health;
	const struct sw_settings *s;
};

static int on_event(void *ctx, void *data, size_t size)
{
	const struct event_ctx *e = ctx;
	const struct sw_event *ev = data;
	struct sw_cidr c;
	char who[64], dur[32], why[160];

	if (size < sizeof(*ev))
		return 0;
	sw_source_cidr(e->k->config, &ev->src, &c);
	sw_format_cidr(&c, true, who, sizeof(who));
	if (ev->type != SW_EV_PENALTY)
		return 0;
	sw_format_duration(ev->until_ns > ev->ts_ns ? ev->until_ns - ev->ts_ns : 0, dur, sizeof(dur));
	/* ev->strikes carries the evidence: strikes, or the count the health policy judged. */
	switch (ev->reason) {
	case SW_R_IDLE:
		snprintf(why, sizeof(why), "%u idle sessions", ev->strikes);
		break;
	case SW_R_PREGREET:
		snprintf(why, sizeof(why), "%u sessions talking before the greeting", ev->strikes);
		break;
	case SW_R_HARVEST:
		snprintf(why, sizeof(why), "%u rejected recipients (directory harvest)", ev->strikes);
		break;
	case SW_R_AUTH:
		snprintf(why, sizeof(why), "%u failed logins", ev->strikes);
		break;
	case SW_R_PROBATION: {
		char what[96];

		sw_probation_text(ev->strikes, 0, what, sizeof(what));
		snprintf(why, sizeof(why), "failed probation in an emergency: %s", what);
		break;
	}
	default:
		snprintf(why, sizeof(why), "%u %s strikes", ev->strikes, sw_reason_name(ev->reason));
	}
	sw_info("penalty: %s dropped for %s: %s (offence %u)", who, dur, why, ev->offences);
	if (e->health)
		sw_health_penalised(e->health, e->s, &ev->src, ev->reason);
	return 0;
}

/* Write the file's share of the kernel config; the fields owned at run time stay as they are. */
static void apply_kernel_config(const struct sw_kernel *k, const struct sw_settings *s)
{
	struct sw_config next;

	sw_settings_to_kernel(s, &next);
	sw_kernel_apply_config(k, &next);
	if (sw_kernel_country_policy(k, s))
		sw_err("cannot write the country policy: %s", strerror(errno));
}

static int attach_all(struct sw_loader *l, const struct sw_settings *s, char *err, size_t errlen)
{
	struct sw_attachment att[SW_MAX_IFACES * 2];
	int n, failures = 0, egress = 0;

	for (int i = 0; i < s->n_interfaces; i++) {
		char mode[16];

		char how[8];

		if (sw_loader_attach(l, s->interfaces[i], s->xdp_mode, mode, sizeof(mode), err, errlen)) {
			sw_err("%s", err);
			failures++;
			continue;
		}
		/* Without the egress side, limits still work; session health does not. */
		if (sw_loader_attach_egress(l, s->interfaces[i], how, sizeof(how), err, errlen)) {
			sw_err("%s: the server's side of sessions is not seen (no greeting, replies, "
			       "idle judgement)", err);
			snprintf(how, sizeof(how), "none");
		} else {
			egress++;
		}
		sw_info("attached to %s (%s XDP, %s egress)", s->interfaces[i], mode, how);
	}
	/* Interfaces no longer in the config. */
	n = sw_attachments(s->bpffs_dir, att, SW_MAX_IFACES * 2);
	for (int i = 0; i < n; i++) {
		bool wanted = false;

		for (int j = 0; j < s->n_interfaces; j++)
			wanted |= !strcmp(att[i].ifname, s->interfaces[j]);
		if (!wanted && !sw_detach_iface(s->bpffs_dir, att[i].ifname, err, errlen))
			sw_info("detached from %s (no longer configured)", att[i].ifname);
	}
	/* Pregreet is judged only where the server's greeting can be seen on every interface. */
	sw_kernel_config_flag(&l->k, SW_CFG_EGRESS, egress == s->n_interfaces);
	if (failures == s->n_interfaces && failures) {
		snprintf(err, errlen, "could not attach to any interface");
		return -1;
	}
	return 0;
}

static void log_settings(const struct sw_settings *s)
{
	char ports[256], rate[32], idle[32];

	sw_format_ports(s->port_bitmap, ports, sizeof(ports));
	if (s->syn_interval_ns)
		snprintf(rate, sizeof(rate), "%.3g/s", 1e9 / (double)s->syn_interval_ns);
	else
		snprintf(rate, sizeof(rate), "off");
	sw_format_duration(s->idle_timeout_ns, idle, sizeof(idle));
	sw_info("guarding ports %s: syn_rate %s burst %u, max_sessions %u, penalty after %u strikes%s",
		ports, rate, s->syn_burst, s->max_sessions, s->penalty_strikes,
		s->dry_run ? " [dry-run: nothing is dropped]" : "");
}

/* Overrides from the command line survive reloads. */
static void apply_overrides(struct sw_settings *s, const struct sw_run_opts *o)
{
	if (o->n_interfaces) {
		memcpy(s->interfaces, o->interfaces, sizeof(s->interfaces));
		s->n_interfaces = o->n_interfaces;
	}
	if (o->dry_run)
		s->dry_run = true;
}

static int reload(struct sw_loader *l, struct sw_settings *cur, struct sw_store *store,
		  const struct sw_run_opts *o)
{
	struct sw_settings next;
	char err[512];

	sw_settings_defaults(&next);
	if (o->config_path && sw_settings_load(&next, o->config_path, err, sizeof(err))) {
		sw_err("reload failed, keeping the running configuration: %s", err);
		sw_settings_free(&next);
		return -1;
	}
	apply_overrides(&next, o);
	if (strcmp(next.bpffs_dir, cur->bpffs_dir) || strcmp(next.state_dir, cur->state_dir) ||
	    next.max_sources != cur->max_sources || next.max_session_entries != cur->max_session_entries)
		sw_warn("reload: bpffs_dir, state_dir and [capacity] take effect only on restart; "
			"keeping the running values");
	snprintf(next.bpffs_dir, sizeof(next.bpffs_dir), "%s", cur->bpffs_dir);
	snprintf(next.state_dir, sizeof(next.state_dir), "%s", cur->state_dir);
	next.max_sources = cur->max_sources;
	next.max_session_entries = cur->max_session_entries;

	apply_kernel_config(&l->k, &next);
	/* SIGHUP reloads the geo database too, changed or not. */
	sw_geo_refresh(&geo_watch, &l->k, next.geo_database, true);
	if (sw_lists_sync(&l->k, &next, store, err, sizeof(err)) < 0)
		sw_err("reload: lists: %s", err);
	if (attach_all(l, &next, err, sizeof(err)))
		sw_err("reload: %s", err);
	sw_log_set_level(next.log_level);
	sw_settings_free(cur);
	*cur = next;
	sw_info("configuration reloaded from %s", o->config_path ? o->config_path : "defaults");
	log_settings(cur);
	return 0;
}

int sw_daemon_run(const struct sw_run_opts *o)
{
	struct sw_settings s;
	struct sw_loader l;
	struct sw_store *store = NULL;
	struct ring_buffer *rb = NULL;
	struct sw_gc gc;
	struct sw_health health = { 0 };
	struct sw_links *links;
	uint64_t reattach_at = 0;
	struct event_ctx ectx = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };
	uint64_t next_gc = 0;
	char err[512], aside[SW_PATH_LEN + 64];
	int pidfd, ret = 1;
	long loaded;

	sw_settings_defaults(&s);
	if (o->config_path && sw_settings_load(&s, o->config_path, err, sizeof(err))) {
		fprintf(stderr, "smtpwall: %s\n", err);
		return 1;
	}
	apply_overrides(&s, o);
	sw_log_set_level(s.log_level);
	if (!s.n_interfaces) {
		fprintf(stderr, "smtpwall: no interface to attach to: set [general] interfaces in %s or use -i IFACE\n",
			o->config_path ? o->config_path : SW_DEFAULT_CONFIG);
		sw_settings_free(&s);
		return 2;
	}

	/* The lock first: a state.db is set aside only by the one daemon of its directory. */
	if (sw_store_make_dir(s.state_dir, err, sizeof(err))) {
		fprintf(stderr, "smtpwall: %s\n", err);
		sw_settings_free(&s);
		return 1;
	}
	pidfd = take_pidfile(s.state_dir, err, sizeof(err));
	if (pidfd < 0) {
		fprintf(stderr, "smtpwall: %s\n", err);
		sw_settings_free(&s);
		return 1;
	}
	store = sw_store_open_recover(s.state_dir, aside, sizeof(aside), err, sizeof(err));
	if (!store) {
		fprintf(stderr, "smtpwall: %s\n", err);
		goto out_pid;
	}
	if (*aside) {
		char rec[sizeof(aside) + sizeof(err) + 32];

		sw_err("STATE DATABASE DAMAGED: %s. It was set aside as %s and will not be touched again; "
		       "starting with a fresh state.db. The kernel's pinned state (penalties, counters, "
		       "sessions, CLI bans and allows still loaded) is kept and re-recorded; emergency mode "
		       "comes from the config until set again", err, aside);
		snprintf(rec, sizeof(rec), "%lld %s %s", (long long)time(NULL), aside, err);
		if (sw_store_setting_put(store, "state_recovered", rec, err, sizeof(err)))
			sw_err("state.db: %s", err);
	}

	if (sw_loader_load(&l, &s, err, sizeof(err))) {
		sw_err("%s", err);
		goto out_pid;
	}
	sw_info("%s BPF maps in %s", l.adopted ? "adopted the pinned" : "created and pinned", s.bpffs_dir);
	apply_kernel_config(&l.k, &s);
	if (*aside && l.adopted) {
		/* Fail closed toward what was judged before: the kernel's CLI entries go back into the store. */
		long n = sw_lists_recover(&l.k, store, aside, err, sizeof(err));

		if (n < 0)
			sw_err("recovering the CLI's bans and allows from the kernel: %s", err);
		else
			sw_warn("recovered %ld CLI bans and allows from the kernel's pinned lists into the fresh "
				"state.db", n);
	}
	loaded = sw_lists_sync(&l.k, &s, store, err, sizeof(err));
	if (loaded < 0) {
		sw_err("lists: %s", err);
		goto out_loader;
	}
	sw_info("loaded %ld allow/deny entries", loaded);
	/* Tables the kernel already holds from this very file are kept: a restart costs nothing. */
	sw_geo_refresh(&geo_watch, &l.k, s.geo_database, false);
	if (attach_all(&l, &s, err, sizeof(err))) {
		sw_err("%s", err);
		goto out_loader;
	}
	log_settings(&s);

	if (sw_health_init(&health, err, sizeof(err))) {
		sw_warn("%s: idle sessions cannot be torn down and the MTA's sessions are counted from the "
			"session table", err);
		health.diag = NULL;
	}
	ectx.k = &l.k;
	ectx.health = &health;
	ectx.s = &s;
	rb = ring_buffer__new(l.k.events_fd, on_event, &ectx, NULL);
	if (!rb)
		sw_warn("events: cannot open the ring buffer (%s); penalties will not be logged",
			strerror(errno));

	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	links = sw_links_open(&s, err, sizeof(err));
	if (!links)
		sw_warn("%s: an interface that is recreated is attached again only on SIGHUP", err);

	sw_gc_init(&gc);
	while (!got_stop) {
		struct pollfd pfd[2] = { { .fd = -1 }, { .fd = -1 } };
		uint64_t now;

		/* Penalty events and link events, or at most 200 ms between GC checks. */
		if (rb) {
			pfd[0].fd = ring_buffer__epoll_fd(rb);
			pfd[0].events = POLLIN;
		}
		if (links) {
			pfd[1].fd = sw_links_fd(links);
			pfd[1].events = POLLIN;
		}
		if (poll(pfd, 2, 200) > 0) {
			if (rb && (pfd[0].revents & POLLIN)) {
				int r = ring_buffer__consume(rb);

				if (r < 0 && r != -EINTR)
					sw_warn("events: %s", strerror(-r));
			}
			if (links && (pfd[1].revents & POLLIN) && sw_links_process(links) && !reattach_at)
				reattach_at = sw_mono_ns() + 100 * 1000000ULL;	/* let the link settle */
		}
		if (got_reload) {
			got_reload = 0;
			reload(&l, &s, store, o);
			if (links)
				sw_links_settings(links, &s);
		}
		now = sw_mono_ns();
		if (reattach_at && now >= reattach_at) {
			reattach_at = 0;
			sw_info("link change on a configured interface: attaching again");
			if (attach_all(&l, &s, err, sizeof(err)))
				sw_err("%s", err);
		}
		if (now >= next_gc) {
			struct sw_gc_result res;
			int r = sw_gc_run(&gc, &l.k, &s, now, &res);

			if (r)
				sw_warn("gc: %s", strerror(-r));
			if (res.sessions_expired || res.sessions_evicted || res.sources_expired || res.list_expired)
				sw_debug("gc: %ld sessions (%ld expired, %ld evicted), %ld sources (%ld expired), "
					 "%ld list entries expired",
					 res.sessions_seen, res.sessions_expired, res.sessions_evicted,
					 res.sources_seen, res.sources_expired, res.list_expired);
			if (res.list_expired)
				sw_store_expire(store, time(NULL), err, sizeof(err));
			if (!r)
				sw_health_run(&health, &l, &s, store, &res, now);
			sw_gc_result_free(&res);
			/* A database replaced on disk (geoipupdate renames the new file into place). */
			sw_geo_refresh(&geo_watch, &l.k, s.geo_database, false);
			next_gc = now + s.gc_interval_ns;
		}
	}
	sw_info("stopping; enforcement stays attached (`smtpwall detach` removes it)");
	ret = 0;
	sw_gc_free(&gc);
	sw_links_close(links);
	ring_buffer__free(rb);
	sw_health_free(&health);
out_loader:
	sw_loader_close(&l);
out_pid:
	if (pidfd >= 0)
		close(pidfd);
	sw_store_close(store);
	sw_settings_free(&s);
	return ret;
}
