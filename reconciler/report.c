/*
 * The stdout summary and the JSON report (report.h). Per-class amounts are
 * shown in the statement's currency when it has a single one; a statement
 * mixing currencies gets its class totals in minor units only (adding CNY
 * fen to USD cents would mean nothing), while every discrepancy row carries
 * its own currency.
 */
#include "report.h"

#include <paystream/limits.h>
#include <paystream/money.h>
#include <paystream/timeparse.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const outcome_names[] = {"clean", "discrepancies", "halted", "locked",
                                            "already_done"};

const char *recon_outcome_name(recon_outcome_t outcome)
{
    return (unsigned)outcome < sizeof(outcome_names) / sizeof(outcome_names[0])
               ? outcome_names[outcome]
               : "unknown";
}

/* Decimal text of minor in currency, or "<minor> minor" without one. */
static const char *amount(int64_t minor, const char *currency, char *buf, size_t size)
{
    if (currency == NULL || currency[0] == '\0' ||
        ps_money_format(minor, currency, buf, size) != PS_OK)
        snprintf(buf, size, "%lld minor", (long long)minor);
    return buf;
}

static const char *tally_name(int i)
{
    return i == RECON_TALLY_PENDING ? "PENDING" : recon_class_name((recon_class_t)i);
}

static const char *action_name(const recon_pair_t *p)
{
    switch (p->action) {
    case RECON_ACT_PENDING:
        return "pending";
    case RECON_ACT_RESOLVED:
        return "resolved";
    case RECON_ACT_COMMAND:
        return p->command_id[0] == '\0' ? "halted" : p->already_emitted ? "commanded_earlier"
                                                                         : "commanded";
    default:
        return "flagged";
    }
}

void recon_report_summary(FILE *out, const recon_result_t *r)
{
    char start[40], end[40], a[3][PS_MONEY_DECIMAL_BYTES_MAX + 8];
    const char *cur = r->meta.currency;

    ps_time_format_utc(r->window_start_us, start, sizeof(start));
    ps_time_format_utc(r->window_end_us, end, sizeof(end));
    fprintf(out, "reconciliation %s%s: %s window [%s, %s)\n", r->run_id,
            r->dry_run ? " (dry run)" : "", ps_channel_name(r->channel), start, end);
    fprintf(out, "statement %s (%s): %lld payments, %lld refunds, %lld skipped\n",
            r->meta.sha256_hex, recon_format_name(r->meta.format),
            (long long)r->stage.payment_rows, (long long)r->stage.refund_rows,
            (long long)r->stage.skipped_rows);
    if (r->outcome == RECON_OUT_ALREADY_DONE) {
        fprintf(out, "already reconciled by run %s: nothing to do\n", r->previous_run_id);
        return;
    }
    fprintf(out, "%-22s %10s %20s %20s %20s\n", "class", "rows", "statement", "ledger",
            "commands");
    for (int i = 0; i <= RECON_TALLY_PENDING; i++) {
        const recon_tally_t *t = &r->tally[i];
        fprintf(out, "%-22s %10lld %20s %20s %20s\n", tally_name(i), (long long)t->rows,
                amount(t->stmt_minor, cur, a[0], sizeof(a[0])),
                amount(t->ledger_minor, cur, a[1], sizeof(a[1])),
                amount(t->command_minor, cur, a[2], sizeof(a[2])));
    }
    fprintf(out, "commands: %lld emitted now, %lld emitted by earlier runs, %lld already "
                 "applied; %lld unfinished runs completed (%lld commands)\n",
            (long long)r->commands_new, (long long)r->commands_known,
            (long long)r->commands_resolved, (long long)r->recovered_runs,
            (long long)r->recovered_commands);
    if (r->outcome == RECON_OUT_HALTED)
        fprintf(out, "HALTED by the circuit breaker: %s; nothing was emitted\n", r->halt_reason);
    fprintf(out, "outcome: %s (%lld discrepancies, %lld ms: stage %lld, diff %lld, record and "
                 "emit %lld)\n",
            recon_outcome_name(r->outcome), (long long)r->discrepancies,
            (long long)r->elapsed_ms, (long long)r->stage_ms, (long long)r->diff_ms,
            (long long)r->emit_ms);
}

static json_t *json_amount(int64_t minor, const char *currency)
{
    char buf[PS_MONEY_DECIMAL_BYTES_MAX + 8];

    return json_string(amount(minor, currency, buf, sizeof(buf)));
}

static json_t *json_pair(const recon_pair_t *p)
{
    const char *cur = p->has_stmt ? p->stmt_currency : p->ledger_currency;
    bool refund = p->refund_id[0] != '\0';
    json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:s, s:s}", "class", recon_class_name(p->cls),
                          "payment_key", p->payment_key, "refund_id", p->refund_id, "pending",
                          p->action == RECON_ACT_PENDING, "action", action_name(p), "currency",
                          cur);

    if (p->channel_txn_id != NULL)
        json_object_set_new(o, "channel_txn_id", json_string(p->channel_txn_id));
    if (p->has_stmt) {
        json_object_set_new(o, "statement_amount_minor", json_integer(p->stmt_amount_minor));
        json_object_set_new(o, "statement_amount", json_amount(p->stmt_amount_minor, cur));
    }
    if (p->has_ledger) {
        int64_t l = refund ? p->ledger_refund_minor : p->ledger_amount_minor;
        json_object_set_new(o, "ledger_amount_minor", json_integer(l));
        json_object_set_new(o, "ledger_amount", json_amount(l, p->ledger_currency));
        json_object_set_new(o, "ledger_state", json_string(p->ledger_state));
    }
    if (p->command_id[0] != '\0') {
        json_object_set_new(o, "command_id", json_string(p->command_id));
        json_object_set_new(o, "command_kind", json_string(ps_command_kind_name(p->cmd_kind)));
        json_object_set_new(o, "command_amount_minor", json_integer(p->cmd_amount_minor));
    }
    return o;
}

static json_t *json_classes(const recon_result_t *r)
{
    json_t *classes = json_object();

    for (int i = 0; i <= RECON_TALLY_PENDING; i++) {
        const recon_tally_t *t = &r->tally[i];
        json_object_set_new(classes, tally_name(i),
                            json_pack("{s:I, s:I, s:I, s:I}", "rows", (json_int_t)t->rows,
                                      "statement_minor", (json_int_t)t->stmt_minor,
                                      "ledger_minor", (json_int_t)t->ledger_minor,
                                      "command_minor", (json_int_t)t->command_minor));
    }
    return classes;
}

static json_t *json_report(const recon_result_t *r)
{
    char start[40], end[40];
    json_t *list = json_array();

    ps_time_format_utc(r->window_start_us, start, sizeof(start));
    ps_time_format_utc(r->window_end_us, end, sizeof(end));
    for (size_t i = 0; i < r->pair_count; i++)
        json_array_append_new(list, json_pair(&r->pairs[i]));
    return json_pack(
        "{s:s, s:s, s:b, s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s, s:I, s:I, s:I, s:s},"
        " s:o, s:{s:I, s:I, s:I, s:I, s:I}, s:I, s:s?, s:o, s:I}",
        "run_id", r->run_id, "channel", ps_channel_name(r->channel), "dry_run", r->dry_run,
        "outcome", recon_outcome_name(r->outcome), "previous_run_id", r->previous_run_id,
        "window", "start", start, "end", end, "statement", "sha256", r->meta.sha256_hex,
        "format", recon_format_name(r->meta.format), "merchant_id", r->meta.merchant_id,
        "payment_rows", (json_int_t)r->stage.payment_rows, "refund_rows",
        (json_int_t)r->stage.refund_rows, "skipped_rows", (json_int_t)r->stage.skipped_rows,
        "currency", r->meta.currency, "classes", json_classes(r), "commands", "emitted",
        (json_int_t)r->commands_new, "emitted_earlier", (json_int_t)r->commands_known,
        "already_applied", (json_int_t)r->commands_resolved, "recovered_runs",
        (json_int_t)r->recovered_runs, "recovered_commands", (json_int_t)r->recovered_commands,
        "discrepancies", (json_int_t)r->discrepancies, "halt_reason",
        r->outcome == RECON_OUT_HALTED ? r->halt_reason : NULL, "rows", list, "elapsed_ms",
        (json_int_t)r->elapsed_ms);
}

ps_err_t recon_report_json(const recon_result_t *r, ps_buf_t *out, char *errstr,
                           size_t errstr_size)
{
    json_t *doc = json_report(r);
    char *text = doc != NULL ? json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    ps_err_t err = PS_OK;

    if (text == NULL)
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                            "could not build the JSON report: a value is not valid UTF-8");
    else if (ps_buf_append_str(out, text) != PS_OK || ps_buf_append_str(out, "\n") != PS_OK)
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                            "JSON report exceeds %zu bytes", out->max);
    free(text);
    json_decref(doc);
    return err;
}
