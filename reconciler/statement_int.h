/*
 * Private helpers shared by the statement parsers (statement.c and
 * statement_<format>.c): line and field slicing over a borrowed buffer
 * without allocation, a per-row scratch area for the NUL-terminated strings
 * handed to the row callback, running totals with overflow checks, and the
 * per-format entry points the dispatcher calls with uncompressed bytes.
 */
#ifndef RECON_STATEMENT_INT_H
#define RECON_STATEMENT_INT_H

#include "statement.h"

#include <paystream/err.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A borrowed, not NUL-terminated piece of the input. */
typedef struct recon_slice {
    const char *p;
    size_t len;
} recon_slice_t;

/* Walks the lines of a buffer; LF or CRLF endings, the ending excluded. */
typedef struct recon_lines {
    const char *p, *end;
    int64_t line_no; /* number of the line last returned (1-based) */
} recon_lines_t;

void recon_lines_init(recon_lines_t *it, const char *text, size_t len);
/*
 * Next line into *line; false at the end of the buffer. A final line without
 * a line ending is returned too. PS_ERR_TOO_LARGE via *err (and false) for a
 * line longer than PS_RECON_LINE_BYTES_MAX, with the message in errstr.
 */
bool recon_lines_next(recon_lines_t *it, recon_slice_t *line, const char *what, ps_err_t *err,
                      char *errstr, size_t errstr_size);

/*
 * Splits line on the one-byte separator sep into at most PS_RECON_FIELDS_MAX
 * fields; returns the count, or -1 when there are more.
 */
int recon_split(recon_slice_t line, char sep, recon_slice_t *fields);

/* Whether s equals the NUL-terminated word. */
bool recon_slice_eq(recon_slice_t s, const char *word);

/* The index of the first of the n fields equal to word (a header's column
 * name), or -1 when none is. */
int recon_slice_find(const recon_slice_t *fields, int n, const char *word);

/* Checks a header's n names against the list_n known ones: each must be
 * known and appear once, since a repeated column would make a row's value
 * ambiguous. Errors name what (the statement kind) and line_no. */
ps_err_t recon_check_columns(const recon_slice_t *f, int n, const char *const *list,
                             size_t list_n, const char *what, int64_t line_no, char *errstr,
                             size_t errstr_size);

/* Strips trailing TAB and space characters (Alipay id cells) and leading spaces. */
recon_slice_t recon_slice_trim(recon_slice_t s);

/* Strict UTF-8 check; on false *bad_offset_out gets the offset of the bad sequence. */
bool recon_utf8_valid(const char *s, size_t len, size_t *bad_offset_out);

/* Per-row storage for the strings handed to the callback. */
typedef struct recon_scratch {
    char buf[PS_RECON_LINE_BYTES_MAX + 16]; /* fields of one line plus a NUL each (at most 5 copied) */
    size_t used;
} recon_scratch_t;

/* Copies s into the scratch area and returns the NUL-terminated copy. */
const char *recon_scratch_put(recon_scratch_t *sc, recon_slice_t s);

/* Running totals and consistency state of one parse. */
typedef struct recon_tally {
    recon_stmt_meta_t *meta;       /* never NULL (the dispatcher supplies one) */
    bool currency_mixed;
} recon_tally_t;

/* Adds row to the totals in the meta; PS_ERR_TOO_LARGE on overflow or too many rows. */
ps_err_t recon_tally_add(recon_tally_t *t, const recon_row_t *row, const char *what,
                         char *errstr, size_t errstr_size);

/*
 * Checks the merchant id (borrowed slice) against expect and against the id
 * seen so far (stored in meta on first sight); what/line for the message.
 */
ps_err_t recon_check_merchant(const recon_expect_t *expect, recon_stmt_meta_t *meta,
                              recon_slice_t merchant, const char *what, int64_t line_no,
                              char *errstr, size_t errstr_size);

/* Checks the statement window in meta against expect->has_window. */
ps_err_t recon_check_window(const recon_expect_t *expect, const recon_stmt_meta_t *meta,
                            const char *what, char *errstr, size_t errstr_size);

/* Parses s as a decimal amount (signed when allow_negative) in currency. */
ps_err_t recon_parse_amount(recon_slice_t s, const char *currency, bool allow_negative,
                            int64_t *minor_out, const char *what, int64_t line_no,
                            const char *column, char *errstr, size_t errstr_size);

/* Format parsers over uncompressed text (borrowed); meta is never NULL. */
ps_err_t recon_parse_wechat_text(const char *text, size_t len, const recon_expect_t *expect,
                                 recon_row_fn row_fn, void *opaque, recon_stmt_meta_t *meta,
                                 char *errstr, size_t errstr_size);
ps_err_t recon_parse_generic_text(const char *text, size_t len, const recon_expect_t *expect,
                                  recon_row_fn row_fn, void *opaque, recon_stmt_meta_t *meta,
                                  char *errstr, size_t errstr_size);
/* Apple: JSON transaction history (one page or an array of pages). */
ps_err_t recon_parse_apple_text(const char *text, size_t len, const recon_expect_t *expect,
                                recon_row_fn row_fn, void *opaque, recon_stmt_meta_t *meta,
                                char *errstr, size_t errstr_size);
/* Alipay takes the raw bytes: a zip, or a GBK CSV. */
ps_err_t recon_parse_alipay_bytes(const uint8_t *data, size_t len, const recon_expect_t *expect,
                                  size_t bytes_max, recon_row_fn row_fn, void *opaque,
                                  recon_stmt_meta_t *meta, char *errstr, size_t errstr_size);

#endif
