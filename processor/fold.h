/*
 * The ledger semantics of one payment as a pure function: given the
 * payment's prior state (as stored) and the new callbacks and reconciler
 * commands for it, in the order they were consumed, compute the new state
 * and the journals to post. No I/O, no globals: apply.c loads the prior
 * state, calls proc_fold once per payment of a batch and writes the result
 * set-based; tests/unit/test_fold.c exercises every rule without PostgreSQL.
 *
 * The rules (also in processor/README.md):
 *   - A payment is the set of facts learned about it: paid (with its amount,
 *     currency and account), closed, reversed, and its refunds by refund id.
 *     The state is derived from the facts, never stored independently:
 *     REVERSED if reversed, else REFUNDED / PARTIALLY_REFUNDED / PAID from
 *     refunded_minor if paid, else CLOSED if closed, else PENDING. Facts only
 *     accumulate, so a stale or replayed callback never moves it backwards.
 *   - Sign convention: ledger amounts are positive for debits, negative for
 *     credits. A payment debits `clearing:<CHANNEL>` (the channel owes us)
 *     and credits the player (we owe the player), so a player's balance is
 *     negative by what is owed to them.
 *   - PAY is posted once per payment, whichever success notification (or
 *     COMPENSATE command) comes first; a later success with another amount is
 *     invalid. A refund posts once per refund id, the opposite of PAY. A
 *     refund that arrives before the payment's success is recorded PENDING
 *     and posted when the payment becomes paid, so the final state and
 *     balances do not depend on that order. Alipay reports a cumulative
 *     refund total: the refund posted is the delta over the highest total
 *     seen; a lower or equal total changes nothing. REFUND_REVERSED posts the
 *     opposite of the refund it names once (nothing if the refund was never
 *     posted; recorded if it comes first, so the refund then posts nothing).
 *   - Commands: REVERSE posts the opposite of PAY for its amount and makes the
 *     payment REVERSED; COMPENSATE marks an unpaid payment paid and posts its
 *     PAY (nothing if already paid); ADJUST posts a signed delta between the
 *     player and `adjustment:<CHANNEL>` (positive credits the player).
 *   - Values that contradict the payment (currency, account or amount
 *     mismatch, refund beyond the paid amount, an account id in the reserved
 *     `clearing:` / `adjustment:` namespaces, a missing refund id) make that
 *     input invalid: it changes nothing and the caller dead-letters it.
 */
#ifndef PROC_FOLD_H
#define PROC_FOLD_H

#include <paystream/err.h>
#include <paystream/event.h>
#include <paystream/limits.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum proc_pay_state {
    PROC_STATE_PENDING = 0,
    PROC_STATE_CLOSED = 1,
    PROC_STATE_PAID = 2,
    PROC_STATE_PARTIALLY_REFUNDED = 3,
    PROC_STATE_REFUNDED = 4,
    PROC_STATE_REVERSED = 5
} proc_pay_state_t; /* the value is the state_rank of 001_init.sql */

/* Name as stored in payments.state ("PAID"); never NULL. */
const char *proc_pay_state_name(proc_pay_state_t state);

typedef enum proc_refund_state {
    PROC_REFUND_PENDING = 0,  /* recorded, waiting for the payment to be paid */
    PROC_REFUND_POSTED = 1,   /* its REFUND journal exists */
    PROC_REFUND_REVERSED = 2, /* undone: net zero in the ledger */
    PROC_REFUND_REJECTED = 3  /* did not fit in the amount once it was known */
} proc_refund_state_t;

const char *proc_refund_state_name(proc_refund_state_t state);
/* Parses a name written by proc_refund_state_name; PS_ERR_INVALID otherwise. */
ps_err_t proc_refund_state_parse(const char *name, proc_refund_state_t *out);

typedef struct proc_refund {
    char *refund_id;       /* owned */
    int64_t amount_minor;  /* > 0 */
    proc_refund_state_t state;
    bool posted;           /* a REFUND journal was ever posted for it */
    bool changed;          /* set by proc_fold: the row must be written */
} proc_refund_t;

typedef struct proc_payment {
    ps_channel_t channel;
    char *merchant_order_no; /* owned, required */
    char *channel_txn_id;    /* owned, NULL when unknown */
    char currency[PS_CURRENCY_CODE_BYTES]; /* "" until an input names it */
    char *account_id;        /* owned, NULL until an input names it */
    bool exists;             /* a payments row was loaded */
    bool paid, closed, reversed;
    int64_t amount_minor;    /* paid amount; 0 until paid */
    int64_t refunded_minor;  /* sum of POSTED refunds */
    int64_t refund_total_minor; /* highest cumulative refund total reported */
    bool has_paid_time;
    int64_t paid_time_us;
    proc_refund_t *refunds;  /* owned array */
    size_t refund_count, refund_cap;
    bool changed;            /* set by proc_fold: the row must be written */
} proc_payment_t;

/* Initializes p for channel and order no (copied). */
void proc_payment_init(proc_payment_t *p, ps_channel_t channel, const char *merchant_order_no);
/* Releases what p owns and zeroes it. Accepts NULL. */
void proc_payment_deinit(proc_payment_t *p);
/* Appends a refund (refund_id copied) as loaded from storage. PS_ERR_TOO_LARGE
 * past PS_FOLD_REFUNDS_MAX. */
ps_err_t proc_payment_add_refund(proc_payment_t *p, const char *refund_id, int64_t amount_minor,
                                 proc_refund_state_t state, bool posted);
/* The state derived from p's facts. */
proc_pay_state_t proc_payment_state(const proc_payment_t *p);

typedef enum proc_account_kind {
    PROC_ACCOUNT_PLAYER = 0,
    PROC_ACCOUNT_CHANNEL_CLEARING = 1,
    PROC_ACCOUNT_ADJUSTMENT = 2
} proc_account_kind_t;

const char *proc_account_kind_name(proc_account_kind_t kind);

typedef struct proc_line {
    char *account_id; /* owned */
    proc_account_kind_t kind;
    int64_t amount_minor; /* signed, never 0: debit > 0, credit < 0 */
} proc_line_t;

typedef enum proc_purpose {
    PROC_PURPOSE_PAY = 0,
    PROC_PURPOSE_REFUND = 1,
    PROC_PURPOSE_REFUND_REVERSED = 2,
    PROC_PURPOSE_REVERSE = 3,
    PROC_PURPOSE_ADJUST = 4
} proc_purpose_t;

const char *proc_purpose_name(proc_purpose_t purpose);

/*
 * One balanced journal. source_kind/source_id are journals' exactly-once key:
 * a callback-driven journal is keyed by its business effect
 * ("<CHANNEL>:<order>:PAY", "<CHANNEL>:<order>:REFUND:<refund id>",
 * "<CHANNEL>:<order>:REFUND_REVERSED:<refund id>") so that two notifications
 * of one effect can never both post; a command's journal by its command_id.
 * effect is the order-independent economic identity used by the digest
 * (a COMPENSATE's PAY has the same effect as a callback's PAY).
 */
typedef struct proc_journal {
    bool from_command;  /* source_kind LEDGER_COMMAND, else CALLBACK_EVENT */
    char *source_id;    /* owned */
    char *effect;       /* owned: "<PURPOSE> <CHANNEL> <order>[ <ref>]" */
    proc_purpose_t purpose;
    char currency[PS_CURRENCY_CODE_BYTES];
    char *description;  /* owned: what triggered it */
    proc_line_t lines[2];
    size_t input_index; /* which input of the proc_fold call posted it */
} proc_journal_t;

typedef struct proc_journal_list {
    proc_journal_t *items; /* owned */
    size_t count, cap;
} proc_journal_list_t;

void proc_journal_list_deinit(proc_journal_list_t *list);
/* Empties the list, keeping its allocation. */
void proc_journal_list_reset(proc_journal_list_t *list);

/* One input for a payment: exactly one of ev and cmd is non-NULL (borrowed). */
typedef struct proc_fold_input {
    const ps_callback_event_t *ev;
    const ps_ledger_command_t *cmd;
} proc_fold_input_t;

/* What happened to one input. */
typedef struct proc_fold_outcome {
    bool invalid;                 /* dead-letter it; it changed nothing */
    char reason[PS_ERRSTR_SIZE];  /* why, when invalid */
    int journals;                 /* journals it posted (0..2) */
    int refunds_rejected;         /* pending refunds rejected when it paid the payment */
} proc_fold_outcome_t;

/*
 * Applies inputs in[0..n) to p in order, appending the journals to post to
 * *journals and filling out[0..n). Every input must concern p (its channel and
 * order no; the caller groups them). An invalid input is reported in its
 * outcome and leaves p and *journals as they were. Pure: same p and inputs,
 * same result.
 * Errors: PS_ERR_TOO_LARGE when an amount sum overflows int64 or p would
 * exceed PS_FOLD_REFUNDS_MAX refunds (p may then be partly updated: the
 * caller fails the whole batch).
 * p, journals, out are borrowed (owned by the caller); in is borrowed.
 * @locality any thread
 */
ps_err_t proc_fold(proc_payment_t *p, const proc_fold_input_t *in, size_t n,
                   proc_journal_list_t *journals, proc_fold_outcome_t *out, char *errstr,
                   size_t errstr_size);

#endif
