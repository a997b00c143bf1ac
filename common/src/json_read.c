/*
 * Reading a parsed JSON document (see paystream/json.h): navigation over the
 * flat token array and lazy unescaping. Tokens were validated by the parser,
 * so the readers trust their grammar (escapes, digits) and only check types.
 */
#include "json_int.h"

#include <paystream/assert.h>
#include <paystream/mem.h>

#include <string.h>

/* Member names up to this many bytes are unescaped on the stack to be compared. */
#define JSON_SMALL_BYTES 256

const ps_json_tok_t *ps_json_root(const ps_json_doc_t *doc)
{
    return doc != NULL && doc->count > 0 ? &doc->toks[0] : NULL;
}

static bool is_container(const ps_json_tok_t *t)
{
    return t != NULL && (t->type == PS_JSON_OBJECT || t->type == PS_JSON_ARRAY);
}

size_t ps_json_size(const ps_json_tok_t *t)
{
    return is_container(t) ? t->count : 0;
}

const ps_json_tok_t *ps_json_first(const ps_json_doc_t *doc, const ps_json_tok_t *container)
{
    (void)doc;
    return is_container(container) && container->count > 0 ? container + 1 : NULL;
}

const ps_json_tok_t *ps_json_next(const ps_json_doc_t *doc, const ps_json_tok_t *container,
                                  const ps_json_tok_t *child)
{
    uint32_t i;

    if (child == NULL || !is_container(container))
        return NULL;
    /* An object's children are names: step over the name's value too. */
    i = container->type == PS_JSON_OBJECT ? child[1].next : child->next;
    return i < container->next ? &doc->toks[i] : NULL;
}

const ps_json_tok_t *ps_json_member_value(const ps_json_tok_t *key)
{
    return key != NULL ? key + 1 : NULL;
}

const ps_json_tok_t *ps_json_get(const ps_json_doc_t *doc, const ps_json_tok_t *obj,
                                 const char *key)
{
    size_t n = strlen(key);

    if (!ps_json_is(obj, PS_JSON_OBJECT))
        return NULL;
    for (const ps_json_tok_t *k = ps_json_first(doc, obj); k != NULL;
         k = ps_json_next(doc, obj, k)) {
        if (k->flags & PS_JSON_F_ESCAPES ? ps_json_str_eq(doc, k, key, n)
                                         : k->len == n && memcmp(doc->text + k->off, key, n) == 0)
            return k + 1;
    }
    return NULL;
}

const ps_json_tok_t *ps_json_at(const ps_json_doc_t *doc, const ps_json_tok_t *arr, size_t i)
{
    const ps_json_tok_t *e;

    if (!ps_json_is(arr, PS_JSON_ARRAY) || i >= arr->count)
        return NULL;
    for (e = ps_json_first(doc, arr); i > 0; i--)
        e = ps_json_next(doc, arr, e);
    return e;
}

bool ps_json_int(const ps_json_doc_t *doc, const ps_json_tok_t *t, int64_t *out)
{
    const char *s;
    size_t i;
    uint64_t v = 0;

    if (!ps_json_is(t, PS_JSON_NUMBER) || !(t->flags & PS_JSON_F_INTEGER))
        return false;
    s = doc->text + t->off;
    /* The parser checked the range: at most 2^63 in magnitude. */
    for (i = s[0] == '-'; i < t->len; i++)
        v = v * 10 + (uint64_t)(s[i] - '0');
    if (s[0] != '-')
        *out = (int64_t)v;
    else
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    return true;
}

bool ps_json_bool(const ps_json_tok_t *t, bool *out)
{
    if (!ps_json_is(t, PS_JSON_TRUE) && !ps_json_is(t, PS_JSON_FALSE))
        return false;
    *out = t->type == PS_JSON_TRUE;
    return true;
}

static uint32_t hex4(const uint8_t *s)
{
    uint32_t v = 0;

    for (size_t k = 0; k < 4; k++) {
        uint8_t c = s[k];
        v = v * 16 + (uint32_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
}

/* Decodes the escape at raw[*i] (a validated backslash) into out (UTF-8);
 * returns its byte count and steps *i over it. */
static size_t unescape_one(const uint8_t *raw, size_t *i, uint8_t out[4])
{
    static const char from[] = "bfnrt", to[] = "\b\f\n\r\t";
    uint8_t c = raw[*i + 1];
    const char *m;
    uint32_t cp;

    if (c != 'u') {
        m = strchr(from, c);
        out[0] = m != NULL ? (uint8_t)to[m - from] : c; /* '"', '\\' and '/' stand for themselves */
        *i += 2;
        return 1;
    }
    cp = hex4(raw + *i + 2);
    *i += 6;
    if (cp >= 0xD800 && cp <= 0xDBFF) { /* the parser checked the low half follows */
        cp = 0x10000 + ((cp - 0xD800) << 10) + (hex4(raw + *i + 2) - 0xDC00);
        *i += 6;
    }
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | cp >> 6);
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | cp >> 12);
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | cp >> 18);
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/* Unescapes raw[0..n) into out, writing at most room bytes; returns the full
 * unescaped length (never more than n). */
static size_t unescape(const uint8_t *raw, size_t n, uint8_t *out, size_t room)
{
    size_t i = 0, total = 0;

    while (i < n) {
        const uint8_t *bs = memchr(raw + i, '\\', n - i);
        size_t run = bs != NULL ? (size_t)(bs - raw) - i : n - i, k;
        uint8_t u[4];

        if (total < room)
            memcpy(out + total, raw + i, run < room - total ? run : room - total);
        total += run;
        i += run;
        if (i == n)
            break;
        k = unescape_one(raw, &i, u);
        if (total < room)
            memcpy(out + total, u, k < room - total ? k : room - total);
        total += k;
    }
    return total;
}

ps_err_t ps_json_str_copy(const ps_json_doc_t *doc, const ps_json_tok_t *t, char *buf,
                          size_t size, size_t *len_out)
{
    size_t total;

    PS_ASSERT(buf != NULL && size > 0);
    buf[0] = '\0';
    if (!ps_json_is(t, PS_JSON_STRING))
        return PS_ERR_INVALID;
    total = unescape((const uint8_t *)doc->text + t->off, t->len, (uint8_t *)buf, size - 1);
    buf[total < size - 1 ? total : size - 1] = '\0';
    if (len_out != NULL)
        *len_out = total < size - 1 ? total : size - 1;
    return total < size ? PS_OK : PS_ERR_TOO_LARGE;
}

ps_err_t ps_json_str_text(const ps_json_doc_t *doc, const ps_json_tok_t *t, ps_buf_t *scratch,
                          const char **s_out, size_t *len_out)
{
    size_t room, total;

    if (!ps_json_is(t, PS_JSON_STRING))
        return PS_ERR_INVALID;
    if (!(t->flags & PS_JSON_F_ESCAPES)) {
        if (t->len > scratch->max)
            return PS_ERR_TOO_LARGE;
        *s_out = doc->text + t->off;
        *len_out = t->len;
        return PS_OK;
    }
    ps_buf_reset(scratch);
    room = t->len < scratch->max ? t->len : scratch->max;
    if (ps_buf_reserve(scratch, room) != PS_OK)
        return PS_ERR_TOO_LARGE;
    total = unescape((const uint8_t *)doc->text + t->off, t->len, scratch->data, room);
    if (total > room)
        return PS_ERR_TOO_LARGE;
    scratch->len = total;
    scratch->data[total] = '\0';
    *s_out = (const char *)scratch->data;
    *len_out = total;
    return PS_OK;
}

bool ps_json_str_eq(const ps_json_doc_t *doc, const ps_json_tok_t *t, const char *s, size_t len)
{
    const uint8_t *raw;
    size_t i = 0, j = 0, k;
    uint8_t u[4];

    if (!ps_json_is(t, PS_JSON_STRING))
        return false;
    raw = (const uint8_t *)doc->text + t->off;
    if (!(t->flags & PS_JSON_F_ESCAPES))
        return t->len == len && memcmp(raw, s, len) == 0;
    while (i < t->len) {
        if (raw[i] != '\\') {
            u[0] = raw[i++];
            k = 1;
        } else {
            k = unescape_one(raw, &i, u);
        }
        if (len - j < k || memcmp(s + j, u, k) != 0)
            return false;
        j += k;
    }
    return j == len;
}

/* A cheap hash of n bytes: their count and first and last eight. It only
 * spreads keys for sorting; equal hashes are settled by ps__json_str_cmp. */
static uint32_t hash_bytes(const uint8_t *b, size_t n)
{
    uint64_t head = 0, tail = 0, h;
    size_t k = n < 8 ? n : 8;

    memcpy(&head, b, k);
    memcpy(&tail, b + n - k, k);
    h = head * UINT64_C(0x9E3779B97F4A7C15) ^ tail * UINT64_C(0xC2B2AE3D27D4EB4F) ^ n;
    return (uint32_t)(h ^ h >> 32);
}

/* The unescaped bytes of string t: the text itself without escapes, else
 * unescaped into small (JSON_SMALL_BYTES) or, when longer, into an owned
 * allocation that *owned receives (NULL otherwise; ps_free). */
static const uint8_t *unescaped(const ps_json_doc_t *doc, const ps_json_tok_t *t, uint8_t *small,
                                uint8_t **owned, size_t *n)
{
    const uint8_t *raw = (const uint8_t *)doc->text + t->off;
    uint8_t *out = small;

    *owned = NULL;
    if (!(t->flags & PS_JSON_F_ESCAPES)) {
        *n = t->len;
        return raw;
    }
    if (t->len > JSON_SMALL_BYTES)
        out = *owned = ps_malloc(t->len); /* unescaped never exceeds escaped */
    *n = unescape(raw, t->len, out, t->len);
    return out;
}

uint32_t ps__json_str_hash(const ps_json_doc_t *doc, const ps_json_tok_t *t)
{
    uint8_t small[JSON_SMALL_BYTES], *owned;
    size_t n;
    const uint8_t *b = unescaped(doc, t, small, &owned, &n);
    uint32_t h = hash_bytes(b, n);

    ps_free(owned);
    return h;
}

int ps__json_str_cmp(const ps_json_doc_t *doc, const ps_json_tok_t *a, const ps_json_tok_t *b)
{
    uint8_t small_a[JSON_SMALL_BYTES], small_b[JSON_SMALL_BYTES], *owned_a, *owned_b;
    size_t na, nb;
    const uint8_t *x = unescaped(doc, a, small_a, &owned_a, &na);
    const uint8_t *y = unescaped(doc, b, small_b, &owned_b, &nb);
    int c = memcmp(x, y, na < nb ? na : nb);

    if (c == 0)
        c = (na > nb) - (na < nb);
    ps_free(owned_a);
    ps_free(owned_b);
    return c;
}
