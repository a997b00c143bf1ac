/*
 * Compact JWS parsing and ES256 verification (see jws.h). The token is
 * attacker-controlled: every part is bounded before it is decoded, decoding is
 * strict, and the algorithm is checked before any certificate is looked at,
 * so a token can neither pick the key type nor make us parse its x5c first.
 */
#include "jws.h"

#include <paystream/base64.h>

#include <jansson.h>
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

/* Decodes the x5c array of header into jws->certs. */
static ps_err_t decode_x5c(json_t *header, ingest_jws_t *jws, const char **label_out,
                           char *errstr, size_t errstr_size)
{
    json_t *x5c = json_object_get(header, "x5c");
    char cause[PS_ERRSTR_SIZE];
    size_t n;

    *label_out = "bad_chain";
    if (x5c == NULL)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "invalid jws header: no \"x5c\" certificate chain");
    if (!json_is_array(x5c))
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "invalid jws header: \"x5c\" is not an array");
    n = json_array_size(x5c);
    if (n != PS_X5C_CHAIN_CERTS)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "invalid jws header: \"x5c\" has %zu certificates, expected %d", n,
                             PS_X5C_CHAIN_CERTS);
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(x5c, i);
        ps_err_t err;

        if (!json_is_string(item))
            return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                                 "invalid jws header: x5c[%zu] is not a string", i);
        *label_out = "bad_certificate";
        err = ps_base64_decode(json_string_value(item), json_string_length(item), PS_BASE64_STD,
                               &jws->certs[i], cause, sizeof(cause));
        if (err != PS_OK)
            return ps_errstr_set(errstr, errstr_size, err, "invalid x5c[%zu]: %s", i, cause);
        if (jws->certs[i].len == 0)
            return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID, "invalid x5c[%zu]: empty",
                                 i);
        *label_out = "bad_chain";
    }
    jws->cert_count = n;
    return PS_OK;
}

/* Parses the decoded header: a JSON object, alg ES256, no crit, then x5c. */
static ps_err_t check_header(ingest_jws_t *jws, const char **label_out, char *errstr,
                             size_t errstr_size)
{
    json_error_t jerr;
    json_t *header, *alg;
    ps_err_t err = PS_ERR_INVALID;

    *label_out = "bad_jws";
    header = json_loadb((const char *)jws->header.data, jws->header.len, JSON_REJECT_DUPLICATES,
                        &jerr);
    if (header == NULL) {
        ps_errstr_set(errstr, errstr_size, err, "invalid jws header: %s at offset %d",
                      jerr.text, jerr.position);
        goto out;
    }
    if (!json_is_object(header)) {
        ps_errstr_set(errstr, errstr_size, err, "invalid jws header: not a JSON object");
        goto out;
    }
    alg = json_object_get(header, "alg");
    if (!json_is_string(alg) || strcmp(json_string_value(alg), "ES256") != 0 ||
        json_string_length(alg) != 5) {
        *label_out = "bad_alg";
        ps_errstr_set(errstr, errstr_size, err,
                      "invalid jws header: algorithm must be \"ES256\", got %s%s%s",
                      json_is_string(alg) ? "\"" : "",
                      json_is_string(alg) ? json_string_value(alg) : "none or not a string",
                      json_is_string(alg) ? "\"" : "");
        goto out;
    }
    /* RFC 7515 4.1.11: extensions marked critical must be understood; we know none. */
    if (json_object_get(header, "crit") != NULL) {
        ps_errstr_set(errstr, errstr_size, err, "invalid jws header: unsupported \"crit\"");
        goto out;
    }
    err = decode_x5c(header, jws, label_out, errstr, errstr_size);
out:
    json_decref(header);
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

ps_err_t ingest_jws_sig_raw_to_der(const uint8_t raw[INGEST_JWS_ES256_SIG_BYTES],
                                   ps_buf_t *der_out, char *errstr, size_t errstr_size)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, INGEST_JWS_ES256_COORD_BYTES, NULL);
    BIGNUM *s = BN_bin2bn(raw + INGEST_JWS_ES256_COORD_BYTES, INGEST_JWS_ES256_COORD_BYTES, NULL);
    unsigned char *der = NULL;
    char why[256];
    int der_len;
    ps_err_t err = PS_ERR_CRYPTO;

    if (sig == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(sig, r, s) != 1) {
        ps_errstr_set(errstr, errstr_size, err, "could not build ecdsa signature: %s",
                      openssl_reason(why, sizeof(why)));
        goto out;
    }
    r = NULL; /* owned by sig now */
    s = NULL;
    der_len = i2d_ECDSA_SIG(sig, &der);
    if (der_len <= 0) {
        ps_errstr_set(errstr, errstr_size, err, "could not encode ecdsa signature: %s",
                      openssl_reason(why, sizeof(why)));
        goto out;
    }
    err = ps_buf_append(der_out, der, (size_t)der_len);
    if (err != PS_OK)
        ps_errstr_set(errstr, errstr_size, err, "der signature exceeds its buffer");
out:
    OPENSSL_free(der);
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return err;
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

ps_err_t ingest_jws_verify_es256(const ingest_jws_t *jws, EVP_PKEY *key, char *errstr,
                                 size_t errstr_size)
{
    EVP_MD_CTX *ctx = NULL;
    ps_buf_t der;
    char why[256];
    int rc;
    ps_err_t err;

    ps_buf_init(&der, JWS_DER_SIG_BYTES_MAX);
    err = ingest_jws_sig_raw_to_der(jws->signature, &der, errstr, errstr_size);
    if (err != PS_OK)
        goto out;
    err = PS_ERR_CRYPTO;
    if (!EVP_PKEY_is_a(key, "EC")) {
        ps_errstr_set(errstr, errstr_size, err, "es256 needs an ec key, got \"%s\"",
                      EVP_PKEY_get0_type_name(key) ? EVP_PKEY_get0_type_name(key) : "?");
        goto out;
    }
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) != 1) {
        ps_errstr_set(errstr, errstr_size, err, "could not start es256 verification: %s",
                      openssl_reason(why, sizeof(why)));
        goto out;
    }
    rc = EVP_DigestVerify(ctx, der.data, der.len, (const unsigned char *)jws->signing_input,
                          jws->signing_input_len);
    ERR_clear_error();
    if (rc != 1) {
        ps_errstr_set(errstr, errstr_size, err, "es256 signature does not verify");
        goto out;
    }
    err = PS_OK;
out:
    EVP_MD_CTX_free(ctx);
    ps_buf_deinit(&der);
    return err;
}
