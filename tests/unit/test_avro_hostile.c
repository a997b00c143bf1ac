/*
 * The decoder on hostile input: garbage, every truncation, every single-bit
 * flip, hand-crafted bodies with negative or huge lengths, out-of-range enum
 * and union indexes, overlong varints, bad UTF-8, oversized arrays, trailing
 * bytes, and 10,000 deterministic pseudo-random buffers. Each must give
 * PS_OK with a struct that passes the contract, or an error with a message;
 * never a crash, and (under -DPS_SANITIZE=ON, LeakSanitizer) never a leak:
 * Avro-C must only ever see bytes it can read to the end.
 */
#include "test.h"

#include <paystream/assert.h>
#include <paystream/avro.h>
#include <paystream/event.h>
#include <paystream/limits.h>
#include <paystream/mem.h>

static ps_avro_codec_t *codec;

/* A hand-built message: header + Avro binary written field by field. */
typedef struct msg {
    uint8_t b[8192];
    size_t n;
} msg_t;

static void put_raw(msg_t *m, const void *p, size_t len)
{
    PS_ASSERT(m->n + len <= sizeof(m->b));
    memcpy(m->b + m->n, p, len);
    m->n += len;
}

static void put_varint(msg_t *m, uint64_t u)
{
    do {
        uint8_t byte = (uint8_t)(u & 0x7F);

        u >>= 7;
        if (u != 0)
            byte |= 0x80;
        put_raw(m, &byte, 1);
    } while (u != 0);
}

static void put_long(msg_t *m, int64_t v)
{
    put_varint(m, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static void put_str(msg_t *m, const char *s)
{
    put_long(m, (int64_t)strlen(s));
    put_raw(m, s, strlen(s));
}

static void put_header(msg_t *m, ps_avro_type_t type)
{
    uint64_t fp = ps_avro_codec_fingerprint(codec, type);

    m->n = 0;
    m->b[m->n++] = 0xC3;
    m->b[m->n++] = 0x01;
    for (int i = 0; i < 8; i++)
        m->b[m->n++] = (uint8_t)(fp >> (8 * i));
}

typedef enum fault {
    FAULT_NONE,
    FAULT_CHANNEL_INDEX,    /* enum index 3 of 3 symbols */
    FAULT_KIND_NEGATIVE,    /* enum index -1 */
    FAULT_UNION_BRANCH,     /* refund_id branch 2 of 2 */
    FAULT_STRING_NEGATIVE,  /* channel_event_id length -5 */
    FAULT_STRING_HUGE,      /* channel_event_id length 2^62 */
    FAULT_VARINT_LONG,      /* amount_minor as 11 continuation bytes: overflows at the 10th */
    FAULT_VARINT_OVERFLOW,  /* amount_minor's 10th byte carries bits past 63 */
    FAULT_STRING_NUL,       /* NUL inside merchant_order_no */
    FAULT_STRING_UTF8,      /* invalid UTF-8 in channel_txn_id */
    FAULT_ARRAY_NEGATIVE,   /* headers block count -1 */
    FAULT_ARRAY_TOO_MANY,   /* 17 headers */
    FAULT_BYTES_NEGATIVE,   /* raw_body length -1 */
    FAULT_TRAILING,         /* one byte after the record */
    FAULT_CURRENCY_LOWER,   /* "cny": well-formed Avro, breaks the contract */
    FAULT_CURRENCY_LONG,    /* "CNYY" */
    FAULT_ID_EMPTY,         /* channel_event_id "" */
    FAULT_ID_TOO_LONG,      /* channel_event_id of PS_ID_BYTES_MAX + 1 bytes */
    FAULT_ENUM_VARINT_LONG, /* kind as a 6-byte varint; an Avro int has at most 5 */
    FAULT_COUNT
} fault_t;

/* Substring each fault's error must contain. */
static const char *const fault_errors[FAULT_COUNT] = {
    [FAULT_NONE] = NULL,
    [FAULT_CHANNEL_INDEX] = "field \"channel\" at byte 10: enum symbol 3 is out of range",
    [FAULT_KIND_NEGATIVE] = "field \"kind\"",
    [FAULT_UNION_BRANCH] = "field \"refund_id\"",
    [FAULT_STRING_NEGATIVE] = "string length -5 is negative",
    [FAULT_STRING_HUGE] = "string length 4611686018427387904 exceeds",
    [FAULT_VARINT_LONG] = "field \"amount_minor\" at byte 50: varint overflows 64 bits",
    [FAULT_VARINT_OVERFLOW] = "varint overflows 64 bits",
    [FAULT_STRING_NUL] = "field \"merchant_order_no\"",
    [FAULT_STRING_UTF8] = "field \"channel_txn_id\"",
    [FAULT_ARRAY_NEGATIVE] = "block count -1 is negative",
    [FAULT_ARRAY_TOO_MANY] = "more than 16 items",
    [FAULT_BYTES_NEGATIVE] = "bytes length -1 is negative",
    [FAULT_TRAILING] = "1 trailing bytes at byte 194 after the record",
    [FAULT_CURRENCY_LOWER] = "field \"currency\" is not three upper-case letters",
    [FAULT_CURRENCY_LONG] = "field \"currency\"",
    [FAULT_ID_EMPTY] = "field \"channel_event_id\" is empty",
    [FAULT_ID_TOO_LONG] = "field \"channel_event_id\" is longer than the limit",
    [FAULT_ENUM_VARINT_LONG] = "field \"kind\" at byte 16: varint is longer than 5 bytes",
};

static void put_evidence(msg_t *m, fault_t fault)
{
    put_long(m, fault == FAULT_BYTES_NEGATIVE ? -1 : 4);
    put_raw(m, "\x00\xff\x00\xff", 4);
    if (fault == FAULT_ARRAY_NEGATIVE) {
        put_long(m, -1);
    } else if (fault == FAULT_ARRAY_TOO_MANY) {
        put_long(m, PS_EVIDENCE_HEADERS_MAX + 1);
    } else {
        put_long(m, 2);
        put_str(m, "Wechatpay-Serial");
        put_str(m, "5157F09EFDC096DE15EBE81A47057A7232F1B8E1");
        put_str(m, "Wechatpay-Nonce");
        put_str(m, "");
        put_long(m, 0);
    }
    put_str(m, "5157F09EFDC096DE15EBE81A47057A7232F1B8E1");
}

/* channel_event_id per fault: valid, negative, huge, empty or too long. */
static void put_event_id(msg_t *m, fault_t fault)
{
    char long_id[PS_ID_BYTES_MAX + 2];

    if (fault == FAULT_STRING_NEGATIVE) {
        put_long(m, -5);
    } else if (fault == FAULT_STRING_HUGE) {
        put_long(m, INT64_C(1) << 62);
    } else if (fault == FAULT_ID_EMPTY) {
        put_str(m, "");
    } else if (fault == FAULT_ID_TOO_LONG) {
        memset(long_id, 'i', PS_ID_BYTES_MAX + 1);
        long_id[PS_ID_BYTES_MAX + 1] = '\0';
        put_str(m, long_id);
    } else {
        put_str(m, "EV-1");
    }
}

static void put_amount(msg_t *m, fault_t fault)
{
    if (fault == FAULT_VARINT_LONG) {
        for (int i = 0; i < 11; i++)
            put_raw(m, "\x80", 1);
        put_raw(m, "\x00", 1);
    } else if (fault == FAULT_VARINT_OVERFLOW) {
        put_raw(m, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 10);
    } else {
        put_long(m, 100);
    }
}

/* A CallbackEvent body written by hand, with one fault injected. */
static void build_event(msg_t *m, fault_t fault)
{
    put_header(m, PS_AVRO_CALLBACK_EVENT);
    put_long(m, fault == FAULT_CHANNEL_INDEX ? 3 : 1);
    put_event_id(m, fault);
    if (fault == FAULT_ENUM_VARINT_LONG)
        put_raw(m, "\x84\x80\x80\x80\x80\x00", 6);
    else
        put_long(m, fault == FAULT_KIND_NEGATIVE ? -1 : 2);
    put_str(m, "TRADE_SUCCESS");
    if (fault == FAULT_STRING_NUL) {
        put_long(m, 3);
        put_raw(m, "a\0b", 3);
    } else {
        put_str(m, "ORDER-1");
    }
    put_str(m, fault == FAULT_STRING_UTF8 ? "txn\xed\xa0\x80" : "TXN-1"); /* a surrogate */
    put_long(m, fault == FAULT_UNION_BRANCH ? 2 : 1);
    put_str(m, "R-1");
    put_amount(m, fault);
    put_long(m, 0); /* refund_total_minor: null */
    put_str(m, fault == FAULT_CURRENCY_LOWER  ? "cny"
               : fault == FAULT_CURRENCY_LONG ? "CNYY"
                                              : "CNY");
    put_str(m, "acct-1");
    put_long(m, 1000);
    put_long(m, 2000);
    put_long(m, 1); /* paid_time_us: long */
    put_long(m, 1500);
    put_evidence(m, fault);
    if (fault == FAULT_TRAILING)
        put_raw(m, "\x00", 1);
}

/* Decodes as type; on PS_OK checks the contract and releases. Returns the code. */
static ps_err_t decode_any(ps_avro_type_t type, const uint8_t *data, size_t len, char *err,
                           size_t err_size)
{
    ps_err_t rc;

    err[0] = '\0';
    if (type == PS_AVRO_CALLBACK_EVENT) {
        ps_callback_event_t ev;

        rc = ps_avro_decode_callback_event(codec, data, len, &ev, err, err_size);
        if (rc == PS_OK)
            CHECK_INT(ps_avro_validate_callback_event(&ev, err, err_size), PS_OK);
        else
            CHECK(ev.channel_event_id == NULL && ev.headers == NULL && ev.raw_body == NULL);
        ps_callback_event_deinit(&ev);
    } else {
        ps_ledger_command_t cmd;

        rc = ps_avro_decode_ledger_command(codec, data, len, &cmd, err, err_size);
        if (rc == PS_OK)
            CHECK_INT(ps_avro_validate_ledger_command(&cmd, err, err_size), PS_OK);
        else
            CHECK(cmd.command_id == NULL && cmd.reason == NULL);
        ps_ledger_command_deinit(&cmd);
    }
    if (rc != PS_OK)
        CHECK(err[0] != '\0'); /* every failure says why */
    return rc;
}

/* The hand-built message without a fault is valid, and exactly what the encoder writes. */
static void test_builder_matches_encoder(void)
{
    char err[PS_ERRSTR_SIZE];
    ps_callback_event_t ev;
    ps_buf_t out;
    msg_t m;

    build_event(&m, FAULT_NONE);
    REQUIRE(ps_avro_decode_callback_event(codec, m.b, m.n, &ev, err, sizeof(err)) == PS_OK);
    CHECK_INT(ev.channel, PS_CHANNEL_ALIPAY);
    CHECK_INT(ev.kind, PS_EVENT_REFUND_SUCCEEDED);
    CHECK_STR(ev.refund_id, "R-1");
    CHECK_INT(ev.has_refund_total, 0);
    CHECK_INT(ev.paid_time_us, 1500);
    CHECK_INT(ev.header_count, 2);
    CHECK_STR(ev.headers[1].value, "");
    ps_buf_init(&out, PS_AVRO_MESSAGE_BYTES_MAX);
    CHECK_INT(ps_avro_encode_callback_event(codec, &ev, &out, err, sizeof(err)), PS_OK);
    CHECK_INT(out.len, m.n);
    CHECK(out.len == m.n && memcmp(out.data, m.b, m.n) == 0);
    ps_buf_deinit(&out);
    ps_callback_event_deinit(&ev);
}

/* Each crafted fault is refused with PS_ERR_INVALID and a message naming it. */
static void test_crafted_faults(void)
{
    char err[PS_ERRSTR_SIZE];
    msg_t m;

    for (int f = 1; f < FAULT_COUNT; f++) {
        build_event(&m, (fault_t)f);
        CHECK_INT(decode_any(PS_AVRO_CALLBACK_EVENT, m.b, m.n, err, sizeof(err)),
                  PS_ERR_INVALID);
        if (strstr(err, fault_errors[f]) == NULL)
            fprintf(stderr, "fault %d: \"%s\"\n", f, err);
        CHECK_CONTAINS(err, fault_errors[f]);
        CHECK_CONTAINS(err, "could not decode CallbackEvent");
    }
}

/* Empty, short, wrong magic, unknown fingerprint, oversized. */
static void test_garbage_headers(void)
{
    char err[PS_ERRSTR_SIZE];
    uint8_t *big;
    msg_t m;

    CHECK_INT(decode_any(PS_AVRO_CALLBACK_EVENT, NULL, 0, err, sizeof(err)), PS_ERR_INVALID);
    CHECK_CONTAINS(err, "message is 0 bytes, shorter than the 10-byte single-object header");
    CHECK_INT(decode_any(PS_AVRO_CALLBACK_EVENT, (const uint8_t *)"\xC3", 1, err, sizeof(err)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(err, "message is 1 bytes");
    build_event(&m, FAULT_NONE);
    m.b[1] = 0x02;
    CHECK_INT(decode_any(PS_AVRO_LEDGER_COMMAND, m.b, m.n, err, sizeof(err)), PS_ERR_INVALID);
    CHECK_CONTAINS(err, "does not start with the single-object marker C3 01");
    m.b[0] = 0x00; /* a Confluent-framed message */
    CHECK_INT(decode_any(PS_AVRO_CALLBACK_EVENT, m.b, m.n, err, sizeof(err)), PS_ERR_INVALID);
    build_event(&m, FAULT_NONE);
    memcpy(m.b + 2, "\x01\x23\x45\x67\x89\xab\xcd\xef", 8);
    CHECK_INT(decode_any(PS_AVRO_CALLBACK_EVENT, m.b, m.n, err, sizeof(err)), PS_ERR_INVALID);
    CHECK_CONTAINS(err, "unknown schema fingerprint 0xefcdab8967452301");
    big = ps_calloc(1, PS_AVRO_MESSAGE_BYTES_MAX + 1);
    memcpy(big, m.b, m.n);
    CHECK_INT(decode_any(PS_AVRO_CALLBACK_EVENT, big, PS_AVRO_MESSAGE_BYTES_MAX + 1, err,
                         sizeof(err)),
              PS_ERR_TOO_LARGE);
    CHECK_CONTAINS(err, "over the limit of 262144");
    ps_free(big);
}

/* A sizeable valid event (headers, body) as encoded by the codec. */
static void encode_sample(ps_buf_t *out, ps_avro_type_t type)
{
    char err[PS_ERRSTR_SIZE];
    msg_t m;

    if (type == PS_AVRO_CALLBACK_EVENT) {
        build_event(&m, FAULT_NONE);
        PS_ASSERT(ps_buf_append(out, m.b, m.n) == PS_OK);
        return;
    }
    ps_ledger_command_t cmd = {.command_id = "c0ffee", .kind = PS_COMMAND_COMPENSATE,
                               .channel = PS_CHANNEL_APPLE, .payment_key = "ORDER-9",
                               .amount_minor = 499, .currency = "USD", .account_id = "acct",
                               .reason = "missing credit: channel 4.99 USD, ledger none",
                               .recon_run_id = "run-7", .created_time_us = 1};
    PS_ASSERT(ps_avro_encode_ledger_command(codec, &cmd, out, err, sizeof(err)) == PS_OK);
}

/* Every proper prefix of a valid message fails cleanly with PS_ERR_INVALID. */
static void test_every_truncation(void)
{
    char err[PS_ERRSTR_SIZE];

    for (int t = 0; t < PS_AVRO_TYPE_COUNT; t++) {
        ps_buf_t out;

        ps_buf_init(&out, PS_AVRO_MESSAGE_BYTES_MAX);
        encode_sample(&out, (ps_avro_type_t)t);
        REQUIRE(decode_any((ps_avro_type_t)t, out.data, out.len, err, sizeof(err)) == PS_OK);
        for (size_t len = 0; len < out.len; len++) {
            /* A fresh copy of exactly len bytes, so ASan catches any over-read. */
            uint8_t *copy = ps_memdup(out.data, len);

            CHECK_INT(decode_any((ps_avro_type_t)t, copy, len, err, sizeof(err)), PS_ERR_INVALID);
            ps_free(copy);
        }
        ps_buf_deinit(&out);
    }
}

/* Every single-bit flip: PS_OK with a valid struct, or an error; nothing else. */
static void test_every_bit_flip(void)
{
    char err[PS_ERRSTR_SIZE];
    int ok = 0, failed = 0;

    for (int t = 0; t < PS_AVRO_TYPE_COUNT; t++) {
        ps_buf_t out;

        ps_buf_init(&out, PS_AVRO_MESSAGE_BYTES_MAX);
        encode_sample(&out, (ps_avro_type_t)t);
        for (size_t i = 0; i < out.len; i++) {
            for (int bit = 0; bit < 8; bit++) {
                uint8_t *copy = ps_memdup(out.data, out.len);

                copy[i] ^= (uint8_t)(1u << bit);
                if (decode_any((ps_avro_type_t)t, copy, out.len, err, sizeof(err)) == PS_OK)
                    ok++;
                else
                    failed++;
                ps_free(copy);
            }
        }
        ps_buf_deinit(&out);
    }
    /* Flips in the header or a length must fail; flips inside text may pass. */
    CHECK(failed > 0);
    CHECK(ok > 0);
}

/* xorshift64*: deterministic, so a failure reproduces. */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * UINT64_C(2685821657736338717);
}

/*
 * 10,000 pseudo-random buffers: a third pure noise, a third noise behind a
 * valid header (to reach the body walk), a third a valid message with a few
 * random bytes overwritten.
 */
static void test_random_buffers(void)
{
    char err[PS_ERRSTR_SIZE];
    uint64_t seed = UINT64_C(0x9E3779B97F4A7C15);
    msg_t valid, m;
    int ok = 0;

    build_event(&valid, FAULT_NONE);
    for (int i = 0; i < 10000; i++) {
        ps_avro_type_t type = (ps_avro_type_t)(rng_next(&seed) % PS_AVRO_TYPE_COUNT);
        int mode = (int)(rng_next(&seed) % 3);
        size_t len = (size_t)(rng_next(&seed) % 400);
        uint8_t *copy;

        if (mode == 2) {
            m = valid;
            for (int k = 0, edits = 1 + (int)(rng_next(&seed) % 4); k < edits; k++)
                m.b[PS_AVRO_HEADER_BYTES + rng_next(&seed) % (m.n - PS_AVRO_HEADER_BYTES)] =
                    (uint8_t)rng_next(&seed);
            type = PS_AVRO_CALLBACK_EVENT;
        } else {
            put_header(&m, type);
            if (mode == 0)
                m.n = 0;
            for (size_t k = 0; k < len; k++)
                m.b[m.n++] = (uint8_t)rng_next(&seed);
        }
        copy = ps_memdup(m.b, m.n);
        if (decode_any(type, copy, m.n, err, sizeof(err)) == PS_OK)
            ok++;
        ps_free(copy);
    }
    fprintf(stderr, "random buffers: %d of 10000 decoded\n", ok);
    CHECK(ok < 10000);
}

int main(void)
{
    char err[PS_ERRSTR_SIZE] = "";

    if (ps_avro_codec_new(&codec, err, sizeof(err)) != PS_OK) {
        fprintf(stderr, "could not create codec: %s\n", err);
        return 1;
    }
    RUN(test_builder_matches_encoder);
    RUN(test_crafted_faults);
    RUN(test_garbage_headers);
    RUN(test_every_truncation);
    RUN(test_every_bit_flip);
    RUN(test_random_buffers);
    ps_avro_codec_destroy(codec);
    return test_summary();
}
