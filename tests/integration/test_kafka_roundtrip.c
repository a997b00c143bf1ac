/*
 * Integration test of the produce path on the real broker
 * (PAYSTREAM_TEST_KAFKA): CallbackEvents encoded with the Avro codec are
 * produced by the idempotent producer to a fresh topic, read back by a
 * read_committed consumer assigned from the beginning, and decoded equal
 * field by field, with the record key intact. Also: a message for a topic
 * that does not exist (auto-creation is off) comes back as a failed delivery
 * report, not as silence.
 *
 * Topics are named with the pid and time and deleted at the end.
 */
#include "test.h"

#include <paystream/avro.h>
#include <paystream/buf.h>
#include <paystream/event.h>
#include <paystream/kafka.h>
#include <paystream/limits.h>
#include <paystream/mem.h>

#include <time.h>
#include <unistd.h>

static const char *brokers;
static char topic[128], group[160];
static char errstr[PS_ERRSTR_SIZE];

/* A fully populated WeChat payment, with binary bytes in the body. */
static void make_full(ps_callback_event_t *ev)
{
    static const uint8_t body[] = {'{', '"', 'i', 'd', '"', 0x00, 0xff, 0x80, '}'};

    memset(ev, 0, sizeof(*ev));
    ev->channel = PS_CHANNEL_WECHAT;
    ev->channel_event_id = ps_strdup("EV-8d4f0c6e-0001");
    ev->kind = PS_EVENT_PAYMENT_SUCCEEDED;
    ev->channel_event_type = ps_strdup("TRANSACTION.SUCCESS");
    ev->merchant_order_no = ps_strdup("ORD-20261126-0001");
    ev->channel_txn_id = ps_strdup("4200001234202611260001");
    ev->amount_minor = 12345;
    ev->has_refund_total = true;
    ev->refund_total_minor = 0;
    memcpy(ev->currency, "CNY", 4);
    ev->account_id = ps_strdup("player-42");
    ev->event_time_us = INT64_C(1795000000123456);
    ev->has_paid_time = true;
    ev->paid_time_us = INT64_C(1795000000000001);
    ev->received_time_us = INT64_C(1795000000200000);
    ev->raw_body = ps_memdup(body, sizeof(body));
    ev->raw_body_len = sizeof(body);
    ev->header_count = 2;
    ev->headers = ps_calloc(2, sizeof(ps_header_t));
    ev->headers[0].name = ps_strdup("Wechatpay-Serial");
    ev->headers[0].value = ps_strdup("5157F09EFDC096DE15EBE81A47057A72");
    ev->headers[1].name = ps_strdup("Wechatpay-Signature");
    ev->headers[1].value = ps_strdup("c2lnbmF0dXJl");
    ev->key_id = ps_strdup("5157F09EFDC096DE15EBE81A47057A72");
}

/* An Apple refund with every optional field absent. */
static void make_minimal(ps_callback_event_t *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->channel = PS_CHANNEL_APPLE;
    ev->channel_event_id = ps_strdup("b9a3c1d2-0000-4000-8000-000000000002");
    ev->kind = PS_EVENT_REFUND_SUCCEEDED;
    ev->channel_event_type = ps_strdup("REFUND");
    ev->merchant_order_no = ps_strdup("2000000123456789");
    ev->channel_txn_id = ps_strdup("2000000987654321");
    ev->amount_minor = 499;
    memcpy(ev->currency, "USD", 4);
    ev->account_id = ps_strdup("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");
    ev->event_time_us = 1;
    ev->received_time_us = 2;
    ev->raw_body = ps_memdup("", 0);
    ev->key_id = ps_strdup("x5c-leaf-sha256");
}

static void check_equal(const ps_callback_event_t *a, const ps_callback_event_t *b)
{
    CHECK_INT(a->channel, b->channel);
    CHECK_STR(a->channel_event_id, b->channel_event_id);
    CHECK_INT(a->kind, b->kind);
    CHECK_STR(a->channel_event_type, b->channel_event_type);
    CHECK_STR(a->merchant_order_no, b->merchant_order_no);
    CHECK_STR(a->channel_txn_id, b->channel_txn_id);
    CHECK_STR(a->refund_id, b->refund_id);
    CHECK_INT(a->amount_minor, b->amount_minor);
    CHECK_INT(a->has_refund_total, b->has_refund_total);
    if (a->has_refund_total && b->has_refund_total)
        CHECK_INT(a->refund_total_minor, b->refund_total_minor);
    CHECK_STR(a->currency, b->currency);
    CHECK_STR(a->account_id, b->account_id);
    CHECK_INT(a->event_time_us, b->event_time_us);
    CHECK_INT(a->has_paid_time, b->has_paid_time);
    if (a->has_paid_time && b->has_paid_time)
        CHECK_INT(a->paid_time_us, b->paid_time_us);
    CHECK_INT(a->received_time_us, b->received_time_us);
    CHECK_INT(a->raw_body_len, b->raw_body_len);
    if (a->raw_body_len == b->raw_body_len && a->raw_body_len > 0)
        CHECK(memcmp(a->raw_body, b->raw_body, a->raw_body_len) == 0);
    CHECK_INT(a->header_count, b->header_count);
    for (size_t i = 0; i < a->header_count && i < b->header_count; i++) {
        CHECK_STR(a->headers[i].name, b->headers[i].name);
        CHECK_STR(a->headers[i].value, b->headers[i].value);
    }
    CHECK_STR(a->key_id, b->key_id);
}

static rd_kafka_t *new_producer(ps_kafka_delivery_t *dlv, const char *msg_timeout_ms)
{
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *rk = NULL;

    if (ps_kafka_conf_new(PS_KAFKA_PRODUCER, &conf, errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof(errstr)) != PS_OK ||
        (msg_timeout_ms != NULL &&
         ps_kafka_conf_set(conf, "message.timeout.ms", msg_timeout_ms, errstr, sizeof(errstr)) !=
             PS_OK)) {
        fprintf(stderr, "%s\n", errstr);
        if (conf != NULL)
            rd_kafka_conf_destroy(conf);
        return NULL;
    }
    ps_kafka_conf_set_delivery(conf, dlv);
    if (ps_kafka_new(PS_KAFKA_PRODUCER, &conf, &rk, errstr, sizeof(errstr)) != PS_OK)
        fprintf(stderr, "%s\n", errstr);
    return rk;
}

static rd_kafka_t *new_consumer(void)
{
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *rk = NULL;

    if (ps_kafka_conf_new(PS_KAFKA_CONSUMER, &conf, errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_conf_set(conf, "group.id", group, errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_new(PS_KAFKA_CONSUMER, &conf, &rk, errstr, sizeof(errstr)) != PS_OK) {
        fprintf(stderr, "%s\n", errstr);
        if (conf != NULL)
            rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return rk;
}

/* Produces both events keyed channel:merchant_order_no; returns false on failure. */
static bool produce_events(ps_avro_codec_t *codec, ps_callback_event_t *evs, size_t n)
{
    ps_kafka_delivery_t dlv = {0, 0, RD_KAFKA_RESP_ERR_NO_ERROR};
    rd_kafka_t *rk = new_producer(&dlv, NULL);
    ps_buf_t buf;
    char key[512];
    bool ok = rk != NULL;

    ps_buf_init(&buf, PS_AVRO_MESSAGE_BYTES_MAX);
    for (size_t i = 0; ok && i < n; i++) {
        snprintf(key, sizeof(key), "%s:%s", ps_channel_name(evs[i].channel),
                 evs[i].merchant_order_no);
        ok = ps_avro_encode_callback_event(codec, &evs[i], &buf, errstr, sizeof(errstr)) ==
                 PS_OK &&
             ps_kafka_produce(rk, topic, key, strlen(key), buf.data, buf.len, 10000, errstr,
                              sizeof(errstr)) == PS_OK;
    }
    if (ok)
        ok = ps_kafka_flush(rk, &dlv, n, 30000, errstr, sizeof(errstr)) == PS_OK;
    if (!ok)
        fprintf(stderr, "produce: %s\n", errstr);
    ps_buf_deinit(&buf);
    if (rk != NULL)
        rd_kafka_destroy(rk);
    return ok;
}

/* Goal: encoded events survive the broker byte for byte and decode equal. */
static void test_roundtrip(void)
{
    ps_callback_event_t sent[2], got;
    ps_avro_codec_t *codec = NULL;
    rd_kafka_t *cons = NULL;
    size_t received = 0;
    char key[512];

    make_full(&sent[0]);
    make_minimal(&sent[1]);
    REQUIRE(ps_avro_codec_new(&codec, errstr, sizeof(errstr)) == PS_OK);
    CHECK(produce_events(codec, sent, 2));
    cons = new_consumer();
    if (cons == NULL)
        goto out;
    CHECK_INT(ps_kafka_assign_all(cons, topic, 1, RD_KAFKA_OFFSET_BEGINNING, errstr,
                                  sizeof(errstr)),
              PS_OK);
    for (int polls = 0; polls < 300 && received < 2; polls++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(cons, 100);
        if (m == NULL)
            continue;
        if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "consume: %s\n", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        snprintf(key, sizeof(key), "%s:%s", ps_channel_name(sent[received].channel),
                 sent[received].merchant_order_no);
        CHECK_INT(m->key_len, strlen(key));
        CHECK(m->key != NULL && m->key_len == strlen(key) && memcmp(m->key, key, m->key_len) == 0);
        CHECK_INT(m->offset, (int64_t)received);
        memset(&got, 0, sizeof(got));
        CHECK_INT(ps_avro_decode_callback_event(codec, m->payload, m->len, &got, errstr,
                                                sizeof(errstr)),
                  PS_OK);
        check_equal(&sent[received], &got);
        ps_callback_event_deinit(&got);
        rd_kafka_message_destroy(m);
        received++;
    }
    CHECK_INT(received, 2);
out:
    if (cons != NULL) {
        rd_kafka_consumer_close(cons);
        rd_kafka_destroy(cons);
    }
    ps_callback_event_deinit(&sent[0]);
    ps_callback_event_deinit(&sent[1]);
    ps_avro_codec_destroy(codec);
}

/* Goal: producing to a missing topic ends in a failed delivery that flush reports. */
static void test_missing_topic_fails(void)
{
    ps_kafka_delivery_t dlv = {0, 0, RD_KAFKA_RESP_ERR_NO_ERROR};
    rd_kafka_t *rk = new_producer(&dlv, "3000");
    char missing[160];

    REQUIRE(rk != NULL);
    snprintf(missing, sizeof(missing), "%s.missing", topic);
    CHECK_INT(ps_kafka_produce(rk, missing, NULL, 0, "x", 1, 1000, errstr, sizeof(errstr)),
              PS_OK);
    CHECK(ps_kafka_flush(rk, &dlv, 1, 20000, errstr, sizeof(errstr)) != PS_OK);
    CHECK_U64(dlv.failed, 1);
    CHECK_U64(dlv.delivered, 0);
    CHECK_CONTAINS(errstr, "kafka delivery failed for 1 of 1 messages");
    rd_kafka_destroy(rk);
}

int main(void)
{
    const char *topics[1];
    rd_kafka_t *admin;
    ps_kafka_delivery_t dlv = {0, 0, RD_KAFKA_RESP_ERR_NO_ERROR};

    brokers = test_require_env("PAYSTREAM_TEST_KAFKA");
    snprintf(topic, sizeof(topic), "ps.test.roundtrip.%ld.%ld", (long)getpid(), (long)time(NULL));
    snprintf(group, sizeof(group), "%s.group", topic);
    topics[0] = topic;
    if (ps_kafka_wait_ready(brokers, 60000, errstr, sizeof(errstr)) != PS_OK) {
        fprintf(stderr, "%s\n", errstr);
        return 1;
    }
    admin = new_producer(&dlv, NULL);
    if (admin == NULL ||
        ps_kafka_create_topics(admin, topics, 1, 1, 1, 30000, errstr, sizeof(errstr)) != PS_OK) {
        fprintf(stderr, "%s\n", errstr);
        return 1;
    }
    RUN(test_roundtrip);
    RUN(test_missing_topic_fails);
    if (ps_kafka_delete_topics(admin, topics, 1, 30000, errstr, sizeof(errstr)) != PS_OK)
        fprintf(stderr, "cleanup: %s\n", errstr);
    rd_kafka_destroy(admin);
    return test_summary();
}
