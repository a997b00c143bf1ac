/*
 * WeChat Pay v3 key store and platform-certificate refresher (see
 * wechat_certs.h). The signature and AES-GCM primitives it shares with the
 * callback verifier live in wechat_crypto.c.
 *
 * Keys are parsed once (EVP_PKEY plus a prepared SHA-256 verify context per
 * key id); a verification copies the prepared context, which costs far less
 * than decoding the key again (reference/performance.md).
 */
#include "wechat_certs.h"

#include <paystream/assert.h>
#include <paystream/base64.h>
#include <paystream/log.h>
#include <paystream/mem.h>
#include <paystream/timeparse.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define PUB_KEY_ID_PREFIX "PUB_KEY_ID_"
/* Request nonce: 16 random bytes as 32 hex characters, like WeChat's own. */
#define REQUEST_NONCE_BYTES 16
/* A downloaded PEM certificate is base64 text: its ciphertext is bounded too. */
#define CERT_CIPHERTEXT_BYTES_MAX (PS_WECHAT_CERT_FILE_BYTES_MAX + PS_WECHAT_AEAD_TAG_BYTES)

struct ingest_wechat_snapshot {
    atomic_int refs;
    size_t count;
    ingest_wechat_key_t keys[PS_WECHAT_KEYS_MAX];
};

/* Response headers the refresher needs to verify a /v3/certificates answer. */
typedef struct sig_header_values {
    char timestamp[PS_WECHAT_TIMESTAMP_DIGITS_MAX + 2];
    char nonce[PS_WECHAT_NONCE_BYTES_MAX];
    char signature[PS_WECHAT_SIGNATURE_B64_BYTES_MAX];
    char serial[PS_WECHAT_SERIAL_BYTES_MAX];
} sig_header_values_t;

struct ingest_wechat_certs {
    pthread_mutex_t lock; /* guards current, stop, wake, last_trigger_s, triggered */
    pthread_cond_t cond;
    ingest_wechat_snapshot_t *current;
    pthread_mutex_t refresh_lock; /* one download at a time */
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    bool wake;
    bool triggered;
    int64_t last_trigger_s; /* monotonic */
    atomic_uint_fast64_t refresh_ok, refresh_failed;
    uint8_t apiv3_key[PS_WECHAT_APIV3_KEY_BYTES];
    char *refresh_url; /* NULL: no downloads */
    char *url_path;    /* canonical URL for the request signature */
    int64_t interval_s, min_interval_s, timeout_ms, window_s;
    char *mch_id, *merchant_serial;
    EVP_PKEY *merchant_key;
    bool curl_inited;
};

/* ---- snapshots ---------------------------------------------------------- */

static ingest_wechat_snapshot_t *snapshot_new(void)
{
    ingest_wechat_snapshot_t *snap = ps_calloc(1, sizeof(*snap));

    atomic_init(&snap->refs, 1);
    return snap;
}

static void snapshot_free(ingest_wechat_snapshot_t *snap)
{
    for (size_t i = 0; i < snap->count; i++) {
        EVP_MD_CTX_free(snap->keys[i].proto);
        EVP_PKEY_free(snap->keys[i].pkey);
    }
    ps_free(snap);
}

void ingest_wechat_certs_release(ingest_wechat_snapshot_t *snap)
{
    if (snap != NULL && atomic_fetch_sub(&snap->refs, 1) == 1)
        snapshot_free(snap);
}

const ingest_wechat_key_t *ingest_wechat_snapshot_find(const ingest_wechat_snapshot_t *snap,
                                                       const char *id)
{
    for (size_t i = 0; i < snap->count; i++) {
        const ingest_wechat_key_t *k = &snap->keys[i];
        /* Serials are hex, sent upper-case; public-key ids must match exactly. */
        if (k->is_certificate ? strcasecmp(k->id, id) == 0 : strcmp(k->id, id) == 0)
            return k;
    }
    return NULL;
}

size_t ingest_wechat_snapshot_count(const ingest_wechat_snapshot_t *snap)
{
    return snap->count;
}

/* Appends a key to snap; pkey is transferred (freed on failure too). */
static ps_err_t snapshot_add(ingest_wechat_snapshot_t *snap, const char *id, EVP_PKEY *pkey,
                             bool is_cert, int64_t nb_s, int64_t na_s, char *errstr,
                             size_t errstr_size)
{
    ingest_wechat_key_t *k;
    ps_err_t err = PS_OK;

    if (strlen(id) >= sizeof(k->id)) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID, "key id is too long");
        goto out;
    }
    if (ingest_wechat_snapshot_find(snap, id) != NULL) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID, "duplicate key id \"%s\"", id);
        goto out;
    }
    if (snap->count >= PS_WECHAT_KEYS_MAX) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                            "more than %d wechat keys (PS_WECHAT_KEYS_MAX)", PS_WECHAT_KEYS_MAX);
        goto out;
    }
    if (!EVP_PKEY_is_a(pkey, "RSA") || EVP_PKEY_get_bits(pkey) < 2048 ||
        EVP_PKEY_get_bits(pkey) > 4096) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO,
                            "key \"%s\" is not an RSA key of 2048 to 4096 bits", id);
        goto out;
    }
    k = &snap->keys[snap->count];
    memset(k, 0, sizeof(*k));
    k->proto = EVP_MD_CTX_new();
    if (k->proto == NULL ||
        EVP_DigestVerifyInit(k->proto, NULL, EVP_sha256(), NULL, pkey) != 1) {
        EVP_MD_CTX_free(k->proto);
        k->proto = NULL;
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO,
                            "could not prepare verification with key \"%s\"", id);
        goto out;
    }
    memcpy(k->id, id, strlen(id) + 1);
    k->pkey = pkey;
    pkey = NULL;
    k->is_certificate = is_cert;
    k->not_before_s = nb_s;
    k->not_after_s = na_s;
    snap->count++;
out:
    EVP_PKEY_free(pkey);
    ERR_clear_error();
    return err;
}

/* Copies key src into snap (sharing its EVP_PKEY by reference). */
static ps_err_t snapshot_copy_key(ingest_wechat_snapshot_t *snap, const ingest_wechat_key_t *src,
                                  char *errstr, size_t errstr_size)
{
    ps_err_t err;

    EVP_PKEY_up_ref(src->pkey);
    err = snapshot_add(snap, src->id, src->pkey, src->is_certificate, src->not_before_s,
                       src->not_after_s, errstr, errstr_size);
    if (err == PS_OK)
        snap->keys[snap->count - 1].downloaded = src->downloaded;
    return err;
}

/* ---- certificates ------------------------------------------------------- */

static bool asn1_time_to_s(const ASN1_TIME *t, int64_t *out)
{
    struct tm tm;

    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
        return false;
    *out = ps_time_days_from_civil(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday) * 86400 +
           tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
    return true;
}

/* Adds cert's key under its serial (upper-case hex). cert is borrowed. */
static ps_err_t add_x509(ingest_wechat_snapshot_t *snap, X509 *cert, bool downloaded,
                         const char *expect_serial, char *errstr, size_t errstr_size)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
    int64_t nb_s, na_s;
    ps_err_t err;

    if (hex == NULL || hex[0] == '-' ||
        !asn1_time_to_s(X509_get0_notBefore(cert), &nb_s) ||
        !asn1_time_to_s(X509_get0_notAfter(cert), &na_s)) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO,
                            "certificate has an unreadable serial or validity");
        goto out;
    }
    if (expect_serial != NULL && strcasecmp(hex, expect_serial) != 0) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO,
                            "certificate serial \"%s\" does not match serial_no \"%s\"", hex,
                            expect_serial);
        goto out;
    }
    err = snapshot_add(snap, hex, X509_get_pubkey(cert), true, nb_s, na_s, errstr, errstr_size);
    if (err == PS_OK)
        snap->keys[snap->count - 1].downloaded = downloaded;
out:
    OPENSSL_free(hex);
    BN_free(bn);
    return err;
}

/* Parses every certificate of a PEM text into snap; at least one is required. */
static ps_err_t add_pem_certs(ingest_wechat_snapshot_t *snap, const uint8_t *pem, size_t len,
                              bool downloaded, const char *expect_serial, char *errstr,
                              size_t errstr_size)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    X509 *cert;
    size_t n = 0;
    ps_err_t err = PS_OK;

    PS_ASSERT(len <= PS_WECHAT_CERT_RESPONSE_BYTES_MAX);
    while (err == PS_OK && bio != NULL && (cert = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
        err = add_x509(snap, cert, downloaded, expect_serial, errstr, errstr_size);
        X509_free(cert);
        n++;
    }
    if (err == PS_OK && n == 0)
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO, "no PEM certificate found");
    ERR_clear_error();
    BIO_free(bio);
    return err;
}

ps_err_t ingest_wechat_certs_add_cert_pem(ingest_wechat_certs_t *store, const uint8_t *pem,
                                          size_t pem_len, const char *source, char *errstr,
                                          size_t errstr_size)
{
    ps_err_t err;

    if (pem_len > PS_WECHAT_CERT_FILE_BYTES_MAX)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                             "certificate file \"%s\" exceeds %d bytes", source,
                             PS_WECHAT_CERT_FILE_BYTES_MAX);
    err = add_pem_certs(store->current, pem, pem_len, false, NULL, errstr, errstr_size);
    if (err != PS_OK)
        return ps_errstr_prefix(errstr, errstr_size, err, "could not load \"%s\"", source);
    return PS_OK;
}

ps_err_t ingest_wechat_certs_add_public_key_pem(ingest_wechat_certs_t *store, const char *id,
                                                const uint8_t *pem, size_t pem_len,
                                                char *errstr, size_t errstr_size)
{
    BIO *bio;
    EVP_PKEY *pkey;

    if (strncmp(id, PUB_KEY_ID_PREFIX, strlen(PUB_KEY_ID_PREFIX)) != 0)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                             "public key id \"%s\" does not start with \"" PUB_KEY_ID_PREFIX
                             "\"", id);
    if (pem_len > PS_WECHAT_CERT_FILE_BYTES_MAX)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                             "public key exceeds %d bytes", PS_WECHAT_CERT_FILE_BYTES_MAX);
    bio = BIO_new_mem_buf(pem, (int)pem_len);
    pkey = bio != NULL ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    ERR_clear_error();
    if (pkey == NULL)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO,
                             "could not parse public key \"%s\": not a PEM public key", id);
    return snapshot_add(store->current, id, pkey, false, INT64_MIN, INT64_MAX, errstr,
                        errstr_size);
}

/* ---- /v3/certificates response ------------------------------------------ */

static const char *json_str(json_t *obj, const char *name)
{
    json_t *v = json_object_get(obj, name);

    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Decrypts one data[] entry and adds its certificate to snap. */
static ps_err_t decode_entry(const uint8_t *key, size_t key_len, json_t *entry,
                             ingest_wechat_snapshot_t *snap, char *errstr, size_t errstr_size)
{
    json_t *enc = json_object_get(entry, "encrypt_certificate");
    const char *serial = json_str(entry, "serial_no"), *alg = json_str(enc, "algorithm");
    const char *aad = json_str(enc, "associated_data"), *nonce = json_str(enc, "nonce");
    const char *ct = json_str(enc, "ciphertext");
    ps_buf_t raw, pem;
    ps_err_t err;

    if (serial == NULL || alg == NULL || nonce == NULL || ct == NULL || !json_is_object(enc))
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "entry lacks serial_no or encrypt_certificate fields");
    if (strcmp(alg, "AEAD_AES_256_GCM") != 0)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "unsupported algorithm \"%.32s\"", alg);
    ps_buf_init(&raw, CERT_CIPHERTEXT_BYTES_MAX);
    ps_buf_init(&pem, PS_WECHAT_CERT_FILE_BYTES_MAX);
    err = ps_base64_decode(ct, strlen(ct), PS_BASE64_STD, &raw, errstr, errstr_size);
    if (err == PS_OK)
        err = ingest_wechat_aead_open(key, key_len, (const uint8_t *)nonce, strlen(nonce),
                                      (const uint8_t *)(aad ? aad : ""), aad ? strlen(aad) : 0,
                                      raw.data, raw.len, &pem, errstr, errstr_size);
    if (err == PS_OK)
        err = add_pem_certs(snap, pem.data, pem.len, true, serial, errstr, errstr_size);
    if (err != PS_OK)
        ps_errstr_prefix(errstr, errstr_size, err, "certificate \"%.64s\"", serial);
    ps_buf_deinit(&pem);
    ps_buf_deinit(&raw);
    return err;
}

ps_err_t ingest_wechat_certs_decode(const uint8_t *apiv3_key, size_t key_len, const uint8_t *body,
                                    size_t body_len, ingest_wechat_snapshot_t **out,
                                    char *errstr, size_t errstr_size)
{
    ingest_wechat_snapshot_t *snap = NULL;
    json_error_t jerr;
    json_t *root = NULL, *data;
    ps_err_t err = PS_OK;

    if (body_len > PS_WECHAT_CERT_RESPONSE_BYTES_MAX)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                             "certificate response exceeds %d bytes",
                             PS_WECHAT_CERT_RESPONSE_BYTES_MAX);
    root = json_loadb((const char *)body, body_len, JSON_REJECT_DUPLICATES, &jerr);
    data = json_object_get(root, "data");
    if (!json_is_array(data) || json_array_size(data) == 0 ||
        json_array_size(data) > PS_WECHAT_KEYS_MAX) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                            "certificate response is not JSON with 1 to %d \"data\" entries",
                            PS_WECHAT_KEYS_MAX);
        goto out;
    }
    snap = snapshot_new();
    for (size_t i = 0; err == PS_OK && i < json_array_size(data); i++)
        err = decode_entry(apiv3_key, key_len, json_array_get(data, i), snap, errstr,
                           errstr_size);
    if (err != PS_OK)
        goto out;
    *out = snap;
    snap = NULL;
out:
    ingest_wechat_certs_release(snap);
    json_decref(root);
    return err;
}

/* ---- HTTP download ------------------------------------------------------ */

typedef struct http_resp {
    ps_buf_t body;
    sig_header_values_t h;
} http_resp_t;

static size_t on_body(char *data, size_t size, size_t n, void *opaque)
{
    http_resp_t *r = opaque;

    return ps_buf_append(&r->body, data, size * n) == PS_OK ? size * n : 0;
}

/* Copies the value of "Name: value" into dst (trimmed, bounded) if name matches. */
static void take_header(const char *line, size_t len, const char *name, char *dst, size_t dst_size)
{
    size_t nlen = strlen(name), b, e;

    if (len <= nlen || strncasecmp(line, name, nlen) != 0 || line[nlen] != ':')
        return;
    for (b = nlen + 1; b < len && (line[b] == ' ' || line[b] == '\t'); b++)
        ;
    for (e = len; e > b && (line[e - 1] == '\r' || line[e - 1] == '\n' || line[e - 1] == ' ');)
        e--;
    if (e - b < dst_size) {
        memcpy(dst, line + b, e - b);
        dst[e - b] = '\0';
    }
}

static size_t on_header(char *line, size_t size, size_t n, void *opaque)
{
    http_resp_t *r = opaque;
    size_t len = size * n;

    take_header(line, len, "Wechatpay-Timestamp", r->h.timestamp, sizeof(r->h.timestamp));
    take_header(line, len, "Wechatpay-Nonce", r->h.nonce, sizeof(r->h.nonce));
    take_header(line, len, "Wechatpay-Signature", r->h.signature, sizeof(r->h.signature));
    take_header(line, len, "Wechatpay-Serial", r->h.serial, sizeof(r->h.serial));
    return len;
}

/* Aborts a transfer when the store is being destroyed. */
static int on_progress(void *opaque, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    const ingest_wechat_certs_t *store = opaque;

    return atomic_load(&store->stop) ? 1 : 0;
}

static ps_err_t http_get(ingest_wechat_certs_t *store, http_resp_t *r, char *errstr,
                         size_t errstr_size)
{
    char nonce[2 * REQUEST_NONCE_BYTES + 1], curl_err[CURL_ERROR_SIZE] = "";
    uint8_t rnd[REQUEST_NONCE_BYTES];
    ps_buf_t auth;
    struct curl_slist *hdrs = NULL;
    CURL *curl = NULL;
    long status = 0;
    CURLcode rc;
    ps_err_t err;

    ps_buf_init(&auth, PS_EVIDENCE_HEADER_BYTES_MAX);
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO, "could not draw a nonce");
        goto out;
    }
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(nonce + 2 * i, 3, "%02X", rnd[i]);
    err = ps_buf_append_str(&auth, "Authorization: ");
    if (err == PS_OK)
        err = ingest_wechat_sign_request(store->merchant_key, store->mch_id,
                                         store->merchant_serial, "GET", store->url_path,
                                         (int64_t)time(NULL), nonce, NULL, 0, &auth, errstr,
                                         errstr_size);
    if (err != PS_OK)
        goto out;
    curl = curl_easy_init();
    hdrs = curl_slist_append(hdrs, (const char *)auth.data);
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    hdrs = curl_slist_append(hdrs, "User-Agent: paystream-ingest");
    if (curl == NULL || hdrs == NULL) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_IO, "could not create an HTTP client");
        goto out;
    }
    curl_easy_setopt(curl, CURLOPT_URL, store->refresh_url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)store->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, store);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    rc = curl_easy_perform(curl);
    if (rc != CURLE_OK) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_IO, "GET \"%s\" failed: %s",
                            store->url_path, curl_err[0] ? curl_err : curl_easy_strerror(rc));
        goto out;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200)
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_IO, "GET \"%s\" answered HTTP %ld",
                            store->url_path, status);
out:
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(curl);
    ps_buf_deinit(&auth);
    return err;
}

/* ---- refresh ------------------------------------------------------------ */

/* New snapshot: configured keys, still-valid downloaded keys of old not in
 * fresh (rotation keeps old and new), then every valid key of fresh. */
static ps_err_t merge(const ingest_wechat_snapshot_t *old, const ingest_wechat_snapshot_t *fresh,
                      int64_t now_s, ingest_wechat_snapshot_t **out, char *errstr,
                      size_t errstr_size)
{
    ingest_wechat_snapshot_t *snap = snapshot_new();
    ps_err_t err = PS_OK;

    for (size_t i = 0; err == PS_OK && i < old->count; i++) {
        const ingest_wechat_key_t *k = &old->keys[i];
        if (!k->downloaded ||
            (k->not_after_s >= now_s && ingest_wechat_snapshot_find(fresh, k->id) == NULL))
            err = snapshot_copy_key(snap, k, errstr, errstr_size);
    }
    for (size_t i = 0; err == PS_OK && i < fresh->count; i++) {
        const ingest_wechat_key_t *k = &fresh->keys[i];
        if (k->not_after_s < now_s)
            continue;
        if (ingest_wechat_snapshot_find(snap, k->id) != NULL)
            continue; /* a configured key with this id wins */
        err = snapshot_copy_key(snap, k, errstr, errstr_size);
    }
    if (err != PS_OK) {
        ingest_wechat_certs_release(snap);
        return err;
    }
    *out = snap;
    return PS_OK;
}

/* Verifies the response signature with a just-decrypted certificate (the
 * bootstrap the Go SDK uses) or, failing that, a key already in the store. */
static ps_err_t verify_response(ingest_wechat_certs_t *store, const http_resp_t *r,
                                const ingest_wechat_snapshot_t *fresh,
                                const ingest_wechat_snapshot_t *old, int64_t now_s,
                                char *errstr, size_t errstr_size)
{
    ingest_wechat_sig_headers_t h = {r->h.timestamp, r->h.nonce, r->h.signature, r->h.serial};
    const ingest_wechat_key_t *key;
    const ingest_wechat_snapshot_t *keys;
    char msg[PS_ERRSTR_SIZE];
    const char *label;

    if (!h.timestamp[0] || !h.nonce[0] || !h.signature[0] || !h.serial[0])
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO,
                             "certificate response lacks its Wechatpay-* signature headers");
    keys = ingest_wechat_snapshot_find(fresh, h.serial) != NULL ? fresh : old;
    label = ingest_wechat_check_signature(keys, &h, r->body.data, r->body.len, now_s,
                                          store->window_s, &key, msg, sizeof(msg));
    if (label != NULL)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO,
                             "certificate response signature rejected (%s): %s", label, msg);
    return PS_OK;
}

static ps_err_t refresh_locked(ingest_wechat_certs_t *store, char *errstr, size_t errstr_size)
{
    http_resp_t r = {0};
    ingest_wechat_snapshot_t *fresh = NULL, *old, *merged = NULL;
    int64_t now_s = (int64_t)time(NULL);
    ps_err_t err;

    ps_buf_init(&r.body, PS_WECHAT_CERT_RESPONSE_BYTES_MAX);
    old = ingest_wechat_certs_acquire(store);
    err = http_get(store, &r, errstr, errstr_size);
    if (err == PS_OK)
        err = ingest_wechat_certs_decode(store->apiv3_key, sizeof(store->apiv3_key), r.body.data,
                                         r.body.len, &fresh, errstr, errstr_size);
    if (err == PS_OK)
        err = verify_response(store, &r, fresh, old, now_s, errstr, errstr_size);
    if (err == PS_OK)
        err = merge(old, fresh, now_s, &merged, errstr, errstr_size);
    if (err == PS_OK) {
        pthread_mutex_lock(&store->lock);
        ingest_wechat_certs_release(store->current); /* the store's own reference */
        store->current = merged;
        merged = NULL;
        pthread_mutex_unlock(&store->lock);
        ps_log_info("wechat platform certificates refreshed: %zu downloaded",
                    fresh->count);
    }
    ingest_wechat_certs_release(fresh);
    ingest_wechat_certs_release(old);
    ps_buf_deinit(&r.body);
    return err;
}

ps_err_t ingest_wechat_certs_refresh_now(ingest_wechat_certs_t *store, char *errstr,
                                         size_t errstr_size)
{
    ps_err_t err;

    if (store->refresh_url == NULL)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                             "wechat.cert_refresh_url is not set");
    pthread_mutex_lock(&store->refresh_lock);
    err = refresh_locked(store, errstr, errstr_size);
    pthread_mutex_unlock(&store->refresh_lock);
    atomic_fetch_add(err == PS_OK ? &store->refresh_ok : &store->refresh_failed, 1);
    if (err != PS_OK)
        ps_errstr_prefix(errstr, errstr_size, err,
                         "could not refresh wechat platform certificates");
    return err;
}

static int64_t mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

/* The refresher: downloads now, then after each interval or wake-up. After a
 * failure it retries after the (shorter) minimum interval. */
static void *refresher_main(void *opaque)
{
    ingest_wechat_certs_t *store = opaque;
    char errstr[PS_ERRSTR_SIZE];

    pthread_mutex_lock(&store->lock);
    while (!atomic_load(&store->stop)) {
        store->wake = false;
        pthread_mutex_unlock(&store->lock);
        bool ok = ingest_wechat_certs_refresh_now(store, errstr, sizeof(errstr)) == PS_OK;
        if (!ok && !atomic_load(&store->stop)) /* an abort at shutdown is no news */
            ps_log_warn("%s", errstr);
        pthread_mutex_lock(&store->lock);
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += ok ? store->interval_s : store->min_interval_s;
        while (!atomic_load(&store->stop) && !store->wake &&
               pthread_cond_timedwait(&store->cond, &store->lock, &deadline) == 0)
            ;
    }
    pthread_mutex_unlock(&store->lock);
    return NULL;
}

bool ingest_wechat_certs_request_refresh(ingest_wechat_certs_t *store)
{
    int64_t now = mono_s();
    bool requested = false;

    if (store->refresh_url == NULL)
        return false;
    pthread_mutex_lock(&store->lock);
    if (!store->triggered || now - store->last_trigger_s >= store->min_interval_s) {
        store->triggered = true;
        store->last_trigger_s = now;
        store->wake = true;
        pthread_cond_signal(&store->cond);
        requested = true;
    }
    pthread_mutex_unlock(&store->lock);
    return requested;
}

/* ---- lifecycle ---------------------------------------------------------- */

ingest_wechat_snapshot_t *ingest_wechat_certs_acquire(ingest_wechat_certs_t *store)
{
    ingest_wechat_snapshot_t *snap;

    pthread_mutex_lock(&store->lock);
    snap = store->current;
    atomic_fetch_add(&snap->refs, 1);
    pthread_mutex_unlock(&store->lock);
    return snap;
}

void ingest_wechat_certs_stats(ingest_wechat_certs_t *store, uint64_t *refresh_ok_out,
                               uint64_t *refresh_failed_out)
{
    *refresh_ok_out = atomic_load(&store->refresh_ok);
    *refresh_failed_out = atomic_load(&store->refresh_failed);
}

/* Canonical URL for the signature: path and query, without scheme and host. */
static ps_err_t set_url(ingest_wechat_certs_t *store, const char *url, char *errstr,
                        size_t errstr_size)
{
    const char *p = strstr(url, "://"), *path;

    if (strlen(url) >= PS_WECHAT_URL_BYTES_MAX || p == NULL ||
        (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                             "wechat.cert_refresh_url \"%.128s\" is not an http(s) URL under "
                             "%d bytes",
                             url, PS_WECHAT_URL_BYTES_MAX);
    path = strchr(p + 3, '/');
    store->refresh_url = ps_strdup(url);
    store->url_path = ps_strndup(path ? path : "/", path ? strcspn(path, "#") : 1);
    return PS_OK;
}

static ps_err_t load_merchant(ingest_wechat_certs_t *store,
                              const ingest_wechat_certs_config_t *cfg, char *errstr,
                              size_t errstr_size)
{
    BIO *bio;

    if (cfg->merchant_key_pem == NULL || cfg->mch_id == NULL || cfg->mch_id[0] == '\0' ||
        cfg->merchant_serial == NULL || cfg->merchant_serial[0] == '\0')
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                             "wechat.cert_refresh_url needs wechat.mch_id, "
                             "wechat.merchant_private_key_file and wechat.merchant_serial");
    bio = BIO_new_mem_buf(cfg->merchant_key_pem, (int)cfg->merchant_key_pem_len);
    store->merchant_key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    ERR_clear_error();
    if (store->merchant_key == NULL || !EVP_PKEY_is_a(store->merchant_key, "RSA"))
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO,
                             "wechat.merchant_private_key_file is not a PEM RSA private key");
    store->mch_id = ps_strdup(cfg->mch_id);
    store->merchant_serial = ps_strdup(cfg->merchant_serial);
    return PS_OK;
}

ps_err_t ingest_wechat_certs_new(const ingest_wechat_certs_config_t *cfg,
                                 ingest_wechat_certs_t **out, char *errstr, size_t errstr_size)
{
    ingest_wechat_certs_t *store = ps_calloc(1, sizeof(*store));
    pthread_condattr_t attr;
    ps_err_t err = PS_OK;

    pthread_mutex_init(&store->lock, NULL);
    pthread_mutex_init(&store->refresh_lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&store->cond, &attr);
    pthread_condattr_destroy(&attr);
    atomic_init(&store->stop, false);
    atomic_init(&store->refresh_ok, 0);
    atomic_init(&store->refresh_failed, 0);
    store->current = snapshot_new();
    memcpy(store->apiv3_key, cfg->apiv3_key, sizeof(store->apiv3_key));
    store->interval_s = cfg->refresh_interval_s;
    store->min_interval_s = cfg->refresh_min_interval_s;
    store->timeout_ms = cfg->refresh_timeout_ms;
    store->window_s = cfg->timestamp_window_s;
    if (cfg->refresh_url != NULL && cfg->refresh_url[0] != '\0') {
        err = set_url(store, cfg->refresh_url, errstr, errstr_size);
        if (err == PS_OK)
            err = load_merchant(store, cfg, errstr, errstr_size);
        if (err == PS_OK && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            err = ps_errstr_set(errstr, errstr_size, PS_ERR_IO, "could not initialize libcurl");
        store->curl_inited = err == PS_OK;
    }
    if (err != PS_OK) {
        ingest_wechat_certs_destroy(store);
        return err;
    }
    *out = store;
    return PS_OK;
}

ps_err_t ingest_wechat_certs_start(ingest_wechat_certs_t *store, char *errstr,
                                   size_t errstr_size)
{
    int rc;

    if (store->refresh_url == NULL || store->thread_started)
        return PS_OK;
    rc = pthread_create(&store->thread, NULL, refresher_main, store);
    if (rc != 0)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_IO,
                             "could not start the wechat certificate refresher: %s",
                             strerror(rc));
    store->thread_started = true;
    return PS_OK;
}

void ingest_wechat_certs_destroy(ingest_wechat_certs_t *store)
{
    if (store == NULL)
        return;
    if (store->thread_started) {
        pthread_mutex_lock(&store->lock);
        atomic_store(&store->stop, true);
        pthread_cond_broadcast(&store->cond);
        pthread_mutex_unlock(&store->lock);
        pthread_join(store->thread, NULL);
    }
    ingest_wechat_certs_release(store->current);
    EVP_PKEY_free(store->merchant_key);
    OPENSSL_cleanse(store->apiv3_key, sizeof(store->apiv3_key));
    ps_free(store->refresh_url);
    ps_free(store->url_path);
    ps_free(store->mch_id);
    ps_free(store->merchant_serial);
    if (store->curl_inited)
        curl_global_cleanup();
    pthread_cond_destroy(&store->cond);
    pthread_mutex_destroy(&store->refresh_lock);
    pthread_mutex_destroy(&store->lock);
    ps_free(store);
}
