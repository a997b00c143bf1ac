/*
 * The Kafka side of the emit protocol (commands.h): one transactional
 * producer per run, transactional.id stable per channel
 * ("<recon.transactional_id_prefix>-<channel>"), so that a restarted run
 * fences its crashed predecessor and the broker aborts whatever that one
 * left open. Error handling follows librdkafka's transactional contract
 * (reference kafka.md 5.3): retriable calls are repeated a bounded number of
 * times, abortable ones abort the transaction, fatal ones end the run; in
 * every failure case the run stays EMITTING in PostgreSQL and the next run
 * produces the same commands again.
 */
#include "commands.h"

#include <paystream/buf.h>
#include <paystream/limits.h>
#include <paystream/mem.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Attempts of a retriable commit before giving the run up to the next one. */
#define COMMIT_ATTEMPTS_MAX 3

struct recon_emitter {
    const ps_config_t *cfg; /* borrowed: the consumer of recon_emitter_scan uses it too */
    char *brokers;
    rd_kafka_t *rk;
    ps_avro_codec_t *codec;
    char *topic;
    ps_kafka_delivery_t dlv;
};

static ps_err_t make_conf(const ps_config_t *cfg, const char *brokers, const char *txn_id,
                          recon_emitter_t *em, rd_kafka_conf_t **conf, char *errstr,
                          size_t errstr_size)
{
    ps_err_t err = ps_kafka_conf_new(PS_KAFKA_TRANSACTIONAL_PRODUCER, conf, errstr, errstr_size);

    if (err == PS_OK && cfg != NULL)
        err = ps_kafka_conf_apply_config(*conf, cfg, errstr, errstr_size);
    if (err == PS_OK && brokers != NULL)
        err = ps_kafka_conf_set(*conf, "bootstrap.servers", brokers, errstr, errstr_size);
    if (err == PS_OK)
        err = ps_kafka_conf_set(*conf, "transactional.id", txn_id, errstr, errstr_size);
    if (err == PS_OK)
        ps_kafka_conf_set_delivery(*conf, &em->dlv);
    return err;
}

ps_err_t recon_emitter_new(const ps_config_t *cfg, const char *brokers, const char *topic,
                           const char *txn_id, recon_emitter_t **out, char *errstr,
                           size_t errstr_size)
{
    recon_emitter_t *em = ps_calloc(1, sizeof(*em));
    rd_kafka_conf_t *conf = NULL;
    ps_err_t err = make_conf(cfg, brokers, txn_id, em, &conf, errstr, errstr_size);

    if (err == PS_OK)
        err = ps_kafka_new(PS_KAFKA_TRANSACTIONAL_PRODUCER, &conf, &em->rk, errstr, errstr_size);
    if (err == PS_OK)
        err = ps_kafka_error_take(rd_kafka_init_transactions(
                                      em->rk, PS_KAFKA_INIT_TRANSACTIONS_TIMEOUT_MS),
                                  NULL, errstr, errstr_size,
                                  "could not init transactions of \"%s\"", txn_id);
    if (err == PS_OK)
        err = ps_avro_codec_new(&em->codec, errstr, errstr_size);
    if (err != PS_OK) {
        if (conf != NULL)
            rd_kafka_conf_destroy(conf);
        recon_emitter_destroy(em);
        return err;
    }
    em->topic = ps_strdup(topic);
    em->cfg = cfg;
    em->brokers = brokers != NULL ? ps_strdup(brokers) : NULL;
    *out = em;
    return PS_OK;
}

static ps_err_t produce_all(recon_emitter_t *em, const ps_ledger_command_t *cmds, size_t n,
                            char *errstr, size_t errstr_size)
{
    ps_buf_t value;
    ps_err_t err = PS_OK;

    ps_buf_init(&value, PS_AVRO_MESSAGE_BYTES_MAX);
    for (size_t i = 0; err == PS_OK && i < n; i++) {
        err = ps_avro_encode_ledger_command(em->codec, &cmds[i], &value, errstr, errstr_size);
        if (err != PS_OK) {
            ps_errstr_prefix(errstr, errstr_size, err, "could not encode command \"%s\"",
                             cmds[i].command_id);
            break;
        }
        err = ps_kafka_produce(em->rk, em->topic, cmds[i].payment_key,
                               strlen(cmds[i].payment_key), value.data, value.len,
                               PS_RECON_KAFKA_TIMEOUT_MS, errstr, errstr_size);
    }
    ps_buf_deinit(&value);
    return err;
}

static ps_err_t commit(recon_emitter_t *em, char *errstr, size_t errstr_size)
{
    ps_err_class_t cls = PS_ERRCLASS_FATAL;
    ps_err_t err = PS_OK;

    for (int attempt = 0; attempt < COMMIT_ATTEMPTS_MAX; attempt++) {
        err = ps_kafka_error_take(rd_kafka_commit_transaction(em->rk, PS_RECON_KAFKA_TIMEOUT_MS),
                                  &cls, errstr, errstr_size, "could not commit commands");
        if (err == PS_OK || cls != PS_ERRCLASS_RETRIABLE)
            break;
    }
    if (err == PS_OK && em->dlv.failed > 0)
        err = ps_kafka_errstr(errstr, errstr_size, em->dlv.first_err,
                              "%llu commands were not delivered",
                              (unsigned long long)em->dlv.failed);
    return err;
}

ps_err_t recon_emitter_send(recon_emitter_t *em, const ps_ledger_command_t *cmds, size_t n,
                            char *errstr, size_t errstr_size)
{
    char ignored[PS_ERRSTR_SIZE];
    ps_err_t err = ps_kafka_error_take(rd_kafka_begin_transaction(em->rk), NULL, errstr,
                                       errstr_size, "could not begin transaction");

    if (err != PS_OK)
        return err;
    em->dlv.delivered = em->dlv.failed = 0;
    err = produce_all(em, cmds, n, errstr, errstr_size);
    if (err == PS_OK) {
        recon_crash_point("before_kafka_commit");
        err = commit(em, errstr, errstr_size);
    }
    if (err != PS_OK && rd_kafka_fatal_error(em->rk, NULL, 0) == RD_KAFKA_RESP_ERR_NO_ERROR)
        (void)ps_kafka_error_take(rd_kafka_abort_transaction(em->rk, PS_RECON_KAFKA_TIMEOUT_MS),
                                  NULL, ignored, sizeof(ignored), "could not abort");
    return err;
}

void recon_emitter_destroy(recon_emitter_t *em)
{
    if (em == NULL)
        return;
    if (em->rk != NULL)
        rd_kafka_destroy(em->rk);
    ps_avro_codec_destroy(em->codec);
    ps_free(em->topic);
    ps_free(em->brokers);
    ps_free(em);
}

ps_err_t recon_emitter_end_offsets(recon_emitter_t *em, char *out, size_t out_size,
                                   char *errstr, size_t errstr_size)
{
    int count = 0;
    size_t used = 0;
    ps_err_t err = ps_kafka_partition_count(em->rk, em->topic, PS_RECON_KAFKA_TIMEOUT_MS,
                                            &count, errstr, errstr_size);

    out[0] = '\0';
    for (int p = 0; err == PS_OK && p < count; p++) {
        int64_t lo = 0, hi = 0;
        rd_kafka_resp_err_t rerr = rd_kafka_query_watermark_offsets(
            em->rk, em->topic, p, &lo, &hi, PS_RECON_KAFKA_TIMEOUT_MS);
        if (rerr != RD_KAFKA_RESP_ERR_NO_ERROR)
            return ps_kafka_errstr(errstr, errstr_size, rerr,
                                   "could not read the end offset of \"%s\" [%d]", em->topic, p);
        int w = snprintf(out + used, out_size - used, "%s%d:%lld", p > 0 ? "," : "", p,
                         (long long)hi);
        if (w < 0 || (size_t)w >= out_size - used)
            return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                                 "end offsets of \"%s\" exceed %zu bytes", em->topic, out_size);
        used += (size_t)w;
    }
    return err;
}

/* "0:12,1:40" -> a partition list (owned by the caller); NULL when malformed. */
static rd_kafka_topic_partition_list_t *parse_offsets(const char *topic, const char *text)
{
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(8);
    const char *s = text;

    while (*s != '\0') {
        char *end = NULL;
        long long p = strtoll(s, &end, 10);
        if (end == s || *end != ':' || p < 0 || p >= PS_KAFKA_PARTITIONS_MAX)
            goto bad;
        s = end + 1;
        long long off = strtoll(s, &end, 10);
        if (end == s || off < 0 || (*end != ',' && *end != '\0'))
            goto bad;
        rd_kafka_topic_partition_list_add(parts, topic, (int32_t)p)->offset = off;
        s = *end == ',' ? end + 1 : end;
    }
    return parts;
bad:
    rd_kafka_topic_partition_list_destroy(parts);
    return NULL;
}

static ps_err_t scan_consumer(recon_emitter_t *em, rd_kafka_t **rk, char *errstr,
                              size_t errstr_size)
{
    rd_kafka_conf_t *conf = NULL;
    char group[128];
    ps_err_t err = ps_kafka_conf_new(PS_KAFKA_CONSUMER, &conf, errstr, errstr_size);

    /* Offsets are assigned explicitly and never committed: the group is a formality. */
    snprintf(group, sizeof(group), "paystream-reconciler-recovery-%ld", (long)getpid());
    if (err == PS_OK && em->cfg != NULL)
        err = ps_kafka_conf_apply_config(conf, em->cfg, errstr, errstr_size);
    if (err == PS_OK && em->brokers != NULL)
        err = ps_kafka_conf_set(conf, "bootstrap.servers", em->brokers, errstr, errstr_size);
    if (err == PS_OK)
        err = ps_kafka_conf_set(conf, "group.id", group, errstr, errstr_size);
    if (err == PS_OK)
        err = ps_kafka_conf_set(conf, "isolation.level", "read_committed", errstr, errstr_size);
    if (err == PS_OK)
        err = ps_kafka_conf_set(conf, "enable.partition.eof", "true", errstr, errstr_size);
    if (err == PS_OK)
        err = ps_kafka_new(PS_KAFKA_CONSUMER, &conf, rk, errstr, errstr_size);
    if (conf != NULL)
        rd_kafka_conf_destroy(conf);
    return err;
}

/* Marks present[i] when the message carries cmds[i]'s id. */
static void mark_present(recon_emitter_t *em, const rd_kafka_message_t *m,
                         const ps_ledger_command_t *cmds, size_t n, bool *present)
{
    char ignored[PS_ERRSTR_SIZE];
    ps_ledger_command_t cmd = {0};

    if (ps_avro_decode_ledger_command(em->codec, m->payload, m->len, &cmd, ignored,
                                      sizeof(ignored)) != PS_OK)
        return; /* not ours to judge: the processor dead-letters it */
    for (size_t i = 0; i < n; i++)
        if (strcmp(cmd.command_id, cmds[i].command_id) == 0)
            present[i] = true;
    ps_ledger_command_deinit(&cmd);
}

ps_err_t recon_emitter_scan(recon_emitter_t *em, const char *offsets,
                            const ps_ledger_command_t *cmds, size_t n, bool *present,
                            char *errstr, size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *parts = parse_offsets(em->topic, offsets);
    rd_kafka_t *rk = NULL;
    int at_end = 0;
    ps_err_t err = PS_OK;

    if (parts == NULL)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "recorded kafka offsets \"%.64s\" are malformed", offsets);
    err = scan_consumer(em, &rk, errstr, errstr_size);
    if (err == PS_OK && rd_kafka_assign(rk, parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_KAFKA,
                            "could not assign \"%s\" for recovery", em->topic);
    int64_t deadline_ms = PS_RECON_KAFKA_TIMEOUT_MS, read = 0;
    while (err == PS_OK && at_end < parts->cnt && read < PS_RECON_RECOVER_SCAN_MAX) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m == NULL) {
            if ((deadline_ms -= 100) <= 0)
                err = ps_errstr_set(errstr, errstr_size, PS_ERR_TIMEOUT,
                                    "could not read \"%s\" to its end within %d ms", em->topic,
                                    PS_RECON_KAFKA_TIMEOUT_MS);
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            at_end++; /* one end of partition per assigned partition */
        else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR)
            err = ps_kafka_errstr(errstr, errstr_size, m->err, "could not read \"%s\"",
                                  em->topic);
        else
            mark_present(em, m, cmds, n, present);
        read += m->err == RD_KAFKA_RESP_ERR_NO_ERROR;
        rd_kafka_message_destroy(m);
    }
    rd_kafka_topic_partition_list_destroy(parts);
    if (rk != NULL) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    return err;
}
