/*
 * The data contracts in C: a verified, normalized channel callback
 * (CallbackEvent, schemas/avro/callback_event.avsc) and a reconciler command
 * (LedgerCommand, schemas/avro/ledger_command.avsc).
 *
 * Money is int64 minor units plus an ISO 4217 code (see money.h); times are
 * microseconds since the Unix epoch, UTC. Every string and byte field is owned
 * by the struct; ps_callback_event_deinit / ps_ledger_command_deinit release
 * them (and accept a zeroed struct). Optional fields are NULL when absent
 * (strings) or flagged by has_* (numbers).
 */
#ifndef PAYSTREAM_EVENT_H
#define PAYSTREAM_EVENT_H

#include <paystream/err.h>
#include <paystream/limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Avro enum Channel; values are the symbol order in the schema. */
typedef enum ps_channel {
    PS_CHANNEL_WECHAT = 0,
    PS_CHANNEL_ALIPAY = 1,
    PS_CHANNEL_APPLE = 2
} ps_channel_t;
#define PS_CHANNEL_COUNT 3

/*
 * Avro enum EventKind: what the callback means for the payment, whatever the
 * channel called it (the raw name is kept in channel_event_type).
 *   PAYMENT_SUCCEEDED  money arrived (WeChat TRANSACTION.SUCCESS, Alipay
 *                      TRADE_SUCCESS / TRADE_FINISHED, Apple ONE_TIME_CHARGE,
 *                      SUBSCRIBED, DID_RENEW)
 *   PAYMENT_CLOSED     closed without money (Alipay TRADE_CLOSED, no refund)
 *   REFUND_SUCCEEDED   money returned (WeChat REFUND.SUCCESS, Alipay refund
 *                      notifications, Apple REFUND)
 *   REFUND_REVERSED    a refund was undone (Apple REFUND_REVERSED)
 */
typedef enum ps_event_kind {
    PS_EVENT_PAYMENT_SUCCEEDED = 0,
    PS_EVENT_PAYMENT_CLOSED = 1,
    PS_EVENT_REFUND_SUCCEEDED = 2,
    PS_EVENT_REFUND_REVERSED = 3
} ps_event_kind_t;
#define PS_EVENT_KIND_COUNT 4

/* One signature-related HTTP header kept as evidence. */
typedef struct ps_header {
    char *name;  /* owned, as received (e.g. "Wechatpay-Signature") */
    char *value; /* owned */
} ps_header_t;

typedef struct ps_callback_event {
    ps_channel_t channel;
    char *channel_event_id;   /* WeChat notification id, Alipay notify_id, Apple notificationUUID */
    ps_event_kind_t kind;
    char *channel_event_type; /* raw: "TRANSACTION.SUCCESS", "TRADE_SUCCESS", "ONE_TIME_CHARGE" */
    char *merchant_order_no;  /* out_trade_no; Apple: originalTransactionId */
    char *channel_txn_id;     /* transaction_id / trade_no / transactionId */
    char *refund_id;          /* NULL unless a refund event */
    int64_t amount_minor;     /* payment amount, or this refund's amount */
    bool has_refund_total;    /* channel reports a cumulative refunded amount */
    int64_t refund_total_minor; /* Alipay refund_fee (cumulative) when has_refund_total */
    char currency[PS_CURRENCY_CODE_BYTES]; /* ISO 4217, e.g. "CNY" */
    char *account_id;         /* player account from attach / passback_params / appAccountToken */
    int64_t event_time_us;    /* when the channel says the event happened */
    bool has_paid_time;
    int64_t paid_time_us;     /* payment success time, when the channel gives one */
    int64_t received_time_us; /* when ingest accepted the callback */
    /* Evidence: exactly what was verified, so an auditor can re-verify. */
    uint8_t *raw_body;        /* owned, raw_body_len bytes, not NUL-terminated */
    size_t raw_body_len;
    ps_header_t *headers;     /* owned array of header_count */
    size_t header_count;      /* at most PS_EVIDENCE_HEADERS_MAX */
    char *key_id;             /* certificate serial / public key id / x5c leaf hash */
} ps_callback_event_t;

/* Avro enum CommandKind. */
typedef enum ps_command_kind {
    PS_COMMAND_REVERSE = 0,    /* take back a credit the channel did not settle */
    PS_COMMAND_COMPENSATE = 1, /* credit a payment the channel settled but the ledger missed */
    PS_COMMAND_ADJUST = 2      /* correct an amount (amount_minor is signed) */
} ps_command_kind_t;
#define PS_COMMAND_KIND_COUNT 3

typedef struct ps_ledger_command {
    char *command_id;        /* deterministic hex hash; the processor applies each once */
    ps_command_kind_t kind;
    ps_channel_t channel;
    char *payment_key;       /* merchant order number or channel transaction id */
    int64_t amount_minor;    /* REVERSE/COMPENSATE: positive; ADJUST: signed delta */
    char currency[PS_CURRENCY_CODE_BYTES];
    char *account_id;        /* NULL when unknown (the processor looks it up) */
    char *reason;            /* human text: the discrepancy class and figures */
    char *recon_run_id;      /* reconciliation run that decided it */
    int64_t created_time_us;
} ps_ledger_command_t;

/* Names as in the Avro enums ("WECHAT", "PAYMENT_SUCCEEDED", "REVERSE"). */
const char *ps_channel_name(ps_channel_t channel);
const char *ps_event_kind_name(ps_event_kind_t kind);
const char *ps_command_kind_name(ps_command_kind_t kind);
/* Lower-case channel parser for configs and CLIs: "wechat", "alipay", "apple". */
ps_err_t ps_channel_parse(const char *s, ps_channel_t *channel_out);

/* Release owned fields and zero the struct. Accept NULL and zeroed structs. */
void ps_callback_event_deinit(ps_callback_event_t *ev);
void ps_ledger_command_deinit(ps_ledger_command_t *cmd);

#endif
