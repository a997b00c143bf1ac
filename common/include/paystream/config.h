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
 * a value may be single-quoted ('a b', with '' for a quote); blank lines are
 * ignored. A key given twice: the last one wins (like postgresql.conf).
 *
 * Environment: key "pg.conninfo" is overridden by PAYSTREAM_PG_CONNINFO (upper
 * case, dots become underscores). Environment beats file beats default.
 *
 * Pass-through: when the table has a key of type PS_CONF_PASSTHROUGH named
 * "kafka.", any key starting with "kafka." is accepted and handed unchanged
 * (prefix stripped) to librdkafka, which validates it when the client is
 * built. From the environment, PAYSTREAM_KAFKA_BOOTSTRAP_SERVERS sets
 * "kafka.bootstrap.servers" (underscores become dots: librdkafka property
 * names use no underscores).
 *
 * Errors: an unknown key, a missing required key or a bad value is
 * PS_ERR_CONFIG with a message that names the key, where it came from
 * (file:line or the environment variable) and why.
 *
 * Secrets (PS_CONF_SECRET_FILE): the value is a path; the file is read at load
 * time (bounded by PS_CONFIG_SECRET_FILE_BYTES_MAX) and its content is never
 * printed by the dump or any message.
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
 * Loads the configuration: defaults from table, then the file at path (may
 * be NULL: defaults and environment only), then the environment (envp, a
 * NULL-terminated array like environ; NULL means the process environment).
 * On success *cfg_out is owned by the caller (ps_config_destroy).
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
 * Returned strings are borrowed from cfg.
 */
const char *ps_config_get_str(const ps_config_t *cfg, const char *key);
int64_t ps_config_get_int(const ps_config_t *cfg, const char *key);
bool ps_config_get_bool(const ps_config_t *cfg, const char *key);
/* PS_CONF_SECRET_FILE: the file's content (borrowed) and its length. */
const uint8_t *ps_config_get_secret(const ps_config_t *cfg, const char *key, size_t *len_out);

/*
 * Calls fn for every pass-through key under prefix (e.g. "kafka."), in the
 * order first set, with the prefix stripped ("bootstrap.servers"). Stops and
 * returns the first non-PS_OK result of fn.
 */
typedef ps_err_t (*ps_config_foreach_fn)(const char *key, const char *value, void *opaque);
ps_err_t ps_config_foreach_prefixed(const ps_config_t *cfg, const char *prefix,
                                    ps_config_foreach_fn fn, void *opaque);

/* Writes the effective configuration as `key = value` lines, secrets as their path only. */
void ps_config_dump(const ps_config_t *cfg, FILE *out);

/*
 * Appends the Markdown section documenting table for one service (a heading
 * "## paystream-<service>" and a table of key, type, default, range/unit,
 * environment variable, description) to out.
 */
ps_err_t ps_config_write_markdown(const ps_config_key_t *table, size_t key_count,
                                  const char *service, ps_buf_t *out);

#endif
