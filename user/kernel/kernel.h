/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Handles on the pinned maps under bpffs_dir, shared by the daemon and the
 * CLI: the CLI works from the pins whether or not the daemon runs.
 */
#ifndef SW_KERNEL_H
#define SW_KERNEL_H

#include <stddef.h>
#include <stdint.h>
#include "smtpwall.h"
#include "clock.h"
#include "config.h"
#include "store.h"

struct sw_kernel {
	char dir[SW_PATH_LEN];
	int config_fd, global_fd, stats_fd;
	int sources_fd, reaped_fd, sessions_fd;
	int allow_v4_fd, allow_v6_fd, deny_v4_fd, deny_v6_fd;
	int events_fd;
	int geo4_fd, geo6_fd, geo_info_fd;
	int country_policy_fd, country_state_fd, country_stats_fd;
	int daemon_fd;
	int abi_fd;
	struct sw_config *config;	/* the sw_config entry, mmap'd */
	size_t config_len;
};

/* Number of pinned maps, the files under bpffs_dir (besides the links). */
#define SW_N_MAPS 19
#define SW_LINK_PREFIX "link_"
#define SW_EGRESS_PREFIX "egress_"

void sw_kernel_init(struct sw_kernel *k);
/*
 * Open every pinned map under @dir. Returns 0, -ENOENT if smtpwall is not
 * loaded there (no pins), or another -errno with a message in @err.
 */
int sw_kernel_open(struct sw_kernel *k, const char *dir, char *err, size_t errlen);
/* Adopt already-open fds (the daemon's skeleton); they are dup'd. */
int sw_kernel_adopt(struct sw_kernel *k, const char *dir, const int fds[SW_N_MAPS], char *err, size_t errlen);
void sw_kernel_close(struct sw_kernel *k);

/* The layout record of this build (include/smtpwall.h, struct sw_abi). */
void sw_abi_ours(struct sw_abi *a);
/* 0 if the sw_abi map @abi_fd of the pins in @dir holds this build's; -EPROTO with @err if not. */
int sw_kernel_abi_check(int abi_fd, const char *dir, char *err, size_t errlen);
/* Record this build's layout in the pinned state (the loader, once it created the pins). */
int sw_kernel_abi_write(const struct sw_kernel *k);

/* Sum the per-CPU totals. */
int sw_kernel_stats(const struct sw_kernel *k, struct sw_stats *sum);
/* Per-country totals summed over CPUs: out[SW_COUNTRY_IDS]. */
int sw_kernel_country_stats(const struct sw_kernel *k, struct sw_country_stats *out);
/* Write the policy of every country id from the settings. */
int sw_kernel_country_policy(const struct sw_kernel *k, const struct sw_settings *s);

/* The daemon's state (zeroed if unreadable). */
int sw_kernel_daemon_state(const struct sw_kernel *k, struct sw_daemon_state *out);
int sw_kernel_set_daemon_state(const struct sw_kernel *k, const struct sw_daemon_state *in);
/* Set or clear SW_CFG_* @flag in the live config, atomically. */
/*
 * Write @next over the live config, except the fields owned at run time
 * (list_gen, list_fine, geo_gen, probation_limit, and the SW_CFG_RUNTIME
 * flags), which keep their live values: a reload never loses an update
 * made while it runs.
 */
void sw_kernel_apply_config(const struct sw_kernel *k, const struct sw_config *next);
void sw_kernel_config_flag(const struct sw_kernel *k, uint32_t flag, bool on);

/*
 * Read every entry of a hash-like map into malloc'd arrays (batched where
 * the kernel supports it). Returns the count, or -errno.
 */
long sw_map_dump(int fd, size_t key_size, size_t value_size, void **keys, void **values);
/*
 * Walk every entry of a map, @chunk at a time (batched where the kernel
 * supports it, else key by key), into buffers reused from chunk to chunk:
 * @fn gets @n keys and values; a non-zero return stops the walk and is
 * returned. Returns the entries walked, or -errno. Entries added or
 * deleted meanwhile may or may not be seen.
 */
typedef int (*sw_map_walk_fn)(void *ctx, const void *keys, const void *values, unsigned n);
long sw_map_walk(int fd, size_t key_size, size_t value_size, unsigned chunk, sw_map_walk_fn fn, void *ctx);
/* Number of entries of a map (batched where the kernel supports it); -EINVAL if @key_size is not its key size. */
long sw_map_count(int fd, size_t key_size);

/* Source key of address @c (a /32 or /128) under the kernel's masks. */
void sw_source_key(const struct sw_config *cfg, const struct sw_cidr *c, struct sw_src_key *key);
/* Of a session's client address: sw_source_key_raw (include/smtpwall/source_key.h). */
/* Source key as a CIDR ("198.51.100.0/24"), using the masks' prefix lengths. */
void sw_source_cidr(const struct sw_config *cfg, const struct sw_src_key *key, struct sw_cidr *out);

/* Allow/deny lists in the kernel. */
int sw_list_fd(const struct sw_kernel *k, enum sw_list_kind kind, uint8_t family);
int sw_list_put(const struct sw_kernel *k, enum sw_list_kind kind, const struct sw_cidr *c,
		uint64_t expires_ns, uint32_t origin);
/* 0 removed, -ENOENT absent, other -errno. */
int sw_list_del(const struct sw_kernel *k, enum sw_list_kind kind, const struct sw_cidr *c);
/* Exact entry for @c: 0 found, -ENOENT absent. */
int sw_list_get(const struct sw_kernel *k, enum sw_list_kind kind, const struct sw_cidr *c,
		struct sw_list_entry *out);
/* Longest-prefix match for address @addr; *matched gets the entry's prefix. 0 or -ENOENT. */
int sw_list_match(const struct sw_kernel *k, enum sw_list_kind kind, const struct sw_cidr *addr,
		  struct sw_list_entry *out, struct sw_cidr *matched);
/* Every entry of one list (both families). *out malloc'd. Returns count or -errno. */
struct sw_list_item {
	struct sw_cidr cidr;
	struct sw_list_entry entry;
};
long sw_list_dump(const struct sw_kernel *k, enum sw_list_kind kind, struct sw_list_item **out);
/*
 * After any list change: invalidate every source's cached list verdict and
 * recompute sw_config.list_fine (entries narrower than a source).
 */
void sw_list_bump_gen(const struct sw_kernel *k);

/* Wall-clock unix seconds <-> kernel monotonic ns. 0 stays 0 (never). */
uint64_t sw_wall_to_mono(int64_t wall_s);
int64_t sw_mono_to_wall(uint64_t mono_ns);

#endif
