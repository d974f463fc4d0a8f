/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The state database (SQLite, <state_dir>/state.db): what must survive a
 * reboot: bans and allows given on the command line, and operator settings
 * such as the emergency mode. WAL mode, a
 * busy timeout, and a schema version so later issues can migrate.
 */
#ifndef SW_STORE_H
#define SW_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include "parse.h"

struct sw_store;

enum sw_list_kind { SW_LIST_KIND_ALLOW = 1, SW_LIST_KIND_DENY = 2 };

struct sw_store_entry {
	enum sw_list_kind kind;
	struct sw_cidr cidr;
	int64_t created_at;	/* unix seconds */
	int64_t expires_at;	/* unix seconds, 0 = never */
	char reason[256];
};

/* Open (creating dir and schema as needed). NULL and a message in @err on failure. */
struct sw_store *sw_store_open(const char *state_dir, char *err, size_t errlen);
void sw_store_close(struct sw_store *st);
/* Create @state_dir (and its parents) if missing; 0, or -1 with @err. */
int sw_store_make_dir(const char *state_dir, char *err, size_t errlen);
/*
 * The daemon's open: a state.db that cannot be opened or fails SQLite's
 * quick_check is renamed to state.db.bad-<UTC time> (with its -wal and
 * -shm files; never over an existing file) and a fresh one is created.
 * Then @aside holds the new name of the bad file and @err what was wrong
 * with it; otherwise @aside is "". NULL with @err if even a fresh store
 * cannot be opened.
 */
struct sw_store *sw_store_open_recover(const char *state_dir, char *aside, size_t asidelen, char *err,
				       size_t errlen);

/* Insert or replace the entry for (kind, cidr). */
int sw_store_put(struct sw_store *st, const struct sw_store_entry *e, char *err, size_t errlen);
/* Remove (kind, cidr). Returns 1 if removed, 0 if there was none, -1 on error. */
int sw_store_del(struct sw_store *st, enum sw_list_kind kind, const struct sw_cidr *cidr,
		 char *err, size_t errlen);
/* Look up (kind, cidr). 1 found, 0 not found, -1 error. */
int sw_store_get(struct sw_store *st, enum sw_list_kind kind, const struct sw_cidr *cidr,
		 struct sw_store_entry *out, char *err, size_t errlen);
/*
 * All entries of @kind (or 0 for both), ordered by kind then cidr; entries
 * expired before @now are skipped when @now > 0. *out is malloc'd; caller frees.
 */
int sw_store_list(struct sw_store *st, enum sw_list_kind kind, int64_t now,
		  struct sw_store_entry **out, int *n, char *err, size_t errlen);
/* Delete entries that expired before @now; returns how many, -1 on error. */
int sw_store_expire(struct sw_store *st, int64_t now, char *err, size_t errlen);

/* Settings kept across restarts and reboots (e.g. "emergency_mode"). 1 found, 0 not, -1 error. */
int sw_store_setting_get(struct sw_store *st, const char *key, char *value, size_t len, char *err,
			 size_t errlen);
int sw_store_setting_put(struct sw_store *st, const char *key, const char *value, char *err, size_t errlen);

#endif
