/*
 * Kafka helpers (see paystream/kafka.h): role settings, config pass-through,
 * admin calls, readiness, produce-and-confirm, and error classification.
 *
 * Everything here is a thin layer over librdkafka 2.0.2; the value is in
 * setting every option the design relies on explicitly and in turning
 * librdkafka's errors into messages that keep the error name and into the
 * retriable / abortable / fatal classes the apply path needs.
 */
#include <paystream/assert.h>
#include <paystream/kafka.h>
#include <paystream/limits.h>
#include <paystream/log.h>
#include <paystream/mem.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* librdkafka's own error buffers: 512 bytes is what its examples use. */
#define KAFKA_ERRSTR_BYTES 512
/* Metadata polls while waiting for a broker: each bounded by this. */
#define KAFKA_READY_POLL_MS 500

typedef struct kafka_setting {
    const char *key;
    const char *value;
} kafka_setting_t;

static const kafka_setting_t common_settings[] = {
    {"bootstrap.servers", PS_KAFKA_BOOTSTRAP_DEFAULT},
    /* 2.0.2 still has Nagle on by default; the ingest tier waits for acks. */
    {"socket.nagle.disable", "true"},
};

static const kafka_setting_t producer_settings[] = {
    {"enable.idempotence", "true"},
    {"acks", "all"},
    {"max.in.flight.requests.per.connection", "5"},
    /* Short linger: ingest answers HTTP only after the ack. */
    {"linger.ms", "2"},
    /* Retries fit inside message.timeout.ms, so each message gets a definite report. */
    {"request.timeout.ms", "10000"},
};

static const kafka_setting_t transactional_settings[] = {
    /* librdkafka requires socket.timeout.ms at least 100 ms below the transaction timeout. */
    {"socket.timeout.ms", "30000"},
};

static const kafka_setting_t consumer_settings[] = {
    /* Offsets live in PostgreSQL next to the data they describe. */
    {"enable.auto.commit", "false"},
    {"enable.auto.offset.store", "false"},
    {"isolation.level", "read_committed"},
    /* Eager rebalancing: cooperative-sticky has known bugs in 2.0.2. */
    {"partition.assignment.strategy", "range"},
    {"auto.offset.reset", "earliest"},
    {"enable.partition.eof", "false"},
};

static bool key_is_sensitive(const char *key)
{
    return strstr(key, "password") != NULL || strstr(key, "secret") != NULL ||
           strstr(key, "ssl.key") != NULL || strstr(key, "oauthbearer") != NULL;
}

ps_err_t ps_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value,
                           char *errstr, size_t errstr_size)
{
    char rderr[KAFKA_ERRSTR_BYTES];
    rd_kafka_conf_res_t res;

    PS_ASSERT(conf != NULL && key != NULL && value != NULL);
    res = rd_kafka_conf_set(conf, key, value, rderr, sizeof(rderr));
    if (res == RD_KAFKA_CONF_OK)
        return PS_OK;
    if (key_is_sensitive(key))
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                             "could not set kafka property \"%s\": value rejected", key);
    return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                         "could not set kafka property \"%s\" to \"%s\": %s", key, value, rderr);
}

static ps_err_t apply_settings(rd_kafka_conf_t *conf, const kafka_setting_t *settings, size_t n,
                               char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < n; i++) {
        ps_err_t err =
            ps_kafka_conf_set(conf, settings[i].key, settings[i].value, errstr, errstr_size);
        if (err != PS_OK)
            return err;
    }
    return PS_OK;
}

/* librdkafka logs from its own threads; ps_log is thread-safe. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    ps_log_level_t lvl = level <= 3 ? PS_LOG_ERROR : level <= 4 ? PS_LOG_WARN
                       : level <= 6 ? PS_LOG_INFO : PS_LOG_DEBUG;

    ps_log(lvl, "kafka %s: %s: %s", rk != NULL ? rd_kafka_name(rk) : "client", fac, buf);
}

static ps_err_t set_int(rd_kafka_conf_t *conf, const char *key, long value, char *errstr,
                        size_t errstr_size)
{
    char text[32];

    snprintf(text, sizeof(text), "%ld", value);
    return ps_kafka_conf_set(conf, key, text, errstr, errstr_size);
}

static ps_err_t role_settings(rd_kafka_conf_t *conf, ps_kafka_role_t role, char *errstr,
                              size_t errstr_size)
{
    ps_err_t err = PS_OK;

#define APPLY(table) apply_settings(conf, table, sizeof(table) / sizeof(table[0]), errstr, errstr_size)
    if (role == PS_KAFKA_CONSUMER)
        return APPLY(consumer_settings);
    err = APPLY(producer_settings);
    if (err == PS_OK && role == PS_KAFKA_TRANSACTIONAL_PRODUCER) {
        err = APPLY(transactional_settings);
        if (err == PS_OK)
            err = set_int(conf, "transaction.timeout.ms", PS_KAFKA_TRANSACTION_TIMEOUT_MS, errstr,
                          errstr_size);
    }
#undef APPLY
    if (err == PS_OK)
        err = set_int(conf, "message.timeout.ms", PS_KAFKA_MESSAGE_TIMEOUT_MS, errstr,
                      errstr_size);
    return err;
}

ps_err_t ps_kafka_conf_new(ps_kafka_role_t role, rd_kafka_conf_t **conf_out, char *errstr,
                           size_t errstr_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    ps_err_t err;

    PS_ASSERT(conf_out != NULL);
    PS_ASSERT(role == PS_KAFKA_PRODUCER || role == PS_KAFKA_TRANSACTIONAL_PRODUCER ||
              role == PS_KAFKA_CONSUMER);
    *conf_out = NULL;
    err = apply_settings(conf, common_settings, sizeof(common_settings) / sizeof(common_settings[0]),
                         errstr, errstr_size);
    if (err == PS_OK)
        err = role_settings(conf, role, errstr, errstr_size);
    if (err != PS_OK)
        goto out;
    rd_kafka_conf_set_log_cb(conf, log_cb);
    *conf_out = conf;
    conf = NULL;
out:
    if (conf != NULL)
        rd_kafka_conf_destroy(conf);
    return err;
}

typedef struct apply_ctx {
    rd_kafka_conf_t *conf;
    char *errstr;
    size_t errstr_size;
} apply_ctx_t;

static ps_err_t apply_one(const char *key, const char *value, void *opaque)
{
    apply_ctx_t *ctx = opaque;
    ps_err_t err = ps_kafka_conf_set(ctx->conf, key, value, ctx->errstr, ctx->errstr_size);

    if (err != PS_OK)
        return ps_errstr_prefix(ctx->errstr, ctx->errstr_size, err,
                                "invalid configuration key \"kafka.%s\"", key);
    return PS_OK;
}

ps_err_t ps_kafka_conf_apply_config(rd_kafka_conf_t *conf, const ps_config_t *cfg, char *errstr,
                                    size_t errstr_size)
{
    apply_ctx_t ctx = {conf, errstr, errstr_size};

    PS_ASSERT(conf != NULL && cfg != NULL);
    return ps_config_foreach_prefixed(cfg, "kafka.", apply_one, &ctx);
}

/* True when conf has a non-empty value for key. */
static bool conf_has(const rd_kafka_conf_t *conf, const char *key)
{
    char value[256];
    size_t size = sizeof(value);

    if (rd_kafka_conf_get(conf, key, value, &size) != RD_KAFKA_CONF_OK)
        return false;
    return value[0] != '\0';
}

ps_err_t ps_kafka_new(ps_kafka_role_t role, rd_kafka_conf_t **conf, rd_kafka_t **rk_out,
                      char *errstr, size_t errstr_size)
{
    char rderr[KAFKA_ERRSTR_BYTES];
    rd_kafka_conf_t *c;
    rd_kafka_t *rk;
    ps_err_t err = PS_OK;

    PS_ASSERT(conf != NULL && *conf != NULL && rk_out != NULL);
    c = *conf;
    *conf = NULL;
    *rk_out = NULL;
    if (role == PS_KAFKA_TRANSACTIONAL_PRODUCER && !conf_has(c, "transactional.id")) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                            "could not create kafka transactional producer: "
                            "\"transactional.id\" is not set");
        goto out;
    }
    if (role == PS_KAFKA_CONSUMER && !conf_has(c, "group.id")) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                            "could not create kafka consumer: \"group.id\" is not set");
        goto out;
    }
    rk = rd_kafka_new(role == PS_KAFKA_CONSUMER ? RD_KAFKA_CONSUMER : RD_KAFKA_PRODUCER, c, rderr,
                      sizeof(rderr));
    if (rk == NULL) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                            "could not create kafka client: %s", rderr);
        goto out;
    }
    c = NULL; /* rd_kafka_new took it */
    if (role == PS_KAFKA_CONSUMER)
        rd_kafka_poll_set_consumer(rk);
    *rk_out = rk;
out:
    if (c != NULL)
        rd_kafka_conf_destroy(c);
    return err;
}

/* ---- errors ---- */

ps_err_class_t ps_kafka_classify(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    case RD_KAFKA_RESP_ERR__ISR_INSUFF:
    case RD_KAFKA_RESP_ERR__WAIT_COORD:
    case RD_KAFKA_RESP_ERR__RETRY:
    case RD_KAFKA_RESP_ERR__PREV_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_REPLICA_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS:
    case RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR:
    case RD_KAFKA_RESP_ERR_FENCED_LEADER_EPOCH:
    case RD_KAFKA_RESP_ERR_UNKNOWN_LEADER_EPOCH:
    case RD_KAFKA_RESP_ERR_PREFERRED_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_THROTTLING_QUOTA_EXCEEDED:
    case RD_KAFKA_RESP_ERR_OFFSET_NOT_AVAILABLE:
        return PS_ERRCLASS_RETRIABLE;
    /* The group or the transaction moved under us: roll back and redo. */
    case RD_KAFKA_RESP_ERR__ASSIGNMENT_LOST:
    case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
    case RD_KAFKA_RESP_ERR__MAX_POLL_EXCEEDED:
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
    case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID:
    case RD_KAFKA_RESP_ERR_INVALID_TXN_STATE:
    case RD_KAFKA_RESP_ERR_UNKNOWN_PRODUCER_ID:
        return PS_ERRCLASS_ABORTABLE;
    default:
        /* Fencing, authorization, __FATAL and anything unforeseen: stop. */
        return PS_ERRCLASS_FATAL;
    }
}

static bool err_is_fencing(rd_kafka_resp_err_t err)
{
    return err == RD_KAFKA_RESP_ERR__FENCED || err == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
           err == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH ||
           err == RD_KAFKA_RESP_ERR_TRANSACTION_COORDINATOR_FENCED ||
           err == RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID;
}

static ps_err_t err_for(rd_kafka_resp_err_t err, ps_err_class_t cls)
{
    if (err_is_fencing(err))
        return PS_ERR_FENCED;
    return cls == PS_ERRCLASS_RETRIABLE ? PS_ERR_RETRIABLE : PS_ERR_KAFKA;
}

static void format_kafka(char *errstr, size_t errstr_size, const char *name, const char *desc,
                         const char *fmt, va_list ap)
{
    char what[256];

    vsnprintf(what, sizeof(what), fmt, ap);
    ps_errstr_set(errstr, errstr_size, PS_ERR_KAFKA, "%s: %s: %s", what, name, desc);
}

ps_err_t ps_kafka_errstr(char *errstr, size_t errstr_size, rd_kafka_resp_err_t err,
                         const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    format_kafka(errstr, errstr_size, rd_kafka_err2name(err), rd_kafka_err2str(err), fmt, ap);
    va_end(ap);
    return err_for(err, ps_kafka_classify(err));
}

ps_err_t ps_kafka_error_take(rd_kafka_error_t *error, ps_err_class_t *class_out, char *errstr,
                             size_t errstr_size, const char *fmt, ...)
{
    rd_kafka_resp_err_t code;
    ps_err_class_t cls;
    va_list ap;

    if (error == NULL)
        return PS_OK;
    code = rd_kafka_error_code(error);
    if (rd_kafka_error_is_fatal(error))
        cls = PS_ERRCLASS_FATAL;
    else if (rd_kafka_error_txn_requires_abort(error))
        cls = PS_ERRCLASS_ABORTABLE;
    else if (rd_kafka_error_is_retriable(error))
        cls = PS_ERRCLASS_RETRIABLE;
    else
        cls = ps_kafka_classify(code);
    va_start(ap, fmt);
    format_kafka(errstr, errstr_size, rd_kafka_error_name(error), rd_kafka_error_string(error),
                 fmt, ap);
    va_end(ap);
    rd_kafka_error_destroy(error);
    if (class_out != NULL)
        *class_out = cls;
    return err_for(code, cls);
}

/* ---- admin ---- */

static ps_err_t check_topics(const char *const *topics, size_t n, char *errstr,
                             size_t errstr_size)
{
    if (n == 0 || n > PS_KAFKA_TOPICS_MAX)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "invalid topic count %zu: must be 1 to %d (PS_KAFKA_TOPICS_MAX)", n,
                             PS_KAFKA_TOPICS_MAX);
    for (size_t i = 0; i < n; i++) {
        if (topics[i] == NULL || topics[i][0] == '\0')
            return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                                 "invalid topic name at position %zu: empty", i);
    }
    return PS_OK;
}

/*
 * Waits for the admin result event on q and checks each topic's result. A
 * topic that already exists (create) or does not exist (delete) counts as
 * success, so that scripts and test cleanup can run twice.
 */
static ps_err_t admin_wait(rd_kafka_queue_t *q, bool create, int timeout_ms, char *errstr,
                           size_t errstr_size)
{
    const rd_kafka_topic_result_t **res;
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_ms);
    rd_kafka_resp_err_t ok_err = create ? RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS
                                        : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
    const char *verb = create ? "create" : "delete";
    size_t cnt = 0;
    ps_err_t err = PS_OK;

    if (ev == NULL)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_TIMEOUT,
                             "could not %s kafka topics: no answer within %d ms", verb,
                             timeout_ms);
    if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        err = ps_kafka_errstr(errstr, errstr_size, rd_kafka_event_error(ev),
                              "could not %s kafka topics", verb);
        goto out;
    }
    if (create)
        res = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
    else
        res = rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &cnt);
    for (size_t i = 0; i < cnt; i++) {
        rd_kafka_resp_err_t terr = rd_kafka_topic_result_error(res[i]);
        if (terr == RD_KAFKA_RESP_ERR_NO_ERROR || terr == ok_err)
            continue;
        ps_kafka_errstr(errstr, errstr_size, terr, "could not %s kafka topic \"%s\"", verb,
                        rd_kafka_topic_result_name(res[i]));
        err = PS_ERR_KAFKA;
        goto out;
    }
out:
    rd_kafka_event_destroy(ev);
    return err;
}

static ps_err_t admin_options(rd_kafka_t *rk, rd_kafka_admin_op_t op, int timeout_ms,
                              rd_kafka_AdminOptions_t **opts_out, char *errstr,
                              size_t errstr_size)
{
    char rderr[KAFKA_ERRSTR_BYTES];
    rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(rk, op);

    if (rd_kafka_AdminOptions_set_operation_timeout(opts, timeout_ms, rderr, sizeof(rderr)) ||
        rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, rderr, sizeof(rderr))) {
        rd_kafka_AdminOptions_destroy(opts);
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "invalid kafka admin timeout %d ms: %s", timeout_ms, rderr);
    }
    *opts_out = opts;
    return PS_OK;
}

ps_err_t ps_kafka_create_topics(rd_kafka_t *rk, const char *const *topics, size_t n,
                                int partitions, int replication, int timeout_ms, char *errstr,
                                size_t errstr_size)
{
    char rderr[KAFKA_ERRSTR_BYTES];
    rd_kafka_NewTopic_t *nt[PS_KAFKA_TOPICS_MAX] = {NULL};
    rd_kafka_AdminOptions_t *opts = NULL;
    rd_kafka_queue_t *q = NULL;
    size_t made = 0;
    ps_err_t err;

    PS_ASSERT(rk != NULL && topics != NULL);
    err = check_topics(topics, n, errstr, errstr_size);
    if (err != PS_OK)
        goto out;
    if (partitions < 1 || partitions > PS_KAFKA_PARTITIONS_MAX || replication < 1) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                            "invalid topic layout: %d partitions (1 to %d), replication %d",
                            partitions, PS_KAFKA_PARTITIONS_MAX, replication);
        goto out;
    }
    for (made = 0; made < n; made++) {
        nt[made] = rd_kafka_NewTopic_new(topics[made], partitions, replication, rderr,
                                         sizeof(rderr));
        if (nt[made] == NULL) {
            err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                                "invalid kafka topic \"%s\": %s", topics[made], rderr);
            goto out;
        }
    }
    err = admin_options(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout_ms, &opts, errstr,
                        errstr_size);
    if (err != PS_OK)
        goto out;
    q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, nt, n, opts, q);
    err = admin_wait(q, true, timeout_ms, errstr, errstr_size);
out:
    if (q != NULL)
        rd_kafka_queue_destroy(q);
    if (opts != NULL)
        rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_NewTopic_destroy_array(nt, made);
    return err;
}

ps_err_t ps_kafka_delete_topics(rd_kafka_t *rk, const char *const *topics, size_t n,
                                int timeout_ms, char *errstr, size_t errstr_size)
{
    rd_kafka_DeleteTopic_t *dt[PS_KAFKA_TOPICS_MAX] = {NULL};
    rd_kafka_AdminOptions_t *opts = NULL;
    rd_kafka_queue_t *q = NULL;
    size_t made = 0;
    ps_err_t err;

    PS_ASSERT(rk != NULL && topics != NULL);
    err = check_topics(topics, n, errstr, errstr_size);
    if (err != PS_OK)
        goto out;
    for (made = 0; made < n; made++)
        dt[made] = rd_kafka_DeleteTopic_new(topics[made]);
    err = admin_options(rk, RD_KAFKA_ADMIN_OP_DELETETOPICS, timeout_ms, &opts, errstr,
                        errstr_size);
    if (err != PS_OK)
        goto out;
    q = rd_kafka_queue_new(rk);
    rd_kafka_DeleteTopics(rk, dt, n, opts, q);
    err = admin_wait(q, false, timeout_ms, errstr, errstr_size);
out:
    if (q != NULL)
        rd_kafka_queue_destroy(q);
    if (opts != NULL)
        rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_DeleteTopic_destroy_array(dt, made);
    return err;
}

/* ---- readiness and metadata ---- */

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

ps_err_t ps_kafka_wait_ready(const char *brokers, int timeout_ms, char *errstr,
                             size_t errstr_size)
{
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *rk = NULL;
    rd_kafka_resp_err_t last = RD_KAFKA_RESP_ERR__TIMED_OUT;
    int64_t deadline_ms = now_ms() + timeout_ms;
    ps_err_t err;

    PS_ASSERT(brokers != NULL);
    err = ps_kafka_conf_new(PS_KAFKA_PRODUCER, &conf, errstr, errstr_size);
    if (err == PS_OK)
        err = ps_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, errstr_size);
    if (err == PS_OK)
        err = ps_kafka_new(PS_KAFKA_PRODUCER, &conf, &rk, errstr, errstr_size);
    if (err != PS_OK)
        goto out;
    err = PS_ERR_TIMEOUT;
    while (now_ms() < deadline_ms) {
        const struct rd_kafka_metadata *md = NULL;
        last = rd_kafka_metadata(rk, 0, NULL, &md, KAFKA_READY_POLL_MS);
        if (last == RD_KAFKA_RESP_ERR_NO_ERROR) {
            bool up = md->broker_cnt > 0;
            rd_kafka_metadata_destroy(md);
            if (up) {
                err = PS_OK;
                break;
            }
        }
    }
    if (err != PS_OK)
        ps_errstr_set(errstr, errstr_size, PS_ERR_TIMEOUT,
                      "kafka at \"%s\" not ready within %d ms: %s", brokers, timeout_ms,
                      rd_kafka_err2name(last));
out:
    if (conf != NULL)
        rd_kafka_conf_destroy(conf);
    if (rk != NULL)
        rd_kafka_destroy(rk);
    return err;
}

ps_err_t ps_kafka_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms,
                                  int *count_out, char *errstr, size_t errstr_size)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt;
    rd_kafka_resp_err_t rerr;
    ps_err_t err = PS_OK;

    PS_ASSERT(rk != NULL && topic != NULL && count_out != NULL);
    rkt = rd_kafka_topic_new(rk, topic, NULL);
    if (rkt == NULL)
        return ps_kafka_errstr(errstr, errstr_size, rd_kafka_last_error(),
                               "could not look up kafka topic \"%s\"", topic);
    rerr = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
    if (rerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        err = ps_kafka_errstr(errstr, errstr_size, rerr,
                              "could not read metadata of kafka topic \"%s\"", topic);
        goto out;
    }
    if (md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rerr = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
        ps_kafka_errstr(errstr, errstr_size, rerr, "kafka topic \"%s\" is not available", topic);
        err = rerr == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ? PS_ERR_NOT_FOUND : PS_ERR_KAFKA;
        goto out;
    }
    if (md->topics[0].partition_cnt < 1 || md->topics[0].partition_cnt > PS_KAFKA_PARTITIONS_MAX) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                            "kafka topic \"%s\" has %d partitions: expected 1 to %d "
                            "(PS_KAFKA_PARTITIONS_MAX)",
                            topic, md->topics[0].partition_cnt, PS_KAFKA_PARTITIONS_MAX);
        goto out;
    }
    *count_out = md->topics[0].partition_cnt;
out:
    if (md != NULL)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return err;
}

ps_err_t ps_kafka_assign_all(rd_kafka_t *rk, const char *topic, int partition_count,
                             int64_t offset, char *errstr, size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *parts;
    rd_kafka_resp_err_t rerr;

    PS_ASSERT(rk != NULL && topic != NULL);
    if (partition_count < 1 || partition_count > PS_KAFKA_PARTITIONS_MAX)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "invalid partition count %d for kafka topic \"%s\"",
                             partition_count, topic);
    parts = rd_kafka_topic_partition_list_new(partition_count);
    for (int p = 0; p < partition_count; p++)
        rd_kafka_topic_partition_list_add(parts, topic, p)->offset = offset;
    rerr = rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (rerr != RD_KAFKA_RESP_ERR_NO_ERROR)
        return ps_kafka_errstr(errstr, errstr_size, rerr,
                               "could not assign kafka topic \"%s\"", topic);
    return PS_OK;
}

/* ---- produce and confirm ---- */

static void delivery_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    ps_kafka_delivery_t *dlv = opaque;

    (void)rk;
    PS_ASSERT(dlv != NULL);
    if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        dlv->delivered++;
        return;
    }
    if (dlv->failed == 0)
        dlv->first_err = msg->err;
    dlv->failed++;
}

void ps_kafka_conf_set_delivery(rd_kafka_conf_t *conf, ps_kafka_delivery_t *dlv)
{
    PS_ASSERT(conf != NULL && dlv != NULL);
    rd_kafka_conf_set_dr_msg_cb(conf, delivery_cb);
    rd_kafka_conf_set_opaque(conf, dlv);
}

ps_err_t ps_kafka_produce(rd_kafka_t *rk, const char *topic, const void *key, size_t key_len,
                          const void *value, size_t value_len, int timeout_ms, char *errstr,
                          size_t errstr_size)
{
    int64_t deadline_ms = now_ms() + timeout_ms;
    size_t klen = key != NULL ? key_len : 0;
    rd_kafka_resp_err_t rerr;

    PS_ASSERT(rk != NULL && topic != NULL && (value != NULL || value_len == 0));
    for (;;) {
        rerr = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_KEY(key, klen),
                                 RD_KAFKA_V_VALUE((void *)value, value_len), RD_KAFKA_V_END);
        if (rerr != RD_KAFKA_RESP_ERR__QUEUE_FULL || now_ms() >= deadline_ms)
            break;
        /* Serving delivery reports is what frees queue space. */
        rd_kafka_poll(rk, 100);
    }
    if (rerr != RD_KAFKA_RESP_ERR_NO_ERROR)
        return ps_kafka_errstr(errstr, errstr_size, rerr,
                               "could not produce to kafka topic \"%s\"", topic);
    rd_kafka_poll(rk, 0);
    return PS_OK;
}

ps_err_t ps_kafka_flush(rd_kafka_t *rk, const ps_kafka_delivery_t *dlv, uint64_t expected,
                        int timeout_ms, char *errstr, size_t errstr_size)
{
    rd_kafka_resp_err_t rerr;

    PS_ASSERT(rk != NULL && dlv != NULL);
    rerr = rd_kafka_flush(rk, timeout_ms);
    if (dlv->failed > 0)
        return ps_kafka_errstr(errstr, errstr_size, dlv->first_err,
                               "kafka delivery failed for %" PRIu64 " of %" PRIu64 " messages",
                               dlv->failed, expected);
    if (rerr != RD_KAFKA_RESP_ERR_NO_ERROR)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_TIMEOUT,
                             "kafka delivery not confirmed within %d ms: %" PRIu64
                             " of %" PRIu64 " messages acknowledged",
                             timeout_ms, dlv->delivered, expected);
    if (dlv->delivered != expected)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_KAFKA,
                             "kafka acknowledged %" PRIu64 " messages, expected %" PRIu64,
                             dlv->delivered, expected);
    return PS_OK;
}
