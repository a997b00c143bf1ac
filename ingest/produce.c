/*
 * The ingest producer (see produce.h): an idempotent librdkafka producer, a
 * poll thread that serves delivery reports and replaces the client after a
 * fatal error, and per-thread Avro codecs.
 *
 * Locking: senders hold the read side of `lock` while they use `rk`; the
 * poll thread takes the write side only to swap the client, so a swap waits
 * for in-progress sends and later sends see NULL (PS_ERR_RETRIABLE) until
 * the new client is in place. Only the poll thread changes `rk`, so it reads
 * it without the lock.
 *
 * Bounded answers: librdkafka's message.timeout.ms normally produces the
 * report in time, but a record that sits in a down broker's queue may be
 * reported late. The poll thread therefore also reports, as a timeout, any
 * record older than the delivery timeout plus DELIVERY_GRACE_MS; its late
 * delivery report then only frees it. Each callback still runs exactly once,
 * and never as success without an acknowledgement.
 */
#include "produce.h"

#include <paystream/assert.h>
#include <paystream/avro.h>
#include <paystream/buf.h>
#include <paystream/kafka.h>
#include <paystream/limits.h>
#include <paystream/log.h>
#include <paystream/mem.h>

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* rd_kafka_poll wait: also the latency of noticing a fatal error or a stop. */
#define POLL_MS 50
/* While no broker answers, probe with a metadata request this often. */
#define PROBE_INTERVAL_MS 1000
#define PROBE_TIMEOUT_MS 200
/* Between attempts to create a replacement client. */
#define RECREATE_RETRY_MS 1000
/* Beyond the delivery timeout before the watchdog reports a record itself. */
#define DELIVERY_GRACE_MS 1000
/*
 * The ingest's linger.ms, set before the kafka.* pass-through (which may
 * override it). Every callback waits for its delivery report, so with C
 * callbacks in flight the throughput is at most C / latency, and the linger
 * is a floor under the latency: at 10 ms bench/ingest (C = 64) stayed near
 * 5,300/s with the CPU 60 % used. librdkafka 2.0.2 serves a timer due in
 * under a millisecond with poll(0) in a loop (librdkafka #4684, fixed in
 * 2.4.0), so its broker thread spins up to 1 ms at the end of a linger
 * period: that cost ~100 us of CPU per callback at 2 ms under light load,
 * but under load the thread has work at those moments anyway. Measured
 * under bench/ingest at C = 64 (15 s each, one run): linger 1 ms 7,708/s,
 * 2 ms 7,601/s, 3 ms 8,704/s, 5 ms 7,720/s, all CPU-bound; 0 ms sends a
 * request per record and costs the broker 240 us per record.
 */
#define INGEST_LINGER_MS 3
/* Key: channel name, ':' and an order number of at most PS_ID_BYTES_MAX. */
#define KEY_BYTES_MAX (PS_ID_BYTES_MAX + 16)

/* One calling thread's encoder; all of them are kept in a list so that the
 * producer frees them (threads do not tell us when they exit). */
typedef struct thread_codec {
    ps_avro_codec_t *codec;
    ps_buf_t buf;
    struct thread_codec *next;
} thread_codec_t;

/* Travels with one record as its librdkafka opaque. While unreported it is
 * in the producer's pending list (send order, hence deadline order). */
typedef struct delivery {
    ingest_delivery_fn fn;
    void *opaque;
    int64_t start_us;
    int64_t deadline_us;
    bool reported; /* the watchdog called fn already */
    struct delivery *prev, *next;
} delivery_t;

struct ingest_producer {
    const ps_config_t *cfg; /* borrowed */
    char *topic;            /* owned */
    int delivery_timeout_ms;
    pthread_rwlock_t lock;
    rd_kafka_t *rk;            /* owned; NULL while being replaced */
    rd_kafka_topic_t *rkt;     /* owned, belongs to rk */
    _Atomic(rd_kafka_t *) fatal_rk; /* the client that reported a fatal error */
    atomic_bool running;
    atomic_bool connected;
    atomic_uint_fast64_t recreations;
    atomic_int_fast64_t outstanding;
    pthread_mutex_t pending_mutex;
    delivery_t *pending_head, *pending_tail; /* unreported records, oldest first */
    pthread_t poll_thread;
    pthread_key_t codec_key;
    pthread_mutex_t codecs_mutex;
    thread_codec_t *codecs; /* owned list */
    ps_histogram_t *latency;
    ps_counter_t *deliveries;
    ps_counter_t *recreations_total;
    ps_gauge_t *in_flight;
};

static int64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static void pending_add(ingest_producer_t *p, delivery_t *d)
{
    pthread_mutex_lock(&p->pending_mutex);
    d->prev = p->pending_tail;
    d->next = NULL;
    if (p->pending_tail != NULL)
        p->pending_tail->next = d;
    else
        p->pending_head = d;
    p->pending_tail = d;
    pthread_mutex_unlock(&p->pending_mutex);
}

static void pending_unlink(ingest_producer_t *p, delivery_t *d)
{
    if (d->prev != NULL)
        d->prev->next = d->next;
    else
        p->pending_head = d->next;
    if (d->next != NULL)
        d->next->prev = d->prev;
    else
        p->pending_tail = d->prev;
    d->prev = d->next = NULL;
}

/* Removes d from the pending list; false when the watchdog reported it. */
static bool pending_take(ingest_producer_t *p, delivery_t *d)
{
    bool unreported;

    pthread_mutex_lock(&p->pending_mutex);
    unreported = !d->reported;
    if (unreported)
        pending_unlink(p, d);
    pthread_mutex_unlock(&p->pending_mutex);
    return unreported;
}

/*
 * Reports records past their deadline as timed out. Runs on the poll thread,
 * as the delivery reports do, so the two never run a callback concurrently.
 */
static void watchdog(ingest_producer_t *p)
{
    int64_t now = now_us();
    delivery_t *d;

    for (;;) {
        pthread_mutex_lock(&p->pending_mutex);
        d = p->pending_head;
        if (d != NULL && d->deadline_us <= now) {
            pending_unlink(p, d);
            d->reported = true; /* freed by its late delivery report */
        } else {
            d = NULL;
        }
        pthread_mutex_unlock(&p->pending_mutex);
        if (d == NULL)
            return;
        ps_counter_inc(p->deliveries, "timed_out", 1);
        atomic_fetch_sub(&p->outstanding, 1);
        ps_gauge_add(p->in_flight, NULL, -1);
        d->fn(d->opaque, PS_ERR_TIMEOUT,
              "kafka did not report the event within ingest.delivery_timeout_ms");
    }
}

/* Delivery report: runs on the poll thread (or in the final drain). */
static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *rk_opaque)
{
    ingest_producer_t *p = rk_opaque;
    delivery_t *d = m->_private;
    char msg[PS_ERRSTR_SIZE] = "";
    ps_err_t err = PS_OK;

    (void)rk;
    PS_ASSERT(d != NULL);
    if (!pending_take(p, d)) { /* the watchdog answered it already */
        ps_free(d);
        return;
    }
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        atomic_store(&p->connected, true);
        ps_histogram_observe(p->latency, NULL, now_us() - d->start_us);
        ps_counter_inc(p->deliveries, "acked", 1);
    } else {
        err = ps_kafka_errstr(msg, sizeof(msg), m->err, "kafka did not acknowledge the event "
                              "(%s persisted)",
                              rd_kafka_message_status(m) == RD_KAFKA_MSG_STATUS_NOT_PERSISTED
                                  ? "not"
                                  : "possibly");
        if (m->err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT)
            err = PS_ERR_TIMEOUT;
        else if (err != PS_ERR_KAFKA)
            err = PS_ERR_KAFKA;
        ps_counter_inc(p->deliveries, "failed", 1);
    }
    d->fn(d->opaque, err, msg);
    ps_free(d);
    atomic_fetch_sub(&p->outstanding, 1);
    ps_gauge_add(p->in_flight, NULL, -1);
}

/* librdkafka's error callback: runs on one of its internal threads. */
static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    ingest_producer_t *p = opaque;

    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char cause[PS_ERRSTR_SIZE];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, cause, sizeof(cause));

        ps_log_error("kafka producer hit a fatal error: %s: %s; recreating the producer",
                     rd_kafka_err2name(orig), cause);
        atomic_store(&p->fatal_rk, rk);
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        atomic_store(&p->connected, false);
    ps_log_warn("kafka producer: %s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static ps_err_t set_int(rd_kafka_conf_t *conf, const char *key, int64_t v, char *errstr,
                        size_t errstr_size)
{
    char value[32];

    snprintf(value, sizeof(value), "%lld", (long long)v);
    return ps_kafka_conf_set(conf, key, value, errstr, errstr_size);
}

/* Builds one client with its topic handle. */
static ps_err_t client_new(ingest_producer_t *p, rd_kafka_t **rk_out, rd_kafka_topic_t **rkt_out,
                           char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *conf = NULL;
    ps_err_t err = ps_kafka_conf_new(PS_KAFKA_PRODUCER, &conf, errstr, errstr_size);

    if (err == PS_OK)
        err = set_int(conf, "linger.ms", INGEST_LINGER_MS, errstr, errstr_size);
    if (err == PS_OK)
        err = ps_kafka_conf_apply_config(conf, p->cfg, errstr, errstr_size);
    /* Forced after the pass-through: the HTTP wait relies on a report in time. */
    if (err == PS_OK)
        err = set_int(conf, "message.timeout.ms", p->delivery_timeout_ms, errstr, errstr_size);
    if (err == PS_OK && p->delivery_timeout_ms < 10000)
        err = set_int(conf, "request.timeout.ms", p->delivery_timeout_ms, errstr, errstr_size);
    if (err != PS_OK)
        goto out;
    rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_opaque(conf, p);
    err = ps_kafka_new(PS_KAFKA_PRODUCER, &conf, rk_out, errstr, errstr_size);
    if (err != PS_OK)
        goto out;
    *rkt_out = rd_kafka_topic_new(*rk_out, p->topic, NULL);
    if (*rkt_out == NULL) {
        err = ps_kafka_errstr(errstr, errstr_size, rd_kafka_last_error(),
                              "could not create kafka topic handle \"%s\"", p->topic);
        rd_kafka_destroy(*rk_out);
        *rk_out = NULL;
    }
out:
    if (conf != NULL)
        rd_kafka_conf_destroy(conf);
    return err;
}

/*
 * Purges what rk still holds (each record gets a failure report, served
 * here), then destroys it. Bounded by the delivery timeout: librdkafka
 * reports purged records on the next poll.
 */
static void client_retire(ingest_producer_t *p, rd_kafka_t *rk, rd_kafka_topic_t *rkt,
                          int wait_ms)
{
    int64_t deadline_us = now_us() + (int64_t)wait_ms * 1000;

    rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    while (rd_kafka_outq_len(rk) > 0 && now_us() < deadline_us)
        rd_kafka_poll(rk, POLL_MS);
    if (rd_kafka_outq_len(rk) > 0)
        ps_log_error("kafka producer retired with %d unreported records", rd_kafka_outq_len(rk));
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
}

/* Replaces a client that went fatal. Runs on the poll thread. */
static void recreate(ingest_producer_t *p)
{
    char errstr[PS_ERRSTR_SIZE];
    rd_kafka_t *old_rk, *rk = NULL;
    rd_kafka_topic_t *old_rkt, *rkt = NULL;

    pthread_rwlock_wrlock(&p->lock);
    old_rk = p->rk;
    old_rkt = p->rkt;
    p->rk = NULL;
    p->rkt = NULL;
    pthread_rwlock_unlock(&p->lock);
    client_retire(p, old_rk, old_rkt, p->delivery_timeout_ms);
    while (atomic_load(&p->running)) {
        if (client_new(p, &rk, &rkt, errstr, sizeof(errstr)) == PS_OK)
            break;
        ps_log_error("could not recreate the kafka producer: %s", errstr);
        sleep_ms(RECREATE_RETRY_MS);
    }
    if (rk == NULL)
        return;
    pthread_rwlock_wrlock(&p->lock);
    p->rk = rk;
    p->rkt = rkt;
    pthread_rwlock_unlock(&p->lock);
    atomic_fetch_add(&p->recreations, 1);
    ps_counter_inc(p->recreations_total, NULL, 1);
    ps_log_info("kafka producer recreated");
}

/* Asks a broker for metadata; sets `connected` on an answer. */
static void probe(ingest_producer_t *p)
{
    const struct rd_kafka_metadata *md = NULL;

    if (rd_kafka_metadata(p->rk, 0, NULL, &md, PROBE_TIMEOUT_MS) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (md->broker_cnt > 0)
            atomic_store(&p->connected, true);
        rd_kafka_metadata_destroy(md);
    }
}

static void *poll_main(void *arg)
{
    ingest_producer_t *p = arg;
    int64_t next_probe_us = 0;

    while (atomic_load(&p->running)) {
        if (p->rk == NULL) {
            recreate(p); /* a previous attempt was cut short: keep trying */
            continue;
        }
        rd_kafka_poll(p->rk, POLL_MS);
        watchdog(p);
        if (atomic_load(&p->fatal_rk) == p->rk) {
            recreate(p);
            continue;
        }
        if (!atomic_load(&p->connected) && now_us() >= next_probe_us) {
            probe(p);
            next_probe_us = now_us() + PROBE_INTERVAL_MS * 1000;
        }
    }
    return NULL;
}

static void register_metrics(ingest_producer_t *p, ps_metrics_t *metrics)
{
    /* Microseconds, rendered in seconds: 0.5 ms to 10 s. */
    static const int64_t bounds[] = {500,    1000,   2000,    5000,    10000,   25000,  50000,
                                     100000, 250000, 500000,  1000000, 2500000, 5000000, 10000000};

    p->latency = ps_metrics_histogram(
        metrics, "paystream_ingest_produce_latency_seconds",
        "Time from enqueue to Kafka's acknowledgement of a callback event.", NULL, bounds,
        sizeof(bounds) / sizeof(bounds[0]), PS_METRIC_SCALE_US_TO_S);
    p->deliveries = ps_metrics_counter(metrics, "paystream_ingest_deliveries_total",
                                       "Delivery reports by result (acked, failed).", "result");
    p->recreations_total = ps_metrics_counter(
        metrics, "paystream_ingest_producer_recreations_total",
        "Kafka producer clients replaced after a fatal error.", NULL);
    p->in_flight = ps_metrics_gauge(metrics, "paystream_ingest_produce_in_flight",
                                    "Events sent to Kafka and not yet acknowledged.", NULL);
}

ps_err_t ingest_producer_new(const ps_config_t *cfg, ps_metrics_t *metrics,
                             ingest_producer_t **out, char *errstr, size_t errstr_size)
{
    ingest_producer_t *p = ps_calloc(1, sizeof(*p));
    ps_err_t err;

    PS_ASSERT(cfg != NULL && metrics != NULL && out != NULL);
    p->cfg = cfg;
    p->topic = ps_strdup(ps_config_get_str(cfg, "topic.callbacks"));
    p->delivery_timeout_ms = (int)ps_config_get_int(cfg, "ingest.delivery_timeout_ms");
    pthread_rwlock_init(&p->lock, NULL);
    pthread_mutex_init(&p->codecs_mutex, NULL);
    pthread_mutex_init(&p->pending_mutex, NULL);
    PS_ASSERT(pthread_key_create(&p->codec_key, NULL) == 0);
    register_metrics(p, metrics);
    err = client_new(p, &p->rk, &p->rkt, errstr, errstr_size);
    if (err != PS_OK) {
        ps_errstr_prefix(errstr, errstr_size, err, "could not create kafka producer");
        goto out;
    }
    atomic_store(&p->running, true);
    if (pthread_create(&p->poll_thread, NULL, poll_main, p) != 0) {
        atomic_store(&p->running, false);
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_IO, "could not start kafka poll thread");
        goto out;
    }
    *out = p;
    p = NULL;
out:
    if (p != NULL) {
        if (p->rk != NULL)
            client_retire(p, p->rk, p->rkt, 0);
        p->rk = NULL;
        ingest_producer_destroy(p);
    }
    return err;
}

void ingest_producer_destroy(ingest_producer_t *p)
{
    thread_codec_t *tc, *next;

    if (p == NULL)
        return;
    if (atomic_load(&p->running)) {
        atomic_store(&p->running, false);
        pthread_join(p->poll_thread, NULL);
    }
    if (p->rk != NULL) {
        /* Give acknowledgements a chance, then fail whatever is left. */
        int64_t deadline_us = now_us() + (int64_t)PS_INGEST_SHUTDOWN_FLUSH_MS * 1000;
        while (rd_kafka_outq_len(p->rk) > 0 && now_us() < deadline_us)
            rd_kafka_poll(p->rk, POLL_MS);
        client_retire(p, p->rk, p->rkt, p->delivery_timeout_ms);
    }
    for (tc = p->codecs; tc != NULL; tc = next) {
        next = tc->next;
        ps_avro_codec_destroy(tc->codec);
        ps_buf_deinit(&tc->buf);
        ps_free(tc);
    }
    if (p->pending_head != NULL)
        ps_log_error("kafka producer destroyed with unreported records");
    pthread_key_delete(p->codec_key);
    pthread_mutex_destroy(&p->pending_mutex);
    pthread_mutex_destroy(&p->codecs_mutex);
    pthread_rwlock_destroy(&p->lock);
    ps_free(p->topic);
    ps_free(p);
}

/* The calling thread's codec, created on its first send. */
static ps_err_t thread_codec(ingest_producer_t *p, thread_codec_t **tc_out, char *errstr,
                             size_t errstr_size)
{
    thread_codec_t *tc = pthread_getspecific(p->codec_key);
    ps_err_t err;

    if (tc == NULL) {
        tc = ps_calloc(1, sizeof(*tc));
        err = ps_avro_codec_new(&tc->codec, errstr, errstr_size);
        if (err != PS_OK) {
            ps_free(tc);
            return err;
        }
        ps_buf_init(&tc->buf, PS_AVRO_MESSAGE_BYTES_MAX);
        pthread_mutex_lock(&p->codecs_mutex);
        tc->next = p->codecs;
        p->codecs = tc;
        pthread_mutex_unlock(&p->codecs_mutex);
        pthread_setspecific(p->codec_key, tc);
    }
    *tc_out = tc;
    return PS_OK;
}

static ps_err_t enqueue(ingest_producer_t *p, const char *key, const ps_buf_t *value,
                        delivery_t *d, char *errstr, size_t errstr_size)
{
    rd_kafka_resp_err_t rerr;
    ps_err_t err = PS_OK;

    pthread_rwlock_rdlock(&p->lock);
    if (p->rk == NULL) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_RETRIABLE,
                            "kafka producer is being recreated after a fatal error");
        goto out;
    }
    if (rd_kafka_produce(p->rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, value->data,
                         value->len, key, strlen(key), d) != 0) {
        rerr = rd_kafka_last_error();
        err = ps_kafka_errstr(errstr, errstr_size, rerr, "could not enqueue event for \"%s\"",
                              p->topic);
        if (rerr == RD_KAFKA_RESP_ERR__QUEUE_FULL || rerr == RD_KAFKA_RESP_ERR__FATAL)
            err = PS_ERR_RETRIABLE;
    }
out:
    pthread_rwlock_unlock(&p->lock);
    return err;
}

ps_err_t ingest_producer_send(ingest_producer_t *p, const ps_callback_event_t *ev,
                              ingest_delivery_fn fn, void *opaque, char *errstr,
                              size_t errstr_size)
{
    char key[KEY_BYTES_MAX];
    thread_codec_t *tc = NULL;
    delivery_t *d = NULL;
    ps_err_t err;

    PS_ASSERT(p != NULL && ev != NULL && fn != NULL);
    err = thread_codec(p, &tc, errstr, errstr_size);
    if (err == PS_OK)
        err = ps_avro_encode_callback_event(tc->codec, ev, &tc->buf, errstr, errstr_size);
    if (err != PS_OK)
        goto out;
    /* merchant_order_no is bounded by PS_ID_BYTES_MAX (the encoder checked it). */
    snprintf(key, sizeof(key), "%s:%s", ps_channel_name(ev->channel), ev->merchant_order_no);
    d = ps_malloc(sizeof(*d));
    d->fn = fn;
    d->opaque = opaque;
    d->start_us = now_us();
    d->deadline_us = d->start_us + (int64_t)(p->delivery_timeout_ms + DELIVERY_GRACE_MS) * 1000;
    d->reported = false;
    atomic_fetch_add(&p->outstanding, 1);
    ps_gauge_add(p->in_flight, NULL, 1);
    pending_add(p, d);
    err = enqueue(p, key, &tc->buf, d, errstr, errstr_size);
    if (err != PS_OK && !pending_take(p, d)) {
        /* The watchdog already reported it (enqueue outlived the deadline):
         * the callback ran, so this send counts as done. */
        err = PS_OK;
        goto out;
    }
    if (err != PS_OK) {
        atomic_fetch_sub(&p->outstanding, 1);
        ps_gauge_add(p->in_flight, NULL, -1);
        goto out;
    }
    d = NULL; /* transferred to librdkafka until its delivery report */
out:
    ps_free(d);
    return err;
}

bool ingest_producer_connected(ingest_producer_t *p)
{
    return atomic_load(&p->connected);
}

uint64_t ingest_producer_recreations(ingest_producer_t *p)
{
    return atomic_load(&p->recreations);
}

int64_t ingest_producer_outstanding(ingest_producer_t *p)
{
    return atomic_load(&p->outstanding);
}

ps_err_t ingest_producer_inject_fatal(ingest_producer_t *p, char *errstr, size_t errstr_size)
{
    rd_kafka_resp_err_t rerr = RD_KAFKA_RESP_ERR_NO_ERROR;
    ps_err_t err = PS_OK;

    pthread_rwlock_rdlock(&p->lock);
    if (p->rk == NULL)
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_RETRIABLE,
                            "kafka producer is being recreated");
    else
        rerr = rd_kafka_test_fatal_error(p->rk, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                                         "injected by ingest_producer_inject_fatal");
    pthread_rwlock_unlock(&p->lock);
    if (err == PS_OK && rerr != RD_KAFKA_RESP_ERR_NO_ERROR)
        err = ps_kafka_errstr(errstr, errstr_size, rerr, "could not inject a fatal error");
    return err;
}
