/*
 * Operations of paystream-processor: the metrics it exports, the HTTP
 * endpoint that serves them (libmicrohttpd, GET /metrics), and the SIGTERM /
 * SIGINT handling that asks the loop to finish or roll back its batch and
 * leave the group cleanly.
 */
#ifndef PROC_OPS_H
#define PROC_OPS_H

#include <paystream/err.h>
#include <paystream/metrics.h>
#include <signal.h>
#include <stdint.h>

/* Every series the loop updates; pointers borrowed from reg. */
typedef struct proc_metrics {
    ps_metrics_t *reg;               /* owned */
    ps_counter_t *consumed;          /* messages taken into batches */
    ps_counter_t *applied;           /* label kind: event, command (after COMMIT) */
    ps_counter_t *duplicates;        /* label kind: event, command */
    ps_counter_t *dead_lettered;
    ps_counter_t *journals;
    ps_counter_t *batches;           /* committed transactions */
    ps_counter_t *rollbacks;         /* label reason: retriable, abortable, fatal, fenced, kafka */
    ps_counter_t *alerts;            /* non-retriable apply errors: someone must look */
    ps_counter_t *reconnects;        /* PostgreSQL reconnections */
    ps_histogram_t *batch_events;    /* items per committed batch */
    ps_histogram_t *batch_latency;   /* BEGIN..COMMIT, microseconds, rendered as seconds */
    ps_gauge_t *lag;                 /* labels topic, partition: high watermark - stored offset */
    ps_gauge_t *assigned;            /* partitions owned */
} proc_metrics_t;

/* Registers every metric in a new registry. Never fails (definitions are constants). */
void proc_metrics_init(proc_metrics_t *m);
void proc_metrics_deinit(proc_metrics_t *m);

typedef struct proc_http proc_http_t;

/*
 * Serves GET /metrics on listen_addr:port (IPv4 text address, borrowed for
 * the call) from an internal libmicrohttpd thread; reg is borrowed and must
 * outlive the server. Other paths are 404, other methods 405. *out owned
 * (proc_http_stop). PS_ERR_INVALID for a bad address, PS_ERR_IO when the
 * port cannot be bound.
 */
ps_err_t proc_http_start(ps_metrics_t *reg, const char *listen_addr, int port, proc_http_t **out,
                         char *errstr, size_t errstr_size);
/* Stops the server and frees it. Accepts NULL. */
void proc_http_stop(proc_http_t *srv);

/*
 * Installs SIGTERM and SIGINT handlers that set *flag (borrowed; static
 * storage) to 1, and ignores SIGPIPE. PS_ERR_IO if sigaction fails.
 */
ps_err_t proc_signals_install(volatile sig_atomic_t *flag, char *errstr, size_t errstr_size);

#endif
