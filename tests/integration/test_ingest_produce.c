/*
 * Integration tests of the ingest producer (ingest/produce.c) against the
 * real broker (PAYSTREAM_TEST_KAFKA). Goal: every send gets exactly one
 * delivery report; a report is positive only when Kafka acknowledged the
 * record (the HTTP answer depends on it); an unreachable broker gives
 * negative reports within ingest.delivery_timeout_ms and never a positive
 * one; after a fatal idempotence error (rd_kafka_test_fatal_error) the
 * producer is recreated, in-flight records get definite reports, and later
 * sends are acknowledged again.
 */
#include "test.h"

#include "config.h"
#include "produce.h"

#include <paystream/kafka.h>
#include <paystream/limits.h>
#include <paystream/mem.h>
#include <paystream/metrics.h>

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 30000

typedef struct tally {
    atomic_int acked;
    atomic_int failed;
    atomic_int calls;
} tally_t;

static void on_report(void *opaque, ps_err_t err, const char *message)
{
    tally_t *t = opaque;

    (void)message;
    atomic_fetch_add(err == PS_OK ? &t->acked : &t->failed, 1);
    atomic_fetch_add(&t->calls, 1);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static bool wait_calls(tally_t *t, int n, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 20) {
        if (atomic_load(&t->calls) >= n)
            return true;
        sleep_ms(20);
    }
    return atomic_load(&t->calls) >= n;
}

static void make_event(int i, ps_callback_event_t *ev)
{
    char buf[128];

    memset(ev, 0, sizeof(*ev));
    ev->channel = (ps_channel_t)(i % PS_CHANNEL_COUNT);
    ev->kind = PS_EVENT_PAYMENT_SUCCEEDED;
    ev->channel_event_type = ps_strdup("TRANSACTION.SUCCESS");
    snprintf(buf, sizeof(buf), "EV-produce-%d-%d", (int)getpid(), i);
    ev->channel_event_id = ps_strdup(buf);
    snprintf(buf, sizeof(buf), "ORDER-%d", i);
    ev->merchant_order_no = ps_strdup(buf);
    ev->channel_txn_id = ps_strdup("4200000000000001");
    ev->amount_minor = 648;
    memcpy(ev->currency, "CNY", 4);
    ev->account_id = ps_strdup("player-1");
    ev->event_time_us = INT64_C(1795000000000000);
    ev->received_time_us = ev->event_time_us;
    ev->raw_body = ps_memdup("{}", 2);
    ev->raw_body_len = 2;
    ev->key_id = ps_strdup("test-key");
}

static ps_config_t *load_cfg(const char *brokers, const char *topic, const char *timeout_ms)
{
    char errstr[PS_ERRSTR_SIZE];
    char e1[256], e2[256], e3[64];
    char *envp[] = {e1, e2, e3, NULL};
    ps_config_t *cfg = NULL;

    snprintf(e1, sizeof(e1), "PAYSTREAM_KAFKA_BOOTSTRAP_SERVERS=%s", brokers);
    snprintf(e2, sizeof(e2), "PAYSTREAM_TOPIC_CALLBACKS=%s", topic);
    snprintf(e3, sizeof(e3), "PAYSTREAM_INGEST_DELIVERY_TIMEOUT_MS=%s", timeout_ms);
    if (ps_config_load(ingest_config_table, ingest_config_key_count, NULL, envp, &cfg, errstr,
                       sizeof(errstr)) != PS_OK)
        fprintf(stderr, "config: %s\n", errstr);
    return cfg;
}

static int send_n(ingest_producer_t *p, tally_t *t, int first, int n)
{
    char errstr[PS_ERRSTR_SIZE];
    int sent = 0;

    for (int i = first; i < first + n; i++) {
        ps_callback_event_t ev;
        make_event(i, &ev);
        if (ingest_producer_send(p, &ev, on_report, t, errstr, sizeof(errstr)) == PS_OK)
            sent++;
        ps_callback_event_deinit(&ev);
    }
    return sent;
}

static char topic[128];

/* Acknowledged sends: one positive report each, latency observed. */
static void test_delivery(void)
{
    const char *brokers = test_require_env("PAYSTREAM_TEST_KAFKA");
    char errstr[PS_ERRSTR_SIZE] = "";
    ps_config_t *cfg = load_cfg(brokers, topic, "10000");
    ps_metrics_t *m = ps_metrics_new();
    ingest_producer_t *p = NULL;
    tally_t t = {0};

    REQUIRE(cfg != NULL);
    REQUIRE(ingest_producer_new(cfg, m, &p, errstr, sizeof(errstr)) == PS_OK);
    CHECK_INT(send_n(p, &t, 0, 50), 50);
    CHECK(wait_calls(&t, 50, WAIT_MS));
    CHECK_INT(atomic_load(&t.acked), 50);
    CHECK_INT(atomic_load(&t.failed), 0);
    CHECK(ingest_producer_connected(p));
    CHECK_INT(ingest_producer_outstanding(p), 0);
    ingest_producer_destroy(p);
    ps_metrics_destroy(m);
    ps_config_destroy(cfg);
}

/* No broker: negative reports within the delivery timeout, never positive. */
static void test_unreachable(void)
{
    char errstr[PS_ERRSTR_SIZE] = "";
    ps_config_t *cfg = load_cfg("127.0.0.1:1", topic, "1000");
    ps_metrics_t *m = ps_metrics_new();
    ingest_producer_t *p = NULL;
    tally_t t = {0};
    time_t start = time(NULL);

    REQUIRE(cfg != NULL);
    REQUIRE(ingest_producer_new(cfg, m, &p, errstr, sizeof(errstr)) == PS_OK);
    CHECK_INT(send_n(p, &t, 100, 5), 5);
    CHECK(wait_calls(&t, 5, 10000));
    CHECK_INT(atomic_load(&t.acked), 0);
    CHECK_INT(atomic_load(&t.failed), 5);
    CHECK(time(NULL) - start <= 5);
    CHECK(!ingest_producer_connected(p));
    ingest_producer_destroy(p);
    ps_metrics_destroy(m);
    ps_config_destroy(cfg);
}

/* A fatal error recreates the client; every send still gets one report. */
static void test_fatal_recreate(void)
{
    const char *brokers = test_require_env("PAYSTREAM_TEST_KAFKA");
    char errstr[PS_ERRSTR_SIZE] = "";
    ps_config_t *cfg = load_cfg(brokers, topic, "10000");
    ps_metrics_t *m = ps_metrics_new();
    ingest_producer_t *p = NULL;
    tally_t t = {0};
    int sent;

    REQUIRE(cfg != NULL);
    REQUIRE(ingest_producer_new(cfg, m, &p, errstr, sizeof(errstr)) == PS_OK);
    CHECK_INT(send_n(p, &t, 200, 10), 10);
    CHECK(wait_calls(&t, 10, WAIT_MS));
    sent = 10 + send_n(p, &t, 210, 20); /* in flight while the error strikes */
    CHECK_INT(ingest_producer_inject_fatal(p, errstr, sizeof(errstr)), PS_OK);
    for (int waited = 0; waited < WAIT_MS && ingest_producer_recreations(p) < 1; waited += 20)
        sleep_ms(20);
    CHECK_INT(ingest_producer_recreations(p), 1);
    CHECK(wait_calls(&t, sent, WAIT_MS));
    CHECK_INT(atomic_load(&t.calls), sent);
    sent += send_n(p, &t, 300, 10);
    CHECK(wait_calls(&t, sent, WAIT_MS));
    CHECK_INT(atomic_load(&t.calls), sent);
    /* The first 10 and the last 10 were acknowledged; the middle ones either way. */
    CHECK(atomic_load(&t.acked) >= 20);
    CHECK_INT(ingest_producer_outstanding(p), 0);
    ingest_producer_destroy(p);
    ps_metrics_destroy(m);
    ps_config_destroy(cfg);
}

int main(void)
{
    const char *brokers = test_require_env("PAYSTREAM_TEST_KAFKA");
    const char *topics[1] = {topic};
    char errstr[PS_ERRSTR_SIZE];
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *admin = NULL;

    snprintf(topic, sizeof(topic), "ps.test.ingest.produce.%d", (int)getpid());
    if (ps_kafka_conf_new(PS_KAFKA_PRODUCER, &conf, errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_new(PS_KAFKA_PRODUCER, &conf, &admin, errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_create_topics(admin, topics, 1, 3, 1, WAIT_MS, errstr, sizeof(errstr)) != PS_OK) {
        fprintf(stderr, "could not create topic: %s\n", errstr);
        return 1;
    }
    RUN(test_delivery);
    RUN(test_unreachable);
    RUN(test_fatal_recreate);
    ps_kafka_delete_topics(admin, topics, 1, WAIT_MS, errstr, sizeof(errstr));
    rd_kafka_destroy(admin);
    return test_summary();
}
