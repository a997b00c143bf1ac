/*
 * WeChat Pay v3 crypto primitives shared by the callback verifier (wechat.c)
 * and the certificate refresher (wechat_certs.c), so that a callback and a
 * /v3/certificates response are checked by the same code: the signature
 * check in the reference's order, AEAD AES-GCM open, and the merchant
 * request signature. Declared in wechat_certs.h. Every function is
 * thread-safe: keys are only read, each call uses its own OpenSSL contexts.
 */
#include "wechat_certs.h"

#include <paystream/base64.h>

#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define PROBE_PREFIX "WECHATPAY/SIGNTEST/"

ps_err_t ingest_wechat_aead_open(const uint8_t *key, size_t key_len, const uint8_t *nonce,
                                 size_t nonce_len, const uint8_t *aad, size_t aad_len,
                                 const uint8_t *ct, size_t ct_len, ps_buf_t *out, char *errstr,
                                 size_t errstr_size)
{
    const EVP_CIPHER *cipher = key_len == 16   ? EVP_aes_128_gcm()
                               : key_len == 24 ? EVP_aes_192_gcm()
                               : key_len == 32 ? EVP_aes_256_gcm()
                                               : NULL;
    EVP_CIPHER_CTX *ctx = NULL;
    size_t body_len;
    int n = 0, fin = 0;
    ps_err_t err = PS_OK;

    if (cipher == NULL || nonce_len != PS_WECHAT_AEAD_NONCE_BYTES ||
        ct_len < PS_WECHAT_AEAD_TAG_BYTES || ct_len > INT32_MAX || aad_len > INT32_MAX)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "bad AES-GCM input: key %zu bytes, nonce %zu bytes, ciphertext "
                             "%zu bytes",
                             key_len, nonce_len, ct_len);
    body_len = ct_len - PS_WECHAT_AEAD_TAG_BYTES;
    if (ps_buf_reserve(out, body_len + 1) != PS_OK)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                             "decrypted resource would exceed %zu bytes", out->max);
    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL || EVP_DecryptInit_ex(ctx, cipher, NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, (int)nonce_len, NULL) != 1 ||
        EVP_DecryptInit_ex(ctx, NULL, NULL, key, nonce) != 1 ||
        (aad_len > 0 && EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1) ||
        EVP_DecryptUpdate(ctx, out->data + out->len, &n, ct, (int)body_len) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, PS_WECHAT_AEAD_TAG_BYTES,
                            (void *)(ct + body_len)) != 1 ||
        EVP_DecryptFinal_ex(ctx, out->data + out->len + n, &fin) != 1) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO,
                            "AES-GCM authentication failed (wrong APIv3 key or tampered "
                            "resource)");
        goto out;
    }
    out->len += (size_t)n + (size_t)fin;
    out->data[out->len] = '\0';
out:
    EVP_CIPHER_CTX_free(ctx);
    ERR_clear_error();
    return err;
}

/* Verifies sig over "ts\nnonce\nbody\n" with a copy of key's prepared context. */
static bool rsa_verify(const ingest_wechat_key_t *key, const ingest_wechat_sig_headers_t *h,
                       const uint8_t *body, size_t body_len, const uint8_t *sig, size_t sig_len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx != NULL && EVP_MD_CTX_copy_ex(ctx, key->proto) == 1;

    /* Used once: no copy of the copy inside EVP_DigestVerifyFinal (OpenSSL 3). */
    if (ok)
        EVP_MD_CTX_set_flags(ctx, EVP_MD_CTX_FLAG_FINALISE);
    ok = ok && EVP_DigestVerifyUpdate(ctx, h->timestamp, strlen(h->timestamp)) == 1 &&
         EVP_DigestVerifyUpdate(ctx, "\n", 1) == 1 &&
         EVP_DigestVerifyUpdate(ctx, h->nonce, strlen(h->nonce)) == 1 &&
         EVP_DigestVerifyUpdate(ctx, "\n", 1) == 1 &&
         EVP_DigestVerifyUpdate(ctx, body, body_len) == 1 &&
         EVP_DigestVerifyUpdate(ctx, "\n", 1) == 1 &&
         EVP_DigestVerifyFinal(ctx, sig, sig_len) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

/* Parses the decimal timestamp header: digits only, bounded length. */
static bool parse_timestamp(const char *s, int64_t *out)
{
    size_t len = strlen(s);
    int64_t v = 0;

    if (len == 0 || len > PS_WECHAT_TIMESTAMP_DIGITS_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static const char *fail_label(char *msg, size_t msg_size, const char *label, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static const char *fail_label(char *msg, size_t msg_size, const char *label, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, msg_size, fmt, ap);
    va_end(ap);
    return label;
}

const char *ingest_wechat_check_signature(const ingest_wechat_snapshot_t *snap,
                                          const ingest_wechat_sig_headers_t *h,
                                          const uint8_t *body, size_t body_len, int64_t now_s,
                                          int64_t window_s, const ingest_wechat_key_t **key_out,
                                          char *msg, size_t msg_size)
{
    uint8_t sig_bytes[PS_WECHAT_SIGNATURE_BYTES_MAX];
    ps_buf_t sig;
    const ingest_wechat_key_t *key;
    int64_t ts, skew;
    const char *label = NULL;

    /* Probes carry no signature at all; say so rather than "bad base64". */
    if (strncmp(h->signature, PROBE_PREFIX, strlen(PROBE_PREFIX)) == 0)
        return fail_label(msg, msg_size, "signtest_probe",
                          "signature is a WeChat verification probe (\"" PROBE_PREFIX "\")");
    if (!parse_timestamp(h->timestamp, &ts))
        return fail_label(msg, msg_size, "bad_timestamp",
                          "timestamp is not a decimal number of at most %d digits",
                          PS_WECHAT_TIMESTAMP_DIGITS_MAX);
    if (__builtin_sub_overflow(now_s, ts, &skew) || skew >= window_s || skew <= -window_s)
        return fail_label(msg, msg_size, "stale_timestamp",
                          "timestamp %lld is not within %lld seconds of now (%lld)",
                          (long long)ts, (long long)window_s, (long long)now_s);
    key = ingest_wechat_snapshot_find(snap, h->serial);
    if (key == NULL)
        return fail_label(msg, msg_size, "unknown_serial", "unknown serial \"%.64s\"",
                          h->serial);
    if (key->is_certificate && (now_s < key->not_before_s || now_s > key->not_after_s))
        return fail_label(msg, msg_size, "expired_certificate",
                          "certificate \"%s\" is not valid at %lld (valid %lld to %lld)", key->id,
                          (long long)now_s, (long long)key->not_before_s,
                          (long long)key->not_after_s);
    ps_buf_init(&sig, sizeof(sig_bytes));
    if (ps_base64_decode(h->signature, strlen(h->signature), PS_BASE64_STD, &sig, NULL, 0) !=
        PS_OK)
        label = fail_label(msg, msg_size, "bad_signature",
                           "signature is not valid base64 of at most %d bytes",
                           PS_WECHAT_SIGNATURE_BYTES_MAX);
    else if (!rsa_verify(key, h, body, body_len, sig.data, sig.len))
        label = fail_label(msg, msg_size, "bad_signature",
                           "SHA256withRSA signature does not verify with key \"%s\"", key->id);
    ps_buf_deinit(&sig);
    if (label == NULL)
        *key_out = key;
    return label;
}

ps_err_t ingest_wechat_sign_request(EVP_PKEY *merchant_key, const char *mch_id,
                                    const char *merchant_serial, const char *method,
                                    const char *url, int64_t timestamp_s, const char *nonce,
                                    const uint8_t *body, size_t body_len, ps_buf_t *out,
                                    char *errstr, size_t errstr_size)
{
    uint8_t sig[PS_WECHAT_SIGNATURE_BYTES_MAX];
    size_t sig_len = sizeof(sig);
    ps_buf_t msg, b64;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    ps_err_t err;

    ps_buf_init(&msg, PS_WECHAT_BODY_BYTES_MAX + PS_WECHAT_URL_BYTES_MAX + 256);
    ps_buf_init(&b64, PS_WECHAT_SIGNATURE_B64_BYTES_MAX);
    err = ps_buf_appendf(&msg, "%s\n%s\n%lld\n%s\n", method, url, (long long)timestamp_s, nonce);
    if (err == PS_OK)
        err = ps_buf_append(&msg, body, body_len);
    if (err == PS_OK)
        err = ps_buf_append(&msg, "\n", 1);
    if (err != PS_OK) {
        err = ps_errstr_set(errstr, errstr_size, err, "request to sign is too large");
        goto out;
    }
    if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, merchant_key) != 1 ||
        EVP_DigestSign(ctx, sig, &sig_len, msg.data, msg.len) != 1) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO,
                            "could not sign request with the merchant key");
        goto out;
    }
    err = ps_base64_encode(sig, sig_len, PS_BASE64_STD, &b64);
    if (err == PS_OK)
        err = ps_buf_appendf(out,
                             "WECHATPAY2-SHA256-RSA2048 mchid=\"%s\",nonce_str=\"%s\","
                             "timestamp=\"%lld\",serial_no=\"%s\",signature=\"%s\"",
                             mch_id, nonce, (long long)timestamp_s, merchant_serial,
                             (const char *)b64.data);
    if (err != PS_OK)
        err = ps_errstr_set(errstr, errstr_size, err, "authorization header is too large");
out:
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    ps_buf_deinit(&b64);
    ps_buf_deinit(&msg);
    return err;
}
