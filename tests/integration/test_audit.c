/*
 * Integration tests of the ledger audit and digest (processor/audit.c) on the
 * real PostgreSQL: a ledger built by proc_apply_batch passes every invariant;
 * the same inputs applied in another batching and payment order into a
 * second schema give the same digest; tampering with a balance, a payment,
 * a duplicated journal or an unbalanced line is reported by the right
 * invariant and changes the digest; the `audit` command's exit codes.
 */
#include "apply_test_items.h"
#include "audit.h"
#include "proc_test_env.h"

#include <paystream/assert.h>
#include <paystream/config.h>

/* processor/config.h: ingest has a config.h too, so name the table directly. */
extern const ps_config_key_t proc_config_table[];
extern const size_t proc_config_key_count;

static proc_test_db_t db;
static PGconn *conn_a, *conn_b; /* schema public and schema "audit_b" */
static char errstr[PS_ERRSTR_SIZE];

#define N_ITEMS 23

/* A mix of every kind of input: 6 payments x (success, duplicate
 * notification, partial refund, second refund), two Alipay cumulative
 * refunds, an Apple refund reversal and three commands. */
static void build_inputs(proc_item_t *it)
{
    static const char *const players[] = {"pa", "pb", "pc"};
    char ev[32], order[32], rf[32];
    size_t k = 0;

    for (int p = 0; p < 6; p++) {
        ps_channel_t ch = (ps_channel_t)(p % 3);
        const char *cur = ch == PS_CHANNEL_APPLE ? "USD" : "CNY";
        snprintf(order, sizeof(order), "AUD-%d", p);
        snprintf(ev, sizeof(ev), "aud-%d-s", p);
        item_event(&it[k++], ch, PS_EVENT_PAYMENT_SUCCEEDED, ev, order, 1000 + p, NULL, cur,
                   players[p % 3]);
        snprintf(ev, sizeof(ev), "aud-%d-s2", p);
        item_event(&it[k++], ch, PS_EVENT_PAYMENT_SUCCEEDED, ev, order, 1000 + p, NULL, cur,
                   players[p % 3]);
        snprintf(ev, sizeof(ev), "aud-%d-r", p);
        snprintf(rf, sizeof(rf), "AUD-RF-%d", p);
        item_event(&it[k++], ch, PS_EVENT_REFUND_SUCCEEDED, ev, order, 100, rf, cur,
                   players[p % 3]);
        if (ch == PS_CHANNEL_ALIPAY) {
            it[k - 1].ev.has_refund_total = true;
            it[k - 1].ev.refund_total_minor = 100;
        }
    }
    /* Alipay AUD-1: cumulative 100 -> 300. */
    item_event(&it[k], PS_CHANNEL_ALIPAY, PS_EVENT_REFUND_SUCCEEDED, "aud-1-r2", "AUD-1", 200,
               "AUD-RF-1b", "CNY", "pb");
    it[k].ev.has_refund_total = true;
    it[k++].ev.refund_total_minor = 300;
    /* Apple AUD-2: the refund is reversed. */
    item_event(&it[k++], PS_CHANNEL_APPLE, PS_EVENT_REFUND_REVERSED, "aud-2-v", "AUD-2", 100,
               "AUD-RF-2", "USD", "pc");
    item_command(&it[k++], PS_COMMAND_COMPENSATE, "aud-c1", PS_CHANNEL_WECHAT, "AUD-9", 5000,
                 "CNY", "pa");
    item_command(&it[k++], PS_COMMAND_ADJUST, "aud-c2", PS_CHANNEL_WECHAT, "AUD-0", -30, "CNY",
                 NULL);
    item_command(&it[k++], PS_COMMAND_REVERSE, "aud-c3", PS_CHANNEL_WECHAT, "AUD-3", 1003, "CNY",
                 NULL);
    PS_ASSERT(k == N_ITEMS);
}

/* Applies it[order[i]] in batches of batch items. */
static void apply_all(PGconn *conn, proc_item_t *it, const size_t *order, size_t batch)
{
    proc_apply_t *ap = NULL;
    proc_item_t b[N_ITEMS];
    proc_apply_stats_t st;

    REQUIRE(proc_apply_new(conn, &ap, errstr, sizeof(errstr)) == PS_OK);
    for (size_t i = 0; i < N_ITEMS; i += batch) {
        size_t n = i + batch > N_ITEMS ? N_ITEMS - i : batch;
        for (size_t k = 0; k < n; k++)
            b[k] = it[order[i + k]]; /* shallow: it keeps ownership */
        CHECK_INT(apply_txn(conn, ap, b, n, &st, errstr, sizeof(errstr)), PS_OK);
    }
    proc_apply_destroy(ap);
}

static proc_audit_result_t audit(PGconn *conn, bool print)
{
    proc_audit_result_t r;

    memset(&r, 0, sizeof(r));
    CHECK_INT(proc_audit_run(conn, print ? stderr : NULL, &r, errstr, sizeof(errstr)), PS_OK);
    return r;
}

/* Goal: a clean ledger passes, and the digest does not depend on batching or
 * on the interleaving of different payments. */
static void test_clean_and_order_independent(void)
{
    proc_item_t it[N_ITEMS];
    size_t fwd[N_ITEMS], other[N_ITEMS], k = 0;
    proc_audit_result_t a, b;

    build_inputs(it);
    for (size_t i = 0; i < N_ITEMS; i++)
        fwd[i] = i;
    /* Payments in reverse order, each payment's own inputs still in order
     * (Kafka keeps a key's order); the command for a new payment first. */
    other[k++] = 20;
    for (int p = 5; p >= 0; p--)
        for (int j = 0; j < 3; j++)
            other[k++] = (size_t)(p * 3 + j);
    other[k++] = 18;
    other[k++] = 19;
    other[k++] = 21;
    other[k++] = 22;
    apply_all(conn_a, it, fwd, 5);
    apply_all(conn_b, it, other, 7);
    a = audit(conn_a, true);
    b = audit(conn_b, false);
    CHECK_INT(a.failures, 0);
    CHECK_INT(b.failures, 0);
    CHECK_INT(strlen(a.digest), 64);
    CHECK_STR(a.digest, b.digest);
    CHECK_INT(a.payments, 7);
    CHECK(a.journals >= 14);
    items_free(it, N_ITEMS);
}

static void exec_ok(PGconn *conn, const char *sql)
{
    CHECK_INT(ps_pg_exec(conn, sql, errstr, sizeof(errstr)), PS_OK);
    if (errstr[0] != '\0' && strstr(errstr, "ERROR") != NULL)
        fprintf(stderr, "%s\n", errstr);
}

/* Runs the audit into a text report; returns the failure count. */
static long long audit_report(char **text, char *digest)
{
    size_t len = 0;
    FILE *f = open_memstream(text, &len);
    proc_audit_result_t r;

    CHECK_INT(proc_audit_run(conn_a, f, &r, errstr, sizeof(errstr)), PS_OK);
    fclose(f);
    snprintf(digest, PROC_DIGEST_HEX_BYTES, "%s", r.digest);
    return (long long)r.failures;
}

/* Goal: each kind of tampering is reported by its invariant and changes the
 * digest; undoing it restores both. */
static void test_tampering(void)
{
    char *text = NULL, clean[PROC_DIGEST_HEX_BYTES], d[PROC_DIGEST_HEX_BYTES];

    CHECK_INT(audit_report(&text, clean), 0);
    free(text);
    exec_ok(conn_a, "UPDATE accounts SET balance_minor = balance_minor + 1 WHERE account_id = "
                    "'pa' AND currency = 'CNY'");
    CHECK_INT(audit_report(&text, d), 1);
    CHECK_CONTAINS(text, "FAIL balances equal the sum of their lines: account \"pa\" (CNY)");
    CHECK(strcmp(d, clean) != 0);
    free(text);
    exec_ok(conn_a, "UPDATE accounts SET balance_minor = balance_minor - 1 WHERE account_id = "
                    "'pa' AND currency = 'CNY'");
    CHECK_INT(audit_report(&text, d), 0);
    CHECK_STR(d, clean);
    free(text);
    exec_ok(conn_a, "UPDATE payments SET refunded_minor = 50, state = 'PARTIALLY_REFUNDED', "
                    "state_rank = 3 WHERE merchant_order_no = 'AUD-4'");
    CHECK(audit_report(&text, d) >= 1);
    CHECK_CONTAINS(text, "FAIL refunded amounts equal the posted refunds: payment ALIPAY:AUD-4 "
                         "refunded_minor 50");
    free(text);
    exec_ok(conn_a, "UPDATE payments SET refunded_minor = 100 WHERE merchant_order_no = 'AUD-4'");
    /* A second PAY of AUD-5 (balanced, so only the semantic checks see it). */
    exec_ok(conn_a, "INSERT INTO journals (source_kind, source_id, effect, currency, "
                    "account_id, amount_minor, contra_account_id) VALUES ('LEDGER_COMMAND', "
                    "'forged', 'PAY:APPLE:AUD-5x', 'USD', 'pc', -1005, 'clearing:APPLE')");
    exec_ok(conn_a, "UPDATE accounts SET balance_minor = balance_minor + 1005 WHERE account_id = "
                    "'clearing:APPLE'; UPDATE accounts SET balance_minor = balance_minor - 1005 "
                    "WHERE account_id = 'pc' AND currency = 'USD'");
    CHECK_INT(audit_report(&text, d), 0); /* effect names no payment: invisible so far */
    free(text);
    /* The database refuses a second journal of one effect (006) ... */
    CHECK_INT(ps_pg_exec(conn_a, "ALTER TABLE journals DISABLE TRIGGER journals_append_only; "
                                 "UPDATE journals SET effect = 'PAY:APPLE:AUD-5' "
                                 "WHERE source_id = 'forged'",
                         errstr, sizeof(errstr)),
              PS_ERR_PG);
    CHECK_CONTAINS(errstr, "journals_effect_key");
    /* ... so the forgery drops that index first, as a tampered database would. */
    exec_ok(conn_a, "DROP INDEX journals_effect_key; "
                    "ALTER TABLE journals DISABLE TRIGGER journals_append_only; UPDATE journals "
                    "SET effect = 'PAY:APPLE:AUD-5' WHERE source_id = 'forged'; ALTER TABLE "
                    "journals ENABLE TRIGGER journals_append_only");
    CHECK(audit_report(&text, d) >= 2);
    CHECK_CONTAINS(text, "FAIL nothing applied twice: effect PAY:APPLE:AUD-5 posted 2 times");
    CHECK_CONTAINS(text, "has 2 PAY journal(s) of 2010");
    free(text);
    /* A journal is balanced by construction (007); one with no amount gets
     * in only past a dropped constraint, and the audit still sees it. */
    exec_ok(conn_a, "ALTER TABLE journals DROP CONSTRAINT journals_amount_check; INSERT INTO "
                    "journals (source_kind, source_id, currency, account_id, amount_minor, "
                    "contra_account_id) VALUES ('LEDGER_COMMAND', 'forged-zero', 'USD', 'pc', "
                    "0, 'clearing:APPLE')");
    CHECK(audit_report(&text, d) >= 3);
    CHECK_CONTAINS(text, "FAIL journals balance: journal");
    CHECK_CONTAINS(text, "(forged-zero) is not a balanced transfer: 0 from 'pc' to "
                         "'clearing:APPLE' in 'USD'");
    free(text);
    /* An account that does not exist, past the disabled trigger. */
    exec_ok(conn_a, "ALTER TABLE journals DISABLE TRIGGER journals_accounts_exist; INSERT INTO "
                    "journals (source_kind, source_id, currency, account_id, amount_minor, "
                    "contra_account_id) VALUES ('LEDGER_COMMAND', 'forged-ghost', 'USD', 'pc', "
                    "5, 'ghost'); ALTER TABLE journals ENABLE TRIGGER journals_accounts_exist");
    CHECK(audit_report(&text, d) >= 4);
    CHECK_CONTAINS(text, "names missing account 'ghost' in 'USD'");
    free(text);
}

/* Goal: the command exits 0 on a clean schema, 1 on a tampered one, 2 on a
 * bad schema name. */
static void test_command(void)
{
    ps_config_t *cfg = NULL;
    char *ok_argv[] = {"audit", "--schema", "audit_b", NULL};
    char *bad_argv[] = {"audit", "--schema", "Bad-Name", NULL};
    char *tampered_argv[] = {"audit", NULL};
    char *missing_argv[] = {"audit", "--schema", "no_such_schema", NULL};

    setenv("PAYSTREAM_PG_CONNINFO", db.conninfo, 1);
    REQUIRE(ps_config_load(proc_config_table, proc_config_key_count, NULL, NULL, &cfg, errstr,
                           sizeof(errstr)) == PS_OK);
    CHECK_INT(proc_audit_main(cfg, 3, ok_argv), 0);
    CHECK_INT(proc_audit_main(cfg, 3, bad_argv), 2);
    CHECK_INT(proc_audit_main(cfg, 3, missing_argv), 1);
    CHECK_INT(proc_audit_main(cfg, 1, tampered_argv), 1);
    fflush(stdout);
    ps_config_destroy(cfg);
}

int main(void)
{
    char *conninfo_b = NULL, dir[1024];
    const char *src = getenv("PAYSTREAM_SOURCE_DIR");

    proc_test_db_create(&db, 1);
    conn_a = proc_test_connect(&db);
    snprintf(dir, sizeof(dir), "%s/schemas/postgres", src != NULL ? src : ".");
    if (ps_pg_exec(conn_a, "CREATE SCHEMA audit_b", errstr, sizeof(errstr)) != PS_OK ||
        proc_schema_conninfo(db.conninfo, "audit_b", &conninfo_b, errstr, sizeof(errstr)) !=
            PS_OK ||
        proc_migrate(conninfo_b, dir, NULL, errstr, sizeof(errstr)) != PS_OK ||
        ps_pg_connect(conninfo_b, &conn_b, errstr, sizeof(errstr)) != PS_OK) {
        fprintf(stderr, "could not prepare schema audit_b: %s\n", errstr);
        return 1;
    }
    RUN(test_clean_and_order_independent);
    RUN(test_tampering);
    RUN(test_command);
    PQfinish(conn_b);
    PQfinish(conn_a);
    ps_free(conninfo_b);
    proc_test_db_drop(&db);
    return test_summary();
}
