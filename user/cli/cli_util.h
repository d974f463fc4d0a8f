/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SW_CLI_UTIL_H
#define SW_CLI_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

struct sw_json;

/* {"rate": n, ...}: one count per enum sw_reason. */
void sw_cli_json_reasons(struct sw_json *j, const char *key, const __u64 *v);
uint64_t sw_cli_sum_reasons(const __u64 *v);
/* "2026-12-01T17:08:45Z", or "-" for 0. */
void sw_cli_format_utc(uint64_t unix_s, char *buf, size_t len);

#endif
