/*
 * Alipay simulator (see sim_alipay.h): builds notification bodies the way
 * Alipay posts them and signs them with a test key under rule V1.
 *
 * The string to sign is produced by the verifier's own ingest_alipay_sign_content
 * over the form as the verifier will parse it, so the simulator cannot drift
 * from the parser; the conformance vectors (A1-A3 sign_content files) pin
 * that function to the SDKs' byte strings independently.
 */
#include "sim_alipay.h"

#include "alipay.h"
#include "form.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <paystream/assert.h>
#include <paystream/base64.h>
#include <paystream/money.h>
#include <paystream/timeparse.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Parameters in one simulated notification (the richest has about 30). */
#define SIM_ALIPAY_PAIRS_MAX 40
#define SIM_ALIPAY_RSA_BITS 2048
#define SIM_ALIPAY_FORGED_APP_ID "2021000000009999"
#define SIM_ALIPAY_TAMPERED_AMOUNT "0.01"
/* Asia/Shanghai civil time is UTC+8 all year. */
#define SIM_ALIPAY_UTC_OFFSET_US (8LL * 3600 * 1000000)

static const char *ssl_reason(char *buf, size_t size)
{
    unsigned long e = ERR_peek_last_error();

    if (e == 0)
        snprintf(buf, size, "no OpenSSL reason");
    else
        ERR_error_string_n(e, buf, size);
    ERR_clear_error();
    return buf;
}

ps_err_t sim_alipay_keys_generate(sim_alipay_keys_t *keys, char *errstr, size_t errstr_size)
{
    char why[256];

    PS_ASSERT(keys != NULL);
    memset(keys, 0, sizeof(*keys));
    keys->alipay_key = EVP_RSA_gen(SIM_ALIPAY_RSA_BITS);
    keys->rogue_key = EVP_RSA_gen(SIM_ALIPAY_RSA_BITS);
    if (keys->alipay_key == NULL || keys->rogue_key == NULL) {
        sim_alipay_keys_deinit(keys);
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO,
                             "could not generate RSA-%d test keys: %s", SIM_ALIPAY_RSA_BITS,
                             ssl_reason(why, sizeof(why)));
    }
    return PS_OK;
}

ps_err_t sim_alipay_keys_load(sim_alipay_keys_t *keys, const char *private_pem_path,
                              char *errstr, size_t errstr_size)
{
    char why[256];
    BIO *bio;

    PS_ASSERT(keys != NULL && private_pem_path != NULL);
    memset(keys, 0, sizeof(*keys));
    bio = BIO_new_file(private_pem_path, "rb");
    if (bio == NULL)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_IO,
                             "could not open alipay test private key \"%s\": %s",
                             private_pem_path, ssl_reason(why, sizeof(why)));
    keys->alipay_key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (keys->alipay_key == NULL)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO,
                             "could not read alipay test private key \"%s\": %s",
                             private_pem_path, ssl_reason(why, sizeof(why)));
    keys->rogue_key = EVP_RSA_gen(SIM_ALIPAY_RSA_BITS);
    if (keys->rogue_key == NULL) {
        sim_alipay_keys_deinit(keys);
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO,
                             "could not generate the rogue test key: %s",
                             ssl_reason(why, sizeof(why)));
    }
    return PS_OK;
}

ps_err_t sim_alipay_keys_write_public(const sim_alipay_keys_t *keys, const char *path,
                                      char *errstr, size_t errstr_size)
{
    char why[256];
    BIO *bio;
    int ok;

    PS_ASSERT(keys != NULL && keys->alipay_key != NULL && path != NULL);
    bio = BIO_new_file(path, "wb");
    if (bio == NULL)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_IO, "could not create \"%s\": %s", path,
                             ssl_reason(why, sizeof(why)));
    ok = PEM_write_bio_PUBKEY(bio, keys->alipay_key);
    BIO_free(bio);
    if (ok != 1)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_IO, "could not write \"%s\": %s", path,
                             ssl_reason(why, sizeof(why)));
    return PS_OK;
}

void sim_alipay_keys_deinit(sim_alipay_keys_t *keys)
{
    if (keys == NULL)
        return;
    EVP_PKEY_free(keys->alipay_key);
    EVP_PKEY_free(keys->rogue_key);
    memset(keys, 0, sizeof(*keys));
}

void sim_alipay_params_default(sim_alipay_params_t *p)
{
    PS_ASSERT(p != NULL);
    memset(p, 0, sizeof(*p));
    p->event = SIM_ALIPAY_PAYMENT;
    p->forgery = SIM_ALIPAY_GENUINE;
    p->charset = INGEST_CHARSET_UTF8;
    p->app_id = "2021000000000001";
    p->seller_id = "2088000000000001";
    p->notify_id = "2023111500222061320000000000000001";
    p->out_trade_no = "G20231115061320002";
    p->trade_no = "2023111522001400000000000001";
    p->out_biz_no = "R20231116000002";
    p->subject = "648\xe9\x92\xbb\xe7\x9f\xb3"; /* "648钻石" */
    p->account = "10086";
    p->total_minor = 648;
    p->notify_time_s = 1700000000;
    p->paid_time_s = 1700000000 - 1;
    p->refund_time_ms = 1700100005123;
}

/* Appends enc(convert(text)) to out: the value as it travels in the form. */
static ps_err_t append_encoded(ingest_charset_t cs, const char *text, ps_buf_t *out,
                               char *errstr, size_t errstr_size)
{
    ps_buf_t conv;
    ps_err_t err;

    ps_buf_init(&conv, SIM_BODY_BYTES_MAX);
    err = ingest_charset_from_utf8(cs, text, strlen(text), &conv, errstr, errstr_size);
    if (err == PS_OK && ingest_form_encode_component((const char *)conv.data, conv.len, out) !=
                            PS_OK)
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE, "simulated body too large");
    ps_buf_deinit(&conv);
    return err;
}

/* The form text of pairs (and sign_type=RSA2 unless given), without sign. */
static ps_err_t emit_pairs(const sim_alipay_kv_t *pairs, size_t n, ingest_charset_t cs,
                           ps_buf_t *out, char *errstr, size_t errstr_size)
{
    bool has_type = false;
    ps_err_t err = PS_OK;

    for (size_t i = 0; i < n && err == PS_OK; i++) {
        has_type |= strcmp(pairs[i].key, "sign_type") == 0;
        if (i > 0)
            err = ps_buf_append(out, "&", 1);
        if (err == PS_OK)
            err = append_encoded(cs, pairs[i].key, out, errstr, errstr_size);
        if (err == PS_OK)
            err = ps_buf_append(out, "=", 1);
        if (err == PS_OK)
            err = append_encoded(cs, pairs[i].value, out, errstr, errstr_size);
    }
    if (err == PS_OK && !has_type)
        err = ps_buf_append_str(out, n > 0 ? "&sign_type=RSA2" : "sign_type=RSA2");
    return err;
}

/* RSA2 signature (standard base64) of the rule-V1 string of pairs. */
static ps_err_t sign_pairs_b64(EVP_PKEY *key, const sim_alipay_kv_t *pairs, size_t n,
                               ingest_charset_t cs, ps_buf_t *b64, char *errstr,
                               size_t errstr_size)
{
    ps_buf_t text, content;
    ingest_form_t form;
    unsigned char sig[1024];
    size_t sig_len = sizeof(sig);
    EVP_MD_CTX *ctx = NULL;
    char why[256];
    ps_err_t err;

    ps_buf_init(&text, SIM_BODY_BYTES_MAX);
    ps_buf_init(&content, SIM_BODY_BYTES_MAX);
    ingest_form_init(&form);
    err = emit_pairs(pairs, n, cs, &text, errstr, errstr_size);
    if (err == PS_OK)
        err = ingest_form_parse((const char *)text.data, text.len, &form, errstr, errstr_size);
    if (err == PS_OK)
        err = ingest_alipay_sign_content(&form, INGEST_ALIPAY_RULE_V1, false, &content);
    if (err != PS_OK)
        goto out;
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(ctx, sig, &sig_len, content.data, content.len) != 1) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO, "could not sign: %s",
                            ssl_reason(why, sizeof(why)));
        goto out;
    }
    err = ps_base64_encode(sig, sig_len, PS_BASE64_STD, b64);
out:
    EVP_MD_CTX_free(ctx);
    ingest_form_deinit(&form);
    ps_buf_deinit(&content);
    ps_buf_deinit(&text);
    return err;
}

/* Body = pairs + "&sign=" + the (already computed) signature. */
static ps_err_t emit_signed(const sim_alipay_kv_t *pairs, size_t n, ingest_charset_t cs,
                            const ps_buf_t *b64, ps_buf_t *body, char *errstr,
                            size_t errstr_size)
{
    ps_err_t err = emit_pairs(pairs, n, cs, body, errstr, errstr_size);

    if (err == PS_OK)
        err = ps_buf_append_str(body, "&sign=");
    if (err == PS_OK)
        err = ingest_form_encode_component((const char *)b64->data, b64->len, body);
    return err;
}

ps_err_t sim_alipay_sign_pairs(EVP_PKEY *key, const sim_alipay_kv_t *pairs, size_t n,
                               ingest_charset_t cs, ps_buf_t *body, char *errstr,
                               size_t errstr_size)
{
    ps_buf_t b64;
    ps_err_t err;

    PS_ASSERT(key != NULL && (pairs != NULL || n == 0) && body != NULL);
    ps_buf_init(&b64, 4096);
    err = sign_pairs_b64(key, pairs, n, cs, &b64, errstr, errstr_size);
    if (err == PS_OK)
        err = emit_signed(pairs, n, cs, &b64, body, errstr, errstr_size);
    ps_buf_deinit(&b64);
    return err;
}

/* Shanghai civil time "YYYY-MM-DD HH:MM:SS[.mmm]" of a UTC instant. */
static void shanghai_time(int64_t us, bool with_ms, char *out, size_t size)
{
    char utc[40]; /* "YYYY-MM-DDTHH:MM:SS.ffffffZ" */

    ps_time_format_utc(us + SIM_ALIPAY_UTC_OFFSET_US, utc, sizeof(utc));
    snprintf(out, size, "%.10s %.8s%s%.*s", utc, utc + 11, with_ms ? "." : "", with_ms ? 3 : 0,
             utc + 20);
}

/* Text storage for one build: every pair value points into it. */
typedef struct sim_texts {
    char total[PS_MONEY_DECIMAL_BYTES_MAX], refund[PS_MONEY_DECIMAL_BYTES_MAX];
    char notify_time[32], paid_time[32], create_time[32], refund_time[32], close_time[32];
    ps_buf_t passback;
} sim_texts_t;

/* passback_params as the merchant set it: "player_id=<enc(acct)>&server=s1", encoded once. */
static ps_err_t make_passback(const sim_alipay_params_t *p, sim_texts_t *t, char *errstr,
                              size_t errstr_size)
{
    ps_buf_t inner;
    ps_err_t err;

    ps_buf_init(&inner, SIM_BODY_BYTES_MAX);
    err = ps_buf_append_str(&inner, "player_id=");
    if (err == PS_OK)
        err = append_encoded(p->charset, p->account, &inner, errstr, errstr_size);
    if (err == PS_OK)
        err = ps_buf_append_str(&inner, "&server=s1");
    /* The merchant encodes the whole value once; the form encodes it again. */
    if (err == PS_OK)
        err = ingest_form_encode_component((const char *)inner.data, inner.len, &t->passback);
    ps_buf_deinit(&inner);
    return err;
}

static ps_err_t make_texts(const sim_alipay_params_t *p, sim_texts_t *t, char *errstr,
                           size_t errstr_size)
{
    int64_t refund = p->refund_total_minor > 0 ? p->refund_total_minor : p->total_minor;

    if (p->total_minor <= 0 || p->refund_total_minor < 0)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "simulated amounts must be positive");
    if (ps_money_format(p->total_minor, "CNY", t->total, sizeof(t->total)) != PS_OK ||
        ps_money_format(refund, "CNY", t->refund, sizeof(t->refund)) != PS_OK)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID, "could not format amounts");
    shanghai_time(p->notify_time_s * 1000000, false, t->notify_time, sizeof(t->notify_time));
    shanghai_time(p->paid_time_s * 1000000, false, t->paid_time, sizeof(t->paid_time));
    shanghai_time((p->paid_time_s - 9) * 1000000, false, t->create_time, sizeof(t->create_time));
    shanghai_time(p->refund_time_ms * 1000, true, t->refund_time, sizeof(t->refund_time));
    shanghai_time(p->refund_time_ms / 1000 * 1000000, false, t->close_time,
                  sizeof(t->close_time));
    if (p->account == NULL)
        return PS_OK;
    return make_passback(p, t, errstr, errstr_size);
}

static const char *trade_status_of(sim_alipay_event_t event)
{
    switch (event) {
    case SIM_ALIPAY_PAYMENT:
    case SIM_ALIPAY_PARTIAL_REFUND:
        return "TRADE_SUCCESS";
    case SIM_ALIPAY_FINISHED:
        return "TRADE_FINISHED";
    case SIM_ALIPAY_FULL_REFUND:
    case SIM_ALIPAY_CLOSED:
        return "TRADE_CLOSED";
    case SIM_ALIPAY_WAIT_BUYER_PAY:
        return "WAIT_BUYER_PAY";
    }
    return "TRADE_SUCCESS";
}

#define ADD(k, v) (pairs[n].key = (k), pairs[n].value = (v), n++)

/* The parameters of one notification, in the order Alipay posts them (A1). */
static size_t fill_pairs(const sim_alipay_params_t *p, const sim_texts_t *t, const char *app_id,
                         sim_alipay_kv_t *pairs)
{
    bool paid = p->event != SIM_ALIPAY_CLOSED && p->event != SIM_ALIPAY_WAIT_BUYER_PAY;
    bool refund = p->event == SIM_ALIPAY_PARTIAL_REFUND || p->event == SIM_ALIPAY_FULL_REFUND;
    size_t n = 0;

    ADD("notify_type", "trade_status_sync");
    ADD("charset", ingest_charset_name(p->charset));
    ADD("version", "1.0");
    ADD("sign_type", "RSA2");
    ADD("app_id", app_id);
    ADD("auth_app_id", app_id);
    ADD("seller_id", p->seller_id);
    ADD("buyer_id", "2088102000000002");
    ADD("buyer_logon_id", "abc***@example.com");
    ADD("subject", p->subject);
    ADD("out_trade_no", p->out_trade_no);
    ADD("trade_no", p->trade_no);
    ADD("total_amount", t->total);
    ADD("gmt_create", t->create_time);
    ADD("notify_time", t->notify_time);
    ADD("notify_id", p->notify_id);
    ADD("trade_status", trade_status_of(p->event));
    if (paid) {
        ADD("receipt_amount", t->total);
        ADD("invoice_amount", t->total);
        ADD("buyer_pay_amount", t->total);
        ADD("point_amount", "0.00");
        ADD("gmt_payment", t->paid_time);
    }
    if (refund) {
        ADD("refund_fee", t->refund);
        ADD("gmt_refund", t->refund_time);
    }
    if (p->event == SIM_ALIPAY_FULL_REFUND || p->event == SIM_ALIPAY_CLOSED)
        ADD("gmt_close", t->close_time);
    if (refund)
        ADD("out_biz_no", p->out_biz_no);
    if (p->account != NULL)
        ADD("passback_params", (const char *)t->passback.data);
    PS_ASSERT(n <= SIM_ALIPAY_PAIRS_MAX);
    return n;
}

#undef ADD

/* Signs pairs with key; a TAMPER forgery changes total_amount after signing. */
static ps_err_t sign_and_emit(const sim_alipay_params_t *p, EVP_PKEY *key,
                              sim_alipay_kv_t *pairs, size_t n, ps_buf_t *body, char *errstr,
                              size_t errstr_size)
{
    ps_buf_t b64;
    ps_err_t err;

    ps_buf_init(&b64, 4096);
    err = sign_pairs_b64(key, pairs, n, p->charset, &b64, errstr, errstr_size);
    for (size_t i = 0; err == PS_OK && p->forgery == SIM_ALIPAY_TAMPER_AMOUNT && i < n; i++) {
        if (strcmp(pairs[i].key, "total_amount") == 0)
            pairs[i].value = SIM_ALIPAY_TAMPERED_AMOUNT;
    }
    if (err == PS_OK)
        err = emit_signed(pairs, n, p->charset, &b64, body, errstr, errstr_size);
    ps_buf_deinit(&b64);
    return err;
}

ps_err_t sim_alipay_build(const sim_alipay_keys_t *keys, const sim_alipay_params_t *p,
                          sim_request_t *out, char *errstr, size_t errstr_size)
{
    sim_alipay_kv_t pairs[SIM_ALIPAY_PAIRS_MAX];
    sim_texts_t t;
    EVP_PKEY *key = p->forgery == SIM_ALIPAY_WRONG_KEY ? keys->rogue_key : keys->alipay_key;
    const char *app_id = p->forgery == SIM_ALIPAY_WRONG_APP_ID ? SIM_ALIPAY_FORGED_APP_ID
                                                              : p->app_id;
    char content_type[80];
    ps_err_t err;

    PS_ASSERT(keys != NULL && p != NULL && out != NULL && key != NULL);
    memset(&t, 0, sizeof(t));
    ps_buf_init(&t.passback, SIM_BODY_BYTES_MAX);
    err = make_texts(p, &t, errstr, errstr_size);
    if (err == PS_OK)
        err = sign_and_emit(p, key, pairs, fill_pairs(p, &t, app_id, pairs), &out->body, errstr,
                            errstr_size);
    if (err != PS_OK)
        goto out;
    snprintf(out->path, sizeof(out->path), "/v1/notify/alipay");
    snprintf(content_type, sizeof(content_type), "application/x-www-form-urlencoded; charset=%s",
             ingest_charset_name(p->charset));
    if (sim_request_add_header(out, "Content-Type", content_type) != PS_OK)
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE, "too many headers");
out:
    ps_buf_deinit(&t.passback);
    return err;
}
