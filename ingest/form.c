/*
 * Strict x-www-form-urlencoded parsing and encoding (see form.h).
 *
 * One pass counts the segments so the bounds are checked before anything is
 * allocated; a second pass decodes every key and value into one storage
 * block (decoding never grows a component, so body length plus two NULs per
 * parameter is enough), then the parameters are sorted by name, which both
 * finds duplicates and gives Alipay its signing order for free.
 */
#include "form.h"

#include <paystream/assert.h>
#include <paystream/limits.h>
#include <paystream/mem.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ingest_form_init(ingest_form_t *form)
{
    PS_ASSERT(form != NULL);
    memset(form, 0, sizeof(*form));
}

void ingest_form_deinit(ingest_form_t *form)
{
    if (form == NULL)
        return;
    ps_free(form->params);
    ps_free(form->storage);
    memset(form, 0, sizeof(*form));
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * Decodes s[0..len) into dst (room for len bytes); base is the offset of s in
 * the whole input, for messages. Returns the decoded length through *out_len.
 */
static ps_err_t decode_into(const char *s, size_t len, size_t base, char *dst, size_t *out_len,
                            char *errstr, size_t errstr_size)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '+') {
            dst[n++] = ' ';
        } else if (c == '%') {
            /* Both digits must be inside the component: "%4" at the end is bad. */
            int hi = i + 2 < len ? hex_value((unsigned char)s[i + 1]) : -1;
            int lo = i + 2 < len ? hex_value((unsigned char)s[i + 2]) : -1;

            if (hi < 0 || lo < 0)
                return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                                     "bad percent-escape at offset %zu", base + i);
            if (hi == 0 && lo == 0)
                return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                                     "percent-escaped NUL byte at offset %zu", base + i);
            dst[n++] = (char)(hi << 4 | lo);
            i += 2;
        } else if (c < 0x21 || c > 0x7e) {
            return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                                 "unencoded byte 0x%02X at offset %zu", c, base + i);
        } else {
            dst[n++] = (char)c;
        }
    }
    *out_len = n;
    return PS_OK;
}

static int param_cmp(const void *a, const void *b)
{
    return strcmp(((const ingest_form_param_t *)a)->key, ((const ingest_form_param_t *)b)->key);
}

/* Counts the `&`-separated segments of a non-empty text. */
static size_t segment_count(const char *s, size_t len)
{
    size_t count = 1;

    for (size_t i = 0; i < len; i++)
        count += s[i] == '&';
    return count;
}

/* Decodes the segment s[start..end) into the next parameter of form. */
static ps_err_t parse_segment(const char *s, size_t start, size_t end, ingest_form_t *form,
                              size_t *used, char *errstr, size_t errstr_size)
{
    ingest_form_param_t *p = &form->params[form->count];
    const char *eq;
    char *dst = form->storage + *used;
    size_t key_raw, n;
    ps_err_t err;

    if (start == end)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "empty parameter at offset %zu", start);
    eq = memchr(s + start, '=', end - start);
    if (eq == NULL)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "parameter at offset %zu has no \"=\"", start);
    key_raw = (size_t)(eq - (s + start));
    if (key_raw == 0)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "empty parameter name at offset %zu", start);
    err = decode_into(s + start, key_raw, start, dst, &n, errstr, errstr_size);
    if (err != PS_OK)
        return err;
    if (n > PS_FORM_KEY_BYTES_MAX)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                             "parameter name at offset %zu is longer than %d bytes", start,
                             PS_FORM_KEY_BYTES_MAX);
    dst[n] = '\0';
    p->key = dst;
    p->key_len = n;
    dst += n + 1;
    err = decode_into(eq + 1, end - start - key_raw - 1, start + key_raw + 1, dst, &n, errstr,
                      errstr_size);
    if (err != PS_OK)
        return err;
    dst[n] = '\0';
    p->value = dst;
    p->value_len = n;
    *used += p->key_len + 1 + n + 1;
    form->count++;
    return PS_OK;
}

/* After sorting, equal names are neighbours. */
static ps_err_t check_duplicates(const ingest_form_t *form, char *errstr, size_t errstr_size)
{
    char quoted[PS_FORM_KEY_BYTES_MAX * 4 + 8];

    for (size_t i = 1; i < form->count; i++) {
        if (strcmp(form->params[i - 1].key, form->params[i].key) == 0) {
            ingest_form_quote(form->params[i].key, form->params[i].key_len, quoted,
                              sizeof(quoted));
            return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                                 "duplicate parameter \"%s\"", quoted);
        }
    }
    return PS_OK;
}

ps_err_t ingest_form_parse(const char *s, size_t len, ingest_form_t *form, char *errstr,
                           size_t errstr_size)
{
    size_t count, used = 0, start = 0;
    ps_err_t err = PS_OK;

    PS_ASSERT(form != NULL && form->count == 0 && form->params == NULL);
    PS_ASSERT(s != NULL || len == 0);
    if (len > PS_FORM_INPUT_BYTES_MAX)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                             "form of %zu bytes exceeds the limit of %d bytes", len,
                             PS_FORM_INPUT_BYTES_MAX);
    if (len == 0)
        return PS_OK;
    count = segment_count(s, len);
    if (count > PS_FORM_PARAMS_MAX)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                             "form has %zu parameters, more than the limit of %d", count,
                             PS_FORM_PARAMS_MAX);
    form->params = ps_calloc(count, sizeof(*form->params));
    /* Decoding never lengthens a component; each parameter adds two NULs. */
    form->storage = ps_malloc(len + 2 * count + 1);
    for (size_t i = 0; i <= len && err == PS_OK; i++) {
        if (i == len || s[i] == '&') {
            err = parse_segment(s, start, i, form, &used, errstr, errstr_size);
            start = i + 1;
        }
    }
    if (err == PS_OK) {
        PS_ASSERT(form->count == count && used <= len + 2 * count);
        qsort(form->params, form->count, sizeof(*form->params), param_cmp);
        err = check_duplicates(form, errstr, errstr_size);
    }
    if (err != PS_OK)
        ingest_form_deinit(form);
    return err;
}

const ingest_form_param_t *ingest_form_find(const ingest_form_t *form, const char *key)
{
    ingest_form_param_t probe = {.key = key};

    PS_ASSERT(form != NULL && key != NULL);
    if (form->count == 0)
        return NULL;
    return bsearch(&probe, form->params, form->count, sizeof(*form->params), param_cmp);
}

const char *ingest_form_get(const ingest_form_t *form, const char *key)
{
    const ingest_form_param_t *p = ingest_form_find(form, key);

    return p != NULL ? p->value : NULL;
}

ps_err_t ingest_form_decode_component(const char *s, size_t len, ps_buf_t *out, char *errstr,
                                      size_t errstr_size)
{
    size_t n;
    ps_err_t err;

    PS_ASSERT(out != NULL && (s != NULL || len == 0));
    if (ps_buf_reserve(out, len) != PS_OK)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                             "value of %zu bytes exceeds the limit of %zu bytes", len,
                             out->max - out->len);
    if (len == 0)
        return PS_OK;
    err = decode_into(s, len, 0, (char *)out->data + out->len, &n, errstr, errstr_size);
    if (err != PS_OK) {
        out->data[out->len] = '\0';
        return err;
    }
    out->len += n;
    out->data[out->len] = '\0';
    return PS_OK;
}

ps_err_t ingest_form_encode_component(const char *s, size_t len, ps_buf_t *out)
{
    static const char hex[] = "0123456789ABCDEF";
    char esc[3] = {'%', 0, 0};

    PS_ASSERT(out != NULL && (s != NULL || len == 0));
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        ps_err_t err;

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '*' || c == '-' || c == '.' || c == '_') {
            err = ps_buf_append(out, &c, 1);
        } else if (c == ' ') {
            err = ps_buf_append(out, "+", 1);
        } else {
            esc[1] = hex[c >> 4];
            esc[2] = hex[c & 0xf];
            err = ps_buf_append(out, esc, 3);
        }
        if (err != PS_OK)
            return err;
    }
    return PS_OK;
}

/* One byte as it appears in a quoted message; returns the piece's length. */
static size_t quote_piece(unsigned char c, char piece[5])
{
    if (c == '"' || c == '\\') {
        piece[0] = '\\';
        piece[1] = (char)c;
        return 2;
    }
    if (c >= 0x20 && c < 0x7f) {
        piece[0] = (char)c;
        return 1;
    }
    snprintf(piece, 5, "\\x%02X", c);
    return 4;
}

void ingest_form_quote(const char *s, size_t len, char *out, size_t out_size)
{
    size_t n = 0, total = 0, room;
    char piece[5];

    if (out == NULL || out_size == 0)
        return;
    for (size_t i = 0; i < len; i++)
        total += quote_piece((unsigned char)s[i], piece);
    /* When the whole text does not fit, keep room for "..." so a cut shows. */
    room = total < out_size ? out_size - 1 : (out_size > 4 ? out_size - 4 : 0);
    for (size_t i = 0; i < len; i++) {
        size_t plen = quote_piece((unsigned char)s[i], piece);

        if (n + plen > room)
            break;
        memcpy(out + n, piece, plen);
        n += plen;
    }
    if (total >= out_size && out_size > 4) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
}
