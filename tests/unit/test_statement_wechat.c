/*
 * WeChat trade bill parser: the conformance bill B1 (plain and gzip) against
 * its golden rows, every rejection the reconciler relies on (truncation,
 * altered totals, wrong encoding, wrong columns, foreign merchant or day,
 * oversized lines, gzip bombs, garbage), and the parse rate of a generated
 * 1,000,000-row bill (printed, not asserted).
 */
#include "sim_bills.h"
#include "test.h"
#include "test_statement_common.h"

#include <openssl/evp.h>
#include <paystream/assert.h>
#include <paystream/limits.h>
#include <time.h>
#include <zlib.h>

#define B1 "wechat_B1_ALL_2023-11-15.csv"

static char errbuf[PS_ERRSTR_SIZE];

static recon_expect_t day_expect(const char *merchant, const char *date)
{
    recon_expect_t e = {.merchant_id = merchant, .has_window = true};
    PS_ASSERT(recon_statement_shanghai_day(date, &e.window_start_us, &e.window_end_us, NULL, 0) ==
              PS_OK);
    return e;
}

/* Replaces the first occurrence of from with to in a copy of data (owned). */
static char *replace(const uint8_t *data, size_t len, const char *from, const char *to,
                     size_t *out_len)
{
    const char *hit = strstr((const char *)data, from);
    PS_ASSERT(hit != NULL);
    size_t pre = (size_t)(hit - (const char *)data), fl = strlen(from), tl = strlen(to);
    char *out = ps_malloc(len - fl + tl + 1);
    memcpy(out, data, pre);
    memcpy(out + pre, to, tl);
    memcpy(out + pre + tl, hit + fl, len - pre - fl);
    *out_len = len - fl + tl;
    out[*out_len] = 0;
    return out;
}

/* Goal: B1 parses to exactly the hand-derived rows and meta, with the digest of the bytes. */
static void test_b1_golden(void)
{
    size_t len;
    uint8_t *data = stmt_read(B1, &len);
    char *want = stmt_expected("wechat_B1.expected");
    recon_stmt_meta_t meta;
    REQUIRE(data != NULL && want != NULL);
    recon_expect_t e = day_expect("1230000109", "2023-11-15");
    char *got = stmt_render(RECON_FMT_WECHAT, data, len, &e, &meta, errbuf, sizeof(errbuf));
    CHECK_STR(errbuf[0] && !got ? errbuf : got, want);
    /* SHA-256 of the bytes as given identifies the statement. */
    unsigned char md[32];
    char hex[65];
    EVP_Digest(data, len, md, NULL, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    CHECK_STR(meta.sha256_hex, hex);
    CHECK_INT(meta.content_bytes, len);
    ps_free(got);
    /* Without expectations the day and merchant come from the rows. */
    got = stmt_render(RECON_FMT_WECHAT, data, len, NULL, &meta, errbuf, sizeof(errbuf));
    CHECK_STR(got, want);
    ps_free(got);
    ps_free(want);
    ps_free(data);
}

/* Goal: the gzip form gives the same rows; its digest differs (bytes as received). */
static void test_b1_gzip(void)
{
    size_t len, plain_len;
    uint8_t *data = stmt_read(B1 ".gz", &len), *plain = stmt_read(B1, &plain_len);
    char *want = stmt_expected("wechat_B1.expected");
    recon_stmt_meta_t meta, plain_meta;
    REQUIRE(data != NULL && want != NULL && plain != NULL);
    char *got = stmt_render(RECON_FMT_WECHAT, data, len, NULL, &meta, errbuf, sizeof(errbuf));
    CHECK_STR(got, want);
    CHECK_INT(meta.content_bytes, plain_len);
    ps_free(stmt_render(RECON_FMT_WECHAT, plain, plain_len, NULL, &plain_meta, errbuf,
                        sizeof(errbuf)));
    CHECK(strcmp(meta.sha256_hex, plain_meta.sha256_hex) != 0);
    ps_free(got);
    ps_free(want);
    ps_free(data);
    ps_free(plain);
}

/* Goal: a BOM and LF line ends are accepted; the rows are the same. */
static void test_bom_and_lf(void)
{
    size_t len;
    uint8_t *data = stmt_read(B1, &len);
    char *want = stmt_expected("wechat_B1.expected");
    REQUIRE(data != NULL && want != NULL);
    char *lf = ps_malloc(len + 4);
    size_t n = 0;
    memcpy(lf, "\xEF\xBB\xBF", 3);
    n = 3;
    for (size_t i = 0; i < len; i++)
        if (data[i] != '\r')
            lf[n++] = (char)data[i];
    recon_stmt_meta_t meta;
    char *got = stmt_render(RECON_FMT_WECHAT, (uint8_t *)lf, n, NULL, &meta, errbuf,
                            sizeof(errbuf));
    CHECK_STR(got, want);
    ps_free(got);
    ps_free(lf);
    ps_free(want);
    ps_free(data);
}

/* Goal: a REFUND bill (29 columns) places its refund rows by 退款申请时间,
 * not by the payment time its 交易时间 keeps. */
static void test_refund_bill(void)
{
    const char *bill =
        "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
        "交易状态,付款银行,货币种类,应结订单金额,代金券金额,退款申请时间,退款成功时间,"
        "微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,"
        "商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\r\n"
        "`2023-11-14 10:00:00,`wx1,`1230000109,`0,`,`4200000000000000000000000001,`G1,`oid,"
        "`APP,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`2023-11-15 21:00:00,`2023-11-15 21:00:05,"
        "`50300000000000000000000000001,`R1,`6.48,`0.00,`ORIGINAL,`SUCCESS,`goods,`,`0.00,"
        "`0.60%,`0.00,`6.48,`\r\n"
        "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,"
        "申请退款总金额\r\n"
        "`1,`0.00,`6.48,`0.00,`0.00,`0.00,`6.48\r\n";
    recon_expect_t e = day_expect("1230000109", "2023-11-15");
    recon_stmt_meta_t meta;
    char *got = stmt_render(RECON_FMT_WECHAT, (const uint8_t *)bill, strlen(bill), &e, &meta,
                            errbuf, sizeof(errbuf));
    CHECK_STR(got != NULL ? got : errbuf,
              "row line=2 channel=WECHAT kind=refund order=G1 txn=4200000000000000000000000001 "
              "refund=50300000000000000000000000001 amount_minor=648 currency=CNY "
              "time=2023-11-15T13:00:00.000000Z status=REFUND refund_status=SUCCESS\n"
              "meta merchant=1230000109 window=2023-11-14T16:00:00.000000Z/"
              "2023-11-15T16:00:00.000000Z rows=1 payments=0 refunds=1 payment_total_minor=0 "
              "refund_total_minor=648 currency=CNY\n");
    ps_free(got);
}

/* Goal: another merchant or another day than expected is refused before success. */
static void test_foreign_merchant_and_day(void)
{
    size_t len;
    long long rows;
    uint8_t *data = stmt_read(B1, &len);
    REQUIRE(data != NULL);
    recon_expect_t e = day_expect("1230000110", "2023-11-15");
    CHECK_INT(stmt_try(RECON_FMT_WECHAT, data, len, &e, &rows, errbuf, sizeof(errbuf)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(errbuf, "line 2: statement is for merchant \"1230000109\", expected "
                           "\"1230000110\"");
    CHECK_INT(rows, 0);
    e = day_expect("1230000109", "2023-11-16");
    CHECK_INT(stmt_try(RECON_FMT_WECHAT, data, len, &e, &rows, errbuf, sizeof(errbuf)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(errbuf, "line 2: trade time \"2023-11-15 06:13:19\" is outside the bill day");
    /* A row of another day inside the bill (no expectation): refused too. */
    size_t n;
    char *moved = replace(data, len, "`2023-11-15 21:00:00", "`2023-11-16 00:00:00", &n);
    CHECK_INT(stmt_try(RECON_FMT_WECHAT, moved, n, NULL, NULL, errbuf, sizeof(errbuf)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(errbuf, "line 3: trade time");
    ps_free(moved);
    ps_free(data);
}

/* Goal: truncation (summary missing, a row missing, cut mid-line) is detected. */
static void test_truncated(void)
{
    size_t len;
    uint8_t *data = stmt_read(B1, &len);
    REQUIRE(data != NULL);
    const char *text = (const char *)data;
    const char *summary = strstr(text, "总交易单数");
    const char *values = strstr(text, "\r\n`2,") + 2;
    REQUIRE(summary != NULL);
    CHECK_INT(stmt_try(RECON_FMT_WECHAT, data, (size_t)(values - text), NULL, NULL, errbuf,
                       sizeof(errbuf)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(errbuf, "line 5: summary values line is missing (truncated bill)");
    CHECK_INT(stmt_try(RECON_FMT_WECHAT, data, (size_t)(summary - text), NULL, NULL, errbuf,
                       sizeof(errbuf)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(errbuf, "summary lines are missing (truncated bill)");
    /* Cut in the middle of the refund row. */
    const char *refund = strstr(text, "`2023-11-15 21:00:00");
    CHECK_INT(stmt_try(RECON_FMT_WECHAT, data, (size_t)(refund - text) + 40, NULL, NULL, errbuf,
                       sizeof(errbuf)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(errbuf, "line 3: expected 27 fields, found 2");
    /* The refund row dropped, summary kept. */
    const char *after = strstr(refund, "\r\n") + 2;
    size_t n = (size_t)(refund - text);
    char *cut = ps_malloc(len);
    memcpy(cut, text, n);
    memcpy(cut + n, after, len - (size_t)(after - text));
    n += len - (size_t)(after - text);
    CHECK_INT(stmt_try(RECON_FMT_WECHAT, cut, n, NULL, NULL, errbuf, sizeof(errbuf)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(errbuf, "summary says 2 records but the bill has 1");
    ps_free(cut);
    ps_free(data);
}

/* Goal: a row whose amount was altered no longer matches the summary totals. */
static void test_altered_totals(void)
{
    size_t len, n;
    uint8_t *data = stmt_read(B1, &len);
    REQUIRE(data != NULL);
    char *alt = replace(data, len, "`0.60%,`6.48,", "`0.60%,`6.49,", &n);
    CHECK_INT(stmt_try(RECON_FMT_WECHAT, alt, n, NULL, NULL, errbuf, sizeof(errbuf)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(errbuf, "summary 订单总金额 is 6.48 but the rows add up to 6.49");
    ps_free(alt);
    alt = replace(data, len, "`2,`6.48", "`2,`6.47", &n);
    CHECK_INT(stmt_try(RECON_FMT_WECHAT, alt, n, NULL, NULL, errbuf, sizeof(errbuf)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(errbuf, "summary 应结订单总金额 is 6.47");
    ps_free(alt);
    /* A fractional fen in an order amount is refused, not rounded. */
    alt = replace(data, len, "`CNY,`6.48", "`CNY,`6.485", &n);
    CHECK_INT(stmt_try(RECON_FMT_WECHAT, alt, n, NULL, NULL, errbuf, sizeof(errbuf)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(errbuf, "line 2: column 应结订单金额");
    ps_free(alt);
    ps_free(data);
}

/* Goal: invalid UTF-8 (including a GBK-encoded bill) is refused with its line. */
static void test_wrong_encoding(void)
{
    size_t len, n;
    uint8_t *data = stmt_read(B1, &len);
    REQUIRE(data != NULL);
    char *bad = replace(data, len, "648钻石", "648\xff\xfe", &n);
    CHECK_INT(stmt_try(RECON_FMT_WECHAT, bad, n, NULL, NULL, errbuf, sizeof(errbuf)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(errbuf, "line 2: invalid UTF-8 at byte offset");
    ps_free(bad);
    /* 交易时间 in GBK: the header itself is not UTF-8. */
    bad = replace(data, len, "交易时间", "\xbd\xbb\xd2\xd7\xca\xb1\xbc\xe4", &n);
    CHECK_INT(stmt_try(RECON_FMT_WECHAT, bad, n, NULL, NULL, errbuf, sizeof(errbuf)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(errbuf, "line 1: invalid UTF-8");
    ps_free(bad);
    ps_free(data);
}

/* Goal: unknown or missing columns and wrong field counts are refused. */
static void test_wrong_columns(void)
{
    size_t len, n;
    uint8_t *data = stmt_read(B1, &len);
    REQUIRE(data != NULL);
    char *bad = replace(data, len, "费率备注", "备注", &n);
    CHECK_INT(stmt_try(RECON_FMT_WECHAT, bad, n, NULL, NULL, errbuf, sizeof(errbuf)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(errbuf, "line 1: unknown column \"备注\"");
    ps_free(bad);
    bad = replace(data, len, "费率备注", "商户号", &n);
    CHECK_INT(stmt_try(RECON_FMT_WECHAT, bad, n, NULL, NULL, errbuf, sizeof(errbuf)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(errbuf, "line 1: duplicate column \"商户号\"");
    ps_free(bad);
    bad = replace(data, len, "商户号,", "", &n);
    CHECK_INT(stmt_try(RECON_FMT_WECHAT, bad, n, NULL, NULL, errbuf, sizeof(errbuf)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(errbuf, "line 1: header lacks a required column");
    ps_free(bad);
    bad = replace(data, len, "`OTHERS,", "", &n);
    CHECK_INT(stmt_try(RECON_FMT_WECHAT, bad, n, NULL, NULL, errbuf, sizeof(errbuf)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(errbuf, "line 2: expected 27 fields, found 26");
    ps_free(bad);
    /* A fund-flow bill is not a trade bill. */
    const char *fund = "记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型\r\n";
    CHECK_INT(stmt_try(RECON_FMT_WECHAT, fund, strlen(fund), NULL, NULL, errbuf, sizeof(errbuf)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(errbuf, "unknown column \"记账时间\"");
    ps_free(data);
}

/* Goal: oversized lines, garbage and empty input give errors, never a crash. */
static void test_hostile(void)
{
    size_t big = PS_RECON_LINE_BYTES_MAX + 100;
    char *line = ps_malloc(big + 1);
    memset(line, 'a', big);
    line[big] = 0;
    CHECK_INT(stmt_try(RECON_FMT_WECHAT, line, big, NULL, NULL, errbuf, sizeof(errbuf)),
              PS_ERR_TOO_LARGE);
    CHECK_CONTAINS(errbuf, "PS_RECON_LINE_BYTES_MAX");
    ps_free(line);
    CHECK_INT(stmt_try(RECON_FMT_WECHAT, "", 0, NULL, NULL, errbuf, sizeof(errbuf)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(errbuf, "empty");
    unsigned seed = 12345;
    uint8_t junk[4096];
    for (int round = 0; round < 200; round++) {
        for (size_t i = 0; i < sizeof(junk); i++) {
            seed = seed * 1103515245u + 12345u;
            junk[i] = (uint8_t)(seed >> 16);
        }
        if (round % 2)
            junk[0] = 0x1f, junk[1] = 0x8b; /* pretend gzip */
        CHECK(stmt_try(RECON_FMT_WECHAT, junk, sizeof(junk), NULL, NULL, errbuf,
                       sizeof(errbuf)) != PS_OK);
    }
}

/* Builds a gzip of n zero bytes (a bomb: about 1000:1). */
static uint8_t *gzip_zeros(size_t n, size_t *out_len)
{
    uint8_t *zeros = ps_calloc(1, n);
    ps_buf_t out;
    ps_buf_init(&out, n);
    PS_ASSERT(sim_bills_gzip(zeros, n, &out) == PS_OK);
    ps_free(zeros);
    return ps_buf_steal(&out, out_len);
}

/* Goal: gzip bombs stop at the bound; truncated or corrupt gzip is refused. */
static void test_gzip_bounds(void)
{
    size_t len, zlen, blen;
    uint8_t *gz = stmt_read(B1 ".gz", &len);
    REQUIRE(gz != NULL);
    CHECK_INT(stmt_try(RECON_FMT_WECHAT, gz, len - 5, NULL, NULL, errbuf, sizeof(errbuf)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(errbuf, "truncated gzip statement");
    gz[len / 2] ^= 0x55;
    CHECK(stmt_try(RECON_FMT_WECHAT, gz, len, NULL, NULL, errbuf, sizeof(errbuf)) != PS_OK);
    ps_free(gz);
    uint8_t *bomb = gzip_zeros(8 * 1024 * 1024, &zlen);
    recon_expect_t e = {.bytes_max = 1024 * 1024};
    CHECK_INT(stmt_try(RECON_FMT_WECHAT, bomb, zlen, &e, NULL, errbuf, sizeof(errbuf)),
              PS_ERR_TOO_LARGE);
    CHECK_CONTAINS(errbuf, "inflates to more than 1048576 bytes");
    /* Exactly at the bound is fine for gunzip itself. */
    uint8_t *plain = NULL;
    CHECK_INT(recon_statement_gunzip(bomb, zlen, 8 * 1024 * 1024, &plain, &blen, errbuf,
                                     sizeof(errbuf)),
              PS_OK);
    CHECK_INT(blen, 8 * 1024 * 1024);
    ps_free(plain);
    ps_free(bomb);
}

static ps_err_t stop_at_second(const recon_row_t *r, void *opaque, char *errstr,
                               size_t errstr_size)
{
    (void)opaque;
    if (r->line_no == 3)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_PG, "staging failed");
    return PS_OK;
}

/* Goal: the callback's error stops the parse and is returned as is. */
static void test_callback_error(void)
{
    size_t len;
    uint8_t *data = stmt_read(B1, &len);
    REQUIRE(data != NULL);
    CHECK_INT(recon_statement_parse(RECON_FMT_WECHAT, data, len, NULL, stop_at_second, NULL, NULL,
                                    errbuf, sizeof(errbuf)),
              PS_ERR_PG);
    CHECK_STR(errbuf, "staging failed");
    ps_free(data);
}

/* Goal: a generated bill round-trips (generator and parser agree), and the
 * parse rate of 1,000,000 rows is printed for the report. */
static void test_generated_million(void)
{
    size_t rows = 1000000;
    sim_bill_synth_t syn = {.rows = rows, .refund_every = 1000, .prefix = "P"};
    recon_expect_t e = day_expect("1230000109", "2023-11-15");
    syn.day_start_us = e.window_start_us;
    sim_bill_params_t p = {.merchant_id = "1230000109", .bill_date = "2023-11-15",
                           .rows = rows, .row_fn = sim_bills_synth_row, .opaque = &syn};
    ps_buf_t bill;
    struct timespec t0, t1, t2, c1, c2;
    long long n = 0;
    recon_stmt_meta_t meta;

    ps_buf_init(&bill, PS_RECON_STATEMENT_BYTES_MAX);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    REQUIRE(sim_bills_write_wechat(&p, &bill) == PS_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    ps_err_t err = recon_statement_parse(RECON_FMT_WECHAT, bill.data, bill.len, &e, stmt_count,
                                         &n, &meta, errbuf, sizeof(errbuf));
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c2);
    clock_gettime(CLOCK_MONOTONIC, &t2);
    CHECK_INT(err, PS_OK);
    if (err != PS_OK)
        fprintf(stderr, "%s\n", errbuf);
    CHECK_INT(n, rows);
    CHECK_INT(meta.refund_rows, rows / 1000);
    /* Timing only, in integer milliseconds (no floating point in the code base). */
    int64_t gen_ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    int64_t parse_ms = (t2.tv_sec - t1.tv_sec) * 1000 + (t2.tv_nsec - t1.tv_nsec) / 1000000;
    int64_t cpu_ms = (c2.tv_sec - c1.tv_sec) * 1000 + (c2.tv_nsec - c1.tv_nsec) / 1000000;
    printf("wechat bill: %zu rows, %zu bytes: generated in %lld ms, parsed in %lld ms wall "
           "(%lld ms cpu, %lld rows/s wall)\n",
           rows, bill.len, (long long)gen_ms, (long long)parse_ms, (long long)cpu_ms,
           (long long)(parse_ms > 0 ? (int64_t)rows * 1000 / parse_ms : 0));
    ps_buf_deinit(&bill);
}

int main(void)
{
    RUN(test_b1_golden);
    RUN(test_b1_gzip);
    RUN(test_bom_and_lf);
    RUN(test_refund_bill);
    RUN(test_foreign_merchant_and_day);
    RUN(test_truncated);
    RUN(test_altered_totals);
    RUN(test_wrong_encoding);
    RUN(test_wrong_columns);
    RUN(test_hostile);
    RUN(test_gzip_bounds);
    RUN(test_callback_error);
    RUN(test_generated_million);
    return test_summary();
}
