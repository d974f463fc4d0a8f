/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Loading the XDP program, pinning its maps and links under bpffs_dir, and
 * attaching it. Maps are reused from the pins when they exist, so a
 * restarted daemon adopts every counter, ban and session; XDP links are
 * pinned so the program stays attached when the daemon exits or dies.
 */
#ifndef SW_LOADER_H
#define SW_LOADER_H

#include "config.h"
#include "kernel.h"

struct smtpwall_bpf;

struct sw_loader {
	struct smtpwall_bpf *skel;
	struct sw_kernel k;
	bool adopted;		/* maps came from existing pins */
};

/* Mount bpffs at /sys/fs/bpf if missing, create @dir. */
int sw_bpffs_prepare(const char *dir, char *err, size_t errlen);

/*
 * Handles on a loaded skeleton's maps, pinned or not (the daemon's, or a
 * test's unpinned instance). @dir is only recorded.
 */
int sw_kernel_from_skel(struct sw_kernel *k, struct smtpwall_bpf *skel, const char *dir, char *err,
			size_t errlen);

/* Open, size, load (reusing pins) and pin. */
int sw_loader_load(struct sw_loader *l, const struct sw_settings *s, char *err, size_t errlen);
void sw_loader_close(struct sw_loader *l);

/*
 * Attach to @ifname through a pinned XDP link, or move an existing pinned
 * link to the newly loaded program atomically. @mode_out gets "native" or
 * "generic".
 */
int sw_loader_attach(struct sw_loader *l, const char *ifname, enum sw_xdp_mode mode,
		     char *mode_out, size_t mode_len, char *err, size_t errlen);

/*
 * Attach the tc egress program (the server's side of each session) to
 * @ifname: a pinned tcx link where the kernel has tcx, else a clsact
 * filter. @how gets "tcx" or "tc".
 */
int sw_loader_attach_egress(struct sw_loader *l, const char *ifname, char *how, size_t how_len, char *err,
			    size_t errlen);

/*
 * Send @key's source to the penalty box for @reason (a daemon-judged policy,
 * e.g. SW_R_IDLE) through the program's own escalation. 0, -ENOENT (no
 * state), -EALREADY (already penalised) or -errno.
 */
int sw_loader_penalize(struct sw_loader *l, const struct sw_src_key *key, uint32_t reason, uint32_t detail);

/*
 * Vouch for @key's source (a login the MTA logged): known good from now.
 * 0, -ENOENT (no state), -EALREADY (penalised: not vouched for) or -errno.
 */
int sw_loader_vouch(struct sw_loader *l, const struct sw_src_key *key);

/* Attached interfaces, from the pinned links under @dir. */
struct sw_attachment {
	char ifname[SW_IFNAME_LEN];
	int ifindex;		/* 0 if the interface is gone */
	char mode[16];		/* "native", "generic", "detached" */
};
int sw_attachments(const char *dir, struct sw_attachment *out, int max);

/* Detach one interface (remove its pinned link). 0, or -ENOENT if not attached. */
int sw_detach_iface(const char *dir, const char *ifname, char *err, size_t errlen);
/* Detach every interface and remove every pin and the directory. */
int sw_detach_all(const char *dir, char *err, size_t errlen);

#endif
