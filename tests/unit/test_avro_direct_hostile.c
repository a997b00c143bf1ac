/*
 * The direct decoder (common/src/avro_direct.c) on crafted hostile messages:
 * each kind of refusal (enum and union indexes out of range, overlong and
 * overflowing varints, negative and past-the-end lengths, NUL and bad UTF-8,
 * too many headers, truncation, trailing bytes) names its field and byte
 * offset. The writer and builders are in avro_direct_test.h.
 */
#include "avro_direct_test.h"

/* --------------------------------------------------------------- hostile */

typedef enum fault {
    F_CHANNEL_ENUM,       /* channel 3 of 3 symbols */
    F_KIND_NEGATIVE,      /* kind -1 */
    F_KIND_INT_RANGE,     /* kind 2^33: not an Avro int */
    F_KIND_OVERLONG,      /* kind as a 6-byte varint */
    F_TYPE_NEGATIVE,      /* channel_event_type length -1 */
    F_TYPE_PAST_END,      /* channel_event_type length 1000 */
    F_REFUND_BRANCH,      /* refund_id union branch 2 */
    F_AMOUNT_OVERLONG,    /* amount_minor: 11 continuation bytes */
    F_AMOUNT_OVERFLOW,    /* amount_minor: tenth byte carries bit 64 */
    F_ORDER_NUL,          /* NUL inside merchant_order_no */
    F_BODY_NEGATIVE,      /* evidence.raw_body length -1 */
    F_HEADERS_NEGATIVE,   /* block count -1 */
    F_HEADERS_17,         /* one block of 17 */
    F_HEADERS_SPLIT_17,   /* blocks of 10 and 7 */
    F_HEADER_NAME_UTF8,   /* bad UTF-8 in headers[1].name */
    F_TRUNCATED,          /* body ends inside received_time_us */
    F_TRAILING,           /* one byte after the record */
    F_COUNT
} fault_t;

typedef struct expect {
    const char *field; /* NULL: not a field error */
    const char *detail;
} expect_t;

static const expect_t expects[F_COUNT] = {
    [F_CHANNEL_ENUM] = {"channel", "enum symbol 3 is out of range (3 symbols)"},
    [F_KIND_NEGATIVE] = {"kind", "enum symbol -1 is out of range (4 symbols)"},
    [F_KIND_INT_RANGE] = {"kind", "int 8589934592 is out of range"},
    [F_KIND_OVERLONG] = {"kind", "varint is longer than 5 bytes"},
    [F_TYPE_NEGATIVE] = {"channel_event_type", "string length -1 is negative"},
    [F_TYPE_PAST_END] = {"channel_event_type", "string length 1000 exceeds the"},
    [F_REFUND_BRANCH] = {"refund_id", "union branch 2 is out of range (2 branches)"},
    [F_AMOUNT_OVERLONG] = {"amount_minor", "varint overflows 64 bits"},
    [F_AMOUNT_OVERFLOW] = {"amount_minor", "varint overflows 64 bits"},
    [F_ORDER_NUL] = {"merchant_order_no", "string is not valid UTF-8 or contains a NUL byte"},
    [F_BODY_NEGATIVE] = {"evidence.raw_body", "bytes length -1 is negative"},
    [F_HEADERS_NEGATIVE] = {"evidence.headers", "block count -1 is negative"},
    [F_HEADERS_17] = {"evidence.headers", "more than 16 items"},
    [F_HEADERS_SPLIT_17] = {"evidence.headers", "more than 16 items"},
    [F_HEADER_NAME_UTF8] = {"evidence.headers[1].name", "string is not valid UTF-8"},
    [F_TRUNCATED] = {"received_time_us", "truncated varint"},
    [F_TRAILING] = {NULL, "1 trailing bytes at byte"},
};

/* Overwrites the field just written from mark on with raw bytes; *at = mark. */
static void replace_tail(wr_t *w, size_t mark, const void *p, size_t n, size_t *at)
{
    w->buf.len = mark;
    w_raw(w, p, n);
    *at = mark;
}

/* Rewrites the varint written at mark with v (the rest of the field stays). */
static void patch_long_at(wr_t *w, size_t mark, int64_t v, size_t *at)
{
    mut_t m;
    uint8_t enc[16];

    memcpy(m.b, w->buf.data, w->buf.len);
    m.n = w->buf.len;
    splice(&m, mark, varint_len(&m, mark), enc, encode_min(zigzag(v), enc));
    w->buf.len = 0;
    w_raw(w, m.b, m.n);
    *at = mark;
}

/* A valid event with one fault; *at is the message offset the error must name. */
static void build_fault(wr_t *w, fault_t f, size_t *at)
{
    shape_t s = {1, 2, true, false, true, 2, 4, 1, false};
    ps_callback_event_t ev;
    ps_header_t many[PS_EVIDENCE_HEADERS_MAX + 1];
    size_t mark;

    make_event(&ev, &s);
    w_init(w, PS_AVRO_CALLBACK_EVENT);
    mark = w->buf.len;
    w_long(w, V_INDEX, ev.channel);
    if (f == F_CHANNEL_ENUM)
        patch_long_at(w, mark, 3, at);
    w_str(w, ev.channel_event_id);
    mark = w->buf.len;
    w_long(w, V_INDEX, ev.kind);
    if (f == F_KIND_NEGATIVE)
        patch_long_at(w, mark, -1, at);
    if (f == F_KIND_INT_RANGE)
        patch_long_at(w, mark, INT64_C(1) << 33, at);
    if (f == F_KIND_OVERLONG)
        replace_tail(w, mark, "\x84\x80\x80\x80\x80\x00", 6, at);
    mark = w->buf.len;
    w_str(w, ev.channel_event_type);
    if (f == F_TYPE_NEGATIVE || f == F_TYPE_PAST_END)
        patch_long_at(w, mark, f == F_TYPE_NEGATIVE ? -1 : 1000, at);
    mark = w->buf.len;
    w_str(w, ev.merchant_order_no);
    if (f == F_ORDER_NUL)
        replace_tail(w, mark, "\x06" "a\0b", 4, at);
    w_str(w, ev.channel_txn_id);
    mark = w->buf.len;
    w_opt_str(w, ev.refund_id);
    if (f == F_REFUND_BRANCH)
        patch_long_at(w, mark, 2, at);
    mark = w->buf.len;
    w_long(w, V_LONG, ev.amount_minor);
    if (f == F_AMOUNT_OVERLONG)
        replace_tail(w, mark, "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00", 11, at);
    if (f == F_AMOUNT_OVERFLOW)
        replace_tail(w, mark, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x03", 10, at);
    w_opt_long(w, ev.has_refund_total, ev.refund_total_minor);
    w_str(w, ev.currency);
    w_str(w, ev.account_id);
    w_long(w, V_LONG, ev.event_time_us);
    mark = w->buf.len;
    if (f == F_TRUNCATED) {
        w_raw(w, "\x80\x80", 2);
        *at = mark;
        ps_callback_event_deinit(&ev);
        return;
    }
    w_long(w, V_LONG, ev.received_time_us);
    w_opt_long(w, ev.has_paid_time, ev.paid_time_us);
    mark = w->buf.len;
    w_bytes(w, ev.raw_body, ev.raw_body_len);
    if (f == F_BODY_NEGATIVE)
        patch_long_at(w, mark, -1, at);
    mark = w->buf.len;
    if (f == F_HEADERS_NEGATIVE) {
        w_long(w, V_COUNT, -1);
        *at = mark;
    } else if (f == F_HEADERS_17 || f == F_HEADERS_SPLIT_17) {
        for (size_t i = 0; i <= PS_EVIDENCE_HEADERS_MAX; i++)
            many[i] = ev.headers[i % 2];
        w_long(w, V_COUNT, f == F_HEADERS_17 ? PS_EVIDENCE_HEADERS_MAX + 1 : 10);
        if (f == F_HEADERS_SPLIT_17) {
            for (size_t i = 0; i < 10; i++) {
                w_str(w, many[i].name);
                w_str(w, many[i].value);
            }
            mark = w->buf.len;
            w_long(w, V_COUNT, 7);
        }
        *at = mark;
    } else {
        w_long(w, V_COUNT, 2);
        w_str(w, ev.headers[0].name);
        w_str(w, ev.headers[0].value);
        mark = w->buf.len;
        w_str(w, f == F_HEADER_NAME_UTF8 ? "Bad\xc0\xaf" : ev.headers[1].name);
        if (f == F_HEADER_NAME_UTF8)
            *at = mark;
        w_str(w, ev.headers[1].value);
        w_long(w, V_COUNT, 0);
    }
    w_str(w, ev.key_id);
    if (f == F_TRAILING) {
        *at = w->buf.len;
        w_raw(w, "\x00", 1);
    }
    ps_callback_event_deinit(&ev);
}

/*
 * Each refusal says which field, where (the message offset of the value) and
 * why, through the direct decoder alone and through the public decoder; the
 * generic path refuses the same messages.
 */
static void test_hostile_messages(void)
{
    for (int f = 0; f < F_COUNT; f++) {
        char err[PS_ERRSTR_SIZE] = "", want[PS_ERRSTR_SIZE];
        ps_callback_event_t ev;
        size_t at = 0;
        wr_t w;

        build_fault(&w, (fault_t)f, &at);
        if (expects[f].field != NULL)
            snprintf(want, sizeof(want), "field \"%s\" at byte %zu: %s", expects[f].field, at,
                     expects[f].detail);
        else
            snprintf(want, sizeof(want), "%s %zu after the record", expects[f].detail, at);
        CHECK_INT(ps__avro_direct_callback_event(w.buf.data + PS_AVRO_HEADER_BYTES,
                                                 w.buf.len - PS_AVRO_HEADER_BYTES,
                                                 PS_AVRO_HEADER_BYTES, &ev, err, sizeof(err)),
                  PS_ERR_INVALID);
        ps_callback_event_deinit(&ev); /* deinit-able after any failure */
        if (strstr(err, want) == NULL)
            fprintf(stderr, "fault %d\n", f);
        CHECK_CONTAINS(err, want);
        CHECK_INT(ps_avro_decode_callback_event(codec, w.buf.data, w.buf.len, &ev, err,
                                                sizeof(err)),
                  PS_ERR_INVALID);
        CHECK_CONTAINS(err, "could not decode CallbackEvent: ");
        CHECK_CONTAINS(err, want);
        CHECK(ev.channel_event_id == NULL && ev.headers == NULL); /* left zeroed */
        CHECK_INT(ps__avro_decode_callback_event_generic(codec, w.buf.data, w.buf.len, &ev, err,
                                                         sizeof(err)),
                  PS_ERR_INVALID);
        ps_buf_deinit(&w.buf);
    }
}

/* The LedgerCommand enums are bounded by their own symbol counts. */
static void test_hostile_command(void)
{
    char err[PS_ERRSTR_SIZE] = "";
    ps_ledger_command_t cmd;
    size_t at;
    wr_t w;

    make_command(&cmd, 0);
    w_command(&w, &cmd);
    ps_ledger_command_deinit(&cmd);
    at = w.varint_pos[1]; /* kind */
    patch_long_at(&w, at, PS_COMMAND_KIND_COUNT, &at);
    CHECK_INT(ps_avro_decode_ledger_command(codec, w.buf.data, w.buf.len, &cmd, err, sizeof(err)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(err, "field \"kind\" at byte");
    CHECK_CONTAINS(err, "enum symbol 3 is out of range (3 symbols)");
    ps_buf_deinit(&w.buf);
    make_command(&cmd, 1); /* account_id null */
    w_command(&w, &cmd);
    ps_ledger_command_deinit(&cmd);
    patch_long_at(&w, w.varint_pos[6], 5, &at); /* account_id branch */
    CHECK_INT(ps__avro_direct_ledger_command(w.buf.data + PS_AVRO_HEADER_BYTES,
                                             w.buf.len - PS_AVRO_HEADER_BYTES,
                                             PS_AVRO_HEADER_BYTES, &cmd, err, sizeof(err)),
              PS_ERR_INVALID);
    ps_ledger_command_deinit(&cmd);
    CHECK_CONTAINS(err, "field \"account_id\" at byte");
    CHECK_CONTAINS(err, "union branch 5 is out of range");
    ps_buf_deinit(&w.buf);
}

int main(void)
{
    char err[PS_ERRSTR_SIZE] = "";

    if (ps_avro_codec_new(&codec, err, sizeof(err)) != PS_OK) {
        fprintf(stderr, "could not create codec: %s\n", err);
        return 1;
    }
    RUN(test_hostile_messages);
    RUN(test_hostile_command);
    ps_avro_codec_destroy(codec);
    return test_summary();
}
