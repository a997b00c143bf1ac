/*
 * The single-object codec: owns the parsed embedded schemas, one reusable
 * Avro-C generic value per message type, and their fingerprints. Encoding is
 * contract check, fill the value, write header + Avro binary (Avro-C).
 * Decoding is size bound, header, known fingerprint of the expected type,
 * then the direct decoder (avro_direct.c: one bounds-checked pass into the
 * struct, no Avro-C), then the contract check. The older generic path (the
 * allocation-free wire walk of avro_validate.c, then Avro-C, then
 * avro_event.c) stays under the ps__avro_decode_*_generic names so that tests
 * can hold the two to the same verdicts.
 */
#include "avro_int.h"

#include <paystream/assert.h>
#include <paystream/limits.h>
#include <paystream/mem.h>
#include <paystream/schemas.h>

#include <inttypes.h>
#include <string.h>

typedef struct codec_msg {
    avro_schema_t schema;       /* owned reference */
    avro_value_iface_t *iface;  /* owned reference */
    avro_value_t value;         /* owned; reset before each use */
    bool has_value;
    uint64_t fingerprint;
} codec_msg_t;

struct ps_avro_codec {
    codec_msg_t msg[PS_AVRO_TYPE_COUNT];
};

const char *ps_avro_type_name(ps_avro_type_t type)
{
    switch (type) {
    case PS_AVRO_CALLBACK_EVENT: return "CallbackEvent";
    case PS_AVRO_LEDGER_COMMAND: return "LedgerCommand";
    }
    return "unknown";
}

static ps_err_t msg_init(codec_msg_t *m, ps_avro_type_t type, const char *json, size_t len,
                         char *errstr, size_t errstr_size)
{
    ps_err_t err = ps_avro_schema_fingerprint(json, len, &m->fingerprint, errstr, errstr_size);

    if (err != PS_OK)
        return ps_errstr_prefix(errstr, errstr_size, err, "embedded %s schema",
                                ps_avro_type_name(type));
    if (avro_schema_from_json_length(json, len, &m->schema) != 0) {
        m->schema = NULL;
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "could not parse embedded %s schema: %s", ps_avro_type_name(type),
                             avro_strerror());
    }
    m->iface = avro_generic_class_from_schema(m->schema);
    if (m->iface == NULL || avro_generic_value_new(m->iface, &m->value) != 0)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "could not create a value of embedded %s schema: %s",
                             ps_avro_type_name(type), avro_strerror());
    m->has_value = true;
    return PS_OK;
}

/*
 * The direct decoder hard-codes each record's field order: an embedded schema
 * it was not written for is a build defect, refused here rather than misread
 * message by message.
 */
static ps_err_t check_direct_schema(const ps_avro_codec_t *codec, ps_avro_type_t type,
                                    char *errstr, size_t errstr_size)
{
    uint64_t want = ps__avro_direct_fingerprint(type);

    if (codec->msg[type].fingerprint == want)
        return PS_OK;
    return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                         "embedded %s schema has fingerprint 0x%016" PRIx64
                         ", the direct decoder reads 0x%016" PRIx64
                         ": update common/src/avro_direct.c with the schema",
                         ps_avro_type_name(type), codec->msg[type].fingerprint, want);
}

ps_err_t ps_avro_codec_new(ps_avro_codec_t **out, char *errstr, size_t errstr_size)
{
    ps_avro_codec_t *codec = ps_calloc(1, sizeof(*codec));
    ps_err_t err;

    PS_ASSERT(out != NULL);
    *out = NULL;
    err = msg_init(&codec->msg[PS_AVRO_CALLBACK_EVENT], PS_AVRO_CALLBACK_EVENT,
                   ps_avsc_callback_event, ps_avsc_callback_event_len, errstr, errstr_size);
    if (err == PS_OK)
        err = msg_init(&codec->msg[PS_AVRO_LEDGER_COMMAND], PS_AVRO_LEDGER_COMMAND,
                       ps_avsc_ledger_command, ps_avsc_ledger_command_len, errstr, errstr_size);
    for (int i = 0; i < PS_AVRO_TYPE_COUNT && err == PS_OK; i++)
        err = check_direct_schema(codec, (ps_avro_type_t)i, errstr, errstr_size);
    if (err != PS_OK)
        goto out;
    /* Dispatch by fingerprint needs them distinct; equal ones are a build defect. */
    PS_ASSERT(codec->msg[0].fingerprint != codec->msg[1].fingerprint);
    *out = codec;
    codec = NULL;
out:
    ps_avro_codec_destroy(codec);
    return err;
}

void ps_avro_codec_destroy(ps_avro_codec_t *codec)
{
    if (codec == NULL)
        return;
    for (int i = PS_AVRO_TYPE_COUNT - 1; i >= 0; i--) {
        codec_msg_t *m = &codec->msg[i];

        if (m->has_value)
            avro_value_decref(&m->value);
        if (m->iface != NULL)
            avro_value_iface_decref(m->iface);
        if (m->schema != NULL)
            avro_schema_decref(m->schema);
    }
    ps_free(codec);
}

uint64_t ps_avro_codec_fingerprint(const ps_avro_codec_t *codec, ps_avro_type_t type)
{
    PS_ASSERT(codec != NULL && (unsigned)type < PS_AVRO_TYPE_COUNT);
    return codec->msg[type].fingerprint;
}

ps_err_t ps_avro_codec_message_type(const ps_avro_codec_t *codec, const uint8_t *data,
                                    size_t len, ps_avro_type_t *type_out, char *errstr,
                                    size_t errstr_size)
{
    uint64_t fp;

    PS_ASSERT(codec != NULL && type_out != NULL);
    if (ps_avro_peek_fingerprint(data, len, &fp) != PS_OK)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             len < PS_AVRO_HEADER_BYTES
                                 ? "message is %zu bytes, shorter than the 10-byte "
                                   "single-object header"
                                 : "message of %zu bytes does not start with the "
                                   "single-object marker C3 01",
                             len);
    for (int i = 0; i < PS_AVRO_TYPE_COUNT; i++) {
        if (codec->msg[i].fingerprint == fp) {
            *type_out = (ps_avro_type_t)i;
            return PS_OK;
        }
    }
    return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                         "unknown schema fingerprint 0x%016" PRIx64, fp);
}

/* Writes header + Avro binary of m->value (already filled) into out. */
static ps_err_t write_message(codec_msg_t *m, ps_avro_type_t type, ps_buf_t *out, char *errstr,
                              size_t errstr_size)
{
    avro_writer_t writer;
    size_t body_len;
    int rc;

    if (avro_value_sizeof(&m->value, &body_len) != 0)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID, "could not size %s: %s",
                             ps_avro_type_name(type), avro_strerror());
    if (body_len > PS_AVRO_MESSAGE_BYTES_MAX - PS_AVRO_HEADER_BYTES)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                             "encoded %s would be %zu bytes, over the limit of %d",
                             ps_avro_type_name(type), body_len + PS_AVRO_HEADER_BYTES,
                             PS_AVRO_MESSAGE_BYTES_MAX);
    ps_buf_reset(out);
    if (ps_buf_reserve(out, PS_AVRO_HEADER_BYTES + body_len) != PS_OK)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                             "encoded %s is %zu bytes, over the output buffer's cap of %zu",
                             ps_avro_type_name(type), body_len + PS_AVRO_HEADER_BYTES, out->max);
    out->data[0] = PS_AVRO_MAGIC_0;
    out->data[1] = PS_AVRO_MAGIC_1;
    for (int i = 0; i < 8; i++)
        out->data[2 + i] = (uint8_t)(m->fingerprint >> (8 * i));
    writer = avro_writer_memory((const char *)out->data + PS_AVRO_HEADER_BYTES,
                                (int64_t)body_len);
    rc = avro_value_write(writer, &m->value);
    avro_writer_free(writer);
    if (rc != 0)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID, "could not write %s: %s",
                             ps_avro_type_name(type), avro_strerror());
    out->len = PS_AVRO_HEADER_BYTES + body_len;
    out->data[out->len] = '\0'; /* ps_buf_t's NUL guard */
    return PS_OK;
}

ps_err_t ps_avro_encode_callback_event(ps_avro_codec_t *codec, const ps_callback_event_t *ev,
                                       ps_buf_t *out, char *errstr, size_t errstr_size)
{
    codec_msg_t *m;
    ps_err_t err;

    PS_ASSERT(codec != NULL && ev != NULL && out != NULL);
    m = &codec->msg[PS_AVRO_CALLBACK_EVENT];
    err = ps_avro_validate_callback_event(ev, errstr, errstr_size);
    if (err != PS_OK)
        return err;
    avro_value_reset(&m->value);
    err = ps__avro_callback_event_to_value(ev, &m->value, errstr, errstr_size);
    if (err == PS_OK)
        err = write_message(m, PS_AVRO_CALLBACK_EVENT, out, errstr, errstr_size);
    return err;
}

ps_err_t ps_avro_encode_ledger_command(ps_avro_codec_t *codec, const ps_ledger_command_t *cmd,
                                       ps_buf_t *out, char *errstr, size_t errstr_size)
{
    codec_msg_t *m;
    ps_err_t err;

    PS_ASSERT(codec != NULL && cmd != NULL && out != NULL);
    m = &codec->msg[PS_AVRO_LEDGER_COMMAND];
    err = ps_avro_validate_ledger_command(cmd, errstr, errstr_size);
    if (err != PS_OK)
        return err;
    avro_value_reset(&m->value);
    err = ps__avro_ledger_command_to_value(cmd, &m->value, errstr, errstr_size);
    if (err == PS_OK)
        err = write_message(m, PS_AVRO_LEDGER_COMMAND, out, errstr, errstr_size);
    return err;
}

/* What both decoders check first: size bound, header, fingerprint of the expected type. */
static ps_err_t check_envelope(const ps_avro_codec_t *codec, ps_avro_type_t want,
                               const uint8_t *data, size_t len, char *errstr, size_t errstr_size)
{
    ps_avro_type_t got = want; /* set by ps_avro_codec_message_type on success */
    ps_err_t err;

    if (len > PS_AVRO_MESSAGE_BYTES_MAX)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                             "message is %zu bytes, over the limit of %d", len,
                             PS_AVRO_MESSAGE_BYTES_MAX);
    err = ps_avro_codec_message_type(codec, data, len, &got, errstr, errstr_size);
    if (err == PS_OK && got != want)
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                            "message is a %s (fingerprint 0x%016" PRIx64 "), not a %s",
                            ps_avro_type_name(got), codec->msg[got].fingerprint,
                            ps_avro_type_name(want));
    return err;
}

/*
 * The generic path after check_envelope: wire walk, then Avro-C. On PS_OK
 * m->value holds the decoded record.
 */
static ps_err_t read_generic(ps_avro_codec_t *codec, ps_avro_type_t want, const uint8_t *data,
                             size_t len, char *errstr, size_t errstr_size)
{
    codec_msg_t *m = &codec->msg[want];
    avro_reader_t reader;
    ps_err_t err;
    int rc;

    err = check_envelope(codec, want, data, len, errstr, errstr_size);
    if (err == PS_OK)
        err = ps__avro_wire_check(m->schema, data + PS_AVRO_HEADER_BYTES,
                                  len - PS_AVRO_HEADER_BYTES, PS_AVRO_HEADER_BYTES, errstr,
                                  errstr_size);
    if (err != PS_OK)
        return err;
    avro_value_reset(&m->value);
    reader = avro_reader_memory((const char *)data + PS_AVRO_HEADER_BYTES,
                                (int64_t)(len - PS_AVRO_HEADER_BYTES));
    rc = avro_value_read(reader, &m->value);
    avro_reader_free(reader);
    if (rc != 0)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID, "avro-c could not read %s: %s",
                             ps_avro_type_name(want), avro_strerror());
    return PS_OK;
}

/*
 * Both decoders of both types: envelope, body, contract check. out is a
 * ps_callback_event_t or a ps_ledger_command_t, as type says; on failure it
 * is deinitialized and the error names the type.
 */
static ps_err_t decode(ps_avro_codec_t *codec, ps_avro_type_t type, bool generic,
                       const uint8_t *data, size_t len, void *out, char *errstr,
                       size_t errstr_size)
{
    bool ev = type == PS_AVRO_CALLBACK_EVENT;
    avro_value_t *value;
    ps_err_t err;

    PS_ASSERT(codec != NULL && out != NULL && (unsigned)type < PS_AVRO_TYPE_COUNT);
    value = &codec->msg[type].value;
    memset(out, 0, ev ? sizeof(ps_callback_event_t) : sizeof(ps_ledger_command_t));
    if (generic) {
        err = read_generic(codec, type, data, len, errstr, errstr_size);
        if (err == PS_OK)
            err = ev ? ps__avro_callback_event_from_value(value, out, errstr, errstr_size)
                     : ps__avro_ledger_command_from_value(value, out, errstr, errstr_size);
    } else {
        err = check_envelope(codec, type, data, len, errstr, errstr_size);
        if (err == PS_OK && ev)
            err = ps__avro_direct_callback_event(data + PS_AVRO_HEADER_BYTES,
                                                 len - PS_AVRO_HEADER_BYTES,
                                                 PS_AVRO_HEADER_BYTES, out, errstr, errstr_size);
        else if (err == PS_OK)
            err = ps__avro_direct_ledger_command(data + PS_AVRO_HEADER_BYTES,
                                                 len - PS_AVRO_HEADER_BYTES,
                                                 PS_AVRO_HEADER_BYTES, out, errstr, errstr_size);
    }
    if (err == PS_OK)
        err = ev ? ps__avro_check_callback_event(out, errstr, errstr_size)
                 : ps__avro_check_ledger_command(out, errstr, errstr_size);
    if (err == PS_OK)
        return PS_OK;
    if (ev)
        ps_callback_event_deinit(out);
    else
        ps_ledger_command_deinit(out);
    return ps_errstr_prefix(errstr, errstr_size, err, "could not decode %s",
                            ps_avro_type_name(type));
}

ps_err_t ps_avro_decode_callback_event(ps_avro_codec_t *codec, const uint8_t *data, size_t len,
                                       ps_callback_event_t *ev_out, char *errstr,
                                       size_t errstr_size)
{
    return decode(codec, PS_AVRO_CALLBACK_EVENT, false, data, len, ev_out, errstr, errstr_size);
}

ps_err_t ps_avro_decode_ledger_command(ps_avro_codec_t *codec, const uint8_t *data, size_t len,
                                       ps_ledger_command_t *cmd_out, char *errstr,
                                       size_t errstr_size)
{
    return decode(codec, PS_AVRO_LEDGER_COMMAND, false, data, len, cmd_out, errstr, errstr_size);
}

ps_err_t ps__avro_decode_callback_event_generic(ps_avro_codec_t *codec, const uint8_t *data,
                                                size_t len, ps_callback_event_t *ev_out,
                                                char *errstr, size_t errstr_size)
{
    return decode(codec, PS_AVRO_CALLBACK_EVENT, true, data, len, ev_out, errstr, errstr_size);
}

ps_err_t ps__avro_decode_ledger_command_generic(ps_avro_codec_t *codec, const uint8_t *data,
                                                size_t len, ps_ledger_command_t *cmd_out,
                                                char *errstr, size_t errstr_size)
{
    return decode(codec, PS_AVRO_LEDGER_COMMAND, true, data, len, cmd_out, errstr, errstr_size);
}
