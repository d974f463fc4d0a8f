/* SPDX-License-Identifier: GPL-2.0 */
/* Logging to stderr with a level, a timestamp and one line per event. */
#ifndef SW_LOG_H
#define SW_LOG_H

enum sw_log_level { SW_LOG_ERROR = 0, SW_LOG_WARN, SW_LOG_INFO, SW_LOG_DEBUG };

void sw_log_set_level(enum sw_log_level level);
void sw_log(enum sw_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define sw_err(...)   sw_log(SW_LOG_ERROR, __VA_ARGS__)
#define sw_warn(...)  sw_log(SW_LOG_WARN, __VA_ARGS__)
#define sw_info(...)  sw_log(SW_LOG_INFO, __VA_ARGS__)
#define sw_debug(...) sw_log(SW_LOG_DEBUG, __VA_ARGS__)

#endif
