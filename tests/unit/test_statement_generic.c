/*
 * Generic statement CSV (docs/STATEMENTS.md) and the format-independent API:
 * the documented example against its golden rows, a generated statement
 * round trip, every rejection (preamble, header, trailer, truncation, window,
 * merchant, field rules, encoding), file reading, the Shanghai day helper,
 * format names, and the CNY fast path agreeing with money.h.
 */
#include "sim_bills.h"
#include "test.h"
#include "test_statement_common.h"

#include <paystream/assert.h>
#include <paystream/money.h>
#include <unistd.h>

#define EXAMPLE "generic_example.csv"

static char errbuf[PS_ERRSTR_SIZE];

/* Goal: the documented example parses to its golden rows (three channels, JPY too). */
static void test_example_golden(void)
{
    size_t len;
    uint8_t *data = stmt_read(EXAMPLE, &len);
    char *want = stmt_expected("generic_example.expected");
    recon_stmt_meta_t meta;
    REQUIRE(data != NULL && want != NULL);
    recon_expect_t e = {.merchant_id = "M1", .has_window = true};
    REQUIRE(recon_statement_shanghai_day("2023-11-15", &e.window_start_us, &e.window_end_us,
                                         errbuf, sizeof(errbuf)) == PS_OK);
    char *got = stmt_render(RECON_FMT_GENERIC, data, len, &e, &meta, errbuf, sizeof(errbuf));
    CHECK_STR(got != NULL ? got : errbuf, want);
    ps_free(got);
    ps_free(want);
    ps_free(data);
}

/* Goal: recon_statement_parse_file reads from disk and reports a missing file. */
static void test_parse_file(void)
{
    char path[4096];
    recon_stmt_meta_t meta;
    long long n = 0;
    const char *src = getenv("PAYSTREAM_SOURCE_DIR");
    snprintf(path, sizeof(path), "%s/tests/data/statements/%s", src ? src : ".", EXAMPLE);
    CHECK_INT(recon_statement_parse_file(RECON_FMT_GENERIC, path, NULL, stmt_count, &n, &meta,
                                         errbuf, sizeof(errbuf)),
              PS_OK);
    CHECK_INT(n, 3);
    CHECK_INT(meta.rows, 3);
    CHECK_INT(recon_statement_parse_file(RECON_FMT_GENERIC, "/nonexistent/x.csv", NULL,
                                         stmt_count, &n, &meta, errbuf, sizeof(errbuf)),
              PS_ERR_IO);
    CHECK_CONTAINS(errbuf, "could not open statement \"/nonexistent/x.csv\"");
    recon_expect_t small = {.bytes_max = 100};
    CHECK_INT(recon_statement_parse_file(RECON_FMT_GENERIC, path, &small, stmt_count, &n, &meta,
                                         errbuf, sizeof(errbuf)),
              PS_ERR_TOO_LARGE);
}

/* Goal: a generated statement (and its gzip) round-trips with matching totals. */
static void test_generated_roundtrip(void)
{
    recon_expect_t e = {.merchant_id = "M9", .has_window = true};
    PS_ASSERT(recon_statement_shanghai_day("2024-02-29", &e.window_start_us, &e.window_end_us,
                                           NULL, 0) == PS_OK);
    sim_bill_synth_t syn = {.day_start_us = e.window_start_us, .rows = 5000, .refund_every = 7};
    sim_bill_params_t p = {.merchant_id = "M9", .bill_date = "2024-02-29", .rows = 5000,
                           .row_fn = sim_bills_synth_row, .opaque = &syn};
    ps_buf_t out, gz;
    recon_stmt_meta_t meta;
    long long n = 0;
    ps_buf_init(&out, 16 * 1024 * 1024);
    ps_buf_init(&gz, 16 * 1024 * 1024);
    REQUIRE(sim_bills_write_generic(&p, &out) == PS_OK);
    CHECK_INT(recon_statement_parse(RECON_FMT_GENERIC, out.data, out.len, &e, stmt_count, &n,
                                    &meta, errbuf, sizeof(errbuf)),
              PS_OK);
    CHECK_INT(n, 5000);
    CHECK_INT(meta.refund_rows, 5000 / 7);
    CHECK_STR(meta.currency, "CNY");
    REQUIRE(sim_bills_gzip(out.data, out.len, &gz) == PS_OK);
    n = 0;
    CHECK_INT(recon_statement_parse(RECON_FMT_GENERIC, gz.data, gz.len, &e, stmt_count, &n,
                                    &meta, errbuf, sizeof(errbuf)),
              PS_OK);
    CHECK_INT(n, 5000);
    ps_buf_deinit(&out);
    ps_buf_deinit(&gz);
}

/* One rejection case: the example with from replaced by to must fail with why. */
static void reject(const char *from, const char *to, const recon_expect_t *e, ps_err_t code,
                   const char *why)
{
    size_t len;
    uint8_t *data = stmt_read(EXAMPLE, &len);
    PS_ASSERT(data != NULL);
    const char *hit = strstr((const char *)data, from);
    PS_ASSERT(hit != NULL);
    ps_buf_t b;
    ps_buf_init(&b, 1 << 20);
    ps_buf_append(&b, data, (size_t)(hit - (const char *)data));
    ps_buf_append_str(&b, to);
    ps_buf_append_str(&b, hit + strlen(from));
    long long rows = -1;
    CHECK_INT(stmt_try(RECON_FMT_GENERIC, b.data, b.len, e, &rows, errbuf, sizeof(errbuf)),
              code);
    CHECK_CONTAINS(errbuf, why);
    ps_buf_deinit(&b);
    ps_free(data);
}

/* Goal: each documented rule rejects with a message naming line and problem. */
static void test_rejections(void)
{
    recon_expect_t other = {.merchant_id = "M2"};
    recon_expect_t day = {.has_window = true};
    PS_ASSERT(recon_statement_shanghai_day("2023-11-16", &day.window_start_us,
                                           &day.window_end_us, NULL, 0) == PS_OK);
    reject("#end,rows=3", "#end,rows=4", NULL, PS_ERR_INVALID,
           "line 6: trailer says 4 rows, totals 768/100, but the rows give 3, 768/100");
    reject("#end,rows=3,payment_total_minor=768,refund_total_minor=100\n", "", NULL,
           PS_ERR_INVALID, "line 6: trailer is missing (truncated statement)");
    reject("apple,payment", "apple,payment,x", NULL, PS_ERR_INVALID,
           "line 5: expected 9 fields, found 10");
    reject("channel,kind", "channel,type", NULL, PS_ERR_INVALID, "line 2: header must be");
    reject("#paystream-statement v1", "#paystream-statement v2", NULL, PS_ERR_INVALID,
           "line 1: expected \"#paystream-statement v1,merchant=");
    reject("merchant=M1", "merchant=M1", &other, PS_ERR_INVALID,
           "line 1: statement is for merchant \"M1\", expected \"M2\"");
    reject("merchant=M1", "merchant=M1", &day, PS_ERR_INVALID,
           "generic statement covers [2023-11-14T16:00:00.000000Z");
    reject("2023-11-14T22:30:00Z", "2023-11-15T16:00:00Z", NULL, PS_ERR_INVALID,
           "line 5: time is outside the statement window");
    reject(",,120,JPY", ",,120.5,JPY", NULL, PS_ERR_INVALID, "line 5: column amount");
    reject(",6.48,CNY", ",-6.48,CNY", NULL, PS_ERR_INVALID, "line 3: column amount");
    reject("120,JPY", "120,XAU", NULL, PS_ERR_INVALID, "line 5: currency is not a known");
    reject("wechat,payment", "paypal,payment", NULL, PS_ERR_INVALID,
           "line 3: channel must be wechat, alipay or apple");
    reject("alipay,refund", "alipay,chargeback", NULL, PS_ERR_INVALID,
           "line 4: kind must be payment or refund");
    reject(",R20231115000001,", ",,", NULL, PS_ERR_INVALID,
           "line 4: refund_id must be set on refund rows");
    reject(",SUCCESS\n", ",\"SUCCESS\"\n", NULL, PS_ERR_INVALID,
           "line 3: double quotes are not allowed");
    reject("G20231115061320001", "G2023\xc0\xaf", NULL, PS_ERR_INVALID, "invalid UTF-8");
    reject("+08:00,SUCCESS", "+08:00,SUCCESS\n\n", NULL, PS_ERR_INVALID,
           "line 4: expected 9 fields, found 1");
    reject("PURCHASED\n", "PURCHASED\n#end,rows=3,payment_total_minor=768,refund_total_minor=100\n"
                          "extra\n",
           NULL, PS_ERR_INVALID, "line 7: text after the trailer");
}

/* Goal: the Shanghai day helper, format names, Apple without a verifier. */
static void test_api_helpers(void)
{
    int64_t a, b;
    recon_format_t f;
    CHECK_INT(recon_statement_shanghai_day("2023-11-15", &a, &b, errbuf, sizeof(errbuf)), PS_OK);
    CHECK_INT(a, 1699977600LL * 1000000);
    CHECK_INT(b - a, 86400LL * 1000000);
    CHECK_INT(recon_statement_shanghai_day("2023-02-29", &a, &b, errbuf, sizeof(errbuf)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(errbuf, "invalid bill date \"2023-02-29\"");
    CHECK_INT(recon_statement_shanghai_day("20231115", &a, &b, errbuf, sizeof(errbuf)),
              PS_ERR_INVALID);
    CHECK_INT(recon_format_parse("alipay", &f), PS_OK);
    CHECK_INT(f, RECON_FMT_ALIPAY);
    CHECK_INT(recon_format_parse("Alipay", &f), PS_ERR_INVALID);
    CHECK_STR(recon_format_name(RECON_FMT_GENERIC), "generic");
    /* Apple needs a signed-transaction verifier (test_statement_apple.c). */
    CHECK_INT(stmt_try(RECON_FMT_APPLE, "{}", 2, NULL, NULL, errbuf, sizeof(errbuf)),
              PS_ERR_CONFIG);
}

/* Goal: the CNY fast path in the parsers gives exactly what money.h gives,
 * and refuses exactly what it refuses (checked through generic statements). */
static void test_amount_fast_path_agrees(void)
{
    const char *cases[] = {"0.00", "0.01", "6.48", "10.00", "123456789012345.67", "00.10",
                           "01.00", "1.0", "1.000", ".50", "1.", "1,00", "1e2", "-1.00",
                           "9223372036854775.807", "92233720368547758.07", "1 .00", "+1.00"};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t want = 0;
        ps_err_t want_err = ps_money_parse_decimal(cases[i], strlen(cases[i]), "CNY", &want,
                                                   NULL, 0);
        ps_buf_t b;
        ps_buf_init(&b, 4096);
        ps_buf_appendf(&b,
                       "#paystream-statement v1,merchant=M,start=2023-11-15T00:00:00Z,"
                       "end=2023-11-16T00:00:00Z\n"
                       "channel,kind,merchant_order_no,channel_txn_id,refund_id,amount,"
                       "currency,time,status\n"
                       "wechat,payment,o,t,,%s,CNY,2023-11-15T01:00:00Z,S\n"
                       "#end,rows=1,payment_total_minor=%lld,refund_total_minor=0\n",
                       cases[i], (long long)want);
        ps_err_t got = stmt_try(RECON_FMT_GENERIC, b.data, b.len, NULL, NULL, errbuf,
                                sizeof(errbuf));
        if ((got == PS_OK) != (want_err == PS_OK))
            fprintf(stderr, "amount \"%s\": parser %d, money.h %d\n", cases[i], got, want_err);
        CHECK((got == PS_OK) == (want_err == PS_OK));
        ps_buf_deinit(&b);
    }
}

int main(void)
{
    RUN(test_example_golden);
    RUN(test_parse_file);
    RUN(test_generated_roundtrip);
    RUN(test_rejections);
    RUN(test_api_helpers);
    RUN(test_amount_fast_path_agrees);
    return test_summary();
}
