/*
 * The processor's main loop: poll a batch, apply it in ONE PostgreSQL
 * transaction together with the compare-and-set of every partition's
 * offset, commit; on any failure roll back, seek back to the stored offsets,
 * back off and redo. Never skips, never advances past an unapplied message.
 * See docs/ARCHITECTURE.md section 4 for the protocol and its failure cases.
 */
#ifndef PROC_LOOP_H
#define PROC_LOOP_H

#include "ops.h"

#include <paystream/config.h>
#include <paystream/err.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct proc_loop_conf {
    const ps_config_t *cfg;   /* borrowed: "kafka." pass-through keys */
    const char *conninfo;     /* borrowed: ledger database */
    const char *group;        /* borrowed: consumer group and kafka_offsets.consumer_group */
    const char *owner;        /* borrowed: kafka_offsets.owner, e.g. "host:pid" */
    const char *topics[2];    /* borrowed: callbacks and commands topics */
    size_t topic_count;
    size_t events_max;        /* 1..PS_PROC_BATCH_EVENTS_MAX */
    int wait_ms;              /* batch fill time after its first message */
    int backoff_min_ms, backoff_max_ms; /* bounded exponential retry delay */
    bool kafka_mirror;        /* mirror committed offsets to Kafka for lag tools */
} proc_loop_conf_t;

typedef struct proc_loop proc_loop_t;

/*
 * Creates the loop and its consumer (subscribed; nothing assigned until the
 * first poll). conf is copied (its strings stay borrowed and must outlive the
 * loop); metrics borrowed, must outlive it. The database is connected lazily,
 * so a PostgreSQL that is down at start is waited for, not fatal.
 * *out owned (proc_loop_destroy). Errors: those of proc_consumer_new.
 */
ps_err_t proc_loop_new(const proc_loop_conf_t *conf, proc_metrics_t *metrics, proc_loop_t **out,
                       char *errstr, size_t errstr_size);

/*
 * Runs until *stop becomes non-zero (SIGTERM), then returns PS_OK with the
 * batch in flight either committed or rolled back. Database failures are
 * retried forever with backoff (counted in metrics). Returns an error only
 * for a fatal Kafka error or a claim that could not be made: the supervisor
 * restarts the process, which is safe by design.
 * @locality the thread that created the loop
 */
ps_err_t proc_loop_run(proc_loop_t *lp, volatile sig_atomic_t *stop, char *errstr,
                       size_t errstr_size);

/* Leaves the group (consumer close), disconnects and frees. Accepts NULL. */
void proc_loop_destroy(proc_loop_t *lp);

#endif
