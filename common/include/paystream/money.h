/*
 * Money: an int64 count of minor units plus an ISO 4217 currency code.
 *
 * Amounts never pass through float or double: channels send decimal text
 * ("6.48"), Apple sends milliunits (6480), reports print decimal text, and all
 * three conversions here are exact integer arithmetic that fails loudly
 * (PS_ERR_INVALID or PS_ERR_TOO_LARGE, with a message) instead of rounding or
 * wrapping. The currency fixes the scale: its ISO 4217 minor-unit exponent
 * (JPY 0, CNY 2, BHD 3, CLF 4) says how many minor units make one major unit.
 *
 * The currency table is ISO 4217 List One as of amendment 180 (effective
 * 2026-01-01), restricted to entries that have a minor unit: precious metals,
 * SDRs, testing and "no currency" codes (XAU, XDR, XTS, XXX, ...; minor unit
 * "N.A.") are not money here and are rejected like unknown codes. Withdrawn
 * codes (ANG, BGN, CUC, HRK, SLL, ZWL) are rejected too.
 *
 * Every function is pure (no global state besides the constant table) and may
 * be called from any thread.
 */
#ifndef PAYSTREAM_MONEY_H
#define PAYSTREAM_MONEY_H

#include <paystream/err.h>
#include <paystream/limits.h>
#include <stddef.h>
#include <stdint.h>

/* Largest minor-unit exponent in the table (CLF, UYW). */
#define PS_CURRENCY_EXPONENT_MAX 4

typedef struct ps_currency {
    char code[PS_CURRENCY_CODE_BYTES]; /* "CNY", NUL-terminated */
    int exponent;                      /* minor unit digits: 0..PS_CURRENCY_EXPONENT_MAX */
} ps_currency_t;

/*
 * The whole table, sorted by code (strcmp order), for listings and tests.
 * Returns a borrowed pointer to static storage; *count_out gets its length.
 */
const ps_currency_t *ps_currency_table(size_t *count_out);

/*
 * Looks up code (borrowed, NUL-terminated; exactly three ASCII upper-case
 * letters) and stores its minor-unit exponent in *exponent_out.
 * Errors: PS_ERR_INVALID when code is malformed, unknown, withdrawn or has no
 * minor unit; *exponent_out is then untouched. Use ps_currency_validate for a
 * message.
 */
ps_err_t ps_currency_lookup(const char *code, int *exponent_out);

/*
 * ps_currency_lookup with a message naming the code and why it was refused:
 * `unknown currency code "XAU"`, `invalid currency code "cny": expected three
 * upper-case ASCII letters`. code may contain any bytes; the message escapes
 * them.
 */
ps_err_t ps_currency_validate(const char *code, int *exponent_out, char *errstr,
                              size_t errstr_size);

/*
 * Parses the decimal text s[0..len) (borrowed; need not be NUL-terminated)
 * exactly into minor units of currency: for CNY "0.01" -> 1, "100" -> 10000,
 * "100.5" -> 10050, "100.50" -> 10050; for JPY "120" -> 120.
 *
 * Accepted grammar: ("0" | [1-9][0-9]*) ["." [0-9]{1,exponent}]. Rejected
 * with PS_ERR_INVALID and a message naming the problem: empty text, any
 * whitespace, a sign ("-1", "+1", "-0"), exponent notation ("1e3"), thousands
 * separators ("1,000"), a lone or trailing dot (".5", "1."), a second dot,
 * leading zeros ("01.5", "00"), NUL or non-ASCII bytes, any other character,
 * and more fraction digits than the currency has, even when they are zeros
 * ("1.0" for JPY, "1.000" for CNY): a channel that sends more precision than
 * the currency has is either confused about the currency or rounding, and
 * either way the amount is ambiguous, so it is refused rather than guessed.
 * Zero ("0", "0.00") parses; callers decide whether zero is acceptable.
 *
 * Errors: PS_ERR_INVALID as above or for an unknown currency;
 * PS_ERR_TOO_LARGE when the amount exceeds INT64_MAX minor units or the text
 * is longer than PS_MONEY_DECIMAL_BYTES_MAX. *minor_out is written only on
 * success.
 */
ps_err_t ps_money_parse_decimal(const char *s, size_t len, const char *currency,
                                int64_t *minor_out, char *errstr, size_t errstr_size);

/*
 * Like ps_money_parse_decimal, but also accepts one leading '-' for
 * statements and adjustments that carry negative amounts ("-6.48" -> -648).
 * A negative zero ("-0", "-0.00") is refused as malformed: no channel writes
 * it, so it means a bug upstream. '+' is refused. The range is
 * [INT64_MIN, INT64_MAX] minor units.
 */
ps_err_t ps_money_parse_decimal_signed(const char *s, size_t len, const char *currency,
                                       int64_t *minor_out, char *errstr, size_t errstr_size);

/*
 * Converts Apple milliunits (thousandths of the major unit) into minor units:
 * CNY 6480 -> 648, JPY 120000 -> 120, BHD 6480 -> 6480, CLF 6480 -> 64800.
 * Errors: PS_ERR_INVALID for a negative amount, an unknown currency, or an
 * amount that is not a whole number of minor units (CNY 6485); PS_ERR_TOO_LARGE
 * when the result exceeds INT64_MAX (exponent-4 currencies multiply by 10).
 */
ps_err_t ps_money_from_milliunits(int64_t milli, const char *currency, int64_t *minor_out,
                                  char *errstr, size_t errstr_size);

/*
 * Writes minor as exact decimal text of currency into out (borrowed,
 * out_size bytes, always NUL-terminated on success): CNY 648 -> "6.48",
 * CNY -5 -> "-0.05", JPY 120 -> "120", CNY 0 -> "0.00". Every int64 is
 * accepted, INT64_MIN included. For non-negative values the text parses back
 * to the same value with ps_money_parse_decimal; for negative ones with
 * ps_money_parse_decimal_signed. PS_MONEY_DECIMAL_BYTES_MAX bytes always
 * suffice.
 * Errors: PS_ERR_INVALID for an unknown currency, PS_ERR_TOO_LARGE when out
 * is too small (out then holds "" if out_size > 0).
 */
ps_err_t ps_money_format(int64_t minor, const char *currency, char *out, size_t out_size);

/*
 * Checked arithmetic on minor units: *out = a + b (a - b). PS_ERR_TOO_LARGE
 * on int64 overflow, *out then untouched. Amounts must be in one currency;
 * that is the caller's contract.
 */
ps_err_t ps_money_add(int64_t a, int64_t b, int64_t *out);
ps_err_t ps_money_sub(int64_t a, int64_t b, int64_t *out);

#endif
