// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "smtpwall.skel.h"
#include "loader.h"
#include "log.h"

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[SW_PATH_LEN];
	char *p;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, mode) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

int sw_bpffs_prepare(const char *dir, char *err, size_t errlen)
{
	struct statfs fs;
	int ret;

	/* A fresh mount namespace (containers, some init systems) may lack bpffs. */
	if (statfs("/sys/fs/bpf", &fs) == 0 && fs.f_type != BPF_FS_MAGIC) {
		if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700")) {
			snprintf(err, errlen, "/sys/fs/bpf is not a bpf filesystem and mounting one failed: %s",
				 strerror(errno));
			return -errno;
		}
		sw_info("mounted bpffs at /sys/fs/bpf");
	}
	ret = mkdir_p(dir, 0700);
	if (ret) {
		snprintf(err, errlen, "cannot create pin directory %s: %s", dir, strerror(-ret));
		return ret;
	}
	if (statfs(dir, &fs) || fs.f_type != BPF_FS_MAGIC) {
		snprintf(err, errlen, "pin directory %s is not on a bpf filesystem", dir);
		return -EINVAL;
	}
	return 0;
}

/* libbpf's own messages go to our log at debug level, warnings at warn. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[1024];
	size_t len;

	vsnprintf(line, sizeof(line), fmt, ap);
	len = strlen(line);
	if (len && line[len - 1] == '\n')
		line[len - 1] = 0;
	if (level == LIBBPF_WARN)
		sw_warn("libbpf: %s", line);
	else
		sw_debug("libbpf: %s", line);
	return 0;
}

int sw_kernel_from_skel(struct sw_kernel *k, struct smtpwall_bpf *skel, const char *dir, char *err,
			size_t errlen)
{
	/* In the order sw_kernel_adopt() takes them. */
	const int fds[] = {
		bpf_map__fd(skel->maps.sw_config),   bpf_map__fd(skel->maps.sw_global),
		bpf_map__fd(skel->maps.sw_stats),    bpf_map__fd(skel->maps.sw_sources),
		bpf_map__fd(skel->maps.sw_reaped),   bpf_map__fd(skel->maps.sw_sessions),
		bpf_map__fd(skel->maps.sw_allow_v4), bpf_map__fd(skel->maps.sw_allow_v6),
		bpf_map__fd(skel->maps.sw_deny_v4),  bpf_map__fd(skel->maps.sw_deny_v6),
		bpf_map__fd(skel->maps.sw_events),   bpf_map__fd(skel->maps.sw_geo4),
		bpf_map__fd(skel->maps.sw_geo6),     bpf_map__fd(skel->maps.sw_geo_info),
		bpf_map__fd(skel->maps.sw_country_policy), bpf_map__fd(skel->maps.sw_country_state),
		bpf_map__fd(skel->maps.sw_country_stats), bpf_map__fd(skel->maps.sw_daemon),
		bpf_map__fd(skel->maps.sw_abi),
	};

	return sw_kernel_adopt(k, dir, fds, err, errlen);
}

int sw_loader_load(struct sw_loader *l, const struct sw_settings *s, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = s->bpffs_dir);
	char path[SW_PATH_LEN + 32];
	int ret;

	memset(l, 0, sizeof(*l));
	sw_kernel_init(&l->k);
	libbpf_set_print(libbpf_print);
	ret = sw_bpffs_prepare(s->bpffs_dir, err, errlen);
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "%s/sw_sources", s->bpffs_dir);
	l->adopted = access(path, F_OK) == 0;
	if (l->adopted) {
		/* Pins of another layout must not be adopted, even where the sizes agree. */
		int fd;

		snprintf(path, sizeof(path), "%s/sw_abi", s->bpffs_dir);
		fd = bpf_obj_get(path);
		if (fd < 0) {
			ret = -errno;
			if (ret == -ENOENT)
				snprintf(err, errlen,
					 "the state pinned in %s has no layout version: it was made by an older "
					 "smtpwall. Stop the running daemon, then `smtpwall detach` removes the "
					 "pins (losing the kernel's state; bans and allows stay in state.db) and "
					 "`smtpwall run` starts afresh", s->bpffs_dir);
			else
				snprintf(err, errlen, "cannot open %s: %s", path, strerror(-ret));
			return ret;
		}
		ret = sw_kernel_abi_check(fd, s->bpffs_dir, err, errlen);
		close(fd);
		if (ret)
			return ret;
	}

	l->skel = smtpwall_bpf__open_opts(&opts);
	if (!l->skel) {
		ret = -errno;
		snprintf(err, errlen, "cannot open the BPF object: %s", strerror(-ret));
		return ret;
	}
	bpf_map__set_max_entries(l->skel->maps.sw_sources, s->max_sources);
	bpf_map__set_max_entries(l->skel->maps.sw_reaped, s->max_sources);
	bpf_map__set_max_entries(l->skel->maps.sw_sessions, s->max_session_entries);

	ret = smtpwall_bpf__load(l->skel);
	if (ret) {
		if (l->adopted)
			snprintf(err, errlen,
				 "cannot load the BPF program over the maps pinned in %s: %s. If the "
				 "[capacity] settings or the smtpwall version changed, the pinned maps "
				 "no longer fit: `smtpwall detach` removes them (losing their state)",
				 s->bpffs_dir, strerror(-ret));
		else
			snprintf(err, errlen, "cannot load the BPF program: %s (run with log_level = debug "
				 "for the verifier's log)", strerror(-ret));
		smtpwall_bpf__destroy(l->skel);
		l->skel = NULL;
		return ret;
	}

	ret = sw_kernel_from_skel(&l->k, l->skel, s->bpffs_dir, err, errlen);
	if (!ret && !l->adopted) {
		ret = sw_kernel_abi_write(&l->k);
		if (ret) {
			snprintf(err, errlen, "cannot record the layout version in %s/sw_abi: %s",
				 s->bpffs_dir, strerror(-ret));
			sw_kernel_close(&l->k);
		}
	}
	if (ret) {
		smtpwall_bpf__destroy(l->skel);
		l->skel = NULL;
	}
	return ret;
}

void sw_loader_close(struct sw_loader *l)
{
	sw_kernel_close(&l->k);
	if (l->skel)
		smtpwall_bpf__destroy(l->skel);	/* pinned maps and links stay */
	l->skel = NULL;
}

static void link_path(const char *dir, const char *ifname, char *buf, size_t len)
{
	snprintf(buf, len, "%s/" SW_LINK_PREFIX "%s", dir, ifname);
}

/* The XDP mode the kernel reports for @ifindex. */
static const char *xdp_mode_name(int ifindex)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	if (bpf_xdp_query(ifindex, 0, &q))
		return "unknown";
	switch (q.attach_mode) {
	case XDP_ATTACHED_DRV:
		return "native";
	case XDP_ATTACHED_SKB:
		return "generic";
	case XDP_ATTACHED_HW:
		return "offload";
	case XDP_ATTACHED_MULTI:
		return "multi";
	default:
		return "detached";
	}
}

/* ifindex the pinned link at @path is attached to, 0 if defunct, -errno on error. */
static int link_ifindex(int link_fd)
{
	struct bpf_link_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(link_fd, &info, &len))
		return -errno;
	return info.xdp.ifindex;
}

int sw_loader_attach(struct sw_loader *l, const char *ifname, enum sw_xdp_mode mode,
		     char *mode_out, size_t mode_len, char *err, size_t errlen)
{
	int prog_fd = bpf_program__fd(l->skel->progs.smtpwall_xdp);
	char path[SW_PATH_LEN + 32];
	int ifindex, link_fd, ret = -EINVAL;

	ifindex = if_nametoindex(ifname);
	if (!ifindex) {
		snprintf(err, errlen, "interface %s: %s", ifname, strerror(errno));
		return -ENODEV;
	}
	link_path(l->k.dir, ifname, path, sizeof(path));

	link_fd = bpf_obj_get(path);
	if (link_fd >= 0) {
		/* Adopt: move the existing link to the new program, no gap in enforcement. */
		if (link_ifindex(link_fd) == ifindex && !bpf_link_update(link_fd, prog_fd, NULL)) {
			close(link_fd);
			snprintf(mode_out, mode_len, "%s", xdp_mode_name(ifindex));
			return 0;
		}
		/* The interface went away and came back: the old link is defunct. */
		sw_warn("%s: pinned XDP link is stale, attaching anew", ifname);
		close(link_fd);
		unlink(path);
	}

	for (int attempt = 0; attempt < 2; attempt++) {
		bool native = attempt == 0 ? mode != SW_XDP_GENERIC : false;
		LIBBPF_OPTS(bpf_link_create_opts, opts,
			    .flags = native ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE);

		if (attempt == 1 && mode != SW_XDP_AUTO)
			break;
		link_fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &opts);
		if (link_fd >= 0) {
			snprintf(mode_out, mode_len, "%s", native ? "native" : "generic");
			break;
		}
		ret = -errno;
		if (attempt == 0 && mode == SW_XDP_AUTO)
			sw_warn("%s: native XDP attach failed (%s); falling back to generic (skb) mode, "
				"which works everywhere but costs more per packet",
				ifname, strerror(-ret));
	}
	if (link_fd < 0) {
		snprintf(err, errlen, "cannot attach XDP to %s: %s%s", ifname, strerror(-ret),
			 ret == -EBUSY || ret == -EEXIST ? " (another XDP program is attached; remove it first)"
							 : "");
		return ret;
	}
	if (bpf_obj_pin(link_fd, path)) {
		ret = -errno;
		snprintf(err, errlen, "cannot pin XDP link at %s: %s", path, strerror(-ret));
		bpf_link_detach(link_fd);
		close(link_fd);
		return ret;
	}
	close(link_fd);
	return 0;
}

/*
 * The server's side: tc egress. A tcx link (kernel 6.6+) pinned like the
 * XDP link, so it survives the daemon and a restart moves it to the new
 * program in one step; older kernels get a classic clsact filter, which
 * stays attached too and is replaced in place.
 */
#ifndef SW_BPF_TCX_EGRESS
#define SW_BPF_TCX_EGRESS 47	/* BPF_TCX_EGRESS, newer than these headers */
#endif
#define SW_TC_HANDLE 0x5357	/* "SW" */
#define SW_TC_PRIO   1

static void egress_path(const char *dir, const char *ifname, char *buf, size_t len)
{
	snprintf(buf, len, "%s/" SW_EGRESS_PREFIX "%s", dir, ifname);
}

int sw_loader_attach_egress(struct sw_loader *l, const char *ifname, char *how, size_t how_len, char *err,
			    size_t errlen)
{
	int prog_fd = bpf_program__fd(l->skel->progs.smtpwall_tc_egress);
	char path[SW_PATH_LEN + 32];
	int ifindex, link_fd, ret;

	ifindex = if_nametoindex(ifname);
	if (!ifindex) {
		snprintf(err, errlen, "interface %s: %s", ifname, strerror(errno));
		return -ENODEV;
	}
	egress_path(l->k.dir, ifname, path, sizeof(path));
	link_fd = bpf_obj_get(path);
	if (link_fd >= 0) {
		if (link_ifindex(link_fd) == ifindex && !bpf_link_update(link_fd, prog_fd, NULL)) {
			close(link_fd);
			snprintf(how, how_len, "tcx");
			return 0;
		}
		sw_warn("%s: pinned egress link is stale, attaching anew", ifname);
		close(link_fd);
		unlink(path);
	}
	link_fd = bpf_link_create(prog_fd, ifindex, SW_BPF_TCX_EGRESS, NULL);
	if (link_fd >= 0) {
		if (bpf_obj_pin(link_fd, path)) {
			ret = -errno;
			snprintf(err, errlen, "cannot pin the egress link at %s: %s", path, strerror(-ret));
			close(link_fd);
			return ret;
		}
		close(link_fd);
		snprintf(how, how_len, "tcx");
		return 0;
	}
	/* No tcx: a clsact qdisc and a direct-action filter, replaced if there. */
	{
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_EGRESS);
		LIBBPF_OPTS(bpf_tc_opts, opts, .handle = SW_TC_HANDLE, .priority = SW_TC_PRIO,
			    .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE);

		ret = bpf_tc_hook_create(&hook);
		if (ret && ret != -EEXIST) {
			snprintf(err, errlen, "cannot add a clsact qdisc to %s: %s", ifname, strerror(-ret));
			return ret;
		}
		ret = bpf_tc_attach(&hook, &opts);
		if (ret) {
			snprintf(err, errlen, "cannot attach the egress program to %s: %s", ifname,
				 strerror(-ret));
			return ret;
		}
	}
	snprintf(how, how_len, "tc");
	return 0;
}

/* Remove the egress program of @ifname, whichever way it was attached. */
static void detach_egress(const char *dir, const char *ifname)
{
	char path[SW_PATH_LEN + 32];
	int fd, ifindex = if_nametoindex(ifname);

	egress_path(dir, ifname, path, sizeof(path));
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		bpf_link_detach(fd);
		close(fd);
		unlink(path);
		return;		/* a tcx link: no clsact filter was made */
	}
	if (ifindex) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_EGRESS);
		LIBBPF_OPTS(bpf_tc_opts, opts, .handle = SW_TC_HANDLE, .priority = SW_TC_PRIO);

		bpf_tc_detach(&hook, &opts);	/* ENOENT when it was a tcx link: fine */
	}
}

int sw_loader_penalize(struct sw_loader *l, const struct sw_src_key *key, uint32_t reason, uint32_t detail)
{
	struct sw_ctl_penalty req = { .src = *key, .reason = reason, .detail = detail, .now_ns = sw_mono_ns() };
	/* A syscall program's context is written back into ctx_in; ctx_out is refused. */
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &req, .ctx_size_in = sizeof(req));

	if (bpf_prog_test_run_opts(bpf_program__fd(l->skel->progs.smtpwall_ctl_penalize), &opts))
		return -errno;
	return req.result;
}

int sw_loader_vouch(struct sw_loader *l, const struct sw_src_key *key)
{
	struct sw_ctl_penalty req = { .src = *key, .now_ns = sw_mono_ns() };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &req, .ctx_size_in = sizeof(req));

	if (bpf_prog_test_run_opts(bpf_program__fd(l->skel->progs.smtpwall_ctl_vouch), &opts))
		return -errno;
	return req.result;
}

int sw_attachments(const char *dir, struct sw_attachment *out, int max)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d)) && n < max) {
		char path[SW_PATH_LEN + 300];
		struct sw_attachment *a = &out[n];
		int fd, ifindex;

		if (strncmp(de->d_name, SW_LINK_PREFIX, strlen(SW_LINK_PREFIX)))
			continue;
		memset(a, 0, sizeof(*a));
		snprintf(a->ifname, sizeof(a->ifname), "%s", de->d_name + strlen(SW_LINK_PREFIX));
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		fd = bpf_obj_get(path);
		ifindex = fd >= 0 ? link_ifindex(fd) : 0;
		if (fd >= 0)
			close(fd);
		a->ifindex = ifindex > 0 ? ifindex : 0;
		snprintf(a->mode, sizeof(a->mode), "%s", a->ifindex ? xdp_mode_name(a->ifindex) : "detached");
		n++;
	}
	closedir(d);
	return n;
}

int sw_detach_iface(const char *dir, const char *ifname, char *err, size_t errlen)
{
	char path[SW_PATH_LEN + 32];
	int fd;

	detach_egress(dir, ifname);
	link_path(dir, ifname, path, sizeof(path));
	fd = bpf_obj_get(path);
	if (fd < 0) {
		if (errno == ENOENT)
			return -ENOENT;
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -errno;
	}
	/* Detach explicitly: another process may still hold the link open. */
	bpf_link_detach(fd);
	close(fd);
	if (unlink(path)) {
		snprintf(err, errlen, "cannot remove %s: %s", path, strerror(errno));
		return -errno;
	}
	return 0;
}

int sw_detach_all(const char *dir, char *err, size_t errlen)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int ret = 0;

	if (!d) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "cannot open %s: %s", dir, strerror(errno));
		return -errno;
	}
	while ((de = readdir(d))) {
		char path[SW_PATH_LEN + 300];

		if (de->d_name[0] == '.')
			continue;
		if (!strncmp(de->d_name, SW_EGRESS_PREFIX, strlen(SW_EGRESS_PREFIX)))
			detach_egress(dir, de->d_name + strlen(SW_EGRESS_PREFIX));
		if (!strncmp(de->d_name, SW_LINK_PREFIX, strlen(SW_LINK_PREFIX))) {
			int r = sw_detach_iface(dir, de->d_name + strlen(SW_LINK_PREFIX), err, errlen);

			if (r && r != -ENOENT)
				ret = r;
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlink(path) && errno != ENOENT) {
			snprintf(err, errlen, "cannot remove %s: %s", path, strerror(errno));
			ret = -errno;
		}
	}
	closedir(d);
	if (!ret && rmdir(dir) && errno != ENOENT) {
		snprintf(err, errlen, "cannot remove %s: %s", dir, strerror(errno));
		ret = -errno;
	}
	return ret;
}
