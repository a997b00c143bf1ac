/*
 * The set-based diff: statement rows are streamed into two session-local
 * staging tables with COPY (payments while the statement is parsed, refunds
 * buffered and copied at the end, since one connection runs one COPY at a
 * time), and one FULL OUTER JOIN against the ledger's payments of the window
 * returns only the rows that are not trivially matched. No per-row round trip
 * happens anywhere: the parse streams, the join is one statement, and the
 * rows that come back are the discrepancy candidates (normally ~0.1 %).
 *
 *   recon_stage_begin -> recon_stage_add (per row) -> recon_stage_finish
 *   -> recon_diff_query -> recon_classify per pair
 *
 * A statement that lists the same payment (or the same refund) twice is
 * refused by recon_stage_finish: it would match one ledger row twice.
 * Every function takes a connection owned by the caller and used only by the
 * calling thread.
 */
#ifndef RECON_DIFF_H
#define RECON_DIFF_H

#include "classify.h"
#include "statement.h"

#include <paystream/err.h>
#include <paystream/event.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

typedef struct recon_stage recon_stage_t;

/* Statement-side figures the stage counted while copying. */
typedef struct recon_stage_stats {
    int64_t payment_rows, refund_rows;   /* staged rows */
    int64_t skipped_rows;                /* refunds not final (WeChat 退款状态 other than SUCCESS) */
    int64_t txn_keyed_rows;              /* rows without an order number, keyed by txn id */
    int64_t payment_total_minor;         /* sums, across currencies: checksums */
    int64_t refund_total_minor;
} recon_stage_stats_t;

/*
 * Creates the temporary staging tables on conn (borrowed; dropped with the
 * session) and starts the COPY of payments. channel: only rows of this
 * channel are accepted. *out owned by the caller (recon_stage_destroy).
 * PS_ERR_PG / PS_ERR_RETRIABLE when the database refuses.
 */
ps_err_t recon_stage_begin(PGconn *conn, ps_channel_t channel, recon_stage_t **out,
                           char *errstr, size_t errstr_size);

/*
 * Stages one parsed row (borrowed). PS_ERR_INVALID for a row of another
 * channel, an empty key or an oversized value; PS_ERR_PG when the COPY
 * fails. Shaped to be called from the statement parser's row callback.
 */
ps_err_t recon_stage_add(recon_stage_t *st, const recon_row_t *row, char *errstr,
                         size_t errstr_size);

/*
 * Ends the payment COPY, copies the buffered refunds, resolves rows keyed by
 * transaction id to their ledger order numbers (one UPDATE), and refuses
 * duplicates (PS_ERR_INVALID naming the key). Fills *stats (may be NULL).
 */
ps_err_t recon_stage_finish(recon_stage_t *st, recon_stage_stats_t *stats, char *errstr,
                            size_t errstr_size);

/* Abandons an unfinished COPY (if any) and frees st; accepts NULL. */
void recon_stage_destroy(recon_stage_t *st);

/*
 * Session settings for the stage and the join, before recon_stage_begin:
 * jit off, merge joins off, work_mem and temp_buffers of work_mem_mb (0 keeps
 * the server's). PS_ERR_PG when the server refuses.
 */
ps_err_t recon_diff_session(PGconn *conn, int64_t work_mem_mb, char *errstr, size_t errstr_size);

/* The ledger side of the join. */
typedef struct recon_diff_params {
    ps_channel_t channel;
    int64_t window_start_us, window_end_us; /* [start, end), UTC */
    int64_t edge_tolerance_us;  /* ledger read over [start - tol, end + tol) */
    int64_t tolerance_minor;    /* payments within this are matched in the database */
} recon_diff_params_t;

/*
 * Runs the FULL OUTER JOIN of the staged statement with the ledger and hands
 * back the rows that are not trivially matched, sorted by (payment_key,
 * refund_id), unclassified. *pairs_out is owned by the caller
 * (recon_pairs_free); *n_out its length, at most PS_RECON_DIFF_ROWS_MAX
 * (PS_ERR_TOO_LARGE beyond: a statement that wrong is not diffed row by row).
 */
ps_err_t recon_diff_query(PGconn *conn, const recon_diff_params_t *dp, recon_pair_t **pairs_out,
                          size_t *n_out, char *errstr, size_t errstr_size);

/* Frees pairs[0..n) and the array; accepts NULL. */
void recon_pairs_free(recon_pair_t *pairs, size_t n);

#endif
