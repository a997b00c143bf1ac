/*
 * WeChat Pay trade bill (reference/channels.md 1.6): UTF-8 CSV whose header
 * line names the columns, one backtick-prefixed line per record, then a
 * summary header and a backtick-prefixed summary values line.
 *
 * The parser is a single pass over the buffer with no allocation: fields are
 * slices of the line (split on ",`" so that commas inside free text survive),
 * the few strings a row hands out are copied to a per-row scratch area.
 * Columns are mapped by header name (legacy 总金额 is accepted for
 * 应结订单金额) and every header name must be a known WeChat column, so a
 * fund-flow bill or another file is refused. The summary must be present and
 * agree with the rows (count and every total we can recompute): a truncated
 * bill fails there. Rows outside the bill's Shanghai day, of another
 * merchant or in another currency than the first row are refused.
 */
#include "statement_int.h"

#include <paystream/mem.h>
#include <paystream/money.h>
#include <paystream/timeparse.h>
#include <stdint.h>
#include <string.h>

#define WHAT "wechat bill"
#define US_PER_DAY (86400LL * 1000000LL)
#define SHANGHAI_OFFSET_US (8LL * 3600 * 1000000)

/* Every detail column name WeChat documents (ALL, SUCCESS, REFUND, legacy). */
static const char *const known_columns[] = {
    "交易时间", "公众账号ID", "商户号", "特约商户号", "设备号", "微信订单号", "商户订单号",
    "用户标识", "交易类型", "交易状态", "付款银行", "货币种类", "应结订单金额", "总金额",
    "代金券金额", "企业红包金额", "微信退款单号", "商户退款单号", "退款金额", "充值券退款金额",
    "退款类型", "退款状态", "商品名称", "商户数据包", "手续费", "费率", "订单金额",
    "申请退款金额", "费率备注", "退款申请时间", "退款成功时间"};

static const char *const known_summary[] = {"总交易单数", "应结订单总金额", "总金额",
                                            "退款总金额", "充值券退款总金额", "手续费总金额",
                                            "订单总金额", "申请退款总金额", "企业红包退款总金额"};

/* Column indexes of the fields we read; -1 when the bill has no such column. */
typedef struct wx_cols {
    int count;
    int time, mchid, txn_id, order_no, status, currency, settle, order_amount;
    int refund_id, refund_settle, refund_req, refund_status;
    int refund_time; /* 退款申请时间 of REFUND bills: where their refund rows are placed */
} wx_cols_t;

/* Sums the summary line is checked against. */
typedef struct wx_sums {
    int64_t settle, order_amount, refund_settle, refund_req;
} wx_sums_t;

typedef struct wx_state {
    const recon_expect_t *expect;
    recon_stmt_meta_t *meta;
    recon_tally_t tally;
    wx_cols_t cols;
    wx_sums_t sums;
    recon_row_fn row_fn;
    void *opaque;
    recon_scratch_t scratch;
} wx_state_t;

static ps_err_t parse_header(recon_slice_t line, int64_t line_no, wx_cols_t *c, char *errstr,
                             size_t errstr_size)
{
    recon_slice_t f[PS_RECON_FIELDS_MAX];
    int n = recon_split(line, ',', f);

    if (n < 0)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             WHAT " line %lld: more than %d columns", (long long)line_no,
                             PS_RECON_FIELDS_MAX);
    ps_err_t err = recon_check_columns(f, n, known_columns,
                                       sizeof(known_columns) / sizeof(known_columns[0]), WHAT,
                                       line_no, errstr, errstr_size);
    if (err != PS_OK)
        return err;
    c->count = n;
    c->time = recon_slice_find(f, n, "交易时间");
    c->mchid = recon_slice_find(f, n, "商户号");
    c->txn_id = recon_slice_find(f, n, "微信订单号");
    c->order_no = recon_slice_find(f, n, "商户订单号");
    c->status = recon_slice_find(f, n, "交易状态");
    c->currency = recon_slice_find(f, n, "货币种类");
    c->settle = recon_slice_find(f, n, "应结订单金额");
    if (c->settle < 0)
        c->settle = recon_slice_find(f, n, "总金额"); /* legacy header */
    c->order_amount = recon_slice_find(f, n, "订单金额");
    c->refund_id = recon_slice_find(f, n, "微信退款单号");
    c->refund_settle = recon_slice_find(f, n, "退款金额");
    c->refund_req = recon_slice_find(f, n, "申请退款金额");
    c->refund_status = recon_slice_find(f, n, "退款状态");
    c->refund_time = recon_slice_find(f, n, "退款申请时间");
    if (c->time < 0 || c->mchid < 0 || c->txn_id < 0 || c->order_no < 0 || c->status < 0 ||
        c->currency < 0 || c->settle < 0)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             WHAT " line %lld: header lacks a required column (交易时间, 商户号, "
                             "微信订单号, 商户订单号, 交易状态, 货币种类, 应结订单金额)",
                             (long long)line_no);
    return PS_OK;
}

/* Splits a backtick-prefixed line: "`a,`b,`c" -> a, b, c. Returns the count or -1. */
static int split_backtick(recon_slice_t line, recon_slice_t *f)
{
    const char *p = line.p + 1, *end = line.p + line.len;
    int n = 0;

    for (;;) {
        const char *q = p, *stop = end;
        while ((q = memchr(q, ',', (size_t)(end - q))) != NULL) {
            if (q + 1 < end && q[1] == '`') {
                stop = q;
                break;
            }
            q++;
        }
        if (n == PS_RECON_FIELDS_MAX)
            return -1;
        f[n].p = p;
        f[n].len = (size_t)(stop - p);
        n++;
        if (stop == end)
            return n;
        p = stop + 2;
    }
}

/* Parses an optional amount column (0 when the bill has no such column). */
static ps_err_t opt_amount(const recon_slice_t *f, int col, const char *cur, int64_t line_no,
                           const char *name, int64_t *out, char *errstr, size_t errstr_size)
{
    *out = 0;
    if (col < 0)
        return PS_OK;
    return recon_parse_amount(f[col], cur, false, out, WHAT, line_no, name, errstr,
                              errstr_size);
}

static ps_err_t add_sums(wx_sums_t *s, int64_t settle, int64_t order_amount,
                         int64_t refund_settle, int64_t refund_req, int64_t line_no,
                         char *errstr, size_t errstr_size)
{
    if (ps_money_add(s->settle, settle, &s->settle) != PS_OK ||
        ps_money_add(s->order_amount, order_amount, &s->order_amount) != PS_OK ||
        ps_money_add(s->refund_settle, refund_settle, &s->refund_settle) != PS_OK ||
        ps_money_add(s->refund_req, refund_req, &s->refund_req) != PS_OK)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                             WHAT " line %lld: amount total overflows", (long long)line_no);
    return PS_OK;
}

/* A refund row has 微信退款单号 filled (payment rows carry "0" or nothing). */
static bool is_refund(const wx_cols_t *c, const recon_slice_t *f)
{
    return c->refund_id >= 0 && f[c->refund_id].len > 0 && !recon_slice_eq(f[c->refund_id], "0");
}

/* Time, merchant and window checks of one row (kind set); fills row->time_us. */
static ps_err_t check_row_context(wx_state_t *st, const recon_slice_t *f, int64_t line_no,
                                  recon_row_t *row, char *errstr, size_t errstr_size)
{
    char msg[PS_ERRSTR_SIZE];
    recon_slice_t t = f[st->cols.time];
    recon_stmt_meta_t *m = st->meta;

    /* A REFUND bill keeps the payment time in 交易时间 and places the row by
     * its refund acceptance time; the ALL bill writes that time in 交易时间. */
    if (row->kind == RECON_ROW_REFUND && st->cols.refund_time >= 0 &&
        f[st->cols.refund_time].len > 0)
        t = f[st->cols.refund_time];

    if (ps_time_parse_local(t.p, t.len, 480, &row->time_us, msg, sizeof(msg)) != PS_OK)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             WHAT " line %lld: column %s: %s", (long long)line_no,
                             t.p == f[st->cols.time].p ? "交易时间" : "退款申请时间", msg);
    ps_err_t err = recon_check_merchant(st->expect, m, f[st->cols.mchid], WHAT, line_no, errstr,
                                        errstr_size);
    if (err != PS_OK)
        return err;
    if (m->window_end_us == 0) { /* no expected window: the first row's Shanghai day */
        int64_t local = row->time_us + SHANGHAI_OFFSET_US;
        m->window_start_us = local / US_PER_DAY * US_PER_DAY - SHANGHAI_OFFSET_US;
        m->window_end_us = m->window_start_us + US_PER_DAY;
    }
    if (row->time_us < m->window_start_us || row->time_us >= m->window_end_us)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             WHAT " line %lld: trade time \"%.*s\" is outside the bill day",
                             (long long)line_no, (int)t.len, t.p);
    return PS_OK;
}

/* Fills row from the fields of one detail line (money, kind, strings). */
static ps_err_t build_row(wx_state_t *st, const recon_slice_t *f, int64_t line_no,
                          recon_row_t *row, char *errstr, size_t errstr_size)
{
    const wx_cols_t *c = &st->cols;
    int64_t settle, order_amount, refund_settle, refund_req;
    recon_slice_t cur = f[c->currency], txn = f[c->txn_id];

    int exponent;

    if (cur.len == 3) {
        memcpy(row->currency, cur.p, 3);
        row->currency[3] = '\0';
    }
    /* Bills have one currency: look it up only when it differs from the bill's. */
    bool seen = st->meta->rows > 0 && strcmp(row->currency, st->meta->currency) == 0;
    if (cur.len != 3 || (!seen && ps_currency_lookup(row->currency, &exponent) != PS_OK))
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             WHAT " line %lld: column 货币种类: unknown currency \"%.*s\"",
                             (long long)line_no, (int)(cur.len > 8 ? 8 : cur.len), cur.p);
    ps_err_t err = recon_parse_amount(f[c->settle], row->currency, false, &settle, WHAT, line_no,
                                      "应结订单金额", errstr, errstr_size);
    if (err == PS_OK)
        err = opt_amount(f, c->order_amount, row->currency, line_no, "订单金额", &order_amount,
                         errstr, errstr_size);
    if (err == PS_OK)
        err = opt_amount(f, c->refund_settle, row->currency, line_no, "退款金额", &refund_settle,
                         errstr, errstr_size);
    if (err == PS_OK)
        err = opt_amount(f, c->refund_req, row->currency, line_no, "申请退款金额", &refund_req,
                         errstr, errstr_size);
    if (err == PS_OK)
        err = add_sums(&st->sums, settle, order_amount, refund_settle, refund_req, line_no,
                       errstr, errstr_size);
    if (err != PS_OK)
        return err;
    if (txn.len == 0)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             WHAT " line %lld: column 微信订单号 is empty", (long long)line_no);
    recon_slice_t rid = c->refund_id >= 0 ? f[c->refund_id] : (recon_slice_t){"", 0};
    bool refund = row->kind == RECON_ROW_REFUND;
    if (refund)
        row->amount_minor = c->refund_req >= 0 ? refund_req : refund_settle;
    else
        row->amount_minor = c->order_amount >= 0 ? order_amount : settle;
    st->scratch.used = 0;
    row->channel_txn_id = recon_scratch_put(&st->scratch, txn);
    row->merchant_order_no = recon_scratch_put(&st->scratch, f[c->order_no]);
    row->status = recon_scratch_put(&st->scratch, f[c->status]);
    row->refund_id = refund ? recon_scratch_put(&st->scratch, rid) : NULL;
    row->refund_status = refund && c->refund_status >= 0
                             ? recon_scratch_put(&st->scratch, f[c->refund_status])
                             : NULL;
    return PS_OK;
}

static ps_err_t detail_line(wx_state_t *st, recon_slice_t line, int64_t line_no, char *errstr,
                            size_t errstr_size)
{
    recon_slice_t f[PS_RECON_FIELDS_MAX];
    recon_row_t row;
    int n = split_backtick(line, f);

    if (n != st->cols.count)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             WHAT " line %lld: expected %d fields, found %s%d",
                             (long long)line_no, st->cols.count, n < 0 ? "more than " : "",
                             n < 0 ? PS_RECON_FIELDS_MAX : n);
    memset(&row, 0, sizeof(row));
    row.channel = PS_CHANNEL_WECHAT;
    row.line_no = line_no;
    row.kind = is_refund(&st->cols, f) ? RECON_ROW_REFUND : RECON_ROW_PAYMENT;
    ps_err_t err = check_row_context(st, f, line_no, &row, errstr, errstr_size);
    if (err == PS_OK)
        err = build_row(st, f, line_no, &row, errstr, errstr_size);
    if (err == PS_OK)
        err = recon_tally_add(&st->tally, &row, WHAT, errstr, errstr_size);
    if (err == PS_OK && st->tally.currency_mixed)
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                            WHAT " line %lld: currency \"%s\" differs from \"%s\" of the bill",
                            (long long)line_no, row.currency, st->meta->currency);
    if (err == PS_OK)
        err = st->row_fn(&row, st->opaque, errstr, errstr_size);
    return err;
}

/* Compares one summary value with the recomputed figure. */
static ps_err_t check_total(recon_slice_t v, const char *name, int64_t expected,
                            const char *cur, int64_t line_no, char *errstr, size_t errstr_size)
{
    int64_t got;
    char a[PS_MONEY_DECIMAL_BYTES_MAX], b[PS_MONEY_DECIMAL_BYTES_MAX];
    ps_err_t err = recon_parse_amount(v, cur, true, &got, WHAT, line_no, name, errstr,
                                      errstr_size);
    if (err != PS_OK || got == expected)
        return err;
    ps_money_format(got, cur, a, sizeof(a));
    ps_money_format(expected, cur, b, sizeof(b));
    return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                         WHAT " line %lld: summary %s is %s but the rows add up to %s "
                         "(truncated or altered bill)",
                         (long long)line_no, name, a, b);
}

/* The count: digits, optionally followed by ".0..." as float-style summaries write it. */
static ps_err_t check_count(recon_slice_t v, int64_t rows, int64_t line_no, char *errstr,
                            size_t errstr_size)
{
    int64_t n = 0;
    size_t i = 0;

    for (; i < v.len && v.p[i] >= '0' && v.p[i] <= '9' && n < INT64_MAX / 10 - 10; i++)
        n = n * 10 + (v.p[i] - '0');
    bool ok = i > 0;
    if (i < v.len && v.p[i] == '.' && i + 1 < v.len)
        for (i++; i < v.len && v.p[i] == '0'; i++)
            ;
    if (!ok || i != v.len)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             WHAT " line %lld: summary 总交易单数 \"%.*s\" is not a count",
                             (long long)line_no, (int)(v.len > 32 ? 32 : v.len), v.p);
    if (n != rows)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             WHAT " line %lld: summary says %lld records but the bill has %lld "
                             "(truncated or altered bill)",
                             (long long)line_no, (long long)n, (long long)rows);
    return PS_OK;
}

static ps_err_t summary_lines(wx_state_t *st, recon_slice_t head, recon_slice_t vals,
                              int64_t line_no, char *errstr, size_t errstr_size)
{
    recon_slice_t h[PS_RECON_FIELDS_MAX], v[PS_RECON_FIELDS_MAX];
    int hn = recon_split(head, ',', h);
    const char *cur = st->meta->currency[0] != '\0' ? st->meta->currency : "CNY";

    if (hn < 0)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             WHAT " line %lld: more than %d summary columns",
                             (long long)line_no - 1, PS_RECON_FIELDS_MAX);
    ps_err_t err = recon_check_columns(h, hn, known_summary,
                                       sizeof(known_summary) / sizeof(known_summary[0]), WHAT,
                                       line_no - 1, errstr, errstr_size);
    if (err != PS_OK)
        return err;
    int vn = vals.len > 0 && vals.p[0] == '`' ? split_backtick(vals, v) : -1;
    int count = recon_slice_find(h, hn, "总交易单数");
    if (vn != hn || count < 0)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             WHAT " line %lld: summary values do not match the summary header",
                             (long long)line_no);
    err = check_count(v[count], st->meta->rows, line_no, errstr, errstr_size);
    const struct { const char *name; int64_t sum; } totals[] = {
        {"应结订单总金额", st->sums.settle},       {"总金额", st->sums.settle},
        {"订单总金额", st->sums.order_amount},     {"退款总金额", st->sums.refund_settle},
        {"申请退款总金额", st->sums.refund_req}};
    for (size_t i = 0; err == PS_OK && i < sizeof(totals) / sizeof(totals[0]); i++) {
        int col = recon_slice_find(h, hn, totals[i].name);
        if (col >= 0)
            err = check_total(v[col], totals[i].name, totals[i].sum, cur, line_no, errstr,
                              errstr_size);
    }
    return err;
}

/* Walks the lines after the header: details, then the two summary lines. */
static ps_err_t body_lines(wx_state_t *st, recon_lines_t *it, char *errstr, size_t errstr_size)
{
    recon_slice_t line, vals;
    ps_err_t err = PS_OK;

    while (recon_lines_next(it, &line, WHAT, &err, errstr, errstr_size)) {
        if (line.len > 0 && line.p[0] == '`') {
            err = detail_line(st, line, it->line_no, errstr, errstr_size);
            if (err != PS_OK)
                return err;
            continue;
        }
        /* The first line without a backtick must be the summary header. */
        if (!recon_lines_next(it, &vals, WHAT, &err, errstr, errstr_size))
            return err != PS_OK ? err
                                : ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                                                WHAT " line %lld: summary values line is missing "
                                                "(truncated bill)",
                                                (long long)it->line_no + 1);
        err = summary_lines(st, line, vals, it->line_no, errstr, errstr_size);
        while (err == PS_OK && recon_lines_next(it, &line, WHAT, &err, errstr, errstr_size))
            if (line.len != 0)
                err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                                    WHAT " line %lld: unexpected text after the summary",
                                    (long long)it->line_no);
        return err;
    }
    if (err != PS_OK)
        return err;
    return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                         WHAT " line %lld: summary lines are missing (truncated bill)",
                         (long long)it->line_no + 1);
}

ps_err_t recon_parse_wechat_text(const char *text, size_t len, const recon_expect_t *expect,
                                 recon_row_fn row_fn, void *opaque, recon_stmt_meta_t *meta,
                                 char *errstr, size_t errstr_size)
{
    wx_state_t *st = NULL;
    recon_lines_t it;
    recon_slice_t line;
    size_t bad = 0;
    ps_err_t err = PS_OK;

    if (!recon_utf8_valid(text, len, &bad)) {
        int64_t line_no = 1;
        for (size_t i = 0; i < bad; i++)
            line_no += text[i] == '\n';
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             WHAT " line %lld: invalid UTF-8 at byte offset %zu",
                             (long long)line_no, bad);
    }
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) { /* optional BOM */
        text += 3;
        len -= 3;
    }
    recon_lines_init(&it, text, len);
    if (!recon_lines_next(&it, &line, WHAT, &err, errstr, errstr_size))
        return err != PS_OK ? err
                            : ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                                            WHAT " is empty");
    /* The state holds a line-sized scratch area: keep it off the stack. */
    st = ps_calloc(1, sizeof(*st));
    st->expect = expect;
    st->meta = meta;
    st->tally.meta = meta;
    st->row_fn = row_fn;
    st->opaque = opaque;
    if (expect != NULL && expect->has_window) {
        meta->window_start_us = expect->window_start_us;
        meta->window_end_us = expect->window_end_us;
    }
    err = parse_header(line, it.line_no, &st->cols, errstr, errstr_size);
    if (err == PS_OK)
        err = body_lines(st, &it, errstr, errstr_size);
    if (err == PS_OK && meta->merchant_id[0] == '\0' && expect != NULL &&
        expect->merchant_id != NULL && strlen(expect->merchant_id) < sizeof(meta->merchant_id))
        memcpy(meta->merchant_id, expect->merchant_id, strlen(expect->merchant_id) + 1);
    ps_free(st);
    return err;
}
