/*
 * Discrepancy classes and the decision what to do about one: a pure function
 * of one row of the diff (the statement side and the ledger side of one
 * payment or refund, either side possibly absent), the amount tolerance, the
 * grace period and the clock. No I/O, so every rule is unit-tested
 * (tests/unit/test_recon_classify.c) and documented in docs/RECONCILIATION.md.
 *
 * Commands decided here:
 *   MISSING_IN_LEDGER     COMPENSATE the settled amount (net of the
 *                         statement's own refunds of it) to the suspense account
 *   MISSING_IN_STATEMENT  REVERSE the credit still outstanding (amount - refunded)
 *   AMOUNT_MISMATCH       ADJUST by statement - ledger (payments) or
 *                         ledger - statement (refunds: more refunded, less credit)
 *   STATUS_MISMATCH       REVERSE the outstanding credit of a payment the channel
 *                         closed; ADJUST by minus the refund the ledger lacks
 *   CURRENCY_MISMATCH     nothing (flag only: a human decides)
 * Flag-only cases of the other classes are listed in RECONCILIATION.md.
 */
#ifndef RECON_CLASSIFY_H
#define RECON_CLASSIFY_H

#include <paystream/event.h>
#include <paystream/limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum recon_class {
    RECON_MATCHED = 0,
    RECON_MISSING_IN_LEDGER = 1,
    RECON_MISSING_IN_STATEMENT = 2,
    RECON_AMOUNT_MISMATCH = 3,
    RECON_STATUS_MISMATCH = 4,
    RECON_CURRENCY_MISMATCH = 5
} recon_class_t;
#define RECON_CLASS_COUNT 6

/* What happens to a discrepancy. */
typedef enum recon_action {
    RECON_ACT_NONE = 0,     /* matched, or flag only */
    RECON_ACT_PENDING = 1,  /* younger than the grace period: re-checked next run */
    RECON_ACT_COMMAND = 2,  /* a LedgerCommand fixes it */
    RECON_ACT_RESOLVED = 3  /* its command was already applied by the processor */
} recon_action_t;

/*
 * One row of the FULL OUTER JOIN. Strings are owned by the pair
 * (recon_pair_deinit). refund_id is "" for a payment row.
 */
typedef struct recon_pair {
    char *payment_key;    /* merchant order number (or channel txn id if unresolved) */
    char *refund_id;      /* "" for payments */
    char *channel_txn_id; /* from either side; may be NULL */
    char *account_id;     /* ledger account; NULL without a ledger payment */
    /* statement side */
    bool has_stmt;
    bool stmt_closed;            /* the channel closed / revoked the payment */
    int64_t stmt_amount_minor;   /* payment amount, or this refund's amount */
    int64_t stmt_refund_minor;   /* payments: refunds of it in the same statement */
    int64_t stmt_time_us;
    char stmt_currency[PS_CURRENCY_CODE_BYTES];
    /* ledger side: the payment (for refunds too), and the refund if any */
    bool has_ledger;
    char ledger_state[24];       /* payments.state */
    int64_t ledger_amount_minor;
    int64_t ledger_refunded_minor;
    bool ledger_has_paid_time;
    int64_t ledger_paid_time_us;
    char ledger_currency[PS_CURRENCY_CODE_BYTES];
    char ledger_refund_state[16]; /* refunds: payment_refunds.state, "" when no row */
    int64_t ledger_refund_minor;  /* refunds: its amount */
    /* verdict (recon_classify) */
    recon_class_t cls;
    recon_action_t action;
    ps_command_kind_t cmd_kind;
    int64_t cmd_amount_minor;
    char command_id[65];         /* hex SHA-256 when action is COMMAND or RESOLVED */
    bool already_emitted;        /* a previous run emitted this command id */
} recon_pair_t;

typedef struct recon_classify_opts {
    int64_t tolerance_minor; /* |difference| up to this is a match (>= 0) */
    int64_t grace_s;         /* discrepancies younger than this are PENDING */
    int64_t now_us;          /* the run's clock */
} recon_classify_opts_t;

/*
 * Sets p->cls, p->action, p->cmd_kind and p->cmd_amount_minor from the two
 * sides (p borrowed, written in place; o borrowed). Never fails: every
 * combination of sides has a class. Any thread.
 */
void recon_classify(recon_pair_t *p, const recon_classify_opts_t *o);

/* "MATCHED", "MISSING_IN_LEDGER", ...; static, never NULL. */
const char *recon_class_name(recon_class_t cls);

/* Whether the ledger state counts as credited (PAID, PARTIALLY_REFUNDED, REFUNDED). */
bool recon_state_credited(const char *state);

/*
 * Second pass over pairs[0..n) sorted by (payment_key, refund_id), payments
 * first: a refund the ledger lacks because the ledger lacks its whole
 * payment is netted into that payment's COMPENSATE (the compensation credits
 * what the channel kept), instead of an ADJUST of a payment that does not
 * exist yet. Any thread.
 */
void recon_classify_link(recon_pair_t *pairs, size_t n);

/* Releases the owned strings and zeroes *p; accepts NULL. */
void recon_pair_deinit(recon_pair_t *p);

#endif
