/*
 * Contract checks on CallbackEvent and LedgerCommand structs: what the schema
 * cannot say (length bounds, non-empty ids, currency shape, UTF-8). The
 * encoder runs them before writing and the decoder after reading, so both
 * directions enforce one definition of a valid message. Messages name the
 * field ("field \"currency\" is ..."); the public functions prefix them with
 * "invalid <Record>", the decoder with "could not decode <Record>".
 */
#include "avro_int.h"

#include <paystream/assert.h>
#include <paystream/limits.h>

#include <stdio.h>
#include <string.h>

bool ps__avro_utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        uint8_t b = s[i];
        size_t n;
        uint32_t cp;

        if (b == 0)
            return false;
        if (b < 0x80) {
            i++;
            continue;
        }
        if (b >= 0xC2 && b <= 0xDF) {
            n = 1;
            cp = b & 0x1F;
        } else if (b >= 0xE0 && b <= 0xEF) {
            n = 2;
            cp = b & 0x0F;
        } else if (b >= 0xF0 && b <= 0xF4) {
            n = 3;
            cp = b & 0x07;
        } else {
            return false; /* continuation byte, overlong lead C0/C1, or F5..FF */
        }
        if (len - i - 1 < n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        /* Overlong 3- and 4-byte forms, surrogates, beyond U+10FFFF. */
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n + 1;
    }
    return true;
}

/*
 * A string field: present (unless optional), non-empty unless allow_empty,
 * at most max bytes, UTF-8 without NUL.
 */
static ps_err_t check_string(const char *field, const char *s, size_t max, bool optional,
                             bool allow_empty, char *errstr, size_t errstr_size)
{
    size_t len;

    if (s == NULL)
        return optional ? PS_OK
                        : ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                                        "field \"%s\" is missing", field);
    len = strnlen(s, max + 1);
    if (len > max)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "field \"%s\" is longer than the limit of %zu bytes", field, max);
    if (len == 0 && !allow_empty)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID, "field \"%s\" is empty",
                             field);
    if (!ps__avro_utf8_valid((const uint8_t *)s, len))
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "field \"%s\" is not valid UTF-8", field);
    return PS_OK;
}

/* ISO 4217 shape only (three upper-case letters); whether the code exists is money's job. */
static ps_err_t check_currency(const char *currency, char *errstr, size_t errstr_size)
{
    for (int i = 0; i < 3; i++)
        if (currency[i] < 'A' || currency[i] > 'Z')
            goto bad;
    if (currency[3] != '\0')
        goto bad;
    return PS_OK;
bad:
    return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                         "field \"currency\" is not three upper-case letters");
}

static ps_err_t check_evidence(const ps_callback_event_t *ev, char *errstr, size_t errstr_size)
{
    ps_err_t err;

    if (ev->raw_body_len > PS_EVIDENCE_BODY_BYTES_MAX || (ev->raw_body == NULL && ev->raw_body_len))
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "field \"evidence.raw_body\" is %zu bytes, over the limit of %d "
                             "or missing",
                             ev->raw_body_len, PS_EVIDENCE_BODY_BYTES_MAX);
    if (ev->header_count > PS_EVIDENCE_HEADERS_MAX || (ev->headers == NULL && ev->header_count))
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "field \"evidence.headers\" has %zu entries, over the limit of %d "
                             "or missing",
                             ev->header_count, PS_EVIDENCE_HEADERS_MAX);
    for (size_t i = 0; i < ev->header_count; i++) {
        char name_field[48], value_field[48];

        snprintf(name_field, sizeof(name_field), "evidence.headers[%zu].name", i);
        snprintf(value_field, sizeof(value_field), "evidence.headers[%zu].value", i);
        err = check_string(name_field, ev->headers[i].name, PS_EVIDENCE_HEADER_BYTES_MAX, false,
                           false, errstr, errstr_size);
        if (err == PS_OK)
            err = check_string(value_field, ev->headers[i].value, PS_EVIDENCE_HEADER_BYTES_MAX,
                               false, true, errstr, errstr_size);
        if (err != PS_OK)
            return err;
    }
    return check_string("evidence.key_id", ev->key_id, PS_ID_BYTES_MAX, false, false, errstr,
                        errstr_size);
}

ps_err_t ps__avro_check_callback_event(const ps_callback_event_t *ev, char *errstr,
                                       size_t errstr_size)
{
    ps_err_t err;

    PS_ASSERT(ev != NULL);
    if ((unsigned)ev->channel >= PS_CHANNEL_COUNT || (unsigned)ev->kind >= PS_EVENT_KIND_COUNT)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID, "field \"%s\" is out of range",
                             (unsigned)ev->channel >= PS_CHANNEL_COUNT ? "channel" : "kind");
    /* account_id may be empty: ingest records a payment whose attach was blank. */
    if ((err = check_string("channel_event_id", ev->channel_event_id, PS_ID_BYTES_MAX, false,
                            false, errstr, errstr_size)) != PS_OK ||
        (err = check_string("channel_event_type", ev->channel_event_type,
                            PS_EVENT_TYPE_BYTES_MAX, false, false, errstr, errstr_size)) != PS_OK ||
        (err = check_string("merchant_order_no", ev->merchant_order_no, PS_ID_BYTES_MAX, false,
                            false, errstr, errstr_size)) != PS_OK ||
        (err = check_string("channel_txn_id", ev->channel_txn_id, PS_ID_BYTES_MAX, false, false,
                            errstr, errstr_size)) != PS_OK ||
        (err = check_string("refund_id", ev->refund_id, PS_ID_BYTES_MAX, true, false, errstr,
                            errstr_size)) != PS_OK ||
        (err = check_string("account_id", ev->account_id, PS_ACCOUNT_ID_BYTES_MAX, false, true,
                            errstr, errstr_size)) != PS_OK ||
        (err = check_currency(ev->currency, errstr, errstr_size)) != PS_OK)
        return err;
    return check_evidence(ev, errstr, errstr_size);
}

ps_err_t ps__avro_check_ledger_command(const ps_ledger_command_t *cmd, char *errstr,
                                       size_t errstr_size)
{
    ps_err_t err;

    PS_ASSERT(cmd != NULL);
    if ((unsigned)cmd->kind >= PS_COMMAND_KIND_COUNT || (unsigned)cmd->channel >= PS_CHANNEL_COUNT)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID, "field \"%s\" is out of range",
                             (unsigned)cmd->kind >= PS_COMMAND_KIND_COUNT ? "kind" : "channel");
    /* account_id is optional (NULL), but when present it must name an account. */
    if ((err = check_string("command_id", cmd->command_id, PS_ID_BYTES_MAX, false, false, errstr,
                            errstr_size)) != PS_OK ||
        (err = check_string("payment_key", cmd->payment_key, PS_ID_BYTES_MAX, false, false,
                            errstr, errstr_size)) != PS_OK ||
        (err = check_currency(cmd->currency, errstr, errstr_size)) != PS_OK ||
        (err = check_string("account_id", cmd->account_id, PS_ACCOUNT_ID_BYTES_MAX, true, false,
                            errstr, errstr_size)) != PS_OK ||
        (err = check_string("reason", cmd->reason, PS_REASON_BYTES_MAX, false, false, errstr,
                            errstr_size)) != PS_OK ||
        (err = check_string("recon_run_id", cmd->recon_run_id, PS_ID_BYTES_MAX, false, false,
                            errstr, errstr_size)) != PS_OK)
        return err;
    return PS_OK;
}

ps_err_t ps_avro_validate_callback_event(const ps_callback_event_t *ev, char *errstr,
                                         size_t errstr_size)
{
    ps_err_t err = ps__avro_check_callback_event(ev, errstr, errstr_size);

    return err == PS_OK ? PS_OK
                        : ps_errstr_prefix(errstr, errstr_size, err, "invalid CallbackEvent");
}

ps_err_t ps_avro_validate_ledger_command(const ps_ledger_command_t *cmd, char *errstr,
                                         size_t errstr_size)
{
    ps_err_t err = ps__avro_check_ledger_command(cmd, errstr, errstr_size);

    return err == PS_OK ? PS_OK
                        : ps_errstr_prefix(errstr, errstr_size, err, "invalid LedgerCommand");
}
