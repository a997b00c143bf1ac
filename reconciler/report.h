/*
 * The reports of a run: a plain-text summary for stdout (counts and amounts
 * per class), a JSON document for machines, and a self-contained HTML page
 * for finance staff (inline CSS, no scripts, no external resources, every
 * value escaped). Amounts are exact decimal text from ps_money_format next to
 * the integer minor units; nothing passes through floating point.
 */
#ifndef RECON_REPORT_H
#define RECON_REPORT_H

#include "recon_run.h"

#include <paystream/buf.h>
#include <paystream/err.h>
#include <stdio.h>

/* "clean", "discrepancies", "halted", "locked", "already_done". */
const char *recon_outcome_name(recon_outcome_t outcome);

/* Writes the summary of r (borrowed) to out (borrowed). */
void recon_report_summary(FILE *out, const recon_result_t *r);

/*
 * Appends the JSON report (one object, UTF-8) or the HTML page of r to out
 * (caller-initialized; its cap bounds the report: PS_ERR_TOO_LARGE past it).
 */
ps_err_t recon_report_json(const recon_result_t *r, ps_buf_t *out, char *errstr,
                           size_t errstr_size);
ps_err_t recon_report_html(const recon_result_t *r, ps_buf_t *out, char *errstr,
                           size_t errstr_size);

/* Appends s (borrowed) to out with & < > " ' escaped for HTML text and attributes. */
ps_err_t recon_html_escape(ps_buf_t *out, const char *s);

/* Writes data[0..len) to path atomically (temporary file, then rename). PS_ERR_IO. */
ps_err_t recon_report_write_file(const char *path, const uint8_t *data, size_t len,
                                 char *errstr, size_t errstr_size);

#endif
