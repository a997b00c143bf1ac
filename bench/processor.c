/*
 * bench/processor: events per second that paystream-processor applies
 * exactly once, with the ceiling and the baseline measured in the same run
 * on the same PostgreSQL:
 *
 *   1. preload N CallbackEvents (default 1,000,000; one payment success each,
 *      the generator of the fault tests) into a fresh topic of P partitions
 *   2. run K processor instances (default 2) from empty on a fresh database;
 *      the rate counts from the first applied row to the last, so the group
 *      join is left out; then check that exactly N events and N journals exist
 *      and that the ledger passes every invariant of `paystream-processor audit`
 *   3. ceiling: COPY the same payment_events rows into a bare table (no index)
 *   4. naive: one transaction per event doing what a straightforward handler
 *      does on the same schema (event, payment, journal, two lines, two
 *      balances, the offset), for M events (default 5,000)
 *
 *   bench-processor [--events N] [--partitions P] [--instances K] [--naive M]
 *                   [--batch B] [--processor PATH]
 * (B is processor.batch.events_max of the instances, default 5000.)
 * Needs PAYSTREAM_TEST_KAFKA and PAYSTREAM_TEST_PG (scripts/services start).
 * The last output line is one JSON object with the figures.
 */
#include "audit.h"
#include "migrate.h"
#include "proc_gen.h"

#include <paystream/avro.h>
#include <paystream/buf.h>
#include <paystream/kafka.h>
#include <paystream/limits.h>
#include <paystream/mem.h>
#include <paystream/pg.h>
#include <paystream/version.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BENCH_INSTANCES_MAX 8
#define BENCH_WAIT_S_MAX 1800

static char errstr[PS_ERRSTR_SIZE];
static const char *brokers, *admin_conninfo;
static char *db_conninfo, dbname[64], topic[96], topic_cmd[96], group[64];
static char batch_max[24] = "5000";

static void die(const char *what)
{
    fprintf(stderr, "bench-processor: %s: %s\n", what, errstr);
    exit(1);
}

static int64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void admin(const char *sql)
{
    PGconn *conn = NULL;

    if (ps_pg_connect(admin_conninfo, &conn, errstr, sizeof(errstr)) != PS_OK ||
        ps_pg_exec(conn, sql, errstr, sizeof(errstr)) != PS_OK)
        die(sql);
    PQfinish(conn);
}

static long long scalar(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    long long v = -1;

    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return v;
}

typedef struct producer {
    rd_kafka_t *rk;
    ps_kafka_delivery_t dlv;
    ps_avro_codec_t *codec;
    ps_buf_t buf;
    uint64_t count;
} producer_t;

static void preload(int64_t n, int partitions)
{
    const char *topics[2] = {topic, topic_cmd};
    rd_kafka_conf_t *conf = NULL;
    producer_t p = {0};
    proc_gen_t g = {.seed = 7};
    char key[PS_ID_BYTES_MAX + 16];
    int64_t t0 = now_us();

    ps_buf_init(&p.buf, PS_AVRO_MESSAGE_BYTES_MAX);
    if (ps_avro_codec_new(&p.codec, errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_conf_new(PS_KAFKA_PRODUCER, &conf, errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_conf_set(conf, "linger.ms", "20", errstr, sizeof(errstr)) != PS_OK)
        die("producer");
    ps_kafka_conf_set_delivery(conf, &p.dlv);
    if (ps_kafka_new(PS_KAFKA_PRODUCER, &conf, &p.rk, errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_create_topics(p.rk, topics, 2, partitions, 1, 30000, errstr, sizeof(errstr)) !=
            PS_OK)
        die("topics");
    for (int64_t j = 0; j < n; j++) {
        ps_callback_event_t ev;
        proc_gen_fill(&g, j, 0, &ev);
        snprintf(key, sizeof(key), "%s:%s", ps_channel_name(ev.channel), ev.merchant_order_no);
        if (ps_avro_encode_callback_event(p.codec, &ev, &p.buf, errstr, sizeof(errstr)) != PS_OK ||
            ps_kafka_produce(p.rk, topic, key, strlen(key), p.buf.data, p.buf.len, 60000, errstr,
                             sizeof(errstr)) != PS_OK)
            die("produce");
        ps_callback_event_deinit(&ev);
    }
    if (ps_kafka_flush(p.rk, &p.dlv, (uint64_t)n, 120000, errstr, sizeof(errstr)) != PS_OK)
        die("flush");
    printf("preloaded %lld events into \"%s\" (%d partitions) in %lld ms\n", (long long)n,
           topic, partitions, (long long)((now_us() - t0) / 1000));
    rd_kafka_destroy(p.rk);
    ps_avro_codec_destroy(p.codec);
    ps_buf_deinit(&p.buf);
}

static pid_t spawn(const char *bin, int i)
{
    char inst[32];
    pid_t pid = fork();

    if (pid != 0)
        return pid;
    snprintf(inst, sizeof(inst), "bench-%d", i);
    setenv("PAYSTREAM_PG_CONNINFO", db_conninfo, 1);
    setenv("PAYSTREAM_TOPIC_CALLBACKS", topic, 1);
    setenv("PAYSTREAM_TOPIC_COMMANDS", topic_cmd, 1);
    setenv("PAYSTREAM_PROCESSOR_GROUP", group, 1);
    setenv("PAYSTREAM_PROCESSOR_INSTANCE", inst, 1);
    setenv("PAYSTREAM_KAFKA_BOOTSTRAP_SERVERS", brokers, 1);
    setenv("PAYSTREAM_LOG_LEVEL", "warn", 0);
    setenv("PAYSTREAM_PROCESSOR_BATCH_EVENTS_MAX", batch_max, 0);
    execl(bin, bin, "run", (char *)NULL);
    _exit(127);
}

/* The ledger the processors left must pass every invariant of
 * `paystream-processor audit` (balanced journals, balances equal to their
 * lines, nothing applied twice, payments agreeing with their journals) and
 * cover exactly n payments: a faster apply that breaks one fails the bench. */
static void audit_ledger(PGconn *conn, int64_t n)
{
    proc_audit_result_t res;
    int64_t t0 = now_us();

    memset(&res, 0, sizeof(res));
    if (proc_audit_run(conn, stderr, &res, errstr, sizeof(errstr)) != PS_OK)
        die("audit");
    if (res.failures != 0 || res.payments != n || res.journals != n) {
        fprintf(stderr, "bench-processor: audit failed: %lld invariant failures, %lld payments "
                        "and %lld journals (expected %lld)\n",
                (long long)res.failures, (long long)res.payments, (long long)res.journals,
                (long long)n);
        exit(1);
    }
    printf("audit: all invariants hold over %lld payments, %lld journals and %lld accounts in "
           "%lld ms (digest %.12s)\n",
           (long long)res.payments, (long long)res.journals, (long long)res.accounts,
           (long long)((now_us() - t0) / 1000), res.digest);
}

/* Runs the processors until n events are applied; returns events/s from first to last row. */
static int64_t run_processors(const char *bin, int instances, int64_t n)
{
    pid_t pids[BENCH_INSTANCES_MAX];
    char sql[256];
    PGconn *conn = NULL;
    long long c0 = 0, c = 0;
    int64_t t0 = 0, t1 = 0, start = now_us();

    if (ps_pg_connect(db_conninfo, &conn, errstr, sizeof(errstr)) != PS_OK)
        die("connect");
    for (int i = 0; i < instances; i++)
        pids[i] = spawn(bin, i);
    /* Progress from the stored offsets (a few rows), not count(*) over the
     * growing event table, which would compete with the processors for CPU. */
    snprintf(sql, sizeof(sql),
             "SELECT coalesce(sum(greatest(next_offset, 0)), 0) FROM kafka_offsets"
             " WHERE topic = '%s'",
             topic);
    while (now_us() - start < (int64_t)BENCH_WAIT_S_MAX * 1000000) {
        usleep(200 * 1000);
        c = scalar(conn, sql);
        if (t0 == 0 && c > 0) {
            t0 = now_us();
            c0 = c;
        }
        if (c >= n) {
            t1 = now_us();
            break;
        }
    }
    for (int i = 0; i < instances; i++) {
        int status = 0;
        kill(pids[i], SIGTERM);
        waitpid(pids[i], &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            fprintf(stderr, "bench-processor: instance %d exited with status %d\n", i, status);
    }
    if (t1 == 0 || t1 <= t0) {
        fprintf(stderr, "bench-processor: only %lld of %lld events applied\n", c, (long long)n);
        exit(1);
    }
    if (scalar(conn, "SELECT count(*) FROM payment_events") != n ||
        scalar(conn, "SELECT count(*) FROM journals") != n ||
        scalar(conn, "SELECT count(*) FROM payments WHERE state = 'PAID'") != n) {
        fprintf(stderr, "bench-processor: ledger does not hold exactly %lld events, journals "
                        "and paid payments\n",
                (long long)n);
        exit(1);
    }
    audit_ledger(conn, n);
    printf("processor: %lld events applied exactly once by %d instance%s in %lld ms "
           "(measured from the first applied row, %lld already in)\n",
           (long long)(n - c0), instances, instances == 1 ? "" : "s",
           (long long)((t1 - t0) / 1000), c0);
    PQfinish(conn);
    return (n - c0) * 1000000 / (t1 - t0);
}

/* One payment_events row in COPY text format (bytea as \\x hex). */
static void copy_row(ps_buf_t *row, const ps_callback_event_t *ev, int64_t j)
{
    static const char hex[] = "0123456789abcdef";

    ps_buf_reset(row);
    ps_buf_appendf(row, "%s\t%s\t%s\t%s\t%s\t%s\t\\N\t%lld\t\\N\t%s\t%s\t",
                   ps_channel_name(ev->channel), ev->channel_event_id,
                   ps_event_kind_name(ev->kind), ev->channel_event_type, ev->merchant_order_no,
                   ev->channel_txn_id, (long long)ev->amount_minor, ev->currency, ev->account_id);
    ps_buf_appendf(row, "2026-11-19 09:46:40+00\t2026-11-19 09:46:40+00\t2026-11-19 09:46:40+00\t\\\\x");
    for (size_t i = 0; i < ev->raw_body_len; i++) {
        char b[2] = {hex[ev->raw_body[i] >> 4], hex[ev->raw_body[i] & 15]};
        ps_buf_append(row, b, 2);
    }
    ps_buf_appendf(row, "\t%s\t%lld\t%lld\n", topic, (long long)(j % 4), (long long)j);
}

/* Rows/s of COPY of n payment_events rows into a table without indexes. */
static int64_t copy_ceiling(int64_t n)
{
    static const char cols[] =
        "channel, channel_event_id, kind, channel_event_type, merchant_order_no, "
        "channel_txn_id, refund_id, amount_minor, refund_total_minor, currency, account_id, "
        "event_time, paid_time, received_time, evidence_avro, kafka_topic, kafka_partition, "
        "kafka_offset";
    char sql[512];
    proc_gen_t g = {.seed = 7};
    PGconn *conn = NULL;
    PGresult *res;
    ps_buf_t row;
    int64_t t0;

    ps_buf_init(&row, 1 << 20);
    if (ps_pg_connect(db_conninfo, &conn, errstr, sizeof(errstr)) != PS_OK ||
        ps_pg_exec(conn,
                   "CREATE TABLE bench_bare AS SELECT * FROM payment_events WITH NO DATA",
                   errstr, sizeof(errstr)) != PS_OK)
        die("bare table");
    snprintf(sql, sizeof(sql), "COPY bench_bare (%s) FROM STDIN", cols);
    t0 = now_us();
    res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_COPY_IN)
        die("copy");
    PQclear(res);
    for (int64_t j = 0; j < n; j++) {
        ps_callback_event_t ev;
        proc_gen_fill(&g, j, 0, &ev);
        copy_row(&row, &ev, j);
        if (PQputCopyData(conn, (const char *)row.data, (int)row.len) != 1)
            die("copy data");
        ps_callback_event_deinit(&ev);
    }
    if (PQputCopyEnd(conn, NULL) != 1)
        die("copy end");
    res = PQgetResult(conn);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        snprintf(errstr, sizeof(errstr), "%s", PQerrorMessage(conn));
        die("copy result");
    }
    PQclear(res);
    t0 = now_us() - t0;
    printf("ceiling: COPY of %lld rows into a bare table in %lld ms\n", (long long)n,
           (long long)(t0 / 1000));
    ps_buf_deinit(&row);
    PQfinish(conn);
    return n * 1000000 / (t0 > 0 ? t0 : 1);
}

/* The statements of a straightforward one-transaction-per-event handler. */
static const char *const naive_sql[] = {
    "BEGIN",
    "INSERT INTO payment_events (channel, channel_event_id, kind, channel_event_type,"
    " merchant_order_no, channel_txn_id, amount_minor, currency, account_id, event_time,"
    " paid_time, received_time, evidence_avro, kafka_topic, kafka_partition, kafka_offset)"
    " VALUES ($1, $2, 'PAYMENT_SUCCEEDED', 'TRANSACTION.SUCCESS', $3, $4, $5::bigint, $6, $7,"
    " now(), now(), now(), '\\x00', 'naive', 0, $8::bigint) ON CONFLICT DO NOTHING",
    "INSERT INTO payments (channel, merchant_order_no, channel_txn_id, state, state_rank,"
    " amount_minor, currency, account_id, is_paid)"
    " VALUES ($1, $3, $4, 'PAID', 2, $5::bigint, $6, $7, true) ON CONFLICT DO NOTHING",
    "INSERT INTO journals (source_kind, source_id, currency, account_id, amount_minor,"
    " contra_account_id) VALUES ('CALLBACK_EVENT', $1 || ':' || $2, $6, 'naive-clearing',"
    " $5::bigint, $7)",
    "UPDATE accounts SET balance_minor = balance_minor + $5::bigint, updated_at = now()"
    " WHERE account_id = 'naive-clearing' AND currency = $6",
    "UPDATE accounts SET balance_minor = balance_minor - $5::bigint, updated_at = now()"
    " WHERE account_id = $7 AND currency = $6",
    "UPDATE kafka_offsets SET next_offset = $8::bigint + 1 WHERE consumer_group = 'naive'"
    " AND topic = 'naive' AND partition = 0",
    "COMMIT",
};

/* Events/s of m events, one transaction each, on the same database. */
static int64_t naive_rate(int64_t m)
{
    PGconn *conn = NULL;
    proc_gen_t g = {.seed = 8};
    int64_t t0;

    if (ps_pg_connect(db_conninfo, &conn, errstr, sizeof(errstr)) != PS_OK ||
        ps_pg_exec(conn,
                   "INSERT INTO accounts (account_id, currency, kind) SELECT a, c, k FROM"
                   " (VALUES ('naive-clearing', 'CHANNEL_CLEARING')) v(a, k),"
                   " (VALUES ('CNY'), ('USD')) w(c);"
                   "INSERT INTO accounts (account_id, currency, kind) SELECT"
                   " 'naive-player-' || lpad(i::text, 3, '0'), c, 'PLAYER' FROM"
                   " generate_series(0, 199) i, (VALUES ('CNY'), ('USD')) w(c);"
                   "INSERT INTO kafka_offsets (consumer_group, topic, partition, next_offset)"
                   " VALUES ('naive', 'naive', 0, 0)",
                   errstr, sizeof(errstr)) != PS_OK)
        die("naive setup");
    t0 = now_us();
    for (int64_t j = 0; j < m; j++) {
        ps_callback_event_t ev;
        char amount[24], off[24], player[64], id[64];
        const char *params[8];
        proc_gen_fill(&g, j, 0, &ev);
        snprintf(amount, sizeof(amount), "%lld", (long long)ev.amount_minor);
        snprintf(off, sizeof(off), "%lld", (long long)j);
        snprintf(player, sizeof(player), "naive-%s", ev.account_id);
        snprintf(id, sizeof(id), "naive-%s", ev.channel_event_id);
        params[0] = ps_channel_name(ev.channel);
        params[1] = id;
        params[2] = ev.merchant_order_no;
        params[3] = ev.channel_txn_id;
        params[4] = amount;
        params[5] = ev.currency;
        params[6] = player;
        params[7] = off;
        for (size_t s = 0; s < sizeof(naive_sql) / sizeof(naive_sql[0]); s++) {
            /* Typed as text: statements that leave some parameters unused still prepare. */
            static const Oid types[8] = {25, 25, 25, 25, 25, 25, 25, 25};
            int np = s == 0 || s == 7 ? 0 : 8;
            PGresult *res = PQexecParams(conn, naive_sql[s], np, np ? types : NULL,
                                         np ? params : NULL, NULL, NULL, 0);
            if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
                ps_pg_result_error(conn, res, NULL, errstr, sizeof(errstr));
                die("naive statement");
            }
            PQclear(res);
        }
        ps_callback_event_deinit(&ev);
    }
    t0 = now_us() - t0;
    printf("naive: %lld events, one transaction each, in %lld ms\n", (long long)m,
           (long long)(t0 / 1000));
    PQfinish(conn);
    return m * 1000000 / (t0 > 0 ? t0 : 1);
}

/* Deletes the bench's topics (best effort: a failure is reported, not fatal). */
static void delete_topics(void)
{
    const char *topics[2] = {topic, topic_cmd};
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *rk = NULL;

    if (ps_kafka_conf_new(PS_KAFKA_PRODUCER, &conf, errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_new(PS_KAFKA_PRODUCER, &conf, &rk, errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_delete_topics(rk, topics, 2, 30000, errstr, sizeof(errstr)) != PS_OK)
        fprintf(stderr, "bench-processor: could not delete the topics: %s\n", errstr);
    if (conf != NULL)
        rd_kafka_conf_destroy(conf);
    if (rk != NULL)
        rd_kafka_destroy(rk);
}

static long long parse_count(const char *s, long long min, long long max, const char *what)
{
    char *end = NULL;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "bench-processor: invalid %s \"%s\": expected %lld to %lld\n", what, s,
                min, max);
        exit(2);
    }
    return v;
}

/* ratio a/b with two decimals, in integers: "12.34". */
static void ratio(char *out, size_t size, int64_t a, int64_t b)
{
    int64_t hundredths = b > 0 ? a * 100 / b : 0;

    snprintf(out, size, "%lld.%02lld", (long long)(hundredths / 100),
             (long long)(hundredths % 100));
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"events", required_argument, NULL, 'n'}, {"partitions", required_argument, NULL, 'p'},
        {"instances", required_argument, NULL, 'k'}, {"naive", required_argument, NULL, 'm'},
        {"processor", required_argument, NULL, 'x'}, {"batch", required_argument, NULL, 'b'},
        {"keep", no_argument, NULL, 'K'}, {NULL, 0, NULL, 0}};
    const char *bd = getenv("PAYSTREAM_BUILD_DIR"), *src = getenv("PAYSTREAM_SOURCE_DIR");
    char bin[1024], dir[1024], sql[160], r_ceiling[32], r_naive[32];
    long long n = 1000000, partitions = 4, instances = 2, m = 5000;
    int64_t rate, ceiling, naive;
    bool keep = false; /* leave the database and topics for inspection */
    int c;

    snprintf(bin, sizeof(bin), "%s/processor/paystream-processor", bd != NULL ? bd : "build");
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'n': n = parse_count(optarg, 1000, 10000000, "--events"); break;
        case 'p': partitions = parse_count(optarg, 1, 64, "--partitions"); break;
        case 'k': instances = parse_count(optarg, 1, BENCH_INSTANCES_MAX, "--instances"); break;
        case 'm': m = parse_count(optarg, 100, 1000000, "--naive"); break;
        case 'K': keep = true; break;
        case 'x': snprintf(bin, sizeof(bin), "%s", optarg); break;
        case 'b':
            snprintf(batch_max, sizeof(batch_max), "%lld",
                     parse_count(optarg, 1, PS_PROC_BATCH_EVENTS_MAX, "--batch"));
            break;
        default: return 2;
        }
    }
    brokers = getenv("PAYSTREAM_TEST_KAFKA");
    admin_conninfo = getenv("PAYSTREAM_TEST_PG");
    if (brokers == NULL || admin_conninfo == NULL) {
        fprintf(stderr, "bench-processor: PAYSTREAM_TEST_KAFKA and PAYSTREAM_TEST_PG must be set "
                        "(scripts/services start; . .run/env)\n");
        return 2;
    }
    snprintf(dbname, sizeof(dbname), "bench_proc_%ld", (long)getpid());
    snprintf(topic, sizeof(topic), "bench-proc-%ld-callbacks", (long)getpid());
    snprintf(topic_cmd, sizeof(topic_cmd), "bench-proc-%ld-commands", (long)getpid());
    snprintf(group, sizeof(group), "bench-proc-%ld", (long)getpid());
    /* The collation the README prescribes for production (keys compare
     * bytewise), whatever the cluster's default is. */
    snprintf(sql, sizeof(sql),
             "CREATE DATABASE %s TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C.UTF-8'", dbname);
    admin(sql);
    snprintf(dir, sizeof(dir), "%s/schemas/postgres", src != NULL ? src : PS_SOURCE_DIR);
    if (ps_pg_conninfo_set(admin_conninfo, "dbname", dbname, &db_conninfo, errstr,
                           sizeof(errstr)) != PS_OK ||
        proc_migrate(db_conninfo, dir, NULL, errstr, sizeof(errstr)) != PS_OK)
        die("database");
    preload(n, (int)partitions);
    rate = run_processors(bin, (int)instances, n);
    ceiling = copy_ceiling(n);
    naive = naive_rate(m);
    ratio(r_ceiling, sizeof(r_ceiling), rate, ceiling);
    ratio(r_naive, sizeof(r_naive), rate, naive);
    printf("processor %lld events/s; COPY ceiling %lld rows/s (ratio %s); naive %lld events/s "
           "(ratio %s)\n",
           (long long)rate, (long long)ceiling, r_ceiling, (long long)naive, r_naive);
    if (keep) {
        printf("kept database \"%s\" and topics \"%s\", \"%s\"\n", dbname, topic, topic_cmd);
    } else {
        snprintf(sql, sizeof(sql), "DROP DATABASE %s WITH (FORCE)", dbname);
        admin(sql);
        delete_topics();
    }
    printf("{\"events_per_s\": %lld, \"copy_ceiling_rows_per_s\": %lld, \"naive_events_per_s\": "
           "%lld, \"ratio_to_ceiling\": %s, \"ratio_to_naive\": %s}\n",
           (long long)rate, (long long)ceiling, (long long)naive, r_ceiling, r_naive);
    ps_free(db_conninfo);
    return 0;
}
