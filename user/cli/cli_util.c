// SPDX-License-Identifier: GPL-2.0
/* What the command files share: times, and counts by reason. */
#include <stdio.h>
#include <time.h>
#include "cli_util.h"
#include "json.h"
#include "parse.h"

void sw_cli_format_utc(uint64_t unix_s, char *buf, size_t len)
{
	time_t t = unix_s;
	struct tm tm;

	if (!unix_s) {
		snprintf(buf, len, "-");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void sw_cli_json_reasons(struct sw_json *j, const char *key, const __u64 *v)
{
	sw_json_obj_begin(j, key);
	for (int r = 0; r < SW_R_MAX; r++)
		sw_json_u64(j, sw_reason_name(r), v[r]);
	sw_json_obj_end(j);
}

uint64_t sw_cli_sum_reasons(const __u64 *v)
{
	uint64_t t = 0;

	for (int r = 0; r < SW_R_MAX; r++)
		t += v[r];
	return t;
}
