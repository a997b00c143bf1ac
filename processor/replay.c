/*
 * Replay of the topics into a fresh schema (replay.h). The end of the replay
 * is fixed at the start (each partition's high watermark then), so a replay
 * of a live topic terminates and describes a well-defined prefix of it. The
 * consumer is assigned explicitly and never joins a group or commits: a
 * replay can neither disturb the live processor nor be disturbed by it.
 */
#include "replay.h"

#include "migrate.h"

#include <paystream/assert.h>
#include <paystream/avro.h>
#include <paystream/kafka.h>
#include <paystream/log.h>
#include <paystream/mem.h>
#include <paystream/pg.h>
#include <paystream/timeparse.h>

#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPLAY_METADATA_TIMEOUT_MS 10000 /* watermarks and offsets_for_times */
#define REPLAY_APPLY_ATTEMPTS_MAX 5      /* retriable failures of one batch */

typedef struct part {
    const char *topic; /* borrowed from opts */
    int32_t partition;
    int64_t start, end; /* [start, end): what this replay applies */
    bool done;
} part_t;

typedef struct replay {
    const proc_replay_opts_t *opts;
    rd_kafka_t *rk;
    ps_avro_codec_t *codec;
    PGconn *conn;
    proc_apply_t *ap;
    part_t *parts;
    size_t nparts, parts_left;
    rd_kafka_message_t *msgs[PS_REPLAY_BATCH_ITEMS_MAX];
    proc_item_t items[PS_REPLAY_BATCH_ITEMS_MAX];
    size_t n;
} replay_t;

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static ps_err_t create_schema(const proc_replay_opts_t *o, char **schema_conninfo, char *errstr,
                              size_t errstr_size)
{
    char sql[PS_SCHEMA_NAME_BYTES_MAX + 32];
    PGconn *conn = NULL;
    ps_err_t err = proc_schema_conninfo(o->conninfo, o->schema, schema_conninfo, errstr,
                                        errstr_size);

    if (err == PS_OK)
        err = ps_pg_connect(o->conninfo, &conn, errstr, errstr_size);
    if (err == PS_OK) {
        /* The name was validated as [a-z_][a-z0-9_]*: safe to splice. */
        snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", o->schema);
        err = ps_pg_exec(conn, sql, errstr, errstr_size);
        if (err != PS_OK)
            ps_errstr_prefix(errstr, errstr_size, PS_ERR_INVALID,
                             "could not create schema \"%s\" (a replay needs a fresh one)",
                             o->schema);
        err = err != PS_OK ? PS_ERR_INVALID : PS_OK;
    }
    PQfinish(conn);
    if (err == PS_OK)
        err = proc_migrate(*schema_conninfo, o->migrations_dir, o->progress, errstr,
                           errstr_size);
    return err;
}

static ps_err_t new_consumer(replay_t *r, char *errstr, size_t errstr_size)
{
    const proc_replay_opts_t *o = r->opts;
    rd_kafka_conf_t *conf = NULL;
    char group[PS_SCHEMA_NAME_BYTES_MAX + 32];
    ps_err_t err = ps_kafka_conf_new(PS_KAFKA_CONSUMER, &conf, errstr, errstr_size);

    snprintf(group, sizeof(group), "paystream-replay-%s", o->schema);
    if (err == PS_OK && o->cfg != NULL)
        err = ps_kafka_conf_apply_config(conf, o->cfg, errstr, errstr_size);
    if (err == PS_OK && o->brokers != NULL)
        err = ps_kafka_conf_set(conf, "bootstrap.servers", o->brokers, errstr, errstr_size);
    if (err == PS_OK)
        err = ps_kafka_conf_set(conf, "group.id", group, errstr, errstr_size);
    /* EOF events tell when a partition reached its end even if the last
     * offsets are transaction markers that no message carries. */
    if (err == PS_OK)
        err = ps_kafka_conf_set(conf, "enable.partition.eof", "true", errstr, errstr_size);
    if (err == PS_OK)
        err = ps_kafka_new(PS_KAFKA_CONSUMER, &conf, &r->rk, errstr, errstr_size);
    if (conf != NULL)
        rd_kafka_conf_destroy(conf);
    return err;
}

/* Start offsets from a timestamp: the first message at or after it. */
static ps_err_t starts_for_time(replay_t *r, rd_kafka_topic_partition_list_t *list,
                                char *errstr, size_t errstr_size)
{
    rd_kafka_resp_err_t kerr;

    for (int i = 0; i < list->cnt; i++)
        list->elems[i].offset = r->opts->from_time_ms;
    kerr = rd_kafka_offsets_for_times(r->rk, list, REPLAY_METADATA_TIMEOUT_MS);
    if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR)
        return ps_kafka_errstr(errstr, errstr_size, kerr, "could not look up offsets for time");
    for (int i = 0; i < list->cnt; i++) {
        /* -1: no message at or after the time: nothing to replay there. */
        r->parts[i].start = list->elems[i].offset < 0 ? r->parts[i].end : list->elems[i].offset;
        if (r->parts[i].start > r->parts[i].end)
            r->parts[i].start = r->parts[i].end;
    }
    return PS_OK;
}

/* Captures [start, end) of every partition and assigns them. */
static ps_err_t capture_and_assign(replay_t *r, char *errstr, size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(16);
    ps_err_t err = PS_OK;

    for (size_t t = 0; err == PS_OK && t < r->opts->topic_count; t++) {
        int count = 0;
        const char *topic = r->opts->topics[t];

        err = ps_kafka_partition_count(r->rk, topic, REPLAY_METADATA_TIMEOUT_MS, &count, errstr,
                                       errstr_size);
        r->parts = ps_realloc(r->parts, (r->nparts + (size_t)count + 1) * sizeof(part_t));
        for (int p = 0; err == PS_OK && p < count; p++) {
            int64_t low = 0, high = 0;
            rd_kafka_resp_err_t kerr = rd_kafka_query_watermark_offsets(
                r->rk, topic, p, &low, &high, REPLAY_METADATA_TIMEOUT_MS);
            if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
                err = ps_kafka_errstr(errstr, errstr_size, kerr,
                                      "could not read the end offset of \"%s\" [%d]", topic, p);
                break;
            }
            r->parts[r->nparts++] = (part_t){topic, p, low, high, false};
            rd_kafka_topic_partition_list_add(list, topic, p);
        }
    }
    if (err == PS_OK && r->opts->has_from_time)
        err = starts_for_time(r, list, errstr, errstr_size);
    for (size_t i = 0; err == PS_OK && i < r->nparts; i++) {
        r->parts[i].done = r->parts[i].start >= r->parts[i].end;
        r->parts_left += !r->parts[i].done;
        list->elems[i].offset = r->parts[i].start;
    }
    if (err == PS_OK) {
        rd_kafka_resp_err_t kerr = rd_kafka_assign(r->rk, list);
        if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR)
            err = ps_kafka_errstr(errstr, errstr_size, kerr, "could not assign partitions");
    }
    rd_kafka_topic_partition_list_destroy(list);
    return err;
}

static part_t *find_part(replay_t *r, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < r->nparts; i++) {
        if (r->parts[i].partition == partition && strcmp(r->parts[i].topic, topic) == 0)
            return &r->parts[i];
    }
    return NULL;
}

static void mark_done(replay_t *r, part_t *p)
{
    if (p != NULL && !p->done) {
        p->done = true;
        r->parts_left--;
    }
}

/* Decodes m into item (borrowing from m); undecodable -> poison. */
static void decode(replay_t *r, const rd_kafka_message_t *m, proc_item_t *item)
{
    ps_avro_type_t type;
    ps_err_t err = PS_ERR_INVALID;

    memset(item, 0, sizeof(*item));
    item->topic = rd_kafka_topic_name(m->rkt);
    item->partition = m->partition;
    item->offset = m->offset;
    item->raw = m->payload;
    item->raw_len = m->len;
    item->key = m->key;
    item->key_len = m->key_len;
    item->kind = PROC_ITEM_POISON;
    snprintf(item->reason, sizeof(item->reason), "empty message value");
    if (m->payload != NULL && m->len > 0)
        err = ps_avro_codec_message_type(r->codec, m->payload, m->len, &type, item->reason,
                                         sizeof(item->reason));
    if (err == PS_OK && type == PS_AVRO_CALLBACK_EVENT) {
        item->kind = PROC_ITEM_EVENT;
        err = ps_avro_decode_callback_event(r->codec, m->payload, m->len, &item->ev, item->reason,
                                            sizeof(item->reason));
    } else if (err == PS_OK) {
        item->kind = PROC_ITEM_COMMAND;
        err = ps_avro_decode_ledger_command(r->codec, m->payload, m->len, &item->cmd,
                                            item->reason, sizeof(item->reason));
    }
    if (err != PS_OK)
        item->kind = PROC_ITEM_POISON;
}

static void batch_release(replay_t *r)
{
    for (size_t i = 0; i < r->n; i++) {
        proc_item_deinit(&r->items[i]);
        rd_kafka_message_destroy(r->msgs[i]);
    }
    r->n = 0;
}

/* Applies the batch in one transaction, retrying retriable failures. */
static ps_err_t apply_batch(replay_t *r, proc_replay_result_t *out, char *errstr,
                            size_t errstr_size)
{
    ps_err_t err = PS_OK;

    for (int attempt = 0; r->n > 0 && attempt < REPLAY_APPLY_ATTEMPTS_MAX; attempt++) {
        proc_apply_stats_t st;
        ps_err_class_t cls = PS_ERRCLASS_FATAL;
        char ignored[PS_ERRSTR_SIZE];

        err = ps_pg_exec(r->conn, "BEGIN", errstr, errstr_size);
        if (err == PS_OK)
            err = proc_apply_batch(r->ap, r->items, r->n, &st, &cls, errstr, errstr_size);
        if (err == PS_OK)
            err = ps_pg_exec(r->conn, "COMMIT", errstr, errstr_size);
        if (err == PS_OK) {
            out->messages += (int64_t)r->n;
            out->totals.events_applied += st.events_applied;
            out->totals.events_duplicate += st.events_duplicate;
            out->totals.commands_applied += st.commands_applied;
            out->totals.commands_duplicate += st.commands_duplicate;
            out->totals.dead_lettered += st.dead_lettered;
            out->totals.journals_posted += st.journals_posted;
            break;
        }
        ps_pg_exec(r->conn, "ROLLBACK", ignored, sizeof(ignored));
        if (cls == PS_ERRCLASS_FATAL || PQstatus(r->conn) == CONNECTION_BAD)
            break;
        ps_log_warn("replay batch failed, retrying: %s", errstr);
    }
    batch_release(r);
    return err;
}

/* Takes one polled message or event; returns PS_ERR_KAFKA on a fatal error. */
static ps_err_t take(replay_t *r, rd_kafka_message_t *m, char *errstr, size_t errstr_size)
{
    part_t *p = m->rkt != NULL ? find_part(r, rd_kafka_topic_name(m->rkt), m->partition) : NULL;

    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        if (p != NULL && m->offset >= p->end)
            mark_done(r, p);
    } else if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
        ps_errstr_set(errstr, errstr_size, PS_ERR_KAFKA, "fatal consumer error: %s",
                      rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
        return PS_ERR_KAFKA;
    } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        ps_log_warn("replay consumer: %s", rd_kafka_message_errstr(m));
    } else if (p != NULL && !p->done && m->offset < p->end) {
        r->msgs[r->n] = m;
        decode(r, m, &r->items[r->n]);
        r->n++;
        if (m->offset + 1 >= p->end)
            mark_done(r, p);
        return PS_OK; /* the message now belongs to the batch */
    } else if (p != NULL) {
        mark_done(r, p);
    }
    rd_kafka_message_destroy(m);
    return PS_OK;
}

static ps_err_t consume_all(replay_t *r, proc_replay_result_t *out, char *errstr,
                            size_t errstr_size)
{
    int64_t last_progress = now_ms();
    ps_err_t err = PS_OK;

    while (err == PS_OK && (r->parts_left > 0 || r->n > 0)) {
        rd_kafka_message_t *m = NULL;
        int64_t before = out->messages + (int64_t)r->n;

        if (r->parts_left > 0)
            m = rd_kafka_consumer_poll(r->rk, PS_REPLAY_POLL_TIMEOUT_MS);
        if (m != NULL)
            err = take(r, m, errstr, errstr_size);
        if (err == PS_OK && (r->n == PS_REPLAY_BATCH_ITEMS_MAX || (m == NULL && r->n > 0) ||
                             (r->parts_left == 0 && r->n > 0)))
            err = apply_batch(r, out, errstr, errstr_size);
        if (out->messages + (int64_t)r->n != before || m != NULL)
            last_progress = now_ms();
        else if (now_ms() - last_progress > PS_REPLAY_IDLE_TIMEOUT_MS)
            err = ps_errstr_set(errstr, errstr_size, PS_ERR_TIMEOUT,
                                "replay made no progress for %d ms with %zu partition(s) short "
                                "of their end offset",
                                PS_REPLAY_IDLE_TIMEOUT_MS, r->parts_left);
    }
    return err;
}

ps_err_t proc_replay_run(const proc_replay_opts_t *opts, proc_replay_result_t *out, char *errstr,
                         size_t errstr_size)
{
    replay_t *r = ps_calloc(1, sizeof(*r));
    char *conninfo = NULL;
    ps_err_t err;

    PS_ASSERT(opts != NULL && out != NULL && opts->schema != NULL && opts->conninfo != NULL);
    memset(out, 0, sizeof(*out));
    r->opts = opts;
    if (opts->topic_count == 0 || opts->topic_count > PS_KAFKA_TOPICS_MAX) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                            "replay needs 1 to %d topics, got %zu", PS_KAFKA_TOPICS_MAX,
                            opts->topic_count);
        goto out;
    }
    err = create_schema(opts, &conninfo, errstr, errstr_size);
    if (err == PS_OK)
        err = ps_pg_connect(conninfo, &r->conn, errstr, errstr_size);
    if (err == PS_OK)
        err = proc_apply_new(r->conn, &r->ap, errstr, errstr_size);
    if (err == PS_OK)
        err = ps_avro_codec_new(&r->codec, errstr, errstr_size);
    if (err == PS_OK)
        err = new_consumer(r, errstr, errstr_size);
    if (err == PS_OK)
        err = capture_and_assign(r, errstr, errstr_size);
    if (err == PS_OK)
        err = consume_all(r, out, errstr, errstr_size);
    if (err == PS_OK)
        err = proc_audit_run(r->conn, opts->progress, &out->audit, errstr, errstr_size);
out:
    batch_release(r);
    if (r->rk != NULL) {
        rd_kafka_consumer_close(r->rk);
        rd_kafka_destroy(r->rk);
    }
    ps_avro_codec_destroy(r->codec);
    proc_apply_destroy(r->ap);
    PQfinish(r->conn);
    ps_free(r->parts);
    ps_free(conninfo);
    ps_free(r);
    return err != PS_OK ? ps_errstr_prefix(errstr, errstr_size, err, "replay into \"%s\" failed",
                                           opts->schema)
                        : PS_OK;
}

/* --from-timestamp: RFC 3339 or integer milliseconds since the epoch. */
static bool parse_time_ms(const char *s, int64_t *ms_out)
{
    char *end = NULL;
    char ignored[PS_ERRSTR_SIZE];
    int64_t us;
    long long v;

    if (ps_time_parse_rfc3339(s, strlen(s), &us, ignored, sizeof(ignored)) == PS_OK) {
        *ms_out = us / 1000;
        return true;
    }
    v = strtoll(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || *end != '\0' || v < 0 || v > INT64_C(253402300799999))
        return false;
    *ms_out = v;
    return true;
}

int proc_replay_main(const ps_config_t *cfg, int argc, char **argv)
{
    static const struct option longopts[] = {{"schema", required_argument, NULL, 's'},
                                             {"from-timestamp", required_argument, NULL, 't'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *topics[2] = {ps_config_get_str(cfg, "topic.callbacks"),
                             ps_config_get_str(cfg, "topic.commands")};
    proc_replay_opts_t o = {.cfg = cfg, .conninfo = ps_config_get_str(cfg, "pg.conninfo"),
                            .migrations_dir = ps_config_get_str(cfg, "pg.migrations_dir"),
                            .topics = topics, .topic_count = 2, .progress = stdout};
    proc_replay_result_t res;
    char errstr[PS_ERRSTR_SIZE];
    int c;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":s:t:h", longopts, NULL)) != -1) {
        if (c == 's') {
            o.schema = optarg;
        } else if (c == 't' && parse_time_ms(optarg, &o.from_time_ms)) {
            o.has_from_time = true;
        } else if (c == 'h') {
            printf("Usage: paystream-processor replay --schema S [--from-timestamp T]\n"
                   "Rebuilds the ledger from the topics into the new schema S and prints "
                   "its digest.\n  T is RFC 3339 or milliseconds since the epoch.\n");
            return 0;
        } else {
            fprintf(stderr, "paystream-processor replay: bad option or value \"%s\"\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    if (o.schema == NULL || optind < argc) {
        fprintf(stderr, "paystream-processor replay: --schema S is required, and nothing "
                        "else may follow the options\n");
        return 2;
    }
    if (proc_replay_run(&o, &res, errstr, sizeof(errstr)) != PS_OK) {
        fprintf(stderr, "paystream-processor: %s\n", errstr);
        return 1;
    }
    printf("replayed %" PRId64 " messages: %" PRId64 " events, %" PRId64 " duplicates, %" PRId64
           " commands, %" PRId64 " dead letters, %" PRId64 " journals\n",
           res.messages, res.totals.events_applied, res.totals.events_duplicate,
           res.totals.commands_applied, res.totals.dead_lettered, res.totals.journals_posted);
    printf("%s: %" PRId64 " failure(s)\ndigest %s\n",
           res.audit.failures == 0 ? "audit passed" : "audit FAILED", res.audit.failures,
           res.audit.digest);
    return res.audit.failures == 0 ? 0 : 1;
}
