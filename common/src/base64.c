/*
 * Strict RFC 4648 base64, standard and URL-safe (see paystream/base64.h).
 * Written out rather than borrowed from OpenSSL's EVP_DecodeBlock, which
 * accepts whitespace and silently ignores bad padding.
 */
#include <paystream/base64.h>

#include <stdint.h>
#include <string.h>

static const char alphabet_std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char alphabet_url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Value of c in the variant's alphabet, or -1. */
static int sextet(unsigned char c, ps_base64_variant_t variant)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (variant == PS_BASE64_STD)
        return c == '+' ? 62 : c == '/' ? 63 : -1;
    return c == '-' ? 62 : c == '_' ? 63 : -1;
}

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

ps_err_t ps_base64_decode(const char *s, size_t len, ps_base64_variant_t variant, ps_buf_t *out,
                          char *errstr, size_t errstr_size)
{
    size_t data_len = 0, i, start = out->len;
    uint32_t acc = 0;
    int bits = 0, v;
    ps_err_t err;

    err = data_length(s, len, variant, &data_len, errstr, errstr_size);
    if (err != PS_OK)
        return err;
    if (ps_buf_reserve(out, data_len / 4 * 3 + 2) != PS_OK)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                             "base64 input of %zu bytes decodes past the %zu-byte bound", len,
                             out->max);
    for (i = 0; i < data_len; i++) {
        v = sextet((unsigned char)s[i], variant);
        if (v < 0) {
            out->len = start;
            return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                                 "invalid base64: unexpected character 0x%02x at offset %zu",
                                 (unsigned char)s[i], i);
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out->data[out->len++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* Leftover bits must be zero, or two encodings would decode the same. */
    if (bits >= 6 || acc != 0) {
        out->len = start;
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "invalid base64: non-canonical final character");
    }
    out->data[out->len] = '\0';
    return PS_OK;
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
