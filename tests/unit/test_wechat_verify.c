/*
 * WeChat Pay v3 verifier with simulator-made callbacks: round trips of
 * payments and refunds with exact normalized fields, both key modes,
 * duplicates, ACK_ONLY events, configuration errors and the disabled state,
 * and bad input of every kind (missing or hostile headers, garbage,
 * truncation at every length, oversized bodies, bad base64, tampering of
 * every signed byte, missing and mistyped fields, non-integer, zero and
 * negative amounts, unknown currency, bad account). Every verdict must be
 * the expected one with its label, and nothing may crash or leak (the suite
 * runs under ASan and UBSan).
 */
#include "test_wechat_common.h"

#include <paystream/timeparse.h>

#define CERT_SERIAL "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
#define PUB_ID "PUB_KEY_ID_0114842000000000000000000000000001"
#define NOW 1700000000

static EVP_PKEY *platform_key, *pubmode_key, *other_key;
static ingest_wechat_t *verifier;
static sim_wechat_keys_t cert_keys, pub_keys;

static sim_wechat_params_t payment(void)
{
    sim_wechat_params_t p = {.event = SIM_WECHAT_TRANSACTION_SUCCESS,
                             .event_id = "EV-SIM-0001",
                             .mch_id = TW_MCH_ID,
                             .out_trade_no = "ORDER-0001",
                             .transaction_id = "4200001234202311150000000099",
                             .amount_total = 64800,
                             .account_id = "玩家 42&x=1",
                             .event_time_s = NOW - 5,
                             .timestamp_s = NOW};
    return p;
}

static void build(const sim_wechat_keys_t *keys, const sim_wechat_params_t *p, sim_request_t *r)
{
    char err[PS_ERRSTR_SIZE] = "";

    sim_request_init(r);
    if (sim_wechat_build(keys, p, r, err, sizeof(err)) != PS_OK)
        fprintf(stderr, "sim: %s\n", err);
}

/* Setup: a platform certificate and a public-key-mode key written to files. */
static bool setup(void)
{
    char err[PS_ERRSTR_SIZE] = "", certs[TW_PATH_MAX + 64], pub[TW_PATH_MAX + 64];
    X509 *cert = NULL;
    ps_buf_t pem, pubpem;

    if (sim_wechat_key_generate(&platform_key, err, sizeof(err)) != PS_OK ||
        sim_wechat_key_generate(&pubmode_key, err, sizeof(err)) != PS_OK ||
        sim_wechat_key_generate(&other_key, err, sizeof(err)) != PS_OK ||
        sim_wechat_cert_generate(platform_key, CERT_SERIAL, NOW - 86400, NOW + 86400 * 365,
                                 &cert, err, sizeof(err)) != PS_OK)
        return false;
    ps_buf_init(&pem, 64 * 1024);
    ps_buf_init(&pubpem, 64 * 1024);
    sim_wechat_pem_cert(cert, &pem);
    sim_wechat_pem_public_key(pubmode_key, &pubpem);
    snprintf(certs, sizeof(certs), "wechat.platform_cert_dir=%s", tw_tmp());
    tw_write("platform.pem", pem.data, pem.len);
    snprintf(pub, sizeof(pub), "wechat.public_key_file=%s",
             tw_write("pubkey.pub", pubpem.data, pubpem.len));
    const char *settings[] = {certs, pub, "wechat.public_key_id=" PUB_ID,
                              "wechat.mch_id=" TW_MCH_ID, NULL};
    if (tw_verifier(TW_APIV3_KEY, settings, &verifier, err, sizeof(err)) != PS_OK)
        fprintf(stderr, "verifier: %s\n", err);
    cert_keys = (sim_wechat_keys_t){.sign_key = platform_key, .serial = CERT_SERIAL};
    pub_keys = (sim_wechat_keys_t){.sign_key = pubmode_key, .serial = PUB_ID};
    memcpy(cert_keys.apiv3_key, TW_APIV3_KEY, 32);
    memcpy(pub_keys.apiv3_key, TW_APIV3_KEY, 32);
    X509_free(cert);
    ps_buf_deinit(&pem);
    ps_buf_deinit(&pubpem);
    return verifier != NULL;
}

/* Payment round trip in both modes, exact fields; a duplicate accepts again
 * with an equal event. */
static void test_payment_round_trip(void)
{
    sim_wechat_params_t p = payment();
    sim_request_t r;
    ingest_result_t a, b;

    build(&cert_keys, &p, &r);
    tw_verify_sim(verifier, &r, NOW, &a);
    REQUIRE(a.verdict == INGEST_ACCEPT);
    CHECK_INT(a.ev.kind, PS_EVENT_PAYMENT_SUCCEEDED);
    CHECK_STR(a.ev.channel_event_id, "EV-SIM-0001");
    CHECK_STR(a.ev.merchant_order_no, "ORDER-0001");
    CHECK_STR(a.ev.channel_txn_id, "4200001234202311150000000099");
    CHECK_INT(a.ev.amount_minor, 64800);
    CHECK_STR(a.ev.currency, "CNY");
    CHECK_STR(a.ev.account_id, "玩家 42&x=1"); /* form-decoded, '&' and '=' inside */
    CHECK_INT(a.ev.event_time_us, (int64_t)(NOW - 5) * 1000000);
    CHECK(a.ev.has_paid_time);
    CHECK_INT(a.ev.paid_time_us, (int64_t)(NOW - 5) * 1000000);
    CHECK_STR(a.ev.key_id, CERT_SERIAL);
    CHECK_INT(a.ev.raw_body_len, r.body.len);
    tw_check_avro(&a.ev);
    tw_verify_sim(verifier, &r, NOW, &b); /* duplicate */
    REQUIRE(b.verdict == INGEST_ACCEPT);
    CHECK_STR(b.ev.channel_event_id, a.ev.channel_event_id);
    CHECK_INT(b.ev.amount_minor, a.ev.amount_minor);
    CHECK(b.ev.raw_body_len == a.ev.raw_body_len &&
          memcmp(b.ev.raw_body, a.ev.raw_body, a.ev.raw_body_len) == 0);
    ingest_result_deinit(&a);
    ingest_result_deinit(&b);
    sim_request_deinit(&r);
    /* Public-key mode, another currency. */
    p.currency = "USD";
    build(&pub_keys, &p, &r);
    tw_verify_sim(verifier, &r, NOW, &a);
    REQUIRE(a.verdict == INGEST_ACCEPT);
    CHECK_STR(a.ev.key_id, PUB_ID);
    CHECK_STR(a.ev.currency, "USD");
    tw_check_avro(&a.ev);
    ingest_result_deinit(&a);
    sim_request_deinit(&r);
}

/* REFUND.SUCCESS -> REFUND_SUCCEEDED; ABNORMAL/CLOSED -> ACK_ONLY. */
static void test_refunds(void)
{
    sim_wechat_params_t p = payment();
    sim_request_t r;
    ingest_result_t res;

    p.event = SIM_WECHAT_REFUND_SUCCESS;
    p.out_refund_no = "R-1";
    p.refund_id = "50300000012023111600000000077";
    p.refund_amount = 100;
    build(&cert_keys, &p, &r);
    tw_verify_sim(verifier, &r, NOW, &res);
    REQUIRE(res.verdict == INGEST_ACCEPT);
    CHECK_INT(res.ev.kind, PS_EVENT_REFUND_SUCCEEDED);
    CHECK_STR(res.ev.refund_id, "50300000012023111600000000077");
    CHECK_INT(res.ev.amount_minor, 100);
    CHECK_STR(res.ev.channel_event_type, "REFUND.SUCCESS");
    tw_check_avro(&res.ev);
    ingest_result_deinit(&res);
    sim_request_deinit(&r);
    p.event = SIM_WECHAT_REFUND_ABNORMAL;
    build(&cert_keys, &p, &r);
    tw_verify_sim(verifier, &r, NOW, &res);
    CHECK_INT(res.verdict, INGEST_ACK_ONLY);
    CHECK_STR(res.reason_label, "refund_abnormal");
    CHECK(res.ev.channel_event_id == NULL);
    sim_request_deinit(&r);
    p.event = SIM_WECHAT_REFUND_CLOSED;
    build(&cert_keys, &p, &r);
    tw_verify_sim(verifier, &r, NOW, &res);
    CHECK_INT(res.verdict, INGEST_ACK_ONLY);
    CHECK_STR(res.reason_label, "refund_closed");
    sim_request_deinit(&r);
}

/* Verifies a raw resource plaintext wrapped by the simulator. */
static void verify_plain(const char *event_type, const char *aad, const char *plain,
                         ingest_result_t *res)
{
    char err[PS_ERRSTR_SIZE] = "";
    sim_request_t r;

    sim_request_init(&r);
    CHECK_INT(sim_wechat_build_raw(&cert_keys, event_type, "EV-RAW", aad, plain, NOW, NOW, &r,
                                   err, sizeof(err)),
              PS_OK);
    tw_verify_sim(verifier, &r, NOW, res);
    sim_request_deinit(&r);
}

#define TXN_HEAD "{\"mchid\":\"" TW_MCH_ID "\",\"out_trade_no\":\"O1\",\"transaction_id\":\"T1\","
#define TXN_OK TXN_HEAD "\"trade_state\":\"SUCCESS\",\"attach\":\"player_id=7\","

/* Decrypted payloads with bad fields: each gets its label. */
static void test_bad_resource_fields(void)
{
    static const struct {
        const char *plain, *label;
    } cases[] = {
        {TXN_OK "\"amount\":{\"total\":648.0,\"currency\":\"CNY\"}}", "bad_amount"},
        {TXN_OK "\"amount\":{\"total\":6.48,\"currency\":\"CNY\"}}", "bad_amount"},
        {TXN_OK "\"amount\":{\"total\":\"648\",\"currency\":\"CNY\"}}", "bad_amount"},
        {TXN_OK "\"amount\":{\"total\":0,\"currency\":\"CNY\"}}", "bad_amount"},
        {TXN_OK "\"amount\":{\"total\":-648,\"currency\":\"CNY\"}}", "bad_amount"},
        {TXN_OK "\"amount\":{\"total\":99999999999999999999,\"currency\":\"CNY\"}}", "bad_json"},
        {TXN_OK "\"amount\":{\"total\":648,\"currency\":\"XYZ\"}}", "bad_currency"},
        {TXN_OK "\"amount\":{\"total\":648,\"currency\":\"cny\"}}", "bad_currency"},
        {TXN_OK "\"amount\":{\"total\":648}}", "missing_field"},
        {TXN_OK "\"amount\":648}", "bad_field"},
        {TXN_OK "\"amount\":{\"total\":648,\"total\":1,\"currency\":\"CNY\"}}", "bad_json"},
        {TXN_HEAD "\"trade_state\":\"SUCCESS\",\"amount\":{\"total\":1,\"currency\":\"CNY\"}}",
         "missing_account"},
        {TXN_HEAD "\"trade_state\":\"SUCCESS\",\"attach\":\"server=s1\",\"amount\":{\"total\":1,"
                  "\"currency\":\"CNY\"}}",
         "missing_account"},
        {TXN_HEAD "\"trade_state\":\"SUCCESS\",\"attach\":\"player_id=%ZZ\",\"amount\":{\"total\":"
                  "1,\"currency\":\"CNY\"}}",
         "bad_account"},
        {TXN_HEAD "\"trade_state\":\"SUCCESS\",\"attach\":\"player_id=%FF\",\"amount\":{\"total\":"
                  "1,\"currency\":\"CNY\"}}",
         "bad_account"},
        {TXN_HEAD "\"trade_state\":\"SUCCESS\",\"attach\":\"player_id=1&player_id=2\",\"amount\":"
                  "{\"total\":1,\"currency\":\"CNY\"}}",
         "bad_account"},
        {TXN_HEAD "\"trade_state\":\"SUCCESS\",\"attach\":\"player_id=a%00b\",\"amount\":"
                  "{\"total\":1,\"currency\":\"CNY\"}}",
         "bad_account"},
        {TXN_OK "\"success_time\":\"yesterday\",\"amount\":{\"total\":1,\"currency\":\"CNY\"}}",
         "bad_time"},
        {"{\"mchid\":\"999\",\"out_trade_no\":\"O1\"}", "mchid_mismatch"},
        {"{\"out_trade_no\":\"O1\"}", "missing_field"},
        {"{\"mchid\":1230000109}", "bad_field"},
        {"[1,2,3]", "bad_json"},
        {"not json", "bad_json"},
        {"{\"mchid\":\"" TW_MCH_ID "\",\"out_trade_no\":\"\",\"transaction_id\":\"T1\","
         "\"trade_state\":\"SUCCESS\"}",
         "bad_field"},
        {"{\"mchid\":\"" TW_MCH_ID "\",\"out_trade_no\":\"O\\u0000X\",\"transaction_id\":\"T\","
         "\"trade_state\":\"SUCCESS\"}",
         "bad_json"}, /* jansson refuses \u0000 outright */
    };
    ingest_result_t res;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        verify_plain("TRANSACTION.SUCCESS", "transaction", cases[i].plain, &res);
        if (res.reason_label == NULL || strcmp(res.reason_label, cases[i].label) != 0)
            fprintf(stderr, "case %zu: %s\n", i, res.reason);
        CHECK_REJECT(res, cases[i].label);
        ingest_result_deinit(&res);
    }
    /* Not SUCCESS, or not booked at all: acknowledged, nothing produced. */
    verify_plain("TRANSACTION.SUCCESS", "transaction",
                 TXN_HEAD "\"trade_state\":\"CLOSED\",\"amount\":{\"total\":1,\"currency\":"
                          "\"CNY\"},\"attach\":\"player_id=1\"}",
                 &res);
    CHECK_INT(res.verdict, INGEST_ACK_ONLY);
    CHECK_STR(res.reason_label, "status_not_success");
    CHECK(res.ev.merchant_order_no == NULL);
    verify_plain("PAYSCORE.USER_OPEN_SERVICE", "payscore", "{}", &res);
    CHECK_INT(res.verdict, INGEST_ACK_ONLY);
    CHECK_STR(res.reason_label, "ignored_event_type");
    /* Extra, unknown fields are tolerated (WeChat adds fields over time). */
    verify_plain("TRANSACTION.SUCCESS", "transaction",
                 TXN_OK "\"new_field\":{\"x\":[1]},\"amount\":{\"total\":5,\"currency\":\"CNY\"}}",
                 &res);
    CHECK_INT(res.verdict, INGEST_ACCEPT);
    CHECK_STR(res.ev.account_id, "7");
    ingest_result_deinit(&res);
}

/* Sets header name on a copy of r, re-signing unless resign is false. */
static void verify_with_header(const sim_request_t *orig, const char *name, const char *value,
                               ingest_result_t *res)
{
    sim_request_t r;

    sim_request_init(&r);
    for (size_t i = 0; i < orig->header_count; i++)
        sim_request_add_header(&r, orig->headers[i].name, orig->headers[i].value);
    ps_buf_append(&r.body, orig->body.data, orig->body.len);
    if (value == NULL) {
        /* drop the header: rename it out of the way */
        for (size_t i = 0; i < r.header_count; i++)
            if (strcasecmp(r.headers[i].name, name) == 0)
                r.headers[i].name[0] = 'X';
    } else {
        sim_request_set_header(&r, name, value);
    }
    tw_verify_sim(verifier, &r, NOW, res);
    sim_request_deinit(&r);
}

/* Every header check: missing, empty, hostile, wrong type, bad values. */
static void test_headers(void)
{
    sim_wechat_params_t p = payment();
    sim_request_t r;
    ingest_result_t res;
    char big[2048];

    build(&cert_keys, &p, &r);
    static const char *const names[] = {"Wechatpay-Timestamp", "Wechatpay-Nonce",
                                        "Wechatpay-Signature", "Wechatpay-Serial"};
    for (size_t i = 0; i < 4; i++) {
        verify_with_header(&r, names[i], NULL, &res);
        CHECK_REJECT(res, "missing_header");
        verify_with_header(&r, names[i], "  ", &res);
        CHECK_REJECT(res, "missing_header");
        verify_with_header(&r, names[i], "a\tb\x01", &res);
        CHECK_REJECT(res, "bad_header");
    }
    memset(big, 'A', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    verify_with_header(&r, "Wechatpay-Signature", big, &res);
    CHECK_REJECT(res, "bad_header");
    verify_with_header(&r, "Wechatpay-Signature-Type", "WECHATPAY2-SM2-WITH-SM3", &res);
    CHECK_REJECT(res, "unsupported_signature_type");
    verify_with_header(&r, "Wechatpay-Timestamp", "17000000x0", &res);
    CHECK_REJECT(res, "bad_timestamp");
    verify_with_header(&r, "Wechatpay-Timestamp", "-1700000000", &res);
    CHECK_REJECT(res, "bad_timestamp");
    verify_with_header(&r, "Wechatpay-Timestamp", "1234567890123", &res);
    CHECK_REJECT(res, "bad_timestamp"); /* 13 digits: over PS_WECHAT_TIMESTAMP_DIGITS_MAX */
    verify_with_header(&r, "Wechatpay-Timestamp", "99999999999999999999", &res);
    CHECK_REJECT(res, "bad_header");
    verify_with_header(&r, "Wechatpay-Timestamp", "1700000001", &res);
    CHECK_REJECT(res, "bad_signature"); /* the timestamp is signed */
    verify_with_header(&r, "Wechatpay-Nonce", "other", &res);
    CHECK_REJECT(res, "bad_signature");
    verify_with_header(&r, "Wechatpay-Serial", "ABCDEF", &res);
    CHECK_REJECT(res, "unknown_serial");
    verify_with_header(&r, "Wechatpay-Serial", "PUB_KEY_ID_0000", &res);
    CHECK_REJECT(res, "unknown_serial");
    verify_with_header(&r, "Wechatpay-Signature", "not base64!", &res);
    CHECK_REJECT(res, "bad_signature");
    verify_with_header(&r, "Wechatpay-Signature", "QUJD", &res);
    CHECK_REJECT(res, "bad_signature");
    /* Surrounding blanks are trimmed, as the Go SDK does. */
    verify_with_header(&r, "wechatpay-serial", " " CERT_SERIAL " ", &res);
    CHECK_INT(res.verdict, INGEST_ACCEPT);
    ingest_result_deinit(&res);
    sim_request_deinit(&r);
}

/* Forgeries: wrong key, tampered body, probe, stale and future timestamps;
 * and tampering of every single body byte. */
static void test_forgeries(void)
{
    sim_wechat_params_t p = payment();
    sim_wechat_keys_t wrong = cert_keys;
    sim_request_t r;
    ingest_result_t res;
    size_t accepted = 0;

    wrong.sign_key = other_key;
    build(&wrong, &p, &r);
    tw_verify_sim(verifier, &r, NOW, &res);
    CHECK_REJECT(res, "bad_signature");
    sim_request_deinit(&r);
    p.timestamp_s = NOW - 300;
    build(&cert_keys, &p, &r);
    tw_verify_sim(verifier, &r, NOW, &res);
    CHECK_REJECT(res, "stale_timestamp");
    sim_request_deinit(&r);
    p.timestamp_s = NOW + 300;
    build(&cert_keys, &p, &r);
    tw_verify_sim(verifier, &r, NOW, &res);
    CHECK_REJECT(res, "stale_timestamp");
    sim_request_deinit(&r);
    p.timestamp_s = NOW;
    build(&cert_keys, &p, &r);
    CHECK_INT(sim_wechat_forge(&r, SIM_WECHAT_FORGE_SIGNTEST), PS_OK);
    tw_verify_sim(verifier, &r, NOW, &res);
    CHECK_REJECT(res, "signtest_probe");
    sim_request_deinit(&r);
    build(&cert_keys, &p, &r);
    for (size_t i = 0; i < r.body.len; i++) {
        r.body.data[i] ^= 0x20;
        tw_verify_sim(verifier, &r, NOW, &res);
        if (res.verdict != INGEST_REJECT || strcmp(res.reason_label, "bad_signature") != 0)
            accepted++;
        ingest_result_deinit(&res);
        r.body.data[i] ^= 0x20;
    }
    CHECK_INT(accepted, 0);
    sim_request_deinit(&r);
}

/* Garbage, truncation at every length, oversized, signed-but-malformed envelopes. */
static void test_bodies(void)
{
    sim_wechat_params_t p = payment();
    sim_request_t r, s;
    ingest_result_t res;
    char err[PS_ERRSTR_SIZE];
    size_t wrong = 0;

    build(&cert_keys, &p, &r);
    for (size_t len = 0; len < r.body.len; len++) {
        size_t full = r.body.len;
        r.body.len = len;
        tw_verify_sim(verifier, &r, NOW, &res);
        wrong += res.verdict != INGEST_REJECT;
        r.body.len = full;
        ingest_result_deinit(&res);
    }
    CHECK_INT(wrong, 0);
    /* Oversized: rejected before any parsing, signed or not. */
    sim_request_init(&s);
    for (size_t i = 0; i < PS_WECHAT_BODY_BYTES_MAX / 8 + 1; i++)
        ps_buf_append(&s.body, "{\"a\":1}", 8);
    sim_wechat_sign(&cert_keys, NOW, NULL, &s, err, sizeof(err));
    tw_verify_sim(verifier, &s, NOW, &res);
    CHECK_REJECT(res, "body_too_large");
    sim_request_deinit(&s);
    /* Signed envelopes that are garbage or miss parts. */
    static const struct {
        const char *body, *label;
    } cases[] = {
        {"", "bad_json"},
        {"\xff\xfe garbage", "bad_json"},
        {"{\"id\":\"x\",\"id\":\"y\"}", "bad_json"},
        {"{}", "missing_field"},
        {"{\"id\":\"E\",\"event_type\":\"TRANSACTION.SUCCESS\",\"create_time\":\"bad\"}",
         "bad_time"},
        {"{\"id\":\"E\",\"event_type\":\"TRANSACTION.SUCCESS\",\"create_time\":"
         "\"2023-11-15T06:13:20+08:00\"}",
         "missing_field"},
        {"{\"id\":\"E\",\"event_type\":\"TRANSACTION.SUCCESS\",\"create_time\":"
         "\"2023-11-15T06:13:20+08:00\",\"resource\":{\"algorithm\":\"AES_128_CBC\","
         "\"ciphertext\":\"AAAA\",\"nonce\":\"123456789012\"}}",
         "unsupported_algorithm"},
        {"{\"id\":\"E\",\"event_type\":\"TRANSACTION.SUCCESS\",\"create_time\":"
         "\"2023-11-15T06:13:20+08:00\",\"resource\":{\"algorithm\":\"AEAD_AES_256_GCM\","
         "\"ciphertext\":\"A A=\",\"nonce\":\"123456789012\"}}",
         "bad_field"},
        {"{\"id\":\"E\",\"event_type\":\"TRANSACTION.SUCCESS\",\"create_time\":"
         "\"2023-11-15T06:13:20+08:00\",\"resource\":{\"algorithm\":\"AEAD_AES_256_GCM\","
         "\"ciphertext\":\"AAAA\",\"nonce\":\"short\"}}",
         "bad_field"},
        {"{\"id\":\"E\",\"event_type\":\"TRANSACTION.SUCCESS\",\"create_time\":"
         "\"2023-11-15T06:13:20+08:00\",\"resource\":{\"algorithm\":\"AEAD_AES_256_GCM\","
         "\"ciphertext\":\"AAAA\",\"nonce\":\"123456789012\"}}",
         "decrypt_failed"},
        {"{\"id\":\"E\",\"event_type\":7,\"create_time\":\"2023-11-15T06:13:20+08:00\"}",
         "bad_field"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sim_request_init(&s);
        ps_buf_append_str(&s.body, cases[i].body);
        sim_wechat_sign(&cert_keys, NOW, NULL, &s, err, sizeof(err));
        tw_verify_sim(verifier, &s, NOW, &res);
        if (res.reason_label == NULL || strcmp(res.reason_label, cases[i].label) != 0)
            fprintf(stderr, "body case %zu: %s\n", i, res.reason);
        CHECK_REJECT(res, cases[i].label);
        ingest_result_deinit(&res);
        sim_request_deinit(&s);
    }
    sim_request_deinit(&r);
}

/* Disabled channel and configuration errors. */
static void test_config(void)
{
    char err[PS_ERRSTR_SIZE] = "";
    ingest_wechat_t *v = NULL;
    ingest_result_t res;
    sim_request_t r;
    sim_wechat_params_t p = payment();

    REQUIRE(tw_verifier(NULL, NULL, &v, err, sizeof(err)) == PS_OK);
    CHECK(!ingest_wechat_enabled(v));
    CHECK(!ingest_wechat_ready(v));
    build(&cert_keys, &p, &r);
    tw_verify_sim(v, &r, NOW, &res);
    CHECK_REJECT(res, "channel_disabled");
    ingest_wechat_destroy(v);
    sim_request_deinit(&r);
    CHECK(ingest_wechat_ready(verifier));
    v = NULL;
    CHECK_INT(tw_verifier(TW_APIV3_KEY, (const char *[]){"wechat.mch_id=1", NULL}, &v, err,
                          sizeof(err)),
              PS_ERR_CONFIG);
    CHECK_CONTAINS(err, "has no key");
    CHECK_INT(tw_verifier(TW_APIV3_KEY, NULL, &v, err, sizeof(err)), PS_ERR_CONFIG);
    CHECK_CONTAINS(err, "wechat.mch_id");
    CHECK_INT(tw_verifier(TW_APIV3_KEY "x", (const char *[]){"wechat.mch_id=1", NULL}, &v, err,
                          sizeof(err)),
              PS_ERR_CONFIG);
    CHECK_CONTAINS(err, "33 bytes");
    CHECK_INT(tw_verifier(TW_APIV3_KEY,
                          (const char *[]){"wechat.mch_id=1", "wechat.platform_cert_files=/nonexistent.pem",
                                           NULL},
                          &v, err, sizeof(err)),
              PS_ERR_IO);
    CHECK_CONTAINS(err, "/nonexistent.pem");
    const char *garbage = tw_write("garbage.txt", "-----BEGIN CERTIFICATE-----\nAAAA\n", 33);
    char files[TW_PATH_MAX + 64];
    snprintf(files, sizeof(files), "wechat.platform_cert_files=%s", garbage);
    CHECK_INT(tw_verifier(TW_APIV3_KEY, (const char *[]){"wechat.mch_id=1", files, NULL}, &v, err,
                          sizeof(err)),
              PS_ERR_CRYPTO);
    CHECK_INT(tw_verifier(TW_APIV3_KEY,
                          (const char *[]){"wechat.mch_id=1", "wechat.public_key_id=PUB_KEY_ID_1",
                                           NULL},
                          &v, err, sizeof(err)),
              PS_ERR_CONFIG);
    CHECK_INT(tw_verifier(TW_APIV3_KEY,
                          (const char *[]){"wechat.mch_id=1", "wechat.cert_refresh_url=ftp://x/",
                                           NULL},
                          &v, err, sizeof(err)),
              PS_ERR_CONFIG);
    CHECK_INT(tw_verifier(TW_APIV3_KEY,
                          (const char *[]){"wechat.mch_id=1",
                                           "wechat.cert_refresh_url=https://example.invalid/v3/"
                                           "certificates",
                                           NULL},
                          &v, err, sizeof(err)),
              PS_ERR_CONFIG);
    CHECK_CONTAINS(err, "wechat.merchant_private_key_file");
    CHECK(v == NULL);
}

/* appid is checked when configured. */
static void test_appid(void)
{
    char err[PS_ERRSTR_SIZE] = "", certs[TW_PATH_MAX + 64];
    ingest_wechat_t *v = NULL;
    sim_wechat_params_t p = payment();
    sim_request_t r;
    ingest_result_t res;

    snprintf(certs, sizeof(certs), "wechat.platform_cert_dir=%s", tw_tmp());
    REQUIRE(tw_verifier(TW_APIV3_KEY,
                        (const char *[]){certs, "wechat.mch_id=" TW_MCH_ID, "wechat.appid=wxother",
                                         NULL},
                        &v, err, sizeof(err)) == PS_OK);
    build(&cert_keys, &p, &r);
    tw_verify_sim(v, &r, NOW, &res);
    CHECK_REJECT(res, "appid_mismatch");
    sim_request_deinit(&r);
    ingest_wechat_destroy(v);
}

int main(void)
{
    if (!setup()) {
        fprintf(stderr, "setup failed\n");
        return 1;
    }
    RUN(test_payment_round_trip);
    RUN(test_refunds);
    RUN(test_bad_resource_fields);
    RUN(test_headers);
    RUN(test_forgeries);
    RUN(test_bodies);
    RUN(test_config);
    RUN(test_appid);
    ingest_wechat_destroy(verifier);
    EVP_PKEY_free(platform_key);
    EVP_PKEY_free(pubmode_key);
    EVP_PKEY_free(other_key);
    tw_cleanup();
    return test_summary();
}
