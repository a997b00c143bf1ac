/*
 * The processor's consumer (see consume.h). Offsets come only from
 * PostgreSQL: the rebalance callback claims each assignment through the
 * loop's claim function and assigns with the stored offsets explicitly,
 * because librdkafka would otherwise resume from offsets committed to Kafka.
 * The eager range assignor gives one clean "revoke all, then assign" per
 * rebalance, which maps onto "drop the unapplied batch, then re-claim".
 */
#include "consume.h"

#include <paystream/assert.h>
#include <paystream/avro.h>
#include <paystream/kafka.h>
#include <paystream/log.h>
#include <paystream/mem.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct proc_consumer {
    rd_kafka_t *rk;
    ps_avro_codec_t *codec;
    proc_batch_t batch;
    proc_partition_t *parts; /* owned, PS_PROC_PARTITIONS_MAX slots */
    size_t part_count;
    proc_claim_fn claim;
    void *claim_opaque;
    bool claim_failed;
    char claim_errstr[PS_ERRSTR_SIZE];
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static proc_partition_t *find_part(proc_consumer_t *c, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < c->part_count; i++) {
        if (c->parts[i].partition == partition && strcmp(c->parts[i].topic, topic) == 0)
            return &c->parts[i];
    }
    return NULL;
}

void proc_consumer_batch_clear(proc_consumer_t *c)
{
    for (size_t i = 0; i < c->batch.n; i++) {
        proc_item_deinit(&c->batch.items[i]);
        rd_kafka_message_destroy(c->batch.msgs[i]);
        c->batch.msgs[i] = NULL;
    }
    c->batch.n = 0;
    for (size_t i = 0; i < c->part_count; i++)
        c->parts[i].batch_last = -1;
}

/* Assignment: claim in PostgreSQL, then assign at the stored offsets. */
static void on_assign(proc_consumer_t *c, rd_kafka_topic_partition_list_t *list)
{
    size_t n = (size_t)list->cnt;
    rd_kafka_resp_err_t kerr;
    ps_err_t err = PS_OK;

    c->part_count = 0;
    if (n > PS_PROC_PARTITIONS_MAX) {
        err = ps_errstr_set(c->claim_errstr, sizeof(c->claim_errstr), PS_ERR_TOO_LARGE,
                            "assigned %zu partitions, more than %d (PS_PROC_PARTITIONS_MAX)", n,
                            PS_PROC_PARTITIONS_MAX);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        proc_partition_t *p = &c->parts[i];
        memset(p, 0, sizeof(*p));
        snprintf(p->topic, sizeof(p->topic), "%s", list->elems[i].topic);
        p->partition = list->elems[i].partition;
        p->batch_last = -1;
    }
    if (n > 0)
        err = c->claim(c->claim_opaque, c->parts, n, c->claim_errstr,
                       sizeof(c->claim_errstr));
    if (err != PS_OK)
        goto out;
    for (size_t i = 0; i < n; i++) {
        proc_partition_t *p = &c->parts[i];
        list->elems[i].offset =
            p->stored_next < 0 ? RD_KAFKA_OFFSET_BEGINNING : p->stored_next;
        p->next_pos = p->stored_next < 0 ? -1 : p->stored_next;
        ps_log_info("assigned partition %" PRId32 " of \"%s\" at offset %" PRId64
                    " with owner token %" PRId64,
                    p->partition, p->topic, p->stored_next, p->token);
    }
    kerr = rd_kafka_assign(c->rk, list);
    if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        err = ps_kafka_errstr(c->claim_errstr, sizeof(c->claim_errstr), kerr,
                              "could not assign %zu partitions", n);
        goto out;
    }
    c->part_count = n;
out:
    if (err != PS_OK) {
        c->claim_failed = true;
        rd_kafka_assign(c->rk, NULL);
    }
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *list, void *opaque)
{
    proc_consumer_t *c = opaque;

    PS_ASSERT(c != NULL && c->rk == rk);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        on_assign(c, list);
        return;
    }
    /*
     * Revoke (or a rebalance error): the unapplied batch is dropped, which is
     * the roll back; the next owner re-reads it from the stored offsets. No
     * transaction is open here: the loop never polls inside one.
     */
    ps_log_info("partitions revoked (%d)%s: dropping %zu unapplied messages", list->cnt,
                rd_kafka_assignment_lost(rk) ? ", assignment lost" : "", c->batch.n);
    proc_consumer_batch_clear(c);
    c->part_count = 0;
    rd_kafka_assign(rk, NULL);
}

static ps_err_t make_rk(const ps_config_t *cfg, const char *group, proc_consumer_t *c,
                        char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *conf = NULL;
    ps_err_t err = ps_kafka_conf_new(PS_KAFKA_CONSUMER, &conf, errstr, errstr_size);

    if (err == PS_OK)
        err = ps_kafka_conf_set(conf, "group.id", group, errstr, errstr_size);
    if (err == PS_OK)
        err = ps_kafka_conf_apply_config(conf, cfg, errstr, errstr_size);
    if (err != PS_OK) {
        if (conf != NULL)
            rd_kafka_conf_destroy(conf);
        return err;
    }
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_opaque(conf, c);
    return ps_kafka_new(PS_KAFKA_CONSUMER, &conf, &c->rk, errstr, errstr_size);
}

ps_err_t proc_consumer_new(const ps_config_t *cfg, const char *group, const char *const *topics,
                           size_t topic_count, size_t events_max, proc_claim_fn claim,
                           void *claim_opaque, proc_consumer_t **out, char *errstr,
                           size_t errstr_size)
{
    proc_consumer_t *c = ps_calloc(1, sizeof(*c));
    rd_kafka_topic_partition_list_t *subs = NULL;
    rd_kafka_resp_err_t kerr;
    ps_err_t err;

    PS_ASSERT(cfg != NULL && group != NULL && topics != NULL && claim != NULL && out != NULL);
    PS_ASSERT(events_max >= 1 && events_max <= PS_PROC_BATCH_EVENTS_MAX);
    c->claim = claim;
    c->claim_opaque = claim_opaque;
    c->batch.cap = events_max;
    c->batch.msgs = ps_calloc(events_max, sizeof(rd_kafka_message_t *));
    c->batch.items = ps_calloc(events_max, sizeof(proc_item_t));
    c->parts = ps_calloc(PS_PROC_PARTITIONS_MAX, sizeof(proc_partition_t));
    err = ps_avro_codec_new(&c->codec, errstr, errstr_size);
    if (err == PS_OK)
        err = make_rk(cfg, group, c, errstr, errstr_size);
    if (err != PS_OK)
        goto out;
    subs = rd_kafka_topic_partition_list_new((int)topic_count);
    for (size_t i = 0; i < topic_count; i++)
        rd_kafka_topic_partition_list_add(subs, topics[i], RD_KAFKA_PARTITION_UA);
    kerr = rd_kafka_subscribe(c->rk, subs);
    if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR)
        err = ps_kafka_errstr(errstr, errstr_size, kerr, "could not subscribe to %zu topics",
                              topic_count);
out:
    if (subs != NULL)
        rd_kafka_topic_partition_list_destroy(subs);
    if (err != PS_OK) {
        proc_consumer_destroy(c);
        return err;
    }
    *out = c;
    return PS_OK;
}

void proc_consumer_destroy(proc_consumer_t *c)
{
    if (c == NULL)
        return;
    proc_consumer_batch_clear(c);
    if (c->rk != NULL) {
        /* Runs the revoke callback and leaves the group, so the others take over at once. */
        rd_kafka_resp_err_t kerr = rd_kafka_consumer_close(c->rk);
        if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR)
            ps_log_warn("could not close the consumer cleanly: %s", rd_kafka_err2str(kerr));
        rd_kafka_destroy(c->rk);
    }
    ps_avro_codec_destroy(c->codec);
    ps_free(c->batch.msgs);
    ps_free(c->batch.items);
    ps_free(c->parts);
    ps_free(c);
}

/* Decodes m into item; anything undecodable becomes poison with the reason. */
static void decode(proc_consumer_t *c, const rd_kafka_message_t *m, proc_item_t *item)
{
    ps_avro_type_t type;
    ps_err_t err;

    memset(item, 0, sizeof(*item));
    item->topic = rd_kafka_topic_name(m->rkt);
    item->partition = m->partition;
    item->offset = m->offset;
    item->raw = m->payload;
    item->raw_len = m->len;
    item->key = m->key;
    item->key_len = m->key_len;
    if (m->payload == NULL || m->len == 0) {
        item->kind = PROC_ITEM_POISON;
        snprintf(item->reason, sizeof(item->reason), "empty message value");
        return;
    }
    err = ps_avro_codec_message_type(c->codec, m->payload, m->len, &type, item->reason,
                                     sizeof(item->reason));
    if (err == PS_OK && type == PS_AVRO_CALLBACK_EVENT) {
        item->kind = PROC_ITEM_EVENT;
        err = ps_avro_decode_callback_event(c->codec, m->payload, m->len, &item->ev,
                                            item->reason, sizeof(item->reason));
    } else if (err == PS_OK) {
        item->kind = PROC_ITEM_COMMAND;
        err = ps_avro_decode_ledger_command(c->codec, m->payload, m->len, &item->cmd,
                                            item->reason, sizeof(item->reason));
    }
    if (err != PS_OK)
        item->kind = PROC_ITEM_POISON; /* reason holds the decoder's message */
    else
        item->reason[0] = '\0';
}

/* Handles a consumer error event; PS_ERR_KAFKA when it is fatal. */
static ps_err_t consumer_error(proc_consumer_t *c, const rd_kafka_message_t *m, char *errstr,
                               size_t errstr_size)
{
    if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
        char reason[PS_ERRSTR_SIZE];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(c->rk, reason, sizeof(reason));
        return ps_errstr_set(errstr, errstr_size, PS_ERR_KAFKA, "fatal consumer error: %s: %s",
                             rd_kafka_err2name(orig), reason);
    }
    /* Transport errors, broker restarts, unknown topics: librdkafka retries on its own. */
    ps_log_warn("consumer error: %s: %s", rd_kafka_err2name(m->err), rd_kafka_message_errstr(m));
    return PS_OK;
}

/* Takes m into the batch or discards it; m is transferred either way. */
static void take(proc_consumer_t *c, rd_kafka_message_t *m)
{
    proc_partition_t *p = find_part(c, rd_kafka_topic_name(m->rkt), m->partition);

    if (p == NULL || p->fenced || (p->next_pos >= 0 && m->offset < p->next_pos)) {
        /* Not ours any more, fenced, or prefetched before a seek back: not applied. */
        rd_kafka_message_destroy(m);
        return;
    }
    PS_ASSERT(c->batch.n < c->batch.cap);
    c->batch.msgs[c->batch.n] = m;
    decode(c, m, &c->batch.items[c->batch.n]);
    c->batch.n++;
    p->next_pos = m->offset + 1;
    p->batch_last = m->offset;
}

ps_err_t proc_consumer_poll_batch(proc_consumer_t *c, int wait_ms, volatile sig_atomic_t *stop,
                                  proc_batch_t **batch_out, char *errstr, size_t errstr_size)
{
    int64_t deadline_ms = 0;

    *batch_out = &c->batch;
    while (c->batch.n < c->batch.cap && !*stop) {
        int timeout_ms = PS_PROC_POLL_MS;
        rd_kafka_message_t *m;
        if (c->batch.n > 0) {
            int64_t left = deadline_ms - now_ms();
            if (left <= 0)
                break;
            timeout_ms = left < PS_PROC_POLL_MS ? (int)left : PS_PROC_POLL_MS;
        }
        m = rd_kafka_consumer_poll(c->rk, timeout_ms);
        if (c->claim_failed) {
            if (m != NULL)
                rd_kafka_message_destroy(m);
            return ps_errstr_set(errstr, errstr_size, PS_ERR_KAFKA, "%s", c->claim_errstr);
        }
        if (m == NULL) {
            if (c->batch.n == 0)
                break;
            continue;
        }
        if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            ps_err_t err = consumer_error(c, m, errstr, errstr_size);
            rd_kafka_message_destroy(m);
            if (err != PS_OK)
                return err;
            continue;
        }
        take(c, m);
        if (c->batch.n == 1)
            deadline_ms = now_ms() + wait_ms;
    }
    return PS_OK;
}

/* Seeks the batch's partitions to their stored offsets. */
static ps_err_t seek_stored(proc_consumer_t *c, bool all, char *errstr, size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_error_t *error;
    ps_err_t err = PS_OK;

    for (size_t i = 0; i < c->part_count; i++) {
        proc_partition_t *p = &c->parts[i];
        if ((!all && p->batch_last < 0) || p->fenced)
            continue;
        rd_kafka_topic_partition_list_add(list, p->topic, p->partition)->offset =
            p->stored_next < 0 ? RD_KAFKA_OFFSET_BEGINNING : p->stored_next;
        p->next_pos = p->stored_next < 0 ? -1 : p->stored_next;
    }
    if (list->cnt > 0) {
        /* timeout 0: 2.0.2 waits in ms where it means us (#4230); async is exact. */
        error = rd_kafka_seek_partitions(c->rk, list, 0);
        if (error != NULL)
            err = ps_kafka_error_take(error, NULL, errstr, errstr_size,
                                      "could not seek %d partitions back", list->cnt);
        for (int i = 0; err == PS_OK && i < list->cnt; i++) {
            /* With timeout 0, _IN_PROGRESS means "enqueued": the version
             * barrier is already up, so no older message is delivered. */
            if (list->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR &&
                list->elems[i].err != RD_KAFKA_RESP_ERR__IN_PROGRESS)
                err = ps_kafka_errstr(errstr, errstr_size, list->elems[i].err,
                                      "could not seek partition %" PRId32 " of \"%s\" back",
                                      list->elems[i].partition, list->elems[i].topic);
        }
    }
    rd_kafka_topic_partition_list_destroy(list);
    return err;
}

ps_err_t proc_consumer_rewind(proc_consumer_t *c, char *errstr, size_t errstr_size)
{
    ps_err_t err = seek_stored(c, false, errstr, errstr_size);

    proc_consumer_batch_clear(c);
    return err;
}

void proc_consumer_committed(proc_consumer_t *c, bool mirror)
{
    rd_kafka_topic_partition_list_t *list = mirror ? rd_kafka_topic_partition_list_new(8) : NULL;

    for (size_t i = 0; i < c->part_count; i++) {
        proc_partition_t *p = &c->parts[i];
        if (p->batch_last < 0)
            continue;
        p->stored_next = p->batch_last + 1;
        if (list != NULL)
            rd_kafka_topic_partition_list_add(list, p->topic, p->partition)->offset =
                p->stored_next;
    }
    if (list != NULL) {
        /* Only for lag tools: a failure here loses nothing, so it is not checked. */
        if (list->cnt > 0)
            rd_kafka_commit(c->rk, list, 1);
        rd_kafka_topic_partition_list_destroy(list);
    }
    proc_consumer_batch_clear(c);
}

void proc_consumer_refenced(proc_consumer_t *c, const proc_partition_t *parts_db, size_t n)
{
    char errstr[PS_ERRSTR_SIZE];

    PS_ASSERT(n == c->part_count);
    for (size_t i = 0; i < n; i++) {
        proc_partition_t *p = &c->parts[i];
        if (p->batch_last < 0)
            continue;
        if (parts_db[i].token != p->token) {
            /*
             * Not paused with rd_kafka_pause_partitions: a pause outlives the
             * rebalance that may give the partition back (it stalled it in the
             * zombie test). Its messages are discarded in take() instead, until
             * the rebalance that our lost membership is about to cause.
             */
            ps_log_warn("partition %" PRId32 " of \"%s\" now belongs to owner token %" PRId64
                        " (ours %" PRId64 "): ignoring it until the next rebalance",
                        p->partition, p->topic, parts_db[i].token, p->token);
            p->fenced = true;
        } else if (parts_db[i].stored_next != p->stored_next) {
            ps_log_warn("partition %" PRId32 " of \"%s\": stored offset is %" PRId64
                        ", expected %" PRId64 " (an earlier commit did succeed): resuming there",
                        p->partition, p->topic, parts_db[i].stored_next, p->stored_next);
            p->stored_next = parts_db[i].stored_next;
        }
    }
    if (seek_stored(c, false, errstr, sizeof(errstr)) != PS_OK)
        ps_log_warn("%s", errstr);
    proc_consumer_batch_clear(c);
}

proc_partition_t *proc_consumer_partitions(proc_consumer_t *c, size_t *n_out)
{
    *n_out = c->part_count;
    return c->parts;
}

rd_kafka_t *proc_consumer_rk(proc_consumer_t *c)
{
    return c->rk;
}
