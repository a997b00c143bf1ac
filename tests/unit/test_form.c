/*
 * Tests of the strict form-urlencoded parser (ingest/form.c): what it
 * accepts, every class of input it must refuse with a message, its bounds,
 * and that hostile bytes (random, truncated) never crash it.
 */
#include "form.h"

#include "test.h"

#include <paystream/limits.h>

#include <stdint.h>

static ps_err_t parse(const char *s, ingest_form_t *f, char *err, size_t err_size)
{
    ingest_form_init(f);
    return ingest_form_parse(s, strlen(s), f, err, err_size);
}

/* Goal: parameters come back decoded and sorted by name; empty values are kept. */
static void test_parse_sorted_decoded(void)
{
    ingest_form_t f;
    char err[256];

    REQUIRE(parse("b=2&a=x+y%2Bz%E9%92%bb&c=&%6Bey=a=b", &f, err, sizeof(err)) == PS_OK);
    REQUIRE(f.count == 4);
    CHECK_STR(f.params[0].key, "a");
    CHECK_STR(f.params[0].value, "x y+z\xe9\x92\xbb");
    CHECK_INT(f.params[0].value_len, 8);
    CHECK_STR(f.params[1].key, "b");
    CHECK_STR(f.params[2].key, "c");
    CHECK_STR(f.params[2].value, "");
    CHECK_INT(f.params[2].value_len, 0);
    CHECK_STR(f.params[3].key, "key");
    CHECK_STR(f.params[3].value, "a=b");
    CHECK_STR(ingest_form_get(&f, "b"), "2");
    CHECK(ingest_form_get(&f, "d") == NULL);
    CHECK(ingest_form_find(&f, "") == NULL);
    ingest_form_deinit(&f);
    CHECK(f.count == 0 && f.params == NULL);
}

/* Goal: an empty text is an empty form, and lookups on it work. */
static void test_parse_empty(void)
{
    ingest_form_t f;

    REQUIRE(parse("", &f, NULL, 0) == PS_OK);
    CHECK_INT(f.count, 0);
    CHECK(ingest_form_get(&f, "a") == NULL);
    ingest_form_deinit(&f);
}

/* Goal: each malformed input is refused with PS_ERR_INVALID and a message
 * naming the problem, and leaves the form empty. */
static void test_parse_refuses(void)
{
    static const struct {
        const char *text, *message;
    } cases[] = {
        {"a=%G1", "bad percent-escape at offset 2"},
        {"a=%4", "bad percent-escape"},
        {"a=%", "bad percent-escape"},
        {"a=1%", "bad percent-escape at offset 3"},
        {"a=%4g", "bad percent-escape"},
        {"=v", "empty parameter name at offset 0"},
        {"a", "has no \"=\""},
        {"a=1&&b=2", "empty parameter at offset 4"},
        {"a=1&", "empty parameter at offset 4"},
        {"&a=1", "empty parameter at offset 0"},
        {"a=1&a=2", "duplicate parameter \"a\""},
        {"a=1&%61=2", "duplicate parameter \"a\""},
        {"a+b=1&a%20b=2", "duplicate parameter \"a b\""},
        {"a=%00", "NUL byte"},
        {"a=\x01", "unencoded byte 0x01 at offset 2"},
        {"a=b c", "unencoded byte 0x20"},
        {"a=\xe9\x92\xbb", "unencoded byte 0xE9"},
        {"a=\x7f", "unencoded byte 0x7F"},
        {"a\n=1", "unencoded byte 0x0A at offset 1"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ingest_form_t f;
        char err[256] = "";

        CHECK_INT(parse(cases[i].text, &f, err, sizeof(err)), PS_ERR_INVALID);
        CHECK_CONTAINS(err, cases[i].message);
        CHECK(f.count == 0 && f.params == NULL && f.storage == NULL);
        ingest_form_deinit(&f);
    }
}

/* Goal: the size, count and name-length bounds hold exactly at their limits. */
static void test_parse_bounds(void)
{
    ingest_form_t f;
    char err[256], key[PS_FORM_KEY_BYTES_MAX + 4];
    ps_buf_t b;

    memset(key, 'k', sizeof(key));
    key[PS_FORM_KEY_BYTES_MAX] = '=';
    key[PS_FORM_KEY_BYTES_MAX + 1] = '\0';
    CHECK_INT(parse(key, &f, err, sizeof(err)), PS_OK);
    ingest_form_deinit(&f);
    key[PS_FORM_KEY_BYTES_MAX] = 'k';
    key[PS_FORM_KEY_BYTES_MAX + 1] = '=';
    key[PS_FORM_KEY_BYTES_MAX + 2] = '\0';
    CHECK_INT(parse(key, &f, err, sizeof(err)), PS_ERR_TOO_LARGE);
    CHECK_CONTAINS(err, "longer than 64 bytes");

    ps_buf_init(&b, 1024 * 1024);
    for (int i = 0; i < PS_FORM_PARAMS_MAX; i++)
        ps_buf_appendf(&b, "%sk%d=%d", i ? "&" : "", i, i);
    CHECK_INT(parse((const char *)b.data, &f, err, sizeof(err)), PS_OK);
    CHECK_INT(f.count, PS_FORM_PARAMS_MAX);
    CHECK_STR(ingest_form_get(&f, "k127"), "127");
    ingest_form_deinit(&f);
    ps_buf_append_str(&b, "&x=1");
    CHECK_INT(parse((const char *)b.data, &f, err, sizeof(err)), PS_ERR_TOO_LARGE);
    CHECK_CONTAINS(err, "more than the limit of 128");

    ps_buf_reset(&b);
    ps_buf_append_str(&b, "a=");
    while (b.len < PS_FORM_INPUT_BYTES_MAX)
        ps_buf_append(&b, "x", 1);
    CHECK_INT(parse((const char *)b.data, &f, err, sizeof(err)), PS_OK);
    ingest_form_deinit(&f);
    ps_buf_append(&b, "x", 1);
    CHECK_INT(parse((const char *)b.data, &f, err, sizeof(err)), PS_ERR_TOO_LARGE);
    CHECK_CONTAINS(err, "exceeds the limit");
    ps_buf_deinit(&b);
}

/* Goal: a second decode (Alipay passback_params) is strict and bounded. */
static void test_decode_component(void)
{
    ps_buf_t b;
    char err[256];

    ps_buf_init(&b, 64);
    CHECK_INT(ingest_form_decode_component("player_id%3D10086%26server%3Ds1", 31, &b, err,
                                           sizeof(err)),
              PS_OK);
    CHECK_STR((const char *)b.data, "player_id=10086&server=s1");
    ps_buf_reset(&b);
    CHECK_INT(ingest_form_decode_component("a%2", 3, &b, err, sizeof(err)), PS_ERR_INVALID);
    CHECK_INT(b.len, 0);
    ps_buf_deinit(&b);
    ps_buf_init(&b, 4);
    CHECK_INT(ingest_form_decode_component("abcdef", 6, &b, err, sizeof(err)), PS_ERR_TOO_LARGE);
    ps_buf_deinit(&b);
}

/* Goal: encoding escapes exactly what it must and every byte survives
 * encode -> parse (NUL excepted, which the parser refuses by design). */
static void test_encode_round_trip(void)
{
    ps_buf_t b;
    char all[255];
    ingest_form_t f;

    ps_buf_init(&b, 4096);
    CHECK_INT(ingest_form_encode_component("a b*-._~=&+%", 12, &b), PS_OK);
    CHECK_STR((const char *)b.data, "a+b*-._%7E%3D%26%2B%25");
    for (int i = 0; i < 255; i++)
        all[i] = (char)(i + 1);
    ps_buf_reset(&b);
    ps_buf_append_str(&b, "k=");
    CHECK_INT(ingest_form_encode_component(all, sizeof(all), &b), PS_OK);
    ingest_form_init(&f);
    REQUIRE(ingest_form_parse((const char *)b.data, b.len, &f, NULL, 0) == PS_OK);
    REQUIRE(f.count == 1);
    CHECK_INT(f.params[0].value_len, sizeof(all));
    CHECK(memcmp(f.params[0].value, all, sizeof(all)) == 0);
    ingest_form_deinit(&f);
    ps_buf_deinit(&b);
}

/* Goal: quoting for messages escapes and cuts visibly, never overflows. */
static void test_quote(void)
{
    char out[16];

    ingest_form_quote("a\"b\\c\x01", 6, out, sizeof(out));
    CHECK_STR(out, "a\\\"b\\\\c\\x01");
    ingest_form_quote("0123456789abcdefghij", 20, out, sizeof(out));
    CHECK_STR(out, "0123456789ab...");
    ingest_form_quote("0123456789abcde", 15, out, sizeof(out));
    CHECK_STR(out, "0123456789abcde");
    ingest_form_quote("abc", 3, out, 2);
    CHECK_STR(out, "");
}

/* Goal: hostile input never crashes the parser, and whatever it accepts
 * keeps the invariants (sorted, unique names, no NUL inside). */
static void test_hostile_bytes(void)
{
    static const char valid[] = "notify_id=1&total_amount=6.48&sign=ab%2Bc%3D&subject=%E9%92%BB";
    static const char alphabet[] = "a=&%+0F9gG\x00\xff\x20\x7e";
    uint32_t seed = 12345;
    char buf[64];

    for (size_t cut = 0; cut <= sizeof(valid) - 1; cut++) {
        ingest_form_t f;

        ingest_form_init(&f);
        (void)ingest_form_parse(valid, cut, &f, NULL, 0);
        ingest_form_deinit(&f);
    }
    for (int round = 0; round < 3000; round++) {
        ingest_form_t f;
        size_t len = round % sizeof(buf);

        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            buf[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
        }
        ingest_form_init(&f);
        if (ingest_form_parse(buf, len, &f, NULL, 0) == PS_OK) {
            for (size_t i = 0; i < f.count; i++) {
                CHECK(strlen(f.params[i].key) == f.params[i].key_len);
                CHECK(strlen(f.params[i].value) == f.params[i].value_len);
                CHECK(i == 0 || strcmp(f.params[i - 1].key, f.params[i].key) < 0);
            }
        }
        ingest_form_deinit(&f);
    }
}

int main(void)
{
    RUN(test_parse_sorted_decoded);
    RUN(test_parse_empty);
    RUN(test_parse_refuses);
    RUN(test_parse_bounds);
    RUN(test_decode_component);
    RUN(test_encode_round_trip);
    RUN(test_quote);
    RUN(test_hostile_bytes);
    return test_summary();
}
