// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "lists.h"
#include "log.h"

const char *sw_list_kind_name(enum sw_list_kind kind)
{
	return kind == SW_LIST_KIND_ALLOW ? "allow" : "deny";
}

static bool cidr_eq(const struct sw_cidr *a, const struct sw_cidr *b)
{
	return a->family == b->family && a->prefixlen == b->prefixlen &&
	       !memcmp(a->addr, b->addr, a->family == SW_AF_INET ? 4 : 16);
}

bool sw_lists_in_config(const struct sw_settings *s, enum sw_list_kind kind, const struct sw_cidr *c)
{
	const struct sw_config_entry *e = kind == SW_LIST_KIND_ALLOW ? s->allow : s->deny;
	int n = kind == SW_LIST_KIND_ALLOW ? s->n_allow : s->n_deny;

	for (int i = 0; i < n; i++)
		if (cidr_eq(&e[i].cidr, c))
			return true;
	return false;
}

static bool in_store(const struct sw_store_entry *e, int n, enum sw_list_kind kind, const struct sw_cidr *c)
{
	for (int i = 0; i < n; i++)
		if (e[i].kind == kind && cidr_eq(&e[i].cidr, c))
			return true;
	return false;
}

long sw_lists_recover(const struct sw_kernel *k, struct sw_store *store, const char *aside, char *err,
		      size_t errlen)
{
	uint64_t now = sw_mono_ns();
	long n = 0;

	for (int kind = SW_LIST_KIND_ALLOW; kind <= SW_LIST_KIND_DENY; kind++) {
		struct sw_list_item *items;
		long ni = sw_list_dump(k, kind, &items);

		if (ni < 0) {
			snprintf(err, errlen, "cannot read the %s list: %s", sw_list_kind_name(kind),
				 strerror((int)-ni));
			return ni;
		}
		for (long i = 0; i < ni; i++) {
			struct sw_store_entry e = { .kind = kind, .cidr = items[i].cidr };
			const struct sw_list_entry *le = &items[i].entry;

			if (le->origin != SW_ORIGIN_STORE || (le->expires_ns && le->expires_ns <= now))
				continue;
			e.created_at = time(NULL);
			e.expires_at = le->expires_ns ? sw_mono_to_wall(le->expires_ns) : 0;
			snprintf(e.reason, sizeof(e.reason), "recovered from the kernel (state.db set aside as %.180s)",
				 aside);
			if (sw_store_put(store, &e, err, errlen)) {
				free(items);
				return -EIO;
			}
			n++;
		}
		free(items);
	}
	return n;
}

long sw_lists_sync(const struct sw_kernel *k, const struct sw_settings *s, struct sw_store *store,
		   char *err, size_t errlen)
{
	struct sw_store_entry *entries = NULL;
	int n_entries = 0;
	long loaded = 0, removed = 0;
	int ret;

	if (sw_store_list(store, 0, (int64_t)time(NULL), &entries, &n_entries, err, errlen))
		return -EIO;

	/* Config first, then the store: a CLI entry for the same prefix carries its expiry. */
	for (int kind = SW_LIST_KIND_ALLOW; kind <= SW_LIST_KIND_DENY; kind++) {
		const struct sw_config_entry *ce = kind == SW_LIST_KIND_ALLOW ? s->allow : s->deny;
		int nce = kind == SW_LIST_KIND_ALLOW ? s->n_allow : s->n_deny;

		for (int i = 0; i < nce; i++) {
			ret = sw_list_put(k, kind, &ce[i].cidr, 0, SW_ORIGIN_CONFIG);
			if (ret) {
				snprintf(err, errlen, "cannot load %s entry %d: %s", sw_list_kind_name(kind), i,
					 strerror(-ret));
				free(entries);
				return ret;
			}
			loaded++;
		}
	}
	for (int i = 0; i < n_entries; i++) {
		ret = sw_list_put(k, entries[i].kind, &entries[i].cidr, sw_wall_to_mono(entries[i].expires_at),
				  SW_ORIGIN_STORE);
		if (ret) {
			snprintf(err, errlen, "cannot load %s entry: %s", sw_list_kind_name(entries[i].kind),
				 strerror(-ret));
			free(entries);
			return ret;
		}
		loaded++;
	}

	/* Remove what neither the config nor the store holds any more. */
	for (int kind = SW_LIST_KIND_ALLOW; kind <= SW_LIST_KIND_DENY; kind++) {
		struct sw_list_item *items;
		long ni = sw_list_dump(k, kind, &items);

		if (ni < 0) {
			snprintf(err, errlen, "cannot read the %s list: %s", sw_list_kind_name(kind),
				 strerror((int)-ni));
			free(entries);
			return ni;
		}
		for (long i = 0; i < ni; i++) {
			if (sw_lists_in_config(s, kind, &items[i].cidr) ||
			    in_store(entries, n_entries, kind, &items[i].cidr))
				continue;
			if (!sw_list_del(k, kind, &items[i].cidr))
				removed++;
		}
		free(items);
	}
	free(entries);
	sw_list_bump_gen(k);
	if (removed)
		sw_debug("lists: removed %ld stale entries", removed);
	return loaded;
}
