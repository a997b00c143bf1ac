/*
 * Unit tests of the reconciler's pure parts: the discrepancy rules
 * (classify.c) case by case, the netting of refunds into compensations,
 * grace, deterministic command ids, PostgreSQL array literals, and the JSON
 * and HTML reports with hostile values (escaping, valid JSON, no float).
 */
#include "classify.h"
#include "commands.h"
#include "pgarr.h"
#include "recon_run.h"
#include "report.h"
#include "test.h"

#include <jansson.h>
#include <paystream/mem.h>

#define NOW_US ((int64_t)1800000000 * 1000000)
#define OLD_US (NOW_US - (int64_t)86400 * 1000000)

static recon_classify_opts_t opts = {.tolerance_minor = 0, .grace_s = 7200, .now_us = NOW_US};

static recon_pair_t stmt_pay(const char *key, int64_t amount)
{
    recon_pair_t p = {.payment_key = ps_strdup(key), .refund_id = ps_strdup(""),
                      .has_stmt = true, .stmt_amount_minor = amount, .stmt_time_us = OLD_US};
    snprintf(p.stmt_currency, sizeof(p.stmt_currency), "CNY");
    return p;
}

static void ledger(recon_pair_t *p, const char *state, int64_t amount, int64_t refunded)
{
    p->has_ledger = true;
    snprintf(p->ledger_state, sizeof(p->ledger_state), "%s", state);
    snprintf(p->ledger_currency, sizeof(p->ledger_currency), "CNY");
    p->ledger_amount_minor = amount;
    p->ledger_refunded_minor = refunded;
    p->ledger_has_paid_time = true;
    p->ledger_paid_time_us = OLD_US;
    p->account_id = ps_strdup("player-1");
}

#define EXPECT(p, cls_, act_, kind_, amount_)                                            \
    do {                                                                                 \
        recon_classify(&(p), &opts);                                                     \
        CHECK_STR(recon_class_name((p).cls), recon_class_name(cls_));                    \
        CHECK_INT((p).action, act_);                                                     \
        if ((act_) == RECON_ACT_COMMAND) {                                               \
            CHECK_INT((p).cmd_kind, kind_);                                              \
            CHECK_INT((p).cmd_amount_minor, amount_);                                    \
        }                                                                                \
        recon_pair_deinit(&(p));                                                         \
    } while (0)

/* Goal: every payment rule gives its class, action, kind and amount. */
static void test_payment_rules(void)
{
    recon_pair_t p = stmt_pay("A", 1000);
    ledger(&p, "PAID", 1000, 0);
    EXPECT(p, RECON_MATCHED, RECON_ACT_NONE, 0, 0);

    p = stmt_pay("A", 1100);
    ledger(&p, "PAID", 1000, 0);
    EXPECT(p, RECON_AMOUNT_MISMATCH, RECON_ACT_COMMAND, PS_COMMAND_ADJUST, 100);

    p = stmt_pay("A", 900);
    ledger(&p, "PARTIALLY_REFUNDED", 1000, 100);
    EXPECT(p, RECON_AMOUNT_MISMATCH, RECON_ACT_COMMAND, PS_COMMAND_ADJUST, -100);

    p = stmt_pay("A", 500);
    EXPECT(p, RECON_MISSING_IN_LEDGER, RECON_ACT_COMMAND, PS_COMMAND_COMPENSATE, 500);

    p = stmt_pay("A", 500);
    p.stmt_closed = true;
    EXPECT(p, RECON_MATCHED, RECON_ACT_NONE, 0, 0); /* closed and unknown: agree */

    p = stmt_pay("A", 500);
    p.stmt_closed = true;
    ledger(&p, "PARTIALLY_REFUNDED", 500, 200);
    EXPECT(p, RECON_STATUS_MISMATCH, RECON_ACT_COMMAND, PS_COMMAND_REVERSE, 300);

    p = (recon_pair_t){.payment_key = ps_strdup("B"), .refund_id = ps_strdup("")};
    ledger(&p, "PAID", 700, 0);
    EXPECT(p, RECON_MISSING_IN_STATEMENT, RECON_ACT_COMMAND, PS_COMMAND_REVERSE, 700);

    p = (recon_pair_t){.payment_key = ps_strdup("B"), .refund_id = ps_strdup("")};
    ledger(&p, "REFUNDED", 700, 700); /* nothing left to reverse: flag only */
    EXPECT(p, RECON_MISSING_IN_STATEMENT, RECON_ACT_NONE, 0, 0);

    p = (recon_pair_t){.payment_key = ps_strdup("B"), .refund_id = ps_strdup("")};
    ledger(&p, "REVERSED", 700, 0);
    EXPECT(p, RECON_MATCHED, RECON_ACT_NONE, 0, 0);

    p = stmt_pay("A", 500);
    snprintf(p.stmt_currency, sizeof(p.stmt_currency), "USD");
    ledger(&p, "PAID", 500, 0);
    EXPECT(p, RECON_CURRENCY_MISMATCH, RECON_ACT_NONE, 0, 0);

    p = stmt_pay("A", 500);
    ledger(&p, "PENDING", 500, 0);
    EXPECT(p, RECON_MISSING_IN_LEDGER, RECON_ACT_COMMAND, PS_COMMAND_COMPENSATE, 500);

    p = stmt_pay("A", 500);
    ledger(&p, "REVERSED", 500, 0);
    EXPECT(p, RECON_STATUS_MISMATCH, RECON_ACT_NONE, 0, 0);
}

static recon_pair_t stmt_refund(const char *key, const char *rid, int64_t amount)
{
    recon_pair_t p = stmt_pay(key, amount);
    ps_free(p.refund_id);
    p.refund_id = ps_strdup(rid);
    return p;
}

/* Goal: refund rows compare one refund id with the ledger's payment_refunds row. */
static void test_refund_rules(void)
{
    recon_pair_t p = stmt_refund("A", "R1", 300);
    ledger(&p, "PAID", 1000, 0);
    EXPECT(p, RECON_STATUS_MISMATCH, RECON_ACT_COMMAND, PS_COMMAND_ADJUST, -300);

    p = stmt_refund("A", "R1", 300);
    ledger(&p, "PARTIALLY_REFUNDED", 1000, 300);
    snprintf(p.ledger_refund_state, sizeof(p.ledger_refund_state), "POSTED");
    p.ledger_refund_minor = 300;
    EXPECT(p, RECON_MATCHED, RECON_ACT_NONE, 0, 0);

    p = stmt_refund("A", "R1", 300);
    ledger(&p, "PARTIALLY_REFUNDED", 1000, 200);
    snprintf(p.ledger_refund_state, sizeof(p.ledger_refund_state), "POSTED");
    p.ledger_refund_minor = 200;
    EXPECT(p, RECON_AMOUNT_MISMATCH, RECON_ACT_COMMAND, PS_COMMAND_ADJUST, -100);

    p = stmt_refund("A", "R1", 300);
    ledger(&p, "PAID", 1000, 0);
    snprintf(p.ledger_refund_state, sizeof(p.ledger_refund_state), "PENDING");
    EXPECT(p, RECON_STATUS_MISMATCH, RECON_ACT_NONE, 0, 0);

    p = stmt_refund("A", "R1", 300);
    EXPECT(p, RECON_MISSING_IN_LEDGER, RECON_ACT_NONE, 0, 0);
}

/* Goal: tolerance and grace boundaries are exact. */
static void test_tolerance_and_grace(void)
{
    recon_classify_opts_t tol = {.tolerance_minor = 5, .grace_s = 7200, .now_us = NOW_US};
    recon_pair_t p = stmt_pay("A", 1005);
    ledger(&p, "PAID", 1000, 0);
    recon_classify(&p, &tol);
    CHECK_INT(p.cls, RECON_MATCHED);
    recon_pair_deinit(&p);
    p = stmt_pay("A", 1006);
    ledger(&p, "PAID", 1000, 0);
    recon_classify(&p, &tol);
    CHECK_INT(p.cls, RECON_AMOUNT_MISMATCH);
    recon_pair_deinit(&p);

    p = stmt_pay("A", 500);
    p.stmt_time_us = NOW_US - (int64_t)7199 * 1000000;
    EXPECT(p, RECON_MISSING_IN_LEDGER, RECON_ACT_PENDING, 0, 0);
    p = stmt_pay("A", 500);
    p.stmt_time_us = NOW_US - (int64_t)7200 * 1000000;
    EXPECT(p, RECON_MISSING_IN_LEDGER, RECON_ACT_COMMAND, PS_COMMAND_COMPENSATE, 500);
    /* The later of the two sides' times counts. */
    p = (recon_pair_t){.payment_key = ps_strdup("B"), .refund_id = ps_strdup("")};
    ledger(&p, "PAID", 700, 0);
    p.ledger_paid_time_us = NOW_US - 60 * 1000000;
    EXPECT(p, RECON_MISSING_IN_STATEMENT, RECON_ACT_PENDING, 0, 0);
}

/* Goal: refunds of a payment missing from the ledger are netted into its compensation. */
static void test_link_nets_refunds(void)
{
    recon_pair_t pairs[4] = {stmt_pay("A", 1000), stmt_refund("A", "R1", 300),
                             stmt_refund("A", "R2", 700), stmt_refund("Z", "R9", 50)};

    for (int i = 0; i < 4; i++)
        recon_classify(&pairs[i], &opts);
    recon_classify_link(pairs, 4);
    CHECK_INT(pairs[0].action, RECON_ACT_NONE); /* 1000 - 300 - 700: nothing owed */
    CHECK_INT(pairs[1].action, RECON_ACT_NONE);
    CHECK_INT(pairs[3].action, RECON_ACT_NONE);
    for (int i = 0; i < 4; i++)
        recon_pair_deinit(&pairs[i]);

    recon_pair_t two[2] = {stmt_pay("A", 1000), stmt_refund("A", "R1", 300)};
    recon_classify(&two[0], &opts);
    recon_classify(&two[1], &opts);
    recon_classify_link(two, 2);
    CHECK_INT(two[0].action, RECON_ACT_COMMAND);
    CHECK_INT(two[0].cmd_amount_minor, 700);
    recon_pair_deinit(&two[0]);
    recon_pair_deinit(&two[1]);
}

/* Goal: command ids are 64 hex digits, stable, and change with every fact. */
static void test_command_ids(void)
{
    char a[65], b[65];
    recon_pair_t p = stmt_pay("A", 1100);

    ledger(&p, "PAID", 1000, 0);
    recon_classify(&p, &opts);
    recon_command_id(PS_CHANNEL_WECHAT, &p, a);
    recon_command_id(PS_CHANNEL_WECHAT, &p, b);
    CHECK_INT(strlen(a), 64);
    CHECK_STR(a, b);
    CHECK(strspn(a, "0123456789abcdef") == 64);
    recon_command_id(PS_CHANNEL_ALIPAY, &p, b);
    CHECK(strcmp(a, b) != 0);
    p.cmd_amount_minor = 101;
    recon_command_id(PS_CHANNEL_WECHAT, &p, b);
    CHECK(strcmp(a, b) != 0);
    recon_pair_deinit(&p);
    /* Length prefixes: moving text between key and refund id changes the id. */
    recon_pair_t x = stmt_refund("AB", "C", 1), y = stmt_refund("A", "BC", 1);
    x.cls = y.cls = RECON_STATUS_MISMATCH;
    recon_command_id(PS_CHANNEL_WECHAT, &x, a);
    recon_command_id(PS_CHANNEL_WECHAT, &y, b);
    CHECK(strcmp(a, b) != 0);
    recon_pair_deinit(&x);
    recon_pair_deinit(&y);
}

/* Goal: array literals quote every element and escape quotes and backslashes. */
static void test_pgarr(void)
{
    recon_pgarr_t a;

    recon_pgarr_init(&a, 1024);
    CHECK_INT(recon_pgarr_text(&a, "x\"y\\z"), PS_OK);
    CHECK_INT(recon_pgarr_text(&a, NULL), PS_OK);
    CHECK_INT(recon_pgarr_int(&a, -5), PS_OK);
    CHECK_STR(recon_pgarr_finish(&a), "{\"x\\\"y\\\\z\",NULL,-5}");
    recon_pgarr_deinit(&a);
    recon_pgarr_init(&a, 8);
    CHECK_INT(recon_pgarr_text(&a, "0123456789"), PS_ERR_TOO_LARGE);
    recon_pgarr_deinit(&a);
}

static void hostile_result(recon_result_t *r)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->run_id, sizeof(r->run_id), "wechat-1");
    r->outcome = RECON_OUT_DISCREPANCIES;
    snprintf(r->meta.currency, sizeof(r->meta.currency), "CNY");
    snprintf(r->meta.sha256_hex, sizeof(r->meta.sha256_hex), "%064d", 0);
    r->pairs = ps_calloc(1, sizeof(*r->pairs));
    r->pair_count = 1;
    r->pairs[0] = stmt_pay("<script>alert('x')</script>&\"", 648);
    r->pairs[0].cls = RECON_MISSING_IN_LEDGER;
    r->tally[RECON_MISSING_IN_LEDGER].rows = 1;
    r->tally[RECON_MISSING_IN_LEDGER].stmt_minor = 648;
}

/* Goal: hostile values are escaped in HTML and round-trip through valid JSON. */
static void test_reports(void)
{
    recon_result_t r;
    ps_buf_t buf;
    char errstr[256];

    hostile_result(&r);
    ps_buf_init(&buf, 1024 * 1024);
    REQUIRE(recon_report_html(&r, &buf, errstr, sizeof(errstr)) == PS_OK);
    CHECK(strstr((const char *)buf.data, "<script>") == NULL);
    CHECK_CONTAINS((const char *)buf.data, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;");
    CHECK_CONTAINS((const char *)buf.data, "<td class=\"n\">6.48</td>");
    CHECK(strstr((const char *)buf.data, "http") == NULL); /* no external resources */
    ps_buf_reset(&buf);
    REQUIRE(recon_report_json(&r, &buf, errstr, sizeof(errstr)) == PS_OK);
    json_error_t jerr;
    json_t *doc = json_loads((const char *)buf.data, 0, &jerr);
    REQUIRE(doc != NULL);
    json_t *row = json_array_get(json_object_get(doc, "rows"), 0);
    CHECK_STR(json_string_value(json_object_get(row, "payment_key")),
              "<script>alert('x')</script>&\"");
    CHECK_STR(json_string_value(json_object_get(row, "statement_amount")), "6.48");
    CHECK_INT(json_integer_value(json_object_get(row, "statement_amount_minor")), 648);
    CHECK_INT(json_integer_value(json_object_get(
                  json_object_get(json_object_get(doc, "classes"), "MISSING_IN_LEDGER"), "rows")),
              1);
    json_decref(doc);
    /* A report larger than its buffer's bound is refused, not truncated. */
    ps_buf_deinit(&buf);
    ps_buf_init(&buf, 64);
    CHECK_INT(recon_report_html(&r, &buf, errstr, sizeof(errstr)), PS_ERR_TOO_LARGE);
    ps_buf_deinit(&buf);
    recon_result_deinit(&r);
}

int main(void)
{
    RUN(test_payment_rules);
    RUN(test_refund_rules);
    RUN(test_tolerance_and_grace);
    RUN(test_link_nets_refunds);
    RUN(test_command_ids);
    RUN(test_pgarr);
    RUN(test_reports);
    return test_summary();
}
