/*
 * sim_request_t: one raw HTTP request as a channel would send it, shared by
 * the channel simulators (sim_wechat, sim_alipay, sim_apple), the tests, the
 * demo and the benchmark.
 *
 * A simulator fills method, path, headers and body; sim_request_write_raw
 * renders the request as captured bytes ("METHOD PATH HTTP/1.1", headers,
 * blank line, body) for files and for the HTTP tier's tests. The request owns
 * its header strings and its body; sim_request_deinit releases them.
 */
#ifndef PAYSTREAM_SIM_H
#define PAYSTREAM_SIM_H

#include "verify.h"

#include <paystream/buf.h>
#include <paystream/err.h>
#include <paystream/event.h>
#include <paystream/limits.h>
#include <stddef.h>

/* A simulated body may exceed the ingest bound on purpose (oversize tests),
 * so its own cap is larger than PS_EVIDENCE_BODY_BYTES_MAX. */
#define SIM_BODY_BYTES_MAX (1024 * 1024)
/* Bound on a rendered raw request: body plus request line and headers. */
#define SIM_RAW_REQUEST_BYTES_MAX                                                       \
    (SIM_BODY_BYTES_MAX + PS_EVIDENCE_HEADERS_MAX * PS_EVIDENCE_HEADER_BYTES_MAX + 256)

typedef struct sim_request {
    char method[8];   /* "POST" unless a simulator says otherwise */
    char path[128];   /* e.g. "/v1/notify/wechat" */
    ps_header_t headers[PS_EVIDENCE_HEADERS_MAX]; /* owned name/value strings */
    size_t header_count;
    ps_buf_t body;    /* owned, capped at SIM_BODY_BYTES_MAX */
} sim_request_t;

/* Empty request: method "POST", path "/", no headers, empty body. */
void sim_request_init(sim_request_t *r);
/* Releases headers and body; the request may be initialized again. Accepts NULL. */
void sim_request_deinit(sim_request_t *r);
/*
 * Appends a header (name and value are borrowed and copied). PS_ERR_TOO_LARGE
 * past PS_EVIDENCE_HEADERS_MAX headers or when "name: value" exceeds
 * PS_EVIDENCE_HEADER_BYTES_MAX; PS_ERR_INVALID when name or value contains CR,
 * LF or NUL, or name is empty or contains ':' (they would corrupt the raw form).
 * Not thread-safe for one request.
 */
ps_err_t sim_request_add_header(sim_request_t *r, const char *name, const char *value);
/* Replaces the value of the first header named name (case-insensitive), or
 * adds it; same checks and errors as sim_request_add_header. */
ps_err_t sim_request_set_header(sim_request_t *r, const char *name, const char *value);
/* Returns the first header whose name matches case-insensitively (borrowed), or NULL. */
const char *sim_request_header(const sim_request_t *r, const char *name);
/*
 * Appends "METHOD PATH HTTP/1.1\r\nName: value\r\n...\r\n\r\nbody" to out (a raw
 * captured request). No Content-Length is added unless a header says so.
 * PS_ERR_TOO_LARGE when out's bound is reached (out then holds a prefix).
 */
ps_err_t sim_request_write_raw(const sim_request_t *r, ps_buf_t *out);
/* Fills out with the request as a verifier sees it (every pointer borrowed
 * from r, valid while r is unchanged), with the clock now_s. */
void sim_request_to_ingest(const sim_request_t *r, int64_t now_s, ingest_request_t *out);

#endif
