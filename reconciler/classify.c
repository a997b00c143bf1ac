/*
 * The discrepancy rules (classify.h): which class one row of the diff falls
 * into and which command, if any, fixes it. Amounts are int64 minor units;
 * both sides of every subtraction are non-negative (the ledger and the
 * statement parsers refuse negative amounts), so no difference can overflow.
 */
#include "classify.h"

#include <paystream/mem.h>

#include <string.h>

static const char *const class_names[RECON_CLASS_COUNT] = {
    "MATCHED",         "MISSING_IN_LEDGER", "MISSING_IN_STATEMENT",
    "AMOUNT_MISMATCH", "STATUS_MISMATCH",   "CURRENCY_MISMATCH"};

const char *recon_class_name(recon_class_t cls)
{
    return (unsigned)cls < RECON_CLASS_COUNT ? class_names[cls] : "UNKNOWN";
}

bool recon_state_credited(const char *state)
{
    return strcmp(state, "PAID") == 0 || strcmp(state, "PARTIALLY_REFUNDED") == 0 ||
           strcmp(state, "REFUNDED") == 0;
}

static void flag(recon_pair_t *p, recon_class_t cls)
{
    p->cls = cls;
    p->action = RECON_ACT_NONE;
    p->cmd_amount_minor = 0;
}

/* A command of amount; an amount of zero leaves nothing to fix: flag only. */
static void command(recon_pair_t *p, recon_class_t cls, ps_command_kind_t kind, int64_t amount)
{
    flag(p, cls);
    if (amount == 0)
        return;
    p->action = RECON_ACT_COMMAND;
    p->cmd_kind = kind;
    p->cmd_amount_minor = amount;
}

static int64_t abs64(int64_t v)
{
    return v < 0 ? -v : v; /* never INT64_MIN: see the file comment */
}

static int64_t outstanding(const recon_pair_t *p)
{
    int64_t v = p->ledger_amount_minor - p->ledger_refunded_minor;
    return v > 0 ? v : 0;
}

static void classify_payment(recon_pair_t *p, const recon_classify_opts_t *o)
{
    bool credited = p->has_ledger && recon_state_credited(p->ledger_state);

    if (!p->has_ledger) {
        if (!p->stmt_closed) /* closed without money and unknown: both agree on nothing */
            command(p, RECON_MISSING_IN_LEDGER, PS_COMMAND_COMPENSATE, p->stmt_amount_minor);
        return;
    }
    if (!p->has_stmt) {
        /* Ledger-only rows outside the window or without credit are neighbours. */
        if (credited)
            command(p, RECON_MISSING_IN_STATEMENT, PS_COMMAND_REVERSE, outstanding(p));
        return;
    }
    if (strcmp(p->stmt_currency, p->ledger_currency) != 0) {
        flag(p, RECON_CURRENCY_MISMATCH);
        return;
    }
    if (!credited) {
        if (p->stmt_closed)
            return;
        /* A reversed payment the channel settled needs a human; a pending or
         * closed one simply missed its success callback. */
        if (strcmp(p->ledger_state, "REVERSED") == 0)
            flag(p, RECON_STATUS_MISMATCH);
        else
            command(p, RECON_MISSING_IN_LEDGER, PS_COMMAND_COMPENSATE, p->stmt_amount_minor);
        return;
    }
    if (p->stmt_closed) {
        command(p, RECON_STATUS_MISMATCH, PS_COMMAND_REVERSE, outstanding(p));
        return;
    }
    int64_t diff = p->stmt_amount_minor - p->ledger_amount_minor;
    if (abs64(diff) > o->tolerance_minor)
        command(p, RECON_AMOUNT_MISMATCH, PS_COMMAND_ADJUST, diff);
}

static void classify_refund(recon_pair_t *p, const recon_classify_opts_t *o)
{
    if (!p->has_stmt)
        return; /* ledger refunds are only read for statement refunds */
    if (!p->has_ledger) {
        flag(p, RECON_MISSING_IN_LEDGER); /* recon_classify_link may net it */
        return;
    }
    if (strcmp(p->stmt_currency, p->ledger_currency) != 0) {
        flag(p, RECON_CURRENCY_MISMATCH);
        return;
    }
    if (p->ledger_refund_state[0] == '\0') {
        /* The channel refunded, the ledger still credits the money. */
        if (recon_state_credited(p->ledger_state))
            command(p, RECON_STATUS_MISMATCH, PS_COMMAND_ADJUST, -p->stmt_amount_minor);
        else
            flag(p, RECON_STATUS_MISMATCH);
        return;
    }
    if (strcmp(p->ledger_refund_state, "POSTED") != 0) {
        /* The ledger knows the refund but holds it (PENDING) or undid it. */
        flag(p, RECON_STATUS_MISMATCH);
        return;
    }
    /* More refunded by the channel than by the ledger: less credit. */
    int64_t diff = p->ledger_refund_minor - p->stmt_amount_minor;
    if (abs64(diff) > o->tolerance_minor)
        command(p, RECON_AMOUNT_MISMATCH, PS_COMMAND_ADJUST, diff);
}

void recon_classify(recon_pair_t *p, const recon_classify_opts_t *o)
{
    flag(p, RECON_MATCHED);
    p->cmd_kind = PS_COMMAND_ADJUST;
    if (p->refund_id != NULL && p->refund_id[0] != '\0')
        classify_refund(p, o);
    else
        classify_payment(p, o);
    if (p->cls == RECON_MATCHED || o->grace_s <= 0)
        return;
    int64_t latest_us = p->has_stmt ? p->stmt_time_us : INT64_MIN;
    if (p->has_ledger && p->ledger_has_paid_time && p->ledger_paid_time_us > latest_us)
        latest_us = p->ledger_paid_time_us;
    /* No time on either side (a ledger row without paid_time): not young. */
    if (latest_us != INT64_MIN && o->now_us - latest_us < o->grace_s * 1000000) {
        p->action = RECON_ACT_PENDING;
        p->cmd_amount_minor = 0;
    }
}

static bool same_key(const recon_pair_t *a, const recon_pair_t *b)
{
    return strcmp(a->payment_key, b->payment_key) == 0;
}

void recon_classify_link(recon_pair_t *pairs, size_t n)
{
    size_t pay = 0;
    bool have_pay = false;

    for (size_t i = 0; i < n; i++) {
        recon_pair_t *p = &pairs[i];
        if (p->refund_id[0] == '\0') {
            pay = i;
            have_pay = true;
            continue;
        }
        if (!have_pay || !same_key(&pairs[pay], p) || p->has_ledger ||
            p->cls != RECON_MISSING_IN_LEDGER || p->action != RECON_ACT_NONE)
            continue;
        recon_pair_t *q = &pairs[pay];
        if (q->cls != RECON_MISSING_IN_LEDGER || q->action != RECON_ACT_COMMAND ||
            strcmp(q->stmt_currency, p->stmt_currency) != 0)
            continue;
        /* Net the refund into the compensation; at zero nothing is owed. */
        q->cmd_amount_minor -= p->stmt_amount_minor;
        if (q->cmd_amount_minor <= 0) {
            q->cmd_amount_minor = 0;
            q->action = RECON_ACT_NONE;
        }
        p->action = RECON_ACT_NONE;
    }
}

void recon_pair_deinit(recon_pair_t *p)
{
    if (p == NULL)
        return;
    ps_free(p->payment_key);
    ps_free(p->refund_id);
    ps_free(p->channel_txn_id);
    ps_free(p->account_id);
    memset(p, 0, sizeof(*p));
}
