/*
 * Helpers shared by the ledger apply, audit and replay integration tests
 * (test_apply.c, test_audit.c, test_replay.c): building proc_item_t events
 * and commands with owned fields, applying a batch in its own transaction,
 * and checking the ledger's invariants with SQL. Header-only.
 */
#ifndef APPLY_TEST_ITEMS_H
#define APPLY_TEST_ITEMS_H

#include "apply.h"
#include "test.h"

#include <paystream/mem.h>
#include <paystream/pg.h>

#include <stdio.h>
#include <string.h>

static int64_t test_next_offset;

/* An event item; strings copied (owned by the item). refund_id may be NULL. */
static inline void item_event(proc_item_t *it, ps_channel_t ch, ps_event_kind_t kind,
                              const char *event_id, const char *order, int64_t amount,
                              const char *refund_id, const char *currency, const char *account)
{
    static const uint8_t raw[] = {0xC3, 0x01, 'r', 'a', 'w', 0x00, '"', '\\'};

    memset(it, 0, sizeof(*it));
    it->kind = PROC_ITEM_EVENT;
    it->topic = "test.callbacks";
    it->partition = 0;
    it->offset = test_next_offset++;
    it->raw = raw;
    it->raw_len = sizeof(raw);
    it->ev.channel = ch;
    it->ev.kind = kind;
    it->ev.channel_event_id = ps_strdup(event_id);
    it->ev.channel_event_type = ps_strdup(kind == PS_EVENT_PAYMENT_SUCCEEDED ? "SUCCESS" : "OTHER");
    it->ev.merchant_order_no = ps_strdup(order);
    it->ev.channel_txn_id = ps_strdup(order); /* unique per payment, like the channel's */
    it->ev.refund_id = refund_id != NULL ? ps_strdup(refund_id) : NULL;
    it->ev.amount_minor = amount;
    snprintf(it->ev.currency, sizeof(it->ev.currency), "%s", currency);
    it->ev.account_id = ps_strdup(account);
    it->ev.event_time_us = INT64_C(1795000000000000) + it->offset;
    it->ev.has_paid_time = kind == PS_EVENT_PAYMENT_SUCCEEDED;
    it->ev.paid_time_us = it->ev.event_time_us;
    it->ev.received_time_us = it->ev.event_time_us + 1;
}

static inline void item_command(proc_item_t *it, ps_command_kind_t kind, const char *command_id,
                                ps_channel_t ch, const char *payment_key, int64_t amount,
                                const char *currency, const char *account)
{
    static const uint8_t raw[] = {0xC3, 0x01, 'c', 'm', 'd'};

    memset(it, 0, sizeof(*it));
    it->kind = PROC_ITEM_COMMAND;
    it->topic = "test.commands";
    it->offset = test_next_offset++;
    it->raw = raw;
    it->raw_len = sizeof(raw);
    it->cmd.command_id = ps_strdup(command_id);
    it->cmd.kind = kind;
    it->cmd.channel = ch;
    it->cmd.payment_key = ps_strdup(payment_key);
    it->cmd.amount_minor = amount;
    snprintf(it->cmd.currency, sizeof(it->cmd.currency), "%s", currency);
    it->cmd.account_id = account != NULL ? ps_strdup(account) : NULL;
    it->cmd.reason = ps_strdup("test");
    it->cmd.recon_run_id = ps_strdup("run-1");
}

static inline void items_free(proc_item_t *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        proc_item_deinit(&items[i]);
}

/* BEGIN, proc_apply_batch, COMMIT (ROLLBACK on failure); returns the error. */
static inline ps_err_t apply_txn(PGconn *conn, proc_apply_t *ap, proc_item_t *items, size_t n,
                                 proc_apply_stats_t *stats, char *errstr, size_t errstr_size)
{
    ps_err_class_t cls = PS_ERRCLASS_FATAL;
    ps_err_t err = ps_pg_exec(conn, "BEGIN", errstr, errstr_size);

    if (err == PS_OK)
        err = proc_apply_batch(ap, items, n, stats, &cls, errstr, errstr_size);
    if (err == PS_OK)
        err = ps_pg_exec(conn, "COMMIT", errstr, errstr_size);
    if (err != PS_OK) {
        char ignored[PS_ERRSTR_SIZE];
        ps_pg_exec(conn, "ROLLBACK", ignored, sizeof(ignored));
    }
    return err;
}

/* One text value (first row, first column) copied into out; "(none)" for no
 * row, "(error)" on failure. */
static inline const char *q1(PGconn *conn, const char *sql, char *out, size_t out_size)
{
    PGresult *res = PQexec(conn, sql);

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "query failed: %s: %s\n", sql, PQerrorMessage(conn));
        snprintf(out, out_size, "(error)");
    } else if (PQntuples(res) == 0) {
        snprintf(out, out_size, "(none)");
    } else {
        snprintf(out, out_size, "%s", PQgetisnull(res, 0, 0) ? "NULL" : PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return out;
}

/* The ledger's invariants in SQL: every journal balances, every balance is
 * the sum of its entries. Returns the number of violations. */
static inline long long ledger_violations(PGconn *conn)
{
    char v1[64], v2[64];

    q1(conn,
       "SELECT count(*) FROM (SELECT journal_id FROM ledger_entries GROUP BY journal_id, "
       "currency HAVING sum(amount_minor) <> 0) s",
       v1, sizeof(v1));
    q1(conn,
       "SELECT count(*) FROM accounts a LEFT JOIN (SELECT account_id, currency, "
       "sum(amount_minor) AS s FROM ledger_entries GROUP BY 1, 2) e USING (account_id, currency) "
       "WHERE a.balance_minor <> coalesce(e.s, 0)",
       v2, sizeof(v2));
    return strtoll(v1, NULL, 10) + strtoll(v2, NULL, 10);
}

#endif
