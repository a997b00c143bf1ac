/*
 * Staging and the one FULL OUTER JOIN (diff.h). Statement rows become COPY
 * text lines (tab-separated, backslash escapes) sent in
 * PS_RECON_COPY_CHUNK_BYTES chunks while the parser runs; refunds are
 * buffered in memory and copied after the payments because one connection
 * carries one COPY at a time.
 *
 * Duplicate rows are found without an index on the staging table (building
 * one would cost more than the join): a set of 64-bit hashes of the keys
 * seen flags suspects, and recon_stage_finish confirms each suspect with one
 * count query (a false suspect needs a 64-bit collision, so in practice every
 * suspect is a real duplicate and the first one ends the run).
 */
#include "diff.h"

#include <paystream/assert.h>
#include <paystream/buf.h>
#include <paystream/limits.h>
#include <paystream/mem.h>
#include <paystream/money.h>
#include <paystream/pg.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Suspected duplicates checked in the database; more are refused outright. */
#define DUP_SUSPECTS_MAX 100

typedef struct suspect {
    bool refund;
    char *key, *rid; /* owned */
} suspect_t;

struct recon_stage {
    PGconn *conn;           /* borrowed */
    ps_channel_t channel;
    bool copying;           /* a COPY of recon_stage is open */
    ps_buf_t chunk;         /* payment lines not yet sent */
    ps_buf_t refunds;       /* every refund line */
    uint64_t *slots;        /* open-addressing hash set, 0 = empty */
    size_t slot_count, used;
    suspect_t suspects[DUP_SUSPECTS_MAX];
    size_t suspect_count;
    bool suspects_overflow;
    recon_stage_stats_t stats;
};

/* Each run has its own session (recon_run connects), so the tables are new. */
static const char create_sql[] =
    "CREATE TEMP TABLE recon_stage (key text NOT NULL, txn text, amount_minor bigint NOT NULL,"
    " currency text NOT NULL, time_us bigint NOT NULL, closed boolean NOT NULL,"
    " key_is_txn boolean NOT NULL);"
    "CREATE TEMP TABLE recon_stage_refund (key text NOT NULL, refund_id text NOT NULL,"
    " txn text, amount_minor bigint NOT NULL, currency text NOT NULL, time_us bigint NOT NULL,"
    " key_is_txn boolean NOT NULL)";

/* Payment statuses meaning the channel did not (or no longer) hold the money:
 * WeChat 交易状态 values and Alipay/generic trade states. */
static bool status_closed(const char *status)
{
    static const char *const closed[] = {"CLOSED", "REVOKED", "PAYERROR", "NOTPAY",
                                         "TRADE_CLOSED"};
    if (status == NULL)
        return false;
    for (size_t i = 0; i < sizeof(closed) / sizeof(closed[0]); i++)
        if (strcmp(status, closed[i]) == 0)
            return true;
    return false;
}

static uint64_t key_hash(bool refund, const char *key, const char *rid)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a 64 */
    const char *parts[2] = {key, rid};

    h = (h ^ (refund ? 'R' : 'P')) * 1099511628211ULL;
    for (int i = 0; i < 2; i++) {
        for (const unsigned char *c = (const unsigned char *)parts[i]; *c != '\0'; c++)
            h = (h ^ *c) * 1099511628211ULL;
        h = (h ^ 0xffu) * 1099511628211ULL; /* separator no text byte can forge */
    }
    return h == 0 ? 1 : h;
}

static void set_grow(recon_stage_t *st)
{
    size_t n = st->slot_count == 0 ? 1024 : st->slot_count * 2;
    uint64_t *slots = ps_calloc(n, sizeof(*slots));

    for (size_t i = 0; i < st->slot_count; i++) {
        uint64_t h = st->slots[i];
        if (h == 0)
            continue;
        size_t j = (size_t)h & (n - 1);
        while (slots[j] != 0)
            j = (j + 1) & (n - 1);
        slots[j] = h;
    }
    ps_free(st->slots);
    st->slots = slots;
    st->slot_count = n;
}

/* Inserts h; false when it was already there (a suspected duplicate). */
static bool set_insert(recon_stage_t *st, uint64_t h)
{
    if ((st->used + 1) * 2 > st->slot_count)
        set_grow(st);
    size_t j = (size_t)h & (st->slot_count - 1);
    while (st->slots[j] != 0) {
        if (st->slots[j] == h)
            return false;
        j = (j + 1) & (st->slot_count - 1);
    }
    st->slots[j] = h;
    st->used++;
    return true;
}

static void note_suspect(recon_stage_t *st, bool refund, const char *key, const char *rid)
{
    if (st->suspect_count == DUP_SUSPECTS_MAX) {
        st->suspects_overflow = true;
        return;
    }
    suspect_t *s = &st->suspects[st->suspect_count++];
    s->refund = refund;
    s->key = ps_strdup(key);
    s->rid = ps_strdup(rid);
}

/* Appends s as one COPY text field (backslash escapes for \ TAB LF CR). */
static ps_err_t put_field(ps_buf_t *b, const char *s, char sep)
{
    ps_err_t err = PS_OK;
    const char *run = s;

    for (const char *c = s; err == PS_OK && *c != '\0'; c++) {
        const char *esc = *c == '\\' ? "\\\\" : *c == '\t' ? "\\t" : *c == '\n' ? "\\n"
                                                : *c == '\r' ? "\\r" : NULL;
        if (esc == NULL)
            continue;
        err = ps_buf_append(b, run, (size_t)(c - run));
        if (err == PS_OK)
            err = ps_buf_append_str(b, esc);
        run = c + 1;
    }
    if (err == PS_OK)
        err = ps_buf_append_str(b, run);
    return err == PS_OK ? ps_buf_append(b, &sep, 1) : err;
}

static ps_err_t copy_start(PGconn *conn, const char *sql, char *errstr, size_t errstr_size)
{
    PGresult *res = PQexec(conn, sql);
    ps_err_t err = PS_OK;

    if (PQresultStatus(res) != PGRES_COPY_IN) {
        err = ps_pg_result_error(conn, res, NULL, errstr, errstr_size);
        ps_errstr_prefix(errstr, errstr_size, err, "could not start staging copy");
    }
    PQclear(res);
    return err;
}

static ps_err_t copy_send(PGconn *conn, const uint8_t *data, size_t len, char *errstr,
                          size_t errstr_size)
{
    while (len > 0) {
        size_t n = len < PS_RECON_COPY_CHUNK_BYTES ? len : PS_RECON_COPY_CHUNK_BYTES;
        if (PQputCopyData(conn, (const char *)data, (int)n) != 1)
            return ps_errstr_set(errstr, errstr_size, PS_ERR_PG,
                                 "could not send staging rows: %s", PQerrorMessage(conn));
        data += n;
        len -= n;
    }
    return PS_OK;
}

static ps_err_t copy_end(PGconn *conn, char *errstr, size_t errstr_size)
{
    ps_err_t err = PS_OK;

    if (PQputCopyEnd(conn, NULL) != 1)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_PG, "could not end staging copy: %s",
                             PQerrorMessage(conn));
    for (PGresult *res; (res = PQgetResult(conn)) != NULL; PQclear(res)) {
        if (err == PS_OK && PQresultStatus(res) != PGRES_COMMAND_OK) {
            err = ps_pg_result_error(conn, res, NULL, errstr, errstr_size);
            ps_errstr_prefix(errstr, errstr_size, err, "could not stage statement rows");
        }
    }
    return err;
}

ps_err_t recon_stage_begin(PGconn *conn, ps_channel_t channel, recon_stage_t **out,
                           char *errstr, size_t errstr_size)
{
    recon_stage_t *st = NULL;
    ps_err_t err = ps_pg_exec(conn, create_sql, errstr, errstr_size);

    if (err != PS_OK) {
        ps_errstr_prefix(errstr, errstr_size, err, "could not create staging tables");
        goto out;
    }
    err = copy_start(conn,
                     "COPY pg_temp.recon_stage (key, txn, amount_minor, currency, time_us, "
                     "closed, key_is_txn) FROM STDIN",
                     errstr, errstr_size);
    if (err != PS_OK)
        goto out;
    st = ps_calloc(1, sizeof(*st));
    st->conn = conn;
    st->channel = channel;
    st->copying = true;
    ps_buf_init(&st->chunk, 2 * PS_RECON_COPY_CHUNK_BYTES);
    ps_buf_init(&st->refunds, PS_RECON_REFUND_STAGE_BYTES_MAX);
    *out = st;
out:
    return err;
}

static ps_err_t row_invalid(const recon_row_t *row, char *errstr, size_t errstr_size,
                            const char *why)
{
    return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID, "statement line %lld: %s",
                         (long long)row->line_no, why);
}

/* Appends the COPY line of row to the payment chunk or the refund buffer. */
static ps_err_t stage_line(recon_stage_t *st, const recon_row_t *row, const char *key,
                           bool refund, bool key_is_txn)
{
    ps_buf_t *b = refund ? &st->refunds : &st->chunk;
    char num[48];
    ps_err_t err = put_field(b, key, '\t');

    if (err == PS_OK && refund)
        err = put_field(b, row->refund_id, '\t');
    if (err == PS_OK)
        err = put_field(b, row->channel_txn_id != NULL ? row->channel_txn_id : "", '\t');
    snprintf(num, sizeof(num), "%lld\t", (long long)row->amount_minor);
    if (err == PS_OK)
        err = ps_buf_append_str(b, num);
    if (err == PS_OK)
        err = put_field(b, row->currency, '\t');
    snprintf(num, sizeof(num), "%lld\t", (long long)row->time_us);
    if (err == PS_OK)
        err = ps_buf_append_str(b, num);
    if (err == PS_OK && !refund)
        err = ps_buf_append_str(b, status_closed(row->status) ? "t\t" : "f\t");
    if (err == PS_OK)
        err = ps_buf_append_str(b, key_is_txn ? "t\n" : "f\n");
    return err;
}

ps_err_t recon_stage_add(recon_stage_t *st, const recon_row_t *row, char *errstr,
                         size_t errstr_size)
{
    bool refund = row->kind == RECON_ROW_REFUND;
    bool key_is_txn = row->merchant_order_no == NULL || row->merchant_order_no[0] == '\0';
    const char *key = key_is_txn ? row->channel_txn_id : row->merchant_order_no;
    const char *rid = refund && row->refund_id != NULL ? row->refund_id : "";

    PS_ASSERT(st->copying);
    if (row->channel != st->channel)
        return row_invalid(row, errstr, errstr_size, "row of another channel");
    if (key == NULL || key[0] == '\0' || (refund && rid[0] == '\0'))
        return row_invalid(row, errstr, errstr_size, "row without a payment key or refund id");
    if (strlen(key) >= PS_RECON_KEY_BYTES_MAX || strlen(rid) >= PS_RECON_KEY_BYTES_MAX)
        return row_invalid(row, errstr, errstr_size, "payment key or refund id too long");
    if (row->amount_minor < 0)
        return row_invalid(row, errstr, errstr_size, "negative amount");
    /* A refund the channel has not completed moved no money yet. */
    if (refund && row->refund_status != NULL && strcmp(row->refund_status, "SUCCESS") != 0) {
        st->stats.skipped_rows++;
        return PS_OK;
    }
    if (!set_insert(st, key_hash(refund, key, rid)))
        note_suspect(st, refund, key, rid);
    int64_t *total = refund ? &st->stats.refund_total_minor : &st->stats.payment_total_minor;
    if (ps_money_add(*total, row->amount_minor, total) != PS_OK)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                             "statement line %lld: amount total overflows",
                             (long long)row->line_no);
    *(refund ? &st->stats.refund_rows : &st->stats.payment_rows) += 1;
    st->stats.txn_keyed_rows += key_is_txn;
    if (stage_line(st, row, key, refund, key_is_txn) != PS_OK)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                             "statement line %lld: staged refunds exceed %zu bytes",
                             (long long)row->line_no, (size_t)PS_RECON_REFUND_STAGE_BYTES_MAX);
    if (st->chunk.len < PS_RECON_COPY_CHUNK_BYTES)
        return PS_OK;
    ps_err_t err = copy_send(st->conn, st->chunk.data, st->chunk.len, errstr, errstr_size);
    ps_buf_reset(&st->chunk);
    return err;
}

/* Rows keyed by transaction id take the order number the ledger knows. */
static ps_err_t resolve_txn_keys(recon_stage_t *st, char *errstr, size_t errstr_size)
{
    static const char *const sql[2] = {
        "UPDATE pg_temp.recon_stage s SET key = p.merchant_order_no, key_is_txn = false "
        "FROM payments p WHERE s.key_is_txn AND p.channel = $1 AND p.channel_txn_id = s.txn",
        "UPDATE pg_temp.recon_stage_refund s SET key = p.merchant_order_no, key_is_txn = false "
        "FROM payments p WHERE s.key_is_txn AND p.channel = $1 AND p.channel_txn_id = s.txn"};
    const char *params[1] = {ps_channel_name(st->channel)};
    ps_err_t err = PS_OK;

    for (int i = 0; err == PS_OK && i < 2; i++)
        err = ps_pg_exec_params(st->conn, sql[i], 1, params, NULL, errstr, errstr_size);
    if (err != PS_OK)
        ps_errstr_prefix(errstr, errstr_size, err, "could not resolve transaction ids");
    return err;
}

static ps_err_t check_suspects(recon_stage_t *st, char *errstr, size_t errstr_size)
{
    PGresult *res = NULL;
    ps_err_t err = PS_OK;

    for (size_t i = 0; err == PS_OK && i < st->suspect_count; i++) {
        const suspect_t *s = &st->suspects[i];
        const char *params[2] = {s->key, s->rid};
        err = ps_pg_exec_params(st->conn,
                                s->refund ? "SELECT count(*) FROM pg_temp.recon_stage_refund "
                                            "WHERE key = $1 AND refund_id = $2"
                                          : "SELECT count(*) FROM pg_temp.recon_stage "
                                            "WHERE key = $1 AND $2 = ''",
                                2, params, &res, errstr, errstr_size);
        if (err == PS_OK && strtoll(PQgetvalue(res, 0, 0), NULL, 10) > 1)
            err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                                "statement lists %s \"%s%s%s\" twice",
                                s->refund ? "refund" : "payment", s->key, s->refund ? "/" : "",
                                s->rid);
        PQclear(res);
        res = NULL;
    }
    if (err == PS_OK && st->suspects_overflow)
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                            "statement lists more than %d payments or refunds twice",
                            DUP_SUSPECTS_MAX);
    return err;
}

ps_err_t recon_stage_finish(recon_stage_t *st, recon_stage_stats_t *stats, char *errstr,
                            size_t errstr_size)
{
    ps_err_t err = copy_send(st->conn, st->chunk.data, st->chunk.len, errstr, errstr_size);

    ps_buf_reset(&st->chunk);
    st->copying = false;
    if (err == PS_OK)
        err = copy_end(st->conn, errstr, errstr_size);
    if (err == PS_OK && st->refunds.len > 0) {
        err = copy_start(st->conn,
                         "COPY pg_temp.recon_stage_refund (key, refund_id, txn, amount_minor, "
                         "currency, time_us, key_is_txn) FROM STDIN",
                         errstr, errstr_size);
        if (err == PS_OK)
            err = copy_send(st->conn, st->refunds.data, st->refunds.len, errstr, errstr_size);
        if (err == PS_OK)
            err = copy_end(st->conn, errstr, errstr_size);
    }
    if (err == PS_OK && st->stats.txn_keyed_rows > 0)
        err = resolve_txn_keys(st, errstr, errstr_size);
    if (err == PS_OK)
        err = check_suspects(st, errstr, errstr_size);
    if (err == PS_OK && stats != NULL)
        *stats = st->stats;
    return err;
}

void recon_stage_destroy(recon_stage_t *st)
{
    if (st == NULL)
        return;
    if (st->copying) {
        /* Abandon the COPY: the server rolls it back and reports the error. */
        PQputCopyEnd(st->conn, "reconciliation abandoned");
        for (PGresult *res; (res = PQgetResult(st->conn)) != NULL;)
            PQclear(res);
    }
    for (size_t i = 0; i < st->suspect_count; i++) {
        ps_free(st->suspects[i].key);
        ps_free(st->suspects[i].rid);
    }
    ps_buf_deinit(&st->chunk);
    ps_buf_deinit(&st->refunds);
    ps_free(st->slots);
    ps_free(st);
}
