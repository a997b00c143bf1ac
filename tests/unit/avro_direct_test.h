/*
 * Shared by tests/unit/test_avro_direct.c and test_avro_direct_hostile.c: a
 * test-side Avro writer that records where each varint starts, builders of
 * events and commands covering the optional fields and int64 extremes, a
 * field-by-field comparison, and the seeded mutation primitives. Header-only:
 * each test is one program.
 */
#ifndef PAYSTREAM_TEST_AVRO_DIRECT_H
#define PAYSTREAM_TEST_AVRO_DIRECT_H

#include "test.h"

#include "../../common/src/avro_int.h"

#include <paystream/assert.h>
#include <paystream/avro.h>
#include <paystream/buf.h>
#include <paystream/event.h>
#include <paystream/limits.h>
#include <paystream/mem.h>

#include <string.h>

#define VARINTS_MAX 128    /* varints recorded per written message */
#define MUT_BYTES_MAX 4096 /* a base message plus what mutations add */

/* The codec of the test program; main creates it. */
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

static inline void w_init(wr_t *w, ps_avro_type_t type)
{
    uint64_t fp = ps_avro_codec_fingerprint(codec, type);
    uint8_t head[PS_AVRO_HEADER_BYTES] = {PS_AVRO_MAGIC_0, PS_AVRO_MAGIC_1};

    memset(w, 0, sizeof(*w));
    ps_buf_init(&w->buf, PS_AVRO_MESSAGE_BYTES_MAX);
    for (int i = 0; i < 8; i++)
        head[2 + i] = (uint8_t)(fp >> (8 * i));
    PS_ASSERT(ps_buf_append(&w->buf, head, sizeof(head)) == PS_OK);
}

static inline void w_raw(wr_t *w, const void *p, size_t n)
{
    PS_ASSERT(ps_buf_append(&w->buf, p, n) == PS_OK);
}

static inline void w_varint(wr_t *w, vkind_t kind, uint64_t u)
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

static inline uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline void w_long(wr_t *w, vkind_t kind, int64_t v)
{
    w_varint(w, kind, zigzag(v));
}

static inline void w_bytes(wr_t *w, const void *p, size_t n)
{
    w_long(w, V_LENGTH, (int64_t)n);
    w_raw(w, p, n);
}

static inline void w_str(wr_t *w, const char *s)
{
    w_bytes(w, s, strlen(s));
}

static inline void w_opt_str(wr_t *w, const char *s)
{
    w_long(w, V_INDEX, s != NULL);
    if (s != NULL)
        w_str(w, s);
}

static inline void w_opt_long(wr_t *w, bool has, int64_t v)
{
    w_long(w, V_INDEX, has);
    if (has)
        w_long(w, V_LONG, v);
}

/* The fields up to evidence.headers, as Avro-C writes them. */
static inline void w_event_head(wr_t *w, const ps_callback_event_t *ev)
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

static inline void w_headers(wr_t *w, const ps_header_t *h, size_t n)
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

static inline void w_event(wr_t *w, const ps_callback_event_t *ev)
{
    w_init(w, PS_AVRO_CALLBACK_EVENT);
    w_event_head(w, ev);
    w_headers(w, ev->headers, ev->header_count);
    w_str(w, ev->key_id);
}

static inline void w_command(wr_t *w, const ps_ledger_command_t *cmd)
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

static inline char *repeat(char ch, size_t n)
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

static inline void make_headers(ps_callback_event_t *ev, const shape_t *s)
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
static inline void make_event(ps_callback_event_t *ev, const shape_t *s)
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

static inline void make_command(ps_ledger_command_t *cmd, unsigned v)
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

static inline bool str_eq(const char *a, const char *b)
{
    return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

/*
 * The first field where a and b differ, or NULL. With same_ptrs, the
 * NULL-ness of the header list and body must agree too (both decoders
 * allocate them even when empty; a struct built in C need not).
 */
static inline const char *event_diff(const ps_callback_event_t *a, const ps_callback_event_t *b,
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

static inline const char *command_diff(const ps_ledger_command_t *a, const ps_ledger_command_t *b)
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

/* ---------------------------------------------------------- differential */

/* xorshift64*: deterministic, so a failure reproduces. */
static inline uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * UINT64_C(2685821657736338717);
}

static inline size_t rng_below(uint64_t *s, size_t n)
{
    return (size_t)(rng_next(s) % n);
}

/* A message being mutated: fixed room, copied to an exact-size buffer to decode. */
typedef struct mut {
    uint8_t b[MUT_BYTES_MAX];
    size_t n;
} mut_t;

/* Replaces n_old bytes at pos with n_new bytes from p (bounded by the room left). */
static inline void splice(mut_t *m, size_t pos, size_t n_old, const uint8_t *p, size_t n_new)
{
    if (m->n - n_old + n_new > MUT_BYTES_MAX)
        return;
    memmove(m->b + pos + n_new, m->b + pos + n_old, m->n - pos - n_old);
    if (n_new > 0)
        memcpy(m->b + pos, p, n_new);
    m->n = m->n - n_old + n_new;
}

/* Bytes of the varint at pos in an unmutated base. */
static inline size_t varint_len(const mut_t *m, size_t pos)
{
    size_t e = pos;

    while (e < m->n && (m->b[e] & 0x80))
        e++;
    return e - pos + 1;
}

/* u as a varint of exactly len bytes (padded with continuation bits); len >= minimal. */
static inline size_t encode_padded(uint64_t u, size_t len, uint8_t out[16])
{
    for (size_t i = 0; i < len; i++) {
        out[i] = (uint8_t)(u & 0x7F);
        u >>= 7;
        if (i + 1 < len)
            out[i] |= 0x80;
    }
    return len;
}

static inline size_t encode_min(uint64_t u, uint8_t out[16])
{
    size_t n = 1;

    for (uint64_t t = u >> 7; t != 0; t >>= 7)
        n++;
    return encode_padded(u, n, out);
}

/* Values a length, count or index could be patched to. */
static inline int64_t interesting(uint64_t *s, const mut_t *m)
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
static inline void patch_varint(uint64_t *s, mut_t *m, size_t pos, bool overlong)
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
static inline uint8_t some_byte(uint64_t *s)
{
    static const uint8_t specials[] = {0x00, 0x01, 0x7F, 0x80, 0xFF, 0xC3, 0xED, 0x02};

    return rng_below(s, 2) ? specials[rng_below(s, sizeof(specials))] : (uint8_t)rng_next(s);
}

/* One byte-level mutation: flips, overwrites, truncation, insertion, deletion, copy. */
static inline void mutate_bytes(uint64_t *s, mut_t *m)
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

static inline void base_from(base_t *b, const wr_t *w)
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
static inline bool negative_block(uint64_t *s, const base_t *b, mut_t *m)
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
static inline void make_mutant(uint64_t *s, const base_t *b, mut_t *m)
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

#endif
