/*
 * Simulated channel statements: generators that write a bill in each format
 * the reconciler parses (WeChat trade bill, Alipay GBK CSV and its zip,
 * paystream generic CSV) from rows supplied by a callback, and a local HTTP
 * server that plays the channels' bill endpoints (sim_bills_server_*).
 *
 * Rows come from a callback by index so that a 1,000,000-row bill needs no
 * row array; sim_bills_synth_row is a deterministic generator the benchmark
 * and the tests share (the same parameters give the same rows, so a ledger
 * can be seeded to match). Generators append to a ps_buf_t whose cap bounds
 * the output (PS_ERR_TOO_LARGE past it). Not thread-safe for one params
 * object; separate objects may be used from separate threads.
 */
#ifndef PAYSTREAM_SIM_BILLS_H
#define PAYSTREAM_SIM_BILLS_H

#include <paystream/buf.h>
#include <paystream/err.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_BILL_ID_BYTES 65

/* One statement row as the generators take it (CNY unless currency set). */
typedef struct sim_bill_row {
    bool refund;
    char merchant_order_no[SIM_BILL_ID_BYTES];
    char channel_txn_id[SIM_BILL_ID_BYTES];
    char refund_id[SIM_BILL_ID_BYTES];  /* refunds only */
    int64_t amount_minor;               /* positive; refunds are written negative by Alipay */
    int64_t time_us;                    /* UTC; written as Shanghai civil time */
} sim_bill_row_t;

/* Fills *row (zeroed by the caller) with row number index. */
typedef void (*sim_bill_row_fn)(void *opaque, size_t index, sim_bill_row_t *row);

typedef struct sim_bill_params {
    const char *merchant_id;  /* WeChat mchid / Alipay pid (16 digits) / generic merchant */
    const char *bill_date;    /* "YYYY-MM-DD", the Shanghai day the bill covers */
    size_t rows;
    sim_bill_row_fn row_fn;
    void *opaque;
} sim_bill_params_t;

/* Parameters of sim_bills_synth_row (pass a pointer as opaque). */
typedef struct sim_bill_synth {
    int64_t day_start_us;  /* rows are spread over [day_start, day_start + 1 day) */
    size_t rows;           /* total, to spread the times */
    size_t refund_every;   /* every n-th row refunds the payment before it; 0: none */
    const char *prefix;    /* order number prefix, e.g. "P" */
} sim_bill_synth_t;

/* Deterministic rows: order "<prefix><10 digits>", txn "42<26 digits>",
 * amount 100 + index % 9901 fen, times increasing through the day. */
void sim_bills_synth_row(void *opaque, size_t index, sim_bill_row_t *row);

/* WeChat ALL trade bill, UTF-8, CRLF, no BOM, backtick values, summary lines. */
ps_err_t sim_bills_write_wechat(const sim_bill_params_t *p, ps_buf_t *out);
/* Alipay 业务明细 CSV in GBK (comment preamble, trailing-TAB ids, footer). */
ps_err_t sim_bills_write_alipay_csv(const sim_bill_params_t *p, ps_buf_t *out);
/* The zip Alipay serves: the GBK CSV as "<pid>_<yyyyMMdd>_业务明细.csv", GBK name, no UTF-8 flag. */
ps_err_t sim_bills_write_alipay_zip(const sim_bill_params_t *p, ps_buf_t *out);
/* paystream generic CSV (docs/STATEMENTS.md), window = the Shanghai day. */
ps_err_t sim_bills_write_generic(const sim_bill_params_t *p, ps_buf_t *out);
/* gzip of data[0..len) appended to out. */
ps_err_t sim_bills_gzip(const uint8_t *data, size_t len, ps_buf_t *out);
/* Writes len bytes to the file at path (created or truncated). PS_ERR_IO on failure. */
ps_err_t sim_bills_write_file(const char *path, const uint8_t *data, size_t len);

/* ---- simulated bill endpoints (sim_bills_server.c) ----------------------- */

typedef struct sim_bills_server sim_bills_server_t;

/* Faults the server can inject, for the fetcher tests. */
typedef enum sim_bills_fault {
    SIM_BILLS_OK = 0,
    SIM_BILLS_WRONG_HASH = 1,      /* WeChat hash_value is not the bill's SHA-1 */
    SIM_BILLS_QUERY_404 = 2,       /* the bill query answers 404 */
    SIM_BILLS_QUERY_500 = 3,       /* the bill query answers 500 */
    SIM_BILLS_DOWNLOAD_404 = 4,    /* the download URL answers 404 */
    SIM_BILLS_BAD_RESPONSE_SIGN = 5 /* WeChat / Alipay answer signature does not verify */
} sim_bills_fault_t;

typedef struct sim_bills_server_params {
    const char *wechat_mch_id;         /* Authorization mchid the server requires */
    const char *merchant_cert_pem;     /* PEM certificate or public key of the merchant key */
    const char *platform_private_key_pem; /* signs WeChat query answers (Wechatpay-*); NULL: unsigned */
    const char *alipay_app_id;
    const char *app_public_key_pem;    /* verifies Alipay request signatures */
    const char *alipay_private_key_pem;/* signs Alipay responses */
} sim_bills_server_params_t;

/*
 * Starts a libmicrohttpd server on 127.0.0.1 with an ephemeral port:
 *   GET  /v3/bill/tradebill?bill_date=..[&tar_type=GZIP]  (signed request)
 *   GET  /v3/billdownload/file?token=..                   (the bill, gzip or plain)
 *   POST /gateway.do  method=alipay.data.dataservice.bill.downloadurl.query
 *   GET  /alipay/bill?token=..                            (the zip)
 * p is copied. *out owned by the caller (sim_bills_server_stop).
 */
ps_err_t sim_bills_server_start(const sim_bills_server_params_t *p, sim_bills_server_t **out,
                                char *errstr, size_t errstr_size);
void sim_bills_server_stop(sim_bills_server_t *s);
/* "http://127.0.0.1:<port>" (borrowed from s). */
const char *sim_bills_server_url(const sim_bills_server_t *s);
/* Sets the bill served for a date (copied). Thread-safe against requests. */
void sim_bills_server_set_wechat_bill(sim_bills_server_t *s, const char *bill_date,
                                      const uint8_t *csv, size_t len);
void sim_bills_server_set_alipay_bill(sim_bills_server_t *s, const char *bill_date,
                                      const uint8_t *zip, size_t len);
void sim_bills_server_set_fault(sim_bills_server_t *s, sim_bills_fault_t fault);
/* Requests whose signature failed, for assertions. */
int sim_bills_server_rejected(const sim_bills_server_t *s);

#endif
