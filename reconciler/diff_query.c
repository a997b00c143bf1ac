/*
 * The diff itself (diff.h): one FULL OUTER JOIN of the staged statement
 * (payments and refunds, keyed by order number and refund id, "" for
 * payments) with the ledger side:
 *   - the channel's payments paid within [start - tol, end + tol): the edge
 *     tolerance lets a payment stamped just across midnight by one side match
 *     its statement row in the neighbouring window
 *   - for each staged refund, its payment (whatever its time: refunds come
 *     days after the payment) and its payment_refunds row, by index
 * Rows that match trivially (both sides, credited, same currency, amounts
 * within the tolerance) and ledger-only rows that belong to a neighbouring
 * window (paid outside [start, end)) or carry no credit are filtered in the
 * database, so only discrepancy candidates cross the wire. The C classifier
 * (classify.c) makes every final decision; the SQL filter only has to be a
 * superset of its non-matched cases.
 */
#include "diff.h"

#include <paystream/assert.h>
#include <paystream/limits.h>
#include <paystream/mem.h>
#include <paystream/pg.h>
#include <paystream/timeparse.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char diff_sql[] =
    "WITH st AS ("
    " SELECT key, ''::text AS rid, txn, amount_minor, currency, time_us, closed"
    "   FROM pg_temp.recon_stage"
    " UNION ALL"
    " SELECT key, refund_id, txn, amount_minor, currency, time_us, false"
    "   FROM pg_temp.recon_stage_refund"
    "), led AS ("
    " SELECT p.merchant_order_no AS key, ''::text AS rid, p.channel_txn_id AS txn, p.state,"
    "        p.amount_minor, p.refunded_minor, p.currency::text AS currency, p.account_id,"
    "        p.paid_time, NULL::text AS rstate, NULL::bigint AS ramount"
    "   FROM payments p"
    "  WHERE p.channel = $1 AND p.paid_time >= $4 AND p.paid_time < $5"
    " UNION ALL"
    " SELECT s.key, s.refund_id, p.channel_txn_id, p.state, p.amount_minor, p.refunded_minor,"
    "        p.currency::text, p.account_id, p.paid_time, r.state, r.amount_minor"
    "   FROM pg_temp.recon_stage_refund s"
    "   JOIN payments p ON p.channel = $1 AND p.merchant_order_no = s.key"
    "   LEFT JOIN payment_refunds r ON r.channel = $1 AND r.merchant_order_no = s.key"
    "        AND r.refund_id = s.refund_id"
    ")"
    " SELECT coalesce(s.key, l.key), coalesce(s.rid, l.rid), coalesce(s.txn, l.txn),"
    "        s.key IS NOT NULL, s.amount_minor, s.currency, s.time_us, s.closed,"
    "        l.key IS NOT NULL, l.state, l.amount_minor, l.refunded_minor, l.currency,"
    "        l.account_id, (extract(epoch FROM l.paid_time) * 1000000)::bigint,"
    "        l.rstate, l.ramount"
    "   FROM st s FULL JOIN led l ON s.key = l.key AND s.rid = l.rid"
    "  WHERE NOT (s.key IS NOT NULL AND l.key IS NOT NULL AND s.rid = '' AND NOT s.closed"
    "             AND l.state IN ('PAID', 'PARTIALLY_REFUNDED', 'REFUNDED')"
    "             AND s.currency = l.currency"
    "             AND abs(s.amount_minor - l.amount_minor) <= $6)"
    "    AND NOT (s.key IS NULL AND (l.paid_time < $2 OR l.paid_time >= $3"
    "             OR l.state NOT IN ('PAID', 'PARTIALLY_REFUNDED', 'REFUNDED')))"
    "  ORDER BY 1, 2";

enum {
    F_KEY, F_RID, F_TXN, F_HAS_STMT, F_S_AMOUNT, F_S_CURRENCY, F_S_TIME, F_S_CLOSED,
    F_HAS_LEDGER, F_L_STATE, F_L_AMOUNT, F_L_REFUNDED, F_L_CURRENCY, F_L_ACCOUNT, F_L_PAID_US,
    F_L_RSTATE, F_L_RAMOUNT, F_COUNT
};

static int64_t get_i64(const PGresult *res, int r, int c)
{
    return PQgetisnull(res, r, c) ? 0 : strtoll(PQgetvalue(res, r, c), NULL, 10);
}

static bool get_bool(const PGresult *res, int r, int c)
{
    return !PQgetisnull(res, r, c) && PQgetvalue(res, r, c)[0] == 't';
}

static char *get_str(const PGresult *res, int r, int c)
{
    return PQgetisnull(res, r, c) ? NULL : ps_strdup(PQgetvalue(res, r, c));
}

static void copy_fixed(char *dst, size_t size, const PGresult *res, int r, int c)
{
    snprintf(dst, size, "%s", PQgetisnull(res, r, c) ? "" : PQgetvalue(res, r, c));
}

static void read_pair(const PGresult *res, int r, recon_pair_t *p)
{
    p->payment_key = ps_strdup(PQgetvalue(res, r, F_KEY));
    p->refund_id = ps_strdup(PQgetvalue(res, r, F_RID));
    p->channel_txn_id = get_str(res, r, F_TXN);
    p->has_stmt = get_bool(res, r, F_HAS_STMT);
    p->stmt_amount_minor = get_i64(res, r, F_S_AMOUNT);
    copy_fixed(p->stmt_currency, sizeof(p->stmt_currency), res, r, F_S_CURRENCY);
    p->stmt_time_us = get_i64(res, r, F_S_TIME);
    p->stmt_closed = get_bool(res, r, F_S_CLOSED);
    p->has_ledger = get_bool(res, r, F_HAS_LEDGER);
    copy_fixed(p->ledger_state, sizeof(p->ledger_state), res, r, F_L_STATE);
    p->ledger_amount_minor = get_i64(res, r, F_L_AMOUNT);
    p->ledger_refunded_minor = get_i64(res, r, F_L_REFUNDED);
    copy_fixed(p->ledger_currency, sizeof(p->ledger_currency), res, r, F_L_CURRENCY);
    p->account_id = get_str(res, r, F_L_ACCOUNT);
    p->ledger_has_paid_time = !PQgetisnull(res, r, F_L_PAID_US);
    p->ledger_paid_time_us = get_i64(res, r, F_L_PAID_US);
    copy_fixed(p->ledger_refund_state, sizeof(p->ledger_refund_state), res, r, F_L_RSTATE);
    p->ledger_refund_minor = get_i64(res, r, F_L_RAMOUNT);
}

ps_err_t recon_diff_session(PGconn *conn, int64_t work_mem_mb, char *errstr, size_t errstr_size)
{
    char sql[256];
    ps_err_t err;

    /* JIT compiles this one-off query for about a second, longer than it
     * saves; a merge join would sort both million-row sides, a hash join
     * reads each once. */
    err = ps_pg_exec(conn, "SET jit = off; SET enable_mergejoin = off", errstr, errstr_size);
    if (err != PS_OK || work_mem_mb <= 0)
        return err;
    /* temp_buffers only takes effect before the session's first temporary
     * table: it keeps the staging tables in memory instead of local files. */
    snprintf(sql, sizeof(sql), "SET work_mem = '%lldMB'; SET temp_buffers = '%lldMB'",
             (long long)work_mem_mb, (long long)work_mem_mb);
    return ps_pg_exec(conn, sql, errstr, errstr_size);
}

ps_err_t recon_diff_query(PGconn *conn, const recon_diff_params_t *dp, recon_pair_t **pairs_out,
                          size_t *n_out, char *errstr, size_t errstr_size)
{
    char start[40], end[40], lo[40], hi[40], tol[32];
    const char *params[6] = {ps_channel_name(dp->channel), start, end, lo, hi, tol};
    PGresult *res = NULL;
    recon_pair_t *pairs = NULL;
    ps_err_t err;

    ps_time_format_utc(dp->window_start_us, start, sizeof(start));
    ps_time_format_utc(dp->window_end_us, end, sizeof(end));
    ps_time_format_utc(dp->window_start_us - dp->edge_tolerance_us, lo, sizeof(lo));
    ps_time_format_utc(dp->window_end_us + dp->edge_tolerance_us, hi, sizeof(hi));
    snprintf(tol, sizeof(tol), "%lld", (long long)dp->tolerance_minor);
    err = ps_pg_exec_params(conn, diff_sql, 6, params, &res, errstr, errstr_size);
    if (err != PS_OK) {
        ps_errstr_prefix(errstr, errstr_size, err, "could not diff the statement against the "
                                                   "ledger");
        goto out;
    }
    int n = PQntuples(res);
    if (n > PS_RECON_DIFF_ROWS_MAX) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                            "diff found %d discrepancy candidates, more than the bound %d", n,
                            PS_RECON_DIFF_ROWS_MAX);
        goto out;
    }
    pairs = ps_calloc(n > 0 ? (size_t)n : 1, sizeof(*pairs));
    for (int r = 0; r < n; r++)
        read_pair(res, r, &pairs[r]);
    *pairs_out = pairs;
    pairs = NULL;
    *n_out = (size_t)n;
out:
    PQclear(res);
    return err;
}

void recon_pairs_free(recon_pair_t *pairs, size_t n)
{
    if (pairs == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        recon_pair_deinit(&pairs[i]);
    ps_free(pairs);
}
