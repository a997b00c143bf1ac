/*
 * Copies CallbackEvent and LedgerCommand between their C structs (event.h)
 * and Avro-C generic record values of the embedded schemas. Fields are
 * addressed by name, so the mapping survives fields being added to the
 * schemas. Inputs were validated before (structs by avro_check.c, bytes by
 * avro_validate.c); an Avro-C failure here is reported with avro_strerror().
 */
#include "avro_int.h"

#include <paystream/assert.h>
#include <paystream/mem.h>

#include <string.h>

/* Reports an Avro-C failure on field name; Avro-C's text is global (see avro.h). */
static ps_err_t avro_fail(const char *field, char *errstr, size_t errstr_size)
{
    return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID, "could not access field \"%s\": %s",
                         field, avro_strerror());
}

static int field(avro_value_t *rec, const char *name, avro_value_t *out)
{
    return avro_value_get_by_name(rec, name, out, NULL);
}

static int set_string(avro_value_t *rec, const char *name, const char *s)
{
    avro_value_t f;

    return field(rec, name, &f) || avro_value_set_string(&f, s);
}

static int set_long(avro_value_t *rec, const char *name, int64_t v)
{
    avro_value_t f;

    return field(rec, name, &f) || avro_value_set_long(&f, v);
}

static int set_enum(avro_value_t *rec, const char *name, int v)
{
    avro_value_t f;

    return field(rec, name, &f) || avro_value_set_enum(&f, v);
}

/* ["null","string"]: branch 0 when s is NULL. */
static int set_opt_string(avro_value_t *rec, const char *name, const char *s)
{
    avro_value_t f, b;

    if (field(rec, name, &f) || avro_value_set_branch(&f, s != NULL, &b))
        return 1;
    return s != NULL ? avro_value_set_string(&b, s) : avro_value_set_null(&b);
}

/* ["null","long"]: branch 0 when !has. */
static int set_opt_long(avro_value_t *rec, const char *name, bool has, int64_t v)
{
    avro_value_t f, b;

    if (field(rec, name, &f) || avro_value_set_branch(&f, has, &b))
        return 1;
    return has ? avro_value_set_long(&b, v) : avro_value_set_null(&b);
}

static int set_evidence(avro_value_t *rec, const ps_callback_event_t *ev)
{
    avro_value_t evid, f, hdrs, h;

    if (field(rec, "evidence", &evid) || field(&evid, "raw_body", &f) ||
        /* Avro-C copies the bytes; the cast drops a const it does not need. */
        avro_value_set_bytes(&f, ev->raw_body_len ? (void *)ev->raw_body : (void *)"",
                             ev->raw_body_len) ||
        field(&evid, "headers", &hdrs) || avro_value_reset(&hdrs))
        return 1;
    for (size_t i = 0; i < ev->header_count; i++)
        if (avro_value_append(&hdrs, &h, NULL) || set_string(&h, "name", ev->headers[i].name) ||
            set_string(&h, "value", ev->headers[i].value))
            return 1;
    return set_string(&evid, "key_id", ev->key_id);
}

ps_err_t ps__avro_callback_event_to_value(const ps_callback_event_t *ev, avro_value_t *rec,
                                          char *errstr, size_t errstr_size)
{
    if (set_enum(rec, "channel", (int)ev->channel) ||
        set_string(rec, "channel_event_id", ev->channel_event_id) ||
        set_enum(rec, "kind", (int)ev->kind) ||
        set_string(rec, "channel_event_type", ev->channel_event_type) ||
        set_string(rec, "merchant_order_no", ev->merchant_order_no) ||
        set_string(rec, "channel_txn_id", ev->channel_txn_id) ||
        set_opt_string(rec, "refund_id", ev->refund_id) ||
        set_long(rec, "amount_minor", ev->amount_minor) ||
        set_opt_long(rec, "refund_total_minor", ev->has_refund_total, ev->refund_total_minor) ||
        set_string(rec, "currency", ev->currency) ||
        set_string(rec, "account_id", ev->account_id) ||
        set_long(rec, "event_time_us", ev->event_time_us) ||
        set_long(rec, "received_time_us", ev->received_time_us) ||
        set_opt_long(rec, "paid_time_us", ev->has_paid_time, ev->paid_time_us) ||
        set_evidence(rec, ev))
        return avro_fail("CallbackEvent", errstr, errstr_size);
    return PS_OK;
}

ps_err_t ps__avro_ledger_command_to_value(const ps_ledger_command_t *cmd, avro_value_t *rec,
                                          char *errstr, size_t errstr_size)
{
    if (set_string(rec, "command_id", cmd->command_id) || set_enum(rec, "kind", (int)cmd->kind) ||
        set_enum(rec, "channel", (int)cmd->channel) ||
        set_string(rec, "payment_key", cmd->payment_key) ||
        set_long(rec, "amount_minor", cmd->amount_minor) ||
        set_string(rec, "currency", cmd->currency) ||
        set_opt_string(rec, "account_id", cmd->account_id) ||
        set_string(rec, "reason", cmd->reason) ||
        set_string(rec, "recon_run_id", cmd->recon_run_id) ||
        set_long(rec, "created_time_us", cmd->created_time_us))
        return avro_fail("LedgerCommand", errstr, errstr_size);
    return PS_OK;
}

/* Copies a string value; Avro-C's size counts the terminating NUL. */
static int copy_string(avro_value_t *v, char **out)
{
    const char *s;
    size_t size;

    if (avro_value_get_string(v, &s, &size) || size == 0)
        return 1;
    *out = ps_strndup(s, size - 1);
    return 0;
}

static int get_string(avro_value_t *rec, const char *name, char **out)
{
    avro_value_t f;

    return field(rec, name, &f) || copy_string(&f, out);
}

static int get_long(avro_value_t *rec, const char *name, int64_t *out)
{
    avro_value_t f;

    return field(rec, name, &f) || avro_value_get_long(&f, out);
}

static int get_enum(avro_value_t *rec, const char *name, int *out)
{
    avro_value_t f;

    return field(rec, name, &f) || avro_value_get_enum(&f, out);
}

/* The currency string must be exactly three bytes to fit the struct's array. */
static int get_currency(avro_value_t *rec, char out[PS_CURRENCY_CODE_BYTES])
{
    avro_value_t f;
    const char *s;
    size_t size;

    if (field(rec, "currency", &f) || avro_value_get_string(&f, &s, &size))
        return 1;
    memset(out, 0, PS_CURRENCY_CODE_BYTES);
    /* A wrong length leaves "" here and the contract check names the field. */
    if (size == PS_CURRENCY_CODE_BYTES)
        memcpy(out, s, PS_CURRENCY_CODE_BYTES - 1);
    return 0;
}

/* ["null",X]: *present false for branch 0, else *branch_out is the X value. */
static int get_branch(avro_value_t *rec, const char *name, bool *present, avro_value_t *branch_out)
{
    avro_value_t f;
    int disc;

    if (field(rec, name, &f) || avro_value_get_discriminant(&f, &disc) ||
        avro_value_get_current_branch(&f, branch_out))
        return 1;
    *present = disc == 1;
    return 0;
}

static int get_opt_string(avro_value_t *rec, const char *name, char **out)
{
    avro_value_t b;
    bool present;

    if (get_branch(rec, name, &present, &b))
        return 1;
    return present ? copy_string(&b, out) : 0;
}

static int get_opt_long(avro_value_t *rec, const char *name, bool *has, int64_t *out)
{
    avro_value_t b;

    if (get_branch(rec, name, has, &b))
        return 1;
    return *has ? avro_value_get_long(&b, out) : 0;
}

static int get_evidence(avro_value_t *rec, ps_callback_event_t *ev)
{
    avro_value_t evid, f, hdrs, h;
    const void *body;
    size_t n, count;

    if (field(rec, "evidence", &evid) || field(&evid, "raw_body", &f) ||
        avro_value_get_bytes(&f, &body, &n) || field(&evid, "headers", &hdrs) ||
        avro_value_get_size(&hdrs, &count))
        return 1;
    ev->raw_body = ps_memdup(body, n);
    ev->raw_body_len = n;
    /* The wire check bounded the count already; this keeps the allocation bounded here too. */
    PS_ASSERT(count <= PS_EVIDENCE_HEADERS_MAX);
    ev->headers = ps_calloc(count + 1, sizeof(ev->headers[0]));
    ev->header_count = count;
    for (size_t i = 0; i < ev->header_count; i++)
        if (avro_value_get_by_index(&hdrs, i, &h, NULL) ||
            get_string(&h, "name", &ev->headers[i].name) ||
            get_string(&h, "value", &ev->headers[i].value))
            return 1;
    return get_string(&evid, "key_id", &ev->key_id);
}

ps_err_t ps__avro_callback_event_from_value(avro_value_t *rec, ps_callback_event_t *ev,
                                            char *errstr, size_t errstr_size)
{
    int channel, kind;

    if (get_enum(rec, "channel", &channel) ||
        get_string(rec, "channel_event_id", &ev->channel_event_id) ||
        get_enum(rec, "kind", &kind) ||
        get_string(rec, "channel_event_type", &ev->channel_event_type) ||
        get_string(rec, "merchant_order_no", &ev->merchant_order_no) ||
        get_string(rec, "channel_txn_id", &ev->channel_txn_id) ||
        get_opt_string(rec, "refund_id", &ev->refund_id) ||
        get_long(rec, "amount_minor", &ev->amount_minor) ||
        get_opt_long(rec, "refund_total_minor", &ev->has_refund_total,
                     &ev->refund_total_minor) ||
        get_currency(rec, ev->currency) || get_string(rec, "account_id", &ev->account_id) ||
        get_long(rec, "event_time_us", &ev->event_time_us) ||
        get_long(rec, "received_time_us", &ev->received_time_us) ||
        get_opt_long(rec, "paid_time_us", &ev->has_paid_time, &ev->paid_time_us) ||
        get_evidence(rec, ev))
        return avro_fail("CallbackEvent", errstr, errstr_size);
    /* Enum indexes were range-checked against the schema by the wire check. */
    ev->channel = (ps_channel_t)channel;
    ev->kind = (ps_event_kind_t)kind;
    return PS_OK;
}

ps_err_t ps__avro_ledger_command_from_value(avro_value_t *rec, ps_ledger_command_t *cmd,
                                            char *errstr, size_t errstr_size)
{
    int kind, channel;

    if (get_string(rec, "command_id", &cmd->command_id) || get_enum(rec, "kind", &kind) ||
        get_enum(rec, "channel", &channel) ||
        get_string(rec, "payment_key", &cmd->payment_key) ||
        get_long(rec, "amount_minor", &cmd->amount_minor) || get_currency(rec, cmd->currency) ||
        get_opt_string(rec, "account_id", &cmd->account_id) ||
        get_string(rec, "reason", &cmd->reason) ||
        get_string(rec, "recon_run_id", &cmd->recon_run_id) ||
        get_long(rec, "created_time_us", &cmd->created_time_us))
        return avro_fail("LedgerCommand", errstr, errstr_size);
    cmd->kind = (ps_command_kind_t)kind;
    cmd->channel = (ps_channel_t)channel;
    return PS_OK;
}
