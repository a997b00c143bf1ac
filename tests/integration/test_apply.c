/*
 * Integration tests of the ledger apply (processor/apply.c) on the real
 * PostgreSQL (PAYSTREAM_TEST_PG), in a throwaway database migrated with the
 * real migrations: all three channels, duplicates inside a batch and across
 * redeliveries (applying the same batch twice applies nothing), several
 * events of one payment in one batch, refunds before their payment, partial
 * and full and cumulative refunds, poison and invalid values dead-lettered,
 * commands, the shape of a journal row (007), two connections applying
 * concurrently to the same accounts, and a printed apply rate for 20,000
 * events (not an assertion).
 */
#include "apply_test_items.h"
#include "proc_test_env.h"

#include <paystream/assert.h>
#include <paystream/limits.h>

#include <pthread.h>
#include <time.h>

static proc_test_db_t db;
static PGconn *conn;
static proc_apply_t *ap;
static char errstr[PS_ERRSTR_SIZE];

#define PE PS_EVENT_PAYMENT_SUCCEEDED
#define RE PS_EVENT_REFUND_SUCCEEDED

static const char *q(const char *sql)
{
    static char out[4][512];
    static int turn;

    turn = (turn + 1) % 4;
    return q1(conn, sql, out[turn], sizeof(out[turn]));
}

/* Goal (regression): the very first batch of a fresh apply state holding
 * only poison (no journal, so nothing to aggregate) and an empty batch. */
static void test_fresh_poison_only(void)
{
    proc_apply_t *fresh = NULL;
    proc_item_t it;
    proc_apply_stats_t st;

    REQUIRE(proc_apply_new(conn, &fresh, errstr, sizeof(errstr)) == PS_OK);
    memset(&it, 0, sizeof(it));
    it.kind = PROC_ITEM_POISON;
    it.topic = "test.callbacks";
    it.offset = test_next_offset++;
    it.raw = (const uint8_t *)"x";
    it.raw_len = 1;
    snprintf(it.reason, sizeof(it.reason), "truncated message");
    CHECK_INT(apply_txn(conn, fresh, &it, 1, &st, errstr, sizeof(errstr)), PS_OK);
    CHECK_INT(st.dead_lettered, 1);
    CHECK_INT(apply_txn(conn, fresh, NULL, 0, &st, errstr, sizeof(errstr)), PS_OK);
    CHECK_INT(st.dead_lettered, 0);
    proc_apply_destroy(fresh);
}

/* Goal: one success per channel becomes three PAID payments, three balanced
 * journals, and clearing/player balances with the documented signs. */
static void test_three_channels(void)
{
    proc_item_t it[3];
    proc_apply_stats_t st;

    item_event(&it[0], PS_CHANNEL_WECHAT, PE, "wx-1", "WX-O1", 1000, NULL, "CNY", "p1");
    item_event(&it[1], PS_CHANNEL_ALIPAY, PE, "ali-1", "ALI-O1", 2000, NULL, "CNY", "p1");
    item_event(&it[2], PS_CHANNEL_APPLE, PE, "apl-1", "APL-O1", 699, NULL, "USD", "p2");
    CHECK_INT(apply_txn(conn, ap, it, 3, &st, errstr, sizeof(errstr)), PS_OK);
    CHECK_INT(st.events_applied, 3);
    CHECK_INT(st.journals_posted, 3);
    CHECK_STR(q("SELECT string_agg(state || ':' || amount_minor, ',' ORDER BY channel) FROM "
                "payments WHERE merchant_order_no IN ('WX-O1', 'ALI-O1', 'APL-O1')"),
              "PAID:2000,PAID:699,PAID:1000");
    CHECK_STR(q("SELECT balance_minor FROM accounts WHERE account_id = 'p1' AND currency = 'CNY'"),
              "-3000");
    CHECK_STR(q("SELECT balance_minor || kind FROM accounts WHERE account_id = 'clearing:APPLE'"),
              "699CHANNEL_CLEARING");
    CHECK_STR(q("SELECT source_id || '|' || effect FROM journals WHERE source_id LIKE 'WECHAT:WX-O1:%'"),
              "WECHAT:WX-O1:PAY|PAY:WECHAT:WX-O1");
    CHECK_STR(q("SELECT encode(evidence_avro, 'hex') || kafka_topic FROM payment_events "
                "WHERE channel_event_id = 'wx-1'"),
              "c30172617700225ctest.callbacks");
    CHECK_INT(ledger_violations(conn), 0);
    items_free(it, 3);
}

/* Goal: a repeat inside the batch and a redelivered batch are absorbed: the
 * second application of the same batch applies nothing. */
static void test_duplicates_and_redelivery(void)
{
    proc_item_t it[3];
    proc_apply_stats_t st;
    char journals[32];

    item_event(&it[0], PS_CHANNEL_WECHAT, PE, "wx-d1", "WX-D1", 500, NULL, "CNY", "p3");
    item_event(&it[1], PS_CHANNEL_WECHAT, PE, "wx-d1", "WX-D1", 500, NULL, "CNY", "p3");
    item_event(&it[2], PS_CHANNEL_WECHAT, PE, "wx-d2", "WX-D1", 500, NULL, "CNY", "p3");
    CHECK_INT(apply_txn(conn, ap, it, 3, &st, errstr, sizeof(errstr)), PS_OK);
    CHECK_INT(st.events_applied, 2);
    CHECK_INT(st.events_duplicate, 1);
    CHECK_INT(st.journals_posted, 1);
    q1(conn, "SELECT count(*) FROM journals", journals, sizeof(journals));
    CHECK_INT(apply_txn(conn, ap, it, 3, &st, errstr, sizeof(errstr)), PS_OK);
    CHECK_INT(st.events_applied, 0);
    CHECK_INT(st.events_duplicate, 3);
    CHECK_INT(st.journals_posted, 0);
    CHECK_STR(q("SELECT count(*) FROM journals"), journals);
    CHECK_STR(q("SELECT balance_minor FROM accounts WHERE account_id = 'p3'"), "-500");
    items_free(it, 3);
}

/* Goal: events of payments that do not exist yet are inserted without the
 * conflict check; when one of them turns out to exist after all (here an
 * event id reused for another order), the batch still applies exactly what
 * the conflict-checking insert would: the reused id is a duplicate, the
 * others are applied, and nothing of the rolled-back attempt remains. */
static void test_new_payment_event_id_reused(void)
{
    proc_item_t it[3];
    proc_apply_stats_t st;

    item_event(&it[0], PS_CHANNEL_WECHAT, PE, "wx-r1", "WX-R1", 700, NULL, "CNY", "p3");
    CHECK_INT(apply_txn(conn, ap, it, 1, &st, errstr, sizeof(errstr)), PS_OK);
    CHECK_INT(st.events_applied, 1);
    items_free(it, 1);
    item_event(&it[0], PS_CHANNEL_WECHAT, PE, "wx-r2", "WX-R2", 800, NULL, "CNY", "p3");
    item_event(&it[1], PS_CHANNEL_WECHAT, PE, "wx-r1", "WX-R3", 900, NULL, "CNY", "p3");
    item_event(&it[2], PS_CHANNEL_WECHAT, PE, "wx-r4", "WX-R1", 700, NULL, "CNY", "p3");
    CHECK_INT(apply_txn(conn, ap, it, 3, &st, errstr, sizeof(errstr)), PS_OK);
    CHECK_INT(st.events_applied, 2);
    CHECK_INT(st.events_duplicate, 1);
    CHECK_INT(st.journals_posted, 1);
    CHECK_STR(q("SELECT string_agg(merchant_order_no || ':' || state, ',' ORDER BY "
                "merchant_order_no) FROM payments WHERE merchant_order_no LIKE 'WX-R%'"),
              "WX-R1:PAID,WX-R2:PAID");
    CHECK_STR(q("SELECT string_agg(channel_event_id || ':' || merchant_order_no, ',' ORDER BY "
                "channel_event_id) FROM payment_events WHERE channel_event_id LIKE 'wx-r%'"),
              "wx-r1:WX-R1,wx-r2:WX-R2,wx-r4:WX-R1");
    CHECK_INT(ledger_violations(conn), 0);
    items_free(it, 3);
}

/* Goal: success, partial refund, a repeat of it and the rest of the refund,
 * all in one batch, end REFUNDED with three journals. */
static void test_one_payment_many_events_in_batch(void)
{
    proc_item_t it[4];
    proc_apply_stats_t st;

    item_event(&it[0], PS_CHANNEL_WECHAT, PE, "wx-m1", "WX-M1", 1000, NULL, "CNY", "p4");
    item_event(&it[1], PS_CHANNEL_WECHAT, RE, "wx-m2", "WX-M1", 300, "RF-M1", "CNY", "p4");
    item_event(&it[2], PS_CHANNEL_WECHAT, RE, "wx-m3", "WX-M1", 300, "RF-M1", "CNY", "p4");
    item_event(&it[3], PS_CHANNEL_WECHAT, RE, "wx-m4", "WX-M1", 700, "RF-M2", "CNY", "p4");
    CHECK_INT(apply_txn(conn, ap, it, 4, &st, errstr, sizeof(errstr)), PS_OK);
    CHECK_INT(st.events_applied, 4);
    CHECK_INT(st.journals_posted, 3);
    CHECK_STR(q("SELECT state || ':' || refunded_minor FROM payments WHERE merchant_order_no = "
                "'WX-M1'"),
              "REFUNDED:1000");
    CHECK_STR(q("SELECT balance_minor FROM accounts WHERE account_id = 'p4'"), "0");
    CHECK_STR(q("SELECT string_agg(refund_id || ':' || state, ',' ORDER BY refund_id) FROM "
                "payment_refunds WHERE merchant_order_no = 'WX-M1'"),
              "RF-M1:POSTED,RF-M2:POSTED");
    CHECK_INT(ledger_violations(conn), 0);
    items_free(it, 4);
}

/* Goal: a refund applied before its payment waits PENDING with no journal,
 * and is posted when the success arrives in a later batch. */
static void test_refund_before_payment(void)
{
    proc_item_t a[1], b[1];
    proc_apply_stats_t st;

    item_event(&a[0], PS_CHANNEL_APPLE, RE, "apl-r1", "APL-R1", 300, "APL-RF1", "USD", "p5");
    CHECK_INT(apply_txn(conn, ap, a, 1, &st, errstr, sizeof(errstr)), PS_OK);
    CHECK_INT(st.journals_posted, 0);
    CHECK_STR(q("SELECT state FROM payments WHERE merchant_order_no = 'APL-R1'"), "PENDING");
    CHECK_STR(q("SELECT state FROM payment_refunds WHERE refund_id = 'APL-RF1'"), "PENDING");
    item_event(&b[0], PS_CHANNEL_APPLE, PE, "apl-p1", "APL-R1", 999, NULL, "USD", "p5");
    CHECK_INT(apply_txn(conn, ap, b, 1, &st, errstr, sizeof(errstr)), PS_OK);
    CHECK_INT(st.journals_posted, 2);
    CHECK_STR(q("SELECT state || ':' || amount_minor || ':' || refunded_minor FROM payments "
                "WHERE merchant_order_no = 'APL-R1'"),
              "PARTIALLY_REFUNDED:999:300");
    CHECK_STR(q("SELECT balance_minor FROM accounts WHERE account_id = 'p5'"), "-699");
    items_free(a, 1);
    items_free(b, 1);
}

/* Goal: Alipay cumulative totals post deltas across batches; a stale lower
 * total arriving late changes nothing. */
static void test_alipay_cumulative(void)
{
    proc_item_t it[4];
    proc_apply_stats_t st;

    item_event(&it[0], PS_CHANNEL_ALIPAY, PE, "ali-c0", "ALI-C1", 1000, NULL, "CNY", "p6");
    item_event(&it[1], PS_CHANNEL_ALIPAY, RE, "ali-c1", "ALI-C1", 200, "ALI-RF1", "CNY", "p6");
    item_event(&it[2], PS_CHANNEL_ALIPAY, RE, "ali-c2", "ALI-C1", 500, "ALI-RF2", "CNY", "p6");
    item_event(&it[3], PS_CHANNEL_ALIPAY, RE, "ali-c3", "ALI-C1", 200, "ALI-RF3", "CNY", "p6");
    it[1].ev.has_refund_total = it[2].ev.has_refund_total = it[3].ev.has_refund_total = true;
    it[1].ev.refund_total_minor = 200;
    it[2].ev.refund_total_minor = 700;
    it[3].ev.refund_total_minor = 200;
    CHECK_INT(apply_txn(conn, ap, it, 2, &st, errstr, sizeof(errstr)), PS_OK);
    CHECK_INT(apply_txn(conn, ap, it + 2, 2, &st, errstr, sizeof(errstr)), PS_OK);
    CHECK_INT(st.journals_posted, 1);
    CHECK_STR(q("SELECT refunded_minor || ':' || refund_total_minor FROM payments WHERE "
                "merchant_order_no = 'ALI-C1'"),
              "700:700");
    CHECK_STR(q("SELECT -e.amount_minor FROM ledger_entries e JOIN journals j ON j.id = "
                "e.journal_id WHERE j.source_id = 'ALIPAY:ALI-C1:REFUND:ALI-RF2' AND "
                "e.account_id LIKE 'clearing:%'"),
              "500");
    items_free(it, 4);
}

/* Goal: poison and invalid values become dead letters in the same
 * transaction, leave no event row, and a redelivery adds no second letter. */
static void test_poison_and_invalid(void)
{
    proc_item_t it[4];
    proc_apply_stats_t st;
    char sql[160];

    memset(&it[0], 0, sizeof(it[0]));
    it[0].kind = PROC_ITEM_POISON;
    it[0].topic = "test.callbacks";
    it[0].offset = test_next_offset++;
    it[0].raw = (const uint8_t *)"garbage";
    it[0].raw_len = 7;
    snprintf(it[0].reason, sizeof(it[0].reason), "unknown schema fingerprint 0x1234");
    item_event(&it[1], PS_CHANNEL_WECHAT, PE, "wx-i1", "WX-I1", 100, NULL, "CNY", "p7");
    item_event(&it[2], PS_CHANNEL_WECHAT, RE, "wx-i2", "WX-I1", 100, "RF-I1", "USD", "p7");
    item_event(&it[3], PS_CHANNEL_WECHAT, RE, "wx-i3", "WX-I1", 500, "RF-I2", "CNY", "p7");
    for (int round = 0; round < 2; round++) {
        CHECK_INT(apply_txn(conn, ap, it, 4, &st, errstr, sizeof(errstr)), PS_OK);
        CHECK_INT(st.dead_lettered, 3);
    }
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM dead_letters WHERE kafka_offset >= %lld",
             (long long)it[0].offset);
    CHECK_STR(q(sql), "3");
    CHECK_STR(q("SELECT reason FROM dead_letters WHERE raw = 'garbage'"),
              "unknown schema fingerprint 0x1234");
    snprintf(sql, sizeof(sql), "SELECT reason FROM dead_letters WHERE kafka_offset = %lld",
             (long long)it[2].offset);
    CHECK_STR(q(sql), "currency \"USD\" differs from the payment's currency \"CNY\"");
    CHECK_CONTAINS(q("SELECT string_agg(reason, ',') FROM dead_letters"), "exceeds the 100 "
                                                                          "refundable");
    CHECK_STR(q("SELECT count(*) FROM payment_events WHERE channel_event_id IN ('wx-i2', "
                "'wx-i3')"),
              "0");
    CHECK_STR(q("SELECT state FROM payments WHERE merchant_order_no = 'WX-I1'"), "PAID");
    items_free(it + 1, 3);
}

/* Goal: commands apply once each: COMPENSATE pays a missing payment (a later
 * callback credits nothing), ADJUST moves a delta, REVERSE reverses (found
 * by the channel txn id), a repeated command is a duplicate. */
static void test_commands(void)
{
    proc_item_t it[5];
    proc_apply_stats_t st;

    item_command(&it[0], PS_COMMAND_COMPENSATE, "cmd-1", PS_CHANNEL_WECHAT, "WX-C1", 800, "CNY",
                 "p8");
    item_event(&it[1], PS_CHANNEL_WECHAT, PE, "wx-c1", "WX-C1", 800, NULL, "CNY", "p8");
    ps_free(it[1].ev.channel_txn_id);
    it[1].ev.channel_txn_id = ps_strdup("TXN-C1"); /* learnt after the COMPENSATE */
    item_command(&it[2], PS_COMMAND_ADJUST, "cmd-2", PS_CHANNEL_WECHAT, "WX-C1", 25, "CNY", NULL);
    item_command(&it[3], PS_COMMAND_REVERSE, "cmd-3", PS_CHANNEL_WECHAT, "TXN-C1", 800, "CNY",
                 NULL);
    item_command(&it[4], PS_COMMAND_ADJUST, "cmd-2", PS_CHANNEL_WECHAT, "WX-C1", 25, "CNY", NULL);
    CHECK_INT(apply_txn(conn, ap, it, 2, &st, errstr, sizeof(errstr)), PS_OK);
    CHECK_INT(st.commands_applied, 1);
    CHECK_INT(st.journals_posted, 1);
    CHECK_INT(apply_txn(conn, ap, it + 2, 3, &st, errstr, sizeof(errstr)), PS_OK);
    CHECK_INT(st.commands_applied, 2);
    CHECK_INT(st.commands_duplicate, 1);
    CHECK_INT(st.journals_posted, 2);
    CHECK_STR(q("SELECT state || ':' || channel_txn_id FROM payments WHERE merchant_order_no = "
                "'WX-C1'"),
              "REVERSED:TXN-C1");
    CHECK_STR(q("SELECT merchant_order_no FROM ledger_commands WHERE command_id = 'cmd-3'"),
              "WX-C1");
    CHECK_STR(q("SELECT balance_minor FROM accounts WHERE account_id = 'p8'"), "-25");
    CHECK_STR(q("SELECT balance_minor || kind FROM accounts WHERE account_id = "
                "'adjustment:WECHAT'"),
              "25ADJUSTMENT");
    CHECK_STR(q("SELECT count(*) FROM ledger_commands"), "3");
    CHECK_INT(ledger_violations(conn), 0);
    items_free(it, 5);
}

/* Goal: a journal is one transfer row (007), balanced by construction: its
 * lines are an amount and its negation. A journal naming an account that
 * does not exist in its currency fails at its INSERT (statement-level
 * trigger), a zero amount is refused, and the lines cannot be written
 * around the journal. */
static void test_journal_shape(void)
{
    char e[PS_ERRSTR_SIZE];

    /* p1 exists in CNY only. */
    CHECK_INT(ps_pg_exec(conn,
                         "INSERT INTO journals (source_kind, source_id, currency, account_id, "
                         "amount_minor, contra_account_id) VALUES ('LEDGER_COMMAND', "
                         "'manual-bad', 'USD', 'p1', 100, 'clearing:WECHAT')",
                         e, sizeof(e)),
              PS_ERR_PG);
    CHECK_CONTAINS(e, "ERROR 23503: journal");
    CHECK_CONTAINS(e, "refers to missing account \"clearing:WECHAT\" in USD");
    CHECK_INT(ps_pg_exec(conn,
                         "INSERT INTO journals (source_kind, source_id, currency, account_id, "
                         "amount_minor, contra_account_id) VALUES ('LEDGER_COMMAND', "
                         "'manual-zero', 'CNY', 'p1', 0, 'clearing:WECHAT')",
                         e, sizeof(e)),
              PS_ERR_PG);
    CHECK_CONTAINS(e, "journals_amount_check");
    CHECK_INT(ps_pg_exec(conn,
                         "INSERT INTO ledger_entries VALUES (1, 3, 'p1', 'CNY', 100)", e,
                         sizeof(e)),
              PS_ERR_PG);
    CHECK_CONTAINS(e, "cannot insert into view");
    CHECK_STR(q("SELECT count(*) FROM journals WHERE source_id LIKE 'manual-%'"), "0");
    /* A valid one commits and reads back as two lines that sum to zero. */
    CHECK_INT(ps_pg_exec(conn,
                         "INSERT INTO journals (source_kind, source_id, currency, account_id, "
                         "amount_minor, contra_account_id) VALUES ('LEDGER_COMMAND', "
                         "'manual-ok', 'CNY', 'p1', 100, 'clearing:WECHAT'); UPDATE accounts "
                         "SET balance_minor = balance_minor + 100 WHERE account_id = 'p1' AND "
                         "currency = 'CNY'; UPDATE accounts SET balance_minor = balance_minor - "
                         "100 WHERE account_id = 'clearing:WECHAT' AND currency = 'CNY'",
                         e, sizeof(e)),
              PS_OK);
    CHECK_STR(q("SELECT string_agg(e.line_no || ':' || e.account_id || ':' || e.amount_minor, "
                "',' ORDER BY e.line_no) FROM ledger_entries e JOIN journals j ON j.id = "
                "e.journal_id WHERE j.source_id = 'manual-ok'"),
              "1:p1:100,2:clearing:WECHAT:-100");
    CHECK_INT(ledger_violations(conn), 0);
}

/* Goal: values that would break a statement (missing fields, bad currency,
 * negative amounts, an empty account) are dead letters with a reason, and
 * ids full of array-literal syntax round-trip exactly. */
static void test_hostile_values(void)
{
    static const char nasty[] = "a\"b\\c,{NULL}\t'x' \xe6\x94\xaf";
    proc_item_t it[6];
    proc_apply_stats_t st;
    char sql[256];

    item_event(&it[0], PS_CHANNEL_WECHAT, PE, nasty, nasty, 42, NULL, "CNY", nasty);
    item_event(&it[1], PS_CHANNEL_WECHAT, PE, "h-2", "H-2", 42, NULL, "cny", "p9");
    item_event(&it[2], PS_CHANNEL_WECHAT, PE, "h-3", "H-3", -1, NULL, "CNY", "p9");
    item_event(&it[3], PS_CHANNEL_WECHAT, PE, "h-4", "H-4", 42, NULL, "CNY", "");
    item_event(&it[4], PS_CHANNEL_WECHAT, PE, "h-5", "H-5", 42, NULL, "CNY", "p9");
    ps_free(it[4].ev.channel_event_id);
    it[4].ev.channel_event_id = NULL;
    item_command(&it[5], PS_COMMAND_REVERSE, "h-cmd", PS_CHANNEL_WECHAT, "H-NONE", 10, "CNY",
                 NULL);
    CHECK_INT(apply_txn(conn, ap, it, 6, &st, errstr, sizeof(errstr)), PS_OK);
    CHECK_INT(st.events_applied, 1);
    CHECK_INT(st.dead_lettered, 5);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM payments p JOIN payment_events e USING "
                               "(merchant_order_no) WHERE e.channel_event_id = p.account_id "
                               "AND octet_length(p.account_id) = %zu", strlen(nasty));
    CHECK_STR(q(sql), "1");
    CHECK_STR(q("SELECT count(*) FROM dead_letters WHERE reason LIKE '%three upper-case%' OR "
                "reason LIKE '%negative%' OR reason LIKE '%empty account id%' OR reason LIKE "
                "'%lacks its channel event id%' OR reason LIKE '%account of payment \"H-NONE\" "
                "is unknown%'"),
              "5");
    CHECK_STR(q("SELECT count(*) FROM ledger_commands WHERE command_id = 'h-cmd'"), "0");
    CHECK_INT(ledger_violations(conn), 0);
    items_free(it, 6);
}

/* Goal: a batch whose evidence exceeds one array parameter's bound
 * (PS_APPLY_STMT_BYTES_MAX as hex text) is sent in chunks and fully applied,
 * and so is a batch of large poison messages. */
static void test_large_evidence_chunked(void)
{
    enum { N = 140 };
    proc_item_t *it = ps_calloc(N + 2, sizeof(*it));
    uint8_t *big = ps_malloc(PS_AVRO_MESSAGE_BYTES_MAX);
    proc_apply_stats_t st;
    char id[32];

    for (size_t i = 0; i < PS_AVRO_MESSAGE_BYTES_MAX; i++)
        big[i] = (uint8_t)(i * 7);
    for (size_t i = 0; i < N; i++) {
        snprintf(id, sizeof(id), "BIG-%zu", i);
        item_event(&it[i], PS_CHANNEL_APPLE, PE, id, id, 100, NULL, "USD", "p-big");
        it[i].raw = big;
        it[i].raw_len = PS_AVRO_MESSAGE_BYTES_MAX;
    }
    REQUIRE((size_t)N * PS_AVRO_MESSAGE_BYTES_MAX * 2 > PS_APPLY_STMT_BYTES_MAX);
    for (size_t i = N; i < N + 2; i++) {
        it[i].kind = PROC_ITEM_POISON;
        it[i].topic = "test.callbacks";
        it[i].offset = test_next_offset++;
        it[i].raw = big;
        it[i].raw_len = PS_AVRO_MESSAGE_BYTES_MAX;
        snprintf(it[i].reason, sizeof(it[i].reason), "oversized test poison");
    }
    CHECK_INT(apply_txn(conn, ap, it, N + 2, &st, errstr, sizeof(errstr)), PS_OK);
    CHECK_INT(st.events_applied, N);
    CHECK_INT(st.dead_lettered, 2);
    CHECK_STR(q("SELECT count(*) || ':' || min(octet_length(evidence_avro)) FROM payment_events "
                "WHERE channel_event_id LIKE 'BIG-%'"),
              "140:262144");
    CHECK_STR(q("SELECT balance_minor FROM accounts WHERE account_id = 'p-big'"), "-14000");
    items_free(it, N);
    ps_free(big);
    ps_free(it);
}

/* Builds n success events for prefix (orders <prefix>-<i>), players p0..p9. */
static void gen_payments(proc_item_t *it, size_t n, const char *prefix, int refunds_pct)
{
    /* Sized for any prefix up to PS_ID_BYTES_MAX and any size_t, so that
     * -Wformat-truncation has nothing to say at -O3. */
    char id[PS_ID_BYTES_MAX + 32], order[PS_ID_BYTES_MAX + 32], rid[PS_ID_BYTES_MAX + 32];
    char player[32];

    PS_ASSERT(strlen(prefix) < PS_ID_BYTES_MAX);
    for (size_t i = 0; i < n; i++) {
        ps_channel_t ch = (ps_channel_t)(i % 3);
        bool refund = i > 0 && (int)(i * 7 % 100) < refunds_pct;
        size_t target = refund ? i - 1 : i;

        snprintf(order, sizeof(order), "%s-%zu", prefix, target);
        snprintf(id, sizeof(id), "%s-ev-%zu", prefix, i);
        snprintf(rid, sizeof(rid), "%s-rf-%zu", prefix, i);
        snprintf(player, sizeof(player), "p%zu", target % 10);
        item_event(&it[i], (ps_channel_t)(target % 3), refund ? RE : PE, id, order,
                   refund ? 50 : 1000 + (int64_t)(target % 7), refund ? rid : NULL,
                   target % 3 == PS_CHANNEL_APPLE ? "USD" : "CNY", player);
        (void)ch;
    }
}

typedef struct worker {
    const char *prefix;
    ps_err_t err;
    char errstr[PS_ERRSTR_SIZE];
} worker_t;

/* Applies 10 batches of 100 events on its own connection, retrying
 * retriable failures like the consumer loop does. */
static void *worker_main(void *arg)
{
    worker_t *w = arg;
    PGconn *c = proc_test_connect(&db);
    proc_apply_t *wap = NULL;
    proc_item_t it[100];
    char prefix[64];

    w->err = proc_apply_new(c, &wap, w->errstr, sizeof(w->errstr));
    for (int b = 0; w->err == PS_OK && b < 10; b++) {
        proc_apply_stats_t st;
        snprintf(prefix, sizeof(prefix), "%s%d", w->prefix, b);
        gen_payments(it, 100, prefix, 0);
        for (int attempt = 0; attempt < 20; attempt++) {
            w->err = apply_txn(c, wap, it, 100, &st, w->errstr, sizeof(w->errstr));
            if (w->err != PS_ERR_RETRIABLE)
                break;
        }
        items_free(it, 100);
    }
    proc_apply_destroy(wap);
    PQfinish(c);
    return NULL;
}

/* Goal: two connections applying at once to the same player and clearing
 * accounts neither deadlock nor lose an update. */
static void test_concurrent_connections(void)
{
    worker_t w[2] = {{.prefix = "CA"}, {.prefix = "CB"}};
    pthread_t t[2];
    char before[64], expect[64];

    struct timespec t0, t1;
    int64_t us;

    q1(conn, "SELECT balance_minor FROM accounts WHERE account_id = 'clearing:WECHAT'", before,
       sizeof(before));
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, worker_main, &w[i]);
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        if (w[i].err != PS_OK)
            fprintf(stderr, "worker %d: %s\n", i, w[i].errstr);
        CHECK_INT(w[i].err, PS_OK);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    us = (int64_t)(t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000;
    printf("concurrent apply: 2000 events on 2 connections (batches of 100, shared accounts) in "
           "%lld ms\n", (long long)(us / 1000));
    /* Each batch: 34 WeChat payments (i % 3 == 0) of 1000 + i % 7. */
    snprintf(expect, sizeof(expect), "%lld",
             strtoll(before, NULL, 10) +
                 strtoll(q("SELECT sum(amount_minor) FROM payments WHERE channel = 'WECHAT' AND "
                           "(merchant_order_no LIKE 'CA%' OR merchant_order_no LIKE 'CB%')"),
                         NULL, 10));
    CHECK_STR(q("SELECT balance_minor FROM accounts WHERE account_id = 'clearing:WECHAT'"),
              expect);
    CHECK_STR(q("SELECT count(*) FROM payments WHERE merchant_order_no LIKE 'C_%-%'"), "2000");
    CHECK_INT(ledger_violations(conn), 0);
}

/* Goal: print the apply rate of 20,000 events (15 % refunds) in batches of
 * 1,000 on one connection; the figure is reported, not asserted. */
static void test_apply_rate(void)
{
    enum { TOTAL = 20000, BATCH = 1000 };
    static uint8_t evidence[1024];
    proc_item_t *it = ps_calloc(TOTAL, sizeof(*it));
    struct timespec t0, t1;
    int64_t applied = 0, us;

    gen_payments(it, TOTAL, "BENCH", 15);
    /* Realistic evidence: a WeChat callback's Avro message is about 1 KiB. */
    for (size_t i = 0; i < TOTAL; i++) {
        it[i].raw = evidence;
        it[i].raw_len = sizeof(evidence);
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t b = 0; b < TOTAL; b += BATCH) {
        proc_apply_stats_t st;
        CHECK_INT(apply_txn(conn, ap, it + b, BATCH, &st, errstr, sizeof(errstr)), PS_OK);
        applied += st.events_applied;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    us = (int64_t)(t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000;
    CHECK_INT(applied, TOTAL);
    printf("apply rate: %d events (1 KiB evidence each) in %lld ms = %lld events/s (batches of "
           "%d, one connection)\n",
           TOTAL, (long long)(us / 1000), (long long)(us > 0 ? (int64_t)TOTAL * 1000000 / us : 0),
           BATCH);
    CHECK_INT(ledger_violations(conn), 0);
    items_free(it, TOTAL);
    ps_free(it);
}

int main(void)
{
    proc_test_db_create(&db, 1);
    conn = proc_test_connect(&db);
    if (proc_apply_new(conn, &ap, errstr, sizeof(errstr)) != PS_OK) {
        fprintf(stderr, "%s\n", errstr);
        return 1;
    }
    RUN(test_fresh_poison_only);
    RUN(test_three_channels);
    RUN(test_duplicates_and_redelivery);
    RUN(test_new_payment_event_id_reused);
    RUN(test_one_payment_many_events_in_batch);
    RUN(test_refund_before_payment);
    RUN(test_alipay_cumulative);
    RUN(test_poison_and_invalid);
    RUN(test_commands);
    RUN(test_journal_shape);
    RUN(test_hostile_values);
    RUN(test_large_evidence_chunked);
    RUN(test_concurrent_connections);
    RUN(test_apply_rate);
    proc_apply_destroy(ap);
    PQfinish(conn);
    proc_test_db_drop(&db);
    return test_summary();
}
