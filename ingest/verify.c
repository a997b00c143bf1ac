/*
 * Helpers shared by the channel verifiers (see verify.h).
 */
#include "verify.h"

#include <paystream/mem.h>

#include <stdarg.h>
#include <stdio.h>
#include <strings.h>

const char *ingest_request_header(const ingest_request_t *req, const char *name)
{
    for (size_t i = 0; i < req->header_count; i++) {
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    }
    return NULL;
}

void ingest_result_deinit(ingest_result_t *res)
{
    if (res == NULL)
        return;
    ps_callback_event_deinit(&res->ev);
    res->verdict = INGEST_REJECT;
    res->reason_label = NULL;
    res->reason[0] = '\0';
}

ps_err_t ingest_reject(ingest_result_t *res, const char *label, const char *fmt, ...)
{
    va_list ap;

    ps_callback_event_deinit(&res->ev);
    res->verdict = INGEST_REJECT;
    res->reason_label = label;
    va_start(ap, fmt);
    vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
    va_end(ap);
    return PS_OK;
}
