/*
 * PostgreSQL array literals built in C ("{"a","b",NULL}"), so that a whole
 * set of rows travels as a few array parameters of one statement
 * (INSERT ... SELECT FROM unnest($1::text[], ...)) instead of one round trip
 * per row. Every element is double-quoted with backslash escapes, which is
 * the one quoting the array parser accepts for any text.
 */
#ifndef RECON_PGARR_H
#define RECON_PGARR_H

#include <paystream/buf.h>
#include <paystream/err.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct recon_pgarr {
    ps_buf_t buf;
    bool any; /* an element was added (comma needed) */
} recon_pgarr_t;

/* Starts an empty array bounded by max bytes. */
void recon_pgarr_init(recon_pgarr_t *a, size_t max);
void recon_pgarr_deinit(recon_pgarr_t *a);
/* Appends s (borrowed; NULL for SQL NULL). PS_ERR_TOO_LARGE past the bound. */
ps_err_t recon_pgarr_text(recon_pgarr_t *a, const char *s);
ps_err_t recon_pgarr_int(recon_pgarr_t *a, int64_t v);
/* The literal, closed with "}" (borrowed from a); NULL when the brace would pass
 * the bound. Call once per array. */
const char *recon_pgarr_finish(recon_pgarr_t *a);

#endif
