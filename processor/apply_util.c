/*
 * Helpers of the set-based ledger apply (see apply_int.h): array
 * parameters, a string map and statement execution. Arrays travel in
 * PostgreSQL's binary format: text and evidence bytes are copied as they
 * are, with no quoting on our side and no array_in parsing on the server's
 * (which was a twentieth of the apply's server CPU as text literals), and
 * integers and timestamps are exact by construction.
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

/* Element type OIDs (pg_type.dat; fixed since PostgreSQL 7) and the
 * binary layout of array_recv: ndim, has-nulls flag, element type, then per
 * dimension its length and lower bound; then each element as a 4-byte
 * length (-1: NULL) and its bytes. */
#define OID_BOOL 16
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_TEXT 25
#define OID_TIMESTAMPTZ 1184
#define HEADER_BYTES 20 /* one dimension */
/* timestamptz travels as microseconds since 2000-01-01 00:00:00 UTC. */
#define PG_EPOCH_UNIX_US INT64_C(946684800000000)

static const uint32_t type_oid[] = {
    [PGA_TEXT] = OID_TEXT, [PGA_INT8] = OID_INT8,  [PGA_BOOL] = OID_BOOL,
    [PGA_BYTEA] = OID_BYTEA, [PGA_TIME] = OID_TIMESTAMPTZ,
};

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

void pga_init(pg_array_t *a)
{
    ps_buf_init(&a->buf, PS_APPLY_STMT_BYTES_MAX);
    pga_reset(a, PGA_TEXT);
}

void pga_deinit(pg_array_t *a) { ps_buf_deinit(&a->buf); }

void pga_reset(pg_array_t *a, pga_type_t type)
{
    PS_ASSERT((size_t)type < sizeof(type_oid) / sizeof(type_oid[0]));
    ps_buf_reset(&a->buf);
    a->type = type;
    a->n = 0;
    a->has_null = false;
    /* The header is patched with the count when the array is closed. */
    a->failed = ps_buf_reserve(&a->buf, HEADER_BYTES) != PS_OK;
    if (!a->failed)
        a->buf.len = HEADER_BYTES;
}

/* Appends one element of len bytes (the caller fills them at the returned
 * position), or NULL when the array is past its bound. */
static uint8_t *element(pg_array_t *a, pga_type_t type, size_t len)
{
    uint8_t *p;

    PS_ASSERT(type == a->type); /* the statement declared another type here */
    if (a->failed || len > INT32_MAX || ps_buf_reserve(&a->buf, 4 + len) != PS_OK) {
        a->failed = true;
        return NULL;
    }
    p = a->buf.data + a->buf.len;
    put32(p, (uint32_t)len);
    a->buf.len += 4 + len;
    a->n++;
    return p + 4;
}

static void put64_element(pg_array_t *a, pga_type_t type, uint64_t v)
{
    uint8_t *p = element(a, type, 8);

    if (p != NULL) {
        put32(p, (uint32_t)(v >> 32));
        put32(p + 4, (uint32_t)v);
    }
}

void pga_null(pg_array_t *a)
{
    if (a->failed || ps_buf_reserve(&a->buf, 4) != PS_OK) {
        a->failed = true;
        return;
    }
    put32(a->buf.data + a->buf.len, UINT32_MAX); /* length -1 */
    a->buf.len += 4;
    a->n++;
    a->has_null = true;
}

void pga_text(pg_array_t *a, const char *s)
{
    size_t len;
    uint8_t *p;

    if (s == NULL) {
        pga_null(a);
        return;
    }
    len = strlen(s);
    p = element(a, PGA_TEXT, len);
    if (p != NULL)
        memcpy(p, s, len);
}

void pga_int(pg_array_t *a, int64_t v) { put64_element(a, PGA_INT8, (uint64_t)v); }

void pga_bool(pg_array_t *a, bool v)
{
    uint8_t *p = element(a, PGA_BOOL, 1);

    if (p != NULL)
        *p = v ? 1 : 0;
}

void pga_bytea(pg_array_t *a, const uint8_t *data, size_t len)
{
    uint8_t *p = element(a, PGA_BYTEA, len);

    if (p != NULL && len > 0)
        memcpy(p, data, len);
}

void pga_time(pg_array_t *a, int64_t us)
{
    /* Any int64 of microseconds since 1970 is representable relative to
     * 2000 unless it is within 30 years of the int64 limits, far outside
     * timestamptz's own range, which the server then refuses. */
    if (us < INT64_MIN + PG_EPOCH_UNIX_US) {
        a->failed = true;
        return;
    }
    put64_element(a, PGA_TIME, (uint64_t)(us - PG_EPOCH_UNIX_US));
}

const char *pga_close(pg_array_t *a, int *len_out)
{
    uint8_t *h = a->buf.data;

    if (a->failed || a->n > INT32_MAX || a->buf.len > INT32_MAX)
        return NULL;
    put32(h + 8, type_oid[a->type]);
    if (a->n == 0) {
        /* An empty array has no dimensions. */
        put32(h, 0);
        put32(h + 4, 0);
        *len_out = 12;
        return (const char *)h;
    }
    put32(h, 1);
    put32(h + 4, a->has_null ? 1 : 0);
    put32(h + 12, (uint32_t)a->n);
    put32(h + 16, 1);
    *len_out = (int)a->buf.len;
    return (const char *)h;
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
                    const apply_params_t *params, PGresult **res_out, ps_err_class_t *class_out,
                    char *errstr, size_t errstr_size)
{
    PGresult *res;
    ExecStatusType st;
    int64_t t0_us = -1;
    ps_err_t err;

    for (int i = 0; i < nparams; i++) {
        if (params->values[i] == NULL) /* only arrays past their bound are NULL here */
            return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                                 "could not %s: parameter %d exceeds %d bytes", what, i + 1,
                                 PS_APPLY_STMT_BYTES_MAX);
    }
    /* At debug level each statement's round trip is logged: the apply's
     * cost is server-side, and this is how a batch is profiled. */
    if (ps_log_get_level() <= PS_LOG_DEBUG)
        t0_us = mono_us();
    res = PQexecParams(conn, sql, nparams, NULL, params->values, params->lengths,
                       params->formats, 0);
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
