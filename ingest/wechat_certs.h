/*
 * The WeChat Pay v3 key store: every key a callback may be signed with,
 * indexed by the value of Wechatpay-Serial, plus the crypto primitives the
 * verifier and the certificate refresher share.
 *
 * Keys come from two sources, kept in one map as WeChat's own SDKs do:
 * platform certificates (id = certificate serial, upper-case hex, with a
 * validity window) and WeChat Pay public keys (id = "PUB_KEY_ID_...", no
 * expiry). Configured keys are loaded once; optionally a background thread
 * downloads platform certificates from GET /v3/certificates on a schedule
 * and, rate-limited, when a callback names an unknown serial.
 *
 * Concurrency: the keys live in an immutable, reference-counted snapshot.
 * Readers take a reference under a mutex held for a pointer copy only, so
 * they never wait for a refresh (which does its network I/O with no lock
 * held, then swaps in a new snapshot). A snapshot stays valid until its last
 * reader releases it. Every EVP_PKEY and prepared verify context in a
 * snapshot is only read after publication, so any thread may use them.
 */
#ifndef INGEST_WECHAT_CERTS_H
#define INGEST_WECHAT_CERTS_H

#include <paystream/buf.h>
#include <paystream/err.h>
#include <paystream/limits.h>

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One verification key. Immutable once in a snapshot. */
typedef struct ingest_wechat_key {
    char id[PS_WECHAT_SERIAL_BYTES_MAX]; /* certificate serial or PUB_KEY_ID_... */
    EVP_PKEY *pkey;                      /* owned by the snapshot (reference) */
    EVP_MD_CTX *proto;                   /* owned; SHA-256 verify context copied per call */
    bool is_certificate;                 /* false: WeChat Pay public-key mode */
    bool downloaded;                     /* came from /v3/certificates (may be dropped) */
    int64_t not_before_s;                /* validity, Unix seconds (public keys: unbounded) */
    int64_t not_after_s;
} ingest_wechat_key_t;

typedef struct ingest_wechat_snapshot ingest_wechat_snapshot_t;
typedef struct ingest_wechat_certs ingest_wechat_certs_t;

/* Refresh settings; all pointers borrowed for ingest_wechat_certs_new only. */
typedef struct ingest_wechat_certs_config {
    const uint8_t *apiv3_key;       /* PS_WECHAT_APIV3_KEY_BYTES bytes */
    const char *refresh_url;        /* "" or NULL: no downloads */
    int64_t refresh_interval_s;     /* scheduled refresh period */
    int64_t refresh_min_interval_s; /* minimum gap between on-demand refreshes */
    int64_t refresh_timeout_ms;     /* whole HTTP exchange */
    int64_t timestamp_window_s;     /* for the response signature */
    const char *mch_id;             /* Authorization mchid */
    const char *merchant_serial;    /* Authorization serial_no */
    const uint8_t *merchant_key_pem; /* merchant API private key (PEM) */
    size_t merchant_key_pem_len;
} ingest_wechat_certs_config_t;

/*
 * Creates an empty store. With a refresh URL the merchant key and serial are
 * required and parsed here. PS_ERR_CONFIG / PS_ERR_CRYPTO with a message.
 * *out is owned by the caller (ingest_wechat_certs_destroy).
 */
ps_err_t ingest_wechat_certs_new(const ingest_wechat_certs_config_t *cfg,
                                 ingest_wechat_certs_t **out, char *errstr, size_t errstr_size);
/* Stops the refresher (joins it) and frees the store. Accepts NULL. Snapshots
 * still held by readers must have been released first. */
void ingest_wechat_certs_destroy(ingest_wechat_certs_t *store);

/*
 * Configuration-time loading, before ingest_wechat_certs_start (not
 * thread-safe). pem is borrowed; source names the file for messages. A PEM
 * may hold several certificates; each is added under its serial.
 * PS_ERR_CRYPTO for unparsable input, PS_ERR_INVALID for a duplicate id,
 * PS_ERR_TOO_LARGE past PS_WECHAT_KEYS_MAX.
 */
ps_err_t ingest_wechat_certs_add_cert_pem(ingest_wechat_certs_t *store, const uint8_t *pem,
                                          size_t pem_len, const char *source, char *errstr,
                                          size_t errstr_size);
/* Adds a public-key-mode key (SPKI PEM) under id, which must start "PUB_KEY_ID_". */
ps_err_t ingest_wechat_certs_add_public_key_pem(ingest_wechat_certs_t *store, const char *id,
                                                const uint8_t *pem, size_t pem_len,
                                                char *errstr, size_t errstr_size);
/* Starts the background refresher when a refresh URL is configured; its first
 * download begins at once. Without a URL it does nothing. */
ps_err_t ingest_wechat_certs_start(ingest_wechat_certs_t *store, char *errstr,
                                   size_t errstr_size);

/* Takes a reference to the current snapshot (never NULL). Any thread; the
 * caller must pass it to ingest_wechat_certs_release. */
ingest_wechat_snapshot_t *ingest_wechat_certs_acquire(ingest_wechat_certs_t *store);
/* Drops a reference from acquire; frees the snapshot after its last reader. */
void ingest_wechat_certs_release(ingest_wechat_snapshot_t *snap);
/* The key whose id equals id (certificate serials compared without regard to
 * case), or NULL. Borrowed from snap. */
const ingest_wechat_key_t *ingest_wechat_snapshot_find(const ingest_wechat_snapshot_t *snap,
                                                       const char *id);
size_t ingest_wechat_snapshot_count(const ingest_wechat_snapshot_t *snap);

/*
 * Asks the refresher for a download because a callback named an unknown
 * serial. Never blocks on the network: it only signals the refresher, and at
 * most once per refresh_min_interval_s (monotonic clock). Returns whether a
 * refresh was requested. Any thread; no-op without a refresh URL.
 */
bool ingest_wechat_certs_request_refresh(ingest_wechat_certs_t *store);
/*
 * Downloads, verifies and installs the certificates now, in the calling
 * thread (serialized with the refresher). For tests and tools. PS_ERR_IO /
 * PS_ERR_CRYPTO / PS_ERR_INVALID with a message; the store is unchanged on
 * failure. PS_ERR_CONFIG without a refresh URL.
 */
ps_err_t ingest_wechat_certs_refresh_now(ingest_wechat_certs_t *store, char *errstr,
                                         size_t errstr_size);
/* Counters since creation, for metrics and tests. Any thread. */
void ingest_wechat_certs_stats(ingest_wechat_certs_t *store, uint64_t *refresh_ok_out,
                               uint64_t *refresh_failed_out);

/*
 * Decodes a /v3/certificates response body (borrowed): decrypts each
 * encrypt_certificate with apiv3_key (key_len 16, 24 or 32 bytes), parses the
 * PEM and checks its serial against serial_no. On success *out is a new
 * snapshot with the downloaded keys (owned: ingest_wechat_certs_release).
 * The response signature is NOT checked here (see refresh). Any thread.
 */
ps_err_t ingest_wechat_certs_decode(const uint8_t *apiv3_key, size_t key_len, const uint8_t *body,
                                    size_t body_len, ingest_wechat_snapshot_t **out,
                                    char *errstr, size_t errstr_size);

/* The four signature headers of a callback or response, borrowed. */
typedef struct ingest_wechat_sig_headers {
    const char *timestamp;
    const char *nonce;
    const char *signature;
    const char *serial;
} ingest_wechat_sig_headers_t;

/*
 * Checks a WeChat signature in the order of the reference: timestamp numeric
 * and within window_s of now_s (|skew| >= window_s is stale), probe prefix,
 * serial known in snap, certificate valid at now_s, base64, then
 * SHA256withRSA over "timestamp\nnonce\nbody\n". Returns NULL when valid
 * (*key_out then points into snap) or a static reason label
 * ("stale_timestamp", "unknown_serial", ...) with a message in msg.
 * Any thread.
 */
const char *ingest_wechat_check_signature(const ingest_wechat_snapshot_t *snap,
                                          const ingest_wechat_sig_headers_t *h,
                                          const uint8_t *body, size_t body_len, int64_t now_s,
                                          int64_t window_s, const ingest_wechat_key_t **key_out,
                                          char *msg, size_t msg_size);

/*
 * AEAD AES-GCM open: ct is ciphertext||tag; key_len 16, 24 or 32 selects
 * AES-128/192/256 (WeChat's own test vectors use 16-byte keys). Appends the
 * plaintext to out. PS_ERR_CRYPTO on a tag mismatch, PS_ERR_INVALID on bad
 * lengths, PS_ERR_TOO_LARGE past out's cap. Any thread.
 */
ps_err_t ingest_wechat_aead_open(const uint8_t *key, size_t key_len, const uint8_t *nonce,
                                 size_t nonce_len, const uint8_t *aad, size_t aad_len,
                                 const uint8_t *ct, size_t ct_len, ps_buf_t *out, char *errstr,
                                 size_t errstr_size);

/*
 * Builds the merchant Authorization header value for a request:
 *   WECHATPAY2-SHA256-RSA2048 mchid="..",nonce_str="..",timestamp="..",serial_no="..",signature=".."
 * over "METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n" (url = path and query). Appends
 * to out. All pointers borrowed. PS_ERR_CRYPTO when signing fails.
 */
ps_err_t ingest_wechat_sign_request(EVP_PKEY *merchant_key, const char *mch_id,
                                    const char *merchant_serial, const char *method,
                                    const char *url, int64_t timestamp_s, const char *nonce,
                                    const uint8_t *body, size_t body_len, ps_buf_t *out,
                                    char *errstr, size_t errstr_size);

#endif
