// SPDX-License-Identifier: GPL-2.0
/*
 * The daemon's control-socket request reader (user/daemon/control.c):
 * whatever a local client sends as its request line.
 *
 * An accepted request is within its bounds and reads the same when written
 * back in its canonical form; a refusal is one "error: " line, terminated,
 * printable, with no more than the first 40 bytes of what was sent.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "control.h"

#define check(cond, ...)                                                                   \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "fuzz_control: %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                                      \
			fputc('\n', stderr);                                               \
			abort();                                                           \
		}                                                                          \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[SW_CONTROL_LINE_MAX * 2 + 1], err[SW_CONTROL_LINE_MAX + 128], canon[SW_CONTROL_LINE_MAX];
	struct sw_control_req r, again;
	size_t n = size < sizeof(line) - 1 ? size : sizeof(line) - 1;

	/* What the daemon hands over: one line, no NUL in it (it refuses those first). */
	memcpy(line, data, n);
	line[n] = 0;
	line[strcspn(line, "\n")] = 0;

	memset(err, 'x', sizeof(err));
	if (sw_control_parse(line, &r, err, sizeof(err))) {
		size_t len = strnlen(err, sizeof(err));

		check(len < sizeof(err), "error message not terminated");
		check(!strncmp(err, "error: ", 7), "refusal \"%s\" is not an error line", err);
		check(len > 8 && err[len - 1] == '\n' && !memchr(err, '\n', len - 1), "not one line: \"%s\"", err);
		for (size_t i = 0; i + 1 < len; i++)
			check(err[i] >= 0x20 && err[i] < 0x7f, "unprintable byte 0x%02x in the error line",
			      (unsigned char)err[i]);
		return 0;
	}
	check(r.last >= -1 && r.last <= 1000000, "last %ld out of range", r.last);
	check(strlen(line) <= SW_CONTROL_LINE_MAX, "a %zu-byte request accepted", strlen(line));
	snprintf(canon, sizeof(canon), "events%s%s%s%ld", r.json ? " json" : "", r.follow ? " follow" : "",
		 r.last ? " last=" : "", r.last == -1 ? 0L : r.last);
	if (!r.last)
		canon[strlen(canon) - 1] = 0;	/* no last=: drop the "0" */
	check(!sw_control_parse(canon, &again, err, sizeof(err)), "canonical \"%s\" refused: %s", canon, err);
	check(again.json == r.json && again.follow == r.follow && again.last == r.last,
	      "\"%s\" reads differently from \"%s\"", canon, line);
	return 0;
}
