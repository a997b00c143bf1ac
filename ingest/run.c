/*
 * The `run` command (see run.h). Signals are blocked before any thread is
 * created, so every thread inherits the mask and only sigwait() in the main
 * thread sees SIGINT / SIGTERM: no async-signal-safety questions arise.
 */
#include "run.h"

#include "http.h"
#include "produce.h"
#include "verifiers.h"

#include <paystream/limits.h>
#include <paystream/log.h>
#include <paystream/metrics.h>
#include <paystream/version.h>

#include <signal.h>
#include <stddef.h>

ps_err_t ingest_run(const ps_config_t *cfg, char *errstr, size_t errstr_size)
{
    ps_metrics_t *metrics = ps_metrics_new();
    ingest_verifiers_t *verifiers = NULL;
    ingest_producer_t *producer = NULL;
    ingest_http_t *http = NULL;
    sigset_t set;
    int sig = 0;
    ps_err_t err;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN); /* a channel that hangs up must not kill us */
    err = ingest_verifiers_new(cfg, &verifiers, errstr, errstr_size);
    if (err == PS_OK)
        err = ingest_producer_new(cfg, metrics, &producer, errstr, errstr_size);
    if (err == PS_OK)
        err = ingest_http_start(cfg, verifiers, producer, metrics, &http, errstr, errstr_size);
    if (err != PS_OK)
        goto out;
    ps_log_info("paystream-ingest %s listening on http://%s:%u, producing to \"%s\"", PS_VERSION,
                ps_config_get_str(cfg, "http.listen_address"), (unsigned)ingest_http_port(http),
                ps_config_get_str(cfg, "topic.callbacks"));
    while (sigwait(&set, &sig) != 0)
        ;
    ps_log_info("received signal %d, shutting down", sig);
out:
    /* Waiting callbacks get their report within the delivery timeout. */
    ingest_http_stop(http, (int)ps_config_get_int(cfg, "ingest.delivery_timeout_ms") + 1000);
    ingest_producer_destroy(producer);
    ingest_verifiers_destroy(verifiers);
    ps_metrics_destroy(metrics);
    return err;
}
