/*
 * The HTML report (report.h): one self-contained page (inline CSS, no
 * scripts, no external resources) that finance staff can open from a mail or
 * a file share. Every value that comes from a statement or the ledger is
 * escaped, since a statement is outside input: an order number can contain
 * "<script>".
 */
#include "report.h"

#include <paystream/limits.h>
#include <paystream/money.h>
#include <paystream/timeparse.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char page_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<title>paystream reconciliation</title>\n<style>\n"
    "body{font-family:sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}"
    "td,th{border:1px solid #bbb;padding:.3em .6em}"
    "td.n{text-align:right;font-family:monospace}"
    "th{background:#eee}.halted{color:#a00;font-weight:bold}"
    "code{font-size:.9em}\n</style></head><body>\n";

ps_err_t recon_html_escape(ps_buf_t *out, const char *s)
{
    ps_err_t err = PS_OK;
    const char *run = s;

    for (const char *c = s; err == PS_OK && *c != '\0'; c++) {
        const char *e = *c == '&' ? "&amp;" : *c == '<' ? "&lt;" : *c == '>' ? "&gt;"
                      : *c == '"' ? "&quot;" : *c == '\'' ? "&#39;" : NULL;
        if (e == NULL)
            continue;
        err = ps_buf_append(out, run, (size_t)(c - run));
        if (err == PS_OK)
            err = ps_buf_append_str(out, e);
        run = c + 1;
    }
    return err == PS_OK ? ps_buf_append_str(out, run) : err;
}

/* <td class=...>escaped text</td> */
static ps_err_t cell(ps_buf_t *out, const char *text, bool numeric)
{
    ps_err_t err = ps_buf_append_str(out, numeric ? "<td class=\"n\">" : "<td>");

    if (err == PS_OK)
        err = recon_html_escape(out, text);
    return err == PS_OK ? ps_buf_append_str(out, "</td>") : err;
}

static ps_err_t money_cell(ps_buf_t *out, bool present, int64_t minor, const char *currency)
{
    char buf[PS_MONEY_DECIMAL_BYTES_MAX + 8];

    if (!present)
        return cell(out, "", true);
    if (currency == NULL || currency[0] == '\0' ||
        ps_money_format(minor, currency, buf, sizeof(buf)) != PS_OK)
        snprintf(buf, sizeof(buf), "%lld minor", (long long)minor);
    return cell(out, buf, true);
}

static ps_err_t header(ps_buf_t *out, const recon_result_t *r)
{
    char start[40], end[40];
    ps_err_t err;

    ps_time_format_utc(r->window_start_us, start, sizeof(start));
    ps_time_format_utc(r->window_end_us, end, sizeof(end));
    err = ps_buf_append_str(out, page_head);
    err = err ? err : ps_buf_append_str(out, "<h1>Reconciliation ");
    err = err ? err : recon_html_escape(out, ps_channel_name(r->channel));
    err = err ? err : ps_buf_append_str(out, "</h1>\n<table>");
    const char *rows[][2] = {{"Run", r->run_id},
                             {"Outcome", recon_outcome_name(r->outcome)},
                             {"Dry run", r->dry_run ? "yes" : "no"},
                             {"Window start (UTC)", start},
                             {"Window end (UTC, exclusive)", end},
                             {"Statement SHA-256", r->meta.sha256_hex},
                             {"Statement format", recon_format_name(r->meta.format)},
                             {"Merchant", r->meta.merchant_id}};
    for (size_t i = 0; err == PS_OK && i < sizeof(rows) / sizeof(rows[0]); i++) {
        err = ps_buf_append_str(out, "<tr><th>");
        err = err ? err : recon_html_escape(out, rows[i][0]);
        err = err ? err : ps_buf_append_str(out, "</th>");
        err = err ? err : cell(out, rows[i][1], false);
        err = err ? err : ps_buf_append_str(out, "</tr>");
    }
    err = err ? err : ps_buf_append_str(out, "</table>\n");
    if (err == PS_OK && r->outcome == RECON_OUT_HALTED) {
        err = ps_buf_append_str(out, "<p class=\"halted\">Halted by the circuit breaker: ");
        err = err ? err : recon_html_escape(out, r->halt_reason);
        err = err ? err : ps_buf_append_str(out, ". Nothing was emitted.</p>\n");
    }
    return err;
}

static ps_err_t classes(ps_buf_t *out, const recon_result_t *r)
{
    char num[32];
    ps_err_t err = ps_buf_append_str(out, "<h2>Per class</h2>\n<table><tr><th>Class</th>"
                                          "<th>Rows</th><th>Statement</th><th>Ledger</th>"
                                          "<th>Commands</th></tr>\n");

    for (int i = 0; err == PS_OK && i <= RECON_TALLY_PENDING; i++) {
        const recon_tally_t *t = &r->tally[i];
        snprintf(num, sizeof(num), "%lld", (long long)t->rows);
        err = ps_buf_append_str(out, "<tr>");
        err = err ? err : cell(out, i == RECON_TALLY_PENDING
                                        ? "PENDING"
                                        : recon_class_name((recon_class_t)i), false);
        err = err ? err : cell(out, num, true);
        err = err ? err : money_cell(out, true, t->stmt_minor, r->meta.currency);
        err = err ? err : money_cell(out, true, t->ledger_minor, r->meta.currency);
        err = err ? err : money_cell(out, true, t->command_minor, r->meta.currency);
        err = err ? err : ps_buf_append_str(out, "</tr>\n");
    }
    return err ? err : ps_buf_append_str(out, "</table>\n");
}

static ps_err_t pair_row(ps_buf_t *out, const recon_pair_t *p)
{
    bool refund = p->refund_id[0] != '\0', cmd = p->command_id[0] != '\0';
    const char *cur = p->has_stmt ? p->stmt_currency : p->ledger_currency;
    ps_err_t err = ps_buf_append_str(out, "<tr>");

    err = err ? err : cell(out, recon_class_name(p->cls), false);
    err = err ? err : cell(out, p->action == RECON_ACT_PENDING ? "pending" : "", false);
    err = err ? err : cell(out, p->payment_key, false);
    err = err ? err : cell(out, p->refund_id, false);
    err = err ? err : money_cell(out, p->has_stmt, p->stmt_amount_minor, cur);
    err = err ? err : money_cell(out, p->has_ledger,
                                 refund ? p->ledger_refund_minor : p->ledger_amount_minor, cur);
    err = err ? err : cell(out, cur, false);
    err = err ? err : cell(out, cmd ? ps_command_kind_name(p->cmd_kind) : "", false);
    err = err ? err : money_cell(out, cmd, p->cmd_amount_minor, cur);
    err = err ? err : cell(out, p->command_id, false);
    return err ? err : ps_buf_append_str(out, "</tr>\n");
}

ps_err_t recon_report_html(const recon_result_t *r, ps_buf_t *out, char *errstr,
                           size_t errstr_size)
{
    ps_err_t err = header(out, r);

    err = err ? err : classes(out, r);
    err = err ? err : ps_buf_append_str(out, "<h2>Discrepancies</h2>\n<table><tr><th>Class</th>"
                                             "<th>Pending</th><th>Payment</th><th>Refund</th>"
                                             "<th>Statement</th><th>Ledger</th>"
                                             "<th>Currency</th><th>Command</th><th>Amount</th>"
                                             "<th>Command id</th></tr>\n");
    for (size_t i = 0; err == PS_OK && i < r->pair_count; i++)
        err = pair_row(out, &r->pairs[i]);
    err = err ? err : ps_buf_append_str(out, "</table>\n</body></html>\n");
    if (err != PS_OK)
        return ps_errstr_set(errstr, errstr_size, err, "HTML report exceeds %zu bytes",
                             out->max);
    return PS_OK;
}

ps_err_t recon_report_write_file(const char *path, const uint8_t *data, size_t len,
                                 char *errstr, size_t errstr_size)
{
    char tmp[4096];
    FILE *f = NULL;
    ps_err_t err = PS_OK;

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID, "report path too long");
    f = fopen(tmp, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len || fflush(f) != 0 || fsync(fileno(f)) != 0)
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_IO, "could not write report \"%s\": %s",
                            tmp, strerror(errno));
    if (f != NULL && fclose(f) != 0 && err == PS_OK)
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_IO, "could not write report \"%s\": %s",
                            tmp, strerror(errno));
    if (err == PS_OK && rename(tmp, path) != 0)
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_IO, "could not rename \"%s\": %s", tmp,
                            strerror(errno));
    if (err != PS_OK)
        (void)unlink(tmp);
    return err;
}
