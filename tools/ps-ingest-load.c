/*
 * ps-ingest-load: the load generator and ceiling probe behind bench/ingest.
 *
 *   ps-ingest-load --config FILE --url URL --dir DIR [--concurrency C]
 *                  [--duration-s S] [--ceiling-s S] [--threads T]
 *
 * 1. Ceiling: the bare verification rate with the ingest's own verifiers
 *    (the same OpenSSL calls, no HTTP, no Kafka) over the genuine request
 *    files of DIR (manifest.tsv from ps-channel-sim callbacks), on T threads
 *    (default: every online core) for --ceiling-s seconds.
 * 2. Load: keeps C requests in flight against the running ingest at URL for
 *    --duration-s seconds (libcurl multi, keep-alive), cycling through the
 *    same files, and counts the answers each channel counts as success.
 *
 * Prints both figures and, as its last line, one JSON object:
 *   {"acked_per_s":N,"p50_ms":X,"p99_ms":X,"verify_ceiling_per_s":N,"ratio":X}
 * Latencies are integer microseconds; the decimal output is formatted from
 * integers (no floating point in this code base).
 */
#include "answer.h"
#include "config.h"
#include "reqfile.h"
#include "verifiers.h"

#include <paystream/assert.h>
#include <paystream/config.h>
#include <paystream/limits.h>
#include <paystream/log.h>
#include <paystream/mem.h>

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define PROG "ps-ingest-load"
#define PATH_BYTES_MAX 4096
#define LOAD_CONCURRENCY_MAX 1024
#define LOAD_THREADS_MAX 64
#define LOAD_FILES_MAX 100000
#define LOAD_SAMPLES_MAX (8 * 1024 * 1024) /* latencies kept; later ones are counted only */
#define LOAD_DURATION_S_MAX 3600
#define LOAD_TIMEOUT_MS 30000

typedef struct item {
    ingest_reqfile_t rf;
    ps_channel_t channel;
    struct curl_slist *headers; /* owned */
    char url[PATH_BYTES_MAX];
} item_t;

typedef struct opts {
    const char *config, *url, *dir;
    long long concurrency, duration_s, ceiling_s, threads;
} opts_t;

static int64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Loads the genuine requests listed in DIR/manifest.tsv. */
static long long load_items(const opts_t *o, item_t **items_out)
{
    char path[PATH_BYTES_MAX], line[512], errstr[PS_ERRSTR_SIZE];
    item_t *items = ps_calloc(LOAD_FILES_MAX, sizeof(*items));
    long long n = 0;
    FILE *f;

    snprintf(path, sizeof(path), "%s/manifest.tsv", o->dir);
    f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, PROG ": could not open \"%s\": %s\n", path, strerror(errno));
        ps_free(items);
        return -1;
    }
    while (n < LOAD_FILES_MAX && fgets(line, sizeof(line), f) != NULL) {
        char *tab = strchr(line, '\t');
        item_t *it = &items[n];
        if (tab == NULL || strstr(tab, "\taccept\t") == NULL)
            continue;
        *tab = '\0';
        snprintf(path, sizeof(path), "%s/%s", o->dir, line);
        if (ingest_reqfile_load(path, &it->rf, errstr, sizeof(errstr)) != PS_OK ||
            strncmp(it->rf.path, "/v1/notify/", 11) != 0 ||
            ps_channel_parse(it->rf.path + 11, &it->channel) != PS_OK) {
            fprintf(stderr, PROG ": skipping \"%s\": %s\n", path, errstr);
            ingest_reqfile_deinit(&it->rf);
            continue;
        }
        snprintf(it->url, sizeof(it->url), "%s%s", o->url, it->rf.path);
        for (size_t i = 0; i < it->rf.header_count; i++) {
            char h[PS_REQFILE_LINE_BYTES_MAX + 4];
            if (strcasecmp(it->rf.headers[i].name, "Content-Length") == 0 ||
                strcasecmp(it->rf.headers[i].name, "Host") == 0)
                continue;
            snprintf(h, sizeof(h), "%s: %s", it->rf.headers[i].name, it->rf.headers[i].value);
            it->headers = curl_slist_append(it->headers, h);
        }
        it->headers = curl_slist_append(it->headers, "Expect:");
        n++;
    }
    fclose(f);
    *items_out = items;
    return n;
}

static void free_items(item_t *items, long long n)
{
    for (long long i = 0; i < n; i++) {
        curl_slist_free_all(items[i].headers);
        ingest_reqfile_deinit(&items[i].rf);
    }
    ps_free(items);
}

/* ---- ceiling ---- */

typedef struct ceiling {
    ingest_verifiers_t *v;
    item_t *items;
    long long n;
    int64_t deadline_us;
    atomic_llong done, accepted;
} ceiling_t;

static void *ceiling_worker(void *arg)
{
    ceiling_t *c = arg;
    long long i = 0, done = 0, ok = 0;

    while (now_us() < c->deadline_us) {
        for (int k = 0; k < 16; k++, i++) {
            const item_t *it = &c->items[i % c->n];
            ingest_request_t req;
            ingest_result_t res;
            memset(&res, 0, sizeof(res));
            ingest_reqfile_request(&it->rf, (int64_t)time(NULL), &req);
            if (ingest_verifiers_verify(c->v, it->channel, &req, &res) == PS_OK &&
                res.verdict != INGEST_REJECT)
                ok++;
            ingest_result_deinit(&res);
            done++;
        }
    }
    atomic_fetch_add(&c->done, done);
    atomic_fetch_add(&c->accepted, ok);
    return NULL;
}

static long long run_ceiling(const opts_t *o, item_t *items, long long n)
{
    char errstr[PS_ERRSTR_SIZE];
    pthread_t th[LOAD_THREADS_MAX];
    ps_config_t *cfg = NULL;
    ceiling_t c;
    long long rate = -1;

    memset(&c, 0, sizeof(c));
    if (ps_config_load(ingest_config_table, ingest_config_key_count, o->config, NULL, &cfg,
                       errstr, sizeof(errstr)) != PS_OK ||
        ingest_verifiers_new(cfg, &c.v, errstr, sizeof(errstr)) != PS_OK) {
        fprintf(stderr, PROG ": %s\n", errstr);
        goto out;
    }
    c.items = items;
    c.n = n;
    c.deadline_us = now_us() + o->ceiling_s * 1000000;
    for (long long t = 0; t < o->threads; t++)
        PS_ASSERT(pthread_create(&th[t], NULL, ceiling_worker, &c) == 0);
    for (long long t = 0; t < o->threads; t++)
        pthread_join(th[t], NULL);
    if (c.accepted != c.done)
        fprintf(stderr, PROG ": %lld of %lld verifications failed\n",
                (long long)(c.done - c.accepted), (long long)c.done);
    rate = c.done / o->ceiling_s;
    printf("verify ceiling: %lld verifications in %lld s on %lld threads: %lld/s\n",
           (long long)c.done, o->ceiling_s, o->threads, rate);
out:
    ingest_verifiers_destroy(c.v);
    ps_config_destroy(cfg);
    return rate;
}

/* ---- load ---- */

typedef struct slot {
    CURL *curl;
    const item_t *it;
    int64_t start_us;
    char answer[PS_HTTP_ANSWER_BYTES_MAX];
    size_t answer_len;
} slot_t;

typedef struct load {
    int64_t *lat_us;
    long long samples, acked, failed;
} load_t;

static size_t keep_answer(char *p, size_t size, size_t nmemb, void *ud)
{
    slot_t *s = ud;
    size_t n = size * nmemb, room = sizeof(s->answer) - s->answer_len;

    memcpy(s->answer + s->answer_len, p, n < room ? n : room);
    s->answer_len += n < room ? n : room;
    return n;
}

static void start(CURLM *multi, slot_t *s, const item_t *it)
{
    s->it = it;
    s->answer_len = 0;
    curl_easy_setopt(s->curl, CURLOPT_URL, it->url);
    curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, it->headers);
    curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, (const char *)it->rf.body);
    curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE, (long)it->rf.body_len);
    curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, keep_answer);
    curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(s->curl, CURLOPT_PRIVATE, s);
    curl_easy_setopt(s->curl, CURLOPT_TIMEOUT_MS, (long)LOAD_TIMEOUT_MS);
    s->start_us = now_us();
    curl_multi_add_handle(multi, s->curl);
}

static void finish(load_t *l, slot_t *s, CURLcode rc)
{
    long status = 0;

    if (rc == CURLE_OK)
        curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
    if (ingest_answer_is_success(s->it->channel, (unsigned)status, (const uint8_t *)s->answer,
                                 s->answer_len)) {
        l->acked++;
        if (l->samples < LOAD_SAMPLES_MAX)
            l->lat_us[l->samples++] = now_us() - s->start_us;
    } else {
        l->failed++;
    }
}

static void run_load(const opts_t *o, item_t *items, long long n, load_t *l)
{
    CURLM *multi = curl_multi_init();
    slot_t *slots = ps_calloc((size_t)o->concurrency, sizeof(*slots));
    int64_t end_us = now_us() + o->duration_s * 1000000;
    long long next = 0, running_handles = o->concurrency;
    int still = 0, q = 0;
    CURLMsg *m;

    curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)o->concurrency);
    for (long long i = 0; i < o->concurrency; i++) {
        slots[i].curl = curl_easy_init();
        PS_ASSERT(slots[i].curl != NULL);
        start(multi, &slots[i], &items[next++ % n]);
    }
    while (running_handles > 0) {
        curl_multi_perform(multi, &still);
        while ((m = curl_multi_info_read(multi, &q)) != NULL) {
            slot_t *s = NULL;
            if (m->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            finish(l, s, m->data.result);
            curl_multi_remove_handle(multi, s->curl);
            if (now_us() < end_us)
                start(multi, s, &items[next++ % n]);
            else
                running_handles--;
        }
        if (running_handles > 0)
            curl_multi_poll(multi, NULL, 0, 100, NULL);
    }
    for (long long i = 0; i < o->concurrency; i++)
        curl_easy_cleanup(slots[i].curl);
    ps_free(slots);
    curl_multi_cleanup(multi);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

static int report(const opts_t *o, load_t *l, long long ceiling)
{
    int64_t p50 = 0, p99 = 0;
    long long acked_per_s = l->acked / o->duration_s;
    long long ratio_milli = ceiling > 0 ? acked_per_s * 1000 / ceiling : 0;

    if (l->samples > 0) {
        qsort(l->lat_us, (size_t)l->samples, sizeof(int64_t), cmp_i64);
        p50 = l->lat_us[l->samples * 50 / 100];
        p99 = l->lat_us[l->samples * 99 / 100];
    }
    printf("load: %lld acknowledged, %lld failed in %lld s at concurrency %lld: %lld/s, "
           "p50 %lld us, p99 %lld us\n",
           l->acked, l->failed, o->duration_s, o->concurrency, acked_per_s, (long long)p50,
           (long long)p99);
    printf("{\"acked_per_s\":%lld,\"p50_ms\":%lld.%03lld,\"p99_ms\":%lld.%03lld,"
           "\"verify_ceiling_per_s\":%lld,\"ratio\":%lld.%03lld}\n",
           acked_per_s, (long long)(p50 / 1000), (long long)(p50 % 1000), (long long)(p99 / 1000),
           (long long)(p99 % 1000), ceiling, ratio_milli / 1000, ratio_milli % 1000);
    return l->failed == 0 ? 0 : 1;
}

static int parse_opts(int argc, char **argv, opts_t *o)
{
    static const struct option longopts[] = {
        {"config", 1, NULL, 'f'},     {"url", 1, NULL, 'u'},        {"dir", 1, NULL, 'd'},
        {"concurrency", 1, NULL, 'c'}, {"duration-s", 1, NULL, 's'}, {"ceiling-s", 1, NULL, 'C'},
        {"threads", 1, NULL, 't'},    {NULL, 0, NULL, 0}};
    long long *num;
    char *end;
    int c;

    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        num = c == 'c' ? &o->concurrency : c == 's' ? &o->duration_s
              : c == 'C' ? &o->ceiling_s : c == 't' ? &o->threads : NULL;
        if (c == 'f')
            o->config = optarg;
        else if (c == 'u')
            o->url = optarg;
        else if (c == 'd')
            o->dir = optarg;
        else if (num == NULL)
            return 2;
        if (num != NULL) {
            errno = 0;
            *num = strtoll(optarg, &end, 10);
            if (errno != 0 || *end != '\0' || end == optarg)
                return 2;
        }
    }
    if (o->config == NULL || o->url == NULL || o->dir == NULL || optind != argc ||
        o->concurrency < 1 || o->concurrency > LOAD_CONCURRENCY_MAX || o->duration_s < 1 ||
        o->duration_s > LOAD_DURATION_S_MAX || o->ceiling_s < 1 ||
        o->ceiling_s > LOAD_DURATION_S_MAX || o->threads < 1 || o->threads > LOAD_THREADS_MAX)
        return 2;
    return 0;
}

int main(int argc, char **argv)
{
    opts_t o = {NULL, NULL, NULL, 64, 20, 5, sysconf(_SC_NPROCESSORS_ONLN)};
    item_t *items = NULL;
    load_t l = {0};
    long long n, ceiling;
    int rc;

    ps_log_set_component("ingest-load");
    ps_log_set_level(PS_LOG_WARN);
    if (parse_opts(argc, argv, &o) != 0) {
        fprintf(stderr, "Usage: " PROG " --config FILE --url URL --dir DIR [--concurrency C] "
                        "[--duration-s S] [--ceiling-s S] [--threads T]\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    n = load_items(&o, &items);
    if (n <= 0) {
        fprintf(stderr, PROG ": no genuine request files in \"%s\"\n", o.dir);
        free_items(items, n < 0 ? 0 : n);
        return 1;
    }
    ceiling = run_ceiling(&o, items, n);
    l.lat_us = ps_malloc(LOAD_SAMPLES_MAX * sizeof(int64_t));
    run_load(&o, items, n, &l);
    rc = report(&o, &l, ceiling);
    ps_free(l.lat_us);
    free_items(items, n);
    curl_global_cleanup();
    return rc;
}
