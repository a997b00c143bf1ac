/*
 * Integration test of `replay` (processor/replay.c) against the real Kafka
 * and PostgreSQL: events, duplicates, refunds (one before its payment,
 * Alipay cumulative ones), a poison message and commands are produced to
 * fresh topics and applied live with proc_apply_batch in batches; a replay
 * of the topics into a fresh schema gives the same digest as the live
 * ledger; a replay from a future timestamp replays nothing; tampering with a
 * live balance makes the audit fail and the digests differ.
 */
#include "apply_test_items.h"
#include "audit.h"
#include "proc_test_env.h"
#include "replay.h"

#include <paystream/assert.h>
#include <paystream/avro.h>
#include <paystream/kafka.h>

#define N_MAX 400
#define LIVE_BATCH 40

static proc_test_db_t db;
static PGconn *conn;
static const char *brokers;
static char topic_cb[128], topic_cmd[128];
static char errstr[PS_ERRSTR_SIZE];
static proc_item_t items[N_MAX];
static ps_buf_t encoded[N_MAX];
static size_t n_items;

/* Adds evidence so the event passes the Avro contract. */
static void add_evidence(ps_callback_event_t *ev)
{
    ev->raw_body = ps_memdup("{\"test\":true}", 13);
    ev->raw_body_len = 13;
    ev->key_id = ps_strdup("test-key");
}

static proc_item_t *next_item(void)
{
    PS_ASSERT(n_items < N_MAX);
    return &items[n_items++];
}

static void gen_event(ps_channel_t ch, ps_event_kind_t kind, const char *id, const char *order,
                      int64_t amount, const char *refund_id, int64_t total)
{
    proc_item_t *it = next_item();
    static const char *const players[] = {"rp-0", "rp-1", "rp-2", "rp-3"};

    item_event(it, ch, kind, id, order, amount, refund_id,
               ch == PS_CHANNEL_APPLE ? "USD" : "CNY", players[(unsigned char)order[strlen(order) - 1] % 4]);
    it->topic = topic_cb;
    if (total > 0) {
        it->ev.has_refund_total = true;
        it->ev.refund_total_minor = total;
    }
    add_evidence(&it->ev);
}

/* The input: 60 payments, refunds, duplicates, one refund before its
 * payment, Alipay cumulative refunds, a poison message and two commands. */
static void generate(void)
{
    char id[64], order[64], rf[64];

    snprintf(order, sizeof(order), "RP-EARLY");
    gen_event(PS_CHANNEL_WECHAT, PS_EVENT_REFUND_SUCCEEDED, "rp-early-r", order, 200, "RP-RF-E", 0);
    gen_event(PS_CHANNEL_WECHAT, PS_EVENT_PAYMENT_SUCCEEDED, "rp-early-p", order, 900, NULL, 0);
    for (int i = 0; i < 60; i++) {
        ps_channel_t ch = (ps_channel_t)(i % 3);
        snprintf(order, sizeof(order), "RP-%03d", i);
        snprintf(id, sizeof(id), "rp-%d-pay", i);
        gen_event(ch, PS_EVENT_PAYMENT_SUCCEEDED, id, order, 1000 + i, NULL, 0);
        if (i % 5 == 0) { /* a duplicate delivery of the same notification */
            gen_event(ch, PS_EVENT_PAYMENT_SUCCEEDED, id, order, 1000 + i, NULL, 0);
        }
        if (i % 4 == 1) {
            snprintf(id, sizeof(id), "rp-%d-ref", i);
            snprintf(rf, sizeof(rf), "RP-RF-%d", i);
            gen_event(ch, PS_EVENT_REFUND_SUCCEEDED, id, order, 100, rf,
                      ch == PS_CHANNEL_ALIPAY ? 100 : 0);
            if (ch == PS_CHANNEL_ALIPAY) { /* cumulative 100 -> 250 */
                snprintf(id, sizeof(id), "rp-%d-ref2", i);
                snprintf(rf, sizeof(rf), "RP-RF-%d-b", i);
                gen_event(ch, PS_EVENT_REFUND_SUCCEEDED, id, order, 150, rf, 250);
            }
        }
    }
    memset(next_item(), 0, sizeof(proc_item_t));
    items[n_items - 1].kind = PROC_ITEM_POISON;
    items[n_items - 1].topic = topic_cb;
    snprintf(items[n_items - 1].reason, sizeof(items[n_items - 1].reason), "not avro");
    item_command(next_item(), PS_COMMAND_COMPENSATE, "rp-cmd-1", PS_CHANNEL_WECHAT, "RP-MISSED",
                 4321, "CNY", "rp-9");
    items[n_items - 1].topic = topic_cmd;
    item_command(next_item(), PS_COMMAND_ADJUST, "rp-cmd-2", PS_CHANNEL_ALIPAY, "RP-ADJ", 77,
                 "CNY", "rp-8");
    items[n_items - 1].topic = topic_cmd;
}

/* Encodes and produces every item (keyed by payment), filling item raw. */
static ps_err_t produce_all(void)
{
    ps_avro_codec_t *codec = NULL;
    ps_kafka_delivery_t dlv = {0, 0, RD_KAFKA_RESP_ERR_NO_ERROR};
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *rk = NULL;
    char key[300];
    ps_err_t err = ps_avro_codec_new(&codec, errstr, sizeof(errstr));

    if (err == PS_OK)
        err = ps_kafka_conf_new(PS_KAFKA_PRODUCER, &conf, errstr, sizeof(errstr));
    if (err == PS_OK)
        err = ps_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof(errstr));
    if (err == PS_OK) {
        ps_kafka_conf_set_delivery(conf, &dlv);
        err = ps_kafka_new(PS_KAFKA_PRODUCER, &conf, &rk, errstr, sizeof(errstr));
    }
    for (size_t i = 0; err == PS_OK && i < n_items; i++) {
        proc_item_t *it = &items[i];
        ps_buf_init(&encoded[i], PS_AVRO_MESSAGE_BYTES_MAX);
        if (it->kind == PROC_ITEM_EVENT) {
            err = ps_avro_encode_callback_event(codec, &it->ev, &encoded[i], errstr,
                                                sizeof(errstr));
            snprintf(key, sizeof(key), "%s:%s", ps_channel_name(it->ev.channel),
                     it->ev.merchant_order_no);
        } else if (it->kind == PROC_ITEM_COMMAND) {
            err = ps_avro_encode_ledger_command(codec, &it->cmd, &encoded[i], errstr,
                                                sizeof(errstr));
            snprintf(key, sizeof(key), "%s:%s", ps_channel_name(it->cmd.channel),
                     it->cmd.payment_key);
        } else {
            err = ps_buf_append_str(&encoded[i], "not avro at all");
            snprintf(key, sizeof(key), "poison");
        }
        it->raw = encoded[i].data;
        it->raw_len = encoded[i].len;
        if (err == PS_OK)
            err = ps_kafka_produce(rk, it->topic, key, strlen(key), it->raw, it->raw_len, 10000,
                                   errstr, sizeof(errstr));
    }
    if (err == PS_OK)
        err = ps_kafka_flush(rk, &dlv, n_items, 30000, errstr, sizeof(errstr));
    if (rk != NULL)
        rd_kafka_destroy(rk);
    ps_avro_codec_destroy(codec);
    return err;
}

static void replay_opts(proc_replay_opts_t *o, const char *schema, const char *const *topics)
{
    static char dir[1024];
    const char *src = getenv("PAYSTREAM_SOURCE_DIR");

    snprintf(dir, sizeof(dir), "%s/schemas/postgres", src != NULL ? src : ".");
    memset(o, 0, sizeof(*o));
    o->brokers = brokers;
    o->conninfo = db.conninfo;
    o->migrations_dir = dir;
    o->schema = schema;
    o->topics = topics;
    o->topic_count = 2;
}

/* Goal: live apply and a replay of the topics give the same digest. */
static void test_replay_matches_live(void)
{
    const char *topics[2] = {topic_cb, topic_cmd};
    proc_apply_t *ap = NULL;
    proc_apply_stats_t st;
    proc_audit_result_t live;
    proc_replay_opts_t o;
    proc_replay_result_t rep;
    char schema[64];

    REQUIRE(proc_apply_new(conn, &ap, errstr, sizeof(errstr)) == PS_OK);
    for (size_t i = 0; i < n_items; i += LIVE_BATCH) {
        size_t n = i + LIVE_BATCH > n_items ? n_items - i : LIVE_BATCH;
        CHECK_INT(apply_txn(conn, ap, items + i, n, &st, errstr, sizeof(errstr)), PS_OK);
    }
    proc_apply_destroy(ap);
    CHECK_INT(proc_audit_run(conn, NULL, &live, errstr, sizeof(errstr)), PS_OK);
    CHECK_INT(live.failures, 0);
    snprintf(schema, sizeof(schema), "replay_%ld", (long)getpid());
    replay_opts(&o, schema, topics);
    CHECK_INT(proc_replay_run(&o, &rep, errstr, sizeof(errstr)), PS_OK);
    if (errstr[0] != '\0')
        fprintf(stderr, "%s\n", errstr);
    CHECK_INT(rep.messages, (long long)n_items);
    CHECK_INT(rep.totals.dead_lettered, 1);
    CHECK_INT(rep.totals.commands_applied, 2);
    CHECK(rep.totals.events_duplicate >= 12);
    CHECK_INT(rep.audit.failures, 0);
    CHECK_STR(rep.audit.digest, live.digest);
    CHECK_INT(rep.audit.payments, live.payments);
    printf("live digest   %s\nreplay digest %s (%lld messages)\n", live.digest,
           rep.audit.digest, (long long)rep.messages);
    /* The same schema again is refused: a replay needs a fresh one. */
    CHECK_INT(proc_replay_run(&o, &rep, errstr, sizeof(errstr)), PS_ERR_INVALID);
    CHECK_CONTAINS(errstr, "could not create schema");
}

/* Goal: a replay from a timestamp after every message replays nothing. */
static void test_replay_from_future(void)
{
    const char *topics[2] = {topic_cb, topic_cmd};
    proc_replay_opts_t o;
    proc_replay_result_t rep;
    char schema[64];

    snprintf(schema, sizeof(schema), "replay_future_%ld", (long)getpid());
    replay_opts(&o, schema, topics);
    o.has_from_time = true;
    o.from_time_ms = ((int64_t)time(NULL) + 3600) * 1000;
    CHECK_INT(proc_replay_run(&o, &rep, errstr, sizeof(errstr)), PS_OK);
    CHECK_INT(rep.messages, 0);
    CHECK_INT(rep.audit.payments, 0);
}

/* Goal: a tampered live balance fails the audit and changes the digest. */
static void test_tamper_detected(void)
{
    proc_audit_result_t before, after;

    CHECK_INT(proc_audit_digest(conn, &before, errstr, sizeof(errstr)), PS_OK);
    CHECK_INT(ps_pg_exec(conn, "UPDATE accounts SET balance_minor = balance_minor - 1 WHERE "
                               "account_id = 'rp-1' AND currency = 'CNY'",
                         errstr, sizeof(errstr)),
              PS_OK);
    CHECK_INT(proc_audit_run(conn, NULL, &after, errstr, sizeof(errstr)), PS_OK);
    CHECK_INT(after.failures, 1);
    CHECK(strcmp(before.digest, after.digest) != 0);
}

int main(void)
{
    const char *topics[2];
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *admin = NULL;

    brokers = test_require_env("PAYSTREAM_TEST_KAFKA");
    snprintf(topic_cb, sizeof(topic_cb), "ps.test.replay.cb.%ld.%ld", (long)getpid(),
             (long)time(NULL));
    snprintf(topic_cmd, sizeof(topic_cmd), "ps.test.replay.cmd.%ld.%ld", (long)getpid(),
             (long)time(NULL));
    topics[0] = topic_cb;
    topics[1] = topic_cmd;
    proc_test_db_create(&db, 1);
    conn = proc_test_connect(&db);
    if (ps_kafka_wait_ready(brokers, 60000, errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_conf_new(PS_KAFKA_PRODUCER, &conf, errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_new(PS_KAFKA_PRODUCER, &conf, &admin, errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_create_topics(admin, topics, 2, 3, 1, 30000, errstr, sizeof(errstr)) != PS_OK) {
        fprintf(stderr, "%s\n", errstr);
        return 1;
    }
    generate();
    if (produce_all() != PS_OK) {
        fprintf(stderr, "could not produce: %s\n", errstr);
        return 1;
    }
    RUN(test_replay_matches_live);
    RUN(test_replay_from_future);
    RUN(test_tamper_detected);
    if (ps_kafka_delete_topics(admin, topics, 2, 30000, errstr, sizeof(errstr)) != PS_OK)
        fprintf(stderr, "cleanup: %s\n", errstr);
    rd_kafka_destroy(admin);
    items_free(items, n_items);
    for (size_t i = 0; i < n_items; i++)
        ps_buf_deinit(&encoded[i]);
    PQfinish(conn);
    proc_test_db_drop(&db);
    return test_summary();
}
