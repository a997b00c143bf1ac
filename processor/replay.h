/*
 * `paystream-processor replay --schema S [--from-timestamp T]`: rebuilds the
 * ledger from the Kafka topics into a fresh PostgreSQL schema S, with the
 * same proc_apply_batch as the live processor, then prints the digest
 * (audit.h). Equal digests of the live ledger and of a full replay prove
 * that the live ledger is exactly what the topics say.
 *
 * Sequence: create schema S (it must not exist), run the migrations into it
 * (search_path=S), capture each partition's end offset (high watermark) and
 * start offset (the beginning, or offsets_for_times(T)), assign them
 * explicitly (no group join, no Kafka offsets read or written), consume
 * until every partition reached its captured end, applying in batches of at
 * most PS_REPLAY_BATCH_ITEMS_MAX in one transaction each, then audit S.
 */
#ifndef PROC_REPLAY_H
#define PROC_REPLAY_H

#include "apply.h"
#include "audit.h"

#include <paystream/config.h>
#include <paystream/err.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct proc_replay_opts {
    const ps_config_t *cfg;       /* borrowed: kafka.* keys applied to the consumer; may be NULL */
    const char *brokers;          /* borrowed: bootstrap.servers when cfg does not set it; may be NULL */
    const char *conninfo;         /* borrowed: the database; the schema is added to it */
    const char *migrations_dir;   /* borrowed */
    const char *schema;           /* borrowed: created, must not exist */
    const char *const *topics;    /* borrowed: the topics to replay */
    size_t topic_count;           /* 1..PS_KAFKA_TOPICS_MAX */
    bool has_from_time;
    int64_t from_time_ms;         /* replay messages at or after this time */
    FILE *progress;               /* borrowed: progress lines; may be NULL */
} proc_replay_opts_t;

typedef struct proc_replay_result {
    int64_t messages;            /* messages applied (including dead-lettered ones) */
    proc_apply_stats_t totals;   /* summed over the batches */
    proc_audit_result_t audit;   /* the audit of schema S, digest included */
} proc_replay_result_t;

/*
 * Runs a replay as described above. Errors: PS_ERR_INVALID for a bad schema
 * name or an existing schema, PS_ERR_KAFKA / PS_ERR_PG / PS_ERR_RETRIABLE
 * from the services, PS_ERR_TIMEOUT when no progress towards the end offsets
 * was made for PS_REPLAY_IDLE_TIMEOUT_MS. A failed replay leaves schema S
 * for inspection (drop it before retrying).
 * @locality any thread (own Kafka client and PostgreSQL connection)
 */
ps_err_t proc_replay_run(const proc_replay_opts_t *opts, proc_replay_result_t *out, char *errstr,
                         size_t errstr_size);

/*
 * The command: argv[0] is "replay", then --schema S (required),
 * --from-timestamp T (RFC 3339, or integer milliseconds since the epoch),
 * --help. Prints progress, the audit and "digest <hex>". Returns the exit
 * code: 0 replayed and audit passed, 1 failure, 2 usage error. cfg borrowed
 * (pg.conninfo, pg.migrations_dir, topic.callbacks, topic.commands, kafka.*).
 */
int proc_replay_main(const ps_config_t *cfg, int argc, char **argv);

#endif
