/*
 * Integration tests of the order in which the ledger apply
 * (processor/apply_write.c) writes the rows that concurrent batches share,
 * on the real PostgreSQL (PAYSTREAM_TEST_PG), in a throwaway database:
 *
 *   - account balances are written last: a second connection applying a
 *     batch on the same accounts gets through its events, payments and
 *     journals while the first batch is still open, and waits only
 *     at the balance update; both batches then commit with exact balances
 *   - a batch that needs an account another open batch is creating waits
 *     for it and then completes (no lost update, no failure)
 *   - journal ids cached per session leave the identity sequence usable by
 *     every other writer, and every PAY journal carries its payment's amount
 *
 * Processor instances apply partitions in parallel; before this order the
 * shared clearing and player rows were locked from the balance update (the
 * third write) to COMMIT, so instances serialized on them.
 */
#include "apply_test_items.h"
#include "proc_test_env.h"

#include <pthread.h>
#include <time.h>

/* How long the main thread waits for the other connection to block. */
#define LOCKS_WAIT_MS_MAX 20000
#define LOCKS_POLL_MS 20

static proc_test_db_t db;
static PGconn *conn, *observer;
static proc_apply_t *ap;
static char errstr[PS_ERRSTR_SIZE];

static const char *q(PGconn *c, const char *sql)
{
    static char out[4][512];
    static int turn;

    turn = (turn + 1) % 4;
    return q1(c, sql, out[turn], sizeof(out[turn]));
}

/* n WeChat successes of 1000 + i for orders <prefix>-<i>, all to player. */
static void gen(proc_item_t *it, size_t n, const char *prefix, const char *player)
{
    char id[64], order[64];

    for (size_t i = 0; i < n; i++) {
        snprintf(order, sizeof(order), "%s-%zu", prefix, i);
        snprintf(id, sizeof(id), "%s-ev-%zu", prefix, i);
        item_event(&it[i], PS_CHANNEL_WECHAT, PS_EVENT_PAYMENT_SUCCEEDED, id, order,
                   1000 + (int64_t)i, NULL, "CNY", player);
    }
}

/* The other connection: BEGIN, apply, COMMIT on its own connection. */
typedef struct other {
    proc_item_t *items; /* borrowed */
    size_t n;
    int pid;            /* its backend, published before it applies */
    pthread_mutex_t mu;
    ps_err_t err;
    char errstr[PS_ERRSTR_SIZE];
} other_t;

static void *other_main(void *arg)
{
    other_t *o = arg;
    PGconn *c = proc_test_connect(&db);
    proc_apply_t *oap = NULL;
    proc_apply_stats_t st;

    pthread_mutex_lock(&o->mu);
    o->pid = PQbackendPID(c);
    pthread_mutex_unlock(&o->mu);
    o->err = proc_apply_new(c, &oap, o->errstr, sizeof(o->errstr));
    if (o->err == PS_OK)
        o->err = apply_txn(c, oap, o->items, o->n, &st, o->errstr, sizeof(o->errstr));
    proc_apply_destroy(oap);
    PQfinish(c);
    return NULL;
}

static int other_pid(other_t *o)
{
    int pid;

    pthread_mutex_lock(&o->mu);
    pid = o->pid;
    pthread_mutex_unlock(&o->mu);
    return pid;
}

/* Waits until backend pid waits for a lock; returns its query's first 40
 * characters, or "(not blocked)" after LOCKS_WAIT_MS_MAX. */
static const char *wait_blocked(other_t *o)
{
    static char out[128];
    char sql[256];

    for (int waited = 0; waited < LOCKS_WAIT_MS_MAX; waited += LOCKS_POLL_MS) {
        struct timespec ts = {0, LOCKS_POLL_MS * 1000000L};
        int pid = other_pid(o);

        if (pid != 0) {
            snprintf(sql, sizeof(sql),
                     "SELECT left(query, 40) FROM pg_stat_activity WHERE pid = %d AND "
                     "wait_event_type = 'Lock'",
                     pid);
            q1(observer, sql, out, sizeof(out));
            if (strcmp(out, "(none)") != 0)
                return out;
        }
        nanosleep(&ts, NULL);
    }
    return "(not blocked)";
}

/* Whether backend pid holds a granted RowExclusiveLock on table. */
static const char *holds_write_lock(int pid, const char *table)
{
    char sql[256];

    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_locks WHERE pid = %d AND relation = '%s'::regclass "
             "AND mode = 'RowExclusiveLock' AND granted",
             pid, table);
    return q(observer, sql);
}

/* Goal: with one batch open on the shared accounts, a second batch on the
 * same accounts writes its journals and lines and blocks only at the
 * balance update (the last write); after both commit, the balances hold
 * both batches exactly. */
static void test_balances_locked_last(void)
{
    enum { N = 5 };
    proc_item_t seed[2], a[N], b[N];
    proc_apply_stats_t st;
    other_t o = {.items = b, .n = N, .mu = PTHREAD_MUTEX_INITIALIZER};
    pthread_t t;
    ps_err_class_t cls = PS_ERRCLASS_FATAL;

    /* The accounts exist and are committed: only their balances are shared. */
    gen(seed, 2, "LL-SEED", "lock-player");
    REQUIRE(apply_txn(conn, ap, seed, 2, &st, errstr, sizeof(errstr)) == PS_OK);
    gen(a, N, "LL-A", "lock-player");
    gen(b, N, "LL-B", "lock-player");
    REQUIRE(ps_pg_exec(conn, "BEGIN", errstr, sizeof(errstr)) == PS_OK);
    CHECK_INT(proc_apply_batch(ap, a, N, &st, &cls, errstr, sizeof(errstr)), PS_OK);
    CHECK_INT(st.journals_posted, N);
    pthread_create(&t, NULL, other_main, &o);
    CHECK_STR(wait_blocked(&o), "INSERT INTO accounts AS a (account_id, c");
    CHECK_STR(holds_write_lock(other_pid(&o), "journals"), "1");
    CHECK_STR(holds_write_lock(other_pid(&o), "payments"), "1");
    CHECK_INT(ps_pg_exec(conn, "COMMIT", errstr, sizeof(errstr)), PS_OK);
    pthread_join(t, NULL);
    if (o.err != PS_OK)
        fprintf(stderr, "other connection: %s\n", o.errstr);
    CHECK_INT(o.err, PS_OK);
    /* 1000 + 1001 (seed) + 2 * (1000 + ... + 1004) = 12021 */
    CHECK_STR(q(conn, "SELECT balance_minor FROM accounts WHERE account_id = 'lock-player'"),
              "-12021");
    CHECK_STR(q(conn, "SELECT count(*) FROM payments WHERE merchant_order_no LIKE 'LL-%'"), "12");
    CHECK_INT(ledger_violations(conn), 0);
    items_free(seed, 2);
    items_free(a, N);
    items_free(b, N);
}

/* Goal: a batch that needs an account which another open batch is creating
 * waits for that batch (it cannot see the uncommitted row, and must not
 * create a second one), then completes with the exact balance. */
static void test_new_account_waits_for_creator(void)
{
    enum { N = 3 };
    proc_item_t a[N], b[N];
    proc_apply_stats_t st;
    other_t o = {.items = b, .n = N, .mu = PTHREAD_MUTEX_INITIALIZER};
    pthread_t t;
    ps_err_class_t cls = PS_ERRCLASS_FATAL;

    gen(a, N, "NA-A", "new-player");
    gen(b, N, "NA-B", "new-player");
    REQUIRE(ps_pg_exec(conn, "BEGIN", errstr, sizeof(errstr)) == PS_OK);
    CHECK_INT(proc_apply_batch(ap, a, N, &st, &cls, errstr, sizeof(errstr)), PS_OK);
    pthread_create(&t, NULL, other_main, &o);
    CHECK_STR(wait_blocked(&o), "INSERT INTO accounts (account_id, curren");
    CHECK_INT(ps_pg_exec(conn, "COMMIT", errstr, sizeof(errstr)), PS_OK);
    pthread_join(t, NULL);
    if (o.err != PS_OK)
        fprintf(stderr, "other connection: %s\n", o.errstr);
    CHECK_INT(o.err, PS_OK);
    /* 2 * (1000 + 1001 + 1002) */
    CHECK_STR(q(conn, "SELECT balance_minor FROM accounts WHERE account_id = 'new-player'"),
              "-6006");
    CHECK_STR(q(conn, "SELECT count(*) FROM accounts WHERE account_id = 'new-player'"), "1");
    CHECK_INT(ledger_violations(conn), 0);
    items_free(a, N);
    items_free(b, N);
}

/* Goal: with the per-session sequence cache of 005, a writer using the
 * journal id's default still gets a fresh id (one no journal has; it need
 * not be the largest), and every PAY journal the apply posted carries its
 * payment's amount on the payment's account. */
static void test_journal_ids(void)
{
    char before[64];

    q1(conn, "SELECT max(id) FROM journals", before, sizeof(before));
    CHECK(strcmp(before, "NULL") != 0 && strcmp(before, "(error)") != 0);
    REQUIRE(ps_pg_exec(conn, "BEGIN", errstr, sizeof(errstr)) == PS_OK);
    CHECK_STR(q(conn, "WITH j AS (INSERT INTO journals (source_kind, source_id, currency, "
                      "account_id, amount_minor, contra_account_id) SELECT 'LEDGER_COMMAND', "
                      "'lock-test-default-id', currency, account_id, 1, account_id "
                      "FROM accounts LIMIT 1 RETURNING id) "
                      "SELECT NOT EXISTS (SELECT 1 FROM journals x WHERE x.id = (SELECT id FROM j))"),
              "t");
    REQUIRE(ps_pg_exec(conn, "ROLLBACK", errstr, sizeof(errstr)) == PS_OK);
    /* Every payment's PAY journal carries its own amount on its own lines. */
    CHECK_STR(q(conn, "SELECT count(*) FROM payments p JOIN journals j ON j.effect = "
                      "'PAY:WECHAT:' || p.merchant_order_no JOIN ledger_entries e ON "
                      "e.journal_id = j.id AND e.account_id = p.account_id "
                      "WHERE e.amount_minor = -p.amount_minor"),
              q(conn, "SELECT count(*) FROM payments"));
}

int main(void)
{
    proc_test_db_create(&db, 1);
    conn = proc_test_connect(&db);
    observer = proc_test_connect(&db);
    if (proc_apply_new(conn, &ap, errstr, sizeof(errstr)) != PS_OK) {
        fprintf(stderr, "%s\n", errstr);
        return 1;
    }
    RUN(test_balances_locked_last);
    RUN(test_new_account_waits_for_creator);
    RUN(test_journal_ids);
    proc_apply_destroy(ap);
    PQfinish(observer);
    PQfinish(conn);
    proc_test_db_drop(&db);
    return test_summary();
}
