/*
 * A small metrics registry rendered in the Prometheus text exposition format
 * 0.0.4 (what /metrics serves): counters, gauges and histograms of int64
 * values, each with zero to PS_METRIC_LABELS_MAX fixed label names.
 *
 * Updates are lock-free once a label set exists (atomic adds on int64), so
 * they are cheap on the request and apply paths; creating a new label set
 * takes a per-metric mutex once. Rendering may run concurrently with updates;
 * it reads each value atomically (a histogram's _sum may lag its buckets by
 * the observations in flight, its _count always equals its +Inf bucket).
 *
 * Bounds (limits.h): at most PS_METRICS_MAX metrics per registry and
 * PS_METRIC_LABEL_SETS_MAX label sets per metric. Once a metric has that many
 * label sets, observations with a new set are counted under the set whose
 * every value is "other", so a caller that labels by an unbounded value (an
 * error string, a merchant id) costs one extra series, never unbounded memory.
 * A label value longer than PS_METRIC_LABEL_VALUE_BYTES_MAX or not valid UTF-8
 * is likewise replaced by "other" (the format requires UTF-8). Other values
 * are escaped on output (backslash, double quote, newline), so any text is safe.
 *
 * Registration errors (a name that is not a valid Prometheus name, the same
 * name registered twice with a different type, labels or buckets, more than
 * PS_METRICS_MAX metrics, unsorted histogram bounds) are programmer errors:
 * metric definitions are constants in the code, so these fail PS_ASSERT at
 * start-up rather than returning an error every caller would have to handle.
 * Registering the same definition twice returns the existing metric, so two
 * modules may share one.
 *
 * Ownership: the registry owns every metric; ps_counter_t, ps_gauge_t and
 * ps_histogram_t pointers are borrowed from it and valid until
 * ps_metrics_destroy. Names, help text, labels and bounds passed in are
 * borrowed for the call only (copied).
 * @locality any thread, except ps_metrics_destroy (no concurrent use)
 */
#ifndef PAYSTREAM_METRICS_H
#define PAYSTREAM_METRICS_H

#include <paystream/buf.h>
#include <paystream/err.h>
#include <paystream/limits.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ps_metrics ps_metrics_t;
typedef struct ps_counter ps_counter_t;
typedef struct ps_gauge ps_gauge_t;
typedef struct ps_histogram ps_histogram_t;

/* Label value that absorbs label sets beyond the bound and invalid values. */
#define PS_METRIC_OTHER_LABEL "other"
/* Histogram scale for microsecond observations rendered as seconds. */
#define PS_METRIC_SCALE_US_TO_S 6

/* Returns an owned, empty registry (ps_metrics_destroy). Never NULL. */
ps_metrics_t *ps_metrics_new(void);
/* Frees the registry and every metric in it. Accepts NULL. */
void ps_metrics_destroy(ps_metrics_t *reg);

/*
 * Counters: monotonic int64 totals. label_name NULL means no label. The _vec
 * form takes label_count (<= PS_METRIC_LABELS_MAX) names.
 */
ps_counter_t *ps_metrics_counter(ps_metrics_t *reg, const char *name, const char *help,
                                 const char *label_name);
ps_counter_t *ps_metrics_counter_vec(ps_metrics_t *reg, const char *name, const char *help,
                                     const char *const *label_names, size_t label_count);
/*
 * Adds n (>= 0; a negative n is a programmer error) to the series with the
 * given label value (NULL exactly when the counter has no label) or values
 * (one per label name).
 */
void ps_counter_inc(ps_counter_t *c, const char *label_value, int64_t n);
void ps_counter_inc_vec(ps_counter_t *c, const char *const *label_values, int64_t n);
/* Current value of a series; 0 when it does not exist yet (nothing is created). */
int64_t ps_counter_get(ps_counter_t *c, const char *label_value);

/* Gauges: int64 values that go up and down. Same label rules as counters. */
ps_gauge_t *ps_metrics_gauge(ps_metrics_t *reg, const char *name, const char *help,
                             const char *label_name);
ps_gauge_t *ps_metrics_gauge_vec(ps_metrics_t *reg, const char *name, const char *help,
                                 const char *const *label_names, size_t label_count);
void ps_gauge_set(ps_gauge_t *g, const char *label_value, int64_t value);
void ps_gauge_add(ps_gauge_t *g, const char *label_value, int64_t delta);
void ps_gauge_set_vec(ps_gauge_t *g, const char *const *label_values, int64_t value);
void ps_gauge_add_vec(ps_gauge_t *g, const char *const *label_values, int64_t delta);
int64_t ps_gauge_get(ps_gauge_t *g, const char *label_value);

/*
 * Histograms: bounds are bound_count (1..PS_METRIC_BUCKETS_MAX) strictly
 * increasing int64 upper bounds in the unit of the observations; a +Inf
 * bucket is implicit. On output, bounds and the sum are divided by
 * 10^scale_digits (0..9) exactly in decimal text: with
 * PS_METRIC_SCALE_US_TO_S, an observation in microseconds and a bound of 5000
 * render as le="0.005" seconds. No floating point is involved.
 */
ps_histogram_t *ps_metrics_histogram(ps_metrics_t *reg, const char *name, const char *help,
                                     const char *label_name, const int64_t *bounds,
                                     size_t bound_count, int scale_digits);
ps_histogram_t *ps_metrics_histogram_vec(ps_metrics_t *reg, const char *name, const char *help,
                                         const char *const *label_names, size_t label_count,
                                         const int64_t *bounds, size_t bound_count,
                                         int scale_digits);
/* Counts value in the first bucket whose bound is >= value (or +Inf). */
void ps_histogram_observe(ps_histogram_t *h, const char *label_value, int64_t value);
void ps_histogram_observe_vec(ps_histogram_t *h, const char *const *label_values, int64_t value);

/*
 * Appends the exposition text of every metric to out: metrics in name order,
 * each with # HELP and # TYPE lines, then its series in label-value order, so
 * the output for a given state is always the same bytes. Initialize out with
 * a bound of PS_METRICS_TEXT_BYTES_MAX.
 * Errors: PS_ERR_TOO_LARGE when the text does not fit in out's bound; out is
 * then left as it was.
 */
ps_err_t ps_metrics_render(ps_metrics_t *reg, ps_buf_t *out, char *errstr, size_t errstr_size);

#endif
