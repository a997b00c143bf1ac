/*
 * The single-object codec on good input: CallbackEvent and LedgerCommand
 * survive encode -> decode field by field (optional fields present and
 * absent, binary bodies, the maximum header count and id lengths), the header
 * carries C3 01 and the schema fingerprint, plain Avro-C reads the body (so
 * it is real Avro), the encoder refuses structs that break the contract, and
 * messages dispatch by type. Also the enum names and parser of event.c.
 */
#include "test.h"

#include <avro.h>
#include <paystream/avro.h>
#include <paystream/event.h>
#include <paystream/limits.h>
#include <paystream/mem.h>
#include <paystream/schemas.h>

static ps_avro_codec_t *codec;

static char *repeat(char ch, size_t n)
{
    char *s = ps_malloc(n + 1);

    memset(s, ch, n);
    s[n] = '\0';
    return s;
}

/* An event with every optional field present and every bound reached. */
static void event_full(ps_callback_event_t *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->channel = PS_CHANNEL_APPLE;
    ev->channel_event_id = repeat('e', PS_ID_BYTES_MAX);
    ev->kind = PS_EVENT_REFUND_REVERSED;
    ev->channel_event_type = repeat('T', PS_EVENT_TYPE_BYTES_MAX);
    ev->merchant_order_no = repeat('o', PS_ID_BYTES_MAX);
    ev->channel_txn_id = ps_strdup("4200001234202401011234567890");
    ev->refund_id = repeat('r', PS_ID_BYTES_MAX);
    ev->amount_minor = INT64_MIN;
    ev->has_refund_total = true;
    ev->refund_total_minor = INT64_MAX;
    memcpy(ev->currency, "CNY", 4);
    ev->account_id = ps_strdup("player-\xe7\x8e\xa9\xe5\xae\xb6-\xf0\x9f\x8e\xae"); /* UTF-8 */
    ev->event_time_us = -1;
    ev->has_paid_time = true;
    ev->paid_time_us = INT64_C(1704067200000000);
    ev->received_time_us = INT64_C(1704067200123456);
    ev->raw_body_len = 300;
    ev->raw_body = ps_malloc(ev->raw_body_len);
    for (size_t i = 0; i < ev->raw_body_len; i++)
        ev->raw_body[i] = (uint8_t)(i * 37); /* includes 0x00 and 0xFF */
    ev->raw_body[0] = 0x00;
    ev->raw_body[1] = 0xFF;
    ev->header_count = PS_EVIDENCE_HEADERS_MAX;
    ev->headers = ps_calloc(ev->header_count, sizeof(ev->headers[0]));
    for (size_t i = 0; i < ev->header_count; i++) {
        char name[32];

        snprintf(name, sizeof(name), "X-Header-%zu", i);
        ev->headers[i].name = ps_strdup(name);
        ev->headers[i].value = i == 0 ? repeat('v', PS_EVIDENCE_HEADER_BYTES_MAX) : ps_strdup("");
    }
    ev->key_id = ps_strdup("5157F09EFDC096DE15EBE81A47057A7232F1B8E1");
}

/* An event with every optional field absent and empty evidence. */
static void event_minimal(ps_callback_event_t *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->channel = PS_CHANNEL_WECHAT;
    ev->channel_event_id = ps_strdup("EV-2018052206");
    ev->kind = PS_EVENT_PAYMENT_SUCCEEDED;
    ev->channel_event_type = ps_strdup("TRANSACTION.SUCCESS");
    ev->merchant_order_no = ps_strdup("1217752501201407033233368018");
    ev->channel_txn_id = ps_strdup("1217752501201407033233368018");
    ev->amount_minor = 100;
    memcpy(ev->currency, "USD", 4);
    ev->account_id = ps_strdup("");
    ev->event_time_us = 1;
    ev->received_time_us = 2;
    ev->key_id = ps_strdup("k");
}

static void check_event_equal(const ps_callback_event_t *a, const ps_callback_event_t *b)
{
    CHECK_INT(a->channel, b->channel);
    CHECK_STR(a->channel_event_id, b->channel_event_id);
    CHECK_INT(a->kind, b->kind);
    CHECK_STR(a->channel_event_type, b->channel_event_type);
    CHECK_STR(a->merchant_order_no, b->merchant_order_no);
    CHECK_STR(a->channel_txn_id, b->channel_txn_id);
    CHECK_STR(a->refund_id, b->refund_id);
    CHECK_INT(a->amount_minor, b->amount_minor);
    CHECK_INT(a->has_refund_total, b->has_refund_total);
    CHECK_INT(a->refund_total_minor, b->refund_total_minor);
    CHECK_STR(a->currency, b->currency);
    CHECK_STR(a->account_id, b->account_id);
    CHECK_INT(a->event_time_us, b->event_time_us);
    CHECK_INT(a->has_paid_time, b->has_paid_time);
    CHECK_INT(a->paid_time_us, b->paid_time_us);
    CHECK_INT(a->received_time_us, b->received_time_us);
    CHECK_INT(a->raw_body_len, b->raw_body_len);
    CHECK(a->raw_body_len == b->raw_body_len &&
          (a->raw_body_len == 0 || memcmp(a->raw_body, b->raw_body, a->raw_body_len) == 0));
    REQUIRE(a->header_count == b->header_count);
    for (size_t i = 0; i < a->header_count; i++) {
        CHECK_STR(a->headers[i].name, b->headers[i].name);
        CHECK_STR(a->headers[i].value, b->headers[i].value);
    }
    CHECK_STR(a->key_id, b->key_id);
}

/* Encode, check the header, decode, compare every field. */
static void roundtrip_event(const ps_callback_event_t *ev)
{
    char err[PS_ERRSTR_SIZE] = "";
    ps_callback_event_t back;
    ps_buf_t out;
    uint64_t fp = 0;

    ps_buf_init(&out, PS_AVRO_MESSAGE_BYTES_MAX);
    CHECK_INT(ps_avro_encode_callback_event(codec, ev, &out, err, sizeof(err)), PS_OK);
    REQUIRE(out.len > PS_AVRO_HEADER_BYTES);
    CHECK_INT(ps_avro_peek_fingerprint(out.data, out.len, &fp), PS_OK);
    CHECK_U64(fp, ps_avro_codec_fingerprint(codec, PS_AVRO_CALLBACK_EVENT));
    memset(&back, 0xA5, sizeof(back)); /* garbage in: previous contents are ignored */
    CHECK_INT(ps_avro_decode_callback_event(codec, out.data, out.len, &back, err, sizeof(err)),
              PS_OK);
    if (err[0] != '\0')
        fprintf(stderr, "error: %s\n", err);
    check_event_equal(&back, ev);
    ps_callback_event_deinit(&back);
    ps_buf_deinit(&out);
}

/* All optional fields present, bounds reached, binary body with NUL and 0xFF. */
static void test_event_roundtrip_full(void)
{
    ps_callback_event_t ev;

    event_full(&ev);
    roundtrip_event(&ev);
    ps_callback_event_deinit(&ev);
}

/* All optional fields absent, empty body, no headers, empty account. */
static void test_event_roundtrip_minimal(void)
{
    ps_callback_event_t ev;

    event_minimal(&ev);
    roundtrip_event(&ev);
    /* Each optional field alone. */
    ev.refund_id = ps_strdup("R1");
    roundtrip_event(&ev);
    ev.has_refund_total = true;
    ev.refund_total_minor = 0;
    roundtrip_event(&ev);
    ev.has_paid_time = true;
    ev.paid_time_us = 0;
    roundtrip_event(&ev);
    ps_callback_event_deinit(&ev);
}

static void command_full(ps_ledger_command_t *cmd)
{
    memset(cmd, 0, sizeof(*cmd));
    cmd->command_id = repeat('c', PS_ID_BYTES_MAX);
    cmd->kind = PS_COMMAND_ADJUST;
    cmd->channel = PS_CHANNEL_ALIPAY;
    cmd->payment_key = ps_strdup("2024010122001400001234567890");
    cmd->amount_minor = -12345;
    memcpy(cmd->currency, "JPY", 4);
    cmd->account_id = ps_strdup("acct-42");
    cmd->reason = repeat('r', PS_REASON_BYTES_MAX);
    cmd->recon_run_id = ps_strdup("recon-2024-01-01");
    cmd->created_time_us = INT64_C(1704153600000000);
}

static void roundtrip_command(const ps_ledger_command_t *cmd)
{
    char err[PS_ERRSTR_SIZE] = "";
    ps_ledger_command_t back;
    ps_buf_t out;
    uint64_t fp = 0;

    ps_buf_init(&out, PS_AVRO_MESSAGE_BYTES_MAX);
    CHECK_INT(ps_avro_encode_ledger_command(codec, cmd, &out, err, sizeof(err)), PS_OK);
    CHECK_INT(ps_avro_peek_fingerprint(out.data, out.len, &fp), PS_OK);
    CHECK_U64(fp, ps_avro_codec_fingerprint(codec, PS_AVRO_LEDGER_COMMAND));
    CHECK_INT(ps_avro_decode_ledger_command(codec, out.data, out.len, &back, err, sizeof(err)),
              PS_OK);
    CHECK_STR(back.command_id, cmd->command_id);
    CHECK_INT(back.kind, cmd->kind);
    CHECK_INT(back.channel, cmd->channel);
    CHECK_STR(back.payment_key, cmd->payment_key);
    CHECK_INT(back.amount_minor, cmd->amount_minor);
    CHECK_STR(back.currency, cmd->currency);
    CHECK_STR(back.account_id, cmd->account_id);
    CHECK_STR(back.reason, cmd->reason);
    CHECK_STR(back.recon_run_id, cmd->recon_run_id);
    CHECK_INT(back.created_time_us, cmd->created_time_us);
    ps_ledger_command_deinit(&back);
    ps_buf_deinit(&out);
}

/*
 * An event at every bound at once (64 KiB body, 16 headers of 4 KiB names and
 * values) still fits PS_AVRO_MESSAGE_BYTES_MAX: the limits agree.
 */
static void test_event_roundtrip_max_size(void)
{
    ps_callback_event_t ev;

    event_full(&ev);
    ps_free(ev.raw_body);
    ev.raw_body_len = PS_EVIDENCE_BODY_BYTES_MAX;
    ev.raw_body = ps_malloc(ev.raw_body_len);
    for (size_t i = 0; i < ev.raw_body_len; i++)
        ev.raw_body[i] = (uint8_t)(i ^ (i >> 8));
    for (size_t i = 0; i < ev.header_count; i++) {
        ps_free(ev.headers[i].name);
        ps_free(ev.headers[i].value);
        ev.headers[i].name = repeat((char)('A' + i), PS_EVIDENCE_HEADER_BYTES_MAX);
        ev.headers[i].value = repeat('v', PS_EVIDENCE_HEADER_BYTES_MAX);
    }
    ps_free(ev.account_id);
    ev.account_id = repeat('a', PS_ACCOUNT_ID_BYTES_MAX);
    roundtrip_event(&ev);
    ps_callback_event_deinit(&ev);
}

/* Strings must be UTF-8 without NUL: the encoder's check, byte pattern by byte pattern. */
static void test_utf8_rules(void)
{
    static const char *const good[] = {"plain", "caf\xc3\xa9", "\xe2\x82\xac",
                                       "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf"};
    static const char *const bad[] = {
        "\xc0\x80",         /* overlong NUL */
        "\xe0\x80\x80",     /* overlong 3-byte */
        "\xf0\x80\x80\x80", /* overlong 4-byte */
        "\xed\xa0\x80",     /* UTF-16 surrogate */
        "\xf4\x90\x80\x80", /* beyond U+10FFFF */
        "\x80",             /* lone continuation */
        "\xe2\x82",         /* truncated */
        "\xff",             /* never valid */
    };
    char err[PS_ERRSTR_SIZE] = "";
    ps_callback_event_t ev;
    char *saved;

    event_minimal(&ev);
    saved = ev.account_id;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ev.account_id = (char *)good[i];
        CHECK_INT(ps_avro_validate_callback_event(&ev, err, sizeof(err)), PS_OK);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ev.account_id = (char *)bad[i];
        CHECK_INT(ps_avro_validate_callback_event(&ev, err, sizeof(err)), PS_ERR_INVALID);
        CHECK_CONTAINS(err, "invalid CallbackEvent: field \"account_id\" is not valid UTF-8");
    }
    ev.account_id = saved;
    ps_callback_event_deinit(&ev);
}

/* LedgerCommand with and without its optional account. */
static void test_command_roundtrip(void)
{
    ps_ledger_command_t cmd;

    command_full(&cmd);
    roundtrip_command(&cmd);
    ps_free(cmd.account_id);
    cmd.account_id = NULL;
    cmd.kind = PS_COMMAND_REVERSE;
    cmd.amount_minor = INT64_MAX;
    roundtrip_command(&cmd);
    ps_ledger_command_deinit(&cmd);
}

/*
 * Bytes 0-1 are C3 01 and bytes 2-9 the little-endian fingerprint of the
 * embedded schema's canonical form, computed here independently of the codec.
 */
static void test_header_bytes(void)
{
    char err[PS_ERRSTR_SIZE] = "";
    ps_callback_event_t ev;
    ps_buf_t canon, out;
    uint64_t fp;

    ps_buf_init(&canon, PS_AVRO_SCHEMA_BYTES_MAX);
    ps_buf_init(&out, PS_AVRO_MESSAGE_BYTES_MAX);
    event_minimal(&ev);
    REQUIRE(ps_avro_canonical_form(ps_avsc_callback_event, ps_avsc_callback_event_len, &canon,
                                   err, sizeof(err)) == PS_OK);
    fp = ps_avro_fingerprint64(canon.data, canon.len);
    CHECK_U64(ps_avro_codec_fingerprint(codec, PS_AVRO_CALLBACK_EVENT), fp);
    CHECK_INT(ps_avro_encode_callback_event(codec, &ev, &out, err, sizeof(err)), PS_OK);
    REQUIRE(out.len > PS_AVRO_HEADER_BYTES);
    CHECK_INT(out.data[0], 0xC3);
    CHECK_INT(out.data[1], 0x01);
    for (int i = 0; i < 8; i++)
        CHECK_INT(out.data[2 + i], (fp >> (8 * i)) & 0xFF);
    CHECK(ps_avro_codec_fingerprint(codec, PS_AVRO_CALLBACK_EVENT) !=
          ps_avro_codec_fingerprint(codec, PS_AVRO_LEDGER_COMMAND));
    ps_callback_event_deinit(&ev);
    ps_buf_deinit(&canon);
    ps_buf_deinit(&out);
}

/* What the encoder wrote, read with the plain Avro-C generic API after the header. */
static void test_interop_plain_avro_c(void)
{
    char err[PS_ERRSTR_SIZE] = "";
    ps_callback_event_t ev;
    ps_buf_t out;
    avro_schema_t schema = NULL;
    avro_value_iface_t *iface = NULL;
    avro_value_t rec, f, evid, branch;
    avro_reader_t reader;
    const char *s;
    const void *body;
    size_t size;
    int64_t amount;
    int disc;

    event_full(&ev);
    ps_buf_init(&out, PS_AVRO_MESSAGE_BYTES_MAX);
    REQUIRE(ps_avro_encode_callback_event(codec, &ev, &out, err, sizeof(err)) == PS_OK);
    REQUIRE(avro_schema_from_json_length(ps_avsc_callback_event, ps_avsc_callback_event_len,
                                         &schema) == 0);
    iface = avro_generic_class_from_schema(schema);
    REQUIRE(avro_generic_value_new(iface, &rec) == 0);
    reader = avro_reader_memory((const char *)out.data + 10, (int64_t)out.len - 10);
    CHECK_INT(avro_value_read(reader, &rec), 0);
    avro_reader_free(reader);
    CHECK_INT(avro_value_get_by_name(&rec, "channel_txn_id", &f, NULL), 0);
    CHECK_INT(avro_value_get_string(&f, &s, &size), 0);
    CHECK_STR(s, "4200001234202401011234567890");
    CHECK_INT(avro_value_get_by_name(&rec, "amount_minor", &f, NULL), 0);
    CHECK_INT(avro_value_get_long(&f, &amount), 0);
    CHECK_INT(amount, INT64_MIN);
    CHECK_INT(avro_value_get_by_name(&rec, "refund_id", &f, NULL), 0);
    CHECK_INT(avro_value_get_discriminant(&f, &disc), 0);
    CHECK_INT(disc, 1);
    CHECK_INT(avro_value_get_current_branch(&f, &branch), 0);
    CHECK_INT(avro_value_get_string(&branch, &s, &size), 0);
    CHECK_INT(size, PS_ID_BYTES_MAX + 1); /* Avro-C counts the NUL */
    CHECK_INT(avro_value_get_by_name(&rec, "evidence", &evid, NULL), 0);
    CHECK_INT(avro_value_get_by_name(&evid, "raw_body", &f, NULL), 0);
    CHECK_INT(avro_value_get_bytes(&f, &body, &size), 0);
    CHECK_INT(size, 300);
    CHECK(size == 300 && memcmp(body, ev.raw_body, 300) == 0);
    avro_value_decref(&rec);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    ps_callback_event_deinit(&ev);
    ps_buf_deinit(&out);
}

/* Runs the encoder on a broken event; expects PS_ERR_INVALID naming the field. */
static void expect_encode_invalid(ps_callback_event_t *ev, const char *field)
{
    char err[PS_ERRSTR_SIZE] = "";
    ps_buf_t out;

    ps_buf_init(&out, PS_AVRO_MESSAGE_BYTES_MAX);
    CHECK_INT(ps_avro_encode_callback_event(codec, ev, &out, err, sizeof(err)), PS_ERR_INVALID);
    CHECK_CONTAINS(err, field);
    CHECK_INT(ps_avro_validate_callback_event(ev, err, sizeof(err)), PS_ERR_INVALID);
    ps_buf_deinit(&out);
}

/* The encoder refuses what breaks the contract and says which field. */
static void test_encode_rejects_invalid(void)
{
    ps_callback_event_t ev;
    char *saved;

    event_minimal(&ev);
    saved = ev.channel_event_id;
    ev.channel_event_id = NULL;
    expect_encode_invalid(&ev, "field \"channel_event_id\" is missing");
    ev.channel_event_id = repeat('x', PS_ID_BYTES_MAX + 1);
    expect_encode_invalid(&ev, "field \"channel_event_id\" is longer than the limit of 256");
    ps_free(ev.channel_event_id);
    ev.channel_event_id = ps_strdup("");
    expect_encode_invalid(&ev, "field \"channel_event_id\" is empty");
    ps_free(ev.channel_event_id);
    ev.channel_event_id = ps_strdup("bad\xc3\x28utf8");
    expect_encode_invalid(&ev, "field \"channel_event_id\" is not valid UTF-8");
    ps_free(ev.channel_event_id);
    ev.channel_event_id = saved;
    memcpy(ev.currency, "cny", 4);
    expect_encode_invalid(&ev, "field \"currency\"");
    memcpy(ev.currency, "CN", 3);
    expect_encode_invalid(&ev, "field \"currency\"");
    memcpy(ev.currency, "CNY", 4);
    ev.kind = (ps_event_kind_t)PS_EVENT_KIND_COUNT;
    expect_encode_invalid(&ev, "field \"kind\" is out of range");
    ev.kind = PS_EVENT_PAYMENT_SUCCEEDED;
    ev.channel = (ps_channel_t)-1;
    expect_encode_invalid(&ev, "field \"channel\" is out of range");
    ev.channel = PS_CHANNEL_ALIPAY;
    ev.raw_body_len = PS_EVIDENCE_BODY_BYTES_MAX + 1;
    ev.raw_body = ps_calloc(1, ev.raw_body_len);
    expect_encode_invalid(&ev, "evidence.raw_body");
    ps_free(ev.raw_body);
    ev.raw_body = NULL;
    ev.raw_body_len = 0;
    ev.header_count = PS_EVIDENCE_HEADERS_MAX + 1;
    ev.headers = ps_calloc(ev.header_count, sizeof(ev.headers[0]));
    expect_encode_invalid(&ev, "evidence.headers");
    ev.header_count = 1;
    expect_encode_invalid(&ev, "evidence.headers[0].name\" is missing");
    ps_free(ev.headers);
    ev.headers = NULL;
    ev.header_count = 0;
    saved = ev.key_id;
    ev.key_id = NULL;
    expect_encode_invalid(&ev, "evidence.key_id");
    ev.key_id = saved;
    ps_callback_event_deinit(&ev);
}

/* The same rules on LedgerCommand; and an output buffer too small is TOO_LARGE. */
static void test_encode_command_invalid_and_small_buffer(void)
{
    char err[PS_ERRSTR_SIZE] = "";
    ps_ledger_command_t cmd;
    ps_buf_t out;

    command_full(&cmd);
    ps_buf_init(&out, 64);
    CHECK_INT(ps_avro_encode_ledger_command(codec, &cmd, &out, err, sizeof(err)),
              PS_ERR_TOO_LARGE);
    CHECK_CONTAINS(err, "over the output buffer's cap of 64");
    ps_free(cmd.reason);
    cmd.reason = repeat('r', PS_REASON_BYTES_MAX + 1);
    CHECK_INT(ps_avro_encode_ledger_command(codec, &cmd, &out, err, sizeof(err)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(err, "invalid LedgerCommand: field \"reason\" is longer than the limit");
    ps_free(cmd.account_id);
    cmd.account_id = ps_strdup("");
    CHECK_INT(ps_avro_validate_ledger_command(&cmd, err, sizeof(err)), PS_ERR_INVALID);
    CHECK_CONTAINS(err, "\"account_id\" is empty");
    ps_ledger_command_deinit(&cmd);
    ps_buf_deinit(&out);
}

/* Both types dispatch by header; decoding one as the other is refused. */
static void test_dispatch(void)
{
    char err[PS_ERRSTR_SIZE] = "";
    ps_callback_event_t ev, ev_back;
    ps_ledger_command_t cmd, cmd_back;
    ps_buf_t ev_out, cmd_out;
    ps_avro_type_t type;

    event_minimal(&ev);
    command_full(&cmd);
    ps_buf_init(&ev_out, PS_AVRO_MESSAGE_BYTES_MAX);
    ps_buf_init(&cmd_out, PS_AVRO_MESSAGE_BYTES_MAX);
    REQUIRE(ps_avro_encode_callback_event(codec, &ev, &ev_out, err, sizeof(err)) == PS_OK);
    REQUIRE(ps_avro_encode_ledger_command(codec, &cmd, &cmd_out, err, sizeof(err)) == PS_OK);
    CHECK_INT(ps_avro_codec_message_type(codec, ev_out.data, ev_out.len, &type, err, sizeof(err)),
              PS_OK);
    CHECK_INT(type, PS_AVRO_CALLBACK_EVENT);
    CHECK_INT(ps_avro_codec_message_type(codec, cmd_out.data, cmd_out.len, &type, err,
                                         sizeof(err)),
              PS_OK);
    CHECK_INT(type, PS_AVRO_LEDGER_COMMAND);
    CHECK_INT(ps_avro_decode_ledger_command(codec, ev_out.data, ev_out.len, &cmd_back, err,
                                            sizeof(err)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(err, "message is a CallbackEvent");
    CHECK(cmd_back.command_id == NULL);
    CHECK_INT(ps_avro_decode_callback_event(codec, cmd_out.data, cmd_out.len, &ev_back, err,
                                            sizeof(err)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(err, "not a CallbackEvent");
    CHECK_STR(ps_avro_type_name(PS_AVRO_LEDGER_COMMAND), "LedgerCommand");
    ps_callback_event_deinit(&ev);
    ps_ledger_command_deinit(&cmd);
    ps_buf_deinit(&ev_out);
    ps_buf_deinit(&cmd_out);
}

/* event.c: names as in the schemas, the lower-case parser, deinit of zeroed structs. */
static void test_event_names(void)
{
    ps_channel_t ch = PS_CHANNEL_WECHAT;
    ps_callback_event_t ev = {0};
    ps_ledger_command_t cmd = {0};

    CHECK_STR(ps_channel_name(PS_CHANNEL_ALIPAY), "ALIPAY");
    CHECK_STR(ps_channel_name((ps_channel_t)7), "UNKNOWN");
    CHECK_STR(ps_event_kind_name(PS_EVENT_REFUND_SUCCEEDED), "REFUND_SUCCEEDED");
    CHECK_STR(ps_command_kind_name(PS_COMMAND_COMPENSATE), "COMPENSATE");
    CHECK_INT(ps_channel_parse("apple", &ch), PS_OK);
    CHECK_INT(ch, PS_CHANNEL_APPLE);
    CHECK_INT(ps_channel_parse("APPLE", &ch), PS_ERR_INVALID);
    CHECK_INT(ps_channel_parse("", &ch), PS_ERR_INVALID);
    CHECK_INT(ps_channel_parse(NULL, &ch), PS_ERR_INVALID);
    CHECK_INT(ch, PS_CHANNEL_APPLE);
    ps_callback_event_deinit(&ev);
    ps_callback_event_deinit(NULL);
    ps_ledger_command_deinit(&cmd);
    ps_ledger_command_deinit(NULL);
    ps_avro_codec_destroy(NULL);
}

int main(void)
{
    char err[PS_ERRSTR_SIZE] = "";

    if (ps_avro_codec_new(&codec, err, sizeof(err)) != PS_OK) {
        fprintf(stderr, "could not create codec: %s\n", err);
        return 1;
    }
    RUN(test_event_roundtrip_full);
    RUN(test_event_roundtrip_minimal);
    RUN(test_event_roundtrip_max_size);
    RUN(test_utf8_rules);
    RUN(test_command_roundtrip);
    RUN(test_header_bytes);
    RUN(test_interop_plain_avro_c);
    RUN(test_encode_rejects_invalid);
    RUN(test_encode_command_invalid_and_small_buffer);
    RUN(test_dispatch);
    RUN(test_event_names);
    ps_avro_codec_destroy(codec);
    return test_summary();
}
