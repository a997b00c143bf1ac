/*
 * Channel time stamps to UTC microseconds (see paystream/timeparse.h).
 */
#include <paystream/timeparse.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

#define US_PER_S INT64_C(1000000)

typedef struct civil {
    int64_t year;
    int month, day, hour, minute, second;
    int64_t frac_us;
} civil_t;

/* Reads exactly n ASCII digits at s[*pos]. */
static bool digits(const char *s, size_t len, size_t *pos, int n, int64_t *out)
{
    int64_t v = 0;

    if (*pos + (size_t)n > len)
        return false;
    for (int i = 0; i < n; i++) {
        char c = s[*pos + (size_t)i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *pos += (size_t)n;
    *out = v;
    return true;
}

static bool expect(const char *s, size_t len, size_t *pos, char c1, char c2)
{
    if (*pos >= len || (s[*pos] != c1 && s[*pos] != c2))
        return false;
    (*pos)++;
    return true;
}

int64_t ps_time_days_from_civil(int64_t y, int m, int d)
{
    /* Shift the year to start in March so the leap day is the year's last. */
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int64_t y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 && leap ? 29 : days[m - 1];
}

/* "YYYY-MM-DD<sep>HH:MM:SS[.f{1,6}]" */
static bool parse_civil(const char *s, size_t len, size_t *pos, char sep1, char sep2, civil_t *c)
{
    int64_t v[5];

    if (!digits(s, len, pos, 4, &c->year) || !expect(s, len, pos, '-', '-') ||
        !digits(s, len, pos, 2, &v[0]) || !expect(s, len, pos, '-', '-') ||
        !digits(s, len, pos, 2, &v[1]) || !expect(s, len, pos, sep1, sep2) ||
        !digits(s, len, pos, 2, &v[2]) || !expect(s, len, pos, ':', ':') ||
        !digits(s, len, pos, 2, &v[3]) || !expect(s, len, pos, ':', ':') ||
        !digits(s, len, pos, 2, &v[4]))
        return false;
    c->month = (int)v[0];
    c->day = (int)v[1];
    c->hour = (int)v[2];
    c->minute = (int)v[3];
    c->second = (int)v[4];
    c->frac_us = 0;
    if (*pos < len && s[*pos] == '.') {
        int n = 0;
        (*pos)++;
        while (*pos < len && s[*pos] >= '0' && s[*pos] <= '9' && n < 6) {
            c->frac_us = c->frac_us * 10 + (s[*pos] - '0');
            (*pos)++;
            n++;
        }
        if (n == 0)
            return false;
        for (int i = n; i < 6; i++)
            c->frac_us *= 10;
    }
    return true;
}

static ps_err_t civil_to_us(const civil_t *c, int offset_minutes, int64_t *us_out,
                            const char *s, size_t len, char *errstr, size_t errstr_size)
{
    int64_t days, secs;

    if (c->year < 1970 || c->year > 9999 || c->month < 1 || c->month > 12 || c->day < 1 ||
        c->day > days_in_month(c->year, c->month) || c->hour > 23 || c->minute > 59 ||
        c->second > 59)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "invalid time \"%.*s\": field out of range", (int)(len > 64 ? 64 : len),
                             s);
    days = ps_time_days_from_civil(c->year, c->month, c->day);
    secs = days * 86400 + c->hour * 3600 + c->minute * 60 + c->second - offset_minutes * 60;
    *us_out = secs * US_PER_S + c->frac_us;
    return PS_OK;
}

static ps_err_t bad_syntax(const char *s, size_t len, const char *want, char *errstr,
                           size_t errstr_size)
{
    return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID, "invalid time \"%.*s\": expected %s",
                         (int)(len > 64 ? 64 : len), s, want);
}

ps_err_t ps_time_parse_rfc3339(const char *s, size_t len, int64_t *us_out, char *errstr,
                               size_t errstr_size)
{
    static const char want[] = "RFC 3339 \"YYYY-MM-DDTHH:MM:SS[.ffffff]+HH:MM\"";
    size_t pos = 0;
    civil_t c;
    int offset = 0;

    if (!parse_civil(s, len, &pos, 'T', 't', &c) || pos >= len)
        return bad_syntax(s, len, want, errstr, errstr_size);
    if (s[pos] == 'Z' || s[pos] == 'z') {
        pos++;
    } else if (s[pos] == '+' || s[pos] == '-') {
        int sign = s[pos] == '-' ? -1 : 1;
        int64_t oh, om;
        pos++;
        if (!digits(s, len, &pos, 2, &oh) || !expect(s, len, &pos, ':', ':') ||
            !digits(s, len, &pos, 2, &om) || oh > 23 || om > 59)
            return bad_syntax(s, len, want, errstr, errstr_size);
        offset = sign * (int)(oh * 60 + om);
    } else {
        return bad_syntax(s, len, want, errstr, errstr_size);
    }
    if (pos != len)
        return bad_syntax(s, len, want, errstr, errstr_size);
    return civil_to_us(&c, offset, us_out, s, len, errstr, errstr_size);
}

ps_err_t ps_time_parse_local(const char *s, size_t len, int offset_minutes, int64_t *us_out,
                             char *errstr, size_t errstr_size)
{
    size_t pos = 0;
    civil_t c;

    if (!parse_civil(s, len, &pos, ' ', ' ', &c) || pos != len)
        return bad_syntax(s, len, "\"YYYY-MM-DD HH:MM:SS[.fff]\"", errstr, errstr_size);
    return civil_to_us(&c, offset_minutes, us_out, s, len, errstr, errstr_size);
}

void ps_time_format_utc(int64_t us, char *out, size_t out_size)
{
    int64_t secs = us >= 0 ? us / US_PER_S : -((-us + US_PER_S - 1) / US_PER_S);
    int64_t frac = us - secs * US_PER_S;
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t rem = secs - days * 86400;
    /* civil_from_days, the inverse of days_from_civil */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (m <= 2);

    snprintf(out, out_size, "%04" PRId64 "-%02" PRId64 "-%02" PRId64 "T%02" PRId64 ":%02" PRId64
             ":%02" PRId64 ".%06" PRId64 "Z",
             y, m, d, rem / 3600, rem / 60 % 60, rem % 60, frac);
}
