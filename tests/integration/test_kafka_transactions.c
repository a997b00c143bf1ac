/*
 * Integration test of Kafka transactions on the real broker
 * (PAYSTREAM_TEST_KAFKA), which librdkafka's mock cluster cannot fake: a
 * transactional producer commits 8 messages and aborts 4; a read_committed
 * consumer sees exactly the 8 committed ones while a read_uncommitted one
 * sees all 12 (the difference proves the broker really writes abort
 * markers). Then a second producer with the same transactional.id fences
 * the first, whose next commit fails as fatal (PS_ERR_FENCED).
 *
 * The topic and transactional.id are named with the pid and time; the topic
 * is deleted at the end.
 */
#include "test.h"

#include <paystream/kafka.h>
#include <paystream/limits.h>

#include <stdbool.h>
#include <time.h>
#include <unistd.h>

/* librdkafka wants at least this for the first init_transactions (coordinator load). */
#define TXN_TIMEOUT_MS 60000

static const char *brokers;
static char topic[128], txn_id[160];
static char errstr[PS_ERRSTR_SIZE];

static rd_kafka_t *new_txn_producer(void)
{
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *rk = NULL;

    if (ps_kafka_conf_new(PS_KAFKA_TRANSACTIONAL_PRODUCER, &conf, errstr, sizeof(errstr)) !=
            PS_OK ||
        ps_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_conf_set(conf, "transactional.id", txn_id, errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_new(PS_KAFKA_TRANSACTIONAL_PRODUCER, &conf, &rk, errstr, sizeof(errstr)) !=
            PS_OK) {
        fprintf(stderr, "%s\n", errstr);
        if (conf != NULL)
            rd_kafka_conf_destroy(conf);
        return NULL;
    }
    if (ps_kafka_error_take(rd_kafka_init_transactions(rk, TXN_TIMEOUT_MS), NULL, errstr,
                            sizeof(errstr), "could not init transactions") != PS_OK) {
        fprintf(stderr, "%s\n", errstr);
        rd_kafka_destroy(rk);
        return NULL;
    }
    return rk;
}

/* Produces n values "<prefix><i>" in one transaction, then commits or aborts. */
static ps_err_t run_txn(rd_kafka_t *rk, const char *prefix, int n, bool commit,
                        ps_err_class_t *cls)
{
    char value[32];
    ps_err_t err;

    err = ps_kafka_error_take(rd_kafka_begin_transaction(rk), cls, errstr, sizeof(errstr),
                              "could not begin transaction");
    for (int i = 0; err == PS_OK && i < n; i++) {
        snprintf(value, sizeof(value), "%s%d", prefix, i);
        err = ps_kafka_produce(rk, topic, NULL, 0, value, strlen(value), 10000, errstr,
                               sizeof(errstr));
    }
    if (err != PS_OK) {
        /* A fenced producer fails its produce calls with __FATAL already. */
        if (cls != NULL && rd_kafka_fatal_error(rk, NULL, 0) != RD_KAFKA_RESP_ERR_NO_ERROR)
            *cls = PS_ERRCLASS_FATAL;
        return err;
    }
    if (commit)
        return ps_kafka_error_take(rd_kafka_commit_transaction(rk, TXN_TIMEOUT_MS), cls, errstr,
                                   sizeof(errstr), "could not commit transaction");
    /* abort_transaction purges messages still queued locally: flush first so the
     * aborted messages really are in the log, behind an abort marker. */
    if (rd_kafka_flush(rk, TXN_TIMEOUT_MS) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return ps_errstr_set(errstr, sizeof(errstr), PS_ERR_TIMEOUT,
                             "could not flush before abort within %d ms", TXN_TIMEOUT_MS);
    return ps_kafka_error_take(rd_kafka_abort_transaction(rk, TXN_TIMEOUT_MS), cls, errstr,
                               sizeof(errstr), "could not abort transaction");
}

/*
 * Reads the topic from the beginning with isolation.level; stops at the end
 * of the partition. Counts values starting with 'c' and 'a' separately.
 */
static void read_all(const char *isolation, int *committed, int *aborted)
{
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *rk = NULL;
    char group[160];
    bool eof = false;

    *committed = *aborted = -1;
    snprintf(group, sizeof(group), "%s.%s", topic, isolation);
    if (ps_kafka_conf_new(PS_KAFKA_CONSUMER, &conf, errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_conf_set(conf, "group.id", group, errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_conf_set(conf, "isolation.level", isolation, errstr, sizeof(errstr)) != PS_OK ||
        /* In this test the end of the partition is how we know we have read everything. */
        ps_kafka_conf_set(conf, "enable.partition.eof", "true", errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_new(PS_KAFKA_CONSUMER, &conf, &rk, errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_assign_all(rk, topic, 1, RD_KAFKA_OFFSET_BEGINNING, errstr, sizeof(errstr)) !=
            PS_OK) {
        fprintf(stderr, "%s\n", errstr);
        goto out;
    }
    *committed = *aborted = 0;
    for (int polls = 0; polls < 300 && !eof; polls++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m == NULL)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            eof = true;
        else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR)
            fprintf(stderr, "consume: %s\n", rd_kafka_message_errstr(m));
        else if (m->len > 0 && ((const char *)m->payload)[0] == 'c')
            (*committed)++;
        else if (m->len > 0 && ((const char *)m->payload)[0] == 'a')
            (*aborted)++;
        rd_kafka_message_destroy(m);
    }
    CHECK(eof);
out:
    if (conf != NULL)
        rd_kafka_conf_destroy(conf);
    if (rk != NULL) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
}

/* Goal: read_committed sees the 8 committed messages only; read_uncommitted all 12. */
static void test_commit_and_abort(void)
{
    rd_kafka_t *rk = new_txn_producer();
    int committed = 0, aborted = 0;

    REQUIRE(rk != NULL);
    CHECK_INT(run_txn(rk, "c", 8, true, NULL), PS_OK);
    CHECK_INT(run_txn(rk, "a", 4, false, NULL), PS_OK);
    rd_kafka_destroy(rk);
    read_all("read_committed", &committed, &aborted);
    CHECK_INT(committed, 8);
    CHECK_INT(aborted, 0);
    read_all("read_uncommitted", &committed, &aborted);
    CHECK_INT(committed, 8);
    CHECK_INT(aborted, 4);
}

/* Goal: a newer producer with the same transactional.id fences the older one. */
static void test_zombie_fenced(void)
{
    rd_kafka_t *old = new_txn_producer(), *newer = NULL;
    ps_err_class_t cls = PS_ERRCLASS_RETRIABLE;
    ps_err_t err;

    REQUIRE(old != NULL);
    CHECK_INT(run_txn(old, "c", 1, true, NULL), PS_OK);
    newer = new_txn_producer();
    REQUIRE(newer != NULL);
    err = run_txn(old, "z", 1, true, &cls);
    CHECK(err == PS_ERR_FENCED || err == PS_ERR_KAFKA);
    CHECK_INT(cls, PS_ERRCLASS_FATAL);
    if (err == PS_OK)
        fprintf(stderr, "zombie commit unexpectedly succeeded\n");
    else
        fprintf(stderr, "zombie: %s\n", errstr);
    CHECK_INT(run_txn(newer, "c", 1, true, NULL), PS_OK);
    rd_kafka_destroy(old);
    rd_kafka_destroy(newer);
}

int main(void)
{
    const char *topics[1];
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *admin = NULL;

    brokers = test_require_env("PAYSTREAM_TEST_KAFKA");
    snprintf(topic, sizeof(topic), "ps.test.txn.%ld.%ld", (long)getpid(), (long)time(NULL));
    snprintf(txn_id, sizeof(txn_id), "%s.producer", topic);
    topics[0] = topic;
    if (ps_kafka_wait_ready(brokers, 60000, errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_conf_new(PS_KAFKA_PRODUCER, &conf, errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_new(PS_KAFKA_PRODUCER, &conf, &admin, errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_create_topics(admin, topics, 1, 1, 1, 30000, errstr, sizeof(errstr)) != PS_OK) {
        fprintf(stderr, "%s\n", errstr);
        return 1;
    }
    RUN(test_commit_and_abort);
    RUN(test_zombie_fenced);
    if (ps_kafka_delete_topics(admin, topics, 1, 30000, errstr, sizeof(errstr)) != PS_OK)
        fprintf(stderr, "cleanup: %s\n", errstr);
    rd_kafka_destroy(admin);
    return test_summary();
}
