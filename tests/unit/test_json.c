// SPDX-License-Identifier: GPL-2.0
/*
 * The --json writer (user/core/json.c): commas, nesting and string escaping are
 * what scripts parsing the CLI's output depend on, so every test compares
 * the exact bytes written.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "json.h"

struct out {
	char *buf;
	size_t len;
	FILE *fp;
	struct sw_json j;
};

static int setup(void **state)
{
	struct out *o = calloc(1, sizeof(*o));

	if (!o)
		return -1;
	o->fp = open_memstream(&o->buf, &o->len);
	if (!o->fp) {
		free(o);
		return -1;
	}
	sw_json_init(&o->j, o->fp);
	*state = o;
	return 0;
}

static int teardown(void **state)
{
	struct out *o = *state;

	if (o->fp)
		fclose(o->fp);
	free(o->buf);
	free(o);
	return 0;
}

/* Everything written so far must be @want, byte for byte. */
static void expect(struct out *o, const char *want)
{
	fflush(o->fp);
	assert_int_equal(o->len, strlen(want));
	assert_string_equal(o->buf, want);
}

#define JSON_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

static void test_empty_containers(void **state)
{
	struct out *o = *state;

	sw_json_obj_begin(&o->j, NULL);
	sw_json_obj_end(&o->j);
	sw_json_finish(&o->j);
	expect(o, "{}\n");
}

static void test_empty_array(void **state)
{
	struct out *o = *state;

	sw_json_arr_begin(&o->j, NULL);
	sw_json_arr_end(&o->j);
	sw_json_finish(&o->j);
	expect(o, "[]\n");
}

static void test_scalars_and_commas(void **state)
{
	struct out *o = *state;

	sw_json_obj_begin(&o->j, NULL);
	sw_json_str(&o->j, "s", "v");
	sw_json_u64(&o->j, "u", 42);
	sw_json_i64(&o->j, "i", -7);
	sw_json_bool(&o->j, "t", true);
	sw_json_bool(&o->j, "f", false);
	sw_json_null(&o->j, "n");
	sw_json_obj_end(&o->j);
	sw_json_finish(&o->j);
	expect(o, "{\"s\":\"v\",\"u\":42,\"i\":-7,\"t\":true,\"f\":false,\"n\":null}\n");
}

static void test_integer_limits(void **state)
{
	struct out *o = *state;

	sw_json_arr_begin(&o->j, NULL);
	sw_json_u64(&o->j, NULL, 0);
	sw_json_u64(&o->j, NULL, UINT64_MAX);
	sw_json_i64(&o->j, NULL, INT64_MIN);
	sw_json_i64(&o->j, NULL, INT64_MAX);
	sw_json_arr_end(&o->j);
	sw_json_finish(&o->j);
	expect(o, "[0,18446744073709551615,-9223372036854775808,9223372036854775807]\n");
}

static void test_nested(void **state)
{
	struct out *o = *state;

	sw_json_obj_begin(&o->j, NULL);
	sw_json_u64(&o->j, "a", 1);
	sw_json_arr_begin(&o->j, "b");
	sw_json_u64(&o->j, NULL, 1);
	sw_json_i64(&o->j, NULL, -2);
	sw_json_bool(&o->j, NULL, true);
	sw_json_null(&o->j, NULL);
	sw_json_str(&o->j, NULL, "x");
	sw_json_arr_end(&o->j);
	sw_json_obj_begin(&o->j, "c");
	sw_json_obj_begin(&o->j, "d");
	sw_json_obj_end(&o->j);
	sw_json_arr_begin(&o->j, "e");
	sw_json_arr_end(&o->j);
	sw_json_obj_begin(&o->j, "g");
	sw_json_str(&o->j, "h", "i");
	sw_json_obj_end(&o->j);
	sw_json_obj_end(&o->j);
	/* After a closed container, the next member still gets its comma. */
	sw_json_null(&o->j, "f");
	sw_json_obj_end(&o->j);
	sw_json_finish(&o->j);
	expect(o, "{\"a\":1,\"b\":[1,-2,true,null,\"x\"],\"c\":{\"d\":{},\"e\":[],\"g\":{\"h\":\"i\"}},"
		  "\"f\":null}\n");
}

static void test_array_of_objects(void **state)
{
	struct out *o = *state;

	/* The shape of `list --json`: rows of objects. */
	sw_json_arr_begin(&o->j, NULL);
	for (int i = 1; i <= 3; i++) {
		sw_json_obj_begin(&o->j, NULL);
		sw_json_u64(&o->j, "k", i);
		sw_json_arr_begin(&o->j, "v");
		for (int n = 0; n < i - 1; n++)
			sw_json_u64(&o->j, NULL, n);
		sw_json_arr_end(&o->j);
		sw_json_obj_end(&o->j);
	}
	sw_json_arr_begin(&o->j, NULL);
	sw_json_arr_begin(&o->j, NULL);
	sw_json_arr_end(&o->j);
	sw_json_arr_end(&o->j);
	sw_json_arr_end(&o->j);
	sw_json_finish(&o->j);
	expect(o, "[{\"k\":1,\"v\":[]},{\"k\":2,\"v\":[0]},{\"k\":3,\"v\":[0,1]},[[]]]\n");
}

static void test_deep_nesting(void **state)
{
	struct out *o = *state;
	const int levels = SW_JSON_DEPTH - 1;	/* as deep as the writer tracks commas */
	char want[256];
	size_t n = 0;
	int d;

	/* [0,[1,...[14],9],9...,9] : a comma is owed at every level, after every close. */
	for (d = 0; d < levels; d++) {
		sw_json_arr_begin(&o->j, NULL);
		sw_json_u64(&o->j, NULL, d);
		n += snprintf(want + n, sizeof(want) - n, d < levels - 1 ? "[%d," : "[%d", d);
	}
	for (d = 0; d < levels; d++) {
		sw_json_arr_end(&o->j);
		if (d < levels - 1) {
			sw_json_u64(&o->j, NULL, 9);
			n += snprintf(want + n, sizeof(want) - n, "],9");
		} else {
			n += snprintf(want + n, sizeof(want) - n, "]");
		}
	}
	sw_json_finish(&o->j);
	n += snprintf(want + n, sizeof(want) - n, "\n");
	assert_true(n < sizeof(want));
	expect(o, want);
}

static void test_string_escapes(void **state)
{
	struct out *o = *state;

	sw_json_obj_begin(&o->j, NULL);
	sw_json_str(&o->j, "q", "say \"hi\"");
	sw_json_str(&o->j, "b", "C:\\path\\");
	sw_json_str(&o->j, "ws", "a\nb\rc\td");
	sw_json_str(&o->j, "ctl", "\x01\x08\x0c\x1f");
	sw_json_str(&o->j, "e", "");
	sw_json_obj_end(&o->j);
	sw_json_finish(&o->j);
	expect(o, "{\"q\":\"say \\\"hi\\\"\",\"b\":\"C:\\\\path\\\\\",\"ws\":\"a\\nb\\rc\\td\","
		  "\"ctl\":\"\\u0001\\u0008\\u000c\\u001f\",\"e\":\"\"}\n");
}

static void test_non_ascii_passes_through(void **state)
{
	struct out *o = *state;

	/* UTF-8 and DEL need no escape in JSON: written as they are. */
	sw_json_arr_begin(&o->j, NULL);
	sw_json_str(&o->j, NULL, "caf\xc3\xa9 \xe2\x9c\x93");
	sw_json_str(&o->j, NULL, "\x7f ~ /");
	sw_json_arr_end(&o->j);
	sw_json_finish(&o->j);
	expect(o, "[\"caf\xc3\xa9 \xe2\x9c\x93\",\"\x7f ~ /\"]\n");
}

static void test_keys_are_escaped(void **state)
{
	struct out *o = *state;

	sw_json_obj_begin(&o->j, NULL);
	sw_json_u64(&o->j, "we\"ird\\key\x02", 1);
	sw_json_obj_begin(&o->j, "tab\there");
	sw_json_obj_end(&o->j);
	sw_json_obj_end(&o->j);
	sw_json_finish(&o->j);
	expect(o, "{\"we\\\"ird\\\\key\\u0002\":1,\"tab\\there\":{}}\n");
}

static void test_null_strings(void **state)
{
	struct out *o = *state;

	sw_json_obj_begin(&o->j, NULL);
	sw_json_str(&o->j, "reason", NULL);
	sw_json_arr_begin(&o->j, "a");
	sw_json_str(&o->j, NULL, NULL);
	sw_json_str(&o->j, NULL, "x");
	sw_json_str(&o->j, NULL, NULL);
	sw_json_arr_end(&o->j);
	sw_json_obj_end(&o->j);
	sw_json_finish(&o->j);
	expect(o, "{\"reason\":null,\"a\":[null,\"x\",null]}\n");
}

static void test_two_documents(void **state)
{
	struct out *o = *state;

	/* A re-initialised writer starts a fresh document: no stray comma. */
	sw_json_obj_begin(&o->j, NULL);
	sw_json_u64(&o->j, "n", 1);
	sw_json_obj_end(&o->j);
	sw_json_finish(&o->j);
	sw_json_init(&o->j, o->fp);
	sw_json_obj_begin(&o->j, NULL);
	sw_json_u64(&o->j, "n", 2);
	sw_json_obj_end(&o->j);
	sw_json_finish(&o->j);
	expect(o, "{\"n\":1}\n{\"n\":2}\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		JSON_TEST(test_empty_containers),
		JSON_TEST(test_empty_array),
		JSON_TEST(test_scalars_and_commas),
		JSON_TEST(test_integer_limits),
		JSON_TEST(test_nested),
		JSON_TEST(test_array_of_objects),
		JSON_TEST(test_deep_nesting),
		JSON_TEST(test_string_escapes),
		JSON_TEST(test_non_ascii_passes_through),
		JSON_TEST(test_keys_are_escaped),
		JSON_TEST(test_null_strings),
		JSON_TEST(test_two_documents),
	};

	return cmocka_run_group_tests_name("json writer", tests, NULL, NULL);
}
