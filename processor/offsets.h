/*
 * Consumer offsets kept in PostgreSQL (table kafka_offsets), with a fencing
 * token per partition so that an instance that lost a partition (a zombie:
 * stopped past its session timeout, partitioned away) can never commit an
 * apply for it.
 *
 *   claim  on every assignment, in one transaction of its own: insert the
 *          row if missing (next_offset -2: from the beginning) or bump
 *          owner_token, and read next_offset. The bump invalidates the
 *          previous owner before the new one reads anything.
 *   cas    inside every apply transaction, after the apply: move next_offset
 *          from the value this instance last stored to last+1, only if the
 *          token is still this instance's. Any row that does not match
 *          (newer owner, or a stored offset that moved) fences the whole batch.
 *   read   the current row, to decide after a fence whether the partition is
 *          lost (token changed) or only needs a re-seek.
 *
 * Every function is one SQL statement; a PGconn is used by one thread.
 */
#ifndef PROC_OFFSETS_H
#define PROC_OFFSETS_H

#include <libpq-fe.h>
#include <paystream/err.h>
#include <stddef.h>
#include <stdint.h>

/* librdkafka's RD_KAFKA_OFFSET_BEGINNING, as stored in kafka_offsets. */
#define PROC_OFFSET_BEGINNING INT64_C(-2)

typedef struct proc_offset {
    const char *topic;    /* borrowed from the caller */
    int32_t partition;
    int64_t next_offset;  /* claim/read: out; cas: expected stored value (may be -2) */
    int64_t new_next;     /* cas: in, the offset after the last applied message (>= 0) */
    int64_t token;        /* claim/read: out; cas: in, this instance's token */
} proc_offset_t;

/*
 * Claims offs[0..n) for owner (borrowed, free text such as "host:pid") in
 * group: one INSERT ... ON CONFLICT DO UPDATE statement, hence one
 * transaction, taking the rows in (topic, partition) order so two claimers
 * cannot deadlock. Fills next_offset and token of each element. Must not be
 * called inside an open transaction. n is 1..PS_PROC_PARTITIONS_MAX.
 * Errors: as ps_pg_exec (PS_ERR_RETRIABLE for a lost connection, deadlock,
 * serialization failure; PS_ERR_PG otherwise), prefixed with what failed.
 * @locality the thread that owns conn
 */
ps_err_t proc_offsets_claim(PGconn *conn, const char *group, const char *owner,
                            proc_offset_t *offs, size_t n, char *errstr, size_t errstr_size);

/*
 * The compare-and-set of offs[0..n) inside the caller's open transaction: for
 * each element, next_offset := new_next WHERE token and next_offset match.
 * PS_OK only when every row matched. PS_ERR_FENCED when some did not: the
 * message names the first such partition, *fenced_index_out (may be NULL)
 * gets its index, and the caller must roll back. Other errors as
 * proc_offsets_claim; the transaction is then failed and must be rolled back.
 * @locality the thread that owns conn
 */
ps_err_t proc_offsets_cas(PGconn *conn, const char *group, const proc_offset_t *offs, size_t n,
                          size_t *fenced_index_out, char *errstr, size_t errstr_size);

/*
 * Reads next_offset and token of offs[0..n); a missing row is PS_ERR_NOT_FOUND
 * naming the partition. Errors otherwise as proc_offsets_claim.
 * @locality the thread that owns conn
 */
ps_err_t proc_offsets_read(PGconn *conn, const char *group, proc_offset_t *offs, size_t n,
                           char *errstr, size_t errstr_size);

#endif
