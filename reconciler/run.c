/*
 * The run (run.h), in order:
 *   1. connect, take the channel's advisory lock (or report LOCKED)
 *   2. complete every EMITTING run of the channel (crash recovery)
 *   3. parse the statement straight into the staging COPY; a statement the
 *      parser rejects stops the run here, before anything is recorded
 *   4. a statement reconciled before (same SHA-256, SUCCEEDED, nothing
 *      pending) is a no-op
 *   5. the one FULL OUTER JOIN, classification, grace, command ids, and what
 *      earlier runs already emitted or the processor already applied
 *   6. the circuit breaker
 *   7. record run + diffs + planned commands (one transaction), produce the
 *      commands (one Kafka transaction), mark them emitted
 * Dry runs stop after 6 and write nothing.
 */
#include "apple.h" /* ingest/: the Apple verifier, shared with the ingest */
#include "recon_run.h"

#include "commands.h"
#include "lock.h"
#include "run_int.h"

#include <paystream/limits.h>
#include <paystream/log.h>
#include <paystream/mem.h>
#include <paystream/money.h>
#include <paystream/pg.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Rows between two progress lines' clock checks. */
#define PROGRESS_EVERY_ROWS 65536

static int64_t clock_us(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

typedef struct parse_ctx {
    recon_stage_t *stage;
    bool progress;
    int64_t started_us, last_us;
    int64_t rows, expected_rows; /* expected: line count of a plain file, 0 unknown */
} parse_ctx_t;

static void progress_line(parse_ctx_t *pc, bool final)
{
    int64_t now = clock_us(CLOCK_MONOTONIC), el = now - pc->started_us;
    long long rate = el > 0 ? (long long)(pc->rows * 1000000 / el) : 0;

    if (pc->expected_rows > pc->rows && rate > 0)
        fprintf(stderr, "\rstaged %lld rows, %lld rows/s, ETA %lld s   ", (long long)pc->rows,
                rate, (long long)((pc->expected_rows - pc->rows) / rate));
    else
        fprintf(stderr, "\rstaged %lld rows, %lld rows/s   ", (long long)pc->rows, rate);
    if (final)
        fputc('\n', stderr);
    pc->last_us = now;
}

static ps_err_t on_row(const recon_row_t *row, void *opaque, char *errstr, size_t errstr_size)
{
    parse_ctx_t *pc = opaque;

    pc->rows++;
    if (pc->progress && pc->rows % PROGRESS_EVERY_ROWS == 0 &&
        clock_us(CLOCK_MONOTONIC) - pc->last_us >= 1000000)
        progress_line(pc, false);
    return recon_stage_add(pc->stage, row, errstr, errstr_size);
}

/* Lines of a plain statement file, for the ETA; 0 when unknown (gzip, zip). */
static int64_t count_lines(const char *path)
{
    unsigned char block[65536];
    int64_t lines = 0;
    size_t n;
    FILE *f = path != NULL ? fopen(path, "rb") : NULL;

    if (f == NULL)
        return 0;
    n = fread(block, 1, sizeof(block), f);
    if (n >= 2 && (block[0] == 0x1f || (block[0] == 'P' && block[1] == 'K'))) {
        fclose(f);
        return 0;
    }
    for (; n > 0; n = fread(block, 1, sizeof(block), f))
        for (size_t i = 0; i < n; i++)
            lines += block[i] == '\n';
    fclose(f);
    return lines;
}

/* Apple statements are signed transactions: verified by the ingest's own
 * Apple verifier (the same chain, OID, validity and app checks as callbacks),
 * each at its own signedDate. */
static ps_err_t apple_verify(void *verifier, const char *jws, size_t len, json_t **payload_out,
                             char *errstr, size_t errstr_size)
{
    const char *label = NULL;

    return ingest_apple_decode_signed(verifier, INGEST_APPLE_TRANSACTION, jws, len,
                                      (int64_t)time(NULL), payload_out, NULL, &label, errstr,
                                      errstr_size);
}

static ps_err_t apple_verifier_new(const recon_run_opts_t *o, ingest_apple_t **out, char *errstr,
                                   size_t errstr_size)
{
    ps_err_t err = ingest_apple_new(o->cfg, out, errstr, errstr_size);

    if (err == PS_OK && !ingest_apple_ready(*out)) {
        ingest_apple_destroy(*out);
        *out = NULL;
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                             "apple statements need apple.root_cert_file and apple.bundle_id");
    }
    return err;
}

static ps_err_t stage_statement(PGconn *conn, const recon_run_opts_t *o, recon_result_t *r,
                                char *errstr, size_t errstr_size)
{
    ingest_apple_t *apple = NULL;
    recon_expect_t expect = {.merchant_id = o->merchant_id,
                             .has_window = o->has_window,
                             .window_start_us = o->window_start_us,
                             .window_end_us = o->window_end_us};
    parse_ctx_t pc = {.progress = o->progress};
    ps_err_t err = PS_OK;

    if (o->format == RECON_FMT_APPLE) {
        err = apple_verifier_new(o, &apple, errstr, errstr_size);
        expect.apple_verify = apple_verify;
        expect.apple_verifier = apple;
    }
    if (err == PS_OK)
        err = recon_diff_session(conn, o->work_mem_mb, errstr, errstr_size);
    if (err == PS_OK)
        err = recon_stage_begin(conn, o->channel, &pc.stage, errstr, errstr_size);
    if (err != PS_OK) {
        ingest_apple_destroy(apple);
        return err;
    }
    pc.started_us = pc.last_us = clock_us(CLOCK_MONOTONIC);
    if (o->progress)
        pc.expected_rows = count_lines(o->statement_path);
    if (o->statement_path != NULL)
        err = recon_statement_parse_file(o->format, o->statement_path, &expect, on_row, &pc,
                                         &r->meta, errstr, errstr_size);
    else
        err = recon_statement_parse(o->format, o->statement_data, o->statement_len, &expect,
                                    on_row, &pc, &r->meta, errstr, errstr_size);
    if (err == PS_OK)
        err = recon_stage_finish(pc.stage, &r->stage, errstr, errstr_size);
    if (o->progress)
        progress_line(&pc, true);
    /* The statement's own faults, as opposed to the database's. */
    if (err == PS_ERR_INVALID || err == PS_ERR_TOO_LARGE || err == PS_ERR_IO ||
        err == PS_ERR_UNSUPPORTED)
        ps_errstr_prefix(errstr, errstr_size, err, "statement rejected, nothing was diffed");
    recon_stage_destroy(pc.stage);
    ingest_apple_destroy(apple);
    r->window_start_us = r->meta.window_start_us;
    r->window_end_us = r->meta.window_end_us;
    return err;
}

/*
 * The transactional producer is created on a helper thread while the main
 * thread parses and stages the statement: init_transactions waits on the
 * transaction coordinator for most of a second, which would otherwise add
 * to every run. The thread touches nothing but its own struct and the
 * (read-only) options; the main thread joins it before using the producer.
 */
typedef struct emitter_init {
    const recon_run_opts_t *o;
    pthread_t thread;
    bool started, joined;
    recon_emitter_t *em; /* owned once joined */
    ps_err_t err;
    char errstr[PS_ERRSTR_SIZE];
} emitter_init_t;

static void *emitter_thread(void *opaque)
{
    emitter_init_t *ei = opaque;

    ei->err = recon_emitter_new(ei->o->cfg, ei->o->brokers, ei->o->topic, ei->o->txn_id, &ei->em,
                                ei->errstr, sizeof(ei->errstr));
    return NULL;
}

static void emitter_start(emitter_init_t *ei, const recon_run_opts_t *o)
{
    ei->o = o;
    ei->started = pthread_create(&ei->thread, NULL, emitter_thread, ei) == 0;
}

static void emitter_join(emitter_init_t *ei)
{
    if (ei->started && !ei->joined) {
        pthread_join(ei->thread, NULL);
        ei->joined = true;
    }
}

/* The producer (borrowed from ei); created here if the helper thread could not start. */
static ps_err_t emitter_get(emitter_init_t *ei, recon_emitter_t **em, char *errstr,
                            size_t errstr_size)
{
    emitter_join(ei);
    if (!ei->started && ei->em == NULL && ei->err == PS_OK)
        ei->err = recon_emitter_new(ei->o->cfg, ei->o->brokers, ei->o->topic, ei->o->txn_id,
                                    &ei->em, ei->errstr, sizeof(ei->errstr));
    if (ei->err != PS_OK)
        return ps_errstr_set(errstr, errstr_size, ei->err, "%s", ei->errstr);
    *em = ei->em;
    return PS_OK;
}

static void emitter_end(emitter_init_t *ei)
{
    emitter_join(ei);
    recon_emitter_destroy(ei->em);
    ei->em = NULL;
}

/* Keeps cmds[i] where keep[i] == want (in order), releases the others; the new count. */
static size_t keep_commands(ps_ledger_command_t *cmds, size_t n, const bool *keep, bool want)
{
    size_t kept = 0;

    for (size_t i = 0; i < n; i++) {
        if (keep[i] != want) {
            ps_ledger_command_deinit(&cmds[i]);
            continue;
        }
        if (kept != i) {
            cmds[kept] = cmds[i];
            memset(&cmds[i], 0, sizeof(cmds[i]));
        }
        kept++;
    }
    return kept;
}

/*
 * Completes one EMITTING run: the planned commands its Kafka transaction did
 * not commit (read back from the offsets recorded with the plan) are
 * produced now, with the same ids; then the run is marked emitted.
 */
static ps_err_t recover_run(PGconn *conn, recon_emitter_t *em, const char *run_id,
                            recon_result_t *r, char *errstr, size_t errstr_size)
{
    ps_ledger_command_t *cmds = NULL;
    size_t n = 0, missing = 0;
    char *offsets = ps_malloc(PS_RECON_OFFSETS_BYTES);
    bool *present = NULL;
    ps_err_t err = recon_commands_load_planned(conn, run_id, &cmds, &n, errstr, errstr_size);

    if (err == PS_OK)
        err = recon_record_offsets(conn, run_id, offsets, PS_RECON_OFFSETS_BYTES, errstr,
                                   errstr_size);
    present = ps_calloc(n + 1, sizeof(*present));
    if (err == PS_OK && n > 0 && offsets[0] != '\0')
        err = recon_emitter_scan(em, offsets, cmds, n, present, errstr, errstr_size);
    if (err == PS_OK)
        missing = keep_commands(cmds, n, present, false);
    if (err == PS_OK && missing > 0)
        err = recon_emitter_send(em, cmds, missing, errstr, errstr_size);
    if (err == PS_OK)
        err = recon_commands_mark_emitted(conn, run_id, errstr, errstr_size);
    if (err == PS_OK) {
        ps_log(PS_LOG_WARN, "completed run \"%s\" left unfinished by a crash: %zu of %zu "
                            "planned commands were not in kafka and were produced now",
               run_id, missing, n);
        r->recovered_runs++;
        r->recovered_commands += (int64_t)missing;
    }
    for (size_t i = 0; i < n; i++)
        ps_ledger_command_deinit(&cmds[i]);
    ps_free(cmds);
    ps_free(present);
    ps_free(offsets);
    return err;
}

static ps_err_t recover(PGconn *conn, const recon_run_opts_t *o, emitter_init_t *ei,
                        recon_result_t *r, char *errstr, size_t errstr_size)
{
    char ids[PS_RECON_RECOVER_RUNS_MAX][PS_RECON_RUN_ID_BYTES];
    size_t n = 0;
    recon_emitter_t *em = NULL;
    ps_err_t err = recon_record_emitting(conn, o->channel, ids, &n, errstr, errstr_size);

    if (err == PS_OK && n > 0)
        err = emitter_get(ei, &em, errstr, errstr_size);
    for (size_t i = 0; err == PS_OK && i < n; i++)
        err = recover_run(conn, em, ids[i], r, errstr, errstr_size);
    if (err != PS_OK)
        ps_errstr_prefix(errstr, errstr_size, err, "could not complete an unfinished run");
    return err;
}

/* Saturating add for the tallies: they are report figures, not money moved. */
static void tally_add(int64_t *sum, int64_t v)
{
    if (ps_money_add(*sum, v, sum) != PS_OK)
        *sum = v < 0 ? INT64_MIN : INT64_MAX;
}

static void tally_pair(recon_result_t *r, const recon_pair_t *p)
{
    recon_tally_t *t = &r->tally[p->action == RECON_ACT_PENDING ? RECON_TALLY_PENDING : p->cls];
    bool refund = p->refund_id[0] != '\0';

    t->rows++;
    tally_add(&t->stmt_minor, p->has_stmt ? p->stmt_amount_minor : 0);
    tally_add(&t->ledger_minor, !p->has_ledger ? 0
                                : refund       ? p->ledger_refund_minor
                                               : p->ledger_amount_minor);
    tally_add(&t->command_minor, p->command_id[0] != '\0' ? p->cmd_amount_minor : 0);
    if (p->cls != RECON_MATCHED && p->action != RECON_ACT_PENDING &&
        p->action != RECON_ACT_RESOLVED)
        r->discrepancies++;
}

/* Matched figures: every staged row not among the returned discrepancies. */
static void tally_matched(recon_result_t *r)
{
    recon_tally_t *m = &r->tally[RECON_MATCHED];
    int64_t stmt_rows = r->stage.payment_rows + r->stage.refund_rows, off_rows = 0;
    int64_t off_minor = 0;

    for (size_t i = 0; i < r->pair_count; i++) {
        const recon_pair_t *p = &r->pairs[i];
        if (p->has_stmt) {
            off_rows++;
            if (p->refund_id[0] == '\0')
                tally_add(&off_minor, p->stmt_amount_minor);
        }
    }
    m->rows = stmt_rows - off_rows;
    m->stmt_minor = r->stage.payment_total_minor - off_minor;
    m->ledger_minor = m->stmt_minor;
}

/* Classifies every returned row and keeps only the discrepancies in r->pairs. */
static void classify_all(const recon_run_opts_t *o, recon_result_t *r)
{
    recon_classify_opts_t co = {.tolerance_minor = o->tolerance_minor,
                                .grace_s = o->grace_s,
                                .now_us = o->now_us};
    size_t kept = 0;

    for (size_t i = 0; i < r->pair_count; i++)
        recon_classify(&r->pairs[i], &co);
    recon_classify_link(r->pairs, r->pair_count);
    for (size_t i = 0; i < r->pair_count; i++) {
        if (r->pairs[i].cls == RECON_MATCHED) {
            recon_pair_deinit(&r->pairs[i]);
            continue;
        }
        if (kept != i) {
            r->pairs[kept] = r->pairs[i];
            memset(&r->pairs[i], 0, sizeof(r->pairs[i]));
        }
        kept++;
    }
    r->pair_count = kept;
}

/* Command ids, and which of them earlier runs emitted or the processor applied. */
static ps_err_t identify_commands(PGconn *conn, recon_result_t *r, char *errstr,
                                  size_t errstr_size)
{
    size_t n = 0;
    const char **ids = ps_calloc(r->pair_count + 1, sizeof(*ids));
    bool *emitted = ps_calloc(r->pair_count + 1, sizeof(*emitted));
    bool *applied = ps_calloc(r->pair_count + 1, sizeof(*applied));
    ps_err_t err = PS_OK;

    for (size_t i = 0; i < r->pair_count; i++) {
        recon_pair_t *p = &r->pairs[i];
        if (p->action != RECON_ACT_COMMAND)
            continue;
        recon_command_id(r->channel, p, p->command_id);
        ids[n++] = p->command_id;
    }
    if (n > 0)
        err = recon_commands_lookup(conn, ids, n, emitted, applied, errstr, errstr_size);
    for (size_t i = 0, k = 0; err == PS_OK && i < r->pair_count; i++) {
        recon_pair_t *p = &r->pairs[i];
        if (p->action != RECON_ACT_COMMAND)
            continue;
        p->already_emitted = emitted[k];
        if (applied[k])
            p->action = RECON_ACT_RESOLVED;
        k++;
    }
    ps_free(ids);
    ps_free(emitted);
    ps_free(applied);
    return err;
}

/* The circuit breaker: too many discrepancies, or too much money, halts. */
static void breaker(const recon_run_opts_t *o, recon_result_t *r)
{
    int64_t rows = r->stage.payment_rows + r->stage.refund_rows +
                   r->tally[RECON_MISSING_IN_STATEMENT].rows, moved = 0;

    for (size_t i = 0; i < r->pair_count; i++) {
        const recon_pair_t *p = &r->pairs[i];
        if (p->action == RECON_ACT_COMMAND && !p->already_emitted)
            tally_add(&moved, p->cmd_amount_minor < 0 ? -p->cmd_amount_minor
                                                       : p->cmd_amount_minor);
    }
    /* Integer basis points: discrepancies / rows > share_bp / 10000. */
    if (r->discrepancies >= o->breaker_min_rows &&
        r->discrepancies * 10000 > o->breaker_share_bp * (rows > 0 ? rows : 1))
        snprintf(r->halt_reason, sizeof(r->halt_reason),
                 "%lld discrepancies in %lld rows exceed recon.breaker.max_share_bp %lld",
                 (long long)r->discrepancies, (long long)rows, (long long)o->breaker_share_bp);
    else if (o->breaker_max_amount_minor > 0 && moved > o->breaker_max_amount_minor)
        snprintf(r->halt_reason, sizeof(r->halt_reason),
                 "commands would move %lld minor units, more than "
                 "recon.breaker.max_amount_minor %lld",
                 (long long)moved, (long long)o->breaker_max_amount_minor);
    if (r->halt_reason[0] != '\0')
        r->outcome = RECON_OUT_HALTED;
}

/* Builds the commands this run emits: decided, not emitted by an earlier run. */
static ps_ledger_command_t *build_commands(const recon_run_opts_t *o, const recon_result_t *r,
                                           size_t *n_out)
{
    ps_ledger_command_t *cmds = ps_calloc(r->pair_count + 1, sizeof(*cmds));
    size_t n = 0;

    for (size_t i = 0; i < r->pair_count; i++) {
        const recon_pair_t *p = &r->pairs[i];
        if (p->action == RECON_ACT_COMMAND && !p->already_emitted)
            recon_command_build(r->channel, p, r->run_id, o->suspense_account, o->now_us,
                                &cmds[n++]);
    }
    *n_out = n;
    return cmds;
}

/* Steps 7: record, produce, mark. The crash hooks sit between the steps. */
static ps_err_t record_and_emit(PGconn *conn, const recon_run_opts_t *o, emitter_init_t *ei,
                                recon_result_t *r, char *errstr, size_t errstr_size)
{
    recon_emitter_t *em = NULL;
    size_t n = 0, emit_n = 0;
    ps_ledger_command_t *cmds = r->outcome == RECON_OUT_HALTED ? ps_calloc(1, sizeof(*cmds))
                                                               : build_commands(o, r, &n);
    bool *is_new = ps_calloc(n + 1, sizeof(*is_new));
    char *offsets = ps_malloc(PS_RECON_OFFSETS_BYTES);
    ps_err_t err = PS_OK;

    offsets[0] = '\0';
    /* Where this run's transaction can start, for a successor after a crash. */
    if (n > 0)
        err = emitter_get(ei, &em, errstr, errstr_size);
    if (err == PS_OK && n > 0)
        err = recon_emitter_end_offsets(em, offsets, PS_RECON_OFFSETS_BYTES, errstr,
                                        errstr_size);
    if (err == PS_OK)
        err = recon_record_run(conn, r, n > 0 ? offsets : NULL, cmds, n, is_new, errstr,
                               errstr_size);
    /* Commands another run planned first stay that run's (never doubled). */
    if (err == PS_OK)
        emit_n = keep_commands(cmds, n, is_new, true);
    if (err == PS_OK && n > 0) {
        recon_crash_point("after_plan");
        if (emit_n > 0)
            err = recon_emitter_send(em, cmds, emit_n, errstr, errstr_size);
        if (err == PS_OK)
            recon_crash_point("after_kafka_commit");
        if (err == PS_OK)
            err = recon_commands_mark_emitted(conn, r->run_id, errstr, errstr_size);
        if (err == PS_OK)
            r->commands_new = (int64_t)emit_n;
    }
    for (size_t i = 0; i < n; i++)
        ps_ledger_command_deinit(&cmds[i]);
    ps_free(cmds);
    ps_free(is_new);
    ps_free(offsets);
    return err;
}

static void make_run_id(recon_result_t *r, int64_t now_us)
{
    char ch[16];

    snprintf(ch, sizeof(ch), "%s", ps_channel_name(r->channel));
    for (char *s = ch; *s != '\0'; s++)
        *s = (char)(*s >= 'A' && *s <= 'Z' ? *s - 'A' + 'a' : *s);
    snprintf(r->run_id, sizeof(r->run_id), "%s-%lld-%ld", ch, (long long)now_us, (long)getpid());
}

/* Steps 4-6 and 7: the diff proper, once the statement is staged. */
static ps_err_t diff_and_act(PGconn *conn, const recon_run_opts_t *o, emitter_init_t *ei,
                             recon_result_t *r, char *errstr, size_t errstr_size)
{
    recon_diff_params_t dp = {.channel = o->channel,
                              .window_start_us = r->window_start_us,
                              .window_end_us = r->window_end_us,
                              .edge_tolerance_us = o->edge_tolerance_s * 1000000,
                              .tolerance_minor = o->tolerance_minor};
    ps_err_t err = recon_record_find_done(conn, o->channel, r->meta.sha256_hex,
                                          r->previous_run_id, sizeof(r->previous_run_id),
                                          errstr, errstr_size);

    if (err != PS_OK || r->previous_run_id[0] != '\0') {
        r->outcome = RECON_OUT_ALREADY_DONE;
        return err;
    }
    int64_t t0 = clock_us(CLOCK_MONOTONIC);
    err = recon_diff_query(conn, &dp, &r->pairs, &r->pair_count, errstr, errstr_size);
    r->diff_ms = (clock_us(CLOCK_MONOTONIC) - t0) / 1000;
    if (err != PS_OK)
        return err;
    classify_all(o, r);
    err = identify_commands(conn, r, errstr, errstr_size);
    if (err != PS_OK)
        return err;
    for (size_t i = 0; i < r->pair_count; i++) {
        tally_pair(r, &r->pairs[i]);
        r->commands_known += r->pairs[i].action == RECON_ACT_COMMAND &&
                             r->pairs[i].already_emitted;
        r->commands_resolved += r->pairs[i].action == RECON_ACT_RESOLVED;
    }
    tally_matched(r);
    r->outcome = r->discrepancies > 0 ? RECON_OUT_DISCREPANCIES : RECON_OUT_CLEAN;
    breaker(o, r);
    if (r->outcome == RECON_OUT_HALTED)
        for (size_t i = 0; i < r->pair_count; i++)
            if (r->pairs[i].action == RECON_ACT_COMMAND && !r->pairs[i].already_emitted)
                r->pairs[i].command_id[0] = '\0'; /* decided, never emitted */
    if (o->dry_run)
        return PS_OK;
    t0 = clock_us(CLOCK_MONOTONIC);
    err = record_and_emit(conn, o, ei, r, errstr, errstr_size);
    r->emit_ms = (clock_us(CLOCK_MONOTONIC) - t0) / 1000;
    return err;
}

ps_err_t recon_run(const recon_run_opts_t *opts, recon_result_t *r, char *errstr,
                   size_t errstr_size)
{
    recon_run_opts_t o = *opts;
    int64_t started_us = clock_us(CLOCK_MONOTONIC);
    PGconn *conn = NULL;
    emitter_init_t ei = {.o = opts};
    bool locked = false;
    ps_err_t err;

    if (o.now_us == 0)
        o.now_us = clock_us(CLOCK_REALTIME);
    r->channel = o.channel;
    r->dry_run = o.dry_run;
    r->window_start_us = o.window_start_us;
    r->window_end_us = o.window_end_us;
    make_run_id(r, o.now_us);
    err = ps_pg_connect(o.conninfo, &conn, errstr, errstr_size);
    if (err == PS_OK)
        err = recon_lock_try(conn, o.channel, &locked, errstr, errstr_size);
    if (err != PS_OK)
        goto out;
    if (!locked) {
        r->outcome = RECON_OUT_LOCKED;
        goto out;
    }
    if (!o.dry_run) {
        emitter_start(&ei, &o);
        err = recover(conn, &o, &ei, r, errstr, errstr_size);
    }
    int64_t t0 = clock_us(CLOCK_MONOTONIC);
    if (err == PS_OK)
        err = stage_statement(conn, &o, r, errstr, errstr_size);
    r->stage_ms = (clock_us(CLOCK_MONOTONIC) - t0) / 1000;
    if (err == PS_OK)
        err = diff_and_act(conn, &o, &ei, r, errstr, errstr_size);
out:
    emitter_end(&ei);
    /* Unlock explicitly: the server ends a session asynchronously after the
     * client leaves, and a run started right after this one must not find
     * the lock still held. (A crashed run's lock goes with its session.) */
    if (locked && PQstatus(conn) == CONNECTION_OK) {
        char ignored[PS_ERRSTR_SIZE];
        if (PQtransactionStatus(conn) != PQTRANS_IDLE)
            (void)ps_pg_exec(conn, "ROLLBACK", ignored, sizeof(ignored));
        (void)recon_lock_release(conn, o.channel, ignored, sizeof(ignored));
    }
    PQfinish(conn); /* the staging tables go with the session */
    r->elapsed_ms = (clock_us(CLOCK_MONOTONIC) - started_us) / 1000;
    return err;
}

void recon_result_deinit(recon_result_t *r)
{
    if (r == NULL)
        return;
    recon_pairs_free(r->pairs, r->pair_count);
    memset(r, 0, sizeof(*r));
}
