/*
 * ps-sample: deterministic sample traffic for demos and smoke tests.
 *
 *   ps-sample produce --brokers B --topic T --count N [--seed S]
 *   ps-sample consume --brokers B --topic T --count N [--timeout-ms M]
 *   ps-sample create-topics --brokers B --topics a,b [--partitions P] [--replication R]
 *   ps-sample delete-topics --brokers B --topics a,b
 *
 * produce generates N CallbackEvents of all three channels (payments, some
 * refunds, some exact duplicates), encodes them with the Avro codec and
 * produces them with the idempotent producer, keyed "CHANNEL:merchant_order_no"
 * (one payment's events stay in one partition, in order), and waits for
 * every delivery report. The same seed always gives the same events, so a
 * demo can predict its results. consume reads them back (read_committed,
 * every partition from the beginning), decodes each and prints counts per
 * channel and kind, integer totals per currency, and the duplicates seen by
 * channel_event_id. Any failure exits non-zero with a message.
 */
#include <paystream/avro.h>
#include <paystream/buf.h>
#include <paystream/event.h>
#include <paystream/kafka.h>
#include <paystream/limits.h>
#include <paystream/log.h>
#include <paystream/mem.h>
#include <paystream/money.h>

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SAMPLE_TIMEOUT_MS 60000     /* readiness, admin and final flush */
#define SAMPLE_CURRENCIES_MAX 16    /* distinct currencies summed by consume */
#define SAMPLE_REFUND_LOOKBACK 16   /* a refund targets one of the previous 16 events */
#define SAMPLE_BASE_TIME_US INT64_C(1795000000000000) /* 2026-11-19T09:46:40Z */

typedef struct opts {
    const char *cmd, *brokers, *topic, *topics;
    int64_t count, seed, timeout_ms, partitions, replication;
} opts_t;

typedef enum sample_kind { SAMPLE_PAY, SAMPLE_REFUND, SAMPLE_DUP } sample_kind_t;

static char errstr[PS_ERRSTR_SIZE];

/* ---- deterministic generation ---- */

static uint64_t mix(uint64_t x)
{
    /* splitmix64 finalizer: good avalanche, no state to carry between events. */
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

static uint64_t sample_hash(int64_t seed, int64_t i, uint64_t salt)
{
    return mix((uint64_t)seed ^ mix((uint64_t)i * UINT64_C(0x100000001b3) + salt));
}

/* About 75 % payments, 15 % refunds, 10 % exact duplicates of an earlier event. */
static sample_kind_t kind_of(int64_t seed, int64_t i)
{
    uint64_t r = sample_hash(seed, i, 1) % 100;

    if (i == 0 || r >= 25)
        return SAMPLE_PAY;
    return r < 10 ? SAMPLE_DUP : SAMPLE_REFUND;
}

static int64_t refund_target(int64_t seed, int64_t i)
{
    int64_t t = i - 1 - (int64_t)(sample_hash(seed, i, 3) % SAMPLE_REFUND_LOOKBACK);

    return t < 0 ? 0 : t;
}

/*
 * A refund is real only if it targets a payment no earlier refund claimed:
 * one refund per payment keeps refunds within the paid amount and makes
 * Alipay's cumulative refund total equal to the refund itself.
 */
static bool refund_valid(int64_t seed, int64_t i, int64_t t)
{
    if (kind_of(seed, t) != SAMPLE_PAY)
        return false;
    for (int64_t k = t + 1; k < i; k++) {
        if (kind_of(seed, k) == SAMPLE_REFUND && refund_target(seed, k) == t)
            return false;
    }
    return true;
}

static void add_header(ps_callback_event_t *ev, const char *name, const char *value)
{
    ev->headers[ev->header_count].name = ps_strdup(name);
    ev->headers[ev->header_count].value = ps_strdup(value);
    ev->header_count++;
}

static void make_payment(int64_t seed, int64_t i, ps_callback_event_t *ev)
{
    static const char *const types[] = {"TRANSACTION.SUCCESS", "TRADE_SUCCESS",
                                        "ONE_TIME_CHARGE"};
    static const char *const prefixes[] = {"WX", "ALI", "APL"};
    char buf[512];
    int ch = (int)(sample_hash(seed, i, 2) % PS_CHANNEL_COUNT);

    memset(ev, 0, sizeof(*ev));
    ev->channel = (ps_channel_t)ch;
    ev->kind = PS_EVENT_PAYMENT_SUCCEEDED;
    ev->channel_event_type = ps_strdup(types[ch]);
    snprintf(buf, sizeof(buf), "%s-EV-%" PRId64 "-%" PRId64, prefixes[ch], seed, i);
    ev->channel_event_id = ps_strdup(buf);
    snprintf(buf, sizeof(buf), "%s%" PRId64 "-%08" PRId64, prefixes[ch], seed, i);
    ev->merchant_order_no = ps_strdup(buf);
    snprintf(buf, sizeof(buf), "%" PRIu64, UINT64_C(4200000000000000000) + sample_hash(seed, i, 4) % UINT64_C(1000000000000));
    ev->channel_txn_id = ps_strdup(buf);
    ev->amount_minor = 100 + (int64_t)(sample_hash(seed, i, 5) % 99901);
    memcpy(ev->currency, ch == PS_CHANNEL_APPLE ? "USD" : "CNY", 4);
    snprintf(buf, sizeof(buf), "player-%03d", (int)(sample_hash(seed, i, 6) % 50));
    ev->account_id = ps_strdup(buf);
    ev->event_time_us = SAMPLE_BASE_TIME_US + i * 1000000;
    ev->has_paid_time = true;
    ev->paid_time_us = ev->event_time_us;
    ev->received_time_us = ev->event_time_us + 50000;
    snprintf(buf, sizeof(buf), "{\"sample\":true,\"order\":\"%s\",\"amount\":%" PRId64 "}",
             ev->merchant_order_no, ev->amount_minor);
    ev->raw_body = ps_memdup(buf, strlen(buf));
    ev->raw_body_len = strlen(buf);
    ev->headers = ps_calloc(2, sizeof(ps_header_t));
    if (ch == PS_CHANNEL_WECHAT) {
        add_header(ev, "Wechatpay-Serial", "SAMPLE0000SERIAL");
        add_header(ev, "Wechatpay-Signature", "c2FtcGxlLXNpZ25hdHVyZQ==");
    }
    snprintf(buf, sizeof(buf), "sample-key-%s", prefixes[ch]);
    ev->key_id = ps_strdup(buf);
}

static void make_refund(int64_t seed, int64_t i, int64_t t, ps_callback_event_t *ev)
{
    static const char *const types[] = {"REFUND.SUCCESS", "TRADE_SUCCESS", "REFUND"};
    char buf[256];

    make_payment(seed, t, ev);
    ps_free(ev->channel_event_type);
    ev->channel_event_type = ps_strdup(types[ev->channel]);
    ps_free(ev->channel_event_id);
    snprintf(buf, sizeof(buf), "RF-EV-%" PRId64 "-%" PRId64, seed, i);
    ev->channel_event_id = ps_strdup(buf);
    snprintf(buf, sizeof(buf), "RF%" PRId64 "-%08" PRId64, seed, i);
    ev->refund_id = ps_strdup(buf);
    ev->kind = PS_EVENT_REFUND_SUCCEEDED;
    /* Half the refunds are full, half return half the amount. */
    if (sample_hash(seed, i, 7) % 2 == 0)
        ev->amount_minor /= 2;
    if (ev->channel == PS_CHANNEL_ALIPAY) {
        ev->has_refund_total = true;
        ev->refund_total_minor = ev->amount_minor;
    }
    ev->event_time_us = SAMPLE_BASE_TIME_US + i * 1000000;
    ev->received_time_us = ev->event_time_us + 50000;
}

/* Event i of the stream for seed; *kind_out says what it is. */
static void gen_event(int64_t seed, int64_t i, ps_callback_event_t *ev, sample_kind_t *kind_out)
{
    int64_t j = i;

    *kind_out = kind_of(seed, i);
    /* A duplicate repeats an earlier event exactly; follow chains back. */
    while (kind_of(seed, j) == SAMPLE_DUP)
        j = (int64_t)(sample_hash(seed, j, 8) % (uint64_t)j);
    if (kind_of(seed, j) == SAMPLE_REFUND && refund_valid(seed, j, refund_target(seed, j))) {
        make_refund(seed, j, refund_target(seed, j), ev);
        return;
    }
    if (*kind_out == SAMPLE_REFUND)
        *kind_out = SAMPLE_PAY;
    make_payment(seed, j, ev);
}

/* ---- Kafka clients ---- */

static ps_err_t new_client(ps_kafka_role_t role, const char *brokers, ps_kafka_delivery_t *dlv,
                           rd_kafka_t **rk_out)
{
    rd_kafka_conf_t *conf = NULL;
    char group[64];
    ps_err_t err = ps_kafka_conf_new(role, &conf, errstr, sizeof(errstr));

    if (err == PS_OK)
        err = ps_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof(errstr));
    if (err == PS_OK && role == PS_KAFKA_CONSUMER) {
        /* Never joins the group (explicit assign); the id is only required. */
        snprintf(group, sizeof(group), "ps-sample-%ld", (long)getpid());
        err = ps_kafka_conf_set(conf, "group.id", group, errstr, sizeof(errstr));
    }
    if (err != PS_OK) {
        if (conf != NULL)
            rd_kafka_conf_destroy(conf);
        return err;
    }
    if (dlv != NULL)
        ps_kafka_conf_set_delivery(conf, dlv);
    return ps_kafka_new(role, &conf, rk_out, errstr, sizeof(errstr));
}

static ps_err_t cmd_produce(const opts_t *o)
{
    ps_kafka_delivery_t dlv = {0, 0, RD_KAFKA_RESP_ERR_NO_ERROR};
    int64_t counts[3] = {0, 0, 0};
    ps_avro_codec_t *codec = NULL;
    rd_kafka_t *rk = NULL;
    ps_buf_t buf;
    char key[PS_ID_BYTES_MAX + 16];
    ps_err_t err;

    ps_buf_init(&buf, PS_AVRO_MESSAGE_BYTES_MAX);
    err = ps_kafka_wait_ready(o->brokers, SAMPLE_TIMEOUT_MS, errstr, sizeof(errstr));
    if (err == PS_OK)
        err = ps_avro_codec_new(&codec, errstr, sizeof(errstr));
    if (err == PS_OK)
        err = new_client(PS_KAFKA_PRODUCER, o->brokers, &dlv, &rk);
    for (int64_t i = 0; err == PS_OK && i < o->count; i++) {
        ps_callback_event_t ev;
        sample_kind_t kind;
        gen_event(o->seed, i, &ev, &kind);
        counts[kind]++;
        snprintf(key, sizeof(key), "%s:%s", ps_channel_name(ev.channel), ev.merchant_order_no);
        err = ps_avro_encode_callback_event(codec, &ev, &buf, errstr, sizeof(errstr));
        if (err == PS_OK)
            err = ps_kafka_produce(rk, o->topic, key, strlen(key), buf.data, buf.len,
                                   SAMPLE_TIMEOUT_MS, errstr, sizeof(errstr));
        ps_callback_event_deinit(&ev);
    }
    if (err == PS_OK)
        err = ps_kafka_flush(rk, &dlv, (uint64_t)o->count, SAMPLE_TIMEOUT_MS, errstr,
                             sizeof(errstr));
    if (err == PS_OK)
        printf("produced %" PRId64 " events to \"%s\" (%" PRId64 " payments, %" PRId64
               " refunds, %" PRId64 " duplicates), all acknowledged\n",
               o->count, o->topic, counts[SAMPLE_PAY], counts[SAMPLE_REFUND],
               counts[SAMPLE_DUP]);
    if (rk != NULL)
        rd_kafka_destroy(rk);
    ps_avro_codec_destroy(codec);
    ps_buf_deinit(&buf);
    return err;
}

/* ---- consume: summary ---- */

typedef struct currency_total {
    char code[PS_CURRENCY_CODE_BYTES];
    int64_t paid_minor, refunded_minor;
} currency_total_t;

typedef struct summary {
    int64_t by_kind[PS_CHANNEL_COUNT][PS_EVENT_KIND_COUNT];
    currency_total_t totals[SAMPLE_CURRENCIES_MAX];
    size_t currency_count;
    char **seen;       /* open-addressing set of "CHANNEL:event id", owned */
    size_t seen_cap;   /* power of two, at least twice the expected count */
    int64_t duplicates;
} summary_t;

/* Returns true if key was already in the set (bounded: cap > expected count). */
static bool seen_add(summary_t *s, const char *key)
{
    size_t mask = s->seen_cap - 1, slot = 0;

    for (const char *p = key; *p != '\0'; p++)
        slot = slot * 31 + (unsigned char)*p;
    for (slot &= mask; s->seen[slot] != NULL; slot = (slot + 1) & mask) {
        if (strcmp(s->seen[slot], key) == 0)
            return true;
    }
    s->seen[slot] = ps_strdup(key);
    return false;
}

static ps_err_t add_amount(summary_t *s, const ps_callback_event_t *ev)
{
    currency_total_t *t = NULL;
    bool refund = ev->kind == PS_EVENT_REFUND_SUCCEEDED;

    for (size_t i = 0; i < s->currency_count && t == NULL; i++) {
        if (strcmp(s->totals[i].code, ev->currency) == 0)
            t = &s->totals[i];
    }
    if (t == NULL) {
        if (s->currency_count == SAMPLE_CURRENCIES_MAX)
            return ps_errstr_set(errstr, sizeof(errstr), PS_ERR_TOO_LARGE,
                                 "more than %d currencies in the sample", SAMPLE_CURRENCIES_MAX);
        t = &s->totals[s->currency_count++];
        memcpy(t->code, ev->currency, sizeof(t->code));
    }
    if (ev->kind != PS_EVENT_PAYMENT_SUCCEEDED && !refund)
        return PS_OK;
    if (ps_money_add(refund ? t->refunded_minor : t->paid_minor, ev->amount_minor,
                     refund ? &t->refunded_minor : &t->paid_minor) != PS_OK)
        return ps_errstr_set(errstr, sizeof(errstr), PS_ERR_TOO_LARGE,
                             "%s total overflows int64", ev->currency);
    return PS_OK;
}

static ps_err_t summarize(summary_t *s, ps_avro_codec_t *codec, const rd_kafka_message_t *m)
{
    ps_callback_event_t ev;
    char key[PS_ID_BYTES_MAX + 16];
    ps_err_t err;

    memset(&ev, 0, sizeof(ev));
    err = ps_avro_decode_callback_event(codec, m->payload, m->len, &ev, errstr, sizeof(errstr));
    if (err != PS_OK)
        return ps_errstr_prefix(errstr, sizeof(errstr), err,
                                "could not decode message at partition %d offset %" PRId64,
                                (int)m->partition, m->offset);
    s->by_kind[ev.channel][ev.kind]++;
    snprintf(key, sizeof(key), "%s:%s", ps_channel_name(ev.channel), ev.channel_event_id);
    if (seen_add(s, key))
        s->duplicates++;
    else
        err = add_amount(s, &ev); /* a duplicate moves no money */
    ps_callback_event_deinit(&ev);
    return err;
}

static int cmp_currency(const void *a, const void *b)
{
    return strcmp(((const currency_total_t *)a)->code, ((const currency_total_t *)b)->code);
}

/* Sorted output: partitions interleave differently on every read. */
static void print_summary(summary_t *s, const opts_t *o, int64_t got)
{
    char paid[64], refunded[64];

    qsort(s->totals, s->currency_count, sizeof(s->totals[0]), cmp_currency);

    printf("consumed %" PRId64 " events from \"%s\"\n", got, o->topic);
    for (int c = 0; c < PS_CHANNEL_COUNT; c++) {
        for (int k = 0; k < PS_EVENT_KIND_COUNT; k++) {
            if (s->by_kind[c][k] > 0)
                printf("  %-7s %-18s %" PRId64 "\n", ps_channel_name((ps_channel_t)c),
                       ps_event_kind_name((ps_event_kind_t)k), s->by_kind[c][k]);
        }
    }
    for (size_t i = 0; i < s->currency_count; i++) {
        const currency_total_t *t = &s->totals[i];
        if (ps_money_format(t->paid_minor, t->code, paid, sizeof(paid)) != PS_OK)
            snprintf(paid, sizeof(paid), "%" PRId64 " minor", t->paid_minor);
        if (ps_money_format(t->refunded_minor, t->code, refunded, sizeof(refunded)) != PS_OK)
            snprintf(refunded, sizeof(refunded), "%" PRId64 " minor", t->refunded_minor);
        printf("  %s paid %s (%" PRId64 " minor), refunded %s (%" PRId64 " minor)\n", t->code,
               paid, t->paid_minor, refunded, t->refunded_minor);
    }
    printf("  duplicates by channel_event_id: %" PRId64 "\n", s->duplicates);
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static ps_err_t consume_loop(rd_kafka_t *rk, ps_avro_codec_t *codec, summary_t *s,
                             const opts_t *o, int64_t *got)
{
    int64_t deadline_ms = now_ms() + o->timeout_ms;
    ps_err_t err = PS_OK;

    while (err == PS_OK && *got < o->count && now_ms() < deadline_ms) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m == NULL)
            continue;
        if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR)
            err = ps_kafka_errstr(errstr, sizeof(errstr), m->err, "could not consume \"%s\"",
                                  o->topic);
        else {
            err = summarize(s, codec, m);
            (*got)++;
        }
        rd_kafka_message_destroy(m);
    }
    if (err == PS_OK && *got < o->count)
        err = ps_errstr_set(errstr, sizeof(errstr), PS_ERR_TIMEOUT,
                            "read only %" PRId64 " of %" PRId64 " events from \"%s\" within %"
                            PRId64 " ms",
                            *got, o->count, o->topic, o->timeout_ms);
    return err;
}

static ps_err_t cmd_consume(const opts_t *o)
{
    summary_t s;
    ps_avro_codec_t *codec = NULL;
    rd_kafka_t *rk = NULL;
    int partitions = 0;
    int64_t got = 0;
    ps_err_t err;

    memset(&s, 0, sizeof(s));
    for (s.seen_cap = 16; s.seen_cap < (size_t)o->count * 2; s.seen_cap *= 2)
        ;
    s.seen = ps_calloc(s.seen_cap, sizeof(char *));
    err = ps_avro_codec_new(&codec, errstr, sizeof(errstr));
    if (err == PS_OK)
        err = new_client(PS_KAFKA_CONSUMER, o->brokers, NULL, &rk);
    if (err == PS_OK)
        err = ps_kafka_partition_count(rk, o->topic, SAMPLE_TIMEOUT_MS, &partitions, errstr,
                                       sizeof(errstr));
    if (err == PS_OK)
        err = ps_kafka_assign_all(rk, o->topic, partitions, RD_KAFKA_OFFSET_BEGINNING, errstr,
                                  sizeof(errstr));
    if (err == PS_OK)
        err = consume_loop(rk, codec, &s, o, &got);
    if (err == PS_OK)
        print_summary(&s, o, got);
    if (rk != NULL) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    ps_avro_codec_destroy(codec);
    for (size_t i = 0; i < s.seen_cap; i++)
        ps_free(s.seen[i]);
    ps_free(s.seen);
    return err;
}

/* ---- create-topics, delete-topics ---- */

/* Splits list (modified in place) on commas by hand (no strtok). */
static ps_err_t split_topics(char *list, const char *names[PS_KAFKA_TOPICS_MAX], size_t *n)
{
    *n = 0;
    for (char *p = list;;) {
        char *comma = strchr(p, ',');
        if (comma != NULL)
            *comma = '\0';
        if (*n == PS_KAFKA_TOPICS_MAX)
            return ps_errstr_set(errstr, sizeof(errstr), PS_ERR_TOO_LARGE,
                                 "more than %d topics (PS_KAFKA_TOPICS_MAX)",
                                 PS_KAFKA_TOPICS_MAX);
        if (*p == '\0')
            return ps_errstr_set(errstr, sizeof(errstr), PS_ERR_INVALID,
                                 "invalid --topics: empty topic name at position %zu", *n + 1);
        names[(*n)++] = p;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    return PS_OK;
}

static ps_err_t cmd_topics(const opts_t *o, bool create)
{
    char *list = ps_strdup(o->topics);
    const char *names[PS_KAFKA_TOPICS_MAX];
    size_t n = 0;
    rd_kafka_t *rk = NULL;
    ps_err_t err = split_topics(list, names, &n);

    if (err == PS_OK)
        err = ps_kafka_wait_ready(o->brokers, SAMPLE_TIMEOUT_MS, errstr, sizeof(errstr));
    if (err == PS_OK)
        err = new_client(PS_KAFKA_PRODUCER, o->brokers, NULL, &rk);
    if (err == PS_OK && create)
        err = ps_kafka_create_topics(rk, names, n, (int)o->partitions, (int)o->replication,
                                     SAMPLE_TIMEOUT_MS, errstr, sizeof(errstr));
    else if (err == PS_OK)
        err = ps_kafka_delete_topics(rk, names, n, SAMPLE_TIMEOUT_MS, errstr, sizeof(errstr));
    if (err == PS_OK && create)
        printf("topics ready: %s (%" PRId64 " partitions)\n", o->topics, o->partitions);
    else if (err == PS_OK)
        printf("topics deleted: %s\n", o->topics);
    if (rk != NULL)
        rd_kafka_destroy(rk);
    ps_free(list);
    return err;
}

/* ---- command line ---- */

static ps_err_t parse_int(const char *flag, const char *s, int64_t min, int64_t max,
                          int64_t *out)
{
    char *end = NULL;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return ps_errstr_set(errstr, sizeof(errstr), PS_ERR_INVALID,
                             "invalid value \"%s\" for %s: expected an integer from %" PRId64
                             " to %" PRId64,
                             s, flag, min, max);
    *out = v;
    return PS_OK;
}

static ps_err_t parse_flag(opts_t *o, const char *flag, const char *value)
{
    if (strcmp(flag, "--brokers") == 0)
        o->brokers = value;
    else if (strcmp(flag, "--topic") == 0)
        o->topic = value;
    else if (strcmp(flag, "--topics") == 0)
        o->topics = value;
    else if (strcmp(flag, "--count") == 0)
        return parse_int(flag, value, 1, PS_SAMPLE_EVENTS_MAX, &o->count);
    else if (strcmp(flag, "--seed") == 0)
        return parse_int(flag, value, 0, INT64_MAX, &o->seed);
    else if (strcmp(flag, "--timeout-ms") == 0)
        return parse_int(flag, value, 1, 3600000, &o->timeout_ms);
    else if (strcmp(flag, "--partitions") == 0)
        return parse_int(flag, value, 1, PS_KAFKA_PARTITIONS_MAX, &o->partitions);
    else if (strcmp(flag, "--replication") == 0)
        return parse_int(flag, value, 1, 16, &o->replication);
    else
        return ps_errstr_set(errstr, sizeof(errstr), PS_ERR_INVALID, "unknown option \"%s\"",
                             flag);
    return PS_OK;
}

static ps_err_t parse_args(int argc, char **argv, opts_t *o)
{
    const char *need = NULL;

    o->cmd = argv[1];
    o->brokers = PS_KAFKA_BOOTSTRAP_DEFAULT;
    o->seed = 1;
    o->timeout_ms = 30000;
    o->partitions = 1;
    o->replication = 1;
    for (int i = 2; i < argc; i += 2) {
        if (i + 1 >= argc)
            return ps_errstr_set(errstr, sizeof(errstr), PS_ERR_INVALID,
                                 "option \"%s\" needs a value", argv[i]);
        if (parse_flag(o, argv[i], argv[i + 1]) != PS_OK)
            return PS_ERR_INVALID;
    }
    if (strcmp(o->cmd, "create-topics") == 0 || strcmp(o->cmd, "delete-topics") == 0)
        need = o->topics == NULL ? "--topics" : NULL;
    else if (strcmp(o->cmd, "produce") == 0 || strcmp(o->cmd, "consume") == 0)
        need = o->topic == NULL ? "--topic" : o->count == 0 ? "--count" : NULL;
    else
        return ps_errstr_set(errstr, sizeof(errstr), PS_ERR_INVALID, "unknown command \"%s\"",
                             o->cmd);
    if (need != NULL)
        return ps_errstr_set(errstr, sizeof(errstr), PS_ERR_INVALID,
                             "command \"%s\" needs %s", o->cmd, need);
    return PS_OK;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ps-sample produce --brokers B --topic T --count N [--seed S]\n"
            "       ps-sample consume --brokers B --topic T --count N [--timeout-ms M]\n"
            "       ps-sample create-topics --brokers B --topics a,b [--partitions P] "
            "[--replication R]\n"
            "       ps-sample delete-topics --brokers B --topics a,b\n");
}

int main(int argc, char **argv)
{
    opts_t o;
    ps_err_t err;

    memset(&o, 0, sizeof(o));
    ps_log_set_component("ps-sample");
    /* librdkafka's informational lines would drown the summary. */
    ps_log_set_level(PS_LOG_WARN);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (parse_args(argc, argv, &o) != PS_OK) {
        fprintf(stderr, "ps-sample: %s\n", errstr);
        usage(stderr);
        return 2;
    }
    if (strcmp(o.cmd, "produce") == 0)
        err = cmd_produce(&o);
    else if (strcmp(o.cmd, "consume") == 0)
        err = cmd_consume(&o);
    else
        err = cmd_topics(&o, strcmp(o.cmd, "create-topics") == 0);
    if (err != PS_OK) {
        fprintf(stderr, "ps-sample: %s\n", errstr);
        return 1;
    }
    return 0;
}
