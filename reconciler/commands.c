/*
 * LedgerCommands (commands.h): deterministic ids, their rows in
 * recon_commands, and the crash test hook. The Kafka side is in emit.c.
 */
#include "commands.h"

#include "pgarr.h"

#include <paystream/assert.h>
#include <paystream/limits.h>
#include <paystream/mem.h>
#include <paystream/money.h>
#include <paystream/pg.h>
#include <paystream/timeparse.h>

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void recon_crash_point(const char *point)
{
    const char *at = getenv("PAYSTREAM_RECON_CRASH_AT");

    if (at != NULL && strcmp(at, point) == 0) {
        fprintf(stderr, "paystream-reconciler: test hook: crashing at \"%s\"\n", point);
        fflush(NULL);
        _exit(RECON_CRASH_EXIT);
    }
}

/* "<len>:<text>\n": length-prefixed, so fields cannot run into each other. */
static void digest_field(EVP_MD_CTX *md, const char *s)
{
    char len[24];

    snprintf(len, sizeof(len), "%zu:", strlen(s));
    EVP_DigestUpdate(md, len, strlen(len));
    EVP_DigestUpdate(md, s, strlen(s));
    EVP_DigestUpdate(md, "\n", 1);
}

static const char *command_currency(const recon_pair_t *p)
{
    return p->has_ledger && p->ledger_currency[0] != '\0' ? p->ledger_currency
                                                          : p->stmt_currency;
}

void recon_command_id(ps_channel_t channel, const recon_pair_t *p, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    char amount[32];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    PS_ASSERT(ctx != NULL);
    PS_ASSERT(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1);
    snprintf(amount, sizeof(amount), "%lld", (long long)p->cmd_amount_minor);
    digest_field(ctx, "paystream-recon-command-v1");
    digest_field(ctx, ps_channel_name(channel));
    digest_field(ctx, p->payment_key);
    digest_field(ctx, p->refund_id != NULL ? p->refund_id : "");
    digest_field(ctx, recon_class_name(p->cls));
    digest_field(ctx, ps_command_kind_name(p->cmd_kind));
    digest_field(ctx, amount);
    digest_field(ctx, command_currency(p));
    PS_ASSERT(EVP_DigestFinal_ex(ctx, md, &md_len) == 1 && md_len == 32);
    EVP_MD_CTX_free(ctx);
    for (unsigned i = 0; i < md_len; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

void recon_command_build(ps_channel_t channel, const recon_pair_t *p, const char *run_id,
                         const char *suspense_account, int64_t created_time_us,
                         ps_ledger_command_t *cmd)
{
    char reason[PS_REASON_BYTES_MAX], s_amt[PS_MONEY_DECIMAL_BYTES_MAX],
        l_amt[PS_MONEY_DECIMAL_BYTES_MAX];
    const char *cur = command_currency(p);

    PS_ASSERT(p->action == RECON_ACT_COMMAND);
    if (ps_money_format(p->stmt_amount_minor, cur, s_amt, sizeof(s_amt)) != PS_OK)
        snprintf(s_amt, sizeof(s_amt), "%lld", (long long)p->stmt_amount_minor);
    if (ps_money_format(p->refund_id[0] != '\0' ? p->ledger_refund_minor
                                                : p->ledger_amount_minor,
                        cur, l_amt, sizeof(l_amt)) != PS_OK)
        snprintf(l_amt, sizeof(l_amt), "?");
    snprintf(reason, sizeof(reason), "%s%s%s: statement %s, ledger %s %s",
             recon_class_name(p->cls), p->refund_id[0] != '\0' ? " refund " : "", p->refund_id,
             p->has_stmt ? s_amt : "none", p->has_ledger ? l_amt : "none", cur);
    cmd->command_id = ps_strdup(p->command_id);
    cmd->kind = p->cmd_kind;
    cmd->channel = channel;
    cmd->payment_key = ps_strdup(p->payment_key);
    cmd->amount_minor = p->cmd_amount_minor;
    snprintf(cmd->currency, sizeof(cmd->currency), "%s", cur);
    cmd->account_id = ps_strdup(p->account_id != NULL ? p->account_id : suspense_account);
    cmd->reason = ps_strdup(reason);
    cmd->recon_run_id = ps_strdup(run_id);
    cmd->created_time_us = created_time_us;
}

static const char plan_sql[] =
    "INSERT INTO recon_commands (command_id, run_id, seq, kind, channel, payment_key,"
    " amount_minor, currency, account_id, reason, created_time)"
    " SELECT c.id, $1, c.seq, c.kind, c.channel, c.key, c.amount, c.currency, c.account,"
    "        c.reason, to_timestamp(0) + c.created_us * interval '1 microsecond'"
    "   FROM unnest($2::text[], $3::int8[], $4::text[], $5::text[], $6::text[], $7::int8[],"
    "               $8::text[], $9::text[], $10::text[], $11::int8[])"
    "        AS c(id, seq, kind, channel, key, amount, currency, account, reason, created_us)"
    " ON CONFLICT (command_id) DO NOTHING RETURNING seq";

#define PLAN_ARRAYS 10

static ps_err_t plan_arrays(recon_pgarr_t *a, const ps_ledger_command_t *cmds, size_t n)
{
    ps_err_t err = PS_OK;

    for (size_t i = 0; err == PS_OK && i < n; i++) {
        const ps_ledger_command_t *c = &cmds[i];
        err = recon_pgarr_text(&a[0], c->command_id);
        err = err ? err : recon_pgarr_int(&a[1], (int64_t)i);
        err = err ? err : recon_pgarr_text(&a[2], ps_command_kind_name(c->kind));
        err = err ? err : recon_pgarr_text(&a[3], ps_channel_name(c->channel));
        err = err ? err : recon_pgarr_text(&a[4], c->payment_key);
        err = err ? err : recon_pgarr_int(&a[5], c->amount_minor);
        err = err ? err : recon_pgarr_text(&a[6], c->currency);
        err = err ? err : recon_pgarr_text(&a[7], c->account_id);
        err = err ? err : recon_pgarr_text(&a[8], c->reason);
        err = err ? err : recon_pgarr_int(&a[9], c->created_time_us);
    }
    return err;
}

ps_err_t recon_commands_plan(PGconn *conn, const char *run_id, const ps_ledger_command_t *cmds,
                             size_t n, bool *is_new, char *errstr, size_t errstr_size)
{
    recon_pgarr_t a[PLAN_ARRAYS];
    const char *params[PLAN_ARRAYS + 1] = {run_id};
    PGresult *res = NULL;
    ps_err_t err;

    for (int i = 0; i < PLAN_ARRAYS; i++)
        recon_pgarr_init(&a[i], PS_RECON_REPORT_BYTES_MAX);
    err = plan_arrays(a, cmds, n);
    for (int i = 0; err == PS_OK && i < PLAN_ARRAYS; i++)
        if ((params[i + 1] = recon_pgarr_finish(&a[i])) == NULL)
            err = PS_ERR_TOO_LARGE;
    if (err != PS_OK) {
        err = ps_errstr_set(errstr, errstr_size, err, "planned commands exceed %zu bytes",
                            (size_t)PS_RECON_REPORT_BYTES_MAX);
        goto out;
    }
    err = ps_pg_exec_params(conn, plan_sql, PLAN_ARRAYS + 1, params, &res, errstr, errstr_size);
    if (err != PS_OK) {
        ps_errstr_prefix(errstr, errstr_size, err, "could not record planned commands");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        is_new[i] = false;
    for (int r = 0; r < PQntuples(res); r++) {
        long long seq = strtoll(PQgetvalue(res, r, 0), NULL, 10);
        PS_ASSERT(seq >= 0 && (size_t)seq < n);
        is_new[seq] = true;
    }
out:
    PQclear(res);
    for (int i = 0; i < PLAN_ARRAYS; i++)
        recon_pgarr_deinit(&a[i]);
    return err;
}

static ps_err_t load_row(const PGresult *res, int r, ps_ledger_command_t *c, char *errstr,
                         size_t errstr_size)
{
    const char *kind = PQgetvalue(res, r, 1), *channel = PQgetvalue(res, r, 2);
    char lower[16];

    c->command_id = ps_strdup(PQgetvalue(res, r, 0));
    c->kind = strcmp(kind, "REVERSE") == 0      ? PS_COMMAND_REVERSE
              : strcmp(kind, "COMPENSATE") == 0 ? PS_COMMAND_COMPENSATE
                                                : PS_COMMAND_ADJUST;
    snprintf(lower, sizeof(lower), "%s", channel);
    for (char *s = lower; *s != '\0'; s++)
        *s = (char)(*s >= 'A' && *s <= 'Z' ? *s - 'A' + 'a' : *s);
    if (ps_channel_parse(lower, &c->channel) != PS_OK)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "planned command \"%s\" has unknown channel \"%s\"", c->command_id,
                             channel);
    c->payment_key = ps_strdup(PQgetvalue(res, r, 3));
    c->amount_minor = strtoll(PQgetvalue(res, r, 4), NULL, 10);
    snprintf(c->currency, sizeof(c->currency), "%s", PQgetvalue(res, r, 5));
    c->account_id = PQgetisnull(res, r, 6) ? NULL : ps_strdup(PQgetvalue(res, r, 6));
    c->reason = ps_strdup(PQgetvalue(res, r, 7));
    c->recon_run_id = ps_strdup(PQgetvalue(res, r, 8));
    c->created_time_us = strtoll(PQgetvalue(res, r, 9), NULL, 10);
    return PS_OK;
}

ps_err_t recon_commands_load_planned(PGconn *conn, const char *run_id, ps_ledger_command_t **out,
                                     size_t *n_out, char *errstr, size_t errstr_size)
{
    static const char sql[] =
        "SELECT command_id, kind, channel, payment_key, amount_minor, currency, account_id,"
        " reason, run_id, (extract(epoch FROM created_time) * 1000000)::bigint"
        " FROM recon_commands WHERE run_id = $1 AND state = 'PLANNED' ORDER BY seq";
    const char *params[1] = {run_id};
    PGresult *res = NULL;
    ps_ledger_command_t *cmds = NULL;
    size_t n = 0;
    ps_err_t err = ps_pg_exec_params(conn, sql, 1, params, &res, errstr, errstr_size);

    if (err != PS_OK) {
        ps_errstr_prefix(errstr, errstr_size, err, "could not load planned commands of run "
                                                   "\"%s\"", run_id);
        goto out;
    }
    cmds = ps_calloc((size_t)PQntuples(res) + 1, sizeof(*cmds));
    for (; err == PS_OK && n < (size_t)PQntuples(res); n++)
        err = load_row(res, (int)n, &cmds[n], errstr, errstr_size);
    if (err != PS_OK)
        goto out;
    *out = cmds;
    *n_out = n;
    cmds = NULL;
out:
    for (size_t i = 0; cmds != NULL && i < n; i++)
        ps_ledger_command_deinit(&cmds[i]);
    ps_free(cmds);
    PQclear(res);
    return err;
}

ps_err_t recon_commands_mark_emitted(PGconn *conn, const char *run_id, char *errstr,
                                     size_t errstr_size)
{
    static const char sql[] =
        "WITH c AS (UPDATE recon_commands SET state = 'EMITTED', emitted_at = now()"
        "            WHERE run_id = $1 AND state = 'PLANNED' RETURNING 1)"
        " UPDATE recon_runs SET status = 'SUCCEEDED', finished_at = now(),"
        "        commands_emitted = commands_emitted + (SELECT count(*) FROM c)"
        "  WHERE id = $1 AND status = 'EMITTING'";
    const char *params[1] = {run_id};
    ps_err_t err = ps_pg_exec_params(conn, sql, 1, params, NULL, errstr, errstr_size);

    if (err != PS_OK)
        ps_errstr_prefix(errstr, errstr_size, err, "could not mark run \"%s\" emitted", run_id);
    return err;
}

ps_err_t recon_commands_lookup(PGconn *conn, const char *const *ids, size_t n, bool *emitted,
                               bool *applied, char *errstr, size_t errstr_size)
{
    static const char sql[] =
        "SELECT i.ord - 1, EXISTS (SELECT 1 FROM recon_commands c"
        "                          WHERE c.command_id = i.id AND c.state = 'EMITTED'),"
        "       EXISTS (SELECT 1 FROM ledger_commands l WHERE l.command_id = i.id)"
        "  FROM unnest($1::text[]) WITH ORDINALITY AS i(id, ord)";
    recon_pgarr_t a;
    const char *params[1];
    PGresult *res = NULL;
    ps_err_t err = PS_OK;

    recon_pgarr_init(&a, PS_RECON_REPORT_BYTES_MAX);
    for (size_t i = 0; err == PS_OK && i < n; i++)
        err = recon_pgarr_text(&a, ids[i]);
    if (err != PS_OK || (params[0] = recon_pgarr_finish(&a)) == NULL) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE, "too many command ids");
        goto out;
    }
    err = ps_pg_exec_params(conn, sql, 1, params, &res, errstr, errstr_size);
    if (err != PS_OK) {
        ps_errstr_prefix(errstr, errstr_size, err, "could not look up earlier commands");
        goto out;
    }
    for (int r = 0; r < PQntuples(res); r++) {
        long long i = strtoll(PQgetvalue(res, r, 0), NULL, 10);
        PS_ASSERT(i >= 0 && (size_t)i < n);
        emitted[i] = PQgetvalue(res, r, 1)[0] == 't';
        applied[i] = PQgetvalue(res, r, 2)[0] == 't';
    }
out:
    PQclear(res);
    recon_pgarr_deinit(&a);
    return err;
}
