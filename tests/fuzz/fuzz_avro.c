/*
 * Fuzz target: the Avro decoder the processor runs on every Kafka message
 * (common/src/avro_direct.c through ps_avro_decode_*). The first input byte
 * picks the record (even: CallbackEvent, odd: LedgerCommand); the rest is its
 * body, behind a correct single-object header, so that every mutation
 * reaches the body decoder instead of dying at the fingerprint. A refused
 * body must say why; an accepted one must write back (ps_avro_encode_*) to
 * bytes that decode again and write back to the same bytes: what the
 * processor accepts is exactly what a paystream writer can produce.
 */
#include "fuzz.h"

#include <paystream/assert.h>
#include <paystream/avro.h>
#include <paystream/buf.h>
#include <paystream/limits.h>

#include <stdlib.h>
#include <string.h>

static ps_avro_codec_t *codec;
static ps_buf_t once, twice;
static uint8_t message[PS_AVRO_MESSAGE_BYTES_MAX];
static uint8_t header[2][PS_AVRO_HEADER_BYTES];

/* Sample records: the header of each type comes from encoding them. */
static ps_header_t sample_headers[] = {{"Wechatpay-Serial", "5157F09EFDC096DE15EBE81A47057A72"},
                                       {"Wechatpay-Nonce", "n0"}};
static ps_callback_event_t sample_event = {
    .channel = PS_CHANNEL_ALIPAY, .channel_event_id = "ev-1", .kind = PS_EVENT_REFUND_SUCCEEDED,
    .channel_event_type = "TRADE_SUCCESS", .merchant_order_no = "ORD-1",
    .channel_txn_id = "2026112622001", .refund_id = "RF-1", .amount_minor = 648,
    .has_refund_total = true, .refund_total_minor = 648, .currency = "CNY",
    .account_id = "player-1", .event_time_us = 1795000000000000, .has_paid_time = true,
    .paid_time_us = 1795000000000001, .received_time_us = 1795000000000002,
    .raw_body = (uint8_t *)"{\"id\":1}", .raw_body_len = 8, .headers = sample_headers,
    .header_count = 2, .key_id = "key-1"};
static ps_ledger_command_t sample_command = {
    .command_id = "cmd-1", .kind = PS_COMMAND_ADJUST, .channel = PS_CHANNEL_WECHAT,
    .payment_key = "ORD-2", .amount_minor = -5, .currency = "USD", .account_id = "player-2",
    .reason = "AMOUNT_MISMATCH", .recon_run_id = "run-1", .created_time_us = 1795000000000003};

static void encode(int odd, const void *record, ps_buf_t *out)
{
    char errstr[PS_ERRSTR_SIZE];
    ps_err_t err = odd ? ps_avro_encode_ledger_command(codec, record, out, errstr, sizeof(errstr))
                       : ps_avro_encode_callback_event(codec, record, out, errstr, sizeof(errstr));

    PS_ASSERT(err == PS_OK);
}

/* At exit, so that the sanitizer build's leak check sees only real leaks. */
static void teardown(void)
{
    ps_avro_codec_destroy(codec);
    ps_buf_deinit(&once);
    ps_buf_deinit(&twice);
}

void fuzz_setup(void)
{
    char errstr[PS_ERRSTR_SIZE];

    PS_ASSERT(ps_avro_codec_new(&codec, errstr, sizeof(errstr)) == PS_OK);
    ps_buf_init(&once, PS_AVRO_MESSAGE_BYTES_MAX);
    ps_buf_init(&twice, PS_AVRO_MESSAGE_BYTES_MAX);
    for (int odd = 0; odd < 2; odd++) {
        encode(odd, odd ? (const void *)&sample_command : (const void *)&sample_event, &once);
        memcpy(header[odd], once.data, PS_AVRO_HEADER_BYTES);
    }
    atexit(teardown);
}

/* Decodes len bytes of message as the record odd picks; on PS_OK *record holds it. */
static ps_err_t decode(int odd, const uint8_t *data, size_t len, ps_callback_event_t *ev,
                       ps_ledger_command_t *cmd, char *errstr, size_t errstr_size)
{
    return odd ? ps_avro_decode_ledger_command(codec, data, len, cmd, errstr, errstr_size)
               : ps_avro_decode_callback_event(codec, data, len, ev, errstr, errstr_size);
}

static void release(int odd, ps_callback_event_t *ev, ps_ledger_command_t *cmd)
{
    if (odd)
        ps_ledger_command_deinit(cmd);
    else
        ps_callback_event_deinit(ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char errstr[PS_ERRSTR_SIZE];
    ps_callback_event_t ev;
    ps_ledger_command_t cmd;
    int odd;

    if (size == 0 || size - 1 > sizeof(message) - PS_AVRO_HEADER_BYTES)
        return 0;
    odd = data[0] & 1;
    memcpy(message, header[odd], PS_AVRO_HEADER_BYTES);
    memcpy(message + PS_AVRO_HEADER_BYTES, data + 1, size - 1);
    errstr[0] = '\0';
    if (decode(odd, message, PS_AVRO_HEADER_BYTES + size - 1, &ev, &cmd, errstr,
               sizeof(errstr)) != PS_OK) {
        PS_ASSERT(errstr[0] != '\0');
        return 0;
    }
    encode(odd, odd ? (const void *)&cmd : (const void *)&ev, &once);
    release(odd, &ev, &cmd);
    PS_ASSERT(decode(odd, once.data, once.len, &ev, &cmd, errstr, sizeof(errstr)) == PS_OK);
    encode(odd, odd ? (const void *)&cmd : (const void *)&ev, &twice);
    release(odd, &ev, &cmd);
    PS_ASSERT(once.len == twice.len && memcmp(once.data, twice.data, once.len) == 0);
    return 0;
}

void fuzz_seeds(fuzz_seed_fn fn, void *opaque)
{
    static uint8_t seed[PS_AVRO_MESSAGE_BYTES_MAX];

    for (int odd = 0; odd < 2; odd++) {
        encode(odd, odd ? (const void *)&sample_command : (const void *)&sample_event, &once);
        seed[0] = (uint8_t)odd;
        memcpy(seed + 1, once.data + PS_AVRO_HEADER_BYTES, once.len - PS_AVRO_HEADER_BYTES);
        fn(seed, 1 + once.len - PS_AVRO_HEADER_BYTES, opaque);
    }
}
