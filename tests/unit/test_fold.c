/*
 * Unit tests of the pure ledger fold (processor/fold.c): every event kind and
 * command, duplicates, cumulative Alipay refunds, partial then full refunds,
 * refund reversals, invalid inputs leaving the payment untouched, and order
 * tolerance: every permutation of a set of inputs gives the same final state
 * and the same balances (and the same journals when the set has no reversal).
 */
#include "test.h"

#include "fold.h" /* processor/: tests link the service libraries */

#include <paystream/assert.h>
#include <paystream/mem.h>

static char errstr[PS_ERRSTR_SIZE];

static ps_callback_event_t mk_ev(ps_event_kind_t kind, const char *event_id, int64_t amount,
                                 const char *refund_id)
{
    ps_callback_event_t ev;

    memset(&ev, 0, sizeof(ev));
    ev.channel = PS_CHANNEL_WECHAT;
    ev.kind = kind;
    ev.channel_event_id = (char *)event_id;
    ev.merchant_order_no = "ORD1";
    ev.channel_txn_id = "TXN1";
    ev.refund_id = (char *)refund_id;
    ev.amount_minor = amount;
    memcpy(ev.currency, "CNY", 4);
    ev.account_id = "player-1";
    return ev;
}

static ps_ledger_command_t mk_cmd(ps_command_kind_t kind, const char *id, int64_t amount)
{
    ps_ledger_command_t cmd;

    memset(&cmd, 0, sizeof(cmd));
    cmd.command_id = (char *)id;
    cmd.kind = kind;
    cmd.channel = PS_CHANNEL_WECHAT;
    cmd.payment_key = "ORD1";
    cmd.amount_minor = amount;
    memcpy(cmd.currency, "CNY", 4);
    return cmd;
}

/* Folds events ev[0..n) into p one call at a time; returns invalid count. */
static int fold_events(proc_payment_t *p, const ps_callback_event_t *ev, size_t n,
                       proc_journal_list_t *jl, proc_fold_outcome_t *outs)
{
    int bad = 0;

    for (size_t i = 0; i < n; i++) {
        proc_fold_input_t in = {.ev = &ev[i]};
        CHECK_INT(proc_fold(p, &in, 1, jl, &outs[i], errstr, sizeof(errstr)), PS_OK);
        bad += outs[i].invalid;
    }
    return bad;
}

/* Sum of journal lines posted to account, and every journal balances. */
static int64_t balance(const proc_journal_list_t *jl, const char *account)
{
    int64_t sum = 0;

    for (size_t i = 0; i < jl->count; i++) {
        CHECK_INT(jl->items[i].lines[0].amount_minor + jl->items[i].lines[1].amount_minor, 0);
        for (int l = 0; l < 2; l++) {
            if (strcmp(jl->items[i].lines[l].account_id, account) == 0)
                sum += jl->items[i].lines[l].amount_minor;
        }
    }
    return sum;
}

/* Goal: a success posts one PAY journal (clearing debit, player credit). */
static void test_success_posts_pay(void)
{
    proc_payment_t p;
    proc_journal_list_t jl = {0};
    proc_fold_outcome_t o[1];
    ps_callback_event_t ev = mk_ev(PS_EVENT_PAYMENT_SUCCEEDED, "E1", 648, NULL);

    proc_payment_init(&p, PS_CHANNEL_WECHAT, "ORD1");
    CHECK_INT(fold_events(&p, &ev, 1, &jl, o), 0);
    CHECK_INT(proc_payment_state(&p), PROC_STATE_PAID);
    CHECK(p.changed && p.paid);
    CHECK_INT(p.amount_minor, 648);
    CHECK_STR(p.channel_txn_id, "TXN1");
    REQUIRE(jl.count == 1);
    CHECK_STR(jl.items[0].source_id, "WECHAT:ORD1:PAY");
    CHECK_STR(jl.items[0].effect, "PAY:WECHAT:ORD1");
    CHECK(!jl.items[0].from_command);
    CHECK_STR(jl.items[0].lines[0].account_id, "player-1");
    CHECK_INT(jl.items[0].lines[0].amount_minor, -648);
    CHECK_STR(jl.items[0].lines[1].account_id, "clearing:WECHAT");
    CHECK_INT(jl.items[0].lines[1].kind, PROC_ACCOUNT_CHANNEL_CLEARING);
    CHECK_INT(jl.items[0].lines[1].amount_minor, 648);
    CHECK_INT(o[0].journals, 1);
    proc_journal_list_deinit(&jl);
    proc_payment_deinit(&p);
}

/* Goal: TRADE_SUCCESS then TRADE_FINISHED (two notification ids, one
 * payment) credit once; a different amount is invalid and changes nothing. */
static void test_two_notifications_credit_once(void)
{
    proc_payment_t p;
    proc_journal_list_t jl = {0};
    proc_fold_outcome_t o[3];
    ps_callback_event_t ev[3] = {mk_ev(PS_EVENT_PAYMENT_SUCCEEDED, "N1", 1000, NULL),
                                 mk_ev(PS_EVENT_PAYMENT_SUCCEEDED, "N2", 1000, NULL),
                                 mk_ev(PS_EVENT_PAYMENT_SUCCEEDED, "N3", 999, NULL)};

    ev[0].channel = ev[1].channel = ev[2].channel = PS_CHANNEL_ALIPAY;
    ev[0].channel_event_type = "TRADE_SUCCESS";
    ev[1].channel_event_type = "TRADE_FINISHED";
    proc_payment_init(&p, PS_CHANNEL_ALIPAY, "ORD1");
    CHECK_INT(fold_events(&p, ev, 3, &jl, o), 1);
    CHECK_INT(jl.count, 1);
    CHECK(!o[1].invalid);
    CHECK_INT(o[1].journals, 0);
    CHECK(o[2].invalid);
    CHECK_CONTAINS(o[2].reason, "amount mismatch");
    CHECK_INT(p.amount_minor, 1000);
    CHECK_INT(balance(&jl, "clearing:ALIPAY"), 1000);
    proc_journal_list_deinit(&jl);
    proc_payment_deinit(&p);
}

/* Goal: currency, account and reserved-namespace mismatches are invalid and
 * leave the payment and the journals untouched. */
static void test_invalid_identity(void)
{
    proc_payment_t p;
    proc_journal_list_t jl = {0};
    proc_fold_outcome_t o[4];
    ps_callback_event_t ev[4] = {mk_ev(PS_EVENT_PAYMENT_SUCCEEDED, "E1", 500, NULL),
                                 mk_ev(PS_EVENT_REFUND_SUCCEEDED, "E2", 100, "R1"),
                                 mk_ev(PS_EVENT_REFUND_SUCCEEDED, "E3", 100, "R2"),
                                 mk_ev(PS_EVENT_REFUND_SUCCEEDED, "E4", 100, "R3")};

    memcpy(ev[1].currency, "USD", 4);
    ev[2].account_id = "player-2";
    ev[3].account_id = "clearing:WECHAT";
    proc_payment_init(&p, PS_CHANNEL_WECHAT, "ORD1");
    CHECK_INT(fold_events(&p, ev, 4, &jl, o), 3);
    CHECK_CONTAINS(o[1].reason, "currency \"USD\" differs from the payment's currency \"CNY\"");
    CHECK_CONTAINS(o[2].reason, "account id differs");
    CHECK_CONTAINS(o[3].reason, "reserved ledger namespace");
    CHECK_INT(p.refund_count, 0);
    CHECK_INT(p.refunded_minor, 0);
    CHECK_INT(jl.count, 1);
    CHECK_INT(proc_payment_state(&p), PROC_STATE_PAID);
    proc_journal_list_deinit(&jl);
    proc_payment_deinit(&p);
}

/* Goal: partial then full refund; a duplicate refund id posts nothing; a
 * refund beyond the amount and one without id are invalid. */
static void test_partial_then_full_refund(void)
{
    proc_payment_t p;
    proc_journal_list_t jl = {0};
    proc_fold_outcome_t o[6];
    ps_callback_event_t ev[6] = {mk_ev(PS_EVENT_PAYMENT_SUCCEEDED, "E1", 1000, NULL),
                                 mk_ev(PS_EVENT_REFUND_SUCCEEDED, "E2", 300, "R1"),
                                 mk_ev(PS_EVENT_REFUND_SUCCEEDED, "E2b", 300, "R1"),
                                 mk_ev(PS_EVENT_REFUND_SUCCEEDED, "E3", 800, "R2"),
                                 mk_ev(PS_EVENT_REFUND_SUCCEEDED, "E4", 100, NULL),
                                 mk_ev(PS_EVENT_REFUND_SUCCEEDED, "E5", 700, "R3")};

    proc_payment_init(&p, PS_CHANNEL_WECHAT, "ORD1");
    CHECK_INT(fold_events(&p, ev, 2, &jl, o), 0);
    CHECK_INT(proc_payment_state(&p), PROC_STATE_PARTIALLY_REFUNDED);
    CHECK_INT(fold_events(&p, ev + 2, 4, &jl, o + 2), 2);
    CHECK(!o[2].invalid);
    CHECK_INT(o[2].journals, 0);
    CHECK_CONTAINS(o[3].reason, "exceeds the 700 refundable");
    CHECK_CONTAINS(o[4].reason, "no refund id");
    CHECK_INT(o[5].journals, 1);
    CHECK_INT(proc_payment_state(&p), PROC_STATE_REFUNDED);
    CHECK_INT(p.refunded_minor, 1000);
    REQUIRE(jl.count == 3);
    CHECK_STR(jl.items[1].source_id, "WECHAT:ORD1:REFUND:R1");
    CHECK_INT(jl.items[1].lines[0].amount_minor, 300);
    CHECK_INT(balance(&jl, "player-1"), 0);
    CHECK_INT(balance(&jl, "clearing:WECHAT"), 0);
    proc_journal_list_deinit(&jl);
    proc_payment_deinit(&p);
}

/* Goal: Alipay cumulative totals post deltas; a stale lower total does
 * nothing; the same refund id with a higher total is invalid. */
static void test_alipay_cumulative(void)
{
    proc_payment_t p;
    proc_journal_list_t jl = {0};
    proc_fold_outcome_t o[5];
    ps_callback_event_t ev[5] = {mk_ev(PS_EVENT_PAYMENT_SUCCEEDED, "E1", 1000, NULL),
                                 mk_ev(PS_EVENT_REFUND_SUCCEEDED, "E2", 300, "R1"),
                                 mk_ev(PS_EVENT_REFUND_SUCCEEDED, "E3", 200, "R2"),
                                 mk_ev(PS_EVENT_REFUND_SUCCEEDED, "E4", 300, "R9"),
                                 mk_ev(PS_EVENT_REFUND_SUCCEEDED, "E5", 100, "R2")};

    for (int i = 1; i < 5; i++)
        ev[i].has_refund_total = true;
    ev[1].refund_total_minor = 300;
    ev[2].refund_total_minor = 500;
    ev[3].refund_total_minor = 300; /* stale: arrives after 500 */
    ev[4].refund_total_minor = 600;
    proc_payment_init(&p, PS_CHANNEL_ALIPAY, "ORD1");
    for (int i = 0; i < 5; i++)
        ev[i].channel = PS_CHANNEL_ALIPAY;
    CHECK_INT(fold_events(&p, ev, 5, &jl, o), 1);
    CHECK_INT(p.refunded_minor, 500);
    CHECK_INT(p.refund_total_minor, 500);
    REQUIRE(jl.count == 3);
    CHECK_INT(jl.items[2].lines[0].amount_minor, 200);
    CHECK_INT(o[3].journals, 0);
    CHECK(!o[3].invalid);
    CHECK_CONTAINS(o[4].reason, "higher cumulative total");
    CHECK_INT(proc_payment_state(&p), PROC_STATE_PARTIALLY_REFUNDED);
    proc_journal_list_deinit(&jl);
    proc_payment_deinit(&p);
}

/* Goal: a refund before the success is PENDING and posts when paid; one that
 * no longer fits is REJECTED. */
static void test_refund_before_payment(void)
{
    proc_payment_t p;
    proc_journal_list_t jl = {0};
    proc_fold_outcome_t o[3];
    ps_callback_event_t ev[3] = {mk_ev(PS_EVENT_REFUND_SUCCEEDED, "E2", 400, "R1"),
                                 mk_ev(PS_EVENT_REFUND_SUCCEEDED, "E3", 700, "R2"),
                                 mk_ev(PS_EVENT_PAYMENT_SUCCEEDED, "E1", 1000, NULL)};

    proc_payment_init(&p, PS_CHANNEL_WECHAT, "ORD1");
    CHECK_INT(fold_events(&p, ev, 2, &jl, o), 0);
    CHECK_INT(proc_payment_state(&p), PROC_STATE_PENDING);
    CHECK(p.changed);
    CHECK_INT(jl.count, 0);
    CHECK_INT(p.refund_count, 2);
    CHECK_INT(fold_events(&p, ev + 2, 1, &jl, o + 2), 0);
    CHECK_INT(o[2].journals, 2);
    CHECK_INT(o[2].refunds_rejected, 1);
    CHECK_INT(p.refunded_minor, 400);
    CHECK_INT(p.refunds[0].state, PROC_REFUND_POSTED);
    CHECK_INT(p.refunds[1].state, PROC_REFUND_REJECTED);
    CHECK_INT(proc_payment_state(&p), PROC_STATE_PARTIALLY_REFUNDED);
    CHECK_INT(balance(&jl, "player-1"), -600);
    proc_journal_list_deinit(&jl);
    proc_payment_deinit(&p);
}

/* Goal: REFUND_REVERSED posts the opposite once; a reversal before its
 * refund makes the refund post nothing. */
static void test_refund_reversed(void)
{
    proc_payment_t p;
    proc_journal_list_t jl = {0};
    proc_fold_outcome_t o[6];
    ps_callback_event_t ev[6] = {mk_ev(PS_EVENT_PAYMENT_SUCCEEDED, "E1", 1000, NULL),
                                 mk_ev(PS_EVENT_REFUND_SUCCEEDED, "E2", 1000, "R1"),
                                 mk_ev(PS_EVENT_REFUND_REVERSED, "E3", 1000, "R1"),
                                 mk_ev(PS_EVENT_REFUND_REVERSED, "E3b", 1000, "R1"),
                                 mk_ev(PS_EVENT_REFUND_REVERSED, "E4", 500, "R2"),
                                 mk_ev(PS_EVENT_REFUND_SUCCEEDED, "E5", 500, "R2")};

    proc_payment_init(&p, PS_CHANNEL_APPLE, "ORD1");
    for (int i = 0; i < 6; i++)
        ev[i].channel = PS_CHANNEL_APPLE;
    CHECK_INT(fold_events(&p, ev, 2, &jl, o), 0);
    CHECK_INT(proc_payment_state(&p), PROC_STATE_REFUNDED);
    CHECK_INT(fold_events(&p, ev + 2, 4, &jl, o + 2), 0);
    CHECK_INT(o[2].journals, 1);
    CHECK_INT(o[3].journals, 0);
    CHECK_INT(o[5].journals, 0);
    CHECK_INT(proc_payment_state(&p), PROC_STATE_PAID);
    CHECK_INT(p.refunded_minor, 0);
    REQUIRE(jl.count == 3);
    CHECK_STR(jl.items[2].source_id, "APPLE:ORD1:REFUND_REVERSED:R1");
    CHECK_INT(jl.items[2].lines[0].amount_minor, -1000);
    CHECK_INT(balance(&jl, "player-1"), -1000);
    proc_journal_list_deinit(&jl);
    proc_payment_deinit(&p);
}

/* Goal: a close never undoes a payment; a late success after a close pays. */
static void test_closed(void)
{
    proc_payment_t p;
    proc_journal_list_t jl = {0};
    proc_fold_outcome_t o[3];
    ps_callback_event_t ev[3] = {mk_ev(PS_EVENT_PAYMENT_CLOSED, "C1", 1000, NULL),
                                 mk_ev(PS_EVENT_PAYMENT_SUCCEEDED, "E1", 1000, NULL),
                                 mk_ev(PS_EVENT_PAYMENT_CLOSED, "C2", 1000, NULL)};

    proc_payment_init(&p, PS_CHANNEL_WECHAT, "ORD1");
    CHECK_INT(fold_events(&p, ev, 1, &jl, o), 0);
    CHECK_INT(proc_payment_state(&p), PROC_STATE_CLOSED);
    CHECK(p.changed);
    CHECK_INT(fold_events(&p, ev + 1, 2, &jl, o + 1), 0);
    CHECK_INT(proc_payment_state(&p), PROC_STATE_PAID);
    CHECK_INT(jl.count, 1);
    proc_journal_list_deinit(&jl);
    proc_payment_deinit(&p);
}

/* Goal: COMPENSATE pays an absent payment once (a later callback credits
 * nothing), REVERSE takes the credit back, ADJUST moves a signed delta. */
static void test_commands(void)
{
    proc_payment_t p;
    proc_journal_list_t jl = {0};
    proc_fold_outcome_t o[6];
    ps_ledger_command_t c[5] = {mk_cmd(PS_COMMAND_COMPENSATE, "c1", 800),
                                mk_cmd(PS_COMMAND_ADJUST, "c2", -50),
                                mk_cmd(PS_COMMAND_REVERSE, "c3", 800),
                                mk_cmd(PS_COMMAND_REVERSE, "c4", 800),
                                mk_cmd(PS_COMMAND_COMPENSATE, "c5", 800)};
    ps_callback_event_t ev = mk_ev(PS_EVENT_PAYMENT_SUCCEEDED, "E1", 800, NULL);
    proc_fold_input_t in[6] = {{.cmd = &c[0]}, {.ev = &ev},     {.cmd = &c[1]},
                               {.cmd = &c[2]}, {.cmd = &c[3]}, {.cmd = &c[4]}};

    c[0].account_id = "player-1";
    proc_payment_init(&p, PS_CHANNEL_WECHAT, "ORD1");
    CHECK_INT(proc_fold(&p, in, 6, &jl, o, errstr, sizeof(errstr)), PS_OK);
    CHECK_INT(o[0].journals, 1);
    CHECK_INT(o[1].journals, 0);
    CHECK(!o[1].invalid);
    CHECK_INT(o[2].journals, 1);
    CHECK_INT(o[3].journals, 1);
    CHECK(o[4].invalid);
    CHECK_CONTAINS(o[4].reason, "already reversed");
    CHECK_INT(o[5].journals, 0);
    CHECK_STR(p.channel_txn_id, "TXN1"); /* learnt from the callback after COMPENSATE */
    CHECK_INT(proc_payment_state(&p), PROC_STATE_REVERSED);
    REQUIRE(jl.count == 3);
    CHECK(jl.items[0].from_command);
    CHECK_STR(jl.items[0].source_id, "c1");
    CHECK_STR(jl.items[0].effect, "PAY:WECHAT:ORD1");
    CHECK_STR(jl.items[1].lines[1].account_id, "adjustment:WECHAT");
    CHECK_INT(jl.items[1].lines[0].amount_minor, 50);
    CHECK_STR(jl.items[2].effect, "REVERSE:WECHAT:ORD1:c3");
    CHECK_INT(balance(&jl, "player-1"), 50);
    CHECK_INT(balance(&jl, "clearing:WECHAT"), 0);
    CHECK_INT(balance(&jl, "adjustment:WECHAT"), -50);
    proc_journal_list_deinit(&jl);
    proc_payment_deinit(&p);
}

/* Goal: a command for a payment with no known account is invalid. */
static void test_command_unknown_account(void)
{
    proc_payment_t p;
    proc_journal_list_t jl = {0};
    proc_fold_outcome_t o[1];
    ps_ledger_command_t c = mk_cmd(PS_COMMAND_REVERSE, "c1", 100);
    proc_fold_input_t in = {.cmd = &c};

    proc_payment_init(&p, PS_CHANNEL_WECHAT, "ORD1");
    CHECK_INT(proc_fold(&p, &in, 1, &jl, o, errstr, sizeof(errstr)), PS_OK);
    CHECK(o[0].invalid);
    CHECK_CONTAINS(o[0].reason, "account of payment \"ORD1\" is unknown");
    CHECK(!p.changed);
    CHECK_INT(jl.count, 0);
    proc_journal_list_deinit(&jl);
    proc_payment_deinit(&p);
}

/* Goal: the remaining invalid inputs: a refund of a reversed payment, a
 * REVERSE beyond the paid amount, a non-positive COMPENSATE, an ADJUST of
 * INT64_MIN, a zero ADJUST (no journal), unknown kinds, a refund reversal
 * without refund id; none changes the payment. */
static void test_more_invalid(void)
{
    proc_payment_t p;
    proc_journal_list_t jl = {0};
    proc_fold_outcome_t o[9];
    ps_callback_event_t pay = mk_ev(PS_EVENT_PAYMENT_SUCCEEDED, "E1", 500, NULL);
    ps_callback_event_t bad_kind = mk_ev((ps_event_kind_t)9, "E9", 1, NULL);
    ps_callback_event_t rev_noid = mk_ev(PS_EVENT_REFUND_REVERSED, "E8", 1, NULL);
    ps_callback_event_t refund = mk_ev(PS_EVENT_REFUND_SUCCEEDED, "E2", 100, "R1");
    ps_ledger_command_t c[5] = {mk_cmd(PS_COMMAND_REVERSE, "c1", 501),
                                mk_cmd(PS_COMMAND_COMPENSATE, "c2", 0),
                                mk_cmd(PS_COMMAND_ADJUST, "c3", INT64_MIN),
                                mk_cmd(PS_COMMAND_ADJUST, "c4", 0),
                                mk_cmd(PS_COMMAND_REVERSE, "c5", 500)};
    proc_fold_input_t in[9] = {{.ev = &pay},     {.ev = &bad_kind}, {.ev = &rev_noid},
                               {.cmd = &c[0]},   {.cmd = &c[1]},    {.cmd = &c[2]},
                               {.cmd = &c[3]},   {.cmd = &c[4]},    {.ev = &refund}};

    proc_payment_init(&p, PS_CHANNEL_WECHAT, "ORD1");
    CHECK_INT(proc_fold(&p, in, 9, &jl, o, errstr, sizeof(errstr)), PS_OK);
    CHECK(!o[0].invalid);
    CHECK_CONTAINS(o[1].reason, "unknown event kind 9");
    CHECK_CONTAINS(o[2].reason, "refund reversal has no refund id");
    CHECK_CONTAINS(o[3].reason, "of 501 exceeds payment amount 500");
    CHECK_CONTAINS(o[4].reason, "COMPENSATE command \"c2\" amount 0 is not positive");
    CHECK_CONTAINS(o[5].reason, "amount out of range");
    CHECK(!o[6].invalid);
    CHECK_INT(o[6].journals, 0);
    CHECK(!o[7].invalid);
    CHECK_CONTAINS(o[8].reason, "refund \"R1\" of reversed payment \"ORD1\"");
    CHECK_INT(jl.count, 2); /* PAY and REVERSE */
    CHECK_INT(p.refund_count, 0);
    CHECK_INT(proc_payment_state(&p), PROC_STATE_REVERSED);
    proc_journal_list_deinit(&jl);
    proc_payment_deinit(&p);
}

/* Goal: a payment loaded from storage continues where it was. */
static void test_loaded_state(void)
{
    proc_payment_t p;
    proc_journal_list_t jl = {0};
    proc_fold_outcome_t o[2];
    ps_callback_event_t ev[2] = {mk_ev(PS_EVENT_REFUND_REVERSED, "E9", 300, "R1"),
                                 mk_ev(PS_EVENT_REFUND_SUCCEEDED, "E8", 300, "R1")};

    proc_payment_init(&p, PS_CHANNEL_WECHAT, "ORD1");
    p.exists = p.paid = true;
    p.amount_minor = 1000;
    p.refunded_minor = 300;
    memcpy(p.currency, "CNY", 4);
    p.account_id = ps_strdup("player-1");
    CHECK_INT(proc_payment_add_refund(&p, "R1", 300, PROC_REFUND_POSTED, true), PS_OK);
    CHECK_INT(fold_events(&p, ev, 2, &jl, o), 0);
    CHECK_INT(p.refunded_minor, 0);
    CHECK_INT(jl.count, 1);
    CHECK_INT(o[1].journals, 0);
    CHECK_INT(proc_payment_state(&p), PROC_STATE_PAID);
    proc_journal_list_deinit(&jl);
    proc_payment_deinit(&p);
}

/* Canonical text of a fold result: state, amounts, and the sorted journals. */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void canonical(const proc_payment_t *p, const proc_journal_list_t *jl, bool journals,
                      char *out, size_t out_size)
{
    char *lines[32];
    size_t len;

    len = (size_t)snprintf(out, out_size, "%s %lld %lld player=%lld|",
                           proc_pay_state_name(proc_payment_state(p)), (long long)p->amount_minor,
                           (long long)p->refunded_minor, (long long)balance(jl, "player-1"));
    PS_ASSERT(jl->count <= 32);
    for (size_t i = 0; journals && i < jl->count; i++) {
        char buf[256];
        snprintf(buf, sizeof(buf), "%s %s %lld;", jl->items[i].source_id, jl->items[i].effect,
                 (long long)jl->items[i].lines[0].amount_minor);
        lines[i] = ps_strdup(buf);
    }
    if (journals) {
        qsort(lines, jl->count, sizeof(lines[0]), cmp_str);
        for (size_t i = 0; i < jl->count; i++) {
            len += (size_t)snprintf(out + len, len < out_size ? out_size - len : 0, "%s", lines[i]);
            ps_free(lines[i]);
        }
    }
}

/* Runs all permutations of ev[0..n) and checks each gives the canonical
 * result of the first; returns how many permutations ran. */
static int check_permutations(const ps_callback_event_t *ev, size_t n, bool journals)
{
    size_t idx[8], c[8] = {0}, i = 1;
    char first[2048], now[2048];
    int runs = 0;

    PS_ASSERT(n <= 8);
    for (size_t k = 0; k < n; k++)
        idx[k] = k;
    first[0] = '\0';
    for (;;) {
        proc_payment_t p;
        proc_journal_list_t jl = {0};
        proc_fold_outcome_t o[8];
        ps_callback_event_t perm[8];

        for (size_t k = 0; k < n; k++)
            perm[k] = ev[idx[k]];
        proc_payment_init(&p, PS_CHANNEL_WECHAT, "ORD1");
        CHECK_INT(fold_events(&p, perm, n, &jl, o), 0);
        canonical(&p, &jl, journals, runs == 0 ? first : now, sizeof(first));
        if (runs > 0 && strcmp(first, now) != 0) {
            fprintf(stderr, "permutation %d differs:\n  %s\n  %s\n", runs, first, now);
            CHECK(0);
        }
        runs++;
        proc_journal_list_deinit(&jl);
        proc_payment_deinit(&p);
        /* Heap's algorithm, iterative: the next permutation. */
        while (i < n && c[i] >= i) {
            c[i] = 0;
            i++;
        }
        if (i >= n)
            break;
        size_t j = i % 2 == 0 ? 0 : c[i], t = idx[j];
        idx[j] = idx[i];
        idx[i] = t;
        c[i]++;
        i = 1;
    }
    return runs;
}

/* Goal: success, a duplicate success, a close, two refunds and a duplicate
 * refund: all 720 orders give the same state, balances and journals. */
static void test_permutations_journals(void)
{
    ps_callback_event_t ev[6] = {mk_ev(PS_EVENT_PAYMENT_SUCCEEDED, "E1", 1000, NULL),
                                 mk_ev(PS_EVENT_PAYMENT_SUCCEEDED, "E1b", 1000, NULL),
                                 mk_ev(PS_EVENT_PAYMENT_CLOSED, "C1", 1000, NULL),
                                 mk_ev(PS_EVENT_REFUND_SUCCEEDED, "R1e", 300, "R1"),
                                 mk_ev(PS_EVENT_REFUND_SUCCEEDED, "R2e", 700, "R2"),
                                 mk_ev(PS_EVENT_REFUND_SUCCEEDED, "R1f", 300, "R1")};

    CHECK_INT(check_permutations(ev, 6, true), 720);
}

/* Goal: with a refund reversal in the set, every order still ends in the
 * same state and balances (the journals may differ: reversing a refund that
 * was never posted posts nothing). */
static void test_permutations_reversal(void)
{
    ps_callback_event_t ev[5] = {mk_ev(PS_EVENT_PAYMENT_SUCCEEDED, "E1", 1000, NULL),
                                 mk_ev(PS_EVENT_REFUND_SUCCEEDED, "R1e", 400, "R1"),
                                 mk_ev(PS_EVENT_REFUND_REVERSED, "V1e", 400, "R1"),
                                 mk_ev(PS_EVENT_REFUND_SUCCEEDED, "R2e", 600, "R2"),
                                 mk_ev(PS_EVENT_PAYMENT_CLOSED, "C1", 1000, NULL)};

    CHECK_INT(check_permutations(ev, 5, false), 120);
}

/* Goal: names round-trip and bad names are refused. */
static void test_names(void)
{
    proc_refund_state_t st = PROC_REFUND_PENDING;

    CHECK_STR(proc_pay_state_name(PROC_STATE_PARTIALLY_REFUNDED), "PARTIALLY_REFUNDED");
    CHECK_STR(proc_pay_state_name((proc_pay_state_t)42), "UNKNOWN");
    CHECK_INT(proc_refund_state_parse("REJECTED", &st), PS_OK);
    CHECK_INT(st, PROC_REFUND_REJECTED);
    CHECK_INT(proc_refund_state_parse("posted", &st), PS_ERR_INVALID);
    CHECK_INT(proc_refund_state_parse(NULL, &st), PS_ERR_INVALID);
    CHECK_STR(proc_account_kind_name(PROC_ACCOUNT_ADJUSTMENT), "ADJUSTMENT");
    CHECK_STR(proc_purpose_name(PROC_PURPOSE_REFUND_REVERSED), "REFUND_REVERSED");
}

/* Goal: a refund naming no account (WeChat, Alipay) posts to its payment's
 * account; one that comes before its payment is kept under the unknown
 * account "" and posts, to the payment's account, once the payment is paid. */
static void test_refund_without_account(void)
{
    proc_payment_t p;
    proc_journal_list_t jl = {0};
    proc_fold_outcome_t o[3];
    ps_callback_event_t ev[3] = {mk_ev(PS_EVENT_REFUND_SUCCEEDED, "E2", 300, "R1"),
                                 mk_ev(PS_EVENT_PAYMENT_SUCCEEDED, "E1", 1000, NULL),
                                 mk_ev(PS_EVENT_REFUND_SUCCEEDED, "E3", 200, "R2")};

    ev[0].account_id = "";
    ev[2].account_id = NULL;
    proc_payment_init(&p, PS_CHANNEL_WECHAT, "ORD1");
    CHECK_INT(fold_events(&p, ev, 1, &jl, o), 0);
    CHECK(p.changed);
    CHECK_STR(p.account_id, "");
    CHECK_INT(p.refund_count, 1);
    CHECK_INT(jl.count, 0);
    CHECK_INT(fold_events(&p, ev + 1, 2, &jl, o + 1), 0);
    CHECK_STR(p.account_id, "player-1");
    CHECK_INT(proc_payment_state(&p), PROC_STATE_PARTIALLY_REFUNDED);
    CHECK_INT(p.refunded_minor, 500);
    REQUIRE(jl.count == 3);
    for (size_t i = 0; i < jl.count; i++)
        CHECK_STR(jl.items[i].lines[0].account_id, "player-1");
    CHECK_INT(balance(&jl, "player-1"), -500);
    proc_journal_list_deinit(&jl);
    proc_payment_deinit(&p);
}

int main(void)
{
    RUN(test_success_posts_pay);
    RUN(test_two_notifications_credit_once);
    RUN(test_invalid_identity);
    RUN(test_partial_then_full_refund);
    RUN(test_alipay_cumulative);
    RUN(test_refund_before_payment);
    RUN(test_refund_without_account);
    RUN(test_refund_reversed);
    RUN(test_closed);
    RUN(test_commands);
    RUN(test_command_unknown_account);
    RUN(test_more_invalid);
    RUN(test_loaded_state);
    RUN(test_permutations_journals);
    RUN(test_permutations_reversal);
    RUN(test_names);
    return test_summary();
}
