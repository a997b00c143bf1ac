/*
 * The direct decoder: one pass over the Avro binary body of a CallbackEvent
 * or LedgerCommand straight into its C struct, without Avro-C. The generic
 * path (wire walk of avro_validate.c, then avro_value_read into a generic
 * value, then field lookup by name in avro_event.c) cost the processor about
 * 38 % of its CPU in schema walking, name lookups and short-lived mallocs;
 * here each byte is read once and the only allocations are the struct's own
 * fields.
 *
 * The verdicts are those of the generic path, bound for bound: varints at most
 * PS_AVRO_VARINT_BYTES_MAX bytes (enum and union indexes, Avro ints, at most
 * 5) with the tenth byte carrying only bit 63; string and bytes lengths
 * non-negative and checked against the bytes left before anything is copied;
 * strings UTF-8 without NUL; enum indexes within the schema's symbols and
 * union branches 0 or 1; array blocks with non-negative counts and at most
 * PS_EVIDENCE_HEADERS_MAX items in all; no trailing bytes. Conversions mirror
 * avro_event.c: a currency of any length but 3 bytes becomes "" (the contract
 * check then names it), empty strings are kept as "" (the contract check
 * decides where they are allowed), the header list and the body are never
 * NULL. tests/unit/test_avro_direct.c holds both paths to the same answers.
 *
 * Unlike the wire walk, this file knows one shape of each schema: the field
 * order below is the one of schemas/avro/callback_event.avsc and
 * ledger_command.avsc at the fingerprints of ps__avro_direct_fingerprint.
 * ps_avro_codec_new refuses embedded schemas with other fingerprints, so a
 * schema change cannot silently misdecode: change this file with the schema.
 */
#include "avro_int.h"

#include <paystream/assert.h>
#include <paystream/limits.h>
#include <paystream/mem.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* An Avro int (enum symbol, union branch) is a varint of at most 5 bytes. */
#define DIRECT_INT_VARINT_BYTES_MAX 5
/* Every optional field is ["null", X]: branch 1 carries the value. */
#define DIRECT_UNION_BRANCHES 2

/* Canonical-form fingerprints of the schemas this file was written for. */
#define DIRECT_CALLBACK_EVENT_FP UINT64_C(0x35f7c23d8fcb636c)
#define DIRECT_LEDGER_COMMAND_FP UINT64_C(0xd4716cce5e562311)

typedef struct rd {
    const uint8_t *p; /* borrowed body */
    size_t len;
    size_t pos;       /* next byte to read */
    size_t base;      /* offset of p in the whole message, for messages */
    int item;         /* index in evidence.headers while reading one, else -1 */
    char *errstr;
    size_t errstr_size;
} rd_t;

static ps_err_t fail(const rd_t *r, const char *field, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * PS_ERR_INVALID naming the field and the message offset where its value
 * starts (as the wire walk does); inside a header the path carries its index.
 */
static ps_err_t fail(const rd_t *r, const char *field, size_t at, const char *fmt, ...)
{
    char detail[256], path[64];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    if (r->item >= 0) {
        snprintf(path, sizeof(path), "evidence.headers[%d].%s", r->item, field);
        field = path;
    }
    return ps_errstr_set(r->errstr, r->errstr_size, PS_ERR_INVALID,
                         "field \"%s\" at byte %zu: %s", field, r->base + at, detail);
}

/*
 * A zig-zag varint of at most bytes_max bytes. Padded (non-minimal) forms are
 * accepted as Avro-C accepts them; the tenth byte may only carry bit 63.
 */
static ps_err_t read_varint(rd_t *r, const char *field, int bytes_max, int64_t *out)
{
    size_t at = r->pos;
    uint64_t u = 0;

    for (int i = 0; i < bytes_max; i++) {
        uint8_t b;

        if (r->pos == r->len)
            return fail(r, field, at, "truncated varint");
        b = r->p[r->pos++];
        if (i == PS_AVRO_VARINT_BYTES_MAX - 1 && b > 1)
            return fail(r, field, at, "varint overflows 64 bits");
        u |= (uint64_t)(b & 0x7F) << (7 * i);
        if ((b & 0x80) == 0) {
            *out = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
            return PS_OK;
        }
    }
    return fail(r, field, at, "varint is longer than %d bytes", bytes_max);
}

static ps_err_t read_long(rd_t *r, const char *field, int64_t *out)
{
    return read_varint(r, field, PS_AVRO_VARINT_BYTES_MAX, out);
}

/* An enum symbol or union branch: an Avro int in [0, count); whats is the plural. */
static ps_err_t read_index(rd_t *r, const char *field, const char *what, const char *whats,
                           int64_t count, int64_t *out)
{
    size_t at = r->pos;
    ps_err_t err = read_varint(r, field, DIRECT_INT_VARINT_BYTES_MAX, out);

    if (err != PS_OK)
        return err;
    if (*out < INT32_MIN || *out > INT32_MAX)
        return fail(r, field, at, "int %lld is out of range", (long long)*out);
    if (*out < 0 || *out >= count)
        return fail(r, field, at, "%s %lld is out of range (%lld %s)", what, (long long)*out,
                    (long long)count, whats);
    return PS_OK;
}

static ps_err_t read_enum(rd_t *r, const char *field, int64_t symbols, int64_t *out)
{
    return read_index(r, field, "enum symbol", "symbols", symbols, out);
}

/* The branch of a ["null", X] union: *present is false for null. */
static ps_err_t read_branch(rd_t *r, const char *field, bool *present)
{
    int64_t branch;
    ps_err_t err = read_index(r, field, "union branch", "branches", DIRECT_UNION_BRANCHES,
                              &branch);

    *present = err == PS_OK && branch == 1;
    return err;
}

/*
 * string or bytes: a length, then that many bytes, which *data_out borrows
 * from the body. The length is checked against the bytes left before use.
 */
static ps_err_t read_blob(rd_t *r, const char *field, bool is_string, const uint8_t **data_out,
                          size_t *len_out)
{
    const char *what = is_string ? "string" : "bytes";
    size_t at = r->pos;
    int64_t n;
    ps_err_t err;

    *data_out = NULL; /* defined on every path: callers read them only on PS_OK */
    *len_out = 0;
    if ((err = read_long(r, field, &n)) != PS_OK)
        return err;
    if (n < 0)
        return fail(r, field, at, "%s length %lld is negative", what, (long long)n);
    if ((uint64_t)n > r->len - r->pos)
        return fail(r, field, at, "%s length %lld exceeds the %zu bytes left", what,
                    (long long)n, r->len - r->pos);
    if (is_string && !ps__avro_utf8_valid(r->p + r->pos, (size_t)n))
        return fail(r, field, at, "string is not valid UTF-8 or contains a NUL byte");
    *data_out = r->p + r->pos;
    *len_out = (size_t)n;
    r->pos += (size_t)n;
    return PS_OK;
}

/* A string field into *out (owned by the struct; "" for an empty string). */
static ps_err_t read_string(rd_t *r, const char *field, char **out)
{
    const uint8_t *s;
    size_t n;
    ps_err_t err = read_blob(r, field, true, &s, &n);

    if (err == PS_OK)
        *out = ps_strndup((const char *)s, n);
    return err;
}

/* ["null","string"]: *out stays NULL for null. */
static ps_err_t read_opt_string(rd_t *r, const char *field, char **out)
{
    bool present;
    ps_err_t err = read_branch(r, field, &present);

    return err == PS_OK && present ? read_string(r, field, out) : err;
}

/* ["null","long"]: *has is false for null. */
static ps_err_t read_opt_long(rd_t *r, const char *field, bool *has, int64_t *out)
{
    ps_err_t err = read_branch(r, field, has);

    return err == PS_OK && *has ? read_long(r, field, out) : err;
}

/*
 * The currency string fits the struct's array only with exactly three bytes;
 * any other length leaves "" and the contract check names the field.
 */
static ps_err_t read_currency(rd_t *r, char out[PS_CURRENCY_CODE_BYTES])
{
    const uint8_t *s;
    size_t n;
    ps_err_t err = read_blob(r, "currency", true, &s, &n);

    memset(out, 0, PS_CURRENCY_CODE_BYTES);
    if (err == PS_OK && n == PS_CURRENCY_CODE_BYTES - 1)
        memcpy(out, s, n);
    return err;
}

/*
 * Makes room for count more headers, zeroed so that a failure half-way leaves
 * ev deinit-able. One spare entry: the list is never a zero-size allocation.
 */
static void grow_headers(ps_callback_event_t *ev, size_t count)
{
    size_t total = ev->header_count + count;

    ev->headers = ps_realloc(ev->headers, (total + 1) * sizeof(ev->headers[0]));
    memset(ev->headers + ev->header_count, 0, (count + 1) * sizeof(ev->headers[0]));
}

/*
 * evidence.headers: Avro array blocks ended by a zero count. A negative count
 * (legal Avro: a byte size follows) is refused as the wire walk refuses it,
 * since no paystream writer emits one.
 */
static ps_err_t read_headers(rd_t *r, ps_callback_event_t *ev)
{
    const char *field = "evidence.headers";
    int64_t count;
    ps_err_t err;

    for (;;) {
        size_t at = r->pos;

        if ((err = read_long(r, field, &count)) != PS_OK)
            return err;
        if (count == 0)
            break;
        if (count < 0)
            return fail(r, field, at, "block count %lld is negative", (long long)count);
        if (count > PS_EVIDENCE_HEADERS_MAX - (int64_t)ev->header_count)
            return fail(r, field, at, "more than %d items", PS_EVIDENCE_HEADERS_MAX);
        grow_headers(ev, (size_t)count);
        for (int64_t i = 0; i < count; i++) {
            ps_header_t *h = &ev->headers[ev->header_count];

            r->item = (int)ev->header_count++;
            if ((err = read_string(r, "name", &h->name)) != PS_OK ||
                (err = read_string(r, "value", &h->value)) != PS_OK)
                return err;
        }
        r->item = -1;
    }
    if (ev->headers == NULL)
        ev->headers = ps_calloc(1, sizeof(ev->headers[0]));
    return PS_OK;
}

/* The Evidence record: raw_body, headers, key_id. */
static ps_err_t read_evidence(rd_t *r, ps_callback_event_t *ev)
{
    const uint8_t *body;
    size_t n;
    ps_err_t err = read_blob(r, "evidence.raw_body", false, &body, &n);

    if (err != PS_OK)
        return err;
    ev->raw_body = ps_memdup(body, n);
    ev->raw_body_len = n;
    if ((err = read_headers(r, ev)) != PS_OK)
        return err;
    return read_string(r, "evidence.key_id", &ev->key_id);
}

/* The fields of callback_event.avsc, in schema order. */
static ps_err_t event_fields(rd_t *r, ps_callback_event_t *ev)
{
    int64_t channel, kind;
    ps_err_t err;

    if ((err = read_enum(r, "channel", PS_CHANNEL_COUNT, &channel)) != PS_OK)
        return err;
    ev->channel = (ps_channel_t)channel;
    if ((err = read_string(r, "channel_event_id", &ev->channel_event_id)) != PS_OK ||
        (err = read_enum(r, "kind", PS_EVENT_KIND_COUNT, &kind)) != PS_OK)
        return err;
    ev->kind = (ps_event_kind_t)kind;
    if ((err = read_string(r, "channel_event_type", &ev->channel_event_type)) != PS_OK ||
        (err = read_string(r, "merchant_order_no", &ev->merchant_order_no)) != PS_OK ||
        (err = read_string(r, "channel_txn_id", &ev->channel_txn_id)) != PS_OK ||
        (err = read_opt_string(r, "refund_id", &ev->refund_id)) != PS_OK ||
        (err = read_long(r, "amount_minor", &ev->amount_minor)) != PS_OK ||
        (err = read_opt_long(r, "refund_total_minor", &ev->has_refund_total,
                             &ev->refund_total_minor)) != PS_OK ||
        (err = read_currency(r, ev->currency)) != PS_OK ||
        (err = read_string(r, "account_id", &ev->account_id)) != PS_OK ||
        (err = read_long(r, "event_time_us", &ev->event_time_us)) != PS_OK ||
        (err = read_long(r, "received_time_us", &ev->received_time_us)) != PS_OK ||
        (err = read_opt_long(r, "paid_time_us", &ev->has_paid_time, &ev->paid_time_us)) != PS_OK)
        return err;
    return read_evidence(r, ev);
}

/* The fields of ledger_command.avsc, in schema order. */
static ps_err_t command_fields(rd_t *r, ps_ledger_command_t *cmd)
{
    int64_t kind, channel;
    ps_err_t err;

    if ((err = read_string(r, "command_id", &cmd->command_id)) != PS_OK ||
        (err = read_enum(r, "kind", PS_COMMAND_KIND_COUNT, &kind)) != PS_OK)
        return err;
    cmd->kind = (ps_command_kind_t)kind;
    if ((err = read_enum(r, "channel", PS_CHANNEL_COUNT, &channel)) != PS_OK)
        return err;
    cmd->channel = (ps_channel_t)channel;
    if ((err = read_string(r, "payment_key", &cmd->payment_key)) != PS_OK ||
        (err = read_long(r, "amount_minor", &cmd->amount_minor)) != PS_OK ||
        (err = read_currency(r, cmd->currency)) != PS_OK ||
        (err = read_opt_string(r, "account_id", &cmd->account_id)) != PS_OK ||
        (err = read_string(r, "reason", &cmd->reason)) != PS_OK ||
        (err = read_string(r, "recon_run_id", &cmd->recon_run_id)) != PS_OK)
        return err;
    return read_long(r, "created_time_us", &cmd->created_time_us);
}

/* The record must end exactly where the body does. */
static ps_err_t expect_end(const rd_t *r)
{
    if (r->pos != r->len)
        return ps_errstr_set(r->errstr, r->errstr_size, PS_ERR_INVALID,
                             "%zu trailing bytes at byte %zu after the record", r->len - r->pos,
                             r->base + r->pos);
    return PS_OK;
}

uint64_t ps__avro_direct_fingerprint(ps_avro_type_t type)
{
    PS_ASSERT((unsigned)type < PS_AVRO_TYPE_COUNT);
    return type == PS_AVRO_CALLBACK_EVENT ? DIRECT_CALLBACK_EVENT_FP : DIRECT_LEDGER_COMMAND_FP;
}

ps_err_t ps__avro_direct_callback_event(const uint8_t *body, size_t len, size_t offset_base,
                                        ps_callback_event_t *ev, char *errstr,
                                        size_t errstr_size)
{
    rd_t r = {.p = body, .len = len, .base = offset_base, .item = -1, .errstr = errstr,
              .errstr_size = errstr_size};
    ps_err_t err;

    PS_ASSERT(ev != NULL && (body != NULL || len == 0));
    memset(ev, 0, sizeof(*ev));
    err = event_fields(&r, ev);
    return err == PS_OK ? expect_end(&r) : err;
}

ps_err_t ps__avro_direct_ledger_command(const uint8_t *body, size_t len, size_t offset_base,
                                        ps_ledger_command_t *cmd, char *errstr,
                                        size_t errstr_size)
{
    rd_t r = {.p = body, .len = len, .base = offset_base, .item = -1, .errstr = errstr,
              .errstr_size = errstr_size};
    ps_err_t err;

    PS_ASSERT(cmd != NULL && (body != NULL || len == 0));
    memset(cmd, 0, sizeof(*cmd));
    err = command_fields(&r, cmd);
    return err == PS_OK ? expect_end(&r) : err;
}
