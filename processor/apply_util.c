/*
 * Helpers of the set-based ledger apply (see apply_int.h): array literals,
 * exact timestamps, a string map and statement execution. Array literals are
 * sent as text parameters, so quoting follows PostgreSQL's array input rules:
 * every element is double-quoted with '"' and '\' backslash-escaped, NULL is
 * the bare word NULL, and bytea elements use the hex format.
 */
#include "apply_int.h"

#include <paystream/assert.h>
#include <paystream/limits.h>
#include <paystream/log.h>
#include <paystream/mem.h>
#include <paystream/pg.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void pga_init(pg_array_t *a)
{
    ps_buf_init(&a->buf, PS_APPLY_STMT_BYTES_MAX);
    pga_reset(a);
}

void pga_deinit(pg_array_t *a) { ps_buf_deinit(&a->buf); }

void pga_reset(pg_array_t *a)
{
    ps_buf_reset(&a->buf);
    a->n = 0;
    a->failed = ps_buf_append(&a->buf, "{", 1) != PS_OK;
}

static void sep(pg_array_t *a)
{
    if (a->n++ > 0 && ps_buf_append(&a->buf, ",", 1) != PS_OK)
        a->failed = true;
}

void pga_text(pg_array_t *a, const char *s)
{
    size_t start;

    sep(a);
    if (s == NULL) {
        a->failed |= ps_buf_append(&a->buf, "NULL", 4) != PS_OK;
        return;
    }
    /* Worst case every byte is escaped, plus two quotes. */
    if (ps_buf_reserve(&a->buf, 2 * strlen(s) + 2) != PS_OK) {
        a->failed = true;
        return;
    }
    start = a->buf.len;
    a->buf.data[start++] = '"';
    for (const char *p = s; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            a->buf.data[start++] = '\\';
        a->buf.data[start++] = (uint8_t)*p;
    }
    a->buf.data[start++] = '"';
    a->buf.len = start;
    a->buf.data[start] = '\0';
}

void pga_int(pg_array_t *a, int64_t v)
{
    sep(a);
    a->failed |= ps_buf_appendf(&a->buf, "%" PRId64, v) != PS_OK;
}

void pga_bool(pg_array_t *a, bool v)
{
    sep(a);
    a->failed |= ps_buf_append(&a->buf, v ? "t" : "f", 1) != PS_OK;
}

void pga_bytea(pg_array_t *a, const uint8_t *data, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t at;

    sep(a);
    /* "\\x" + two digits a byte + quotes: the backslash is escaped once for
     * the array literal, leaving bytea's own \x prefix. */
    if (ps_buf_reserve(&a->buf, 2 * len + 6) != PS_OK) {
        a->failed = true;
        return;
    }
    at = a->buf.len;
    memcpy(a->buf.data + at, "\"\\\\x", 4);
    at += 4;
    for (size_t i = 0; i < len; i++) {
        a->buf.data[at++] = (uint8_t)hex[data[i] >> 4];
        a->buf.data[at++] = (uint8_t)hex[data[i] & 15];
    }
    a->buf.data[at++] = '"';
    a->buf.len = at;
    a->buf.data[at] = '\0';
}

void pga_time(pg_array_t *a, int64_t us)
{
    /* Floor division so that times before 1970 are exact too. */
    int64_t secs = us / 1000000, frac = us % 1000000;
    time_t t;
    struct tm tm;

    if (frac < 0) {
        frac += 1000000;
        secs -= 1;
    }
    t = (time_t)secs;
    sep(a);
    if (gmtime_r(&t, &tm) == NULL) {
        a->failed = true;
        return;
    }
    a->failed |= ps_buf_appendf(&a->buf, "\"%04d-%02d-%02d %02d:%02d:%02d.%06" PRId64 "+00\"",
                                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                                tm.tm_min, tm.tm_sec, frac) != PS_OK;
}

const char *pga_text_of(pg_array_t *a)
{
    if (!a->failed && ps_buf_append(&a->buf, "}", 1) != PS_OK)
        a->failed = true;
    return a->failed ? NULL : (const char *)a->buf.data;
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = UINT64_C(14695981039346656037);

    for (; *s != '\0'; s++) {
        h ^= (uint8_t)*s;
        h *= UINT64_C(1099511628211);
    }
    return h;
}

void strmap_reset(strmap_t *m)
{
    for (size_t i = 0; i < m->cap; i++) {
        ps_free(m->keys[i]);
        m->keys[i] = NULL;
    }
    m->count = 0;
}

void strmap_deinit(strmap_t *m)
{
    strmap_reset(m);
    ps_free(m->keys);
    ps_free(m->vals);
    memset(m, 0, sizeof(*m));
}

static size_t slot_of(const strmap_t *m, const char *key)
{
    size_t i = (size_t)(fnv1a(key) & (m->cap - 1));

    while (m->keys[i] != NULL && strcmp(m->keys[i], key) != 0)
        i = (i + 1) & (m->cap - 1);
    return i;
}

static void grow(strmap_t *m)
{
    strmap_t bigger = {0};

    bigger.cap = m->cap == 0 ? 256 : m->cap * 2;
    bigger.keys = ps_calloc(bigger.cap, sizeof(char *));
    bigger.vals = ps_calloc(bigger.cap, sizeof(size_t));
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i] != NULL) {
            size_t s = slot_of(&bigger, m->keys[i]);
            bigger.keys[s] = m->keys[i];
            bigger.vals[s] = m->vals[i];
            bigger.count++;
        }
    }
    ps_free(m->keys);
    ps_free(m->vals);
    *m = bigger;
}

bool strmap_get(const strmap_t *m, const char *key, size_t *val)
{
    size_t s;

    if (m->cap == 0)
        return false;
    s = slot_of(m, key);
    if (m->keys[s] == NULL)
        return false;
    *val = m->vals[s];
    return true;
}

bool strmap_get_or_put(strmap_t *m, const char *key, size_t *val)
{
    size_t s;

    /* Keep the load factor under one half: probes stay short. */
    if (2 * (m->count + 1) > m->cap)
        grow(m);
    s = slot_of(m, key);
    if (m->keys[s] != NULL) {
        *val = m->vals[s];
        return true;
    }
    m->keys[s] = ps_strdup(key);
    m->vals[s] = *val;
    m->count++;
    return false;
}

static int64_t mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

ps_err_t apply_exec(PGconn *conn, const char *what, const char *sql, int nparams,
                    const char *const *params, PGresult **res_out, ps_err_class_t *class_out,
                    char *errstr, size_t errstr_size)
{
    PGresult *res;
    ExecStatusType st;
    int64_t t0_us = -1;
    ps_err_t err;

    for (int i = 0; i < nparams; i++) {
        if (params[i] == NULL) /* only array literals past their bound are NULL here */
            return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                                 "could not %s: parameter %d exceeds %d bytes", what, i + 1,
                                 PS_APPLY_STMT_BYTES_MAX);
    }
    /* At debug level each statement's round trip is logged: the apply's
     * cost is server-side, and this is how a batch is profiled. */
    if (ps_log_get_level() <= PS_LOG_DEBUG)
        t0_us = mono_us();
    res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    st = PQresultStatus(res);
    if (t0_us >= 0)
        ps_log_debug("apply statement \"%s\" took %" PRId64 " us", what, mono_us() - t0_us);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        if (res_out != NULL)
            *res_out = res;
        else
            PQclear(res);
        return PS_OK;
    }
    err = ps_pg_result_error(conn, res, class_out, errstr, errstr_size);
    PQclear(res);
    return ps_errstr_prefix(errstr, errstr_size, err, "could not %s", what);
}
