/*
 * WeChat Pay v3 verifier against the conformance vectors
 * (../shared/conformance/wechat, expected verdicts in its README): official
 * V1-V6 from the WeChat Pay Go and Java SDK tests, synthetic G1-G3, N1-N5
 * and the request-signing example R1. Each vector's clock is pinned through
 * req->now_s.
 *
 * V1 decision: the only official signed callback (Go SDK) is encrypted with
 * the 16-byte key "testMchAPIv3Key0", i.e. AES-128-GCM although it says
 * AEAD_AES_256_GCM. The verifier follows the algorithm name and the APIv3
 * spec: its key must be exactly 32 bytes (a 16-byte key file is a
 * configuration error), so it verifies V1's SIGNATURE as valid at clock
 * 1624523846 and then rejects the callback with "decrypt_failed". The AES-GCM
 * primitive itself is checked on V1 with the 16-byte key (and on V3).
 *
 * Without the vectors the test prints a SKIP line and runs nothing else.
 */
#include "test_wechat_common.h"

#include <paystream/base64.h>
#include <paystream/timeparse.h>

#include <openssl/pem.h>

#define PUB_KEY_ID "PUB_KEY_ID_0112345678902025010100000000000001"

static ingest_wechat_t *verifier; /* G-vector settings */

static const char *cert_files(void)
{
    static char list[3 * TW_PATH_MAX];

    snprintf(list, sizeof(list), "wechat.platform_cert_files=%s,%s",
             tw_vector_path("go_notify_platform_cert_D7CE59D1F522D701.pem"),
             tw_vector_path("go_verifier_platform_cert_F5765756002FDD77.pem"));
    return list;
}

static ingest_wechat_t *make_verifier(const char *apiv3_key)
{
    char pub[TW_PATH_MAX + 64], err[PS_ERRSTR_SIZE] = "";
    ingest_wechat_t *v = NULL;

    snprintf(pub, sizeof(pub), "wechat.public_key_file=%s",
             tw_vector_path("java_wechat_pay_public_key.pem"));
    const char *settings[] = {cert_files(), pub, "wechat.public_key_id=" PUB_KEY_ID,
                              "wechat.mch_id=" TW_MCH_ID, "wechat.appid=wxd678efh567hg6787", NULL};
    if (tw_verifier(apiv3_key, settings, &v, err, sizeof(err)) != PS_OK)
        fprintf(stderr, "verifier: %s\n", err);
    return v;
}

/* Verifies generated/<name>.{headers,body}.json at now_s. */
static void run_vector(ingest_wechat_t *v, const char *name, int64_t now_s, ingest_result_t *res)
{
    char path[TW_PATH_MAX];
    tw_headers_t hs;
    ps_buf_t body;

    snprintf(path, sizeof(path), "generated/%s.headers.json", name);
    CHECK(tw_headers_load(tw_vector_path(path), &hs));
    snprintf(path, sizeof(path), "generated/%s.body.json", name);
    CHECK(tw_read(tw_vector_path(path), &body));
    tw_verify(v, &hs, &body, now_s, res);
    tw_headers_free(&hs);
    ps_buf_deinit(&body);
}

static int64_t rfc3339_us(const char *s)
{
    int64_t us = 0;

    CHECK_INT(ps_time_parse_rfc3339(s, strlen(s), &us, NULL, 0), PS_OK);
    return us;
}

/* G1: certificate mode, TRANSACTION.SUCCESS -> every normalized field. */
static void test_g1_certificate_mode(void)
{
    ingest_result_t res;
    ps_buf_t body;

    REQUIRE(verifier != NULL);
    run_vector(verifier, "G1_transaction_success_certmode", 1700000000, &res);
    REQUIRE(res.verdict == INGEST_ACCEPT);
    CHECK_INT(res.ev.channel, PS_CHANNEL_WECHAT);
    CHECK_INT(res.ev.kind, PS_EVENT_PAYMENT_SUCCEEDED);
    CHECK_STR(res.ev.channel_event_id, "EV-2023111506132000001");
    CHECK_STR(res.ev.channel_event_type, "TRANSACTION.SUCCESS");
    CHECK_STR(res.ev.merchant_order_no, "G20231115061320001");
    CHECK_STR(res.ev.channel_txn_id, "4200001234202311150000000001");
    CHECK(res.ev.refund_id == NULL);
    CHECK_INT(res.ev.amount_minor, 648);
    CHECK_STR(res.ev.currency, "CNY");
    CHECK_STR(res.ev.account_id, "10086");
    CHECK_INT(res.ev.event_time_us, rfc3339_us("2023-11-15T06:13:20+08:00"));
    CHECK(res.ev.has_paid_time);
    CHECK_INT(res.ev.paid_time_us, rfc3339_us("2023-11-15T06:13:19+08:00"));
    CHECK_INT(res.ev.received_time_us, 0);
    CHECK_STR(res.ev.key_id, "F5765756002FDD77");
    CHECK(tw_read(tw_vector_path("generated/G1_transaction_success_certmode.body.json"), &body));
    CHECK_INT(res.ev.raw_body_len, body.len);
    CHECK(res.ev.raw_body_len == body.len && memcmp(res.ev.raw_body, body.data, body.len) == 0);
    CHECK_INT(res.ev.header_count, 5);
    CHECK_STR(res.ev.headers[0].name, "Wechatpay-Timestamp");
    CHECK_STR(res.ev.headers[0].value, "1700000000");
    CHECK_STR(res.ev.headers[3].name, "Wechatpay-Serial");
    tw_check_avro(&res.ev);
    ps_buf_deinit(&body);
    ingest_result_deinit(&res);
}

/* G2: the same body in public-key mode. */
static void test_g2_public_key_mode(void)
{
    ingest_result_t res;

    REQUIRE(verifier != NULL);
    run_vector(verifier, "G2_transaction_success_pubkeymode", 1700000000, &res);
    REQUIRE(res.verdict == INGEST_ACCEPT);
    CHECK_STR(res.ev.key_id, PUB_KEY_ID);
    CHECK_INT(res.ev.amount_minor, 648);
    CHECK_STR(res.ev.account_id, "10086");
    tw_check_avro(&res.ev);
    ingest_result_deinit(&res);
}

/* G3: REFUND.SUCCESS -> REFUND_SUCCEEDED with amount.refund and refund_id. */
static void test_g3_refund(void)
{
    ingest_result_t res;

    REQUIRE(verifier != NULL);
    run_vector(verifier, "G3_refund_success_certmode", 1700100000, &res);
    REQUIRE(res.verdict == INGEST_ACCEPT);
    CHECK_INT(res.ev.kind, PS_EVENT_REFUND_SUCCEEDED);
    CHECK_STR(res.ev.channel_event_id, "EV-2023111610000500001");
    CHECK_STR(res.ev.refund_id, "50300000012023111600000000001");
    CHECK_STR(res.ev.merchant_order_no, "G20231115061320001");
    CHECK_STR(res.ev.channel_txn_id, "4200001234202311150000000001");
    CHECK_INT(res.ev.amount_minor, 648);
    CHECK_STR(res.ev.currency, "CNY");
    CHECK_STR(res.ev.account_id, "");
    CHECK(!res.ev.has_paid_time);
    tw_check_avro(&res.ev);
    ingest_result_deinit(&res);
}

/* N1-N4: probe, tampered body, unknown serial, stale timestamp. */
static void test_negative_vectors(void)
{
    ingest_result_t res;

    REQUIRE(verifier != NULL);
    run_vector(verifier, "N1_probe_signtest", 1700000000, &res);
    CHECK_REJECT(res, "signtest_probe");
    run_vector(verifier, "N2_tampered_body", 1700000000, &res);
    CHECK_REJECT(res, "bad_signature");
    run_vector(verifier, "N3_unknown_serial", 1700000000, &res);
    CHECK_REJECT(res, "unknown_serial");
    CHECK_CONTAINS(res.reason, "5157F09EFDC096DE15EBE81A47057A7232F1B8E1");
    run_vector(verifier, "N4_stale_timestamp", 1700000000, &res);
    CHECK_REJECT(res, "stale_timestamp");
    /* 299 s of skew is inside the window, and N4's signature is genuine. */
    run_vector(verifier, "N4_stale_timestamp", 1699999699 + 299, &res);
    CHECK_INT(res.verdict, INGEST_ACCEPT);
    ingest_result_deinit(&res);
    run_vector(verifier, "N4_stale_timestamp", 1699999699 + 300, &res);
    CHECK_REJECT(res, "stale_timestamp");
    run_vector(verifier, "N4_stale_timestamp", 1699999699 - 300, &res);
    CHECK_REJECT(res, "stale_timestamp");
}

/* N5: a wrong APIv3 key passes the signature and fails decryption. */
static void test_n5_wrong_apiv3_key(void)
{
    ingest_wechat_t *v = make_verifier("a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gc");
    ingest_result_t res;

    REQUIRE(v != NULL);
    run_vector(v, "N5_same_as_G1_decrypt_with_wrong_key", 1700000000, &res);
    CHECK_REJECT(res, "decrypt_failed");
    ingest_wechat_destroy(v);
}

/* V1: signature valid at the pinned clock; see the decision at the top. */
static void test_v1_go_notify(void)
{
    char err[PS_ERRSTR_SIZE] = "";
    ingest_wechat_t *v16 = NULL;
    ingest_result_t res;
    tw_headers_t hs;
    ps_buf_t body;

    REQUIRE(verifier != NULL);
    CHECK(tw_headers_load(tw_vector_path("go_notify_headers.json"), &hs));
    CHECK(tw_read(tw_vector_path("go_notify_body.json"), &body));
    CHECK_INT(body.len, 568);
    tw_verify(verifier, &hs, &body, 1624523846, &res);
    CHECK_REJECT(res, "decrypt_failed"); /* past the signature: it verified */
    tw_verify(verifier, &hs, &body, 1700000000, &res);
    CHECK_REJECT(res, "stale_timestamp");
    body.data[100] ^= 0x01; /* one changed body byte */
    tw_verify(verifier, &hs, &body, 1624523846, &res);
    CHECK_REJECT(res, "bad_signature");
    tw_headers_free(&hs);
    ps_buf_deinit(&body);
    /* A 16-byte APIv3 key is refused at configuration time. */
    const char *settings[] = {cert_files(), "wechat.mch_id=1234567890", NULL};
    CHECK_INT(tw_verifier("testMchAPIv3Key0", settings, &v16, err, sizeof(err)), PS_ERR_CONFIG);
    CHECK_CONTAINS(err, "expected 32");
    CHECK(v16 == NULL);
}

/* Decrypts base64 ct with the ASCII key, nonce and AAD; "" on failure. */
static void open_b64(const char *key, const char *nonce, const char *aad, const char *ct_b64,
                     ps_buf_t *out)
{
    ps_buf_t ct;

    ps_buf_init(&ct, 64 * 1024);
    ps_buf_init(out, 64 * 1024);
    if (ps_base64_decode(ct_b64, strlen(ct_b64), PS_BASE64_STD, &ct, NULL, 0) != PS_OK ||
        ingest_wechat_aead_open((const uint8_t *)key, strlen(key), (const uint8_t *)nonce,
                                strlen(nonce), (const uint8_t *)aad, strlen(aad), ct.data,
                                ct.len, out, NULL, 0) != PS_OK)
        ps_buf_reset(out);
    ps_buf_deinit(&ct);
}

/* V1 resource and V3 vectors through the AES-GCM primitive. */
static void test_v3_aes_gcm(void)
{
    json_t *arr = json_load_file(tw_vector_path("aes_gcm_vectors.json"), 0, NULL);
    json_t *body = json_load_file(tw_vector_path("go_notify_body.json"), 0, NULL);
    ps_buf_t out, expect;
    const char *e1 = "FsdXzxryWfKwvLJKf8LG/ToRPTRh8RN9wROC", *e2 = "ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI=";

    REQUIRE(json_array_size(arr) == 3 && body != NULL);
    CHECK_STR(json_string_value(json_object_get(json_array_get(arr, 0), "ciphertext_b64")), e1);
    open_b64("testAPIv3Key0000", "wCq51qZv4Yfg", "Dl56FrqWQJF1t9LtC3vEUsniZKvbqdR8", e1, &out);
    CHECK_STR((const char *)out.data, "Hello World");
    ps_buf_deinit(&out);
    open_b64("testAPIv3Key1111", "wCq51qZv4Yfg", "Dl56FrqWQJF1t9LtC3vEUsniZKvbqdR8", e1, &out);
    CHECK_INT(out.len, 0);
    ps_buf_deinit(&out);
    open_b64(TW_APIV3_KEY, "uluk4a9R25RW", "associatedData", e2, &out);
    CHECK_STR((const char *)out.data, "message");
    ps_buf_deinit(&out);
    open_b64(TW_APIV3_KEY, "uluk4a9R25RW", "bad-associatedData", e2, &out);
    CHECK_INT(out.len, 0);
    ps_buf_deinit(&out);
    open_b64(TW_APIV3_KEY, "bad-4a9R25RW", "associatedData", e2, &out);
    CHECK_INT(out.len, 0);
    ps_buf_deinit(&out);
    json_t *res = json_object_get(body, "resource");
    open_b64("testMchAPIv3Key0", "Kj7QIyUiYx1q", "payscore",
             json_string_value(json_object_get(res, "ciphertext")), &out);
    CHECK(tw_read(tw_vector_path("go_notify_expected_plaintext.json"), &expect));
    CHECK(out.len > 0 && out.len == expect.len && memcmp(out.data, expect.data, out.len) == 0);
    CHECK_CONTAINS((const char *)out.data, "\"out_contract_code\":\"21640bdbd08e473e828f3206a2741c6e\"");
    ps_buf_deinit(&out);
    ps_buf_deinit(&expect);
    json_decref(arr);
    json_decref(body);
}

/* Verifies msg/sig (raw, not the callback format) with key's prepared context. */
static bool raw_verify(const ingest_wechat_key_t *key, const ps_buf_t *msg, const char *sig_path)
{
    ps_buf_t b64, sig;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok;

    CHECK(tw_read(sig_path, &b64));
    while (b64.len > 0 && (b64.data[b64.len - 1] == '\n' || b64.data[b64.len - 1] == '\r'))
        b64.len--;
    ps_buf_init(&sig, 1024);
    ok = ps_base64_decode((const char *)b64.data, b64.len, PS_BASE64_STD, &sig, NULL, 0) ==
             PS_OK &&
         EVP_MD_CTX_copy_ex(ctx, key->proto) == 1 &&
         EVP_DigestVerifyUpdate(ctx, msg->data, msg->len) == 1 &&
         EVP_DigestVerifyFinal(ctx, sig.data, sig.len) == 1;
    EVP_MD_CTX_free(ctx);
    ps_buf_deinit(&sig);
    ps_buf_deinit(&b64);
    return ok;
}

/* V2 and V5: raw signatures through keys loaded by the store. V6: the
 * public-key-mode key pair matches. */
static void test_v2_v5_v6_keys(void)
{
    static const ingest_wechat_certs_config_t cc = {.apiv3_key = (const uint8_t *)TW_APIV3_KEY};
    ingest_wechat_certs_t *store = NULL;
    ingest_wechat_snapshot_t *snap;
    const ingest_wechat_key_t *f57, *merchant, *pay;
    ps_buf_t pem, msg, wrong, pub;

    REQUIRE(ingest_wechat_certs_new(&cc, &store, NULL, 0) == PS_OK);
    const char *files[] = {"go_verifier_platform_cert_F5765756002FDD77.pem",
                           "java_merchant_certificate.pem"};
    for (size_t i = 0; i < 2; i++) {
        CHECK(tw_read(tw_vector_path(files[i]), &pem));
        CHECK_INT(ingest_wechat_certs_add_cert_pem(store, pem.data, pem.len, files[i], NULL, 0),
                  PS_OK);
        ps_buf_deinit(&pem);
    }
    CHECK(tw_read(tw_vector_path("java_wechat_pay_public_key.pem"), &pub));
    CHECK_INT(ingest_wechat_certs_add_public_key_pem(store, PUB_KEY_ID, pub.data, pub.len, NULL,
                                                     0),
              PS_OK);
    snap = ingest_wechat_certs_acquire(store);
    f57 = ingest_wechat_snapshot_find(snap, "f5765756002fdd77"); /* case-insensitive */
    merchant = ingest_wechat_snapshot_find(snap, "5F1C72E2A8931B72A2E13AF8DEE92471EB397115");
    pay = ingest_wechat_snapshot_find(snap, PUB_KEY_ID);
    REQUIRE(f57 != NULL && merchant != NULL && pay != NULL);
    CHECK(tw_read(tw_vector_path("go_verifier_message_source.txt"), &msg));
    CHECK_INT(msg.len, 6);
    CHECK(raw_verify(f57, &msg, tw_vector_path("go_verifier_message_source.sig.b64")));
    ps_buf_init(&wrong, 64);
    ps_buf_append_str(&wrong, "wrong source");
    CHECK(!raw_verify(f57, &wrong, tw_vector_path("go_verifier_message_source.sig.b64")));
    ps_buf_deinit(&msg);
    CHECK(tw_read(tw_vector_path("java_merchant_message.txt"), &msg));
    CHECK(raw_verify(merchant, &msg, tw_vector_path("java_merchant_message.sig.b64")));
    CHECK(!raw_verify(pay, &msg, tw_vector_path("java_merchant_message.sig.b64")));
    /* V6: the public key is the private key's and the certificate's. */
    EVP_PKEY *priv = NULL;
    CHECK_INT(sim_wechat_load_private_key(tw_vector_path("java_wechat_pay_private_key.pem"), &priv,
                                          NULL, 0),
              PS_OK);
    CHECK(priv != NULL && EVP_PKEY_eq(priv, pay->pkey) == 1);
    EVP_PKEY_free(priv);
    ingest_wechat_certs_release(snap);
    ingest_wechat_certs_destroy(store);
    ps_buf_deinit(&msg);
    ps_buf_deinit(&wrong);
    ps_buf_deinit(&pub);
}

/* V6 certificate (valid 2022-05-10 .. 2025-05-09) as a platform certificate:
 * a callback signed with its key verifies inside the validity and is
 * expired_certificate outside it. */
static void test_v6_certificate_validity(void)
{
    char files[TW_PATH_MAX + 64], err[PS_ERRSTR_SIZE] = "";
    ingest_wechat_t *v = NULL;
    EVP_PKEY *key = NULL;
    sim_wechat_keys_t keys = {.serial = "440024045C4A427599D09BB4E3DE0279F2E813FD"};
    sim_wechat_params_t p = {.event_id = "EV-V6", .mch_id = TW_MCH_ID, .out_trade_no = "V6-1",
                             .transaction_id = "4200000000000000000000000006", .amount_total = 1,
                             .account_id = "p6", .event_time_s = 1700000000};
    sim_request_t req;
    ingest_result_t res;

    snprintf(files, sizeof(files), "wechat.platform_cert_files=%s",
             tw_vector_path("java_wechat_pay_certificate.pem"));
    const char *settings[] = {files, "wechat.mch_id=" TW_MCH_ID, NULL};
    REQUIRE(tw_verifier(TW_APIV3_KEY, settings, &v, err, sizeof(err)) == PS_OK);
    REQUIRE(sim_wechat_load_private_key(tw_vector_path("java_wechat_pay_private_key.pem"), &key,
                                        NULL, 0) == PS_OK);
    keys.sign_key = key;
    memcpy(keys.apiv3_key, TW_APIV3_KEY, 32);
    sim_request_init(&req);
    for (int i = 0; i < 3; i++) {
        static const int64_t clocks[] = {1700000000, 1800000000, 1600000000};
        p.timestamp_s = clocks[i];
        REQUIRE(sim_wechat_build(&keys, &p, &req, err, sizeof(err)) == PS_OK);
        tw_verify_sim(v, &req, clocks[i], &res);
        if (i == 0)
            CHECK_INT(res.verdict, INGEST_ACCEPT);
        else
            CHECK_REJECT(res, "expired_certificate");
        ingest_result_deinit(&res);
    }
    sim_request_deinit(&req);
    EVP_PKEY_free(key);
    ingest_wechat_destroy(v);
}

/* V4: the /v3/certificates response decrypts to the expected certificate. */
static void test_v4_download_certificates(void)
{
    ingest_wechat_snapshot_t *snap = NULL;
    const ingest_wechat_key_t *k;
    json_t *root = json_load_file(tw_vector_path("java_download_certificates_response.json"), 0,
                                  NULL);
    json_t *enc = json_object_get(json_array_get(json_object_get(root, "data"), 0),
                                  "encrypt_certificate");
    ps_buf_t body, out, expect;
    char err[PS_ERRSTR_SIZE] = "";

    CHECK(tw_read(tw_vector_path("java_download_certificates_response.json"), &body));
    CHECK_INT(ingest_wechat_certs_decode((const uint8_t *)TW_APIV3_KEY, 32, body.data, body.len,
                                         &snap, err, sizeof(err)),
              PS_OK);
    REQUIRE(snap != NULL);
    CHECK_INT(ingest_wechat_snapshot_count(snap), 1);
    k = ingest_wechat_snapshot_find(snap, "5DEA10EF55877E3CF6C33255C2E7DEFFF7E427EC");
    REQUIRE(k != NULL);
    CHECK(k->is_certificate && k->downloaded);
    CHECK_INT(k->not_before_s, rfc3339_us("2023-09-19T15:15:58Z") / 1000000);
    CHECK_INT(k->not_after_s, rfc3339_us("2028-09-17T15:15:58Z") / 1000000);
    ingest_wechat_certs_release(snap);
    open_b64(TW_APIV3_KEY, json_string_value(json_object_get(enc, "nonce")), "certificate",
             json_string_value(json_object_get(enc, "ciphertext")), &out);
    CHECK(tw_read(tw_vector_path("java_download_certificates_expected_plaintext.pem"), &expect));
    CHECK(out.len > 0 && out.len == expect.len && memcmp(out.data, expect.data, out.len) == 0);
    /* A wrong key decrypts nothing and installs nothing. */
    snap = NULL;
    CHECK_INT(ingest_wechat_certs_decode((const uint8_t *)"a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gc", 32,
                                         body.data, body.len, &snap, err, sizeof(err)),
              PS_ERR_CRYPTO);
    CHECK(snap == NULL);
    CHECK_CONTAINS(err, "5DEA10EF55877E3CF6C33255C2E7DEFFF7E427EC");
    ps_buf_deinit(&out);
    ps_buf_deinit(&expect);
    ps_buf_deinit(&body);
    json_decref(root);
}

/* R1: the merchant Authorization header reproduces byte for byte. */
static void test_r1_request_signature(void)
{
    EVP_PKEY *key = NULL;
    ps_buf_t file, auth;
    const char *line;

    REQUIRE(sim_wechat_load_private_key(tw_vector_path("go_test_private_key_F5765756002FDD77.pem"),
                                        &key, NULL, 0) == PS_OK);
    CHECK(tw_read(tw_vector_path("generated/R1_request_sign_get_certificates.txt"), &file));
    line = strstr((const char *)file.data, "Authorization: ");
    REQUIRE(line != NULL);
    line += strlen("Authorization: ");
    ps_buf_init(&auth, 4096);
    CHECK_INT(ingest_wechat_sign_request(key, "1234567890", "F5765756002FDD77", "GET",
                                         "/v3/certificates", 1624523846, "A1B2C3D4E5F6G7", NULL,
                                         0, &auth, NULL, 0),
              PS_OK);
    CHECK(auth.len > 0 && strncmp(line, (const char *)auth.data, auth.len) == 0);
    CHECK(line[auth.len] == '\0' || line[auth.len] == '\n' || line[auth.len] == '\r');
    ps_buf_deinit(&auth);
    ps_buf_deinit(&file);
    EVP_PKEY_free(key);
}

/* Parses a raw captured request (a tests/data/wechat file) into hs and body. */
static bool parse_raw(const char *path, tw_headers_t *hs, ps_buf_t *body)
{
    ps_buf_t raw;
    const char *p, *end, *sep;
    bool ok;

    memset(hs, 0, sizeof(*hs));
    ps_buf_init(body, 64 * 1024);
    ok = tw_read(path, &raw) && (sep = strstr((const char *)raw.data, "\r\n\r\n")) != NULL;
    if (ok) {
        p = strstr((const char *)raw.data, "\r\n") + 2; /* skip the request line */
        for (; p < sep && hs->count < TW_HEADERS_MAX; p = end + 2) {
            const char *colon = strchr(p, ':');
            end = strstr(p, "\r\n");
            hs->h[hs->count].name = ps_strndup(p, (size_t)(colon - p));
            hs->h[hs->count].value = ps_strndup(colon + 2, (size_t)(end - colon - 2));
            hs->count++;
        }
        ps_buf_append(body, sep + 4, raw.len - (size_t)(sep + 4 - (const char *)raw.data));
    }
    ps_buf_deinit(&raw);
    return ok;
}

/* The data files of tests/data/wechat give their documented verdicts. */
static void test_data_files(void)
{
    static const char *const names[] = {"G1_transaction_success_certmode", "N2_tampered_body"};
    char path[TW_PATH_MAX];
    tw_headers_t hs;
    ps_buf_t body;
    ingest_result_t res;

    REQUIRE(verifier != NULL);
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "%.600s/tests/data/wechat/%s.request",
                 getenv("PAYSTREAM_SOURCE_DIR"), names[i]);
        CHECK(parse_raw(path, &hs, &body));
        tw_verify(verifier, &hs, &body, 1700000000, &res);
        if (i == 0) {
            CHECK_INT(res.verdict, INGEST_ACCEPT);
            CHECK_STR(res.ev.merchant_order_no, "G20231115061320001");
        } else {
            CHECK_REJECT(res, "bad_signature");
        }
        ingest_result_deinit(&res);
        tw_headers_free(&hs);
        ps_buf_deinit(&body);
    }
}

int main(void)
{
    if (tw_vectors() == NULL) {
        printf("SKIP: ../shared/conformance not found (vectors not run)\n");
        return test_summary();
    }
    verifier = make_verifier(TW_APIV3_KEY);
    RUN(test_g1_certificate_mode);
    RUN(test_g2_public_key_mode);
    RUN(test_g3_refund);
    RUN(test_negative_vectors);
    RUN(test_n5_wrong_apiv3_key);
    RUN(test_v1_go_notify);
    RUN(test_v3_aes_gcm);
    RUN(test_v2_v5_v6_keys);
    RUN(test_v6_certificate_validity);
    RUN(test_v4_download_certificates);
    RUN(test_r1_request_signature);
    RUN(test_data_files);
    ingest_wechat_destroy(verifier);
    tw_cleanup();
    return test_summary();
}
