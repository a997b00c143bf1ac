/*
 * Table-driven configuration: one `key = value` file per service (the syntax
 * of postgresql.conf), each key overridable from the environment.
 *
 * Every service declares one table of ps_config_key_t (key, type, default,
 * bounds, unit, description). From that table come the parser's validation,
 * the environment names, the redacted dump and docs/CONFIGURATION.md, so the
 * code and the documentation cannot drift apart.
 *
 * File syntax: `key = value` per line; `#` starts a comment outside quotes;
 * a value may be single-quoted ('a b', with '' for a quote); blanks around
 * keys and unquoted values are trimmed; blank lines are ignored. A key given
 * twice: the last one wins (like postgresql.conf). The file must be UTF-8
 * without control characters (tab allowed; LF or CRLF line ends) and within
 * PS_CONFIG_FILE_BYTES_MAX, each line within PS_CONFIG_LINE_BYTES_MAX, and at
 * most PS_CONFIG_KEYS_MAX keys (table keys plus pass-through keys) may be set.
 *
 * Environment: key "pg.conninfo" is overridden by PAYSTREAM_PG_CONNINFO (upper
 * case, dots and dashes become underscores). Environment beats file beats
 * default. Environment values are taken verbatim (no quotes, no trimming).
 * PAYSTREAM_* variables that match no key (PAYSTREAM_TEST_PG, ...) are ignored.
 *
 * Pass-through: when the table has a key of type PS_CONF_PASSTHROUGH named
 * "kafka.", any key starting with "kafka." is accepted and handed unchanged
 * (prefix stripped) to librdkafka, which validates it when the client is
 * built. From the environment, PAYSTREAM_KAFKA_BOOTSTRAP_SERVERS sets
 * "kafka.bootstrap.servers" (underscores become dots: librdkafka property
 * names use no underscores).
 *
 * Values: PS_CONF_INT is exactly an optional '-' and decimal digits (no '+',
 * no blanks, no unit suffix) within [min, max]; PS_CONF_BOOL accepts
 * on/off, true/false, yes/no, 1/0 in any case; PS_CONF_ENUM exactly one of
 * the choices (case-sensitive).
 *
 * Errors: every failure of ps_config_load is PS_ERR_CONFIG with a message
 * that names the key, where the value came from ("/etc/x.conf:12" or
 * "environment variable PAYSTREAM_HTTP_PORT") and why, e.g.
 *   /etc/x.conf:12: value 70000 for key "http.port" is out of range [1, 65535]
 * An unreadable or oversized file, a syntax error, bad bytes, an unknown key,
 * a missing required key (default_value NULL) and a bad value are all errors.
 *
 * Secrets (PS_CONF_SECRET_FILE): the value is a path; the file is read at load
 * time (bounded by PS_CONFIG_SECRET_FILE_BYTES_MAX, must not be empty,
 * trailing CR/LF removed) and its content is never printed by the dump or
 * any message. A default of "" makes the secret optional: left empty, no file
 * is read and ps_config_get_secret returns NULL.
 *
 * A loaded ps_config_t is immutable and may be read from any thread.
 */
#ifndef PAYSTREAM_CONFIG_H
#define PAYSTREAM_CONFIG_H

#include <paystream/buf.h>
#include <paystream/err.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef enum ps_config_type {
    PS_CONF_STRING = 0,      /* any text */
    PS_CONF_INT = 1,         /* decimal int64 within [min, max] */
    PS_CONF_BOOL = 2,        /* on/off, true/false, yes/no, 1/0 */
    PS_CONF_ENUM = 3,        /* one of the '|'-separated words in `choices` */
    PS_CONF_SECRET_FILE = 4, /* path to a file whose content is a secret */
    PS_CONF_PASSTHROUGH = 5  /* a "prefix." key: any key under it is accepted */
} ps_config_type_t;

typedef struct ps_config_key {
    const char *name;          /* "pg.conninfo"; PASSTHROUGH: the prefix "kafka." */
    ps_config_type_t type;
    const char *default_value; /* NULL: the key is required (none for PASSTHROUGH) */
    int64_t min, max;          /* PS_CONF_INT bounds, inclusive */
    const char *unit;          /* "ms", "bytes", ... or NULL */
    const char *choices;       /* PS_CONF_ENUM: "debug|info|warn|error" */
    const char *description;   /* one sentence for CONFIGURATION.md */
} ps_config_key_t;

typedef struct ps_config ps_config_t;

/*
 * Keys every service declares the same way. log.level is required by
 * ps_cli_main (cli.h), which sets the log level from it.
 */
#define PS_CONFIG_KEY_LOG_LEVEL                                                           \
    {.name = "log.level",                                                                 \
     .type = PS_CONF_ENUM,                                                                \
     .default_value = "info",                                                             \
     .choices = "debug|info|warn|error",                                                  \
     .description = "Lowest severity written to the log (stderr)."}
#define PS_CONFIG_KEY_PG_CONNINFO                                                         \
    {.name = "pg.conninfo",                                                               \
     .type = PS_CONF_STRING,                                                              \
     .default_value = "host=127.0.0.1 port=15432 dbname=paystream user=postgres",         \
     .description = "libpq connection string of the ledger database. Keep passwords out of " \
                    "it (use a ~/.pgpass file or PGPASSFILE): the value is printed by "   \
                    "--check-config."}

/*
 * Loads the configuration: defaults from table, then the file at path (may
 * be NULL: defaults and environment only), then the environment (envp, a
 * NULL-terminated array like environ; NULL means the process environment).
 * On success *cfg_out is owned by the caller (ps_config_destroy); on failure
 * it is untouched and errstr says why (PS_ERR_CONFIG). table is borrowed for
 * the life of the configuration (service tables are static); path and envp
 * only for the call. A malformed table (duplicate or colliding names, ENUM
 * without choices, ...) is a programmer error (asserts).
 * @locality any thread
 */
ps_err_t ps_config_load(const ps_config_key_t *table, size_t key_count, const char *path,
                        char *const *envp, ps_config_t **cfg_out, char *errstr,
                        size_t errstr_size);

/* Accepts NULL. Secret contents are wiped before their memory is freed. */
void ps_config_destroy(ps_config_t *cfg);

/*
 * Typed getters. The key must be in the table with the matching type; asking
 * for an undeclared key or the wrong type is a programmer error (asserts).
 * ps_config_get_str serves STRING, ENUM and SECRET_FILE (the path). Returned
 * strings are borrowed from cfg and never NULL.
 */
const char *ps_config_get_str(const ps_config_t *cfg, const char *key);
int64_t ps_config_get_int(const ps_config_t *cfg, const char *key);
bool ps_config_get_bool(const ps_config_t *cfg, const char *key);
/*
 * PS_CONF_SECRET_FILE: the file's content (borrowed, NUL-terminated for
 * convenience) and its length; NULL and 0 for an optional secret left unset.
 */
const uint8_t *ps_config_get_secret(const ps_config_t *cfg, const char *key, size_t *len_out);

/*
 * Calls fn for every pass-through key under prefix (e.g. "kafka."), in the
 * order first set, with the prefix stripped ("bootstrap.servers"). Stops and
 * returns the first non-PS_OK result of fn. prefix must be a PASSTHROUGH key
 * of the table (asserts). key and value are borrowed for the call.
 */
typedef ps_err_t (*ps_config_foreach_fn)(const char *key, const char *value, void *opaque);
ps_err_t ps_config_foreach_prefixed(const ps_config_t *cfg, const char *prefix,
                                    ps_config_foreach_fn fn, void *opaque);

/*
 * Writes the effective configuration as `key = value  # source` lines in
 * table order (pass-through keys at their prefix's place, in the order first
 * set), values quoted in file syntax where needed. Secrets appear as
 * `<secret from /path>`; keys whose name contains "password" or "secret"
 * (e.g. kafka.sasl.password) as `<redacted>`.
 */
void ps_config_dump(const ps_config_t *cfg, FILE *out);

/*
 * Appends the Markdown section documenting table for one service (a heading
 * "## paystream-<service>" and a table of key, type, default, range/unit,
 * environment variable, description) to out. Deterministic; a default under
 * the compiled-in source tree is shown as `<source dir>/...` so that the
 * output does not depend on the checkout. PS_ERR_TOO_LARGE past out's bound.
 */
ps_err_t ps_config_write_markdown(const ps_config_key_t *table, size_t key_count,
                                  const char *service, ps_buf_t *out);

#endif
