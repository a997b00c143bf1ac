/*
 * Apple App Store Server Notifications V2 verifier (see apple.h): the body,
 * the outer and nested JWS, the app binding and the mapping to a
 * CallbackEvent. Form checks live in jws.c and trust in x5c.c; this file
 * decides what a verified payload means for the ledger. Payloads are read
 * with the strict reader of paystream/json.h (a third of an Apple
 * verification was jansson building trees for a handful of fields).
 */
#include "apple.h"

#include "jws.h"
#include "x5c.h"

#include <paystream/assert.h>
#include <paystream/buf.h>
#include <paystream/json.h>
#include <paystream/mem.h>
#include <paystream/money.h>

#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

/* Apple dates are ms since the epoch; 9999-12-31T23:59:59.999Z bounds them so
 * that the conversion to microseconds cannot overflow. */
#define APPLE_DATE_MS_MAX INT64_C(253402300799999)
/* revocationPercentage is in milli-percent: 100000 is a full refund. */
#define APPLE_PERCENT_FULL INT64_C(100000)
/* appAccountToken is a UUID in its 36-character text form. */
#define APPLE_UUID_CHARS 36

struct ingest_apple {
    bool enabled;
    ingest_x5c_t *x5c;
    char *bundle_id;      /* owned */
    bool production;      /* else Sandbox */
    int64_t app_apple_id; /* 0: unset (Sandbox only) */
};

static ps_err_t read_file(const char *path, ps_buf_t *out, char *errstr, size_t errstr_size)
{
    FILE *f = fopen(path, "rb");
    uint8_t chunk[4096];
    size_t n;
    ps_err_t err = PS_OK;

    if (f == NULL)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG, "could not open \"%s\": %s",
                             path, strerror(errno));
    while (err == PS_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        err = ps_buf_append(out, chunk, n);
    if (err != PS_OK)
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                            "\"%s\" exceeds the %zu-byte bound", path, out->max);
    else if (ferror(f))
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG, "could not read \"%s\"", path);
    fclose(f);
    return err;
}

/* Reads the enabled-channel settings; roots are loaded by the caller. */
static ps_err_t read_settings(const ps_config_t *cfg, ingest_apple_t *v, char *errstr,
                              size_t errstr_size)
{
    const char *bundle_id = ps_config_get_str(cfg, "apple.bundle_id");

    if (bundle_id[0] == '\0')
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                             "apple.bundle_id must be set when apple.root_cert_file is");
    v->bundle_id = ps_strdup(bundle_id);
    v->production = strcmp(ps_config_get_str(cfg, "apple.environment"), "Production") == 0;
    v->app_apple_id = ps_config_get_int(cfg, "apple.app_apple_id");
    /* As the SDK: without the app id a Production verifier cannot bind notifications. */
    if (v->production && v->app_apple_id == 0)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                             "apple.app_apple_id must be set for apple.environment "
                             "\"Production\"");
    return PS_OK;
}

ps_err_t ingest_apple_new(const ps_config_t *cfg, ingest_apple_t **out, char *errstr,
                          size_t errstr_size)
{
    ingest_apple_t *v = ps_calloc(1, sizeof(*v));
    const char *root_path = ps_config_get_str(cfg, "apple.root_cert_file");
    int64_t cache_entries = ps_config_get_int(cfg, "apple.chain_cache_entries");
    ps_buf_t roots;
    ps_err_t err = PS_OK;

    ps_buf_init(&roots, PS_APPLE_ROOT_FILE_BYTES_MAX);
    if (root_path[0] == '\0')
        goto done; /* channel not configured: disabled, not an error */
    err = read_settings(cfg, v, errstr, errstr_size);
    if (err == PS_OK)
        err = read_file(root_path, &roots, errstr, errstr_size);
    if (err == PS_OK) {
        if (cache_entries > PS_APPLE_CHAIN_CACHE_ENTRIES_MAX)
            cache_entries = PS_APPLE_CHAIN_CACHE_ENTRIES_MAX;
        err = ingest_x5c_new(roots.data, roots.len, ps_config_get_bool(cfg, "apple.x509_strict"),
                             (size_t)cache_entries, &v->x5c, errstr, errstr_size);
        if (err != PS_OK)
            err = ps_errstr_prefix(errstr, errstr_size, PS_ERR_CONFIG,
                                   "could not load apple.root_cert_file \"%s\"", root_path);
    }
    if (err != PS_OK)
        goto out;
    v->enabled = true;
done:
    *out = v;
    v = NULL;
out:
    ps_buf_deinit(&roots);
    ingest_apple_destroy(v);
    return err;
}

void ingest_apple_destroy(ingest_apple_t *v)
{
    if (v == NULL)
        return;
    ingest_x5c_destroy(v->x5c);
    ps_free(v->bundle_id);
    ps_free(v);
}

bool ingest_apple_ready(const ingest_apple_t *v)
{
    return v != NULL && v->enabled;
}

uint64_t ingest_apple_chain_validations(const ingest_apple_t *v)
{
    return v->x5c ? ingest_x5c_validations(v->x5c) : 0;
}

uint64_t ingest_apple_chain_cache_hits(const ingest_apple_t *v)
{
    return v->x5c ? ingest_x5c_cache_hits(v->x5c) : 0;
}

/* A signed item after verification: its decoded payload and the parse of it
 * (tokens point into bytes, so the two live and die together). */
typedef struct apple_signed {
    ps_buf_t bytes;    /* owned, bound PS_JWS_PAYLOAD_BYTES_MAX */
    ps_json_doc_t doc; /* root: an object */
} apple_signed_t;

static void signed_init(apple_signed_t *s)
{
    ps_buf_init(&s->bytes, PS_JWS_PAYLOAD_BYTES_MAX);
    ps_json_doc_init(&s->doc);
}

static void signed_deinit(apple_signed_t *s)
{
    ps_json_doc_deinit(&s->doc);
    ps_buf_deinit(&s->bytes);
}

/* Reads an optional Apple date (integer ms). PS_ERR_INVALID for another type
 * (reals included: no float near our numbers) or out of range. */
static ps_err_t get_ms(const ps_json_doc_t *doc, const ps_json_tok_t *obj, const char *key,
                       bool *present, int64_t *ms_out, char *errstr, size_t errstr_size)
{
    const ps_json_tok_t *j = ps_json_get(doc, obj, key);

    *present = j != NULL;
    if (j == NULL)
        return PS_OK;
    if (!ps_json_int(doc, j, ms_out))
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "\"%s\" is not an integer number of milliseconds", key);
    if (*ms_out < 0 || *ms_out > APPLE_DATE_MS_MAX)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID, "\"%s\" %lld is out of range",
                             key, (long long)*ms_out);
    return PS_OK;
}

/* The object holding bundleId / appAppleId / environment of a notification. */
static const ps_json_tok_t *binding_object(const ps_json_doc_t *doc, const ps_json_tok_t *payload)
{
    static const char *const holders[] = {"data", "summary", "appData", "externalPurchaseToken"};

    for (size_t i = 0; i < sizeof(holders) / sizeof(holders[0]); i++) {
        const ps_json_tok_t *o = ps_json_get(doc, payload, holders[i]);

        if (ps_json_is(o, PS_JSON_OBJECT))
            return o;
    }
    return NULL;
}

/* The environment string of obj into buf (a prefix if longer), or NULL. */
static const char *environment_of(const ps_json_doc_t *doc, const ps_json_tok_t *obj, char *buf,
                                  size_t size)
{
    const ps_json_tok_t *env = ps_json_get(doc, obj, "environment");

    if (!ps_json_is(env, PS_JSON_STRING))
        return NULL;
    ps_json_str_copy(doc, env, buf, size, NULL); /* longer than buf: matches nothing */
    return buf;
}

/* Environment of a binding object; externalPurchaseToken has none of its own. */
static const char *binding_environment(const ps_json_doc_t *doc, const ps_json_tok_t *payload,
                                       const ps_json_tok_t *b, char *buf, size_t size)
{
    const ps_json_tok_t *ext_id = ps_json_get(doc, b, "externalPurchaseId");
    const char *env = environment_of(doc, b, buf, size);
    char prefix[8];

    if (env != NULL)
        return env;
    if (b == ps_json_get(doc, payload, "externalPurchaseToken") &&
        ps_json_is(ext_id, PS_JSON_STRING)) {
        ps_json_str_copy(doc, ext_id, prefix, sizeof(prefix), NULL);
        return strncmp(prefix, "SANDBOX", 7) == 0 ? "Sandbox" : "Production";
    }
    return NULL;
}

/* Step 9/10 of channels.md 3.2: app identity first, then environment, as the SDK orders them. */
static ps_err_t check_binding(const ingest_apple_t *v, ingest_apple_signed_kind_t kind,
                              const ps_json_doc_t *doc, const char **label_out, char *errstr,
                              size_t errstr_size)
{
    const ps_json_tok_t *payload = ps_json_root(doc);
    const ps_json_tok_t *b = kind == INGEST_APPLE_NOTIFICATION ? binding_object(doc, payload)
                                                               : payload;
    const ps_json_tok_t *bundle = ps_json_get(doc, b, "bundleId");
    const char *want_env = v->production ? "Production" : "Sandbox", *env;
    char env_buf[64], bundle_text[65];
    bool bundle_str = ps_json_is(bundle, PS_JSON_STRING);
    int64_t app_id;

    env = kind == INGEST_APPLE_NOTIFICATION
              ? binding_environment(doc, payload, b, env_buf, sizeof(env_buf))
              : environment_of(doc, payload, env_buf, sizeof(env_buf));
    *label_out = "wrong_app";
    if (kind != INGEST_APPLE_RENEWAL &&
        !ps_json_str_eq(doc, bundle, v->bundle_id, strlen(v->bundle_id))) {
        ps_json_str_copy(doc, bundle, bundle_text, sizeof(bundle_text), NULL);
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "bundleId %s%s%s does not match apple.bundle_id \"%s\"",
                             bundle_str ? "\"" : "", bundle_str ? bundle_text : "(absent)",
                             bundle_str ? "\"" : "", v->bundle_id);
    }
    if (kind == INGEST_APPLE_NOTIFICATION && v->production &&
        (!ps_json_int(doc, ps_json_get(doc, b, "appAppleId"), &app_id) ||
         app_id != v->app_apple_id))
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "appAppleId does not match apple.app_apple_id %lld",
                             (long long)v->app_apple_id);
    *label_out = "wrong_environment";
    if (env == NULL || strcmp(env, want_env) != 0)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "environment \"%.32s\" does not match apple.environment \"%s\"",
                             env ? env : "(absent)", want_env);
    return PS_OK;
}

/* Takes the decoded payload out of jws into s and parses it: a JSON object. */
static ps_err_t parse_payload(ingest_jws_t *jws, apple_signed_t *s, const char **label_out,
                              char *errstr, size_t errstr_size)
{
    char cause[PS_ERRSTR_SIZE];
    ps_buf_t empty = s->bytes;

    s->bytes = jws->payload; /* both bounded by PS_JWS_PAYLOAD_BYTES_MAX */
    jws->payload = empty;
    *label_out = "bad_payload";
    if (ps_json_parse(&s->doc, (const char *)s->bytes.data, s->bytes.len, PS_JSON_TOKENS_MAX,
                      cause, sizeof(cause)) != PS_OK)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID, "jws payload is not JSON: %s",
                             cause);
    if (!ps_json_is(ps_json_root(&s->doc), PS_JSON_OBJECT))
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "jws payload is not a JSON object");
    return PS_OK;
}

/* The alias of a token's chain: SHA-256 of its base64url header segment,
 * which alone decides alg, crit and x5c. */
static bool header_alias(const ingest_jws_segments_t *seg,
                         uint8_t alias[INGEST_X5C_ALIAS_BYTES])
{
    unsigned int n = 0;

    if (EVP_Digest(seg->token, seg->header_len, alias, &n, EVP_sha256(), NULL) != 1 ||
        n != INGEST_X5C_ALIAS_BYTES) {
        ERR_clear_error();
        return false;
    }
    return true;
}

/* Chain at the payload's signedDate (now without one), then the signature.
 * known holds the leaf of an alias hit (its chain is not validated again,
 * but its window is checked); otherwise the chain is validated and
 * remembered under alias. */
static ps_err_t verify_trust(ingest_apple_t *v, const ingest_jws_t *jws, const ps_json_doc_t *doc,
                             int64_t now_s, ingest_x5c_leaf_t *known, const uint8_t *alias,
                             char *leaf_hex_out, const char **label_out, char *errstr,
                             size_t errstr_size)
{
    ingest_x5c_leaf_t leaf = {0};
    bool has_date;
    int64_t signed_ms = 0, at_s;
    ps_err_t err;

    *label_out = "bad_payload";
    err = get_ms(doc, ps_json_root(doc), "signedDate", &has_date, &signed_ms, errstr,
                 errstr_size);
    if (err != PS_OK)
        return err;
    at_s = has_date ? signed_ms / 1000 : now_s;
    if (known->key != NULL) {
        err = ingest_x5c_check_time(known, at_s, label_out, errstr, errstr_size);
        leaf = *known;
        memset(known, 0, sizeof(*known)); /* transferred to leaf */
    } else {
        err = ingest_x5c_verify(v->x5c, jws->certs, jws->cert_count, at_s, &leaf, label_out,
                                errstr, errstr_size);
        if (err == PS_OK && alias != NULL)
            ingest_x5c_alias_put(v->x5c, alias, &leaf);
    }
    if (err != PS_OK)
        goto out;
    *label_out = "bad_signature";
    err = leaf.verify_ctx != NULL
              ? ingest_jws_verify_es256_prepared(jws, leaf.verify_ctx, errstr, errstr_size)
              : ingest_jws_verify_es256(jws, leaf.key, errstr, errstr_size);
    if (err == PS_OK && leaf_hex_out != NULL)
        memcpy(leaf_hex_out, leaf.sha256_hex, INGEST_X5C_HEX_BYTES);
out:
    ingest_x5c_leaf_deinit(&leaf);
    return err;
}

/* ingest_apple_decode_signed into out (initialized; its payload replaced). */
static ps_err_t decode_signed(ingest_apple_t *v, ingest_apple_signed_kind_t kind,
                              const char *jws_text, size_t len, int64_t now_s, apple_signed_t *out,
                              char *leaf_hex_out, const char **label_out, char *errstr,
                              size_t errstr_size)
{
    ingest_jws_segments_t seg;
    ingest_jws_t jws;
    ingest_x5c_leaf_t known = {0};
    uint8_t alias[INGEST_X5C_ALIAS_BYTES];
    bool have_alias = false;
    ps_err_t err;

    PS_ASSERT(v != NULL && v->enabled);
    ingest_jws_init(&jws);
    err = ingest_jws_split(jws_text, len, &seg, label_out, errstr, errstr_size);
    if (err != PS_OK)
        goto out;
    /* A header seen before with a validated chain is neither decoded nor
     * parsed again (most notifications share one chain and one header). */
    have_alias = header_alias(&seg, alias);
    if (have_alias)
        ingest_x5c_alias_get(v->x5c, alias, &known);
    err = ingest_jws_parse_segments(&seg, known.key != NULL, &jws, label_out, errstr,
                                    errstr_size);
    if (err != PS_OK)
        goto out;
    /* The payload is read before it is trusted only to learn the validation time. */
    err = parse_payload(&jws, out, label_out, errstr, errstr_size);
    if (err != PS_OK)
        goto out;
    err = verify_trust(v, &jws, &out->doc, now_s, &known, have_alias ? alias : NULL,
                       leaf_hex_out, label_out, errstr, errstr_size);
    if (err != PS_OK)
        goto out;
    err = check_binding(v, kind, &out->doc, label_out, errstr, errstr_size);
out:
    if (err != PS_OK)
        ps_json_doc_deinit(&out->doc);
    ingest_x5c_leaf_deinit(&known);
    ingest_jws_deinit(&jws);
    return err;
}

ps_err_t ingest_apple_decode_signed(ingest_apple_t *v, ingest_apple_signed_kind_t kind,
                                    const char *jws_text, size_t len, int64_t now_s,
                                    json_t **payload_out, char *leaf_hex_out,
                                    const char **label_out, char *errstr, size_t errstr_size)
{
    apple_signed_t s;
    json_error_t jerr;
    ps_err_t err;

    *payload_out = NULL;
    signed_init(&s);
    err = decode_signed(v, kind, jws_text, len, now_s, &s, leaf_hex_out, label_out, errstr,
                        errstr_size);
    /* Callers off the hot path (statements, tests) get a tree of the bytes
     * just verified; jansson accepts whatever the strict reader did. */
    if (err == PS_OK) {
        *payload_out = json_loadb((const char *)s.bytes.data, s.bytes.len,
                                  JSON_REJECT_DUPLICATES, &jerr);
        if (*payload_out == NULL) {
            *label_out = "bad_payload";
            err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                                "jws payload is not JSON: %s", jerr.text);
        }
    }
    signed_deinit(&s);
    return err;
}

/* Reads the string field key of obj into out (max_bytes + 1 bytes); rejects
 * (returning false) when it is absent, not a string or not 1..max_bytes long. */
static bool need_str(const ps_json_doc_t *doc, const ps_json_tok_t *obj, const char *key,
                     const char *where, size_t max_bytes, char *out, ingest_result_t *res)
{
    const ps_json_tok_t *j = ps_json_get(doc, obj, key);
    size_t n = 0;

    if (j == NULL) {
        ingest_reject(res, "missing_field", "apple %s has no \"%s\"", where, key);
        return false;
    }
    if (ps_json_str_copy(doc, j, out, max_bytes + 1, &n) != PS_OK || n == 0) {
        ingest_reject(res, "bad_payload", "apple %s field \"%s\" is not a string of 1 to %zu bytes",
                      where, key, max_bytes);
        return false;
    }
    return true;
}

/* Reads a date field (integer ms); required ones reject when absent. */
static bool need_ms(const ps_json_doc_t *doc, const ps_json_tok_t *obj, const char *key,
                    const char *where, bool required, bool *present, int64_t *ms_out,
                    ingest_result_t *res)
{
    char msg[PS_ERRSTR_SIZE];

    if (get_ms(doc, obj, key, present, ms_out, msg, sizeof(msg)) != PS_OK) {
        ingest_reject(res, "bad_payload", "apple %s: %s", where, msg);
        return false;
    }
    if (required && !*present) {
        ingest_reject(res, "missing_field", "apple %s has no \"%s\"", where, key);
        return false;
    }
    return true;
}

/* Whether s is a UUID in text form (8-4-4-4-12 hex digits, either case). */
static bool is_uuid(const char *s)
{
    if (strlen(s) != APPLE_UUID_CHARS)
        return false;
    for (size_t i = 0; i < APPLE_UUID_CHARS; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        char c = s[i];

        if (dash ? c != '-'
                 : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return true;
}

/* The refunded share of price_milli for a partial refund (revocationPercentage,
 * milli-percent), exactly or not at all: a rounded refund would be a guess. */
static bool prorate(const ps_json_doc_t *doc, const ps_json_tok_t *txn, int64_t *milli,
                    ingest_result_t *res)
{
    const ps_json_tok_t *pct = ps_json_get(doc, txn, "revocationPercentage");
    int64_t p;

    if (pct == NULL)
        return true;
    if (!ps_json_int(doc, pct, &p) || p <= 0 || p > APPLE_PERCENT_FULL) {
        ingest_reject(res, "bad_amount",
                      "apple revocationPercentage is not an integer in 1..100000");
        return false;
    }
    if (*milli > INT64_MAX / APPLE_PERCENT_FULL || (*milli * p) % APPLE_PERCENT_FULL != 0) {
        ingest_reject(res, "bad_amount",
                      "apple refund of %lld milli-percent of price %lld is not a whole "
                      "number of milliunits",
                      (long long)p, (long long)*milli);
        return false;
    }
    *milli = *milli * p / APPLE_PERCENT_FULL;
    return true;
}

/* price (milliunits, JSON integer) and currency into the event's amount. */
static bool read_amount(const ps_json_doc_t *doc, const ps_json_tok_t *txn, ps_event_kind_t kind,
                        ps_callback_event_t *ev, ingest_result_t *res)
{
    const ps_json_tok_t *price = ps_json_get(doc, txn, "price");
    char currency[PS_CURRENCY_CODE_BYTES + 8 + 1], msg[PS_ERRSTR_SIZE];
    int64_t milli = 0;
    int exponent;

    if (price == NULL) {
        ingest_reject(res, "missing_field", "apple transaction has no \"price\"");
        return false;
    }
    if (!ps_json_int(doc, price, &milli) || milli <= 0) {
        ingest_reject(res, "bad_amount", "apple price is not a positive integer of milliunits");
        return false;
    }
    if (!need_str(doc, txn, "currency", "transaction", PS_CURRENCY_CODE_BYTES + 8, currency,
                  res))
        return false;
    if (ps_currency_validate(currency, &exponent, msg, sizeof(msg)) != PS_OK) {
        ingest_reject(res, "bad_currency", "apple transaction: %s", msg);
        return false;
    }
    if (kind == PS_EVENT_REFUND_SUCCEEDED && !prorate(doc, txn, &milli, res))
        return false;
    if (ps_money_from_milliunits(milli, currency, &ev->amount_minor, msg, sizeof(msg)) != PS_OK ||
        ev->amount_minor <= 0) {
        ingest_reject(res, "bad_amount", "apple price %lld %s: %s", (long long)milli, currency,
                      ev->amount_minor <= 0 ? "zero minor units" : msg);
        return false;
    }
    memcpy(ev->currency, currency, PS_CURRENCY_CODE_BYTES);
    return true;
}

/* Transaction fields of the event: ids, account, amount, times. */
static bool read_transaction(const ps_json_doc_t *doc, ps_event_kind_t kind,
                             ps_callback_event_t *ev, ingest_result_t *res)
{
    const ps_json_tok_t *txn = ps_json_root(doc), *account;
    char txn_id[PS_ID_BYTES_MAX + 1], orig_id[PS_ID_BYTES_MAX + 1], token[APPLE_UUID_CHARS + 2];
    bool has_purchase, has_revocation;
    int64_t purchase_ms = 0, revocation_ms = 0;

    if (!need_str(doc, txn, "transactionId", "transaction", PS_ID_BYTES_MAX, txn_id, res) ||
        !need_str(doc, txn, "originalTransactionId", "transaction", PS_ID_BYTES_MAX, orig_id,
                  res))
        return false;
    account = ps_json_get(doc, txn, "appAccountToken");
    if (account == NULL || (ps_json_is(account, PS_JSON_STRING) && account->len == 0)) {
        ingest_reject(res, "missing_account",
                      "apple transaction has no appAccountToken to name the account");
        return false;
    }
    /* The token itself is the player's identifier: never echoed in messages. */
    if (ps_json_str_copy(doc, account, token, sizeof(token), NULL) != PS_OK || !is_uuid(token)) {
        ingest_reject(res, "bad_account", "apple appAccountToken is not a uuid");
        return false;
    }
    if (!read_amount(doc, txn, kind, ev, res) ||
        !need_ms(doc, txn, "purchaseDate", "transaction", false, &has_purchase, &purchase_ms,
                 res) ||
        !need_ms(doc, txn, "revocationDate", "transaction", kind == PS_EVENT_REFUND_SUCCEEDED,
                 &has_revocation, &revocation_ms, res))
        return false;
    /* One purchase or renewal is one payment: a DID_RENEW carries a new
     * transactionId under the same originalTransactionId, and keying the
     * payment by the original id would make a renewal look like a duplicate
     * of the first purchase (credited once, the renewal lost). Refunds name
     * the refunded transaction's own id, so they meet their payment. */
    ev->channel_txn_id = ps_strdup(txn_id);
    ev->merchant_order_no = ps_strdup(txn_id);
    ev->account_id = ps_strdup(token);
    /* The refund is Apple's revocation of this very transaction. */
    if (kind != PS_EVENT_PAYMENT_SUCCEEDED)
        ev->refund_id = ps_strdup(txn_id);
    ev->has_paid_time = has_purchase;
    ev->paid_time_us = purchase_ms * 1000;
    return true;
}

/* Builds the CallbackEvent of an accepted notification into res; txn is
 * NULL when the notification carried no signedTransactionInfo. */
static void build_event(const ingest_request_t *req, const char *type, ps_event_kind_t kind,
                        const apple_signed_t *notif, const apple_signed_t *txn,
                        const char *leaf_hex, ingest_result_t *res)
{
    ps_callback_event_t *ev = &res->ev;
    const ps_json_tok_t *root = ps_json_root(&notif->doc);
    char uuid[PS_ID_BYTES_MAX + 1];
    bool has_date;
    int64_t signed_ms = 0;

    if (!need_str(&notif->doc, root, "notificationUUID", "notification", PS_ID_BYTES_MAX, uuid,
                  res) ||
        !need_ms(&notif->doc, root, "signedDate", "notification", true, &has_date, &signed_ms,
                 res))
        return;
    if (txn == NULL) {
        ingest_reject(res, "missing_field", "apple %s notification has no signedTransactionInfo",
                      type);
        return;
    }
    ev->channel = PS_CHANNEL_APPLE;
    ev->kind = kind;
    if (!read_transaction(&txn->doc, kind, ev, res))
        return;
    ev->channel_event_id = ps_strdup(uuid);
    ev->channel_event_type = ps_strdup(type);
    ev->event_time_us = signed_ms * 1000;
    ev->raw_body = ps_memdup(req->body, req->body_len);
    ev->raw_body_len = req->body_len;
    ev->key_id = ps_strdup(leaf_hex);
    res->verdict = INGEST_ACCEPT;
    res->reason_label = NULL;
    res->reason[0] = '\0';
}

/* The signedPayload token of the body {"signedPayload":"<JWS>"}: borrowed
 * from the body, or unescaped into scratch. false after rejecting. */
static bool parse_body(const ingest_request_t *req, ps_json_doc_t *body, ps_buf_t *scratch,
                       const char **token, size_t *token_len, ingest_result_t *res)
{
    char cause[PS_ERRSTR_SIZE];
    const ps_json_tok_t *root, *sp;

    if (ps_json_parse(body, (const char *)req->body, req->body_len, PS_JSON_TOKENS_MAX, cause,
                      sizeof(cause)) != PS_OK) {
        ingest_reject(res, "bad_json", "apple body is not JSON: %s", cause);
        return false;
    }
    root = ps_json_root(body);
    sp = ps_json_get(body, root, "signedPayload");
    /* Apple sends exactly this one member; anything else is not Apple. */
    if (ps_json_size(root) != 1 || ps_json_str_text(body, sp, scratch, token, token_len) != PS_OK) {
        ingest_reject(res, "bad_json",
                      "apple body must be an object with exactly one string \"signedPayload\"");
        return false;
    }
    return true;
}

/* Verifies data.signedTransactionInfo (into txn, *has_txn) and data.signedRenewalInfo. */
static bool verify_nested(ingest_apple_t *v, const apple_signed_t *notif, int64_t now_s,
                          apple_signed_t *txn, bool *has_txn, ingest_result_t *res)
{
    static const struct {
        const char *key;
        ingest_apple_signed_kind_t kind;
    } parts[] = {{"signedTransactionInfo", INGEST_APPLE_TRANSACTION},
                 {"signedRenewalInfo", INGEST_APPLE_RENEWAL}};
    const ps_json_tok_t *data = ps_json_get(&notif->doc, ps_json_root(&notif->doc), "data");
    char msg[PS_ERRSTR_SIZE];
    const char *label, *text;
    apple_signed_t renewal;
    ps_buf_t scratch;
    size_t len;
    bool ok = true;

    signed_init(&renewal);
    ps_buf_init(&scratch, PS_JWS_PAYLOAD_BYTES_MAX); /* a string inside a payload fits */
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]) && ok; i++) {
        const ps_json_tok_t *s = ps_json_get(&notif->doc, data, parts[i].key);
        bool is_txn = parts[i].kind == INGEST_APPLE_TRANSACTION;

        if (s == NULL)
            continue;
        if (ps_json_str_text(&notif->doc, s, &scratch, &text, &len) != PS_OK) {
            ingest_reject(res, "bad_payload", "apple data.%s is not a string", parts[i].key);
            ok = false;
        } else if (decode_signed(v, parts[i].kind, text, len, now_s, is_txn ? txn : &renewal,
                                 NULL, &label, msg, sizeof(msg)) != PS_OK) {
            ingest_reject(res, label, "could not verify apple %s: %s", parts[i].key, msg);
            ok = false;
        } else if (is_txn) {
            *has_txn = true;
        }
    }
    ps_buf_deinit(&scratch);
    signed_deinit(&renewal);
    return ok;
}

/* The event kind of a notification type, or false when it books nothing. */
static bool kind_of(const char *type, ps_event_kind_t *kind)
{
    static const struct {
        const char *type;
        ps_event_kind_t kind;
    } kinds[] = {{"ONE_TIME_CHARGE", PS_EVENT_PAYMENT_SUCCEEDED},
                 {"SUBSCRIBED", PS_EVENT_PAYMENT_SUCCEEDED},
                 {"DID_RENEW", PS_EVENT_PAYMENT_SUCCEEDED},
                 {"REFUND", PS_EVENT_REFUND_SUCCEEDED},
                 {"REFUND_REVERSED", PS_EVENT_REFUND_REVERSED}};

    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strcmp(type, kinds[i].type) == 0) {
            *kind = kinds[i].kind;
            return true;
        }
    }
    return false;
}

static void ack_only(ingest_result_t *res, const char *label, const char *type)
{
    res->verdict = INGEST_ACK_ONLY;
    res->reason_label = label;
    snprintf(res->reason, sizeof(res->reason),
             "apple notification \"%s\" verified; nothing to book", type);
}

/* Everything after the body: the notification, its nested items, the verdict. */
static void verify_token(ingest_apple_t *v, const ingest_request_t *req, const char *token,
                         size_t token_len, ingest_result_t *res)
{
    char msg[PS_ERRSTR_SIZE], leaf_hex[INGEST_X5C_HEX_BYTES], type[PS_EVENT_TYPE_BYTES_MAX + 1];
    const char *label = NULL;
    apple_signed_t notif, txn;
    bool has_txn = false;
    ps_event_kind_t kind;

    signed_init(&notif);
    signed_init(&txn);
    if (decode_signed(v, INGEST_APPLE_NOTIFICATION, token, token_len, req->now_s, &notif,
                      leaf_hex, &label, msg, sizeof(msg)) != PS_OK) {
        ingest_reject(res, label, "could not verify apple notification: %s", msg);
        goto out;
    }
    if (!verify_nested(v, &notif, req->now_s, &txn, &has_txn, res) ||
        !need_str(&notif.doc, ps_json_root(&notif.doc), "notificationType", "notification",
                  PS_EVENT_TYPE_BYTES_MAX, type, res))
        goto out;
    if (strcmp(type, "TEST") == 0)
        ack_only(res, "test_notification", type);
    else if (!kind_of(type, &kind))
        ack_only(res, "ignored_notification_type", type);
    else
        build_event(req, type, kind, &notif, has_txn ? &txn : NULL, leaf_hex, res);
out:
    signed_deinit(&txn);
    signed_deinit(&notif);
}

ps_err_t ingest_apple_verify(ingest_apple_t *v, const ingest_request_t *req,
                             ingest_result_t *res)
{
    const char *token = NULL;
    size_t token_len = 0;
    ps_json_doc_t body;
    ps_buf_t scratch;

    memset(res, 0, sizeof(*res));
    res->verdict = INGEST_REJECT;
    if (!ingest_apple_ready(v))
        return ingest_reject(res, "channel_disabled",
                             "apple channel is disabled: apple.root_cert_file is not set");
    if (req->body_len > PS_APPLE_BODY_BYTES_MAX)
        return ingest_reject(res, "body_too_large", "apple body of %zu bytes exceeds %d bytes",
                             req->body_len, PS_APPLE_BODY_BYTES_MAX);
    ps_json_doc_init(&body);
    ps_buf_init(&scratch, PS_APPLE_BODY_BYTES_MAX);
    if (parse_body(req, &body, &scratch, &token, &token_len, res))
        verify_token(v, req, token, token_len, res);
    ps_buf_deinit(&scratch);
    ps_json_doc_deinit(&body);
    return PS_OK;
}
