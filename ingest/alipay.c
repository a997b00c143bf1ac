/*
 * The Alipay verifier (see alipay.h for the rules, labels and mapping).
 *
 * Keys are parsed once at start-up, and for each one a digest-verify context
 * is prepared (EVP_DigestVerifyInit with SHA-256); a request copies that
 * context for every candidate string instead of building one from scratch,
 * which costs half an RSA verify (reference/performance.md). The verifier is
 * immutable after ingest_alipay_new, so requests share it without locks;
 * everything a request allocates lives in its own stack frame or its event.
 */
#include "alipay.h"

#include "charset.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <paystream/assert.h>
#include <paystream/avro.h>
#include <paystream/base64.h>
#include <paystream/limits.h>
#include <paystream/mem.h>
#include <paystream/money.h>
#include <paystream/timeparse.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The current key and, during a rotation, the previous one. */
#define ALIPAY_KEYS_MAX 2
/* "alipay-public-key:" plus 16 hex digits of the key's SHA-256, and a NUL. */
#define ALIPAY_KEY_ID_BYTES 48
/* A string to sign is the decoded body plus at most "sign_type=RSA2&". */
#define ALIPAY_SIGN_CONTENT_BYTES_MAX (PS_FORM_INPUT_BYTES_MAX + 32)
/* Asia/Shanghai has been UTC+08:00 without daylight saving since 1991. */
#define ALIPAY_UTC_OFFSET_MINUTES 480
#define ALIPAY_SIGN_TYPE "RSA2"
#define ALIPAY_CURRENCY "CNY"
#define ALIPAY_TRADE_NOTIFY_TYPE "trade_status_sync"

typedef struct alipay_key {
    EVP_PKEY *pkey;
    EVP_MD_CTX *prepared; /* DigestVerifyInit done; copied, never used directly */
    char id[ALIPAY_KEY_ID_BYTES];
} alipay_key_t;

struct ingest_alipay {
    bool enabled;
    char *app_id;    /* owned */
    char *seller_id; /* owned; "" means not checked */
    char *account_param; /* owned: ingest.account_param, the passback_params key of the account */
    alipay_key_t keys[ALIPAY_KEYS_MAX];
    size_t key_count;
};

/* The OpenSSL reason of the last failure (and a clean queue for the next call). */
static const char *openssl_reason(char *buf, size_t size)
{
    unsigned long e = ERR_peek_last_error();

    if (e == 0)
        snprintf(buf, size, "no OpenSSL reason");
    else
        ERR_error_string_n(e, buf, size);
    ERR_clear_error();
    return buf;
}

static ps_err_t read_key_file(const char *path, ps_buf_t *out, char *errstr, size_t errstr_size)
{
    char chunk[4096];
    size_t n;
    ps_err_t err = PS_OK;
    FILE *f = fopen(path, "rb");

    if (f == NULL)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                             "could not open alipay public key file \"%s\": %s", path,
                             strerror(errno));
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (ps_buf_append(out, chunk, n) != PS_OK) {
            err = ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                                "alipay public key file \"%s\" exceeds %d bytes", path,
                                PS_ALIPAY_KEY_FILE_BYTES_MAX);
            goto out;
        }
    }
    if (ferror(f))
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                            "could not read alipay public key file \"%s\"", path);
out:
    fclose(f);
    return err;
}

/* The console shows the key as bare base64 SPKI; accept it without PEM armour. */
static EVP_PKEY *parse_bare_spki(const ps_buf_t *text)
{
    ps_buf_t der;
    char *b64 = ps_malloc(text->len + 1);
    size_t n = 0;
    const unsigned char *p;
    EVP_PKEY *key = NULL;

    for (size_t i = 0; i < text->len; i++) {
        char c = (char)text->data[i];
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
            b64[n++] = c;
    }
    ps_buf_init(&der, PS_ALIPAY_KEY_FILE_BYTES_MAX);
    if (ps_base64_decode(b64, n, PS_BASE64_STD, &der, NULL, 0) == PS_OK && der.len > 0) {
        p = der.data;
        key = d2i_PUBKEY(NULL, &p, (long)der.len);
        if (key != NULL && p != der.data + der.len) {
            EVP_PKEY_free(key); /* trailing bytes: not one clean key */
            key = NULL;
        }
    }
    ps_buf_deinit(&der);
    ps_free(b64);
    return key;
}

ps_err_t ingest_alipay_load_public_key(const char *path, EVP_PKEY **key_out, char *errstr,
                                       size_t errstr_size)
{
    ps_buf_t text;
    BIO *bio = NULL;
    EVP_PKEY *key = NULL;
    char why[256];
    ps_err_t err;

    PS_ASSERT(path != NULL && key_out != NULL);
    ps_buf_init(&text, PS_ALIPAY_KEY_FILE_BYTES_MAX);
    err = read_key_file(path, &text, errstr, errstr_size);
    if (err != PS_OK)
        goto out;
    if (text.len > 0 && strstr((const char *)text.data, "-----BEGIN") != NULL) {
        bio = BIO_new_mem_buf(text.data, (int)text.len);
        PS_ASSERT(bio != NULL);
        key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    } else {
        key = parse_bare_spki(&text);
    }
    if (key == NULL) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                            "could not load alipay public key \"%s\": not a PEM or base64 "
                            "public key (%s)",
                            path, openssl_reason(why, sizeof(why)));
        goto out;
    }
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA ||
        EVP_PKEY_get_bits(key) < PS_ALIPAY_RSA_BITS_MIN) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                            "could not load alipay public key \"%s\": RSA2 needs an RSA key of "
                            "at least %d bits, got %s of %d bits",
                            path, PS_ALIPAY_RSA_BITS_MIN,
                            EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA ? "RSA" : "another type",
                            EVP_PKEY_get_bits(key));
        goto out;
    }
    *key_out = key;
    key = NULL; /* transferred */
out:
    EVP_PKEY_free(key);
    BIO_free(bio);
    ps_buf_deinit(&text);
    return err;
}

/* A stable id for the evidence: which key verified, without printing the key. */
static void key_id_of(EVP_PKEY *pkey, char *out, size_t out_size)
{
    unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    int der_len = i2d_PUBKEY(pkey, &der);

    PS_ASSERT(der_len > 0);
    PS_ASSERT(EVP_Digest(der, (size_t)der_len, md, &md_len, EVP_sha256(), NULL) == 1);
    OPENSSL_free(der);
    snprintf(out, out_size, "alipay-public-key:%02x%02x%02x%02x%02x%02x%02x%02x", md[0], md[1],
             md[2], md[3], md[4], md[5], md[6], md[7]);
}

static ps_err_t add_key(ingest_alipay_t *v, const char *path, char *errstr, size_t errstr_size)
{
    alipay_key_t *k = &v->keys[v->key_count];
    char why[256];
    ps_err_t err;

    PS_ASSERT(v->key_count < ALIPAY_KEYS_MAX);
    err = ingest_alipay_load_public_key(path, &k->pkey, errstr, errstr_size);
    if (err != PS_OK)
        return err;
    v->key_count++;
    key_id_of(k->pkey, k->id, sizeof(k->id));
    k->prepared = EVP_MD_CTX_new();
    PS_ASSERT(k->prepared != NULL);
    if (EVP_DigestVerifyInit(k->prepared, NULL, EVP_sha256(), NULL, k->pkey) != 1)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                             "could not prepare alipay public key \"%s\": %s", path,
                             openssl_reason(why, sizeof(why)));
    return PS_OK;
}

ps_err_t ingest_alipay_new(const ps_config_t *cfg, ingest_alipay_t **out, char *errstr,
                           size_t errstr_size)
{
    const char *key_path = ps_config_get_str(cfg, "alipay.public_key_file");
    const char *prev_path = ps_config_get_str(cfg, "alipay.previous_public_key_file");
    ingest_alipay_t *v = ps_calloc(1, sizeof(*v));
    ps_err_t err = PS_OK;

    PS_ASSERT(out != NULL);
    v->app_id = ps_strdup(ps_config_get_str(cfg, "alipay.app_id"));
    v->seller_id = ps_strdup(ps_config_get_str(cfg, "alipay.seller_id"));
    v->account_param = ps_strdup(ps_config_get_str(cfg, "ingest.account_param"));
    if (key_path[0] == '\0') {
        if (prev_path[0] != '\0')
            err = ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                                "alipay.previous_public_key_file is set but "
                                "alipay.public_key_file is empty");
        goto out; /* disabled: the channel is not configured */
    }
    if (v->app_id[0] == '\0') {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                            "alipay.app_id must be set when alipay.public_key_file is");
        goto out;
    }
    err = add_key(v, key_path, errstr, errstr_size);
    if (err == PS_OK && prev_path[0] != '\0')
        err = add_key(v, prev_path, errstr, errstr_size);
    v->enabled = err == PS_OK;
out:
    if (err != PS_OK) {
        ingest_alipay_destroy(v);
        return err;
    }
    *out = v;
    return PS_OK;
}

void ingest_alipay_destroy(ingest_alipay_t *v)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < v->key_count; i++) {
        EVP_MD_CTX_free(v->keys[i].prepared);
        EVP_PKEY_free(v->keys[i].pkey);
    }
    ps_free(v->app_id);
    ps_free(v->seller_id);
    ps_free(v->account_param);
    ps_free(v);
}

bool ingest_alipay_ready(const ingest_alipay_t *v)
{
    return v != NULL && v->enabled && v->key_count > 0;
}

static ps_err_t append_pair(ps_buf_t *out, bool *first, const char *key, size_t key_len,
                            const char *value, size_t value_len)
{
    ps_err_t err = *first ? PS_OK : ps_buf_append(out, "&", 1);

    *first = false;
    if (err == PS_OK)
        err = ps_buf_append(out, key, key_len);
    if (err == PS_OK)
        err = ps_buf_append(out, "=", 1);
    if (err == PS_OK)
        err = ps_buf_append(out, value, value_len);
    return err;
}

ps_err_t ingest_alipay_sign_content(const ingest_form_t *form, ingest_alipay_rule_t rule,
                                    bool drop_empty, ps_buf_t *out)
{
    /* Under V2 an absent sign_type is signed as RSA2 (what the SDKs re-add). */
    bool add_type = rule == INGEST_ALIPAY_RULE_V2 && ingest_form_find(form, "sign_type") == NULL;
    bool first = true;
    ps_err_t err = PS_OK;

    PS_ASSERT(form != NULL && out != NULL);
    for (size_t i = 0; i < form->count && err == PS_OK; i++) {
        const ingest_form_param_t *p = &form->params[i];

        if (add_type && strcmp(p->key, "sign_type") > 0) {
            err = append_pair(out, &first, "sign_type", 9, ALIPAY_SIGN_TYPE, 4);
            add_type = false;
        }
        if (err != PS_OK || strcmp(p->key, "sign") == 0)
            continue;
        if (rule == INGEST_ALIPAY_RULE_V1 && strcmp(p->key, "sign_type") == 0)
            continue;
        if (drop_empty && p->value_len == 0)
            continue;
        err = append_pair(out, &first, p->key, p->key_len, p->value, p->value_len);
    }
    if (err == PS_OK && add_type)
        err = append_pair(out, &first, "sign_type", 9, ALIPAY_SIGN_TYPE, 4);
    return err;
}

/* One signature check with a copy of a prepared context (thread-safe). */
static bool verify_prepared(const alipay_key_t *k, const ps_buf_t *content, const ps_buf_t *sig)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok;

    PS_ASSERT(ctx != NULL);
    ok = EVP_MD_CTX_copy_ex(ctx, k->prepared) == 1;
    /* The copy is used once: its final step need not work on yet another
     * copy (OpenSSL 3 duplicates the context unless told so). */
    EVP_MD_CTX_set_flags(ctx, EVP_MD_CTX_FLAG_FINALISE);
    ok = ok && EVP_DigestVerifyUpdate(ctx, content->data, content->len) == 1 &&
         EVP_DigestVerifyFinal(ctx, sig->data, sig->len) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        ERR_clear_error(); /* a mismatch is an answer, not an error to keep */
    return ok;
}

ps_err_t ingest_alipay_rsa2_verify(EVP_PKEY *key, const void *content, size_t len,
                                   const char *sign_b64, size_t sign_len, char *errstr,
                                   size_t errstr_size)
{
    ps_buf_t sig;
    EVP_MD_CTX *ctx = NULL;
    char why[256];
    ps_err_t err;

    PS_ASSERT(key != NULL && (content != NULL || len == 0) && sign_b64 != NULL);
    ps_buf_init(&sig, PS_ALIPAY_SIGNATURE_BYTES_MAX);
    err = ps_base64_decode(sign_b64, sign_len, PS_BASE64_STD, &sig, errstr, errstr_size);
    if (err != PS_OK) {
        err = ps_errstr_prefix(errstr, errstr_size, PS_ERR_INVALID, "bad base64 signature");
        goto out;
    }
    ctx = EVP_MD_CTX_new();
    PS_ASSERT(ctx != NULL);
    if (EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestVerifyUpdate(ctx, content, len) != 1 ||
        EVP_DigestVerifyFinal(ctx, sig.data, sig.len) != 1)
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO,
                            "RSA2 signature does not verify: %s",
                            openssl_reason(why, sizeof(why)));
out:
    EVP_MD_CTX_free(ctx);
    ps_buf_deinit(&sig);
    return err;
}

/* Tries every candidate string with every key; *key_out is the one that verified. */
static bool verify_candidates(const ingest_alipay_t *v, const ingest_form_t *form,
                              const ps_buf_t *sig, const alipay_key_t **key_out)
{
    static const ingest_alipay_rule_t rules[] = {INGEST_ALIPAY_RULE_V1, INGEST_ALIPAY_RULE_V2};
    bool has_empty = false, ok = false;
    ps_buf_t content;

    for (size_t i = 0; i < form->count; i++)
        has_empty |= form->params[i].value_len == 0;
    ps_buf_init(&content, ALIPAY_SIGN_CONTENT_BYTES_MAX);
    for (int drop = 0; drop <= (has_empty ? 1 : 0) && !ok; drop++) {
        for (size_t r = 0; r < sizeof(rules) / sizeof(rules[0]) && !ok; r++) {
            ps_buf_reset(&content);
            /* The form is bounded below the cap, so this cannot fail. */
            PS_ASSERT(ingest_alipay_sign_content(form, rules[r], drop, &content) == PS_OK);
            for (size_t k = 0; k < v->key_count && !ok; k++) {
                ok = verify_prepared(&v->keys[k], &content, sig);
                if (ok)
                    *key_out = &v->keys[k];
            }
        }
    }
    ps_buf_deinit(&content);
    return ok;
}

/* Per-request state while a notification is checked and normalized. */
typedef struct alipay_req {
    const ingest_alipay_t *v;
    const ingest_request_t *req;
    ingest_result_t *res;
    ingest_form_t form;
    ingest_charset_t cs;
    const alipay_key_t *key; /* the key that verified */
} alipay_req_t;

/* Sets a verdict other than ACCEPT and returns false, so steps read
 * `return stop(r, INGEST_REJECT, "bad_amount", "...")`. */
static bool stop(alipay_req_t *r, ingest_verdict_t verdict, const char *label, const char *fmt,
                 ...) __attribute__((format(printf, 4, 5)));
static bool stop(alipay_req_t *r, ingest_verdict_t verdict, const char *label, const char *fmt,
                 ...)
{
    char msg[PS_ERRSTR_SIZE];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ingest_reject(r->res, label, "%s", msg);
    r->res->verdict = verdict;
    return false;
}

#define REJECT(r, ...) stop((r), INGEST_REJECT, __VA_ARGS__)

/* The signature gate: sign present, sign_type RSA2, a candidate verifies. */
static bool check_signature(alipay_req_t *r)
{
    const char *sign = ingest_form_get(&r->form, "sign");
    const char *sign_type = ingest_form_get(&r->form, "sign_type");
    char msg[PS_ERRSTR_SIZE], quoted[64];
    ps_buf_t sig;
    bool ok;

    if (sign == NULL || sign[0] == '\0')
        return REJECT(r, "missing_signature", "alipay notification has no \"sign\" parameter");
    if (sign_type != NULL && strcmp(sign_type, ALIPAY_SIGN_TYPE) != 0) {
        ingest_form_quote(sign_type, strlen(sign_type), quoted, sizeof(quoted));
        return REJECT(r, "unsupported_sign_type",
                      "alipay notification has sign_type \"%s\": only RSA2 is accepted", quoted);
    }
    ps_buf_init(&sig, PS_ALIPAY_SIGNATURE_BYTES_MAX);
    if (ps_base64_decode(sign, strlen(sign), PS_BASE64_STD, &sig, msg, sizeof(msg)) != PS_OK) {
        ps_buf_deinit(&sig);
        return REJECT(r, "bad_base64", "alipay notification \"sign\" is not valid base64: %s",
                      msg);
    }
    ok = verify_candidates(r->v, &r->form, &sig, &r->key);
    ps_buf_deinit(&sig);
    if (!ok)
        return REJECT(r, "bad_signature", "alipay notification signature does not verify with %s",
                      r->v->key_count > 1 ? "either configured key" : "the configured key");
    return true;
}

/* The charset is signed; every name and value must be valid in it. */
static bool check_encoding(alipay_req_t *r)
{
    const char *name = ingest_form_get(&r->form, "charset");
    char msg[PS_ERRSTR_SIZE];
    ps_buf_t scratch;
    bool ok = true;

    r->cs = INGEST_CHARSET_UTF8; /* no charset parameter: utf-8, the SDK default */
    if (name != NULL && ingest_charset_parse(name, &r->cs, msg, sizeof(msg)) != PS_OK)
        return REJECT(r, "bad_encoding", "alipay notification: %s", msg);
    ps_buf_init(&scratch, 2 * PS_FORM_INPUT_BYTES_MAX + 16);
    for (size_t i = 0; i < r->form.count && ok; i++) {
        const ingest_form_param_t *p = &r->form.params[i];

        ps_buf_reset(&scratch);
        if (ingest_charset_to_utf8(r->cs, p->key, p->key_len, &scratch, msg, sizeof(msg)) !=
                PS_OK ||
            ingest_charset_to_utf8(r->cs, p->value, p->value_len, &scratch, msg,
                                   sizeof(msg)) != PS_OK)
            ok = REJECT(r, "bad_encoding", "alipay notification parameter %zu is not valid %s: %s",
                        i + 1, ingest_charset_name(r->cs), msg);
    }
    ps_buf_deinit(&scratch);
    return ok;
}

/* An owned UTF-8 copy of a value that check_encoding already accepted. */
static char *utf8_copy(const alipay_req_t *r, const char *s)
{
    size_t len = strlen(s);
    ps_buf_t b;

    ps_buf_init(&b, 2 * len + 16);
    PS_ASSERT(ingest_charset_to_utf8(r->cs, s, len, &b, NULL, 0) == PS_OK);
    return (char *)ps_buf_steal(&b, NULL);
}

/* A value that must be present and non-empty, or NULL after a REJECT. */
static const char *required(alipay_req_t *r, const char *key)
{
    const char *value = ingest_form_get(&r->form, key);

    if (value == NULL || value[0] == '\0') {
        REJECT(r, "missing_field", "alipay notification has no \"%s\"", key);
        return NULL;
    }
    return value;
}

/* app_id (and seller_id when configured) name this merchant. */
static bool check_identity(alipay_req_t *r)
{
    const char *app_id = required(r, "app_id");
    const char *seller_id = ingest_form_get(&r->form, "seller_id");
    char quoted[96];

    if (app_id == NULL)
        return false;
    if (strcmp(app_id, r->v->app_id) != 0) {
        ingest_form_quote(app_id, strlen(app_id), quoted, sizeof(quoted));
        return REJECT(r, "wrong_app_id",
                      "alipay notification is for app_id \"%s\", expected \"%s\"", quoted,
                      r->v->app_id);
    }
    if (r->v->seller_id[0] != '\0' &&
        (seller_id == NULL || strcmp(seller_id, r->v->seller_id) != 0))
        return REJECT(r, "wrong_seller_id", "alipay notification seller_id is %s, expected \"%s\"",
                      seller_id == NULL ? "missing" : "another merchant's", r->v->seller_id);
    return true;
}

/* Positive CNY minor units from decimal yuan text. */
static bool parse_amount(alipay_req_t *r, const char *key, const char *s, int64_t *minor_out)
{
    char msg[PS_ERRSTR_SIZE];

    if (ps_money_parse_decimal(s, strlen(s), ALIPAY_CURRENCY, minor_out, msg, sizeof(msg)) !=
        PS_OK)
        return REJECT(r, "bad_amount", "alipay notification %s: %s", key, msg);
    if (*minor_out <= 0)
        return REJECT(r, "bad_amount", "alipay notification %s must be positive", key);
    return true;
}

static bool parse_time(alipay_req_t *r, const char *key, const char *s, int64_t *us_out)
{
    char msg[PS_ERRSTR_SIZE];

    if (ps_time_parse_local(s, strlen(s), ALIPAY_UTC_OFFSET_MINUTES, us_out, msg, sizeof(msg)) !=
        PS_OK)
        return REJECT(r, "bad_time", "alipay notification %s: %s", key, msg);
    return true;
}

/* Domestic notifications carry no currency; a foreign one is not guessed at. */
static bool check_currency(alipay_req_t *r)
{
    static const char *const keys[] = {"trans_currency", "settle_currency"};
    char quoted[32];

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const char *c = ingest_form_get(&r->form, keys[i]);

        if (c != NULL && strcmp(c, ALIPAY_CURRENCY) != 0) {
            ingest_form_quote(c, strlen(c), quoted, sizeof(quoted));
            return REJECT(r, "bad_currency",
                          "alipay notification %s is \"%s\": only CNY notifications are booked",
                          keys[i], quoted);
        }
    }
    return true;
}

/*
 * Account id: passback_params, decoded once more, parsed as k=v&..., the ingest.account_param key.
 * A payment must name its account. Refund and close notifications may lack
 * passback_params (conformance A2, A3): the account is then "" and the
 * processor finds it through the payment's merchant order number.
 */
static bool take_account(alipay_req_t *r, bool required, char **account_out)
{
    const char *pp = ingest_form_get(&r->form, "passback_params");
    const char *acct;
    char msg[PS_ERRSTR_SIZE];
    ps_buf_t decoded, utf8;
    ingest_form_t inner;
    bool ok = false;

    if ((pp == NULL || pp[0] == '\0') && !required) {
        *account_out = ps_strdup("");
        return true;
    }
    if (pp == NULL || pp[0] == '\0')
        return REJECT(r, "missing_account", "alipay payment notification has no passback_params");
    ps_buf_init(&decoded, PS_FORM_INPUT_BYTES_MAX);
    ps_buf_init(&utf8, 2 * PS_ACCOUNT_ID_BYTES_MAX + 16);
    ingest_form_init(&inner);
    if (ingest_form_decode_component(pp, strlen(pp), &decoded, msg, sizeof(msg)) != PS_OK ||
        ingest_form_parse((const char *)decoded.data, decoded.len, &inner, msg, sizeof(msg)) !=
            PS_OK) {
        REJECT(r, "bad_account", "alipay notification passback_params is not a k=v form: %s", msg);
        goto out;
    }
    acct = ingest_form_get(&inner, r->v->account_param);
    if (acct == NULL || acct[0] == '\0') {
        REJECT(r, "missing_account", "alipay notification passback_params has no \"%s\"",
               r->v->account_param);
        goto out;
    }
    if (strlen(acct) > PS_ACCOUNT_ID_BYTES_MAX) {
        REJECT(r, "bad_account", "alipay notification account id is longer than %d bytes",
               PS_ACCOUNT_ID_BYTES_MAX);
        goto out;
    }
    if (ingest_charset_to_utf8(r->cs, acct, strlen(acct), &utf8, msg, sizeof(msg)) != PS_OK) {
        REJECT(r, "bad_encoding", "alipay notification account id: %s", msg);
        goto out;
    }
    *account_out = (char *)ps_buf_steal(&utf8, NULL);
    ok = true;
out:
    ingest_form_deinit(&inner);
    ps_buf_deinit(&utf8);
    ps_buf_deinit(&decoded);
    return ok;
}

/* trade_status (and refund_fee) -> event kind; WAIT_BUYER_PAY is acknowledged only. */
static bool classify(alipay_req_t *r, const char *status, bool refund, ps_event_kind_t *kind)
{
    char quoted[64];

    if (strcmp(status, "TRADE_SUCCESS") == 0 || strcmp(status, "TRADE_FINISHED") == 0)
        *kind = refund ? PS_EVENT_REFUND_SUCCEEDED : PS_EVENT_PAYMENT_SUCCEEDED;
    else if (strcmp(status, "TRADE_CLOSED") == 0)
        *kind = refund ? PS_EVENT_REFUND_SUCCEEDED : PS_EVENT_PAYMENT_CLOSED;
    else if (strcmp(status, "WAIT_BUYER_PAY") == 0)
        return stop(r, INGEST_ACK_ONLY, "wait_buyer_pay",
                    "alipay notification WAIT_BUYER_PAY carries no money movement");
    else {
        ingest_form_quote(status, strlen(status), quoted, sizeof(quoted));
        return REJECT(r, "unknown_trade_status",
                      "alipay notification has unknown trade_status \"%s\"", quoted);
    }
    return true;
}

/* Amounts: the payment's total, and for refunds the cumulative refund_fee. */
static bool take_money(alipay_req_t *r, ps_callback_event_t *ev)
{
    const char *total = required(r, "total_amount");
    const char *refund_fee = ingest_form_get(&r->form, "refund_fee");
    const char *out_biz_no;

    if (total == NULL || !parse_amount(r, "total_amount", total, &ev->amount_minor) ||
        !check_currency(r))
        return false;
    memcpy(ev->currency, ALIPAY_CURRENCY, sizeof(ALIPAY_CURRENCY));
    if (ev->kind != PS_EVENT_REFUND_SUCCEEDED)
        return true;
    if (!parse_amount(r, "refund_fee", refund_fee, &ev->refund_total_minor))
        return false;
    if (ev->refund_total_minor > ev->amount_minor)
        return REJECT(r, "bad_amount", "alipay notification refund_fee exceeds total_amount");
    ev->has_refund_total = true;
    out_biz_no = required(r, "out_biz_no");
    if (out_biz_no == NULL)
        return false;
    ev->refund_id = utf8_copy(r, out_biz_no);
    return true;
}

/* Evidence: the exact body, Content-Type as received, and the key that verified. */
static void take_evidence(alipay_req_t *r, ps_callback_event_t *ev)
{
    ev->raw_body = ps_memdup(r->req->body, r->req->body_len);
    ev->raw_body_len = r->req->body_len;
    for (size_t i = 0; i < r->req->header_count; i++) {
        if (strcasecmp(r->req->headers[i].name, "Content-Type") == 0) {
            ev->headers = ps_calloc(1, sizeof(*ev->headers));
            ev->headers[0].name = ps_strdup(r->req->headers[i].name);
            ev->headers[0].value = ps_strdup(r->req->headers[i].value);
            ev->header_count = 1;
            break;
        }
    }
    ev->key_id = ps_strdup(r->key->id);
}

/* Builds the event of a verified trade_status_sync notification. */
static bool build_event(alipay_req_t *r)
{
    ps_callback_event_t *ev = &r->res->ev;
    const char *status = required(r, "trade_status");
    const char *ids[3], *gmt_payment = ingest_form_get(&r->form, "gmt_payment");
    const char *notify_time;
    char msg[PS_ERRSTR_SIZE];

    if (status == NULL ||
        !classify(r, status, ingest_form_get(&r->form, "refund_fee") != NULL, &ev->kind))
        return false;
    ev->channel = PS_CHANNEL_ALIPAY;
    if ((ids[0] = required(r, "notify_id")) == NULL ||
        (ids[1] = required(r, "out_trade_no")) == NULL ||
        (ids[2] = required(r, "trade_no")) == NULL ||
        (notify_time = required(r, "notify_time")) == NULL || !take_money(r, ev) ||
        !parse_time(r, "notify_time", notify_time, &ev->event_time_us))
        return false;
    if (gmt_payment != NULL) {
        if (!parse_time(r, "gmt_payment", gmt_payment, &ev->paid_time_us))
            return false;
        ev->has_paid_time = true;
    }
    if (!take_account(r, ev->kind == PS_EVENT_PAYMENT_SUCCEEDED, &ev->account_id))
        return false;
    ev->channel_event_id = utf8_copy(r, ids[0]);
    ev->merchant_order_no = utf8_copy(r, ids[1]);
    ev->channel_txn_id = utf8_copy(r, ids[2]);
    ev->channel_event_type = utf8_copy(r, status);
    take_evidence(r, ev);
    if (ps_avro_validate_callback_event(ev, msg, sizeof(msg)) != PS_OK)
        return REJECT(r, "bad_field", "alipay notification does not fit a callback event: %s",
                      msg);
    r->res->verdict = INGEST_ACCEPT;
    r->res->reason_label = NULL;
    r->res->reason[0] = '\0';
    return true;
}

ps_err_t ingest_alipay_verify(ingest_alipay_t *v, const ingest_request_t *req,
                              ingest_result_t *res)
{
    alipay_req_t r = {.v = v, .req = req, .res = res};
    const char *notify_type;
    char msg[PS_ERRSTR_SIZE], quoted[64];

    PS_ASSERT(v != NULL && req != NULL && res != NULL);
    PS_ASSERT(req->body != NULL || req->body_len == 0);
    memset(res, 0, sizeof(*res));
    ingest_form_init(&r.form);
    if (!v->enabled) {
        REJECT(&r, "channel_disabled",
               "alipay channel is disabled: alipay.public_key_file is empty");
        goto out;
    }
    if (req->body_len > PS_ALIPAY_BODY_BYTES_MAX) {
        REJECT(&r, "body_too_large", "alipay notification body of %zu bytes exceeds %d bytes",
               req->body_len, PS_ALIPAY_BODY_BYTES_MAX);
        goto out;
    }
    if (ingest_form_parse((const char *)req->body, req->body_len, &r.form, msg, sizeof(msg)) !=
        PS_OK) {
        REJECT(&r, "bad_form", "alipay notification body is not a valid form: %s", msg);
        goto out;
    }
    if (!check_signature(&r) || !check_encoding(&r) || !check_identity(&r))
        goto out;
    notify_type = required(&r, "notify_type");
    if (notify_type == NULL)
        goto out;
    if (strcmp(notify_type, ALIPAY_TRADE_NOTIFY_TYPE) != 0) {
        ingest_form_quote(notify_type, strlen(notify_type), quoted, sizeof(quoted));
        stop(&r, INGEST_ACK_ONLY, "unsupported_notify_type",
             "alipay notification of type \"%s\" is verified but not booked", quoted);
        goto out;
    }
    build_event(&r);
out:
    ingest_form_deinit(&r.form);
    return PS_OK;
}
