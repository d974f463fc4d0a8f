/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Logging to stderr: one line per event, written with one write(2) so that
 * lines of several threads never interleave. log_format = text gives
 * "TIME smtpwall LEVEL: message"; json gives one JSON object per line
 * ({"ts":..,"level":..,"msg":..} plus, for the event bus's events, the
 * event's typed fields).
 */
#ifndef SW_LOG_H
#define SW_LOG_H

#include <stddef.h>

enum sw_log_level { SW_LOG_ERROR = 0, SW_LOG_WARN, SW_LOG_INFO, SW_LOG_DEBUG };
enum sw_log_format { SW_LOG_TEXT = 0, SW_LOG_JSON };

#define SW_LOG_LINE_MAX 4096

void sw_log_set_level(enum sw_log_level level);
void sw_log_set_format(enum sw_log_format format);
enum sw_log_format sw_log_get_format(void);
/* Whether a message of @level is written at all. */
int sw_log_enabled(enum sw_log_level level);
const char *sw_log_level_name(enum sw_log_level level);

void sw_log(enum sw_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * One line with @msg; in JSON, @fields (already JSON: "k":v,... without
 * braces, or NULL) follow "ts", "level" and "msg" in the same object.
 */
void sw_log_line(enum sw_log_level level, const char *msg, const char *fields);

/* @s as a JSON string (quotes included) into @buf; returns the length, or -1 if it does not fit. */
int sw_json_quote(const char *s, char *buf, size_t len);

#define sw_err(...)   sw_log(SW_LOG_ERROR, __VA_ARGS__)
#define sw_warn(...)  sw_log(SW_LOG_WARN, __VA_ARGS__)
#define sw_info(...)  sw_log(SW_LOG_INFO, __VA_ARGS__)
#define sw_debug(...) sw_log(SW_LOG_DEBUG, __VA_ARGS__)

#endif
