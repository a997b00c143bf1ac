/*
 * `paystream-ingest run`: wires the verifiers, the producer and the HTTP
 * tier together, serves until SIGINT or SIGTERM, and shuts down in the
 * order that keeps the delivery-gated answers honest: stop accepting, let
 * every callback that waits for Kafka get its answer, flush the producer,
 * then free the verifiers.
 */
#ifndef INGEST_RUN_H
#define INGEST_RUN_H

#include <paystream/config.h>
#include <paystream/err.h>

/*
 * Runs the service with cfg (borrowed for the call). Returns PS_OK after a
 * clean shutdown on a signal; otherwise the start-up failure (bad keys,
 * unbindable address, bad kafka.* settings) with errstr saying why.
 * @locality the main thread (it blocks SIGINT and SIGTERM and waits for them)
 */
ps_err_t ingest_run(const ps_config_t *cfg, char *errstr, size_t errstr_size);

#endif
