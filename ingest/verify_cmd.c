/*
 * The offline `verify` command (see verify_cmd.h): load the request file,
 * run the channel's verifier exactly as the service would, print the
 * verdict. Nothing is produced. The network is touched only when the
 * configuration sets wechat.cert_refresh_url (the verifier then downloads
 * platform certificates as the service would); for old evidence, configure
 * the certificates that were valid then instead.
 */
#include "verify_cmd.h"

#include "reqfile.h"
#include "verifiers.h"

#include <paystream/base64.h>
#include <paystream/buf.h>
#include <paystream/limits.h>
#include <paystream/money.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { VERIFY_OK = 0, VERIFY_FAIL = 1, VERIFY_USAGE = 2 };

static void set_str(json_t *o, const char *key, const char *value)
{
    json_object_set_new(o, key, value != NULL ? json_string(value) : json_null());
}

static json_t *headers_json(const ps_callback_event_t *ev)
{
    json_t *a = json_array();

    for (size_t i = 0; i < ev->header_count; i++) {
        json_t *h = json_object();
        set_str(h, "name", ev->headers[i].name);
        set_str(h, "value", ev->headers[i].value);
        json_array_append_new(a, h);
    }
    return a;
}

static void add_body(json_t *o, const ps_callback_event_t *ev)
{
    json_t *text = json_stringn((const char *)ev->raw_body, ev->raw_body_len);
    ps_buf_t b64;

    if (text != NULL) { /* jansson accepts only valid UTF-8 without NUL */
        json_object_set_new(o, "raw_body", text);
        return;
    }
    ps_buf_init(&b64, PS_EVIDENCE_BODY_BYTES_MAX * 2);
    if (ps_base64_encode(ev->raw_body, ev->raw_body_len, PS_BASE64_STD, &b64) == PS_OK)
        json_object_set_new(o, "raw_body_base64", json_stringn((const char *)b64.data, b64.len));
    ps_buf_deinit(&b64);
}

static void add_amount(json_t *o, const char *key, int64_t minor, const char *currency)
{
    char text[PS_MONEY_DECIMAL_BYTES_MAX];

    json_object_set_new(o, key, json_integer(minor));
    /* The decimal form is for people; minor units stay the source of truth. */
    if (ps_money_format(minor, currency, text, sizeof(text)) == PS_OK) {
        char dkey[64];
        snprintf(dkey, sizeof(dkey), "%s_decimal", key);
        json_object_set_new(o, dkey, json_string(text));
    }
}

json_t *ingest_event_to_json(const ps_callback_event_t *ev)
{
    json_t *o;

    if (ev == NULL)
        return NULL;
    o = json_object();
    set_str(o, "channel", ps_channel_name(ev->channel));
    set_str(o, "channel_event_id", ev->channel_event_id);
    set_str(o, "kind", ps_event_kind_name(ev->kind));
    set_str(o, "channel_event_type", ev->channel_event_type);
    set_str(o, "merchant_order_no", ev->merchant_order_no);
    set_str(o, "channel_txn_id", ev->channel_txn_id);
    set_str(o, "refund_id", ev->refund_id);
    add_amount(o, "amount_minor", ev->amount_minor, ev->currency);
    if (ev->has_refund_total)
        add_amount(o, "refund_total_minor", ev->refund_total_minor, ev->currency);
    set_str(o, "currency", ev->currency);
    set_str(o, "account_id", ev->account_id);
    json_object_set_new(o, "event_time_us", json_integer(ev->event_time_us));
    if (ev->has_paid_time)
        json_object_set_new(o, "paid_time_us", json_integer(ev->paid_time_us));
    set_str(o, "key_id", ev->key_id);
    json_object_set_new(o, "headers", headers_json(ev));
    add_body(o, ev);
    return o;
}

static int print_verdict(const ingest_result_t *res, FILE *out, FILE *err)
{
    json_t *o;
    char *text;

    if (res->verdict == INGEST_REJECT) {
        fprintf(err, "paystream-ingest: callback does not verify (%s): %s\n",
                res->reason_label != NULL ? res->reason_label : "unknown", res->reason);
        return VERIFY_FAIL;
    }
    if (res->verdict == INGEST_ACK_ONLY) {
        o = json_object();
        set_str(o, "verdict", "ack_only");
        set_str(o, "reason", res->reason_label);
    } else {
        o = ingest_event_to_json(&res->ev);
    }
    text = json_dumps(o, JSON_SORT_KEYS | JSON_INDENT(2));
    fprintf(out, "%s\n", text != NULL ? text : "{}");
    free(text);
    json_decref(o);
    return VERIFY_OK;
}

int ingest_verify_cmd(const ps_config_t *cfg, const char *channel_name, const char *request_path,
                      bool has_at, int64_t at_s, FILE *out, FILE *err)
{
    char errstr[PS_ERRSTR_SIZE];
    ingest_verifiers_t *v = NULL;
    ingest_reqfile_t rf;
    ingest_request_t req;
    ingest_result_t res;
    ps_channel_t channel;
    int rc = VERIFY_FAIL;

    memset(&rf, 0, sizeof(rf));
    memset(&res, 0, sizeof(res));
    if (ps_channel_parse(channel_name, &channel) != PS_OK) {
        fprintf(err, "paystream-ingest: unknown channel \"%s\" (expected wechat, alipay or "
                     "apple)\n", channel_name);
        return VERIFY_USAGE;
    }
    if (ingest_reqfile_load(request_path, &rf, errstr, sizeof(errstr)) != PS_OK) {
        fprintf(err, "paystream-ingest: %s\n", errstr);
        goto out;
    }
    if (ingest_verifiers_new(cfg, &v, errstr, sizeof(errstr)) != PS_OK) {
        fprintf(err, "paystream-ingest: %s\n", errstr);
        goto out;
    }
    ingest_reqfile_request(&rf, has_at ? at_s : (int64_t)time(NULL), &req);
    if (ingest_verifiers_verify(v, channel, &req, &res) != PS_OK) {
        fprintf(err, "paystream-ingest: %s\n", res.reason);
        goto out;
    }
    rc = print_verdict(&res, out, err);
out:
    ingest_result_deinit(&res);
    ingest_verifiers_destroy(v);
    ingest_reqfile_deinit(&rf);
    return rc;
}
