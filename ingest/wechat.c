/*
 * WeChat Pay API v3 callback verifier (see wechat.h): configuration loading,
 * the request checks in the reference's order, envelope and resource
 * parsing, and normalization into a CallbackEvent.
 *
 * Verification uses only immutable state (the APIv3 key, configured ids) and
 * a reference to the key store's current snapshot, so ingest_wechat_verify
 * runs concurrently without locks beyond the snapshot acquire. JSON is parsed
 * with duplicate keys rejected and every field's type checked: WeChat signs
 * bytes, and a parser that resolved duplicates differently from the
 * merchant's order table would be a way to smuggle an amount.
 */
#include "wechat.h"

#include "wechat_certs.h"
#include "wechat_fields.h"

#include <paystream/assert.h>
#include <paystream/base64.h>
#include <paystream/log.h>
#include <paystream/mem.h>
#include <paystream/money.h>
#include <paystream/timeparse.h>

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SIGNATURE_TYPE "WECHATPAY2-SHA256-RSA2048"
#define AEAD_ALGORITHM "AEAD_AES_256_GCM"
/* WeChat's refund notifications carry no currency: refunds are in the
 * order's currency, which for domestic merchants is always CNY. */
#define REFUND_DEFAULT_CURRENCY "CNY"

struct ingest_wechat {
    bool enabled;
    ingest_wechat_certs_t *store; /* owned; NULL when disabled */
    uint8_t apiv3_key[PS_WECHAT_APIV3_KEY_BYTES];
    char *mch_id; /* owned */
    char *appid;  /* owned; "" = not checked */
    int64_t window_s;
    char *account_param; /* owned: ingest.account_param, the attach key of the account */
};

/* The signature headers of one request: trimmed copies plus the originals. */
typedef struct wx_headers {
    char timestamp[PS_WECHAT_TIMESTAMP_DIGITS_MAX + 2];
    char nonce[PS_WECHAT_NONCE_BYTES_MAX];
    char signature[PS_WECHAT_SIGNATURE_B64_BYTES_MAX];
    char serial[PS_WECHAT_SERIAL_BYTES_MAX];
} wx_headers_t;

static const char *const evidence_names[] = {"Wechatpay-Timestamp", "Wechatpay-Nonce",
                                             "Wechatpay-Signature", "Wechatpay-Serial",
                                             "Wechatpay-Signature-Type"};
#define EVIDENCE_NAMES_COUNT (sizeof(evidence_names) / sizeof(evidence_names[0]))

/* ingest_reject for the bool-returning checks below: always false. */
static bool fail(ingest_result_t *res, const char *label, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool fail(ingest_result_t *res, const char *label, const char *fmt, ...)
{
    va_list ap;

    ps_callback_event_deinit(&res->ev);
    res->verdict = INGEST_REJECT;
    res->reason_label = label;
    va_start(ap, fmt);
    vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
    va_end(ap);
    return false;
}

/* ---- configuration ------------------------------------------------------ */

/* Reads a whole file (bounded by buf's cap) into buf. */
static ps_err_t read_file(const char *path, ps_buf_t *buf, char *errstr, size_t errstr_size)
{
    char chunk[4096];
    FILE *f = fopen(path, "rb");
    size_t n;
    ps_err_t err = PS_OK;

    if (f == NULL)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_IO, "could not open \"%s\": %s", path,
                             strerror(errno));
    while (err == PS_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        err = ps_buf_append(buf, chunk, n);
    if (err != PS_OK)
        err = ps_errstr_set(errstr, errstr_size, err, "file \"%s\" exceeds %zu bytes", path,
                            buf->max);
    else if (ferror(f))
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_IO, "could not read \"%s\"", path);
    fclose(f);
    return err;
}

static ps_err_t add_cert_file(ingest_wechat_t *v, const char *path, char *errstr,
                              size_t errstr_size)
{
    ps_buf_t pem;
    ps_err_t err;

    ps_buf_init(&pem, PS_WECHAT_CERT_FILE_BYTES_MAX);
    err = read_file(path, &pem, errstr, errstr_size);
    if (err == PS_OK)
        err = ingest_wechat_certs_add_cert_pem(v->store, pem.data, pem.len, path, errstr,
                                               errstr_size);
    ps_buf_deinit(&pem);
    return err;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Loads every *.pem of dir, in name order (deterministic duplicate errors). */
static ps_err_t load_cert_dir(ingest_wechat_t *v, const char *dir, char *errstr,
                              size_t errstr_size)
{
    char *names[PS_WECHAT_CERT_FILES_MAX];
    size_t count = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    ps_err_t err = PS_OK;

    if (d == NULL)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                             "could not open wechat.platform_cert_dir \"%s\": %s", dir,
                             strerror(errno));
    while (err == PS_OK && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".pem") != 0 || e->d_name[0] == '.')
            continue;
        if (count == PS_WECHAT_CERT_FILES_MAX)
            err = ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                                "wechat.platform_cert_dir \"%s\" has more than %d .pem files",
                                dir, PS_WECHAT_CERT_FILES_MAX);
        else
            names[count++] = ps_strdup(e->d_name);
    }
    closedir(d);
    qsort(names, count, sizeof(names[0]), cmp_names);
    for (size_t i = 0; i < count; i++) {
        if (err == PS_OK) {
            char path[4096];
            snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
            err = add_cert_file(v, path, errstr, errstr_size);
        }
        ps_free(names[i]);
    }
    return err;
}

/* Loads the comma-separated list of PEM files (blanks around names ignored). */
static ps_err_t load_cert_files(ingest_wechat_t *v, const char *list, char *errstr,
                                size_t errstr_size)
{
    const char *p = list;
    ps_err_t err = PS_OK;

    while (err == PS_OK && *p != '\0') {
        size_t len = strcspn(p, ",");
        const char *b = p, *e = p + len;
        while (b < e && (*b == ' ' || *b == '\t'))
            b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e > b) {
            char *path = ps_strndup(b, (size_t)(e - b));
            err = add_cert_file(v, path, errstr, errstr_size);
            ps_free(path);
        }
        p += len + (p[len] == ',');
    }
    return err;
}

static ps_err_t load_public_key(ingest_wechat_t *v, const ps_config_t *cfg, char *errstr,
                                size_t errstr_size)
{
    const char *file = ps_config_get_str(cfg, "wechat.public_key_file");
    const char *id = ps_config_get_str(cfg, "wechat.public_key_id");
    ps_buf_t pem;
    ps_err_t err;

    if (file[0] == '\0')
        return id[0] == '\0' ? PS_OK
                             : ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                                             "wechat.public_key_id is set but "
                                             "wechat.public_key_file is not");
    if (id[0] == '\0')
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                             "wechat.public_key_file needs wechat.public_key_id");
    ps_buf_init(&pem, PS_WECHAT_CERT_FILE_BYTES_MAX);
    err = read_file(file, &pem, errstr, errstr_size);
    if (err == PS_OK)
        err = ingest_wechat_certs_add_public_key_pem(v->store, id, pem.data, pem.len, errstr,
                                                     errstr_size);
    ps_buf_deinit(&pem);
    return err;
}

/* Builds the key store from the wechat.* keys and loads the configured keys. */
static ps_err_t load_store(ingest_wechat_t *v, const ps_config_t *cfg, char *errstr,
                           size_t errstr_size)
{
    size_t mkey_len = 0;
    const uint8_t *mkey = ps_config_get_secret(cfg, "wechat.merchant_private_key_file", &mkey_len);
    ingest_wechat_certs_config_t cc = {
        .apiv3_key = v->apiv3_key,
        .refresh_url = ps_config_get_str(cfg, "wechat.cert_refresh_url"),
        .refresh_interval_s = ps_config_get_int(cfg, "wechat.cert_refresh_interval_s"),
        .refresh_min_interval_s = ps_config_get_int(cfg, "wechat.cert_refresh_min_interval_s"),
        .refresh_timeout_ms = ps_config_get_int(cfg, "wechat.cert_refresh_timeout_ms"),
        .timestamp_window_s = v->window_s,
        .mch_id = v->mch_id,
        .merchant_serial = ps_config_get_str(cfg, "wechat.merchant_serial"),
        .merchant_key_pem = mkey,
        .merchant_key_pem_len = mkey_len};
    const char *dir = ps_config_get_str(cfg, "wechat.platform_cert_dir");
    ps_err_t err = ingest_wechat_certs_new(&cc, &v->store, errstr, errstr_size);

    if (err == PS_OK && dir[0] != '\0')
        err = load_cert_dir(v, dir, errstr, errstr_size);
    if (err == PS_OK)
        err = load_cert_files(v, ps_config_get_str(cfg, "wechat.platform_cert_files"), errstr,
                              errstr_size);
    if (err == PS_OK)
        err = load_public_key(v, cfg, errstr, errstr_size);
    if (err == PS_OK && cc.refresh_url[0] == '\0' && !ingest_wechat_ready(v))
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                            "wechat is enabled but has no key: set wechat.platform_cert_dir, "
                            "wechat.platform_cert_files, wechat.public_key_file or "
                            "wechat.cert_refresh_url");
    return err;
}

ps_err_t ingest_wechat_new(const ps_config_t *cfg, ingest_wechat_t **out, char *errstr,
                           size_t errstr_size)
{
    ingest_wechat_t *v = ps_calloc(1, sizeof(*v));
    size_t key_len = 0;
    const uint8_t *key = ps_config_get_secret(cfg, "wechat.apiv3_key_file", &key_len);
    ps_err_t err = PS_OK;

    v->mch_id = ps_strdup(ps_config_get_str(cfg, "wechat.mch_id"));
    v->account_param = ps_strdup(ps_config_get_str(cfg, "ingest.account_param"));
    v->appid = ps_strdup(ps_config_get_str(cfg, "wechat.appid"));
    v->window_s = ps_config_get_int(cfg, "wechat.timestamp_window_s");
    if (key == NULL)
        goto out; /* channel not configured: disabled */
    v->enabled = true;
    if (key_len != PS_WECHAT_APIV3_KEY_BYTES)
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                            "wechat.apiv3_key_file holds %zu bytes, expected %d (the APIv3 key "
                            "of AEAD_AES_256_GCM)",
                            key_len, PS_WECHAT_APIV3_KEY_BYTES);
    else if (v->mch_id[0] == '\0')
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                            "wechat.mch_id must be set when wechat.apiv3_key_file is set");
    if (err != PS_OK)
        goto out;
    memcpy(v->apiv3_key, key, PS_WECHAT_APIV3_KEY_BYTES);
    err = load_store(v, cfg, errstr, errstr_size);
    if (err == PS_OK)
        err = ingest_wechat_certs_start(v->store, errstr, errstr_size);
out:
    if (err != PS_OK) {
        ingest_wechat_destroy(v);
        return ps_errstr_prefix(errstr, errstr_size, err, "could not configure wechat");
    }
    *out = v;
    return PS_OK;
}

void ingest_wechat_destroy(ingest_wechat_t *v)
{
    if (v == NULL)
        return;
    ingest_wechat_certs_destroy(v->store);
    OPENSSL_cleanse(v->apiv3_key, sizeof(v->apiv3_key));
    ps_free(v->mch_id);
    ps_free(v->account_param);
    ps_free(v->appid);
    ps_free(v);
}

bool ingest_wechat_enabled(const ingest_wechat_t *v)
{
    return v->enabled;
}

bool ingest_wechat_ready(const ingest_wechat_t *v)
{
    ingest_wechat_snapshot_t *snap;
    bool ready;

    if (!v->enabled || v->store == NULL)
        return false;
    snap = ingest_wechat_certs_acquire(v->store);
    ready = ingest_wechat_snapshot_count(snap) > 0;
    ingest_wechat_certs_release(snap);
    return ready;
}

struct ingest_wechat_certs *ingest_wechat_store(ingest_wechat_t *v)
{
    return v->store;
}

/* ---- request headers ---------------------------------------------------- */

/* Copies header name's trimmed value into dst. Rejects (false, res set) when
 * it is missing, empty, too long or holds control characters. */
static bool take_header(const ingest_request_t *req, const char *name, char *dst,
                        size_t dst_size, ingest_result_t *res)
{
    const char *value = ingest_request_header(req, name);
    size_t b = 0, e;

    if (value != NULL)
        for (; value[b] == ' ' || value[b] == '\t'; b++)
            ;
    if (value == NULL || value[b] == '\0') {
        return fail(res, "missing_header", "header \"%s\" is missing or empty", name);
    }
    for (e = strlen(value); e > b && (value[e - 1] == ' ' || value[e - 1] == '\t');)
        e--;
    if (e - b >= dst_size) {
        return fail(res, "bad_header", "header \"%s\" exceeds %zu bytes", name, dst_size - 1);
    }
    for (size_t i = b; i < e; i++) {
        if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f) {
            return fail(res, "bad_header", "header \"%s\" contains a control character", name);
        }
    }
    memcpy(dst, value + b, e - b);
    dst[e - b] = '\0';
    return true;
}

static bool take_headers(const ingest_request_t *req, wx_headers_t *h, ingest_result_t *res)
{
    const char *type;

    if (!take_header(req, "Wechatpay-Timestamp", h->timestamp, sizeof(h->timestamp), res) ||
        !take_header(req, "Wechatpay-Nonce", h->nonce, sizeof(h->nonce), res) ||
        !take_header(req, "Wechatpay-Signature", h->signature, sizeof(h->signature), res) ||
        !take_header(req, "Wechatpay-Serial", h->serial, sizeof(h->serial), res))
        return false;
    type = ingest_request_header(req, "Wechatpay-Signature-Type");
    if (type != NULL && strcmp(type, SIGNATURE_TYPE) != 0) {
        return fail(res, "unsupported_signature_type",
                      "signature type \"%.64s\" is not supported (only " SIGNATURE_TYPE ")",
                      type);
    }
    return true;
}

/* ---- account ------------------------------------------------------------ */

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Form-decodes s[0..len) into out ('+' is a space); false on a bad escape,
 * a NUL or overflow of out_size. */
static bool form_decode(const char *s, size_t len, char *out, size_t out_size, size_t *out_len)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            int hi = len - i >= 3 ? hex_digit(s[i + 1]) : -1;
            int lo = len - i >= 3 ? hex_digit(s[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return false;
            c = hi * 16 + lo;
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (c == 0 || n + 1 >= out_size)
            return false;
        out[n++] = (char)c;
    }
    out[n] = '\0';
    *out_len = n;
    return true;
}

/* Finds param (ingest.account_param) in attach ("k=v&k2=v2"). Rejects a
 * missing, empty, repeated, malformed or non-UTF-8 value. */
static bool account_from_attach(const char *param, const char *attach, char **out,
                                ingest_result_t *res)
{
    char key[PS_WECHAT_ATTACH_BYTES_MAX + 1], val[PS_ACCOUNT_ID_BYTES_MAX + 1], found[sizeof(val)];
    size_t found_len = 0, klen, vlen;
    bool have = false;

    for (const char *p = attach != NULL ? attach : ""; *p != '\0';) {
        size_t len = strcspn(p, "&"), eq = strcspn(p, "=");
        if (eq > len)
            eq = len;
        if (!form_decode(p, eq, key, sizeof(key), &klen))
            goto malformed;
        if (strcmp(key, param) == 0) {
            if (have)
                return fail(res, "bad_account", "attach repeats \"%s\"",
                                     param);
            if (eq == len || !form_decode(p + eq + 1, len - eq - 1, val, sizeof(val), &vlen))
                goto malformed;
            memcpy(found, val, vlen + 1);
            found_len = vlen;
            have = true;
        }
        p += len + (p[len] == '&');
    }
    if (!have || found_len == 0)
        return fail(res, "missing_account", "attach has no \"%s\" parameter",
                             param);
    if (!ps_json_utf8_valid(found, found_len))
        goto malformed;
    *out = ps_strndup(found, found_len);
    return true;
malformed:
    return fail(res, "bad_account",
                  "attach parameter \"%s\" is malformed, not UTF-8 or longer than %d bytes",
                  param, PS_ACCOUNT_ID_BYTES_MAX);
}

/* ---- verification ------------------------------------------------------- */

/* The verified resource: decrypted plaintext of the envelope. */
typedef struct envelope {
    ps_json_doc_t doc; /* the callback body */
    char id[PS_ID_BYTES_MAX + 1], event_type[PS_EVENT_TYPE_BYTES_MAX + 1];
    int64_t create_time_us;
    ps_buf_t plain;
} envelope_t;

static bool parse_envelope(ingest_wechat_t *v, const ingest_request_t *req, envelope_t *env,
                           ingest_result_t *res)
{
    ingest_wx_obj_t root, resource;
    const char *alg, *ct, *nonce, *aad, *id, *type;
    char alg_buf[64 + 1], nonce_buf[64 + 1], aad_buf[PS_WECHAT_AAD_BYTES_MAX + 1];
    char err[PS_ERRSTR_SIZE];
    bool has_time, ok = false;
    ps_buf_t raw, scratch;
    size_t ct_len = 0;

    ps_buf_init(&scratch, PS_WECHAT_BODY_BYTES_MAX); /* an escaped ciphertext ("\/") */
    ps_buf_init(&raw, PS_WECHAT_BODY_BYTES_MAX);
    if (!ingest_wx_parse(&env->doc, req->body, req->body_len, "callback body", &root, res) ||
        !ingest_wx_str(root, "id", "id", env->id, sizeof(env->id), true, &id, res) ||
        !ingest_wx_str(root, "event_type", "event_type", env->event_type,
                       sizeof(env->event_type), true, &type, res) ||
        !ingest_wx_time(root, "create_time", "create_time", true, &has_time,
                        &env->create_time_us, res) ||
        !ingest_wx_object(root, "resource", "resource", &resource, res) ||
        !ingest_wx_str(resource, "algorithm", "resource.algorithm", alg_buf, sizeof(alg_buf),
                       true, &alg, res) ||
        !ingest_wx_text(resource, "ciphertext", "resource.ciphertext", &scratch, &ct, &ct_len,
                        res) ||
        !ingest_wx_str(resource, "nonce", "resource.nonce", nonce_buf, sizeof(nonce_buf), true,
                       &nonce, res) ||
        !ingest_wx_str(resource, "associated_data", "resource.associated_data", aad_buf,
                       sizeof(aad_buf), false, &aad, res))
        goto out;
    if (strcmp(alg, AEAD_ALGORITHM) != 0) {
        fail(res, "unsupported_algorithm", "resource algorithm \"%s\" is not " AEAD_ALGORITHM,
             alg);
        goto out;
    }
    if (strlen(nonce) != PS_WECHAT_AEAD_NONCE_BYTES) {
        fail(res, "bad_field", "field \"resource.nonce\" is not %d bytes",
             PS_WECHAT_AEAD_NONCE_BYTES);
        goto out;
    }
    if (ps_base64_decode(ct, ct_len, PS_BASE64_STD, &raw, err, sizeof(err)) != PS_OK)
        ingest_reject(res, "bad_field", "field \"resource.ciphertext\" is not base64: %s", err);
    else if (ingest_wechat_aead_open(v->apiv3_key, sizeof(v->apiv3_key), (const uint8_t *)nonce,
                                     PS_WECHAT_AEAD_NONCE_BYTES, (const uint8_t *)(aad ? aad : ""),
                                     aad ? strlen(aad) : 0, raw.data, raw.len, &env->plain, err,
                                     sizeof(err)) != PS_OK)
        ingest_reject(res, "decrypt_failed", "could not decrypt resource: %s", err);
    else
        ok = true;
out:
    ps_buf_deinit(&raw);
    ps_buf_deinit(&scratch);
    return ok;
}

/* Copies the evidence: raw body, the signature headers as received, key id. */
static void fill_evidence(ps_callback_event_t *ev, const ingest_request_t *req, const char *key_id)
{
    ev->raw_body = ps_memdup(req->body, req->body_len);
    ev->raw_body_len = req->body_len;
    ev->headers = ps_calloc(EVIDENCE_NAMES_COUNT, sizeof(ps_header_t));
    for (size_t i = 0; i < EVIDENCE_NAMES_COUNT; i++) {
        for (size_t j = 0; j < req->header_count; j++) {
            if (strcasecmp(req->headers[j].name, evidence_names[i]) == 0) {
                ev->headers[ev->header_count].name = ps_strdup(req->headers[j].name);
                ev->headers[ev->header_count].value = ps_strdup(req->headers[j].value);
                ev->header_count++;
                break;
            }
        }
    }
    ev->key_id = ps_strdup(key_id);
}

static bool check_merchant(ingest_wechat_t *v, ingest_wx_obj_t plain, bool check_appid,
                           ingest_result_t *res)
{
    char buf[PS_ID_BYTES_MAX + 1];
    const char *mchid, *appid;

    if (!ingest_wx_str(plain, "mchid", "mchid", buf, sizeof(buf), true, &mchid, res))
        return false;
    if (strcmp(mchid, v->mch_id) != 0)
        return fail(res, "mchid_mismatch", "mchid \"%.64s\" is not the configured one",
                             mchid);
    if (!check_appid || v->appid[0] == '\0')
        return true;
    if (!ingest_wx_str(plain, "appid", "appid", buf, sizeof(buf), true, &appid, res))
        return false;
    if (strcmp(appid, v->appid) != 0)
        return fail(res, "appid_mismatch", "appid \"%.64s\" is not the configured one",
                             appid);
    return true;
}

static void ack_only(ingest_result_t *res, const char *label, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void ack_only(ingest_result_t *res, const char *label, const char *fmt, ...)
{
    va_list ap;

    res->verdict = INGEST_ACK_ONLY;
    res->reason_label = label;
    va_start(ap, fmt);
    vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
    va_end(ap);
}

/* TRANSACTION.SUCCESS -> PAYMENT_SUCCEEDED. */
static bool build_payment(const ingest_wechat_t *v, ingest_wx_obj_t plain,
                          ps_callback_event_t *ev, ingest_result_t *res)
{
    const char *order, *txn, *state, *currency, *attach;
    char order_buf[PS_ID_BYTES_MAX + 1], txn_buf[PS_ID_BYTES_MAX + 1], state_buf[32 + 1];
    char currency_buf[16 + 1], attach_buf[PS_WECHAT_ATTACH_BYTES_MAX + 1], err[PS_ERRSTR_SIZE];
    ingest_wx_obj_t amount;
    int exponent;

    if (!ingest_wx_str(plain, "trade_state", "trade_state", state_buf, sizeof(state_buf), true,
                       &state, res) ||
        !ingest_wx_str(plain, "out_trade_no", "out_trade_no", order_buf, sizeof(order_buf), true,
                       &order, res) ||
        !ingest_wx_str(plain, "transaction_id", "transaction_id", txn_buf, sizeof(txn_buf), true,
                       &txn, res) ||
        !ingest_wx_object(plain, "amount", "amount", &amount, res) ||
        !ingest_wx_amount(amount, "total", "amount.total", &ev->amount_minor, res) ||
        !ingest_wx_str(amount, "currency", "amount.currency", currency_buf, sizeof(currency_buf),
                       true, &currency, res) ||
        !ingest_wx_str(plain, "attach", "attach", attach_buf, sizeof(attach_buf), false, &attach,
                       res) ||
        !ingest_wx_time(plain, "success_time", "success_time", false, &ev->has_paid_time,
                        &ev->paid_time_us, res))
        return false;
    if (strcmp(state, "SUCCESS") != 0) {
        ack_only(res, "status_not_success", "trade_state is \"%.32s\", nothing to book", state);
        return false;
    }
    if (ps_currency_validate(currency, &exponent, err, sizeof(err)) != PS_OK)
        return fail(res, "bad_currency", "field \"amount.currency\": %s", err);
    if (!account_from_attach(v->account_param, attach, &ev->account_id, res))
        return false;
    ev->kind = PS_EVENT_PAYMENT_SUCCEEDED;
    ev->merchant_order_no = ps_strdup(order);
    ev->channel_txn_id = ps_strdup(txn);
    memcpy(ev->currency, currency, PS_CURRENCY_CODE_BYTES);
    return true;
}

/* REFUND.SUCCESS -> REFUND_SUCCEEDED (amount = this refund's amount.refund).
 * Refund notifications carry no attach: account_id stays "" for the
 * processor to take from the payment. */
static bool build_refund(ingest_wx_obj_t plain, ps_callback_event_t *ev, ingest_result_t *res)
{
    const char *order, *txn, *refund_id, *status, *currency;
    char order_buf[PS_ID_BYTES_MAX + 1], txn_buf[PS_ID_BYTES_MAX + 1];
    char refund_buf[PS_ID_BYTES_MAX + 1], status_buf[32 + 1], currency_buf[16 + 1];
    char err[PS_ERRSTR_SIZE];
    ingest_wx_obj_t amount;
    int exponent;

    if (!ingest_wx_str(plain, "refund_status", "refund_status", status_buf, sizeof(status_buf),
                       true, &status, res) ||
        !ingest_wx_str(plain, "out_trade_no", "out_trade_no", order_buf, sizeof(order_buf), true,
                       &order, res) ||
        !ingest_wx_str(plain, "transaction_id", "transaction_id", txn_buf, sizeof(txn_buf), true,
                       &txn, res) ||
        !ingest_wx_str(plain, "refund_id", "refund_id", refund_buf, sizeof(refund_buf), true,
                       &refund_id, res) ||
        !ingest_wx_object(plain, "amount", "amount", &amount, res) ||
        !ingest_wx_amount(amount, "refund", "amount.refund", &ev->amount_minor, res) ||
        !ingest_wx_str(amount, "currency", "amount.currency", currency_buf, sizeof(currency_buf),
                       false, &currency, res))
        return false;
    if (strcmp(status, "SUCCESS") != 0) {
        ack_only(res, "status_not_success", "refund_status is \"%.32s\", nothing to book",
                 status);
        return false;
    }
    if (currency == NULL)
        currency = REFUND_DEFAULT_CURRENCY;
    if (ps_currency_validate(currency, &exponent, err, sizeof(err)) != PS_OK)
        return fail(res, "bad_currency", "field \"amount.currency\": %s", err);
    ev->kind = PS_EVENT_REFUND_SUCCEEDED;
    ev->merchant_order_no = ps_strdup(order);
    ev->channel_txn_id = ps_strdup(txn);
    ev->refund_id = ps_strdup(refund_id);
    ev->account_id = ps_strdup("");
    memcpy(ev->currency, currency, PS_CURRENCY_CODE_BYTES);
    return true;
}

/* Maps the verified, decrypted event to a verdict in res. */
static void decide(ingest_wechat_t *v, const ingest_request_t *req, envelope_t *env,
                   const char *key_id, ingest_result_t *res)
{
    bool payment = strcmp(env->event_type, "TRANSACTION.SUCCESS") == 0;
    bool refund = strcmp(env->event_type, "REFUND.SUCCESS") == 0;
    bool refund_other = strcmp(env->event_type, "REFUND.ABNORMAL") == 0 ||
                        strcmp(env->event_type, "REFUND.CLOSED") == 0;
    ps_callback_event_t *ev = &res->ev;
    ps_json_doc_t plain_doc;
    ingest_wx_obj_t plain;

    if (!payment && !refund && !refund_other) {
        ack_only(res, "ignored_event_type", "event type \"%s\" is not booked", env->event_type);
        return;
    }
    ps_json_doc_init(&plain_doc);
    if (!ingest_wx_parse(&plain_doc, env->plain.data, env->plain.len, "decrypted resource",
                         &plain, res) ||
        !check_merchant(v, plain, payment, res))
        goto out;
    if (refund_other) {
        ack_only(res,
                 strcmp(env->event_type, "REFUND.ABNORMAL") == 0 ? "refund_abnormal"
                                                                 : "refund_closed",
                 "%s needs no ledger change (handled manually)", env->event_type);
        goto out;
    }
    ev->channel = PS_CHANNEL_WECHAT;
    ev->event_time_us = env->create_time_us;
    if (!(payment ? build_payment(v, plain, ev, res) : build_refund(plain, ev, res))) {
        if (res->verdict == INGEST_ACK_ONLY)
            ps_callback_event_deinit(ev);
        goto out;
    }
    ev->channel_event_id = ps_strdup(env->id);
    ev->channel_event_type = ps_strdup(env->event_type);
    fill_evidence(ev, req, key_id);
    res->verdict = INGEST_ACCEPT;
    res->reason_label = NULL;
out:
    ps_json_doc_deinit(&plain_doc);
}

ps_err_t ingest_wechat_verify(ingest_wechat_t *v, const ingest_request_t *req,
                              ingest_result_t *res)
{
    wx_headers_t h;
    ingest_wechat_snapshot_t *snap;
    const ingest_wechat_key_t *key = NULL;
    char key_id[PS_WECHAT_SERIAL_BYTES_MAX];
    const char *label;
    envelope_t env;

    PS_ASSERT(v != NULL && req != NULL && res != NULL);
    PS_ASSERT(req->body != NULL || req->body_len == 0);
    memset(res, 0, sizeof(*res));
    res->verdict = INGEST_REJECT;
    if (req->body_len > PS_WECHAT_BODY_BYTES_MAX)
        return ingest_reject(res, "body_too_large", "body of %zu bytes exceeds %d bytes",
                             req->body_len, PS_WECHAT_BODY_BYTES_MAX);
    if (!v->enabled)
        return ingest_reject(res, "channel_disabled", "wechat is not configured");
    if (!take_headers(req, &h, res))
        return PS_OK;
    snap = ingest_wechat_certs_acquire(v->store);
    label = ingest_wechat_check_signature(
        snap, &(ingest_wechat_sig_headers_t){h.timestamp, h.nonce, h.signature, h.serial},
        req->body != NULL ? req->body : (const uint8_t *)"", req->body_len, req->now_s,
        v->window_s, &key, res->reason, sizeof(res->reason));
    if (label == NULL)
        memcpy(key_id, key->id, sizeof(key_id));
    ingest_wechat_certs_release(snap);
    if (label != NULL) {
        /* WeChat retries, so the download only has to finish before then. */
        if (strcmp(label, "unknown_serial") == 0)
            ingest_wechat_certs_request_refresh(v->store);
        res->reason_label = label;
        return PS_OK;
    }
    ps_json_doc_init(&env.doc);
    ps_buf_init(&env.plain, PS_WECHAT_PLAINTEXT_BYTES_MAX);
    if (parse_envelope(v, req, &env, res))
        decide(v, req, &env, key_id, res);
    OPENSSL_cleanse(env.plain.data, env.plain.len); /* the plaintext holds payer ids */
    ps_buf_deinit(&env.plain);
    ps_json_doc_deinit(&env.doc);
    return PS_OK;
}
