// SPDX-License-Identifier: GPL-2.0
/* The accounts' counts writer of acct_writer.h. */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "accounts.h"
#include "acct_writer.h"
#include "store.h"
#include "store_accounts.h"

struct sw_acct_writer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* Under lock: the policy thread hands @todo, the writer hands back @failed. */
	struct sw_acct_batch *todo, *failed, *spare;	/* spare: written, to fill again */
	bool busy, stopping;
	char failed_err[256];
	uint64_t written, n_failed, slowest_us;
	/* The writer's own. */
	struct sw_store *st;
	struct sw_acct_store *as;
};

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void *writer_main(void *arg)
{
	struct sw_acct_writer *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct sw_acct_batch *b;
		char err[256] = "";
		uint64_t t0, took;
		int rc;

		while (!w->todo && !w->stopping)
			pthread_cond_wait(&w->cond, &w->lock);
		if (!w->todo)
			break;	/* stopping with nothing left to write */
		b = w->todo;
		w->todo = NULL;
		w->busy = true;
		pthread_mutex_unlock(&w->lock);

		t0 = mono_us();
		rc = sw_acct_batch_write(w->as, b, err, sizeof(err));
		took = mono_us() - t0;

		pthread_mutex_lock(&w->lock);
		w->busy = false;
		if (took > w->slowest_us)
			w->slowest_us = took;
		if (rc) {
			/* The policy thread collects it before it hands another: one at most. */
			w->n_failed++;
			sw_acct_batch_free(w->failed);
			w->failed = b;
			snprintf(w->failed_err, sizeof(w->failed_err), "%s", err);
		} else {
			w->written++;
			if (!w->spare)
				w->spare = b;
			else
				sw_acct_batch_free(b);
		}
		pthread_cond_broadcast(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

struct sw_acct_writer *sw_acct_writer_start(const char *state_dir, char *err, size_t errlen)
{
	struct sw_acct_writer *w = calloc(1, sizeof(*w));
	int rc;

	if (!w) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->st = sw_store_open(state_dir, err, errlen);
	if (!w->st)
		goto fail;
	w->as = sw_acct_store_open(w->st, err, errlen);
	if (!w->as)
		goto fail;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	rc = pthread_create(&w->thread, NULL, writer_main, w);
	if (rc) {
		snprintf(err, errlen, "cannot start the writer thread: error %d", rc);
		pthread_cond_destroy(&w->cond);
		pthread_mutex_destroy(&w->lock);
		goto fail;
	}
	return w;
fail:
	if (w->as)
		sw_acct_store_close(w->as);
	if (w->st)
		sw_store_close(w->st);
	free(w);
	return NULL;
}

int sw_acct_writer_tick(struct sw_acct_writer *w, struct sw_accounts *A, char *err, size_t errlen)
{
	struct sw_acct_batch *failed, *b = NULL;
	bool idle;
	int ret = 0;

	pthread_mutex_lock(&w->lock);
	failed = w->failed;
	w->failed = NULL;
	if (failed)
		snprintf(err, errlen, "%s", w->failed_err);
	idle = !w->busy && !w->todo;
	if (idle) {
		b = w->spare;
		w->spare = NULL;
	}
	pthread_mutex_unlock(&w->lock);

	if (failed) {
		sw_accounts_unsaved(A, failed);
		sw_acct_batch_free(failed);
		ret = -1;
	}
	if (!idle)
		return ret;	/* still writing the last one: these changes wait for the next */
	if (sw_accounts_take(A, &b, ret ? NULL : err, ret ? 0 : errlen))
		ret = -1;	/* out of memory: the changes stay marked */
	pthread_mutex_lock(&w->lock);
	if (b && sw_acct_batch_accounts(b)) {
		w->todo = b;
		pthread_cond_broadcast(&w->cond);
	} else if (b) {
		w->spare = b;	/* nothing changed: kept for the next second */
	}
	pthread_mutex_unlock(&w->lock);
	return ret;
}

void sw_acct_writer_stats(struct sw_acct_writer *w, uint64_t *written, uint64_t *failed,
			  uint64_t *slowest_us)
{
	pthread_mutex_lock(&w->lock);
	*written = w->written;
	*failed = w->n_failed;
	*slowest_us = w->slowest_us;
	pthread_mutex_unlock(&w->lock);
}

void sw_acct_writer_stop(struct sw_acct_writer *w, struct sw_accounts *A)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	/* Joined: everything is ours now. */
	if (w->failed && A)
		sw_accounts_unsaved(A, w->failed);
	sw_acct_batch_free(w->failed);
	sw_acct_batch_free(w->spare);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	sw_acct_store_close(w->as);
	sw_store_close(w->st);
	free(w);
}
