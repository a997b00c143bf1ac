/*
 * Apple App Store Server Notifications V2 simulator: a generated test CA
 * chain and signed notifications built from parameters, for the tests, the
 * demo and the benchmark.
 *
 * sim_apple_keys_generate makes a fresh P-256 chain shaped like Apple's: a
 * self-signed root, an intermediate carrying 1.2.840.113635.100.6.2.1 and a
 * leaf carrying 1.2.840.113635.100.6.11.1, with the key identifiers and
 * critical basic constraints that OpenSSL's X509_STRICT wants. Configure the
 * ingest with its root (sim_apple_write_root) as apple.root_cert_file.
 *
 * sim_apple_build produces what Apple POSTs: {"signedPayload": "<JWS>"},
 * whose payload nests a separately signed signedTransactionInfo, both ES256
 * with x5c = [leaf, intermediate, root]. Forgeries: a signature by another
 * key (outer or nested), an HS256 header; a chain to an untrusted root is a
 * second generated key set, an expired leaf a key set with a past window,
 * a wrong app the bundle_id parameter.
 *
 * Not thread-safe for one keys or params object; separate objects may be
 * used from separate threads.
 */
#ifndef PAYSTREAM_SIM_APPLE_H
#define PAYSTREAM_SIM_APPLE_H

#include "sim.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <paystream/buf.h>
#include <paystream/err.h>
#include <stdbool.h>
#include <stdint.h>

#define SIM_APPLE_PATH "/v1/notify/apple"

typedef struct sim_apple_keys {
    EVP_PKEY *root_key, *intermediate_key, *leaf_key; /* owned */
    X509 *root, *intermediate, *leaf;                 /* owned */
} sim_apple_keys_t;

typedef enum sim_apple_forgery {
    SIM_APPLE_GENUINE = 0,
    SIM_APPLE_WRONG_KEY = 1,        /* outer JWS signed by a key that is not the leaf's */
    SIM_APPLE_NESTED_WRONG_KEY = 2, /* nested transaction signed by a foreign key */
    SIM_APPLE_ALG_HS256 = 3         /* outer header says "HS256" (signature still ES256) */
} sim_apple_forgery_t;

typedef struct sim_apple_params {
    const char *notification_type; /* "ONE_TIME_CHARGE", "REFUND", "REFUND_REVERSED", "TEST" */
    const char *subtype;           /* NULL: none */
    const char *notification_uuid;
    int64_t signed_date_ms;        /* outer and nested signedDate */
    const char *bundle_id;
    int64_t app_apple_id;
    const char *environment;       /* "Sandbox" or "Production" */
    bool with_transaction;         /* false for TEST */
    const char *transaction_id;
    const char *original_transaction_id;
    const char *product_id;
    const char *app_account_token; /* NULL: omitted */
    int64_t price_milli;           /* milliunits: 6480 CNY = 6.48 CNY */
    const char *currency;
    int64_t purchase_date_ms;
    int64_t revocation_date_ms;    /* 0: no revocation fields */
    sim_apple_forgery_t forgery;
} sim_apple_params_t;

/*
 * Generates a chain whose leaf is valid from leaf_not_before_s to
 * leaf_not_after_s (seconds since the epoch); the root and intermediate are
 * valid from a day before the leaf's start for 20 years. keys (borrowed) is
 * overwritten; release with sim_apple_keys_deinit. PS_ERR_CRYPTO when
 * OpenSSL fails.
 */
ps_err_t sim_apple_keys_generate(int64_t leaf_not_before_s, int64_t leaf_not_after_s,
                                 sim_apple_keys_t *keys, char *errstr, size_t errstr_size);
/* Releases and zeroes keys; accepts NULL and a zeroed struct. */
void sim_apple_keys_deinit(sim_apple_keys_t *keys);
/* Writes the root certificate as PEM to path (borrowed). PS_ERR_IO on failure. */
ps_err_t sim_apple_write_root(const sim_apple_keys_t *keys, const char *path, char *errstr,
                              size_t errstr_size);

/*
 * Signs payload[0..len) (borrowed) as a compact JWS with x5c = [leaf,
 * intermediate, root] of keys, applying forgery (SIM_APPLE_WRONG_KEY and
 * SIM_APPLE_ALG_HS256; other values sign genuinely), and appends the token
 * to out (borrowed, caller-initialized). PS_ERR_CRYPTO / PS_ERR_TOO_LARGE.
 */
ps_err_t sim_apple_sign(const sim_apple_keys_t *keys, const char *payload, size_t len,
                        sim_apple_forgery_t forgery, ps_buf_t *out, char *errstr,
                        size_t errstr_size);

/* Parameters of a genuine ONE_TIME_CHARGE like conformance AG1 (Sandbox,
 * com.example, app 1234, 6480 milli-CNY, account 7e3fb20b-...). */
void sim_apple_params_default(sim_apple_params_t *p);

/* The unsigned payloads built from p, owned by the caller (json_decref):
 * the transaction, and the notification with signed_txn (borrowed, may be
 * NULL) as data.signedTransactionInfo. Tests edit them before signing. */
json_t *sim_apple_transaction_json(const sim_apple_params_t *p);
json_t *sim_apple_notification_json(const sim_apple_params_t *p, const char *signed_txn);

/*
 * Makes out (borrowed, initialized by the caller with sim_request_init) the
 * request Apple would POST for the compact JWS jws[0..len): path
 * SIM_APPLE_PATH, Content-Type application/json, body {"signedPayload":...}.
 */
ps_err_t sim_apple_request_from_jws(const char *jws, size_t len, sim_request_t *out,
                                    char *errstr, size_t errstr_size);

/* The whole notification from p: sign the transaction (if any), the
 * notification, and wrap it as a request into out (as above). */
ps_err_t sim_apple_build(const sim_apple_keys_t *keys, const sim_apple_params_t *p,
                         sim_request_t *out, char *errstr, size_t errstr_size);

#endif
