// SPDX-License-Identifier: GPL-2.0
#include <inttypes.h>
#include "json.h"

void sw_json_init(struct sw_json *j, FILE *out)
{
	j->out = out;
	j->depth = 0;
	j->need_comma[0] = false;
}

static void put_string(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', out);
	for (; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\r':
			fputs("\\r", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		default:
			if (*p < 0x20)
				fprintf(out, "\\u%04x", *p);
			else
				fputc(*p, out);
		}
	}
	fputc('"', out);
}

/* Separator and key before a value at the current depth. */
static void begin_value(struct sw_json *j, const char *key)
{
	if (j->need_comma[j->depth])
		fputc(',', j->out);
	j->need_comma[j->depth] = true;
	if (key) {
		put_string(j->out, key);
		fputc(':', j->out);
	}
}

static void open(struct sw_json *j, const char *key, char c)
{
	begin_value(j, key);
	fputc(c, j->out);
	if (j->depth + 1 < SW_JSON_DEPTH)
		j->depth++;
	j->need_comma[j->depth] = false;
}

static void close_(struct sw_json *j, char c)
{
	fputc(c, j->out);
	if (j->depth > 0)
		j->depth--;
}

void sw_json_obj_begin(struct sw_json *j, const char *key)
{
	open(j, key, '{');
}

void sw_json_obj_end(struct sw_json *j)
{
	close_(j, '}');
}

void sw_json_arr_begin(struct sw_json *j, const char *key)
{
	open(j, key, '[');
}

void sw_json_arr_end(struct sw_json *j)
{
	close_(j, ']');
}

void sw_json_str(struct sw_json *j, const char *key, const char *val)
{
	begin_value(j, key);
	if (val)
		put_string(j->out, val);
	else
		fputs("null", j->out);
}

void sw_json_u64(struct sw_json *j, const char *key, uint64_t val)
{
	begin_value(j, key);
	fprintf(j->out, "%" PRIu64, val);
}

void sw_json_i64(struct sw_json *j, const char *key, int64_t val)
{
	begin_value(j, key);
	fprintf(j->out, "%" PRId64, val);
}

void sw_json_bool(struct sw_json *j, const char *key, bool val)
{
	begin_value(j, key);
	fputs(val ? "true" : "false", j->out);
}

void sw_json_null(struct sw_json *j, const char *key)
{
	begin_value(j, key);
	fputs("null", j->out);
}

void sw_json_finish(struct sw_json *j)
{
	fputc('\n', j->out);
	fflush(j->out);
}
