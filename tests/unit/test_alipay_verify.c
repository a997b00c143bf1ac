/*
 * The Alipay verifier against its simulator and against hostile input:
 * round trips of every notification kind (utf-8 and GBK) to the exact
 * normalized event, the simulator's forgeries, every bad-input class of
 * issue 3 (each with its REJECT label), key rotation, the disabled state and
 * configuration errors. Runs under ASan+UBSan: nothing may crash or leak.
 */
#include "test_alipay_common.h"

#include "charset.h"
#include "sim_alipay.h"

#include <openssl/rsa.h>
#include <paystream/avro.h>
#include <paystream/base64.h>
#include <pthread.h>

#define APP_ID "2021000000000001"
#define SELLER_ID "2088000000000001"

static sim_alipay_keys_t g_keys;
static ingest_alipay_t *g_v;

static void build_and_run(const sim_alipay_params_t *p, ingest_result_t *res)
{
    sim_request_t req;
    char err[512];

    sim_request_init(&req);
    CHECK_INT(sim_alipay_build(&g_keys, p, &req, err, sizeof(err)), PS_OK);
    test_alipay_run(g_v, req.body.data, req.body.len, res);
    sim_request_deinit(&req);
}

/* Body = text + "&sign=" + RSA2 over text's rule-V1 string, with the sim key. */
static void sign_text(const char *text, ps_buf_t *body)
{
    ingest_form_t f;
    ps_buf_t content, b64;
    unsigned char sig[512];
    size_t sig_len = sizeof(sig);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    ingest_form_init(&f);
    ps_buf_init(&content, 1024 * 1024);
    ps_buf_init(&b64, 4096);
    PS_ASSERT(ingest_form_parse(text, strlen(text), &f, NULL, 0) == PS_OK);
    PS_ASSERT(ingest_alipay_sign_content(&f, INGEST_ALIPAY_RULE_V1, false, &content) == PS_OK);
    PS_ASSERT(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, g_keys.alipay_key) == 1);
    PS_ASSERT(EVP_DigestSign(ctx, sig, &sig_len, content.data, content.len) == 1);
    PS_ASSERT(ps_base64_encode(sig, sig_len, PS_BASE64_STD, &b64) == PS_OK);
    ps_buf_append_str(body, text);
    ps_buf_append_str(body, "&sign=");
    ingest_form_encode_component((const char *)b64.data, b64.len, body);
    EVP_MD_CTX_free(ctx);
    ps_buf_deinit(&b64);
    ps_buf_deinit(&content);
    ingest_form_deinit(&f);
}

/* Goal: a simulated payment verifies to the exact event; a re-send verifies
 * again with an equal event (duplicates are not errors). */
static void test_round_trip_payment(void)
{
    sim_alipay_params_t p;
    ingest_result_t res, again;
    char err[512];

    sim_alipay_params_default(&p);
    p.notify_id = "N-1";
    p.out_trade_no = "ORDER-1";
    p.trade_no = "TXN-1";
    p.total_minor = 123456;
    p.account = "player 7&x=1";
    build_and_run(&p, &res);
    CHECK_VERDICT(&res, INGEST_ACCEPT, NULL);
    CHECK_INT(ps_avro_validate_callback_event(&res.ev, err, sizeof(err)), PS_OK);
    CHECK_INT(res.ev.kind, PS_EVENT_PAYMENT_SUCCEEDED);
    CHECK_STR(res.ev.channel_event_id, "N-1");
    CHECK_STR(res.ev.merchant_order_no, "ORDER-1");
    CHECK_STR(res.ev.channel_txn_id, "TXN-1");
    CHECK_INT(res.ev.amount_minor, 123456);
    CHECK_STR(res.ev.currency, "CNY");
    CHECK_STR(res.ev.account_id, "player 7&x=1");
    CHECK_INT(res.ev.event_time_us, 1700000000LL * 1000000);
    CHECK_INT(res.ev.paid_time_us, 1699999999LL * 1000000);
    build_and_run(&p, &again);
    CHECK_INT(again.verdict, INGEST_ACCEPT);
    CHECK_INT(again.ev.raw_body_len, res.ev.raw_body_len);
    CHECK(memcmp(again.ev.raw_body, res.ev.raw_body, res.ev.raw_body_len) == 0);
    CHECK_STR(again.ev.key_id, res.ev.key_id);
    ingest_result_deinit(&again);
    ingest_result_deinit(&res);
}

/* Goal: each notification kind maps to its event kind and refund fields. */
static void test_round_trip_kinds(void)
{
    static const struct {
        sim_alipay_event_t event;
        int64_t refund_total;
        ingest_verdict_t verdict;
        ps_event_kind_t kind;
        const char *type;
        int64_t expect_refund;
    } cases[] = {
        {SIM_ALIPAY_FINISHED, 0, INGEST_ACCEPT, PS_EVENT_PAYMENT_SUCCEEDED, "TRADE_FINISHED", -1},
        {SIM_ALIPAY_PARTIAL_REFUND, 100, INGEST_ACCEPT, PS_EVENT_REFUND_SUCCEEDED, "TRADE_SUCCESS",
         100},
        {SIM_ALIPAY_FULL_REFUND, 0, INGEST_ACCEPT, PS_EVENT_REFUND_SUCCEEDED, "TRADE_CLOSED", 648},
        {SIM_ALIPAY_CLOSED, 0, INGEST_ACCEPT, PS_EVENT_PAYMENT_CLOSED, "TRADE_CLOSED", -1},
        {SIM_ALIPAY_WAIT_BUYER_PAY, 0, INGEST_ACK_ONLY, 0, NULL, -1},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sim_alipay_params_t p;
        ingest_result_t res;

        sim_alipay_params_default(&p);
        p.event = cases[i].event;
        p.refund_total_minor = cases[i].refund_total;
        build_and_run(&p, &res);
        CHECK_INT(res.verdict, cases[i].verdict);
        if (cases[i].verdict == INGEST_ACK_ONLY) {
            CHECK_STR(res.reason_label, "wait_buyer_pay");
            ingest_result_deinit(&res);
            continue;
        }
        CHECK_INT(res.ev.kind, cases[i].kind);
        CHECK_STR(res.ev.channel_event_type, cases[i].type);
        CHECK_INT(res.ev.amount_minor, 648);
        CHECK_INT(res.ev.has_refund_total, cases[i].expect_refund >= 0);
        if (cases[i].expect_refund >= 0) {
            CHECK_INT(res.ev.refund_total_minor, cases[i].expect_refund);
            CHECK_STR(res.ev.refund_id, "R20231116000002");
        } else {
            CHECK(res.ev.refund_id == NULL);
        }
        CHECK_INT(res.ev.has_paid_time, cases[i].event != SIM_ALIPAY_CLOSED);
        CHECK_STR(res.ev.account_id, "10086");
        ingest_result_deinit(&res);
    }
}

/* Goal: a GBK notification (Chinese subject and account) verifies over the GBK
 * bytes as signed, and its text reaches the event as UTF-8. */
static void test_round_trip_gbk(void)
{
    sim_alipay_params_t p;
    sim_request_t req;
    ingest_result_t res;
    char err[512];

    sim_alipay_params_default(&p);
    p.charset = INGEST_CHARSET_GBK;
    p.account = "\xe7\x8e\xa9\xe5\xae\xb6" "10086"; /* "玩家10086" */
    sim_request_init(&req);
    REQUIRE(sim_alipay_build(&g_keys, &p, &req, err, sizeof(err)) == PS_OK);
    CHECK_CONTAINS((const char *)req.body.data, "subject=648%D7%EA%CA%AF");
    CHECK_CONTAINS((const char *)req.body.data, "charset=gbk");
    CHECK_CONTAINS(sim_request_header(&req, "Content-Type"), "charset=gbk");
    test_alipay_run(g_v, req.body.data, req.body.len, &res);
    CHECK_VERDICT(&res, INGEST_ACCEPT, NULL);
    CHECK_STR(res.ev.account_id, "\xe7\x8e\xa9\xe5\xae\xb6" "10086");
    CHECK_INT(ps_avro_validate_callback_event(&res.ev, err, sizeof(err)), PS_OK);
    ingest_result_deinit(&res);
    sim_request_deinit(&req);
}

/* Goal: the simulator's forgeries are refused with their labels. */
static void test_forgeries(void)
{
    static const struct {
        sim_alipay_forgery_t forgery;
        const char *label;
    } cases[] = {{SIM_ALIPAY_TAMPER_AMOUNT, "bad_signature"},
                 {SIM_ALIPAY_WRONG_KEY, "bad_signature"},
                 {SIM_ALIPAY_WRONG_APP_ID, "wrong_app_id"}};

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sim_alipay_params_t p;
        ingest_result_t res;

        sim_alipay_params_default(&p);
        p.forgery = cases[i].forgery;
        build_and_run(&p, &res);
        CHECK_VERDICT(&res, INGEST_REJECT, cases[i].label);
        CHECK(res.ev.raw_body == NULL && res.ev.channel_event_id == NULL);
        ingest_result_deinit(&res);
    }
}

/* A signed payment body's parameters, values already form-encoded; a case
 * replaces (or with NULL drops) some and adds others. */
typedef struct kv {
    const char *key, *value;
} kv_t;

static const kv_t base_pairs[] = {
    {"notify_type", "trade_status_sync"},
    {"charset", "utf-8"},
    {"sign_type", "RSA2"},
    {"app_id", APP_ID},
    {"seller_id", SELLER_ID},
    {"notify_id", "N-2"},
    {"out_trade_no", "O-2"},
    {"trade_no", "T-2"},
    {"total_amount", "6.48"},
    {"notify_time", "2023-11-15+06%3A13%3A20"},
    {"trade_status", "TRADE_SUCCESS"},
    {"gmt_payment", "2023-11-15+06%3A13%3A19"},
    {"subject", "648%E9%92%BB%E7%9F%B3"},
    {"passback_params", "player_id%253D10086"},
};

static void base_text(const kv_t *changes, size_t n, ps_buf_t *out)
{
    size_t nb = sizeof(base_pairs) / sizeof(base_pairs[0]);
    bool first = true;

    for (size_t i = 0; i < nb + n; i++) {
        const kv_t *kv = i < nb ? &base_pairs[i] : &changes[i - nb];
        bool replaced = false;

        for (size_t j = 0; i < nb && j < n; j++) {
            if (strcmp(changes[j].key, kv->key) == 0)
                kv = &changes[j], replaced = true;
        }
        if (i >= nb) { /* an addition unless it replaced a base pair */
            for (size_t j = 0; j < nb; j++)
                replaced |= strcmp(base_pairs[j].key, kv->key) == 0;
            if (replaced)
                continue;
        }
        if (kv->value == NULL)
            continue;
        ps_buf_appendf(out, "%s%s=%s", first ? "" : "&", kv->key, kv->value);
        first = false;
    }
}

/* Goal: every validly signed but unacceptable notification gets its label. */
static void test_signed_bad_fields(void)
{
    static const struct {
        kv_t changes[2];
        ingest_verdict_t verdict;
        const char *label;
    } cases[] = {
        {{{"foo", "bar"}}, INGEST_ACCEPT, NULL}, /* an extra signed field is fine */
        {{{"total_amount", "6.485"}}, INGEST_REJECT, "bad_amount"},
        {{{"total_amount", "-6.48"}}, INGEST_REJECT, "bad_amount"},
        {{{"total_amount", "0.00"}}, INGEST_REJECT, "bad_amount"},
        {{{"total_amount", "0"}}, INGEST_REJECT, "bad_amount"},
        {{{"total_amount", "6.48e0"}}, INGEST_REJECT, "bad_amount"},
        {{{"total_amount", "+6.48"}}, INGEST_REJECT, "bad_amount"},
        {{{"total_amount", "99999999999999999999"}}, INGEST_REJECT, "bad_amount"},
        {{{"total_amount", "%EF%BC%96"}}, INGEST_REJECT, "bad_amount"},
        {{{"refund_fee", "6.49"}, {"out_biz_no", "R1"}}, INGEST_REJECT, "bad_amount"},
        {{{"refund_fee", "1.005"}, {"out_biz_no", "R1"}}, INGEST_REJECT, "bad_amount"},
        {{{"refund_fee", "1.00"}}, INGEST_REJECT, "missing_field"}, /* no out_biz_no */
        {{{"trans_currency", "USD"}}, INGEST_REJECT, "bad_currency"},
        {{{"settle_currency", "cny"}}, INGEST_REJECT, "bad_currency"},
        {{{"trans_currency", "CNY"}}, INGEST_ACCEPT, NULL},
        {{{"notify_id", NULL}}, INGEST_REJECT, "missing_field"},
        {{{"out_trade_no", ""}}, INGEST_REJECT, "missing_field"},
        {{{"trade_no", NULL}}, INGEST_REJECT, "missing_field"},
        {{{"total_amount", NULL}}, INGEST_REJECT, "missing_field"},
        {{{"notify_time", NULL}}, INGEST_REJECT, "missing_field"},
        {{{"trade_status", NULL}}, INGEST_REJECT, "missing_field"},
        {{{"notify_type", NULL}}, INGEST_REJECT, "missing_field"},
        {{{"app_id", NULL}}, INGEST_REJECT, "missing_field"},
        {{{"notify_time", "2023-11-15T06%3A13%3A20"}}, INGEST_REJECT, "bad_time"},
        {{{"notify_time", "2023-02-30+06%3A13%3A20"}}, INGEST_REJECT, "bad_time"},
        {{{"gmt_payment", "yesterday"}}, INGEST_REJECT, "bad_time"},
        {{{"trade_status", "TRADE_PENDING"}}, INGEST_REJECT, "unknown_trade_status"},
        {{{"trade_status", "WAIT_BUYER_PAY"}}, INGEST_ACK_ONLY, "wait_buyer_pay"},
        {{{"notify_type", "servicemarket_order_notify"}}, INGEST_ACK_ONLY,
         "unsupported_notify_type"},
        {{{"app_id", "2021000000000002"}}, INGEST_REJECT, "wrong_app_id"},
        {{{"seller_id", "2088000000000009"}}, INGEST_REJECT, "wrong_seller_id"},
        {{{"seller_id", NULL}}, INGEST_REJECT, "wrong_seller_id"},
        {{{"passback_params", NULL}}, INGEST_REJECT, "missing_account"},
        {{{"passback_params", "player_id%253D"}}, INGEST_REJECT, "missing_account"},
        {{{"passback_params", "server%253Ds1"}}, INGEST_REJECT, "missing_account"},
        {{{"passback_params", "player_id%253D%2525G1"}}, INGEST_REJECT, "bad_account"},
        {{{"passback_params", "player_id%253D1%2526player_id%253D2"}}, INGEST_REJECT,
         "bad_account"},
        {{{"passback_params", "%25ZZ"}}, INGEST_REJECT, "bad_account"},
        {{{"charset", "big5"}}, INGEST_REJECT, "bad_encoding"},
        {{{"charset", NULL}}, INGEST_ACCEPT, NULL}, /* utf-8 by default */
        /* UTF-8 "钻" declared GBK: E9 92 is a GBK pair, BB a lone lead byte. (UTF-8
         * that happens to be valid GBK cannot be told apart; the signature holds.) */
        {{{"charset", "gbk"}, {"subject", "%E9%92%BB"}}, INGEST_REJECT, "bad_encoding"},
        {{{"charset", "gbk"}, {"subject", "%81%20"}}, INGEST_REJECT, "bad_encoding"},
        {{{"charset", "gbk"}, {"subject", "ab%81"}}, INGEST_REJECT, "bad_encoding"},
        {{{"charset", "GBK"}, {"subject", "648%D7%EA%CA%AF"}}, INGEST_ACCEPT, NULL},
        {{{"subject", "%C0%AF"}}, INGEST_REJECT, "bad_encoding"},
        {{{"subject", "%ED%A0%80"}}, INGEST_REJECT, "bad_encoding"},
        {{{"sign_type", "RSA"}}, INGEST_REJECT, "unsupported_sign_type"},
        {{{"sign_type", NULL}}, INGEST_ACCEPT, NULL},
    };
    ps_buf_t text, body;

    ps_buf_init(&text, 1024 * 1024);
    ps_buf_init(&body, 1024 * 1024);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = cases[i].changes[1].key != NULL ? 2 : 1;
        ingest_result_t res;

        ps_buf_reset(&text);
        ps_buf_reset(&body);
        base_text(cases[i].changes, n, &text);
        sign_text((const char *)text.data, &body);
        test_alipay_run(g_v, body.data, body.len, &res);
        if (res.verdict != cases[i].verdict ||
            (cases[i].label != NULL) != (res.reason_label != NULL) ||
            (cases[i].label != NULL && strcmp(cases[i].label, res.reason_label) != 0))
            fprintf(stderr, "case %zu (%s=%s): got %d %s: %s\n", i, cases[i].changes[0].key,
                    cases[i].changes[0].value ? cases[i].changes[0].value : "(dropped)",
                    res.verdict, res.reason_label ? res.reason_label : "-", res.reason);
        CHECK_VERDICT(&res, cases[i].verdict, cases[i].label);
        if (res.verdict == INGEST_REJECT)
            CHECK(res.reason[0] != '\0' && res.ev.raw_body == NULL);
        ingest_result_deinit(&res);
    }
    ps_buf_deinit(&body);
    ps_buf_deinit(&text);
}

/* Goal: an id longer than the event contract allows is refused (bad_field),
 * and an account over its bound is refused (bad_account). */
static void test_signed_oversized_fields(void)
{
    char id[PS_ID_BYTES_MAX + 2], acct[PS_ACCOUNT_ID_BYTES_MAX + 32];
    kv_t change[1];
    ps_buf_t text, body;
    ingest_result_t res;

    memset(id, 'n', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    memcpy(acct, "player_id%253D", 14);
    memset(acct + 14, 'a', sizeof(acct) - 15);
    acct[sizeof(acct) - 1] = '\0';
    ps_buf_init(&text, 1024 * 1024);
    ps_buf_init(&body, 1024 * 1024);
    change[0] = (kv_t){"notify_id", id};
    base_text(change, 1, &text);
    sign_text((const char *)text.data, &body);
    test_alipay_run(g_v, body.data, body.len, &res);
    CHECK_VERDICT(&res, INGEST_REJECT, "bad_field");
    CHECK_CONTAINS(res.reason, "channel_event_id");
    ingest_result_deinit(&res);
    ps_buf_reset(&text);
    ps_buf_reset(&body);
    change[0] = (kv_t){"passback_params", acct};
    base_text(change, 1, &text);
    sign_text((const char *)text.data, &body);
    test_alipay_run(g_v, body.data, body.len, &res);
    CHECK_VERDICT(&res, INGEST_REJECT, "bad_account");
    ingest_result_deinit(&res);
    ps_buf_deinit(&body);
    ps_buf_deinit(&text);
}

/* Goal: damage to the form or the sign itself is refused before any crypto
 * result is trusted, each with its label. */
static void test_unsigned_damage(void)
{
    static const struct {
        const char *suffix, *label;
    } cases[] = {
        {"&sign=", "missing_signature"},
        {"&sign=abc%24", "bad_base64"},
        {"&sign=YWJj+ZGVm", "bad_base64"}, /* an unencoded '+' decodes to a space */
        {"&sign=YWJjZA", "bad_base64"},    /* missing padding */
        {"&sign=YWJjZA%3D%3D", "bad_signature"},
        {"&sign=%G1", "bad_form"},
        {"&sign=abc&sign=abc", "bad_form"},
        {"&&sign=abc", "bad_form"},
        {"", "missing_signature"},
    };
    ps_buf_t text, body;

    ps_buf_init(&text, 1024 * 1024);
    ps_buf_init(&body, 1024 * 1024);
    base_text(NULL, 0, &text);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ingest_result_t res;

        ps_buf_reset(&body);
        ps_buf_append(&body, text.data, text.len);
        ps_buf_append_str(&body, cases[i].suffix);
        test_alipay_run(g_v, body.data, body.len, &res);
        CHECK_VERDICT(&res, INGEST_REJECT, cases[i].label);
        ingest_result_deinit(&res);
    }
    /* A sign longer than any RSA signature. */
    ps_buf_reset(&body);
    ps_buf_append(&body, text.data, text.len);
    ps_buf_append_str(&body, "&sign=");
    for (int i = 0; i < 2000; i++)
        ps_buf_append_str(&body, "AAAA");
    {
        ingest_result_t res;

        test_alipay_run(g_v, body.data, body.len, &res);
        CHECK_VERDICT(&res, INGEST_REJECT, "bad_base64");
        ingest_result_deinit(&res);
    }
    ps_buf_deinit(&body);
    ps_buf_deinit(&text);
}

/* Goal: a signature over the parameters in body order (not sorted), or with an
 * unsigned parameter added afterwards, does not verify. */
static void test_wrong_order_and_added_field(void)
{
    ps_buf_t text, content, b64, body;
    unsigned char sig[512];
    size_t sig_len = sizeof(sig);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    ingest_result_t res;
    const char *unsorted = "notify_type=trade_status_sync&app_id=" APP_ID;

    ps_buf_init(&text, 1 << 20);
    ps_buf_init(&content, 1 << 20);
    ps_buf_init(&b64, 4096);
    ps_buf_init(&body, 1 << 20);
    base_text(NULL, 0, &text);
    /* The string to sign in body order is the body itself minus sign_type. */
    ps_buf_append_str(&content, unsorted);
    REQUIRE(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, g_keys.alipay_key) == 1);
    REQUIRE(EVP_DigestSign(ctx, sig, &sig_len, content.data, content.len) == 1);
    ps_base64_encode(sig, sig_len, PS_BASE64_STD, &b64);
    ps_buf_append_str(&body, unsorted);
    ps_buf_append_str(&body, "&sign=");
    ingest_form_encode_component((const char *)b64.data, b64.len, &body);
    test_alipay_run(g_v, body.data, body.len, &res);
    CHECK_VERDICT(&res, INGEST_REJECT, "bad_signature");
    ingest_result_deinit(&res);
    ps_buf_reset(&body);
    sign_text((const char *)text.data, &body);
    ps_buf_append_str(&body, "&zz_unsigned=1");
    test_alipay_run(g_v, body.data, body.len, &res);
    CHECK_VERDICT(&res, INGEST_REJECT, "bad_signature");
    ingest_result_deinit(&res);
    EVP_MD_CTX_free(ctx);
    ps_buf_deinit(&body);
    ps_buf_deinit(&b64);
    ps_buf_deinit(&content);
    ps_buf_deinit(&text);
}

/* Goal: a body over the bound is refused before parsing; garbage and every
 * truncation of a genuine body are refused, never accepted, never crash. */
static void test_size_garbage_truncation(void)
{
    sim_alipay_params_t p;
    sim_request_t req;
    ingest_result_t res;
    uint8_t *big = ps_calloc(1, PS_ALIPAY_BODY_BYTES_MAX + 1);
    uint32_t seed = 99;
    char err[512];

    test_alipay_run(g_v, big, PS_ALIPAY_BODY_BYTES_MAX + 1, &res);
    CHECK_VERDICT(&res, INGEST_REJECT, "body_too_large");
    ingest_result_deinit(&res);
    test_alipay_run(g_v, big, PS_ALIPAY_BODY_BYTES_MAX, &res);
    CHECK_VERDICT(&res, INGEST_REJECT, "bad_form");
    ingest_result_deinit(&res);
    for (int round = 0; round < 500; round++) {
        size_t len = (size_t)(round * 7) % 300;

        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            big[i] = (uint8_t)(seed >> 16);
        }
        test_alipay_run(g_v, big, len, &res);
        CHECK_INT(res.verdict, INGEST_REJECT);
        ingest_result_deinit(&res);
    }
    sim_alipay_params_default(&p);
    sim_request_init(&req);
    REQUIRE(sim_alipay_build(&g_keys, &p, &req, err, sizeof(err)) == PS_OK);
    for (size_t cut = 0; cut < req.body.len; cut++) {
        test_alipay_run(g_v, req.body.data, cut, &res);
        CHECK_INT(res.verdict, INGEST_REJECT);
        ingest_result_deinit(&res);
    }
    sim_request_deinit(&req);
    ps_free(big);
}

/* Goal: with a rotated key the previous key still verifies (its id is the
 * evidence), and a verifier without the signing key refuses. */
static void test_key_rotation(void)
{
    EVP_PKEY *other = EVP_RSA_gen(2048);
    const char *other_path = test_alipay_temp_pubkey(other);
    const char *sim_path = test_alipay_temp_pubkey(g_keys.alipay_key);
    ingest_alipay_t *rotated = NULL, *stranger = NULL;
    sim_request_t req;
    sim_alipay_params_t p;
    ingest_result_t res, direct;
    char err[512];

    REQUIRE(test_alipay_new(APP_ID, other_path, sim_path, NULL, &rotated, err, sizeof(err)) ==
            PS_OK);
    REQUIRE(test_alipay_new(APP_ID, other_path, NULL, NULL, &stranger, err, sizeof(err)) == PS_OK);
    sim_alipay_params_default(&p);
    sim_request_init(&req);
    REQUIRE(sim_alipay_build(&g_keys, &p, &req, err, sizeof(err)) == PS_OK);
    test_alipay_run(rotated, req.body.data, req.body.len, &res);
    CHECK_VERDICT(&res, INGEST_ACCEPT, NULL);
    test_alipay_run(g_v, req.body.data, req.body.len, &direct);
    CHECK_STR(res.ev.key_id, direct.ev.key_id); /* the id names the key, not its slot */
    ingest_result_deinit(&direct);
    ingest_result_deinit(&res);
    test_alipay_run(stranger, req.body.data, req.body.len, &res);
    CHECK_VERDICT(&res, INGEST_REJECT, "bad_signature");
    ingest_result_deinit(&res);
    sim_request_deinit(&req);
    ingest_alipay_destroy(stranger);
    ingest_alipay_destroy(rotated);
    EVP_PKEY_free(other);
}

/* Goal: an unconfigured channel is created disabled and refuses everything;
 * bad key configuration fails at start-up with a message naming the cause. */
static void test_config(void)
{
    EVP_PKEY *ec = EVP_EC_gen("P-256"), *small = EVP_RSA_gen(1024);
    const char *ec_path = test_alipay_temp_pubkey(ec), *small_path = test_alipay_temp_pubkey(small);
    const char *garbage = test_alipay_temp("not a key\n", 10);
    const char *good = test_alipay_temp_pubkey(g_keys.alipay_key);
    ingest_alipay_t *v = NULL;
    ingest_result_t res;
    char err[512], *pem, bare[4096];
    size_t len, n = 0;

    CHECK_INT(test_alipay_new("", "", NULL, NULL, &v, err, sizeof(err)), PS_OK);
    CHECK(!ingest_alipay_ready(v));
    test_alipay_run(v, "a=1", 3, &res);
    CHECK_VERDICT(&res, INGEST_REJECT, "channel_disabled");
    ingest_result_deinit(&res);
    ingest_alipay_destroy(v);
    CHECK(!ingest_alipay_ready(NULL));
    ingest_alipay_destroy(NULL);
    CHECK_INT(test_alipay_new("", good, NULL, NULL, &v, err, sizeof(err)), PS_ERR_CONFIG);
    CHECK_CONTAINS(err, "alipay.app_id must be set");
    CHECK_INT(test_alipay_new(APP_ID, "/nonexistent/key.pem", NULL, NULL, &v, err, sizeof(err)),
              PS_ERR_CONFIG);
    CHECK_CONTAINS(err, "/nonexistent/key.pem");
    CHECK_INT(test_alipay_new(APP_ID, garbage, NULL, NULL, &v, err, sizeof(err)), PS_ERR_CONFIG);
    CHECK_CONTAINS(err, "not a PEM or base64 public key");
    CHECK_INT(test_alipay_new(APP_ID, ec_path, NULL, NULL, &v, err, sizeof(err)), PS_ERR_CONFIG);
    CHECK_CONTAINS(err, "RSA2 needs an RSA key");
    CHECK_INT(test_alipay_new(APP_ID, small_path, NULL, NULL, &v, err, sizeof(err)), PS_ERR_CONFIG);
    CHECK_CONTAINS(err, "1024 bits");
    CHECK_INT(test_alipay_new(APP_ID, "", good, NULL, &v, err, sizeof(err)), PS_ERR_CONFIG);
    /* The console's bare base64 SPKI (PEM body without armour) is accepted. */
    pem = test_alipay_read(good, &len);
    REQUIRE(pem != NULL);
    for (char *line = strchr(pem, '\n') + 1; *line != '\0' && *line != '-'; line++)
        if (*line != '\n')
            bare[n++] = *line;
    CHECK_INT(test_alipay_new(APP_ID, test_alipay_temp(bare, n), NULL, NULL, &v, err, sizeof(err)),
              PS_OK);
    CHECK(ingest_alipay_ready(v));
    ingest_alipay_destroy(v);
    ps_free(pem);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(small);
}

/* Goal: sim_alipay_sign_pairs signs exactly what it emits, and refuses
 * parameters it cannot represent. */
static void test_sim_sign_pairs(void)
{
    sim_alipay_kv_t pairs[] = {{"notify_type", "trade_status_sync"},
                               {"app_id", APP_ID},
                               {"seller_id", SELLER_ID},
                               {"notify_id", "N-9"},
                               {"out_trade_no", "O-9"},
                               {"trade_no", "T-9"},
                               {"total_amount", "0.01"},
                               {"notify_time", "2023-11-15 06:13:20"},
                               {"trade_status", "TRADE_SUCCESS"},
                               {"passback_params", "player_id%3D42"}};
    ps_buf_t body;
    ingest_result_t res;
    char err[512];

    ps_buf_init(&body, 1 << 20);
    REQUIRE(sim_alipay_sign_pairs(g_keys.alipay_key, pairs, 10, INGEST_CHARSET_UTF8, &body, err,
                                  sizeof(err)) == PS_OK);
    test_alipay_run(g_v, body.data, body.len, &res);
    CHECK_VERDICT(&res, INGEST_ACCEPT, NULL);
    CHECK_INT(res.ev.amount_minor, 1);
    CHECK_STR(res.ev.account_id, "42");
    ingest_result_deinit(&res);
    ps_buf_reset(&body);
    pairs[1].value = "\xf0\x9f\x98\x80"; /* no GBK form */
    CHECK_INT(sim_alipay_sign_pairs(g_keys.alipay_key, pairs, 10, INGEST_CHARSET_GBK, &body, err,
                                    sizeof(err)),
              PS_ERR_INVALID);
    ps_buf_deinit(&body);
}

/* Shared by the threads of test_concurrent_verify. */
typedef struct thread_arg {
    const ps_buf_t *body;
    int accepted;
} thread_arg_t;

static void *verify_loop(void *opaque)
{
    thread_arg_t *a = opaque;

    for (int i = 0; i < 50; i++) {
        ingest_result_t res;
        ps_header_t h = {(char *)"Content-Type", (char *)"application/x-www-form-urlencoded"};
        ingest_request_t req = {.method = "POST", .path = "/v1/notify/alipay", .headers = &h,
                                .header_count = 1, .body = a->body->data,
                                .body_len = a->body->len, .now_s = 1700000000};

        if (ingest_alipay_verify(g_v, &req, &res) == PS_OK && res.verdict == INGEST_ACCEPT)
            a->accepted++;
        ingest_result_deinit(&res);
    }
    return NULL;
}

/* Goal: one verifier serves several threads at once (shared prepared
 * contexts are only copied), every verification succeeding. */
static void test_concurrent_verify(void)
{
    sim_alipay_params_t p;
    sim_request_t req;
    pthread_t threads[4];
    thread_arg_t args[4];
    char err[512];

    sim_alipay_params_default(&p);
    sim_request_init(&req);
    REQUIRE(sim_alipay_build(&g_keys, &p, &req, err, sizeof(err)) == PS_OK);
    for (int i = 0; i < 4; i++) {
        args[i] = (thread_arg_t){.body = &req.body, .accepted = 0};
        REQUIRE(pthread_create(&threads[i], NULL, verify_loop, &args[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        CHECK_INT(args[i].accepted, 50);
    }
    sim_request_deinit(&req);
}

int main(void)
{
    char err[512];

    if (sim_alipay_keys_generate(&g_keys, err, sizeof(err)) != PS_OK ||
        test_alipay_new(APP_ID, test_alipay_temp_pubkey(g_keys.alipay_key), NULL, SELLER_ID, &g_v,
                        err, sizeof(err)) != PS_OK) {
        fprintf(stderr, "setup failed: %s\n", err);
        return 1;
    }
    CHECK(ingest_alipay_ready(g_v));
    RUN(test_round_trip_payment);
    RUN(test_round_trip_kinds);
    RUN(test_round_trip_gbk);
    RUN(test_forgeries);
    RUN(test_signed_bad_fields);
    RUN(test_signed_oversized_fields);
    RUN(test_unsigned_damage);
    RUN(test_wrong_order_and_added_field);
    RUN(test_size_garbage_truncation);
    RUN(test_key_rotation);
    RUN(test_config);
    RUN(test_sim_sign_pairs);
    RUN(test_concurrent_verify);
    ingest_alipay_destroy(g_v);
    sim_alipay_keys_deinit(&g_keys);
    test_alipay_cleanup();
    return test_summary();
}
