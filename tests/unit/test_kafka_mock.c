/*
 * Unit tests of the Kafka helpers without a broker: the role settings that
 * the exactly-once design depends on, config pass-through, error mapping and
 * classification, and the produce / flush / assign plumbing against
 * librdkafka's in-process mock cluster (which has no transaction semantics;
 * those are tested against the real broker in tests/integration).
 */
#include "test.h"

#include <paystream/config.h>
#include <paystream/kafka.h>
#include <paystream/limits.h>

#include <librdkafka/rdkafka_mock.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static char errstr[PS_ERRSTR_SIZE];

static void check_prop(const rd_kafka_conf_t *conf, const char *key, const char *expected)
{
    char value[512];
    size_t size = sizeof(value);

    if (rd_kafka_conf_get(conf, key, value, &size) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "property %s not readable\n", key);
        CHECK(0);
        return;
    }
    if (strcmp(value, expected) != 0)
        fprintf(stderr, "property %s\n", key);
    CHECK_STR(value, expected);
}

/* Goal: producers get idempotence, acks=all, Nagle off and bounded timeouts. */
static void test_producer_settings(void)
{
    rd_kafka_conf_t *conf = NULL;

    REQUIRE(ps_kafka_conf_new(PS_KAFKA_PRODUCER, &conf, errstr, sizeof(errstr)) == PS_OK);
    check_prop(conf, "bootstrap.servers", PS_KAFKA_BOOTSTRAP_DEFAULT);
    check_prop(conf, "enable.idempotence", "true");
    check_prop(conf, "socket.nagle.disable", "true");
    check_prop(conf, "linger.ms", "2");
    check_prop(conf, "max.in.flight.requests.per.connection", "5");
    check_prop(conf, "message.timeout.ms", "30000");
    check_prop(conf, "acks", "-1"); /* librdkafka reads "all" back as -1 */
    rd_kafka_conf_destroy(conf);
}

/* Goal: the transactional role adds a transaction timeout above socket.timeout.ms. */
static void test_transactional_settings(void)
{
    rd_kafka_conf_t *conf = NULL;

    REQUIRE(ps_kafka_conf_new(PS_KAFKA_TRANSACTIONAL_PRODUCER, &conf, errstr, sizeof(errstr)) ==
            PS_OK);
    check_prop(conf, "enable.idempotence", "true");
    check_prop(conf, "transaction.timeout.ms", "60000");
    check_prop(conf, "socket.timeout.ms", "30000");
    rd_kafka_conf_destroy(conf);
}

/* Goal: consumers never auto-commit, read committed data only and rebalance eagerly. */
static void test_consumer_settings(void)
{
    rd_kafka_conf_t *conf = NULL;

    REQUIRE(ps_kafka_conf_new(PS_KAFKA_CONSUMER, &conf, errstr, sizeof(errstr)) == PS_OK);
    check_prop(conf, "enable.auto.commit", "false");
    check_prop(conf, "enable.auto.offset.store", "false");
    check_prop(conf, "isolation.level", "read_committed");
    check_prop(conf, "partition.assignment.strategy", "range");
    check_prop(conf, "auto.offset.reset", "smallest"); /* "earliest", as librdkafka spells it */
    check_prop(conf, "socket.nagle.disable", "true");
    rd_kafka_conf_destroy(conf);
}

/* Goal: rejected properties name the key; values of secret-looking keys never appear. */
static void test_conf_set_errors(void)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();

    CHECK_INT(ps_kafka_conf_set(conf, "no.such.property", "1", errstr, sizeof(errstr)),
              PS_ERR_CONFIG);
    CHECK_CONTAINS(errstr, "\"no.such.property\"");
    CHECK_INT(ps_kafka_conf_set(conf, "linger.ms", "soon", errstr, sizeof(errstr)),
              PS_ERR_CONFIG);
    CHECK_CONTAINS(errstr, "\"linger.ms\" to \"soon\"");
    CHECK_INT(ps_kafka_conf_set(conf, "my.secret.token", "hunter2", errstr, sizeof(errstr)),
              PS_ERR_CONFIG);
    CHECK_CONTAINS(errstr, "\"my.secret.token\"");
    CHECK(strstr(errstr, "hunter2") == NULL);
    CHECK_INT(ps_kafka_conf_set(conf, "sasl.password.x", "hunter2", errstr, sizeof(errstr)),
              PS_ERR_CONFIG);
    CHECK(strstr(errstr, "hunter2") == NULL);
    rd_kafka_conf_destroy(conf);
}

static const ps_config_key_t table[] = {
    {"kafka.", PS_CONF_PASSTHROUGH, NULL, 0, 0, NULL, NULL, "librdkafka properties"},
};

static ps_config_t *load_config(const char *text)
{
    char path[] = "/tmp/ps-test-kafka-XXXXXX";
    char *env[] = {NULL};
    ps_config_t *cfg = NULL;
    int fd = mkstemp(path);
    FILE *f;

    if (fd < 0)
        return NULL;
    f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    if (ps_config_load(table, 1, path, env, &cfg, errstr, sizeof(errstr)) != PS_OK)
        fprintf(stderr, "config: %s\n", errstr);
    unlink(path);
    return cfg;
}

/* Goal: kafka.* config keys override the role settings; a bad one names its key. */
static void test_apply_config(void)
{
    rd_kafka_conf_t *conf = NULL;
    ps_config_t *cfg = load_config("kafka.linger.ms = 7\nkafka.client.id = 'ps-test'\n");

    REQUIRE(cfg != NULL);
    REQUIRE(ps_kafka_conf_new(PS_KAFKA_PRODUCER, &conf, errstr, sizeof(errstr)) == PS_OK);
    CHECK_INT(ps_kafka_conf_apply_config(conf, cfg, errstr, sizeof(errstr)), PS_OK);
    check_prop(conf, "linger.ms", "7");
    check_prop(conf, "client.id", "ps-test");
    ps_config_destroy(cfg);
    cfg = load_config("kafka.linger.ms = 3\nkafka.not.a.property = x\n");
    REQUIRE(cfg != NULL);
    CHECK_INT(ps_kafka_conf_apply_config(conf, cfg, errstr, sizeof(errstr)), PS_ERR_CONFIG);
    CHECK_CONTAINS(errstr, "\"kafka.not.a.property\"");
    ps_config_destroy(cfg);
    rd_kafka_conf_destroy(conf);
}

/* Goal: ps_kafka_new refuses incomplete roles and always consumes the conf. */
static void test_new_requires_ids(void)
{
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *rk = NULL;

    REQUIRE(ps_kafka_conf_new(PS_KAFKA_TRANSACTIONAL_PRODUCER, &conf, errstr, sizeof(errstr)) ==
            PS_OK);
    CHECK_INT(ps_kafka_new(PS_KAFKA_TRANSACTIONAL_PRODUCER, &conf, &rk, errstr, sizeof(errstr)),
              PS_ERR_CONFIG);
    CHECK_CONTAINS(errstr, "transactional.id");
    CHECK(conf == NULL && rk == NULL);
    REQUIRE(ps_kafka_conf_new(PS_KAFKA_CONSUMER, &conf, errstr, sizeof(errstr)) == PS_OK);
    CHECK_INT(ps_kafka_new(PS_KAFKA_CONSUMER, &conf, &rk, errstr, sizeof(errstr)),
              PS_ERR_CONFIG);
    CHECK_CONTAINS(errstr, "group.id");
    CHECK(conf == NULL && rk == NULL);
}

/* Goal: errors keep librdkafka's name and map to the documented class and code. */
static void test_classify_and_errstr(void)
{
    CHECK_INT(ps_kafka_classify(RD_KAFKA_RESP_ERR__TRANSPORT), PS_ERRCLASS_RETRIABLE);
    CHECK_INT(ps_kafka_classify(RD_KAFKA_RESP_ERR__QUEUE_FULL), PS_ERRCLASS_RETRIABLE);
    CHECK_INT(ps_kafka_classify(RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION),
              PS_ERRCLASS_RETRIABLE);
    CHECK_INT(ps_kafka_classify(RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS),
              PS_ERRCLASS_RETRIABLE);
    CHECK_INT(ps_kafka_classify(RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS), PS_ERRCLASS_ABORTABLE);
    CHECK_INT(ps_kafka_classify(RD_KAFKA_RESP_ERR__ASSIGNMENT_LOST), PS_ERRCLASS_ABORTABLE);
    CHECK_INT(ps_kafka_classify(RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION), PS_ERRCLASS_ABORTABLE);
    CHECK_INT(ps_kafka_classify(RD_KAFKA_RESP_ERR__FATAL), PS_ERRCLASS_FATAL);
    CHECK_INT(ps_kafka_classify(RD_KAFKA_RESP_ERR__FENCED), PS_ERRCLASS_FATAL);
    CHECK_INT(ps_kafka_classify(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED), PS_ERRCLASS_FATAL);
    CHECK_INT(ps_kafka_classify((rd_kafka_resp_err_t)12345), PS_ERRCLASS_FATAL);

    CHECK_INT(ps_kafka_errstr(errstr, sizeof(errstr), RD_KAFKA_RESP_ERR__TRANSPORT,
                              "could not produce to kafka topic \"%s\"", "t1"),
              PS_ERR_RETRIABLE);
    CHECK_CONTAINS(errstr, "could not produce to kafka topic \"t1\": _TRANSPORT: ");
    CHECK_INT(ps_kafka_errstr(errstr, sizeof(errstr), RD_KAFKA_RESP_ERR_PRODUCER_FENCED, "x"),
              PS_ERR_FENCED);
    CHECK_INT(ps_kafka_errstr(errstr, sizeof(errstr), RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
                              "x"),
              PS_ERR_KAFKA);
    CHECK_CONTAINS(errstr, "TOPIC_AUTHORIZATION_FAILED");
}

/* Goal: transactional-API error objects are classified, named and always freed. */
static void test_error_take(void)
{
    ps_err_class_t cls = PS_ERRCLASS_RETRIABLE;

    CHECK_INT(ps_kafka_error_take(NULL, &cls, errstr, sizeof(errstr), "commit"), PS_OK);
    CHECK_INT(ps_kafka_error_take(rd_kafka_error_new(RD_KAFKA_RESP_ERR__FENCED, "fenced by %s",
                                                     "newer producer"),
                                  &cls, errstr, sizeof(errstr), "could not commit %d", 3),
              PS_ERR_FENCED);
    CHECK_INT(cls, PS_ERRCLASS_FATAL);
    CHECK_CONTAINS(errstr, "could not commit 3: _FENCED: fenced by newer producer");
    CHECK_INT(ps_kafka_error_take(rd_kafka_error_new(RD_KAFKA_RESP_ERR__TIMED_OUT, "slow"), &cls,
                                  errstr, sizeof(errstr), "init"),
              PS_ERR_RETRIABLE);
    CHECK_INT(cls, PS_ERRCLASS_RETRIABLE);
}

/* Goal: bad admin arguments are refused before anything is sent. */
static void test_admin_argument_errors(void)
{
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *rk = NULL;
    const char *none[] = {""};

    REQUIRE(ps_kafka_conf_new(PS_KAFKA_PRODUCER, &conf, errstr, sizeof(errstr)) == PS_OK);
    REQUIRE(ps_kafka_conf_set(conf, "test.mock.num.brokers", "1", errstr, sizeof(errstr)) ==
            PS_OK);
    REQUIRE(ps_kafka_new(PS_KAFKA_PRODUCER, &conf, &rk, errstr, sizeof(errstr)) == PS_OK);
    CHECK_INT(ps_kafka_create_topics(rk, none, 0, 1, 1, 1000, errstr, sizeof(errstr)),
              PS_ERR_INVALID);
    CHECK_INT(ps_kafka_create_topics(rk, none, 1, 1, 1, 1000, errstr, sizeof(errstr)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(errstr, "empty");
    none[0] = "t";
    CHECK_INT(ps_kafka_create_topics(rk, none, 1, 0, 1, 1000, errstr, sizeof(errstr)),
              PS_ERR_INVALID);
    CHECK_INT(ps_kafka_create_topics(rk, none, 1, PS_KAFKA_PARTITIONS_MAX + 1, 1, 1000, errstr,
                                     sizeof(errstr)),
              PS_ERR_INVALID);
    CHECK_INT(ps_kafka_assign_all(rk, "t", 0, RD_KAFKA_OFFSET_BEGINNING, errstr, sizeof(errstr)),
              PS_ERR_INVALID);
    rd_kafka_destroy(rk);
}

/* Goal: produce + flush counts deliveries and a consumer assigned from the
 * beginning reads the same bytes back (mock cluster). */
static void test_mock_produce_consume(void)
{
    ps_kafka_delivery_t dlv = {0, 0, RD_KAFKA_RESP_ERR_NO_ERROR};
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *prod = NULL, *cons = NULL;
    rd_kafka_mock_cluster_t *mc;
    int partitions = 0, seen = 0;
    char value[32];

    REQUIRE(ps_kafka_conf_new(PS_KAFKA_PRODUCER, &conf, errstr, sizeof(errstr)) == PS_OK);
    REQUIRE(ps_kafka_conf_set(conf, "test.mock.num.brokers", "1", errstr, sizeof(errstr)) ==
            PS_OK);
    ps_kafka_conf_set_delivery(conf, &dlv);
    REQUIRE(ps_kafka_new(PS_KAFKA_PRODUCER, &conf, &prod, errstr, sizeof(errstr)) == PS_OK);
    mc = rd_kafka_handle_mock_cluster(prod);
    REQUIRE(mc != NULL);
    REQUIRE(rd_kafka_mock_topic_create(mc, "mock.t", 2, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
    for (int i = 0; i < 10; i++) {
        snprintf(value, sizeof(value), "v%d", i);
        CHECK_INT(ps_kafka_produce(prod, "mock.t", "k", 1, value, strlen(value), 1000, errstr,
                                   sizeof(errstr)),
                  PS_OK);
    }
    CHECK_INT(ps_kafka_flush(prod, &dlv, 10, 10000, errstr, sizeof(errstr)), PS_OK);
    CHECK_U64(dlv.delivered, 10);
    CHECK_INT(ps_kafka_flush(prod, &dlv, 11, 1000, errstr, sizeof(errstr)), PS_ERR_KAFKA);
    CHECK_CONTAINS(errstr, "expected 11");

    REQUIRE(ps_kafka_conf_new(PS_KAFKA_CONSUMER, &conf, errstr, sizeof(errstr)) == PS_OK);
    REQUIRE(ps_kafka_conf_set(conf, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(mc),
                              errstr, sizeof(errstr)) == PS_OK);
    REQUIRE(ps_kafka_conf_set(conf, "group.id", "mock-g", errstr, sizeof(errstr)) == PS_OK);
    REQUIRE(ps_kafka_new(PS_KAFKA_CONSUMER, &conf, &cons, errstr, sizeof(errstr)) == PS_OK);
    CHECK_INT(ps_kafka_partition_count(cons, "mock.t", 5000, &partitions, errstr, sizeof(errstr)),
              PS_OK);
    CHECK_INT(partitions, 2);
    CHECK_INT(ps_kafka_assign_all(cons, "mock.t", partitions, RD_KAFKA_OFFSET_BEGINNING, errstr,
                                  sizeof(errstr)),
              PS_OK);
    for (int polls = 0; polls < 100 && seen < 10; polls++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(cons, 100);
        if (m == NULL)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->len >= 2 &&
            ((const char *)m->payload)[0] == 'v')
            seen++;
        rd_kafka_message_destroy(m);
    }
    CHECK_INT(seen, 10);
    rd_kafka_consumer_close(cons);
    rd_kafka_destroy(cons);
    rd_kafka_destroy(prod);
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Goal: waiting for a broker that is not there ends on time with PS_ERR_TIMEOUT. */
static void test_wait_ready_times_out(void)
{
    int64_t start_ms = mono_ms(), took_ms;

    /* Port 1 on loopback: connections are refused at once. */
    CHECK_INT(ps_kafka_wait_ready("127.0.0.1:1", 1500, errstr, sizeof(errstr)), PS_ERR_TIMEOUT);
    took_ms = mono_ms() - start_ms;
    CHECK(took_ms >= 1400 && took_ms < 6000);
    CHECK_CONTAINS(errstr, "kafka at \"127.0.0.1:1\" not ready within 1500 ms");
}

int main(void)
{
    RUN(test_producer_settings);
    RUN(test_transactional_settings);
    RUN(test_consumer_settings);
    RUN(test_conf_set_errors);
    RUN(test_apply_config);
    RUN(test_new_requires_ids);
    RUN(test_classify_and_errstr);
    RUN(test_error_take);
    RUN(test_admin_argument_errors);
    RUN(test_mock_produce_consume);
    RUN(test_wait_ready_times_out);
    return test_summary();
}
