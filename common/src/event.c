/*
 * The non-codec half of event.h: enum names as spelled in the Avro schemas,
 * the lower-case channel parser for configs and CLIs, and releasing the
 * owned fields of CallbackEvent and LedgerCommand structs.
 */
#include <paystream/event.h>
#include <paystream/mem.h>

#include <string.h>

/* Indexed by enum value; the order is the Avro symbol order. */
static const char *const channel_names[PS_CHANNEL_COUNT] = {"WECHAT", "ALIPAY", "APPLE"};
static const char *const channel_words[PS_CHANNEL_COUNT] = {"wechat", "alipay", "apple"};
static const char *const event_kind_names[PS_EVENT_KIND_COUNT] = {
    "PAYMENT_SUCCEEDED", "PAYMENT_CLOSED", "REFUND_SUCCEEDED", "REFUND_REVERSED"};
static const char *const command_kind_names[PS_COMMAND_KIND_COUNT] = {"REVERSE", "COMPENSATE",
                                                                      "ADJUST"};

/* Out-of-range values come from corrupted memory or casts; name them, don't crash. */
const char *ps_channel_name(ps_channel_t channel)
{
    return (unsigned)channel < PS_CHANNEL_COUNT ? channel_names[channel] : "UNKNOWN";
}

const char *ps_event_kind_name(ps_event_kind_t kind)
{
    return (unsigned)kind < PS_EVENT_KIND_COUNT ? event_kind_names[kind] : "UNKNOWN";
}

const char *ps_command_kind_name(ps_command_kind_t kind)
{
    return (unsigned)kind < PS_COMMAND_KIND_COUNT ? command_kind_names[kind] : "UNKNOWN";
}

ps_err_t ps_channel_parse(const char *s, ps_channel_t *channel_out)
{
    if (s == NULL)
        return PS_ERR_INVALID;
    for (int i = 0; i < PS_CHANNEL_COUNT; i++) {
        if (strcmp(s, channel_words[i]) == 0) {
            *channel_out = (ps_channel_t)i;
            return PS_OK;
        }
    }
    return PS_ERR_INVALID;
}

void ps_callback_event_deinit(ps_callback_event_t *ev)
{
    if (ev == NULL)
        return;
    ps_free(ev->channel_event_id);
    ps_free(ev->channel_event_type);
    ps_free(ev->merchant_order_no);
    ps_free(ev->channel_txn_id);
    ps_free(ev->refund_id);
    ps_free(ev->account_id);
    ps_free(ev->raw_body);
    if (ev->headers != NULL) {
        for (size_t i = 0; i < ev->header_count; i++) {
            ps_free(ev->headers[i].name);
            ps_free(ev->headers[i].value);
        }
    }
    ps_free(ev->headers);
    ps_free(ev->key_id);
    memset(ev, 0, sizeof(*ev));
}

void ps_ledger_command_deinit(ps_ledger_command_t *cmd)
{
    if (cmd == NULL)
        return;
    ps_free(cmd->command_id);
    ps_free(cmd->payment_key);
    ps_free(cmd->account_id);
    ps_free(cmd->reason);
    ps_free(cmd->recon_run_id);
    memset(cmd, 0, sizeof(*cmd));
}
