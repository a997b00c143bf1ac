/*
 * Logging to stderr, one line per message:
 *   2026-11-26T04:22:04.123Z INFO processor: applied batch of 500 events
 * Messages follow PostgreSQL's style (lower case, no final period) and never
 * contain secrets, keys or full payer identifiers. Thread-safe: each line is
 * written with a single call under the stdio lock.
 */
#ifndef PAYSTREAM_LOG_H
#define PAYSTREAM_LOG_H

#include <paystream/err.h>

typedef enum ps_log_level {
    PS_LOG_DEBUG = 0,
    PS_LOG_INFO = 1,
    PS_LOG_WARN = 2,
    PS_LOG_ERROR = 3
} ps_log_level_t;

/* Sets the component name printed on each line (borrowed; keep it static). */
void ps_log_set_component(const char *component);
/* Messages below level are dropped. Default PS_LOG_INFO. */
void ps_log_set_level(ps_log_level_t level);
/* Parses "debug", "info", "warn" or "error"; PS_ERR_INVALID otherwise. */
ps_err_t ps_log_level_parse(const char *s, ps_log_level_t *level_out);
ps_log_level_t ps_log_get_level(void);

void ps_log(ps_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define ps_log_debug(...) ps_log(PS_LOG_DEBUG, __VA_ARGS__)
#define ps_log_info(...) ps_log(PS_LOG_INFO, __VA_ARGS__)
#define ps_log_warn(...) ps_log(PS_LOG_WARN, __VA_ARGS__)
#define ps_log_error(...) ps_log(PS_LOG_ERROR, __VA_ARGS__)

#endif
