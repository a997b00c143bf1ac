/*
 * Tests of the charset module used by the Alipay verifier (ingest/charset.c):
 * charset names, strict UTF-8, GBK/GB18030 <-> UTF-8 round trips, and the
 * refusal of invalid, truncated and oversized input.
 */
#include "charset.h"

#include "test.h"

#include <paystream/limits.h>
#include <paystream/mem.h>

/* "648钻石" in UTF-8 and in GBK (钻 D7EA, 石 CAAF). */
#define SUBJECT_UTF8 "648\xe9\x92\xbb\xe7\x9f\xb3"
#define SUBJECT_GBK "648\xd7\xea\xca\xaf"

/* Goal: names are matched case-insensitively; unknown ones are refused. */
static void test_parse_names(void)
{
    ingest_charset_t cs = INGEST_CHARSET_GB18030;
    char err[128];

    CHECK_INT(ingest_charset_parse("UTF-8", &cs, err, sizeof(err)), PS_OK);
    CHECK_INT(cs, INGEST_CHARSET_UTF8);
    CHECK_INT(ingest_charset_parse("gbk", &cs, err, sizeof(err)), PS_OK);
    CHECK_INT(cs, INGEST_CHARSET_GBK);
    CHECK_INT(ingest_charset_parse("GB2312", &cs, err, sizeof(err)), PS_OK);
    CHECK_INT(cs, INGEST_CHARSET_GBK);
    CHECK_INT(ingest_charset_parse("gb18030", &cs, err, sizeof(err)), PS_OK);
    CHECK_INT(cs, INGEST_CHARSET_GB18030);
    CHECK_INT(ingest_charset_parse("big5", &cs, err, sizeof(err)), PS_ERR_UNSUPPORTED);
    CHECK_CONTAINS(err, "unsupported charset \"big5\"");
    CHECK_INT(ingest_charset_parse("", &cs, err, sizeof(err)), PS_ERR_UNSUPPORTED);
    CHECK_STR(ingest_charset_name(INGEST_CHARSET_GBK), "gbk");
}

/* Goal: the UTF-8 validator refuses overlongs, surrogates, out-of-range and
 * truncated sequences, and reports where. */
static void test_utf8_strict(void)
{
    static const struct {
        const char *s;
        size_t bad;
    } bad[] = {
        {"a\xc0\xaf", 1},         {"\xe0\x80\xaf", 0},     {"ab\xed\xa0\x80", 2},
        {"\xf4\x90\x80\x80", 0},  {"x\xe9\x92", 1},        {"\x80", 0},
        {"\xff", 0},              {"\xf8\x88\x80\x80\x80", 0},
    };
    size_t at = 99;

    CHECK(ingest_charset_utf8_valid(SUBJECT_UTF8, strlen(SUBJECT_UTF8), NULL));
    CHECK(ingest_charset_utf8_valid("\xf4\x8f\xbf\xbf", 4, NULL)); /* U+10FFFF */
    CHECK(ingest_charset_utf8_valid("", 0, NULL));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK(!ingest_charset_utf8_valid(bad[i].s, strlen(bad[i].s), &at));
        CHECK_INT(at, bad[i].bad);
    }
}

/* Goal: GBK text converts to the exact UTF-8 and back. */
static void test_gbk_round_trip(void)
{
    ps_buf_t b;
    char err[256];

    ps_buf_init(&b, 1024);
    CHECK_INT(ingest_charset_to_utf8(INGEST_CHARSET_GBK, SUBJECT_GBK, strlen(SUBJECT_GBK), &b,
                                     err, sizeof(err)),
              PS_OK);
    CHECK_STR((const char *)b.data, SUBJECT_UTF8);
    ps_buf_reset(&b);
    CHECK_INT(ingest_charset_from_utf8(INGEST_CHARSET_GBK, SUBJECT_UTF8, strlen(SUBJECT_UTF8),
                                       &b, err, sizeof(err)),
              PS_OK);
    CHECK_STR((const char *)b.data, SUBJECT_GBK);
    ps_buf_reset(&b);
    /* An emoji has no GBK form, but GB18030 covers all of Unicode. */
    CHECK_INT(ingest_charset_from_utf8(INGEST_CHARSET_GBK, "\xf0\x9f\x98\x80", 4, &b, err,
                                       sizeof(err)),
              PS_ERR_INVALID);
    CHECK_INT(b.len, 0);
    CHECK_INT(ingest_charset_from_utf8(INGEST_CHARSET_GB18030, "\xf0\x9f\x98\x80", 4, &b, err,
                                       sizeof(err)),
              PS_OK);
    REQUIRE(b.len == 4);
    {
        char gb[5];
        ps_buf_t back;

        memcpy(gb, b.data, 5);
        ps_buf_init(&back, 64);
        CHECK_INT(ingest_charset_to_utf8(INGEST_CHARSET_GB18030, gb, 4, &back, err, sizeof(err)),
                  PS_OK);
        CHECK_STR((const char *)back.data, "\xf0\x9f\x98\x80");
        /* The same four bytes are not GBK. */
        ps_buf_reset(&back);
        CHECK_INT(ingest_charset_to_utf8(INGEST_CHARSET_GBK, gb, 4, &back, err, sizeof(err)),
                  PS_ERR_INVALID);
        ps_buf_deinit(&back);
    }
    ps_buf_deinit(&b);
}

/* Goal: invalid and truncated GBK is refused with the offset, buffer untouched. */
static void test_gbk_invalid(void)
{
    /* (0x80 is not here: glibc's GBK is CP936, where it is the euro sign.) */
    static const char *const bad[] = {"ab\x81\x20", "ab\x81", "\xff\xff", "\x81\x7f", "x\xd7"};
    ps_buf_t b;
    char err[256];

    ps_buf_init(&b, 1024);
    ps_buf_append_str(&b, "keep");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        CHECK_INT(ingest_charset_to_utf8(INGEST_CHARSET_GBK, bad[i], strlen(bad[i]), &b, err,
                                         sizeof(err)),
                  PS_ERR_INVALID);
        CHECK_CONTAINS(err, "invalid GBK text");
        CHECK_STR((const char *)b.data, "keep");
    }
    CHECK_INT(ingest_charset_to_utf8(INGEST_CHARSET_UTF8, "a\xc0\xaf", 3, &b, err, sizeof(err)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(err, "offset 1");
    CHECK_STR((const char *)b.data, "keep");
    ps_buf_deinit(&b);
}

/* Goal: input and output bounds are enforced, not overrun. */
static void test_bounds(void)
{
    size_t n = PS_CHARSET_INPUT_BYTES_MAX + 1;
    char *big = ps_malloc(n), err[256];
    ps_buf_t b;

    memset(big, 'a', n);
    ps_buf_init(&b, 4 * n);
    CHECK_INT(ingest_charset_to_utf8(INGEST_CHARSET_GBK, big, n, &b, err, sizeof(err)),
              PS_ERR_TOO_LARGE);
    CHECK_INT(ingest_charset_to_utf8(INGEST_CHARSET_UTF8, big, n, &b, err, sizeof(err)),
              PS_ERR_TOO_LARGE);
    CHECK_INT(ingest_charset_to_utf8(INGEST_CHARSET_GBK, big, n - 1, &b, err, sizeof(err)),
              PS_OK);
    CHECK_INT(b.len, n - 1);
    ps_buf_deinit(&b);
    ps_buf_init(&b, 8);
    CHECK_INT(ingest_charset_to_utf8(INGEST_CHARSET_GBK, SUBJECT_GBK, strlen(SUBJECT_GBK), &b,
                                     err, sizeof(err)),
              PS_ERR_TOO_LARGE);
    CHECK_INT(b.len, 0);
    ps_buf_deinit(&b);
    ps_free(big);
}

/* Goal: random bytes never crash the converters; what GBK accepts is UTF-8. */
static void test_random_bytes(void)
{
    uint32_t seed = 777;
    char in[48];
    ps_buf_t b;

    ps_buf_init(&b, 4096);
    for (int round = 0; round < 2000; round++) {
        size_t len = (size_t)round % sizeof(in);

        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            in[i] = (char)(seed >> 16);
        }
        ps_buf_reset(&b);
        if (ingest_charset_to_utf8(round % 2 ? INGEST_CHARSET_GBK : INGEST_CHARSET_GB18030, in,
                                   len, &b, NULL, 0) == PS_OK)
            CHECK(ingest_charset_utf8_valid((const char *)b.data, b.len, NULL));
    }
    ps_buf_deinit(&b);
}

int main(void)
{
    RUN(test_parse_names);
    RUN(test_utf8_strict);
    RUN(test_gbk_round_trip);
    RUN(test_gbk_invalid);
    RUN(test_bounds);
    RUN(test_random_bytes);
    return test_summary();
}
