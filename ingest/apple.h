/*
 * The Apple App Store Server Notifications V2 verifier (channels.md section 3).
 *
 * A notification is POSTed as {"signedPayload": "<JWS>"}. The outer JWS and
 * the nested signedTransactionInfo / signedRenewalInfo are each verified on
 * their own: ES256 only, x5c chained to the configured root with Apple's
 * OIDs at the payload's signedDate (x5c.h, cached by chain hash), then the
 * app binding (bundleId, appAppleId in Production, environment).
 *
 * Verdicts: ONE_TIME_CHARGE, SUBSCRIBED, DID_RENEW -> ACCEPT PAYMENT_SUCCEEDED;
 * REFUND -> ACCEPT REFUND_SUCCEEDED (refund_id = the refunded transactionId);
 * REFUND_REVERSED -> ACCEPT REFUND_REVERSED; TEST -> ACK_ONLY
 * "test_notification"; any other type -> ACK_ONLY "ignored_notification_type"
 * (verified and acknowledged, so Apple stops retrying). Normalization:
 * channel_event_id = notificationUUID, merchant_order_no =
 * originalTransactionId, channel_txn_id = transactionId, amount = price
 * (milliunits) in minor units of currency, account_id = appAccountToken,
 * event_time = notification signedDate, paid_time = purchaseDate, key_id =
 * hex SHA-256 of the outer leaf certificate, no evidence headers.
 *
 * Reject labels: channel_disabled, body_too_large, bad_json, bad_jws, bad_alg,
 * bad_chain, bad_certificate, untrusted_chain, expired_certificate,
 * bad_apple_oid, bad_signature, bad_payload, missing_field, wrong_app,
 * wrong_environment, missing_account, bad_account, bad_amount, bad_currency.
 */
#ifndef INGEST_APPLE_H
#define INGEST_APPLE_H

#include "verify.h"

#include <jansson.h>
#include <paystream/config.h>
#include <paystream/err.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct ingest_apple ingest_apple_t;

/*
 * Reads the apple.* keys of cfg (borrowed for the call) and loads the trusted
 * roots once. With apple.root_cert_file empty the verifier is created
 * disabled (every callback rejected as channel_disabled). Errors
 * (PS_ERR_CONFIG): unreadable or invalid root file, apple.bundle_id empty,
 * Production without apple.app_apple_id. On success *out is owned by the
 * caller (ingest_apple_destroy). Call once at start-up, any thread.
 */
ps_err_t ingest_apple_new(const ps_config_t *cfg, ingest_apple_t **out, char *errstr,
                          size_t errstr_size);

/* Accepts NULL. No verification may be running. */
void ingest_apple_destroy(ingest_apple_t *v);

/*
 * Verifies one notification request (borrowed for the call; req->now_s is
 * the clock used when a payload has no signedDate). res (borrowed) is
 * overwritten: the caller must have released any earlier event in it.
 * Returns PS_OK whenever a verdict was reached (ACCEPT with res->ev owned by
 * res, ACK_ONLY or REJECT with a label); a non-OK return is an internal
 * failure. Thread-safe.
 */
ps_err_t ingest_apple_verify(ingest_apple_t *v, const ingest_request_t *req,
                             ingest_result_t *res);

/* Whether the trusted roots are loaded (the channel is enabled). */
bool ingest_apple_ready(const ingest_apple_t *v);

/* Which kind of signed data ingest_apple_decode_signed checks: each gets its
 * own app-binding rules (channels.md 3.2 step 10). */
typedef enum ingest_apple_signed_kind {
    INGEST_APPLE_TRANSACTION = 0, /* bundleId and environment checked */
    INGEST_APPLE_RENEWAL = 1,     /* environment checked */
    INGEST_APPLE_NOTIFICATION = 2 /* bundleId, environment, appAppleId in Production */
} ingest_apple_signed_kind_t;

/*
 * Verifies one signed item jws[0..len) (borrowed) of the given kind, as the
 * notification path does for its parts, and for StoreKit 2 transactions
 * submitted by the game client. now_s is used when it has no signedDate.
 * PS_OK: *payload_out is the decoded payload (owned: json_decref; a jansson
 * tree of the verified bytes, for callers off the hot path, while the
 * verification itself reads them with paystream/json.h) and leaf_hex_out
 * (INGEST_X5C_HEX_BYTES, may be NULL) the leaf hash. Otherwise
 * PS_ERR_CRYPTO / PS_ERR_INVALID with a static label in *label_out (as for
 * ingest_apple_verify) and the reason in errstr. v must be ready
 * (ingest_apple_ready; asserts). Thread-safe.
 */
ps_err_t ingest_apple_decode_signed(ingest_apple_t *v, ingest_apple_signed_kind_t kind,
                                    const char *jws, size_t len, int64_t now_s,
                                    json_t **payload_out, char *leaf_hex_out,
                                    const char **label_out, char *errstr, size_t errstr_size);

/* Full x5c chain validations run and chain-cache hits so far (tests, metrics). */
uint64_t ingest_apple_chain_validations(const ingest_apple_t *v);
uint64_t ingest_apple_chain_cache_hits(const ingest_apple_t *v);

#endif
