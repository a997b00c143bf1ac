/*
 * Statement fetchers: download a channel's daily bill with libcurl.
 *
 *   WeChat  GET /v3/bill/tradebill?bill_date=..[&tar_type=GZIP] signed with
 *           the merchant key, its answer's signature verified with the
 *           platform key (when given), then GET download_url (signed the same
 *           way), then SHA-1 of the uncompressed bill == hash_value.
 *   Alipay  alipay.data.dataservice.bill.downloadurl.query signed RSA2 with
 *           the app key, response signature verified with the Alipay public
 *           key, then GET bill_download_url (a zip).
 *
 * Each fetcher hands back the bill bytes as downloaded (gzip / zip intact,
 * ready for recon_statement_parse) only when every check passed; any HTTP
 * status other than 200, a failed hash or signature, or a body past its
 * bound is an error and out is left unchanged. The process must have called
 * curl_global_init before the first fetch. Fetchers are thread-safe for
 * distinct options objects; keys are only read.
 */
#ifndef RECON_FETCH_H
#define RECON_FETCH_H

#include <openssl/evp.h>
#include <paystream/buf.h>
#include <paystream/err.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct recon_wechat_fetch {
    const char *base_url;        /* "https://api.mch.weixin.qq.com", no trailing slash */
    const char *mch_id;          /* Authorization mchid */
    const char *merchant_serial; /* serial of the merchant API certificate */
    EVP_PKEY *merchant_key;      /* borrowed: signs every request */
    EVP_PKEY *platform_key;      /* borrowed, may be NULL: verifies the query answer's
                                  * Wechatpay-Signature (platform certificate or public key) */
    bool gzip;                   /* ask for tar_type=GZIP */
    int64_t timeout_ms;          /* per HTTP request */
    size_t bytes_max;            /* bound on the download and on its uncompressed form */
} recon_wechat_fetch_t;

typedef struct recon_alipay_fetch {
    const char *gateway_url;     /* "https://openapi.alipay.com/gateway.do" */
    const char *app_id;
    EVP_PKEY *app_key;           /* borrowed: signs the query (RSA2) */
    EVP_PKEY *alipay_key;        /* borrowed: verifies the query response */
    int64_t timeout_ms;
    size_t bytes_max;            /* bound on the zip */
} recon_alipay_fetch_t;

/*
 * Fetches the WeChat trade bill (bill_type ALL) of bill_date "YYYY-MM-DD"
 * (borrowed) and appends the bytes as downloaded to out. Errors: PS_ERR_IO
 * (transport, HTTP status), PS_ERR_INVALID (bad answer, hash mismatch),
 * PS_ERR_TOO_LARGE, PS_ERR_CRYPTO (signing). Any thread.
 */
ps_err_t recon_fetch_wechat_bill(const recon_wechat_fetch_t *f, const char *bill_date,
                                 ps_buf_t *out, char *errstr, size_t errstr_size);

/* Fetches the Alipay trade bill zip of bill_date into out; errors as above. */
ps_err_t recon_fetch_alipay_bill(const recon_alipay_fetch_t *f, const char *bill_date,
                                 ps_buf_t *out, char *errstr, size_t errstr_size);

/*
 * The WeChat merchant Authorization header value for one request:
 *   WECHATPAY2-SHA256-RSA2048 mchid="..",nonce_str="..",timestamp="..",serial_no="..",signature=".."
 * over "METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n" (url = path and query).
 * Appends to out. All pointers borrowed. PS_ERR_CRYPTO when signing fails.
 */
ps_err_t recon_fetch_wechat_authorization(EVP_PKEY *key, const char *mch_id, const char *serial,
                                          const char *method, const char *url,
                                          int64_t timestamp_s, const char *nonce,
                                          const uint8_t *body, size_t body_len, ps_buf_t *out,
                                          char *errstr, size_t errstr_size);

/* SHA256withRSA of msg, base64 (standard) appended to out. PS_ERR_CRYPTO on failure. */
ps_err_t recon_fetch_rsa_sign(EVP_PKEY *key, const void *msg, size_t len, ps_buf_t *out,
                              char *errstr, size_t errstr_size);
/* Verifies a base64 SHA256withRSA signature; PS_ERR_CRYPTO when it does not verify. */
ps_err_t recon_fetch_rsa_verify(EVP_PKEY *key, const void *msg, size_t len, const char *sig_b64,
                                size_t sig_b64_len, char *errstr, size_t errstr_size);

/*
 * Loads a PEM private key, or a PEM public key / certificate, from pem[0..len)
 * (borrowed). *out is owned by the caller (EVP_PKEY_free). PS_ERR_CRYPTO with
 * the OpenSSL reason when the text is not such a key.
 */
ps_err_t recon_fetch_load_private_key(const uint8_t *pem, size_t len, EVP_PKEY **out,
                                      char *errstr, size_t errstr_size);
ps_err_t recon_fetch_load_public_key(const uint8_t *pem, size_t len, EVP_PKEY **out,
                                     char *errstr, size_t errstr_size);

#endif
