/*
 * Channel statements, format-independent: one call parses a whole statement
 * file (the bytes as downloaded; gzip and zip are opened inside), validates it
 * completely and hands each detail row to a callback, in file order.
 *
 * A statement is all-or-nothing. Rows reach the callback while the file is
 * still being checked (the summary lines come last), so the caller stages
 * them and acts on none until recon_statement_parse returned PS_OK. Any
 * failure is PS_ERR_INVALID (or PS_ERR_TOO_LARGE for a bound) with a message
 * naming the format, the line and the problem:
 *   wechat bill line 3: expected 27 fields, found 26
 * Formats and what each accepts are documented in docs/STATEMENTS.md.
 *
 * A statement is identified by the SHA-256 of its bytes as given (meta
 * sha256_hex): importing the same file twice is recognisably the same import.
 * Every function here is thread-safe (no global state).
 */
#ifndef RECON_STATEMENT_H
#define RECON_STATEMENT_H

#include <jansson.h>
#include <paystream/err.h>
#include <paystream/event.h>
#include <paystream/limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum recon_format {
    RECON_FMT_WECHAT = 0,  /* WeChat Pay trade bill: UTF-8 CSV, backticks, optional gzip */
    RECON_FMT_ALIPAY = 1,  /* Alipay trade bill: zip of GBK CSV, or the GBK CSV itself */
    RECON_FMT_APPLE = 2,   /* App Store Server API transaction history: signed transactions */
    RECON_FMT_GENERIC = 3  /* paystream generic CSV (docs/STATEMENTS.md) */
} recon_format_t;

typedef enum recon_row_kind {
    RECON_ROW_PAYMENT = 0,
    RECON_ROW_REFUND = 1
} recon_row_kind_t;

/*
 * One detail row. Every string is borrowed, NUL-terminated and valid during
 * the callback only (it points into a per-row scratch buffer).
 */
typedef struct recon_row {
    ps_channel_t channel;
    recon_row_kind_t kind;
    const char *merchant_order_no; /* out_trade_no; may be "" when the channel has none */
    const char *channel_txn_id;    /* transaction_id / trade_no */
    const char *refund_id;         /* refunds: WeChat refund id / Alipay request no; NULL for payments */
    int64_t amount_minor;          /* payment amount, or refund amount (positive) */
    char currency[PS_CURRENCY_CODE_BYTES];
    int64_t time_us;               /* trade or refund time, UTC */
    const char *status;            /* channel status text as in the bill ("SUCCESS", "交易") */
    const char *refund_status;     /* WeChat 退款状态 of a refund row; NULL otherwise */
    int64_t line_no;               /* 1-based line in the (uncompressed) file, for messages */
} recon_row_t;

/* Returns PS_OK to go on; anything else stops the parse and is returned
 * (the callback writes its own message into errstr). */
typedef ps_err_t (*recon_row_fn)(const recon_row_t *row, void *opaque, char *errstr,
                                 size_t errstr_size);

/*
 * Verifies one Apple signed transaction jws[0..len) (borrowed) and hands back
 * its decoded payload (*payload_out owned by the caller: json_decref). The
 * reconciler wires an adapter over the ingest's ingest_apple_decode_signed
 * (INGEST_APPLE_TRANSACTION), so statements are verified exactly like
 * notifications; the statement layer itself does not link the ingest.
 */
typedef ps_err_t (*recon_jws_verify_fn)(void *verifier, const char *jws, size_t len,
                                        json_t **payload_out, char *errstr, size_t errstr_size);

/* What the caller expects of the statement; every part is optional. */
typedef struct recon_expect {
    const char *merchant_id;  /* WeChat mchid, Alipay pid, Apple bundleId, generic merchant; NULL: any */
    bool has_window;          /* check the statement's window against [start, end) */
    int64_t window_start_us;  /* inclusive, UTC */
    int64_t window_end_us;    /* exclusive, UTC */
    size_t bytes_max;         /* bound on the uncompressed statement; 0: PS_RECON_STATEMENT_BYTES_MAX */
    recon_jws_verify_fn apple_verify; /* required for RECON_FMT_APPLE */
    void *apple_verifier;             /* borrowed, passed to apple_verify */
} recon_expect_t;

/* What the statement said about itself, filled on success. */
typedef struct recon_stmt_meta {
    recon_format_t format;
    char merchant_id[PS_RECON_MERCHANT_ID_BYTES]; /* "" when the statement names none (empty bill) */
    int64_t window_start_us, window_end_us;       /* the day (or generic window) it covers */
    int64_t rows, payment_rows, refund_rows;
    int64_t payment_total_minor;                  /* sum of payment amount_minor */
    int64_t refund_total_minor;                   /* sum of refund amount_minor (positive) */
    char currency[PS_CURRENCY_CODE_BYTES];        /* the single currency, "" if no rows or mixed */
    size_t content_bytes;                         /* uncompressed CSV bytes parsed */
    char sha256_hex[65];                          /* SHA-256 of the bytes as given, lower-case */
} recon_stmt_meta_t;

/*
 * Parses the statement data[0..len) (borrowed) of format fmt, calling row_fn
 * (with opaque) once per detail row in order, and fills *meta (may be NULL).
 * expect (borrowed, may be NULL) adds the merchant and window checks.
 * Errors: PS_ERR_INVALID for anything malformed, truncated, foreign or in the
 * wrong encoding; PS_ERR_TOO_LARGE past a bound (bytes, rows, line length,
 * zip entries); PS_ERR_CRYPTO when an Apple signed transaction does not
 * verify; PS_ERR_CONFIG for RECON_FMT_APPLE without expect->apple_verify;
 * the callback's own error. Any thread (the Apple verifier must allow it).
 */
ps_err_t recon_statement_parse(recon_format_t fmt, const uint8_t *data, size_t len,
                               const recon_expect_t *expect, recon_row_fn row_fn, void *opaque,
                               recon_stmt_meta_t *meta, char *errstr, size_t errstr_size);

/*
 * Reads the file at path (borrowed) and parses it like recon_statement_parse.
 * PS_ERR_IO when it cannot be read, PS_ERR_TOO_LARGE when it exceeds the bound.
 */
ps_err_t recon_statement_parse_file(recon_format_t fmt, const char *path,
                                    const recon_expect_t *expect, recon_row_fn row_fn,
                                    void *opaque, recon_stmt_meta_t *meta, char *errstr,
                                    size_t errstr_size);

/* "wechat", "alipay", "apple", "generic" -> format; PS_ERR_INVALID otherwise. */
ps_err_t recon_format_parse(const char *s, recon_format_t *fmt_out);
/* Static lower-case name of fmt; never NULL. */
const char *recon_format_name(recon_format_t fmt);

/*
 * The Asia/Shanghai civil day "YYYY-MM-DD" (borrowed) as a UTC window
 * [*start_us, *end_us): the span a WeChat or Alipay daily bill covers.
 * PS_ERR_INVALID for a malformed or impossible date.
 */
ps_err_t recon_statement_shanghai_day(const char *date, int64_t *start_us, int64_t *end_us,
                                      char *errstr, size_t errstr_size);

/*
 * Inflates a gzip stream data[0..len) (borrowed) into *out_data (owned by the
 * caller, ps_free; NUL-terminated) of *out_len bytes, refusing to produce
 * more than bytes_max bytes (a gzip bomb stops at the bound). Concatenated
 * gzip members are accepted. PS_ERR_INVALID for a corrupt or truncated
 * stream, PS_ERR_TOO_LARGE past bytes_max. Used by the parser and by the
 * WeChat fetcher (whose SHA-1 covers the uncompressed bill).
 */
ps_err_t recon_statement_gunzip(const uint8_t *data, size_t len, size_t bytes_max,
                                uint8_t **out_data, size_t *out_len, char *errstr,
                                size_t errstr_size);

/* Whether data starts with the gzip magic bytes 1f 8b. */
bool recon_statement_is_gzip(const uint8_t *data, size_t len);

#endif
