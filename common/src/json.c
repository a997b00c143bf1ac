/*
 * The strict JSON parser (see paystream/json.h): one pass over the text that
 * validates it and fills the document's flat token array. Containers open on
 * an explicit stack of PS_JSON_DEPTH_MAX token indexes, so hostile nesting
 * costs neither recursion nor allocation. Strings, most of a channel payload
 * (an Apple body is one 8 KB string), are scanned sixteen bytes at a time
 * until a quote, a backslash, a control character or a non-ASCII byte needs
 * a closer look.
 */
#include "json_int.h"

#include <paystream/assert.h>
#include <paystream/bytetable.h>
#include <paystream/mem.h>

#include <stdarg.h>
#include <stdio.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <string.h>

/* Exponents saturate here: any such magnitude already decides overflow. */
#define JSON_EXPONENT_SATURATE INT64_C(1000000000)
/* Magnitude (power of ten of the leading digit) of the overflow bound below. */
#define JSON_REAL_OVERFLOW_MAGNITUDE 308

/* The decimal digits of 2^1024 - 2^970, half-way between DBL_MAX and 2^1024:
 * the least value strtod rounds to infinity (jansson then refuses the text). */
static const char real_overflow_digits[] =
    "179769313486231580793728971405303415079934132710037826936173778980444968292764750946649"
    "017977587207096330286416692887910946555547851940402630657488671505820681908902000708383"
    "676273854845817711531764475730270069855571366959622842914819860834936475292719074168444"
    "365510704342711559699508093042880177904174497792";

/* Bytes that end a run of plain string bytes: '"', '\\', controls, non-ASCII. */
#define STOP1(c) ((c) < 0x20 || (c) == '"' || (c) == '\\' || (c) >= 0x80)
static const uint8_t str_stop[256] = PS_BYTE_TABLE(STOP1);

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

typedef struct parser {
    const uint8_t *s;
    size_t len, pos;
    ps_json_doc_t *doc; /* doc->toks has room for max tokens */
    size_t max;
    bool out_of_tokens;
    uint32_t stack[PS_JSON_DEPTH_MAX]; /* open containers, innermost last */
    size_t depth;
    char *errstr;
    size_t errstr_size;
} parser_t;

static ps_err_t fail(parser_t *p, ps_err_t err, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static ps_err_t fail(parser_t *p, ps_err_t err, size_t at, const char *fmt, ...)
{
    char what[PS_ERRSTR_SIZE];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return ps_errstr_set(p->errstr, p->errstr_size, err, "invalid json: %s at offset %zu", what,
                         at);
}

static ps_err_t fail_char(parser_t *p, const char *expected)
{
    uint8_t c;

    if (p->pos >= p->len)
        return fail(p, PS_ERR_INVALID, p->pos, "unexpected end of text, expected %s", expected);
    c = p->s[p->pos];
    if (c > 0x20 && c < 0x7f)
        return fail(p, PS_ERR_INVALID, p->pos, "unexpected '%c', expected %s", c, expected);
    return fail(p, PS_ERR_INVALID, p->pos, "unexpected byte 0x%02x, expected %s", c, expected);
}

static void skip_space(parser_t *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\n' ||
                               p->s[p->pos] == '\r' || p->s[p->pos] == '\t'))
        p->pos++;
}

static ps_json_tok_t *add_token(parser_t *p, ps_json_type_t type)
{
    ps_json_doc_t *d = p->doc;
    ps_json_tok_t *t;

    if (d->count == p->max) {
        p->out_of_tokens = true;
        fail(p, PS_ERR_TOO_LARGE, p->pos, "more than %zu values", p->max);
        return NULL;
    }
    t = &d->toks[d->count++];
    t->off = (uint32_t)p->pos;
    t->len = 0;
    t->next = (uint32_t)d->count;
    t->count = 0;
    t->type = type;
    t->flags = 0;
    return t;
}

/* Length of the well-formed UTF-8 sequence at s (s[0] >= 0x80, avail bytes
 * left), or 0: Unicode table 3-7, so no overlongs, surrogates or > U+10FFFF. */
static size_t utf8_seq(const uint8_t *s, size_t avail)
{
    uint8_t b0 = s[0], lo = 0x80, hi = 0xBF;
    size_t n;

    if (b0 < 0xC2 || b0 > 0xF4)
        return 0;
    n = b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4;
    if (avail < n)
        return 0;
    if (b0 == 0xE0)
        lo = 0xA0;
    else if (b0 == 0xED)
        hi = 0x9F;
    else if (b0 == 0xF0)
        lo = 0x90;
    else if (b0 == 0xF4)
        hi = 0x8F;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t k = 2; k < n; k++)
        if ((s[k] & 0xC0) != 0x80)
            return 0;
    return n;
}

bool ps_json_utf8_valid(const char *s, size_t len)
{
    const uint8_t *u = (const uint8_t *)s;
    size_t i = 0, n;

    while (i < len) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        n = utf8_seq(u + i, len - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

static int hex_value(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The four hex digits at s[i..i+4) as a code unit, or -1. */
static long hex4(const uint8_t *s, size_t i, size_t len)
{
    long v = 0;

    if (len - i < 4)
        return -1;
    for (size_t k = 0; k < 4; k++) {
        int h = hex_value(s[i + k]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Checks the escape at p->pos (a backslash) and steps over it. */
static ps_err_t escape(parser_t *p)
{
    size_t at = p->pos;
    long cp, lo;

    if (at + 1 >= p->len)
        return fail(p, PS_ERR_INVALID, at, "unterminated escape");
    if (strchr("\"\\/bfnrt", p->s[at + 1]) != NULL && p->s[at + 1] != '\0') {
        p->pos += 2;
        return PS_OK;
    }
    if (p->s[at + 1] != 'u' || (cp = hex4(p->s, at + 2, p->len)) < 0)
        return fail(p, PS_ERR_INVALID, at, "invalid escape");
    if (cp == 0)
        return fail(p, PS_ERR_INVALID, at, "\\u0000 in a string");
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return fail(p, PS_ERR_INVALID, at, "lone surrogate \\u%04lX", cp);
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (p->len - at < 12 || p->s[at + 6] != '\\' || p->s[at + 7] != 'u' ||
            (lo = hex4(p->s, at + 8, p->len)) < 0xDC00 || lo > 0xDFFF)
            return fail(p, PS_ERR_INVALID, at, "lone surrogate \\u%04lX", cp);
        p->pos += 12;
        return PS_OK;
    }
    p->pos += 6;
    return PS_OK;
}

/* The index of the first byte from s[i] on that ends a plain run ('"',
 * '\\', a control or a non-ASCII byte), or len: sixteen bytes per step with
 * SSE2 (signed bytes below 0x20 are the controls and every byte >= 0x80),
 * else eight with a word-wide test, then byte by byte. */
static size_t plain_run(const uint8_t *s, size_t i, size_t len)
{
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);

    while (len - i >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        unsigned stop = (unsigned)_mm_movemask_epi8(_mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
            _mm_cmplt_epi8(v, space)));

        if (stop != 0)
            return i + (size_t)__builtin_ctz(stop);
        i += 16;
    }
#endif
    while (len - i >= 8) {
        uint64_t w, q, b;

        memcpy(&w, s + i, 8);
        q = w ^ (ONES * '"');
        b = w ^ (ONES * '\\');
        if (((w | ((w - ONES * 0x20) & ~w) | ((q - ONES) & ~q) | ((b - ONES) & ~b)) & HIGHS) != 0)
            break;
        i += 8;
    }
    while (i < len && !str_stop[s[i]])
        i++;
    return i;
}

/* Scans the string whose opening quote is at p->pos into a new token. */
static ps_err_t string(parser_t *p)
{
    ps_json_tok_t *t = add_token(p, PS_JSON_STRING);
    const uint8_t *s = p->s;
    size_t i, n;
    ps_err_t err;

    if (t == NULL)
        return PS_ERR_TOO_LARGE;
    i = ++p->pos;
    t->off = (uint32_t)i;
    for (;;) {
        i = plain_run(s, i, p->len);
        if (i >= p->len)
            return fail(p, PS_ERR_INVALID, t->off - 1, "unterminated string");
        if (s[i] == '"')
            break;
        if (s[i] == '\\') {
            p->pos = i;
            t->flags |= PS_JSON_F_ESCAPES;
            if ((err = escape(p)) != PS_OK)
                return err;
            i = p->pos;
        } else if (s[i] < 0x20) {
            return fail(p, PS_ERR_INVALID, i, "control byte 0x%02x in a string", s[i]);
        } else if ((n = utf8_seq(s + i, p->len - i)) == 0) {
            return fail(p, PS_ERR_INVALID, i, "invalid utf-8 in a string");
        } else {
            i += n;
        }
    }
    t->len = (uint32_t)(i - t->off);
    p->pos = i + 1;
    return PS_OK;
}

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

/* Whether the integer s[0..len) (grammar checked) fits int64. */
static bool int_fits(const uint8_t *s, size_t len)
{
    bool neg = s[0] == '-';
    size_t digits = len - neg;
    uint64_t v = 0;

    if (digits != 19)
        return digits < 19; /* no leading zeros: the digit count is the magnitude */
    for (size_t i = neg; i < len; i++)
        v = v * 10 + (uint64_t)(s[i] - '0');
    return v <= (uint64_t)INT64_MAX + neg;
}

/* Whether the real s[0..len) (grammar checked) rounds to an infinite double,
 * decided on its decimal digits, as strtod's correct rounding would. */
static bool real_overflows(const uint8_t *s, size_t len)
{
    size_t i = s[0] == '-', int_end, mant_end, first = 0, j = 0;
    int64_t exp = 0, magnitude;
    bool exp_neg = false, zero_int;

    while (i < len && is_digit(s[i]))
        i++;
    int_end = i;
    if (i < len && s[i] == '.')
        for (i++; i < len && is_digit(s[i]);)
            i++;
    mant_end = i;
    if (i < len) { /* exponent */
        i++;
        if (s[i] == '+' || s[i] == '-')
            exp_neg = s[i++] == '-';
        for (; i < len; i++)
            exp = exp < JSON_EXPONENT_SATURATE ? exp * 10 + (s[i] - '0') : exp;
    }
    zero_int = s[int_end - 1] == '0' && int_end - (s[0] == '-') == 1;
    first = zero_int ? int_end + 1 : (size_t)(s[0] == '-');
    while (zero_int && first < mant_end && s[first] == '0')
        first++;
    if (first >= mant_end)
        return false; /* zero */
    magnitude = zero_int ? -(int64_t)(first - int_end) : (int64_t)(int_end - first) - 1;
    magnitude += exp_neg ? -exp : exp;
    if (magnitude != JSON_REAL_OVERFLOW_MAGNITUDE)
        return magnitude > JSON_REAL_OVERFLOW_MAGNITUDE;
    for (i = first; i < mant_end && j < sizeof(real_overflow_digits) - 1; i++) {
        if (s[i] == '.')
            continue;
        if (s[i] != real_overflow_digits[j])
            return s[i] > real_overflow_digits[j];
        j++;
    }
    return j == sizeof(real_overflow_digits) - 1; /* all of the bound's digits: at least it */
}

/* Scans the number at p->pos into a new token (RFC 8259 section 6). */
static ps_err_t number(parser_t *p)
{
    ps_json_tok_t *t = add_token(p, PS_JSON_NUMBER);
    const uint8_t *s = p->s;
    size_t i = p->pos, start = p->pos;
    bool integer = true;

    if (t == NULL)
        return PS_ERR_TOO_LARGE;
    if (s[i] == '-')
        i++;
    if (i >= p->len || !is_digit(s[i]))
        return fail(p, PS_ERR_INVALID, i, "invalid number");
    if (s[i] == '0' && i + 1 < p->len && is_digit(s[i + 1]))
        return fail(p, PS_ERR_INVALID, i, "leading zero in a number");
    while (i < p->len && is_digit(s[i]))
        i++;
    if (i < p->len && s[i] == '.') {
        integer = false;
        if (++i >= p->len || !is_digit(s[i]))
            return fail(p, PS_ERR_INVALID, i, "invalid number fraction");
        while (i < p->len && is_digit(s[i]))
            i++;
    }
    if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
        integer = false;
        if (++i < p->len && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= p->len || !is_digit(s[i]))
            return fail(p, PS_ERR_INVALID, i, "invalid number exponent");
        while (i < p->len && is_digit(s[i]))
            i++;
    }
    if (integer && !int_fits(s + start, i - start))
        return fail(p, PS_ERR_INVALID, start, "integer out of the 64-bit range");
    if (!integer && real_overflows(s + start, i - start))
        return fail(p, PS_ERR_INVALID, start, "real number overflow");
    t->len = (uint32_t)(i - start);
    t->flags = integer ? PS_JSON_F_INTEGER : 0;
    p->pos = i;
    return PS_OK;
}

static ps_err_t literal(parser_t *p, const char *word, ps_json_type_t type)
{
    size_t n = strlen(word);
    ps_json_tok_t *t;

    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
        return fail(p, PS_ERR_INVALID, p->pos, "invalid literal, expected \"%s\"", word);
    t = add_token(p, type);
    if (t == NULL)
        return PS_ERR_TOO_LARGE;
    t->len = (uint32_t)n;
    p->pos += n;
    return PS_OK;
}

/* Refuses a repeated member name, naming the later one. */
static ps_err_t duplicate(parser_t *p, const ps_json_tok_t *key)
{
    char name[65];
    size_t n = key->len < sizeof(name) - 1 ? key->len : sizeof(name) - 1;

    memcpy(name, p->s + key->off, n); /* raw text: no control bytes, safe to print */
    name[n] = '\0';
    return fail(p, PS_ERR_INVALID, key->off - 1, "duplicate key \"%s\"", name);
}

/* A member name and its colon; the value follows. */
static ps_err_t member_key(parser_t *p)
{
    ps_err_t err;

    skip_space(p);
    if (p->pos >= p->len || p->s[p->pos] != '"')
        return fail_char(p, "a member name");
    p->doc->toks[p->stack[p->depth - 1]].count++;
    if ((err = string(p)) != PS_OK)
        return err;
    skip_space(p);
    if (p->pos >= p->len || p->s[p->pos] != ':')
        return fail_char(p, "':'");
    p->pos++;
    return PS_OK;
}

/* Ends the innermost container at p->pos (its closing bracket). */
static ps_err_t close_container(parser_t *p)
{
    ps_json_tok_t *t = &p->doc->toks[p->stack[--p->depth]];
    const ps_json_tok_t *dup;

    p->pos++;
    t->len = (uint32_t)(p->pos - t->off);
    t->next = (uint32_t)p->doc->count;
    if (t->type == PS_JSON_OBJECT && t->count > 1 &&
        (dup = ps__json_duplicate_key(p->doc, t)) != NULL)
        return duplicate(p, dup);
    return PS_OK;
}

/* Opens the container at p->pos. *want_value: it is not empty (an object's
 * first member name is read already). */
static ps_err_t open_container(parser_t *p, ps_json_type_t type, bool *want_value)
{
    ps_json_tok_t *t;

    if (p->depth == PS_JSON_DEPTH_MAX)
        return fail(p, PS_ERR_TOO_LARGE, p->pos, "nesting deeper than %d", PS_JSON_DEPTH_MAX);
    if ((t = add_token(p, type)) == NULL)
        return PS_ERR_TOO_LARGE;
    p->stack[p->depth++] = (uint32_t)(t - p->doc->toks);
    p->pos++;
    skip_space(p);
    if (p->pos < p->len && p->s[p->pos] == (type == PS_JSON_OBJECT ? '}' : ']')) {
        *want_value = false;
        return close_container(p);
    }
    *want_value = true;
    return type == PS_JSON_OBJECT ? member_key(p) : PS_OK;
}

/* One value at p->pos: a whole scalar, or a container's opening. */
static ps_err_t value(parser_t *p, bool *want_value)
{
    ps_json_tok_t *parent = p->depth > 0 ? &p->doc->toks[p->stack[p->depth - 1]] : NULL;
    uint8_t c;

    *want_value = false;
    skip_space(p);
    if (p->pos >= p->len)
        return fail_char(p, "a value");
    if (parent != NULL && parent->type == PS_JSON_ARRAY)
        parent->count++;
    c = p->s[p->pos];
    switch (c) {
    case '{':
        return open_container(p, PS_JSON_OBJECT, want_value);
    case '[':
        return open_container(p, PS_JSON_ARRAY, want_value);
    case '"':
        return string(p);
    case 't':
        return literal(p, "true", PS_JSON_TRUE);
    case 'f':
        return literal(p, "false", PS_JSON_FALSE);
    case 'n':
        return literal(p, "null", PS_JSON_NULL);
    default:
        return c == '-' || is_digit(c) ? number(p) : fail_char(p, "a value");
    }
}

/* After a value inside a container: a comma (then the next member name) or
 * the closing bracket. */
static ps_err_t separator(parser_t *p, bool *want_value)
{
    const ps_json_tok_t *t = &p->doc->toks[p->stack[p->depth - 1]];
    bool object = t->type == PS_JSON_OBJECT;

    skip_space(p);
    if (p->pos < p->len && p->s[p->pos] == ',') {
        p->pos++;
        *want_value = true;
        return object ? member_key(p) : PS_OK;
    }
    if (p->pos < p->len && p->s[p->pos] == (object ? '}' : ']')) {
        *want_value = false;
        return close_container(p);
    }
    return fail_char(p, object ? "',' or '}'" : "',' or ']'");
}

static ps_err_t run(parser_t *p)
{
    bool want_value;
    ps_err_t err = value(p, &want_value);

    while (err == PS_OK && p->depth > 0)
        err = want_value ? value(p, &want_value) : separator(p, &want_value);
    if (err != PS_OK)
        return err;
    skip_space(p);
    if (p->pos != p->len)
        return fail(p, PS_ERR_INVALID, p->pos, "trailing characters after the value");
    return PS_OK;
}

void ps_json_doc_init(ps_json_doc_t *doc)
{
    doc->text = NULL;
    doc->len = 0;
    doc->toks = doc->inline_toks;
    doc->count = 0;
    doc->heap = NULL;
}

void ps_json_doc_deinit(ps_json_doc_t *doc)
{
    if (doc == NULL)
        return;
    ps_free(doc->heap);
    ps_json_doc_init(doc);
}

/* One attempt into doc->toks (room for max tokens). */
static ps_err_t parse_into(ps_json_doc_t *doc, size_t max, bool *out_of_tokens, char *errstr,
                           size_t errstr_size)
{
    parser_t p; /* field by field: zeroing the 8 KiB stack would cost more than a parse */
    ps_err_t err;

    p.s = (const uint8_t *)doc->text;
    p.len = doc->len;
    p.pos = 0;
    p.doc = doc;
    p.max = max;
    p.out_of_tokens = false;
    p.depth = 0;
    p.errstr = errstr;
    p.errstr_size = errstr_size;
    doc->count = 0;
    err = run(&p);
    *out_of_tokens = p.out_of_tokens;
    return err;
}

ps_err_t ps_json_parse(ps_json_doc_t *doc, const char *text, size_t len, size_t tokens_max,
                       char *errstr, size_t errstr_size)
{
    size_t need;
    bool out_of_tokens = false;
    ps_err_t err;

    PS_ASSERT(doc != NULL && (text != NULL || len == 0));
    PS_ASSERT(tokens_max >= 1 && tokens_max <= PS_JSON_TOKENS_MAX);
    ps_json_doc_deinit(doc);
    if (len > PS_JSON_TEXT_BYTES_MAX)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                             "json text of %zu bytes exceeds the %d-byte bound", len,
                             PS_JSON_TEXT_BYTES_MAX);
    doc->text = text;
    doc->len = len;
    err = parse_into(doc, tokens_max < PS_JSON_DOC_INLINE_TOKENS ? tokens_max
                                                                  : PS_JSON_DOC_INLINE_TOKENS,
                     &out_of_tokens, errstr, errstr_size);
    if (out_of_tokens && tokens_max > PS_JSON_DOC_INLINE_TOKENS) {
        /* Each value but the first follows a separator: n bytes hold at most n / 2 + 1. */
        need = len / 2 + 1 < tokens_max ? len / 2 + 1 : tokens_max;
        doc->heap = ps_malloc(need * sizeof(*doc->heap));
        doc->toks = doc->heap;
        err = parse_into(doc, need, &out_of_tokens, errstr, errstr_size);
    }
    if (err != PS_OK) {
        ps_json_doc_deinit(doc);
        return err;
    }
    return PS_OK;
}
