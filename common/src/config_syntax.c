/*
 * The text side of the configuration module: which bytes are acceptable
 * text, the line syntax of a configuration file (postgresql.conf style) and
 * the strict parsing of typed values. Nothing here allocates: it works on the
 * caller's buffers so it can be used on untrusted input line by line.
 */
#include "config_int.h"

#include <paystream/assert.h>
#include <paystream/limits.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Longest value quoted back in an error message: enough to recognise it. */
#define QUOTED_VALUE_BYTES_MAX 64

/* Copies text for an error message: cut to a recognisable length, never raw control bytes. */
static const char *quote_safe(const char *text, char *buf, size_t size)
{
    size_t i, n = strlen(text), keep = n < QUOTED_VALUE_BYTES_MAX ? n : QUOTED_VALUE_BYTES_MAX;

    PS_ASSERT(size >= QUOTED_VALUE_BYTES_MAX + 4);
    for (i = 0; i < keep; i++) {
        unsigned char c = (unsigned char)text[i];
        buf[i] = c < 0x20 || c == 0x7f || c == '"' ? '?' : (char)c;
    }
    if (keep < n) {
        memcpy(buf + keep, "...", 3);
        keep += 3;
    }
    buf[keep] = '\0';
    return buf;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    uint32_t cp, min;
    size_t need, i;

    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xe0) == 0xc0) {
        need = 1, cp = s[0] & 0x1fu, min = 0x80;
    } else if ((s[0] & 0xf0) == 0xe0) {
        need = 2, cp = s[0] & 0x0fu, min = 0x800;
    } else if ((s[0] & 0xf8) == 0xf0) {
        need = 3, cp = s[0] & 0x07u, min = 0x10000;
    } else {
        return 0;
    }
    if (n < need + 1)
        return 0;
    for (i = 1; i <= need; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3fu);
    }
    /* Overlong forms, UTF-16 surrogates and code points past U+10FFFF are all invalid. */
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return need + 1;
}

/* Accepts UTF-8 text with no control character but tab. */
ps_err_t ps__config_check_text(const char *s, size_t len, const char *source, char *errstr,
                               size_t errstr_size)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, n;

    while (i < len) {
        if (u[i] == '\0')
            return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG, "%s: contains a NUL byte",
                                 source);
        if ((u[i] < 0x20 && u[i] != '\t') || u[i] == 0x7f)
            return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                                 "%s: contains control character 0x%02x", source, u[i]);
        n = utf8_seq_len(u + i, len - i);
        if (n == 0)
            return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                                 "%s: invalid UTF-8 byte 0x%02x", source, u[i]);
        i += n;
    }
    return PS_OK;
}

/*
 * Strict decimal int64: an optional '-' then digits, nothing else (no sign
 * '+', no blanks, no suffix). Returns 0, or 1 for "not an integer", or 2 when
 * the digits do not fit in 64 bits.
 */
static int parse_int64(const char *s, int64_t *out)
{
    uint64_t acc = 0, limit = INT64_MAX;
    bool neg = s[0] == '-';
    const char *p;

    if (neg) {
        s++;
        limit = (uint64_t)INT64_MAX + 1;
    }
    if (s[0] == '\0')
        return 1;
    for (p = s; *p != '\0'; p++)
        if (*p < '0' || *p > '9')
            return 1;
    for (p = s; *p != '\0'; p++) {
        uint64_t d = (uint64_t)(*p - '0');
        if (acc > (limit - d) / 10)
            return 2;
        acc = acc * 10 + d;
    }
    if (neg)
        *out = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
    else
        *out = (int64_t)acc;
    return 0;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"on", "true", "yes", "1"};
    static const char *const no[] = {"off", "false", "no", "0"};

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(s, yes[i]) == 0 || strcasecmp(s, no[i]) == 0) {
            *out = strcasecmp(s, yes[i]) == 0;
            return 0;
        }
    }
    return 1;
}

static bool enum_has(const char *choices, const char *s)
{
    size_t n = strlen(s);
    const char *p = choices, *bar;

    for (;;) {
        bar = strchr(p, '|');
        size_t word = bar != NULL ? (size_t)(bar - p) : strlen(p);
        if (word == n && strncmp(p, s, n) == 0)
            return true;
        if (bar == NULL)
            return false;
        p = bar + 1;
    }
}

/* Checks text against key's type; on success fills the parsed forms. */
ps_err_t ps__config_check_value(const ps_config_key_t *key, const char *text,
                                const char *source, int64_t *int_out, bool *bool_out,
                                char *errstr, size_t errstr_size)
{
    char q[QUOTED_VALUE_BYTES_MAX + 4];
    int rc;

    switch (key->type) {
    case PS_CONF_INT:
        rc = parse_int64(text, int_out);
        if (rc == 1)
            return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                                 "%s: invalid value \"%s\" for key \"%s\": not an integer",
                                 source, quote_safe(text, q, sizeof(q)), key->name);
        if (rc == 2 || *int_out < key->min || *int_out > key->max)
            return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                                 "%s: value %s for key \"%s\" is out of range [%" PRId64
                                 ", %" PRId64 "]",
                                 source, quote_safe(text, q, sizeof(q)), key->name, key->min,
                                 key->max);
        return PS_OK;
    case PS_CONF_BOOL:
        if (parse_bool(text, bool_out) != 0)
            return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                                 "%s: invalid value \"%s\" for key \"%s\": not a boolean "
                                 "(use on/off, true/false, yes/no or 1/0)",
                                 source, quote_safe(text, q, sizeof(q)), key->name);
        return PS_OK;
    case PS_CONF_ENUM:
        if (!enum_has(key->choices, text))
            return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                                 "%s: invalid value \"%s\" for key \"%s\": not one of %s", source,
                                 quote_safe(text, q, sizeof(q)), key->name, key->choices);
        return PS_OK;
    case PS_CONF_STRING:
    case PS_CONF_SECRET_FILE:
        return PS_OK;
    case PS_CONF_PASSTHROUGH:
        break;
    }
    PS_ASSERT(!"unreachable: pass-through keys hold no value");
    return PS_ERR_CONFIG;
}

/* Writes the environment variable for name: "PAYSTREAM_" + upper case, '.' and '-' as '_'. */
void ps__config_env_name(const char *name, char *buf, size_t size)
{
    size_t n = strlen(PS__CONFIG_ENV_PREFIX), i;

    PS_ASSERT(size > n + strlen(name));
    memcpy(buf, PS__CONFIG_ENV_PREFIX, n);
    for (i = 0; name[i] != '\0'; i++) {
        char c = name[i];
        buf[n + i] = c == '.' || c == '-' ? '_' : c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
    }
    buf[n + i] = '\0';
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
}

/* Reads the value after '=' (s[i..len)) into value, unquoting a quoted value. */
static ps_err_t tokenize_value(const char *s, size_t len, size_t i, char *value,
                               const char *source, char *errstr, size_t errstr_size)
{
    size_t v = 0;

    if (i < len && s[i] == '\'') {
        for (i++;; i++) {
            if (i == len)
                return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                                     "%s: syntax error: unterminated quoted value", source);
            if (s[i] == '\'' && (i + 1 == len || s[i + 1] != '\''))
                break;
            if (s[i] == '\'')
                i++; /* '' stands for one quote */
            value[v++] = s[i];
        }
        for (i++; i < len && is_blank(s[i]); i++)
            ;
        if (i < len && s[i] != '#')
            return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                                 "%s: syntax error: unexpected text after the quoted value",
                                 source);
    } else {
        for (; i < len && s[i] != '#'; i++) {
            if (s[i] == '\'')
                return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                                     "%s: syntax error: quote inside an unquoted value (quote "
                                     "the whole value and double the inner quotes)",
                                     source);
            value[v++] = s[i];
        }
        while (v > 0 && is_blank(value[v - 1]))
            v--;
    }
    value[v] = '\0';
    return PS_OK;
}

/*
 * Splits one line (no newline) into key and value, both buffers of at least
 * len + 1 bytes. A blank or comment line leaves key empty.
 */
ps_err_t ps__config_tokenize(const char *s, size_t len, char *key, char *value,
                             const char *source, char *errstr, size_t errstr_size)
{
    size_t i = 0, k = 0;

    while (i < len && is_blank(s[i]))
        i++;
    key[0] = '\0';
    if (i == len || s[i] == '#')
        return PS_OK;
    while (i < len && is_key_char(s[i]))
        key[k++] = s[i++];
    key[k] = '\0';
    if (k == 0)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                             "%s: syntax error: expected a key at the start of the line", source);
    while (i < len && is_blank(s[i]))
        i++;
    if (i == len || s[i] != '=')
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                             "%s: syntax error: expected \"=\" after key \"%s\"", source, key);
    for (i++; i < len && is_blank(s[i]); i++)
        ;
    return tokenize_value(s, len, i, value, source, errstr, errstr_size);
}

/* Programmer errors in a table: caught by every test that loads it. */
void ps__config_check_table(const ps_config_key_t *table, size_t key_count)
{
    char a[PS_CONFIG_LINE_BYTES_MAX], b[PS_CONFIG_LINE_BYTES_MAX];

    PS_ASSERT(key_count <= PS_CONFIG_KEYS_MAX);
    for (size_t i = 0; i < key_count; i++) {
        const ps_config_key_t *k = &table[i];

        PS_ASSERT(k->name != NULL && k->name[0] != '\0' && k->description != NULL);
        PS_ASSERT(strlen(k->name) < PS_CONFIG_LINE_BYTES_MAX / 2);
        PS_ASSERT(k->type != PS_CONF_ENUM || k->choices != NULL);
        PS_ASSERT(k->type != PS_CONF_INT || k->min <= k->max);
        PS_ASSERT(k->type != PS_CONF_PASSTHROUGH ||
                  (k->default_value == NULL && k->name[strlen(k->name) - 1] == '.'));
        ps__config_env_name(k->name, a, sizeof(a));
        for (size_t j = 0; j < i; j++) {
            ps__config_env_name(table[j].name, b, sizeof(b));
            PS_ASSERT(strcmp(a, b) != 0); /* also catches duplicate names */
        }
    }
}
