/*
 * Strict RFC 4648 base64, standard and URL-safe (see paystream/base64.h).
 * Written out rather than borrowed from OpenSSL's EVP_DecodeBlock, which
 * accepts whitespace and silently ignores bad padding. Decoding is on the
 * verifiers' hot path (every JWS part, every signature): one table load per
 * character and four characters per iteration.
 */
#include <paystream/base64.h>
#include <paystream/bytetable.h>

#include <stdint.h>
#include <string.h>

static const char alphabet_std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char alphabet_url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Sextet of c in each alphabet, 0xFF outside it: one table load per character. */
#define SEXTET_COMMON(c)                                                                         \
    ((c) >= 'A' && (c) <= 'Z'   ? (c) - 'A'                                                      \
     : (c) >= 'a' && (c) <= 'z' ? (c) - 'a' + 26                                                 \
     : (c) >= '0' && (c) <= '9' ? (c) - '0' + 52                                                 \
                                : 0xFF)
#define SEXTET_STD(c) ((c) == '+' ? 62 : (c) == '/' ? 63 : SEXTET_COMMON(c))
#define SEXTET_URL(c) ((c) == '-' ? 62 : (c) == '_' ? 63 : SEXTET_COMMON(c))
static const uint8_t sextet_std[256] = PS_BYTE_TABLE(SEXTET_STD);
static const uint8_t sextet_url[256] = PS_BYTE_TABLE(SEXTET_URL);

/* Splits s into the data part and validates padding per variant. */
static ps_err_t data_length(const char *s, size_t len, ps_base64_variant_t variant,
                            size_t *data_len, char *errstr, size_t errstr_size)
{
    size_t pad = 0;

    if (variant == PS_BASE64_STD) {
        if (len % 4 != 0)
            return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                                 "invalid base64: length %zu is not a multiple of 4", len);
        while (pad < 2 && pad < len && s[len - 1 - pad] == '=')
            pad++;
    } else if (len % 4 == 1) {
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "invalid base64url: length %zu cannot be a whole encoding", len);
    }
    *data_len = len - pad;
    return PS_OK;
}

/* The first character of s[0..n) outside the alphabet, reported at offset
 * base + its index. */
static ps_err_t bad_char(const uint8_t *s, size_t n, size_t base, const uint8_t *sextet,
                         char *errstr, size_t errstr_size)
{
    size_t i = 0;

    while (i + 1 < n && sextet[s[i]] != 0xFF)
        i++;
    return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                         "invalid base64: unexpected character 0x%02x at offset %zu", s[i],
                         base + i);
}

/* The last 2 or 3 characters of the data part into out: 1 or 2 bytes whose
 * leftover bits must be zero, or two encodings would decode the same. */
static ps_err_t decode_tail(const uint8_t *s, size_t n, size_t base, const uint8_t *sextet,
                            uint8_t *out, char *errstr, size_t errstr_size)
{
    uint32_t a = sextet[s[0]], b = n > 1 ? sextet[s[1]] : 0, c = n > 2 ? sextet[s[2]] : 0;

    if ((a | b | c) & 0x80)
        return bad_char(s, n, base, sextet, errstr, errstr_size);
    if (n == 1 || (n == 2 && (b & 0x0F) != 0) || (n == 3 && (c & 0x03) != 0))
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "invalid base64: non-canonical final character");
    out[0] = (uint8_t)(a << 2 | b >> 4);
    if (n == 3)
        out[1] = (uint8_t)(b << 4 | c >> 2);
    return PS_OK;
}

ps_err_t ps_base64_decode(const char *s, size_t len, ps_base64_variant_t variant, ps_buf_t *out,
                          char *errstr, size_t errstr_size)
{
    const uint8_t *in = (const uint8_t *)s;
    const uint8_t *sextet = variant == PS_BASE64_STD ? sextet_std : sextet_url;
    size_t data_len = 0, full, i;
    uint8_t *o;
    ps_err_t err;

    err = data_length(s, len, variant, &data_len, errstr, errstr_size);
    if (err != PS_OK)
        return err;
    if (ps_buf_reserve(out, data_len / 4 * 3 + 2) != PS_OK)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                             "base64 input of %zu bytes decodes past the %zu-byte bound", len,
                             out->max);
    /* Written past out->len and committed at the end: out is unchanged on error. */
    o = out->data + out->len;
    full = data_len / 4 * 4;
    for (i = 0; i < full; i += 4) {
        uint32_t a = sextet[in[i]], b = sextet[in[i + 1]], c = sextet[in[i + 2]],
                 d = sextet[in[i + 3]];
        uint32_t w = a << 18 | b << 12 | c << 6 | d;

        if ((a | b | c | d) & 0x80) {
            err = bad_char(in + i, 4, i, sextet, errstr, errstr_size);
            goto out;
        }
        o[0] = (uint8_t)(w >> 16);
        o[1] = (uint8_t)(w >> 8);
        o[2] = (uint8_t)w;
        o += 3;
    }
    if (data_len > full) {
        err = decode_tail(in + full, data_len - full, full, sextet, o, errstr, errstr_size);
        if (err != PS_OK)
            goto out;
        o += data_len - full - 1;
    }
    out->len = (size_t)(o - out->data);
out:
    out->data[out->len] = '\0'; /* the NUL guard, also over a partial write */
    return err;
}

ps_err_t ps_base64_encode(const void *data, size_t len, ps_base64_variant_t variant,
                          ps_buf_t *out)
{
    const char *abc = variant == PS_BASE64_STD ? alphabet_std : alphabet_url;
    const uint8_t *p = data;
    size_t i, n = 0;
    char *o;

    if (len > (SIZE_MAX / 4) * 3 - 3 || ps_buf_reserve(out, (len + 2) / 3 * 4) != PS_OK)
        return PS_ERR_TOO_LARGE;
    o = (char *)out->data + out->len;
    for (i = 0; i + 2 < len; i += 3) {
        uint32_t w = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        o[n++] = abc[w >> 18];
        o[n++] = abc[(w >> 12) & 63];
        o[n++] = abc[(w >> 6) & 63];
        o[n++] = abc[w & 63];
    }
    if (i < len) {
        uint32_t w = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);
        o[n++] = abc[w >> 18];
        o[n++] = abc[(w >> 12) & 63];
        if (i + 1 < len)
            o[n++] = abc[(w >> 6) & 63];
        else if (variant == PS_BASE64_STD)
            o[n++] = '=';
        if (variant == PS_BASE64_STD)
            o[n++] = '=';
    }
    out->len += n;
    out->data[out->len] = '\0';
    return PS_OK;
}
