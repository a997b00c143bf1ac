/*
 * WeChat Pay v3 simulator (see sim_wechat.h): channel-faithful callbacks
 * signed with test keys, the forgeries the verifier must refuse, test keys
 * and certificates, and a local /v3/certificates endpoint.
 *
 * The bodies follow reference/channels.md section 1 and the shape of the
 * conformance vectors (compact JSON, UTF-8, times in +08:00), so the same
 * code path that checks the official vectors checks the simulated ones.
 */
#include "sim_wechat.h"

#include <paystream/assert.h>
#include <paystream/base64.h>
#include <paystream/mem.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define SIM_BEIJING_OFFSET_S (8 * 3600)
#define SIM_NONCE_CHARS 32
#define SIM_CERTS_MAX PS_WECHAT_KEYS_MAX
#define SIM_DEFAULT_APPID "wxd678efh567hg6787"

/* ---- small helpers ------------------------------------------------------ */

/* n random alphanumeric characters (plus NUL) into out. */
static void random_text(char *out, size_t n)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyz";
    uint8_t rnd[64];

    PS_ASSERT(n <= sizeof(rnd));
    if (RAND_bytes(rnd, (int)n) != 1)
        memset(rnd, 7, n); /* test-only nonces: predictability is harmless */
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
    out[n] = '\0';
}

/* "2023-11-15T06:13:20+08:00": WeChat writes Beijing time. */
static void beijing_time(int64_t t, char *out, size_t out_size)
{
    time_t shifted = (time_t)(t + SIM_BEIJING_OFFSET_S);
    struct tm tm;

    gmtime_r(&shifted, &tm);
    strftime(out, out_size, "%Y-%m-%dT%H:%M:%S+08:00", &tm);
}

/* Appends s form-encoded (unreserved characters kept, others %XX). */
static ps_err_t form_encode(const char *s, ps_buf_t *out)
{
    ps_err_t err = PS_OK;

    for (const unsigned char *p = (const unsigned char *)s; err == PS_OK && *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~')
            err = ps_buf_append(out, p, 1);
        else
            err = ps_buf_appendf(out, "%%%02X", *p);
    }
    return err;
}

static ps_err_t rsa_sign(EVP_PKEY *key, const void *msg, size_t len, ps_buf_t *out_b64)
{
    uint8_t sig[PS_WECHAT_SIGNATURE_BYTES_MAX];
    size_t sig_len = sizeof(sig);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    ps_err_t err = PS_ERR_CRYPTO;

    if (ctx != NULL && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
        EVP_DigestSign(ctx, sig, &sig_len, msg, len) == 1)
        err = ps_base64_encode(sig, sig_len, PS_BASE64_STD, out_b64);
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return err;
}

/* Signs "ts\nnonce\nbody\n" into out_b64. */
static ps_err_t sign_message(EVP_PKEY *key, const char *ts, const char *nonce, const void *body,
                             size_t body_len, ps_buf_t *out_b64)
{
    ps_buf_t msg;
    ps_err_t err;

    ps_buf_init(&msg, SIM_BODY_BYTES_MAX + 512);
    err = ps_buf_appendf(&msg, "%s\n%s\n", ts, nonce);
    if (err == PS_OK)
        err = ps_buf_append(&msg, body, body_len);
    if (err == PS_OK)
        err = ps_buf_append(&msg, "\n", 1);
    if (err == PS_OK)
        err = rsa_sign(key, msg.data, msg.len, out_b64);
    ps_buf_deinit(&msg);
    return err;
}

/* ---- callbacks ---------------------------------------------------------- */

ps_err_t sim_wechat_encrypt(const uint8_t *apiv3_key, const char *nonce, const char *aad,
                            const uint8_t *plaintext, size_t len, ps_buf_t *out_b64,
                            char *errstr, size_t errstr_size)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    ps_buf_t ct;
    int n = 0, fin = 0;
    ps_err_t err = PS_OK;

    ps_buf_init(&ct, SIM_BODY_BYTES_MAX);
    if (strlen(nonce) != PS_WECHAT_AEAD_NONCE_BYTES || len > SIM_BODY_BYTES_MAX / 2 ||
        ps_buf_reserve(&ct, len + PS_WECHAT_AEAD_TAG_BYTES + 16) != PS_OK) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID, "bad nonce or plaintext size");
        goto out;
    }
    if (ctx == NULL || EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, PS_WECHAT_AEAD_NONCE_BYTES, NULL) != 1 ||
        EVP_EncryptInit_ex(ctx, NULL, NULL, apiv3_key, (const uint8_t *)nonce) != 1 ||
        EVP_EncryptUpdate(ctx, NULL, &n, (const uint8_t *)aad, (int)strlen(aad)) != 1 ||
        EVP_EncryptUpdate(ctx, ct.data, &n, plaintext, (int)len) != 1 ||
        EVP_EncryptFinal_ex(ctx, ct.data + n, &fin) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, PS_WECHAT_AEAD_TAG_BYTES,
                            ct.data + n + fin) != 1) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO, "AES-GCM encryption failed");
        goto out;
    }
    ct.len = (size_t)n + (size_t)fin + PS_WECHAT_AEAD_TAG_BYTES;
    err = ps_base64_encode(ct.data, ct.len, PS_BASE64_STD, out_b64);
out:
    EVP_CIPHER_CTX_free(ctx);
    ps_buf_deinit(&ct);
    return err;
}

ps_err_t sim_wechat_sign(const sim_wechat_keys_t *keys, int64_t timestamp_s, const char *nonce,
                         sim_request_t *out, char *errstr, size_t errstr_size)
{
    char ts[32], rnd[SIM_NONCE_CHARS + 1];
    ps_buf_t sig;
    ps_err_t err;

    if (nonce == NULL) {
        random_text(rnd, SIM_NONCE_CHARS);
        nonce = rnd;
    }
    snprintf(ts, sizeof(ts), "%lld", (long long)timestamp_s);
    ps_buf_init(&sig, PS_WECHAT_SIGNATURE_B64_BYTES_MAX);
    err = sign_message(keys->sign_key, ts, nonce, out->body.data ? out->body.data : (uint8_t *)"",
                       out->body.len, &sig);
    if (err == PS_OK)
        err = sim_request_set_header(out, "Wechatpay-Timestamp", ts);
    if (err == PS_OK)
        err = sim_request_set_header(out, "Wechatpay-Nonce", nonce);
    if (err == PS_OK)
        err = sim_request_set_header(out, "Wechatpay-Signature", (const char *)sig.data);
    if (err == PS_OK)
        err = sim_request_set_header(out, "Wechatpay-Serial", keys->serial);
    if (err == PS_OK)
        err = sim_request_set_header(out, "Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA2048");
    ps_buf_deinit(&sig);
    if (err != PS_OK)
        return ps_errstr_set(errstr, errstr_size, err, "could not sign simulated callback");
    return PS_OK;
}

static json_t *payment_plaintext(const sim_wechat_params_t *p, const char *time_text)
{
    json_t *o = json_object(), *amount = json_object(), *payer = json_object();
    const char *currency = p->currency ? p->currency : "CNY";

    json_object_set_new(o, "appid", json_string(p->appid ? p->appid : SIM_DEFAULT_APPID));
    json_object_set_new(o, "mchid", json_string(p->mch_id));
    json_object_set_new(o, "out_trade_no", json_string(p->out_trade_no));
    json_object_set_new(o, "transaction_id", json_string(p->transaction_id));
    json_object_set_new(o, "trade_type", json_string("APP"));
    json_object_set_new(o, "trade_state", json_string("SUCCESS"));
    json_object_set_new(o, "trade_state_desc", json_string("支付成功"));
    json_object_set_new(o, "bank_type", json_string("OTHERS"));
    if (p->account_id != NULL) {
        ps_buf_t attach;
        ps_buf_init(&attach, PS_WECHAT_ATTACH_BYTES_MAX * 4);
        ps_buf_append_str(&attach, "player_id=");
        form_encode(p->account_id, &attach);
        ps_buf_append_str(&attach, "&server=s1");
        json_object_set_new(o, "attach", json_string((const char *)attach.data));
        ps_buf_deinit(&attach);
    }
    json_object_set_new(o, "success_time", json_string(time_text));
    json_object_set_new(payer, "openid", json_string("oSimUser0000000000000000000"));
    json_object_set_new(o, "payer", payer);
    json_object_set_new(amount, "total", json_integer(p->amount_total));
    json_object_set_new(amount, "payer_total", json_integer(p->amount_total));
    json_object_set_new(amount, "currency", json_string(currency));
    json_object_set_new(amount, "payer_currency", json_string(currency));
    json_object_set_new(o, "amount", amount);
    return o;
}

static json_t *refund_plaintext(const sim_wechat_params_t *p, const char *time_text)
{
    static const char *const status[] = {"SUCCESS", "SUCCESS", "ABNORMAL", "CLOSED"};
    json_t *o = json_object(), *amount = json_object();

    json_object_set_new(o, "mchid", json_string(p->mch_id));
    json_object_set_new(o, "out_trade_no", json_string(p->out_trade_no));
    json_object_set_new(o, "transaction_id", json_string(p->transaction_id));
    json_object_set_new(o, "out_refund_no", json_string(p->out_refund_no));
    json_object_set_new(o, "refund_id", json_string(p->refund_id));
    json_object_set_new(o, "refund_status", json_string(status[p->event]));
    if (p->event == SIM_WECHAT_REFUND_SUCCESS)
        json_object_set_new(o, "success_time", json_string(time_text));
    json_object_set_new(o, "user_received_account", json_string("支付用户零钱"));
    json_object_set_new(amount, "total", json_integer(p->amount_total));
    json_object_set_new(amount, "refund", json_integer(p->refund_amount));
    json_object_set_new(amount, "payer_total", json_integer(p->amount_total));
    json_object_set_new(amount, "payer_refund", json_integer(p->refund_amount));
    json_object_set_new(o, "amount", amount);
    return o;
}

static bool params_ok(const sim_wechat_params_t *p)
{
    bool refund = p->event != SIM_WECHAT_TRANSACTION_SUCCESS;

    return (unsigned)p->event <= SIM_WECHAT_REFUND_CLOSED && p->event_id && p->mch_id &&
           p->out_trade_no && p->transaction_id && (!refund || (p->out_refund_no && p->refund_id));
}

ps_err_t sim_wechat_plaintext(const sim_wechat_params_t *p, ps_buf_t *out, char *errstr,
                              size_t errstr_size)
{
    char time_text[40];
    json_t *o;
    char *text;
    ps_err_t err;

    if (!params_ok(p))
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "simulated wechat callback lacks a required parameter");
    beijing_time(p->event_time_s, time_text, sizeof(time_text));
    o = p->event == SIM_WECHAT_TRANSACTION_SUCCESS ? payment_plaintext(p, time_text)
                                                   : refund_plaintext(p, time_text);
    text = json_dumps(o, JSON_COMPACT);
    err = text != NULL ? ps_buf_append_str(out, text) : PS_ERR_INVALID;
    free(text); /* allocated by jansson with malloc */
    json_decref(o);
    if (err != PS_OK)
        return ps_errstr_set(errstr, errstr_size, err, "could not render the resource");
    return PS_OK;
}

/* The envelope around an encrypted plaintext; aead_nonce and header_nonce
 * may be NULL (random). */
static ps_err_t build_envelope(const sim_wechat_keys_t *keys, const char *event_type,
                               const char *id, const char *aad, const char *plaintext,
                               int64_t create_time_s, int64_t timestamp_s, const char *aead_nonce,
                               const char *header_nonce, sim_request_t *out, char *errstr,
                               size_t errstr_size)
{
    char time_text[40], nonce[PS_WECHAT_AEAD_NONCE_BYTES + 1];
    ps_buf_t ct;
    json_t *env, *res;
    char *text;
    ps_err_t err;

    if (aead_nonce != NULL && strlen(aead_nonce) == PS_WECHAT_AEAD_NONCE_BYTES)
        memcpy(nonce, aead_nonce, sizeof(nonce));
    else
        random_text(nonce, PS_WECHAT_AEAD_NONCE_BYTES);
    ps_buf_init(&ct, SIM_BODY_BYTES_MAX);
    err = sim_wechat_encrypt(keys->apiv3_key, nonce, aad, (const uint8_t *)plaintext,
                             strlen(plaintext), &ct, errstr, errstr_size);
    if (err != PS_OK)
        goto out;
    beijing_time(create_time_s, time_text, sizeof(time_text));
    env = json_object();
    res = json_object();
    json_object_set_new(env, "id", json_string(id));
    json_object_set_new(env, "create_time", json_string(time_text));
    json_object_set_new(env, "resource_type", json_string("encrypt-resource"));
    json_object_set_new(env, "event_type", json_string(event_type));
    json_object_set_new(env, "summary", json_string(strncmp(event_type, "REFUND", 6) == 0
                                                        ? "退款成功"
                                                        : "支付成功"));
    json_object_set_new(res, "original_type", json_string(aad));
    json_object_set_new(res, "algorithm", json_string("AEAD_AES_256_GCM"));
    json_object_set_new(res, "ciphertext", json_string((const char *)ct.data));
    json_object_set_new(res, "associated_data", json_string(aad));
    json_object_set_new(res, "nonce", json_string(nonce));
    json_object_set_new(env, "resource", res);
    text = json_dumps(env, JSON_COMPACT);
    json_decref(env);
    ps_buf_reset(&out->body);
    err = text != NULL ? ps_buf_append_str(&out->body, text) : PS_ERR_INVALID;
    free(text);
    memcpy(out->path, "/v1/notify/wechat", sizeof("/v1/notify/wechat"));
    if (err == PS_OK)
        err = sim_request_set_header(out, "Content-Type", "application/json");
    if (err == PS_OK)
        err = sim_wechat_sign(keys, timestamp_s, header_nonce, out, errstr, errstr_size);
    else
        ps_errstr_set(errstr, errstr_size, err, "could not render the callback body");
out:
    ps_buf_deinit(&ct);
    return err;
}

ps_err_t sim_wechat_build_raw(const sim_wechat_keys_t *keys, const char *event_type,
                              const char *id, const char *aad, const char *plaintext,
                              int64_t create_time_s, int64_t timestamp_s, sim_request_t *out,
                              char *errstr, size_t errstr_size)
{
    return build_envelope(keys, event_type, id, aad, plaintext, create_time_s, timestamp_s, NULL,
                          NULL, out, errstr, errstr_size);
}

ps_err_t sim_wechat_build(const sim_wechat_keys_t *keys, const sim_wechat_params_t *p,
                          sim_request_t *out, char *errstr, size_t errstr_size)
{
    static const char *const types[] = {"TRANSACTION.SUCCESS", "REFUND.SUCCESS",
                                        "REFUND.ABNORMAL", "REFUND.CLOSED"};
    ps_buf_t plain;
    ps_err_t err;

    ps_buf_init(&plain, SIM_BODY_BYTES_MAX / 2);
    err = sim_wechat_plaintext(p, &plain, errstr, errstr_size);
    if (err == PS_OK)
        err = build_envelope(keys, types[p->event], p->event_id,
                             p->event == SIM_WECHAT_TRANSACTION_SUCCESS ? "transaction" : "refund",
                             (const char *)plain.data, p->event_time_s, p->timestamp_s,
                             p->aead_nonce, p->nonce, out, errstr, errstr_size);
    ps_buf_deinit(&plain);
    return err;
}

ps_err_t sim_wechat_forge(sim_request_t *req, sim_wechat_forgery_t kind)
{
    if (kind == SIM_WECHAT_FORGE_SIGNTEST)
        return sim_request_set_header(req, "Wechatpay-Signature",
                                      "WECHATPAY/SIGNTEST/c2ltdWxhdGVkIHByb2Jl");
    if (req->body.len == 0)
        return PS_ERR_INVALID;
    /* Change the last character of "id"'s value: still valid JSON. */
    req->body.data[8] ^= 0x01;
    return PS_OK;
}

/* ---- keys and certificates ---------------------------------------------- */

ps_err_t sim_wechat_key_generate(EVP_PKEY **out, char *errstr, size_t errstr_size)
{
    *out = EVP_RSA_gen(2048);
    ERR_clear_error();
    if (*out == NULL)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO, "could not generate an RSA key");
    return PS_OK;
}

ps_err_t sim_wechat_cert_generate(EVP_PKEY *key, const char *serial_hex, int64_t not_before_s,
                                  int64_t not_after_s, X509 **out, char *errstr,
                                  size_t errstr_size)
{
    X509 *cert = X509_new();
    BIGNUM *bn = NULL;
    X509_NAME *name;
    bool ok;

    ok = cert != NULL && BN_hex2bn(&bn, serial_hex) == (int)strlen(serial_hex) &&
         BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != NULL &&
         X509_set_version(cert, 2) == 1 &&
         ASN1_TIME_set(X509_getm_notBefore(cert), (time_t)not_before_s) != NULL &&
         ASN1_TIME_set(X509_getm_notAfter(cert), (time_t)not_after_s) != NULL &&
         (name = X509_get_subject_name(cert)) != NULL &&
         X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                    (const unsigned char *)"Simulated Tenpay.com sign", -1, -1,
                                    0) == 1 &&
         X509_set_issuer_name(cert, name) == 1 && X509_set_pubkey(cert, key) == 1 &&
         X509_sign(cert, key, EVP_sha256()) > 0;
    BN_free(bn);
    ERR_clear_error();
    if (!ok) {
        X509_free(cert);
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO,
                             "could not create a certificate with serial \"%s\"", serial_hex);
    }
    *out = cert;
    return PS_OK;
}

/* Runs a PEM writer into a memory BIO and appends the text to out. */
static ps_err_t pem_out(BIO *bio, int written, ps_buf_t *out)
{
    char *data;
    long len = bio != NULL ? BIO_get_mem_data(bio, &data) : 0;
    ps_err_t err = written == 1 && len > 0 ? ps_buf_append(out, data, (size_t)len) : PS_ERR_CRYPTO;

    BIO_free(bio);
    ERR_clear_error();
    return err;
}

ps_err_t sim_wechat_pem_cert(X509 *cert, ps_buf_t *out)
{
    BIO *bio = BIO_new(BIO_s_mem());
    return pem_out(bio, bio ? PEM_write_bio_X509(bio, cert) : 0, out);
}

ps_err_t sim_wechat_pem_public_key(EVP_PKEY *key, ps_buf_t *out)
{
    BIO *bio = BIO_new(BIO_s_mem());
    return pem_out(bio, bio ? PEM_write_bio_PUBKEY(bio, key) : 0, out);
}

ps_err_t sim_wechat_pem_private_key(EVP_PKEY *key, ps_buf_t *out)
{
    BIO *bio = BIO_new(BIO_s_mem());
    return pem_out(bio, bio ? PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) : 0,
                   out);
}

ps_err_t sim_wechat_load_private_key(const char *path, EVP_PKEY **out, char *errstr,
                                     size_t errstr_size)
{
    FILE *f = fopen(path, "r");

    *out = f != NULL ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    if (f != NULL)
        fclose(f);
    ERR_clear_error();
    if (*out == NULL)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO,
                             "could not read a PEM private key from \"%s\"", path);
    return PS_OK;
}

/* ---- /v3/certificates server -------------------------------------------- */

struct sim_wechat_cert_server {
    struct MHD_Daemon *daemon;
    uint16_t port;
    pthread_mutex_t lock; /* guards certs */
    X509 *certs[SIM_CERTS_MAX];
    size_t cert_count;
    uint8_t apiv3_key[PS_WECHAT_APIV3_KEY_BYTES];
    EVP_PKEY *sign_key, *merchant_key;
    char serial[PS_WECHAT_SERIAL_BYTES_MAX];
    char mch_id[64];
    atomic_uint requests, auth_failures;
    atomic_bool corrupt;
};

/* Copies the value of key="value" from an Authorization header into dst. */
static bool auth_param(const char *auth, const char *key, char *dst, size_t dst_size)
{
    char pat[32];
    const char *p, *e;

    snprintf(pat, sizeof(pat), "%s=\"", key);
    p = strstr(auth, pat);
    if (p == NULL)
        return false;
    p += strlen(pat);
    e = strchr(p, '"');
    if (e == NULL || (size_t)(e - p) >= dst_size)
        return false;
    memcpy(dst, p, (size_t)(e - p));
    dst[e - p] = '\0';
    return true;
}

/* Whether the Authorization header is a valid merchant signature of this GET. */
static bool auth_ok(const sim_wechat_cert_server_t *srv, const char *auth, const char *url)
{
    char mchid[64], nonce[128], ts[32], serial[128], sig_b64[1024];
    uint8_t sig_bytes[PS_WECHAT_SIGNATURE_BYTES_MAX];
    ps_buf_t msg, sig;
    EVP_MD_CTX *ctx;
    bool ok;

    if (srv->merchant_key == NULL)
        return true;
    if (auth == NULL || strncmp(auth, "WECHATPAY2-SHA256-RSA2048 ", 26) != 0 ||
        !auth_param(auth, "mchid", mchid, sizeof(mchid)) ||
        !auth_param(auth, "nonce_str", nonce, sizeof(nonce)) ||
        !auth_param(auth, "timestamp", ts, sizeof(ts)) ||
        !auth_param(auth, "serial_no", serial, sizeof(serial)) ||
        !auth_param(auth, "signature", sig_b64, sizeof(sig_b64)) ||
        (srv->mch_id[0] && strcmp(mchid, srv->mch_id) != 0))
        return false;
    ps_buf_init(&msg, 4096);
    ps_buf_init(&sig, sizeof(sig_bytes));
    ctx = EVP_MD_CTX_new();
    ok = ps_buf_appendf(&msg, "GET\n%s\n%s\n%s\n\n", url, ts, nonce) == PS_OK &&
         ps_base64_decode(sig_b64, strlen(sig_b64), PS_BASE64_STD, &sig, NULL, 0) == PS_OK &&
         ctx != NULL &&
         EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, srv->merchant_key) == 1 &&
         EVP_DigestVerify(ctx, sig.data, sig.len, msg.data, msg.len) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    ps_buf_deinit(&sig);
    ps_buf_deinit(&msg);
    return ok;
}

static int64_t cert_time_s(const ASN1_TIME *t)
{
    int days = 0, secs = 0;

    /* Offset from the epoch without the process time zone. */
    ASN1_TIME *epoch = ASN1_TIME_set(NULL, 0);
    ASN1_TIME_diff(&days, &secs, epoch, t);
    ASN1_TIME_free(epoch);
    return (int64_t)days * 86400 + secs;
}

/* The JSON body listing every served certificate, encrypted. */
static char *render_certs(sim_wechat_cert_server_t *srv)
{
    json_t *root = json_object(), *data = json_array();
    char *text = NULL;

    pthread_mutex_lock(&srv->lock);
    for (size_t i = 0; i < srv->cert_count; i++) {
        X509 *cert = srv->certs[i];
        BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
        char *hex = bn ? BN_bn2hex(bn) : NULL, nonce[PS_WECHAT_AEAD_NONCE_BYTES + 1], t1[40],
             t2[40];
        ps_buf_t pem, ct;
        json_t *entry = json_object(), *enc = json_object();

        ps_buf_init(&pem, PS_WECHAT_CERT_FILE_BYTES_MAX);
        ps_buf_init(&ct, 2 * PS_WECHAT_CERT_FILE_BYTES_MAX);
        random_text(nonce, PS_WECHAT_AEAD_NONCE_BYTES);
        sim_wechat_pem_cert(cert, &pem);
        sim_wechat_encrypt(srv->apiv3_key, nonce, "certificate", pem.data, pem.len, &ct, NULL, 0);
        beijing_time(cert_time_s(X509_get0_notBefore(cert)), t1, sizeof(t1));
        beijing_time(cert_time_s(X509_get0_notAfter(cert)), t2, sizeof(t2));
        json_object_set_new(entry, "serial_no", json_string(hex ? hex : ""));
        json_object_set_new(entry, "effective_time", json_string(t1));
        json_object_set_new(entry, "expire_time", json_string(t2));
        json_object_set_new(enc, "algorithm", json_string("AEAD_AES_256_GCM"));
        json_object_set_new(enc, "associated_data", json_string("certificate"));
        json_object_set_new(enc, "ciphertext", json_string(ct.data ? (char *)ct.data : ""));
        json_object_set_new(enc, "nonce", json_string(nonce));
        json_object_set_new(entry, "encrypt_certificate", enc);
        json_array_append_new(data, entry);
        ps_buf_deinit(&ct);
        ps_buf_deinit(&pem);
        OPENSSL_free(hex);
        BN_free(bn);
    }
    pthread_mutex_unlock(&srv->lock);
    json_object_set_new(root, "data", data);
    text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return text;
}

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, const char *body,
                              sim_wechat_cert_server_t *srv)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body,
                                                             MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;

    MHD_add_response_header(r, "Content-Type", "application/json");
    if (srv != NULL) {
        char ts[32], nonce[SIM_NONCE_CHARS + 1];
        ps_buf_t sig;

        snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
        random_text(nonce, SIM_NONCE_CHARS);
        ps_buf_init(&sig, PS_WECHAT_SIGNATURE_B64_BYTES_MAX);
        sign_message(srv->sign_key, ts, nonce, body, strlen(body), &sig);
        if (atomic_load(&srv->corrupt) && sig.len > 10)
            sig.data[10] = sig.data[10] == 'A' ? 'B' : 'A';
        MHD_add_response_header(r, "Wechatpay-Timestamp", ts);
        MHD_add_response_header(r, "Wechatpay-Nonce", nonce);
        MHD_add_response_header(r, "Wechatpay-Signature", sig.data ? (char *)sig.data : "");
        MHD_add_response_header(r, "Wechatpay-Serial", srv->serial);
        ps_buf_deinit(&sig);
    }
    ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    sim_wechat_cert_server_t *srv = cls;
    const char *auth;
    char *body;
    enum MHD_Result ret;

    if (strcmp(method, "GET") != 0 || strcmp(url, "/v3/certificates") != 0)
        return answer(conn, MHD_HTTP_NOT_FOUND, "{\"code\":\"NOT_FOUND\"}", NULL);
    atomic_fetch_add(&srv->requests, 1);
    auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (!auth_ok(srv, auth, url)) {
        atomic_fetch_add(&srv->auth_failures, 1);
        return answer(conn, MHD_HTTP_UNAUTHORIZED, "{\"code\":\"SIGN_ERROR\"}", NULL);
    }
    body = render_certs(srv);
    if (body == NULL)
        return MHD_NO;
    ret = answer(conn, MHD_HTTP_OK, body, srv);
    free(body); /* jansson's malloc */
    return ret;
}

void sim_wechat_cert_server_set_certs(sim_wechat_cert_server_t *srv, X509 *const *certs,
                                      size_t cert_count)
{
    PS_ASSERT(cert_count <= SIM_CERTS_MAX);
    pthread_mutex_lock(&srv->lock);
    for (size_t i = 0; i < srv->cert_count; i++)
        X509_free(srv->certs[i]);
    for (size_t i = 0; i < cert_count; i++) {
        X509_up_ref(certs[i]);
        srv->certs[i] = certs[i];
    }
    srv->cert_count = cert_count;
    pthread_mutex_unlock(&srv->lock);
}

ps_err_t sim_wechat_cert_server_start(const sim_wechat_cert_server_config_t *cfg,
                                      X509 *const *certs, size_t cert_count,
                                      sim_wechat_cert_server_t **out, char *errstr,
                                      size_t errstr_size)
{
    sim_wechat_cert_server_t *srv = ps_calloc(1, sizeof(*srv));
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    const union MHD_DaemonInfo *info;

    PS_ASSERT(cfg->sign_key != NULL && cfg->sign_serial != NULL && cfg->apiv3_key != NULL);
    pthread_mutex_init(&srv->lock, NULL);
    memcpy(srv->apiv3_key, cfg->apiv3_key, sizeof(srv->apiv3_key));
    EVP_PKEY_up_ref(cfg->sign_key);
    srv->sign_key = cfg->sign_key;
    if (cfg->merchant_public_key != NULL) {
        EVP_PKEY_up_ref(cfg->merchant_public_key);
        srv->merchant_key = cfg->merchant_public_key;
    }
    snprintf(srv->serial, sizeof(srv->serial), "%s", cfg->sign_serial);
    snprintf(srv->mch_id, sizeof(srv->mch_id), "%s", cfg->mch_id ? cfg->mch_id : "");
    sim_wechat_cert_server_set_certs(srv, certs, cert_count);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    srv->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_request, srv,
                                   MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                                   MHD_OPTION_END);
    info = srv->daemon ? MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    if (info == NULL || info->port == 0) {
        sim_wechat_cert_server_stop(srv);
        return ps_errstr_set(errstr, errstr_size, PS_ERR_IO,
                             "could not start the simulated /v3/certificates server");
    }
    srv->port = info->port;
    *out = srv;
    return PS_OK;
}

void sim_wechat_cert_server_set_corrupt(sim_wechat_cert_server_t *srv, bool corrupt)
{
    atomic_store(&srv->corrupt, corrupt);
}

void sim_wechat_cert_server_url(const sim_wechat_cert_server_t *srv, char *out, size_t out_size)
{
    snprintf(out, out_size, "http://127.0.0.1:%u/v3/certificates", (unsigned)srv->port);
}

unsigned sim_wechat_cert_server_requests(const sim_wechat_cert_server_t *srv)
{
    return atomic_load(&srv->requests);
}

unsigned sim_wechat_cert_server_auth_failures(const sim_wechat_cert_server_t *srv)
{
    return atomic_load(&srv->auth_failures);
}

void sim_wechat_cert_server_stop(sim_wechat_cert_server_t *srv)
{
    if (srv == NULL)
        return;
    if (srv->daemon != NULL)
        MHD_stop_daemon(srv->daemon);
    sim_wechat_cert_server_set_certs(srv, NULL, 0);
    EVP_PKEY_free(srv->sign_key);
    EVP_PKEY_free(srv->merchant_key);
    pthread_mutex_destroy(&srv->lock);
    ps_free(srv);
}
