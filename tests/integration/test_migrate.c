/*
 * Integration test of `proc_migrate` and schemas/postgres/001_init.sql on the
 * real PostgreSQL (PAYSTREAM_TEST_PG): applying twice applies nothing the
 * second time, the data model's invariants hold (the ledger zero-sum trigger
 * rejects an unbalanced journal at commit, currency and uniqueness checks),
 * changed, renamed, missing, failing and malformed migrations are errors,
 * and concurrent runners apply each migration once.
 *
 * Each run works in fresh databases named with the pid and time, dropped at
 * the end, and in a temporary directory for crafted migration files.
 */
#include "test.h"

#include "migrate.h" /* processor/: tests link the service libraries */

#include <paystream/err.h>
#include <paystream/limits.h>
#include <paystream/mem.h>
#include <paystream/pg.h>

#include <dirent.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *admin_conninfo;
static char source_dir[1024];
static char tmp_dir[] = "/tmp/ps-test-migrate-XXXXXX";
static char dbname[64], dbname2[80], dbname3[80];
static char *db_conninfo, *db2_conninfo;
static char errstr[PS_ERRSTR_SIZE];

/* Runs proc_migrate, capturing the progress text into *out (owned). */
static ps_err_t migrate(const char *conninfo, const char *dir, char **out)
{
    size_t len = 0;
    FILE *progress = open_memstream(out, &len);
    ps_err_t err = proc_migrate(conninfo, dir, progress, errstr, sizeof(errstr));

    fclose(progress);
    return err;
}

/* One text value from a query, "" for no row; copied into out. */
static void query1(const char *conninfo, const char *sql, char *out, size_t out_size)
{
    PGconn *conn = NULL;
    PGresult *res = NULL;

    out[0] = '\0';
    if (ps_pg_connect(conninfo, &conn, errstr, sizeof(errstr)) != PS_OK ||
        ps_pg_exec_params(conn, sql, 0, NULL, &res, errstr, sizeof(errstr)) != PS_OK) {
        fprintf(stderr, "query failed: %s: %s\n", sql, errstr);
        snprintf(out, out_size, "(error)");
    } else if (PQntuples(res) > 0) {
        snprintf(out, out_size, "%s", PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    PQfinish(conn);
}

static void write_file(const char *name, const char *text, size_t len)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", tmp_dir, name);
    f = fopen(path, "wb");
    if (f == NULL) {
        perror(path);
        exit(1);
    }
    fwrite(text, 1, len, f);
    fclose(f);
}

static void remove_file(const char *name)
{
    char path[512];

    snprintf(path, sizeof(path), "%s/%s", tmp_dir, name);
    unlink(path);
}

/* Copies the real 001_init.sql into the temp dir, with extra text appended. */
static void copy_init(const char *suffix)
{
    char path[1100];
    char *text = NULL;
    size_t len = 0, n;
    FILE *in, *out = open_memstream(&text, &len);
    char chunk[4096];

    snprintf(path, sizeof(path), "%s/001_init.sql", source_dir);
    in = fopen(path, "rb");
    if (in == NULL) {
        perror(path);
        exit(1);
    }
    while ((n = fread(chunk, 1, sizeof(chunk), in)) > 0)
        fwrite(chunk, 1, n, out);
    fputs(suffix, out);
    fclose(in);
    fclose(out);
    write_file("001_init.sql", text, len);
    free(text);
}

/* Goal: the first run applies 001, the second applies nothing and says so.
 * The mechanism tests below run on a directory holding only a copy of 001,
 * so they stay true as later migrations are added (test_real_directory
 * covers the real one). */
static void test_apply_twice(void)
{
    char *out = NULL, value[128];

    copy_init("");
    CHECK_INT(migrate(db_conninfo, tmp_dir, &out), PS_OK);
    CHECK_CONTAINS(out, "applied 001_init.sql");
    CHECK_CONTAINS(out, "applied 1 migration: database is at version 1");
    free(out);
    out = NULL;
    CHECK_INT(migrate(db_conninfo, tmp_dir, &out), PS_OK);
    CHECK_CONTAINS(out, "skipped 001_init.sql: already applied");
    CHECK_CONTAINS(out, "nothing to apply: database is at version 1");
    CHECK(strstr(out, "applied 001") == NULL);
    free(out);
    query1(db_conninfo, "SELECT count(*) || ':' || min(name) || ':' || length(min(sha256)) "
                        "FROM schema_migrations", value, sizeof(value));
    CHECK_STR(value, "1:001_init.sql:64");
}

/* Goal: every table of the data model exists after the migration. */
static void test_tables_exist(void)
{
    static const char *const tables[] = {"payment_events", "payments", "accounts",
                                         "journals", "ledger_entries", "kafka_offsets",
                                         "dead_letters", "recon_runs", "recon_diffs",
                                         "schema_migrations"};
    char sql[256], value[64];

    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        snprintf(sql, sizeof(sql), "SELECT to_regclass('public.%s') IS NOT NULL", tables[i]);
        query1(db_conninfo, sql, value, sizeof(value));
        if (strcmp(value, "t") != 0)
            fprintf(stderr, "missing table %s\n", tables[i]);
        CHECK_STR(value, "t");
    }
    /* No floating or numeric money anywhere in the model. */
    query1(db_conninfo, "SELECT count(*) FROM information_schema.columns WHERE table_schema = "
                        "'public' AND data_type IN ('numeric', 'real', 'double precision', "
                        "'money')", value, sizeof(value));
    CHECK_STR(value, "0");
}

/* Runs statements in one transaction; returns the failure (SQLSTATE in errstr). */
static ps_err_t run_tx(const char *sql)
{
    PGconn *conn = NULL;
    ps_err_t err = ps_pg_connect(db_conninfo, &conn, errstr, sizeof(errstr));

    if (err == PS_OK)
        err = ps_pg_exec(conn, sql, errstr, sizeof(errstr));
    PQfinish(conn);
    return err;
}

/* Goal: a balanced journal commits; an unbalanced one fails at COMMIT, fatally. */
static void test_zero_sum_trigger(void)
{
    char value[64];
    ps_err_class_t cls = PS_ERRCLASS_RETRIABLE;

    CHECK_INT(run_tx("INSERT INTO accounts (account_id, currency, kind) VALUES "
                     "('player-1', 'CNY', 'PLAYER'), ('clearing:wechat', 'CNY', "
                     "'CHANNEL_CLEARING'), ('player-1', 'USD', 'PLAYER'), "
                     "('clearing:apple', 'USD', 'CHANNEL_CLEARING')"),
              PS_OK);
    CHECK_INT(run_tx("BEGIN; INSERT INTO journals (source_kind, source_id) VALUES "
                     "('CALLBACK_EVENT', 'WECHAT:ok-1');"
                     "INSERT INTO ledger_entries VALUES (currval('journals_id_seq'), 1, "
                     "'player-1', 'CNY', 100), (currval('journals_id_seq'), 2, "
                     "'clearing:wechat', 'CNY', -100); COMMIT"),
              PS_OK);
    /* Unbalanced by one fen: the statements succeed, the COMMIT must not. */
    CHECK_INT(run_tx("BEGIN; INSERT INTO journals (source_kind, source_id) VALUES "
                     "('CALLBACK_EVENT', 'WECHAT:bad-1');"
                     "INSERT INTO ledger_entries VALUES (currval('journals_id_seq'), 1, "
                     "'player-1', 'CNY', 100), (currval('journals_id_seq'), 2, "
                     "'clearing:wechat', 'CNY', -99); COMMIT"),
              PS_ERR_PG);
    CHECK_CONTAINS(errstr, "ERROR 23000: journal");
    CHECK_CONTAINS(errstr, "does not balance: CNY entries sum to 1");
    cls = ps_pg_classify("23000", CONNECTION_OK);
    CHECK_INT(cls, PS_ERRCLASS_FATAL);
    /* Zero in total but not per currency is still unbalanced. */
    CHECK_INT(run_tx("BEGIN; INSERT INTO journals (source_kind, source_id) VALUES "
                     "('CALLBACK_EVENT', 'APPLE:bad-2');"
                     "INSERT INTO ledger_entries VALUES (currval('journals_id_seq'), 1, "
                     "'player-1', 'USD', 100), (currval('journals_id_seq'), 2, "
                     "'clearing:wechat', 'CNY', -100); COMMIT"),
              PS_ERR_PG);
    CHECK_CONTAINS(errstr, "does not balance");
    query1(db_conninfo, "SELECT count(*) FROM journals", value, sizeof(value));
    CHECK_STR(value, "1");
    /* Entries are append-only. */
    CHECK_INT(run_tx("DELETE FROM ledger_entries"), PS_ERR_PG);
    CHECK_CONTAINS(errstr, "append-only");
}

/* Goal: currency, duplicate and refund invariants are enforced by the schema. */
static void test_constraints(void)
{
    static const char event_cols[] =
        "INSERT INTO payment_events (channel, channel_event_id, kind, channel_event_type, "
        "merchant_order_no, channel_txn_id, amount_minor, currency, account_id, event_time, "
        "received_time, evidence_avro, kafka_topic, kafka_partition, kafka_offset) VALUES ";

    char sql[1024];

    CHECK_INT(run_tx("INSERT INTO payments (channel, merchant_order_no, state, state_rank, "
                     "amount_minor, currency, account_id) VALUES ('WECHAT', 'o1', 'PAID', 2, "
                     "100, 'cny', 'player-1')"),
              PS_ERR_PG);
    CHECK_CONTAINS(errstr, "ERROR 23514");
    CHECK_INT(run_tx("INSERT INTO payments (channel, merchant_order_no, state, state_rank, "
                     "amount_minor, refunded_minor, currency, account_id) VALUES ('WECHAT', "
                     "'o1', 'PAID', 2, 100, 101, 'CNY', 'player-1')"),
              PS_ERR_PG);
    CHECK_CONTAINS(errstr, "payments_refunded_range_check");
    CHECK_INT(run_tx("INSERT INTO payments (channel, merchant_order_no, state, state_rank, "
                     "amount_minor, currency, account_id) VALUES ('WECHAT', 'o1', 'PAID', 3, "
                     "100, 'CNY', 'player-1')"),
              PS_ERR_PG);
    CHECK_CONTAINS(errstr, "payments_state_rank_check");
    snprintf(sql, sizeof(sql),
             "%s ('WECHAT', 'e1', 'PAYMENT_SUCCEEDED', 'TRANSACTION.SUCCESS', 'o1', 't1', 100, "
             "'CNY', 'player-1', now(), now(), '\\xc301', 'cb', 0, 7)",
             event_cols);
    CHECK_INT(run_tx(sql), PS_OK);
    /* The same callback again: unique violation, which the apply path redoes. */
    CHECK_INT(run_tx(sql), PS_ERR_PG);
    CHECK_CONTAINS(errstr, "ERROR 23505");
    CHECK_INT(ps_pg_classify("23505", CONNECTION_OK), PS_ERRCLASS_ABORTABLE);
}

/* Goal: editing an applied migration is detected by its checksum. */
static void test_checksum_change(void)
{
    char *out = NULL;

    copy_init("\n-- an innocent-looking edit\n");
    CHECK_INT(migrate(db_conninfo, tmp_dir, &out), PS_ERR_INVALID);
    CHECK_CONTAINS(errstr, "migration \"001_init.sql\" changed after it was applied");
    CHECK_CONTAINS(errstr, "checksum");
    free(out);
}

/* Goal: a failing migration is rolled back whole; a later run with the file
 * gone reports a database newer than the files. */
static void test_failing_and_missing(void)
{
    static const char bad[] = "CREATE TABLE ok_before_failure (id int);\n"
                              "CREATE TABLE payments (id int);\n";
    static const char good[] = "CREATE TABLE extra_t (id int);\n";
    char *out = NULL, value[64];

    copy_init("");
    write_file("002_bad.sql", bad, sizeof(bad) - 1);
    CHECK_INT(migrate(db_conninfo, tmp_dir, &out), PS_ERR_PG);
    CHECK_CONTAINS(errstr, "could not apply migration \"002_bad.sql\": ERROR 42P07: relation "
                           "\"payments\" already exists");
    free(out);
    out = NULL;
    query1(db_conninfo, "SELECT (to_regclass('ok_before_failure') IS NULL) || ':' || "
                        "(SELECT count(*) FROM schema_migrations)", value, sizeof(value));
    CHECK_STR(value, "true:1");
    remove_file("002_bad.sql");
    write_file("002_extra.sql", good, sizeof(good) - 1);
    CHECK_INT(migrate(db_conninfo, tmp_dir, &out), PS_OK);
    CHECK_CONTAINS(out, "applied 002_extra.sql");
    free(out);
    out = NULL;
    remove_file("002_extra.sql");
    CHECK_INT(migrate(db_conninfo, tmp_dir, &out), PS_ERR_INVALID);
    CHECK_CONTAINS(errstr, "migration 002 \"002_extra.sql\" applied");
    CHECK_CONTAINS(errstr, "newer");
    free(out);
    out = NULL;
    write_file("002_renamed.sql", good, sizeof(good) - 1);
    CHECK_INT(migrate(db_conninfo, tmp_dir, &out), PS_ERR_INVALID);
    CHECK_CONTAINS(errstr, "was applied as \"002_extra.sql\"");
    remove_file("002_renamed.sql");
    free(out);
}

/* Goal: bad directory contents fail before the database is touched. */
static void test_bad_directories(void)
{
    char *out = NULL, *big;

    copy_init("");
    write_file("notes.txt", "x", 1);
    CHECK_INT(migrate(db_conninfo, tmp_dir, &out), PS_ERR_INVALID);
    CHECK_CONTAINS(errstr, "invalid migration file name \"notes.txt\"");
    remove_file("notes.txt");
    free(out);
    write_file("003_gap.sql", "SELECT 1;", 9);
    CHECK_INT(migrate(db_conninfo, tmp_dir, &out), PS_ERR_INVALID);
    CHECK_CONTAINS(errstr, "migration 002 is missing");
    remove_file("003_gap.sql");
    free(out);
    write_file("002_nul.sql", "SELECT 1;\0DROP TABLE payments;", 30);
    CHECK_INT(migrate(db_conninfo, tmp_dir, &out), PS_ERR_INVALID);
    CHECK_CONTAINS(errstr, "NUL byte");
    remove_file("002_nul.sql");
    free(out);
    write_file("002_a.sql", "SELECT 1;", 9);
    write_file("002_b.sql", "SELECT 1;", 9);
    CHECK_INT(migrate(db_conninfo, tmp_dir, &out), PS_ERR_INVALID);
    CHECK_CONTAINS(errstr, "duplicate migration number 002");
    remove_file("002_a.sql");
    remove_file("002_b.sql");
    free(out);
    big = ps_malloc(PS_MIGRATION_FILE_BYTES_MAX + 1);
    memset(big, '-', PS_MIGRATION_FILE_BYTES_MAX + 1);
    write_file("002_big.sql", big, PS_MIGRATION_FILE_BYTES_MAX + 1);
    ps_free(big);
    CHECK_INT(migrate(db_conninfo, tmp_dir, &out), PS_ERR_TOO_LARGE);
    CHECK_CONTAINS(errstr, "PS_MIGRATION_FILE_BYTES_MAX");
    remove_file("002_big.sql");
    free(out);
    CHECK_INT(migrate(db_conninfo, "/nonexistent/ps-migrations", &out), PS_ERR_IO);
    CHECK_CONTAINS(errstr, "\"/nonexistent/ps-migrations\"");
    free(out);
    remove_file("001_init.sql");
    CHECK_INT(migrate(db_conninfo, tmp_dir, &out), PS_ERR_NOT_FOUND);
    free(out);
}

typedef struct runner {
    char *out;
    ps_err_t err;
    char errstr[PS_ERRSTR_SIZE];
} runner_t;

static void *run_concurrent(void *arg)
{
    runner_t *r = arg;
    size_t len = 0;
    FILE *progress = open_memstream(&r->out, &len);

    r->err = proc_migrate(db2_conninfo, source_dir, progress, r->errstr, sizeof(r->errstr));
    fclose(progress);
    return NULL;
}

/* Goal: two runners at once on a fresh database apply 001 exactly once. */
static void test_concurrent_runners(void)
{
    runner_t r[2];
    pthread_t th[2];
    int applied = 0;

    memset(r, 0, sizeof(r));
    for (int i = 0; i < 2; i++)
        REQUIRE(pthread_create(&th[i], NULL, run_concurrent, &r[i]) == 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        if (r[i].err != PS_OK)
            fprintf(stderr, "runner %d: %s\n", i, r[i].errstr);
        CHECK_INT(r[i].err, PS_OK);
        applied += r[i].out != NULL && strstr(r[i].out, "applied 001_init.sql") != NULL;
        free(r[i].out);
    }
    CHECK_INT(applied, 1);
}

/* Runs "<verb> DATABASE <name> <suffix>" on the admin connection or exits. */
static void admin(const char *verb, const char *name, const char *suffix)
{
    char sql[256];
    PGconn *conn = NULL;

    snprintf(sql, sizeof(sql), "%s DATABASE %s%s", verb, name, suffix);
    if (ps_pg_connect(admin_conninfo, &conn, errstr, sizeof(errstr)) != PS_OK ||
        ps_pg_exec(conn, sql, errstr, sizeof(errstr)) != PS_OK) {
        fprintf(stderr, "%s: %s\n", sql, errstr);
        PQfinish(conn);
        exit(1);
    }
    PQfinish(conn);
}

/* Goal: the real schemas/postgres applies whole on a fresh database, and a
 * second run applies nothing. */
static void test_real_directory(void)
{
    char *out = NULL, want[96], value[32];
    char *conninfo = NULL;
    size_t files = 0;
    DIR *d = opendir(source_dir);
    struct dirent *e;

    REQUIRE(d != NULL);
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n > 8 && e->d_name[3] == '_' && strcmp(e->d_name + n - 4, ".sql") == 0)
            files++;
    }
    closedir(d);
    REQUIRE(files >= 1);
    admin("CREATE", dbname3, "");
    REQUIRE(ps_pg_conninfo_set(admin_conninfo, "dbname", dbname3, &conninfo, errstr,
                               sizeof(errstr)) == PS_OK);
    CHECK_INT(migrate(conninfo, source_dir, &out), PS_OK);
    snprintf(want, sizeof(want), "database is at version %zu", files);
    CHECK_CONTAINS(out, want);
    free(out);
    out = NULL;
    CHECK_INT(migrate(conninfo, source_dir, &out), PS_OK);
    snprintf(want, sizeof(want), "nothing to apply: database is at version %zu", files);
    CHECK_CONTAINS(out, want);
    free(out);
    query1(conninfo, "SELECT count(*) FROM schema_migrations", value, sizeof(value));
    snprintf(want, sizeof(want), "%zu", files);
    CHECK_STR(value, want);
    ps_free(conninfo);
    admin("DROP", dbname3, " WITH (FORCE)");
}

int main(void)
{
    const char *src = getenv("PAYSTREAM_SOURCE_DIR");

    admin_conninfo = test_require_env("PAYSTREAM_TEST_PG");
    snprintf(source_dir, sizeof(source_dir), "%s/schemas/postgres", src != NULL ? src : ".");
    if (mkdtemp(tmp_dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(dbname, sizeof(dbname), "paystream_test_migrate_%ld_%ld", (long)getpid(),
             (long)time(NULL));
    snprintf(dbname2, sizeof(dbname2), "%s_b", dbname);
    snprintf(dbname3, sizeof(dbname3), "%s_c", dbname);
    admin("CREATE", dbname, "");
    admin("CREATE", dbname2, "");
    if (ps_pg_conninfo_set(admin_conninfo, "dbname", dbname, &db_conninfo, errstr,
                           sizeof(errstr)) != PS_OK ||
        ps_pg_conninfo_set(admin_conninfo, "dbname", dbname2, &db2_conninfo, errstr,
                           sizeof(errstr)) != PS_OK) {
        fprintf(stderr, "%s\n", errstr);
        return 1;
    }
    RUN(test_apply_twice);
    RUN(test_tables_exist);
    RUN(test_zero_sum_trigger);
    RUN(test_constraints);
    RUN(test_checksum_change);
    RUN(test_failing_and_missing);
    RUN(test_bad_directories);
    RUN(test_concurrent_runners);
    RUN(test_real_directory);
    admin("DROP", dbname, " WITH (FORCE)");
    admin("DROP", dbname2, " WITH (FORCE)");
    rmdir(tmp_dir);
    ps_free(db_conninfo);
    ps_free(db2_conninfo);
    return test_summary();
}
