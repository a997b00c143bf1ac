/*
 * The WeChat Pay API v3 callback verifier (reference/channels.md section 1).
 *
 * A callback is checked in the reference's order: the four Wechatpay-*
 * headers, the signature type, the timestamp window, the probe prefix, the
 * key named by Wechatpay-Serial (platform certificate or PUB_KEY_ID_ public
 * key, see wechat_certs.h), SHA256withRSA over "timestamp\nnonce\nbody\n",
 * then the envelope JSON, AEAD_AES_256_GCM decryption of the resource with
 * the APIv3 key, the plaintext and the merchant checks. TRANSACTION.SUCCESS
 * becomes PAYMENT_SUCCEEDED, REFUND.SUCCESS becomes REFUND_SUCCEEDED; other
 * genuine events (REFUND.ABNORMAL, REFUND.CLOSED, PAYSCORE.*, ...) are
 * ACK_ONLY.
 *
 * Reason labels: body_too_large, channel_disabled, missing_header,
 * bad_header, unsupported_signature_type, bad_timestamp, stale_timestamp,
 * signtest_probe, unknown_serial, expired_certificate, bad_signature,
 * bad_json, missing_field, bad_field, unsupported_algorithm, decrypt_failed,
 * mchid_mismatch, appid_mismatch, bad_amount, bad_currency, bad_time,
 * missing_account, bad_account. ACK_ONLY labels: refund_abnormal,
 * refund_closed, ignored_event_type, status_not_success.
 */
#ifndef INGEST_WECHAT_H
#define INGEST_WECHAT_H

#include "verify.h"

#include <paystream/config.h>
#include <paystream/err.h>
#include <stdbool.h>

typedef struct ingest_wechat ingest_wechat_t;

/*
 * Reads the wechat.* keys of cfg (borrowed for the call), loads the APIv3
 * key, certificates and public key once, and starts the certificate
 * refresher when wechat.cert_refresh_url is set. With wechat.apiv3_key_file
 * empty the verifier is created disabled (every callback: channel_disabled).
 * Errors: PS_ERR_CONFIG / PS_ERR_IO / PS_ERR_CRYPTO with a message naming
 * the key or file. *out is owned by the caller. Call from one thread.
 */
ps_err_t ingest_wechat_new(const ps_config_t *cfg, ingest_wechat_t **out, char *errstr,
                           size_t errstr_size);
/* Stops the refresher and frees everything. Accepts NULL. No verify call may
 * be running. */
void ingest_wechat_destroy(ingest_wechat_t *v);
/*
 * Verifies one request (borrowed for the call) and fills res (caller-owned;
 * on ACCEPT res->ev is owned by res: ingest_result_deinit). Returns PS_OK
 * whenever a verdict was reached; non-OK only for an internal failure.
 * Thread-safe: any number of threads may call it at once. Never blocks on the
 * network: an unknown serial asks the refresher for a download and rejects.
 */
ps_err_t ingest_wechat_verify(ingest_wechat_t *v, const ingest_request_t *req,
                              ingest_result_t *res);
/* Whether callbacks can be verified: enabled and at least one key loaded
 * (with downloads only, after the first successful one). Any thread. */
bool ingest_wechat_ready(const ingest_wechat_t *v);
/* Whether wechat.apiv3_key_file was configured. Any thread. */
bool ingest_wechat_enabled(const ingest_wechat_t *v);

/* The key store, for tests and metrics (borrowed; NULL when disabled). */
struct ingest_wechat_certs *ingest_wechat_store(ingest_wechat_t *v);

#endif
