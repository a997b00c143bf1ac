/*
 * Integration tests of the paystream-reconciler program itself (real
 * PostgreSQL and Kafka): the documented exit codes (0 clean, 1 error,
 * 2 usage, 3 discrepancies, 4 halted, 5 locked), the advisory lock, and the
 * crash protocol. The process is killed at each named point of the emit
 * protocol with the test hook PAYSTREAM_RECON_CRASH_AT; the next run must
 * complete the crashed one so that every planned command reaches Kafka
 * (read_committed) exactly once with its planned id: none lost, none with a
 * new id, none committed twice (also after a crash between the Kafka commit
 * and the PostgreSQL update: the successor reads the topic back).
 */
#include "lock.h"
#include "test_recon_env.h"

#include <sys/stat.h>
#include <sys/wait.h>

static char dir[256], prog[1024];
static int64_t win_start, win_end;

/* A database and topic per scenario, and a config file pointing at them. */
typedef struct scenario {
    proc_test_db_t db;
    char topic[128], config[512], statement[512], out[512], err[512];
} scenario_t;

static void scenario_open(scenario_t *s, int n, const char *extra_config)
{
    rt_stmt_t st;
    int64_t t = win_start + 3 * RT_HOUR_US;

    proc_test_db_create(&s->db, n);
    snprintf(s->topic, sizeof(s->topic), "ps.test.recon.cli.%ld.%d", (long)getpid(), n);
    rt_topic(s->topic, true);
    snprintf(s->config, sizeof(s->config), "%s/recon%d.conf", dir, n);
    snprintf(s->statement, sizeof(s->statement), "%s/stmt%d.csv", dir, n);
    snprintf(s->out, sizeof(s->out), "%s/out%d.txt", dir, n);
    snprintf(s->err, sizeof(s->err), "%s/err%d.txt", dir, n);
    FILE *f = fopen(s->config, "w");
    if (f == NULL)
        exit(1);
    /* The conninfo holds quotes: the config syntax wants it in '...', '' inside. */
    fputs("pg.conninfo = '", f);
    for (const char *c = s->db.conninfo; *c != '\0'; c++)
        fputs(*c == '\'' ? "''" : (char[2]){*c, '\0'}, f);
    fputs("'\n", f);
    fprintf(f, "kafka.bootstrap.servers = %s\ntopic.commands = %s\n"
               "recon.transactional_id_prefix = recon-cli-%ld-%d\nrecon.grace_s = 0\n%s",
            test_require_env("PAYSTREAM_TEST_KAFKA"), s->topic, (long)getpid(),
            n, extra_config);
    fclose(f);
    PGconn *conn = proc_test_connect(&s->db);
    rt_pay(conn, "WECHAT", "C1", "TC1", "PAID", 1000, 0, "CNY", t);
    rt_pay(conn, "WECHAT", "C2", "TC2", "PAID", 1000, 0, "CNY", t);
    rt_pay(conn, "WECHAT", "C4", "TC4", "PAID", 900, 0, "CNY", t);
    PQfinish(conn);
    rt_stmt_begin(&st, win_start, win_end);
    rt_stmt_row(&st, "wechat", "payment", "C1", "TC1", "", 1000, "CNY", t, "SUCCESS");
    rt_stmt_row(&st, "wechat", "payment", "C2", "TC2", "", 1300, "CNY", t, "SUCCESS");
    rt_stmt_row(&st, "wechat", "payment", "C3", "TC3", "", 500, "CNY", t, "SUCCESS");
    rt_stmt_end(&st, s->statement);
}

static void scenario_close(scenario_t *s)
{
    rt_topic(s->topic, false);
    proc_test_db_drop(&s->db);
}

/* Runs the program; crash_at may be NULL; extra args appended. Returns its exit status. */
static int run_prog(const scenario_t *s, const char *crash_at, const char *extra)
{
    char cmd[4096];

    snprintf(cmd, sizeof(cmd),
             "%s%s %s --config %s run --channel wechat --format generic --statement %s %s "
             "> %s 2> %s",
             crash_at != NULL ? "PAYSTREAM_RECON_CRASH_AT=" : "", crash_at != NULL ? crash_at : "",
             prog, s->config, s->statement, extra, s->out, s->err);
    int status = system(cmd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static char *slurp(const char *path)
{
    static char buf[65536];
    FILE *f = fopen(path, "rb");
    size_t n = f != NULL ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

    if (f != NULL)
        fclose(f);
    buf[n] = '\0';
    return buf;
}

/* Distinct ids among ids[0..n). */
static int distinct(char **ids, int n)
{
    int d = 0;

    for (int i = 0; i < n; i++) {
        bool seen = false;
        for (int j = 0; j < i; j++)
            seen = seen || strcmp(ids[i], ids[j]) == 0;
        d += !seen;
    }
    return d;
}

/*
 * Goal: a crash at point leaves an EMITTING run; the next run completes it;
 * afterwards exactly the 3 planned ids are in Kafka, once each, and the run
 * is SUCCEEDED.
 */
static void crash_case(int n, const char *point, int msgs_after_crash, int expect_msgs)
{
    scenario_t s;
    char *ids[RT_IDS_MAX];

    scenario_open(&s, n, "");
    CHECK_INT(run_prog(&s, point, ""), 86);
    CHECK_CONTAINS(slurp(s.err), point);
    PGconn *conn = proc_test_connect(&s.db);
    CHECK_INT(rt_scalar(conn, "SELECT count(*) FROM recon_runs WHERE status = 'EMITTING'"), 1);
    CHECK_INT(rt_scalar(conn, "SELECT count(*) FROM recon_commands WHERE state = 'PLANNED'"), 3);
    int got = rt_consume_ids(s.topic, ids, RT_IDS_MAX);
    CHECK_INT(got, msgs_after_crash);
    rt_free_ids(ids, got > 0 ? got : 0);

    /* The next run completes the crashed one, then finds its statement done. */
    CHECK_INT(run_prog(&s, NULL, ""), 0);
    CHECK_CONTAINS(slurp(s.out), "already reconciled");
    CHECK_INT(rt_scalar(conn, "SELECT count(*) FROM recon_runs WHERE status = 'SUCCEEDED' "
                              "AND commands_emitted = 3"), 1);
    CHECK_INT(rt_scalar(conn, "SELECT count(*) FROM recon_commands WHERE state = 'EMITTED'"), 3);
    got = rt_consume_ids(s.topic, ids, RT_IDS_MAX);
    CHECK_INT(got, expect_msgs);
    CHECK_INT(got > 0 ? distinct(ids, got) : 0, 3);
    PGresult *res = PQexec(conn, "SELECT command_id FROM recon_commands");
    for (int i = 0; got > 0 && i < PQntuples(res); i++) {
        bool found = false;
        for (int j = 0; j < got; j++)
            found = found || strcmp(ids[j], PQgetvalue(res, i, 0)) == 0;
        CHECK(found);
    }
    PQclear(res);
    rt_free_ids(ids, got > 0 ? got : 0);
    /* A third run has nothing left to do and emits nothing. */
    CHECK_INT(run_prog(&s, NULL, ""), 0);
    got = rt_consume_ids(s.topic, ids, RT_IDS_MAX);
    CHECK_INT(got, expect_msgs);
    rt_free_ids(ids, got > 0 ? got : 0);
    PQfinish(conn);
    scenario_close(&s);
}

static void test_crash_after_plan(void)
{
    crash_case(1, "after_plan", 0, 3);
}

static void test_crash_before_kafka_commit(void)
{
    crash_case(2, "before_kafka_commit", 0, 3);
}

/* The commit reached Kafka, PostgreSQL never heard: the successor reads the
 * topic from the recorded offsets, finds all 3 and produces none again. */
static void test_crash_after_kafka_commit(void)
{
    crash_case(3, "after_kafka_commit", 3, 3);
}

/* Goal: exit codes 3, 0 (same statement), 5 (lock held), 2, 1 and 4. */
static void test_exit_codes_and_lock(void)
{
    scenario_t s;
    char errstr[PS_ERRSTR_SIZE], extra[600];
    bool got = false;

    scenario_open(&s, 4, "");
    PGconn *conn = proc_test_connect(&s.db);
    REQUIRE(recon_lock_try(conn, PS_CHANNEL_WECHAT, &got, errstr, sizeof(errstr)) == PS_OK);
    CHECK(got);
    CHECK_INT(run_prog(&s, NULL, ""), 5);
    CHECK_CONTAINS(slurp(s.err), "another reconciliation of channel \"WECHAT\"");
    CHECK_INT(rt_scalar(conn, "SELECT count(*) FROM recon_runs"), 0);
    REQUIRE(recon_lock_release(conn, PS_CHANNEL_WECHAT, errstr, sizeof(errstr)) == PS_OK);

    snprintf(extra, sizeof(extra), "--report-json %s/r.json --report-html %s/r.html", dir, dir);
    CHECK_INT(run_prog(&s, NULL, extra), 3);
    CHECK_CONTAINS(slurp(s.out), "AMOUNT_MISMATCH");
    snprintf(extra, sizeof(extra), "%s/r.json", dir);
    CHECK_CONTAINS(slurp(extra), "\"outcome\": \"discrepancies\"");
    snprintf(extra, sizeof(extra), "%s/r.html", dir);
    CHECK_CONTAINS(slurp(extra), "<td>MISSING_IN_LEDGER</td>");
    CHECK_INT(run_prog(&s, NULL, ""), 0);
    CHECK_INT(run_prog(&s, NULL, "--bogus"), 2);
    CHECK_INT(run_prog(&s, NULL, "--window 2026-13-01"), 2);
    snprintf(extra, sizeof(extra), "--statement %s/missing.csv", dir);
    CHECK_INT(run_prog(&s, NULL, extra), 1);
    CHECK_CONTAINS(slurp(s.err), "missing.csv");
    PQfinish(conn);
    scenario_close(&s);

    scenario_open(&s, 5, "recon.breaker.max_share_bp = 100\nrecon.breaker.min_discrepancies = 1\n");
    CHECK_INT(run_prog(&s, NULL, "--dry-run"), 4);
    CHECK_CONTAINS(slurp(s.err), "circuit breaker");
    scenario_close(&s);
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
    const char *bd = getenv("PAYSTREAM_BUILD_DIR");

    snprintf(prog, sizeof(prog), "%s/reconciler/paystream-reconciler", bd != NULL ? bd : ".");
    snprintf(dir, sizeof(dir), "/tmp/recon_cli_%ld", (long)getpid());
    if (mkdir(dir, 0700) != 0) {
        perror(dir);
        return 1;
    }
    win_start = (rt_now_us() / RT_DAY_US - 2) * RT_DAY_US;
    win_end = win_start + RT_DAY_US;
    RUN(test_crash_after_plan);
    RUN(test_crash_before_kafka_commit);
    RUN(test_crash_after_kafka_commit);
    RUN(test_exit_codes_and_lock);
    remove_dir(dir);
    return test_summary();
}
