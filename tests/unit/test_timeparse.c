/*
 * Channel time stamps: known instants from the conformance vectors, every
 * range check, leap years, and a sweep comparing days_from_civil with a
 * day-by-day count.
 */
#include "test.h"

#include <paystream/timeparse.h>

static int64_t rfc(const char *s)
{
    int64_t us = -1;
    char e[256];

    if (ps_time_parse_rfc3339(s, strlen(s), &us, e, sizeof(e)) != PS_OK)
        return -1;
    return us;
}

static int64_t shanghai(const char *s)
{
    int64_t us = -1;
    char e[256];

    if (ps_time_parse_local(s, strlen(s), 480, &us, e, sizeof(e)) != PS_OK)
        return -1;
    return us;
}

/* Instants whose epoch values are known independently. */
static void test_known_instants(void)
{
    /* WeChat G1 success_time: 2023-11-15T06:13:19+08:00 = 1700000000 - 1 s. */
    CHECK_INT(rfc("2023-11-15T06:13:19+08:00"), INT64_C(1699999999) * 1000000);
    CHECK_INT(rfc("2023-11-14T22:13:20Z"), INT64_C(1700000000) * 1000000);
    CHECK_INT(rfc("2023-11-14t22:13:20.5z"), INT64_C(1700000000) * 1000000 + 500000);
    CHECK_INT(rfc("2023-11-14T17:13:20-05:00"), INT64_C(1700000000) * 1000000);
    CHECK_INT(rfc("1970-01-01T00:00:00Z"), 0);
    CHECK_INT(rfc("2000-02-29T00:00:00.000001Z"), INT64_C(951782400) * 1000000 + 1);
    /* Alipay: gmt_payment 2019-08-15 15:56:24 in Shanghai = 07:56:24 UTC. */
    CHECK_INT(shanghai("2019-08-15 15:56:24"), INT64_C(1565855784) * 1000000);
    CHECK_INT(shanghai("2023-11-16 10:00:05.123"), INT64_C(1700100005) * 1000000 + 123000);
}

/* Malformed or out-of-range stamps are rejected with a message. */
static void test_rejects(void)
{
    static const char *bad_rfc[] = {
        "", "2023-11-15", "2023-11-15T06:13:19", "2023-11-15 06:13:19+08:00",
        "2023-13-15T06:13:19Z", "2023-02-29T00:00:00Z", "2100-02-29T00:00:00Z",
        "2023-11-15T24:00:00Z", "2023-11-15T06:60:00Z", "2023-11-15T06:13:60Z",
        "2023-11-15T06:13:19+24:00", "2023-11-15T06:13:19+08", " 2023-11-15T06:13:19Z",
        "2023-11-15T06:13:19Z ", "2023-11-15T06:13:19.Z", "2023-11-15T06:13:19.1234567Z",
        "1969-12-31T23:59:59Z", "+2023-11-15T06:13:19Z", "2023-1-15T06:13:19Z",
        "2023-11-00T06:13:19Z", "2023-04-31T06:13:19Z"};
    static const char *bad_local[] = {"2019-08-15T15:56:24", "2019-08-15 15:56", "2019-08-15",
                                      "2019-08-15 15:56:24 ", "2019/08/15 15:56:24"};
    int64_t us;
    char e[256];

    for (size_t i = 0; i < sizeof(bad_rfc) / sizeof(bad_rfc[0]); i++) {
        e[0] = '\0';
        CHECK_INT(ps_time_parse_rfc3339(bad_rfc[i], strlen(bad_rfc[i]), &us, e, sizeof(e)),
                  PS_ERR_INVALID);
        CHECK_CONTAINS(e, "invalid time");
    }
    for (size_t i = 0; i < sizeof(bad_local) / sizeof(bad_local[0]); i++)
        CHECK_INT(ps_time_parse_local(bad_local[i], strlen(bad_local[i]), 480, &us, e, sizeof(e)),
                  PS_ERR_INVALID);
    /* Length bounds the parse: a NUL-free prefix of a valid stamp fails. */
    CHECK_INT(ps_time_parse_rfc3339("2023-11-14T22:13:20Z", 19, &us, e, sizeof(e)),
              PS_ERR_INVALID);
}

/* days_from_civil agrees with counting days one by one from 1970 to 2400. */
static void test_days_sweep(void)
{
    int64_t expect = 0;

    for (int64_t y = 1970; y < 2400; y++) {
        for (int m = 1; m <= 12; m++) {
            int dim = (m == 2) ? (((y % 4 == 0 && y % 100 != 0) || y % 400 == 0) ? 29 : 28)
                      : (m == 4 || m == 6 || m == 9 || m == 11) ? 30 : 31;
            for (int d = 1; d <= dim; d++) {
                if (ps_time_days_from_civil(y, m, d) != expect) {
                    CHECK_INT(ps_time_days_from_civil(y, m, d), expect);
                    return;
                }
                expect++;
            }
        }
    }
}

/* Formatting inverts parsing. */
static void test_format(void)
{
    char out[40];

    ps_time_format_utc(INT64_C(1700000000) * 1000000 + 42, out, sizeof(out));
    CHECK_STR(out, "2023-11-14T22:13:20.000042Z");
    CHECK_INT(rfc(out), INT64_C(1700000000) * 1000000 + 42);
    ps_time_format_utc(0, out, sizeof(out));
    CHECK_STR(out, "1970-01-01T00:00:00.000000Z");
}

int main(void)
{
    RUN(test_known_instants);
    RUN(test_rejects);
    RUN(test_days_sweep);
    RUN(test_format);
    return test_summary();
}
