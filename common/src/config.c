/*
 * Table-driven configuration (see paystream/config.h): defaults from the
 * service's table, then a postgresql.conf-style file, then PAYSTREAM_*
 * environment variables, each assignment validated against the table as it is
 * made so that an error names the exact line or variable that caused it.
 *
 * Everything read from outside is bounded (limits.h): the file by
 * PS_CONFIG_FILE_BYTES_MAX, a line or an environment value by
 * PS_CONFIG_LINE_BYTES_MAX, the number of keys by PS_CONFIG_KEYS_MAX, a secret
 * file by PS_CONFIG_SECRET_FILE_BYTES_MAX. Text must be UTF-8 without control
 * characters, so that whatever we accept can be printed back safely.
 *
 * The syntax and value checks are in config_syntax.c, the dump and the
 * Markdown reference in config_doc.c; config_int.h is their shared interior.
 */
#include "config_int.h"

#include <paystream/assert.h>
#include <paystream/config.h>
#include <paystream/limits.h>
#include <paystream/mem.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

extern char **environ;

static char *fmt_dup(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *fmt_dup(const char *fmt, ...)
{
    va_list ap;
    char *s;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    PS_ASSERT(n >= 0);
    s = ps_malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* Index of the non-pass-through key named name, or -1. */
static long find_key(const ps_config_key_t *table, size_t key_count, const char *name)
{
    for (size_t i = 0; i < key_count; i++)
        if (table[i].type != PS_CONF_PASSTHROUGH && strcmp(table[i].name, name) == 0)
            return (long)i;
    return -1;
}

/* Index of the pass-through key whose prefix starts name, or -1. */
static long find_prefix(const ps_config_key_t *table, size_t key_count, const char *name)
{
    for (size_t i = 0; i < key_count; i++)
        if (table[i].type == PS_CONF_PASSTHROUGH &&
            strncmp(table[i].name, name, strlen(table[i].name)) == 0)
            return (long)i;
    return -1;
}

static ps_err_t set_value(ps_config_t *cfg, size_t idx, const char *text, const char *source,
                          char *errstr, size_t errstr_size)
{
    ps__config_value_t *v = &cfg->values[idx];
    int64_t i = 0;
    bool b = false;
    ps_err_t err;

    err = ps__config_check_value(&cfg->table[idx], text, source, &i, &b, errstr, errstr_size);
    if (err != PS_OK)
        return err;
    ps_free(v->text);
    ps_free(v->source);
    v->text = ps_strdup(text);
    v->source = ps_strdup(source);
    v->int_value = i;
    v->bool_value = b;
    return PS_OK;
}

static ps_err_t set_extra(ps_config_t *cfg, size_t prefix_index, const char *name,
                          const char *text, const char *source, char *errstr, size_t errstr_size)
{
    const char *prefix = cfg->table[prefix_index].name;
    ps__config_extra_t *x;

    if (strlen(name) == strlen(prefix))
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                             "%s: key \"%s\" names no property after the prefix", source, name);
    for (size_t i = 0; i < cfg->extra_count; i++) {
        x = &cfg->extras[i];
        if (strcmp(x->name, name) == 0) {
            explicit_bzero(x->text, strlen(x->text));
            ps_free(x->text);
            ps_free(x->source);
            x->text = ps_strdup(text);
            x->source = ps_strdup(source);
            return PS_OK;
        }
    }
    if (cfg->key_count + cfg->extra_count >= PS_CONFIG_KEYS_MAX)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                             "%s: too many keys: at most %d (PS_CONFIG_KEYS_MAX) may be set",
                             source, PS_CONFIG_KEYS_MAX);
    if (cfg->extras == NULL)
        cfg->extras = ps_calloc(PS_CONFIG_KEYS_MAX, sizeof(ps__config_extra_t));
    x = &cfg->extras[cfg->extra_count++];
    x->prefix_index = prefix_index;
    x->name = ps_strdup(name);
    x->text = ps_strdup(text);
    x->source = ps_strdup(source);
    return PS_OK;
}

/* Routes one `name = text` assignment to its table key or pass-through prefix. */
static ps_err_t assign(ps_config_t *cfg, const char *name, const char *text, const char *source,
                       char *errstr, size_t errstr_size)
{
    long idx = find_key(cfg->table, cfg->key_count, name);

    if (idx >= 0)
        return set_value(cfg, (size_t)idx, text, source, errstr, errstr_size);
    idx = find_prefix(cfg->table, cfg->key_count, name);
    if (idx >= 0)
        return set_extra(cfg, (size_t)idx, name, text, source, errstr, errstr_size);
    return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG, "%s: unknown key \"%s\"", source,
                         name);
}

/*
 * Reads a whole file of at most max bytes into an owned, NUL-terminated
 * buffer of max + 1 bytes. PS_ERR_IO sets *errno_out; PS_ERR_TOO_LARGE when
 * the file is longer than max. Partial reads are wiped: the file may be a secret.
 */
static ps_err_t read_bounded(const char *path, size_t max, uint8_t **data_out, size_t *len_out,
                             int *errno_out)
{
    uint8_t *data = ps_malloc(max + 1);
    size_t len = 0, n;
    ps_err_t err = PS_OK;
    FILE *f;

    f = fopen(path, "rb");
    if (f == NULL) {
        *errno_out = errno;
        err = PS_ERR_IO;
        goto out;
    }
    /* Asking for one byte past the bound tells "exactly max" from "too large". */
    while (len <= max && (n = fread(data + len, 1, max + 1 - len, f)) > 0)
        len += n;
    if (ferror(f)) {
        *errno_out = errno;
        err = PS_ERR_IO;
        goto out;
    }
    if (len > max) {
        err = PS_ERR_TOO_LARGE;
        goto out;
    }
    data[len] = '\0';
    *data_out = data;
    data = NULL;
    *len_out = len;
out:
    if (f != NULL)
        fclose(f);
    if (data != NULL) {
        explicit_bzero(data, max + 1);
        ps_free(data);
    }
    return err;
}

static ps_err_t parse_line(ps_config_t *cfg, const char *line, size_t len, const char *source,
                           char *errstr, size_t errstr_size)
{
    char key[PS_CONFIG_LINE_BYTES_MAX + 1], value[PS_CONFIG_LINE_BYTES_MAX + 1];
    ps_err_t err;

    PS_ASSERT(len <= PS_CONFIG_LINE_BYTES_MAX);
    err = ps__config_check_text(line, len, source, errstr, errstr_size);
    if (err == PS_OK)
        err = ps__config_tokenize(line, len, key, value, source, errstr, errstr_size);
    if (err == PS_OK && key[0] != '\0')
        err = assign(cfg, key, value, source, errstr, errstr_size);
    return err;
}

static ps_err_t parse_file(ps_config_t *cfg, const char *path, char *errstr, size_t errstr_size)
{
    uint8_t *data = NULL;
    size_t len = 0, pos = 0, line_len;
    unsigned long line_no;
    char *source = NULL;
    int e = 0;
    ps_err_t err;

    err = read_bounded(path, PS_CONFIG_FILE_BYTES_MAX, &data, &len, &e);
    if (err == PS_ERR_IO)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                             "could not read configuration file \"%s\": %s", path, strerror(e));
    if (err != PS_OK)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                             "configuration file \"%s\" is larger than %d bytes "
                             "(PS_CONFIG_FILE_BYTES_MAX)",
                             path, PS_CONFIG_FILE_BYTES_MAX);
    for (line_no = 1; pos < len && err == PS_OK; line_no++) {
        const char *line = (const char *)data + pos;
        const char *nl = memchr(line, '\n', len - pos);

        line_len = nl != NULL ? (size_t)(nl - line) : len - pos;
        pos += line_len + (nl != NULL);
        if (line_len > 0 && line[line_len - 1] == '\r')
            line_len--; /* CRLF files from other systems */
        source = fmt_dup("%s:%lu", path, line_no);
        if (line_len > PS_CONFIG_LINE_BYTES_MAX)
            err = ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                                "%s: line is longer than %d bytes (PS_CONFIG_LINE_BYTES_MAX)",
                                source, PS_CONFIG_LINE_BYTES_MAX);
        else
            err = parse_line(cfg, line, line_len, source, errstr, errstr_size);
        ps_free(source);
    }
    explicit_bzero(data, len); /* the file may hold pass-through credentials */
    ps_free(data);
    return err;
}

/*
 * Maps a PAYSTREAM_* variable name to a key: a table key's exact variable, or
 * PAYSTREAM_KAFKA_X_Y to "kafka.x.y" under a pass-through prefix. Returns
 * false for a variable that is not configuration (PAYSTREAM_TEST_PG, ...).
 */
static bool env_to_key(const ps_config_t *cfg, const char *var, char *key, size_t key_size)
{
    char want[PS_CONFIG_LINE_BYTES_MAX + sizeof(PS__CONFIG_ENV_PREFIX)];
    size_t plen, i;
    const char *rest;

    for (i = 0; i < cfg->key_count; i++) {
        if (cfg->table[i].type == PS_CONF_PASSTHROUGH)
            continue;
        ps__config_env_name(cfg->table[i].name, want, sizeof(want));
        if (strcmp(var, want) == 0) {
            snprintf(key, key_size, "%s", cfg->table[i].name);
            return true;
        }
    }
    for (i = 0; i < cfg->key_count; i++) {
        if (cfg->table[i].type != PS_CONF_PASSTHROUGH)
            continue;
        ps__config_env_name(cfg->table[i].name, want, sizeof(want)); /* "PAYSTREAM_KAFKA_" */
        plen = strlen(want);
        if (strncmp(var, want, plen) != 0 || var[plen] == '\0' ||
            strlen(cfg->table[i].name) + strlen(var + plen) >= key_size)
            continue;
        /* librdkafka property names use dots and no underscores. */
        key += snprintf(key, key_size, "%s", cfg->table[i].name);
        for (rest = var + plen; *rest != '\0'; rest++)
            *key++ = *rest == '_' ? '.' : *rest >= 'A' && *rest <= 'Z' ? (char)(*rest + 32) : *rest;
        *key = '\0';
        return true;
    }
    return false;
}

static ps_err_t apply_env(ps_config_t *cfg, char *const *envp, char *errstr, size_t errstr_size)
{
    char var[PS_CONFIG_LINE_BYTES_MAX], key[PS_CONFIG_LINE_BYTES_MAX];
    ps_err_t err = PS_OK;
    char *source;

    for (; *envp != NULL && err == PS_OK; envp++) {
        const char *eq = strchr(*envp, '=');
        size_t var_len = eq != NULL ? (size_t)(eq - *envp) : 0;

        if (var_len <= strlen(PS__CONFIG_ENV_PREFIX) || var_len >= sizeof(var) ||
            strncmp(*envp, PS__CONFIG_ENV_PREFIX, strlen(PS__CONFIG_ENV_PREFIX)) != 0)
            continue;
        memcpy(var, *envp, var_len);
        var[var_len] = '\0';
        if (!env_to_key(cfg, var, key, sizeof(key)))
            continue;
        source = fmt_dup("environment variable %s", var);
        if (strlen(eq + 1) > PS_CONFIG_LINE_BYTES_MAX)
            err = ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                                "%s: value is longer than %d bytes (PS_CONFIG_LINE_BYTES_MAX)",
                                source, PS_CONFIG_LINE_BYTES_MAX);
        else
            err = ps__config_check_text(eq + 1, strlen(eq + 1), source, errstr, errstr_size);
        if (err == PS_OK)
            err = assign(cfg, key, eq + 1, source, errstr, errstr_size);
        ps_free(source);
    }
    return err;
}

/* Reads a SECRET_FILE key's file; an empty path is an optional secret left unset. */
static ps_err_t load_secret(ps_config_t *cfg, size_t idx, char *errstr, size_t errstr_size)
{
    ps__config_value_t *v = &cfg->values[idx];
    const char *name = cfg->table[idx].name;
    uint8_t *data = NULL;
    size_t len = 0;
    ps_err_t err;
    int e = 0;

    if (v->text[0] == '\0')
        return PS_OK;
    err = read_bounded(v->text, PS_CONFIG_SECRET_FILE_BYTES_MAX, &data, &len, &e);
    if (err == PS_ERR_IO)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                             "could not read secret file \"%s\" for key \"%s\" (set by %s): %s",
                             v->text, name, v->source, strerror(e));
    if (err != PS_OK)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                             "secret file \"%s\" for key \"%s\" is larger than %d bytes "
                             "(PS_CONFIG_SECRET_FILE_BYTES_MAX)",
                             v->text, name, PS_CONFIG_SECRET_FILE_BYTES_MAX);
    /* Files written by `echo` end in a line break that is not part of the secret. */
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        len--;
    if (len == 0)
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                            "secret file \"%s\" for key \"%s\" is empty", v->text, name);
    else {
        v->secret = ps_malloc(len + 1);
        memcpy(v->secret, data, len);
        v->secret[len] = '\0';
        v->secret_len = len;
    }
    explicit_bzero(data, PS_CONFIG_SECRET_FILE_BYTES_MAX + 1);
    ps_free(data);
    return err;
}

/* Applies defaults, then checks required keys once every source has been read. */
static ps_err_t apply_defaults(ps_config_t *cfg, char *errstr, size_t errstr_size)
{
    ps_err_t err = PS_OK;

    for (size_t i = 0; i < cfg->key_count && err == PS_OK; i++) {
        const ps_config_key_t *k = &cfg->table[i];
        if (k->type != PS_CONF_PASSTHROUGH && k->default_value != NULL)
            err = set_value(cfg, i, k->default_value, "default", errstr, errstr_size);
    }
    return err;
}

static ps_err_t finish(ps_config_t *cfg, char *errstr, size_t errstr_size)
{
    char var[PS_CONFIG_LINE_BYTES_MAX];
    ps_err_t err = PS_OK;

    for (size_t i = 0; i < cfg->key_count && err == PS_OK; i++) {
        const ps_config_key_t *k = &cfg->table[i];
        if (k->type == PS_CONF_PASSTHROUGH)
            continue;
        if (cfg->values[i].text == NULL) {
            ps__config_env_name(k->name, var, sizeof(var));
            return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                                 "missing required key \"%s\" (set it in the configuration "
                                 "file or with environment variable %s)",
                                 k->name, var);
        }
        if (k->type == PS_CONF_SECRET_FILE)
            err = load_secret(cfg, i, errstr, errstr_size);
    }
    return err;
}

ps_err_t ps_config_load(const ps_config_key_t *table, size_t key_count, const char *path,
                        char *const *envp, ps_config_t **cfg_out, char *errstr,
                        size_t errstr_size)
{
    ps_config_t *cfg;
    ps_err_t err;

    PS_ASSERT(table != NULL && cfg_out != NULL);
    ps__config_check_table(table, key_count);
    cfg = ps_calloc(1, sizeof(*cfg));
    cfg->table = table;
    cfg->key_count = key_count;
    cfg->values = ps_calloc(key_count, sizeof(ps__config_value_t));
    err = apply_defaults(cfg, errstr, errstr_size);
    if (err == PS_OK && path != NULL)
        err = parse_file(cfg, path, errstr, errstr_size);
    if (err == PS_OK)
        err = apply_env(cfg, envp != NULL ? envp : environ, errstr, errstr_size);
    if (err == PS_OK)
        err = finish(cfg, errstr, errstr_size);
    if (err != PS_OK) {
        ps_config_destroy(cfg);
        return err;
    }
    *cfg_out = cfg;
    return PS_OK;
}

void ps_config_destroy(ps_config_t *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < cfg->key_count; i++) {
        ps__config_value_t *v = &cfg->values[i];
        if (v->secret != NULL)
            explicit_bzero(v->secret, v->secret_len);
        ps_free(v->secret);
        ps_free(v->text);
        ps_free(v->source);
    }
    for (size_t i = 0; i < cfg->extra_count; i++) {
        /* Pass-through values include credentials such as kafka.sasl.password. */
        explicit_bzero(cfg->extras[i].text, strlen(cfg->extras[i].text));
        ps_free(cfg->extras[i].name);
        ps_free(cfg->extras[i].text);
        ps_free(cfg->extras[i].source);
    }
    ps_free(cfg->extras);
    ps_free(cfg->values);
    ps_free(cfg);
}

/* The value of a declared key of the given type (programmer error otherwise). */
static const ps__config_value_t *lookup(const ps_config_t *cfg, const char *key,
                                        ps_config_type_t type)
{
    long idx;

    PS_ASSERT(cfg != NULL && key != NULL);
    idx = find_key(cfg->table, cfg->key_count, key);
    PS_ASSERT(idx >= 0 && cfg->table[idx].type == type);
    return &cfg->values[idx];
}

const char *ps_config_get_str(const ps_config_t *cfg, const char *key)
{
    long idx;

    PS_ASSERT(cfg != NULL && key != NULL);
    idx = find_key(cfg->table, cfg->key_count, key);
    /* ENUM values are words of the table; SECRET_FILE yields its path. */
    PS_ASSERT(idx >= 0 && cfg->table[idx].type != PS_CONF_INT &&
              cfg->table[idx].type != PS_CONF_BOOL);
    return cfg->values[idx].text;
}

int64_t ps_config_get_int(const ps_config_t *cfg, const char *key)
{
    return lookup(cfg, key, PS_CONF_INT)->int_value;
}

bool ps_config_get_bool(const ps_config_t *cfg, const char *key)
{
    return lookup(cfg, key, PS_CONF_BOOL)->bool_value;
}

const uint8_t *ps_config_get_secret(const ps_config_t *cfg, const char *key, size_t *len_out)
{
    const ps__config_value_t *v = lookup(cfg, key, PS_CONF_SECRET_FILE);

    if (len_out != NULL)
        *len_out = v->secret_len;
    return v->secret;
}

ps_err_t ps_config_foreach_prefixed(const ps_config_t *cfg, const char *prefix,
                                    ps_config_foreach_fn fn, void *opaque)
{
    long idx;
    size_t plen;
    ps_err_t err;

    PS_ASSERT(cfg != NULL && prefix != NULL && fn != NULL);
    idx = find_prefix(cfg->table, cfg->key_count, prefix);
    PS_ASSERT(idx >= 0 && strcmp(cfg->table[idx].name, prefix) == 0);
    plen = strlen(prefix);
    for (size_t i = 0; i < cfg->extra_count; i++) {
        if (cfg->extras[i].prefix_index != (size_t)idx)
            continue;
        err = fn(cfg->extras[i].name + plen, cfg->extras[i].text, opaque);
        if (err != PS_OK)
            return err;
    }
    return PS_OK;
}

