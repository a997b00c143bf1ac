/*
 * Metrics registry and Prometheus text exposition 0.0.4 (see
 * paystream/metrics.h).
 *
 * Each metric holds a fixed array of series (one per label set). Series are
 * only ever appended, never removed or moved, which is what makes the update
 * path lock-free: a writer fills a series, stores its pointer, then publishes
 * the new count with a release store; readers load the count with acquire and
 * may then read every series below it without a lock. Only creating a series
 * takes the metric's mutex, so two threads cannot both append the same set.
 * Values are atomic int64s; counters and histogram counts wrap only after
 * 2^63 events, which no process lives to see.
 */
#include <paystream/assert.h>
#include <paystream/mem.h>
#include <paystream/metrics.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 10^9 still leaves int64 headroom for the integer part of any bound. */
#define SCALE_DIGITS_MAX 9

typedef enum metric_kind { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM } metric_kind_t;

typedef struct series {
    char *values[PS_METRIC_LABELS_MAX]; /* owned, label_count of them */
    _Atomic int64_t value;              /* counter or gauge value; histogram sum */
    _Atomic int64_t *buckets;           /* histogram: bound_count + 1 (last is +Inf); owned */
} series_t;

typedef struct metric {
    metric_kind_t kind;
    char *name; /* owned */
    char *help; /* owned */
    char *label_names[PS_METRIC_LABELS_MAX]; /* owned */
    size_t label_count;
    int64_t bounds[PS_METRIC_BUCKETS_MAX];
    size_t bound_count;
    int scale_digits;
    pthread_mutex_t lock; /* serializes series creation */
    /* One extra slot for the "other" set that absorbs sets beyond the bound. */
    series_t *series[PS_METRIC_LABEL_SETS_MAX + 1];
    atomic_size_t series_count; /* release-published after series[n] is set */
} metric_t;

struct ps_metrics {
    pthread_mutex_t lock; /* registration, and render's copy of the list */
    metric_t *metrics[PS_METRICS_MAX];
    size_t count;
};

static const char *const kind_names[] = {"counter", "gauge", "histogram"};

/* Prometheus names: [a-zA-Z_:][a-zA-Z0-9_:]* for metrics, no ':' for labels. */
static bool valid_name(const char *s, bool allow_colon)
{
    size_t len = strnlen(s, PS_METRIC_NAME_BYTES_MAX + 1);

    if (len == 0 || len > PS_METRIC_NAME_BYTES_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                  (allow_colon && c == ':') || (i > 0 && c >= '0' && c <= '9');

        if (!ok)
            return false;
    }
    return true;
}

/* Strict UTF-8: no overlong forms, surrogates or code points past U+10FFFF. */
static bool valid_utf8(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;

    while (*s != '\0') {
        unsigned char c = *s;
        uint32_t cp;
        int extra;

        if (c < 0x80) {
            s++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            extra = 1;
        else if (c >= 0xE0 && c <= 0xEF)
            extra = 2;
        else if (c >= 0xF0 && c <= 0xF4)
            extra = 3;
        else
            return false;
        cp = c & (0x3Fu >> extra);
        /* A NUL fails the continuation test, so nothing past it is read. */
        for (int k = 1; k <= extra; k++) {
            if ((s[k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[k] & 0x3Fu);
        }
        if ((extra == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return false;
        s += extra + 1;
    }
    return true;
}

/* The value actually stored: invalid or over-long text becomes "other". */
static const char *usable_value(const char *v)
{
    PS_ASSERT(v != NULL);
    if (strnlen(v, PS_METRIC_LABEL_VALUE_BYTES_MAX + 1) > PS_METRIC_LABEL_VALUE_BYTES_MAX ||
        !valid_utf8(v))
        return PS_METRIC_OTHER_LABEL;
    return v;
}

static series_t *series_new(const metric_t *m, const char *const *values)
{
    series_t *s = ps_calloc(1, sizeof(*s));

    for (size_t i = 0; i < m->label_count; i++)
        s->values[i] = ps_strdup(values[i]);
    atomic_init(&s->value, 0);
    if (m->kind == KIND_HISTOGRAM) {
        s->buckets = ps_calloc(m->bound_count + 1, sizeof(s->buckets[0]));
        for (size_t k = 0; k <= m->bound_count; k++)
            atomic_init(&s->buckets[k], 0);
    }
    return s;
}

static void series_free(series_t *s, size_t label_count)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < label_count; i++)
        ps_free(s->values[i]);
    ps_free(s->buckets);
    ps_free(s);
}

static series_t *scan_series(metric_t *m, size_t count, const char *const *values)
{
    for (size_t i = 0; i < count; i++) {
        size_t k = 0;

        while (k < m->label_count && strcmp(m->series[i]->values[k], values[k]) == 0)
            k++;
        if (k == m->label_count)
            return m->series[i];
    }
    return NULL;
}

/* Called with m->lock held: finds or appends the set, "other" past the bound. */
static series_t *create_series_locked(metric_t *m, const char **values)
{
    size_t n = atomic_load_explicit(&m->series_count, memory_order_relaxed);
    series_t *s = scan_series(m, n, values);

    if (s != NULL)
        return s;
    if (n >= PS_METRIC_LABEL_SETS_MAX) {
        for (size_t i = 0; i < m->label_count; i++)
            values[i] = PS_METRIC_OTHER_LABEL;
        s = scan_series(m, n, values);
        if (s != NULL)
            return s;
        /* Only the "other" set may use the extra slot. */
        PS_ASSERT(n == PS_METRIC_LABEL_SETS_MAX);
    }
    s = series_new(m, values);
    m->series[n] = s;
    atomic_store_explicit(&m->series_count, n + 1, memory_order_release);
    return s;
}

/*
 * Finds the series for values (label_count of them), creating it if needed.
 * A set beyond the bound is never found by the lock-free scan, so each such
 * update takes the mutex: the cost lands only on callers that label by an
 * unbounded value, and keeps the common path free of locks.
 */
static series_t *get_series(metric_t *m, const char *const *values)
{
    const char *v[PS_METRIC_LABELS_MAX] = {0}; /* gcc -O3 cannot see label_count bound it */
    series_t *s;

    PS_ASSERT(m->label_count == 0 || values != NULL);
    for (size_t i = 0; i < m->label_count; i++)
        v[i] = usable_value(values[i]);
    s = scan_series(m, atomic_load_explicit(&m->series_count, memory_order_acquire), v);
    if (s != NULL)
        return s;
    pthread_mutex_lock(&m->lock);
    s = create_series_locked(m, v);
    pthread_mutex_unlock(&m->lock);
    return s;
}

/* Like get_series but never creates; NULL when the set does not exist. */
static series_t *peek_series(metric_t *m, const char *const *values)
{
    const char *v[PS_METRIC_LABELS_MAX] = {0};

    for (size_t i = 0; i < m->label_count; i++)
        v[i] = usable_value(values[i]);
    return scan_series(m, atomic_load_explicit(&m->series_count, memory_order_acquire), v);
}

/* Adapts the one-label API: NULL for a label-less metric, else a 1-array. */
static const char *const *one_value(const metric_t *m, const char *label_value,
                                    const char **slot)
{
    if (m->label_count == 0) {
        PS_ASSERT(label_value == NULL);
        return NULL;
    }
    PS_ASSERT(m->label_count == 1 && label_value != NULL);
    *slot = label_value;
    return slot;
}

/* A metric definition as given by the caller, checked before registration. */
typedef struct metric_def {
    metric_kind_t kind;
    const char *name, *help;
    const char *const *label_names;
    size_t label_count;
    const int64_t *bounds;
    size_t bound_count;
    int scale_digits;
} metric_def_t;

static void check_def(const metric_def_t *d)
{
    PS_ASSERT(d->name != NULL && valid_name(d->name, true));
    PS_ASSERT(d->help != NULL && strnlen(d->help, PS_METRIC_HELP_BYTES_MAX + 1) <=
                                     PS_METRIC_HELP_BYTES_MAX);
    PS_ASSERT(d->label_count <= PS_METRIC_LABELS_MAX);
    PS_ASSERT(d->label_count == 0 || d->label_names != NULL);
    for (size_t i = 0; i < d->label_count; i++) {
        PS_ASSERT(d->label_names[i] != NULL && valid_name(d->label_names[i], false));
        /* "__" is reserved by Prometheus; "le" is the histogram bucket label. */
        PS_ASSERT(strncmp(d->label_names[i], "__", 2) != 0);
        PS_ASSERT(d->kind != KIND_HISTOGRAM || strcmp(d->label_names[i], "le") != 0);
        for (size_t j = 0; j < i; j++)
            PS_ASSERT(strcmp(d->label_names[i], d->label_names[j]) != 0);
    }
    if (d->kind != KIND_HISTOGRAM)
        return;
    PS_ASSERT(d->bounds != NULL && d->bound_count >= 1 &&
              d->bound_count <= PS_METRIC_BUCKETS_MAX);
    PS_ASSERT(d->scale_digits >= 0 && d->scale_digits <= SCALE_DIGITS_MAX);
    for (size_t k = 1; k < d->bound_count; k++)
        PS_ASSERT(d->bounds[k - 1] < d->bounds[k]);
}

static bool same_def(const metric_t *m, const metric_def_t *d)
{
    if (m->kind != d->kind || strcmp(m->help, d->help) != 0 ||
        m->label_count != d->label_count)
        return false;
    for (size_t i = 0; i < d->label_count; i++) {
        if (strcmp(m->label_names[i], d->label_names[i]) != 0)
            return false;
    }
    if (d->kind != KIND_HISTOGRAM)
        return true;
    return m->bound_count == d->bound_count && m->scale_digits == d->scale_digits &&
           memcmp(m->bounds, d->bounds, d->bound_count * sizeof(d->bounds[0])) == 0;
}

static metric_t *metric_new(const metric_def_t *d)
{
    metric_t *m = ps_calloc(1, sizeof(*m));
    static const char *const no_values[1] = {NULL};

    m->kind = d->kind;
    m->name = ps_strdup(d->name);
    m->help = ps_strdup(d->help);
    m->label_count = d->label_count;
    for (size_t i = 0; i < d->label_count; i++)
        m->label_names[i] = ps_strdup(d->label_names[i]);
    if (d->kind == KIND_HISTOGRAM) {
        memcpy(m->bounds, d->bounds, d->bound_count * sizeof(d->bounds[0]));
        m->bound_count = d->bound_count;
        m->scale_digits = d->scale_digits;
    }
    pthread_mutex_init(&m->lock, NULL);
    atomic_init(&m->series_count, 0);
    /* A label-less metric has exactly one series; expose it (as 0) at once. */
    if (m->label_count == 0) {
        m->series[0] = series_new(m, no_values);
        atomic_store_explicit(&m->series_count, 1, memory_order_release);
    }
    return m;
}

static void metric_free(metric_t *m)
{
    size_t n = atomic_load(&m->series_count);

    for (size_t i = 0; i < n; i++)
        series_free(m->series[i], m->label_count);
    for (size_t i = 0; i < m->label_count; i++)
        ps_free(m->label_names[i]);
    pthread_mutex_destroy(&m->lock);
    ps_free(m->help);
    ps_free(m->name);
    ps_free(m);
}

static metric_t *register_metric(ps_metrics_t *reg, const metric_def_t *d)
{
    metric_t *m = NULL;

    PS_ASSERT(reg != NULL);
    check_def(d);
    pthread_mutex_lock(&reg->lock);
    for (size_t i = 0; i < reg->count; i++) {
        if (strcmp(reg->metrics[i]->name, d->name) == 0) {
            /* Same definition: share it; anything else is a naming bug. */
            PS_ASSERT(same_def(reg->metrics[i], d));
            m = reg->metrics[i];
            goto out;
        }
    }
    PS_ASSERT(reg->count < PS_METRICS_MAX);
    m = metric_new(d);
    reg->metrics[reg->count++] = m;
out:
    pthread_mutex_unlock(&reg->lock);
    return m;
}

ps_metrics_t *ps_metrics_new(void)
{
    ps_metrics_t *reg = ps_calloc(1, sizeof(*reg));

    pthread_mutex_init(&reg->lock, NULL);
    return reg;
}

void ps_metrics_destroy(ps_metrics_t *reg)
{
    if (reg == NULL)
        return;
    for (size_t i = 0; i < reg->count; i++)
        metric_free(reg->metrics[i]);
    pthread_mutex_destroy(&reg->lock);
    ps_free(reg);
}

ps_counter_t *ps_metrics_counter_vec(ps_metrics_t *reg, const char *name, const char *help,
                                     const char *const *label_names, size_t label_count)
{
    metric_def_t d = {KIND_COUNTER, name, help, label_names, label_count, NULL, 0, 0};

    return (ps_counter_t *)(void *)register_metric(reg, &d);
}

ps_counter_t *ps_metrics_counter(ps_metrics_t *reg, const char *name, const char *help,
                                 const char *label_name)
{
    return ps_metrics_counter_vec(reg, name, help, &label_name, label_name != NULL ? 1 : 0);
}

ps_gauge_t *ps_metrics_gauge_vec(ps_metrics_t *reg, const char *name, const char *help,
                                 const char *const *label_names, size_t label_count)
{
    metric_def_t d = {KIND_GAUGE, name, help, label_names, label_count, NULL, 0, 0};

    return (ps_gauge_t *)(void *)register_metric(reg, &d);
}

ps_gauge_t *ps_metrics_gauge(ps_metrics_t *reg, const char *name, const char *help,
                             const char *label_name)
{
    return ps_metrics_gauge_vec(reg, name, help, &label_name, label_name != NULL ? 1 : 0);
}

ps_histogram_t *ps_metrics_histogram_vec(ps_metrics_t *reg, const char *name, const char *help,
                                         const char *const *label_names, size_t label_count,
                                         const int64_t *bounds, size_t bound_count,
                                         int scale_digits)
{
    metric_def_t d = {KIND_HISTOGRAM, name,   help,        label_names,
                      label_count,    bounds, bound_count, scale_digits};

    return (ps_histogram_t *)(void *)register_metric(reg, &d);
}

ps_histogram_t *ps_metrics_histogram(ps_metrics_t *reg, const char *name, const char *help,
                                     const char *label_name, const int64_t *bounds,
                                     size_t bound_count, int scale_digits)
{
    return ps_metrics_histogram_vec(reg, name, help, &label_name, label_name != NULL ? 1 : 0,
                                    bounds, bound_count, scale_digits);
}

static metric_t *as_metric(void *p, metric_kind_t kind)
{
    metric_t *m = p;

    PS_ASSERT(m != NULL && m->kind == kind);
    return m;
}

void ps_counter_inc_vec(ps_counter_t *c, const char *const *label_values, int64_t n)
{
    metric_t *m = as_metric(c, KIND_COUNTER);

    /* Counters only go up; a negative step is a bug in the caller. */
    PS_ASSERT(n >= 0);
    atomic_fetch_add_explicit(&get_series(m, label_values)->value, n, memory_order_relaxed);
}

void ps_counter_inc(ps_counter_t *c, const char *label_value, int64_t n)
{
    const char *slot;

    ps_counter_inc_vec(c, one_value(as_metric(c, KIND_COUNTER), label_value, &slot), n);
}

int64_t ps_counter_get(ps_counter_t *c, const char *label_value)
{
    metric_t *m = as_metric(c, KIND_COUNTER);
    const char *slot;
    series_t *s = peek_series(m, one_value(m, label_value, &slot));

    return s != NULL ? atomic_load(&s->value) : 0;
}

void ps_gauge_set_vec(ps_gauge_t *g, const char *const *label_values, int64_t value)
{
    metric_t *m = as_metric(g, KIND_GAUGE);

    atomic_store_explicit(&get_series(m, label_values)->value, value, memory_order_relaxed);
}

void ps_gauge_add_vec(ps_gauge_t *g, const char *const *label_values, int64_t delta)
{
    metric_t *m = as_metric(g, KIND_GAUGE);

    atomic_fetch_add_explicit(&get_series(m, label_values)->value, delta, memory_order_relaxed);
}

void ps_gauge_set(ps_gauge_t *g, const char *label_value, int64_t value)
{
    const char *slot;

    ps_gauge_set_vec(g, one_value(as_metric(g, KIND_GAUGE), label_value, &slot), value);
}

void ps_gauge_add(ps_gauge_t *g, const char *label_value, int64_t delta)
{
    const char *slot;

    ps_gauge_add_vec(g, one_value(as_metric(g, KIND_GAUGE), label_value, &slot), delta);
}

int64_t ps_gauge_get(ps_gauge_t *g, const char *label_value)
{
    metric_t *m = as_metric(g, KIND_GAUGE);
    const char *slot;
    series_t *s = peek_series(m, one_value(m, label_value, &slot));

    return s != NULL ? atomic_load(&s->value) : 0;
}

void ps_histogram_observe_vec(ps_histogram_t *h, const char *const *label_values, int64_t value)
{
    metric_t *m = as_metric(h, KIND_HISTOGRAM);
    series_t *s = get_series(m, label_values);
    size_t k = 0;

    while (k < m->bound_count && value > m->bounds[k])
        k++;
    atomic_fetch_add_explicit(&s->buckets[k], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->value, value, memory_order_relaxed);
}

void ps_histogram_observe(ps_histogram_t *h, const char *label_value, int64_t value)
{
    const char *slot;

    ps_histogram_observe_vec(h, one_value(as_metric(h, KIND_HISTOGRAM), label_value, &slot),
                             value);
}

/* ---- rendering ---- */

/* Appends to a bounded buffer, remembering the first failure. */
typedef struct writer {
    ps_buf_t *buf;
    bool failed;
} writer_t;

static void put(writer_t *w, const char *s, size_t len)
{
    if (!w->failed && ps_buf_append(w->buf, s, len) != PS_OK)
        w->failed = true;
}

static void put_str(writer_t *w, const char *s)
{
    put(w, s, strlen(s));
}

/* HELP text escapes backslash and newline; label values also the quote. */
static void put_escaped(writer_t *w, const char *s, bool label_value)
{
    for (; *s != '\0'; s++) {
        if (*s == '\\')
            put_str(w, "\\\\");
        else if (*s == '\n')
            put_str(w, "\\n");
        else if (*s == '"' && label_value)
            put_str(w, "\\\"");
        else
            put(w, s, 1);
    }
}

static void put_int(writer_t *w, int64_t v)
{
    char num[24];

    snprintf(num, sizeof(num), "%lld", (long long)v);
    put_str(w, num);
}

/*
 * Writes v / 10^digits as exact decimal text into out (at least
 * SCALED_TEXT_BYTES), trailing fraction zeros trimmed: 5000, 6 -> "0.005".
 */
#define SCALED_TEXT_BYTES 32
static const char *format_scaled(int64_t v, int digits, char out[SCALED_TEXT_BYTES])
{
    uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v, div = 1, frac;
    int n, width = digits;

    for (int i = 0; i < digits; i++)
        div *= 10;
    n = snprintf(out, SCALED_TEXT_BYTES, "%s%llu", v < 0 ? "-" : "",
                 (unsigned long long)(mag / div));
    frac = mag % div;
    if (frac != 0) {
        while (frac % 10 == 0) {
            frac /= 10;
            width--;
        }
        snprintf(out + n, SCALED_TEXT_BYTES - (size_t)n, ".%0*llu", width,
                 (unsigned long long)frac);
    }
    return out;
}

/* {a="x",b="y",le="0.005"}; nothing at all when there are no labels. */
static void put_labels(writer_t *w, const metric_t *m, const series_t *s, const char *le)
{
    if (m->label_count == 0 && le == NULL)
        return;
    put_str(w, "{");
    for (size_t i = 0; i < m->label_count; i++) {
        if (i > 0)
            put_str(w, ",");
        put_str(w, m->label_names[i]);
        put_str(w, "=\"");
        put_escaped(w, s->values[i], true);
        put_str(w, "\"");
    }
    if (le != NULL) {
        put_str(w, m->label_count > 0 ? ",le=\"" : "le=\"");
        put_str(w, le);
        put_str(w, "\"");
    }
    put_str(w, "}");
}

static void put_histogram_series(writer_t *w, const metric_t *m, series_t *s)
{
    char text[SCALED_TEXT_BYTES];
    int64_t cumulative = 0;

    /* _count is the +Inf bucket by construction, so the two always agree. */
    for (size_t k = 0; k <= m->bound_count; k++) {
        cumulative += atomic_load_explicit(&s->buckets[k], memory_order_relaxed);
        put_str(w, m->name);
        put_str(w, "_bucket");
        put_labels(w, m, s,
                   k < m->bound_count ? format_scaled(m->bounds[k], m->scale_digits, text)
                                      : "+Inf");
        put_str(w, " ");
        put_int(w, cumulative);
        put_str(w, "\n");
    }
    put_str(w, m->name);
    put_str(w, "_sum");
    put_labels(w, m, s, NULL);
    put_str(w, " ");
    put_str(w, format_scaled(atomic_load_explicit(&s->value, memory_order_relaxed),
                             m->scale_digits, text));
    put_str(w, "\n");
    put_str(w, m->name);
    put_str(w, "_count");
    put_labels(w, m, s, NULL);
    put_str(w, " ");
    put_int(w, cumulative);
    put_str(w, "\n");
}

/* Insertion sort by label values: n is at most PS_METRIC_LABEL_SETS_MAX + 1. */
static void sort_series(series_t **a, size_t n, size_t label_count)
{
    for (size_t i = 1; i < n; i++) {
        series_t *x = a[i];
        size_t j = i;

        while (j > 0) {
            int c = 0;

            for (size_t k = 0; k < label_count && c == 0; k++)
                c = strcmp(a[j - 1]->values[k], x->values[k]);
            if (c <= 0)
                break;
            a[j] = a[j - 1];
            j--;
        }
        a[j] = x;
    }
}

static int compare_metric(const void *a, const void *b)
{
    const metric_t *x = *(const metric_t *const *)a, *y = *(const metric_t *const *)b;

    return strcmp(x->name, y->name);
}

static void put_metric(writer_t *w, metric_t *m)
{
    series_t *sorted[PS_METRIC_LABEL_SETS_MAX + 1];
    size_t n = atomic_load_explicit(&m->series_count, memory_order_acquire);

    memcpy(sorted, m->series, n * sizeof(sorted[0]));
    sort_series(sorted, n, m->label_count);
    put_str(w, "# HELP ");
    put_str(w, m->name);
    put_str(w, " ");
    put_escaped(w, m->help, false);
    put_str(w, "\n# TYPE ");
    put_str(w, m->name);
    put_str(w, " ");
    put_str(w, kind_names[m->kind]);
    put_str(w, "\n");
    for (size_t i = 0; i < n; i++) {
        if (m->kind == KIND_HISTOGRAM) {
            put_histogram_series(w, m, sorted[i]);
            continue;
        }
        put_str(w, m->name);
        put_labels(w, m, sorted[i], NULL);
        put_str(w, " ");
        put_int(w, atomic_load_explicit(&sorted[i]->value, memory_order_relaxed));
        put_str(w, "\n");
    }
}

ps_err_t ps_metrics_render(ps_metrics_t *reg, ps_buf_t *out, char *errstr, size_t errstr_size)
{
    metric_t *list[PS_METRICS_MAX];
    size_t count, start_len;
    writer_t w;

    PS_ASSERT(reg != NULL && out != NULL);
    /* Metrics are never removed before destroy, so the copy stays valid. */
    pthread_mutex_lock(&reg->lock);
    count = reg->count;
    memcpy(list, reg->metrics, count * sizeof(list[0]));
    pthread_mutex_unlock(&reg->lock);
    qsort(list, count, sizeof(list[0]), compare_metric);
    start_len = out->len;
    w.buf = out;
    w.failed = false;
    for (size_t i = 0; i < count; i++)
        put_metric(&w, list[i]);
    if (w.failed) {
        out->len = start_len;
        if (out->data != NULL)
            out->data[start_len] = '\0';
        return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                             "could not render metrics: text exceeds the buffer bound of %zu "
                             "bytes",
                             out->max);
    }
    return PS_OK;
}
