/*
 * Apple App Store Server Notifications V2 verifier (see apple.h): the body,
 * the outer and nested JWS, the app binding and the mapping to a
 * CallbackEvent. Form checks live in jws.c and trust in x5c.c; this file
 * decides what a verified payload means for the ledger.
 */
#include "apple.h"

#include "jws.h"
#include "x5c.h"

#include <paystream/assert.h>
#include <paystream/buf.h>
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

/* Reads an optional Apple date (integer ms). PS_ERR_INVALID for another type
 * (reals included: no float near our numbers) or out of range. */
static ps_err_t get_ms(json_t *obj, const char *key, bool *present, int64_t *ms_out,
                       char *errstr, size_t errstr_size)
{
    json_t *j = json_object_get(obj, key);

    *present = j != NULL;
    if (j == NULL)
        return PS_OK;
    if (!json_is_integer(j))
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "\"%s\" is not an integer number of milliseconds", key);
    *ms_out = (int64_t)json_integer_value(j);
    if (*ms_out < 0 || *ms_out > APPLE_DATE_MS_MAX)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID, "\"%s\" %lld is out of range",
                             key, (long long)*ms_out);
    return PS_OK;
}

/* The object holding bundleId / appAppleId / environment of a notification. */
static json_t *binding_object(json_t *payload)
{
    static const char *const holders[] = {"data", "summary", "appData", "externalPurchaseToken"};

    for (size_t i = 0; i < sizeof(holders) / sizeof(holders[0]); i++) {
        json_t *o = json_object_get(payload, holders[i]);

        if (json_is_object(o))
            return o;
    }
    return NULL;
}

/* Environment of a binding object; externalPurchaseToken has none of its own. */
static const char *binding_environment(json_t *payload, json_t *b)
{
    json_t *env = json_object_get(b, "environment");
    json_t *ext_id = json_object_get(b, "externalPurchaseId");

    if (json_is_string(env))
        return json_string_value(env);
    if (b == json_object_get(payload, "externalPurchaseToken") && json_is_string(ext_id))
        return strncmp(json_string_value(ext_id), "SANDBOX", 7) == 0 ? "Sandbox"
                                                                      : "Production";
    return NULL;
}

/* Step 9/10 of channels.md 3.2: app identity first, then environment, as the SDK orders them. */
static ps_err_t check_binding(const ingest_apple_t *v, ingest_apple_signed_kind_t kind,
                              json_t *payload, const char **label_out, char *errstr,
                              size_t errstr_size)
{
    json_t *b = kind == INGEST_APPLE_NOTIFICATION ? binding_object(payload) : payload;
    json_t *bundle = json_object_get(b, "bundleId"), *app_id = json_object_get(b, "appAppleId");
    const char *env = kind == INGEST_APPLE_NOTIFICATION ? binding_environment(payload, b)
                                                        : json_string_value(json_object_get(
                                                              payload, "environment"));
    const char *want_env = v->production ? "Production" : "Sandbox";

    *label_out = "wrong_app";
    if (kind != INGEST_APPLE_RENEWAL &&
        (!json_is_string(bundle) || strcmp(json_string_value(bundle), v->bundle_id) != 0))
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "bundleId %s%.64s%s does not match apple.bundle_id \"%s\"",
                             json_is_string(bundle) ? "\"" : "",
                             json_is_string(bundle) ? json_string_value(bundle) : "(absent)",
                             json_is_string(bundle) ? "\"" : "", v->bundle_id);
    if (kind == INGEST_APPLE_NOTIFICATION && v->production &&
        (!json_is_integer(app_id) || json_integer_value(app_id) != v->app_apple_id))
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

/* Parses a decoded payload into a JSON object. */
static ps_err_t parse_payload(const ps_buf_t *bytes, json_t **out, const char **label_out,
                              char *errstr, size_t errstr_size)
{
    json_error_t jerr;

    *label_out = "bad_payload";
    *out = json_loadb((const char *)bytes->data, bytes->len, JSON_REJECT_DUPLICATES, &jerr);
    if (*out == NULL)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "jws payload is not JSON: %s at offset %d", jerr.text,
                             jerr.position);
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "jws payload is not a JSON object");
    }
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
static ps_err_t verify_trust(ingest_apple_t *v, const ingest_jws_t *jws, json_t *payload,
                             int64_t now_s, ingest_x5c_leaf_t *known, const uint8_t *alias,
                             char *leaf_hex_out, const char **label_out, char *errstr,
                             size_t errstr_size)
{
    ingest_x5c_leaf_t leaf = {0};
    bool has_date;
    int64_t signed_ms = 0, at_s;
    ps_err_t err;

    *label_out = "bad_payload";
    err = get_ms(payload, "signedDate", &has_date, &signed_ms, errstr, errstr_size);
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
    err = ingest_jws_verify_es256(jws, leaf.key, errstr, errstr_size);
    if (err == PS_OK && leaf_hex_out != NULL)
        memcpy(leaf_hex_out, leaf.sha256_hex, INGEST_X5C_HEX_BYTES);
out:
    ingest_x5c_leaf_deinit(&leaf);
    return err;
}

ps_err_t ingest_apple_decode_signed(ingest_apple_t *v, ingest_apple_signed_kind_t kind,
                                    const char *jws_text, size_t len, int64_t now_s,
                                    json_t **payload_out, char *leaf_hex_out,
                                    const char **label_out, char *errstr, size_t errstr_size)
{
    ingest_jws_segments_t seg;
    ingest_jws_t jws;
    ingest_x5c_leaf_t known = {0};
    uint8_t alias[INGEST_X5C_ALIAS_BYTES];
    bool have_alias = false;
    json_t *payload = NULL;
    ps_err_t err;

    PS_ASSERT(v != NULL && v->enabled);
    *payload_out = NULL;
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
    err = parse_payload(&jws.payload, &payload, label_out, errstr, errstr_size);
    if (err != PS_OK)
        goto out;
    err = verify_trust(v, &jws, payload, now_s, &known, have_alias ? alias : NULL,
                       leaf_hex_out, label_out, errstr, errstr_size);
    if (err != PS_OK)
        goto out;
    err = check_binding(v, kind, payload, label_out, errstr, errstr_size);
    if (err != PS_OK)
        goto out;
    *payload_out = payload;
    payload = NULL;
out:
    ingest_x5c_leaf_deinit(&known);
    json_decref(payload);
    ingest_jws_deinit(&jws);
    return err;
}

/* Reads the string field key of obj (borrowed from obj) into *out; rejects
 * (returning false) when it is absent, not a string or not 1..max_bytes long. */
static bool need_str(json_t *obj, const char *key, const char *where, size_t max_bytes,
                     const char **out, ingest_result_t *res)
{
    json_t *j = json_object_get(obj, key);

    if (j == NULL) {
        ingest_reject(res, "missing_field", "apple %s has no \"%s\"", where, key);
        return false;
    }
    if (!json_is_string(j) || json_string_length(j) == 0 || json_string_length(j) > max_bytes) {
        ingest_reject(res, "bad_payload", "apple %s field \"%s\" is not a string of 1 to %zu bytes",
                      where, key, max_bytes);
        return false;
    }
    *out = json_string_value(j);
    return true;
}

/* Reads a date field (integer ms); required ones reject when absent. */
static bool need_ms(json_t *obj, const char *key, const char *where, bool required,
                    bool *present, int64_t *ms_out, ingest_result_t *res)
{
    char msg[PS_ERRSTR_SIZE];

    if (get_ms(obj, key, present, ms_out, msg, sizeof(msg)) != PS_OK) {
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
static bool prorate(json_t *txn, int64_t *milli, ingest_result_t *res)
{
    json_t *pct = json_object_get(txn, "revocationPercentage");
    int64_t p;

    if (pct == NULL)
        return true;
    if (!json_is_integer(pct) || json_integer_value(pct) <= 0 ||
        json_integer_value(pct) > APPLE_PERCENT_FULL) {
        ingest_reject(res, "bad_amount",
                      "apple revocationPercentage is not an integer in 1..100000");
        return false;
    }
    p = (int64_t)json_integer_value(pct);
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
static bool read_amount(json_t *txn, ps_event_kind_t kind, ps_callback_event_t *ev,
                        ingest_result_t *res)
{
    json_t *price = json_object_get(txn, "price");
    const char *currency;
    char msg[PS_ERRSTR_SIZE];
    int64_t milli;
    int exponent;

    if (price == NULL) {
        ingest_reject(res, "missing_field", "apple transaction has no \"price\"");
        return false;
    }
    if (!json_is_integer(price) || json_integer_value(price) <= 0) {
        ingest_reject(res, "bad_amount", "apple price is not a positive integer of milliunits");
        return false;
    }
    milli = (int64_t)json_integer_value(price);
    if (!need_str(txn, "currency", "transaction", PS_CURRENCY_CODE_BYTES + 8, &currency, res))
        return false;
    if (ps_currency_validate(currency, &exponent, msg, sizeof(msg)) != PS_OK) {
        ingest_reject(res, "bad_currency", "apple transaction: %s", msg);
        return false;
    }
    if (kind == PS_EVENT_REFUND_SUCCEEDED && !prorate(txn, &milli, res))
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
static bool read_transaction(json_t *txn, ps_event_kind_t kind, ps_callback_event_t *ev,
                             ingest_result_t *res)
{
    const char *txn_id, *orig_id, *token;
    json_t *account;
    bool has_purchase, has_revocation;
    int64_t purchase_ms = 0, revocation_ms = 0;

    if (!need_str(txn, "transactionId", "transaction", PS_ID_BYTES_MAX, &txn_id, res) ||
        !need_str(txn, "originalTransactionId", "transaction", PS_ID_BYTES_MAX, &orig_id, res))
        return false;
    account = json_object_get(txn, "appAccountToken");
    if (account == NULL || (json_is_string(account) && json_string_length(account) == 0)) {
        ingest_reject(res, "missing_account",
                      "apple transaction has no appAccountToken to name the account");
        return false;
    }
    token = json_string_value(account);
    /* The token itself is the player's identifier: never echoed in messages. */
    if (token == NULL || !is_uuid(token)) {
        ingest_reject(res, "bad_account", "apple appAccountToken is not a uuid");
        return false;
    }
    if (!read_amount(txn, kind, ev, res) ||
        !need_ms(txn, "purchaseDate", "transaction", false, &has_purchase, &purchase_ms, res) ||
        !need_ms(txn, "revocationDate", "transaction", kind == PS_EVENT_REFUND_SUCCEEDED,
                 &has_revocation, &revocation_ms, res))
        return false;
    /* One purchase or renewal is one payment: a DID_RENEW carries a new
     * transactionId under the same originalTransactionId, and keying the
     * payment by the original id would make a renewal look like a duplicate
     * of the first purchase (credited once, the renewal lost). Refunds name
     * the refunded transaction's own id, so they meet their payment. */
    (void)orig_id;
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

/* Builds the CallbackEvent of an accepted notification into res. */
static void build_event(const ingest_request_t *req, const char *type, ps_event_kind_t kind,
                        json_t *notif, json_t *txn, const char *leaf_hex, ingest_result_t *res)
{
    ps_callback_event_t *ev = &res->ev;
    const char *uuid;
    bool has_date;
    int64_t signed_ms = 0;

    if (!need_str(notif, "notificationUUID", "notification", PS_ID_BYTES_MAX, &uuid, res) ||
        !need_ms(notif, "signedDate", "notification", true, &has_date, &signed_ms, res))
        return;
    if (txn == NULL) {
        ingest_reject(res, "missing_field", "apple %s notification has no signedTransactionInfo",
                      type);
        return;
    }
    ev->channel = PS_CHANNEL_APPLE;
    ev->kind = kind;
    if (!read_transaction(txn, kind, ev, res))
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

static size_t skip_json_space(const uint8_t *p, size_t i, size_t len)
{
    while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
        i++;
    return i;
}

static bool is_token_char(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.';
}

/*
 * The plain form Apple sends, {"signedPayload":"<token>"} with optional JSON
 * whitespace, recognised without building a JSON tree (parsing the ~8 KB
 * string was a third of an Apple verification). Only base64url and dots are
 * allowed inside the string, so it has no escapes and means exactly its
 * bytes: whatever matches is a body jansson would accept with the same
 * token. Anything else (escapes, other members, ...) returns false and goes
 * to the full parser. On true, the token is borrowed from req->body.
 */
static bool match_plain_body(const ingest_request_t *req, const char **token, size_t *token_len)
{
    static const char key[] = "\"signedPayload\"";
    const uint8_t *p = req->body;
    size_t len = req->body_len, i = skip_json_space(p, 0, len), start;

    if (i >= len || p[i] != '{')
        return false;
    i = skip_json_space(p, i + 1, len);
    if (len - i < sizeof(key) - 1 || memcmp(p + i, key, sizeof(key) - 1) != 0)
        return false;
    i = skip_json_space(p, i + sizeof(key) - 1, len);
    if (i >= len || p[i] != ':')
        return false;
    i = skip_json_space(p, i + 1, len);
    if (i >= len || p[i] != '"')
        return false;
    start = ++i;
    while (i < len && is_token_char(p[i]))
        i++;
    if (i >= len || p[i] != '"')
        return false;
    *token = (const char *)p + start;
    *token_len = i - start;
    i = skip_json_space(p, i + 1, len);
    if (i >= len || p[i] != '}')
        return false;
    return skip_json_space(p, i + 1, len) == len;
}

/* Extracts signedPayload from the body; returns the parsed body (owned,
 * token borrowed from it) or NULL after rejecting. */
static json_t *parse_body(const ingest_request_t *req, const char **token, size_t *token_len,
                          ingest_result_t *res)
{
    json_error_t jerr;
    json_t *body, *sp;

    body = json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (body == NULL) {
        ingest_reject(res, "bad_json", "apple body is not JSON: %s at offset %d", jerr.text,
                      jerr.position);
        return NULL;
    }
    sp = json_object_get(body, "signedPayload");
    /* Apple sends exactly this one member; anything else is not Apple. */
    if (!json_is_object(body) || json_object_size(body) != 1 || !json_is_string(sp)) {
        ingest_reject(res, "bad_json",
                      "apple body must be an object with exactly one string \"signedPayload\"");
        json_decref(body);
        return NULL;
    }
    *token = json_string_value(sp);
    *token_len = json_string_length(sp);
    return body;
}

/* Verifies data.signedTransactionInfo (into *txn_out) and data.signedRenewalInfo. */
static bool verify_nested(ingest_apple_t *v, json_t *notif, int64_t now_s, json_t **txn_out,
                          ingest_result_t *res)
{
    static const struct {
        const char *key;
        ingest_apple_signed_kind_t kind;
    } parts[] = {{"signedTransactionInfo", INGEST_APPLE_TRANSACTION},
                 {"signedRenewalInfo", INGEST_APPLE_RENEWAL}};
    json_t *data = json_object_get(notif, "data");
    char msg[PS_ERRSTR_SIZE];
    const char *label;

    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        json_t *s = json_object_get(data, parts[i].key), *decoded = NULL;

        if (s == NULL)
            continue;
        if (!json_is_string(s)) {
            ingest_reject(res, "bad_payload", "apple data.%s is not a string", parts[i].key);
            return false;
        }
        if (ingest_apple_decode_signed(v, parts[i].kind, json_string_value(s),
                                       json_string_length(s), now_s, &decoded, NULL, &label, msg,
                                       sizeof(msg)) != PS_OK) {
            ingest_reject(res, label, "could not verify apple %s: %s", parts[i].key, msg);
            return false;
        }
        if (parts[i].kind == INGEST_APPLE_TRANSACTION)
            *txn_out = decoded;
        else
            json_decref(decoded);
    }
    return true;
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

ps_err_t ingest_apple_verify(ingest_apple_t *v, const ingest_request_t *req,
                             ingest_result_t *res)
{
    char msg[PS_ERRSTR_SIZE], leaf_hex[INGEST_X5C_HEX_BYTES];
    const char *label = NULL, *token = NULL, *type = NULL;
    json_t *body = NULL, *notif = NULL, *txn = NULL;
    size_t token_len = 0;
    ps_event_kind_t kind;

    memset(res, 0, sizeof(*res));
    res->verdict = INGEST_REJECT;
    if (!ingest_apple_ready(v))
        return ingest_reject(res, "channel_disabled",
                             "apple channel is disabled: apple.root_cert_file is not set");
    if (req->body_len > PS_APPLE_BODY_BYTES_MAX)
        return ingest_reject(res, "body_too_large", "apple body of %zu bytes exceeds %d bytes",
                             req->body_len, PS_APPLE_BODY_BYTES_MAX);
    if (!match_plain_body(req, &token, &token_len)) {
        body = parse_body(req, &token, &token_len, res);
        if (body == NULL)
            goto out;
    }
    if (ingest_apple_decode_signed(v, INGEST_APPLE_NOTIFICATION, token, token_len, req->now_s,
                                   &notif, leaf_hex, &label, msg, sizeof(msg)) != PS_OK) {
        ingest_reject(res, label, "could not verify apple notification: %s", msg);
        goto out;
    }
    if (!verify_nested(v, notif, req->now_s, &txn, res) ||
        !need_str(notif, "notificationType", "notification", PS_EVENT_TYPE_BYTES_MAX, &type,
                  res))
        goto out;
    if (strcmp(type, "TEST") == 0)
        ack_only(res, "test_notification", type);
    else if (!kind_of(type, &kind))
        ack_only(res, "ignored_notification_type", type);
    else
        build_event(req, type, kind, notif, txn, leaf_hex, res);
out:
    json_decref(txn);
    json_decref(notif);
    json_decref(body);
    return PS_OK;
}
