/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The accounts' counts writer: a thread with its own connection to
 * state.db that writes the ledger's once-a-second batch, so that the
 * policy service's answers never wait for SQLite (a write of a few
 * thousand rows, and now and then a WAL checkpoint, takes milliseconds).
 *
 * The policy thread's tick hands it the ledger's changes when it is
 * idle; while it is still writing, the changes stay in the ledger and go
 * out with the next batch. A batch it could not write is handed back and
 * marked unsaved, so nothing is lost while state.db is unwritable; kill -9
 * loses the batch in flight and what changed since, about a second or two.
 */
#ifndef SW_ACCT_WRITER_H
#define SW_ACCT_WRITER_H

#include <stddef.h>
#include <stdint.h>

struct sw_accounts;
struct sw_acct_writer;

/* Its own connection to @state_dir's state.db. NULL with @err. */
struct sw_acct_writer *sw_acct_writer_start(const char *state_dir, char *err, size_t errlen);

/*
 * On the ledger's thread, once a second: take back a batch that failed
 * (marked unsaved; returns -1 with the cause in @err), then hand @A's
 * changes over if the writer is idle. 0 otherwise.
 */
int sw_acct_writer_tick(struct sw_acct_writer *w, struct sw_accounts *A, char *err, size_t errlen);

/* Batches written, failed, and the slowest write in µs, since the start. */
void sw_acct_writer_stats(struct sw_acct_writer *w, uint64_t *written, uint64_t *failed,
			  uint64_t *slowest_us);

/* Finish the batch in flight, then stop; what it could not write is marked unsaved in @A. */
void sw_acct_writer_stop(struct sw_acct_writer *w, struct sw_accounts *A);

#endif
