/*
 * What a run writes to PostgreSQL (run_int.h): the run row, its diff rows
 * and its planned commands in one transaction, so that the database never
 * holds a run without its findings or planned commands without their run.
 * Diff rows travel as array parameters of one INSERT (pgarr.h), not one
 * statement per row.
 */
#include "run_int.h"

#include "pgarr.h"

#include <paystream/limits.h>
#include <paystream/pg.h>
#include <paystream/timeparse.h>

#include <stdio.h>
#include <string.h>

ps_err_t recon_record_find_done(PGconn *conn, ps_channel_t channel, const char *sha256_hex,
                                char *prev_id, size_t prev_id_size, char *errstr,
                                size_t errstr_size)
{
    static const char sql[] =
        "SELECT id FROM recon_runs WHERE channel = $1 AND statement_sha256 = $2"
        " AND status = 'SUCCEEDED' AND pending_rows = 0 ORDER BY started_at DESC LIMIT 1";
    const char *params[2] = {ps_channel_name(channel), sha256_hex};
    PGresult *res = NULL;
    ps_err_t err = ps_pg_exec_params(conn, sql, 2, params, &res, errstr, errstr_size);

    if (err != PS_OK)
        return ps_errstr_prefix(errstr, errstr_size, err, "could not look up earlier runs");
    snprintf(prev_id, prev_id_size, "%s", PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
    return PS_OK;
}

ps_err_t recon_record_emitting(PGconn *conn, ps_channel_t channel,
                               char (*ids)[PS_RECON_RUN_ID_BYTES], size_t *n_out, char *errstr,
                               size_t errstr_size)
{
    static const char sql[] = "SELECT id FROM recon_runs WHERE channel = $1 AND status = "
                              "'EMITTING' ORDER BY started_at, id LIMIT $2";
    char limit[16];
    const char *params[2] = {ps_channel_name(channel), limit};
    PGresult *res = NULL;
    ps_err_t err;

    snprintf(limit, sizeof(limit), "%d", PS_RECON_RECOVER_RUNS_MAX);
    err = ps_pg_exec_params(conn, sql, 2, params, &res, errstr, errstr_size);
    if (err != PS_OK)
        return ps_errstr_prefix(errstr, errstr_size, err, "could not look for unfinished runs");
    *n_out = (size_t)PQntuples(res);
    for (size_t i = 0; i < *n_out; i++)
        snprintf(ids[i], PS_RECON_RUN_ID_BYTES, "%s", PQgetvalue(res, (int)i, 0));
    PQclear(res);
    return PS_OK;
}

static const char *run_status(const recon_result_t *r, size_t n)
{
    if (r->outcome == RECON_OUT_HALTED)
        return "HALTED";
    return n > 0 ? "EMITTING" : "SUCCEEDED";
}

ps_err_t recon_record_offsets(PGconn *conn, const char *run_id, char *out, size_t out_size,
                              char *errstr, size_t errstr_size)
{
    const char *params[1] = {run_id};
    PGresult *res = NULL;
    ps_err_t err = ps_pg_exec_params(conn,
                                     "SELECT coalesce(kafka_start_offsets, '') FROM recon_runs "
                                     "WHERE id = $1",
                                     1, params, &res, errstr, errstr_size);

    if (err != PS_OK)
        return ps_errstr_prefix(errstr, errstr_size, err, "could not read run \"%s\"", run_id);
    snprintf(out, out_size, "%s", PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
    return PS_OK;
}

static ps_err_t insert_run(PGconn *conn, const recon_result_t *r, const char *kafka_offsets,
                           size_t n, char *errstr, size_t errstr_size)
{
    static const char sql[] =
        "INSERT INTO recon_runs (id, channel, window_start, window_end, statement_sha256,"
        " status, statement_rows, ledger_rows, matched_rows, diff_rows, statement_format,"
        " pending_rows, commands_planned, halt_reason, kafka_start_offsets, finished_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,"
        "         CASE WHEN $6 = 'EMITTING' THEN NULL ELSE now() END)";
    char start[40], end[40], num[6][24];
    const char *status = run_status(r, n);
    int64_t stmt_rows = r->stage.payment_rows + r->stage.refund_rows;
    int64_t ledger_rows = r->tally[RECON_MATCHED].rows + r->tally[RECON_MISSING_IN_STATEMENT].rows;
    int64_t v[6] = {stmt_rows, ledger_rows, r->tally[RECON_MATCHED].rows,
                    (int64_t)r->pair_count, r->tally[RECON_TALLY_PENDING].rows, (int64_t)n};
    const char *params[15] = {r->run_id, ps_channel_name(r->channel), start, end,
                              r->meta.sha256_hex, status, num[0], num[1], num[2], num[3],
                              recon_format_name(r->meta.format), num[4], num[5],
                              r->outcome == RECON_OUT_HALTED ? r->halt_reason : NULL,
                              kafka_offsets};

    ps_time_format_utc(r->window_start_us, start, sizeof(start));
    ps_time_format_utc(r->window_end_us, end, sizeof(end));
    for (int i = 0; i < 6; i++)
        snprintf(num[i], sizeof(num[i]), "%lld", (long long)v[i]);
    ps_err_t err = ps_pg_exec_params(conn, sql, 15, params, NULL, errstr, errstr_size);
    if (err != PS_OK)
        ps_errstr_prefix(errstr, errstr_size, err, "could not record run \"%s\"", r->run_id);
    return err;
}

#define DIFF_ARRAYS 11

static const char diffs_sql[] =
    "INSERT INTO recon_diffs (run_id, diff_class, payment_key, refund_id,"
    " statement_amount_minor, ledger_amount_minor, currency, command_id, state, pending,"
    " command_kind, command_amount_minor)"
    " SELECT $1, d.cls, d.key, d.rid, d.s, d.l, d.cur, d.cmd, d.state, d.pending, d.kind, d.amt"
    "   FROM unnest($2::text[], $3::text[], $4::text[], $5::int8[], $6::int8[], $7::text[],"
    "               $8::text[], $9::text[], $10::bool[], $11::text[], $12::int8[])"
    "        AS d(cls, key, rid, s, l, cur, cmd, state, pending, kind, amt)"
    " ON CONFLICT DO NOTHING";

static const char *diff_state(const recon_pair_t *p)
{
    if (p->action == RECON_ACT_RESOLVED)
        return "RESOLVED";
    return p->command_id[0] != '\0' ? "COMMANDED" : "OPEN";
}

static ps_err_t diff_arrays(recon_pgarr_t *a, const recon_result_t *r)
{
    ps_err_t err = PS_OK;

    for (size_t i = 0; err == PS_OK && i < r->pair_count; i++) {
        const recon_pair_t *p = &r->pairs[i];
        bool cmd = p->command_id[0] != '\0';
        bool refund = p->refund_id[0] != '\0';
        err = recon_pgarr_text(&a[0], recon_class_name(p->cls));
        err = err ? err : recon_pgarr_text(&a[1], p->payment_key);
        err = err ? err : recon_pgarr_text(&a[2], p->refund_id);
        err = err ? err : (p->has_stmt ? recon_pgarr_int(&a[3], p->stmt_amount_minor)
                                       : recon_pgarr_text(&a[3], NULL));
        err = err ? err : (p->has_ledger ? recon_pgarr_int(&a[4], refund ? p->ledger_refund_minor
                                                                          : p->ledger_amount_minor)
                                         : recon_pgarr_text(&a[4], NULL));
        err = err ? err : recon_pgarr_text(&a[5], p->has_stmt ? p->stmt_currency
                                                              : p->ledger_currency);
        err = err ? err : recon_pgarr_text(&a[6], cmd ? p->command_id : NULL);
        err = err ? err : recon_pgarr_text(&a[7], diff_state(p));
        err = err ? err : recon_pgarr_text(&a[8], p->action == RECON_ACT_PENDING ? "t" : "f");
        err = err ? err : recon_pgarr_text(&a[9], cmd ? ps_command_kind_name(p->cmd_kind) : NULL);
        err = err ? err : (cmd ? recon_pgarr_int(&a[10], p->cmd_amount_minor)
                               : recon_pgarr_text(&a[10], NULL));
    }
    return err;
}

static ps_err_t insert_diffs(PGconn *conn, const recon_result_t *r, char *errstr,
                             size_t errstr_size)
{
    recon_pgarr_t a[DIFF_ARRAYS];
    const char *params[DIFF_ARRAYS + 1] = {r->run_id};
    ps_err_t err;

    if (r->pair_count == 0)
        return PS_OK;
    for (int i = 0; i < DIFF_ARRAYS; i++)
        recon_pgarr_init(&a[i], PS_RECON_REPORT_BYTES_MAX);
    err = diff_arrays(a, r);
    for (int i = 0; err == PS_OK && i < DIFF_ARRAYS; i++)
        if ((params[i + 1] = recon_pgarr_finish(&a[i])) == NULL)
            err = PS_ERR_TOO_LARGE;
    if (err != PS_OK)
        err = ps_errstr_set(errstr, errstr_size, err, "diff rows exceed %zu bytes",
                            (size_t)PS_RECON_REPORT_BYTES_MAX);
    else
        err = ps_pg_exec_params(conn, diffs_sql, DIFF_ARRAYS + 1, params, NULL, errstr,
                                errstr_size);
    if (err != PS_OK)
        ps_errstr_prefix(errstr, errstr_size, err, "could not record diff rows");
    for (int i = 0; i < DIFF_ARRAYS; i++)
        recon_pgarr_deinit(&a[i]);
    return err;
}

ps_err_t recon_record_run(PGconn *conn, const recon_result_t *r, const char *kafka_offsets,
                          const ps_ledger_command_t *cmds, size_t n, bool *is_new, char *errstr,
                          size_t errstr_size)
{
    char ignored[PS_ERRSTR_SIZE];
    ps_err_t err = ps_pg_exec(conn, "BEGIN", errstr, errstr_size);

    if (err != PS_OK)
        return err;
    err = insert_run(conn, r, kafka_offsets, n, errstr, errstr_size);
    if (err == PS_OK)
        err = insert_diffs(conn, r, errstr, errstr_size);
    if (err == PS_OK && n > 0)
        err = recon_commands_plan(conn, r->run_id, cmds, n, is_new, errstr, errstr_size);
    if (err == PS_OK)
        err = ps_pg_exec(conn, "COMMIT", errstr, errstr_size);
    if (err != PS_OK)
        (void)ps_pg_exec(conn, "ROLLBACK", ignored, sizeof(ignored));
    return err;
}
