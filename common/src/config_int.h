/*
 * Private to the configuration module (config.c loads, config_syntax.c
 * checks text and values, config_doc.c prints the dump and the Markdown
 * reference). Not part of libpaystream's public surface.
 */
#ifndef PAYSTREAM_CONFIG_INT_H
#define PAYSTREAM_CONFIG_INT_H

#include <paystream/config.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PS__CONFIG_ENV_PREFIX "PAYSTREAM_"

/* The effective value of one (non-pass-through) table key. */
typedef struct ps__config_value {
    char *text;        /* owned; NULL when unset. SECRET_FILE: the path */
    char *source;      /* owned: "default", "/etc/x.conf:12", "environment variable X" */
    int64_t int_value; /* PS_CONF_INT */
    bool bool_value;   /* PS_CONF_BOOL */
    uint8_t *secret;   /* owned, NUL-terminated, wiped before free; NULL if no secret */
    size_t secret_len;
} ps__config_value_t;

/* A key under a pass-through prefix ("kafka.bootstrap.servers"). */
typedef struct ps__config_extra {
    size_t prefix_index; /* table index of its PS_CONF_PASSTHROUGH key */
    char *name;          /* owned: the full key, prefix included */
    char *text;          /* owned */
    char *source;        /* owned */
} ps__config_extra_t;

struct ps_config {
    const ps_config_key_t *table; /* borrowed: tables are static and outlive cfg */
    size_t key_count;
    ps__config_value_t *values; /* owned: key_count entries, parallel to table */
    ps__config_extra_t *extras; /* owned: PS_CONFIG_KEYS_MAX slots, allocated on first use */
    size_t extra_count;         /* in the order first set */
};

/*
 * PS_ERR_CONFIG "<source>: ..." unless s[0..len) is UTF-8 text without
 * control characters (tab allowed) and without NUL bytes.
 */
ps_err_t ps__config_check_text(const char *s, size_t len, const char *source, char *errstr,
                               size_t errstr_size);

/*
 * PS_ERR_CONFIG "<source>: invalid value ..." unless text is valid for key's
 * type; on success fills *int_out (INT) or *bool_out (BOOL).
 */
ps_err_t ps__config_check_value(const ps_config_key_t *key, const char *text,
                                const char *source, int64_t *int_out, bool *bool_out,
                                char *errstr, size_t errstr_size);

/*
 * Splits one line s[0..len) (no line break) into key and value, each a
 * buffer of at least len + 1 bytes; unquotes a quoted value and drops a
 * comment. A blank or comment-only line leaves key empty. PS_ERR_CONFIG
 * "<source>: syntax error: ..." otherwise.
 */
ps_err_t ps__config_tokenize(const char *s, size_t len, char *key, char *value,
                             const char *source, char *errstr, size_t errstr_size);

/* Writes the environment variable of a key: PAYSTREAM_ + upper case, '.' and '-' as '_'. */
void ps__config_env_name(const char *name, char *buf, size_t size);

/* Asserts that a table is well formed (a programmer error otherwise). */
void ps__config_check_table(const ps_config_key_t *table, size_t key_count);

#endif
