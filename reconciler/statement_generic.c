/*
 * The paystream generic statement (docs/STATEMENTS.md): a strict CSV for any
 * source that is not a channel bill. A preamble names the merchant and the
 * window, a fixed header names the nine columns, a trailer repeats the row
 * count and the totals so that truncation is detected:
 *
 *   #paystream-statement v1,merchant=M1,start=2023-11-15T00:00:00+08:00,end=...
 *   channel,kind,merchant_order_no,channel_txn_id,refund_id,amount,currency,time,status
 *   wechat,payment,G1,4200...,,6.48,CNY,2023-11-15T06:13:19+08:00,SUCCESS
 *   #end,rows=1,payment_total_minor=648,refund_total_minor=0
 *
 * There is no quoting: a value may not contain a comma or a double quote, so
 * every line splits one way only.
 */
#include "statement_int.h"

#include <paystream/mem.h>
#include <paystream/money.h>
#include <paystream/timeparse.h>
#include <stdint.h>
#include <string.h>

#define WHAT "generic statement"
#define PREAMBLE "#paystream-statement v1"
#define HEADER "channel,kind,merchant_order_no,channel_txn_id,refund_id,amount,currency,time,status"
#define TRAILER "#end"
#define GENERIC_COLUMNS 9

enum { C_CHANNEL, C_KIND, C_ORDER, C_TXN, C_REFUND, C_AMOUNT, C_CURRENCY, C_TIME, C_STATUS };

/* Value of "key=value" in field f, or false when the key differs. */
static bool kv(recon_slice_t f, const char *key, recon_slice_t *value)
{
    size_t n = strlen(key);
    if (f.len <= n || memcmp(f.p, key, n) != 0 || f.p[n] != '=')
        return false;
    value->p = f.p + n + 1;
    value->len = f.len - n - 1;
    return true;
}

static ps_err_t bad(char *errstr, size_t errstr_size, int64_t line_no, const char *why)
{
    return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID, WHAT " line %lld: %s",
                         (long long)line_no, why);
}

static ps_err_t parse_preamble(recon_slice_t line, const recon_expect_t *expect,
                               recon_stmt_meta_t *meta, char *errstr, size_t errstr_size)
{
    recon_slice_t f[PS_RECON_FIELDS_MAX], merchant, start, end;
    char msg[PS_ERRSTR_SIZE];
    int n = recon_split(line, ',', f);

    if (n != 4 || !recon_slice_eq(f[0], PREAMBLE) || !kv(f[1], "merchant", &merchant) ||
        !kv(f[2], "start", &start) || !kv(f[3], "end", &end))
        return bad(errstr, errstr_size, 1,
                   "expected \"" PREAMBLE ",merchant=...,start=...,end=...\"");
    ps_err_t err = recon_check_merchant(expect, meta, merchant, WHAT, 1, errstr, errstr_size);
    if (err != PS_OK)
        return err;
    if (ps_time_parse_rfc3339(start.p, start.len, &meta->window_start_us, msg, sizeof(msg)) !=
            PS_OK ||
        ps_time_parse_rfc3339(end.p, end.len, &meta->window_end_us, msg, sizeof(msg)) != PS_OK)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID, WHAT " line 1: window: %s",
                             msg);
    if (meta->window_end_us <= meta->window_start_us)
        return bad(errstr, errstr_size, 1, "window end is not after its start");
    return recon_check_window(expect, meta, WHAT, errstr, errstr_size);
}

static ps_err_t parse_kind_channel(const recon_slice_t *f, recon_row_t *row, int64_t line_no,
                                   char *errstr, size_t errstr_size)
{
    if (recon_slice_eq(f[C_CHANNEL], "wechat"))
        row->channel = PS_CHANNEL_WECHAT;
    else if (recon_slice_eq(f[C_CHANNEL], "alipay"))
        row->channel = PS_CHANNEL_ALIPAY;
    else if (recon_slice_eq(f[C_CHANNEL], "apple"))
        row->channel = PS_CHANNEL_APPLE;
    else
        return bad(errstr, errstr_size, line_no, "channel must be wechat, alipay or apple");
    if (recon_slice_eq(f[C_KIND], "payment"))
        row->kind = RECON_ROW_PAYMENT;
    else if (recon_slice_eq(f[C_KIND], "refund"))
        row->kind = RECON_ROW_REFUND;
    else
        return bad(errstr, errstr_size, line_no, "kind must be payment or refund");
    if ((row->kind == RECON_ROW_REFUND) != (f[C_REFUND].len > 0))
        return bad(errstr, errstr_size, line_no,
                   "refund_id must be set on refund rows and empty on payment rows");
    if (f[C_TXN].len == 0 || f[C_STATUS].len == 0)
        return bad(errstr, errstr_size, line_no, "channel_txn_id and status must not be empty");
    return PS_OK;
}

static ps_err_t parse_row(recon_slice_t line, int64_t line_no, const recon_stmt_meta_t *meta,
                          recon_scratch_t *sc, recon_row_t *row, char *errstr,
                          size_t errstr_size)
{
    recon_slice_t f[PS_RECON_FIELDS_MAX];
    char msg[PS_ERRSTR_SIZE];
    int exponent, n = recon_split(line, ',', f);

    if (n != GENERIC_COLUMNS)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             WHAT " line %lld: expected %d fields, found %s%d",
                             (long long)line_no, GENERIC_COLUMNS, n < 0 ? "more than " : "",
                             n < 0 ? PS_RECON_FIELDS_MAX : n);
    if (memchr(line.p, '"', line.len) != NULL)
        return bad(errstr, errstr_size, line_no, "double quotes are not allowed (no quoting)");
    memset(row, 0, sizeof(*row));
    row->line_no = line_no;
    ps_err_t err = parse_kind_channel(f, row, line_no, errstr, errstr_size);
    if (err != PS_OK)
        return err;
    if (f[C_CURRENCY].len == 3)
        memcpy(row->currency, f[C_CURRENCY].p, 3);
    if (ps_currency_lookup(row->currency, &exponent) != PS_OK)
        return bad(errstr, errstr_size, line_no, "currency is not a known ISO 4217 code");
    err = recon_parse_amount(f[C_AMOUNT], row->currency, false, &row->amount_minor, WHAT,
                             line_no, "amount", errstr, errstr_size);
    if (err != PS_OK)
        return err;
    if (ps_time_parse_rfc3339(f[C_TIME].p, f[C_TIME].len, &row->time_us, msg, sizeof(msg)) !=
        PS_OK)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID, WHAT " line %lld: time: %s",
                             (long long)line_no, msg);
    if (row->time_us < meta->window_start_us || row->time_us >= meta->window_end_us)
        return bad(errstr, errstr_size, line_no, "time is outside the statement window");
    sc->used = 0;
    row->merchant_order_no = recon_scratch_put(sc, f[C_ORDER]);
    row->channel_txn_id = recon_scratch_put(sc, f[C_TXN]);
    row->refund_id = row->kind == RECON_ROW_REFUND ? recon_scratch_put(sc, f[C_REFUND]) : NULL;
    row->status = recon_scratch_put(sc, f[C_STATUS]);
    return PS_OK;
}

/* A decimal int64 in full: digits only, no sign, no leading zeros. */
static bool parse_i64(recon_slice_t s, int64_t *out)
{
    int64_t v = 0;
    if (s.len == 0 || s.len > 19 || (s.len > 1 && s.p[0] == '0'))
        return false;
    for (size_t i = 0; i < s.len; i++) {
        int d = s.p[i] - '0';
        if (d < 0 || d > 9 || v > (INT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static ps_err_t parse_trailer(recon_slice_t line, int64_t line_no, const recon_stmt_meta_t *m,
                              char *errstr, size_t errstr_size)
{
    recon_slice_t f[PS_RECON_FIELDS_MAX], a, b, c;
    int64_t rows, pay, ref;
    int n = recon_split(line, ',', f);

    if (n != 4 || !recon_slice_eq(f[0], TRAILER) || !kv(f[1], "rows", &a) ||
        !kv(f[2], "payment_total_minor", &b) || !kv(f[3], "refund_total_minor", &c) ||
        !parse_i64(a, &rows) || !parse_i64(b, &pay) || !parse_i64(c, &ref))
        return bad(errstr, errstr_size, line_no,
                   "expected \"" TRAILER ",rows=N,payment_total_minor=N,refund_total_minor=N\"");
    if (rows != m->rows || pay != m->payment_total_minor || ref != m->refund_total_minor)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             WHAT " line %lld: trailer says %lld rows, totals %lld/%lld, but the "
                             "rows give %lld, %lld/%lld (truncated or altered statement)",
                             (long long)line_no, (long long)rows, (long long)pay, (long long)ref,
                             (long long)m->rows, (long long)m->payment_total_minor,
                             (long long)m->refund_total_minor);
    return PS_OK;
}

/* Detail rows until the trailer, then nothing but an optional end of file. */
static ps_err_t body(recon_lines_t *it, recon_stmt_meta_t *meta, recon_row_fn row_fn,
                     void *opaque, recon_scratch_t *sc, char *errstr, size_t errstr_size)
{
    recon_tally_t tally = {.meta = meta};
    recon_slice_t line;
    recon_row_t row;
    ps_err_t err = PS_OK;

    while (recon_lines_next(it, &line, WHAT, &err, errstr, errstr_size)) {
        if (line.len > 0 && line.p[0] == '#') {
            err = parse_trailer(line, it->line_no, meta, errstr, errstr_size);
            if (err == PS_OK && recon_lines_next(it, &line, WHAT, &err, errstr, errstr_size))
                err = bad(errstr, errstr_size, it->line_no, "text after the trailer");
            if (tally.currency_mixed)
                meta->currency[0] = '\0'; /* no single currency to report */
            return err;
        }
        err = parse_row(line, it->line_no, meta, sc, &row, errstr, errstr_size);
        if (err == PS_OK)
            err = recon_tally_add(&tally, &row, WHAT, errstr, errstr_size);
        if (err == PS_OK)
            err = row_fn(&row, opaque, errstr, errstr_size);
        if (err != PS_OK)
            return err;
    }
    if (err != PS_OK)
        return err;
    return bad(errstr, errstr_size, it->line_no + 1, "trailer is missing (truncated statement)");
}

ps_err_t recon_parse_generic_text(const char *text, size_t len, const recon_expect_t *expect,
                                  recon_row_fn row_fn, void *opaque, recon_stmt_meta_t *meta,
                                  char *errstr, size_t errstr_size)
{
    recon_lines_t it;
    recon_slice_t line;
    size_t bad_at = 0;
    ps_err_t err = PS_OK;

    if (!recon_utf8_valid(text, len, &bad_at))
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             WHAT ": invalid UTF-8 at byte offset %zu", bad_at);
    recon_lines_init(&it, text, len);
    if (!recon_lines_next(&it, &line, WHAT, &err, errstr, errstr_size))
        return err != PS_OK ? err : bad(errstr, errstr_size, 1, "statement is empty");
    err = parse_preamble(line, expect, meta, errstr, errstr_size);
    if (err != PS_OK)
        return err;
    if (!recon_lines_next(&it, &line, WHAT, &err, errstr, errstr_size))
        return err != PS_OK ? err : bad(errstr, errstr_size, 2, "header line is missing");
    if (!recon_slice_eq(line, HEADER))
        return bad(errstr, errstr_size, 2, "header must be exactly \"" HEADER "\"");
    recon_scratch_t *sc = ps_malloc(sizeof(*sc));
    err = body(&it, meta, row_fn, opaque, sc, errstr, errstr_size);
    ps_free(sc);
    return err;
}
