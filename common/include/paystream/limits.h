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

/* JSON reader (common/src/json.c): bounds of one document. Offsets are 32-bit;
 * the depth bound sizes the parser's fixed stack (8 KiB) and equals jansson's
 * JSON_PARSER_MAX_DEPTH, so both refuse the same texts (channel payloads nest
 * 3 or 4 deep); a text of n bytes holds at most n / 2 + 1 values. */
#define PS_JSON_TEXT_BYTES_MAX (16 * 1024 * 1024) /* one JSON text */
#define PS_JSON_DEPTH_MAX 2048                    /* nested objects and arrays */
#define PS_JSON_TOKENS_MAX 65536                  /* values in one document */

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

/* Form bodies, GBK transcoding and the Alipay verifier (ingest/form.c,
 * ingest/charset.c, ingest/alipay.c; helper L). A form is at most one body;
 * Alipay notifications have about 30 parameters, keys are short names. */
#define PS_FORM_INPUT_BYTES_MAX (64 * 1024) /* one form-urlencoded text */
#define PS_FORM_PARAMS_MAX 128              /* parameters in one form */
#define PS_FORM_KEY_BYTES_MAX 64            /* one decoded parameter name */
#define PS_CHARSET_INPUT_BYTES_MAX (64 * 1024) /* one value to transcode */
#define PS_ALIPAY_BODY_BYTES_MAX (64 * 1024)   /* one notification body */
#define PS_ALIPAY_KEY_FILE_BYTES_MAX (64 * 1024) /* a public-key PEM file */
#define PS_ALIPAY_SIGNATURE_BYTES_MAX 1024     /* decoded sign: RSA-8192 at most */
#define PS_ALIPAY_RSA_BITS_MIN 2048            /* RSA2 keys are 2048-bit */

/* Apple App Store Server Notifications V2 (ingest/apple.c, ingest/jws.c,
 * ingest/x5c.c; helper J). Real notifications are about 10 KiB: an outer JWS
 * whose payload holds a nested signed transaction, each with a 3-certificate
 * x5c of ~0.6 KiB DER certificates. */
#define PS_APPLE_BODY_BYTES_MAX (64 * 1024)     /* {"signedPayload": "<JWS>"} */
#define PS_JWS_BYTES_MAX (48 * 1024)            /* one compact JWS */
#define PS_JWS_HEADER_BYTES_MAX (16 * 1024)     /* decoded JWS header, x5c included */
#define PS_JWS_PAYLOAD_BYTES_MAX (32 * 1024)    /* decoded JWS payload */
#define PS_X5C_CERT_BYTES_MAX 4096              /* one decoded DER certificate */
#define PS_X5C_CHAIN_CERTS 3                    /* leaf, intermediate, root: exactly */
#define PS_APPLE_CHAIN_CACHE_ENTRIES_MAX 1024   /* validated x5c chains kept */
#define PS_APPLE_ROOT_CERTS_MAX 8               /* trusted roots in apple.root_cert_file */
#define PS_APPLE_ROOT_FILE_BYTES_MAX (64 * 1024) /* apple.root_cert_file */


/* WeChat Pay v3 verifier and platform-certificate store (ingest/wechat*.c,
 * helper W). Header bounds are generous multiples of what WeChat sends. */
#define PS_WECHAT_BODY_BYTES_MAX PS_EVIDENCE_BODY_BYTES_MAX /* callback body */
#define PS_WECHAT_TIMESTAMP_DIGITS_MAX 12        /* Wechatpay-Timestamp, decimal seconds */
#define PS_WECHAT_NONCE_BYTES_MAX 128            /* Wechatpay-Nonce (WeChat sends 32) */
#define PS_WECHAT_SERIAL_BYTES_MAX 128           /* Wechatpay-Serial / key id, NUL included */
#define PS_WECHAT_SIGNATURE_B64_BYTES_MAX 1024   /* base64 of an RSA-4096 signature is 684 */
#define PS_WECHAT_SIGNATURE_BYTES_MAX 512        /* decoded signature: RSA up to 4096 bits */
#define PS_WECHAT_APIV3_KEY_BYTES 32             /* AEAD_AES_256_GCM key */
#define PS_WECHAT_AEAD_NONCE_BYTES 12            /* resource.nonce: a 96-bit GCM IV */
#define PS_WECHAT_AEAD_TAG_BYTES 16              /* GCM tag appended to the ciphertext */
#define PS_WECHAT_AAD_BYTES_MAX 256              /* resource.associated_data */
#define PS_WECHAT_PLAINTEXT_BYTES_MAX (64 * 1024) /* decrypted resource */
#define PS_WECHAT_ATTACH_BYTES_MAX 1024          /* attach (WeChat allows 128 characters) */
#define PS_WECHAT_KEYS_MAX 64                    /* keys in one store snapshot */
#define PS_WECHAT_CERT_FILES_MAX 64              /* PEM files in wechat.platform_cert_dir */
#define PS_WECHAT_CERT_FILE_BYTES_MAX (64 * 1024) /* one PEM file */
#define PS_WECHAT_CERT_RESPONSE_BYTES_MAX (256 * 1024) /* GET /v3/certificates body */
#define PS_WECHAT_URL_BYTES_MAX 2048             /* wechat.cert_refresh_url */

/* Reconciler statements: parsers, fetchers and simulated bill endpoints
 * (reconciler/statement*.c, reconciler/fetch.c, tools/sim/sim_bills.c;
 * helper R1). A 1,000,000-row WeChat bill is about 300 MB, so one statement
 * may be large, but every line, field and zip entry is bounded. */
#define PS_RECON_STATEMENT_BYTES_MAX ((size_t)1024 * 1024 * 1024) /* uncompressed statement */
#define PS_RECON_STATEMENT_ROWS_MAX 10000000   /* detail rows in one statement */
#define PS_RECON_LINE_BYTES_MAX 8192           /* one statement line, line end excluded */
#define PS_RECON_FIELDS_MAX 64                 /* fields on one statement line */
#define PS_RECON_MERCHANT_ID_BYTES 65          /* mchid / pid / generic merchant, NUL included */
#define PS_RECON_ZIP_ENTRIES_MAX 16            /* entries in an Alipay bill zip */
#define PS_RECON_ZIP_NAME_BYTES_MAX 256        /* one zip entry name */
#define PS_RECON_FETCH_RESPONSE_BYTES_MAX (64 * 1024) /* a bill query's JSON answer */
#define PS_RECON_URL_BYTES_MAX 2048            /* a bill download URL */
#define PS_RECON_FETCH_TIMEOUT_MS_MAX 600000   /* recon.fetch.timeout_ms upper bound */

/* Reconciler run: staging, diff, commands, reports (reconciler/diff.c,
 * commands.c, report.c, run.c; helper R2). A statement whose discrepancies
 * exceed PS_RECON_DIFF_ROWS_MAX is refused rather than listed row by row
 * (the circuit breaker would halt it long before). */
#define PS_RECON_DIFF_ROWS_MAX 1000000          /* rows one diff may return */
#define PS_RECON_COPY_CHUNK_BYTES (1024 * 1024) /* COPY data sent per PQputCopyData */
#define PS_RECON_REFUND_STAGE_BYTES_MAX ((size_t)256 * 1024 * 1024) /* buffered refund rows */
#define PS_RECON_KEY_BYTES_MAX PS_ID_BYTES_MAX  /* payment key or refund id */
#define PS_RECON_RUN_ID_BYTES 96                /* recon_runs.id, NUL included */
#define PS_RECON_RECOVER_RUNS_MAX 64            /* unfinished runs completed per start */
#define PS_RECON_KAFKA_TIMEOUT_MS 60000         /* one transactional call or flush */
#define PS_RECON_REPORT_BYTES_MAX ((size_t)256 * 1024 * 1024) /* JSON or HTML report */
#define PS_RECON_WORK_MEM_MB_MAX 4096           /* recon.pg.work_mem_mb upper bound */
#define PS_RECON_OFFSETS_BYTES (PS_KAFKA_PARTITIONS_MAX * 32) /* "p:offset,..." of a topic */
#define PS_RECON_RECOVER_SCAN_MAX 10000000      /* messages read to find a crashed run's commands */

/* Processor consumer loop, offsets and operations (processor/consume.c,
 * offsets.c, loop.c, ops.c, redrive.c; helper P1). */
#define PS_PROC_BATCH_EVENTS_MAX 20000     /* processor.batch.events_max upper bound */
#define PS_PROC_BATCH_WAIT_MS_MAX 10000    /* processor.batch.wait_ms upper bound */
#define PS_PROC_PARTITIONS_MAX 1024        /* partitions one instance may own at once */
#define PS_PROC_TOPIC_BYTES_MAX 250        /* a Kafka topic name (Kafka allows 249), NUL included */
#define PS_PROC_OWNER_BYTES_MAX 256        /* kafka_offsets.owner: host:pid, NUL included */
#define PS_PROC_BACKOFF_MS_MAX 30000       /* processor.retry.backoff_max_ms upper bound */
#define PS_PROC_CLAIM_ATTEMPTS_MAX 1000    /* offset claims tried in one rebalance callback */
#define PS_PROC_POLL_MS 100                /* one rd_kafka_consumer_poll wait: SIGTERM latency */
#define PS_PROC_CLOSE_TIMEOUT_MS 30000     /* consumer close on shutdown */
#define PS_PROC_METRICS_CONNECTIONS_MAX 16 /* concurrent metrics HTTP connections */
#define PS_PROC_REDRIVE_MAX 100000         /* dead letters listed or re-driven per command */


/* Ingest HTTP tier, producer, request files and the channel simulator CLI
 * (ingest/http.c, produce.c, reqfile.c, tools/ps-channel-sim.c; helper H).
 * The http.* config keys are bounded by these maxima. */
#define PS_HTTP_HEADERS_MAX 128              /* http.headers_max ceiling */
#define PS_HTTP_HEADER_BYTES_MAX (64 * 1024) /* http.header_bytes_max ceiling */
#define PS_HTTP_THREADS_MAX 64               /* http.threads ceiling */
#define PS_HTTP_CONNECTIONS_MAX 65536        /* http.connections_max ceiling */
#define PS_HTTP_REQUEST_TIMEOUT_S_MAX 600    /* http.request_timeout_s ceiling */
#define PS_HTTP_ANSWER_BYTES_MAX 256         /* a channel answer body */
#define PS_INGEST_DELIVERY_TIMEOUT_MS_MAX 300000 /* ingest.delivery_timeout_ms ceiling */
#define PS_INGEST_SHUTDOWN_FLUSH_MS 30000    /* wait for delivery reports at shutdown */
#define PS_REQFILE_BYTES_MAX (PS_HTTP_HEADER_BYTES_MAX + PS_EVIDENCE_BODY_BYTES_MAX) /* one request file */
#define PS_REQFILE_LINE_BYTES_MAX 8192       /* request line or one header line */
#define PS_SIM_FILES_MAX 1000000             /* ps-channel-sim callbacks --count, send files */
#define PS_SIM_SEND_ATTEMPTS_MAX 64          /* ps-channel-sim send: tries per request */

/* Ledger apply, fold, audit and replay (processor/apply.c, fold.c, audit.c,
 * replay.c; helper P2). A journal key holds a channel, an order number and a
 * refund id (each at most PS_ID_BYTES_MAX) plus separators. */
#define PS_JOURNAL_KEY_BYTES_MAX 1024     /* journals.source_id and effect */
#define PS_FOLD_REFUNDS_MAX 1024          /* refunds of one payment */
#define PS_APPLY_ITEMS_MAX 100000         /* items in one proc_apply_batch call */
#define PS_APPLY_STMT_BYTES_MAX (64 * 1024 * 1024) /* one array parameter's text */
#define PS_APPLY_CHUNK_BYTES (16 * 1024 * 1024) /* send rows once an array reaches this */
#define PS_AUDIT_FAILURES_MAX 50          /* failures listed per invariant */
#define PS_SCHEMA_NAME_BYTES_MAX 64       /* replay/audit --schema, NUL included */
#define PS_REPLAY_BATCH_ITEMS_MAX 2000    /* messages applied per replay transaction */
#define PS_REPLAY_POLL_TIMEOUT_MS 500     /* one consumer poll during replay */
#define PS_REPLAY_IDLE_TIMEOUT_MS 60000   /* no progress towards the end offsets: give up */

#endif
