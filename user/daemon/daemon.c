// SPDX-License-Identifier: GPL-2.0
/*
 * `smtpwall run`: load (or adopt) the enforcer, then run the services of
 * services.c on one event loop until SIGTERM or SIGINT; SIGHUP reloads the
 * configuration. Exiting leaves enforcement in place: only `smtpwall
 * detach` removes it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <systemd/sd-daemon.h>
#include "bus.h"
#include "clock.h"
#include "daemon.h"
#include "lists.h"
#include "log.h"
#include "figures.h"
#include "service.h"
#include "store.h"

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

/* Write the file's share of the kernel config; the fields owned at run time stay as they are. */
static void apply_kernel_config(const struct sw_kernel *k, const struct sw_settings *s)
{
	struct sw_config next;

	sw_settings_to_kernel(s, &next);
	sw_kernel_apply_config(k, &next);
	if (sw_kernel_country_policy(k, s))
		sw_err("cannot write the country policy: %s", strerror(errno));
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


/* ---- the service manager ------------------------------------------------------ */

/*
 * systemd's notify protocol (a no-op without $NOTIFY_SOCKET): READY=1 once
 * every service has started (the interfaces attached, the policy socket
 * listening), RELOADING=1 and READY=1 around a reload, STOPPING=1, and
 * WATCHDOG=1 from a timer on the event loop, so a loop that stops turning
 * is restarted by WatchdogSec.
 */
static void notify_ready(struct sw_daemon *d)
{
	sd_notifyf(0, "READY=1\nSTATUS=%s on %d interface%s%s", d->s.dry_run ? "dry run" : "enforcing",
		   d->s.n_interfaces, d->s.n_interfaces == 1 ? "" : "s",
		   d->s.n_interfaces ? "" : " (none configured)");
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	sd_notify(0, "WATCHDOG=1");
}

/* A timer at half the watchdog's interval, if the manager asked for one. NULL otherwise. */
static struct event *watchdog_start(struct event_base *base)
{
	uint64_t usec = 0;
	struct event *ev;
	struct timeval tv;

	if (sd_watchdog_enabled(0, &usec) <= 0 || !usec)
		return NULL;
	usec /= 2;
	tv.tv_sec = (time_t)(usec / 1000000);
	tv.tv_usec = (suseconds_t)(usec % 1000000);
	ev = event_new(base, -1, EV_PERSIST, on_watchdog, NULL);
	if (!ev || event_add(ev, &tv)) {
		sw_warn("cannot arm the service manager's watchdog timer");
		if (ev)
			event_free(ev);
		return NULL;
	}
	sd_notify(0, "WATCHDOG=1");
	return ev;
}

/* ---- figures ---------------------------------------------------------------------- */

static void daemon_figures(struct sw_daemon *d, struct sw_figures *f)
{
	int n = d->svc_n ? *d->svc_n : 0;

	memset(f, 0, sizeof(*f));
	for (int i = 0; sw_services[i] && i < SW_FIG_SERVICES; i++) {
		bool up = i < n && d->svc_up[i];

		f->service[i] = sw_services[i]->name;
		f->service_up[i] = up;
		f->n_services = (unsigned)i + 1;
		if (up && sw_services[i]->figures)
			sw_services[i]->figures(d, d->svc_state[i], f);
	}
}

/* ---- signals and reload ------------------------------------------------------- */

struct running {
	struct sw_daemon *d;
	void *state[16];
	bool up[16];
	int n;
};

static void reload(struct running *r)
{
	struct sw_daemon *d = r->d;
	const struct sw_run_opts *o = d->opts;
	struct sw_settings next;
	char err[512];

	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)(sw_mono_ns() / 1000));
	sw_settings_defaults(&next);
	if (o->config_path && sw_settings_load(&next, o->config_path, err, sizeof(err))) {
		sw_bus_emit(SW_BUS_DAEMON, SW_LOG_ERROR, "reload failed", "", "config",
			    "reload failed, keeping the running configuration: %s", err);
		sw_settings_free(&next);
		sd_notifyf(0, "READY=1\nSTATUS=reload failed, running the earlier configuration: %s", err);
		return;
	}
	apply_overrides(&next, o);
	if (strcmp(next.bpffs_dir, d->s.bpffs_dir) || strcmp(next.state_dir, d->s.state_dir) ||
	    next.max_sources != d->s.max_sources || next.max_session_entries != d->s.max_session_entries)
		sw_warn("reload: bpffs_dir, state_dir and [capacity] take effect only on restart; "
			"keeping the running values");
	snprintf(next.bpffs_dir, sizeof(next.bpffs_dir), "%s", d->s.bpffs_dir);
	snprintf(next.state_dir, sizeof(next.state_dir), "%s", d->s.state_dir);
	next.max_sources = d->s.max_sources;
	next.max_session_entries = d->s.max_session_entries;

	apply_kernel_config(&d->l.k, &next);
	sw_settings_free(&d->s);
	d->s = next;
	sw_log_set_level(d->s.log_level);
	sw_log_set_format(d->s.log_format);
	for (int i = 0; i < r->n; i++)
		if (r->up[i] && sw_services[i]->reload)
			sw_services[i]->reload(d, r->state[i]);
	sw_bus_emit(SW_BUS_DAEMON, SW_LOG_INFO, "reloaded", "", "sighup", "configuration reloaded from %s",
		    o->config_path ? o->config_path : "defaults");
	log_settings(&d->s);
	notify_ready(d);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct running *r = arg;

	if (sig == SIGHUP)
		reload(r);
	else
		event_base_loopbreak(r->d->base);
}

/* Events published on another thread: the bus wakes the loop to deliver them. */
static void on_bus_wake(evutil_socket_t fd, short what, void *arg)
{
	sw_bus_drain();
}

static void bus_wake(void *ctx)
{
	event_active(ctx, EV_READ, 0);
}

/* ---- the daemon's life ---------------------------------------------------------- */

/* Settings, the lock, state.db (set aside if damaged), the kernel side. */
static int prepare(struct sw_daemon *d, int *pidfd)
{
	const struct sw_run_opts *o = d->opts;
	char err[512];

	sw_settings_defaults(&d->s);
	if (o->config_path && sw_settings_load(&d->s, o->config_path, err, sizeof(err))) {
		fprintf(stderr, "smtpwall: %s\n", err);
		return 1;
	}
	apply_overrides(&d->s, o);
	sw_log_set_level(d->s.log_level);
	sw_log_set_format(d->s.log_format);
	if (!d->s.n_interfaces) {
		fprintf(stderr, "smtpwall: no interface to attach to: set [general] interfaces in %s or use -i IFACE\n",
			o->config_path ? o->config_path : SW_DEFAULT_CONFIG);
		return 2;
	}
	/* The lock first: a state.db is set aside only by the one daemon of its directory. */
	if (sw_store_make_dir(d->s.state_dir, err, sizeof(err))) {
		fprintf(stderr, "smtpwall: %s\n", err);
		return 1;
	}
	*pidfd = take_pidfile(d->s.state_dir, err, sizeof(err));
	if (*pidfd < 0) {
		fprintf(stderr, "smtpwall: %s\n", err);
		return 1;
	}
	d->store = sw_store_open_recover(d->s.state_dir, d->state_aside, sizeof(d->state_aside), err,
					 sizeof(err));
	if (!d->store) {
		fprintf(stderr, "smtpwall: %s\n", err);
		return 1;
	}
	if (*d->state_aside) {
		char rec[sizeof(d->state_aside) + sizeof(err) + 32];

		sw_err("STATE DATABASE DAMAGED: %s. It was set aside as %s and will not be touched again; "
		       "starting with a fresh state.db. The kernel's pinned state (penalties, counters, "
		       "sessions, CLI bans and allows still loaded) is kept and re-recorded; emergency mode "
		       "comes from the config until set again", err, d->state_aside);
		snprintf(rec, sizeof(rec), "%lld %s %s", (long long)time(NULL), d->state_aside, err);
		if (sw_store_setting_put(d->store, "state_recovered", rec, err, sizeof(err)))
			sw_err("state.db: %s", err);
	}
	if (sw_loader_load(&d->l, &d->s, err, sizeof(err))) {
		sw_err("%s", err);
		return 1;
	}
	d->loaded = true;
	sw_info("%s BPF maps in %s", d->l.adopted ? "adopted the pinned" : "created and pinned", d->s.bpffs_dir);
	apply_kernel_config(&d->l.k, &d->s);
	return 0;
}

int sw_daemon_run(const struct sw_run_opts *o)
{
	static const int sigs[] = { SIGHUP, SIGTERM, SIGINT };
	struct sw_daemon d = { .opts = o, .started_ns = sw_mono_ns() };
	struct running r = { .d = &d };
	struct event *sig_ev[3] = { 0 }, *wake_ev = NULL, *watchdog_ev = NULL;
	struct event_config *cfg = NULL;
	bool loader_up = false;
	char err[512];
	int pidfd = -1, ret;

	ret = prepare(&d, &pidfd);
	loader_up = d.loaded;
	if (ret)
		goto out;
	ret = 1;
	if (evthread_use_pthreads() || !(cfg = event_config_new()) || !(d.base = event_base_new_with_config(cfg))) {
		sw_err("cannot set up the event loop");
		goto out;
	}
	wake_ev = event_new(d.base, -1, 0, on_bus_wake, NULL);
	if (!wake_ev || event_assign(wake_ev, d.base, -1, EV_PERSIST, on_bus_wake, NULL)) {
		sw_err("cannot set up the event loop");
		goto out;
	}
	event_add(wake_ev, NULL);
	sw_bus_subscribe(sw_bus_log, NULL);
	sw_bus_set_waker(bus_wake, wake_ev);
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < 3; i++) {
		sig_ev[i] = evsignal_new(d.base, sigs[i], on_signal, &r);
		if (!sig_ev[i] || event_add(sig_ev[i], NULL)) {
			sw_err("cannot set up the event loop's signals");
			goto out;
		}
	}

	d.svc_state = r.state;
	d.svc_up = r.up;
	d.svc_n = &r.n;
	d.figures = daemon_figures;
	for (r.n = 0; sw_services[r.n] && r.n < (int)(sizeof(r.up) / sizeof(r.up[0])); r.n++) {
		const struct sw_service *svc = sw_services[r.n];

		if (!svc->start(&d, &r.state[r.n], err, sizeof(err))) {
			r.up[r.n] = true;
			continue;
		}
		if (svc->required) {
			sw_err("%s", err);
			r.n++;
			goto stop;
		}
		sw_warn("%s", err);
	}
	log_settings(&d.s);
	sw_bus_emit(SW_BUS_DAEMON, SW_LOG_DEBUG, "started", "", "", "started: %d services on the event loop (%s)",
		    r.n, event_base_get_method(d.base));
	watchdog_ev = watchdog_start(d.base);
	notify_ready(&d);

	if (event_base_dispatch(d.base) < 0)
		sw_err("the event loop failed");
	sd_notify(0, "STOPPING=1\nSTATUS=stopping; enforcement stays attached");
	sw_bus_emit(SW_BUS_DAEMON, SW_LOG_INFO, "stopping", "", "signal",
		    "stopping; enforcement stays attached (`smtpwall detach` removes it)");
	ret = 0;
stop:
	for (int i = r.n - 1; i >= 0; i--)
		if (r.up[i] && sw_services[i]->stop)
			sw_services[i]->stop(&d, r.state[i]);
out:
	sw_bus_set_waker(NULL, NULL);
	sw_bus_reset();
	for (int i = 0; i < 3; i++)
		if (sig_ev[i])
			event_free(sig_ev[i]);
	if (wake_ev)
		event_free(wake_ev);
	if (watchdog_ev)
		event_free(watchdog_ev);
	if (d.stall_ev)
		event_free(d.stall_ev);
	if (d.base)
		event_base_free(d.base);
	if (cfg)
		event_config_free(cfg);
	if (loader_up)
		sw_loader_close(&d.l);
	if (pidfd >= 0)
		close(pidfd);
	sw_store_close(d.store);
	sw_settings_free(&d.s);
	return ret;
}
