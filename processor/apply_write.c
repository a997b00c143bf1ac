/*
 * The writing half of the ledger apply (steps 4 and 6 in apply.c): one
 * set-based statement per table and batch, arrays built in C. Rows that two
 * concurrent batches may both touch (accounts) are written in key order, so
 * they lock in the same order, and last, so they stay locked only until the
 * COMMIT that follows; payments are already serialized by the advisory locks
 * of step 3.
 */
#include "apply_int.h"

#include <paystream/assert.h>
#include <paystream/log.h>
#include <paystream/mem.h>
#include <paystream/money.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INSERT_EVENTS_SQL                                                                          \
    "INSERT INTO payment_events (channel, channel_event_id, kind, channel_event_type, "           \
    "merchant_order_no, channel_txn_id, refund_id, amount_minor, refund_total_minor, currency, "  \
    "account_id, event_time, paid_time, received_time, evidence_avro, kafka_topic, "              \
    "kafka_partition, kafka_offset) "                                                             \
    "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], "           \
    "$6::text[], $7::text[], $8::int8[], $9::int8[], $10::text[], $11::text[], "                  \
    "$12::timestamptz[], $13::timestamptz[], $14::timestamptz[], $15::bytea[], $16::text[], "     \
    "$17::int8[], $18::int8[])"

static const char insert_events_sql[] =
    INSERT_EVENTS_SQL " ON CONFLICT (channel, channel_event_id) DO NOTHING "
                      "RETURNING channel, channel_event_id";

/* The same rows without the conflict clause, for events whose payment does
 * not exist yet (see insert_new_payment_events): a plain INSERT skips the
 * speculative insertion and the RETURNING of every row. */
static const char insert_new_events_sql[] = INSERT_EVENTS_SQL;

static const char insert_commands_sql[] =
    "INSERT INTO ledger_commands (command_id, kind, channel, payment_key, merchant_order_no, "
    "amount_minor, currency, account_id, reason, recon_run_id, evidence_avro, kafka_topic, "
    "kafka_partition, kafka_offset) "
    "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], "
    "$6::int8[], $7::text[], $8::text[], $9::text[], $10::text[], $11::bytea[], $12::text[], "
    "$13::int8[], $14::int8[]) "
    "ON CONFLICT (command_id) DO NOTHING RETURNING command_id";

/* The parameter types of the event and command statements above, one letter each (see
 * apply_arrays_reset). */
#define EVENT_TYPES "TTTTTTTIITTZZZYTII"
#define COMMAND_TYPES "TTTTTITTTTYTII"

static const char *topic_of(const proc_item_t *it) { return it->topic != NULL ? it->topic : ""; }

static void add_event_row(proc_apply_t *ap, const proc_item_t *it)
{
    const ps_callback_event_t *ev = &it->ev;
    pg_array_t *a = ap->arr;

    pga_text(&a[0], ps_channel_name(ev->channel));
    pga_text(&a[1], ev->channel_event_id);
    pga_text(&a[2], ps_event_kind_name(ev->kind));
    pga_text(&a[3], ev->channel_event_type);
    pga_text(&a[4], ev->merchant_order_no);
    pga_text(&a[5], ev->channel_txn_id);
    pga_text(&a[6], ev->refund_id);
    pga_int(&a[7], ev->amount_minor);
    if (ev->has_refund_total)
        pga_int(&a[8], ev->refund_total_minor);
    else
        pga_null(&a[8]);
    pga_text(&a[9], ev->currency);
    pga_text(&a[10], ev->account_id);
    pga_time(&a[11], ev->event_time_us);
    if (ev->has_paid_time)
        pga_time(&a[12], ev->paid_time_us);
    else
        pga_null(&a[12]);
    pga_time(&a[13], ev->received_time_us);
    pga_bytea(&a[14], it->raw, it->raw != NULL ? it->raw_len : 0);
    pga_text(&a[15], topic_of(it));
    pga_int(&a[16], it->partition);
    pga_int(&a[17], it->offset);
}

static void add_command_row(proc_apply_t *ap, const proc_item_t *it, const char *order)
{
    const ps_ledger_command_t *cmd = &it->cmd;
    pg_array_t *a = ap->arr;

    pga_text(&a[0], cmd->command_id);
    pga_text(&a[1], ps_command_kind_name(cmd->kind));
    pga_text(&a[2], ps_channel_name(cmd->channel));
    pga_text(&a[3], cmd->payment_key);
    pga_text(&a[4], order);
    pga_int(&a[5], cmd->amount_minor);
    pga_text(&a[6], cmd->currency);
    pga_text(&a[7], cmd->account_id);
    pga_text(&a[8], cmd->reason);
    pga_text(&a[9], cmd->recon_run_id);
    pga_bytea(&a[10], it->raw, it->raw != NULL ? it->raw_len : 0);
    pga_text(&a[11], topic_of(it));
    pga_int(&a[12], it->partition);
    pga_int(&a[13], it->offset);
}

/* Whether the first n arrays grew enough to be sent now: big evidence
 * (up to PS_AVRO_MESSAGE_BYTES_MAX a message) must not push one parameter
 * past PS_APPLY_STMT_BYTES_MAX, however large the batch. */
static bool arrays_full(const proc_apply_t *ap, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (ap->arr[i].buf.len >= PS_APPLY_CHUNK_BYTES)
            return true;
    }
    return false;
}

/* Sends the rows accumulated in the arrays. The checked statements mark the
 * rows that come back FATE_NEW; the plain one (events of new payments)
 * returns nothing, its rows were marked when added. */
static ps_err_t insert_chunk(proc_apply_t *ap, bool ev, bool plain, ps_err_class_t *cls,
                             char *errstr, size_t errstr_size)
{
    size_t nparams = strlen(ev ? EVENT_TYPES : COMMAND_TYPES);
    PGresult *res = NULL;
    char key[PS_JOURNAL_KEY_BYTES_MAX];
    ps_err_t err;

    err = apply_exec(ap->conn,
                     plain ? "insert new payments' events"
                           : ev ? "insert payment events" : "insert ledger commands",
                     plain ? insert_new_events_sql : ev ? insert_events_sql : insert_commands_sql,
                     (int)nparams, apply_arrays_params(ap, nparams), plain ? NULL : &res, cls,
                     errstr, errstr_size);
    for (int r = 0; err == PS_OK && res != NULL && r < PQntuples(res); r++) {
        size_t i;

        if (ev)
            snprintf(key, sizeof(key), "E%s\x1f%s", PQgetvalue(res, r, 0), PQgetvalue(res, r, 1));
        else
            snprintf(key, sizeof(key), "C%s", PQgetvalue(res, r, 0));
        if (strmap_get(&ap->seen, key, &i)) {
            ap->st[i].fate = FATE_NEW;
            ap->st[i].inserted = true;
        }
    }
    PQclear(res);
    apply_arrays_reset(ap, ev ? EVENT_TYPES : COMMAND_TYPES);
    return err;
}

/* Whether item i is a live event of a payment that does not exist yet. */
static bool of_new_payment(const proc_apply_t *ap, const proc_item_t *items, size_t i)
{
    return items[i].kind == PROC_ITEM_EVENT && ap->st[i].fate == FATE_LIVE &&
           !ap->groups[ap->st[i].group].pay.exists;
}

/* Inserts the live items of one kind, in chunks. Checked (ON CONFLICT DO
 * NOTHING RETURNING): what does not come back was already applied
 * (FATE_DUP). Plain (events only): just the events of new payments, all
 * FATE_NEW, or the statement fails (see insert_new_payment_events). */
static ps_err_t insert_kind(proc_apply_t *ap, proc_item_t *items, size_t n, proc_item_kind_t kind,
                            bool plain, ps_err_class_t *cls, char *errstr, size_t errstr_size)
{
    bool ev = kind == PROC_ITEM_EVENT;
    size_t nparams = strlen(ev ? EVENT_TYPES : COMMAND_TYPES), count = 0;
    ps_err_t err = PS_OK;

    PS_ASSERT(ev || !plain);
    apply_arrays_reset(ap, ev ? EVENT_TYPES : COMMAND_TYPES);
    for (size_t i = 0; err == PS_OK && i < n; i++) {
        if (items[i].kind != kind || ap->st[i].fate != FATE_LIVE ||
            (plain && !of_new_payment(ap, items, i)))
            continue;
        ap->st[i].fate = plain ? FATE_NEW : FATE_DUP; /* checked: unless it comes back */
        ap->st[i].inserted = plain;
        if (ev)
            add_event_row(ap, &items[i]);
        else
            add_command_row(ap, &items[i], ap->st[i].order);
        count++;
        if (arrays_full(ap, nparams)) {
            err = insert_chunk(ap, ev, plain, cls, errstr, errstr_size);
            count = 0;
        }
    }
    if (err == PS_OK && count > 0)
        err = insert_chunk(ap, ev, plain, cls, errstr, errstr_size);
    return err;
}

/* Events of payments that do not exist yet (step 3 loaded them under their
 * advisory locks) cannot have been applied: an applied event always leaves
 * its payment's row, and payments are never deleted. Most events are the
 * first of their payment, so they are inserted plainly, which costs less
 * than the conflict-checking insert. That reasoning only decides the speed,
 * never the result: the plain inserts run under a savepoint, and if one
 * meets an existing row after all (an event id reused for another order, a
 * hand-edited table), everything is rolled back to the savepoint and those
 * events go through the checked insert like all others. */
static ps_err_t insert_new_payment_events(proc_apply_t *ap, proc_item_t *items, size_t n,
                                          ps_err_class_t *cls, char *errstr, size_t errstr_size)
{
    char first[PS_ERRSTR_SIZE];
    bool any = false;
    ps_err_t err;

    for (size_t i = 0; i < n && !any; i++)
        any = of_new_payment(ap, items, i);
    if (!any)
        return PS_OK;
    err = apply_exec(ap->conn, "set savepoint", "SAVEPOINT new_payment_events", 0, &ap->params,
                     NULL, cls, errstr, errstr_size);
    if (err == PS_OK)
        err = insert_kind(ap, items, n, PROC_ITEM_EVENT, true, cls, errstr, errstr_size);
    if (err == PS_OK)
        return apply_exec(ap->conn, "release savepoint", "RELEASE SAVEPOINT new_payment_events",
                          0, &ap->params, NULL, cls, errstr, errstr_size);
    if (*cls != PS_ERRCLASS_ABORTABLE) /* a lost connection, a full disk: the batch fails */
        return err;
    ps_log_warn("%s: applying those events with the conflict check instead", errstr);
    for (size_t i = 0; i < n; i++) {
        if (items[i].kind == PROC_ITEM_EVENT && ap->st[i].fate == FATE_NEW &&
            !ap->groups[ap->st[i].group].pay.exists) {
            ap->st[i].fate = FATE_LIVE;
            ap->st[i].inserted = false;
        }
    }
    snprintf(first, sizeof(first), "%s", errstr);
    err = apply_exec(ap->conn, "roll back to savepoint",
                     "ROLLBACK TO SAVEPOINT new_payment_events", 0, &ap->params, NULL, cls,
                     errstr, errstr_size);
    return err == PS_OK ? PS_OK
                        : ps_errstr_prefix(errstr, errstr_size, err, "%s; then", first);
}

ps_err_t apply_insert_inputs(proc_apply_t *ap, proc_item_t *items, size_t n, ps_err_class_t *cls,
                             char *errstr, size_t errstr_size)
{
    ps_err_t err = insert_new_payment_events(ap, items, n, cls, errstr, errstr_size);

    if (err == PS_OK)
        err = insert_kind(ap, items, n, PROC_ITEM_EVENT, false, cls, errstr, errstr_size);
    if (err == PS_OK)
        err = insert_kind(ap, items, n, PROC_ITEM_COMMAND, false, cls, errstr, errstr_size);
    return err;
}

/* New payments are plain INSERTs and known ones UPDATEs: under the advisory
 * locks of step 3 the load saw exactly which exist, and a plain INSERT costs
 * about half of INSERT ... ON CONFLICT. The UPDATE is state-ranked: a row
 * only moves up in rank, except the one amount-driven step down (a refund
 * reversal lowers refunded_minor). The fold already guarantees it; the
 * condition makes the database refuse a regression too, and a refused row
 * fails the batch. */
static const char insert_payments_sql[] =
    "INSERT INTO payments (channel, merchant_order_no, channel_txn_id, state, state_rank, "
    "amount_minor, refunded_minor, currency, account_id, paid_time, is_paid, is_closed, "
    "refund_total_minor) "
    "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], "
    "$6::int8[], $7::int8[], $8::text[], $9::text[], $10::timestamptz[], $11::bool[], "
    "$12::bool[], $13::int8[])";
/* The rows are found by key in an unflattened LATERAL subquery (one index
 * probe each) and updated by their ctid: joined on the key, the UPDATE was
 * planned as a hash join over a sequential scan of all payments (215 of
 * 250 ms for 5,000 updates at 200,000 payments, growing with the ledger).
 * The ctid cannot go stale: the payment's advisory lock (step 3) is held. */
static const char update_payments_sql[] =
    "UPDATE payments AS p SET channel_txn_id = COALESCE(p.channel_txn_id, u.txn), "
    /* "" is an account not yet named (a refund that came before its payment). */
    "account_id = CASE WHEN p.account_id = '' THEN u.acct ELSE p.account_id END, "
    "state = u.state, state_rank = u.state_rank, amount_minor = u.amount, "
    "refunded_minor = u.refunded, paid_time = COALESCE(p.paid_time, u.paid_time), "
    "is_paid = u.paid, is_closed = u.closed, refund_total_minor = u.total, updated_at = now() "
    "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::int8[], "
    "$7::int8[], $8::text[], $9::text[], $10::timestamptz[], $11::bool[], $12::bool[], "
    "$13::int8[]) AS u(ch, ord, txn, state, state_rank, amount, refunded, cur, acct, "
    "paid_time, paid, closed, total) "
    "CROSS JOIN LATERAL (SELECT q.ctid AS tid FROM payments q "
    "WHERE q.channel = u.ch AND q.merchant_order_no = u.ord OFFSET 0) AS k "
    "WHERE p.ctid = k.tid "
    "AND (p.state_rank <= u.state_rank OR u.refunded < p.refunded_minor)";

/* Fills the 13 payment arrays with the changed payments that do (not) exist. */
static size_t payment_arrays(proc_apply_t *ap, bool existing)
{
    pg_array_t *a = ap->arr;
    size_t count = 0;

    apply_arrays_reset(ap, "TTTTIIITTZBBI");
    for (size_t g = 0; g < ap->ngroups; g++) {
        const proc_payment_t *p = &ap->groups[g].pay;
        proc_pay_state_t state = proc_payment_state(p);

        if (!p->changed || p->exists != existing)
            continue;
        PS_ASSERT(p->account_id != NULL && p->currency[0] != '\0');
        pga_text(&a[0], ps_channel_name(p->channel));
        pga_text(&a[1], p->merchant_order_no);
        pga_text(&a[2], p->channel_txn_id);
        pga_text(&a[3], proc_pay_state_name(state));
        pga_int(&a[4], (int64_t)state);
        pga_int(&a[5], p->amount_minor);
        pga_int(&a[6], p->refunded_minor);
        pga_text(&a[7], p->currency);
        pga_text(&a[8], p->account_id);
        if (p->has_paid_time)
            pga_time(&a[9], p->paid_time_us);
        else
            pga_null(&a[9]);
        pga_bool(&a[10], p->paid);
        pga_bool(&a[11], p->closed);
        pga_int(&a[12], p->refund_total_minor);
        count++;
    }
    return count;
}

static ps_err_t write_payments(proc_apply_t *ap, ps_err_class_t *cls, char *errstr,
                               size_t errstr_size)
{
    PGresult *res = NULL;
    size_t count = payment_arrays(ap, false);
    ps_err_t err = PS_OK;

    if (count > 0)
        err = apply_exec(ap->conn, "insert payments", insert_payments_sql, 13,
                         apply_arrays_params(ap, 13), NULL, cls, errstr, errstr_size);
    count = err == PS_OK ? payment_arrays(ap, true) : 0;
    if (count > 0)
        err = apply_exec(ap->conn, "update payments", update_payments_sql, 13,
                         apply_arrays_params(ap, 13), &res, cls, errstr, errstr_size);
    if (err == PS_OK && res != NULL && strtoull(PQcmdTuples(res), NULL, 10) != count) {
        *cls = PS_ERRCLASS_FATAL;
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                            "could not update payments: the state-ranked update refused %llu of "
                            "%zu rows (a payment would have moved backwards)",
                            (unsigned long long)(count - strtoull(PQcmdTuples(res), NULL, 10)),
                            count);
    }
    PQclear(res);
    return err;
}

static ps_err_t write_refunds(proc_apply_t *ap, ps_err_class_t *cls, char *errstr,
                              size_t errstr_size)
{
    static const char sql[] =
        "INSERT INTO payment_refunds AS r (channel, merchant_order_no, refund_id, amount_minor, "
        "state, posted) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], "
        "$5::text[], $6::bool[]) ON CONFLICT (channel, merchant_order_no, refund_id) DO UPDATE "
        "SET state = EXCLUDED.state, posted = EXCLUDED.posted, updated_at = now()";
    pg_array_t *a = ap->arr;
    size_t count = 0;

    apply_arrays_reset(ap, "TTTITB");
    for (size_t g = 0; g < ap->ngroups; g++) {
        const proc_payment_t *p = &ap->groups[g].pay;

        for (size_t k = 0; k < p->refund_count; k++) {
            if (!p->refunds[k].changed)
                continue;
            pga_text(&a[0], ps_channel_name(p->channel));
            pga_text(&a[1], p->merchant_order_no);
            pga_text(&a[2], p->refunds[k].refund_id);
            pga_int(&a[3], p->refunds[k].amount_minor);
            pga_text(&a[4], proc_refund_state_name(p->refunds[k].state));
            pga_bool(&a[5], p->refunds[k].posted);
            count++;
        }
    }
    if (count == 0)
        return PS_OK;
    return apply_exec(ap->conn, "upsert refunds", sql, 6, apply_arrays_params(ap, 6), NULL, cls,
                      errstr, errstr_size);
}

static int cmp_delta(const void *x, const void *y)
{
    const account_delta_t *a = x, *b = y;
    int c = strcmp(a->account_id, b->account_id);

    return c != 0 ? c : strcmp(a->currency, b->currency);
}

/* Sums the batch's journal lines per account: one row per account. */
static ps_err_t aggregate_deltas(proc_apply_t *ap, char *errstr, size_t errstr_size)
{
    char key[PS_JOURNAL_KEY_BYTES_MAX];

    for (size_t j = 0; j < ap->journals.count; j++) {
        proc_journal_t *jr = &ap->journals.items[j];

        for (int l = 0; l < 2; l++) {
            size_t d = ap->ndeltas;

            snprintf(key, sizeof(key), "%s\x1f%s", jr->lines[l].account_id, jr->currency);
            if (!strmap_get_or_put(&ap->accts, key, &d)) {
                if (ap->ndeltas == ap->deltas_cap) {
                    ap->deltas_cap = ap->deltas_cap == 0 ? 64 : ap->deltas_cap * 2;
                    ap->deltas = ps_realloc(ap->deltas, ap->deltas_cap * sizeof(*ap->deltas));
                }
                ap->deltas[d] = (account_delta_t){jr->lines[l].account_id, jr->currency,
                                                  jr->lines[l].kind, 0};
                ap->ndeltas++;
            }
            if (ps_money_add(ap->deltas[d].delta_minor, jr->lines[l].amount_minor,
                             &ap->deltas[d].delta_minor) != PS_OK)
                return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                                     "could not aggregate balances: the batch's sum for an "
                                     "account in %s overflows",
                                     jr->currency);
        }
    }
    if (ap->ndeltas > 1) /* qsort(NULL, 0) is undefined */
        qsort(ap->deltas, ap->ndeltas, sizeof(*ap->deltas), cmp_delta);
    return PS_OK;
}

/* Fills arrays 0-2 (and 3 when with_delta) with the batch's accounts, in
 * key order. */
static void account_arrays(proc_apply_t *ap, bool with_delta)
{
    pg_array_t *a = ap->arr;

    apply_arrays_reset(ap, "TTTI");
    for (size_t d = 0; d < ap->ndeltas; d++) {
        pga_text(&a[0], ap->deltas[d].account_id);
        pga_text(&a[1], ap->deltas[d].currency);
        pga_text(&a[2], proc_account_kind_name(ap->deltas[d].kind));
        if (with_delta)
            pga_int(&a[3], ap->deltas[d].delta_minor);
    }
}

/* Creates the batch's missing accounts, with a zero balance, before the
 * journals (the trigger of 007 requires every journal's accounts to exist).
 * The rows that every batch shares (clearing accounts, busy players) are
 * locked only by write_balances, last, so concurrent instances hold them
 * for the length of the offsets update and COMMIT instead of the whole
 * journal insert. Accounts that exist are filtered out first with a plain
 * read (one index probe each, a scalar subquery so that it is never planned
 * as a scan of all accounts): ON CONFLICT DO NOTHING alone would wait for
 * any open batch that updated the row's balance. A missing account inserted
 * by two instances at once makes one wait for the other's COMMIT, or at
 * worst fail with a deadlock (40P01, retried). */
static ps_err_t ensure_accounts(proc_apply_t *ap, ps_err_class_t *cls, char *errstr,
                                size_t errstr_size)
{
    static const char sql[] =
        "INSERT INTO accounts (account_id, currency, kind) "
        "SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) AS u(acct, cur, kind) "
        "WHERE (SELECT a.account_id FROM accounts a "
        "WHERE a.account_id = u.acct AND a.currency = u.cur::char(3)) IS NULL "
        "ON CONFLICT (account_id, currency) DO NOTHING";
    ps_err_t err = aggregate_deltas(ap, errstr, errstr_size);

    if (err != PS_OK || ap->ndeltas == 0)
        return err;
    account_arrays(ap, false);
    return apply_exec(ap->conn, "create accounts", sql, 3, apply_arrays_params(ap, 3), NULL,
                      cls, errstr, errstr_size);
}

/* Adds the batch's aggregated deltas to the balances: the last statement of
 * the apply (see ensure_accounts), one row per account in key order, so
 * concurrent batches lock shared accounts in the same order. The rows exist
 * (ensure_accounts); the upsert form keeps the statement correct and the
 * lock order fixed (INSERT ... SELECT FROM unnest visits rows in array
 * order, which an UPDATE ... FROM join does not promise). */
static ps_err_t write_balances(proc_apply_t *ap, ps_err_class_t *cls, char *errstr,
                               size_t errstr_size)
{
    static const char sql[] =
        "INSERT INTO accounts AS a (account_id, currency, kind, balance_minor) "
        "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[]) "
        "ON CONFLICT (account_id, currency) DO UPDATE "
        "SET balance_minor = a.balance_minor + EXCLUDED.balance_minor, updated_at = now()";

    if (ap->ndeltas == 0)
        return PS_OK;
    account_arrays(ap, true);
    return apply_exec(ap->conn, "update account balances", sql, 4, apply_arrays_params(ap, 4),
                      NULL, cls, errstr, errstr_size);
}

/* Journals, one row each with both lines (007): the first line's account and
 * signed amount, and the contra account that takes its negation, so a
 * journal balances by construction. The statement-level trigger of 007
 * checks that every named account exists in the journal's currency. */
static ps_err_t write_journals(proc_apply_t *ap, ps_err_class_t *cls, char *errstr,
                               size_t errstr_size)
{
    static const char sql[] =
        "INSERT INTO journals (source_kind, source_id, description, effect, currency, "
        "account_id, amount_minor, contra_account_id) "
        "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], "
        "$6::text[], $7::int8[], $8::text[])";
    pg_array_t *a = ap->arr;

    if (ap->journals.count == 0)
        return PS_OK;
    apply_arrays_reset(ap, "TTTTTTIT");
    for (size_t j = 0; j < ap->journals.count; j++) {
        const proc_journal_t *jr = &ap->journals.items[j];

        /* post() in fold.c builds every journal as an amount and its negation. */
        PS_ASSERT(jr->lines[1].amount_minor == -jr->lines[0].amount_minor);
        pga_text(&a[0], jr->from_command ? "LEDGER_COMMAND" : "CALLBACK_EVENT");
        pga_text(&a[1], jr->source_id);
        pga_text(&a[2], jr->description);
        pga_text(&a[3], jr->effect);
        pga_text(&a[4], jr->currency);
        pga_text(&a[5], jr->lines[0].account_id);
        pga_int(&a[6], jr->lines[0].amount_minor);
        pga_text(&a[7], jr->lines[1].account_id);
    }
    return apply_exec(ap->conn, "insert journals", sql, 8, apply_arrays_params(ap, 8), NULL, cls,
                      errstr, errstr_size);
}

static ps_err_t remove_invalid(proc_apply_t *ap, proc_item_t *items, size_t n,
                               ps_err_class_t *cls, char *errstr, size_t errstr_size);

/* Dead letters, then the removal of the invalid inputs' rows. */
static ps_err_t write_dead(proc_apply_t *ap, proc_item_t *items, size_t n, int64_t *dead_count,
                           ps_err_class_t *cls, char *errstr, size_t errstr_size)
{
#define DEAD_TYPES "TIITYY"
    static const char dead_sql[] =
        "INSERT INTO dead_letters (topic, partition, kafka_offset, reason, message_key, raw) "
        "SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[], $4::text[], $5::bytea[], "
        "$6::bytea[]) ON CONFLICT (topic, partition, kafka_offset) DO NOTHING";
    pg_array_t *a = ap->arr;
    size_t undo = 0, count = 0;
    ps_err_t err = PS_OK;

    apply_arrays_reset(ap, DEAD_TYPES);
    for (size_t i = 0; err == PS_OK && i < n; i++) {
        const item_state_t *st = &ap->st[i];
        const char *reason = st->reason != NULL ? st->reason : items[i].reason;

        if (st->fate != FATE_DEAD)
            continue;
        pga_text(&a[0], topic_of(&items[i]));
        pga_int(&a[1], items[i].partition);
        pga_int(&a[2], items[i].offset);
        pga_text(&a[3], reason[0] != '\0' ? reason : "unusable message");
        if (items[i].key != NULL)
            pga_bytea(&a[4], items[i].key, items[i].key_len);
        else
            pga_null(&a[4]);
        pga_bytea(&a[5], items[i].raw, items[i].raw != NULL ? items[i].raw_len : 0);
        (*dead_count)++;
        undo += st->inserted;
        /* Raw poison can be as large as any message: send in chunks. */
        count++;
        if (arrays_full(ap, 6)) {
            err = apply_exec(ap->conn, "insert dead letters", dead_sql, 6,
                             apply_arrays_params(ap, 6), NULL, cls, errstr, errstr_size);
            apply_arrays_reset(ap, DEAD_TYPES);
            count = 0;
        }
    }
    if (err == PS_OK && count > 0)
        err = apply_exec(ap->conn, "insert dead letters", dead_sql, 6, apply_arrays_params(ap, 6),
                         NULL, cls, errstr, errstr_size);
    if (err != PS_OK || undo == 0)
        return err;
    return remove_invalid(ap, items, n, cls, errstr, errstr_size);
}

/* Removes the rows of inputs inserted in step 4 that the fold then found
 * invalid, so that the event tables hold applied inputs only. */
static ps_err_t remove_invalid(proc_apply_t *ap, proc_item_t *items, size_t n,
                               ps_err_class_t *cls, char *errstr, size_t errstr_size)
{
    static const char undo_sql[] =
        "WITH e AS (DELETE FROM payment_events WHERE (channel, channel_event_id) IN "
        "(SELECT * FROM unnest($1::text[], $2::text[]))) "
        "DELETE FROM ledger_commands WHERE command_id = ANY ($3::text[])";
    pg_array_t *a = ap->arr;

    apply_arrays_reset(ap, "TTT");
    for (size_t i = 0; i < n; i++) {
        if (ap->st[i].fate != FATE_DEAD || !ap->st[i].inserted)
            continue;
        if (items[i].kind == PROC_ITEM_EVENT) {
            pga_text(&a[0], ps_channel_name(items[i].ev.channel));
            pga_text(&a[1], items[i].ev.channel_event_id);
        } else {
            pga_text(&a[2], items[i].cmd.command_id);
        }
    }
    return apply_exec(ap->conn, "remove invalid inputs", undo_sql, 3, apply_arrays_params(ap, 3),
                      NULL, cls, errstr, errstr_size);
}

ps_err_t apply_write(proc_apply_t *ap, proc_item_t *items, size_t n, proc_apply_stats_t *stats,
                     ps_err_class_t *cls, char *errstr, size_t errstr_size)
{
    ps_err_t err = write_payments(ap, cls, errstr, errstr_size);

    if (err == PS_OK)
        err = write_refunds(ap, cls, errstr, errstr_size);
    if (err == PS_OK)
        err = ensure_accounts(ap, cls, errstr, errstr_size);
    if (err == PS_OK)
        err = write_journals(ap, cls, errstr, errstr_size);
    if (err == PS_OK)
        err = write_dead(ap, items, n, &stats->dead_lettered, cls, errstr, errstr_size);
    if (err == PS_OK) /* last: see ensure_accounts */
        err = write_balances(ap, cls, errstr, errstr_size);
    if (err != PS_OK)
        return err;
    for (size_t i = 0; i < n; i++) {
        bool ev = items[i].kind == PROC_ITEM_EVENT;

        if (ap->st[i].fate == FATE_NEW)
            *(ev ? &stats->events_applied : &stats->commands_applied) += 1;
        else if (ap->st[i].fate == FATE_DUP)
            *(ev ? &stats->events_duplicate : &stats->commands_duplicate) += 1;
    }
    stats->journals_posted = (int64_t)ap->journals.count;
    return PS_OK;
}
