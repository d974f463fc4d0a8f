// SPDX-License-Identifier: GPL-2.0
/*
 * The policy service: Postfix's smtpd asks it about every MAIL, RCPT and
 * end of message (check_policy_service), over a unix socket in Postfix's
 * queue directory and optionally TCP on loopback. Each connection is
 * read one line at a time into a bounded request (policy_proto.h); each
 * complete request is decided by the accounts ledger (accounts.h) and
 * answered at once, so answers leave in the order the requests came.
 *
 * It fails open: a malformed request, an unknown account state or any
 * fault of ours is answered DUNNO and affects no other client; a line
 * too long to resynchronise with gets DUNNO and the connection is closed
 * (smtpd reconnects). Every second the ledger's counts are handed to a
 * writer thread for state.db (acct_writer.h) and the CLI's changes are
 * read back.
 *
 * It answers on a thread and an event loop of its own ("sw-policy"), with
 * its own connection to state.db, so that nothing the main loop does (the
 * sessions service's judgement of a flooded table, the mail log, the CLI)
 * delays an answer smtpd waits for. What it shares is behind ps->lock:
 * the ledger (the mail-log service asks it on the main loop, through
 * d->accounts and d->accounts_lock), the settings it works with (copied
 * from d->s at a reload), its counters (figures) and the notify commands.
 * A source that keeps presenting a suspended account goes to the mail-log
 * service's hints through a queue the main loop drains; bus events are
 * handed over by the bus itself. Listeners move at a reload on its thread.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include "accounts.h"
#include "acct_writer.h"
#include "bus.h"
#include "geo.h"
#include "hints.h"
#include "log.h"
#include "policy_proto.h"
#include "figures.h"
#include "service.h"
#include "store_accounts.h"

extern char **environ;

#define NOTIFY_MAX	  16		/* notify commands running at once */
#define NOTIFY_TIMEOUT_S  60
#define SUSP_QUEUE	  256		/* suspended-account uses waiting for the main loop */

struct pclient {
	struct policy_svc *ps;
	struct bufferevent *bev;
	struct pclient *next;
	struct sw_policy_req req;
	bool closing;
};

struct notify {
	pid_t pid;
	int64_t started;
	char account[64];
};

/* A use of a suspended account's credentials, for the hints on the main loop. */
struct susp_use {
	uint8_t family;
	uint8_t addr[16];
	int64_t at_ms;
	char account[SW_ACCOUNT_NAME_LEN];
};

struct policy_svc {
	struct sw_daemon *d;
	/* The thread's own loop and what wakes it from the main loop. */
	struct event_base *base;
	pthread_t thread;
	bool have_thread;
	struct event *reload_ev, *stop_ev;
	pthread_mutex_t lock;		/* A, s, the counters, notify (see the top) */
	struct sw_settings s;		/* the settings in force here, copied from d->s */
	struct sw_store *st;		/* its own connection to state.db */
	/* Suspended-account uses for the hints, drained on the main loop. */
	pthread_mutex_t q_lock;
	struct event *q_ev;
	struct susp_use q[SUSP_QUEUE];
	unsigned q_head, q_len;
	uint64_t q_dropped;
	struct evconnlistener *unix_l, *tcp_l;
	char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t unix_dev;
	ino_t unix_ino;
	char cur_socket[SW_PATH_LEN], cur_tcp[64];
	struct pclient *clients;
	unsigned n_clients;
	struct sw_acct_store *as;
	struct sw_accounts *A;
	struct sw_acct_writer *writer;	/* NULL: counts written on the policy thread */
	struct event *tick;
	struct sw_geo_view geo;
	bool geo_open, subscribed;
	bool geo_stale;			/* set by the main loop (__atomic) */
	struct notify notify[NOTIFY_MAX];
	int64_t full_noted, malformed_noted, flush_noted;
	uint64_t slowest_tick_us;	/* the policy thread's share of the once-a-second save */
	/* counters, for the log and the metrics */
	uint64_t requests, malformed[SW_PE_N_KINDS], verdicts[SW_POL_N], refused_full;
	uint64_t decisions[SW_VERDICT_KINDS][SW_POL_N];
	uint64_t latency[SW_POL_LAT_BUCKETS + 1];	/* handle(): decided and answered */
	uint64_t latency_ns_sum;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- where a request comes from ---- */

static void origin_of(struct policy_svc *ps, const char *addr, struct sw_origin *o)
{
	const struct sw_settings *s = &ps->s;
	struct sw_geo_result gr;
	struct sw_cidr c;
	char err[SW_ERR_LEN];
	uint32_t key[4] = { 0 };
	unsigned plen;

	memset(o, 0, sizeof(*o));
	o->country = SW_COUNTRY_NONE;
	if (!*addr || sw_parse_addr(addr, &c, err)) {
		snprintf(o->key, sizeof(o->key), "%.63s", addr);
		return;
	}
	/* An IPv6 client is its /64 (the [limits] prefixes), as the kernel counts it. */
	plen = c.family == SW_AF_INET ? s->ipv4_prefix : s->ipv6_prefix;
	for (unsigned i = plen; i < (c.family == SW_AF_INET ? 32u : 128u); i++)
		c.addr[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
	c.prefixlen = (uint8_t)plen;
	sw_format_cidr(&c, true, o->key, sizeof(o->key));
	if (__atomic_load_n(&ps->geo_stale, __ATOMIC_ACQUIRE) && ps->geo_open) {
		sw_geo_view_close(&ps->geo);
		ps->geo_open = false;
	}
	if (!ps->geo_open && ps->d->loaded) {
		__atomic_store_n(&ps->geo_stale, false, __ATOMIC_RELEASE);
		ps->geo_open = !sw_geo_view_open(&ps->d->l.k, &ps->geo, err, sizeof(err));
	}
	if (!ps->geo_open || !ps->geo.loaded)
		return;
	memcpy(key, c.addr, c.family == SW_AF_INET ? 4 : 16);
	sw_geo_view_lookup(&ps->geo, c.family, key, &gr);
	o->country = gr.found ? gr.country : SW_COUNTRY_UNKNOWN;
	o->abroad = gr.found && s->n_home && o->country != SW_COUNTRY_UNKNOWN && o->country < SW_COUNTRY_IDS &&
		    !s->geo_home[o->country];
}

static void on_bus(void *ctx, const struct sw_bus_event *ev)
{
	struct policy_svc *ps = ctx;

	if (ev->kind == SW_BUS_GEO)	/* new tables: map them at the next request */
		__atomic_store_n(&ps->geo_stale, true, __ATOMIC_RELEASE);
}

/* ---- clients ---- */

static void client_free(struct pclient *c)
{
	struct policy_svc *ps = c->ps;

	for (struct pclient **p = &ps->clients; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	pthread_mutex_lock(&ps->lock);
	ps->n_clients--;
	pthread_mutex_unlock(&ps->lock);
	bufferevent_free(c->bev);
	free(c);
}

/*
 * The answer leaves at once, in one send(2), when nothing waits before it
 * (the usual case: smtpd waits for each answer). Queued on the bufferevent
 * it would leave only at the next turn of the loop, after every other
 * client of this turn, and cost two epoll_ctl calls (write event on, then
 * off): a third of a request's time where system calls are dear. What a
 * full socket does not take is queued, in order; an error is the
 * bufferevent's to find (on_event).
 */
static void answer(struct pclient *c, const char *action)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	char line[sizeof(((struct sw_verdict *)0)->action) + 16];
	int n = snprintf(line, sizeof(line), "action=%s\n\n", action);
	ssize_t sent = 0;

	if (n < 0 || (size_t)n >= sizeof(line)) {
		evbuffer_add_printf(out, "action=%s\n\n", action);
		return;
	}
	if (!evbuffer_get_length(out)) {
		sent = send(bufferevent_getfd(c->bev), line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (sent < 0)
			sent = 0;
	}
	if (sent < n)
		evbuffer_add(out, line + sent, (size_t)(n - sent));
}

static void note_malformed(struct policy_svc *ps, enum sw_policy_error e, const char *client)
{
	int64_t now = now_ms();

	ps->malformed[e]++;
	if (now - ps->malformed_noted < 10000)
		return;	/* a client sending garbage is one line per 10 s, with the count */
	ps->malformed_noted = now;
	sw_bus_emit(SW_BUS_POLICY, SW_LOG_WARN, "malformed", "", sw_policy_error_name(e),
		    "malformed request (%s) from %s, answered DUNNO (%" PRIu64 " of this kind so far)",
		    sw_policy_error_name(e), client, ps->malformed[e]);
}

/*
 * On the policy thread: a source presented a suspended account's
 * credentials. The hints are the mail-log service's, on the main loop;
 * the use waits in a queue for it (a full queue drops the oldest, counted).
 */
static void queue_suspended_use(struct policy_svc *ps, const char *client, const char *account, int64_t at)
{
	struct sw_cidr a;
	char e[SW_ERR_LEN];
	struct susp_use *u;
	bool wake;

	/* Without the mail-log service there are no hints to tell. */
	if (!__atomic_load_n(&ps->d->hints, __ATOMIC_RELAXED) || sw_parse_addr(client, &a, e))
		return;
	pthread_mutex_lock(&ps->q_lock);
	wake = !ps->q_len;	/* one wake-up per drain, not per use */
	if (ps->q_len == SUSP_QUEUE) {
		ps->q_head = (ps->q_head + 1) % SUSP_QUEUE;
		ps->q_len--;
		ps->q_dropped++;
	}
	u = &ps->q[(ps->q_head + ps->q_len++) % SUSP_QUEUE];
	u->family = a.family;
	memcpy(u->addr, a.addr, sizeof(u->addr));
	u->at_ms = at;
	snprintf(u->account, sizeof(u->account), "%s", account);
	pthread_mutex_unlock(&ps->q_lock);
	if (wake)
		event_active(ps->q_ev, EV_READ, 0);	/* safe from any thread */
}

/* On the main loop: the queued uses, to the hints (if the mail-log service runs). */
static void drain_suspended_uses(evutil_socket_t fd, short what, void *arg)
{
	struct policy_svc *ps = arg;

	for (;;) {
		struct susp_use u;

		pthread_mutex_lock(&ps->q_lock);
		if (!ps->q_len) {
			pthread_mutex_unlock(&ps->q_lock);
			return;
		}
		u = ps->q[ps->q_head];
		ps->q_head = (ps->q_head + 1) % SUSP_QUEUE;
		ps->q_len--;
		pthread_mutex_unlock(&ps->q_lock);
		if (ps->d->hints)
			sw_hints_suspended_use(ps->d->hints, u.family, u.addr, u.account, u.at_ms);
	}
}

static void handle(struct pclient *c)
{
	struct policy_svc *ps = c->ps;
	struct sw_verdict v;
	struct sw_origin o;
	uint64_t t0, took;
	int64_t now;

	if (c->req.error != SW_PE_NONE) {
		pthread_mutex_lock(&ps->lock);
		ps->requests++;
		note_malformed(ps, c->req.error, c->req.client_address[0] ? c->req.client_address : "a client");
		pthread_mutex_unlock(&ps->lock);
		answer(c, "DUNNO");
		return;
	}
	t0 = sw_mono_ns();
	now = now_ms();
	pthread_mutex_lock(&ps->lock);
	ps->requests++;
	origin_of(ps, c->req.client_address, &o);
	sw_accounts_decide(ps->A, &c->req, &o, now, &v);
	ps->verdicts[v.policy]++;
	if ((unsigned)v.kind < SW_VERDICT_KINDS && (unsigned)v.policy < SW_POL_N)
		ps->decisions[v.kind][v.policy]++;
	pthread_mutex_unlock(&ps->lock);
	/* a source that keeps presenting a suspended account's credentials */
	if (v.policy == SW_POL_SUSPENDED)
		queue_suspended_use(ps, c->req.client_address, c->req.sasl_username, now);
	answer(c, v.action);
	took = sw_mono_ns() - t0;
	pthread_mutex_lock(&ps->lock);
	ps->latency[sw_pol_lat_bucket((double)took / 1e9)]++;
	ps->latency_ns_sum += took;
	pthread_mutex_unlock(&ps->lock);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct pclient *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (!c->closing) {
		struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
		char line[SW_POLICY_LINE_MAX + 2];
		size_t len;

		if (eol.pos < 0) {
			if (evbuffer_get_length(in) > SW_POLICY_LINE_MAX + 1)
				goto lost;
			return;	/* wait for the rest of the line */
		}
		len = (size_t)eol.pos;
		if (len > SW_POLICY_LINE_MAX + 1)
			goto lost;
		evbuffer_remove(in, line, len + 1);
		if (sw_policy_req_line(&c->req, line, len) == SW_PL_END) {
			handle(c);
			sw_policy_req_reset(&c->req);
		}
	}
	return;
lost:
	/* No end of line in sight: this stream cannot be read again. Answer and close. */
	pthread_mutex_lock(&c->ps->lock);
	note_malformed(c->ps, SW_PE_LINE_TOO_LONG, c->req.client_address[0] ? c->req.client_address : "a client");
	pthread_mutex_unlock(&c->ps->lock);
	answer(c, "DUNNO");
	c->closing = true;
	bufferevent_disable(bev, EV_READ);
	if (!evbuffer_get_length(bufferevent_get_output(bev)))
		client_free(c);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct pclient *c = arg;

	if (c->closing)
		client_free(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	/* EOF, an error or the idle timeout: smtpd reconnects when it needs us. */
	client_free(arg);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	struct policy_svc *ps = arg;
	struct timeval idle;
	struct pclient *c;
	unsigned max_clients;

	pthread_mutex_lock(&ps->lock);
	idle = (struct timeval){ (time_t)(ps->s.policy_idle_ns / 1000000000ULL), 0 };
	max_clients = ps->s.policy_max_clients;
	if (ps->n_clients >= max_clients)
		ps->refused_full++;
	pthread_mutex_unlock(&ps->lock);
	if (ps->n_clients >= max_clients) {
		int64_t now = now_ms();

		if (now - ps->full_noted > 60000) {
			ps->full_noted = now;
			sw_bus_emit(SW_BUS_POLICY, SW_LOG_WARN, "full", "", "clients",
				    "%u clients connected, [policy] max_clients reached; new ones are "
				    "closed (Postfix then applies its default action)", ps->n_clients);
		}
		evutil_closesocket(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		evutil_closesocket(fd);
		return;
	}
	c->ps = ps;
	c->bev = bufferevent_socket_new(ps->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		evutil_closesocket(fd);
		free(c);
		return;
	}
	sw_policy_req_reset(&c->req);
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_set_timeouts(c->bev, &idle, NULL);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->next = ps->clients;
	ps->clients = c;
	pthread_mutex_lock(&ps->lock);
	ps->n_clients++;
	pthread_mutex_unlock(&ps->lock);
}

/* ---- listeners ---- */

static int listen_unix(struct policy_svc *ps, const char *path, char *err, size_t errlen)
{
	const struct sw_settings *s = &ps->s;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat sb;
	mode_t old;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "policy: socket %s: path too long for a unix socket", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (!lstat(path, &sb)) {
		if (!S_ISSOCK(sb.st_mode)) {
			snprintf(err, errlen, "policy: socket %s exists and is not a socket; not replacing it", path);
			return -1;
		}
		/* A live listener there is another program's: leave it alone. */
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && !connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
			close(fd);
			snprintf(err, errlen, "policy: socket %s is in use by another process", path);
			return -1;
		}
		if (fd >= 0)
			close(fd);
		unlink(path);
	}
	old = umask(0177);
	ps->unix_l = evconnlistener_new_bind(ps->base, on_accept, ps,
					     LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 128,
					     (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (!ps->unix_l) {
		snprintf(err, errlen, "policy: cannot listen on %s: %s", path, strerror(errno));
		return -1;
	}
	if (s->policy_group[0]) {
		struct group *g = getgrnam(s->policy_group);

		if (!g || chown(path, (uid_t)-1, g->gr_gid)) {
			snprintf(err, errlen, "policy: cannot give %s to group %s: %s", path, s->policy_group,
				 g ? strerror(errno) : "no such group");
			goto fail;
		}
	}
	if (chmod(path, s->policy_socket_mode) || stat(path, &sb)) {
		snprintf(err, errlen, "policy: cannot set the mode of %s: %s", path, strerror(errno));
		goto fail;
	}
	ps->unix_dev = sb.st_dev;
	ps->unix_ino = sb.st_ino;
	snprintf(ps->unix_path, sizeof(ps->unix_path), "%s", path);
	return 0;
fail:
	evconnlistener_free(ps->unix_l);
	ps->unix_l = NULL;
	unlink(path);
	return -1;
}

static int listen_tcp(struct policy_svc *ps, const char *hostport, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	int sl = sizeof(ss);

	if (evutil_parse_sockaddr_port(hostport, (struct sockaddr *)&ss, &sl)) {
		snprintf(err, errlen, "policy: cannot read tcp %s", hostport);
		return -1;
	}
	ps->tcp_l = evconnlistener_new_bind(ps->base, on_accept, ps,
					    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE, 128,
					    (struct sockaddr *)&ss, sl);
	if (!ps->tcp_l) {
		snprintf(err, errlen, "policy: cannot listen on %s: %s", hostport, strerror(errno));
		return -1;
	}
	return 0;
}

static void close_unix(struct policy_svc *ps)
{
	struct stat sb;

	if (!ps->unix_l)
		return;
	evconnlistener_free(ps->unix_l);
	ps->unix_l = NULL;
	/* Only our own socket: a successor may already have replaced it. */
	if (!stat(ps->unix_path, &sb) && sb.st_dev == ps->unix_dev && sb.st_ino == ps->unix_ino)
		unlink(ps->unix_path);
}

static void close_listeners(struct policy_svc *ps)
{
	close_unix(ps);
	if (ps->tcp_l)
		evconnlistener_free(ps->tcp_l);
	ps->tcp_l = NULL;
	ps->cur_socket[0] = ps->cur_tcp[0] = 0;
}

/* Listen where the settings say; what fails is reported and the rest kept. */
static int open_listeners(struct policy_svc *ps, char *err, size_t errlen)
{
	const struct sw_settings *s = &ps->s;
	char e2[512] = "";
	int ok = 0;

	err[0] = 0;
	if (s->policy_socket[0] && strcmp(s->policy_socket, ps->cur_socket)) {
		close_unix(ps);
		if (listen_unix(ps, s->policy_socket, err, errlen) == 0) {
			snprintf(ps->cur_socket, sizeof(ps->cur_socket), "%s", s->policy_socket);
		}
	} else if (!s->policy_socket[0]) {
		close_unix(ps);
		ps->cur_socket[0] = 0;
	}
	if (s->policy_tcp[0] && strcmp(s->policy_tcp, ps->cur_tcp)) {
		if (ps->tcp_l)
			evconnlistener_free(ps->tcp_l);
		ps->tcp_l = NULL;
		if (listen_tcp(ps, s->policy_tcp, e2, sizeof(e2)) == 0)
			snprintf(ps->cur_tcp, sizeof(ps->cur_tcp), "%s", s->policy_tcp);
		else if (!err[0])
			snprintf(err, errlen, "%s", e2);
	} else if (!s->policy_tcp[0] && ps->tcp_l) {
		evconnlistener_free(ps->tcp_l);
		ps->tcp_l = NULL;
		ps->cur_tcp[0] = 0;
	}
	ok = ps->unix_l || ps->tcp_l;
	if (!ok && !err[0])
		snprintf(err, errlen, "policy: enabled but neither socket nor tcp is set");
	return ok ? 0 : -1;
}

/* ---- the notify command ---- */

static void reap(struct policy_svc *ps, bool stopping)
{
	int64_t now = (int64_t)time(NULL);

	for (int i = 0; i < NOTIFY_MAX; i++) {
		struct notify *n = &ps->notify[i];
		int status;

		if (!n->pid)
			continue;
		if (stopping || now - n->started > NOTIFY_TIMEOUT_S) {
			kill(n->pid, SIGKILL);
			waitpid(n->pid, &status, 0);
			sw_warn("accounts: notify command for %s killed after %llds", n->account,
				(long long)(now - n->started));
			n->pid = 0;
		} else if (waitpid(n->pid, &status, WNOHANG) == n->pid) {
			if (!WIFEXITED(status) || WEXITSTATUS(status))
				sw_warn("accounts: notify command for %s failed (status %d)", n->account,
					WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status));
			n->pid = 0;
		}
	}
}

static void on_flag(void *ctx, const char *account, const char *reason)
{
	struct policy_svc *ps = ctx;	/* ps->lock is held: by the ledger's caller */
	const char *cmd = ps->s.notify_command;
	char env_account[SW_ACCOUNT_NAME_LEN + 32], env_reason[SW_ACCOUNT_REASON_LEN + 32];
	char *argv[] = { (char *)cmd, (char *)account, (char *)reason, NULL };
	char *envp[] = { env_account, env_reason, "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	posix_spawn_file_actions_t fa;
	struct notify *slot = NULL;
	int rc;

	if (!cmd[0])
		return;
	for (int i = 0; i < NOTIFY_MAX && !slot; i++)
		if (!ps->notify[i].pid)
			slot = &ps->notify[i];
	if (!slot) {
		sw_warn("accounts: %d notify commands still running; not notifying for %s", NOTIFY_MAX, account);
		return;
	}
	snprintf(env_account, sizeof(env_account), "SMTPWALL_ACCOUNT=%s", account);
	snprintf(env_reason, sizeof(env_reason), "SMTPWALL_REASON=%s", reason);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	rc = posix_spawn(&slot->pid, cmd, &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	if (rc) {
		slot->pid = 0;
		sw_warn("accounts: cannot run notify command %s for %s: %s", cmd, account, strerror(rc));
		return;
	}
	slot->started = (int64_t)time(NULL);
	snprintf(slot->account, sizeof(slot->account), "%.63s", account);
}

/* ---- the service ---- */

/* Once a second, on the policy thread: the counts to the writer, the CLI's changes, notify commands. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct policy_svc *ps = arg;
	struct timeval tv = { 1, 0 };
	char err[512];
	int64_t now = now_ms();
	struct timespec t0, t1;
	uint64_t took_us;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_mutex_lock(&ps->lock);
	if (ps->writer) {
		rc = sw_acct_writer_tick(ps->writer, ps->A, err, sizeof(err));
		if (sw_accounts_upkeep(ps->A, now, err, sizeof(err)))
			rc = -1;
	} else {
		rc = sw_accounts_flush(ps->A, now, err, sizeof(err));
	}
	if (rc) {
		/* Counts stay in memory and are written at the next tick that succeeds. */
		if (now - ps->flush_noted > 60000) {
			ps->flush_noted = now;
			sw_bus_emit(SW_BUS_POLICY, SW_LOG_ERROR, "failed", "", "store",
				    "accounts: cannot save counts: %s (kept in memory, retried each second)", err);
		}
	}
	reap(ps, false);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	took_us = (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000);
	if (took_us > ps->slowest_tick_us)
		ps->slowest_tick_us = took_us;
	pthread_mutex_unlock(&ps->lock);
	evtimer_add(ps->tick, &tv);
}

/* On the policy thread, woken by policy_reload: the listeners follow the new settings. */
static void on_reload(evutil_socket_t fd, short what, void *arg)
{
	struct policy_svc *ps = arg;
	char err[512] = "";
	bool failed;

	pthread_mutex_lock(&ps->lock);
	if (!strcmp(ps->s.policy_socket, ps->cur_socket) && !strcmp(ps->s.policy_tcp, ps->cur_tcp)) {
		pthread_mutex_unlock(&ps->lock);
		return;
	}
	failed = open_listeners(ps, err, sizeof(err)) || err[0];
	pthread_mutex_unlock(&ps->lock);
	if (failed)
		sw_bus_emit(SW_BUS_POLICY, SW_LOG_ERROR, "failed", "", "listen", "%s", err);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	struct policy_svc *ps = arg;

	event_base_loopbreak(ps->base);
}

static void *policy_main(void *arg)
{
	struct policy_svc *ps = arg;

	event_base_loop(ps->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

/*
 * The settings the policy thread works with: d->s as it is now, without
 * the allow/deny entries, which are d->s's to free at the next reload
 * (the lists service's, never read here).
 */
static void copy_settings(struct policy_svc *ps, const struct sw_settings *from)
{
	memcpy(&ps->s, from, sizeof(ps->s));
	ps->s.allow = ps->s.deny = NULL;
	ps->s.n_allow = ps->s.n_deny = 0;
}

/* The thread, with the signals left to the main loop. */
static int start_thread(struct policy_svc *ps, char *err, size_t errlen)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&ps->thread, NULL, policy_main, ps);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		snprintf(err, errlen, "policy: cannot start its thread: %s", strerror(rc));
		return -1;
	}
	pthread_setname_np(ps->thread, "sw-policy");
	ps->have_thread = true;
	return 0;
}

static void free_event(struct event **ev)
{
	if (*ev)
		event_free(*ev);
	*ev = NULL;
}

/* On the main loop; the thread is stopped first, then everything is the main loop's again. */
static void policy_teardown(struct policy_svc *ps)
{
	char err[512];

	if (ps->have_thread) {
		event_active(ps->stop_ev, EV_READ, 0);
		pthread_join(ps->thread, NULL);
		ps->have_thread = false;
	}
	if (ps->d->accounts == ps->A) {
		ps->d->accounts = NULL;
		ps->d->accounts_lock = NULL;
	}
	close_listeners(ps);
	while (ps->clients)
		client_free(ps->clients);
	free_event(&ps->tick);
	free_event(&ps->reload_ev);
	free_event(&ps->stop_ev);
	if (ps->q_ev) {
		drain_suspended_uses(-1, 0, ps);	/* what the thread queued last */
		free_event(&ps->q_ev);
	}
	if (ps->base)
		event_base_free(ps->base);
	ps->base = NULL;
	sw_acct_writer_stop(ps->writer, ps->A);
	ps->writer = NULL;
	if (ps->A && sw_accounts_flush(ps->A, now_ms(), err, sizeof(err)))
		sw_warn("accounts: the last counts could not be saved: %s", err);
	sw_accounts_free(ps->A);
	ps->A = NULL;
	sw_acct_store_close(ps->as);
	ps->as = NULL;
	if (ps->st)
		sw_store_close(ps->st);
	ps->st = NULL;
	reap(ps, true);
	if (ps->subscribed)
		sw_bus_unsubscribe(on_bus, ps);
	ps->subscribed = false;
	if (ps->geo_open)
		sw_geo_view_close(&ps->geo);
	ps->geo_open = false;
}

static int policy_setup(struct policy_svc *ps, char *err, size_t errlen)
{
	struct sw_daemon *d = ps->d;
	struct timeval tv = { 1, 0 };

	if (!d->store) {
		snprintf(err, errlen, "policy: no state.db, the policy service is off");
		return -1;
	}
	copy_settings(ps, &d->s);
	ps->base = event_base_new();
	if (!ps->base) {
		snprintf(err, errlen, "policy: cannot make its event loop");
		return -1;
	}
	/* Its own connection: the main loop's is used by the other services, on their thread. */
	ps->st = sw_store_open(d->s.state_dir, err, errlen);
	if (!ps->st)
		goto fail;
	ps->as = sw_acct_store_open(ps->st, err, errlen);
	if (!ps->as)
		goto fail;
	ps->A = sw_accounts_new(ps->as, &ps->s, err, errlen);
	if (!ps->A)
		goto fail;
	sw_accounts_on_flag(ps->A, on_flag, ps);
	ps->writer = sw_acct_writer_start(d->s.state_dir, err, errlen);
	if (!ps->writer) {
		sw_bus_emit(SW_BUS_POLICY, SW_LOG_WARN, "failed", "", "store",
			    "accounts: no writer thread (%s): counts are written on the policy thread, answers "
			    "wait for them", err);
		err[0] = 0;
	}
	ps->tick = evtimer_new(ps->base, on_tick, ps);
	ps->reload_ev = event_new(ps->base, -1, 0, on_reload, ps);
	ps->stop_ev = event_new(ps->base, -1, 0, on_stop, ps);
	ps->q_ev = event_new(d->base, -1, 0, drain_suspended_uses, ps);
	if (!ps->tick || !ps->reload_ev || !ps->stop_ev || !ps->q_ev) {
		snprintf(err, errlen, "policy: out of memory");
		goto fail;
	}
	evtimer_add(ps->tick, &tv);
	ps->subscribed = !sw_bus_subscribe(on_bus, ps);
	ps->geo_stale = true;
	if (open_listeners(ps, err, errlen))
		goto fail;
	d->accounts = ps->A;
	d->accounts_lock = &ps->lock;
	if (start_thread(ps, err, errlen))
		goto fail;
	sw_bus_emit(SW_BUS_POLICY, SW_LOG_INFO, "listening", "", "",
		    "answering Postfix on %s%s%s", ps->cur_socket[0] ? ps->cur_socket : "",
		    ps->cur_socket[0] && ps->cur_tcp[0] ? " and " : "", ps->cur_tcp);
	if (err[0])	/* one of two listeners failed: say so, keep the other */
		sw_bus_emit(SW_BUS_POLICY, SW_LOG_ERROR, "failed", "", "listen", "%s", err);
	return 0;
fail:
	policy_teardown(ps);
	return -1;
}

static void policy_free(struct policy_svc *ps)
{
	pthread_mutex_destroy(&ps->lock);
	pthread_mutex_destroy(&ps->q_lock);
	free(ps);
}

static int policy_start(struct sw_daemon *d, void **state, char *err, size_t errlen)
{
	struct policy_svc *ps = calloc(1, sizeof(*ps));

	if (!ps) {
		snprintf(err, errlen, "policy: out of memory");
		return -1;
	}
	ps->d = d;
	pthread_mutex_init(&ps->lock, NULL);
	pthread_mutex_init(&ps->q_lock, NULL);
	*state = ps;
	if (!d->s.policy_enabled)
		return 0;
	if (policy_setup(ps, err, errlen)) {
		*state = NULL;
		policy_free(ps);
		return -1;
	}
	return 0;
}

static void policy_reload(struct sw_daemon *d, void *state)
{
	struct policy_svc *ps = state;
	char err[512] = "";

	if (!ps)
		return;
	if (!d->s.policy_enabled) {
		if (ps->A) {
			policy_teardown(ps);
			sw_bus_emit(SW_BUS_POLICY, SW_LOG_INFO, "stopped", "", "", "disabled by the reload");
		}
		return;
	}
	if (!ps->A) {
		if (policy_setup(ps, err, sizeof(err)))
			sw_bus_emit(SW_BUS_POLICY, SW_LOG_ERROR, "failed", "", "start", "%s", err);
		return;
	}
	/* The ledger reads ps->s (sw_accounts_new): the new settings are in force from the next request. */
	pthread_mutex_lock(&ps->lock);
	copy_settings(ps, &d->s);
	pthread_mutex_unlock(&ps->lock);
	event_active(ps->reload_ev, EV_READ, 0);
}

static void policy_stop(struct sw_daemon *d, void *state)
{
	struct policy_svc *ps = state;
	uint64_t malformed = 0;

	if (!ps)
		return;
	if (ps->A) {
		char by[256];
		size_t off = 0;

		/* Stopped first: from here on the counters are the main loop's to read. */
		if (ps->have_thread) {
			event_active(ps->stop_ev, EV_READ, 0);
			pthread_join(ps->thread, NULL);
			ps->have_thread = false;
		}
		for (int i = 0; i < SW_PE_N_KINDS; i++)
			malformed += ps->malformed[i];
		by[0] = 0;
		for (int p = SW_POL_SUSPENDED; p < SW_POL_N; p++)
			off += (size_t)snprintf(by + off, off < sizeof(by) ? sizeof(by) - off : 0, " %s=%" PRIu64,
						sw_policy_name(p), ps->verdicts[p]);
		sw_info("policy: %" PRIu64 " requests answered, %" PRIu64 " malformed; not DUNNO by policy:%s",
			ps->requests, malformed, by);
		if (ps->writer) {
			uint64_t written, failed, slowest_us;

			sw_acct_writer_stats(ps->writer, &written, &failed, &slowest_us);
			sw_info("policy: counts saved in %" PRIu64 " batches (%" PRIu64
				" refused and retried), the slowest write %" PRIu64
				" us on the writer thread, the slowest second's work on the policy thread %" PRIu64
				" us", written, failed, slowest_us, ps->slowest_tick_us);
		}
		if (ps->q_dropped)
			sw_info("policy: %" PRIu64 " uses of suspended accounts not handed to the mail-log hints "
				"(queue full)", ps->q_dropped);
		policy_teardown(ps);
	}
	policy_free(ps);
}

/* On the main loop, for a scrape. */
static void policy_figures(struct sw_daemon *d, void *state, struct sw_figures *f)
{
	struct policy_svc *ps = state;
	struct sw_fig_policy *p = &f->policy;

	if (!ps)
		return;
	pthread_mutex_lock(&ps->lock);
	p->up = ps->A != NULL;
	p->requests = ps->requests;
	p->refused_full = ps->refused_full;
	memcpy(p->decisions, ps->decisions, sizeof(p->decisions));
	memcpy(p->malformed, ps->malformed, sizeof(p->malformed));
	memcpy(p->latency, ps->latency, sizeof(p->latency));
	p->latency_sum = (double)ps->latency_ns_sum / 1e9;
	p->clients = ps->n_clients;
	if (ps->A)
		sw_accounts_census(ps->A, &p->accounts, &p->suspended, &p->flagged);
	pthread_mutex_unlock(&ps->lock);
}

const struct sw_service sw_svc_policy = {
	.name = "policy",
	.start = policy_start,
	.reload = policy_reload,
	.stop = policy_stop,
	.figures = policy_figures,
	.required = false,
};
