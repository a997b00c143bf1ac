/*
 * One reconciliation per channel at a time: a PostgreSQL session advisory
 * lock on (RECON_LOCK_CLASS, channel). Per channel rather than per window
 * because overlapping windows of one channel find the same discrepancies and
 * must not plan the same commands concurrently. The lock dies with the
 * session, so a crashed run never leaves it behind.
 */
#ifndef RECON_LOCK_H
#define RECON_LOCK_H

#include <paystream/err.h>
#include <paystream/event.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* "reco" in ASCII: the first key of the two-key advisory lock space. */
#define RECON_LOCK_CLASS 0x7265636f

/*
 * Tries the lock without waiting; *got tells whether this session holds it
 * now. conn borrowed. PS_ERR_PG / PS_ERR_RETRIABLE when the query fails.
 */
ps_err_t recon_lock_try(PGconn *conn, ps_channel_t channel, bool *got, char *errstr,
                        size_t errstr_size);

/* Releases the lock (ending the session releases it too). */
ps_err_t recon_lock_release(PGconn *conn, ps_channel_t channel, char *errstr,
                            size_t errstr_size);

#endif
