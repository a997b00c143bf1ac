/*
 * The ingest producer: writes each accepted CallbackEvent to Kafka with the
 * idempotent producer and reports, exactly once per event, whether Kafka
 * acknowledged it (acks=all). The HTTP tier answers "success" only on a
 * positive report, so nothing is acknowledged to a channel that is not in
 * Kafka (issue 3; kafka.md section 5).
 *
 * Threads: one dedicated poll thread serves delivery reports (the callbacks
 * run there) and watches for fatal producer errors. librdkafka 2.0.2's
 * idempotent producer can go fatal after a possibly-persisted error (#4438);
 * the poll thread then purges the old producer (its in-flight messages get
 * failure reports: the channel retries and the processor deduplicates),
 * destroys it and creates a new one. Sends during the swap fail at once.
 *
 * Records: Avro single-object CallbackEvent (one codec per calling thread),
 * key "<CHANNEL>:<merchant_order_no>" (e.g. "WECHAT:1217752501201407033233368018";
 * Apple's merchant_order_no is the originalTransactionId) so that every event
 * of one payment lands on one partition, in order.
 */
#ifndef INGEST_PRODUCE_H
#define INGEST_PRODUCE_H

#include <paystream/config.h>
#include <paystream/err.h>
#include <paystream/event.h>
#include <paystream/metrics.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ingest_producer ingest_producer_t;

/*
 * Delivery outcome: err is PS_OK when Kafka acknowledged the record, else
 * PS_ERR_KAFKA / PS_ERR_TIMEOUT with message (borrowed for the call) naming
 * librdkafka's error. Runs on the poll thread: keep it short, never block.
 */
typedef void (*ingest_delivery_fn)(void *opaque, ps_err_t err, const char *message);

/*
 * Creates the producer from cfg (borrowed; must outlive the producer, which
 * reads it again to recreate the client): topic.callbacks,
 * ingest.delivery_timeout_ms (forced as message.timeout.ms so that every
 * record gets a definite report in time) and kafka.* pass-through. metrics
 * (borrowed; outlives the producer) receives the produce latency histogram,
 * delivery counters, in-flight gauge and recreation counter. Starts the poll
 * thread. The broker need not be up: readiness is reported by
 * ingest_producer_connected. Errors: PS_ERR_CONFIG for a bad kafka.* key.
 * *out is owned by the caller (ingest_producer_destroy).
 * @locality start-up thread
 */
ps_err_t ingest_producer_new(const ps_config_t *cfg, ps_metrics_t *metrics,
                             ingest_producer_t **out, char *errstr, size_t errstr_size);

/*
 * Waits up to PS_INGEST_SHUTDOWN_FLUSH_MS for outstanding reports (each
 * delivered to its callback), then stops the poll thread and frees
 * everything. Records still unreported after the wait get a failure report
 * before the client is destroyed. Accepts NULL. No send may be running.
 */
void ingest_producer_destroy(ingest_producer_t *p);

/*
 * Encodes ev (borrowed) and enqueues it. On PS_OK, fn(opaque, ...) will be
 * called exactly once from the poll thread (opaque borrowed until then).
 * Otherwise fn is never called and errstr says why: PS_ERR_INVALID (the
 * event breaks the Avro contract), PS_ERR_RETRIABLE (local queue full, or
 * the producer is being recreated), PS_ERR_KAFKA (the client refused it).
 * @locality any thread, concurrently
 */
ps_err_t ingest_producer_send(ingest_producer_t *p, const ps_callback_event_t *ev,
                              ingest_delivery_fn fn, void *opaque, char *errstr,
                              size_t errstr_size);

/* Whether a broker answered recently (false after "all brokers down"). */
bool ingest_producer_connected(ingest_producer_t *p);

/* Producer clients replaced after fatal errors so far. */
uint64_t ingest_producer_recreations(ingest_producer_t *p);

/* Records sent and not yet reported. */
int64_t ingest_producer_outstanding(ingest_producer_t *p);

/*
 * Raises a fatal idempotence error in the current client
 * (rd_kafka_test_fatal_error) to exercise recreation in tests.
 * @locality any thread
 */
ps_err_t ingest_producer_inject_fatal(ingest_producer_t *p, char *errstr, size_t errstr_size);

#endif
