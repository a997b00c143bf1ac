/*
 * The Apple verifier against the official and synthetic conformance vectors
 * (../shared/conformance/apple, expected verdicts in conformance/README.md):
 * Apple's mock JWS with the test root, the x509 chain cases at their times,
 * the invalid-OID certificates, the real Apple G3 chain, and AG1-AG3 /
 * AN1-AN3. Verifier settings as the README says: trusted root testCA.der,
 * bundleId com.example, appAppleId 1234, environment Sandbox.
 */
#include "test.h"
#include "test_apple_util.h"
#include "x5c.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

/* The x509 vectors' effective date and a date when their chain has expired. */
#define X509TEST_VALID_S INT64_C(1761962975)
#define X509TEST_EXPIRED_S INT64_C(2280946846)
/* A clock inside the test CA's validity, for payloads without signedDate. */
#define NOW_S INT64_C(1700000000)

static const char *dir;
static char path_buf[2048];

static const char *vec(const char *name)
{
    snprintf(path_buf, sizeof(path_buf), "%s/apple/%s", dir, name);
    return path_buf;
}

static ingest_apple_t *sandbox_verifier(void)
{
    char root[2048];

    snprintf(root, sizeof(root), "%s/apple/testCA.der", dir);
    return tu_apple_new(root, "com.example", "Sandbox", "1234", "off", NULL);
}

/* Verifies a file holding a bare JWS as a notification body. */
static void verify_jws_file(ingest_apple_t *v, const char *name, ingest_result_t *res)
{
    ps_buf_t jws, body;

    memset(res, 0, sizeof(*res));
    if (!tu_read_file(vec(name), true, &jws)) {
        res->verdict = INGEST_REJECT;
        res->reason_label = "test_could_not_read";
        return;
    }
    tu_body_of_jws((const char *)jws.data, &body);
    CHECK_INT(tu_verify(v, body.data, body.len, NOW_S, res), PS_OK);
    ps_buf_deinit(&jws);
    ps_buf_deinit(&body);
}

/* Verifies a generated .body.json file. */
static void verify_body_file(ingest_apple_t *v, const char *name, ingest_result_t *res)
{
    ps_buf_t body;

    memset(res, 0, sizeof(*res));
    if (!tu_read_file(vec(name), false, &body)) {
        res->verdict = INGEST_REJECT;
        res->reason_label = "test_could_not_read";
        return;
    }
    CHECK_INT(tu_verify(v, body.data, body.len, NOW_S, res), PS_OK);
    ps_buf_deinit(&body);
}

/* testNotification.jws: a TEST notification, acknowledged and not produced
 * in Sandbox; wrong environment for Production; wrong app for app id 1235. */
static void test_test_notification(void)
{
    char root[2048];
    ingest_apple_t *v = sandbox_verifier(), *prod, *prod_other;
    ingest_result_t res;

    snprintf(root, sizeof(root), "%s/apple/testCA.der", dir);
    prod = tu_apple_new(root, "com.example", "Production", "1234", "off", NULL);
    prod_other = tu_apple_new(root, "com.example", "Production", "1235", "off", NULL);
    REQUIRE(v != NULL && prod != NULL && prod_other != NULL);
    verify_jws_file(v, "testNotification.jws", &res);
    CHECK_INT(res.verdict, INGEST_ACK_ONLY);
    CHECK_STR(res.reason_label, "test_notification");
    verify_jws_file(prod, "testNotification.jws", &res);
    CHECK_INT(res.verdict, INGEST_REJECT);
    CHECK_STR(res.reason_label, "wrong_environment");
    verify_jws_file(prod_other, "testNotification.jws", &res);
    CHECK_INT(res.verdict, INGEST_REJECT);
    CHECK_STR(res.reason_label, "wrong_app");
    ingest_apple_destroy(prod_other);
    ingest_apple_destroy(prod);
    ingest_apple_destroy(v);
}

/* Decodes a bare JWS file as signed data of kind; returns the label or NULL. */
static const char *decode_file(ingest_apple_t *v, ingest_apple_signed_kind_t kind,
                               const char *name, json_t **payload)
{
    ps_buf_t jws;
    const char *label = NULL;
    char errstr[PS_ERRSTR_SIZE];

    *payload = NULL;
    if (!tu_read_file(vec(name), true, &jws))
        return "test_could_not_read";
    if (ingest_apple_decode_signed(v, kind, (const char *)jws.data, jws.len, NOW_S, payload,
                                   NULL, &label, errstr, sizeof(errstr)) == PS_OK)
        label = NULL;
    ps_buf_deinit(&jws);
    return label;
}

/* transactionInfo.jws and renewalInfo.jws verify; the Xcode one-certificate
 * chains and the legacy non-JWS receipt do not. */
static void test_signed_items(void)
{
    ingest_apple_t *v = sandbox_verifier();
    json_t *p;

    REQUIRE(v != NULL);
    CHECK_STR(decode_file(v, INGEST_APPLE_TRANSACTION, "transactionInfo.jws", &p), NULL);
    CHECK_STR(json_string_value(json_object_get(p, "bundleId")), "com.example");
    json_decref(p);
    CHECK_STR(decode_file(v, INGEST_APPLE_RENEWAL, "renewalInfo.jws", &p), NULL);
    CHECK_STR(json_string_value(json_object_get(p, "environment")), "Sandbox");
    json_decref(p);
    CHECK_STR(decode_file(v, INGEST_APPLE_TRANSACTION, "xcode-signed-transaction.jws", &p),
              "bad_chain");
    CHECK_STR(decode_file(v, INGEST_APPLE_RENEWAL, "xcode-signed-renewal-info.jws", &p),
              "bad_chain");
    CHECK_STR(decode_file(v, INGEST_APPLE_TRANSACTION, "xcode-signed-app-transaction.jws", &p),
              "bad_chain");
    CHECK_STR(decode_file(v, INGEST_APPLE_TRANSACTION, "legacyTransaction.jws", &p), "bad_jws");
    CHECK_STR(decode_file(v, INGEST_APPLE_TRANSACTION, "missingX5CHeaderClaim.jws", &p),
              "bad_chain");
    CHECK(p == NULL);
    ingest_apple_destroy(v);
}

/* Negative mock notifications: wrong bundle id, missing x5c, legacy receipt. */
static void test_mock_negatives(void)
{
    ingest_apple_t *v = sandbox_verifier();
    ingest_result_t res;

    REQUIRE(v != NULL);
    verify_jws_file(v, "wrongBundleId.jws", &res);
    CHECK_INT(res.verdict, INGEST_REJECT);
    CHECK_STR(res.reason_label, "wrong_app");
    CHECK_CONTAINS(res.reason, "com.example.wrong");
    verify_jws_file(v, "missingX5CHeaderClaim.jws", &res);
    CHECK_STR(res.reason_label, "bad_chain");
    verify_jws_file(v, "legacyTransaction.jws", &res);
    CHECK_STR(res.reason_label, "bad_jws");
    verify_jws_file(v, "xcode-signed-transaction.jws", &res);
    CHECK_STR(res.reason_label, "bad_chain");
    CHECK_INT(res.verdict, INGEST_REJECT);
    ingest_apple_destroy(v);
}

/* Reads PEM or DER certificate files as DER into certs[0..3). */
static bool load_chain(const char *const names[3], ps_buf_t certs[3])
{
    bool ok = true;

    for (int i = 0; i < 3; i++) {
        ps_buf_t file;
        BIO *bio;
        X509 *x = NULL;
        unsigned char *der = NULL;
        int len = -1;

        ps_buf_init(&certs[i], PS_X5C_CERT_BYTES_MAX);
        if (!tu_read_file(vec(names[i]), false, &file)) {
            ok = false;
            continue;
        }
        bio = BIO_new_mem_buf(file.data, (int)file.len);
        x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        if (x != NULL)
            len = i2d_X509(x, &der);
        ok = ok && len > 0 && ps_buf_append(&certs[i], der, (size_t)len) == PS_OK;
        OPENSSL_free(der);
        X509_free(x);
        BIO_free(bio);
        ps_buf_deinit(&file);
    }
    return ok;
}

static ingest_x5c_t *x5c_with_root(const char *root_name, bool strict, size_t cache)
{
    ps_buf_t root;
    ingest_x5c_t *x = NULL;
    char errstr[PS_ERRSTR_SIZE];

    if (!tu_read_file(vec(root_name), false, &root))
        return NULL;
    if (ingest_x5c_new(root.data, root.len, strict, cache, &x, errstr, sizeof(errstr)) != PS_OK)
        fprintf(stderr, "ingest_x5c_new: %s\n", errstr);
    ps_buf_deinit(&root);
    return x;
}

/* Whether the last valid chain_verdict leaf came with a prepared ES256
 * context (a cache hit) rather than a bare key (a full validation). */
static bool last_leaf_prepared;

/* Validates the named chain; returns the label or NULL when valid. */
static const char *chain_verdict(ingest_x5c_t *x, const char *const names[3], int64_t at_s,
                                 EVP_PKEY **key_out)
{
    ps_buf_t certs[3];
    ingest_x5c_leaf_t leaf;
    const char *label = "test_could_not_read";
    char errstr[PS_ERRSTR_SIZE];

    if (load_chain(names, certs) &&
        ingest_x5c_verify(x, certs, 3, at_s, &leaf, &label, errstr, sizeof(errstr)) == PS_OK) {
        label = NULL;
        last_leaf_prepared = leaf.verify_ctx != NULL;
        if (key_out != NULL) {
            *key_out = leaf.key;
            leaf.key = NULL;
        }
        ingest_x5c_leaf_deinit(&leaf);
    }
    for (int i = 0; i < 3; i++)
        ps_buf_deinit(&certs[i]);
    return label;
}

/* x509test chain: valid at its effective date with the expected leaf key,
 * expired in 2042 (also when the chain is already cached). */
static void test_x509_chain_times(void)
{
    static const char *const chain[3] = {"x509test_leaf.pem", "x509test_intermediate.pem",
                                         "x509test_root.pem"};
    ingest_x5c_t *x = x5c_with_root("x509test_root.pem", false, 16);
    ingest_x5c_t *fresh = x5c_with_root("x509test_root.pem", false, 16);
    EVP_PKEY *key = NULL, *want = NULL;
    ps_buf_t pub;
    BIO *bio;

    REQUIRE(x != NULL && fresh != NULL);
    CHECK_STR(chain_verdict(x, chain, X509TEST_VALID_S, &key), NULL);
    CHECK(!last_leaf_prepared);
    REQUIRE(tu_read_file(vec("x509test_leaf_pubkey.pem"), false, &pub));
    bio = BIO_new_mem_buf(pub.data, (int)pub.len);
    want = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    CHECK(key != NULL && want != NULL && EVP_PKEY_eq(key, want) == 1);
    CHECK_STR(chain_verdict(x, chain, X509TEST_EXPIRED_S, NULL), "expired_certificate");
    CHECK_STR(chain_verdict(fresh, chain, X509TEST_EXPIRED_S, NULL), "expired_certificate");
    CHECK_INT(ingest_x5c_validations(x), 1);
    CHECK_INT(ingest_x5c_cache_hits(x), 1);
    /* A hit hands out a copy of the cached verification context. */
    CHECK_STR(chain_verdict(x, chain, X509TEST_VALID_S, NULL), NULL);
    CHECK(last_leaf_prepared);
    EVP_PKEY_free(want);
    EVP_PKEY_free(key);
    BIO_free(bio);
    ps_buf_deinit(&pub);
    ingest_x5c_destroy(fresh);
    ingest_x5c_destroy(x);
}

/* Path-valid chains without the Apple OIDs are refused. */
static void test_invalid_oids(void)
{
    static const char *const bad_int[3] = {"x509test_leaf_for_invalidOID_intermediate.pem",
                                           "x509test_intermediate_invalidOID.pem",
                                           "x509test_root.pem"};
    static const char *const bad_leaf[3] = {"x509test_leaf_invalidOID.pem",
                                            "x509test_intermediate.pem", "x509test_root.pem"};
    static const char *const java_int[3] = {"testInvalidIntermediateLeaf.pem",
                                            "testInvalidOIDIntermediate.pem", "testCA.pem"};
    static const char *const java_leaf[3] = {"testInvalidOIDLeaf.pem", "testIntermediate.pem",
                                             "testCA.pem"};
    ingest_x5c_t *x = x5c_with_root("testCA.der", false, 16);

    REQUIRE(x != NULL);
    CHECK_STR(chain_verdict(x, bad_int, X509TEST_VALID_S, NULL), "bad_apple_oid");
    CHECK_STR(chain_verdict(x, bad_leaf, X509TEST_VALID_S, NULL), "bad_apple_oid");
    CHECK_STR(chain_verdict(x, java_int, X509TEST_VALID_S, NULL), "bad_apple_oid");
    CHECK_STR(chain_verdict(x, java_leaf, X509TEST_VALID_S, NULL), "bad_apple_oid");
    /* A refused chain is not cached: asking again validates again. */
    CHECK_STR(chain_verdict(x, bad_leaf, X509TEST_VALID_S, NULL), "bad_apple_oid");
    CHECK_INT(ingest_x5c_validations(x), 5);
    ingest_x5c_destroy(x);
}

/* The real Apple chain validates with X509_STRICT at its date; the mock
 * chain does not chain to the real root. */
static void test_real_apple_chain(void)
{
    static const char *const real[3] = {"AppleProdECCReceiptSigning_2025.pem",
                                        "AppleWWDRCA-G6.pem", "AppleRootCA-G3.pem"};
    static const char *const mock[3] = {"testLeaf.pem", "testIntermediate.pem", "testCA.pem"};
    ingest_x5c_t *x = x5c_with_root("AppleRootCA-G3.pem", true, 16);

    REQUIRE(x != NULL);
    CHECK_STR(chain_verdict(x, real, X509TEST_VALID_S, NULL), NULL);
    CHECK_STR(chain_verdict(x, mock, X509TEST_VALID_S, NULL), "untrusted_chain");
    ingest_x5c_destroy(x);
}

/* AG1: a ONE_TIME_CHARGE of 6480 milli-CNY becomes a 648-fen payment with
 * every normalized field; a duplicate verifies to an equal event. */
static void test_ag1_payment(void)
{
    ingest_apple_t *v = sandbox_verifier();
    ingest_result_t res, again;
    ps_callback_event_t *ev = &res.ev;

    REQUIRE(v != NULL);
    verify_body_file(v, "generated/AG1_one_time_charge_consumable.body.json", &res);
    CHECK_INT(res.verdict, INGEST_ACCEPT);
    CHECK_STR(res.reason_label, NULL);
    CHECK_INT(ev->channel, PS_CHANNEL_APPLE);
    CHECK_INT(ev->kind, PS_EVENT_PAYMENT_SUCCEEDED);
    CHECK_STR(ev->channel_event_id, "6f1d3a52-1111-4c0e-9a55-000000000001");
    CHECK_STR(ev->channel_event_type, "ONE_TIME_CHARGE");
    CHECK_STR(ev->merchant_order_no, "2000000456789012");
    CHECK_STR(ev->channel_txn_id, "2000000456789012");
    CHECK_STR(ev->refund_id, NULL);
    CHECK_INT(ev->amount_minor, 648);
    CHECK_STR(ev->currency, "CNY");
    CHECK_STR(ev->account_id, "7e3fb20b-4cdb-47cc-936d-99d65f608138");
    CHECK_INT(ev->event_time_us, INT64_C(1700000002000) * 1000);
    CHECK(ev->has_paid_time);
    CHECK_INT(ev->paid_time_us, INT64_C(1700000000000) * 1000);
    CHECK_INT(ev->received_time_us, 0);
    CHECK_INT(ev->header_count, 0);
    CHECK(ev->key_id != NULL && strlen(ev->key_id) == 64);
    CHECK(ev->raw_body_len > 0 && ev->raw_body != NULL && ev->raw_body[0] == '{');
    CHECK(tu_event_valid(ev));
    verify_body_file(v, "generated/AG1_one_time_charge_consumable.body.json", &again);
    CHECK_INT(again.verdict, INGEST_ACCEPT);
    CHECK_STR(again.ev.channel_event_id, ev->channel_event_id);
    CHECK_INT(again.ev.amount_minor, ev->amount_minor);
    CHECK_STR(again.ev.key_id, ev->key_id);
    CHECK(again.ev.raw_body_len == ev->raw_body_len &&
          memcmp(again.ev.raw_body, ev->raw_body, ev->raw_body_len) == 0);
    /* Outer and nested share one chain: validated once, then served by the cache. */
    CHECK_INT(ingest_apple_chain_validations(v), 1);
    CHECK_INT(ingest_apple_chain_cache_hits(v), 3);
    ingest_result_deinit(&again);
    ingest_result_deinit(&res);
    ingest_apple_destroy(v);
}

/* AG2 REFUND and AG3 REFUND_REVERSED. */
static void test_ag2_ag3_refunds(void)
{
    ingest_apple_t *v = sandbox_verifier();
    ingest_result_t res;

    REQUIRE(v != NULL);
    verify_body_file(v, "generated/AG2_refund.body.json", &res);
    CHECK_INT(res.verdict, INGEST_ACCEPT);
    CHECK_INT(res.ev.kind, PS_EVENT_REFUND_SUCCEEDED);
    CHECK_STR(res.ev.channel_event_id, "6f1d3a52-2222-4c0e-9a55-000000000002");
    CHECK_STR(res.ev.refund_id, "2000000456789012");
    CHECK_INT(res.ev.amount_minor, 648);
    CHECK_INT(res.ev.event_time_us, INT64_C(1700600002000) * 1000);
    CHECK(tu_event_valid(&res.ev));
    ingest_result_deinit(&res);
    verify_body_file(v, "generated/AG3_refund_reversed.body.json", &res);
    CHECK_INT(res.verdict, INGEST_ACCEPT);
    CHECK_INT(res.ev.kind, PS_EVENT_REFUND_REVERSED);
    CHECK_STR(res.ev.channel_event_id, "6f1d3a52-3333-4c0e-9a55-000000000003");
    CHECK_STR(res.ev.channel_event_type, "REFUND_REVERSED");
    CHECK_INT(res.ev.amount_minor, 648);
    CHECK(tu_event_valid(&res.ev));
    ingest_result_deinit(&res);
    ingest_apple_destroy(v);
}

/* AN1 swapped payload, AN2 HS256, AN3 fake chain: all rejected for the right reason. */
static void test_an_negatives(void)
{
    ingest_apple_t *v = sandbox_verifier();
    ingest_result_t res;

    REQUIRE(v != NULL);
    verify_body_file(v, "generated/AN1_payload_swapped.body.json", &res);
    CHECK_INT(res.verdict, INGEST_REJECT);
    CHECK_STR(res.reason_label, "bad_signature");
    verify_body_file(v, "generated/AN2_alg_hs256.body.json", &res);
    CHECK_STR(res.reason_label, "bad_alg");
    CHECK_INT(ingest_apple_chain_validations(v), 1); /* AN1 only: AN2 never reached x5c */
    verify_body_file(v, "generated/AN3_untrusted_root.body.json", &res);
    CHECK_INT(res.verdict, INGEST_REJECT);
    CHECK_STR(res.reason_label, "untrusted_chain");
    ingest_apple_destroy(v);
}

int main(void)
{
    dir = tu_conformance_dir();
    if (dir == NULL)
        return test_summary();
    RUN(test_test_notification);
    RUN(test_signed_items);
    RUN(test_mock_negatives);
    RUN(test_x509_chain_times);
    RUN(test_invalid_oids);
    RUN(test_real_apple_chain);
    RUN(test_ag1_payment);
    RUN(test_ag2_ag3_refunds);
    RUN(test_an_negatives);
    return test_summary();
}
