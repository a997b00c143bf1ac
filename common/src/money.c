/*
 * Exact money conversions (see paystream/money.h): currency lookup, decimal
 * text to minor units and back, Apple milliunits, checked arithmetic.
 *
 * All arithmetic is on integers. Magnitudes are accumulated as uint64_t with
 * overflow builtins and compared against an explicit limit (INT64_MAX, or
 * 2^63 for a negative amount), so no input can wrap silently. Error messages
 * quote the offending text with non-printable bytes escaped, because the text
 * comes from outside and ends up in logs.
 */
#include <paystream/assert.h>
#include <paystream/money.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 10^0 .. 10^PS_CURRENCY_EXPONENT_MAX, for exact scaling. */
static const uint64_t pow10_u64[PS_CURRENCY_EXPONENT_MAX + 1] = {1, 10, 100, 1000, 10000};

/* Apple prices are thousandths of the major unit. */
#define MILLIUNIT_EXPONENT 3

/* Bytes of outside text quoted in a message; the rest becomes "...". */
#define QUOTE_INPUT_BYTES_MAX 40
/* Worst case: every byte as \xNN, plus "..." and NUL. */
#define QUOTE_BUF_BYTES (QUOTE_INPUT_BYTES_MAX * 4 + 4)

/*
 * Codes that look valid but are refused, with the reason, so that the message
 * tells an operator why "XAU" or "HRK" is not accepted. Not exhaustive: any
 * other absent code is simply unknown.
 */
static const struct {
    const char *code;
    const char *reason;
} refused_codes[] = {
    {"ANG", "withdrawn from ISO 4217 (replaced by XCG)"},
    {"BGN", "withdrawn from ISO 4217 (replaced by EUR)"},
    {"CUC", "withdrawn from ISO 4217"},
    {"HRK", "withdrawn from ISO 4217 (replaced by EUR)"},
    {"SLL", "withdrawn from ISO 4217 (replaced by SLE)"},
    {"ZWL", "withdrawn from ISO 4217 (replaced by ZWG)"},
    {"XAG", "ISO 4217 gives it no minor unit"},
    {"XAU", "ISO 4217 gives it no minor unit"},
    {"XBA", "ISO 4217 gives it no minor unit"},
    {"XBB", "ISO 4217 gives it no minor unit"},
    {"XBC", "ISO 4217 gives it no minor unit"},
    {"XBD", "ISO 4217 gives it no minor unit"},
    {"XDR", "ISO 4217 gives it no minor unit"},
    {"XPD", "ISO 4217 gives it no minor unit"},
    {"XPT", "ISO 4217 gives it no minor unit"},
    {"XSU", "ISO 4217 gives it no minor unit"},
    {"XTS", "ISO 4217 reserves it for testing"},
    {"XUA", "ISO 4217 gives it no minor unit"},
    {"XXX", "ISO 4217 uses it for \"no currency\""},
};

/*
 * Renders len bytes of s for a message: printable ASCII as is, quote and
 * backslash escaped, anything else as \xNN; long text is cut with "...".
 */
static const char *quote_bytes(const char *s, size_t len, char out[QUOTE_BUF_BYTES])
{
    size_t n = 0, shown = len > QUOTE_INPUT_BYTES_MAX ? QUOTE_INPUT_BYTES_MAX : len;

    for (size_t i = 0; i < shown; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c >= 0x20 && c < 0x7f) {
            out[n++] = (char)c;
        } else {
            snprintf(out + n, 5, "\\x%02X", c);
            n += 4;
        }
    }
    if (shown < len) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
    return out;
}

static bool code_has_shape(const char *code)
{
    /* Stops at the first non-letter, so a short string is never over-read. */
    for (int i = 0; i < 3; i++) {
        if (code[i] < 'A' || code[i] > 'Z')
            return false;
    }
    return code[3] == '\0';
}

static int compare_code(const void *key, const void *elem)
{
    return strcmp((const char *)key, ((const ps_currency_t *)elem)->code);
}

ps_err_t ps_currency_lookup(const char *code, int *exponent_out)
{
    const ps_currency_t *table, *found;
    size_t count;

    PS_ASSERT(code != NULL && exponent_out != NULL);
    if (!code_has_shape(code))
        return PS_ERR_INVALID;
    table = ps_currency_table(&count);
    found = bsearch(code, table, count, sizeof(table[0]), compare_code);
    if (found == NULL)
        return PS_ERR_INVALID;
    PS_ASSERT(found->exponent >= 0 && found->exponent <= PS_CURRENCY_EXPONENT_MAX);
    *exponent_out = found->exponent;
    return PS_OK;
}

ps_err_t ps_currency_validate(const char *code, int *exponent_out, char *errstr,
                              size_t errstr_size)
{
    char q[QUOTE_BUF_BYTES];

    PS_ASSERT(code != NULL && exponent_out != NULL);
    if (ps_currency_lookup(code, exponent_out) == PS_OK)
        return PS_OK;
    quote_bytes(code, strnlen(code, QUOTE_INPUT_BYTES_MAX + 1), q);
    if (!code_has_shape(code))
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "invalid currency code \"%s\": expected three upper-case ASCII "
                             "letters",
                             q);
    for (size_t i = 0; i < sizeof(refused_codes) / sizeof(refused_codes[0]); i++) {
        if (strcmp(code, refused_codes[i].code) == 0)
            return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                                 "unknown currency code \"%s\": %s", q,
                                 refused_codes[i].reason);
    }
    return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID, "unknown currency code \"%s\"",
                         q);
}

/* The shape of a decimal amount found by scan_decimal. */
typedef struct decimal_shape {
    size_t int_digits;  /* digits before the dot */
    size_t frac_digits; /* digits after the dot */
    bool has_dot;
} decimal_shape_t;

/*
 * Names what is wrong with byte c (which is neither a digit nor an allowed
 * dot) at offset i of the amount text, into why[why_size].
 */
static void describe_bad_byte(unsigned char c, size_t i, char *why, size_t why_size)
{
    if (c == '\0')
        snprintf(why, why_size, "NUL byte at offset %zu", i);
    else if (c >= 0x80)
        snprintf(why, why_size, "non-ASCII byte 0x%02X at offset %zu", c, i);
    else if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f')
        snprintf(why, why_size, "whitespace at offset %zu", i);
    else if (c == '+' || c == '-')
        snprintf(why, why_size, "sign '%c' at offset %zu is not allowed", c, i);
    else if (c == 'e' || c == 'E')
        snprintf(why, why_size, "exponent notation is not allowed");
    else if (c == ',' || c == '_' || c == '\'')
        snprintf(why, why_size, "thousands separator '%c' is not allowed", c);
    else if (c == '.')
        snprintf(why, why_size, "more than one decimal point");
    else if (c > 0x20 && c < 0x7f)
        snprintf(why, why_size, "unexpected character '%c' at offset %zu", c, i);
    else
        snprintf(why, why_size, "control byte 0x%02X at offset %zu", c, i);
}

/*
 * Checks s[start..len) against ("0" | [1-9][0-9]*) ["." [0-9]+] and fills
 * shape. On failure writes the reason into why and returns false.
 */
static bool scan_decimal(const char *s, size_t start, size_t len, decimal_shape_t *shape,
                         char *why, size_t why_size)
{
    memset(shape, 0, sizeof(*shape));
    for (size_t i = start; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c >= '0' && c <= '9') {
            if (shape->has_dot)
                shape->frac_digits++;
            else
                shape->int_digits++;
        } else if (c == '.' && !shape->has_dot) {
            shape->has_dot = true;
        } else {
            describe_bad_byte(c, i, why, why_size);
            return false;
        }
    }
    if (shape->int_digits == 0) {
        snprintf(why, why_size, shape->has_dot ? "no digits before the decimal point"
                                               : "no digits");
        return false;
    }
    if (shape->has_dot && shape->frac_digits == 0) {
        snprintf(why, why_size, "no digits after the decimal point");
        return false;
    }
    if (shape->int_digits > 1 && s[start] == '0') {
        snprintf(why, why_size, "leading zero");
        return false;
    }
    return true;
}

/*
 * Computes the magnitude in minor units of a well-shaped decimal. Returns
 * false when it exceeds limit (checked exactly, without wrapping).
 */
static bool decimal_value(const char *s, size_t start, const decimal_shape_t *shape,
                          int exponent, uint64_t limit, uint64_t *mag_out)
{
    uint64_t v = 0;
    size_t i = start;

    for (size_t k = 0; k < shape->int_digits; k++, i++) {
        if (__builtin_mul_overflow(v, 10, &v) ||
            __builtin_add_overflow(v, (uint64_t)(s[i] - '0'), &v))
            return false;
    }
    i++; /* the dot, when there is one */
    for (int k = 0; k < exponent; k++) {
        uint64_t digit = 0;

        if ((size_t)k < shape->frac_digits)
            digit = (uint64_t)(s[i + (size_t)k] - '0');
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, digit, &v))
            return false;
    }
    if (v > limit)
        return false;
    *mag_out = v;
    return true;
}

/* The shared body of the two parsers; allow_minus selects the signed grammar. */
static ps_err_t parse_amount(const char *s, size_t len, const char *currency, bool allow_minus,
                             int64_t *minor_out, char *errstr, size_t errstr_size)
{
    char q[QUOTE_BUF_BYTES], why[96], max_text[PS_MONEY_DECIMAL_BYTES_MAX];
    decimal_shape_t shape;
    bool negative = false;
    uint64_t limit = (uint64_t)INT64_MAX, mag;
    int exponent;
    ps_err_t err;

    PS_ASSERT((s != NULL || len == 0) && currency != NULL && minor_out != NULL);
    err = ps_currency_validate(currency, &exponent, errstr, errstr_size);
    if (err != PS_OK)
        return ps_errstr_prefix(errstr, errstr_size, err, "could not parse amount");
    if (len == 0)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID, "invalid amount: empty");
    quote_bytes(s, len, q);
    if (len > PS_MONEY_DECIMAL_BYTES_MAX)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                             "invalid amount \"%s\": %zu bytes is longer than the limit of %d",
                             q, len, PS_MONEY_DECIMAL_BYTES_MAX);
    if (allow_minus && s[0] == '-') {
        negative = true;
        limit = (uint64_t)INT64_MAX + 1; /* |INT64_MIN| */
    }
    if (!scan_decimal(s, negative ? 1 : 0, len, &shape, why, sizeof(why)))
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID, "invalid amount \"%s\": %s", q,
                             why);
    if (shape.frac_digits > (size_t)exponent) {
        if (exponent == 0)
            return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                                 "invalid amount \"%s\": %s has no minor unit, so no fraction "
                                 "digits are allowed",
                                 q, currency);
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "invalid amount \"%s\": %zu fraction digits but %s has only %d", q,
                             shape.frac_digits, currency, exponent);
    }
    if (!decimal_value(s, negative ? 1 : 0, &shape, exponent, limit, &mag)) {
        ps_money_format(negative ? INT64_MIN : INT64_MAX, currency, max_text, sizeof(max_text));
        return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                             "invalid amount \"%s\": out of range, the limit is %s %s", q,
                             max_text, currency);
    }
    if (negative && mag == 0)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "invalid amount \"%s\": negative zero", q);
    /* Two's complement: negating through uint64_t is exact, 2^63 included. */
    *minor_out = negative ? (int64_t)(0 - mag) : (int64_t)mag;
    return PS_OK;
}

ps_err_t ps_money_parse_decimal(const char *s, size_t len, const char *currency,
                                int64_t *minor_out, char *errstr, size_t errstr_size)
{
    return parse_amount(s, len, currency, false, minor_out, errstr, errstr_size);
}

ps_err_t ps_money_parse_decimal_signed(const char *s, size_t len, const char *currency,
                                       int64_t *minor_out, char *errstr, size_t errstr_size)
{
    return parse_amount(s, len, currency, true, minor_out, errstr, errstr_size);
}

ps_err_t ps_money_from_milliunits(int64_t milli, const char *currency, int64_t *minor_out,
                                  char *errstr, size_t errstr_size)
{
    int exponent;
    int64_t scale, product;
    ps_err_t err;

    PS_ASSERT(currency != NULL && minor_out != NULL);
    err = ps_currency_validate(currency, &exponent, errstr, errstr_size);
    if (err != PS_OK)
        return ps_errstr_prefix(errstr, errstr_size, err, "could not convert milliunits");
    if (milli < 0)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "invalid amount %lld milliunits of %s: negative", (long long)milli,
                             currency);
    if (exponent <= MILLIUNIT_EXPONENT) {
        scale = (int64_t)pow10_u64[MILLIUNIT_EXPONENT - exponent];
        if (milli % scale != 0)
            return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                                 "invalid amount %lld milliunits of %s: not a whole number of "
                                 "minor units (%s has %d decimal places)",
                                 (long long)milli, currency, currency, exponent);
        *minor_out = milli / scale;
        return PS_OK;
    }
    scale = (int64_t)pow10_u64[exponent - MILLIUNIT_EXPONENT];
    /* The builtin stores the wrapped product even on overflow: keep it local. */
    if (__builtin_mul_overflow(milli, scale, &product))
        return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                             "invalid amount %lld milliunits of %s: out of range in minor units",
                             (long long)milli, currency);
    *minor_out = product;
    return PS_OK;
}

ps_err_t ps_money_format(int64_t minor, const char *currency, char *out, size_t out_size)
{
    /* Digits are produced backwards; 20 digits + dot + "0." + sign fit in 32. */
    char rev[PS_MONEY_DECIMAL_BYTES_MAX];
    uint64_t mag = minor < 0 ? 0 - (uint64_t)minor : (uint64_t)minor;
    size_t n = 0;
    int exponent, digits = 0;

    PS_ASSERT(currency != NULL && (out != NULL || out_size == 0));
    if (out_size > 0)
        out[0] = '\0';
    if (ps_currency_lookup(currency, &exponent) != PS_OK)
        return PS_ERR_INVALID;
    /* At least exponent + 1 digits, so 5 fen is "0.05", never ".05". */
    while (mag != 0 || digits <= exponent) {
        if (digits == exponent && exponent > 0)
            rev[n++] = '.';
        rev[n++] = (char)('0' + mag % 10);
        mag /= 10;
        digits++;
    }
    if (minor < 0)
        rev[n++] = '-';
    PS_ASSERT(n < sizeof(rev));
    if (n + 1 > out_size)
        return PS_ERR_TOO_LARGE;
    for (size_t i = 0; i < n; i++)
        out[i] = rev[n - 1 - i];
    out[n] = '\0';
    return PS_OK;
}

ps_err_t ps_money_add(int64_t a, int64_t b, int64_t *out)
{
    int64_t r;

    PS_ASSERT(out != NULL);
    if (__builtin_add_overflow(a, b, &r))
        return PS_ERR_TOO_LARGE;
    *out = r;
    return PS_OK;
}

ps_err_t ps_money_sub(int64_t a, int64_t b, int64_t *out)
{
    int64_t r;

    PS_ASSERT(out != NULL);
    if (__builtin_sub_overflow(a, b, &r))
        return PS_ERR_TOO_LARGE;
    *out = r;
    return PS_OK;
}
