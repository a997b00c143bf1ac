/*
 * Processor operations (see ops.h): metric definitions, the /metrics HTTP
 * endpoint and the stop signals. The endpoint renders the registry on its
 * own thread; the registry is thread-safe, so the loop never waits for a
 * scrape.
 */
#include "ops.h"

#include <paystream/assert.h>
#include <paystream/buf.h>
#include <paystream/limits.h>
#include <paystream/log.h>
#include <paystream/mem.h>

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <string.h>

/* Items per batch: powers of two-ish up to the largest allowed batch. */
static const int64_t batch_event_bounds[] = {1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000};
/* BEGIN..COMMIT in microseconds: 1 ms to 10 s. */
static const int64_t batch_latency_bounds_us[] = {1000,   5000,    10000,   25000,  50000,
                                                  100000, 250000,  500000,  1000000, 2500000,
                                                  5000000, 10000000};

void proc_metrics_init(proc_metrics_t *m)
{
    static const char *const lag_labels[] = {"topic", "partition"};

    memset(m, 0, sizeof(*m));
    m->reg = ps_metrics_new();
    m->consumed = ps_metrics_counter(m->reg, "paystream_processor_consumed_total",
                                     "Messages taken from Kafka into batches.", NULL);
    m->applied = ps_metrics_counter(m->reg, "paystream_processor_applied_total",
                                    "Events and commands applied for the first time.", "kind");
    m->duplicates = ps_metrics_counter(m->reg, "paystream_processor_duplicates_total",
                                       "Events and commands already applied: absorbed.", "kind");
    m->dead_lettered = ps_metrics_counter(m->reg, "paystream_processor_dead_lettered_total",
                                          "Messages written to dead_letters.", NULL);
    m->journals = ps_metrics_counter(m->reg, "paystream_processor_journals_posted_total",
                                     "Ledger journals posted.", NULL);
    m->batches = ps_metrics_counter(m->reg, "paystream_processor_batches_total",
                                    "Batches committed (one transaction each).", NULL);
    m->rollbacks = ps_metrics_counter(m->reg, "paystream_processor_rollbacks_total",
                                      "Batches rolled back and re-read, by reason.", "reason");
    m->alerts = ps_metrics_counter(m->reg, "paystream_processor_apply_alerts_total",
                                   "Apply failures that are not transient (retried with backoff; "
                                   "a person should look).",
                                   NULL);
    m->reconnects = ps_metrics_counter(m->reg, "paystream_processor_pg_reconnects_total",
                                       "PostgreSQL connections re-opened after a loss.", NULL);
    m->batch_events = ps_metrics_histogram(
        m->reg, "paystream_processor_batch_events", "Items per committed batch.", NULL,
        batch_event_bounds, sizeof(batch_event_bounds) / sizeof(batch_event_bounds[0]), 0);
    m->batch_latency = ps_metrics_histogram(
        m->reg, "paystream_processor_batch_seconds", "Apply transaction time, BEGIN to COMMIT.",
        NULL, batch_latency_bounds_us,
        sizeof(batch_latency_bounds_us) / sizeof(batch_latency_bounds_us[0]),
        PS_METRIC_SCALE_US_TO_S);
    m->lag = ps_metrics_gauge_vec(m->reg, "paystream_processor_lag_messages",
                                  "High watermark minus the stored next offset, per partition.",
                                  lag_labels, 2);
    m->assigned = ps_metrics_gauge(m->reg, "paystream_processor_assigned_partitions",
                                   "Partitions this instance owns.", NULL);
}

void proc_metrics_deinit(proc_metrics_t *m)
{
    ps_metrics_destroy(m->reg);
    memset(m, 0, sizeof(*m));
}

struct proc_http {
    struct MHD_Daemon *daemon;
    ps_metrics_t *reg;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int status, const char *type,
                             void *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, mode);
    enum MHD_Result ret;

    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", type);
    ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state)
{
    static char not_found[] = "not found\n", not_allowed[] = "method not allowed\n",
                too_large[] = "metrics too large\n";
    proc_http_t *srv = cls;
    char errstr[PS_ERRSTR_SIZE];
    ps_buf_t out;
    size_t len;
    uint8_t *text;

    if (strcmp(method, "GET") != 0)
        return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", not_allowed,
                     sizeof(not_allowed) - 1, MHD_RESPMEM_PERSISTENT);
    if (strcmp(url, "/metrics") != 0)
        return reply(conn, MHD_HTTP_NOT_FOUND, "text/plain", not_found, sizeof(not_found) - 1,
                     MHD_RESPMEM_PERSISTENT);
    ps_buf_init(&out, PS_METRICS_TEXT_BYTES_MAX);
    if (ps_metrics_render(srv->reg, &out, errstr, sizeof(errstr)) != PS_OK) {
        ps_log_error("could not render metrics: %s", errstr);
        ps_buf_deinit(&out);
        return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", too_large,
                     sizeof(too_large) - 1, MHD_RESPMEM_PERSISTENT);
    }
    text = ps_buf_steal(&out, &len);
    /* MHD_RESPMEM_MUST_FREE releases with free(); ps_buf allocates with malloc. */
    return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4", text, len,
                 MHD_RESPMEM_MUST_FREE);
}

ps_err_t proc_http_start(ps_metrics_t *reg, const char *listen_addr, int port, proc_http_t **out,
                         char *errstr, size_t errstr_size)
{
    struct sockaddr_in addr;
    proc_http_t *srv;

    PS_ASSERT(reg != NULL && listen_addr != NULL && out != NULL);
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (port < 1 || port > 65535 || inet_pton(AF_INET, listen_addr, &addr.sin_addr) != 1)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "invalid metrics address \"%s\" port %d: expected an IPv4 address "
                             "and a port in [1, 65535]",
                             listen_addr, port);
    srv = ps_calloc(1, sizeof(*srv));
    srv->reg = reg;
    srv->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, (uint16_t)port, NULL, NULL, handle,
        srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)PS_PROC_METRICS_CONNECTIONS_MAX, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int)10, MHD_OPTION_END);
    if (srv->daemon == NULL) {
        ps_free(srv);
        return ps_errstr_set(errstr, errstr_size, PS_ERR_IO,
                             "could not listen for metrics on %s:%d: %s", listen_addr, port,
                             errno != 0 ? strerror(errno) : "libmicrohttpd refused");
    }
    *out = srv;
    return PS_OK;
}

void proc_http_stop(proc_http_t *srv)
{
    if (srv == NULL)
        return;
    MHD_stop_daemon(srv->daemon);
    ps_free(srv);
}

static volatile sig_atomic_t *stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    *stop_flag = 1;
}

ps_err_t proc_signals_install(volatile sig_atomic_t *flag, char *errstr, size_t errstr_size)
{
    struct sigaction sa;

    PS_ASSERT(flag != NULL);
    stop_flag = flag;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_IO, "could not install signal handlers: %s",
                             strerror(errno));
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &sa, NULL) != 0)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_IO, "could not ignore SIGPIPE: %s",
                             strerror(errno));
    return PS_OK;
}
