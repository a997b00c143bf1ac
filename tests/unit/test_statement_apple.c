/*
 * Apple statements: App Store Server API transaction history pages whose
 * signed transactions are verified with the ingest's Apple verifier (helper
 * J's ingest_apple_decode_signed) through the recon_jws_verify_fn adapter.
 * Covers the conformance transaction of AG2 (signed by the SDK test chain),
 * generated multi-page histories against golden rows, and the rejections:
 * forged signature, missing pages, foreign bundle, duplicates, window,
 * missing or inexact price, no verifier, garbage.
 */
#include "apple.h"
#include "config.h"
#include "sim_apple.h"
#include "test.h"
#include "test_statement_common.h"

#include <paystream/assert.h>
#include <paystream/base64.h>
#include <paystream/config.h>
#include <stdlib.h>
#include <unistd.h>

static char errbuf[PS_ERRSTR_SIZE];
static sim_apple_keys_t keys;
static ingest_apple_t *verifier;

static ps_err_t verify_adapter(void *v, const char *jws, size_t len, json_t **payload_out,
                               char *errstr, size_t errstr_size)
{
    const char *label = NULL;
    return ingest_apple_decode_signed(v, INGEST_APPLE_TRANSACTION, jws, len, 1700000000,
                                      payload_out, NULL, &label, errstr, errstr_size);
}

/* An Apple verifier trusting root_path (PEM or DER) for com.example, Sandbox. */
static ingest_apple_t *make_verifier(const char *root_path, bool strict)
{
    char root_env[4200];
    ps_config_t *cfg = NULL;
    ingest_apple_t *v = NULL;
    snprintf(root_env, sizeof(root_env), "PAYSTREAM_APPLE_ROOT_CERT_FILE=%s", root_path);
    char *envp[] = {root_env, "PAYSTREAM_APPLE_BUNDLE_ID=com.example",
                    "PAYSTREAM_APPLE_ENVIRONMENT=Sandbox",
                    strict ? "PAYSTREAM_APPLE_X509_STRICT=on" : "PAYSTREAM_APPLE_X509_STRICT=off",
                    NULL};
    PS_ASSERT(ps_config_load(ingest_config_table, ingest_config_key_count, NULL, envp, &cfg,
                             errbuf, sizeof(errbuf)) == PS_OK);
    if (ingest_apple_new(cfg, &v, errbuf, sizeof(errbuf)) != PS_OK)
        fprintf(stderr, "%s\n", errbuf);
    ps_config_destroy(cfg);
    PS_ASSERT(v != NULL);
    return v;
}

/* A signed transaction with the given fields (owned JSON string value). */
static json_t *txn(const char *id, int64_t price_milli, const char *currency, int64_t purchase_ms,
                   int64_t revocation_ms, sim_apple_forgery_t forgery)
{
    sim_apple_params_t p;
    ps_buf_t out;
    sim_apple_params_default(&p);
    p.transaction_id = id;
    p.original_transaction_id = "1000000000000001";
    p.price_milli = price_milli;
    p.currency = currency;
    p.purchase_date_ms = purchase_ms;
    p.revocation_date_ms = revocation_ms;
    json_t *t = sim_apple_transaction_json(&p);
    char *text = json_dumps(t, JSON_COMPACT);
    ps_buf_init(&out, 64 * 1024);
    PS_ASSERT(sim_apple_sign(&keys, text, strlen(text), forgery, &out, errbuf, sizeof(errbuf)) ==
              PS_OK);
    json_t *s = json_stringn((const char *)out.data, out.len);
    free(text);
    json_decref(t);
    ps_buf_deinit(&out);
    return s;
}

/* One history page holding the given signed transactions (references stolen). */
static json_t *history_page(bool more, const char *bundle, json_t *a, json_t *b)
{
    json_t *arr = json_array();
    if (a)
        json_array_append_new(arr, a);
    if (b)
        json_array_append_new(arr, b);
    return json_pack("{s:s, s:b, s:s, s:I, s:s, s:o}", "revision", "r1", "hasMore", more,
                     "bundleId", bundle, "appAppleId", (json_int_t)1234, "environment",
                     "Sandbox", "signedTransactions", arr);
}

static char *dump(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

static recon_expect_t expect_of(ingest_apple_t *v)
{
    recon_expect_t e = {.merchant_id = "com.example", .apple_verify = verify_adapter,
                        .apple_verifier = v};
    return e;
}

/* Goal: the conformance AG2 transaction (revoked) gives a payment and a refund row. */
static void test_conformance_ag2(void)
{
    char path[4096];
    const char *src = getenv("PAYSTREAM_SOURCE_DIR");
    size_t len;
    uint8_t *body = stmt_read("apple_AG2_refund.body.json", &len);
    REQUIRE(body != NULL);
    json_t *outer = json_loadb((const char *)body, len, 0, NULL);
    const char *jws = json_string_value(json_object_get(outer, "signedPayload"));
    REQUIRE(jws != NULL);
    const char *dot1 = strchr(jws, '.'), *dot2 = strchr(dot1 + 1, '.');
    ps_buf_t payload;
    ps_buf_init(&payload, 64 * 1024);
    REQUIRE(ps_base64_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), PS_BASE64_URL, &payload, NULL,
                             0) == PS_OK);
    json_t *notif = json_loadb((const char *)payload.data, payload.len, 0, NULL);
    json_t *signed_txn = json_object_get(json_object_get(notif, "data"), "signedTransactionInfo");
    REQUIRE(json_is_string(signed_txn));
    json_incref(signed_txn);
    char *doc = dump(history_page(false, "com.example", signed_txn, NULL));

    snprintf(path, sizeof(path), "%s/tests/data/statements/apple_testCA.der", src ? src : ".");
    ingest_apple_t *v = make_verifier(path, false);
    recon_expect_t e = expect_of(v);
    recon_stmt_meta_t meta;
    char *got = stmt_render(RECON_FMT_APPLE, (uint8_t *)doc, strlen(doc), &e, &meta, errbuf,
                            sizeof(errbuf));
    CHECK_STR(got != NULL ? got : errbuf,
              "row line=1 channel=APPLE kind=payment order=2000000456789012 txn=2000000456789012 "
              "refund=- amount_minor=648 currency=CNY time=2023-11-14T22:13:20.000000Z "
              "status=PURCHASE refund_status=-\n"
              "row line=1 channel=APPLE kind=refund order=2000000456789012 txn=2000000456789012 "
              "refund=2000000456789012 amount_minor=648 currency=CNY "
              "time=2023-11-21T20:53:20.000000Z status=REVOKED refund_status=-\n"
              "meta merchant=com.example window=2023-11-14T22:13:20.000000Z/"
              "2023-11-21T20:53:20.000001Z rows=2 payments=1 refunds=1 payment_total_minor=648 "
              "refund_total_minor=648 currency=CNY\n");
    ps_free(got);
    free(doc);
    ingest_apple_destroy(v);
    json_decref(notif);
    json_decref(outer);
    ps_buf_deinit(&payload);
    ps_free(body);
}

/* Goal: two pages, three transactions (one JPY, one revoked in the window,
 * one revoked after it) give the expected rows. */
static void test_generated_pages(void)
{
    recon_expect_t e = expect_of(verifier);
    e.has_window = true;
    REQUIRE(recon_statement_shanghai_day("2023-11-15", &e.window_start_us, &e.window_end_us,
                                         NULL, 0) == PS_OK);
    json_t *pages = json_pack(
        "[o, o]",
        history_page(true, "com.example", txn("2001", 6480, "CNY", 1699999000000, 0, 0),
                     txn("2002", 120000, "JPY", 1700001000000, 1700002000000, 0)),
        history_page(false, "com.example", txn("2003", 30000, "CNY", 1700003000000,
                                               1800000000000, 0),
                     NULL));
    char *doc = dump(pages);
    recon_stmt_meta_t meta;
    char *got = stmt_render(RECON_FMT_APPLE, (uint8_t *)doc, strlen(doc), &e, &meta, errbuf,
                            sizeof(errbuf));
    CHECK_STR(got != NULL ? got : errbuf,
              "row line=1 channel=APPLE kind=payment order=1000000000000001 txn=2001 refund=- "
              "amount_minor=648 currency=CNY time=2023-11-14T21:56:40.000000Z status=PURCHASE "
              "refund_status=-\n"
              "row line=2 channel=APPLE kind=payment order=1000000000000001 txn=2002 refund=- "
              "amount_minor=120 currency=JPY time=2023-11-14T22:30:00.000000Z status=PURCHASE "
              "refund_status=-\n"
              "row line=2 channel=APPLE kind=refund order=1000000000000001 txn=2002 refund=2002 "
              "amount_minor=120 currency=JPY time=2023-11-14T22:46:40.000000Z status=REVOKED "
              "refund_status=-\n"
              "row line=3 channel=APPLE kind=payment order=1000000000000001 txn=2003 refund=- "
              "amount_minor=3000 currency=CNY time=2023-11-14T23:03:20.000000Z status=PURCHASE "
              "refund_status=-\n"
              "meta merchant=com.example window=2023-11-14T16:00:00.000000Z/"
              "2023-11-15T16:00:00.000000Z rows=4 payments=3 refunds=1 payment_total_minor=3768 "
              "refund_total_minor=120 currency=\n");
    ps_free(got);
    free(doc);
}

static void apple_rejects(json_t *doc_json, const recon_expect_t *e, ps_err_t code,
                          const char *why)
{
    char *doc = dump(doc_json);
    long long rows = 0;
    CHECK_INT(stmt_try(RECON_FMT_APPLE, doc, strlen(doc), e, &rows, errbuf, sizeof(errbuf)),
              code);
    CHECK_CONTAINS(errbuf, why);
    free(doc);
}

/* Goal: forged, incomplete, foreign, duplicated, out-of-window and inexact statements fail. */
static void test_rejections(void)
{
    recon_expect_t e = expect_of(verifier);
    apple_rejects(history_page(false, "com.example",
                               txn("3001", 6480, "CNY", 1700000000000, 0, SIM_APPLE_WRONG_KEY),
                               NULL),
                  &e, PS_ERR_CRYPTO, "apple history transaction 1");
    apple_rejects(history_page(true, "com.example", txn("3002", 6480, "CNY", 1700000000000, 0, 0),
                               NULL),
                  &e, PS_ERR_INVALID, "hasMore is true on the last page (pages are missing)");
    apple_rejects(json_pack("[o, o]",
                            history_page(false, "com.example",
                                         txn("3003", 6480, "CNY", 1700000000000, 0, 0), NULL),
                            history_page(false, "com.example", NULL, NULL)),
                  &e, PS_ERR_INVALID, "page 1: hasMore is false on the not last page");
    recon_expect_t other = e;
    other.merchant_id = "com.other";
    apple_rejects(history_page(false, "com.example", txn("3004", 6480, "CNY", 1700000000000, 0, 0),
                               NULL),
                  &other, PS_ERR_INVALID, "statement is for merchant \"com.example\"");
    apple_rejects(history_page(false, "com.example", txn("3005", 6480, "CNY", 1700000000000, 0, 0),
                               txn("3005", 6480, "CNY", 1700000000000, 0, 0)),
                  &e, PS_ERR_INVALID, "transactionId \"3005\" appears twice");
    recon_expect_t day = e;
    day.has_window = true;
    PS_ASSERT(recon_statement_shanghai_day("2023-11-16", &day.window_start_us,
                                           &day.window_end_us, NULL, 0) == PS_OK);
    apple_rejects(history_page(false, "com.example", txn("3006", 6480, "CNY", 1700000000000, 0, 0),
                               NULL),
                  &day, PS_ERR_INVALID, "transaction 1: purchaseDate 1700000000000 is outside");
    apple_rejects(history_page(false, "com.example", txn("3007", 6485, "CNY", 1700000000000, 0, 0),
                               NULL),
                  &e, PS_ERR_INVALID, "transaction 1: price");
    recon_expect_t none = {.merchant_id = NULL};
    apple_rejects(json_pack("{}"), &none, PS_ERR_CONFIG, "no signed-transaction verifier");
    apple_rejects(json_pack("[]"), &e, PS_ERR_INVALID, "expected a history response");
    apple_rejects(json_pack("{s:s}", "bundleId", "com.example"), &e, PS_ERR_INVALID,
                  "lacks bundleId, environment, hasMore or signedTransactions");
    apple_rejects(history_page(false, "com.example", json_integer(5), NULL), &e, PS_ERR_INVALID,
                  "transaction 1: not a JWS string");
    CHECK_INT(stmt_try(RECON_FMT_APPLE, "{\"a\":", 5, &e, NULL, errbuf, sizeof(errbuf)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(errbuf, "apple history: not JSON");
}

int main(void)
{
    char root[] = "/tmp/test_statement_apple_root_XXXXXX";
    int fd = mkstemp(root);
    PS_ASSERT(fd >= 0);
    close(fd);
    PS_ASSERT(sim_apple_keys_generate(1690000000, 2000000000, &keys, errbuf, sizeof(errbuf)) ==
              PS_OK);
    PS_ASSERT(sim_apple_write_root(&keys, root, errbuf, sizeof(errbuf)) == PS_OK);
    verifier = make_verifier(root, true);

    RUN(test_conformance_ag2);
    RUN(test_generated_pages);
    RUN(test_rejections);

    ingest_apple_destroy(verifier);
    sim_apple_keys_deinit(&keys);
    unlink(root);
    return test_summary();
}
