// SPDX-License-Identifier: GPL-2.0
/*
 * A reload writes the config file's share of sw_config while others update
 * the fields owned at run time: the list writers bump list_gen, the geo
 * loader geo_gen, `emergency on` sets a flag, the health controller the
 * probation limit. Raced here thread against thread: no update is lost,
 * and the file's fields still arrive.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "kernel.h"

#define BUMPS 200000

static struct sw_kernel k;
static volatile int reloading;
static unsigned long reloads;

static void *reloader(void *arg)
{
	const struct sw_config *next = arg;

	while (__atomic_load_n(&reloading, __ATOMIC_SEQ_CST)) {
		sw_kernel_apply_config(&k, next);
		__atomic_fetch_add(&reloads, 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

static void test_no_lost_update(void **state)
{
	struct sw_settings s;
	struct sw_config next;
	pthread_t t;

	k.config = calloc(1, sizeof(*k.config));
	assert_non_null(k.config);
	sw_settings_defaults(&s);
	sw_settings_to_kernel(&s, &next);
	next.syn_interval_ns = 12345;
	/* A stale copy of the run-time fields, as a reader would have had it. */
	next.list_gen = 7;
	next.geo_gen = 3;
	next.probation_limit = 99;
	next.flags |= SW_CFG_EMERGENCY;

	reloading = 1;
	assert_int_equal(pthread_create(&t, NULL, reloader, &next), 0);
	/* The race only counts once the reloader runs. */
	while (!__atomic_load_n(&reloads, __ATOMIC_SEQ_CST))
		;
	for (int i = 0; i < BUMPS; i++) {
		__atomic_fetch_add(&k.config->list_gen, 1, __ATOMIC_SEQ_CST);
		__atomic_fetch_add(&k.config->geo_gen, 1, __ATOMIC_SEQ_CST);
		__atomic_store_n(&k.config->probation_limit, (uint64_t)i, __ATOMIC_SEQ_CST);
		/* Emergency on and off, the egress flag on: the reload keeps them as they are. */
		sw_kernel_config_flag(&k, SW_CFG_EMERGENCY, i & 1);
		sw_kernel_config_flag(&k, SW_CFG_EGRESS, true);
	}
	__atomic_store_n(&reloading, 0, __ATOMIC_SEQ_CST);
	pthread_join(t, NULL);
	print_message("%lu reloads during %d updates of each run-time field\n", reloads, BUMPS);
	assert_true(reloads > 100);

	assert_int_equal(k.config->list_gen, BUMPS);
	assert_int_equal(k.config->geo_gen, BUMPS);
	assert_int_equal(k.config->probation_limit, BUMPS - 1);
	assert_int_equal(k.config->flags & SW_CFG_EMERGENCY, ((BUMPS - 1) & 1) ? SW_CFG_EMERGENCY : 0);
	assert_true(k.config->flags & SW_CFG_EGRESS);
	/* The file's fields and flags did arrive. */
	assert_int_equal(k.config->syn_interval_ns, 12345);
	assert_true(k.config->flags & SW_CFG_ENABLED);
	free(k.config);
	sw_settings_free(&s);
}

/* A reload turning dry-run on and off flips only that flag. */
static void test_file_flags(void **state)
{
	struct sw_config next, live;

	memset(&live, 0, sizeof(live));
	k.config = &live;
	live.flags = SW_CFG_ENABLED | SW_CFG_EMERGENCY | SW_CFG_DRY_RUN;
	memset(&next, 0, sizeof(next));
	next.flags = SW_CFG_ENABLED | SW_CFG_FLOOD_DROP;
	sw_kernel_apply_config(&k, &next);
	assert_int_equal(live.flags, SW_CFG_ENABLED | SW_CFG_FLOOD_DROP | SW_CFG_EMERGENCY);
	k.config = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_lost_update),
		cmocka_unit_test(test_file_flags),
	};

	return cmocka_run_group_tests_name("reload races", tests, NULL, NULL);
}
