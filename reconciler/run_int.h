/*
 * Private to the run (run.c, run_record.c): what the run writes to and reads
 * from recon_runs / recon_diffs.
 */
#ifndef RECON_RUN_INT_H
#define RECON_RUN_INT_H

#include "commands.h"
#include "recon_run.h"

#include <libpq-fe.h>

/* The newest SUCCEEDED run of this statement without pending rows, if any:
 * re-importing it is a no-op. prev_id gets its id ("" when none). */
ps_err_t recon_record_find_done(PGconn *conn, ps_channel_t channel, const char *sha256_hex,
                                char *prev_id, size_t prev_id_size, char *errstr,
                                size_t errstr_size);

/* Ids of this channel's EMITTING runs (at most PS_RECON_RECOVER_RUNS_MAX),
 * oldest first, into ids[][PS_RECON_RUN_ID_BYTES]. */
ps_err_t recon_record_emitting(PGconn *conn, ps_channel_t channel,
                               char (*ids)[PS_RECON_RUN_ID_BYTES], size_t *n_out, char *errstr,
                               size_t errstr_size);

/* The kafka_start_offsets of run_id into out ("" when none were recorded). */
ps_err_t recon_record_offsets(PGconn *conn, const char *run_id, char *out, size_t out_size,
                              char *errstr, size_t errstr_size);

/*
 * In one transaction: the run row (status EMITTING when cmds is not empty,
 * else HALTED or SUCCEEDED), its diff rows, and cmds[0..n) as PLANNED
 * commands. is_new[i] tells which commands no earlier run had planned; only
 * those are emitted. kafka_offsets (may be NULL) is stored with the run.
 */
ps_err_t recon_record_run(PGconn *conn, const recon_result_t *r, const char *kafka_offsets,
                          const ps_ledger_command_t *cmds, size_t n, bool *is_new, char *errstr,
                          size_t errstr_size);

#endif
