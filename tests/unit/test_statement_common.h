/*
 * Shared pieces of the statement tests: reading files from tests/data,
 * rendering parsed rows and meta as the text of the golden *.expected files,
 * and comparing the two (comment lines in the expected file are skipped).
 */
#ifndef TEST_STATEMENT_COMMON_H
#define TEST_STATEMENT_COMMON_H

#include "statement.h"

#include <paystream/buf.h>
#include <paystream/mem.h>
#include <paystream/timeparse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads tests/data/statements/<name> (or an absolute path) into an owned buffer. */
static inline uint8_t *stmt_read(const char *name, size_t *len_out)
{
    char path[8192]; /* room for a caller's 4096-byte path plus the data directory */
    const char *src = getenv("PAYSTREAM_SOURCE_DIR");
    if (name[0] == '/')
        snprintf(path, sizeof(path), "%s", name);
    else
        snprintf(path, sizeof(path), "%s/tests/data/statements/%s", src ? src : ".", name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = ps_malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    buf[got] = 0;
    *len_out = got;
    return buf;
}

/* Row callback: appends one "row ..." line per row to the ps_buf_t opaque. */
static inline ps_err_t stmt_collect(const recon_row_t *r, void *opaque, char *errstr,
                                    size_t errstr_size)
{
    ps_buf_t *out = opaque;
    char t[40];
    (void)errstr;
    (void)errstr_size;
    ps_time_format_utc(r->time_us, t, sizeof(t));
    return ps_buf_appendf(out,
                          "row line=%lld channel=%s kind=%s order=%s txn=%s refund=%s "
                          "amount_minor=%lld currency=%s time=%s status=%s refund_status=%s\n",
                          (long long)r->line_no, ps_channel_name(r->channel),
                          r->kind == RECON_ROW_PAYMENT ? "payment" : "refund",
                          r->merchant_order_no, r->channel_txn_id,
                          r->refund_id ? r->refund_id : "-", (long long)r->amount_minor,
                          r->currency, t, r->status, r->refund_status ? r->refund_status : "-");
}

static inline void stmt_render_meta(const recon_stmt_meta_t *m, ps_buf_t *out)
{
    char a[40], b[40];
    ps_time_format_utc(m->window_start_us, a, sizeof(a));
    ps_time_format_utc(m->window_end_us, b, sizeof(b));
    ps_buf_appendf(out,
                   "meta merchant=%s window=%s/%s rows=%lld payments=%lld refunds=%lld "
                   "payment_total_minor=%lld refund_total_minor=%lld currency=%s\n",
                   m->merchant_id, a, b, (long long)m->rows, (long long)m->payment_rows,
                   (long long)m->refund_rows, (long long)m->payment_total_minor,
                   (long long)m->refund_total_minor, m->currency);
}

/* The expected file without its comment lines (owned, NUL-terminated). */
static inline char *stmt_expected(const char *name)
{
    size_t len;
    char *raw = (char *)stmt_read(name, &len);
    if (raw == NULL)
        return NULL;
    char *out = ps_malloc(len + 1), *o = out;
    for (char *p = raw; *p;) {
        char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p + 1) : strlen(p);
        if (p[0] != '#') {
            memcpy(o, p, n);
            o += n;
        }
        p += n;
    }
    *o = 0;
    ps_free(raw);
    return out;
}

/* Parses data and returns the rendered rows + meta (owned) or NULL with errstr set. */
static inline char *stmt_render(recon_format_t fmt, const uint8_t *data, size_t len,
                                const recon_expect_t *expect, recon_stmt_meta_t *meta,
                                char *errstr, size_t errstr_size)
{
    ps_buf_t out;
    ps_buf_init(&out, 64 * 1024 * 1024);
    ps_err_t err = recon_statement_parse(fmt, data, len, expect, stmt_collect, &out, meta,
                                         errstr, errstr_size);
    if (err != PS_OK) {
        ps_buf_deinit(&out);
        return NULL;
    }
    stmt_render_meta(meta, &out);
    return (char *)ps_buf_steal(&out, NULL);
}

/* Counts rows without keeping them. */
static inline ps_err_t stmt_count(const recon_row_t *r, void *opaque, char *errstr,
                                  size_t errstr_size)
{
    (void)r;
    (void)errstr;
    (void)errstr_size;
    (*(long long *)opaque)++;
    return PS_OK;
}

/* Parses and returns the error code, the message in errstr, the row callback count in *rows. */
static inline ps_err_t stmt_try(recon_format_t fmt, const void *data, size_t len,
                                const recon_expect_t *expect, long long *rows, char *errstr,
                                size_t errstr_size)
{
    recon_stmt_meta_t meta;
    long long n = 0;
    errstr[0] = 0;
    ps_err_t err = recon_statement_parse(fmt, data, len, expect, stmt_count, &n, &meta, errstr,
                                         errstr_size);
    if (rows)
        *rows = n;
    return err;
}

#endif
