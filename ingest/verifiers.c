/*
 * Dispatch from a channel to its verifier (see verifiers.h).
 */
#include "verifiers.h"

#include "alipay.h"
#include "apple.h"
#include "wechat.h"

#include <paystream/assert.h>
#include <paystream/mem.h>

struct ingest_verifiers {
    ingest_wechat_t *wechat; /* owned */
    ingest_alipay_t *alipay; /* owned */
    ingest_apple_t *apple;   /* owned */
};

ps_err_t ingest_verifiers_new(const ps_config_t *cfg, ingest_verifiers_t **out, char *errstr,
                              size_t errstr_size)
{
    ingest_verifiers_t *v = ps_calloc(1, sizeof(*v));
    ps_err_t err;

    PS_ASSERT(cfg != NULL && out != NULL);
    err = ingest_wechat_new(cfg, &v->wechat, errstr, errstr_size);
    if (err != PS_OK) {
        ps_errstr_prefix(errstr, errstr_size, err, "could not set up the wechat verifier");
        goto out;
    }
    err = ingest_alipay_new(cfg, &v->alipay, errstr, errstr_size);
    if (err != PS_OK) {
        ps_errstr_prefix(errstr, errstr_size, err, "could not set up the alipay verifier");
        goto out;
    }
    err = ingest_apple_new(cfg, &v->apple, errstr, errstr_size);
    if (err != PS_OK) {
        ps_errstr_prefix(errstr, errstr_size, err, "could not set up the apple verifier");
        goto out;
    }
    *out = v;
    v = NULL;
out:
    ingest_verifiers_destroy(v);
    return err;
}

void ingest_verifiers_destroy(ingest_verifiers_t *v)
{
    if (v == NULL)
        return;
    ingest_apple_destroy(v->apple);
    ingest_alipay_destroy(v->alipay);
    ingest_wechat_destroy(v->wechat);
    ps_free(v);
}

ps_err_t ingest_verifiers_verify(ingest_verifiers_t *v, ps_channel_t channel,
                                 const ingest_request_t *req, ingest_result_t *res)
{
    ps_err_t err = PS_ERR_INVALID;

    PS_ASSERT(v != NULL && req != NULL && res != NULL);
    switch (channel) {
    case PS_CHANNEL_WECHAT: err = ingest_wechat_verify(v->wechat, req, res); break;
    case PS_CHANNEL_ALIPAY: err = ingest_alipay_verify(v->alipay, req, res); break;
    case PS_CHANNEL_APPLE: err = ingest_apple_verify(v->apple, req, res); break;
    }
    if (err != PS_OK)
        ingest_reject(res, "internal", "could not verify %s callback: internal failure (%s)",
                      ps_channel_name(channel), ps_err_name(err));
    return err;
}

bool ingest_verifiers_ready(ingest_verifiers_t *v, ps_channel_t channel)
{
    switch (channel) {
    case PS_CHANNEL_WECHAT: return ingest_wechat_ready(v->wechat);
    case PS_CHANNEL_ALIPAY: return ingest_alipay_ready(v->alipay);
    case PS_CHANNEL_APPLE: return ingest_apple_ready(v->apple);
    }
    return false;
}
