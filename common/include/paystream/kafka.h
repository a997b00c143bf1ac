/*
 * Kafka helpers over librdkafka 2.0.2: the project's client settings for each
 * role, configuration pass-through from the service config, topic creation,
 * readiness polling, a synchronous-enough produce path for tools and tests,
 * and the mapping of librdkafka errors onto ps_err_t / ps_err_class_t.
 *
 * The settings are set explicitly even where they equal librdkafka's defaults
 * (STYLE.md): the defaults changed between releases (socket.nagle.disable,
 * auto.offset.reset), and the exactly-once design depends on every one of
 * them. See /work/shared/reference/kafka.md sections 4, 5 and 8 for why each
 * value was chosen.
 *
 * Error messages keep librdkafka's error name ("_TRANSPORT",
 * "TOPIC_ALREADY_EXISTS") so an operator can look the cause up.
 */
#ifndef PAYSTREAM_KAFKA_H
#define PAYSTREAM_KAFKA_H

#include <paystream/config.h>
#include <paystream/err.h>

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

/* Used when neither the caller nor the config sets bootstrap.servers. */
#define PS_KAFKA_BOOTSTRAP_DEFAULT "127.0.0.1:19092"

typedef enum ps_kafka_role {
    PS_KAFKA_PRODUCER = 0,               /* idempotent producer (ingest) */
    PS_KAFKA_TRANSACTIONAL_PRODUCER = 1, /* idempotent + transactions (reconciler) */
    PS_KAFKA_CONSUMER = 2                /* read_committed, offsets kept by the caller */
} ps_kafka_role_t;

/*
 * Creates a configuration with the project's settings for role:
 *   all:       bootstrap.servers=127.0.0.1:19092, socket.nagle.disable=true,
 *              log lines routed to ps_log
 *   producers: enable.idempotence=true, acks=all, linger.ms=2,
 *              max.in.flight.requests.per.connection=5,
 *              message.timeout.ms=PS_KAFKA_MESSAGE_TIMEOUT_MS, request.timeout.ms=10000
 *   transactional: also transaction.timeout.ms=PS_KAFKA_TRANSACTION_TIMEOUT_MS,
 *              socket.timeout.ms=30000 (librdkafka wants it below the transaction
 *              timeout); the caller must set transactional.id
 *   consumer:  enable.auto.commit=false, enable.auto.offset.store=false,
 *              isolation.level=read_committed, partition.assignment.strategy=range,
 *              auto.offset.reset=earliest, enable.partition.eof=false; the caller
 *              sets group.id
 * On success *conf_out is owned by the caller (rd_kafka_conf_destroy, or
 * transferred to ps_kafka_new). Errors: PS_ERR_CONFIG if librdkafka refuses a
 * setting (a library built without a feature).
 * @locality any thread
 */
ps_err_t ps_kafka_conf_new(ps_kafka_role_t role, rd_kafka_conf_t **conf_out, char *errstr,
                           size_t errstr_size);

/*
 * Sets one property. key and value are borrowed. PS_ERR_CONFIG names the key
 * and librdkafka's reason; the value (and librdkafka's reason, which may echo
 * it) is left out for keys that may hold secrets (containing "password",
 * "secret", "ssl.key" or "oauthbearer").
 * @locality any thread, but not concurrently on the same conf
 */
ps_err_t ps_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value,
                           char *errstr, size_t errstr_size);

/*
 * Applies every "kafka.<property>" key of the loaded service config, prefix
 * stripped, in the order the config set them. cfg is borrowed. The first
 * rejected property stops the walk: PS_ERR_CONFIG naming "kafka.<key>".
 */
ps_err_t ps_kafka_conf_apply_config(rd_kafka_conf_t *conf, const ps_config_t *cfg, char *errstr,
                                    size_t errstr_size);

/*
 * Creates the client for role from *conf. *conf is transferred in all cases:
 * it is set to NULL, whether the call succeeds or not. For consumers the main
 * queue is redirected to the consumer queue so errors arrive through
 * rd_kafka_consumer_poll. A transactional producer without transactional.id,
 * or a consumer without group.id, is PS_ERR_CONFIG. On success *rk_out is
 * owned by the caller (rd_kafka_destroy; for consumers rd_kafka_consumer_close
 * first).
 */
ps_err_t ps_kafka_new(ps_kafka_role_t role, rd_kafka_conf_t **conf, rd_kafka_t **rk_out,
                      char *errstr, size_t errstr_size);

/*
 * Creates topics (at most PS_KAFKA_TOPICS_MAX, each with 1..PS_KAFKA_PARTITIONS_MAX
 * partitions) through the Admin API and waits up to timeout_ms for the
 * result. A topic that already exists is success (creation is idempotent for
 * scripts that run twice); its partition count is not checked. rk and topics
 * are borrowed. Errors name the topic and librdkafka's error name.
 */
ps_err_t ps_kafka_create_topics(rd_kafka_t *rk, const char *const *topics, size_t n,
                                int partitions, int replication, int timeout_ms, char *errstr,
                                size_t errstr_size);

/* Deletes topics; a topic that does not exist is success. Otherwise as above. */
ps_err_t ps_kafka_delete_topics(rd_kafka_t *rk, const char *const *topics, size_t n,
                                int timeout_ms, char *errstr, size_t errstr_size);

/*
 * Polls cluster metadata from brokers (borrowed) until a broker answers or
 * timeout_ms runs out (PS_ERR_TIMEOUT, with the last librdkafka error). Used
 * by scripts and tests before they talk to a freshly started broker.
 */
ps_err_t ps_kafka_wait_ready(const char *brokers, int timeout_ms, char *errstr,
                             size_t errstr_size);

/*
 * Looks up how many partitions topic has (1..PS_KAFKA_PARTITIONS_MAX).
 * PS_ERR_NOT_FOUND if the broker does not know the topic.
 */
ps_err_t ps_kafka_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms,
                                  int *count_out, char *errstr, size_t errstr_size);

/*
 * Assigns (without a consumer group join) partitions 0..partition_count-1 of
 * topic at offset (e.g. RD_KAFKA_OFFSET_BEGINNING). Offsets are always given
 * explicitly: with auto commit off librdkafka would otherwise resume from
 * offsets committed to Kafka, which this project never reads.
 */
ps_err_t ps_kafka_assign_all(rd_kafka_t *rk, const char *topic, int partition_count,
                             int64_t offset, char *errstr, size_t errstr_size);

/*
 * Delivery accounting for producers that must know that every message was
 * acknowledged (tools, tests, the reconciler). Filled by a delivery-report
 * callback, which librdkafka runs inside rd_kafka_poll / rd_kafka_flush on the
 * thread that polls: read it only from that thread.
 */
typedef struct ps_kafka_delivery {
    uint64_t delivered;             /* acknowledged by the broker (acks=all) */
    uint64_t failed;                /* delivery reports with an error */
    rd_kafka_resp_err_t first_err;  /* the first failure, for the message */
} ps_kafka_delivery_t;

/*
 * Installs the delivery-report callback and makes dlv (borrowed; must outlive
 * the client) the handle's opaque. Replaces any opaque set earlier.
 */
void ps_kafka_conf_set_delivery(rd_kafka_conf_t *conf, ps_kafka_delivery_t *dlv);

/*
 * Enqueues one message (copied; key may be NULL) for topic on any partition
 * chosen by the key. A full local queue is waited out by polling for up to
 * timeout_ms, then PS_ERR_RETRIABLE. All pointers borrowed.
 */
ps_err_t ps_kafka_produce(rd_kafka_t *rk, const char *topic, const void *key, size_t key_len,
                          const void *value, size_t value_len, int timeout_ms, char *errstr,
                          size_t errstr_size);

/*
 * Waits up to timeout_ms for every queued message and checks dlv: all
 * expected messages delivered and none failed, else PS_ERR_KAFKA (or
 * PS_ERR_TIMEOUT) naming the counts and the first error.
 */
ps_err_t ps_kafka_flush(rd_kafka_t *rk, const ps_kafka_delivery_t *dlv, uint64_t expected,
                        int timeout_ms, char *errstr, size_t errstr_size);

/*
 * How the apply path must react to a librdkafka error code:
 *   retriable  transport, timeouts, leader elections, a full queue, a loading
 *              coordinator: the same call may succeed later
 *   abortable  the consumer group moved under us (rebalance in progress,
 *              illegal generation, unknown member, assignment lost), or a
 *              transaction needs an abort: roll back and redo from the
 *              stored offsets
 *   fatal      fencing, authorization, __FATAL and everything unclassified
 */
ps_err_class_t ps_kafka_classify(rd_kafka_resp_err_t err);

/*
 * Formats "<what>: <ERROR_NAME>: <librdkafka description>" into errstr
 * (what is printf-style) and returns the ps_err_t for err: PS_ERR_FENCED for
 * fencing errors, PS_ERR_RETRIABLE for retriable ones, PS_ERR_KAFKA otherwise.
 */
ps_err_t ps_kafka_errstr(char *errstr, size_t errstr_size, rd_kafka_resp_err_t err,
                         const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * Takes ownership of error (from the transactional API; NULL means success,
 * PS_OK), classifies it with librdkafka's own flags (is_fatal,
 * txn_requires_abort, is_retriable, then ps_kafka_classify), formats the
 * message as ps_kafka_errstr does, destroys error, and returns the ps_err_t.
 * class_out may be NULL.
 */
ps_err_t ps_kafka_error_take(rd_kafka_error_t *error, ps_err_class_t *class_out, char *errstr,
                             size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
