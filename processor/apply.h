/*
 * The contract between the processor's consumer loop (consume.c, offsets.c)
 * and the ledger apply logic (apply.c and friends).
 *
 * The loop polls a batch of Kafka messages, decodes each into a proc_item_t
 * (an event, a command, or poison with the reason it could not be decoded),
 * opens ONE PostgreSQL transaction, calls proc_apply_batch, then performs the
 * compare-and-set offset update of every partition in the batch, and commits.
 * proc_apply_batch never begins, commits or rolls back: on any error it
 * returns with the error class and the loop rolls the whole transaction back,
 * seeks back and retries. Applying the same items again after a rollback, or
 * items that were already applied (replays, duplicates), must be harmless:
 * every write is idempotent.
 */
#ifndef PROC_APPLY_H
#define PROC_APPLY_H

#include <libpq-fe.h>
#include <paystream/err.h>
#include <paystream/event.h>
#include <paystream/limits.h>
#include <stddef.h>
#include <stdint.h>

typedef enum proc_item_kind {
    PROC_ITEM_EVENT = 0,   /* ev is valid */
    PROC_ITEM_COMMAND = 1, /* cmd is valid */
    PROC_ITEM_POISON = 2   /* undecodable or invalid: dead-lettered with reason */
} proc_item_kind_t;

typedef struct proc_item {
    proc_item_kind_t kind;
    const char *topic;   /* borrowed from the loop for the call */
    int32_t partition;
    int64_t offset;
    const uint8_t *raw;  /* borrowed: the message value as consumed */
    size_t raw_len;
    const uint8_t *key;  /* borrowed: the message key, may be NULL */
    size_t key_len;
    ps_callback_event_t ev;   /* PROC_ITEM_EVENT: owned by the item */
    ps_ledger_command_t cmd;  /* PROC_ITEM_COMMAND: owned by the item */
    char reason[PS_ERRSTR_SIZE]; /* PROC_ITEM_POISON: why */
} proc_item_t;

/* Releases what the item owns and zeroes it. Accepts NULL. */
void proc_item_deinit(proc_item_t *item);

/* What one batch did; added to the processor's metrics after COMMIT only. */
typedef struct proc_apply_stats {
    int64_t events_applied;      /* new payment_events rows */
    int64_t events_duplicate;    /* already present: absorbed */
    int64_t commands_applied;
    int64_t commands_duplicate;
    int64_t dead_lettered;       /* poison items and events invalid against the ledger */
    int64_t journals_posted;
} proc_apply_stats_t;

typedef struct proc_apply proc_apply_t;

/* Per-connection apply state (prepared statements, scratch buffers).
 * Owned by the caller; one per PGconn and thread. */
ps_err_t proc_apply_new(PGconn *conn, proc_apply_t **out, char *errstr, size_t errstr_size);
void proc_apply_destroy(proc_apply_t *ap);

/*
 * Applies items (in Kafka order within each partition) inside the caller's
 * open transaction on conn. Fills *stats (zeroed first). On failure returns
 * non-PS_OK, sets *class_out (retriable / abortable / fatal, from the SQLSTATE
 * via ps_pg_classify) and leaves the transaction for the caller to roll back.
 * @locality the thread that owns conn
 */
ps_err_t proc_apply_batch(proc_apply_t *ap, proc_item_t *items, size_t n, proc_apply_stats_t *stats,
                          ps_err_class_t *class_out, char *errstr, size_t errstr_size);

#endif
