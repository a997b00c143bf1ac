/*
 * The pure ledger fold of one payment (see fold.h for the rules). Every
 * input is validated completely before anything is changed, so an invalid
 * input (dead-lettered by the caller) leaves the payment and the journal
 * list exactly as they were. Money sums go through ps_money_add/sub.
 */
#include "fold.h"

#include <paystream/assert.h>
#include <paystream/mem.h>
#include <paystream/money.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const state_names[] = {"PENDING",            "CLOSED",   "PAID",
                                          "PARTIALLY_REFUNDED", "REFUNDED", "REVERSED"};
static const char *const refund_state_names[] = {"PENDING", "POSTED", "REVERSED", "REJECTED"};
static const char *const purpose_names[] = {"PAY", "REFUND", "REFUND_REVERSED", "REVERSE",
                                            "ADJUST"};
static const char *const account_kind_names[] = {"PLAYER", "CHANNEL_CLEARING", "ADJUSTMENT"};

#define NAME_OF(table, v) \
    ((size_t)(v) < sizeof(table) / sizeof(table[0]) ? table[(size_t)(v)] : "UNKNOWN")

const char *proc_pay_state_name(proc_pay_state_t state) { return NAME_OF(state_names, state); }
const char *proc_refund_state_name(proc_refund_state_t state)
{
    return NAME_OF(refund_state_names, state);
}
const char *proc_purpose_name(proc_purpose_t purpose) { return NAME_OF(purpose_names, purpose); }
const char *proc_account_kind_name(proc_account_kind_t kind)
{
    return NAME_OF(account_kind_names, kind);
}

ps_err_t proc_refund_state_parse(const char *name, proc_refund_state_t *out)
{
    for (size_t i = 0; i < sizeof(refund_state_names) / sizeof(refund_state_names[0]); i++) {
        if (name != NULL && strcmp(name, refund_state_names[i]) == 0) {
            *out = (proc_refund_state_t)i;
            return PS_OK;
        }
    }
    return PS_ERR_INVALID;
}

void proc_payment_init(proc_payment_t *p, ps_channel_t channel, const char *merchant_order_no)
{
    PS_ASSERT(p != NULL && merchant_order_no != NULL);
    memset(p, 0, sizeof(*p));
    p->channel = channel;
    p->merchant_order_no = ps_strdup(merchant_order_no);
}

void proc_payment_deinit(proc_payment_t *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->refund_count; i++)
        ps_free(p->refunds[i].refund_id);
    ps_free(p->refunds);
    ps_free(p->merchant_order_no);
    ps_free(p->channel_txn_id);
    ps_free(p->account_id);
    memset(p, 0, sizeof(*p));
}

ps_err_t proc_payment_add_refund(proc_payment_t *p, const char *refund_id, int64_t amount_minor,
                                 proc_refund_state_t state, bool posted)
{
    PS_ASSERT(p != NULL && refund_id != NULL);
    if (p->refund_count >= PS_FOLD_REFUNDS_MAX)
        return PS_ERR_TOO_LARGE;
    if (p->refund_count == p->refund_cap) {
        p->refund_cap = p->refund_cap == 0 ? 4 : p->refund_cap * 2;
        p->refunds = ps_realloc(p->refunds, p->refund_cap * sizeof(*p->refunds));
    }
    p->refunds[p->refund_count++] = (proc_refund_t){.refund_id = ps_strdup(refund_id),
                                                    .amount_minor = amount_minor,
                                                    .state = state,
                                                    .posted = posted};
    return PS_OK;
}

proc_pay_state_t proc_payment_state(const proc_payment_t *p)
{
    if (p->reversed)
        return PROC_STATE_REVERSED;
    if (p->paid) {
        if (p->refunded_minor > 0 && p->refunded_minor >= p->amount_minor)
            return PROC_STATE_REFUNDED;
        return p->refunded_minor > 0 ? PROC_STATE_PARTIALLY_REFUNDED : PROC_STATE_PAID;
    }
    return p->closed ? PROC_STATE_CLOSED : PROC_STATE_PENDING;
}

static void journal_deinit(proc_journal_t *j)
{
    ps_free(j->source_id);
    ps_free(j->effect);
    ps_free(j->description);
    ps_free(j->lines[0].account_id);
    ps_free(j->lines[1].account_id);
}

void proc_journal_list_reset(proc_journal_list_t *list)
{
    for (size_t i = 0; i < list->count; i++)
        journal_deinit(&list->items[i]);
    list->count = 0;
}

void proc_journal_list_deinit(proc_journal_list_t *list)
{
    if (list == NULL)
        return;
    proc_journal_list_reset(list);
    ps_free(list->items);
    memset(list, 0, sizeof(*list));
}

/* The n parts joined by ':' into an owned string (a journal's source id or
 * effect). Plain copies rather than snprintf: this runs twice per journal,
 * and formatting was a visible part of the processor's own CPU. Ids are
 * bounded by the Avro contract, so the PS_JOURNAL_KEY_BYTES_MAX cut never
 * triggers on valid input. */
static char *join_owned(const char *const *parts, size_t n)
{
    char buf[PS_JOURNAL_KEY_BYTES_MAX];
    size_t len = 0;

    for (size_t i = 0; i < n; i++) {
        size_t k = strlen(parts[i]);

        if (i > 0 && len < sizeof(buf) - 1)
            buf[len++] = ':';
        if (k > sizeof(buf) - 1 - len)
            k = sizeof(buf) - 1 - len;
        memcpy(buf + len, parts[i], k);
        len += k;
    }
    buf[len] = '\0';
    return ps_strdup(buf);
}

/* What one journal is about, filled by the rule that posts it. */
typedef struct journal_spec {
    proc_purpose_t purpose;
    const char *ref;          /* refund id or command id; NULL for PAY */
    const ps_ledger_command_t *cmd; /* the command posting it, or NULL */
    const char *trigger;      /* description */
    const char *counter_account; /* clearing or adjustment account */
    proc_account_kind_t counter_kind;
    int64_t player_minor;     /* signed amount on the player's line */
} journal_spec_t;

static void post(const proc_payment_t *p, const journal_spec_t *s, size_t input_index,
                 proc_journal_list_t *list)
{
    const char *ch = ps_channel_name(p->channel);
    const char *purpose = proc_purpose_name(s->purpose);
    proc_journal_t *j;

    PS_ASSERT(s->player_minor != 0 && s->player_minor != INT64_MIN);
    if (list->count == list->cap) {
        list->cap = list->cap == 0 ? 16 : list->cap * 2;
        list->items = ps_realloc(list->items, list->cap * sizeof(*list->items));
    }
    j = &list->items[list->count++];
    memset(j, 0, sizeof(*j));
    j->from_command = s->cmd != NULL;
    j->purpose = s->purpose;
    if (s->cmd != NULL)
        j->source_id = ps_strdup(s->cmd->command_id);
    else /* "<CHANNEL>:<order>:<PURPOSE>[:<ref>]" */
        j->source_id = join_owned((const char *[]){ch, p->merchant_order_no, purpose, s->ref},
                                  s->ref != NULL ? 4 : 3);
    /* "<PURPOSE>:<CHANNEL>:<order>[:<ref>]"; a COMPENSATE posts the
     * payment's PAY: same economic effect as a callback's. */
    j->effect = join_owned((const char *[]){purpose, ch, p->merchant_order_no, s->ref},
                           s->ref != NULL && s->purpose != PROC_PURPOSE_PAY ? 4 : 3);
    j->description = ps_strdup(s->trigger);
    memcpy(j->currency, p->currency, sizeof(j->currency));
    j->lines[0] = (proc_line_t){ps_strdup(p->account_id), PROC_ACCOUNT_PLAYER, s->player_minor};
    j->lines[1] = (proc_line_t){ps_strdup(s->counter_account), s->counter_kind, -s->player_minor};
    j->input_index = input_index;
}

static ps_err_t invalid(proc_fold_outcome_t *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static ps_err_t invalid(proc_fold_outcome_t *out, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
    va_end(ap);
    out->invalid = true;
    return PS_OK;
}

static bool reserved_account(const char *account_id)
{
    return strncmp(account_id, "clearing:", 9) == 0 || strncmp(account_id, "adjustment:", 11) == 0;
}

/* Checks currency and account (account may be NULL or "": unknown) against
 * p; returns false with the outcome set when they contradict it. */
static bool identity_ok(const proc_payment_t *p, const char *currency, const char *account_id,
                        proc_fold_outcome_t *out)
{
    if (account_id != NULL && account_id[0] != '\0' && reserved_account(account_id)) {
        invalid(out, "account id is in a reserved ledger namespace (\"clearing:\" or "
                     "\"adjustment:\")");
        return false;
    }
    if (p->currency[0] != '\0' && strcmp(currency, p->currency) != 0) {
        invalid(out, "currency \"%s\" differs from the payment's currency \"%s\"", currency,
                p->currency);
        return false;
    }
    if (p->account_id != NULL && p->account_id[0] != '\0' && account_id != NULL &&
        account_id[0] != '\0' && strcmp(account_id, p->account_id) != 0) {
        invalid(out, "account id differs from the account id of payment \"%s\"",
                p->merchant_order_no);
        return false;
    }
    return true;
}

/*
 * Records currency and account once known (identity_ok passed). WeChat and
 * Alipay refund and close notifications name no account; one that arrives
 * before its payment is kept under the account "" (unknown), which the
 * payment's own notification then fills in before anything is posted: no
 * journal is posted for a payment that is not paid.
 */
static void adopt_identity(proc_payment_t *p, const char *currency, const char *account_id)
{
    bool named = account_id != NULL && account_id[0] != '\0';

    if (p->currency[0] == '\0')
        memcpy(p->currency, currency, PS_CURRENCY_CODE_BYTES);
    if (p->account_id == NULL || (p->account_id[0] == '\0' && named)) {
        ps_free(p->account_id);
        p->account_id = ps_strdup(named ? account_id : "");
    }
}

static proc_refund_t *find_refund(proc_payment_t *p, const char *refund_id)
{
    for (size_t i = 0; i < p->refund_count; i++) {
        if (strcmp(p->refunds[i].refund_id, refund_id) == 0)
            return &p->refunds[i];
    }
    return NULL;
}

static void clearing_name(const proc_payment_t *p, char *out, size_t out_size)
{
    snprintf(out, out_size, "clearing:%s", ps_channel_name(p->channel));
}

/* Posts one refund (the payment is paid and it fits). */
static void post_refund(proc_payment_t *p, proc_refund_t *r, const char *trigger,
                        size_t input_index, proc_journal_list_t *list)
{
    char clearing[64];
    journal_spec_t s = {.purpose = PROC_PURPOSE_REFUND, .ref = r->refund_id, .trigger = trigger,
                        .counter_kind = PROC_ACCOUNT_CHANNEL_CLEARING,
                        .player_minor = r->amount_minor};

    clearing_name(p, clearing, sizeof(clearing));
    s.counter_account = clearing;
    post(p, &s, input_index, list);
    p->refunded_minor += r->amount_minor; /* fits: checked against amount_minor */
    r->state = PROC_REFUND_POSTED;
    r->posted = true;
    r->changed = true;
}

static int cmp_refund_ptr(const void *a, const void *b)
{
    return strcmp((*(proc_refund_t *const *)a)->refund_id, (*(proc_refund_t *const *)b)->refund_id);
}

/* The payment just became paid: post its PENDING refunds in refund id order
 * (so the outcome depends on the set, not the arrival order); those that no
 * longer fit in the amount are REJECTED. */
static void post_pending(proc_payment_t *p, const char *trigger, size_t input_index,
                         proc_journal_list_t *list, proc_fold_outcome_t *out)
{
    proc_refund_t *pending[PS_FOLD_REFUNDS_MAX];
    size_t n = 0;

    for (size_t i = 0; i < p->refund_count; i++) {
        if (p->refunds[i].state == PROC_REFUND_PENDING)
            pending[n++] = &p->refunds[i];
    }
    qsort(pending, n, sizeof(pending[0]), cmp_refund_ptr);
    for (size_t i = 0; i < n; i++) {
        if (p->amount_minor - p->refunded_minor >= pending[i]->amount_minor) {
            post_refund(p, pending[i], trigger, input_index, list);
            out->journals++;
        } else {
            pending[i]->state = PROC_REFUND_REJECTED;
            pending[i]->changed = true;
            out->refunds_rejected++;
        }
    }
}

/* Marks p paid with amount and posts PAY (unless zero) and pending refunds. */
static void become_paid(proc_payment_t *p, int64_t amount_minor, const ps_ledger_command_t *cmd,
                        const char *trigger, size_t idx, proc_journal_list_t *list,
                        proc_fold_outcome_t *out)
{
    char clearing[64];
    journal_spec_t s = {.purpose = PROC_PURPOSE_PAY, .cmd = cmd, .trigger = trigger,
                        .counter_kind = PROC_ACCOUNT_CHANNEL_CLEARING,
                        .player_minor = -amount_minor};

    p->paid = true;
    p->amount_minor = amount_minor;
    p->changed = true;
    if (amount_minor > 0) {
        clearing_name(p, clearing, sizeof(clearing));
        s.counter_account = clearing;
        post(p, &s, idx, list);
        out->journals++;
    }
    post_pending(p, trigger, idx, list, out);
}

static void adopt_txn_id(proc_payment_t *p, const ps_callback_event_t *ev)
{
    if (p->channel_txn_id == NULL && ev->channel_txn_id != NULL && ev->channel_txn_id[0] != '\0') {
        p->channel_txn_id = ps_strdup(ev->channel_txn_id);
        p->changed = true;
    }
}

static ps_err_t fold_success(proc_payment_t *p, const ps_callback_event_t *ev, const char *trigger,
                             size_t idx, proc_journal_list_t *list, proc_fold_outcome_t *out)
{
    if (!identity_ok(p, ev->currency, ev->account_id, out))
        return PS_OK;
    if (p->paid) {
        if (ev->amount_minor != p->amount_minor)
            return invalid(out, "amount mismatch: success notification says %lld minor units, "
                                "payment \"%s\" was paid %lld",
                           (long long)ev->amount_minor, p->merchant_order_no,
                           (long long)p->amount_minor);
        /* Another notification of the same success: credited once, but it may
         * name the channel's txn id that a COMPENSATE could not know. */
        adopt_txn_id(p, ev);
        return PS_OK;
    }
    adopt_identity(p, ev->currency, ev->account_id);
    adopt_txn_id(p, ev);
    if (ev->has_paid_time) {
        p->has_paid_time = true;
        p->paid_time_us = ev->paid_time_us;
    }
    become_paid(p, ev->amount_minor, NULL, trigger, idx, list, out);
    return PS_OK;
}

static ps_err_t fold_closed(proc_payment_t *p, const ps_callback_event_t *ev,
                            proc_fold_outcome_t *out)
{
    if (!identity_ok(p, ev->currency, ev->account_id, out))
        return PS_OK;
    if (p->paid || p->closed)
        return PS_OK; /* a close never undoes money that arrived */
    adopt_identity(p, ev->currency, ev->account_id);
    p->closed = true;
    p->changed = p->account_id != NULL;
    return PS_OK;
}

/* The amount a refund event asks for: its own amount, or for a cumulative
 * report the delta over the highest total seen (<= 0: nothing new). */
static int64_t refund_amount(const proc_payment_t *p, const ps_callback_event_t *ev)
{
    if (!ev->has_refund_total)
        return ev->amount_minor;
    if (ev->refund_total_minor <= p->refund_total_minor)
        return 0;
    return ev->refund_total_minor - p->refund_total_minor;
}

static ps_err_t fold_refund(proc_payment_t *p, const ps_callback_event_t *ev, const char *trigger,
                            size_t idx, proc_journal_list_t *list, proc_fold_outcome_t *out)
{
    proc_refund_t *r;
    int64_t amount, after;

    if (ev->refund_id == NULL || ev->refund_id[0] == '\0')
        return invalid(out, "refund notification has no refund id");
    if (!identity_ok(p, ev->currency, ev->account_id, out))
        return PS_OK;
    if (p->reversed)
        return invalid(out, "refund \"%s\" of reversed payment \"%s\"", ev->refund_id,
                       p->merchant_order_no);
    amount = refund_amount(p, ev);
    r = find_refund(p, ev->refund_id);
    if (r != NULL) {
        /* Another notification of a known refund (or one reversed first). */
        if (!ev->has_refund_total && r->state != PROC_REFUND_REVERSED &&
            amount != r->amount_minor)
            return invalid(out, "refund \"%s\" amount mismatch: %lld minor units, recorded %lld",
                           ev->refund_id, (long long)amount, (long long)r->amount_minor);
        if (ev->has_refund_total && amount > 0)
            return invalid(out, "refund \"%s\" reported again with a higher cumulative total",
                           ev->refund_id);
        return PS_OK;
    }
    if (amount == 0 && ev->has_refund_total)
        return PS_OK; /* a stale cumulative total: already refunded */
    if (amount <= 0)
        return invalid(out, "refund \"%s\" amount %lld is not positive", ev->refund_id,
                       (long long)amount);
    if (ps_money_add(p->refunded_minor, amount, &after) != PS_OK)
        return ps_errstr_set(out->reason, sizeof(out->reason), PS_ERR_TOO_LARGE,
                             "refund amounts of payment \"%s\" overflow", p->merchant_order_no);
    if (p->paid && after > p->amount_minor)
        return invalid(out, "refund \"%s\" of %lld minor units exceeds the %lld refundable of "
                            "payment \"%s\"",
                       ev->refund_id, (long long)amount,
                       (long long)(p->amount_minor - p->refunded_minor), p->merchant_order_no);
    if (proc_payment_add_refund(p, ev->refund_id, amount, PROC_REFUND_PENDING, false) != PS_OK)
        return ps_errstr_set(out->reason, sizeof(out->reason), PS_ERR_TOO_LARGE,
                             "payment \"%s\" has more than %d refunds", p->merchant_order_no,
                             PS_FOLD_REFUNDS_MAX);
    r = &p->refunds[p->refund_count - 1];
    r->changed = true;
    adopt_identity(p, ev->currency, ev->account_id);
    if (ev->has_refund_total)
        p->refund_total_minor = ev->refund_total_minor;
    p->changed = p->account_id != NULL;
    if (p->paid) {
        post_refund(p, r, trigger, idx, list);
        out->journals++;
    }
    return PS_OK;
}

static ps_err_t fold_refund_reversed(proc_payment_t *p, const ps_callback_event_t *ev,
                                     const char *trigger, size_t idx, proc_journal_list_t *list,
                                     proc_fold_outcome_t *out)
{
    char clearing[64];
    proc_refund_t *r;
    journal_spec_t s = {.purpose = PROC_PURPOSE_REFUND_REVERSED, .trigger = trigger,
                        .counter_kind = PROC_ACCOUNT_CHANNEL_CLEARING};

    if (ev->refund_id == NULL || ev->refund_id[0] == '\0')
        return invalid(out, "refund reversal has no refund id");
    if (!identity_ok(p, ev->currency, ev->account_id, out))
        return PS_OK;
    r = find_refund(p, ev->refund_id);
    if (r == NULL) {
        /* Reversal first: remember it so that the refund then posts nothing. */
        if (ev->amount_minor <= 0)
            return invalid(out, "refund reversal \"%s\" amount %lld is not positive",
                           ev->refund_id, (long long)ev->amount_minor);
        if (proc_payment_add_refund(p, ev->refund_id, ev->amount_minor, PROC_REFUND_REVERSED,
                                    false) != PS_OK)
            return ps_errstr_set(out->reason, sizeof(out->reason), PS_ERR_TOO_LARGE,
                                 "payment \"%s\" has more than %d refunds", p->merchant_order_no,
                                 PS_FOLD_REFUNDS_MAX);
        p->refunds[p->refund_count - 1].changed = true;
        adopt_identity(p, ev->currency, ev->account_id);
        p->changed = p->account_id != NULL;
        return PS_OK;
    }
    if (r->state != PROC_REFUND_POSTED) {
        if (r->state == PROC_REFUND_PENDING) {
            r->state = PROC_REFUND_REVERSED;
            r->changed = true;
        }
        return PS_OK;
    }
    clearing_name(p, clearing, sizeof(clearing));
    s.ref = r->refund_id;
    s.counter_account = clearing;
    s.player_minor = -r->amount_minor;
    post(p, &s, idx, list);
    out->journals++;
    p->refunded_minor -= r->amount_minor; /* >= 0: it was part of the sum */
    r->state = PROC_REFUND_REVERSED;
    r->changed = true;
    p->changed = true;
    return PS_OK;
}

static ps_err_t fold_event(proc_payment_t *p, const ps_callback_event_t *ev, size_t idx,
                           proc_journal_list_t *list, proc_fold_outcome_t *out)
{
    char trigger[PS_JOURNAL_KEY_BYTES_MAX];

    snprintf(trigger, sizeof(trigger), "%s event %s", ps_channel_name(ev->channel),
             ev->channel_event_id != NULL ? ev->channel_event_id : "");
    switch (ev->kind) {
    case PS_EVENT_PAYMENT_SUCCEEDED: return fold_success(p, ev, trigger, idx, list, out);
    case PS_EVENT_PAYMENT_CLOSED: return fold_closed(p, ev, out);
    case PS_EVENT_REFUND_SUCCEEDED: return fold_refund(p, ev, trigger, idx, list, out);
    case PS_EVENT_REFUND_REVERSED:
        return fold_refund_reversed(p, ev, trigger, idx, list, out);
    }
    return invalid(out, "unknown event kind %d", (int)ev->kind);
}

/* The account a command posts to: its own, else the payment's. */
static const char *command_account(const proc_payment_t *p, const ps_ledger_command_t *cmd)
{
    if (cmd->account_id != NULL && cmd->account_id[0] != '\0')
        return cmd->account_id;
    /* "" is a payment whose account no notification has named yet. */
    return p->account_id != NULL && p->account_id[0] != '\0' ? p->account_id : NULL;
}

static ps_err_t fold_command(proc_payment_t *p, const ps_ledger_command_t *cmd, size_t idx,
                             proc_journal_list_t *list, proc_fold_outcome_t *out)
{
    char trigger[PS_JOURNAL_KEY_BYTES_MAX], counter[64];
    const char *account = command_account(p, cmd);
    const char *kind = ps_command_kind_name(cmd->kind);
    journal_spec_t s = {.ref = cmd->command_id, .cmd = cmd, .trigger = trigger};

    if (account == NULL)
        return invalid(out, "%s command \"%s\": account of payment \"%s\" is unknown", kind,
                       cmd->command_id, p->merchant_order_no);
    if (!identity_ok(p, cmd->currency, account, out))
        return PS_OK;
    if (cmd->kind != PS_COMMAND_ADJUST && cmd->amount_minor <= 0)
        return invalid(out, "%s command \"%s\" amount %lld is not positive", kind,
                       cmd->command_id, (long long)cmd->amount_minor);
    snprintf(trigger, sizeof(trigger), "%s command %s", kind, cmd->command_id);
    switch (cmd->kind) {
    case PS_COMMAND_COMPENSATE:
        if (p->paid)
            return PS_OK; /* the callback got there first: credited once */
        adopt_identity(p, cmd->currency, account);
        become_paid(p, cmd->amount_minor, cmd, trigger, idx, list, out);
        return PS_OK;
    case PS_COMMAND_REVERSE:
        if (p->reversed)
            return invalid(out, "REVERSE command \"%s\": payment \"%s\" is already reversed",
                           cmd->command_id, p->merchant_order_no);
        if (p->paid && cmd->amount_minor > p->amount_minor)
            return invalid(out, "REVERSE command \"%s\" of %lld exceeds payment amount %lld",
                           cmd->command_id, (long long)cmd->amount_minor,
                           (long long)p->amount_minor);
        adopt_identity(p, cmd->currency, account);
        clearing_name(p, counter, sizeof(counter));
        s.purpose = PROC_PURPOSE_REVERSE;
        s.counter_kind = PROC_ACCOUNT_CHANNEL_CLEARING;
        s.player_minor = cmd->amount_minor;
        p->reversed = true;
        p->changed = true;
        break;
    case PS_COMMAND_ADJUST:
        if (cmd->amount_minor == 0 || cmd->amount_minor == INT64_MIN)
            return cmd->amount_minor == 0
                       ? PS_OK
                       : invalid(out, "ADJUST command \"%s\" amount out of range",
                                 cmd->command_id);
        adopt_identity(p, cmd->currency, account);
        snprintf(counter, sizeof(counter), "adjustment:%s", ps_channel_name(p->channel));
        s.purpose = PROC_PURPOSE_ADJUST;
        s.counter_kind = PROC_ACCOUNT_ADJUSTMENT;
        s.player_minor = -cmd->amount_minor; /* positive delta credits the player */
        break;
    default:
        return invalid(out, "unknown command kind %d", (int)cmd->kind);
    }
    s.counter_account = counter;
    post(p, &s, idx, list);
    out->journals++;
    return PS_OK;
}

ps_err_t proc_fold(proc_payment_t *p, const proc_fold_input_t *in, size_t n,
                   proc_journal_list_t *journals, proc_fold_outcome_t *out, char *errstr,
                   size_t errstr_size)
{
    PS_ASSERT(p != NULL && journals != NULL && (n == 0 || (in != NULL && out != NULL)));
    for (size_t i = 0; i < n; i++) {
        ps_err_t err;

        memset(&out[i], 0, sizeof(out[i]));
        PS_ASSERT((in[i].ev == NULL) != (in[i].cmd == NULL));
        if (in[i].ev != NULL)
            err = fold_event(p, in[i].ev, i, journals, &out[i]);
        else
            err = fold_command(p, in[i].cmd, i, journals, &out[i]);
        if (err != PS_OK)
            return ps_errstr_set(errstr, errstr_size, err, "could not fold payment \"%s\": %s",
                                 p->merchant_order_no, out[i].reason);
    }
    return PS_OK;
}
