/*
 * WeChat Pay v3 simulator: the inverse of ingest/wechat.c. It generates test
 * keys and self-signed platform certificates with chosen serials, encrypts
 * resources with an APIv3 key (AEAD_AES_256_GCM), builds signed callbacks
 * (TRANSACTION.SUCCESS, REFUND.SUCCESS/ABNORMAL/CLOSED) as raw requests,
 * forges bad ones (tampered body, signature probe; a wrong key or a stale
 * timestamp come from the keys and parameters), and serves GET
 * /v3/certificates from a local libmicrohttpd server for refresh tests.
 *
 * Test keys only: nothing here is meant to touch real WeChat traffic.
 */
#ifndef PAYSTREAM_SIM_WECHAT_H
#define PAYSTREAM_SIM_WECHAT_H

#include "sim.h"

#include <paystream/buf.h>
#include <paystream/err.h>
#include <paystream/limits.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdint.h>

/* Who signs a simulated callback, and the merchant's APIv3 key. */
typedef struct sim_wechat_keys {
    EVP_PKEY *sign_key; /* borrowed: platform private key (or public-key-mode key) */
    const char *serial; /* borrowed: Wechatpay-Serial (certificate serial or PUB_KEY_ID_...) */
    uint8_t apiv3_key[PS_WECHAT_APIV3_KEY_BYTES];
} sim_wechat_keys_t;

typedef enum sim_wechat_event {
    SIM_WECHAT_TRANSACTION_SUCCESS = 0,
    SIM_WECHAT_REFUND_SUCCESS = 1,
    SIM_WECHAT_REFUND_ABNORMAL = 2,
    SIM_WECHAT_REFUND_CLOSED = 3
} sim_wechat_event_t;

/* Callback parameters; strings borrowed for the call. */
typedef struct sim_wechat_params {
    sim_wechat_event_t event;
    const char *event_id;       /* envelope id (required) */
    const char *mch_id;         /* required */
    const char *appid;          /* payments; NULL: "wxd678efh567hg6787" */
    const char *out_trade_no;   /* required */
    const char *transaction_id; /* required */
    int64_t amount_total;       /* order amount, fen */
    const char *currency;       /* payments; NULL: "CNY" (refunds carry none, like WeChat) */
    const char *account_id;     /* payments: attach "player_id=<form-encoded>&server=s1";
                                   NULL: no attach */
    int64_t event_time_s;       /* envelope create_time and success_time (+08:00) */
    const char *out_refund_no;  /* refunds */
    const char *refund_id;      /* refunds */
    int64_t refund_amount;      /* refunds: amount.refund, fen */
    int64_t timestamp_s;        /* Wechatpay-Timestamp */
    const char *nonce;          /* Wechatpay-Nonce; NULL: 32 random characters */
    const char *aead_nonce;     /* 12 characters; NULL: random */
} sim_wechat_params_t;

/*
 * Builds a signed, encrypted callback into out (initialized by the caller;
 * method POST, path /v1/notify/wechat, Content-Type and the five Wechatpay-*
 * headers, body). PS_ERR_INVALID for missing parameters, PS_ERR_CRYPTO when
 * signing fails.
 */
ps_err_t sim_wechat_build(const sim_wechat_keys_t *keys, const sim_wechat_params_t *p,
                          sim_request_t *out, char *errstr, size_t errstr_size);
/* The decrypted resource sim_wechat_build would encrypt, appended to out. */
ps_err_t sim_wechat_plaintext(const sim_wechat_params_t *p, ps_buf_t *out, char *errstr,
                              size_t errstr_size);
/*
 * Builds the envelope around any plaintext (for malformed-resource tests):
 * encrypts it under aad with keys->apiv3_key and writes the body to out's
 * body, then signs it like sim_wechat_build. event_type and id borrowed.
 */
ps_err_t sim_wechat_build_raw(const sim_wechat_keys_t *keys, const char *event_type,
                              const char *id, const char *aad, const char *plaintext,
                              int64_t create_time_s, int64_t timestamp_s, sim_request_t *out,
                              char *errstr, size_t errstr_size);
/* (Re)signs out's current body: sets Wechatpay-Timestamp/Nonce/Signature/
 * Serial/Signature-Type (nonce NULL: random). */
ps_err_t sim_wechat_sign(const sim_wechat_keys_t *keys, int64_t timestamp_s, const char *nonce,
                         sim_request_t *out, char *errstr, size_t errstr_size);
/* Appends base64(AES-256-GCM(plaintext)||tag) to out_b64. nonce: 12 bytes. */
ps_err_t sim_wechat_encrypt(const uint8_t *apiv3_key, const char *nonce, const char *aad,
                            const uint8_t *plaintext, size_t len, ps_buf_t *out_b64,
                            char *errstr, size_t errstr_size);

typedef enum sim_wechat_forgery {
    SIM_WECHAT_FORGE_TAMPER_BODY = 0, /* one body byte changed after signing */
    SIM_WECHAT_FORGE_SIGNTEST = 1     /* WeChat's "WECHATPAY/SIGNTEST/" probe signature */
} sim_wechat_forgery_t;
/* Turns a signed request into a forgery of the given kind. */
ps_err_t sim_wechat_forge(sim_request_t *req, sim_wechat_forgery_t kind);

/* A fresh RSA-2048 key pair (owned: EVP_PKEY_free). */
ps_err_t sim_wechat_key_generate(EVP_PKEY **out, char *errstr, size_t errstr_size);
/* A self-signed certificate for key (borrowed) with serial serial_hex
 * (upper-case hex) valid [not_before_s, not_after_s]. Owned: X509_free. */
ps_err_t sim_wechat_cert_generate(EVP_PKEY *key, const char *serial_hex, int64_t not_before_s,
                                  int64_t not_after_s, X509 **out, char *errstr,
                                  size_t errstr_size);
/* PEM writers, appending to out. */
ps_err_t sim_wechat_pem_cert(X509 *cert, ps_buf_t *out);
ps_err_t sim_wechat_pem_public_key(EVP_PKEY *key, ps_buf_t *out);
ps_err_t sim_wechat_pem_private_key(EVP_PKEY *key, ps_buf_t *out);
/* Reads a PEM private key file (owned result). */
ps_err_t sim_wechat_load_private_key(const char *path, EVP_PKEY **out, char *errstr,
                                     size_t errstr_size);

/* ---- GET /v3/certificates on 127.0.0.1 ---------------------------------- */

typedef struct sim_wechat_cert_server sim_wechat_cert_server_t;

typedef struct sim_wechat_cert_server_config {
    const uint8_t *apiv3_key;       /* encrypts the certificates (32 bytes, copied) */
    EVP_PKEY *sign_key;             /* signs responses; kept by reference */
    const char *sign_serial;        /* Wechatpay-Serial of responses (copied) */
    EVP_PKEY *merchant_public_key;  /* checks the Authorization signature; NULL: not checked */
    const char *mch_id;             /* expected Authorization mchid; NULL: not checked */
} sim_wechat_cert_server_config_t;

/*
 * Starts a server on 127.0.0.1 with an ephemeral port serving certs
 * (references taken) at /v3/certificates: 200 with the encrypted
 * certificates and a signed response, or 401 when the Authorization header's
 * signature does not verify. *out owned (sim_wechat_cert_server_stop).
 */
ps_err_t sim_wechat_cert_server_start(const sim_wechat_cert_server_config_t *cfg,
                                      X509 *const *certs, size_t cert_count,
                                      sim_wechat_cert_server_t **out, char *errstr,
                                      size_t errstr_size);
/* Replaces the served certificates (rotation). Thread-safe. */
void sim_wechat_cert_server_set_certs(sim_wechat_cert_server_t *srv, X509 *const *certs,
                                      size_t cert_count);
/* Makes later responses carry a wrong signature (or a right one again). */
void sim_wechat_cert_server_set_corrupt(sim_wechat_cert_server_t *srv, bool corrupt);
/* "http://127.0.0.1:PORT/v3/certificates" into out. */
void sim_wechat_cert_server_url(const sim_wechat_cert_server_t *srv, char *out, size_t out_size);
/* Requests received, and how many had a bad Authorization. Thread-safe. */
unsigned sim_wechat_cert_server_requests(const sim_wechat_cert_server_t *srv);
unsigned sim_wechat_cert_server_auth_failures(const sim_wechat_cert_server_t *srv);
/* Stops the server and frees it. Accepts NULL. */
void sim_wechat_cert_server_stop(sim_wechat_cert_server_t *srv);

#endif
