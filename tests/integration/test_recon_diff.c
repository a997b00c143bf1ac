/*
 * Integration tests of the reconciler's diff on a real PostgreSQL (no Kafka:
 * every run here is a dry run or emits nothing): a golden statement with one
 * row per discrepancy class, the edge tolerance, grace, the circuit breaker
 * (share and amount), duplicate and foreign rows, and the WeChat and Alipay
 * bill formats from the simulated channel (tools/sim/sim_bills.c).
 */
#include "sim_bills.h"
#include "test_recon_env.h"

#include <sys/stat.h>

static proc_test_db_t db;
static char dir[256];
static int64_t win_start, win_end;

static recon_pair_t *find(recon_result_t *r, const char *key, const char *rid)
{
    for (size_t i = 0; i < r->pair_count; i++)
        if (strcmp(r->pairs[i].payment_key, key) == 0 && strcmp(r->pairs[i].refund_id, rid) == 0)
            return &r->pairs[i];
    return NULL;
}

static void path_of(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", dir, name);
}

/*
 * Goal: one statement exercising every class gives exactly the expected
 * class, action, command kind and amount per row, and matched rows
 * (including a payment across the window edge) are counted, not listed.
 */
static void test_classes_golden(void)
{
    PGconn *conn = proc_test_connect(&db);
    char path[512], errstr[PS_ERRSTR_SIZE];
    rt_stmt_t st;
    int64_t t = win_start + 2 * RT_HOUR_US;

    rt_pay(conn, "WECHAT", "G1", "T1", "PAID", 1000, 0, "CNY", t);
    rt_pay(conn, "WECHAT", "G2", "T2", "PAID", 1000, 0, "CNY", t);
    rt_pay(conn, "WECHAT", "G4", "T4", "PAID", 700, 200, "CNY", t);       /* not in statement */
    rt_pay(conn, "WECHAT", "G5", "T5", "PAID", 500, 0, "CNY", t);         /* channel closed it */
    rt_pay(conn, "WECHAT", "G6", "T6", "PAID", 900, 0, "CNY", t);         /* currency differs */
    rt_pay(conn, "WECHAT", "G7", "T7", "PAID", 800, 0, "CNY", t - 3 * RT_DAY_US); /* refund */
    rt_pay(conn, "WECHAT", "G8", "T8", "PARTIALLY_REFUNDED", 800, 300, "CNY", t);
    rt_refund(conn, "WECHAT", "G8", "R8", 300, "POSTED");
    rt_pay(conn, "WECHAT", "G9", "T9", "PAID", 400, 0, "CNY", win_start - 60 * 1000000);
    rt_pay(conn, "WECHAT", "G10", "T10", "PAID", 400, 0, "CNY", win_end + 60 * 1000000);
    rt_pay(conn, "WECHAT", "G11", "T11", "PENDING", 300, 0, "CNY", 0);
    rt_pay(conn, "ALIPAY", "G12", "T12", "PAID", 300, 0, "CNY", t);       /* other channel */
    rt_stmt_begin(&st, win_start, win_end);
    rt_stmt_row(&st, "wechat", "payment", "G1", "T1", "", 1000, "CNY", t, "SUCCESS");
    rt_stmt_row(&st, "wechat", "payment", "G2", "T2", "", 1100, "CNY", t, "SUCCESS");
    rt_stmt_row(&st, "wechat", "payment", "G3", "T3", "", 600, "CNY", t, "SUCCESS");
    rt_stmt_row(&st, "wechat", "payment", "G5", "T5", "", 500, "CNY", t, "CLOSED");
    rt_stmt_row(&st, "wechat", "payment", "G6", "T6", "", 900, "USD", t, "SUCCESS");
    rt_stmt_row(&st, "wechat", "refund", "G7", "T7", "R7", 250, "CNY", t, "REFUND");
    rt_stmt_row(&st, "wechat", "payment", "G8", "T8", "", 800, "CNY", t, "SUCCESS");
    rt_stmt_row(&st, "wechat", "refund", "G8", "T8", "R8", 300, "CNY", t, "REFUND");
    rt_stmt_row(&st, "wechat", "payment", "G9", "T9", "", 400, "CNY", win_start, "SUCCESS");
    rt_stmt_row(&st, "wechat", "payment", "G11", "T11", "", 300, "CNY", t, "SUCCESS");
    rt_stmt_row(&st, "wechat", "payment", "", "T99", "", 100, "CNY", t, "SUCCESS");
    path_of(path, sizeof(path), "golden.csv");
    rt_stmt_end(&st, path);

    recon_run_opts_t o = rt_opts(&db, path, win_start, win_end, "unused");
    o.dry_run = true;
    recon_result_t r = {0};
    ps_err_t err = recon_run(&o, &r, errstr, sizeof(errstr));
    if (err != PS_OK)
        fprintf(stderr, "%s\n", errstr);
    REQUIRE(err == PS_OK);
    CHECK_INT(r.outcome, RECON_OUT_DISCREPANCIES);
    CHECK_INT(r.pair_count, 8);
    recon_pair_t *p;
    CHECK((p = find(&r, "G2", "")) != NULL && p->cls == RECON_AMOUNT_MISMATCH &&
          p->cmd_kind == PS_COMMAND_ADJUST && p->cmd_amount_minor == 100);
    CHECK((p = find(&r, "G3", "")) != NULL && p->cls == RECON_MISSING_IN_LEDGER &&
          p->cmd_kind == PS_COMMAND_COMPENSATE && p->cmd_amount_minor == 600);
    CHECK((p = find(&r, "G4", "")) != NULL && p->cls == RECON_MISSING_IN_STATEMENT &&
          p->cmd_kind == PS_COMMAND_REVERSE && p->cmd_amount_minor == 500);
    CHECK((p = find(&r, "G5", "")) != NULL && p->cls == RECON_STATUS_MISMATCH &&
          p->cmd_kind == PS_COMMAND_REVERSE && p->cmd_amount_minor == 500);
    CHECK((p = find(&r, "G6", "")) != NULL && p->cls == RECON_CURRENCY_MISMATCH &&
          p->action == RECON_ACT_NONE);
    CHECK((p = find(&r, "G7", "R7")) != NULL && p->cls == RECON_STATUS_MISMATCH &&
          p->cmd_kind == PS_COMMAND_ADJUST && p->cmd_amount_minor == -250);
    CHECK((p = find(&r, "G11", "")) != NULL && p->cls == RECON_MISSING_IN_LEDGER &&
          p->cmd_kind == PS_COMMAND_COMPENSATE && p->cmd_amount_minor == 300);
    /* Keyed by transaction id: no order number, unknown to the ledger. */
    CHECK((p = find(&r, "T99", "")) != NULL && p->cls == RECON_MISSING_IN_LEDGER);
    CHECK(find(&r, "G1", "") == NULL && find(&r, "G8", "R8") == NULL &&
          find(&r, "G9", "") == NULL && find(&r, "G10", "") == NULL);
    CHECK_INT(r.tally[RECON_MATCHED].rows, 4); /* G1, G8, G8/R8, G9 */
    CHECK_INT(r.discrepancies, 8);
    for (size_t i = 0; i < r.pair_count; i++)
        CHECK(r.pairs[i].action != RECON_ACT_COMMAND || strlen(r.pairs[i].command_id) == 64);
    /* A dry run records nothing. */
    CHECK_INT(rt_scalar(conn, "SELECT count(*) FROM recon_runs"), 0);
    recon_result_deinit(&r);
    rt_exec(conn, "DELETE FROM payment_refunds; DELETE FROM payments");
    PQfinish(conn);
}

/* Goal: a discrepancy younger than the grace period is PENDING, not acted on. */
static void test_grace(void)
{
    PGconn *conn = proc_test_connect(&db);
    char path[512], errstr[PS_ERRSTR_SIZE];
    rt_stmt_t st;
    int64_t now = rt_now_us(), start = now - RT_DAY_US, end = now + RT_HOUR_US;

    rt_pay(conn, "WECHAT", "Y1", "TY1", "PAID", 100, 0, "CNY", now - 5 * RT_HOUR_US);
    rt_stmt_begin(&st, start, end);
    rt_stmt_row(&st, "wechat", "payment", "Y1", "TY1", "", 100, "CNY", now - 5 * RT_HOUR_US,
                "SUCCESS");
    rt_stmt_row(&st, "wechat", "payment", "Y2", "TY2", "", 100, "CNY", now - 10 * 60000000LL,
                "SUCCESS");
    rt_stmt_row(&st, "wechat", "payment", "Y3", "TY3", "", 100, "CNY", now - 4 * RT_HOUR_US,
                "SUCCESS");
    path_of(path, sizeof(path), "grace.csv");
    rt_stmt_end(&st, path);
    recon_run_opts_t o = rt_opts(&db, path, start, end, "unused");
    o.dry_run = true;
    o.grace_s = 7200;
    recon_result_t r = {0};
    REQUIRE(recon_run(&o, &r, errstr, sizeof(errstr)) == PS_OK);
    recon_pair_t *p = find(&r, "Y2", "");
    CHECK(p != NULL && p->action == RECON_ACT_PENDING && p->command_id[0] == '\0');
    p = find(&r, "Y3", "");
    CHECK(p != NULL && p->action == RECON_ACT_COMMAND);
    CHECK_INT(r.tally[RECON_TALLY_PENDING].rows, 1);
    CHECK_INT(r.discrepancies, 1);
    recon_result_deinit(&r);
    rt_exec(conn, "DELETE FROM payments");
    PQfinish(conn);
}

/* Builds a ledger of n paid payments "B<i>" and a statement listing the first k. */
static void breaker_fixture(PGconn *conn, int n, int k, const char *path)
{
    rt_stmt_t st;
    char order[32], txn[32];

    rt_stmt_begin(&st, win_start, win_end);
    for (int i = 0; i < n; i++) {
        snprintf(order, sizeof(order), "B%d", i);
        snprintf(txn, sizeof(txn), "TB%d", i);
        rt_pay(conn, "WECHAT", order, txn, "PAID", 1000, 0, "CNY", win_start + RT_HOUR_US);
        if (i < k)
            rt_stmt_row(&st, "wechat", "payment", order, txn, "", 1000, "CNY",
                        win_start + RT_HOUR_US, "SUCCESS");
    }
    rt_stmt_end(&st, path);
}

/*
 * Goal: a truncated statement (15 of 20 payments missing) trips the share
 * rule: the run is HALTED, recorded with its reason, and no command is planned.
 */
static void test_breaker_share(void)
{
    PGconn *conn = proc_test_connect(&db);
    char path[512], errstr[PS_ERRSTR_SIZE];

    path_of(path, sizeof(path), "truncated.csv");
    breaker_fixture(conn, 20, 5, path);
    recon_run_opts_t o = rt_opts(&db, path, win_start, win_end, "unused");
    o.breaker_share_bp = 100;
    o.breaker_min_rows = 10;
    recon_result_t r = {0};
    ps_err_t err = recon_run(&o, &r, errstr, sizeof(errstr));
    if (err != PS_OK)
        fprintf(stderr, "%s\n", errstr);
    REQUIRE(err == PS_OK);
    CHECK_INT(r.outcome, RECON_OUT_HALTED);
    CHECK_CONTAINS(r.halt_reason, "15 discrepancies");
    CHECK_INT(r.commands_new, 0);
    CHECK_INT(rt_scalar(conn, "SELECT count(*) FROM recon_runs WHERE status = 'HALTED' "
                              "AND halt_reason LIKE '%max_share_bp%'"), 1);
    CHECK_INT(rt_scalar(conn, "SELECT count(*) FROM recon_diffs WHERE command_id IS NULL"), 15);
    CHECK_INT(rt_scalar(conn, "SELECT count(*) FROM recon_commands"), 0);
    recon_result_deinit(&r);
    rt_exec(conn, "DELETE FROM recon_diffs; DELETE FROM recon_runs; DELETE FROM payments");
    PQfinish(conn);
}

/* Goal: the amount rule halts a run whose commands would move too much money. */
static void test_breaker_amount(void)
{
    PGconn *conn = proc_test_connect(&db);
    char path[512], errstr[PS_ERRSTR_SIZE];

    path_of(path, sizeof(path), "amount.csv");
    breaker_fixture(conn, 3, 1, path);
    recon_run_opts_t o = rt_opts(&db, path, win_start, win_end, "unused");
    o.dry_run = true;
    o.breaker_max_amount_minor = 1999; /* two reversals of 1000 */
    recon_result_t r = {0};
    REQUIRE(recon_run(&o, &r, errstr, sizeof(errstr)) == PS_OK);
    CHECK_INT(r.outcome, RECON_OUT_HALTED);
    CHECK_CONTAINS(r.halt_reason, "2000");
    recon_result_deinit(&r);
    o.breaker_max_amount_minor = 2000;
    memset(&r, 0, sizeof(r));
    REQUIRE(recon_run(&o, &r, errstr, sizeof(errstr)) == PS_OK);
    CHECK_INT(r.outcome, RECON_OUT_DISCREPANCIES);
    recon_result_deinit(&r);
    rt_exec(conn, "DELETE FROM payments");
    PQfinish(conn);
}

/* Goal: duplicate rows and rows of another channel reject the statement before any diff. */
static void test_bad_statements(void)
{
    PGconn *conn = proc_test_connect(&db);
    char path[512], errstr[PS_ERRSTR_SIZE];
    rt_stmt_t st;
    int64_t t = win_start + RT_HOUR_US;

    rt_stmt_begin(&st, win_start, win_end);
    rt_stmt_row(&st, "wechat", "payment", "D1", "TD1", "", 100, "CNY", t, "SUCCESS");
    rt_stmt_row(&st, "wechat", "payment", "D1", "TD1", "", 100, "CNY", t, "SUCCESS");
    path_of(path, sizeof(path), "dup.csv");
    rt_stmt_end(&st, path);
    recon_run_opts_t o = rt_opts(&db, path, win_start, win_end, "unused");
    recon_result_t r = {0};
    CHECK_INT(recon_run(&o, &r, errstr, sizeof(errstr)), PS_ERR_INVALID);
    CHECK_CONTAINS(errstr, "payment \"D1\" twice");
    recon_result_deinit(&r);

    rt_stmt_begin(&st, win_start, win_end);
    rt_stmt_row(&st, "alipay", "payment", "A1", "TA1", "", 100, "CNY", t, "SUCCESS");
    rt_stmt_end(&st, path);
    memset(&r, 0, sizeof(r));
    CHECK_INT(recon_run(&o, &r, errstr, sizeof(errstr)), PS_ERR_INVALID);
    CHECK_CONTAINS(errstr, "another channel");
    recon_result_deinit(&r);

    /* Truncated: the trailer is missing. */
    FILE *f = fopen(path, "wb");
    REQUIRE(f != NULL);
    fputs("#paystream-statement v1,merchant=M1,start=2026-01-01T00:00:00Z,end=2026-01-02T00:00:00Z\n"
          "channel,kind,merchant_order_no,channel_txn_id,refund_id,amount,currency,time,status\n"
          "wechat,payment,X,TX,,1.00,CNY,2026-01-01T01:00:00Z,SUCCESS\n", f);
    fclose(f);
    o.has_window = false;
    memset(&r, 0, sizeof(r));
    CHECK_INT(recon_run(&o, &r, errstr, sizeof(errstr)), PS_ERR_INVALID);
    CHECK_CONTAINS(errstr, "nothing was diffed");
    recon_result_deinit(&r);
    CHECK_INT(rt_scalar(conn, "SELECT count(*) FROM recon_runs"), 0);
    PQfinish(conn);
}

/* Goal: garbage bytes and an oversized order number are clear errors, not crashes. */
static void test_hostile_statements(void)
{
    char path[512], errstr[PS_ERRSTR_SIZE], key[400];
    unsigned char junk[4096];
    recon_result_t r = {0};
    rt_stmt_t st;

    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (unsigned char)(i * 7919u >> 3);
    path_of(path, sizeof(path), "junk.bin");
    REQUIRE(sim_bills_write_file(path, junk, sizeof(junk)) == PS_OK);
    recon_run_opts_t o = rt_opts(&db, path, win_start, win_end, "unused");
    o.dry_run = true;
    /* Apple needs a signature verifier the run does not wire yet: it fails
     * before parsing and is left out here. */
    static const recon_format_t fmts[] = {RECON_FMT_WECHAT, RECON_FMT_ALIPAY, RECON_FMT_GENERIC};
    for (size_t f = 0; f < sizeof(fmts) / sizeof(fmts[0]); f++) {
        o.format = fmts[f];
        memset(&r, 0, sizeof(r));
        ps_err_t err = recon_run(&o, &r, errstr, sizeof(errstr));
        CHECK(err != PS_OK);
        CHECK_CONTAINS(errstr, "nothing was diffed");
        recon_result_deinit(&r);
    }
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    rt_stmt_begin(&st, win_start, win_end);
    rt_stmt_row(&st, "wechat", "payment", key, "TK", "", 100, "CNY", win_start + RT_HOUR_US,
                "SUCCESS");
    path_of(path, sizeof(path), "longkey.csv");
    rt_stmt_end(&st, path);
    o.format = RECON_FMT_GENERIC;
    memset(&r, 0, sizeof(r));
    CHECK(recon_run(&o, &r, errstr, sizeof(errstr)) != PS_OK);
    CHECK_CONTAINS(errstr, "line 3");
    recon_result_deinit(&r);
}

/* Seeds the ledger with the synthetic rows [0, n) except a missing and a wrong one. */
static void seed_synth(PGconn *conn, const sim_bill_synth_t *s, const char *channel)
{
    for (size_t i = 0; i < s->rows; i++) {
        sim_bill_row_t row;
        memset(&row, 0, sizeof(row));
        sim_bills_synth_row((void *)s, i, &row);
        if (row.refund || i == 3)
            continue; /* payment 3: missing in the ledger */
        rt_pay(conn, channel, row.merchant_order_no, row.channel_txn_id, "PAID",
               row.amount_minor + (i == 5 ? 1 : 0), 0, "CNY", row.time_us);
    }
}

/*
 * Goal: the WeChat bill (gzip) and the Alipay bill (GBK zip) from the
 * simulated channel go through the same diff: the payment missing in the
 * ledger, the amount off by one fen and the refund the ledger lacks are found
 * in both formats, and everything else matches.
 */
static void test_channel_formats(void)
{
    static const struct {
        recon_format_t fmt;
        const char *channel, *merchant;
    } cases[] = {{RECON_FMT_WECHAT, "WECHAT", "1900000109"},
                 {RECON_FMT_ALIPAY, "ALIPAY", "2088123412341234"}};
    char path[512], errstr[PS_ERRSTR_SIZE];

    for (size_t c = 0; c < 2; c++) {
        PGconn *conn = proc_test_connect(&db);
        sim_bill_synth_t s = {.rows = 40, .refund_every = 10, .prefix = "S"};
        ps_buf_t bill, gz;
        int64_t day_end = 0;
        REQUIRE(recon_statement_shanghai_day("2026-03-10", &s.day_start_us, &day_end, errstr,
                                             sizeof(errstr)) == PS_OK);
        sim_bill_params_t p = {.merchant_id = cases[c].merchant, .bill_date = "2026-03-10",
                               .rows = s.rows, .row_fn = sim_bills_synth_row, .opaque = &s};
        ps_buf_init(&bill, 16 * 1024 * 1024);
        ps_buf_init(&gz, 16 * 1024 * 1024);
        REQUIRE((c == 0 ? sim_bills_write_wechat(&p, &bill)
                        : sim_bills_write_alipay_zip(&p, &bill)) == PS_OK);
        if (c == 0)
            REQUIRE(sim_bills_gzip(bill.data, bill.len, &gz) == PS_OK);
        path_of(path, sizeof(path), c == 0 ? "bill.csv.gz" : "bill.zip");
        REQUIRE(sim_bills_write_file(path, c == 0 ? gz.data : bill.data,
                                     c == 0 ? gz.len : bill.len) == PS_OK);
        ps_buf_deinit(&bill);
        ps_buf_deinit(&gz);
        seed_synth(conn, &s, cases[c].channel);
        recon_run_opts_t o = rt_opts(&db, path, s.day_start_us, day_end, "unused");
        o.channel = c == 0 ? PS_CHANNEL_WECHAT : PS_CHANNEL_ALIPAY;
        o.format = cases[c].fmt;
        o.dry_run = true;
        recon_result_t r = {0};
        ps_err_t err = recon_run(&o, &r, errstr, sizeof(errstr));
        if (err != PS_OK)
            fprintf(stderr, "%s: %s\n", cases[c].channel, errstr);
        REQUIRE(err == PS_OK);
        CHECK_INT(r.stage.payment_rows, 36);
        CHECK_INT(r.stage.refund_rows, 4);
        CHECK_INT(r.tally[RECON_MISSING_IN_LEDGER].rows, 1);
        CHECK_INT(r.tally[RECON_AMOUNT_MISMATCH].rows, 1);
        /* Every refund (rows 9, 19, 29, 39) is unknown to the seeded ledger. */
        CHECK_INT(r.tally[RECON_STATUS_MISMATCH].rows, 4);
        CHECK_INT(r.tally[RECON_MATCHED].rows, 34);
        recon_result_deinit(&r);
        rt_exec(conn, "DELETE FROM payments");
        PQfinish(conn);
    }
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
    snprintf(dir, sizeof(dir), "/tmp/recon_diff_%ld", (long)getpid());
    if (mkdir(dir, 0700) != 0) {
        perror(dir);
        return 1;
    }
    /* A window two days ago: every payment in it is older than any grace. */
    win_start = (rt_now_us() / RT_DAY_US - 2) * RT_DAY_US;
    win_end = win_start + RT_DAY_US;
    proc_test_db_create(&db, 0);
    RUN(test_classes_golden);
    RUN(test_grace);
    RUN(test_breaker_share);
    RUN(test_breaker_amount);
    RUN(test_bad_statements);
    RUN(test_hostile_statements);
    RUN(test_channel_formats);
    proc_test_db_drop(&db);
    remove_dir(dir);
    return test_summary();
}
