/*
 * The processor's Kafka side: a group consumer (eager range assignor, no
 * Kafka offsets ever read) whose rebalance callback claims the partitions in
 * PostgreSQL and assigns them at the stored offsets, batch polling with
 * decoding into proc_item_t, rewinding (seek back to the stored offsets)
 * after a failed transaction, and the bookkeeping after a commit.
 *
 * Everything here runs on the loop's thread: the rebalance callback runs
 * inside rd_kafka_consumer_poll, which only proc_consumer_poll_batch and
 * proc_consumer_destroy call, never while an apply transaction is open.
 */
#ifndef PROC_CONSUME_H
#define PROC_CONSUME_H

#include "apply.h"

#include <librdkafka/rdkafka.h>
#include <paystream/config.h>
#include <paystream/err.h>
#include <paystream/limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One assigned partition as this instance sees it. */
typedef struct proc_partition {
    char topic[PS_PROC_TOPIC_BYTES_MAX];
    int32_t partition;
    int64_t token;        /* owner token from the claim */
    int64_t stored_next;  /* kafka_offsets.next_offset as last claimed/committed; -2 = beginning */
    int64_t next_pos;     /* offset expected next from Kafka; -1 while unknown (beginning) */
    int64_t batch_last;   /* last offset taken into the current batch; -1: none */
    bool fenced;          /* another instance owns it: ignored until the next rebalance */
} proc_partition_t;

/* The messages of the batch being built and their decoded items. */
typedef struct proc_batch {
    rd_kafka_message_t **msgs; /* owned, n of them */
    proc_item_t *items;        /* items[i] decodes msgs[i]; borrows from it */
    size_t n, cap;
} proc_batch_t;

/*
 * Called by the rebalance callback with the newly assigned partitions
 * (topic and partition set): must claim them in PostgreSQL and fill token
 * and stored_next, retrying on its own as long as it makes sense. Returning
 * non-PS_OK leaves the partitions unassigned and makes the next
 * proc_consumer_poll_batch fail (fatal: the supervisor restarts us).
 */
typedef ps_err_t (*proc_claim_fn)(void *opaque, proc_partition_t *parts, size_t n,
                                  char *errstr, size_t errstr_size);

typedef struct proc_consumer proc_consumer_t;

/*
 * Creates the consumer for group and subscribes to topics[0..topic_count).
 * cfg's "kafka." keys are applied after the project's consumer settings.
 * events_max bounds a batch (1..PS_PROC_BATCH_EVENTS_MAX). claim is called
 * with claim_opaque (borrowed; must outlive the consumer). cfg, group and
 * topics are borrowed for the call. *out is owned (proc_consumer_destroy).
 * Errors: PS_ERR_CONFIG for a rejected property, PS_ERR_KAFKA otherwise.
 */
ps_err_t proc_consumer_new(const ps_config_t *cfg, const char *group, const char *const *topics,
                           size_t topic_count, size_t events_max, proc_claim_fn claim,
                           void *claim_opaque, proc_consumer_t **out, char *errstr,
                           size_t errstr_size);

/*
 * Drops the batch, leaves the group cleanly (rd_kafka_consumer_close, which
 * runs the revoke callback) and frees everything. Accepts NULL.
 */
void proc_consumer_destroy(proc_consumer_t *c);

/*
 * Adds messages to the batch until it holds events_max items, wait_ms have
 * passed since its first message, or *stop is set. Returns after one empty
 * poll of PS_PROC_POLL_MS when the batch is still empty, so the caller can
 * look at *stop. A rebalance inside drops the batch (its messages were not
 * applied; the new owner reads them again). Messages of fenced partitions
 * and stale ones (before the expected position, left over from before a
 * seek) are discarded. Undecodable messages become PROC_ITEM_POISON.
 * The batch is borrowed from the consumer until the next call.
 * Errors: PS_ERR_KAFKA for a fatal consumer error or a failed claim.
 */
ps_err_t proc_consumer_poll_batch(proc_consumer_t *c, int wait_ms, volatile sig_atomic_t *stop,
                                  proc_batch_t **batch_out, char *errstr, size_t errstr_size);

/* Destroys the batch's items and messages and forgets its positions. */
void proc_consumer_batch_clear(proc_consumer_t *c);

/*
 * After a rolled-back transaction: seeks every partition of the batch back
 * to its stored offset (timeout 0: librdkafka 2.0.2's synchronous seek wait
 * is 1000 times too short) and clears the batch, so that nothing is skipped.
 * Errors: PS_ERR_KAFKA when the seek is refused (the caller backs off and
 * the next rebalance resets positions anyway).
 */
ps_err_t proc_consumer_rewind(proc_consumer_t *c, char *errstr, size_t errstr_size);

/*
 * After COMMIT: the batch's partitions now have stored_next = batch_last + 1.
 * Mirrors the offsets to Kafka asynchronously when mirror is true (only for
 * lag tools; never read back). Then clears the batch.
 */
void proc_consumer_committed(proc_consumer_t *c, bool mirror);

/*
 * After a fenced CAS: parts_db holds the rows re-read from PostgreSQL, in
 * the order of proc_consumer_partitions. A partition whose token changed is
 * ignored (its messages discarded) until the next rebalance; one whose
 * offset moved under the same
 * token (a commit whose outcome was unknown did commit) takes the stored
 * offset. Every partition of the batch is then sought to its stored offset.
 */
void proc_consumer_refenced(proc_consumer_t *c, const proc_partition_t *parts_db, size_t n);

/* The assigned partitions (borrowed until the next poll); *n_out their count. */
proc_partition_t *proc_consumer_partitions(proc_consumer_t *c, size_t *n_out);

/* The librdkafka handle (borrowed), for watermarks and metadata. */
rd_kafka_t *proc_consumer_rk(proc_consumer_t *c);

#endif
