/*
 * Data-file cases for the Alipay verifier (tests/data/alipay): each
 * NAME.form body, signed outside paystream with the key in NAME.pub.pem, must
 * normalize to exactly the fields listed in NAME.expect. These guard the
 * verifier independently of the simulator, which shares its string-to-sign
 * code, and pin the GBK path (GBK subject and account, GBK passback_params).
 */
#include "test_alipay_common.h"

#include <paystream/avro.h>

/* Compares one `key=value` expectation with the result; false if unknown key. */
static bool check_field(const ingest_result_t *res, const char *key, const char *value)
{
    const ps_callback_event_t *ev = &res->ev;
    char num[32];

    if (strcmp(key, "verdict") == 0)
        CHECK_STR(res->verdict == INGEST_ACCEPT ? "ACCEPT" : "NOT_ACCEPT", value);
    else if (strcmp(key, "kind") == 0)
        CHECK_STR(ps_event_kind_name(ev->kind), value);
    else if (strcmp(key, "channel_event_type") == 0)
        CHECK_STR(ev->channel_event_type, value);
    else if (strcmp(key, "channel_event_id") == 0)
        CHECK_STR(ev->channel_event_id, value);
    else if (strcmp(key, "merchant_order_no") == 0)
        CHECK_STR(ev->merchant_order_no, value);
    else if (strcmp(key, "channel_txn_id") == 0)
        CHECK_STR(ev->channel_txn_id, value);
    else if (strcmp(key, "currency") == 0)
        CHECK_STR(ev->currency, value);
    else if (strcmp(key, "account_id") == 0)
        CHECK_STR(ev->account_id, value);
    else {
        int64_t n = strcmp(key, "amount_minor") == 0    ? ev->amount_minor
                    : strcmp(key, "event_time_us") == 0 ? ev->event_time_us
                    : strcmp(key, "paid_time_us") == 0  ? ev->paid_time_us
                                                        : INT64_MIN;
        if (n == INT64_MIN)
            return false;
        snprintf(num, sizeof(num), "%" PRId64, n);
        CHECK_STR(num, value);
    }
    return true;
}

/* Runs NAME.form through a verifier with the given identity and NAME.expect. */
static void run_case(const char *name, const char *app_id, const char *seller_id)
{
    const char *src = getenv("PAYSTREAM_SOURCE_DIR");
    char path[4096], err[512], *body, *expect, *line, *next;
    size_t len, expect_len, checked = 0;
    ingest_alipay_t *v = NULL;
    ingest_result_t res;

    snprintf(path, sizeof(path), "%s/tests/data/alipay/%s.pub.pem", src ? src : ".", name);
    REQUIRE(test_alipay_new(app_id, path, NULL, seller_id, &v, err, sizeof(err)) == PS_OK);
    snprintf(path, sizeof(path), "%s/tests/data/alipay/%s.form", src ? src : ".", name);
    body = test_alipay_read(path, &len);
    snprintf(path, sizeof(path), "%s/tests/data/alipay/%s.expect", src ? src : ".", name);
    expect = test_alipay_read(path, &expect_len);
    REQUIRE(body != NULL && expect != NULL);
    test_alipay_run(v, body, len, &res);
    if (res.verdict != INGEST_ACCEPT)
        fprintf(stderr, "%s: %s: %s\n", name, res.reason_label, res.reason);
    CHECK_INT(ps_avro_validate_callback_event(&res.ev, err, sizeof(err)), PS_OK);
    for (line = expect; line != NULL && *line != '\0'; line = next) {
        char *eq;

        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        eq = strchr(line, '=');
        if (line[0] == '#' || eq == NULL)
            continue;
        *eq = '\0';
        CHECK(check_field(&res, line, eq + 1));
        checked++;
    }
    CHECK(checked >= 10);
    ingest_result_deinit(&res);
    ps_free(expect);
    ps_free(body);
    ingest_alipay_destroy(v);
}

/* Goal: the independently signed GBK payment normalizes to its .expect. */
static void test_gbk_payment(void)
{
    run_case("gbk_payment", "2021000000000077", "2088000000000077");
}

int main(void)
{
    RUN(test_gbk_payment);
    test_alipay_cleanup();
    return test_summary();
}
