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
/* Avro codec (common/src/avro_*.c): nesting depth of a schema walked for its
 * canonical form, and of a value walked by the decoder's validator; bytes of
 * one zig-zag varint (a 64-bit long needs at most 10). */
#define PS_AVRO_SCHEMA_DEPTH_MAX 32
#define PS_AVRO_VARINT_BYTES_MAX 10

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
/* Metrics registry details (common/src/metrics.c, helper B). */
#define PS_METRIC_NAME_BYTES_MAX 128        /* metric and label names */
#define PS_METRIC_HELP_BYTES_MAX 512        /* HELP text */
#define PS_METRIC_LABELS_MAX 3              /* label names per metric */
#define PS_METRIC_LABEL_VALUE_BYTES_MAX 128 /* longer values count as "other" */
#define PS_METRIC_BUCKETS_MAX 32            /* histogram bounds, +Inf excluded */

/* Kafka and PostgreSQL helpers, migrations and tools/ps-sample (kafka.c, pg.c). */
#define PS_KAFKA_MESSAGE_TIMEOUT_MS 30000 /* producer message.timeout.ms: a definite delivery report */
#define PS_KAFKA_TRANSACTION_TIMEOUT_MS 60000 /* transaction.timeout.ms, below the broker maximum */
#define PS_KAFKA_INIT_TRANSACTIONS_TIMEOUT_MS 30000 /* first init_transactions: coordinator may be loading */
#define PS_KAFKA_TOPICS_MAX 64            /* topics per create/delete call */
#define PS_KAFKA_PARTITIONS_MAX 1024      /* partitions per topic we create or assign */
#define PS_PG_CONNINFO_BYTES_MAX 4096     /* a rebuilt libpq connection string */
#define PS_PG_CONNECT_TIMEOUT_S 10        /* libpq connect_timeout unless conninfo sets one */
#define PS_MIGRATE_LOCK_TIMEOUT_MS 60000  /* wait for a concurrent migrate runner */
#define PS_MIGRATION_NAME_BYTES_MAX 128   /* a migration file name, NUL included */
#define PS_SAMPLE_EVENTS_MAX 1000000      /* ps-sample produce/consume --count */

#endif
