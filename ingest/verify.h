/*
 * The contract between the HTTP tier and the channel verifiers.
 *
 * A verifier takes one raw request exactly as received and returns a verdict:
 * ACCEPT with a normalized CallbackEvent that keeps the evidence, ACK_ONLY for
 * a genuine notification that must be acknowledged but carries nothing for the
 * ledger (Apple TEST, WeChat events paystream does not book), or REJECT with a
 * stable reason label (a metric label) and a human message for the log.
 *
 * Verifiers are created once at start-up from the service configuration and
 * are then used concurrently by the HTTP worker threads: ingest_*_verify must
 * be thread-safe. They never produce to Kafka and never answer HTTP; the
 * caller does both.
 */
#ifndef INGEST_VERIFY_H
#define INGEST_VERIFY_H

#include <paystream/config.h>
#include <paystream/err.h>
#include <paystream/event.h>
#include <paystream/limits.h>
#include <stddef.h>
#include <stdint.h>

/* One raw request; every pointer is borrowed from the caller for the call. */
typedef struct ingest_request {
    const char *method;          /* "POST" */
    const char *path;            /* "/v1/notify/wechat" */
    const ps_header_t *headers;  /* as received; names compared case-insensitively */
    size_t header_count;
    const uint8_t *body;         /* raw bytes, not NUL-terminated */
    size_t body_len;
    int64_t now_s;               /* the clock for timestamp windows and validity */
} ingest_request_t;

typedef enum ingest_verdict {
    INGEST_ACCEPT = 0,   /* verified; ev holds the event to produce */
    INGEST_ACK_ONLY = 1, /* verified; answer success, produce nothing */
    INGEST_REJECT = 2    /* not verified or not acceptable; answer failure */
} ingest_verdict_t;

typedef struct ingest_result {
    ingest_verdict_t verdict;
    /* Stable snake_case label for metrics and logs: "bad_signature",
     * "stale_timestamp", "unknown_serial", "bad_json", "bad_amount", ...
     * A static string (never freed). For ACK_ONLY: why nothing is produced
     * ("test_notification"). NULL for ACCEPT. */
    const char *reason_label;
    /* Human message in PostgreSQL style for the log; never contains secrets
     * or full payer identifiers. */
    char reason[PS_ERRSTR_SIZE];
    /* INGEST_ACCEPT only: the event, owned by the result. received_time_us is
     * left 0 for the caller to stamp. */
    ps_callback_event_t ev;
} ingest_result_t;

/* Header lookup shared by verifiers: the first header named name (ASCII
 * case-insensitive), or NULL. Returned pointer borrowed from req. */
const char *ingest_request_header(const ingest_request_t *req, const char *name);

/* Releases the event held by a result (if any) and zeroes it. Accepts NULL. */
void ingest_result_deinit(ingest_result_t *res);

/* Sets a REJECT verdict with label and printf-style message; returns PS_OK so
 * verifiers can `return ingest_reject(res, "bad_json", "...")`. The event is
 * released, so a half-filled event never escapes. */
ps_err_t ingest_reject(ingest_result_t *res, const char *label, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
