/*
 * The direct decoder (common/src/avro_direct.c) against the generic path it
 * replaced (wire walk + Avro-C + avro_event.c, kept as
 * ps__avro_decode_*_generic):
 *   - round trip: events and commands built in C, encoded by the codec,
 *     decoded by both paths, give the original struct field by field;
 *   - differential: 200,000 mutated CallbackEvents and 50,000 mutated
 *     LedgerCommands (seeded, so a failure reproduces) get the same verdict
 *     and error code from both paths, and identical structs when accepted;
 *     plus every truncation of every base message;
 *   - hostile: each kind of refusal names its field and byte offset;
 *   - timing: ns per message of both paths on a benchmark-like event
 *     (printed, not asserted: the machine is shared).
 * Mutated messages live in exact-size heap copies, so the sanitizer build
 * catches any read past the end.
 */
#include "test.h"

#include "../../common/src/avro_int.h"
#include "integration/proc_gen.h"

#include <paystream/assert.h>
#include <paystream/avro.h>
#include <paystream/buf.h>
#include <paystream/event.h>
#include <paystream/limits.h>
#include <paystream/mem.h>

#include <time.h>

/*
 * One count for every build type, sized for ASan + UBSan: the whole test took
 * 6-7.5 s there on the shared 2-core machine (its speed varies twofold), about
 * 1.3 s in Release. 200,000 of each took up to 11 s under ASan.
 */
#define EVENT_MUTANTS 200000
#define COMMAND_MUTANTS 50000
#define VARINTS_MAX 128           /* varints recorded per written message */
#define MUT_BYTES_MAX 4096        /* a base message plus what mutations add */
#define REPORTS_MAX 5             /* disagreements printed in full */
#define TIMING_ITERATIONS 10000
#define TIMING_BODY_BYTES 155     /* a typical CallbackEvent of the processor benchmark */
#define TIMING_SEARCH_MAX 100000  /* proc_gen events tried to find one of that size */

static ps_avro_codec_t *codec;

/* ------------------------------------------------------------------ writer */

/* What a recorded varint encodes, for the mutations that target it. */
typedef enum vkind { V_LONG, V_INDEX, V_LENGTH, V_COUNT } vkind_t;

/*
 * A test-side Avro writer that records where every varint starts, so that
 * mutations can patch lengths, counts and indexes. Its output is checked
 * byte for byte against the codec's encoder.
 */
typedef struct wr {
    ps_buf_t buf;
    size_t varint_pos[VARINTS_MAX];
    vkind_t varint_kind[VARINTS_MAX];
    size_t nv;
} wr_t;

static void w_init(wr_t *w, ps_avro_type_t type)
{
    uint64_t fp = ps_avro_codec_fingerprint(codec, type);
    uint8_t head[PS_AVRO_HEADER_BYTES] = {PS_AVRO_MAGIC_0, PS_AVRO_MAGIC_1};

    memset(w, 0, sizeof(*w));
    ps_buf_init(&w->buf, PS_AVRO_MESSAGE_BYTES_MAX);
    for (int i = 0; i < 8; i++)
        head[2 + i] = (uint8_t)(fp >> (8 * i));
    PS_ASSERT(ps_buf_append(&w->buf, head, sizeof(head)) == PS_OK);
}

static void w_raw(wr_t *w, const void *p, size_t n)
{
    PS_ASSERT(ps_buf_append(&w->buf, p, n) == PS_OK);
}

static void w_varint(wr_t *w, vkind_t kind, uint64_t u)
{
    PS_ASSERT(w->nv < VARINTS_MAX);
    w->varint_pos[w->nv] = w->buf.len;
    w->varint_kind[w->nv++] = kind;
    do {
        uint8_t b = (uint8_t)((u & 0x7F) | (u > 0x7F ? 0x80 : 0));

        w_raw(w, &b, 1);
        u >>= 7;
    } while (u != 0);
}

static uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static void w_long(wr_t *w, vkind_t kind, int64_t v)
{
    w_varint(w, kind, zigzag(v));
}

static void w_bytes(wr_t *w, const void *p, size_t n)
{
    w_long(w, V_LENGTH, (int64_t)n);
    w_raw(w, p, n);
}

static void w_str(wr_t *w, const char *s)
{
    w_bytes(w, s, strlen(s));
}

static void w_opt_str(wr_t *w, const char *s)
{
    w_long(w, V_INDEX, s != NULL);
    if (s != NULL)
        w_str(w, s);
}

static void w_opt_long(wr_t *w, bool has, int64_t v)
{
    w_long(w, V_INDEX, has);
    if (has)
        w_long(w, V_LONG, v);
}

/* The fields up to evidence.headers, as Avro-C writes them. */
static void w_event_head(wr_t *w, const ps_callback_event_t *ev)
{
    w_long(w, V_INDEX, ev->channel);
    w_str(w, ev->channel_event_id);
    w_long(w, V_INDEX, ev->kind);
    w_str(w, ev->channel_event_type);
    w_str(w, ev->merchant_order_no);
    w_str(w, ev->channel_txn_id);
    w_opt_str(w, ev->refund_id);
    w_long(w, V_LONG, ev->amount_minor);
    w_opt_long(w, ev->has_refund_total, ev->refund_total_minor);
    w_str(w, ev->currency);
    w_str(w, ev->account_id);
    w_long(w, V_LONG, ev->event_time_us);
    w_long(w, V_LONG, ev->received_time_us);
    w_opt_long(w, ev->has_paid_time, ev->paid_time_us);
    w_bytes(w, ev->raw_body, ev->raw_body_len);
}

static void w_headers(wr_t *w, const ps_header_t *h, size_t n)
{
    if (n > 0) {
        w_long(w, V_COUNT, (int64_t)n);
        for (size_t i = 0; i < n; i++) {
            w_str(w, h[i].name);
            w_str(w, h[i].value);
        }
    }
    w_long(w, V_COUNT, 0);
}

static void w_event(wr_t *w, const ps_callback_event_t *ev)
{
    w_init(w, PS_AVRO_CALLBACK_EVENT);
    w_event_head(w, ev);
    w_headers(w, ev->headers, ev->header_count);
    w_str(w, ev->key_id);
}

static void w_command(wr_t *w, const ps_ledger_command_t *cmd)
{
    w_init(w, PS_AVRO_LEDGER_COMMAND);
    w_str(w, cmd->command_id);
    w_long(w, V_INDEX, cmd->kind);
    w_long(w, V_INDEX, cmd->channel);
    w_str(w, cmd->payment_key);
    w_long(w, V_LONG, cmd->amount_minor);
    w_str(w, cmd->currency);
    w_opt_str(w, cmd->account_id);
    w_str(w, cmd->reason);
    w_str(w, cmd->recon_run_id);
    w_long(w, V_LONG, cmd->created_time_us);
}

/* -------------------------------------------------------------- builders */

static char *repeat(char ch, size_t n)
{
    char *s = ps_malloc(n + 1);

    memset(s, ch, n);
    s[n] = '\0';
    return s;
}

static const int64_t extremes[] = {INT64_MIN, INT64_MAX, 0, -1, 1, 63, -64, 64,
                                   INT32_MAX, (int64_t)INT32_MIN - 1, INT64_C(1) << 62,
                                   -(INT64_C(1) << 62), INT64_C(1704067200123456)};
#define EXTREMES (sizeof(extremes) / sizeof(extremes[0]))

typedef struct shape {
    int channel, kind;
    bool refund_id, refund_total, paid_time;
    size_t headers;
    size_t body_len;
    unsigned variant; /* picks extremes, string lengths and texts */
    bool compact;     /* short header texts: cheap mutants for the differential */
} shape_t;

static void make_headers(ps_callback_event_t *ev, const shape_t *s)
{
    ev->header_count = s->headers;
    ev->headers = s->headers ? ps_calloc(s->headers, sizeof(ev->headers[0])) : NULL;
    for (size_t i = 0; i < s->headers; i++) {
        char name[32];

        snprintf(name, sizeof(name), s->compact ? "H%zu" : "Wechatpay-H%zu", i);
        ev->headers[i].name = ps_strdup(name);
        ev->headers[i].value = i % 3 == 1   ? ps_strdup("")
                               : s->compact ? ps_strdup("v")
                               : i == 0 && s->variant % 4 == 0
                                   ? repeat('v', PS_EVIDENCE_HEADER_BYTES_MAX)
                                   : ps_strdup("5157F09EFDC096DE15EBE81A47057A7232F1B8E1");
    }
}

/* An event of the given shape; strings and numbers vary with s->variant. */
static void make_event(ps_callback_event_t *ev, const shape_t *s)
{
    static const char *const currencies[] = {"CNY", "USD", "JPY", "EUR"};
    unsigned v = s->variant;
    char buf[64];

    memset(ev, 0, sizeof(*ev));
    ev->channel = (ps_channel_t)s->channel;
    snprintf(buf, sizeof(buf), "EV-%u-\xe2\x82\xac", v);
    ev->channel_event_id = v % 7 == 0 ? repeat('e', PS_ID_BYTES_MAX) : ps_strdup(buf);
    ev->kind = (ps_event_kind_t)s->kind;
    ev->channel_event_type = v % 5 == 0 ? repeat('T', PS_EVENT_TYPE_BYTES_MAX)
                                        : ps_strdup("TRANSACTION.SUCCESS");
    ev->merchant_order_no = ps_strdup("1217752501201407033233368018");
    ev->channel_txn_id = ps_strdup("4200001234202401011234567890");
    ev->refund_id = s->refund_id ? ps_strdup(v % 2 ? "R-1" : "\xf0\x9f\x8e\xae-refund") : NULL;
    ev->amount_minor = extremes[v % EXTREMES];
    ev->has_refund_total = s->refund_total;
    ev->refund_total_minor = s->refund_total ? extremes[(v + 1) % EXTREMES] : 0;
    memcpy(ev->currency, currencies[v % 4], PS_CURRENCY_CODE_BYTES);
    ev->account_id = v % 3 == 0 ? ps_strdup("") : ps_strdup("player-\xe7\x8e\xa9\xe5\xae\xb6");
    ev->event_time_us = extremes[(v + 2) % EXTREMES];
    ev->received_time_us = extremes[(v + 5) % EXTREMES];
    ev->has_paid_time = s->paid_time;
    ev->paid_time_us = s->paid_time ? extremes[(v + 9) % EXTREMES] : 0;
    ev->raw_body_len = s->body_len;
    ev->raw_body = ps_malloc(s->body_len);
    for (size_t i = 0; i < s->body_len; i++)
        ev->raw_body[i] = (uint8_t)(i * 37 + v); /* binary: NUL and 0xFF included */
    make_headers(ev, s);
    ev->key_id = ps_strdup(v % 11 == 0 ? "k" : "5157F09EFDC096DE15EBE81A47057A7232F1B8E1");
}

static void make_command(ps_ledger_command_t *cmd, unsigned v)
{
    memset(cmd, 0, sizeof(*cmd));
    cmd->command_id = v % 5 == 0 ? repeat('c', PS_ID_BYTES_MAX) : ps_strdup("c0ffee01");
    cmd->kind = (ps_command_kind_t)(v % PS_COMMAND_KIND_COUNT);
    cmd->channel = (ps_channel_t)((v / 3) % PS_CHANNEL_COUNT);
    cmd->payment_key = ps_strdup("2024010122001400001234567890");
    cmd->amount_minor = extremes[v % EXTREMES];
    memcpy(cmd->currency, v % 2 ? "USD" : "CNY", PS_CURRENCY_CODE_BYTES);
    cmd->account_id = v % 4 == 1 ? NULL : ps_strdup("acct-\xe7\x8e\xa9");
    cmd->reason = v % 7 == 3 ? repeat('r', PS_REASON_BYTES_MAX)
                             : ps_strdup("missing credit: channel 4.99 USD, ledger none");
    cmd->recon_run_id = ps_strdup("recon-2024-01-01");
    cmd->created_time_us = extremes[(v + 3) % EXTREMES];
}

/* ------------------------------------------------------------ comparison */

static bool str_eq(const char *a, const char *b)
{
    return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

/*
 * The first field where a and b differ, or NULL. With same_ptrs, the
 * NULL-ness of the header list and body must agree too (both decoders
 * allocate them even when empty; a struct built in C need not).
 */
static const char *event_diff(const ps_callback_event_t *a, const ps_callback_event_t *b,
                              bool same_ptrs)
{
    if (a->channel != b->channel) return "channel";
    if (!str_eq(a->channel_event_id, b->channel_event_id)) return "channel_event_id";
    if (a->kind != b->kind) return "kind";
    if (!str_eq(a->channel_event_type, b->channel_event_type)) return "channel_event_type";
    if (!str_eq(a->merchant_order_no, b->merchant_order_no)) return "merchant_order_no";
    if (!str_eq(a->channel_txn_id, b->channel_txn_id)) return "channel_txn_id";
    if (!str_eq(a->refund_id, b->refund_id)) return "refund_id";
    if (a->amount_minor != b->amount_minor) return "amount_minor";
    if (a->has_refund_total != b->has_refund_total) return "has_refund_total";
    if (a->refund_total_minor != b->refund_total_minor) return "refund_total_minor";
    if (memcmp(a->currency, b->currency, PS_CURRENCY_CODE_BYTES) != 0) return "currency";
    if (!str_eq(a->account_id, b->account_id)) return "account_id";
    if (a->event_time_us != b->event_time_us) return "event_time_us";
    if (a->has_paid_time != b->has_paid_time) return "has_paid_time";
    if (a->paid_time_us != b->paid_time_us) return "paid_time_us";
    if (a->received_time_us != b->received_time_us) return "received_time_us";
    if (a->raw_body_len != b->raw_body_len) return "raw_body_len";
    if (a->raw_body_len && memcmp(a->raw_body, b->raw_body, a->raw_body_len) != 0)
        return "raw_body";
    if (same_ptrs && ((a->raw_body == NULL) != (b->raw_body == NULL) ||
                      (a->headers == NULL) != (b->headers == NULL)))
        return "raw_body or headers pointer";
    if (a->header_count != b->header_count) return "header_count";
    for (size_t i = 0; i < a->header_count; i++)
        if (!str_eq(a->headers[i].name, b->headers[i].name) ||
            !str_eq(a->headers[i].value, b->headers[i].value))
            return "headers";
    if (!str_eq(a->key_id, b->key_id)) return "key_id";
    return NULL;
}

static const char *command_diff(const ps_ledger_command_t *a, const ps_ledger_command_t *b)
{
    if (!str_eq(a->command_id, b->command_id)) return "command_id";
    if (a->kind != b->kind) return "kind";
    if (a->channel != b->channel) return "channel";
    if (!str_eq(a->payment_key, b->payment_key)) return "payment_key";
    if (a->amount_minor != b->amount_minor) return "amount_minor";
    if (memcmp(a->currency, b->currency, PS_CURRENCY_CODE_BYTES) != 0) return "currency";
    if (!str_eq(a->account_id, b->account_id)) return "account_id";
    if (!str_eq(a->reason, b->reason)) return "reason";
    if (!str_eq(a->recon_run_id, b->recon_run_id)) return "recon_run_id";
    if (a->created_time_us != b->created_time_us) return "created_time_us";
    return NULL;
}

/* ------------------------------------------------------------ round trip */

/* Encodes ev, checks the writer agrees, decodes with all three entry points. */
static void roundtrip_event(const ps_callback_event_t *ev)
{
    char err[PS_ERRSTR_SIZE] = "";
    ps_callback_event_t direct, pub, generic;
    ps_buf_t out;
    wr_t w;
    const char *d;

    ps_buf_init(&out, PS_AVRO_MESSAGE_BYTES_MAX);
    REQUIRE(ps_avro_encode_callback_event(codec, ev, &out, err, sizeof(err)) == PS_OK);
    w_event(&w, ev);
    CHECK(w.buf.len == out.len && memcmp(w.buf.data, out.data, out.len) == 0);
    memset(&direct, 0xA5, sizeof(direct)); /* previous contents are ignored */
    CHECK_INT(ps__avro_direct_callback_event(out.data + PS_AVRO_HEADER_BYTES,
                                             out.len - PS_AVRO_HEADER_BYTES,
                                             PS_AVRO_HEADER_BYTES, &direct, err, sizeof(err)),
              PS_OK);
    CHECK_INT(ps_avro_decode_callback_event(codec, out.data, out.len, &pub, err, sizeof(err)),
              PS_OK);
    CHECK_INT(ps__avro_decode_callback_event_generic(codec, out.data, out.len, &generic, err,
                                                     sizeof(err)),
              PS_OK);
    if ((d = event_diff(&direct, ev, false)) != NULL)
        fprintf(stderr, "direct decode differs from the original in %s\n", d);
    CHECK(d == NULL);
    CHECK(event_diff(&pub, ev, false) == NULL);
    CHECK(event_diff(&direct, &generic, true) == NULL);
    ps_callback_event_deinit(&direct);
    ps_callback_event_deinit(&pub);
    ps_callback_event_deinit(&generic);
    ps_buf_deinit(&w.buf);
    ps_buf_deinit(&out);
}

/*
 * Every channel x kind x refund_id x refund total x paid time x {0, 1, 2,
 * 16} headers x {empty, 155-byte} body, and the 64 KiB body with all
 * optional fields absent or all present (the big body is what is slow under
 * ASan); int64 extremes in the amounts and times, maximum-length ids and a
 * 4 KiB header value in some.
 */
static void test_event_roundtrip(void)
{
    static const size_t header_counts[] = {0, 1, 2, PS_EVIDENCE_HEADERS_MAX};
    static const size_t body_lens[] = {0, 155, PS_EVIDENCE_BODY_BYTES_MAX};
    unsigned n = 0;

    for (int ch = 0; ch < PS_CHANNEL_COUNT; ch++)
        for (int kind = 0; kind < PS_EVENT_KIND_COUNT; kind++)
            for (int opt = 0; opt < 8; opt++)
                for (size_t h = 0; h < 4; h++)
                    for (size_t b = 0; b < 3; b++) {
                        shape_t s = {ch, kind, opt & 1, (opt >> 1) & 1, (opt >> 2) & 1,
                                     header_counts[h], body_lens[b], n, false};
                        ps_callback_event_t ev;

                        if (body_lens[b] == PS_EVIDENCE_BODY_BYTES_MAX && opt != 0 && opt != 7)
                            continue;
                        n++;
                        make_event(&ev, &s);
                        roundtrip_event(&ev);
                        ps_callback_event_deinit(&ev);
                    }
    fprintf(stderr, "round trip: %u events\n", n);
}

static void roundtrip_command(const ps_ledger_command_t *cmd)
{
    char err[PS_ERRSTR_SIZE] = "";
    ps_ledger_command_t direct, generic;
    ps_buf_t out;
    wr_t w;

    ps_buf_init(&out, PS_AVRO_MESSAGE_BYTES_MAX);
    REQUIRE(ps_avro_encode_ledger_command(codec, cmd, &out, err, sizeof(err)) == PS_OK);
    w_command(&w, cmd);
    CHECK(w.buf.len == out.len && memcmp(w.buf.data, out.data, out.len) == 0);
    CHECK_INT(ps_avro_decode_ledger_command(codec, out.data, out.len, &direct, err, sizeof(err)),
              PS_OK);
    CHECK_INT(ps__avro_decode_ledger_command_generic(codec, out.data, out.len, &generic, err,
                                                     sizeof(err)),
              PS_OK);
    CHECK(command_diff(&direct, cmd) == NULL);
    CHECK(command_diff(&direct, &generic) == NULL);
    ps_ledger_command_deinit(&direct);
    ps_ledger_command_deinit(&generic);
    ps_buf_deinit(&w.buf);
    ps_buf_deinit(&out);
}

/* Every kind x channel, with and without account, extremes, the longest reason. */
static void test_command_roundtrip(void)
{
    for (unsigned v = 0; v < 4 * EXTREMES; v++) {
        ps_ledger_command_t cmd;

        make_command(&cmd, v);
        roundtrip_command(&cmd);
        ps_ledger_command_deinit(&cmd);
    }
}

/* ---------------------------------------------------------- differential */

/* xorshift64*: deterministic, so a failure reproduces. */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * UINT64_C(2685821657736338717);
}

static size_t rng_below(uint64_t *s, size_t n)
{
    return (size_t)(rng_next(s) % n);
}

/* A message being mutated: fixed room, copied to an exact-size buffer to decode. */
typedef struct mut {
    uint8_t b[MUT_BYTES_MAX];
    size_t n;
} mut_t;

/* Replaces n_old bytes at pos with n_new bytes from p (bounded by the room left). */
static void splice(mut_t *m, size_t pos, size_t n_old, const uint8_t *p, size_t n_new)
{
    if (m->n - n_old + n_new > MUT_BYTES_MAX)
        return;
    memmove(m->b + pos + n_new, m->b + pos + n_old, m->n - pos - n_old);
    if (n_new > 0)
        memcpy(m->b + pos, p, n_new);
    m->n = m->n - n_old + n_new;
}

/* Bytes of the varint at pos in an unmutated base. */
static size_t varint_len(const mut_t *m, size_t pos)
{
    size_t e = pos;

    while (e < m->n && (m->b[e] & 0x80))
        e++;
    return e - pos + 1;
}

/* u as a varint of exactly len bytes (padded with continuation bits); len >= minimal. */
static size_t encode_padded(uint64_t u, size_t len, uint8_t out[16])
{
    for (size_t i = 0; i < len; i++) {
        out[i] = (uint8_t)(u & 0x7F);
        u >>= 7;
        if (i + 1 < len)
            out[i] |= 0x80;
    }
    return len;
}

static size_t encode_min(uint64_t u, uint8_t out[16])
{
    size_t n = 1;

    for (uint64_t t = u >> 7; t != 0; t >>= 7)
        n++;
    return encode_padded(u, n, out);
}

/* Values a length, count or index could be patched to. */
static int64_t interesting(uint64_t *s, const mut_t *m)
{
    static const int64_t values[] = {0, 1, -1, 2, 3, 4, -2, 16, 17, -17, 255, 256, 4096,
                                     INT32_MAX, (int64_t)INT32_MAX + 1, INT32_MIN,
                                     (int64_t)INT32_MIN - 1, INT64_C(1) << 62,
                                     -(INT64_C(1) << 62), INT64_MAX, INT64_MIN};
    size_t k = rng_below(s, sizeof(values) / sizeof(values[0]) + 3);

    if (k < sizeof(values) / sizeof(values[0]))
        return values[k];
    /* Around the bytes left: lengths that just fit or just overrun. */
    return (int64_t)m->n - (int64_t)rng_below(s, 64) + (int64_t)k - 24;
}

/* Patches the varint at pos with another value, minimal or padded/overlong. */
static void patch_varint(uint64_t *s, mut_t *m, size_t pos, bool overlong)
{
    size_t old = varint_len(m, pos);
    uint8_t enc[16];
    size_t n;

    if (!overlong) {
        n = encode_min(zigzag(interesting(s, m)), enc);
    } else {
        /* The same value, padded to 1..12 bytes: 6-10 is fine for a long, not for an int. */
        uint64_t u = 0;

        for (size_t i = 0; i < old && i < 10; i++)
            u |= (uint64_t)(m->b[pos + i] & 0x7F) << (7 * i);
        n = encode_min(u, enc);
        n = encode_padded(u, n + rng_below(s, 13 - n), enc);
        if (n == 10 && rng_below(s, 4) == 0)
            enc[9] = (uint8_t)(2 + rng_below(s, 126)); /* bits beyond 63 */
    }
    splice(m, pos, old, enc, n);
}

/* A random byte, half the time one that means something to a varint or to UTF-8. */
static uint8_t some_byte(uint64_t *s)
{
    static const uint8_t specials[] = {0x00, 0x01, 0x7F, 0x80, 0xFF, 0xC3, 0xED, 0x02};

    return rng_below(s, 2) ? specials[rng_below(s, sizeof(specials))] : (uint8_t)rng_next(s);
}

/* One byte-level mutation: flips, overwrites, truncation, insertion, deletion, copy. */
static void mutate_bytes(uint64_t *s, mut_t *m)
{
    size_t body = m->n - PS_AVRO_HEADER_BYTES;
    size_t pos = PS_AVRO_HEADER_BYTES + rng_below(s, body + 1);
    uint8_t tmp[64];
    size_t n;

    switch (rng_below(s, 6)) {
    case 0:
        for (size_t k = 0, e = 1 + rng_below(s, 4); k < e; k++)
            m->b[PS_AVRO_HEADER_BYTES + rng_below(s, body)] ^= (uint8_t)(1u << rng_below(s, 8));
        break;
    case 1:
        for (size_t k = 0, e = 1 + rng_below(s, 4); k < e; k++)
            m->b[PS_AVRO_HEADER_BYTES + rng_below(s, body)] = some_byte(s);
        break;
    case 2: m->n = pos; break;
    case 3:
        n = 1 + rng_below(s, 8);
        for (size_t k = 0; k < n; k++)
            tmp[k] = some_byte(s);
        splice(m, pos, 0, tmp, n);
        break;
    case 4:
        n = 1 + rng_below(s, 8);
        if (pos + n <= m->n)
            splice(m, pos, n, NULL, 0);
        break;
    default: /* duplicate a slice elsewhere: repeats a header item or a field */
        n = 1 + rng_below(s, sizeof(tmp));
        if (pos + n <= m->n) {
            memcpy(tmp, m->b + pos, n);
            splice(m, PS_AVRO_HEADER_BYTES + rng_below(s, body + 1), 0, tmp, n);
        }
        break;
    }
}

/* A base message and where its varints are. */
typedef struct base {
    mut_t m;
    size_t varint_pos[VARINTS_MAX];
    vkind_t varint_kind[VARINTS_MAX];
    size_t nv;
} base_t;

static void base_from(base_t *b, const wr_t *w)
{
    PS_ASSERT(w->buf.len <= MUT_BYTES_MAX / 2);
    memcpy(b->m.b, w->buf.data, w->buf.len);
    b->m.n = w->buf.len;
    memcpy(b->varint_pos, w->varint_pos, sizeof(b->varint_pos));
    memcpy(b->varint_kind, w->varint_kind, sizeof(b->varint_kind));
    b->nv = w->nv;
}

/*
 * Rewrites the first non-empty headers block "count, items" in Avro's other
 * legal form "-count, byte size, items" (sometimes with a wrong size). The
 * generic path refuses negative counts; the direct decoder must too.
 */
static bool negative_block(uint64_t *s, const base_t *b, mut_t *m)
{
    for (size_t i = 0; i + 1 < b->nv; i++) {
        size_t pos = b->varint_pos[i], old, n;
        uint64_t u = 0;
        int64_t count, size;
        uint8_t enc[32];

        if (b->varint_kind[i] != V_COUNT)
            continue;
        old = varint_len(m, pos);
        for (size_t k = 0; k < old; k++)
            u |= (uint64_t)(m->b[pos + k] & 0x7F) << (7 * k);
        count = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
        if (count <= 0)
            return false;
        for (size_t j = i + 1; j < b->nv; j++) {
            if (b->varint_kind[j] != V_COUNT)
                continue;
            size = (int64_t)(b->varint_pos[j] - pos - old) + (int64_t)rng_below(s, 3) - 1;
            n = encode_min(zigzag(-count), enc);
            n += encode_min(zigzag(size), enc + n);
            splice(m, pos, old, enc, n);
            return true;
        }
    }
    return false;
}

/* A mutant of base: a varint patch or a byte mutation, sometimes followed by another. */
static void make_mutant(uint64_t *s, const base_t *b, mut_t *m)
{
    size_t op = rng_below(s, 5);

    *m = b->m;
    if (op < 2) {
        size_t i = rng_below(s, b->nv);
        /* Lengths and counts are the interesting targets: favour them. */
        if (b->varint_kind[i] == V_LONG && rng_below(s, 2))
            i = rng_below(s, b->nv);
        patch_varint(s, m, b->varint_pos[i], op == 1);
    } else if (op < 4 || !negative_block(s, b, m)) {
        mutate_bytes(s, m);
    }
    if (rng_below(s, 4) == 0 && m->n > PS_AVRO_HEADER_BYTES)
        mutate_bytes(s, m);
}

typedef struct tally {
    long compared, accepted, refused, same_message, disagreements;
} tally_t;

static void report(tally_t *t, const char *what, const uint8_t *data, size_t n,
                   const char *err_direct, const char *err_generic)
{
    if (t->disagreements++ >= REPORTS_MAX)
        return;
    fprintf(stderr, "%s: direct \"%s\", generic \"%s\"; message:", what, err_direct,
            err_generic);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, " %02x", data[i]);
    fprintf(stderr, "\n");
}

/* Decodes one message (an exact-size copy) both ways and tallies the comparison. */
static void compare_event(tally_t *t, const uint8_t *msg, size_t n)
{
    char err_d[PS_ERRSTR_SIZE] = "", err_g[PS_ERRSTR_SIZE] = "";
    uint8_t *copy = ps_memdup(msg, n);
    ps_callback_event_t d, g;
    ps_err_t rc_d = ps_avro_decode_callback_event(codec, copy, n, &d, err_d, sizeof(err_d));
    ps_err_t rc_g = ps__avro_decode_callback_event_generic(codec, copy, n, &g, err_g,
                                                            sizeof(err_g));
    const char *diff = NULL;

    t->compared++;
    if (rc_d != rc_g)
        report(t, "verdicts differ", msg, n, err_d, err_g);
    else if (rc_d == PS_OK && (diff = event_diff(&d, &g, true)) != NULL)
        report(t, diff, msg, n, "accepted", "accepted");
    else if (rc_d == PS_OK)
        t->accepted++;
    else {
        t->refused++;
        t->same_message += strcmp(err_d, err_g) == 0;
    }
    if (rc_d != PS_OK && err_d[0] == '\0')
        report(t, "refusal without a message", msg, n, err_d, err_g);
    ps_callback_event_deinit(&d);
    ps_callback_event_deinit(&g);
    ps_free(copy);
}

static void compare_command(tally_t *t, const uint8_t *msg, size_t n)
{
    char err_d[PS_ERRSTR_SIZE] = "", err_g[PS_ERRSTR_SIZE] = "";
    uint8_t *copy = ps_memdup(msg, n);
    ps_ledger_command_t d, g;
    ps_err_t rc_d = ps_avro_decode_ledger_command(codec, copy, n, &d, err_d, sizeof(err_d));
    ps_err_t rc_g = ps__avro_decode_ledger_command_generic(codec, copy, n, &g, err_g,
                                                            sizeof(err_g));
    const char *diff = NULL;

    t->compared++;
    if (rc_d != rc_g)
        report(t, "verdicts differ", msg, n, err_d, err_g);
    else if (rc_d == PS_OK && (diff = command_diff(&d, &g)) != NULL)
        report(t, diff, msg, n, "accepted", "accepted");
    else if (rc_d == PS_OK)
        t->accepted++;
    else {
        t->refused++;
        t->same_message += strcmp(err_d, err_g) == 0;
    }
    if (rc_d != PS_OK && err_d[0] == '\0')
        report(t, "refusal without a message", msg, n, err_d, err_g);
    ps_ledger_command_deinit(&d);
    ps_ledger_command_deinit(&g);
    ps_free(copy);
}

typedef void (*compare_fn)(tally_t *t, const uint8_t *msg, size_t n);

/* Every truncation of every base, then `mutations` seeded mutants. */
static void differential(const char *what, const base_t *bases, size_t nbases, compare_fn cmp,
                         uint64_t seed, long mutations)
{
    tally_t trunc = {0}, mutants = {0};
    mut_t m;

    for (size_t i = 0; i < nbases; i++)
        for (size_t len = 0; len <= bases[i].m.n; len++)
            cmp(&trunc, bases[i].m.b, len);
    for (long k = 0; k < mutations; k++) {
        make_mutant(&seed, &bases[rng_below(&seed, nbases)], &m);
        cmp(&mutants, m.b, m.n);
    }
    printf("%s: truncations %ld compared (%ld accepted, %ld refused), mutants %ld compared "
           "(%ld accepted, %ld refused, %ld refusals with identical messages), "
           "%ld disagreements\n",
           what, trunc.compared, trunc.accepted, trunc.refused, mutants.compared,
           mutants.accepted, mutants.refused, mutants.same_message,
           trunc.disagreements + mutants.disagreements);
    CHECK_INT(trunc.disagreements, 0);
    CHECK_INT(mutants.disagreements, 0);
    CHECK_INT(trunc.accepted, (long)nbases); /* only the whole message */
    CHECK_INT(mutants.compared, mutations);
    /* Both verdicts must be well represented, or the comparison says little. */
    CHECK(mutants.accepted > mutations / 50);
    CHECK(mutants.refused > mutations / 2);
}

/* Varied small events: every channel and kind, optional fields, 0-16 headers. */
static void test_event_differential(void)
{
    /* Few headers keep mutants cheap; two bases reach the bound. */
    static const size_t header_counts[] = {0, 1, 2, 3, 0, PS_EVIDENCE_HEADERS_MAX};
    base_t *bases = ps_calloc(12, sizeof(*bases));

    for (unsigned i = 0; i < 12; i++) {
        shape_t s = {(int)(i % 3), (int)(i % 4), i % 2, (i / 2) % 2, (i / 4) % 2,
                     header_counts[i % 6], i % 5 == 0 ? 0 : 16, i * 2 + 1, true};
        ps_callback_event_t ev;
        wr_t w;

        make_event(&ev, &s);
        w_event(&w, &ev);
        base_from(&bases[i], &w);
        ps_buf_deinit(&w.buf);
        ps_callback_event_deinit(&ev);
    }
    differential("CallbackEvent", bases, 12, compare_event, UINT64_C(0x9E3779B97F4A7C15),
                 EVENT_MUTANTS);
    ps_free(bases);
}

static void test_command_differential(void)
{
    base_t *bases = ps_calloc(8, sizeof(*bases));

    for (unsigned i = 0; i < 8; i++) {
        ps_ledger_command_t cmd;
        wr_t w;

        make_command(&cmd, i == 3 ? 1 : i); /* not the 1 KiB reason: keep mutants small */
        w_command(&w, &cmd);
        base_from(&bases[i], &w);
        ps_buf_deinit(&w.buf);
        ps_ledger_command_deinit(&cmd);
    }
    differential("LedgerCommand", bases, 8, compare_command, UINT64_C(0xD1B54A32D192ED03),
                 COMMAND_MUTANTS);
    ps_free(bases);
}

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

/*
 * Padded varints (a long of up to 10 bytes, an int of up to 5) are legal
 * Avro that both paths accept; one byte more is refused by both.
 */
static void test_padded_varints(void)
{
    tally_t t = {0};
    ps_callback_event_t ev;
    shape_t s = {2, 3, true, true, true, 1, 3, 2, false};
    wr_t w;

    make_event(&ev, &s);
    w_event(&w, &ev);
    ps_callback_event_deinit(&ev);
    for (size_t i = 0; i < w.nv; i++) {
        size_t max = w.varint_kind[i] == V_INDEX ? 5 : PS_AVRO_VARINT_BYTES_MAX;

        for (size_t len = 1; len <= max + 1; len++) {
            mut_t m;
            size_t old;
            uint8_t enc[16];
            uint64_t u = 0;

            memcpy(m.b, w.buf.data, w.buf.len);
            m.n = w.buf.len;
            old = varint_len(&m, w.varint_pos[i]);
            for (size_t k = 0; k < old; k++)
                u |= (uint64_t)(m.b[w.varint_pos[i] + k] & 0x7F) << (7 * k);
            if (len < old)
                continue;
            splice(&m, w.varint_pos[i], old, enc, encode_padded(u, len, enc));
            tally_t before = t;
            compare_event(&t, m.b, m.n);
            CHECK(len <= max ? t.accepted == before.accepted + 1
                             : t.refused == before.refused + 1);
        }
    }
    CHECK_INT(t.disagreements, 0);
    ps_buf_deinit(&w.buf);
}

/* ---------------------------------------------------------------- timing */

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * An event of the processor benchmark (tests/integration/proc_gen.h: no
 * headers, a short JSON body) whose Avro body is TIMING_BODY_BYTES, decoded
 * TIMING_ITERATIONS times by each path. Prints ns per message; no assertion
 * (shared machine, any build type).
 */
static void test_timing(void)
{
    char err[PS_ERRSTR_SIZE] = "";
    proc_gen_t g = {.seed = 7};
    ps_callback_event_t ev;
    ps_buf_t out;
    int64_t t0, direct_ns, generic_ns;

    ps_buf_init(&out, PS_AVRO_MESSAGE_BYTES_MAX);
    for (int64_t j = 0; j < TIMING_SEARCH_MAX; j++) { /* proc_gen's bodies are 137-162 bytes */
        proc_gen_fill(&g, j, j % 3, &ev);
        REQUIRE(ps_avro_encode_callback_event(codec, &ev, &out, err, sizeof(err)) == PS_OK);
        ps_callback_event_deinit(&ev);
        if (out.len - PS_AVRO_HEADER_BYTES == TIMING_BODY_BYTES)
            break;
    }
    REQUIRE(out.len - PS_AVRO_HEADER_BYTES == TIMING_BODY_BYTES);
    t0 = now_ns();
    for (int i = 0; i < TIMING_ITERATIONS; i++) {
        CHECK(ps_avro_decode_callback_event(codec, out.data, out.len, &ev, err, sizeof(err)) ==
              PS_OK);
        ps_callback_event_deinit(&ev);
    }
    direct_ns = (now_ns() - t0) / TIMING_ITERATIONS;
    t0 = now_ns();
    for (int i = 0; i < TIMING_ITERATIONS; i++) {
        CHECK(ps__avro_decode_callback_event_generic(codec, out.data, out.len, &ev, err,
                                                     sizeof(err)) == PS_OK);
        ps_callback_event_deinit(&ev);
    }
    generic_ns = (now_ns() - t0) / TIMING_ITERATIONS;
    printf("decode of a %zu-byte-body CallbackEvent (decode + deinit, %d runs each): direct "
           "%" PRId64 " ns/message, generic %" PRId64 " ns/message (%" PRId64 ".%" PRId64
           "x)\n",
           out.len - PS_AVRO_HEADER_BYTES, TIMING_ITERATIONS, direct_ns, generic_ns,
           generic_ns / (direct_ns ? direct_ns : 1),
           generic_ns * 10 / (direct_ns ? direct_ns : 1) % 10);
    ps_buf_deinit(&out);
}

/* The codec was created, so the embedded schemas are the ones avro_direct.c reads. */
static void test_schema_fingerprints(void)
{
    CHECK_U64(ps__avro_direct_fingerprint(PS_AVRO_CALLBACK_EVENT),
              ps_avro_codec_fingerprint(codec, PS_AVRO_CALLBACK_EVENT));
    CHECK_U64(ps__avro_direct_fingerprint(PS_AVRO_LEDGER_COMMAND),
              ps_avro_codec_fingerprint(codec, PS_AVRO_LEDGER_COMMAND));
}

int main(void)
{
    char err[PS_ERRSTR_SIZE] = "";

    if (ps_avro_codec_new(&codec, err, sizeof(err)) != PS_OK) {
        fprintf(stderr, "could not create codec: %s\n", err);
        return 1;
    }
    RUN(test_schema_fingerprints);
    RUN(test_event_roundtrip);
    RUN(test_command_roundtrip);
    RUN(test_hostile_messages);
    RUN(test_hostile_command);
    RUN(test_padded_varints);
    RUN(test_event_differential);
    RUN(test_command_differential);
    RUN(test_timing);
    ps_avro_codec_destroy(codec);
    return test_summary();
}
