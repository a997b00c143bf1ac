/*
 * ps_buf_t: a growable byte buffer that takes its size cap at creation.
 *
 * Every buffer filled from outside input has a named bound (limits.h);
 * exceeding it is PS_ERR_TOO_LARGE, never an unbounded allocation. The data is
 * always followed by one NUL byte (not counted in len) so text can be used as
 * a C string. The buffer owns its data; ps_buf_deinit releases it.
 */
#ifndef PAYSTREAM_BUF_H
#define PAYSTREAM_BUF_H

#include <paystream/err.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ps_buf {
    uint8_t *data; /* owned; NULL until the first append */
    size_t len;    /* bytes in use */
    size_t cap;    /* bytes allocated (excluding the NUL guard) */
    size_t max;    /* bound on len */
} ps_buf_t;

/* Initializes an empty buffer that may hold at most max bytes. */
void ps_buf_init(ps_buf_t *buf, size_t max);
/* Releases the data; the buffer may be initialized again. Accepts NULL. */
void ps_buf_deinit(ps_buf_t *buf);
/* Empties the buffer, keeping its allocation. */
void ps_buf_reset(ps_buf_t *buf);
/* Appends len bytes; PS_ERR_TOO_LARGE (buffer unchanged) past the bound. */
ps_err_t ps_buf_append(ps_buf_t *buf, const void *data, size_t len);
/* Appends a NUL-terminated string. */
ps_err_t ps_buf_append_str(ps_buf_t *buf, const char *s);
/* Appends printf-style text; PS_ERR_TOO_LARGE past the bound. */
ps_err_t ps_buf_appendf(ps_buf_t *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Makes room for at least extra more bytes; PS_ERR_TOO_LARGE past the bound. */
ps_err_t ps_buf_reserve(ps_buf_t *buf, size_t extra);
/* Hands the data to the caller (owned, NUL-terminated; never NULL) and empties buf. */
uint8_t *ps_buf_steal(ps_buf_t *buf, size_t *len_out);

#endif
