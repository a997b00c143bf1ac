/*
 * The HTTP tier (see http.h) over libmicrohttpd 0.9.75.
 *
 * One request's life: the first access-handler call routes and checks the
 * head (method, path, content type, header count and bytes, declared
 * length); the upload calls collect the body within its bound and the
 * request deadline; the final call verifies and, for an accepted event,
 * hands it to the producer and suspends the connection. The delivery report
 * (poll thread) records the outcome and resumes the connection; the handler
 * is then called again and queues the channel's answer. `mu` orders the two
 * threads: the report may arrive before the handler got to suspend, and the
 * handler suspends only when it has not.
 */
#include "http.h"

#include "answer.h"

#include <paystream/assert.h>
#include <paystream/buf.h>
#include <paystream/limits.h>
#include <paystream/log.h>
#include <paystream/mem.h>

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* How often ingest_http_stop looks whether waiting callbacks were answered. */
#define STOP_POLL_MS 20
/* Connection memory beyond the head bound: MHD's read buffer for body chunks. */
#define CONN_MEMORY_EXTRA_BYTES (16 * 1024)
/* Plain-text reasons for routing errors. */
#define REASON_BYTES_MAX 256

struct ingest_http {
    struct MHD_Daemon *daemon;
    ingest_verifiers_t *verifiers; /* borrowed */
    ingest_producer_t *producer;   /* borrowed */
    ps_metrics_t *metrics;         /* borrowed */
    size_t body_bytes_max;
    size_t headers_max;
    size_t header_bytes_max;
    int64_t request_timeout_us;
    uint16_t port;
    atomic_bool stopping;
    atomic_int_fast64_t waiting; /* connections suspended for Kafka */
    ps_counter_t *callbacks;     /* {channel, verdict} */
    ps_counter_t *rejections;    /* {channel, reason} */
    ps_counter_t *responses;     /* {status} */
    ps_gauge_t *in_flight;
};

enum req_state { REQ_RECEIVING = 0, REQ_WAITING = 1, REQ_DELIVERED = 2, REQ_ANSWERED = 3 };

/* One callback request; freed by the completion callback. */
typedef struct http_req {
    ingest_http_t *srv;
    struct MHD_Connection *conn;
    ps_channel_t channel;
    const char *path; /* static route string */
    ps_buf_t body;
    int64_t start_us;
    pthread_mutex_t mu;
    enum req_state state; /* under mu once the event is with the producer */
    bool suspended;
    ps_err_t delivery_err;
} http_req_t;

typedef struct route {
    const char *path;
    ps_channel_t channel;
    const char *content_type; /* expected media type (parameters allowed) */
} route_t;

static const route_t routes[] = {
    {"/v1/notify/wechat", PS_CHANNEL_WECHAT, "application/json"},
    {"/v1/notify/alipay", PS_CHANNEL_ALIPAY, "application/x-www-form-urlencoded"},
    {"/v1/notify/apple", PS_CHANNEL_APPLE, "application/json"},
};

static const char *channel_label(ps_channel_t ch)
{
    return ch == PS_CHANNEL_WECHAT ? "wechat" : ch == PS_CHANNEL_ALIPAY ? "alipay" : "apple";
}

static int64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t wall_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static enum MHD_Result send_bytes(ingest_http_t *srv, struct MHD_Connection *conn,
                                  unsigned status, const char *content_type, const void *body,
                                  size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    char code[8];
    enum MHD_Result ret;

    if (resp == NULL)
        return MHD_NO;
    if (content_type != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    snprintf(code, sizeof(code), "%u", status);
    ps_counter_inc(srv->responses, code, 1);
    return ret;
}

static enum MHD_Result send_text(ingest_http_t *srv, struct MHD_Connection *conn,
                                 unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static enum MHD_Result send_text(ingest_http_t *srv, struct MHD_Connection *conn,
                                 unsigned status, const char *fmt, ...)
{
    char text[REASON_BYTES_MAX];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(text, sizeof(text) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n > sizeof(text) - 2)
        n = (int)sizeof(text) - 2;
    text[n++] = '\n';
    return send_bytes(srv, conn, status, "text/plain; charset=utf-8", text, (size_t)n);
}

static enum MHD_Result send_answer(ingest_http_t *srv, struct MHD_Connection *conn,
                                   ps_channel_t ch, ingest_outcome_t outcome, const char *label)
{
    ingest_answer_t a;
    const char *verdict = outcome == INGEST_OUTCOME_SUCCESS       ? "accepted"
                          : outcome == INGEST_OUTCOME_UNAVAILABLE ? "unavailable"
                                                                  : "rejected";
    const char *labels[2] = {channel_label(ch), verdict};

    if (outcome == INGEST_OUTCOME_SUCCESS && label != NULL)
        labels[1] = "ack_only";
    ps_counter_inc_vec(srv->callbacks, labels, 1);
    ingest_answer_make(ch, outcome, label, &a);
    return send_bytes(srv, conn, a.status, a.content_type, a.body, a.body_len);
}

static void count_rejection(ingest_http_t *srv, ps_channel_t ch, const char *reason)
{
    const char *labels[2] = {channel_label(ch), reason};

    ps_counter_inc_vec(srv->rejections, labels, 1);
}

/* ---- health, readiness, metrics ---- */

static enum MHD_Result serve_readyz(ingest_http_t *srv, struct MHD_Connection *conn)
{
    bool connected = ingest_producer_connected(srv->producer);
    bool any = false;
    char text[REASON_BYTES_MAX];
    size_t n;

    n = (size_t)snprintf(text, sizeof(text), "kafka: %s\n",
                         connected ? "connected" : "not connected");
    for (int ch = 0; ch < PS_CHANNEL_COUNT; ch++) {
        bool ready = ingest_verifiers_ready(srv->verifiers, (ps_channel_t)ch);
        any = any || ready;
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%s: %s\n",
                              channel_label((ps_channel_t)ch), ready ? "ready" : "not ready");
    }
    return send_bytes(srv, conn, connected && any ? 200 : 503, "text/plain; charset=utf-8", text,
                      n);
}

static enum MHD_Result serve_metrics(ingest_http_t *srv, struct MHD_Connection *conn)
{
    char errstr[PS_ERRSTR_SIZE];
    ps_buf_t out;
    enum MHD_Result ret;

    ps_buf_init(&out, PS_METRICS_TEXT_BYTES_MAX);
    if (ps_metrics_render(srv->metrics, &out, errstr, sizeof(errstr)) != PS_OK)
        ret = send_text(srv, conn, 500, "could not render metrics: %s", errstr);
    else
        ret = send_bytes(srv, conn, 200, "text/plain; version=0.0.4; charset=utf-8",
                         out.data != NULL ? (const void *)out.data : "", out.len);
    ps_buf_deinit(&out);
    return ret;
}

static enum MHD_Result serve_get(ingest_http_t *srv, struct MHD_Connection *conn,
                                 const char *url, const char *method)
{
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return send_text(srv, conn, 405, "method \"%s\" not allowed on \"%s\": use GET", method,
                         url);
    if (strcmp(url, "/healthz") == 0)
        return send_text(srv, conn, 200, "ok");
    if (strcmp(url, "/readyz") == 0)
        return serve_readyz(srv, conn);
    return serve_metrics(srv, conn);
}

/* ---- callback head checks ---- */

typedef struct head_stats {
    size_t count;
    size_t bytes;
} head_stats_t;

static enum MHD_Result head_stat(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    head_stats_t *st = cls;

    (void)kind;
    st->count++;
    st->bytes += strlen(key) + (value != NULL ? strlen(value) : 0) + 4; /* ": " CRLF */
    return MHD_YES;
}

/* Whether the Content-Type's media type (before any ';') is expected. */
static bool content_type_ok(const char *value, const char *expected)
{
    size_t n = strlen(expected);

    if (value == NULL || strncasecmp(value, expected, n) != 0)
        return false;
    return value[n] == '\0' || value[n] == ';' || value[n] == ' ';
}

/* First call for a callback: the checks that need only the head. */
static enum MHD_Result callback_head(ingest_http_t *srv, struct MHD_Connection *conn,
                                     const route_t *rt, const char *method, void **con_cls)
{
    const char *ctype = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    const char *clen = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    head_stats_t st = {0, 0};
    http_req_t *r;

    if (strcmp(method, "POST") != 0)
        return send_text(srv, conn, 405, "method \"%s\" not allowed on \"%s\": use POST", method,
                         rt->path);
    MHD_get_connection_values(conn, MHD_HEADER_KIND, head_stat, &st);
    if (st.count > srv->headers_max)
        return send_text(srv, conn, 431, "too many headers: %zu (http.headers_max is %zu)",
                         st.count, srv->headers_max);
    if (st.bytes > srv->header_bytes_max)
        return send_text(srv, conn, 431, "headers too large: %zu bytes (http.header_bytes_max "
                         "is %zu)", st.bytes, srv->header_bytes_max);
    if (!content_type_ok(ctype, rt->content_type))
        return send_text(srv, conn, 415, "unsupported content type \"%s\": expected \"%s\"",
                         ctype != NULL ? ctype : "", rt->content_type);
    if (clen != NULL && (strlen(clen) > 12 || strtoull(clen, NULL, 10) > srv->body_bytes_max)) {
        count_rejection(srv, rt->channel, "body_too_large");
        return send_answer(srv, conn, rt->channel, INGEST_OUTCOME_TOO_LARGE, "body_too_large");
    }
    r = ps_calloc(1, sizeof(*r));
    r->srv = srv;
    r->conn = conn;
    r->channel = rt->channel;
    r->path = rt->path;
    r->start_us = now_us();
    ps_buf_init(&r->body, srv->body_bytes_max);
    pthread_mutex_init(&r->mu, NULL);
    ps_gauge_add(srv->in_flight, NULL, 1);
    *con_cls = r;
    return MHD_YES;
}

/* ---- verification and delivery ---- */

typedef struct header_list {
    ps_header_t *items;
    size_t count;
    size_t max;
} header_list_t;

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    header_list_t *hl = cls;

    (void)kind;
    if (hl->count >= hl->max)
        return MHD_NO;
    /* Borrowed from MHD for the request; verifiers never write through them. */
    hl->items[hl->count].name = (char *)key;
    hl->items[hl->count].value = (char *)(value != NULL ? value : "");
    hl->count++;
    return MHD_YES;
}

static void on_delivery(void *opaque, ps_err_t err, const char *message)
{
    http_req_t *r = opaque;

    if (err != PS_OK)
        ps_log_warn("%s callback not acknowledged by kafka: %s", channel_label(r->channel),
                    message);
    pthread_mutex_lock(&r->mu);
    r->delivery_err = err;
    r->state = REQ_DELIVERED;
    if (r->suspended) {
        r->suspended = false;
        atomic_fetch_sub(&r->srv->waiting, 1);
        MHD_resume_connection(r->conn);
    }
    pthread_mutex_unlock(&r->mu);
}

/* Hands an accepted event to the producer; answers at once if that fails. */
static enum MHD_Result produce_or_fail(http_req_t *r, ingest_result_t *res)
{
    ingest_http_t *srv = r->srv;
    char errstr[PS_ERRSTR_SIZE];
    bool answer_now = false;

    res->ev.received_time_us = wall_us();
    if (atomic_load(&srv->stopping))
        return send_answer(srv, r->conn, r->channel, INGEST_OUTCOME_UNAVAILABLE, NULL);
    pthread_mutex_lock(&r->mu);
    r->state = REQ_WAITING;
    pthread_mutex_unlock(&r->mu);
    if (ingest_producer_send(srv->producer, &res->ev, on_delivery, r, errstr, sizeof(errstr)) !=
        PS_OK) {
        ps_log_warn("could not produce %s callback: %s", channel_label(r->channel), errstr);
        r->state = REQ_ANSWERED;
        return send_answer(srv, r->conn, r->channel, INGEST_OUTCOME_UNAVAILABLE, NULL);
    }
    pthread_mutex_lock(&r->mu);
    if (r->state == REQ_WAITING) {
        r->suspended = true;
        atomic_fetch_add(&srv->waiting, 1);
        MHD_suspend_connection(r->conn);
    } else {
        answer_now = true;
    }
    pthread_mutex_unlock(&r->mu);
    if (!answer_now)
        return MHD_YES;
    r->state = REQ_ANSWERED;
    return send_answer(srv, r->conn, r->channel,
                       r->delivery_err == PS_OK ? INGEST_OUTCOME_SUCCESS
                                                : INGEST_OUTCOME_UNAVAILABLE,
                       NULL);
}

static enum MHD_Result verify_and_produce(http_req_t *r)
{
    ingest_http_t *srv = r->srv;
    ps_header_t headers[PS_HTTP_HEADERS_MAX];
    header_list_t hl = {headers, 0, PS_HTTP_HEADERS_MAX};
    ingest_result_t res;
    ingest_request_t req;
    enum MHD_Result ret;

    memset(&res, 0, sizeof(res));
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, collect_header, &hl);
    req.method = "POST";
    req.path = r->path;
    req.headers = headers;
    req.header_count = hl.count;
    req.body = r->body.data != NULL ? r->body.data : (const uint8_t *)"";
    req.body_len = r->body.len;
    req.now_s = (int64_t)time(NULL);
    if (ingest_verifiers_verify(srv->verifiers, r->channel, &req, &res) != PS_OK)
        ps_log_error("%s", res.reason);
    switch (res.verdict) {
    case INGEST_ACCEPT: ret = produce_or_fail(r, &res); break;
    case INGEST_ACK_ONLY:
        ps_log_info("acknowledged %s callback without producing it: %s",
                    channel_label(r->channel), res.reason_label);
        r->state = REQ_ANSWERED;
        ret = send_answer(srv, r->conn, r->channel, INGEST_OUTCOME_SUCCESS, res.reason_label);
        break;
    default:
        ps_log_info("rejected %s callback (%s): %s", channel_label(r->channel),
                    res.reason_label != NULL ? res.reason_label : "unknown", res.reason);
        count_rejection(srv, r->channel, res.reason_label != NULL ? res.reason_label : "unknown");
        r->state = REQ_ANSWERED;
        ret = send_answer(srv, r->conn, r->channel,
                          res.reason_label != NULL && strcmp(res.reason_label, "internal") == 0
                              ? INGEST_OUTCOME_UNAVAILABLE
                              : INGEST_OUTCOME_REJECTED,
                          res.reason_label);
        break;
    }
    ingest_result_deinit(&res);
    return ret;
}

/* Body chunks: kept within the bound and the request deadline. */
static enum MHD_Result callback_upload(http_req_t *r, const char *data, size_t *size)
{
    if (now_us() - r->start_us > r->srv->request_timeout_us) {
        ps_log_info("dropped %s callback: request took longer than http.request_timeout_s",
                    channel_label(r->channel));
        count_rejection(r->srv, r->channel, "request_timeout");
        return MHD_NO;
    }
    if (ps_buf_append(&r->body, data, *size) != PS_OK) {
        /* No Content-Length announced it: drop rather than read past the bound. */
        ps_log_info("dropped %s callback: body over http.body_bytes_max (%zu)",
                    channel_label(r->channel), r->srv->body_bytes_max);
        count_rejection(r->srv, r->channel, "body_too_large");
        return MHD_NO;
    }
    *size = 0;
    return MHD_YES;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    ingest_http_t *srv = cls;
    http_req_t *r = *con_cls;
    enum req_state state;

    (void)version;
    if (r == NULL) {
        for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
            if (strcmp(url, routes[i].path) == 0)
                return callback_head(srv, conn, &routes[i], method, con_cls);
        }
        if (strcmp(url, "/healthz") == 0 || strcmp(url, "/readyz") == 0 ||
            strcmp(url, "/metrics") == 0)
            return serve_get(srv, conn, url, method);
        return send_text(srv, conn, 404, "no route for \"%s\": callbacks go to "
                         "/v1/notify/wechat, /v1/notify/alipay or /v1/notify/apple", url);
    }
    if (*upload_data_size > 0)
        return callback_upload(r, upload_data, upload_data_size);
    pthread_mutex_lock(&r->mu);
    state = r->state;
    pthread_mutex_unlock(&r->mu);
    if (state == REQ_RECEIVING)
        return verify_and_produce(r);
    if (state != REQ_DELIVERED)
        return MHD_YES; /* a spurious call while answered or still waiting */
    r->state = REQ_ANSWERED;
    return send_answer(srv, conn, r->channel,
                       r->delivery_err == PS_OK ? INGEST_OUTCOME_SUCCESS
                                                : INGEST_OUTCOME_UNAVAILABLE,
                       NULL);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    http_req_t *r = *con_cls;

    (void)cls;
    (void)conn;
    (void)toe;
    if (r == NULL)
        return;
    /* A request still waiting for Kafka is suspended: MHD cannot end it. */
    PS_ASSERT(r->state != REQ_WAITING);
    ps_gauge_add(r->srv->in_flight, NULL, -1);
    pthread_mutex_destroy(&r->mu);
    ps_buf_deinit(&r->body);
    ps_free(r);
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char text[PS_ERRSTR_SIZE];
    size_t n;

    (void)cls;
    vsnprintf(text, sizeof(text), fmt, ap);
    n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '.'))
        text[--n] = '\0';
    ps_log_warn("http: %s", text);
}

static void register_metrics(ingest_http_t *srv, ps_metrics_t *metrics)
{
    static const char *const cv[] = {"channel", "verdict"};
    static const char *const cr[] = {"channel", "reason"};

    srv->callbacks = ps_metrics_counter_vec(
        metrics, "paystream_ingest_callbacks_total",
        "Callbacks answered, by channel and verdict (accepted = acknowledged by Kafka, ack_only, "
        "rejected, unavailable).", cv, 2);
    srv->rejections = ps_metrics_counter_vec(metrics, "paystream_ingest_rejections_total",
                                             "Rejected callbacks by channel and reason.", cr, 2);
    srv->responses = ps_metrics_counter(metrics, "paystream_ingest_http_responses_total",
                                        "HTTP responses by status code.", "status");
    srv->in_flight = ps_metrics_gauge(metrics, "paystream_ingest_requests_in_flight",
                                      "Callback requests being received, verified or waiting "
                                      "for Kafka.", NULL);
}

static ps_err_t parse_address(const ps_config_t *cfg, struct sockaddr_in *sin, char *errstr,
                              size_t errstr_size)
{
    const char *addr = ps_config_get_str(cfg, "http.listen_address");

    memset(sin, 0, sizeof(*sin));
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)ps_config_get_int(cfg, "http.port"));
    if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                             "invalid value \"%s\" for key \"http.listen_address\": not an IPv4 "
                             "address", addr);
    return PS_OK;
}

ps_err_t ingest_http_start(const ps_config_t *cfg, ingest_verifiers_t *verifiers,
                           ingest_producer_t *producer, ps_metrics_t *metrics,
                           ingest_http_t **out, char *errstr, size_t errstr_size)
{
    ingest_http_t *srv = ps_calloc(1, sizeof(*srv));
    struct sockaddr_in sin;
    const union MHD_DaemonInfo *info;
    ps_err_t err;

    PS_ASSERT(cfg != NULL && verifiers != NULL && producer != NULL && metrics != NULL);
    srv->verifiers = verifiers;
    srv->producer = producer;
    srv->metrics = metrics;
    srv->body_bytes_max = (size_t)ps_config_get_int(cfg, "http.body_bytes_max");
    srv->headers_max = (size_t)ps_config_get_int(cfg, "http.headers_max");
    srv->header_bytes_max = (size_t)ps_config_get_int(cfg, "http.header_bytes_max");
    srv->request_timeout_us = ps_config_get_int(cfg, "http.request_timeout_s") * 1000000;
    register_metrics(srv, metrics);
    err = parse_address(cfg, &sin, errstr, errstr_size);
    if (err != PS_OK)
        goto out;
    srv->daemon = MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL,
        NULL, handle, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)ps_config_get_int(cfg, "http.threads"),
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)ps_config_get_int(cfg, "http.connections_max"),
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)ps_config_get_int(cfg, "http.request_timeout_s"),
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, srv->header_bytes_max + CONN_MEMORY_EXTRA_BYTES,
        MHD_OPTION_NOTIFY_COMPLETED, completed, srv, MHD_OPTION_END);
    if (srv->daemon == NULL) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_IO,
                            "could not listen on %s:%lld: address in use or not available",
                            ps_config_get_str(cfg, "http.listen_address"),
                            (long long)ps_config_get_int(cfg, "http.port"));
        goto out;
    }
    info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info != NULL ? info->port : ntohs(sin.sin_port);
    *out = srv;
    srv = NULL;
out:
    ps_free(srv);
    return err;
}

uint16_t ingest_http_port(const ingest_http_t *h)
{
    return h->port;
}

void ingest_http_stop(ingest_http_t *h, int wait_ms)
{
    int64_t deadline_us;
    MHD_socket s;

    if (h == NULL)
        return;
    atomic_store(&h->stopping, true);
    s = MHD_quiesce_daemon(h->daemon);
    if (s != MHD_INVALID_SOCKET)
        close(s);
    deadline_us = now_us() + (int64_t)wait_ms * 1000;
    while (atomic_load(&h->waiting) > 0 && now_us() < deadline_us) {
        struct timespec ts = {0, STOP_POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (atomic_load(&h->waiting) > 0)
        ps_log_error("stopping http with %lld callbacks still waiting for kafka",
                     (long long)atomic_load(&h->waiting));
    MHD_stop_daemon(h->daemon);
    ps_free(h);
}
