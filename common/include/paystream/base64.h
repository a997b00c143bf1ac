/*
 * Strict base64 (RFC 4648): the standard alphabet with padding, as WeChat and
 * Alipay signatures and ciphertexts use it, and the URL-safe alphabet without
 * padding, as JWS (Apple) uses it. Decoding is strict because the input is
 * attacker-controlled evidence: no whitespace, no characters outside the
 * alphabet, padding exactly as the variant requires, and no non-zero
 * leftover bits (so every byte string has exactly one accepted encoding).
 * Thread-safe, no global state.
 */
#ifndef PAYSTREAM_BASE64_H
#define PAYSTREAM_BASE64_H

#include <paystream/buf.h>
#include <paystream/err.h>
#include <stddef.h>

typedef enum ps_base64_variant {
    PS_BASE64_STD = 0,   /* A-Z a-z 0-9 + /, '=' padding required */
    PS_BASE64_URL = 1    /* A-Z a-z 0-9 - _, no padding (RFC 7515 base64url) */
} ps_base64_variant_t;

/*
 * Decodes len bytes of s and appends the result to out (whose cap bounds it).
 * PS_ERR_INVALID with the offending offset in errstr for bad input,
 * PS_ERR_TOO_LARGE when out's cap is exceeded; out is unchanged on error.
 */
ps_err_t ps_base64_decode(const char *s, size_t len, ps_base64_variant_t variant, ps_buf_t *out,
                          char *errstr, size_t errstr_size);

/* Appends the encoding of len bytes of data to out (NUL-terminated text). */
ps_err_t ps_base64_encode(const void *data, size_t len, ps_base64_variant_t variant,
                          ps_buf_t *out);

#endif
