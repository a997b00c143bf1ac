/*
 * Deterministic callback traffic for the processor's fault tests and the
 * benchmark, with the EXPECTED ledger computed here from the generated input
 * alone (never by the processor's code): per payment one success, sometimes
 * a second success notification with another id (Alipay TRADE_FINISHED after
 * TRADE_SUCCESS, a re-signed WeChat retry), sometimes one refund (full or
 * half; Alipay with its cumulative refund_fee), sometimes the refund before
 * the success (reordering), and exact duplicates re-sent later.
 *
 * Expected result, from the documented ledger rules (processor/fold.h): a
 * payment debits clearing:<CHANNEL> and credits the player by its amount
 * (player balance -amount); a refund reverses its amount once. So per
 * (player, currency) the balance is the sum of (refund - amount) and per
 * channel clearing account the opposite; one journal per payment and per
 * refund; one payment_events row per distinct channel event id.
 *
 * Header-only so that tests and bench/processor.c share it; single-threaded.
 */
#ifndef PROC_GEN_H
#define PROC_GEN_H

#include <paystream/event.h>
#include <paystream/mem.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define PROC_GEN_PLAYERS 200 /* distinct player ids */
#define PROC_GEN_EVENTS_PER_PAYMENT_MAX 6
#define PROC_GEN_BASE_TIME_US INT64_C(1795000000000000)

typedef struct proc_gen {
    int64_t seed;
    /* expected ledger */
    int64_t player_balance[PROC_GEN_PLAYERS][2]; /* [player][0 CNY, 1 USD] */
    int64_t clearing_balance[PS_CHANNEL_COUNT];  /* WECHAT, ALIPAY in CNY; APPLE in USD */
    int64_t payments, refunds, full_refunds, partial_refunds, journals;
    int64_t events_emitted, events_distinct, duplicates;
} proc_gen_t;

/* Called per generated event in production order; key "CHANNEL:order". */
typedef int (*proc_gen_emit_fn)(void *opaque, const char *key, const ps_callback_event_t *ev);

static inline uint64_t proc_gen_mix(uint64_t x)
{
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

static inline uint64_t proc_gen_h(const proc_gen_t *g, int64_t j, uint64_t salt)
{
    return proc_gen_mix((uint64_t)g->seed * 31 + proc_gen_mix((uint64_t)j * 1000003u + salt));
}

static inline void proc_gen_fill(const proc_gen_t *g, int64_t j, int variant,
                                 ps_callback_event_t *ev)
{
    static const char *const prefixes[] = {"WX", "ALI", "APL"};
    static const char *const pay_types[] = {"TRANSACTION.SUCCESS", "TRADE_SUCCESS",
                                            "ONE_TIME_CHARGE"};
    static const char *const second_types[] = {"TRANSACTION.SUCCESS", "TRADE_FINISHED",
                                               "ONE_TIME_CHARGE"};
    static const char *const refund_types[] = {"REFUND.SUCCESS", "TRADE_SUCCESS", "REFUND"};
    char buf[256];
    int ch = (int)(proc_gen_h(g, j, 1) % PS_CHANNEL_COUNT);
    int64_t amount = 100 + (int64_t)(proc_gen_h(g, j, 2) % 99901);

    memset(ev, 0, sizeof(*ev));
    ev->channel = (ps_channel_t)ch;
    snprintf(buf, sizeof(buf), "%s%" PRId64 "-%09" PRId64, prefixes[ch], g->seed, j);
    ev->merchant_order_no = ps_strdup(buf);
    snprintf(buf, sizeof(buf), "%" PRIu64, UINT64_C(4200000000000000000) + (uint64_t)j);
    ev->channel_txn_id = ps_strdup(buf);
    memcpy(ev->currency, ch == PS_CHANNEL_APPLE ? "USD" : "CNY", 4);
    snprintf(buf, sizeof(buf), "player-%03d", (int)(proc_gen_h(g, j, 3) % PROC_GEN_PLAYERS));
    ev->account_id = ps_strdup(buf);
    ev->event_time_us = PROC_GEN_BASE_TIME_US + j * 1000;
    ev->has_paid_time = true;
    ev->paid_time_us = ev->event_time_us;
    ev->received_time_us = ev->event_time_us + 50000 + variant;
    snprintf(buf, sizeof(buf), "GEN-%d-%" PRId64 "-%" PRId64, variant, g->seed, j);
    ev->channel_event_id = ps_strdup(buf);
    ev->kind = PS_EVENT_PAYMENT_SUCCEEDED;
    ev->channel_event_type = ps_strdup(variant == 1 ? second_types[ch] : pay_types[ch]);
    ev->amount_minor = amount;
    if (variant == 2) { /* the refund */
        ev->kind = PS_EVENT_REFUND_SUCCEEDED;
        ps_free(ev->channel_event_type);
        ev->channel_event_type = ps_strdup(refund_types[ch]);
        snprintf(buf, sizeof(buf), "RF%" PRId64 "-%09" PRId64, g->seed, j);
        ev->refund_id = ps_strdup(buf);
        if (proc_gen_h(g, j, 4) % 2 == 0)
            ev->amount_minor = amount / 2;
        if (ch == PS_CHANNEL_ALIPAY) {
            ev->has_refund_total = true;
            ev->refund_total_minor = ev->amount_minor;
        }
    }
    snprintf(buf, sizeof(buf), "{\"gen\":%" PRId64 ",\"v\":%d}", j, variant);
    ev->raw_body = ps_memdup(buf, strlen(buf));
    ev->raw_body_len = strlen(buf);
    snprintf(buf, sizeof(buf), "gen-key-%s", prefixes[ch]);
    ev->key_id = ps_strdup(buf);
}

/* Generates payment j (all its events, in production order) and books the expectation. */
static inline int proc_gen_payment(proc_gen_t *g, int64_t j, proc_gen_emit_fn emit, void *opaque)
{
    int variants[PROC_GEN_EVENTS_PER_PAYMENT_MAX], n = 0, distinct, rc = 0;
    uint64_t r = proc_gen_h(g, j, 5);
    bool second = r % 100 < 20, refund = (r / 100) % 100 < 30;
    bool refund_first = refund && (r / 10000) % 100 < 30;
    bool dup = (r / 1000000) % 100 < 15;
    ps_callback_event_t ev;
    char key[PS_ID_BYTES_MAX + 16];

    if (refund_first)
        variants[n++] = 2;
    variants[n++] = 0;
    if (second)
        variants[n++] = 1;
    if (refund && !refund_first)
        variants[n++] = 2;
    distinct = n;
    if (dup) /* a channel retry of an earlier notification, after the others */
        variants[n++] = variants[(r / 100000000) % (uint64_t)distinct];
    for (int k = 0; k < n && rc == 0; k++) {
        proc_gen_fill(g, j, variants[k], &ev);
        snprintf(key, sizeof(key), "%s:%s", ps_channel_name(ev.channel), ev.merchant_order_no);
        rc = emit(opaque, key, &ev);
        ps_callback_event_deinit(&ev);
    }
    /* expectation */
    proc_gen_fill(g, j, 0, &ev);
    {
        int cur = ev.channel == PS_CHANNEL_APPLE ? 1 : 0;
        int player = (int)(proc_gen_h(g, j, 3) % PROC_GEN_PLAYERS);
        int64_t pay = ev.amount_minor, ref = 0;
        if (refund) {
            ref = proc_gen_h(g, j, 4) % 2 == 0 ? pay / 2 : pay;
            g->refunds++;
            if (ref == pay)
                g->full_refunds++;
            else
                g->partial_refunds++;
        }
        g->player_balance[player][cur] += ref - pay;
        g->clearing_balance[ev.channel] += pay - ref;
        g->payments++;
        g->journals += 1 + (refund ? 1 : 0);
    }
    ps_callback_event_deinit(&ev);
    g->events_emitted += n;
    g->events_distinct += distinct;
    g->duplicates += n - distinct;
    return rc;
}

#endif
