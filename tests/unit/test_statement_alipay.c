/*
 * Alipay trade bill parser: the conformance bill B1 (GBK CSV and the zip with
 * a GBK entry name) against its golden rows, a generated bill round trip,
 * and the rejections: truncation, altered footer totals, invalid GBK, wrong
 * columns, foreign merchant or day, and hostile zips (too many entries, path
 * names, bombs, no detail entry, corrupt archive).
 */
#include "sim_bills.h"
#include "test.h"
#include "test_statement_common.h"

#include <paystream/assert.h>
#include <paystream/limits.h>
#include <zip.h>

#define B1_CSV "alipay_B1_detail.csv"
#define B1_ZIP "alipay_B1_2088000000000001_20231115.csv.zip"
#define DETAIL_GBK "2088000000000001_20231115_\xd2\xb5\xce\xf1\xc3\xf7\xcf\xb8.csv"

static char errbuf[PS_ERRSTR_SIZE];

static recon_expect_t day_expect(const char *merchant, const char *date)
{
    recon_expect_t e = {.merchant_id = merchant, .has_window = true};
    PS_ASSERT(recon_statement_shanghai_day(date, &e.window_start_us, &e.window_end_us, NULL, 0) ==
              PS_OK);
    return e;
}

/* Copy of data with the first `from` replaced by `to` (owned). */
static char *replace(const uint8_t *data, size_t len, const char *from, const char *to,
                     size_t *out_len)
{
    const char *hit = NULL;
    size_t fl = strlen(from), tl = strlen(to);
    for (size_t i = 0; i + fl <= len && hit == NULL; i++)
        if (memcmp(data + i, from, fl) == 0)
            hit = (const char *)data + i;
    PS_ASSERT(hit != NULL);
    size_t pre = (size_t)(hit - (const char *)data);
    char *out = ps_malloc(len - fl + tl + 1);
    memcpy(out, data, pre);
    memcpy(out + pre, to, tl);
    memcpy(out + pre + tl, hit + fl, len - pre - fl);
    *out_len = len - fl + tl;
    out[*out_len] = 0;
    return out;
}

/* A zip of n entries (names raw, contents given) in memory (owned). */
static uint8_t *make_zip(const char *const *names, const uint8_t *const *datas,
                         const size_t *lens, int n, size_t *out_len)
{
    zip_error_t zerr;
    zip_error_init(&zerr);
    zip_source_t *mem = zip_source_buffer_create(NULL, 0, 0, &zerr);
    zip_source_keep(mem);
    zip_t *za = zip_open_from_source(mem, ZIP_TRUNCATE, &zerr);
    PS_ASSERT(za != NULL);
    for (int i = 0; i < n; i++) {
        zip_source_t *f = zip_source_buffer(za, datas[i], lens[i], 0);
        PS_ASSERT(zip_file_add(za, names[i], f, ZIP_FL_ENC_GUESS) >= 0);
    }
    PS_ASSERT(zip_close(za) == 0);
    zip_stat_t st;
    PS_ASSERT(zip_source_stat(mem, &st) == 0 && zip_source_open(mem) == 0);
    uint8_t *out = ps_malloc(st.size + 1);
    PS_ASSERT(zip_source_read(mem, out, st.size) == (zip_int64_t)st.size);
    zip_source_close(mem);
    zip_source_free(mem);
    *out_len = st.size;
    return out;
}

/* Goal: B1 as GBK CSV and as zip gives the hand-derived rows and meta. */
static void test_b1_golden(void)
{
    size_t len, zlen;
    uint8_t *csv = stmt_read(B1_CSV, &len), *zip = stmt_read(B1_ZIP, &zlen);
    char *want = stmt_expected("alipay_B1.expected");
    recon_stmt_meta_t meta;
    REQUIRE(csv != NULL && zip != NULL && want != NULL);
    recon_expect_t e = day_expect("2088000000000001", "2023-11-15");
    char *got = stmt_render(RECON_FMT_ALIPAY, csv, len, &e, &meta, errbuf, sizeof(errbuf));
    CHECK_STR(got != NULL ? got : errbuf, want);
    CHECK_INT(meta.content_bytes, len);
    ps_free(got);
    got = stmt_render(RECON_FMT_ALIPAY, zip, zlen, &e, &meta, errbuf, sizeof(errbuf));
    CHECK_STR(got != NULL ? got : errbuf, want);
    CHECK_INT(meta.content_bytes, len);
    ps_free(got);
    ps_free(want);
    ps_free(csv);
    ps_free(zip);
}

/* Goal: the generator's zip (GBK name, no UTF-8 flag) round-trips through the parser. */
static void test_generated_roundtrip(void)
{
    recon_expect_t e = day_expect("2088000000000001", "2023-11-15");
    sim_bill_synth_t syn = {.day_start_us = e.window_start_us, .rows = 1000, .refund_every = 4,
                            .prefix = "A"};
    sim_bill_params_t p = {.merchant_id = "2088000000000001", .bill_date = "2023-11-15",
                           .rows = 1000, .row_fn = sim_bills_synth_row, .opaque = &syn};
    ps_buf_t zip;
    recon_stmt_meta_t meta;
    long long n = 0;
    ps_buf_init(&zip, 16 * 1024 * 1024);
    REQUIRE(sim_bills_write_alipay_zip(&p, &zip) == PS_OK);
    CHECK_INT(recon_statement_parse(RECON_FMT_ALIPAY, zip.data, zip.len, &e, stmt_count, &n,
                                    &meta, errbuf, sizeof(errbuf)),
              PS_OK);
    CHECK_STR(errbuf[0] ? errbuf : "", "");
    CHECK_INT(n, 1000);
    CHECK_INT(meta.refund_rows, 250);
    CHECK_STR(meta.merchant_id, "2088000000000001");
    ps_buf_deinit(&zip);
}

/* Goal: another pid or another day than expected is refused. */
static void test_foreign_merchant_and_day(void)
{
    size_t len;
    uint8_t *zip = stmt_read(B1_ZIP, &len);
    REQUIRE(zip != NULL);
    recon_expect_t e = day_expect("2088000000000002", "2023-11-15");
    CHECK_INT(stmt_try(RECON_FMT_ALIPAY, zip, len, &e, NULL, errbuf, sizeof(errbuf)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(errbuf, "line 2: statement is for merchant \"2088000000000001\"");
    e = day_expect("2088000000000001", "2023-11-14");
    CHECK_INT(stmt_try(RECON_FMT_ALIPAY, zip, len, &e, NULL, errbuf, sizeof(errbuf)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(errbuf, "alipay bill covers [2023-11-14T16:00:00.000000Z");
    ps_free(zip);
}

/* Goal: a bill cut short, missing a row or with an altered footer is refused. */
static void test_truncated_and_altered(void)
{
    size_t len, n;
    uint8_t *csv = stmt_read(B1_CSV, &len);
    REQUIRE(csv != NULL);
    /* Cut before the end-of-list line: "#---" of the footer starts after the refund row. */
    const char *refund_end = NULL;
    for (size_t i = 0; i + 20 < len; i++)
        if (memcmp(csv + i, "R20231115000001", 15) == 0)
            refund_end = strstr((const char *)csv + i, "\r\n") + 2;
    REQUIRE(refund_end != NULL);
    CHECK_INT(stmt_try(RECON_FMT_ALIPAY, csv, (size_t)(refund_end - (const char *)csv), NULL,
                       NULL, errbuf, sizeof(errbuf)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(errbuf, "is missing (truncated bill)");
    CHECK_INT(stmt_try(RECON_FMT_ALIPAY, csv, (size_t)(refund_end - (const char *)csv) - 30, NULL,
                       NULL, errbuf, sizeof(errbuf)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(errbuf, "line 7: expected 25 fields");
    /* Footer count altered: "1笔" of the refund total becomes "2笔" (GBK 笔 = b1 ca). */
    char *alt = replace(csv, len, "\xa3\xba" "1\xb1\xca\xa3\xac\xc9\xcc\xbc\xd2\xca\xb5\xca\xd5\xcd\xcb",
                        "\xa3\xba" "2\xb1\xca\xa3\xac\xc9\xcc\xbc\xd2\xca\xb5\xca\xd5\xcd\xcb", &n);
    CHECK_INT(stmt_try(RECON_FMT_ALIPAY, alt, n, NULL, NULL, errbuf, sizeof(errbuf)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(errbuf, "footer says 2 refund rows totalling -100 fen, the rows give 1");
    ps_free(alt);
    /* A row amount altered: the payment's 商家实收 no longer matches the footer. */
    alt = replace(csv, len, ",6.48,6.48,", ",6.48,6.49,", &n);
    CHECK_INT(stmt_try(RECON_FMT_ALIPAY, alt, n, NULL, NULL, errbuf, sizeof(errbuf)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(errbuf, "footer says 1 trade rows totalling 648 fen, the rows give 1 "
                           "totalling 649");
    ps_free(alt);
    ps_free(csv);
}

/* Goal: invalid GBK, unknown columns, wrong field counts, unknown types are refused. */
static void test_encoding_and_columns(void)
{
    size_t len, n;
    uint8_t *csv = stmt_read(B1_CSV, &len);
    REQUIRE(csv != NULL);
    char *bad = replace(csv, len, "G20231115061320002", "G2023111506132\xff\x80", &n);
    CHECK_INT(stmt_try(RECON_FMT_ALIPAY, bad, n, NULL, NULL, errbuf, sizeof(errbuf)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(errbuf, "line 6: invalid GBK at byte offset");
    ps_free(bad);
    bad = replace(csv, len, ",abc***@example.com\t,6.48", ",6.48", &n);
    CHECK_INT(stmt_try(RECON_FMT_ALIPAY, bad, n, NULL, NULL, errbuf, sizeof(errbuf)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(errbuf, "line 6: expected 25 fields, found 24");
    ps_free(bad);
    bad = replace(csv, len, "\xb1\xb8\xd7\xa2\r\n", "X\r\n", &n); /* 备注 -> X */
    CHECK_INT(stmt_try(RECON_FMT_ALIPAY, bad, n, NULL, NULL, errbuf, sizeof(errbuf)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(errbuf, "line 5: unknown column \"X\"");
    ps_free(bad);
    /* 备注 -> 业务类型, which the header already has: ambiguous, refused. */
    bad = replace(csv, len, "\xb1\xb8\xd7\xa2\r\n", "\xd2\xb5\xce\xf1\xc0\xe0\xd0\xcd\r\n", &n);
    CHECK_INT(stmt_try(RECON_FMT_ALIPAY, bad, n, NULL, NULL, errbuf, sizeof(errbuf)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(errbuf, "line 5: duplicate column \"业务类型\"");
    ps_free(bad);
    bad = replace(csv, len, "\xbd\xbb\xd2\xd7\t", "\xb6\xb3\xbd\xe1\t", &n); /* 交易 -> 冻结 */
    CHECK_INT(stmt_try(RECON_FMT_ALIPAY, bad, n, NULL, NULL, errbuf, sizeof(errbuf)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(errbuf, "line 6: unknown 业务类型 \"冻结\"");
    ps_free(bad);
    /* A UTF-8 file is not what Alipay sends: it reads as GBK garbage and fails. */
    const char *utf8 = "#支付宝业务明细查询\r\n#账号：[20880000000000010156]\r\n";
    CHECK(stmt_try(RECON_FMT_ALIPAY, utf8, strlen(utf8), NULL, NULL, errbuf, sizeof(errbuf)) !=
          PS_OK);
    ps_free(csv);
}

/* Goal: hostile zips are refused with a clear error and bounded work. */
static void test_hostile_zips(void)
{
    size_t len, zlen;
    uint8_t *csv = stmt_read(B1_CSV, &len);
    REQUIRE(csv != NULL);
    const uint8_t *datas[PS_RECON_ZIP_ENTRIES_MAX + 1];
    size_t lens[PS_RECON_ZIP_ENTRIES_MAX + 1];
    const char *names[PS_RECON_ZIP_ENTRIES_MAX + 1];
    char namebuf[PS_RECON_ZIP_ENTRIES_MAX + 1][64];
    for (int i = 0; i <= PS_RECON_ZIP_ENTRIES_MAX; i++) {
        snprintf(namebuf[i], sizeof(namebuf[i]), "%d_%s", i, DETAIL_GBK);
        names[i] = namebuf[i];
        datas[i] = csv;
        lens[i] = len;
    }
    uint8_t *z = make_zip(names, datas, lens, PS_RECON_ZIP_ENTRIES_MAX + 1, &zlen);
    CHECK_INT(stmt_try(RECON_FMT_ALIPAY, z, zlen, NULL, NULL, errbuf, sizeof(errbuf)),
              PS_ERR_TOO_LARGE);
    CHECK_CONTAINS(errbuf, "PS_RECON_ZIP_ENTRIES_MAX");
    ps_free(z);
    /* Two detail entries: ambiguous. */
    z = make_zip(names, datas, lens, 2, &zlen);
    CHECK_INT(stmt_try(RECON_FMT_ALIPAY, z, zlen, NULL, NULL, errbuf, sizeof(errbuf)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(errbuf, "more than one detail entry");
    ps_free(z);
    const char *path_names[] = {"../" DETAIL_GBK, "a/" DETAIL_GBK, "readme.txt"};
    const char *why[] = {"is not a plain file name", "is not a plain file name",
                         "unexpected zip entry \"readme.txt\""};
    for (int i = 0; i < 3; i++) {
        z = make_zip(&path_names[i], datas, lens, 1, &zlen);
        CHECK_INT(stmt_try(RECON_FMT_ALIPAY, z, zlen, NULL, NULL, errbuf, sizeof(errbuf)),
                  PS_ERR_INVALID);
        CHECK_CONTAINS(errbuf, why[i]);
        ps_free(z);
    }
    /* A bomb: 8 MiB of zeros against a 1 MiB bound. */
    size_t big = 8 * 1024 * 1024;
    uint8_t *zeros = ps_calloc(1, big);
    const char *bomb_name[] = {DETAIL_GBK};
    const uint8_t *bomb_data[] = {zeros};
    z = make_zip(bomb_name, bomb_data, &big, 1, &zlen);
    recon_expect_t e = {.bytes_max = 1024 * 1024};
    CHECK_INT(stmt_try(RECON_FMT_ALIPAY, z, zlen, &e, NULL, errbuf, sizeof(errbuf)),
              PS_ERR_TOO_LARGE);
    CHECK_CONTAINS(errbuf, "exceeds the bound of 1048576 bytes");
    /* Truncated archive, and an archive with only a summary entry. */
    CHECK_INT(stmt_try(RECON_FMT_ALIPAY, z, zlen / 2, NULL, NULL, errbuf, sizeof(errbuf)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(errbuf, "not a valid zip");
    ps_free(z);
    ps_free(zeros);
    const char *sum_name[] = {"2088000000000001_20231115_\xd2\xb5\xce\xf1\xc3\xf7\xcf\xb8("
                              "\xbb\xe3\xd7\xdc).csv"};
    z = make_zip(sum_name, datas, lens, 1, &zlen);
    CHECK_INT(stmt_try(RECON_FMT_ALIPAY, z, zlen, NULL, NULL, errbuf, sizeof(errbuf)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(errbuf, "no \"<pid>_<date>_业务明细.csv\" entry");
    ps_free(z);
    ps_free(csv);
}

/* Goal: garbage and near-zips never crash. */
static void test_garbage(void)
{
    unsigned seed = 99;
    uint8_t junk[2048];
    for (int round = 0; round < 200; round++) {
        for (size_t i = 0; i < sizeof(junk); i++) {
            seed = seed * 1103515245u + 12345u;
            junk[i] = (uint8_t)(seed >> 16);
        }
        if (round % 2)
            memcpy(junk, "PK\x03\x04", 4);
        CHECK(stmt_try(RECON_FMT_ALIPAY, junk, sizeof(junk), NULL, NULL, errbuf,
                       sizeof(errbuf)) != PS_OK);
    }
    CHECK_INT(stmt_try(RECON_FMT_ALIPAY, "", 0, NULL, NULL, errbuf, sizeof(errbuf)),
              PS_ERR_INVALID);
    /* A line past PS_RECON_LINE_BYTES_MAX inside an otherwise valid bill. */
    size_t len, n;
    uint8_t *csv = stmt_read(B1_CSV, &len);
    REQUIRE(csv != NULL);
    char *pad = ps_malloc(PS_RECON_LINE_BYTES_MAX + 32);
    memset(pad, 'x', PS_RECON_LINE_BYTES_MAX + 31);
    memcpy(pad, "G", 1);
    pad[PS_RECON_LINE_BYTES_MAX + 31] = '\0';
    char *big = replace(csv, len, "G20231115061320002", pad, &n);
    CHECK_INT(stmt_try(RECON_FMT_ALIPAY, big, n, NULL, NULL, errbuf, sizeof(errbuf)),
              PS_ERR_TOO_LARGE);
    CHECK_CONTAINS(errbuf, "alipay bill line 6: line is longer than 8192 bytes");
    ps_free(big);
    ps_free(pad);
    ps_free(csv);
}

int main(void)
{
    RUN(test_b1_golden);
    RUN(test_generated_roundtrip);
    RUN(test_foreign_merchant_and_day);
    RUN(test_truncated_and_altered);
    RUN(test_encoding_and_columns);
    RUN(test_hostile_zips);
    RUN(test_garbage);
    return test_summary();
}
