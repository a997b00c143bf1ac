/*
 * bench/reconciler: the reconciler benchmark of issue 5.
 *
 * Set-up (not timed): a 1,000,000-row WeChat trade bill written by the
 * channel simulator's generator (tools/sim/sim_bills.c) to a file, a fresh
 * database bench_recon_<pid> with the real migrations, and a ledger of
 * 1,000,000 payments bulk-loaded with COPY that matches the bill except for
 * 0.1 % injected discrepancies (amounts off by one fen, payments missing from
 * the ledger, ledger payments missing from the bill).
 *
 * Timed: one real `recon_run` end to end (parse, stage, diff, classify,
 * record, emit the commands in a Kafka transaction), then, on the same
 * PostgreSQL, the ceiling: a raw COPY of the same rows into a bare unlogged
 * table plus one bare FULL OUTER JOIN count against the ledger. Targets on
 * 2 cores: <= 10 s end to end and <= 3x the ceiling.
 *
 * Usage: bench-reconciler [--rows N]   (needs PAYSTREAM_TEST_PG and
 * PAYSTREAM_TEST_KAFKA, as set by scripts/services; run from the source tree
 * or set PAYSTREAM_SOURCE_DIR). The last output line is one JSON object:
 *   {"rows":..,"seconds":..,"rows_per_s":..,"ceiling_seconds":..,"ratio":..}
 * Figures are printed as integer milliseconds turned into decimal text; no
 * floating point is involved.
 */
#include "migrate.h"
#include "recon_run.h"
#include "sim_bills.h"

#include <paystream/buf.h>
#include <paystream/kafka.h>
#include <paystream/limits.h>
#include <paystream/mem.h>
#include <paystream/pg.h>
#include <paystream/timeparse.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BILL_DATE "2026-03-10"
#define MERCHANT "1900000109"
/* One discrepancy per 1000 rows (0.1 %), rotating over three kinds. */
#define DISCREPANCY_EVERY 3000
#define MISSING_IN_LEDGER_AT 7     /* i % DISCREPANCY_EVERY: row left out of the ledger */
#define AMOUNT_OFF_AT 1003         /* ledger amount one fen more */
#define MISSING_IN_BILL_AT 2005    /* an extra ledger payment the bill lacks */

static char errstr[PS_ERRSTR_SIZE];

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void die(const char *what)
{
    fprintf(stderr, "bench-reconciler: %s: %s\n", what, errstr);
    exit(1);
}

static void exec_or_die(PGconn *conn, const char *sql)
{
    if (ps_pg_exec(conn, sql, errstr, sizeof(errstr)) != PS_OK)
        die(sql);
}

/* COPY buf into table (columns) on conn. */
static void copy_in(PGconn *conn, const char *copy_sql, const ps_buf_t *buf)
{
    PGresult *res = PQexec(conn, copy_sql);

    if (PQresultStatus(res) != PGRES_COPY_IN) {
        snprintf(errstr, sizeof(errstr), "%s", PQerrorMessage(conn));
        die(copy_sql);
    }
    PQclear(res);
    for (size_t off = 0; off < buf->len; off += PS_RECON_COPY_CHUNK_BYTES) {
        size_t n = buf->len - off < PS_RECON_COPY_CHUNK_BYTES ? buf->len - off
                                                              : PS_RECON_COPY_CHUNK_BYTES;
        if (PQputCopyData(conn, (const char *)buf->data + off, (int)n) != 1)
            die("copy data");
    }
    if (PQputCopyEnd(conn, NULL) != 1)
        die("copy end");
    while ((res = PQgetResult(conn)) != NULL) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            snprintf(errstr, sizeof(errstr), "%s", PQerrorMessage(conn));
            die(copy_sql);
        }
        PQclear(res);
    }
}

/* The ledger: the bill's rows with the injected discrepancies. */
static void ledger_rows(const sim_bill_synth_t *s, ps_buf_t *buf, int64_t *injected)
{
    char paid[40];

    for (size_t i = 0; i < s->rows; i++) {
        sim_bill_row_t row;
        memset(&row, 0, sizeof(row));
        sim_bills_synth_row((void *)s, i, &row);
        ps_time_format_utc(row.time_us, paid, sizeof(paid));
        if (i % DISCREPANCY_EVERY == MISSING_IN_LEDGER_AT) {
            (*injected)++; /* missing in the ledger */
            continue;
        }
        if (i % DISCREPANCY_EVERY == AMOUNT_OFF_AT)
            (*injected)++;
        ps_buf_appendf(buf, "WECHAT\t%s\t%s\tPAID\t2\t%lld\t0\tCNY\tplayer-%zu\t%s\tt\n",
                       row.merchant_order_no, row.channel_txn_id,
                       (long long)(row.amount_minor + (i % DISCREPANCY_EVERY == AMOUNT_OFF_AT)), i % 5000,
                       paid);
        if (i % DISCREPANCY_EVERY == MISSING_IN_BILL_AT) {
            (*injected)++; /* missing in the statement */
            ps_buf_appendf(buf, "WECHAT\tX%s\tX%s\tPAID\t2\t500\t0\tCNY\tplayer-x\t%s\tt\n",
                           row.merchant_order_no, row.channel_txn_id, paid);
        }
    }
}

static void write_bill(const sim_bill_synth_t *s, const char *path)
{
    sim_bill_params_t p = {.merchant_id = MERCHANT, .bill_date = BILL_DATE, .rows = s->rows,
                           .row_fn = sim_bills_synth_row, .opaque = (void *)s};
    ps_buf_t bill;

    ps_buf_init(&bill, PS_RECON_STATEMENT_BYTES_MAX);
    if (sim_bills_write_wechat(&p, &bill) != PS_OK ||
        sim_bills_write_file(path, bill.data, bill.len) != PS_OK) {
        snprintf(errstr, sizeof(errstr), "could not write %s", path);
        die("bill");
    }
    printf("bill: %zu rows, %zu bytes, %s\n", s->rows, bill.len, path);
    ps_buf_deinit(&bill);
}

/* The ceiling: bare COPY of the same rows + one bare FULL OUTER JOIN count. */
static int64_t ceiling_ms(PGconn *conn, const sim_bill_synth_t *s)
{
    ps_buf_t buf;
    char t[40];

    ps_buf_init(&buf, PS_RECON_STATEMENT_BYTES_MAX);
    for (size_t i = 0; i < s->rows; i++) {
        sim_bill_row_t row;
        memset(&row, 0, sizeof(row));
        sim_bills_synth_row((void *)s, i, &row);
        ps_time_format_utc(row.time_us, t, sizeof(t));
        ps_buf_appendf(&buf, "%s\t%s\t%lld\tCNY\t%s\n", row.merchant_order_no,
                       row.channel_txn_id, (long long)row.amount_minor, t);
    }
    /* The same session settings the run gets, so that the ceiling is the best
     * this PostgreSQL does, not a handicapped baseline. */
    exec_or_die(conn, "SET jit = off; SET work_mem = '256MB'");
    exec_or_die(conn, "CREATE UNLOGGED TABLE bench_bare (key text, txn text, amount_minor "
                      "bigint, currency text, t timestamptz)");
    int64_t t0 = mono_ms();
    copy_in(conn, "COPY bench_bare FROM STDIN", &buf);
    PGresult *res = PQexec(conn, "SELECT count(*) FROM bench_bare b FULL JOIN "
                                 "(SELECT * FROM payments WHERE channel = 'WECHAT') p "
                                 "ON p.merchant_order_no = b.key "
                                 "WHERE b.key IS NULL OR p.merchant_order_no IS NULL "
                                 "OR b.amount_minor <> p.amount_minor");
    int64_t ms = mono_ms() - t0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        die("ceiling join");
    printf("ceiling: COPY + FULL OUTER JOIN count = %s rows differ, %lld ms\n",
           PQgetvalue(res, 0, 0), (long long)ms);
    PQclear(res);
    ps_buf_deinit(&buf);
    return ms;
}

/* Decimal text of ms / 1000 with 3 digits, and an integer ratio with 2 digits. */
static void fmt_ms(int64_t ms, char *out, size_t size)
{
    snprintf(out, size, "%lld.%03lld", (long long)(ms / 1000), (long long)(ms % 1000));
}

static void setup_db(char *name, size_t name_size, char **conninfo)
{
    const char *admin = getenv("PAYSTREAM_TEST_PG"), *src = getenv("PAYSTREAM_SOURCE_DIR");
    char sql[160], dir[1024];
    PGconn *conn = NULL;

    if (admin == NULL) {
        snprintf(errstr, sizeof(errstr), "PAYSTREAM_TEST_PG is not set (scripts/services)");
        die("environment");
    }
    snprintf(name, name_size, "bench_recon_%ld", (long)getpid());
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
    snprintf(dir, sizeof(dir), "%s/schemas/postgres", src != NULL ? src : ".");
    if (ps_pg_connect(admin, &conn, errstr, sizeof(errstr)) != PS_OK)
        die("connect");
    exec_or_die(conn, sql);
    PQfinish(conn);
    if (ps_pg_conninfo_set(admin, "dbname", name, conninfo, errstr, sizeof(errstr)) != PS_OK ||
        proc_migrate(*conninfo, dir, NULL, errstr, sizeof(errstr)) != PS_OK)
        die("migrate");
}

static void teardown(const char *name, const char *topic)
{
    char sql[160];
    PGconn *conn = NULL;
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *rk = NULL;
    const char *topics[1] = {topic};

    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    if (ps_pg_connect(getenv("PAYSTREAM_TEST_PG"), &conn, errstr, sizeof(errstr)) == PS_OK)
        (void)ps_pg_exec(conn, sql, errstr, sizeof(errstr));
    PQfinish(conn);
    if (ps_kafka_conf_new(PS_KAFKA_PRODUCER, &conf, errstr, sizeof(errstr)) == PS_OK &&
        ps_kafka_conf_set(conf, "bootstrap.servers", getenv("PAYSTREAM_TEST_KAFKA"), errstr,
                          sizeof(errstr)) == PS_OK &&
        ps_kafka_new(PS_KAFKA_PRODUCER, &conf, &rk, errstr, sizeof(errstr)) == PS_OK)
        (void)ps_kafka_delete_topics(rk, topics, 1, 30000, errstr, sizeof(errstr));
    if (conf != NULL)
        rd_kafka_conf_destroy(conf);
    if (rk != NULL)
        rd_kafka_destroy(rk);
}

static void create_topic(const char *topic)
{
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *rk = NULL;
    const char *topics[1] = {topic};

    if (ps_kafka_conf_new(PS_KAFKA_PRODUCER, &conf, errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_conf_set(conf, "bootstrap.servers", getenv("PAYSTREAM_TEST_KAFKA"), errstr,
                          sizeof(errstr)) != PS_OK ||
        ps_kafka_new(PS_KAFKA_PRODUCER, &conf, &rk, errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_create_topics(rk, topics, 1, 3, 1, 30000, errstr, sizeof(errstr)) != PS_OK)
        die("create topic");
    rd_kafka_destroy(rk);
}

int main(int argc, char **argv)
{
    sim_bill_synth_t s = {.rows = 1000000, .refund_every = 0, .prefix = "P"};
    char name[96], path[256], topic[128], txn_id[128], a[32], b[32];
    char *conninfo = NULL;
    int64_t injected = 0, day_end = 0;

    if (argc == 3 && strcmp(argv[1], "--rows") == 0)
        s.rows = (size_t)strtoull(argv[2], NULL, 10);
    if (s.rows < DISCREPANCY_EVERY || s.rows > PS_RECON_STATEMENT_ROWS_MAX) {
        fprintf(stderr, "usage: bench-reconciler [--rows N], N in [3000, 10000000]\n");
        return 2;
    }
    if (recon_statement_shanghai_day(BILL_DATE, &s.day_start_us, &day_end, errstr,
                                     sizeof(errstr)) != PS_OK)
        die("bill date");
    snprintf(path, sizeof(path), "/tmp/bench_recon_%ld.csv", (long)getpid());
    snprintf(topic, sizeof(topic), "ps.bench.recon.%ld", (long)getpid());
    snprintf(txn_id, sizeof(txn_id), "bench-recon-%ld", (long)getpid());
    write_bill(&s, path);
    setup_db(name, sizeof(name), &conninfo);
    create_topic(topic);
    PGconn *conn = NULL;
    ps_buf_t ledger;
    ps_buf_init(&ledger, PS_RECON_STATEMENT_BYTES_MAX);
    ledger_rows(&s, &ledger, &injected);
    if (ps_pg_connect(conninfo, &conn, errstr, sizeof(errstr)) != PS_OK)
        die("connect");
    copy_in(conn, "COPY payments (channel, merchant_order_no, channel_txn_id, state, state_rank, "
                  "amount_minor, refunded_minor, currency, account_id, paid_time, is_paid) FROM "
                  "STDIN",
            &ledger);
    ps_buf_deinit(&ledger);
    exec_or_die(conn, "VACUUM ANALYZE payments");
    printf("ledger: loaded, %lld injected discrepancies\n", (long long)injected);

    recon_run_opts_t o = {.channel = PS_CHANNEL_WECHAT, .format = RECON_FMT_WECHAT,
                          .statement_path = path, .has_window = true,
                          .window_start_us = s.day_start_us, .window_end_us = day_end,
                          .conninfo = conninfo, .brokers = getenv("PAYSTREAM_TEST_KAFKA"),
                          .topic = topic, .txn_id = txn_id, .suspense_account = "recon-suspense",
                          .edge_tolerance_s = 900, .grace_s = 7200, .breaker_share_bp = 100,
                          .breaker_min_rows = 10, .work_mem_mb = 256};
    recon_result_t r = {0};
    int64_t t0 = mono_ms();
    if (recon_run(&o, &r, errstr, sizeof(errstr)) != PS_OK)
        die("reconciliation");
    int64_t run_ms = mono_ms() - t0;
    printf("run: outcome %d, %lld discrepancies found (%lld injected), %lld commands emitted, "
           "%lld ms (parse + stage %lld, diff %lld, record + emit %lld)\n",
           (int)r.outcome, (long long)r.discrepancies, (long long)injected,
           (long long)r.commands_new, (long long)run_ms, (long long)r.stage_ms,
           (long long)r.diff_ms, (long long)r.emit_ms);
    if (r.discrepancies != injected || r.commands_new != injected)
        fprintf(stderr, "bench-reconciler: warning: found %lld of %lld injected discrepancies\n",
                (long long)r.discrepancies, (long long)injected);
    recon_result_deinit(&r);

    int64_t ceil_ms = ceiling_ms(conn, &s);
    PQfinish(conn);
    teardown(name, topic);
    unlink(path);
    ps_free(conninfo);

    int64_t rate = run_ms > 0 ? (int64_t)s.rows * 1000 / run_ms : 0;
    int64_t ratio_x100 = ceil_ms > 0 ? run_ms * 100 / ceil_ms : 0;
    fmt_ms(run_ms, a, sizeof(a));
    fmt_ms(ceil_ms, b, sizeof(b));
    printf("end to end %s s (%lld rows/s), ceiling %s s, ratio %lld.%02lld (targets: <= 10 s, "
           "<= 3x)\n",
           a, (long long)rate, b, (long long)(ratio_x100 / 100), (long long)(ratio_x100 % 100));
    printf("{\"rows\":%zu,\"seconds\":%s,\"rows_per_s\":%lld,\"ceiling_seconds\":%s,"
           "\"ratio\":%lld.%02lld}\n",
           s.rows, a, (long long)rate, b, (long long)(ratio_x100 / 100),
           (long long)(ratio_x100 % 100));
    return 0;
}
