/*
 * Shared set-up of the reconciler's integration tests (test_recon_*.c): a
 * throwaway database recon_test_<pid>_<n> migrated with the real migrations,
 * ledger rows inserted directly, generic statements written from rows, unique
 * Kafka topics and a read_committed reader that decodes every LedgerCommand.
 * Header-only: each test is one program. Every helper exits the test (never
 * passes it) when its service fails.
 */
#ifndef TEST_RECON_ENV_H
#define TEST_RECON_ENV_H

#include "proc_test_env.h" /* the throwaway migrated database, shared with the processor tests */
#include "recon_run.h"

#include <paystream/avro.h>
#include <paystream/assert.h>
#include <paystream/buf.h>
#include <paystream/kafka.h>
#include <paystream/limits.h>
#include <paystream/mem.h>
#include <paystream/money.h>
#include <paystream/pg.h>
#include <paystream/timeparse.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RT_HOUR_US ((int64_t)3600 * 1000000)
#define RT_DAY_US (24 * RT_HOUR_US)
#define RT_IDS_MAX 256

static inline int64_t rt_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline void rt_exec(PGconn *conn, const char *sql)
{
    char errstr[PS_ERRSTR_SIZE];

    if (ps_pg_exec(conn, sql, errstr, sizeof(errstr)) != PS_OK) {
        fprintf(stderr, "%s: %s\n", sql, errstr);
        exit(1);
    }
}

/* A scalar query's int64 result, or -999 when it fails (a check then fails). */
static inline long long rt_scalar(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    long long v = -999;

    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
        v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    else
        fprintf(stderr, "query failed: %s: %s\n", sql, PQerrorMessage(conn));
    PQclear(res);
    return v;
}

static inline const char *rt_state_rank(const char *state)
{
    return strcmp(state, "PENDING") == 0              ? "0"
           : strcmp(state, "CLOSED") == 0             ? "1"
           : strcmp(state, "PAID") == 0               ? "2"
           : strcmp(state, "PARTIALLY_REFUNDED") == 0 ? "3"
           : strcmp(state, "REFUNDED") == 0           ? "4"
                                                      : "5";
}

/* Inserts a ledger payment of channel ("WECHAT"), paid at paid_us (0: not paid). */
static inline void rt_pay(PGconn *conn, const char *channel, const char *order, const char *txn,
                          const char *state, int64_t amount, int64_t refunded,
                          const char *currency, int64_t paid_us)
{
    char amt[24], ref[24], paid[40], errstr[PS_ERRSTR_SIZE];
    bool is_paid = paid_us != 0;
    const char *params[10] = {channel, order, txn, state, rt_state_rank(state), amt, ref,
                              currency, is_paid ? paid : NULL, is_paid ? "t" : "f"};

    snprintf(amt, sizeof(amt), "%lld", (long long)amount);
    snprintf(ref, sizeof(ref), "%lld", (long long)refunded);
    ps_time_format_utc(paid_us, paid, sizeof(paid));
    if (ps_pg_exec_params(conn,
                          "INSERT INTO payments (channel, merchant_order_no, channel_txn_id, "
                          "state, state_rank, amount_minor, refunded_minor, currency, "
                          "account_id, paid_time, is_paid) VALUES ($1, $2, $3, $4, $5, $6, $7, "
                          "$8, 'player-' || $2, $9, $10)",
                          10, params, NULL, errstr, sizeof(errstr)) != PS_OK) {
        fprintf(stderr, "insert payment %s: %s\n", order, errstr);
        exit(1);
    }
}

static inline void rt_refund(PGconn *conn, const char *channel, const char *order,
                             const char *refund_id, int64_t amount, const char *state)
{
    char amt[24], errstr[PS_ERRSTR_SIZE];
    const char *params[5] = {channel, order, refund_id, amt, state};

    snprintf(amt, sizeof(amt), "%lld", (long long)amount);
    if (ps_pg_exec_params(conn,
                          "INSERT INTO payment_refunds (channel, merchant_order_no, refund_id, "
                          "amount_minor, state, posted) VALUES ($1, $2, $3, $4, $5, $5 = "
                          "'POSTED')",
                          5, params, NULL, errstr, sizeof(errstr)) != PS_OK) {
        fprintf(stderr, "insert refund %s: %s\n", refund_id, errstr);
        exit(1);
    }
}

/* A generic statement (docs/STATEMENTS.md) built row by row. */
typedef struct rt_stmt {
    ps_buf_t buf;
    int64_t rows, pay, ref;
} rt_stmt_t;

static inline void rt_stmt_begin(rt_stmt_t *st, int64_t start_us, int64_t end_us)
{
    char s[40], e[40];

    memset(st, 0, sizeof(*st));
    ps_buf_init(&st->buf, 64 * 1024 * 1024);
    ps_time_format_utc(start_us, s, sizeof(s));
    ps_time_format_utc(end_us, e, sizeof(e));
    (void)ps_buf_appendf(&st->buf,
                         "#paystream-statement v1,merchant=M1,start=%s,end=%s\nchannel,kind,"
                         "merchant_order_no,channel_txn_id,refund_id,amount,currency,time,"
                         "status\n",
                         s, e);
}

/* kind "payment" or "refund"; rid "" for payments; channel lower case. */
static inline void rt_stmt_row(rt_stmt_t *st, const char *channel, const char *kind,
                               const char *order, const char *txn, const char *rid,
                               int64_t amount, const char *currency, int64_t time_us,
                               const char *status)
{
    char amt[PS_MONEY_DECIMAL_BYTES_MAX], t[40];

    PS_ASSERT(ps_money_format(amount, currency, amt, sizeof(amt)) == PS_OK);
    ps_time_format_utc(time_us, t, sizeof(t));
    (void)ps_buf_appendf(&st->buf, "%s,%s,%s,%s,%s,%s,%s,%s,%s\n", channel, kind, order, txn,
                         rid, amt, currency, t, status);
    st->rows++;
    *(strcmp(kind, "refund") == 0 ? &st->ref : &st->pay) += amount;
}

/* Writes the trailer and the file; the builder is released. */
static inline void rt_stmt_end(rt_stmt_t *st, const char *path)
{
    FILE *f = fopen(path, "wb");

    (void)ps_buf_appendf(&st->buf, "#end,rows=%lld,payment_total_minor=%lld,refund_total_minor=%lld\n",
                         (long long)st->rows, (long long)st->pay, (long long)st->ref);
    if (f == NULL || fwrite(st->buf.data, 1, st->buf.len, f) != st->buf.len || fclose(f) != 0) {
        fprintf(stderr, "could not write %s\n", path);
        exit(1);
    }
    ps_buf_deinit(&st->buf);
}

/* Run options for tests: no grace, no breaker, generic format, unique txn id. */
static inline recon_run_opts_t rt_opts(const proc_test_db_t *db, const char *path, int64_t start_us,
                                       int64_t end_us, const char *topic)
{
    static char txn_id[128];
    recon_run_opts_t o = {0};

    snprintf(txn_id, sizeof(txn_id), "recon-test-%ld-%s", (long)getpid(), db->name);
    o.channel = PS_CHANNEL_WECHAT;
    o.format = RECON_FMT_GENERIC;
    o.statement_path = path;
    o.has_window = true;
    o.window_start_us = start_us;
    o.window_end_us = end_us;
    o.conninfo = db->conninfo;
    o.brokers = getenv("PAYSTREAM_TEST_KAFKA");
    o.topic = topic;
    o.txn_id = txn_id;
    o.suspense_account = "recon-suspense";
    o.edge_tolerance_s = 900;
    o.grace_s = 0;
    o.breaker_share_bp = 10000;
    o.breaker_min_rows = 1000000;
    o.breaker_max_amount_minor = 0;
    return o;
}

static inline rd_kafka_t *rt_kafka_admin(void)
{
    char errstr[PS_ERRSTR_SIZE];
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *rk = NULL;

    if (ps_kafka_conf_new(PS_KAFKA_PRODUCER, &conf, errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_conf_set(conf, "bootstrap.servers", test_require_env("PAYSTREAM_TEST_KAFKA"),
                          errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_new(PS_KAFKA_PRODUCER, &conf, &rk, errstr, sizeof(errstr)) != PS_OK) {
        fprintf(stderr, "kafka: %s\n", errstr);
        exit(1);
    }
    return rk;
}

static inline void rt_topic(const char *topic, bool create)
{
    char errstr[PS_ERRSTR_SIZE];
    rd_kafka_t *rk = rt_kafka_admin();
    const char *topics[1] = {topic};
    ps_err_t err = create ? ps_kafka_create_topics(rk, topics, 1, 2, 1, 30000, errstr,
                                                   sizeof(errstr))
                          : ps_kafka_delete_topics(rk, topics, 1, 30000, errstr, sizeof(errstr));

    rd_kafka_destroy(rk);
    if (err != PS_OK) {
        fprintf(stderr, "topic %s: %s\n", topic, errstr);
        exit(1);
    }
}

/*
 * Reads every committed message of topic (2 partitions) with read_committed,
 * decodes each LedgerCommand and stores its id in ids[] (owned: free each).
 * Returns the number of messages, or -1 on failure.
 */
static inline int rt_consume_ids(const char *topic, char **ids, int ids_max)
{
    char errstr[PS_ERRSTR_SIZE], group[200];
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *rk = NULL;
    ps_avro_codec_t *codec = NULL;
    int n = -1, eof = 0;

    snprintf(group, sizeof(group), "%s.reader.%lld", topic, (long long)rt_now_us());
    if (ps_avro_codec_new(&codec, errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_conf_new(PS_KAFKA_CONSUMER, &conf, errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_conf_set(conf, "bootstrap.servers", test_require_env("PAYSTREAM_TEST_KAFKA"),
                          errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_conf_set(conf, "group.id", group, errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_conf_set(conf, "isolation.level", "read_committed", errstr, sizeof(errstr)) !=
            PS_OK ||
        ps_kafka_conf_set(conf, "enable.partition.eof", "true", errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_new(PS_KAFKA_CONSUMER, &conf, &rk, errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_assign_all(rk, topic, 2, RD_KAFKA_OFFSET_BEGINNING, errstr, sizeof(errstr)) !=
            PS_OK) {
        fprintf(stderr, "consume %s: %s\n", topic, errstr);
        goto out;
    }
    n = 0;
    for (int polls = 0; polls < 300 && eof < 2; polls++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        ps_ledger_command_t cmd = {0};
        if (m == NULL)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            eof++;
        else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR)
            fprintf(stderr, "consume: %s\n", rd_kafka_message_errstr(m));
        else if (ps_avro_decode_ledger_command(codec, m->payload, m->len, &cmd, errstr,
                                               sizeof(errstr)) != PS_OK)
            fprintf(stderr, "decode: %s\n", errstr), n = -1000;
        else if (n >= 0 && n < ids_max)
            ids[n++] = ps_strdup(cmd.command_id);
        ps_ledger_command_deinit(&cmd);
        rd_kafka_message_destroy(m);
    }
    if (eof < 2)
        fprintf(stderr, "consume %s: did not reach the end\n", topic), n = -1;
out:
    if (conf != NULL)
        rd_kafka_conf_destroy(conf);
    if (rk != NULL) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    ps_avro_codec_destroy(codec);
    return n;
}

static inline void rt_free_ids(char **ids, int n)
{
    for (int i = 0; i < n; i++)
        ps_free(ids[i]);
}

#endif
