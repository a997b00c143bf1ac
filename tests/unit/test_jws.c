/*
 * The compact-JWS module (ingest/jws.c) on hostile input: wrong part counts,
 * bad base64url, non-JSON and non-object headers, every wrong alg, crit,
 * missing / malformed / oversized x5c, wrong signature lengths, truncation
 * at every length, and the raw r||s <-> DER conversion. Tokens are made by
 * the Apple simulator so that the genuine case really verifies.
 */
#include "test.h"

#include "jws.h"
#include "sim_apple.h"

#include <paystream/base64.h>
#include <paystream/mem.h>

#include <openssl/ec.h>
#include <openssl/x509.h>

#define LEAF_FROM_S INT64_C(1690000000)
#define LEAF_TO_S INT64_C(1790000000)

static sim_apple_keys_t keys;

/* Parses text; returns the label, or NULL when it parsed. */
static const char *parse_label(const char *text, size_t len)
{
    ingest_jws_t jws;
    const char *label = "none";
    char errstr[PS_ERRSTR_SIZE];
    ps_err_t err;

    ingest_jws_init(&jws);
    err = ingest_jws_parse(text, len, &jws, &label, errstr, sizeof(errstr));
    ingest_jws_deinit(&jws);
    return err == PS_OK ? NULL : label;
}

/* base64url(header) "." base64url(payload) "." base64url(sig of sig_len bytes). */
static void make_token(const char *header, const char *payload, size_t sig_len, ps_buf_t *out)
{
    uint8_t sig[128];

    memset(sig, 0x11, sizeof(sig));
    ps_buf_init(out, 1024 * 1024);
    ps_base64_encode(header, strlen(header), PS_BASE64_URL, out);
    ps_buf_append_str(out, ".");
    ps_base64_encode(payload, strlen(payload), PS_BASE64_URL, out);
    ps_buf_append_str(out, ".");
    ps_base64_encode(sig, sig_len, PS_BASE64_URL, out);
}

static const char *header_label(const char *header)
{
    ps_buf_t tok;
    const char *label;

    make_token(header, "{}", 64, &tok);
    label = parse_label((const char *)tok.data, tok.len);
    ps_buf_deinit(&tok);
    return label;
}

/* A genuine simulator token parses, verifies with the leaf key and not with another key. */
static void test_genuine_token(void)
{
    ps_buf_t tok;
    ingest_jws_t jws;
    const char *label = NULL;
    char errstr[PS_ERRSTR_SIZE];
    EVP_PKEY *leaf_pub = X509_get_pubkey(keys.leaf);

    ps_buf_init(&tok, 1024 * 1024);
    REQUIRE(sim_apple_sign(&keys, "{\"a\":1}", 7, SIM_APPLE_GENUINE, &tok, errstr,
                           sizeof(errstr)) == PS_OK);
    ingest_jws_init(&jws);
    CHECK_INT(ingest_jws_parse((const char *)tok.data, tok.len, &jws, &label, errstr,
                               sizeof(errstr)),
              PS_OK);
    CHECK_INT(jws.cert_count, 3);
    CHECK_INT(jws.payload.len, 7);
    CHECK(memcmp(jws.payload.data, "{\"a\":1}", 7) == 0);
    CHECK_INT(ingest_jws_verify_es256(&jws, leaf_pub, errstr, sizeof(errstr)), PS_OK);
    CHECK_INT(ingest_jws_verify_es256(&jws, keys.root_key, errstr, sizeof(errstr)),
              PS_ERR_CRYPTO);
    CHECK_CONTAINS(errstr, "does not verify");
    /* One flipped signature bit. */
    jws.signature[10] ^= 0x01;
    CHECK_INT(ingest_jws_verify_es256(&jws, leaf_pub, errstr, sizeof(errstr)), PS_ERR_CRYPTO);
    ingest_jws_deinit(&jws);
    EVP_PKEY_free(leaf_pub);
    ps_buf_deinit(&tok);
}

/* A prepared context (what the chain cache hands out) verifies like a fresh
 * one, once; a key that is not EC has none. */
static void test_prepared_verify(void)
{
    ps_buf_t tok;
    ingest_jws_t jws;
    const char *label = NULL;
    char errstr[PS_ERRSTR_SIZE];
    EVP_PKEY *leaf_pub = X509_get_pubkey(keys.leaf), *rsa = EVP_RSA_gen(2048);
    EVP_MD_CTX *proto = ingest_jws_es256_prepare(leaf_pub), *ctx = EVP_MD_CTX_new();

    REQUIRE(proto != NULL && ctx != NULL && rsa != NULL);
    CHECK(ingest_jws_es256_prepare(rsa) == NULL);
    ps_buf_init(&tok, 1024 * 1024);
    REQUIRE(sim_apple_sign(&keys, "{\"b\":2}", 7, SIM_APPLE_GENUINE, &tok, errstr,
                           sizeof(errstr)) == PS_OK);
    ingest_jws_init(&jws);
    REQUIRE(ingest_jws_parse((const char *)tok.data, tok.len, &jws, &label, errstr,
                             sizeof(errstr)) == PS_OK);
    for (int flip = 0; flip < 2; flip++) {
        REQUIRE(EVP_MD_CTX_copy_ex(ctx, proto) == 1);
        jws.signature[5] ^= (uint8_t)flip;
        CHECK_INT(ingest_jws_verify_es256_prepared(&jws, ctx, errstr, sizeof(errstr)),
                  flip ? PS_ERR_CRYPTO : PS_OK);
        CHECK_INT(ingest_jws_verify_es256(&jws, leaf_pub, errstr, sizeof(errstr)),
                  flip ? PS_ERR_CRYPTO : PS_OK);
        jws.signature[5] ^= (uint8_t)flip;
    }
    CHECK_CONTAINS(errstr, "does not verify");
    ingest_jws_deinit(&jws);
    ps_buf_deinit(&tok);
    EVP_MD_CTX_free(ctx);
    EVP_MD_CTX_free(proto);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(leaf_pub);
}

/* The split-then-parse path with a known header: the header is not read
 * (garbage there still parses), the payload and signature are checked as
 * by ingest_jws_parse, and the signing input still covers the header. */
static void test_known_header(void)
{
    static const char token[] = "not-even-base64!.eyJhIjoxfQ.";
    ingest_jws_segments_t seg;
    ingest_jws_t jws;
    const char *label = NULL;
    char errstr[PS_ERRSTR_SIZE];
    uint8_t sig[64];
    ps_buf_t tok;

    CHECK_INT(ingest_jws_split("a.b", 3, &seg, &label, errstr, sizeof(errstr)), PS_ERR_INVALID);
    CHECK_STR(label, "bad_jws");
    CHECK_INT(ingest_jws_split("a.b.c.d", 7, &seg, &label, errstr, sizeof(errstr)),
              PS_ERR_INVALID);
    CHECK_INT(ingest_jws_split("a.b.c", PS_JWS_BYTES_MAX + 1, &seg, &label, errstr,
                               sizeof(errstr)),
              PS_ERR_TOO_LARGE);
    /* A header that could never parse: known, it is not looked at. */
    ps_buf_init(&tok, 1024);
    ps_buf_append_str(&tok, token);
    memset(sig, 0x22, sizeof(sig));
    ps_base64_encode(sig, sizeof(sig), PS_BASE64_URL, &tok);
    ingest_jws_init(&jws);
    REQUIRE(ingest_jws_split((const char *)tok.data, tok.len, &seg, &label, errstr,
                             sizeof(errstr)) == PS_OK);
    CHECK_INT(seg.header_len, 16);
    CHECK_INT(ingest_jws_parse_segments(&seg, true, &jws, &label, errstr, sizeof(errstr)),
              PS_OK);
    CHECK_INT(jws.cert_count, 0);
    CHECK_INT(jws.header.len, 0);
    CHECK_INT(jws.payload.len, 7);
    CHECK_INT(jws.signing_input_len, sizeof(token) - 2);
    CHECK(jws.signing_input == (const char *)tok.data);
    CHECK_INT(jws.signature[0], 0x22);
    /* Unknown, the same header is refused. */
    CHECK_INT(ingest_jws_parse_segments(&seg, false, &jws, &label, errstr, sizeof(errstr)),
              PS_ERR_INVALID);
    CHECK_STR(label, "bad_jws");
    /* Known header, bad payload or short signature: still refused. */
    ps_buf_reset(&tok);
    ps_buf_append_str(&tok, "hdr.e30=.AAAA");
    REQUIRE(ingest_jws_split((const char *)tok.data, tok.len, &seg, &label, errstr,
                             sizeof(errstr)) == PS_OK);
    CHECK_INT(ingest_jws_parse_segments(&seg, true, &jws, &label, errstr, sizeof(errstr)),
              PS_ERR_INVALID);
    CHECK_STR(label, "bad_jws");
    ps_buf_reset(&tok);
    ps_buf_append_str(&tok, "hdr.e30.AAAA");
    REQUIRE(ingest_jws_split((const char *)tok.data, tok.len, &seg, &label, errstr,
                             sizeof(errstr)) == PS_OK);
    CHECK_INT(ingest_jws_parse_segments(&seg, true, &jws, &label, errstr, sizeof(errstr)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(errstr, "expected 64");
    ingest_jws_deinit(&jws);
    ps_buf_deinit(&tok);
}

/* Exactly three non-empty parts. */
static void test_part_counts(void)
{
    CHECK_STR(parse_label("", 0), "bad_jws");
    CHECK_STR(parse_label("abc", 3), "bad_jws");
    CHECK_STR(parse_label("a.b", 3), "bad_jws");
    CHECK_STR(parse_label("a.b.c.d", 7), "bad_jws");
    CHECK_STR(parse_label("..", 2), "bad_jws");
    CHECK_STR(parse_label("...", 3), "bad_jws");
    CHECK_STR(parse_label("eyJ9.e30.", 9), "bad_jws");
}

/* Strict base64url: padding, std alphabet, whitespace and bad lengths are refused. */
static void test_bad_base64url(void)
{
    ps_buf_t tok;
    char *copy;

    make_token("{\"alg\":\"ES256\",\"x5c\":[]}", "{}", 64, &tok);
    copy = ps_strndup((const char *)tok.data, tok.len);
    copy[3] = '+';
    CHECK_STR(parse_label(copy, tok.len), "bad_jws");
    copy[3] = '/';
    CHECK_STR(parse_label(copy, tok.len), "bad_jws");
    copy[3] = ' ';
    CHECK_STR(parse_label(copy, tok.len), "bad_jws");
    copy[3] = '\0';
    CHECK_STR(parse_label(copy, tok.len), "bad_jws");
    ps_free(copy);
    ps_buf_deinit(&tok);
    CHECK_STR(parse_label("e30=.e30.AAAA", 13), "bad_jws");
    CHECK_STR(parse_label("e.e30.AAAA", 10), "bad_jws");
}

/* The header must be a JSON object without duplicates, alg exactly ES256, no crit. */
static void test_headers(void)
{
    CHECK_STR(header_label("not json"), "bad_jws");
    CHECK_STR(header_label("[1,2]"), "bad_jws");
    CHECK_STR(header_label("\"ES256\""), "bad_jws");
    CHECK_STR(header_label("{\"alg\":\"ES256\",\"alg\":\"ES256\",\"x5c\":[]}"), "bad_jws");
    CHECK_STR(header_label("{\"x5c\":[]}"), "bad_alg");
    CHECK_STR(header_label("{\"alg\":\"none\",\"x5c\":[]}"), "bad_alg");
    CHECK_STR(header_label("{\"alg\":\"HS256\",\"x5c\":[]}"), "bad_alg");
    CHECK_STR(header_label("{\"alg\":\"RS256\",\"x5c\":[]}"), "bad_alg");
    CHECK_STR(header_label("{\"alg\":\"es256\",\"x5c\":[]}"), "bad_alg");
    CHECK_STR(header_label("{\"alg\":\"ES256 \",\"x5c\":[]}"), "bad_alg");
    CHECK_STR(header_label("{\"alg\":\"ES256\\u0000\",\"x5c\":[]}"), "bad_jws");
    CHECK_STR(header_label("{\"alg\":256,\"x5c\":[]}"), "bad_alg");
    CHECK_STR(header_label("{\"alg\":\"ES256\",\"crit\":[\"b64\"],\"x5c\":[]}"), "bad_jws");
}

/* x5c: present, an array of exactly three strict-base64 strings. */
static void test_x5c_shapes(void)
{
    ps_buf_t big, hdr;

    CHECK_STR(header_label("{\"alg\":\"ES256\"}"), "bad_chain");
    CHECK_STR(header_label("{\"alg\":\"ES256\",\"x5cwrong\":[\"AA==\",\"AA==\",\"AA==\"]}"),
              "bad_chain");
    CHECK_STR(header_label("{\"alg\":\"ES256\",\"x5c\":\"AA==\"}"), "bad_chain");
    CHECK_STR(header_label("{\"alg\":\"ES256\",\"x5c\":[\"AA==\"]}"), "bad_chain");
    CHECK_STR(header_label("{\"alg\":\"ES256\",\"x5c\":[\"AA==\",\"AA==\",\"AA==\",\"AA==\"]}"),
              "bad_chain");
    CHECK_STR(header_label("{\"alg\":\"ES256\",\"x5c\":[\"AA==\",1,\"AA==\"]}"), "bad_chain");
    CHECK_STR(header_label("{\"alg\":\"ES256\",\"x5c\":[\"AA==\",\"A_A=\",\"AA==\"]}"),
              "bad_certificate");
    CHECK_STR(header_label("{\"alg\":\"ES256\",\"x5c\":[\"AA\",\"AA==\",\"AA==\"]}"),
              "bad_certificate");
    CHECK_STR(header_label("{\"alg\":\"ES256\",\"x5c\":[\"\",\"AA==\",\"AA==\"]}"),
              "bad_certificate");
    /* Shapes are fine; parsing the DER is x5c.c's job. */
    CHECK_STR(header_label("{\"alg\":\"ES256\",\"x5c\":[\"AA==\",\"AA==\",\"AA==\"]}"), NULL);
    /* Escaped strings mean their unescaped text: "\/" is the '/' of base64. */
    CHECK_STR(header_label("{\"\\u0061lg\":\"ES\\u0032\\u00356\","
                           "\"x5c\":[\"\\/w==\",\"AA==\",\"AA==\"]}"),
              NULL);
    CHECK_STR(header_label("{\"alg\":\"ES256\",\"x5c\":[\"\\/w=\",\"AA==\",\"AA==\"]}"),
              "bad_certificate");
    /* A huge x5c entry: over the certificate bound, inside the header bound. */
    ps_buf_init(&big, 64 * 1024);
    for (int i = 0; i < 1500; i++)
        ps_buf_append_str(&big, "AAAA");
    ps_buf_init(&hdr, 64 * 1024);
    ps_buf_appendf(&hdr, "{\"alg\":\"ES256\",\"x5c\":[\"%s\",\"AA==\",\"AA==\"]}",
                   (const char *)big.data);
    CHECK_STR(header_label((const char *)hdr.data), "bad_certificate");
    /* Past the header bound altogether. */
    for (int i = 0; i < 3000; i++)
        ps_buf_append_str(&big, "AAAA");
    ps_buf_reset(&hdr);
    ps_buf_appendf(&hdr, "{\"alg\":\"ES256\",\"x5c\":[\"%s\",\"AA==\",\"AA==\"]}",
                   (const char *)big.data);
    CHECK_STR(header_label((const char *)hdr.data), "bad_jws");
    ps_buf_deinit(&hdr);
    ps_buf_deinit(&big);
}

/* The signature must decode to exactly 64 bytes; oversized tokens are refused. */
static void test_signature_lengths_and_size(void)
{
    static const char hdr[] = "{\"alg\":\"ES256\",\"x5c\":[\"AA==\",\"AA==\",\"AA==\"]}";
    ps_buf_t tok;
    char *huge;

    make_token(hdr, "{}", 63, &tok);
    CHECK_STR(parse_label((const char *)tok.data, tok.len), "bad_jws");
    ps_buf_deinit(&tok);
    make_token(hdr, "{}", 65, &tok);
    CHECK_STR(parse_label((const char *)tok.data, tok.len), "bad_jws");
    ps_buf_deinit(&tok);
    make_token(hdr, "{}", 72, &tok);
    CHECK_STR(parse_label((const char *)tok.data, tok.len), "bad_jws");
    ps_buf_deinit(&tok);
    huge = ps_malloc(PS_JWS_BYTES_MAX + 2);
    memset(huge, 'A', PS_JWS_BYTES_MAX + 1);
    huge[10] = '.';
    huge[20] = '.';
    CHECK_STR(parse_label(huge, PS_JWS_BYTES_MAX + 1), "bad_jws");
    ps_free(huge);
}

/* Every proper prefix of a genuine token is refused without a crash. */
static void test_truncation(void)
{
    ps_buf_t tok;
    char errstr[PS_ERRSTR_SIZE];
    int parsed = 0;

    ps_buf_init(&tok, 1024 * 1024);
    REQUIRE(sim_apple_sign(&keys, "{\"signedDate\":1}", 16, SIM_APPLE_GENUINE, &tok, errstr,
                           sizeof(errstr)) == PS_OK);
    for (size_t len = 0; len < tok.len; len++) {
        if (parse_label((const char *)tok.data, len) == NULL)
            parsed++;
    }
    /* Only prefixes that lose whole trailing signature characters could still
     * split into three parts; none decodes to a 64-byte signature. */
    CHECK_INT(parsed, 0);
    CHECK_STR(parse_label((const char *)tok.data, tok.len), NULL);
    ps_buf_deinit(&tok);
}

/* raw r||s -> DER -> raw is the identity; bad DER is refused. */
static void test_sig_conversion(void)
{
    uint8_t raw[64], back[64];
    ps_buf_t der;
    char errstr[PS_ERRSTR_SIZE];
    static const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01};

    for (int i = 0; i < 64; i++)
        raw[i] = (uint8_t)(i * 7 + 1);
    raw[0] = 0x00; /* leading zero in r: DER drops it, raw must restore it */
    raw[1] = 0x00;
    raw[32] = 0xff; /* high bit in s: DER adds a zero byte */
    ps_buf_init(&der, 128);
    CHECK_INT(ingest_jws_sig_raw_to_der(raw, &der, errstr, sizeof(errstr)), PS_OK);
    CHECK(der.len > 0 && der.data[0] == 0x30);
    CHECK_INT(ingest_jws_sig_der_to_raw(der.data, der.len, back, errstr, sizeof(errstr)), PS_OK);
    CHECK(memcmp(raw, back, 64) == 0);
    /* The hand-written encoding is canonical DER: what OpenSSL itself writes. */
    {
        const unsigned char *p = der.data;
        ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der.len);
        unsigned char *again = NULL;
        int n = sig != NULL ? i2d_ECDSA_SIG(sig, &again) : -1;

        CHECK(n > 0 && (size_t)n == der.len && memcmp(again, der.data, der.len) == 0);
        OPENSSL_free(again);
        ECDSA_SIG_free(sig);
    }
    /* Zero r: INTEGER 0 is one zero byte. */
    memset(raw, 0, 32);
    ps_buf_reset(&der);
    CHECK_INT(ingest_jws_sig_raw_to_der(raw, &der, errstr, sizeof(errstr)), PS_OK);
    CHECK(der.len > 5 && der.data[2] == 0x02 && der.data[3] == 0x01 && der.data[4] == 0x00);
    CHECK_INT(ingest_jws_sig_der_to_raw(junk, sizeof(junk), back, errstr, sizeof(errstr)),
              PS_ERR_INVALID);
    CHECK_INT(ingest_jws_sig_der_to_raw(der.data, der.len - 1, back, errstr, sizeof(errstr)),
              PS_ERR_INVALID);
    ps_buf_append(&der, "x", 1);
    CHECK_INT(ingest_jws_sig_der_to_raw(der.data, der.len, back, errstr, sizeof(errstr)),
              PS_ERR_INVALID);
    ps_buf_deinit(&der);
}

int main(void)
{
    char errstr[PS_ERRSTR_SIZE];

    if (sim_apple_keys_generate(LEAF_FROM_S, LEAF_TO_S, &keys, errstr, sizeof(errstr)) != PS_OK) {
        fprintf(stderr, "could not generate keys: %s\n", errstr);
        return 1;
    }
    RUN(test_genuine_token);
    RUN(test_part_counts);
    RUN(test_known_header);
    RUN(test_prepared_verify);
    RUN(test_bad_base64url);
    RUN(test_headers);
    RUN(test_x5c_shapes);
    RUN(test_signature_lengths_and_size);
    RUN(test_truncation);
    RUN(test_sig_conversion);
    sim_apple_keys_deinit(&keys);
    return test_summary();
}
