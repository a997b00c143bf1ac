/*
 * Charset handling for channel payloads (see charset.h): a strict UTF-8
 * validator and bounded GBK/GB18030 <-> UTF-8 conversion through iconv.
 *
 * The output room is reserved up front from the worst case of the encodings
 * (a GBK double byte becomes at most three UTF-8 bytes, a GB18030 four-byte
 * sequence at most four; in the other direction a two-byte UTF-8 character
 * may become a four-byte GB18030 sequence), so one iconv call converts a
 * whole value and E2BIG can only mean a broken bound.
 */
#include "charset.h"

#include <paystream/assert.h>
#include <paystream/limits.h>

#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

ps_err_t ingest_charset_parse(const char *name, ingest_charset_t *cs_out, char *errstr,
                              size_t errstr_size)
{
    PS_ASSERT(name != NULL && cs_out != NULL);
    if (strcasecmp(name, "utf-8") == 0 || strcasecmp(name, "utf8") == 0)
        *cs_out = INGEST_CHARSET_UTF8;
    else if (strcasecmp(name, "gbk") == 0 || strcasecmp(name, "gb2312") == 0)
        *cs_out = INGEST_CHARSET_GBK;
    else if (strcasecmp(name, "gb18030") == 0)
        *cs_out = INGEST_CHARSET_GB18030;
    else
        return ps_errstr_set(errstr, errstr_size, PS_ERR_UNSUPPORTED,
                             "unsupported charset \"%.32s\"", name);
    return PS_OK;
}

const char *ingest_charset_name(ingest_charset_t cs)
{
    switch (cs) {
    case INGEST_CHARSET_UTF8:
        return "utf-8";
    case INGEST_CHARSET_GBK:
        return "gbk";
    case INGEST_CHARSET_GB18030:
        return "gb18030";
    }
    return "unknown";
}

/* Length of the strict UTF-8 sequence at s (at most avail bytes), 0 if bad. */
static size_t utf8_sequence(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    size_t need;
    uint32_t cp, min;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        need = 2, cp = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 3, cp = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (avail < need)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return need;
}

bool ingest_charset_utf8_valid(const char *s, size_t len, size_t *bad_offset_out)
{
    const unsigned char *u = (const unsigned char *)s;

    for (size_t i = 0; i < len;) {
        size_t n = utf8_sequence(u + i, len - i);

        if (n == 0) {
            if (bad_offset_out != NULL)
                *bad_offset_out = i;
            return false;
        }
        i += n;
    }
    return true;
}

static const char *iconv_name(ingest_charset_t cs)
{
    return cs == INGEST_CHARSET_GB18030 ? "GB18030" : cs == INGEST_CHARSET_GBK ? "GBK" : "UTF-8";
}

/* Converts in[0..len) from one iconv charset to another, appending to out. */
static ps_err_t convert(const char *to, const char *from, const char *in, size_t len,
                        ps_buf_t *out, char *errstr, size_t errstr_size)
{
    iconv_t cd;
    char *inp = (char *)in, *outp;
    size_t in_left = len, out_left, room = 2 * len + 8, rc;
    ps_err_t err = PS_OK;

    if (ps_buf_reserve(out, room) != PS_OK)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                             "converted text of up to %zu bytes exceeds the buffer limit", room);
    cd = iconv_open(to, from);
    if (cd == (iconv_t)-1)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_UNSUPPORTED,
                             "could not convert from %s to %s: no such converter", from, to);
    outp = (char *)out->data + out->len;
    out_left = room;
    rc = iconv(cd, &inp, &in_left, &outp, &out_left);
    if (rc == (size_t)-1) {
        int e = errno;

        err = ps_errstr_set(errstr, errstr_size, e == E2BIG ? PS_ERR_TOO_LARGE : PS_ERR_INVALID,
                            "invalid %s text: %s at offset %zu", from,
                            e == EINVAL   ? "truncated sequence"
                            : e == EILSEQ ? "invalid or unmappable sequence"
                                          : "conversion failed",
                            len - in_left);
    } else if (rc > 0) {
        /* iconv substituted something: the text has no exact conversion. */
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                            "invalid %s text: %zu characters have no exact %s form", from, rc,
                            to);
    }
    iconv_close(cd);
    if (err == PS_OK)
        out->len += room - out_left;
    out->data[out->len] = '\0';
    return err;
}

ps_err_t ingest_charset_to_utf8(ingest_charset_t cs, const char *in, size_t len, ps_buf_t *out,
                                char *errstr, size_t errstr_size)
{
    size_t bad, start;
    ps_err_t err;

    PS_ASSERT(out != NULL && (in != NULL || len == 0));
    if (len > PS_CHARSET_INPUT_BYTES_MAX)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                             "text of %zu bytes exceeds the limit of %d bytes", len,
                             PS_CHARSET_INPUT_BYTES_MAX);
    if (cs == INGEST_CHARSET_UTF8) {
        if (!ingest_charset_utf8_valid(in, len, &bad))
            return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                                 "invalid utf-8 text: bad sequence at offset %zu", bad);
        if (ps_buf_append(out, in, len) != PS_OK)
            return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                                 "text of %zu bytes exceeds the buffer limit", len);
        return PS_OK;
    }
    if (len == 0)
        return PS_OK;
    start = out->len;
    err = convert("UTF-8", iconv_name(cs), in, len, out, errstr, errstr_size);
    /* iconv is trusted to emit UTF-8, but a stored event must be valid: check. */
    if (err == PS_OK && !ingest_charset_utf8_valid((char *)out->data + start, out->len - start,
                                                   &bad)) {
        out->len = start;
        out->data[start] = '\0';
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                            "invalid %s text: converted to bad utf-8", ingest_charset_name(cs));
    }
    return err;
}

ps_err_t ingest_charset_from_utf8(ingest_charset_t cs, const char *in, size_t len,
                                  ps_buf_t *out, char *errstr, size_t errstr_size)
{
    size_t bad;

    PS_ASSERT(out != NULL && (in != NULL || len == 0));
    if (len > PS_CHARSET_INPUT_BYTES_MAX)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                             "text of %zu bytes exceeds the limit of %d bytes", len,
                             PS_CHARSET_INPUT_BYTES_MAX);
    if (!ingest_charset_utf8_valid(in, len, &bad))
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "invalid utf-8 text: bad sequence at offset %zu", bad);
    if (cs == INGEST_CHARSET_UTF8) {
        if (ps_buf_append(out, in, len) != PS_OK)
            return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                                 "text of %zu bytes exceeds the buffer limit", len);
        return PS_OK;
    }
    if (len == 0)
        return PS_OK;
    return convert(iconv_name(cs), "UTF-8", in, len, out, errstr, errstr_size);
}
