/*
 * The Apple verifier against its simulator (tools/sim/sim_apple.c): a
 * generated Apple-shaped chain (validated with X509_STRICT), round trips of
 * every booked notification type with their exact normalized fields,
 * forgeries, bad input of every kind (garbage, truncation, oversize, bad
 * base64url, missing and extra fields, non-integer / fractional / zero /
 * negative amounts, unknown currency, expired leaf, tampering of every
 * signed byte), duplicates, the chain cache and concurrent use.
 */
#include "test.h"
#include "test_apple_util.h"

#include "sim_apple.h"

#include <paystream/mem.h>

#include <pthread.h>
#include <unistd.h>

/* The simulated leaf is valid over [LEAF_FROM_S, LEAF_TO_S]; params sign at 1700000002. */
#define LEAF_FROM_S INT64_C(1690000000)
#define LEAF_TO_S INT64_C(1790000000)
#define NOW_S INT64_C(1700000100)
#define THREADS 4
#define THREAD_ROUNDS 10

static sim_apple_keys_t keys, other_keys;
static char root_path[256];
static ingest_apple_t *v;

/* Builds p with keys k and verifies it; res is the caller's to deinit. */
static void run_params(const sim_apple_keys_t *k, const sim_apple_params_t *p,
                       ingest_result_t *res)
{
    sim_request_t req;
    char errstr[PS_ERRSTR_SIZE];

    memset(res, 0, sizeof(*res));
    sim_request_init(&req);
    if (sim_apple_build(k, p, &req, errstr, sizeof(errstr)) != PS_OK) {
        fprintf(stderr, "sim_apple_build: %s\n", errstr);
        res->verdict = INGEST_REJECT;
        res->reason_label = "test_build_failed";
    } else {
        CHECK_INT(tu_verify(v, req.body.data, req.body.len, NOW_S, res), PS_OK);
    }
    sim_request_deinit(&req);
}

static const char *label_of(const sim_apple_keys_t *k, const sim_apple_params_t *p)
{
    ingest_result_t res;
    const char *label;

    run_params(k, p, &res);
    label = res.verdict == INGEST_REJECT ? res.reason_label : "not_rejected";
    ingest_result_deinit(&res);
    return label;
}

/* Signs a custom transaction object inside a notification from p; verifies. */
static const char *label_of_txn(const sim_apple_params_t *p, json_t *txn)
{
    ps_buf_t txn_jws, jws;
    char *text = json_dumps(txn, JSON_COMPACT), errstr[PS_ERRSTR_SIZE];
    json_t *notif;
    sim_request_t req;
    ingest_result_t res;
    const char *label;

    ps_buf_init(&txn_jws, SIM_BODY_BYTES_MAX);
    ps_buf_init(&jws, SIM_BODY_BYTES_MAX);
    sim_request_init(&req);
    CHECK(sim_apple_sign(&keys, text, strlen(text), SIM_APPLE_GENUINE, &txn_jws, errstr,
                         sizeof(errstr)) == PS_OK);
    notif = sim_apple_notification_json(p, (const char *)txn_jws.data);
    free(text);
    text = json_dumps(notif, JSON_COMPACT);
    CHECK(sim_apple_sign(&keys, text, strlen(text), SIM_APPLE_GENUINE, &jws, errstr,
                         sizeof(errstr)) == PS_OK);
    CHECK(sim_apple_request_from_jws((const char *)jws.data, jws.len, &req, errstr,
                                     sizeof(errstr)) == PS_OK);
    tu_verify(v, req.body.data, req.body.len, NOW_S, &res);
    label = res.verdict == INGEST_REJECT ? res.reason_label
            : res.verdict == INGEST_ACCEPT ? "accepted"
                                           : "ack_only";
    if (res.verdict == INGEST_ACCEPT)
        CHECK(tu_event_valid(&res.ev));
    ingest_result_deinit(&res);
    sim_request_deinit(&req);
    json_decref(notif);
    json_decref(txn);
    free(text);
    ps_buf_deinit(&jws);
    ps_buf_deinit(&txn_jws);
    return label;
}

/* Verifies raw body text. */
static const char *label_of_body(const char *body, size_t len)
{
    ingest_result_t res;
    const char *label;

    tu_verify(v, body, len, NOW_S, &res);
    label = res.verdict == INGEST_REJECT ? res.reason_label : "not_rejected";
    ingest_result_deinit(&res);
    return label;
}

/* A genuine ONE_TIME_CHARGE is accepted with every field exact; its
 * duplicate is accepted again with an equal event. */
static void test_payment_round_trip(void)
{
    sim_apple_params_t p;
    ingest_result_t res, dup;

    sim_apple_params_default(&p);
    p.transaction_id = "2000000999000001";
    p.original_transaction_id = "2000000999000000";
    p.price_milli = 128000;
    run_params(&keys, &p, &res);
    CHECK_INT(res.verdict, INGEST_ACCEPT);
    CHECK_INT(res.ev.kind, PS_EVENT_PAYMENT_SUCCEEDED);
    CHECK_STR(res.ev.channel_event_type, "ONE_TIME_CHARGE");
    CHECK_STR(res.ev.channel_event_id, p.notification_uuid);
    /* The payment is the transaction itself, not its original purchase:
     * a renewal (same original id) is a payment of its own. */
    CHECK_STR(res.ev.merchant_order_no, "2000000999000001");
    CHECK_STR(res.ev.channel_txn_id, "2000000999000001");
    CHECK_STR(res.ev.refund_id, NULL);
    CHECK_INT(res.ev.amount_minor, 12800);
    CHECK_STR(res.ev.currency, "CNY");
    CHECK_STR(res.ev.account_id, p.app_account_token);
    CHECK_INT(res.ev.event_time_us, p.signed_date_ms * 1000);
    CHECK(res.ev.has_paid_time);
    CHECK_INT(res.ev.paid_time_us, p.purchase_date_ms * 1000);
    CHECK_INT(res.ev.header_count, 0);
    CHECK(tu_event_valid(&res.ev));
    run_params(&keys, &p, &dup);
    CHECK_INT(dup.verdict, INGEST_ACCEPT);
    CHECK_STR(dup.ev.channel_event_id, res.ev.channel_event_id);
    CHECK_STR(dup.ev.key_id, res.ev.key_id);
    CHECK_INT(dup.ev.amount_minor, res.ev.amount_minor);
    ingest_result_deinit(&dup);
    ingest_result_deinit(&res);
    /* Subscriptions book the same way; JPY has no minor unit. */
    p.notification_type = "DID_RENEW";
    p.currency = "JPY";
    p.price_milli = 120000;
    run_params(&keys, &p, &res);
    CHECK_INT(res.verdict, INGEST_ACCEPT);
    CHECK_INT(res.ev.amount_minor, 120);
    CHECK_STR(res.ev.currency, "JPY");
    ingest_result_deinit(&res);
    p.notification_type = "SUBSCRIBED";
    run_params(&keys, &p, &res);
    CHECK_INT(res.ev.kind, PS_EVENT_PAYMENT_SUCCEEDED);
    ingest_result_deinit(&res);
}

/* REFUND (full and prorated), REFUND_REVERSED, TEST and an unbooked type. */
static void test_refunds_and_acks(void)
{
    sim_apple_params_t p;
    ingest_result_t res;
    json_t *txn;

    sim_apple_params_default(&p);
    p.notification_type = "REFUND";
    p.revocation_date_ms = INT64_C(1700000001000);
    run_params(&keys, &p, &res);
    CHECK_INT(res.verdict, INGEST_ACCEPT);
    CHECK_INT(res.ev.kind, PS_EVENT_REFUND_SUCCEEDED);
    CHECK_STR(res.ev.refund_id, p.transaction_id);
    CHECK_INT(res.ev.amount_minor, 648);
    CHECK(tu_event_valid(&res.ev));
    ingest_result_deinit(&res);
    txn = sim_apple_transaction_json(&p);
    json_object_set_new(txn, "revocationPercentage", json_integer(50000));
    CHECK_STR(label_of_txn(&p, txn), "accepted");
    txn = sim_apple_transaction_json(&p);
    json_object_set_new(txn, "revocationPercentage", json_integer(33333));
    CHECK_STR(label_of_txn(&p, txn), "bad_amount");
    p.revocation_date_ms = 0;
    CHECK_STR(label_of(&keys, &p), "missing_field");
    p.notification_type = "REFUND_REVERSED";
    run_params(&keys, &p, &res);
    CHECK_INT(res.verdict, INGEST_ACCEPT);
    CHECK_INT(res.ev.kind, PS_EVENT_REFUND_REVERSED);
    CHECK_INT(res.ev.amount_minor, 648);
    ingest_result_deinit(&res);
    p.notification_type = "TEST";
    p.with_transaction = false;
    run_params(&keys, &p, &res);
    CHECK_INT(res.verdict, INGEST_ACK_ONLY);
    CHECK_STR(res.reason_label, "test_notification");
    p.notification_type = "CONSUMPTION_REQUEST";
    run_params(&keys, &p, &res);
    CHECK_INT(res.verdict, INGEST_ACK_ONLY);
    CHECK_STR(res.reason_label, "ignored_notification_type");
    CHECK_CONTAINS(res.reason, "CONSUMPTION_REQUEST");
    p.notification_type = "ONE_TIME_CHARGE";
    CHECK_STR(label_of(&keys, &p), "missing_field");
}

/* Forgeries: foreign keys, HS256, an untrusted chain, another app or
 * environment (the expired leaf has its own test). */
static void test_forgeries(void)
{
    sim_apple_params_t p;

    sim_apple_params_default(&p);
    p.forgery = SIM_APPLE_WRONG_KEY;
    CHECK_STR(label_of(&keys, &p), "bad_signature");
    p.forgery = SIM_APPLE_NESTED_WRONG_KEY;
    CHECK_STR(label_of(&keys, &p), "bad_signature");
    p.forgery = SIM_APPLE_ALG_HS256;
    CHECK_STR(label_of(&keys, &p), "bad_alg");
    p.forgery = SIM_APPLE_GENUINE;
    CHECK_STR(label_of(&other_keys, &p), "untrusted_chain");
    p.bundle_id = "com.example.other";
    CHECK_STR(label_of(&keys, &p), "wrong_app");
    p.bundle_id = "com.example";
    p.environment = "Production";
    CHECK_STR(label_of(&keys, &p), "wrong_environment");
    p.environment = "Sandbox";
    CHECK_STR(label_of(&keys, &p), "not_rejected");
}

/* An expired leaf under the trusted root: rejected at signedDate, also when
 * its chain is already in the cache from an earlier, in-window payload. */
static void test_expired_leaf(void)
{
    sim_apple_params_t p;

    sim_apple_params_default(&p);
    p.signed_date_ms = (LEAF_TO_S + 10) * 1000;
    CHECK_STR(label_of(&keys, &p), "expired_certificate");
    p.signed_date_ms = (LEAF_FROM_S - 10) * 1000;
    CHECK_STR(label_of(&keys, &p), "expired_certificate");
}

/* Amounts: integers only, whole minor units, positive, known currency. */
static void test_amounts(void)
{
    sim_apple_params_t p;
    json_t *txn;
    json_error_t jerr;

    sim_apple_params_default(&p);
    txn = sim_apple_transaction_json(&p);
    json_object_set_new(txn, "price", json_loads("6480.0", JSON_DECODE_ANY, &jerr));
    CHECK_STR(label_of_txn(&p, txn), "bad_amount");
    txn = sim_apple_transaction_json(&p);
    json_object_set_new(txn, "price", json_string("6480"));
    CHECK_STR(label_of_txn(&p, txn), "bad_amount");
    txn = sim_apple_transaction_json(&p);
    json_object_del(txn, "price");
    CHECK_STR(label_of_txn(&p, txn), "missing_field");
    p.price_milli = 6485; /* half a fen */
    CHECK_STR(label_of(&keys, &p), "bad_amount");
    p.price_milli = 0;
    CHECK_STR(label_of(&keys, &p), "bad_amount");
    p.price_milli = -6480;
    CHECK_STR(label_of(&keys, &p), "bad_amount");
    p.price_milli = 6480;
    p.currency = "XAU";
    CHECK_STR(label_of(&keys, &p), "bad_currency");
    p.currency = "cny";
    CHECK_STR(label_of(&keys, &p), "bad_currency");
    p.currency = "ZZZ";
    CHECK_STR(label_of(&keys, &p), "bad_currency");
}

/* Fields: account token, ids, dates and the notification's own fields. */
static void test_fields(void)
{
    sim_apple_params_t p;
    json_t *txn;

    sim_apple_params_default(&p);
    p.app_account_token = NULL;
    CHECK_STR(label_of(&keys, &p), "missing_account");
    p.app_account_token = "";
    CHECK_STR(label_of(&keys, &p), "missing_account");
    p.app_account_token = "player-10086";
    CHECK_STR(label_of(&keys, &p), "bad_account");
    sim_apple_params_default(&p);
    txn = sim_apple_transaction_json(&p);
    json_object_del(txn, "transactionId");
    CHECK_STR(label_of_txn(&p, txn), "missing_field");
    txn = sim_apple_transaction_json(&p);
    json_object_set_new(txn, "originalTransactionId", json_integer(2000000456789012));
    CHECK_STR(label_of_txn(&p, txn), "bad_payload");
    txn = sim_apple_transaction_json(&p);
    json_object_set_new(txn, "purchaseDate", json_string("yesterday"));
    CHECK_STR(label_of_txn(&p, txn), "bad_payload");
    txn = sim_apple_transaction_json(&p);
    json_object_set_new(txn, "bundleId", json_string("com.example.other"));
    CHECK_STR(label_of_txn(&p, txn), "wrong_app");
    txn = sim_apple_transaction_json(&p);
    json_object_set_new(txn, "environment", json_string("Production"));
    CHECK_STR(label_of_txn(&p, txn), "wrong_environment");
    /* Unknown extra fields in signed data are Apple's to add: tolerated. */
    txn = sim_apple_transaction_json(&p);
    json_object_set_new(txn, "someFutureField", json_true());
    CHECK_STR(label_of_txn(&p, txn), "accepted");
    p.notification_uuid = "";
    CHECK_STR(label_of(&keys, &p), "bad_payload");
}

/* The body: garbage, not JSON, wrong shapes, duplicates, extra members, oversize. */
static void test_bad_bodies(void)
{
    static const char *const bodies[] = {
        "", "garbage", "{", "[]", "\"x\"", "null", "{}", "{\"signedPayload\":1}",
        "{\"signedPayload\":null}", "{\"signedPayload\":\"\"}", "{\"signedPayload\":\"a.b\"}",
        "{\"signedPayload\":\"a.b.c\",\"extra\":1}",
        "{\"signedPayload\":\"a.b.c\",\"signedPayload\":\"a.b.c\"}",
        "{\"signedPayload\":\"a.b.c\"} trailing", "{\"signedPayload\":\"\\u0000.b.c\"}",
        "{\"signedPayload\":\"\xff\xfe.b.c\"}"};
    const char *expect[] = {"bad_json", "bad_json", "bad_json", "bad_json", "bad_json",
                            "bad_json", "bad_json", "bad_json", "bad_json", "bad_jws",
                            "bad_jws",  "bad_json", "bad_json", "bad_json", "bad_json",
                            "bad_json"};
    char *big;

    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
        CHECK_STR(label_of_body(bodies[i], strlen(bodies[i])), expect[i]);
    big = ps_malloc(PS_APPLE_BODY_BYTES_MAX + 1);
    memset(big, ' ', PS_APPLE_BODY_BYTES_MAX + 1);
    CHECK_STR(label_of_body(big, PS_APPLE_BODY_BYTES_MAX + 1), "body_too_large");
    ps_free(big);
}

/* Every truncation of a genuine body, and bad base64url in its JWS. */
static void test_truncation_and_base64(void)
{
    sim_apple_params_t p;
    sim_request_t req;
    char errstr[PS_ERRSTR_SIZE], *copy;
    int accepted = 0;

    sim_apple_params_default(&p);
    sim_request_init(&req);
    REQUIRE(sim_apple_build(&keys, &p, &req, errstr, sizeof(errstr)) == PS_OK);
    for (size_t len = 0; len < req.body.len; len++) {
        if (strcmp(label_of_body((const char *)req.body.data, len), "not_rejected") == 0)
            accepted++;
    }
    CHECK_INT(accepted, 0);
    copy = ps_strndup((const char *)req.body.data, req.body.len);
    copy[40] = '+'; /* inside the header part of the token */
    CHECK_STR(label_of_body(copy, req.body.len), "bad_jws");
    copy[40] = '=';
    CHECK_STR(label_of_body(copy, req.body.len), "bad_jws");
    ps_free(copy);
    sim_request_deinit(&req);
}

/* Changing any one character of the signed token never yields an accept. */
static void test_tamper_every_byte(void)
{
    sim_apple_params_t p;
    sim_request_t req;
    char errstr[PS_ERRSTR_SIZE], *copy;
    const char *start;
    size_t off, tok_len;
    int not_rejected = 0;

    sim_apple_params_default(&p);
    sim_request_init(&req);
    REQUIRE(sim_apple_build(&keys, &p, &req, errstr, sizeof(errstr)) == PS_OK);
    copy = ps_strndup((const char *)req.body.data, req.body.len);
    start = strstr(copy, ":\"") + 2;
    off = (size_t)(start - copy);
    tok_len = req.body.len - off - 2; /* minus the closing quote and brace */
    for (size_t i = 0; i < tok_len; i++) {
        char was = copy[off + i];

        if (was == '.')
            continue;
        copy[off + i] = was == 'A' ? 'B' : 'A';
        if (strcmp(label_of_body(copy, req.body.len), "not_rejected") == 0)
            not_rejected++;
        copy[off + i] = was;
    }
    CHECK_INT(not_rejected, 0);
    CHECK_STR(label_of_body(copy, req.body.len), "not_rejected");
    ps_free(copy);
    sim_request_deinit(&req);
}

/* One known chain costs one validation; later payloads are cache hits. */
static void test_chain_cache(void)
{
    ingest_apple_t *fresh = tu_apple_new(root_path, "com.example", "Sandbox", NULL, "on", NULL);
    ingest_apple_t *saved = v;
    sim_apple_params_t p;

    REQUIRE(fresh != NULL);
    v = fresh;
    sim_apple_params_default(&p);
    CHECK_STR(label_of(&keys, &p), "not_rejected");
    CHECK_INT(ingest_apple_chain_validations(v), 1);
    CHECK_INT(ingest_apple_chain_cache_hits(v), 1);
    p.notification_uuid = "6f1d3a52-1111-4c0e-9a55-000000000099";
    CHECK_STR(label_of(&keys, &p), "not_rejected");
    CHECK_INT(ingest_apple_chain_validations(v), 1);
    CHECK_INT(ingest_apple_chain_cache_hits(v), 3);
    v = saved;
    ingest_apple_destroy(fresh);
    /* With the cache off every item is validated. */
    fresh = tu_apple_new(root_path, "com.example", "Sandbox", NULL, "on", "0");
    REQUIRE(fresh != NULL);
    v = fresh;
    CHECK_STR(label_of(&keys, &p), "not_rejected");
    CHECK_INT(ingest_apple_chain_validations(v), 2);
    CHECK_INT(ingest_apple_chain_cache_hits(v), 0);
    v = saved;
    ingest_apple_destroy(fresh);
}

/* The header cache (a validated chain remembered by the hash of the JWS
 * header segment): a hit skips only the header's decoding and the chain
 * validation; the time window, the signature of every item, the nested
 * items and the app binding are checked as on a miss. */
static void test_header_cache_strict(void)
{
    ingest_apple_t *fresh = tu_apple_new(root_path, "com.example", "Sandbox", NULL, "on", NULL);
    ingest_apple_t *saved = v;
    sim_apple_params_t p;

    REQUIRE(fresh != NULL);
    v = fresh;
    sim_apple_params_default(&p);
    CHECK_STR(label_of(&keys, &p), "not_rejected");
    CHECK_INT(ingest_apple_chain_validations(v), 1);
    /* Same x5c header from here on: every item is a header-cache hit. */
    p.signed_date_ms = (LEAF_TO_S + 10) * 1000;
    CHECK_STR(label_of(&keys, &p), "expired_certificate");
    p.signed_date_ms = (LEAF_FROM_S - 10) * 1000;
    CHECK_STR(label_of(&keys, &p), "expired_certificate");
    sim_apple_params_default(&p);
    p.forgery = SIM_APPLE_WRONG_KEY;
    CHECK_STR(label_of(&keys, &p), "bad_signature");
    p.forgery = SIM_APPLE_NESTED_WRONG_KEY;
    CHECK_STR(label_of(&keys, &p), "bad_signature");
    p.forgery = SIM_APPLE_GENUINE;
    p.bundle_id = "com.example.other";
    CHECK_STR(label_of(&keys, &p), "wrong_app");
    p.bundle_id = "com.example";
    p.environment = "Production";
    CHECK_STR(label_of(&keys, &p), "wrong_environment");
    CHECK_INT(ingest_apple_chain_validations(v), 1);
    CHECK(ingest_apple_chain_cache_hits(v) >= 6);
    /* Another header (alg HS256) misses and is refused on its own. */
    sim_apple_params_default(&p);
    p.forgery = SIM_APPLE_ALG_HS256;
    CHECK_STR(label_of(&keys, &p), "bad_alg");
    /* A chain under another root never enters the cache. */
    p.forgery = SIM_APPLE_GENUINE;
    CHECK_STR(label_of(&other_keys, &p), "untrusted_chain");
    CHECK_STR(label_of(&other_keys, &p), "untrusted_chain");
    CHECK_INT(ingest_apple_chain_validations(v), 3);
    v = saved;
    ingest_apple_destroy(fresh);
}

/* The body {"signedPayload":"<token>"} in any spelling JSON allows means the
 * same: whitespace, an escaped key (full parser), and near misses refused. */
static void test_body_spellings(void)
{
    sim_apple_params_t p;
    sim_request_t req;
    char errstr[PS_ERRSTR_SIZE];
    const char *tok;
    size_t tok_len;
    ps_buf_t body;
    static const struct {
        const char *before, *after, *want;
    } forms[] = {
        {"{\"signedPayload\":\"", "\"}", "not_rejected"},
        {" \r\n\t{ \"signedPayload\" :\n \"", "\" \t}\n ", "not_rejected"},
        {"{\"signed\\u0050ayload\":\"", "\"}", "not_rejected"},
        {"{\"signedPayload\":\"", "\"}}", "bad_json"},
        {"{\"signedPayload\":\"", "\",}", "bad_json"},
        {"{\"signedPayload\":\"", "\"", "bad_json"},
        {"{\"signedPayload\"\"", "\"}", "bad_json"},
        {"{\"signedpayload\":\"", "\"}", "bad_json"},
        {"x{\"signedPayload\":\"", "\"}", "bad_json"},
        {"{\"signedPayload\":\"", "\"}\v", "bad_json"},
        {"{\"signedPayload\":\"", "\\\"\"}", "bad_jws"},
    };

    sim_apple_params_default(&p);
    sim_request_init(&req);
    REQUIRE(sim_apple_build(&keys, &p, &req, errstr, sizeof(errstr)) == PS_OK);
    tok = strstr((const char *)req.body.data, ":\"");
    REQUIRE(tok != NULL);
    tok += 2;
    tok_len = strcspn(tok, "\"");
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        ps_buf_init(&body, PS_APPLE_BODY_BYTES_MAX);
        ps_buf_append_str(&body, forms[i].before);
        ps_buf_append(&body, tok, tok_len);
        ps_buf_append_str(&body, forms[i].after);
        CHECK_STR(label_of_body((const char *)body.data, body.len), forms[i].want);
        ps_buf_deinit(&body);
    }
    sim_request_deinit(&req);
}

/* Configuration: disabled channel, missing settings, bad root files. */
static void test_config(void)
{
    ingest_apple_t *d = tu_apple_new(NULL, NULL, NULL, NULL, NULL, NULL);
    ps_config_t *cfg;
    ingest_apple_t *bad = NULL;
    char errstr[PS_ERRSTR_SIZE];
    ingest_result_t res;

    REQUIRE(d != NULL);
    CHECK(!ingest_apple_ready(d));
    CHECK(ingest_apple_ready(v));
    CHECK_STR(label_of_body("{}", 2), "bad_json");
    tu_verify(d, "{}", 2, NOW_S, &res);
    CHECK_STR(res.reason_label, "channel_disabled");
    ingest_apple_destroy(d);
    ingest_apple_destroy(NULL);
    cfg = tu_apple_config(root_path, NULL, "Sandbox", NULL, NULL, NULL);
    CHECK_INT(ingest_apple_new(cfg, &bad, errstr, sizeof(errstr)), PS_ERR_CONFIG);
    CHECK_CONTAINS(errstr, "apple.bundle_id");
    ps_config_destroy(cfg);
    cfg = tu_apple_config(root_path, "com.example", "Production", NULL, NULL, NULL);
    CHECK_INT(ingest_apple_new(cfg, &bad, errstr, sizeof(errstr)), PS_ERR_CONFIG);
    CHECK_CONTAINS(errstr, "apple.app_apple_id");
    ps_config_destroy(cfg);
    cfg = tu_apple_config("/nonexistent/root.pem", "com.example", "Sandbox", NULL, NULL, NULL);
    CHECK_INT(ingest_apple_new(cfg, &bad, errstr, sizeof(errstr)), PS_ERR_CONFIG);
    CHECK_CONTAINS(errstr, "/nonexistent/root.pem");
    ps_config_destroy(cfg);
    cfg = tu_apple_config("/dev/null", "com.example", "Sandbox", NULL, NULL, NULL);
    CHECK_INT(ingest_apple_new(cfg, &bad, errstr, sizeof(errstr)), PS_ERR_CONFIG);
    CHECK_CONTAINS(errstr, "no certificate");
    ps_config_destroy(cfg);
    CHECK(bad == NULL);
}

static void *verify_thread(void *arg)
{
    sim_request_t *req = arg;
    intptr_t ok = 0;

    for (int i = 0; i < THREAD_ROUNDS; i++) {
        ingest_result_t res;

        if (tu_verify(v, req->body.data, req->body.len, NOW_S, &res) == PS_OK &&
            res.verdict == INGEST_ACCEPT)
            ok++;
        ingest_result_deinit(&res);
    }
    return (void *)ok;
}

/* Several threads verify concurrently on one verifier; all accept. */
static void test_threads(void)
{
    sim_apple_params_t p;
    sim_request_t req;
    pthread_t t[THREADS];
    char errstr[PS_ERRSTR_SIZE];
    intptr_t total = 0;

    sim_apple_params_default(&p);
    sim_request_init(&req);
    REQUIRE(sim_apple_build(&keys, &p, &req, errstr, sizeof(errstr)) == PS_OK);
    for (int i = 0; i < THREADS; i++)
        REQUIRE(pthread_create(&t[i], NULL, verify_thread, &req) == 0);
    for (int i = 0; i < THREADS; i++) {
        void *ok;

        pthread_join(t[i], &ok);
        total += (intptr_t)ok;
    }
    CHECK_INT(total, THREADS * THREAD_ROUNDS);
    sim_request_deinit(&req);
}

/* The simulator writes its root as PEM and produces a raw request. */
static void test_sim_outputs(void)
{
    sim_apple_params_t p;
    sim_request_t req;
    ps_buf_t raw, root;
    char errstr[PS_ERRSTR_SIZE];

    CHECK(tu_read_file(root_path, false, &root));
    CHECK(root.len > 0 && strstr((const char *)root.data, "BEGIN CERTIFICATE") != NULL);
    ps_buf_deinit(&root);
    sim_apple_params_default(&p);
    sim_request_init(&req);
    REQUIRE(sim_apple_build(&keys, &p, &req, errstr, sizeof(errstr)) == PS_OK);
    ps_buf_init(&raw, SIM_RAW_REQUEST_BYTES_MAX);
    CHECK_INT(sim_request_write_raw(&req, &raw), PS_OK);
    CHECK(strncmp((const char *)raw.data, "POST /v1/notify/apple HTTP/1.1\r\n", 32) == 0);
    CHECK_CONTAINS((const char *)raw.data, "Content-Type: application/json");
    CHECK_CONTAINS((const char *)raw.data, "\r\n\r\n{\"signedPayload\":\"eyJ");
    CHECK_INT(sim_apple_write_root(&keys, "/nonexistent/dir/root.pem", errstr, sizeof(errstr)),
              PS_ERR_IO);
    ps_buf_deinit(&raw);
    sim_request_deinit(&req);
}

int main(void)
{
    char errstr[PS_ERRSTR_SIZE];
    int fd, rc;

    snprintf(root_path, sizeof(root_path), "/tmp/ps_apple_root_XXXXXX");
    fd = mkstemp(root_path);
    if (fd < 0 ||
        sim_apple_keys_generate(LEAF_FROM_S, LEAF_TO_S, &keys, errstr, sizeof(errstr)) != PS_OK ||
        sim_apple_keys_generate(LEAF_FROM_S, LEAF_TO_S, &other_keys, errstr, sizeof(errstr)) !=
            PS_OK ||
        sim_apple_write_root(&keys, root_path, errstr, sizeof(errstr)) != PS_OK) {
        fprintf(stderr, "setup failed: %s\n", errstr);
        return 1;
    }
    close(fd);
    /* X509_STRICT on: the simulated chain is shaped like Apple's real one. */
    v = tu_apple_new(root_path, "com.example", "Sandbox", NULL, "on", NULL);
    if (v == NULL)
        return 1;
    RUN(test_payment_round_trip);
    RUN(test_refunds_and_acks);
    RUN(test_forgeries);
    RUN(test_expired_leaf);
    RUN(test_amounts);
    RUN(test_fields);
    RUN(test_bad_bodies);
    RUN(test_truncation_and_base64);
    RUN(test_tamper_every_byte);
    RUN(test_chain_cache);
    RUN(test_header_cache_strict);
    RUN(test_body_spellings);
    RUN(test_config);
    RUN(test_threads);
    RUN(test_sim_outputs);
    ingest_apple_destroy(v);
    sim_apple_keys_deinit(&other_keys);
    sim_apple_keys_deinit(&keys);
    unlink(root_path);
    rc = test_summary();
    return rc;
}
