/*
 * Alipay trade bill (reference/channels.md 2.5): a zip holding
 * "<pid>_<yyyyMMdd>_业务明细.csv" (and optionally its "(汇总)" summary, which
 * is not needed), the CSV in GBK with `#` comment lines around a header and
 * the detail rows, id-like cells ending in a TAB.
 *
 * The zip is hostile input: at most PS_RECON_ZIP_ENTRIES_MAX entries, entry
 * names without paths, exactly one detail entry, and its uncompressed size
 * bounded both by what the directory claims and by what inflating produces
 * (a zip bomb stops at the bound). Entry names are GBK without the UTF-8 flag
 * (or UTF-8 with it). The CSV is transcoded GBK -> UTF-8 with glibc iconv,
 * refusing any invalid sequence. The preamble must name the account (pid
 * plus a 4-digit suffix) and the day; the footer must be present and its
 * counts and totals must match the rows.
 */
#include "statement_int.h"

#include <errno.h>
#include <iconv.h>
#include <paystream/mem.h>
#include <paystream/money.h>
#include <paystream/timeparse.h>
#include <stdint.h>
#include <string.h>
#include <zip.h>

#define WHAT "alipay bill"
#define PID_DIGITS 16

/* "_业务明细.csv" in GBK and in UTF-8 (entry names may be either). */
static const char detail_gbk[] = "_\xd2\xb5\xce\xf1\xc3\xf7\xcf\xb8.csv";
static const char detail_utf8[] = "_业务明细.csv";
static const char summary_gbk[] = "_\xd2\xb5\xce\xf1\xc3\xf7\xcf\xb8(\xbb\xe3\xd7\xdc).csv";
static const char summary_utf8[] = "_业务明细(汇总).csv";

static const char *const known_columns[] = {
    "支付宝交易号", "商户订单号", "业务类型", "商品名称", "创建时间", "完成时间", "门店编号",
    "门店名称", "操作员", "终端号", "对方账户", "订单金额（元）", "商家实收（元）",
    "支付宝红包（元）", "集分宝（元）", "支付宝优惠（元）", "商家优惠（元）", "券核销金额（元）",
    "券名称", "商家红包消费金额（元）", "卡消费金额（元）", "退款批次号/请求号", "服务费（元）",
    "分润（元）", "备注"};

typedef struct ali_cols {
    int count, trade_no, order_no, type, done_time, amount, received, request_no;
} ali_cols_t;

typedef struct ali_state {
    const recon_expect_t *expect;
    recon_stmt_meta_t *meta;
    recon_tally_t tally;
    ali_cols_t cols;
    bool have_account, have_dates, list_ended, have_trade_sum, have_refund_sum;
    int64_t trade_received_minor, refund_received_minor; /* 商家实收 sums; refunds negative */
    recon_row_fn row_fn;
    void *opaque;
    recon_scratch_t scratch;
} ali_state_t;

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* First occurrence of needle in s[0..n), or NULL (memmem is a GNU extension). */
static const char *find(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; k <= n && i <= n - k; i++)
        if (s[i] == needle[0] && memcmp(s + i, needle, k) == 0)
            return s + i;
    return NULL;
}

/* ---- zip ----------------------------------------------------------------- */

/* Checks an entry name: no path parts, bounded; returns 1 detail, 2 summary, 0 other. */
static int classify_entry(const char *name, char *errstr, size_t errstr_size, ps_err_t *err)
{
    size_t n = strlen(name);

    *err = PS_OK;
    if (n == 0 || n > PS_RECON_ZIP_NAME_BYTES_MAX || strchr(name, '/') != NULL ||
        strchr(name, '\\') != NULL || strstr(name, "..") != NULL || name[0] == '.') {
        *err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             WHAT ": zip entry name \"%.64s\" is not a plain file name", name);
        return 0;
    }
    if (ends_with(name, n, detail_gbk) || ends_with(name, n, detail_utf8))
        return 1;
    if (ends_with(name, n, summary_gbk) || ends_with(name, n, summary_utf8))
        return 2;
    *err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                         WHAT ": unexpected zip entry \"%.64s\"", name);
    return 0;
}

/* Reads entry idx into *out (owned), at most bytes_max bytes whatever the zip claims. */
static ps_err_t read_entry(zip_t *za, zip_uint64_t idx, size_t bytes_max, uint8_t **out,
                           size_t *out_len, char *errstr, size_t errstr_size)
{
    zip_stat_t zst;
    zip_file_t *zf = NULL;
    uint8_t *buf = NULL;
    ps_err_t err = PS_OK;

    zip_stat_init(&zst);
    if (zip_stat_index(za, idx, 0, &zst) != 0 || !(zst.valid & ZIP_STAT_SIZE))
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             WHAT ": could not read the zip directory: %s", zip_strerror(za));
    if (zst.size > bytes_max)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                             WHAT ": zip entry of %llu bytes exceeds the bound of %zu bytes",
                             (unsigned long long)zst.size, bytes_max);
    zf = zip_fopen_index(za, idx, 0);
    if (zf == NULL)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             WHAT ": could not open the zip entry: %s", zip_strerror(za));
    buf = ps_malloc((size_t)zst.size + 2);
    /* Ask for one byte more than claimed: an entry that inflates beyond its
     * declared size is a lie (or a bomb) and is refused. */
    zip_int64_t got = 0, r;
    while ((zip_uint64_t)got < zst.size + 1 &&
           (r = zip_fread(zf, buf + got, zst.size + 1 - (zip_uint64_t)got)) > 0)
        got += r;
    if (got < 0 || (zip_uint64_t)got != zst.size || zip_fclose(zf) != 0) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                            WHAT ": zip entry is corrupt (size or checksum does not match)");
        zf = NULL;
        goto out;
    }
    zf = NULL;
    buf[got] = '\0';
    *out = buf;
    *out_len = (size_t)got;
    buf = NULL;
out:
    if (zf != NULL)
        zip_fclose(zf);
    ps_free(buf);
    return err;
}

/* Finds and reads the single detail CSV of the bill zip. */
static ps_err_t unzip_detail(const uint8_t *data, size_t len, size_t bytes_max, uint8_t **out,
                             size_t *out_len, char *errstr, size_t errstr_size)
{
    zip_error_t zerr;
    zip_t *za = NULL;
    ps_err_t err = PS_OK;
    zip_int64_t detail = -1;

    zip_error_init(&zerr);
    zip_source_t *src = zip_source_buffer_create(data, len, 0, &zerr);
    if (src != NULL && (za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &zerr)) == NULL)
        zip_source_free(src);
    if (za == NULL) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID, WHAT ": not a valid zip: %s",
                            zip_error_strerror(&zerr));
        goto out;
    }
    zip_int64_t n = zip_get_num_entries(za, 0);
    if (n > PS_RECON_ZIP_ENTRIES_MAX) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                            WHAT ": zip has %lld entries, more than %d (PS_RECON_ZIP_ENTRIES_MAX)",
                            (long long)n, PS_RECON_ZIP_ENTRIES_MAX);
        goto out;
    }
    for (zip_int64_t i = 0; i < n; i++) {
        const char *name = zip_get_name(za, (zip_uint64_t)i, ZIP_FL_ENC_RAW);
        int kind = classify_entry(name != NULL ? name : "", errstr, errstr_size, &err);
        if (err != PS_OK)
            goto out;
        if (kind == 1 && detail >= 0) {
            err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                                WHAT ": zip holds more than one detail entry");
            goto out;
        }
        if (kind == 1)
            detail = i;
    }
    if (detail < 0) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                            WHAT ": zip holds no \"<pid>_<date>_业务明细.csv\" entry");
        goto out;
    }
    err = read_entry(za, (zip_uint64_t)detail, bytes_max, out, out_len, errstr, errstr_size);
out:
    if (za != NULL)
        zip_discard(za);
    return err;
}

/* ---- GBK ------------------------------------------------------------------ */

static ps_err_t gbk_to_utf8(const uint8_t *in, size_t len, char **out, size_t *out_len,
                            char *errstr, size_t errstr_size)
{
    iconv_t cd = iconv_open("UTF-8", "GBK");
    if (cd == (iconv_t)-1)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_UNSUPPORTED,
                             WHAT ": iconv has no GBK converter: %s", strerror(errno));
    /* GBK characters are 1 or 2 bytes and become at most 3 UTF-8 bytes. */
    size_t cap = len * 3 / 2 + 4, in_left = len, out_left = cap;
    char *buf = ps_malloc(cap + 1), *op = buf, *ip = (char *)in;
    ps_err_t err = PS_OK;

    if (iconv(cd, &ip, &in_left, &op, &out_left) == (size_t)-1) {
        size_t off = (size_t)(ip - (char *)in);
        int64_t line_no = 1;
        for (size_t i = 0; i < off; i++)
            line_no += in[i] == '\n';
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                            WHAT " line %lld: invalid GBK at byte offset %zu (%s)",
                            (long long)line_no, off,
                            errno == E2BIG ? "output bound" : "bad or truncated sequence");
        ps_free(buf);
    } else {
        *op = '\0';
        *out = buf;
        *out_len = (size_t)(op - buf);
    }
    iconv_close(cd);
    return err;
}

/* ---- preamble and footer -------------------------------------------------- */

static bool starts_with(recon_slice_t s, const char *prefix)
{
    size_t n = strlen(prefix);
    return s.len >= n && memcmp(s.p, prefix, n) == 0;
}

/* "2023年11月15日 00:00:00" at s -> UTC us; *used gets the bytes consumed. */
static bool parse_cn_time(const char *s, size_t len, int64_t *us, size_t *used)
{
    /* 4 digits 年 2 digits 月 2 digits 日, then " HH:MM:SS"; CJK characters are 3 bytes. */
    const size_t n = 4 + 3 + 2 + 3 + 2 + 3 + 9;
    char text[20];

    if (len < n || memcmp(s + 4, "年", 3) != 0 || memcmp(s + 9, "月", 3) != 0 ||
        memcmp(s + 14, "日", 3) != 0)
        return false;
    memcpy(text, s, 4);
    text[4] = '-';
    memcpy(text + 5, s + 7, 2);
    text[7] = '-';
    memcpy(text + 8, s + 12, 2);
    memcpy(text + 10, s + 17, 9);
    *used = n;
    return ps_time_parse_local(text, 19, 480, us, NULL, 0) == PS_OK;
}

static ps_err_t preamble_line(ali_state_t *st, recon_slice_t line, int64_t line_no,
                              char *errstr, size_t errstr_size)
{
    static const char acct[] = "#账号：[", start[] = "#起始日期：[", end_mark[] = "终止日期：[";
    recon_stmt_meta_t *m = st->meta;
    size_t used;

    if (starts_with(line, acct)) {
        recon_slice_t id = {line.p + strlen(acct), line.len - strlen(acct)};
        const char *close = memchr(id.p, ']', id.len);
        id.len = close != NULL ? (size_t)(close - id.p) : 0;
        /* The account is the 16-digit pid with a 4-digit suffix. */
        if (id.len == PID_DIGITS + 4)
            id.len = PID_DIGITS;
        st->have_account = true;
        return recon_check_merchant(st->expect, m, id, WHAT, line_no, errstr, errstr_size);
    }
    if (starts_with(line, start)) {
        const char *p = line.p + strlen(start), *e = line.p + line.len;
        const char *q = p;
        if (!parse_cn_time(p, (size_t)(e - p), &m->window_start_us, &used) ||
            (q = find(p + used, (size_t)(e - p - used), end_mark)) == NULL ||
            !parse_cn_time(q + strlen(end_mark), (size_t)(e - q) - strlen(end_mark),
                           &m->window_end_us, &used) ||
            m->window_end_us <= m->window_start_us)
            return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                                 WHAT " line %lld: malformed 起始日期/终止日期 line",
                                 (long long)line_no);
        st->have_dates = true;
        return recon_check_window(st->expect, m, WHAT, errstr, errstr_size);
    }
    return PS_OK; /* title and separator lines carry nothing to check */
}

/* "#交易合计：N笔，商家实收共X元，..." -> count and amount (signed, CNY). */
static ps_err_t footer_sum(recon_slice_t line, const char *prefix, int64_t *count,
                           int64_t *amount, int64_t line_no, char *errstr, size_t errstr_size)
{
    const char *p = line.p + strlen(prefix), *e = line.p + line.len, *q;
    int64_t n = 0;

    for (q = p; q < e && *q >= '0' && *q <= '9' && q - p < 12; q++)
        n = n * 10 + (*q - '0');
    const char *gong = find(q, (size_t)(e - q), "共");
    const char *yuan = gong != NULL ? find(gong, (size_t)(e - gong), "元") : NULL;
    if (q == p || e - q < 3 || memcmp(q, "笔", 3) != 0 || gong == NULL || yuan == NULL)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             WHAT " line %lld: malformed footer \"%s\"", (long long)line_no,
                             prefix);
    *count = n;
    recon_slice_t v = {gong + 3, (size_t)(yuan - gong - 3)};
    return recon_parse_amount(v, "CNY", true, amount, WHAT, line_no, prefix + 1, errstr,
                              errstr_size);
}

static ps_err_t footer_line(ali_state_t *st, recon_slice_t line, int64_t line_no, char *errstr,
                            size_t errstr_size)
{
    int64_t count = 0, amount = 0, want_count, want_amount;
    bool trade = starts_with(line, "#交易合计：");
    ps_err_t err = PS_OK;

    if (!trade && !starts_with(line, "#退款合计："))
        return PS_OK; /* export time and separators */
    err = footer_sum(line, trade ? "#交易合计：" : "#退款合计：", &count, &amount, line_no,
                     errstr, errstr_size);
    if (err != PS_OK)
        return err;
    want_count = trade ? st->meta->payment_rows : st->meta->refund_rows;
    want_amount = trade ? st->trade_received_minor : st->refund_received_minor;
    if (trade)
        st->have_trade_sum = true;
    else
        st->have_refund_sum = true;
    if (count != want_count || amount != want_amount)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             WHAT " line %lld: footer says %lld %s rows totalling %lld fen, the "
                             "rows give %lld totalling %lld (truncated or altered bill)",
                             (long long)line_no, (long long)count, trade ? "trade" : "refund",
                             (long long)amount, (long long)want_count, (long long)want_amount);
    return PS_OK;
}

/* ---- header and rows ----------------------------------------------------- */

static ps_err_t parse_header(recon_slice_t line, int64_t line_no, ali_cols_t *c, char *errstr,
                             size_t errstr_size)
{
    recon_slice_t f[PS_RECON_FIELDS_MAX];
    int n = recon_split(line, ',', f);
    ps_err_t err = recon_check_columns(f, n, known_columns,
                                       sizeof(known_columns) / sizeof(known_columns[0]), WHAT,
                                       line_no, errstr, errstr_size);

    if (err != PS_OK)
        return err;
    c->count = n;
    c->trade_no = recon_slice_find(f, n, "支付宝交易号");
    c->order_no = recon_slice_find(f, n, "商户订单号");
    c->type = recon_slice_find(f, n, "业务类型");
    c->done_time = recon_slice_find(f, n, "完成时间");
    c->amount = recon_slice_find(f, n, "订单金额（元）");
    c->received = recon_slice_find(f, n, "商家实收（元）");
    c->request_no = recon_slice_find(f, n, "退款批次号/请求号");
    if (n < 0 || c->trade_no < 0 || c->order_no < 0 || c->type < 0 || c->done_time < 0 ||
        c->amount < 0 || c->received < 0 || c->request_no < 0)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             WHAT " line %lld: header lacks a required column or has too many",
                             (long long)line_no);
    return PS_OK;
}

/* Money and kind of a row; fills amount, kind and the 商家实收 sums. */
static ps_err_t row_money(ali_state_t *st, const recon_slice_t *f, int64_t line_no,
                          recon_row_t *row, char *errstr, size_t errstr_size)
{
    recon_slice_t type = recon_slice_trim(f[st->cols.type]);
    int64_t amount, received;
    int64_t *sum;

    if (recon_slice_eq(type, "交易"))
        row->kind = RECON_ROW_PAYMENT;
    else if (recon_slice_eq(type, "退款"))
        row->kind = RECON_ROW_REFUND;
    else
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             WHAT " line %lld: unknown 业务类型 \"%.*s\"", (long long)line_no,
                             (int)(type.len > 32 ? 32 : type.len), type.p);
    ps_err_t err = recon_parse_amount(recon_slice_trim(f[st->cols.amount]), "CNY", true, &amount,
                                      WHAT, line_no, "订单金额（元）", errstr, errstr_size);
    if (err == PS_OK)
        err = recon_parse_amount(recon_slice_trim(f[st->cols.received]), "CNY", true,
                                 &received, WHAT, line_no, "商家实收（元）", errstr, errstr_size);
    if (err != PS_OK)
        return err;
    /* Payments are positive, refunds negative; the row carries a positive amount. */
    if ((row->kind == RECON_ROW_PAYMENT) != (amount >= 0) && amount != 0)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             WHAT " line %lld: amount sign does not match 业务类型",
                             (long long)line_no);
    row->amount_minor = amount < 0 ? -amount : amount;
    sum = row->kind == RECON_ROW_PAYMENT ? &st->trade_received_minor
                                         : &st->refund_received_minor;
    if (ps_money_add(*sum, received, sum) != PS_OK)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                             WHAT " line %lld: amount total overflows", (long long)line_no);
    return PS_OK;
}

static ps_err_t detail_line(ali_state_t *st, recon_slice_t line, int64_t line_no, char *errstr,
                            size_t errstr_size)
{
    recon_slice_t f[PS_RECON_FIELDS_MAX];
    recon_row_t row;
    char msg[PS_ERRSTR_SIZE];
    int n = recon_split(line, ',', f);
    const ali_cols_t *c = &st->cols;

    if (n != c->count)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             WHAT " line %lld: expected %d fields, found %s%d",
                             (long long)line_no, c->count, n < 0 ? "more than " : "",
                             n < 0 ? PS_RECON_FIELDS_MAX : n);
    memset(&row, 0, sizeof(row));
    row.channel = PS_CHANNEL_ALIPAY;
    row.line_no = line_no;
    memcpy(row.currency, "CNY", 4); /* domestic bills carry no currency column */
    ps_err_t err = row_money(st, f, line_no, &row, errstr, errstr_size);
    if (err != PS_OK)
        return err;
    recon_slice_t t = recon_slice_trim(f[c->done_time]);
    if (ps_time_parse_local(t.p, t.len, 480, &row.time_us, msg, sizeof(msg)) != PS_OK)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             WHAT " line %lld: column 完成时间: %s", (long long)line_no, msg);
    if (row.time_us < st->meta->window_start_us || row.time_us >= st->meta->window_end_us)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             WHAT " line %lld: 完成时间 \"%.*s\" is outside the bill day",
                             (long long)line_no, (int)t.len, t.p);
    recon_slice_t txn = recon_slice_trim(f[c->trade_no]);
    if (txn.len == 0)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             WHAT " line %lld: column 支付宝交易号 is empty", (long long)line_no);
    st->scratch.used = 0;
    row.channel_txn_id = recon_scratch_put(&st->scratch, txn);
    row.merchant_order_no = recon_scratch_put(&st->scratch, recon_slice_trim(f[c->order_no]));
    row.status = recon_scratch_put(&st->scratch, recon_slice_trim(f[c->type]));
    if (row.kind == RECON_ROW_REFUND)
        row.refund_id = recon_scratch_put(&st->scratch, recon_slice_trim(f[c->request_no]));
    err = recon_tally_add(&st->tally, &row, WHAT, errstr, errstr_size);
    if (err == PS_OK)
        err = st->row_fn(&row, st->opaque, errstr, errstr_size);
    return err;
}

/* Walks the whole UTF-8 text: preamble, header, rows, footer. */
static ps_err_t walk(ali_state_t *st, const char *text, size_t len, char *errstr,
                     size_t errstr_size)
{
    recon_lines_t it;
    recon_slice_t line;
    ps_err_t err = PS_OK;
    int phase = 0; /* 0 preamble, 1 rows, 2 footer */

    recon_lines_init(&it, text, len);
    while (err == PS_OK && recon_lines_next(&it, &line, WHAT, &err, errstr, errstr_size)) {
        bool comment = line.len > 0 && line.p[0] == '#';
        if (phase == 0 && comment) {
            err = preamble_line(st, line, it.line_no, errstr, errstr_size);
        } else if (phase == 0) {
            if (!st->have_account || !st->have_dates)
                return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                                     WHAT " line %lld: the 账号 and 起始日期 lines must precede "
                                     "the header",
                                     (long long)it.line_no);
            err = parse_header(line, it.line_no, &st->cols, errstr, errstr_size);
            phase = 1;
        } else if (phase == 1 && !comment) {
            err = detail_line(st, line, it.line_no, errstr, errstr_size);
        } else if (phase == 1) {
            if (find(line.p, line.len, "业务明细列表结束") == NULL)
                return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                                     WHAT " line %lld: expected a row or the end-of-list line",
                                     (long long)it.line_no);
            st->list_ended = true;
            phase = 2;
        } else if (comment || line.len == 0) {
            err = footer_line(st, line, it.line_no, errstr, errstr_size);
        } else {
            return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                                 WHAT " line %lld: unexpected text in the footer",
                                 (long long)it.line_no);
        }
    }
    if (err == PS_OK && (!st->list_ended || !st->have_trade_sum || !st->have_refund_sum))
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                            WHAT " line %lld: the footer (列表结束, 交易合计, 退款合计) is missing "
                            "(truncated bill)",
                            (long long)it.line_no + 1);
    return err;
}

ps_err_t recon_parse_alipay_bytes(const uint8_t *data, size_t len, const recon_expect_t *expect,
                                  size_t bytes_max, recon_row_fn row_fn, void *opaque,
                                  recon_stmt_meta_t *meta, char *errstr, size_t errstr_size)
{
    uint8_t *csv = NULL;
    char *text = NULL;
    size_t csv_len = len, text_len = 0;
    ali_state_t *st = NULL;
    ps_err_t err = PS_OK;

    if (len >= 4 && memcmp(data, "PK\x03\x04", 4) == 0) {
        err = unzip_detail(data, len, bytes_max, &csv, &csv_len, errstr, errstr_size);
        if (err != PS_OK)
            goto out;
        data = csv;
    } else if (len > bytes_max) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                            WHAT " of %zu bytes exceeds the bound of %zu bytes", len, bytes_max);
        goto out;
    }
    meta->content_bytes = csv_len;
    err = gbk_to_utf8(data, csv_len, &text, &text_len, errstr, errstr_size);
    if (err != PS_OK)
        goto out;
    st = ps_calloc(1, sizeof(*st));
    st->expect = expect;
    st->meta = meta;
    st->tally.meta = meta;
    st->row_fn = row_fn;
    st->opaque = opaque;
    err = walk(st, text, text_len, errstr, errstr_size);
out:
    ps_free(st);
    ps_free(text);
    ps_free(csv);
    return err;
}
