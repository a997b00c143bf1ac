/*
 * The Alipay conformance vectors (../shared/conformance/alipay, expected
 * verdicts in conformance/README.md) through the real verifier and the RSA2
 * routine: official V1-V4 from the Node SDK tests and synthetic A1-A4.
 * V5 (certificate SNs) belongs to certificate mode, which is not implemented.
 */
#include "test_alipay_common.h"

#include <jansson.h>
#include <paystream/avro.h>

static char path_buf[8192];

static const char *vec(const char *name)
{
    snprintf(path_buf, sizeof(path_buf), "%s/alipay/%s", test_alipay_conformance_dir(), name);
    return path_buf;
}

/* A .params.json (values after one form decode) re-encoded as a form body. */
static char *params_to_form(const char *name, size_t *len_out)
{
    json_error_t jerr;
    json_t *obj = json_load_file(vec(name), JSON_REJECT_DUPLICATES, &jerr), *value;
    const char *key;
    ps_buf_t b;
    bool first = true;

    if (obj == NULL) {
        fprintf(stderr, "cannot load %s: %s\n", name, jerr.text);
        return NULL;
    }
    ps_buf_init(&b, 1024 * 1024);
    json_object_foreach(obj, key, value)
    {
        PS_ASSERT(json_is_string(value));
        if (!first)
            ps_buf_append(&b, "&", 1);
        first = false;
        ingest_form_encode_component(key, strlen(key), &b);
        ps_buf_append(&b, "=", 1);
        ingest_form_encode_component(json_string_value(value), json_string_length(value), &b);
    }
    json_decref(obj);
    return (char *)ps_buf_steal(&b, len_out);
}

/* The sign parameter of a parsed body. */
static const char *sign_of(const ingest_form_t *f)
{
    const char *s = ingest_form_get(f, "sign");

    PS_ASSERT(s != NULL);
    return s;
}

/* Checks that body's rule string equals the vector file and verifies under
 * key, and that the other rule's string does not. */
static void check_rule(const char *body, size_t len, ingest_alipay_rule_t rule,
                       const char *content_file, const char *key_file)
{
    ingest_form_t f;
    ps_buf_t content;
    EVP_PKEY *key = NULL;
    size_t expect_len;
    char err[512], *expect = test_alipay_read(vec(content_file), &expect_len);
    const char *sign;
    ingest_alipay_rule_t other =
        rule == INGEST_ALIPAY_RULE_V1 ? INGEST_ALIPAY_RULE_V2 : INGEST_ALIPAY_RULE_V1;

    REQUIRE(expect != NULL);
    REQUIRE(ingest_alipay_load_public_key(vec(key_file), &key, err, sizeof(err)) == PS_OK);
    ingest_form_init(&f);
    ps_buf_init(&content, 1024 * 1024);
    REQUIRE(ingest_form_parse(body, len, &f, err, sizeof(err)) == PS_OK);
    sign = sign_of(&f);
    CHECK_INT(ingest_alipay_sign_content(&f, rule, false, &content), PS_OK);
    CHECK_INT(content.len, expect_len);
    CHECK(content.len == expect_len && memcmp(content.data, expect, expect_len) == 0);
    CHECK_INT(ingest_alipay_rsa2_verify(key, content.data, content.len, sign, strlen(sign), err,
                                        sizeof(err)),
              PS_OK);
    ps_buf_reset(&content);
    CHECK_INT(ingest_alipay_sign_content(&f, other, false, &content), PS_OK);
    CHECK_INT(ingest_alipay_rsa2_verify(key, content.data, content.len, sign, strlen(sign), err,
                                        sizeof(err)),
              PS_ERR_CRYPTO);
    ps_buf_deinit(&content);
    ingest_form_deinit(&f);
    EVP_PKEY_free(key);
    ps_free(expect);
}

/* Goal (V1): the official trade notification verifies under rule V1 only, with
 * and without sign_type; through the verifier it passes signature, charset and
 * app_id, and is refused only because a payment without passback_params has
 * no account. */
static void test_v1_trade_notification(void)
{
    static const char *const files[] = {"sdk_notify_trade_with_sign_type.params.json",
                                        "sdk_notify_trade_without_sign_type.params.json"};
    ingest_alipay_t *v = NULL;
    char err[512];

    REQUIRE(test_alipay_new("2019073166072302", vec("notify_pubkey_inline_v1.pem"), NULL,
                            "2088531891668739", &v, err, sizeof(err)) == PS_OK);
    for (size_t i = 0; i < 2; i++) {
        size_t len;
        char *body = params_to_form(files[i], &len);
        ingest_result_t res;

        REQUIRE(body != NULL);
        check_rule(body, len, INGEST_ALIPAY_RULE_V1, "sdk_notify_trade.sign_content_V1.txt",
                   "notify_pubkey_inline_v1.pem");
        test_alipay_run(v, body, len, &res);
        CHECK_VERDICT(&res, INGEST_REJECT, "missing_account");
        CHECK_CONTAINS(res.reason, "passback_params");
        ingest_result_deinit(&res);
        ps_free(body);
    }
    ingest_alipay_destroy(v);
}

/* Goal (V2): another app's notification fails under both rules. */
static void test_v2_other_app_fails(void)
{
    ingest_alipay_t *v = NULL;
    ingest_result_t res;
    size_t len;
    char err[512], *body = params_to_form("sdk_notify_trade_verify_fail.params.json", &len);

    REQUIRE(body != NULL);
    REQUIRE(test_alipay_new("2019073166072302", vec("notify_pubkey_inline_v1.pem"), NULL, NULL,
                            &v, err, sizeof(err)) == PS_OK);
    test_alipay_run(v, body, len, &res);
    CHECK_VERDICT(&res, INGEST_REJECT, "bad_signature");
    ingest_result_deinit(&res);
    ingest_alipay_destroy(v);
    ps_free(body);
}

/* Goal (V3): the servicemarket message verifies only under rule V2 (with
 * sign_type, or with sign_type=RSA2 re-inserted); being no trade message it is
 * acknowledged, not booked; the altered one fails. */
static void test_v3_servicemarket_rule_v2(void)
{
    static const char *const good[] = {"sdk_notify_servicemarket_with_sign_type.params.json",
                                       "sdk_notify_servicemarket_without_sign_type.params.json"};
    ingest_alipay_t *v = NULL;
    ingest_result_t res;
    size_t len;
    char err[512], *body;

    REQUIRE(test_alipay_new("2017122801303261", vec("alipay-notify-sign-public-key-v2.pem"),
                            NULL, NULL, &v, err, sizeof(err)) == PS_OK);
    for (size_t i = 0; i < 2; i++) {
        body = params_to_form(good[i], &len);
        REQUIRE(body != NULL);
        check_rule(body, len, INGEST_ALIPAY_RULE_V2, "sdk_notify_servicemarket.sign_content_V2.txt",
                   "alipay-notify-sign-public-key-v2.pem");
        test_alipay_run(v, body, len, &res);
        CHECK_VERDICT(&res, INGEST_ACK_ONLY, "unsupported_notify_type");
        CHECK_CONTAINS(res.reason, "servicemarket_order_notify");
        ingest_result_deinit(&res);
        ps_free(body);
    }
    body = params_to_form("sdk_notify_servicemarket_verify_fail.params.json", &len);
    REQUIRE(body != NULL);
    test_alipay_run(v, body, len, &res);
    CHECK_VERDICT(&res, INGEST_REJECT, "bad_signature");
    ingest_result_deinit(&res);
    ps_free(body);
    ingest_alipay_destroy(v);
}

/* Goal (V4): a synchronous response signature verifies over the raw bytes of
 * the response value, found verbatim in the body; any change fails. */
static void test_v4_response_signature(void)
{
    size_t body_len, content_len;
    char *body = test_alipay_read(vec("sdk_response_alipay_open_file_upload.json"), &body_len);
    char *content = test_alipay_read(vec("sdk_response_alipay_open_file_upload.sign_content.txt"),
                                     &content_len);
    json_t *obj;
    EVP_PKEY *key = NULL;
    char err[512], sign[1024];

    REQUIRE(body != NULL && content != NULL);
    CHECK(strstr(body, content) != NULL); /* the signed bytes are a raw substring */
    obj = json_loads(body, JSON_REJECT_DUPLICATES, NULL);
    REQUIRE(obj != NULL && json_is_string(json_object_get(obj, "sign")));
    snprintf(sign, sizeof(sign), "%s", json_string_value(json_object_get(obj, "sign")));
    json_decref(obj);
    REQUIRE(ingest_alipay_load_public_key(vec("alipay-public-key.pem"), &key, err, sizeof(err)) ==
            PS_OK);
    CHECK_INT(ingest_alipay_rsa2_verify(key, content, content_len, sign, strlen(sign), err,
                                        sizeof(err)),
              PS_OK);
    content[10] ^= 1;
    CHECK_INT(ingest_alipay_rsa2_verify(key, content, content_len, sign, strlen(sign), err,
                                        sizeof(err)),
              PS_ERR_CRYPTO);
    CHECK_CONTAINS(err, "does not verify");
    content[10] ^= 1;
    sign[5] = '$';
    CHECK_INT(ingest_alipay_rsa2_verify(key, content, content_len, sign, strlen(sign), err,
                                        sizeof(err)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(err, "bad base64");
    EVP_PKEY_free(key);
    ps_free(body);
    ps_free(content);
}

static ingest_alipay_t *synthetic_verifier(void)
{
    ingest_alipay_t *v = NULL;
    char err[512];

    if (test_alipay_new("2021000000000001", vec("test_app-public-key.pem"), NULL,
                        "2088000000000001", &v, err, sizeof(err)) != PS_OK)
        fprintf(stderr, "verifier: %s\n", err);
    return v;
}

/* A synthetic .form.txt: the body is the file minus its final newline (a
 * text-file convention; Alipay posts no newline, and the verifier refuses a
 * raw LF as an unencoded byte). */
static char *read_form_txt(const char *name, size_t *len)
{
    char *body = test_alipay_read(vec(name), len);

    if (body != NULL && *len > 0 && body[*len - 1] == '\n')
        body[--*len] = '\0';
    return body;
}

/* Verifies a synthetic .form.txt, checks its V1 string, and that a re-send
 * (duplicate) is accepted again with an equal event. */
static void run_synthetic(ingest_alipay_t *v, const char *stem, ingest_result_t *res)
{
    char name[128], *body, *again_reason;
    size_t len;
    ingest_result_t again;

    snprintf(name, sizeof(name), "generated/%s.form.txt", stem);
    body = read_form_txt(name, &len);
    REQUIRE(body != NULL);
    snprintf(name, sizeof(name), "generated/%s.sign_content.txt", stem);
    check_rule(body, len, INGEST_ALIPAY_RULE_V1, name, "test_app-public-key.pem");
    test_alipay_run(v, body, len, res);
    CHECK_VERDICT(res, INGEST_ACCEPT, NULL);
    CHECK_INT(ps_avro_validate_callback_event(&res->ev, name, sizeof(name)), PS_OK);
    CHECK(res->ev.raw_body_len == len && memcmp(res->ev.raw_body, body, len) == 0);
    REQUIRE(res->ev.header_count == 1);
    CHECK_STR(res->ev.headers[0].name, "Content-Type");
    CHECK_CONTAINS(res->ev.key_id, "alipay-public-key:");
    test_alipay_run(v, body, len, &again);
    again_reason = again.ev.channel_event_id;
    CHECK_INT(again.verdict, INGEST_ACCEPT);
    CHECK_STR(again_reason, res->ev.channel_event_id);
    CHECK_INT(again.ev.amount_minor, res->ev.amount_minor);
    CHECK_INT(again.ev.event_time_us, res->ev.event_time_us);
    ingest_result_deinit(&again);
    ps_free(body);
}

/* Goal (A1): payment with a double-encoded passback_params -> the exact event. */
static void test_a1_payment(void)
{
    ingest_alipay_t *v = synthetic_verifier();
    ingest_result_t res;

    REQUIRE(v != NULL);
    run_synthetic(v, "A1_trade_success_with_passback", &res);
    CHECK_INT(res.ev.channel, PS_CHANNEL_ALIPAY);
    CHECK_INT(res.ev.kind, PS_EVENT_PAYMENT_SUCCEEDED);
    CHECK_STR(res.ev.channel_event_type, "TRADE_SUCCESS");
    CHECK_STR(res.ev.channel_event_id, "2023111500222061320000000000000001");
    CHECK_STR(res.ev.merchant_order_no, "G20231115061320002");
    CHECK_STR(res.ev.channel_txn_id, "2023111522001400000000000001");
    CHECK(res.ev.refund_id == NULL);
    CHECK_INT(res.ev.amount_minor, 648);
    CHECK(!res.ev.has_refund_total);
    CHECK_STR(res.ev.currency, "CNY");
    CHECK_STR(res.ev.account_id, "10086");
    CHECK_INT(res.ev.event_time_us, 1700000000LL * 1000000); /* 2023-11-15 06:13:20 +08:00 */
    CHECK(res.ev.has_paid_time);
    CHECK_INT(res.ev.paid_time_us, 1699999999LL * 1000000);
    CHECK_INT(res.ev.received_time_us, 0);
    ingest_result_deinit(&res);
    ingest_alipay_destroy(v);
}

/* Goal (A2): a partial refund keeps TRADE_SUCCESS and carries the cumulative
 * refund_fee; no passback_params, so the account is left for the processor. */
static void test_a2_partial_refund(void)
{
    ingest_alipay_t *v = synthetic_verifier();
    ingest_result_t res;

    REQUIRE(v != NULL);
    run_synthetic(v, "A2_partial_refund_trade_success", &res);
    CHECK_INT(res.ev.kind, PS_EVENT_REFUND_SUCCEEDED);
    CHECK_STR(res.ev.channel_event_type, "TRADE_SUCCESS");
    CHECK_STR(res.ev.channel_event_id, "2023111600222100006000000000000002");
    CHECK_STR(res.ev.refund_id, "R20231116000002");
    CHECK_INT(res.ev.amount_minor, 648);
    CHECK(res.ev.has_refund_total);
    CHECK_INT(res.ev.refund_total_minor, 100);
    CHECK_STR(res.ev.account_id, "");
    CHECK_INT(res.ev.event_time_us, 1700100006LL * 1000000); /* 2023-11-16 10:00:06 +08:00 */
    ingest_result_deinit(&res);
    ingest_alipay_destroy(v);
}

/* Goal (A3): a full refund is TRADE_CLOSED with refund_fee = total. */
static void test_a3_full_refund(void)
{
    ingest_alipay_t *v = synthetic_verifier();
    ingest_result_t res;

    REQUIRE(v != NULL);
    run_synthetic(v, "A3_full_refund_trade_closed", &res);
    CHECK_INT(res.ev.kind, PS_EVENT_REFUND_SUCCEEDED);
    CHECK_STR(res.ev.channel_event_type, "TRADE_CLOSED");
    CHECK_STR(res.ev.refund_id, "R20231117000003");
    CHECK_INT(res.ev.amount_minor, 648);
    CHECK_INT(res.ev.refund_total_minor, 648);
    ingest_result_deinit(&res);
    ingest_alipay_destroy(v);
}

/* Goal (A4): A1 with total_amount changed and the signature kept fails. */
static void test_a4_tampered_amount(void)
{
    ingest_alipay_t *v = synthetic_verifier();
    ingest_result_t res;
    size_t len;
    char *body = params_to_form("generated/A4_amount_tampered.params.json", &len);

    REQUIRE(v != NULL && body != NULL);
    test_alipay_run(v, body, len, &res);
    CHECK_VERDICT(&res, INGEST_REJECT, "bad_signature");
    ingest_result_deinit(&res);
    ps_free(body);
    ingest_alipay_destroy(v);
}

/* Re-encodes f as a body with byte `at` of parameter `which` flipped
 * (at == key_len means the value's byte 0, and so on). */
static void body_with_flip(const ingest_form_t *f, size_t which, size_t at, ps_buf_t *out)
{
    for (size_t i = 0; i < f->count; i++) {
        char key[256], value[4096];
        const ingest_form_param_t *p = &f->params[i];

        memcpy(key, p->key, p->key_len + 1);
        memcpy(value, p->value, p->value_len + 1);
        if (i == which && at < p->key_len)
            key[at] ^= 1;
        else if (i == which)
            value[at - p->key_len] ^= 1;
        if (i > 0)
            ps_buf_append(out, "&", 1);
        ingest_form_encode_component(key, p->key_len, out);
        ps_buf_append(out, "=", 1);
        ingest_form_encode_component(value, p->value_len, out);
    }
}

/* Goal: flipping any bit-0 of any signed byte of A1 (every name and value
 * except sign) is rejected; only sign_type changes give their own label. */
static void test_a1_every_signed_byte(void)
{
    ingest_alipay_t *v = synthetic_verifier();
    ingest_form_t f;
    ps_buf_t body;
    size_t len, tried = 0;
    char *text = read_form_txt("generated/A1_trade_success_with_passback.form.txt", &len);

    REQUIRE(v != NULL && text != NULL);
    ingest_form_init(&f);
    REQUIRE(ingest_form_parse(text, len, &f, NULL, 0) == PS_OK);
    ps_buf_init(&body, 1024 * 1024);
    for (size_t i = 0; i < f.count; i++) {
        if (strcmp(f.params[i].key, "sign") == 0)
            continue;
        for (size_t at = 0; at < f.params[i].key_len + f.params[i].value_len; at++) {
            ingest_result_t res;

            ps_buf_reset(&body);
            body_with_flip(&f, i, at, &body);
            test_alipay_run(v, body.data, body.len, &res);
            CHECK_INT(res.verdict, INGEST_REJECT);
            if (strcmp(f.params[i].key, "sign_type") != 0 && res.verdict == INGEST_REJECT &&
                strcmp(res.reason_label, "bad_signature") != 0) {
                fprintf(stderr, "flip %s[%zu]: %s\n", f.params[i].key, at, res.reason);
                CHECK_STR(res.reason_label, "bad_signature");
            }
            ingest_result_deinit(&res);
            tried++;
        }
    }
    CHECK(tried > 500);
    ps_buf_deinit(&body);
    ingest_form_deinit(&f);
    ps_free(text);
    ingest_alipay_destroy(v);
}

int main(void)
{
    if (test_alipay_conformance_dir() != NULL) {
        RUN(test_v1_trade_notification);
        RUN(test_v2_other_app_fails);
        RUN(test_v3_servicemarket_rule_v2);
        RUN(test_v4_response_signature);
        RUN(test_a1_payment);
        RUN(test_a2_partial_refund);
        RUN(test_a3_full_refund);
        RUN(test_a4_tampered_amount);
        RUN(test_a1_every_signed_byte);
    }
    test_alipay_cleanup();
    return test_summary();
}
