/*
 * The consume-apply loop (see loop.h). One thread, one PostgreSQL
 * connection, one transaction per batch:
 *
 *   poll batch -> BEGIN -> proc_apply_batch -> offsets CAS -> COMMIT
 *
 * Whatever fails between BEGIN and COMMIT, the whole batch is rolled back and
 * every partition in it is sought back to its stored offset, so the next
 * attempt re-reads exactly the same messages: nothing is skipped, and
 * nothing is applied twice because the offsets move only in the transaction
 * that applied the messages. A COMMIT whose outcome is unknown (connection
 * lost during it) is safe too: the redo's CAS fails if it did commit, and the
 * re-read of the stored offsets moves the position past it.
 */
#include "loop.h"

#include "apply.h"
#include "consume.h"
#include "offsets.h"

#include <paystream/assert.h>
#include <paystream/limits.h>
#include <paystream/log.h>
#include <paystream/mem.h>
#include <paystream/pg.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Slice of a backoff sleep between looks at the stop flag. */
#define LOOP_SLEEP_SLICE_MS 50
/* How often the per-partition lag gauges are refreshed. */
#define LOOP_LAG_INTERVAL_MS 1000

struct proc_loop {
    proc_loop_conf_t conf;
    proc_metrics_t *m;
    proc_consumer_t *consumer;
    PGconn *conn;           /* NULL while disconnected */
    proc_apply_t *ap;       /* tied to conn */
    int backoff_ms;         /* next delay; 0 after a success */
    int64_t last_lag_ms;
    volatile sig_atomic_t *stop;
    proc_offset_t *offs;    /* scratch, PS_PROC_PARTITIONS_MAX */
};

static int64_t mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void disconnect(proc_loop_t *lp)
{
    proc_apply_destroy(lp->ap);
    lp->ap = NULL;
    if (lp->conn != NULL)
        PQfinish(lp->conn);
    lp->conn = NULL;
}

/* Connects (and prepares the apply state) if not connected. */
static ps_err_t ensure_conn(proc_loop_t *lp, char *errstr, size_t errstr_size)
{
    ps_err_t err;

    if (lp->conn != NULL && PQstatus(lp->conn) == CONNECTION_OK)
        return PS_OK;
    disconnect(lp);
    err = ps_pg_connect(lp->conf.conninfo, &lp->conn, errstr, errstr_size);
    if (err == PS_OK)
        err = proc_apply_new(lp->conn, &lp->ap, errstr, errstr_size);
    if (err != PS_OK) {
        disconnect(lp);
        return ps_errstr_prefix(errstr, errstr_size, err, "could not connect to the ledger");
    }
    return PS_OK;
}

/* Sleeps the current backoff (in slices, watching the stop flag) and grows it. */
static void backoff(proc_loop_t *lp)
{
    int ms = lp->backoff_ms > 0 ? lp->backoff_ms : lp->conf.backoff_min_ms;

    for (int slept = 0; slept < ms && !*lp->stop; slept += LOOP_SLEEP_SLICE_MS) {
        struct timespec ts = {0, (long)LOOP_SLEEP_SLICE_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
    lp->backoff_ms = ms * 2 > lp->conf.backoff_max_ms ? lp->conf.backoff_max_ms : ms * 2;
}

/* The consumer's claim function: retries until claimed, stopped, or out of attempts. */
static ps_err_t claim(void *opaque, proc_partition_t *parts, size_t n, char *errstr,
                      size_t errstr_size)
{
    proc_loop_t *lp = opaque;
    ps_err_t err = PS_ERR_RETRIABLE;

    for (size_t i = 0; i < n; i++) {
        memset(&lp->offs[i], 0, sizeof(lp->offs[i]));
        lp->offs[i].topic = parts[i].topic;
        lp->offs[i].partition = parts[i].partition;
    }
    for (int attempt = 0; attempt < PS_PROC_CLAIM_ATTEMPTS_MAX && !*lp->stop; attempt++) {
        err = ensure_conn(lp, errstr, errstr_size);
        if (err == PS_OK)
            err = proc_offsets_claim(lp->conn, lp->conf.group, lp->conf.owner, lp->offs, n,
                                     errstr, errstr_size);
        if (err == PS_OK)
            break;
        ps_log_warn("%s (attempt %d, retrying)", errstr, attempt + 1);
        backoff(lp);
    }
    if (err != PS_OK) {
        if (*lp->stop)
            return ps_errstr_set(errstr, errstr_size, PS_ERR_RETRIABLE,
                                 "stopped before the partitions could be claimed");
        return err;
    }
    lp->backoff_ms = 0;
    for (size_t i = 0; i < n; i++) {
        parts[i].token = lp->offs[i].token;
        parts[i].stored_next = lp->offs[i].next_offset;
    }
    ps_gauge_set(lp->m->assigned, NULL, (int64_t)n);
    return PS_OK;
}

/* Fills lp->offs with the CAS of every partition in the batch; returns their count. */
static size_t batch_offsets(proc_loop_t *lp)
{
    size_t n_parts, k = 0;
    proc_partition_t *parts = proc_consumer_partitions(lp->consumer, &n_parts);

    for (size_t i = 0; i < n_parts; i++) {
        if (parts[i].batch_last < 0)
            continue;
        lp->offs[k] = (proc_offset_t){.topic = parts[i].topic,
                                      .partition = parts[i].partition,
                                      .next_offset = parts[i].stored_next,
                                      .new_next = parts[i].batch_last + 1,
                                      .token = parts[i].token};
        k++;
    }
    return k;
}

/* BEGIN, apply, CAS, COMMIT. On failure the transaction may still be open. */
static ps_err_t apply_txn(proc_loop_t *lp, proc_batch_t *b, proc_apply_stats_t *stats,
                          ps_err_class_t *class_out, char *errstr, size_t errstr_size)
{
    size_t n_offs;
    ps_err_t err;

    *class_out = PS_ERRCLASS_FATAL;
    err = ensure_conn(lp, errstr, errstr_size);
    if (err != PS_OK) {
        *class_out = PS_ERRCLASS_RETRIABLE;
        return err;
    }
    err = ps_pg_exec(lp->conn, "BEGIN", errstr, errstr_size);
    if (err == PS_OK) {
        err = proc_apply_batch(lp->ap, b->items, b->n, stats, class_out, errstr, errstr_size);
        if (err != PS_OK)
            return ps_errstr_prefix(errstr, errstr_size, err, "could not apply batch");
    }
    n_offs = batch_offsets(lp);
    if (err == PS_OK)
        err = proc_offsets_cas(lp->conn, lp->conf.group, lp->offs, n_offs, NULL, errstr,
                               errstr_size);
    if (err == PS_OK)
        err = ps_pg_exec(lp->conn, "COMMIT", errstr, errstr_size);
    if (err == PS_ERR_RETRIABLE || PQstatus(lp->conn) != CONNECTION_OK)
        *class_out = PS_ERRCLASS_RETRIABLE;
    return err;
}

static void record_commit(proc_loop_t *lp, const proc_batch_t *b, const proc_apply_stats_t *st,
                          int64_t took_us)
{
    proc_metrics_t *m = lp->m;

    ps_counter_inc(m->batches, NULL, 1);
    ps_counter_inc(m->applied, "event", st->events_applied);
    ps_counter_inc(m->applied, "command", st->commands_applied);
    ps_counter_inc(m->duplicates, "event", st->events_duplicate);
    ps_counter_inc(m->duplicates, "command", st->commands_duplicate);
    ps_counter_inc(m->dead_lettered, NULL, st->dead_lettered);
    ps_counter_inc(m->journals, NULL, st->journals_posted);
    ps_histogram_observe(m->batch_events, NULL, (int64_t)b->n);
    ps_histogram_observe(m->batch_latency, NULL, took_us);
    ps_log_debug("committed batch of %zu (%" PRId64 " events new, %" PRId64
                 " duplicates, %" PRId64 " dead-lettered) in %" PRId64 " us",
                 b->n, st->events_applied, st->events_duplicate, st->dead_lettered, took_us);
}

/* After a fenced CAS: re-read the rows and let the consumer ignore or re-seek. */
static void handle_fenced(proc_loop_t *lp)
{
    char errstr[PS_ERRSTR_SIZE];
    size_t n;
    proc_partition_t *parts = proc_consumer_partitions(lp->consumer, &n);
    proc_partition_t *db = ps_calloc(n > 0 ? n : 1, sizeof(*db));
    ps_err_t err = PS_OK;

    for (size_t i = 0; i < n; i++)
        lp->offs[i] = (proc_offset_t){.topic = parts[i].topic, .partition = parts[i].partition};
    if (n > 0)
        err = proc_offsets_read(lp->conn, lp->conf.group, lp->offs, n, errstr, sizeof(errstr));
    if (err == PS_OK) {
        for (size_t i = 0; i < n; i++) {
            db[i].token = lp->offs[i].token;
            db[i].stored_next = lp->offs[i].next_offset;
        }
        proc_consumer_refenced(lp->consumer, db, n);
    } else {
        ps_log_warn("%s", errstr);
        if (proc_consumer_rewind(lp->consumer, errstr, sizeof(errstr)) != PS_OK)
            ps_log_warn("%s", errstr);
    }
    ps_free(db);
}

static const char *class_name(ps_err_class_t c)
{
    return c == PS_ERRCLASS_RETRIABLE ? "retriable"
           : c == PS_ERRCLASS_ABORTABLE ? "abortable"
                                        : "fatal";
}

/* Applies the polled batch once; on failure rolls back, rewinds and backs off. */
static void apply_batch(proc_loop_t *lp, proc_batch_t *b)
{
    char errstr[PS_ERRSTR_SIZE], ignored[PS_ERRSTR_SIZE];
    proc_apply_stats_t stats;
    ps_err_class_t cls = PS_ERRCLASS_FATAL;
    int64_t t0 = mono_us();
    ps_err_t err;

    memset(&stats, 0, sizeof(stats));
    ps_counter_inc(lp->m->consumed, NULL, (int64_t)b->n);
    err = apply_txn(lp, b, &stats, &cls, errstr, sizeof(errstr));
    if (err == PS_OK) {
        record_commit(lp, b, &stats, mono_us() - t0);
        proc_consumer_committed(lp->consumer, lp->conf.kafka_mirror);
        lp->backoff_ms = 0;
        return;
    }
    if (lp->conn != NULL && PQstatus(lp->conn) == CONNECTION_OK)
        ps_pg_exec(lp->conn, "ROLLBACK", ignored, sizeof(ignored));
    if (err == PS_ERR_FENCED) {
        ps_counter_inc(lp->m->rollbacks, "fenced", 1);
        ps_log_warn("rolled back batch of %zu: %s", b->n, errstr);
        handle_fenced(lp);
        return;
    }
    ps_counter_inc(lp->m->rollbacks, class_name(cls), 1);
    if (cls == PS_ERRCLASS_FATAL)
        ps_counter_inc(lp->m->alerts, NULL, 1);
    ps_log_warn("rolled back batch of %zu (%s, retrying from the stored offsets): %s", b->n,
                class_name(cls), errstr);
    if (lp->conn != NULL && PQstatus(lp->conn) != CONNECTION_OK) {
        ps_counter_inc(lp->m->reconnects, NULL, 1);
        disconnect(lp);
    }
    if (proc_consumer_rewind(lp->consumer, errstr, sizeof(errstr)) != PS_OK) {
        ps_counter_inc(lp->m->rollbacks, "kafka", 1);
        ps_log_warn("%s", errstr);
    }
    backoff(lp);
}

static void update_lag(proc_loop_t *lp)
{
    int64_t now_ms = mono_us() / 1000;
    size_t n;
    proc_partition_t *parts;

    if (now_ms - lp->last_lag_ms < LOOP_LAG_INTERVAL_MS)
        return;
    lp->last_lag_ms = now_ms;
    parts = proc_consumer_partitions(lp->consumer, &n);
    ps_gauge_set(lp->m->assigned, NULL, (int64_t)n);
    for (size_t i = 0; i < n; i++) {
        int64_t lo = -1, hi = -1;
        char part[16];
        const char *labels[2] = {parts[i].topic, part};
        if (rd_kafka_get_watermark_offsets(proc_consumer_rk(lp->consumer), parts[i].topic,
                                           parts[i].partition, &lo, &hi) !=
                RD_KAFKA_RESP_ERR_NO_ERROR ||
            hi < 0)
            continue;
        snprintf(part, sizeof(part), "%" PRId32, parts[i].partition);
        ps_gauge_set_vec(lp->m->lag, labels,
                         hi - (parts[i].stored_next >= 0 ? parts[i].stored_next : lo));
    }
}

ps_err_t proc_loop_new(const proc_loop_conf_t *conf, proc_metrics_t *metrics, proc_loop_t **out,
                       char *errstr, size_t errstr_size)
{
    static volatile sig_atomic_t never;
    proc_loop_t *lp = ps_calloc(1, sizeof(*lp));
    ps_err_t err;

    PS_ASSERT(conf != NULL && metrics != NULL && out != NULL);
    PS_ASSERT(conf->backoff_min_ms >= 1 && conf->backoff_max_ms >= conf->backoff_min_ms);
    lp->conf = *conf;
    lp->m = metrics;
    lp->stop = &never;
    lp->offs = ps_calloc(PS_PROC_PARTITIONS_MAX, sizeof(proc_offset_t));
    err = proc_consumer_new(conf->cfg, conf->group, conf->topics, conf->topic_count,
                            conf->events_max, claim, lp, &lp->consumer, errstr, errstr_size);
    if (err != PS_OK) {
        proc_loop_destroy(lp);
        return err;
    }
    *out = lp;
    return PS_OK;
}

ps_err_t proc_loop_run(proc_loop_t *lp, volatile sig_atomic_t *stop, char *errstr,
                       size_t errstr_size)
{
    PS_ASSERT(lp != NULL && stop != NULL);
    lp->stop = stop;
    while (!*stop) {
        proc_batch_t *b = NULL;
        ps_err_t err = proc_consumer_poll_batch(lp->consumer, lp->conf.wait_ms, stop, &b, errstr,
                                                errstr_size);
        if (err != PS_OK && *stop) {
            /* A claim cut short by SIGTERM: nothing was assigned, nothing is lost. */
            ps_log_info("%s", errstr);
            break;
        }
        if (err != PS_OK)
            return err;
        update_lag(lp);
        if (b->n > 0)
            apply_batch(lp, b); /* a batch polled before SIGTERM is finished or rolled back */
    }
    ps_log_info("stop requested: leaving the consumer group");
    return PS_OK;
}

void proc_loop_destroy(proc_loop_t *lp)
{
    if (lp == NULL)
        return;
    proc_consumer_destroy(lp->consumer);
    disconnect(lp);
    ps_free(lp->offs);
    ps_free(lp);
}
