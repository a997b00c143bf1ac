/*
 * Strict base64: RFC 4648 section 10 vectors in both variants, round trips of
 * every length and byte value, and rejection of every malformed shape.
 */
#include "test.h"

#include <paystream/base64.h>
#include <paystream/mem.h>

static int decodes_to(const char *in, ps_base64_variant_t v, const char *want)
{
    ps_buf_t b;
    char e[128];
    int ok;

    ps_buf_init(&b, 1024);
    ok = ps_base64_decode(in, strlen(in), v, &b, e, sizeof(e)) == PS_OK &&
         b.len == strlen(want) && memcmp(b.data, want, b.len) == 0;
    ps_buf_deinit(&b);
    return ok;
}

static int rejects(const char *in, ps_base64_variant_t v)
{
    ps_buf_t b;
    char e[128] = "";
    ps_err_t err;

    ps_buf_init(&b, 1024);
    err = ps_base64_decode(in, strlen(in), v, &b, e, sizeof(e));
    ps_buf_deinit(&b);
    return err == PS_ERR_INVALID && strstr(e, "base64") != NULL;
}

/* RFC 4648 section 10 test vectors. */
static void test_rfc_vectors(void)
{
    static const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *std[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    static const char *url[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};

    for (int i = 0; i < 7; i++) {
        ps_buf_t b;

        CHECK(decodes_to(std[i], PS_BASE64_STD, plain[i]));
        CHECK(decodes_to(url[i], PS_BASE64_URL, plain[i]));
        ps_buf_init(&b, 64);
        CHECK_INT(ps_base64_encode(plain[i], strlen(plain[i]), PS_BASE64_STD, &b), PS_OK);
        CHECK_STR(b.data ? (char *)b.data : "", std[i]);
        ps_buf_reset(&b);
        CHECK_INT(ps_base64_encode(plain[i], strlen(plain[i]), PS_BASE64_URL, &b), PS_OK);
        CHECK_STR(b.data ? (char *)b.data : "", url[i]);
        ps_buf_deinit(&b);
    }
    CHECK(decodes_to("-_8", PS_BASE64_URL, "\xfb\xff"));
    CHECK(decodes_to("+/8=", PS_BASE64_STD, "\xfb\xff"));
}

/* Every malformed shape is rejected with a message. */
static void test_rejects(void)
{
    CHECK(rejects("Zg=", PS_BASE64_STD));      /* bad length */
    CHECK(rejects("Zg", PS_BASE64_STD));       /* padding missing */
    CHECK(rejects("Z===", PS_BASE64_STD));     /* too much padding */
    CHECK(rejects("Zh==", PS_BASE64_STD));     /* non-zero leftover bits */
    CHECK(rejects("Zm 9v", PS_BASE64_STD));    /* whitespace */
    CHECK(rejects("Zm9v\n", PS_BASE64_STD));
    CHECK(rejects("Zm-v", PS_BASE64_STD));     /* url alphabet in std */
    CHECK(rejects("Zm+v", PS_BASE64_URL));     /* std alphabet in url */
    CHECK(rejects("Zg==", PS_BASE64_URL));     /* padding in url */
    CHECK(rejects("Z", PS_BASE64_URL));        /* impossible length */
    CHECK(rejects("Zh", PS_BASE64_URL));
    CHECK(rejects("=Zg=", PS_BASE64_STD));
}

/* Round trips of every length 0..300 over all byte values, both variants. */
static void test_round_trips(void)
{
    uint8_t data[300];
    ps_buf_t enc, dec;
    char e[128];

    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 151 + 7);
    ps_buf_init(&enc, 4096);
    ps_buf_init(&dec, 4096);
    for (int v = 0; v < 2; v++) {
        for (size_t n = 0; n <= sizeof(data); n++) {
            ps_buf_reset(&enc);
            ps_buf_reset(&dec);
            REQUIRE(ps_base64_encode(data, n, (ps_base64_variant_t)v, &enc) == PS_OK);
            REQUIRE(ps_base64_decode((char *)enc.data, enc.len, (ps_base64_variant_t)v, &dec, e,
                                     sizeof(e)) == PS_OK);
            CHECK_INT(dec.len, n);
            CHECK(n == 0 || memcmp(dec.data, data, n) == 0);
        }
    }
    ps_buf_deinit(&enc);
    ps_buf_deinit(&dec);
}

/* Each refusal names the first bad character's offset, in a full quad or in
 * the final partial one, and the output is left as it was. */
static void test_error_offsets(void)
{
    static const struct {
        const char *in;
        ps_base64_variant_t v;
        const char *msg;
    } cases[] = {
        {"Zm9v*m9v", PS_BASE64_STD, "character 0x2a at offset 4"},
        {"Zm9vY*==", PS_BASE64_STD, "character 0x2a at offset 5"},
        {"Z!9v", PS_BASE64_STD, "character 0x21 at offset 1"},
        {"Zm9vYm=v", PS_BASE64_STD, "character 0x3d at offset 6"},
        {"Zm9vY===", PS_BASE64_STD, "character 0x3d at offset 5"},
        {"Zm9vYm9\xff", PS_BASE64_URL, "character 0xff at offset 7"},
        {"Zm9vYm+", PS_BASE64_URL, "character 0x2b at offset 6"},
        {"Zm9vYh", PS_BASE64_URL, "non-canonical final character"},
        {"Zm9vYmF", PS_BASE64_URL, "non-canonical final character"},
        {"Zm9vYmF=", PS_BASE64_STD, "non-canonical final character"},
    };
    ps_buf_t b;
    char e[128];

    ps_buf_init(&b, 1024);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        REQUIRE(ps_buf_append_str(&b, "kept") == PS_OK);
        CHECK_INT(ps_base64_decode(cases[i].in, strlen(cases[i].in), cases[i].v, &b, e, sizeof(e)),
                  PS_ERR_INVALID);
        CHECK_CONTAINS(e, cases[i].msg);
        CHECK(b.len == 4 && memcmp(b.data, "kept", 5) == 0);
        ps_buf_reset(&b);
    }
    /* Appending after existing content. */
    REQUIRE(ps_buf_append_str(&b, "x") == PS_OK);
    CHECK_INT(ps_base64_decode("Zm9vYmE", 7, PS_BASE64_URL, &b, e, sizeof(e)), PS_OK);
    CHECK(b.len == 6 && memcmp(b.data, "xfooba", 7) == 0);
    ps_buf_deinit(&b);
}

/* The output buffer's cap bounds decoding; the buffer is unchanged on error. */
static void test_bound(void)
{
    ps_buf_t b;
    char e[128];

    ps_buf_init(&b, 4);
    CHECK_INT(ps_base64_decode("Zm9vYmFy", 8, PS_BASE64_STD, &b, e, sizeof(e)), PS_ERR_TOO_LARGE);
    CHECK_INT(b.len, 0);
    ps_buf_deinit(&b);
}

int main(void)
{
    RUN(test_rfc_vectors);
    RUN(test_rejects);
    RUN(test_round_trips);
    RUN(test_error_offsets);
    RUN(test_bound);
    return test_summary();
}
