/*
 * Prometheus text exposition: exact output for a small registry, escaping of
 * HELP text and label values, the label-set bound and its "other" series,
 * rejection of non-UTF-8 and over-long label values, histogram cumulative
 * buckets, sum and count with exact decimal bounds, the output size bound,
 * exact totals under concurrent updates from 4 threads, and the abort on a
 * conflicting registration.
 */
#include "test.h"

#include <paystream/buf.h>
#include <paystream/limits.h>
#include <paystream/metrics.h>

#include <pthread.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

/* Renders reg into *out (initialized here; caller deinits). */
static ps_err_t render(ps_metrics_t *reg, ps_buf_t *out)
{
    char e[PS_ERRSTR_SIZE];

    ps_buf_init(out, PS_METRICS_TEXT_BYTES_MAX);
    return ps_metrics_render(reg, out, e, sizeof(e));
}

/* Counts lines of text that start with prefix. */
static int count_lines(const char *text, const char *prefix)
{
    int n = 0;
    size_t plen = strlen(prefix);

    for (const char *line = text; line != NULL && *line != '\0';) {
        const char *nl = strchr(line, '\n');

        if (strncmp(line, prefix, plen) == 0)
            n++;
        line = nl != NULL ? nl + 1 : NULL;
    }
    return n;
}

/* A small registry renders to exactly these bytes, metrics sorted by name. */
static void test_render_exact(void)
{
    static const int64_t bounds_us[] = {5000, 25000, 1000000};
    ps_metrics_t *reg = ps_metrics_new();
    ps_counter_t *c = ps_metrics_counter(reg, "ps_callbacks_total",
                                         "Callbacks accepted, by channel.", "channel");
    ps_gauge_t *g = ps_metrics_gauge(reg, "ps_consumer_lag", "Messages behind the high watermark.",
                                     NULL);
    ps_histogram_t *h = ps_metrics_histogram(reg, "ps_apply_seconds", "Time to apply one batch.",
                                             NULL, bounds_us, 3, PS_METRIC_SCALE_US_TO_S);
    ps_buf_t out;

    ps_metrics_counter(reg, "ps_errors_total", "Errors.", "kind"); /* no series yet */
    ps_counter_inc(c, "wechat", 3);
    ps_counter_inc(c, "alipay", 2);
    ps_counter_inc(c, "wechat", 1);
    ps_gauge_set(g, NULL, 42);
    ps_gauge_add(g, NULL, -2);
    ps_histogram_observe(h, NULL, 1000);
    ps_histogram_observe(h, NULL, 5000); /* on the bound: counts in le="0.005" */
    ps_histogram_observe(h, NULL, 7000);
    ps_histogram_observe(h, NULL, 2000000);
    REQUIRE(render(reg, &out) == PS_OK);
    CHECK_STR((char *)out.data,
              "# HELP ps_apply_seconds Time to apply one batch.\n"
              "# TYPE ps_apply_seconds histogram\n"
              "ps_apply_seconds_bucket{le=\"0.005\"} 2\n"
              "ps_apply_seconds_bucket{le=\"0.025\"} 3\n"
              "ps_apply_seconds_bucket{le=\"1\"} 3\n"
              "ps_apply_seconds_bucket{le=\"+Inf\"} 4\n"
              "ps_apply_seconds_sum 2.013\n"
              "ps_apply_seconds_count 4\n"
              "# HELP ps_callbacks_total Callbacks accepted, by channel.\n"
              "# TYPE ps_callbacks_total counter\n"
              "ps_callbacks_total{channel=\"alipay\"} 2\n"
              "ps_callbacks_total{channel=\"wechat\"} 4\n"
              "# HELP ps_consumer_lag Messages behind the high watermark.\n"
              "# TYPE ps_consumer_lag gauge\n"
              "ps_consumer_lag 40\n"
              "# HELP ps_errors_total Errors.\n"
              "# TYPE ps_errors_total counter\n");
    CHECK_INT(ps_counter_get(c, "wechat"), 4);
    CHECK_INT(ps_counter_get(c, "nobody"), 0);
    CHECK_INT(ps_gauge_get(g, NULL), 40);
    ps_buf_deinit(&out);
    ps_metrics_destroy(reg);
    ps_metrics_destroy(NULL);
}

/* Backslash, quote and newline are escaped; HELP leaves quotes alone. */
static void test_escaping(void)
{
    ps_metrics_t *reg = ps_metrics_new();
    ps_counter_t *c = ps_metrics_counter(reg, "x_total", "a \"quoted\" \\ help\nline two",
                                         "path");
    ps_buf_t out;

    ps_counter_inc(c, "a\"b\\c\nd", 1);
    ps_counter_inc(c, "\xE5\xBE\xAE\xE4\xBF\xA1", 2); /* valid UTF-8 is kept as is */
    ps_counter_inc(c, "", 3);                         /* empty is a legal value */
    REQUIRE(render(reg, &out) == PS_OK);
    CHECK_STR((char *)out.data, "# HELP x_total a \"quoted\" \\\\ help\\nline two\n"
                                "# TYPE x_total counter\n"
                                "x_total{path=\"\"} 3\n"
                                "x_total{path=\"a\\\"b\\\\c\\nd\"} 1\n"
                                "x_total{path=\"\xE5\xBE\xAE\xE4\xBF\xA1\"} 2\n");
    ps_buf_deinit(&out);
    ps_metrics_destroy(reg);
}

/* Past PS_METRIC_LABEL_SETS_MAX sets, new ones aggregate into "other". */
static void test_label_set_bound(void)
{
    ps_metrics_t *reg = ps_metrics_new();
    ps_counter_t *c = ps_metrics_counter(reg, "ids_total", "By id.", "id");
    char value[32];
    ps_buf_t out;

    for (int i = 0; i < PS_METRIC_LABEL_SETS_MAX + 10; i++) {
        snprintf(value, sizeof(value), "id%d", i);
        ps_counter_inc(c, value, 1);
    }
    ps_counter_inc(c, "id0", 5); /* existing sets keep counting on their own */
    ps_counter_inc(c, "a-new-one", 7);
    CHECK_INT(ps_counter_get(c, "id0"), 6);
    CHECK_INT(ps_counter_get(c, "id63"), 1);
    CHECK_INT(ps_counter_get(c, "id64"), 0); /* never created */
    CHECK_INT(ps_counter_get(c, PS_METRIC_OTHER_LABEL), 17);
    REQUIRE(render(reg, &out) == PS_OK);
    CHECK_INT(count_lines((char *)out.data, "ids_total{"), PS_METRIC_LABEL_SETS_MAX + 1);
    CHECK_CONTAINS((char *)out.data, "ids_total{id=\"other\"} 17\n");
    CHECK(strstr((char *)out.data, "id=\"id64\"") == NULL);
    ps_buf_deinit(&out);
    ps_metrics_destroy(reg);
}

/* Values the format cannot carry (not UTF-8, too long) become "other". */
static void test_bad_label_values(void)
{
    static const char *const bad[] = {
        "\xff",             /* never valid */
        "\xC0\x80",         /* overlong NUL */
        "\xE0\x80\xAF",     /* overlong '/' */
        "\xED\xA0\x80",     /* UTF-16 surrogate */
        "\xF4\x90\x80\x80", /* past U+10FFFF */
        "\xE5\xBE",         /* truncated sequence */
        "ok\x80",           /* stray continuation byte */
    };
    ps_metrics_t *reg = ps_metrics_new();
    ps_gauge_t *g = ps_metrics_gauge(reg, "g", "Gauge.", "v");
    char longest[PS_METRIC_LABEL_VALUE_BYTES_MAX + 2];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ps_gauge_add(g, bad[i], 1);
    memset(longest, 'x', sizeof(longest) - 1);
    longest[sizeof(longest) - 1] = '\0'; /* one byte over the bound */
    ps_gauge_add(g, longest, 1);
    longest[sizeof(longest) - 2] = '\0'; /* exactly at the bound: kept */
    ps_gauge_add(g, longest, 1);
    ps_gauge_add(g, "\xF0\x9F\x92\xB0", 1); /* 4-byte UTF-8 is fine */
    CHECK_INT(ps_gauge_get(g, PS_METRIC_OTHER_LABEL), 8);
    CHECK_INT(ps_gauge_get(g, longest), 1);
    CHECK_INT(ps_gauge_get(g, "\xF0\x9F\x92\xB0"), 1);
    ps_gauge_set(g, "\xff", -3);
    CHECK_INT(ps_gauge_get(g, PS_METRIC_OTHER_LABEL), -3);
    ps_metrics_destroy(reg);
}

/* Several label names render in order; sets sort by their value tuples. */
static void test_multi_label(void)
{
    static const char *const names[] = {"channel", "result"};
    static const char *const wechat_ok[] = {"wechat", "ok"};
    static const char *const alipay_rejected[] = {"alipay", "rejected"};
    static const char *const alipay_ok[] = {"alipay", "ok"};
    ps_metrics_t *reg = ps_metrics_new();
    ps_counter_t *c = ps_metrics_counter_vec(reg, "cb_total", "Callbacks.", names, 2);
    ps_buf_t out;

    ps_counter_inc_vec(c, wechat_ok, 2);
    ps_counter_inc_vec(c, alipay_rejected, 1);
    ps_counter_inc_vec(c, alipay_ok, 5);
    REQUIRE(render(reg, &out) == PS_OK);
    CHECK_STR((char *)out.data, "# HELP cb_total Callbacks.\n"
                                "# TYPE cb_total counter\n"
                                "cb_total{channel=\"alipay\",result=\"ok\"} 5\n"
                                "cb_total{channel=\"alipay\",result=\"rejected\"} 1\n"
                                "cb_total{channel=\"wechat\",result=\"ok\"} 2\n");
    ps_buf_deinit(&out);
    ps_metrics_destroy(reg);
}

/* Buckets are cumulative, bounds inclusive, sum exact (negative too), count = +Inf. */
static void test_histogram(void)
{
    static const int64_t plain[] = {1, 2, 5};
    static const int64_t us[] = {1, 5000, 1500000, 2000000};
    static const int64_t values[] = {0, 1, 2, 3, 5, 6, -1};
    ps_metrics_t *reg = ps_metrics_new();
    ps_histogram_t *h = ps_metrics_histogram(reg, "batch_size", "Events per batch.", "topic",
                                             plain, 3, 0);
    ps_histogram_t *t = ps_metrics_histogram(reg, "wait_seconds", "Wait.", NULL, us, 4,
                                             PS_METRIC_SCALE_US_TO_S);
    ps_buf_t out;

    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
        ps_histogram_observe(h, "cb", values[i]);
    ps_histogram_observe(t, NULL, -500000);
    ps_histogram_observe(t, NULL, 1);
    REQUIRE(render(reg, &out) == PS_OK);
    CHECK_STR((char *)out.data, "# HELP batch_size Events per batch.\n"
                                "# TYPE batch_size histogram\n"
                                "batch_size_bucket{topic=\"cb\",le=\"1\"} 3\n"
                                "batch_size_bucket{topic=\"cb\",le=\"2\"} 4\n"
                                "batch_size_bucket{topic=\"cb\",le=\"5\"} 6\n"
                                "batch_size_bucket{topic=\"cb\",le=\"+Inf\"} 7\n"
                                "batch_size_sum{topic=\"cb\"} 16\n"
                                "batch_size_count{topic=\"cb\"} 7\n"
                                "# HELP wait_seconds Wait.\n"
                                "# TYPE wait_seconds histogram\n"
                                "wait_seconds_bucket{le=\"0.000001\"} 2\n"
                                "wait_seconds_bucket{le=\"0.005\"} 2\n"
                                "wait_seconds_bucket{le=\"1.5\"} 2\n"
                                "wait_seconds_bucket{le=\"2\"} 2\n"
                                "wait_seconds_bucket{le=\"+Inf\"} 2\n"
                                "wait_seconds_sum -0.499999\n"
                                "wait_seconds_count 2\n");
    ps_buf_deinit(&out);
    ps_metrics_destroy(reg);
}

/* Output past the buffer's bound fails and leaves the buffer as it was. */
static void test_render_bound(void)
{
    ps_metrics_t *reg = ps_metrics_new();
    ps_counter_t *c = ps_metrics_counter(reg, "c_total", "Count.", NULL);
    char e[PS_ERRSTR_SIZE];
    ps_buf_t full, small;

    ps_counter_inc(c, NULL, 9);
    REQUIRE(render(reg, &full) == PS_OK);
    /* Exactly the needed size fits; one byte less does not. */
    ps_buf_init(&small, full.len);
    CHECK_INT(ps_metrics_render(reg, &small, e, sizeof(e)), PS_OK);
    CHECK_STR((char *)small.data, (char *)full.data);
    ps_buf_deinit(&small);
    ps_buf_init(&small, full.len + 3);
    ps_buf_append_str(&small, "keep");
    CHECK_INT(ps_metrics_render(reg, &small, e, sizeof(e)), PS_ERR_TOO_LARGE);
    CHECK_CONTAINS(e, "could not render metrics: text exceeds the buffer bound of");
    CHECK_INT(small.len, 4);
    CHECK_STR((char *)small.data, "keep");
    ps_buf_deinit(&small);
    ps_buf_deinit(&full);
    ps_metrics_destroy(reg);
}

/* The same definition twice is one shared metric; render order is by name. */
static void test_shared_definition(void)
{
    static const int64_t b[] = {10};
    ps_metrics_t *reg = ps_metrics_new();
    ps_counter_t *z = ps_metrics_counter(reg, "zz_total", "Z.", NULL);
    ps_counter_t *a = ps_metrics_counter(reg, "aa_total", "A.", "k");
    ps_histogram_t *h1 = ps_metrics_histogram(reg, "hh", "H.", NULL, b, 1, 0);
    ps_buf_t out;

    CHECK(ps_metrics_counter(reg, "zz_total", "Z.", NULL) == z);
    CHECK(ps_metrics_counter(reg, "aa_total", "A.", "k") == a);
    CHECK(ps_metrics_histogram(reg, "hh", "H.", NULL, b, 1, 0) == h1);
    ps_counter_inc(z, NULL, 1);
    REQUIRE(render(reg, &out) == PS_OK);
    CHECK(strstr((char *)out.data, "aa_total") < strstr((char *)out.data, "hh"));
    CHECK(strstr((char *)out.data, "hh") < strstr((char *)out.data, "zz_total"));
    CHECK_INT(count_lines((char *)out.data, "# TYPE"), 3);
    CHECK_CONTAINS((char *)out.data, "zz_total 1\n");
    ps_buf_deinit(&out);
    ps_metrics_destroy(reg);
}

#define THREADS 4
#define ITERATIONS 50000

typedef struct worker_arg {
    ps_counter_t *c;
    ps_gauge_t *g;
    ps_histogram_t *h;
    int id;
} worker_arg_t;

static void *worker(void *p)
{
    worker_arg_t *a = p;
    char own[16];

    snprintf(own, sizeof(own), "t%d", a->id);
    for (int i = 0; i < ITERATIONS; i++) {
        ps_counter_inc(a->c, (i & 1) ? "odd" : "even", 1);
        ps_counter_inc(a->c, own, 2);
        ps_gauge_add(a->g, NULL, 1);
        ps_histogram_observe(a->h, "shared", i % 3);
    }
    return NULL;
}

static void *renderer(void *p)
{
    ps_metrics_t *reg = p;
    char e[PS_ERRSTR_SIZE];
    ps_buf_t out;
    long failures = 0;

    for (int i = 0; i < 50; i++) {
        ps_buf_init(&out, PS_METRICS_TEXT_BYTES_MAX);
        if (ps_metrics_render(reg, &out, e, sizeof(e)) != PS_OK)
            failures++;
        ps_buf_deinit(&out);
    }
    return (void *)failures;
}

/* 4 threads updating (and creating sets) while a 5th renders: exact totals. */
static void test_concurrent(void)
{
    static const int64_t b[] = {0, 1};
    ps_metrics_t *reg = ps_metrics_new();
    worker_arg_t args[THREADS];
    pthread_t tids[THREADS], rtid;
    void *render_failures = NULL;
    char own[16];
    ps_buf_t out;

    for (int i = 0; i < THREADS; i++) {
        args[i].c = ps_metrics_counter(reg, "ops_total", "Ops.", "kind");
        args[i].g = ps_metrics_gauge(reg, "level", "Level.", NULL);
        args[i].h = ps_metrics_histogram(reg, "obs", "Obs.", "k", b, 2, 0);
        args[i].id = i;
    }
    REQUIRE(pthread_create(&rtid, NULL, renderer, reg) == 0);
    for (int i = 0; i < THREADS; i++)
        REQUIRE(pthread_create(&tids[i], NULL, worker, &args[i]) == 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(tids[i], NULL);
    pthread_join(rtid, &render_failures);
    CHECK(render_failures == NULL);
    CHECK_INT(ps_counter_get(args[0].c, "odd"), THREADS * ITERATIONS / 2);
    CHECK_INT(ps_counter_get(args[0].c, "even"), THREADS * ITERATIONS / 2);
    for (int i = 0; i < THREADS; i++) {
        snprintf(own, sizeof(own), "t%d", i);
        CHECK_INT(ps_counter_get(args[0].c, own), 2 * ITERATIONS);
    }
    CHECK_INT(ps_gauge_get(args[0].g, NULL), THREADS * ITERATIONS);
    REQUIRE(render(reg, &out) == PS_OK);
    /* Each set was created exactly once despite the races. */
    CHECK_INT(count_lines((char *)out.data, "ops_total{"), 2 + THREADS);
    CHECK_CONTAINS((char *)out.data, "obs_count{k=\"shared\"} 200000\n");
    /* i % 3 over 0..49999: 16667 zeros, 16667 ones, 16666 twos per thread. */
    CHECK_CONTAINS((char *)out.data, "obs_bucket{k=\"shared\",le=\"0\"} 66668\n");
    CHECK_CONTAINS((char *)out.data, "obs_bucket{k=\"shared\",le=\"1\"} 133336\n");
    CHECK_CONTAINS((char *)out.data, "obs_sum{k=\"shared\"} 199996\n");
    ps_buf_deinit(&out);
    ps_metrics_destroy(reg);
}

/* A conflicting re-registration is a programmer error: the process aborts. */
static void test_conflict_aborts(void)
{
    pid_t pid = fork();
    int status = 0;

    REQUIRE(pid >= 0);
    if (pid == 0) {
        ps_metrics_t *reg = ps_metrics_new();
        int devnull = open("/dev/null", O_WRONLY);

        if (devnull >= 0)
            dup2(devnull, 2); /* the assertion message is expected; keep logs clean */
        ps_metrics_counter(reg, "dup", "Dup.", NULL);
        ps_metrics_gauge(reg, "dup", "Dup.", NULL);
        _exit(0); /* reached only if the conflict went unnoticed */
    }
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status));
    CHECK_INT(WIFSIGNALED(status) ? WTERMSIG(status) : 0, SIGABRT);
}

int main(void)
{
    RUN(test_render_exact);
    RUN(test_escaping);
    RUN(test_label_set_bound);
    RUN(test_bad_label_values);
    RUN(test_multi_label);
    RUN(test_histogram);
    RUN(test_render_bound);
    RUN(test_shared_definition);
    RUN(test_concurrent);
    RUN(test_conflict_aborts);
    return test_summary();
}
