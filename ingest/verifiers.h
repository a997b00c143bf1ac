/*
 * The three channel verifiers behind one handle, so that the HTTP tier and
 * the offline `verify` command dispatch by channel without knowing each
 * verifier's type. Each verifier reads its own keys from the configuration;
 * a channel whose keys are not configured is created disabled and rejects
 * its callbacks as "channel_disabled".
 */
#ifndef INGEST_VERIFIERS_H
#define INGEST_VERIFIERS_H

#include "verify.h"

#include <paystream/config.h>
#include <paystream/err.h>
#include <paystream/event.h>
#include <stdbool.h>

typedef struct ingest_verifiers ingest_verifiers_t;

/*
 * Creates the WeChat, Alipay and Apple verifiers from cfg (borrowed for the
 * call). Errors: the first verifier that fails, its message prefixed with
 * the channel. *out is owned by the caller (ingest_verifiers_destroy).
 * @locality start-up thread
 */
ps_err_t ingest_verifiers_new(const ps_config_t *cfg, ingest_verifiers_t **out, char *errstr,
                              size_t errstr_size);

/* Releases every verifier; accepts NULL. No verify call may be running. */
void ingest_verifiers_destroy(ingest_verifiers_t *v);

/*
 * Verifies req (borrowed) with channel's verifier into res (caller-owned,
 * zeroed or released before). PS_OK whenever a verdict was reached; another
 * code is an internal failure (res then holds REJECT "internal").
 * @locality any thread, concurrently
 */
ps_err_t ingest_verifiers_verify(ingest_verifiers_t *v, ps_channel_t channel,
                                 const ingest_request_t *req, ingest_result_t *res);

/* Whether channel's keys are loaded (false when it is disabled). Any thread. */
bool ingest_verifiers_ready(ingest_verifiers_t *v, ps_channel_t channel);

#endif
