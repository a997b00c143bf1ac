/*
 * Every bound in paystream, named in one place (TigerBeetle style: a limit on
 * everything, units last). A value that exceeds its bound is an error that
 * names the bound, never an unbounded allocation or loop.
 */
#ifndef PAYSTREAM_LIMITS_H
#define PAYSTREAM_LIMITS_H

/* Error-message buffers handed to ps_err_t functions. */
#define PS_ERRSTR_SIZE 512

/* Configuration files (common/src/config.c). */
#define PS_CONFIG_FILE_BYTES_MAX (256 * 1024)
#define PS_CONFIG_LINE_BYTES_MAX 4096
#define PS_CONFIG_KEYS_MAX 256
#define PS_CONFIG_SECRET_FILE_BYTES_MAX (64 * 1024)

/* Identifiers inside events and commands (Avro codec and parsers). */
#define PS_ID_BYTES_MAX 256          /* event ids, order numbers, txn ids */
#define PS_ACCOUNT_ID_BYTES_MAX 256  /* account ids from attach/passback */
#define PS_REASON_BYTES_MAX 1024     /* free-text reasons on commands */
#define PS_EVENT_TYPE_BYTES_MAX 64   /* channel event type strings */

/* Evidence carried in a CallbackEvent. */
#define PS_EVIDENCE_BODY_BYTES_MAX (64 * 1024)
#define PS_EVIDENCE_HEADERS_MAX 16
#define PS_EVIDENCE_HEADER_BYTES_MAX 4096

/* An encoded Avro message (single-object header included). */
#define PS_AVRO_MESSAGE_BYTES_MAX (256 * 1024)
/* Canonical-form text of a schema. */
#define PS_AVRO_SCHEMA_BYTES_MAX (64 * 1024)

/* Money: ISO 4217 codes are three upper-case letters. */
#define PS_CURRENCY_CODE_BYTES 4 /* 3 letters + NUL */
#define PS_MONEY_DECIMAL_BYTES_MAX 32

/* Migrations (processor migrate). */
#define PS_MIGRATIONS_MAX 1000
#define PS_MIGRATION_FILE_BYTES_MAX (1024 * 1024)

/* Prometheus exposition. */
#define PS_METRICS_MAX 128
#define PS_METRIC_LABEL_SETS_MAX 64
#define PS_METRICS_TEXT_BYTES_MAX (1024 * 1024)

#endif
