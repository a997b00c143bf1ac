/*
 * One reconciliation run (`paystream-reconciler run`): lock the channel,
 * complete any run a crash left EMITTING, parse and stage the statement,
 * diff it against the ledger, classify, apply grace and the circuit breaker,
 * record the run, emit the commands, and hand back everything the reports
 * need. docs/RECONCILIATION.md describes the run for operators; the emit
 * protocol is in commands.h.
 */
#ifndef RECON_RECON_RUN_H
#define RECON_RECON_RUN_H

#include "classify.h"
#include "diff.h"
#include "statement.h"

#include <paystream/buf.h>
#include <paystream/config.h>
#include <paystream/err.h>
#include <paystream/event.h>
#include <paystream/limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct recon_run_opts {
    ps_channel_t channel;
    recon_format_t format;
    const char *statement_path;     /* the statement file, or NULL with statement_data */
    const uint8_t *statement_data;  /* bytes as downloaded (--fetch); borrowed */
    size_t statement_len;
    bool has_window;                /* check the statement covers exactly this window */
    int64_t window_start_us, window_end_us;
    const char *merchant_id;        /* expected merchant, NULL: any */
    bool dry_run;                   /* diff and report; write and emit nothing */
    const char *conninfo;
    const ps_config_t *cfg;         /* kafka.* pass-through; may be NULL */
    const char *brokers;            /* overrides kafka.bootstrap.servers; may be NULL */
    const char *topic;              /* topic.commands */
    const char *txn_id;             /* transactional.id, stable per channel */
    const char *suspense_account;   /* account credited by compensations */
    int64_t edge_tolerance_s;       /* recon.edge_tolerance_s */
    int64_t grace_s;                /* recon.grace_s */
    int64_t tolerance_minor;        /* recon.amount_tolerance_minor.<channel> */
    int64_t breaker_share_bp;       /* recon.breaker.max_share_bp (basis points) */
    int64_t breaker_min_rows;       /* recon.breaker.min_discrepancies */
    int64_t breaker_max_amount_minor; /* recon.breaker.max_amount_minor; 0: no amount rule */
    int64_t work_mem_mb;            /* recon.pg.work_mem_mb */
    int64_t now_us;                 /* the run's clock; 0: the real clock */
    bool progress;                  /* rows, rows/s and ETA on stderr */
} recon_run_opts_t;

typedef enum recon_outcome {
    RECON_OUT_CLEAN = 0,         /* nothing to act on (pending ones may exist) */
    RECON_OUT_DISCREPANCIES = 1, /* discrepancies found (acted on unless dry run) */
    RECON_OUT_HALTED = 2,        /* circuit breaker: nothing emitted */
    RECON_OUT_LOCKED = 3,        /* another run of the channel holds the lock */
    RECON_OUT_ALREADY_DONE = 4   /* this statement was reconciled before: no-op */
} recon_outcome_t;

/* Per class, and one more slot (RECON_TALLY_PENDING) for pending rows. */
#define RECON_TALLY_PENDING RECON_CLASS_COUNT
typedef struct recon_tally {
    int64_t rows;
    int64_t stmt_minor;    /* statement amounts of the rows (a checksum across currencies) */
    int64_t ledger_minor;
    int64_t command_minor; /* signed sum of the commands decided */
} recon_tally_t;

typedef struct recon_result {
    recon_outcome_t outcome;
    char run_id[PS_RECON_RUN_ID_BYTES];
    char previous_run_id[PS_RECON_RUN_ID_BYTES]; /* RECON_OUT_ALREADY_DONE */
    bool dry_run;
    ps_channel_t channel;
    recon_stmt_meta_t meta;
    recon_stage_stats_t stage;
    int64_t window_start_us, window_end_us;
    recon_pair_t *pairs;          /* owned: every discrepancy (pending included) */
    size_t pair_count;
    recon_tally_t tally[RECON_CLASS_COUNT + 1];
    int64_t discrepancies;        /* open, not pending, not resolved */
    int64_t commands_new;         /* emitted by this run */
    int64_t commands_known;       /* already emitted by an earlier run */
    int64_t commands_resolved;    /* already applied by the processor */
    int64_t recovered_runs, recovered_commands;
    char halt_reason[256];
    int64_t elapsed_ms;
    /* Where the time went: parse + COPY, the join, record + emit. */
    int64_t stage_ms, diff_ms, emit_ms;
} recon_result_t;

/*
 * Runs one reconciliation. o borrowed; *r (zeroed by the caller) is filled
 * also on most failures as far as the run got (release with
 * recon_result_deinit). Returns PS_OK when the run reached an outcome
 * (clean, discrepancies, halted, locked, already done); otherwise the error:
 * PS_ERR_INVALID / PS_ERR_TOO_LARGE for a rejected statement (nothing was
 * recorded), PS_ERR_PG / PS_ERR_RETRIABLE, PS_ERR_KAFKA / PS_ERR_FENCED
 * (the run stays EMITTING and the next run completes it).
 * @locality main thread (one run per process)
 */
ps_err_t recon_run(const recon_run_opts_t *o, recon_result_t *r, char *errstr,
                   size_t errstr_size);

void recon_result_deinit(recon_result_t *r);

/*
 * `run --fetch`: downloads the bill of channel (WeChat or Alipay) for the
 * Shanghai day bill_date ("YYYY-MM-DD", borrowed) with the recon.wechat.* /
 * recon.alipay.* keys of cfg (borrowed) and appends the bytes as downloaded
 * to out. PS_ERR_CONFIG when a needed key is unset or a key file is bad;
 * otherwise the fetcher's errors (fetch.h). curl_global_init must have run.
 * @locality main thread
 */
ps_err_t recon_fetch_for_run(const ps_config_t *cfg, ps_channel_t channel, const char *bill_date,
                             ps_buf_t *out, char *errstr, size_t errstr_size);

#endif
