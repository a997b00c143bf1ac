/*
 * Integration test of refunds that name no account (WeChat and Alipay refund
 * notifications carry none) against the real PostgreSQL: applied before
 * their payment in a separate batch, the payment row is kept under the
 * unknown account "" and nothing is posted; the payment's own notification
 * in a later batch fills in the account and posts the payment and the refund
 * to it. Applied after the payment, the refund posts to the payment's account.
 */
#include "apply_test_items.h"
#include "proc_test_env.h"

static proc_test_db_t db;
static PGconn *conn;
static proc_apply_t *ap;
static char errstr[PS_ERRSTR_SIZE];

static const char *q(const char *sql)
{
    static char out[4][512];
    static int turn;

    turn = (turn + 1) % 4;
    return q1(conn, sql, out[turn], sizeof(out[turn]));
}

/* Goal: refund first (no account), payment later: both post to the player. */
static void test_refund_before_payment_without_account(void)
{
    proc_item_t it[2];
    proc_apply_stats_t st;

    item_event(&it[0], PS_CHANNEL_WECHAT, PS_EVENT_REFUND_SUCCEEDED, "na-r", "NA-1", 300, "R1",
               "CNY", "");
    CHECK_INT(apply_txn(conn, ap, it, 1, &st, errstr, sizeof(errstr)), PS_OK);
    CHECK_INT(st.dead_lettered, 0);
    CHECK_INT(st.journals_posted, 0);
    CHECK_STR(q("SELECT state || ':' || account_id || ':' || refunded_minor FROM payments "
                "WHERE merchant_order_no = 'NA-1'"),
              "PENDING::0");
    item_event(&it[1], PS_CHANNEL_WECHAT, PS_EVENT_PAYMENT_SUCCEEDED, "na-p", "NA-1", 1000, NULL,
               "CNY", "player-na");
    CHECK_INT(apply_txn(conn, ap, it + 1, 1, &st, errstr, sizeof(errstr)), PS_OK);
    CHECK_INT(st.journals_posted, 2);
    CHECK_STR(q("SELECT state || ':' || account_id || ':' || refunded_minor FROM payments "
                "WHERE merchant_order_no = 'NA-1'"),
              "PARTIALLY_REFUNDED:player-na:300");
    CHECK_STR(q("SELECT balance_minor FROM accounts WHERE account_id = 'player-na'"), "-700");
    CHECK_STR(q("SELECT count(*) FROM accounts WHERE account_id = ''"), "0");
    CHECK_INT(ledger_violations(conn), 0);
    items_free(it, 2);
}

/* Goal: payment first, then a refund naming no account: the player's account. */
static void test_refund_after_payment_without_account(void)
{
    proc_item_t it[2];
    proc_apply_stats_t st;

    item_event(&it[0], PS_CHANNEL_ALIPAY, PS_EVENT_PAYMENT_SUCCEEDED, "nb-p", "NB-1", 648, NULL,
               "CNY", "player-nb");
    item_event(&it[1], PS_CHANNEL_ALIPAY, PS_EVENT_REFUND_SUCCEEDED, "nb-r", "NB-1", 648, "RB",
               "CNY", "");
    CHECK_INT(apply_txn(conn, ap, it, 1, &st, errstr, sizeof(errstr)), PS_OK);
    CHECK_INT(apply_txn(conn, ap, it + 1, 1, &st, errstr, sizeof(errstr)), PS_OK);
    CHECK_INT(st.dead_lettered, 0);
    CHECK_STR(q("SELECT state || ':' || account_id FROM payments WHERE merchant_order_no = "
                "'NB-1'"),
              "REFUNDED:player-nb");
    CHECK_STR(q("SELECT balance_minor FROM accounts WHERE account_id = 'player-nb'"), "0");
    CHECK_INT(ledger_violations(conn), 0);
    items_free(it, 2);
}

int main(void)
{
    proc_test_db_create(&db, 1);
    conn = proc_test_connect(&db);
    if (proc_apply_new(conn, &ap, errstr, sizeof(errstr)) != PS_OK) {
        fprintf(stderr, "%s\n", errstr);
        return 1;
    }
    RUN(test_refund_before_payment_without_account);
    RUN(test_refund_after_payment_without_account);
    proc_apply_destroy(ap);
    PQfinish(conn);
    proc_test_db_drop(&db);
    return test_summary();
}
