/*
 * Compact JWS parsing and ES256 verification (see jws.h). The token is
 * attacker-controlled: every part is bounded before it is decoded, decoding is
 * strict, and the algorithm is checked before any certificate is looked at,
 * so a token can neither pick the key type nor make us parse its x5c first.
 */
#include "jws.h"

#include <paystream/base64.h>
#include <paystream/json.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <stdio.h>
#include <string.h>

/* A DER ECDSA-Sig-Value of two 32-byte integers is at most 72 bytes. */
#define JWS_DER_SIG_BYTES_MAX 80

void ingest_jws_init(ingest_jws_t *jws)
{
    memset(jws, 0, sizeof(*jws));
    ps_buf_init(&jws->header, PS_JWS_HEADER_BYTES_MAX);
    ps_buf_init(&jws->payload, PS_JWS_PAYLOAD_BYTES_MAX);
    for (size_t i = 0; i < PS_X5C_CHAIN_CERTS; i++)
        ps_buf_init(&jws->certs[i], PS_X5C_CERT_BYTES_MAX);
}

void ingest_jws_deinit(ingest_jws_t *jws)
{
    if (jws == NULL)
        return;
    ps_buf_deinit(&jws->header);
    ps_buf_deinit(&jws->payload);
    for (size_t i = 0; i < PS_X5C_CHAIN_CERTS; i++)
        ps_buf_deinit(&jws->certs[i]);
    jws->cert_count = 0;
    jws->signing_input = NULL;
    jws->signing_input_len = 0;
}

static void jws_reset(ingest_jws_t *jws)
{
    ps_buf_reset(&jws->header);
    ps_buf_reset(&jws->payload);
    for (size_t i = 0; i < PS_X5C_CHAIN_CERTS; i++)
        ps_buf_reset(&jws->certs[i]);
    jws->cert_count = 0;
    jws->signing_input = NULL;
    jws->signing_input_len = 0;
}

/* Decodes one base64url part into out, naming the part in the message. */
static ps_err_t decode_part(const char *s, size_t len, const char *what, ps_buf_t *out,
                            char *errstr, size_t errstr_size)
{
    char cause[PS_ERRSTR_SIZE];
    ps_err_t err;

    if (len == 0)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID, "invalid jws: empty %s",
                             what);
    err = ps_base64_decode(s, len, PS_BASE64_URL, out, cause, sizeof(cause));
    if (err != PS_OK)
        return ps_errstr_set(errstr, errstr_size, err, "invalid jws %s: %s", what, cause);
    return PS_OK;
}

/* Decodes the x5c array of the header into jws->certs. */
static ps_err_t decode_x5c(const ps_json_doc_t *doc, ingest_jws_t *jws, const char **label_out,
                           char *errstr, size_t errstr_size)
{
    const ps_json_tok_t *x5c = ps_json_get(doc, ps_json_root(doc), "x5c"), *item;
    char cause[PS_ERRSTR_SIZE];
    ps_buf_t scratch;
    size_t n, i = 0;
    ps_err_t err = PS_OK;

    *label_out = "bad_chain";
    if (x5c == NULL)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "invalid jws header: no \"x5c\" certificate chain");
    if (!ps_json_is(x5c, PS_JSON_ARRAY))
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "invalid jws header: \"x5c\" is not an array");
    n = ps_json_size(x5c);
    if (n != PS_X5C_CHAIN_CERTS)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "invalid jws header: \"x5c\" has %zu certificates, expected %d", n,
                             PS_X5C_CHAIN_CERTS);
    /* Escaped entries ("\/" for '/') are unescaped here, as jansson did. */
    ps_buf_init(&scratch, PS_JWS_HEADER_BYTES_MAX);
    for (item = ps_json_first(doc, x5c); item != NULL && err == PS_OK;
         item = ps_json_next(doc, x5c, item), i++) {
        const char *text;
        size_t len;

        if (ps_json_str_text(doc, item, &scratch, &text, &len) != PS_OK) {
            err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                                "invalid jws header: x5c[%zu] is not a string", i);
            break;
        }
        *label_out = "bad_certificate";
        err = ps_base64_decode(text, len, PS_BASE64_STD, &jws->certs[i], cause, sizeof(cause));
        if (err != PS_OK)
            err = ps_errstr_set(errstr, errstr_size, err, "invalid x5c[%zu]: %s", i, cause);
        else if (jws->certs[i].len == 0)
            err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID, "invalid x5c[%zu]: empty",
                                i);
        else
            *label_out = "bad_chain";
    }
    ps_buf_deinit(&scratch);
    if (err == PS_OK)
        jws->cert_count = n;
    return err;
}

/* Parses the decoded header: a JSON object, alg ES256, no crit, then x5c. */
static ps_err_t check_header(ingest_jws_t *jws, const char **label_out, char *errstr,
                             size_t errstr_size)
{
    char cause[PS_ERRSTR_SIZE], alg_text[64];
    ps_json_doc_t doc;
    const ps_json_tok_t *root, *alg;
    ps_err_t err = PS_ERR_INVALID;

    *label_out = "bad_jws";
    ps_json_doc_init(&doc);
    if (ps_json_parse(&doc, (const char *)jws->header.data, jws->header.len, PS_JSON_TOKENS_MAX,
                      cause, sizeof(cause)) != PS_OK) {
        ps_errstr_set(errstr, errstr_size, err, "invalid jws header: %s", cause);
        goto out;
    }
    root = ps_json_root(&doc);
    if (!ps_json_is(root, PS_JSON_OBJECT)) {
        ps_errstr_set(errstr, errstr_size, err, "invalid jws header: not a JSON object");
        goto out;
    }
    alg = ps_json_get(&doc, root, "alg");
    if (!ps_json_str_eq(&doc, alg, "ES256", 5)) {
        *label_out = "bad_alg";
        ps_json_str_copy(&doc, alg, alg_text, sizeof(alg_text), NULL); /* a prefix will do */
        ps_errstr_set(errstr, errstr_size, err,
                      "invalid jws header: algorithm must be \"ES256\", got %s%s%s",
                      ps_json_is(alg, PS_JSON_STRING) ? "\"" : "",
                      ps_json_is(alg, PS_JSON_STRING) ? alg_text : "none or not a string",
                      ps_json_is(alg, PS_JSON_STRING) ? "\"" : "");
        goto out;
    }
    /* RFC 7515 4.1.11: extensions marked critical must be understood; we know none. */
    if (ps_json_get(&doc, root, "crit") != NULL) {
        ps_errstr_set(errstr, errstr_size, err, "invalid jws header: unsupported \"crit\"");
        goto out;
    }
    err = decode_x5c(&doc, jws, label_out, errstr, errstr_size);
out:
    ps_json_doc_deinit(&doc);
    return err;
}

ps_err_t ingest_jws_split(const char *token, size_t len, ingest_jws_segments_t *seg,
                          const char **label_out, char *errstr, size_t errstr_size)
{
    const char *dot1, *dot2;

    memset(seg, 0, sizeof(*seg));
    *label_out = "bad_jws";
    if (len > PS_JWS_BYTES_MAX)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                             "invalid jws: %zu bytes exceed the %d-byte bound", len,
                             PS_JWS_BYTES_MAX);
    dot1 = memchr(token, '.', len);
    dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (dot1 == NULL || dot2 == NULL ||
        memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)) != NULL)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "invalid jws: expected three dot-separated parts");
    seg->token = token;
    seg->header_len = (size_t)(dot1 - token);
    seg->payload = dot1 + 1;
    seg->payload_len = (size_t)(dot2 - dot1 - 1);
    seg->signature = dot2 + 1;
    seg->signature_len = len - (size_t)(dot2 + 1 - token);
    return PS_OK;
}

ps_err_t ingest_jws_parse_segments(const ingest_jws_segments_t *seg, bool header_known,
                                   ingest_jws_t *jws, const char **label_out, char *errstr,
                                   size_t errstr_size)
{
    ps_buf_t sig;
    ps_err_t err = PS_OK;

    jws_reset(jws);
    ps_buf_init(&sig, INGEST_JWS_ES256_SIG_BYTES + 3);
    *label_out = "bad_jws";
    /* A known header passed the checks below before: the same bytes decode
     * to the same alg, crit and x5c, so they are not decoded again. */
    if (!header_known) {
        err = decode_part(seg->token, seg->header_len, "header", &jws->header, errstr,
                          errstr_size);
        if (err == PS_OK)
            err = check_header(jws, label_out, errstr, errstr_size);
        if (err != PS_OK)
            goto out;
    }
    *label_out = "bad_jws";
    err = decode_part(seg->payload, seg->payload_len, "payload", &jws->payload, errstr,
                      errstr_size);
    if (err != PS_OK)
        goto out;
    err = decode_part(seg->signature, seg->signature_len, "signature", &sig, errstr,
                      errstr_size);
    if (err == PS_OK && sig.len != INGEST_JWS_ES256_SIG_BYTES)
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                            "invalid jws signature: %zu bytes, expected %d", sig.len,
                            INGEST_JWS_ES256_SIG_BYTES);
    if (err != PS_OK)
        goto out;
    memcpy(jws->signature, sig.data, INGEST_JWS_ES256_SIG_BYTES);
    jws->signing_input = seg->token;
    jws->signing_input_len = (size_t)(seg->signature - 1 - seg->token);
out:
    ps_buf_deinit(&sig);
    return err;
}

ps_err_t ingest_jws_parse(const char *token, size_t len, ingest_jws_t *jws,
                          const char **label_out, char *errstr, size_t errstr_size)
{
    ingest_jws_segments_t seg;
    ps_err_t err;

    jws_reset(jws);
    err = ingest_jws_split(token, len, &seg, label_out, errstr, errstr_size);
    if (err != PS_OK)
        return err;
    return ingest_jws_parse_segments(&seg, false, jws, label_out, errstr, errstr_size);
}

/* Writes OpenSSL's first queued error reason into buf and clears the queue. */
static const char *openssl_reason(char *buf, size_t size)
{
    unsigned long e = ERR_get_error();

    if (e == 0)
        snprintf(buf, size, "no openssl error");
    else
        ERR_error_string_n(e, buf, size);
    ERR_clear_error();
    return buf;
}

/* DER INTEGER of the 32-byte unsigned big-endian v into out (at most 35
 * bytes): minimal, with a zero byte when the top bit is set. */
static size_t der_uint(const uint8_t *v, uint8_t *out)
{
    size_t skip = 0, n, pad;

    while (skip < INGEST_JWS_ES256_COORD_BYTES - 1 && v[skip] == 0)
        skip++;
    n = INGEST_JWS_ES256_COORD_BYTES - skip;
    pad = v[skip] >> 7;
    out[0] = 0x02;
    out[1] = (uint8_t)(n + pad);
    out[2] = 0x00;
    memcpy(out + 2 + pad, v + skip, n);
    return 2 + pad + n;
}

/* ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } of raw r||s, written
 * out (72 bytes at most, so short-form lengths): no allocation per verify. */
static size_t raw_to_der(const uint8_t raw[INGEST_JWS_ES256_SIG_BYTES],
                         uint8_t der[JWS_DER_SIG_BYTES_MAX])
{
    size_t n = 2;

    n += der_uint(raw, der + n);
    n += der_uint(raw + INGEST_JWS_ES256_COORD_BYTES, der + n);
    der[0] = 0x30;
    der[1] = (uint8_t)(n - 2);
    return n;
}

ps_err_t ingest_jws_sig_raw_to_der(const uint8_t raw[INGEST_JWS_ES256_SIG_BYTES],
                                   ps_buf_t *der_out, char *errstr, size_t errstr_size)
{
    uint8_t der[JWS_DER_SIG_BYTES_MAX];
    ps_err_t err = ps_buf_append(der_out, der, raw_to_der(raw, der));

    if (err != PS_OK)
        return ps_errstr_set(errstr, errstr_size, err, "der signature exceeds its buffer");
    return PS_OK;
}

ps_err_t ingest_jws_sig_der_to_raw(const uint8_t *der, size_t len,
                                   uint8_t raw_out[INGEST_JWS_ES256_SIG_BYTES], char *errstr,
                                   size_t errstr_size)
{
    const unsigned char *p = der;
    ECDSA_SIG *sig = NULL;
    const BIGNUM *r, *s;
    ps_err_t err = PS_ERR_INVALID;

    if (len > JWS_DER_SIG_BYTES_MAX) {
        ps_errstr_set(errstr, errstr_size, err, "der ecdsa signature of %zu bytes is too long",
                      len);
        goto out;
    }
    sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
    if (sig == NULL || p != der + len) {
        ERR_clear_error();
        ps_errstr_set(errstr, errstr_size, err, "not one der ecdsa signature");
        goto out;
    }
    ECDSA_SIG_get0(sig, &r, &s);
    if (BN_bn2binpad(r, raw_out, INGEST_JWS_ES256_COORD_BYTES) < 0 ||
        BN_bn2binpad(s, raw_out + INGEST_JWS_ES256_COORD_BYTES, INGEST_JWS_ES256_COORD_BYTES) <
            0) {
        ERR_clear_error();
        ps_errstr_set(errstr, errstr_size, err, "ecdsa signature component exceeds 32 bytes");
        goto out;
    }
    err = PS_OK;
out:
    ECDSA_SIG_free(sig);
    return err;
}

EVP_MD_CTX *ingest_jws_es256_prepare(EVP_PKEY *key)
{
    EVP_MD_CTX *ctx;

    if (!EVP_PKEY_is_a(key, "EC"))
        return NULL;
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) != 1) {
        EVP_MD_CTX_free(ctx); /* the reason stays queued for the caller */
        return NULL;
    }
    return ctx;
}

ps_err_t ingest_jws_verify_es256_prepared(const ingest_jws_t *jws, EVP_MD_CTX *ctx, char *errstr,
                                          size_t errstr_size)
{
    uint8_t der[JWS_DER_SIG_BYTES_MAX];
    size_t der_len = raw_to_der(jws->signature, der);
    int ok;

    /* The context is used once: EVP_DigestVerifyFinal need not verify on a
     * copy of it (OpenSSL 3 duplicates the context unless told so). */
    EVP_MD_CTX_set_flags(ctx, EVP_MD_CTX_FLAG_FINALISE);
    ok = EVP_DigestVerifyUpdate(ctx, jws->signing_input, jws->signing_input_len) == 1 &&
         EVP_DigestVerifyFinal(ctx, der, der_len) == 1;
    ERR_clear_error();
    if (!ok)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO,
                             "es256 signature does not verify");
    return PS_OK;
}

ps_err_t ingest_jws_verify_es256(const ingest_jws_t *jws, EVP_PKEY *key, char *errstr,
                                 size_t errstr_size)
{
    EVP_MD_CTX *ctx;
    char why[256];
    ps_err_t err;

    if (!EVP_PKEY_is_a(key, "EC"))
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO,
                             "es256 needs an ec key, got \"%s\"",
                             EVP_PKEY_get0_type_name(key) ? EVP_PKEY_get0_type_name(key) : "?");
    ctx = ingest_jws_es256_prepare(key);
    if (ctx == NULL)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO,
                             "could not start es256 verification: %s",
                             openssl_reason(why, sizeof(why)));
    err = ingest_jws_verify_es256_prepared(jws, ctx, errstr, errstr_size);
    EVP_MD_CTX_free(ctx);
    return err;
}
