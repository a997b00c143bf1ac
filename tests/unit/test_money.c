/*
 * Money: the ISO 4217 table, exact decimal parsing (every rejected class with
 * its message), int64 boundaries, Apple milliunits, formatting, round trips
 * over generated values and random garbage checked against an independent
 * reference acceptor, and checked arithmetic. Integers only: no float or
 * double appears here either.
 */
#include "test.h"

#include <paystream/limits.h>
#include <paystream/mem.h>
#include <paystream/money.h>

#include <stdbool.h>
#include <stdint.h>

/* Deterministic generator (Knuth MMIX constants) so failures reproduce. */
static uint64_t lcg_state = 0x9E3779B97F4A7C15u;

static uint64_t lcg_next(void)
{
    lcg_state = lcg_state * 6364136223846793005u + 1442695040888963407u;
    return lcg_state >> 11 ^ lcg_state << 53;
}

static ps_err_t parse(const char *s, const char *cur, int64_t *v, char *e, size_t es)
{
    return ps_money_parse_decimal(s, strlen(s), cur, v, e, es);
}

/* The table is sorted, well-formed, complete and pinned at its known size. */
static void test_currency_table(void)
{
    size_t count;
    const ps_currency_t *t = ps_currency_table(&count);

    CHECK_INT(count, 165); /* ISO 4217 List One with minor units, amendment 180 */
    for (size_t i = 0; i < count; i++) {
        int e = -1;

        CHECK_INT(strlen(t[i].code), 3);
        CHECK(t[i].exponent == 0 || t[i].exponent == 2 || t[i].exponent == 3 ||
              t[i].exponent == 4);
        if (i > 0)
            CHECK(strcmp(t[i - 1].code, t[i].code) < 0);
        /* Binary search must find every entry, first and last included. */
        CHECK_INT(ps_currency_lookup(t[i].code, &e), PS_OK);
        CHECK_INT(e, t[i].exponent);
    }
}

/* Spot values of every exponent class, including the newest codes. */
static void test_currency_exponents(void)
{
    static const struct {
        const char *code;
        int exponent;
    } cases[] = {{"JPY", 0}, {"KRW", 0}, {"ISK", 0}, {"VND", 0}, {"XAF", 0}, {"CLP", 0},
                 {"UYI", 0}, {"CNY", 2}, {"USD", 2}, {"EUR", 2}, {"GBP", 2}, {"HKD", 2},
                 {"SLE", 2}, {"ZWG", 2}, {"XCG", 2}, {"VED", 2}, {"XAD", 2}, {"BHD", 3},
                 {"KWD", 3}, {"JOD", 3}, {"OMR", 3}, {"TND", 3}, {"LYD", 3}, {"IQD", 3},
                 {"CLF", 4}, {"UYW", 4}, {"AED", 2}, {"ZMW", 2}};

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int e = -1;

        CHECK_INT(ps_currency_lookup(cases[i].code, &e), PS_OK);
        CHECK_INT(e, cases[i].exponent);
    }
}

/* Every three-letter code: exactly the table's entries are accepted. */
static void test_currency_all_codes(void)
{
    size_t count, accepted = 0;
    char code[4] = {0};

    ps_currency_table(&count);
    for (char a = 'A'; a <= 'Z'; a++)
        for (char b = 'A'; b <= 'Z'; b++)
            for (char c = 'A'; c <= 'Z'; c++) {
                int e = -1;

                code[0] = a;
                code[1] = b;
                code[2] = c;
                if (ps_currency_lookup(code, &e) == PS_OK)
                    accepted++;
            }
    CHECK_INT(accepted, count);
}

/* Malformed, unknown, withdrawn and no-minor-unit codes, each with its reason. */
static void test_currency_rejects(void)
{
    static const struct {
        const char *code;
        const char *message;
    } cases[] = {
        {"XAU", "unknown currency code \"XAU\": ISO 4217 gives it no minor unit"},
        {"XDR", "no minor unit"},
        {"XTS", "testing"},
        {"XXX", "no currency"},
        {"HRK", "withdrawn from ISO 4217 (replaced by EUR)"},
        {"BGN", "withdrawn"},
        {"SLL", "replaced by SLE"},
        {"ZWL", "replaced by ZWG"},
        {"ANG", "replaced by XCG"},
        {"CUC", "withdrawn"},
        {"AAA", "unknown currency code \"AAA\""},
        {"ZZZ", "unknown currency code \"ZZZ\""},
        {"cny", "invalid currency code \"cny\": expected three upper-case ASCII letters"},
        {"CN", "invalid currency code \"CN\""},
        {"CNYY", "invalid currency code \"CNYY\""},
        {"", "invalid currency code \"\""},
        {"C1Y", "invalid currency code"},
        {" CNY", "invalid currency code"},
        {"CNY ", "invalid currency code"},
        {"\xC3\x89UR", "invalid currency code \"\\xC3\\x89UR\""},
        {"C\nY", "\"C\\x0AY\""},
    };
    char e[PS_ERRSTR_SIZE];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int exp = 77;

        CHECK_INT(ps_currency_lookup(cases[i].code, &exp), PS_ERR_INVALID);
        CHECK_INT(ps_currency_validate(cases[i].code, &exp, e, sizeof(e)), PS_ERR_INVALID);
        CHECK_CONTAINS(e, cases[i].message);
        CHECK_INT(exp, 77); /* untouched on failure */
    }
}

/* The brief's examples and every exponent class parse exactly. */
static void test_parse_valid(void)
{
    static const struct {
        const char *text, *currency;
        int64_t minor;
    } cases[] = {
        {"0.01", "CNY", 1},        {"100", "CNY", 10000},     {"100.5", "CNY", 10050},
        {"100.50", "CNY", 10050},  {"0", "CNY", 0},           {"0.00", "CNY", 0},
        {"0.0", "CNY", 0},         {"0.5", "CNY", 50},        {"6.48", "CNY", 648},
        {"10", "CNY", 1000},       {"120", "JPY", 120},       {"0", "JPY", 0},
        {"1000000", "KRW", 1000000}, {"1.234", "BHD", 1234}, {"1.2", "BHD", 1200},
        {"0.001", "KWD", 1},       {"1.2345", "CLF", 12345},  {"0.0001", "UYW", 1},
        {"7", "CLF", 70000},       {"1.10", "USD", 110},      {"99.99", "EUR", 9999},
    };
    char e[PS_ERRSTR_SIZE];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t v = -12345;

        e[0] = '\0';
        CHECK_INT(parse(cases[i].text, cases[i].currency, &v, e, sizeof(e)), PS_OK);
        CHECK_STR(e, "");
        CHECK_INT(v, cases[i].minor);
    }
}

/* One case of a rejected input: bytes, currency, error code, message part. */
typedef struct reject_case {
    const char *text;
    size_t len; /* 0: strlen(text) */
    const char *currency;
    ps_err_t err;
    const char *message;
} reject_case_t;

static void check_rejects(const reject_case_t *cases, size_t n, bool is_signed)
{
    char e[PS_ERRSTR_SIZE];

    for (size_t i = 0; i < n; i++) {
        int64_t v = 4242;
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].text);
        ps_err_t err = is_signed ? ps_money_parse_decimal_signed(cases[i].text, len,
                                                                 cases[i].currency, &v, e,
                                                                 sizeof(e))
                                 : ps_money_parse_decimal(cases[i].text, len,
                                                          cases[i].currency, &v, e, sizeof(e));

        if (err != cases[i].err)
            fprintf(stderr, "case %zu (\"%s\"): %s\n", i, cases[i].text, e);
        CHECK_INT(err, cases[i].err);
        CHECK_CONTAINS(e, cases[i].message);
        CHECK_INT(v, 4242); /* never written on failure */
    }
}

/* Every rejected class, with a message that names the problem. */
static void test_parse_rejects(void)
{
    static const reject_case_t cases[] = {
        {"", 0, "CNY", PS_ERR_INVALID, "invalid amount: empty"},
        {" 1", 0, "CNY", PS_ERR_INVALID, "invalid amount \" 1\": whitespace at offset 0"},
        {"1 ", 0, "CNY", PS_ERR_INVALID, "whitespace at offset 1"},
        {"\t1", 0, "CNY", PS_ERR_INVALID, "\"\\x091\": whitespace at offset 0"},
        {"1\n", 0, "CNY", PS_ERR_INVALID, "whitespace at offset 1"},
        {"1 000", 0, "CNY", PS_ERR_INVALID, "whitespace at offset 1"},
        {"-1", 0, "CNY", PS_ERR_INVALID, "sign '-' at offset 0 is not allowed"},
        {"+1", 0, "CNY", PS_ERR_INVALID, "sign '+' at offset 0 is not allowed"},
        {"-0", 0, "CNY", PS_ERR_INVALID, "sign '-'"},
        {"-0.00", 0, "CNY", PS_ERR_INVALID, "sign '-'"},
        {"1-", 0, "CNY", PS_ERR_INVALID, "sign '-' at offset 1"},
        {"1e3", 0, "CNY", PS_ERR_INVALID, "exponent notation is not allowed"},
        {"1E3", 0, "CNY", PS_ERR_INVALID, "exponent notation is not allowed"},
        {"1.5e-2", 0, "CNY", PS_ERR_INVALID, "exponent notation"},
        {"1.234", 0, "CNY", PS_ERR_INVALID, "3 fraction digits but CNY has only 2"},
        {"1.000", 0, "CNY", PS_ERR_INVALID, "3 fraction digits but CNY has only 2"},
        {"1.0", 0, "JPY", PS_ERR_INVALID, "JPY has no minor unit, so no fraction digits"},
        {"120.00", 0, "JPY", PS_ERR_INVALID, "JPY has no minor unit"},
        {"1.2345", 0, "BHD", PS_ERR_INVALID, "4 fraction digits but BHD has only 3"},
        {"1.23456", 0, "CLF", PS_ERR_INVALID, "5 fraction digits but CLF has only 4"},
        {"1.", 0, "CNY", PS_ERR_INVALID, "no digits after the decimal point"},
        {"1.", 0, "JPY", PS_ERR_INVALID, "no digits after the decimal point"},
        {".5", 0, "CNY", PS_ERR_INVALID, "no digits before the decimal point"},
        {".", 0, "CNY", PS_ERR_INVALID, "no digits before the decimal point"},
        {"01.5", 0, "CNY", PS_ERR_INVALID, "\"01.5\": leading zero"},
        {"00", 0, "CNY", PS_ERR_INVALID, "leading zero"},
        {"007", 0, "JPY", PS_ERR_INVALID, "leading zero"},
        {"00.5", 0, "CNY", PS_ERR_INVALID, "leading zero"},
        {"1,000", 0, "CNY", PS_ERR_INVALID, "thousands separator ',' is not allowed"},
        {"1_000", 0, "CNY", PS_ERR_INVALID, "thousands separator '_'"},
        {"1'000", 0, "CNY", PS_ERR_INVALID, "thousands separator '''"},
        {"1.2.3", 0, "CNY", PS_ERR_INVALID, "more than one decimal point"},
        {"1..2", 0, "CNY", PS_ERR_INVALID, "more than one decimal point"},
        {"\xEF\xBC\x91", 0, "CNY", PS_ERR_INVALID, "non-ASCII byte 0xEF at offset 0"},
        {"1\xD9\xA1", 0, "CNY", PS_ERR_INVALID, "non-ASCII byte 0xD9 at offset 1"},
        {"1\0" "2", 3, "CNY", PS_ERR_INVALID, "\"1\\x002\": NUL byte at offset 1"},
        {"\0", 1, "CNY", PS_ERR_INVALID, "NUL byte at offset 0"},
        {"abc", 0, "CNY", PS_ERR_INVALID, "unexpected character 'a' at offset 0"},
        {"0x10", 0, "CNY", PS_ERR_INVALID, "unexpected character 'x' at offset 1"},
        {"NaN", 0, "CNY", PS_ERR_INVALID, "unexpected character 'N'"},
        {"inf", 0, "CNY", PS_ERR_INVALID, "unexpected character 'i'"},
        {"\x01", 0, "CNY", PS_ERR_INVALID, "control byte 0x01 at offset 0"},
        {"1\x7f", 0, "CNY", PS_ERR_INVALID, "control byte 0x7F at offset 1"},
        {"\"\\", 0, "CNY", PS_ERR_INVALID, "invalid amount \"\\\"\\\\\""},
        {"1", 0, "XAU", PS_ERR_INVALID, "could not parse amount: unknown currency code \"XAU\""},
        {"1", 0, "cny", PS_ERR_INVALID, "could not parse amount: invalid currency code"},
        {"123456789012345678901234567890123", 0, "CNY", PS_ERR_TOO_LARGE,
         "33 bytes is longer than the limit of 32"},
    };

    check_rejects(cases, sizeof(cases) / sizeof(cases[0]), false);
}

/* INT64_MAX minor units exactly parse; one more is an exact overflow error. */
static void test_parse_bounds(void)
{
    static const struct {
        const char *text, *currency;
        int64_t minor;
    } ok[] = {
        {"9223372036854775807", "JPY", INT64_MAX},
        {"92233720368547758.07", "CNY", INT64_MAX},
        {"92233720368547758", "CNY", INT64_MAX - 7},
        {"9223372036854775.807", "BHD", INT64_MAX},
        {"922337203685477.5807", "CLF", INT64_MAX},
    };
    static const reject_case_t over[] = {
        {"9223372036854775808", 0, "JPY", PS_ERR_TOO_LARGE,
         "out of range, the limit is 9223372036854775807 JPY"},
        {"18446744073709551615", 0, "JPY", PS_ERR_TOO_LARGE, "out of range"},
        {"18446744073709551616", 0, "JPY", PS_ERR_TOO_LARGE, "out of range"},
        {"99999999999999999999", 0, "JPY", PS_ERR_TOO_LARGE, "out of range"},
        {"92233720368547758.08", 0, "CNY", PS_ERR_TOO_LARGE,
         "the limit is 92233720368547758.07 CNY"},
        {"92233720368547758.1", 0, "CNY", PS_ERR_TOO_LARGE, "out of range"},
        {"92233720368547759", 0, "CNY", PS_ERR_TOO_LARGE, "out of range"},
        {"184467440737095517", 0, "CNY", PS_ERR_TOO_LARGE, "out of range"},
        {"9223372036854775.808", 0, "BHD", PS_ERR_TOO_LARGE, "out of range"},
        {"922337203685477.5808", 0, "CLF", PS_ERR_TOO_LARGE, "922337203685477.5807 CLF"},
        {"9999999999999999999999999999999", 0, "CNY", PS_ERR_TOO_LARGE, "out of range"},
    };
    char e[PS_ERRSTR_SIZE];

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        int64_t v = 0;

        CHECK_INT(parse(ok[i].text, ok[i].currency, &v, e, sizeof(e)), PS_OK);
        CHECK_INT(v, ok[i].minor);
    }
    check_rejects(over, sizeof(over) / sizeof(over[0]), false);
    check_rejects(over, sizeof(over) / sizeof(over[0]), true);
}

/* The signed variant: '-' once at the front, never "-0", INT64_MIN exactly. */
static void test_parse_signed(void)
{
    static const struct {
        const char *text, *currency;
        int64_t minor;
    } ok[] = {
        {"-6.48", "CNY", -648},
        {"6.48", "CNY", 648},
        {"0", "CNY", 0},
        {"-0.01", "CNY", -1},
        {"-120", "JPY", -120},
        {"-9223372036854775808", "JPY", INT64_MIN},
        {"-92233720368547758.08", "CNY", INT64_MIN},
        {"-922337203685477.5808", "CLF", INT64_MIN},
    };
    static const reject_case_t bad[] = {
        {"-0", 0, "CNY", PS_ERR_INVALID, "invalid amount \"-0\": negative zero"},
        {"-0.00", 0, "CNY", PS_ERR_INVALID, "negative zero"},
        {"-0.0", 0, "CNY", PS_ERR_INVALID, "negative zero"},
        {"-", 0, "CNY", PS_ERR_INVALID, "invalid amount \"-\": no digits"},
        {"--1", 0, "CNY", PS_ERR_INVALID, "sign '-' at offset 1"},
        {"+1", 0, "CNY", PS_ERR_INVALID, "sign '+' at offset 0"},
        {"1-", 0, "CNY", PS_ERR_INVALID, "sign '-' at offset 1"},
        {"-.5", 0, "CNY", PS_ERR_INVALID, "no digits before the decimal point"},
        {"- 1", 0, "CNY", PS_ERR_INVALID, "whitespace at offset 1"},
        {"-01", 0, "CNY", PS_ERR_INVALID, "leading zero"},
        {"-1.234", 0, "CNY", PS_ERR_INVALID, "3 fraction digits"},
        {"-9223372036854775809", 0, "JPY", PS_ERR_TOO_LARGE,
         "the limit is -9223372036854775808 JPY"},
        {"-92233720368547758.09", 0, "CNY", PS_ERR_TOO_LARGE, "out of range"},
        {"", 0, "CNY", PS_ERR_INVALID, "empty"},
    };
    char e[PS_ERRSTR_SIZE];

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        int64_t v = 0;

        CHECK_INT(ps_money_parse_decimal_signed(ok[i].text, strlen(ok[i].text),
                                                ok[i].currency, &v, e, sizeof(e)),
                  PS_OK);
        CHECK_INT(v, ok[i].minor);
    }
    check_rejects(bad, sizeof(bad) / sizeof(bad[0]), true);
}

/* Only len bytes are read: no NUL terminator needed, trailing bytes ignored. */
static void test_parse_length_bounded(void)
{
    char e[PS_ERRSTR_SIZE], *big;
    const char exact[4] = {'6', '.', '4', '8'}; /* no NUL */
    int64_t v = 0;
    size_t big_len = 1024 * 1024;

    CHECK_INT(ps_money_parse_decimal(exact, sizeof(exact), "CNY", &v, e, sizeof(e)), PS_OK);
    CHECK_INT(v, 648);
    CHECK_INT(ps_money_parse_decimal("12345", 3, "JPY", &v, e, sizeof(e)), PS_OK);
    CHECK_INT(v, 123);
    CHECK_INT(ps_money_parse_decimal(NULL, 0, "JPY", &v, e, sizeof(e)), PS_ERR_INVALID);
    CHECK_CONTAINS(e, "empty");
    /* A hostile megabyte is refused by length, and the message is cut short. */
    big = ps_malloc(big_len);
    memset(big, '9', big_len);
    CHECK_INT(ps_money_parse_decimal(big, big_len, "CNY", &v, e, sizeof(e)), PS_ERR_TOO_LARGE);
    CHECK_CONTAINS(e, "9999...\": 1048576 bytes is longer than the limit of 32");
    CHECK(strlen(e) < 200);
    ps_free(big);
    /* The longest representable amount fits the bound with room to spare. */
    CHECK(strlen("-922337203685477.5808") <= PS_MONEY_DECIMAL_BYTES_MAX);
}

/* Tiny or absent error buffers never overflow and never change the result. */
static void test_parse_errstr_buffers(void)
{
    char tiny[8];
    int64_t v = 0;

    CHECK_INT(ps_money_parse_decimal("1.234", 5, "CNY", &v, tiny, sizeof(tiny)),
              PS_ERR_INVALID);
    CHECK_STR(tiny, "invalid");
    CHECK_INT(ps_money_parse_decimal("1.234", 5, "CNY", &v, NULL, 0), PS_ERR_INVALID);
    CHECK_INT(ps_money_parse_decimal("1", 1, "XXX", &v, tiny, sizeof(tiny)), PS_ERR_INVALID);
    CHECK_INT(ps_money_parse_decimal("1", 1, "XXX", &v, NULL, 0), PS_ERR_INVALID);
    CHECK_INT(ps_money_parse_decimal("1.23", 4, "CNY", &v, NULL, 0), PS_OK);
    CHECK_INT(v, 123);
}

/* Apple milliunits: exact scaling per exponent, fractions and overflow refused. */
static void test_milliunits(void)
{
    static const struct {
        int64_t milli;
        const char *currency;
        int64_t minor;
    } ok[] = {
        {6480, "CNY", 648},
        {990, "USD", 99},
        {0, "CNY", 0},
        {120000, "JPY", 120},
        {1000, "KRW", 1},
        {6480, "BHD", 6480},
        {1, "KWD", 1},
        {6480, "CLF", 64800},
        {INT64_MAX / 10, "CLF", INT64_MAX / 10 * 10}, /* largest that fits exponent 4 */
        {INT64_MAX, "BHD", INT64_MAX},                /* exponent 3: milli == minor */
        {INT64_MAX - 7, "CNY", (INT64_MAX - 7) / 10},
        {INT64_MAX - 807, "JPY", INT64_MAX / 1000},
    };
    static const struct {
        int64_t milli;
        const char *currency;
        ps_err_t err;
        const char *message;
    } bad[] = {
        {6485, "CNY", PS_ERR_INVALID,
         "invalid amount 6485 milliunits of CNY: not a whole number of minor units (CNY has 2 "
         "decimal places)"},
        {1, "USD", PS_ERR_INVALID, "not a whole number"},
        {120500, "JPY", PS_ERR_INVALID, "JPY has 0 decimal places"},
        {999, "JPY", PS_ERR_INVALID, "not a whole number"},
        {INT64_MAX, "CNY", PS_ERR_INVALID, "not a whole number"},
        {-1, "CNY", PS_ERR_INVALID, "invalid amount -1 milliunits of CNY: negative"},
        {INT64_MIN, "BHD", PS_ERR_INVALID, "negative"},
        {INT64_MAX / 10 + 1, "CLF", PS_ERR_TOO_LARGE, "out of range in minor units"},
        {INT64_MAX, "UYW", PS_ERR_TOO_LARGE, "out of range"},
        {100, "XAU", PS_ERR_INVALID, "could not convert milliunits: unknown currency code"},
    };
    char e[PS_ERRSTR_SIZE];

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        int64_t v = -1;

        CHECK_INT(ps_money_from_milliunits(ok[i].milli, ok[i].currency, &v, e, sizeof(e)),
                  PS_OK);
        CHECK_INT(v, ok[i].minor);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t v = 31337;

        CHECK_INT(ps_money_from_milliunits(bad[i].milli, bad[i].currency, &v, e, sizeof(e)),
                  bad[i].err);
        CHECK_CONTAINS(e, bad[i].message);
        CHECK_INT(v, 31337);
    }
}

/* Exact text for every exponent class and both int64 extremes. */
static void test_format(void)
{
    static const struct {
        int64_t minor;
        const char *currency, *text;
    } cases[] = {
        {648, "CNY", "6.48"},    {-5, "CNY", "-0.05"},     {120, "JPY", "120"},
        {0, "CNY", "0.00"},      {0, "JPY", "0"},          {-1, "JPY", "-1"},
        {1, "BHD", "0.001"},     {1000, "BHD", "1.000"},   {12345, "CLF", "1.2345"},
        {1, "UYW", "0.0001"},    {10050, "CNY", "100.50"}, {-100, "USD", "-1.00"},
        {INT64_MAX, "CNY", "92233720368547758.07"},
        {INT64_MIN, "CNY", "-92233720368547758.08"},
        {INT64_MAX, "JPY", "9223372036854775807"},
        {INT64_MIN, "JPY", "-9223372036854775808"},
        {INT64_MIN, "CLF", "-922337203685477.5808"},
        {INT64_MIN, "BHD", "-9223372036854775.808"},
    };
    char out[PS_MONEY_DECIMAL_BYTES_MAX];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CHECK_INT(ps_money_format(cases[i].minor, cases[i].currency, out, sizeof(out)), PS_OK);
        CHECK_STR(out, cases[i].text);
    }
}

/* Too-small buffers and bad currencies fail without writing past the end. */
static void test_format_errors(void)
{
    char out[8];

    memset(out, 'x', sizeof(out));
    CHECK_INT(ps_money_format(648, "CNY", out, 4), PS_ERR_TOO_LARGE);
    CHECK_STR(out, "");
    CHECK_INT(out[4], 'x');
    CHECK_INT(ps_money_format(648, "CNY", out, 5), PS_OK);
    CHECK_STR(out, "6.48");
    CHECK_INT(ps_money_format(648, "CNY", NULL, 0), PS_ERR_TOO_LARGE);
    CHECK_INT(ps_money_format(648, "XAU", out, sizeof(out)), PS_ERR_INVALID);
    CHECK_STR(out, "");
    CHECK_INT(ps_money_format(648, "cny", out, sizeof(out)), PS_ERR_INVALID);
}

/* Independent formatting by division, to cross-check ps_money_format. */
static void reference_format(uint64_t v, int exponent, char *out, size_t size)
{
    static const uint64_t pow10[] = {1, 10, 100, 1000, 10000};

    if (exponent == 0)
        snprintf(out, size, "%" PRIu64, v);
    else
        snprintf(out, size, "%" PRIu64 ".%0*" PRIu64, v / pow10[exponent], exponent,
                 v % pow10[exponent]);
}

/* A random magnitude of random bit width, so small and huge values both occur. */
static int64_t random_amount(void)
{
    int bits = (int)(lcg_next() % 64);

    return (int64_t)(lcg_next() & ((UINT64_C(1) << bits) - 1));
}

/* format -> parse is the identity for many values in every exponent class. */
static void test_round_trip(void)
{
    static const char *const currencies[] = {"JPY", "CNY", "BHD", "CLF"};
    char out[PS_MONEY_DECIMAL_BYTES_MAX], ref[64], e[PS_ERRSTR_SIZE];
    int failures = 0;

    for (size_t c = 0; c < 4; c++) {
        int exponent = -1;

        REQUIRE(ps_currency_lookup(currencies[c], &exponent) == PS_OK);
        for (int i = 0; i < 20000 && failures < 10; i++) {
            int64_t v = i < 10001 ? i : random_amount(), back = -1, neg_back = 0;

            if (i == 10001)
                v = INT64_MAX;
            if (ps_money_format(v, currencies[c], out, sizeof(out)) != PS_OK ||
                ps_money_parse_decimal(out, strlen(out), currencies[c], &back, e, sizeof(e)) !=
                    PS_OK ||
                back != v) {
                fprintf(stderr, "round trip %s %" PRId64 " -> \"%s\" -> %" PRId64 "\n",
                        currencies[c], v, out, back);
                failures++;
            }
            reference_format((uint64_t)v, exponent, ref, sizeof(ref));
            if (strcmp(out, ref) != 0)
                failures++;
            /* Negative values round-trip through the signed parser. */
            if (v > 0 && (ps_money_format(-v, currencies[c], out, sizeof(out)) != PS_OK ||
                          out[0] != '-' || strcmp(out + 1, ref) != 0 ||
                          ps_money_parse_decimal_signed(out, strlen(out), currencies[c],
                                                        &neg_back, e, sizeof(e)) != PS_OK ||
                          neg_back != -v))
                failures++;
        }
    }
    CHECK_INT(failures, 0);
}

/*
 * Reference acceptor written independently of money.c: the grammar, the
 * fraction limit and the int64 bound by string comparison of the digits.
 */
static bool reference_accepts(const char *s, size_t len, int exponent)
{
    char digits[64];
    size_t i = 0, n = 0, int_digits = 0, frac = 0;
    const char *max = "9223372036854775807";

    if (len == 0 || len > PS_MONEY_DECIMAL_BYTES_MAX)
        return false;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        digits[n++] = s[i++], int_digits++;
    if (int_digits == 0 || (int_digits > 1 && s[0] == '0'))
        return false;
    if (i < len) {
        if (s[i++] != '.' || i == len)
            return false;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            digits[n++] = s[i++], frac++;
        if (i != len || frac == 0)
            return false;
    }
    if (frac > (size_t)exponent)
        return false;
    while (frac++ < (size_t)exponent)
        digits[n++] = '0';
    digits[n] = '\0';
    i = 0;
    while (digits[i] == '0' && digits[i + 1] != '\0')
        i++;
    n -= i;
    return n < 19 || (n == 19 && strcmp(digits + i, max) <= 0);
}

/* Random bytes biased to amount-like text: no crash, and exact agreement. */
static void test_garbage(void)
{
    static const char alphabet[] = "0123456789012345678901234567890123456789.."
                                   ".-+e, \t\0\x80\xff";
    static const char *const currencies[] = {"JPY", "CNY", "BHD", "CLF"};
    char text[40], out[PS_MONEY_DECIMAL_BYTES_MAX], e[PS_ERRSTR_SIZE];
    int disagreements = 0, accepted = 0;

    for (int i = 0; i < 200000; i++) {
        size_t len = (size_t)(lcg_next() % sizeof(text));
        const char *cur = currencies[i % 4];
        int exponent = -1;
        int64_t v = 0, back = 0;
        ps_err_t err;

        for (size_t k = 0; k < len; k++)
            text[k] = alphabet[lcg_next() % (sizeof(alphabet) - 1)];
        ps_currency_lookup(cur, &exponent);
        e[0] = '\0';
        err = ps_money_parse_decimal(text, len, cur, &v, e, sizeof(e));
        if ((err == PS_OK) != reference_accepts(text, len, exponent))
            disagreements++;
        if (err != PS_OK && e[0] == '\0')
            disagreements++; /* every failure explains itself */
        if (err == PS_OK) {
            accepted++;
            ps_money_format(v, cur, out, sizeof(out));
            if (ps_money_parse_decimal(out, strlen(out), cur, &back, e, sizeof(e)) != PS_OK ||
                back != v)
                disagreements++;
        }
    }
    CHECK_INT(disagreements, 0);
    CHECK(accepted > 1000); /* the bias must make the test exercise success too */
}

/* Checked add and sub: exact at the edges, an error one step past them. */
static void test_add_sub(void)
{
    int64_t r = 99;

    CHECK_INT(ps_money_add(648, 352, &r), PS_OK);
    CHECK_INT(r, 1000);
    CHECK_INT(ps_money_add(INT64_MAX - 1, 1, &r), PS_OK);
    CHECK_INT(r, INT64_MAX);
    r = 99;
    CHECK_INT(ps_money_add(INT64_MAX, 1, &r), PS_ERR_TOO_LARGE);
    CHECK_INT(ps_money_add(INT64_MIN, -1, &r), PS_ERR_TOO_LARGE);
    CHECK_INT(ps_money_add(INT64_MAX, INT64_MAX, &r), PS_ERR_TOO_LARGE);
    CHECK_INT(r, 99);
    CHECK_INT(ps_money_add(INT64_MIN, INT64_MAX, &r), PS_OK);
    CHECK_INT(r, -1);
    CHECK_INT(ps_money_sub(1000, 352, &r), PS_OK);
    CHECK_INT(r, 648);
    CHECK_INT(ps_money_sub(-1, INT64_MAX, &r), PS_OK);
    CHECK_INT(r, INT64_MIN);
    r = 99;
    CHECK_INT(ps_money_sub(INT64_MIN, 1, &r), PS_ERR_TOO_LARGE);
    CHECK_INT(ps_money_sub(0, INT64_MIN, &r), PS_ERR_TOO_LARGE);
    CHECK_INT(ps_money_sub(INT64_MAX, -1, &r), PS_ERR_TOO_LARGE);
    CHECK_INT(r, 99);
}

int main(void)
{
    RUN(test_currency_table);
    RUN(test_currency_exponents);
    RUN(test_currency_all_codes);
    RUN(test_currency_rejects);
    RUN(test_parse_valid);
    RUN(test_parse_rejects);
    RUN(test_parse_bounds);
    RUN(test_parse_signed);
    RUN(test_parse_length_bounded);
    RUN(test_parse_errstr_buffers);
    RUN(test_milliunits);
    RUN(test_format);
    RUN(test_format_errors);
    RUN(test_round_trip);
    RUN(test_garbage);
    RUN(test_add_sub);
    return test_summary();
}
