/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small streaming JSON writer for the CLI's --json output: it tracks
 * nesting and commas so callers cannot produce invalid JSON by forgetting one.
 */
#ifndef SW_JSON_H
#define SW_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define SW_JSON_DEPTH 16

struct sw_json {
	FILE *out;
	int depth;
	bool need_comma[SW_JSON_DEPTH];
};

void sw_json_init(struct sw_json *j, FILE *out);
void sw_json_obj_begin(struct sw_json *j, const char *key);	/* key NULL inside arrays / at top */
void sw_json_obj_end(struct sw_json *j);
void sw_json_arr_begin(struct sw_json *j, const char *key);
void sw_json_arr_end(struct sw_json *j);
void sw_json_str(struct sw_json *j, const char *key, const char *val);	/* val NULL => null */
void sw_json_u64(struct sw_json *j, const char *key, uint64_t val);
void sw_json_i64(struct sw_json *j, const char *key, int64_t val);
void sw_json_bool(struct sw_json *j, const char *key, bool val);
void sw_json_null(struct sw_json *j, const char *key);
/* Ends the document with a newline. */
void sw_json_finish(struct sw_json *j);

#endif
