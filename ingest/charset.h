/*
 * Character sets of channel payloads: Alipay posts its notifications in the
 * charset named by the signed `charset` parameter (utf-8 or gbk), and its
 * bills are GBK. Everything paystream stores is UTF-8, so GBK text is
 * transcoded after its signature has been checked over the original bytes.
 *
 * GBK and GB18030 go through glibc iconv (one descriptor per call, so the
 * functions are thread-safe); UTF-8 is validated by hand, strictly (no
 * overlong forms, no surrogates, nothing above U+10FFFF). Invalid or
 * truncated sequences are refused, never replaced, and input is bounded by
 * PS_CHARSET_INPUT_BYTES_MAX.
 */
#ifndef INGEST_CHARSET_H
#define INGEST_CHARSET_H

#include <paystream/buf.h>
#include <paystream/err.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum ingest_charset {
    INGEST_CHARSET_UTF8 = 0,
    INGEST_CHARSET_GBK = 1,    /* also "gb2312", whose every valid text is GBK */
    INGEST_CHARSET_GB18030 = 2 /* the superset that covers all of Unicode */
} ingest_charset_t;

/*
 * Parses a charset name (borrowed), ASCII case-insensitively: "utf-8",
 * "utf8", "gbk", "gb2312", "gb18030". PS_ERR_UNSUPPORTED with the name quoted
 * in errstr for anything else.
 */
ps_err_t ingest_charset_parse(const char *name, ingest_charset_t *cs_out, char *errstr,
                              size_t errstr_size);

/* Canonical lower-case name ("utf-8", "gbk", "gb18030"); static, never NULL. */
const char *ingest_charset_name(ingest_charset_t cs);

/*
 * Whether s[0..len) is strict UTF-8. On false, *bad_offset_out (may be NULL)
 * gets the offset of the first byte of the bad sequence.
 */
bool ingest_charset_utf8_valid(const char *s, size_t len, size_t *bad_offset_out);

/*
 * Appends the UTF-8 form of in[0..len) (borrowed), which is text in cs, to
 * out (whose cap bounds it). For UTF-8 input this validates and copies.
 * PS_ERR_INVALID for an invalid or truncated sequence (offset in errstr),
 * PS_ERR_TOO_LARGE past PS_CHARSET_INPUT_BYTES_MAX or out's cap; out is
 * unchanged on error.
 */
ps_err_t ingest_charset_to_utf8(ingest_charset_t cs, const char *in, size_t len, ps_buf_t *out,
                                char *errstr, size_t errstr_size);

/*
 * The inverse, for simulators and tests: appends in[0..len) (strict UTF-8)
 * encoded in cs to out. PS_ERR_INVALID for invalid UTF-8 or a character cs
 * cannot represent; PS_ERR_TOO_LARGE as above; out unchanged on error.
 */
ps_err_t ingest_charset_from_utf8(ingest_charset_t cs, const char *in, size_t len,
                                  ps_buf_t *out, char *errstr, size_t errstr_size);

#endif
