/*
 * The HTTP tier of paystream-ingest (libmicrohttpd, internal thread pool,
 * epoll). Routes:
 *   POST /v1/notify/wechat | alipay | apple   a channel callback
 *   GET  /healthz                             alive (always 200)
 *   GET  /readyz                              producer connected and at
 *                                             least one channel's keys loaded
 *   GET  /metrics                             Prometheus text
 * A callback is verified over the exact bytes received, produced, and its
 * connection suspended until Kafka's delivery report: the answer (answer.h)
 * is "success" only after the ack, so waiting requests hold no worker
 * thread. Bounds: body (413), header count and bytes (431), connection idle
 * and request time, connections; wrong method (405), path (404) and content
 * type (415) are answered with a plain-text reason.
 */
#ifndef INGEST_HTTP_H
#define INGEST_HTTP_H

#include "produce.h"
#include "verifiers.h"

#include <paystream/config.h>
#include <paystream/err.h>
#include <paystream/metrics.h>
#include <stdint.h>

typedef struct ingest_http ingest_http_t;

/*
 * Starts serving with the http.* keys of cfg (borrowed for the call).
 * verifiers, producer and metrics are borrowed and must outlive the server.
 * Errors: PS_ERR_IO when the address cannot be bound (the message names it).
 * *out is owned by the caller (ingest_http_stop).
 * @locality start-up thread
 */
ps_err_t ingest_http_start(const ps_config_t *cfg, ingest_verifiers_t *verifiers,
                           ingest_producer_t *producer, ps_metrics_t *metrics,
                           ingest_http_t **out, char *errstr, size_t errstr_size);

/* The port actually bound (http.port 0 picks a free one). */
uint16_t ingest_http_port(const ingest_http_t *h);

/*
 * Stops accepting connections, waits (bounded by wait_ms) until every
 * callback waiting for Kafka has been answered, then stops the threads and
 * frees the server. Accepts NULL.
 * @locality the thread that started it
 */
void ingest_http_stop(ingest_http_t *h, int wait_ms);

#endif
