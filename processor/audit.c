/*
 * The ledger audit and digest (audit.h). Each invariant is one SQL query
 * whose rows are the violations, already worded as messages; the digest
 * streams a canonical dump (single-row mode, so memory stays flat) through
 * SHA-256. Both run in one REPEATABLE READ, READ ONLY snapshot so that the
 * checks and the digest describe the same ledger even while the processor
 * keeps applying.
 */
#include "audit.h"

#include <paystream/assert.h>
#include <paystream/mem.h>
#include <paystream/pg.h>

#include <openssl/evp.h>

#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

typedef struct check {
    const char *name;
    const char *sql; /* rows: one text column, the failure message */
} check_t;

/* Refund journals are keyed by their effect (002): "<CH>:<order>:REFUND:<id>". */
#define REFUND_KEY(kind) "r.channel || ':' || r.merchant_order_no || ':" kind ":' || r.refund_id"

/* A journal is one transfer row (007): amount_minor on account_id, its
 * negation on contra_account_id. The checks read that row, never the
 * ledger_entries view, so a redefined view cannot hide anything from them. */
static const check_t checks[] = {
    {"journals balance",
     "SELECT format('journal %s (%s) is not a balanced transfer: %s from %L to %L in %L', id, "
     "source_id, coalesce(amount_minor::text, 'no amount'), account_id, contra_account_id, "
     "currency) FROM journals WHERE amount_minor IS NULL OR amount_minor = 0 "
     "OR account_id IS NULL OR contra_account_id IS NULL OR currency IS NULL ORDER BY id"},
    {"journals name existing accounts",
     "SELECT format('journal %s names missing account %L in %L', j.id, l.account_id, "
     "j.currency) FROM journals j CROSS JOIN LATERAL (VALUES (j.account_id), "
     "(j.contra_account_id)) AS l(account_id) "
     "LEFT JOIN accounts a ON a.account_id = l.account_id AND a.currency = j.currency "
     "WHERE a.account_id IS NULL ORDER BY 1"},
    {"balances equal the sum of their lines",
     "SELECT format('account \"%s\" (%s) balance %s differs from the sum of its lines %s', "
     "a.account_id, a.currency, a.balance_minor, coalesce(s.total, 0)) FROM accounts a "
     "LEFT JOIN (SELECT l.account_id, j.currency, sum(l.amount_minor) AS total FROM journals j "
     "CROSS JOIN LATERAL (VALUES (j.account_id, j.amount_minor), "
     "(j.contra_account_id, -j.amount_minor)) AS l(account_id, amount_minor) "
     "GROUP BY 1, 2) s ON s.account_id = a.account_id AND s.currency = a.currency "
     "WHERE a.balance_minor <> coalesce(s.total, 0) ORDER BY 1"},
    {"nothing applied twice",
     "SELECT format('event %s:%s applied %s times', channel, channel_event_id, count(*)) "
     "FROM payment_events GROUP BY channel, channel_event_id HAVING count(*) > 1 "
     "UNION ALL SELECT format('command %s applied %s times', command_id, count(*)) "
     "FROM ledger_commands GROUP BY command_id HAVING count(*) > 1 "
     "UNION ALL SELECT format('journal source %s:%s posted %s times', source_kind, source_id, "
     "count(*)) FROM journals GROUP BY source_kind, source_id HAVING count(*) > 1 "
     "UNION ALL SELECT format('effect %s posted %s times', effect, count(*)) FROM journals "
     "WHERE effect IS NOT NULL GROUP BY effect HAVING count(*) > 1"},
    {"paid payments have one PAY journal of their amount",
     "WITH pay AS (SELECT j.effect, -j.amount_minor AS amount_minor FROM journals j "
     "WHERE j.effect LIKE 'PAY:%') "
     "SELECT format('payment %s:%s (%s, paid %s, amount %s) has %s PAY journal(s) of %s', "
     "p.channel, p.merchant_order_no, p.state, p.is_paid, p.amount_minor, count(pay.effect), "
     "coalesce(sum(pay.amount_minor), 0)) FROM payments p LEFT JOIN pay "
     "ON pay.effect = 'PAY:' || p.channel || ':' || p.merchant_order_no "
     "GROUP BY p.channel, p.merchant_order_no "
     "HAVING count(pay.effect) <> CASE WHEN p.is_paid AND p.amount_minor > 0 THEN 1 ELSE 0 END "
     "OR coalesce(sum(pay.amount_minor), 0) <> CASE WHEN p.is_paid THEN p.amount_minor "
     "ELSE 0 END ORDER BY 1"},
    {"refunded amounts equal the posted refunds",
     "SELECT format('payment %s:%s refunded_minor %s differs from its posted refunds %s', "
     "p.channel, p.merchant_order_no, p.refunded_minor, coalesce(r.total, 0)) FROM payments p "
     "LEFT JOIN (SELECT channel, merchant_order_no, sum(amount_minor) AS total "
     "FROM payment_refunds WHERE state = 'POSTED' GROUP BY 1, 2) r "
     "ON r.channel = p.channel AND r.merchant_order_no = p.merchant_order_no "
     "WHERE p.refunded_minor <> coalesce(r.total, 0) ORDER BY 1"},
    {"refunds agree with their journals",
     "SELECT format('refund %s:%s:%s (%s, amount %s, posted %s) has REFUND journal %s and "
     "REFUND_REVERSED journal %s', r.channel, r.merchant_order_no, r.refund_id, r.state, "
     "r.amount_minor, r.posted, coalesce(jr.amount_minor::text, 'none'), "
     "coalesce(jv.amount_minor::text, 'none')) FROM payment_refunds r "
     "LEFT JOIN journals jr ON jr.source_kind = 'CALLBACK_EVENT' AND jr.source_id = "
     REFUND_KEY("REFUND") " "
     
     "LEFT JOIN journals jv ON jv.source_kind = 'CALLBACK_EVENT' AND jv.source_id = "
     REFUND_KEY("REFUND_REVERSED") " "
     
     "WHERE r.posted <> (jr.amount_minor IS NOT NULL) "
     "OR (r.posted AND jr.amount_minor <> r.amount_minor) "
     "OR (r.posted AND r.state = 'REVERSED') <> (jv.amount_minor IS NOT NULL) "
     "OR jv.amount_minor <> -r.amount_minor ORDER BY 1"},
};

/* The canonical dump, in this order; rows ordered bytewise (COLLATE "C"). */
static const char *const digest_sql[] = {
    "SELECT l FROM (SELECT format('A|%L|%L|%L|%s', account_id, currency, kind, balance_minor) "
    "AS l FROM accounts) s ORDER BY l COLLATE \"C\"",
    "SELECT l FROM (SELECT format('P|%L|%L|%L|%L|%s|%s|%L|%L|%s|%s|%s|%s', channel, "
    "merchant_order_no, channel_txn_id, state, amount_minor, refunded_minor, currency, "
    "account_id, is_paid, is_closed, refund_total_minor, "
    "(extract(epoch FROM paid_time) * 1000000)::bigint) AS l FROM payments) s "
    "ORDER BY l COLLATE \"C\"",
    "SELECT l FROM (SELECT format('R|%L|%L|%L|%s|%L|%s', channel, merchant_order_no, refund_id, "
    "amount_minor, state, posted) AS l FROM payment_refunds) s ORDER BY l COLLATE \"C\"",
    /* Both lines, as the two-row ledger of 001-006 printed them, so that
     * digests taken before and after 007 compare. */
    "SELECT l FROM (SELECT format('J|%L|%L:%L:%s,%L:%L:%s', coalesce(effect, source_kind || ':' "
    "|| source_id), account_id, currency, amount_minor, contra_account_id, currency, "
    "-amount_minor) AS l FROM journals) s ORDER BY l COLLATE \"C\"",
};

/* Opens a consistent read-only snapshot unless the caller has a transaction. */
static ps_err_t snapshot_begin(PGconn *conn, bool *own, char *errstr, size_t errstr_size)
{
    *own = PQtransactionStatus(conn) == PQTRANS_IDLE;
    if (!*own)
        return PS_OK;
    return ps_pg_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", errstr,
                      errstr_size);
}

static void snapshot_end(PGconn *conn, bool own)
{
    char ignored[PS_ERRSTR_SIZE];

    if (own)
        ps_pg_exec(conn, PQtransactionStatus(conn) == PQTRANS_INERROR ? "ROLLBACK" : "COMMIT",
                   ignored, sizeof(ignored));
}

/* Streams one query's rows (single-row mode) into md; counts them. */
static ps_err_t hash_query(PGconn *conn, const char *sql, EVP_MD_CTX *md, int64_t *rows,
                           char *errstr, size_t errstr_size)
{
    PGresult *res;
    ps_err_t err = PS_OK;

    if (!PQsendQuery(conn, sql) || !PQsetSingleRowMode(conn))
        return ps_pg_result_error(conn, NULL, NULL, errstr, errstr_size);
    while ((res = PQgetResult(conn)) != NULL) {
        ExecStatusType st = PQresultStatus(res);

        if (st == PGRES_SINGLE_TUPLE) {
            EVP_DigestUpdate(md, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
            EVP_DigestUpdate(md, "\n", 1);
            (*rows)++;
        } else if (st != PGRES_TUPLES_OK && err == PS_OK) {
            err = ps_pg_result_error(conn, res, NULL, errstr, errstr_size);
        }
        PQclear(res); /* drain every result: the connection stays usable */
    }
    return err;
}

static ps_err_t digest_in_snapshot(PGconn *conn, proc_audit_result_t *out, char *errstr,
                                   size_t errstr_size)
{
    static const char hex[] = "0123456789abcdef";
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char sum[EVP_MAX_MD_SIZE];
    unsigned int sum_len = 0;
    int64_t rows[4] = {0, 0, 0, 0};
    ps_err_t err = PS_OK;

    PS_ASSERT(md != NULL);
    if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO, "could not start sha256");
    for (size_t i = 0; err == PS_OK && i < 4; i++)
        err = hash_query(conn, digest_sql[i], md, &rows[i], errstr, errstr_size);
    if (err == PS_OK && EVP_DigestFinal_ex(md, sum, &sum_len) != 1)
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO, "could not finish sha256");
    if (err == PS_OK) {
        for (unsigned int i = 0; i < sum_len && 2 * i + 2 < PROC_DIGEST_HEX_BYTES; i++) {
            out->digest[2 * i] = hex[sum[i] >> 4];
            out->digest[2 * i + 1] = hex[sum[i] & 15];
        }
        out->digest[2 * sum_len] = '\0';
        out->accounts = rows[0];
        out->payments = rows[1];
        out->journals = rows[3];
    }
    EVP_MD_CTX_free(md);
    if (err != PS_OK)
        ps_errstr_prefix(errstr, errstr_size, err, "could not compute the ledger digest");
    return err;
}

ps_err_t proc_audit_digest(PGconn *conn, proc_audit_result_t *out, char *errstr,
                           size_t errstr_size)
{
    bool own = false;
    ps_err_t err;

    PS_ASSERT(conn != NULL && out != NULL);
    err = snapshot_begin(conn, &own, errstr, errstr_size);
    if (err == PS_OK)
        err = digest_in_snapshot(conn, out, errstr, errstr_size);
    snapshot_end(conn, own);
    return err;
}

/* Runs one check; lists up to PS_AUDIT_FAILURES_MAX of its violations. */
static ps_err_t run_check(PGconn *conn, const check_t *c, FILE *report, int64_t *failures,
                          char *errstr, size_t errstr_size)
{
    char sql[4096];
    PGresult *res = NULL;
    ps_err_t err;
    int n;

    snprintf(sql, sizeof(sql), "%s LIMIT %d", c->sql, PS_AUDIT_FAILURES_MAX + 1);
    err = ps_pg_exec_params(conn, sql, 0, NULL, &res, errstr, errstr_size);
    if (err != PS_OK)
        return ps_errstr_prefix(errstr, errstr_size, err, "could not check \"%s\"", c->name);
    n = PQntuples(res);
    for (int r = 0; report != NULL && r < n && r < PS_AUDIT_FAILURES_MAX; r++)
        fprintf(report, "FAIL %s: %s\n", c->name, PQgetvalue(res, r, 0));
    if (report != NULL && n > PS_AUDIT_FAILURES_MAX)
        fprintf(report, "FAIL %s: more failures not listed (limit %d)\n", c->name,
                PS_AUDIT_FAILURES_MAX);
    if (report != NULL && n == 0)
        fprintf(report, "ok   %s\n", c->name);
    *failures += n;
    PQclear(res);
    return PS_OK;
}

ps_err_t proc_audit_run(PGconn *conn, FILE *report, proc_audit_result_t *out, char *errstr,
                        size_t errstr_size)
{
    bool own = false;
    ps_err_t err;

    PS_ASSERT(conn != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    err = snapshot_begin(conn, &own, errstr, errstr_size);
    for (size_t i = 0; err == PS_OK && i < sizeof(checks) / sizeof(checks[0]); i++)
        err = run_check(conn, &checks[i], report, &out->failures, errstr, errstr_size);
    if (err == PS_OK)
        err = digest_in_snapshot(conn, out, errstr, errstr_size);
    snapshot_end(conn, own);
    return err;
}

ps_err_t proc_schema_conninfo(const char *conninfo, const char *name, char **out, char *errstr,
                              size_t errstr_size)
{
    char options[PS_SCHEMA_NAME_BYTES_MAX + 32];
    size_t len = strlen(name);

    if (len == 0 || len >= PS_SCHEMA_NAME_BYTES_MAX)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "invalid schema name: length %zu is not between 1 and %d", len,
                             PS_SCHEMA_NAME_BYTES_MAX - 1);
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || c == '_' || (i > 0 && c >= '0' && c <= '9')))
            return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                                 "invalid schema name \"%.*s\": expected [a-z_][a-z0-9_]*",
                                 (int)(len > 80 ? 80 : len), name);
    }
    snprintf(options, sizeof(options), "-csearch_path=%s", name);
    return ps_pg_conninfo_set(conninfo, "options", options, out, errstr, errstr_size);
}

/* A clearer message than "relation ... does not exist" for a mistyped name. */
static ps_err_t schema_exists(PGconn *conn, const char *schema, char *errstr, size_t errstr_size)
{
    const char *params[1] = {schema};
    PGresult *res = NULL;
    ps_err_t err = ps_pg_exec_params(conn, "SELECT 1 FROM pg_namespace WHERE nspname = $1", 1,
                                     params, &res, errstr, errstr_size);

    if (err == PS_OK && PQntuples(res) == 0)
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_NOT_FOUND, "schema \"%s\" does not exist",
                            schema);
    PQclear(res);
    return err;
}

static void audit_usage(FILE *f)
{
    fprintf(f, "Usage: paystream-processor audit [--schema S]\n"
               "Checks the ledger's invariants and prints its digest.\n"
               "  -s, --schema S  audit the ledger in PostgreSQL schema S (default: the\n"
               "                  connection's search_path)\n"
               "Exit status: 0 all invariants hold, 1 failures or error, 2 usage error.\n");
}

int proc_audit_main(const ps_config_t *cfg, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"schema", required_argument, NULL, 's'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    char errstr[PS_ERRSTR_SIZE];
    const char *schema = NULL;
    char *conninfo = NULL;
    PGconn *conn = NULL;
    proc_audit_result_t res;
    int c, rc = 1;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":s:h", longopts, NULL)) != -1) {
        if (c == 's') {
            schema = optarg;
        } else if (c == 'h') {
            audit_usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "paystream-processor audit: bad option \"%s\"\n", argv[optind - 1]);
            audit_usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "paystream-processor audit: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    if (schema != NULL && proc_schema_conninfo(ps_config_get_str(cfg, "pg.conninfo"), schema,
                                               &conninfo, errstr, sizeof(errstr)) != PS_OK) {
        fprintf(stderr, "paystream-processor audit: %s\n", errstr);
        return 2;
    }
    if (ps_pg_connect(conninfo != NULL ? conninfo : ps_config_get_str(cfg, "pg.conninfo"), &conn,
                      errstr, sizeof(errstr)) != PS_OK ||
        (schema != NULL && schema_exists(conn, schema, errstr, sizeof(errstr)) != PS_OK) ||
        proc_audit_run(conn, stdout, &res, errstr, sizeof(errstr)) != PS_OK) {
        fprintf(stderr, "paystream-processor audit: audit failed: %s\n", errstr);
        goto out;
    }
    printf("accounts %" PRId64 ", payments %" PRId64 ", journals %" PRId64 "\n", res.accounts,
           res.payments, res.journals);
    printf("%s: %" PRId64 " failure(s)\n", res.failures == 0 ? "audit passed" : "audit FAILED",
           res.failures);
    printf("digest %s\n", res.digest);
    rc = res.failures == 0 ? 0 : 1;
out:
    PQfinish(conn);
    ps_free(conninfo);
    return rc;
}
