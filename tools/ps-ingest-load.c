/*
 * ps-ingest-load: the load generator and ceiling probe behind bench/ingest.
 *
 *   ps-ingest-load --config FILE --url URL --dir DIR [--concurrency C]
 *                  [--duration-s S] [--ceiling-s S] [--threads T]
 *
 * 1. Ceiling: the bare verification rate with the ingest's own verifiers
 *    (the same OpenSSL calls, no HTTP, no Kafka) over the genuine request
 *    files of DIR (manifest.tsv from ps-channel-sim callbacks), on T threads
 *    (default: every online core) for --ceiling-s seconds (0: skipped, as
 *    for a warm-up run).
 * 2. Load: keeps C requests in flight against the running ingest at URL for
 *    --duration-s seconds, cycling through the same files, and counts the
 *    answers each channel counts as success. The client is a minimal
 *    HTTP/1.1 one (one epoll thread, C keep-alive connections, requests
 *    serialized once at start) because it shares the cores with the ingest
 *    and the broker: every microsecond it spends is taken from them. It
 *    prints its own CPU time per request so that this stays visible.
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

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
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
    ps_buf_t wire; /* the whole HTTP/1.1 request as sent */
} item_t;

typedef struct opts {
    const char *config, *url, *dir;
    long long concurrency, duration_s, ceiling_s, threads;
    char host[256]; /* from url: http://HOST:PORT, no path */
    char port[8];
} opts_t;

static int64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Serializes it->rf as one keep-alive request; Content-Length, Host,
 * Connection and Expect are ours. */
static void build_wire(const opts_t *o, item_t *it)
{
    ps_buf_t *w = &it->wire;
    bool ok;

    ps_buf_init(w, PS_REQFILE_BYTES_MAX + PS_REQFILE_LINE_BYTES_MAX);
    ok = ps_buf_appendf(w, "POST %s HTTP/1.1\r\nHost: %s:%s\r\n", it->rf.path, o->host,
                        o->port) == PS_OK;
    for (size_t i = 0; ok && i < it->rf.header_count; i++) {
        const char *name = it->rf.headers[i].name;

        if (strcasecmp(name, "Content-Length") == 0 || strcasecmp(name, "Host") == 0 ||
            strcasecmp(name, "Connection") == 0 || strcasecmp(name, "Expect") == 0)
            continue;
        ok = ps_buf_appendf(w, "%s: %s\r\n", name, it->rf.headers[i].value) == PS_OK;
    }
    ok = ok && ps_buf_appendf(w, "Content-Length: %zu\r\n\r\n", it->rf.body_len) == PS_OK &&
         ps_buf_append(w, it->rf.body, it->rf.body_len) == PS_OK;
    PS_ASSERT(ok); /* bounded by the request file's own bounds */
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
        build_wire(o, it);
        n++;
    }
    fclose(f);
    *items_out = items;
    return n;
}

static void free_items(item_t *items, long long n)
{
    for (long long i = 0; i < n; i++) {
        ps_buf_deinit(&items[i].wire);
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
    atomic_llong cpu_us; /* thread CPU time of the workers: steadier than wall time on a shared machine */
} ceiling_t;

static int64_t thread_cpu_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void *ceiling_worker(void *arg)
{
    ceiling_t *c = arg;
    long long i = 0, done = 0, ok = 0;
    int64_t cpu0 = thread_cpu_us();

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
    atomic_fetch_add(&c->cpu_us, thread_cpu_us() - cpu0);
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
    printf("verify ceiling: %lld verifications in %lld s on %lld threads: %lld/s "
           "(%lld us CPU each)\n",
           (long long)c.done, o->ceiling_s, o->threads, rate,
           c.done > 0 ? (long long)(c.cpu_us / c.done) : 0);
out:
    ingest_verifiers_destroy(c.v);
    ps_config_destroy(cfg);
    return rate;
}

/* ---- load ---- */

/* One answer's head and body: MHD's head is a few hundred bytes, the
 * channel bodies at most PS_HTTP_ANSWER_BYTES_MAX. */
#define LOAD_ANSWER_BYTES_MAX 8192
/* epoll_wait timeout: also how often request deadlines are looked at. */
#define LOAD_TICK_MS 100

typedef struct load {
    int64_t *lat_us;
    long long samples, acked, failed;
    int64_t cpu_us; /* this process's CPU time during the load: the generator's own cost */
} load_t;

/* One keep-alive connection with at most one request in flight. */
typedef struct conn {
    int fd; /* -1 while closed */
    const item_t *it;
    size_t sent; /* bytes of it->wire written */
    int64_t start_us;
    char in[LOAD_ANSWER_BYTES_MAX];
    size_t in_len;
} conn_t;

typedef struct loader {
    const opts_t *o;
    item_t *items;
    long long n, next;
    struct addrinfo *addr; /* owned */
    int ep;
    int64_t end_us;
    load_t *l;
} loader_t;

static int64_t process_cpu_us(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec +
           ru.ru_stime.tv_usec;
}

/* Splits o->url (http://HOST:PORT, optional trailing '/') into host and port. */
static int parse_url(opts_t *o)
{
    const char *p = o->url, *colon, *end;
    size_t host_len, port_len;

    if (strncmp(p, "http://", 7) != 0)
        return 2;
    p += 7;
    colon = strrchr(p, ':');
    if (colon == NULL || colon == p)
        return 2;
    end = colon + 1 + strspn(colon + 1, "0123456789");
    host_len = (size_t)(colon - p);
    port_len = (size_t)(end - colon - 1);
    if (host_len >= sizeof(o->host) || port_len == 0 || port_len >= sizeof(o->port) ||
        !(end[0] == '\0' || (end[0] == '/' && end[1] == '\0')))
        return 2;
    memcpy(o->host, p, host_len);
    o->host[host_len] = '\0';
    memcpy(o->port, colon + 1, port_len);
    o->port[port_len] = '\0';
    return 0;
}

static void conn_close(loader_t *ld, conn_t *c)
{
    if (c->fd >= 0) {
        epoll_ctl(ld->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
}

/* Connects c (non-blocking); edge-triggered for both directions, so the
 * registration never changes while the connection lives. */
static int conn_open(loader_t *ld, conn_t *c)
{
    struct epoll_event ev;
    int one = 1;

    c->fd = socket(ld->addr->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, ld->addr->ai_addr, ld->addr->ai_addrlen) != 0 && errno != EINPROGRESS) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
    ev.data.ptr = c;
    if (epoll_ctl(ld->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    return 0;
}

/* Writes what the socket takes; -1 when the connection failed. */
static int send_some(conn_t *c)
{
    const ps_buf_t *w = &c->it->wire;

    while (c->sent < w->len) {
        ssize_t k = send(c->fd, w->data + c->sent, w->len - c->sent, MSG_NOSIGNAL);

        if (k < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINPROGRESS ? 0 : -1;
        c->sent += (size_t)k;
    }
    return 0;
}

/* Starts the next request on c, or closes c once the run is over. */
static void start_next(loader_t *ld, conn_t *c)
{
    if (now_us() >= ld->end_us) {
        conn_close(ld, c);
        return;
    }
    c->it = &ld->items[ld->next++ % ld->n];
    c->sent = 0;
    c->in_len = 0;
    c->start_us = now_us();
    if (c->fd < 0 && conn_open(ld, c) != 0) {
        ld->l->failed++;
        c->it = NULL;
        return;
    }
    if (send_some(c) != 0) {
        ld->l->failed++;
        conn_close(ld, c);
        c->it = NULL;
    }
}

/* Records a failed request, drops the connection and moves on. */
static void fail(loader_t *ld, conn_t *c)
{
    ld->l->failed++;
    conn_close(ld, c);
    start_next(ld, c);
}

/* Value of header name (NUL-terminated head, lower-case name with ':'). */
static const char *head_value(const char *head, const char *name)
{
    size_t n = strlen(name);

    for (const char *p = strstr(head, "\r\n"); p != NULL; p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, name, n) == 0)
            return p + 2 + n + strspn(p + 2 + n, " \t");
    }
    return NULL;
}

/*
 * Whether c->in holds a whole answer: 1 done (judged into ld->l), 0 not
 * yet, -1 malformed. Only Content-Length framing: MHD frames every answer
 * of a buffer that way (204 and 304 aside).
 */
static int try_answer(loader_t *ld, conn_t *c, bool *keep_alive)
{
    char *end, *stop;
    const char *cl, *conn_hdr;
    unsigned long status;
    unsigned long long body_len;
    size_t head_len;

    c->in[c->in_len < sizeof(c->in) ? c->in_len : sizeof(c->in) - 1] = '\0';
    end = strstr(c->in, "\r\n\r\n");
    if (end == NULL)
        return c->in_len >= sizeof(c->in) - 1 ? -1 : 0;
    head_len = (size_t)(end - c->in) + 4;
    end[2] = '\0'; /* the head as a string, last CRLF kept for head_value */
    if (strncmp(c->in, "HTTP/1.", 7) != 0)
        return -1;
    status = strtoul(c->in + 9, &stop, 10);
    cl = head_value(c->in, "content-length:");
    body_len = cl != NULL ? strtoull(cl, NULL, 10) : 0;
    conn_hdr = head_value(c->in, "connection:");
    *keep_alive = !(conn_hdr != NULL && strncasecmp(conn_hdr, "close", 5) == 0);
    end[2] = '\r'; /* the next call searches the head again */
    /* 204 and 304 have no body and MHD sends them without a length. */
    if (stop == c->in + 9 || (cl == NULL && status != 204 && status != 304) ||
        body_len > sizeof(c->in) - head_len - 1)
        return -1;
    if (c->in_len < head_len + body_len)
        return 0;
    *keep_alive = *keep_alive && c->in_len == head_len + body_len;
    if (ingest_answer_is_success(c->it->channel, (unsigned)status,
                                 (const uint8_t *)c->in + head_len, (size_t)body_len)) {
        ld->l->acked++;
        if (ld->l->samples < LOAD_SAMPLES_MAX)
            ld->l->lat_us[ld->l->samples++] = now_us() - c->start_us;
    } else {
        ld->l->failed++;
    }
    return 1;
}

/* Reads what arrived; finishes the request when its answer is whole. */
static void on_readable(loader_t *ld, conn_t *c)
{
    bool keep_alive = false;
    int done = 0;

    while (done == 0) {
        ssize_t k = recv(c->fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len, 0);

        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (k <= 0) {
            fail(ld, c); /* closed or broken before the whole answer */
            return;
        }
        c->in_len += (size_t)k;
        done = try_answer(ld, c, &keep_alive);
    }
    if (done < 0) {
        fail(ld, c);
        return;
    }
    if (!keep_alive)
        conn_close(ld, c);
    start_next(ld, c);
}

static void on_event(loader_t *ld, conn_t *c, uint32_t events)
{
    if (c->fd < 0 || c->it == NULL)
        return;
    if ((events & EPOLLOUT) && c->sent < c->it->wire.len && send_some(c) != 0) {
        fail(ld, c);
        return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP))
        on_readable(ld, c);
}

/* Fails requests past LOAD_TIMEOUT_MS; counts connections still working. */
static long long sweep(loader_t *ld, conn_t *conns, long long count)
{
    long long active = 0;
    int64_t now = now_us();

    for (long long i = 0; i < count; i++) {
        conn_t *c = &conns[i];

        if (c->it != NULL && c->fd >= 0 && now - c->start_us > LOAD_TIMEOUT_MS * 1000)
            fail(ld, c);
        if (c->it == NULL && now < ld->end_us)
            start_next(ld, c); /* a connect that failed outright: try again */
        if (c->fd >= 0)
            active++;
    }
    return active;
}

static int run_load(const opts_t *o, item_t *items, long long n, load_t *l)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct epoll_event evs[LOAD_CONCURRENCY_MAX];
    conn_t *conns = ps_calloc((size_t)o->concurrency, sizeof(*conns));
    loader_t ld = {o, items, n, 0, NULL, -1, now_us() + o->duration_s * 1000000, l};
    int64_t next_sweep_us = 0;
    long long active = o->concurrency;
    int rc = getaddrinfo(o->host, o->port, &hints, &ld.addr);

    if (rc != 0) {
        fprintf(stderr, PROG ": could not resolve \"%s\": %s\n", o->host, gai_strerror(rc));
        ps_free(conns);
        return -1;
    }
    ld.ep = epoll_create1(EPOLL_CLOEXEC);
    PS_ASSERT(ld.ep >= 0);
    for (long long i = 0; i < o->concurrency; i++) {
        conns[i].fd = -1;
        start_next(&ld, &conns[i]);
    }
    while (active > 0) {
        int k = epoll_wait(ld.ep, evs, LOAD_CONCURRENCY_MAX, LOAD_TICK_MS);

        for (int i = 0; i < k; i++)
            on_event(&ld, evs[i].data.ptr, evs[i].events);
        if (now_us() >= next_sweep_us || k <= 0) {
            active = sweep(&ld, conns, o->concurrency);
            next_sweep_us = now_us() + LOAD_TICK_MS * 1000;
        }
    }
    close(ld.ep);
    freeaddrinfo(ld.addr);
    ps_free(conns);
    return 0;
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
           "p50 %lld us, p99 %lld us (generator CPU %lld us per request)\n",
           l->acked, l->failed, o->duration_s, o->concurrency, acked_per_s, (long long)p50,
           (long long)p99,
           l->acked + l->failed > 0 ? (long long)(l->cpu_us / (l->acked + l->failed)) : 0);
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
        o->duration_s > LOAD_DURATION_S_MAX || o->ceiling_s < 0 ||
        o->ceiling_s > LOAD_DURATION_S_MAX || o->threads < 1 || o->threads > LOAD_THREADS_MAX)
        return 2;
    return 0;
}

int main(int argc, char **argv)
{
    opts_t o = {.concurrency = 64, .duration_s = 20, .ceiling_s = 5,
                .threads = sysconf(_SC_NPROCESSORS_ONLN)};
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
    if (parse_url(&o) != 0) {
        fprintf(stderr, PROG ": --url must be http://HOST:PORT, got \"%s\"\n", o.url);
        return 2;
    }
    n = load_items(&o, &items);
    if (n <= 0) {
        fprintf(stderr, PROG ": no genuine request files in \"%s\"\n", o.dir);
        free_items(items, n < 0 ? 0 : n);
        return 1;
    }
    ceiling = o.ceiling_s > 0 ? run_ceiling(&o, items, n) : 0;
    l.lat_us = ps_malloc(LOAD_SAMPLES_MAX * sizeof(int64_t));
    l.cpu_us = process_cpu_us();
    if (run_load(&o, items, n, &l) != 0) {
        ps_free(l.lat_us);
        free_items(items, n);
        return 1;
    }
    l.cpu_us = process_cpu_us() - l.cpu_us;
    rc = report(&o, &l, ceiling);
    ps_free(l.lat_us);
    free_items(items, n);
    return rc;
}
