/*
 * The Alipay side of the channel simulator: test keys and channel-faithful
 * signed trade notifications (payments, partial and full refunds, closes,
 * WAIT_BUYER_PAY) as raw requests, in utf-8 or GBK, plus forgeries (tampered
 * amount, wrong app_id, wrong key), for tests, the demo and the benchmark.
 *
 * The bodies follow reference/channels.md section 2 and the synthetic
 * conformance vectors A1-A3: form-urlencoded, values encoded in the declared
 * charset, passback_params URL-encoded by the "merchant" and then encoded
 * again by the form, signed RSA2 under rule V1. Keys here play Alipay: the
 * verifier under test is configured with their public half.
 *
 * Not thread-safe for one keys object while it is being generated or loaded;
 * building requests only reads it.
 */
#ifndef PAYSTREAM_SIM_ALIPAY_H
#define PAYSTREAM_SIM_ALIPAY_H

#include "charset.h"
#include "sim.h"

#include <openssl/evp.h>
#include <paystream/buf.h>
#include <paystream/err.h>
#include <stdint.h>

typedef struct sim_alipay_keys {
    EVP_PKEY *alipay_key; /* owned; signs genuine notifications */
    EVP_PKEY *rogue_key;  /* owned; an unrelated RSA-2048 key for WRONG_KEY forgeries */
} sim_alipay_keys_t;

/* Fresh RSA-2048 keys (alipay and rogue). PS_ERR_CRYPTO on OpenSSL failure. */
ps_err_t sim_alipay_keys_generate(sim_alipay_keys_t *keys, char *errstr, size_t errstr_size);
/*
 * Loads the signing key from a PEM private key file (borrowed path; e.g. the
 * conformance test key alipay/test_app-private-key.pem) and generates the
 * rogue key. PS_ERR_IO / PS_ERR_CRYPTO with the path in errstr.
 */
ps_err_t sim_alipay_keys_load(sim_alipay_keys_t *keys, const char *private_pem_path,
                              char *errstr, size_t errstr_size);
/* Writes the signing key's public half as PEM to path, for alipay.public_key_file. */
ps_err_t sim_alipay_keys_write_public(const sim_alipay_keys_t *keys, const char *path,
                                      char *errstr, size_t errstr_size);
/* Frees both keys and zeroes the struct. Accepts NULL and a zeroed struct. */
void sim_alipay_keys_deinit(sim_alipay_keys_t *keys);

typedef enum sim_alipay_event {
    SIM_ALIPAY_PAYMENT = 0,        /* TRADE_SUCCESS */
    SIM_ALIPAY_FINISHED = 1,       /* TRADE_FINISHED (refund window over) */
    SIM_ALIPAY_PARTIAL_REFUND = 2, /* TRADE_SUCCESS + refund_fee, gmt_refund, out_biz_no */
    SIM_ALIPAY_FULL_REFUND = 3,    /* TRADE_CLOSED + refund_fee, gmt_refund, gmt_close, ... */
    SIM_ALIPAY_CLOSED = 4,         /* TRADE_CLOSED without payment (timeout) */
    SIM_ALIPAY_WAIT_BUYER_PAY = 5  /* created, not paid */
} sim_alipay_event_t;

typedef enum sim_alipay_forgery {
    SIM_ALIPAY_GENUINE = 0,
    SIM_ALIPAY_TAMPER_AMOUNT = 1, /* total_amount changed to 0.01 after signing */
    SIM_ALIPAY_WRONG_APP_ID = 2,  /* genuinely signed, but for app_id 2021000000009999 */
    SIM_ALIPAY_WRONG_KEY = 3      /* signed with the rogue key */
} sim_alipay_forgery_t;

/* Every string is borrowed for the build call; UTF-8 text. */
typedef struct sim_alipay_params {
    sim_alipay_event_t event;
    sim_alipay_forgery_t forgery;
    ingest_charset_t charset; /* utf-8 or gbk: how values are encoded and declared */
    const char *app_id;
    const char *seller_id;
    const char *notify_id;
    const char *out_trade_no;
    const char *trade_no;
    const char *out_biz_no;     /* refund request number (refund events) */
    const char *subject;
    const char *account;        /* player_id inside passback_params; NULL: none */
    int64_t total_minor;        /* fen */
    int64_t refund_total_minor; /* cumulative refunded fen (refund events; 0 = total) */
    int64_t notify_time_s;      /* Unix seconds; written as Shanghai civil time */
    int64_t paid_time_s;
    int64_t refund_time_ms;
} sim_alipay_params_t;

/*
 * Defaults modelled on conformance vector A1: app_id 2021000000000001, seller
 * 2088000000000001, order G20231115061320002, trade 2023111522001400000000000001,
 * 6.48 CNY, subject "648钻石", account "10086", notify at 1700000000 (2023-11-15
 * 06:13:20 in Shanghai), paid one second earlier, utf-8, genuine payment.
 */
void sim_alipay_params_default(sim_alipay_params_t *p);

/*
 * Builds a signed notification as a raw request (POST /v1/notify/alipay,
 * Content-Type with the charset, form body) into out (initialized by the
 * caller with sim_request_init; headers and body appended). keys and p are
 * borrowed. PS_ERR_INVALID for impossible parameters (non-positive amounts,
 * text the charset cannot hold), PS_ERR_CRYPTO on a signing failure.
 */
ps_err_t sim_alipay_build(const sim_alipay_keys_t *keys, const sim_alipay_params_t *p,
                          sim_request_t *out, char *errstr, size_t errstr_size);

/* One form parameter for sim_alipay_sign_pairs (UTF-8 key and value, borrowed). */
typedef struct sim_alipay_kv {
    const char *key;
    const char *value;
} sim_alipay_kv_t;

/*
 * Low-level builder for hostile tests: appends to body the form of pairs, in
 * the given order, values converted to cs and form-encoded, plus
 * sign_type=RSA2 (unless among the pairs) and a `sign` computed with key
 * (borrowed) under rule V1 over exactly those pairs. Duplicate keys are
 * refused (PS_ERR_INVALID) since they cannot be signed unambiguously.
 */
ps_err_t sim_alipay_sign_pairs(EVP_PKEY *key, const sim_alipay_kv_t *pairs, size_t n,
                               ingest_charset_t cs, ps_buf_t *body, char *errstr,
                               size_t errstr_size);

#endif
