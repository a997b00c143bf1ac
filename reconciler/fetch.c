/*
 * Bill fetchers (see fetch.h): the WeChat signed query, download and SHA-1
 * check, and the Alipay signed download-URL query with its response
 * signature, over libcurl. Every body is received into a capped buffer (the
 * write callback refuses bytes past the bound), redirects are not followed
 * (a bill answer never redirects, and following one would re-send our
 * Authorization elsewhere), and only http/https are allowed.
 */
#include "fetch.h"

#include "statement.h"

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <paystream/assert.h>
#include <paystream/base64.h>
#include <paystream/limits.h>
#include <paystream/mem.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define ALIPAY_METHOD "alipay.data.dataservice.bill.downloadurl.query"
#define ALIPAY_RESPONSE_KEY "alipay_data_dataservice_bill_downloadurl_query_response"
#define NONCE_BYTES 16
#define WECHAT_ANSWER_SKEW_S 300 /* WeChat's own window for signed messages (reference 1.2) */

/* ---- keys and signatures ------------------------------------------------- */

static ps_err_t crypto_error(char *errstr, size_t errstr_size, const char *what)
{
    char reason[256];
    ERR_error_string_n(ERR_get_error(), reason, sizeof(reason));
    ERR_clear_error();
    return ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO, "%s: %s", what, reason);
}

ps_err_t recon_fetch_load_private_key(const uint8_t *pem, size_t len, EVP_PKEY **out,
                                      char *errstr, size_t errstr_size)
{
    PS_ASSERT(pem != NULL && out != NULL);
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *key = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (key == NULL)
        return crypto_error(errstr, errstr_size, "could not load private key");
    *out = key;
    return PS_OK;
}

ps_err_t recon_fetch_load_public_key(const uint8_t *pem, size_t len, EVP_PKEY **out,
                                     char *errstr, size_t errstr_size)
{
    PS_ASSERT(pem != NULL && out != NULL);
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *key = bio != NULL ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;

    if (key == NULL && bio != NULL) { /* not a bare key: maybe a certificate */
        ERR_clear_error();
        BIO_reset(bio);
        X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        key = cert != NULL ? X509_get_pubkey(cert) : NULL;
        X509_free(cert);
    }
    BIO_free(bio);
    if (key == NULL)
        return crypto_error(errstr, errstr_size, "could not load public key or certificate");
    *out = key;
    return PS_OK;
}

ps_err_t recon_fetch_rsa_sign(EVP_PKEY *key, const void *msg, size_t len, ps_buf_t *out,
                              char *errstr, size_t errstr_size)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char sig[1024]; /* RSA up to 8192 bits */
    size_t sig_len = sizeof(sig);
    ps_err_t err = PS_OK;

    if (ctx == NULL || EVP_PKEY_get_size(key) > (int)sizeof(sig) ||
        EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(ctx, sig, &sig_len, msg, len) != 1)
        err = crypto_error(errstr, errstr_size, "could not sign request");
    else if (ps_base64_encode(sig, sig_len, PS_BASE64_STD, out) != PS_OK)
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE, "signature does not fit");
    EVP_MD_CTX_free(ctx);
    return err;
}

ps_err_t recon_fetch_rsa_verify(EVP_PKEY *key, const void *msg, size_t len, const char *sig_b64,
                                size_t sig_b64_len, char *errstr, size_t errstr_size)
{
    ps_buf_t sig;
    char msgbuf[PS_ERRSTR_SIZE];
    EVP_MD_CTX *ctx = NULL;
    ps_err_t err;

    ps_buf_init(&sig, 1024);
    err = ps_base64_decode(sig_b64, sig_b64_len, PS_BASE64_STD, &sig, msgbuf, sizeof(msgbuf));
    if (err != PS_OK) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO, "bad signature encoding: %s",
                            msgbuf);
        goto out;
    }
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestVerify(ctx, sig.data, sig.len, msg, len) != 1) {
        ERR_clear_error();
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO, "signature does not verify");
    }
out:
    EVP_MD_CTX_free(ctx);
    ps_buf_deinit(&sig);
    return err;
}

ps_err_t recon_fetch_wechat_authorization(EVP_PKEY *key, const char *mch_id, const char *serial,
                                          const char *method, const char *url,
                                          int64_t timestamp_s, const char *nonce,
                                          const uint8_t *body, size_t body_len, ps_buf_t *out,
                                          char *errstr, size_t errstr_size)
{
    PS_ASSERT(key != NULL && mch_id != NULL && serial != NULL && method != NULL && url != NULL);
    ps_buf_t m;
    ps_err_t err;

    ps_buf_init(&m, PS_RECON_URL_BYTES_MAX + PS_RECON_FETCH_RESPONSE_BYTES_MAX);
    err = ps_buf_appendf(&m, "%s\n%s\n%lld\n%s\n", method, url, (long long)timestamp_s, nonce);
    if (err == PS_OK && body_len > 0)
        err = ps_buf_append(&m, body, body_len);
    if (err == PS_OK)
        err = ps_buf_append(&m, "\n", 1);
    if (err == PS_OK)
        err = ps_buf_appendf(out,
                             "WECHATPAY2-SHA256-RSA2048 mchid=\"%s\",nonce_str=\"%s\","
                             "timestamp=\"%lld\",serial_no=\"%s\",signature=\"",
                             mch_id, nonce, (long long)timestamp_s, serial);
    if (err == PS_OK)
        err = recon_fetch_rsa_sign(key, m.data, m.len, out, errstr, errstr_size);
    else
        err = ps_errstr_set(errstr, errstr_size, err, "request too large to sign");
    if (err == PS_OK)
        err = ps_buf_append(out, "\"", 1);
    ps_buf_deinit(&m);
    return err;
}

/* ---- HTTP ---------------------------------------------------------------- */

/* The WeChat response-signature headers of one answer (copied, bounded). */
typedef struct wx_sig {
    char timestamp[PS_WECHAT_TIMESTAMP_DIGITS_MAX + 1];
    char nonce[PS_WECHAT_NONCE_BYTES_MAX];
    char signature[PS_WECHAT_SIGNATURE_B64_BYTES_MAX];
} wx_sig_t;

typedef struct http_body {
    ps_buf_t *buf;
    bool too_large;
    wx_sig_t *sig; /* NULL: headers are not kept */
} http_body_t;

/* Copies the value of header line h (len n) into out when its name is name. */
static void keep_header(const char *h, size_t n, const char *name, char *out, size_t out_size)
{
    size_t k = strlen(name);
    if (n <= k + 1 || strncasecmp(h, name, k) != 0 || h[k] != ':')
        return;
    const char *v = h + k + 1, *e = h + n;
    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' '))
        e--;
    if ((size_t)(e - v) < out_size) {
        memcpy(out, v, (size_t)(e - v));
        out[e - v] = '\0';
    }
}

static size_t on_header(char *h, size_t size, size_t n, void *opaque)
{
    http_body_t *b = opaque;
    size_t len = size * n;
    if (b->sig != NULL) {
        keep_header(h, len, "Wechatpay-Timestamp", b->sig->timestamp, sizeof(b->sig->timestamp));
        keep_header(h, len, "Wechatpay-Nonce", b->sig->nonce, sizeof(b->sig->nonce));
        keep_header(h, len, "Wechatpay-Signature", b->sig->signature, sizeof(b->sig->signature));
    }
    return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *opaque)
{
    http_body_t *b = opaque;
    if (ps_buf_append(b->buf, data, size * n) != PS_OK) {
        b->too_large = true;
        return 0; /* aborts the transfer */
    }
    return size * n;
}

/*
 * One request: GET (post == NULL) or POST of a form; the body lands in resp
 * (capped by its bound). Only a 200 answer is success; the status is kept
 * for the message.
 */
static ps_err_t http(const char *url, const char *auth, const char *post, int64_t timeout_ms,
                     ps_buf_t *resp, wx_sig_t *sig, char *errstr, size_t errstr_size)
{
    CURL *curl = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    char curl_err[CURL_ERROR_SIZE] = "";
    http_body_t body = {.buf = resp, .too_large = false, .sig = sig};
    ps_buf_t auth_hdr;
    long status = 0;
    ps_err_t err = PS_OK;

    ps_buf_init(&auth_hdr, PS_EVIDENCE_HEADER_BYTES_MAX);
    if (auth != NULL)
        ps_buf_appendf(&auth_hdr, "Authorization: %s", auth);
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    hdrs = curl_slist_append(hdrs, "User-Agent: paystream-reconciler");
    if (auth != NULL)
        hdrs = curl_slist_append(hdrs, (const char *)auth_hdr.data);
    if (post != NULL)
        hdrs = curl_slist_append(hdrs,
                                 "Content-Type: application/x-www-form-urlencoded;charset=utf-8");
    if (curl == NULL || hdrs == NULL) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_IO, "could not create an HTTP client");
        goto out;
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &body);
    if (post != NULL)
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, post);
    CURLcode rc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (body.too_large)
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                            "answer of \"%.200s\" exceeds %zu bytes", url, resp->max);
    else if (rc != CURLE_OK)
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_IO, "request to \"%.200s\" failed: %s",
                            url, curl_err[0] ? curl_err : curl_easy_strerror(rc));
    else if (status != 200)
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_IO,
                            "\"%.200s\" answered HTTP %ld: %.200s", url, status,
                            resp->len > 0 ? (const char *)resp->data : "");
out:
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(curl);
    ps_buf_deinit(&auth_hdr);
    return err;
}

/* A bill date is exactly YYYY-MM-DD (it goes into URLs and signed text). */
static ps_err_t check_date(const char *d, char *errstr, size_t errstr_size)
{
    int64_t a, b;
    return recon_statement_shanghai_day(d, &a, &b, errstr, errstr_size);
}

/* ---- WeChat -------------------------------------------------------------- */

/* Signs GET url_path (path and query) and performs it against full_url. */
static ps_err_t wechat_get(const recon_wechat_fetch_t *f, const char *full_url,
                           const char *url_path, ps_buf_t *resp, wx_sig_t *sig, char *errstr,
                           size_t errstr_size)
{
    unsigned char raw[NONCE_BYTES];
    char nonce[2 * NONCE_BYTES + 1];
    ps_buf_t auth;
    ps_err_t err;

    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return crypto_error(errstr, errstr_size, "could not make a nonce");
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(nonce + 2 * i, 3, "%02X", raw[i]);
    ps_buf_init(&auth, PS_EVIDENCE_HEADER_BYTES_MAX);
    err = recon_fetch_wechat_authorization(f->merchant_key, f->mch_id, f->merchant_serial, "GET",
                                           url_path, (int64_t)time(NULL), nonce, NULL, 0, &auth,
                                           errstr, errstr_size);
    if (err == PS_OK)
        err = http(full_url, (const char *)auth.data, NULL, f->timeout_ms, resp, sig, errstr,
                   errstr_size);
    ps_buf_deinit(&auth);
    return err;
}

/*
 * Verifies the query answer's Wechatpay-Signature over "timestamp\nnonce\nbody\n"
 * with the platform key, within the 5-minute window (reference 1.2): the
 * hash_value that vouches for the bill comes from this answer.
 */
static ps_err_t wechat_check_answer(const recon_wechat_fetch_t *f, const wx_sig_t *sig,
                                    const ps_buf_t *resp, char *errstr, size_t errstr_size)
{
    int64_t ts = 0, now = (int64_t)time(NULL);
    size_t n = strlen(sig->timestamp);
    ps_buf_t m;

    if (f->platform_key == NULL)
        return PS_OK;
    if (n == 0 || n > PS_WECHAT_TIMESTAMP_DIGITS_MAX || strspn(sig->timestamp, "0123456789") != n ||
        sig->nonce[0] == '\0' || sig->signature[0] == '\0')
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO,
                             "wechat bill query answer lacks its Wechatpay-* signature headers");
    for (size_t i = 0; i < n; i++)
        ts = ts * 10 + (sig->timestamp[i] - '0');
    if (ts < now - WECHAT_ANSWER_SKEW_S || ts > now + WECHAT_ANSWER_SKEW_S)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO,
                             "wechat bill query answer is stale: timestamp %lld, now %lld",
                             (long long)ts, (long long)now);
    ps_buf_init(&m, PS_RECON_FETCH_RESPONSE_BYTES_MAX + 256);
    ps_err_t err = ps_buf_appendf(&m, "%s\n%s\n", sig->timestamp, sig->nonce);
    if (err == PS_OK)
        err = ps_buf_append(&m, resp->data, resp->len);
    if (err == PS_OK)
        err = ps_buf_append(&m, "\n", 1);
    if (err == PS_OK)
        err = recon_fetch_rsa_verify(f->platform_key, m.data, m.len, sig->signature,
                                     strlen(sig->signature), errstr, errstr_size);
    ps_buf_deinit(&m);
    if (err != PS_OK)
        return ps_errstr_prefix(errstr, errstr_size, err, "wechat bill query answer");
    return PS_OK;
}

/* Pulls download_url and a 40-hex SHA-1 hash_value out of the query answer. */
static ps_err_t wechat_answer(const ps_buf_t *resp, char *url, size_t url_size,
                              char hash[41], char *errstr, size_t errstr_size)
{
    json_error_t jerr;
    json_t *root = json_loadb((const char *)resp->data, resp->len, 0, &jerr);
    const char *u = NULL, *h = NULL, *t = NULL;
    ps_err_t err = PS_OK;

    if (root == NULL || json_unpack(root, "{s:s, s:s, s:s}", "download_url", &u, "hash_type",
                                    &t, "hash_value", &h) != 0) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                            "wechat bill query answer lacks download_url/hash_type/hash_value");
        goto out;
    }
    if (strcmp(t, "SHA1") != 0 || strlen(h) != 40 || strspn(h, "0123456789abcdefABCDEF") != 40)
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                            "wechat bill query answer has hash_type \"%.16s\" / hash_value "
                            "\"%.48s\", expected SHA1 and 40 hex digits",
                            t, h);
    else if (strlen(u) >= url_size || strncmp(u, "http", 4) != 0)
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                            "wechat download_url is not an http(s) URL within %zu bytes",
                            url_size);
    if (err == PS_OK) {
        memcpy(url, u, strlen(u) + 1);
        memcpy(hash, h, 41);
    }
out:
    json_decref(root);
    return err;
}

/* The canonical URL WeChat signs: path and query of an absolute URL. */
static const char *url_path_of(const char *url)
{
    const char *p = strstr(url, "://");
    p = p != NULL ? strchr(p + 3, '/') : NULL;
    return p != NULL ? p : "/";
}

/* SHA-1 over the uncompressed bill, compared with hash_value ignoring case. */
static ps_err_t wechat_check_hash(const ps_buf_t *bill, const char *want, size_t bytes_max,
                                  char *errstr, size_t errstr_size)
{
    uint8_t *plain = NULL;
    size_t plain_len = bill->len;
    unsigned char md[SHA_DIGEST_LENGTH];
    char hex[41];
    ps_err_t err = PS_OK;

    if (recon_statement_is_gzip(bill->data, bill->len)) {
        err = recon_statement_gunzip(bill->data, bill->len, bytes_max, &plain, &plain_len, errstr,
                                     errstr_size);
        if (err != PS_OK)
            return ps_errstr_prefix(errstr, errstr_size, err, "could not check wechat bill hash");
    }
    SHA1(plain != NULL ? plain : bill->data, plain_len, md);
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    if (strcasecmp(hex, want) != 0)
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                            "wechat bill failed its hash check: SHA-1 is %s, hash_value says %s",
                            hex, want);
    ps_free(plain);
    return err;
}

ps_err_t recon_fetch_wechat_bill(const recon_wechat_fetch_t *f, const char *bill_date,
                                 ps_buf_t *out, char *errstr, size_t errstr_size)
{
    PS_ASSERT(f != NULL && f->base_url != NULL && f->merchant_key != NULL && out != NULL);
    char path[128], full[PS_RECON_URL_BYTES_MAX + 128], download[PS_RECON_URL_BYTES_MAX];
    char hash[41];
    wx_sig_t sig;
    ps_buf_t resp, bill;
    ps_err_t err = check_date(bill_date, errstr, errstr_size);

    if (err != PS_OK)
        return err;
    memset(&sig, 0, sizeof(sig));
    snprintf(path, sizeof(path), "/v3/bill/tradebill?bill_date=%s%s", bill_date,
             f->gzip ? "&tar_type=GZIP" : "");
    if ((size_t)snprintf(full, sizeof(full), "%s%s", f->base_url, path) >= sizeof(full))
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG, "wechat base URL is too long");
    ps_buf_init(&resp, PS_RECON_FETCH_RESPONSE_BYTES_MAX);
    ps_buf_init(&bill, f->bytes_max > 0 ? f->bytes_max : PS_RECON_STATEMENT_BYTES_MAX);
    err = wechat_get(f, full, path, &resp, &sig, errstr, errstr_size);
    if (err == PS_OK)
        err = wechat_check_answer(f, &sig, &resp, errstr, errstr_size);
    if (err == PS_OK)
        err = wechat_answer(&resp, download, sizeof(download), hash, errstr, errstr_size);
    if (err != PS_OK) {
        ps_errstr_prefix(errstr, errstr_size, err, "could not query wechat bill of %s", bill_date);
        goto out;
    }
    /* The download answer is not signed: the hash vouches for it. */
    err = wechat_get(f, download, url_path_of(download), &bill, NULL, errstr, errstr_size);
    if (err == PS_OK)
        err = wechat_check_hash(&bill, hash, bill.max, errstr, errstr_size);
    if (err == PS_OK)
        err = ps_buf_append(out, bill.data, bill.len);
    if (err != PS_OK)
        ps_errstr_prefix(errstr, errstr_size, err, "could not download wechat bill of %s",
                         bill_date);
out:
    ps_buf_deinit(&bill);
    ps_buf_deinit(&resp);
    return err;
}

/* ---- Alipay -------------------------------------------------------------- */

/* "yyyy-MM-dd HH:mm:ss" in Beijing time, as the gateway wants its timestamp. */
static void beijing_now(char out[20])
{
    time_t t = time(NULL) + 8 * 3600;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 20, "%Y-%m-%d %H:%M:%S", &tm);
}

/* Sign content "k=v&..." (keys sorted, values raw) and the url-encoded form with sign. */
static ps_err_t alipay_request(const recon_alipay_fetch_t *f, const char *bill_date,
                               ps_buf_t *form, char *errstr, size_t errstr_size)
{
    char ts[20], biz[96];
    ps_buf_t content, sign;
    ps_err_t err;

    beijing_now(ts);
    snprintf(biz, sizeof(biz), "{\"bill_type\":\"trade\",\"bill_date\":\"%s\"}", bill_date);
    /* Alphabetical order of the keys is the signing rule. */
    const char *kv[][2] = {{"app_id", f->app_id}, {"biz_content", biz},
                           {"charset", "utf-8"},  {"format", "JSON"},
                           {"method", ALIPAY_METHOD}, {"sign_type", "RSA2"},
                           {"timestamp", ts},     {"version", "1.0"}};
    size_t n = sizeof(kv) / sizeof(kv[0]);
    ps_buf_init(&content, 4096);
    ps_buf_init(&sign, 2048);
    err = PS_OK;
    for (size_t i = 0; err == PS_OK && i < n; i++)
        err = ps_buf_appendf(&content, "%s%s=%s", i ? "&" : "", kv[i][0], kv[i][1]);
    if (err == PS_OK)
        err = recon_fetch_rsa_sign(f->app_key, content.data, content.len, &sign, errstr,
                                   errstr_size);
    for (size_t i = 0; err == PS_OK && i <= n; i++) {
        const char *k = i < n ? kv[i][0] : "sign";
        const char *v = i < n ? kv[i][1] : (const char *)sign.data;
        char *enc = curl_easy_escape(NULL, v, 0);
        err = enc != NULL ? ps_buf_appendf(form, "%s%s=%s", i ? "&" : "", k, enc) : PS_ERR_IO;
        curl_free(enc);
    }
    ps_buf_deinit(&sign);
    ps_buf_deinit(&content);
    return err;
}

/* End of the JSON value starting at p (an object), honouring strings; NULL if unbalanced. */
static const char *json_object_end(const char *p, const char *end)
{
    int depth = 0;
    bool in_str = false;
    for (; p < end; p++) {
        if (in_str) {
            if (*p == '\\')
                p++;
            else if (*p == '"')
                in_str = false;
        } else if (*p == '"') {
            in_str = true;
        } else if (*p == '{') {
            depth++;
        } else if (*p == '}' && --depth == 0) {
            return p + 1;
        }
    }
    return NULL;
}

/* Verifies the response signature over the raw response value, then reads the URL. */
static ps_err_t alipay_answer(const recon_alipay_fetch_t *f, const ps_buf_t *resp, char *url,
                              size_t url_size, char *errstr, size_t errstr_size)
{
    const char *text = (const char *)resp->data, *end = text + resp->len;
    const char *key = strstr(text, "\"" ALIPAY_RESPONSE_KEY "\"");
    const char *v = key != NULL ? key + strlen(ALIPAY_RESPONSE_KEY) + 2 : NULL;
    json_t *root = NULL;
    const char *code = "", *msg = "", *sub = "", *u = NULL, *sign = NULL;
    ps_err_t err;

    while (v != NULL && v < end && (*v == ' ' || *v == ':' || *v == '\n' || *v == '\t'))
        v++;
    const char *vend = v != NULL && v < end && *v == '{' ? json_object_end(v, end) : NULL;
    root = json_loadb(text, resp->len, 0, NULL);
    if (vend == NULL || root == NULL ||
        json_unpack(root, "{s:{s?s, s?s, s?s, s?s}, s:s}", ALIPAY_RESPONSE_KEY, "code", &code,
                    "msg", &msg, "sub_code", &sub, "bill_download_url", &u, "sign", &sign) != 0) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                            "alipay answer lacks %s or sign", ALIPAY_RESPONSE_KEY);
        goto out;
    }
    err = recon_fetch_rsa_verify(f->alipay_key, v, (size_t)(vend - v), sign, strlen(sign), errstr,
                                 errstr_size);
    if (err != PS_OK) {
        ps_errstr_prefix(errstr, errstr_size, err, "alipay answer signature");
        goto out;
    }
    if (strcmp(code, "10000") != 0 || u == NULL)
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                            "alipay refused the bill query: code \"%.16s\", msg \"%.64s\", "
                            "sub_code \"%.64s\"",
                            code, msg, sub);
    else if (strlen(u) >= url_size || strncmp(u, "http", 4) != 0)
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                            "alipay bill_download_url is not an http(s) URL within %zu bytes",
                            url_size);
    else
        memcpy(url, u, strlen(u) + 1);
out:
    json_decref(root);
    return err;
}

ps_err_t recon_fetch_alipay_bill(const recon_alipay_fetch_t *f, const char *bill_date,
                                 ps_buf_t *out, char *errstr, size_t errstr_size)
{
    PS_ASSERT(f != NULL && f->gateway_url != NULL && f->app_key != NULL && f->alipay_key != NULL);
    char url[PS_RECON_URL_BYTES_MAX];
    ps_buf_t form, resp, zip;
    ps_err_t err = check_date(bill_date, errstr, errstr_size);

    if (err != PS_OK)
        return err;
    ps_buf_init(&form, 8192);
    ps_buf_init(&resp, PS_RECON_FETCH_RESPONSE_BYTES_MAX);
    ps_buf_init(&zip, f->bytes_max > 0 ? f->bytes_max : PS_RECON_STATEMENT_BYTES_MAX);
    err = alipay_request(f, bill_date, &form, errstr, errstr_size);
    if (err == PS_OK)
        err = http(f->gateway_url, NULL, (const char *)form.data, f->timeout_ms, &resp, NULL,
                   errstr, errstr_size);
    if (err == PS_OK)
        err = alipay_answer(f, &resp, url, sizeof(url), errstr, errstr_size);
    if (err != PS_OK) {
        ps_errstr_prefix(errstr, errstr_size, err, "could not query alipay bill of %s", bill_date);
        goto out;
    }
    err = http(url, NULL, NULL, f->timeout_ms, &zip, NULL, errstr, errstr_size);
    if (err == PS_OK)
        err = ps_buf_append(out, zip.data, zip.len);
    if (err != PS_OK)
        ps_errstr_prefix(errstr, errstr_size, err, "could not download alipay bill of %s",
                         bill_date);
out:
    ps_buf_deinit(&zip);
    ps_buf_deinit(&resp);
    ps_buf_deinit(&form);
    return err;
}
