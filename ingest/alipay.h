/*
 * The Alipay channel verifier (issue 3; reference/channels.md section 2):
 * asynchronous trade notifications posted as form bodies, signed RSA2
 * (SHA256withRSA, PKCS#1 v1.5) with the Alipay public key in the `sign`
 * parameter, turned into normalized CallbackEvents.
 *
 * Verification, in order (the first failure decides the REJECT label):
 *   channel_disabled       alipay.public_key_file is empty
 *   body_too_large         body over PS_ALIPAY_BODY_BYTES_MAX
 *   bad_form               not a strict form (form.h): bad escape, duplicate, ...
 *   missing_signature      no or empty `sign`
 *   unsupported_sign_type  `sign_type` present and not RSA2 (legacy RSA refused)
 *   bad_base64             `sign` is not strict standard base64
 *   bad_signature          no candidate string verifies with any configured key
 *   bad_encoding           unknown `charset`, or a value invalid in it
 *   wrong_app_id           `app_id` differs from alipay.app_id
 *   wrong_seller_id        alipay.seller_id set and `seller_id` differs
 *   missing_field, bad_field, bad_time, bad_amount, bad_currency,
 *   missing_account, bad_account, unknown_trade_status
 *
 * Signature candidates: rule V1 (without `sign` and `sign_type`) first, then
 * rule V2 (without `sign` only; `sign_type=RSA2` re-inserted when absent, as
 * the Node SDK does); when empty-valued parameters exist, both again without
 * them (the SDKs disagree on empty values). Each is a deterministic function
 * of the signed data, so trying them does not help a forger. The string is
 * built from the values after exactly one form decode, in the bytes of the
 * declared charset; a GBK text is transcoded to UTF-8 only after it verified.
 * A missing `charset` means utf-8.
 *
 * Mapping (notify_type trade_status_sync; other notify types that verify are
 * ACK_ONLY "unsupported_notify_type"):
 *   TRADE_SUCCESS, TRADE_FINISHED without refund_fee  PAYMENT_SUCCEEDED
 *   any of those or TRADE_CLOSED with refund_fee       REFUND_SUCCEEDED with
 *       amount = total_amount, refund_total = refund_fee (cumulative),
 *       refund_id = out_biz_no
 *   TRADE_CLOSED without refund_fee                    PAYMENT_CLOSED
 *   WAIT_BUYER_PAY                                     ACK_ONLY "wait_buyer_pay"
 * Currency is CNY: domestic notifications carry none, and one that names a
 * trans_currency or settle_currency other than CNY is refused (bad_currency)
 * rather than booked in a currency paystream cannot be sure of. Times are
 * Asia/Shanghai civil time: event time = notify_time, paid time = gmt_payment.
 * The account is the ingest.account_param parameter (default "player_id") of
 * passback_params, decoded once
 * more (it was URL-encoded by the merchant and is echoed back as is). A
 * payment without it is refused (missing_account); refund and close
 * notifications may lack passback_params (conformance A2, A3) and then carry
 * account_id "", for the processor to resolve through merchant_order_no.
 */
#ifndef INGEST_ALIPAY_H
#define INGEST_ALIPAY_H

#include "form.h"
#include "verify.h"

#include <openssl/evp.h>
#include <paystream/buf.h>
#include <paystream/config.h>
#include <paystream/err.h>
#include <stdbool.h>

typedef struct ingest_alipay ingest_alipay_t;

/*
 * Reads alipay.* keys from cfg (borrowed for the call) and loads the public
 * key(s) once. With alipay.public_key_file empty the verifier is created
 * disabled (every callback REJECT channel_disabled, not ready). Errors:
 * PS_ERR_CONFIG for an unreadable, oversized or non-RSA-2048+ key or a key
 * without alipay.app_id. *out is owned by the caller (ingest_alipay_destroy).
 * @locality start-up thread
 */
ps_err_t ingest_alipay_new(const ps_config_t *cfg, ingest_alipay_t **out, char *errstr,
                           size_t errstr_size);

/* Releases the verifier and its keys. Accepts NULL. */
void ingest_alipay_destroy(ingest_alipay_t *v);

/*
 * Verifies one request (borrowed) and fills res, which is overwritten
 * without being released: release a previous event with
 * ingest_result_deinit first. Returns PS_OK whenever a verdict was reached
 * (ACCEPT with res->ev owned by res, ACK_ONLY or REJECT); another code means
 * an internal failure (the caller treats it as REJECT "internal").
 * @locality any thread, concurrently
 */
ps_err_t ingest_alipay_verify(ingest_alipay_t *v, const ingest_request_t *req,
                              ingest_result_t *res);

/* Whether keys are loaded (false when disabled), for GET /readyz. */
bool ingest_alipay_ready(const ingest_alipay_t *v);

/* Which parameters the string to sign leaves out. */
typedef enum ingest_alipay_rule {
    INGEST_ALIPAY_RULE_V1 = 1, /* drop sign and sign_type (trade notifications) */
    INGEST_ALIPAY_RULE_V2 = 2  /* drop sign only; sign_type=RSA2 if it is absent */
} ingest_alipay_rule_t;

/*
 * Appends the string to sign of form (borrowed, as parsed: sorted, decoded
 * once) under rule to out: `k=v` joined by `&` in key order, empty values
 * kept unless drop_empty. Used by the verifier, the simulator and tests.
 * PS_ERR_TOO_LARGE past out's cap.
 */
ps_err_t ingest_alipay_sign_content(const ingest_form_t *form, ingest_alipay_rule_t rule,
                                    bool drop_empty, ps_buf_t *out);

/*
 * Loads an RSA public key of at least PS_ALIPAY_RSA_BITS_MIN bits from path
 * (borrowed): a PEM "PUBLIC KEY" or the bare base64 SPKI the Alipay console
 * shows. *key_out is owned by the caller (EVP_PKEY_free). PS_ERR_CONFIG with
 * the path and the reason.
 */
ps_err_t ingest_alipay_load_public_key(const char *path, EVP_PKEY **key_out, char *errstr,
                                       size_t errstr_size);

/*
 * Checks the RSA2 signature sign_b64[0..sign_len) (standard base64) over
 * content[0..len) with key (all borrowed). Serves notifications and the
 * synchronous responses, whose signed content is the raw JSON value of the
 * `<method>_response` key. PS_OK when it verifies; PS_ERR_INVALID when the
 * signature is not strict base64 or too long; PS_ERR_CRYPTO when it does not
 * verify (OpenSSL's reason in errstr). Thread-safe.
 */
ps_err_t ingest_alipay_rsa2_verify(EVP_PKEY *key, const void *content, size_t len,
                                   const char *sign_b64, size_t sign_len, char *errstr,
                                   size_t errstr_size);

#endif
