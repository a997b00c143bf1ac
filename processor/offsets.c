/*
 * Offsets in PostgreSQL with owner-token fencing (see offsets.h and
 * docs/ARCHITECTURE.md, section 4). Each operation is one statement over
 * arrays (unnest), so a batch touching eight partitions costs one round trip,
 * not eight, and the claim of a whole assignment is a single transaction.
 */
#include "offsets.h"

#include <paystream/assert.h>
#include <paystream/buf.h>
#include <paystream/limits.h>
#include <paystream/mem.h>
#include <paystream/pg.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Array literal text: per element a quoted topic or a 20-digit number. */
#define OFFSETS_ARRAY_BYTES_MAX (PS_PROC_PARTITIONS_MAX * (2 * PS_PROC_TOPIC_BYTES_MAX + 4))

typedef enum col { COL_TOPIC, COL_PARTITION, COL_TOKEN, COL_NEXT, COL_NEW_NEXT, COL_COUNT } col_t;

/* Appends offs[*].<col> as a PostgreSQL array literal: {"a","b"} or {1,2}. */
static ps_err_t array_literal(ps_buf_t *out, const proc_offset_t *offs, size_t n, col_t col)
{
    ps_err_t err = ps_buf_append_str(out, "{");

    for (size_t i = 0; i < n && err == PS_OK; i++) {
        if (i > 0)
            err = ps_buf_append_str(out, ",");
        if (err != PS_OK)
            break;
        switch (col) {
        case COL_TOPIC:
            /* Quote every element: the text could otherwise be read as NULL. */
            err = ps_buf_append_str(out, "\"");
            for (const char *p = offs[i].topic; err == PS_OK && *p != '\0'; p++) {
                if (*p == '"' || *p == '\\')
                    err = ps_buf_append_str(out, "\\");
                if (err == PS_OK)
                    err = ps_buf_append(out, p, 1);
            }
            if (err == PS_OK)
                err = ps_buf_append_str(out, "\"");
            break;
        case COL_PARTITION: err = ps_buf_appendf(out, "%" PRId32, offs[i].partition); break;
        case COL_TOKEN: err = ps_buf_appendf(out, "%" PRId64, offs[i].token); break;
        case COL_NEXT: err = ps_buf_appendf(out, "%" PRId64, offs[i].next_offset); break;
        case COL_NEW_NEXT: err = ps_buf_appendf(out, "%" PRId64, offs[i].new_next); break;
        default: PS_ASSERT(!"unknown column");
        }
    }
    if (err == PS_OK)
        err = ps_buf_append_str(out, "}");
    return err;
}

/* Fills arrays[0..ncols) (initialized by the caller) for the listed columns. */
static ps_err_t build_arrays(ps_buf_t *arrays, const col_t *cols, size_t ncols,
                             const proc_offset_t *offs, size_t n, char *errstr,
                             size_t errstr_size)
{
    if (n == 0 || n > PS_PROC_PARTITIONS_MAX)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "%zu partitions given, expected 1 to %d (PS_PROC_PARTITIONS_MAX)",
                             n, PS_PROC_PARTITIONS_MAX);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(offs[i].topic);
        if (len == 0 || len >= PS_PROC_TOPIC_BYTES_MAX || offs[i].partition < 0)
            return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                                 "invalid partition %" PRId32 " of topic \"%.64s\"",
                                 offs[i].partition, offs[i].topic);
    }
    for (size_t c = 0; c < ncols; c++) {
        if (array_literal(&arrays[c], offs, n, cols[c]) != PS_OK)
            return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                                 "offset arrays larger than %d bytes", OFFSETS_ARRAY_BYTES_MAX);
    }
    return PS_OK;
}

/* Index of (topic, partition) in offs, or n. */
static size_t find(const proc_offset_t *offs, size_t n, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < n; i++) {
        if (offs[i].partition == partition && strcmp(offs[i].topic, topic) == 0)
            return i;
    }
    return n;
}

static int64_t get_i64(const PGresult *res, int row, int col)
{
    return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/*
 * Runs sql with $1 = group, $2 = extra (may be NULL: not passed) and the
 * arrays of cols, returning the result (owned by the caller) in *res_out.
 */
static ps_err_t run_arrays(PGconn *conn, const char *sql, const char *group, const char *extra,
                           const col_t *cols, size_t ncols, const proc_offset_t *offs, size_t n,
                           PGresult **res_out, char *errstr, size_t errstr_size)
{
    ps_buf_t arrays[COL_COUNT];
    const char *params[2 + COL_COUNT];
    int nparams = 0;
    ps_err_t err;

    PS_ASSERT(ncols <= COL_COUNT);
    for (size_t c = 0; c < ncols; c++)
        ps_buf_init(&arrays[c], OFFSETS_ARRAY_BYTES_MAX);
    err = build_arrays(arrays, cols, ncols, offs, n, errstr, errstr_size);
    if (err != PS_OK)
        goto out;
    params[nparams++] = group;
    if (extra != NULL)
        params[nparams++] = extra;
    for (size_t c = 0; c < ncols; c++)
        params[nparams++] = (const char *)arrays[c].data;
    err = ps_pg_exec_params(conn, sql, nparams, params, res_out, errstr, errstr_size);
out:
    for (size_t c = 0; c < ncols; c++)
        ps_buf_deinit(&arrays[c]);
    return err;
}

static const char claim_sql[] =
    "INSERT INTO kafka_offsets AS o"
    " (consumer_group, topic, partition, next_offset, owner_token, owner)"
    " SELECT $1, u.t, u.p, -2, 1, $2 FROM unnest($3::text[], $4::integer[]) AS u(t, p)"
    " ORDER BY u.t, u.p"
    " ON CONFLICT (consumer_group, topic, partition) DO UPDATE"
    " SET owner_token = o.owner_token + 1, owner = EXCLUDED.owner, updated_at = now()"
    " RETURNING o.topic, o.partition, o.next_offset, o.owner_token";

/* Copies next_offset and token from rows (topic, partition, next, token) into offs. */
static ps_err_t take_rows(const PGresult *res, proc_offset_t *offs, size_t n, char *errstr,
                          size_t errstr_size)
{
    bool *seen = ps_calloc(n, sizeof(bool));
    ps_err_t err = PS_OK;

    for (int row = 0; row < PQntuples(res); row++) {
        size_t i = find(offs, n, PQgetvalue(res, row, 0), (int32_t)get_i64(res, row, 1));
        if (i == n)
            continue;
        offs[i].next_offset = get_i64(res, row, 2);
        offs[i].token = get_i64(res, row, 3);
        seen[i] = true;
    }
    for (size_t i = 0; i < n; i++) {
        if (!seen[i]) {
            err = ps_errstr_set(errstr, errstr_size, PS_ERR_NOT_FOUND,
                                "no stored offset for partition %" PRId32 " of topic \"%s\"",
                                offs[i].partition, offs[i].topic);
            break;
        }
    }
    ps_free(seen);
    return err;
}

ps_err_t proc_offsets_claim(PGconn *conn, const char *group, const char *owner,
                            proc_offset_t *offs, size_t n, char *errstr, size_t errstr_size)
{
    static const col_t cols[] = {COL_TOPIC, COL_PARTITION};
    PGresult *res = NULL;
    ps_err_t err;

    PS_ASSERT(conn != NULL && group != NULL && owner != NULL && offs != NULL);
    err = run_arrays(conn, claim_sql, group, owner, cols, 2, offs, n, &res, errstr, errstr_size);
    if (err == PS_OK)
        err = take_rows(res, offs, n, errstr, errstr_size);
    PQclear(res);
    if (err != PS_OK)
        return ps_errstr_prefix(errstr, errstr_size, err,
                                "could not claim offsets of group \"%s\"", group);
    return PS_OK;
}

static const char cas_sql[] =
    "UPDATE kafka_offsets AS o SET next_offset = u.new_next, updated_at = now()"
    " FROM unnest($2::text[], $3::integer[], $4::bigint[], $5::bigint[], $6::bigint[])"
    " AS u(t, p, tok, expected, new_next)"
    " WHERE o.consumer_group = $1 AND o.topic = u.t AND o.partition = u.p"
    " AND o.owner_token = u.tok AND o.next_offset = u.expected"
    " RETURNING o.topic, o.partition";

ps_err_t proc_offsets_cas(PGconn *conn, const char *group, const proc_offset_t *offs, size_t n,
                          size_t *fenced_index_out, char *errstr, size_t errstr_size)
{
    static const col_t cols[] = {COL_TOPIC, COL_PARTITION, COL_TOKEN, COL_NEXT, COL_NEW_NEXT};
    PGresult *res = NULL;
    bool *matched = NULL;
    ps_err_t err;

    PS_ASSERT(conn != NULL && group != NULL && offs != NULL);
    for (size_t i = 0; i < n; i++)
        PS_ASSERT(offs[i].new_next >= 0);
    err = run_arrays(conn, cas_sql, group, NULL, cols, 5, offs, n, &res, errstr, errstr_size);
    if (err != PS_OK) {
        err = ps_errstr_prefix(errstr, errstr_size, err,
                               "could not store offsets of group \"%s\"", group);
        goto out;
    }
    if ((size_t)PQntuples(res) == n)
        goto out;
    matched = ps_calloc(n, sizeof(bool));
    for (int row = 0; row < PQntuples(res); row++) {
        size_t i = find(offs, n, PQgetvalue(res, row, 0), (int32_t)get_i64(res, row, 1));
        if (i < n)
            matched[i] = true;
    }
    for (size_t i = 0; i < n; i++) {
        if (matched[i])
            continue;
        if (fenced_index_out != NULL)
            *fenced_index_out = i;
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_FENCED,
                            "fenced on partition %" PRId32 " of topic \"%s\": the stored offset "
                            "is no longer %" PRId64 " with owner token %" PRId64
                            " (another instance claimed the partition)",
                            offs[i].partition, offs[i].topic, offs[i].next_offset,
                            offs[i].token);
        break;
    }
out:
    ps_free(matched);
    PQclear(res);
    return err;
}

static const char read_sql[] =
    "SELECT o.topic, o.partition, o.next_offset, o.owner_token FROM kafka_offsets o"
    " JOIN unnest($2::text[], $3::integer[]) AS u(t, p) ON o.topic = u.t AND o.partition = u.p"
    " WHERE o.consumer_group = $1";

ps_err_t proc_offsets_read(PGconn *conn, const char *group, proc_offset_t *offs, size_t n,
                           char *errstr, size_t errstr_size)
{
    static const col_t cols[] = {COL_TOPIC, COL_PARTITION};
    PGresult *res = NULL;
    ps_err_t err;

    PS_ASSERT(conn != NULL && group != NULL && offs != NULL);
    err = run_arrays(conn, read_sql, group, NULL, cols, 2, offs, n, &res, errstr, errstr_size);
    if (err == PS_OK)
        err = take_rows(res, offs, n, errstr, errstr_size);
    PQclear(res);
    if (err != PS_OK)
        return ps_errstr_prefix(errstr, errstr_size, err,
                                "could not read offsets of group \"%s\"", group);
    return PS_OK;
}
