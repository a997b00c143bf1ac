/*
 * dead-letters list | redrive (see redrive.h). Re-drive produces first and
 * marks afterwards: if marking fails after the messages were produced, the
 * worst case is a second re-drive of the same bytes, which the apply absorbs
 * as a duplicate (events and commands are deduplicated by their ids); the
 * other order could mark a message re-driven that never was.
 */
#include "redrive.h"

#include <paystream/kafka.h>
#include <paystream/limits.h>
#include <paystream/mem.h>
#include <paystream/pg.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "paystream-processor dead-letters"
/* Produce, flush and broker readiness wait of a re-drive. */
#define REDRIVE_TIMEOUT_MS 30000
/* Digits of one id in the id array literal, separator included. */
#define REDRIVE_ID_CHARS 21

enum { RC_OK = 0, RC_FAIL = 1, RC_USAGE = 2 };

typedef struct redrive_opts {
    bool list, pending, all_pending;
    long long limit;
    int64_t *ids; /* owned */
    size_t id_count;
} redrive_opts_t;

static int usage(FILE *out, int rc)
{
    fprintf(out, "Usage: " PROG " list [--pending] [--limit N]\n"
                 "       " PROG " redrive (--id ID)... | --all-pending\n"
                 "list prints id, topic, partition, offset, first seen, re-driven, bytes and\n"
                 "reason of each dead letter (oldest first, at most --limit, default 100).\n"
                 "redrive produces the exact bytes and key again to the same topic, then marks\n"
                 "the rows re-driven; rows already re-driven are skipped.\n");
    return rc;
}

static bool parse_i64(const char *s, long long min, long long max, long long *out)
{
    char *end = NULL;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static int parse(int argc, char **argv, redrive_opts_t *o)
{
    static const struct option longopts[] = {{"pending", no_argument, NULL, 'p'},
                                             {"limit", required_argument, NULL, 'l'},
                                             {"id", required_argument, NULL, 'i'},
                                             {"all-pending", no_argument, NULL, 'a'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    long long v;
    int c;

    if (argc < 2)
        return usage(stderr, RC_USAGE);
    if (strcmp(argv[1], "--help") == 0)
        return usage(stdout, RC_OK);
    if (strcmp(argv[1], "list") != 0 && strcmp(argv[1], "redrive") != 0) {
        fprintf(stderr, PROG ": unknown subcommand \"%s\"\n", argv[1]);
        return usage(stderr, RC_USAGE);
    }
    o->list = strcmp(argv[1], "list") == 0;
    o->limit = 100;
    o->ids = ps_calloc((size_t)argc, sizeof(int64_t));
    optind = 0; /* GNU: re-initialize, main() already ran getopt */
    opterr = 0;
    while ((c = getopt_long(argc - 1, argv + 1, ":", longopts, NULL)) != -1) {
        switch (c) {
        case 'p': o->pending = true; break;
        case 'a': o->all_pending = true; break;
        case 'h': return usage(stdout, RC_OK);
        case 'l':
            if (!parse_i64(optarg, 1, PS_PROC_REDRIVE_MAX, &o->limit)) {
                fprintf(stderr, PROG ": invalid --limit \"%s\": expected 1 to %d\n", optarg,
                        PS_PROC_REDRIVE_MAX);
                return RC_USAGE;
            }
            break;
        case 'i':
            if (!parse_i64(optarg, 1, INT64_MAX, &v)) {
                fprintf(stderr, PROG ": invalid --id \"%s\": expected a positive integer\n",
                        optarg);
                return RC_USAGE;
            }
            o->ids[o->id_count++] = v;
            break;
        default:
            fprintf(stderr, PROG ": unknown or incomplete option \"%s\"\n", argv[optind]);
            return RC_USAGE;
        }
    }
    if (optind < argc - 1) {
        fprintf(stderr, PROG ": unexpected argument \"%s\"\n", argv[optind + 1]);
        return RC_USAGE;
    }
    if (o->list && (o->all_pending || o->id_count > 0)) {
        fprintf(stderr, PROG ": list takes --pending and --limit only\n");
        return RC_USAGE;
    }
    if (!o->list && (o->all_pending == (o->id_count > 0) || o->pending)) {
        fprintf(stderr, PROG ": redrive needs either --id (repeatable) or --all-pending\n");
        return RC_USAGE;
    }
    return -1;
}

static int cmd_list(PGconn *conn, const redrive_opts_t *o)
{
    char limit[24], errstr[PS_ERRSTR_SIZE];
    const char *params[2] = {o->pending ? "t" : "f", limit};
    PGresult *res = NULL;

    snprintf(limit, sizeof(limit), "%lld", o->limit);
    if (ps_pg_exec_params(conn,
                          "SELECT id, topic, partition, kafka_offset,"
                          " to_char(first_seen_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
                          " coalesce(to_char(redriven_at AT TIME ZONE 'UTC',"
                          " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '-'),"
                          " octet_length(raw), reason FROM dead_letters"
                          " WHERE NOT $1::boolean OR redriven_at IS NULL ORDER BY id LIMIT $2::bigint",
                          2, params, &res, errstr, sizeof(errstr)) != PS_OK) {
        fprintf(stderr, PROG ": could not list dead letters: %s\n", errstr);
        return RC_FAIL;
    }
    printf("id\ttopic\tpartition\toffset\tfirst_seen\tredriven\tbytes\treason\n");
    for (int r = 0; r < PQntuples(res); r++) {
        for (int col = 0; col < 8; col++)
            printf("%s%s", PQgetvalue(res, r, col), col == 7 ? "\n" : "\t");
    }
    printf("%d dead letter%s\n", PQntuples(res), PQntuples(res) == 1 ? "" : "s");
    PQclear(res);
    return RC_OK;
}

/* {1,2,3}, or NULL meaning "all pending". Owned by the caller (ps_free). */
static char *id_array(const redrive_opts_t *o)
{
    size_t cap = 3 + o->id_count * REDRIVE_ID_CHARS, len = 0;
    char *s;

    if (o->all_pending)
        return NULL;
    s = ps_malloc(cap);
    s[len++] = '{';
    for (size_t i = 0; i < o->id_count; i++)
        len += (size_t)snprintf(s + len, cap - len, "%s%" PRId64, i > 0 ? "," : "", o->ids[i]);
    snprintf(s + len, cap - len, "}");
    return s;
}

static ps_err_t produce_all(const ps_config_t *cfg, PGresult *rows, char *errstr,
                            size_t errstr_size)
{
    ps_kafka_delivery_t dlv = {0, 0, RD_KAFKA_RESP_ERR_NO_ERROR};
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *rk = NULL;
    ps_err_t err = ps_kafka_conf_new(PS_KAFKA_PRODUCER, &conf, errstr, errstr_size);

    if (err == PS_OK)
        err = ps_kafka_conf_apply_config(conf, cfg, errstr, errstr_size);
    if (err == PS_OK) {
        ps_kafka_conf_set_delivery(conf, &dlv);
        err = ps_kafka_new(PS_KAFKA_PRODUCER, &conf, &rk, errstr, errstr_size);
    }
    for (int r = 0; err == PS_OK && r < PQntuples(rows); r++) {
        size_t key_len = 0, raw_len = 0;
        unsigned char *key = NULL, *raw;
        if (!PQgetisnull(rows, r, 2))
            key = PQunescapeBytea((const unsigned char *)PQgetvalue(rows, r, 2), &key_len);
        raw = PQunescapeBytea((const unsigned char *)PQgetvalue(rows, r, 3), &raw_len);
        if (raw == NULL)
            err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                                "could not decode the bytes of dead letter %s",
                                PQgetvalue(rows, r, 0));
        else
            err = ps_kafka_produce(rk, PQgetvalue(rows, r, 1), key, key_len, raw, raw_len,
                                   REDRIVE_TIMEOUT_MS, errstr, errstr_size);
        PQfreemem(key);
        PQfreemem(raw);
    }
    if (err == PS_OK)
        err = ps_kafka_flush(rk, &dlv, (uint64_t)PQntuples(rows), REDRIVE_TIMEOUT_MS, errstr,
                             errstr_size);
    if (conf != NULL)
        rd_kafka_conf_destroy(conf);
    if (rk != NULL)
        rd_kafka_destroy(rk);
    return err;
}

static int cmd_redrive(PGconn *conn, const ps_config_t *cfg, const redrive_opts_t *o)
{
    char errstr[PS_ERRSTR_SIZE], limit[24];
    char *ids = id_array(o);
    const char *params[2] = {ids, limit};
    PGresult *rows = NULL;
    int rc = RC_FAIL;

    snprintf(limit, sizeof(limit), "%d", PS_PROC_REDRIVE_MAX);
    if (ps_pg_exec_params(conn,
                          "SELECT id, topic, message_key, raw FROM dead_letters"
                          " WHERE redriven_at IS NULL AND ($1::bigint[] IS NULL OR id = ANY($1))"
                          " ORDER BY id LIMIT $2::bigint",
                          2, params, &rows, errstr, sizeof(errstr)) != PS_OK) {
        fprintf(stderr, PROG ": could not read dead letters: %s\n", errstr);
        goto out;
    }
    if (PQntuples(rows) > 0 && produce_all(cfg, rows, errstr, sizeof(errstr)) != PS_OK) {
        fprintf(stderr, PROG ": could not re-produce dead letters (none marked): %s\n", errstr);
        goto out;
    }
    for (int r = 0; r < PQntuples(rows); r++) {
        const char *id = PQgetvalue(rows, r, 0);
        if (ps_pg_exec_params(conn, "UPDATE dead_letters SET redriven_at = now() WHERE id = $1",
                              1, &id, NULL, errstr, sizeof(errstr)) != PS_OK) {
            fprintf(stderr, PROG ": dead letter %s was re-produced but could not be marked: %s\n",
                    id, errstr);
            goto out;
        }
    }
    printf("re-drove %d dead letter%s\n", PQntuples(rows), PQntuples(rows) == 1 ? "" : "s");
    rc = RC_OK;
out:
    PQclear(rows);
    ps_free(ids);
    return rc;
}

int proc_dead_letters_main(const ps_config_t *cfg, int argc, char **argv)
{
    redrive_opts_t o = {0};
    char errstr[PS_ERRSTR_SIZE];
    PGconn *conn = NULL;
    int rc = parse(argc, argv, &o);

    if (rc >= 0)
        goto out;
    if (ps_pg_connect(ps_config_get_str(cfg, "pg.conninfo"), &conn, errstr, sizeof(errstr)) !=
        PS_OK) {
        fprintf(stderr, PROG ": %s\n", errstr);
        rc = RC_FAIL;
        goto out;
    }
    rc = o.list ? cmd_list(conn, &o) : cmd_redrive(conn, cfg, &o);
out:
    if (conn != NULL)
        PQfinish(conn);
    ps_free(o.ids);
    return rc;
}
