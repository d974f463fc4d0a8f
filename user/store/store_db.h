/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The store's SQLite handle, for the other tables' modules of user/store/
 * (store_accounts.c). Nothing outside user/store/ includes this.
 */
#ifndef SW_STORE_DB_H
#define SW_STORE_DB_H

#include <sqlite3.h>
#include "store.h"

sqlite3 *sw_store_sqlite(struct sw_store *st);
const char *sw_store_file(const struct sw_store *st);

#endif
