/*
 * LedgerCommands of a run: deterministic ids, the PostgreSQL side of the
 * emit protocol (recon_commands rows, schemas/postgres/004_reconciler.sql)
 * and the transactional Kafka producer.
 *
 * The protocol (docs/RECONCILIATION.md "Crash safety"): a run first commits
 * its diff rows and its planned commands with status EMITTING, then produces
 * them in one Kafka transaction, then marks them EMITTED and the run
 * SUCCEEDED. A crash anywhere leaves either nothing (before the first commit)
 * or an EMITTING run which the next run of the channel completes before
 * doing anything else: it reads the topic back from the offsets recorded
 * with the plan and produces, with the same ids, only the planned commands
 * that are not there. Nothing is lost or doubled.
 *
 * Test hook: PAYSTREAM_RECON_CRASH_AT=<point> makes the process exit
 * immediately (status RECON_CRASH_EXIT) at that point: after_plan,
 * before_kafka_commit, after_kafka_commit. Always compiled in; used by
 * tests/integration/test_recon_crash.c.
 */
#ifndef RECON_COMMANDS_H
#define RECON_COMMANDS_H

#include "classify.h"

#include <paystream/avro.h>
#include <paystream/config.h>
#include <paystream/err.h>
#include <paystream/event.h>
#include <paystream/kafka.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#define RECON_CRASH_EXIT 86

/* Exits the process with RECON_CRASH_EXIT when PAYSTREAM_RECON_CRASH_AT names point. */
void recon_crash_point(const char *point);

/*
 * The command id of p's decision (class, kind, amount) for channel: lower-case
 * hex SHA-256 over length-prefixed fields, so that no key text can forge
 * another's id. The same facts always give the same id, whichever run or
 * window finds them. out receives 64 digits and a NUL. Any thread.
 */
void recon_command_id(ps_channel_t channel, const recon_pair_t *p, char out[65]);

/*
 * Fills *cmd (zeroed by the caller; owned strings, ps_ledger_command_deinit)
 * with the command for p (action RECON_ACT_COMMAND, command_id set).
 * run_id and suspense_account (the account a compensation credits when the
 * ledger has no payment to name one) are borrowed and copied.
 */
void recon_command_build(ps_channel_t channel, const recon_pair_t *p, const char *run_id,
                         const char *suspense_account, int64_t created_time_us,
                         ps_ledger_command_t *cmd);

/*
 * Inserts cmds[0..n) as PLANNED rows of run_id, skipping ids another run
 * already planned (ON CONFLICT DO NOTHING); is_new[i] tells which were
 * inserted. Runs inside the caller's transaction. conn, cmds borrowed.
 */
ps_err_t recon_commands_plan(PGconn *conn, const char *run_id, const ps_ledger_command_t *cmds,
                             size_t n, bool *is_new, char *errstr, size_t errstr_size);

/*
 * Loads the PLANNED commands of run_id, in planning order, into *out (owned
 * by the caller: deinit each, then ps_free) and *n_out.
 */
ps_err_t recon_commands_load_planned(PGconn *conn, const char *run_id, ps_ledger_command_t **out,
                                     size_t *n_out, char *errstr, size_t errstr_size);

/*
 * Marks every PLANNED command of run_id EMITTED and the run SUCCEEDED, in
 * one transaction.
 */
ps_err_t recon_commands_mark_emitted(PGconn *conn, const char *run_id, char *errstr,
                                     size_t errstr_size);

/* Whether each id in ids[0..n) is already EMITTED (emitted[i]) or applied by
 * the processor (applied[i], ledger_commands). One query. */
ps_err_t recon_commands_lookup(PGconn *conn, const char *const *ids, size_t n, bool *emitted,
                               bool *applied, char *errstr, size_t errstr_size);

typedef struct recon_emitter recon_emitter_t;

/*
 * A transactional producer with transactional.id txn_id for topic (both
 * borrowed, copied), configured from cfg's kafka.* keys (cfg may be NULL;
 * brokers, if not NULL, overrides bootstrap.servers). init_transactions
 * fences any older producer with the same id: its open transaction is
 * aborted, so half-produced commands of a crashed run are never read.
 * *out owned by the caller (recon_emitter_destroy).
 */
ps_err_t recon_emitter_new(const ps_config_t *cfg, const char *brokers, const char *topic,
                           const char *txn_id, recon_emitter_t **out, char *errstr,
                           size_t errstr_size);

/*
 * Produces cmds[0..n) (borrowed), keyed by payment key, in one Kafka
 * transaction and commits it. Any failure aborts the transaction (when
 * librdkafka allows) and returns the error: the caller leaves its run
 * EMITTING for the next run to complete.
 */
ps_err_t recon_emitter_send(recon_emitter_t *em, const ps_ledger_command_t *cmds, size_t n,
                            char *errstr, size_t errstr_size);

void recon_emitter_destroy(recon_emitter_t *em);

/*
 * The end offset of every partition of the emitter's topic, as text
 * "0:12,1:40" into out (at most PS_RECON_OFFSETS_BYTES): recorded with a
 * run's plan, so that recovery knows where the run's transaction can start.
 */
ps_err_t recon_emitter_end_offsets(recon_emitter_t *em, char *out, size_t out_size,
                                   char *errstr, size_t errstr_size);

/*
 * Reads the topic with read_committed from offsets (as written by
 * recon_emitter_end_offsets) to its end and sets present[i] for every
 * cmds[i] whose id a committed message carries: a crashed run whose Kafka
 * transaction did commit is then not produced a second time. Reads at most
 * PS_RECON_RECOVER_SCAN_MAX messages (what it could not read counts as
 * absent: re-producing an id is harmless, losing one is not).
 */
ps_err_t recon_emitter_scan(recon_emitter_t *em, const char *offsets,
                            const ps_ledger_command_t *cmds, size_t n, bool *present,
                            char *errstr, size_t errstr_size);

#endif
