/*
 * Integration test of migration 007 (schemas/postgres/007_journal_transfers.sql)
 * on the real PostgreSQL (PAYSTREAM_TEST_PG): a ledger written in the
 * two-rows-per-journal form of 001-006 converts into transfer rows, reads
 * back through the ledger_entries view line for line as before, and passes
 * the audit; a ledger holding a journal that is not two opposite lines in one
 * currency makes the migration fail, naming the journal, and leaves the
 * database exactly at 006.
 *
 * Each case migrates a throwaway database from a temporary directory holding
 * copies of the real migrations, 001-006 first and then 007.
 */
#include "test.h"

#include "audit.h"   /* processor/: tests link the service libraries */
#include "migrate.h"
#include "proc_test_env.h"

#include <paystream/err.h>
#include <paystream/mem.h>
#include <paystream/pg.h>

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LAST_BEFORE "006"
#define TRANSFERS "007_journal_transfers.sql"

static char source_dir[1024];
static char tmp_dir[] = "/tmp/ps-test-transfers-XXXXXX";
static char errstr[PS_ERRSTR_SIZE];

static void copy_file(const char *name)
{
    char from[1300], to[1300], chunk[4096];
    FILE *in, *out;
    size_t n;

    snprintf(from, sizeof(from), "%s/%s", source_dir, name);
    snprintf(to, sizeof(to), "%s/%s", tmp_dir, name);
    in = fopen(from, "rb");
    out = fopen(to, "wb");
    if (in == NULL || out == NULL) {
        perror(in == NULL ? from : to);
        exit(1);
    }
    while ((n = fread(chunk, 1, sizeof(chunk), in)) > 0)
        fwrite(chunk, 1, n, out);
    fclose(in);
    fclose(out);
}

/* Copies the real migrations numbered up to LAST_BEFORE into tmp_dir, and
 * removes a copied 007. */
static void stage_before_007(void)
{
    DIR *d = opendir(source_dir);
    struct dirent *e;
    char path[1300];
    int copied = 0;

    REQUIRE(d != NULL);
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n > 8 && e->d_name[3] == '_' && strcmp(e->d_name + n - 4, ".sql") == 0 &&
            strncmp(e->d_name, LAST_BEFORE, 3) <= 0) {
            copy_file(e->d_name);
            copied++;
        }
    }
    closedir(d);
    REQUIRE(copied == 6);
    snprintf(path, sizeof(path), "%s/%s", tmp_dir, TRANSFERS);
    unlink(path);
}

static PGconn *fresh_db(proc_test_db_t *db, int n)
{
    char sql[160];

    db->admin_conninfo = test_require_env("PAYSTREAM_TEST_PG");
    snprintf(db->name, sizeof(db->name), "proc_test_%ld_t%d", (long)getpid(), n);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db->name);
    proc_test_admin(db->admin_conninfo, sql);
    stage_before_007();
    if (ps_pg_conninfo_set(db->admin_conninfo, "dbname", db->name, &db->conninfo, errstr,
                           sizeof(errstr)) != PS_OK ||
        proc_migrate(db->conninfo, tmp_dir, NULL, errstr, sizeof(errstr)) != PS_OK) {
        fprintf(stderr, "could not migrate \"%s\" to %s: %s\n", db->name, LAST_BEFORE, errstr);
        exit(1);
    }
    return proc_test_connect(db);
}

static void exec_ok(PGconn *conn, const char *sql)
{
    if (ps_pg_exec(conn, sql, errstr, sizeof(errstr)) != PS_OK)
        fprintf(stderr, "%s: %s\n", sql, errstr);
    CHECK_STR(errstr[0] == '\0' ? "ok" : errstr, "ok");
    errstr[0] = '\0';
}

/* One text value (a query's single cell), or "(error)"; owned by a static. */
static const char *q(PGconn *conn, const char *sql)
{
    static char out[4096];
    PGresult *res = PQexec(conn, sql);

    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
        snprintf(out, sizeof(out), "(error) %s", PQerrorMessage(conn));
    else
        snprintf(out, sizeof(out), "%s", PQgetisnull(res, 0, 0) ? "NULL" : PQgetvalue(res, 0, 0));
    PQclear(res);
    return out;
}

static const char lines_sql[] =
    "SELECT string_agg(format('%s|%s|%s|%s|%s', journal_id, line_no, account_id, currency, "
    "amount_minor), ';' ORDER BY journal_id, line_no) FROM ledger_entries";

/* A ledger in the 001-006 form: a payment, its partial refund, a reconciler
 * adjustment and a journal from before 002 (no effect), balances to match. */
static const char old_ledger_sql[] =
    "INSERT INTO accounts (account_id, currency, kind, balance_minor) VALUES "
    "('player-1', 'CNY', 'PLAYER', -65), ('clearing:WECHAT', 'CNY', 'CHANNEL_CLEARING', 60), "
    "('adjustment:WECHAT', 'CNY', 'ADJUSTMENT', 5), ('player-2', 'USD', 'PLAYER', -7), "
    "('clearing:APPLE', 'USD', 'CHANNEL_CLEARING', 7);"
    "WITH j AS (INSERT INTO journals (source_kind, source_id, effect) VALUES "
    "('CALLBACK_EVENT', 'WECHAT:O-1:PAY', 'PAY:WECHAT:O-1'), "
    "('CALLBACK_EVENT', 'WECHAT:O-1:REFUND:R-1', 'REFUND:WECHAT:O-1:R-1'), "
    "('LEDGER_COMMAND', 'cmd-1', 'ADJUST:WECHAT:O-1:cmd-1'), "
    "('CALLBACK_EVENT', 'APPLE:ev-0', NULL) RETURNING id, source_id) "
    "INSERT INTO ledger_entries SELECT j.id, l.n, l.acct, l.cur, l.amt FROM j JOIN (VALUES "
    "('WECHAT:O-1:PAY', 1, 'player-1', 'CNY', -100), "
    "('WECHAT:O-1:PAY', 2, 'clearing:WECHAT', 'CNY', 100), "
    "('WECHAT:O-1:REFUND:R-1', 1, 'player-1', 'CNY', 40), "
    "('WECHAT:O-1:REFUND:R-1', 2, 'clearing:WECHAT', 'CNY', -40), "
    "('cmd-1', 1, 'player-1', 'CNY', -5), ('cmd-1', 2, 'adjustment:WECHAT', 'CNY', 5), "
    "('APPLE:ev-0', 1, 'player-2', 'USD', -7), ('APPLE:ev-0', 2, 'clearing:APPLE', 'USD', 7)) "
    "AS l(sid, n, acct, cur, amt) ON l.sid = j.source_id";

/* Goal: every journal becomes one row, the view shows the same lines, and
 * the audit passes on the converted ledger. */
static void test_converts(void)
{
    proc_test_db_t db = {0};
    PGconn *conn = fresh_db(&db, 1);
    char before[4096];
    proc_audit_result_t r;
    FILE *devnull = fopen("/dev/null", "w");

    exec_ok(conn, old_ledger_sql);
    snprintf(before, sizeof(before), "%s", q(conn, lines_sql));
    CHECK(strstr(before, "|2|clearing:WECHAT|CNY|100;") != NULL);
    copy_file(TRANSFERS);
    CHECK_INT(proc_migrate(db.conninfo, tmp_dir, NULL, errstr, sizeof(errstr)), PS_OK);
    CHECK_STR(q(conn, "SELECT relkind FROM pg_class WHERE relname = 'ledger_entries'"), "v");
    CHECK_STR(q(conn, lines_sql), before);
    CHECK_STR(q(conn, "SELECT string_agg(format('%s:%s:%s:%s', source_id, account_id, "
                      "amount_minor, contra_account_id), ',' ORDER BY id) FROM journals"),
              "WECHAT:O-1:PAY:player-1:-100:clearing:WECHAT,"
              "WECHAT:O-1:REFUND:R-1:player-1:40:clearing:WECHAT,"
              "cmd-1:player-1:-5:adjustment:WECHAT,APPLE:ev-0:player-2:-7:clearing:APPLE");
    REQUIRE(devnull != NULL);
    CHECK_INT(proc_audit_run(conn, devnull, &r, errstr, sizeof(errstr)), PS_OK);
    CHECK_INT(r.failures, 0);
    fclose(devnull);
    PQfinish(conn);
    proc_test_db_drop(&db);
}

/* Goal: a journal of three lines cannot become a transfer: 007 fails with
 * its id and changes nothing. */
static void test_refuses_other_shapes(void)
{
    proc_test_db_t db = {0};
    PGconn *conn = fresh_db(&db, 2);
    char want[128];

    exec_ok(conn, "INSERT INTO accounts (account_id, currency, kind) VALUES "
                  "('a', 'CNY', 'PLAYER'), ('b', 'CNY', 'PLAYER'), ('c', 'CNY', 'PLAYER');"
                  "WITH j AS (INSERT INTO journals (source_kind, source_id) VALUES "
                  "('LEDGER_COMMAND', 'three') RETURNING id) INSERT INTO ledger_entries "
                  "SELECT id, n, acct, 'CNY', amt FROM j, (VALUES (1, 'a', 100), (2, 'b', -60), "
                  "(3, 'c', -40)) AS l(n, acct, amt)");
    copy_file(TRANSFERS);
    CHECK_INT(proc_migrate(db.conninfo, tmp_dir, NULL, errstr, sizeof(errstr)), PS_ERR_PG);
    snprintf(want, sizeof(want), "journal %s (3 line(s)) is not two opposite lines",
             q(conn, "SELECT id FROM journals WHERE source_id = 'three'"));
    CHECK_CONTAINS(errstr, want);
    CHECK_STR(q(conn, "SELECT max(name) FROM schema_migrations"), "006_journal_effect_key.sql");
    CHECK_STR(q(conn, "SELECT relkind FROM pg_class WHERE relname = 'ledger_entries'"), "r");
    CHECK_STR(q(conn, "SELECT count(*) FROM ledger_entries"), "3");
    PQfinish(conn);
    proc_test_db_drop(&db);
}

int main(void)
{
    const char *src = getenv("PAYSTREAM_SOURCE_DIR");
    char path[1300];
    struct dirent *e;
    DIR *d;

    test_require_env("PAYSTREAM_TEST_PG");
    snprintf(source_dir, sizeof(source_dir), "%s/schemas/postgres", src != NULL ? src : ".");
    if (mkdtemp(tmp_dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_converts);
    RUN(test_refuses_other_shapes);
    /* Remove the staged copies and the directory. */
    d = opendir(tmp_dir);
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", tmp_dir, e->d_name);
        unlink(path);
    }
    if (d != NULL)
        closedir(d);
    rmdir(tmp_dir);
    return test_summary();
}
