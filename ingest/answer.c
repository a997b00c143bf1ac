/*
 * Channel answers (see answer.h). Kept as a small pure module so that the
 * HTTP tier, the simulator's sender and the tests agree on what "success"
 * means for each channel.
 */
#include "answer.h"

#include <paystream/assert.h>

#include <stdio.h>
#include <string.h>

/* A reject label is shown to WeChat only when it is a short snake_case word. */
#define LABEL_BYTES_MAX 64

static bool label_is_plain(const char *label)
{
    size_t n = 0;

    if (label == NULL || label[0] == '\0')
        return false;
    for (const char *p = label; *p != '\0'; p++, n++) {
        if (n >= LABEL_BYTES_MAX)
            return false;
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    }
    return true;
}

static void set_body(ingest_answer_t *out, const char *content_type, const char *text)
{
    size_t n = strlen(text);

    PS_ASSERT(n < sizeof(out->body));
    memcpy(out->body, text, n + 1);
    out->body_len = n;
    out->content_type = content_type;
}

static unsigned failure_status(ps_channel_t channel, ingest_outcome_t outcome)
{
    switch (outcome) {
    case INGEST_OUTCOME_TOO_LARGE: return 413;
    case INGEST_OUTCOME_UNAVAILABLE: return 503;
    default: break;
    }
    /* REJECTED: Alipay reads only the body; Apple retries 5xx reliably. */
    switch (channel) {
    case PS_CHANNEL_WECHAT: return 400;
    case PS_CHANNEL_ALIPAY: return 200;
    default: return 500;
    }
}

void ingest_answer_make(ps_channel_t channel, ingest_outcome_t outcome, const char *label,
                        ingest_answer_t *out)
{
    PS_ASSERT(out != NULL);
    PS_ASSERT(channel == PS_CHANNEL_WECHAT || channel == PS_CHANNEL_ALIPAY ||
              channel == PS_CHANNEL_APPLE);
    memset(out, 0, sizeof(*out));
    if (outcome == INGEST_OUTCOME_SUCCESS) {
        out->status = channel == PS_CHANNEL_WECHAT ? 204 : 200;
        if (channel == PS_CHANNEL_ALIPAY)
            set_body(out, "text/plain", "success");
        return;
    }
    out->status = failure_status(channel, outcome);
    if (channel == PS_CHANNEL_ALIPAY) {
        set_body(out, "text/plain", "failure");
    } else if (channel == PS_CHANNEL_WECHAT) {
        const char *msg = outcome == INGEST_OUTCOME_UNAVAILABLE ? "unavailable"
                          : outcome == INGEST_OUTCOME_TOO_LARGE ? "body_too_large"
                          : label_is_plain(label)               ? label
                                                                : "failure";
        /* msg is snake_case only, so it needs no JSON escaping. */
        out->body_len = (size_t)snprintf(out->body, sizeof(out->body),
                                         "{\"code\":\"FAIL\",\"message\":\"%s\"}", msg);
        out->content_type = "application/json";
    }
}

bool ingest_answer_is_success(ps_channel_t channel, unsigned status, const uint8_t *body,
                              size_t body_len)
{
    switch (channel) {
    case PS_CHANNEL_WECHAT: return status == 200 || status == 204;
    case PS_CHANNEL_ALIPAY:
        return status == 200 && body_len == 7 && body != NULL && memcmp(body, "success", 7) == 0;
    case PS_CHANNEL_APPLE: return status >= 200 && status <= 206;
    }
    return false;
}
