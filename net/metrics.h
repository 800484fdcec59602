/*
 * metrics.h: a small Prometheus registry (public API, prefix metrics_).
 *
 * A registry holds metric families (counter, gauge, histogram), each with a
 * fixed list of label names; a family holds series, one per label-value
 * tuple. The server serves metrics_render() at GET /metrics in the text
 * exposition format (version 0.0.4):
 *
 *   # HELP events_total Ops accepted, per board.
 *   # TYPE events_total counter
 *   events_total{board="b1"} 1027
 *   # HELP snapshot_duration_seconds Time to write one snapshot.
 *   # TYPE snapshot_duration_seconds histogram
 *   snapshot_duration_seconds_bucket{le="0.005"} 3
 *   ...
 *   snapshot_duration_seconds_bucket{le="+Inf"} 9
 *   snapshot_duration_seconds_sum 0.513
 *   snapshot_duration_seconds_count 9
 *
 * Names the server registers (the runbook's contract, DESIGN.md section 9):
 *   events_total               counter   {board}  ops accepted
 *   socket_connected_users     gauge              open WebSocket sessions
 *   snapshot_duration_seconds  histogram          snapshot write time
 *   oplog_queue_size           gauge              ops waiting for the log
 *   plus fsync latency, replication and mirror lag, rate-limit rejections.
 *
 * Cardinality is bounded: a family holds at most max_series label tuples;
 * the tuple that would exceed it (and every later new one) is counted in
 * one overflow series whose label values are all "__overflow__", so a
 * flood of board ids cannot grow memory. Label values longer than
 * METRICS_LABEL_VALUE_MAX bytes or not valid UTF-8 (the exposition is
 * UTF-8) go to the overflow series too.
 *
 * Threads: registering families and metrics_series_get() take the
 * registry's / family's mutex; updating a series (inc, add, set, observe)
 * is lock-free (C11 atomics) from any thread. Series and families live
 * until metrics_registry_free: callers keep the pointers (e.g. a board
 * keeps its events_total series) and update them on the hot path.
 * metrics_render() may run concurrently with updates; a histogram's _count
 * is the sum of its bucket counts so each rendered histogram is
 * self-consistent.
 */
#ifndef WB_METRICS_H
#define WB_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define METRICS_MAX_LABELS 4u
#define METRICS_MAX_BUCKETS 32u
#define METRICS_LABEL_VALUE_MAX 128u
#define METRICS_OVERFLOW_VALUE "__overflow__"

enum metrics_type { METRICS_COUNTER, METRICS_GAUGE, METRICS_HISTOGRAM };

typedef struct metrics_registry metrics_registry;
typedef struct metrics_family metrics_family;
typedef struct metrics_series metrics_series;

/* Default histogram buckets for durations in seconds (1 ms .. 10 s). */
extern const double metrics_seconds_buckets[];
extern const size_t metrics_seconds_buckets_len;

metrics_registry *metrics_registry_new(void);

/* Frees the registry, its families and series. NULL is ignored. */
void metrics_registry_free(metrics_registry *r);

/* Registers a family. name: [a-zA-Z_:][a-zA-Z0-9_:]*; labels: nlabels <=
 * METRICS_MAX_LABELS names [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__",
 * not "le" for a histogram, no duplicates. help: any text (escaped on
 * output). max_series >= 1 (ignored without labels: one series). For a
 * histogram, bounds: 1..METRICS_MAX_BUCKETS finite, strictly increasing
 * upper bounds (the +Inf bucket is implicit); NULL for the others. All
 * strings are copied. *out: the family, owned by the registry. Returns 0,
 * WB_EINVAL (bad name, labels, bounds), WB_EEXIST (name taken) or
 * WB_ENOMEM. */
int metrics_register(metrics_registry *r, enum metrics_type type,
                     const char *name, const char *help,
                     const char *const *labels, size_t nlabels,
                     size_t max_series, const double *bounds,
                     size_t nbounds, metrics_family **out);

/* The series for one tuple of label values (as many as the family has
 * labels; NULL when it has none), created on first use. Never NULL for a
 * valid family: beyond max_series, or on allocation failure, the overflow
 * series is returned. Values are copied. */
metrics_series *metrics_series_get(metrics_family *f,
                                   const char *const *values);

/* Counter: adds n (counters only go up). Gauge: adds n too. */
void metrics_inc(metrics_series *s);
void metrics_add(metrics_series *s, uint64_t n);

/* Counter only: sets a fractional value kept by another source that only
 * goes up (the process's CPU seconds, read at scrape time). The series
 * renders as that value plus anything metrics_add counted (keep to one of
 * the two per series). */
void metrics_counter_set(metrics_series *s, double v);

/* Gauge only: set, or add a signed amount. */
void metrics_set(metrics_series *s, double v);
void metrics_gauge_add(metrics_series *s, double delta);

/* Histogram only: records one observation. NaN is ignored. */
void metrics_observe(metrics_series *s, double v);

/* Histogram only: replaces the series' buckets and sum with counts that
 * are aggregated elsewhere (e.g. the engine's fixed-bucket atomics,
 * copied at scrape time): counts holds n = nbounds + 1 NON-cumulative
 * bucket counts in the family's bounds, the last one +Inf; sum is the sum
 * of the observations. Do not mix with metrics_observe on one series.
 * Returns 0, or WB_EINVAL (not a histogram, or n is not nbounds + 1). */
int metrics_histogram_set(metrics_series *s, const uint64_t *counts,
                          size_t n, double sum);

/* Renders every family in registration order, series in creation order,
 * into a malloc'd NUL-terminated text (*out, caller frees; *len its
 * length). Returns 0 or WB_ENOMEM. */
int metrics_render(metrics_registry *r, char **out, size_t *len);

/* Current value of a counter or gauge series (tests, health checks). */
double metrics_value(const metrics_series *s);

#endif /* WB_METRICS_H */
