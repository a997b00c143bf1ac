/*
 * Simulated channel bill endpoints (see sim_bills.h): a libmicrohttpd server
 * on 127.0.0.1 that checks request signatures the way the channels do and
 * serves the bills the test put in, with injectable faults (wrong hash,
 * 404/500, bad response signature) for the fetcher tests.
 *
 * WeChat: the Authorization header is verified over
 * "GET\n<raw path and query>\n<timestamp>\n<nonce>\n\n" with the merchant's
 * public key; the raw request target comes from MHD's URI log callback
 * because the canonical URL must be byte-exact. Alipay: the form is decoded,
 * every parameter but sign sorted into the sign content and verified with the
 * app public key; the answer is signed over its raw response value.
 */
#include "sim_bills.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <paystream/assert.h>
#include <paystream/base64.h>
#include <paystream/mem.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SIM_BILLS_DATES_MAX 8
#define SIM_FORM_PARAMS_MAX 32
#define SIM_REQUEST_BODY_MAX (64 * 1024)

typedef struct bill {
    char date[11];
    uint8_t *data;
    size_t len;
} bill_t;

struct sim_bills_server {
    struct MHD_Daemon *mhd;
    char url[64];
    char mch_id[64], app_id[64];
    EVP_PKEY *merchant_pub, *app_pub, *alipay_priv, *platform_priv; /* owned */
    pthread_mutex_t lock;                           /* guards the fields below */
    bill_t wechat[SIM_BILLS_DATES_MAX], alipay[SIM_BILLS_DATES_MAX];
    sim_bills_fault_t fault;
    int rejected;
};

typedef struct req {
    char *uri; /* raw request target */
    ps_buf_t body;
    bool started;
} req_t;

/* ---- bills and keys ------------------------------------------------------ */

static void set_bill(sim_bills_server_t *s, bill_t *tab, const char *date, const uint8_t *d,
                     size_t len)
{
    PS_ASSERT(strlen(date) == 10);
    pthread_mutex_lock(&s->lock);
    int slot = -1;
    for (int i = 0; i < SIM_BILLS_DATES_MAX; i++)
        if (slot < 0 && (tab[i].data == NULL || strcmp(tab[i].date, date) == 0))
            slot = i;
    PS_ASSERT(slot >= 0);
    ps_free(tab[slot].data);
    memcpy(tab[slot].date, date, 11);
    tab[slot].data = ps_memdup(d, len);
    tab[slot].len = len;
    pthread_mutex_unlock(&s->lock);
}

/* Copy of the bill for date (owned) or NULL. */
static uint8_t *get_bill(sim_bills_server_t *s, bill_t *tab, const char *date, size_t *len)
{
    uint8_t *copy = NULL;
    pthread_mutex_lock(&s->lock);
    for (int i = 0; date != NULL && i < SIM_BILLS_DATES_MAX; i++)
        if (tab[i].data != NULL && strcmp(tab[i].date, date) == 0) {
            copy = ps_memdup(tab[i].data, tab[i].len);
            *len = tab[i].len;
        }
    pthread_mutex_unlock(&s->lock);
    return copy;
}

static bool have_bill(sim_bills_server_t *s, bill_t *tab, const char *date)
{
    size_t len = 0;
    uint8_t *copy = get_bill(s, tab, date, &len);
    ps_free(copy);
    return copy != NULL;
}

static sim_bills_fault_t fault(sim_bills_server_t *s)
{
    pthread_mutex_lock(&s->lock);
    sim_bills_fault_t f = s->fault;
    pthread_mutex_unlock(&s->lock);
    return f;
}

static void count_reject(sim_bills_server_t *s)
{
    pthread_mutex_lock(&s->lock);
    s->rejected++;
    pthread_mutex_unlock(&s->lock);
}

static EVP_PKEY *load_key(const char *pem, bool priv)
{
    if (pem == NULL)
        return NULL;
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = priv ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)
                       : PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    if (k == NULL && !priv) {
        BIO_reset(bio);
        X509 *c = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        k = c != NULL ? X509_get_pubkey(c) : NULL;
        X509_free(c);
    }
    BIO_free(bio);
    return k;
}

static bool rsa_verify(EVP_PKEY *key, const void *msg, size_t len, const char *b64)
{
    ps_buf_t sig;
    bool ok = false;
    ps_buf_init(&sig, 1024);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (key != NULL && b64 != NULL &&
        ps_base64_decode(b64, strlen(b64), PS_BASE64_STD, &sig, NULL, 0) == PS_OK)
        ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
             EVP_DigestVerify(ctx, sig.data, sig.len, msg, len) == 1;
    EVP_MD_CTX_free(ctx);
    ps_buf_deinit(&sig);
    return ok;
}

static void rsa_sign_b64(EVP_PKEY *key, const void *msg, size_t len, ps_buf_t *out)
{
    unsigned char sig[1024];
    size_t n = sizeof(sig);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    PS_ASSERT(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
              EVP_DigestSign(ctx, sig, &n, msg, len) == 1);
    EVP_MD_CTX_free(ctx);
    PS_ASSERT(ps_base64_encode(sig, n, PS_BASE64_STD, out) == PS_OK);
}

/* ---- responses ----------------------------------------------------------- */

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const void *body,
                              size_t len, const char *type)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result answer_json(struct MHD_Connection *c, unsigned status, const char *json)
{
    return answer(c, status, json, strlen(json), "application/json");
}

/* ---- WeChat -------------------------------------------------------------- */

/* Value of name="..." inside the Authorization parameters (copied into out). */
static bool auth_param(const char *auth, const char *name, char *out, size_t out_size)
{
    char key[32];
    snprintf(key, sizeof(key), "%s=\"", name);
    const char *p = strstr(auth, key);
    const char *e = p != NULL ? strchr(p + strlen(key), '"') : NULL;
    if (e == NULL || (size_t)(e - p - strlen(key)) >= out_size)
        return false;
    size_t n = (size_t)(e - p - strlen(key));
    memcpy(out, p + strlen(key), n);
    out[n] = '\0';
    return true;
}

static bool wechat_auth_ok(sim_bills_server_t *s, struct MHD_Connection *c, const char *uri)
{
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    char mchid[64], nonce[128], ts[32], serial[128], sig[1024];
    static const char scheme[] = "WECHATPAY2-SHA256-RSA2048 ";

    if (auth == NULL || strncmp(auth, scheme, strlen(scheme)) != 0 ||
        !auth_param(auth, "mchid", mchid, sizeof(mchid)) ||
        !auth_param(auth, "nonce_str", nonce, sizeof(nonce)) ||
        !auth_param(auth, "timestamp", ts, sizeof(ts)) ||
        !auth_param(auth, "serial_no", serial, sizeof(serial)) ||
        !auth_param(auth, "signature", sig, sizeof(sig)) || strcmp(mchid, s->mch_id) != 0)
        return false;
    ps_buf_t m;
    ps_buf_init(&m, 8192);
    bool ok = ps_buf_appendf(&m, "GET\n%s\n%s\n%s\n\n", uri, ts, nonce) == PS_OK &&
              rsa_verify(s->merchant_pub, m.data, m.len, sig);
    ps_buf_deinit(&m);
    return ok;
}

/* A 200 JSON answer signed like WeChat signs API answers (when a platform key is set). */
static enum MHD_Result wechat_signed_answer(sim_bills_server_t *s, struct MHD_Connection *c,
                                            const char *body)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    char ts[24];
    ps_buf_t m, sig;

    MHD_add_response_header(r, "Content-Type", "application/json");
    if (s->platform_priv != NULL) {
        snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
        ps_buf_init(&m, SIM_REQUEST_BODY_MAX);
        ps_buf_init(&sig, 2048);
        ps_buf_appendf(&m, "%s\n%s\n%s\n", ts, "SIMNONCE0123456789", body);
        if (fault(s) == SIM_BILLS_BAD_RESPONSE_SIGN)
            rsa_sign_b64(s->platform_priv, "tampered", 8, &sig);
        else
            rsa_sign_b64(s->platform_priv, m.data, m.len, &sig);
        MHD_add_response_header(r, "Wechatpay-Timestamp", ts);
        MHD_add_response_header(r, "Wechatpay-Nonce", "SIMNONCE0123456789");
        MHD_add_response_header(r, "Wechatpay-Serial", "SIMPLATFORM0001");
        MHD_add_response_header(r, "Wechatpay-Signature", (const char *)sig.data);
        ps_buf_deinit(&m);
        ps_buf_deinit(&sig);
    }
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result wechat_query(sim_bills_server_t *s, struct MHD_Connection *c)
{
    const char *date = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "bill_date");
    const char *tar = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "tar_type");
    sim_bills_fault_t f = fault(s);
    size_t len = 0;
    unsigned char md[SHA_DIGEST_LENGTH];
    char hex[41], body[512];

    if (f == SIM_BILLS_QUERY_404)
        return answer_json(c, 404, "{\"code\":\"NO_STATEMENT_EXIST\",\"message\":\"no bill\"}");
    if (f == SIM_BILLS_QUERY_500)
        return answer_json(c, 500, "{\"code\":\"SYSTEM_ERROR\",\"message\":\"try later\"}");
    uint8_t *bill = get_bill(s, s->wechat, date, &len);
    if (bill == NULL)
        return answer_json(c, 400, "{\"code\":\"NO_STATEMENT_EXIST\",\"message\":\"no bill\"}");
    SHA1(bill, len, md);
    if (f == SIM_BILLS_WRONG_HASH)
        md[0] ^= 1;
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    snprintf(body, sizeof(body),
             "{\"hash_type\":\"SHA1\",\"hash_value\":\"%s\",\"download_url\":"
             "\"%s/v3/billdownload/file?token=%s%s\"}",
             hex, s->url, date, tar != NULL && strcmp(tar, "GZIP") == 0 ? ".gz" : ".csv");
    ps_free(bill);
    return wechat_signed_answer(s, c, body);
}

static enum MHD_Result wechat_download(sim_bills_server_t *s, struct MHD_Connection *c)
{
    const char *token = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
    char date[11] = "";
    size_t len = 0;

    if (fault(s) == SIM_BILLS_DOWNLOAD_404 || token == NULL || strlen(token) < 10)
        return answer_json(c, 404, "{\"code\":\"NOT_FOUND\"}");
    memcpy(date, token, 10);
    uint8_t *bill = get_bill(s, s->wechat, date, &len);
    if (bill == NULL)
        return answer_json(c, 404, "{\"code\":\"NOT_FOUND\"}");
    enum MHD_Result ret;
    if (strcmp(token + 10, ".gz") == 0) {
        ps_buf_t gz;
        ps_buf_init(&gz, len + 1024 * 1024);
        PS_ASSERT(sim_bills_gzip(bill, len, &gz) == PS_OK);
        ret = answer(c, 200, gz.data, gz.len, "application/octet-stream");
        ps_buf_deinit(&gz);
    } else {
        ret = answer(c, 200, bill, len, "text/csv");
    }
    ps_free(bill);
    return ret;
}

/* ---- Alipay -------------------------------------------------------------- */

typedef struct param {
    char *key, *value; /* owned, decoded */
} param_t;

static char *form_decode(const char *s, size_t n)
{
    char *out = ps_malloc(n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            *o++ = ' ';
        } else if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
                   isxdigit((unsigned char)s[i + 2])) {
            char hex[3] = {s[i + 1], s[i + 2], 0};
            *o++ = (char)strtol(hex, NULL, 16);
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

static int cmp_param(const void *a, const void *b)
{
    return strcmp(((const param_t *)a)->key, ((const param_t *)b)->key);
}

/* Splits the form body into decoded, key-sorted parameters; returns the count. */
static size_t parse_form(const char *body, param_t *p)
{
    size_t n = 0;
    const char *s = body;
    while (*s != '\0' && n < SIM_FORM_PARAMS_MAX) {
        const char *amp = strchr(s, '&'), *end = amp != NULL ? amp : s + strlen(s);
        const char *eq = memchr(s, '=', (size_t)(end - s));
        if (eq != NULL) {
            p[n].key = form_decode(s, (size_t)(eq - s));
            p[n].value = form_decode(eq + 1, (size_t)(end - eq - 1));
            n++;
        }
        s = amp != NULL ? amp + 1 : end;
    }
    qsort(p, n, sizeof(*p), cmp_param);
    return n;
}

static const char *param(const param_t *p, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(p[i].key, key) == 0)
            return p[i].value;
    return NULL;
}

/* Answers with {"<response key>": inner, "sign": sign(inner)}. */
static enum MHD_Result alipay_reply(sim_bills_server_t *s, struct MHD_Connection *c,
                                    json_t *inner)
{
    char *text = json_dumps(inner, JSON_COMPACT);
    ps_buf_t sig, body;
    ps_buf_init(&sig, 2048);
    ps_buf_init(&body, 16384);
    if (fault(s) == SIM_BILLS_BAD_RESPONSE_SIGN)
        rsa_sign_b64(s->alipay_priv, "tampered", 8, &sig);
    else
        rsa_sign_b64(s->alipay_priv, text, strlen(text), &sig);
    ps_buf_appendf(&body,
                   "{\"alipay_data_dataservice_bill_downloadurl_query_response\":%s,"
                   "\"sign\":\"%s\"}",
                   text, (const char *)sig.data);
    enum MHD_Result ret = answer(c, 200, body.data, body.len, "application/json;charset=utf-8");
    free(text);
    json_decref(inner);
    ps_buf_deinit(&sig);
    ps_buf_deinit(&body);
    return ret;
}

static bool alipay_sign_ok(sim_bills_server_t *s, const param_t *p, size_t n)
{
    ps_buf_t content;
    ps_buf_init(&content, SIM_REQUEST_BODY_MAX);
    for (size_t i = 0; i < n; i++)
        if (strcmp(p[i].key, "sign") != 0)
            ps_buf_appendf(&content, "%s%s=%s", content.len ? "&" : "", p[i].key, p[i].value);
    bool ok = rsa_verify(s->app_pub, content.data, content.len, param(p, n, "sign"));
    ps_buf_deinit(&content);
    return ok;
}

static enum MHD_Result alipay_query(sim_bills_server_t *s, struct MHD_Connection *c,
                                    const char *body)
{
    param_t p[SIM_FORM_PARAMS_MAX];
    size_t n = parse_form(body, p);
    sim_bills_fault_t f = fault(s);
    const char *method = param(p, n, "method"), *app = param(p, n, "app_id");
    const char *biz = param(p, n, "biz_content");
    json_t *bizj = biz != NULL ? json_loads(biz, 0, NULL) : NULL;
    const char *date = NULL, *type = NULL;
    enum MHD_Result ret;

    if (f == SIM_BILLS_QUERY_404 || f == SIM_BILLS_QUERY_500) {
        ret = answer_json(c, f == SIM_BILLS_QUERY_404 ? 404 : 500, "{}");
    } else if (method == NULL || app == NULL || strcmp(app, s->app_id) != 0 ||
               !alipay_sign_ok(s, p, n)) {
        count_reject(s);
        ret = alipay_reply(s, c,
                           json_pack("{s:s, s:s, s:s}", "code", "40002", "msg",
                                     "Invalid Arguments", "sub_code", "isv.invalid-signature"));
    } else if (bizj == NULL ||
               json_unpack(bizj, "{s:s, s:s}", "bill_type", &type, "bill_date", &date) != 0 ||
               strcmp(type, "trade") != 0 || !have_bill(s, s->alipay, date)) {
        ret = alipay_reply(s, c,
                           json_pack("{s:s, s:s, s:s}", "code", "40004", "msg",
                                     "Business Failed", "sub_code", "isp.bill_not_exist"));
    } else {
        char url[256];
        snprintf(url, sizeof(url), "%s/alipay/bill?token=%s", s->url, date);
        ret = alipay_reply(s, c,
                           json_pack("{s:s, s:s, s:s}", "code", "10000", "msg", "Success",
                                     "bill_download_url", url));
    }
    json_decref(bizj);
    for (size_t i = 0; i < n; i++) {
        ps_free(p[i].key);
        ps_free(p[i].value);
    }
    return ret;
}

static enum MHD_Result alipay_download(sim_bills_server_t *s, struct MHD_Connection *c)
{
    const char *token = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
    size_t len = 0;
    uint8_t *zip = fault(s) == SIM_BILLS_DOWNLOAD_404 ? NULL : get_bill(s, s->alipay, token, &len);
    if (zip == NULL)
        return answer(c, 404, "not found", 9, "text/plain");
    enum MHD_Result ret = answer(c, 200, zip, len, "application/zip");
    ps_free(zip);
    return ret;
}

/* ---- MHD plumbing --------------------------------------------------------- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    req_t *r = ps_calloc(1, sizeof(*r));
    r->uri = ps_strdup(uri);
    ps_buf_init(&r->body, SIM_REQUEST_BODY_MAX);
    return r;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode code)
{
    req_t *r = *con_cls;
    if (r == NULL)
        return;
    ps_free(r->uri);
    ps_buf_deinit(&r->body);
    ps_free(r);
    *con_cls = NULL;
}

static enum MHD_Result route(sim_bills_server_t *s, struct MHD_Connection *c, const char *url,
                             const char *method, req_t *r)
{
    bool get = strcmp(method, "GET") == 0;
    bool wechat = strncmp(url, "/v3/", 4) == 0;

    if (wechat && get && !wechat_auth_ok(s, c, r->uri)) {
        count_reject(s);
        return answer_json(c, 401, "{\"code\":\"SIGN_ERROR\",\"message\":\"bad signature\"}");
    }
    if (get && strcmp(url, "/v3/bill/tradebill") == 0)
        return wechat_query(s, c);
    if (get && strcmp(url, "/v3/billdownload/file") == 0)
        return wechat_download(s, c);
    if (strcmp(method, "POST") == 0 && strcmp(url, "/gateway.do") == 0)
        return alipay_query(s, c, (const char *)r->body.data);
    if (get && strcmp(url, "/alipay/bill") == 0)
        return alipay_download(s, c);
    return answer_json(c, 404, "{\"code\":\"NOT_FOUND\"}");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls)
{
    req_t *r = *con_cls;
    if (!r->started) { /* headers only: wait for the body */
        r->started = true;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (ps_buf_append(&r->body, upload, *upload_size) != PS_OK)
            return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    return route(cls, c, url, method, r);
}

ps_err_t sim_bills_server_start(const sim_bills_server_params_t *p, sim_bills_server_t **out,
                                char *errstr, size_t errstr_size)
{
    PS_ASSERT(p != NULL && out != NULL);
    sim_bills_server_t *s = ps_calloc(1, sizeof(*s));
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};

    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    pthread_mutex_init(&s->lock, NULL);
    snprintf(s->mch_id, sizeof(s->mch_id), "%s", p->wechat_mch_id ? p->wechat_mch_id : "");
    snprintf(s->app_id, sizeof(s->app_id), "%s", p->alipay_app_id ? p->alipay_app_id : "");
    s->merchant_pub = load_key(p->merchant_cert_pem, false);
    s->app_pub = load_key(p->app_public_key_pem, false);
    s->alipay_priv = load_key(p->alipay_private_key_pem, true);
    s->platform_priv = load_key(p->platform_private_key_pem, true);
    s->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_request, s,
                              MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                              MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
                              MHD_OPTION_NOTIFY_COMPLETED, on_done, s, MHD_OPTION_END);
    if (s->mhd == NULL) {
        sim_bills_server_stop(s);
        return ps_errstr_set(errstr, errstr_size, PS_ERR_IO, "could not start bill simulator");
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%u", (unsigned)info->port);
    *out = s;
    return PS_OK;
}

void sim_bills_server_stop(sim_bills_server_t *s)
{
    if (s == NULL)
        return;
    if (s->mhd != NULL)
        MHD_stop_daemon(s->mhd);
    for (int i = 0; i < SIM_BILLS_DATES_MAX; i++) {
        ps_free(s->wechat[i].data);
        ps_free(s->alipay[i].data);
    }
    EVP_PKEY_free(s->merchant_pub);
    EVP_PKEY_free(s->app_pub);
    EVP_PKEY_free(s->alipay_priv);
    EVP_PKEY_free(s->platform_priv);
    pthread_mutex_destroy(&s->lock);
    ps_free(s);
}

const char *sim_bills_server_url(const sim_bills_server_t *s)
{
    return s->url;
}

void sim_bills_server_set_wechat_bill(sim_bills_server_t *s, const char *bill_date,
                                      const uint8_t *csv, size_t len)
{
    set_bill(s, s->wechat, bill_date, csv, len);
}

void sim_bills_server_set_alipay_bill(sim_bills_server_t *s, const char *bill_date,
                                      const uint8_t *zip, size_t len)
{
    set_bill(s, s->alipay, bill_date, zip, len);
}

void sim_bills_server_set_fault(sim_bills_server_t *s, sim_bills_fault_t f)
{
    pthread_mutex_lock(&s->lock);
    s->fault = f;
    pthread_mutex_unlock(&s->lock);
}

int sim_bills_server_rejected(const sim_bills_server_t *s)
{
    pthread_mutex_lock((pthread_mutex_t *)&s->lock);
    int n = s->rejected;
    pthread_mutex_unlock((pthread_mutex_t *)&s->lock);
    return n;
}
