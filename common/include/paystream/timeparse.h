/*
 * Exact parsing of the channels' time stamps into microseconds since the Unix
 * epoch, UTC, with integer arithmetic only (no mktime/timegm: they consult
 * the process time zone and accept out-of-range fields).
 *
 *   WeChat Pay:  RFC 3339 with an offset    "2023-11-15T06:13:19+08:00"
 *   Alipay:      local civil time           "2023-11-15 06:13:19" (Asia/Shanghai,
 *                                           a fixed +08:00 since 1991), optional
 *                                           ".123" milliseconds
 * Apple sends integer milliseconds and needs no parser.
 *
 * Every field is range-checked (month 1-12, day within the month including
 * leap years, hour 0-23, minute 0-59, second 0-59; leap seconds are
 * rejected), years 1970-9999, exact widths, no surrounding whitespace.
 * Thread-safe.
 */
#ifndef PAYSTREAM_TIMEPARSE_H
#define PAYSTREAM_TIMEPARSE_H

#include <paystream/err.h>
#include <stddef.h>
#include <stdint.h>

/* "YYYY-MM-DDTHH:MM:SS[.f{1,6}](Z|+HH:MM|-HH:MM)"; 't'/'z' accepted as RFC 3339 allows. */
ps_err_t ps_time_parse_rfc3339(const char *s, size_t len, int64_t *us_out, char *errstr,
                               size_t errstr_size);

/* "YYYY-MM-DD HH:MM:SS[.f{1,6}]" in a zone offset_minutes east of UTC (480 for Shanghai). */
ps_err_t ps_time_parse_local(const char *s, size_t len, int offset_minutes, int64_t *us_out,
                             char *errstr, size_t errstr_size);

/* Days since 1970-01-01 of a proleptic Gregorian date (no validation). */
int64_t ps_time_days_from_civil(int64_t year, int month, int day);

/* Formats us as "YYYY-MM-DDTHH:MM:SS.ffffffZ" into out (at least 28 bytes). */
void ps_time_format_utc(int64_t us, char *out, size_t out_size);

#endif
