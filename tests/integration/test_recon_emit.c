/*
 * Integration tests of the reconciler's commands on real PostgreSQL and
 * Kafka: a run produces one LedgerCommand per actionable discrepancy in a
 * Kafka transaction; a read_committed consumer decodes exactly those, with
 * the ids recorded in recon_commands; re-importing the same statement is a
 * no-op; an overlapping window finds the same ids and emits only the new
 * one; a dry run and a halted run emit nothing; a command the processor has
 * applied (ledger_commands) makes its discrepancy RESOLVED.
 */
#include "test_recon_env.h"

#include <sys/stat.h>

static proc_test_db_t db;
static char dir[256], topic[128];
static int64_t win_start, win_end;

/* Ledger: E1 matched, E2 amount off, E4 not in the statement; statement: E3 not in ledger. */
static void write_fixture(PGconn *conn, const char *path, bool extra)
{
    rt_stmt_t st;
    int64_t t = win_start + 3 * RT_HOUR_US;

    if (conn != NULL) {
        rt_pay(conn, "WECHAT", "E1", "TE1", "PAID", 1000, 0, "CNY", t);
        rt_pay(conn, "WECHAT", "E2", "TE2", "PAID", 1000, 0, "CNY", t);
        rt_pay(conn, "WECHAT", "E4", "TE4", "PAID", 1500, 0, "CNY", t);
        rt_pay(conn, "WECHAT", "E5", "TE5", "PAID", 50, 0, "CNY", t);
    }
    rt_stmt_begin(&st, win_start, win_end);
    rt_stmt_row(&st, "wechat", "payment", "E1", "TE1", "", 1000, "CNY", t, "SUCCESS");
    rt_stmt_row(&st, "wechat", "payment", "E2", "TE2", "", 1200, "CNY", t, "SUCCESS");
    rt_stmt_row(&st, "wechat", "payment", "E3", "TE3", "", 700, "CNY", t, "SUCCESS");
    if (!extra)
        rt_stmt_row(&st, "wechat", "payment", "E5", "TE5", "", 50, "CNY", t, "SUCCESS");
    else
        rt_stmt_row(&st, "wechat", "payment", "E6", "TE6", "", 60, "CNY", t, "SUCCESS");
    rt_stmt_end(&st, path);
}

static bool has_id(char **ids, int n, const char *id)
{
    for (int i = 0; i < n; i++)
        if (strcmp(ids[i], id) == 0)
            return true;
    return false;
}

/*
 * Goal: the commands consumed back with read_committed are exactly the
 * run's EMITTED recon_commands rows, and a dry run emits nothing.
 */
static void test_emit_and_consume(void)
{
    PGconn *conn = proc_test_connect(&db);
    char path[512], errstr[PS_ERRSTR_SIZE], *ids[RT_IDS_MAX];
    recon_result_t r = {0};

    snprintf(path, sizeof(path), "%s/emit.csv", dir);
    write_fixture(conn, path, false);
    recon_run_opts_t o = rt_opts(&db, path, win_start, win_end, topic);
    o.dry_run = true;
    REQUIRE(recon_run(&o, &r, errstr, sizeof(errstr)) == PS_OK);
    CHECK_INT(r.outcome, RECON_OUT_DISCREPANCIES);
    CHECK_INT(r.commands_new, 0);
    recon_result_deinit(&r);
    CHECK_INT(rt_consume_ids(topic, ids, RT_IDS_MAX), 0);

    o.dry_run = false;
    memset(&r, 0, sizeof(r));
    ps_err_t err = recon_run(&o, &r, errstr, sizeof(errstr));
    if (err != PS_OK)
        fprintf(stderr, "%s\n", errstr);
    REQUIRE(err == PS_OK);
    CHECK_INT(r.outcome, RECON_OUT_DISCREPANCIES);
    CHECK_INT(r.commands_new, 3);
    int n = rt_consume_ids(topic, ids, RT_IDS_MAX);
    CHECK_INT(n, 3);
    for (size_t i = 0; i < r.pair_count; i++)
        CHECK(n > 0 && has_id(ids, n, r.pairs[i].command_id));
    rt_free_ids(ids, n > 0 ? n : 0);
    CHECK_INT(rt_scalar(conn, "SELECT count(*) FROM recon_commands WHERE state = 'EMITTED'"), 3);
    CHECK_INT(rt_scalar(conn, "SELECT count(*) FROM recon_runs WHERE status = 'SUCCEEDED' "
                              "AND commands_emitted = 3 AND diff_rows = 3"), 1);
    CHECK_INT(rt_scalar(conn, "SELECT count(*) FROM recon_diffs WHERE state = 'COMMANDED'"), 3);
    CHECK_INT(rt_scalar(conn, "SELECT count(*) FROM recon_commands c JOIN recon_diffs d "
                              "USING (command_id) WHERE d.diff_class = 'AMOUNT_MISMATCH' "
                              "AND c.kind = 'ADJUST' AND c.amount_minor = 200 "
                              "AND c.account_id = 'player-E2'"), 1);
    CHECK_INT(rt_scalar(conn, "SELECT count(*) FROM recon_commands WHERE kind = 'COMPENSATE' "
                              "AND account_id = 'recon-suspense' AND amount_minor = 700"), 1);
    recon_result_deinit(&r);
    PQfinish(conn);
}

/*
 * Goal: the same statement again is a no-op; an overlapping statement with
 * the same discrepancies plus a new one emits only the new command, and the
 * known ones keep their ids.
 */
static void test_idempotent_reruns(void)
{
    PGconn *conn = proc_test_connect(&db);
    char path[512], errstr[PS_ERRSTR_SIZE], *ids[RT_IDS_MAX];
    recon_result_t r = {0};

    snprintf(path, sizeof(path), "%s/emit.csv", dir);
    recon_run_opts_t o = rt_opts(&db, path, win_start, win_end, topic);
    REQUIRE(recon_run(&o, &r, errstr, sizeof(errstr)) == PS_OK);
    CHECK_INT(r.outcome, RECON_OUT_ALREADY_DONE);
    CHECK(r.previous_run_id[0] != '\0');
    recon_result_deinit(&r);

    snprintf(path, sizeof(path), "%s/overlap.csv", dir);
    write_fixture(NULL, path, true); /* E5 missing now, E6 new */
    memset(&r, 0, sizeof(r));
    REQUIRE(recon_run(&o, &r, errstr, sizeof(errstr)) == PS_OK);
    CHECK_INT(r.commands_known, 3);
    CHECK_INT(r.commands_new, 2); /* E5 reversal, E6 compensation */
    recon_result_deinit(&r);
    int n = rt_consume_ids(topic, ids, RT_IDS_MAX);
    CHECK_INT(n, 5);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            CHECK(strcmp(ids[i], ids[j]) != 0);
    rt_free_ids(ids, n > 0 ? n : 0);
    CHECK_INT(rt_scalar(conn, "SELECT count(*) FROM recon_commands"), 5);
    PQfinish(conn);
}

/* Goal: once the processor applied a command, its discrepancy reads RESOLVED. */
static void test_resolved_by_processor(void)
{
    PGconn *conn = proc_test_connect(&db);
    char path[512], errstr[PS_ERRSTR_SIZE];
    recon_result_t r = {0};

    rt_exec(conn, "INSERT INTO ledger_commands (command_id, kind, channel, payment_key, "
                  "merchant_order_no, amount_minor, currency, evidence_avro, kafka_topic, "
                  "kafka_partition, kafka_offset) SELECT command_id, kind, channel, payment_key, "
                  "payment_key, amount_minor, currency, '\\x00', 't', 0, 0 FROM recon_commands "
                  "WHERE kind = 'ADJUST'");
    /* A new statement (new digest) with the earlier discrepancies and E8. */
    rt_stmt_t st;
    int64_t t = win_start + 3 * RT_HOUR_US;
    rt_stmt_begin(&st, win_start, win_end);
    rt_stmt_row(&st, "wechat", "payment", "E1", "TE1", "", 1000, "CNY", t, "SUCCESS");
    rt_stmt_row(&st, "wechat", "payment", "E2", "TE2", "", 1200, "CNY", t, "SUCCESS");
    rt_stmt_row(&st, "wechat", "payment", "E3", "TE3", "", 700, "CNY", t, "SUCCESS");
    rt_stmt_row(&st, "wechat", "payment", "E6", "TE6", "", 60, "CNY", t, "SUCCESS");
    rt_stmt_row(&st, "wechat", "payment", "E8", "TE8", "", 80, "CNY", t, "SUCCESS");
    snprintf(path, sizeof(path), "%s/resolved.csv", dir);
    rt_stmt_end(&st, path);
    recon_run_opts_t o = rt_opts(&db, path, win_start, win_end, topic);
    o.dry_run = true;
    REQUIRE(recon_run(&o, &r, errstr, sizeof(errstr)) == PS_OK);
    CHECK_INT(r.outcome, RECON_OUT_DISCREPANCIES);
    CHECK_INT(r.commands_resolved, 1);
    CHECK_INT(r.commands_known, 4); /* E3, E4, E5, E6 */
    CHECK_INT(r.discrepancies, 5);  /* and E8; E2 is adjusted already */
    recon_result_deinit(&r);
    PQfinish(conn);
}

/* The scratch directory and its files. */
static void remove_dir(const char *path)
{
    char cmd[320];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", path);
}

int main(void)
{
    snprintf(dir, sizeof(dir), "/tmp/recon_emit_%ld", (long)getpid());
    snprintf(topic, sizeof(topic), "ps.test.recon.emit.%ld", (long)getpid());
    if (mkdir(dir, 0700) != 0) {
        perror(dir);
        return 1;
    }
    win_start = (rt_now_us() / RT_DAY_US - 2) * RT_DAY_US;
    win_end = win_start + RT_DAY_US;
    proc_test_db_create(&db, 0);
    rt_topic(topic, true);
    RUN(test_emit_and_consume);
    RUN(test_idempotent_reruns);
    RUN(test_resolved_by_processor);
    rt_topic(topic, false);
    proc_test_db_drop(&db);
    remove_dir(dir);
    return test_summary();
}
