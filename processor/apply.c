/*
 * The ledger apply (apply.h): a batch of decoded items becomes a handful of
 * set-based statements inside the caller's transaction, whatever the batch
 * size:
 *
 *   1. classify: poison and events/commands that break the data model's
 *      constraints become dead letters; in-batch repeats are duplicates
 *   2. resolve command payment keys (order number or channel txn id)
 *   3. lock every affected payment key (transaction advisory locks, taken in
 *      one sorted statement, so concurrent batches never deadlock and a
 *      payment that does not exist yet is locked too), then load the
 *      payments and, where needed, their refunds
 *   4. insert events / commands ON CONFLICT DO NOTHING RETURNING: only what
 *      comes back is new; the rest is absorbed as duplicates (events of
 *      payments that do not exist yet first go in plainly, under a savepoint
 *      that falls back to this; apply_write.c, insert_new_payment_events)
 *   5. fold each payment's new inputs in C (fold.c): so no statement ever
 *      touches a row twice
 *   6. write: payments, refunds, missing accounts (created, not locked),
 *      journals (one row each with both lines, balanced by construction;
 *      one statement, whose trigger checks the accounts), dead letters, the removal of the rows of inputs the fold found
 *      invalid, and last the account balances aggregated per account (one
 *      row per account per batch, in key order): the accounts every batch
 *      shares stay locked only from there to the COMMIT
 *
 * Everything is idempotent: re-applying a batch finds its events and
 * commands present and does nothing. The caller's transaction must be READ
 * COMMITTED (the default): the load in step 3 must see what a concurrent
 * batch committed while this one waited for the payment locks. (Under a
 * stricter level such a race fails with 40001 or with the journals' unique
 * key, both retried; nothing is ever posted twice.)
 */
#include "apply.h"

#include "apply_int.h"
#include "fold.h"

#include <paystream/assert.h>
#include <paystream/log.h>
#include <paystream/mem.h>
#include <paystream/money.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void proc_item_deinit(proc_item_t *item)
{
    if (item == NULL)
        return;
    ps_callback_event_deinit(&item->ev);
    ps_ledger_command_deinit(&item->cmd);
    memset(item, 0, sizeof(*item));
}

ps_err_t proc_apply_new(PGconn *conn, proc_apply_t **out, char *errstr, size_t errstr_size)
{
    proc_apply_t *ap;

    PS_ASSERT(conn != NULL && out != NULL);
    (void)errstr;
    (void)errstr_size;
    ap = ps_calloc(1, sizeof(*ap));
    ap->conn = conn;
    for (size_t i = 0; i < ARRAYS_MAX; i++)
        pga_init(&ap->arr[i]);
    *out = ap;
    return PS_OK;
}

static void reset_batch(proc_apply_t *ap)
{
    for (size_t i = 0; i < ap->st_cap; i++) {
        ps_free(ap->st[i].order);
        ps_free(ap->st[i].reason);
        memset(&ap->st[i], 0, sizeof(ap->st[i]));
    }
    for (size_t g = 0; g < ap->ngroups; g++) {
        proc_payment_deinit(&ap->groups[g].pay);
        ap->groups[g].n = 0;
    }
    ap->ngroups = 0;
    strmap_reset(&ap->keys);
    strmap_reset(&ap->seen);
    strmap_reset(&ap->accts);
    ap->ndeltas = 0;
    proc_journal_list_reset(&ap->journals);
}

void proc_apply_destroy(proc_apply_t *ap)
{
    if (ap == NULL)
        return;
    reset_batch(ap);
    for (size_t g = 0; g < ap->groups_cap; g++)
        ps_free(ap->groups[g].inputs);
    ps_free(ap->groups);
    ps_free(ap->st);
    ps_free(ap->deltas);
    strmap_deinit(&ap->keys);
    strmap_deinit(&ap->seen);
    strmap_deinit(&ap->accts);
    proc_journal_list_deinit(&ap->journals);
    for (size_t i = 0; i < ARRAYS_MAX; i++)
        pga_deinit(&ap->arr[i]);
    ps_free(ap);
}

void apply_arrays_reset(proc_apply_t *ap, const char *types)
{
    static const char letters[] = "TIBYZ"; /* in pga_type_t order */
    size_t n = strlen(types);

    PS_ASSERT(n <= ARRAYS_MAX);
    for (size_t i = 0; i < n; i++) {
        const char *l = strchr(letters, types[i]);

        PS_ASSERT(l != NULL && *l != '\0');
        pga_reset(&ap->arr[i], (pga_type_t)(l - letters));
    }
}

const apply_params_t *apply_arrays_params(proc_apply_t *ap, size_t n)
{
    PS_ASSERT(n <= ARRAYS_MAX);
    for (size_t i = 0; i < n; i++) {
        ap->params.values[i] = pga_close(&ap->arr[i], &ap->params.lengths[i]);
        ap->params.formats[i] = 1;
    }
    return &ap->params;
}

static void dead(item_state_t *st, const char *reason)
{
    st->fate = FATE_DEAD;
    ps_free(st->reason);
    st->reason = reason != NULL ? ps_strdup(reason) : NULL;
}

static bool currency_ok(const char *c)
{
    for (int i = 0; i < 3; i++) {
        if (c[i] < 'A' || c[i] > 'Z')
            return false;
    }
    return c[3] == '\0';
}

static bool empty(const char *s) { return s == NULL || s[0] == '\0'; }

/* Checks what the database's constraints would refuse (a refused statement
 * would fail the batch forever); returns the reason or NULL. */
static const char *event_defect(const ps_callback_event_t *ev)
{
    if ((unsigned)ev->channel >= PS_CHANNEL_COUNT || (unsigned)ev->kind >= PS_EVENT_KIND_COUNT)
        return "event has an unknown channel or kind";
    if (empty(ev->channel_event_id) || empty(ev->merchant_order_no))
        return "event lacks its channel event id or merchant order number";
    if (ev->channel_event_type == NULL || ev->channel_txn_id == NULL)
        return "event lacks its event type or channel transaction id";
    /* Refund and close notifications may name no account (WeChat, Alipay):
     * the fold takes the payment's. A payment must name the player. */
    if (ev->kind == PS_EVENT_PAYMENT_SUCCEEDED && empty(ev->account_id))
        return "payment event has an empty account id: there is no player account to credit";
    if (!currency_ok(ev->currency))
        return "event currency is not three upper-case letters";
    if (ev->amount_minor < 0 || (ev->has_refund_total && ev->refund_total_minor < 0))
        return "event amount is negative";
    return NULL;
}

static const char *command_defect(const ps_ledger_command_t *cmd)
{
    if ((unsigned)cmd->channel >= PS_CHANNEL_COUNT || (unsigned)cmd->kind >= PS_COMMAND_KIND_COUNT)
        return "command has an unknown channel or kind";
    if (empty(cmd->command_id) || empty(cmd->payment_key))
        return "command lacks its command id or payment key";
    if (!currency_ok(cmd->currency))
        return "command currency is not three upper-case letters";
    return NULL;
}

/* Step 1: dead letters and in-batch duplicates. Returns commands seen. */
static size_t classify(proc_apply_t *ap, proc_item_t *items, size_t n)
{
    char key[PS_JOURNAL_KEY_BYTES_MAX];
    size_t commands = 0;

    for (size_t i = 0; i < n; i++) {
        const char *defect = NULL;
        size_t first = i;

        PS_ASSERT(items[i].partition >= 0 && items[i].offset >= 0);
        if (items[i].kind == PROC_ITEM_EVENT) {
            defect = event_defect(&items[i].ev);
            if (defect == NULL)
                snprintf(key, sizeof(key), "E%s\x1f%s", ps_channel_name(items[i].ev.channel),
                         items[i].ev.channel_event_id);
        } else if (items[i].kind == PROC_ITEM_COMMAND) {
            defect = command_defect(&items[i].cmd);
            if (defect == NULL)
                snprintf(key, sizeof(key), "C%s", items[i].cmd.command_id);
            commands++;
        } else {
            dead(&ap->st[i], NULL);
            continue;
        }
        if (defect != NULL)
            dead(&ap->st[i], defect);
        else if (strmap_get_or_put(&ap->seen, key, &first))
            ap->st[i].fate = FATE_DUP;
        else if (items[i].kind == PROC_ITEM_EVENT)
            ap->st[i].order = ps_strdup(items[i].ev.merchant_order_no);
    }
    return commands;
}

/* Step 2: a command's payment key is an order number or a channel txn id. */
static ps_err_t resolve_commands(proc_apply_t *ap, proc_item_t *items, size_t n,
                                 ps_err_class_t *cls, char *errstr, size_t errstr_size)
{
    /* LATERAL index probes, as in lock_and_load; UNION ALL instead of OR so
     * that each branch uses its own unique index. */
    static const char sql[] =
        "SELECT k.i, p.merchant_order_no, p.merchant_order_no = k.key "
        "FROM unnest($1::text[], $2::text[], $3::int8[]) AS k(ch, key, i) "
        "CROSS JOIN LATERAL (SELECT p.merchant_order_no FROM payments p "
        "WHERE p.channel = k.ch AND p.merchant_order_no = k.key UNION ALL "
        "SELECT p.merchant_order_no FROM payments p "
        "WHERE p.channel = k.ch AND p.channel_txn_id = k.key OFFSET 0) p";
    PGresult *res = NULL;
    ps_err_t err;

    apply_arrays_reset(ap, "TTI");
    for (size_t i = 0; i < n; i++) {
        if (items[i].kind != PROC_ITEM_COMMAND || ap->st[i].fate != FATE_LIVE)
            continue;
        pga_text(&ap->arr[0], ps_channel_name(items[i].cmd.channel));
        pga_text(&ap->arr[1], items[i].cmd.payment_key);
        pga_int(&ap->arr[2], (int64_t)i);
    }
    err = apply_exec(ap->conn, "resolve command payment keys", sql, 3, apply_arrays_params(ap, 3), &res,
                     cls, errstr, errstr_size);
    for (int r = 0; err == PS_OK && r < PQntuples(res); r++) {
        size_t i = (size_t)strtoull(PQgetvalue(res, r, 0), NULL, 10);
        PS_ASSERT(i < n);
        /* An order-number match wins over a txn-id match of another payment. */
        if (ap->st[i].order == NULL || strcmp(PQgetvalue(res, r, 2), "t") == 0) {
            ps_free(ap->st[i].order);
            ap->st[i].order = ps_strdup(PQgetvalue(res, r, 1));
        }
    }
    PQclear(res);
    for (size_t i = 0; err == PS_OK && i < n; i++) {
        if (items[i].kind == PROC_ITEM_COMMAND && ap->st[i].fate == FATE_LIVE &&
            ap->st[i].order == NULL)
            ap->st[i].order = ps_strdup(items[i].cmd.payment_key);
    }
    return err;
}

static ps_channel_t item_channel(const proc_item_t *item)
{
    return item->kind == PROC_ITEM_EVENT ? item->ev.channel : item->cmd.channel;
}

static void payment_key(ps_channel_t ch, const char *order, char *out, size_t out_size)
{
    snprintf(out, out_size, "%s\x1f%s", ps_channel_name(ch), order);
}

/* Groups live items by payment, in batch order within each payment. */
static void build_groups(proc_apply_t *ap, proc_item_t *items, size_t n)
{
    char key[PS_JOURNAL_KEY_BYTES_MAX];

    for (size_t i = 0; i < n; i++) {
        size_t g = ap->ngroups;
        group_t *grp;

        if (ap->st[i].fate != FATE_LIVE)
            continue;
        payment_key(item_channel(&items[i]), ap->st[i].order, key, sizeof(key));
        if (!strmap_get_or_put(&ap->keys, key, &g)) {
            if (ap->ngroups == ap->groups_cap) {
                size_t cap = ap->groups_cap == 0 ? 64 : ap->groups_cap * 2;
                ap->groups = ps_realloc(ap->groups, cap * sizeof(*ap->groups));
                memset(ap->groups + ap->groups_cap, 0, (cap - ap->groups_cap) * sizeof(group_t));
                ap->groups_cap = cap;
            }
            proc_payment_init(&ap->groups[g].pay, item_channel(&items[i]), ap->st[i].order);
            ap->ngroups++;
        }
        grp = &ap->groups[g];
        if (grp->n == grp->cap) {
            grp->cap = grp->cap == 0 ? 4 : grp->cap * 2;
            grp->inputs = ps_realloc(grp->inputs, grp->cap * sizeof(size_t));
        }
        grp->inputs[grp->n++] = i;
        ap->st[i].group = g;
    }
}

/* Fills arrays 0 and 1 with the channel and order of every group (or of the
 * groups for which want[g] is true). */
static size_t group_keys(proc_apply_t *ap, const bool *want)
{
    size_t count = 0;

    apply_arrays_reset(ap, "TT");
    for (size_t g = 0; g < ap->ngroups; g++) {
        if (want != NULL && !want[g])
            continue;
        pga_text(&ap->arr[0], ps_channel_name(ap->groups[g].pay.channel));
        pga_text(&ap->arr[1], ap->groups[g].pay.merchant_order_no);
        count++;
    }
    return count;
}

static bool group_of_row(proc_apply_t *ap, PGresult *res, int r, size_t *g)
{
    char key[PS_JOURNAL_KEY_BYTES_MAX];

    snprintf(key, sizeof(key), "%s\x1f%s", PQgetvalue(res, r, 0), PQgetvalue(res, r, 1));
    return strmap_get(&ap->keys, key, g);
}

/* Step 3a: lock every payment key, sorted, then load the payments. */
static ps_err_t lock_and_load(proc_apply_t *ap, ps_err_class_t *cls, char *errstr,
                              size_t errstr_size)
{
    /* pg_advisory_xact_lock is volatile, so it runs after the sort. */
    static const char lock_sql[] =
        "SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT "
        "hashtextextended(k.ch || ':' || k.ord, 0) AS h "
        "FROM unnest($1::text[], $2::text[]) AS k(ch, ord)) s ORDER BY h";
    /* One unique-index probe per key, whatever the planner thinks of the
     * table: a plain join (or a LATERAL subquery, which the planner
     * flattens into one) was planned as a hash join over a sequential scan
     * of payments, so the load grew with the ledger: 3 ms per 5,000 keys on
     * an empty table, 260 ms at 200,000 payments. OFFSET 0 keeps the
     * subquery unflattened, hence a nested loop of index probes (24 ms for
     * 5,000 keys at 200,000 payments). */
    static const char load_sql[] =
        "SELECT p.channel, p.merchant_order_no, p.channel_txn_id, p.currency, p.account_id, "
        "p.is_paid, p.is_closed, p.state = 'REVERSED', p.amount_minor, p.refunded_minor, "
        "p.refund_total_minor FROM unnest($1::text[], $2::text[]) AS k(ch, ord) "
        "CROSS JOIN LATERAL (SELECT * FROM payments p "
        "WHERE p.channel = k.ch AND p.merchant_order_no = k.ord OFFSET 0) p";
    PGresult *res = NULL;
    ps_err_t err;

    group_keys(ap, NULL);
    apply_arrays_params(ap, 2);
    err = apply_exec(ap->conn, "lock payments", lock_sql, 2, &ap->params, NULL, cls, errstr,
                     errstr_size);
    if (err == PS_OK)
        err = apply_exec(ap->conn, "load payments", load_sql, 2, &ap->params, &res, cls, errstr,
                         errstr_size);
    for (int r = 0; err == PS_OK && r < PQntuples(res); r++) {
        size_t g;
        proc_payment_t *p;

        if (!group_of_row(ap, res, r, &g))
            continue;
        p = &ap->groups[g].pay;
        p->exists = true;
        if (!PQgetisnull(res, r, 2))
            p->channel_txn_id = ps_strdup(PQgetvalue(res, r, 2));
        snprintf(p->currency, sizeof(p->currency), "%s", PQgetvalue(res, r, 3));
        p->account_id = ps_strdup(PQgetvalue(res, r, 4));
        p->paid = PQgetvalue(res, r, 5)[0] == 't';
        p->closed = PQgetvalue(res, r, 6)[0] == 't';
        p->reversed = PQgetvalue(res, r, 7)[0] == 't';
        p->amount_minor = strtoll(PQgetvalue(res, r, 8), NULL, 10);
        p->refunded_minor = strtoll(PQgetvalue(res, r, 9), NULL, 10);
        p->refund_total_minor = strtoll(PQgetvalue(res, r, 10), NULL, 10);
    }
    PQclear(res);
    return err;
}

/* Whether the fold of group g needs its stored refunds: refund inputs, or an
 * unpaid payment that may become paid and post its pending refunds. */
static bool needs_refunds(const group_t *grp, const proc_item_t *items)
{
    if (!grp->pay.exists)
        return false;
    for (size_t k = 0; k < grp->n; k++) {
        const proc_item_t *it = &items[grp->inputs[k]];
        if (it->kind == PROC_ITEM_EVENT &&
            (it->ev.kind == PS_EVENT_REFUND_SUCCEEDED || it->ev.kind == PS_EVENT_REFUND_REVERSED))
            return true;
        if (!grp->pay.paid && (it->kind == PROC_ITEM_COMMAND ||
                               it->ev.kind == PS_EVENT_PAYMENT_SUCCEEDED))
            return true;
    }
    return false;
}

/* Step 3b: the stored refunds of the payments that need them. */
static ps_err_t load_refunds(proc_apply_t *ap, proc_item_t *items, ps_err_class_t *cls,
                             char *errstr, size_t errstr_size)
{
    /* LATERAL index probes, as in lock_and_load. */
    static const char sql[] =
        "SELECT r.channel, r.merchant_order_no, r.refund_id, r.amount_minor, r.state, r.posted "
        "FROM unnest($1::text[], $2::text[]) AS k(ch, ord) "
        "CROSS JOIN LATERAL (SELECT * FROM payment_refunds r "
        "WHERE r.channel = k.ch AND r.merchant_order_no = k.ord OFFSET 0) r ORDER BY r.refund_id";
    bool *want = ps_calloc(ap->ngroups + 1, sizeof(bool));
    size_t count = 0;
    PGresult *res = NULL;
    ps_err_t err = PS_OK;

    for (size_t g = 0; g < ap->ngroups; g++)
        want[g] = needs_refunds(&ap->groups[g], items);
    count = group_keys(ap, want);
    if (count > 0)
        err = apply_exec(ap->conn, "load refunds", sql, 2, apply_arrays_params(ap, 2), &res, cls,
                         errstr, errstr_size);
    for (int r = 0; err == PS_OK && res != NULL && r < PQntuples(res); r++) {
        size_t g;
        proc_refund_state_t state;

        if (!group_of_row(ap, res, r, &g))
            continue;
        if (proc_refund_state_parse(PQgetvalue(res, r, 4), &state) != PS_OK ||
            proc_payment_add_refund(&ap->groups[g].pay, PQgetvalue(res, r, 2),
                                    strtoll(PQgetvalue(res, r, 3), NULL, 10), state,
                                    PQgetvalue(res, r, 5)[0] == 't') != PS_OK) {
            *cls = PS_ERRCLASS_FATAL;
            err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                                "could not load refunds: refund \"%s\" has state \"%s\" or "
                                "its payment has more than %d refunds",
                                PQgetvalue(res, r, 2), PQgetvalue(res, r, 4),
                                PS_FOLD_REFUNDS_MAX);
        }
    }
    PQclear(res);
    ps_free(want);
    return err;
}


/* Step 5: folds each payment's new inputs; invalid ones become dead letters. */
static ps_err_t fold_all(proc_apply_t *ap, proc_item_t *items, size_t n, int64_t *rejected,
                         char *errstr, size_t errstr_size)
{
    proc_fold_input_t *in = ps_malloc((n + 1) * sizeof(*in));
    proc_fold_outcome_t *out = ps_malloc((n + 1) * sizeof(*out));
    size_t *idx = ps_malloc((n + 1) * sizeof(*idx));
    ps_err_t err = PS_OK;

    for (size_t g = 0; g < ap->ngroups && err == PS_OK; g++) {
        group_t *grp = &ap->groups[g];
        size_t k = 0;

        for (size_t j = 0; j < grp->n; j++) {
            proc_item_t *it = &items[grp->inputs[j]];
            if (ap->st[grp->inputs[j]].fate != FATE_NEW)
                continue;
            idx[k] = grp->inputs[j];
            in[k].ev = it->kind == PROC_ITEM_EVENT ? &it->ev : NULL;
            in[k].cmd = it->kind == PROC_ITEM_COMMAND ? &it->cmd : NULL;
            k++;
        }
        if (k == 0)
            continue;
        err = proc_fold(&grp->pay, in, k, &ap->journals, out, errstr, errstr_size);
        for (size_t j = 0; err == PS_OK && j < k; j++) {
            if (out[j].invalid)
                dead(&ap->st[idx[j]], out[j].reason);
            if (out[j].refunds_rejected > 0)
                ps_log_warn("payment \"%s\" became paid with %d pending refund(s) that exceed "
                            "its amount: marked REJECTED in payment_refunds",
                            grp->pay.merchant_order_no, out[j].refunds_rejected);
            *rejected += out[j].refunds_rejected;
        }
    }
    ps_free(idx);
    ps_free(out);
    ps_free(in);
    return err;
}

ps_err_t proc_apply_batch(proc_apply_t *ap, proc_item_t *items, size_t n, proc_apply_stats_t *stats,
                          ps_err_class_t *class_out, char *errstr, size_t errstr_size)
{
    ps_err_class_t cls = PS_ERRCLASS_FATAL; /* anything not from PostgreSQL */
    int64_t rejected = 0;
    ps_err_t err = PS_OK;

    PS_ASSERT(ap != NULL && stats != NULL && class_out != NULL && (n == 0 || items != NULL));
    memset(stats, 0, sizeof(*stats));
    if (n > PS_APPLY_ITEMS_MAX) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                            "could not apply batch: %zu items exceed %d", n, PS_APPLY_ITEMS_MAX);
        goto out;
    }
    if (n > ap->st_cap) {
        ap->st = ps_realloc(ap->st, n * sizeof(*ap->st));
        memset(ap->st + ap->st_cap, 0, (n - ap->st_cap) * sizeof(*ap->st));
        ap->st_cap = n;
    }
    reset_batch(ap);
    if (classify(ap, items, n) > 0)
        err = resolve_commands(ap, items, n, &cls, errstr, errstr_size);
    if (err == PS_OK)
        build_groups(ap, items, n);
    if (err == PS_OK && ap->ngroups > 0)
        err = lock_and_load(ap, &cls, errstr, errstr_size);
    if (err == PS_OK && ap->ngroups > 0)
        err = load_refunds(ap, items, &cls, errstr, errstr_size);
    if (err == PS_OK && ap->ngroups > 0)
        err = apply_insert_inputs(ap, items, n, &cls, errstr, errstr_size);
    if (err == PS_OK)
        err = fold_all(ap, items, n, &rejected, errstr, errstr_size);
    if (err == PS_OK)
        err = apply_write(ap, items, n, stats, &cls, errstr, errstr_size);
    stats->dead_lettered += rejected;
out:
    reset_batch(ap);
    if (err != PS_OK) {
        memset(stats, 0, sizeof(*stats));
        *class_out = cls;
    }
    return err;
}
